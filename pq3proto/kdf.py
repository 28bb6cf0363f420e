"""The key schedule (spec/02-key-schedule.md).

Owns: every derivation from a shared secret to a cipher key: the root-and-chain-key combiner,
the domain strings that feed it, the symmetric chain step and the message-key expansion.
Not: where the secrets come from (handshake.py, ratchet.py) or what the keys encrypt
(message.py).
"""

from __future__ import annotations

from .constants import (
    AES_IV_SIZE,
    AES_KEY_SIZE,
    CHAIN_KEY_SIZE,
    INITIAL_ROOT_KEY,
    KEY_INDICATOR_SIZE,
    LABEL_AES_CTR,
    LABEL_CHAIN_KEY,
    LABEL_KEY_INDICATOR,
    LABEL_MESSAGE_KEY,
    LABEL_PK_RATCHET,
    LABEL_PROFILE,
    LABEL_ROOT_DERIVATION,
    LABEL_SESSION_START,
    MESSAGE_KEY_SIZE,
    ROOT_KEY_SIZE,
)
from .encoding import lp, u32
from .primitives import hkdf_expand, hkdf_extract

__all__ = [
    "INITIAL_ROOT_KEY",
    "chain_step",
    "identity_binding",
    "message_keys",
    "pk_ratchet_dst",
    "pk_ratchet_dst_prefix",
    "root_and_chain_key",
    "session_dst",
    "session_start_dst",
]


def identity_binding(uri: bytes, device_id: int, signing_key: bytes) -> bytes:
    """One device's part of a domain string: uint32-prefixed URI || uint32 id || its ltk point."""
    return lp(uri) + u32(device_id) + signing_key


def session_dst(sender_binding: bytes, receiver_binding: bytes, profile_id: bytes = b"") -> bytes:
    """dstForSession(sender, receiver): the chain sender's binding first (§1).

    Under a profile other than PQ3's, its identifier follows, so every signature and every
    derivation of the session covers the profile (spec/10-profiles.md §3).
    """
    if profile_id:
        return sender_binding + receiver_binding + LABEL_PROFILE + lp(profile_id)
    return sender_binding + receiver_binding


def session_start_dst(
    dst: bytes, prekey_point: bytes, ephemeral_point: bytes, ciphertext: bytes, kem_pk: bytes
) -> bytes:
    """Domain string of the session start (§3): every public value of the exchange."""
    return dst + LABEL_SESSION_START + prekey_point + ephemeral_point + ciphertext + kem_pk


def pk_ratchet_dst(
    dst: bytes,
    previous_point: bytes,
    new_point: bytes,
    kem_ciphertext: bytes | None,
    kem_public_key: bytes | None,
) -> bytes:
    """Domain string of an ECDH ratchet step (§3); a rekey appends ciphertext || its key."""
    out = pk_ratchet_dst_prefix(dst, previous_point) + new_point
    if kem_ciphertext is not None and kem_public_key is not None:
        out += kem_ciphertext + kem_public_key
    return out


def pk_ratchet_dst_prefix(dst: bytes, previous_point: bytes) -> bytes:
    """What an ECDH step's domain string holds before the new point (the C path appends it)."""
    return dst + LABEL_PK_RATCHET + previous_point


def root_and_chain_key(
    old_root: bytes, ecdh_secret: bytes, kem_secret: bytes | None, dst: bytes
) -> tuple[bytes, bytes]:
    """rootAndChainKey (§2): two chained HKDF-SHA384 Extracts, then one Expand to 64 bytes.

    Pinned: with no KEM secret the second Extract still runs, with RFC 5869's absent salt
    (48 zero bytes), so every root update has the same shape.
    """
    prk = hkdf_extract(old_root, ecdh_secret)
    prk = hkdf_extract(kem_secret, prk)
    okm = hkdf_expand(prk, LABEL_ROOT_DERIVATION + dst, ROOT_KEY_SIZE + CHAIN_KEY_SIZE)
    return okm[:ROOT_KEY_SIZE], okm[ROOT_KEY_SIZE:]


def chain_step(chain_key: bytes) -> tuple[bytes, bytes]:
    """symmetricRatchet (§4): (message key, next chain key). The input must then be erased."""
    mk = hkdf_expand(chain_key, LABEL_MESSAGE_KEY, MESSAGE_KEY_SIZE)
    ck = hkdf_expand(chain_key, LABEL_CHAIN_KEY, CHAIN_KEY_SIZE)
    return mk, ck


def message_keys(message_key: bytes) -> tuple[bytes, bytes, bytes]:
    """Message key to (AES-256 key, CTR IV, key indicator) (§4).

    The 48-byte "aes-ctr" expansion splits IV first, then key, as in the PQ3 pseudocode.
    """
    x = hkdf_expand(message_key, LABEL_AES_CTR, AES_IV_SIZE + AES_KEY_SIZE)
    indicator = hkdf_expand(message_key, LABEL_KEY_INDICATOR, KEY_INDICATOR_SIZE)
    return x[AES_IV_SIZE:], x[:AES_IV_SIZE], indicator
