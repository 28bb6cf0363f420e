"""How much of a conversation workload's time is C, per message kind, next to its floor.

Owns: one runner of `pq3proto bench` (full, pingpong or fanout), every call into the C
extension timed by a thin proxy (no profiler: the Python in between runs at its own speed,
plus the proxy's own timing, about 0.25 µs per C call), the medians per message kind
(steady or turn, with or without rekey material) of encrypt and decrypt split into C and the
rest, each C function's cost per call, and one round of the workload's floor components,
same process.
"The rest" is Python, cffi argument conversion and the ML-KEM calls (through `cryptography`,
not the extension).

Run: python benchmarks/c_share_workload.py full 20000
     python benchmarks/c_share_workload.py pingpong 5000
     python benchmarks/c_share_workload.py fanout 2000     # N user messages, 5 deliveries each
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from pq3proto import native
from pq3proto.bench.floors import FloorMeter
from pq3proto.bench.spec import BenchSpec, no_tick
from pq3proto.bench.workloads import ConversationRunner, FanoutRunner, make_runner

_REKEY_SIZE = 600  # a wire message this long carries a KEM key or ciphertext


class _TimedLib:
    """native._lib with every pq3_ call timed into `per_call` and the running `c_ns`."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.c_ns = 0
        self.per_call: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def __getattr__(self, name: str) -> Any:
        # Called once per name: the result is kept as an attribute, so later lookups cost
        # what a module attribute costs and the proxy adds only the timing call itself.
        f = getattr(self.lib, name)
        if not name.startswith("pq3_"):
            setattr(self, name, f)
            return f
        acc = self.per_call[name]
        clock = time.perf_counter_ns

        def timed(*args: Any) -> Any:
            t0 = clock()
            rc = f(*args)
            dt = clock() - t0
            self.c_ns += dt
            acc[0] += dt
            acc[1] += 1
            return rc

        setattr(self, name, timed)
        return timed


def _pairs(runner: Any, n: int, turn_rate: float) -> list[tuple[Any, Any, bool]]:
    """The (sender, receiver, turned) sequence the workload's own run() would use."""
    if isinstance(runner, FanoutRunner):
        return [(s, r, False) for _ in range(n) for s, r in runner.pairs]
    assert isinstance(runner, ConversationRunner)
    s, r = runner.sender, runner.receiver
    out = []
    for _ in range(n):
        turned = turn_rate >= 1.0 or runner.rng.random() < turn_rate
        if turned:
            s, r = r, s
        out.append((s, r, turned))
    runner.sender, runner.receiver = s, r
    return out


def _proxy_cost_us(calls: int = 100_000) -> tuple[float, float]:
    """(direct, through a _TimedLib) µs of one pq3_wire_length call: the proxy's own share."""
    lib = native._lib
    out = []
    for obj in (lib, _TimedLib(lib)):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            obj.pq3_wire_length(67, 0, 140)
        out.append((time.perf_counter_ns() - t0) / calls / 1000)
    return out[0], out[1]


def main() -> None:
    workload, n = sys.argv[1], int(sys.argv[2])
    spec = BenchSpec(workload=workload, path="native", messages=n)
    runner = make_runner(spec)
    runner.run(500 if workload != "fanout" else 100, no_tick)
    floor = FloorMeter(spec, 4096)
    floor.round()
    pt = runner.pool[0]  # type: ignore[attr-defined]
    timed = _TimedLib(native._lib)
    kinds: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
    clock: Callable[[], int] = time.perf_counter_ns
    native._lib = timed
    try:
        for s, r, turned in _pairs(runner, n, spec.effective_turn_rate()):
            c0 = timed.c_ns
            t0 = clock()
            wire = s.encrypt(pt)
            t1 = clock()
            c1 = timed.c_ns
            if r.decrypt(wire) != pt:
                raise AssertionError("round trip failed")
            t2 = clock()
            kind = ("turn" if turned else "steady") + ("+rekey" if len(wire) > _REKEY_SIZE else "")
            kinds[kind].append((t1 - t0, c1 - c0, t2 - t1, timed.c_ns - c1))
    finally:
        native._lib = timed.lib
    floor.round()
    floor.round()
    total = sum(len(v) for v in kinds.values())
    print(f"{workload}: {total} messages; medians in us (C = calls into the extension)")
    for kind, rows in sorted(kinds.items()):
        e, ce, d, cd = (statistics.median(col) / 1000 for col in zip(*rows, strict=True))
        print(
            f"  {kind:13s} {len(rows) / total:6.1%}  encrypt {e:6.1f} (C {ce:6.1f}, rest "
            f"{e - ce:5.1f})  decrypt {d:6.1f} (C {cd:6.1f}, rest {d - cd:5.1f})"
        )
    print("  C functions, per call (us) and calls per message:")
    for name, (ns, calls) in sorted(timed.per_call.items(), key=lambda kv: -kv[1][0]):
        print(f"    {name:24s} {ns / calls / 1000:8.2f}  x {calls / total:.4f}")
    comps = {k: round(float(np.median(v)), 2) for k, v in floor.samples.items()}
    print(f"  floor components, same process (us): {comps}")
    direct, proxied = _proxy_cost_us()
    print(
        f"  one C call direct {direct:.2f} us, through the proxy {proxied:.2f} us "
        "(the difference is the proxy's)"
    )


if __name__ == "__main__":
    main()
