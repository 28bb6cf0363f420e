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
    "kem_backend",
    "profile",
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
    check_floor(doc)


FLOOR_PARTS = {
    "symmetric": {"symmetric"},
    "fanout": {"symmetric", "sign", "verify"},
    "full": {"symmetric", "sign", "verify", "keygen", "ecdh", "root_kdf", "kem_keygen",
             "kem_encaps", "kem_decaps"},
}
FLOOR_PARTS["pingpong"] = FLOOR_PARTS["full"]


def check_floor(doc: dict[str, Any]) -> None:
    """Every workload: a floor made of its components, and the rate over it."""
    res = doc["results"]
    floor = res["floor"]
    comps = floor["components"]
    assert set(comps) == FLOOR_PARTS[doc["workload"]]
    for c in comps.values():
        assert c["us"] > 0 and c["per_message"] >= 0 and len(c["definition"]) > 20
    total = sum(c["us"] * c["per_message"] for c in comps.values())
    assert floor["us_per_message"] == pytest.approx(total)
    assert floor["messages_per_second"] == pytest.approx(1e6 / total)
    assert floor["path"] == doc["path"]
    base = res.get("single_worker", res)
    assert floor["rounds"] == len(base["messages_per_second"]["repetitions"])
    # Timed work in local and cluster runs alike (a cluster's messages_per_second is over
    # the common window).
    one_core = base.get("timed_messages_per_second", base["messages_per_second"])["median"]
    assert res["over_floor"] == pytest.approx(one_core / floor["messages_per_second"])
    assert len(res["over_floor_per_repetition"]) == floor["rounds"]
    counted = sum(base["messages_per_repetition"])
    turns = base["events"].get("direction_changes", 0) / counted
    assert floor["turns_per_message"] == pytest.approx(turns)
    if "ecdh" in comps:
        assert comps["ecdh"]["per_message"] == pytest.approx(2 * turns)
        assert comps["keygen"]["per_message"] == pytest.approx(turns)


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
    assert "parse_message per message" in doc["counts"] and "parsing included" in doc["counts"]


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
    assert floor["signature_messages_per_second"] > floor["messages_per_second"] > 0
    assert 0 < floor["turns_per_message"] < 1
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
    # The floor ratio is over the timed work, as in a local run; the window holds more.
    single = res["single_worker"]
    timed = single["timed_messages_per_second"]["median"]
    assert res["over_floor"] == pytest.approx(timed / res["floor"]["messages_per_second"])
    assert timed >= single["messages_per_second"]["median"]


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
    assert "cryptography" in doc["results"]["floor"]["components"]["keygen"]["definition"]
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
    for bad in (["--messages", "0"], ["--turn-rate", "2"], ["--policy", "sometimes"],
                ["--workload", "nope"], ["--traffic", "one-sided"]):
        with pytest.raises(SystemExit) as info:
            main(["bench", *bad])
        assert info.value.code == 2
        assert "error:" in capsys.readouterr().err


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


# ── Provenance ────────────────────────────────────────────────────────────────────────


def test_path_auto_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PQ3PROTO_NATIVE", "0")
    doc = run(tmp_path, "--messages", "64")
    assert doc["path"] == "python"
    assert doc["parameters"]["path_requested"] == "auto"
    assert doc["parameters"]["path_env"] == "0"
    assert os.environ["PQ3PROTO_NATIVE"] == "0"  # restored, not left at the run's value


def test_kem_backend_is_recorded_and_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PQ3PROTO_KEM", raising=False)
    doc = run(tmp_path, "--workload", "pingpong", "--messages", "20", "--floor-messages", "16",
              "--kem", "reference")
    assert doc["kem_backend"] == "reference"
    assert doc["results"]["floor"]["kem_backend"] == "reference"
    assert doc["profile"] == "PQ3"
    assert "PQ3PROTO_KEM" not in os.environ
    default = run(tmp_path, "--messages", "64")
    assert default["kem_backend"] == "openssl"


def test_unknown_kem_fails_cleanly() -> None:
    with pytest.raises(SystemExit) as info:  # a usage error, like every bad option value
        main(["bench", "--kem", "nope", "--idle-sample", "0"])
    assert info.value.code == 2


# ── Compare ───────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def pingpong_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("cmp")
    out = tmp / "a.json"
    argv = ["bench", "--workload", "pingpong", "--messages", "40", "--repeat", "3",
            "--warmup", "5", "--floor-messages", "16", "--idle-sample", "0", "--json", str(out)]
    assert main(argv) == 0
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def _write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def _scaled(doc: dict[str, Any], factor: float) -> dict[str, Any]:
    """A copy whose per-repetition rates (and their statistics) are multiplied by factor."""
    new = json.loads(json.dumps(doc))
    stats = new["results"]["messages_per_second"]
    for k in ("min", "median", "max", "mean", "stdev"):
        stats[k] *= factor
    stats["repetitions"] = [x * factor for x in stats["repetitions"]]
    return new


