"""The `pq3proto bench` command: arguments, one run end to end, the JSON document.

Owns: argument parsing and validation, the order of a run (floor rounds between the
repetitions, single-worker baseline, the --compare run on the Python path) and the JSON
result (schema "pq3proto-bench/1", described in benchmarks/README.md).
Not: the loops (workloads.py), statistics (runs.py), floors (floors.py), summary (report.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from .. import cliargs as ca
from .. import cluster
from ..benchmarks_support import (
    ENV_NATIVE,
    cpu_idle_fraction,
    load_average,
    machine_info,
    resolve_kem,
    resolve_path,
    revision_info,
    selected_kem,
    selected_path,
)
from ..errors import MisuseError
from ..policy import RekeyPolicy
from ..profile import PQ3
from .compare import DEFAULT_THRESHOLD, run_compare
from .floors import FloorMeter
from .on_cluster import measure_on_cluster
from .report import format_summary
from .runs import measure
from .spec import DEFAULT_MESSAGES, SCHEMA, WORKLOADS, BenchSpec, describe_counts


def _spec_from_args(args: argparse.Namespace, path: str) -> BenchSpec:
    if args.workload not in WORKLOADS:
        raise MisuseError(f"unknown workload {args.workload!r}")
    messages = args.messages if args.messages is not None else DEFAULT_MESSAGES[args.workload]
    if messages < 1 or args.repeat < 1 or args.workers < 1 or args.recipients < 1:
        raise MisuseError("--messages, --repeat, --workers and --recipients must be >= 1")
    if args.payload < 0 or args.batch < 1:
        raise MisuseError("--payload must be >= 0 and --batch >= 1")
    RekeyPolicy.parse(args.policy)  # fail early on a bad policy
    ca.profile_from_options(args)  # a profile that cannot be built fails here, before any work
    warmup = args.warmup if args.warmup is not None else min(messages, 2_000)
    spec = BenchSpec(
        workload=args.workload,
        path=path,
        messages=messages,
        payload=args.payload,
        policy=args.policy,
        turn_rate=_turn_rate(args),
        recipients=args.recipients,
        batch=args.batch,
        include_parse=args.include_parse,
        seed=args.seed,
        warmup=warmup,
        start_kem=args.start_kem,
        rekey_kem=args.rekey_kem,
        transport=args.transport,
        chunk_size=args.chunk_size,
        chunk_expansion=args.chunk_expansion,
    )
    return spec


def _turn_rate(args: argparse.Namespace) -> float:
    """--traffic SHAPE, or the earlier --turn-rate P."""
    if args.traffic is not None:
        rate = args.traffic.turn_probability()
        assert rate is not None  # ca.turning_traffic refuses one-sided
        return float(rate)
    return float(args.turn_rate)


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run what the arguments ask and return the JSON-ready result."""
    path_env = os.environ.get(ENV_NATIVE)
    path = resolve_path(args.path)
    kem_name = resolve_kem(args.kem)
    spec = _spec_from_args(args, path)
    address = cluster.bench_address(args.workers, getattr(args, "cluster", None))
    opened: AbstractContextManager[cluster.Engine | None] = (
        nullcontext(None) if address is None else cluster.connect(address)
    )
    with selected_kem(kem_name), opened as engine:
        return _run(args, spec, path_env, kem_name, engine)


def _measure(
    spec: BenchSpec,
    args: argparse.Namespace,
    workers: int,
    label: str,
    engine: cluster.Engine | None,
    between: Callable[[], None] | None = None,
    floor_messages: int = 0,
) -> dict[str, Any]:
    """In this process (one worker), or on the cluster's first `workers` workers."""
    show = _progress_enabled(args)
    if engine is None:
        return measure(spec, args.repeat, workers, show, label, between)
    return measure_on_cluster(spec, args.repeat, workers, show, label, engine, floor_messages)


