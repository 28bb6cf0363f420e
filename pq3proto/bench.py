"""The `pq3proto bench` command: messages per second that say exactly what they count.

Owns: the workloads (symmetric, full, pingpong, fanout), their timing loops, the ECDSA floor
of the full workload, what each cluster worker runs (the engine is cluster.py), the --compare
run on the Python path, the human summary, and the JSON result (schema "pq3proto-bench/1",
described in benchmarks/README.md).
Not: per-operation micro-benchmarks (benchmarks/, pytest-benchmark), protocol code, or the
C path: everything runs through Session and the HotPath interface the session would use.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import numpy as np

from . import cluster
from .benchmarks_support import (
    check_path,
    cpu_idle_fraction,
    latency_stats,
    load_average,
    machine_info,
    make_pair,
    make_pair_between,
    one_way_chain,
    rate_stats,
    resolve_path,
    revision_info,
    selected_path,
)
from .errors import MisuseError, PQ3Error
from .identity import Device
from .message import hot_path
from .policy import RekeyPolicy
from .primitives import P256PrivateKey, Verifier
from .progress import Progress
from .session import Session, SessionStats
from .wire import parse_message, signature_body

__all__ = ["SCHEMA", "WORKLOADS", "BenchSpec", "add_parser", "run_bench"]

SCHEMA = "pq3proto-bench/1"
WORKLOADS = ("symmetric", "full", "pingpong", "fanout")
DEFAULT_MESSAGES = {"symmetric": 200_000, "full": 10_000, "pingpong": 4_000, "fanout": 2_000}
_PAYLOAD_POOL = 64  # distinct payloads cycled through by every workload
_TICK = 256  # messages between progress updates in the per-message loops

Tick = Callable[[int], None]


def _no_tick(_: int) -> None:
    return None


# ── What one run is ────────────────────────────────────────────────────────────────────


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
        parse = (
            "wire parsing (parse_message) included"
            if spec.include_parse
            else "wire parsing excluded from the timed work (timed separately: "
            "results.parse_us_per_message)"
        )
        return (
            f"one message = seal by the sender + open by the receiver, {p}, signatures off "
            f"(signer=None, verifier=None): HotPath.seal_batch/open_batch in batches of "
            f"{spec.batch} on one chain of a real session; both sides' work in the same "
            f"process, a message counted once, when the receiver has opened it; {parse}; "
            "session start excluded"
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


def _payloads(size: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(_PAYLOAD_POOL)]


def _stats_delta(after: SessionStats, before: SessionStats) -> dict[str, int]:
    a, b = asdict(after), asdict(before)
    return {k: int(a[k] - b[k]) for k in a}


def _mismatch() -> PQ3Error:
    return PQ3Error("benchmark: an opened message differs from what was sent")


# ── Workloads ──────────────────────────────────────────────────────────────────────────


class SymmetricRunner:
    """A steady one-way stream on one chain through HotPath batches, signatures off."""

    def __init__(self, spec: BenchSpec) -> None:
        self.spec = spec
        self.hot = hot_path()
        check_path(self.hot, spec.path)
        alice, bob = make_pair(RekeyPolicy.parse(spec.policy))
        ow = one_way_chain(bob, alice)  # bob replied last: his chain is live, alice in step
        self.chain = ow.chain
        self.tail = ow.tail
        self.send_key = ow.send_key
        self.receive_key = ow.receive_key
        self.index = ow.next_index
        pool = _payloads(spec.payload, spec.seed)
        self.batch = [pool[i % _PAYLOAD_POOL] for i in range(spec.batch)]

    def run(self, n: int, tick: Tick) -> Rep:
        seal, open_batch = self.hot.seal_batch, self.hot.open_batch
        chain, tail = self.chain, self.tail
        include_parse = self.spec.include_parse
        ck_s, ck_r, index = self.send_key, self.receive_key, self.index
        clock = time.perf_counter_ns
        lat: list[int] = []
        timed = parse_ns = 0
        done = 0
        c0, w0 = time.process_time(), clock()
        while done < n:
            k = min(len(self.batch), n - done)
            pts = self.batch if k == len(self.batch) else self.batch[:k]
            t0 = clock()
            wires, ck_s = seal(ck_s, index, chain, b"", pts, None)
            t1 = clock()
            msgs = [parse_message(w) for w in wires]
            t2 = clock()
            out, ck_r = open_batch(ck_r, msgs, tail, None)
            t3 = clock()
            if out != pts:
                raise _mismatch()
            work = (t1 - t0) + (t3 - t2) + ((t2 - t1) if include_parse else 0)
            lat.append(work // k)
            timed += work
            parse_ns += t2 - t1
            index += k
            done += k
            tick(k)
        wall = clock() - w0
        cpu = time.process_time() - c0
        self.send_key, self.receive_key, self.index = ck_s, ck_r, index
        return Rep(
            messages=done,
            elapsed_s=timed / 1e9,
            wall_s=wall / 1e9,
            cpu_s=cpu,
            latencies_ns=lat,
            extra={"parse_s": parse_ns / 1e9},
        )


class ConversationRunner:
    """Two sessions talking through Session.encrypt/decrypt; turns at a given rate."""

    def __init__(self, spec: BenchSpec) -> None:
        self.spec = spec
        alice, bob = make_pair(RekeyPolicy.parse(spec.policy))
        check_path(hot_path(), spec.path)
        self.a, self.b = alice, bob
        self.sender, self.receiver = bob, alice  # bob replied last
        self.rng = random.Random(spec.seed)
        self.pool = _payloads(spec.payload, spec.seed)

    def run(self, n: int, tick: Tick) -> Rep:
        rate = self.spec.effective_turn_rate()
        rnd = self.rng.random
        turns = [rate >= 1.0 or rnd() < rate for _ in range(n)]
        s, r = self.sender, self.receiver
        before_a, before_b = self.a.stats, self.b.stats
        pool = self.pool
        clock = time.perf_counter_ns
        lat = [0] * n
        n_turns = 0
        c0, w0 = time.process_time(), clock()
        for i in range(n):
            if turns[i]:
                s, r = r, s
                n_turns += 1
            pt = pool[i % _PAYLOAD_POOL]
            t0 = clock()
            out = r.decrypt(s.encrypt(pt))
            t1 = clock()
            if out != pt:
                raise _mismatch()
            lat[i] = t1 - t0
            if i % _TICK == _TICK - 1:
                tick(_TICK)
        wall = clock() - w0
        cpu = time.process_time() - c0
        tick(n % _TICK)
        self.sender, self.receiver = s, r
        da = _stats_delta(self.a.stats, before_a)
        db = _stats_delta(self.b.stats, before_b)
        events = {
            "direction_changes": n_turns,
            "ecdh_steps_both_sides": da["ecdh_ratchets"] + db["ecdh_ratchets"],
            "pq_secrets_mixed_both_sides": da["pq_rekeys"] + db["pq_rekeys"],
            "wire_bytes": da["wire_bytes"] + db["wire_bytes"],
            "plaintext_bytes": da["plaintext_bytes"] + db["plaintext_bytes"],
        }
        turn_ns = sum(x for x, t in zip(lat, turns, strict=True) if t)
        extra = {"turn_s": turn_ns / 1e9, "steady_s": (sum(lat) - turn_ns) / 1e9}
        return Rep(n, sum(lat) / 1e9, wall / 1e9, cpu, lat, events, extra)


class FanoutRunner:
    """One sender device, N recipient devices, each user message sealed N times."""

    def __init__(self, spec: BenchSpec) -> None:
        self.spec = spec
        policy = RekeyPolicy.parse(spec.policy)
        sender = Device.generate("tel:+15551234567", device_id=7)
        self.pairs: list[tuple[Session, Session]] = []
        for i in range(spec.recipients):
            rcpt = Device.generate(f"mailto:recipient{i}@example.org", device_id=100 + i)
            self.pairs.append(make_pair_between(sender, rcpt, policy))
        check_path(hot_path(), spec.path)
        self.pool = _payloads(spec.payload, spec.seed)

    def run(self, n: int, tick: Tick) -> Rep:
        pairs, pool = self.pairs, self.pool
        before = [(a.stats, b.stats) for a, b in pairs]
        clock = time.perf_counter_ns
        lat = [0] * n
        c0, w0 = time.process_time(), clock()
        for i in range(n):
            pt = pool[i % _PAYLOAD_POOL]
            t0 = clock()
            for s, r in pairs:
                if r.decrypt(s.encrypt(pt)) != pt:
                    raise _mismatch()
            lat[i] = clock() - t0
            if i % _TICK == _TICK - 1:
                tick(_TICK * len(pairs))
        wall = clock() - w0
        cpu = time.process_time() - c0
        tick((n % _TICK) * len(pairs))
        ecdh = wire = 0
        for (a, b), (ba, bb) in zip(pairs, before, strict=True):
            da, db = _stats_delta(a.stats, ba), _stats_delta(b.stats, bb)
            ecdh += da["ecdh_ratchets"] + db["ecdh_ratchets"]
            wire += da["wire_bytes"]
        deliveries = n * len(pairs)
        # One sample per user message: all N deliveries of it.
        return Rep(
            deliveries,
            sum(lat) / 1e9,
            wall / 1e9,
            cpu,
            lat,
            {"user_messages": n, "ecdh_steps_both_sides": ecdh, "wire_bytes": wire},
        )


def make_runner(spec: BenchSpec) -> Runner:
    """Build (and set up, untimed) the runner of a workload on the current path."""
    if spec.workload == "symmetric":
        return SymmetricRunner(spec)
    if spec.workload in ("full", "pingpong"):
        return ConversationRunner(spec)
    if spec.workload == "fanout":
        return FanoutRunner(spec)
    raise MisuseError(f"unknown workload {spec.workload!r}: one of {', '.join(WORKLOADS)}")


# ── Running: in this process, or on N cluster workers ────────────────────────────────────


def _run_local(
    spec: BenchSpec, reps: int, progress: Progress, between: Callable[[], None] | None
) -> list[list[Rep]]:
    with selected_path(spec.path):
        runner = make_runner(spec)
        if spec.warmup:
            runner.run(spec.warmup, _no_tick)
        out = []
        for _ in range(reps):
            out.append(runner.run(spec.messages, progress.advance))
            if between is not None:
                between()
        return [out]


class _ClusterJob:
    """One cluster worker's workload: built and warmed up untimed, one repetition per step."""

    def __init__(self, spec: BenchSpec, floor_messages: int, index: int) -> None:
        self._stack = ExitStack()
        self._stack.enter_context(selected_path(spec.path))
        self.spec = replace(spec, seed=spec.seed + index)
        self.runner = make_runner(self.spec)
        self.floor: FloorMeter | None = None
        if spec.workload in ("full", "pingpong") and floor_messages > 0:
            self.floor = FloorMeter(self.spec, floor_messages)
        if spec.warmup:
            self.runner.run(spec.warmup, _no_tick)

    def step(self) -> Rep:
        return self.runner.run(self.spec.messages, _no_tick)

    def between(self) -> None:
        """A round of this worker's floor, outside the window, as a local run does."""
        if self.floor is not None:
            self.floor.round()

    def after(self) -> dict[str, Any]:
        return {} if self.floor is None else {"floor": self.floor.summary()}

    def close(self) -> None:
        self._stack.close()


