"""A passive adversary replaying the protocol's own key schedule on a wire transcript (spec §1.8).

Owns: the transcript model (messages grouped into sending chains), the adversary's knowledge
(a compromised session state, ECDH private scalars, ML-KEM seeds), the derivation walk that
follows the root key from that knowledge through every later chain with pq3proto.kdf, and
the check that a message is read: its derived key indicator matches the wire and the
plaintext matches what was sent. Also the active attacks of a malicious directory and of a
network that strips, downgrades or replays.
Not: any shortcut. Nothing is mocked: every key the adversary uses it derives exactly as a
party would (root_and_chain_key, pk_ratchet_dst, session_dst, chain_step, message_keys) from
what it holds, and "breaks every ECDH key" means it is handed the private scalars (what a
quantum computer recovers from the public points), never a KEM secret it was not given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .. import kem
from ..constants import INITIAL_ROOT_KEY
from ..errors import PQ3Error
from ..identity import Device, PrekeyBundle, PublicIdentity
from ..kdf import (
    chain_step,
    message_keys,
    pk_ratchet_dst,
    root_and_chain_key,
    session_dst,
    session_start_dst,
)
from ..policy import RekeyPolicy
from ..primitives import P256PrivateKey, RandomSource, aes256_ctr, ct_equal
from ..session import Session, SessionState
from ..wire import ChainHeader, ParsedMessage, encode_message, parse_message, signature_body

__all__ = [
    "Adversary",
    "AttackOutcome",
    "ChainRecord",
    "Knowledge",
    "Sent",
    "Transcript",
    "directory_attacks",
    "downgrade_and_replay_attacks",
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


class Transcript:
    """What a passive network adversary records: the parties' public values and every message.

    `identities` maps "A" (initiator) and "B" to their public identities; `bundle` is B's
    prekey bundle that A used. Chains are ordered by their first message on the wire; the
    protocol makes them alternate between the parties.
    """

    def __init__(
        self,
        identities: Mapping[str, PublicIdentity],
        bundle: PrekeyBundle,
        messages: Sequence[Sent],
    ) -> None:
        self.identities = dict(identities)
        self.bundle = bundle
        self.messages = tuple(messages)
        grouped: dict[bytes, list[tuple[ParsedMessage, Sent]]] = {}
        order: list[tuple[bytes, str, ChainHeader]] = []
        for sent in self.messages:
            msg = parse_message(sent.wire)
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

    def position(self, point: bytes) -> int:
        return self._position.get(point, -1)

    def other(self, party: str) -> str:
        return "B" if party == "A" else "A"

    def dst(self, sender: str) -> bytes:
        """dstForSession(sender, receiver), from public identities only."""
        return session_dst(
            self.identities[sender].binding(), self.identities[self.other(sender)].binding()
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
    kem_seeds: ML-KEM encapsulation key -> 64-byte seed (leaked or broken KEM keys).
    """

    ecdh_scalars: Mapping[bytes, bytes] = field(default_factory=dict, repr=False)
    kem_seeds: Mapping[bytes, bytes] = field(default_factory=dict, repr=False)

    def with_state(self, state: SessionState) -> Knowledge:
        """Add the private keys a compromised state holds (its ratchet scalar, its KEM seed)."""
        r = state.ratchet
        ecdh = dict(self.ecdh_scalars)
        seeds = dict(self.kem_seeds)
        if r.my_ecdh is not None and r.my_point is not None:
            ecdh[r.my_point] = scalar_of(r.my_ecdh)
        if r.my_kem_seed is not None and r.my_kem_public is not None:
            seeds[r.my_kem_public] = r.my_kem_seed
        return Knowledge(ecdh, seeds)


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
        kem_ct = chain.header.kem_ciphertext
        answered = prev.header.kem_public_key if kem_ct is not None else None
        kem_ss = None
        if kem_ct is not None:
            if answered is None or answered not in k.kem_seeds:
                return None
            kem_ss = kem.decapsulate(kem.MLKEM768, k.kem_seeds[answered], kem_ct)
        dst = pk_ratchet_dst(self.t.dst(chain.sender), prev.point, chain.point, kem_ct, answered)
        return root_and_chain_key(rk, ecdh_ss, kem_ss, dst)

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
        ecdh_ss = self._ecdh(self.k, b.ecdh_public_key, h.ecdh_public_key)
        seed = self.k.kem_seeds.get(b.kem_public_key)
        if ecdh_ss is None or seed is None or h.start_ciphertext is None:
            return Reading(frozenset(), 0)
        kem_ss = kem.decapsulate(kem.MLKEM1024, seed, h.start_ciphertext)
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


