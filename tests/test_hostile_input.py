"""Strict input handling: every decoder takes only canonical encodings, and only PQ3Error escapes.

Decoders: wire messages (Session.decrypt, Session.accept), prekey bundles (Session.initiate,
PrekeyBundle.decode), public identities (PublicIdentity.decode), stored session state
(Session.from_bytes) and device state (Device.from_bytes). Hypothesis drives random bytes and
mutations of valid encodings (bit flips, truncations, extensions, splices) with a bounded
budget; `python -m fuzz.run` runs the same targets for as long as asked. Messages re-signed
with the sender's own key (a misbehaving peer) reach past the signature check into the ratchet.
Each case runs on the pure-Python and (when built) the native hot path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pq3proto import (
    Device,
    InvalidKeyError,
    MalformedInputError,
    MisuseError,
    PQ3Error,
    PrekeyBundle,
    PublicIdentity,
    RekeyPolicy,
    Session,
    UnsupportedVersionError,
)
from pq3proto import native as native_mod
from pq3proto.constants import (
    FLAG_KEM_CIPHERTEXT,
    FLAG_KEM_PUBLIC_KEY,
    FLAG_SESSION_START,
    KNOWN_FLAGS,
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
    MLKEM1024_PUBLIC_KEY_SIZE,
    P256_POINT_SIZE,
)
from pq3proto.kdf import session_dst
from pq3proto.primitives import TestingOnlyDeterministicRandom
from pq3proto.state import decode_session_state, encode_session_state
from pq3proto.wire import ChainHeader, encode_message, parse_message, signature_body

PATHS = ["0"] + (["1"] if native_mod.available() else [])
BUDGET = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

# A P-256 point that is not on the curve (x = 1, y = 1), and the generator's x coordinate.
OFF_CURVE = b"\x04" + (1).to_bytes(32, "big") + (1).to_bytes(32, "big")
INFINITY = b"\x00" * P256_POINT_SIZE
# An ML-KEM encapsulation key whose first coefficient is q (3329 = 0xD01): fails §7.2.
BAD_COEFF = bytes((0x01, 0x0D, 0x00))


@contextlib.contextmanager
def hot_path(choice: str) -> Iterator[None]:
    """Select the hot path for sessions created inside the block."""
    old = os.environ.get("PQ3PROTO_NATIVE")
    os.environ["PQ3PROTO_NATIVE"] = choice
    try:
        yield
    finally:
        if old is None:
            del os.environ["PQ3PROTO_NATIVE"]
        else:
            os.environ["PQ3PROTO_NATIVE"] = old


@dataclass
class World:
    """Two devices mid-conversation and a valid encoding of everything a decoder takes."""

    alice: Device
    bob: Device
    alice_blob: bytes  # Alice's session, waiting for Bob's reply
    bob_device_blob: bytes  # Bob's device before accepting
    start: bytes  # Alice's session start (asks for a rekey)
    reply: bytes  # Bob's reply (answers the rekey with a KEM ciphertext, asks again)
    reply2: bytes  # a second message of Bob's chain
    bob_blob: bytes
    rng: TestingOnlyDeterministicRandom

    def encodings(self) -> dict[str, bytes]:
        return {
            "identity": self.bob.public_identity(),
            "bundle": self.bob.prekey_bundle(),
            "device": self.alice.to_bytes(),
            "session": self.alice_blob,
            "start": self.start,
            "reply": self.reply,
        }


def make_world() -> World:
    rng = TestingOnlyDeterministicRandom(b"hostile-input")
    policy = RekeyPolicy.every_turn()
    alice = Device.generate_deterministic_for_tests("tel:+15550001", 1, rng)
    bob = Device.generate_deterministic_for_tests("mailto:bob@example.org", 2, rng)
    bob_before = bob.to_bytes()
    a = Session.initiate_deterministic_for_tests(
        alice, bob.public_identity(), bob.prekey_bundle(), rng, policy=policy, clock=lambda: 0.0
    )
    start = a.encrypt(b"hello bob", b"ad")
    b, _ = Session.accept_deterministic_for_tests(
        bob, alice.public_identity(), start, rng, policy=policy, clock=lambda: 0.0
    )
    reply = b.encrypt(b"hello alice")
    reply2 = b.encrypt(b"second")
    return World(alice, bob, a.to_bytes(), bob_before, start, reply, reply2, b.to_bytes(), rng)


WORLD = make_world()


# ── Targets: each returns normally or raises; the harness checks what escapes ───────────


def t_identity(data: bytes) -> None:
    ident = PublicIdentity.decode(data)
    assert ident.encode() == data, "accepted a non-canonical public identity"


def t_bundle(data: bytes) -> None:
    bundle = PrekeyBundle.decode(data)
    assert bundle.encode() == data, "accepted a non-canonical prekey bundle"


def t_initiate_bundle(data: bytes) -> None:
    Session.initiate_deterministic_for_tests(
        WORLD.alice, WORLD.bob.public_identity(), data, WORLD.rng
    )


def t_initiate_identity(data: bytes) -> None:
    Session.initiate_deterministic_for_tests(
        WORLD.alice, data, WORLD.bob.prekey_bundle(), WORLD.rng
    )


def t_device(data: bytes) -> None:
    dev = Device.from_bytes(data)
    assert dev.to_bytes() == data, "accepted a non-canonical device state"


def t_session(data: bytes) -> None:
    s = Session.from_bytes_deterministic_for_tests(data, WORLD.alice, WORLD.rng)
    assert encode_session_state(decode_session_state(data)) == data, "non-canonical state"
    # A state that decodes must also work: answer, send, and serialize again.
    with contextlib.suppress(PQ3Error):
        s.decrypt(WORLD.reply)
    with contextlib.suppress(PQ3Error):
        s.encrypt(b"x")
    s.to_bytes()


def t_decrypt(data: bytes) -> None:
    s = Session.from_bytes_deterministic_for_tests(WORLD.alice_blob, WORLD.alice, WORLD.rng)
    before = s.to_bytes()
    try:
        s.decrypt(data)
    except PQ3Error:
        assert s.to_bytes() == before, "a failed decrypt changed the session"
        raise
    assert data == WORLD.reply, "accepted a message that is not the one Bob signed"


def t_accept(data: bytes) -> None:
    dev = Device.from_bytes(WORLD.bob_device_blob)
    before = dev.to_bytes()
    try:
        Session.accept_deterministic_for_tests(dev, WORLD.alice.public_identity(), data, WORLD.rng)
    except PQ3Error:
        assert dev.to_bytes() == before, "a failed accept changed the device's replay record"
        raise
    assert data == WORLD.start, "accepted a session start that is not the one Alice signed"


def t_peer_decrypt(data: bytes) -> None:
    """Decrypt a message the peer itself signed: any content may open; nothing else escapes."""
    s = Session.from_bytes_deterministic_for_tests(WORLD.alice_blob, WORLD.alice, WORLD.rng)
    before = s.to_bytes()
    try:
        s.decrypt(data)
    except PQ3Error:
        assert s.to_bytes() == before, "a failed decrypt changed the session"
        raise
    s.to_bytes()


TARGETS: dict[str, tuple[Callable[[bytes], None], str]] = {
    # name: (target, which valid encoding its mutations start from)
    "identity": (t_identity, "identity"),
    "bundle": (t_bundle, "bundle"),
    "initiate-bundle": (t_initiate_bundle, "bundle"),
    "initiate-identity": (t_initiate_identity, "identity"),
    "device": (t_device, "device"),
    "session": (t_session, "session"),
    "decrypt": (t_decrypt, "reply"),
    "accept": (t_accept, "start"),
}


AUTHENTICATED = ("initiate-bundle", "initiate-identity", "decrypt", "accept")


def only_pq3(target: Callable[[bytes], None], data: bytes) -> PQ3Error | None:
    """Run a target; a PQ3Error is returned, any other exception fails the test."""
    try:
        target(data)
    except PQ3Error as e:
        return e
    except AssertionError:
        raise
    except Exception as e:  # pragma: no cover - this is the failure being looked for
        pytest.fail(f"{type(e).__name__} escaped for input {data[:64].hex()}...: {e!r}")
    return None


# ── Mutations ──────────────────────────────────────────────────────────────────────────


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """One or a few edits of `base`: bit flips, truncation, extension, splices, insertions."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "extend", "splice", "insert", "byte"]))
        n = len(data)
        if kind == "flip" and n:
            i = draw(st.integers(0, n - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and n:
            data[draw(st.integers(0, n - 1))] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, n)) :]
        elif kind == "extend":
            data += draw(st.binary(min_size=1, max_size=8))
        elif kind == "splice" and n:
            i = draw(st.integers(0, n - 1))
            j = draw(st.integers(i, min(n, i + 64)))
            data[i:j] = draw(st.binary(max_size=64))
        elif kind == "insert":
            i = draw(st.integers(0, n))
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(TARGETS))
@BUDGET
@given(data=st.binary(max_size=256))
def test_random_bytes_raise_only_pq3_errors(name: str, path: str, data: bytes) -> None:
    with hot_path(path):
        assert only_pq3(TARGETS[name][0], data) is not None


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(TARGETS))
@BUDGET
@given(st.data())
def test_mutations_raise_only_pq3_errors(name: str, path: str, data: st.DataObject) -> None:
    target, base = TARGETS[name]
    valid = WORLD.encodings()[base]
    candidate = data.draw(mutated(valid))
    with hot_path(path):
        err = only_pq3(target, candidate)
    # Plain decoders may accept a changed but canonical value (a flipped key byte); the
    # entry points that authenticate must not.
    if candidate != valid and name in AUTHENTICATED:
        assert err is not None, "an authenticating entry point accepted a mutation"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_valid_encodings_are_accepted(name: str) -> None:
    target, base = TARGETS[name]
    assert only_pq3(target, WORLD.encodings()[base]) is None


