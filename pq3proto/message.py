"""Sealing and opening messages under a chain key: the hot path (spec/03-ratchet.md §4).

Owns: the symmetric step, message-key expansion, AES-256-CTR, the signed layout and its
signature, for one message or a batch of one chain, on the pure-Python path (here); the C
path (native.py) implements the same interface and gives equal bytes.
Not: which chain a message belongs to, the ECDH or PQ steps, any stored state, or which path
sessions use (paths.py).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from operator import le
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from .constants import (
    KEY_INDICATOR_SIZE,
    LENGTH_PREFIX_SIZE,
    MAX_AUTH_DATA_LENGTH,
    MAX_PLAINTEXT_LENGTH,
    P256_POINT_SIZE,
    P256_SIGNATURE_SIZE,
    U32_MAX,
)
from .errors import (
    MESSAGE_SIGNATURE_FAILED,
    AuthenticationError,
    MalformedInputError,
    MisuseError,
    PQ3Error,
)
from .frozen import fast_init
from .kdf import chain_step, message_keys, root_and_chain_key
from .primitives import (
    P256_HALF_ORDER,
    P256_ORDER,
    P256PrivateKey,
    RandomSource,
    Verifier,
    aes256_ctr,
    ct_equal,
)
from .wire import (
    PLAIN_HEADER_PREFIX,
    PLAIN_HEADER_SIZE,
    ChainHeader,
    ParsedMessage,
    encode_message,
    signature_body,
)

__all__ = [
    "HotPath",
    "PackedBatch",
    "PythonHotPath",
    "SendingChain",
    "sign_prehashed_deterministic",
]


@fast_init
@dataclass(frozen=True)
class SendingChain:
    """Per-chain constants the sealer needs: header wire bytes, signed tail, ecdhPK."""

    header_bytes: bytes
    signature_tail: bytes
    ecdh_public_key: bytes


@dataclass(frozen=True)
class PackedBatch:
    """Records back to back in one bytes object: record i is data[ends[i - 1] : ends[i]].

    The batch form of seal_packed / open_packed: one buffer each way instead of one bytes
    object per message. Each record is a complete message (or plaintext) on its own.
    """

    data: bytes
    ends: tuple[int, ...]

    def __post_init__(self) -> None:
        ends = self.ends
        if type(self.data) is not bytes or type(ends) is not tuple:
            raise MisuseError("PackedBatch takes bytes and a tuple of end offsets")
        if (ends[-1] if ends else 0) != len(self.data) or not all(
            map(le, (0, *ends[:-1]), ends)
        ):
            raise MalformedInputError("PackedBatch ends must rise to the data's length")

    @classmethod
    def pack(cls, records: Sequence[bytes]) -> PackedBatch:
        """The records joined, with their end offsets."""
        return _trusted_batch(b"".join(records), tuple(accumulate(map(len, records))))

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> bytes:
        ends = self.ends
        if i < 0:
            i += len(ends)
        if not 0 <= i < len(ends):
            raise MisuseError(f"PackedBatch has {len(ends)} records, no index {i}")
        return self.data[ends[i - 1] if i else 0 : ends[i]]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.to_list())

    def to_list(self) -> list[bytes]:
        """Every record as its own bytes object."""
        data, ends = self.data, self.ends
        starts = (0, *ends[:-1]) if ends else ()
        return [data[a:b] for a, b in zip(starts, ends, strict=True)]


def _trusted_batch(data: bytes, ends: tuple[int, ...]) -> PackedBatch:
    """A PackedBatch whose ends are right by construction (pack, or checked by the C)."""
    batch = object.__new__(PackedBatch)
    object.__setattr__(batch, "__dict__", {"data": data, "ends": ends})
    return batch


class HotPath(Protocol):
    """One interface, two implementations (Python here, C in native.py)."""

    name: str

    def signer(self, key: P256PrivateKey) -> Any: ...

    def verifier(self, point: bytes) -> Any: ...

    def chain_step(self, chain_key: bytes) -> tuple[bytes, bytes]: ...

    def p256_generate(self, rng: RandomSource) -> P256PrivateKey:
        """A fresh ratchet key from `rng`, drawn as P256PrivateKey.generate draws it."""

    def ecdh_root_step(
        self,
        old_root: bytes,
        key: P256PrivateKey,
        peer_point: bytes,
        kem_secret: bytes | None,
        dst: bytes,
    ) -> tuple[bytes, bytes]:
        """kdf.root_and_chain_key(old_root, key.exchange(peer_point), kem_secret, dst)."""

    def seal(
        self,
        chain_key: bytes,
        index: int,
        chain: SendingChain,
        auth_data: bytes,
        plaintext: bytes,
        signer: Any,
        deterministic: bool = False,
    ) -> tuple[bytes, bytes]:
        """Return (wire, next chain key). signer=None leaves the signature zero (benchmarks)."""

    def seal_new_chain(
        self,
        old_root: bytes,
        scalar: bytes,
        peer_point: bytes,
        dst_prefix: bytes,
        tail: bytes,
        auth_data: bytes,
        plaintext: bytes,
        signer: Any,
        deterministic: bool = False,
    ) -> tuple[P256PrivateKey, bytes, bytes, bytes]:
        """A plain chain's key from `scalar`, its ECDH step (dst = dst_prefix || its point)
        and message 0 under the header PLAIN_HEADER_PREFIX || point: (key, new root key,
        chain key after message 0, wire). The same values as p256_generate, ecdh_root_step
        and seal one after the other."""

    def seal_batch(
        self,
        chain_key: bytes,
        first_index: int,
        chain: SendingChain,
        auth_data: bytes,
        plaintexts: list[bytes],
        signer: Any,
        deterministic: bool = False,
    ) -> tuple[list[bytes], bytes]: ...

    def verify(self, msg: ParsedMessage, tail: bytes, verifier: Any) -> None: ...

    def open(
        self,
        key: bytes,
        is_message_key: bool,
        msg: ParsedMessage,
        tail: bytes,
        verifier: Any,
    ) -> tuple[bytes, bytes | None]:
        """Verify (unless verifier is None: caller verified), derive, check indicator, decrypt.

        `key` is the chain key at msg.index (returns the next chain key) or, for a stored
        skipped key, the message key itself (returns None).
        """

    def open_in_order(
        self, chain_key: bytes, index: int, chain: SendingChain, wire: bytes, verifier: Any
    ) -> tuple[bytes, bytes, bytes] | None:
        """Open `wire` as message `index` of `chain` (the sender's header bytes, the
        receiver's signed tail), read strictly as open_packed reads each record: (plaintext,
        auth data, next chain key). None if the wire is not laid out as exactly that
        message: nothing was opened, and the caller parses it in full.
        """

    def open_new_chain(
        self,
        old_root: bytes,
        key: P256PrivateKey,
        dst_prefix: bytes,
        tail: bytes,
        wire: bytes,
        verifier: Any,
    ) -> tuple[bytes, bytes, bytes, bytes] | None:
        """Open `wire` as message 0 of a plain peer chain, whose header is its first
        PLAIN_HEADER_SIZE bytes: read strictly, verified (AuthenticationError), then the
        ECDH step of `key` with its point (dst = dst_prefix || point), derived and
        decrypted: (plaintext, auth data, new root key, chain key after message 0).
        None if it is not exactly that layout, or fails after its signature verified:
        nothing was opened, and the caller takes the full path, which raises in its order.
        """

    def open_batch(
        self, chain_key: bytes, msgs: list[ParsedMessage], tail: bytes, verifier: Any
    ) -> tuple[list[bytes], bytes]:
        """Open consecutive messages of one chain, starting at the chain key's index."""

    def seal_packed(
        self,
        chain_key: bytes,
        first_index: int,
        chain: SendingChain,
        auth_data: bytes,
        plaintexts: PackedBatch,
        signer: Any,
        deterministic: bool = False,
    ) -> tuple[PackedBatch, bytes]:
        """seal_batch over packed plaintexts: (the wire messages packed, next chain key)."""

    def open_packed(
        self,
        chain_key: bytes,
        first_index: int,
        chain: SendingChain,
        wires: PackedBatch,
        verifier: Any,
    ) -> tuple[PackedBatch, bytes]:
        """Parse and open packed wire messages first_index, first_index + 1, ... of `chain`
        (the sender's chain constants): (the plaintexts packed, next chain key).

        A message with another header or index is MisuseError, a malformed one
        MalformedInputError; all or nothing.
        """


