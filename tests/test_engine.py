"""The SimPy engine: timers fire on their declared days, leaving a state cancels them."""

from __future__ import annotations

import pytest
import simpy

from pathway import AIHPathway
from simulation.model.policies import GuidelinePolicy
from simulation.model.scripted import ScriptedPatient, baseline_occurrences
from simulation.run.engine import patient_journey, run_patient

from .helpers import ACTIVE_LABS, course, record


def fired(chart: AIHPathway) -> list[tuple[float, str]]:
    return [(s.day, s.detail) for s in chart.trace if s.kind == "timer"]


def test_declared_time_points_fire_on_their_days() -> None:
    """Thiopurine at 14, week-4 at 28, steroid reviews every 14, month-6 at 182."""
    chart = course([(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5})], horizon_days=200)
    timers = fired(chart)
    assert (14.0, "thiopurine_due") in timers
    assert (28.0, "week4_check") in timers
    assert (182.0, "month6_assessment") in timers
    assert (14.0, "steroid_review_induction") in timers


def test_leaving_a_state_cancels_its_timers() -> None:
    """A switch to second line (non-response confirmed on day 56, 4 weeks after dose
    optimisation) cancels the first line's 6- and 12-month assessments and its monthly
    visits; second line is judged 6 months after the switch."""
    chart = course([(28, "labs", {"alt_xuln": 7.0, "ast_xuln": 6.0})], horizon_days=400)
    names = [name for _, name in fired(chart)]
    assert "month6_assessment" not in names
    assert "month12_assessment" not in names
    assert max(day for day, name in fired(chart) if name == "response_visit") == 56.0
    assert (238.0, "second_line_assessment") in fired(chart)


def test_same_day_findings_come_before_timers() -> None:
    """Labs resulted on day 28 are the ones the week-4 check judges."""
    chart = course([(28, "labs", {"alt_xuln": 7.0, "ast_xuln": 6.0})], horizon_days=29)
    idx_labs = next(s.index for s in chart.trace if s.day == 28 and s.name == "labs")
    idx_check = next(s.index for s in chart.trace if s.detail == "week4_check")
    assert idx_labs < idx_check
    assert chart.patient.response == "non_response"


def test_simpy_owns_the_clock() -> None:
    """The environment's time is the patient's day; nothing runs past the horizon."""
    rec = record()
    chart = AIHPathway(rec)
    env = simpy.Environment()
    model = ScriptedPatient(baseline_occurrences(rec, ACTIVE_LABS), [])
    env.process(patient_journey(env, chart, model, GuidelinePolicy(), horizon_days=100))
    env.run(until=30)
    assert env.now == 30
    assert chart.day == 28.0
    env.run()
    assert chart.day <= 100


def test_scripted_actions_are_deviations_when_not_recommended() -> None:
    """A scripted early withdrawal is carried out and flagged with INV-10."""
    chart = course(
        [
            (28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}),
            (180, "labs", {"alt_xuln": 0.3, "ast_xuln": 0.3, "igg_xuln": 0.5}),
            (300, "action", "attempt_withdrawal"),
        ],
        horizon_days=301,
    )
    step = next(s for s in chart.trace if s.name == "attempt_withdrawal")
    assert step.deviation
    assert "INV-10" in step.rule_ids
    assert chart.in_state("withdrawal")
    assert "INV-10" in {v.rule_id for v in chart.violations}


def test_horizon_must_be_positive() -> None:
    """A non-positive horizon is a clear error."""
    rec = record()
    with pytest.raises(ValueError, match="'horizon_days' must be > 0"):
        run_patient(AIHPathway(rec), ScriptedPatient([], []), horizon_days=0)


def test_death_ends_the_process() -> None:
    """Death stops the patient's process: nothing happens afterwards."""
    chart = course([(40, "death", True), (60, "labs", {"alt_xuln": 1.0})], horizon_days=400)
    assert chart.is_dead
    assert chart.trace[-1].name == "death"
    assert chart.day == 40


def test_occurrence_order_within_a_day_is_file_order() -> None:
    """Several findings on one day happen in the order given."""
    chart = course(
        [(10, "tpmt", "intermediate"), (10, "labs", {"alt_xuln": 5.0})],
        horizon_days=11,
        tpmt="unknown",
    )
    names = [s.name for s in chart.trace if s.day == 10 and s.kind == "finding"]
    assert names == ["tpmt", "labs"]
