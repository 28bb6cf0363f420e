"""A durable session store on SQLite: crash-atomic encrypt, decrypt and accept (spec/06-state.md).

Owns: the on-disk layout (devices, pinned peer identities, several sessions per peer device,
inbox, outbox), the transactions that make each protocol step atomic with its effects, the
rule that picks the sending session, and the contract below.
Not: the protocol (session.py), the encodings of the blobs (state.py, identity.py), or
transport. Blobs hold secrets: the database file must be protected like a private key.

Contract, for a process that may be killed (SIGKILL, power loss with synchronous=FULL) at any
instant (docs/store-and-experiments.md has the long form):

* decrypt commits the new session state, the inbox row holding the plaintext and, for a
  session start, the device's replay record, in one transaction. A message whose decrypt
  committed is in the inbox until acknowledged; one that did not commit left no trace and
  can be delivered again. A message is decrypted into the inbox at most once.
* encrypt commits the new session state and an outbox row holding the wire bytes in one
  transaction, before it returns them. A message key is never used twice.
* A session in the store is always one that a successful protocol step produced. Inspection
  (`session`, `sessions`) returns values that cannot encrypt.
* Sessions per peer device: the sending one plus up to MAX_PREVIOUS_SESSIONS previous ones.
  A message is tried in the session that knows its chain, else in each session, sending one
  first; only a success commits. The sending session is the one that most recently opened a
  message from the peer, or that this side most recently started (initiate). A session
  accepted from a start sends at once, unless the sending session is confirmed (a message
  without a session-start header opened in it): then it waits directly below it until a
  further message opens in it. So a withheld start released late, or a crossed start, never
  displaces a session both sides use, and a peer that restarted is followed from its second
  message. A peer's long-term key is pinned per name: another key is IdentityChangedError
  unless the caller passes trust_new_identity=True (which drops the old key's sessions).
* Forward secrecy at rest: rollback journal truncated at each commit, secure_delete=ON and
  temporary tables in memory, so once a step commits, superseded keys and acknowledged
  plaintexts are in none of the store's files (the filesystem and the disk below are out of
  scope: deleted blocks and SSD remapping need full-disk encryption).
"""

from __future__ import annotations

import hmac
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from .constants import MAX_PREVIOUS_SESSIONS, MAX_STORE_LIVE_SESSIONS
from .errors import IdentityChangedError, MisuseError, PQ3Error
from .identity import Device, PublicIdentity
from .policy import RekeyPolicy
from .primitives import SYSTEM_RANDOM, RandomSource
from .session import Session
from .session_state import SessionStats
from .state import decode_session_state
from .store_schema import SCHEMA_VERSION, StoreError, configure, create_or_migrate
from .wire import chain_of, parse_message

__all__ = [
    "SCHEMA_VERSION",
    "IdentityChangedError",
    "Incoming",
    "Outgoing",
    "SessionInfo",
    "SessionStore",
    "StoreError",
]

Clock = Callable[[], float]

_BUSY_TIMEOUT_SECONDS: Final = 30.0



def _saved_by_the_step(_: Device) -> None:
    """accept's save_device: the step writes the device in the same transaction."""




@dataclass(frozen=True)
class Incoming:
    """A decrypted message waiting in the inbox until the caller acknowledges it."""

    id: int
    peer: str
    plaintext: bytes = field(repr=False)
    auth_data: bytes = field(repr=False)
    session: int = 0  # the id of the stored session it opened in (SessionInfo.id)


@dataclass(frozen=True)
class Outgoing:
    """Wire bytes waiting in the outbox until the caller acknowledges them as sent."""

    id: int
    peer: str
    wire: bytes = field(repr=False)


@dataclass(frozen=True)
class SessionInfo:
    """What inspection shows of one stored session: no key material, nothing that encrypts."""

    id: int
    peer: PublicIdentity
    sending: bool  # the session encrypt uses
    confirmed: bool  # a message without a session-start header has opened in it
    is_initiator: bool
    policy: RekeyPolicy
    stats: SessionStats
    sending_index: int | None  # next index of the open sending chain, None if none is open
    receiving_chains: int
    skipped_keys: int
    rekey_requested: bool  # this side's ML-KEM rekey request is open


@dataclass(frozen=True)
class _Row:
    id: int
    rank: int
    confirmed: bool
    blob: bytes = field(repr=False)


