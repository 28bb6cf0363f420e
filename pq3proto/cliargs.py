"""Validated command-line values shared by every `pq3proto` subcommand.

Owns: the argparse types (counts, probabilities, rekey policies, traffic shapes, paths, KEM
names), the one `--progress` option, the profile options of `bench` and `trace`, and writing a
JSON result. A bad value is an argparse error: usage,
one line, exit status 2, no traceback.
Not: what the subcommands do with the values.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from . import kem
from .constants import (
    DEFAULT_CHUNK_EXPANSION,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_REKEY_KEM,
    DEFAULT_START_KEM,
    MAX_CHUNK_EXPANSION,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_EXPANSION,
    MIN_CHUNK_SIZE,
)
from .errors import MisuseError
from .policy import RekeyPolicy
from .profile import TRANSPORTS, Profile
from .traffic import Traffic

__all__ = [
    "OQS_INSTALL",
    "PLOT_INSTALL",
    "POLICY_SYNTAX",
    "PROGRESS_CHOICES",
    "TRAFFIC_SYNTAX",
    "add_profile_options",
    "add_progress_option",
    "existing_dir",
    "float_at_least",
    "int_at_least",
    "nonnegative_float",
    "nonnegative_int",
    "output_dir",
    "output_file",
    "plot_file",
    "policy",
    "policy_list",
    "positive_int",
    "probability",
    "profile_from_options",
    "progress_enabled",
    "traffic",
    "traffic_list",
    "turning_traffic",
    "write_json",
]

POLICY_SYNTAX = "default | never | every-turn | N | N:SECONDS"
TRAFFIC_SYNTAX = "ping-pong | bursty[:MEAN] | one-sided | one-way"
PROGRESS_CHOICES = ("auto", "on", "off")
PLOT_SUFFIXES = (".png", ".pdf", ".svg")
# pq3proto installs from its source tree, so the extras are named from there.
PLOT_INSTALL = ".venv/bin/pip install '.[plot]' from the source tree (the plot extra: matplotlib)"
OQS_INSTALL = ".venv/bin/pip install '.[oqs]' from the source tree (the oqs extra: liboqs-python)"


def _fail(message: str) -> NoReturn:
    raise argparse.ArgumentTypeError(message)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        _fail(f"{text!r} is not an integer")


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        _fail(f"{text!r} is not a number")
    if not math.isfinite(value):
        _fail(f"{text!r} is not a finite number")
    return value


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An integer type that refuses values below `minimum`."""

    def parse(text: str) -> int:
        value = _int(text)
        if value < minimum:
            _fail(f"must be an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def float_at_least(minimum: float) -> Callable[[str], float]:
    """A finite-number type that refuses values below `minimum`."""

    def parse(text: str) -> float:
        value = _float(text)
        if value < minimum:
            _fail(f"must be a number >= {minimum:g}, got {value:g}")
        return value

    parse.__name__ = f"number >= {minimum:g}"
    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)
nonnegative_float = float_at_least(0.0)


def probability(text: str) -> float:
    """A probability in [0, 1]."""
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        _fail(f"must be a probability in [0, 1], got {value:g}")
    return value


def policy(text: str) -> str:
    """A rekey policy in the command-line form of RekeyPolicy.parse; returned as given."""
    try:
        RekeyPolicy.parse(text)
    except MisuseError as e:
        _fail(f"{e}; expected {POLICY_SYNTAX}")
    return text.strip()


def policy_list(text: str) -> list[tuple[str, RekeyPolicy]]:
    """Comma-separated rekey policies, each labelled with its text."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        _fail(f"expected one or more of {POLICY_SYNTAX}, comma-separated")
    out: list[tuple[str, RekeyPolicy]] = []
    for item in items:
        try:
            out.append((item.lower(), RekeyPolicy.parse(item)))
        except MisuseError as e:
            _fail(f"{e}; expected {POLICY_SYNTAX}")
    labels = [label for label, _ in out]
    if len(set(labels)) != len(labels):
        _fail("a policy is listed twice")
    return out


def traffic(text: str) -> Traffic:
    """A traffic shape (pq3proto.traffic)."""
    try:
        return Traffic.parse(text)
    except MisuseError as e:
        _fail(f"{e}; expected {TRAFFIC_SYNTAX}")


def turning_traffic(text: str) -> Traffic:
    """A traffic shape with a fixed turn probability: every shape except one-sided."""
    shape = traffic(text)
    if shape.turn_probability() is None:
        _fail("one-sided has no fixed turn probability; use ping-pong, bursty[:MEAN] or one-way")
    return shape


def traffic_list(text: str) -> tuple[Traffic, ...]:
    """Comma-separated traffic shapes."""
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        _fail(f"expected one or more of {TRAFFIC_SYNTAX}, comma-separated")
    shapes = tuple(traffic(t) for t in items)
    names = [str(s) for s in shapes]
    if len(set(names)) != len(names):
        _fail("a traffic shape is listed twice")
    return shapes


def output_file(text: str) -> str:
    """A file to write: its directory must exist and it must not be a directory."""
    if not text:
        _fail("empty path")
    path = Path(text)
    if path.is_dir():
        _fail(f"{text} is a directory")
    parent = path.parent
    if not parent.is_dir():
        _fail(f"directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        _fail(f"directory {parent} is not writable")
    return text


def plot_file(text: str) -> str:
    """An output image (.png, .pdf or .svg); matplotlib must be importable."""
    path = output_file(text)
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        _fail(f"a plot is written as {', '.join(PLOT_SUFFIXES)}; got {text}")
    if _missing("matplotlib"):
        _fail(f"plots need matplotlib: {PLOT_INSTALL}")
    return path


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or broken
        return True


def existing_dir(text: str) -> str:
    """A directory that exists."""
    if not Path(text).is_dir():
        _fail(f"{text or repr(text)} is not a directory")
    return text


def output_dir(text: str) -> str:
    """A directory to write into: it may be created, but must not be a file."""
    if not text:
        _fail("empty path")
    path = Path(text)
    if path.exists() and not path.is_dir():
        _fail(f"{text} exists and is not a directory")
    return text


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """The one `--progress` option of long-running subcommands."""
    parser.add_argument(
        "--progress",
        choices=PROGRESS_CHOICES,
        default="auto",
        help="progress bar on stderr; auto draws it only when stderr is a terminal "
        "(default: %(default)s)",
    )


def progress_enabled(choice: str) -> bool:
    """Whether to draw the progress bar for a `--progress` value."""
    if choice == "on":
        return True
    if choice == "off":
        return False
    return sys.stderr.isatty()


def write_json(path: str, doc: Any) -> None:
    """Write `doc` as indented JSON with a final newline."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def cluster_address(text: str) -> str:
    """A Dask cluster address, local:N or tcp://HOST:PORT (pq3proto.cluster); returned as given."""
    from .cluster import parse_address

    try:
        parse_address(text)
    except MisuseError as e:
        _fail(str(e))
    return text.strip()


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or MisuseError saying which extra to install."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MisuseError(f"--plot needs matplotlib: {PLOT_INSTALL}") from None
    return plt


