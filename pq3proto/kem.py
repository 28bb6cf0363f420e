"""ML-KEM behind interchangeable backends, and every named KEM a profile may use
(spec/01-conventions.md §3, spec/10-profiles.md §2).

Owns: the ML-KEM parameter sets, the FIPS 203 §7.2 encapsulation-key check, the backends
(OpenSSL through `cryptography`, kyber-py as the deterministic reference, liboqs), backend
selection, the three helpers the protocol calls, and `named()`/`names()`: one interface over
ML-KEM on any backend and HQC, FrodoKEM and BIKE through liboqs.
Not: the KEM sizes and codes (kem_table.py), what the shared secrets are mixed into (the key
schedule), wire framing, or the classical primitives (primitives.py).

A decapsulation key exists only as its 64-byte seed d || z (FIPS 203 §7.1, that order) and is
expanded inside each call. A non-ML-KEM decapsulation state is liboqs's secret key. Seeds,
states and shared secrets must be kept secret; error messages carry lengths and indices, never
key bytes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import importlib.metadata
import os
import platform
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from .constants import (
    KEM_COINS_SIZE,
    KEM_SEED_SIZE,
    KEM_SHARED_SECRET_SIZE,
    MLKEM512_CIPHERTEXT_SIZE,
    MLKEM512_PUBLIC_KEY_SIZE,
    MLKEM768_CIPHERTEXT_SIZE,
    MLKEM768_PUBLIC_KEY_SIZE,
    MLKEM1024_CIPHERTEXT_SIZE,
    MLKEM1024_PUBLIC_KEY_SIZE,
)
from .errors import BackendUnavailableError, InvalidKeyError, MalformedInputError, MisuseError
from .kem_table import KemInfo, all_names, by_name
from .primitives import SYSTEM_RANDOM, RandomSource

ENV_BACKEND = "PQ3PROTO_KEM"
DEFAULT_BACKEND = "openssl"
BACKEND_NAMES = ("openssl", "reference", "liboqs")
REFERENCE_KYBER_PY_VERSION = "1.2.0"

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
_KNOWN_PARAMS = (MLKEM512, MLKEM768, MLKEM1024)
# `cryptography` offers ML-KEM-768 and -1024 only; kyber-py and liboqs offer all three.
_BACKEND_PARAMS: dict[str, tuple[KemParams, ...]] = {
    "openssl": (MLKEM768, MLKEM1024),
    "reference": _KNOWN_PARAMS,
    "liboqs": _KNOWN_PARAMS,
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
    below q, so the coefficients are compared directly.
    """
    _check_known(params)
    if len(public_key) != params.public_key_size:
        raise InvalidKeyError(
            f"{params.name} public key must be {params.public_key_size} bytes, "
            f"got {len(public_key)}"
        )
    t_hat = np.frombuffer(bytes(public_key), dtype=np.uint8, count=len(public_key) - _RHO_SIZE)
    b = t_hat.reshape(-1, 3).astype(np.uint16)
    coefficients = np.empty((b.shape[0], 2), dtype=np.uint16)
    coefficients[:, 0] = b[:, 0] | (b[:, 1] & 0x0F) << 8
    coefficients[:, 1] = b[:, 1] >> 4 | b[:, 2] << 4
    bad = np.flatnonzero(coefficients.reshape(-1) >= _Q)
    if bad.size:
        raise InvalidKeyError(
            f"{params.name} public key fails the modulus check at coefficient {int(bad[0])}"
        )


def _check_known(params: KemParams) -> None:
    if params not in _KNOWN_PARAMS:
        raise MisuseError(f"unknown KEM parameter set {params.name!r}")


def _check_offered(backend: str, params: KemParams) -> None:
    _check_known(params)
    if params not in _BACKEND_PARAMS[backend]:
        raise BackendUnavailableError(f"the {backend} KEM backend has no {params.name}")


def _check_seed(seed: bytes) -> None:
    if len(seed) != KEM_SEED_SIZE:
        raise MalformedInputError(f"ML-KEM seed must be {KEM_SEED_SIZE} bytes, got {len(seed)}")


def _check_ciphertext(params: KemParams, ciphertext: bytes) -> None:
    _check_known(params)
    if len(ciphertext) != params.ciphertext_size:
        raise MalformedInputError(
            f"{params.name} ciphertext must be {params.ciphertext_size} bytes, "
            f"got {len(ciphertext)}"
        )


