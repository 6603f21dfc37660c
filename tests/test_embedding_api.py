"""The embedding API: advance_to, care_state, and the statechart's own entry points sealed."""

from __future__ import annotations

import ast
from collections.abc import Callable

import pytest

from pathway import AIHPathway, EntryPointRefused, PatientError, care_state
from pathway.compiled import CompiledPathway
from pathway.guidelines.aih.vocabulary import CARE_LINE
from tests.helpers import NORMAL_LABS, REPO, new_chart, record


def _recording(panel: dict[str, float]) -> tuple[list[float], Callable[[float], dict[str, float]]]:
    days: list[float] = []

    def labs_from(day: float) -> dict[str, float]:
        days.append(day)
        return dict(panel)

    return days, labs_from


def test_advance_to_fires_due_timers_in_order_with_the_visit_labs() -> None:
    chart = new_chart()
    chart.take("start_prednisolone", day=0)
    asked, labs_from = _recording(NORMAL_LABS)
    steps = chart.advance_to(30, labs_from=labs_from)
    timers = [(s.day, s.detail) for s in steps if s.kind == "timer"]
    assert timers == [
        (14.0, "thiopurine_due"),
        (14.0, "steroid_review_induction"),
        (28.0, "week4_check"),
        (28.0, "steroid_review_induction"),
    ]
    # Each visit with labs asked for its own day's panel before its timer fired.
    assert asked == [14.0, 28.0, 28.0]
    assert [s.name for s in steps][1:3] == ["labs", "steroid_review"]
    assert chart.day == 30
    assert all(t.due_day > 30 for t in chart.pending_timers())


def test_week4_verdict_reads_the_visit_panel_not_the_day0_labs() -> None:
    """Firing the timers by hand judges week 4 on the day-0 labs: a false non-response."""
    by_hand = new_chart()
    by_hand.take("start_prednisolone", day=0)
    for timer, day in (("thiopurine_due", 14), ("steroid_review_induction", 14)):
        by_hand.fire(timer, day=day)
    by_hand.fire("week4_check", day=28)
    assert by_hand.patient.response == "non_response"

    chart = new_chart()
    chart.take("start_prednisolone", day=0)
    chart.advance_to(28, labs_from=_recording(NORMAL_LABS)[1])
    assert chart.patient.response != "non_response"
    assert chart.care_state == "response_assessment"


def test_advance_to_refuses_a_visit_without_labs_and_going_back() -> None:
    chart = new_chart()
    chart.take("start_prednisolone", day=0)
    chart.advance_to(13)  # nothing due yet: no labs needed
    before = len(chart.trace)
    with pytest.raises(PatientError, match=r"'steroid_review_induction' on day 14 .*labs_from"):
        chart.advance_to(20)
    # The timer without labs due the same day went first; nothing after the refusal.
    assert [s.detail for s in chart.trace[before:]] == ["thiopurine_due"]
    with pytest.raises(PatientError, match="labs_from"):
        chart.advance_to(20, labs_from=lambda day: None)
    with pytest.raises(PatientError, match="before the last event"):
        chart.advance_to(5, labs_from=_recording(NORMAL_LABS)[1])


@pytest.mark.parametrize("engine", [AIHPathway, CompiledPathway])
def test_statechart_entry_points_that_bypass_the_guideline_are_refused(
    engine: type[AIHPathway],
) -> None:
    chart = engine(record(tpmt="normal"))
    chart.observe("labs", {"alt_xuln": 9.0, "ast_xuln": 7.0, "igg_xuln": 1.6}, day=0)
    active, trace = chart.active, list(chart.trace)
    calls: list[Callable[[], object]] = [
        lambda: chart.send("start_budesonide"),
        lambda: chart.raise_("start_budesonide"),
    ]
    if engine is AIHPathway:
        calls += [
            lambda: chart.start_budesonide(),  # type: ignore[attr-defined]
            lambda: chart.activate_initial_state(),  # type: ignore[attr-defined]
        ]
    for call in calls:
        with pytest.raises(EntryPointRefused, match=r"refused.*take\(action"):
            call()
    assert chart.active == active
    assert chart.trace == trace
    assert chart.patient.drugs == {}
    # The guideline's own way in still works and records the step.
    step = chart.take("start_budesonide", day=0)
    assert step.rule_ids
    assert chart.patient.drugs == {"budesonide": 9.0}


def test_care_state_is_one_vocabulary_id() -> None:
    chart = new_chart()
    assert chart.care_state == "diagnosis"
    chart.take("start_prednisolone", day=0)
    assert len(chart.active) > 5
    assert chart.care_state == "induction" == care_state(chart.active, CARE_LINE)


def test_the_care_state_is_the_innermost_care_line_state() -> None:
    """CARE_LINE puts a nested state before the one holding it, so that every care state,
    active with its ancestors (and taper, of the steroid course), is the one shown."""
    states = AIHPathway.states_map
    for state_id in CARE_LINE:
        active = {"taper"}
        state = states[state_id]
        while state is not None:
            active.add(state.id)
            state = state.parent
        assert care_state(active, CARE_LINE) == state_id


def test_one_care_state_function() -> None:
    """pathway.care.care_state is the only function that picks a configuration's care state."""
    found = []
    for path in [*REPO.glob("pathway/**/*.py"), *REPO.glob("simulation/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.endswith("care_state"):
                is_property = any(
                    isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
                )
                if not is_property:
                    found.append(f"{path.relative_to(REPO)}:{node.name}")
    assert found == ["pathway/care.py:care_state"]
