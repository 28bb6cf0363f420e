"""A time-bounded fuzzing run over every decoder of the public API (tests/test_hostile_input.py).

    .venv/bin/python -m fuzz.run --seconds 600 [--seed N] [--crashes DIR]

Run it from the repository root, with the test extras installed (`pip install -e '.[test]'`).

Runs the same targets as the property tests (random bytes, mutations of valid encodings,
messages re-signed by a misbehaving peer) with a seeded `random.Random`, on every hot path
that is built, until the time is up; prints how many inputs it tried per target. Any
exception other than PQ3Error (or a broken invariant) is printed with its input, saved under
--crashes, and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from types import ModuleType

from pq3proto import PQ3Error
from pq3proto.cliargs import nonnegative_float

ROOT = Path(__file__).resolve().parent.parent


def load_targets() -> ModuleType:
    """The property-test module, whose targets and valid encodings the fuzzer reuses."""
    spec = importlib.util.spec_from_file_location(
        "pq3_hostile_targets", ROOT / "tests" / "test_hostile_input.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def mutate(rng: random.Random, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        n = len(data)
        kind = rng.choice(("flip", "byte", "truncate", "extend", "splice", "insert", "dup"))
        if kind == "flip" and n:
            data[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif kind == "byte" and n:
            data[rng.randrange(n)] = rng.randrange(256)
        elif kind == "truncate":
            del data[rng.randint(0, n) :]
        elif kind == "extend":
            data += rng.randbytes(rng.randint(1, 16))
        elif kind == "splice" and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(0, 128))
            data[i:j] = rng.randbytes(rng.randint(0, 128))
        elif kind == "insert":
            i = rng.randint(0, n)
            data[i:i] = rng.randbytes(rng.randint(1, 16))
        elif kind == "dup" and n:
            i = rng.randrange(n)
            data[i:i] = data[i : i + rng.randint(1, 64)]
    return bytes(data)


def signed_message(m: ModuleType, rng: random.Random) -> bytes:
    """A message from the peer's own key with random fields (see peer_messages in the tests)."""
    from dataclasses import replace

    from pq3proto.wire import parse_message

    msg = parse_message(m.WORLD.reply)
    h = msg.header
    start = parse_message(m.WORLD.start).header
    point = rng.choice([h.ecdh_public_key, start.ecdh_public_key, m.OFF_CURVE, m.INFINITY,
                        b"\x04" + rng.randbytes(64), b"\x03" + h.ecdh_public_key[1:]])
    header = replace(
        h,
        ecdh_public_key=point,
        kem_ciphertext=rng.choice([h.kem_ciphertext, None, rng.randbytes(1088)]),
        kem_public_key=rng.choice([h.kem_public_key, None, rng.randbytes(1184)]),
    )
    if rng.random() < 0.2:
        header = replace(header, prekey_hash=start.prekey_hash,
                         start_ciphertext=start.start_ciphertext, kem_ciphertext=None)
    index = rng.choice([msg.index, rng.randrange(1 << 32), rng.randint(0, 2100)])
    indicator = rng.choice([msg.indicator, rng.randbytes(32)])
    ct = rng.choice([msg.ciphertext, rng.randbytes(rng.randint(0, 64))])
    return bytes(m.signed(header, index, indicator, rng.randbytes(rng.randint(0, 8)), ct))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog=".venv/bin/python -m fuzz.run", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--seconds", type=nonnegative_float, default=600.0,
                    help="time budget (default 600)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the inputs (default 0)")
    ap.add_argument("--crashes", default=str(ROOT / "fuzz" / "crashes"),
                    help="where failing inputs are saved")
    args = ap.parse_args(argv)

    try:
        m = load_targets()
    except ModuleNotFoundError as e:  # the targets live in the tests, which need the test extras
        print(f"fuzz: {e.name} is missing; the fuzzer reuses the property tests, so it needs "
              "the test extras: .venv/bin/pip install -e '.[test]'", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    encodings = m.WORLD.encodings()
    names = [*sorted(m.TARGETS), "signed-peer"]
    tried: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    failures = 0
    deadline = time.monotonic() + args.seconds
    last_report = time.monotonic()
    while time.monotonic() < deadline:
        name = rng.choice(names)
        path = rng.choice(m.PATHS)
        if name == "signed-peer":
            target, data = m.t_peer_decrypt, signed_message(m, rng)
        else:
            target, base = m.TARGETS[name]
            r = rng.random()
            if r < 0.15:
                data = rng.randbytes(rng.randint(0, 512))
            elif r < 0.25:
                other = encodings[rng.choice(sorted(encodings))]
                data = mutate(rng, other)
            else:
                data = mutate(rng, encodings[base])
        tried[name] += 1
        try:
            with m.hot_path(path):
                target(data)
        except PQ3Error:
            rejected[name] += 1
        except Exception:
            failures += 1
            out = Path(args.crashes)
            out.mkdir(parents=True, exist_ok=True)
            file = out / f"{name}-{tried.total()}.bin"
            file.write_bytes(data)
            print(f"FAIL {name} (path {path}), input saved to {file}:", file=sys.stderr)
            traceback.print_exc()
        if time.monotonic() - last_report > 10:
            last_report = time.monotonic()
            print(f"  {tried.total():,} inputs, {failures} failures", file=sys.stderr)
    print(f"fuzz: {tried.total():,} inputs in {args.seconds:g} s (seed {args.seed}), "
          f"{failures} failures")
    for name in names:
        print(f"  {name:<18} {tried[name]:>8,} tried  {rejected[name]:>8,} rejected (PQ3Error)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
