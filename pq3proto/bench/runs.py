"""Running a workload in this process, and the statistics of any run.

Owns: repetitions, aggregation over workers and repetitions (the slowest worker's time), the
time split of conversations.
Not: the loops themselves (workloads.py), the floors (floors.py), or runs on several workers
(on_cluster.py, on the engine in cluster.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..benchmarks_support import latency_stats, rate_stats, selected_path
from ..errors import MisuseError
from ..progress import Progress
from .spec import BenchSpec, Rep, no_tick
from .workloads import make_runner


def _run_local(
    spec: BenchSpec, reps: int, progress: Progress, between: Callable[[], None] | None
) -> list[list[Rep]]:
    with selected_path(spec.path):
        runner = make_runner(spec)
        if spec.warmup:
            runner.run(spec.warmup, no_tick)
        out = []
        for _ in range(reps):
            out.append(runner.run(spec.messages, progress.advance))
            if between is not None:
                between()
        return [out]


def measure(
    spec: BenchSpec,
    reps: int,
    workers: int,
    show_progress: bool,
    label: str,
    between: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run `reps` repetitions in this process; aggregate and summarise them."""
    if workers != 1:
        raise MisuseError("more than one worker runs on a cluster (bench.on_cluster)")
    total = reps * spec.messages
    if spec.workload == "fanout":
        total *= spec.recipients
    progress = Progress(total, label, show_progress)
    try:
        per_worker = _run_local(spec, reps, progress, between)
    finally:
        progress.close()
    return summarise(spec, per_worker, workers)


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