def check_consecutive(msgs: list[ParsedMessage]) -> None:
    """A batch must be consecutive indices of one chain; anything else is caller misuse."""
    for prev, cur in pairwise(msgs):
        if cur.index != prev.index + 1:
            raise MisuseError("open_batch needs consecutive message indices of one chain")


def check_seal_arguments(index: int, plaintext: bytes, auth_data: bytes) -> None:
    if not 0 <= index <= U32_MAX:
        raise MisuseError("message index does not fit in uint32")
    if len(plaintext) > MAX_PLAINTEXT_LENGTH or len(auth_data) > MAX_AUTH_DATA_LENGTH:
        raise MisuseError("plaintext or auth data exceeds the protocol limits")


def sign_prehashed_deterministic(key: P256PrivateKey, digest: bytes) -> bytes:
    """RFC 6979 signature over a SHA-256 digest, raw low-S (deterministic mode only)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    algo = ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True)
    der = key._key.sign(digest, algo)
    r, s = decode_dss_signature(der)
    if s > P256_HALF_ORDER:
        s = P256_ORDER - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


_NO_SIGNATURE = bytes(64)


class PythonHotPath:
    """The readable path: each step a call to kdf.py and primitives.py."""

    name = "python"

    def signer(self, key: P256PrivateKey) -> P256PrivateKey:
        return key

    def verifier(self, point: bytes) -> Verifier:
        return Verifier(point)

    def chain_step(self, chain_key: bytes) -> tuple[bytes, bytes]:
        return chain_step(chain_key)

    def p256_generate(self, rng: RandomSource) -> P256PrivateKey:
        return P256PrivateKey.generate(rng)

    def ecdh_root_step(
        self,
        old_root: bytes,
        key: P256PrivateKey,
        peer_point: bytes,
        kem_secret: bytes | None,
        dst: bytes,
    ) -> tuple[bytes, bytes]:
        return root_and_chain_key(old_root, key.exchange(peer_point), kem_secret, dst)

    def seal(
        self,
        chain_key: bytes,
        index: int,
        chain: SendingChain,
        auth_data: bytes,
        plaintext: bytes,
        signer: P256PrivateKey | None,
        deterministic: bool = False,
    ) -> tuple[bytes, bytes]:
        check_seal_arguments(index, plaintext, auth_data)
        mk, next_ck = chain_step(chain_key)
        aes_key, iv, indicator = message_keys(mk)
        ct = aes256_ctr(aes_key, iv, plaintext)
        if signer is None:
            sig = _NO_SIGNATURE
        else:
            body = signature_body(
                ct, auth_data, indicator, chain.ecdh_public_key, index, chain.signature_tail
            )
            sig = signer.sign(body, deterministic)
        return encode_message(chain.header_bytes, index, indicator, auth_data, ct, sig), next_ck

    def seal_new_chain(
        self,
        old_root: bytes,
        scalar: bytes,
        peer_point: bytes,
        dst_prefix: bytes,
        tail: bytes,
        auth_data: bytes,
        plaintext: bytes,
        signer: P256PrivateKey | None,
        deterministic: bool = False,
    ) -> tuple[P256PrivateKey, bytes, bytes, bytes]:
        key = P256PrivateKey.from_scalar(scalar)
        point = key.public
        rk, ck = self.ecdh_root_step(old_root, key, peer_point, None, dst_prefix + point)
        chain = SendingChain(PLAIN_HEADER_PREFIX + point, tail, point)
        wire, next_ck = self.seal(ck, 0, chain, auth_data, plaintext, signer, deterministic)
        return key, rk, next_ck, wire

    def seal_batch(
        self,
        chain_key: bytes,
        first_index: int,
        chain: SendingChain,
        auth_data: bytes,
        plaintexts: list[bytes],
        signer: P256PrivateKey | None,
        deterministic: bool = False,
    ) -> tuple[list[bytes], bytes]:
        out = []
        ck = chain_key
        for i, pt in enumerate(plaintexts):
            wire, ck = self.seal(ck, first_index + i, chain, auth_data, pt, signer, deterministic)
            out.append(wire)
        return out, ck

    def verify(self, msg: ParsedMessage, tail: bytes, verifier: Verifier) -> None:
        body = signature_body(
            msg.ciphertext,
            msg.auth_data,
            msg.indicator,
            msg.header.ecdh_public_key,
            msg.index,
            tail,
        )
        try:
            verifier.verify(body, msg.signature)
        except AuthenticationError:
            raise AuthenticationError(MESSAGE_SIGNATURE_FAILED) from None

    def open(
        self,
        key: bytes,
        is_message_key: bool,
        msg: ParsedMessage,
        tail: bytes,
        verifier: Verifier | None,
    ) -> tuple[bytes, bytes | None]:
        if verifier is not None:
            self.verify(msg, tail, verifier)
        if is_message_key:
            mk, next_ck = key, None
        else:
            mk, next_ck = chain_step(key)
        aes_key, iv, indicator = message_keys(mk)
        if not ct_equal(indicator, msg.indicator):
            raise AuthenticationError("key indicator does not match the derived message key")
        return aes256_ctr(aes_key, iv, msg.ciphertext), next_ck

    def open_in_order(
        self,
        chain_key: bytes,
        index: int,
        chain: SendingChain,
        wire: bytes,
        verifier: Verifier | None,
    ) -> tuple[bytes, bytes, bytes] | None:
        try:
            msg = _packed_message(wire, index, chain.header_bytes)
        except (MisuseError, MalformedInputError):
            return None
        pt, next_ck = self.open(chain_key, False, msg, chain.signature_tail, verifier)
        assert next_ck is not None
        return pt, msg.auth_data, next_ck

    def open_new_chain(
        self,
        old_root: bytes,
        key: P256PrivateKey,
        dst_prefix: bytes,
        tail: bytes,
        wire: bytes,
        verifier: Verifier,
    ) -> tuple[bytes, bytes, bytes, bytes] | None:
        try:
            msg = _packed_message(wire, 0, wire[:PLAIN_HEADER_SIZE])
        except (MisuseError, MalformedInputError):
            return None
        self.verify(msg, tail, verifier)
        point = msg.header.ecdh_public_key
        try:
            rk, ck = self.ecdh_root_step(old_root, key, point, None, dst_prefix + point)
            pt, next_ck = self.open(ck, False, msg, tail, None)
        except PQ3Error:
            return None
        assert next_ck is not None
        return pt, msg.auth_data, rk, next_ck

    def open_batch(
        self, chain_key: bytes, msgs: list[ParsedMessage], tail: bytes, verifier: Verifier | None
    ) -> tuple[list[bytes], bytes]:
        check_consecutive(msgs)
        out = []
        ck = chain_key
        for m in msgs:
            pt, nck = self.open(ck, False, m, tail, verifier)
            assert nck is not None
            out.append(pt)
            ck = nck
        return out, ck

    def seal_packed(
        self,
        chain_key: bytes,
        first_index: int,
        chain: SendingChain,
        auth_data: bytes,
        plaintexts: PackedBatch,
        signer: P256PrivateKey | None,
        deterministic: bool = False,
    ) -> tuple[PackedBatch, bytes]:
        wires, ck = self.seal_batch(
            chain_key, first_index, chain, auth_data, plaintexts.to_list(), signer, deterministic
        )
        return PackedBatch.pack(wires), ck

    def open_packed(
        self,
        chain_key: bytes,
        first_index: int,
        chain: SendingChain,
        wires: PackedBatch,
        verifier: Verifier | None,
    ) -> tuple[PackedBatch, bytes]:
        msgs = [
            _packed_message(w, first_index + i, chain.header_bytes)
            for i, w in enumerate(wires.to_list())
        ]
        out, ck = self.open_batch(chain_key, msgs, chain.signature_tail, verifier)
        return PackedBatch.pack(out), ck


_U32 = struct.Struct(">I")
_FIXED = 3 * LENGTH_PREFIX_SIZE + KEY_INDICATOR_SIZE + P256_SIGNATURE_SIZE
_POINT_AT = 2  # ecdhPK follows version and flags in every chain header


def _packed_message(wire: bytes, index: int, header: bytes) -> ParsedMessage:
    """One message of a packed batch, read and checked as native's pq3_open_packed does.

    Its header is known byte for byte (the chain's), so only ecdhPK is taken from it.
    """
    h = len(header)
    n = len(wire)
    if n < h + _FIXED:
        raise MalformedInputError("a message of the batch is too short")
    if wire[:h] != header or _U32.unpack_from(wire, h)[0] != index:
        raise MisuseError("open_packed needs consecutive messages of the given chain")
    p = h + LENGTH_PREFIX_SIZE + KEY_INDICATOR_SIZE
    (ad_len,) = _U32.unpack_from(wire, p)
    if ad_len > MAX_AUTH_DATA_LENGTH or ad_len > n - h - _FIXED:
        raise MalformedInputError("a message of the batch has a wrong auth data length")
    q = p + LENGTH_PREFIX_SIZE + ad_len
    (ct_len,) = _U32.unpack_from(wire, q)
    if ct_len > MAX_PLAINTEXT_LENGTH or ct_len != n - h - _FIXED - ad_len:
        raise MalformedInputError("a message of the batch has a wrong ciphertext length")
    end = q + LENGTH_PREFIX_SIZE + ct_len
    return ParsedMessage(
        header=ChainHeader(header[_POINT_AT : _POINT_AT + P256_POINT_SIZE]),
        index=index,
        indicator=wire[h + LENGTH_PREFIX_SIZE : p],
        auth_data=wire[p + LENGTH_PREFIX_SIZE : q],
        ciphertext=wire[q + LENGTH_PREFIX_SIZE : end],
        signature=wire[end:],
        raw=wire,
        header_length=h,
    )


PYTHON = PythonHotPath()
