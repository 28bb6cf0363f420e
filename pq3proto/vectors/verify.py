"""The vector verifier: checks a vector directory against this package (spec/test-vectors.md).

Owns: loading each file strictly (its schema first: any unknown field fails), the file-level
checks (numberOfTests, unique tcIds, notes for exactly the flags used), recomputing every
output of every test on the hot path PQ3PROTO_NATIVE selects, checking that each expected
failure raises exactly the named error class and changes no state, and the summary.
Not: making vectors (generate.py) or any protocol computation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .. import kem
from ..constants import INITIAL_ROOT_KEY, WIRE_VERSION
from ..errors import PQ3Error
from ..identity import Device, PublicIdentity
from ..kdf import (
    chain_step,
    message_keys,
    pk_ratchet_dst,
    root_and_chain_key,
    session_dst,
    session_start_dst,
)
from ..paths import hot_path
from ..primitives import P256PrivateKey, Verifier, aes256_ctr
from ..profile import PQ3
from ..session import Session
from ..wire import ChainHeader, ParsedMessage, encode_message, parse_message, signature_body
from . import schemas as sc
from .checks import run as _run
from .checks import same as _same
from .common import (
    SCHEMAS_DIR,
    Json,
    ManualClock,
    ScriptedRandom,
    VectorError,
    render,
    unhex,
    unhex_opt,
)
from .conversation import INITIATOR, RESPONDER, policy_from_json, profile_from_json
from .validator import validate
from .verify_state import STATE_CHECKS

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """One failed test (tc_id set) or one failed file (tc_id None), with the reason."""

    file: str
    tc_id: int | None
    reason: str


@dataclass
class VerifyReport:
    """What a verification run found."""

    files: int = 0
    cases: int = 0
    passed: int = 0
    failures: list[Failure] = field(default_factory=list)
    per_file: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and self.files > 0

    def summary(self) -> str:
        lines = [
            f"  {name}: {cases} cases, {passed} passed" for name, cases, passed in self.per_file
        ]
        failed = self.cases - self.passed
        lines.append(
            f"files {self.files}, cases {self.cases}, passed {self.passed}, failed {failed}"
        )
        for f in self.failures:
            where = f"tcId {f.tc_id}" if f.tc_id is not None else "file"
            lines.append(f"FAIL {f.file} {where}: {f.reason}")
        if self.files == 0 and not self.failures:
            lines.append("FAIL: no vector files found")
        return "\n".join(lines)


# ── Shared checks ───────────────────────────────────────────────────────────────────────


def _identity(value: Json) -> PublicIdentity:
    return PublicIdentity(value["uri"], value["deviceId"], unhex(value["signingKey"], "signingKey"))


def _null(t: Json, names: tuple[str, ...], what: str) -> None:
    present = [n for n in names if t[n] is not None]
    if present:
        raise VectorError(f"{', '.join(present)} must be null for {what}")


# ── Layer checks ────────────────────────────────────────────────────────────────────────


def check_root_key(t: Json) -> None:
    sender, receiver = _identity(t["sender"]), _identity(t["receiver"])
    base = session_dst(sender.binding(), receiver.binding())
    old = unhex(t["oldRootKey"], "oldRootKey")
    kem_secret = unhex_opt(t["kemSecret"], "kemSecret")
    if t["dstKind"] == "sessionStart":
        _null(t, ("previousPoint", "newPoint", "kemCiphertext", "kemPublicKey"), "sessionStart")
        if old != INITIAL_ROOT_KEY or kem_secret is None:
            raise VectorError("a session start uses the initial root key and a KEM secret")
        dst = session_start_dst(
            base,
            unhex(t["prekeyPoint"], "prekeyPoint"),
            unhex(t["ephemeralPoint"], "ephemeralPoint"),
            unhex(t["startCiphertext"], "startCiphertext"),
            unhex(t["prekeyKemPublicKey"], "prekeyKemPublicKey"),
        )
    else:
        _null(
            t,
            ("prekeyPoint", "ephemeralPoint", "startCiphertext", "prekeyKemPublicKey"),
            "pkRatchet",
        )
        ct = unhex_opt(t["kemCiphertext"], "kemCiphertext")
        pk = unhex_opt(t["kemPublicKey"], "kemPublicKey")
        if (ct is None) != (pk is None) or (ct is None) != (kem_secret is None):
            raise VectorError("kemCiphertext, kemPublicKey and kemSecret go together")
        dst = pk_ratchet_dst(
            base,
            unhex(t["previousPoint"], "previousPoint"),
            unhex(t["newPoint"], "newPoint"),
            ct,
            pk,
        )
    _same("dst", dst, t["dst"])
    rk, ck = root_and_chain_key(old, unhex(t["ecdhSecret"], "ecdhSecret"), kem_secret, dst)
    _same("rootKey", rk, t["rootKey"])
    _same("chainKey", ck, t["chainKey"])


def check_chain_step(t: Json) -> None:
    hot = hot_path()
    ck = unhex(t["chainKey"], "chainKey")
    for i, step in enumerate(t["steps"]):
        mk, nck = chain_step(ck)
        if hot.chain_step(ck) != (mk, nck):
            raise VectorError(f"step {i}: the {hot.name} path disagrees with kdf.chain_step")
        _same(f"steps[{i}].messageKey", mk, step["messageKey"])
        _same(f"steps[{i}].nextChainKey", nck, step["nextChainKey"])
        ck = nck


def check_message_key(t: Json) -> None:
    aes_key, iv, indicator = message_keys(unhex(t["messageKey"], "messageKey"))
    _same("aesKey", aes_key, t["aesKey"])
    _same("iv", iv, t["iv"])
    _same("keyIndicator", indicator, t["keyIndicator"])
    pt = unhex(t["plaintext"], "plaintext")
    _same("ciphertext", aes256_ctr(aes_key, iv, pt), t["ciphertext"])
    if aes256_ctr(aes_key, iv, unhex(t["ciphertext"], "ciphertext")) != pt:
        raise VectorError("ciphertext does not decrypt to plaintext")


def _header(t: Json) -> ChainHeader:
    prekey_hash = unhex_opt(t["preKeyHash"], "preKeyHash")
    start_ct = unhex_opt(t["startCiphertext"], "startCiphertext")
    kem_ct = unhex_opt(t["kemCiphertext"], "kemCiphertext")
    if (prekey_hash is None) != (start_ct is None):
        raise VectorError("preKeyHash and startCiphertext go together")
    if prekey_hash is not None and kem_ct is not None:
        raise VectorError("a session-start chain cannot carry a KEM ciphertext")
    return ChainHeader(
        unhex(t["ecdhPublicKey"], "ecdhPublicKey"),
        prekey_hash,
        start_ct,
        kem_ct,
        unhex_opt(t["kemPublicKey"], "kemPublicKey"),
    )


def check_signature(t: Json) -> None:
    sender, receiver = _identity(t["sender"]), _identity(t["receiver"])
    signer = P256PrivateKey.from_scalar(unhex(t["signingScalar"], "signingScalar"))
    if signer.public != sender.signing_key:
        raise VectorError("signingScalar does not match sender.signingKey")
    dst = session_dst(sender.binding(), receiver.binding())
    _same("dst", dst, t["dst"])
    header = _header(t)
    indicator = unhex(t["keyIndicator"], "keyIndicator")
    ad, ct = unhex(t["authData"], "authData"), unhex(t["ciphertext"], "ciphertext")
    tail = header.signature_tail(dst)
    body = signature_body(ct, ad, indicator, header.ecdh_public_key, t["index"], tail)
    _same("signatureBody", body, t["signatureBody"])
    sig = unhex(t["signature"], "signature")
    _run(lambda: Verifier(sender.signing_key).verify(body, sig), t["result"], t["error"])
    hot = hot_path()
    parsed = ParsedMessage(header, t["index"], indicator, ad, ct, sig, raw=b"", header_length=0)
    _run(
        lambda: hot.verify(parsed, tail, hot.verifier(sender.signing_key)),
        t["result"],
        t["error"],
    )
    if t["result"] == "valid" and signer.sign(body, deterministic=True) != sig:
        raise VectorError("signature is not the RFC 6979 signature under signingScalar")


def check_wire(t: Json) -> None:
    wire = unhex(t["wire"], "wire")
    ok, msg = _run(lambda: parse_message(wire), t["result"], t["error"])
    f = t["fields"]
    if not ok or msg is None:
        if f is not None:
            raise VectorError("fields must be null when the wire does not parse")
        return
    if f is None:
        raise VectorError("a valid wire needs its fields")
    header = _header(f)
    if f["version"] != WIRE_VERSION or f["flags"] != header.flags:
        raise VectorError("version or flags do not match the fields present")
    indicator = unhex(f["keyIndicator"], "keyIndicator")
    ad, ct = unhex(f["authData"], "authData"), unhex(f["ciphertext"], "ciphertext")
    sig = unhex(f["signature"], "signature")
    _same("wire", encode_message(header.encode(), f["index"], indicator, ad, ct, sig), t["wire"])
    if (msg.header, msg.index, msg.indicator, msg.auth_data, msg.ciphertext, msg.signature) != (
        header,
        f["index"],
        indicator,
        ad,
        ct,
        sig,
    ):
        raise VectorError("parsing the wire does not give the fields")


# ── Conversations ───────────────────────────────────────────────────────────────────────


@dataclass
class _Replayed:
    device: Device
    json: Json
    rng: ScriptedRandom
    clock: ManualClock
    session: Session | None = None


# The order this package draws a step's values in (spec/test-vectors.md, Randomness): an
# encrypt under `first` or `chunked` opens its request before it answers the peer's.
DRAW_ORDER = ("ecdhScalar", "kemCoins", "kemSeed")
DEFERRED_ENCRYPT_ORDER = ("ecdhScalar", "kemSeed", "kemCoins")


def _randomness(value: Json, order: tuple[str, ...] = DRAW_ORDER) -> list[tuple[str, bytes]]:
    """The named random values of one step, in the order the protocol draws them."""
    return [(name, unhex(value[name], name)) for name in order if value[name] is not None]


class _Conversation:
    """Replays one conversation vector step by step against this package."""

    def __init__(self, t: Json) -> None:
        self.t = t
        self.policy = policy_from_json(t["policy"])
        self.profile = profile_from_json(t["profile"]) if "profile" in t else None
        self.wire_profile = PQ3 if self.profile is None else self.profile
        self.encrypt_order = DRAW_ORDER
        if self.wire_profile.transport != "repeat":
            self.encrypt_order = DEFERRED_ENCRYPT_ORDER
        self.wires: list[bytes] = []
        self.parties = {role: self._device(t[role]) for role in (INITIATOR, RESPONDER)}

    def _device(self, p: Json) -> _Replayed:
        rng = ScriptedRandom()
        rng.load(
            (name, unhex(p[name], name))
            for name in ("identityScalar", "prekeyScalar", "prekeyKemSeed")
        )
        device = Device.generate_deterministic_for_tests(
            p["uri"], p["deviceId"], rng, profile=self.profile
        )
        rng.expect_empty()
        _same("publicIdentity", device.public_identity(), p["publicIdentity"])
        _same("prekeyBundle", device.prekey_bundle(), p["prekeyBundle"])
        return _Replayed(device, p, rng, ManualClock())

    def run(self) -> None:
        invalid = False
        for i, step in enumerate(self.t["steps"]):
            action = step["action"]
            party = self.parties[step["party"]]
            party.clock.now = float(step["time"])
            try:
                getattr(self, f"_{action}")(step, party)
            except VectorError as e:
                raise VectorError(f"step {i} ({action} by {step['party']}): {e}") from None
            invalid = invalid or step.get("result") == "invalid"
        if self.t["result"] != ("invalid" if invalid else "valid"):
            raise VectorError("the test's result does not match its steps")

    def _session(self, party: _Replayed) -> Session:
        if party.session is None:
            raise VectorError("no session yet")
        return party.session

    def _initiate(self, step: Json, p: _Replayed) -> None:
        peer = self.parties[RESPONDER].json
        bundle = unhex_opt(step["prekeyBundle"], "prekeyBundle")
        p.rng.load(_randomness(step["randomness"]))
        ok, session = _run(
            lambda: Session.initiate_deterministic_for_tests(
                p.device,
                unhex(peer["publicIdentity"], "publicIdentity"),
                unhex(peer["prekeyBundle"], "prekeyBundle") if bundle is None else bundle,
                p.rng,
                policy=self.policy,
                clock=p.clock,
            ),
            step["result"],
            step["error"],
        )
        p.rng.expect_empty()
        if ok:
            p.session = session

    def _encrypt(self, step: Json, p: _Replayed) -> None:
        if step["message"] != len(self.wires):
            raise VectorError("message ids must count the encrypt steps from 0")
        session = self._session(p)
        p.rng.load(_randomness(step["randomness"], self.encrypt_order))
        wire = session.encrypt(
            unhex(step["plaintext"], "plaintext"), unhex(step["authData"], "authData")
        )
        p.rng.expect_empty()
        _same("wire", wire, step["wire"])
        self.wires.append(wire)

    def _delivered(self, step: Json) -> bytes:
        if (step["message"] is None) == (step["wire"] is None):
            raise VectorError("exactly one of message and wire must be given")
        if step["wire"] is not None:
            return unhex(step["wire"], "wire")
        if not 0 <= step["message"] < len(self.wires):
            raise VectorError(f"message {step['message']} was not sent before this step")
        return self.wires[step["message"]]

    def _outputs(self, step: Json, ok: bool, pt: bytes | None, ad: bytes | None) -> None:
        if not ok:
            if step["plaintext"] is not None or step["authData"] is not None:
                raise VectorError("a failed step has null plaintext and authData")
            return
        assert pt is not None and ad is not None
        _same("plaintext", pt, step["plaintext"])
        _same("authData", ad, step["authData"])

    def _decrypt(self, step: Json, p: _Replayed) -> None:
        wire = self._delivered(step)
        session = self._session(p)
        before = session.to_bytes()
        ok, out = _run(lambda: session.decrypt_with_auth_data(wire), step["result"], step["error"])
        if not ok and session.to_bytes() != before:
            raise VectorError("the failed decrypt changed the session state")
        pt, ad = out if out is not None else (None, None)
        self._outputs(step, ok, pt, ad)

    def _accept(self, step: Json, p: _Replayed) -> None:
        if step["party"] != RESPONDER:
            raise VectorError("only the responder accepts")
        wire = self._delivered(step)
        peer = self.parties[INITIATOR].json
        before = p.device.to_bytes()
        ok, out = _run(
            lambda: Session.accept_deterministic_for_tests(
                p.device,
                unhex(peer["publicIdentity"], "publicIdentity"),
                wire,
                p.rng,
                policy=self.policy,
                clock=p.clock,
            ),
            step["result"],
            step["error"],
        )
        if not ok:
            if p.device.to_bytes() != before:
                raise VectorError("the failed accept changed the device state")
            self._outputs(step, False, None, None)
            return
        assert out is not None
        res: tuple[Any, ...] = out
        p.session, pt = res[0], res[1]
        if len(res) > 2:  # the device's new value, once accept returns it
            p.device = res[2]
        self._outputs(step, True, pt, parse_message(wire, self.wire_profile).auth_data)

    def _restore(self, step: Json, p: _Replayed) -> None:
        blob = self._session(p).to_bytes()
        _same("sessionState", blob, step["sessionState"])
        p.session = Session.from_bytes_deterministic_for_tests(blob, p.device, p.rng, clock=p.clock)


def check_conversation(t: Json) -> None:
    _Conversation(t).run()


CHECKS: dict[str, Callable[[Json], None]] = {
    sc.ROOT_KEY_TYPE: check_root_key,
    sc.CHAIN_STEP_TYPE: check_chain_step,
    sc.MESSAGE_KEY_TYPE: check_message_key,
    sc.SIGNATURE_TYPE: check_signature,
    sc.WIRE_TYPE: check_wire,
    sc.CONVERSATION_TYPE: check_conversation,
    sc.PINNED_CHOICE_TYPE: check_conversation,
    sc.PROFILE_CONVERSATION_TYPE: check_conversation,
    **STATE_CHECKS,
}
_TYPES = {sc.schema_file(t): t for t in CHECKS}


# ── Files and directories ───────────────────────────────────────────────────────────────


def _file_checks(doc: Json) -> list[str]:
    """Checks JSON Schema cannot express: counts, unique tcIds, notes for the flags used."""
    problems = []
    tests = [t for g in doc["testGroups"] for t in g["tests"]]
    if doc["numberOfTests"] != len(tests):
        problems.append(f"numberOfTests is {doc['numberOfTests']}, the file has {len(tests)}")
    ids = [t["tcId"] for t in tests]
    if len(set(ids)) != len(ids):
        problems.append("tcIds are not unique")
    used = {f for t in tests for f in t["flags"]}
    if used != set(doc["notes"]):
        problems.append("notes must describe exactly the flags the tests use")
    return problems


def verify_document(name: str, doc: Any, report: VerifyReport) -> None:
    """Check one parsed vector file, adding its cases and failures to `report`."""
    report.files += 1
    schema_name = doc.get("schema") if isinstance(doc, dict) else None
    if schema_name not in _TYPES:
        report.failures.append(Failure(name, None, f"unknown schema {schema_name!r}"))
        report.per_file.append((name, 0, 0))
        return
    errors = validate(doc, sc.SCHEMAS[schema_name])
    if not errors:
        errors = _file_checks(doc)
    if errors:
        shown = "; ".join(errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
        report.failures.append(Failure(name, None, f"does not conform: {shown}"))
        report.per_file.append((name, 0, 0))
        return
    check = CHECKS[_TYPES[schema_name]]
    cases = passed = 0
    for group in doc["testGroups"]:
        for t in group["tests"]:
            cases += 1
            try:
                check(t)
            except (VectorError, PQ3Error, ValueError, KeyError, TypeError) as e:
                report.failures.append(Failure(name, t["tcId"], f"{type(e).__name__}: {e}"))
            else:
                passed += 1
    report.cases += cases
    report.passed += passed
    report.per_file.append((name, cases, passed))


def verify_path(path: Path) -> VerifyReport:
    """Verify one vector file, or every *.json of a directory; a missing path is a failure."""
    if path.is_dir():
        return verify_directory(path)
    report = VerifyReport()
    if not path.exists():
        report.failures.append(Failure(str(path), None, "path does not exist"))
        return report
    _verify_files([path], report)
    return report


def _verify_files(paths: list[Path], report: VerifyReport) -> None:
    for path in paths:
        try:
            doc = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as e:
            report.files += 1
            report.failures.append(Failure(path.name, None, f"not JSON: {e}"))
            continue
        verify_document(path.name, doc, report)


def verify_directory(directory: Path) -> VerifyReport:
    """Verify every *.json in `directory`; its schemas/ folder, if any, must be ours."""
    report = VerifyReport()
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        report.failures.append(Failure(str(directory), None, f"path {what}"))
        return report
    _verify_files(sorted(directory.glob("*.json")), report)
    schema_dir = directory / SCHEMAS_DIR
    if schema_dir.is_dir():
        for path in sorted(schema_dir.glob("*.json")):
            expected = sc.SCHEMAS.get(path.name)
            if expected is None or path.read_bytes() != render(expected):
                report.failures.append(
                    Failure(
                        f"{SCHEMAS_DIR}/{path.name}",
                        None,
                        "schema differs from this verifier's (or is unknown)",
                    )
                )
    return report


def describe_environment() -> str:
    return f"hot path {hot_path().name}, KEM backend {kem.get_backend().name}"
