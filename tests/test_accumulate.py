"""Accumulated vectors (spec/test-vectors.md, Accumulated vectors): one digest for a stream.

The default run checks the published digest of the first 200 conversations, on both message
paths; the full 10,000 is marked slow.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from pq3proto import native
from pq3proto.cli import main
from pq3proto.vectors.accumulate import DIGESTS, FULL_COUNT, SHORT_COUNT, accumulate

SPEC = Path(__file__).resolve().parent.parent / "spec" / "test-vectors.md"


def test_spec_publishes_the_same_digests() -> None:
    text = SPEC.read_text()
    for count, digest in DIGESTS.items():
        m = re.search(rf"\| {count:,} \| `([0-9a-f]{{64}})` \|", text)
        assert m is not None, f"no published digest for {count} in spec/test-vectors.md"
        assert m.group(1) == digest


def test_short_stream_matches_its_published_digest() -> None:
    digest, messages = accumulate(SHORT_COUNT)
    assert digest == DIGESTS[SHORT_COUNT]
    assert messages > 5 * SHORT_COUNT


@pytest.mark.skipif(not native.available(), reason="native extension not built")
def test_both_paths_give_the_same_prefix_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PQ3PROTO_NATIVE", "0")
    python_path = accumulate(25)
    monkeypatch.setenv("PQ3PROTO_NATIVE", "1")
    assert accumulate(25) == python_path


def test_no_clock_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    first = accumulate(3)

    def no_clock() -> float:
        raise AssertionError("the accumulated stream read the clock")

    monkeypatch.setattr(time, "time", no_clock)
    assert accumulate(3) == first


def test_cli_prints_the_digest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vectors", "accumulate", "--count", "4"]) == 0
    assert re.search(r"4 conversations, \d+ messages, .*: [0-9a-f]{64}", capsys.readouterr().out)


@pytest.mark.slow
def test_full_stream_matches_its_published_digest() -> None:
    assert accumulate(FULL_COUNT)[0] == DIGESTS[FULL_COUNT]
