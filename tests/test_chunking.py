"""The chunked transport's groundwork: the GF(2^16) code, chunk layout and parsing, and the
immutable Reassembler under loss, reordering, duplicates and forged chunks."""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pq3proto import erasure
from pq3proto.chunking import (
    Chunk,
    Encoder,
    Reassembler,
    chunk_count,
    expected_sends,
    material_id,
    split,
    total_count,
)
from pq3proto.constants import (
    CHUNK_KIND_CIPHERTEXT,
    CHUNK_KIND_PUBLIC_KEY,
    LABEL_CHUNK_MATERIAL_ID,
)
from pq3proto.errors import ChunkError, InconsistentChunkError, MisuseError
from pq3proto.kem_table import KEMS

PK, CT = CHUNK_KIND_PUBLIC_KEY, CHUNK_KIND_CIPHERTEXT


# ── An independent GF(2^16) and Lagrange evaluation, bit by bit ──────────────────────────


def _gf_mul(a: int, b: int) -> int:
    """Carry-less multiply, then reduce by x^16 + x^12 + x^3 + x + 1 (spec/10-profiles.md)."""
    product = 0
    for bit in range(16):
        if b >> bit & 1:
            product ^= a << bit
    for bit in range(31, 15, -1):
        if product >> bit & 1:
            product ^= 0x1100B << (bit - 16)
    return product


def _gf_inv(a: int) -> int:
    result, base, exponent = 1, a, 0xFFFE  # a^(2^16 - 2)
    while exponent:
        if exponent & 1:
            result = _gf_mul(result, base)
        base, exponent = _gf_mul(base, base), exponent >> 1
    return result


def _lagrange(points: list[int], values: list[int], t: int) -> int:
    total = 0
    for j, (xj, yj) in enumerate(zip(points, values, strict=True)):
        term = yj
        for m, xm in enumerate(points):
            if m != j:
                term = _gf_mul(term, _gf_mul(t ^ xm, _gf_inv(xj ^ xm)))
        total ^= term
    return total


def test_field_matches_bitwise_arithmetic() -> None:
    rng = random.Random(1)
    pairs = [(0x8000, 2), (0xFFFF, 0xFFFF), (1, 0xABCD), (0, 0x1234)]
    pairs += [(rng.randrange(1 << 16), rng.randrange(1 << 16)) for _ in range(300)]
    for a, b in pairs:
        assert erasure.multiply(a, b) == _gf_mul(a, b)
    assert erasure.multiply(0x8000, 2) == 0x100B  # x^16 = x^12 + x^3 + x + 1
    with pytest.raises(MisuseError):
        erasure.multiply(1 << 16, 1)


def test_repair_chunks_are_the_polynomial_at_i() -> None:
    """Chunk i (lane by lane) is P(i) for the P through the data at 0..k-1."""
    rng = random.Random(2)
    k, chunk_size = 5, 6
    data = bytes(rng.randrange(256) for _ in range(k * chunk_size))
    indices = [0, 4, 5, 6, 19, 1000, 65534]
    chunks = erasure.encode(data, chunk_size, indices)
    lanes = [
        [
            int.from_bytes(data[r * chunk_size + 2 * lane : r * chunk_size + 2 * lane + 2], "big")
            for r in range(k)
        ]
        for lane in range(chunk_size // 2)
    ]
    for i, chunk in zip(indices, chunks, strict=True):
        expected = b"".join(_lagrange(list(range(k)), lane, i).to_bytes(2, "big") for lane in lanes)
        assert chunk == expected


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_any_k_chunks_decode(data: st.DataObject) -> None:
    k = data.draw(st.integers(1, 40))
    chunk_size = 2 * data.draw(st.integers(1, 8))
    n = data.draw(st.integers(k, 4 * k))
    payload = data.draw(st.binary(min_size=k * chunk_size, max_size=k * chunk_size))
    chosen = data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k, unique=True))
    chunks = dict(zip(chosen, erasure.encode(payload, chunk_size, chosen), strict=True))
    assert erasure.decode(chunks, k, chunk_size) == payload


