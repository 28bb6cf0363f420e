"""The `pq3proto` command: demo, and the subcommands other layers register.

Owns: argument parsing and the demo conversation.
Not: benchmarks (bench.py), vectors (vectors/), experiments (experiments/): each of those
adds its own subcommand through an `add_parser(subparsers)` function.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import time
from collections.abc import Sequence

from . import __version__, kem
from .errors import PQ3Error
from .identity import Device
from .message import hot_path
from .policy import RekeyPolicy
from .session import Session

# Modules that contribute subcommands, each through add_parser(subparsers).
_SUBCOMMAND_MODULES = (
    "pq3proto.bench",
    "pq3proto.vectors.cli",
    "pq3proto.experiments.cli",
    "pq3proto.experiments.trace_cli",
)

_WORDS = (
    "ok see you at noon the train is late call me when you land did you get the file "
    "lunch tomorrow? sounds good running ten minutes behind photos from the weekend"
).split()


def _payload(rng: random.Random) -> bytes:
    n = max(1, int(rng.lognormvariate(2.0, 0.9)))
    return " ".join(rng.choice(_WORDS) for _ in range(n)).encode()


def run_demo(messages: int, seed: int | None, policy: RekeyPolicy, turn_mean: float) -> int:
    """A conversation between two devices; every message must decrypt. Returns exit code."""
    rng = random.Random(seed)
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    alice = Device.generate("tel:+15551234567", device_id=7)
    t0 = time.perf_counter()
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle(), policy=policy)
    first = _payload(rng)
    # The demo keeps its devices in memory; a real application persists the device here.
    b, got = Session.accept(
        bob, alice.public_identity(), a.encrypt(first), save_device=lambda _: None, policy=policy
    )
    if got != first:
        print("first message did not decrypt", file=sys.stderr)
        return 1
    sender, receiver = a, b
    turns = 1
    for _ in range(messages - 1):
        if rng.random() < 1.0 / turn_mean:
            sender, receiver = receiver, sender
            turns += 1
        pt = _payload(rng)
        if receiver.decrypt(sender.encrypt(pt)) != pt:
            print("a message did not decrypt to what was sent", file=sys.stderr)
            return 1
    elapsed = time.perf_counter() - t0
    sa, sb = a.stats, b.stats
    sent = sa.sent + sb.sent
    wire = sa.wire_bytes + sb.wire_bytes
    plain = sa.plaintext_bytes + sb.plaintext_bytes
    print("pq3proto demo: alice (tel:+15551234567#7) <-> bob (mailto:bob@example.org#1)")
    print(f"  path {hot_path().name}, KEM backend {kem.get_backend().name}, "
          f"policy {policy.describe()}")
    print(f"  messages            {sent} (all decrypted and checked), {turns} turns "
          "(runs of messages in one direction)")
    print(f"  ECDH ratchet steps  {sa.ecdh_ratchets} seen by alice, {sb.ecdh_ratchets} by bob")
    print(f"  PQ rekeys           {sa.pq_rekeys} (ML-KEM-768 secrets mixed into the root key)")
    print(f"  wire bytes/message  {wire / sent:.1f} mean; plaintext {plain / sent:.1f}; "
          f"overhead {(wire - plain) / sent:.1f} bytes/message")
    print(f"  time                {elapsed:.3f} s ({sent / elapsed:,.0f} messages/s, "
          "both sides, signatures on)")
    return 0


def _demo_main(args: argparse.Namespace) -> int:
    return run_demo(args.messages, args.seed, RekeyPolicy.parse(args.policy), args.turn_mean)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pq3proto", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pq3proto {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a two-device conversation and report")
    demo.add_argument("--messages", type=int, default=1000, help="messages (default 1000)")
    demo.add_argument("--seed", type=int, default=None, help="seed for the traffic pattern")
    demo.add_argument("--policy", default="default",
                      help="default | never | every-turn | N | N:SECONDS")
    demo.add_argument("--turn-mean", type=float, default=3.0,
                      help="mean messages per turn before the direction changes (default 3)")
    demo.set_defaults(func=_demo_main)
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except PQ3Error as e:
        print(f"pq3proto: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
