"""Fixtures of the pytest-benchmark suite: real sessions, chains, and the hot paths to compare.

Owns: setup shared by benchmarks/test_bench_*.py (built once per module, never timed).
Not: the timed operations themselves, or `pq3proto bench` (pq3proto/bench/).
"""

from __future__ import annotations

import pytest

from pq3proto.benchmarks_support import OneWayChain, make_pair, native_available, one_way_chain
from pq3proto.message import PYTHON, HotPath
from pq3proto.policy import RekeyPolicy
from pq3proto.session import Session

PATH_NAMES = ["python", "native"]


def get_path(name: str) -> HotPath:
    """The HotPath object by name; skips the test when the C path is not built."""
    if name == "python":
        return PYTHON
    if not native_available():
        pytest.skip("native hot path not built")
    from pq3proto.native import NATIVE

    return NATIVE


@pytest.fixture(params=PATH_NAMES)
def hot(request: pytest.FixtureRequest) -> HotPath:
    """Each available hot path in turn."""
    return get_path(request.param)


@pytest.fixture(scope="module")
def pair() -> tuple[Session, Session]:
    """(alice, bob) after a session start and one reply; rekeys never."""
    return make_pair(RekeyPolicy.never())


@pytest.fixture(scope="module")
def chain(pair: tuple[Session, Session]) -> OneWayChain:
    """Bob's live sending chain and Alice's matching receive key."""
    alice, bob = pair
    return one_way_chain(bob, alice)
