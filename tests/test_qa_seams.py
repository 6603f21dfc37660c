"""Defects found at the seams of issues 12, 15 and 16, each pinned by a test."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pathway import ActionNotRecommended, PatientError, PatientRecord, snapshot
from tests.helpers import new_chart, record


def test_a_refused_action_changes_nothing_not_even_the_day() -> None:
    chart = new_chart()
    before = snapshot(chart)
    with pytest.raises(ActionNotRecommended):
        chart.take("switch_to_tacrolimus", day=40)
    assert chart.patient.day == 0
    assert snapshot(chart) == before
    # The clock was not moved, so an event at an earlier day than the refusal still works.
    chart.take("start_prednisolone", day=10)
    assert chart.patient.day == 10


@pytest.mark.parametrize(
    ("field", "value", "found"),
    [
        ("day", math.nan, "day must be a finite number"),
        ("day", math.inf, "day must be a finite number"),
        ("day", "3", "day must be a number"),
        ("treatment_start_day", math.nan, "treatment_start_day must be a finite number"),
        ("age", "45", "age must be a number"),
        ("weight_kg", math.nan, "weight_kg must be a finite number"),
        ("patient_id", 7, "patient_id must be a string"),
    ],
)
def test_a_record_with_a_non_finite_or_mistyped_number_is_refused(
    field: str, value: Any, found: str
) -> None:
    with pytest.raises(PatientError, match=found):
        record(**{field: value})


def test_a_record_with_finite_days_and_numpy_like_numbers_is_accepted() -> None:
    from fractions import Fraction

    rec = PatientRecord("p", age=Fraction(91, 2), sex="F", weight_kg=70, day=12, cbr_since_day=3.5)
    assert rec.day == 12


def test_restore_keeps_every_record_field_the_pathway_sets() -> None:
    """Issue 12's record fields (optimisation, INV-15 anchor, withdrawal duration) survive."""
    from dataclasses import fields

    from pathway import restore
    from pathway.snapshot import record_to_dict

    chart = new_chart()
    chart.take("start_prednisolone", day=0)
    chart.fire("thiopurine_due", day=14)
    chart.take("add_azathioprine", day=14)
    p = chart.patient
    assert p.antimetabolite_change_day == 14  # azathioprine added: blood counts (INV-15)
    p.optimised_day, p.failure_confirmed, p.remission_biopsy_day = 14.0, True, 10.0
    restored = restore(snapshot(chart)).patient
    assert record_to_dict(restored) == record_to_dict(p)
    # Every public field of a record is written by a snapshot, so none can be dropped.
    public = {f.name for f in fields(p) if f.name != "state" and not f.name.startswith("_")}
    assert set(record_to_dict(p)) == public


def test_a_model_bug_ends_in_one_line_naming_patient_and_seed_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SimulationError is an internal error (exit 1), not bad input (2) nor a traceback."""
    from simulation.cli.main import main

    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("no such state")

    monkeypatch.setattr("simulation.run.cohort.run_patient", broken)
    out = tmp_path / "out"
    status = main(
        [
            *("simulate", "--patients", "2", "--years", "1", "--seed", "5"),
            *("--workers", "1", "--out", str(out)),
        ]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1
    assert err.startswith("carechart: internal error: patient P00001 (index 0, seed 5")
    assert "KeyError" in err
    assert not out.exists()


def test_advancing_an_undecided_patient_at_diagnosis_says_no_visit_is_scheduled() -> None:
    """The trainer explains the jump: follow-up without treatment is the observation state."""
    from simulation.train.cases import load_library
    from simulation.train.sessions import Session

    session = Session(load_library()["intolerance"], "standard")
    assert session.chart.care_state == "diagnosis"
    decision = session.advance()
    messages = [n.message for n in decision.notes if n.rule_id == "AIH-TRI-04"]
    assert len(messages) == 1
    assert "no visit is scheduled" in messages[0]
    assert "'Observe without treatment' schedules ALT and IgG every 91 days" in messages[0]
    # Once observation is chosen, visits are scheduled and advancing says nothing of the kind.
    observed = Session(load_library()["pregnancy-wish"], "standard")
    observed.take("observe_untreated")
    after = observed.advance()
    assert not [n for n in after.notes if "no visit is scheduled" in n.message]
    assert observed.chart.care_state == "observation"


def _deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_train_report_reads_debriefs_with_the_hardened_loader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deep nesting, a named pipe and a device are one line, exit 2: no traceback, no hang."""
    import os

    from simulation.cli.main import main

    deep = tmp_path / "deep.json"
    deep.write_text(_deep_json(100_000))
    assert main(["train-report", str(deep)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "nested deeper than 32 levels" in err

    folder = tmp_path / "debriefs"
    folder.mkdir()
    os.mkfifo(folder / "stuck.json")  # would block a plain read for ever
    assert main(["train-report", str(folder)]) == 2
    assert "stuck.json" in capsys.readouterr().err

    assert main(["train-report", "/dev/zero"]) == 2
    assert "/dev/zero: found a character device, expected a file" in capsys.readouterr().err


def test_a_saved_session_too_deep_to_parse_is_a_session_error(tmp_path: Path) -> None:
    from simulation.train.sessions import SessionError, SessionStore

    store = SessionStore(tmp_path)
    path = store.path("0123456789abcdef")
    path.write_text(_deep_json(100_000))
    with pytest.raises(SessionError, match="nested deeper than 32 levels"):
        store.load("0123456789abcdef")


def test_a_case_file_is_read_with_the_hardened_loader(tmp_path: Path) -> None:
    """An alias bomb or a named pipe as a case file: one CaseError naming the file."""
    import os

    from simulation.train.cases import CaseError, load_case

    bomb = tmp_path / "bomb.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(CaseError, match=r"bomb\.yaml"):
        load_case(bomb)
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    with pytest.raises(CaseError, match="found a named pipe"):
        load_case(pipe)


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--policies", "guideline,prednisolone_all", "--out", ""],
        ["sweep", "--vary", "relapse.withdrawal_1y=0.3:0.5", "--out", ""],
        ["coverage", "--json", ""],
        ["train-report", "--html", "", "x.json"],
    ],
)
def test_an_empty_output_name_is_refused_not_silently_ignored(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out "$UNSET"`` used to run everything and write nothing, with exit 0."""
    from simulation.cli.main import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.endswith(": found an empty name, expected a file or folder name\n")
    assert err.count("\n") == 1


def test_every_pathway_action_has_a_trainer_label() -> None:
    """Issue 12's optimise_treatment had none: advancing past it crashed the trainer."""
    from pathway.guidelines.aih.vocabulary import ACTIONS
    from simulation.train.sessions import ACTION_LABELS

    assert set(ACTION_LABELS) == set(ACTIONS)
