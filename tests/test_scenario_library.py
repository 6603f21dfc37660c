"""Coverage of the scenario library: care states, recommendation rules, hard invariants.

The library in scenarios/ must, together, visit every care state of the vocabulary, exercise
every recommendation rule (a rule counts when it is among the rule ids of an action step, or
of a recommendation a ``recommends:`` check asserted), and confirm every hard invariant
(declared in ``violates:`` and recorded by replay).

Seven hard invariants cannot be broken by any clinician action, so no scenario can show them
being caught. For each, a focused test below breaks it directly on the record of a chart in
the right state and checks that the chart's own monitor reports it as hard, and shows why no
action can reach that state:

- INV-03, INV-04, INV-06 (dose caps): every dose comes from the dose rules, which apply the
  caps before the invariant sees the dose.
- INV-13 (acute severe decision by day 7): the acute review timer always fires on day 7.
- INV-17 (budesonide after cirrhosis): the cirrhosis and decompensation findings replace
  budesonide by predniso(lo)ne before the chart sees them.
- INV-18 (response judged too early): the week-4 and month-6 timers fire at 28 and 182 days.
- INV-19 (graft hepatitis is recurrent AIH): the chart moves to recurrent AIH on the same labs.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pathway import RULES, AIHPathway, Thresholds
from pathway.guidelines.aih.dosing import azathioprine_dose, budesonide_dose, prednisolone_dose
from pathway.guidelines.aih.invariants import INVARIANTS, InvariantMonitor, Violation
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.vocabulary import CARE_STATES
from simulation.scenarios.replay import ReplayResult

from .helpers import NORMAL_LABS, course, new_chart, record
from .scenario_support import LIBRARY, replayed

TH = Thresholds()
RECOMMENDATION_RULES = sorted(r.id for r in RULES.values() if r.kind == "recommendation")
HARD_INVARIANTS = sorted(
    r.id for r in RULES.values() if r.kind == "invariant" and r.strength == "hard"
)


def _check(chart: AIHPathway, step_name: str | None = None) -> list[Violation]:
    """Run the invariant monitor on the chart's record, state and last step (renamed).

    A fresh monitor, so that the chart's own record of violations stays untouched.
    """
    step = chart.trace[-1]
    if step_name is not None:
        step = replace(step, name=step_name)
    return InvariantMonitor(INVARIANTS, RULES).check(
        chart.patient, chart.thresholds, chart.active, step, True
    )


def _broken(violations: list[Violation]) -> list[tuple[str, bool]]:
    return [(v.rule_id, v.hard) for v in violations]


# --- unit tests for the invariants no action can break -----------------------------------


def test_inv03_budesonide_cap() -> None:
    """INV-03: budesonide above 9 mg/day is reported; the dose rule only ever gives 9 or 6."""
    chart = new_chart()
    chart.take("start_budesonide", day=0)
    assert _check(chart) == []
    assert budesonide_dose(TH) == 9.0
    chart.patient.drugs["budesonide"] = 12.0
    assert _broken(_check(chart)) == [("INV-03", True)]


def test_inv04_prednisolone_cap() -> None:
    """INV-04: predniso(lo)ne above 1 mg/kg or 60 mg is reported; the dose rule never is."""
    for weight in (30, 45, 70, 120, 300):
        for acute in (False, True):
            for scheme in ("weight_based", "aasld_fixed"):
                opts = GuidelineOptions(steroid_scheme=scheme)
                dose = prednisolone_dose(record(weight_kg=weight), TH, opts, acute=acute)
                assert dose <= min(60.0, weight), (weight, acute, scheme, dose)
    chart = new_chart(weight_kg=70)
    chart.take("start_prednisolone", day=0)
    assert _check(chart) == []
    chart.patient.drugs["prednisolone"] = 75.0
    assert _broken(_check(chart)) == [("INV-04", True)]


def test_inv06_azathioprine_cap() -> None:
    """INV-06: azathioprine above 2 mg/kg is reported; the dose rule stays within it."""
    for weight in (30, 40, 62, 90, 300):
        for tpmt in ("normal", "intermediate"):
            for maintenance in (False, True):
                p = record(weight_kg=weight, tpmt=tpmt)
                dose = azathioprine_dose(p, TH, maintenance=maintenance)
                assert dose <= 2 * weight, (weight, tpmt, maintenance, dose)
    chart = new_chart(weight_kg=70)
    chart.take("start_prednisolone", day=0)
    chart.take("add_azathioprine", day=14)
    assert _check(chart) == []
    chart.patient.drugs["azathioprine"] = 200.0
    assert _broken(_check(chart)) == [("INV-06", True)]


def test_inv13_acute_severe_decision_by_day_7() -> None:
    """INV-13: 8 days in acute severe AIH without review is reported; the review is due day 7."""
    chart = new_chart(presentation="acute_severe")
    chart.take("start_prednisolone", day=0)
    assert chart.in_state("acute_severe")
    first = chart.pending_timers()[0]
    assert (first.timer_id, first.due_day) == ("acute_review", 7.0)
    chart.patient.day = 8.0
    assert _broken(_check(chart)) == [("INV-13", True)]


def test_inv17_budesonide_replaced_when_cirrhosis_found() -> None:
    """INV-17: budesonide kept at a cirrhosis finding is reported; the finding replaces it."""
    chart = new_chart()
    chart.take("start_budesonide", day=0)
    assert _broken(_check(chart, "cirrhosis_diagnosed")) == [("INV-17", True)]
    chart.observe("cirrhosis_diagnosed", "compensated", day=30)
    assert not chart.patient.on("budesonide")
    assert chart.patient.on("prednisolone")
    assert [v.rule_id for v in chart.violations] == []


def test_inv18_response_judged_no_earlier_than_its_time_point() -> None:
    """INV-18: non-response judged at day 10 is reported; the week-4 check is due at day 28."""
    chart = new_chart()
    chart.take("start_prednisolone", day=0)
    due = {t.timer_id: t.due_day for t in chart.pending_timers()}
    assert (due["week4_check"], due["month6_assessment"]) == (28.0, 182.0)
    chart.patient.day = 10.0
    chart.patient.set_response("non_response")
    assert _broken(_check(chart, "week4_check")) == [("INV-18", True)]


def test_inv19_graft_hepatitis_is_recurrent_aih() -> None:
    """INV-19: graft hepatitis left unclassified is reported; the chart classifies it."""
    chart = new_chart(presentation="acute_liver_failure")
    chart.take("refer_transplant", day=0)
    chart.observe("transplanted", day=3)
    chart.observe("labs", NORMAL_LABS, day=100)
    chart.patient.add_labs(replace(chart.patient.labs[-1], day=200, alt_xuln=5.0))
    chart.patient.day = 200.0
    assert not chart.in_state("recurrent_aih")
    assert _broken(_check(chart, "labs")) == [("INV-19", True)]
    chart.observe("labs", {"alt_xuln": 5.0}, day=201)
    assert chart.in_state("recurrent_aih")


def test_inv15_blood_counts_follow_an_azathioprine_dose_rise() -> None:
    """INV-15: the steroid stop raises azathioprine to 2 mg/kg, so blood counts are due every
    2 weeks; with that early schedule spent, the 3-monthly visits alone are reported."""
    chart = course(
        [(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}), (180, "labs", NORMAL_LABS)],
        horizon_days=640,
    )
    assert chart.patient.antimetabolite_change_day == 637.0  # the steroid stop's dose rise
    assert _broken(_check(chart)) == []
    chart.patient.timers_fired["blood_count_early"] = 99
    assert _broken(_check(chart)) == [("INV-15", True)]


UNIT_TESTED = {
    "INV-03": test_inv03_budesonide_cap,
    "INV-04": test_inv04_prednisolone_cap,
    "INV-06": test_inv06_azathioprine_cap,
    "INV-13": test_inv13_acute_severe_decision_by_day_7,
    "INV-15": test_inv15_blood_counts_follow_an_azathioprine_dose_rise,
    "INV-17": test_inv17_budesonide_replaced_when_cirrhosis_found,
    "INV-18": test_inv18_response_judged_no_earlier_than_its_time_point,
    "INV-19": test_inv19_graft_hepatitis_is_recurrent_aih,
}
"""Hard invariants shown by a unit test above instead of a scenario."""


# --- coverage of the library ---------------------------------------------------------------


@pytest.fixture(scope="module")
def library() -> list[ReplayResult]:
    """Every library scenario, replayed (cached for the session)."""
    results = [replayed(path) for path in LIBRARY]
    assert all(r.passed for r in results), [r.scenario.path for r in results if not r.passed]
    return results


def test_every_care_state_is_visited(library: list[ReplayResult]) -> None:
    """Together the scenarios visit every care state of the vocabulary."""
    seen = set().union(*(r.states_visited for r in library))
    missing = [s for s in CARE_STATES if s not in seen]
    assert missing == [], f"care states no scenario visits: {missing}"


def test_every_recommendation_rule_is_exercised(library: list[ReplayResult]) -> None:
    """Together the scenarios exercise every recommendation rule of the catalogue."""
    seen = set().union(*(r.rules_exercised for r in library))
    missing = [r for r in RECOMMENDATION_RULES if r not in seen]
    assert missing == [], f"recommendation rules no scenario exercises: {missing}"


def test_every_hard_invariant_is_confirmed(library: list[ReplayResult]) -> None:
    """Each hard invariant is confirmed by a scenario's `violates` or by a unit test here."""
    confirmed = set().union(*(r.violations_confirmed for r in library))
    both = sorted(confirmed & set(UNIT_TESTED))
    assert both == [], f"shown by a scenario now; drop the unit-test exemption: {both}"
    missing = [r for r in HARD_INVARIANTS if r not in confirmed | set(UNIT_TESTED)]
    assert missing == [], f"hard invariants neither caught by a scenario nor unit-tested: {missing}"


def test_declared_violations_are_catalogued_invariants(library: list[ReplayResult]) -> None:
    """Scenarios only declare invariant ids of the catalogue, and every declaration is confirmed."""
    for r in library:
        declared = set(r.scenario.violates)
        assert declared <= {k for k, v in RULES.items() if v.kind == "invariant"}
        assert declared == r.violations_confirmed
