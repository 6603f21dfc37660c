"""``carechart simulate`` and ``carechart compare``: options, outputs, atomic writes."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pathway import AIHPathway
from simulation.cli.main import main
from simulation.results.outputs import (
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    PatientResult,
    collect_patient,
)
from simulation.run import cohort as cohort_module
from simulation.run.cohort import Attributes

from .helpers import course

# The column lists as shared/spec/cohort-and-outputs.md writes them.
_SPEC_PATIENTS = (
    "patient_id, age, sex, weight_kg, cirrhosis_at_diagnosis, presentation, tpmt, first_line, "
    "first_cbr_day, second_line_day, withdrawal_day, relapse_day, transplant_day, death_day, "
    "death_cause, followup_days"
)
_SPEC_EVENTS = "patient_id, day, kind, name, detail, source, target, rule_ids"
SPEC_PATIENT_COLUMNS = [c.strip() for c in _SPEC_PATIENTS.split(",")]
SPEC_EVENT_COLUMNS = [c.strip() for c in _SPEC_EVENTS.split(",")]


def _simulate(out: Path, *extra: str) -> int:
    return main(
        ["simulate", "--patients", "8", "--years", "3", "--seed", "11", "--out", str(out), *extra]
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "out"
    assert _simulate(out, "--workers", "1") == 0
    return out


def test_outputs_follow_the_contract(run: Path) -> None:
    """patients.csv and events.csv have the spec's columns; kinds and rule ids are valid."""
    assert tuple(SPEC_PATIENT_COLUMNS) == PATIENT_COLUMNS
    assert tuple(SPEC_EVENT_COLUMNS) == EVENT_COLUMNS
    with (run / "patients.csv").open() as f:
        patients = list(csv.DictReader(f))
    assert list(patients[0])[: len(PATIENT_COLUMNS)] == SPEC_PATIENT_COLUMNS
    assert len(patients) == 8
    for p in patients:
        assert float(p["followup_days"]) == pytest.approx(3 * 365.25) or p["death_day"]
        assert (p["death_cause"] == "") == (p["death_day"] == "")
    with (run / "events.csv").open() as f:
        events = list(csv.DictReader(f))
    assert list(events[0]) == SPEC_EVENT_COLUMNS
    assert {e["kind"] for e in events} <= {"finding", "action", "transition", "deviation"}
    transitions = [e for e in events if e["kind"] == "transition"]
    assert transitions
    assert all(e["source"] != e["target"] and e["rule_ids"] for e in transitions)
    ids = [e["patient_id"] for e in events]
    assert ids == sorted(ids)  # patient order
    for pid in set(ids):
        days = [float(e["day"]) for e in events if e["patient_id"] == pid]
        assert days == sorted(days)  # time order per patient


def _row(chart: AIHPathway, horizon: float, death_cause: str | None = None) -> PatientResult:
    """The outputs of a scripted course, as ``carechart simulate`` would write them."""
    p = chart.patient
    attrs = Attributes(p.patient_id, p.age, p.sex, p.weight_kg, "none", "chronic", p.tpmt)
    return collect_patient(attrs, chart, SimpleNamespace(death_cause=death_cause), horizon)  # type: ignore[arg-type]


def _days(result: PatientResult) -> dict[str, object]:
    """The row's filled day columns and the regimen, death cause and final state."""
    keep = ("first_line", "death_cause", "followup_days", "final_care_state")
    return {
        k: v for k, v in result.row.items() if (k.endswith("_day") and v is not None) or k in keep
    }


def test_patient_row_of_a_withdrawal_and_relapse_course() -> None:
    """The day columns of patients.csv are the days the course reached each milestone:
    CBR at month 6, withdrawal at 24 months of CBR and 3 years of treatment, a relapse off
    treatment."""
    normal = {"alt_xuln": 0.3, "ast_xuln": 0.3, "igg_xuln": 0.5}
    chart = course(
        [
            (28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}),
            (180, "labs", normal),
            (1400, "labs", {"alt_xuln": 4.5}),
            (1580, "labs", normal),
        ],
        horizon_days=2500,
    )
    assert _days(_row(chart, 2500)) == {
        "first_line": "prednisolone+azathioprine",
        "azathioprine_start_day": 14.0,
        "first_cbr_day": 182.0,
        "withdrawal_day": 1183.0,
        "relapse_day": 1400.0,
        "relapse_after_withdrawal_day": 1400.0,
        "death_cause": "",
        "followup_days": 2500,
        "final_care_state": "maintenance",
    }
    # A relapse in maintenance, on treatment, is not a relapse after withdrawal.
    on_treatment = course(
        [
            (28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}),
            (180, "labs", normal),
            (300, "labs", {"alt_xuln": 5.0}),
        ],
        horizon_days=301,
    )
    row = _row(on_treatment, 301).row
    assert (row["relapse_day"], row["relapse_after_withdrawal_day"]) == (300.0, None)


