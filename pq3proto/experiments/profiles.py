"""Profiles compared on the same workloads: transport x rekey KEM x traffic x loss.

Owns: the grid, one traced conversation per cell (traced.py, recorded for the adversary by
hndl.py), and what is read off each: wire bytes per message (mean, p99), rekey latency from
the request to the requester's mixed secret (in messages and in simulated seconds), the share
of requests never completed, HNDL exposure after a compromise (measured by the adversary),
and the CPU of one rekey on this machine (KEM, plus chunk encoding and decoding for chunked).
Not: the conversation engine (traced.py), the network (delivery.py) or the adversary
(adversary.py, hndl.py).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import kem
from ..chunking import Encoder, Reassembler
from ..constants import (
    CHUNK_KIND_CIPHERTEXT,
    CHUNK_KIND_PUBLIC_KEY,
    DEFAULT_CHUNK_EXPANSION,
    MAX_CHUNK_SIZE,
)
from ..kem_table import by_name
from ..policy import RekeyPolicy
from ..primitives import TestingOnlyDeterministicRandom
from ..profile import TRANSPORTS, Profile
from ..trace import TraceEvent
from .delivery import NetworkConditions
from .hndl import DEFAULT_COMPROMISE_EVERY, compromise_points, exposure, record
from .traced import SECONDS_PER_MESSAGE

REORDER_MEAN_DELAY = 1.5 * SECONDS_PER_MESSAGE  # with loss: messages overtake each other
KEM_TIMING_ROUNDS = 5
# The automatic chunk size: the smallest of these with every material of the rekey KEM in at
# most AUTO_MAX_CHUNKS chunks. 64 keeps an ML-KEM-768 rekey within PQ3's 50-message interval
# at 10% loss (spec/10-profiles.md §4.5); big KEMs get bigger chunks (FrodoKEM-640: 512).
AUTO_CHUNK_SIZES = (64, 128, 256, 512, 1024, MAX_CHUNK_SIZE)
AUTO_MAX_CHUNKS = 20


def auto_chunk_size(rekey_kem: str) -> int:
    """The default chunk size for a rekey KEM (AUTO_CHUNK_SIZES, AUTO_MAX_CHUNKS)."""
    info = by_name(rekey_kem)
    largest = max(info.public_key_size, info.ciphertext_size)
    for size in AUTO_CHUNK_SIZES:
        if -(-largest // size) <= AUTO_MAX_CHUNKS:
            return size
    return AUTO_CHUNK_SIZES[-1]


@dataclass(frozen=True)
class ChunkRule:
    """Chunk size per rekey KEM: an override, one size for all, or auto_chunk_size."""

    size: int | None = None  # None: auto
    per_kem: Mapping[str, int] = field(default_factory=dict)
    expansion: int = DEFAULT_CHUNK_EXPANSION

    def for_kem(self, rekey_kem: str) -> int:
        if rekey_kem in self.per_kem:
            return self.per_kem[rekey_kem]
        return self.size if self.size is not None else auto_chunk_size(rekey_kem)

    def describe(self) -> str:
        base = "auto" if self.size is None else str(self.size)
        extra = "".join(f",{k}={v}" for k, v in self.per_kem.items())
        return f"{base}{extra} x{self.expansion}"


def make_profile(transport: str, rekey_kem: str, chunks: ChunkRule) -> Profile:
    """The profile of one grid column: PQ3's start KEM, this rekey KEM and transport."""
    if transport == "chunked":
        return Profile(rekey_kem=rekey_kem, transport="chunked",
                       chunk_size=chunks.for_kem(rekey_kem), chunk_expansion=chunks.expansion)
    return Profile(rekey_kem=rekey_kem, transport=transport)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Workload:
    """One traffic column: a built-in shape, or a custom pattern (its senders)."""

    name: str
    senders: tuple[str, ...] | None = None  # None: `name` is a pq3proto.traffic shape


