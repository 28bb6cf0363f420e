"""The interop scenarios: scripted conversations between an initiator and a responder.

Owns: the named scenarios of spec/09-interop-driver.md §4, as step lists the runner plays.
Not: talking to drivers (runner.py).
"""

from __future__ import annotations

from dataclasses import dataclass

INITIATOR = "initiator"
RESPONDER = "responder"
_I, _R = INITIATOR, RESPONDER


@dataclass(frozen=True)
class Step:
    """One scenario step.

    kind: "send" (party encrypts message number `n`, the count of sends so far), "deliver"
    (party receives message `n`: accept if it has no session yet, else decrypt), "restore"
    (party serializes its session and restores it), "advance" (clocks move `n` seconds).
    `error`: the failure class a delivery must give, or None.
    """

    kind: str
    party: str = _I
    n: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    policy: Policy
    steps: tuple[Step, ...]
    profile: str | None = None  # the profile identifier in hex (spec/10-profiles.md §1); None: PQ3


def _send(party: str) -> Step:
    return Step("send", party)


def _deliver(party: str, n: int, error: str | None = None) -> Step:
    return Step("deliver", party, n, error)


def _turns(first_message: int, runs: list[int], first: str = _R) -> list[Step]:
    """Alternating runs of sends, each delivered at once; numbering from first_message."""
    steps: list[Step] = []
    n = first_message
    sender = first
    for run in runs:
        receiver = _I if sender == _R else _R
        for _ in range(run):
            steps += [_send(sender), _deliver(receiver, n)]
            n += 1
        sender = receiver
    return steps


Policy = dict[str, int | float | None]
DEFAULT: Policy = {"everyMessages": 50, "maxAgeSeconds": 604800}
EVERY_TURN: Policy = {"everyMessages": 0, "maxAgeSeconds": None}
HOURLY: Policy = {"everyMessages": None, "maxAgeSeconds": 3600}
EVERY_2: Policy = {"everyMessages": 2, "maxAgeSeconds": None}
# ML-KEM-1024 start, ML-KEM-768 rekeys: `first`, and `chunked` with 256-byte chunks, e = 2
FIRST_PROFILE = "010105010302"
CHUNKED_PROFILE = "010105010303010002"

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("basic", DEFAULT, (_send(_I), _deliver(_R, 0), *_turns(1, [2, 1]))),
        Scenario(
            "turns", DEFAULT, (_send(_I), _deliver(_R, 0), *_turns(1, [1, 2, 1, 3, 1, 1, 2, 1]))
        ),
        Scenario("every-turn", EVERY_TURN, (_send(_I), _deliver(_R, 0), *_turns(1, [1] * 8))),
        Scenario(
            "time",
            HOURLY,
            (
                _send(_I),
                _deliver(_R, 0),
                Step("advance", n=1800),
                *_turns(1, [1, 1]),
                Step("advance", n=1800),
                *_turns(3, [1, 1]),
                Step("advance", n=7200),
                *_turns(5, [2, 1]),
            ),
        ),
        Scenario(
            "out-of-order",
            EVERY_TURN,
            (
                _send(_I),
                _send(_I),
                _send(_I),
                _deliver(_R, 2),
                _deliver(_R, 0),
                _deliver(_R, 1),
                _send(_R),
                _send(_R),
                _send(_R),
                _deliver(_I, 4),
                _deliver(_I, 5),
                _send(_I),
                _deliver(_R, 6),
                _deliver(_I, 3),  # late message of the responder's previous chain
                _send(_R),
                _deliver(_I, 7),
            ),
        ),
        Scenario(
            "loss-and-replay",
            DEFAULT,
            (
                _send(_I),
                _send(_I),
                _deliver(_R, 1),  # message 0 is lost
                _deliver(_R, 1, "ReplayError"),
                _send(_R),
                _deliver(_I, 2),
                _send(_I),
                _send(_I),
                _deliver(_R, 4),  # message 3 is lost
                _send(_R),
                _deliver(_I, 5),
                _deliver(_R, 3),  # arrives late, from a skipped key
                _deliver(_R, 3, "ReplayError"),
            ),
        ),
        Scenario(
            "restore",
            EVERY_TURN,
            (
                _send(_I),
                Step("restore", _I),
                _deliver(_R, 0),
                Step("restore", _R),
                _send(_R),
                _deliver(_I, 1),
                Step("restore", _I),
                _send(_I),
                _send(_I),
                Step("restore", _R),
                _deliver(_R, 3),
                _deliver(_R, 2),
                *_turns(4, [1, 2, 1]),
            ),
        ),
        Scenario(
            "first-loss",
            EVERY_2,
            (
                _send(_I),
                _deliver(_R, 0),
                *_turns(1, [2, 2]),  # the initiator's second chain requests (messages 3-4)
                _send(_R),
                _send(_R),
                _deliver(_I, 6),  # index 0 of the answering chain (message 5) is lost
                _send(_I),
                _deliver(_R, 7),
                _send(_R),  # a new chain: its index 0 carries the ciphertext again
                _deliver(_I, 8),
                *_turns(9, [1, 1, 1, 1]),  # answer, mix on the marked chain
                _deliver(_I, 5),  # the lost message arrives late
            ),
            FIRST_PROFILE,
        ),
        Scenario(
            "chunked-reorder",
            EVERY_2,
            (
                _send(_I),
                _deliver(_R, 0),
                *_turns(1, [3, 3]),
                _send(_R),
                _send(_R),
                _send(_R),
                _send(_R),
                _deliver(_I, 10),  # chunks in reverse order, one lost
                _deliver(_I, 9),
                _deliver(_I, 7),
                *_turns(11, [3, 3, 3, 3, 3, 3]),
                _deliver(_I, 8),
                _deliver(_I, 8, "ReplayError"),
            ),
            CHUNKED_PROFILE,
        ),
    )
}