def test_patient_row_of_a_course_to_transplant_and_death() -> None:
    """Second line, referral, transplant, recurrence and death each get their day; follow-up
    ends at death."""
    chart = course(
        [
            (28, "labs", {"alt_xuln": 6.0, "ast_xuln": 5.0}),
            (70, "labs", {"meld": 16}),
            (300, "transplanted", True),
            (500, "labs", {"alt_xuln": 4.0}),
            (700, "death", True),
        ],
        horizon_days=1000,
    )
    assert _days(_row(chart, 1000, death_cause="liver")) == {
        "first_line": "prednisolone+azathioprine",
        "azathioprine_start_day": 14.0,
        "second_line_day": 56.0,  # non-response confirmed 4 weeks after optimisation
        "referral_day": 70.0,
        "transplant_day": 300.0,
        "recurrence_day": 500.0,
        "death_day": 700.0,
        "death_cause": "liver",
        "followup_days": 700.0,
        "final_care_state": "death",
    }


def test_first_line_is_the_regimen_of_first_line_treatment() -> None:
    """Azathioprine added only in maintenance (TPMT known late) is not part of the first line;
    cirrhosis known at diagnosis has no cirrhosis_day, cirrhosis found later has one."""
    chart = course(
        [
            (28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}),
            (180, "labs", {"alt_xuln": 0.4, "ast_xuln": 0.5, "igg_xuln": 0.6}),
            (200, "tpmt", "normal"),
            (400, "cirrhosis_diagnosed", "compensated"),
        ],
        horizon_days=401,
        tpmt="unknown",
    )
    assert chart.patient.on("azathioprine")
    result = _row(chart, 401)
    assert result.row["first_line"] == "prednisolone"
    assert result.row["cirrhosis_day"] == 400.0
    at_diagnosis = course([], horizon_days=30, cirrhosis="compensated")
    assert _row(at_diagnosis, 30).row["cirrhosis_day"] is None


def test_deviations_are_written_with_their_breaches() -> None:
    """A scripted action against the guideline is an events.csv line of kind ``deviation``
    whose detail lists the breaches; patients.csv counts it."""
    chart = course(
        [
            (28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}),
            (180, "labs", {"alt_xuln": 0.3, "ast_xuln": 0.3, "igg_xuln": 0.5}),
            (300, "action", "attempt_withdrawal"),
        ],
        horizon_days=301,
    )
    result = _row(chart, 301)
    lines = [line for line in result.events_csv.splitlines() if ",deviation," in line]
    assert lines == [
        "t1,300,deviation,attempt_withdrawal,"
        '"INV-10: 118 days of CBR (< 730); '
        "AIH-WDR-04: 300 days of treatment in total (< 1095); "
        "AIH-WDR-01: not on monotherapy (['azathioprine', 'prednisolone'])\",,,"
        "INV-10;AIH-WDR-04;AIH-WDR-01;INV-11"
    ]
    assert result.row["deviations"] == 1
    assert result.kinds["deviation"] == 1


def test_summary(run: Path) -> None:
    """summary.json holds the seed, the version, counts, zero violations and outcomes."""
    summary = json.loads((run / "summary.json").read_text())
    assert summary["seed"] == 11
    assert summary["policy"] == "guideline"
    assert summary["version"]
    assert summary["invariant_violations"] == 0
    assert summary["counts"]["patients"] == 8
    assert "relapse.withdrawal_1y" in summary["parameters"]
    assert "cbr_by_6_months" in summary["outcomes"]


def test_workers_do_not_change_the_bytes(run: Path, tmp_path: Path) -> None:
    """Two workers write byte-identical patients.csv and events.csv."""
    out = tmp_path / "two"
    assert _simulate(out, "--workers", "2") == 0
    for name in ("patients.csv", "events.csv", "summary.json"):
        assert (out / name).read_bytes() == (run / name).read_bytes(), name


