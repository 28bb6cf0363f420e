"""Sessions: the public API over identities, ratchet and message path (spec/03-ratchet.md §4, §6).

Owns: Session.initiate / accept / encrypt / decrypt / to_bytes / from_bytes, the order of
checks on receipt, commit-on-success of every state change, and the per-session counters.
Not: key derivations (kdf.py), the ratchet rules (ratchet.py), byte layouts (wire.py,
state.py) or the C path (native.py). A Session is not thread-safe; use one per thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import kem
from .constants import MAX_AUTH_DATA_LENGTH, MAX_PLAINTEXT_LENGTH
from .errors import (
    ACCEPT_HINT,
    DECRYPT_HINT,
    AuthenticationError,
    MisuseError,
    ReplayError,
    hinted,
)
from .handshake import initiate as handshake_initiate
from .handshake import respond as handshake_respond
from .handshake import start_id
from .identity import Device, PrekeyBundle, PublicIdentity
from .kdf import session_dst
from .message import HotPath, SendingChain, hot_path
from .policy import RekeyPolicy
from .primitives import SYSTEM_RANDOM, RandomSource
from .ratchet import (
    NO_EFFECTS,
    Effects,
    RatchetState,
    ReceiveChain,
    SendChain,
    after_send,
    commit_fast_receive,
    evolve,
    fast_receive_chain,
    plan_receive,
    start_sending_chain,
)
from .wire import ChainHeader, ParsedMessage, parse_message

Clock = Callable[[], float]
_MAX_INDEX = 0xFFFF_FFFF


@dataclass(frozen=True)
class SessionStats:
    """Counters of one side. wire_bytes and plaintext_bytes count messages this side sent."""

    sent: int = 0
    received: int = 0
    ecdh_ratchets: int = 0
    pq_rekeys: int = 0
    wire_bytes: int = 0
    plaintext_bytes: int = 0

    def after_send(self, effects: Effects, wire_bytes: int, plaintext_bytes: int) -> SessionStats:
        return SessionStats(
            self.sent + 1,
            self.received,
            self.ecdh_ratchets + effects.ecdh_step,
            self.pq_rekeys + effects.pq_mixed,
            self.wire_bytes + wire_bytes,
            self.plaintext_bytes + plaintext_bytes,
        )

    def after_receive(self, effects: Effects) -> SessionStats:
        return SessionStats(
            self.sent,
            self.received + 1,
            self.ecdh_ratchets + effects.ecdh_step,
            self.pq_rekeys + effects.pq_mixed,
            self.wire_bytes,
            self.plaintext_bytes,
        )


@dataclass(frozen=True, eq=False)
class SessionState:
    """The whole persisted value of a session; state.py encodes it."""

    me: PublicIdentity
    peer: PublicIdentity
    initiator: bool
    policy: RekeyPolicy
    ratchet: RatchetState
    stats: SessionStats


class Session:
    """A PQ3 session between this device and one peer device."""

    __slots__ = (
        "_clock",
        "_device",
        "_dst_recv",
        "_dst_send",
        "_hot",
        "_recv_tail",
        "_rng",
        "_send_ctx",
        "_signer",
        "_state",
        "_verifier",
    )

    def __init__(
        self,
        device: Device,
        state: SessionState,
        rng: RandomSource = SYSTEM_RANDOM,
        clock: Clock | None = None,
    ) -> None:
        if device.identity != state.me:
            raise MisuseError("this session belongs to another device")
        self._device = device
        self._state = state
        self._rng = rng
        self._clock: Clock = clock or time.time
        self._hot: HotPath = hot_path()
        self._signer: Any = self._hot.signer(device.signing_key)
        self._verifier: Any = self._hot.verifier(state.peer.signing_key)
        self._dst_send = session_dst(state.me.binding(), state.peer.binding())
        self._dst_recv = session_dst(state.peer.binding(), state.me.binding())
        self._send_ctx: tuple[ChainHeader, SendingChain] | None = None
        self._recv_tail: tuple[ChainHeader, bytes] | None = None

    # ── Starting ──

    @classmethod
    def initiate(
        cls,
        device: Device,
        peer_identity: bytes,
        bundle: bytes,
        *,
        policy: RekeyPolicy | None = None,
        clock: Clock | None = None,
    ) -> Session:
        """Start a session to a peer from its public identity and signed prekey bundle."""
        return cls._initiate(device, peer_identity, bundle, policy, SYSTEM_RANDOM, clock)

    @classmethod
    def initiate_deterministic_for_tests(
        cls,
        device: Device,
        peer_identity: bytes,
        bundle: bytes,
        rng: RandomSource,
        *,
        policy: RekeyPolicy | None = None,
        clock: Clock | None = None,
    ) -> Session:
        """As initiate, drawing every random value from `rng`: for vectors and tests only."""
        return cls._initiate(device, peer_identity, bundle, policy, rng, clock)

    @classmethod
    def _initiate(
        cls,
        device: Device,
        peer_identity: bytes,
        bundle_bytes: bytes,
        policy: RekeyPolicy | None,
        rng: RandomSource,
        clock: Clock | None,
    ) -> Session:
        policy = policy or RekeyPolicy()
        peer = PublicIdentity.decode(peer_identity)
        bundle = PrekeyBundle.decode(bundle_bytes)
        bundle.verify(peer)
        now = (clock or time.time)()
        start = handshake_initiate(device.identity, peer, bundle, rng)
        seed = kem_pk = None
        if policy.due(0, 0.0):
            seed, kem_pk = kem.generate_seed_and_key(kem.MLKEM768, rng)
        header = ChainHeader(
            start.ephemeral.public,
            prekey_hash=start.prekey_hash,
            start_ciphertext=start.ciphertext,
            kem_public_key=kem_pk,
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
        )
        state = SessionState(device.identity, peer, True, policy, ratchet, SessionStats())
        return cls(device, state, rng, clock)

    @classmethod
    def accept(
        cls,
        device: Device,
        peer_identity: bytes,
        wire: bytes,
        *,
        policy: RekeyPolicy | None = None,
        clock: Clock | None = None,
    ) -> tuple[Session, bytes]:
        """Accept a session from any message of the peer's first chain; returns the plaintext.

        Records the session start on `device` (only on success): the same start is refused
        a second time, whichever of its messages carries it.
        """
        return cls._accept(device, peer_identity, wire, policy, SYSTEM_RANDOM, clock)

    @classmethod
    def accept_deterministic_for_tests(
        cls,
        device: Device,
        peer_identity: bytes,
        wire: bytes,
        rng: RandomSource,
        *,
        policy: RekeyPolicy | None = None,
        clock: Clock | None = None,
    ) -> tuple[Session, bytes]:
        """As accept, drawing later random values from `rng`: for vectors and tests only."""
        return cls._accept(device, peer_identity, wire, policy, rng, clock)

    @classmethod
    def _accept(
        cls,
        device: Device,
        peer_identity: bytes,
        wire: bytes,
        policy: RekeyPolicy | None,
        rng: RandomSource,
        clock: Clock | None,
    ) -> tuple[Session, bytes]:
        policy = policy or RekeyPolicy()
        peer = PublicIdentity.decode(peer_identity)
        msg = parse_message(wire)
        h = msg.header
        if h.prekey_hash is None or h.start_ciphertext is None:
            raise MisuseError("message does not start a session: use Session.decrypt")
        hot = hot_path()
        dst_recv = session_dst(peer.binding(), device.identity.binding())
        try:
            hot.verify(msg, h.signature_tail(dst_recv), hot.verifier(peer.signing_key))
        except AuthenticationError as e:
            raise hinted(e, ACCEPT_HINT) from None
        sid = start_id(h.prekey_hash, h.ecdh_public_key, h.start_ciphertext)
        if device.has_seen_start(sid):
            raise ReplayError("this session start was already accepted")
        if h.kem_public_key is not None:
            kem.get_backend().validate_public_key(kem.MLKEM768, h.kem_public_key)
        start = handshake_respond(
            device, peer, h.prekey_hash, h.ecdh_public_key, h.start_ciphertext
        )
        now = (clock or time.time)()
        ratchet = RatchetState(
            root_key=start.root_key,
            my_ecdh=None,
            my_point=None,
            peer_point=h.ecdh_public_key,
            sending=None,
            awaiting_reply=False,
            receiving=(ReceiveChain(h.ecdh_public_key, start.chain_key, 0),),
            skipped={},
            retired=(),
            my_kem_seed=None,
            my_kem_public=None,
            peer_kem_public=h.kem_public_key,
            messages_since_pq=0,
            last_pq_time=now,
        )
        state = SessionState(device.identity, peer, False, policy, ratchet, SessionStats())
        session = cls(device, state, rng, clock)
        plaintext, _ = session._open(msg, verified=True)
        device.remember_start(sid)
        return session, plaintext

    # ── Messages ──

    def encrypt(self, plaintext: bytes, auth_data: bytes = b"") -> bytes:
        """Seal one message to the peer. auth_data travels in clear and is signed."""
        if len(plaintext) > MAX_PLAINTEXT_LENGTH or len(auth_data) > MAX_AUTH_DATA_LENGTH:
            raise MisuseError("plaintext or auth data exceeds the protocol limits")
        st = self._state
        r = st.ratchet
        effects = NO_EFFECTS
        if r.sending is None:
            r, effects = start_sending_chain(
                r, self._dst_send, st.policy, self._clock(), self._rng
            )
        assert r.sending is not None
        if r.sending.next_index > _MAX_INDEX:
            raise MisuseError("sending chain exhausted: the peer must reply first")
        wire, next_ck = self._hot.seal(
            r.sending.chain_key,
            r.sending.next_index,
            self._chain_context(r.sending.header),
            auth_data,
            plaintext,
            self._signer,
            self._rng.deterministic,
        )
        stats = st.stats.after_send(effects, len(wire), len(plaintext))
        self._state = evolve(st, ratchet=after_send(r, next_ck), stats=stats)
        return wire

    def decrypt(self, wire: bytes) -> bytes:
        """Open one message from the peer. On any error the session is left unchanged."""
        return self.decrypt_with_auth_data(wire)[0]

    def decrypt_with_auth_data(self, wire: bytes) -> tuple[bytes, bytes]:
        """Open one message; returns (plaintext, the sender's auth data)."""
        msg = parse_message(wire)
        try:
            return self._open(msg, verified=False)
        except AuthenticationError as e:
            raise hinted(e, DECRYPT_HINT) from None

    def _open(self, msg: ParsedMessage, verified: bool) -> tuple[bytes, bytes]:
        st = self._state
        r = st.ratchet
        tail = self._signature_tail(msg.header)
        verifier = None if verified else self._verifier
        pos = fast_receive_chain(r, msg)
        if pos >= 0:
            pt, next_ck = self._hot.open(r.receiving[pos].chain_key, False, msg, tail, verifier)
            assert next_ck is not None
            new_r, effects = commit_fast_receive(r, pos, next_ck), NO_EFFECTS
        else:
            if verifier is not None:
                self._hot.verify(msg, tail, verifier)
            plan = plan_receive(r, msg, self._dst_recv, self._clock(), self._hot.chain_step)
            pt, next_ck = self._hot.open(plan.key, plan.is_message_key, msg, tail, None)
            new_r, effects = plan.commit(next_ck), plan.effects
        self._state = evolve(st, ratchet=new_r, stats=st.stats.after_receive(effects))
        return pt, msg.auth_data

    def _signature_tail(self, header: ChainHeader) -> bytes:
        cached = self._recv_tail
        if cached is not None and cached[0] is header:
            return cached[1]
        tail = header.signature_tail(self._dst_recv)
        self._recv_tail = (header, tail)
        return tail

    def _chain_context(self, header: ChainHeader) -> SendingChain:
        cached = self._send_ctx
        if cached is not None and cached[0] is header:
            return cached[1]
        ctx = SendingChain(
            header.encode(), header.signature_tail(self._dst_send), header.ecdh_public_key
        )
        self._send_ctx = (header, ctx)
        return ctx

    # ── Inspection and persistence ──

    @property
    def stats(self) -> SessionStats:
        return self._state.stats

    @property
    def peer(self) -> PublicIdentity:
        return self._state.peer

    @property
    def is_initiator(self) -> bool:
        """True on the side that called initiate."""
        return self._state.initiator

    @property
    def policy(self) -> RekeyPolicy:
        return self._state.policy

    @property
    def state(self) -> SessionState:
        """The current immutable state value (secret: never log it)."""
        return self._state

    def to_bytes(self) -> bytes:
        """Serialize the session. The result holds secrets and must be stored as such."""
        from .state import encode_session_state

        return encode_session_state(self._state)

    @classmethod
    def from_bytes(cls, blob: bytes, device: Device, *, clock: Clock | None = None) -> Session:
        """Restore a session for `device`; the blob must belong to it."""
        return cls._from_bytes(blob, device, SYSTEM_RANDOM, clock)

    @classmethod
    def from_bytes_deterministic_for_tests(
        cls, blob: bytes, device: Device, rng: RandomSource, *, clock: Clock | None = None
    ) -> Session:
        """As from_bytes, drawing later random values from `rng`: for vectors and tests only."""
        return cls._from_bytes(blob, device, rng, clock)

    @classmethod
    def _from_bytes(
        cls, blob: bytes, device: Device, rng: RandomSource, clock: Clock | None
    ) -> Session:
        from .state import decode_session_state

        state = decode_session_state(blob)
        if state.me != device.identity:
            raise MisuseError("session state belongs to another device")
        return cls(device, state, rng, clock)

    def __repr__(self) -> str:
        s = self._state.stats
        me, peer = self._state.me, self._state.peer
        return f"Session({me} -> {peer}, sent={s.sent}, received={s.received})"

