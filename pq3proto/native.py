"""The C per-message hot path behind the HotPath interface (spec/03-ratchet.md §4).

Owns: per-thread C contexts, the C keys, the ratchet's C ECDH step, and NATIVE: the same
bytes and the same failures as message.PythonHotPath, with one C call per message (or per
new chain's first message).
Not: the batch calls (native_batch.py), loading the extension and mapping its return codes
(native_ext.py), the C code (native/pq3native_*.c), the HotPath object sessions get
(paths.py), or RFC 6979 nonces, which OpenSSL 3.0 lacks: deterministic signatures are made
here, in Python, over the digest the C computes.
"""

from __future__ import annotations

from typing import Any

from .constants import (
    CHAIN_KEY_SIZE,
    KEY_INDICATOR_SIZE,
    LENGTH_PREFIX_SIZE,
    MAX_AUTH_DATA_LENGTH,
    MAX_PLAINTEXT_LENGTH,
    P256_POINT_SIZE,
    P256_SCALAR_SIZE,
    P256_SIGNATURE_SIZE,
    ROOT_KEY_SIZE,
    U32_MAX,
)
from .errors import (
    MESSAGE_SIGNATURE_FAILED,
    AuthenticationError,
    MalformedInputError,
)
from .message import (
    PYTHON,
    SendingChain,
    sign_prehashed_deterministic,
)
from .native_batch import _ZERO_POINT, NativeBatches
from .native_ext import NULL as _NULL
from .native_ext import (
    NativeSigner,
    NativeVerifier,
    available,
    ecdh,
    ecdh_root_step,
    floor_symmetric,
    mlkem_modulus_check,
    p256_public,
    root_and_chain_key,
    selected,
    thread_state,
    unavailable_reason,
)
from .native_ext import alloc as _alloc
from .native_ext import as_bytes as _bytes
from .native_ext import call_keyed as _keyed
from .native_ext import check_index as _index
from .native_ext import ffi as _ffi
from .native_ext import kem_args as _kem_args
from .native_ext import lib as _lib
from .native_ext import need as _need
from .native_ext import raise_code as _raise
from .native_ext import raise_point as _raise_point
from .native_ext import require as _require
from .primitives import P256PrivateKey, RandomSource
from .wire import PLAIN_HEADER_PREFIX, PLAIN_HEADER_SIZE, ParsedMessage

__all__ = [
    "NATIVE",
    "NativeHotPath",
    "NativeSigner",
    "NativeVerifier",
    "active_path",
    "available",
    "ecdh",
    "ecdh_root_step",
    "floor_symmetric",
    "mlkem_modulus_check",
    "p256_public",
    "root_and_chain_key",
    "selected",
    "unavailable_reason",
]

_NEW_CHAIN_KEYS = P256_POINT_SIZE + 2 * ROOT_KEY_SIZE  # pq3_seal_new_chain's keys_out
# After the chain header: index, indicator, then lp(auth data); lp(ct), signature follow.
_AD_LENGTH_AT = LENGTH_PREFIX_SIZE + KEY_INDICATOR_SIZE
_FIXED = 3 * LENGTH_PREFIX_SIZE + KEY_INDICATOR_SIZE + P256_SIGNATURE_SIZE


def active_path() -> str:
    """The path sessions use now: "native" or "python", after PQ3PROTO_NATIVE."""
    return NATIVE.name if selected() else PYTHON.name


def _check_signed_fields(msg: ParsedMessage) -> None:
    """Fixed-size fields the C reads; a wrong size cannot carry a valid signature."""
    if len(msg.signature) != P256_SIGNATURE_SIZE:
        raise AuthenticationError(MESSAGE_SIGNATURE_FAILED)
    if len(msg.indicator) != KEY_INDICATOR_SIZE or (
        len(msg.header.ecdh_public_key) != P256_POINT_SIZE
    ):
        raise AuthenticationError(MESSAGE_SIGNATURE_FAILED)


# ── The hot path ───────────────────────────────────────────────────────────────────────