def test_terminal_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command prints a short summary with the policy, counts and timing."""
    assert _simulate(tmp_path / "o", "--set", "cohort.presentation.acute_severe=1") == 0
    out = capsys.readouterr().out
    assert "carechart simulate: 8 patients x 3 years, policy guideline, seed 11" in out
    assert "invariant violations: 0" in out
    assert "patients/s" in out


def test_failed_run_leaves_the_folder_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run that fails writes nothing: old outputs stay, no staging folder is left."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "patients.csv").write_text("old\n")
    (out / ".carechart").write_text("{}\n")  # an earlier run's folder: replaceable

    def boom(*args: object, **kwargs: object) -> None:
        raise cohort_module.SimulationError("patient P00001 failed")

    monkeypatch.setattr("simulation.cli.simulate.run_cohort", boom)
    assert _simulate(out) == 1
    assert "carechart: internal error: patient P00001 failed" in capsys.readouterr().err
    assert (out / "patients.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "cohort.presentaton.acute_severe=1"], "did you mean"),
        (["--policy", "nope"], "--policy: found 'nope'"),
        (["--workers", "0"], "--workers"),
        (["--cohort", "/nonexistent.yaml"], "No such file"),
        # Out of range for the model: once in one line, not a traceback from each worker.
        (
            ["--set", "relapse.withdrawal_1y=5"],
            "relapse.withdrawal_1y': found 5.0, expected 0 to 1",
        ),
        # A zero visit interval would fire its timer for ever.
        (["--set", "thresholds.maintenance_visit_days=0"], "expected a number of days >= 1"),
        (
            ["--set", "thresholds.uln=-1"],
            "thresholds.uln: found -1.0, expected a finite number > 0",
        ),
        # The 12-month reassessment before the 6-month call would judge a response early.
        (
            ["--set", "thresholds.cbr_final_assessment_days=100"],
            "thresholds.cbr_final_assessment_days: found 100.0, expected "
            "cbr_final_assessment_days (100) >= cbr_assessment_days (182)",
        ),
        (["--patients", "0"], "--patients: found 0, expected a whole number >= 1"),
        (["--years", "nan"], "--years: found nan, expected a number of years > 0"),
        (["--seed", "-1"], "--seed: found -1, expected a whole number >= 0"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Bad input is one error line on stderr and exit status 2, naming its option, what was
    found and what was expected; with 2 workers too (no traceback from each worker)."""
    assert _simulate(tmp_path / "o", "--workers", "2", *args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_compare_prints_differences(capsys: pytest.CaptureFixture[str]) -> None:
    """compare runs the same patients under each policy and prints differences."""
    code = main(
        ["compare", "--policies", "guideline,mmf_first_line", "--patients", "6", "--years", "1"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "vs guideline" in out
    assert "complete response by 6 months" in out
    assert "  mmf_first_line " in out


def test_compare_needs_two_known_policies(capsys: pytest.CaptureFixture[str]) -> None:
    """compare rejects unknown names and a single policy."""
    assert main(["compare", "--policies", "guideline"]) == 2
    assert main(["compare", "--policies", "guideline,nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_out_under_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out below a regular file names the file in the way, not an errno."""
    (tmp_path / "f").write_text("x")
    assert _simulate(tmp_path / "f" / "sub") == 2
    err = capsys.readouterr().err
    assert f"found a file at {tmp_path / 'f'}, expected a folder" in err
    assert "Errno" not in err


@pytest.mark.parametrize(
    "content", [b"\xff\xfe garbage", b"", b'{"kind": "carechart-calibration"}']
)
def test_bad_calibration_file_fails_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    """A --calibration file that is not a calibration result is an error (exit 2, no
    outputs), not a warning after the run and a report left out."""
    bad = tmp_path / "cal.json"
    bad.write_bytes(content)
    assert _simulate(tmp_path / "o", "--calibration", str(bad)) == 2
    err = capsys.readouterr().err
    assert f"--calibration: {bad}" in err
    assert not (tmp_path / "o").exists()


def test_cohort_file_that_is_not_text_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A binary --cohort file names the file and the byte; a folder says so."""
    binary = tmp_path / "c.yaml"
    binary.write_bytes(b"patients: 1\n\xff")
    assert _simulate(tmp_path / "o", "--cohort", str(binary)) == 2
    assert f"{binary}:2:1: found byte 0xff at offset 12, expected a UTF-8 text file" in (
        capsys.readouterr().err
    )
    assert _simulate(tmp_path / "o", "--cohort", str(tmp_path)) == 2
    assert f"{tmp_path}: found a folder, expected a file" in capsys.readouterr().err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_leaves_no_staging_folder_and_no_output(tmp_path: Path, workers: str) -> None:
    """A run stopped by SIGTERM (a batch system, `timeout`) cleans up and says so: no
    staging folder, no partial output, no worker process left running."""
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulation.cli.main",
            "simulate",
            "--patients=50000",
            "--years=10",
            f"--workers={workers}",
            f"--out={out}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the workers can be found after
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.tmp-*/events.csv")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob(".out.tmp-*")), "the run never started writing"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert (proc.returncode, err) == (143, "carechart: terminated\n")
        assert list(tmp_path.iterdir()) == []  # neither the staging folder nor a partial out/
        deadline = time.monotonic() + 10
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _group_alive(proc.pid), "a worker process outlived the command"
    finally:
        with contextlib.suppress(ProcessLookupError):  # never leave a 50,000-patient run
            os.killpg(proc.pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
