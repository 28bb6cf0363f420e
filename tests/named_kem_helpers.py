"""Shared by the named-KEM tests: the KEM list, published sizes, liboqs's known-answer
digests (tests/kat/data/liboqs-kem/) and the two generators liboqs's KAT program uses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pq3proto.kem import NamedKem

KATS = json.loads((Path(__file__).parent / "kat" / "data" / "liboqs-kem" / "kats.json").read_text())
LIBOQS_KEMS = (
    "ML-KEM-512",
    "ML-KEM-768",
    "ML-KEM-1024",
    "HQC-1",
    "HQC-3",
    "HQC-5",
    "FrodoKEM-640-AES",
    "FrodoKEM-976-AES",
    "FrodoKEM-1344-AES",
    "FrodoKEM-640-SHAKE",
    "FrodoKEM-976-SHAKE",
    "FrodoKEM-1344-SHAKE",
    "BIKE-L1",
    "BIKE-L3",
    "BIKE-L5",
)
NON_MLKEM = tuple(name for name in LIBOQS_KEMS if not name.startswith("ML-KEM"))
# Published sizes (FIPS 203 Table 3; HQC, FrodoKEM and BIKE round-4 specifications), as
# (public key, ciphertext, shared secret): the table must agree with these and with liboqs.
PUBLISHED = {
    "ML-KEM-512": (800, 768, 32),
    "ML-KEM-768": (1184, 1088, 32),
    "ML-KEM-1024": (1568, 1568, 32),
    "HQC-1": (2241, 4433, 32),
    "HQC-3": (4514, 8978, 32),
    "HQC-5": (7237, 14421, 32),
    "FrodoKEM-640-AES": (9616, 9752, 16),
    "FrodoKEM-976-AES": (15632, 15792, 24),
    "FrodoKEM-1344-AES": (21520, 21696, 32),
    "FrodoKEM-640-SHAKE": (9616, 9752, 16),
    "FrodoKEM-976-SHAKE": (15632, 15792, 24),
    "FrodoKEM-1344-SHAKE": (21520, 21696, 32),
    "BIKE-L1": (1541, 1573, 32),
    "BIKE-L3": (3083, 3115, 32),
    "BIKE-L5": (5122, 5154, 32),
}


class NistKatDrbg:
    """NIST's PQC KAT generator: AES-256 CTR_DRBG, no derivation function (rng.c)."""

    deterministic = True

    def __init__(self, entropy: bytes) -> None:
        self._key, self._v = bytes(32), bytes(16)
        self._update(entropy)

    def _block(self) -> bytes:
        self._v = ((int.from_bytes(self._v, "big") + 1) % (1 << 128)).to_bytes(16, "big")
        encryptor = Cipher(algorithms.AES(self._key), modes.ECB()).encryptor()
        return encryptor.update(self._v) + encryptor.finalize()

    def _update(self, provided: bytes | None) -> None:
        temp = b"".join(self._block() for _ in range(3))
        if provided is not None:
            temp = bytes(a ^ b for a, b in zip(temp, provided, strict=True))
        self._key, self._v = temp[:32], temp[32:]

    def random_bytes(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += self._block()
        self._update(None)
        return out[:n]


class HqcKatPrng:
    """liboqs's KAT generator for HQC: SHAKE-256(entropy || 0x00), squeezed in order."""

    deterministic = True

    def __init__(self, entropy: bytes) -> None:
        self._input, self._position = entropy + b"\x00", 0

    def random_bytes(self, n: int) -> bytes:
        stream = hashlib.shake_256(self._input).digest(self._position + n)
        self._position += n
        return stream[-n:] if n else b""


def kat_single_record(named: NamedKem, prng: Callable[[bytes], NistKatDrbg | HqcKatPrng]) -> str:
    """kat_kem.c's first record, made through pq3proto's named interface."""
    seed = prng(bytes(range(48))).random_bytes(48)
    rng = prng(seed)
    state, public_key = named.generate(rng)
    shared_secret, ciphertext = named.encapsulate(public_key, rng)
    assert named.decapsulate(state, ciphertext) == shared_secret
    secret_key = state
    if named.info.state_is_seed:
        # liboqs prints ML-KEM's expanded decapsulation key; the reference expands the seed.
        from kyber_py.ml_kem import ML_KEM_512, ML_KEM_768, ML_KEM_1024

        expand = {"ML-KEM-512": ML_KEM_512, "ML-KEM-768": ML_KEM_768, "ML-KEM-1024": ML_KEM_1024}
        secret_key = bytes(expand[named.info.name].key_derive(state)[1])
    lines = [("seed", seed), ("pk", public_key), ("sk", secret_key), ("ct", ciphertext)]
    lines.append(("ss", shared_secret))
    return "count = 0\n" + "".join(f"{k} = {v.hex().upper()}\n" for k, v in lines)


def prng_for(name: str) -> Callable[[bytes], NistKatDrbg | HqcKatPrng]:
    return HqcKatPrng if name.startswith("HQC") else NistKatDrbg
