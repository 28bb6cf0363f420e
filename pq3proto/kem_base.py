"""What every KEM backend shares: the ML-KEM parameter sets, the input checks, and the two
interfaces (spec/01-conventions.md §3, spec/10-profiles.md §2).

Owns: KemParams and the three ML-KEM sets, the FIPS 203 §7.2 encapsulation-key check, length
checks, which backend offers which set, and the KemBackend and NamedKem protocols.
Not: any backend (kem.py, kem_liboqs.py) or backend selection (kem.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from . import native_ext
from .constants import (
    KEM_SEED_SIZE,
    MLKEM512_CIPHERTEXT_SIZE,
    MLKEM512_PUBLIC_KEY_SIZE,
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
    MLKEM1024_CIPHERTEXT_SIZE,
    MLKEM1024_PUBLIC_KEY_SIZE,
)
from .errors import BackendUnavailableError, InvalidKeyError, MalformedInputError, MisuseError
from .kem_table import KemInfo
from .primitives import SYSTEM_RANDOM, RandomSource

_Q = 3329  # the ML-KEM modulus q
_RHO_SIZE = 32  # the matrix seed ρ that ends every encapsulation key


@dataclass(frozen=True)
class KemParams:
    """One ML-KEM parameter set, named as in FIPS 203."""

    name: str
    public_key_size: int
    ciphertext_size: int


MLKEM512 = KemParams("ML-KEM-512", MLKEM512_PUBLIC_KEY_SIZE, MLKEM512_CIPHERTEXT_SIZE)
MLKEM768 = KemParams("ML-KEM-768", MLKEM768_PUBLIC_KEY_SIZE, MLKEM768_CIPHERTEXT_SIZE)
MLKEM1024 = KemParams("ML-KEM-1024", MLKEM1024_PUBLIC_KEY_SIZE, MLKEM1024_CIPHERTEXT_SIZE)
KNOWN_PARAMS = (MLKEM512, MLKEM768, MLKEM1024)
# `cryptography` offers ML-KEM-768 and -1024 only; kyber-py and liboqs offer all three.
BACKEND_PARAMS: dict[str, tuple[KemParams, ...]] = {
    "openssl": (MLKEM768, MLKEM1024),
    "reference": KNOWN_PARAMS,
    "liboqs": KNOWN_PARAMS,
}


class KemBackend(Protocol):
    """An ML-KEM implementation. Every method checks its own input lengths."""

    name: str

    def public_key_from_seed(self, params: KemParams, seed: bytes) -> bytes:
        """ML-KEM.KeyGen_internal(d, z) from seed = d || z; returns the encapsulation key."""

    def encapsulate(self, params: KemParams, public_key: bytes) -> tuple[bytes, bytes]:
        """ML-KEM.Encaps with fresh randomness; returns (shared_secret, ciphertext)."""

    def decapsulate(self, params: KemParams, seed: bytes, ciphertext: bytes) -> bytes:
        """ML-KEM.Decaps with implicit rejection; never raises for a right-length ciphertext."""

    def validate_public_key(self, params: KemParams, public_key: bytes) -> None:
        """FIPS 203 §7.2 type and modulus checks; raises InvalidKeyError."""


# ── Input checks shared by every backend ────────────────────────────────────────────────


def check_public_key(params: KemParams, public_key: bytes) -> None:
    """FIPS 203 §7.2 encapsulation input check: the length, then every coefficient < q.

    ByteEncode12(ByteDecode12(x)) == x holds exactly when each 12-bit coefficient of x is
    below q, so the coefficients are compared directly: in one C loop when the native path
    is in use (native_ext.mlkem_modulus_check: 2 µs a key), else with numpy (9 µs).
    """
    check_known(params)
    if len(public_key) != params.public_key_size:
        raise InvalidKeyError(
            f"{params.name} public key must be {params.public_key_size} bytes, "
            f"got {len(public_key)}"
        )
    t_hat = bytes(public_key[: len(public_key) - _RHO_SIZE])
    if native_ext.selected():
        bad = native_ext.mlkem_modulus_check(t_hat)
    else:
        bad = _modulus_check_numpy(t_hat)
    if bad >= 0:
        raise InvalidKeyError(
            f"{params.name} public key fails the modulus check at coefficient {bad}"
        )



def _modulus_check_numpy(t_hat: bytes) -> int:
    """-1 if every 12-bit coefficient of t_hat is below q, else the index of the first."""
    b = np.frombuffer(t_hat, dtype=np.uint8).reshape(-1, 3).astype(np.uint16)
    coefficients = np.empty((b.shape[0], 2), dtype=np.uint16)
    coefficients[:, 0] = b[:, 0] | (b[:, 1] & 0x0F) << 8
    coefficients[:, 1] = b[:, 1] >> 4 | b[:, 2] << 4
    bad = np.flatnonzero(coefficients.reshape(-1) >= _Q)
    return int(bad[0]) if bad.size else -1


def check_known(params: KemParams) -> None:
    if params not in KNOWN_PARAMS:
        raise MisuseError(f"unknown KEM parameter set {params.name!r}")


def check_offered(backend: str, params: KemParams) -> None:
    check_known(params)
    if params not in BACKEND_PARAMS[backend]:
        raise BackendUnavailableError(f"the {backend} KEM backend has no {params.name}")


def check_seed(seed: bytes) -> None:
    if len(seed) != KEM_SEED_SIZE:
        raise MalformedInputError(f"ML-KEM seed must be {KEM_SEED_SIZE} bytes, got {len(seed)}")


def check_ciphertext(params: KemParams, ciphertext: bytes) -> None:
    check_known(params)
    if len(ciphertext) != params.ciphertext_size:
        raise MalformedInputError(
            f"{params.name} ciphertext must be {params.ciphertext_size} bytes, "
            f"got {len(ciphertext)}"
        )


class NamedKem(Protocol):
    """One KEM, by its liboqs name. Every method checks its own input lengths.

    A decapsulation state is secret: for ML-KEM the 64-byte seed d || z, otherwise liboqs's
    secret key (info.state_size bytes either way). With a deterministic `rng` (tests and
    vectors) every random byte comes from it; otherwise the library's own CSPRNG supplies
    them and `rng` is not drawn from, as for ML-KEM encapsulation.
    """

    @property
    def info(self) -> KemInfo: ...

    def generate(self, rng: RandomSource = SYSTEM_RANDOM) -> tuple[bytes, bytes]:
        """A fresh key pair as (state, public_key)."""

    def encapsulate(
        self, public_key: bytes, rng: RandomSource = SYSTEM_RANDOM
    ) -> tuple[bytes, bytes]:
        """Validate `public_key`, then encapsulate to it: (shared_secret, ciphertext)."""

    def generate_expanded(self, rng: RandomSource = SYSTEM_RANDOM) -> tuple[bytes, bytes, Any]:
        """generate, plus the backend's expanded decapsulation key, or None where it keeps
        none: (state, public_key, expanded). `expanded` is secret and lives in memory only;
        decapsulate(state, ct, expanded) then skips expanding the state again."""

    def decapsulate(self, state: bytes, ciphertext: bytes, expanded: Any = None) -> bytes:
        """The shared secret; only wrong lengths raise (MalformedInputError). `expanded`, if
        given, must be what generate_expanded returned with this state."""

    def validate_public_key(self, public_key: bytes) -> None:
        """Raises InvalidKeyError: FIPS 203 §7.2 for ML-KEM, the length for the others."""
