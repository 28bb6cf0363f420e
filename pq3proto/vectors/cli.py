"""`pq3proto vectors generate DIR`, `verify PATH` and `accumulate` (spec/test-vectors.md).

Owns: the three subcommands, their output and exit codes.
Not: making or checking vectors (generate.py, verify.py, accumulate.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..cliargs import output_dir, positive_int
from .accumulate import DIGESTS, FULL_COUNT, accumulate
from .generate import write_all
from .verify import describe_environment, verify_path


def _existing_path(text: str) -> str:
    if not text or not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text!r} does not exist")
    return text


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


def _accumulate(args: argparse.Namespace) -> int:
    if args.count < 1:
        print("pq3proto vectors accumulate: --count must be at least 1")
        return 2
    t0 = time.perf_counter()
    digest, messages = accumulate(args.count)
    elapsed = time.perf_counter() - t0
    print(f"{args.count} conversations, {messages} messages, {elapsed:.1f} s: {digest}")
    published = DIGESTS.get(args.count)
    if not published:
        return 0
    same = published == digest
    print(f"published digest for {args.count}: {'matches' if same else 'DIFFERS: ' + published}")
    return 0 if same else 1


def add_parser(subparsers: Any) -> None:
    """Register `vectors` with its `generate` and `verify` subcommands."""
    vectors = subparsers.add_parser(
        "vectors",
        help="generate or verify the interop test vectors",
        description="Generate or verify the interop test vectors (spec/test-vectors.md).",
    )
    sub = vectors.add_subparsers(
        dest="vectors_command", required=True, metavar="{generate,verify,accumulate}",
        title="commands"
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
        help="check a vector file, or every one in a directory",
        description="Check a vector file, or every vector file in a directory, against this "
        "package; exit status 1 if any vector fails, 2 if the path does not exist.",
    )
    ver.add_argument(
        "path", type=_existing_path,
        help="a vector file, or a directory of them, e.g. spec/vectors",
    )
    ver.set_defaults(func=_verify)
    acc = sub.add_parser(
        "accumulate",
        help="run the accumulated conversation stream and print its digest",
        description="Run the first COUNT conversations of the accumulated stream "
        "(spec/test-vectors.md) and print their digest, compared with the published one.",
    )
    acc.add_argument(
        "--count", type=positive_int, default=FULL_COUNT,
        help="conversations (default: %(default)s)",
    )
    acc.set_defaults(func=_accumulate)
