"""Batches of one chain on the C path: HotPath's seal_batch, open_batch, seal_packed and
open_packed (spec/03-ratchet.md §4).

Owns: the C calls for n messages of one chain at once, as lists or packed buffers, with the
same bytes and failures as message.PythonHotPath's batch methods.
Not: the per-message calls, the C keys and contexts (native.py), or the extension itself
(native_ext.py).
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any

from .constants import (
    CHAIN_KEY_SIZE,
    KEY_INDICATOR_SIZE,
    MAX_AUTH_DATA_LENGTH,
    MAX_PLAINTEXT_LENGTH,
    P256_POINT_SIZE,
    P256_SIGNATURE_SIZE,
    U32_MAX,
)
from .errors import AuthenticationError, MalformedInputError
from .message import (
    PackedBatch,
    SendingChain,
    _trusted_batch,
    check_consecutive,
    sign_prehashed_deterministic,
)
from .native_ext import NULL as _NULL
from .native_ext import NativeSigner, NativeVerifier, thread_state
from .native_ext import alloc as _alloc
from .native_ext import as_bytes as _bytes
from .native_ext import call_keyed as _keyed
from .native_ext import check_index as _index
from .native_ext import ffi as _ffi
from .native_ext import lib as _lib
from .native_ext import need as _need
from .native_ext import raise_code as _raise
from .wire import ParsedMessage

_DIGEST_SIZE = 32  # the signed body's SHA-256, returned for RFC 6979 signing in Python
_ZERO_POINT = bytes(P256_POINT_SIZE)


class NativeBatches:
    """NativeHotPath's batch methods (a mixin), each on this thread's C context."""

    def seal_batch(
        self,
        chain_key: bytes,
        first_index: int,
        chain: SendingChain,
        auth_data: bytes,
        plaintexts: list[bytes],
        signer: NativeSigner | None,
        deterministic: bool = False,
    ) -> tuple[list[bytes], bytes]:
        ctx = thread_state().ctx
        _check_chain(chain_key, chain)
        _index(first_index)
        n = len(plaintexts)
        header, tail = _bytes(chain.header_bytes), _bytes(chain.signature_tail)
        auth_data = _bytes(auth_data)
        lens = list(map(len, plaintexts))
        fixed = _lib.pq3_wire_length(len(header), len(auth_data), 0)
        if fixed == 0 or (n and max(lens) > U32_MAX):
            raise MalformedInputError("message: a length does not fit the message format")
        total = fixed * n + sum(lens)
        wire = _alloc("uint8_t[]", total)
        ck = _alloc("uint8_t[32]")
        prehash = signer is not None and deterministic
        digests = _alloc("uint8_t[]", _DIGEST_SIZE * n) if prehash else _NULL
        args = (
            ctx,
            wire,
            total,
            ck,
            digests,
            _bytes(chain_key),
            first_index,
            header,
            len(header),
            _bytes(chain.ecdh_public_key),
            tail,
            len(tail),
            auth_data,
            len(auth_data),
            b"".join(plaintexts),
            _ffi.new("size_t[]", lens),
            n,
        )
        rc = _keyed(_lib.pq3_seal_batch, args, None if prehash else signer)
        if rc:
            _raise(rc, "seal")
        out = _split(_ffi.buffer(wire), [fixed + ln for ln in lens])
        if prehash:
            assert signer is not None
            dig = _ffi.buffer(digests)[:]
            for i in range(n):
                d = dig[i * _DIGEST_SIZE : (i + 1) * _DIGEST_SIZE]
                sig = sign_prehashed_deterministic(signer.key, d)
                out[i] = out[i][:-P256_SIGNATURE_SIZE] + sig
        return out, _ffi.buffer(ck)[:]

    def open_batch(
        self,
        chain_key: bytes,
        msgs: list[ParsedMessage],
        tail: bytes,
        verifier: NativeVerifier | None,
    ) -> tuple[list[bytes], bytes]:
        ctx = thread_state().ctx
        _need(chain_key, CHAIN_KEY_SIZE, "chain key")
        check_consecutive(msgs)
        n = len(msgs)
        tail = _bytes(tail)
        indices = [m.index for m in msgs]
        if n and not (min(indices) >= 0 and max(indices) <= U32_MAX):
            raise MalformedInputError("a message index does not fit in uint32")
        indicators = b"".join([m.indicator for m in msgs])
        ads = [m.auth_data for m in msgs]
        cts = [m.ciphertext for m in msgs]
        ct_lens = list(map(len, cts))
        if verifier is None:
            points = _ZERO_POINT * n  # unused by C without a verifier
            sigs = b""
        else:
            points = b"".join([m.header.ecdh_public_key for m in msgs])
            sigs = b"".join([m.signature for m in msgs])
        # Byte totals bound every read in C. A field of the wrong size inside a right total
        # shifts its neighbours, which then fail authentication as PythonHotPath would.
        if (
            len(indicators) != KEY_INDICATOR_SIZE * n
            or len(points) != P256_POINT_SIZE * n
            or (verifier is not None and len(sigs) != P256_SIGNATURE_SIZE * n)
        ):
            raise AuthenticationError("a message field has the wrong length")
        pt = _alloc("uint8_t[]", sum(ct_lens))
        ck = _alloc("uint8_t[32]")
        fail = _ffi.new("size_t *")
        args = (
            ctx,
            pt,
            len(pt),
            ck,
            fail,
            _bytes(chain_key),
            _ffi.new("uint32_t[]", indices),
            indicators,
            points,
            tail,
            len(tail),
            b"".join(ads),
            _ffi.new("size_t[]", list(map(len, ads))),
            b"".join(cts),
            _ffi.new("size_t[]", ct_lens),
            sigs,
            n,
        )
        rc = _keyed(_lib.pq3_open_batch, args, verifier)
        if rc:
            _raise(rc, f"message {fail[0]} of the batch")
        return _split(_ffi.buffer(pt), ct_lens), _ffi.buffer(ck)[:]

    def seal_packed(
        self,
        chain_key: bytes,
        first_index: int,
        chain: SendingChain,
        auth_data: bytes,
        plaintexts: PackedBatch,
        signer: NativeSigner | None,
        deterministic: bool = False,
    ) -> tuple[PackedBatch, bytes]:
        if signer is not None and deterministic:  # RFC 6979 is signed in Python: per message
            wires, next_ck = self.seal_batch(
                chain_key, first_index, chain, auth_data, plaintexts.to_list(), signer, True
            )
            return PackedBatch.pack(wires), next_ck
        ctx = thread_state().ctx
        _check_chain(chain_key, chain)
        _index(first_index)
        header, tail = _bytes(chain.header_bytes), _bytes(chain.signature_tail)
        auth_data = _bytes(auth_data)
        n, data = len(plaintexts.ends), plaintexts.data
        fixed = _lib.pq3_wire_length(len(header), len(auth_data), 0)
        if fixed == 0:
            raise MalformedInputError("message: a length does not fit the message format")
        total = fixed * n + len(data)
        wire = _alloc("uint8_t[]", total or 1)
        ends = _alloc("size_t[]", n or 1)
        ck = _alloc("uint8_t[32]")
        args = (
            ctx,
            wire,
            total,
            ends,
            ck,
            _bytes(chain_key),
            first_index,
            header,
            len(header),
            _bytes(chain.ecdh_public_key),
            tail,
            len(tail),
            auth_data,
            len(auth_data),
            data,
            len(data),
            _ffi.new("size_t[]", plaintexts.ends) if n else _NULL,
            n,
        )
        rc = _keyed(_lib.pq3_seal_packed, args, signer)
        if rc:
            _raise(rc, "seal")
        # The C wrote ends rising to total (pq3_seal_packed), so they need no second check.
        packed = _trusted_batch(_ffi.buffer(wire, total)[:], tuple(_ffi.unpack(ends, n)))
        return packed, _ffi.buffer(ck)[:]

    def open_packed(
        self,
        chain_key: bytes,
        first_index: int,
        chain: SendingChain,
        wires: PackedBatch,
        verifier: NativeVerifier | None,
    ) -> tuple[PackedBatch, bytes]:
        ctx = thread_state().ctx
        _need(chain_key, CHAIN_KEY_SIZE, "chain key")
        _index(first_index)
        header, tail = _bytes(chain.header_bytes), _bytes(chain.signature_tail)
        if len(header) < 2 + P256_POINT_SIZE:
            raise MalformedInputError("a chain header holds version, flags and ecdhPK")
        n, data = len(wires.ends), wires.data
        pt = _alloc("uint8_t[]", len(data) or 1)  # plaintexts are shorter than their wires
        pt_ends = _alloc("size_t[]", n or 1)
        ck = _alloc("uint8_t[32]")
        fail = _ffi.new("size_t *")
        args = (
            ctx,
            pt,
            len(data),
            pt_ends,
            ck,
            fail,
            _bytes(chain_key),
            first_index,
            header,
            len(header),
            tail,
            len(tail),
            data,
            len(data),
            _ffi.new("size_t[]", wires.ends) if n else _NULL,
            n,
            MAX_AUTH_DATA_LENGTH,
            MAX_PLAINTEXT_LENGTH,
        )
        rc = _keyed(_lib.pq3_open_packed, args, verifier)
        if rc:
            _raise(rc, f"message {fail[0]} of the batch")
        ends = tuple(_ffi.unpack(pt_ends, n))
        return _trusted_batch(_ffi.buffer(pt, ends[-1] if n else 0)[:], ends), _ffi.buffer(ck)[:]

def _split(buf: Any, lens: list[int]) -> list[bytes]:
    """Cut back-to-back records out of one cffi buffer, each copied once into bytes."""
    return [buf[e - ln : e] for e, ln in zip(accumulate(lens), lens, strict=True)]


def _check_chain(chain_key: bytes, chain: SendingChain) -> None:
    _need(chain_key, CHAIN_KEY_SIZE, "chain key")
    _need(chain.ecdh_public_key, P256_POINT_SIZE, "ecdhPK")
