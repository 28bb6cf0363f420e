"""The public API and the protocol core: conversations, counters, tampering, order, replay."""

from __future__ import annotations

import random

import pytest
from helpers import SAVE_IN_MEMORY, ManualClock, new_pair

from pq3proto import (
    AuthenticationError,
    Device,
    DowngradeError,
    MalformedInputError,
    MisuseError,
    PQ3Error,
    RekeyPolicy,
    ReplayError,
    Session,
    TooFarAheadError,
    UnsupportedVersionError,
)
from pq3proto.constants import (
    MAX_FORWARD_JUMP,
    MAX_RECEIVING_CHAINS,
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
)
from pq3proto.ratchet import evolve
from pq3proto.session import close_sending_chain
from pq3proto.state import encode_session_state
from pq3proto.wire import parse_message

pytestmark = pytest.mark.usefixtures("hot_path_name")


def test_readme_api_example() -> None:
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    bundle: bytes = bob.prekey_bundle()
    a = Session.initiate(
        alice,
        bob.public_identity(),
        bundle,
        policy=RekeyPolicy(every_messages=50, max_age_seconds=7 * 86400),
    )
    w1: bytes = a.encrypt(b"hello")
    b, first = Session.accept(bob, alice.public_identity(), w1, save_device=SAVE_IN_MEMORY)
    assert first == b"hello"
    w2 = b.encrypt(b"hi")
    assert a.decrypt(w2) == b"hi"
    blob: bytes = a.to_bytes()
    a = Session.from_bytes(blob, alice)
    assert a.decrypt(b.encrypt(b"again")) == b"again"
    s = a.stats
    assert (s.sent, s.received) == (1, 2)
    assert s.wire_bytes == len(w1) and s.plaintext_bytes == 5
    assert issubclass(ReplayError, PQ3Error)


def test_auth_data_travels_signed() -> None:
    p = new_pair()
    w = p.alice.encrypt(b"body", auth_data=b"header-v1")
    assert p.bob.decrypt_with_auth_data(w) == (b"body", b"header-v1")


# ── Counters against an independent model of spec/03-ratchet.md §3 and §5 ──


class _Side:
    def __init__(self) -> None:
        self.since = 0
        self.expect = False
        self.pending = False
        self.rekeys = 0
        self.ecdh = 0


def _model(runs: list[int], policy: RekeyPolicy) -> tuple[_Side, _Side]:
    """Predict each side's ECDH steps and PQ rekeys for in-order turns of given lengths."""
    a, b = _Side(), _Side()
    if policy.due(0, 0.0):
        a.expect = True
        b.pending = True
    a.since += runs[0]
    b.since += runs[0]
    sender, receiver = b, a
    for n in runs[1:]:
        sender.ecdh += 1
        mixed = sender.pending
        if mixed:
            sender.rekeys += 1
            sender.since = 0
            sender.pending = False
        asked = not sender.expect and policy.due(sender.since, 0.0)
        if asked:
            sender.expect = True
        receiver.ecdh += 1
        if mixed:
            receiver.rekeys += 1
            receiver.since = 0
            receiver.expect = False
        receiver.pending = asked
        sender.since += n
        receiver.since += n
        sender, receiver = receiver, sender
    return a, b


@pytest.mark.parametrize(
    "policy",
    [RekeyPolicy(), RekeyPolicy(every_messages=7), RekeyPolicy.every_turn(), RekeyPolicy.never()],
    ids=["default", "every-7", "every-turn", "never"],
)
def test_long_conversation_counters_match_the_spec(policy: RekeyPolicy) -> None:
    rnd = random.Random(2024)
    runs = [rnd.choice((1, 1, 2, 3, 5, 8)) for _ in range(700)]
    clock = ManualClock()
    p = new_pair(policy, clock, first=b"m0")
    sides = [p.alice, p.bob]
    sent = 1
    for turn, n in enumerate(runs):
        s, r = sides[turn % 2], sides[(turn + 1) % 2]
        for i in range(n if turn else n - 1):
            pt = f"turn {turn} message {i}".encode() * rnd.randrange(1, 4)
            assert r.decrypt(s.encrypt(pt)) == pt
            sent += 1
            clock.advance(1.0)
    assert sent == sum(runs) >= 2000
    ma, mb = _model(runs, policy)
    for side, model in ((p.alice.stats, ma), (p.bob.stats, mb)):
        assert side.ecdh_ratchets == model.ecdh == len(runs) - 1
        assert side.pq_rekeys == model.rekeys
    if policy == RekeyPolicy.never():
        assert ma.rekeys == 0
    else:
        assert ma.rekeys > 0
    assert p.alice.stats.sent + p.bob.stats.sent == sent


