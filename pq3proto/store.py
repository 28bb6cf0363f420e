"""A durable session store on SQLite: crash-atomic encrypt, decrypt and accept (spec/06-state.md).

Owns: the on-disk layout (devices, sessions keyed by (local device, peer device), inbox,
outbox), the transactions that make each protocol step atomic with its effects, and the
contract below.
Not: the protocol (session.py), the encodings of the blobs (state.py, identity.py), or
transport. Blobs hold secrets: the database file must be protected like a private key.

Contract, for a process that may be killed (SIGKILL, power loss with synchronous=FULL) at any
instant:

* decrypt commits the new session state, the inbox row holding the plaintext and, for a
  session start, the device's replay record, in one transaction. A message whose decrypt
  committed is in the inbox until acknowledged; one that did not commit left no trace and
  can be delivered again. A message is decrypted into the inbox at most once (a second copy
  is refused by the ratchet as a replay).
* encrypt commits the new session state and an outbox row holding the wire bytes in one
  transaction, before it returns them. A message key is never used twice: a crash before
  the commit loses the wire bytes with the state that made them; after it, the bytes are
  in the outbox until acknowledged as sent.
* A session in the store is always one that a successful protocol step produced, so it
  can always continue.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from .errors import MisuseError, PQ3Error, UnsupportedVersionError
from .identity import Device, PublicIdentity
from .policy import RekeyPolicy
from .primitives import SYSTEM_RANDOM, RandomSource
from .session import Session
from .wire import parse_message

Clock = Callable[[], float]

SCHEMA_VERSION: Final = 1
_BUSY_TIMEOUT_SECONDS: Final = 30.0

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS devices (
    name  TEXT PRIMARY KEY,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    local TEXT NOT NULL REFERENCES devices(name),
    peer  TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (local, peer)
);
CREATE TABLE IF NOT EXISTS inbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    local     TEXT NOT NULL,
    peer      TEXT NOT NULL,
    plaintext BLOB NOT NULL,
    auth_data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    local TEXT NOT NULL,
    peer  TEXT NOT NULL,
    wire  BLOB NOT NULL
);
"""


def _saved_by_the_step(_: Device) -> None:
    """accept's save_device: the step writes the device in the same transaction."""


class StoreError(PQ3Error):
    """The database cannot be opened or used (corrupt file, foreign schema, I/O failure)."""


@dataclass(frozen=True)
class Incoming:
    """A decrypted message waiting in the inbox until the caller acknowledges it."""

    id: int
    peer: str
    plaintext: bytes = field(repr=False)
    auth_data: bytes = field(repr=False)


@dataclass(frozen=True)
class Outgoing:
    """Wire bytes waiting in the outbox until the caller acknowledges them as sent."""

    id: int
    peer: str
    wire: bytes = field(repr=False)


