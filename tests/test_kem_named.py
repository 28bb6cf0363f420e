"""Named KEMs without liboqs: the table, ML-KEM through kem.named() on every backend,
liboqs's ML-KEM known answers on the reference backend, and the absence path.

Tests that need liboqs are in test_profiles_kem.py.
"""

from __future__ import annotations

import hashlib
import sys

import pytest
from named_kem_helpers import (
    KATS,
    LIBOQS_KEMS,
    NON_MLKEM,
    PUBLISHED,
    NistKatDrbg,
    kat_single_record,
)

from pq3proto import kem, kem_table
from pq3proto.errors import BackendUnavailableError, UnknownKemError
from pq3proto.primitives import SYSTEM_RANDOM
from pq3proto.primitives import TestingOnlyDeterministicRandom as DeterministicRandom

LIBOQS_WHY = kem.available_backends()["liboqs"]
MLKEM = ["ML-KEM-512", "ML-KEM-768", "ML-KEM-1024"]


def test_table_matches_published_sizes() -> None:
    assert kem_table.all_names() == LIBOQS_KEMS
    for name, (pk, ct, ss) in PUBLISHED.items():
        info = kem_table.by_name(name)
        sizes = (info.public_key_size, info.ciphertext_size, info.shared_secret_size)
        assert sizes == (pk, ct, ss)
        if info.family == "ML-KEM":
            assert info.state_is_seed and info.state_size == 64
        else:
            assert not info.state_is_seed and info.state_size == info.secret_key_size


def test_codes_are_unique_and_name_the_level() -> None:
    codes = [info.code for info in kem_table.KEMS]
    assert len(set(codes)) == len(codes)
    for info in kem_table.KEMS:
        assert 0 < info.code <= 0xFFFF
        assert kem_table.by_code(info.code) is info
        assert info.code & 0xFF == info.nist_level
    assert kem_table.by_code(0) is None and kem_table.by_code(0xFFFF) is None


@pytest.mark.parametrize("bad", ["ml-kem-768", "Kyber768", "HQC-128", "", "x" * 1000, 768, None])
def test_unknown_names(bad: object) -> None:
    with pytest.raises(UnknownKemError) as info:
        kem.named(bad)  # type: ignore[arg-type]
    assert len(str(info.value)) < 400 and "x" * 100 not in str(info.value)


def test_names_lists_mlkem_on_every_backend() -> None:
    for backend_name, why in kem.available_backends().items():
        if why is not None:
            continue
        runnable = kem.names(kem.get_backend(backend_name))
        assert {"ML-KEM-768", "ML-KEM-1024"} <= set(runnable)
        assert set(runnable) <= set(LIBOQS_KEMS)
        assert (set(NON_MLKEM) <= set(runnable)) == (LIBOQS_WHY is None)
    assert set(MLKEM) <= set(kem.names(kem.get_backend("reference")))


@pytest.mark.parametrize("name", MLKEM)
def test_named_mlkem_round_trip_on_reference(name: str) -> None:
    named = kem.named(name, kem.get_backend("reference"))
    info = named.info
    state, public_key = named.generate()
    assert (len(state), len(public_key)) == (64, info.public_key_size)
    shared_secret, ciphertext = named.encapsulate(public_key)
    assert (len(shared_secret), len(ciphertext)) == (32, info.ciphertext_size)
    assert named.decapsulate(state, ciphertext) == shared_secret


def test_named_mlkem_is_the_protocol_mlkem() -> None:
    """kem.named("ML-KEM-768") and the protocol's kem.MLKEM768 helpers are one KEM."""
    named = kem.named("ML-KEM-768")
    seed, public_key = named.generate(DeterministicRandom(b"same"))
    expected = kem.generate_seed_and_key(kem.MLKEM768, DeterministicRandom(b"same"))
    assert (seed, public_key) == expected
    shared_secret, ciphertext = kem.encapsulate(kem.MLKEM768, public_key, SYSTEM_RANDOM)
    assert named.decapsulate(seed, ciphertext) == shared_secret


@pytest.mark.parametrize("name", MLKEM)
def test_liboqs_known_answers_for_mlkem_on_reference(name: str) -> None:
    """liboqs's own ML-KEM answers, reproduced without liboqs."""
    named = kem.named(name, kem.get_backend("reference"))
    record = kat_single_record(named, NistKatDrbg)
    assert hashlib.sha256(record.encode()).hexdigest() == KATS[name]["single"]


def test_nist_drbg_known_answer() -> None:
    """The generator itself: the first seed of NIST's PQCkemKAT files (entropy 0..47)."""
    seed = NistKatDrbg(bytes(range(48))).random_bytes(48)
    assert seed.hex().upper() == (
        "061550234D158C5EC95595FE04EF7A25767F2E24CC2BC479D09D86DC9ABCFDE7"
        "056A8C266F9EF97ED08541DBD2E1FFA1"
    )


def test_kat_data_covers_every_kem() -> None:
    assert set(KATS) == set(LIBOQS_KEMS)
    for entry in KATS.values():
        assert set(entry) == {"all", "single"}
        assert all(len(bytes.fromhex(v)) == 32 for v in entry.values())


@pytest.mark.skipif(LIBOQS_WHY is None, reason="liboqs is installed here; the absence path is moot")
def test_non_mlkem_without_liboqs_raises_the_install_hint() -> None:
    for name in NON_MLKEM:
        with pytest.raises(BackendUnavailableError, match="OQS_INSTALL_PATH") as info:
            kem.named(name)
        assert name in str(info.value) and "build-liboqs" in str(info.value)
        assert name not in kem.names()
    assert "oqs" not in sys.modules, "oqs must not be imported when liboqs is absent"
