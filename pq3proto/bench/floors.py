"""The hardware floor of a workload, measured in the same run as the workload.

Owns: timing the irreducible primitives of a workload on the run's path, in rounds
interleaved with the workload's repetitions.
Not: the workloads (workloads.py).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..benchmarks_support import check_path, make_pair, one_way_chain
from ..message import hot_path
from ..policy import RekeyPolicy
from ..primitives import P256PrivateKey, Verifier
from ..wire import parse_message, signature_body
from .spec import BenchSpec, payloads


class FloorMeter:
    """ECDSA P-256 sign + verify alone, on this machine, through the path of the run.

    native: the C signer and verifier, isolated by difference inside the same C calls
    (seal_batch signed - unsigned; open_batch verified - unverified, equal messages), so
    SHA-256 of the signed body is included and the wrapper overhead is not. python:
    cryptography directly (P256PrivateKey.sign / Verifier.verify on a message's signed body).
    Build it with the run's path selected; call round() between repetitions of the workload,
    so that both see the same machine conditions.
    """

    def __init__(self, spec: BenchSpec, messages: int) -> None:
        self.path = spec.path
        self.hot = hot_path()
        check_path(self.hot, spec.path)
        alice, bob = make_pair(RekeyPolicy.never())
        self.ow = ow = one_way_chain(bob, alice)
        self.key = key = P256PrivateKey.generate()
        self.signer, self.verifier = self.hot.signer(key), self.hot.verifier(key.public)
        self.pts = payloads(spec.payload, spec.seed)
        self.n_batches = max(1, messages // len(self.pts))
        self.n = self.n_batches * len(self.pts)
        wires, _ = self.hot.seal_batch(
            ow.send_key, ow.next_index, ow.chain, b"", self.pts, self.signer
        )
        self.msgs = [parse_message(w) for w in wires]
        m = self.msgs[0]
        self.body = signature_body(
            m.ciphertext, m.auth_data, m.indicator, m.header.ecdh_public_key, m.index, ow.tail
        )
        self.py_verifier = Verifier(key.public)
        self.sig = key.sign(self.body)
        self.sign_us: list[float] = []
        self.verify_us: list[float] = []
        # P-256 keygen and ECDH: the ECDH step's floor (pingpong), through the protocol's
        # own calls (the same on both paths).
        self.peer_point = P256PrivateKey.generate().public
        self.n_ecdh = max(8, self.n // 4)
        self.keygen_us: list[float] = []
        self.ecdh_us: list[float] = []
        self.cpu_s = self.wall_s = 0.0

    def round(self) -> None:
        """One timed round of n signatures and n verifications."""
        c0, w0 = time.process_time(), time.perf_counter()
        if self.path == "native":
            self._native_round()
        else:
            self._python_round()
        self._ecdh_round()
        self.cpu_s += time.process_time() - c0
        self.wall_s += time.perf_counter() - w0

    def _native_round(self) -> None:
        hot, ow, pts, msgs = self.hot, self.ow, self.pts, self.msgs
        ck, idx, chain, tail = ow.send_key, ow.next_index, ow.chain, ow.tail
        clock = time.perf_counter_ns
        t = [0, 0, 0, 0]
        for _ in range(self.n_batches):
            t0 = clock()
            hot.seal_batch(ck, idx, chain, b"", pts, None)
            t1 = clock()
            hot.seal_batch(ck, idx, chain, b"", pts, self.signer)
            t2 = clock()
            hot.open_batch(ck, msgs, tail, None)
            t3 = clock()
            hot.open_batch(ck, msgs, tail, self.verifier)
            t4 = clock()
            t[0] += t1 - t0
            t[1] += t2 - t1
            t[2] += t3 - t2
            t[3] += t4 - t3
        self.sign_us.append((t[1] - t[0]) / self.n / 1000)
        self.verify_us.append((t[3] - t[2]) / self.n / 1000)

    def _python_round(self) -> None:
        key, body, sig, verifier, n = self.key, self.body, self.sig, self.py_verifier, self.n
        clock = time.perf_counter_ns
        t0 = clock()
        for _ in range(n):
            key.sign(body)
        t1 = clock()
        for _ in range(n):
            verifier.verify(body, sig)
        t2 = clock()
        self.sign_us.append((t1 - t0) / n / 1000)
        self.verify_us.append((t2 - t1) / n / 1000)

    def _ecdh_round(self) -> None:
        clock, n, point = time.perf_counter_ns, self.n_ecdh, self.peer_point
        t0 = clock()
        keys = [P256PrivateKey.generate() for _ in range(n)]
        t1 = clock()
        for k in keys:
            k.exchange(point)
        t2 = clock()
        self.keygen_us.append((t1 - t0) / n / 1000)
        self.ecdh_us.append((t2 - t1) / n / 1000)

    def summary(self) -> dict[str, Any]:
        """Medians over rounds; the rate one core allows for sign + verify alone."""
        if self.path == "native":
            method = (
                "C signer/verifier by difference: seal_batch(signer) - seal_batch(None) and "
                "open_batch(verifier) - open_batch(None), batches of 64, same messages"
            )
        else:
            method = (
                "cryptography directly: P256PrivateKey.sign + Verifier.verify (raw low-S "
                f"encoding included) over one message's signed body ({len(self.body)} bytes)"
            )
        s, v = float(np.median(self.sign_us)), float(np.median(self.verify_us))
        g, e = float(np.median(self.keygen_us)), float(np.median(self.ecdh_us))
        return {
            "method": method,
            "messages_per_round": self.n,
            "rounds": len(self.sign_us),
            "schedule": "one round after each repetition of the single-worker workload run",
            "sign_us": s,
            "verify_us": v,
            "sign_us_per_round": self.sign_us,
            "verify_us_per_round": self.verify_us,
            "cpu_seconds_per_wall_second": self.cpu_s / self.wall_s if self.wall_s else None,
            "messages_per_second": 1e6 / (s + v),
            "counts": "one message = one ECDSA P-256 sign + one verify, on one core",
            "keygen_us": g,
            "ecdh_us": e,
            "ecdh_method": "P256PrivateKey.generate() and .exchange(point) (cryptography), "
            "including point validation; the same on both paths",
            "turn_messages_per_second": 1e6 / (s + v + g + 2 * e),
            "turn_counts": "one message with a direction change = sign + verify + one P-256 "
            "keygen + two ECDH (sender and receiver), on one core: the pingpong floor",
        }

