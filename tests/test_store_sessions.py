"""SessionStore with several sessions per peer device (issue 9, defects 1b and 3).

A late or reordered session start must never destroy or silently displace a live session;
a start under another long-term key is an explicit error or decision; inspection cannot
encrypt. The sending rule under test is the one in pq3proto/store.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_store import A, B, devices, open_pair

from pq3proto import AuthenticationError, Device, MisuseError, ReplayError, Session
from pq3proto.constants import MAX_PREVIOUS_SESSIONS
from pq3proto.primitives import TestingOnlyDeterministicRandom
from pq3proto.store import IdentityChangedError, SessionInfo, SessionStore
from pq3proto.wire import parse_message


def rows(path: Path) -> list[tuple[int, bytes]]:
    """Every stored session row (id, blob), read beside the store."""
    db = sqlite3.connect(path)
    try:
        return [(int(i), bytes(s)) for i, s in db.execute("SELECT rowid, state FROM sessions")]
    finally:
        db.close()


def exchange(sa: SessionStore, sb: SessionStore, turns: int, tag: str) -> None:
    """Both directions, `turns` times; every message must open to what was sent."""
    for i in range(turns):
        pt = f"{tag} a{i}".encode()
        assert sb.decrypt(B, A, sa.encrypt(A, B, pt)).plaintext == pt
        pt = f"{tag} b{i}".encode()
        assert sa.decrypt(A, B, sb.encrypt(B, A, pt)).plaintext == pt


def sender(store: SessionStore, local: str, peer: str) -> SessionInfo:
    infos = store.sessions(local, peer)
    assert [i.sending for i in infos].count(True) == 1 and infos[0].sending
    return infos[0]


# ── Defect 3: the scenario ──────────────────────────────────────────────────────


def test_withheld_start_released_late_keeps_the_newer_session(tmp_path: Path) -> None:
    """Alice's start S1 is withheld; Alice restarts with S2; S1 arrives after S2 runs."""
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    s1 = sa.encrypt(A, B, b"S1: withheld")
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle(), replace=True)
    got = sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"S2: first"))
    assert got.plaintext == b"S2: first"
    exchange(sa, sb, 3, "S2")
    s2_bob, s2_alice = sb.session(B, A), sa.session(A, B)

    late = sb.decrypt(B, alice.public_identity(), s1)
    assert late.plaintext == b"S1: withheld"
    # S2 keeps working both ways (on revision 9277439 S1 replaced it: AuthenticationError).
    exchange(sa, sb, 3, "after")
    # S1's message was delivered once, as a message of its own, older session, now retained
    # below S2; S2 still sends on both sides.
    assert s2_bob.confirmed and s2_alice.confirmed and late.session != s2_bob.id
    assert {i.id for i in sb.sessions(B, A)} == {s2_bob.id, late.session}
    assert sender(sb, B, A).id == s2_bob.id and sender(sa, A, B).id == s2_alice.id
    with pytest.raises(ReplayError):
        sb.decrypt(B, alice.public_identity(), s1)


def test_crossed_starts_both_sessions_keep_working(tmp_path: Path) -> None:
    """Alice's S1 is withheld; Bob starts S2 towards Alice; S1 is released after S2 runs."""
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    s1 = [sa.encrypt(A, B, f"S1 m{i}".encode()) for i in range(3)]
    sb.initiate(B, alice.public_identity(), alice.prekey_bundle())
    w = sb.encrypt(B, A, b"S2: from Bob")
    assert sa.decrypt(A, bob.public_identity(), w).plaintext == b"S2: from Bob"
    for i in range(3):
        pt = f"S2 a{i}".encode()
        assert sb.decrypt(B, A, sa.encrypt(A, B, pt)).plaintext == pt
        pt = f"S2 b{i}".encode()
        assert sa.decrypt(A, B, sb.encrypt(B, A, pt)).plaintext == pt
    s2_alice, s2_bob = sa.session(A, B), sb.session(B, A)

    # The first withheld message opens as a new, older session below S2.
    late = sb.decrypt(B, alice.public_identity(), s1[0])
    assert late.plaintext == b"S1 m0"
    exchange(sa, sb, 2, "S2 still")
    assert late.session != s2_bob.id and sender(sb, B, A).id == s2_bob.id
    # Alice's S1 was never answered, so Bob's start took over sending on her side.
    assert len(sa.sessions(A, B)) == 2 and not s2_alice.is_initiator
    # The rest of S1 still opens in the retained session (a peer that keeps using a session
    # moves the sender to it; messages from both sessions keep opening either way).
    for i in (2, 1):
        assert sb.decrypt(B, A, s1[i]).plaintext == f"S1 m{i}".encode()
    exchange(sa, sb, 3, "either")
    assert sender(sa, A, B).id == s2_alice.id