# ── A misbehaving peer: fields changed, then signed with the peer's own key ───────────────


def signed(header: ChainHeader, index: int, indicator: bytes, ad: bytes, ct: bytes) -> bytes:
    dst = session_dst(WORLD.bob.identity.binding(), WORLD.alice.identity.binding())
    body = signature_body(ct, ad, indicator, header.ecdh_public_key, index,
                          header.signature_tail(dst))
    sig = WORLD.bob.signing_key.sign(body, deterministic=True)
    return encode_message(header.encode(), index, indicator, ad, ct, sig)


@st.composite
def peer_messages(draw: st.DrawFn) -> bytes:
    """A message from Bob's key with any field replaced: points, KEM material, index, lengths."""
    msg = parse_message(WORLD.reply)
    h = msg.header
    point = draw(st.sampled_from([
        h.ecdh_public_key, parse_message(WORLD.start).header.ecdh_public_key, OFF_CURVE,
        INFINITY, b"\x02" + h.ecdh_public_key[1:], b"\x04" + draw(st.binary(min_size=64,
                                                                             max_size=64)),
    ]))
    flags = draw(st.integers(0, KNOWN_FLAGS))
    if flags & FLAG_SESSION_START and flags & FLAG_KEM_CIPHERTEXT:
        flags &= ~FLAG_KEM_CIPHERTEXT
    start = parse_message(WORLD.start).header
    kem_ct = draw(st.sampled_from([h.kem_ciphertext, bytes(MLKEM768_CIPHERTEXT_SIZE),
                                   b"\xff" * MLKEM768_CIPHERTEXT_SIZE]))
    assert h.kem_public_key is not None
    kem_pk = draw(st.sampled_from([h.kem_public_key, BAD_COEFF + h.kem_public_key[3:],
                                   bytes(MLKEM768_PUBLIC_KEY_SIZE)]))
    header = ChainHeader(
        point,
        prekey_hash=start.prekey_hash if flags & FLAG_SESSION_START else None,
        start_ciphertext=start.start_ciphertext if flags & FLAG_SESSION_START else None,
        kem_ciphertext=kem_ct if flags & FLAG_KEM_CIPHERTEXT else None,
        kem_public_key=kem_pk if flags & FLAG_KEM_PUBLIC_KEY else None,
    )
    index = draw(st.sampled_from([msg.index, 1, 2, 1999, 2000, 2001, 0xFFFF_FFFF]))
    indicator = draw(st.sampled_from([msg.indicator, bytes(32)]))
    ct = draw(st.sampled_from([msg.ciphertext, b"", msg.ciphertext + b"x"]))
    ad = draw(st.sampled_from([msg.auth_data, b"ad"]))
    return signed(header, index, indicator, ad, ct)