class NativeHotPath(NativeBatches):
    """message.HotPath over the C extension; outputs equal PythonHotPath's byte for byte."""

    name = "native"

    def __init__(self) -> None:
        self._local: Any = None  # native_ext.thread_state(), once used
        # The checked C arguments of the latest chains sealed and opened on, by id() of the
        # chain object (public values). Each entry holds its chain, so that id is not reused
        # while cached; one tuple per entry, so a thread reads a consistent one.
        self._sealing: dict[int, tuple[SendingChain, bytes, bytes, bytes, int]] = {}
        self._opening: dict[int, tuple[SendingChain, bytes, bytes]] = {}

    def _ctx(self) -> Any:
        local = self._local
        if local is None:
            self._local = local = thread_state()
        return local.ctx

    def signer(self, key: P256PrivateKey) -> NativeSigner:
        return NativeSigner(key)

    def verifier(self, point: bytes) -> NativeVerifier:
        return NativeVerifier(point)

    def p256_generate(self, rng: RandomSource) -> P256PrivateKey:
        local = self._local
        ctx = local.ctx if local is not None else self._ctx()
        out = _alloc("uint8_t[65]")
        while True:
            # draw_scalar's rejection sampling, the range check done by the C, which
            # refuses exactly 0 and values >= n with PQ3_ERR_KEY.
            scalar = _bytes(rng.random_bytes(P256_SCALAR_SIZE))
            if len(scalar) != P256_SCALAR_SIZE:  # a broken random source
                _need(scalar, P256_SCALAR_SIZE, "P-256 private scalar")
            rc = _lib.pq3_p256_public(ctx, out, scalar)
            if rc != _lib.PQ3_ERR_KEY:
                break
        if rc:
            _raise(rc, "P-256 public point")
        return P256PrivateKey.from_computed_public(scalar, _ffi.buffer(out)[:])

    def ecdh_root_step(
        self,
        old_root: bytes,
        key: P256PrivateKey,
        peer_point: bytes,
        kem_secret: bytes | None,
        dst: bytes,
    ) -> tuple[bytes, bytes]:
        scalar = key.scalar()
        if (
            type(old_root) is not bytes
            or type(peer_point) is not bytes
            or type(dst) is not bytes
            or len(old_root) != ROOT_KEY_SIZE
            or len(scalar) != P256_SCALAR_SIZE
            or len(peer_point) != P256_POINT_SIZE
            or peer_point[0] != 0x04
        ):
            return ecdh_root_step(old_root, scalar, peer_point, kem_secret, dst)  # its errors
        local = self._local
        ctx = local.ctx if local is not None else self._ctx()
        kem, kem_len = _kem_args(kem_secret)
        buf = _alloc("uint8_t[64]")  # the root key, then the chain key
        rc = _lib.pq3_ecdh_root_step(
            ctx, buf, buf + ROOT_KEY_SIZE, scalar, peer_point, old_root, kem, kem_len, dst,
            len(dst),
        )
        if rc:
            _raise_point(rc, "ECDH step")
        out = _ffi.buffer(buf)
        return out[:ROOT_KEY_SIZE], out[ROOT_KEY_SIZE:]

    def chain_step(self, chain_key: bytes) -> tuple[bytes, bytes]:
        _require()
        _need(chain_key, CHAIN_KEY_SIZE, "chain key")
        mk = _alloc("uint8_t[32]")
        ck = _alloc("uint8_t[32]")
        rc = _lib.pq3_chain_step(mk, ck, _bytes(chain_key))
        if rc:
            _raise(rc, "chain step")
        return bytes(_ffi.buffer(mk)), bytes(_ffi.buffer(ck))

    def _prepared(self, chain: SendingChain) -> tuple[SendingChain, bytes, bytes, bytes, int]:
        """The chain's C arguments and fixed wire size, checked once per chain object."""
        cached = self._sealing.get(id(chain))
        if cached is not None and cached[0] is chain:
            return cached
        header, tail = _bytes(chain.header_bytes), _bytes(chain.signature_tail)
        point = _bytes(chain.ecdh_public_key)
        _need(point, P256_POINT_SIZE, "ecdhPK")
        fixed = _lib.pq3_wire_length(len(header), 0, 0)
        if fixed == 0:
            raise MalformedInputError("message: a length does not fit the message format")
        prepared = (chain, header, tail, point, fixed)
        # Only immutable fields may be reused: a bytearray could change under the cache.
        if all(
            type(x) is bytes
            for x in (chain.header_bytes, chain.signature_tail, chain.ecdh_public_key)
        ):
            _remember(self._sealing, id(chain), prepared)
        return prepared

    def seal(
        self,
        chain_key: bytes,
        index: int,
        chain: SendingChain,
        auth_data: bytes,
        plaintext: bytes,
        signer: NativeSigner | None,
        deterministic: bool = False,
    ) -> tuple[bytes, bytes]:
        local = self._local
        ctx = local.ctx if local is not None else self._ctx()
        # Inline type checks: this is the per-message path (see _bytes).
        if type(chain_key) is not bytes:
            chain_key = bytes(chain_key)
        if len(chain_key) != CHAIN_KEY_SIZE:
            _need(chain_key, CHAIN_KEY_SIZE, "chain key")
        cached = self._sealing.get(id(chain))
        if cached is None or cached[0] is not chain:
            cached = self._prepared(chain)
        _, header, tail, point, fixed = cached
        if not 0 <= index <= U32_MAX:
            _index(index)
        if type(auth_data) is not bytes:
            auth_data = bytes(auth_data)
        if type(plaintext) is not bytes:
            plaintext = bytes(plaintext)
        ad_len, pt_len = len(auth_data), len(plaintext)
        if ad_len > U32_MAX or pt_len > U32_MAX:
            raise MalformedInputError("message: a length does not fit the message format")
        size = fixed + ad_len + pt_len
        buf = _alloc("uint8_t[]", size + CHAIN_KEY_SIZE)  # the wire, then the next chain key
        # RFC 6979 is not in OpenSSL 3.0: the C returns the body's digest, signed below.
        prehash = signer is not None and deterministic
        digest = _alloc("uint8_t[32]") if prehash else _NULL
        args = (
            ctx,
            buf,
            size,
            buf + size,
            digest,
            chain_key,
            index,
            header,
            len(header),
            point,
            tail,
            len(tail),
            auth_data,
            ad_len,
            plaintext,
            pt_len,
        )
        rc = _keyed(_lib.pq3_seal, args, None if prehash else signer)
        if rc:
            _raise(rc, "seal")
        out_buf = _ffi.buffer(buf)
        out: bytes = out_buf[:size]
        if prehash:
            assert signer is not None
            out = _signed_deterministic(out, signer, digest)
        return out, out_buf[size:]

    def seal_new_chain(
        self,
        old_root: bytes,
        scalar: bytes,
        peer_point: bytes,
        dst_prefix: bytes,
        tail: bytes,
        auth_data: bytes,
        plaintext: bytes,
        signer: NativeSigner | None,
        deterministic: bool = False,
    ) -> tuple[P256PrivateKey, bytes, bytes, bytes]:
        local = self._local
        ctx = local.ctx if local is not None else self._ctx()
        args = (old_root, scalar, peer_point, dst_prefix, tail, auth_data, plaintext)
        if any(type(x) is not bytes for x in args):
            old_root, scalar, peer_point, dst_prefix, tail, auth_data, plaintext = map(
                _bytes, args
            )
        _need(old_root, ROOT_KEY_SIZE, "root key")
        _need(scalar, P256_SCALAR_SIZE, "P-256 private scalar")
        _need(peer_point, P256_POINT_SIZE, "peer point")
        size = _lib.pq3_wire_length(PLAIN_HEADER_SIZE, len(auth_data), len(plaintext))
        if size == 0:
            raise MalformedInputError("message: a length does not fit the message format")
        buf = _alloc("uint8_t[]", size + _NEW_CHAIN_KEYS)  # the wire, then point, rk, ck
        prehash = signer is not None and deterministic
        digest = _alloc("uint8_t[32]") if prehash else _NULL
        c_args = (
            ctx, buf, size, buf + size, digest, scalar, peer_point, old_root,
            PLAIN_HEADER_PREFIX, dst_prefix, len(dst_prefix), tail, len(tail), auth_data,
            len(auth_data), plaintext, len(plaintext),
        )
        rc = _keyed(_lib.pq3_seal_new_chain, c_args, None if prehash else signer)
        if rc:
            _raise_point(rc, "new chain")
        out = _ffi.buffer(buf)
        wire: bytes = out[:size]
        if prehash:
            assert signer is not None
            wire = _signed_deterministic(wire, signer, digest)
        p = size + P256_POINT_SIZE
        key = P256PrivateKey.from_computed_public(scalar, out[size:p])
        return key, out[p : p + ROOT_KEY_SIZE], out[p + ROOT_KEY_SIZE : p + 2 * ROOT_KEY_SIZE], wire

    def verify(self, msg: ParsedMessage, tail: bytes, verifier: NativeVerifier) -> None:
        _index(msg.index)
        _check_signed_fields(msg)
        tail = _bytes(tail)
        with verifier._lock:
            rc = _lib.pq3_verify(
                verifier._ptr,
                msg.signature,
                msg.ciphertext,
                len(msg.ciphertext),
                msg.auth_data,
                len(msg.auth_data),
                msg.indicator,
                msg.header.ecdh_public_key,
                msg.index,
                tail,
                len(tail),
            )
        if rc:
            _raise(rc, "message")

    def open(
        self,
        key: bytes,
        is_message_key: bool,
        msg: ParsedMessage,
        tail: bytes,
        verifier: NativeVerifier | None,
    ) -> tuple[bytes, bytes | None]:
        local = self._local
        ctx = local.ctx if local is not None else self._ctx()
        if type(key) is not bytes:
            key = bytes(key)
        if len(key) != CHAIN_KEY_SIZE:
            _need(key, CHAIN_KEY_SIZE, "message key" if is_message_key else "chain key")
        index = msg.index
        if not 0 <= index <= U32_MAX:
            _index(index)
        if verifier is not None:
            _check_signed_fields(msg)
        if len(msg.indicator) != KEY_INDICATOR_SIZE:
            raise AuthenticationError("key indicator does not match the derived message key")
        ct, ad = msg.ciphertext, msg.auth_data
        if type(ct) is not bytes or type(ad) is not bytes or type(tail) is not bytes:
            ct, ad, tail = bytes(ct), bytes(ad), bytes(tail)
        n = len(ct)
        buf = _alloc("uint8_t[]", n + CHAIN_KEY_SIZE)  # the plaintext, then the chain key
        args = (
            ctx,
            buf,
            n,
            _NULL if is_message_key else buf + n,
            key,
            is_message_key,
            index,
            msg.indicator,
            msg.header.ecdh_public_key if verifier is not None else _ZERO_POINT,
            tail,
            len(tail),
            ad,
            len(ad),
            ct,
            n,
            msg.signature,
        )
        rc = _keyed(_lib.pq3_open, args, verifier)
        if rc:
            _raise(rc, "message")
        out = _ffi.buffer(buf)
        return out[:n], None if is_message_key else out[n:]

    def open_in_order(
        self,
        chain_key: bytes,
        index: int,
        chain: SendingChain,
        wire: bytes,
        verifier: NativeVerifier | None,
    ) -> tuple[bytes, bytes, bytes] | None:
        local = self._local
        ctx = local.ctx if local is not None else self._ctx()
        if type(chain_key) is not bytes or len(chain_key) != CHAIN_KEY_SIZE:
            _need(_bytes(chain_key), CHAIN_KEY_SIZE, "chain key")
            chain_key = bytes(chain_key)
        if not 0 <= index <= U32_MAX:
            _index(index)
        cached = self._opening.get(id(chain))
        if cached is None or cached[0] is not chain:
            cached = self._prepared_open(chain)
        _, header, tail = cached
        wire = _bytes(wire)
        n = len(wire)
        buf = _alloc("uint8_t[]", n + CHAIN_KEY_SIZE)  # the next chain key, the plaintext
        args = (
            ctx, buf, n + CHAIN_KEY_SIZE, chain_key, index, header, len(header), tail,
            len(tail), wire, n, MAX_AUTH_DATA_LENGTH, MAX_PLAINTEXT_LENGTH,
        )
        rc = _keyed(_lib.pq3_open_wire, args, verifier)
        if rc:
            if rc == _lib.PQ3_ERR_BATCH or rc == _lib.PQ3_ERR_LENGTH:
                return None
            _raise(rc, "message")
        out = _ffi.buffer(buf)
        pt, ad = _opened(out, CHAIN_KEY_SIZE, wire, len(header))
        return pt, ad, out[:CHAIN_KEY_SIZE]

    def open_new_chain(
        self,
        old_root: bytes,
        key: P256PrivateKey,
        dst_prefix: bytes,
        tail: bytes,
        wire: bytes,
        verifier: NativeVerifier,
    ) -> tuple[bytes, bytes, bytes, bytes] | None:
        local = self._local
        ctx = local.ctx if local is not None else self._ctx()
        scalar = key.scalar()
        args = (old_root, dst_prefix, tail, wire)
        if any(type(x) is not bytes for x in args):
            old_root, dst_prefix, tail, wire = map(_bytes, args)
        _need(old_root, ROOT_KEY_SIZE, "root key")
        n = len(wire)
        buf = _alloc("uint8_t[]", n + 2 * ROOT_KEY_SIZE)  # root key, chain key, plaintext
        c_args = (
            ctx, buf, n + 2 * ROOT_KEY_SIZE, scalar, old_root, dst_prefix, len(dst_prefix),
            tail, len(tail), wire, n, MAX_AUTH_DATA_LENGTH, MAX_PLAINTEXT_LENGTH,
        )
        rc = _keyed(_lib.pq3_open_new_chain, c_args, verifier)
        if rc == _lib.PQ3_ERR_AUTH:
            raise AuthenticationError(MESSAGE_SIGNATURE_FAILED)
        if rc:
            return None  # not this layout, or a failure the full path reports in its order
        out = _ffi.buffer(buf)
        k = 2 * ROOT_KEY_SIZE
        pt, ad = _opened(out, k, wire, PLAIN_HEADER_SIZE)
        return pt, ad, out[:ROOT_KEY_SIZE], out[ROOT_KEY_SIZE:k]

    def _prepared_open(self, chain: SendingChain) -> tuple[SendingChain, bytes, bytes]:
        """A receiving chain's C arguments, checked once per chain object."""
        header, tail = _bytes(chain.header_bytes), _bytes(chain.signature_tail)
        if len(header) < 2 + P256_POINT_SIZE:
            raise MalformedInputError("a chain header holds version, flags and ecdhPK")
        prepared = (chain, header, tail)
        if type(chain.header_bytes) is bytes and type(chain.signature_tail) is bytes:
            _remember(self._opening, id(chain), prepared)
        return prepared


