"""The flip test: each choice spec 1.1 pins is decided by a committed vector.

For every pinned choice, this implementation is monkeypatched to the other reading, and the
committed vectors are verified again: at least one named vector must fail. A choice that
passed either way would be a choice the vectors leave open (issue 13).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pq3proto.policy as policy_mod
import pq3proto.ratchet as ratchet
import pq3proto.session as session_mod
import pq3proto.starting as starting_mod
import pq3proto.state as state_mod
from pq3proto import kem
from pq3proto.constants import MAX_FORWARD_JUMP
from pq3proto.encoding import Reader
from pq3proto.errors import TooFarAheadError
from pq3proto.handshake import start_id
from pq3proto.identity import PrekeyBundle
from pq3proto.policy import RekeyPolicy
from pq3proto.primitives import decode_point, sha384
from pq3proto.session import Session
from pq3proto.session_state import SessionStats
from pq3proto.vectors import verify_state
from pq3proto.vectors.verify import VerifyReport, verify_document
from pq3proto.wire import ParsedMessage

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"


def _failing(stem: str, only: str = "") -> set[str]:
    """Comments of the tests of one committed file (those starting `only`) that fail."""
    doc = json.loads((VECTORS / f"{stem}.json").read_bytes())
    for group in doc["testGroups"]:
        group["tests"] = [t for t in group["tests"] if t["comment"].startswith(only)]
    doc["testGroups"] = [g for g in doc["testGroups"] if g["tests"]]
    tests = [t for g in doc["testGroups"] for t in g["tests"]]
    assert tests, f"no test of {stem} starts {only!r}"
    doc["numberOfTests"] = len(tests)
    doc["notes"] = {f: n for f, n in doc["notes"].items() if any(f in t["flags"] for t in tests)}
    report = VerifyReport()
    verify_document(stem, doc, report)
    by_id = {t["tcId"]: t["comment"] for g in doc["testGroups"] for t in g["tests"]}
    assert all(f.tc_id is not None for f in report.failures), report.summary()
    return {by_id[f.tc_id] for f in report.failures if f.tc_id is not None}


def _caught(stem: str, comment_start: str) -> None:
    failing = _failing(stem, comment_start)
    assert any(c.startswith(comment_start) for c in failing), (
        f"no vector of {stem} starting {comment_start!r} fails under the flipped reading; "
        f"failing: {sorted(failing)}"
    )


def test_unpatched_baseline_passes() -> None:
    for stem in (
        "pq3_pinned_choice_test",
        "pq3_identity_test",
        "pq3_bundle_test",
        "pq3_session_state_test",
        "pq3_device_state_test",
    ):
        assert _failing(stem) == set()


# ── Rekey triggers ──────────────────────────────────────────────────────────────────────


def _due_with(
    messages: Callable[[int, int], bool], age: Callable[[float, float], bool]
) -> Callable[[RekeyPolicy, int, float], bool]:
    def due(self: RekeyPolicy, since: int, seconds: float) -> bool:
        if self.every_messages is not None and messages(since, self.every_messages):
            return True
        return self.max_age_seconds is not None and age(seconds, self.max_age_seconds)

    return due


def test_age_trigger_strictly_greater_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RekeyPolicy, "due", _due_with(lambda s, n: s >= n, lambda a, t: a > t))
    _caught("pq3_pinned_choice_test", "age trigger: 3599 s")


def test_zero_age_disabling_the_trigger_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        RekeyPolicy, "due", _due_with(lambda s, n: s >= n, lambda a, t: t > 0 and a >= t)
    )
    _caught("pq3_pinned_choice_test", "T = 0")


def test_message_trigger_strictly_greater_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RekeyPolicy, "due", _due_with(lambda s, n: s > n, lambda a, t: a >= t))
    _caught("pq3_pinned_choice_test", "N = 2")
    _caught("pq3_pinned_choice_test", "N = 0")


def test_since_pq_counting_only_sent_messages_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def uncount(r: ratchet.RatchetState) -> ratchet.RatchetState:
        return ratchet.evolve(r, messages_since_pq=max(0, r.messages_since_pq - 1))

    fast = ratchet.commit_fast_receive
    monkeypatch.setattr(
        session_mod, "commit_fast_receive", lambda s, p, ck: uncount(fast(s, p, ck))
    )
    plan = ratchet.plan_receive

    def plan_uncounted(*args: Any) -> ratchet.ReceivePlan:
        p = plan(*args)
        return ratchet.ReceivePlan(
            p.key, p.is_message_key, p.effects, lambda ck: uncount(p.commit(ck))
        )

    monkeypatch.setattr(session_mod, "plan_receive", plan_uncounted)
    _caught("pq3_pinned_choice_test", "N = 2")


@pytest.mark.parametrize(
    ("rounding", "caught"),
    [
        (lambda x: math.floor(x + 0.5), "T = 0.0125"),  # ties away from zero
        (math.floor, "T = 0.0127"),  # truncation
    ],
)
def test_other_millisecond_rounding_is_caught(
    monkeypatch: pytest.MonkeyPatch, rounding: Callable[[float], int], caught: str
) -> None:
    monkeypatch.setattr(policy_mod, "round", rounding, raising=False)
    _caught("pq3_pinned_choice_test", caught)


# ── Counters ────────────────────────────────────────────────────────────────────────────


def test_accept_not_counting_its_message_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    accept = Session.accept_deterministic_for_tests

    def accept_uncounted(*args: Any, **kwargs: Any) -> Any:
        res = accept(*args, **kwargs)
        s = res[0]
        st = s._state
        s._state = ratchet.evolve(st, stats=ratchet.evolve(st.stats, received=0))
        return res

    monkeypatch.setattr(Session, "accept_deterministic_for_tests", accept_uncounted)
    _caught("pq3_pinned_choice_test", "N = 0")


def test_rekey_counted_on_one_side_only_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    after = SessionStats.after_receive

    def receive_without_rekey(self: SessionStats, effects: ratchet.Effects) -> SessionStats:
        return after(self, ratchet.Effects(ecdh_step=effects.ecdh_step))

    monkeypatch.setattr(SessionStats, "after_receive", receive_without_rekey)
    _caught("pq3_pinned_choice_test", "N = 0")


# ── Skipped keys ────────────────────────────────────────────────────────────────────────


def test_no_eviction_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratchet, "MAX_SKIPPED_KEYS", 10**9)
    _caught("pq3_pinned_choice_test", "2001 skipped keys")


# ── Order of checks on receipt ──────────────────────────────────────────────────────────


def _plan_with_bound(where: str) -> Callable[..., ratchet.ReceivePlan]:
    """plan_receive with the new-chain bound moved to `where` ("first" or "after_ecdh")."""

    def plan(
        state: ratchet.RatchetState,
        msg: ParsedMessage,
        digest: bytes,
        dst: bytes,
        now: float,
        step: Any,
        rekey: Any = None,
    ) -> ratchet.ReceivePlan:
        point = msg.header.ecdh_public_key
        effects = ratchet.NO_EFFECTS
        pos = state.find_chain(point)
        if pos < 0:
            if where == "first" and msg.index > MAX_FORWARD_JUMP:
                raise TooFarAheadError("bound first")
            if where == "first":
                return ratchet.plan_receive(state, msg, digest, dst, now, step, rekey)
            return _after_ecdh(state, msg, digest, dst, now, step, rekey)
        return ratchet._plan_in_chain(state, pos, msg.index, effects, step)

    return plan


def _after_ecdh(
    state: ratchet.RatchetState,
    msg: ParsedMessage,
    digest: bytes,
    dst: bytes,
    now: float,
    step: Any,
    rekey: Any,
) -> ratchet.ReceivePlan:
    from pq3proto.errors import AuthenticationError, MisuseError

    if msg.header.ecdh_public_key in state.retired:
        raise TooFarAheadError("retired")
    if msg.header.prekey_hash is not None:
        raise MisuseError("session start")
    if state.my_ecdh is None:
        raise AuthenticationError("no new chain expected")
    new_state, effects = ratchet._receive_ecdh_step(
        state, msg.header, digest, dst, now, rekey or ratchet.rekey_kem()
    )
    if msg.index > MAX_FORWARD_JUMP:
        raise TooFarAheadError("bound after the ECDH step")
    return ratchet._plan_in_chain(new_state, len(new_state.receiving) - 1, msg.index, effects, step)


def test_bound_after_the_ecdh_step_checks_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod, "plan_receive", _plan_with_bound("after_ecdh"))
    _caught("pq3_pinned_choice_test", "new chain too far ahead and missing")
    _caught("pq3_pinned_choice_test", "new chain too far ahead on a point")


def test_bound_before_the_key_check_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod, "plan_receive", _plan_with_bound("first"))
    _caught("pq3_pinned_choice_test", "new chain before the receiver holds a ratchet key")


def test_refusing_a_continuation_chain_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.0 reading (a new peer chain only while awaiting a reply) fails the vector."""
    real = ratchet.plan_receive

    def strict(
        state: ratchet.RatchetState, msg: ParsedMessage, *args: Any, **kw: Any
    ) -> ratchet.ReceivePlan:
        from pq3proto.errors import AuthenticationError

        if state.find_chain(msg.header.ecdh_public_key) < 0 and not state.awaiting_reply:
            raise AuthenticationError("no new chain expected")
        return real(state, msg, *args, **kw)

    monkeypatch.setattr(session_mod, "plan_receive", strict)
    _caught("pq3_pinned_choice_test", "new chain while not awaiting a reply")


