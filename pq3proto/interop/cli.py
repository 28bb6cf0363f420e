"""`pq3proto interop serve` and `pq3proto interop run` (spec/09-interop-driver.md).

Owns: the two subcommands, their output and exit codes.
Not: the driver (driver.py) or the runner (runner.py).
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import cliargs
from .driver import serve
from .runner import run
from .scenarios import SCENARIOS


def _serve(args: argparse.Namespace) -> int:
    return serve()


def _scenarios(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected scenarios from: {', '.join(SCENARIOS)}; got {text!r}"
        )
    return names


def _command(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("a driver command line cannot be empty")
    return text


def _run(args: argparse.Namespace) -> int:
    report = run(args.a, args.b, args.scenarios, timeout=args.timeout)
    print(f"pq3proto interop run: A = {args.a!r}, B = {args.b!r}")
    print(report.summary())
    return 0 if report.ok else 1


def add_parser(subparsers: Any) -> None:
    """Register `interop` with its `serve` and `run` subcommands."""
    interop = subparsers.add_parser(
        "interop",
        help="interop driver protocol: serve or run",
        description="The driver protocol of spec/09-interop-driver.md: serve it, or run the "
        "scenarios between two drivers.",
    )
    sub = interop.add_subparsers(
        dest="interop_command", required=True, metavar="{serve,run}", title="commands"
    )
    srv = sub.add_parser(
        "serve",
        help="speak the driver protocol on stdin/stdout (testing only)",
        description="Speak the driver protocol on stdin/stdout; deterministic randomness is "
        "injectable, so this is for testing only.",
    )
    srv.set_defaults(func=_serve)
    r = sub.add_parser(
        "run",
        help="play the scenarios between two drivers, both ways round",
        description="Play each scenario between driver A and driver B, both ways round, and "
        "compare transcript digests; exit status 1 if any differs.",
    )
    r.add_argument("--a", required=True, type=_command,
                   help="command line of driver A (default: none, required)")
    r.add_argument("--b", required=True, type=_command,
                   help="command line of driver B (default: none, required)")
    r.add_argument(
        "--scenarios",
        type=_scenarios,
        default=None,
        help=f"comma-separated subset of: {', '.join(SCENARIOS)} (default: all)",
    )
    r.add_argument("--timeout", type=cliargs.float_at_least(0.1), default=60.0,
                   help="seconds per response (default: %(default)s)")
    r.set_defaults(func=_run)
