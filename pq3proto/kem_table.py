"""The named KEMs a profile may use, with their sizes and wire codes (spec/10-profiles.md §2).

Owns: one row per KEM, named as liboqs names it: its 16-bit profile code, its sizes, and
what a decapsulation state holds (ML-KEM: the 64-byte seed d || z; the others: liboqs's
secret key bytes).
Not: running a KEM (kem.py), or which KEMs this machine can run (kem.names()).

Sizes are those of liboqs 0.16.0, which follow FIPS 203 for ML-KEM and the round-4
submissions for HQC, FrodoKEM and BIKE. Codes are this project's own: the high byte names
the family (FrodoKEM's AES and SHAKE variants apart), the low byte the NIST security level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .constants import (
    KEM_SEED_SIZE,
    MLKEM512_CIPHERTEXT_SIZE,
    MLKEM512_PUBLIC_KEY_SIZE,
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
    MLKEM1024_CIPHERTEXT_SIZE,
    MLKEM1024_PUBLIC_KEY_SIZE,
)
from .errors import UnknownKemError

FAMILY_MLKEM: Final = "ML-KEM"
FAMILY_HQC: Final = "HQC"
FAMILY_FRODOKEM: Final = "FrodoKEM"
FAMILY_BIKE: Final = "BIKE"


@dataclass(frozen=True)
class KemInfo:
    """One KEM's identity and sizes in bytes."""

    name: str
    code: int
    family: str
    nist_level: int
    public_key_size: int
    ciphertext_size: int
    shared_secret_size: int
    secret_key_size: int  # liboqs's secret key (for ML-KEM the expanded FIPS 203 key)
    state_size: int  # what a decapsulation state stores
    state_is_seed: bool  # True: the state is the seed d || z, and the public key follows from it
    ind_cca: bool  # liboqs's claim; BIKE's decoding failure rate keeps it IND-CPA only


def _mlkem(name: str, code: int, level: int, pk: int, ct: int, sk: int) -> KemInfo:
    return KemInfo(name, code, FAMILY_MLKEM, level, pk, ct, 32, sk, KEM_SEED_SIZE, True, True)


def _other(
    name: str, code: int, family: str, level: int, sizes: tuple[int, int, int, int], cca: bool
) -> KemInfo:
    pk, ct, ss, sk = sizes
    return KemInfo(name, code, family, level, pk, ct, ss, sk, sk, False, cca)


KEMS: Final[tuple[KemInfo, ...]] = (
    _mlkem("ML-KEM-512", 0x0101, 1, MLKEM512_PUBLIC_KEY_SIZE, MLKEM512_CIPHERTEXT_SIZE, 1632),
    _mlkem("ML-KEM-768", 0x0103, 3, MLKEM768_PUBLIC_KEY_SIZE, MLKEM768_CIPHERTEXT_SIZE, 2400),
    _mlkem("ML-KEM-1024", 0x0105, 5, MLKEM1024_PUBLIC_KEY_SIZE, MLKEM1024_CIPHERTEXT_SIZE, 3168),
    _other("HQC-1", 0x0201, FAMILY_HQC, 1, (2241, 4433, 32, 2321), True),
    _other("HQC-3", 0x0203, FAMILY_HQC, 3, (4514, 8978, 32, 4602), True),
    _other("HQC-5", 0x0205, FAMILY_HQC, 5, (7237, 14421, 32, 7333), True),
    _other("FrodoKEM-640-AES", 0x0301, FAMILY_FRODOKEM, 1, (9616, 9752, 16, 19888), True),
    _other("FrodoKEM-976-AES", 0x0303, FAMILY_FRODOKEM, 3, (15632, 15792, 24, 31296), True),
    _other("FrodoKEM-1344-AES", 0x0305, FAMILY_FRODOKEM, 5, (21520, 21696, 32, 43088), True),
    _other("FrodoKEM-640-SHAKE", 0x0401, FAMILY_FRODOKEM, 1, (9616, 9752, 16, 19888), True),
    _other("FrodoKEM-976-SHAKE", 0x0403, FAMILY_FRODOKEM, 3, (15632, 15792, 24, 31296), True),
    _other("FrodoKEM-1344-SHAKE", 0x0405, FAMILY_FRODOKEM, 5, (21520, 21696, 32, 43088), True),
    _other("BIKE-L1", 0x0501, FAMILY_BIKE, 1, (1541, 1573, 32, 5223), False),
    _other("BIKE-L3", 0x0503, FAMILY_BIKE, 3, (3083, 3115, 32, 10105), False),
    _other("BIKE-L5", 0x0505, FAMILY_BIKE, 5, (5122, 5154, 32, 16494), False),
)

_BY_NAME: Final = {info.name: info for info in KEMS}
_BY_CODE: Final = {info.code: info for info in KEMS}


def all_names() -> tuple[str, ...]:
    """Every KEM name in the table, whether or not this machine can run it."""
    return tuple(info.name for info in KEMS)


def by_name(name: str) -> KemInfo:
    """The row for `name`; raises UnknownKemError naming the known ones."""
    info = _BY_NAME.get(name) if isinstance(name, str) else None
    if info is None:
        shown = name if isinstance(name, str) and len(name) <= 64 else type(name).__name__
        raise UnknownKemError(f"unknown KEM {shown!r}; known: {', '.join(all_names())}")
    return info


def by_code(code: int) -> KemInfo | None:
    """The row with profile code `code`, or None."""
    return _BY_CODE.get(code)
