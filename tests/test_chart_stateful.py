"""Random findings and actions: the configuration stays valid; the guideline stays safe."""

from __future__ import annotations

from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from pathway import AIHPathway, PatientRecord
from pathway.guidelines.aih.vocabulary import ACTIONS

from .helpers import ACTIVE_LABS
from .strategies import _FINDINGS, apply_move, moves_guideline, patients, start


def assert_valid_configuration(chart: AIHPathway) -> None:
    """Every active compound has one active child; parallels have all; parents are active."""
    active = chart.active
    if chart.is_dead:
        assert active == {"death"}
        return
    for sid in active:
        state = chart.states_map[sid]
        if state.parent is not None:
            assert state.parent.id in active, f"{sid} active without its parent"
        children = [c.id for c in state.states]
        if not children:
            continue
        on = [c for c in children if c in active]
        if state.parallel:
            assert on == children, f"parallel {sid}: {on}"
        else:
            assert len(on) == 1, f"compound {sid} has active children {on}"
    # The steroid region mirrors the record.
    assert ("no_steroid" in active) == (chart.patient.steroid is None), (
        sorted(active),
        chart.patient.drugs,
    )


@given(patient=patients, moves=moves_guideline)
def test_guideline_policy_never_breaks_a_hard_invariant(
    patient: PatientRecord, moves: list[Any]
) -> None:
    """Strict mode raises on any hard breach, so finishing the course is the assertion."""
    chart = start(patient, ACTIVE_LABS)
    for move in moves:
        apply_move(chart, move)
        assert_valid_configuration(chart)
    assert not chart.deviated
    assert [v for v in chart.violations if v.hard] == []


class CourseMachine(RuleBasedStateMachine):
    """A patient under a mix of findings, time points, the guideline and a trainee."""

    chart: AIHPathway

    @initialize(patient=patients)
    def begin(self, patient: PatientRecord) -> None:
        self.chart = start(patient, ACTIVE_LABS)

    @precondition(lambda self: not self.chart.is_dead)
    @rule(dt=st.integers(0, 90), finding=_FINDINGS)
    def observe(self, dt: int, finding: tuple[str, Any]) -> None:
        apply_move(self.chart, (dt, "finding", finding))

    @precondition(lambda self: not self.chart.is_dead)
    @rule()
    def time_point(self) -> None:
        apply_move(self.chart, (0, "timer", None))

    @precondition(lambda self: not self.chart.is_dead)
    @rule(dt=st.integers(0, 30), action=st.sampled_from(ACTIONS))
    def trainee(self, dt: int, action: str) -> None:
        step_count = len(self.chart.trace)
        apply_move(self.chart, (dt, "deviate", action), policy=False)
        step = self.chart.trace[step_count]
        note(f"trainee {action}: deviation={step.deviation} carried_out={step.carried_out}")
        # A recommended action is never flagged; a flagged one always names its rules.
        assert step.deviation == bool(step.breaches)

    @invariant()
    def configuration_is_valid(self) -> None:
        if hasattr(self, "chart"):
            assert_valid_configuration(self.chart)

    @invariant()
    def recommendations_are_ranked_and_sourced(self) -> None:
        if not hasattr(self, "chart") or self.chart.is_dead:
            return
        recs = self.chart.recommendations()
        assert recs, "a living patient always gets a recommendation"
        order = {"must": 0, "should": 1, "may": 2}
        levels = [order[r.strength] for r in recs]
        assert levels == sorted(levels)
        for r in recs:
            assert r.rule_ids, r


TestCourseMachine = CourseMachine.TestCase
TestCourseMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
