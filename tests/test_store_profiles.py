"""SessionStore under profiles other than PQ3: a rekey under `first` or `chunked`, or under
`repeat` with another rekey KEM, survives the stores being closed and reopened at any step
(the transport state is in the stored session, 06-state.md §1 field 23), with lost and
reordered messages, and completes on both sides.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pq3proto import Device, Profile, RekeyPolicy
from pq3proto.primitives import TestingOnlyDeterministicRandom
from pq3proto.store import SessionStore

A, B = "tel:+15550001#1", "mailto:bob@example.org#2"
POLICY = RekeyPolicy(every_messages=4)
PROFILES = (
    Profile(rekey_kem="ML-KEM-1024"),  # repeat, with other material sizes than PQ3's
    Profile(transport="first"),
    Profile(transport="chunked", chunk_size=384, chunk_expansion=2),
)


def _devices(profile: Profile) -> tuple[Device, Device]:
    rng = TestingOnlyDeterministicRandom(b"store profiles")
    alice = Device.generate_deterministic_for_tests("tel:+15550001", 1, rng, profile=profile)
    bob = Device.generate_deterministic_for_tests(
        "mailto:bob@example.org", 2, rng, profile=profile
    )
    return alice, bob


def _open(tmp: Path, alice: Device, bob: Device) -> dict[str, SessionStore]:
    stores = {A: SessionStore(tmp / "alice.db"), B: SessionStore(tmp / "bob.db")}
    for name, device in ((A, alice), (B, bob)):
        if not stores[name].devices():
            stores[name].add_device(device)
    return stores


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.label)
def test_a_rekey_survives_reopening_with_loss_and_reordering(
    profile: Profile, tmp_path: Path
) -> None:
    alice, bob = _devices(profile)
    idents = {A: alice.public_identity(), B: bob.public_identity()}
    stores = _open(tmp_path, alice, bob)
    stores[A].initiate(A, bob.public_identity(), bob.prekey_bundle(), policy=POLICY)
    rng = random.Random(7)
    held: dict[str, list[tuple[bytes, bytes]]] = {A: [], B: []}  # by receiver
    delivered = 0
    src, dst = A, B
    for k in range(240):
        if k and rng.random() < 0.3:
            src, dst = dst, src
        pt = f"{src} {k}".encode()
        wire = stores[src].encrypt(src, dst, pt)
        stores[src].ack_outbox([o.id for o in stores[src].outbox(src)])
        if k and rng.random() < 0.1:
            continue  # lost
        held[dst].append((wire, pt))
        if rng.random() < 0.5 or len(held[dst]) > 3:
            rng.shuffle(held[dst])
            for w, expected in held[dst]:
                got = stores[dst].decrypt(dst, idents[src], w, policy=POLICY)
                assert got.plaintext == expected
                delivered += 1
            held[dst] = []
        if rng.random() < 0.15:  # a crash between two steps: every commit is on disk
            for s in stores.values():
                s.close()
            stores = _open(tmp_path, alice, bob)
    stats = {name: stores[name].session(name, peer).stats for name, peer in ((A, B), (B, A))}
    assert stats[A].pq_rekeys == stats[B].pq_rekeys >= 2
    assert delivered > 150
    for s in stores.values():
        s.close()
