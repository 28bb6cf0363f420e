"""ML-KEM behind interchangeable backends, and every named KEM a profile may use
(spec/01-conventions.md §3, spec/10-profiles.md §2).

Owns: the OpenSSL (through `cryptography`) and kyber-py (the deterministic reference) ML-KEM
backends, backend selection, the three helpers the protocol calls, and `named()`/`names()`:
one interface over ML-KEM on any backend and HQC, FrodoKEM and BIKE through liboqs.
Not: the parameter sets and input checks (kem_base.py), liboqs (kem_liboqs.py), the KEM sizes
and codes (kem_table.py), what the shared secrets are mixed into (the key schedule), wire
framing, or the classical primitives (primitives.py). Their public names are re-exported here.

A decapsulation key exists only as its 64-byte seed d || z (FIPS 203 §7.1, that order) and is
expanded inside each call. A non-ML-KEM decapsulation state is liboqs's secret key. Seeds,
states and shared secrets must be kept secret; error messages carry lengths and indices, never
key bytes.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from .constants import KEM_COINS_SIZE, KEM_SEED_SIZE, KEM_SHARED_SECRET_SIZE
from .errors import BackendUnavailableError, InvalidKeyError, MalformedInputError, MisuseError
from .kem_base import BACKEND_PARAMS as BACKEND_PARAMS
from .kem_base import KNOWN_PARAMS as KNOWN_PARAMS
from .kem_base import MLKEM512 as MLKEM512
from .kem_base import MLKEM768 as MLKEM768
from .kem_base import MLKEM1024 as MLKEM1024
from .kem_base import KemBackend as KemBackend
from .kem_base import KemParams as KemParams
from .kem_base import NamedKem as NamedKem
from .kem_base import check_ciphertext, check_known, check_offered, check_seed
from .kem_base import check_public_key as check_public_key
from .kem_liboqs import LiboqsBackend as LiboqsBackend
from .kem_liboqs import find_liboqs as find_liboqs
from .kem_liboqs import randomness_from_deterministic_for_tests
from .kem_table import KemInfo, all_names, by_name
from .primitives import SYSTEM_RANDOM, RandomSource

ENV_BACKEND = "PQ3PROTO_KEM"
DEFAULT_BACKEND = "openssl"
BACKEND_NAMES = ("openssl", "reference", "liboqs")
REFERENCE_KYBER_PY_VERSION = "1.2.0"


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
        check_offered(self.name, params)
        check_seed(seed)
        if params == MLKEM768:
            return self._mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)
        return self._mlkem.MLKEM1024PrivateKey.from_seed_bytes(seed)

    def public_key_from_seed(self, params: KemParams, seed: bytes) -> bytes:
        return self._private_key(params, seed).public_key().public_bytes_raw()

    def expanded_key(self, params: KemParams, seed: bytes) -> tuple[bytes, _OpenSSLPrivateKey]:
        """public_key_from_seed, also returning the expanded private key (secret)."""
        key = self._private_key(params, seed)
        return key.public_key().public_bytes_raw(), key

    def encapsulate(self, params: KemParams, public_key: bytes) -> tuple[bytes, bytes]:
        self.validate_public_key(params, public_key)
        check_offered(self.name, params)
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
        check_ciphertext(params, ciphertext)
        return self.decapsulate_expanded(params, self._private_key(params, seed), ciphertext)

    def decapsulate_expanded(
        self, params: KemParams, key: _OpenSSLPrivateKey, ciphertext: bytes
    ) -> bytes:
        """decapsulate with the key expanded_key returned, without expanding the seed again."""
        check_ciphertext(params, ciphertext)
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
        check_known(params)
        check_seed(seed)
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
        check_ciphertext(params, ciphertext)
        check_seed(seed)
        kem = self._kem[params.name]
        _, expanded = kem.key_derive(bytes(seed))
        try:
            return bytes(kem.decaps(expanded, bytes(ciphertext)))
        except ValueError:
            raise MalformedInputError(f"kyber-py rejected the {params.name} ciphertext") from None

    def validate_public_key(self, params: KemParams, public_key: bytes) -> None:
        check_public_key(params, public_key)


# ── Backend selection ───────────────────────────────────────────────────────────────────

_FACTORIES: dict[str, type[OpenSSLBackend] | type[ReferenceBackend] | type[LiboqsBackend]] = {
    "openssl": OpenSSLBackend,
    "reference": ReferenceBackend,
    "liboqs": LiboqsBackend,
}
_INSTANCES: dict[str, KemBackend] = {}
# Backends whose encapsulate checks the key itself (FIPS 203 §7.2) before using it.
_CHECKING_BACKENDS = (OpenSSLBackend, ReferenceBackend, LiboqsBackend)


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
    if not isinstance(chosen, _CHECKING_BACKENDS):
        chosen.validate_public_key(params, public_key)
    # Otherwise the backend's own encapsulate runs the same check first, once.
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
    check_ciphertext(params, ciphertext)
    check_seed(seed)
    return (backend or get_backend()).decapsulate(params, seed, ciphertext)


# ── Named KEMs: ML-KEM on any backend, the others through liboqs ────────────────────────

_PARAMS_BY_NAME: dict[str, KemParams] = {params.name: params for params in KNOWN_PARAMS}


class _MlKem:
    """ML-KEM through one of the ML-KEM backends."""

    def __init__(self, info: KemInfo, params: KemParams, backend: KemBackend) -> None:
        self._info, self._params, self._backend = info, params, backend

    @property
    def info(self) -> KemInfo:
        return self._info

    def generate(self, rng: RandomSource = SYSTEM_RANDOM) -> tuple[bytes, bytes]:
        return generate_seed_and_key(self._params, rng, self._backend)

    def generate_expanded(self, rng: RandomSource = SYSTEM_RANDOM) -> tuple[bytes, bytes, Any]:
        backend = self._backend
        if not isinstance(backend, OpenSSLBackend):
            return (*self.generate(rng), None)
        seed = rng.random_bytes(KEM_SEED_SIZE)  # as generate_seed_and_key draws it
        public_key, key = backend.expanded_key(self._params, seed)
        return seed, public_key, key

    def encapsulate(
        self, public_key: bytes, rng: RandomSource = SYSTEM_RANDOM
    ) -> tuple[bytes, bytes]:
        return encapsulate(self._params, public_key, rng, self._backend)

    def decapsulate(self, state: bytes, ciphertext: bytes, expanded: Any = None) -> bytes:
        backend = self._backend
        if expanded is not None and isinstance(backend, OpenSSLBackend):
            check_seed(state)
            return backend.decapsulate_expanded(self._params, expanded, ciphertext)
        return decapsulate(self._params, state, ciphertext, backend)

    def validate_public_key(self, public_key: bytes) -> None:
        self._backend.validate_public_key(self._params, public_key)

    def __repr__(self) -> str:
        return f"NamedKem({self._info.name!r}, backend={self._backend.name!r})"


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
        if params not in BACKEND_PARAMS.get(chosen.name, KNOWN_PARAMS) or (
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


def public_key_from_seed(name: str, seed: bytes) -> bytes:
    """The encapsulation key of an ML-KEM seed d || z, for the ML-KEM called `name`."""
    params = _PARAMS_BY_NAME.get(by_name(name).name)
    if params is None:
        raise MisuseError(f"{name} keeps no seed: its public key cannot be rebuilt")
    return get_backend().public_key_from_seed(params, seed)


@contextmanager
def liboqs_randomness_deterministic_for_tests(draw: Callable[[int], bytes]) -> Iterator[None]:
    """Inside the block liboqs's randombytes returns draw(n); for vectors and tests only."""
    backend = get_backend("liboqs")
    assert isinstance(backend, LiboqsBackend)
    with randomness_from_deterministic_for_tests(backend.native(), draw):
        yield
