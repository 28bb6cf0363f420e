"""Micro-benchmarks of the C hot path (spec/03-ratchet.md §4).

Owns: seal+open throughput of 140-byte messages through the single and batch APIs, unsigned
(ratchet and cipher alone) and signed, on the native and the Python path for comparison.
Not: the protocol-level benchmark (`pq3proto bench`).

Run: python -m pytest benchmarks/test_native_bench.py --benchmark-enable -q
"""

from __future__ import annotations

import pytest

from pq3proto import native
from pq3proto.message import PYTHON, HotPath, SendingChain
from pq3proto.primitives import P256PrivateKey, TestingOnlyDeterministicRandom
from pq3proto.wire import ChainHeader, ParsedMessage, parse_message

pytestmark = pytest.mark.skipif(not native.available(), reason=native.unavailable_reason())

BATCH = 1000
PAYLOAD = 140
PATHS = {"native": native.NATIVE, "python": PYTHON}


class _Setup:
    def __init__(self) -> None:
        rng = TestingOnlyDeterministicRandom(b"bench_native")
        self.key = P256PrivateKey.generate(rng)
        eph = P256PrivateKey.generate(rng)
        header = ChainHeader(eph.public)
        self.chain = SendingChain(
            header.encode(), header.signature_tail(rng.random_bytes(150)), eph.public
        )
        self.ck = rng.random_bytes(32)
        self.pt = rng.random_bytes(PAYLOAD)
        wires, _ = native.NATIVE.seal_batch(self.ck, 0, self.chain, b"", [self.pt] * BATCH, None)
        self.msgs: list[ParsedMessage] = [parse_message(w) for w in wires]


@pytest.fixture(scope="module")
def setup() -> _Setup:
    return _Setup()


def test_native_batch_seal_open_unsigned(benchmark, setup: _Setup) -> None:  # type: ignore[no-untyped-def]
    """One round = BATCH messages sealed and BATCH opened: msgs/s = BATCH / mean."""
    nat = native.NATIVE
    pts = [setup.pt] * BATCH
    tail = setup.chain.signature_tail

    def run() -> None:
        nat.seal_batch(setup.ck, 0, setup.chain, b"", pts, None)
        nat.open_batch(setup.ck, setup.msgs, tail, None)

    benchmark(run)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_native_single_seal_open_unsigned(benchmark, setup: _Setup, path: str) -> None:  # type: ignore[no-untyped-def]
    hp: HotPath = PATHS[path]
    msg = setup.msgs[0]
    tail = setup.chain.signature_tail

    def run() -> None:
        hp.seal(setup.ck, 0, setup.chain, b"", setup.pt, None)
        hp.open(setup.ck, False, msg, tail, None)

    benchmark(run)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_native_signed_seal(benchmark, setup: _Setup, path: str) -> None:  # type: ignore[no-untyped-def]
    hp: HotPath = PATHS[path]
    signer = hp.signer(setup.key)
    benchmark(hp.seal, setup.ck, 0, setup.chain, b"", setup.pt, signer)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_native_signed_open(benchmark, setup: _Setup, path: str) -> None:  # type: ignore[no-untyped-def]
    hp: HotPath = PATHS[path]
    wire, _ = PYTHON.seal(setup.ck, 0, setup.chain, b"", setup.pt, setup.key)
    msg = parse_message(wire)
    verifier = hp.verifier(setup.key.public)
    benchmark(hp.open, setup.ck, False, msg, setup.chain.signature_tail, verifier)
