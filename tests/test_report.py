"""Report: Kaplan-Meier estimator, output reading, care courses, and the HTML page itself."""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path

import pytest

import simulation.results.report as report_module
from simulation.results.cohort_outputs import (
    EventRow,
    OutputFormatError,
    PatientRow,
    load_outputs,
)
from simulation.results.endpoints import (
    recurrence_after_transplant,
    relapse_after_withdrawal,
    time_to_cbr,
    transplant_free_survival,
)
from simulation.results.report import REPORT_FILE, write_report
from simulation.results.survival import kaplan_meier
from simulation.results.trajectories import CENSORED, care_courses, flows, occupancy

from .synthetic_outputs import EVENT_HEADER, PATIENT_HEADER, write_synthetic_outputs

Z = 1.959963984540054


def loglog(s: float, greenwood: float) -> tuple[float, float]:
    """Reference log-log interval, written out from the textbook formula."""
    se = math.sqrt(greenwood) / abs(math.log(s))
    c = math.log(-math.log(s))
    return math.exp(-math.exp(c + Z * se)), math.exp(-math.exp(c - Z * se))


class TestKaplanMeier:
    def test_censoring_and_tied_censoring(self) -> None:
        """Hand-computed: censored patients stay at risk on the day they are censored."""
        curve = kaplan_meier([1, 2, 2, 3, 4, 4, 5], [True, True, False, True, True, False, False])
        assert curve.times == (1, 2, 3, 4)
        assert curve.at_risk == (7, 6, 4, 3)
        assert curve.events == (1, 1, 1, 1)
        expected = [6 / 7, 6 / 7 * 5 / 6, 6 / 7 * 5 / 6 * 3 / 4, 6 / 7 * 5 / 6 * 3 / 4 * 2 / 3]
        assert curve.survival == pytest.approx(expected)
        assert curve.n_events == 4
        assert curve.n == 7

    def test_tied_events(self) -> None:
        """Two events on one day count together: S drops by d/n, not twice in sequence."""
        curve = kaplan_meier([2, 2, 2, 5], [True, True, False, True])
        assert curve.times == (2, 5)
        assert curve.survival == pytest.approx([0.5, 0.0])
        assert curve.at_risk == (4, 1)
        assert curve.events == (2, 1)

    def test_step_function_is_right_continuous(self) -> None:
        """S(t) changes exactly on event days and holds in between."""
        curve = kaplan_meier([2, 2, 2, 5], [True, True, False, True])
        assert curve.survival_at(0) == 1.0
        assert curve.survival_at(1.999) == 1.0
        assert curve.survival_at(2) == pytest.approx(0.5)
        assert curve.survival_at(4.9) == pytest.approx(0.5)
        assert curve.survival_at(5) == 0.0
        assert curve.cumulative_incidence_at(3) == pytest.approx(0.5)

    def test_median_and_at_risk(self) -> None:
        """Median = first day S <= 0.5; at risk = durations >= day."""
        curve = kaplan_meier([1, 2, 2, 3, 4, 4, 5], [True, True, False, True, True, False, False])
        assert curve.median() == 4
        assert curve.at_risk_at(0) == 7
        assert curve.at_risk_at(2) == 6
        assert curve.at_risk_at(4.5) == 1
        assert curve.at_risk_at(6) == 0

    def test_greenwood_loglog_interval(self) -> None:
        """The 95% band is Greenwood's variance on the log(-log S) scale."""
        curve = kaplan_meier([1, 2, 2, 3, 4, 4, 5], [True, True, False, True, True, False, False])
        g1 = 1 / (7 * 6)
        g2 = g1 + 1 / (6 * 5)
        assert curve.interval_at(1) == pytest.approx(loglog(6 / 7, g1))
        assert curve.interval_at(2.5) == pytest.approx(loglog(5 / 7, g2))
        assert curve.interval_at(0.5) == (1.0, 1.0)
        for lo, s, hi in zip(curve.lower, curve.survival, curve.upper, strict=True):
            assert 0 <= lo <= s <= hi <= 1

    def test_no_events(self) -> None:
        """All censored: the curve stays at 1 and has no median."""
        curve = kaplan_meier([3, 1, 2], [False, False, False])
        assert curve.times == ()
        assert curve.survival_at(10) == 1.0
        assert curve.median() is None
        assert curve.steps() == ([0.0, 3.0], [1.0, 1.0])

    def test_everyone_has_the_event(self) -> None:
        """The last event takes S to 0 and the band closes there."""
        curve = kaplan_meier([1, 2], [True, True])
        assert curve.survival == pytest.approx([0.5, 0.0])
        assert curve.interval_at(2) == (0.0, 0.0)

    def test_input_order_does_not_matter(self) -> None:
        """Shuffled input gives the same estimate."""
        a = kaplan_meier([5, 1, 4, 2, 3, 2, 4], [False, True, True, False, True, True, False])
        b = kaplan_meier([1, 2, 2, 3, 4, 4, 5], [True, True, False, True, True, False, False])
        assert a == b

    @pytest.mark.parametrize(
        ("durations", "observed", "message"),
        [
            ([1, 2], [True], "differ in length"),
            ([1, -1], [True, True], "duration #1 must be finite and >= 0"),
            ([1, math.nan], [True, True], "duration #1"),
            ([math.inf], [True], "duration #0"),
        ],
    )
    def test_bad_input(self, durations: list[float], observed: list[bool], message: str) -> None:
        """Invalid durations are refused with the index of the bad value."""
        with pytest.raises(ValueError, match=message):
            kaplan_meier(durations, observed)


