"""Benchmark workers and experiment sweeps on Dask distributed (the `cluster` extra).

Owns: parsing `--cluster ADDRESS`, starting a local cluster or connecting to a scheduler,
the barrier that starts every benchmark worker's measured repetition together, per-worker
machine facts, the common window and the cores a target rate needs, mapping sweep tasks with
progress, and failing the run, naming the worker, when a worker is lost or a task raises.
Not: the workloads (bench.py), the experiments (experiments/) or any protocol code; nothing
here imports them: callers hand in picklable module-level callables.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from .benchmarks_support import machine_info
from .errors import (
    BackendUnavailableError,
    ClusterError,
    ClusterUnreachableError,
    MisuseError,
    WorkerLostError,
)

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = [
    "CONNECT_TIMEOUT_S",
    "SERVICE_TARGET_MESSAGES_PER_SECOND",
    "BarrierJob",
    "ClusterAddress",
    "Engine",
    "WorkerRun",
    "bench_address",
    "common_windows",
    "connect",
    "cores_needed",
    "parse_address",
    "require_engine",
]

LOCAL_PREFIX = "local:"
TCP_PREFIX = "tcp://"
MAX_LOCAL_WORKERS = 1_024
LOOPBACK = "127.0.0.1"
LOOPBACK_ANY_PORT = "127.0.0.1:0"  # a local cluster listens on loopback only, free ports
CONNECT_TIMEOUT_S = 10.0
# A worker waiting at a barrier gives up after this long (the coordinator is gone).
BARRIER_TIMEOUT_S = 900.0
# How often the coordinator looks at task states and the scheduler's worker list.
POLL_S = 0.05
# How often a waiting worker looks for the coordinator's abort signal.
ABORT_POLL_S = 1.0
# The mission's service-wide rate; the bench summary says how many cores it needs.
SERVICE_TARGET_MESSAGES_PER_SECOND = 200_000
_EVENT_PREFIX = "pq3proto-barrier"
_INSTALL_HINT = ".venv/bin/pip install '.[cluster]' from the source tree (the cluster extra)"

T = TypeVar("T")
R = TypeVar("R")
T_co = TypeVar("T_co", covariant=True)


# ── Addresses ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ClusterAddress:
    """`local:N` (a local cluster of N worker processes) or `tcp://HOST:PORT` (a scheduler)."""

    kind: Literal["local", "tcp"]
    workers: int = 0  # local only
    host: str = ""  # tcp only
    port: int = 0  # tcp only

    def __str__(self) -> str:
        if self.kind == "local":
            return f"{LOCAL_PREFIX}{self.workers}"
        return f"{TCP_PREFIX}{self.host}:{self.port}"


def parse_address(text: str) -> ClusterAddress:
    """Parse `local:N` or `tcp://HOST:PORT`; anything else raises MisuseError."""
    s = text.strip()
    if s.startswith(LOCAL_PREFIX):
        n = s[len(LOCAL_PREFIX) :]
        if not n.isdigit() or not 1 <= int(n) <= MAX_LOCAL_WORKERS:
            raise MisuseError(
                f"--cluster {text!r}: local:N needs N a whole number in 1..{MAX_LOCAL_WORKERS}"
            )
        return ClusterAddress("local", workers=int(n))
    if s.startswith(TCP_PREFIX):
        rest = s[len(TCP_PREFIX) :]
        host, sep, port = rest.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 0xFFFF:
            raise MisuseError(f"--cluster {text!r}: expected tcp://HOST:PORT, port in 1..65535")
        return ClusterAddress("tcp", host=host, port=int(port))
    raise MisuseError(
        f"--cluster {text!r}: expected local:N (N local worker processes) or "
        "tcp://HOST:PORT (a running Dask scheduler)"
    )


def bench_address(workers: int, cluster: str | None) -> ClusterAddress | None:
    """The cluster a bench run uses: --cluster, or local:N for --workers N > 1, or none."""
    if cluster is not None:
        if workers != 1:
            raise MisuseError(
                "give --workers N or --cluster, not both: --workers N is --cluster local:N, "
                "and on a cluster every worker of it runs the workload"
            )
        return parse_address(cluster)
    if workers > 1:
        return ClusterAddress("local", workers=workers)
    return None


def require_engine() -> None:
    """Fail with the install command if Dask distributed is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise BackendUnavailableError(
            f"more than one worker runs on Dask distributed, which is not installed: "
            f"{_INSTALL_HINT}"
        ) from None


