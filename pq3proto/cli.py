"""The `pq3proto` command: run a demo conversation, benchmarks, experiments and test vectors.

Owns: the top-level parser, the demo conversation, the doctor's registration, and the
one-time notice that the pure-Python path is running.
Not: benchmarks (bench.py), vectors (vectors/), experiments (experiments/), the doctor's
report (doctor.py): each of those adds its own subcommand through an `add_parser(subparsers)`
function.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__, kem, native
from .cliargs import (
    POLICY_SYNTAX,
    TRAFFIC_SYNTAX,
    float_at_least,
    output_file,
    policy,
    positive_int,
    traffic,
    write_json,
)
from .errors import PQ3Error
from .identity import Device
from .paths import hot_path
from .policy import RekeyPolicy
from .session import Session
from .traffic import Traffic

# Modules that contribute subcommands, each through add_parser(subparsers).
_SUBCOMMAND_MODULES = (
    "pq3proto.bench",
    "pq3proto.vectors.cli",
    "pq3proto.experiments.cli",
    "pq3proto.experiments.trace_cli",
    "pq3proto.experiments.profiles_cli",
    "pq3proto.doctor",
    "pq3proto.interop.cli",
)
DEMO_SCHEMA = "pq3proto-demo/1"
DEFAULT_DEMO_TRAFFIC = "bursty:3"

_DESCRIPTION = """\
pq3proto: a PQ3-style post-quantum messaging protocol (hybrid ECDH + ML-KEM session start,
ECDH and sparse ML-KEM ratchet, signed messages).

First steps:
  pq3proto demo                    a 1,000-message conversation between two devices
  pq3proto doctor                  which hot path and KEM backend run here, what is missing
  pq3proto bench                   messages per second, saying exactly what is counted
  pq3proto simulate                compromise and harvest-now-decrypt-later experiments
  pq3proto vectors verify DIR      check this implementation against the interop vectors

`pq3proto COMMAND --help` shows each command's options and their defaults."""

_WORDS = (
    "ok see you at noon the train is late call me when you land did you get the file "
    "lunch tomorrow? sounds good running ten minutes behind photos from the weekend"
).split()


def _payload(rng: random.Random) -> bytes:
    n = max(1, int(rng.lognormvariate(2.0, 0.9)))
    return " ".join(rng.choice(_WORDS) for _ in range(n)).encode()


def run_demo(
    messages: int,
    seed: int,
    policy: RekeyPolicy,
    shape: Traffic,
    json_path: str | None = None,
) -> int:
    """A conversation between two devices; every message must decrypt. Returns exit code.

    `seed` fixes the traffic and the payloads (not the keys): the same seed gives the same
    turns and sizes.
    """
    payload_rng = random.Random(f"pq3proto demo payloads {seed}")
    senders = shape.senders(messages, seed)
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    t0 = time.perf_counter()
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle(), policy=policy)
    first = _payload(payload_rng)
    # The demo keeps its devices in memory; a real application persists the device here.
    b, got = Session.accept(
        bob, alice.public_identity(), a.encrypt(first), save_device=lambda _: None, policy=policy
    )
    if got != first:
        print("first message did not decrypt", file=sys.stderr)
        return 1
    side = {"A": (a, b), "B": (b, a)}
    turns = 1
    for i in range(1, messages):
        if senders[i] != senders[i - 1]:
            turns += 1
        sender, receiver = side[senders[i]]
        pt = _payload(payload_rng)
        if receiver.decrypt(sender.encrypt(pt)) != pt:
            print("a message did not decrypt to what was sent", file=sys.stderr)
            return 1
    elapsed = time.perf_counter() - t0
    sa, sb = a.stats, b.stats
    sent = sa.sent + sb.sent
    wire = sa.wire_bytes + sb.wire_bytes
    plain = sa.plaintext_bytes + sb.plaintext_bytes
    path = hot_path().name
    backend = kem.get_backend().name
    print("pq3proto demo: alice (tel:+15551234567#7) <-> bob (mailto:bob@example.org#1)")
    print(f"  path {path}, KEM backend {backend}, policy {policy.describe()}, "
          f"traffic {shape}, seed {seed}")
    print(f"  messages            {sent} (all decrypted and checked), {turns} turns "
          "(runs of messages in one direction)")
    print(f"  ECDH ratchet steps  {sa.ecdh_ratchets} seen by alice, {sb.ecdh_ratchets} by bob")
    print(f"  PQ rekeys           {sa.pq_rekeys} (ML-KEM-768 secrets mixed into the root key)")
    print(f"  wire bytes/message  {wire / sent:.1f} mean; plaintext {plain / sent:.1f}; "
          f"overhead {(wire - plain) / sent:.1f} bytes/message")
    print(f"  time                {elapsed:.3f} s ({sent / elapsed:,.0f} messages/s, "
          "both sides, signatures on)")
    if json_path is not None:
        doc: dict[str, Any] = {
            "schema": DEMO_SCHEMA,
            "path": path,
            "kem_backend": backend,
            "policy": policy.describe(),
            "traffic": str(shape),
            "seed": seed,
            "messages": sent,
            "turns": turns,
            "ecdh_ratchets": {"alice": sa.ecdh_ratchets, "bob": sb.ecdh_ratchets},
            "pq_rekeys": sa.pq_rekeys,
            "wire_bytes": wire,
            "plaintext_bytes": plain,
            "elapsed_s": elapsed,
            "messages_per_second": sent / elapsed,
        }
        write_json(json_path, doc)
        print(f"  json                {json_path}")
    return 0