def test_restarted_peer_is_followed_after_a_second_message(tmp_path: Path) -> None:
    """A peer that lost its state starts again: Bob moves to the new session (documented)."""
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"one"))
    exchange(sa, sb, 2, "old")
    old = sender(sb, B, A)
    sa.close()
    fresh = SessionStore(tmp_path / "alice-reinstalled.db")
    fresh.add_device(alice)
    fresh.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sb.decrypt(B, alice.public_identity(), fresh.encrypt(A, B, b"new 1"))
    assert sender(sb, B, A).id == old.id  # one start does not displace a confirmed session
    assert sb.decrypt(B, A, fresh.encrypt(A, B, b"new 2")).plaintext == b"new 2"
    assert sender(sb, B, A).id != old.id  # the peer keeps using it: it sends now
    assert fresh.decrypt(A, B, sb.encrypt(B, A, b"reply")).plaintext == b"reply"
    assert sb.decrypt(B, A, fresh.encrypt(A, B, b"again")).plaintext == b"again"


def test_failed_attempts_change_no_session(tmp_path: Path) -> None:
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"S1"))
    exchange(sa, sb, 1, "S1")
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle(), replace=True)
    sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"S2"))
    exchange(sa, sb, 1, "S2")
    assert len(sb.sessions(B, A)) == 2
    before, dev, inbox = rows(tmp_path / "bob.db"), sb.device(B).to_bytes(), sb.inbox(B)
    w = sa.encrypt(A, B, b"next")
    bad = bytearray(w)
    bad[-1] ^= 1  # signature: every retained session is tried, none may change
    with pytest.raises(AuthenticationError):
        sb.decrypt(B, A, bytes(bad))
    assert rows(tmp_path / "bob.db") == before
    assert sb.device(B).to_bytes() == dev and sb.inbox(B) == inbox
    assert sb.decrypt(B, A, w).plaintext == b"next"


def test_previous_sessions_are_bounded(tmp_path: Path) -> None:
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    for k in range(MAX_PREVIOUS_SESSIONS + 3):
        sa.initiate(A, bob.public_identity(), bob.prekey_bundle(), replace=k > 0)
        sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, f"start {k}".encode()))
        assert len(sa.sessions(A, B)) == min(k + 1, MAX_PREVIOUS_SESSIONS + 1)
        assert len(sb.sessions(B, A)) == min(k + 1, MAX_PREVIOUS_SESSIONS + 1)
    exchange(sa, sb, 2, "newest")
    assert len(rows(tmp_path / "bob.db")) == MAX_PREVIOUS_SESSIONS + 1


# ── Defect 3: a changed long-term key ───────────────────────────────────────────────────


def impostor() -> Device:
    """Same name as Alice (tel:+15550001#1), another long-term key."""
    rng = TestingOnlyDeterministicRandom(b"impostor")
    return Device.generate_deterministic_for_tests("tel:+15550001", 1, rng)


