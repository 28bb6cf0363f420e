"""Sealing and opening messages under a chain key: the hot path (spec/03-ratchet.md §4).

Owns: the symmetric step, message-key expansion, AES-256-CTR, the signed layout and its
signature, for one message or a batch of one chain; and the choice between the pure-Python
path (here) and the C path (native.py), which implement one interface and give equal bytes.
Not: which chain a message belongs to, the ECDH or PQ steps, or any stored state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from .constants import MAX_AUTH_DATA_LENGTH, MAX_PLAINTEXT_LENGTH
from .errors import (
    MESSAGE_SIGNATURE_FAILED,
    AuthenticationError,
    BackendUnavailableError,
    MisuseError,
)
from .kdf import chain_step, message_keys, root_and_chain_key
from .primitives import P256PrivateKey, RandomSource, Verifier, aes256_ctr, ct_equal
from .wire import ParsedMessage, encode_message, signature_body

__all__ = [
    "HotPath",
    "PythonHotPath",
    "SendingChain",
    "hot_path",
    "sign_prehashed_deterministic",
]


@dataclass(frozen=True)
class SendingChain:
    """Per-chain constants the sealer needs: header wire bytes, signed tail, ecdhPK."""

    header_bytes: bytes
    signature_tail: bytes
    ecdh_public_key: bytes


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

    def open_batch(
        self, chain_key: bytes, msgs: list[ParsedMessage], tail: bytes, verifier: Any
    ) -> tuple[list[bytes], bytes]:
        """Open consecutive messages of one chain, starting at the chain key's index."""


def check_consecutive(msgs: list[ParsedMessage]) -> None:
    """A batch must be consecutive indices of one chain; anything else is caller misuse."""
    for prev, cur in pairwise(msgs):
        if cur.index != prev.index + 1:
            raise MisuseError("open_batch needs consecutive message indices of one chain")


def check_seal_arguments(index: int, plaintext: bytes, auth_data: bytes) -> None:
    if not 0 <= index <= _MAX_INDEX:
        raise MisuseError("message index does not fit in uint32")
    if len(plaintext) > MAX_PLAINTEXT_LENGTH or len(auth_data) > MAX_AUTH_DATA_LENGTH:
        raise MisuseError("plaintext or auth data exceeds the protocol limits")


def sign_prehashed_deterministic(key: P256PrivateKey, digest: bytes) -> bytes:
    """RFC 6979 signature over a SHA-256 digest, raw low-S (deterministic mode only)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from .primitives import P256_HALF_ORDER, P256_ORDER

    algo = ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True)
    der = key._key.sign(digest, algo)
    r, s = decode_dss_signature(der)
    if s > P256_HALF_ORDER:
        s = P256_ORDER - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


_NO_SIGNATURE = bytes(64)
_MAX_INDEX = 0xFFFF_FFFF


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


PYTHON = PythonHotPath()


def hot_path() -> HotPath:
    """The path selected by PQ3PROTO_NATIVE: '0' Python, '1' native (or fail), unset: best."""
    choice = os.environ.get("PQ3PROTO_NATIVE", "").strip()
    if choice == "0":
        return PYTHON
    if choice not in ("", "1"):
        raise MisuseError("PQ3PROTO_NATIVE must be 0, 1 or unset")
    try:
        from . import native
    except ImportError:  # pragma: no cover - the module ships with the package
        native = None  # type: ignore[assignment]
    if native is not None and native.available():
        return native.NATIVE
    if choice == "1":
        reason = native.unavailable_reason() if native is not None else "no native module"
        raise BackendUnavailableError(
            f"PQ3PROTO_NATIVE=1 but the native extension is not loaded: {reason}"
        )
    return PYTHON
