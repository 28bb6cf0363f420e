"""The vector generator: writes spec/vectors/ byte for byte reproducibly (spec/test-vectors.md).

Owns: the content of every vector file (which cases exist, their flags and comments), the
notes that explain each flag, and writing the set with its schemas.
Not: the conversation mechanics (conversation.py), checking (verify.py), or any protocol
computation: every output comes from the protocol modules, seeded by SHAKE-256 streams.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import conversation
from . import schemas as sc
from .common import (
    BUNDLE,
    CHAIN_STEP,
    CONVERSATION,
    CONVERSATION_NEGATIVE,
    DEVICE_STATE,
    IDENTITY,
    MESSAGE_KEY,
    PINNED_CHOICE,
    PROFILE_TRANSPORT,
    PROFILE_TRANSPORT_NEGATIVE,
    ROOT_KEY,
    SCHEMAS_DIR,
    SESSION_STATE,
    SIGNATURE,
    WIRE,
    Json,
    render,
)
from .conversations import conversation_file
from .decoding import bundle_file, device_state_file, identity_file, session_state_file
from .layers import chain_step_file, message_key_file, root_key_file
from .messages import signature_file, wire_file
from .negatives import negative_file
from .notes import NOTES
from .pinned import pinned_choice_file
from .transport_negatives import transport_negative_file
from .transports import transport_file

# ── The whole set ───────────────────────────────────────────────────────────────────────

BUILDERS: dict[str, Callable[[], Json]] = {
    ROOT_KEY: root_key_file,
    CHAIN_STEP: chain_step_file,
    MESSAGE_KEY: message_key_file,
    SIGNATURE: signature_file,
    WIRE: wire_file,
    CONVERSATION: conversation_file,
    CONVERSATION_NEGATIVE: negative_file,
    PINNED_CHOICE: pinned_choice_file,
    IDENTITY: identity_file,
    BUNDLE: bundle_file,
    SESSION_STATE: session_state_file,
    DEVICE_STATE: device_state_file,
    PROFILE_TRANSPORT: transport_file,
    PROFILE_TRANSPORT_NEGATIVE: transport_negative_file,
}


CONVERSATION_FILES = (
    CONVERSATION,
    CONVERSATION_NEGATIVE,
    PINNED_CHOICE,
    PROFILE_TRANSPORT,
    PROFILE_TRANSPORT_NEGATIVE,
)


def seed_names() -> dict[str, list[str]]:
    """The seed name of every conversation test, by file stem, in tcId order."""
    out: dict[str, list[str]] = {}
    for stem in CONVERSATION_FILES:
        conversation.SEED_LOG = []
        try:
            BUILDERS[stem]()
            out[stem] = conversation.SEED_LOG
        finally:
            conversation.SEED_LOG = None
    return out


def seed_table() -> str:
    """The Markdown table of conversation seed names in spec/test-vectors.md, Seeds."""
    lines = ["| File | tcId | `name` |", "|---|---|---|"]
    for stem, names in seed_names().items():
        for tc, name in enumerate(names, 1):
            lines.append(f"| `{stem}.json` | {tc} | `{name}` |")
    return "\n".join(lines) + "\n"


def generate_all() -> dict[str, bytes]:
    """Every file of the set, by relative path, as the bytes to write."""
    out = {f"{stem}.json": render(build()) for stem, build in BUILDERS.items()}
    for name, schema in sc.SCHEMAS.items():
        out[f"{SCHEMAS_DIR}/{name}"] = render(schema)
    return out


def write_all(directory: Path) -> dict[str, bytes]:
    """Write the set into `directory` (created if missing); returns what was written."""
    files = generate_all()
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


__all__ = ["BUILDERS", "NOTES", "generate_all", "seed_names", "seed_table", "write_all"]
