"""Experiments: exposure after a state compromise, harvest-now-decrypt-later, wire overhead.

Owns: recording a two-party conversation (wire transcript, every state snapshot, and the ECDH
private keys a quantum adversary would recover), the sweeps over rekey policies and traffic
patterns, and their results as plain data.
Not: the adversary's derivations (adversary.py), printing or plotting (cli.py).
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from ..identity import Device
from ..policy import RekeyPolicy
from ..primitives import TestingOnlyDeterministicRandom
from ..session import Session
from ..session_state import SessionState
from .adversary import Adversary, Knowledge, Sent, Transcript, scalar_of
from .attacks import AttackOutcome, directory_attacks, downgrade_and_replay_attacks
from .delivery import PATTERNS, traffic

__all__ = [
    "POLICIES",
    "CompromiseResult",
    "Recording",
    "policy_grid",
    "record_conversation",
    "run_all",
    "run_cell",
    "sweep",
]

# Simulated seconds between two messages: far below the default policy's 7-day bound, so the
# message count decides (the offline-gap test in tests/ exercises the time bound).
SECONDS_PER_MESSAGE = 60.0


def policy_grid(intervals: Sequence[int]) -> list[tuple[str, RekeyPolicy]]:
    """every-turn, the default policy with each message interval, never."""
    out = [("every-turn", RekeyPolicy.every_turn())]
    out += [(str(n), RekeyPolicy(every_messages=n)) for n in intervals]
    out.append(("never", RekeyPolicy.never()))
    return out


POLICIES = policy_grid((5, 10, 25, 50, 100))


@dataclass
class Recording:
    """A whole conversation: transcript, both states after each message, and the key oracle."""

    transcript: Transcript
    snapshots: list[dict[str, SessionState]]  # index n: states after message n
    ecdh_scalars: dict[bytes, bytes] = field(repr=False)  # every P-256 key of the run
    kem_seeds: dict[bytes, bytes] = field(repr=False)  # every ML-KEM key of the run
    start_kem_public: bytes = b""
    pq_rekeys: int = 0
    wire_bytes: int = 0
    plaintext_bytes: int = 0


def _seed_bytes(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def record_conversation(
    policy: RekeyPolicy, pattern: str, messages: int, seed: int
) -> Recording:
    """Run a conversation on a perfect network and record everything the experiments need.

    Every random value comes from a seeded TestingOnlyDeterministicRandom, so a run is
    reproducible byte for byte. Each message is delivered before the next is sent.
    """
    rng = TestingOnlyDeterministicRandom(_seed_bytes("pq3proto-experiment", seed, pattern))
    now = [0.0]

    def clock() -> float:
        return now[0]

    alice = Device.generate_deterministic_for_tests("tel:+15550001", 1, rng)
    bob = Device.generate_deterministic_for_tests("mailto:bob@example.org", 2, rng)
    senders = traffic(pattern, messages, seed)
    ecdh: dict[bytes, bytes] = {}
    seeds: dict[bytes, bytes] = {}
    prekey = bob.prekey_secrets(bob.bundle.prekey_hash())
    assert prekey is not None
    ecdh[prekey[0].public] = prekey[0].scalar()
    seeds[bob.bundle.kem_public_key] = prekey[1]

    def harvest(s: Session) -> None:
        r = s.state.ratchet
        if r.my_ecdh is not None and r.my_point is not None:
            ecdh[r.my_point] = scalar_of(r.my_ecdh)
        if r.my_kem_seed is not None and r.my_kem_public is not None:
            seeds[r.my_kem_public] = r.my_kem_seed

    a = Session.initiate_deterministic_for_tests(
        alice, bob.public_identity(), bob.prekey_bundle(), rng, policy=policy, clock=clock
    )
    sessions: dict[str, Session] = {"A": a}
    sent: list[Sent] = []
    snapshots: list[dict[str, SessionState]] = []
    for seq, who in enumerate(senders):
        now[0] = seq * SECONDS_PER_MESSAGE
        pt = f"message {seq} from {who}".encode()
        wire = sessions[who].encrypt(pt)
        harvest(sessions[who])
        if seq == 0:
            b, got = Session.accept_deterministic_for_tests(
                bob, alice.public_identity(), wire, rng, policy=policy, clock=clock
            )
            sessions["B"] = b
        else:
            got = sessions["B" if who == "A" else "A"].decrypt(wire)
        if got != pt:
            raise AssertionError(f"message {seq} did not decrypt")
        for s in sessions.values():
            harvest(s)
        sent.append(Sent(seq, who, wire, pt))
        snapshots.append({k: s.state for k, s in sessions.items()})
    transcript = Transcript(
        {"A": alice.identity, "B": bob.identity}, bob.bundle, sent
    )
    sa, sb = sessions["A"].stats, sessions["B"].stats
    return Recording(
        transcript=transcript,
        snapshots=snapshots,
        ecdh_scalars=ecdh,
        kem_seeds=seeds,
        start_kem_public=bob.bundle.kem_public_key,
        pq_rekeys=sa.pq_rekeys,
        wire_bytes=sa.wire_bytes + sb.wire_bytes,
        plaintext_bytes=sa.plaintext_bytes + sb.plaintext_bytes,
    )


@dataclass(frozen=True)
class Exposure:
    """One compromise: messages after it the adversary read, and whether it was locked out."""

    at: int
    party: str
    read_after: int
    read_before: int
    remaining: int
    locked_out: bool


def compromise(rec: Recording, n: int, party: str, quantum: bool) -> Exposure:
    """The adversary holds `party`'s state after message n (and every ECDH key if quantum)."""
    state = rec.snapshots[n].get(party)
    if state is None:
        raise ValueError(f"party {party} has no session after message {n}")
    knowledge = Knowledge(rec.ecdh_scalars if quantum else {}, {})
    reading = Adversary(rec.transcript, knowledge).from_snapshot(state)
    after = sum(1 for s in reading.read if s > n)
    before = sum(1 for s in reading.read if s <= n)
    remaining = len(rec.transcript.messages) - n - 1
    return Exposure(n, party, after, before, remaining, reading.locked_at_chain is not None)


