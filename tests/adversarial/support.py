"""Helpers shared by the adversarial tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from simulation.cli.main import main

#: A cohort small enough that a run with its report takes about a second.
SMALL = ("--patients", "4", "--years", "1", "--seed", "3", "--workers", "1")


def simulate(out: Path, *extra: str) -> int:
    """Run ``carechart simulate`` in this process on a small cohort; return the status."""
    return main(["simulate", *SMALL, "--out", str(out), *extra])


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def file_mode() -> int:
    """The mode a new file gets under the current umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def one_error_line(err: str) -> str:
    """The single ``carechart: error:`` line of ``err`` (asserting there is just one)."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("carechart: error: "), err
    assert "Traceback" not in err
    return lines[0]
