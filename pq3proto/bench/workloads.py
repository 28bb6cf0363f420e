"""The timed loops of the workloads: symmetric, full / pingpong, fanout.

Owns: one runner per workload, set up untimed, each run() one repetition.
Not: aggregation (runs.py) or floors (floors.py).
"""

from __future__ import annotations

import random
import time

from ..benchmarks_support import check_path, make_pair, make_pair_between, one_way_chain
from ..errors import MisuseError
from ..identity import Device
from ..message import PackedBatch, SendingChain
from ..paths import hot_path
from ..policy import RekeyPolicy
from ..session import Session
from ..wire import parse_message
from .spec import (
    PAYLOAD_POOL,
    TICK,
    WORKLOADS,
    BenchSpec,
    Rep,
    Runner,
    Tick,
    mismatch,
    payloads,
    stats_delta,
)


class SymmetricRunner:
    """A steady one-way stream on one chain through HotPath batches, signatures off.

    By default the batches are packed (seal_packed / open_packed: one buffer each way, the
    receiver's parsing in the same C call, counted). With --include-parse they are lists
    (seal_batch, parse_message per message, open_batch), the parsing counted too.
    """

    def __init__(self, spec: BenchSpec) -> None:
        self.spec = spec
        self.hot = hot_path()
        check_path(self.hot, spec.path)
        alice, bob = make_pair(RekeyPolicy.parse(spec.policy), profile=spec.profile)
        ow = one_way_chain(bob, alice)  # bob replied last: his chain is live, alice in step
        self.chain = ow.chain
        self.tail = ow.tail
        # The receiver's view of the chain: the header bytes it receives, its own tail.
        self.recv_chain = SendingChain(ow.chain.header_bytes, ow.tail, ow.chain.ecdh_public_key)
        self.send_key = ow.send_key
        self.receive_key = ow.receive_key
        self.index = ow.next_index
        pool = payloads(spec.payload, spec.seed)
        self.batch = [pool[i % PAYLOAD_POOL] for i in range(spec.batch)]

    def run(self, n: int, tick: Tick) -> Rep:
        if self.spec.include_parse:
            return self._run_lists(n, tick)
        seal, open_packed = self.hot.seal_packed, self.hot.open_packed
        chain, recv_chain, pack = self.chain, self.recv_chain, PackedBatch.pack
        ck_s, ck_r, index = self.send_key, self.receive_key, self.index
        clock = time.perf_counter_ns
        lat: list[int] = []
        timed = parse_ns = 0
        done = 0
        c0, w0 = time.process_time(), clock()
        while done < n:
            k = min(len(self.batch), n - done)
            pts = self.batch if k == len(self.batch) else self.batch[:k]
            t0 = clock()
            wires, ck_s = seal(ck_s, index, chain, b"", pack(pts), None)
            out, ck_r = open_packed(ck_r, index, recv_chain, wires, None)
            t1 = clock()
            if out.to_list() != pts:
                raise mismatch()
            # For reference only, not counted: what parse_message would add per message.
            t2 = clock()
            for w in wires.to_list():
                parse_message(w)
            parse_ns += clock() - t2
            lat.append((t1 - t0) // k)
            timed += t1 - t0
            index += k
            done += k
            tick(k)
        self.send_key, self.receive_key, self.index = ck_s, ck_r, index
        return _symmetric_rep(done, timed, parse_ns, lat, c0, w0)

    def _run_lists(self, n: int, tick: Tick) -> Rep:
        seal, open_batch = self.hot.seal_batch, self.hot.open_batch
        chain, tail = self.chain, self.tail
        ck_s, ck_r, index = self.send_key, self.receive_key, self.index
        clock = time.perf_counter_ns
        lat: list[int] = []
        timed = parse_ns = 0
        done = 0
        c0, w0 = time.process_time(), clock()
        while done < n:
            k = min(len(self.batch), n - done)
            pts = self.batch if k == len(self.batch) else self.batch[:k]
            t0 = clock()
            wires, ck_s = seal(ck_s, index, chain, b"", pts, None)
            t1 = clock()
            msgs = [parse_message(w) for w in wires]
            t2 = clock()
            out, ck_r = open_batch(ck_r, msgs, tail, None)
            t3 = clock()
            if out != pts:
                raise mismatch()
            lat.append((t3 - t0) // k)
            timed += t3 - t0
            parse_ns += t2 - t1
            index += k
            done += k
            tick(k)
        self.send_key, self.receive_key, self.index = ck_s, ck_r, index
        return _symmetric_rep(done, timed, parse_ns, lat, c0, w0)


def _symmetric_rep(
    done: int, timed_ns: int, parse_ns: int, lat: list[int], cpu0: float, wall0: int
) -> Rep:
    """One symmetric repetition's record; the clocks read now end its wall and CPU time."""
    return Rep(
        messages=done,
        elapsed_s=timed_ns / 1e9,
        wall_s=(time.perf_counter_ns() - wall0) / 1e9,
        cpu_s=time.process_time() - cpu0,
        latencies_ns=lat,
        extra={"parse_s": parse_ns / 1e9},
    )


class ConversationRunner:
    """Two sessions talking through Session.encrypt/decrypt; turns at a given rate."""

    def __init__(self, spec: BenchSpec) -> None:
        self.spec = spec
        alice, bob = make_pair(RekeyPolicy.parse(spec.policy), profile=spec.profile)
        check_path(hot_path(), spec.path)
        self.a, self.b = alice, bob
        self.sender, self.receiver = bob, alice  # bob replied last
        self.rng = random.Random(spec.seed)
        self.pool = payloads(spec.payload, spec.seed)

    def run(self, n: int, tick: Tick) -> Rep:
        rate = self.spec.effective_turn_rate()
        rnd = self.rng.random
        turns = [rate >= 1.0 or rnd() < rate for _ in range(n)]
        s, r = self.sender, self.receiver
        before_a, before_b = self.a.stats, self.b.stats
        pool = self.pool
        clock = time.perf_counter_ns
        lat = [0] * n
        n_turns = 0
        c0, w0 = time.process_time(), clock()
        for i in range(n):
            if turns[i]:
                s, r = r, s
                n_turns += 1
            pt = pool[i % PAYLOAD_POOL]
            t0 = clock()
            out = r.decrypt(s.encrypt(pt))
            t1 = clock()
            if out != pt:
                raise mismatch()
            lat[i] = t1 - t0
            if i % TICK == TICK - 1:
                tick(TICK)
        wall = clock() - w0
        cpu = time.process_time() - c0
        tick(n % TICK)
        self.sender, self.receiver = s, r
        da = stats_delta(self.a.stats, before_a)
        db = stats_delta(self.b.stats, before_b)
        events = {
            "direction_changes": n_turns,
            "ecdh_steps_both_sides": da["ecdh_ratchets"] + db["ecdh_ratchets"],
            "pq_secrets_mixed_both_sides": da["pq_rekeys"] + db["pq_rekeys"],
            "wire_bytes": da["wire_bytes"] + db["wire_bytes"],
            "plaintext_bytes": da["plaintext_bytes"] + db["plaintext_bytes"],
        }
        turn_ns = sum(x for x, t in zip(lat, turns, strict=True) if t)
        extra = {"turn_s": turn_ns / 1e9, "steady_s": (sum(lat) - turn_ns) / 1e9}
        return Rep(n, sum(lat) / 1e9, wall / 1e9, cpu, lat, events, extra)


class FanoutRunner:
    """One sender device, N recipient devices, each user message sealed N times."""

    def __init__(self, spec: BenchSpec) -> None:
        self.spec = spec
        policy = RekeyPolicy.parse(spec.policy)
        sender = Device.generate("tel:+15551234567", device_id=7, profile=spec.profile)
        self.pairs: list[tuple[Session, Session]] = []
        for i in range(spec.recipients):
            rcpt = Device.generate(
                f"mailto:recipient{i}@example.org", device_id=100 + i, profile=spec.profile
            )
            self.pairs.append(make_pair_between(sender, rcpt, policy))
        check_path(hot_path(), spec.path)
        self.pool = payloads(spec.payload, spec.seed)

    def run(self, n: int, tick: Tick) -> Rep:
        pairs, pool = self.pairs, self.pool
        before = [(a.stats, b.stats) for a, b in pairs]
        clock = time.perf_counter_ns
        lat = [0] * n
        c0, w0 = time.process_time(), clock()
        for i in range(n):
            pt = pool[i % PAYLOAD_POOL]
            t0 = clock()
            for s, r in pairs:
                if r.decrypt(s.encrypt(pt)) != pt:
                    raise mismatch()
            lat[i] = clock() - t0
            if i % TICK == TICK - 1:
                tick(TICK * len(pairs))
        wall = clock() - w0
        cpu = time.process_time() - c0
        tick((n % TICK) * len(pairs))
        ecdh = wire = 0
        for (a, b), (ba, bb) in zip(pairs, before, strict=True):
            da, db = stats_delta(a.stats, ba), stats_delta(b.stats, bb)
            ecdh += da["ecdh_ratchets"] + db["ecdh_ratchets"]
            wire += da["wire_bytes"]
        deliveries = n * len(pairs)
        # One sample per user message: all N deliveries of it.
        return Rep(
            deliveries,
            sum(lat) / 1e9,
            wall / 1e9,
            cpu,
            lat,
            {"user_messages": n, "ecdh_steps_both_sides": ecdh, "wire_bytes": wire},
        )


def make_runner(spec: BenchSpec) -> Runner:
    """Build (and set up, untimed) the runner of a workload on the current path."""
    if spec.workload == "symmetric":
        return SymmetricRunner(spec)
    if spec.workload in ("full", "pingpong"):
        return ConversationRunner(spec)
    if spec.workload == "fanout":
        return FanoutRunner(spec)
    raise MisuseError(f"unknown workload {spec.workload!r}: one of {', '.join(WORKLOADS)}")