def test_code_misuse() -> None:
    with pytest.raises(MisuseError):
        erasure.encode(b"abc", 2, [0])
    with pytest.raises(MisuseError):
        erasure.encode(bytes(4), 2, [65535])
    with pytest.raises(MisuseError):
        erasure.decode({0: bytes(2)}, 2, 2)
    with pytest.raises(MisuseError):
        erasure.decode({0: bytes(3)}, 1, 2)


# ── Layout and parsing ───────────────────────────────────────────────────────────────────


def test_material_id_is_the_specified_hash() -> None:
    material = b"\x01\x02\x03"
    expected = hashlib.sha256(LABEL_CHUNK_MATERIAL_ID + b"\x02" + b"\x00\x00\x00\x03" + material)
    assert material_id(CT, material) == expected.digest()[:4]
    assert material_id(PK, material) != material_id(CT, material)


def test_chunk_layout() -> None:
    chunk = Chunk(PK, b"\xaa\xbb\xcc\xdd", 3, 12, 7, b"\x10\x11\x12\x13")
    assert chunk.to_bytes() == bytes.fromhex("01 aabbccdd 0003 000c 0007 10111213")
    assert Chunk.from_bytes(chunk.to_bytes()) == chunk
    assert "10111213" not in repr(chunk)


@pytest.mark.parametrize(
    "hex_chunk",
    [
        "",
        "01 aabbccdd 0003 0003 0000 10",  # one byte of data: below the 2-byte minimum
        "01 aabbccdd 0003 0003 0000",  # no data
        "00 aabbccdd 0003 0003 0000 1011",  # kind 0
        "03 aabbccdd 0003 0003 0000 1011",  # kind 3
        "ff aabbccdd 0003 0003 0000 1011",
        "01 aabbccdd 0000 0003 0000 1011",  # k = 0
        "01 aabbccdd 0004 0003 0000 1011",  # n < k
        "01 aabbccdd 0003 0003 0003 1011",  # i = n
        "01 aabbccdd 0003 0003 ffff 1011",  # i > n
        "01 aabbccdd 0003 0003 0000 101112",  # odd data length
        "01 aabbccdd 0003 ffff 0000" + "00" * 2050,  # more than 2,048 bytes
    ],
)
def test_bad_chunks(hex_chunk: str) -> None:
    with pytest.raises(ChunkError):
        Chunk.from_bytes(bytes.fromhex(hex_chunk))


@given(st.binary(max_size=40))
@settings(max_examples=500, deadline=None)
def test_any_bytes_parse_exactly_or_fail_typed(raw: bytes) -> None:
    try:
        chunk = Chunk.from_bytes(raw)
    except ChunkError:
        return
    assert chunk.to_bytes() == raw


def test_sizes() -> None:
    assert chunk_count(1184, 32) == 37 and chunk_count(1088, 32) == 34
    assert chunk_count(1, 32) == 1 and chunk_count(33, 32) == 2
    assert total_count(1184, 32, 4) == 148
    with pytest.raises(MisuseError):
        total_count(21696, 2, 7)  # 75,936 chunks
    for bad in (0, -1, 65535 * 2048 + 1):
        with pytest.raises(MisuseError):
            chunk_count(bad, 32)
    with pytest.raises(MisuseError):
        chunk_count(10, 3)


# ── Every KEM's material, rebuilt from k random chunks ───────────────────────────────────


@pytest.mark.parametrize("info", KEMS, ids=[info.name for info in KEMS])
def test_every_kem_material_round_trips(info: object) -> None:
    rng = random.Random(str(info))
    for kind, length in ((PK, info.public_key_size), (CT, info.ciphertext_size)):  # type: ignore[attr-defined]
        material = rng.randbytes(length)
        encoder = Encoder.of(material, kind, 32, 2)
        assert encoder.n == 2 * encoder.k == 2 * chunk_count(length, 32)
        picked = rng.sample(range(encoder.n), encoder.k)
        reassembler = Reassembler.expecting(kind, length, 32)
        for chunk in encoder.chunks(picked):
            reassembler = reassembler.add(Chunk.from_bytes(chunk.to_bytes()))
        assert reassembler.complete and reassembler.result() == material