@dataclass(frozen=True)
class ProfileCell:
    """One conversation's figures."""

    profile: str
    profile_id: str  # the profile identifier, hex
    transport: str
    rekey_kem: str
    chunk_size: int | None
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
    latency_messages_p90: float | None
    latency_seconds_mean: float | None
    hndl_samples: int
    hndl_exposure_mean: float  # messages after the compromise the adversary read
    hndl_exposure_max: int
    hndl_exposure_share: float  # of the messages after the compromise
    hndl_healed: float  # share of compromises after which the adversary lost the root key
    refused: int


def rekey_latencies(
    events: Sequence[TraceEvent], transport: str | None = None
) -> tuple[list[int], list[float], int]:
    """(messages, seconds) from each request to the requester's own mix, and the count of
    requests left open.

    A request is a send event that opened one. Its completion is the requester's next later
    event with rekey_completed: a receive under `repeat` (the answering chain arrives), a send
    under `first` and `chunked` (the requester's next chain mixes the secret). With
    `transport` given, only that direction counts, so an answerer-side mix of a crossing
    request of the peer's is not taken for it; with None, either direction does. Messages
    count every send of both parties after the request, up to and including a completing
    send (the first message under the new key); `events` are in the order they happened
    (one recorder for both parties, as traced.py keeps them).
    """
    direction = None if transport is None else ("receive" if transport == "repeat" else "send")
    sends_so_far = 0
    open_at: dict[str, tuple[int, float, int]] = {}
    msgs: list[int] = []
    secs: list[float] = []
    for pos, e in enumerate(events):
        if e.direction == "send":
            sends_so_far += 1
        opened = open_at.get(e.party)
        if (
            opened is not None
            and e.rekey_completed
            and not e.error
            and pos > opened[2]
            and direction in (None, e.direction)
        ):
            del open_at[e.party]
            msgs.append(sends_so_far - opened[0])
            secs.append(e.time - opened[1])
        if e.direction == "send" and e.rekey_requested and e.party not in open_at:
            open_at[e.party] = (sends_so_far, e.time, pos)
    return msgs, secs, len(open_at)


