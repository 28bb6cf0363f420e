"""The value of a session: what it persists (SessionState) and its counters (SessionStats).

Owns: those two immutable values and how the counters move with each message.
Not: the transitions that build them (session.py, ratchet.py) or their encoding (state.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .frozen import copier, fast_init
from .identity import PublicIdentity
from .policy import RekeyPolicy
from .profile import PQ3, Profile
from .ratchet import NO_EFFECTS, Effects, RatchetState


@fast_init
@dataclass(frozen=True)
class SessionStats:
    """Counters of one side. wire_bytes and plaintext_bytes count messages this side sent."""

    sent: int = 0
    received: int = 0
    ecdh_ratchets: int = 0
    pq_rekeys: int = 0
    wire_bytes: int = 0
    plaintext_bytes: int = 0

    def after_send(self, effects: Effects, wire_bytes: int, plaintext_bytes: int) -> SessionStats:
        if effects is NO_EFFECTS:  # the per-message path
            new: SessionStats = _count_send(
                self,
                self.sent + 1,
                self.wire_bytes + wire_bytes,
                self.plaintext_bytes + plaintext_bytes,
            )
            return new
        return SessionStats(
            self.sent + 1,
            self.received,
            self.ecdh_ratchets + effects.ecdh_step,
            self.pq_rekeys + effects.pq_mixed,
            self.wire_bytes + wire_bytes,
            self.plaintext_bytes + plaintext_bytes,
        )

    def after_receive(self, effects: Effects) -> SessionStats:
        if effects is NO_EFFECTS:
            new: SessionStats = _count_receive(self, self.received + 1)
            return new
        return SessionStats(
            self.sent,
            self.received + 1,
            self.ecdh_ratchets + effects.ecdh_step,
            self.pq_rekeys + effects.pq_mixed,
            self.wire_bytes,
            self.plaintext_bytes,
        )


_count_send = copier("sent", "wire_bytes", "plaintext_bytes")
_count_receive = copier("received")


@fast_init
@dataclass(frozen=True, eq=False)
class SessionState:
    """The whole persisted value of a session; state.py encodes it."""

    me: PublicIdentity
    peer: PublicIdentity
    initiator: bool
    policy: RekeyPolicy
    ratchet: RatchetState
    stats: SessionStats
    profile: Profile = PQ3


# The copy every message commits: the new ratchet state and counters.
commit_message = copier("ratchet", "stats")