def patient(pid: str, **days: float | None) -> PatientRow:
    fields: dict[str, float | None] = {
        "first_cbr_day": None,
        "second_line_day": None,
        "withdrawal_day": None,
        "relapse_day": None,
        "transplant_day": None,
        "death_day": None,
    }
    followup = days.pop("followup_days", 3650.0)
    fields.update(days)
    return PatientRow(
        patient_id=pid,
        age=40,
        sex="F",
        weight_kg=70,
        cirrhosis_at_diagnosis="none",
        presentation="chronic",
        tpmt="normal",
        first_line="prednisolone+azathioprine",
        first_cbr_day=fields["first_cbr_day"],
        second_line_day=fields["second_line_day"],
        withdrawal_day=fields["withdrawal_day"],
        relapse_day=fields["relapse_day"],
        transplant_day=fields["transplant_day"],
        death_day=fields["death_day"],
        death_cause="liver" if fields["death_day"] is not None else "",
        followup_days=float(followup if followup is not None else 3650.0),
    )


def move(pid: str, day: float, source: str, target: str, name: str = "x") -> EventRow:
    return EventRow(pid, day, "transition", name, "", source, target, ())


class TestEndpoints:
    def test_time_to_cbr_censors_at_followup(self) -> None:
        """No response: censored at followup_days; response: event on its day."""
        tte = time_to_cbr(
            [patient("a", first_cbr_day=182), patient("b", followup_days=400, death_day=400)]
        )
        assert tte.durations == (182, 400)
        assert tte.observed == (True, False)

    def test_transplant_free_survival_takes_the_first(self) -> None:
        """Transplant then death: the event is the transplant."""
        tte = transplant_free_survival(
            [patient("a", transplant_day=300, death_day=900, followup_days=900), patient("b")]
        )
        assert tte.durations == (300, 3650)
        assert tte.observed == (True, False)

    def test_relapse_after_withdrawal_counts_from_withdrawal(self) -> None:
        """Time starts at withdrawal; an earlier relapse does not count."""
        ps = [
            patient("a", withdrawal_day=1000, relapse_day=200),
            patient("b", withdrawal_day=1000),
            patient("c"),
        ]
        events = {
            "a": [
                move("a", 200, "maintenance", "relapse"),
                move("a", 1300, "off_treatment", "relapse"),
            ],
            "b": [],
        }
        tte = relapse_after_withdrawal(ps, events)
        assert tte.patient_ids == ("a", "b")
        assert tte.durations == (300, 2650)
        assert tte.observed == (True, False)

    def test_recurrence_after_transplant(self) -> None:
        """Recurrence is the first entry into recurrent_aih after the transplant day."""
        ps = [patient("a", transplant_day=100), patient("b", transplant_day=50, followup_days=80)]
        events = {"a": [move("a", 1925, "graft_stable", "recurrent_aih")]}
        tte = recurrence_after_transplant(ps, events)
        assert tte.durations == (1825, 30)
        assert tte.observed == (True, False)