def _cluster_job(spec: BenchSpec, floor_messages: int, index: int) -> _ClusterJob:
    return _ClusterJob(spec, floor_messages, index)


def measure(
    spec: BenchSpec,
    reps: int,
    workers: int,
    show_progress: bool,
    label: str,
    between: Callable[[], None] | None = None,
    engine: cluster.Engine | None = None,
    floor_messages: int = 0,
) -> dict[str, Any]:
    """Run `reps` repetitions in this process, or on `workers` workers of `engine`."""
    per_rep = spec.messages * (spec.recipients if spec.workload == "fanout" else 1)
    progress = Progress(reps * per_rep * workers, label, show_progress)
    if engine is None and workers != 1:
        raise MisuseError("more than one worker runs on a cluster engine (cluster.connect)")
    try:
        if engine is None:
            return summarise(spec, _run_local(spec, reps, progress, between), 1)
        runs = engine.run_synchronised(
            partial(_cluster_job, spec, floor_messages),
            workers,
            reps,
            lambda r: progress.set(r * per_rep * workers),
        )
    finally:
        progress.close()
    return _summarise_cluster(spec, runs)


def _summarise_cluster(spec: BenchSpec, runs: list[cluster.WorkerRun[Rep]]) -> dict[str, Any]:
    """summarise(), with the aggregate over the common window and every worker's figures."""
    out = summarise(spec, [w.reps for w in runs], len(runs))
    windows = cluster.common_windows(runs)
    totals = out["messages_per_repetition"]
    out["timed_messages_per_second"] = out["messages_per_second"]
    out["messages_per_second"] = rate_stats([m / w for m, w in zip(totals, windows, strict=True)])
    out["common_window_seconds_per_repetition"] = windows
    out["barrier_start_spread_seconds"] = cluster.start_spreads(runs)
    out["per_worker"] = [
        {
            "index": w.index,
            "address": w.address,
            **w.machine,
            "messages_per_second": float(np.median([r.messages / r.elapsed_s for r in w.reps])),
            "window_messages_per_second": float(
                np.median([r.messages / (e - s) for r, s, e in zip(w.reps, w.starts, w.ends,
                                                                     strict=True)])
            ),
            "floor_messages_per_second": w.after["floor"]["messages_per_second"]
            if "floor" in w.after
            else None,
        }
        for w in runs
    ]
    if "floor" in runs[0].after:
        out["floor"] = runs[0].after["floor"]
    return out


