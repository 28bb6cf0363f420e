"""Shared pieces of the benchmarks: setup of real sessions, machine facts, statistics, progress.

Owns: building a started two-device conversation and the raw chain of one direction from it,
the machine / revision / load description every result carries, the numpy statistics of
rates and latencies, choosing the hot path for a run, and a tiny stderr progress bar.
Not: the workloads and the command (pq3proto/bench/), or any protocol code: everything here goes
through the public Session / HotPath interfaces.
"""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BackendUnavailableError, MisuseError
from .identity import Device
from .kdf import session_dst
from .message import HotPath, SendingChain
from .policy import RekeyPolicy
from .profile import Profile
from .session import Session

__all__ = [
    "ENV_NATIVE",
    "OneWayChain",
    "cpu_idle_fraction",
    "latency_stats",
    "load_average",
    "machine_info",
    "make_pair",
    "native_available",
    "one_way_chain",
    "rate_stats",
    "resolve_kem",
    "resolve_path",
    "revision_info",
    "selected_kem",
    "selected_path",
]

ENV_NATIVE = "PQ3PROTO_NATIVE"


# ── Real sessions ──────────────────────────────────────────────────────────────────────


def make_pair(
    policy: RekeyPolicy | None = None, tag: int = 0, profile: Profile | None = None
) -> tuple[Session, Session]:
    """Alice initiates to Bob, Bob accepts and replies once: (alice, bob), both chains live."""
    bob = Device.generate(f"mailto:bob{tag}@example.org", device_id=1 + tag, profile=profile)
    alice = Device.generate("tel:+15551234567", device_id=7, profile=profile)
    return make_pair_between(alice, bob, policy)


def make_pair_between(
    alice: Device, bob: Device, policy: RekeyPolicy | None = None
) -> tuple[Session, Session]:
    """A started session between two given devices, after one exchange each way."""
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle(), policy=policy)
    b, first = Session.accept(
        bob, alice.public_identity(), a.encrypt(b"hello"), save_device=lambda _: None, policy=policy
    )
    if first != b"hello" or a.decrypt(b.encrypt(b"hello back")) != b"hello back":
        raise MisuseError("benchmark setup: the session start did not round-trip")
    return a, b


@dataclass
class OneWayChain:
    """One sending chain of a real session, as the hot path sees it, and its receiver's key."""

    chain: SendingChain
    send_key: bytes
    receive_key: bytes
    next_index: int

    @property
    def tail(self) -> bytes:
        """The signed tail the receiver uses (equal to the sender's for one chain)."""
        return self.chain.signature_tail


def one_way_chain(sender: Session, receiver: Session) -> OneWayChain:
    """The chain `sender` currently sends on and `receiver`'s matching key, in step.

    The sender must have sent at least one message that the receiver opened in order.
    """
    r = sender.state.ratchet
    sending = r.sending
    if sending is None:
        raise MisuseError("benchmark setup: the sender has no open sending chain")
    me, peer = sender.state.me, sender.state.peer
    dst = session_dst(me.binding(), peer.binding())
    header = sending.header
    chain = SendingChain(header.encode(), header.signature_tail(dst), header.ecdh_public_key)
    rr = receiver.state.ratchet
    pos = rr.find_chain(header.ecdh_public_key)
    if pos < 0 or rr.receiving[pos].next_index != sending.next_index:
        raise MisuseError("benchmark setup: the receiver is not in step with the sender")
    return OneWayChain(chain, sending.chain_key, rr.receiving[pos].chain_key, sending.next_index)


# ── The path of a run ──────────────────────────────────────────────────────────────────


def native_available() -> bool:
    """True if the C extension loaded."""
    try:
        from . import native
    except ImportError:  # pragma: no cover - the module ships with the package
        return False
    return native.available()


def resolve_path(choice: str) -> str:
    """'native' | 'python' | 'auto' to the concrete path; 'native' without the C path raises.

    'auto' is the path sessions would use now: it follows PQ3PROTO_NATIVE.
    """
    if choice == "auto":
        from . import native

        return native.active_path()
    if choice == "native":
        if not native_available():
            from . import native

            raise BackendUnavailableError(
                f"--path native but the C path is unavailable: {native.unavailable_reason()}"
            )
        return "native"
    if choice == "python":
        return "python"
    raise MisuseError(f"unknown path {choice!r}: native, python or auto")


