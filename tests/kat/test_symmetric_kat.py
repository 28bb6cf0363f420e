"""HKDF (RFC 5869), HMAC-SHA384 (RFC 4231) and AES-256-CTR (RFC 3686) known answers.

Files come from the pinned cryptography-vectors package.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pq3proto.primitives import aes256_ctr, hkdf_expand, hkdf_extract, hmac_sha384

from .loaders import read_nist_records, vector_lines

HKDF_FILES = {
    "sha256": ("KDF/rfc-5869-HKDF-SHA256.txt", "SHA-256", 3),
    "sha1": ("KDF/rfc-5869-HKDF-SHA1.txt", "SHA-1", 4),
}


@pytest.mark.parametrize("hash_name", HKDF_FILES)
def test_hkdf_rfc5869(hash_name: str, record_count: Callable[[int, str], None]) -> None:
    """Extract gives PRK and Expand gives OKM; an empty salt also runs as an absent one."""
    path, label, expected_n = HKDF_FILES[hash_name]
    fields = ("COUNT", "Hash", "IKM", "salt", "info", "L", "PRK", "OKM")
    records = read_nist_records(vector_lines(path), start="COUNT", fields=fields, source=path)
    absent_salt = 0
    for rec in records:
        assert rec["Hash"] == label
        prk = rec.hex("PRK")
        assert hkdf_extract(rec.hex("salt"), rec.hex("IKM"), hash_name=hash_name) == prk
        if not rec["salt"]:
            # RFC 5869 §2.2: an absent salt is HashLen zeros (test cases 3, 6 and 7).
            assert hkdf_extract(None, rec.hex("IKM"), hash_name=hash_name) == prk
            absent_salt += 1
        okm = hkdf_expand(prk, rec.hex("info"), int(rec["L"]), hash_name=hash_name)
        assert okm == rec.hex("OKM"), rec["COUNT"]
    assert len(records) == expected_n
    record_count(len(records), f"records ({absent_salt} also with salt=None)")


def test_hmac_sha384_rfc4231(record_count: Callable[[int, str], None]) -> None:
    path = "HMAC/rfc-4231-sha384.txt"
    records = read_nist_records(
        vector_lines(path), start="Len", fields=("Len", "Key", "Msg", "MD"), source=path
    )
    for rec in records:
        assert hmac_sha384(rec.hex("Key"), rec.hex("Msg")) == rec.hex("MD"), rec.line
    # RFC 4231 has 7 cases; the file leaves out case 5 (truncated output), as it says.
    assert len(records) == 6
    record_count(len(records), "records")


def test_aes256_ctr_rfc3686(record_count: Callable[[int, str], None]) -> None:
    path = "ciphers/AES/CTR/aes-256-ctr.txt"
    fields = ("COUNT", "KEY", "IV", "PLAINTEXT", "CIPHERTEXT")
    records = read_nist_records(vector_lines(path), start="COUNT", fields=fields, source=path)
    for rec in records:
        assert rec.section == "ENCRYPT"
        key, iv = rec.hex("KEY"), rec.hex("IV")
        assert aes256_ctr(key, iv, rec.hex("PLAINTEXT")) == rec.hex("CIPHERTEXT"), rec["COUNT"]
        assert aes256_ctr(key, iv, rec.hex("CIPHERTEXT")) == rec.hex("PLAINTEXT"), rec["COUNT"]
    assert len(records) == 3
    record_count(len(records), "records, both directions")
