"""SessionStore: the contract in pq3proto/store.py, including SIGKILL at random instants.

The crash test forks a child that runs a two-device conversation through two stores (session
start, encrypt into the outbox, transport to the peer's decrypt, consumer acknowledgements)
and kills it with SIGKILL after a random delay. The parent then reopens the stores, finishes
the transport, and checks: no message whose encrypt committed is lost, each is in the inbox
exactly once, no message key was used for two different messages, the session start cannot be
accepted again, and a final exchange works.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import time
from collections import defaultdict
from pathlib import Path

import pytest

from pq3proto import (
    AuthenticationError,
    Device,
    MalformedInputError,
    MisuseError,
    RekeyPolicy,
    ReplayError,
    UnsupportedVersionError,
)
from pq3proto.primitives import TestingOnlyDeterministicRandom
from pq3proto.store import SessionStore, StoreError
from pq3proto.wire import parse_message

CRASH_RUNS = 40
CRASH_RUNS_SLOW = 300
POLICY = RekeyPolicy.every_turn()


@pytest.fixture(autouse=True)
def _slow_only_when_selected(request: pytest.FixtureRequest) -> None:
    """Slow variants run only under `pytest -m slow`."""
    if request.node.get_closest_marker("slow") and "slow" not in (
        request.config.getoption("markexpr") or ""
    ):
        pytest.skip("slow: run with pytest -m slow")


def devices(seed: bytes = b"store") -> tuple[Device, Device]:
    rng = TestingOnlyDeterministicRandom(seed)
    alice = Device.generate_deterministic_for_tests("tel:+15550001", 1, rng)
    bob = Device.generate_deterministic_for_tests("mailto:bob@example.org", 2, rng)
    return alice, bob


def open_pair(tmp: Path, alice: Device, bob: Device) -> tuple[SessionStore, SessionStore]:
    sa, sb = SessionStore(tmp / "alice.db"), SessionStore(tmp / "bob.db")
    if not sa.devices():
        sa.add_device(alice)
    if not sb.devices():
        sb.add_device(bob)
    return sa, sb


A, B = "tel:+15550001#1", "mailto:bob@example.org#2"


# ── The contract, step by step ──────────────────────────────────────────────────────────


def test_conversation_through_stores(tmp_path: Path) -> None:
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    assert sa.initiate(A, bob.public_identity(), bob.prekey_bundle(), policy=POLICY) == B
    w = sa.encrypt(A, B, b"hello", b"ad")
    assert [o.wire for o in sa.outbox(A)] == [w]
    got = sb.decrypt(B, alice.public_identity(), w, policy=POLICY)
    assert (got.peer, got.plaintext, got.auth_data) == (A, b"hello", b"ad")
    assert sb.inbox(B) == [got]
    for i in range(6):
        w = sb.encrypt(B, A, f"r{i}".encode())
        assert sa.decrypt(A, B, w).plaintext == f"r{i}".encode()
        w = sa.encrypt(A, B, f"a{i}".encode())
        assert sb.decrypt(B, A, w).plaintext == f"a{i}".encode()
    assert sb.session(B, A).stats.pq_rekeys > 0
    sb.ack_inbox([m.id for m in sb.inbox(B)])
    assert sb.inbox(B) == []
    sa.ack_outbox([o.id for o in sa.outbox(A)])
    assert sa.outbox(A) == []
    sa.close()
    sb.close()
    # Everything survives reopening.
    sa, sb = open_pair(tmp_path, alice, bob)
    assert sb.decrypt(B, A, sa.encrypt(A, B, b"again")).plaintext == b"again"


def test_failed_decrypt_writes_nothing(tmp_path: Path) -> None:
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    first = sa.encrypt(A, B, b"m0")
    sb.decrypt(B, alice.public_identity(), first)
    w = sa.encrypt(A, B, b"m1")
    blob, dev, inbox = sb.session_state(B, A), sb.device(B).to_bytes(), sb.inbox(B)
    bad = bytearray(w)
    bad[-1] ^= 1
    for wire, error in ((bytes(bad), AuthenticationError), (w + b"\x00", MalformedInputError),
                        (first, ReplayError)):
        with pytest.raises(error):
            sb.decrypt(B, A, wire)
        assert sb.session_state(B, A) == blob
        assert sb.device(B).to_bytes() == dev
        assert sb.inbox(B) == inbox
    assert sb.decrypt(B, A, w).plaintext == b"m1"


def test_session_start_and_replay_record_commit_together(tmp_path: Path) -> None:
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    first = sa.encrypt(A, B, b"m0")
    before = sb.device(B).to_bytes()
    sb.decrypt(B, alice.public_identity(), first)
    assert sb.device(B).to_bytes() != before, "the replay record must be stored"
    sb.close()
    sb = SessionStore(tmp_path / "bob.db")
    with pytest.raises(ReplayError):
        sb.decrypt(B, alice.public_identity(), first)
    # A replay against a store that lost the session (but kept the device) is still refused.
    db = sqlite3.connect(tmp_path / "bob.db")
    db.execute("DELETE FROM sessions")
    db.commit()
    db.close()
    with pytest.raises(ReplayError):
        sb.decrypt(B, alice.public_identity(), first)
    assert sb.inbox(B)[-1].plaintext == b"m0" and len(sb.inbox(B)) == 1


def test_peer_restart_replaces_the_session(tmp_path: Path) -> None:
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"one"))
    with pytest.raises(MisuseError):
        sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle(), replace=True)
    w = sa.encrypt(A, B, b"two")
    with pytest.raises(MisuseError):
        sb.decrypt(B, A, w)  # a start needs the peer's identity bytes
    assert sb.decrypt(B, alice.public_identity(), w).plaintext == b"two"
    assert sa.decrypt(A, B, sb.encrypt(B, A, b"three")).plaintext == b"three"


def test_misuse_and_foreign_files(tmp_path: Path) -> None:
    alice, bob = devices()
    sa, _ = open_pair(tmp_path, alice, bob)
    with pytest.raises(MisuseError):
        sa.add_device(alice)
    with pytest.raises(MisuseError):
        sa.encrypt(A, B, b"no session")
    with pytest.raises(MisuseError):
        sa.device("nobody#0")
    sa.close()
    db = sqlite3.connect(tmp_path / "alice.db")
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(UnsupportedVersionError):
        SessionStore(tmp_path / "alice.db")
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        SessionStore(tmp_path / "junk.db")


# ── SIGKILL at a random instant ─────────────────────────────────────────────────────────


def child(tmp: Path, seed: int) -> None:
    """The conversation the parent kills: runs until killed (or a cap)."""
    alice, bob = devices()
    sa, sb = SessionStore(tmp / "alice.db"), SessionStore(tmp / "bob.db")
    log = os.open(tmp / "log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    rng = random.Random(seed)
    stores = {A: sa, B: sb}
    idents = {A: alice.public_identity(), B: bob.public_identity()}
    if not sa.has_session(A, B):
        sa.initiate(A, bob.public_identity(), bob.prekey_bundle(), policy=POLICY)
    src, dst = A, B
    for k in range(100_000):
        if k and rng.random() < 0.5:
            src, dst = dst, src
        wire = stores[src].encrypt(src, dst, f"{src}>{k}".encode())
        os.write(log, f"E {src} {wire.hex()}\n".encode())
        for o in stores[src].outbox(src):
            try:
                got = stores[dst].decrypt(dst, idents[src], o.wire, policy=POLICY)
                os.write(log, f"D {dst} {got.plaintext.decode()}\n".encode())
            except ReplayError:
                pass
            stores[src].ack_outbox([o.id])
        if rng.random() < 0.3:
            for m in stores[dst].inbox(dst):
                os.write(log, f"C {dst} {m.id} {m.plaintext.decode()}\n".encode())
                stores[dst].ack_inbox([m.id])


def crash_and_check(tmp: Path, seed: int) -> None:
    alice, bob = devices()
    sa, sb = open_pair(tmp, alice, bob)
    sa.close()
    sb.close()
    rng = random.Random(seed)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            child(tmp, seed)
        finally:
            os._exit(0)
    time.sleep(rng.uniform(0.0, 0.25))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)

    sa, sb = open_pair(tmp, alice, bob)
    stores = {A: sa, B: sb}
    idents = {A: alice.public_identity(), B: bob.public_identity()}
    log = (tmp / "log").read_text().splitlines() if (tmp / "log").exists() else []
    wires: dict[str, list[bytes]] = defaultdict(list)
    delivered: set[str] = set()
    consumed: dict[str, set[int]] = defaultdict(set)
    for line in log:
        parts = line.split(" ")
        if parts[0] == "E" and len(parts) == 3:
            try:
                wire = bytes.fromhex(parts[2])
                parse_message(wire)
            except (ValueError, MalformedInputError):
                continue  # the last line, cut by the kill
            wires[parts[1]].append(wire)
        elif parts[0] == "D" and len(parts) == 3:
            delivered.add(parts[2])
        elif parts[0] == "C" and len(parts) == 4:
            consumed[parts[3]].add(int(parts[2]))

    if not sa.has_session(A, B):
        assert not wires[A], "a wire was handed out without its session state"
        sa.initiate(A, bob.public_identity(), bob.prekey_bundle(), policy=POLICY)
    # Finish the transport: every committed wire is still in its outbox until acknowledged.
    for src, dst in ((A, B), (B, A), (A, B)):
        for o in stores[src].outbox(src):
            wires[src].append(o.wire)
            with contextlib.suppress(ReplayError):
                stores[dst].decrypt(dst, idents[src], o.wire, policy=POLICY)
            stores[src].ack_outbox([o.id])
    # The conversation continues.
    for i, (src, dst) in enumerate(((A, B), (B, A), (A, B))):
        pt = f"final {i}".encode()
        w = stores[src].encrypt(src, dst, pt)
        wires[src].append(w)
        assert stores[dst].decrypt(dst, idents[src], w).plaintext == pt
        stores[src].ack_outbox([o.id for o in stores[src].outbox(src)])

    # Exactly once: every plaintext in exactly one inbox row (consumed or still waiting).
    rows: dict[str, set[int]] = defaultdict(set)
    for pt, ids in consumed.items():
        rows[pt] |= ids
    for name in (A, B):
        for m in stores[name].inbox(name):
            rows[m.plaintext.decode()].add(m.id)
    for pt, ids in rows.items():
        assert len(ids) == 1, f"{pt} is in the inbox {len(ids)} times"
    # No delivered or committed message lost: every distinct wire ever handed out is one
    # inbox row (the wires are all delivered by now, so the counts must agree).
    assert delivered <= rows.keys()
    distinct = {src: set(ws) for src, ws in wires.items()}
    assert sum(len(ws) for ws in distinct.values()) == len(rows)

    # No message key used twice: one wire per (sender chain, index), indicators unique.
    by_slot: dict[tuple[bytes, int], bytes] = {}
    indicators: dict[bytes, bytes] = {}
    for ws in distinct.values():
        for w in ws:
            msg = parse_message(w)
            slot = (msg.header.ecdh_public_key, msg.index)
            assert by_slot.setdefault(slot, w) == w, "two messages under one message key"
            assert indicators.setdefault(msg.indicator, w) == w, "a key indicator repeats"
    # The session start is remembered with the session it created.
    if wires[A]:
        first = min(wires[A], key=lambda w: (parse_message(w).header.prekey_hash is None,
                                             parse_message(w).index))
        if parse_message(first).header.prekey_hash is not None:
            with pytest.raises(ReplayError):
                sb.decrypt(B, alice.public_identity(), first)
    sa.close()
    sb.close()


def test_sigkill_at_random_instants(tmp_path: Path) -> None:
    t0 = time.monotonic()
    for run in range(CRASH_RUNS):
        d = tmp_path / f"run{run}"
        d.mkdir()
        crash_and_check(d, run)
    assert time.monotonic() - t0 < 120


@pytest.mark.slow
def test_sigkill_at_random_instants_long(tmp_path: Path) -> None:
    for run in range(CRASH_RUNS_SLOW):
        d = tmp_path / f"run{run}"
        d.mkdir()
        crash_and_check(d, 10_000 + run)
