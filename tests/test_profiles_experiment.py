"""`pq3proto profiles` (experiments/profiles.py, hndl.py, patterns.py): profiles compared on one
workload, with the adversary's measured HNDL exposure under every transport."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pq3proto import kem
from pq3proto.chunking import chunk_count
from pq3proto.cli import main
from pq3proto.errors import MisuseError
from pq3proto.experiments.delivery import NetworkConditions
from pq3proto.experiments.hndl import compromise_points, exposure, record
from pq3proto.experiments.patterns import parse_pattern, read_pattern
from pq3proto.experiments.profiles import (
    AUTO_CHUNK_SIZES,
    AUTO_MAX_CHUNKS,
    auto_chunk_size,
    rekey_latencies,
)
from pq3proto.experiments.traced import run_traced
from pq3proto.kem_table import by_name
from pq3proto.policy import RekeyPolicy
from pq3proto.profile import Profile

REPEAT = Profile()
FIRST = Profile(transport="first")
ONE_CHUNK = Profile(transport="chunked", chunk_size=2048)  # ML-KEM-768 material: one chunk
PROFILES = (REPEAT, FIRST, ONE_CHUNK)
LIBOQS = kem.available_backends()["liboqs"] is None
needs_liboqs = pytest.mark.skipif(not LIBOQS, reason="liboqs not found (README: liboqs)")


def test_latency_under_repeat_is_one_message() -> None:
    run = run_traced(RekeyPolicy.every_turn(), "ping-pong", 20, seed=3)
    for transport in ("repeat", None):
        msgs, secs, left_open = rekey_latencies(run.events, transport)
        # every turn asks and the peer's next message answers: one message later, two network
        # hops (60 s each) later, but for the last one, which the final drain delivers at once
        assert msgs and all(m == 1 for m in msgs)
        assert all(s == 120.0 for s in secs[:-1])
        assert left_open <= 1  # the last request of the conversation


@pytest.mark.parametrize("profile", (FIRST, ONE_CHUNK), ids=lambda p: p.transport)
def test_deferred_latency_ends_at_the_requesters_next_chain(profile: Profile) -> None:
    run = run_traced(RekeyPolicy.every_turn(), "ping-pong", 20, seed=3, profile=profile)
    # the request (A), the answer carrying the ciphertext (B), then A's next chain mixes:
    # a send event, two messages and two 60 s turns after the request
    for transport in (profile.transport, None):
        msgs, secs, _ = rekey_latencies(run.events, transport)
        assert msgs and all(m == 2 for m in msgs)
        assert all(s == 120.0 for s in secs)
    # the repeat reading (completion on a receive) would find the answerer's mixes instead
    completing = [e for e in run.events if e.rekey_completed]
    assert {e.direction for e in completing} == {"send", "receive"}


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.transport)
def test_adversary_exposure_heals_only_by_a_rekey(profile: Profile) -> None:
    lossy = NetworkConditions(drop=0.1, mean_delay=90.0)
    points = compromise_points(120, 20)

    def measured(policy: RekeyPolicy, kem_broken: bool = False) -> tuple[float, float]:
        rec = record(profile, policy, "bursty", 120, 2, lossy, points)
        e = exposure(rec, kem_broken)
        assert e.samples >= len(points)  # both parties at every point once B has a session
        return e.share_of_remaining, e.healed

    # no rekey: every ECDH key broken, the stolen state reads every later message
    assert measured(RekeyPolicy.never()) == (1.0, 0.0)
    share, healed = measured(RekeyPolicy(every_messages=10))
    assert healed == 1.0 and share < 0.5
    # the same adversary holding every rekey KEM key too follows the mixed chains to the end:
    # its derivations are the parties' own, through deferred mixing as well
    assert measured(RekeyPolicy(every_messages=10), kem_broken=True) == (1.0, 0.0)


@needs_liboqs
@pytest.mark.parametrize("transport", ("repeat", "first", "chunked"))
def test_adversary_follows_a_liboqs_rekey_kem(transport: str) -> None:
    extra = {"chunk_size": 512} if transport == "chunked" else {}
    profile = Profile(rekey_kem="BIKE-L1", transport=transport, **extra)  # type: ignore[arg-type]
    rec = record(profile, RekeyPolicy(every_messages=8), "ping-pong", 80, 4,
                 NetworkConditions(drop=0.05, mean_delay=90.0), compromise_points(80, 10))
    healed = exposure(rec)
    # chunked rekeys take longer: a late compromise may see none complete before the end
    assert healed.healed > 0.5 and healed.share_of_remaining < 0.7
    broken = exposure(rec, kem_broken=True)  # BIKE decapsulation by the adversary itself
    assert (broken.share_of_remaining, broken.healed) == (1.0, 0.0)


def test_auto_chunk_size_is_the_smallest_that_fits() -> None:
    for name in ("ML-KEM-768", "BIKE-L1", "HQC-1", "FrodoKEM-640-AES"):
        info = by_name(name)
        size = auto_chunk_size(name)
        worst = max(chunk_count(info.public_key_size, size),
                    chunk_count(info.ciphertext_size, size))
        assert worst <= AUTO_MAX_CHUNKS
        smaller = [s for s in AUTO_CHUNK_SIZES if s < size]
        if smaller:
            assert chunk_count(info.ciphertext_size, smaller[-1]) > AUTO_MAX_CHUNKS or (
                chunk_count(info.public_key_size, smaller[-1]) > AUTO_MAX_CHUNKS
            )
    assert auto_chunk_size("ML-KEM-768") == 64  # spec/10-profiles.md §4.5's default


def test_pattern_files_are_strict(tmp_path: Path) -> None:
    assert parse_pattern("# two turns\nAAB\nb a  # lower case is fine\n") == (
        "A", "A", "B", "B", "A"
    )
    with pytest.raises(MisuseError, match="line 2, column 3"):
        parse_pattern("AB\nAAC\n")
    with pytest.raises(MisuseError, match="start with A"):
        parse_pattern("BA")
    with pytest.raises(MisuseError, match="no sender"):
        parse_pattern("# nothing\n\n")
    with pytest.raises(MisuseError, match="cannot read"):
        read_pattern(str(tmp_path / "missing.txt"))
    bad = tmp_path / "bin.txt"
    bad.write_bytes(b"A\xff")
    with pytest.raises(MisuseError, match="UTF-8"):
        read_pattern(str(bad))


def test_profiles_command_runs_the_transport_grid(tmp_path: Path) -> None:
    pattern = tmp_path / "turns.txt"
    pattern.write_text("AAAB\nAB\n")
    out = tmp_path / "p.json"
    rc = main(["profiles", "--transports", "repeat,first,chunked",
               "--rekey-kems", "ML-KEM-768,ML-KEM-1024", "--traffic", "ping-pong",
               "--pattern-file", str(pattern), "--loss", "0,0.2", "--messages", "40",
               "--policy", "every-turn", "--chunk-size", "auto,ML-KEM-1024=256",
               "--compromise-every", "10", "--json", str(out), "--progress", "off"])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert len(doc["cells"]) == 3 * 2 * 2 * 2
    assert doc["parameters"]["custom_patterns"] == {"file:turns.txt": "AAABAB"}
    by = {(c["transport"], c["rekey_kem"], c["traffic"], c["loss"]): c for c in doc["cells"]}
    # a larger rekey KEM costs more bytes per message under repeat on the same conversation
    assert (by[("repeat", "ML-KEM-1024", "ping-pong", 0.0)]["bytes_mean"]
            > by[("repeat", "ML-KEM-768", "ping-pong", 0.0)]["bytes_mean"])
    assert by[("chunked", "ML-KEM-768", "ping-pong", 0.0)]["chunk_size"] == 64
    assert by[("chunked", "ML-KEM-1024", "ping-pong", 0.0)]["chunk_size"] == 256
    for c in doc["cells"]:
        assert bytes.fromhex(c["profile_id"]) == _profile_of(c).to_bytes()
        assert c["hndl_samples"] > 0 and 0.0 <= c["hndl_exposure_share"] <= 1.0
    assert by[("first", "ML-KEM-768", "ping-pong", 0.0)]["rekeys_completed"] > 0
    cpu = doc["cpu_us_per_rekey"]
    assert all(v["kem_us"] > 0 for v in cpu.values())
    assert all((v["chunk_us"] > 0) == ("chunked" in label) for label, v in cpu.items())


def _profile_of(cell: dict[str, object]) -> Profile:
    t = str(cell["transport"])
    if t == "chunked":
        return Profile(rekey_kem=str(cell["rekey_kem"]), transport="chunked",
                       chunk_size=int(str(cell["chunk_size"])))
    return Profile(rekey_kem=str(cell["rekey_kem"]), transport=t)  # type: ignore[arg-type]


@pytest.mark.parametrize("argv", (
    ["--transports", "repeat,teleport"],
    ["--transports", "first,first"],
    ["--chunk-size", "63"],
    ["--chunk-size", "ML-KEM-768=64,auto"],
    ["--chunk-expansion", "256"],
    ["--pattern-file", "/nonexistent/pattern"],
    ["--compromise-every", "0"],
))
def test_profiles_bad_options_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["profiles", *argv])
    assert e.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_bench_runs_and_records_a_deferred_profile(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    assert main(["bench", "--workload", "pingpong", "--messages", "50", "--repeat", "1",
                 "--transport", "chunked", "--chunk-size", "128", "--warmup", "0",
                 "--floor-messages", "50", "--json", str(out), "--progress", "off"]) == 0
    doc = json.loads(out.read_text())
    profile = Profile(transport="chunked", chunk_size=128)
    assert doc["profile"] == profile.label
    assert doc["profile_id"] == profile.to_bytes().hex()
    assert doc["profile_fields"]["transport"] == "chunked"
    assert doc["kem_backends"]["rekey"] == doc["kem_backend"]  # ML-KEM: the chosen backend


def test_bench_chunk_options_need_the_chunked_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--transport", "first", "--chunk-size", "64"]) != 0
    assert "--transport chunked" in capsys.readouterr().err
