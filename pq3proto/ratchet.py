"""Ratchet state and its pure transitions: ECDH step, sparse PQ rekey (spec/03-ratchet.md §3-§5).

Owns: the immutable RatchetState, the send-side and receive-side ECDH steps with the PQ
rekey riding on them, chain lookup for incoming messages, skipped keys and their bounds.
Not: message bytes or signatures (message.py, wire.py), identities, persistence or stats
(session.py). Every function returns a new state; none mutates its input, so a caller that
fails half-way simply keeps the old value.

PQ rekey, seen from one party (A); B is symmetric:

      ┌────────────── idle ◄───────────────────────────────────┐
      │  A starts a sending chain and the policy is due         │
      ▼                                                         │
    asked: A's chain carries kemPK_A on every message;          │
           A holds its decapsulation seed (expect_kem)          │
      │  B's next chain carries Encap(kemPK_A) on every message │
      ▼                                                         │
    A decapsulates, mixes kemSS into the root key, erases seed ─┘
      (a new B chain without it, or a ciphertext A did not ask for: DowngradeError)

    B, on receiving kemPK_A, stores it; B's next sending chain encapsulates to it and
    mixes kemSS into its own root-key update: one rekey = 1184 B + 1088 B on the wire.

A restored session has no sending chain; its next send opens a continuation chain (a second
chain in its turn, repeating an open request), which the peer accepts like any new chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import kem
from .constants import (
    DEFAULT_REKEY_KEM,
    MAX_FORWARD_JUMP,
    MAX_RECEIVING_CHAINS,
    MAX_RETIRED_CHAINS,
    MAX_SKIPPED_KEYS,
)
from .errors import (
    AuthenticationError,
    DowngradeError,
    MisuseError,
    ReplayError,
    TooFarAheadError,
)
from .frozen import copier, fast_init
from .frozen import evolve as evolve
from .kdf import pk_ratchet_dst
from .message import PYTHON, HotPath
from .policy import RekeyPolicy
from .primitives import P256PrivateKey, RandomSource
from .transport import TransportState, mixed_answer, opened_request
from .wire import ChainHeader, ParsedMessage

ChainStep = Callable[[bytes], tuple[bytes, bytes]]


@fast_init
@dataclass(frozen=True, eq=False)
class SendChain:
    """My current sending chain: its header and the chain key for `next_index`."""

    header: ChainHeader
    chain_key: bytes = field(repr=False)
    next_index: int


@fast_init
@dataclass(frozen=True, eq=False)
class ReceiveChain:
    """One of the peer's sending chains, known by its ECDH point.

    header_digest is SHA-384 of the chain header as first accepted; every later message of
    the chain must carry the same header. None only for a chain restored from a version-1
    state, which did not record it.
    """

    peer_point: bytes
    chain_key: bytes = field(repr=False)
    next_index: int
    header_digest: bytes | None


@fast_init
@dataclass(frozen=True, eq=False)
class RatchetState:
    """Everything secret a session holds. Never mutated; transitions return a new value."""

    root_key: bytes = field(repr=False)
    my_ecdh: P256PrivateKey | None = field(repr=False)  # my latest ratchet key
    my_point: bytes | None
    peer_point: bytes  # the peer's latest ratchet point (or my peer's ECDH prekey)
    sending: SendChain | None  # None: the next send starts a chain (ECDH step)
    awaiting_reply: bool  # my latest chain has not been answered by a new peer chain
    receiving: tuple[ReceiveChain, ...]  # oldest first
    skipped: Mapping[tuple[bytes, int], bytes] = field(repr=False)  # insertion = age order
    retired: tuple[bytes, ...]
    my_kem_seed: bytes | None = field(repr=False)  # set while my rekey request is open
    my_kem_public: bytes | None
    peer_kem_public: bytes | None  # the peer asked: my next chain must encapsulate to it
    messages_since_pq: int
    last_pq_time: float
    # first, chunked: the deferred rekey's state (transport.py); None under repeat
    transport: TransportState | None = None
    # (my_kem_seed, the rekey KEM's expanded key of it) as generated, in memory only (never
    # encoded): decapsulation uses it instead of expanding the seed again. Used only while
    # its seed is the very object my_kem_seed holds; a restored state has None.
    my_kem_expanded: tuple[bytes, Any] | None = field(default=None, repr=False)

    def kem_expanded(self) -> Any:
        """The expanded key of my_kem_seed, or None."""
        cached = self.my_kem_expanded
        if cached is None or self.my_kem_seed is None or cached[0] is not self.my_kem_seed:
            return None
        return cached[1]

    @property
    def expect_kem(self) -> bool:
        return self.my_kem_seed is not None

    def find_chain(self, point: bytes) -> int:
        for i in range(len(self.receiving) - 1, -1, -1):
            if self.receiving[i].peer_point == point:
                return i
        return -1


@fast_init
@dataclass(frozen=True)
class Effects:
    """What a transition did, for the session's counters."""

    ecdh_step: bool = False
    pq_mixed: bool = False
    kem_requested: bool = False