# ── OpenSSL, through `cryptography` ─────────────────────────────────────────────────────


class _OpenSSLPublicKey(Protocol):
    def encapsulate(self) -> tuple[bytes, bytes]: ...


class _OpenSSLPrivateKey(Protocol):
    def public_key(self) -> _OpenSSLRawPublicKey: ...

    def decapsulate(self, ciphertext: bytes) -> bytes: ...


class _OpenSSLRawPublicKey(Protocol):
    def public_bytes_raw(self) -> bytes: ...


class OpenSSLBackend:
    """ML-KEM from the OpenSSL inside the `cryptography` wheel. The default."""

    name = "openssl"

    def __init__(self) -> None:
        try:
            from cryptography.exceptions import UnsupportedAlgorithm
            from cryptography.hazmat.primitives.asymmetric import mlkem
        except ImportError as exc:
            raise BackendUnavailableError(
                "the openssl KEM backend needs a `cryptography` release with ML-KEM "
                f"(install the 48.x wheel): {exc}"
            ) from None
        try:
            mlkem.MLKEM768PrivateKey.from_seed_bytes(bytes(KEM_SEED_SIZE))
        except UnsupportedAlgorithm:
            raise BackendUnavailableError(
                "the OpenSSL under `cryptography` has no ML-KEM (a source build against an "
                "older OpenSSL); install the `cryptography` wheel"
            ) from None
        self._mlkem = mlkem

    def _private_key(self, params: KemParams, seed: bytes) -> _OpenSSLPrivateKey:
        _check_offered(self.name, params)
        _check_seed(seed)
        if params == MLKEM768:
            return self._mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)
        return self._mlkem.MLKEM1024PrivateKey.from_seed_bytes(seed)

    def public_key_from_seed(self, params: KemParams, seed: bytes) -> bytes:
        return self._private_key(params, seed).public_key().public_bytes_raw()

    def encapsulate(self, params: KemParams, public_key: bytes) -> tuple[bytes, bytes]:
        self.validate_public_key(params, public_key)
        _check_offered(self.name, params)
        key: _OpenSSLPublicKey
        try:
            if params == MLKEM768:
                key = self._mlkem.MLKEM768PublicKey.from_public_bytes(public_key)
            else:
                key = self._mlkem.MLKEM1024PublicKey.from_public_bytes(public_key)
        except ValueError:
            raise InvalidKeyError(f"OpenSSL rejected the {params.name} public key") from None
        shared_secret, ciphertext = key.encapsulate()
        return shared_secret, ciphertext

    def decapsulate(self, params: KemParams, seed: bytes, ciphertext: bytes) -> bytes:
        _check_ciphertext(params, ciphertext)
        key = self._private_key(params, seed)
        try:
            return key.decapsulate(ciphertext)
        except ValueError:
            raise MalformedInputError(f"OpenSSL rejected the {params.name} ciphertext") from None

    def validate_public_key(self, params: KemParams, public_key: bytes) -> None:
        check_public_key(params, public_key)


# ── kyber-py, the deterministic reference ───────────────────────────────────────────────


