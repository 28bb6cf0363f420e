"""Harvest now, decrypt later, under any profile and network: exposure after a compromise.

Owns: recording a traced conversation for the adversary (every message sent, lost ones
included, with its plaintext as ground truth; both states at the compromise points; every
ECDH private scalar of the run), and the measured exposure: for a compromise of one party's
state after message t by an adversary that later breaks every ECDH key, the number of
messages after t that it reads (adversary.py replays the key schedule; nothing is estimated).
Not: the conversation engine (traced.py) or the adversary's derivations (adversary.py).

Only a rekey whose KEM secret the adversary cannot get heals: one whose key pair was made
after t, or whose answer was encapsulated after t to a key the stolen state did not hold.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ..identity import PublicIdentity
from ..policy import RekeyPolicy
from ..profile import Profile
from ..session import Session
from ..session_state import SessionState
from .adversary import Adversary, Knowledge, Sent, Transcript, scalar_of
from .delivery import NetworkConditions
from .traced import TracedRun, run_traced

DEFAULT_COMPROMISE_EVERY = 25


@dataclass(frozen=True)
class HndlExposure:
    """Exposure over the compromise points of one conversation, both parties."""

    samples: int  # compromises measured (points x parties with a session)
    mean: float  # messages after the compromise the adversary read, mean
    max: int
    share_of_remaining: float  # mean of read / messages after the compromise
    healed: float  # share of compromises after which the adversary lost the root key


@dataclass
class HndlRecording:
    """A traced run with what the adversary needs."""

    run: TracedRun
    transcript: Transcript
    snapshots: dict[int, dict[str, SessionState]]
    ecdh_scalars: dict[bytes, bytes]
    kem_keys: dict[bytes, bytes]  # every rekey KEM public key -> private key (for tests)


def compromise_points(messages: int, every: int) -> list[int]:
    """Every `every`-th message up to 60% of the conversation, so a heal can show."""
    last = max(every, (messages * 6) // 10)
    return list(range(every, last + 1, every))


def record(
    profile: Profile,
    policy: RekeyPolicy,
    pattern: str,
    messages: int,
    seed: int,
    conditions: NetworkConditions | None,
    points: Sequence[int],
    senders: Sequence[str] | None = None,
) -> HndlRecording:
    """Run the conversation of run_traced and keep what a recording adversary needs."""
    sent: list[Sent] = []
    ecdh: dict[bytes, bytes] = {}
    kem_keys: dict[bytes, bytes] = {}
    snapshots: dict[int, dict[str, SessionState]] = {}
    wanted = set(points)
    identities: dict[str, PublicIdentity] = {}

    def observe(seq: int, who: str, pt: bytes, wire: bytes, sessions: dict[str, Session]) -> None:
        sent.append(Sent(seq, who, wire, pt))
        if not identities:
            a = sessions["A"].state
            identities.update(A=a.me, B=a.peer)
        r = sessions[who].state.ratchet  # a sender's new ratchet key appears on a send
        if r.my_ecdh is not None and r.my_point is not None and r.my_point not in ecdh:
            ecdh[r.my_point] = scalar_of(r.my_ecdh)
        if r.my_kem_seed is not None and r.my_kem_public is not None:
            kem_keys[r.my_kem_public] = r.my_kem_seed
        if seq in wanted:
            snapshots[seq] = {k: s.state for k, s in sessions.items()}

    run = run_traced(policy, pattern, messages, seed, conditions, profile=profile,
                     senders=senders, observe=observe)
    # The start is not attacked here (no prekey secret is compromised), so no bundle.
    transcript = Transcript(identities, None, sent, profile)
    return HndlRecording(run, transcript, snapshots, ecdh, kem_keys)


def exposure(rec: HndlRecording, kem_broken: bool = False) -> HndlExposure:
    """Compromise each party at each recorded point; the adversary also holds every ECDH
    scalar of the run (a quantum computer breaking the recorded points later), and with
    `kem_broken` every rekey KEM private key too (then nothing can heal)."""
    known = Knowledge(rec.ecdh_scalars, rec.kem_keys if kem_broken else {})
    reads: list[int] = []
    shares: list[float] = []
    healed: list[bool] = []
    for t, states in sorted(rec.snapshots.items()):
        remaining = sum(1 for m in rec.transcript.messages if m.seq > t)
        for party in ("A", "B"):
            state = states.get(party)
            if state is None:
                continue
            reading = Adversary(rec.transcript, known).from_snapshot(state)
            after = sum(1 for s in reading.read if s > t)
            reads.append(after)
            shares.append(after / remaining if remaining else 0.0)
            healed.append(reading.locked_at_chain is not None)
    if not reads:
        return HndlExposure(0, 0.0, 0, 0.0, 0.0)
    return HndlExposure(
        samples=len(reads),
        mean=statistics.fmean(reads),
        max=max(reads),
        share_of_remaining=statistics.fmean(shares),
        healed=statistics.fmean(healed),
    )
