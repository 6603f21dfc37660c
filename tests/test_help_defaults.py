"""Every option of every sub-command states its default in ``--help``."""

from __future__ import annotations

import argparse

import pytest

from simulation.cli.main import build_parser


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_option_shows_its_default(name: str) -> None:
    """A user reading ``carechart NAME --help`` learns what each option does when left out."""
    sub = _subcommands()[name]
    page = "".join(sub.format_help().split())  # no whitespace: lines wrap anywhere
    formatter = sub._get_formatter()
    missing = []
    for action in sub._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        shown = " ".join(formatter._expand_help(action).split())
        assert "".join(shown.split()) in page  # the text checked is the text printed
        if "default" not in shown and "required" not in shown:
            missing.append(action.option_strings[0])
    assert not missing, f"carechart {name} --help: no default shown for {missing}"


def test_workers_default_to_the_cpus_everywhere() -> None:
    """Every command with --workers uses all CPUs (at most 8) when it is left out."""
    subs = _subcommands()
    with_workers = {
        n: s for n, s in subs.items() if any("--workers" in a.option_strings for a in s._actions)
    }
    assert {"simulate", "compare", "sweep", "calibrate"} <= set(with_workers)
    for name, sub in with_workers.items():
        action = next(a for a in sub._actions if "--workers" in a.option_strings)
        assert action.default is None, f"carechart {name} --workers defaults to {action.default}"
        assert "CPUs" in (action.help or ""), name


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_a_required_option_shows_no_default(name: str) -> None:
    """``(required) (default: none)`` contradicts itself: a required option has no default."""
    page = " ".join(_subcommands()[name].format_help().split())
    assert "(required) (default" not in page