class ReferenceBackend:
    """ML-KEM from kyber-py: exact and deterministic, slow, and not constant time.

    It exists for known answers and deterministic tests. It relies on kyber-py's underscored
    FIPS 203 internals, hence the pinned version.
    """

    name = "reference"

    def __init__(self) -> None:
        try:
            version = importlib.metadata.version("kyber-py")
        except importlib.metadata.PackageNotFoundError:
            raise BackendUnavailableError(
                f"the reference KEM backend needs kyber-py=={REFERENCE_KYBER_PY_VERSION}, "
                "which is not installed"
            ) from None
        if version != REFERENCE_KYBER_PY_VERSION:
            raise BackendUnavailableError(
                f"the reference KEM backend needs kyber-py=={REFERENCE_KYBER_PY_VERSION} "
                f"(it calls underscored internals), found {version}"
            )
        ml_kem: Any = importlib.import_module("kyber_py.ml_kem")
        self._kem: dict[str, Any] = {
            MLKEM512.name: ml_kem.ML_KEM_512,
            MLKEM768.name: ml_kem.ML_KEM_768,
            MLKEM1024.name: ml_kem.ML_KEM_1024,
        }

    def public_key_from_seed(self, params: KemParams, seed: bytes) -> bytes:
        _check_known(params)
        _check_seed(seed)
        public_key, _ = self._kem[params.name].key_derive(bytes(seed))
        return bytes(public_key)

    def encapsulate(self, params: KemParams, public_key: bytes) -> tuple[bytes, bytes]:
        # m comes from os.urandom here, never from kyber-py's swappable module-level DRBG.
        return self._encapsulate(params, public_key, os.urandom(KEM_COINS_SIZE))

    def encapsulate_derandomized_for_tests(
        self, params: KemParams, public_key: bytes, m: bytes
    ) -> tuple[bytes, bytes]:
        """ML-KEM.Encaps_internal(ek, m) (FIPS 203 Algorithm 17), for vectors and tests only.

        Returns (shared_secret, ciphertext). Reusing m with the same key repeats the secret.
        """
        if len(m) != KEM_COINS_SIZE:
            raise MisuseError(f"encapsulation randomness must be {KEM_COINS_SIZE} bytes")
        return self._encapsulate(params, public_key, m)

    def _encapsulate(self, params: KemParams, public_key: bytes, m: bytes) -> tuple[bytes, bytes]:
        self.validate_public_key(params, public_key)
        try:
            shared_secret, ciphertext = self._kem[params.name]._encaps_internal(
                bytes(public_key), bytes(m)
            )
        except ValueError:
            raise InvalidKeyError(f"kyber-py rejected the {params.name} public key") from None
        return bytes(shared_secret), bytes(ciphertext)

    def decapsulate(self, params: KemParams, seed: bytes, ciphertext: bytes) -> bytes:
        # The FIPS 203 §7.3 hash check on the expanded key is vacuous here: the key is expanded
        # from the seed inside this call, so H(ek) is always consistent.
        _check_ciphertext(params, ciphertext)
        _check_seed(seed)
        kem = self._kem[params.name]
        _, expanded = kem.key_derive(bytes(seed))
        try:
            return bytes(kem.decaps(expanded, bytes(ciphertext)))
        except ValueError:
            raise MalformedInputError(f"kyber-py rejected the {params.name} ciphertext") from None

    def validate_public_key(self, params: KemParams, public_key: bytes) -> None:
        check_public_key(params, public_key)


# ── liboqs, through liboqs-python ───────────────────────────────────────────────────────

_LIBOQS_HELP = (
    "build liboqs as a shared library (scripts/build-liboqs PREFIX in the pq3proto source "
    "tree builds it from a release tarball), set OQS_INSTALL_PATH=PREFIX or put liboqs where "
    "the dynamic linker finds it, and pip install 'pq3proto[oqs]'"
)


def find_liboqs() -> Path | str | None:
    """Where liboqs-python would load liboqs from, or None; never imports `oqs`.

    `import oqs` without the library counts down, tries to git-clone and build liboqs, and
    raises SystemExit. So this repeats its search (the linker's paths, then
    $OQS_INSTALL_PATH or ~/_oqs, under lib/ and lib64/) and loads the candidate to be sure.
    """
    candidates: list[Path | str] = []
    for name in ("oqs", "liboqs"):
        found = ctypes.util.find_library(name)
        if found:
            candidates.append(found)
    # Exactly liboqs-python's rule: a set-but-empty OQS_INSTALL_PATH is the current directory.
    install = os.environ.get("OQS_INSTALL_PATH")
    prefix = Path(install) if install is not None else Path.home() / "_oqs"
    system = platform.system()
    if system == "Windows":
        candidates += [prefix / "bin" / f"{n}.dll" for n in ("oqs", "liboqs")]
    else:
        suffix = ".dylib" if system == "Darwin" else ".so"
        candidates += [prefix / d / f"liboqs{suffix}" for d in ("lib", "lib64")]
    for candidate in candidates:
        if isinstance(candidate, Path) and not candidate.is_file():
            continue
        try:
            library = ctypes.CDLL(str(candidate))
        except OSError:
            continue
        if hasattr(library, "OQS_KEM_keypair_derand"):
            return candidate
    return None


