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

from .. import cliargs
from ..policy import RekeyPolicy
from ..trace import events_csv
from .delivery import NetworkConditions
from .traced import run_traced

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
    policy = RekeyPolicy.parse(args.policy)
    profile = cliargs.profile_from_options(args)
    run = run_traced(
        policy, str(args.traffic), args.messages, args.seed, conditions, profile=profile
    )
    if args.json:
        doc = {
            "command": "trace",
            "profile": profile.label,
            "policy": policy.describe(),
            "traffic": str(args.traffic),
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
    )
    p.add_argument("--messages", type=cliargs.positive_int, default=40,
                   help="messages to send (default: %(default)s)")
    p.add_argument("--traffic", type=cliargs.traffic, default=cliargs.traffic("ping-pong"),
                   help=f"who sends when: {cliargs.TRAFFIC_SYNTAX} (default: %(default)s)")
    p.add_argument("--policy", type=cliargs.policy, default="default",
                   help=f"rekey policy: {cliargs.POLICY_SYNTAX} (default: %(default)s)")
    p.add_argument("--loss", type=cliargs.probability, default=0.0,
                   help="probability that the network drops a message (default: %(default)s)")
    p.add_argument("--reorder", type=cliargs.nonnegative_float, default=0.0,
                   help="mean random delay per message in seconds; messages are 60 s apart, "
                   "so above 0 it reorders (default: %(default)s)")
    cliargs.add_profile_options(p)
    p.add_argument("--seed", type=int, default=1,
                   help="seed for keys, traffic and network (default: %(default)s)")
    p.add_argument("--json", metavar="PATH", type=cliargs.output_file, default=None,
                   help="write the run and every event as JSON (default: none)")
    p.add_argument("--csv", metavar="PATH", type=cliargs.output_file, default=None,
                   help="write every event as CSV (default: none)")
    p.add_argument("--quiet", action="store_true",
                   help="print only the summary, on stderr (default: off)")
    p.set_defaults(func=_main)
