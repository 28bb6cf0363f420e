"""`pq3proto profiles` (experiments/profiles.py): profiles compared on one workload."""

from __future__ import annotations

import json
from pathlib import Path

from pq3proto.cli import main
from pq3proto.experiments.profiles import rekey_latencies
from pq3proto.experiments.traced import run_traced
from pq3proto.policy import RekeyPolicy
from pq3proto.profile import Profile


def test_latency_is_request_to_the_requesters_mix() -> None:
    run = run_traced(RekeyPolicy.every_turn(), "ping-pong", 20, seed=3)
    msgs, secs, left_open = rekey_latencies(run.events)
    # every turn asks and the peer's next message answers: one message later, two network
    # hops (60 s each) later, but for the last one, which the final drain delivers at once
    assert msgs and all(m == 1 for m in msgs)
    assert all(s == 120.0 for s in secs[:-1])
    assert left_open <= 1  # the last request of the conversation


def test_profiles_command_compares_kems(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    rc = main(["profiles", "--rekey-kems", "ML-KEM-768,ML-KEM-1024", "--traffic", "ping-pong",
               "--loss", "0,0.2", "--messages", "40", "--policy", "every-turn",
               "--json", str(out), "--progress", "off"])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert len(doc["cells"]) == 4
    by = {(c["rekey_kem"], c["loss"]): c for c in doc["cells"]}
    # a larger rekey KEM costs more bytes per message on the same conversation
    assert by[("ML-KEM-1024", 0.0)]["bytes_mean"] > by[("ML-KEM-768", 0.0)]["bytes_mean"]
    assert by[("ML-KEM-768", 0.0)]["rekeys_completed"] > 0
    assert set(doc["kem_cpu_us_per_rekey"]) == {"ML-KEM-768", "ML-KEM-1024"}
    assert Profile(rekey_kem="ML-KEM-1024").label in {c["profile"] for c in doc["cells"]}
