"""Long commands (check, coverage --cohort, generate) show progress on stderr only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulation.cli.main import main
from simulation.run import progress as progress_module

ROOT = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"^carechart: \S.* \d[\d,]*/[\d,]+ \w+ \(\d+%\)")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    assert main(list(argv)) in (0, 1)
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ("check", "--static-only"),
        ("coverage", "--cohort", "4", "--seed", "3"),
        ("generate", str(ROOT / "scenarios"), "--budget", "60"),
    ],
    ids=["check", "coverage", "generate"],
)
def test_progress_goes_to_stderr_and_leaves_stdout_alone(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With --progress the work is reported on stderr, ending at 100%; stdout holds the
    same result as without it (nothing but the result, so it can be piped or saved)."""
    if argv[0] == "generate":
        argv = (*argv, "--out", str(tmp_path / "gen"))
    quiet_out, quiet_err = _run(capsys, *argv)
    assert not quiet_err  # captured stderr is no terminal: no progress unless asked
    out, err = _run(capsys, *argv, "--progress")
    lines = err.splitlines()
    assert lines, "no progress shown"
    assert all(_LINE.match(line) for line in lines), lines
    assert "(100%)" in lines[-1]
    assert not any(_LINE.match(line) for line in out.splitlines())

    def timeless(text: str) -> str:  # the search reports its own duration
        return re.sub(r"in \d+\.\d s", "in N s", text)

    assert timeless(out) == timeless(quiet_out)


def test_check_names_each_step(capsys: pytest.CaptureFixture[str]) -> None:
    _, err = _run(capsys, "check", "--static-only", "--progress")
    assert err.splitlines() == [
        "carechart: check: 0/2 steps (0%): static analysis",
        "carechart: check: 1/2 steps (50%): declarations",
        "carechart: check: 2/2 steps (100%): done",
    ]


def test_progress_is_on_by_default_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A person at a terminal sees progress without asking; a pipe or file does not."""
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: True)
    assert progress_module.progress_reporter(False, "searched", "moves") is not None
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: False)
    assert progress_module.progress_reporter(False, "searched", "moves") is None
    assert progress_module.progress_reporter(True, "searched", "moves") is not None
