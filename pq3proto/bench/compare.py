"""`pq3proto bench compare A.json B.json`: each figure side by side, its change and noise band.

Owns: reading two result documents, the figures compared and which way is better, the noise
band of each (from the spread of its repetitions), the verdict and the exit code.
Not: running benchmarks (command.py).

A figure regressed when it moved the wrong way by more than both its noise band and the
threshold. The noise band of a figure is the sum over both runs of half its relative range
across repetitions ((max - min) / 2 / median); two runs whose ranges do not overlap differ
by more than it. Figures without repetitions are shown but never gate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import MalformedInputError, MisuseError

SCHEMAS = ("pq3proto-bench/1", "pq3proto-bench/2")
DEFAULT_THRESHOLD = 5.0  # percent

Getter = Callable[[dict[str, Any]], tuple[float, list[float] | None] | None]


@dataclass(frozen=True)
class Figure:
    name: str
    higher_is_better: bool
    get: Getter


@dataclass(frozen=True)
class Row:
    name: str
    a: float
    b: float
    change_pct: float
    band_pct: float | None  # None: no repetitions, informational only
    verdict: str  # "ok" | "better" | "REGRESSED" | "info"


def _dig(doc: dict[str, Any], path: str) -> Any:
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _rate(path: str) -> Getter:
    """A rate_stats block: its median and per-repetition values."""

    def get(doc: dict[str, Any]) -> tuple[float, list[float] | None] | None:
        stats = _dig(doc, path)
        if not isinstance(stats, dict) or not isinstance(stats.get("median"), int | float):
            return None
        reps = stats.get("repetitions")
        return float(stats["median"]), [float(x) for x in reps] if reps else None

    return get


def _value(path: str, reps_path: str | None = None) -> Getter:
    """A single number, with per-repetition values at reps_path when there are any."""

    def get(doc: dict[str, Any]) -> tuple[float, list[float] | None] | None:
        v = _dig(doc, path)
        if not isinstance(v, int | float) or isinstance(v, bool):
            return None
        reps = _dig(doc, reps_path) if reps_path else None
        if isinstance(reps, list) and reps:
            return float(v), [float(x) for x in reps]
        return float(v), None

    return get


FIGURES = (
    Figure("messages_per_second", True, _rate("results.messages_per_second")),
    Figure("wall_messages_per_second", True, _rate("results.wall_messages_per_second")),
    Figure("user_messages_per_second", True, _rate("results.user_messages_per_second")),
    Figure("single_worker.messages_per_second", True,
           _rate("results.single_worker.messages_per_second")),
    Figure("scaling_efficiency", True, _value("results.scaling_efficiency")),
    Figure("floor.messages_per_second", True,
           _value("results.floor.messages_per_second",
                  "results.floor.messages_per_second_per_round")),
    Figure("over_floor", True,
           _value("results.over_floor", "results.over_floor_per_repetition")),
    Figure("compare.python.messages_per_second", True,
           _rate("results.compare.python.messages_per_second")),
    Figure("compare.native_over_python", True, _value("results.compare.native_over_python")),
    Figure("latency.p50_us", False, _value("results.latency.p50_us")),
    Figure("latency.p99_us", False, _value("results.latency.p99_us")),
    Figure("time_split.steady_mean_us", False, _value("results.time_split.steady_mean_us")),
    Figure("time_split.turn_mean_us", False, _value("results.time_split.turn_mean_us")),
    Figure("parse_us_per_message", False, _value("results.parse_us_per_message")),
)


def _half_range(value: float, reps: list[float]) -> float:
    return (max(reps) - min(reps)) / 2 / value * 100 if value else 0.0


def _component_figures(a: dict[str, Any], b: dict[str, Any]) -> list[Figure]:
    comps_a = _dig(a, "results.floor.components")
    comps_b = _dig(b, "results.floor.components")
    if not isinstance(comps_a, dict) or not isinstance(comps_b, dict):
        return []
    names = [k for k in comps_a if k in comps_b]
    return [Figure(f"floor.{k}_us", False, _value(f"results.floor.components.{k}.us"))
            for k in names]


def load(path: str) -> dict[str, Any]:
    """A result document from a file; MalformedInputError if it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise MalformedInputError(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedInputError(f"{path} is not JSON") from None
    if not isinstance(doc, dict) or doc.get("schema") not in SCHEMAS:
        raise MalformedInputError(
            f"{path} is not a pq3proto bench result (schema one of {', '.join(SCHEMAS)})"
        )
    if not isinstance(doc.get("results"), dict):
        raise MalformedInputError(f"{path} has no results")
    return doc


def compare(a: dict[str, Any], b: dict[str, Any], threshold: float) -> list[Row]:
    """Every figure both documents have, A then B, with its verdict."""
    if threshold < 0:
        raise MisuseError("--threshold must be >= 0")
    if a.get("workload") != b.get("workload"):
        raise MisuseError(
            f"cannot compare a {a.get('workload')!r} run with a {b.get('workload')!r} run"
        )
    rows = []
    same_floor = a.get("schema") == b.get("schema")
    for fig in (*FIGURES, *_component_figures(a, b)):
        if not same_floor and fig.name in _FLOOR_FIGURES:
            continue
        ga, gb = fig.get(a), fig.get(b)
        if ga is None or gb is None or ga[0] == 0:
            continue
        (va, ra), (vb, rb) = ga, gb
        change = (vb - va) / va * 100
        band: float | None = None
        if ra is not None and rb is not None:
            band = _half_range(va, ra) + _half_range(vb, rb)
        worse = -change if fig.higher_is_better else change
        if band is None:
            verdict = "info"
        elif worse > max(band, threshold):
            verdict = "REGRESSED"
        elif -worse > max(band, threshold):
            verdict = "better"
        else:
            verdict = "ok"
        rows.append(Row(fig.name, va, vb, change, band, verdict))
    return rows


# Schema 1 had a different floor (ECDSA only): these are compared within one schema only.
_FLOOR_FIGURES = ("floor.messages_per_second", "over_floor")
_NOTE_KEYS = ("schema", "path", "workers", "kem_backend", "profile")
_PARAM_KEYS = ("payload", "policy", "turn_rate", "recipients", "batch", "include_parse",
               "messages", "repeat")


def notes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Differences between the runs that a reader of the figures should know."""
    out = []
    for k in _NOTE_KEYS:
        if a.get(k) != b.get(k):
            out.append(f"{k}: {a.get(k)} -> {b.get(k)}")
    if a.get("schema") != b.get("schema"):
        out.append("the floor changed definition between the schemas: floor and over_floor "
                   "are not compared")
    pa, pb = a.get("parameters") or {}, b.get("parameters") or {}
    for k in _PARAM_KEYS:
        if pa.get(k) != pb.get(k):
            out.append(f"parameter {k}: {pa.get(k)} -> {pb.get(k)}")
    ma, mb = _dig(a, "machine.cpu_model"), _dig(b, "machine.cpu_model")
    if ma != mb:
        out.append(f"machine: {ma} -> {mb} (absolute rates are not comparable)")
    return out


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}"


def format_rows(a: dict[str, Any], b: dict[str, Any], rows: list[Row], threshold: float) -> str:
    ra, rb = _dig(a, "revision.commit") or "?", _dig(b, "revision.commit") or "?"
    lines = [
        f"pq3proto bench compare: workload {a.get('workload')}, A {str(ra)[:10]} "
        f"({a.get('started_at')}) -> B {str(rb)[:10]} ({b.get('started_at')}); "
        f"threshold {threshold:g}%",
        f"  {'figure':<36} {'A':>12} {'B':>12} {'change':>9} {'noise band':>11}  verdict",
    ]
    for r in rows:
        band = f"±{r.band_pct:.1f}%" if r.band_pct is not None else "n/a"
        lines.append(
            f"  {r.name:<36} {_fmt(r.a):>12} {_fmt(r.b):>12} {r.change_pct:>+8.1f}% "
            f"{band:>11}  {r.verdict}"
        )
    for n in notes(a, b):
        lines.append(f"  note        {n}")
    bad = [r.name for r in rows if r.verdict == "REGRESSED"]
    lines.append(
        f"  result      {len(bad)} figure(s) regressed beyond noise band and threshold"
        + (f": {', '.join(bad)}" if bad else "")
    )
    return "\n".join(lines)


def run_compare(path_a: str, path_b: str, threshold: float) -> tuple[str, int]:
    """The printed comparison and the exit code (1 if any figure regressed)."""
    a, b = load(path_a), load(path_b)
    rows = compare(a, b, threshold)
    text = format_rows(a, b, rows, threshold)
    return text, 1 if any(r.verdict == "REGRESSED" for r in rows) else 0
