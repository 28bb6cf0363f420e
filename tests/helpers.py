"""Test helpers: a pair of sessions (random or deterministic) and a manual clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pq3proto import Device, Profile, RekeyPolicy, Session
from pq3proto.primitives import TestingOnlyDeterministicRandom


def SAVE_IN_MEMORY(_: Device) -> None:
    """accept's save_device for tests whose devices live in memory only."""


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Pair:
    alice_device: Device
    bob_device: Device
    alice: Session
    bob: Session


def new_pair(
    policy: RekeyPolicy | None = None,
    clock: ManualClock | None = None,
    first: bytes = b"hello",
) -> Pair:
    """Alice initiates to Bob; Bob accepts Alice's first message."""
    bob_dev = Device.generate("mailto:bob@example.org", device_id=1)
    alice_dev = Device.generate("tel:+15551234567", device_id=7)
    alice = Session.initiate(
        alice_dev, bob_dev.public_identity(), bob_dev.prekey_bundle(), policy=policy, clock=clock
    )
    bob, got = Session.accept(
        bob_dev,
        alice_dev.public_identity(),
        alice.encrypt(first),
        save_device=SAVE_IN_MEMORY,
        policy=policy,
        clock=clock,
    )
    assert got == first
    return Pair(alice_dev, bob_dev, alice, bob)


def deterministic_pair(
    seed: bytes,
    policy: RekeyPolicy,
    clock: Callable[[], float],
    profile: Profile | None = None,
) -> tuple[Session, Session]:
    """Alice and Bob from one deterministic random source; Bob has accepted Alice's start."""
    rng = TestingOnlyDeterministicRandom(seed)
    alice = Device.generate_deterministic_for_tests("tel:+15550001", 1, rng, profile=profile)
    bob = Device.generate_deterministic_for_tests(
        "mailto:bob@example.org", 2, rng, profile=profile
    )
    a = Session.initiate_deterministic_for_tests(
        alice, bob.public_identity(), bob.prekey_bundle(), rng, policy=policy, clock=clock
    )
    b, _ = Session.accept_deterministic_for_tests(
        bob, alice.public_identity(), a.encrypt(b"start"), rng, policy=policy, clock=clock
    )
    return a, b
