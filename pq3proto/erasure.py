"""A systematic Reed-Solomon erasure code over GF(2^16) (spec/10-profiles.md §4.2).

Owns: the field, encoding chunk i of k data chunks, and rebuilding the data from any k
distinct chunks.
Not: headers, padding or material identifiers (chunking.py).

A chunk of s bytes is s/2 big-endian 16-bit symbols, one per lane. In each lane the k data
symbols are the values at the points 0..k-1 of the unique polynomial P of degree < k through
them, and chunk i is P(i): chunks 0..k-1 are the data itself, and any k distinct points
determine P (Lagrange interpolation). Points are field elements, so n is at most 65,535.
Public data only: nothing here needs to run in constant time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from .constants import CHUNK_SYMBOL_SIZE, MAX_CHUNK_COUNT
from .errors import MisuseError

# x^16 + x^12 + x^3 + x + 1, a primitive polynomial: x generates the multiplicative group.
FIELD_POLYNOMIAL: Final = 0x1100B
_ORDER: Final = 0xFFFF  # size of the multiplicative group
_WORK_ELEMENTS: Final = 1 << 21  # bounds the temporary arrays (int64 elements)

Array = npt.NDArray[np.int64]


def _tables() -> tuple[Array, Array]:
    exp = np.zeros(2 * _ORDER, dtype=np.int64)
    log = np.zeros(1 << 16, dtype=np.int64)  # log[0] is unused; 0 keeps sums simple
    x = 1
    for power in range(_ORDER):
        exp[power] = x
        log[x] = power
        x <<= 1
        if x & 0x10000:
            x ^= FIELD_POLYNOMIAL
    if x != 1 or len(set(exp[:_ORDER].tolist())) != _ORDER:
        raise AssertionError("FIELD_POLYNOMIAL is not primitive")
    exp[_ORDER:] = exp[:_ORDER]
    return exp, log


_EXP, _LOG = _tables()


def multiply(a: int, b: int) -> int:
    """a·b in GF(2^16)."""
    if not (0 <= a <= 0xFFFF and 0 <= b <= 0xFFFF):
        raise MisuseError("field elements are 16-bit")
    if a == 0 or b == 0:
        return 0
    return int(_EXP[_LOG[a] + _LOG[b]])


def _symbols(row: bytes) -> Array:
    return np.frombuffer(row, dtype=">u2").astype(np.int64)


def _row_bytes(symbols: Array) -> bytes:
    return symbols.astype(">u2").tobytes()


def _log_weights(points: Array) -> Array:
    """log of the Lagrange denominators: Σ_{m≠j} log(x_j + x_m) for each j."""
    k = len(points)
    weights = np.empty(k, dtype=np.int64)
    block = max(1, _WORK_ELEMENTS // max(k, 1))
    for start in range(0, k, block):
        differences = points[start : start + block, None] ^ points[None, :]
        # The diagonal difference is 0, and log[0] = 0 leaves it out of the sum.
        weights[start : start + block] = _LOG[differences].sum(axis=1)
    return weights % _ORDER


@lru_cache(maxsize=64)
def _systematic_weights(k: int) -> Array:
    return _log_weights(np.arange(k, dtype=np.int64))


def _evaluate(points: Array, weights: Array, values: Array, targets: Array) -> Array:
    """P(t) for each target t, none of them among `points`; values has shape (k, lanes)."""
    k, lanes = values.shape
    zero = values == 0
    log_values = _LOG[values]
    out = np.empty((len(targets), lanes), dtype=np.int64)
    block = max(1, _WORK_ELEMENTS // max(k * lanes, 1))
    for start in range(0, len(targets), block):
        t = targets[start : start + block]
        log_differences = _LOG[t[:, None] ^ points[None, :]]
        # log ℓ_j(t) = Σ_m log(t + x_m) − log(t + x_j) − Σ_{m≠j} log(x_j + x_m)
        log_basis = (log_differences.sum(axis=1, keepdims=True) - log_differences - weights) % (
            _ORDER
        )
        products = _EXP[log_basis[:, :, None] + log_values[None, :, :]]
        products[:, zero] = 0
        out[start : start + block] = np.bitwise_xor.reduce(products, axis=1)
    return out


def _check_shape(k: int, chunk_size: int) -> None:
    if not 1 <= k <= MAX_CHUNK_COUNT:
        raise MisuseError(f"k must be in 1..{MAX_CHUNK_COUNT}")
    if chunk_size < CHUNK_SYMBOL_SIZE or chunk_size % CHUNK_SYMBOL_SIZE:
        raise MisuseError("a chunk holds a positive whole number of 16-bit symbols")


def encode(data: bytes, chunk_size: int, indices: Sequence[int]) -> list[bytes]:
    """Chunks `indices` of the code whose data chunks are `data` cut every chunk_size bytes."""
    if len(data) == 0 or len(data) % chunk_size:
        raise MisuseError("data must be a positive whole number of chunks")
    k = len(data) // chunk_size
    _check_shape(k, chunk_size)
    if any(not 0 <= i < MAX_CHUNK_COUNT for i in indices):
        raise MisuseError(f"chunk indices lie in 0..{MAX_CHUNK_COUNT - 1}")
    values = _symbols(data).reshape(k, chunk_size // CHUNK_SYMBOL_SIZE)
    repair = sorted({i for i in indices if i >= k})
    computed: dict[int, bytes] = {}
    if repair:
        rows = _evaluate(
            np.arange(k, dtype=np.int64),
            _systematic_weights(k),
            values,
            np.array(repair, dtype=np.int64),
        )
        computed = {i: _row_bytes(row) for i, row in zip(repair, rows, strict=True)}
    return [data[i * chunk_size : (i + 1) * chunk_size] if i < k else computed[i] for i in indices]


def decode(chunks: Mapping[int, bytes], k: int, chunk_size: int) -> bytes:
    """The k·chunk_size data bytes from exactly k distinct chunks {index: bytes}."""
    _check_shape(k, chunk_size)
    if len(chunks) != k:
        raise MisuseError(f"decoding needs exactly {k} chunks, got {len(chunks)}")
    if any(not 0 <= i < MAX_CHUNK_COUNT for i in chunks) or any(
        len(c) != chunk_size for c in chunks.values()
    ):
        raise MisuseError("chunk indices or sizes out of range")
    indices = sorted(chunks)
    missing = [i for i in range(k) if i not in chunks]
    rows = {i: chunks[i] for i in indices if i < k}
    if missing:
        points = np.array(indices, dtype=np.int64)
        values = np.stack([_symbols(chunks[i]) for i in indices])
        rebuilt = _evaluate(points, _log_weights(points), values, np.array(missing, dtype=np.int64))
        rows.update({i: _row_bytes(row) for i, row in zip(missing, rebuilt, strict=True)})
    return b"".join(rows[i] for i in range(k))