def test_start_under_another_key_is_an_explicit_error(tmp_path: Path) -> None:
    alice, bob = devices()
    mallory = impostor()
    assert str(mallory.identity) == A and mallory.identity != alice.identity
    sa, sb = open_pair(tmp_path, alice, bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"alice"))
    exchange(sa, sb, 1, "live")
    sm = SessionStore(tmp_path / "mallory.db")
    sm.add_device(mallory)
    sm.initiate(A, bob.public_identity(), bob.prekey_bundle())
    start = sm.encrypt(A, B, b"same name, new key")
    before, dev = rows(tmp_path / "bob.db"), sb.device(B).to_bytes()
    with pytest.raises(IdentityChangedError):
        sb.decrypt(B, mallory.public_identity(), start)
    assert isinstance(IdentityChangedError("x"), AuthenticationError)
    assert rows(tmp_path / "bob.db") == before and sb.device(B).to_bytes() == dev
    with pytest.raises(IdentityChangedError):
        sb.initiate(B, mallory.public_identity(), mallory.prekey_bundle(), replace=True)
    assert rows(tmp_path / "bob.db") == before
    exchange(sa, sb, 1, "still alice")
    # Signed by the new key but presented under the pinned one: an ordinary forgery.
    with pytest.raises(AuthenticationError) as e:
        sb.decrypt(B, alice.public_identity(), sm.encrypt(A, B, b"x"))
    assert not isinstance(e.value, IdentityChangedError)

    # The explicit decision: trust the new key. The old key's sessions go with it.
    got = sb.decrypt(B, mallory.public_identity(), start, trust_new_identity=True)
    assert got.plaintext == b"same name, new key"
    assert [i.peer for i in sb.sessions(B, A)] == [mallory.identity]
    assert sm.decrypt(A, B, sb.encrypt(B, A, b"hello new key")).plaintext == b"hello new key"


# ── Defect 1(b): inspection cannot encrypt ──────────────────────────────────────────────


def test_inspection_is_a_value_that_cannot_encrypt(tmp_path: Path) -> None:
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"m0"))
    info = sa.session(A, B)
    assert not isinstance(info, Session)
    assert not hasattr(info, "encrypt") and not hasattr(info, "to_bytes")
    assert isinstance(info, SessionInfo) and info.sending and info.is_initiator
    assert info.peer == bob.identity and info.stats.sent == 1
    assert info.sending_index == 1 and sa.sessions(A, B) == [info]
    with pytest.raises(AttributeError):
        info.stats = info.stats  # type: ignore[misc]
    # The store's own steps stay one (chain, index) each.
    w1, w2 = sa.encrypt(A, B, b"m1"), sa.encrypt(A, B, b"m2")
    slots = {(parse_message(w).header.ecdh_public_key, parse_message(w).index) for w in (w1, w2)}
    assert len(slots) == 2
    assert sa.session(A, B).sending_index == 3
    with pytest.raises(MisuseError):
        sa.session(A, "nobody#0")


def test_two_store_objects_on_one_file_never_reuse_a_key(tmp_path: Path) -> None:
    """Each instance keeps live sessions between steps; a step by another one invalidates."""
    alice, bob = devices()
    sa, sb = open_pair(tmp_path, alice, bob)
    sa2 = SessionStore(tmp_path / "alice.db")
    sa.initiate(A, bob.public_identity(), bob.prekey_bundle())
    sb.decrypt(B, alice.public_identity(), sa.encrypt(A, B, b"m0"))
    exchange(sa, sb, 1, "warm")
    wires = []
    for k in range(12):
        store = (sa, sa2)[(k * 7 // 3) % 2]
        wires.append(store.encrypt(A, B, f"m{k}".encode()))
        if k % 4 == 3:
            assert sa2.decrypt(A, B, sb.encrypt(B, A, b"r")).plaintext == b"r"
    slots = [(parse_message(w).header.ecdh_public_key, parse_message(w).index) for w in wires]
    assert len(set(slots)) == len(slots)
    for k, w in enumerate(wires):
        assert sb.decrypt(B, A, w).plaintext == f"m{k}".encode()


# ── Schema 1 files (one session per peer, WAL) open and continue ───────────────────────

V1_SCHEMA = """
CREATE TABLE devices (name TEXT PRIMARY KEY, state BLOB NOT NULL);
CREATE TABLE sessions (local TEXT NOT NULL REFERENCES devices(name), peer TEXT NOT NULL,
                       state BLOB NOT NULL, PRIMARY KEY (local, peer));
CREATE TABLE inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, local TEXT NOT NULL,
                    peer TEXT NOT NULL, plaintext BLOB NOT NULL, auth_data BLOB NOT NULL);
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, local TEXT NOT NULL,
                     peer TEXT NOT NULL, wire BLOB NOT NULL);
PRAGMA user_version = 1;
"""


def test_schema_1_file_is_migrated(tmp_path: Path) -> None:
    alice, bob = devices()
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle())
    b, _ = Session.accept(
        bob, alice.public_identity(), a.encrypt(b"m0"), save_device=lambda _: None
    )
    bob_now = bob
    db = sqlite3.connect(tmp_path / "bob.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO devices VALUES (?, ?)", (B, bob_now.to_bytes()))
    db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (B, A, b.to_bytes()))
    db.execute(
        "INSERT INTO inbox (local, peer, plaintext, auth_data) VALUES (?, ?, ?, ?)",
        (B, A, b"m0", b""),
    )
    db.commit()
    db.close()
    sb = SessionStore(tmp_path / "bob.db")
    assert not (tmp_path / "bob.db-wal").exists()
    [info] = sb.sessions(B, A)
    assert info.sending and info.confirmed and info.peer == alice.identity
    assert [m.plaintext for m in sb.inbox(B)] == [b"m0"]
    assert sb.decrypt(B, A, a.encrypt(b"m1")).plaintext == b"m1"
    assert a.decrypt(sb.encrypt(B, A, b"r1")) == b"r1"
    sb.close()
    sb = SessionStore(tmp_path / "bob.db")
    assert sb.decrypt(B, A, a.encrypt(b"m2")).plaintext == b"m2"


