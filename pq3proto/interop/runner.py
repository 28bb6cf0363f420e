"""Running interop scenarios between two drivers (spec/09-interop-driver.md §3-§4).

Owns: starting two driver processes, one request and one response per line with a timeout,
playing each scenario with the initiator on one driver and the responder on the other and
then swapped, checking every plaintext and expected failure class, and the transcript
digest that shows both drivers made the same bytes.
Not: the driver itself (driver.py) or the scenario scripts (scenarios.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import select
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from .scenarios import INITIATOR, RESPONDER, SCENARIOS, Scenario

SEED_PREFIX = b"pq3proto interop v1/"
START_TIME = 1_700_000_000
URIS = {INITIATOR: ("tel:+15551234567", 7), RESPONDER: ("mailto:bob@example.org", 1)}
Json = dict[str, Any]


class InteropError(Exception):
    """A driver misbehaved or disagreed: the scenario fails."""


def seed(*parts: str) -> str:
    """The seed of one operation: SHAKE-256("pq3proto interop v1/" || parts joined by "/")."""
    return hashlib.shake_256(SEED_PREFIX + "/".join(parts).encode()).digest(32).hex()


class DriverProcess:
    """A driver subprocess spoken to line by line."""

    def __init__(self, command: str, timeout: float = 60.0) -> None:
        self.command = command
        self.timeout = timeout
        self._next_id = 0
        self._proc = subprocess.Popen(
            shlex.split(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def call(self, op: str, **params: Any) -> Json:
        self._next_id += 1
        req = {"id": self._next_id, "op": op, **params}
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(json.dumps(req) + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise InteropError(f"driver {self.command!r} exited") from None
        ready, _, _ = select.select([self._proc.stdout], [], [], self.timeout)
        if not ready:
            raise InteropError(f"driver {self.command!r}: no answer to {op} in {self.timeout} s")
        line = self._proc.stdout.readline()
        if not line:
            raise InteropError(f"driver {self.command!r} exited during {op}")
        try:
            resp: Json = json.loads(line)
        except ValueError:
            raise InteropError(f"driver {self.command!r}: a response is not JSON") from None
        if resp.get("id") != self._next_id:
            raise InteropError(f"driver {self.command!r}: response id does not match")
        return resp

    def ok(self, op: str, **params: Any) -> Json:
        resp = self.call(op, **params)
        if not resp.get("ok"):
            raise InteropError(f"{op} failed: {resp.get('error')}: {resp.get('message')}")
        return resp

    def close(self) -> None:
        with contextlib.suppress(InteropError):
            self.call("shutdown")
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


@dataclass
class Outcome:
    scenario: str
    initiator: str
    responder: str
    digest: str = ""
    messages: int = 0
    error: str | None = None


def play(
    scenario: Scenario, drivers: dict[str, DriverProcess], tag: str, labels: tuple[str, str]
) -> Outcome:
    """Play one scenario; drivers by role. `tag` keeps names apart between runs."""
    out = Outcome(scenario.name, labels[0], labels[1])
    transcript = hashlib.sha256()
    try:
        _play(scenario, drivers, tag, transcript, out)
    except InteropError as e:
        out.error = str(e)
    out.digest = transcript.hexdigest()
    return out


def _play(
    scenario: Scenario,
    drivers: dict[str, DriverProcess],
    tag: str,
    transcript: Any,
    out: Outcome,
) -> None:
    name = scenario.name
    public: dict[str, Json] = {}
    for role, (uri, device_id) in URIS.items():
        public[role] = drivers[role].ok(
            "create_device",
            device=f"{tag}/{role}",
            uri=uri,
            deviceId=device_id,
            seed=seed(name, "device", role),
            profile=scenario.profile,
        )
        transcript.update(bytes.fromhex(public[role]["publicIdentity"]))
        transcript.update(bytes.fromhex(public[role]["prekeyBundle"]))
    now = START_TIME
    peer = {INITIATOR: RESPONDER, RESPONDER: INITIATOR}
    drivers[INITIATOR].ok(
        "initiate",
        device=f"{tag}/{INITIATOR}",
        session=f"{tag}/{INITIATOR}",
        peerIdentity=public[RESPONDER]["publicIdentity"],
        prekeyBundle=public[RESPONDER]["prekeyBundle"],
        policy=scenario.policy,
        time=now,
        seed=seed(name, "initiate"),
    )
    has_session = {INITIATOR: True, RESPONDER: False}
    sent: list[tuple[bytes, bytes]] = []
    wires: list[str] = []
    for k, step in enumerate(scenario.steps):
        d = drivers[step.party]
        sname = f"{tag}/{step.party}"
        if step.kind == "advance":
            now += step.n
        elif step.kind == "send":
            n = len(sent)
            pt = f"{step.party[0]}{n}: message {n} of {name}".encode()
            ad = f"ad{n}".encode() if n % 3 == 0 else b""
            resp = d.ok(
                "encrypt",
                session=sname,
                plaintext=pt.hex(),
                authData=ad.hex(),
                time=now,
                seed=seed(name, "step", str(k)),
            )
            sent.append((pt, ad))
            wires.append(resp["wire"])
            transcript.update(bytes.fromhex(resp["wire"]))
        elif step.kind == "deliver":
            if has_session[step.party]:
                resp = d.call("decrypt", session=sname, wire=wires[step.n], time=now)
            else:
                resp = d.call(
                    "accept",
                    device=sname,
                    session=sname,
                    peerIdentity=public[peer[step.party]]["publicIdentity"],
                    wire=wires[step.n],
                    policy=scenario.policy,
                    time=now,
                )
            _check_delivery(step.error, resp, sent[step.n], f"step {k}")
            if resp.get("ok"):
                has_session[step.party] = True
                out.messages += 1
        elif step.kind == "restore":
            state = d.ok("to_bytes", session=sname, time=now)["sessionState"]
            d.ok("from_bytes", device=sname, session=sname, sessionState=state, time=now)
        else:
            raise InteropError(f"unknown step kind {step.kind!r}")


def _check_delivery(error: str | None, resp: Json, sent: tuple[bytes, bytes], where: str) -> None:
    if error is not None:
        if resp.get("ok") or resp.get("error") != error:
            got = "success" if resp.get("ok") else resp.get("error")
            raise InteropError(f"{where}: expected {error}, got {got}")
        return
    if not resp.get("ok"):
        raise InteropError(f"{where}: {resp.get('error')}: {resp.get('message')}")
    if bytes.fromhex(resp["plaintext"]) != sent[0] or bytes.fromhex(resp["authData"]) != sent[1]:
        raise InteropError(f"{where}: plaintext or auth data differs from what was sent")


@dataclass
class RunReport:
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(o.error is None for o in self.outcomes)

    def summary(self) -> str:
        lines = []
        for o in self.outcomes:
            status = "ok  " if o.error is None else "FAIL"
            who = f"initiator {o.initiator}, responder {o.responder}"
            lines.append(
                f"{status} {o.scenario:16} {who}  {o.messages:3} delivered  {o.digest[:16]}"
            )
            if o.error:
                lines.append(f"     {o.error}")
        lines.extend(f"FAIL {p}" for p in self.problems)
        passed = sum(o.error is None for o in self.outcomes)
        lines.append(f"runs {len(self.outcomes)}, passed {passed}, problems {len(self.problems)}")
        return "\n".join(lines)


def run(a_cmd: str, b_cmd: str, names: list[str] | None = None, timeout: float = 60.0) -> RunReport:
    """Each scenario twice: initiator on A and responder on B, then swapped; same digests."""
    names = names or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    report = RunReport()
    if unknown:
        report.problems.append(f"unknown scenario(s) {unknown}; known: {sorted(SCENARIOS)}")
        return report
    a = DriverProcess(a_cmd, timeout)
    b = DriverProcess(b_cmd, timeout)
    try:
        for driver in (a, b):
            hello = driver.call("hello")
            if not hello.get("ok") or hello.get("protocol") != 1:
                report.problems.append(f"driver {driver.command!r} does not speak protocol 1")
        if report.problems:
            return report
        for name in names:
            first = play(SCENARIOS[name], {INITIATOR: a, RESPONDER: b}, f"{name}/ab", ("A", "B"))
            second = play(SCENARIOS[name], {INITIATOR: b, RESPONDER: a}, f"{name}/ba", ("B", "A"))
            report.outcomes += [first, second]
            if first.error is None and second.error is None and first.digest != second.digest:
                report.problems.append(
                    f"{name}: the two drivers made different bytes (transcript digests differ)"
                )
    finally:
        a.close()
        b.close()
    return report


def self_command(native: str | None = None) -> str:
    """A command line that serves this package's driver, optionally pinning the hot path."""
    env = "" if native is None else f"env PQ3PROTO_NATIVE={native} "
    return f"{env}{shlex.quote(sys.executable)} -m pq3proto.cli interop serve"
