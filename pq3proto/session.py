"""Sessions: the public API over identities, ratchet and message path (spec/03-ratchet.md §4, §6).

Owns: Session.initiate / accept / encrypt / decrypt / to_bytes / from_bytes, the order of
checks on receipt, commit-on-success of every state change, the per-session counters, and
the rules that keep a (key, IV) pair from ever sealing twice: one lock per session, and a
restored snapshot never continuing the sending chain it was taken in (spec/06-state.md §3).
Not: key derivations (kdf.py), the ratchet rules (ratchet.py), byte layouts (wire.py,
state.py) or the C path (native.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from .constants import MAX_AUTH_DATA_LENGTH, MAX_PLAINTEXT_LENGTH
from .errors import (
    ACCEPT_HINT,
    DECRYPT_HINT,
    AuthenticationError,
    MisuseError,
    PQ3Error,
    ProfileNotAllowedError,
    ReplayError,
    hinted,
)
from .frozen import copier
from .handshake import initiate as handshake_initiate
from .handshake import respond as handshake_respond
from .handshake import start_id
from .identity import Device, PrekeyBundle, PublicIdentity
from .kdf import session_dst
from .message import HotPath, SendingChain
from .paths import hot_path
from .policy import RekeyPolicy
from .primitives import SYSTEM_RANDOM, RandomSource, sha384
from .profile import PQ3, Profile
from .ratchet import (
    NO_EFFECTS,
    RatchetState,
    ReceiveChain,
    SendChain,
    after_send,
    commit_fast_receive,
    evolve,
    fast_receive_chain,
    plan_receive,
    rekey_kem,
    start_sending_chain,
)
from .session_state import SessionState, SessionStats
from .state import decode_session_state, encode_session_state
from .trace import (
    KemMaterial,
    TraceEvent,
    Tracer,
    WireParts,
    block_material,
    chain_id,
    header_material,
    wire_parts,
)
from .transport import TransportBlock, TransportState, opened_request, prepare_send, take_block
from .wire import ChainHeader, ParsedMessage, parse_message, transport_tail

Clock = Callable[[], float]
SaveDevice = Callable[[Device], None]
_MAX_INDEX = 0xFFFF_FFFF
# Passed by the constructors that build a state this object alone has used (initiate,
# accept, the store's resume of its own latest commit). Any other state value may have
# sealed messages elsewhere, so its sending chain is closed (spec/06-state.md §3).
_FRESH = object()


def _as_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise MisuseError(f"{what} must be bytes, not {type(value).__name__}")


def _keep_in_memory(_: Device) -> None:
    return None


def close_sending_chain(ratchet: RatchetState) -> RatchetState:
    """The restore rule: a state that may already have sealed on its chain never seals again
    on it; the next encrypt opens a continuation chain under a fresh ratchet key."""
    if ratchet.sending is None:
        return ratchet
    return evolve(ratchet, sending=None)


# The copy every message commits: the new ratchet and counters.
_committed = copier("ratchet", "stats")


class Session:
    """A PQ3 session between this device and one peer device."""

    __slots__ = (
        "_clock",
        "_deferred",
        "_device",
        "_dst_recv",
        "_dst_send",
        "_hot",
        "_lock",
        "_profile",
        "_profile_id",
        "_recv_tail",
        "_rekey",
        "_rng",
        "_send_ctx",
        "_signer",
        "_state",
        "_trace_seq",
        "_tracer",
        "_verifier",
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
        self._tracer: Tracer | None = None
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
        now = (clock or time.time)()
        start = handshake_initiate(device.identity, peer, bundle, rng, profile)
        seed = kem_pk = None
        if policy.due(0, 0.0):
            seed, kem_pk = rekey_kem(profile.rekey_kem).generate(rng)
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
        )
        state = SessionState(
            device.identity, peer, True, policy, ratchet, SessionStats(), profile
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
        policy = policy or RekeyPolicy()
        peer = PublicIdentity.decode(_as_bytes(peer_identity, "peer identity"))
        msg = parse_message(_as_bytes(wire, "message"))
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
        now = (clock or time.time)()
        ratchet = RatchetState(
            root_key=start.root_key,
            my_ecdh=None,
            my_point=None,
            peer_point=h.ecdh_public_key,
            sending=None,
            awaiting_reply=False,
            receiving=(
                ReceiveChain(h.ecdh_public_key, start.chain_key, 0, _header_digest(msg)),
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
        state = SessionState(
            device.identity, peer, False, policy, ratchet, SessionStats(), profile
        )
        session = cls(device, state, rng, clock, _origin=_FRESH)
        session._tracer = tracer
        plaintext, _ = session._open(msg, verified=True, accepted=True)
        device.record_start(sid, save_device)
        return session, plaintext

    # ── Messages ──

    def encrypt(self, plaintext: bytes, auth_data: bytes = b"") -> bytes:
        """Seal one message to the peer. auth_data travels in clear and is signed.

        Safe to call from several threads: calls on one session are serialized.
        """
        if type(plaintext) is not bytes:
            plaintext = _as_bytes(plaintext, "plaintext")
        if type(auth_data) is not bytes:
            auth_data = _as_bytes(auth_data, "auth data")
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
            r, effects = start_sending_chain(
                r, self._dst_send, st.policy, self._clock(), self._rng, self._rekey, self._hot
            )
        sending = r.sending
        assert sending is not None
        if sending.next_index > _MAX_INDEX:
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
        new_state = _committed(st, after_send(r, next_ck), stats)
        if self._tracer is not None:
            self._emit(
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
            wire = _as_bytes(wire, "message")
        with self._lock:
            msg = None
            try:
                cached = self._recv_tail
                if cached is not None and self._tracer is None and not self._deferred:
                    opened = self._open_in_order(wire, cached)
                    if opened is not None:
                        return opened
                msg = parse_message(wire, self._profile)
                return self._open(msg, verified=False)
            except AuthenticationError as e:
                err = hinted(e, DECRYPT_HINT)
                if self._tracer is not None:
                    self._emit_refused(msg, type(err).__name__)
                raise err from None
            except PQ3Error as e:
                if self._tracer is not None:
                    self._emit_refused(msg, type(e).__name__)
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
        new_state = _committed(st, new_r, st.stats.after_receive(effects))
        if self._tracer is not None:
            self._emit(
                "receive", msg.header, msg.index, effects.ecdh_step or accepted, False,
                effects.pq_mixed, msg.header_length, len(msg.auth_data), len(msg.ciphertext),
                msg.transport, len(msg.transport_bytes),
            )
        self._state = new_state
        return pt, msg.auth_data

    def _open_in_order(
        self, wire: bytes, cached: tuple[ChainHeader, bytes, bytes, SendingChain]
    ) -> tuple[bytes, bytes] | None:
        """The next message of the chain last received on, opened in one C call without
        parsing it in Python (the same checks, in the same order, as _open's in-order path).
        None: it is not that message exactly, and decrypt takes the full path."""
        header, _, digest, ctx = cached
        if not wire.startswith(ctx.header_bytes):
            return None
        st = self._state
        r = st.ratchet
        pos = r.find_chain(header.ecdh_public_key)
        if pos < 0:
            return None
        chain = r.receiving[pos]
        if chain.header_digest is not None and chain.header_digest != digest:
            return None
        opened = self._hot.open_in_order(
            chain.chain_key, chain.next_index, ctx, wire, self._verifier
        )
        if opened is None:
            return None
        pt, auth_data, next_ck = opened
        stats = st.stats.after_receive(NO_EFFECTS)
        self._state = _committed(st, commit_fast_receive(r, pos, next_ck), stats)
        return pt, auth_data

    def _take_block(self, r: RatchetState, block: TransportBlock) -> RatchetState:
        if r.transport is None:
            raise MisuseError("a transport block reached a session that carries none")
        got = take_block(
            r.transport, block, r.my_kem_seed, r.my_kem_public, r.peer_kem_public,
            self._profile, self._rekey,
        )
        return evolve(
            r,
            transport=got.state,
            my_kem_seed=got.my_kem_seed,
            my_kem_public=got.my_kem_public,
            peer_kem_public=got.peer_kem_public,
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
        return self._tracer

    @tracer.setter
    def tracer(self, tracer: Tracer | None) -> None:
        self._tracer = tracer

    def _emit(
        self,
        direction: Literal["send", "receive"],
        header: ChainHeader,
        index: int,
        ecdh_step: bool,
        requested: bool,
        completed: bool,
        header_length: int,
        auth_data: int,
        ciphertext: int,
        block: TransportBlock | None = None,
        block_length: int = 0,
    ) -> None:
        material = header_material(header, self._profile)
        if block is not None:
            material += block_material(block, self._profile)
        parts = wire_parts(header_length + block_length, material, auth_data, ciphertext)
        self._send_event(
            direction, chain_id(header.ecdh_public_key), index, ecdh_step, requested, completed,
            parts, material, None,
        )

    def _emit_refused(self, msg: ParsedMessage | None, error: str) -> None:
        if msg is None:
            parts = WireParts(0, 0, 0, 0, 0, 0)
            self._send_event("receive", "", -1, False, False, False, parts, (), error)
            return
        material = header_material(msg.header, self._profile)
        if msg.transport is not None:
            material += block_material(msg.transport, self._profile)
        parts = wire_parts(
            msg.header_length + len(msg.transport_bytes), material, len(msg.auth_data),
            len(msg.ciphertext),
        )
        self._send_event(
            "receive", chain_id(msg.header.ecdh_public_key), msg.index, False, False, False,
            parts, material, error,
        )

    def _send_event(
        self,
        direction: Literal["send", "receive"],
        chain: str,
        index: int,
        ecdh_step: bool,
        requested: bool,
        completed: bool,
        parts: WireParts,
        material: tuple[KemMaterial, ...],
        error: str | None,
    ) -> None:
        assert self._tracer is not None
        event = TraceEvent(
            self._trace_seq, self._clock(), str(self._state.me), direction, chain, index,
            ecdh_step, requested, completed, material, parts, error,
        )
        self._tracer(event)
        self._trace_seq += 1

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
        state = decode_session_state(_as_bytes(blob, "session state"))
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



def _header_digest(msg: ParsedMessage) -> bytes:
    return sha384(msg.raw[: msg.header_length])
