"""The defects of the security review of revision 9277439, each shown fixed (spec/06-state.md §3,
spec/08-security.md §3 and §5).

Keystream reuse is detected by its cause: two sealed messages with the same chain point and
index share (key, IV), because a chain's keys follow from its point's derivation alone.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

import pytest
from helpers import SAVE_IN_MEMORY, new_pair
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pq3proto import (
    AuthenticationError,
    Device,
    MisuseError,
    PQ3Error,
    RekeyPolicy,
    ReplayError,
    Session,
    kem,
)
from pq3proto.constants import MAX_FORWARD_JUMP
from pq3proto.kdf import session_dst
from pq3proto.message import PythonHotPath
from pq3proto.primitives import SYSTEM_RANDOM, P256PrivateKey
from pq3proto.store import SessionStore
from pq3proto.wire import encode_message, parse_message, signature_body


def chain_slot(wire: bytes) -> tuple[bytes, int]:
    msg = parse_message(wire)
    return msg.header.ecdh_public_key, msg.index


def assert_no_reuse(wires: list[bytes]) -> None:
    slots = [chain_slot(w) for w in wires]
    assert len(set(slots)) == len(slots), "two messages sealed under one (key, IV)"


def replying_pair(policy: RekeyPolicy | None = None) -> Any:
    """A pair where Bob has replied once, so Alice may open continuation chains."""
    p = new_pair(policy)
    p.alice.decrypt(p.bob.encrypt(b"reply"))
    return p


# ── 1(a) A restored snapshot never continues the chain it was taken in ─────────────────


def test_restoring_a_snapshot_opens_a_fresh_chain() -> None:
    p = replying_pair()
    first = p.alice.encrypt(b"one")
    snapshot = p.alice.to_bytes()
    live = p.alice.encrypt(b"two: the live session goes on")
    restored = Session.from_bytes(snapshot, p.alice_device)
    again = restored.encrypt(b"two: the restored copy sends")
    twice = Session.from_bytes(snapshot, p.alice_device).encrypt(b"two: restored twice")
    assert_no_reuse([first, live, again, twice])
    # The peer reads the live chain, then the restored copy's continuation chain.
    assert p.bob.decrypt(first) == b"one"
    assert p.bob.decrypt(live) == b"two: the live session goes on"
    assert p.bob.decrypt(again) == b"two: the restored copy sends"
    # The second restore of one snapshot is a fork: it fails loudly, and changes nothing.
    before = p.bob.to_bytes()
    with pytest.raises(AuthenticationError):
        p.bob.decrypt(twice)
    assert p.bob.to_bytes() == before


def test_a_continuation_chain_keeps_the_conversation_going() -> None:
    p = replying_pair(RekeyPolicy.every_turn())
    w0 = p.alice.encrypt(b"asks for a rekey")  # Alice's chain carries her KEM request
    assert p.alice.state.ratchet.expect_kem
    restored = Session.from_bytes(p.alice.to_bytes(), p.alice_device)
    w = restored.encrypt(b"after restore")
    assert parse_message(w).header.kem_public_key == p.alice.state.ratchet.my_kem_public
    # The continuation is derived after the snapshot's chain: before that chain arrives it
    # cannot be read, and the failure changes nothing; afterwards it opens.
    before = p.bob.to_bytes()
    with pytest.raises(PQ3Error):
        p.bob.decrypt(w)
    assert p.bob.to_bytes() == before
    assert p.bob.decrypt(w0) == b"asks for a rekey"
    assert p.bob.decrypt(w) == b"after restore"
    rekeys = restored.stats.pq_rekeys
    assert restored.decrypt(p.bob.encrypt(b"answer")) == b"answer"  # the request is answered
    assert restored.stats.pq_rekeys == rekeys + 1
    assert not restored.state.ratchet.expect_kem
    assert p.bob.decrypt(restored.encrypt(b"next turn")) == b"next turn"


def test_an_initiator_restored_before_any_reply_cannot_send() -> None:
    p = new_pair()
    restored = Session.from_bytes(p.alice.to_bytes(), p.alice_device)
    before = restored.to_bytes()
    with pytest.raises(MisuseError, match="cannot send until the reply arrives"):
        restored.encrypt(b"x")
    assert restored.to_bytes() == before
    assert restored.decrypt(p.bob.encrypt(b"reply")) == b"reply"
    assert p.bob.decrypt(restored.encrypt(b"now it can")) == b"now it can"


def test_a_session_built_over_a_state_value_closes_its_chain() -> None:
    p = replying_pair()
    w1 = p.alice.encrypt(b"a")
    twin = Session(p.alice_device, p.alice.state)
    assert_no_reuse([w1, p.alice.encrypt(b"b"), twin.encrypt(b"c")])


# ── 1(b) Inspection in the store cannot continue the stored chain ──────────────────────


def test_store_inspection_cannot_reuse_a_key(tmp_path: Any) -> None:
    p = new_pair()
    with SessionStore(tmp_path / "s.db") as store:
        alice = store.add_device(p.alice_device)
        bob = store.add_device(p.bob_device)
        peer = store.initiate(alice, p.bob_device.public_identity(), p.bob_device.prekey_bundle())
        w0 = store.encrypt(alice, peer, b"start")
        store.decrypt(bob, p.alice_device.public_identity(), w0)
        store.decrypt(alice, bob, store.encrypt(bob, alice, b"reply"))
        w1 = store.encrypt(alice, peer, b"one")
        wires = [w0, w1, store.encrypt(alice, peer, b"two")]
        inspected = store.session(alice, peer)
        encrypt = getattr(inspected, "encrypt", None)
        if encrypt is not None:  # a read-only view has no encrypt at all
            wires.append(encrypt(b"from the inspection copy"))
        wires.append(store.encrypt(alice, peer, b"three"))
        assert_no_reuse(wires)


# ── 1(c) Threads share one Session ───────────────────────────────────────────────────────


def test_threads_sharing_a_session_never_reuse_a_key() -> None:
    p = replying_pair()
    wires: list[bytes] = []
    lock = threading.Lock()
    payload = os.urandom(4096)  # large enough that the C seal runs long without the GIL

    def work() -> None:
        mine = [p.alice.encrypt(payload) for _ in range(200)]
        with lock:
            wires.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wires) == 800
    assert_no_reuse(wires)
    assert p.alice.stats.sent == 801
    for w in sorted(wires, key=lambda w: chain_slot(w)[1]):
        assert p.bob.decrypt(w) == payload


# ── The property: no interleaving of public calls seals twice under one (key, IV) ──────

OPS = st.lists(
    st.tuples(
        st.sampled_from(["encrypt", "snapshot", "restore", "threads", "store", "reply"]),
        st.integers(min_value=0, max_value=7),
    ),
    min_size=1,
    max_size=14,
)


@contextmanager
def store_with(p: Any) -> Iterator[tuple[SessionStore, str, str]]:
    with tempfile.TemporaryDirectory() as d, SessionStore(os.path.join(d, "s.db")) as store:
        alice = store.add_device(Device.from_bytes(p.alice_device.to_bytes()))
        bob = store.add_device(Device.from_bytes(p.bob_device.to_bytes()))
        peer = store.initiate(alice, p.bob_device.public_identity(), p.bob_device.prekey_bundle())
        store.decrypt(bob, p.alice_device.public_identity(), store.encrypt(alice, peer, b"s"))
        store.decrypt(alice, bob, store.encrypt(bob, alice, b"r"))
        yield store, alice, peer


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_no_interleaving_reuses_a_key(ops: list[tuple[str, int]]) -> None:
    p = replying_pair()
    handles = [p.alice]
    snapshots = [p.alice.to_bytes()]
    wires: list[bytes] = []
    with store_with(p) as (store, alice, peer):
        store_wires: list[bytes] = []
        for op, k in ops:
            handle = handles[k % len(handles)]
            if op == "encrypt":
                wires.append(handle.encrypt(b"m"))
            elif op == "snapshot":
                snapshots.append(handle.to_bytes())
            elif op == "restore":
                handles.append(Session.from_bytes(snapshots[k % len(snapshots)], p.alice_device))
            elif op == "threads":
                out: list[list[bytes]] = [[], []]

                def send(i: int, h: Session = handle, out: list[list[bytes]] = out) -> None:
                    out[i].extend(h.encrypt(b"t" * 512) for _ in range(6))

                ts = [threading.Thread(target=send, args=(i,)) for i in range(2)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                wires.extend(out[0] + out[1])
            elif op == "store":
                store_wires.append(store.encrypt(alice, peer, b"s"))
                blob = store.session_state(alice, peer)
                store_wires.append(Session.from_bytes(blob, store.device(alice)).encrypt(b"i"))
            elif op == "reply":
                # Bob answers whatever reached him; a fork that cannot be read is skipped.
                for w in wires[-3:]:
                    with suppress(PQ3Error):
                        p.bob.decrypt(w)
        assert_no_reuse(wires)
        assert_no_reuse(store_wires)


# ── 2. A session start replayed after a restart (raw API) ─────────────────────────────


def test_accept_persists_the_replay_record_before_releasing_plaintext() -> None:
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    disk = {"bob": bob.to_bytes()}
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle())
    start = a.encrypt(b"first")

    def save(device: Device) -> None:
        disk["bob"] = device.to_bytes()

    _, pt = Session.accept(bob, alice.public_identity(), start, save_device=save)
    assert pt == b"first"
    restarted = Device.from_bytes(disk["bob"])  # the process restarts from what was saved
    with pytest.raises(ReplayError):
        Session.accept(restarted, alice.public_identity(), start, save_device=save)


def test_accept_fails_and_changes_nothing_when_saving_fails() -> None:
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    start = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle()).encrypt(b"x")
    before = bob.to_bytes()

    def disk_full(_: Device) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        Session.accept(bob, alice.public_identity(), start, save_device=disk_full)
    assert bob.to_bytes() == before
    _, pt = Session.accept(bob, alice.public_identity(), start, save_device=SAVE_IN_MEMORY)
    assert pt == b"x"


def test_accept_requires_a_save_callback() -> None:
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    start = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle()).encrypt(b"x")
    with pytest.raises(TypeError):
        Session.accept(bob, alice.public_identity(), start)  # type: ignore[call-arg]


# ── 5. Later messages of a known chain must carry the chain's first header ────────────


def resign(p: Any, wire: bytes, **header_changes: Any) -> bytes:
    """Alice's message with header fields changed, signed again with Alice's own key."""
    msg = parse_message(wire)
    header = replace(msg.header, **header_changes)
    dst = session_dst(p.alice_device.identity.binding(), p.bob_device.identity.binding())
    body = signature_body(
        msg.ciphertext, msg.auth_data, msg.indicator, header.ecdh_public_key, msg.index,
        header.signature_tail(dst),
    )
    sig = p.alice_device.signing_key.sign(body, deterministic=True)
    return encode_message(
        header.encode(), msg.index, msg.indicator, msg.auth_data, msg.ciphertext, sig
    )


@pytest.mark.parametrize("path", ["0", "1"])
def test_a_swapped_kem_key_on_a_later_message_is_refused(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path == "1":
        from pq3proto import native

        if not native.available():
            pytest.skip("native extension not built")
    monkeypatch.setenv("PQ3PROTO_NATIVE", path)
    p = replying_pair(RekeyPolicy.every_turn())
    m0, m1, m2 = (p.alice.encrypt(b"%d" % i) for i in range(3))
    assert parse_message(m1).header.kem_public_key is not None
    _, attacker_pk = kem.generate_seed_and_key(kem.MLKEM768, SYSTEM_RANDOM)
    assert p.bob.decrypt(m0) == b"0"
    before = p.bob.to_bytes()
    for forged in (resign(p, m1, kem_public_key=attacker_pk), resign(p, m2, kem_public_key=None)):
        with pytest.raises(AuthenticationError, match="differs from its chain's first header"):
            p.bob.decrypt(forged)
        assert p.bob.to_bytes() == before
    assert p.bob.decrypt(m2) == b"2"  # the in-order path is checked too
    assert p.bob.decrypt(m1) == b"1"  # and the skipped-key path


# ── 6. The work a genuine message replayed out of context can cause ─────────────────────


class Counts:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n: dict[str, int] = {}
        backend = type(kem.get_backend())
        for name, owner, attr in (
            ("verify", PythonHotPath, "verify"),
            ("chain_step", PythonHotPath, "chain_step"),
            ("ecdh", P256PrivateKey, "exchange"),
            ("decapsulate", backend, "decapsulate"),
            ("kem_check", backend, "validate_public_key"),
        ):
            monkeypatch.setattr(owner, attr, self._counting(name, getattr(owner, attr)))

    def _counting(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.n[name] = self.n.get(name, 0) + 1
            return real(*args, **kwargs)

        return counted


def test_a_replay_from_an_earlier_session_costs_at_most_the_stated_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PQ3PROTO_NATIVE", "0")
    old = new_pair(RekeyPolicy.every_turn())
    old.alice.decrypt(old.bob.encrypt(b"reply"))
    # The old session's late message: far into a chain, carrying a KEM ciphertext.
    for _ in range(MAX_FORWARD_JUMP):
        old.alice.encrypt(b"")
    replayed = old.alice.encrypt(b"old")
    assert parse_message(replayed).header.kem_ciphertext is not None
    # A newer session between the same two devices, with a rekey request of Bob's open.
    new = Session.initiate(
        old.alice_device, old.bob_device.public_identity(), old.bob_device.prekey_bundle(),
        policy=RekeyPolicy.every_turn(),
    )
    bob, _ = Session.accept(
        old.bob_device, old.alice_device.public_identity(), new.encrypt(b"hi"),
        save_device=SAVE_IN_MEMORY, policy=RekeyPolicy.every_turn(),
    )
    new.decrypt(bob.encrypt(b"asks"))
    assert bob.state.ratchet.expect_kem
    counts = Counts(monkeypatch)
    before = bob.to_bytes()
    with pytest.raises(AuthenticationError):
        bob.decrypt(replayed)
    assert bob.to_bytes() == before
    n = counts.n
    assert n.get("verify", 0) <= 1 and n.get("ecdh", 0) <= 1
    assert n.get("decapsulate", 0) <= 1 and n.get("kem_check", 0) <= 1
    assert n.get("chain_step", 0) <= MAX_FORWARD_JUMP


def test_a_forged_signature_costs_one_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PQ3PROTO_NATIVE", "0")
    p = replying_pair()
    w = bytearray(p.alice.encrypt(b"x"))
    w[-1] ^= 1
    counts = Counts(monkeypatch)
    with pytest.raises(AuthenticationError):
        p.bob.decrypt(bytes(w))
    assert counts.n == {"verify": 1}


# ── Misuse of argument types is one error class on both paths ──────────────────────────


@pytest.mark.parametrize("path", ["0", "1"])
def test_wrong_argument_types_are_misuse(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PQ3PROTO_NATIVE", path)
    p = replying_pair()
    before = p.alice.to_bytes()
    for call in (
        lambda: p.alice.encrypt("text"),  # type: ignore[arg-type]
        lambda: p.alice.encrypt(b"x", "ad"),  # type: ignore[arg-type]
        lambda: p.alice.decrypt("text"),  # type: ignore[arg-type]
        lambda: p.alice.decrypt(None),  # type: ignore[arg-type]
    ):
        with pytest.raises(MisuseError, match="must be bytes, not"):
            call()
    assert p.alice.to_bytes() == before
    assert p.bob.decrypt(p.alice.encrypt(bytearray(b"bytes-like is fine"))) == b"bytes-like is fine"


def test_two_threads_accepting_one_start_record_it_once() -> None:
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    start = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle()).encrypt(b"x")
    results: list[str] = []
    barrier = threading.Barrier(4)

    def accept() -> None:
        barrier.wait()
        try:
            Session.accept(bob, alice.public_identity(), start, save_device=SAVE_IN_MEMORY)
            results.append("accepted")
        except ReplayError:
            results.append("replay")

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["accepted", "replay", "replay", "replay"]
