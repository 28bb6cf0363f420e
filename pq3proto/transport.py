"""Deferred KEM transports, `first` and `chunked` (spec/10-profiles.md §3.2-§3.4).

Owns: the per-message transport block (its layout, strict parser and the bytes it adds to
the signed tail), the transport part of a session's secret state, and its two pure
transitions: what my next message carries (`prepare_send`) and what a verified, opened
message of the peer's gives (`take_block`).
Not: the ECDH step and the mixing of a finished rekey into the root key (ratchet.py), the
chain header (wire.py), the erasure code (chunking.py, erasure.py) or persistence (state.py).

A rekey under these transports, requester A, answerer B:

    A opens request R (its key pk, id R); every A message names R while it is open, and
      carries pk (first: once per chain; chunked: one chunk per message)
    B, holding all of pk, encapsulates at its next send: answer (R, C, ss, ct); every B
      message names it and carries ct until B sees R mixed
    A, holding all of ct, decapsulates: pending mix (R, ss, ct, pk); R is closed
    A's next sending chain mixes ss into its root key and its header carries "mixed R"
    B, opening that chain, mixes its own ss: both root keys now hold the KEM secret
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import kem
from .chunking import Chunk, Encoder, Reassembler, material_id, total_count
from .constants import (
    CHUNK_HEADER_SIZE,
    CHUNK_KIND_CIPHERTEXT,
    CHUNK_KIND_PUBLIC_KEY,
    MAX_DONE_REKEY_IDS,
    REKEY_ID_SIZE,
    TBLOCK_ANSWER,
    TBLOCK_ANSWER_MATERIAL,
    TBLOCK_KNOWN,
    TBLOCK_REQUEST,
    TBLOCK_REQUEST_MATERIAL,
)
from .encoding import Reader
from .errors import (
    ChunkError,
    DowngradeError,
    InconsistentChunkError,
    MalformedInputError,
)
from .frozen import evolve
from .primitives import RandomSource
from .profile import Profile

_ID = REKEY_ID_SIZE


# ── The block on the wire ───────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Material:
    """One piece of KEM material a message carries: whole (first) or one chunk (chunked)."""

    kind: int  # CHUNK_KIND_PUBLIC_KEY or CHUNK_KIND_CIPHERTEXT
    data: bytes = field(repr=False)  # the whole material (first) or the chunk's bytes
    chunk: Chunk | None = None

    @property
    def wire_size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class TransportBlock:
    """The transport fields of one message, as parsed; nothing in it is trusted yet."""

    request_id: bytes | None = None  # the sender's open rekey request
    answer: tuple[bytes, bytes] | None = None  # (request answered, the answer's own id)
    answer_material: Material | None = None
    request_material: Material | None = None

    def encode(self) -> bytes:
        flags = 0
        out = b""
        if self.request_id is not None:
            flags |= TBLOCK_REQUEST
            out += self.request_id
        if self.answer is not None:
            flags |= TBLOCK_ANSWER
            out += self.answer[0] + self.answer[1]
        if self.answer_material is not None:
            flags |= TBLOCK_ANSWER_MATERIAL
            out += self.answer_material.data
        if self.request_material is not None:
            flags |= TBLOCK_REQUEST_MATERIAL
            out += self.request_material.data
        return bytes((flags,)) + out

    @property
    def materials(self) -> tuple[Material, ...]:
        return tuple(m for m in (self.answer_material, self.request_material) if m is not None)


EMPTY_BLOCK = TransportBlock()


def read_block(r: Reader, profile: Profile) -> TransportBlock:
    """Parse a transport block strictly (spec/10-profiles.md §3.4)."""
    flags = r.u8("transport flags")
    if flags & ~TBLOCK_KNOWN:
        raise MalformedInputError(f"transport block has unknown flags {flags:#04x}")
    if flags & TBLOCK_ANSWER_MATERIAL and not flags & TBLOCK_ANSWER:
        raise MalformedInputError("answer material without the answer's ids")
    if flags & TBLOCK_REQUEST_MATERIAL and not flags & TBLOCK_REQUEST:
        raise MalformedInputError("request material without the request's id")
    chunked = profile.transport == "chunked"
    if chunked and flags & TBLOCK_ANSWER_MATERIAL and flags & TBLOCK_REQUEST_MATERIAL:
        raise MalformedInputError("a chunked message carries at most one chunk")
    request_id = r.take(_ID, "request id") if flags & TBLOCK_REQUEST else None
    answer = None
    if flags & TBLOCK_ANSWER:
        answer = (r.take(_ID, "answered request id"), r.take(_ID, "answer id"))
    answer_material = request_material = None
    if flags & TBLOCK_ANSWER_MATERIAL:
        assert answer is not None
        answer_material = _read_material(r, profile, CHUNK_KIND_CIPHERTEXT, answer[1])
    if flags & TBLOCK_REQUEST_MATERIAL:
        assert request_id is not None
        request_material = _read_material(r, profile, CHUNK_KIND_PUBLIC_KEY, request_id)
    return TransportBlock(request_id, answer, answer_material, request_material)


def _material_size(profile: Profile, kind: int) -> int:
    rekey = profile.rekey
    return rekey.public_key_size if kind == CHUNK_KIND_PUBLIC_KEY else rekey.ciphertext_size


def _read_material(r: Reader, profile: Profile, kind: int, slot_id: bytes) -> Material:
    if profile.transport == "first":
        return Material(kind, r.take(_material_size(profile, kind), "KEM material"))
    assert profile.chunk_size is not None
    raw = r.take(CHUNK_HEADER_SIZE + profile.chunk_size, "chunk")
    chunk = Chunk.from_bytes(raw)
    if chunk.kind != kind:
        raise ChunkError("a chunk of the wrong kind for its place in the message")
    if chunk.material_id != slot_id:
        raise ChunkError("a chunk whose material id is not the one its message names")
    return Material(kind, raw, chunk)


# ── The state ───────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, eq=False)
class PendingMix:
    """My request, answered and decapsulated: mixed into my next sending chain's root key."""

    request_id: bytes
    secret: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    public_key: bytes = field(repr=False)


