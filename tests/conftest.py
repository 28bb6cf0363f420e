"""Shared fixtures: devices, deterministic randomness, and the hot-path parametrization."""

from __future__ import annotations

import os
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
    # CI (CI=true) must exercise the C path: a silent fallback to Python would hide a
    # broken build behind a green run.
    if os.environ.get("CI") == "true" and "native" not in PATHS:
        raise pytest.UsageError("CI=true but the native extension is not available")


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
