"""Forward secrecy at rest (issue 9, defect 4): superseded secrets leave every store file.

A conversation runs through two open stores. After every step the test records each secret
the stored states hold (root keys, sending and receiving chain keys with the message key each
would give, skipped message keys) and every plaintext delivered. It then runs further turns,
acknowledges the inbox, and scans every file in each store's directory (database, -wal,
-shm, -journal) for each secret no longer held by a current state and for each acknowledged
plaintext. None may be found.

Run as a script, it measures store steps per second for the default and for WAL without
erasure (the layout before this change) in the same run:

    .venv/bin/python tests/test_store_at_rest.py --bench [--steps 600] [--config default|wal]

Under `strace -f -c -e trace=fsync,fdatasync` with one --config, it counts fsyncs per step.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from test_store import A, B, devices

from pq3proto import RekeyPolicy
from pq3proto.kdf import chain_step
from pq3proto.state import decode_session_state
from pq3proto.store import SessionStore


def held_secrets(store: SessionStore, local: str, peer: str) -> set[bytes]:
    """Every key the store's current sessions with `peer` hold, with the keys they yield."""
    out: set[bytes] = set()
    for blob in store.session_states(local, peer):
        r = decode_session_state(blob).ratchet
        chains = [c.chain_key for c in r.receiving]
        if r.sending is not None:
            chains.append(r.sending.chain_key)
        out.add(r.root_key)
        out.update(chains)
        out.update(chain_step(ck)[0] for ck in chains)  # the next message key of each chain
        out.update(r.skipped.values())
        if r.my_kem_seed is not None:
            out.add(r.my_kem_seed)
    return out


def store_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def converse_and_scan(tmp_path: Path, erase: bool = True) -> dict[str, tuple[int, int]]:
    """Run the conversation; per store file, (superseded secrets, acknowledged plaintexts)."""
    alice, bob = devices()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    sa, sb = SessionStore(tmp_path / "a" / "alice.db"), SessionStore(tmp_path / "b" / "bob.db")
    if not erase:  # the control: the same rollback journal, without erasing freed cells
        for s in (sa, sb):
            s._db.execute("PRAGMA secure_delete=OFF")
    sa.add_device(alice)
    sb.add_device(bob)
    policy = RekeyPolicy(every_messages=3)
    rng = random.Random(9)
    seen: set[bytes] = set()
    delivered: list[bytes] = []

    def record() -> None:
        if sa.has_session(A, B):
            seen.update(held_secrets(sa, A, B))
        if sb.has_session(B, A):
            seen.update(held_secrets(sb, B, A))

    def send(src: SessionStore, me: str, dst: SessionStore, peer: str, n: int) -> None:
        """`n` messages, delivered in a shuffled order (so skipped keys come and go)."""
        wires = []
        for _ in range(n):
            pt = b"plaintext:" + rng.randbytes(24)
            wires.append((src.encrypt(me, peer, pt), pt))
            record()
        rng.shuffle(wires)
        for w, pt in wires:
            sender_id: str | bytes = alice.public_identity() if peer == B else me
            assert dst.decrypt(peer, sender_id, w, policy=policy).plaintext == pt
            delivered.append(pt)
            record()
        src.ack_outbox([o.id for o in src.outbox(me)])

    sa.initiate(A, bob.public_identity(), bob.prekey_bundle(), policy=policy)
    record()
    turns = 30
    for turn in range(turns):
        send(sa, A, sb, B, rng.randint(1, 4))
        send(sb, B, sa, A, rng.randint(1, 4))
        if turn % 3 == 0 or turn >= turns - 14:  # the last 14 turns: everything acknowledged
            for store, me in ((sa, A), (sb, B)):
                store.ack_inbox([m.id for m in store.inbox(me)])
    assert not sa.inbox(A) and not sb.inbox(B)

    current = held_secrets(sa, A, B) | held_secrets(sb, B, A)
    superseded = seen - current
    assert len(superseded) > 300 and len(delivered) > 100
    found: dict[str, tuple[int, int]] = {}
    for side in ("a", "b"):
        files = store_files(tmp_path / side)
        assert any(name.endswith(".db") for name in files)
        for name, data in files.items():
            found[f"{side}/{name}"] = (
                sum(1 for s in superseded if s in data),
                sum(1 for pt in delivered if pt in data),
            )
    # The scan does see what a store holds now (still open, nothing checkpointed away).
    db_b = (tmp_path / "b" / "bob.db").read_bytes()
    assert any(s in db_b for s in held_secrets(sb, B, A))
    sa.close()
    sb.close()
    return found


def test_superseded_secrets_and_acknowledged_plaintexts_are_in_no_file(tmp_path: Path) -> None:
    found = converse_and_scan(tmp_path)
    assert {name: hits for name, hits in found.items() if hits != (0, 0)} == {}


def test_the_scan_finds_what_erasure_removes(tmp_path: Path) -> None:
    """Control: without secure_delete, freed cells keep acknowledged plaintexts."""
    found = converse_and_scan(tmp_path, erase=False)
    assert sum(text for _, text in found.values()) > 0


