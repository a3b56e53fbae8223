"""Every subcommand says what it is for and shows an example; every option says what it does.

A new subcommand that skips this fails here (see the note at the top of cli.py)."""

from __future__ import annotations

import argparse
import subprocess
import sys

from medassist.cli import build_parser


def _subcommands(p: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sp in a.choices.items():
                yield (*path, name), sp
                yield from _subcommands(sp, (*path, name))


def test_every_subcommand_has_a_purpose_an_example_and_described_options() -> None:
    seen = []
    for path, sp in _subcommands(build_parser()):
        seen.append(" ".join(path))
        assert sp.description and "\n\nexample:\n  " in sp.description and "medassist" in sp.description, path
        for a in sp._actions:
            if isinstance(a, argparse._SubParsersAction):
                continue
            assert a.help, f"medassist {' '.join(path)}: {a.option_strings or a.dest} has no help"
    assert {"replay", "run", "feed", "tail", "demo", "month-end", "bench replay", "bench stream"} <= set(seen)


def test_help_shows_defaults_and_bench_kinds_have_their_own_help() -> None:
    run = subprocess.run([sys.executable, "-m", "medassist.cli", "run", "-h"], capture_output=True, text=True)
    assert run.returncode == 0
    assert "(default: 2)" in run.stdout and "(default: 8)" in run.stdout
    bench = subprocess.run([sys.executable, "-m", "medassist.cli", "bench", "stream", "-h"],
                           capture_output=True, text=True)
    assert bench.returncode == 0
    assert "--rate" in bench.stdout and "(default: 500.0)" in bench.stdout
    assert "medassist bench stream" in bench.stdout
