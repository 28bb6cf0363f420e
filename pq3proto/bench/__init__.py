"""`pq3proto bench`: messages per second that say exactly what they count.

Modules: spec (what a run and a counted message are), workloads (the timed loops), runs
(repetitions, workers, statistics), floors (the hardware floor measured in the same run),
report (the human summary), command (arguments, the run, the JSON document).
Not: per-operation micro-benchmarks (benchmarks/, pytest-benchmark), protocol code, or the
C path: everything runs through Session and the HotPath interface the session would use.
"""

from __future__ import annotations

from .command import add_parser, run_bench
from .report import format_summary
from .spec import SCHEMA, WORKLOADS, BenchSpec

__all__ = ["SCHEMA", "WORKLOADS", "BenchSpec", "add_parser", "format_summary", "run_bench"]
