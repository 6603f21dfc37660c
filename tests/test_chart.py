"""The chart's structure and strictness: vocabulary, regions, no clock, errors surface."""

from __future__ import annotations

import ast
from collections import deque

import pytest
from statemachine.exceptions import TransitionNotAllowed

from pathway import AIHPathway, PathwayError, PatientError
from pathway.guidelines.aih.chart import transition_rules
from pathway.guidelines.aih.vocabulary import ACTIONS, CARE_STATES, FINDINGS

from .helpers import REPO, new_chart

REGIONS = ("care_line", "steroid_course", "liver_stage", "pregnancy_status")


def test_every_vocabulary_care_state_exists() -> None:
    """Each care state id of the vocabulary is a state of the chart."""
    missing = set(CARE_STATES) - set(AIHPathway.states_map)
    assert not missing


def test_death_is_the_only_final_state() -> None:
    """``death`` is final and top-level; nothing else is."""
    finals = [s.id for s in AIHPathway.states_map.values() if s.final]
    assert finals == ["death"]


def test_every_finding_and_action_is_an_event() -> None:
    """All vocabulary findings and actions are chart events (``continue`` and ``death`` too)."""
    events = {e for e, *_ in transition_rules(AIHPathway)}
    assert set(FINDINGS) <= events
    assert set(ACTIONS) <= events


def test_a_fresh_chart_has_one_leaf_per_region() -> None:
    """The initial configuration holds diagnosis and one initial state in each region."""
    chart = AIHPathway(new_chart().patient.__class__("p", age=40, sex="M", weight_kg=80))
    assert {"alive", *REGIONS} <= chart.active
    assert {"diagnosis", "no_steroid", "noncirrhotic", "not_pregnant"} <= chart.active


def _reachable() -> set[str]:
    """States reachable from the initial state through the transition graph (any depth)."""
    states = AIHPathway.states_map
    seen: set[str] = set()
    todo = deque(["alive"])

    def enter(state_id: str) -> None:
        # Entering a state enters its ancestors and (for compounds) initial children.
        state = states[state_id]
        while state is not None and state.id not in seen:
            seen.add(state.id)
            todo.append(state.id)
            for child in state.states:
                if child.initial or state.parallel:
                    enter(child.id)
            state = state.parent

    enter("alive")
    while todo:
        sid = todo.popleft()
        for _event, source, target, _rules in transition_rules(AIHPathway):
            if source == sid and target:
                enter(target)
    return seen


def test_every_state_is_reachable_at_every_depth() -> None:
    """Static reachability: every state, nested ones included, can be entered."""
    assert _reachable() == set(AIHPathway.states_map)


def test_pathway_code_reads_no_clock_and_no_randomness() -> None:
    """The chart decides; the simulator owns time and chance (DESIGN principle).

    numpy is allowed as array arithmetic (the vector interpreter of issue 14) but never its
    random module.
    """
    banned = {"time", "random", "datetime", "simpy", "numpy.random"}
    for path in (REPO / "pathway").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                # No thread, timer or clock from threading: only its lock (see below).
                assert node.module != "threading", f"{path.name} imports from threading"
            roots = {n.split(".")[0] for n in names} | {".".join(n.split(".")[:2]) for n in names}
            assert not roots & banned, f"{path.name} imports {names}"
            # np.random / numpy.random: chance belongs to the simulator.
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert not (node.value.id in {"np", "numpy"} and node.attr == "random"), (
                    f"{path.name} uses {node.value.id}.random"
                )
            # threading only for the per-chart lock (one event at a time), never a thread
            # or a timer that would bring wall-clock time into the chart.
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "threading"
            ):
                assert node.attr == "RLock", f"{path.name} uses threading.{node.attr}"


def test_unhandled_finding_is_an_error_not_ignored() -> None:
    """Strict: ``delivered`` without a pregnancy cannot be handled and raises."""
    with pytest.raises(TransitionNotAllowed):
        new_chart().observe("delivered", day=10)


def test_transplant_finding_outside_transplant_care_is_rejected() -> None:
    """A graft cannot arrive before the patient is in transplant care."""
    with pytest.raises(TransitionNotAllowed):
        new_chart().observe("transplanted", day=10)


def test_errors_in_guards_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing rule raises to the caller instead of becoming an error event."""
    from pathway.guidelines.aih import rules

    def broken(_: object) -> list[object]:
        raise RuntimeError("rule failed")

    monkeypatch.setitem(rules.ACTION_CHECKS, "observe_untreated", broken)
    # The permission guard captured the check at class creation; patch the guard too.
    monkeypatch.setattr(AIHPathway, "may_observe_untreated", lambda self, deviate=False: broken(0))
    chart = new_chart()
    with pytest.raises(RuntimeError, match="rule failed"):
        chart._dispatch("observe_untreated", {})


def test_bad_payloads_and_days_are_clear_errors() -> None:
    """Unknown findings, bad payloads and days going back are PatientErrors."""
    chart = new_chart()
    with pytest.raises(PatientError, match="unknown finding 'lab'"):
        chart.observe("lab", {}, day=1)
    with pytest.raises(PatientError, match="'tpmt' must be one of"):
        chart.observe("tpmt", "low", day=1)
    with pytest.raises(PatientError, match="lab 'alt_xuln' = -1"):
        chart.observe("labs", {"alt_xuln": -1}, day=1)
    chart.observe("labs", {"alt_xuln": 5}, day=5)
    with pytest.raises(PatientError, match="day 3 is before the last event"):
        chart.observe("labs", {"alt_xuln": 5}, day=3)


def test_no_events_after_death() -> None:
    """Once dead, the course is closed: a clear error, no silent drop."""
    chart = new_chart()
    chart.observe("death", day=12)
    assert chart.is_dead
    assert chart.recommendations() == []
    assert chart.pending_timers() == []
    with pytest.raises(PathwayError, match="died on day 12"):
        chart.observe("labs", {"alt_xuln": 1}, day=13)


def test_patient_attributes_are_validated() -> None:
    """Out-of-scope ages and unknown categories are rejected with the allowed values."""
    from pathway import PatientRecord

    with pytest.raises(PatientError, match="age must be between 18"):
        PatientRecord("p", age=12, sex="F", weight_kg=40)
    with pytest.raises(PatientError, match="sex must be one of"):
        PatientRecord("p", age=30, sex="X", weight_kg=60)
