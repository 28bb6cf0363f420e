"""KEM material cut into erasure-coded chunks, and its reassembly (spec/10-profiles.md §4).

Owns: the chunk layout and its strict parsing, the material identifier, splitting a public
key or ciphertext of any size into n chunks of which any k rebuild it, `Reassembler`, an
immutable value that takes chunks one at a time, and `expected_sends`, the expected number
of messages until a material is whole under independent loss.
Not: the code itself (erasure.py), or which message carries which chunk (the chunked
transport: transport.py).

Chunk layout, big-endian: kind (1) || material id (4) || k (2) || n (2) || i (2) || bytes.
The material id is the first 4 bytes of SHA-256(label || kind || uint32(length) || material):
it ties the chunks of one material together and checks the rebuilt material.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from . import erasure
from .constants import (
    CHUNK_HEADER_SIZE,
    CHUNK_KIND_CIPHERTEXT,
    CHUNK_KIND_PUBLIC_KEY,
    CHUNK_MATERIAL_ID_SIZE,
    CHUNK_SYMBOL_SIZE,
    LABEL_CHUNK_MATERIAL_ID,
    MAX_CHUNK_COUNT,
    MAX_CHUNK_EXPANSION,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_EXPANSION,
    MIN_CHUNK_SIZE,
    REASSEMBLER_STATE_VERSION,
)
from .errors import ChunkError, InconsistentChunkError, MisuseError
from .primitives import ct_equal

KINDS: Final = {CHUNK_KIND_PUBLIC_KEY: "public key", CHUNK_KIND_CIPHERTEXT: "ciphertext"}
_MAX_MATERIAL_LENGTH: Final = MAX_CHUNK_COUNT * MAX_CHUNK_SIZE
Floats = npt.NDArray[np.float64]


def chunk_count(length: int, chunk_size: int) -> int:
    """k: how many chunks of chunk_size bytes hold `length` bytes (the last one zero-padded)."""
    _check_chunk_size(chunk_size, MisuseError)
    if not 1 <= length <= _MAX_MATERIAL_LENGTH:
        raise MisuseError(f"material length must be in 1..{_MAX_MATERIAL_LENGTH}")
    return -(-length // chunk_size)


def total_count(length: int, chunk_size: int, expansion: int) -> int:
    """n = expansion · k; MisuseError if that exceeds the 65,535 points of the code."""
    if not MIN_CHUNK_EXPANSION <= expansion <= MAX_CHUNK_EXPANSION:
        raise MisuseError(f"expansion must be in {MIN_CHUNK_EXPANSION}..{MAX_CHUNK_EXPANSION}")
    n = expansion * chunk_count(length, chunk_size)
    if n > MAX_CHUNK_COUNT:
        raise MisuseError(
            f"{length} bytes in {chunk_size}-byte chunks times {expansion} is {n} chunks, "
            f"more than {MAX_CHUNK_COUNT}"
        )
    return n


def material_id(kind: int, material: bytes) -> bytes:
    """The 4-byte identifier of one public key or ciphertext."""
    _check_kind(kind, MisuseError)
    digest = hashlib.sha256(
        LABEL_CHUNK_MATERIAL_ID + bytes((kind,)) + len(material).to_bytes(4, "big") + material
    )
    return digest.digest()[:CHUNK_MATERIAL_ID_SIZE]


@dataclass(frozen=True)
class Chunk:
    """One chunk: chunk i of the n for a material that k chunks rebuild."""

    kind: int
    material_id: bytes
    k: int
    n: int
    i: int
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_kind(self.kind, MisuseError)
        if len(self.material_id) != CHUNK_MATERIAL_ID_SIZE:
            raise MisuseError(f"a material id is {CHUNK_MATERIAL_ID_SIZE} bytes")
        _check_indices(self.k, self.n, self.i, MisuseError)
        _check_chunk_size(len(self.data), MisuseError)

    def to_bytes(self) -> bytes:
        return (
            bytes((self.kind,))
            + self.material_id
            + self.k.to_bytes(2, "big")
            + self.n.to_bytes(2, "big")
            + self.i.to_bytes(2, "big")
            + self.data
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Chunk:
        """Strict parse; ChunkError for a bad kind, bad indices or a bad chunk length."""
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise ChunkError("a chunk must be bytes")
        raw = bytes(raw)
        if len(raw) < CHUNK_HEADER_SIZE + MIN_CHUNK_SIZE:
            raise ChunkError(
                f"a chunk is at least {CHUNK_HEADER_SIZE + MIN_CHUNK_SIZE} bytes, got {len(raw)}"
            )
        kind = raw[0]
        _check_kind(kind, ChunkError)
        at = 1 + CHUNK_MATERIAL_ID_SIZE
        k, n, i = (int.from_bytes(raw[at + 2 * j : at + 2 * j + 2], "big") for j in range(3))
        _check_indices(k, n, i, ChunkError)
        data = raw[CHUNK_HEADER_SIZE:]
        _check_chunk_size(len(data), ChunkError)
        return cls(kind, raw[1:at], k, n, i, data)


def split(material: bytes, kind: int, chunk_size: int, expansion: int) -> tuple[Chunk, ...]:
    """All n chunks of `material`, chunk i at position i; any k of them rebuild it."""
    return tuple(
        Encoder.of(material, kind, chunk_size, expansion).chunks(range(0, MAX_CHUNK_COUNT))
    )


@dataclass(frozen=True)
class Encoder:
    """Makes the chunks of one material on demand (the sender's side)."""

    kind: int
    material: bytes = field(repr=False)
    chunk_size: int
    n: int
    material_id: bytes

    @classmethod
    def of(cls, material: bytes, kind: int, chunk_size: int, expansion: int) -> Encoder:
        _check_kind(kind, MisuseError)
        material = bytes(material)
        n = total_count(len(material), chunk_size, expansion)
        return cls(kind, material, chunk_size, n, material_id(kind, material))

    @property
    def k(self) -> int:
        return chunk_count(len(self.material), self.chunk_size)

    def chunk(self, i: int) -> Chunk:
        """Chunk i, 0 <= i < n."""
        if not 0 <= i < self.n:
            raise MisuseError(f"chunk index must be in 0..{self.n - 1}")
        return self.chunks([i])[0]

    def chunks(self, indices: range | list[int]) -> list[Chunk]:
        """The chunks at `indices` below n (a range is clipped to n)."""
        if isinstance(indices, range):
            indices = list(range(indices.start, min(indices.stop, self.n), indices.step))
        if any(not 0 <= i < self.n for i in indices):
            raise MisuseError(f"chunk indices must be in 0..{self.n - 1}")
        k = self.k
        padded = self.material + bytes(k * self.chunk_size - len(self.material))
        rows = erasure.encode(padded, self.chunk_size, indices)
        return [
            Chunk(self.kind, self.material_id, k, self.n, i, row)
            for i, row in zip(indices, rows, strict=True)
        ]


@dataclass(frozen=True)
class Reassembler:
    """Chunks of one expected material, collected; `add` returns a new value.

    The first accepted chunk fixes the material id and n. A failed `add` raises and leaves
    the value as it was (it is immutable): ChunkError for a chunk that does not belong here,
    InconsistentChunkError for one that contradicts the others.
    """

    kind: int
    length: int
    chunk_size: int
    material_id: bytes | None = None
    n: int | None = None
    received: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)
    material: bytes | None = field(default=None, repr=False)

    @classmethod
    def expecting(cls, kind: int, length: int, chunk_size: int) -> Reassembler:
        """An empty reassembler for a `length`-byte material of `kind`."""
        _check_kind(kind, MisuseError)
        chunk_count(length, chunk_size)
        return cls(kind, length, chunk_size)

    @property
    def k(self) -> int:
        return chunk_count(self.length, self.chunk_size)

    @property
    def complete(self) -> bool:
        return self.material is not None

    @property
    def count(self) -> int:
        """Distinct chunks held (at most k: later ones are only checked)."""
        return len(self.received)

    def result(self) -> bytes:
        """The rebuilt material; MisuseError before k distinct chunks arrived."""
        if self.material is None:
            raise MisuseError(f"{self.count} of {self.k} chunks so far; the material is not whole")
        return self.material

    def add(self, chunk: Chunk) -> Reassembler:
        """This reassembler with `chunk` taken in (or self, for a chunk already known)."""
        if not isinstance(chunk, Chunk):
            raise MisuseError("add takes a Chunk (parse bytes with Chunk.from_bytes)")
        self._check_belongs(chunk)
        if self.material is not None:
            self._check_against_material(chunk)
            return self
        for i, data in self.received:
            if i == chunk.i:
                if not ct_equal(data, chunk.data):
                    raise InconsistentChunkError(f"chunk {i} arrived twice with different bytes")
                return self
        received = tuple(sorted((*self.received, (chunk.i, chunk.data))))
        bound = replace(self, material_id=chunk.material_id, n=chunk.n, received=received)
        if len(received) < self.k:
            return bound
        return replace(bound, material=bound._rebuild())

    def to_bytes(self) -> bytes:
        """For session state: version || kind || u32(length) || u16(chunk_size) || u16(n, 0
        while empty) || material id (zeros while empty) || u16(count) || count × (u16(i) ||
        chunk bytes), indices ascending. The material itself is rebuilt on loading."""
        out = bytearray((REASSEMBLER_STATE_VERSION, self.kind))
        out += self.length.to_bytes(4, "big") + self.chunk_size.to_bytes(2, "big")
        out += (self.n or 0).to_bytes(2, "big")
        out += self.material_id or bytes(CHUNK_MATERIAL_ID_SIZE)
        out += len(self.received).to_bytes(2, "big")
        for i, data in self.received:
            out += i.to_bytes(2, "big") + data
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Reassembler:
        """Strict inverse of to_bytes: every chunk is taken in again through `add`, so a
        stored value passes the same checks as received chunks. Raises ChunkError."""
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise ChunkError("a stored reassembler must be bytes")
        raw = bytes(raw)
        fixed = 2 + 4 + 2 + 2 + CHUNK_MATERIAL_ID_SIZE + 2
        if len(raw) < fixed or raw[0] != REASSEMBLER_STATE_VERSION:
            raise ChunkError("not a stored reassembler (length or version)")
        kind, length = raw[1], int.from_bytes(raw[2:6], "big")
        chunk_size, n = int.from_bytes(raw[6:8], "big"), int.from_bytes(raw[8:10], "big")
        stored_id = raw[10 : 10 + CHUNK_MATERIAL_ID_SIZE]
        count = int.from_bytes(raw[fixed - 2 : fixed], "big")
        try:
            value = cls.expecting(kind, length, chunk_size)
        except MisuseError as exc:
            raise ChunkError(f"stored reassembler: {exc}") from None
        if len(raw) != fixed + count * (2 + chunk_size):
            raise ChunkError("stored reassembler has the wrong length for its chunk count")
        if count == 0:
            if n != 0 or any(stored_id):
                raise ChunkError("an empty stored reassembler names no material")
            return value
        if not value.k <= n <= MAX_CHUNK_COUNT or count > value.k:
            raise ChunkError("stored reassembler has impossible counts")
        previous = -1
        for at in range(fixed, len(raw), 2 + chunk_size):
            i = int.from_bytes(raw[at : at + 2], "big")
            if i <= previous or i >= n:
                raise ChunkError("stored chunk indices must ascend and lie below n")
            previous = i
            chunk = Chunk(kind, stored_id, value.k, n, i, raw[at + 2 : at + 2 + chunk_size])
            value = value.add(chunk)
        return value

    def __repr__(self) -> str:
        state = "complete" if self.complete else f"{self.count}/{self.k} chunks"
        return f"Reassembler({KINDS[self.kind]}, {self.length} bytes, {state})"

    def _check_belongs(self, chunk: Chunk) -> None:
        if chunk.kind != self.kind:
            raise ChunkError(f"a {KINDS[chunk.kind]} chunk where a {KINDS[self.kind]} was expected")
        if chunk.k != self.k:
            raise ChunkError(f"chunk says k = {chunk.k}; this material needs k = {self.k}")
        if len(chunk.data) != self.chunk_size:
            raise ChunkError(f"chunk holds {len(chunk.data)} bytes, not {self.chunk_size}")
        if self.material_id is not None and chunk.material_id != self.material_id:
            raise ChunkError("chunk belongs to another material (its material id differs)")
        if self.n is not None and chunk.n != self.n:
            raise InconsistentChunkError(f"chunk says n = {chunk.n}, earlier chunks {self.n}")

    def _check_against_material(self, chunk: Chunk) -> None:
        assert self.material is not None and self.n is not None
        expected = Encoder(self.kind, self.material, self.chunk_size, self.n, self._id()).chunk(
            chunk.i
        )
        if not ct_equal(expected.data, chunk.data):
            raise InconsistentChunkError(f"chunk {chunk.i} does not lie on the rebuilt material")

    def _id(self) -> bytes:
        assert self.material_id is not None
        return self.material_id

    def _rebuild(self) -> bytes:
        padded = erasure.decode(dict(self.received), self.k, self.chunk_size)
        material, padding = padded[: self.length], padded[self.length :]
        if any(padding):
            raise InconsistentChunkError("rebuilt material has non-zero padding (a bad chunk)")
        if not ct_equal(material_id(self.kind, material), self._id()):
            raise InconsistentChunkError("rebuilt material does not match its id (a bad chunk)")
        return material


