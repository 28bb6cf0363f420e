"""The optional C extension `_pq3proto_native`: loading it, and what needs nothing else.

Owns: whether the extension loaded and whether sessions use it (PQ3PROTO_NATIVE), the
mapping of its return codes to pq3proto.errors, and the C functions that stand alone (the
ML-KEM key check kem_base.py calls).
Not: the hot path over it (native.py), which imports this module, as kem_base.py does
without importing the message layers.
"""

from __future__ import annotations

import os
from typing import Any

from .errors import (
    AuthenticationError,
    BackendUnavailableError,
    InvalidKeyError,
    MalformedInputError,
    MisuseError,
    PQ3Error,
)

try:
    import _pq3proto_native as ext
except ImportError as exc:  # the extension is optional: pip installs without a compiler
    ext = None
    REASON = f"the C extension _pq3proto_native is not importable ({exc})"
else:
    REASON = ""

ffi: Any = ext.ffi if ext is not None else None
lib: Any = ext.lib if ext is not None else None
alloc: Any = ffi.new_allocator(should_clear_after_alloc=False) if ffi is not None else None
NULL: Any = ffi.NULL if ffi is not None else None


def available() -> bool:
    """True if the compiled extension loaded; says nothing of which path is in use."""
    return ext is not None


def selected() -> bool:
    """Whether sessions use the C path now: PQ3PROTO_NATIVE '0' no, '1' yes (or
    BackendUnavailableError if it did not load), unset: whenever it loaded."""
    choice = os.environ.get("PQ3PROTO_NATIVE", "").strip()
    if choice not in ("", "0", "1"):
        raise MisuseError("PQ3PROTO_NATIVE must be 0, 1 or unset")
    if choice == "0":
        return False
    if choice == "1" and not available():
        raise BackendUnavailableError(
            f"PQ3PROTO_NATIVE=1 but the native extension is not loaded: {REASON}"
        )
    return available()


def unavailable_reason() -> str:
    """Why the extension is not available; empty when it is."""
    return REASON


def require() -> None:
    if ext is None:
        raise BackendUnavailableError(f"native hot path unavailable: {REASON}")


def as_bytes(data: bytes) -> bytes:
    return data if type(data) is bytes else bytes(data)


# ── Return codes: the one place they become exceptions ─────────────────────────────────


def raise_code(rc: int, what: str) -> None:
    """Map a negative pq3_ return code to the pq3proto.errors class of that failure."""
    if rc == lib.PQ3_ERR_AUTH:
        raise AuthenticationError(f"{what}: signature does not verify or is not canonical")
    if rc == lib.PQ3_ERR_INDICATOR:
        raise AuthenticationError(f"{what}: key indicator does not match the derived message key")
    if rc == lib.PQ3_ERR_LENGTH:
        raise MalformedInputError(f"{what}: a length does not fit the message format")
    if rc == lib.PQ3_ERR_KEY:
        raise InvalidKeyError(f"{what}: not a valid P-256 key")
    if rc == lib.PQ3_ERR_ARGUMENT:
        raise MisuseError(f"{what}: missing argument")
    if rc == lib.PQ3_ERR_BATCH:
        raise MisuseError(f"{what}: not the next message of the given chain")
    raise PQ3Error(f"{what}: libcrypto failure (code {rc})")


# ── Functions that stand alone ──────────────────────────────────────────────────────────


def mlkem_modulus_check(t_hat: bytes) -> int:
    """FIPS 203 §7.2 modulus check of ByteEncode12 bytes: -1 if every coefficient < q, else
    the index of the first that is not (kem.check_public_key's check, in one C loop)."""
    require()
    if len(t_hat) % 3:
        raise MalformedInputError("ByteEncode12 data must be a multiple of 3 bytes")
    bad = ffi.new("size_t *")
    t_hat = as_bytes(t_hat)
    rc = lib.pq3_mlkem_modulus_check(bad, t_hat, len(t_hat))
    if rc == lib.PQ3_ERR_KEY:
        return int(bad[0])
    if rc:
        raise_code(rc, "ML-KEM key check")
    return -1
