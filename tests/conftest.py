"""Shared fixtures: devices, deterministic randomness, and the hot-path parametrization."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from pq3proto import Device
from pq3proto.primitives import TestingOnlyDeterministicRandom


def _native_available() -> bool:
    try:
        from pq3proto import native
    except ImportError:
        return False
    return bool(native.available())


PATHS = ["python"] + (["native"] if _native_available() else [])


def pytest_report_header(config: pytest.Config) -> str:
    return f"pq3proto hot paths under test: {', '.join(PATHS)}"


def pytest_sessionstart(session: pytest.Session) -> None:
    if "native" not in PATHS:
        # Without the extension, `pq3proto` commands run in-process leave the once-only
        # notice's marker under XDG_CACHE_HOME: keep it out of the user's home.
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="pq3proto-tests-cache-")
    # CI (CI=true) must exercise the C path: a silent fallback to Python would hide a
    # broken build behind a green run.
    if os.environ.get("CI") == "true" and "native" not in PATHS:
        raise pytest.UsageError("CI=true but the native extension is not available")


_SHORT_SKIP = 80


def short_skip_reason(reason: str) -> str:
    """One short line per kind of skip: a long reason is cut before its details."""
    prefix = "Skipped: " if reason.startswith("Skipped: ") else ""
    reason = " ".join(reason.removeprefix(prefix).split())
    if len(reason) > _SHORT_SKIP:
        for sep in (": ", " ("):
            head = reason.split(sep, 1)[0]
            if len(head) <= _SHORT_SKIP:
                hint = "unavailable" in head or "not importable" in head
                reason = head + (" (`pq3proto doctor` says more)" if hint else "")
                break
        else:
            reason = reason[: _SHORT_SKIP - 3] + "..."
    return prefix + reason


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    # Skips of one kind in one file fold into one line of the -ra summary: no line number,
    # and a reason without the details that differ.
    outcome = yield
    rep = outcome.get_result()  # type: ignore[attr-defined]
    if rep.skipped and not hasattr(rep, "wasxfail") and isinstance(rep.longrepr, tuple):
        path, _, reason = rep.longrepr
        rep.longrepr = (path, None, short_skip_reason(str(reason)))


@pytest.fixture(params=PATHS)
def hot_path_name(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test once per available hot path (python, native)."""
    monkeypatch.setenv("PQ3PROTO_NATIVE", "1" if request.param == "native" else "0")
    yield str(request.param)


@pytest.fixture(scope="session")
def bob_device() -> Device:
    return Device.generate("mailto:bob@example.org", device_id=1)


@pytest.fixture
def rng() -> TestingOnlyDeterministicRandom:
    return TestingOnlyDeterministicRandom(b"pq3proto tests")
