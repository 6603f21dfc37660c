"""Crashes: a killed or hung-up command leaves no worker running and nothing half-written."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.run.output_folder import temporary_folder

from .support import dead_pid, simulate

#: A run long enough to be stopped in the middle (it is killed within seconds).
_LONG = ["--patients=50000", "--years=10", "--workers=2"]


@contextlib.contextmanager
def _running(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """``carechart ARGS`` in its own process group; the whole group is killed on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulation.cli.main", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the workers can be found after
        env=env,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):  # never leave a 50,000-patient run
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_for(pattern: str, folder: Path, seconds: float = 60) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.05)
    pytest.fail(f"{pattern} never appeared in {folder}")


def _group_ends(pgid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_kill_9_leaves_no_worker_and_the_next_run_cleans_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After kill -9 of simulate its workers end too (they blocked for ever), and the next
    run into the same place removes the staging folder it left."""
    out = tmp_path / "out"
    with _running(["simulate", *_LONG, f"--out={out}"]) as proc:
        staging = _wait_for(".out.tmp-*/events.csv", tmp_path).parent
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _group_ends(proc.pid), "a worker outlived the killed command"
    assert staging.is_dir()  # nothing can clean up after kill -9 ...
    assert simulate(out) == 0  # ... but the next run does
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert f"removed {staging}, left by an interrupted run (pid {proc.pid})" in (
        capsys.readouterr().err
    )


def test_sighup_cleans_up_like_sigterm(tmp_path: Path) -> None:
    """A closed terminal (SIGHUP) stops the run cleanly: exit 129, no staging folder, no
    partial output, no worker left."""
    with _running(["simulate", *_LONG, f"--out={tmp_path / 'out'}"]) as proc:
        _wait_for(".out.tmp-*/events.csv", tmp_path)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode, err) == (129, "carechart: hung up\n")
        assert list(tmp_path.iterdir()) == []
        assert _group_ends(proc.pid), "a worker outlived the command"


def test_calibrate_removes_its_temporary_folder_on_sigterm(tmp_path: Path) -> None:
    """calibrate's temporary run folder is removed when the command is stopped."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    with _running(["calibrate", "--patients=20000", "--workers=1"], env=env) as proc:
        _wait_for("carechart-calibration-*", tmp)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        assert list(tmp.iterdir()) == []


def test_stale_temporary_folder_of_a_dead_run_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A temporary folder left by a killed calibrate goes with the next one; a live
    process's is kept."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / f"carechart-calibration-{dead_pid()}-abc"
    stale.mkdir()
    live = tmp_path / f"carechart-calibration-{os.getppid()}-def"
    live.mkdir()
    with temporary_folder("carechart-calibration") as folder:
        assert folder.is_dir()
        assert not stale.exists()
    assert not folder.exists()
    assert live.is_dir()