def _p90(xs: list[int]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return float(s[min(len(s) - 1, int(0.9 * len(s)))])


def run_cell(
    profile: Profile,
    workload: Workload,
    loss: float,
    messages: int,
    seed: int,
    policy: RekeyPolicy,
    compromise_every: int = DEFAULT_COMPROMISE_EVERY,
) -> ProfileCell:
    """One conversation under `profile`, read off its trace and attacked by the adversary."""
    conditions = NetworkConditions(drop=loss, mean_delay=REORDER_MEAN_DELAY if loss else 0.0)
    senders = None
    if workload.senders is not None:
        senders = [workload.senders[i % len(workload.senders)] for i in range(messages)]
    rec = record(profile, policy, workload.name, messages, seed, conditions,
                 compromise_points(messages, compromise_every), senders)
    run = rec.run
    s = run.summary()
    msgs, secs, left_open = rekey_latencies(run.events, profile.transport)
    requested = s["rekeys_requested"]
    hndl = exposure(rec)
    return ProfileCell(
        profile=profile.label,
        profile_id=profile.to_bytes().hex(),
        transport=profile.transport,
        rekey_kem=profile.rekey_kem,
        chunk_size=profile.chunk_size,
        traffic=workload.name,
        loss=loss,
        messages=messages,
        bytes_mean=s["wire_bytes_mean"],
        bytes_p99=s["wire_bytes_p99"],
        overhead_mean=s["overhead_bytes_mean"],
        rekeys_requested=requested,
        rekeys_completed=len(msgs),
        never_completed=left_open / requested if requested else 0.0,
        latency_messages_mean=statistics.fmean(msgs) if msgs else None,
        latency_messages_p90=_p90(msgs),
        latency_seconds_mean=statistics.fmean(secs) if secs else None,
        hndl_samples=hndl.samples,
        hndl_exposure_mean=hndl.mean,
        hndl_exposure_max=hndl.max,
        hndl_exposure_share=hndl.share_of_remaining,
        hndl_healed=hndl.healed,
        refused=s["refused"],
    )


def _median_us(fn: Callable[[], object]) -> float:
    samples = []
    for _ in range(KEM_TIMING_ROUNDS):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def kem_cpu_per_rekey(name: str) -> float:
    """Median µs of one rekey's KEM work here: key generation + encapsulation + decapsulation."""
    named = kem.named(name)

    def rekey() -> None:
        state, pk = named.generate()
        _, ct = named.encapsulate(pk)
        named.decapsulate(state, ct)

    return _median_us(rekey)


def chunk_cpu_per_rekey(profile: Profile) -> float:
    """Median µs of one chunked rekey's coding here: the sender's encoding of each of the k
    chunks it sends (sessions build the encoder per message) and the receiver's rebuild from
    k chunks half of which are parity, for the key and for the ciphertext."""
    assert profile.chunk_size is not None and profile.chunk_expansion is not None
    size, e = profile.chunk_size, profile.chunk_expansion
    rng = TestingOnlyDeterministicRandom(b"pq3proto chunk timing".ljust(32, b"\0"))
    info = profile.rekey
    materials = (
        (CHUNK_KIND_PUBLIC_KEY, rng.random_bytes(info.public_key_size)),
        (CHUNK_KIND_CIPHERTEXT, rng.random_bytes(info.ciphertext_size)),
    )

    def code() -> None:
        for kind, material in materials:
            k = Encoder.of(material, kind, size, e).k
            # what arrives: every other chunk, the first k/2 data chunks and then parity
            picks = [2 * j for j in range(k)]
            chunks = [Encoder.of(material, kind, size, e).chunk(i) for i in picks]
            held = Reassembler.expecting(kind, len(material), size)
            for c in chunks:
                held = held.add(c)
            assert held.complete and held.result() == material

    return _median_us(code)


def compare_profiles(
    transports: Sequence[str],
    rekey_kems: Sequence[str],
    workloads: Sequence[Workload],
    losses: Sequence[float],
    messages: int,
    seed: int,
    policy: RekeyPolicy,
    chunks: ChunkRule | None = None,
    compromise_every: int = DEFAULT_COMPROMISE_EVERY,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Every cell of the grid and each profile's CPU per rekey, as one JSON-ready document."""
    chunks = chunks or ChunkRule()
    for t in transports:
        if t not in TRANSPORTS:
            raise ValueError(f"unknown transport {t!r}")
    profiles = [make_profile(t, k, chunks) for t in transports for k in rekey_kems]
    cells: list[ProfileCell] = []
    total = len(profiles) * len(workloads) * len(losses)
    for profile in profiles:
        for w in workloads:
            for loss in losses:
                cells.append(run_cell(profile, w, loss, messages, seed, policy,
                                      compromise_every))
                if progress is not None:
                    progress(len(cells), total)
    kem_us = {k: kem_cpu_per_rekey(k) for k in rekey_kems}
    cpu = {
        p.label: {
            "kem_us": kem_us[p.rekey_kem],
            "chunk_us": chunk_cpu_per_rekey(p) if p.transport == "chunked" else 0.0,
        }
        for p in profiles
    }
    return {
        "schema": "pq3proto-profiles/2",
        "parameters": {
            "transports": list(transports),
            "rekey_kems": list(rekey_kems),
            "traffic": [w.name for w in workloads],
            "custom_patterns": {w.name: "".join(w.senders) for w in workloads if w.senders},
            "loss": list(losses),
            "messages": messages,
            "seed": seed,
            "policy": policy.describe(),
            "chunk_size": chunks.describe(),
            "reorder_mean_delay_s_with_loss": REORDER_MEAN_DELAY,
            "seconds_per_message": SECONDS_PER_MESSAGE,
            "compromise_points": compromise_points(messages, compromise_every),
            "kem_backend": {"ML-KEM": kem.get_backend().name, "others": "liboqs"},
            "hndl": "measured: adversary.py replays the key schedule from one party's state "
            "stolen after message t, holding every ECDH private key of the run; exposure is "
            "the messages after t it reads, mean over the points and both parties",
        },
        "cells": [asdict(c) for c in cells],
        "cpu_us_per_rekey": cpu,
    }