class LiboqsBackend:
    """ML-KEM from liboqs, through liboqs-python (optional extra `oqs`)."""

    name = "liboqs"

    def __init__(self) -> None:
        if find_liboqs() is None:
            raise BackendUnavailableError(
                "the liboqs KEM backend needs the liboqs shared library (with "
                f"OQS_KEM_keypair_derand), which was not found: {_LIBOQS_HELP}"
            )
        try:
            importlib.metadata.version("liboqs-python")
        except importlib.metadata.PackageNotFoundError:
            raise BackendUnavailableError(
                "the liboqs KEM backend needs liboqs-python (pip install 'pq3proto[oqs]')"
            ) from None
        try:
            with warnings.catch_warnings():
                # liboqs-python warns when its version differs from the library's.
                warnings.simplefilter("ignore")
                oqs: ModuleType = importlib.import_module("oqs")
        except (Exception, SystemExit) as exc:
            # SystemExit is what liboqs-python raises when loading fails despite the check.
            raise BackendUnavailableError(f"liboqs-python failed to load liboqs: {exc!r}") from None
        self._oqs: Any = oqs
        self.enabled: frozenset[str] = frozenset(oqs.get_enabled_kem_mechanisms())
        self._sizes_ok: dict[str, bool] = {}
        for params in (MLKEM768, MLKEM1024):
            try:
                with self._oqs.KeyEncapsulation(params.name) as kem:
                    sizes = (kem.length_public_key, kem.length_ciphertext, kem.length_keypair_seed)
            except Exception as exc:
                raise BackendUnavailableError(
                    f"liboqs does not offer {params.name}: {exc!r}"
                ) from None
            if sizes != (params.public_key_size, params.ciphertext_size, KEM_SEED_SIZE):
                raise BackendUnavailableError(
                    f"liboqs {params.name} has unexpected sizes {sizes} (a pre-FIPS 203 build?)"
                )

    def native(self) -> Any:
        """The ctypes handle of the liboqs that liboqs-python loaded."""
        return self._oqs.native()

    def offers(self, info: KemInfo) -> bool:
        """Whether this build has `info`'s KEM with the sizes kem_table gives it."""
        if info.name not in self.enabled:
            return False
        cached = self._sizes_ok.get(info.name)
        if cached is None:
            with self._oqs.KeyEncapsulation(info.name) as kem:
                sizes = (
                    kem.length_public_key,
                    kem.length_ciphertext,
                    kem.length_shared_secret,
                    kem.length_secret_key,
                )
            expected = (
                info.public_key_size,
                info.ciphertext_size,
                info.shared_secret_size,
                info.secret_key_size,
            )
            cached = self._sizes_ok[info.name] = sizes == expected
        return cached

    def named(self, info: KemInfo) -> NamedKem:
        """`info`'s KEM through liboqs; BackendUnavailableError if this build lacks it."""
        if info.name not in self.enabled:
            raise BackendUnavailableError(f"this liboqs build has no {info.name}")
        if not self.offers(info):
            raise BackendUnavailableError(
                f"liboqs {info.name} has sizes other than spec/10-profiles.md gives"
            )
        return _OqsKem(info, self._oqs)

    def _offered(self, params: KemParams) -> None:
        _check_known(params)
        if params.name not in self.enabled:
            raise BackendUnavailableError(f"this liboqs build has no {params.name}")

    def public_key_from_seed(self, params: KemParams, seed: bytes) -> bytes:
        self._offered(params)
        _check_seed(seed)
        # OQS_KEM_keypair_derand takes the 64-byte seed as d || z, FIPS 203 order.
        with self._oqs.KeyEncapsulation(params.name) as kem:
            try:
                return bytes(kem.generate_keypair_seed(bytes(seed)))
            except (RuntimeError, ValueError) as exc:
                raise BackendUnavailableError(
                    f"liboqs {params.name} keygen failed: {exc}"
                ) from None

    def encapsulate(self, params: KemParams, public_key: bytes) -> tuple[bytes, bytes]:
        self.validate_public_key(params, public_key)
        self._offered(params)
        with self._oqs.KeyEncapsulation(params.name) as kem:
            try:
                ciphertext, shared_secret = kem.encap_secret(bytes(public_key))
            except RuntimeError:
                raise InvalidKeyError(f"liboqs rejected the {params.name} public key") from None
        # liboqs-python returns (ciphertext, shared_secret); this API is the other way round.
        return bytes(shared_secret), bytes(ciphertext)

    def decapsulate(self, params: KemParams, seed: bytes, ciphertext: bytes) -> bytes:
        _check_ciphertext(params, ciphertext)
        _check_seed(seed)
        self._offered(params)
        with self._oqs.KeyEncapsulation(params.name) as kem:
            try:
                kem.generate_keypair_seed(bytes(seed))
                shared_secret = kem.decap_secret(bytes(ciphertext))
            except (RuntimeError, ValueError) as exc:
                raise BackendUnavailableError(
                    f"liboqs {params.name} decaps failed: {exc}"
                ) from None
        return bytes(shared_secret)

    def validate_public_key(self, params: KemParams, public_key: bytes) -> None:
        check_public_key(params, public_key)


