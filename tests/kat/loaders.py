"""Strict loaders for published known-answer files.

Owns: parsing NIST CAVP "key = value" files (.rsp, .fax, and the RFC-derived .txt files in
cryptography-vectors), OpenSSL evp test stanzas, and NIST ACVP prompt/expectedResults pairs.
Not: deciding what a record means; the tests do that.

Every loader fails on a line, field or shape it does not know instead of skipping it, so a
changed file can never shrink a test to nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cryptography_vectors

DATA_DIR = Path(__file__).parent / "data"

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_SECTION = re.compile(r"^\[(.*)\]$")


class LoaderError(Exception):
    """A vector file does not have the shape its loader expects."""


@dataclass
class Record:
    """One record: its fields, the [section] it sits under, and the line it starts on."""

    section: str
    line: int
    fields: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        return self.fields[key]

    def hex(self, key: str) -> bytes:
        return bytes.fromhex(self.fields[key])


def vector_lines(path: str) -> list[str]:
    """The lines of a file inside the installed cryptography-vectors package."""
    with cryptography_vectors.open_vector_file(path, "r") as f:
        return f.read().splitlines()


def read_nist_records(
    lines: Iterable[str], *, start: str, fields: Iterable[str], source: str
) -> list[Record]:
    """Parse "key = value" records; `start` opens a record, which must hold exactly `fields`.

    Blank lines, "#" comments and "[...]" section headers are the only other lines allowed.
    """
    allowed = frozenset(fields)
    if start not in allowed:
        raise LoaderError(f"{source}: start field {start!r} is not among the fields")
    records: list[Record] = []
    section = ""
    current: Record | None = None
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if m := _SECTION.match(line):
            section = m.group(1)
            continue
        m = _ASSIGNMENT.match(line)
        if m is None:
            raise LoaderError(f"{source}:{lineno}: unrecognised line {line[:60]!r}")
        key, value = m.groups()
        if key not in allowed:
            raise LoaderError(f"{source}:{lineno}: unknown field {key!r}")
        if key == start:
            current = Record(section, lineno)
            records.append(current)
        elif current is None:
            raise LoaderError(f"{source}:{lineno}: field {key!r} before the first {start!r}")
        if key in current.fields:
            raise LoaderError(f"{source}:{lineno}: field {key!r} repeated in one record")
        current.fields[key] = value
    for record in records:
        missing = allowed - record.fields.keys()
        if missing:
            raise LoaderError(f"{source}:{record.line}: record lacks {sorted(missing)}")
    return records


# ── OpenSSL evp test files (used for the RFC 6979 vectors) ──────────────────────────────

_EVP_KEYS = frozenset(
    {
        "Title",
        "PrivateKey",
        "PublicKey",
        "PrivPubKeyPair",
        "Availablein",
        "FIPSversion",
        "DigestSign",
        "DigestVerify",
        "Key",
        "NonceType",
        "Input",
        "Output",
        "Result",
    }
)


@dataclass
class EvpFile:
    """Named PEM keys and the test stanzas of an OpenSSL evp test file."""

    keys: dict[str, str]
    stanzas: list[Record]


def read_openssl_evp(lines: Iterable[str], *, source: str) -> EvpFile:
    """Parse OpenSSL evp test stanzas: blank-line separated "Key = Value" groups and PEM keys."""
    keys: dict[str, str] = {}
    stanzas: list[Record] = []
    current: Record | None = None
    pem_name: str | None = None
    pem: list[str] = []
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if pem_name is not None:
            pem.append(line)
            if line.startswith("-----END "):
                keys[pem_name] = "\n".join(pem) + "\n"
                pem_name, pem = None, []
            continue
        if not line:
            current = None
            continue
        if line.startswith("#"):
            continue
        m = _ASSIGNMENT.match(line)
        if m is None:
            raise LoaderError(f"{source}:{lineno}: unrecognised line {line[:60]!r}")
        key, value = m.groups()
        if key not in _EVP_KEYS:
            raise LoaderError(f"{source}:{lineno}: unknown keyword {key!r}")
        if key in ("PrivateKey", "PublicKey"):
            if value in keys:
                raise LoaderError(f"{source}:{lineno}: key {value!r} defined twice")
            pem_name = value
            continue
        if current is None:
            current = Record("", lineno)
            stanzas.append(current)
        if key in current.fields:
            raise LoaderError(f"{source}:{lineno}: keyword {key!r} repeated in one stanza")
        current.fields[key] = value
    if pem_name is not None:
        raise LoaderError(f"{source}: PEM block for {pem_name!r} never ends")
    return EvpFile(keys, stanzas)


# ── NIST ACVP JSON (prompt.json + expectedResults.json) ─────────────────────────────────


@dataclass
class AcvpCase:
    """One ACVP test case with its group's properties, prompt and expected result merged."""

    tc_id: int
    group: dict[str, Any]
    prompt: dict[str, Any]
    expected: dict[str, Any]


def read_acvp(
    directory: Path,
    *,
    group_keys: dict[str, frozenset[str]],
    prompt_keys: dict[str, frozenset[str]],
    expected_keys: dict[str, frozenset[str]],
) -> list[AcvpCase]:
    """Join an ACVP prompt.json with its expectedResults.json, checking every key.

    The three key maps are indexed by the group's "function" (or "" when it has none) and
    give the exact keys a group, a prompt test and an expected result must have.
    """
    prompt = json.loads((directory / "prompt.json").read_text())
    expected = json.loads((directory / "expectedResults.json").read_text())
    header = ("vsId", "algorithm", "mode", "revision", "isSample")
    for key in header:
        if prompt[key] != expected[key]:
            raise LoaderError(f"{directory}: prompt and expected results differ on {key}")
    if set(prompt) != {*header, "testGroups"} or set(expected) != {*header, "testGroups"}:
        raise LoaderError(f"{directory}: unexpected top-level keys")
    expected_groups = {g["tgId"]: g for g in expected["testGroups"]}
    if len(expected_groups) != len(prompt["testGroups"]):
        raise LoaderError(f"{directory}: group counts differ")
    cases: list[AcvpCase] = []
    for group in prompt["testGroups"]:
        kind = group.get("function", "")
        properties = {k: v for k, v in group.items() if k != "tests"}
        if set(properties) != group_keys[kind]:
            raise LoaderError(f"{directory}: group {group['tgId']} keys {sorted(properties)}")
        answers = {t["tcId"]: t for t in expected_groups[group["tgId"]]["tests"]}
        if len(answers) != len(group["tests"]):
            raise LoaderError(f"{directory}: group {group['tgId']} test counts differ")
        for test in group["tests"]:
            answer = answers[test["tcId"]]
            if set(test) != prompt_keys[kind] or set(answer) != expected_keys[kind]:
                raise LoaderError(f"{directory}: test {test['tcId']} has unexpected keys")
            cases.append(AcvpCase(test["tcId"], properties, test, answer))
    return cases
