"""Packed batches (HotPath.seal_packed / open_packed) on both paths (spec/03-ratchet.md §4).

Owns: byte equality of the packed batch against the list batch and the Python path, each
packed record being a complete message on its own, the parsing checks of open_packed and
their error classes on both paths, and PackedBatch itself.
Not: the list batches and single messages (test_native.py).
"""

from __future__ import annotations

import pytest
from native_helpers import sending_chain

from pq3proto import errors, native, primitives
from pq3proto.message import PYTHON, PackedBatch, SendingChain
from pq3proto.primitives import P256PrivateKey
from pq3proto.wire import parse_message

needs_native = pytest.mark.skipif(not native.available(), reason=native.unavailable_reason())
NATIVE = native.NATIVE
PATHS = [pytest.param(PYTHON, id="python"), pytest.param(NATIVE, id="native", marks=needs_native)]
MALFORMED = errors.MalformedInputError
PT_SIZES = (140, 0, 1, 17, 140, 999, 140)


def _rng(label: bytes) -> primitives.TestingOnlyDeterministicRandom:
    return primitives.TestingOnlyDeterministicRandom(b"test_native_packed " + label)




def _flip(b: bytes, at: int) -> bytes:
    return b[:at] + bytes((b[at] ^ 1,)) + b[at + 1 :]


@needs_native
@pytest.mark.parametrize("rekey", [False, True])
@pytest.mark.parametrize("signed", [False, True])
def test_packed_equals_lists_and_python(rekey: bool, signed: bool) -> None:
    rng = _rng(b"equal")
    key = P256PrivateKey.generate(rng)
    chain = sending_chain(rng, rekey)
    ck = rng.random_bytes(32)
    pts = [rng.random_bytes(n) for n in PT_SIZES]
    packed = PackedBatch.pack(pts)
    n_signer = NATIVE.signer(key) if signed else None
    p_signer = key if signed else None
    wires, next_ck = NATIVE.seal_packed(ck, 100, chain, b"ad", packed, n_signer)
    p_wires, p_next = PYTHON.seal_packed(ck, 100, chain, b"ad", packed, p_signer)
    list_wires, list_next = PYTHON.seal_batch(ck, 100, chain, b"ad", pts, p_signer)
    assert next_ck == p_next == list_next
    assert len(wires) == len(pts)
    if signed:  # ECDSA nonces are random: all but the signatures agree
        assert [w[:-64] for w in wires] == [w[:-64] for w in list_wires]
        det = NATIVE.seal_packed(ck, 100, chain, b"ad", packed, n_signer, True)
        assert det == PYTHON.seal_packed(ck, 100, chain, b"ad", packed, p_signer, True)
        assert det[0].to_list() == PYTHON.seal_batch(ck, 100, chain, b"ad", pts, key, True)[0]
    else:
        assert wires == p_wires
        assert wires.to_list() == list_wires
    # Each record is a complete message: it parses and opens alone.
    n_ver = NATIVE.verifier(key.public) if signed else None
    p_ver = PYTHON.verifier(key.public) if signed else None
    step = ck
    for i, (w, pt) in enumerate(zip(wires, pts, strict=True)):
        msg = parse_message(w)
        assert msg.index == 100 + i and msg.raw[: msg.header_length] == chain.header_bytes
        got, nxt = PYTHON.open(step, False, msg, chain.signature_tail, p_ver)
        assert got == pt and nxt is not None
        step = nxt
    expect = (packed, next_ck)
    assert NATIVE.open_packed(ck, 100, chain, wires, n_ver) == expect
    assert PYTHON.open_packed(ck, 100, chain, wires, p_ver) == expect
    assert NATIVE.open_packed(ck, 100, chain, wires, n_ver)[0].to_list() == pts


@pytest.mark.parametrize("path", PATHS)
def test_empty_batch(path: native.NativeHotPath) -> None:
    rng = _rng(b"empty")
    chain = sending_chain(rng, False)
    ck = rng.random_bytes(32)
    empty = PackedBatch.pack([])
    assert path.seal_packed(ck, 5, chain, b"", empty, None) == (empty, ck)
    assert path.open_packed(ck, 5, chain, empty, None) == (empty, ck)
    assert path.seal_packed(ck, 5, chain, b"", PackedBatch.pack([b""]), None)[0].data != b""


def _batch(rekey: bool = False) -> tuple[SendingChain, bytes, list[bytes], P256PrivateKey]:
    rng = _rng(b"fail")
    key = P256PrivateKey.generate(rng)
    chain = sending_chain(rng, rekey)
    ck = rng.random_bytes(32)
    pts = [rng.random_bytes(n) for n in (140, 3, 140)]
    wires, _ = PYTHON.seal_batch(ck, 7, chain, b"ad", pts, key)
    return chain, ck, wires, key