NO_EFFECTS = Effects()
# Every combination, built once: (ecdh_step, pq_mixed, kem_requested) -> its value.
_EFFECTS = {
    (e, p, k): NO_EFFECTS if not (e or p or k) else Effects(e, p, k)
    for e in (False, True)
    for p in (False, True)
    for k in (False, True)
}


# ── Send side ───────────────────────────────────────────────────────────────────────────


def rekey_kem(name: str | None = None) -> kem.NamedKem:
    """The rekey KEM of a profile (PQ3's ML-KEM-768 by default) on the chosen backend."""
    return kem.named(name or DEFAULT_REKEY_KEM)


def new_request(
    rekey: kem.NamedKem, rng: RandomSource
) -> tuple[bytes, bytes, tuple[bytes, Any] | None]:
    """A rekey request's key pair: (seed, public key, the value of my_kem_expanded)."""
    seed, public_key, key = rekey.generate_expanded(rng)
    return seed, public_key, None if key is None else (seed, key)


def start_sending_chain(
    state: RatchetState,
    dst_send: bytes,
    policy: RekeyPolicy,
    now: float,
    rng: RandomSource,
    rekey: kem.NamedKem | None = None,
    hot: HotPath = PYTHON,
) -> tuple[RatchetState, Effects]:
    """pkRatchetToSender: a fresh P-256 key, optional encapsulation and rekey request.

    `hot` runs the key generation and the ECDH + root-key step (in C on the native path).
    """
    rekey = rekey or rekey_kem()
    if state.transport is not None:
        ts = state.transport
        return _start_deferred_chain(state, ts, dst_send, policy, now, rng, rekey, hot)
    new_key = hot.p256_generate(rng)
    kem_ss = kem_ct = None
    answered = state.peer_kem_public
    if answered is not None:
        kem_ss, kem_ct = rekey.encapsulate(answered, rng)
    rk, ck, since, last = _send_root_step(
        state, dst_send, new_key, kem_ss, kem_ct, answered, now, hot
    )
    seed = kem_pk = None
    expanded = state.my_kem_expanded
    if state.expect_kem:
        # Only a continuation chain (spec/03-ratchet.md §3.4) opens while my request is still
        # open: it repeats the request, or the peer would lose it and owe nothing.
        kem_pk = state.my_kem_public
    elif policy.due(since, now - last):
        seed, kem_pk, expanded = new_request(rekey, rng)
    header = ChainHeader(new_key.public, kem_ciphertext=kem_ct, kem_public_key=kem_pk)
    new_state = evolve(
        state,
        root_key=rk,
        my_ecdh=new_key,
        my_point=new_key.public,
        sending=SendChain(header, ck, 0),
        awaiting_reply=True,
        my_kem_seed=seed if seed is not None else state.my_kem_seed,
        my_kem_public=kem_pk if kem_pk is not None else state.my_kem_public,
        peer_kem_public=None,
        messages_since_pq=since,
        last_pq_time=last,
        my_kem_expanded=expanded,
    )
    return new_state, _EFFECTS[True, kem_ss is not None, seed is not None]


def _send_root_step(
    state: RatchetState,
    dst_send: bytes,
    new_key: P256PrivateKey,
    kem_ss: bytes | None,
    kem_ct: bytes | None,
    answered: bytes | None,
    now: float,
    hot: HotPath,
) -> tuple[bytes, bytes, int, float]:
    """The ECDH + root-key step of a new sending chain, with the KEM secret it mixes (if
    any): (root key, chain key, sincePQ, lastPQ)."""
    dst = pk_ratchet_dst(dst_send, state.peer_point, new_key.public, kem_ct, answered)
    rk, ck = hot.ecdh_root_step(state.root_key, new_key, state.peer_point, kem_ss, dst)
    if kem_ss is None:
        return rk, ck, state.messages_since_pq, state.last_pq_time
    return rk, ck, 0, now