def test_time_trigger_rekeys_after_seven_days() -> None:
    clock = ManualClock()
    p = new_pair(RekeyPolicy(every_messages=None, max_age_seconds=7 * 86400), clock)
    for _ in range(5):
        assert p.alice.decrypt(p.bob.encrypt(b"x")) == b"x"
        assert p.bob.decrypt(p.alice.encrypt(b"y")) == b"y"
    assert p.alice.stats.pq_rekeys == 0
    clock.advance(7 * 86400)
    w = p.bob.encrypt(b"a week later")
    assert parse_message(w).header.kem_public_key is not None
    p.alice.decrypt(w)
    w2 = p.alice.encrypt(b"answer")
    assert parse_message(w2).header.kem_ciphertext is not None
    p.bob.decrypt(w2)
    assert p.alice.stats.pq_rekeys == p.bob.stats.pq_rekeys == 1


def test_rekey_costs_one_key_and_one_ciphertext_on_the_wire() -> None:
    p = new_pair(RekeyPolicy.every_turn())
    w_ask = p.bob.encrypt(b"a")
    w_answer = p.alice.encrypt(b"b") if p.alice.decrypt(w_ask) else b""
    base = len(p.bob.encrypt(b"c")) if p.bob.decrypt(w_answer) else 0
    h1, h2 = parse_message(w_ask).header, parse_message(w_answer).header
    assert h1.kem_public_key is not None and h1.kem_ciphertext is not None
    assert len(h1.kem_public_key) == MLKEM768_PUBLIC_KEY_SIZE
    assert h2.kem_ciphertext is not None and len(h2.kem_ciphertext) == MLKEM768_CIPHERTEXT_SIZE
    assert base > 0


# ── Tampering: every byte, truncation, extension; the session is unchanged afterwards ──


def _assert_rejected_without_change(session: Session, wire: bytes) -> type[PQ3Error]:
    before = session.to_bytes()
    with pytest.raises(PQ3Error) as info:
        session.decrypt(wire)
    assert session.to_bytes() == before
    return type(info.value)


