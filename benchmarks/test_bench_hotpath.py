"""Benchmarks of the per-message path on each hot path (python, and native when built).

Owns: one symmetric chain step, parsing one message, seal and open of one message (signatures
off and on), seal_batch / open_batch of 64 and 256 messages, and one Session round trip
(encrypt + decrypt, signatures on). Every result is checked, so nothing is optimised away.
Not: the C path's own micro-benchmarks (bench_native* / test_native*, the native engineer's).
"""

from __future__ import annotations

import os

import pytest
from conftest import PATH_NAMES, get_path

from pq3proto.benchmarks_support import OneWayChain, make_pair, selected_path
from pq3proto.policy import RekeyPolicy
from pq3proto.primitives import P256PrivateKey
from pq3proto.wire import parse_message

PAYLOAD = os.urandom(140)
KEY = P256PrivateKey.generate()


def _keys(hot, signed: bool):
    if not signed:
        return None, None
    return hot.signer(KEY), hot.verifier(KEY.public)


def test_chain_step(benchmark, hot, chain: OneWayChain):
    mk, ck = benchmark(hot.chain_step, chain.send_key)
    assert len(mk) == 32 and len(ck) == 32 and mk != ck


def test_parse_message(benchmark, chain: OneWayChain):
    wire, _ = get_path("python").seal(
        chain.send_key, chain.next_index, chain.chain, b"", PAYLOAD, None
    )
    assert benchmark(parse_message, wire).ciphertext != PAYLOAD


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_seal_one(benchmark, hot, chain: OneWayChain, signed):
    signer, _ = _keys(hot, signed)
    wire, ck = benchmark(
        hot.seal, chain.send_key, chain.next_index, chain.chain, b"", PAYLOAD, signer
    )
    assert len(wire) > len(PAYLOAD) and ck != chain.send_key


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_open_one(benchmark, hot, chain: OneWayChain, signed):
    signer, verifier = _keys(hot, signed)
    wire, _ = hot.seal(chain.send_key, chain.next_index, chain.chain, b"", PAYLOAD, signer)
    msg = parse_message(wire)
    pt, ck = benchmark(hot.open, chain.receive_key, False, msg, chain.tail, verifier)
    assert pt == PAYLOAD and ck is not None


BATCHES = [
    pytest.param(64, False, id="64-unsigned"),
    pytest.param(256, False, id="256-unsigned"),
    pytest.param(64, True, id="64-signed"),
]


@pytest.mark.parametrize("size,signed", BATCHES)
def test_seal_batch(benchmark, hot, chain: OneWayChain, size, signed):
    signer, _ = _keys(hot, signed)
    pts = [PAYLOAD] * size
    benchmark.extra_info["messages_per_call"] = size
    wires, _ = benchmark(
        hot.seal_batch, chain.send_key, chain.next_index, chain.chain, b"", pts, signer
    )
    assert len(wires) == size


@pytest.mark.parametrize("size,signed", BATCHES)
def test_open_batch(benchmark, hot, chain: OneWayChain, size, signed):
    signer, verifier = _keys(hot, signed)
    pts = [PAYLOAD] * size
    wires, _ = hot.seal_batch(chain.send_key, chain.next_index, chain.chain, b"", pts, signer)
    msgs = [parse_message(w) for w in wires]
    benchmark.extra_info["messages_per_call"] = size
    out, _ = benchmark(hot.open_batch, chain.receive_key, msgs, chain.tail, verifier)
    assert out == pts


@pytest.mark.parametrize("path", PATH_NAMES)
def test_session_round_trip(benchmark, path):
    """Session.encrypt + Session.decrypt of one message, same direction, signatures on."""
    get_path(path)  # skips when native is not built
    with selected_path(path):
        alice, bob = make_pair(RekeyPolicy.never())

        def round_trip() -> bytes:
            return alice.decrypt(bob.encrypt(PAYLOAD))

        assert benchmark(round_trip) == PAYLOAD
