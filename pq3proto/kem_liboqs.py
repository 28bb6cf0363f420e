"""HQC, FrodoKEM, BIKE and ML-KEM from liboqs, through liboqs-python (optional extra `oqs`).

Owns: finding the liboqs shared library without importing `oqs`, the liboqs ML-KEM backend,
the liboqs named KEMs, and routing liboqs's randomness to a deterministic source for tests.
Not: backend selection (kem.py) or the KEM sizes (kem_table.py).
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
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import ModuleType
from typing import Any

from .constants import KEM_SEED_SIZE
from .errors import BackendUnavailableError, InvalidKeyError, MalformedInputError, MisuseError
from .kem_base import (
    MLKEM768,
    MLKEM1024,
    KemParams,
    NamedKem,
    check_ciphertext,
    check_known,
    check_public_key,
    check_seed,
)
from .kem_table import KemInfo
from .primitives import SYSTEM_RANDOM, RandomSource

_RANDOMBYTES = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)
_LIBOQS_RNG_LOCK = threading.Lock()

LIBOQS_HELP = (
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
                f"OQS_KEM_keypair_derand), which was not found: {LIBOQS_HELP}"
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
        check_known(params)
        if params.name not in self.enabled:
            raise BackendUnavailableError(f"this liboqs build has no {params.name}")

    def public_key_from_seed(self, params: KemParams, seed: bytes) -> bytes:
        self._offered(params)
        check_seed(seed)
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
        check_ciphertext(params, ciphertext)
        check_seed(seed)
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

    def generate_expanded(self, rng: RandomSource = SYSTEM_RANDOM) -> tuple[bytes, bytes, Any]:
        return (*self.generate(rng), None)  # the state is liboqs's secret key: nothing to expand

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

    def decapsulate(self, state: bytes, ciphertext: bytes, expanded: Any = None) -> bytes:
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

    def _randomness(self, rng: RandomSource) -> AbstractContextManager[None]:
        if rng.deterministic:
            return randomness_from_deterministic_for_tests(self._oqs.native(), rng.random_bytes)
        return nullcontext()

    def _check_output(self, what: str, value: bytes, size: int) -> None:
        if len(value) != size:
            raise BackendUnavailableError(
                f"liboqs {self._info.name} returned a {len(value)}-byte {what}, not {size}"
            )

    def __repr__(self) -> str:
        return f"NamedKem({self._info.name!r}, backend='liboqs')"


@contextmanager
def randomness_from_deterministic_for_tests(
    lib: Any, draw: Callable[[int], bytes]
) -> Iterator[None]:
    """Inside the block, liboqs's randombytes returns draw(n); for vectors and tests only.

    liboqs's random source is process-wide, so a lock serialises these blocks; a liboqs call
    from another thread during one would draw from `draw` too. Leaving the block restores
    the system source.
    """
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
