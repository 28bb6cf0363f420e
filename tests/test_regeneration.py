"""Regeneration from the spec: every random value of the vectors follows from the spec's seeds.

spec/test-vectors.md (Seeds) names one SHAKE-256 stream per purpose and gives the seed name of
every conversation test. This test reads those names from the spec text, draws from each stream
with its own SHAKE-256 (01-conventions.md §3, not the package's), and checks that each party's
secrets and every step's randomness in the committed vectors are exactly the next draws.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pq3proto.identity import Device
from pq3proto.primitives import TestingOnlyDeterministicRandom
from pq3proto.vectors.common import SEED_PREFIX
from pq3proto.vectors.generate import CONVERSATION_FILES, seed_names

ROOT = Path(__file__).resolve().parent.parent
SPEC = (ROOT / "spec" / "test-vectors.md").read_text()
VECTORS = ROOT / "spec" / "vectors"
ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _spec_prefix() -> bytes:
    m = re.search(r'seed is `"([^"]+)" \|\| UTF-8\(name\)`', SPEC)
    assert m is not None, "spec/test-vectors.md must state the seed prefix"
    return m.group(1).encode()


def _spec_names() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for stem, tc, name in re.findall(
        r"^\| `((?:pq3|profile)_\w+)\.json` \| (\d+) \| `([^`]+)` \|$", SPEC, re.M
    ):
        names = out.setdefault(stem, [])
        assert int(tc) == len(names) + 1, f"{stem}: tcIds in order"
        names.append(name)
    return out


class Stream:
    """SHAKE-256(seed || u64(k)) truncated, k counting calls (01-conventions.md §3)."""

    def __init__(self, name: str) -> None:
        self.seed = _spec_prefix() + name.encode()
        self.k = 0

    def draw(self, n: int) -> bytes:
        out = hashlib.shake_256(self.seed + self.k.to_bytes(8, "big")).digest(n)
        self.k += 1
        return out

    def scalar(self) -> bytes:
        while True:
            d = self.draw(32)
            if 1 <= int.from_bytes(d, "big") < ORDER:
                return d


def test_the_spec_states_the_generators_prefix_and_names() -> None:
    assert _spec_prefix() == SEED_PREFIX
    assert _spec_names() == seed_names()
    assert set(_spec_names()) == set(CONVERSATION_FILES)


def _check_conversation(stem: str, t: dict[str, Any], name: str) -> int:
    streams = {role: Stream(f"{name}/{role}") for role in ("initiator", "responder")}
    for role, s in streams.items():
        p = t[role]
        assert p["identityScalar"] == s.scalar().hex(), (stem, t["tcId"], role)
        assert p["prekeyScalar"] == s.scalar().hex()
        assert p["prekeyKemSeed"] == s.draw(64).hex()
    checked = 0
    # spec/test-vectors.md, Randomness: under first and chunked an encrypt opens its request
    # before it answers the peer's key.
    deferred = t.get("profile", {}).get("transport") in ("first", "chunked")
    for step in t["steps"]:
        r = step.get("randomness")
        if r is None:
            continue
        s = streams[step["party"]]
        order = ["ecdhScalar", "kemCoins", "kemSeed"]
        if deferred and step["action"] == "encrypt":
            order = ["ecdhScalar", "kemSeed", "kemCoins"]
        make = {
            "ecdhScalar": s.scalar,
            "kemCoins": lambda s=s: s.draw(32),
            "kemSeed": lambda s=s: s.draw(64),
        }
        for field in order:
            if r[field] is not None:
                assert r[field] == make[field]().hex(), (stem, t["tcId"], field)
                checked += 1
    return checked


def test_every_conversation_random_value_follows_from_its_seed_name() -> None:
    names = _spec_names()
    checked = 0
    for stem in CONVERSATION_FILES:
        doc = json.loads((VECTORS / f"{stem}.json").read_bytes())
        tests = [t for g in doc["testGroups"] for t in g["tests"]]
        assert len(tests) == len(names[stem])
        for t, name in zip(tests, names[stem], strict=True):
            checked += _check_conversation(stem, t, name)
    assert checked > 300


def test_auxiliary_streams_named_by_the_spec() -> None:
    doc = json.loads((VECTORS / "pq3_conversation_negative_test.json").read_bytes())
    tests = {t["comment"]: t for g in doc["testGroups"] for t in g["tests"]}
    stranger = Device.generate_deterministic_for_tests(
        "mailto:bob@example.org",
        1,
        TestingOnlyDeterministicRandom(_spec_prefix() + b"foreign bundle/stranger/responder"),
    )
    t = tests["prekey bundle signed by another device"]
    assert t["steps"][0]["prekeyBundle"] == stranger.prekey_bundle().hex()
    swapped = Stream("swap ct").draw(1088).hex()
    t = tests["KEM ciphertext replaced and signed again: implicit rejection, wrong keys"]
    assert any(swapped in (s.get("wire") or "") for s in t["steps"])


def test_profile_forged_ids_come_from_the_streams_named_by_the_spec() -> None:
    doc = json.loads((VECTORS / "profile_transport_negative_test.json").read_bytes())
    wires = {
        t["tcId"]: [s["wire"] for s in t["steps"] if s.get("wire") and s["action"] != "encrypt"]
        for g in doc["testGroups"]
        for t in g["tests"]
    }
    names = _spec_names()["profile_transport_negative_test"]
    streams = {
        "first forged mark": "first forged mark id",
        "chunked forged mark": "chunked forged mark id",
        "first unrequested answer": "first unrequested answer ids",
        "chunked unrequested answer": "chunked unrequested answer ids",
        "chunked foreign chunk": "chunked foreign chunk id",
        "pq3 mark": "pq3 mark id",
    }
    for test_name, stream in streams.items():
        size = 8 if "answer" in stream else 4
        forged = Stream(stream).draw(size).hex()
        (crafted,) = wires[names.index(test_name) + 1]
        assert forged in crafted, test_name


def test_layer_files_draw_from_the_stream_named_by_their_stem() -> None:
    doc = json.loads((VECTORS / "pq3_chain_step_test.json").read_bytes())
    s = Stream("pq3_chain_step_test")
    for t in (t for g in doc["testGroups"] for t in g["tests"]):
        assert t["chainKey"] == s.draw(32).hex()
    doc = json.loads((VECTORS / "pq3_message_key_test.json").read_bytes())
    s = Stream("pq3_message_key_test")
    for t in (t for g in doc["testGroups"] for t in g["tests"]):
        assert t["messageKey"] == s.draw(32).hex()
        n = len(t["plaintext"]) // 2
        if n != 17:  # the 17-byte case is a fixed text, not drawn
            assert t["plaintext"] == s.draw(n).hex()  # a 0-byte draw still counts
