"""Decoding vectors: identities, prekey bundles, session state and device state.

Owns: pq3_identity_test, pq3_bundle_test (03-ratchet.md §1, the decode order of 05 §2-§3),
pq3_session_state_test (06-state.md §1, positive and negative) and pq3_device_state_test
(06-state.md §2, with the session starts each accepted id came from).
Not: replaying them (verify_state.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..constants import (
    MAX_REMEMBERED_SESSION_STARTS,
    MAX_STORED_COUNTER,
    MAX_URI_LENGTH,
    P256_POINT_SIZE,
    P256_SCALAR_SIZE,
    PREKEY_HASH_SIZE,
)
from ..encoding import u32, u64
from ..errors import (
    AuthenticationError,
    InvalidKeyError,
    MalformedInputError,
    MisuseError,
    PQ3Error,
    UnsupportedVersionError,
)
from ..handshake import start_id
from ..identity import Device, PrekeyBundle, PublicIdentity
from ..policy import RekeyPolicy
from ..primitives import P256_ORDER, P256PrivateKey
from ..profile import PQ3
from ..ratchet import evolve
from ..session import Session
from ..session_state import SessionState
from ..state import decode_session_state, encode_session_state
from ..wire import parse_message
from . import schemas as sc
from .common import SEED_PREFIX, Json, VectorError, h
from .conversation import ConversationBuilder
from .conversations import DEFAULT, EVERY_TURN, NEVER, A, B, started, turns
from .document import document, make_test, seeded_rng

_OFF_CURVE = b"\x04" + bytes(range(1, 65))


def _error_of(fn: Callable[[], object]) -> type[PQ3Error] | None:
    try:
        fn()
    except PQ3Error as e:
        return type(e)
    return None


def _checked(expected: type[PQ3Error] | None, fn: Callable[[], object], what: str) -> None:
    got = _error_of(fn)
    if got is not expected:
        raise VectorError(f"{what}: expected {expected}, got {got}")


# ── Identities ──────────────────────────────────────────────────────────────────────────


def identity_file() -> Json:
    rng = seeded_rng("pq3_identity_test")
    tests: list[Json] = []

    def case(comment: str, flags: list[str], data: bytes, error: type[PQ3Error] | None) -> None:
        _checked(error, lambda: PublicIdentity.decode(data), comment)
        ident = PublicIdentity.decode(data) if error is None else None
        tests.append(
            make_test(
                comment,
                flags,
                "valid" if error is None else "invalid",
                encoding=h(data),
                error=None if error is None else error.__name__,
                uri=None if ident is None else ident.uri,
                deviceId=None if ident is None else ident.device_id,
                signingKey=None if ident is None else h(ident.signing_key),
            )
        )

    key = P256PrivateKey.generate(rng).public
    for uri, device_id in (
        ("tel:+15551234567", 7),
        ("mailto:zo\u00eb@example.org", 0xFFFF_FFFF),
        ("x", 0),
        ("u" * MAX_URI_LENGTH, 1),
    ):
        case(
            f"{len(uri.encode())}-byte URI, device {device_id}",
            ["ValidIdentity"],
            PublicIdentity(uri, device_id, key).encode(),
            None,
        )
    good = PublicIdentity("tel:+15551234567", 7, key).encode()
    uri_end = 1 + 4 + 16

    def with_uri(raw: bytes, tail: bytes = good[uri_end:]) -> bytes:
        return b"\x01" + u32(len(raw)) + raw + tail

    case("version 0", ["UnknownVersion"], b"\x00" + good[1:], UnsupportedVersionError)
    case("version 2", ["UnknownVersion"], b"\x02" + good[1:], UnsupportedVersionError)
    case("empty URI", ["BadUri"], with_uri(b""), MalformedInputError)
    case(
        "URI of 1025 bytes", ["BadUri"], with_uri(b"u" * (MAX_URI_LENGTH + 1)), MalformedInputError
    )
    case("URI not UTF-8", ["BadUri"], with_uri(b"tel:\xff\xfe"), MalformedInputError)
    case("truncated in the signing key", ["ShortInput"], good[:-1], MalformedInputError)
    case("one trailing byte", ["ExtraBytes"], good + b"\x00", MalformedInputError)
    case(
        "signing key off the curve",
        ["InvalidPoint"],
        good[:-P256_POINT_SIZE] + _OFF_CURVE,
        InvalidKeyError,
    )
    compressed = b"\x02" + key[1:33] + key[33:]
    case(
        "signing key with a compressed-point prefix",
        ["InvalidPoint"],
        good[:-P256_POINT_SIZE] + compressed,
        InvalidKeyError,
    )
    case(
        "version 2 and truncated: the version is checked first",
        ["DecodeOrder"],
        b"\x02" + good[1:-1],
        UnsupportedVersionError,
    )
    case(
        "URI of 1025 bytes and a key off the curve: the length is checked first",
        ["DecodeOrder"],
        with_uri(b"u" * (MAX_URI_LENGTH + 1), good[uri_end:-65] + _OFF_CURVE),
        MalformedInputError,
    )
    case(
        "key off the curve and a trailing byte: the point is checked before the end",
        ["DecodeOrder"],
        good[:-P256_POINT_SIZE] + _OFF_CURVE + b"\x00",
        InvalidKeyError,
    )
    case(
        "truncated right after the URI", ["ShortInput"], with_uri(b"tel:", b""), MalformedInputError
    )
    return document(
        sc.IDENTITY_TYPE,
        [
            "Decoding a public identity (spec/03-ratchet.md §1): version, lp(uri), u32 device "
            "id, SEC1 point; checks in field order, each field checked as it is read."
        ],
        [tests],
    )


# ── Bundles ─────────────────────────────────────────────────────────────────────────────


def bundle_file() -> Json:
    tests: list[Json] = []

    def case(comment: str, flags: list[str], data: bytes, error: type[PQ3Error] | None) -> None:
        _checked(error, lambda: PrekeyBundle.decode(data), comment)
        b = PrekeyBundle.decode(data) if error is None else None
        tests.append(
            make_test(
                comment,
                flags,
                "valid" if error is None else "invalid",
                encoding=h(data),
                error=None if error is None else error.__name__,
                prekeyPoint=None if b is None else h(b.ecdh_public_key),
                prekeyKemPublicKey=None if b is None else h(b.kem_public_key),
                signature=None if b is None else h(b.signature),
                preKeyHash=None if b is None else h(b.prekey_hash()),
            )
        )

    c = ConversationBuilder("pq3_bundle_test", DEFAULT, SEED_PREFIX)
    for role in (A, B):
        case(f"bundle of the {role}", ["ValidBundle"], c.parties[role].device.prekey_bundle(), None)
    good = c.parties[B].device.prekey_bundle()
    point_end = 1 + P256_POINT_SIZE
    bad_kem = good[:point_end] + b"\xff\xff" + good[point_end + 2 :]
    off_curve = good[:1] + _OFF_CURVE + good[point_end:]
    case("version 3", ["UnknownVersion"], b"\x03" + good[1:], UnsupportedVersionError)
    case("one byte short", ["ShortInput"], good[:-1], MalformedInputError)
    case("one trailing byte", ["ExtraBytes"], good + b"\x00", MalformedInputError)
    case("ECDH prekey off the curve", ["InvalidPoint"], off_curve, InvalidKeyError)
    case(
        "ML-KEM-1024 key failing the modulus check", ["InvalidPrekeyKem"], bad_kem, InvalidKeyError
    )
    case(
        "version 3 and one byte short: version first",
        ["DecodeOrder"],
        b"\x03" + good[1:-1],
        UnsupportedVersionError,
    )
    case(
        "one byte short and the point off the curve: length before point",
        ["DecodeOrder"],
        off_curve[:-1],
        MalformedInputError,
    )
    case(
        "trailing byte and a bad ML-KEM key: length before KEM key",
        ["DecodeOrder"],
        bad_kem + b"\x00",
        MalformedInputError,
    )
    return document(
        sc.BUNDLE_TYPE,
        [
            "Decoding a prekey bundle (spec/03-ratchet.md §1): version, then length, then the "
            "ECDH point, then the ML-KEM-1024 input check. The signature is not checked here."
        ],
        [tests],
    )


# ── Session state ───────────────────────────────────────────────────────────────────────


def state_fields(s: SessionState) -> Json:
    """The decoded content of a session state, as the vectors give it."""
    r, st, p = s.ratchet, s.stats, s.policy
    t = p.max_age_seconds
    return {
        "initiator": s.initiator,
        "policyMessages": p.every_messages,
        "policyMilliseconds": None if t is None else round(t * 1000),
        "hasMyKey": r.my_ecdh is not None,
        "hasSendingChain": r.sending is not None,
        "sendingIndex": None if r.sending is None else r.sending.next_index,
        "awaitingReply": r.awaiting_reply,
        "receivingChains": [c.next_index for c in r.receiving],
        "skippedKeys": len(r.skipped),
        "retiredPoints": len(r.retired),
        "hasMyKem": r.my_kem_seed is not None,
        "hasPeerKem": r.peer_kem_public is not None,
        "sincePQ": r.messages_since_pq,
        "lastPQ": r.last_pq_time,
        "counters": {
            "sent": st.sent,
            "received": st.received,
            "ecdhSteps": st.ecdh_ratchets,
            "rekeys": st.pq_rekeys,
            "wireBytes": st.wire_bytes,
            "plaintextBytes": st.plaintext_bytes,
        },
    }


def _offsets(s: SessionState) -> dict[str, int]:
    """Byte offsets of the fixed-position fields of an encoded session state."""
    pid = b"" if s.profile == PQ3 else s.profile.to_bytes()
    o = 2 + len(pid) + len(s.me.encode()) + len(s.peer.encode())
    return {"initiator": o, "policyN": o + 1, "policyT": o + 9, "myKey": o + 49}


def session_state_file() -> Json:
    tests: list[Json] = []

    def case(
        comment: str,
        flags: list[str],
        c: ConversationBuilder,
        role: str,
        blob: bytes,
        error: type[PQ3Error] | None,
    ) -> None:
        device = c.parties[role].device
        _checked(error, lambda: Session.from_bytes(blob, device), comment)
        fields = None
        if error is None:
            fields = state_fields(decode_session_state(blob))
            if not math.isfinite(fields["lastPQ"]):
                raise VectorError("vector states keep a finite lastPQ")
        tests.append(
            make_test(
                comment,
                flags,
                "valid" if error is None else "invalid",
                party=c.parties[role].json,
                sessionState=h(blob),
                error=None if error is None else error.__name__,
                fields=fields,
            )
        )

    valid: list[tuple[str, ConversationBuilder, str]] = []
    c = ConversationBuilder("state initiator", EVERY_TURN, SEED_PREFIX)
    c.initiate()
    valid.append(("initiator before any message, rekey request open", c, A))
    c = started("state responder", DEFAULT)
    valid.append(("responder right after accept", c, B))
    c = ConversationBuilder("state skipped", EVERY_TURN, SEED_PREFIX)
    c.initiate()
    m = [c.send(A) for _ in range(4)]
    c.deliver(B, m[3])
    c.deliver(B, m[1])
    valid.append(("responder holding two skipped keys and the peer's request", c, B))
    c = ConversationBuilder("state retired", NEVER, SEED_PREFIX)
    c.initiate()
    c.deliver(B, c.send(A))
    turns(c, [1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2])
    c.send(A)
    valid.append(("initiator mid chain with five receiving chains and retired points", c, A))
    c = started("state time policy", RekeyPolicy(None, 7_200.5))
    c.advance(7_300)
    turns(c, [1, 1, 1])
    valid.append(("time policy in milliseconds, lastPQ moved by a rekey", c, B))
    for comment, conv, role in valid:
        case(comment, ["ValidState"], conv, role, conv.session(role).to_bytes(), None)

    # Negative cases, each from a valid state with one thing broken.
    c = valid[3][1]
    s = c.session(A).state
    blob = encode_session_state(s)
    off = _offsets(s)

    def patched(at: int, data: bytes) -> bytes:
        return blob[:at] + data + blob[at + len(data) :]

    def enc(**ratchet: object) -> bytes:
        return encode_session_state(evolve(s, ratchet=evolve(s.ratchet, **ratchet)))

    bad: list[tuple[str, list[str], bytes, type[PQ3Error]]] = [
        ("version 3", ["UnknownVersion"], patched(0, b"\x03"), UnsupportedVersionError),
        ("one byte short", ["ShortInput"], blob[:-1], MalformedInputError),
        ("one trailing byte", ["ExtraBytes"], blob + b"\x00", MalformedInputError),
        (
            "initiator byte 2",
            ["NonCanonical"],
            patched(off["initiator"], b"\x02"),
            MalformedInputError,
        ),
        (
            "myKey presence byte 2",
            ["NonCanonical"],
            patched(off["myKey"], b"\x02"),
            MalformedInputError,
        ),
        (
            "policy N = 2^32",
            ["OutOfRange"],
            patched(off["policyN"], u64(1 << 32)),
            MalformedInputError,
        ),
        (
            "policy T above 100 years",
            ["OutOfRange"],
            patched(off["policyT"], u64(100 * 365 * 86_400 * 1000 + 1)),
            MalformedInputError,
        ),
        (
            "myKey scalar 0",
            ["OutOfRange"],
            patched(off["myKey"] + 1, bytes(P256_SCALAR_SIZE)),
            InvalidKeyError,
        ),
        (
            "myKey scalar n",
            ["OutOfRange"],
            patched(off["myKey"] + 1, P256_ORDER.to_bytes(P256_SCALAR_SIZE, "big")),
            InvalidKeyError,
        ),
        (
            "counter sent = 2^62",
            ["OutOfRange"],
            encode_session_state(evolve(s, stats=evolve(s.stats, sent=MAX_STORED_COUNTER))),
            MalformedInputError,
        ),
        (
            "sincePQ = 2^62",
            ["OutOfRange"],
            enc(messages_since_pq=MAX_STORED_COUNTER),
            MalformedInputError,
        ),
        (
            "six receiving chains",
            ["OutOfRange"],
            enc(receiving=(*s.ratchet.receiving, s.ratchet.receiving[-1])),
            MalformedInputError,
        ),
        (
            "a retired point off the curve",
            ["InvalidPoint"],
            enc(retired=(*s.ratchet.retired[:-1], _OFF_CURVE)),
            InvalidKeyError,
        ),
        (
            "a skipped key at its chain's next index",
            ["Inconsistent"],
            enc(
                skipped={
                    (s.ratchet.receiving[-1].peer_point, s.ratchet.receiving[-1].next_index): bytes(
                        32
                    )
                }
            ),
            MalformedInputError,
        ),
        (
            "a skipped key of no receiving chain",
            ["Inconsistent"],
            enc(skipped={(s.ratchet.retired[0], 0): bytes(32)}),
            MalformedInputError,
        ),
        (
            "lastPQ +infinity",
            ["Inconsistent"],
            enc(last_pq_time=math.inf),
            MalformedInputError,
        ),
        (
            "a sending chain while not awaiting a reply",
            ["Inconsistent"],
            enc(awaiting_reply=False),
            MalformedInputError,
        ),
        (
            "a sending header under another point",
            ["Inconsistent"],
            enc(my_ecdh=P256PrivateKey.generate(seeded_rng("state other key"))),
            MalformedInputError,
        ),
    ]
    for comment, flags, data, error in bad:
        case(comment, flags, c, A, data, error)
    r0 = valid[2][1].session(B).state
    skipped = list(r0.ratchet.skipped.items())
    dup = encode_session_state(r0)
    one = skipped[0][0][0] + u32(skipped[0][0][1]) + skipped[0][1]
    pos = dup.index(one)
    count_at = pos - 4
    dup = dup[:count_at] + u32(len(skipped) + 1) + dup[pos : pos + 101] + dup[pos:]
    case("the same skipped key twice", ["NonCanonical"], valid[2][1], B, dup, MalformedInputError)
    case(
        "state of the responder restored by the initiator's device",
        ["OtherDevice"],
        valid[2][1],
        A,
        encode_session_state(r0),
        MisuseError,
    )
    return document(
        sc.SESSION_STATE_TYPE,
        [
            "Persisted session states (spec/06-state.md §1): valid ones with their decoded "
            "fields, and states with one field broken, each with its failure class. The party "
            "is the device that restores the state."
        ],
        [tests],
    )


# ── Device state ────────────────────────────────────────────────────────────────────────


def device_state_file() -> Json:
    tests: list[Json] = []

    def case(
        comment: str,
        flags: list[str],
        blob: bytes,
        error: type[PQ3Error] | None,
        starts: list[bytes] | None = None,
    ) -> None:
        _checked(error, lambda: Device.from_bytes(blob), comment)
        d = Device.from_bytes(blob) if error is None else None
        ids = [start_id(*_start_fields(w)) for w in (starts or [])]
        if ids and blob[-PREKEY_HASH_SIZE * len(ids) :] != b"".join(ids):
            raise VectorError(f"{comment}: start ids are not the recorded ones")
        tests.append(
            make_test(
                comment,
                flags,
                "valid" if error is None else "invalid",
                deviceState=h(blob),
                error=None if error is None else error.__name__,
                publicIdentity=None if d is None else h(d.public_identity()),
                prekeyBundle=None if d is None else h(d.prekey_bundle()),
                acceptedStartMessages=[h(w) for w in (starts or [])],
                acceptedStarts=None if d is None else [h(i) for i in ids],
            )
        )

    c = ConversationBuilder("device state", DEFAULT, SEED_PREFIX)
    case("a fresh device", ["ValidDevice"], c.parties[B].device.to_bytes(), None)
    starts: list[bytes] = []
    for k in range(3):
        c.initiate()
        m = c.send(A)
        c.accept(m)
        starts.append(c.wires[m])
        if k in (0, 2):
            case(
                f"after {k + 1} accepted session start{'s' if k else ''}",
                ["ValidDevice", "StartId"],
                c.parties[B].device.to_bytes(),
                None,
                list(starts),
            )
    blob = c.parties[B].device.to_bytes()
    ident_len = len(c.parties[B].device.public_identity())
    o_ltk = 1 + ident_len
    o_seed = o_ltk + 64
    o_bundle = o_seed + 64
    o_count = o_bundle + 1698
    ids = blob[o_count + 4 :]

    def patched(at: int, data: bytes) -> bytes:
        return blob[:at] + data + blob[at + len(data) :]

    other = ConversationBuilder("device state/other", DEFAULT, SEED_PREFIX).parties[B].device
    for comment, flags, data, error in (
        ("version 3", ["UnknownVersion"], patched(0, b"\x03"), UnsupportedVersionError),
        ("one byte short", ["ShortInput"], blob[:-1], MalformedInputError),
        ("one trailing byte", ["ExtraBytes"], blob + b"\x00", MalformedInputError),
        (
            "100001 accepted starts announced",
            ["OutOfRange"],
            blob[:o_count] + u32(MAX_REMEMBERED_SESSION_STARTS + 1),
            MalformedInputError,
        ),
        (
            "the same start id twice",
            ["NonCanonical"],
            blob[:o_count] + u32(2) + ids[:PREKEY_HASH_SIZE] * 2,
            MalformedInputError,
        ),
        ("identity key scalar 0", ["OutOfRange"], patched(o_ltk, bytes(32)), InvalidKeyError),
        (
            "identity key scalar of another device",
            ["Inconsistent"],
            patched(o_ltk, other.to_bytes()[o_ltk : o_ltk + 32]),
            MalformedInputError,
        ),
        (
            "ML-KEM prekey seed changed",
            ["Inconsistent"],
            patched(o_seed, bytes(1)),
            MalformedInputError,
        ),
        (
            "bundle signature byte changed",
            ["BadBundleSignature"],
            patched(o_count - 1, bytes((blob[o_count - 1] ^ 1,))),
            AuthenticationError,
        ),
        (
            "bundle version 3",
            ["UnknownVersion"],
            patched(o_bundle, b"\x03"),
            UnsupportedVersionError,
        ),
        ("identity version 2", ["UnknownVersion"], patched(1, b"\x02"), UnsupportedVersionError),
    ):
        case(comment, flags, data, error)
    return document(
        sc.DEVICE_STATE_TYPE,
        [
            "Persisted device states (spec/06-state.md §2). Valid ones list the session-start "
            "messages accepted, oldest first, and the start ids SHA-384(preKeyHash || E || "
            "startCt) the state records for them."
        ],
        [tests],
    )


def _start_fields(wire: bytes) -> tuple[bytes, bytes, bytes]:
    hd = parse_message(wire).header
    assert hd.prekey_hash is not None and hd.start_ciphertext is not None
    return hd.prekey_hash, hd.ecdh_public_key, hd.start_ciphertext
