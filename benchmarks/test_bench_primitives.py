"""Benchmarks of the primitives one message or one ratchet step is made of.

Owns: HKDF-SHA384 extract / expand, AES-256-CTR on 140 bytes, ECDSA P-256 sign / verify,
P-256 keygen and ECDH, ML-KEM-768/1024 keygen / encaps / decaps on the openssl backend; all
through pq3proto.primitives and pq3proto.kem as the Python path calls them.
Not: the C path's internals (its own benchmarks belong to the native engineer).
"""

from __future__ import annotations

import os

import pytest

from pq3proto import kem
from pq3proto.constants import LABEL_CHAIN_KEY, LABEL_MESSAGE_KEY
from pq3proto.primitives import (
    SYSTEM_RANDOM,
    P256PrivateKey,
    Verifier,
    aes256_ctr,
    hkdf_expand,
    hkdf_extract,
)

BODY = os.urandom(400)  # about the size of one message's signed body


def test_hkdf_sha384_extract(benchmark):
    salt, ikm = os.urandom(48), os.urandom(32)
    assert len(benchmark(hkdf_extract, salt, ikm)) == 48


@pytest.mark.parametrize("label,length", [(LABEL_MESSAGE_KEY, 32), (b"root", 64)])
def test_hkdf_sha384_expand(benchmark, label, length):
    prk = os.urandom(32)
    assert len(benchmark(hkdf_expand, prk, label, length)) == length


def test_hkdf_sha384_chain_key_expand(benchmark):
    prk = os.urandom(32)
    assert len(benchmark(hkdf_expand, prk, LABEL_CHAIN_KEY, 32)) == 32


def test_aes256_ctr_140_bytes(benchmark):
    key, iv, data = os.urandom(32), os.urandom(16), os.urandom(140)
    out = benchmark(aes256_ctr, key, iv, data)
    assert aes256_ctr(key, iv, out) == data


def test_ecdsa_p256_sign(benchmark):
    key = P256PrivateKey.generate()
    sig = benchmark(key.sign, BODY)
    Verifier(key.public).verify(BODY, sig)


def test_ecdsa_p256_verify(benchmark):
    key = P256PrivateKey.generate()
    verifier = Verifier(key.public)
    sig = key.sign(BODY)
    assert benchmark(verifier.verify, BODY, sig) is None


def test_p256_keygen(benchmark):
    key = benchmark(P256PrivateKey.generate)
    assert len(key.public) == 65


def test_p256_ecdh(benchmark):
    mine, peer = P256PrivateKey.generate(), P256PrivateKey.generate()
    secret = benchmark(mine.exchange, peer.public)
    assert secret == peer.exchange(mine.public)


KEM_PARAMS = [
    pytest.param(kem.MLKEM768, id="mlkem768"),
    pytest.param(kem.MLKEM1024, id="mlkem1024"),
]


@pytest.fixture(scope="module")
def openssl_kem():
    try:
        return kem.get_backend("openssl")
    except Exception as exc:  # any reason the backend is missing skips
        pytest.skip(f"openssl KEM backend unavailable: {exc}")


@pytest.mark.parametrize("params", KEM_PARAMS)
def test_mlkem_keygen(benchmark, openssl_kem, params):
    _seed, pk = benchmark(kem.generate_seed_and_key, params, SYSTEM_RANDOM, openssl_kem)
    assert len(pk) == params.public_key_size


@pytest.mark.parametrize("params", KEM_PARAMS)
def test_mlkem_encaps(benchmark, openssl_kem, params):
    _, pk = kem.generate_seed_and_key(params, SYSTEM_RANDOM, openssl_kem)
    ss, ct = benchmark(kem.encapsulate, params, pk, SYSTEM_RANDOM, openssl_kem)
    assert len(ss) == 32 and len(ct) == params.ciphertext_size


@pytest.mark.parametrize("params", KEM_PARAMS)
def test_mlkem_decaps(benchmark, openssl_kem, params):
    seed, pk = kem.generate_seed_and_key(params, SYSTEM_RANDOM, openssl_kem)
    ss, ct = kem.encapsulate(params, pk, SYSTEM_RANDOM, openssl_kem)
    assert benchmark(kem.decapsulate, params, seed, ct, openssl_kem) == ss