class TestCareCourses:
    def test_compound_ids_map_to_care_states(self) -> None:
        """first_line/steroid_lead_in -> induction, graft_stable -> post_transplant, alive ->."""
        ps = [patient("a", death_day=500, followup_days=500)]
        ev = [
            move("a", 0, "diagnosis", "induction"),
            move("a", 0, "no_steroid", "steroid_induction"),  # other region: ignored
            move("a", 14, "steroid_lead_in", "combination"),  # inside induction: no move
            move("a", 28, "induction", "response_assessment"),
            move("a", 182, "first_line", "second_line"),
            move("a", 300, "second_line", "transplant"),
            move("a", 330, "transplant", "post_transplant"),
            move("a", 400, "care_line", "care_line"),  # targetless stay
            move("a", 500, "alive", "death"),
        ]
        (course,) = care_courses(ps, ev)
        assert course.states == (
            "diagnosis",
            "induction",
            "response_assessment",
            "second_line",
            "transplant",
            "post_transplant",
            "death",
        )
        assert course.days == (0, 0, 28, 182, 300, 330, 500)
        assert course.state_at(0) == "induction"
        assert course.state_at(100) == "response_assessment"
        assert course.state_at(600) == "death"

    def test_death_from_patients_csv_when_events_lack_it(self) -> None:
        """A death_day without a death transition still ends the course in death."""
        (course,) = care_courses([patient("a", death_day=90, followup_days=90)], [])
        assert course.states == ("diagnosis", "death")

    def test_occupancy_sums_to_cohort_and_censors(self) -> None:
        """Every patient is counted once per day; alive beyond follow-up = censored."""
        ps = [patient("a", followup_days=100), patient("b", death_day=50, followup_days=50)]
        counts = occupancy(
            care_courses(ps, [move("a", 10, "diagnosis", "induction")]), [0, 20, 60, 150]
        )
        assert counts["diagnosis"] == [2, 1, 0, 0]
        assert counts["induction"] == [0, 1, 1, 0]
        assert counts["death"] == [0, 0, 1, 1]
        assert counts[CENSORED] == [0, 0, 0, 1]
        for j in range(4):
            assert sum(c[j] for c in counts.values()) == 2

    def test_flows_count_transitions_and_patients(self) -> None:
        """A loop taken twice by one patient is two transitions, one patient."""
        ev = [
            move("a", 0, "diagnosis", "induction"),
            move("a", 28, "induction", "response_assessment"),
            move("a", 182, "response_assessment", "maintenance"),
            move("a", 400, "maintenance", "relapse"),
            move("a", 500, "relapse", "maintenance"),
            move("a", 800, "maintenance", "relapse"),
            move("a", 900, "relapse", "maintenance"),
        ]
        moves = {
            (f.source, f.target): (f.transitions, f.patients)
            for f in flows(care_courses([patient("a")], ev))
        }
        assert moves[("maintenance", "relapse")] == (2, 1)
        assert moves[("diagnosis", "induction")] == (1, 1)


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


