"""The transport vectors read with the spec alone: every committed `first` and `chunked`
message is parsed by a parser written from 04-wire-format.md §1 and 10-profiles.md §3.4 and
§4.1 (not the package's), every chunk is checked against the code of §4.2 (GF(2^16),
systematic, Lagrange points; the material id), and every material against the step's named
randomness through kyber-py's ML-KEM-768: a request carries KeyGen_internal(kemSeed)'s key,
an answer Encaps_internal(key, kemCoins)'s ciphertext (spec/test-vectors.md, Randomness).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from kyber_py.ml_kem import ML_KEM_768

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
FILES = ("profile_transport_test", "profile_transport_negative_test")
PK, CT = 1184, 1088  # ML-KEM-768 key and ciphertext (10-profiles.md §2)
START_CT = 1568  # ML-KEM-1024
ID_LABEL = b"pq3proto chunked material v1"
KIND_PK, KIND_CT = 0x01, 0x02

# ── GF(2^16) = GF(2)[x] / (x^16 + x^12 + x^3 + x + 1), by log tables ──
_POLY = 0x1100B
_EXP = [0] * (2 * 65535)
_LOG = [0] * 65536
_v = 1
for _e in range(65535):
    _EXP[_e] = _EXP[_e + 65535] = _v
    _LOG[_v] = _e
    _v <<= 1
    if _v & 0x10000:
        _v ^= _POLY


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _inv(a: int) -> int:
    return _EXP[65535 - _LOG[a]]


def _evaluate(data: list[list[int]], x: int) -> list[int]:
    """P(x) in each lane, P through (j, data[j][lane]) for j < k (addition is XOR)."""
    k = len(data)
    weights = []
    for j in range(k):
        num = den = 1
        for m in range(k):
            if m != j:
                num = _mul(num, x ^ m)
                den = _mul(den, j ^ m)
        weights.append(_mul(num, _inv(den)))
    lanes = len(data[0])
    out = [0] * lanes
    for j, w in enumerate(weights):
        row = data[j]
        for lane in range(lanes):
            out[lane] ^= _mul(w, row[lane])
    return out


def _symbols(chunk: bytes) -> list[int]:
    return [int.from_bytes(chunk[i : i + 2], "big") for i in range(0, len(chunk), 2)]


# ── A parser from the spec text ──


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        assert self.pos + n <= len(self.data), "truncated"
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])


def _chunk(r: _Reader, s: int) -> dict[str, Any]:
    kind, mid, k, n, i = r.u8(), r.take(4), r.u16(), r.u16(), r.u16()
    assert kind in (KIND_PK, KIND_CT) and 0 < k <= n and i < n
    return {"kind": kind, "id": mid, "k": k, "n": n, "i": i, "data": r.take(s)}


def parse(wire: bytes, profile: dict[str, Any]) -> dict[str, Any]:
    r = _Reader(wire)
    assert r.u8() == 0x01
    flags = r.u8()
    assert flags & ~0x1F == 0 and not flags & 0x06, "no KEM flags under a deferred profile"
    out: dict[str, Any] = {"flags": flags, "ecdh": r.take(65)}
    if flags & 0x08:
        assert flags & 0x01
        assert r.take(r.u8()).hex() == profile["id"]
    if flags & 0x01:
        r.take(48 + START_CT)
    out["mixed"] = r.take(4) if flags & 0x10 else None
    assert not (flags & 0x10 and flags & 0x01)
    out["header"] = wire[: r.pos]
    block_start = r.pos
    tflags = r.u8()
    assert tflags & ~0x0F == 0
    assert not (tflags & 0x04 and not tflags & 0x02) and not (tflags & 0x08 and not tflags & 0x01)
    out["request"] = r.take(4) if tflags & 0x01 else None
    out["answer"] = (r.take(4), r.take(4)) if tflags & 0x02 else None
    chunked = profile["transport"] == "chunked"
    s = profile["chunkSize"]
    out["materials"] = []
    if chunked:
        assert not (tflags & 0x04 and tflags & 0x08)
    for bit, whole, kind, slot in ((0x04, CT, KIND_CT, "answer"), (0x08, PK, KIND_PK, "request")):
        if tflags & bit:
            if chunked:
                c = _chunk(r, s)
                expected_id = out["answer"][1] if slot == "answer" else out["request"]
                assert c["kind"] == kind and c["id"] == expected_id
                out["materials"].append(c)
            else:
                out["materials"].append({"kind": kind, "whole": r.take(whole)})
    out["block"] = wire[block_start : r.pos]
    r.u32()  # index
    r.take(32)  # key indicator
    r.take(r.u32())  # auth data
    r.take(r.u32())  # ciphertext
    r.take(64)  # signature
    assert r.pos == len(wire), "trailing bytes"
    return out


def _tests() -> list[dict[str, Any]]:
    out = []
    for stem in FILES:
        doc = json.loads((VECTORS / f"{stem}.json").read_bytes())
        out += [t for g in doc["testGroups"] for t in g["tests"]]
    return [t for t in out if t["profile"]["transport"] != "repeat"]


def _material_id(kind: int, material: bytes) -> bytes:
    data = ID_LABEL + bytes((kind,)) + len(material).to_bytes(4, "big") + material
    return hashlib.sha256(data).digest()[:4]


@pytest.mark.parametrize("t", _tests(), ids=lambda t: f"{t['tcId']}-{t['comment'][:40]}")
def test_every_sent_message_reads_by_the_spec(t: dict[str, Any]) -> None:
    profile = t["profile"]
    chunked = profile["transport"] == "chunked"
    headers: dict[bytes, bytes] = {}
    chunks: dict[bytes, dict[int, dict[str, Any]]] = {}
    requested: dict[bytes, bytes] = {}  # request id -> the key its kemSeed makes
    encrypts = [s for s in t["steps"] if s["action"] == "encrypt"]
    assert encrypts
    for step in encrypts:
        m = parse(bytes.fromhex(step["wire"]), profile)
        # one chain, one header (03-ratchet.md §3)
        assert headers.setdefault(m["ecdh"], m["header"]) == m["header"]
        draws = step["randomness"]
        for c in m["materials"]:
            if chunked:
                seen = chunks.setdefault(c["id"], {})
                assert seen.setdefault(c["i"], c) == c, "one index, one chunk"
        if draws["kemSeed"] is not None:
            ek, _ = ML_KEM_768.key_derive(bytes.fromhex(draws["kemSeed"]))
            assert m["request"] is not None and m["materials"], "a new request carries material"
            requested[m["request"]] = ek
            if chunked:
                assert m["materials"][0]["i"] == 0
                assert m["request"] == _material_id(KIND_PK, ek)
            else:
                assert m["materials"][0]["whole"] == ek
        if draws["kemCoins"] is not None:
            assert m["answer"] is not None
            answered = requested[m["answer"][0]]
            _, ct = ML_KEM_768._encaps_internal(answered, bytes.fromhex(draws["kemCoins"]))
            answer = [c for c in m["materials"] if c["kind"] == KIND_CT]
            assert answer, "an encapsulating message carries its answer"
            if chunked:
                assert answer[0]["i"] == 0 and m["answer"][1] == _material_id(KIND_CT, ct)
            else:
                assert answer[0]["whole"] == ct
    for mid, seen in chunks.items():
        first = next(iter(seen.values()))
        k, kind = first["k"], first["kind"]
        length = PK if kind == KIND_PK else CT
        assert k == -(-length // profile["chunkSize"])
        assert first["n"] == profile["chunkExpansion"] * k
        if not all(i in seen for i in range(k)):
            continue  # a rekey the conversation ends before
        data = [_symbols(seen[i]["data"]) for i in range(k)]
        material = b"".join(seen[i]["data"] for i in range(k))
        assert material[length:] == bytes(len(material) - length), "zero padding"
        assert _material_id(kind, material[:length]) == mid
        for i, c in seen.items():
            if i >= k:
                assert _symbols(c["data"]) == _evaluate(data, i), f"repair chunk {i}"


def test_the_vectors_exercise_repair_chunks() -> None:
    repaired = 0
    for t in _tests():
        if t["profile"]["transport"] != "chunked":
            continue
        for step in t["steps"]:
            if step["action"] == "encrypt":
                for c in parse(bytes.fromhex(step["wire"]), t["profile"])["materials"]:
                    repaired += c["i"] >= c["k"]
    assert repaired >= 10