def summarise(spec: BenchSpec, per_worker: list[list[Rep]], workers: int) -> dict[str, Any]:
    """Per repetition: sum of messages over the slowest worker's time; then statistics."""
    reps = len(per_worker[0])
    rates, wall_rates, msgs_per_rep, elapsed = [], [], [], []
    for i in range(reps):
        row = [w[i] for w in per_worker]
        msgs = sum(r.messages for r in row)
        slowest = max(r.elapsed_s for r in row)
        msgs_per_rep.append(msgs)
        elapsed.append(slowest)
        rates.append(msgs / slowest)
        wall_rates.append(msgs / max(r.wall_s for r in row))
    every = [r for w in per_worker for r in w]
    lat = np.concatenate([np.asarray(r.latencies_ns, dtype=np.int64) for r in every])
    cpu = sum(r.cpu_s for r in every) / sum(r.wall_s for r in every)
    if spec.workload == "symmetric":
        basis = f"timed work of one batch of {spec.batch} (seal + open) divided by its size"
    elif spec.workload == "fanout":
        basis = f"one user message: its {spec.recipients} deliveries, encrypt + decrypt each"
    else:
        basis = "one message: Session.encrypt + Session.decrypt"
    events: dict[str, int] = {}
    for r in every:
        for k, v in r.events.items():
            events[k] = events.get(k, 0) + v
    out: dict[str, Any] = {
        "messages_per_second": rate_stats(rates),
        "wall_messages_per_second": rate_stats(wall_rates),
        "messages_per_repetition": msgs_per_rep,
        "timed_seconds_per_repetition": elapsed,
        "latency": latency_stats(lat, basis),
        "cpu_seconds_per_wall_second_per_worker": cpu,
        "per_worker_median_messages_per_second": [
            float(np.median([r.messages / r.elapsed_s for r in w])) for w in per_worker
        ],
        "events": events,
        "workers": workers,
        "repetitions": reps,
    }
    total_msgs = sum(r.messages for r in every)
    if spec.workload == "symmetric":
        parse_s = sum(r.extra.get("parse_s", 0.0) for r in every)
        out["parse_us_per_message"] = parse_s / total_msgs * 1e6
    if spec.workload in ("full", "pingpong"):
        out["time_split"] = _time_split(every, events)
    if spec.workload == "fanout":
        out["user_messages_per_second"] = rate_stats([x / spec.recipients for x in rates])
    if events.get("wire_bytes"):
        denom = events.get("user_messages", 0) * spec.recipients or total_msgs
        out["wire_bytes_per_message"] = events["wire_bytes"] / denom
    return out