@pytest.mark.parametrize("kind", ["steady", "rekey-request", "rekey-answer"])
def test_any_changed_truncated_or_extended_message_is_rejected(kind: str) -> None:
    p = new_pair(RekeyPolicy.every_turn() if kind != "steady" else RekeyPolicy.never())
    p.alice.decrypt(p.bob.encrypt(b"warm up"))
    sender, receiver = p.alice, p.bob
    if kind == "rekey-answer":
        p.bob.decrypt(p.alice.encrypt(b"turn"))
        sender, receiver = p.bob, p.alice
    wire = sender.encrypt(b"the message under attack")
    h = parse_message(wire).header
    if kind == "rekey-request":
        assert h.kem_public_key is not None
    if kind == "rekey-answer":
        assert h.kem_ciphertext is not None
    positions = range(len(wire)) if len(wire) < 400 else sorted(
        set(range(0, 80)) | set(range(len(wire) - 200, len(wire))) | set(range(80, len(wire), 37))
    )
    classes = set()
    for i in positions:
        bad = bytearray(wire)
        bad[i] ^= 0x01
        classes.add(_assert_rejected_without_change(receiver, bytes(bad)))
    for n in (0, 1, 2, 66, len(wire) // 2, len(wire) - 64, len(wire) - 1):
        classes.add(_assert_rejected_without_change(receiver, wire[:n]))
    for extra in (b"\x00", b"\xff" * 7):
        classes.add(_assert_rejected_without_change(receiver, wire + extra))
    assert classes <= {
        MalformedInputError,
        UnsupportedVersionError,
        AuthenticationError,
    }
    assert AuthenticationError in classes and MalformedInputError in classes
    assert receiver.decrypt(wire) == b"the message under attack"
    assert sender.decrypt(receiver.encrypt(b"and the conversation goes on")) == (
        b"and the conversation goes on"
    )


def _resign(
    sender_device: Device, session_sender: Session, wire: bytes, **changes: object
) -> bytes:
    """Re-sign a message after changing its chain header: a peer that misbehaves on purpose."""
    from dataclasses import replace

    from pq3proto.kdf import session_dst
    from pq3proto.wire import encode_message

    m = parse_message(wire)
    header = replace(m.header, **changes)  # type: ignore[arg-type]
    st = session_sender.state
    dst = session_dst(st.me.binding(), st.peer.binding())
    body = replace(m, header=header).signed_body(dst)
    sig = sender_device.signing_key.sign(body)
    return encode_message(header.encode(), m.index, m.indicator, m.auth_data, m.ciphertext, sig)


def test_stripped_kem_ciphertext_is_a_downgrade() -> None:
    p = new_pair(RekeyPolicy.every_turn())
    ask = p.bob.encrypt(b"ask")
    p.alice.decrypt(ask)
    answer = p.alice.encrypt(b"answer")
    stripped = answer[:1] + bytes((answer[1] & ~0x02,)) + answer[2:]
    _assert_rejected_without_change(p.bob, stripped)  # unsigned change: signature fails
    resigned = _resign(p.alice_device, p.alice, answer, kem_ciphertext=None)
    before = p.bob.to_bytes()
    with pytest.raises(DowngradeError):
        p.bob.decrypt(resigned)
    assert p.bob.to_bytes() == before
    assert p.bob.decrypt(answer) == b"answer"


def _foreign_rekey_material() -> tuple[bytes, bytes]:
    """A valid ML-KEM-768 key and ciphertext from an unrelated session."""
    q = new_pair(RekeyPolicy.every_turn())
    ask = q.bob.encrypt(b"ask")
    q.alice.decrypt(ask)
    key = parse_message(ask).header.kem_public_key
    ct = parse_message(q.alice.encrypt(b"x")).header.kem_ciphertext
    assert key is not None and ct is not None
    return key, ct


def test_swapped_kem_ciphertext_is_rejected() -> None:
    p = new_pair(RekeyPolicy.every_turn())
    p.alice.decrypt(p.bob.encrypt(b"ask"))
    answer = p.alice.encrypt(b"answer")
    _, foreign_ct = _foreign_rekey_material()
    swapped = _resign(p.alice_device, p.alice, answer, kem_ciphertext=foreign_ct)
    before = p.bob.to_bytes()
    with pytest.raises(AuthenticationError):
        p.bob.decrypt(swapped)  # implicit rejection: another root key, indicator mismatch
    assert p.bob.to_bytes() == before
    assert p.bob.decrypt(answer) == b"answer"


def test_swapped_kem_key_is_rejected() -> None:
    p = new_pair(RekeyPolicy.every_turn())
    p.alice.decrypt(p.bob.encrypt(b"warm up"))
    ask = p.alice.encrypt(b"ask")
    key = parse_message(ask).header.kem_public_key
    assert key is not None
    foreign_key, _ = _foreign_rekey_material()
    on_path = ask.replace(key, foreign_key)
    before = p.bob.to_bytes()
    with pytest.raises(AuthenticationError):  # an on-path swap breaks the signature
        p.bob.decrypt(on_path)
    assert p.bob.to_bytes() == before
    # A swap signed by the sender itself is only caught when the answer cannot decapsulate.
    resigned = _resign(p.alice_device, p.alice, ask, kem_public_key=foreign_key)
    assert p.bob.decrypt(resigned) == b"ask"
    answer = p.bob.encrypt(b"answer to the wrong key")
    before = p.alice.to_bytes()
    with pytest.raises(AuthenticationError):
        p.alice.decrypt(answer)
    assert p.alice.to_bytes() == before


# ── Order, bounds, replay ──


def test_reordering_within_bounds() -> None:
    p = new_pair()
    rnd = random.Random(7)
    for _ in range(20):
        run = [p.alice.encrypt(f"a{i}".encode()) for i in range(rnd.randrange(1, 9))]
        order = list(range(len(run)))
        rnd.shuffle(order)
        for i in order:
            assert p.bob.decrypt(run[i]) == f"a{i}".encode()
        run = [p.bob.encrypt(f"b{i}".encode()) for i in range(rnd.randrange(1, 9))]
        rnd.shuffle(run)
        for w in run:
            p.alice.decrypt(w)


def test_late_messages_of_an_old_chain_still_open() -> None:
    p = new_pair()
    late = [p.alice.encrypt(b"late %d" % i) for i in range(3)]
    p.alice.decrypt(p.bob.encrypt(b"b1"))
    p.bob.decrypt(p.alice.encrypt(b"a2"))
    p.alice.decrypt(p.bob.encrypt(b"b2"))
    for i in (2, 0, 1):
        assert p.bob.decrypt(late[i]) == b"late %d" % i


def test_replay_is_rejected_everywhere() -> None:
    p = new_pair()
    w = p.alice.encrypt(b"once")
    assert p.bob.decrypt(w) == b"once"
    _assert_rejected_without_change(p.bob, w)
    with pytest.raises(ReplayError):
        p.bob.decrypt(w)
    skipped = [p.alice.encrypt(b"%d" % i) for i in range(3)]
    p.bob.decrypt(skipped[2])
    p.bob.decrypt(skipped[0])
    with pytest.raises(ReplayError):
        p.bob.decrypt(skipped[0])
    with pytest.raises(ReplayError):
        p.bob.decrypt(skipped[2])
    assert p.bob.decrypt(skipped[1]) == b"1"


def test_session_start_replay_is_rejected() -> None:
    bob = Device.generate("mailto:bob@example.org", 1)
    alice = Device.generate("tel:+1555", 7)
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle())
    w0, w1 = a.encrypt(b"first"), a.encrypt(b"second")
    b, _ = Session.accept(bob, alice.public_identity(), w0, save_device=SAVE_IN_MEMORY)
    with pytest.raises(ReplayError):
        Session.accept(bob, alice.public_identity(), w0, save_device=SAVE_IN_MEMORY)
    with pytest.raises(ReplayError):  # another message of the same start
        Session.accept(bob, alice.public_identity(), w1, save_device=SAVE_IN_MEMORY)
    restored = Device.from_bytes(bob.to_bytes())
    with pytest.raises(ReplayError):
        Session.accept(restored, alice.public_identity(), w0, save_device=SAVE_IN_MEMORY)
    assert b.decrypt(w1) == b"second"
    with pytest.raises(MisuseError):
        b.decrypt(Session.initiate(alice, bob.public_identity(), bob.prekey_bundle()).encrypt(b"x"))