@pytest.mark.parametrize("path", PATHS)
@BUDGET
@given(wire=peer_messages())
def test_signed_hostile_messages_raise_only_pq3_errors(path: str, wire: bytes) -> None:
    with hot_path(path):
        only_pq3(t_peer_decrypt, wire)


# ── Each structural fault, with its error class ─────────────────────────────────────────


def test_trailing_and_truncated_bytes_are_malformed() -> None:
    for name, (target, base) in TARGETS.items():
        valid = WORLD.encodings()[base]
        for bad in (valid + b"\x00", valid[:-1], valid[: len(valid) // 2], b""):
            err = only_pq3(target, bad)
            assert isinstance(err, MalformedInputError), (name, len(bad), err)


def test_unknown_versions() -> None:
    for name, (target, base) in TARGETS.items():
        bad = bytes((0x7F,)) + WORLD.encodings()[base][1:]
        err = only_pq3(target, bad)
        assert isinstance(err, UnsupportedVersionError), (name, err)


def test_unknown_flags_are_malformed() -> None:
    for base, target in (("reply", t_decrypt), ("start", t_accept)):
        wire = WORLD.encodings()[base]
        for flag in (0x10, 0x20, 0x80):
            bad = wire[:1] + bytes((wire[1] | flag,)) + wire[2:]
            assert type(only_pq3(target, bad)) is MalformedInputError
        # FLAG_PROFILE (0x08) with no profile identifier behind it
        bad = wire[:1] + bytes((wire[1] | 0x08,)) + wire[2:]
        assert isinstance(only_pq3(target, bad), MalformedInputError)
        both = wire[:1] + bytes((FLAG_SESSION_START | FLAG_KEM_CIPHERTEXT,)) + wire[2:]
        assert type(only_pq3(target, both)) is MalformedInputError


def identity_with_key(key: bytes) -> bytes:
    valid = WORLD.bob.public_identity()
    return valid[: -P256_POINT_SIZE] + key


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (OFF_CURVE, InvalidKeyError),
        (INFINITY, InvalidKeyError),
        (b"\x00", MalformedInputError),  # SEC1 infinity, one byte
        (b"\x02" + WORLD.bob.identity.signing_key[1:33], MalformedInputError),  # compressed
        (b"\x03" + WORLD.bob.identity.signing_key[1:], InvalidKeyError),  # compressed prefix
        (b"\x06" + WORLD.bob.identity.signing_key[1:], InvalidKeyError),  # hybrid form
    ],
)
def test_identity_points(key: bytes, error: type[PQ3Error]) -> None:
    err = only_pq3(t_identity, identity_with_key(key))
    assert type(err) is error
    assert type(only_pq3(t_initiate_identity, identity_with_key(key))) is error


