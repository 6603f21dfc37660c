"""The compiled executor agrees with the reference interpreter step by step."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway import AIHPathway, PatientRecord, restore, snapshot
from pathway.compiled import CompiledPathway, compile_chart
from pathway.snapshot import to_json

from .helpers import ACTIVE_LABS
from .strategies import apply_move, moves_any, moves_guideline, patients


def _start(cls: type[AIHPathway] | type[CompiledPathway], patient: PatientRecord) -> Any:
    from simulation.model.policies import GuidelinePolicy
    from simulation.model.scripted import baseline_occurrences

    chart = cls(copy.deepcopy(patient))
    for occ in baseline_occurrences(patient, ACTIVE_LABS):
        chart.observe(occ.name, occ.value, day=0)
    GuidelinePolicy().act(chart, 0.0)
    return chart


def _outcome(chart: Any, move: Any) -> tuple[str, str]:
    try:
        apply_move(chart, move)
    except Exception as exc:  # both must fail alike
        return type(exc).__name__, str(exc).split(" when in ")[0]
    return "ok", ""


def _same(ref: Any, fast: Any) -> None:
    assert ref.active == fast.active
    assert ref.recommendations() == fast.recommendations()
    assert ref.trace == fast.trace
    assert ref.violations == fast.violations
    assert ref.pending_timers() == fast.pending_timers()
    assert snapshot(ref)["record"] == snapshot(fast)["record"]


@given(patient=patients, moves=st.one_of(moves_any, moves_guideline))
def test_compiled_equals_reference_at_every_step(patient: PatientRecord, moves: list[Any]) -> None:
    """Configuration, recommendations, doses, deviations and trace agree after every move."""
    ref = _start(AIHPathway, patient)
    fast = _start(CompiledPathway, patient)
    _same(ref, fast)
    for move in moves:
        assert _outcome(ref, move) == _outcome(fast, move)
        _same(ref, fast)


@given(patient=patients, moves=moves_any)
def test_snapshots_cross_between_engines(patient: PatientRecord, moves: list[Any]) -> None:
    """A snapshot from one engine restores on the other to the same JSON."""
    ref = _start(AIHPathway, patient)
    for move in moves:
        try:
            apply_move(ref, move)
        except Exception:
            break
    text = to_json(ref)
    assert to_json(restore(snapshot(ref), CompiledPathway)) == text  # type: ignore[arg-type]


def test_unsupported_charts_are_refused() -> None:
    """A chart with a history state cannot be compiled (a clear definition error)."""
    from statemachine import HistoryState, State, StateChart

    from pathway import InvalidPathwayError

    class WithHistory(StateChart):  # type: ignore[type-arg]
        class outer(State.Compound):
            a = State(initial=True)
            b = State()
            h = HistoryState()
            go = a.to(b)

        other = State()
        done = State(final=True)
        leave = outer.to(other)
        back = other.to(outer.h)
        end = other.to(done)

    with pytest.raises(InvalidPathwayError, match="history state"):
        compile_chart(WithHistory)


def test_a_guard_written_as_an_expression_is_refused_not_dropped() -> None:
    """python-statemachine evaluates ``cond="not ready"``; the compiled executor calls methods
    only, so it refuses such a guard instead of taking the transition unguarded."""
    from statemachine import State, StateChart

    from pathway import InvalidPathwayError

    class WithExpression(StateChart):  # type: ignore[type-arg]
        a = State(initial=True)
        b = State(final=True)
        go = a.to(b, cond="not ready") | a.to(a)

        def ready(self) -> bool:
            return True

    with pytest.raises(InvalidPathwayError, match="'not ready' on a transition from 'a'"):
        compile_chart(WithExpression)
