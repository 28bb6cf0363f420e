"""Shared shape of a vector file: seeded streams, the file wrapper, test objects, identities.

Owns: seeded_rng (the seed naming of spec/test-vectors.md, Seeds), document (tcIds, notes,
header), make_test, and the test identities.
Not: the content of any file.
"""

from __future__ import annotations

from ..identity import PublicIdentity
from ..primitives import (
    P256PrivateKey,
    TestingOnlyDeterministicRandom,
)
from . import schemas as sc
from .common import (
    GENERATOR_VERSION,
    SEED_PREFIX,
    SOURCE_NAME,
    SOURCE_VERSION,
    Json,
    VectorError,
    h,
)
from .notes import NOTES


def seeded_rng(name: str) -> TestingOnlyDeterministicRandom:
    return TestingOnlyDeterministicRandom(SEED_PREFIX + name.encode("utf-8"))


def document(test_type: str, header: list[str], groups: list[list[Json]]) -> Json:
    """Wrap groups of tests into a file: tcIds numbered, notes for the flags used."""
    tc = 0
    test_groups = []
    for tests in groups:
        for t in tests:
            tc += 1
            t["tcId"] = tc
        test_groups.append({"type": test_type, "tests": tests})
    used = sorted({f for tests in groups for t in tests for f in t["flags"]})
    unknown = [f for f in used if f not in sc.FLAGS[test_type]]
    if unknown:
        raise VectorError(f"flags not declared for {test_type}: {unknown}")
    return {
        "algorithm": sc.ALGORITHMS[test_type],
        "schema": sc.schema_file(test_type),
        "generatorVersion": GENERATOR_VERSION,
        "numberOfTests": tc,
        "header": header,
        "notes": {f: {"bugType": NOTES[f][0], "description": NOTES[f][1]} for f in used},
        "source": {"name": SOURCE_NAME, "version": SOURCE_VERSION},
        "testGroups": test_groups,
    }


def make_test(comment: str, flags: list[str], result: str = "valid", /, **fields: object) -> Json:
    return {"tcId": 0, "comment": comment, "flags": flags, "result": result, **fields}


def identity_json(ident: PublicIdentity) -> Json:
    return {"uri": ident.uri, "deviceId": ident.device_id, "signingKey": h(ident.signing_key)}


URIS = (
    ("tel:+15551234567", 7),
    ("mailto:bob@example.org", 1),
    ("mailto:zo\u00eb@example.org", 0xFFFF_FFFF),
    ("x", 0),
)


def identities(rng: TestingOnlyDeterministicRandom, k: int) -> tuple[PublicIdentity, ...]:
    a, b = URIS[k % len(URIS)], URIS[(k + 1) % len(URIS)]
    return (
        PublicIdentity(a[0], a[1], P256PrivateKey.generate(rng).public),
        PublicIdentity(b[0], b[1], P256PrivateKey.generate(rng).public),
    )
