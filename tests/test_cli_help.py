"""Every command of the dispatch table answers ``--help`` with its options; cli.py stays small."""

from __future__ import annotations

from pathlib import Path

import pytest

import mneme.cli
from mneme.cli import COMMANDS, main

# an option (or subcommand) each command's --help must show
SHOWS = {
    "train": ["--task NAME", "--train.epochs", "--out", "--data-dir"],
    "eval": ["RUN_DIR", "--split", "--json", "--decode"],
    "bench": ["--suite", "--jobs", "--report-only"],
    "plot": ["RUN_DIR", "--examples"],
    "ask": ["RUN_DIR", "--plot"],
    "generate": ["RUN_DIR", "--prompt", "--top-k", "--stop-at-eos"],
    "translate": ["RUN_DIR", "SENTENCE", "--beam-width", "Tatoeba"],
    "data": ["babi", "--from"],
    "hopfield": ["capacity", "recall"],
    "diagnose": ["gradients"],
}
SUBCOMMANDS = {
    ("hopfield", "capacity"): ["--loads", "--trials", "--no-progress"],
    ("hopfield", "recall"): ["--patterns", "--columns"],
    ("diagnose", "gradients"): ["--seq-len", "--runs"],
}


def help_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main([*argv, "--help"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out


def test_every_command_is_covered() -> None:
    assert set(SHOWS) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(SHOWS))
def test_command_help_exits_0_with_its_options(capsys, command: str) -> None:
    out = help_of(capsys, [command])
    assert f"mneme {command}" in out
    for needle in SHOWS[command]:
        assert needle in out, f"mneme {command} --help does not show {needle}"


@pytest.mark.parametrize(("command", "sub"), sorted(SUBCOMMANDS))
def test_subcommand_help_exits_0_with_its_options(capsys, command: str, sub: str) -> None:
    out = help_of(capsys, [command, sub])
    for needle in SUBCOMMANDS[command, sub]:
        assert needle in out


def test_train_help_of_a_pair_shows_its_config_fields(capsys) -> None:
    out = help_of(capsys, ["train", "--task", "copy", "--model", "lstm"])
    assert "--task.max-length" in out
    assert "--model.hidden-size" in out and "--train.lr" in out


def test_main_help_and_unknown_command(capsys) -> None:
    assert main(["--help"]) == 0
    usage = capsys.readouterr().out
    assert all(f"  {name} " in usage for name in COMMANDS)
    assert main(["frobnicate", "--help"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_cli_module_stays_small() -> None:
    lines = Path(mneme.cli.__file__).read_text().count("\n")
    assert lines < 400, f"cli.py has {lines} lines; move command code to mneme.commands"


@pytest.mark.parametrize("command", sorted(SHOWS))
def test_help_shows_no_rest_markup(capsys, command: str) -> None:
    out = help_of(capsys, [command])
    assert "``" not in out


def test_train_help_of_a_pair_shows_no_rest_markup(capsys) -> None:
    out = help_of(capsys, ["train", "--task", "copy", "--model", "ntm"])
    assert "``" not in out and "'bits_len{L}'" in out


def test_train_help_without_a_task_lists_the_names_in_short_lines(capsys) -> None:
    out = help_of(capsys, ["train"])
    assert "cores (run on every sequence task): " in out and "ntm" in out and "copy" in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_train_without_a_task_is_one_short_line(capsys) -> None:
    assert main(["train", "--model", "lstm"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and len(err) < 200 and "--task NAME" in err