def _run(
    args: argparse.Namespace,
    spec: BenchSpec,
    path_env: str | None,
    kem_name: str,
    engine: cluster.Engine | None,
) -> dict[str, Any]:
    path = spec.path
    workers = 1 if engine is None else len(engine.workers)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_before = load_average()
    idle_before = cpu_idle_fraction(args.idle_sample) if args.idle_sample > 0 else None
    floor: FloorMeter | None = None
    if engine is None:
        with selected_path(path):
            floor = FloorMeter(spec, args.floor_messages)
    between = None if floor is None else floor.round
    fm = args.floor_messages
    results = _measure(spec, args, workers, f"{path} x{workers}", engine, between, fm)
    base = results
    if workers > 1:
        base = _measure(spec, args, 1, f"{path} x1 (baseline)", engine, None, fm)
        results["single_worker"] = base
        results["scaling_efficiency"] = results["messages_per_second"]["median"] / (
            workers * base["messages_per_second"]["median"]
        )
    # The floor ratio has one basis in local and cluster runs: the timed work of one worker
    # (a cluster run's messages_per_second is over the common window, harness included).
    timed = base.get("timed_messages_per_second", base["messages_per_second"])
    one_core = timed["median"]
    if floor is not None:
        counted = sum(base["messages_per_repetition"])
        ev = base["events"]
        turns = ev.get("direction_changes", 0) / counted
        rekeys = ev.get("pq_secrets_mixed_both_sides", 0) / 2 / counted
        floor_doc = floor.summary(turns, rekeys)
    else:
        floor_doc = base["floor"]
    results["floor"] = floor_doc
    results["over_floor"] = one_core / floor_doc["messages_per_second"]
    results["over_floor_per_repetition"] = [
        rate / fl
        for rate, fl in zip(
            timed["repetitions"],
            floor_doc["messages_per_second_per_round"],
            strict=True,
        )
    ]
    if spec.workload == "full":
        results["cores_for_target"] = _cores_for_target(one_core, results)
    if args.compare:
        rate = results["messages_per_second"]["median"]
        results["compare"] = _compare(args, spec, rate, engine, workers)
    load_after = load_average()
    params = asdict(spec)
    params.update(
        repeat=args.repeat,
        workers=workers,
        cluster=None if engine is None else str(engine.address),
        path_requested=args.path,
        path_env=path_env,
        kem_requested=args.kem,
        turn_rate_effective=spec.effective_turn_rate(),
        compare=args.compare,
        compare_messages=_compare_messages(args, spec) if args.compare else None,
        floor_messages=args.floor_messages,
    )
    return {
        "schema": SCHEMA,
        "workload": spec.workload,
        "path": path,
        "kem_backend": kem_name,
        "profile": "PQ3" if spec.profile == PQ3 else spec.profile.label,
        "profile_id": spec.profile.to_bytes().hex(),
        "profile_fields": asdict(spec.profile),
        "kem_backends": {
            role: kem_name if name.startswith("ML-KEM") else "liboqs"
            for role, name in (("start", spec.start_kem), ("rekey", spec.rekey_kem))
        },
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
        "basis": "the single-worker rate of this run (one worker process on one core, its "
        "timed work), scaled perfectly",
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
    py = _measure(py_spec, args, workers, f"python x{workers}", engine)
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


def _bench_main(args: argparse.Namespace) -> int:
    doc = run_bench(args)
    print(format_summary(doc))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"  json        {args.json}")
    return 0


