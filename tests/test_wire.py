"""The message parser's fast path accepts and rejects exactly what the strict path does."""

from __future__ import annotations

import random

import pytest
from helpers import new_pair

from pq3proto import PQ3Error, RekeyPolicy
from pq3proto.wire import _parse_strict, parse_message


def _outcome(fn: object, data: bytes) -> object:
    try:
        return fn(data)  # type: ignore[operator]
    except PQ3Error as e:
        return (type(e), str(e))


def _samples() -> list[bytes]:
    p = new_pair(RekeyPolicy.every_turn())
    out = [p.alice.encrypt(b"start chain", auth_data=b"ad")]
    p.bob.decrypt(out[0])
    out.append(p.bob.encrypt(b"asks and answers"))
    p.alice.decrypt(out[-1])
    out.append(p.alice.encrypt(b""))
    q = new_pair(RekeyPolicy.never())
    q.alice.decrypt(q.bob.encrypt(b"x"))
    out.append(q.alice.encrypt(b"steady" * 30, auth_data=b"h" * 17))
    return out


def test_fast_and_strict_parsers_agree_on_valid_and_mutated_messages() -> None:
    rnd = random.Random(5)
    cases = 0
    for wire in _samples():
        assert parse_message(wire) == _parse_strict(wire)
        variants = [wire[:n] for n in range(0, len(wire), 7)] + [wire + b"\x00", wire + wire]
        for _ in range(300):
            b = bytearray(wire)
            for _ in range(rnd.randrange(1, 4)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            variants.append(bytes(b))
        for pos in (0, 1, 67, 71, 103, 107):  # version, flags, index, length fields
            for value in (0, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0xFF):
                if pos < len(wire):
                    b = bytearray(wire)
                    b[pos] = value
                    variants.append(bytes(b))
        for v in variants:
            assert _outcome(parse_message, v) == _outcome(_parse_strict, v)
            cases += 1
    assert cases > 1000


@pytest.mark.parametrize("data", [bytearray(b"\x01\x00"), memoryview(b"\x01"), b""])
def test_non_bytes_and_short_inputs_take_the_strict_path(data: bytes) -> None:
    assert _outcome(parse_message, data) == _outcome(_parse_strict, data)