@given(st.data())
@settings(max_examples=80, deadline=None)
def test_loss_reorder_and_duplicates(data: st.DataObject) -> None:
    """Chunks in any order, some lost, some twice: whole exactly when k distinct arrived."""
    length = data.draw(st.integers(1, 2000))
    chunk_size = 2 * data.draw(st.integers(1, 48))
    expansion = data.draw(st.integers(1, 4))
    kind = data.draw(st.sampled_from([PK, CT]))
    material = os.urandom(length)
    chunks = split(material, kind, chunk_size, expansion)
    k = chunk_count(length, chunk_size)
    assert len(chunks) == expansion * k
    loss = data.draw(st.floats(0.0, 0.9))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    delivered = [c for c in chunks if rng.random() >= loss]
    delivered += rng.choices(delivered, k=len(delivered) // 3) if delivered else []
    rng.shuffle(delivered)
    reassembler = Reassembler.expecting(kind, length, chunk_size)
    distinct: set[int] = set()
    for chunk in delivered:
        before = reassembler
        snapshot = (before.count, before.received, before.material)
        reassembler = reassembler.add(chunk)
        assert (before.count, before.received, before.material) == snapshot
        distinct.add(chunk.i)
        assert reassembler.complete == (len(distinct) >= k)
        assert reassembler.count == min(len(distinct), k)
    if len(distinct) >= k:
        assert reassembler.result() == material
    else:
        with pytest.raises(MisuseError):
            reassembler.result()


def test_add_returns_a_new_value_and_keeps_the_old() -> None:
    chunks = split(os.urandom(100), PK, 32, 2)
    empty = Reassembler.expecting(PK, 100, 32)
    one = empty.add(chunks[5])
    assert empty.count == 0 and empty.material_id is None and one.count == 1
    assert one.material_id == chunks[5].material_id and one.n == 8
    assert one.add(chunks[5]) is one  # a duplicate changes nothing
    whole = one.add(chunks[0]).add(chunks[7]).add(chunks[2])
    assert whole.complete and not one.complete and one.count == 1
    assert whole.add(chunks[3]) is whole  # a later genuine chunk is checked, then ignored
    with pytest.raises(MisuseError):
        one.result()


# ── Forged and inconsistent chunks: typed errors, nothing changed ────────────────────────


def _flip(chunk: Chunk, byte: int = 0) -> Chunk:
    data = bytearray(chunk.data)
    data[byte] ^= 0x01
    return replace(chunk, data=bytes(data))


def test_forged_chunk_is_caught_when_the_material_completes() -> None:
    material = os.urandom(1184)
    chunks = split(material, PK, 32, 4)
    k = chunk_count(1184, 32)
    reassembler = Reassembler.expecting(PK, 1184, 32)
    for chunk in chunks[100 : 100 + k - 1]:
        reassembler = reassembler.add(chunk)
    forged = _flip(chunks[3])
    snapshot = reassembler
    with pytest.raises(InconsistentChunkError, match="id"):
        reassembler.add(forged)
    assert reassembler == snapshot and not reassembler.complete and reassembler.count == k - 1
    assert reassembler.add(chunks[3]).result() == material


def test_forged_chunk_after_completion() -> None:
    chunks = split(os.urandom(300), CT, 16, 3)
    reassembler = Reassembler.expecting(CT, 300, 16)
    for chunk in chunks[: chunk_count(300, 16)]:
        reassembler = reassembler.add(chunk)
    for forged in (_flip(chunks[0]), _flip(chunks[-1], 15)):
        with pytest.raises(InconsistentChunkError, match="does not lie"):
            reassembler.add(forged)
    assert reassembler.add(chunks[-1]) is reassembler


def test_same_index_different_bytes() -> None:
    chunks = split(os.urandom(200), PK, 32, 2)
    reassembler = Reassembler.expecting(PK, 200, 32).add(chunks[9])
    with pytest.raises(InconsistentChunkError, match="twice"):
        reassembler.add(_flip(chunks[9], 31))
    assert reassembler.count == 1


def test_non_zero_padding_is_refused() -> None:
    """A sender that fills the padding: the id matches the material, the padding does not."""
    material = os.urandom(40)
    padded = material + b"\x01" + bytes(23)  # k = 2 chunks of 32 bytes, padding not zero
    rows = erasure.encode(padded, 32, [0, 1, 2, 3])
    forged = [Chunk(PK, material_id(PK, material), 2, 4, i, row) for i, row in enumerate(rows)]
    reassembler = Reassembler.expecting(PK, 40, 32).add(forged[2])
    with pytest.raises(InconsistentChunkError, match="padding"):
        reassembler.add(forged[3])
    assert reassembler.count == 1


def test_chunks_that_do_not_belong() -> None:
    material = os.urandom(500)
    chunks = split(material, PK, 32, 2)
    reassembler = Reassembler.expecting(PK, 500, 32).add(chunks[0])
    other = split(os.urandom(500), PK, 32, 2)[1]
    cases: list[tuple[Chunk, type[Exception], str]] = [
        (replace(chunks[1], kind=CT), ChunkError, "ciphertext chunk"),
        (replace(chunks[1], k=chunks[1].k + 1, n=chunks[1].n + 2), ChunkError, "k ="),
        (replace(chunks[1], data=chunks[1].data + b"\x00\x00"), ChunkError, "bytes"),
        (other, ChunkError, "another material"),
        (replace(chunks[1], n=chunks[1].n + 1), InconsistentChunkError, "n ="),
    ]
    for chunk, error, message in cases:
        with pytest.raises(error, match=message):
            reassembler.add(chunk)
        assert reassembler.count == 1 and reassembler.n == chunks[0].n
    with pytest.raises(MisuseError):
        reassembler.add(chunks[1].to_bytes())  # type: ignore[arg-type]
    assert reassembler.add(chunks[1]).count == 2


def test_constructor_misuse() -> None:
    with pytest.raises(MisuseError):
        Reassembler.expecting(7, 10, 32)
    with pytest.raises(MisuseError):
        Reassembler.expecting(PK, 0, 32)
    with pytest.raises(MisuseError):
        Encoder.of(b"", PK, 32, 2)
    with pytest.raises(MisuseError):
        Encoder.of(b"abc", PK, 32, 2).chunk(2)
    with pytest.raises(MisuseError):
        Chunk(PK, b"abc", 1, 1, 0, b"\x00\x00")


# ── Expected messages until a material is whole ──────────────────────────────────────────


def _simulated_sends(k: int, n: int, loss: float, rng: random.Random) -> int:
    received: set[int] = set()
    sends = 0
    while len(received) < k:
        if rng.random() >= loss:
            received.add(sends % n)
        sends += 1
    return sends


@pytest.mark.parametrize(
    ("k", "n", "loss"), [(37, 148, 0.2), (37, 37, 0.2), (10, 10, 0.5), (5, 20, 0.05), (1, 1, 0.3)]
)
def test_expected_sends_matches_simulation(k: int, n: int, loss: float) -> None:
    rng = random.Random(f"{k} {n} {loss}")
    runs = [_simulated_sends(k, n, loss, rng) for _ in range(3000)]
    mean = sum(runs) / len(runs)
    spread = (sum((r - mean) ** 2 for r in runs) / (len(runs) - 1)) ** 0.5
    assert abs(expected_sends(k, n, loss) - mean) < 4 * spread / len(runs) ** 0.5 + 1e-9


def test_expected_sends_closed_forms() -> None:
    assert expected_sends(37, 148, 0.0) == 37
    # Without wrap-around it is the negative binomial mean k / (1 - p).
    assert expected_sends(37, 65535, 0.2) == pytest.approx(37 / 0.8, rel=1e-9)
    # One chunk sent over and over: a geometric number of tries.
    assert expected_sends(1, 1, 0.5) == pytest.approx(2.0, rel=1e-9)
    for bad in ((0, 1, 0.1), (2, 1, 0.1), (1, 1, 1.0), (1, 1, -0.1)):
        with pytest.raises(MisuseError):
            expected_sends(*bad)
