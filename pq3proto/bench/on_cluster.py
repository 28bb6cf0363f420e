"""Running a workload on cluster workers; the engine itself is pq3proto/cluster.py.

Owns: what one cluster worker runs (its own conversations, the warm-up, a floor round after
each repetition) and the summary of a cluster run: the aggregate over the common window and
each worker's machine, rate and floor.
Not: connecting, the barrier or failure handling (cluster.py), the statistics shared with a
local run (runs.py), the loops (workloads.py).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from .. import cluster
from ..benchmarks_support import rate_stats, selected_path
from ..progress import Progress
from .floors import FloorMeter
from .runs import summarise
from .spec import BenchSpec, Rep, no_tick
from .workloads import make_runner


class ClusterJob:
    """One cluster worker's workload: built and warmed up untimed, one repetition per step."""

    def __init__(self, spec: BenchSpec, floor_messages: int, index: int) -> None:
        self._stack = ExitStack()
        self._stack.enter_context(selected_path(spec.path))
        self.spec = replace(spec, seed=spec.seed + index)
        self.runner = make_runner(self.spec)
        self.floor = FloorMeter(self.spec, floor_messages) if floor_messages > 0 else None
        self.reps: list[Rep] = []
        if spec.warmup:
            self.runner.run(spec.warmup, no_tick)

    def step(self) -> Rep:
        rep = self.runner.run(self.spec.messages, no_tick)
        self.reps.append(rep)
        return rep

    def between(self) -> None:
        """A round of this worker's floor, outside the window, as a local run does."""
        if self.floor is not None:
            self.floor.round()

    def after(self) -> dict[str, Any]:
        """This worker's floor, at the turn and rekey rates its own repetitions showed."""
        if self.floor is None:
            return {}
        counted = sum(r.messages for r in self.reps)
        turns = sum(r.events.get("direction_changes", 0) for r in self.reps) / counted
        mixed = sum(r.events.get("pq_secrets_mixed_both_sides", 0) for r in self.reps)
        return {"floor": self.floor.summary(turns, mixed / 2 / counted)}

    def close(self) -> None:
        self._stack.close()


def cluster_job(spec: BenchSpec, floor_messages: int, index: int) -> ClusterJob:
    """The job of worker `index` (module level, so that it pickles by reference)."""
    return ClusterJob(spec, floor_messages, index)


def measure_on_cluster(
    spec: BenchSpec,
    reps: int,
    workers: int,
    show_progress: bool,
    label: str,
    engine: cluster.Engine,
    floor_messages: int = 0,
) -> dict[str, Any]:
    """Run `reps` barrier-started repetitions on the first `workers` workers of `engine`."""
    per_rep = spec.messages * (spec.recipients if spec.workload == "fanout" else 1)
    progress = Progress(reps * per_rep * workers, label, show_progress)
    try:
        runs = engine.run_synchronised(
            partial(cluster_job, spec, floor_messages),
            workers,
            reps,
            lambda r: progress.set(r * per_rep * workers),
        )
    finally:
        progress.close()
    return summarise_cluster(spec, runs)


def summarise_cluster(spec: BenchSpec, runs: list[cluster.WorkerRun[Rep]]) -> dict[str, Any]:
    """summarise(), with the aggregate over the common window and every worker's figures."""
    out = summarise(spec, [w.reps for w in runs], len(runs))
    windows = cluster.common_windows(runs)
    totals = out["messages_per_repetition"]
    out["timed_messages_per_second"] = out["messages_per_second"]
    out["messages_per_second"] = rate_stats([m / w for m, w in zip(totals, windows, strict=True)])
    out["common_window_seconds_per_repetition"] = windows
    out["barrier_start_spread_seconds"] = cluster.start_spreads(runs)
    out["per_worker"] = [_worker_doc(w) for w in runs]
    if "floor" in runs[0].after:
        out["floor"] = runs[0].after["floor"]
    return out


def _worker_doc(w: cluster.WorkerRun[Rep]) -> dict[str, Any]:
    spans = zip(w.reps, w.starts, w.ends, strict=True)
    floor = w.after.get("floor")
    return {
        "index": w.index,
        "address": w.address,
        **w.machine,
        "messages_per_second": float(np.median([r.messages / r.elapsed_s for r in w.reps])),
        "window_messages_per_second": float(np.median([r.messages / (e - s) for r, s, e in spans])),
        "floor_messages_per_second": None if floor is None else floor["messages_per_second"],
    }
