"""`pq3proto vectors generate DIR` and `pq3proto vectors verify DIR` (spec/test-vectors.md).

Owns: the two subcommands, their output and exit codes.
Not: making or checking vectors (generate.py, verify.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from .generate import write_all
from .verify import describe_environment, verify_path


def _generate(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    files = write_all(Path(args.dir))
    elapsed = time.perf_counter() - t0
    print(f"wrote {len(files)} files to {args.dir} in {elapsed:.2f} s")
    for rel, data in files.items():
        print(f"  {rel} ({len(data)} bytes)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    report = verify_path(Path(args.path))
    elapsed = time.perf_counter() - t0
    print(f"pq3proto vectors verify {args.path} ({describe_environment()}, {elapsed:.2f} s)")
    print(report.summary())
    return 0 if report.ok else 1


def add_parser(subparsers: Any) -> None:
    """Register `vectors` with its `generate` and `verify` subcommands."""
    vectors = subparsers.add_parser("vectors", help="generate or verify the interop test vectors")
    sub = vectors.add_subparsers(dest="vectors_command", required=True)
    gen = sub.add_parser("generate", help="write the whole vector set (byte-for-byte stable)")
    gen.add_argument("dir", help="output directory, e.g. spec/vectors")
    gen.set_defaults(func=_generate)
    ver = sub.add_parser("verify", help="check a vector file, or every one in a directory")
    ver.add_argument("path", help="a vector file, or a directory of them, e.g. spec/vectors")
    ver.set_defaults(func=_verify)
