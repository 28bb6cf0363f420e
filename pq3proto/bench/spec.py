"""What one benchmark run is: its spec, one repetition's record, what a message counts.

Owns: BenchSpec, Rep, the Runner interface, the exact definition of a counted message, the
payload pool.
Not: the timing loops (workloads.py), the floors (floors.py) or the command (command.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

from ..constants import DEFAULT_REKEY_KEM, DEFAULT_START_KEM
from ..errors import PQ3Error
from ..profile import Profile, Transport
from ..session_state import SessionStats

SCHEMA = "pq3proto-bench/2"
WORKLOADS = ("symmetric", "full", "pingpong", "fanout")
DEFAULT_MESSAGES = {"symmetric": 200_000, "full": 10_000, "pingpong": 4_000, "fanout": 2_000}
PAYLOAD_POOL = 64  # distinct payloads cycled through by every workload
TICK = 256  # messages between progress updates in the per-message loops

Tick = Callable[[int], None]


def no_tick(_: int) -> None:
    return None


@dataclass(frozen=True)
class BenchSpec:
    """Everything a worker needs to build and run one workload; picklable."""

    workload: str
    path: str  # resolved: "native" or "python"
    messages: int
    payload: int = 140
    policy: str = "default"
    turn_rate: float = 0.1
    recipients: int = 5
    batch: int = 64
    include_parse: bool = False
    seed: int = 1
    warmup: int = 0
    start_kem: str = DEFAULT_START_KEM
    rekey_kem: str = DEFAULT_REKEY_KEM
    transport: Transport = "repeat"
    chunk_size: int | None = None  # chunked only; None: the profile's default
    chunk_expansion: int | None = None

    @property
    def profile(self) -> Profile:
        """The protocol profile every session of the run uses (PQ3 by default)."""
        return Profile(start_kem=self.start_kem, rekey_kem=self.rekey_kem,
                       transport=self.transport, chunk_size=self.chunk_size,
                       chunk_expansion=self.chunk_expansion)

    def effective_turn_rate(self) -> float:
        """pingpong turns on every message; fanout is a one-way stream."""
        if self.workload == "pingpong":
            return 1.0
        if self.workload == "fanout":
            return 0.0
        return self.turn_rate


@dataclass
class Rep:
    """One repetition in one worker: counted messages, timed seconds, samples, events."""

    messages: int
    elapsed_s: float  # the timed protocol work only (sum of timed sections)
    wall_s: float  # the whole loop, harness included
    cpu_s: float  # process CPU time over the loop
    latencies_ns: list[int] = field(repr=False)
    events: dict[str, int] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)


class Runner(Protocol):
    def run(self, n: int, tick: Tick) -> Rep: ...


def describe_counts(spec: BenchSpec) -> str:
    """The exact definition of one counted message for this spec (summary and JSON)."""
    p = f"{spec.payload}-byte payload"
    if spec.workload == "symmetric":
        how = (
            "HotPath.seal_batch + parse_message per message + HotPath.open_batch (lists of "
            "bytes), wire parsing included"
            if spec.include_parse
            else "HotPath.seal_packed + HotPath.open_packed (each batch one buffer each way; "
            "the receiver parses the wire in the same C call, counted; parse_message timed "
            "separately, not counted: results.parse_us_per_message)"
        )
        return (
            f"one message = seal by the sender + open by the receiver, {p}, signatures off "
            f"(signer=None, verifier=None): {how}, in batches of {spec.batch} on one chain "
            "of a real session; both sides' work in the same process, a message counted "
            "once, when the receiver has opened it; session start excluded"
        )
    if spec.workload == "fanout":
        return (
            f"one delivery = Session.encrypt by the sender + Session.decrypt (parse, verify, "
            f"ratchet, decrypt) by one of {spec.recipients} recipient devices, signatures on, "
            f"{p}, one-way stream; messages_per_second counts deliveries, "
            f"results.user_messages_per_second counts user messages (= deliveries / "
            f"{spec.recipients}); session starts excluded"
        )
    turns = (
        "a direction change on every message"
        if spec.workload == "pingpong"
        else f"direction changes with probability {spec.turn_rate:g} per message"
    )
    return (
        f"one message = Session.encrypt by the sender + Session.decrypt (parse, verify, "
        f"ratchet, decrypt) by the receiver, signatures on (ECDSA P-256 sign + verify), {p}; "
        f"{turns} (each an ECDH step on both sides), PQ rekeys under policy "
        f"'{spec.policy}'; both sides' work in the same process; session start excluded"
    )



def payloads(size: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(PAYLOAD_POOL)]


def stats_delta(after: SessionStats, before: SessionStats) -> dict[str, int]:
    a, b = asdict(after), asdict(before)
    return {k: int(a[k] - b[k]) for k in a}


def mismatch() -> PQ3Error:
    return PQ3Error("benchmark: an opened message differs from what was sent")
