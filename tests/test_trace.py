"""The per-message trace (pq3proto/trace.py, docs/trace.md): one event per message, exact sizes."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from helpers import SAVE_IN_MEMORY

from pq3proto import AuthenticationError, Device, RekeyPolicy, Session
from pq3proto.trace import CSV_COLUMNS, TraceEvent, TraceRecorder, chain_id
from pq3proto.wire import parse_message


def traced_conversation(
    policy: RekeyPolicy, turns: list[int]
) -> tuple[TraceRecorder, TraceRecorder, list[bytes], Session, Session]:
    bob_dev = Device.generate("mailto:bob@example.org", device_id=1)
    alice_dev = Device.generate("tel:+15551234567", device_id=7)
    ra, rb = TraceRecorder(), TraceRecorder()
    a = Session.initiate(alice_dev, bob_dev.public_identity(), bob_dev.prekey_bundle(),
                         policy=policy)
    a.tracer = ra
    w = a.encrypt(b"start", b"ad")
    b, _ = Session.accept(bob_dev, alice_dev.public_identity(), w, save_device=SAVE_IN_MEMORY,
                          policy=policy, tracer=rb)
    wires = [w]
    sender, receiver = b, a
    for n in turns:
        for i in range(n):
            wire = sender.encrypt(b"m%d" % i)
            receiver.decrypt(wire)
            wires.append(wire)
        sender, receiver = receiver, sender
    return ra, rb, wires, a, b


def test_one_event_per_message_with_exact_sizes() -> None:
    ra, rb, wires, _a, _b = traced_conversation(RekeyPolicy.every_turn(), [2, 1, 3, 1])
    events = sorted(ra.events + rb.events, key=lambda e: (e.direction, e.seq))
    sends = [e for e in events if e.direction == "send"]
    receives = [e for e in events if e.direction == "receive"]
    assert len(sends) == len(receives) == len(wires)
    by_slot = {(e.chain, e.index): e for e in sends}
    for wire in wires:
        msg = parse_message(wire)
        sent = by_slot[(chain_id(msg.header.ecdh_public_key), msg.index)]
        assert sent.parts.total == len(wire)
        assert sent.parts.signature == 64 and sent.parts.ciphertext == len(msg.ciphertext)
        kinds = {m.kind for m in sent.material}
        assert ("kem_public_key" in kinds) == (msg.header.kem_public_key is not None)
        assert ("kem_ciphertext" in kinds) == (msg.header.kem_ciphertext is not None)
    for r in (ra, rb):
        assert [e.seq for e in r.events] == list(range(len(r.events)))


def test_steps_and_rekeys_match_the_session_counters() -> None:
    ra, rb, _, a, b = traced_conversation(RekeyPolicy.every_turn(), [2, 2, 2, 2])
    for rec, s in ((ra, a), (rb, b)):
        assert sum(e.rekey_completed for e in rec.events) == s.stats.pq_rekeys
        steps = sum(e.ecdh_step for e in rec.events)
        assert steps >= s.stats.ecdh_ratchets  # accept's own step is traced, not counted
    assert any(e.rekey_requested for e in ra.events + rb.events)


def test_never_policy_carries_no_rekey_material() -> None:
    ra, rb, _, _, _ = traced_conversation(RekeyPolicy.never(), [3, 3])
    material = [m.kind for e in ra.events + rb.events for m in e.material]
    assert set(material) == {"start_ciphertext"}
    assert not any(e.rekey_completed for e in ra.events + rb.events)


def test_a_refused_message_is_traced_with_its_error() -> None:
    _ra, rb, _, a, b = traced_conversation(RekeyPolicy(), [1])
    bad = bytearray(a.encrypt(b"x"))
    bad[-1] ^= 1
    with pytest.raises(AuthenticationError):
        b.decrypt(bytes(bad))
    last = rb.events[-1]
    assert last.direction == "receive" and last.error == "AuthenticationError"
    with pytest.raises(Exception):  # noqa: B017 - any PQ3Error; the event records which
        b.decrypt(b"\x01")
    assert rb.events[-1].chain == "" and rb.events[-1].error == "MalformedInputError"


def test_a_raising_tracer_fails_the_step_and_changes_nothing() -> None:
    _, _, _, a, b = traced_conversation(RekeyPolicy(), [1])

    def boom(_: TraceEvent) -> None:
        raise RuntimeError("tracer failed")

    wire = a.encrypt(b"y")
    b.tracer = boom
    before = b.to_bytes()
    with pytest.raises(RuntimeError):
        b.decrypt(wire)
    assert b.to_bytes() == before
    b.tracer = None
    assert b.decrypt(wire) == b"y"


def test_json_and_csv_exports() -> None:
    ra, _, _, _, _ = traced_conversation(RekeyPolicy.every_turn(), [2, 1])
    rows = json.loads(ra.json())
    assert len(rows) == len(ra.events)
    assert rows[0]["parts"]["total"] == ra.events[0].parts.total
    table = list(csv.DictReader(io.StringIO(ra.csv())))
    assert tuple(table[0]) == CSV_COLUMNS
    assert [int(r["wire_bytes"]) for r in table] == [e.parts.total for e in ra.events]


def test_trace_command_writes_json_and_csv(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from pq3proto.cli import main

    js, cs = tmp_path / "t.json", tmp_path / "t.csv"
    rc = main(["trace", "--messages", "30", "--traffic", "bursty", "--policy", "every-turn",
               "--loss", "0.1", "--reorder", "90", "--seed", "3", "--json", str(js),
               "--csv", str(cs)])
    assert rc == 0
    doc = json.loads(js.read_text())
    s = doc["summary"]
    assert s["messages_sent"] == 30
    assert s["deliveries"] + s["refused"] + s["dropped_by_network"] >= 30 - s["refused"]
    receives = [e for e in doc["events"] if e["direction"] == "receive" and not e["error"]]
    assert len(receives) == s["deliveries"]
    assert len(list(csv.DictReader(io.StringIO(cs.read_text())))) == len(doc["events"])
    assert "sent" in capsys.readouterr().out


@pytest.mark.parametrize(
    "bad",
    [["--messages", "0"], ["--loss", "1.5"], ["--reorder", "-1"], ["--traffic", "x"],
     ["--policy", "abc"], ["--seed", "z"]],
)
def test_trace_command_rejects_bad_values(bad: list[str]) -> None:
    from pq3proto.cli import main

    with pytest.raises(SystemExit) as e:
        main(["trace", *bad])
    assert e.value.code == 2


def test_trace_command_takes_a_profile(tmp_path: Any) -> None:
    from pq3proto.cli import main

    js = tmp_path / "t.json"
    assert main(["trace", "--messages", "12", "--rekey-kem", "ML-KEM-1024", "--policy",
                 "every-turn", "--json", str(js), "--quiet"]) == 0
    doc = json.loads(js.read_text())
    assert doc["profile"] == "ML-KEM-1024/ML-KEM-1024/repeat"
    material = [m for e in doc["events"] for m in e["material"]]
    sizes = {m["size"] for m in material if m["kind"] != "start_ciphertext"}
    assert sizes == {1568}  # ML-KEM-1024's key and ciphertext