@dataclass(frozen=True, eq=False)
class Answer:
    """My answer to the peer's request, sent until a chain of the peer's marks it mixed."""

    request_id: bytes  # the peer's request it answers
    public_key: bytes = field(repr=False)  # the peer's key it encapsulates to
    secret: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    answer_id: bytes
    sent: int  # messages that carried it (chunked: the next chunk is sent mod n)
    chain: bytes | None  # first: the ratchet point of my chain that last carried it


@dataclass(frozen=True, eq=False)
class TransportState:
    """The transport part of a deferred-transport session; the request's key itself is the
    ratchet's my_kem_seed / my_kem_public, the peer's whole key its peer_kem_public."""

    request_id: bytes | None = None  # my open request
    request_sent: int = 0
    request_chain: bytes | None = None
    request_acked: bool = False  # the peer named an answer to it: its key arrived
    answer_in: Reassembler | None = None  # chunked: the ciphertext answering my request
    pending_mix: PendingMix | None = None
    peer_request_id: bytes | None = None  # the peer's request I collect or hold
    peer_request_in: Reassembler | None = None  # chunked: its key's chunks
    answer: Answer | None = None
    done_requests: tuple[bytes, ...] = ()  # my recent requests, answered: late answers pass
    done_answers: tuple[bytes, ...] = ()  # the peer's recent requests I mixed

    @property
    def peer_rekey_in_flight(self) -> bool:
        """The peer's request is known here and not yet mixed: one rekey at a time."""
        return self.peer_request_id is not None and self.peer_request_id not in self.done_answers

    def __repr__(self) -> str:
        return (
            f"TransportState(request={_hex(self.request_id)}, "
            f"pending_mix={self.pending_mix is not None}, "
            f"peer_request={_hex(self.peer_request_id)}, answer={self.answer is not None})"
        )


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _remember(done: tuple[bytes, ...], rid: bytes) -> tuple[bytes, ...]:
    return (*done, rid)[-MAX_DONE_REKEY_IDS:]


def opened_request(ts: TransportState, public_key: bytes) -> TransportState:
    """My new request for `public_key`: its id, nothing sent yet."""
    return evolve(
        ts,
        request_id=material_id(CHUNK_KIND_PUBLIC_KEY, public_key),
        request_sent=0,
        request_chain=None,
        request_acked=False,
        answer_in=None,
    )


