"""`pq3proto vectors generate DIR` and `pq3proto vectors verify DIR` (spec/test-vectors.md).

Owns: the two subcommands, their output and exit codes.
Not: making or checking vectors (generate.py, verify.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..cliargs import existing_dir, output_dir
from .generate import write_all
from .verify import describe_environment, verify_directory


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
    report = verify_directory(Path(args.dir))
    elapsed = time.perf_counter() - t0
    print(f"pq3proto vectors verify {args.dir} ({describe_environment()}, {elapsed:.2f} s)")
    print(report.summary())
    return 0 if report.ok else 1


def add_parser(subparsers: Any) -> None:
    """Register `vectors` with its `generate` and `verify` subcommands."""
    vectors = subparsers.add_parser(
        "vectors",
        help="generate or verify the interop test vectors",
        description="Generate or verify the interop test vectors (spec/test-vectors.md).",
    )
    sub = vectors.add_subparsers(
        dest="vectors_command", required=True, metavar="{generate,verify}", title="commands"
    )
    gen = sub.add_parser(
        "generate",
        help="write the whole vector set (byte-for-byte stable)",
        description="Write the whole vector set into DIR; the result is byte-identical to "
        "the committed spec/vectors.",
    )
    gen.add_argument("dir", type=output_dir, help="output directory, created if missing")
    gen.set_defaults(func=_generate)
    ver = sub.add_parser(
        "verify",
        help="check every vector file in DIR against this package",
        description="Check every vector file in DIR against this package; exit status 1 "
        "if any vector fails.",
    )
    ver.add_argument(
        "dir", type=existing_dir, help="directory of vector files, e.g. spec/vectors"
    )
    ver.set_defaults(func=_verify)
