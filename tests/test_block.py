"""A block of patients stepping the chart together equals the compiled engine (issue 14).

Real patients of the default cohort run on the compiled engine (several seeds, a ``--set``
threshold override, the mycophenolate option), their external inputs (findings with their
payloads and days, timer fires) recorded with where the clinician was asked; then a
:class:`~pathway.block.BlockPathway` over all of them is driven in lockstep rounds (round
``r``: each patient's ``r``-th input, grouped), its own policy loop deciding the actions
where the clinician decided. Every patient's trace (every :class:`~pathway.runtime.Step`
field), violations, final record, configuration and outputs (``collect_patient``) must be
the compiled engine's. Then deviations taken on both (breaches, steps not possible, the
invariants they break); the pending timers; the errors; and the toy guideline through the
same block.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.block import BlockGuideline, BlockPathway
from pathway.columns import Keyed, Layout
from pathway.errors import (
    ActionNotRecommended,
    InvariantViolation,
    PathwayError,
    PatientError,
)
from pathway.executor import compiled_class
from pathway.guidelines.aih.block import AIH_BLOCK
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.toy.chart import ToyPathway
from pathway.guidelines.toy.guideline import GUIDELINE as TOY
from pathway.guidelines.toy.record import ToyRecord
from pathway.records import record_to_dict
from pathway.vector import VectorRulebook
from simulation.model.policies import GuidelinePolicy
from simulation.results.outputs import trace_events

from .block_replay import Recording, inputs_of, recorded_cohort, replay
from .strategies import apply_move, moves_any, patients, start


def _same(block: BlockPathway, charts: list[Recording]) -> None:
    for i, chart in enumerate(charts):
        got = block.result(i)
        assert got.trace == chart.trace, f"row {i}"
        assert got.violations == chart.violations, f"row {i}"
        assert record_to_dict(got.patient) == record_to_dict(chart.patient), f"row {i}"
        assert got.configuration == tuple(chart.configuration_values)
        assert (got.care_state, got.is_dead, got.deviated) == (
            chart.care_state,
            chart.is_dead,
            chart.deviated,
        )
        pid = chart.patient.patient_id
        assert trace_events(pid, got.trace) == trace_events(pid, chart.trace)


def _replayed(charts: list[Recording], **kwargs: Any) -> BlockPathway:
    return replay(AIH_BLOCK, [c.initial for c in charts], [inputs_of(c) for c in charts], **kwargs)


@pytest.mark.parametrize(("patients", "years", "seed"), [(30, 10, 1), (40, 5, 7), (25, 8, 23)])
def test_cohort_replayed_in_a_block_equals_the_compiled_engine(
    patients: int, years: float, seed: int
) -> None:
    charts = recorded_cohort(patients, years, seed)
    block = _replayed(charts)
    _same(block, charts)
    assert sum(len(c.trace) for c in charts) > 10 * years * patients  # real courses
    assert {s.kind for c in charts for s in c.trace} == {"finding", "timer", "action"}
    # The next timer of every live row is the chart's first pending timer.
    due, which = block.next_timers()
    timers = AIH_BLOCK.guideline.timers.timers
    for i, chart in enumerate(charts):
        pending = chart.pending_timers()
        assert block.pending_timers(i) == pending
        if pending:
            assert (due[i], timers[which[i]].id) == (pending[0].due_day, pending[0].timer_id)
        else:
            assert (due[i], which[i]) == (np.inf, -1)
        for timer in timers[:12]:
            armed = block.timer_armed([i], timer.id)[0]
            assert armed == chart.timer_armed(timer.id), (i, timer.id)
        assert block.top_recommendation(i) == chart.top_recommendation()  # doses too


def test_threshold_override_and_option_replayed_in_a_block() -> None:
    """A ``--set`` override of routing thresholds and the mycophenolate first line."""
    th = Thresholds().with_overrides(relapse_alt_xuln=2.5, active_transaminase_xuln=2.5)
    charts = recorded_cohort(25, 8, 3, thresholds=th)
    _same(_replayed(charts, thresholds=th), charts)
    mmf = recorded_cohort(25, 6, 4, policy="mmf_first_line")
    opt = GuidelineOptions(first_line_antimetabolite="mycophenolate")
    assert mmf[0].options == opt
    _same(_replayed(mmf, options=opt), mmf)


def _random_courses(courses: list[tuple[Any, list[Any]]]) -> list[Recording]:
    charts = []
    for n, (patient, moves) in enumerate(courses):
        patient = copy.deepcopy(patient)
        patient.patient_id = f"h{n}"
        engine = functools.partial(Recording, strict_invariants=False)
        chart: Any = start(patient, {"alt_xuln": 6.0, "igg_xuln": 1.6}, engine=engine)  # type: ignore[arg-type]
        for move in moves:
            try:
                apply_move(chart, move)
            except PathwayError:
                break
        charts.append(chart)
    return charts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(patients, moves_any), min_size=1, max_size=5))
def test_random_courses_in_a_block_equal_the_compiled_engine(courses: Any) -> None:
    """Random courses (any finding, timers, any action taken as a deviation, the policy
    after each) recorded on the compiled engine and replayed through a block."""
    charts = _random_courses(courses)
    _same(_replayed(charts), charts)


_DEVIATIONS = (
    "stop_steroid",
    "attempt_withdrawal",
    "start_prednisolone",
    "reinduce",
    "start_budesonide",
    "add_azathioprine",
    "taper_steroid",
    "switch_to_tacrolimus",
    "observe_untreated",
)


def test_deviations_equal_the_compiled_engine() -> None:
    """Actions taken against the guideline (breaches recorded, not possible in the state,
    the invariants they break) on both engines, after real courses."""
    charts = recorded_cohort(24, 4, 5)
    block = _replayed(charts)
    charts = [copy.deepcopy(c) for c in charts]
    alive = [i for i, c in enumerate(charts) if not c.is_dead]
    kinds: set[tuple[bool, bool]] = set()
    for action in _DEVIATIONS:
        days = np.array([charts[i].day + 1.0 for i in alive])
        steps = block.take(alive, action, days, deviate=True)
        for i, step in zip(alive, steps, strict=True):
            want = charts[i].take(action, day=charts[i].day + 1.0, deviate=True)
            assert step == want
            kinds.add((step.deviation, step.carried_out))
    _same(block, charts)
    assert {(True, True), (True, False)} <= kinds
    assert any(c.violations for c in charts)  # the deviations broke invariants


def test_refusals_and_errors_change_nothing() -> None:
    charts = recorded_cohort(6, 2, 9)
    block = _replayed(charts)
    alive = [i for i, c in enumerate(charts) if not c.is_dead]
    before = [record_to_dict(block.record(i)) for i in range(len(charts))]
    day = max(c.day for c in charts) + 1.0
    with pytest.raises(ActionNotRecommended):
        block.take(alive, "attempt_withdrawal", day)
    with pytest.raises(PatientError, match="unknown action"):
        block.take(alive, "no_such_action", day)
    with pytest.raises(PatientError, match="before the last event"):
        block.observe(alive, "labs", [{"alt_xuln": 1.0}] * len(alive), 0.0 - 1.0)
    with pytest.raises(PatientError):
        block.observe(alive, "labs", [{"alt_xuln": -5.0}] * len(alive), day)
    with pytest.raises(PatientError, match="at most once"):
        block.fire([alive[0], alive[0]], "week4_check", day)
    with pytest.raises(PathwayError, match="several events"):
        block.fire(alive[:2], ["week4_check", "thiopurine_due"], day)
    with pytest.raises(PatientError, match="2 timers for 1 rows"):
        block.fire(alive[:1], ["week4_check", "week4_check"], day)
    assert block.fire([], [], day) == []  # no rows, nothing to send
    assert [record_to_dict(block.record(i)) for i in range(len(charts))] == before
    assert block.traces == [c.trace for c in charts]


# --- the toy guideline through the same block ---------------------------------------------------

_TOY_LAYOUT = Layout(
    record=ToyRecord,
    fields={
        "patient_id": "object",
        "day": "float",
        "score": "float",
        "reviews": "int",
        "death_day": "float",
        "state": "object",
    },
    keyed={
        "drugs": Keyed(TOY.drugs, value="float", present="on", value_call="dose"),
        "entered": Keyed(tuple(ToyPathway.states_map), value="float"),
        "timers_fired": Keyed(tuple(TOY.timers.by_id), value="int"),
    },
)
_TOY_BLOCK = BlockGuideline(TOY, _TOY_LAYOUT, VectorRulebook(TOY.rulebook))

#: Scores per patient on days 0, 10, 20, ...; the toy's timers fire between them.
_TOY_SCORES = [
    [12.0, 12.0, 11.0, 2.0, 2.5, 9.0, 12.0, 1.0],
    [5.0, 9.0, 15.0, 15.0, 14.0, 13.0, 2.0, 2.0],
    [2.0, 2.0, 10.0, 1.0, 9.5, 0.5, 20.0, 19.0],
    [9.0, 1.0, 12.0, 12.0, 12.0, 12.0, 12.0, 12.0],
]


def test_toy_guideline_in_a_block_equals_the_compiled_engine() -> None:
    """The toy's effects (Python functions, run row by row), guards (the chart's methods)
    and timers, with the guideline policy, on a few scripted courses."""
    compiled = compiled_class(ToyPathway)
    records = [ToyRecord(f"T{i}") for i in range(len(_TOY_SCORES))]
    charts = [compiled(copy.deepcopy(r), strict_invariants=False) for r in records]
    block = BlockPathway(_TOY_BLOCK, records, strict_invariants=False)
    policy = GuidelinePolicy()
    rows = np.arange(len(records))
    for k in range(len(_TOY_SCORES[0])):
        day = 10.0 * k
        while True:  # the timers due before the scores of the day, earliest first
            due, which = block.next_timers(rows)
            fire = due < day
            if not fire.any():
                break
            first = float(due[fire].min())
            at = rows[fire & (due == first)]
            for i in at.tolist():
                pending = charts[i].pending_timers()[0]
                assert (pending.due_day, pending.timer_id) == (
                    first,
                    TOY.timers.timers[which[i]].id,
                )
            for t in sorted({int(which[i]) for i in at.tolist()}):
                here = at[which[at] == t]
                timer = TOY.timers.timers[t].id
                block.fire(here, timer, first)
                for i in here.tolist():
                    charts[i].fire(timer, day=first)
                    policy.act(charts[i], first)
                block.act(here, first)
        scores = [s[k] for s in _TOY_SCORES]
        block.observe(rows, "score", scores, day)
        for chart, score in zip(charts, scores, strict=True):
            chart.observe("score", score, day=day)
            policy.act(chart, day)
        block.act(rows, day)
    block.observe(rows[:1], "death", [None], 100.0)
    charts[0].observe("death", None, day=100.0)
    for i, chart in enumerate(charts):
        assert block.traces[i] == chart.trace
        assert record_to_dict(block.record(i)) == record_to_dict(chart.patient)
        assert block.result(i).care_state == chart.care_state
    assert {s.kind for c in charts for s in c.trace} == {"finding", "timer", "action"}
    assert block.is_dead().tolist() == [True, False, False, False]
    with pytest.raises(PathwayError, match="died"):
        block.observe([0], "score", [1.0], 101.0)
    with pytest.raises(PatientError, match="unknown timer"):
        block.fire([1], "no_such_timer", 101.0)


def test_strict_invariants_raise_as_the_runtime_does() -> None:
    """A hard invariant broken in a course without deviation raises, on both engines."""
    th = TOY.thresholds().with_overrides(alfa_mg_day=30.0)  # above the toy maximum (25)
    compiled = compiled_class(ToyPathway)
    chart = compiled(ToyRecord("S"), thresholds=th)
    block = BlockPathway(_TOY_BLOCK, [ToyRecord("S")], thresholds=th)
    chart.observe("score", 12.0, day=0.0)
    block.observe([0], "score", [12.0], 0.0)
    with pytest.raises(InvariantViolation) as want:
        GuidelinePolicy().act(chart, 0.0)
    with pytest.raises(InvariantViolation) as got:
        block.act([0], 0.0)
    assert (got.value.rule_id, got.value.day) == (want.value.rule_id, want.value.day)
    assert str(got.value) == str(want.value)


def test_the_memo_is_told_the_day_only_where_it_moved() -> None:
    """A call on the day of a row's last event does not make what reads the day stale
    there (the policy's actions fall on the day of the finding that prompted them); a row
    whose day moved is told."""
    charts = recorded_cohort(6, 2, 9)
    block = _replayed(charts)
    alive = [i for i, c in enumerate(charts) if not c.is_dead][:2]
    told: list[tuple[list[int], list[str]]] = []
    changed = block.memo.changed

    def spy(rows: Any, fields: Any) -> None:
        told.append((np.asarray(rows).tolist(), list(fields)))
        changed(rows, fields)

    block.memo.changed = spy  # type: ignore[method-assign]
    days = block.day(alive)
    moved = alive[1]
    block.observe(alive, "labs", [{"alt_xuln": 1.0}] * 2, [days[0], days[1] + 3.0])
    day_told = [rows for rows, fields in told if "day" in fields]
    assert day_told == [[moved]]
    charts[alive[0]].observe("labs", {"alt_xuln": 1.0}, day=days[0])
    charts[moved].observe("labs", {"alt_xuln": 1.0}, day=days[1] + 3.0)
    for i in alive:  # and the recommendations read the day as the compiled engine does
        assert block.top_recommendation(i) == charts[i].top_recommendation()