def _time_split(every: list[Rep], events: dict[str, int]) -> dict[str, Any]:
    """Where the timed work went: messages that changed direction vs steady ones."""
    turns = events.get("direction_changes", 0)
    steady = sum(r.messages for r in every) - turns
    turn_s = sum(r.extra.get("turn_s", 0.0) for r in every)
    steady_s = sum(r.extra.get("steady_s", 0.0) for r in every)
    total = turn_s + steady_s
    return {
        "turn_messages": turns,
        "turn_mean_us": turn_s / turns * 1e6 if turns else None,
        "turn_share_of_time": turn_s / total if total else None,
        "steady_messages": steady,
        "steady_mean_us": steady_s / steady * 1e6 if steady else None,
        "note": "a turn message is the first after a direction change: it carries the "
        "ECDH step of both sides and any rekey request, answer or completion",
    }


# ── The ECDSA floor of the full workload ───────────────────────────────────────────────


class FloorMeter:
    """ECDSA P-256 sign + verify alone, on this machine, through the path of the run.

    native: the C signer and verifier, isolated by difference inside the same C calls
    (seal_batch signed - unsigned; open_batch verified - unverified, equal messages), so
    SHA-256 of the signed body is included and the wrapper overhead is not. python:
    cryptography directly (P256PrivateKey.sign / Verifier.verify on a message's signed body).
    Build it with the run's path selected; call round() between repetitions of the workload,
    so that both see the same machine conditions.
    """

    def __init__(self, spec: BenchSpec, messages: int) -> None:
        self.path = spec.path
        self.hot = hot_path()
        check_path(self.hot, spec.path)
        alice, bob = make_pair(RekeyPolicy.never())
        self.ow = ow = one_way_chain(bob, alice)
        self.key = key = P256PrivateKey.generate()
        self.signer, self.verifier = self.hot.signer(key), self.hot.verifier(key.public)
        self.pts = _payloads(spec.payload, spec.seed)
        self.n_batches = max(1, messages // len(self.pts))
        self.n = self.n_batches * len(self.pts)
        wires, _ = self.hot.seal_batch(
            ow.send_key, ow.next_index, ow.chain, b"", self.pts, self.signer
        )
        self.msgs = [parse_message(w) for w in wires]
        m = self.msgs[0]
        self.body = signature_body(
            m.ciphertext, m.auth_data, m.indicator, m.header.ecdh_public_key, m.index, ow.tail
        )
        self.py_verifier = Verifier(key.public)
        self.sig = key.sign(self.body)
        self.sign_us: list[float] = []
        self.verify_us: list[float] = []
        # P-256 keygen and ECDH: the ECDH step's floor (pingpong), through the protocol's
        # own calls (the same on both paths).
        self.peer_point = P256PrivateKey.generate().public
        self.n_ecdh = max(8, self.n // 4)
        self.keygen_us: list[float] = []
        self.ecdh_us: list[float] = []
        self.cpu_s = self.wall_s = 0.0

    def round(self) -> None:
        """One timed round of n signatures and n verifications."""
        c0, w0 = time.process_time(), time.perf_counter()
        if self.path == "native":
            self._native_round()
        else:
            self._python_round()
        self._ecdh_round()
        self.cpu_s += time.process_time() - c0
        self.wall_s += time.perf_counter() - w0

    def _native_round(self) -> None:
        hot, ow, pts, msgs = self.hot, self.ow, self.pts, self.msgs
        ck, idx, chain, tail = ow.send_key, ow.next_index, ow.chain, ow.tail
        clock = time.perf_counter_ns
        t = [0, 0, 0, 0]
        for _ in range(self.n_batches):
            t0 = clock()
            hot.seal_batch(ck, idx, chain, b"", pts, None)
            t1 = clock()
            hot.seal_batch(ck, idx, chain, b"", pts, self.signer)
            t2 = clock()
            hot.open_batch(ck, msgs, tail, None)
            t3 = clock()
            hot.open_batch(ck, msgs, tail, self.verifier)
            t4 = clock()
            t[0] += t1 - t0
            t[1] += t2 - t1
            t[2] += t3 - t2
            t[3] += t4 - t3
        self.sign_us.append((t[1] - t[0]) / self.n / 1000)
        self.verify_us.append((t[3] - t[2]) / self.n / 1000)

    def _python_round(self) -> None:
        key, body, sig, verifier, n = self.key, self.body, self.sig, self.py_verifier, self.n
        clock = time.perf_counter_ns
        t0 = clock()
        for _ in range(n):
            key.sign(body)
        t1 = clock()
        for _ in range(n):
            verifier.verify(body, sig)
        t2 = clock()
        self.sign_us.append((t1 - t0) / n / 1000)
        self.verify_us.append((t2 - t1) / n / 1000)

    def _ecdh_round(self) -> None:
        clock, n, point = time.perf_counter_ns, self.n_ecdh, self.peer_point
        t0 = clock()
        keys = [P256PrivateKey.generate() for _ in range(n)]
        t1 = clock()
        for k in keys:
            k.exchange(point)
        t2 = clock()
        self.keygen_us.append((t1 - t0) / n / 1000)
        self.ecdh_us.append((t2 - t1) / n / 1000)

    def summary(self) -> dict[str, Any]:
        """Medians over rounds; the rate one core allows for sign + verify alone."""
        if self.path == "native":
            method = (
                "C signer/verifier by difference: seal_batch(signer) - seal_batch(None) and "
                "open_batch(verifier) - open_batch(None), batches of 64, same messages"
            )
        else:
            method = (
                "cryptography directly: P256PrivateKey.sign + Verifier.verify (raw low-S "
                f"encoding included) over one message's signed body ({len(self.body)} bytes)"
            )
        s, v = float(np.median(self.sign_us)), float(np.median(self.verify_us))
        g, e = float(np.median(self.keygen_us)), float(np.median(self.ecdh_us))
        return {
            "method": method,
            "messages_per_round": self.n,
            "rounds": len(self.sign_us),
            "schedule": "one round after each repetition of the single-worker workload run",
            "sign_us": s,
            "verify_us": v,
            "sign_us_per_round": self.sign_us,
            "verify_us_per_round": self.verify_us,
            "cpu_seconds_per_wall_second": self.cpu_s / self.wall_s if self.wall_s else None,
            "messages_per_second": 1e6 / (s + v),
            "counts": "one message = one ECDSA P-256 sign + one verify, on one core",
            "keygen_us": g,
            "ecdh_us": e,
            "ecdh_method": "P256PrivateKey.generate() and .exchange(point) (cryptography), "
            "including point validation; the same on both paths",
            "turn_messages_per_second": 1e6 / (s + v + g + 2 * e),
            "turn_counts": "one message with a direction change = sign + verify + one P-256 "
            "keygen + two ECDH (sender and receiver), on one core: the pingpong floor",
        }


# ── The command ────────────────────────────────────────────────────────────────────────


def _spec_from_args(args: argparse.Namespace, path: str) -> BenchSpec:
    if args.workload not in WORKLOADS:
        raise MisuseError(f"unknown workload {args.workload!r}")
    messages = args.messages if args.messages is not None else DEFAULT_MESSAGES[args.workload]
    if messages < 1 or args.repeat < 1 or args.workers < 1 or args.recipients < 1:
        raise MisuseError("--messages, --repeat, --workers and --recipients must be >= 1")
    if not 0.0 <= args.turn_rate <= 1.0:
        raise MisuseError("--turn-rate must be a probability in [0, 1]")
    if args.payload < 0 or args.batch < 1:
        raise MisuseError("--payload must be >= 0 and --batch >= 1")
    RekeyPolicy.parse(args.policy)  # fail early on a bad policy
    warmup = args.warmup if args.warmup is not None else min(messages, 2_000)
    return BenchSpec(
        workload=args.workload,
        path=path,
        messages=messages,
        payload=args.payload,
        policy=args.policy,
        turn_rate=args.turn_rate,
        recipients=args.recipients,
        batch=args.batch,
        include_parse=args.include_parse,
        seed=args.seed,
        warmup=warmup,
    )


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run what the arguments ask and return the JSON-ready result."""
    path = resolve_path(args.path)
    spec = _spec_from_args(args, path)
    address = cluster.bench_address(args.workers, getattr(args, "cluster", None))
    opened: AbstractContextManager[cluster.Engine | None] = (
        nullcontext(None) if address is None else cluster.connect(address)
    )
    with opened as engine:
        return _run_bench(args, spec, engine)


def _run_bench(
    args: argparse.Namespace, spec: BenchSpec, engine: cluster.Engine | None
) -> dict[str, Any]:
    path = spec.path
    workers = 1 if engine is None else len(engine.workers)
    show = _progress_enabled(args)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_before = load_average()
    idle_before = cpu_idle_fraction(args.idle_sample) if args.idle_sample > 0 else None
    floor: FloorMeter | None = None
    if engine is None and spec.workload in ("full", "pingpong"):
        with selected_path(path):
            floor = FloorMeter(spec, args.floor_messages)
    # On a cluster each worker measures its own floor after its repetitions.
    between = floor.round if floor is not None else None
    fm = args.floor_messages
    results = measure(spec, args.repeat, workers, show, f"{path} x{workers}", between, engine, fm)
    if workers > 1:
        label = f"{path} x1 (baseline)"
        single = measure(spec, args.repeat, 1, show, label, None, engine, fm)
        results["single_worker"] = single
        results["scaling_efficiency"] = results["messages_per_second"]["median"] / (
            workers * single["messages_per_second"]["median"]
        )
        one_core = single["messages_per_second"]["median"]
        if "floor" in single:
            results["floor"] = single["floor"]
    else:
        one_core = results["messages_per_second"]["median"]
    if floor is not None:
        with selected_path(path):
            results["floor"] = floor.summary()
    if "floor" in results:
        floor_doc = results["floor"]
        if spec.workload == "full":
            results["full_over_floor"] = one_core / floor_doc["messages_per_second"]
        else:
            results["pingpong_over_floor"] = one_core / floor_doc["turn_messages_per_second"]
    if spec.workload == "full":
        results["cores_for_target"] = _cores_for_target(one_core, results)
    if args.compare:
        rate = results["messages_per_second"]["median"]
        results["compare"] = _compare(args, spec, show, rate, engine, workers)
    load_after = load_average()
    params = asdict(spec)
    params.update(
        repeat=args.repeat,
        workers=workers,
        cluster=None if engine is None else str(engine.address),
        path_requested=args.path,
        turn_rate_effective=spec.effective_turn_rate(),
        compare=args.compare,
        compare_messages=_compare_messages(args, spec) if args.compare else None,
        floor_messages=args.floor_messages if spec.workload in ("full", "pingpong") else None,
    )
    return {
        "schema": SCHEMA,
        "workload": spec.workload,
        "path": path,
        "workers": workers,
        "messages_per_second": results["messages_per_second"]["median"],
        "counts": describe_counts(spec),
        "aggregation": _AGGREGATION_LOCAL if engine is None else _AGGREGATION_CLUSTER,
        "machine": machine_info(),
        "cluster": None if engine is None else engine.describe(),
        "revision": revision_info(),
        "started_at": started,
        "load_average": {"before": load_before, "after": load_after},
        "cpu_idle_before": idle_before,
        "parameters": params,
        "results": results,
    }


_AGGREGATION_LOCAL = "one worker in this process; statistics over repetitions"
_AGGREGATION_CLUSTER = (
    "per repetition: all workers' counted messages / the common window (the earliest "
    "worker's start to the latest worker's end, workers released together by a barrier); "
    "statistics over repetitions. results.timed_messages_per_second: the same messages over "
    "the slowest worker's timed protocol work only"
)


def _cores_for_target(one_core: float, results: dict[str, Any]) -> dict[str, Any]:
    target = cluster.SERVICE_TARGET_MESSAGES_PER_SECOND
    out: dict[str, Any] = {
        "target_messages_per_second": target,
        "per_core_messages_per_second": one_core,
        "cores": cluster.cores_needed(one_core, target),
        "basis": "the single-worker rate of this run (one worker process on one core), "
        "scaled perfectly",
    }
    if "scaling_efficiency" in results:
        eff = results["scaling_efficiency"]
        out["cores_at_measured_efficiency"] = cluster.cores_needed(one_core * eff, target)
    return out


def _compare_messages(args: argparse.Namespace, spec: BenchSpec) -> int:
    if args.compare_messages is not None:
        return int(args.compare_messages)
    return max(min(spec.messages, 1_000), spec.messages // 10)


def _compare(
    args: argparse.Namespace,
    spec: BenchSpec,
    show: bool,
    rate: float,
    engine: cluster.Engine | None,
    workers: int,
) -> dict[str, Any]:
    """The same workload on the Python path, same workers, in the same run."""
    if spec.path == "python":
        return {"note": "the run's own path is python: nothing to compare against"}
    py_spec = replace(
        spec,
        path="python",
        messages=_compare_messages(args, spec),
        warmup=min(spec.warmup, _compare_messages(args, spec)),
    )
    py = measure(py_spec, args.repeat, workers, show, f"python x{workers}", None, engine)
    return {
        "python": py,
        "python_messages": py_spec.messages,
        "native_over_python": rate / py["messages_per_second"]["median"],
    }


def _progress_enabled(args: argparse.Namespace) -> bool:
    if args.progress == "on":
        return True
    if args.progress == "off":
        return False
    return sys.stderr.isatty()


def _fmt_rate(stats: dict[str, Any]) -> str:
    return (
        f"{stats['median']:>11,.0f}  (min {stats['min']:,.0f}, max {stats['max']:,.0f}, "
        f"stdev {stats['stdev']:,.0f}, {len(stats['repetitions'])} reps)"
    )


def format_summary(doc: dict[str, Any]) -> str:
    """The human summary of a result document."""
    r = doc["results"]
    p = doc["parameters"]
    m = doc["machine"]
    lines = [
        f"pq3proto bench: workload {doc['workload']}, path {doc['path']}, "
        f"{doc['workers']} worker(s), {p['repeat']} repetition(s) of {p['messages']:,} "
        f"{'user messages' if doc['workload'] == 'fanout' else 'messages'} per worker",
        f"  counts      {doc['counts']}",
        f"  machine     {m['cpu_model']}, {m['cores_usable']} usable cores, Python "
        f"{m['python']}, libcrypto {m['openssl_system_libcrypto']['version']}, "
        f"cryptography {m['cryptography']} ({m['openssl_cryptography_wheel']})",
        f"  load        idle {doc['cpu_idle_before']} of all CPUs just before; load avg "
        f"before {doc['load_average']['before']}, "
        f"after {doc['load_average']['after']}; CPU/wall per worker "
        f"{r['cpu_seconds_per_wall_second_per_worker']:.2f}",
        f"  msgs/s      {_fmt_rate(r['messages_per_second'])}",
    ]
    lat = r["latency"]
    if lat.get("samples"):
        lines.append(
            f"  latency     p50 {lat['p50_us']:.2f} us, p90 {lat['p90_us']:.2f} us, "
            f"p99 {lat['p99_us']:.2f} us ({lat['basis']})"
        )
    if "parse_us_per_message" in r:
        lines.append(
            f"  parsing     {r['parse_us_per_message']:.2f} us/message (not counted)"
            if not p["include_parse"]
            else f"  parsing     {r['parse_us_per_message']:.2f} us/message (counted)"
        )
    if "time_split" in r:
        t = r["time_split"]
        if t["turn_messages"] and t["steady_messages"]:
            lines.append(
                f"  time split  steady {t['steady_mean_us']:.1f} us/msg x {t['steady_messages']:,}"
                f"; turn {t['turn_mean_us']:.1f} us/msg x {t['turn_messages']:,} "
                f"({t['turn_share_of_time'] * 100:.0f}% of the time)"
            )
    if "user_messages_per_second" in r:
        lines.append(f"  user msgs/s {_fmt_rate(r['user_messages_per_second'])}")
    if r["events"]:
        ev = ", ".join(f"{k} {v:,}" for k, v in r["events"].items())
        lines.append(f"  events      {ev} (all repetitions and workers)")
    if "single_worker" in r:
        lines.append(f"  1 worker    {_fmt_rate(r['single_worker']['messages_per_second'])}")
        lines.append(
            f"  scaling     {r['scaling_efficiency']:.2f} = aggregate / "
            f"({doc['workers']} x single-worker rate, same run)"
        )
    if "per_worker" in r:
        for w in r["per_worker"]:
            fl = w["floor_messages_per_second"]
            lines.append(
                f"  worker {w['index']:<4}{w['messages_per_second']:>11,.0f}  on {w['host']} "
                f"({w['cpu_model']}, {w['cores_usable']} cores)"
                + (f", floor {fl:,.0f}" if fl is not None else "")
            )
    if "cores_for_target" in r:
        c = r["cores_for_target"]
        extra = (
            f" ({c['cores_at_measured_efficiency']:,} at the measured scaling)"
            if "cores_at_measured_efficiency" in c
            else ""
        )
        lines.append(
            f"  cores       {c['cores']:,} for {c['target_messages_per_second']:,} msgs/s at "
            f"{c['per_core_messages_per_second']:,.0f} msgs/s per core{extra}"
        )
    if "floor" in r:
        f = r["floor"]
        lines.append(
            f"  floor       {f['messages_per_second']:,.0f} msgs/s = ECDSA P-256 sign "
            f"{f['sign_us']:.2f} us + verify {f['verify_us']:.2f} us alone, {doc['path']} path"
        )
        if "full_over_floor" in r:
            lines.append(f"  full/floor  {r['full_over_floor']:.3f} (single worker)")
        else:
            lines.append(
                f"  turn floor  {f['turn_messages_per_second']:,.0f} msgs/s = sign + verify + "
                f"keygen {f['keygen_us']:.1f} us + 2 x ECDH {f['ecdh_us']:.1f} us"
            )
            lines.append(f"  pingpong/floor {r['pingpong_over_floor']:.3f} (single worker)")
    if "compare" in r:
        c = r["compare"]
        if "python" in c:
            lines.append(
                f"  python      {_fmt_rate(c['python']['messages_per_second'])} "
                f"({c['python_messages']:,} messages per repetition)"
            )
            lines.append(f"  native/py   {c['native_over_python']:.2f}x")
        else:
            lines.append(f"  compare     {c['note']}")
    return "\n".join(lines)


def _bench_main(args: argparse.Namespace) -> int:
    doc = run_bench(args)
    print(format_summary(doc))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"  json        {args.json}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register `pq3proto bench`."""
    p = subparsers.add_parser(
        "bench",
        help="measure messages/s of a workload and say exactly what is counted",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument(
        "--workload",
        choices=WORKLOADS,
        default="symmetric",
        help="symmetric | full | pingpong | fanout (default symmetric)",
    )
    p.add_argument(
        "--messages",
        type=int,
        default=None,
        help="messages per repetition per worker (fanout: user messages); default "
        + ", ".join(f"{k} {v:,}" for k, v in DEFAULT_MESSAGES.items()),
    )
    p.add_argument("--payload", type=int, default=140, help="payload bytes (default 140)")
    p.add_argument(
        "--policy",
        default="default",
        help="rekey policy: default | never | every-turn | N | N:SECONDS",
    )
    p.add_argument(
        "--turn-rate",
        type=float,
        default=0.1,
        help="full: probability of a direction change per message (default 0.1)",
    )
    p.add_argument(
        "--recipients",
        type=int,
        default=5,
        help="fanout: recipient devices per user message (default 5)",
    )
    p.add_argument("--repeat", type=int, default=5, help="repetitions (default 5)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its own conversations (default 1); N > 1 is "
        "--cluster local:N and needs the cluster extra",
    )
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        default=None,
        help="run the workers on Dask: local:N (N local worker processes) or tcp://HOST:PORT "
        "(a running scheduler; every worker of it runs the workload)",
    )
    p.add_argument(
        "--path",
        choices=("native", "python", "auto"),
        default="auto",
        help="hot path (sets PQ3PROTO_NATIVE for the run; default auto)",
    )
    p.add_argument(
        "--compare", action="store_true", help="also run the Python path and report native/python"
    )
    p.add_argument(
        "--compare-messages",
        type=int,
        default=None,
        help="messages per repetition of the Python run (default messages/10)",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=64,
        help="symmetric: messages per seal_batch/open_batch call (default 64)",
    )
    p.add_argument(
        "--include-parse",
        action="store_true",
        help="symmetric: count the receiver's parse_message in the timed work",
    )
    p.add_argument(
        "--floor-messages",
        type=int,
        default=4096,
        help="full, pingpong: messages per round of the floor measurement",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed messages before the first repetition (default 2,000)",
    )
    p.add_argument(
        "--idle-sample",
        type=float,
        default=1.0,
        help="seconds of /proc/stat sampling before the run to record idle CPU (0: skip)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of payloads and turns")
    p.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="progress bar on stderr (auto: when stderr is a terminal)",
    )
    p.add_argument("--json", metavar="PATH", default=None, help="write the result as JSON")
    p.set_defaults(func=_bench_main)
