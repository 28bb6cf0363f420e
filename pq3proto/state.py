"""The persisted form of a session (spec/06-state.md).

Owns: encoding and strict decoding of SessionState, versioned, with every bound the live
state obeys checked again on the way in.
Not: what the fields mean (ratchet.py, session.py). The encoding holds secrets.
"""

from __future__ import annotations

import math
import struct

from . import kem
from .chunking import Reassembler, material_id
from .constants import (
    CHAIN_KEY_SIZE,
    CHUNK_KIND_CIPHERTEXT,
    CHUNK_KIND_PUBLIC_KEY,
    HEADER_DIGEST_SIZE,
    MAX_DONE_REKEY_IDS,
    MAX_RECEIVING_CHAINS,
    MAX_RETIRED_CHAINS,
    MAX_SKIPPED_KEYS,
    MAX_STORED_COUNTER,
    MESSAGE_KEY_SIZE,
    P256_POINT_SIZE,
    P256_SCALAR_SIZE,
    REKEY_ID_SIZE,
    ROOT_KEY_SIZE,
    SESSION_STATE_VERSION,
    SESSION_STATE_VERSION_1,
)
from .encoding import Reader, lp, u32, u64
from .errors import MalformedInputError, PQ3Error, UnsupportedVersionError
from .identity import PublicIdentity
from .policy import RekeyPolicy
from .primitives import P256PrivateKey, decode_point
from .profile import PQ3, Profile
from .ratchet import RatchetState, ReceiveChain, SendChain, rekey_kem
from .session_state import SessionState, SessionStats
from .transport import Answer, PendingMix, TransportState
from .wire import read_chain_header

_F64 = struct.Struct(">d")
_STATS = ("sent", "received", "ecdh_ratchets", "pq_rekeys", "wire_bytes", "plaintext_bytes")