def _start_deferred_chain(
    state: RatchetState,
    ts: TransportState,
    dst_send: bytes,
    policy: RekeyPolicy,
    now: float,
    rng: RandomSource,
    rekey: kem.NamedKem,
    hot: HotPath,
) -> tuple[RatchetState, Effects]:
    """The same step under `first` and `chunked`: a decapsulated answer is mixed here, and
    the chain's header marks it (spec/10-profiles.md §3.2 step 3)."""
    new_key = hot.p256_generate(rng)
    mix = ts.pending_mix
    kem_ss = kem_ct = answered = None
    if mix is not None:
        kem_ss, kem_ct, answered = mix.secret, mix.ciphertext, mix.public_key
    rk, ck, since, last = _send_root_step(
        state, dst_send, new_key, kem_ss, kem_ct, answered, now, hot
    )
    ts = evolve(ts, pending_mix=None)
    seed, kem_pk = state.my_kem_seed, state.my_kem_public
    expanded = state.my_kem_expanded
    requested = False
    idle = seed is None and not ts.peer_rekey_in_flight and ts.answer is None
    if idle and policy.due(since, now - last):
        seed, kem_pk, expanded = new_request(rekey, rng)
        ts = opened_request(ts, kem_pk)
        requested = True
    header = ChainHeader(new_key.public, mixed_id=mix.request_id if mix is not None else None)
    new_state = evolve(
        state,
        root_key=rk,
        my_ecdh=new_key,
        my_point=new_key.public,
        sending=SendChain(header, ck, 0),
        awaiting_reply=True,
        my_kem_seed=seed,
        my_kem_public=kem_pk,
        messages_since_pq=since,
        last_pq_time=last,
        transport=ts,
        my_kem_expanded=expanded,
    )
    return new_state, _EFFECTS[True, mix is not None, requested]


# ── A plain new chain: its ECDH step and first message in one hot-path call ─────────────
#
# A chain whose header carries no KEM material and whose step mixes no KEM secret (PQ3's
# transport, no request or answer due) has the header version || 0 || ecdhPK, so the hot
# path can generate the key, step and seal (or verify, step and open) message 0 at once.
# The states committed equal what start_sending_chain + after_send, or plan_receive and
# its commit, would commit for the same message; every other chain takes those.

ECDH_STEP = _EFFECTS[True, False, False]


def plain_sending_chain(state: RatchetState, policy: RekeyPolicy, now: float) -> bool:
    """Whether the next sending chain is plain: nothing to answer, ask or repeat."""
    return (
        state.transport is None
        and state.peer_kem_public is None
        and state.my_kem_seed is None
        and not policy.due(state.messages_since_pq, now - state.last_pq_time)
    )


_plain_sent = copier(
    "root_key", "my_ecdh", "my_point", "sending", "awaiting_reply", "messages_since_pq"
)


def commit_plain_sending_chain(
    state: RatchetState, key: P256PrivateKey, root_key: bytes, next_chain_key: bytes
) -> RatchetState:
    """The state after a plain chain under `key` sealed its message 0."""
    header = ChainHeader(key.public)
    sending = SendChain(header, next_chain_key, 1)
    new: RatchetState = _plain_sent(
        state, root_key, key, key.public, sending, True, state.messages_since_pq + 1
    )
    return new


def plain_receiving_chain(state: RatchetState, point: bytes) -> bool:
    """Whether a plain chain under `point` would start here without an error or a KEM step:
    a new, never-dropped point, my ratchet key present, no rekey answer owed to me."""
    return (
        state.transport is None
        and state.my_kem_seed is None
        and state.my_ecdh is not None
        and state.find_chain(point) < 0
        and point not in state.retired
    )


_plain_received = copier(
    "root_key",
    "peer_point",
    "sending",
    "awaiting_reply",
    "receiving",
    "skipped",
    "retired",
    "peer_kem_public",
    "messages_since_pq",
)


def commit_plain_receiving_chain(
    state: RatchetState, point: bytes, header_digest: bytes, root_key: bytes, next_chain_key: bytes
) -> RatchetState:
    """The state after message 0 of a plain peer chain under `point` opened."""
    receiving, skipped, retired = _add_chain(state, point, next_chain_key, header_digest, 1)
    new: RatchetState = _plain_received(
        state, root_key, point, None, False, receiving, skipped, retired, None,
        state.messages_since_pq + 1,
    )
    return new


# The copies of every message: a chain advanced by one, the state holding it.
_advance_chain = copier("chain_key", "next_index")
_with_sending = copier("sending", "messages_since_pq")
_with_receiving = copier("receiving", "messages_since_pq")


def after_send(state: RatchetState, next_chain_key: bytes) -> RatchetState:
    """Advance my sending chain by one message."""
    sending = state.sending
    assert sending is not None
    chain = _advance_chain(sending, next_chain_key, sending.next_index + 1)
    new: RatchetState = _with_sending(state, chain, state.messages_since_pq + 1)
    return new


