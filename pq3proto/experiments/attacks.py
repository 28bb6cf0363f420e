"""Active attacks on the protocol: a malicious key directory, and a network that strips,
injects, downgrades or replays (spec §1.8).

Owns: each attack run against real sessions and its outcome (detected, by which PQ3Error,
and whether the attacker read anything).
Not: the passive adversary that replays the key schedule (adversary.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ..errors import PQ3Error
from ..identity import Device, PrekeyBundle
from ..kdf import session_dst
from ..policy import RekeyPolicy
from ..primitives import P256PrivateKey, RandomSource
from ..session import Session
from ..wire import ChainHeader, encode_message, parse_message, signature_body

__all__ = ["AttackOutcome", "directory_attacks", "downgrade_and_replay_attacks"]


@dataclass(frozen=True)
class AttackOutcome:
    """One active attack: whether the victim detected it and whether the attacker read."""

    name: str
    detected: bool
    error: str | None  # the PQ3Error class the victim raised, if any
    attacker_reads: bool
    note: str


def _signed_by(signer: Device, bundle: PrekeyBundle) -> PrekeyBundle:
    """`bundle`'s prekeys under a signature of `signer`'s identity key."""
    content = PrekeyBundle.signed_content(
        signer.identity, bundle.ecdh_public_key, bundle.kem_public_key
    )
    return PrekeyBundle(
        bundle.ecdh_public_key, bundle.kem_public_key,
        signer.signing_key.sign(content, deterministic=True),
    )


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
    resigned = _signed_by(mallory, bob_bundle)
    a = initiate(m_id, resigned.encode())
    wire = a.encrypt(b"to bob")
    err = _error_name(
        lambda: Session.accept_deterministic_for_tests(bob, alice.public_identity(), wire, rng)
    )
    out.append(AttackOutcome(
        "identity substituted, Bob's real prekeys re-signed by Mallory", err is not None, err,
        False, "Bob's key schedule binds his real identity key: the key indicator fails",
    ))
    forged_by_thief = _signed_by(bob, m_bundle)
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
