"""The optional C extension `_pq3proto_native`: loading it, and the C below the hot path.

Owns: whether the extension loaded and whether sessions use it (PQ3PROTO_NATIVE), the
mapping of its return codes to pq3proto.errors, per-thread C contexts, the C signing and
verifying keys, and the C functions that stand alone: the ratchet's ECDH step and root key,
the ML-KEM key check (kem_base.py), the symmetric floor.
Not: the per-message hot path over them (native.py), which imports this module, as
kem_base.py does without importing the message layers.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .constants import (
    CHAIN_KEY_SIZE,
    ECDH_SECRET_SIZE,
    MAX_KEM_SHARED_SECRET_SIZE,
    P256_POINT_SIZE,
    P256_SCALAR_SIZE,
    ROOT_KEY_SIZE,
)
from .errors import (
    AuthenticationError,
    BackendUnavailableError,
    InvalidKeyError,
    MalformedInputError,
    MisuseError,
    PQ3Error,
)
from .primitives import P256PrivateKey

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
U32_MAX = 0xFFFF_FFFF


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


def call_keyed(fn: Any, args: tuple[Any, ...], key: NativeSigner | NativeVerifier | None) -> int:
    """fn(*args, the key's C object) under the key's lock (an EVP_PKEY_CTX serves one call at
    a time; verification or signing runs inside the call); NULL without a key."""
    if key is None:
        return int(fn(*args, NULL))
    with key._lock:
        return int(fn(*args, key._ptr))


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


def need(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise MalformedInputError(f"{what} must be {size} bytes, got {len(data)}")


def check_index(index: int) -> None:
    if not 0 <= index <= U32_MAX:
        raise MalformedInputError(f"message index {index} does not fit in uint32")


# ── Keys ───────────────────────────────────────────────────────────────────────────────


class NativeSigner:
    """A P-256 signing key prepared once in C; serialised per object, free across objects."""

    __slots__ = ("_lock", "_ptr", "key")

    def __init__(self, key: P256PrivateKey) -> None:
        require()
        out = ffi.new("pq3_signer **")
        rc = lib.pq3_signer_new(out, key.scalar())
        if rc:
            raise_code(rc, "signer")
        self._ptr: Any = ffi.gc(out[0], lib.pq3_signer_free)
        self._lock = threading.Lock()
        self.key = key

    def __repr__(self) -> str:
        return "NativeSigner(<secret>)"


class NativeVerifier:
    """A peer's P-256 point, validated once in C and reused for every message."""

    __slots__ = ("_lock", "_ptr", "point")

    def __init__(self, point: bytes) -> None:
        require()
        if len(point) != P256_POINT_SIZE or point[0] != 0x04:
            raise InvalidKeyError(
                f"P-256 public key must be {P256_POINT_SIZE} bytes, uncompressed (0x04 prefix)"
            )
        out = ffi.new("pq3_verifier **")
        rc = lib.pq3_verifier_new(out, as_bytes(point))
        if rc:
            if rc == lib.PQ3_ERR_KEY:
                raise InvalidKeyError("P-256 public key is not a point on the curve")
            raise_code(rc, "verifier")
        self._ptr: Any = ffi.gc(out[0], lib.pq3_verifier_free)
        self._lock = threading.Lock()
        self.point = point


class _ThreadState(threading.local):
    """One C scratch context (the AES-CTR cipher) per thread, created on first use."""

    def __init__(self) -> None:
        require()
        out = ffi.new("pq3_ctx **")
        rc = lib.pq3_ctx_new(out)
        if rc:
            raise_code(rc, "context")
        self.ctx: Any = ffi.gc(out[0], lib.pq3_ctx_free)


_THREAD_STATE: _ThreadState | None = None
_THREAD_LOCK = threading.Lock()


def thread_state() -> _ThreadState:
    """The thread-local holder of every thread's C scratch context (the hot path's too)."""
    global _THREAD_STATE
    state = _THREAD_STATE
    if state is None:
        require()
        with _THREAD_LOCK:
            if _THREAD_STATE is None:
                _THREAD_STATE = _ThreadState()
            state = _THREAD_STATE
    return state


def _thread_ctx() -> Any:
    """This thread's C scratch context."""
    return thread_state().ctx


# ── The ratchet's ECDH step: functions the ratchet can call (Python twins in message.py) ─


def p256_public(scalar: bytes) -> bytes:
    """The SEC1 uncompressed public point of a private scalar; InvalidKeyError out of range."""
    ctx = _thread_ctx()
    need(scalar, P256_SCALAR_SIZE, "P-256 private scalar")
    out = alloc("uint8_t[65]")
    rc = lib.pq3_p256_public(ctx, out, as_bytes(scalar))
    if rc:
        raise_code(rc, "P-256 public point")
    return bytes(ffi.buffer(out))


def _check_point(point: bytes) -> None:
    if len(point) != P256_POINT_SIZE or point[0] != 0x04:
        raise InvalidKeyError(
            f"P-256 public key must be {P256_POINT_SIZE} bytes, uncompressed (0x04 prefix)"
        )


def raise_point(rc: int, what: str) -> None:
    if rc == lib.PQ3_ERR_KEY:
        raise InvalidKeyError("P-256 public key is not a point on the curve")
    raise_code(rc, what)


def ecdh(scalar: bytes, peer_point: bytes) -> bytes:
    """x(scalar * peer_point), 32 bytes, after validating the point (as primitives.exchange)."""
    ctx = _thread_ctx()
    need(scalar, P256_SCALAR_SIZE, "P-256 private scalar")
    _check_point(peer_point)
    out = alloc("uint8_t[32]")
    rc = lib.pq3_ecdh(ctx, out, as_bytes(scalar), as_bytes(peer_point))
    if rc:
        raise_point(rc, "ECDH")
    return bytes(ffi.buffer(out))


def kem_args(kem_secret: bytes | None) -> tuple[Any, int]:
    """The C (pointer, length) of a KEM secret: 16, 24 or 32 bytes for the profiles' KEMs."""
    if kem_secret is None:
        return NULL, 0
    if not 1 <= len(kem_secret) <= MAX_KEM_SHARED_SECRET_SIZE:
        raise MalformedInputError(
            f"KEM shared secret must be 1..{MAX_KEM_SHARED_SECRET_SIZE} bytes, "
            f"got {len(kem_secret)}"
        )
    return as_bytes(kem_secret), len(kem_secret)


def root_and_chain_key(
    old_root: bytes, ecdh_secret: bytes, kem_secret: bytes | None, dst: bytes
) -> tuple[bytes, bytes]:
    """kdf.root_and_chain_key in one C call: (root key, chain key)."""
    require()
    need(old_root, ROOT_KEY_SIZE, "root key")
    need(ecdh_secret, ECDH_SECRET_SIZE, "ECDH secret")
    rk = alloc("uint8_t[32]")
    ck = alloc("uint8_t[32]")
    dst = as_bytes(dst)
    rc = lib.pq3_root_and_chain_key(
        rk, ck, as_bytes(old_root), as_bytes(ecdh_secret), *kem_args(kem_secret), dst, len(dst)
    )
    if rc:
        raise_code(rc, "root key derivation")
    return ffi.buffer(rk)[:], ffi.buffer(ck)[:]


def ecdh_root_step(
    old_root: bytes, scalar: bytes, peer_point: bytes, kem_secret: bytes | None, dst: bytes
) -> tuple[bytes, bytes]:
    """ECDH with the peer point, then rootAndChainKey, in one C call; the secret stays in C."""
    ctx = _thread_ctx()
    need(old_root, ROOT_KEY_SIZE, "root key")
    need(scalar, P256_SCALAR_SIZE, "P-256 private scalar")
    _check_point(peer_point)
    rk = alloc("uint8_t[32]")
    ck = alloc("uint8_t[32]")
    dst = as_bytes(dst)
    rc = lib.pq3_ecdh_root_step(
        ctx,
        rk,
        ck,
        as_bytes(scalar),
        as_bytes(peer_point),
        as_bytes(old_root),
        *kem_args(kem_secret),
        dst,
        len(dst),
    )
    if rc:
        raise_point(rc, "ECDH step")
    return ffi.buffer(rk)[:], ffi.buffer(ck)[:]


def floor_symmetric(chain_key: bytes, plaintext: bytes, n: int) -> bytes:
    """The symmetric floor: n messages' HKDF + AES-256-CTR, both sides, in one C loop.

    Returns the chain key after n messages (so the work cannot be skipped).
    """
    ctx = _thread_ctx()
    need(chain_key, CHAIN_KEY_SIZE, "chain key")
    if n < 0:
        raise MisuseError("floor_symmetric needs n >= 0")
    plaintext = as_bytes(plaintext)
    scratch = alloc("uint8_t[]", 2 * len(plaintext) or 1)
    ck = alloc("uint8_t[32]")
    rc = lib.pq3_floor_symmetric(
        ctx, ck, scratch, as_bytes(chain_key), plaintext, len(plaintext), n
    )
    if rc:
        raise_code(rc, "symmetric floor")
    return bytes(ffi.buffer(ck))


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