# ── Random restarts, reordering and duplicates ──────────────────────────────────────────

RANDOM_RUNS = 3


def random_run(tmp: Path, seed: int, events: int = 60) -> None:
    """Restarts from either side, sends, and deliveries in random order with duplicates.

    Every message opens exactly once, to what was sent, or is refused as too old
    (TooFarAheadError: its chain left the receiving window); a duplicate is refused;
    a refusal changes nothing; and at the end both directions work.
    """
    import random

    from pq3proto.errors import TooFarAheadError

    alice, bob = devices()
    sa, sb = open_pair(tmp, alice, bob)
    stores = {A: sa, B: sb}
    ident = {A: alice.public_identity(), B: bob.public_identity()}
    bundle = {A: alice.prekey_bundle(), B: bob.prekey_bundle()}
    rng = random.Random(seed)
    pool: list[tuple[str, bytes, bytes]] = []  # (sender, wire, plaintext)
    opened: dict[bytes, bytes] = {}
    restarts = 0
    sa.initiate(A, ident[B], bundle[B])

    def deliver(src: str, wire: bytes, pt: bytes, duplicate: bool) -> None:
        dst = B if src == A else A
        before = rows(tmp / ("bob.db" if dst == B else "alice.db"))
        try:
            got = stores[dst].decrypt(dst, ident[src], wire)
        except (ReplayError, TooFarAheadError) as e:
            assert duplicate or isinstance(e, TooFarAheadError), (seed, e)
            assert rows(tmp / ("bob.db" if dst == B else "alice.db")) == before
            return
        assert not duplicate and wire not in opened, f"seed {seed}: opened twice"
        assert got.plaintext == pt
        opened[wire] = pt

    for k in range(events):
        x = rng.random()
        if x < 0.06 and restarts < MAX_PREVIOUS_SESSIONS:
            side = rng.choice((A, B))
            other = B if side == A else A
            stores[side].initiate(side, ident[other], bundle[other], replace=True)
            restarts += 1
        elif x < 0.5:
            side = rng.choice((A, B))
            other = B if side == A else A
            if stores[side].has_session(side, other):
                pt = f"{seed}:{k}:{side}".encode()
                pool.append((side, stores[side].encrypt(side, other, pt), pt))
        elif pool:
            i = rng.randrange(len(pool)) if rng.random() < 0.5 else 0
            src, wire, pt = pool.pop(i)
            deliver(src, wire, pt, duplicate=False)
            if rng.random() < 0.1:
                deliver(src, wire, pt, duplicate=True)
    for src, wire, pt in pool:
        deliver(src, wire, pt, duplicate=False)
    for i in range(2):
        for src, dst in ((A, B), (B, A)):
            pt = f"final {i} {src}".encode()
            assert stores[dst].decrypt(dst, src, stores[src].encrypt(src, dst, pt)).plaintext == pt
    sa.close()
    sb.close()


def test_random_restarts_and_reordering(tmp_path: Path) -> None:
    for seed in range(RANDOM_RUNS):
        d = tmp_path / f"run{seed}"
        d.mkdir()
        random_run(d, seed)


@pytest.mark.slow
def test_random_restarts_and_reordering_long(tmp_path: Path) -> None:
    for seed in range(100, 160):
        d = tmp_path / f"run{seed}"
        d.mkdir()
        random_run(d, seed, events=150)
