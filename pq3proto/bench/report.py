"""The human summary of a result document."""

from __future__ import annotations

from typing import Any


def _fmt_rate(stats: dict[str, Any]) -> str:
    return (
        f"{stats['median']:>11,.0f}  (min {stats['min']:,.0f}, max {stats['max']:,.0f}, "
        f"stdev {stats['stdev']:,.0f}, {len(stats['repetitions'])} reps)"
    )


def format_summary(doc: dict[str, Any]) -> str:
    """The human summary of a result document."""
    r = doc["results"]
    p = doc["parameters"]
    m = doc["machine"]
    lines = [
        f"pq3proto bench: workload {doc['workload']}, path {doc['path']}, KEM "
        f"{doc.get('kem_backend')}, profile {doc.get('profile')}, "
        f"{doc['workers']} worker(s), {p['repeat']} repetition(s) of {p['messages']:,} "
        f"{'user messages' if doc['workload'] == 'fanout' else 'messages'} per worker",
        f"  counts      {doc['counts']}",
        f"  machine     {m['cpu_model']}, {m['cores_usable']} usable cores, Python "
        f"{m['python']}, libcrypto {m['openssl_system_libcrypto']['version']}, "
        f"cryptography {m['cryptography']} ({m['openssl_cryptography_wheel']})",
        f"  load        idle {doc['cpu_idle_before']} of all CPUs just before; load avg "
        f"before {doc['load_average']['before']}, "
        f"after {doc['load_average']['after']}; CPU/wall per worker "
        f"{r['cpu_seconds_per_wall_second_per_worker']:.2f}",
        f"  msgs/s      {_fmt_rate(r['messages_per_second'])}",
    ]
    lat = r["latency"]
    if lat.get("samples"):
        lines.append(
            f"  latency     p50 {lat['p50_us']:.2f} us, p90 {lat['p90_us']:.2f} us, "
            f"p99 {lat['p99_us']:.2f} us ({lat['basis']})"
        )
    if "parse_us_per_message" in r:
        lines.append(
            f"  parsing     {r['parse_us_per_message']:.2f} us/message with parse_message "
            "(not counted: open_packed parses in C)"
            if not p["include_parse"]
            else f"  parsing     {r['parse_us_per_message']:.2f} us/message (counted)"
        )
    if "time_split" in r:
        t = r["time_split"]
        if t["turn_messages"] and t["steady_messages"]:
            lines.append(
                f"  time split  steady {t['steady_mean_us']:.1f} us/msg x {t['steady_messages']:,}"
                f"; turn {t['turn_mean_us']:.1f} us/msg x {t['turn_messages']:,} "
                f"({t['turn_share_of_time'] * 100:.0f}% of the time)"
            )
    if "user_messages_per_second" in r:
        lines.append(f"  user msgs/s {_fmt_rate(r['user_messages_per_second'])}")
    if r["events"]:
        ev = ", ".join(f"{k} {v:,}" for k, v in r["events"].items())
        lines.append(f"  events      {ev} (all repetitions and workers)")
    if "single_worker" in r:
        lines.append(f"  1 worker    {_fmt_rate(r['single_worker']['messages_per_second'])}")
        lines.append(
            f"  scaling     {r['scaling_efficiency']:.2f} = aggregate / "
            f"({doc['workers']} x single-worker rate, same run)"
        )
    for w in r.get("per_worker", []):
        fl = w["floor_messages_per_second"]
        lines.append(
            f"  worker {w['index']:<4}{w['messages_per_second']:>11,.0f}  on {w['host']} "
            f"({w['cpu_model']}, {w['cores_usable']} cores)"
            + (f", floor {fl:,.0f}" if fl is not None else "")
        )
    if "cores_for_target" in r:
        c = r["cores_for_target"]
        extra = (
            f" ({c['cores_at_measured_efficiency']:,} at the measured scaling)"
            if "cores_at_measured_efficiency" in c
            else ""
        )
        lines.append(
            f"  cores       {c['cores']:,} for {c['target_messages_per_second']:,} msgs/s at "
            f"{c['per_core_messages_per_second']:,.0f} msgs/s per core{extra}"
        )
    if "floor" in r:
        f = r["floor"]
        parts = " + ".join(
            f"{k} {c['us']:.2f}" + (f" x {c['per_message']:.3g}" if c["per_message"] != 1 else "")
            for k, c in f["components"].items()
        )
        lines.append(
            f"  floor       {f['messages_per_second']:,.0f} msgs/s = {f['us_per_message']:.2f} "
            f"us/msg = {parts} (us x per message, {f['path']} path, {f['rounds']} rounds)"
        )
        spread = r["over_floor_per_repetition"]
        lines.append(
            f"  over floor  {r['over_floor']:.3f} (single worker; per repetition "
            f"{min(spread):.3f}-{max(spread):.3f})"
        )
    if "compare" in r:
        c = r["compare"]
        if "python" in c:
            lines.append(
                f"  python      {_fmt_rate(c['python']['messages_per_second'])} "
                f"({c['python_messages']:,} messages per repetition)"
            )
            lines.append(f"  native/py   {c['native_over_python']:.2f}x")
        else:
            lines.append(f"  compare     {c['note']}")
    return "\n".join(lines)

