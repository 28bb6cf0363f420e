"""NIST ACVP ML-KEM keyGen and encapDecap vectors (tests/kat/data/acvp-mlkem/, see PROVENANCE.md).

ML-KEM-512 is not a pq3proto parameter set: its groups are loaded and counted, and their
tests skip with that reason.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

import pytest
from kyber_py.ml_kem import ML_KEM_768, ML_KEM_1024

from pq3proto import kem
from pq3proto.kem import MLKEM768, MLKEM1024

from .loaders import DATA_DIR, AcvpCase, read_acvp

ACVP_DIR = DATA_DIR / "acvp-mlkem"
PARAMS = {"ML-KEM-768": MLKEM768, "ML-KEM-1024": MLKEM1024}
KYBER_PY = {"ML-KEM-768": ML_KEM_768, "ML-KEM-1024": ML_KEM_1024}
PARAMETER_SETS = ("ML-KEM-512", "ML-KEM-768", "ML-KEM-1024")
AVAILABLE = kem.available_backends()
_GROUP = frozenset({"tgId", "testType", "parameterSet"})


@functools.cache
def keygen_cases() -> list[AcvpCase]:
    return read_acvp(
        ACVP_DIR / "ML-KEM-keyGen-FIPS203",
        group_keys={"": _GROUP},
        prompt_keys={"": frozenset({"tcId", "d", "z"})},
        expected_keys={"": frozenset({"tcId", "ek", "dk"})},
    )


@functools.cache
def encap_decap_cases() -> list[AcvpCase]:
    return read_acvp(
        ACVP_DIR / "ML-KEM-encapDecap-FIPS203",
        group_keys={
            "encapsulation": _GROUP | {"function"},
            "decapsulation": _GROUP | {"function", "dk"},
        },
        prompt_keys={
            "encapsulation": frozenset({"tcId", "ek", "m"}),
            "decapsulation": frozenset({"tcId", "c"}),
        },
        expected_keys={
            "encapsulation": frozenset({"tcId", "c", "k"}),
            "decapsulation": frozenset({"tcId", "k"}),
        },
    )


def _select(cases: list[AcvpCase], parameter_set: str, function: str = "") -> list[AcvpCase]:
    chosen = [
        c
        for c in cases
        if c.group["parameterSet"] == parameter_set and c.group.get("function", "") == function
    ]
    assert chosen, f"no {parameter_set} {function} cases"
    if parameter_set not in PARAMS:
        pytest.skip(
            f"{parameter_set} is not a pq3proto parameter set: {len(chosen)} ACVP cases "
            "loaded and counted, not run"
        )
    return chosen


def _backends() -> list[kem.KemBackend]:
    return [kem.get_backend(name) for name, why in AVAILABLE.items() if why is None]


def test_acvp_files_whole() -> None:
    """All groups and cases are present: keyGen 3 x 25; encapsulation 3 x 25, decaps 3 x 10."""
    assert len(keygen_cases()) == 75
    functions = [c.group["function"] for c in encap_decap_cases()]
    assert functions.count("encapsulation") == 75
    assert functions.count("decapsulation") == 30
    for parameter_set in PARAMETER_SETS:
        assert sum(c.group["parameterSet"] == parameter_set for c in keygen_cases()) == 25


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_acvp_keygen(parameter_set: str, record_count: Callable[[int, str], None]) -> None:
    """d, z -> ek on every available backend; the reference's expanded dk equals ACVP's dk."""
    cases = _select(keygen_cases(), parameter_set)
    params = PARAMS[parameter_set]
    backends = _backends()
    for case in cases:
        seed = bytes.fromhex(case.prompt["d"] + case.prompt["z"])
        ek = bytes.fromhex(case.expected["ek"])
        for backend in backends:
            assert backend.public_key_from_seed(params, seed) == ek, (case.tc_id, backend.name)
        # pq3proto keeps only the seed; the expanded dk is compared through kyber-py itself.
        _, dk = KYBER_PY[parameter_set].key_derive(seed)
        assert dk == bytes.fromhex(case.expected["dk"]), case.tc_id
    names = ", ".join(b.name for b in backends)
    record_count(len(cases), f"cases: keygen on {names}; expanded dk via kyber-py")


@pytest.mark.skipif(AVAILABLE["reference"] is not None, reason=f"{AVAILABLE['reference']}")
@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_acvp_encapsulation(parameter_set: str, record_count: Callable[[int, str], None]) -> None:
    """ek, m -> (k, c) through the reference backend's derandomized entry point."""
    cases = _select(encap_decap_cases(), parameter_set, "encapsulation")
    params = PARAMS[parameter_set]
    reference = kem.reference_backend()
    for case in cases:
        ek = bytes.fromhex(case.prompt["ek"])
        out = reference.encapsulate_derandomized_for_tests(
            params, ek, bytes.fromhex(case.prompt["m"])
        )
        assert out == (bytes.fromhex(case.expected["k"]), bytes.fromhex(case.expected["c"])), (
            case.tc_id
        )
        for backend in _backends():
            backend.validate_public_key(params, ek)
    record_count(len(cases), "cases: derandomized encapsulation on reference")


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_acvp_decapsulation(parameter_set: str, record_count: Callable[[int, str], None]) -> None:
    """Expanded dk, c -> k.

    ACVP gives only the expanded dk, not d || z, and pq3proto backends take seeds, so these
    run through kyber-py's decaps directly. Each case is also classified independently: a
    rejected ciphertext must give K̄ = SHAKE-256(z || c).
    """
    cases = _select(encap_decap_cases(), parameter_set, "decapsulation")
    params = PARAMS[parameter_set]
    k = (params.public_key_size - 32) // 384  # module rank
    rejected = 0
    for case in cases:
        dk = bytes.fromhex(case.group["dk"])
        c = bytes.fromhex(case.prompt["c"])
        expected = bytes.fromhex(case.expected["k"])
        assert KYBER_PY[parameter_set].decaps(dk, c) == expected, case.tc_id
        ek, h, z = dk[384 * k : 768 * k + 32], dk[768 * k + 32 : 768 * k + 64], dk[768 * k + 64 :]
        assert hashlib.sha3_256(ek).digest() == h  # FIPS 203 §7.3 hash check on the vector
        kem.check_public_key(params, ek)
        rejected += hashlib.shake_256(z + c).digest(32) == expected
    assert 0 < rejected < len(cases)
    record_count(
        len(cases), f"cases ({rejected} implicit rejections): decaps via kyber-py, expanded dk"
    )