def _demo_main(args: argparse.Namespace) -> int:
    shape = args.traffic
    if args.turn_mean is not None:
        shape = Traffic("bursty", args.turn_mean)
    return run_demo(args.messages, args.seed, RekeyPolicy.parse(args.policy), shape, args.json)


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run a two-device conversation and report what the protocol did",
        description="Run a conversation between two fresh devices: every message is "
        "encrypted, signed, decrypted and checked. Reports the turns, ratchet steps, PQ "
        "rekeys, wire overhead and speed.",
    )
    demo.add_argument("--messages", type=positive_int, default=1000,
                      help="messages in the conversation (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=1,
                      help="seed of the traffic and payloads; keys are always fresh "
                      "(default: %(default)s)")
    demo.add_argument("--policy", type=policy, default="default",
                      help=f"rekey policy: {POLICY_SYNTAX} (default: %(default)s, every 50 "
                      "messages or 7 days)")
    demo.add_argument("--traffic", type=traffic, default=traffic(DEFAULT_DEMO_TRAFFIC),
                      metavar="SHAPE",
                      help=f"who sends when: {TRAFFIC_SYNTAX} (default: {DEFAULT_DEMO_TRAFFIC}"
                      ", turns of 3 messages on average)")
    demo.add_argument("--json", metavar="PATH", type=output_file, default=None,
                      help="also write the report as JSON (default: none)")
    # The earlier spelling of --traffic bursty:MEAN, kept working but out of the help.
    demo.add_argument("--turn-mean", type=float_at_least(1.0), default=None,
                      help=argparse.SUPPRESS)
    demo.set_defaults(func=_demo_main)


def build_parser() -> argparse.ArgumentParser:
    """The whole `pq3proto` command line."""
    parser = argparse.ArgumentParser(
        prog="pq3proto",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pq3proto {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")
    _add_demo(sub)
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def _notice_marker() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    tag = hashlib.sha256(sys.prefix.encode()).hexdigest()[:16]
    return Path(cache) / "pq3proto" / f"python-path-notice-{tag}"


def python_path_notice(command: str | None) -> None:
    """Say once per installation, on stderr, that the C extension did not load."""
    if command == "doctor" or native.available():
        return
    if os.environ.get("PQ3PROTO_NATIVE", "").strip():
        return  # the user chose a path: 0 is Python, and 1 fails with its own error
    marker = _notice_marker()
    if marker.exists():
        return
    print(
        "pq3proto: the C extension is not loaded, so the slower pure-Python path "
        "runs.\npq3proto: `pq3proto doctor` says why and what to install; this notice "
        "is shown once.",
        file=sys.stderr,
    )
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # an unwritable cache only means the notice comes again


def main(argv: Sequence[str] | None = None) -> int:
    """Run `pq3proto` with `argv` (default: sys.argv[1:]); returns the exit status."""
    args = build_parser().parse_args(argv)
    python_path_notice(args.command)
    try:
        return int(args.func(args))
    except PQ3Error as e:
        print(f"pq3proto: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `pq3proto ... | head`: stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