def _signed_deterministic(wire: bytes, signer: NativeSigner, digest: Any) -> bytes:
    """The wire with its zero signature replaced by RFC 6979's over the C's body digest."""
    sig = sign_prehashed_deterministic(signer.key, _ffi.buffer(digest)[:])
    return wire[:-P256_SIGNATURE_SIZE] + sig


def _opened(out: Any, at: int, wire: bytes, header_len: int) -> tuple[bytes, bytes]:
    """(plaintext at `at` in the C's output, auth data) of a wire whose layout, after a
    header of header_len bytes, the C checked: index, indicator, lp(ad), lp(ct), sig."""
    p = header_len + _AD_LENGTH_AT
    ad_len = int.from_bytes(wire[p : p + LENGTH_PREFIX_SIZE], "big")
    ct_len = len(wire) - header_len - _FIXED - ad_len
    return out[at : at + ct_len], wire[p + LENGTH_PREFIX_SIZE : p + LENGTH_PREFIX_SIZE + ad_len]


_CHAINS_CACHED = 64  # chains a process seals or opens on at once (fanout: one per device)


def _remember(cache: dict[int, Any], key: int, value: Any) -> None:
    """Add a prepared chain; past the bound, start over (the cache is only a shortcut)."""
    if len(cache) >= _CHAINS_CACHED:
        cache.clear()
    cache[key] = value




NATIVE = NativeHotPath()
