"""Output folders: never over a folder carechart did not write, published whole or not at all."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from simulation.cli.main import main
from simulation.run import output_folder
from simulation.run.output_folder import MARKER, StagedFolder, remove_stale

from .support import dead_pid, file_mode, one_error_line, simulate

_OUTPUTS = ["events.csv", "patients.csv", "report.html", "summary.json"]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_foreign_folder_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder carechart did not write keeps every file: one line, exit 2, nothing staged."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "patients.csv").write_text("my own data\n")
    (out / "events.csv.gz").write_bytes(b"precious")
    (out / "report.html").mkdir()  # a folder where the report would go
    assert simulate(out) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"--out {out}: found a folder carechart did not write (3 entries" in line
    assert "--force" in line
    assert (out / "patients.csv").read_text() == "my own data\n"
    assert (out / "events.csv.gz").read_bytes() == b"precious"
    assert _names(tmp_path) == ["mine"]  # no staging folder left


def test_force_replaces_the_whole_folder(tmp_path: Path) -> None:
    """--force replaces a foreign folder as a whole: none of its files stay beside the run."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.json").write_text('{"seed": "another run"}\n')
    (out / "report.html").mkdir()
    (out / "notes.txt").write_text("x")
    assert simulate(out, "--force") == 0
    assert _names(out) == [MARKER, *_OUTPUTS]
    assert json.loads((out / "summary.json").read_text())["seed"] == 3
    marker = json.loads((out / MARKER).read_text())
    assert marker["written_by"] == "carechart simulate"


def test_rerun_replaces_an_earlier_run_without_mixing(tmp_path: Path) -> None:
    """A folder from an earlier run is replaced whole: the earlier run's compressed events
    and any other file it held are gone, so no file of two runs sits side by side."""
    out = tmp_path / "run"
    assert simulate(out, "--compress") == 0
    (out / "extra.csv").write_text("left by hand\n")
    assert simulate(out) == 0
    assert _names(out) == [MARKER, *_OUTPUTS]


def test_empty_folder_and_missing_folder_are_written(tmp_path: Path) -> None:
    """An empty folder (made for the run) and a missing one (with parents) are fine."""
    (tmp_path / "empty").mkdir()
    assert simulate(tmp_path / "empty") == 0
    assert simulate(tmp_path / "a" / "b") == 0
    assert _names(tmp_path / "a" / "b") == [MARKER, *_OUTPUTS]


def test_force_never_replaces_the_current_or_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--force on the current folder (or one above it) is refused, and it is left intact."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.tex").write_text("years of work")
    monkeypatch.chdir(work)
    assert simulate(Path("."), "--force") == 2
    assert "which carechart never replaces, even with --force" in one_error_line(
        capsys.readouterr().err
    )
    assert simulate(tmp_path, "--force") == 2
    assert (work / "thesis.tex").read_text() == "years of work"


def test_failed_report_exits_non_zero_and_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report that cannot be written (a full disk) fails the run: one line, exit 2, and
    the earlier run's files stay together, not the new CSVs beside the old report."""
    out = tmp_path / "run"
    assert simulate(out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def disk_full(folder: Path, calibration: Path | None = None) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "report.html"))

    monkeypatch.setattr("simulation.results.report.write_report", disk_full)
    capsys.readouterr()
    assert simulate(out, "--seed", "4") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "report.html not written" in line
    assert "No space left on device" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _names(tmp_path) == ["run"]