@dataclass(frozen=True)
class CompromiseResult:
    """One (policy, traffic pattern) cell of the sweep."""

    policy: str
    pattern: str
    messages: int
    samples: int
    classical_mean: float
    classical_max: int
    classical_locked_out: float  # fraction of compromises after which the adversary lost
    quantum_mean: float
    quantum_max: int
    quantum_locked_out: float
    read_before_compromise: int  # messages up to n read from a snapshot at n (must be 0)
    hndl_read: int  # whole transcript, every ECDH key broken, no KEM secret
    hndl_start_kem_broken_read: int  # also the ML-KEM-1024 prekey seed
    pq_rekeys: int
    wire_bytes_per_message: float
    overhead_bytes_per_message: float


def compromise_points(messages: int, samples: int) -> list[int]:
    """Evenly spread compromise points in the first 60% (so a window can close before the end)."""
    lo, hi = max(1, messages // 10), max(2, (messages * 6) // 10)
    step = max(1, (hi - lo) // max(1, samples))
    return list(range(lo, hi, step))[:samples]


def evaluate(rec: Recording, policy: str, pattern: str, samples: int) -> CompromiseResult:
    m = len(rec.transcript.messages)
    classical: list[Exposure] = []
    quantum: list[Exposure] = []
    for n in compromise_points(m, samples):
        for party in ("A", "B"):
            classical.append(compromise(rec, n, party, quantum=False))
            quantum.append(compromise(rec, n, party, quantum=True))
    hndl = Adversary(rec.transcript, Knowledge(rec.ecdh_scalars, {})).from_session_start()
    start_seed = {rec.start_kem_public: rec.kem_seeds[rec.start_kem_public]}
    broken = Adversary(
        rec.transcript, Knowledge(rec.ecdh_scalars, start_seed)
    ).from_session_start()
    return CompromiseResult(
        policy=policy,
        pattern=pattern,
        messages=m,
        samples=len(classical),
        classical_mean=statistics.fmean(e.read_after for e in classical),
        classical_max=max(e.read_after for e in classical),
        classical_locked_out=statistics.fmean(e.locked_out for e in classical),
        quantum_mean=statistics.fmean(e.read_after for e in quantum),
        quantum_max=max(e.read_after for e in quantum),
        quantum_locked_out=statistics.fmean(e.locked_out for e in quantum),
        read_before_compromise=sum(e.read_before for e in classical + quantum),
        hndl_read=len(hndl.read),
        hndl_start_kem_broken_read=len(broken.read),
        pq_rekeys=rec.pq_rekeys,
        wire_bytes_per_message=rec.wire_bytes / m,
        overhead_bytes_per_message=(rec.wire_bytes - rec.plaintext_bytes) / m,
    )


Progress = Callable[[int, int, str], None]
Cell = tuple[str, RekeyPolicy, str]  # policy label, policy, traffic pattern
# Runs a function over cells (one task each) and returns the results in the cells' order.
Mapper = Callable[[Callable[[Cell], CompromiseResult], list[Cell]], list[CompromiseResult]]


def run_cell(cell: Cell, messages: int, seed: int, samples: int) -> CompromiseResult:
    """One (policy, pattern) cell: record one conversation, then attack it."""
    label, policy, pattern = cell
    rec = record_conversation(policy, pattern, messages, seed)
    return evaluate(rec, label, pattern, samples)


def sweep(
    policies: Sequence[tuple[str, RekeyPolicy]] = POLICIES,
    patterns: Sequence[str] = PATTERNS,
    messages: int = 300,
    seed: int = 1,
    samples: int = 12,
    progress: Progress | None = None,
    mapper: Mapper | None = None,
) -> list[CompromiseResult]:
    """Every (policy, pattern) cell, here one after the other or as tasks of `mapper`."""
    cells: list[Cell] = [(label, p, pat) for pat in patterns for label, p in policies]
    if mapper is not None:
        return mapper(partial(run_cell, messages=messages, seed=seed, samples=samples), cells)
    out = []
    for i, cell in enumerate(cells):
        if progress is not None:
            progress(i, len(cells), f"{cell[2]} / {cell[0]}")
        out.append(run_cell(cell, messages, seed, samples))
    if progress is not None:
        progress(len(cells), len(cells), "done")
    return out


def run_all(
    policies: Sequence[tuple[str, RekeyPolicy]] = POLICIES,
    patterns: Sequence[str] = PATTERNS,
    messages: int = 300,
    seed: int = 1,
    samples: int = 12,
    progress: Progress | None = None,
    mapper: Mapper | None = None,
) -> dict[str, Any]:
    """The sweep plus the active attacks, as one JSON-ready document."""
    results = sweep(policies, patterns, messages, seed, samples, progress, mapper)
    rng = TestingOnlyDeterministicRandom(_seed_bytes("pq3proto-attacks", seed))
    attacks: list[AttackOutcome] = directory_attacks(rng) + downgrade_and_replay_attacks(rng)
    return {
        "parameters": {
            "messages": messages,
            "seed": seed,
            "samples_per_party": samples,
            "seconds_per_message": SECONDS_PER_MESSAGE,
            "policies": [label for label, _ in policies],
            "patterns": list(patterns),
        },
        "compromise": [asdict(r) for r in results],
        "attacks": [asdict(a) for a in attacks],
    }
