"""The command line: the demo runs, bad input is one line and exit 2."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.cli.main import build_parser, main


def test_demo_prints_courses_with_rule_ids(capsys: pytest.CaptureFixture[str]) -> None:
    """``carechart demo --courses-only`` walks every built-in patient with the rules."""
    assert main(["demo", "--courses-only"]) == 0
    out = capsys.readouterr().out
    assert "not for treating patients" in out
    assert "AIH-IND-01, AIH-DOSE-PRED" in out
    assert "acute_liver_failure -> transplant" in out
    assert out.rstrip().endswith("6 courses, 0 invariant violations")


def test_demo_simulates_the_default_cohort_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``carechart demo`` shows two courses, then simulates the cohort into --out."""
    out = tmp_path / "demo"
    assert main(["demo", "--patients", "30", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "2 courses, 0 invariant violations" in text
    assert "invariant violations: 0" in text
    names = sorted(p.name for p in out.iterdir())
    assert names == [".carechart", "events.csv", "patients.csv", "report.html", "summary.json"]
    # Progress goes to stderr, the results to stdout; the folder says demo wrote it.
    assert "simulating the default cohort (30 patients)" in captured.err
    assert "simulating" not in text.lower().replace("carechart simulate", "")
    assert json.loads((out / ".carechart").read_text())["written_by"] == "carechart demo"


def test_unknown_command_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong command names the choices, without a traceback."""
    assert main(["demonstrate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("carechart: error: ")
    assert "invalid choice: 'demonstrate'" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a command, carechart shows its help and exits 2."""
    assert main([]) == 2
    assert "usage: carechart" in capsys.readouterr().out


def _commands() -> list[str]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


def test_every_registered_command_has_help_checked() -> None:
    """The parametrized help test below covers the commands users know by name."""
    assert {"demo", "simulate", "compare", "calibrate", "sweep", "replay", "check"} <= set(
        _commands()
    )


@pytest.mark.parametrize("command", _commands())
def test_command_help_reads_as_written(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``carechart CMD --help`` exits 0 and shows a percent sign as one (no printf escapes)."""
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: carechart {command}")
    assert "%%" not in text


def test_os_errors_name_the_file_not_the_errno(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing input file reads ``FILE: No such file or directory``, without ``[Errno]``."""
    missing = tmp_path / "nope.yaml"
    assert main(["calibrate", "--list", "--targets", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"carechart: error: {missing}: No such file or directory\n"


@pytest.mark.parametrize("fmt", ["mermaid", "page"])  # less and more than stdout's buffer
def test_output_piped_into_a_reader_that_stops_ends_quietly(fmt: str) -> None:
    """`carechart diagram | head -1`: no "Broken pipe" error, the shell's SIGPIPE status."""
    code = (
        "import sys\n"
        "from simulation.cli.main import main\n"
        "sys.stdin.read(1)\n"  # wait until the reader has gone
        f"sys.exit(main(['diagram', '--format', '{fmt}']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    proc.stdin.write(b"x")
    proc.stdin.close()
    err = proc.stderr.read().decode()
    assert (proc.wait(timeout=60), err) == (141, "")


def test_sigterm_waits_while_workers_are_being_started() -> None:
    """Inside ``stopping.deferred()`` a SIGTERM is held; it ends the command after it."""
    code = (
        "import os, signal\n"
        "from simulation.run import stopping\n"
        "stopping.install()\n"
        "with stopping.deferred():\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    print('held', flush=True)\n"
        "print('not reached', flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (143, "held\n", "carechart: terminated\n")
