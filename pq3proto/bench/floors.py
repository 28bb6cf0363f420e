"""The hardware floor of a workload, measured in the same run as the workload.

Owns: timing the irreducible primitives of a workload on the run's path, in rounds
interleaved with the workload's repetitions, and composing them into the least one counted
message can cost: symmetric work + sign + verify + turns x (keygen + 2 ECDH + 2 root-key
derivations) + rekeys x (KEM keygen + encapsulation + decapsulation), at the turn and
rekey rates the workload itself showed.
Not: the workloads (workloads.py).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .. import kem
from ..benchmarks_support import check_path, make_pair, one_way_chain
from ..constants import DEFAULT_REKEY_KEM, KEM_SEED_SIZE
from ..kdf import chain_step, message_keys, root_and_chain_key
from ..paths import hot_path
from ..policy import RekeyPolicy
from ..primitives import SYSTEM_RANDOM, P256PrivateKey, Verifier, aes256_ctr, ct_equal
from ..wire import parse_message, signature_body
from .spec import BenchSpec, payloads

# What each component is, per path; the floor JSON carries these sentences.
_DEFINITIONS = {
    "symmetric": {
        "native": "C only, one call for the whole round (pq3_floor_symmetric): per message "
        "both sides' chain step + message-key HKDF-SHA384 expansions + AES-256-CTR, and "
        "the receiver's indicator check; no wire layout, no Python in the loop",
        "python": "kdf.chain_step + kdf.message_keys + primitives.aes256_ctr per side and "
        "the indicator comparison, called directly in a loop; no protocol code",
    },
    "sign": {
        "native": "C signer by difference: seal_batch(signer) - seal_batch(None), batches "
        "of 64, same messages (SHA-256 of the signed body included)",
        "python": "P256PrivateKey.sign over one message's signed body (raw low-S encoding "
        "included)",
    },
    "verify": {
        "native": "C verifier by difference: open_batch(verifier) - open_batch(None), "
        "same messages",
        "python": "Verifier.verify over one message's signed body",
    },
    "keygen": {
        "native": "HotPath.p256_generate: 32 bytes from os.urandom by rejection sampling "
        "+ the C fixed-base multiplication (pq3_p256_public)",
        "python": "P256PrivateKey.generate (os.urandom + cryptography derive_private_key "
        "+ point encoding)",
    },
    "ecdh": {
        "native": "native.ecdh: C point decoding and validation + P-256 multiplication",
        "python": "P256PrivateKey.exchange: cryptography point decoding and validation + "
        "ECDH",
    },
    "root_kdf": {
        "native": "native.root_and_chain_key: two HKDF-SHA384 Extracts + one 64-byte "
        "Expand in C over a 300-byte domain string",
        "python": "kdf.root_and_chain_key over a 300-byte domain string",
    },
    "kem_keygen": {
        "any": "ML-KEM-768 encapsulation key from a fresh 64-byte seed, KEM backend "
        "public_key_from_seed",
    },
    "kem_encaps": {
        "any": "KEM backend encapsulate(ML-KEM-768, key) as the protocol calls it (the "
        "openssl backend runs its FIPS 203 key check inside)",
    },
    "kem_decaps": {
        "any": "KEM backend decapsulate(ML-KEM-768, seed, ciphertext) (expands the seed)",
    },
}
_NAMED_OPS = {"keygen": "generate()", "encaps": "encapsulate(pk)", "decaps": "decapsulate()"}
_DST_SIZE = 300  # about the size of a pk_ratchet domain string without a rekey


def _definition(name: str, path: str) -> str:
    d = _DEFINITIONS[name]
    return d.get(path) or d["any"]


class FloorMeter:
    """The primitives of one workload, timed alone on this machine through the run's path.

    Build it with the run's path (and KEM backend) selected; call round() between
    repetitions of the workload, so that both see the same machine conditions, then
    summary() with the workload's observed turn and rekey rates.
    """

    def __init__(self, spec: BenchSpec, messages: int) -> None:
        self.path = spec.path
        self.workload = spec.workload
        self.rekey_kem = spec.rekey_kem
        self.hot = hot_path()
        check_path(self.hot, spec.path)
        self.samples: dict[str, list[float]] = {}
        self.cpu_s = self.wall_s = 0.0
        self.pts = payloads(spec.payload, spec.seed)
        self.n_batches = max(1, messages // len(self.pts))
        self.n = self.n_batches * len(self.pts)
        self.n_sym = max(256, 16 * self.n)
        self.sym_key = os.urandom(32)
        self.parts = ["symmetric"]
        if spec.workload == "symmetric":
            return
        self.parts += ["sign", "verify"]
        alice, bob = make_pair(RekeyPolicy.never())
        self.ow = ow = one_way_chain(bob, alice)
        self.key = key = P256PrivateKey.generate()
        self.signer, self.verifier = self.hot.signer(key), self.hot.verifier(key.public)
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
        if spec.effective_turn_rate() > 0:
            self.parts += ["keygen", "ecdh", "root_kdf", "kem_keygen", "kem_encaps", "kem_decaps"]
            self.peer_point = P256PrivateKey.generate().public
            self.n_ecdh = max(8, self.n // 4)
            self.n_kem = max(4, self.n // 16)
            self.kem = kem.get_backend()
            self.root = os.urandom(32)
            self.dst = os.urandom(_DST_SIZE)

    # ── Rounds ──

    def round(self) -> None:
        """One timed round of every component of this workload's floor."""
        c0, w0 = time.process_time(), time.perf_counter()
        self._symmetric_round()
        if "sign" in self.parts:
            if self.path == "native":
                self._native_signature_round()
            else:
                self._python_signature_round()
        if "keygen" in self.parts:
            self._ecdh_round()
            self._kem_round()
        self.cpu_s += time.process_time() - c0
        self.wall_s += time.perf_counter() - w0

    def _add(self, name: str, total_ns: float, n: int) -> None:
        self.samples.setdefault(name, []).append(total_ns / n / 1000)

    def _symmetric_round(self) -> None:
        clock, n, pt, ck = time.perf_counter_ns, self.n_sym, self.pts[0], self.sym_key
        if self.path == "native":
            from .. import native

            t0 = clock()
            native.floor_symmetric(ck, pt, n)
            self._add("symmetric", clock() - t0, n)
            return
        n = max(64, n // 8)
        t0 = clock()
        for _ in range(n):
            mk, _ck_s = chain_step(ck)
            key, iv, ind = message_keys(mk)
            ct = aes256_ctr(key, iv, pt)
            mk_r, ck_r = chain_step(ck)
            key_r, iv_r, ind_r = message_keys(mk_r)
            if not ct_equal(ind, ind_r) or aes256_ctr(key_r, iv_r, ct) != pt:
                raise AssertionError("symmetric floor: the round trip failed")
            ck = ck_r
        self._add("symmetric", clock() - t0, n)

    def _native_signature_round(self) -> None:
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
        self._add("sign", t[1] - t[0], self.n)
        self._add("verify", t[3] - t[2], self.n)

    def _python_signature_round(self) -> None:
        key, body, sig, verifier, n = self.key, self.body, self.sig, self.py_verifier, self.n
        clock = time.perf_counter_ns
        t0 = clock()
        for _ in range(n):
            key.sign(body)
        t1 = clock()
        for _ in range(n):
            verifier.verify(body, sig)
        t2 = clock()
        self._add("sign", t1 - t0, n)
        self._add("verify", t2 - t1, n)

    def _ecdh_round(self) -> None:
        clock, n, point, hot = time.perf_counter_ns, self.n_ecdh, self.peer_point, self.hot
        t0 = clock()
        keys = [hot.p256_generate(SYSTEM_RANDOM) for _ in range(n)]
        t1 = clock()
        self._add("keygen", t1 - t0, n)
        if self.path == "native":
            from .. import native

            scalars = [k.scalar() for k in keys]
            t1 = clock()
            secrets = [native.ecdh(s, point) for s in scalars]
            t2 = clock()
            for s in secrets:
                native.root_and_chain_key(self.root, s, None, self.dst)
        else:
            t1 = clock()
            secrets = [k.exchange(point) for k in keys]
            t2 = clock()
            for s in secrets:
                root_and_chain_key(self.root, s, None, self.dst)
        t3 = clock()
        self._add("ecdh", t2 - t1, n)
        self._add("root_kdf", t3 - t2, n)

    def _kem_round(self) -> None:
        clock, n = time.perf_counter_ns, self.n_kem
        if self.rekey_kem != DEFAULT_REKEY_KEM:
            named = kem.named(self.rekey_kem)
            t0 = clock()
            pairs = [named.generate() for _ in range(n)]
            t1 = clock()
            cts = [named.encapsulate(pk)[1] for _, pk in pairs]
            t2 = clock()
            for (state, _), c in zip(pairs, cts, strict=True):
                named.decapsulate(state, c)
            t3 = clock()
            self._add("kem_keygen", t1 - t0, n)
            self._add("kem_encaps", t2 - t1, n)
            self._add("kem_decaps", t3 - t2, n)
            return
        backend, params = self.kem, kem.MLKEM768
        seeds = [os.urandom(KEM_SEED_SIZE) for _ in range(n)]
        t0 = clock()
        pks = [backend.public_key_from_seed(params, s) for s in seeds]
        t1 = clock()
        cts = [backend.encapsulate(params, pk)[1] for pk in pks]
        t2 = clock()
        for s, c in zip(seeds, cts, strict=True):
            backend.decapsulate(params, s, c)
        t3 = clock()
        self._add("kem_keygen", t1 - t0, n)
        self._add("kem_encaps", t2 - t1, n)
        self._add("kem_decaps", t3 - t2, n)

    def _definition(self, name: str) -> str:
        if name.startswith("kem_") and self.rekey_kem != DEFAULT_REKEY_KEM:
            op = name.removeprefix("kem_")
            return f"{self.rekey_kem} {op}, kem.named(...).{_NAMED_OPS[op]} (profile rekey KEM)"
        return _definition(name, self.path)

    # ── Result ──

    def weights(self, turns_per_message: float, rekeys_per_message: float) -> dict[str, float]:
        """How many of each component one counted message needs, at the observed rates."""
        w = {"symmetric": 1.0}
        if "sign" in self.parts:
            w.update(sign=1.0, verify=1.0)
        if "keygen" in self.parts:
            t, r = turns_per_message, rekeys_per_message
            w.update(keygen=t, ecdh=2 * t, root_kdf=2 * t)
            w.update(kem_keygen=r, kem_encaps=r, kem_decaps=r)
        return w

    def summary(self, turns_per_message: float, rekeys_per_message: float) -> dict[str, Any]:
        """Medians over rounds, the composed floor, and the floor of each round."""
        w = self.weights(turns_per_message, rekeys_per_message)
        med = {k: float(np.median(self.samples[k])) for k in w}
        us = sum(w[k] * med[k] for k in w)
        rounds = len(self.samples["symmetric"])
        per_round = [
            1e6 / sum(w[k] * self.samples[k][i] for k in w) for i in range(rounds)
        ]
        components = {
            k: {"us": med[k], "per_message": w[k], "definition": self._definition(k)}
            for k in w
        }
        doc: dict[str, Any] = {
            "messages_per_second": 1e6 / us,
            "us_per_message": us,
            "counts": "the least one counted message can cost on this path: the sum over "
            "components of us x per_message, at the turn and rekey rates this run showed",
            "components": components,
            "turns_per_message": turns_per_message,
            "rekeys_per_message": rekeys_per_message,
            "rates_basis": "observed in the single-worker repetitions: direction changes / "
            "messages, and PQ secrets mixed (both sides) / 2 / messages",
            "path": self.path,
            "rounds": rounds,
            "schedule": "one round after each repetition of the single-worker workload run",
            "messages_per_second_per_round": per_round,
            "cpu_seconds_per_wall_second": self.cpu_s / self.wall_s if self.wall_s else None,
        }
        if "keygen" in self.parts:
            doc["kem_backend"] = self.kem.name
        if "sign" in self.parts:
            doc["signature_messages_per_second"] = 1e6 / (med["sign"] + med["verify"])
        return doc
