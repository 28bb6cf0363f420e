"""The interop driver protocol (spec/09-interop-driver.md): this package against itself.

The native message path and the pure-Python path run in two driver subprocesses and play
the scenarios both ways round; the runner must also notice a driver that disagrees.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import sys
import textwrap
from pathlib import Path

import pytest

from pq3proto import Profile, native
from pq3proto.cli import main
from pq3proto.interop.driver import Driver, serve
from pq3proto.interop.runner import Outcome, _play, run, self_command
from pq3proto.interop.scenarios import INITIATOR, RESPONDER
from pq3proto.interop.scenarios import SCENARIOS as ALL
from pq3proto.wire import parse_message

SCENARIOS = [
    "basic", "every-turn", "out-of-order", "loss-and-replay", "restore", "first-loss",
    "chunked-reorder",
]


@pytest.mark.skipif(not native.available(), reason="native extension not built")
def test_native_driver_against_python_driver() -> None:
    report = run(self_command("1"), self_command("0"), SCENARIOS, timeout=60)
    assert report.ok, report.summary()
    assert len(report.outcomes) == 2 * len(SCENARIOS)
    by_name: dict[str, set[str]] = {}
    for o in report.outcomes:
        by_name.setdefault(o.scenario, set()).add(o.digest)
        assert o.messages > 0
    assert all(len(d) == 1 for d in by_name.values())  # same bytes whichever side is native


def test_cli_run_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    cmd = self_command()
    assert main(["interop", "run", "--a", cmd, "--b", cmd, "--scenarios", "basic"]) == 0
    out = capsys.readouterr().out
    assert "runs 2, passed 2, problems 0" in out
    with pytest.raises(SystemExit) as info:  # an unknown scenario is a usage error
        main(["interop", "run", "--a", cmd, "--b", cmd, "--scenarios", "nope"])
    assert info.value.code == 2


def test_runner_catches_a_driver_that_disagrees(tmp_path: Path) -> None:
    script = tmp_path / "bad_driver.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys
            from pq3proto.interop.driver import Driver
            d = Driver()
            for line in sys.stdin:
                req = json.loads(line)
                if req.get("op") == "shutdown":
                    break
                resp = d.handle(req)
                if req.get("op") == "decrypt" and resp.get("ok"):
                    resp["plaintext"] = "00" + resp["plaintext"]
                print(json.dumps(resp), flush=True)
            """
        )
    )
    bad = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    report = run(self_command(), bad, ["basic"], timeout=60)
    assert not report.ok
    assert any("plaintext or auth data differs" in (o.error or "") for o in report.outcomes)


def _serve(lines: list[object]) -> list[dict[str, object]]:
    out = io.StringIO()
    serve(io.StringIO("".join(json.dumps(x) + "\n" for x in lines)), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_failures_are_typed_responses() -> None:
    got = _serve(
        [
            {"id": 1, "op": "decrypt", "session": "none", "wire": "00"},
            {"id": 2, "op": "teleport"},
            {"id": 3, "op": "create_device", "device": "d", "uri": "x", "deviceId": 1},
            {
                "id": 4,
                "op": "create_device",
                "device": "d",
                "uri": "x",
                "deviceId": 1,
                "seed": "00",
            },
            {"id": 5, "op": "to_bytes", "session": "s"},
            {"id": 6, "op": "shutdown"},
            {"id": 7, "op": "hello"},
        ]
    )
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5, 6]  # nothing after shutdown
    assert got[0]["error"] == "MisuseError"  # decrypt with no session
    assert got[1]["error"] == "DriverError"
    assert got[2]["error"] == "DriverError"  # a draw without a seed
    assert got[3]["ok"] is True
    assert got[4]["error"] == "MisuseError"


def test_same_seed_same_bytes() -> None:
    a, b = Driver(), Driver()
    req = {"op": "create_device", "device": "d", "uri": "x", "deviceId": 1, "seed": "ab"}
    assert a.handle(req) == b.handle(req)
    other = b.handle({**req, "seed": "ac"})
    assert other["publicIdentity"] != a.handle(req)["publicIdentity"]


def test_runner_catches_a_driver_that_makes_other_bytes(tmp_path: Path) -> None:
    """A driver that ignores the seeds interoperates, but its transcript digest differs."""
    script = tmp_path / "random_driver.py"
    script.write_text(
        "from pq3proto.interop import driver\n"
        "driver.SeededRandom.deterministic = False  # random ECDSA nonces and KEM coins\n"
        "driver.serve()\n"
    )
    other = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    report = run(self_command(), other, ["basic"], timeout=60)
    assert all(o.error is None for o in report.outcomes), report.summary()
    assert not report.ok
    assert any("made different bytes" in p for p in report.problems)


class InProcess:
    """A driver in this process, answering as a DriverProcess would; keeps every wire sent."""

    def __init__(self) -> None:
        self.driver = Driver()
        self.wires: list[bytes] = []

    def call(self, op: str, **params: object) -> dict:
        resp = self.driver.handle({"op": op, **params})
        if op == "encrypt" and resp.get("ok"):
            self.wires.append(bytes.fromhex(resp["wire"]))
        return resp

    def ok(self, op: str, **params: object) -> dict:
        resp = self.call(op, **params)
        assert resp.get("ok"), resp
        return resp


@pytest.mark.parametrize("name", ["first-loss", "chunked-reorder"])
def test_transport_scenarios_complete_a_rekey_despite_loss(name: str) -> None:
    scenario = ALL[name]
    assert scenario.profile is not None
    profile = Profile.from_bytes(bytes.fromhex(scenario.profile))
    a, b = InProcess(), InProcess()
    _play(scenario, {INITIATOR: a, RESPONDER: b}, "t", hashlib.sha256(),  # type: ignore[dict-item]
          Outcome(name, "a", "b"))
    ini, res = a.driver.sessions["t/initiator"], b.driver.sessions["t/responder"]
    assert ini.profile == res.profile == profile
    assert ini.stats.pq_rekeys == res.stats.pq_rekeys >= 1
    if name == "first-loss":
        # message 5, lost until the end, is index 0 of the responder's chain and carries the
        # answer's ciphertext; the responder's next chain (message 8) carries it again
        lost = parse_message(b.wires[2], profile)
        again = parse_message(b.wires[4], profile)
        assert lost.index == 0 and lost.transport is not None and again.transport is not None
        assert lost.transport.answer_material is not None
        assert again.index == 0
        assert again.transport.answer_material == lost.transport.answer_material