# ── Receive side ────────────────────────────────────────────────────────────────────────


@fast_init
@dataclass(frozen=True, eq=False)
class ReceivePlan:
    """How to open one message: the key to use and the state to commit if it opens."""

    key: bytes = field(repr=False)
    is_message_key: bool
    effects: Effects
    _commit: Callable[[bytes | None], RatchetState] = field(repr=False)

    def commit(self, next_chain_key: bytes | None) -> RatchetState:
        return self._commit(next_chain_key)


def plan_receive(
    state: RatchetState,
    msg: ParsedMessage,
    header_digest: bytes,
    dst_recv: bytes,
    now: float,
    step: ChainStep,
    rekey: kem.NamedKem | None = None,
    hot: HotPath = PYTHON,
) -> ReceivePlan:
    """Locate (or, after an ECDH step, create) the message's chain and the key to open it.

    The caller must have verified the message signature. Nothing here is committed.
    header_digest is SHA-384 of the message's chain header bytes.
    """
    point = msg.header.ecdh_public_key
    effects = NO_EFFECTS
    pos = state.find_chain(point)
    if pos < 0:
        if point in state.retired:
            raise TooFarAheadError("message belongs to a receiving chain already dropped")
        if msg.header.prekey_hash is not None:
            raise MisuseError("message starts a new session: pass it to Session.accept")
        if state.my_ecdh is None:
            raise AuthenticationError("a new ratchet key arrived where none can be")
        if msg.index > MAX_FORWARD_JUMP:
            raise TooFarAheadError(
                f"message {msg.index} of a new chain; at most {MAX_FORWARD_JUMP} may be skipped"
            )
        state, effects = _receive_ecdh_step(
            state, msg.header, header_digest, dst_recv, now, rekey or rekey_kem(), hot
        )
        pos = len(state.receiving) - 1
    else:
        expected = state.receiving[pos].header_digest
        if expected is not None and expected != header_digest:
            raise AuthenticationError("message header differs from its chain's first header")
    return _plan_in_chain(state, pos, msg.index, effects, step)


def _receive_ecdh_step(
    state: RatchetState,
    header: ChainHeader,
    header_digest: bytes,
    dst_recv: bytes,
    now: float,
    rekey: kem.NamedKem,
    hot: HotPath = PYTHON,
) -> tuple[RatchetState, Effects]:
    """pkRatchetToReceiver: ECDH with my latest key, decapsulation if I asked for a rekey."""
    assert state.my_ecdh is not None and state.my_point is not None
    if state.transport is None:
        kem_ss, kem_ct, answered, kem_fields = _repeat_receive_kem(state, header, rekey)
    else:
        kem_ss, kem_ct, answered, kem_fields = _deferred_receive_kem(state.transport, header)
    dst = pk_ratchet_dst(dst_recv, state.my_point, header.ecdh_public_key, kem_ct, answered)
    rk, ck = hot.ecdh_root_step(state.root_key, state.my_ecdh, header.ecdh_public_key, kem_ss, dst)
    receiving, skipped, retired = _add_chain(state, header.ecdh_public_key, ck, header_digest)
    since, last = state.messages_since_pq, state.last_pq_time
    if kem_ss is not None:
        since, last = 0, now
    new_state = evolve(
        state,
        root_key=rk,
        peer_point=header.ecdh_public_key,
        sending=None,
        awaiting_reply=False,
        receiving=receiving,
        skipped=skipped,
        retired=retired,
        messages_since_pq=since,
        last_pq_time=last,
        **kem_fields,
    )
    return new_state, _EFFECTS[True, kem_ss is not None, False]


_ReceiveKem = tuple[bytes | None, bytes | None, bytes | None, dict[str, Any]]


def _repeat_receive_kem(
    state: RatchetState, header: ChainHeader, rekey: kem.NamedKem
) -> _ReceiveKem:
    """PQ3: decapsulate the answer to my request on the chain that carries it, and hold the
    peer's request for my next chain. (secret, ciphertext, answered key, state fields)."""
    kem_ss = None
    if header.kem_ciphertext is not None:
        if state.my_kem_seed is None or state.my_kem_public is None:
            raise DowngradeError("KEM ciphertext present but no rekey was requested")
        kem_ss = rekey.decapsulate(
            state.my_kem_seed, header.kem_ciphertext, state.kem_expanded()
        )
    elif state.expect_kem:
        raise DowngradeError("the peer's new chain lacks the KEM ciphertext owed to our request")
    if header.kem_public_key is not None:
        rekey.validate_public_key(header.kem_public_key)
    answered = state.my_kem_public if kem_ss is not None else None
    fields: dict[str, Any] = {"peer_kem_public": header.kem_public_key}
    if kem_ss is not None:
        fields.update(my_kem_seed=None, my_kem_public=None, my_kem_expanded=None)
    return kem_ss, header.kem_ciphertext, answered, fields


