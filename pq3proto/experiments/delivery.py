"""A seeded network between two devices: reorder, drop, duplicate, delay, long offline gaps.

Owns: turning a stream of sent messages into a stream of deliveries in simulated time, with
every random choice drawn from one seeded `random.Random` so a run is reproducible.
Not: sessions or cryptography; the simulator moves opaque bytes and knows nothing of keys.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from ..traffic import Traffic


@dataclass(frozen=True)
class OfflineGap:
    """A device that receives nothing from `start` to `end` (simulated seconds)."""

    device: str
    start: float
    end: float


@dataclass(frozen=True)
class NetworkConditions:
    """Probabilities and delays of one simulated network; all zero means a perfect FIFO link."""

    drop: float = 0.0
    duplicate: float = 0.0
    mean_delay: float = 0.0  # exponential delay per delivery, seconds; reorders when > 0
    max_duplicates: int = 2
    offline: tuple[OfflineGap, ...] = ()

    @classmethod
    def perfect(cls) -> NetworkConditions:
        """No loss, no duplicates, no delay: a FIFO link."""
        return cls()

    @classmethod
    def hostile(cls) -> NetworkConditions:
        """Frequent loss, duplication and reordering: the atomicity tests' default."""
        return cls(drop=0.15, duplicate=0.15, mean_delay=5.0)


@dataclass(frozen=True, order=True)
class Delivery:
    """One copy of a message arriving at `recipient` at simulated time `at`."""

    at: float
    order: int
    recipient: str = field(compare=False)
    sender: str = field(compare=False)
    message_id: int = field(compare=False)
    wire: bytes = field(compare=False, repr=False)


class Network:
    """Queues sent messages and releases their (possibly dropped, duplicated) copies in time order.

    A message sent while its recipient is offline is held until the gap ends, then delivered
    after the usual random delay.
    """

    def __init__(self, seed: int, conditions: NetworkConditions | None = None) -> None:
        self._rng = random.Random(seed)
        self.conditions = conditions or NetworkConditions()
        self._queue: list[Delivery] = []
        self._order = 0
        self.sent = 0
        self.dropped = 0
        self.duplicated = 0

    def _online_at(self, device: str, t: float) -> float:
        """The first time >= t at which `device` is online."""
        moved = True
        while moved:
            moved = False
            for gap in self.conditions.offline:
                if gap.device == device and gap.start <= t < gap.end:
                    t, moved = gap.end, True
        return t

    def send(self, now: float, sender: str, recipient: str, message_id: int, wire: bytes) -> None:
        """Hand one message to the network at time `now`."""
        c = self.conditions
        self.sent += 1
        if self._rng.random() < c.drop:
            self.dropped += 1
            return
        copies = 1
        while copies < c.max_duplicates and self._rng.random() < c.duplicate:
            copies += 1
        self.duplicated += copies - 1
        for _ in range(copies):
            delay = self._rng.expovariate(1.0 / c.mean_delay) if c.mean_delay > 0 else 0.0
            at = self._online_at(recipient, now) + delay
            heapq.heappush(
                self._queue, Delivery(at, self._order, recipient, sender, message_id, wire)
            )
            self._order += 1

    def due(self, now: float) -> list[Delivery]:
        """Every delivery whose time has come, in time order (ties in send order)."""
        out = []
        while self._queue and self._queue[0].at <= now:
            out.append(heapq.heappop(self._queue))
        return out

    def drain(self) -> list[Delivery]:
        """Every delivery still queued, in time order."""
        out = sorted(self._queue)
        self._queue.clear()
        return out

    def pending(self) -> int:
        """Deliveries still queued."""
        return len(self._queue)


# ── Traffic patterns ────────────────────────────────────────────────────────────────────

PATTERNS = ("ping-pong", "bursty", "one-sided")


def traffic(pattern: str, messages: int, seed: int) -> list[str]:
    """Who sends each message ("A" or "B"): a seeded sequence for one traffic shape.

    `pattern` is in the vocabulary of pq3proto.traffic: ping-pong, bursty[:MEAN] (geometric
    turn lengths, mean 5 by default), one-sided (runs of 30 to 50 from A, one reply from B)
    or one-way.
    """
    return Traffic.parse(pattern).senders(messages, seed)
