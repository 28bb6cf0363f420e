"""A plain new chain in one hot-path call: HotPath.seal_new_chain and open_new_chain.

Owns: both calls on both paths against the calls they replace (p256_generate,
ecdh_root_step, seal; parse, verify, ecdh_root_step, open), their None and error cases, and
Session taking them without changing a byte, a state or an error: a session with a tracer
takes the full path, so the two are compared message by message.
Not: the in-order path (test_fast_paths.py) or the ratchet rules (test_ratchet*.py).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from helpers import deterministic_pair

from pq3proto import errors, native
from pq3proto.kdf import pk_ratchet_dst, pk_ratchet_dst_prefix
from pq3proto.message import PYTHON, SendingChain
from pq3proto.policy import RekeyPolicy
from pq3proto.primitives import P256PrivateKey, TestingOnlyDeterministicRandom
from pq3proto.session import Session
from pq3proto.wire import (
    PLAIN_HEADER_PREFIX,
    PLAIN_HEADER_SIZE,
    ChainHeader,
    parse_message,
    plain_signature_tail,
)

needs_native = pytest.mark.skipif(not native.available(), reason=native.unavailable_reason())
PATHS = [
    pytest.param(PYTHON, id="python"),
    pytest.param(native.NATIVE, id="native", marks=needs_native),
]
DST = b"sender binding || receiver binding"


def _keys(seed: bytes) -> tuple[TestingOnlyDeterministicRandom, P256PrivateKey, P256PrivateKey]:
    rng = TestingOnlyDeterministicRandom(seed)
    return rng, P256PrivateKey.generate(rng), P256PrivateKey.generate(rng)


def _sealed(hot: Any, rng: TestingOnlyDeterministicRandom, signer_key: P256PrivateKey,
            peer: P256PrivateKey, pt: bytes, ad: bytes) -> tuple[Any, ...]:
    root, scalar = rng.random_bytes(32), P256PrivateKey.generate(rng).scalar()
    signer = hot.signer(signer_key)
    out = hot.seal_new_chain(
        root, scalar, peer.public, pk_ratchet_dst_prefix(DST, peer.public),
        plain_signature_tail(DST), ad, pt, signer, True,
    )
    return (root, scalar, *out)


@pytest.mark.parametrize("path", PATHS)
def test_seal_new_chain_equals_the_calls_it_replaces(path: Any) -> None:
    hot = path
    rng, signer_key, peer = _keys(b"test_new_chain_path seal")
    for pt, ad in ((b"", b""), (b"x" * 140, b"ad"), (bytes(3000), b"")):
        root, scalar, key, rk, next_ck, wire = _sealed(hot, rng, signer_key, peer, pt, ad)
        assert key.scalar() == scalar
        assert key.public == P256PrivateKey.from_scalar(scalar).public
        point = key.public
        header = ChainHeader(point)
        dst = pk_ratchet_dst(DST, peer.public, point, None, None)
        want_rk, ck = hot.ecdh_root_step(root, key, peer.public, None, dst)
        chain = SendingChain(header.encode(), header.signature_tail(DST), point)
        want = hot.seal(ck, 0, chain, ad, pt, hot.signer(signer_key), True)
        assert (rk, (wire, next_ck)) == (want_rk, want)
        assert header.encode() == PLAIN_HEADER_PREFIX + point
        assert len(header.encode()) == PLAIN_HEADER_SIZE


def test_seal_new_chain_same_bytes_on_both_paths() -> None:
    if not native.available():
        pytest.skip(native.unavailable_reason())
    got = []
    for hot in (PYTHON, native.NATIVE):
        rng, signer_key, peer = _keys(b"test_new_chain_path both")
        _, _, key, rk, ck, wire = _sealed(hot, rng, signer_key, peer, b"hello", b"ad")
        got.append((key.public, rk, ck, wire))
    assert got[0] == got[1]


@pytest.mark.parametrize("path", PATHS)
def test_open_new_chain_equals_parse_verify_step_open(path: Any) -> None:
    hot = path
    rng, signer_key, receiver = _keys(b"test_new_chain_path open")
    verifier = hot.verifier(signer_key.public)
    tail = plain_signature_tail(DST)
    for pt, ad in ((b"", b""), (b"y" * 140, b"ad"), (bytes(999), b"x")):
        root, _, _, rk, next_ck, wire = _sealed(hot, rng, signer_key, receiver, pt, ad)
        assert isinstance(wire, bytes)
        prefix = pk_ratchet_dst_prefix(DST, receiver.public)
        got = hot.open_new_chain(root, receiver, prefix, tail, wire, verifier)
        assert got == (pt, ad, rk, next_ck)
        # The calls it replaces, on the Python path.
        msg = parse_message(wire)
        PYTHON.verify(msg, tail, PYTHON.verifier(signer_key.public))
        point = msg.header.ecdh_public_key
        rk2, ck0 = PYTHON.ecdh_root_step(root, receiver, point, None, prefix + point)
        assert (rk2, PYTHON.open(ck0, False, msg, tail, None)) == (rk, (pt, next_ck))
        # Not message 0 of a plain chain laid out exactly: None, nothing opened.
        chain = SendingChain(wire[:PLAIN_HEADER_SIZE], tail, point)
        second, _ = hot.seal(next_ck, 1, chain, ad, pt, hot.signer(signer_key))
        for bad in (second, wire + b"\0", wire[:-1], wire[: PLAIN_HEADER_SIZE + 10], wire[:40]):
            assert hot.open_new_chain(root, receiver, prefix, tail, bad, verifier) is None
        # Forged: the signature fails first, as on the full path.
        at = len(wire) - 1  # the signature
        forged = wire[:at] + bytes((wire[at] ^ 1,)) + wire[at + 1 :]
        with pytest.raises(errors.AuthenticationError):
            hot.open_new_chain(root, receiver, prefix, tail, forged, verifier)
        # Signed, but the step or the open fails: None, so the full path reports it in order.
        other_root = bytes(32)
        assert hot.open_new_chain(other_root, receiver, prefix, tail, wire, verifier) is None


@pytest.mark.parametrize("path", PATHS)
def test_open_new_chain_leaves_a_signed_bad_point_to_the_full_path(path: Any) -> None:
    hot = path
    rng, signer_key, receiver = _keys(b"test_new_chain_path bad point")
    off_curve = b"\x04" + bytes(63) + b"\x01"
    tail = plain_signature_tail(DST)
    chain = SendingChain(PLAIN_HEADER_PREFIX + off_curve, tail, off_curve)
    wire, _ = PYTHON.seal(rng.random_bytes(32), 0, chain, b"", b"pt", signer_key)
    verifier = hot.verifier(signer_key.public)
    prefix = pk_ratchet_dst_prefix(DST, receiver.public)
    assert hot.open_new_chain(rng.random_bytes(32), receiver, prefix, tail, wire, verifier) is None


# ── Sessions: the one-call path against the full path (a tracer forces the full path) ──


def _pair(traced: bool, policy: RekeyPolicy) -> tuple[Session, Session]:
    a, b = deterministic_pair(b"test_new_chain_path sessions", policy, lambda: 1_000_000.0)
    if traced:
        a.tracer = b.tracer = lambda event: None
    return a, b


def _conversation(traced: bool, seed: int) -> list[Any]:
    """A lossy, reordered, forged conversation; every outcome and the final states."""
    a, b = _pair(traced, RekeyPolicy(every_messages=6))
    pick = random.Random(seed)
    out: list[Any] = []
    held: list[tuple[Session, bytes]] = []
    for i in range(120):
        sender, receiver = (a, b) if pick.random() < 0.5 else (b, a)
        for _ in range(pick.choice((1, 1, 2, 3))):
            wire = sender.encrypt(b"m%d" % i, b"ad")
            out.append(wire)
            fate = pick.random()
            if fate < 0.1:
                continue  # lost
            if fate < 0.2:
                held.append((receiver, wire))  # late
                continue
            if fate < 0.25:
                forged = wire[:-5] + bytes((wire[-5] ^ 1,)) + wire[-4:]
                before = receiver.to_bytes()
                with pytest.raises(errors.AuthenticationError):
                    receiver.decrypt(forged)
                assert receiver.to_bytes() == before
            out.append(receiver.decrypt_with_auth_data(wire))
        if held and pick.random() < 0.3:
            receiver, wire = held.pop(pick.randrange(len(held)))
            try:
                out.append(receiver.decrypt(wire))
            except errors.PQ3Error as e:
                out.append(type(e).__name__)
    out += [a.to_bytes(), b.to_bytes(), a.stats, b.stats]
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sessions_equal_with_and_without_the_one_call_path(hot_path_name: str, seed: int) -> None:
    assert _conversation(False, seed) == _conversation(True, seed)


def test_session_takes_the_full_path_for_what_the_one_call_path_refuses() -> None:
    a, b = _pair(False, RekeyPolicy.never())
    a.decrypt(b.encrypt(b"turn"))
    first = a.encrypt(b"0")
    second = a.encrypt(b"1")
    assert b.decrypt(second) == b"1"  # message 1 first: the full path skips message 0
    assert b.decrypt(first) == b"0"
    with pytest.raises(errors.ReplayError):
        b.decrypt(first)
    assert a.decrypt(b.encrypt(b"back")) == b"back"