# ── Figures ────────────────────────────────────────────────────────────────────────────


def cores_needed(per_core_rate: float, target: float = SERVICE_TARGET_MESSAGES_PER_SECOND) -> int:
    """Cores that reach `target` messages/s at `per_core_rate` each (perfect scaling)."""
    if per_core_rate <= 0:
        raise MisuseError("a per-core rate must be positive")
    return math.ceil(target / per_core_rate)


# ── Worker side ────────────────────────────────────────────────────────────────────────


class BarrierJob(Protocol[T_co]):
    """What one worker runs: set up untimed on creation, then one `step` per barrier."""

    def step(self) -> T_co:
        """One measured repetition."""

    def between(self) -> None:
        """Untimed work after each repetition, before the next barrier (a floor round, say)."""

    def after(self) -> dict[str, Any]:
        """What the job reports beyond its repetitions, once they are done."""

    def close(self) -> None:
        """Undo what the setup changed in the worker process."""


@dataclass
class WorkerRun(Generic[T]):
    """One worker's repetitions, when each started and ended (its wall clock), its machine."""

    index: int
    address: str
    machine: dict[str, Any]
    reps: list[T] = field(repr=False)
    starts: list[float]  # time.time() when the worker saw the barrier open
    ends: list[float]  # starts + the repetition's perf_counter duration
    after: dict[str, Any]


def _event_name(run: str, what: str) -> str:
    return f"{_EVENT_PREFIX}-{run}-{what}"


def _worker_machine() -> dict[str, Any]:
    m = machine_info()
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cpu_model": m["cpu_model"],
        "cores_logical": m["cores_logical"],
        "cores_usable": m["cores_usable"],
        "python": m["python"],
        "native_available": m["native_available"],
    }


def _wait_open(run: str, rep: int) -> None:
    from distributed import Event

    gate = Event(_event_name(run, f"go-{rep}"))
    abort = Event(_event_name(run, "abort"))
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while not gate.wait(ABORT_POLL_S):
        if abort.is_set():
            raise ClusterError("the coordinator aborted the run")
        if time.monotonic() > deadline:
            raise ClusterError(f"no barrier release within {BARRIER_TIMEOUT_S:g} s")


def _barrier_task(
    setup: Callable[[int], BarrierJob[T]], index: int, run: str, reps: int, address: str
) -> WorkerRun[T]:
    """Runs on a worker: set up, then each repetition after the barrier opens."""
    from distributed import Event

    job = setup(index)
    try:
        out: list[T] = []
        starts: list[float] = []
        ends: list[float] = []
        for r in range(reps):
            Event(_event_name(run, f"ready-{r}-{index}")).set()
            _wait_open(run, r)
            t0 = time.time()
            p0 = time.perf_counter()
            out.append(job.step())
            ends.append(t0 + (time.perf_counter() - p0))
            starts.append(t0)
            job.between()
        after = job.after()
    finally:
        job.close()
    return WorkerRun(index, address, _worker_machine(), out, starts, ends, after)


def _map_task(fn: Callable[[T], R], item: T) -> R:
    """Runs on a worker: one sweep task; a failure names the worker that ran it."""
    try:
        return fn(item)
    except Exception as exc:
        from distributed import get_worker

        raise ClusterError(
            f"task failed on worker {get_worker().address}: {type(exc).__name__}: {exc}"
        ) from None


def common_windows(runs: Sequence[WorkerRun[Any]]) -> list[float]:
    """Per repetition: the earliest start to the latest end over all workers, in seconds."""
    reps = len(runs[0].starts)
    return [max(w.ends[r] for w in runs) - min(w.starts[r] for w in runs) for r in range(reps)]