def _existing_file(text: str) -> str:
    if not text or not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an existing file")
    return text


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
        help="symmetric | full | pingpong | fanout (default: %(default)s)",
    )
    p.add_argument(
        "--messages",
        type=ca.positive_int,
        default=None,
        help="messages per repetition per worker (fanout: user messages); default "
        + ", ".join(f"{k} {v:,}" for k, v in DEFAULT_MESSAGES.items()),
    )
    p.add_argument(
        "--payload", type=ca.nonnegative_int, default=140, help="payload bytes (default 140)"
    )
    p.add_argument(
        "--policy",
        type=ca.policy,
        default="default",
        help=f"rekey policy: {ca.POLICY_SYNTAX} (default: %(default)s)",
    )
    p.add_argument(
        "--traffic",
        type=ca.turning_traffic,
        default=None,
        metavar="SHAPE",
        help="full: who sends when, ping-pong | bursty[:MEAN] | one-way; bursty:MEAN turns "
        "with probability 1/MEAN per message (default: bursty:10); pingpong is always "
        "ping-pong, fanout one-way",
    )
    # The earlier spelling of --traffic bursty:1/P, kept working but out of the help.
    p.add_argument("--turn-rate", type=ca.probability, default=0.1, help=argparse.SUPPRESS)
    p.add_argument(
        "--recipients",
        type=ca.positive_int,
        default=5,
        help="fanout: recipient devices per user message (default 5)",
    )
    p.add_argument("--repeat", type=ca.positive_int, default=5, help="repetitions (default 5)")
    p.add_argument(
        "--workers",
        type=ca.positive_int,
        default=1,
        help="worker processes, each with its own conversations (default 1); N > 1 is "
        "--cluster local:N and needs the cluster extra",
    )
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        type=ca.cluster_address,
        default=None,
        help="run the workers on Dask: local:N (N local worker processes) or tcp://HOST:PORT "
        "(a running scheduler; every worker of it runs the workload) (default: none)",
    )
    p.add_argument(
        "--path",
        choices=("native", "python", "auto"),
        default="auto",
        help="hot path (sets PQ3PROTO_NATIVE for the run); auto follows PQ3PROTO_NATIVE "
        "as sessions do, unset: native if built (default: %(default)s)",
    )
    p.add_argument(
        "--kem",
        default=None,
        choices=("openssl", "reference", "liboqs"),
        metavar="NAME",
        help="KEM backend for the run (sets PQ3PROTO_KEM): openssl | reference | liboqs "
        "(default: PQ3PROTO_KEM, else openssl)",
    )
    ca.add_profile_options(p)
    p.add_argument(
        "--compare",
        action="store_true",
        help="also run the Python path and report native/python (default: off)",
    )
    p.add_argument(
        "--compare-messages",
        type=ca.positive_int,
        default=None,
        help="messages per repetition of the Python run (default: messages/10, at least "
        "1,000 or all of them)",
    )
    p.add_argument(
        "--batch",
        type=ca.positive_int,
        default=64,
        help="symmetric: messages per seal_packed/open_packed call (default 64)",
    )
    p.add_argument(
        "--include-parse",
        action="store_true",
        help="symmetric: lists of bytes instead of packed batches (seal_batch, parse_message, "
        "open_batch), the parsing counted (default: packed, parsed in C)",
    )
    p.add_argument(
        "--floor-messages",
        type=ca.positive_int,
        default=4096,
        help="messages per round of the floor measurement (sign/verify; ECDH a quarter, "
        "KEM a sixteenth, symmetric 16x; default 4096)",
    )
    p.add_argument(
        "--warmup",
        type=ca.nonnegative_int,
        default=None,
        help="untimed messages before the first repetition (default: 2,000, or all "
        "messages if fewer)",
    )
    p.add_argument(
        "--idle-sample",
        type=ca.nonnegative_float,
        default=1.0,
        help="seconds of /proc/stat sampling before the run to record idle CPU, 0 to skip "
        "(default: 1)",
    )
    p.add_argument(
        "--seed", type=int, default=1, help="seed of payloads and turns (default: 1)"
    )
    ca.add_progress_option(p)
    p.add_argument(
        "--json",
        metavar="PATH",
        type=ca.output_file,
        default=None,
        help="write the result as JSON (default: none)",
    )
    p.set_defaults(func=_bench_main)
    sub = p.add_subparsers(dest="bench_action", metavar="{compare}")
    c = sub.add_parser(
        "compare",
        help="compare two result JSON files; exit 1 if a figure regressed",
        description="Each figure of A and B side by side with its change and noise band "
        "(half the relative range over repetitions, both runs summed). Exit 1 when a figure "
        "moved the wrong way by more than both its noise band and --threshold.",
    )
    c.add_argument("a", metavar="A.json", type=_existing_file, help="the reference run")
    c.add_argument("b", metavar="B.json", type=_existing_file, help="the run under test")
    c.add_argument(
        "--threshold",
        type=ca.nonnegative_float,
        default=DEFAULT_THRESHOLD,
        metavar="PCT",
        help="least change in percent that counts as a regression (default: %(default)s)",
    )
    c.set_defaults(func=_compare_main)


def _compare_main(args: argparse.Namespace) -> int:
    text, code = run_compare(args.a, args.b, args.threshold)
    print(text)
    return code