def bundle_with(ecdh: bytes | None = None, kem_pk: bytes | None = None) -> bytes:
    b = WORLD.bob.bundle
    return replace(
        b,
        ecdh_public_key=ecdh if ecdh is not None else b.ecdh_public_key,
        kem_public_key=kem_pk if kem_pk is not None else b.kem_public_key,
    ).encode()


def test_bundle_points_and_kem_keys() -> None:
    pk = WORLD.bob.bundle.kem_public_key
    for bad in (OFF_CURVE, INFINITY, b"\x03" + WORLD.bob.bundle.ecdh_public_key[1:]):
        assert type(only_pq3(t_bundle, bundle_with(ecdh=bad))) is InvalidKeyError
        assert type(only_pq3(t_initiate_bundle, bundle_with(ecdh=bad))) is InvalidKeyError
    for i in (0, 1, 100, MLKEM1024_PUBLIC_KEY_SIZE - 32 - 3):
        # Put a coefficient >= q at coefficient pair i // 3 * 2.
        j = i - i % 3
        bad_pk = pk[:j] + BAD_COEFF + pk[j + 3 :]
        assert type(only_pq3(t_bundle, bundle_with(kem_pk=bad_pk))) is InvalidKeyError
        assert type(only_pq3(t_initiate_bundle, bundle_with(kem_pk=bad_pk))) is InvalidKeyError