@contextmanager
def selected_path(path: str) -> Iterator[None]:
    """Set PQ3PROTO_NATIVE for the block (1 native, 0 python) and restore it afterwards."""
    old = os.environ.get(ENV_NATIVE)
    os.environ[ENV_NATIVE] = "1" if path == "native" else "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_NATIVE, None)
        else:
            os.environ[ENV_NATIVE] = old


def resolve_kem(name: str | None) -> str:
    """The KEM backend a run uses: `name`, else $PQ3PROTO_KEM, else the default; checked."""
    from . import kem

    return kem.get_backend(name).name


@contextmanager
def selected_kem(name: str) -> Iterator[None]:
    """Set PQ3PROTO_KEM for the block (workers inherit it) and restore it afterwards."""
    from . import kem

    old = os.environ.get(kem.ENV_BACKEND)
    os.environ[kem.ENV_BACKEND] = name
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(kem.ENV_BACKEND, None)
        else:
            os.environ[kem.ENV_BACKEND] = old


def check_path(hot: HotPath, path: str) -> None:
    """Fail loudly if the hot path in use is not the one the run claims."""
    if hot.name != path:
        raise MisuseError(f"benchmark asked for the {path} path but got {hot.name}")


# ── Machine, revision, load ────────────────────────────────────────────────────────────


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _libcrypto_path() -> str | None:
    """The libcrypto the C path is linked against (from this process's maps), if loaded."""
    if native_available():
        try:
            with open("/proc/self/maps", encoding="utf-8") as f:
                for line in f:
                    path = line.split()[-1] if len(line.split()) >= 6 else ""
                    if "libcrypto" in os.path.basename(path) and "site-packages" not in path:
                        return path
        except OSError:
            pass
    import ctypes.util

    return ctypes.util.find_library("crypto")


def _system_openssl() -> dict[str, str | None]:
    path = _libcrypto_path()
    version: str | None = None
    if path:
        try:
            lib = ctypes.CDLL(path)
            fn = lib.OpenSSL_version
            fn.restype = ctypes.c_char_p
            fn.argtypes = [ctypes.c_int]
            raw = fn(0)
            version = raw.decode() if raw else None
        except (OSError, AttributeError):
            version = None
    return {"library": path, "version": version}


def machine_info() -> dict[str, Any]:
    """CPU, cores, Python, both OpenSSLs (system libcrypto of the C path, cryptography's)."""
    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    return {
        "cpu_model": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_usable": usable,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "openssl_system_libcrypto": _system_openssl(),
        "openssl_cryptography_wheel": backend.openssl_version_text(),
        "cryptography": cryptography.__version__,
        "numpy": np.__version__,
        "native_available": native_available(),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (empty where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


def cpu_idle_fraction(seconds: float = 1.0) -> float | None:
    """Share of all CPUs idle over `seconds` (from /proc/stat); None where unavailable."""

    def snap() -> tuple[int, int]:
        with open("/proc/stat", encoding="utf-8") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)

    try:
        idle0, total0 = snap()
        time.sleep(seconds)
        idle1, total1 = snap()
    except (OSError, ValueError, IndexError):
        return None
    return round((idle1 - idle0) / max(1, total1 - total0), 3)


def revision_info() -> dict[str, Any]:
    """git HEAD of the source tree and whether it has uncommitted changes (None if no git)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if head else None
    return {
        "commit": head,
        "dirty": None if status is None else bool(status),
        "dirty_files": [] if not status else [ln[3:] for ln in status.splitlines()],
    }


# ── Statistics ─────────────────────────────────────────────────────────────────────────


def rate_stats(rates: Sequence[float]) -> dict[str, Any]:
    """min / median / max / mean / stdev (sample, ddof=1) of per-repetition rates."""
    arr = np.asarray(rates, dtype=np.float64)
    return {
        "min": float(arr.min()),
        "median": float(np.median(arr)),
        "max": float(arr.max()),
        "mean": float(arr.mean()),
        "stdev": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "repetitions": [float(x) for x in arr],
    }


def latency_stats(samples_ns: Sequence[int] | np.ndarray[Any, Any], basis: str) -> dict[str, Any]:
    """Percentiles of per-message latency in microseconds; `basis` says what one sample is."""
    arr = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    if arr.size == 0:
        return {"samples": 0, "basis": basis}
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {
        "p50_us": float(p50),
        "p90_us": float(p90),
        "p99_us": float(p99),
        "mean_us": float(arr.mean()),
        "max_us": float(arr.max()),
        "samples": int(arr.size),
        "basis": basis,
    }