def _deferred_receive_kem(ts: TransportState, header: ChainHeader) -> _ReceiveKem:
    """`first` and `chunked`: a chain marked mixed mixes my answer's secret (spec/10-profiles.md
    §3.2 step 4). A chain without a mark owes nothing: the peer may not have my answer yet."""
    if header.mixed_id is None:
        return None, None, None, {}
    answer = ts.answer
    if answer is None or answer.request_id != header.mixed_id:
        raise DowngradeError("a chain marked mixed for a rekey this side did not answer")
    fields: dict[str, Any] = {"transport": mixed_answer(ts)}
    return answer.secret, answer.ciphertext, answer.public_key, fields


def _add_chain(
    state: RatchetState, point: bytes, chain_key: bytes, header_digest: bytes, next_index: int = 0
) -> tuple[tuple[ReceiveChain, ...], Mapping[tuple[bytes, int], bytes], tuple[bytes, ...]]:
    """The receiving chains with a new one, the oldest dropped beyond the bound."""
    receiving = (*state.receiving, ReceiveChain(point, chain_key, next_index, header_digest))
    skipped = state.skipped
    retired = state.retired
    if len(receiving) > MAX_RECEIVING_CHAINS:
        dropped = receiving[0].peer_point
        receiving = receiving[1:]
        skipped = {k: v for k, v in skipped.items() if k[0] != dropped}
        retired = (*retired, dropped)[-MAX_RETIRED_CHAINS:]
    return receiving, skipped, retired


def _plan_in_chain(
    state: RatchetState, pos: int, index: int, effects: Effects, step: ChainStep
) -> ReceivePlan:
    chain = state.receiving[pos]
    if index < chain.next_index:
        mk = state.skipped.get((chain.peer_point, index))
        if mk is None:
            raise ReplayError(f"message {index} of this chain was already received")
        skipped = {k: v for k, v in state.skipped.items() if k != (chain.peer_point, index)}

        def commit_skipped(_: bytes | None) -> RatchetState:
            return evolve(
                state, skipped=skipped, messages_since_pq=state.messages_since_pq + 1
            )

        return ReceivePlan(mk, True, effects, commit_skipped)

    jump = index - chain.next_index
    if jump > MAX_FORWARD_JUMP:
        raise TooFarAheadError(
            f"message {index} is {jump} ahead of the chain; at most {MAX_FORWARD_JUMP} allowed"
        )
    ck = chain.chain_key
    new_skipped: dict[tuple[bytes, int], bytes] | None = None
    if jump:
        new_skipped = dict(state.skipped)
        for i in range(chain.next_index, index):
            mk, ck = step(ck)
            new_skipped[(chain.peer_point, i)] = mk
        while len(new_skipped) > MAX_SKIPPED_KEYS:
            del new_skipped[next(iter(new_skipped))]

    def commit_chain(next_ck: bytes | None) -> RatchetState:
        assert next_ck is not None
        receiving = list(state.receiving)
        receiving[pos] = ReceiveChain(chain.peer_point, next_ck, index + 1, chain.header_digest)
        return evolve(
            state,
            receiving=tuple(receiving),
            skipped=new_skipped if new_skipped is not None else state.skipped,
            messages_since_pq=state.messages_since_pq + 1,
        )

    return ReceivePlan(ck, False, effects, commit_chain)


def fast_receive_chain(state: RatchetState, msg: ParsedMessage, header_digest: bytes) -> int:
    """Index of the chain that expects exactly this message next, or -1 (the in-order path)."""
    pos = state.find_chain(msg.header.ecdh_public_key)
    if pos >= 0:
        chain = state.receiving[pos]
        if chain.next_index == msg.index and chain.header_digest in (header_digest, None):
            return pos
    return -1


def commit_fast_receive(state: RatchetState, pos: int, next_chain_key: bytes) -> RatchetState:
    """Advance receiving chain `pos` by one message (the in-order path)."""
    old = state.receiving
    chain = old[pos]
    advanced = _advance_chain(chain, next_chain_key, chain.next_index + 1)
    if pos == len(old) - 1:
        receiving = (*old[:pos], advanced)
    else:
        receiving = (*old[:pos], advanced, *old[pos + 1 :])
    new: RatchetState = _with_receiving(state, receiving, state.messages_since_pq + 1)
    return new