def test_out_of_order_session_start() -> None:
    bob = Device.generate("mailto:bob@example.org", 1)
    alice = Device.generate("tel:+1555", 7)
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle())
    ws = [a.encrypt(b"%d" % i) for i in range(4)]
    b, pt = Session.accept(bob, alice.public_identity(), ws[2], save_device=SAVE_IN_MEMORY)
    assert pt == b"2"
    assert [b.decrypt(ws[i]) for i in (0, 3, 1)] == [b"0", b"3", b"1"]


def test_jump_beyond_the_bound_fails_and_changes_nothing() -> None:
    p = new_pair()
    # Bob expects index 1 next; ws[k] has index k + 1.
    ws = [p.alice.encrypt(b"%d" % i) for i in range(MAX_FORWARD_JUMP + 2)]
    before = p.bob.to_bytes()
    with pytest.raises(TooFarAheadError):
        p.bob.decrypt(ws[MAX_FORWARD_JUMP + 1])
    assert p.bob.to_bytes() == before
    assert p.bob.decrypt(ws[MAX_FORWARD_JUMP]) == b"%d" % MAX_FORWARD_JUMP
    assert p.bob.decrypt(ws[1]) == b"1"


def test_dropped_old_chain_is_too_far_behind() -> None:
    p = new_pair()
    stale = p.alice.encrypt(b"stale")
    p.bob.decrypt(p.alice.encrypt(b"seen"))
    for _ in range(MAX_RECEIVING_CHAINS + 1):
        p.alice.decrypt(p.bob.encrypt(b"b"))
        p.bob.decrypt(p.alice.encrypt(b"a"))
    with pytest.raises(TooFarAheadError):
        p.bob.decrypt(stale)