def mixed_answer(ts: TransportState) -> TransportState:
    """The peer's chain marked my answer mixed: forget it, remember its request."""
    assert ts.answer is not None
    return evolve(ts, answer=None, done_answers=_remember(ts.done_answers, ts.answer.request_id))


# ── Sending ─────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Outgoing:
    """What one message carries, and the state after it."""

    state: TransportState
    peer_kem_public: bytes | None  # the ratchet's, after an encapsulation took it
    block: TransportBlock
    block_bytes: bytes


def prepare_send(
    ts: TransportState,
    my_point: bytes,
    request_public_key: bytes | None,
    peer_kem_public: bytes | None,
    profile: Profile,
    rekey: kem.NamedKem,
    rng: RandomSource,
) -> Outgoing:
    """The block of my next message, on my chain under `my_point`.

    A whole key of the peer's is answered first (one encapsulation); then the answer's
    material, then my request's, by the transport's rule.
    """
    if peer_kem_public is not None and ts.answer is None and ts.peer_request_id is not None:
        secret, ciphertext = rekey.encapsulate(peer_kem_public, rng)
        answer = Answer(
            ts.peer_request_id,
            peer_kem_public,
            secret,
            ciphertext,
            material_id(CHUNK_KIND_CIPHERTEXT, ciphertext),
            0,
            None,
        )
        ts = evolve(ts, answer=answer, peer_request_in=None)
        peer_kem_public = None
    pending = ts.answer
    request_open = ts.request_id is not None and request_public_key is not None
    answer_material = request_material = None
    if profile.transport == "first":
        if pending is not None and pending.chain != my_point:
            answer_material = Material(CHUNK_KIND_CIPHERTEXT, pending.ciphertext)
            ts = evolve(ts, answer=_sent(pending, my_point))
        if request_open and not ts.request_acked and ts.request_chain != my_point:
            assert request_public_key is not None
            request_material = Material(CHUNK_KIND_PUBLIC_KEY, request_public_key)
            ts = evolve(ts, request_chain=my_point, request_sent=ts.request_sent + 1)
    else:
        assert profile.chunk_size is not None and profile.chunk_expansion is not None
        if pending is not None:
            answer_material = _chunk_of(
                pending.ciphertext, CHUNK_KIND_CIPHERTEXT, pending.answer_id, pending.sent,
                profile,
            )
            ts = evolve(ts, answer=_sent(pending, None))
        elif request_open and not ts.request_acked:
            assert request_public_key is not None
            assert ts.request_id is not None
            request_material = _chunk_of(
                request_public_key, CHUNK_KIND_PUBLIC_KEY, ts.request_id, ts.request_sent,
                profile,
            )
            ts = evolve(ts, request_sent=ts.request_sent + 1)
    block = TransportBlock(
        ts.request_id if request_open else None,
        (pending.request_id, pending.answer_id) if pending is not None else None,
        answer_material,
        request_material,
    )
    return Outgoing(ts, peer_kem_public, block, block.encode())


def _sent(answer: Answer, chain: bytes | None) -> Answer:
    return evolve(answer, sent=answer.sent + 1, chain=chain if chain is not None else answer.chain)


def _chunk_of(material: bytes, kind: int, mid: bytes, sent: int, profile: Profile) -> Material:
    """Chunk `sent mod n` of a material whose id the state already holds (no rehash)."""
    assert profile.chunk_size is not None and profile.chunk_expansion is not None
    n = total_count(len(material), profile.chunk_size, profile.chunk_expansion)
    chunk = Encoder(kind, material, profile.chunk_size, n, mid).chunk(sent % n)
    return Material(kind, chunk.to_bytes(), chunk)


# ── Receiving ───────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Incoming:
    """The state after a verified, opened message's block was taken in."""

    state: TransportState
    my_kem_seed: bytes | None  # the ratchet's request key, erased once decapsulated
    my_kem_public: bytes | None
    peer_kem_public: bytes | None  # the peer's whole key, once it is held
    answered: bool  # my request's answer completed here (decapsulated, mix pending)


