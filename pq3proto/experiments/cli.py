"""The `pq3proto simulate` subcommand: run the experiments, print a table, write JSON and a plot.

Owns: argument parsing for `simulate`, the text table, the JSON file, the PNG plot (matplotlib,
imported lazily, Agg backend) and the progress bar on stderr.
Not: the experiments themselves (run.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .. import cluster
from ..cliargs import (
    POLICY_SYNTAX,
    TRAFFIC_SYNTAX,
    add_progress_option,
    cluster_address,
    int_at_least,
    output_file,
    plot_file,
    policy_list,
    positive_int,
    print_report,
    progress_enabled,
    pyplot,
    traffic_list,
)
from ..progress import Progress
from .delivery import PATTERNS
from .run import SECONDS_PER_MESSAGE, Cell, CompromiseResult, policy_grid, run_all

DEFAULT_INTERVALS = (5, 10, 25, 50, 100)
DEFAULT_POLICIES = ",".join(["every-turn", *map(str, DEFAULT_INTERVALS), "never"])
DEFAULT_TRAFFIC = ",".join(PATTERNS)
MIN_MESSAGES = 20

LEGEND = """\
Legend
  pattern       traffic shape: ping-pong (a turn every message), bursty[:MEAN] (turns of MEAN
                messages on average, default 5), one-sided (runs of 30-50 from A, one reply
                from B), one-way (only A sends)
  policy        rekey policy: every-turn, N (every N messages), N:SECONDS, never
  classical     messages after the compromise the adversary reads from the stolen state,
                mean/max over compromise points and both parties
  +all ECDH     the same adversary also breaks every ECDH key (a quantum computer later)
  locked        share of compromises after which that adversary is locked out before the end
  HNDL          messages read from the recorded transcript alone, every ECDH key broken
  HNDL+KEM1024  the same, with the session start's ML-KEM-1024 key broken too
  rekeys        completed PQ rekeys (ML-KEM-768 secrets mixed into the root key)
  B/msg         mean wire bytes per message
  ovh B/msg     mean bytes per message beyond the plaintext. A rekeying chain repeats its
                header, with the 1,184-byte KEM key and the 1,088-byte ciphertext, on every
                message until the peer replies, so frequent rekeys and long turns cost more."""


def format_table(doc: dict[str, Any]) -> str:
    """The compromise sweep and the active attacks as aligned text."""
    rows = doc["compromise"]
    wt = max([10, *(len(r["pattern"]) for r in rows)])
    wp = max([10, *(len(r["policy"]) for r in rows)])
    lines = [
        "Exposure after a state compromise (messages after it the adversary reads; mean / max",
        "over compromise points and both parties); HNDL: whole transcript, every ECDH key broken",
        "",
        f"{'pattern':<{wt}} {'policy':<{wp}} {'classical':>11} {'+all ECDH':>11} {'locked':>6} "
        f"{'HNDL':>5} {'HNDL+KEM1024':>12} {'rekeys':>6} {'B/msg':>7} {'ovh B/msg':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['pattern']:<{wt}} {r['policy']:<{wp}} "
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
    plt = pyplot()
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
    policies = args.policies if args.intervals is None else policy_grid(args.intervals)
    shapes = args.traffic if args.patterns is None else args.patterns
    patterns = tuple(str(t) for t in shapes)
    enabled = progress_enabled("off" if args.no_progress else args.progress)
    bar = Progress(0, "", enabled=enabled)
    if args.cluster is None:
        doc = run_all(policies, patterns, args.messages, args.seed, args.samples, bar.update)
    else:
        with cluster.connect(args.cluster) as engine:
            tasks = f"tasks on {len(engine.workers)} workers"

            def mapper(
                fn: Callable[[Cell], CompromiseResult], cells: list[Cell]
            ) -> list[CompromiseResult]:
                return engine.map(fn, cells, lambda d, t: bar.update(d, t, tasks))

            doc = run_all(policies, patterns, args.messages, args.seed, args.samples, None, mapper)
    print_report(format_table(doc), LEGEND, doc, args.json, args.plot, plot)
    return 0


def add_parser(subparsers: Any) -> None:
    """Register `simulate` on the top-level parser."""
    p = subparsers.add_parser(
        "simulate",
        help="compromise, HNDL and active-attack experiments over rekey policies",
        description="Record one seeded conversation per (traffic, policy) cell, attack each "
        "from compromised states and with every ECDH key broken (HNDL), run the active "
        "attacks, and print a table with a legend. These runs use PQ3's profile; to compare "
        "profiles (transport x rekey KEM, under loss and reordering, with the same HNDL "
        "adversary) run `pq3proto profiles`, the profile comparison of simulate.",
    )
    p.add_argument("--messages", type=int_at_least(MIN_MESSAGES), default=300,
                   help=f"messages per conversation, at least {MIN_MESSAGES} "
                   "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed for traffic and keys (default: %(default)s)")
    p.add_argument("--samples", type=positive_int, default=12,
                   help="compromise points per conversation, each for both parties "
                   "(default: %(default)s)")
    p.add_argument("--policies", type=policy_list, default=policy_list(DEFAULT_POLICIES),
                   metavar="POLICY[,POLICY...]",
                   help=f"rekey policies, comma-separated, each {POLICY_SYNTAX}; simulated "
                   f"time advances {SECONDS_PER_MESSAGE:g} s per message "
                   f"(default: {DEFAULT_POLICIES})")
    p.add_argument("--traffic", type=traffic_list, default=traffic_list(DEFAULT_TRAFFIC),
                   metavar="SHAPE[,SHAPE...]",
                   help=f"traffic shapes, comma-separated, each {TRAFFIC_SYNTAX} "
                   f"(default: {DEFAULT_TRAFFIC})")
    p.add_argument("--json", metavar="PATH", type=output_file, default=None,
                   help="write every result as JSON (default: none)")
    p.add_argument("--plot", metavar="PATH", type=plot_file, default=None,
                   help="write a plot, .png, .pdf or .svg; needs the [plot] extra "
                   "(default: none)")
    add_progress_option(p)
    # Earlier spellings, kept working but out of the help: --intervals N,N (the default
    # policy at each interval, between every-turn and never), --patterns, --no-progress.
    p.add_argument("--intervals", type=_interval_list, default=None, help=argparse.SUPPRESS)
    p.add_argument("--patterns", type=traffic_list, default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cluster", metavar="ADDRESS", type=cluster_address, default=None,
                   help="run the grid's cells as Dask tasks: local:N or tcp://HOST:PORT "
                   "(needs the cluster extra); results are the same as a local run "
                   "(default: none, this process)")
    p.set_defaults(func=_main)


def _interval_list(text: str) -> tuple[int, ...]:
    parse = int_at_least(0)
    return tuple(parse(x) for x in text.split(",") if x.strip())