class TestWriteReport:
    @pytest.fixture
    def out_dir(self, tmp_path: Path) -> Path:
        return write_synthetic_outputs(tmp_path / "run", n=60, seed=3)

    def test_writes_a_self_contained_page(self, out_dir: Path) -> None:
        """One HTML file: disclaimer, every section, images inline, nothing fetched."""
        path = write_report(out_dir)
        assert path == out_dir / REPORT_FILE
        text = path.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>")
        assert text.rstrip().endswith("</html>")
        assert "not be used to diagnose, treat or make decisions about any patient" in text
        for title in (
            "Baseline characteristics",
            "Time to complete biochemical response",
            "Relapse after withdrawal",
            "Transplant-free survival",
            "Survival by cirrhosis at diagnosis",
            "Where patients are over time",
            "Pathway and patient flows",
            "Calibration",
        ):
            assert title in text
        assert not EXTERNAL.search(text)
        assert "<script" not in text.lower()
        assert "<link" not in text.lower()
        assert "url(" not in text.lower()
        images = re.findall(r'<img [^>]*src="([^"]+)"', text)
        assert len(images) >= 6
        assert all(src.startswith("data:image/png;base64,") for src in images)
        assert sorted(p.name for p in out_dir.iterdir()) == [
            "events.csv",
            "patients.csv",
            "report.html",
            "summary.json",
        ]

    def test_missing_input_leaves_no_report(self, out_dir: Path) -> None:
        """A missing events.csv is a clear error and no report.html (or temp file) appears."""
        (out_dir / "events.csv").unlink()
        with pytest.raises(FileNotFoundError, match=r"events\.csv: missing"):
            write_report(out_dir)
        assert sorted(p.name for p in out_dir.iterdir()) == ["patients.csv", "summary.json"]

    def test_bad_column_is_named(self, out_dir: Path) -> None:
        """A contract break names the file, the line and the bad value."""
        rows = list(csv.reader((out_dir / "patients.csv").open()))
        rows[2][1] = "forty"
        with (out_dir / "patients.csv").open("w", newline="") as f:
            csv.writer(f).writerows(rows)
        with pytest.raises(
            OutputFormatError, match=r"patients\.csv, line 3: 'age' is not a number"
        ):
            write_report(out_dir)
        assert not (out_dir / REPORT_FILE).exists()

    def test_missing_column(self, tmp_path: Path) -> None:
        """A patients.csv without a required column is refused before any work."""
        (tmp_path / "patients.csv").write_text("patient_id,age\nP1,40\n")
        (tmp_path / "events.csv").write_text(",".join(EVENT_HEADER) + "\n")
        (tmp_path / "summary.json").write_text("{}")
        with pytest.raises(OutputFormatError, match="missing columns"):
            load_outputs(tmp_path)

    def test_failure_while_drawing_keeps_the_old_report(
        self, out_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error half-way leaves the previous report untouched and no temp file."""
        (out_dir / REPORT_FILE).write_text("previous report")

        def boom(*args: object, **kwargs: object) -> bytes:
            raise RuntimeError("drawing failed")

        monkeypatch.setattr(report_module.figures, "occupancy_figure", boom)
        with pytest.raises(RuntimeError, match="drawing failed"):
            write_report(out_dir)
        assert (out_dir / REPORT_FILE).read_text() == "previous report"
        assert not [p for p in out_dir.iterdir() if p.name.endswith(".tmp")]

    def test_failure_while_writing_leaves_no_file(
        self, out_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the final rename fails, neither report.html nor the temp file remains."""

        def fail(src: str, dst: str) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(os, "replace", fail)
        with pytest.raises(OSError, match="disk full"):
            write_report(out_dir)
        assert sorted(p.name for p in out_dir.iterdir()) == [
            "events.csv",
            "patients.csv",
            "summary.json",
        ]

    def test_invariant_violations_are_flagged(self, out_dir: Path) -> None:
        """A run with violations says so at the top of the cohort section."""
        summary = json.loads((out_dir / "summary.json").read_text())
        summary["invariant_violations"] = 3
        (out_dir / "summary.json").write_text(json.dumps(summary))
        text = write_report(out_dir).read_text()
        assert "3 safety invariant violation(s)" in text

    def test_escapes_text_from_the_files(self, out_dir: Path) -> None:
        """Values from the CSV files cannot inject markup."""
        rows = list(csv.reader((out_dir / "patients.csv").open()))
        col = PATIENT_HEADER.index("first_line")
        rows[1][col] = "<script>alert(1)</script>"
        with (out_dir / "patients.csv").open("w", newline="") as f:
            csv.writer(f).writerows(rows)
        text = write_report(out_dir).read_text()
        assert "<script>" not in text
        assert "&lt;script&gt;" in text.lower() or "&lt;Script&gt;" in text

    def test_no_patients(self, tmp_path: Path) -> None:
        """An empty cohort is an error, not an empty page."""
        (tmp_path / "patients.csv").write_text(",".join(PATIENT_HEADER) + "\n")
        (tmp_path / "events.csv").write_text(",".join(EVENT_HEADER) + "\n")
        (tmp_path / "summary.json").write_text("{}")
        with pytest.raises(ValueError, match="no patients"):
            write_report(tmp_path)
        assert not (tmp_path / REPORT_FILE).exists()