def _check_kind(kind: object, error: type[Exception]) -> None:
    if not isinstance(kind, int) or kind not in KINDS:
        raise error(f"unknown chunk kind {kind!r}")


def _check_indices(k: int, n: int, i: int, error: type[Exception]) -> None:
    if not 1 <= k <= n <= MAX_CHUNK_COUNT:
        raise error(f"chunk counts must satisfy 1 <= k <= n <= {MAX_CHUNK_COUNT}")
    if not 0 <= i < n:
        raise error(f"chunk index {i} is not below n = {n}")


def _check_chunk_size(size: int, error: type[Exception]) -> None:
    if not MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE or size % CHUNK_SYMBOL_SIZE:
        raise error(f"a chunk holds an even {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE} bytes, not {size}")


def expected_sends(k: int, n: int, loss: float) -> float:
    """Expected messages a sender must send, chunk j mod n on its j-th, until k distinct
    chunks arrived, when each message is lost independently with probability `loss`.

    E[T] = Σ_t P(D_t < k), where D_t, the distinct chunks received after t sends, is the
    sum of two binomials: r = t mod n chunks sent c + 1 = t // n + 1 times, the others c
    times. Without wrap-around (n large) this is k / (1 - loss).
    """
    if not 1 <= k <= n or not 0.0 <= loss < 1.0:
        raise MisuseError("need 1 <= k <= n and 0 <= loss < 1")
    if loss == 0.0:
        return float(k)
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1)))))
    total, t = float(k), k  # P(D_t < k) = 1 for t < k
    while True:
        c, r = divmod(t, n)
        below = _binomial_pmf(r, 1.0 - loss ** (c + 1), log_factorial)
        rest = _binomial_pmf(n - r, 1.0 - loss**c, log_factorial) if c else np.array([1.0])
        tail = float(np.convolve(below, rest)[:k].sum())
        if tail < 1e-13 or t > 1000 * n:
            return total
        total += tail
        t += 1


def _binomial_pmf(m: int, q: float, log_factorial: Floats) -> Floats:
    if m == 0:
        return np.array([1.0])
    if q >= 1.0:
        out = np.zeros(m + 1)
        out[m] = 1.0
        return out
    j = np.arange(m + 1)
    log_pmf = (
        log_factorial[m]
        - log_factorial[j]
        - log_factorial[m - j]
        + j * math.log(q)
        + (m - j) * math.log1p(-q)
    )
    pmf: Floats = np.exp(log_pmf)
    return pmf