# ── Identities and bundles ──


def test_bundle_with_bad_signature_or_wrong_owner_is_refused() -> None:
    bob = Device.generate("mailto:bob@example.org", 1)
    mallory = Device.generate("mailto:bob@example.org", 1)
    alice = Device.generate("tel:+1555", 7)
    bundle = bytearray(bob.prekey_bundle())
    bundle[-1] ^= 1
    with pytest.raises(AuthenticationError):
        Session.initiate(alice, bob.public_identity(), bytes(bundle))
    with pytest.raises(AuthenticationError):
        Session.initiate(alice, bob.public_identity(), mallory.prekey_bundle())


def test_wrong_peer_identity_fails_authentication() -> None:
    bob = Device.generate("mailto:bob@example.org", 1)
    alice = Device.generate("tel:+1555", 7)
    eve = Device.generate("tel:+1555", 7)
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle())
    w = a.encrypt(b"hi")
    with pytest.raises(AuthenticationError):
        Session.accept(bob, eve.public_identity(), w, save_device=SAVE_IN_MEMORY)
    assert Session.accept(bob, alice.public_identity(), w, save_device=SAVE_IN_MEMORY)[1] == b"hi"


# ── Persistence ──


def test_persistence_with_skipped_keys_and_a_rekey_in_flight() -> None:
    p = new_pair(RekeyPolicy.every_turn())
    held = [p.alice.encrypt(b"held %d" % i) for i in range(4)]
    p.bob.decrypt(held[3])  # three skipped keys stored
    ask = p.bob.encrypt(b"rekey asked")  # bob now expects a KEM ciphertext
    assert p.bob.state.ratchet.expect_kem
    bob2 = Session.from_bytes(p.bob.to_bytes(), p.bob_device)
    alice2 = Session.from_bytes(p.alice.to_bytes(), p.alice_device)
    # Restoring closes the open sending chain (spec/06-state.md §3) and changes nothing else.
    closed = evolve(p.bob.state, ratchet=close_sending_chain(p.bob.state.ratchet))
    assert bob2.to_bytes() == encode_session_state(closed) != p.bob.to_bytes()
    assert [bob2.decrypt(held[i]) for i in (1, 0, 2)] == [b"held 1", b"held 0", b"held 2"]
    assert alice2.decrypt(ask) == b"rekey asked"
    assert bob2.decrypt(alice2.encrypt(b"answer")) == b"answer"
    assert bob2.stats.pq_rekeys >= 1
    with pytest.raises(MisuseError):
        Session.from_bytes(p.bob.to_bytes(), p.alice_device)
    dev = Device.from_bytes(p.bob_device.to_bytes())
    assert dev.public_identity() == p.bob_device.public_identity()
    assert dev.prekey_bundle() == p.bob_device.prekey_bundle()


def test_reprs_do_not_leak_secrets() -> None:
    p = new_pair()
    text = repr(p.alice) + repr(p.alice_device) + repr(p.alice.state) + repr(p.alice.stats)
    r = p.alice.state.ratchet
    assert r.my_ecdh is not None
    for secret in (r.root_key, r.my_ecdh.scalar()):
        assert secret.hex() not in text
        assert repr(secret) not in text
    assert p.alice_device.signing_key.scalar().hex() not in text
