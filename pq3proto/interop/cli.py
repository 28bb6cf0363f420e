"""`pq3proto interop serve` and `pq3proto interop run` (spec/09-interop-driver.md).

Owns: the two subcommands, their output and exit codes.
Not: the driver (driver.py) or the runner (runner.py).
"""

from __future__ import annotations

import argparse
from typing import Any

from .driver import serve
from .runner import run
from .scenarios import SCENARIOS


def _serve(args: argparse.Namespace) -> int:
    return serve()


def _run(args: argparse.Namespace) -> int:
    names = None if args.scenarios is None else [n for n in args.scenarios.split(",") if n]
    report = run(args.a, args.b, names, timeout=args.timeout)
    print(f"pq3proto interop run: A = {args.a!r}, B = {args.b!r}")
    print(report.summary())
    return 0 if report.ok else 1


def add_parser(subparsers: Any) -> None:
    """Register `interop` with its `serve` and `run` subcommands."""
    interop = subparsers.add_parser("interop", help="interop driver protocol: serve or run")
    sub = interop.add_subparsers(dest="interop_command", required=True)
    srv = sub.add_parser("serve", help="speak the driver protocol on stdin/stdout (testing only)")
    srv.set_defaults(func=_serve)
    r = sub.add_parser("run", help="play the scenarios between two drivers, both ways round")
    r.add_argument("--a", required=True, help="command line of driver A")
    r.add_argument("--b", required=True, help="command line of driver B")
    r.add_argument(
        "--scenarios",
        default=None,
        help=f"comma-separated subset of: {', '.join(SCENARIOS)} (default: all)",
    )
    r.add_argument("--timeout", type=float, default=60.0, help="seconds per response (60)")
    r.set_defaults(func=_run)
