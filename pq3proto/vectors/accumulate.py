"""Accumulated vectors in the style of C2SP's CCTV (spec/test-vectors.md, Accumulated vectors).

Owns: the deterministic stream of randomized conversations (policy, turns, loss, reordering,
replays, time steps, restores), each chosen from a SHAKE-256 stream, and the one SHA-256
digest of everything they put on the wire and deliver; the published digests.
Not: the protocol (every value comes from Session), or the committed vector files.
No clock is read: every session runs on a manual clock the stream moves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from ..encoding import lp, u64
from ..errors import PQ3Error
from ..identity import Device
from ..policy import RekeyPolicy
from ..primitives import TestingOnlyDeterministicRandom
from ..session import Session
from .common import START_TIME, ManualClock

PREFIX = b"pq3proto accumulated v1/"
FULL_COUNT = 10_000
SHORT_COUNT = 200
# Published digests (also in spec/test-vectors.md), by conversation count.
DIGESTS: dict[int, str] = {
    SHORT_COUNT: "9e9b26b9d5ec208a8283013788e27d8287dc9bce5fa990ee7a055a736d6cfa71",
    FULL_COUNT: "2bdbce06557b9bc63390ad3091f9e57bf8fa0ba4f3a709f8a27d9358f263f898",
}
_TIME_STEPS = (0, 1, 59, 600, 3_599, 3_600, 86_400)
_URIS = (("tel:+15551234567", 7), ("mailto:bob@example.org", 1))


class Choices:
    """Choice k of conversation i: u32 of SHAKE-256(PREFIX || "choices/" || u64(i) || u64(k))."""

    def __init__(self, i: int) -> None:
        self._rng = TestingOnlyDeterministicRandom(PREFIX + b"choices/" + u64(i))

    def below(self, n: int) -> int:
        return int.from_bytes(self._rng.random_bytes(4), "big") % n

    def chance(self, one_in: int) -> bool:
        return self.below(one_in) == 0

    def data(self, n: int) -> bytes:
        return self._rng.random_bytes(n) if n else b""


def _policy(c: Choices) -> RekeyPolicy:
    kind = c.below(6)
    if kind == 0:
        return RekeyPolicy()
    if kind == 1:
        return RekeyPolicy.every_turn()
    if kind == 2:
        return RekeyPolicy.never()
    if kind == 3:
        return RekeyPolicy(1 + c.below(8), None)
    if kind == 4:
        return RekeyPolicy(None, (0, 60, 3_600)[c.below(3)])
    return RekeyPolicy(1 + c.below(8), 3_600)


class _Party:
    def __init__(self, i: int, role: int) -> None:
        name = (b"initiator", b"responder")[role]
        self.rng = TestingOnlyDeterministicRandom(PREFIX + u64(i) + b"/" + name)
        self.device = Device.generate_deterministic_for_tests(*_URIS[role], self.rng)
        self.clock = ManualClock(START_TIME)
        self.session: Session | None = None


def conversation(i: int, out: Callable[[bytes], None]) -> int:
    """Play conversation i, feeding every normative output to `out`; returns messages sent."""
    c = Choices(i)
    policy = _policy(c)
    a, b = _Party(i, 0), _Party(i, 1)
    out(u64(i) + policy.encode())
    a.session = Session.initiate_deterministic_for_tests(
        a.device,
        b.device.public_identity(),
        b.device.prekey_bundle(),
        a.rng,
        policy=policy,
        clock=a.clock,
    )
    sent = 0
    sender, receiver = a, b
    delivered: dict[int, list[bytes]] = {id(a): [], id(b): []}
    for turn in range(1 + c.below(6)):
        step = _TIME_STEPS[c.below(len(_TIME_STEPS))]
        for p in (a, b):
            p.clock.now += step
        if sender.session is None:  # the responder before accepting: nothing to send yet
            sender, receiver = receiver, sender
        assert sender.session is not None
        wires = []
        for _ in range(1 + c.below(4)):
            wire = sender.session.encrypt(c.data(c.below(48)), c.data(c.below(3) * 4))
            out(lp(wire))
            wires.append(wire)
            sent += 1
        order = list(range(len(wires)))
        for k in range(len(order) - 1, 0, -1):  # Fisher-Yates from the choices
            j = c.below(k + 1)
            order[k], order[j] = order[j], order[k]
        lost = {k for k in order if c.chance(8)}
        if turn == 0 or len(lost) == len(order):
            lost.discard(order[-1])
        for k in order:
            if k in lost:
                continue
            _deliver(receiver, sender, wires[k], policy, out)
            delivered[id(receiver)].append(wires[k])
        old = delivered[id(receiver)]
        if old and c.chance(10):  # a replay: must fail as ReplayError
            _deliver(receiver, sender, old[c.below(len(old))], policy, out)
        if sender.session is not None and receiver.session is not None and c.chance(20):
            _deliver(sender, receiver, wires[0], policy, out)  # reflected to its own sender
        if c.chance(6):
            p = (a, b)[c.below(2)]
            if p.session is not None:
                p.session = Session.from_bytes_deterministic_for_tests(
                    p.session.to_bytes(), p.device, p.rng, clock=p.clock
                )
                out(b"restore")
        sender, receiver = receiver, sender
    return sent


def _deliver(
    receiver: _Party, sender: _Party, wire: bytes, policy: RekeyPolicy, out: Callable[[bytes], None]
) -> None:
    try:
        if receiver.session is None:
            res: tuple[Any, ...] = Session.accept_deterministic_for_tests(
                receiver.device,
                sender.device.public_identity(),
                wire,
                receiver.rng,
                policy=policy,
                clock=receiver.clock,
            )
            receiver.session, pt = res[0], res[1]
            if len(res) > 2:  # the device's new value, once accept returns it
                receiver.device = res[2]
        else:
            pt = receiver.session.decrypt(wire)
    except PQ3Error as e:
        out(type(e).__name__.encode())
        return
    out(lp(pt))


def accumulate(count: int, progress: Callable[[int], None] | None = None) -> tuple[str, int]:
    """(SHA-256 hex digest, messages sent) of conversations 0 .. count-1."""
    digest = hashlib.sha256()
    messages = 0
    for i in range(count):
        messages += conversation(i, digest.update)
        if progress is not None:
            progress(i + 1)
    return digest.hexdigest(), messages