class SessionStore:
    """Sessions and devices in one SQLite file (WAL, synchronous=FULL); one step, one commit.

    Devices are named by str(PublicIdentity) ("uri#device_id"); a session by (local, peer).
    Safe to share between processes (every step takes the write lock first); one instance
    must not be shared between threads.
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
        try:
            self._db = sqlite3.connect(
                os.fspath(path), isolation_level=None, timeout=_BUSY_TIMEOUT_SECONDS
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._transaction() as db:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA_VERSION):
                    raise UnsupportedVersionError(
                        f"session store schema {version} is not supported"
                    )
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as e:
            raise StoreError(f"cannot open session store: {type(e).__name__}: {e}") from None

    @classmethod
    def open_deterministic_for_tests(
        cls, path: str | os.PathLike[str], rng: RandomSource, *, clock: Clock | None = None
    ) -> SessionStore:
        """A store whose sessions draw every random value from `rng`: for tests only."""
        return cls(path, clock=clock, rng=rng)

    def close(self) -> None:
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
    ) -> str:
        """Start and store a session to a peer; returns the peer's name.

        An existing session with that peer is MisuseError unless `replace` is set.
        """
        with self._guard(), self._transaction() as db:
            device = self._load_device(db, local)
            session = self._initiate(device, peer_identity, bundle, policy)
            peer = str(session.peer)
            if self._session_blob(db, local, peer) is not None and not replace:
                raise MisuseError(f"a session {local} -> {peer} already exists")
            self._put_session(db, local, peer, session.to_bytes())
        return peer

    def has_session(self, local: str, peer: str) -> bool:
        with self._guard():
            return self._session_blob(self._db, local, peer) is not None

    def session_state(self, local: str, peer: str) -> bytes:
        """The stored session blob (secret)."""
        with self._guard():
            blob = self._session_blob(self._db, local, peer)
        if blob is None:
            raise MisuseError(f"no session {local} -> {peer}")
        return blob

    def session(self, local: str, peer: str) -> Session:
        """A detached copy of the stored session, for inspection: steps on it are not saved."""
        with self._guard():
            device = self._load_device(self._db, local)
            blob = self._session_blob(self._db, local, peer)
        if blob is None:
            raise MisuseError(f"no session {local} -> {peer}")
        return Session.from_bytes(blob, device, clock=self._clock)

    # ── Messages ──

    def encrypt(self, local: str, peer: str, plaintext: bytes, auth_data: bytes = b"") -> bytes:
        """Seal one message; the new state and the outbox row commit before the bytes return."""
        with self._guard(), self._transaction() as db:
            device = self._load_device(db, local)
            blob = self._session_blob(db, local, peer)
            if blob is None:
                raise MisuseError(f"no session {local} -> {peer}")
            session = self._restore(blob, device)
            wire = session.encrypt(plaintext, auth_data)
            self._put_session(db, local, peer, session.to_bytes())
            db.execute(
                "INSERT INTO outbox (local, peer, wire) VALUES (?, ?, ?)", (local, peer, wire)
            )
        return wire

    def decrypt(
        self,
        local: str,
        peer: str | bytes,
        wire: bytes,
        *,
        policy: RekeyPolicy | None = None,
    ) -> Incoming:
        """Open one message from `peer` and commit state and plaintext together.

        `peer` is the peer's name, or its encoded public identity (needed to accept a session
        start; a start replaces an older session with that peer). `policy` applies to a
        session accepted here. On any error nothing is written.
        """
        with self._guard(), self._transaction() as db:
            identity = PublicIdentity.decode(peer) if isinstance(peer, bytes) else None
            name = str(identity) if identity is not None else str(peer)
            device = self._load_device(db, local)
            blob = self._session_blob(db, local, name)
            session = self._restore(blob, device) if blob is not None else None
            if session is None or self._starts_new_session(session, wire):
                if identity is None:
                    raise MisuseError(
                        f"no session {local} -> {name} for this message: pass the peer's "
                        "public identity bytes to accept a session start"
                    )
                assert isinstance(peer, bytes)
                session, plaintext = self._accept(device, peer, wire, policy)
                auth_data = parse_message(wire).auth_data
                db.execute(
                    "UPDATE devices SET state = ? WHERE name = ?", (device.to_bytes(), local)
                )
            else:
                plaintext, auth_data = session.decrypt_with_auth_data(wire)
            self._put_session(db, local, name, session.to_bytes())
            cur = db.execute(
                "INSERT INTO inbox (local, peer, plaintext, auth_data) VALUES (?, ?, ?, ?)",
                (local, name, plaintext, auth_data),
            )
            row_id = cur.lastrowid
        assert row_id is not None
        return Incoming(row_id, name, plaintext, auth_data)

    def inbox(self, local: str) -> list[Incoming]:
        """Decrypted messages not yet acknowledged, oldest first."""
        with self._guard():
            rows = self._db.execute(
                "SELECT id, peer, plaintext, auth_data FROM inbox WHERE local = ? ORDER BY id",
                (local,),
            ).fetchall()
        return [Incoming(int(i), p, bytes(pt), bytes(ad)) for i, p, pt, ad in rows]

    def ack_inbox(self, ids: Iterable[int]) -> None:
        """Forget delivered plaintexts the caller has taken over."""
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
    def _session_blob(db: sqlite3.Connection, local: str, peer: str) -> bytes | None:
        row = db.execute(
            "SELECT state FROM sessions WHERE local = ? AND peer = ?", (local, peer)
        ).fetchone()
        return None if row is None else bytes(row[0])

    @staticmethod
    def _put_session(db: sqlite3.Connection, local: str, peer: str, blob: bytes) -> None:
        db.execute(
            "INSERT INTO sessions (local, peer, state) VALUES (?, ?, ?) "
            "ON CONFLICT (local, peer) DO UPDATE SET state = excluded.state",
            (local, peer, blob),
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

    @staticmethod
    def _starts_new_session(session: Session, wire: bytes) -> bool:
        """A session start whose chain the existing session does not know: the peer restarted."""
        msg = parse_message(wire)
        if msg.header.prekey_hash is None:
            return False
        return session.state.ratchet.find_chain(msg.header.ecdh_public_key) < 0
