"""What a new user meets first: demo, doctor, the Python-path notice, simulate's checks, errors.

Owns: demo --seed/--json, `pq3proto doctor` (+ --json), the once-only notice that the pure-Python
path runs, simulate --plot without matplotlib, the progress bar's one "done", the traffic
vocabulary, the message-signature failure text on both hot paths, the fuzz command.
Not: bad option values (test_cli_validation.py), benchmarks (test_bench_cli.py).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pq3proto import AuthenticationError, Device, PQ3Error, Session, StoreError, native
from pq3proto.cli import main
from pq3proto.errors import MESSAGE_SIGNATURE_FAILED
from pq3proto.progress import Progress
from pq3proto.traffic import Traffic

PATHS = ["python"] + (["native"] if native.available() else [])

ROOT = Path(__file__).resolve().parents[1]


def _demo(tmp_path: Path, name: str, *extra: str) -> dict[str, object]:
    out = tmp_path / f"{name}.json"
    assert main(["demo", "--messages", "120", "--json", str(out), *extra]) == 0
    doc: dict[str, object] = json.loads(out.read_text())
    return doc


# ── demo ────────────────────────────────────────────────────────────────────────────────


def test_demo_default_seed_makes_runs_repeat(tmp_path: Path) -> None:
    a, b = _demo(tmp_path, "a"), _demo(tmp_path, "b")
    assert a["seed"] == b["seed"] == 1
    for key in ("turns", "messages", "pq_rekeys", "wire_bytes", "plaintext_bytes"):
        assert a[key] == b[key], key
    c = _demo(tmp_path, "c", "--seed", "2")
    assert (c["turns"], c["plaintext_bytes"]) != (a["turns"], a["plaintext_bytes"])


def test_demo_json_counts_what_the_traffic_asks(tmp_path: Path) -> None:
    pingpong = _demo(tmp_path, "p", "--traffic", "ping-pong", "--policy", "never")
    assert pingpong["messages"] == 120 and pingpong["turns"] == 120
    assert pingpong["pq_rekeys"] == 0
    assert pingpong["schema"] == "pq3proto-demo/1"
    oneway = _demo(tmp_path, "o", "--traffic", "one-way", "--policy", "every-turn")
    assert oneway["turns"] == 1
    assert oneway["ecdh_ratchets"] == {"alice": 0, "bob": 0}


def test_demo_turn_mean_is_bursty_with_that_mean(tmp_path: Path) -> None:
    old = _demo(tmp_path, "old", "--turn-mean", "4")
    new = _demo(tmp_path, "new", "--traffic", "bursty:4")
    assert old["turns"] == new["turns"] and old["traffic"] == new["traffic"] == "bursty:4"


# ── traffic vocabulary ─────────────────────────────────────────────────────────────────


def test_bursty_turns_have_the_mean_asked_for() -> None:
    for mean in (1.0, 3.0, 10.0):
        senders = Traffic.parse(f"bursty:{mean:g}").senders(30_000, seed=3)
        turns = 1 + sum(1 for x, y in itertools.pairwise(senders) if x != y)
        assert abs(len(senders) / turns - mean) < 0.05 * mean + 0.05


def test_traffic_shapes() -> None:
    assert Traffic.parse("ping-pong").senders(6, 0) == list("ABABAB")
    assert Traffic.parse("one-way").senders(4, 0) == list("AAAA")
    one_sided = Traffic.parse("one-sided").senders(200, 0)
    assert one_sided[:30] == ["A"] * 30 and one_sided.count("B") <= 200 // 31 + 1
    assert str(Traffic.parse(" Bursty:5 ")) == "bursty"
    assert Traffic.from_turn_probability(0.1) == Traffic.parse("bursty:10")
    assert Traffic.from_turn_probability(1.0) == Traffic.parse("ping-pong")
    for bad in ("bursty:0.5", "zigzag", "one-way:3"):
        with pytest.raises(PQ3Error):
            Traffic.parse(bad)


# ── doctor ──────────────────────────────────────────────────────────────────────────────


def test_doctor_reports_the_active_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert f"hot path      {native.active_path()}" in out
    assert "KEM backend   openssl" in out and "OpenSSL" in out and "numpy" in out


def test_doctor_json_follows_pq3proto_native(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PQ3PROTO_NATIVE", "0")
    assert main(["doctor", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "pq3proto-doctor/1"
    assert doc["hot_path"]["active"] == "python"
    assert doc["hot_path"]["extension_loaded"] == native.available()
    assert "PQ3PROTO_NATIVE=0" in doc["hot_path"]["why"]
    assert doc["kem"]["backends"]["openssl"]["usable"] is True
    assert set(doc["versions"]) >= {"cryptography", "numpy"}
    monkeypatch.setenv("PQ3PROTO_NATIVE", "7")
    assert main(["doctor", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "PQ3PROTO_NATIVE" in doc["hot_path"]["error"]


_NO_EXTENSION = (
    "import sys; sys.modules['_pq3proto_native'] = None\n"  # as if the build had failed
    "from pq3proto.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _without_extension(args: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PQ3PROTO_NATIVE"}
    env["XDG_CACHE_HOME"] = str(cache)
    return subprocess.run(
        [sys.executable, "-c", _NO_EXTENSION, *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


def test_without_the_extension_doctor_says_what_to_install(tmp_path: Path) -> None:
    r = _without_extension(["doctor"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "hot path      python" in r.stdout
    assert "extension     not loaded" in r.stdout
    assert "libssl-dev" in r.stdout  # the advice
    assert r.stderr == ""  # doctor says it itself: no notice


def test_the_python_path_notice_comes_once(tmp_path: Path) -> None:
    first = _without_extension(["demo", "--messages", "3"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "pure-Python path" in first.stderr and "pq3proto doctor" in first.stderr
    assert "path python" in first.stdout
    second = _without_extension(["demo", "--messages", "3"], tmp_path)
    assert second.returncode == 0 and second.stderr == ""


# ── simulate and progress ───────────────────────────────────────────────────────────────


def test_simulate_plot_without_matplotlib_fails_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--plot", str(tmp_path / "x.png")])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert "'.[plot]'" in captured.err
    assert captured.out == ""  # nothing ran: no table


def test_progress_finishes_with_one_done() -> None:
    stream = io.StringIO()
    p = Progress(0, "", True, stream)
    for i in range(3):
        p.update(i, 3, f"cell {i}")
    p.update(3, 3, "done")
    p.close()
    text = stream.getvalue()
    assert text.count("done") == 1 and text.endswith("\n") and text.count("\n") == 1


def test_progress_auto_stays_quiet_off_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--messages", "20", "--samples", "1", "--policies", "never",
                 "--traffic", "ping-pong"]) == 0
    assert capsys.readouterr().err == ""


# ── errors ──────────────────────────────────────────────────────────────────────────────


def _signature_failures() -> list[str]:
    bob = Device.generate("mailto:bob@example.org", device_id=1)
    bob_phone = Device.generate("mailto:bob@example.org", device_id=2)
    alice = Device.generate("tel:+15551234567", device_id=7)
    eve = Device.generate("tel:+15550000000", device_id=7)
    a = Session.initiate(alice, bob.public_identity(), bob.prekey_bundle())
    start = a.encrypt(b"hello")
    texts = []
    for device, peer in ((bob, eve.public_identity()), (bob_phone, alice.public_identity())):
        with pytest.raises(AuthenticationError) as info:
            Session.accept(device, peer, start, save_device=lambda _: None)
        texts.append(str(info.value))
    b = Session.accept(bob, alice.public_identity(), start, save_device=lambda _: None)[0]
    own = b.encrypt(b"to alice")
    with pytest.raises(AuthenticationError) as info:
        b.decrypt(own)
    texts.append(str(info.value))
    return texts


def test_signature_failures_read_the_same_on_every_path(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    for path in PATHS:
        monkeypatch.setenv("PQ3PROTO_NATIVE", "1" if path == "native" else "0")
        seen[path] = _signature_failures()
    texts = seen["python"]
    assert all(t == texts for t in seen.values()), seen
    wrong_peer, wrong_device, own_message = texts
    assert wrong_peer == wrong_device
    assert wrong_peer.startswith(MESSAGE_SIGNATURE_FAILED + "; ")
    assert "peer identity passed to accept" in wrong_peer
    assert own_message.startswith(MESSAGE_SIGNATURE_FAILED + "; ")
    assert "not from this session itself" in own_message


def test_store_error_is_exported() -> None:
    assert issubclass(StoreError, PQ3Error)


# ── fuzz ────────────────────────────────────────────────────────────────────────────────


def test_the_readme_fuzz_command_runs() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "fuzz.run", "--seconds", "0.5"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("fuzz: ") and "0 failures" in r.stdout
