"""Session start: hybrid P-256 ECDH + the start KEM to a signed prekey bundle (spec/03 §2).

Owns: sessionStartSender and sessionStartReceiver: what goes on the wire (the session-start
chain header material) and what the ratchet starts from (root key, first chain key).
Not: sessions, message encryption, or the replay record (the session layer commits that).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import kem
from .constants import INITIAL_ROOT_KEY
from .errors import InvalidKeyError
from .identity import Device, PrekeyBundle, PublicIdentity
from .kdf import root_and_chain_key, session_dst, session_start_dst
from .primitives import P256PrivateKey, RandomSource, sha384
from .profile import PQ3, Profile


@dataclass(frozen=True)
class InitiatorStart:
    """The initiator's result: wire material, plus the secrets its ratchet starts from."""

    prekey_hash: bytes
    ciphertext: bytes
    ephemeral: P256PrivateKey = field(repr=False)
    root_key: bytes = field(repr=False)
    chain_key: bytes = field(repr=False)
    prekey_point: bytes


@dataclass(frozen=True)
class ResponderStart:
    """The responder's result: the secrets that open the initiator's first chain."""

    start_id: bytes
    root_key: bytes = field(repr=False)
    chain_key: bytes = field(repr=False)


def start_id(prekey_hash: bytes, ephemeral_point: bytes, ciphertext: bytes) -> bytes:
    """Names one session start, for replay refusal: SHA-384(preKeyHash || e || ct)."""
    return sha384(prekey_hash + ephemeral_point + ciphertext)


def _profile_id(profile: Profile) -> bytes:
    return b"" if profile == PQ3 else profile.to_bytes()


def initiate(
    me: PublicIdentity,
    peer: PublicIdentity,
    bundle: PrekeyBundle,
    rng: RandomSource,
    profile: Profile = PQ3,
) -> InitiatorStart:
    """sessionStartSender. The bundle's signature must already have been verified."""
    e = P256PrivateKey.generate(rng)
    ecdh_ss = e.exchange(bundle.ecdh_public_key)
    if profile == PQ3:
        kem_ss, ct = kem.encapsulate(kem.MLKEM1024, bundle.kem_public_key, rng)
    else:
        kem_ss, ct = kem.named(profile.start_kem).encapsulate(bundle.kem_public_key, rng)
    dst = session_start_dst(
        session_dst(me.binding(), peer.binding(), _profile_id(profile)),
        bundle.ecdh_public_key,
        e.public,
        ct,
        bundle.kem_public_key,
    )
    rk, ck = root_and_chain_key(INITIAL_ROOT_KEY, ecdh_ss, kem_ss, dst)
    return InitiatorStart(bundle.prekey_hash(), ct, e, rk, ck, bundle.ecdh_public_key)


def respond(
    device: Device,
    peer: PublicIdentity,
    prekey_hash: bytes,
    ephemeral: bytes,
    ciphertext: bytes,
    profile: Profile = PQ3,
) -> ResponderStart:
    """sessionStartReceiver, for a start whose message signature was already verified."""
    secrets = device.prekey_secrets(prekey_hash)
    if secrets is None:
        raise InvalidKeyError("session start names a prekey this device does not hold")
    prekey, kem_seed = secrets
    ecdh_ss = prekey.exchange(ephemeral)
    if profile == PQ3:
        kem_ss = kem.decapsulate(kem.MLKEM1024, kem_seed, ciphertext)
    else:
        kem_ss = kem.named(profile.start_kem).decapsulate(kem_seed, ciphertext)
    dst = session_start_dst(
        session_dst(peer.binding(), device.identity.binding(), _profile_id(profile)),
        prekey.public,
        ephemeral,
        ciphertext,
        device.bundle.kem_public_key,
    )
    rk, ck = root_and_chain_key(INITIAL_ROOT_KEY, ecdh_ss, kem_ss, dst)
    return ResponderStart(start_id(prekey_hash, ephemeral, ciphertext), rk, ck)
