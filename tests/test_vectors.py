"""The committed interop vectors: reproducible, verified on every hot path, and tamper-evident.

The vector files are regression fixtures: the generator rewrites them and the bytes must not
change; the verifier recomputes every output. Mutation tests check that the verifier fails,
naming the tcId, on any changed output, expectation or unknown field.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pq3proto import Profile
from pq3proto.cli import main
from pq3proto.vectors import generate_all, verify_directory, write_all
from pq3proto.vectors.common import FILE_STEMS, SCHEMAS_DIR, render
from pq3proto.vectors.schemas import SCHEMAS
from pq3proto.vectors.validator import validate

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
Doc = dict[str, Any]


def _load(stem: str) -> Doc:
    doc: Doc = json.loads((VECTORS / f"{stem}.json").read_bytes())
    return doc


def _tests(doc: Doc) -> list[Doc]:
    return [t for g in doc["testGroups"] for t in g["tests"]]


def _single(doc: Doc, pick: Callable[[Doc], bool]) -> Doc:
    """A copy of `doc` keeping only the first test `pick` accepts, still a conforming file."""
    out = copy.deepcopy(doc)
    for group in out["testGroups"]:
        for t in group["tests"]:
            if pick(t):
                out["testGroups"] = [{"type": group["type"], "tests": [t]}]
                out["numberOfTests"] = 1
                out["notes"] = {f: out["notes"][f] for f in t["flags"]}
                return out
    raise AssertionError("no test matches")


def _verify(tmp_path: Path, doc: Doc, name: str = "case.json") -> Any:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(render(doc))
    return verify_directory(tmp_path)


def _flip_hex(value: str, at: int = 0) -> str:
    return value[:at] + ("1" if value[at] == "0" else "0") + value[at + 1 :]


# ── Reproducible and complete ───────────────────────────────────────────────────────────


def test_committed_set_is_what_the_generator_writes(tmp_path: Path) -> None:
    written = write_all(tmp_path)
    committed = {
        p.relative_to(VECTORS).as_posix(): p.read_bytes() for p in sorted(VECTORS.rglob("*.json"))
    }
    assert sorted(committed) == sorted(written)
    for rel, data in written.items():
        assert (tmp_path / rel).read_bytes() == data
        assert committed[rel] == data, f"{rel} differs from a fresh generation"
    assert {f"{s}.json" for s in FILE_STEMS} | {f"{SCHEMAS_DIR}/{n}" for n in SCHEMAS} == set(
        written
    )


def test_the_set_covers_what_the_spec_promises() -> None:
    counts = {stem: _load(stem)["numberOfTests"] for stem in FILE_STEMS}
    assert all(n > 0 for n in counts.values())
    conv = _tests(_load("pq3_conversation_test")) + _tests(_load("pq3_conversation_negative_test"))
    steps = [s for t in conv for s in t["steps"]]
    assert sum(s["action"] == "encrypt" for s in steps) >= 200
    assert any(s["action"] == "restore" for s in steps)
    policies = {json.dumps(t["policy"], sort_keys=True) for t in conv}
    assert len(policies) >= 5  # default, short N, every turn, never, time-based
    errors = {s["error"] for s in steps if s.get("error")}
    assert errors >= {
        "AuthenticationError",
        "DowngradeError",
        "InvalidKeyError",
        "MalformedInputError",
        "ReplayError",
        "TooFarAheadError",
        "UnsupportedVersionError",
    }
    for t in conv:  # every random value named: encrypts that start a chain draw a scalar
        for s in t["steps"]:
            if s["action"] == "initiate" and s["result"] == "valid":
                assert s["randomness"]["ecdhScalar"] and s["randomness"]["kemCoins"]


def test_the_profile_files_cover_both_deferred_transports() -> None:
    positive = _tests(_load("profile_transport_test"))
    negative = _tests(_load("profile_transport_negative_test"))
    transports = {t["profile"]["transport"] for t in positive}
    assert transports == {"first", "chunked"}
    assert {t["profile"]["chunkSize"] for t in positive} == {None, 64, 384}
    steps = [s for t in positive for s in t["steps"]]
    assert sum(s["action"] == "restore" for s in steps) >= 10
    # answers encapsulated in the middle of a chain draw kemCoins alone
    assert any(
        s["action"] == "encrypt" and s["randomness"]["kemCoins"]
        and not s["randomness"]["ecdhScalar"]
        for s in steps
    )
    errors = {s["error"] for t in negative for s in t["steps"] if s.get("error")}
    assert errors == {
        "AuthenticationError",
        "ChunkError",
        "DowngradeError",
        "InconsistentChunkError",
        "MalformedInputError",
        "ReplayError",
    }
    for t in negative:  # every failure is followed by a genuine delivery that opens
        last = max(i for i, s in enumerate(t["steps"]) if s.get("result") == "invalid")
        assert any(s.get("result") == "valid" for s in t["steps"][last + 1 :])


# ── Verification ────────────────────────────────────────────────────────────────────────


def test_committed_set_verifies(hot_path_name: str) -> None:
    report = verify_directory(VECTORS)
    assert report.ok, report.summary()
    assert report.files == len(FILE_STEMS)
    assert report.cases == report.passed == sum(_load(s)["numberOfTests"] for s in FILE_STEMS)


def test_cli_generate_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vectors", "generate", str(tmp_path)]) == 0
    for rel, data in generate_all().items():  # a second run writes the same bytes
        assert (tmp_path / rel).read_bytes() == data
    assert main(["vectors", "verify", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "failed 0" in out and f"files {len(FILE_STEMS)}" in out


def test_cli_fails_on_an_unknown_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _load("pq3_chain_step_test")
    doc["testGroups"][0]["tests"][0]["extra"] = "x"
    _verify(tmp_path, doc)
    assert main(["vectors", "verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "unknown field 'extra'" in out and "FAIL" in out


def test_empty_directory_is_a_failure(tmp_path: Path) -> None:
    assert not verify_directory(tmp_path).ok


# ── Any single change fails ─────────────────────────────────────────────────────────────


def _mutate(path: str, fn: Callable[[Any], Any]) -> Callable[[Doc], None]:
    """Apply fn to the value at a dotted path inside the test (ints index lists)."""

    def apply(t: Doc) -> None:
        parts: list[Any] = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = t
        for p in parts[:-1]:
            target = target[p]
        target[parts[-1]] = fn(target[parts[-1]])

    return apply


def _first(key: str, value: Any) -> Callable[[Doc], bool]:
    return lambda t: t.get(key) == value


def _has_step(pred: Callable[[Doc], bool]) -> Callable[[Doc], bool]:
    return lambda t: any(pred(s) for s in t["steps"])


def _step_index(t: Doc, pred: Callable[[Doc], bool]) -> int:
    return next(i for i, s in enumerate(t["steps"]) if pred(s))


def _on_step(pred: Callable[[Doc], bool], field: str, fn: Callable[[Any], Any]) -> Any:
    def apply(t: Doc) -> None:
        t["steps"][_step_index(t, pred)][field] = fn(t["steps"][_step_index(t, pred)][field])

    return apply


def _is_rekey_encrypt(s: Doc) -> bool:
    return s["action"] == "encrypt" and s["randomness"]["kemCoins"] is not None


def _is_failing_step(s: Doc) -> bool:
    return s.get("result") == "invalid"


def _randomness(name: str, fn: Callable[[Any], Any]) -> Callable[[Doc], None]:
    def apply(t: Doc) -> None:
        s = t["steps"][_step_index(t, _is_rekey_encrypt)]
        s["randomness"][name] = fn(s["randomness"][name])

    return apply


def _is_plain_chain_start(s: Doc) -> bool:
    if s["action"] != "encrypt":
        return False
    return s["randomness"]["ecdhScalar"] is not None and s["randomness"]["kemSeed"] is None


def _surplus_seed(t: Doc) -> None:
    """Give a chain start a kemSeed it does not draw."""
    t["steps"][_step_index(t, _is_plain_chain_start)]["randomness"]["kemSeed"] = "00" * 64


def _slow_clock(t: Doc) -> None:
    for s in t["steps"]:
        s["time"] = s["time"] // 1000


def _any(t: Doc) -> bool:
    return True


MUTATIONS: dict[str, tuple[str, Callable[[Doc], bool], Callable[[Doc], None]]] = {
    "root key output": ("pq3_root_key_test", _any, _mutate("rootKey", _flip_hex)),
    "root key kem secret": (
        "pq3_root_key_test",
        _first("dstKind", "pkRatchet"),
        _mutate("kemSecret", lambda v: "00" * 32 if v is None else None),
    ),
    "dst input": ("pq3_root_key_test", _any, _mutate("sender.deviceId", lambda v: v ^ 1)),
    "chain step output": (
        "pq3_chain_step_test",
        lambda t: len(t["steps"]) > 2,
        _mutate("steps.2.messageKey", _flip_hex),
    ),
    "message key iv": ("pq3_message_key_test", _any, _mutate("iv", lambda v: _flip_hex(v, 31))),
    "message ciphertext": (
        "pq3_message_key_test",
        lambda t: len(t["ciphertext"]) > 0,
        _mutate("ciphertext", _flip_hex),
    ),
    "signature body": ("pq3_signature_test", _any, _mutate("signatureBody", _flip_hex)),
    "valid signature": (
        "pq3_signature_test",
        _first("result", "valid"),
        _mutate("signature", lambda v: _flip_hex(v, 127)),
    ),
    "signature result": (
        "pq3_signature_test",
        _first("result", "invalid"),
        lambda t: t.update(result="valid", error=None),
    ),
    "wire bytes": ("pq3_wire_test", _first("result", "valid"), _mutate("wire", _flip_hex)),
    "wire field": (
        "pq3_wire_test",
        _first("result", "valid"),
        _mutate("fields.index", lambda v: v ^ 1),
    ),
    "wire error class": (
        "pq3_wire_test",
        _first("error", "UnsupportedVersionError"),
        _mutate("error", lambda v: "MalformedInputError"),
    ),
    "wire result": (
        "pq3_wire_test",
        _first("result", "invalid"),
        lambda t: t.update(result="acceptable"),
    ),
    "party key": (
        "pq3_conversation_test",
        _any,
        _mutate("responder.prekeyScalar", lambda v: _flip_hex(v, 63)),
    ),
    "encrypted wire": (
        "pq3_conversation_test",
        _has_step(_is_rekey_encrypt),
        _on_step(_is_rekey_encrypt, "wire", lambda v: _flip_hex(v, len(v) - 1)),
    ),
    "plaintext": (
        "pq3_conversation_test",
        _any,
        _on_step(lambda s: s["action"] == "decrypt", "plaintext", _flip_hex),
    ),
    "kem coins": (
        "pq3_conversation_test",
        _has_step(_is_rekey_encrypt),
        _randomness("kemCoins", _flip_hex),
    ),
    "missing random value": (
        "pq3_conversation_test",
        _has_step(_is_rekey_encrypt),
        _randomness("kemCoins", lambda v: None),
    ),
    "surplus random value": (
        "pq3_conversation_test",
        _has_step(_is_plain_chain_start),
        _surplus_seed,
    ),
    "clock": ("pq3_conversation_test", _first("flags", ["TimeTrigger", "PqRekey"]), _slow_clock),
    "restored state": (
        "pq3_conversation_test",
        _has_step(lambda s: s["action"] == "restore"),
        _on_step(
            lambda s: s["action"] == "restore", "sessionState", lambda v: _flip_hex(v, len(v) - 2)
        ),
    ),
    "profile id": (
        "profile_transport_test",
        _any,
        _mutate("profile.id", lambda v: _flip_hex(v, len(v) - 1)),
    ),
    "profile swapped consistently": (
        "profile_transport_test",
        lambda t: t["profile"]["transport"] == "first",
        _mutate("profile", lambda v: {
            **v, "transport": "chunked", "chunkSize": 384, "chunkExpansion": 2,
            "id": Profile(transport="chunked", chunk_size=384, chunk_expansion=2).to_bytes().hex(),
        }),
    ),
    "deferred answer coins": (
        "profile_transport_test",
        _has_step(_is_rekey_encrypt),
        _randomness("kemCoins", _flip_hex),
    ),
    "deferred encrypted wire": (
        "profile_transport_test",
        _has_step(_is_rekey_encrypt),
        _on_step(_is_rekey_encrypt, "wire", lambda v: _flip_hex(v, len(v) // 2)),
    ),
    "deferred restored state": (
        "profile_transport_test",
        _has_step(lambda s: s["action"] == "restore"),
        _on_step(
            lambda s: s["action"] == "restore", "sessionState", lambda v: _flip_hex(v, len(v) - 2)
        ),
    ),
    "chunk error class": (
        "profile_transport_negative_test",
        _has_step(lambda s: s.get("error") == "InconsistentChunkError"),
        _on_step(
            lambda s: s.get("error") == "InconsistentChunkError", "error", lambda v: "ChunkError"
        ),
    ),
    "expected error class": (
        "pq3_conversation_negative_test",
        _has_step(lambda s: s.get("error") == "DowngradeError"),
        _on_step(
            lambda s: s.get("error") == "DowngradeError", "error", lambda v: "AuthenticationError"
        ),
    ),
    "expected failure dropped": (
        "pq3_conversation_negative_test",
        _any,
        lambda t: t["steps"][_step_index(t, _is_failing_step)].update(result="valid", error=None),
    ),
    "test result": (
        "pq3_conversation_negative_test",
        _any,
        lambda t: t.update(result="valid"),
    ),
}


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_a_changed_value_fails_naming_the_test(kind: str, tmp_path: Path) -> None:
    stem, pick, mutate = MUTATIONS[kind]
    doc = _single(_load(stem), pick)
    baseline = _verify(tmp_path / "baseline", doc)
    assert baseline.ok, baseline.summary()
    tc_id = doc["testGroups"][0]["tests"][0]["tcId"]
    mutate(doc["testGroups"][0]["tests"][0])
    report = _verify(tmp_path / "mutated", doc)
    assert not report.ok
    assert [f.tc_id for f in report.failures] in ([tc_id], [None]), report.summary()
    assert f"tcId {tc_id}" in report.summary() or "FAIL" in report.summary()


STRUCTURAL: dict[str, Callable[[Doc], None]] = {
    "unknown top-level field": lambda d: d.update(extra=1),
    "unknown group field": lambda d: d["testGroups"][0].update(parameterSet="x"),
    "unknown test field": lambda d: d["testGroups"][0]["tests"][0].update(note="x"),
    "unknown nested field": lambda d: d["testGroups"][0]["tests"][0]["steps"][0].update(x=None),
    "unknown randomness field": (
        lambda d: d["testGroups"][0]["tests"][0]["steps"][0]["randomness"].update(extra=None)
    ),
    "missing field": lambda d: d["testGroups"][0]["tests"][0].pop("comment"),
    "uppercase hex": lambda d: d["testGroups"][0]["tests"][0]["initiator"].update(
        prekeyKemSeed=d["testGroups"][0]["tests"][0]["initiator"]["prekeyKemSeed"].upper()
    ),
    "hex with a newline": lambda d: d["testGroups"][0]["tests"][0]["initiator"].update(
        identityScalar=d["testGroups"][0]["tests"][0]["initiator"]["identityScalar"] + "\n"
    ),
    "unknown step action": lambda d: d["testGroups"][0]["tests"][0]["steps"][0].update(
        action="rewind"
    ),
    "unknown flag": lambda d: d["testGroups"][0]["tests"][0]["flags"].append("Mystery"),
    "unknown error class": lambda d: d["testGroups"][0]["tests"][0]["steps"][0].update(
        error="ValueError"
    ),
    "boolean for an integer": lambda d: d["testGroups"][0]["tests"][0].update(tcId=True),
    "wrong numberOfTests": lambda d: d.update(numberOfTests=d["numberOfTests"] + 1),
    "duplicate tcId": lambda d: d["testGroups"][0]["tests"].append(
        copy.deepcopy(d["testGroups"][0]["tests"][0])
    ),
    "stale note": lambda d: d["notes"].update(
        DroppedChain={"bugType": "BASIC", "description": "unused"}
    ),
    "unknown schema": lambda d: d.update(schema="other_schema.json"),
}


@pytest.mark.parametrize("kind", sorted(STRUCTURAL))
def test_a_nonconforming_file_fails(kind: str, tmp_path: Path) -> None:
    doc = _single(_load("pq3_conversation_test"), _first("flags", ["Basic"]))
    STRUCTURAL[kind](doc)
    report = _verify(tmp_path, doc)
    assert not report.ok
    assert any(f.tc_id is None for f in report.failures), report.summary()
    assert report.passed == 0


def test_a_foreign_schema_file_fails(tmp_path: Path) -> None:
    write_all(tmp_path)
    name = next(iter(SCHEMAS))
    loose = json.loads((tmp_path / SCHEMAS_DIR / name).read_bytes())
    loose["additionalProperties"] = True
    (tmp_path / SCHEMAS_DIR / name).write_bytes(render(loose))
    for stem in FILE_STEMS:  # keep the run short: the schema check alone must fail it
        (tmp_path / f"{stem}.json").unlink()
    (tmp_path / "chain.json").write_bytes(render(_load("pq3_chain_step_test")))
    report = verify_directory(tmp_path)
    assert not report.ok and report.passed == report.cases


# ── The built-in validator agrees with jsonschema ───────────────────────────────────────


def test_schemas_are_draft_2020_12_and_jsonschema_agrees() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for name, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert json.loads((VECTORS / SCHEMAS_DIR / name).read_bytes()) == schema
    for stem in FILE_STEMS:
        doc = _load(stem)
        schema = SCHEMAS[doc["schema"]]
        assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) == []
        assert validate(doc, schema) == []
    base = _single(_load("pq3_conversation_test"), _first("flags", ["Basic"]))
    schema = SCHEMAS[base["schema"]]
    for kind, mutate in STRUCTURAL.items():
        if kind in ("wrong numberOfTests", "duplicate tcId", "stale note", "hex with a newline"):
            continue  # checked by the verifier beyond the schema, or regex dialects differ
        doc = copy.deepcopy(base)
        mutate(doc)
        theirs = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
        assert theirs and validate(doc, schema), kind


def test_validator_refuses_keywords_it_does_not_implement() -> None:
    with pytest.raises(ValueError, match="not supported"):
        validate({}, {"type": "object", "patternProperties": {}})


# ── vectors verify PATH ─────────────────────────────────────────────────────────────────


def test_verify_accepts_a_single_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = VECTORS / "pq3_chain_step_test.json"
    assert main(["vectors", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "files 1, cases 5, passed 5, failed 0" in out


def test_verify_says_when_a_path_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for missing in (tmp_path / "nope.json", tmp_path / "nodir"):
        with pytest.raises(SystemExit) as info:
            main(["vectors", "verify", str(missing)])
        assert info.value.code == 2  # a usage error, like every bad argument
        assert "does not exist" in capsys.readouterr().err


def test_verify_prints_field_expected_and_actual(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _single(_load("pq3_message_key_test"), lambda t: t["plaintext"] == "")
    t = doc["testGroups"][0]["tests"][0]
    want = t["keyIndicator"]
    t["keyIndicator"] = _flip_hex(want)
    (tmp_path / "one.json").write_bytes(render(doc))
    assert main(["vectors", "verify", str(tmp_path / "one.json")]) == 1
    out = capsys.readouterr().out
    assert f"keyIndicator: expected {t['keyIndicator']}, actual {want}" in out
    doc = _single(_load("pq3_conversation_test"), lambda t: t["comment"].startswith("basic"))
    step = next(s for s in doc["testGroups"][0]["tests"][0]["steps"] if s["action"] == "encrypt")
    step["wire"] = _flip_hex(step["wire"], 200)
    (tmp_path / "two.json").write_bytes(render(doc))
    assert main(["vectors", "verify", str(tmp_path / "two.json")]) == 1
    out = capsys.readouterr().out
    assert "wire: expected " in out and "first difference at byte 100" in out


def test_the_spec_table_gives_each_files_counts() -> None:
    text = (VECTORS.parent / "test-vectors.md").read_text()
    for stem in FILE_STEMS:
        doc = _load(stem)
        tests = _tests(doc)
        valid = sum(t["result"] == "valid" for t in tests)
        row = (
            f"| `{stem}.json` | `{doc['testGroups'][0]['type']}` | {len(tests)} | "
            f"{valid} / {len(tests) - valid} |"
        )
        assert row in text, f"spec/test-vectors.md lacks the row {row}"