# ── Backend selection ───────────────────────────────────────────────────────────────────

_FACTORIES: dict[str, type[OpenSSLBackend] | type[ReferenceBackend] | type[LiboqsBackend]] = {
    "openssl": OpenSSLBackend,
    "reference": ReferenceBackend,
    "liboqs": LiboqsBackend,
}
_INSTANCES: dict[str, KemBackend] = {}


def get_backend(name: str | None = None) -> KemBackend:
    """The named backend; None means $PQ3PROTO_KEM if set, else "openssl".

    Raises MisuseError for an unknown name and BackendUnavailableError, naming what is
    missing, for a known one that cannot run here.
    """
    if name is None:
        name = os.environ.get(ENV_BACKEND) or DEFAULT_BACKEND
    if name not in _FACTORIES:
        raise MisuseError(f"unknown KEM backend {name!r}; known: {', '.join(BACKEND_NAMES)}")
    backend = _INSTANCES.get(name)
    if backend is None:
        backend = _INSTANCES[name] = _FACTORIES[name]()
    return backend


def reference_backend() -> ReferenceBackend:
    """The reference backend with its derandomized entry point."""
    backend = get_backend("reference")
    assert isinstance(backend, ReferenceBackend)
    return backend


def available_backends() -> dict[str, str | None]:
    """Each backend name mapped to None if it can run here, else the reason it cannot."""
    reasons: dict[str, str | None] = {}
    for name in BACKEND_NAMES:
        try:
            get_backend(name)
        except BackendUnavailableError as exc:
            reasons[name] = str(exc)
        else:
            reasons[name] = None
    return reasons


# ── What the protocol calls ─────────────────────────────────────────────────────────────


def generate_seed_and_key(
    params: KemParams, rng: RandomSource, backend: KemBackend | None = None
) -> tuple[bytes, bytes]:
    """A fresh key pair as (seed, public_key). The seed is the private key: keep it secret."""
    seed = rng.random_bytes(KEM_SEED_SIZE)
    return seed, (backend or get_backend()).public_key_from_seed(params, seed)


def encapsulate(
    params: KemParams,
    public_key: bytes,
    rng: RandomSource,
    backend: KemBackend | None = None,
) -> tuple[bytes, bytes]:
    """Validate the peer's key, then encapsulate to it: (shared_secret, ciphertext).

    The shared secret must be kept secret. With a deterministic `rng` (tests and vectors),
    m = rng.random_bytes(32) goes through the reference backend's derandomized entry point,
    whatever `backend` says.
    """
    chosen = backend or get_backend()
    chosen.validate_public_key(params, public_key)
    if rng.deterministic:
        m = rng.random_bytes(KEM_COINS_SIZE)
        return reference_backend().encapsulate_derandomized_for_tests(params, public_key, m)
    # Deviation: a non-deterministic rng is not drawn from; the backend's own CSPRNG supplies
    # m (OpenSSL and liboqs expose no derandomized encapsulation).
    shared_secret, ciphertext = chosen.encapsulate(params, public_key)
    if len(shared_secret) != KEM_SHARED_SECRET_SIZE or len(ciphertext) != params.ciphertext_size:
        raise BackendUnavailableError(f"KEM backend {chosen.name} returned wrong-size output")
    return shared_secret, ciphertext


def decapsulate(
    params: KemParams, seed: bytes, ciphertext: bytes, backend: KemBackend | None = None
) -> bytes:
    """The shared secret for `ciphertext`; a tampered one yields an unrelated secret.

    Only a wrong length raises (MalformedInputError); the result must be kept secret.
    """
    _check_ciphertext(params, ciphertext)
    _check_seed(seed)
    return (backend or get_backend()).decapsulate(params, seed, ciphertext)


# ── Named KEMs: ML-KEM on any backend, the others through liboqs ────────────────────────