def test_store_files_are_the_database_and_an_empty_journal(tmp_path: Path) -> None:
    """Between steps there is no WAL and the rollback journal is empty."""
    alice, bob = devices()
    sa, sb = SessionStore(tmp_path / "alice.db"), SessionStore(tmp_path / "bob.db")
    sa.add_device(alice)
    sb.add_device(bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"m"))
    sizes = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert set(sizes) <= {"alice.db", "bob.db", "alice.db-journal", "bob.db-journal"}
    assert all(n for name, n in sizes.items() if name.endswith(".db"))
    assert not any(n for name, n in sizes.items() if name.endswith("-journal"))


# ── Cost: python tests/test_store_at_rest.py --bench ────────────────────────────────────


def _steps_per_second(directory: Path, steps: int, legacy_wal: bool) -> tuple[float, float]:
    """(store steps per second of wall time, CPU milliseconds per step) for one run."""
    alice, bob = devices()
    sa, sb = SessionStore(directory / "alice.db"), SessionStore(directory / "bob.db")
    if legacy_wal:  # the layout before the at-rest change: WAL, no erasure of freed cells
        for s in (sa, sb):
            s._db.execute("PRAGMA journal_mode=WAL")
            s._db.execute("PRAGMA secure_delete=OFF")
    sa.add_device(alice)
    sb.add_device(bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"start"))
    pairs = ((sa, A, sb, B), (sb, B, sa, A))
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps // 2):
        src, me, dst, peer = pairs[k % 2]
        dst.decrypt(peer, me, src.encrypt(me, peer, b"x" * 64))
        if k % 8 == 7:
            for store, name in ((sa, A), (sb, B)):
                store.ack_outbox([o.id for o in store.outbox(name)])
                store.ack_inbox([m.id for m in store.inbox(name)])
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    sa.close()
    sb.close()
    n = (steps // 2) * 2
    return n / elapsed, 1000 * cpu / n


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", action="store_true", required=True)
    ap.add_argument("--steps", type=int, default=600, help="store steps per run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--config", choices=("both", "default", "wal"), default="both")
    args = ap.parse_args(argv)
    configs = [
        c
        for c in (("WAL, no erasure", True), ("default (erasing)", False))
        if args.config == "both" or c[1] == (args.config == "wal")
    ]
    results: dict[str, list[tuple[float, float]]] = {
        "default (erasing)": [],
        "WAL, no erasure": [],
    }
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        for r in range(args.rounds):
            for label, legacy in configs:
                d = Path(tmp) / f"{r}-{legacy}"
                d.mkdir()
                results[label].append(_steps_per_second(d, args.steps, legacy))
    for label, runs in results.items():
        if not runs:
            continue
        rates = sorted(r for r, _ in runs)
        cpus = sorted(c for _, c in runs)
        print(
            f"{label:>20}: median {rates[len(rates) // 2]:7.1f} steps/s, "
            f"{cpus[len(cpus) // 2]:.2f} CPU ms/step  (runs: "
            + ", ".join(f"{x:.1f}" for x in rates)
            + ")"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def test_dropped_sessions_are_erased(tmp_path: Path) -> None:
    """A session dropped by the bound or by trusting a new key leaves no key in the file."""
    from pq3proto.constants import MAX_PREVIOUS_SESSIONS

    alice, bob = devices()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    sa, sb = SessionStore(tmp_path / "a" / "alice.db"), SessionStore(tmp_path / "b" / "bob.db")
    sa.add_device(alice)
    sb.add_device(bob)
    first: set[bytes] = set()
    for k in range(MAX_PREVIOUS_SESSIONS + 2):
        sa.initiate(A, bob.public_identity(), bob.prekey_bundle(), replace=k > 0)
        sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"start"))
        if k == 0:
            first = held_secrets(sa, A, B) | held_secrets(sb, B, A)
    assert len(sb.session_states(B, A)) == MAX_PREVIOUS_SESSIONS + 1
    assert not first & (held_secrets(sa, A, B) | held_secrets(sb, B, A))
    for side in ("a", "b"):
        for name, data in store_files(tmp_path / side).items():
            assert not any(s in data for s in first), f"{side}/{name}"

    # Trusting a new long-term key for Alice's name drops every session under the old one.
    from test_store_sessions import impostor

    old = held_secrets(sb, B, A)
    sm = SessionStore(tmp_path / "mallory.db")
    sm.add_device(impostor())
    sm.initiate(A, bob.public_identity(), bob.prekey_bundle())
    start = sm.encrypt(A, B, b"new key")
    sb.decrypt(B, impostor().public_identity(), start, trust_new_identity=True)
    assert len(sb.session_states(B, A)) == 1
    for name, data in store_files(tmp_path / "b").items():
        assert not any(s in data for s in old), f"b/{name}"


def test_a_file_held_open_in_wal_mode_is_refused(tmp_path: Path) -> None:
    """The store never runs on settings that would keep superseded pages on disk."""
    import sqlite3

    import pytest

    from pq3proto.store import StoreError

    other = sqlite3.connect(tmp_path / "held.db", isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (a)")
    other.execute("SELECT * FROM t").fetchall()
    with pytest.raises(StoreError):
        SessionStore(tmp_path / "held.db")
    other.close()
    with SessionStore(tmp_path / "held.db") as store:
        assert store.devices() == []
    assert not (tmp_path / "held.db-wal").exists()