# ── Active attacks ──────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class AttackOutcome:
    """One active attack: whether the victim detected it and whether the attacker read."""

    name: str
    detected: bool
    error: str | None  # the PQ3Error class the victim raised, if any
    attacker_reads: bool
    note: str


def _error_name(fn: Callable[[], object]) -> str | None:
    try:
        fn()
    except PQ3Error as e:
        return type(e).__name__
    return None


def _resign(
    wire: bytes,
    signer: P256PrivateKey,
    dst: bytes,
    header: ChainHeader | None = None,
) -> bytes:
    """Rebuild a message with a changed chain header and a valid signature by `signer`."""
    msg = parse_message(wire)
    h = header if header is not None else msg.header
    body = signature_body(
        msg.ciphertext, msg.auth_data, msg.indicator, h.ecdh_public_key, msg.index,
        h.signature_tail(dst),
    )
    sig = signer.sign(body, deterministic=True)
    return encode_message(h.encode(), msg.index, msg.indicator, msg.auth_data, msg.ciphertext, sig)


def directory_attacks(rng: RandomSource) -> list[AttackOutcome]:
    """A malicious key directory serving Alice a forged identity or prekey bundle for Bob."""
    alice = Device.generate_deterministic_for_tests("tel:+15550001", 1, rng)
    bob = Device.generate_deterministic_for_tests("mailto:bob@example.org", 2, rng)
    mallory = Device.generate_deterministic_for_tests("mailto:bob@example.org", 2, rng)
    bob_id, bob_bundle = bob.public_identity(), bob.bundle
    m_bundle = mallory.bundle
    pinned = bob_id  # what Alice verified earlier (contact key verification or first use)
    out: list[AttackOutcome] = []

    def initiate(identity: bytes, bundle: bytes) -> Session:
        return Session.initiate_deterministic_for_tests(alice, identity, bundle, rng)

    def mallory_reads(identity: bytes, bundle: bytes) -> bool:
        """Mallory answers as Bob with her own device: does Alice's first message open?"""
        try:
            wire = initiate(identity, bundle).encrypt(b"secret for bob")
            _, pt = Session.accept_deterministic_for_tests(
                mallory, alice.public_identity(), wire, rng
            )
        except PQ3Error:
            return False
        return pt == b"secret for bob"

    swapped = PrekeyBundle(m_bundle.ecdh_public_key, m_bundle.kem_public_key, m_bundle.signature)
    err = _error_name(lambda: initiate(bob_id, swapped.encode()))
    out.append(AttackOutcome(
        "bundle substituted (Mallory's prekeys, Mallory's signature)", err is not None, err,
        False, "the bundle signature must verify under Bob's identity key",
    ))
    for label, forged in (
        ("ECDH prekey", replace(bob_bundle, ecdh_public_key=m_bundle.ecdh_public_key)),
        ("ML-KEM-1024 prekey", replace(bob_bundle, kem_public_key=m_bundle.kem_public_key)),
    ):
        err = _error_name(lambda f=forged: initiate(bob_id, f.encode()))  # type: ignore[misc]
        out.append(AttackOutcome(
            f"bundle tampered ({label} replaced, Bob's signature kept)", err is not None, err,
            False, "the signature covers both prekeys",
        ))
    m_id = mallory.public_identity()
    detected_by_pin = m_id != pinned
    out.append(AttackOutcome(
        "identity substituted (Mallory's key under Bob's address), Alice pinned Bob's key",
        detected_by_pin, "identity mismatch" if detected_by_pin else None, False,
        "a pinned or verified identity key differs from the served one",
    ))
    reads = mallory_reads(m_id, mallory.prekey_bundle())
    err = _error_name(lambda: initiate(m_id, mallory.prekey_bundle()))
    out.append(AttackOutcome(
        "identity substituted, Alice has no pin (man in the middle)", err is not None, err,
        reads, "the protocol alone cannot tell: identity keys must be verified out of band",
    ))
    resigned = PrekeyBundle(
        bob_bundle.ecdh_public_key, bob_bundle.kem_public_key,
        mallory.signing_key.sign(
            PrekeyBundle.signed_content(mallory.identity, bob_bundle.ecdh_public_key,
                                        bob_bundle.kem_public_key), deterministic=True),
    )
    a = initiate(m_id, resigned.encode())
    wire = a.encrypt(b"to bob")
    err = _error_name(
        lambda: Session.accept_deterministic_for_tests(bob, alice.public_identity(), wire, rng)
    )
    out.append(AttackOutcome(
        "identity substituted, Bob's real prekeys re-signed by Mallory", err is not None, err,
        False, "Bob's key schedule binds his real identity key: the key indicator fails",
    ))
    forged_by_thief = PrekeyBundle(
        m_bundle.ecdh_public_key, m_bundle.kem_public_key,
        bob.signing_key.sign(
            PrekeyBundle.signed_content(bob.identity, m_bundle.ecdh_public_key,
                                        m_bundle.kem_public_key), deterministic=True),
    )
    m_secrets = mallory.prekey_secrets(m_bundle.prekey_hash())
    assert m_secrets is not None
    thief = Device(bob.identity, bob.signing_key, m_secrets[0], m_secrets[1], forged_by_thief)
    try:
        wire = initiate(bob_id, forged_by_thief.encode()).encrypt(b"secret for bob")
        _, pt = Session.accept_deterministic_for_tests(thief, alice.public_identity(), wire, rng)
        reads, err = pt == b"secret for bob", None
    except PQ3Error as e:
        reads, err = False, type(e).__name__
    out.append(AttackOutcome(
        "Bob's identity key compromised: Mallory signs her own prekeys as Bob", err is not None,
        err, reads, "expected: authentication rests on the identity key",
    ))
    return out


