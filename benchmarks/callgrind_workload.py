"""Instructions per counted message of a `pq3proto bench` workload, for callgrind.

Owns: one warm-up and N messages of a workload's own runner, nothing timed. Instruction
counts do not drift with the machine's load as rates do, so two revisions compare exactly:
run it with N and with 0 under callgrind and divide the difference by the counted messages.

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=p300.out \\
        python benchmarks/callgrind_workload.py pingpong 300
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=p0.out \\
        python benchmarks/callgrind_workload.py pingpong 0
    callgrind_annotate p300.out | grep TOTALS; callgrind_annotate p0.out | grep TOTALS

fanout counts deliveries: N user messages are N x 5 deliveries.
"""

from __future__ import annotations

import sys

from pq3proto.bench.spec import BenchSpec, no_tick
from pq3proto.bench.workloads import make_runner


def main() -> None:
    workload, n = sys.argv[1], int(sys.argv[2])
    spec = BenchSpec(workload=workload, path="native", messages=max(n, 1))
    runner = make_runner(spec)
    runner.run(64 if workload != "fanout" else 10, no_tick)
    if n:
        runner.run(n, no_tick)


if __name__ == "__main__":
    main()