def test_session_state_faults() -> None:
    a = Session.from_bytes(WORLD.alice_blob, WORLD.alice)
    st_ = a.state
    r = st_.ratchet
    bad_states = [
        replace(st_, ratchet=replace(r, peer_point=OFF_CURVE)),
        replace(st_, ratchet=replace(r, peer_point=INFINITY)),
        replace(st_, ratchet=replace(
            r, peer_kem_public=BAD_COEFF + bytes(MLKEM768_PUBLIC_KEY_SIZE - len(BAD_COEFF)))),
    ]
    for bad in bad_states:
        err = only_pq3(t_session, encode_session_state(bad))
        assert isinstance(err, (InvalidKeyError, MalformedInputError)), err
    # The session of another device.
    other = Session.from_bytes(WORLD.bob_blob, WORLD.bob).to_bytes()
    assert isinstance(only_pq3(t_session, other), MisuseError)


def test_signed_peer_faults_have_their_classes() -> None:
    msg = parse_message(WORLD.reply2)
    h = msg.header

    for point in (OFF_CURVE, INFINITY):
        wire = signed(replace(h, ecdh_public_key=point), 0, msg.indicator, b"", msg.ciphertext)
        assert type(only_pq3(t_decrypt, wire)) is InvalidKeyError
    assert h.kem_public_key is not None
    bad_pk = BAD_COEFF + h.kem_public_key[3:]
    wire = signed(replace(h, kem_public_key=bad_pk), 0, msg.indicator, b"", msg.ciphertext)
    assert type(only_pq3(t_decrypt, wire)) is InvalidKeyError


@pytest.mark.parametrize("field", ["messages_since_pq", "sent", "wire_bytes", "plaintext_bytes"])
def test_saturated_counters_in_stored_state(field: str) -> None:
    base = Session.from_bytes(WORLD.bob_blob, WORLD.bob).state
    top = 2**64 - 1
    if field == "messages_since_pq":
        bad = replace(base, ratchet=replace(base.ratchet, messages_since_pq=top))
    else:
        bad = replace(base, stats=replace(base.stats, **{field: top}))
    blob = encode_session_state(bad)
    rng = TestingOnlyDeterministicRandom(b"saturated")
    try:
        s = Session.from_bytes_deterministic_for_tests(blob, WORLD.bob, rng)
        s.encrypt(b"x")
        s.to_bytes()
    except PQ3Error:
        return
    except Exception as e:
        pytest.fail(f"{type(e).__name__} escaped from the public API: {e}")
