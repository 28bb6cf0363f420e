"""NIST ML-KEM-768 / ML-KEM-1024 known answers (cryptography-vectors asymmetric/MLKEM/).

Each file has 1000 records: d, z, msg, pk, sk (expanded), ct, ss, and the implicit-rejection
pair ct_n -> ss_n. OpenSSL (and liboqs when present) run all of them. The pure-Python
reference backend runs every 10th record by default and all with PQ3_FULL_KAT=1: a full run
takes about two minutes on it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

import pytest

from pq3proto import kem
from pq3proto.kem import MLKEM768, MLKEM1024, KemParams

from .conftest import FULL_KAT
from .loaders import Record, read_nist_records, vector_lines

RECORDS_PER_FILE = 1000
REFERENCE_STRIDE = 1 if FULL_KAT else 10
FIELDS = ("count", "z", "d", "msg", "seed", "pk", "sk", "ct", "ss", "ct_n", "ss_n")
PARAMS = {"ML-KEM-768": MLKEM768, "ML-KEM-1024": MLKEM1024}
AVAILABLE = kem.available_backends()


@functools.cache
def kat_records(params_name: str) -> list[Record]:
    path = f"asymmetric/MLKEM/kat_MLKEM_{params_name.removeprefix('ML-KEM-')}.rsp"
    return read_nist_records(vector_lines(path), start="count", fields=FIELDS, source=path)


def _backend(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        AVAILABLE[name] is not None, reason=f"{name} KEM backend unavailable: {AVAILABLE[name]}"
    )


def _check(
    backend: kem.KemBackend, params: KemParams, rec: Record, derandomized: bool
) -> list[str]:
    """Every mismatch for one record, as short labels."""
    seed = rec.hex("d") + rec.hex("z")
    bad = []
    if backend.public_key_from_seed(params, seed) != rec.hex("pk"):
        bad.append("keygen")
    if kem.decapsulate(params, seed, rec.hex("ct"), backend) != rec.hex("ss"):
        bad.append("decaps")
    if kem.decapsulate(params, seed, rec.hex("ct_n"), backend) != rec.hex("ss_n"):
        bad.append("implicit rejection")
    if derandomized:
        out = kem.reference_backend().encapsulate_derandomized_for_tests(
            params, rec.hex("pk"), rec.hex("msg")
        )
        if out != (rec.hex("ss"), rec.hex("ct")):
            bad.append("encaps")
    return [f"count {rec['count']}: {what}" for what in bad]


@pytest.mark.parametrize("params_name", PARAMS)
def test_kat_file_shape(params_name: str, record_count: Callable[[int, str], None]) -> None:
    """The files are whole, and their rejection pairs mean what FIPS 203 says."""
    params = PARAMS[params_name]
    records = kat_records(params_name)
    assert [int(r["count"]) for r in records] == list(range(RECORDS_PER_FILE))
    for rec in records:
        assert len(rec.hex("pk")) == params.public_key_size
        assert len(rec.hex("ct")) == len(rec.hex("ct_n")) == params.ciphertext_size
        assert rec.hex("ct") != rec.hex("ct_n")
        # Implicit rejection returns K̄ = J(z || c) = SHAKE-256(z || c, 32) (FIPS 203 Alg. 18).
        assert hashlib.shake_256(rec.hex("z") + rec.hex("ct_n")).digest(32) == rec.hex("ss_n")
        kem.check_public_key(params, rec.hex("pk"))
    record_count(len(records), "records: whole file, ss_n == J(z || ct_n), pk passes §7.2")


@pytest.mark.parametrize("params_name", PARAMS)
@pytest.mark.parametrize(
    "backend_name",
    [pytest.param(n, marks=_backend(n)) for n in ("openssl", "liboqs")],
)
def test_kat_fast_backend(
    backend_name: str, params_name: str, record_count: Callable[[int, str], None]
) -> None:
    """Keygen from d || z and decapsulation (normal and rejected) on all 1000 records."""
    params = PARAMS[params_name]
    backend = kem.get_backend(backend_name)
    records = kat_records(params_name)
    failures = [f for rec in records for f in _check(backend, params, rec, derandomized=False)]
    assert not failures, failures[:10]
    assert len(records) == RECORDS_PER_FILE
    record_count(len(records), "records: keygen, decaps, implicit rejection")


@_backend("reference")
@pytest.mark.parametrize("params_name", PARAMS)
def test_kat_reference_backend(params_name: str, record_count: Callable[[int, str], None]) -> None:
    """Keygen, derandomized encapsulation and both decapsulations on the reference backend."""
    params = PARAMS[params_name]
    backend = kem.get_backend("reference")
    records = kat_records(params_name)[::REFERENCE_STRIDE]
    failures = [f for rec in records for f in _check(backend, params, rec, derandomized=True)]
    assert not failures, failures[:10]
    assert len(records) == RECORDS_PER_FILE // REFERENCE_STRIDE
    scope = (
        "all"
        if REFERENCE_STRIDE == 1
        else f"every {REFERENCE_STRIDE}th; PQ3_FULL_KAT=1 runs all {RECORDS_PER_FILE}"
    )
    record_count(len(records), f"records ({scope}): keygen, encaps, decaps, rejection")