def _failures(
    chain: SendingChain, wires: list[bytes], rekey: bool
) -> list[tuple[str, list[bytes], type | str]]:
    other = sending_chain(_rng(b"other"), rekey)  # a header of the same size, other bytes
    foreign, _ = PYTHON.seal_batch(bytes(32), 8, other, b"ad", [b"x"], None)
    h = len(chain.header_bytes)
    ad_at = h + 4 + 32
    ct_at = ad_at + 4 + 2
    return [
        ("index", [wires[0], wires[2], wires[1]], errors.MisuseError),
        ("other chain", [wires[0], foreign[0], wires[2]], errors.MisuseError),
        ("header byte", [wires[0], _flip(wires[1], 3), wires[2]], errors.MisuseError),
        ("truncated", [wires[0], wires[1][:-1], wires[2]], MALFORMED),
        ("trailing byte", [wires[0], wires[1] + b"\0", wires[2]], MALFORMED),
        ("too short", [wires[0], wires[1][: h + 50], wires[2]], MALFORMED),
        ("ad length", [wires[0], _flip(wires[1], ad_at + 3), wires[2]], MALFORMED),
        ("ad length huge", [wires[0], _flip(wires[1], ad_at), wires[2]], MALFORMED),
        ("ct length", [wires[0], _flip(wires[1], ct_at + 3), wires[2]], MALFORMED),
        ("indicator", [wires[0], _flip(wires[1], h + 4), wires[2]], errors.AuthenticationError),
        ("ciphertext", [wires[0], _flip(wires[1], ct_at + 6), wires[2]], "signed"),
        ("signature", [wires[0], _flip(wires[1], len(wires[1]) - 9), wires[2]], "signed"),
    ]


@pytest.mark.parametrize("rekey", [False, True])
@pytest.mark.parametrize("path", PATHS)
def test_open_packed_failures(path: native.NativeHotPath, rekey: bool) -> None:
    """Both paths refuse the same inputs with the same class, whole batch or nothing."""
    chain, ck, wires, key = _batch(rekey)
    verifier = path.verifier(key.public)
    for name, bad, error in _failures(chain, wires, rekey):
        packed = PackedBatch.pack(bad)
        if error == "signed":
            assert path.open_packed(ck, 7, chain, packed, None)[0].data != b""
            with pytest.raises(errors.AuthenticationError):
                path.open_packed(ck, 7, chain, packed, verifier)
            continue
        assert isinstance(error, type)
        for ver in (None, verifier):
            with pytest.raises(error):
                path.open_packed(ck, 7, chain, packed, ver)
                pytest.fail(name)
    with pytest.raises(errors.MisuseError):
        path.open_packed(ck, 8, chain, PackedBatch.pack(wires), None)  # first index
    assert path.open_packed(ck, 7, chain, PackedBatch.pack(wires), verifier)[0].data


@needs_native
def test_open_packed_reports_the_failing_message() -> None:
    chain, ck, wires, _ = _batch()
    bad = PackedBatch.pack([wires[0], wires[1], _flip(wires[2], len(chain.header_bytes) + 4)])
    with pytest.raises(errors.AuthenticationError, match="message 2 of the batch"):
        NATIVE.open_packed(ck, 7, chain, bad, None)


@needs_native
def test_bad_arguments() -> None:
    chain, ck, wires, _ = _batch()
    packed = PackedBatch.pack(wires)
    with pytest.raises(errors.MalformedInputError):
        NATIVE.open_packed(ck[:31], 7, chain, packed, None)
    with pytest.raises(errors.MalformedInputError):
        NATIVE.open_packed(ck, -1, chain, packed, None)
    short = SendingChain(chain.header_bytes[:40], chain.signature_tail, chain.ecdh_public_key)
    with pytest.raises(errors.MalformedInputError):
        NATIVE.open_packed(ck, 7, short, packed, None)
    with pytest.raises(errors.MalformedInputError):
        NATIVE.seal_packed(ck, 0x1_0000_0000, chain, b"", PackedBatch.pack([b"a"]), None)
    with pytest.raises(errors.MalformedInputError):
        NATIVE.seal_packed(ck, 0xFFFF_FFFF, chain, b"", PackedBatch.pack([b"a", b"b"]), None)


def test_packed_batch_value() -> None:
    p = PackedBatch.pack([b"ab", b"", b"cde"])
    assert p == PackedBatch(b"abcde", (2, 2, 5))
    assert len(p) == 3 and p[0] == b"ab" and p[1] == b"" and p[-1] == b"cde"
    assert list(p) == p.to_list() == [b"ab", b"", b"cde"]
    assert PackedBatch.pack([]) == PackedBatch(b"", ())
    for i in (3, -4):
        with pytest.raises(errors.MisuseError):
            p[i]
    for data, ends in ((b"abcde", (2, 1, 5)), (b"abcde", (2, 4)), (b"ab", ()), (b"", (1,))):
        with pytest.raises(errors.MalformedInputError):
            PackedBatch(data, ends)
    with pytest.raises(errors.MisuseError):
        PackedBatch(bytearray(b"ab"), (2,))  # type: ignore[arg-type]
    with pytest.raises(errors.MisuseError):
        PackedBatch(b"ab", [2])  # type: ignore[arg-type]
