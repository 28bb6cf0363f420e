"""Sessions: the public API over identities, ratchet and message path (spec/03-ratchet.md §4, §6).

Owns: Session.initiate / accept / encrypt / decrypt / to_bytes / from_bytes, the order of
checks on receipt, commit-on-success of every state change, the per-session counters, and
the rules that keep a (key, IV) pair from ever sealing twice: one lock per session, and a
restored snapshot never continuing the sending chain it was taken in (spec/06-state.md §3).
Not: the one-call paths (session_fast.py), key derivations (kdf.py), the ratchet rules
(ratchet.py), byte layouts (wire.py, state.py) or the C path (native.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .constants import MAX_AUTH_DATA_LENGTH, MAX_PLAINTEXT_LENGTH, U32_MAX
from .encoding import as_bytes
from .errors import (
    DECRYPT_HINT,
    AuthenticationError,
    MisuseError,
    PQ3Error,
    hinted,
)
from .identity import Device, PublicIdentity
from .kdf import session_dst
from .message import HotPath, SendingChain
from .paths import hot_path
from .policy import RekeyPolicy
from .primitives import SYSTEM_RANDOM, RandomSource, sha384
from .profile import PQ3, Profile
from .ratchet import (
    NO_EFFECTS,
    RatchetState,
    after_send,
    commit_fast_receive,
    evolve,
    fast_receive_chain,
    plain_sending_chain,
    plan_receive,
    rekey_kem,
    start_sending_chain,
)
from .session_fast import SessionFastPaths
from .session_state import SessionState, SessionStats, commit_message
from .starting import initiator_state, responder_start
from .state import decode_session_state, encode_session_state
from .trace import (
    SessionTrace,
    Tracer,
)
from .transport import TransportBlock, prepare_send, take_block
from .wire import (
    PLAIN_HEADER_PREFIX,
    ChainHeader,
    ParsedMessage,
    parse_message,
    plain_signature_tail,
    transport_tail,
)

Clock = Callable[[], float]
SaveDevice = Callable[[Device], None]
_WIRE_VERSION = PLAIN_HEADER_PREFIX[:1]
_PLAIN_FLAGS = PLAIN_HEADER_PREFIX[1:]
# Passed by the constructors that build a state this object alone has used (initiate,
# accept, the store's resume of its own latest commit). Any other state value may have
# sealed messages elsewhere, so its sending chain is closed (spec/06-state.md §3).
_FRESH = object()


def _keep_in_memory(_: Device) -> None:
    return None


def close_sending_chain(ratchet: RatchetState) -> RatchetState:
    """The restore rule: a state that may already have sealed on its chain never seals again
    on it; the next encrypt opens a continuation chain under a fresh ratchet key."""
    if ratchet.sending is None:
        return ratchet
    return evolve(ratchet, sending=None)


# The copy every message commits: the new ratchet and counters.



class Session(SessionFastPaths):
    """A PQ3 session between this device and one peer device."""

    __slots__ = (
        "_clock",
        "_deferred",
        "_device",
        "_lock",
        "_profile",
        "_profile_id",
        "_rekey",
        "_trace",
        "_trace_seq",
    )

    def __init__(
        self,
        device: Device,
        state: SessionState,
        rng: RandomSource = SYSTEM_RANDOM,
        clock: Clock | None = None,
        *,
        _origin: object = None,
    ) -> None:
        """A session over a state value; prefer initiate, accept and from_bytes.

        The state's sending chain is closed unless this package built the state for this
        object alone, so two Session objects over one value can never seal on one chain.
        """
        if device.identity != state.me:
            raise MisuseError("this session belongs to another device")
        if _origin is not _FRESH:
            state = evolve(state, ratchet=close_sending_chain(state.ratchet))
        self._device = device
        self._state = state
        self._lock = threading.Lock()
        self._rng = rng
        self._clock: Clock = clock or time.time
        self._hot: HotPath = hot_path()
        self._signer: Any = self._hot.signer(device.signing_key)
        self._verifier: Any = self._hot.verifier(state.peer.signing_key)
        # PQ3 itself is the one shared value, so the wire parser's PQ3 fast path sees it.
        self._profile = PQ3 if state.profile == PQ3 else state.profile
        self._profile_id = b"" if self._profile is PQ3 else self._profile.to_bytes()
        self._rekey = rekey_kem(self._profile.rekey_kem)
        self._deferred = self._profile.transport != "repeat"
        pid = self._profile_id
        self._dst_send = session_dst(state.me.binding(), state.peer.binding(), pid)
        self._dst_recv = session_dst(state.peer.binding(), state.me.binding(), pid)
        self._plain_tail_send = plain_signature_tail(self._dst_send)
        self._plain_tail_recv = plain_signature_tail(self._dst_recv)
        self._trace: SessionTrace | None = None
        self._trace_seq = 0
        self._send_ctx: tuple[ChainHeader, SendingChain] | None = None
        # The chain last received on: its header, signed tail, header digest, and the
        # chain constants open_in_order takes (public values only).
        self._recv_tail: tuple[ChainHeader, bytes, bytes, SendingChain] | None = None

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
        profile: Profile | None = None,
    ) -> Session:
        """Start a session to a peer from its public identity and signed prekey bundle.

        `profile` defaults to the one the bundle names; its start KEM must be the bundle's.
        """
        return cls._initiate(
            device, peer_identity, bundle, policy, SYSTEM_RANDOM, clock, profile
        )

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
        profile: Profile | None = None,
    ) -> Session:
        """As initiate, drawing every random value from `rng`: for vectors and tests only."""
        return cls._initiate(device, peer_identity, bundle, policy, rng, clock, profile)

    @classmethod
    def _initiate(
        cls,
        device: Device,
        peer_identity: bytes,
        bundle_bytes: bytes,
        policy: RekeyPolicy | None,
        rng: RandomSource,
        clock: Clock | None,
        profile: Profile | None,
    ) -> Session:
        state = initiator_state(
            device, peer_identity, bundle_bytes, policy, rng, (clock or time.time)(), profile
        )
        return cls(device, state, rng, clock, _origin=_FRESH)

    @classmethod
    def accept(
        cls,
        device: Device,
        peer_identity: bytes,
        wire: bytes,
        *,
        save_device: SaveDevice,
        policy: RekeyPolicy | None = None,
        clock: Clock | None = None,
        tracer: Tracer | None = None,
        profiles: tuple[Profile, ...] | None = None,
    ) -> tuple[Session, bytes]:
        """Accept a session from any message of the peer's first chain; returns the plaintext.

        The start names its profile; only `profiles` (default: the device's own) are
        accepted, others are ProfileNotAllowedError.

        The start is recorded on `device` and `save_device(device)` must persist it before
        the plaintext is released: a device restored from older bytes would accept the same
        start again. If save_device raises, accept fails and `device` is left unchanged.
        """
        return cls._accept(
            device, peer_identity, wire, save_device, policy, SYSTEM_RANDOM, clock, tracer,
            profiles,
        )

    @classmethod
    def accept_deterministic_for_tests(
        cls,
        device: Device,
        peer_identity: bytes,
        wire: bytes,
        rng: RandomSource,
        *,
        save_device: SaveDevice | None = None,
        policy: RekeyPolicy | None = None,
        clock: Clock | None = None,
        tracer: Tracer | None = None,
        profiles: tuple[Profile, ...] | None = None,
    ) -> tuple[Session, bytes]:
        """As accept, drawing later random values from `rng`: for vectors and tests only.

        Without save_device the start is recorded on `device` in memory only.
        """
        save = save_device if save_device is not None else _keep_in_memory
        return cls._accept(
            device, peer_identity, wire, save, policy, rng, clock, tracer, profiles
        )

    @classmethod
    def _accept(
        cls,
        device: Device,
        peer_identity: bytes,
        wire: bytes,
        save_device: SaveDevice,
        policy: RekeyPolicy | None,
        rng: RandomSource,
        clock: Clock | None,
        tracer: Tracer | None,
        profiles: tuple[Profile, ...] | None,
    ) -> tuple[Session, bytes]:
        start = responder_start(
            device, peer_identity, wire, policy, (clock or time.time)(), profiles
        )
        session = cls(device, start.state, rng, clock, _origin=_FRESH)
        session.tracer = tracer
        plaintext, _ = session._open(start.message, verified=True, accepted=True)
        device.record_start(start.start_id, save_device)
        return session, plaintext

    # ── Messages ──

    def encrypt(self, plaintext: bytes, auth_data: bytes = b"") -> bytes:
        """Seal one message to the peer. auth_data travels in clear and is signed.

        Safe to call from several threads: calls on one session are serialized.
        """
        if type(plaintext) is not bytes:
            plaintext = as_bytes(plaintext, "plaintext")
        if type(auth_data) is not bytes:
            auth_data = as_bytes(auth_data, "auth data")
        if len(plaintext) > MAX_PLAINTEXT_LENGTH or len(auth_data) > MAX_AUTH_DATA_LENGTH:
            raise MisuseError("plaintext or auth data exceeds the protocol limits")
        with self._lock:
            return self._encrypt(plaintext, auth_data)

    def _encrypt(self, plaintext: bytes, auth_data: bytes) -> bytes:
        st = self._state
        r = st.ratchet
        effects = NO_EFFECTS
        if r.sending is None:
            if not r.receiving:
                raise MisuseError(
                    "this session was restored from a snapshot taken before the peer's "
                    "first reply: it can receive, but cannot send until the reply arrives"
                )
            now = self._clock()
            if self._trace is None and plain_sending_chain(r, st.policy, now):
                return self._seal_new_chain(st, r, plaintext, auth_data)
            r, effects = start_sending_chain(
                r, self._dst_send, st.policy, now, self._rng, self._rekey, self._hot
            )
        sending = r.sending
        assert sending is not None
        if sending.next_index > U32_MAX:
            raise MisuseError("sending chain exhausted: the peer must reply first")
        header = sending.header
        chain = base = self._chain_context(header)
        out = None
        if self._deferred:
            # `first` and `chunked`: each message also carries its transport block, signed
            # (spec/10-profiles.md §3.4).
            assert r.transport is not None and r.my_point is not None
            out = prepare_send(
                r.transport, r.my_point, r.my_kem_public, r.peer_kem_public, self._profile,
                self._rekey, self._rng,
            )
            chain = SendingChain(
                base.header_bytes + out.block_bytes,
                base.signature_tail + transport_tail(header, out.block_bytes),
                header.ecdh_public_key,
            )
            r = evolve(r, transport=out.state, peer_kem_public=out.peer_kem_public)
        wire, next_ck = self._hot.seal(
            sending.chain_key,
            sending.next_index,
            chain,
            auth_data,
            plaintext,
            self._signer,
            self._rng.deterministic,
        )
        stats = st.stats.after_send(effects, len(wire), len(plaintext))
        new_state = commit_message(st, after_send(r, next_ck), stats)
        if self._trace is not None:
            self._trace.message(
                "send", header, sending.next_index, effects.ecdh_step, effects.kem_requested,
                effects.pq_mixed, len(base.header_bytes), len(auth_data), len(plaintext),
                None if out is None else out.block, 0 if out is None else len(out.block_bytes),
            )
        self._state = new_state
        return wire

    def decrypt(self, wire: bytes) -> bytes:
        """Open one message from the peer. On any error the session is left unchanged."""
        return self.decrypt_with_auth_data(wire)[0]

    def decrypt_with_auth_data(self, wire: bytes) -> tuple[bytes, bytes]:
        """Open one message; returns (plaintext, the sender's auth data)."""
        if type(wire) is not bytes:
            wire = as_bytes(wire, "message")
        with self._lock:
            msg = None
            try:
                if self._trace is None and not self._deferred:
                    cached = self._recv_tail
                    if cached is not None:
                        opened = self._open_in_order(wire, cached)
                        if opened is not None:
                            return opened
                    if wire[1:2] == _PLAIN_FLAGS and wire[:1] == _WIRE_VERSION:
                        opened = self._open_new_chain(wire)
                        if opened is not None:
                            return opened
                msg = parse_message(wire, self._profile)
                return self._open(msg, verified=False)
            except AuthenticationError as e:
                err = hinted(e, DECRYPT_HINT)
                if self._trace is not None:
                    self._trace.refused(msg, type(err).__name__)
                raise err from None
            except PQ3Error as e:
                if self._trace is not None:
                    self._trace.refused(msg, type(e).__name__)
                raise

    def _open(
        self, msg: ParsedMessage, verified: bool, accepted: bool = False
    ) -> tuple[bytes, bytes]:
        st = self._state
        r = st.ratchet
        tail, digest = self._header_values(msg)
        if msg.transport is not None:
            tail += transport_tail(msg.header, msg.transport_bytes)
        verifier = None if verified else self._verifier
        pos = fast_receive_chain(r, msg, digest)
        if pos >= 0:
            pt, next_ck = self._hot.open(r.receiving[pos].chain_key, False, msg, tail, verifier)
            assert next_ck is not None
            new_r, effects = commit_fast_receive(r, pos, next_ck), NO_EFFECTS
        else:
            if verifier is not None:
                self._hot.verify(msg, tail, verifier)
            plan = plan_receive(
                r, msg, digest, self._dst_recv, self._clock(), self._hot.chain_step,
                self._rekey, self._hot,
            )
            pt, next_ck = self._hot.open(plan.key, plan.is_message_key, msg, tail, None)
            new_r, effects = plan.commit(next_ck), plan.effects
        if msg.transport is not None:
            new_r = self._take_block(new_r, msg.transport)
        new_state = commit_message(st, new_r, st.stats.after_receive(effects))
        if self._trace is not None:
            self._trace.message(
                "receive", msg.header, msg.index, effects.ecdh_step or accepted, False,
                effects.pq_mixed, msg.header_length, len(msg.auth_data), len(msg.ciphertext),
                msg.transport, len(msg.transport_bytes),
            )
        self._state = new_state
        return pt, msg.auth_data

    def _take_block(self, r: RatchetState, block: TransportBlock) -> RatchetState:
        if r.transport is None:
            raise MisuseError("a transport block reached a session that carries none")
        got = take_block(
            r.transport, block, r.my_kem_seed, r.my_kem_public, r.peer_kem_public,
            self._profile, self._rekey, r.kem_expanded(),
        )
        return evolve(
            r,
            transport=got.state,
            my_kem_seed=got.my_kem_seed,
            my_kem_public=got.my_kem_public,
            peer_kem_public=got.peer_kem_public,
            my_kem_expanded=r.my_kem_expanded if got.my_kem_seed is not None else None,
        )

    def _header_values(self, msg: ParsedMessage) -> tuple[bytes, bytes]:
        """The signed tail and the digest of the message's chain header, cached per chain."""
        header = msg.header
        cached = self._recv_tail
        if cached is not None and cached[0] is header:
            return cached[1], cached[2]
        tail = header.signature_tail(self._dst_recv)
        header_bytes = msg.raw[: msg.header_length]
        digest = sha384(header_bytes)
        ctx = SendingChain(header_bytes, tail, header.ecdh_public_key)
        self._recv_tail = (header, tail, digest, ctx)
        return tail, digest

    def _chain_context(self, header: ChainHeader) -> SendingChain:
        cached = self._send_ctx
        if cached is not None and cached[0] is header:
            return cached[1]
        ctx = SendingChain(
            header.encode(), header.signature_tail(self._dst_send), header.ecdh_public_key
        )
        self._send_ctx = (header, ctx)
        return ctx

    # ── Trace ──

    @property
    def tracer(self) -> Tracer | None:
        """Called with one TraceEvent per message sealed, opened or refused (docs/trace.md).

        Called before the step commits, with the session's lock held: if the tracer raises,
        the step fails unchanged; it must not call back into this session.
        """
        return None if self._trace is None else self._trace.tracer

    @tracer.setter
    def tracer(self, tracer: Tracer | None) -> None:
        if self._trace is not None:
            self._trace_seq = self._trace.seq  # event numbers go on across tracers
        self._trace = None if tracer is None else SessionTrace(
            tracer, str(self._state.me), self._profile, self._clock, self._trace_seq
        )

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
    def profile(self) -> Profile:
        """The design this session runs (PQ3 unless it was started under another)."""
        return self._profile

    @property
    def state(self) -> SessionState:
        """The current immutable state value (secret: never log it)."""
        return self._state

    def to_bytes(self) -> bytes:
        """Serialize the session. The result holds secrets and must be stored as such."""
        with self._lock:
            return encode_session_state(self._state)

    @classmethod
    def from_bytes(cls, blob: bytes, device: Device, *, clock: Clock | None = None) -> Session:
        """Restore a session for `device`; the blob must belong to it.

        A snapshot may be older than messages already sent, so the restored session never
        continues the sending chain the snapshot was taken in: its first encrypt opens a
        new chain (one P-256 key generation and ECDH on each side, spec/06-state.md §3).
        """
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
        state = decode_session_state(as_bytes(blob, "session state"))
        if state.me != device.identity:
            raise MisuseError("session state belongs to another device")
        return cls(device, state, rng, clock)

    @classmethod
    def _resume_latest(
        cls, blob: bytes, device: Device, rng: RandomSource, clock: Clock | None
    ) -> Session:
        """Restore a blob that is the latest committed state and that no other object holds.

        Only for a store whose every encrypt commits the new state with its wire bytes in one
        transaction, and which loads and commits under one write lock: its blob cannot be
        behind a message already sealed, so continuing its sending chain is safe.
        """
        state = decode_session_state(blob)
        if state.me != device.identity:
            raise MisuseError("session state belongs to another device")
        return cls(device, state, rng, clock, _origin=_FRESH)

    def __repr__(self) -> str:
        s = self._state.stats
        me, peer = self._state.me, self._state.peer
        return f"Session({me} -> {peer}, sent={s.sent}, received={s.received})"