def downgrade_and_replay_attacks(rng: RandomSource) -> list[AttackOutcome]:
    """Stripping or injecting PQ rekey material, and replaying a session start."""
    alice = Device.generate_deterministic_for_tests("tel:+15550001", 1, rng)
    bob = Device.generate_deterministic_for_tests("mailto:bob@example.org", 2, rng)
    dst_ab = session_dst(alice.identity.binding(), bob.identity.binding())
    dst_ba = session_dst(bob.identity.binding(), alice.identity.binding())
    out: list[AttackOutcome] = []

    def fresh(policy: RekeyPolicy) -> tuple[Session, Session, bytes, Device]:
        b_dev = Device.from_bytes(bob.to_bytes())
        a = Session.initiate_deterministic_for_tests(
            alice, bob.public_identity(), bob.prekey_bundle(), rng, policy=policy
        )
        first = a.encrypt(b"hello")
        b, _ = Session.accept_deterministic_for_tests(
            b_dev, alice.public_identity(), first, rng, policy=policy
        )
        return a, b, first, b_dev

    def unsigned(wire: bytes, header: ChainHeader) -> bytes:
        m = parse_message(wire)
        return encode_message(
            header.encode(), m.index, m.indicator, m.auth_data, m.ciphertext, m.signature
        )

    # Bob's reply answers Alice's rekey request with a KEM ciphertext: strip it.
    a, b, _, _ = fresh(RekeyPolicy.every_turn())
    reply = b.encrypt(b"reply")
    h = parse_message(reply).header
    assert h.kem_ciphertext is not None
    stripped = replace(h, kem_ciphertext=None)
    err = _error_name(lambda: a.decrypt(unsigned(reply, stripped)))
    out.append(AttackOutcome(
        "strip the KEM ciphertext from Bob's reply (network attacker)", err is not None, err,
        False, "the signature covers lp(kemEncap)",
    ))
    err = _error_name(lambda: a.decrypt(_resign(reply, bob.signing_key, dst_ba, stripped)))
    out.append(AttackOutcome(
        "strip the KEM ciphertext, re-signed with Bob's stolen identity key", err is not None,
        err, False, "Alice expects the ciphertext she asked for (expectKemSS)",
    ))

    # Alice's first message asks for a rekey: strip the request.
    a, _, first, _ = fresh(RekeyPolicy.every_turn())
    hs = parse_message(first).header
    assert hs.kem_public_key is not None
    no_request = replace(hs, kem_public_key=None)
    b_dev = Device.from_bytes(bob.to_bytes())
    err = _error_name(lambda: Session.accept_deterministic_for_tests(
        b_dev, alice.public_identity(), unsigned(first, no_request), rng))
    out.append(AttackOutcome(
        "strip Alice's KEM rekey request (network attacker)", err is not None, err, False,
        "the signature covers lp(kemPK)",
    ))

    def strip_request_resigned() -> None:
        forged = _resign(first, alice.signing_key, dst_ab, no_request)
        d = Device.from_bytes(bob.to_bytes())
        b2, _ = Session.accept_deterministic_for_tests(d, alice.public_identity(), forged, rng)
        a.decrypt(b2.encrypt(b"reply without the owed ciphertext"))

    err = _error_name(strip_request_resigned)
    out.append(AttackOutcome(
        "strip Alice's rekey request, re-signed with her stolen key", err is not None, err,
        False, "Bob never answers; Alice refuses his next chain without the owed ciphertext",
    ))

    # No rekey was asked for: inject a KEM ciphertext into Bob's chain.
    a, b, _, _ = fresh(RekeyPolicy.never())
    plain_reply = b.encrypt(b"reply")
    hp = parse_message(plain_reply).header
    assert hp.kem_ciphertext is None
    injected = replace(hp, kem_ciphertext=h.kem_ciphertext)
    err = _error_name(
        lambda: a.decrypt(_resign(plain_reply, bob.signing_key, dst_ba, injected))
    )
    out.append(AttackOutcome(
        "inject a KEM ciphertext nobody asked for (re-signed, Bob's key stolen)",
        err is not None, err, False, "KEM material where it may not be is a DowngradeError",
    ))

    # Drop the session start's ML-KEM-1024 ciphertext: not expressible on the wire.
    _, _, first, _ = fresh(RekeyPolicy())
    hs = parse_message(first).header
    no_start = replace(hs, prekey_hash=None, start_ciphertext=None)
    b_dev = Device.from_bytes(bob.to_bytes())
    err = _error_name(lambda: Session.accept_deterministic_for_tests(
        b_dev, alice.public_identity(), _resign(first, alice.signing_key, dst_ab, no_start), rng))
    out.append(AttackOutcome(
        "drop the session start's ML-KEM-1024 part (re-signed)", err is not None, err, False,
        "there is no classical-only session start",
    ))

    # Replays of a session start.
    _, _, first, b_dev = fresh(RekeyPolicy())
    err = _error_name(
        lambda: Session.accept_deterministic_for_tests(b_dev, alice.public_identity(), first, rng)
    )
    out.append(AttackOutcome(
        "replay a session start to the same device", err is not None, err, False,
        "the device remembers accepted starts",
    ))
    restored = Device.from_bytes(b_dev.to_bytes())
    err = _error_name(
        lambda: Session.accept_deterministic_for_tests(
            restored, alice.public_identity(), first, rng
        )
    )
    out.append(AttackOutcome(
        "replay a session start after the device was saved and restored", err is not None, err,
        False, "the replay record is part of the device state",
    ))
    return out
