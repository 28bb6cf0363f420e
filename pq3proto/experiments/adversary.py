"""A passive adversary replaying the protocol's own key schedule on a wire transcript (spec §1.8).

Owns: the transcript model (messages grouped into sending chains, and under the deferred
transports the rekey keys and ciphertexts rebuilt from the transport blocks), the adversary's
knowledge (a compromised session state, ECDH private scalars, KEM private keys, KEM secrets a
state held), the derivation walk that follows the root key from that knowledge through every
later chain with pq3proto.kdf, and the check that a message is read: its derived key
indicator matches the wire and the plaintext matches what was sent. Any profile.
Not: any shortcut. Nothing is mocked: every key the adversary uses it derives exactly as a
party would (root_and_chain_key, pk_ratchet_dst, session_dst, chain_step, message_keys) from
what it holds, and "breaks every ECDH key" means it is handed the private scalars (what a
quantum computer recovers from the public points), never a KEM secret it was not given.
Active attacks: attacks.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .. import kem
from ..chunking import Reassembler
from ..constants import CHUNK_KIND_PUBLIC_KEY, INITIAL_ROOT_KEY
from ..errors import PQ3Error
from ..identity import PrekeyBundle, PublicIdentity
from ..kdf import (
    chain_step,
    message_keys,
    pk_ratchet_dst,
    root_and_chain_key,
    session_dst,
    session_start_dst,
)
from ..primitives import P256PrivateKey, aes256_ctr, ct_equal
from ..profile import PQ3, Profile
from ..session_state import SessionState
from ..transport import Material
from ..wire import ChainHeader, ParsedMessage, parse_message

__all__ = [
    "Adversary",
    "ChainRecord",
    "Knowledge",
    "Sent",
    "Transcript",
    "WireMaterials",
    "opens_with_message_key",
]

# ── The transcript ──────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Sent:
    """One message on the wire, with what its sender put in (the adversary's ground truth)."""

    seq: int
    sender: str  # "A" (the initiator) or "B"
    wire: bytes = field(repr=False)
    plaintext: bytes = field(repr=False)


@dataclass(frozen=True)
class ChainRecord:
    """One sending chain seen on the wire: its sender, header and messages by index."""

    position: int
    sender: str
    header: ChainHeader
    messages: tuple[tuple[ParsedMessage, Sent], ...]

    @property
    def point(self) -> bytes:
        return self.header.ecdh_public_key


class WireMaterials:
    """The rekey keys and ciphertexts a deferred-transport transcript carries, rebuilt from
    its transport blocks exactly as a receiver would (whole under `first`, from any k chunks
    under `chunked`), by the request id they belong to."""

    def __init__(self, profile: Profile, messages: Sequence[ParsedMessage]) -> None:
        self.profile = profile
        self.keys: dict[bytes, bytes] = {}  # request id -> the requester's public key
        self.answers: dict[bytes, bytes] = {}  # request id -> its answer's ciphertext
        answer_of: dict[bytes, bytes] = {}  # answer id -> request id
        held: dict[tuple[int, bytes], Reassembler] = {}
        done: dict[tuple[int, bytes], bytes] = {}
        for msg in messages:
            block = msg.transport
            if block is None:
                continue
            if block.answer is not None:
                answer_of.setdefault(block.answer[1], block.answer[0])
            for slot, material in (
                (block.request_id, block.request_material),
                (block.answer[1] if block.answer else None, block.answer_material),
            ):
                if slot is not None and material is not None:
                    self._take(held, done, slot, material)
        for (kind, slot), data in done.items():
            if kind == CHUNK_KIND_PUBLIC_KEY:
                self.keys[slot] = data
            elif slot in answer_of:
                self.answers.setdefault(answer_of[slot], data)

    def _take(
        self,
        held: dict[tuple[int, bytes], Reassembler],
        done: dict[tuple[int, bytes], bytes],
        slot: bytes,
        material: Material,
    ) -> None:
        key = (material.kind, slot)
        if key in done:
            return
        if material.chunk is None:  # first: the whole material
            done[key] = material.data
            return
        r = self.profile.rekey
        size = r.public_key_size if material.kind == CHUNK_KIND_PUBLIC_KEY else r.ciphertext_size
        assert self.profile.chunk_size is not None
        part = held.get(key) or Reassembler.expecting(material.kind, size, self.profile.chunk_size)
        try:
            part = part.add(material.chunk)
        except PQ3Error:  # a chunk a receiver would refuse too
            return
        held[key] = part
        if part.complete:
            done[key] = part.result()

    def rekey(self, request_id: bytes) -> tuple[bytes, bytes] | None:
        """(public key, ciphertext) of one request, when both went over the wire whole."""
        pk, ct = self.keys.get(request_id), self.answers.get(request_id)
        return None if pk is None or ct is None else (pk, ct)


class Transcript:
    """What a passive network adversary records: the parties' public values and every message.

    `identities` maps "A" (initiator) and "B" to their public identities; `bundle` is B's
    prekey bundle that A used (None: not recorded, no reading from the session start);
    `profile` is the session's (PQ3 when left out). Chains are
    ordered by their first message on the wire; the protocol makes them alternate between
    the parties.
    """

    def __init__(
        self,
        identities: Mapping[str, PublicIdentity],
        bundle: PrekeyBundle | None,
        messages: Sequence[Sent],
        profile: Profile | None = None,
    ) -> None:
        self.identities = dict(identities)
        self.bundle = bundle
        self.messages = tuple(messages)
        self.profile = profile or PQ3
        self._profile_id = b"" if self.profile == PQ3 else self.profile.to_bytes()
        self.rekey_kem = kem.named(self.profile.rekey_kem)
        self.start_kem = kem.named(self.profile.start_kem)
        self.deferred = self.profile.transport != "repeat"
        grouped: dict[bytes, list[tuple[ParsedMessage, Sent]]] = {}
        order: list[tuple[bytes, str, ChainHeader]] = []
        parsed: list[ParsedMessage] = []
        for sent in self.messages:
            msg = parse_message(sent.wire, self.profile)
            parsed.append(msg)
            point = msg.header.ecdh_public_key
            if point not in grouped:
                grouped[point] = []
                order.append((point, sent.sender, msg.header))
            grouped[point].append((msg, sent))
        self.chains = tuple(
            ChainRecord(i, sender, header, tuple(grouped[point]))
            for i, (point, sender, header) in enumerate(order)
        )
        self._position = {c.point: c.position for c in self.chains}
        for a, b in zip(self.chains, self.chains[1:], strict=False):
            if a.sender == b.sender:
                raise ValueError("transcript chains do not alternate between the parties")
        self.materials = WireMaterials(self.profile, parsed) if self.deferred else None

    def position(self, point: bytes) -> int:
        return self._position.get(point, -1)

    def other(self, party: str) -> str:
        return "B" if party == "A" else "A"

    def dst(self, sender: str) -> bytes:
        """dstForSession(sender, receiver), from public identities only."""
        return session_dst(
            self.identities[sender].binding(),
            self.identities[self.other(sender)].binding(),
            self._profile_id,
        )

    def seqs(self) -> list[int]:
        return [m.seq for m in self.messages]


# ── Knowledge and the derivation walk ───────────────────────────────────────────────────


def scalar_of(key: object) -> bytes:
    """The private scalar of a ratchet key, whether the state holds it as bytes or as a key."""
    if isinstance(key, bytes):
        return key
    if isinstance(key, P256PrivateKey):
        return key.scalar()
    raise TypeError(f"not a P-256 private key: {type(key).__name__}")


@dataclass(frozen=True)
class Knowledge:
    """Secrets the adversary holds besides a state snapshot.

    ecdh_scalars: P-256 point -> private scalar (all of them models a quantum adversary);
    kem_seeds: KEM public key -> its private key as the session stores it (the ML-KEM seed);
    kem_secrets: deferred transports: request id -> a KEM secret a compromised state held
    (an answer it sent, or a decapsulated answer waiting to be mixed).
    """

    ecdh_scalars: Mapping[bytes, bytes] = field(default_factory=dict, repr=False)
    kem_seeds: Mapping[bytes, bytes] = field(default_factory=dict, repr=False)
    kem_secrets: Mapping[bytes, bytes] = field(default_factory=dict, repr=False)

    def with_state(self, state: SessionState) -> Knowledge:
        """Add the secrets a compromised state holds: its ratchet scalar, its open request's
        KEM key, and under a deferred transport the KEM secrets not yet mixed."""
        r = state.ratchet
        ecdh = dict(self.ecdh_scalars)
        seeds = dict(self.kem_seeds)
        secrets = dict(self.kem_secrets)
        if r.my_ecdh is not None and r.my_point is not None:
            ecdh[r.my_point] = scalar_of(r.my_ecdh)
        if r.my_kem_seed is not None and r.my_kem_public is not None:
            seeds[r.my_kem_public] = r.my_kem_seed
        ts = r.transport
        if ts is not None:
            if ts.pending_mix is not None:
                secrets[ts.pending_mix.request_id] = ts.pending_mix.secret
            if ts.answer is not None:
                secrets[ts.answer.request_id] = ts.answer.secret
        return Knowledge(ecdh, seeds, secrets)


@dataclass(frozen=True)
class Reading:
    """What one adversary run read: message seqs, and the chain where it lost the root key."""

    read: frozenset[int]
    locked_at_chain: int | None  # position of the first chain it could not derive, or None


def opens_with_message_key(mk: bytes, msg: ParsedMessage, plaintext: bytes) -> bool:
    """True iff mk's key indicator matches the wire and it decrypts to the sent plaintext."""
    aes_key, iv, indicator = message_keys(mk)
    if not ct_equal(indicator, msg.indicator):
        return False
    return aes256_ctr(aes_key, iv, msg.ciphertext) == plaintext


class Adversary:
    """Follows the root key through a transcript from what it knows; reads what it can derive."""

    def __init__(self, transcript: Transcript, knowledge: Knowledge | None = None) -> None:
        self.t = transcript
        self.k = knowledge or Knowledge()

    # Secrets of one step, or None when the adversary lacks them.

    def _ecdh(self, k: Knowledge, p: bytes, q: bytes) -> bytes | None:
        if p in k.ecdh_scalars:
            return P256PrivateKey.from_scalar(k.ecdh_scalars[p]).exchange(q)
        if q in k.ecdh_scalars:
            return P256PrivateKey.from_scalar(k.ecdh_scalars[q]).exchange(p)
        return None

    def _root_step(
        self, k: Knowledge, rk: bytes, chain: ChainRecord
    ) -> tuple[bytes, bytes] | None:
        """pkRatchet for chain `chain` from the previous chain's root key, or None."""
        prev = self.t.chains[chain.position - 1]
        ecdh_ss = self._ecdh(k, prev.point, chain.point)
        if ecdh_ss is None:
            return None
        kem_ss = None
        if self.t.deferred:
            kem_ct, answered, kem_ss = self._deferred_secret(k, chain.header.mixed_id)
            if chain.header.mixed_id is not None and kem_ss is None:
                return None
        else:
            kem_ct = chain.header.kem_ciphertext
            answered = prev.header.kem_public_key if kem_ct is not None else None
            if kem_ct is not None:
                if answered is None or answered not in k.kem_seeds:
                    return None
                kem_ss = self.t.rekey_kem.decapsulate(k.kem_seeds[answered], kem_ct)
        dst = pk_ratchet_dst(self.t.dst(chain.sender), prev.point, chain.point, kem_ct, answered)
        return root_and_chain_key(rk, ecdh_ss, kem_ss, dst)

    def _deferred_secret(
        self, k: Knowledge, request_id: bytes | None
    ) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(ciphertext, public key, secret) of the rekey a chain marks mixed; the secret is
        None when the adversary can get it neither from a state nor by decapsulation."""
        if request_id is None:
            return None, None, None
        assert self.t.materials is not None
        pair = self.t.materials.rekey(request_id)
        if pair is None:  # never whole on the wire: the adversary cannot even name the dst
            return None, None, None
        pk, ct = pair
        secret = k.kem_secrets.get(request_id)
        if secret is None and pk in k.kem_seeds:
            secret = self.t.rekey_kem.decapsulate(k.kem_seeds[pk], ct)
        return ct, pk, secret

    def _walk(
        self,
        k: Knowledge,
        first: int,
        rk: bytes,
        chain_keys: dict[bytes, tuple[bytes, int]],
        skipped: Mapping[tuple[bytes, int], bytes],
    ) -> Reading:
        """Derive every chain after position `first - 1` while it can, then read messages."""
        locked = None
        for chain in self.t.chains[first:]:
            step = self._root_step(k, rk, chain)
            if step is None:
                locked = chain.position
                break
            rk, ck = step
            chain_keys[chain.point] = (ck, 0)
        return Reading(frozenset(self._read(chain_keys, skipped)), locked)

    def _read(
        self,
        chain_keys: Mapping[bytes, tuple[bytes, int]],
        skipped: Mapping[tuple[bytes, int], bytes],
    ) -> set[int]:
        out: set[int] = set()
        for chain in self.t.chains:
            known = chain_keys.get(chain.point)
            ck, at = known if known is not None else (None, 0)
            for msg, sent in sorted(chain.messages, key=lambda m: m[0].index):
                mk = skipped.get((chain.point, msg.index))
                if mk is None and ck is not None and msg.index >= at:
                    while at < msg.index:
                        _, ck = chain_step(ck)
                        at += 1
                    mk, _ = chain_step(ck)
                if mk is not None and opens_with_message_key(mk, msg, sent.plaintext):
                    out.add(sent.seq)
        return out

    # Starting points.

    def from_session_start(self) -> Reading:
        """Read from the start: needs an ECDH scalar of the start and the KEM prekey seed."""
        start = self.t.chains[0]
        h = start.header
        b = self.t.bundle
        if b is None:
            return Reading(frozenset(), 0)
        ecdh_ss = self._ecdh(self.k, b.ecdh_public_key, h.ecdh_public_key)
        seed = self.k.kem_seeds.get(b.kem_public_key)
        if ecdh_ss is None or seed is None or h.start_ciphertext is None:
            return Reading(frozenset(), 0)
        kem_ss = self.t.start_kem.decapsulate(seed, h.start_ciphertext)
        dst = session_start_dst(
            self.t.dst(start.sender),
            b.ecdh_public_key,
            h.ecdh_public_key,
            h.start_ciphertext,
            b.kem_public_key,
        )
        rk, ck = root_and_chain_key(INITIAL_ROOT_KEY, ecdh_ss, kem_ss, dst)
        return self._walk(self.k, 1, rk, {start.point: (ck, 0)}, {})

    def from_snapshot(self, state: SessionState) -> Reading:
        """Read from one party's compromised state: its root key, chain keys, skipped keys."""
        r = state.ratchet
        k = self.k.with_state(state)
        current = r.my_point if r.awaiting_reply else r.peer_point
        assert current is not None
        chain_keys: dict[bytes, tuple[bytes, int]] = {}
        if r.sending is not None:
            chain_keys[r.sending.header.ecdh_public_key] = (
                r.sending.chain_key,
                r.sending.next_index,
            )
        for c in r.receiving:
            chain_keys[c.peer_point] = (c.chain_key, c.next_index)
        pos = self.t.position(current)
        if pos < 0:  # the party's latest chain has no message on the wire yet
            return Reading(frozenset(self._read(chain_keys, r.skipped)), None)
        return self._walk(k, pos + 1, r.root_key, chain_keys, r.skipped)
