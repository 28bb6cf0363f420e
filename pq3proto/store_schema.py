"""The SessionStore's on-disk layout: schema, migrations, and the connection settings.

Owns: the tables (schema 2), the migration from schema 1, and the SQLite settings that make
each commit durable and erase what it supersedes (docs/store-and-experiments.md).
Not: what the rows mean or the steps that write them (store.py).
"""

from __future__ import annotations

import sqlite3
from typing import Final

from .errors import PQ3Error, UnsupportedVersionError
from .state import decode_session_state

SCHEMA_VERSION: Final = 2
_JOURNAL_MODE: Final = "truncate"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS devices (
    name  TEXT PRIMARY KEY,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS peers (
    local    TEXT NOT NULL REFERENCES devices(name),
    peer     TEXT NOT NULL,
    identity BLOB NOT NULL,
    PRIMARY KEY (local, peer)
);
CREATE TABLE IF NOT EXISTS sessions (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    local     TEXT NOT NULL,
    peer      TEXT NOT NULL,
    rank      INTEGER NOT NULL,
    confirmed INTEGER NOT NULL,
    state     BLOB NOT NULL,
    FOREIGN KEY (local, peer) REFERENCES peers(local, peer)
);
CREATE INDEX IF NOT EXISTS sessions_by_rank ON sessions (local, peer, rank);
CREATE TABLE IF NOT EXISTS inbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    local     TEXT NOT NULL,
    peer      TEXT NOT NULL,
    plaintext BLOB NOT NULL,
    auth_data BLOB NOT NULL,
    session   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outbox (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    local TEXT NOT NULL,
    peer  TEXT NOT NULL,
    wire  BLOB NOT NULL
);
"""


class StoreError(PQ3Error):
    """The database cannot be opened or used (corrupt file, foreign schema, I/O failure)."""


def configure(db: sqlite3.Connection) -> str | None:
    """Apply the durability and erasure settings; a description if one did not take effect."""
    # A WAL keeps superseded pages until a checkpoint and stale frames after it; a rollback
    # journal truncated at each commit holds old pages only while a step runs.
    mode = str(db.execute(f"PRAGMA journal_mode={_JOURNAL_MODE}").fetchone()[0]).lower()
    db.execute("PRAGMA secure_delete=ON")  # freed cells and pages are overwritten with zeros
    db.execute("PRAGMA temp_store=MEMORY")  # no temporary tables or indices spilled to files
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    if mode != _JOURNAL_MODE:
        return (
            f"journal mode is {mode!r}, not {_JOURNAL_MODE!r} (another connection may hold the "
            "file in WAL mode): superseded keys would stay on disk"
        )
    if db.execute("PRAGMA secure_delete").fetchone()[0] != 1:
        return "secure_delete did not take effect: superseded keys would stay on disk"
    return None


def create_or_migrate(db: sqlite3.Connection) -> None:
    """Create schema 2, or migrate a schema 1 file, inside the caller's transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, 1, SCHEMA_VERSION):
        raise UnsupportedVersionError(f"session store schema {version} is not supported")
    if version == 1:
        db.execute("ALTER TABLE sessions RENAME TO sessions_v1")
        db.execute("ALTER TABLE inbox ADD COLUMN session INTEGER NOT NULL DEFAULT 0")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    if version == 1:
        _migrate_v1(db)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _migrate_v1(db: sqlite3.Connection) -> None:
    """Schema 1 (one session per peer): each session becomes its peer's confirmed sender."""
    for local, peer, blob in db.execute("SELECT local, peer, state FROM sessions_v1").fetchall():
        identity = decode_session_state(bytes(blob)).peer
        db.execute(
            "INSERT INTO peers (local, peer, identity) VALUES (?, ?, ?)",
            (local, peer, identity.encode()),
        )
        db.execute(
            "INSERT INTO sessions (local, peer, rank, confirmed, state) VALUES (?, ?, 1, 1, ?)",
            (local, peer, bytes(blob)),
        )
    db.execute("DROP TABLE sessions_v1")