class SessionStore:
    """Devices and their sessions in one SQLite file; one protocol step, one commit.

    Devices are named by str(PublicIdentity) ("uri#device_id"); sessions by (local, peer),
    several per peer (see the module docstring for the sending rule). Safe to share between
    processes (every step takes the write lock first); one instance must not be shared
    between threads (sqlite3 refuses it: StoreError).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        rng: RandomSource = SYSTEM_RANDOM,
    ) -> None:
        self._clock = clock
        self._rng = rng
        self._live: OrderedDict[int, tuple[bytes, Session]] = OrderedDict()
        try:
            self._db = sqlite3.connect(
                os.fspath(path), isolation_level=None, timeout=_BUSY_TIMEOUT_SECONDS
            )
        except sqlite3.Error as e:
            raise StoreError(f"cannot open session store: {type(e).__name__}: {e}") from None
        try:
            problem = configure(self._db)
            if problem is not None:
                raise StoreError(f"session store: {problem}")
            with self._transaction() as db:
                create_or_migrate(db)
        except BaseException as e:
            self._db.close()  # a refused file is not left open (or locked) behind the error
            if isinstance(e, sqlite3.Error):
                raise StoreError(f"cannot open session store: {type(e).__name__}: {e}") from None
            raise

    @classmethod
    def open_deterministic_for_tests(
        cls, path: str | os.PathLike[str], rng: RandomSource, *, clock: Clock | None = None
    ) -> SessionStore:
        """A store whose sessions draw every random value from `rng`: for tests only."""
        return cls(path, clock=clock, rng=rng)

    def close(self) -> None:
        self._live.clear()
        self._db.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; any exception rolls back and nothing is written."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def _step(self) -> Iterator[tuple[sqlite3.Connection, list[int]]]:
        """One protocol step; sessions listed in the yielded list leave the cache on failure."""
        advanced: list[int] = []
        try:
            with self._guard(), self._transaction() as db:
                yield db, advanced
        except BaseException:
            for sid in advanced:
                self._live.pop(sid, None)
            raise

    # ── Devices ──

    def add_device(self, device: Device) -> str:
        """Store a new device; returns its name. An existing name is MisuseError."""
        name = str(device.identity)
        with self._guard(), self._transaction() as db:
            if self._device_blob(db, name) is not None:
                raise MisuseError(f"device {name} is already in the store")
            db.execute("INSERT INTO devices (name, state) VALUES (?, ?)", (name, device.to_bytes()))
        return name

    def device(self, local: str) -> Device:
        """The stored device (a copy: changes to it are not saved)."""
        with self._guard():
            return self._load_device(self._db, local)

    def devices(self) -> list[str]:
        with self._guard():
            return [r[0] for r in self._db.execute("SELECT name FROM devices ORDER BY name")]

    # ── Sessions ──

    def initiate(
        self,
        local: str,
        peer_identity: bytes,
        bundle: bytes,
        *,
        policy: RekeyPolicy | None = None,
        replace: bool = False,
        trust_new_identity: bool = False,
    ) -> str:
        """Start and store a session to a peer, as its sending session; returns the peer's name.

        An existing session with that peer is MisuseError unless `replace` is set; the older
        sessions are then kept as previous ones. A name pinned to another long-term key is
        IdentityChangedError unless `trust_new_identity` (the old key's sessions are dropped).
        """
        with self._step() as (db, advanced):
            device = self._load_device(db, local)
            session = self._initiate(device, peer_identity, bundle, policy)
            peer = str(session.peer)
            self._pin(db, local, session.peer, trust_new_identity)
            if self._rows(db, local, peer) and not replace:
                raise MisuseError(f"a session {local} -> {peer} already exists")
            blob = session.to_bytes()
            sid = self._insert(db, local, peer, blob)
            self._keep(advanced, sid, blob, session)
            self._prune(db, local, peer)
        return peer

    def has_session(self, local: str, peer: str) -> bool:
        with self._guard():
            return bool(self._rows(self._db, local, peer))

    def session(self, local: str, peer: str) -> SessionInfo:
        """The sending session with `peer`, as a read-only summary (it cannot encrypt)."""
        return self.sessions(local, peer)[0]

    def sessions(self, local: str, peer: str) -> list[SessionInfo]:
        """Every retained session with `peer`, the sending one first, then by the rule's order."""
        with self._guard():
            rows = self._rows(self._db, local, peer)
        if not rows:
            raise MisuseError(f"no session {local} -> {peer}")
        return [self._info(row, i == 0) for i, row in enumerate(rows)]

    def session_state(self, local: str, peer: str) -> bytes:
        """The sending session's stored blob (secret; see session_states)."""
        return self.session_states(local, peer)[0]

    def session_states(self, local: str, peer: str) -> list[bytes]:
        """The stored blobs of every retained session, sending one first (secret).

        For backups and tests. A Session restored from one is a snapshot: spec/03 says how a
        restored session sends without reusing a key.
        """
        with self._guard():
            rows = self._rows(self._db, local, peer)
        if not rows:
            raise MisuseError(f"no session {local} -> {peer}")
        return [row.blob for row in rows]

    # ── Messages ──

    def encrypt(self, local: str, peer: str, plaintext: bytes, auth_data: bytes = b"") -> bytes:
        """Seal one message in the sending session; state and outbox row commit first."""
        with self._step() as (db, advanced):
            device = self._load_device(db, local)
            rows = self._rows(db, local, peer)
            if not rows:
                raise MisuseError(f"no session {local} -> {peer}")
            row = rows[0]
            session = self._live_session(row, device)
            advanced.append(row.id)
            wire = session.encrypt(plaintext, auth_data)
            blob = session.to_bytes()
            db.execute("UPDATE sessions SET state = ? WHERE id = ?", (blob, row.id))
            db.execute(
                "INSERT INTO outbox (local, peer, wire) VALUES (?, ?, ?)", (local, peer, wire)
            )
            self._keep(advanced, row.id, blob, session)
        return wire

    def decrypt(
        self,
        local: str,
        peer: str | bytes,
        wire: bytes,
        *,
        policy: RekeyPolicy | None = None,
        trust_new_identity: bool = False,
    ) -> Incoming:
        """Open one message from `peer` and commit state and plaintext together.

        `peer` is the peer's name, or its encoded public identity (needed to accept a session
        start; the identity is used for nothing else). `policy` applies to a session accepted
        here. A start signed under a key other than the pinned one is IdentityChangedError
        unless `trust_new_identity`. When every retained session refuses the message, the
        error is that of the session that knows its chain, else of the sending session. On
        any error nothing is written.
        """
        with self._step() as (db, advanced):
            identity = PublicIdentity.decode(peer) if isinstance(peer, bytes) else None
            name = str(identity) if identity is not None else str(peer)
            device = self._load_device(db, local)
            # Each session parses the message under its own profile; routing needs only the
            # chain's point and whether it starts a session.
            is_start, point = chain_of(wire)
            rows = self._rows(db, local, name)
            tried = [(row, self._live_session(row, device)) for row in rows]
            live = [t for t in tried if t[1].state.ratchet.find_chain(point) >= 0]
            retired = [t for t in tried if point in t[1].state.ratchet.retired]
            candidates = live or ([] if is_start else retired or tried)
            if not tried and not is_start:
                raise MisuseError(f"no session {local} -> {name} for this message")
            first_error: PQ3Error | None = None
            for row, session in candidates:
                try:
                    plaintext, auth_data = session.decrypt_with_auth_data(wire)
                except PQ3Error as e:
                    first_error = first_error or e
                    continue
                advanced.append(row.id)
                blob = session.to_bytes()
                rank = row.rank if row is rows[0] else self._next_rank(db, local, name)
                db.execute(
                    "UPDATE sessions SET state = ?, rank = ?, confirmed = ? WHERE id = ?",
                    (blob, rank, int(row.confirmed or not is_start), row.id),
                )
                self._keep(advanced, row.id, blob, session)
                sid = row.id
                break
            else:
                if first_error is not None:
                    raise first_error
                sid, plaintext, auth_data = self._accept_start(
                    db, advanced, local, name, device, peer, wire, policy, trust_new_identity
                )
            cur = db.execute(
                "INSERT INTO inbox (local, peer, plaintext, auth_data, session) "
                "VALUES (?, ?, ?, ?, ?)",
                (local, name, plaintext, auth_data, sid),
            )
            row_id = cur.lastrowid
        assert row_id is not None
        return Incoming(row_id, name, plaintext, auth_data, sid)

    def _accept_start(
        self,
        db: sqlite3.Connection,
        advanced: list[int],
        local: str,
        name: str,
        device: Device,
        peer: str | bytes,
        wire: bytes,
        policy: RekeyPolicy | None,
        trust_new_identity: bool,
    ) -> tuple[int, bytes, bytes]:
        """A start no retained session knows: a new session, placed by the sending rule."""
        if not isinstance(peer, bytes):
            raise MisuseError(
                f"no session {local} -> {name} for this message: pass the peer's "
                "public identity bytes to accept a session start"
            )
        session, plaintext = self._accept(device, peer, wire, policy)
        self._pin(db, local, session.peer, trust_new_identity)
        rows = self._rows(db, local, name)
        blob = session.to_bytes()
        sid = self._insert(db, local, name, blob)
        if rows and rows[0].confirmed:  # the confirmed sender keeps sending
            db.execute(
                "UPDATE sessions SET rank = ? WHERE id = ?",
                (self._next_rank(db, local, name), rows[0].id),
            )
        self._keep(advanced, sid, blob, session)
        db.execute("UPDATE devices SET state = ? WHERE name = ?", (device.to_bytes(), local))
        self._prune(db, local, name)
        return sid, plaintext, parse_message(wire).auth_data

    def inbox(self, local: str) -> list[Incoming]:
        """Decrypted messages not yet acknowledged, oldest first."""
        with self._guard():
            rows = self._db.execute(
                "SELECT id, peer, plaintext, auth_data, session FROM inbox WHERE local = ? "
                "ORDER BY id",
                (local,),
            ).fetchall()
        return [Incoming(int(i), p, bytes(pt), bytes(ad), int(s)) for i, p, pt, ad, s in rows]

    def ack_inbox(self, ids: Iterable[int]) -> None:
        """Forget delivered plaintexts the caller has taken over (erased from the file)."""
        with self._guard(), self._transaction() as db:
            db.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

    def outbox(self, local: str) -> list[Outgoing]:
        """Sealed messages not yet acknowledged as sent, oldest first."""
        with self._guard():
            rows = self._db.execute(
                "SELECT id, peer, wire FROM outbox WHERE local = ? ORDER BY id", (local,)
            ).fetchall()
        return [Outgoing(int(i), p, bytes(w)) for i, p, w in rows]

    def ack_outbox(self, ids: Iterable[int]) -> None:
        """Forget wire bytes the transport has taken over."""
        with self._guard(), self._transaction() as db:
            db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    # ── Internals ──

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn SQLite failures into StoreError; protocol errors pass through."""
        try:
            yield
        except sqlite3.Error as e:
            raise StoreError(f"session store: {type(e).__name__}: {e}") from None

    @staticmethod
    def _device_blob(db: sqlite3.Connection, name: str) -> bytes | None:
        row = db.execute("SELECT state FROM devices WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def _load_device(self, db: sqlite3.Connection, name: str) -> Device:
        blob = self._device_blob(db, name)
        if blob is None:
            raise MisuseError(f"no device {name} in the store")
        return Device.from_bytes(blob)

    @staticmethod
    def _rows(db: sqlite3.Connection, local: str, peer: str) -> list[_Row]:
        """The retained sessions with `peer`, sending one first."""
        return [
            _Row(int(i), int(rank), bool(confirmed), bytes(state))
            for i, rank, confirmed, state in db.execute(
                "SELECT id, rank, confirmed, state FROM sessions WHERE local = ? AND peer = ? "
                "ORDER BY rank DESC, id DESC",
                (local, peer),
            )
        ]

    @staticmethod
    def _next_rank(db: sqlite3.Connection, local: str, peer: str) -> int:
        row = db.execute(
            "SELECT COALESCE(MAX(rank), 0) FROM sessions WHERE local = ? AND peer = ?",
            (local, peer),
        ).fetchone()
        return int(row[0]) + 1

    def _insert(self, db: sqlite3.Connection, local: str, peer: str, blob: bytes) -> int:
        """A new session on top of the order, unconfirmed."""
        cur = db.execute(
            "INSERT INTO sessions (local, peer, rank, confirmed, state) VALUES (?, ?, ?, 0, ?)",
            (local, peer, self._next_rank(db, local, peer), blob),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def _prune(self, db: sqlite3.Connection, local: str, peer: str) -> None:
        """Drop the least recently used previous sessions beyond the bound."""
        for row in self._rows(db, local, peer)[MAX_PREVIOUS_SESSIONS + 1 :]:
            db.execute("DELETE FROM sessions WHERE id = ?", (row.id,))
            self._live.pop(row.id, None)

    def _pin(
        self, db: sqlite3.Connection, local: str, identity: PublicIdentity, trust_new: bool
    ) -> None:
        """Pin the peer's long-term key at first contact; another key needs `trust_new`."""
        name, encoded = str(identity), identity.encode()
        row = db.execute(
            "SELECT identity FROM peers WHERE local = ? AND peer = ?", (local, name)
        ).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO peers (local, peer, identity) VALUES (?, ?, ?)",
                (local, name, encoded),
            )
        elif bytes(row[0]) != encoded:
            if not trust_new:
                raise IdentityChangedError(
                    f"{name} is pinned to another long-term key: verify the new key, then "
                    "pass trust_new_identity=True to replace it and its sessions"
                )
            for old in self._rows(db, local, name):
                self._live.pop(old.id, None)
            db.execute("DELETE FROM sessions WHERE local = ? AND peer = ?", (local, name))
            db.execute(
                "UPDATE peers SET identity = ? WHERE local = ? AND peer = ?",
                (encoded, local, name),
            )

    def _live_session(self, row: _Row, device: Device) -> Session:
        """The decoded session for `row`: the cached one if the file still holds its blob.

        Safe across processes: a step by another connection changes the blob (its counters
        only grow), and then the session is restored from the file again.
        """
        hit = self._live.get(row.id)
        if hit is not None and hmac.compare_digest(hit[0], row.blob):
            self._live.move_to_end(row.id)
            return hit[1]
        session = self._restore(row.blob, device)
        self._cache(row.id, row.blob, session)
        return session

    def _keep(self, advanced: list[int], sid: int, blob: bytes, session: Session) -> None:
        """Cache a session the current step advanced (dropped again if the step fails)."""
        advanced.append(sid)
        self._cache(sid, blob, session)

    def _cache(self, sid: int, blob: bytes, session: Session) -> None:
        self._live[sid] = (blob, session)
        self._live.move_to_end(sid)
        while len(self._live) > MAX_STORE_LIVE_SESSIONS:
            self._live.popitem(last=False)

    @staticmethod
    def _info(row: _Row, sending: bool) -> SessionInfo:
        s = decode_session_state(row.blob)
        r = s.ratchet
        return SessionInfo(
            id=row.id,
            peer=s.peer,
            sending=sending,
            confirmed=row.confirmed,
            is_initiator=s.initiator,
            policy=s.policy,
            stats=s.stats,
            sending_index=None if r.sending is None else r.sending.next_index,
            receiving_chains=len(r.receiving),
            skipped_keys=len(r.skipped),
            rekey_requested=r.my_kem_seed is not None,
        )

    def _restore(self, blob: bytes, device: Device) -> Session:
        # Every step loads and commits under BEGIN IMMEDIATE, and encrypt commits the state
        # with its wire bytes, so the stored blob is never behind a sealed message.
        return Session._resume_latest(blob, device, self._rng, self._clock)

    def _initiate(
        self, device: Device, peer_identity: bytes, bundle: bytes, policy: RekeyPolicy | None
    ) -> Session:
        if self._rng.deterministic:
            return Session.initiate_deterministic_for_tests(
                device, peer_identity, bundle, self._rng, policy=policy, clock=self._clock
            )
        return Session.initiate(device, peer_identity, bundle, policy=policy, clock=self._clock)

    def _accept(
        self, device: Device, peer_identity: bytes, wire: bytes, policy: RekeyPolicy | None
    ) -> tuple[Session, bytes]:
        """Session.accept; the device's new replay record is written by the calling step."""
        if self._rng.deterministic:
            return Session.accept_deterministic_for_tests(
                device, peer_identity, wire, self._rng, policy=policy, clock=self._clock
            )
        return Session.accept(
            device,
            peer_identity,
            wire,
            save_device=_saved_by_the_step,
            policy=policy,
            clock=self._clock,
        )
