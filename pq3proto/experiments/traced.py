"""A traced conversation over the simulated network: the engine of `pq3proto trace`.

Owns: running two sessions through a seeded Network (loss, duplication, reordering) under one
traffic pattern and policy, with a tracer on each side, and the per-run summary of the trace.
Not: the event record (trace.py), the network model (delivery.py) or the adversary
(adversary.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import PQ3Error
from ..identity import Device
from ..policy import RekeyPolicy
from ..primitives import TestingOnlyDeterministicRandom
from ..profile import Profile
from ..session import Session
from ..trace import TraceEvent, TraceRecorder
from .delivery import Network, NetworkConditions, traffic

SECONDS_PER_MESSAGE = 60.0

# Called after each send with (seq, sender, plaintext, wire, sessions by party): what a
# recording adversary keeps (experiments/hndl.py).
SendObserver = Callable[[int, str, bytes, bytes, dict[str, Session]], None]


@dataclass
class TracedRun:
    """Every event of both parties, in the order they happened, and what the run sent."""

    events: list[TraceEvent] = field(default_factory=list)
    sent: int = 0
    not_sent: int = 0  # sends skipped because the responder had no session yet
    delivered: int = 0
    refused: int = 0
    dropped: int = 0

    def summary(self) -> dict[str, Any]:
        sends = [e for e in self.events if e.direction == "send"]
        sizes = sorted(e.parts.total for e in sends)
        overhead = sorted(e.parts.total - e.parts.ciphertext for e in sends)
        kem = [e.parts.kem for e in sends]
        return {
            "messages_sent": self.sent,
            "sends_skipped_no_session": self.not_sent,
            "deliveries": self.delivered,
            "refused": self.refused,
            "dropped_by_network": self.dropped,
            "wire_bytes_mean": _mean(sizes),
            "wire_bytes_p99": _quantile(sizes, 0.99),
            "overhead_bytes_mean": _mean(overhead),
            "overhead_bytes_p99": _quantile(overhead, 0.99),
            "kem_bytes_mean": _mean(kem),
            "ecdh_steps_sent": sum(e.ecdh_step for e in sends),
            "rekeys_requested": sum(e.rekey_requested for e in sends),
            "rekeys_completed": sum(e.rekey_completed for e in self.events),
        }


def _mean(xs: list[int]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _quantile(sorted_xs: list[int], q: float) -> float:
    if not sorted_xs:
        return 0.0
    return float(sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))])


def run_traced(
    policy: RekeyPolicy,
    pattern: str,
    messages: int,
    seed: int,
    conditions: NetworkConditions | None = None,
    profile: Profile | None = None,
    senders: Sequence[str] | None = None,
    observe: SendObserver | None = None,
) -> TracedRun:
    """Run one conversation and trace it. Every random value comes from `seed`.

    `senders` ("A"/"B" per message) replaces the pattern's senders (a custom pattern; then
    `pattern` only names it); `observe` sees every message sent."""
    rng = TestingOnlyDeterministicRandom(
        hashlib.sha256(repr(("pq3proto-trace", seed, pattern)).encode()).digest()
    )
    now = [0.0]

    def clock() -> float:
        return now[0]

    alice = Device.generate_deterministic_for_tests("tel:+15550001", 1, rng, profile=profile)
    bob = Device.generate_deterministic_for_tests(
        "mailto:bob@example.org", 2, rng, profile=profile
    )
    run = TracedRun()
    recorder = TraceRecorder(run.events)
    a = Session.initiate_deterministic_for_tests(
        alice, bob.public_identity(), bob.prekey_bundle(), rng, policy=policy, clock=clock
    )
    a.tracer = recorder
    sessions: dict[str, Session] = {"A": a}
    net = Network(seed, conditions)

    def deliver(recipient: str, wire: bytes) -> None:
        s = sessions.get(recipient)
        try:
            if s is None:
                b, _ = Session.accept_deterministic_for_tests(
                    bob, alice.public_identity(), wire, rng,
                    policy=policy, clock=clock, tracer=recorder,
                )
                sessions["B"] = b
            else:
                s.decrypt(wire)
            run.delivered += 1
        except PQ3Error:
            run.refused += 1

    order = list(senders) if senders is not None else traffic(pattern, messages, seed)
    for seq, who in enumerate(order):
        now[0] = seq * SECONDS_PER_MESSAGE
        for d in net.due(now[0]):
            deliver(d.recipient, d.wire)
        s = sessions.get(who)
        if s is None:
            run.not_sent += 1
            continue
        plaintext = f"message {seq} from {who}".encode()
        wire = s.encrypt(plaintext)
        run.sent += 1
        if observe is not None:
            observe(seq, who, plaintext, wire, sessions)
        net.send(now[0], who, "B" if who == "A" else "A", seq, wire)
    for d in net.drain():
        now[0] = max(now[0], d.at)
        deliver(d.recipient, d.wire)
    run.dropped = net.dropped
    return run
