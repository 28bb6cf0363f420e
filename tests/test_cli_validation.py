"""Every option of every `pq3proto` subcommand refuses bad values the way argparse does.

Owns: that a bad value is a usage error (exit status 2, one `error:` line naming the option, no
traceback) before any work starts, for every option the parser has; and that each option's
help states its default.
Not: what the commands do with good values (their own test files).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

import pq3proto.cli as cli

DIR = "{tmp}"  # replaced by a fresh temporary directory: a directory where a file is wanted
FILE = "{tmp}/a-file"  # replaced by an existing regular file
NO_DIR = "/nonexistent-pq3proto-dir/out.json"

# (subcommand path, option or positional dest) -> values that must be refused.
BAD: dict[tuple[str, str], list[str]] = {
    ("demo", "--messages"): ["0", "-5", "abc", "1.5"],
    ("demo", "--seed"): ["abc", "1.5"],
    ("demo", "--policy"): ["sometimes", "-1", "5:abc", ""],
    ("demo", "--traffic"): ["zigzag", "bursty:0", "bursty:abc", "ping-pong:3", "bursty:inf"],
    ("demo", "--json"): [NO_DIR, DIR, ""],
    ("demo", "--turn-mean"): ["0", "0.5", "abc", "nan"],
    ("bench", "--workload"): ["nope"],
    ("bench", "--messages"): ["0", "-1", "x"],
    ("bench", "--payload"): ["-1", "x"],
    ("bench", "--policy"): ["sometimes", "3:"],
    ("bench", "--traffic"): ["one-sided", "bursty:0.5", "nonsense"],
    ("bench", "--turn-rate"): ["2", "-0.1", "nan", "x"],
    ("bench", "--recipients"): ["0", "x"],
    ("bench", "--repeat"): ["0", "x"],
    ("bench", "--workers"): ["0", "-2"],
    ("bench", "--path"): ["fast"],
    ("bench", "--kem"): ["nope"],
    ("bench", "--start-kem"): ["ML-KEM-999"],
    ("bench", "--rekey-kem"): ["nope", ""],
    ("bench", "--transport"): ["teleport", ""],
    ("bench", "--chunk-size"): ["0", "3", "4096", "x"],
    ("bench", "--chunk-expansion"): ["0", "256", "x"],
    ("bench", "--cluster"): ["local:0", "tcp://", "nowhere"],
    ("bench", "--compare"): ["=yes"],
    ("bench", "--compare-messages"): ["0", "x"],
    ("bench", "--batch"): ["0"],
    ("bench", "--include-parse"): ["=yes"],
    ("bench", "--floor-messages"): ["0"],
    ("bench", "--warmup"): ["-1", "x"],
    ("bench", "--idle-sample"): ["-1", "inf", "x"],
    ("bench", "--seed"): ["abc"],
    ("bench", "--progress"): ["sometimes"],
    ("bench", "--json"): [NO_DIR, DIR],
    ("simulate", "--messages"): ["19", "0", "abc"],
    ("simulate", "--seed"): ["abc"],
    ("simulate", "--samples"): ["0", "-3", "x"],
    ("simulate", "--policies"): ["", "sometimes", "5,5", "5:x", ","],
    ("simulate", "--traffic"): ["nonsense", "", "bursty,bursty", "bursty:0"],
    ("simulate", "--json"): [NO_DIR, DIR],
    ("simulate", "--plot"): ["/nonexistent-pq3proto-dir/x.png", "{tmp}/plot.txt", DIR],
    ("simulate", "--progress"): ["x"],
    ("simulate", "--intervals"): ["7,abc", "-1"],
    ("simulate", "--patterns"): ["nonsense"],
    ("simulate", "--no-progress"): ["=yes"],
    ("vectors generate", "dir"): [FILE, ""],
    ("vectors verify", "path"): ["/nonexistent-pq3proto-dir", ""],
    ("vectors accumulate", "--count"): ["0", "x"],
    ("simulate", "--cluster"): ["local:0", "tcp://host", "nowhere"],
    ("bench compare", "a"): ["/nonexistent-pq3proto-dir/a.json", DIR],
    ("bench compare", "b"): ["/nonexistent-pq3proto-dir/b.json", DIR],
    ("bench compare", "--threshold"): ["-1", "x"],
    ("interop run", "--a"): [""],
    ("interop run", "--b"): [""],
    ("interop run", "--scenarios"): ["nonsense", ","],
    ("interop run", "--timeout"): ["0", "x"],
    ("doctor", "--json"): ["=yes"],
    ("trace", "--messages"): ["0", "abc"],
    ("trace", "--traffic"): ["nonsense", "bursty:0"],
    ("trace", "--policy"): ["sometimes", "5:abc"],
    ("trace", "--loss"): ["1.5", "-0.1", "x"],
    ("trace", "--reorder"): ["-1", "x"],
    ("trace", "--seed"): ["abc"],
    ("profiles", "--rekey-kems"): ["nope", "ML-KEM-768,ML-KEM-768", ""],
    ("profiles", "--traffic"): ["nonsense"],
    ("profiles", "--loss"): ["1", "x", "0,0"],
    ("profiles", "--messages"): ["19", "x"],
    ("profiles", "--policy"): ["sometimes"],
    ("profiles", "--seed"): ["x"],
    ("profiles", "--json"): [NO_DIR, DIR],
    ("profiles", "--plot"): ["{tmp}/plot.txt", DIR],
    ("profiles", "--progress"): ["x"],
    ("profiles", "--transports"): ["teleport", "first,first", ""],
    ("profiles", "--chunk-size"): ["63", "1", "4096", "x", "NOPE=64", "ML-KEM-768=64,auto", ""],
    ("profiles", "--chunk-expansion"): ["0", "256", "x"],
    ("profiles", "--pattern-file"): [NO_DIR, DIR],
    ("profiles", "--compromise-every"): ["0", "x"],
    ("trace", "--start-kem"): ["ML-KEM-999", ""],
    ("trace", "--rekey-kem"): ["nope"],
    ("trace", "--transport"): ["teleport", ""],
    ("trace", "--chunk-size"): ["0", "3", "4096", "x"],
    ("trace", "--chunk-expansion"): ["0", "256", "x"],
    ("trace", "--json"): [NO_DIR, DIR],
    ("trace", "--csv"): [NO_DIR, DIR],
    ("trace", "--quiet"): ["=yes"],
}


def _leaves(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[
    tuple[str, argparse.ArgumentParser]
]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs or not all(a.required for a in subs):  # a command with optional subcommands
        yield prefix.strip(), parser
    for action in subs:
        for name, child in action.choices.items():
            yield from _leaves(child, f"{prefix} {name}")


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        yield (action.option_strings[-1] if action.option_strings else action.dest), action


def _parser_options() -> set[tuple[str, str]]:
    return {(cmd, opt) for cmd, p in _leaves(cli.build_parser()) for opt, _ in _options(p)}


def test_the_table_covers_every_option_of_every_subcommand() -> None:
    have = _parser_options()
    assert have - set(BAD) == set(), "options without bad values in BAD"
    assert set(BAD) - have == set(), "BAD lists options the parser does not have"


def _argv(cmd: str, opt: str, bad: str, tmp: Path) -> list[str]:
    value = bad.replace("{tmp}", str(tmp))
    words = cmd.split()
    if not opt.startswith("-"):
        return [*words, value]
    if bad.startswith("="):  # a flag given a value
        return [*words, opt + bad]
    return [*words, f"{opt}={value}"]


CASES = [
    pytest.param(cmd, opt, bad, id=f"{cmd}:{opt}={bad}")
    for (cmd, opt), values in BAD.items()
    for bad in values
]


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value the parser wrongly accepts fails at once instead of running the command."""
    build = cli.build_parser

    def guarded() -> argparse.ArgumentParser:
        parser = build()

        def ran(args: argparse.Namespace) -> int:
            raise AssertionError(f"a bad value was accepted: {args}")

        for _, leaf in _leaves(parser):
            leaf.set_defaults(func=ran)
        return parser

    monkeypatch.setattr(cli, "build_parser", guarded)


