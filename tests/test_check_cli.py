"""``carechart check`` prints findings for people or JSON, and its exit status says which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulation.cli.main import main
from simulation.verify.coverage import collect_cohort


def test_static_check_json_lists_declared_and_open_findings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Declared findings carry their reason; the exit status is 1 exactly when some
    finding is open."""
    status = main(["check", "--static-only", "--json"])
    data = json.loads(capsys.readouterr().out)
    declared = [f for f in data["findings"] if f["declared"]]
    assert any(f["code"] == "trap-state" and f["subject"] == "observation" for f in declared)
    assert all(f["declared"].endswith(")") for f in declared)  # reason (RULE-ID)
    # The shipped chart declares every finding its check reports, so the check passes.
    assert (status, data["open"]) == (0, 0)
    assert len(declared) == len(data["findings"])
    assert "search" not in data


def test_text_report_and_bad_declarations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no declarations every finding is open (exit 1); a broken file is exit 2."""
    empty = tmp_path / "none.yaml"
    empty.write_text("declared: []\n")
    assert main(["check", "--static-only", "--declared", str(empty)]) == 1
    out = capsys.readouterr().out
    assert "trap-state: observation" in out
    assert "FINDINGS:" in out
    broken = tmp_path / "broken.yaml"
    broken.write_text("declared:\n  - {code: gap}\n")
    assert main(["check", "--static-only", "--declared", str(broken)]) == 2


def test_cohort_coverage_counts_simulated_patients() -> None:
    """A small simulated cohort is counted like scenarios: every patient starts at diagnosis."""
    report = collect_cohort(3, seed=11)
    assert report.courses == 3
    assert report.states["diagnosis"] == 3
    assert report.failed == []


def test_unusable_paths_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A declarations file that is not text names its byte; --out on a file says so."""
    binary = tmp_path / "d.yaml"
    binary.write_bytes(b"\x89PNG")
    assert main(["check", "--static-only", "--declared", str(binary)]) == 2
    assert f"{binary}:1:1: found byte 0x89 at offset 0" in capsys.readouterr().err
    assert main(["check", "--static-only", "--out", str(binary)]) == 2
    assert f"--out {binary}: found a file, expected a folder" in capsys.readouterr().err
