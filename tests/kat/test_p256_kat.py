"""NIST P-256 ECDSA (FIPS 186-3 SigVer/SigGen, RFC 6979) and ECDH (KAS ZZ-only) known answers.

pq3proto signatures are raw r || s with s in the low half of [1, n-1]. ECDSA accepts (r, s)
exactly when it accepts (r, n - s), so for a valid NIST signature with high s the expected
outcome here is: r || s rejected as non-canonical, r || (n - s) verifies.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from pq3proto.errors import AuthenticationError, InvalidKeyError
from pq3proto.primitives import P256_HALF_ORDER, P256_ORDER, P256PrivateKey, Verifier

from .loaders import Record, read_nist_records, read_openssl_evp, vector_lines

ECDSA_DIR = "asymmetric/ECDSA/FIPS_186-3"
SECTION = "P-256,SHA-256"
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # SEC 2, secp256r1


def _int32(value: str | int) -> bytes:
    return (int(value, 16) if isinstance(value, str) else value).to_bytes(32, "big")


def _point(x: str, y: str) -> bytes:
    return b"\x04" + _int32(x) + _int32(y)


def _low_s(s: int) -> int:
    return min(s, _N - s)


def test_group_order_constants() -> None:
    assert P256_ORDER == _N
    assert P256_HALF_ORDER == _N // 2


def test_ecdsa_sigver(record_count: Callable[[int, str], None]) -> None:
    path = f"{ECDSA_DIR}/SigVer.rsp"
    fields = ("Msg", "Qx", "Qy", "R", "S", "Result")
    records = read_nist_records(vector_lines(path), start="Msg", fields=fields, source=path)
    records = [rec for rec in records if rec.section == SECTION]
    valid = high_s = invalid = bad_point = 0
    for rec in records:
        assert re.fullmatch(r"[PF] \(.*\)", rec["Result"]), rec["Result"]
        ok = rec["Result"].startswith("P")
        msg, r, s = rec.hex("Msg"), int(rec["R"], 16), int(rec["S"], 16)
        try:
            verifier = Verifier(_point(rec["Qx"], rec["Qy"]))
        except InvalidKeyError:
            assert not ok and "Q changed" in rec["Result"], rec.line
            bad_point += 1
            continue
        if ok:
            valid += 1
            if s > P256_HALF_ORDER:
                high_s += 1
                with pytest.raises(AuthenticationError, match="canonical"):
                    verifier.verify(msg, _int32(r) + _int32(s))
            verifier.verify(msg, _int32(r) + _int32(_low_s(s)))
        else:
            invalid += 1
            for sig_s in {s, _low_s(s)}:
                with pytest.raises(AuthenticationError):
                    verifier.verify(msg, _int32(r) + _int32(sig_s))
    assert (len(records), valid, invalid, bad_point) == (15, 3, 12, 0)
    record_count(
        len(records),
        f"records: {valid} valid ({high_s} high-s rejected raw, accepted as n - s), "
        f"{invalid} invalid rejected",
    )


def test_ecdsa_siggen(record_count: Callable[[int, str], None]) -> None:
    """The NIST signatures verify under pq3proto's verifier after low-s normalisation.

    SigGen.txt is the variant of SigGen.rsp that also carries d and k.
    """
    path = f"{ECDSA_DIR}/SigGen.txt"
    fields = ("Msg", "d", "Qx", "Qy", "k", "R", "S")
    records = read_nist_records(vector_lines(path), start="Msg", fields=fields, source=path)
    records = [rec for rec in records if rec.section == SECTION]
    high_s = 0
    for rec in records:
        point = _point(rec["Qx"], rec["Qy"])
        assert P256PrivateKey.from_scalar(_int32(rec["d"])).public == point, rec.line
        msg, r, s = rec.hex("Msg"), int(rec["R"], 16), int(rec["S"], 16)
        verifier = Verifier(point)
        verifier.verify(msg, _int32(r) + _int32(_low_s(s)))
        if s > P256_HALF_ORDER:
            high_s += 1
            with pytest.raises(AuthenticationError):
                verifier.verify(msg, _int32(r) + _int32(s))
    assert len(records) == 15
    record_count(len(records), f"records: Q from d, signature verifies ({high_s} were high-s)")


def test_ecdsa_rfc6979(record_count: Callable[[int, str], None]) -> None:
    """Deterministic P-256/SHA-256 signatures equal RFC 6979 A.2.5 after low-s normalisation."""
    path = "asymmetric/ECDSA/RFC6979/evppkey_ecdsa_rfc6979.txt"
    evp = read_openssl_evp(vector_lines(path), source=path)
    private = serialization.load_pem_private_key(evp.keys["P-256_PRIV"].encode(), None)
    public = serialization.load_pem_public_key(evp.keys["P-256_PUB"].encode())
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert private.curve.name == "secp256r1"
    key = P256PrivateKey.from_scalar(_int32(private.private_numbers().private_value))
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert key.public == point
    verifier = Verifier(point)
    signed = verified = rejected = 0
    for stanza in evp.stanzas:
        f = stanza.fields
        if f.get("Key") not in ("P-256_PRIV", "P-256_PUB"):
            continue
        if f.get("DigestSign", f.get("DigestVerify")) != "SHA256":
            continue
        assert f["Input"].startswith('"') and f["Input"].endswith('"'), stanza.line
        msg = f["Input"][1:-1].encode()
        r, s = decode_dss_signature(bytes.fromhex(f["Output"]))
        expected = _int32(r) + _int32(_low_s(s))
        if "DigestSign" in f:
            assert f["NonceType"] == "deterministic" and "Result" not in f
            assert key.sign(msg, deterministic=True) == expected, stanza.line
            signed += 1
        elif f.get("Result") == "VERIFY_ERROR":
            with pytest.raises(AuthenticationError):
                verifier.verify(msg, expected)
            rejected += 1
        else:
            assert "Result" not in f, stanza.line
            verifier.verify(msg, expected)
            verified += 1
    assert (signed, verified, rejected) == (2, 2, 2)
    record_count(
        signed + verified + rejected,
        f"stanzas: {signed} deterministic signatures equal, {verified} verify, "
        f"{rejected} corrupted rejected",
    )


ECDH_FIELDS = (
    "COUNT",
    "dsCAVS",
    "QsCAVSx",
    "QsCAVSy",
    "dsIUT",
    "QsIUTx",
    "QsIUTy",
    "Z",
    "CAVSHashZZ",
    "Result",
)


def _ecdh_case(rec: Record) -> str:
    """Check one ZZ-only record against its NIST result code; return the code."""
    code = re.fullmatch(r"([PF]) \((\d+) - .*\)", rec["Result"])
    assert code, rec["Result"]
    verdict, number = code.group(1), int(code.group(2))
    cavs = P256PrivateKey.from_scalar(_int32(rec["dsCAVS"]))
    iut = P256PrivateKey.from_scalar(_int32(rec["dsIUT"]))
    q_cavs = _point(rec["QsCAVSx"], rec["QsCAVSy"])
    q_iut = _point(rec["QsIUTx"], rec["QsIUTy"])
    z = _int32(rec["Z"])
    if verdict == "P":  # 0 correct, 13 Z with a leading zero nibble
        assert number in (0, 13)
        assert cavs.public == q_cavs and iut.public == q_iut
        assert iut.exchange(q_cavs) == z and cavs.exchange(q_iut) == z
    elif number in (1, 2):  # CAVS's public key fails partial validation
        with pytest.raises(InvalidKeyError):
            iut.exchange(q_cavs)
    elif number in (5, 6):  # IUT's public key fails partial validation
        with pytest.raises(InvalidKeyError):
            cavs.exchange(q_iut)
    elif number == 7:  # IUT's private key does not match its public key
        assert iut.public != q_iut and iut.exchange(q_cavs) != z
    elif number == 8:  # Z changed
        assert iut.exchange(q_cavs) != z and cavs.exchange(q_iut) != z
    else:
        raise AssertionError(f"unknown ECDH result code {rec['Result']!r}")
    return f"{verdict}{number}"


@pytest.mark.parametrize("role", ["init", "resp"])
def test_ecdh_kas_zz_only(role: str, record_count: Callable[[int, str], None]) -> None:
    path = f"asymmetric/ECDH/KASValidityTest_ECCStaticUnified_NOKC_ZZOnly_{role}.fax"
    records = read_nist_records(vector_lines(path), start="COUNT", fields=ECDH_FIELDS, source=path)
    records = [rec for rec in records if rec.section == "EC - SHA256"]
    codes = [_ecdh_case(rec) for rec in records]
    passed = sum(c.startswith("P") for c in codes)
    invalid_points = sum(c in ("F1", "F2", "F5", "F6") for c in codes)
    assert len(records) == 30 and passed == 18 and invalid_points == 8
    record_count(
        len(records),
        f"records: {passed} Z equal both ways, {invalid_points} invalid points "
        f"-> InvalidKeyError, {30 - passed - invalid_points} wrong d or Z detected",
    )