def take_block(
    ts: TransportState,
    block: TransportBlock,
    my_kem_seed: bytes | None,
    my_kem_public: bytes | None,
    peer_kem_public: bytes | None,
    profile: Profile,
    rekey: kem.NamedKem,
    my_kem_expanded: Any = None,
) -> Incoming:
    """Take in one message's block; raises, changing nothing, on material that does not fit.

    my_kem_expanded is the rekey KEM's expanded key of my_kem_seed, if one is held.

    Material of a request or answer already dealt with is ignored (loss and reordering
    repeat it); an answer to a request this side never made is a DowngradeError.
    """
    answered = False
    if block.request_id is not None:
        ts, peer_kem_public = _take_request(ts, block, peer_kem_public, profile, rekey)
    if block.answer is not None:
        aid, cid = block.answer
        if aid in ts.done_requests:
            pass
        elif aid == ts.request_id and my_kem_seed is not None and my_kem_public is not None:
            ts = evolve(ts, request_acked=True)
            ciphertext, ts = _answer_material(ts, block.answer_material, cid, profile)
            if ciphertext is not None:
                secret = rekey.decapsulate(my_kem_seed, ciphertext, my_kem_expanded)
                mix = PendingMix(aid, secret, ciphertext, my_kem_public)
                ts = evolve(
                    ts,
                    request_id=None,
                    request_sent=0,
                    request_chain=None,
                    request_acked=False,
                    answer_in=None,
                    pending_mix=mix,
                    done_requests=_remember(ts.done_requests, aid),
                )
                my_kem_seed = my_kem_public = None
                answered = True
        else:
            raise DowngradeError("an answer to a rekey request this side did not make")
    return Incoming(ts, my_kem_seed, my_kem_public, peer_kem_public, answered)


def _take_request(
    ts: TransportState,
    block: TransportBlock,
    peer_kem_public: bytes | None,
    profile: Profile,
    rekey: kem.NamedKem,
) -> tuple[TransportState, bytes | None]:
    rid = block.request_id
    assert rid is not None
    if rid in ts.done_answers:
        return ts, peer_kem_public
    if ts.peer_request_id == rid and (ts.answer is not None or peer_kem_public is not None):
        return ts, peer_kem_public
    if ts.peer_request_id != rid:
        # A new request replaces one in progress: the peer abandoned it (only a restored or
        # forked peer does; an honest one opens a request after its last one was mixed).
        ts = evolve(ts, peer_request_id=rid, peer_request_in=None, answer=None)
        peer_kem_public = None
    material = block.request_material
    if material is None:
        return ts, peer_kem_public
    if profile.transport == "first":
        key = material.data
        if material_id(CHUNK_KIND_PUBLIC_KEY, key) != rid:
            raise InconsistentChunkError("the rekey key does not match the id its message names")
    else:
        assert material.chunk is not None
        held = ts.peer_request_in or Reassembler.expecting(
            CHUNK_KIND_PUBLIC_KEY, profile.rekey.public_key_size, _chunk_size(profile)
        )
        held = held.add(material.chunk)
        if not held.complete:
            return evolve(ts, peer_request_in=held), peer_kem_public
        key = held.result()
        ts = evolve(ts, peer_request_in=None)
    rekey.validate_public_key(key)
    return ts, key


def _answer_material(
    ts: TransportState, material: Material | None, cid: bytes, profile: Profile
) -> tuple[bytes | None, TransportState]:
    """The whole ciphertext, if this message completes it."""
    if material is None:
        return None, ts
    if profile.transport == "first":
        if material_id(CHUNK_KIND_CIPHERTEXT, material.data) != cid:
            raise InconsistentChunkError("the rekey ciphertext does not match its id")
        return material.data, ts
    assert material.chunk is not None
    held = ts.answer_in
    if held is None or held.material_id not in (None, cid):
        # A new answer id replaces a partial one (the peer encapsulated again after a restore).
        held = Reassembler.expecting(
            CHUNK_KIND_CIPHERTEXT, _material_size(profile, CHUNK_KIND_CIPHERTEXT),
            _chunk_size(profile),
        )
    held = held.add(material.chunk)
    if not held.complete:
        return None, evolve(ts, answer_in=held)
    return held.result(), evolve(ts, answer_in=None)


def _chunk_size(profile: Profile) -> int:
    assert profile.chunk_size is not None
    return profile.chunk_size
