"""Golden persisted-state fixtures: every released state version loads, or fails as specified.

tests/fixtures/state/v<N>/ holds device and session states of version N with a manifest.
They are frozen: a later release must keep loading them (or refuse them with the error the
manifest names, as spec/06-state.md says), never silently misread them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pq3proto.constants import SESSION_STATE_VERSION
from pq3proto.errors import PQ3Error
from pq3proto.identity import Device
from pq3proto.session import Session
from pq3proto.state import decode_session_state
from pq3proto.vectors.decoding import state_fields
from pq3proto.vectors.fixtures import fixture_set, load_manifest

ROOT = Path(__file__).resolve().parent / "fixtures" / "state"
VERSIONS = sorted(ROOT.glob("v*"))


def test_a_directory_for_every_version_up_to_the_current_one() -> None:
    assert [p.name for p in VERSIONS] == [f"v{n}" for n in range(1, SESSION_STATE_VERSION + 1)]


def _expect(expect: str, fn: Any) -> Any:
    if expect == "loads":
        return fn()
    with pytest.raises(PQ3Error) as info:
        fn()
    assert type(info.value).__name__ == expect
    return None


@pytest.mark.parametrize("directory", VERSIONS, ids=lambda p: p.name)
def test_fixtures_load_as_the_manifest_says(directory: Path) -> None:
    manifest = load_manifest(directory)
    devices = {}
    for d in manifest["devices"]:
        blob = (directory / d["file"]).read_bytes()
        device = _expect(d["expect"], lambda blob=blob: Device.from_bytes(blob))
        if device is not None:
            assert device.to_bytes() == blob  # canonical: one encoding per state
            devices[d["file"]] = device
    assert manifest["sessions"]
    for s in manifest["sessions"]:
        blob = (directory / s["file"]).read_bytes()
        device = devices[s["device"]]
        session = _expect(s["expect"], lambda blob=blob, d=device: Session.from_bytes(blob, d))
        if session is None:
            continue
        assert state_fields(decode_session_state(blob)) == s["fields"], s["file"]
        # The decoder accepts only the canonical encoding; a restored session then closes its
        # sending chain (spec/06-state.md §3) and writes the current version.
        assert session.state.ratchet.sending is None


def test_the_generator_writes_a_loadable_set_for_the_next_version(tmp_path: Path) -> None:
    """write_fixtures makes the directory a new state version will freeze; it must load."""
    directory = tmp_path / f"v{SESSION_STATE_VERSION}"
    directory.mkdir()
    for name, data in fixture_set().items():
        (directory / name).write_bytes(data)
    test_fixtures_load_as_the_manifest_says(directory)
    frozen = ROOT / f"v{SESSION_STATE_VERSION}"
    assert sorted(p.name for p in directory.iterdir()) == sorted(p.name for p in frozen.iterdir())