_PARAMS_BY_NAME: dict[str, KemParams] = {params.name: params for params in _KNOWN_PARAMS}
_RANDOMBYTES = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)
_LIBOQS_RNG_LOCK = threading.Lock()


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
        ...

    def encapsulate(
        self, public_key: bytes, rng: RandomSource = SYSTEM_RANDOM
    ) -> tuple[bytes, bytes]:
        """Validate `public_key`, then encapsulate to it: (shared_secret, ciphertext)."""
        ...

    def decapsulate(self, state: bytes, ciphertext: bytes) -> bytes:
        """The shared secret; only wrong lengths raise (MalformedInputError)."""
        ...

    def validate_public_key(self, public_key: bytes) -> None:
        """Raises InvalidKeyError: FIPS 203 §7.2 for ML-KEM, the length for the others."""
        ...


class _MlKem:
    """ML-KEM through one of the ML-KEM backends."""

    def __init__(self, info: KemInfo, params: KemParams, backend: KemBackend) -> None:
        self._info, self._params, self._backend = info, params, backend

    @property
    def info(self) -> KemInfo:
        return self._info

    def generate(self, rng: RandomSource = SYSTEM_RANDOM) -> tuple[bytes, bytes]:
        return generate_seed_and_key(self._params, rng, self._backend)

    def encapsulate(
        self, public_key: bytes, rng: RandomSource = SYSTEM_RANDOM
    ) -> tuple[bytes, bytes]:
        return encapsulate(self._params, public_key, rng, self._backend)

    def decapsulate(self, state: bytes, ciphertext: bytes) -> bytes:
        return decapsulate(self._params, state, ciphertext, self._backend)

    def validate_public_key(self, public_key: bytes) -> None:
        self._backend.validate_public_key(self._params, public_key)

    def __repr__(self) -> str:
        return f"NamedKem({self._info.name!r}, backend={self._backend.name!r})"


class _OqsKem:
    """HQC, FrodoKEM or BIKE through liboqs-python."""

    def __init__(self, info: KemInfo, oqs: Any) -> None:
        self._info, self._oqs = info, oqs

    @property
    def info(self) -> KemInfo:
        return self._info

    def generate(self, rng: RandomSource = SYSTEM_RANDOM) -> tuple[bytes, bytes]:
        with self._randomness(rng), self._oqs.KeyEncapsulation(self._info.name) as kem:
            try:
                public_key = bytes(kem.generate_keypair())
                state = bytes(kem.export_secret_key())
            except (RuntimeError, ValueError) as exc:
                raise BackendUnavailableError(
                    f"liboqs {self._info.name} keygen failed: {exc}"
                ) from None
        self._check_output("public key", public_key, self._info.public_key_size)
        self._check_output("secret key", state, self._info.state_size)
        return state, public_key

    def encapsulate(
        self, public_key: bytes, rng: RandomSource = SYSTEM_RANDOM
    ) -> tuple[bytes, bytes]:
        self.validate_public_key(public_key)
        with self._randomness(rng), self._oqs.KeyEncapsulation(self._info.name) as kem:
            try:
                ciphertext, shared_secret = kem.encap_secret(bytes(public_key))
            except (RuntimeError, ValueError):
                raise InvalidKeyError(f"liboqs rejected the {self._info.name} public key") from None
        self._check_output("ciphertext", ciphertext, self._info.ciphertext_size)
        self._check_output("shared secret", shared_secret, self._info.shared_secret_size)
        # liboqs-python returns (ciphertext, shared_secret); this API is the other way round.
        return bytes(shared_secret), bytes(ciphertext)

    def decapsulate(self, state: bytes, ciphertext: bytes) -> bytes:
        name = self._info.name
        if len(state) != self._info.state_size:
            raise MalformedInputError(
                f"{name} state must be {self._info.state_size} bytes, got {len(state)}"
            )
        if len(ciphertext) != self._info.ciphertext_size:
            raise MalformedInputError(
                f"{name} ciphertext must be {self._info.ciphertext_size} bytes, "
                f"got {len(ciphertext)}"
            )
        with self._oqs.KeyEncapsulation(name, bytes(state)) as kem:
            try:
                shared_secret = bytes(kem.decap_secret(bytes(ciphertext)))
            except (RuntimeError, ValueError):
                raise MalformedInputError(f"liboqs rejected the {name} ciphertext") from None
        self._check_output("shared secret", shared_secret, self._info.shared_secret_size)
        return shared_secret

    def validate_public_key(self, public_key: bytes) -> None:
        # Deviation: HQC, FrodoKEM and BIKE define no encapsulation-key check beyond the
        # length (every byte string of that length is a key), and liboqs exposes none.
        if len(public_key) != self._info.public_key_size:
            raise InvalidKeyError(
                f"{self._info.name} public key must be {self._info.public_key_size} bytes, "
                f"got {len(public_key)}"
            )

    def _randomness(self, rng: RandomSource) -> Any:
        if rng.deterministic:
            return liboqs_randomness_deterministic_for_tests(rng.random_bytes)
        return _no_randomness_override()

    def _check_output(self, what: str, value: bytes, size: int) -> None:
        if len(value) != size:
            raise BackendUnavailableError(
                f"liboqs {self._info.name} returned a {len(value)}-byte {what}, not {size}"
            )

    def __repr__(self) -> str:
        return f"NamedKem({self._info.name!r}, backend='liboqs')"


