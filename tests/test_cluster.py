"""Runs on Dask distributed: bench and simulate on a local cluster and on an external one.

Owns: that `--cluster local:N` and `--cluster tcp://HOST:PORT` run the workers and report
per-worker and aggregate figures that agree with each other, that a sweep on a cluster gives
the same JSON as a local run, that a worker killed mid-run or a failing task fails the run
naming the worker, and that an unreachable scheduler fails within its timeout.
Not: speed (small workloads only) or the workloads themselves (test_bench_cli.py).
Every process here is started by the test, on 127.0.0.1, and stopped by it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from pq3proto import cluster
from pq3proto.bench.on_cluster import cluster_job
from pq3proto.bench.spec import BenchSpec
from pq3proto.benchmarks_support import resolve_path
from pq3proto.cli import main
from pq3proto.errors import (
    BackendUnavailableError,
    ClusterError,
    ClusterUnreachableError,
    MisuseError,
    WorkerLostError,
)

needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="needs the cluster extra",
)

START_TIMEOUT_S = 40.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Workers first, then the scheduler, so that no worker waits for a gone scheduler."""
    for group in (procs[1:], procs[:1]):
        for p in group:
            if p.poll() is None:
                p.terminate()
        for p in group:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, free ports."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    work = tmp_path_factory.mktemp("dask")
    dask = [sys.executable, "-m", "dask"]
    http = ["--dashboard-address", "127.0.0.1:0"]  # --no-dashboard would still bind *:8787
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), *http],
            cwd=work,
            **quiet,  # type: ignore[call-overload]
        )
    ]
    try:
        for i in range(2):
            procs.append(
                subprocess.Popen(  # type: ignore[call-overload]
                    [*dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                     "--no-nanny", *http, "--name", f"ext-{i}",
                     "--local-directory", str(work)],
                    cwd=work,
                    **quiet,
                )
            )
        from distributed import Client

        with Client(address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        yield address
    finally:
        stop(procs)


def bench_json(tmp_path: Path, *argv: str) -> tuple[dict[str, Any], str]:
    out = tmp_path / "bench.json"
    rc = main(["bench", *argv, "--idle-sample", "0", "--progress", "off", "--json", str(out)])
    assert rc == 0
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc, out.name


def check_cluster_doc(doc: dict[str, Any], messages: int, reps: int) -> None:
    """Per-worker and aggregate figures present and consistent with each other."""
    r = doc["results"]
    assert doc["workers"] == 2 and len(doc["cluster"]["workers"]) == 2
    assert r["messages_per_repetition"] == [2 * messages] * reps
    assert len(r["per_worker"]) == 2
    assert len({w["pid"] for w in r["per_worker"]}) == 2
    for w in r["per_worker"]:
        assert w["host"] and w["cpu_model"] and w["cores_usable"] >= 1
        assert w["messages_per_second"] > 0
    # The aggregate is total messages over the common window, recomputed here.
    windows = r["common_window_seconds_per_repetition"]
    rates = [m / s for m, s in zip(r["messages_per_repetition"], windows, strict=True)]
    assert r["messages_per_second"]["repetitions"] == pytest.approx(rates)
    assert all(0 <= s < w for s, w in zip(r["barrier_start_spread_seconds"], windows, strict=True))
    single = r["single_worker"]["messages_per_second"]["median"]
    assert r["single_worker"]["messages_per_repetition"] == [messages] * reps
    assert r["scaling_efficiency"] == pytest.approx(
        r["messages_per_second"]["median"] / (2 * single)
    )


def test_parse_address() -> None:
    assert cluster.parse_address("local:3") == cluster.ClusterAddress("local", workers=3)
    tcp = cluster.parse_address("tcp://10.0.0.5:8786")
    assert (tcp.kind, tcp.host, tcp.port, str(tcp)) == ("tcp", "10.0.0.5", 8786, "tcp://10.0.0.5:8786")
    for bad in ("local:0", "local:x", "tcp://host", "tcp://:8786", "tcp://h:99999", "h:1", ""):
        with pytest.raises(MisuseError):
            cluster.parse_address(bad)
    assert cluster.bench_address(1, None) is None
    assert cluster.bench_address(4, None) == cluster.ClusterAddress("local", workers=4)
    with pytest.raises(MisuseError):
        cluster.bench_address(2, "local:2")
    assert cluster.cores_needed(6_000) == 34  # 200,000 / 6,000 = 33.3


@needs_dask
def test_full_on_local_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc, _ = bench_json(
        tmp_path, "--workload", "full", "--cluster", "local:2", "--messages", "150",
        "--repeat", "2", "--warmup", "20", "--floor-messages", "128",
    )
    check_cluster_doc(doc, 150, 2)
    r = doc["results"]
    assert doc["cluster"]["address"] == "local:2"
    assert doc["parameters"]["cluster"] == "local:2"
    assert all(w["floor_messages_per_second"] > 0 for w in r["per_worker"])
    assert r["floor"]["messages_per_second"] > 0
    single = r["single_worker"]["timed_messages_per_second"]["median"]  # as over_floor's
    cores = math.ceil(200_000 / single)
    assert r["cores_for_target"]["cores"] == cores
    out = capsys.readouterr().out
    assert f"cores       {cores:,} for 200,000 msgs/s" in out
    assert "worker 1" in out


@needs_dask
def test_bench_on_external_scheduler(tmp_path: Path, scheduler: str) -> None:
    doc, _ = bench_json(
        tmp_path, "--workload", "symmetric", "--cluster", scheduler, "--messages", "512",
        "--repeat", "2", "--warmup", "64", "--floor-messages", "64",
    )
    check_cluster_doc(doc, 512, 2)
    assert doc["cluster"]["address"] == scheduler
    assert sorted(w["name"] for w in doc["cluster"]["workers"]) == ["ext-0", "ext-1"]
    listed = {w["address"] for w in doc["cluster"]["workers"]}
    assert {w["address"] for w in doc["results"]["per_worker"]} == listed
    assert all(a.startswith("tcp://127.0.0.1:") for a in listed)


@needs_dask
def test_sweep_same_locally_and_on_cluster(
    tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", "--messages", "40", "--intervals", "5,10", "--samples", "4",
            "--patterns", "ping-pong,bursty", "--seed", "7"]
    local, remote = tmp_path / "local.json", tmp_path / "cluster.json"
    assert main([*args, "--no-progress", "--json", str(local)]) == 0
    assert main([*args, "--cluster", scheduler, "--progress", "on", "--json", str(remote)]) == 0
    assert remote.read_bytes() == local.read_bytes()
    doc = json.loads(local.read_text())
    cells = len(doc["compromise"])
    assert cells == 2 * 4  # (every-turn, 5, 10, never) x 2 patterns
    assert f"{cells}/{cells}" in capsys.readouterr().err


@needs_dask
def test_failing_task_names_its_worker(scheduler: str) -> None:
    spec = BenchSpec(workload="no-such-workload", path=resolve_path("auto"), messages=10)
    with cluster.connect(scheduler) as engine:
        with pytest.raises(ClusterError, match="MisuseError") as err:
            engine.run_synchronised(partial(cluster_job, spec, 0), 2, 2)
        assert any(a in str(err.value) for a in engine.workers)


@needs_dask
def test_worker_killed_mid_run_fails_naming_it() -> None:
    spec = BenchSpec(workload="full", path=resolve_path("auto"), messages=100)
    with cluster.connect("local:2") as engine:
        pids: dict[str, int] = engine.client.run(os.getpid)
        victim = engine.workers[1]

        def kill_after_first(rep: int) -> None:
            if rep == 1:  # every worker finished repetition 0; kill one before 1 starts
                os.kill(pids[victim], signal.SIGKILL)

        t0 = time.monotonic()
        with pytest.raises(WorkerLostError, match=victim):
            engine.run_synchronised(
                partial(cluster_job, spec, 0), 2, 50, kill_after_first
            )
        assert time.monotonic() - t0 < 30


@needs_dask
def test_unreachable_scheduler_fails_within_timeout() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(ClusterUnreachableError, match=address), cluster.connect(address, 2.0):
        pass
    assert time.monotonic() - t0 < 15


def test_without_dask_more_workers_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(BackendUnavailableError, match=r"\.\[cluster\]"):
        cluster.require_engine()
    assert main(["bench", "--workers", "2", "--messages", "64", "--idle-sample", "0"]) == 2
    assert "pip install '.[cluster]'" in capsys.readouterr().err
    doc, _ = bench_json(tmp_path, "--messages", "64", "--repeat", "1", "--warmup", "0")
    assert doc["workers"] == 1 and doc["cluster"] is None


def test_workers_and_cluster_together_is_misuse(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--workers", "2", "--cluster", "local:2", "--idle-sample", "0"]) == 2
    assert "MisuseError" in capsys.readouterr().err
