"""`pq3proto trace`: one conversation under a policy, traffic pattern and network, traced.

Owns: the subcommand's arguments and its table, JSON and CSV output.
Not: the run (traced.py) or the event record (trace.py, docs/trace.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..policy import RekeyPolicy
from ..trace import events_csv
from .delivery import PATTERNS, NetworkConditions
from .traced import run_traced


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError("must be at least 0 and below 1")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0.0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _messages(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000000")
    return value


def _policy(text: str) -> RekeyPolicy:
    try:
        return RekeyPolicy.parse(text)
    except Exception as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_COLUMNS = ("seq", "party", "direction", "chain", "index", "ecdh_step", "material",
            "wire_bytes", "error")


def format_events(rows: list[dict[str, Any]]) -> str:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c)
              for c in _COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in _COLUMNS)]
    for r in rows:
        lines.append("  ".join(str(r[c]).ljust(widths[c]) for c in _COLUMNS))
    return "\n".join(lines)


def _main(args: argparse.Namespace) -> int:
    conditions = NetworkConditions(drop=args.loss, mean_delay=args.reorder)
    run = run_traced(args.policy, args.traffic, args.messages, args.seed, conditions)
    if args.json:
        doc = {
            "command": "trace",
            "policy": args.policy.describe(),
            "traffic": args.traffic,
            "messages": args.messages,
            "seed": args.seed,
            "loss": args.loss,
            "reorder_mean_delay_s": args.reorder,
            "summary": run.summary(),
            "events": [e.to_json() for e in run.events],
        }
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    if args.csv:
        Path(args.csv).write_text(events_csv(run.events))
    if not args.quiet:
        print(format_events([e.row() for e in run.events]))
    s = run.summary()
    print(
        f"{s['messages_sent']} sent, {s['deliveries']} opened, {s['refused']} refused, "
        f"{s['dropped_by_network']} dropped; wire bytes/message mean {s['wire_bytes_mean']:.0f}"
        f" p99 {s['wire_bytes_p99']:.0f}; rekeys requested {s['rekeys_requested']}, "
        f"completed {s['rekeys_completed']} (counted at both parties)",
        file=sys.stderr if args.quiet else sys.stdout,
    )
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "trace",
        help="trace one conversation, message by message",
        description="Run one conversation between two devices over a simulated network and "
        "print one event per message sealed, opened or refused (docs/trace.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--messages", type=_messages, default=40, help="messages to send")
    p.add_argument("--traffic", choices=PATTERNS, default="ping-pong", help="who sends when")
    p.add_argument("--policy", type=_policy, default=RekeyPolicy(),
                   help="rekey policy: default | never | every-turn | N | N:SECONDS")
    p.add_argument("--loss", type=_probability, default=0.0,
                   help="probability that the network drops a message")
    p.add_argument("--reorder", type=_non_negative, default=0.0,
                   help="mean random delay per message in seconds (messages are 60 s apart); "
                   "above 0 it reorders")
    p.add_argument("--seed", type=int, default=1, help="seed for keys, traffic and network")
    p.add_argument("--json", metavar="PATH", help="write the run and every event as JSON")
    p.add_argument("--csv", metavar="PATH", help="write every event as CSV")
    p.add_argument("--quiet", action="store_true", help="print only the summary (on stderr)")
    p.set_defaults(func=_main)