def _opt(value: bytes | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + value


def encode_session_state(s: SessionState) -> bytes:
    return _encode(s, SESSION_STATE_VERSION)


def _encode(s: SessionState, version: int) -> bytes:
    r = s.ratchet
    out = [bytes((version,))]
    if version != SESSION_STATE_VERSION_1:
        pid = b"" if s.profile == PQ3 else s.profile.to_bytes()
        out.append(bytes((len(pid),)) + pid)
    out += [s.me.encode(), s.peer.encode()]
    out.append(bytes((int(s.initiator),)) + s.policy.encode())
    scalar = r.my_ecdh.scalar() if r.my_ecdh is not None else None
    out.append(r.root_key + _opt(scalar) + r.peer_point)
    if r.sending is None:
        out.append(b"\x00")
    else:
        out.append(b"\x01" + lp(r.sending.header.encode()))
        out.append(r.sending.chain_key + u64(r.sending.next_index))
    out.append(bytes((int(r.awaiting_reply), len(r.receiving))))
    for c in r.receiving:
        out.append(c.peer_point + c.chain_key + u64(c.next_index))
        if version != SESSION_STATE_VERSION_1:
            out.append(_opt(c.header_digest))
    out.append(u32(len(r.skipped)))
    for (point, index), mk in r.skipped.items():
        out.append(point + u32(index) + mk)
    out.append(u32(len(r.retired)) + b"".join(r.retired))
    my_kem = r.my_kem_seed
    if my_kem is not None and not s.profile.rekey.state_is_seed:
        assert r.my_kem_public is not None
        my_kem += r.my_kem_public  # a state that cannot rebuild its key keeps the key too
    out.append(_opt(my_kem) + _opt(r.peer_kem_public))
    out.append(u64(r.messages_since_pq) + _F64.pack(r.last_pq_time))
    out.append(b"".join(u64(getattr(s.stats, k)) for k in _STATS))
    if r.transport is not None:
        out.append(_encode_transport(r.transport))
    return b"".join(out)


def _encode_transport(t: TransportState) -> bytes:
    """The deferred-transport section (spec/06-state.md §1, `first` and `chunked` only)."""
    out = [_opt(t.request_id), u32(t.request_sent), _opt(t.request_chain)]
    out.append(bytes((int(t.request_acked),)))
    out.append(_opt(None if t.answer_in is None else lp(t.answer_in.to_bytes())))
    m = t.pending_mix
    out.append(_opt(None if m is None else m.request_id + m.secret + m.ciphertext + m.public_key))
    out.append(_opt(t.peer_request_id))
    out.append(_opt(None if t.peer_request_in is None else lp(t.peer_request_in.to_bytes())))
    a = t.answer
    if a is None:
        out.append(b"\x00")
    else:
        out.append(b"\x01" + a.request_id + a.public_key + a.secret + a.ciphertext + a.answer_id)
        out.append(u32(a.sent) + _opt(a.chain))
    for done in (t.done_requests, t.done_answers):
        out.append(bytes((len(done),)) + b"".join(done))
    return b"".join(out)


def _read_opt(r: Reader, size: int, field: str) -> bytes | None:
    flag = r.u8(field + " presence")
    if flag not in (0, 1):
        raise MalformedInputError(f"session state: bad presence byte for {field}")
    return r.take(size, field) if flag else None


def _read_bool(r: Reader, field: str) -> bool:
    value = r.u8(field)
    if value not in (0, 1):
        raise MalformedInputError(f"session state: {field} must be 0 or 1")
    return value == 1


def _read_point(r: Reader, field: str) -> bytes:
    point = r.take(P256_POINT_SIZE, field)
    decode_point(point)
    return point


def decode_session_state(blob: bytes) -> SessionState:
    """Decode strictly; any inconsistency is MalformedInputError (never a stray exception)."""
    try:
        state = _decode(blob)
    except PQ3Error:
        raise
    except (ValueError, OverflowError) as e:
        raise MalformedInputError(f"session state: {type(e).__name__}") from None
    if _encode(state, blob[0]) != blob:
        raise MalformedInputError("session state: not in canonical form")
    return state


def _decode(blob: bytes) -> SessionState:
    r = Reader(blob, "session state")
    version = r.u8("version")
    if version not in (SESSION_STATE_VERSION, SESSION_STATE_VERSION_1):
        raise UnsupportedVersionError(f"session state version {version} is not supported")
    profile = PQ3
    if version != SESSION_STATE_VERSION_1:
        pid = r.take(r.u8("profile length"), "profile")
        if pid:
            profile = Profile.from_bytes(pid)
            if profile == PQ3:
                raise MalformedInputError("session state: PQ3's profile is stored as empty")
    rekey = profile.rekey
    me = PublicIdentity._read(r)
    peer = PublicIdentity._read(r)
    initiator = _read_bool(r, "initiator")
    policy = RekeyPolicy.read(r)
    root_key = r.take(ROOT_KEY_SIZE, "root key")
    scalar = _read_opt(r, P256_SCALAR_SIZE, "ECDH key")
    my_ecdh = P256PrivateKey.from_scalar(scalar) if scalar is not None else None
    my_point = my_ecdh.public if my_ecdh is not None else None
    peer_point = _read_point(r, "peer point")
    sending = None
    if _read_bool(r, "sending chain presence"):
        hr = Reader(r.lp("sending header", 1 << 16), "sending header")
        header = read_chain_header(hr, profile)
        hr.done()
        if header.ecdh_public_key != my_point:
            raise MalformedInputError("session state: sending chain is not under my ECDH key")
        sending = SendChain(header, r.take(CHAIN_KEY_SIZE, "sending chain key"), r.u64("index"))
    awaiting = _read_bool(r, "awaiting reply")
    n_recv = r.u8("receiving chains")
    if n_recv > MAX_RECEIVING_CHAINS:
        raise MalformedInputError("session state: too many receiving chains")
    receiving = tuple(
        ReceiveChain(
            _read_point(r, "chain point"),
            r.take(CHAIN_KEY_SIZE, "chain key"),
            r.u64("index"),
            None
            if version == SESSION_STATE_VERSION_1
            else _read_opt(r, HEADER_DIGEST_SIZE, "chain header digest"),
        )
        for _ in range(n_recv)
    )
    n_skipped = r.u32("skipped keys")
    if n_skipped > MAX_SKIPPED_KEYS:
        raise MalformedInputError("session state: too many skipped keys")
    skipped: dict[tuple[bytes, int], bytes] = {}
    next_index = {c.peer_point: c.next_index for c in receiving}
    for _ in range(n_skipped):
        key = (r.take(P256_POINT_SIZE, "skipped point"), r.u32("skipped index"))
        if key[1] >= next_index.get(key[0], 0):
            raise MalformedInputError("session state: skipped key outside its chain")
        skipped[key] = r.take(MESSAGE_KEY_SIZE, "skipped key")
    if len(skipped) != n_skipped:
        raise MalformedInputError("session state: duplicate skipped key")
    n_retired = r.u32("retired chains")
    if n_retired > MAX_RETIRED_CHAINS:
        raise MalformedInputError("session state: too many retired chains")
    retired = tuple(_read_point(r, "retired point") for _ in range(n_retired))
    kem_size = rekey.state_size + (0 if rekey.state_is_seed else rekey.public_key_size)
    kem_state = _read_opt(r, kem_size, "KEM state")
    peer_kem = _read_opt(r, rekey.public_key_size, "peer KEM key")
    since = r.u64("messages since rekey")
    (last_pq,) = _F64.unpack(r.take(8, "last rekey time"))
    if not math.isfinite(last_pq):
        raise MalformedInputError("session state: the last rekey time is not finite")
    stats = SessionStats(**{k: r.u64(k) for k in _STATS})
    transport = _read_transport(r, profile) if profile.transport != "repeat" else None
    r.done()
    counters = [since, *(getattr(stats, k) for k in _STATS), *(c.next_index for c in receiving)]
    if sending is not None:
        counters.append(sending.next_index)
    if max(counters) >= MAX_STORED_COUNTER:
        raise MalformedInputError("session state: a counter is out of range")
    named = rekey_kem(profile.rekey_kem)
    kem_seed = my_kem_public = None
    if kem_state is not None and rekey.state_is_seed:
        kem_seed = kem_state
        my_kem_public = kem.public_key_from_seed(rekey.name, kem_seed)
    elif kem_state is not None:
        kem_seed, my_kem_public = kem_state[: rekey.state_size], kem_state[rekey.state_size :]
        named.validate_public_key(my_kem_public)
    if sending is not None and sending.header.kem_public_key not in (None, my_kem_public):
        raise MalformedInputError("session state: sending chain asks with a key not held")
    if sending is not None and not awaiting:
        raise MalformedInputError("session state: a sending chain is always awaiting a reply")
    if peer_kem is not None:
        named.validate_public_key(peer_kem)
    ratchet = RatchetState(
        root_key=root_key,
        my_ecdh=my_ecdh,
        my_point=my_point,
        peer_point=peer_point,
        sending=sending,
        awaiting_reply=awaiting,
        receiving=receiving,
        skipped=skipped,
        retired=retired,
        my_kem_seed=kem_seed,
        my_kem_public=my_kem_public,
        peer_kem_public=peer_kem,
        messages_since_pq=since,
        last_pq_time=last_pq,
        transport=transport,
    )
    if transport is not None:
        _check_transport(ratchet, transport)
    return SessionState(me, peer, initiator, policy, ratchet, stats, profile)


def _read_reassembler(r: Reader, profile: Profile, kind: int, field: str) -> Reassembler | None:
    if not _read_bool(r, field + " presence"):
        return None
    held = Reassembler.from_bytes(r.lp(field, 1 << 24))
    size = profile.rekey.public_key_size if kind == CHUNK_KIND_PUBLIC_KEY else (
        profile.rekey.ciphertext_size
    )
    if (held.kind, held.length, held.chunk_size) != (kind, size, profile.chunk_size):
        raise MalformedInputError(f"session state: {field} does not fit the profile")
    if held.complete:
        raise MalformedInputError(f"session state: {field} is whole but still held")
    return held


def _read_ids(r: Reader, field: str) -> tuple[bytes, ...]:
    count = r.u8(field)
    if count > MAX_DONE_REKEY_IDS:
        raise MalformedInputError(f"session state: too many {field}")
    return tuple(r.take(REKEY_ID_SIZE, field) for _ in range(count))


def _read_transport(r: Reader, profile: Profile) -> TransportState:
    info = profile.rekey
    ss, ct, pk = info.shared_secret_size, info.ciphertext_size, info.public_key_size
    request_id = _read_opt(r, REKEY_ID_SIZE, "request id")
    request_sent = r.u32("request messages")
    request_chain = _read_opt(r, P256_POINT_SIZE, "request chain")
    request_acked = _read_bool(r, "request acknowledged")
    answer_in = _read_reassembler(r, profile, CHUNK_KIND_CIPHERTEXT, "answer chunks")
    mix = _read_opt(r, REKEY_ID_SIZE + ss + ct + pk, "pending mix")
    pending = None
    if mix is not None:
        a, b, c = REKEY_ID_SIZE, REKEY_ID_SIZE + ss, REKEY_ID_SIZE + ss + ct
        pending = PendingMix(mix[:a], mix[a:b], mix[b:c], mix[c:])
    peer_request_id = _read_opt(r, REKEY_ID_SIZE, "peer request id")
    peer_in = _read_reassembler(r, profile, CHUNK_KIND_PUBLIC_KEY, "request chunks")
    answer = None
    if _read_bool(r, "answer presence"):
        answer = Answer(
            r.take(REKEY_ID_SIZE, "answered request id"),
            r.take(pk, "answered key"),
            r.take(ss, "answer secret"),
            r.take(ct, "answer ciphertext"),
            r.take(REKEY_ID_SIZE, "answer id"),
            r.u32("answer messages"),
            _read_opt(r, P256_POINT_SIZE, "answer chain"),
        )
    return TransportState(
        request_id=request_id,
        request_sent=request_sent,
        request_chain=request_chain,
        request_acked=request_acked,
        answer_in=answer_in,
        pending_mix=pending,
        peer_request_id=peer_request_id,
        peer_request_in=peer_in,
        answer=answer,
        done_requests=_read_ids(r, "finished requests"),
        done_answers=_read_ids(r, "finished answers"),
    )


def _check_transport(ratchet: RatchetState, t: TransportState) -> None:
    """The transport section agrees with the ratchet and with itself."""
    def bad(what: str) -> MalformedInputError:
        return MalformedInputError(f"session state: {what}")

    if (t.request_id is None) != (ratchet.my_kem_public is None):
        raise bad("a rekey request id without its key, or a key without its id")
    if ratchet.my_kem_public is not None and t.request_id != material_id(
        CHUNK_KIND_PUBLIC_KEY, ratchet.my_kem_public
    ):
        raise bad("the rekey request id is not its key's")
    if t.request_id is None and (t.request_sent or t.request_chain or t.request_acked):
        raise bad("request progress without a request")
    if t.answer_in is not None and t.request_id is None:
        raise bad("answer chunks without a request")
    if t.pending_mix is not None and t.pending_mix.request_id not in t.done_requests:
        raise bad("a pending mix of a request not recorded as answered")
    if t.peer_request_in is not None and (t.peer_request_id is None or t.answer is not None):
        raise bad("request chunks without the request they belong to")
    if ratchet.peer_kem_public is not None and (t.peer_request_id is None or t.answer is not None):
        raise bad("a held peer key without its request, or already answered")
    if ratchet.peer_kem_public is not None and t.peer_request_in is not None:
        raise bad("a peer key both whole and in chunks")
    a = t.answer
    if a is not None:
        if a.request_id != t.peer_request_id:
            raise bad("an answer to another request than the one held")
        if a.answer_id != material_id(CHUNK_KIND_CIPHERTEXT, a.ciphertext):
            raise bad("the answer id is not its ciphertext's")
        if a.request_id != material_id(CHUNK_KIND_PUBLIC_KEY, a.public_key):
            raise bad("the answer's key is not the request's")
    if ratchet.sending is not None and ratchet.sending.header.mixed_id is not None and (
        ratchet.sending.header.mixed_id not in t.done_requests
    ):
        raise bad("the sending chain marks a rekey not recorded as answered")
    for done in (t.done_requests, t.done_answers):
        if len(set(done)) != len(done):
            raise bad("a finished rekey recorded twice")