def test_accept_checking_the_kem_key_before_replay_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parse = starting_mod.parse_message

    def parse_and_check_kem(wire: bytes) -> ParsedMessage:
        msg = parse(wire)
        if msg.header.kem_public_key is not None:
            kem.get_backend().validate_public_key(kem.MLKEM768, msg.header.kem_public_key)
        return msg

    monkeypatch.setattr(starting_mod, "parse_message", parse_and_check_kem)
    _caught("pq3_pinned_choice_test", "accept: a replayed start")


# ── Decoding ────────────────────────────────────────────────────────────────────────────


def test_bundle_point_checked_before_length_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    decode = PrekeyBundle.decode.__func__  # type: ignore[attr-defined]

    def point_first(cls: type[PrekeyBundle], data: bytes) -> PrekeyBundle:
        r = Reader(data, "prekey bundle")
        r.u8("version")
        decode_point(r.take(65, "ECDH prekey"))
        return decode(cls, data)  # type: ignore[no-any-return]

    monkeypatch.setattr(PrekeyBundle, "decode", classmethod(point_first))
    _caught("pq3_bundle_test", "one byte short and the point off the curve")


def test_identity_version_checked_after_length_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from pq3proto.identity import PublicIdentity

    decode = PublicIdentity.decode.__func__  # type: ignore[attr-defined]

    def length_first(cls: type[PublicIdentity], data: bytes) -> PublicIdentity:
        r = Reader(data, "public identity")
        r.u8("version")
        r.take(r.u32("uri length"), "uri")
        r.take(4 + 65, "device id and key")
        r.done()
        return decode(cls, data)  # type: ignore[no-any-return]

    monkeypatch.setattr(PublicIdentity, "decode", classmethod(length_first))
    _caught("pq3_identity_test", "version 2 and truncated")


