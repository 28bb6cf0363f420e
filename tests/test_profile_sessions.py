"""Sessions under a Profile (spec/10-profiles.md §3): the start names its profile, the signature
and every derivation cover it, accept allows only the device's profiles, and PQ3 is unchanged.

ML-KEM-only profiles run everywhere; the liboqs KEMs (HQC, FrodoKEM, BIKE) need liboqs and
skip with one reason line without it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import SAVE_IN_MEMORY

from pq3proto import (
    AuthenticationError,
    Device,
    MalformedInputError,
    MisuseError,
    Profile,
    RekeyPolicy,
    Session,
    kem,
)
from pq3proto.errors import ProfileNotAllowedError
from pq3proto.experiments.delivery import NetworkConditions
from pq3proto.experiments.traced import run_traced
from pq3proto.identity import PrekeyBundle
from pq3proto.kdf import session_dst
from pq3proto.profile import PQ3
from pq3proto.wire import encode_message, parse_message, signature_body

BIG_REKEY = Profile(rekey_kem="ML-KEM-1024")
LIBOQS = kem.available_backends()["liboqs"] is None
needs_liboqs = pytest.mark.skipif(not LIBOQS, reason="liboqs not found (README: liboqs)")


def pair(
    profile: Profile, policy: RekeyPolicy | None = None
) -> tuple[Device, Device, Session, Session]:
    bob = Device.generate("mailto:bob@example.org", device_id=1, profile=profile)
    alice = Device.generate("tel:+15551234567", device_id=7, profile=profile)
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle(), policy=policy)
    b, first = Session.accept(
        bob, alice.public_identity(), a.encrypt(b"hi"), save_device=SAVE_IN_MEMORY, policy=policy
    )
    assert first == b"hi"
    return alice, bob, a, b


def converse(a: Session, b: Session, turns: int = 6) -> None:
    sender, receiver = b, a
    for t in range(turns):
        for i in range(2):
            pt = b"turn %d message %d" % (t, i)
            assert receiver.decrypt(sender.encrypt(pt)) == pt
        sender, receiver = receiver, sender


def test_pq3_is_the_default_and_names_no_profile() -> None:
    _, bob, a, b = pair(PQ3)
    assert a.profile == b.profile == Profile() == PQ3
    assert bob.prekey_bundle()[0] == 1  # PQ3's bundle version
    assert parse_message(a.encrypt(b"x")).header.profile_id is None


def test_a_profile_with_another_rekey_kem_runs_and_rekeys() -> None:
    _, bob, a, b = pair(BIG_REKEY, RekeyPolicy.every_turn())
    assert a.profile == b.profile == BIG_REKEY
    assert bob.prekey_bundle()[0] == 2
    assert PrekeyBundle.decode(bob.prekey_bundle()).profile == BIG_REKEY
    converse(a, b)
    assert a.stats.pq_rekeys >= 3 and b.stats.pq_rekeys >= 3
    wire = b.encrypt(b"sized")
    h = parse_message(wire, BIG_REKEY).header
    assert h.kem_public_key is not None and len(h.kem_public_key) == 1568  # ML-KEM-1024's


def test_profile_sessions_and_devices_persist() -> None:
    alice, bob, a, b = pair(BIG_REKEY, RekeyPolicy.every_turn())
    converse(a, b, 3)
    a2 = Session.from_bytes(a.to_bytes(), Device.from_bytes(alice.to_bytes()))
    b2 = Session.from_bytes(b.to_bytes(), Device.from_bytes(bob.to_bytes()))
    assert a2.profile == b2.profile == BIG_REKEY
    converse(a2, b2, 4)
    assert Device.from_bytes(bob.to_bytes()).profile == BIG_REKEY


def test_accept_allows_only_the_devices_profiles() -> None:
    bob = Device.generate("mailto:bob@example.org", device_id=1)  # PQ3
    alice = Device.generate("tel:+15551234567", device_id=7)
    start = Session.initiate(
        alice, bob.public_identity(), bob.prekey_bundle(), profile=BIG_REKEY
    ).encrypt(b"x")
    before = bob.to_bytes()
    with pytest.raises(ProfileNotAllowedError):
        Session.accept(bob, alice.public_identity(), start, save_device=SAVE_IN_MEMORY)
    assert bob.to_bytes() == before
    b, pt = Session.accept(
        bob, alice.public_identity(), start, save_device=SAVE_IN_MEMORY,
        profiles=(PQ3, BIG_REKEY),
    )
    assert pt == b"x" and b.profile == BIG_REKEY


def test_the_initiator_must_use_the_bundles_start_kem() -> None:
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    with pytest.raises(MisuseError, match="start KEM"):
        Session.initiate(
            alice, bob.public_identity(), bob.prekey_bundle(),
            profile=Profile(start_kem="ML-KEM-768"),
        )


def resigned(alice: Device, bob: Device, wire: bytes, profile_id: bytes | None) -> bytes:
    """Alice's start message with its profile field changed and signed again by Alice over the
    dst of the profile it now names: what an on-path party cannot do without Alice's key."""
    msg = parse_message(wire)
    header = replace(msg.header, profile_id=profile_id)
    dst = session_dst(alice.identity.binding(), bob.identity.binding(), profile_id or b"")
    body = signature_body(
        msg.ciphertext, msg.auth_data, msg.indicator, header.ecdh_public_key, msg.index,
        header.signature_tail(dst),
    )
    sig = alice.signing_key.sign(body, deterministic=True)
    return encode_message(header.encode(), msg.index, msg.indicator, msg.auth_data,
                          msg.ciphertext, sig)


