"""What a new user meets first: the make targets, default output folders, README claims."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _make_dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_make_test_fast_lints_and_tests_without_the_native_build() -> None:
    """``make test-fast`` is the quick path: ruff, mypy and pytest on the pure install."""
    commands = _make_dry_run("test-fast")
    for tool in ("ruff check", "ruff format --check", "mypy", "pytest"):
        assert tool in commands
    assert "native" not in commands
    assert "mypyc" not in commands.lower()
    assert "CARECHART_NATIVE" not in commands


def test_ci_keeps_running_the_full_make_test() -> None:
    """CI still runs ``make test``, whose recipe builds and checks the native variant.

    Read from the Makefile, not ``make -n test``: make runs recipe lines that call
    ``$(MAKE)`` even in a dry run, and this one runs the whole suite.
    """
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    recipe = re.search(r"^test: .*?(?=^\S)", (ROOT / "Makefile").read_text(), re.M | re.S)
    assert recipe is not None
    assert "native" in recipe.group(0)


def test_readme_names_each_make_target_and_how_the_demo_was_timed() -> None:
    """Every ``make X`` of the README exists, and the demo's time says how it was measured."""
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"\bmake ([a-z][a-z-]*)", readme))
    assert {"demo", "test", "test-fast"} <= targets
    for target in targets:
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), target
    assert "time .venv/bin/carechart demo" in readme


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("simulation.cli.generate", "generated"),
        ("simulation.cli.demo", "carechart-demo"),
        ("simulation.cli.simulate", "carechart-output"),
    ],
)
def test_default_output_folders_are_git_ignored(module: str, name: str) -> None:
    """Running a command with its default ``--out`` leaves ``git status`` clean."""
    import argparse
    import importlib

    parser = argparse.ArgumentParser()
    importlib.import_module(module).add_command(parser.add_subparsers())
    defaults = {
        a.default
        for sub in parser._subparsers._group_actions[0].choices.values()  # type: ignore[union-attr]
        for a in sub._actions
        if "--out" in a.option_strings
    }
    assert name in defaults
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "check-ignore", "-q", f"{name}/some-output.yaml"], cwd=ROOT, check=False
    )
    assert done.returncode == 0, f"{name}/ is not git-ignored"
