"""The C hot path against the pure-Python one (spec/03-ratchet.md §4).

Owns: byte equality of native.NATIVE and message.PYTHON, cross-opening, failure mapping,
and the sanitizer run of native/test_pq3native.c on records the Python path produces.
Not: the protocol above one chain (ratchet tests).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import pytest
from native_helpers import sending_chain

from pq3proto import errors, kdf, native, paths, primitives
from pq3proto.message import PYTHON
from pq3proto.primitives import P256_ORDER, P256PrivateKey
from pq3proto.wire import ParsedMessage, parse_message, plain_signature_tail, signature_body

ROOT = Path(__file__).resolve().parents[1]
NATIVE_DIR = ROOT / "native"

needs_native = pytest.mark.skipif(not native.available(), reason=native.unavailable_reason())
NATIVE = native.NATIVE


def test_native_required_when_ci_says_so() -> None:
    """CI (CI=true) or PQ3PROTO_REQUIRE_NATIVE=1: the extension must have been built."""
    if os.environ.get("PQ3PROTO_REQUIRE_NATIVE") != "1" and os.environ.get("CI") != "true":
        pytest.skip("C path optional here (CI=true or PQ3PROTO_REQUIRE_NATIVE=1 requires it)")
    assert native.available(), native.unavailable_reason()


def _rng(label: bytes) -> primitives.TestingOnlyDeterministicRandom:
    return primitives.TestingOnlyDeterministicRandom(b"test_native " + label)




@pytest.fixture(scope="module")
def keys() -> tuple[P256PrivateKey, P256PrivateKey]:
    rng = _rng(b"keys")
    return P256PrivateKey.generate(rng), P256PrivateKey.generate(rng)


SIZES = [0, 1, 15, 16, 17, 140, 1000]


# ── Equality ──────────────────────────────────────────────────────────────────────────


@needs_native
def test_chain_step_equal() -> None:
    rng = _rng(b"step")
    for _ in range(20):
        ck = rng.random_bytes(32)
        assert NATIVE.chain_step(ck) == PYTHON.chain_step(ck)


@needs_native
@pytest.mark.parametrize("rekey", [False, True])
@pytest.mark.parametrize("size", SIZES)
def test_seal_unsigned_equal(size: int, rekey: bool) -> None:
    rng = _rng(b"seal %d" % size)
    chain = sending_chain(rng, rekey)
    ck = rng.random_bytes(32)
    pt = rng.random_bytes(size)
    for index, ad in [(0, b""), (7, b"ad"), (0xFFFF_FFFF, rng.random_bytes(300))]:
        assert NATIVE.seal(ck, index, chain, ad, pt, None) == PYTHON.seal(
            ck, index, chain, ad, pt, None
        )


@needs_native
@pytest.mark.parametrize("size", [0, 140, 5000])
def test_seal_deterministic_signed_identical(size: int, keys: tuple[P256PrivateKey, ...]) -> None:
    rng = _rng(b"det %d" % size)
    key = P256PrivateKey.from_scalar(keys[0].scalar())
    chain = sending_chain(rng, rekey=size == 140)
    ck = rng.random_bytes(32)
    pt = rng.random_bytes(size)
    signer = NATIVE.signer(key)
    got = NATIVE.seal(ck, 3, chain, b"x", pt, signer, deterministic=True)
    assert got == PYTHON.seal(ck, 3, chain, b"x", pt, key, deterministic=True)
    pts = [rng.random_bytes(n) for n in (0, 140, 33)]
    assert NATIVE.seal_batch(ck, 9, chain, b"", pts, signer, True) == PYTHON.seal_batch(
        ck, 9, chain, b"", pts, key, True
    )


@needs_native
def test_cross_open_random_signatures(keys: tuple[P256PrivateKey, ...]) -> None:
    rng = _rng(b"cross")
    key = keys[0]
    chain = sending_chain(rng)
    ck = rng.random_bytes(32)
    n_signer, n_verifier = NATIVE.signer(key), NATIVE.verifier(key.public)
    p_verifier = PYTHON.verifier(key.public)
    for size in SIZES:
        pt = rng.random_bytes(size)
        wire_n, next_n = NATIVE.seal(ck, 4, chain, b"ad", pt, n_signer)
        wire_p, next_p = PYTHON.seal(ck, 4, chain, b"ad", pt, key)
        assert next_n == next_p
        assert wire_n[:-64] == wire_p[:-64]
        for wire in (wire_n, wire_p):
            msg = parse_message(wire)
            expect = (pt, next_p)
            assert PYTHON.open(ck, False, msg, chain.signature_tail, p_verifier) == expect
            assert NATIVE.open(ck, False, msg, chain.signature_tail, n_verifier) == expect
            NATIVE.verify(msg, chain.signature_tail, n_verifier)
            mk, _ = PYTHON.chain_step(ck)
            got = NATIVE.open(mk, True, msg, chain.signature_tail, n_verifier)
            assert got == (pt, None)


@needs_native
@pytest.mark.parametrize("signed", [False, True])
def test_batches_equal(signed: bool, keys: tuple[P256PrivateKey, ...]) -> None:
    rng = _rng(b"batch")
    key = keys[1]
    chain = sending_chain(rng)
    ck = rng.random_bytes(32)
    pts = [rng.random_bytes(n) for n in (140, 0, 1, 17, 140, 999, 140)]
    signer = NATIVE.signer(key) if signed else None
    wires, next_ck = NATIVE.seal_batch(ck, 100, chain, b"a", pts, signer)
    p_wires, p_next = PYTHON.seal_batch(ck, 100, chain, b"a", pts, key if signed else None)
    assert next_ck == p_next
    assert [w[:-64] for w in wires] == [w[:-64] for w in p_wires]
    if not signed:
        assert wires == p_wires
    msgs = [parse_message(w) for w in wires]
    n_ver = NATIVE.verifier(key.public) if signed else None
    p_ver = PYTHON.verifier(key.public) if signed else None
    assert NATIVE.open_batch(ck, msgs, chain.signature_tail, n_ver) == (pts, next_ck)
    assert PYTHON.open_batch(ck, msgs, chain.signature_tail, p_ver) == (pts, next_ck)
    assert NATIVE.seal_batch(ck, 0, chain, b"", [], signer) == ([], ck)
    assert NATIVE.open_batch(ck, [], b"", n_ver) == ([], ck)


# ── Failures ──────────────────────────────────────────────────────────────────────────


def _tampered(msg: ParsedMessage) -> list[tuple[str, ParsedMessage]]:
    def flip(b: bytes, at: int) -> bytes:
        return b[:at] + bytes((b[at] ^ 1,)) + b[at + 1 :]

    s = int.from_bytes(msg.signature[32:], "big")
    high_s = msg.signature[:32] + (P256_ORDER - s).to_bytes(32, "big")
    header = dataclasses.replace(msg.header, ecdh_public_key=flip(msg.header.ecdh_public_key, 9))
    out = [
        ("index", dataclasses.replace(msg, index=msg.index + 1)),
        ("indicator", dataclasses.replace(msg, indicator=flip(msg.indicator, 0))),
        ("auth data", dataclasses.replace(msg, auth_data=flip(msg.auth_data, 1))),
        ("ciphertext", dataclasses.replace(msg, ciphertext=flip(msg.ciphertext, 70))),
        ("r", dataclasses.replace(msg, signature=flip(msg.signature, 5))),
        ("s", dataclasses.replace(msg, signature=flip(msg.signature, 60))),
        ("high s", dataclasses.replace(msg, signature=high_s)),
        ("r zero", dataclasses.replace(msg, signature=bytes(32) + msg.signature[32:])),
        (
            "r = n",
            dataclasses.replace(msg, signature=P256_ORDER.to_bytes(32, "big") + msg.signature[32:]),
        ),
        ("ecdhPK", dataclasses.replace(msg, header=header)),
        ("short signature", dataclasses.replace(msg, signature=msg.signature[:63])),
    ]
    return out


@needs_native
def test_every_tamper_is_an_authentication_error(keys: tuple[P256PrivateKey, ...]) -> None:
    rng = _rng(b"tamper")
    key = keys[0]
    chain = sending_chain(rng)
    ck = rng.random_bytes(32)
    wire, _ = PYTHON.seal(ck, 12, chain, b"auth", rng.random_bytes(140), key)
    msg = parse_message(wire)
    n_ver, p_ver = NATIVE.verifier(key.public), PYTHON.verifier(key.public)
    tail = chain.signature_tail
    for name, bad in [*_tampered(msg), ("tail", msg)]:
        t = tail + b"!" if name == "tail" else tail
        for path, ver in ((NATIVE, n_ver), (PYTHON, p_ver)):
            with pytest.raises(errors.AuthenticationError):
                path.open(ck, False, bad, t, ver)
        with pytest.raises(errors.AuthenticationError):
            NATIVE.verify(bad, t, n_ver)
        with pytest.raises(errors.AuthenticationError):
            NATIVE.open_batch(ck, [bad], t, n_ver)


@needs_native
def test_indicator_and_wrong_key(keys: tuple[P256PrivateKey, ...]) -> None:
    rng = _rng(b"indicator")
    chain = sending_chain(rng)
    ck = rng.random_bytes(32)
    wire, ck1 = PYTHON.seal(ck, 0, chain, b"", rng.random_bytes(140), None)
    msg = parse_message(wire)
    second = parse_message(PYTHON.seal(ck1, 1, chain, b"", rng.random_bytes(140), None)[0])
    wrong = rng.random_bytes(32)
    for path in (NATIVE, PYTHON):
        with pytest.raises(errors.AuthenticationError, match="indicator"):
            path.open(wrong, False, msg, b"", None)
        with pytest.raises(errors.AuthenticationError, match="indicator"):
            path.open(ck, True, msg, b"", None)  # the chain key is not the message key
    bad = dataclasses.replace(second, indicator=bytes(32))
    with pytest.raises(errors.AuthenticationError, match="message 1 of the batch"):
        NATIVE.open_batch(ck, [msg, bad], b"", None)
    with pytest.raises(errors.MisuseError):
        NATIVE.open_batch(ck, [msg, msg], b"", None)
    with pytest.raises(errors.MisuseError):
        PYTHON.open_batch(ck, [msg, msg], b"", None)


@needs_native
def test_bad_lengths_and_keys(keys: tuple[P256PrivateKey, ...]) -> None:
    rng = _rng(b"lengths")
    chain = sending_chain(rng)
    ck = rng.random_bytes(32)
    with pytest.raises(errors.MalformedInputError):
        NATIVE.chain_step(ck[:31])
    with pytest.raises(errors.MalformedInputError):
        NATIVE.seal(ck + b"x", 0, chain, b"", b"", None)
    for index in (-1, 1 << 32):
        with pytest.raises(errors.MalformedInputError):
            NATIVE.seal(ck, index, chain, b"", b"", None)
    with pytest.raises(errors.MalformedInputError):
        NATIVE.seal_batch(ck, 0xFFFF_FFFF, chain, b"", [b"a", b"b"], None)
    bad_chain = dataclasses.replace(chain, ecdh_public_key=chain.ecdh_public_key[:64])
    with pytest.raises(errors.MalformedInputError):
        NATIVE.seal(ck, 0, bad_chain, b"", b"", None)
    with pytest.raises(errors.InvalidKeyError):
        NATIVE.verifier(b"\x04" + bytes(64))
    with pytest.raises(errors.InvalidKeyError):
        NATIVE.verifier(keys[0].public[:33])
    with pytest.raises(errors.InvalidKeyError):
        PYTHON.verifier(b"\x04" + bytes(64))


@needs_native
def test_return_codes_map_in_one_place() -> None:
    lib = native._lib
    expected = {
        lib.PQ3_ERR_AUTH: errors.AuthenticationError,
        lib.PQ3_ERR_INDICATOR: errors.AuthenticationError,
        lib.PQ3_ERR_LENGTH: errors.MalformedInputError,
        lib.PQ3_ERR_KEY: errors.InvalidKeyError,
        lib.PQ3_ERR_ARGUMENT: errors.MisuseError,
        lib.PQ3_ERR_INTERNAL: errors.PQ3Error,
    }
    for rc, cls in expected.items():
        with pytest.raises(cls) as info:
            native._raise(rc, "x")
        assert type(info.value) is cls


@needs_native
def test_hot_path_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PQ3PROTO_NATIVE", "1")
    assert paths.hot_path() is NATIVE
    monkeypatch.setenv("PQ3PROTO_NATIVE", "0")
    assert paths.hot_path() is PYTHON
    monkeypatch.delenv("PQ3PROTO_NATIVE")
    assert paths.hot_path() is NATIVE


def test_unavailable_is_explained() -> None:
    assert native.available() == (native.unavailable_reason() == "")


@needs_native
def test_threads_share_nothing_unsafe(keys: tuple[P256PrivateKey, ...]) -> None:
    rng = _rng(b"threads")
    chain = sending_chain(rng)
    ck = rng.random_bytes(32)
    pts = [rng.random_bytes(140) for _ in range(20)]
    expect = PYTHON.seal_batch(ck, 0, chain, b"", pts, None)
    shared_signer = NATIVE.signer(keys[0])
    verifier = PYTHON.verifier(keys[0].public)
    problems: list[str] = []

    def work() -> None:
        own_signer = NATIVE.signer(keys[0])
        for _ in range(5):
            if NATIVE.seal_batch(ck, 0, chain, b"", pts, None) != expect:
                problems.append("unsigned batch differs")
            for s in (own_signer, shared_signer):
                wire, _ = NATIVE.seal(ck, 0, chain, b"", pts[0], s)
                m = parse_message(wire)
                body = signature_body(
                    m.ciphertext, b"", m.indicator, chain.ecdh_public_key, 0, chain.signature_tail
                )
                try:
                    verifier.verify(body, m.signature)
                except errors.PQ3Error as exc:
                    problems.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []


# ── The ECDH step's primitives: C against their Python twins ─────────────────────────


@needs_native
def test_p256_generate_is_byte_identical_in_deterministic_mode() -> None:
    a, b = _rng(b"gen"), _rng(b"gen")
    for _ in range(20):
        k_native = NATIVE.p256_generate(a)
        k_python = PYTHON.p256_generate(b)
        assert k_native.public == k_python.public
        assert k_native.scalar() == k_python.scalar()
    # The lazily built key signs and exchanges like an eagerly built one.
    peer = P256PrivateKey.generate(_rng(b"peer"))
    assert k_native.exchange(peer.public) == k_python.exchange(peer.public)
    msg = b"same key"
    assert k_native.sign(msg, deterministic=True) == k_python.sign(msg, deterministic=True)


@needs_native
def test_ecdh_and_root_step_equal_python() -> None:
    rng = _rng(b"ecdh")
    for i in range(12):
        me, peer = P256PrivateKey.generate(rng), P256PrivateKey.generate(rng)
        assert native.p256_public(me.scalar()) == me.public
        secret = me.exchange(peer.public)
        assert native.ecdh(me.scalar(), peer.public) == secret
        assert native.ecdh(peer.scalar(), me.public) == secret
        root = rng.random_bytes(32)
        kem_ss = rng.random_bytes(32) if i % 2 else None
        dst = rng.random_bytes([0, 1, 47, 48, 111, 112, 127, 128, 300, 2500, 4000, 17][i])
        expect = kdf.root_and_chain_key(root, secret, kem_ss, dst)
        assert native.root_and_chain_key(root, secret, kem_ss, dst) == expect
        assert native.ecdh_root_step(root, me.scalar(), peer.public, kem_ss, dst) == expect
        assert NATIVE.ecdh_root_step(root, me, peer.public, kem_ss, dst) == expect
        assert PYTHON.ecdh_root_step(root, me, peer.public, kem_ss, dst) == expect


def _bad_points() -> list[bytes]:
    good = P256PrivateKey.generate(_rng(b"pt")).public
    p = (2**256 - 2**224 + 2**192 + 2**96 - 1).to_bytes(32, "big")
    off_curve = good[:-1] + bytes([good[-1] ^ 1])
    x_too_big = b"\x04" + p + good[33:]
    return [b"", good[:-1], b"\x02" + good[1:33], b"\x00" * 65, off_curve, x_too_big,
            good + b"\x00"]


@needs_native
def test_bad_points_fail_alike_on_both_paths() -> None:
    me = P256PrivateKey.generate(_rng(b"me"))
    root, dst = bytes(32), b"d"
    for point in _bad_points():
        with pytest.raises(errors.InvalidKeyError) as py_err:
            me.exchange(point)
        with pytest.raises(errors.InvalidKeyError) as c_err:
            native.ecdh(me.scalar(), point)
        assert str(c_err.value) == str(py_err.value)
        with pytest.raises(errors.InvalidKeyError):
            NATIVE.ecdh_root_step(root, me, point, None, dst)
        with pytest.raises(errors.InvalidKeyError):
            PYTHON.ecdh_root_step(root, me, point, None, dst)


@needs_native
def test_bad_scalars_and_lengths() -> None:
    point = P256PrivateKey.generate(_rng(b"s")).public
    for scalar in (bytes(32), P256_ORDER.to_bytes(32, "big"), b"\xff" * 32):
        with pytest.raises(errors.InvalidKeyError):
            native.p256_public(scalar)
        with pytest.raises(errors.InvalidKeyError):
            native.ecdh(scalar, point)
        with pytest.raises(errors.InvalidKeyError):
            P256PrivateKey.from_scalar(scalar)
    top = (P256_ORDER - 1).to_bytes(32, "big")
    assert native.p256_public(top) == P256PrivateKey.from_scalar(top).public
    with pytest.raises(errors.MalformedInputError):
        native.p256_public(bytes(31))
    with pytest.raises(errors.MalformedInputError):
        native.root_and_chain_key(bytes(31), bytes(32), None, b"")
    for size in (0, 65):
        with pytest.raises(errors.MalformedInputError):
            native.root_and_chain_key(bytes(32), bytes(32), bytes(size), b"")
    # KEM secrets of other sizes (FrodoKEM's 16 and 24) derive as the Python path does.
    from pq3proto import kdf

    for size in (16, 24, 31):
        args = (bytes(range(32)), bytes(32), bytes(range(size)), b"dst")
        assert native.root_and_chain_key(*args) == kdf.root_and_chain_key(*args)
    with pytest.raises(errors.InvalidKeyError):
        P256PrivateKey.from_computed_public(top, point[:64])


@needs_native
@pytest.mark.parametrize("env", ["1", "0"])
def test_mlkem_modulus_check_agrees_with_kem_py(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """kem.check_public_key runs the C loop on the native path and numpy on the Python path:
    both give the same verdict and the same first bad coefficient."""
    from pq3proto import kem

    monkeypatch.setenv("PQ3PROTO_NATIVE", env)

    rng = _rng(b"mlkem")
    seed = rng.random_bytes(64)
    pk = kem.get_backend().public_key_from_seed(kem.MLKEM768, seed)
    t_hat = pk[:-32]
    assert native.mlkem_modulus_check(t_hat) == -1
    kem.check_public_key(kem.MLKEM768, pk)
    for coefficient in (0, 1, 2, 3, 511, 767):
        for value in (3329, 4095):
            bad = bytearray(t_hat)
            j = 3 * (coefficient // 2)
            if coefficient % 2 == 0:
                bad[j] = value & 0xFF
                bad[j + 1] = (bad[j + 1] & 0xF0) | (value >> 8)
            else:
                bad[j + 1] = (bad[j + 1] & 0x0F) | ((value & 0x0F) << 4)
                bad[j + 2] = value >> 4
            assert native.mlkem_modulus_check(bytes(bad)) == coefficient
            with pytest.raises(errors.InvalidKeyError, match=f"coefficient {coefficient}$"):
                kem.check_public_key(kem.MLKEM768, bytes(bad) + pk[-32:])
    assert native.mlkem_modulus_check(b"") == -1
    with pytest.raises(errors.MalformedInputError):
        native.mlkem_modulus_check(b"ab")


@needs_native
def test_symmetric_floor_walks_thesending_chain() -> None:
    ck = _rng(b"floor").random_bytes(32)
    expect = ck
    for _ in range(5):
        _, expect = PYTHON.chain_step(expect)
    for pt in (b"", b"x", bytes(140)):
        assert native.floor_symmetric(ck, pt, 5) == expect
    assert native.floor_symmetric(ck, b"abc", 0) == ck


# ── Sanitizer harness ─────────────────────────────────────────────────────────────────


def _hex(b: bytes) -> str:
    return b.hex() or "-"


def _records(keys: tuple[P256PrivateKey, ...]) -> str:
    rng = _rng(b"harness")
    key = keys[0]
    lines = []
    for _ in range(5):
        ck = rng.random_bytes(32)
        mk, nck = PYTHON.chain_step(ck)
        lines.append(f"step {ck.hex()} {mk.hex()} {nck.hex()}")
    for rekey in (False, True):
        chain = sending_chain(rng, rekey)
        for size, ad in [
            (0, b""),
            (1, b"a"),
            (16, b""),
            (140, b"ad"),
            (1000, rng.random_bytes(70)),
        ]:
            ck = rng.random_bytes(32)
            index = size * 1000 + 3
            pt = rng.random_bytes(size)
            wire, nck = PYTHON.seal(ck, index, chain, ad, pt, None)
            m = parse_message(wire)
            body = signature_body(
                m.ciphertext, ad, m.indicator, chain.ecdh_public_key, index, chain.signature_tail
            )
            digest = hashlib.sha256(body).digest()
            fields = [
                ck,
                chain.header_bytes,
                chain.ecdh_public_key,
                chain.signature_tail,
                ad,
                pt,
                wire,
                nck,
                digest,
                key.scalar(),
                key.public,
            ]
            h = [_hex(f) for f in fields]
            lines.append(f"seal {h[0]} {index} " + " ".join(h[1:]))
            signed, _ = PYTHON.seal(ck, index, chain, ad, pt, key, deterministic=True)
            sm = parse_message(signed)
            mk, _ = PYTHON.chain_step(ck)
            for is_mk, k in ((0, ck), (1, mk)):
                fields = [
                    sm.indicator,
                    chain.ecdh_public_key,
                    chain.signature_tail,
                    ad,
                    sm.ciphertext,
                    sm.signature,
                    key.public,
                    pt,
                    nck,
                ]
                lines.append(f"open {k.hex()} {is_mk} {index} " + " ".join(_hex(f) for f in fields))
        for n in (1, 2, 5):
            ck = rng.random_bytes(32)
            pts = [rng.random_bytes(s) for s in [140, 0, 33, 1, 200][:n]]
            ad = rng.random_bytes(n)
            wires, nck = PYTHON.seal_batch(ck, 40, chain, ad, pts, None)
            head = [
                chain.header_bytes,
                chain.ecdh_public_key,
                chain.signature_tail,
                ad,
                key.scalar(),
                key.public,
            ]
            lines.append(
                f"batch {ck.hex()} 40 "
                + " ".join(_hex(f) for f in head)
                + f" {n} "
                + " ".join(_hex(p) for p in pts)
                + f" {_hex(b''.join(wires))} {nck.hex()}"
            )
    for i in range(4):
        me, peer = P256PrivateKey.generate(rng), P256PrivateKey.generate(rng)
        secret = me.exchange(peer.public)
        fields = [me.scalar(), me.public, peer.public, secret]
        lines.append("ecdh " + " ".join(_hex(f) for f in fields))
        root = rng.random_bytes(32)
        kem_ss = rng.random_bytes(32) if i % 2 else b""
        dst = rng.random_bytes([0, 100, 128, 2500][i])
        rk, ck = kdf.root_and_chain_key(root, secret, kem_ss or None, dst)
        fields = [root, secret, kem_ss, dst, rk, ck]
        lines.append("root " + " ".join(_hex(f) for f in fields))
    for size, ad in ((0, b""), (140, b"ad"), (1000, rng.random_bytes(70))):
        root, receiver = rng.random_bytes(32), P256PrivateKey.generate(rng)
        scalar = P256PrivateKey.generate(rng).scalar()
        session = rng.random_bytes(150)
        prefix = kdf.pk_ratchet_dst_prefix(session, receiver.public)
        tail, pt = plain_signature_tail(session), rng.random_bytes(size)
        _, rk, nck, wire = PYTHON.seal_new_chain(
            root, scalar, receiver.public, prefix, tail, ad, pt, None
        )
        fields = [root, scalar, receiver.scalar(), receiver.public, prefix, tail, ad, pt, wire]
        fields += [rk, nck, key.scalar(), key.public]
        lines.append("newchain " + " ".join(_hex(f) for f in fields))
    return "\n".join(lines) + "\n"


def _openssl_headers() -> bool:
    inc = sysconfig.get_config_var("INCLUDEDIR") or "/usr/include"
    return any((Path(d) / "openssl" / "evp.h").exists() for d in (inc, "/usr/include"))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
@pytest.mark.skipif(not _openssl_headers(), reason="OpenSSL headers (libssl-dev) are missing")
def test_sanitizer_harness(tmp_path: Path, keys: tuple[P256PrivateKey, ...]) -> None:
    exe = tmp_path / "test_pq3native"
    cmd = [
        "gcc",
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wpedantic",
        "-O1",
        "-g",
        "-fsanitize=address,undefined",
        "-fno-omit-frame-pointer",
        "-fno-sanitize-recover=undefined",
        f"-I{NATIVE_DIR}",
        str(NATIVE_DIR / "test_pq3native.c"),
        *sorted(str(p) for p in NATIVE_DIR.glob("pq3native_*.c")),
        "-o",
        str(exe),
        "-lcrypto",
    ]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    records = tmp_path / "records.txt"
    records.write_text(_records(keys))
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    run = subprocess.run(
        [str(exe), str(records)], capture_output=True, text=True, env=env, timeout=300
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "runtime error" not in report and "Sanitizer" not in report, report
    assert " 0 failures" in run.stdout, report
    print(run.stdout, file=sys.stderr)