def start_spreads(runs: Sequence[WorkerRun[Any]]) -> list[float]:
    """Per repetition: the latest start minus the earliest (the barrier's skew), in seconds."""
    reps = len(runs[0].starts)
    return [max(w.starts[r] for w in runs) - min(w.starts[r] for w in runs) for r in range(reps)]


# ── Coordinator side ───────────────────────────────────────────────────────────────────


class Engine:
    """A connected Dask client and the cluster's workers, in a fixed (sorted) order."""

    def __init__(self, client: Client, address: ClusterAddress) -> None:
        self.client = client
        self.address = address
        self.refresh()

    def refresh(self) -> None:
        """Read the scheduler's current workers (a run uses the workers present at its start)."""
        threads = self.client.nthreads()
        try:
            info = self.client.scheduler_info(n_workers=-1)["workers"]
        except TypeError:
            info = self.client.scheduler_info()["workers"]
        self.workers: list[str] = sorted(threads)
        self.names = {a: str(info.get(a, {}).get("name", "?")) for a in self.workers}
        self.hosts = {a: str(info.get(a, {}).get("host", "?")) for a in self.workers}
        self.threads = {a: int(threads[a]) for a in self.workers}

    def describe(self) -> dict[str, Any]:
        """The engine, the scheduler and every worker, for the JSON record."""
        import distributed

        return {
            "address": str(self.address),
            "engine": f"dask distributed {distributed.__version__}",
            "scheduler": self.client.scheduler.address,
            "workers": [
                {
                    "address": a,
                    "name": self.names[a],
                    "host": self.hosts[a],
                    "threads": self.threads[a],
                }
                for a in self.workers
            ],
        }

    def label(self, address: str) -> str:
        """How errors name a worker: its name, address and host."""
        name, host = self.names.get(address, "?"), self.hosts.get(address, "?")
        return f"Dask worker {name!r} at {address} (host {host})"

    def _missing(self, watched: Sequence[str]) -> list[str]:
        alive = set(self.client.nthreads())
        return [a for a in watched if a not in alive]

    def _check(self, futures: dict[str, Future], watched: Sequence[str], what: str) -> None:
        """Raise if a watched task erred or a watched worker left while tasks are pending."""
        for addr, fut in futures.items():
            if fut.status == "error":
                exc = fut.exception()
                raise ClusterError(
                    f"{what} on {self.label(addr)} failed: {type(exc).__name__}: {exc}"
                )
        if any(not f.done() for f in futures.values()):
            lost = self._missing(watched)
            if lost:
                raise WorkerLostError(
                    f"{self.label(lost[0])} left the cluster during the {what}; the run has "
                    f"no result (never a smaller aggregate)"
                    + (f"; also lost: {', '.join(lost[1:])}" if lost[1:] else "")
                )

    def run_synchronised(
        self,
        setup: Callable[[int], BarrierJob[T]],
        workers: int,
        reps: int,
        on_rep: Callable[[int], None] | None = None,
    ) -> list[WorkerRun[T]]:
        """Run `setup(i)` on the first `workers` workers, then `reps` barrier-started steps.

        Worker i's task is pinned to worker i; a worker that leaves or raises fails the
        whole run with a WorkerLostError / ClusterError naming it. `on_rep(r)` is called
        when every worker has finished r repetitions.
        """
        from distributed import Event, wait

        self.refresh()
        if workers > len(self.workers):
            raise MisuseError(
                f"the run needs {workers} workers but the cluster has {len(self.workers)}"
            )
        chosen = self.workers[:workers]
        run = uuid.uuid4().hex
        futures = {
            addr: self.client.submit(
                _barrier_task,
                setup,
                i,
                run,
                reps,
                addr,
                workers=[addr],
                allow_other_workers=False,
                pure=False,
                retries=0,
                key=f"{_EVENT_PREFIX}-{run}-{i}",
            )
            for i, addr in enumerate(chosen)
        }
        events: list[Any] = []

        def event(what: str) -> Any:
            e = Event(_event_name(run, what), client=self.client)
            events.append(e)
            return e

        abort = event("abort")
        ok = False
        try:
            for r in range(reps):
                ready = [event(f"ready-{r}-{i}") for i in range(workers)]
                pending = list(ready)
                while pending:
                    self._check(futures, chosen, "benchmark")
                    pending = [e for e in pending if not e.is_set()]
                    if pending:
                        time.sleep(POLL_S)
                if on_rep is not None:
                    on_rep(r)
                event(f"go-{r}").set()
            while not all(f.done() for f in futures.values()):
                self._check(futures, chosen, "benchmark")
                time.sleep(POLL_S)
            self._check(futures, chosen, "benchmark")
            results: list[WorkerRun[T]] = [futures[a].result() for a in chosen]
            if on_rep is not None:
                on_rep(reps)
            ok = True
            return results
        finally:
            if not ok:
                abort.set()
                with suppress(TimeoutError):
                    wait(list(futures.values()), timeout=2 * ABORT_POLL_S)
                for f in futures.values():
                    f.cancel()
            for e in events:
                e.clear()

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[R]:
        """fn over items as one task each, results in the items' order; fails like a run."""
        self.refresh()
        futures = self.client.map(_map_task, [fn] * len(items), list(items), pure=False)
        by_key = {f.key: f for f in futures}
        watched = list(self.workers)
        total = len(futures)
        done = -1
        try:
            while True:
                now = sum(1 for f in futures if f.done())
                if progress is not None and now != done:
                    progress(now, total)
                done = now
                self._check_map(by_key, watched)
                if now == total:
                    break
                time.sleep(POLL_S)
            return list(self.client.gather(futures))
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def _check_map(self, futures: dict[Any, Future], watched: Sequence[str]) -> None:
        for fut in futures.values():
            if fut.status == "error":
                exc = fut.exception()
                if isinstance(exc, ClusterError):
                    raise exc
                raise ClusterError(f"sweep task failed: {type(exc).__name__}: {exc}")
        if any(not f.done() for f in futures.values()):
            lost = self._missing(watched)
            if lost:
                raise WorkerLostError(
                    f"{self.label(lost[0])} left the cluster during the sweep; the run has "
                    "no result"
                )


