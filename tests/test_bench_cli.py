"""Functional tests of `pq3proto bench`: tiny runs of every workload, the JSON it writes.

Owns: that each workload runs through pq3proto.cli.main, that the JSON has the documented
keys and sane values, that --workers, --path python, --compare and the progress bar work.
Not: speed. Nothing here asserts a rate: a test checks, a benchmark measures.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from pq3proto import bench
from pq3proto.benchmarks_support import cpu_idle_fraction, native_available
from pq3proto.cli import main
from pq3proto.progress import Progress

REQUIRED = {
    "schema",
    "workload",
    "path",
    "workers",
    "messages_per_second",
    "counts",
    "machine",
    "revision",
    "parameters",
    "results",
    "load_average",
    "cpu_idle_before",
}
MACHINE = {
    "cpu_model",
    "cores_logical",
    "cores_usable",
    "python",
    "platform",
    "openssl_system_libcrypto",
    "openssl_cryptography_wheel",
    "cryptography",
}


def run(tmp_path: Path, *argv: str) -> dict[str, Any]:
    out = tmp_path / "result.json"
    rc = main(
        [
            "bench",
            *argv,
            "--repeat",
            "1",
            "--warmup",
            "10",
            "--idle-sample",
            "0",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def check_rate(stats: dict[str, Any]) -> None:
    for key in ("min", "median", "max", "stdev"):
        assert math.isfinite(stats[key]) and stats[key] >= 0
    assert 0 < stats["min"] <= stats["median"] <= stats["max"]


def check_common(doc: dict[str, Any], workload: str, workers: int = 1) -> None:
    assert doc.keys() >= REQUIRED
    assert doc["schema"] == bench.SCHEMA
    assert doc["workload"] == workload
    assert doc["path"] in ("native", "python")
    assert doc["workers"] == workers
    assert doc["messages_per_second"] > 0
    assert doc["machine"].keys() >= MACHINE
    assert doc["machine"]["cores_logical"] >= 1
    assert {"commit", "dirty"} <= doc["revision"].keys()
    assert "one " in doc["counts"] and "=" in doc["counts"]
    res = doc["results"]
    check_rate(res["messages_per_second"])
    assert res["messages_per_second"]["median"] == doc["messages_per_second"]
    lat = res["latency"]
    assert lat["samples"] > 0
    assert 0 < lat["p50_us"] <= lat["p90_us"] <= lat["p99_us"]


def test_symmetric(tmp_path: Path) -> None:
    doc = run(tmp_path, "--workload", "symmetric", "--messages", "300", "--batch", "64")
    check_common(doc, "symmetric")
    assert "signatures off" in doc["counts"]
    assert doc["results"]["messages_per_repetition"] == [300]
    assert doc["results"]["parse_us_per_message"] > 0
    assert doc["parameters"]["payload"] == 140


def test_symmetric_partial_batch_and_parse(tmp_path: Path) -> None:
    doc = run(
        tmp_path,
        "--workload",
        "symmetric",
        "--messages",
        "70",
        "--batch",
        "32",
        "--include-parse",
        "--payload",
        "0",
    )
    check_common(doc, "symmetric")
    assert doc["results"]["messages_per_repetition"] == [70]
    assert "parsing (parse_message) included" in doc["counts"]


def test_full_has_floor(tmp_path: Path) -> None:
    doc = run(
        tmp_path,
        "--workload",
        "full",
        "--messages",
        "200",
        "--turn-rate",
        "0.5",
        "--floor-messages",
        "64",
    )
    check_common(doc, "full")
    res = doc["results"]
    floor = res["floor"]
    assert floor["sign_us"] > 0 and floor["verify_us"] > 0
    assert floor["messages_per_second"] > 0
    assert res["full_over_floor"] > 0
    assert res["events"]["direction_changes"] > 0
    assert res["events"]["ecdh_steps_both_sides"] == 2 * res["events"]["direction_changes"]


def test_pingpong_turns_every_message(tmp_path: Path) -> None:
    doc = run(tmp_path, "--workload", "pingpong", "--messages", "100", "--policy", "every-turn")
    check_common(doc, "pingpong")
    ev = doc["results"]["events"]
    assert ev["direction_changes"] == 100
    assert ev["pq_secrets_mixed_both_sides"] > 0
    assert doc["parameters"]["turn_rate_effective"] == 1.0


def test_fanout_counts_deliveries_and_user_messages(tmp_path: Path) -> None:
    doc = run(tmp_path, "--workload", "fanout", "--messages", "20", "--recipients", "3")
    check_common(doc, "fanout")
    res = doc["results"]
    assert res["messages_per_repetition"] == [60]
    assert res["events"]["user_messages"] == 20
    ratio = res["messages_per_second"]["median"] / res["user_messages_per_second"]["median"]
    assert ratio == pytest.approx(3)
    assert "deliveries" in doc["counts"]


def test_workers(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="--workers N > 1 runs on Dask (cluster extra)")
    doc = run(tmp_path, "--workload", "symmetric", "--messages", "256", "--workers", "2")
    check_common(doc, "symmetric", workers=2)
    res = doc["results"]
    assert res["messages_per_repetition"] == [512]
    assert len(res["per_worker_median_messages_per_second"]) == 2
    assert res["single_worker"]["workers"] == 1
    assert res["scaling_efficiency"] > 0


def test_path_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PQ3PROTO_NATIVE", raising=False)
    doc = run(
        tmp_path,
        "--workload",
        "full",
        "--messages",
        "50",
        "--path",
        "python",
        "--floor-messages",
        "16",
    )
    check_common(doc, "full")
    assert doc["path"] == "python"
    assert "cryptography" in doc["results"]["floor"]["method"]
    assert "PQ3PROTO_NATIVE" not in os.environ  # the run restores the environment


@pytest.mark.skipif(not native_available(), reason="native hot path not built")
def test_compare(tmp_path: Path) -> None:
    doc = run(
        tmp_path,
        "--workload",
        "symmetric",
        "--messages",
        "128",
        "--path",
        "native",
        "--compare",
        "--compare-messages",
        "64",
    )
    check_common(doc, "symmetric")
    cmp_ = doc["results"]["compare"]
    check_rate(cmp_["python"]["messages_per_second"])
    assert cmp_["native_over_python"] > 0


def test_compare_on_python_path_is_a_note(tmp_path: Path) -> None:
    doc = run(tmp_path, "--messages", "64", "--path", "python", "--compare")
    assert "note" in doc["results"]["compare"]


def test_summary_on_stdout_progress_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, "--messages", "64", "--progress", "on")
    out, err = capsys.readouterr()
    assert "msgs/s" in out and "counts" in out
    assert "100.0%" in err and "[" in err


def test_bad_arguments_fail_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--messages", "0"]) == 2
    assert main(["bench", "--turn-rate", "2"]) == 2
    assert main(["bench", "--policy", "sometimes"]) == 2
    with pytest.raises(SystemExit):
        main(["bench", "--workload", "nope"])


def test_progress_bar_draws_and_finishes() -> None:
    stream = io.StringIO()
    p = Progress(10, "x", True, stream)
    p.advance(5)
    p.advance(5)
    p.close()
    assert stream.getvalue().endswith("\n") and "100.0%" in stream.getvalue()


def test_idle_fraction_is_a_share() -> None:
    idle = cpu_idle_fraction(0.05)
    assert idle is None or 0.0 <= idle <= 1.0
