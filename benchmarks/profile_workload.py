"""Where a `pq3proto bench` workload spends its time: cProfile of its own runner.

Owns: one warm-up and one profiled repetition of a workload, printed by internal time.
Not: rates (use `pq3proto bench`; cProfile inflates the Python share).

Run: python benchmarks/profile_workload.py pingpong 2000 [--path python] [--top 25]
Instruction counts of the C path, steadier than time on a shared machine:
    valgrind --tool=callgrind --toggle-collect=pq3_floor_symmetric python -c \
        "from pq3proto import native; native.floor_symmetric(bytes(32), bytes(140), 2000)"
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

from pq3proto.bench.spec import WORKLOADS, BenchSpec, no_tick
from pq3proto.bench.workloads import make_runner
from pq3proto.benchmarks_support import selected_path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("workload", choices=WORKLOADS)
    p.add_argument("messages", type=int)
    p.add_argument("--path", choices=("native", "python"), default="native")
    p.add_argument("--turn-rate", type=float, default=0.1)
    p.add_argument("--policy", default="default")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    spec = BenchSpec(
        workload=args.workload,
        path=args.path,
        messages=args.messages,
        turn_rate=args.turn_rate,
        policy=args.policy,
    )
    with selected_path(args.path):
        runner = make_runner(spec)
        runner.run(min(args.messages, 500), no_tick)
        prof = cProfile.Profile()
        prof.enable()
        runner.run(args.messages, no_tick)
        prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