def test_other_start_id_formula_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def reordered(prekey_hash: bytes, point: bytes, ct: bytes) -> bytes:
        return sha384(point + prekey_hash + ct)

    monkeypatch.setattr(verify_state, "start_id", reordered)
    assert reordered(b"a", b"b", b"c") != start_id(b"a", b"b", b"c")
    _caught("pq3_device_state_test", "after 1 accepted session start")


def test_no_stored_counter_bound_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_mod, "MAX_STORED_COUNTER", 1 << 64)
    _caught("pq3_session_state_test", "counter sent = 2^62")


def test_a_per_chain_skipped_key_limit_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    limit = ratchet.MAX_SKIPPED_KEYS
    monkeypatch.setattr(ratchet, "MAX_SKIPPED_KEYS", 10**9)
    inner = ratchet._plan_in_chain

    def per_chain(state: ratchet.RatchetState, pos: int, *args: Any) -> ratchet.ReceivePlan:
        plan = inner(state, pos, *args)
        point = state.receiving[pos].peer_point

        def commit(ck: bytes | None) -> ratchet.RatchetState:
            new = plan.commit(ck)
            skipped = dict(new.skipped)
            mine = [k for k in skipped if k[0] == point]
            for k in mine[: max(0, len(mine) - limit)]:
                del skipped[k]
            return ratchet.evolve(new, skipped=skipped)

        return ratchet.ReceivePlan(plan.key, plan.is_message_key, plan.effects, commit)

    monkeypatch.setattr(ratchet, "_plan_in_chain", per_chain)
    failing = _failing("pq3_pinned_choice_test")
    assert any(c.startswith("skipped keys of all chains count") for c in failing), failing
    assert not any(c.startswith("2001 skipped keys") for c in failing)  # same within a chain


def test_initiate_counted_as_an_ecdh_step_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    initiate = Session.initiate_deterministic_for_tests

    def initiate_counted(*args: Any, **kwargs: Any) -> Session:
        s = initiate(*args, **kwargs)
        st = s._state
        s._state = ratchet.evolve(st, stats=ratchet.evolve(st.stats, ecdh_ratchets=1))
        return s

    monkeypatch.setattr(Session, "initiate_deterministic_for_tests", initiate_counted)
    _caught("pq3_pinned_choice_test", "N = 0")


def test_ignoring_later_chain_headers_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.0 reading (later chain material ignored) accepts the re-signed copies."""
    real_plan, real_fast = ratchet.plan_receive, ratchet.fast_receive_chain

    def blind_plan(
        state: ratchet.RatchetState, msg: ParsedMessage, digest: bytes, *args: Any, **kw: Any
    ) -> ratchet.ReceivePlan:
        pos = state.find_chain(msg.header.ecdh_public_key)
        if pos >= 0:
            digest = state.receiving[pos].header_digest or digest
        return real_plan(state, msg, digest, *args, **kw)

    def blind_fast(state: ratchet.RatchetState, msg: ParsedMessage, digest: bytes) -> int:
        pos = state.find_chain(msg.header.ecdh_public_key)
        if pos >= 0 and state.receiving[pos].header_digest is not None:
            digest = state.receiving[pos].header_digest
        return real_fast(state, msg, digest)

    monkeypatch.setattr(session_mod, "plan_receive", blind_plan)
    monkeypatch.setattr(session_mod, "fast_receive_chain", blind_fast)
    _caught("pq3_pinned_choice_test", "later messages of a known chain")
