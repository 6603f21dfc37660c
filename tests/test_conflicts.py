"""The gap and overlap search finds planted problems and writes replayable counterexamples."""

from __future__ import annotations

from typing import Any

import pytest

from pathway import AIHPathway, Thresholds
from simulation.scenarios.replay import replay_scenario
from simulation.scenarios.scenario import parse_scenario
from simulation.verify.conflicts import search_conflicts

from .mutants import mutant_chart

SMALL: dict[str, Any] = {
    "budget": 60,
    "examples": 15,
    "rounds": 1,
    "follow_days": 200.0,
    "triage": False,
}


@pytest.fixture(scope="module")
def shipped() -> Any:
    """A short search of the shipped pathway."""
    return search_conflicts(AIHPathway, **{**SMALL, "budget": 250})


def test_shipped_branches_do_not_rely_on_document_order(shipped: Any) -> None:
    """The guarded alternatives of one event from one state exclude each other."""
    overlaps = [s for code, s in shipped.counterexamples if code == "overlap"]
    assert overlaps == []


def test_document_order_overlap_is_found_with_a_replayable_counterexample() -> None:
    """Without the exclusion, acute severe AIH enables both start_prednisolone branches at
    diagnosis; the counterexample replays green and shows the branch document order picks."""
    chart = mutant_chart(
        (
            '_d.to(_ind, cond="may_start_prednisolone", unless="presents_acute_severe")',
            '_d.to(_ind, cond="may_start_prednisolone")',
        )
    )
    report = search_conflicts(chart, **{**SMALL, "budget": 250})
    ce = report.counterexamples[("overlap", "start_prednisolone@diagnosis")]
    assert ce.problem.details["targets"] == ["acute_severe", "induction"]
    scenario = parse_scenario(ce.scenario, file="overlap.yaml")
    result = replay_scenario(scenario)
    assert result.passed, result.failures
    assert scenario.expect[0].in_state == ("acute_severe",)


def test_shipped_pathway_has_no_gap_or_safety_problem_in_a_short_search(shipped: Any) -> None:
    """Every patient met had a recommendation, every event was handled, nothing broke."""
    codes = {code for code, _ in shipped.counterexamples}
    assert codes <= {"overlap"}
    assert shipped.decision_points


def test_a_removed_fallback_is_a_gap() -> None:
    """Without the 'otherwise stay' branch, a 6-month assessment without complete response
    has no transition: the search reports the gap with a minimal counterexample."""
    chart = mutant_chart(
        (
            '| _rule(\n        _ra.to(None), "AIH-RSP-03", "INV-18"\n    )',
            "",
        )
    )
    report = search_conflicts(chart, **SMALL)
    gaps = [s for code, s in report.counterexamples if code == "gap"]
    assert "month6_assessment@response_assessment" in gaps
    ce = report.counterexamples[("gap", "month6_assessment@response_assessment")]
    assert "stops with an error" in " ".join(ce.scenario.split())


def test_a_shifted_threshold_makes_a_timer_fire_where_nothing_handles_it() -> None:
    """With week 4 moved after month 6, the 6-month assessment fires during induction."""
    th = Thresholds(non_response_check_days=200.0)

    class Shifted(AIHPathway):
        def __init__(self, patient: Any, **kw: Any) -> None:
            kw.setdefault("thresholds", th)
            super().__init__(patient, **kw)

    report = search_conflicts(Shifted, thresholds=th, **SMALL)
    assert ("gap", "month6_assessment@induction") in report.counterexamples


def test_trap_state_story_replays_and_shows_the_patient_held() -> None:
    """A trap state gets a story: reached, a year of visits with normal labs, still there."""
    from simulation.verify.conflicts import trap_counterexample

    text = trap_counterexample(AIHPathway, "observation", budget=800)
    assert text is not None
    scenario = parse_scenario(text, file="trap.yaml")
    assert scenario.expect[-1].in_state == ("observation",)
    assert scenario.expect[-1].day - scenario.expect[0].day >= 300
    assert replay_scenario(scenario).passed


def test_response_classes_in_conflict_are_an_overlap(
    shipped: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the week-4 rule this search once caught (non-response judged on the fall alone),
    a mild patient treated anyway whose labs are exactly normal at week 4 is both a
    non-responder and a complete responder; the counterexample replays green. The shipped
    rule no longer has the conflict."""
    from pathway.guidelines.aih import response

    key = ("overlap", "non_response|complete_biochemical_response@response_assessment")
    assert key not in shipped.counterexamples

    def fall_only(baseline: Any, latest: Any, th: Any) -> bool:
        fall = response.transaminase_fall(baseline.alt_xuln, latest.alt_xuln)
        return fall is not None and fall < th.non_response_fall

    def week4_fall_only(baseline: Any, latest: Any, th: Any) -> str:
        return "non_response" if fall_only(baseline, latest, th) else "not_assessed"

    # The rule reads the fall in two places: the permission check and the week-4 class.
    monkeypatch.setattr(response, "is_non_response", fall_only)
    monkeypatch.setattr(response, "classify_week4", week4_fall_only)
    report = search_conflicts(AIHPathway, **{**SMALL, "budget": 250})
    assert key in report.counterexamples
    ce = report.counterexamples[key]
    assert ce.problem.details["labs"] == {"alt_xuln": 1.0, "ast_xuln": 1.0, "igg_xuln": 1.0}
    assert replay_scenario(parse_scenario(ce.scenario, file="conflict.yaml")).passed
    # The story's patient is judged a non-responder at week 4 (and so optimised, not
    # switched: AIH-RSP-05)...
    anchor = "    in_state: [response_assessment]\n"
    judged = ce.scenario.replace(anchor, anchor + "    response: non_response\n", 1)
    assert judged != ce.scenario
    assert replay_scenario(parse_scenario(judged, file="conflict.yaml")).passed
    monkeypatch.undo()
    # ... but not with the shipped rule.
    assert not replay_scenario(parse_scenario(judged, file="conflict.yaml")).passed
