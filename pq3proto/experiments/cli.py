"""The `pq3proto simulate` subcommand: run the experiments, print a table, write JSON and a plot.

Owns: argument parsing for `simulate`, the text table, the JSON file, the PNG plot (matplotlib,
imported lazily, Agg backend) and the progress bar on stderr.
Not: the experiments themselves (run.py).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from .. import cluster
from ..errors import MisuseError
from ..progress import Progress
from .delivery import PATTERNS
from .run import Cell, CompromiseResult, policy_grid, run_all

DEFAULT_INTERVALS = (5, 10, 25, 50, 100)


def format_table(doc: dict[str, Any]) -> str:
    """The compromise sweep and the active attacks as aligned text."""
    lines = [
        "Exposure after a state compromise (messages after it the adversary reads; mean / max",
        "over compromise points and both parties); HNDL: whole transcript, every ECDH key broken",
        "",
        f"{'pattern':<10} {'policy':<10} {'classical':>11} {'+all ECDH':>11} {'locked':>6} "
        f"{'HNDL':>5} {'HNDL+KEM1024':>12} {'rekeys':>6} {'B/msg':>7} {'ovh B/msg':>9}",
    ]
    for r in doc["compromise"]:
        lines.append(
            f"{r['pattern']:<10} {r['policy']:<10} "
            f"{r['classical_mean']:>6.1f}/{r['classical_max']:<4} "
            f"{r['quantum_mean']:>6.1f}/{r['quantum_max']:<4} "
            f"{r['quantum_locked_out']:>6.0%} "
            f"{r['hndl_read']:>5} {r['hndl_start_kem_broken_read']:>12} {r['pq_rekeys']:>6} "
            f"{r['wire_bytes_per_message']:>7.0f} {r['overhead_bytes_per_message']:>9.0f}"
        )
    lines += ["", "Active attacks", ""]
    for a in doc["attacks"]:
        verdict = "detected" if a["detected"] else "NOT detected"
        reads = "attacker reads" if a["attacker_reads"] else "attacker reads nothing"
        err = f" ({a['error']})" if a["error"] else ""
        lines.append(f"  {verdict:<12}{err:<24} {reads:<22} {a['name']}")
    return "\n".join(lines)


def plot(doc: dict[str, Any], path: str) -> None:
    """Exposure window and wire overhead against the rekey interval, one line per pattern."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MisuseError(
            "--plot needs matplotlib: pip install 'pq3proto[test]' (or matplotlib>=3.8)"
        ) from None
    policies: list[str] = doc["parameters"]["policies"]
    patterns: list[str] = doc["parameters"]["patterns"]
    xs = list(range(len(policies)))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for i, pattern in enumerate(patterns):
        rows = {r["policy"]: r for r in doc["compromise"] if r["pattern"] == pattern}
        q = [rows[p]["quantum_mean"] for p in policies]
        c = [rows[p]["classical_mean"] for p in policies]
        o = [rows[p]["overhead_bytes_per_message"] for p in policies]
        color = colors[i % len(colors)]
        ax1.plot(xs, q, "o-", color=color, label=f"{pattern}: + every ECDH key (HNDL)")
        ax1.plot(xs, c, "s--", color=color, alpha=0.6, label=f"{pattern}: classical")
        ax2.plot(xs, o, "o-", color=color, label=pattern)
    m = doc["parameters"]["messages"]
    ax1.set_title(f"Exposure after a state compromise ({m} messages)")
    ax1.set_ylabel("messages read after the compromise (mean)")
    ax1.set_yscale("log")
    ax2.set_title("Wire overhead (KEM material counted on every message)")
    ax2.set_ylabel("bytes per message beyond the plaintext")
    for ax in (ax1, ax2):
        ax.set_xticks(xs, policies)
        ax.set_xlabel("PQ rekey policy (default policy: rekey every N messages)")
        ax.grid(True, alpha=0.3)
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=8)
    ax1.annotate("never: read until the conversation ends", (xs[-1], 1), fontsize=7,
                 ha="right", va="bottom")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _main(args: argparse.Namespace) -> int:
    intervals = tuple(int(x) for x in args.intervals.split(",") if x.strip())
    patterns = tuple(p.strip() for p in args.patterns.split(",") if p.strip())
    for p in patterns:
        if p not in PATTERNS:
            raise MisuseError(f"unknown traffic pattern {p!r}; known: {', '.join(PATTERNS)}")
    if args.messages < 20:
        raise MisuseError("--messages must be at least 20")
    bar = Progress(0, "", enabled=not args.no_progress)
    grid = policy_grid(intervals)
    if args.cluster is None:
        doc = run_all(grid, patterns, args.messages, args.seed, args.samples, bar.update)
    else:
        with cluster.connect(args.cluster) as engine:
            tasks = f"tasks on {len(engine.workers)} workers"

            def mapper(
                fn: Callable[[Cell], CompromiseResult], cells: list[Cell]
            ) -> list[CompromiseResult]:
                return engine.map(fn, cells, lambda d, t: bar.update(d, t, tasks))

            doc = run_all(grid, patterns, args.messages, args.seed, args.samples, None, mapper)
    print(format_table(doc))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    if args.plot:
        plot(doc, args.plot)
        print(f"wrote {args.plot}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register `simulate` on the top-level parser."""
    p = subparsers.add_parser(
        "simulate",
        help="compromise, HNDL and active-attack experiments over rekey policies",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument("--messages", type=int, default=300, help="messages per conversation")
    p.add_argument("--seed", type=int, default=1, help="seed for traffic and keys")
    p.add_argument("--samples", type=int, default=12,
                   help="compromise points per conversation (each for both parties)")
    p.add_argument("--intervals", default=",".join(map(str, DEFAULT_INTERVALS)),
                   help="rekey intervals of the default policy, comma-separated")
    p.add_argument("--patterns", default=",".join(PATTERNS),
                   help=f"traffic patterns, comma-separated ({', '.join(PATTERNS)})")
    p.add_argument("--json", metavar="PATH", help="write every result as JSON")
    p.add_argument("--plot", metavar="PATH", help="write a PNG plot (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--cluster", metavar="ADDRESS", default=None,
                   help="run the grid's cells as Dask tasks: local:N or tcp://HOST:PORT "
                   "(needs the cluster extra); results are the same as a local run")
    p.set_defaults(func=_main)