@pytest.mark.parametrize(("cmd", "opt", "bad"), CASES)
def test_bad_value_is_a_usage_error(
    cmd: str, opt: str, bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    no_work: None,
) -> None:
    (tmp_path / "a-file").write_text("not a directory\n")
    with pytest.raises(SystemExit) as info:
        cli.main(_argv(cmd, opt, bad, tmp_path))
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("usage: pq3proto")
    assert lines[-1].startswith(f"pq3proto {cmd}: error: ")
    if opt.startswith("-") and not bad.startswith("="):
        assert opt in lines[-1]


def test_every_default_is_in_the_help() -> None:
    missing = []
    for cmd, parser in _leaves(cli.build_parser()):
        for opt, action in _options(parser):
            if action.help in (None, argparse.SUPPRESS) or not action.option_strings:
                continue
            if "default" not in action.help:
                missing.append(f"{cmd} {opt}")
    assert missing == []


@pytest.mark.parametrize("cmd", ["", "vectors"])
def test_a_missing_subcommand_names_the_choices(
    cmd: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(cmd.split())
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "required" in err
    assert "vectors_command" not in err and "required: command" not in err


def test_every_subcommand_has_a_description() -> None:
    for cmd, parser in _leaves(cli.build_parser()):
        assert parser.description, cmd
    top = cli.build_parser().description or ""
    assert "other layers" not in top and "pq3proto demo" in top
