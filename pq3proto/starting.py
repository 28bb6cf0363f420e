"""The first state of a session on each side (spec/03-ratchet.md §2, 10-profiles.md §5).

Owns: checking a prekey bundle or a session-start message against the peer's identity and
the profiles allowed, the handshake call, and the first SessionState of the initiator and of
the responder.
Not: the handshake's keys (handshake.py), opening the start's message and recording it on
the device (session.py), or any later transition (ratchet.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .encoding import as_bytes
from .errors import (
    ACCEPT_HINT,
    AuthenticationError,
    MisuseError,
    ProfileNotAllowedError,
    ReplayError,
    hinted,
)
from .handshake import initiate as handshake_initiate
from .handshake import respond as handshake_respond
from .handshake import start_id
from .identity import Device, PrekeyBundle, PublicIdentity
from .kdf import session_dst
from .paths import hot_path
from .policy import RekeyPolicy
from .primitives import RandomSource
from .profile import PQ3, Profile
from .ratchet import RatchetState, ReceiveChain, SendChain, new_request, rekey_kem
from .session_state import SessionState, SessionStats
from .transport import TransportState, opened_request
from .wire import ChainHeader, ParsedMessage, chain_header_digest, parse_message, transport_tail


def initiator_state(
    device: Device,
    peer_identity: bytes,
    bundle_bytes: bytes,
    policy: RekeyPolicy | None,
    rng: RandomSource,
    now: float,
    profile: Profile | None,
) -> SessionState:
    """The initiator's first state: the bundle verified, the start keys drawn from `rng`.

    `profile` defaults to the one the bundle names; its start KEM must be the bundle's.
    """
    policy = policy or RekeyPolicy()
    peer = PublicIdentity.decode(peer_identity)
    bundle = PrekeyBundle.decode(bundle_bytes)
    bundle.verify(peer)
    profile = profile or bundle.profile
    if not isinstance(profile, Profile):
        raise MisuseError("profile must be a pq3proto.Profile")
    if profile.start_kem != bundle.profile.start_kem:
        raise MisuseError(
            f"the bundle's start KEM is {bundle.profile.start_kem}, the profile's "
            f"{profile.start_kem}"
        )
    start = handshake_initiate(device.identity, peer, bundle, rng, profile)
    seed = kem_pk = expanded = None
    if policy.due(0, 0.0):
        seed, kem_pk, expanded = new_request(rekey_kem(profile.rekey_kem), rng)
    transport = None
    if profile.transport != "repeat":
        transport = TransportState()
        if kem_pk is not None:
            transport = opened_request(transport, kem_pk)
    header = ChainHeader(
        start.ephemeral.public,
        prekey_hash=start.prekey_hash,
        start_ciphertext=start.ciphertext,
        kem_public_key=kem_pk if transport is None else None,
        profile_id=None if profile == PQ3 else profile.to_bytes(),
    )
    ratchet = RatchetState(
        root_key=start.root_key,
        my_ecdh=start.ephemeral,
        my_point=start.ephemeral.public,
        peer_point=start.prekey_point,
        sending=SendChain(header, start.chain_key, 0),
        awaiting_reply=True,
        receiving=(),
        skipped={},
        retired=(),
        my_kem_seed=seed,
        my_kem_public=kem_pk,
        peer_kem_public=None,
        messages_since_pq=0,
        last_pq_time=now,
        transport=transport,
        my_kem_expanded=expanded,
    )
    return SessionState(device.identity, peer, True, policy, ratchet, SessionStats(), profile)


@dataclass(frozen=True)
class ResponderStart:
    """A verified, not yet recorded session start: the responder's first state, the start
    message to open with it, and its start id."""

    state: SessionState
    message: ParsedMessage
    start_id: bytes


def responder_start(
    device: Device,
    peer_identity: bytes,
    wire: bytes,
    policy: RekeyPolicy | None,
    now: float,
    profiles: tuple[Profile, ...] | None,
) -> ResponderStart:
    """Check a session-start message (profile allowed, signature, not a replay, the request's
    key) and derive the responder's first state; nothing is recorded yet."""
    policy = policy or RekeyPolicy()
    peer = PublicIdentity.decode(as_bytes(peer_identity, "peer identity"))
    msg = parse_message(as_bytes(wire, "message"))
    h = msg.header
    if h.prekey_hash is None or h.start_ciphertext is None:
        raise MisuseError("message does not start a session: use Session.decrypt")
    profile = PQ3 if h.profile_id is None else Profile.from_bytes(h.profile_id)
    allowed = profiles if profiles is not None else (device.profile,)
    if profile not in allowed or profile.start_kem != device.profile.start_kem:
        raise ProfileNotAllowedError(
            f"the session start's profile {profile.label} is not one this device allows"
        )
    hot = hot_path()
    dst_recv = session_dst(
        peer.binding(), device.identity.binding(), b"" if h.profile_id is None else h.profile_id
    )
    tail = h.signature_tail(dst_recv)
    if msg.transport is not None:
        tail += transport_tail(h, msg.transport_bytes)
    try:
        hot.verify(msg, tail, hot.verifier(peer.signing_key))
    except AuthenticationError as e:
        raise hinted(e, ACCEPT_HINT) from None
    sid = start_id(h.prekey_hash, h.ecdh_public_key, h.start_ciphertext)
    if device.has_seen_start(sid):
        raise ReplayError("this session start was already accepted")
    if h.kem_public_key is not None:
        rekey_kem(profile.rekey_kem).validate_public_key(h.kem_public_key)
    start = handshake_respond(
        device, peer, h.prekey_hash, h.ecdh_public_key, h.start_ciphertext, profile
    )
    ratchet = RatchetState(
        root_key=start.root_key,
        my_ecdh=None,
        my_point=None,
        peer_point=h.ecdh_public_key,
        sending=None,
        awaiting_reply=False,
        receiving=(
            ReceiveChain(h.ecdh_public_key, start.chain_key, 0, chain_header_digest(msg)),
        ),
        skipped={},
        retired=(),
        my_kem_seed=None,
        my_kem_public=None,
        peer_kem_public=h.kem_public_key,
        messages_since_pq=0,
        last_pq_time=now,
        transport=None if profile.transport == "repeat" else TransportState(),
    )
    state = SessionState(device.identity, peer, False, policy, ratchet, SessionStats(), profile)
    return ResponderStart(state, msg, sid)