@contextmanager
def _no_randomness_override() -> Iterator[None]:
    yield


@contextmanager
def liboqs_randomness_deterministic_for_tests(draw: Callable[[int], bytes]) -> Iterator[None]:
    """Inside the block, liboqs's randombytes returns draw(n); for vectors and tests only.

    liboqs's random source is process-wide, so a lock serialises these blocks; a liboqs call
    from another thread during one would draw from `draw` too. Leaving the block restores
    the system source.
    """
    lib = _liboqs_library()
    failures: list[str] = []

    def callback(buffer: Any, n: int) -> None:
        try:
            data = draw(n)
            if len(data) != n:
                raise MisuseError(f"the random source gave {len(data)} bytes, not {n}")
        except Exception as exc:
            # An exception cannot cross into C: fill nothing random-looking, fail afterwards.
            failures.append(type(exc).__name__)
            data = bytes(n)
        ctypes.memmove(buffer, data, n)

    hook = _RANDOMBYTES(callback)
    with _LIBOQS_RNG_LOCK:
        lib.OQS_randombytes_custom_algorithm(hook)
        try:
            yield
        finally:
            lib.OQS_randombytes_switch_algorithm(b"system")
    if failures:
        raise MisuseError(f"the deterministic random source failed inside liboqs: {failures[0]}")


def _liboqs_library() -> Any:
    backend = get_backend("liboqs")
    assert isinstance(backend, LiboqsBackend)
    return backend.native()


def _liboqs_for(name: str) -> LiboqsBackend:
    try:
        backend = get_backend("liboqs")
    except BackendUnavailableError as exc:
        raise BackendUnavailableError(f"{name} needs liboqs: {exc}") from None
    assert isinstance(backend, LiboqsBackend)
    return backend


def named(name: str, backend: KemBackend | None = None) -> NamedKem:
    """The KEM called `name` (liboqs's spelling, e.g. "ML-KEM-768", "HQC-1").

    ML-KEM runs on `backend` (None: the one get_backend() picks); the others need liboqs,
    whatever `backend` says. Raises UnknownKemError for a name not in kem_table, and
    BackendUnavailableError, with the install hint, for one this machine cannot run.
    """
    info = by_name(name)
    params = _PARAMS_BY_NAME.get(info.name)
    if params is not None:
        chosen = backend or get_backend()
        if params not in _BACKEND_PARAMS.get(chosen.name, _KNOWN_PARAMS) or (
            isinstance(chosen, LiboqsBackend) and info.name not in chosen.enabled
        ):
            raise BackendUnavailableError(
                f"the {chosen.name} KEM backend has no {info.name}; choose another with "
                f"{ENV_BACKEND} (the reference and liboqs backends have every ML-KEM)"
            )
        return _MlKem(info, params, chosen)
    oqs_backend = _liboqs_for(info.name)
    return oqs_backend.named(info)


def names(backend: KemBackend | None = None) -> tuple[str, ...]:
    """The KEMs this machine can run, in kem_table order: ML-KEM on every backend (ML-KEM-512
    not on openssl), the others when liboqs is present."""
    chosen = backend or get_backend()
    try:
        oqs_backend: LiboqsBackend | None = _liboqs_for("")
    except BackendUnavailableError:
        oqs_backend = None
    runnable: list[str] = []
    for name in all_names():
        if name in _PARAMS_BY_NAME:
            try:
                named(name, chosen)
            except BackendUnavailableError:
                continue
            runnable.append(name)
        elif oqs_backend is not None and oqs_backend.offers(by_name(name)):
            runnable.append(name)
    return tuple(runnable)