def test_no_on_path_party_moves_a_session_between_profiles() -> None:
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle(), profile=BIG_REKEY)
    start = a.encrypt(b"x")
    both = (PQ3, BIG_REKEY)
    # Strip the profile identifier: the header now parses as PQ3's, and the signature over
    # BIG_REKEY's dst no longer verifies.
    msg = parse_message(start)
    stripped = encode_message(
        replace(msg.header, profile_id=None).encode(), msg.index, msg.indicator, msg.auth_data,
        msg.ciphertext, msg.signature,
    )
    with pytest.raises((AuthenticationError, MalformedInputError)):
        Session.accept(bob, alice.public_identity(), stripped, save_device=SAVE_IN_MEMORY,
                       profiles=both)
    # Even a holder of Alice's key who re-signs it as a PQ3 start gets a session whose keys
    # differ: the start's derivation covered the profile, so the key indicator fails.
    forged = resigned(alice, bob, start, None)
    with pytest.raises(AuthenticationError):
        Session.accept(bob, alice.public_identity(), forged, save_device=SAVE_IN_MEMORY,
                       profiles=both)
    assert Session.accept(bob, alice.public_identity(), start, save_device=SAVE_IN_MEMORY,
                          profiles=both)[1] == b"x"


@needs_liboqs
@pytest.mark.parametrize("rekey", ["HQC-1", "FrodoKEM-640-AES", "BIKE-L1", "ML-KEM-768"])
@pytest.mark.parametrize("traffic", ["ping-pong", "one-sided"])
def test_liboqs_rekey_kems_complete_rekeys_under_loss(rekey: str, traffic: str) -> None:
    profile = Profile(rekey_kem=rekey)
    run = run_traced(
        RekeyPolicy(every_messages=20), traffic, 200, seed=7,
        conditions=NetworkConditions(drop=0.1, mean_delay=90.0), profile=profile,
    )
    s = run.summary()
    assert s["rekeys_completed"] >= 2, s
    kems = {m.kem for e in run.events for m in e.material if m.kind != "start_ciphertext"}
    assert kems == {rekey}
    assert run.refused <= run.delivered // 4  # losses and reordering, not failures


@needs_liboqs
@pytest.mark.parametrize("start", ["HQC-1", "FrodoKEM-640-AES", "BIKE-L1"])
def test_liboqs_start_kems_start_sessions(start: str) -> None:
    profile = Profile(start_kem=start, rekey_kem="HQC-1")
    _, bob, a, b = pair(profile, RekeyPolicy.every_turn())
    converse(a, b, 3)
    assert Device.from_bytes(bob.to_bytes()).profile == profile
    b2 = Session.from_bytes(b.to_bytes(), bob)
    converse(a, b2, 2)