def test_bad_calibration_in_the_folder_fails_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken calibration.json kept in --out is reported before the run (exit 2), not a
    warning after it with the old report left beside new CSVs."""
    out = tmp_path / "run"
    assert simulate(out) == 0
    (out / "calibration.json").write_text("{broken")
    before = (out / "summary.json").read_bytes()
    capsys.readouterr()
    assert simulate(out, "--seed", "4") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "calibration.json:1:2: not valid JSON" in line
    assert (out / "summary.json").read_bytes() == before


def test_symlink_loop_and_dangling_link_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out as a loop of links, or a link to nothing, is refused before the run."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert simulate(loop) == 2
    assert "found a loop of symbolic links" in one_error_line(capsys.readouterr().err)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "elsewhere" / "gone")
    assert simulate(dangling) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"found a symbolic link to {tmp_path / 'elsewhere' / 'gone'}, which does not exist" in (
        line
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "loop"]


def test_link_to_a_folder_stays_a_link(tmp_path: Path) -> None:
    """--out as a link to a run folder replaces the folder it points to, not the link."""
    real = tmp_path / "real"
    link = tmp_path / "link"
    assert simulate(real) == 0
    link.symlink_to(real)
    assert simulate(link, "--seed", "4") == 0
    assert link.is_symlink()
    assert json.loads((real / "summary.json").read_text())["seed"] == 4


def test_swap_without_renameat2_keeps_old_or_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where folders cannot be swapped in one step, the two-rename fallback still publishes
    the new run whole and leaves no hidden folder behind."""
    monkeypatch.setattr(output_folder, "_exchange", lambda a, b: False)
    out = tmp_path / "run"
    assert simulate(out) == 0
    assert simulate(out, "--seed", "4") == 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 4
    assert _names(tmp_path) == ["run"]


def test_interrupted_swap_is_undone_by_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run killed between the two renames of the fallback left the old folder hidden and
    none published: the next run puts the old one back before it starts."""
    pid = dead_pid()
    hidden = tmp_path / f".run.old-{pid}-abc123"
    hidden.mkdir()
    (hidden / MARKER).write_text("{}\n")
    (hidden / "summary.json").write_text("old\n")
    staging = tmp_path / f".run.tmp-{pid}-def456"
    staging.mkdir()
    (staging / "events.csv").write_text("half")
    assert set(remove_stale(tmp_path, "run")) == {hidden, staging}
    assert (tmp_path / "run" / "summary.json").read_text() == "old\n"
    assert _names(tmp_path) == ["run"]
    assert f"restored {tmp_path / 'run'}" in capsys.readouterr().err


def test_staging_of_a_live_process_is_left_alone(tmp_path: Path) -> None:
    """Only the staging folders of processes that have ended are removed."""
    mine = tmp_path / f".run.tmp-{os.getpid()}-xyz"
    mine.mkdir()
    with StagedFolder(tmp_path / "run", command="test") as folder:
        folder.write_text("a.txt", "a")
        folder.publish()
    assert mine.is_dir()


def test_other_writers_make_files_with_the_usual_mode(tmp_path: Path) -> None:
    """junit.xml (replay) and sweep.json are 0644 under the usual umask, like the CSV
    files, not private 0600 files."""
    junit = tmp_path / "junit.xml"
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "acute-liver-failure.yaml"
    assert main(["replay", str(scenario), "--junit", str(junit)]) == 0
    assert junit.stat().st_mode & 0o777 == file_mode()
    sweep = tmp_path / "sweep.json"
    args = ["--vary", "relapse.withdrawal_1y=0.3:0.6", "--draws", "2", "--patients", "3"]
    assert main(["sweep", *args, "--years", "1", "--workers", "1", "--out", str(sweep)]) == 0
    assert sweep.stat().st_mode & 0o777 == file_mode()


def test_generate_and_check_refuse_a_foreign_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command that writes a folder follows the same rule."""
    out = tmp_path / "scenarios"
    out.mkdir()
    (out / "my-story.yaml").write_text("name: mine\n")
    assert main(["check", "--static-only", "--out", str(out)]) == 2
    assert "carechart did not write" in one_error_line(capsys.readouterr().err)
    assert main(["generate", str(out), "--out", str(out), "--budget", "1"]) == 2
    assert "carechart did not write" in capsys.readouterr().err
    assert (out / "my-story.yaml").read_text() == "name: mine\n"


def test_file_options_refuse_a_symlink_loop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output file named by a loop of links is one line before any work, too."""
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    assert main(["calibrate", "--out", str(loop), "--list"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"--out {loop}: found a loop of symbolic links, expected a file name" in line