@contextmanager
def connect(
    address: ClusterAddress | str, timeout: float = CONNECT_TIMEOUT_S
) -> Iterator[Engine]:
    """Start `local:N` or connect to `tcp://HOST:PORT`; close what was opened on exit."""
    addr = parse_address(address) if isinstance(address, str) else address
    require_engine()
    from distributed import Client, LocalCluster

    cluster: Any = None
    if addr.kind == "local":
        try:
            cluster = LocalCluster(
                n_workers=addr.workers,
                threads_per_worker=1,
                processes=True,
                host=LOOPBACK,
                dashboard_address=None,
                worker_dashboard_address=None,
                scheduler_kwargs={"dashboard": False, "dashboard_address": LOOPBACK_ANY_PORT},
                silence_logs=logging.CRITICAL,
            )
            client = Client(cluster, timeout=timeout)
        except (OSError, RuntimeError) as exc:
            if cluster is not None:
                cluster.close()
            raise ClusterError(f"could not start {addr}: {type(exc).__name__}: {exc}") from None
    else:
        try:
            client = Client(str(addr), timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ClusterUnreachableError(
                f"no Dask scheduler answered at {addr} within {timeout:g} s "
                f"({type(exc).__name__}); start one with `dask scheduler` and workers with "
                f"`dask worker {addr}`"
            ) from None
    try:
        try:
            client.wait_for_workers(addr.workers if addr.kind == "local" else 1, timeout)
        except TimeoutError:
            raise ClusterError(
                f"the scheduler at {addr} has no workers after {timeout:g} s: start some "
                f"with `dask worker {client.scheduler.address} --nthreads 1`"
            ) from None
        yield Engine(client, addr)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