def print_report(
    table: str,
    legend: str,
    doc: Any,
    json_path: str | None,
    plot_path: str | None,
    plot: Callable[[Any, str], None],
) -> None:
    """An experiment's table and legend on stdout, then its JSON and plot where asked."""
    print(table)
    print()
    print(legend)
    if json_path:
        write_json(json_path, doc)
        print(f"\nwrote {json_path}")
    if plot_path:
        plot(doc, plot_path)
        print(f"wrote {plot_path}")


def chunk_size(text: str) -> int:
    """An even chunk size within the profile limits (spec/10-profiles.md §1)."""
    n = int_at_least(MIN_CHUNK_SIZE)(text)
    if n > MAX_CHUNK_SIZE or n % 2:
        raise argparse.ArgumentTypeError(f"an even number up to {MAX_CHUNK_SIZE}, got {n}")
    return n


def chunk_expansion(text: str) -> int:
    """A chunk expansion within the profile limits."""
    n = int_at_least(MIN_CHUNK_EXPANSION)(text)
    if n > MAX_CHUNK_EXPANSION:
        raise argparse.ArgumentTypeError(f"at most {MAX_CHUNK_EXPANSION}, got {n}")
    return n


def kem_name(text: str) -> str:
    """A KEM this machine runs (kem.names())."""
    if text not in kem.names():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a KEM this machine runs; it runs: {', '.join(kem.names())} (the "
            "others need liboqs: README, Getting liboqs)"
        )
    return text


def add_profile_options(parser: argparse.ArgumentParser) -> None:
    """--start-kem, --rekey-kem, --transport, --chunk-size, --chunk-expansion."""
    parser.add_argument("--start-kem", type=kem_name, default=DEFAULT_START_KEM, metavar="NAME",
                        help="the profile's start KEM, as liboqs names it "
                        "(default: %(default)s)")
    parser.add_argument("--rekey-kem", type=kem_name, default=DEFAULT_REKEY_KEM, metavar="NAME",
                        help="the profile's rekey KEM, e.g. HQC-1, FrodoKEM-640-AES, BIKE-L1; "
                        "the liboqs KEMs need liboqs (default: %(default)s)")
    parser.add_argument("--transport", choices=TRANSPORTS, default="repeat",
                        help="the profile's transport of rekey material: repeat (PQ3), first "
                        "or chunked (default: %(default)s)")
    parser.add_argument("--chunk-size", type=chunk_size, default=None, metavar="BYTES",
                        help="chunked only: bytes of material per chunk, even, 2 to "
                        f"{MAX_CHUNK_SIZE} (default: {DEFAULT_CHUNK_SIZE})")
    parser.add_argument("--chunk-expansion", type=chunk_expansion, default=None, metavar="E",
                        help=f"chunked only: n = E x k chunks, {MIN_CHUNK_EXPANSION} to "
                        f"{MAX_CHUNK_EXPANSION} (default: {DEFAULT_CHUNK_EXPANSION})")


def profile_from_options(args: argparse.Namespace) -> Profile:
    """The Profile the options of add_profile_options name; chunk options need chunked."""
    if (args.chunk_size is not None or args.chunk_expansion is not None) and (
        args.transport != "chunked"
    ):
        raise MisuseError("--chunk-size and --chunk-expansion need --transport chunked")
    return Profile(
        start_kem=args.start_kem, rekey_kem=args.rekey_kem, transport=args.transport,
        chunk_size=args.chunk_size, chunk_expansion=args.chunk_expansion,
    )
