"""Best-of timing of a conversation workload: the least µs per message over 40 rounds of 200.

Owns: one runner of `pq3proto bench`, rounds of 200 messages, the minimum per-message time.
The minimum is the figure least touched by other jobs on a shared machine; alternate two
revisions' runs (PYTHONPATH) to compare them.

Run: python benchmarks/best_of_workload.py WORKLOAD TURN_RATE POLICY
     python benchmarks/best_of_workload.py full 0 never     # steady messages only
     python benchmarks/best_of_workload.py pingpong 1 default
"""

from __future__ import annotations

import sys

from pq3proto.bench.spec import BenchSpec, no_tick
from pq3proto.bench.workloads import make_runner


def main() -> None:
    workload, turn_rate, policy = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    spec = BenchSpec(
        workload=workload, path="native", messages=200, turn_rate=turn_rate, policy=policy
    )
    runner = make_runner(spec)
    runner.run(200, no_tick)
    best = float("inf")
    for _ in range(40):
        rep = runner.run(200, no_tick)
        best = min(best, rep.elapsed_s / rep.messages * 1e6)
    print(f"{workload}: best {best:.1f} us per message (40 rounds of 200)")


if __name__ == "__main__":
    main()
