"""Profiles compared on the same workloads: bytes per message and rekey latency, from the trace.

Owns: the grid of profiles × traffic × loss, one traced conversation per cell (traced.py), and
what is read off each trace: wire bytes per message (mean, p99), rekey latency from the request
to the requester's mixed secret (in messages and in simulated seconds), the share of requests
never completed, and the KEM CPU cost of one rekey on this machine.
Not: the conversation engine (traced.py), the network (delivery.py) or the adversary
(adversary.py: exposure after a compromise is measured there, for PQ3's KEMs).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .. import kem
from ..policy import RekeyPolicy
from ..profile import Profile
from ..trace import TraceEvent
from .delivery import NetworkConditions
from .traced import SECONDS_PER_MESSAGE, run_traced

REORDER_MEAN_DELAY = 1.5 * SECONDS_PER_MESSAGE  # with loss: messages overtake each other
KEM_TIMING_ROUNDS = 5


@dataclass(frozen=True)
class ProfileCell:
    """One conversation's figures."""

    profile: str
    rekey_kem: str
    traffic: str
    loss: float
    messages: int
    bytes_mean: float
    bytes_p99: float
    overhead_mean: float
    rekeys_requested: int
    rekeys_completed: int
    never_completed: float  # share of requests not completed by the end of the conversation
    latency_messages_mean: float | None
    latency_seconds_mean: float | None
    refused: int


def rekey_latencies(events: Sequence[TraceEvent]) -> tuple[list[int], list[float], int]:
    """(messages, seconds) from each request to the requester's own completion, and the count
    of requests left open. A request is a send event that opened one; its completion is the
    next receive event at the same party that mixed a KEM secret. `events` are in the order
    they happened (one recorder for both parties, as traced.py keeps them)."""
    order = events
    sends_so_far = 0
    open_at: dict[str, tuple[int, float]] = {}
    msgs: list[int] = []
    secs: list[float] = []
    for e in order:
        if e.direction == "send":
            sends_so_far += 1
            if e.rekey_requested and e.party not in open_at:
                open_at[e.party] = (sends_so_far, e.time)
        elif e.rekey_completed and e.party in open_at and not e.error:
            n0, t0 = open_at.pop(e.party)
            msgs.append(sends_so_far - n0)
            secs.append(e.time - t0)
    return msgs, secs, len(open_at)


def run_cell(
    profile: Profile, traffic: str, loss: float, messages: int, seed: int, policy: RekeyPolicy
) -> ProfileCell:
    conditions = NetworkConditions(drop=loss, mean_delay=REORDER_MEAN_DELAY if loss else 0.0)
    run = run_traced(policy, traffic, messages, seed, conditions, profile=profile)
    s = run.summary()
    msgs, secs, left_open = rekey_latencies(run.events)
    requested = s["rekeys_requested"]
    return ProfileCell(
        profile=profile.label,
        rekey_kem=profile.rekey_kem,
        traffic=traffic,
        loss=loss,
        messages=messages,
        bytes_mean=s["wire_bytes_mean"],
        bytes_p99=s["wire_bytes_p99"],
        overhead_mean=s["overhead_bytes_mean"],
        rekeys_requested=requested,
        rekeys_completed=len(msgs),
        never_completed=left_open / requested if requested else 0.0,
        latency_messages_mean=statistics.fmean(msgs) if msgs else None,
        latency_seconds_mean=statistics.fmean(secs) if secs else None,
        refused=s["refused"],
    )


def kem_cpu_per_rekey(name: str) -> float:
    """Median µs of one rekey's KEM work here: key generation + encapsulation + decapsulation."""
    named = kem.named(name)
    samples = []
    for _ in range(KEM_TIMING_ROUNDS):
        t0 = time.perf_counter()
        state, pk = named.generate()
        _, ct = named.encapsulate(pk)
        named.decapsulate(state, ct)
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def compare_profiles(
    rekey_kems: Sequence[str],
    traffics: Sequence[str],
    losses: Sequence[float],
    messages: int,
    seed: int,
    policy: RekeyPolicy,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Every cell of the grid and each KEM's CPU per rekey, as one JSON-ready document."""
    cells: list[ProfileCell] = []
    total = len(rekey_kems) * len(traffics) * len(losses)
    for k in rekey_kems:
        profile = Profile(rekey_kem=k)
        for traffic in traffics:
            for loss in losses:
                cells.append(run_cell(profile, traffic, loss, messages, seed, policy))
                if progress is not None:
                    progress(len(cells), total)
    return {
        "schema": "pq3proto-profiles/1",
        "parameters": {
            "rekey_kems": list(rekey_kems),
            "traffic": list(traffics),
            "loss": list(losses),
            "messages": messages,
            "seed": seed,
            "policy": policy.describe(),
            "reorder_mean_delay_s_with_loss": REORDER_MEAN_DELAY,
            "seconds_per_message": SECONDS_PER_MESSAGE,
            "transport": "repeat (first and chunked are not yet wired into sessions)",
        },
        "cells": [asdict(c) for c in cells],
        "kem_cpu_us_per_rekey": {k: kem_cpu_per_rekey(k) for k in rekey_kems},
    }
