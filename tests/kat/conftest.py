"""Counting for the known-answer tests: every test records how many records it checked.

The counts print at the end of the run, so a file that silently shrank shows up.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

FULL_KAT = os.environ.get("PQ3_FULL_KAT") == "1"

_COUNTS: list[str] = []


@pytest.fixture
def record_count(request: pytest.FixtureRequest) -> Callable[[int, str], None]:
    """Call as record_count(n, what) once a test has checked n records."""

    def record(n: int, what: str) -> None:
        _COUNTS.append(f"{request.node.nodeid}: {n} {what}")

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _COUNTS:
        terminalreporter.section("known-answer records checked")
        for line in _COUNTS:
            terminalreporter.write_line(line)
