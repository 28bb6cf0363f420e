"""Golden persisted-state fixtures, one directory per released state version (06-state.md).

Owns: writing tests/fixtures/state/v<N>/ for the current session- and device-state version:
device states of both parties and session states at several points of one conversation,
with a manifest saying what each must decode to. Fixtures of released versions are frozen:
once written and committed they are never regenerated, only loaded.
Not: the vectors of spec/vectors/ (those follow the implementation; these stay).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..constants import DEVICE_STATE_VERSION, SESSION_STATE_VERSION
from ..policy import RekeyPolicy
from ..state import decode_session_state
from .common import SEED_PREFIX, Json, VectorError, render
from .conversation import ConversationBuilder
from .conversations import A, B, turns
from .decoding import state_fields


def fixture_set() -> dict[str, bytes]:
    """The files of the current session-state version's fixture directory, by name.

    Directories are named by the session-state version; the manifest also records the
    device-state version of the devices in it (PQ3 devices are still version 1).
    """
    c = ConversationBuilder("fixture", RekeyPolicy(3, 3_600.25), SEED_PREFIX)
    files: dict[str, bytes] = {}
    sessions: list[Json] = []

    def snap(name: str, role: str, what: str) -> None:
        blob = c.session(role).to_bytes()
        files[f"{name}.session"] = blob
        sessions.append(
            {
                "file": f"{name}.session",
                "device": f"{role}.device",
                "what": what,
                "expect": "loads",
                "fields": state_fields(decode_session_state(blob)),
            }
        )

    c.initiate()
    snap("initiator-start", A, "initiator right after initiate")
    m = [c.send(A) for _ in range(3)]
    c.deliver(B, m[2])
    snap("responder-accept", B, "responder after accepting from index 2, two skipped keys")
    c.deliver(B, m[0])
    turns(c, [2, 1, 3, 1, 1, 2, 1, 1, 1, 1, 1, 1])
    c.advance(4_000)
    turns(c, [1], first=B)
    snap("initiator-asked", A, "initiator holding the peer's rekey request, retired points")
    snap("responder-asking", B, "responder mid chain with its own rekey request open")
    m = [c.send(A), c.send(A)]
    c.deliver(B, m[1])
    snap("initiator-later", A, "initiator mid chain after answering a rekey")
    snap("responder-later", B, "responder holding a skipped key, lastPQ moved by the rekey")
    devices = []
    for role in (A, B):
        files[f"{role}.device"] = c.parties[role].device.to_bytes()
        devices.append({"file": f"{role}.device", "expect": "loads"})
    manifest = {
        "version": SESSION_STATE_VERSION,
        "deviceVersion": DEVICE_STATE_VERSION,
        "note": "Frozen: written once by pq3proto.vectors.fixtures; never regenerated.",
        "devices": devices,
        "sessions": sessions,
    }
    files["manifest.json"] = render(manifest)
    return files


def write_fixtures(root: Path) -> Path:
    """Write the current version's directory under `root`; refuses to overwrite a released one."""
    directory = root / f"v{SESSION_STATE_VERSION}"
    if (directory / "manifest.json").exists():
        raise VectorError(f"{directory} exists: fixtures of a released version are frozen")
    directory.mkdir(parents=True)
    for name, data in fixture_set().items():
        (directory / name).write_bytes(data)
    return directory


def load_manifest(directory: Path) -> Json:
    doc: Json = json.loads((directory / "manifest.json").read_bytes())
    return doc
