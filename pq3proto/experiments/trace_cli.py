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

from .. import cliargs, kem
from ..constants import (
    DEFAULT_CHUNK_EXPANSION,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_REKEY_KEM,
    DEFAULT_START_KEM,
    MAX_CHUNK_EXPANSION,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_EXPANSION,
)
from ..errors import MisuseError
from ..policy import RekeyPolicy
from ..profile import TRANSPORTS, Profile
from ..trace import events_csv
from .delivery import NetworkConditions
from .traced import run_traced


def _kem_name(text: str) -> str:
    """A KEM this machine can run (kem.names())."""
    if text not in kem.names():
        known = ", ".join(kem.names())
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a KEM this machine runs; it runs: {known} (the others need "
            "liboqs: README, Getting liboqs)"
        )
    return text


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
    chunked = args.chunk_size is not None or args.chunk_expansion is not None
    if chunked and args.transport != "chunked":
        raise MisuseError("--chunk-size and --chunk-expansion need --transport chunked")
    profile = Profile(
        start_kem=args.start_kem, rekey_kem=args.rekey_kem, transport=args.transport,
        chunk_size=args.chunk_size, chunk_expansion=args.chunk_expansion,
    )
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
    p.add_argument("--start-kem", type=_kem_name, default=DEFAULT_START_KEM, metavar="NAME",
                   help="the profile's start KEM, as liboqs names it (default: %(default)s)")
    p.add_argument("--rekey-kem", type=_kem_name, default=DEFAULT_REKEY_KEM, metavar="NAME",
                   help="the profile's rekey KEM, e.g. HQC-1, FrodoKEM-640-AES, BIKE-L1; the "
                   "liboqs KEMs need liboqs (default: %(default)s)")
    p.add_argument("--transport", choices=TRANSPORTS, default="repeat",
                   help="the profile's transport of rekey material: repeat (PQ3), first or "
                   "chunked (default: %(default)s)")
    p.add_argument("--chunk-size", type=cliargs.chunk_size, default=None, metavar="BYTES",
                   help="chunked only: bytes of material per chunk, even, 2 to "
                   f"{MAX_CHUNK_SIZE} (default: {DEFAULT_CHUNK_SIZE})")
    p.add_argument("--chunk-expansion", type=cliargs.chunk_expansion, default=None, metavar="E",
                   help=f"chunked only: n = E x k chunks, {MIN_CHUNK_EXPANSION} to "
                   f"{MAX_CHUNK_EXPANSION} (default: {DEFAULT_CHUNK_EXPANSION})")
    p.add_argument("--seed", type=int, default=1,
                   help="seed for keys, traffic and network (default: %(default)s)")
    p.add_argument("--json", metavar="PATH", type=cliargs.output_file, default=None,
                   help="write the run and every event as JSON (default: none)")
    p.add_argument("--csv", metavar="PATH", type=cliargs.output_file, default=None,
                   help="write every event as CSV (default: none)")
    p.add_argument("--quiet", action="store_true",
                   help="print only the summary, on stderr (default: off)")
    p.set_defaults(func=_main)