def test_compare_same_run_is_not_a_regression(
    tmp_path: Path, pingpong_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    a = _write(tmp_path / "a.json", pingpong_doc)
    assert main(["bench", "compare", a, a]) == 0
    out = capsys.readouterr().out
    assert "messages_per_second" in out and "over_floor" in out and "floor.ecdh_us" in out
    assert "0 figure(s) regressed" in out


def test_compare_flags_a_drop_beyond_band_and_threshold(
    tmp_path: Path, pingpong_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(json.dumps(pingpong_doc))
    stats = doc["results"]["messages_per_second"]
    med = stats["median"]
    stats["repetitions"] = [med * 0.98, med, med * 1.02]  # a band of ±2% on each side
    a = _write(tmp_path / "a.json", doc)
    b = _write(tmp_path / "b.json", _scaled(doc, 0.5))  # -50%: beyond 4% and the threshold
    assert main(["bench", "compare", a, b, "--threshold", "5"]) == 1
    line = next(ln for ln in capsys.readouterr().out.splitlines()
                if ln.strip().startswith("messages_per_second "))
    assert line.rstrip().endswith("REGRESSED") and "-50.0%" in line and "±4.0%" in line
    # The same change, seen the other way round, is an improvement.
    assert main(["bench", "compare", b, a]) == 0
    # A threshold above the drop: no regression.
    assert main(["bench", "compare", a, b, "--threshold", "60"]) == 0


def test_compare_small_change_inside_the_noise_band_passes(
    tmp_path: Path, pingpong_doc: dict[str, Any]
) -> None:
    doc = json.loads(json.dumps(pingpong_doc))
    stats = doc["results"]["messages_per_second"]
    med = stats["median"]
    stats["repetitions"] = [med * 0.7, med, med * 1.3]  # a band of ±30% on each side
    a = _write(tmp_path / "a.json", doc)
    b = _write(tmp_path / "b.json", _scaled(doc, 0.85))
    assert main(["bench", "compare", a, b, "--threshold", "0"]) == 0


def test_compare_refuses_bad_input(
    tmp_path: Path, pingpong_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    a = _write(tmp_path / "a.json", pingpong_doc)
    other = json.loads(json.dumps(pingpong_doc))
    other["workload"] = "symmetric"
    b = _write(tmp_path / "b.json", other)
    assert main(["bench", "compare", a, b]) == 2
    (tmp_path / "junk.json").write_text("{not json")
    assert main(["bench", "compare", a, str(tmp_path / "junk.json")]) == 2
    assert main(["bench", "compare", a, _write(tmp_path / "x.json", {"schema": "x"})]) == 2
    for usage in ([a, str(tmp_path / "missing.json")], [a, a, "--threshold", "-1"]):
        with pytest.raises(SystemExit) as info:
            main(["bench", "compare", *usage])
        assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "pq3proto:" in err


def test_compare_notes_differences(
    tmp_path: Path, pingpong_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    other = json.loads(json.dumps(pingpong_doc))
    other["kem_backend"] = "liboqs"
    other["parameters"]["payload"] = 1000
    a = _write(tmp_path / "a.json", pingpong_doc)
    b = _write(tmp_path / "b.json", other)
    main(["bench", "compare", a, b])
    out = capsys.readouterr().out
    assert "kem_backend: openssl -> liboqs" in out
    assert "parameter payload: 140 -> 1000" in out


def test_compare_across_schemas_leaves_out_the_floor(
    tmp_path: Path, pingpong_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    old = json.loads(json.dumps(pingpong_doc))
    old["schema"] = "pq3proto-bench/1"
    res = old["results"]
    res["pingpong_over_floor"] = res.pop("over_floor")
    a = _write(tmp_path / "old.json", old)
    b = _write(tmp_path / "new.json", pingpong_doc)
    assert main(["bench", "compare", a, b]) == 0
    out = capsys.readouterr().out
    assert "messages_per_second" in out
    names = [ln.split()[0] for ln in out.splitlines()[2:] if ln.strip()]
    assert "over_floor" not in names and "floor.messages_per_second" not in names
    assert "not compared" in out


def test_bench_takes_a_profile(tmp_path: Path) -> None:
    doc = run(tmp_path, "--workload", "full", "--messages", "200", "--rekey-kem", "ML-KEM-1024",
              "--policy", "every-turn", "--floor-messages", "64")
    assert doc["profile"] == "ML-KEM-1024/ML-KEM-1024/repeat"
    assert doc["profile_id"] == "010105010501"
    keygen = doc["results"]["floor"]["components"]["kem_keygen"]
    assert keygen["us"] > 0 and keygen["definition"].startswith("ML-KEM-1024")
