"""The AIH vector forms give the scalar functions' values, bit for bit (issue 14).

Differential tests: the response comparisons declared as expressions against the Python they
replaced; each vector form (``transaminases_not_halved``, ``cbr_on_latest_panel``,
``next_lab_day``, ``fired``, ``entered_day``, ``days_since``) and the pure functions the
interpreter spreads by distinct argument (``taper_target``, ``next_taper_dose``) against the
scalar function, over batches of random records (tests/test_declarations.py's situations,
with random timer histories) and records of random courses (tests/strategies.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.columns import RecordColumns
from pathway.compiled import CompiledPathway
from pathway.expr import Expr
from pathway.guidelines.aih import effects, response, rules
from pathway.guidelines.aih.columns import LAYOUT
from pathway.guidelines.aih.patient import LabPanel, PatientRecord
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.aih.timers import (
    LAB_TIMERS,
    TIMERS,
    ThresholdValues,
    Timer,
    next_lab_day,
    timer_offset,
)
from pathway.guidelines.aih.vector_forms import FORMS, VECTOR_RULEBOOK
from pathway.guidelines.aih.vocabulary import CARE_STATES
from pathway.timer_columns import next_lab_days, timer_offsets
from pathway.vector import Batch

from .strategies import LAB_STRATEGIES, course, moves_any, patients
from .test_declarations import situations

BOOK = rules.RULEBOOK
TH = Thresholds()
_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the response comparisons: the expressions give what the Python gave ---------------------


def _old_fall(baseline: float | None, latest: float | None) -> float | None:
    if baseline is None or latest is None or baseline <= 0:
        return None
    return (baseline - latest) / baseline


def _old_non_response(baseline: LabPanel, latest: LabPanel, th: Thresholds) -> bool:
    """response.is_non_response as written before it became an expression (the oracle)."""
    for analyte in ("alt_xuln", "ast_xuln"):
        now = getattr(latest, analyte)
        fall = _old_fall(getattr(baseline, analyte), now)
        if fall is not None:
            return fall < th.non_response_fall and now > th.uln
    return False


def _old_cbr(panel: LabPanel, th: Thresholds) -> bool:
    if panel.alt_xuln is None:
        return False
    return all(
        value is None or value <= th.uln
        for value in (panel.alt_xuln, panel.ast_xuln, panel.igg_xuln)
    )


# Values near the thresholds (ULN 1, a fall of one half) as well as anywhere.
_VALUE = st.none() | st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0]) | st.floats(0, 40)
_PANEL = st.builds(
    LabPanel, st.just(0.0), alt_xuln=_VALUE, ast_xuln=_VALUE, igg_xuln=_VALUE
) | st.builds(LabPanel, st.just(0.0), **{k: st.none() | v for k, v in LAB_STRATEGIES.items()})


@settings(max_examples=600, deadline=None)
@given(_PANEL, _PANEL, st.sampled_from([0.5, 0.25, 0.0]), st.sampled_from([1.0, 0.8]))
def test_response_expressions_agree_with_the_python_they_replaced(
    baseline: LabPanel, latest: LabPanel, fall: float, uln: float
) -> None:
    th = Thresholds(non_response_fall=fall, uln=uln)
    assert response.is_non_response(baseline, latest, th) == _old_non_response(baseline, latest, th)
    assert response.is_cbr(latest, th) == _old_cbr(latest, th)


# --- the forms against the scalar functions ------------------------------------------------


def _same(got: Any, want: Any) -> bool:
    """Equal values, a missing scalar (``None``) read as NaN or ``None``, floats bit for bit
    (also in tuples)."""
    if want is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    if isinstance(want, tuple):
        return isinstance(got, tuple) and len(got) == len(want) and all(map(_same, got, want))
    if isinstance(want, float) and not isinstance(want, bool):
        # A count may be held as an integer column (pathway.columns), the same number.
        return isinstance(got, int | float) and float(got).hex() == want.hex()
    return bool(got == want)


#: Calls of every Columnar form and of the pure functions, as expressions.
CALLS = [
    "transaminases_not_halved()",
    "cbr_on_latest_panel()",
    "next_lab_day()",
    "days_since(steroid_start_day)",
    "taper_target(steroid)",
    "next_taper_dose(steroid, steroid_dose)",
    *(f'fired("{t.id}")' for t in TIMERS),
    *(f'entered_day("{s}")' for s in sorted(CARE_STATES)),
    # The dose rules and the day-7 rule, with arguments as the rules and effects give them
    # (constants, a configuration test, a record condition); tests/test_vector_dosing.py.
    "prednisolone_dose(False)",
    "prednisolone_dose(True)",
    'prednisolone_dose("acute_severe" in active)',
    'prednisolone_dose("diagnosis" in active and presents_acute_severe)',
    "azathioprine_dose(False)",
    "azathioprine_dose(True)",
    'max(dose("azathioprine") or 0.0, azathioprine_dose(True))',
    "tacrolimus_dose()",
    "optimised_steroid()",
    "optimised_steroid() is not None",
    "acute_improvement()",
]
#: Over the effects' schema: the rulebook's names and the functions only effects call.
EXPRS = [Expr(text, effects.EFFECTS.schema) for text in CALLS]


def test_every_columnar_form_is_tested() -> None:
    """A new vector form needs a differential test: it must be called in :data:`CALLS`."""
    called = {fn for e in EXPRS for fn in e.deps.functions}
    assert {name for name, form in FORMS.items() if hasattr(form, "fn")} <= called


def _check(records: list[PatientRecord], th: Any, opt: Any, active: frozenset[str]) -> None:
    """On a batch over the records and on the record as columns (no records: what a
    columnar engine holds, :mod:`pathway.columns`)."""
    columnar = RecordColumns.from_records(LAYOUT, records).batch(active)
    for batch in (Batch(len(records), active, records=records), columnar):
        vi = VECTOR_RULEBOOK.interpreter(batch, th, opt)
        for expr in EXPRS:
            got = vi.evaluate(expr).tolist()
            for value, p in zip(got, records, strict=True):
                want = expr.fn(p, th, opt, active)
                want = float(want) if type(want) is int else want
                assert _same(value, want), (expr.text, value, want, batch.records is None)
        assert not vi.fallbacks, vi.fallbacks  # none of these runs row by row


@st.composite
def _batches(draw: st.DrawFn) -> tuple[list[PatientRecord], Any, Any, frozenset[str]]:
    """1-8 random records in one configuration, with random timer histories."""
    drawn = draw(st.lists(situations(), min_size=1, max_size=8))
    _, th, opt, active = drawn[0]
    records = [s[0] for s in drawn]
    for p in records:
        timers = draw(st.lists(st.sampled_from(TIMERS), max_size=6))
        p.timers_fired = {t.id: draw(st.integers(0, 12)) for t in timers}
        if draw(st.booleans()):
            p.antimetabolite_change_day = draw(st.floats(0, p.day) | st.sampled_from([p.day]))
    return records, th, opt, active


@_SETTINGS
@given(_batches())
def test_forms_agree_on_random_records(batch: tuple[list[Any], Any, Any, Any]) -> None:
    _check(*batch)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient=patients, moves=moves_any)
def test_forms_agree_along_random_courses(patient: PatientRecord, moves: list[Any]) -> None:
    """On the records of random courses (real timer histories, baselines, panels)."""
    for chart in course(patient, moves, engine=CompiledPathway):
        _check([chart.patient], chart.thresholds, chart.options, chart.active)


@_SETTINGS
@given(_batches(), st.sampled_from([7.0, 14.0, 30.5]), st.sampled_from([28.0, 56.0, 91.0]))
def test_the_lab_schedule_as_columns(
    batch: tuple[list[Any], Any, Any, Any], interval: float, phase: float
) -> None:
    """next_lab_days gives next_lab_day for every record, also with other intervals."""
    records, _, _, active = batch
    th = Thresholds(cbc_early_interval_days=interval, cbc_early_phase_days=phase)
    values = ThresholdValues(th)
    vector_batch = Batch(len(records), active, records=records)

    def start_of(timer: Any) -> Any:
        if timer.anchor is not None:
            return vector_batch.column(timer.anchor).astype(np.float64)
        entered = vector_batch.item("entered", timer.state)
        return np.where(np.isnan(entered), vector_batch.column("day"), entered)

    def fired_of(timer: Any) -> Any:
        count = vector_batch.item("timers_fired", timer.id)
        return np.where(np.isnan(count), 0, count).astype(np.int64)

    got = next_lab_days(LAB_TIMERS, active, start_of, fired_of, values, len(records))
    for value, p in zip(got.tolist(), records, strict=True):
        assert _same(value, next_lab_day(active, p, values))


_NAMES = ("a", "b", "c")


@_SETTINGS
@given(
    st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3),
    st.sampled_from([None, *_NAMES]),
    st.sampled_from([None, *_NAMES]),
    st.fixed_dictionaries({n: st.floats(0.5, 400.0) for n in _NAMES}),
    st.lists(st.lists(st.integers(0, 120), min_size=0, max_size=12), min_size=1, max_size=4),
)
def test_timer_offsets_are_the_scalar_offsets(
    at: list[str],
    every: str | None,
    until: str | None,
    values: dict[str, float],
    counts: list[list[int]],
) -> None:
    """Offsets gathered from a timer's table (kept per timer and threshold values, grown as
    larger counts come) are the scalar ``timer_offset`` bit for bit, NaN where it is spent;
    so are the declared timers' at any count."""
    timer = Timer("t", "e", "s", tuple(at), every, True, "R", until_threshold=until)
    for fired in counts:  # several calls: small and large counts, in any order
        got = timer_offsets(timer, np.array(fired, dtype=np.int64), values)
        for value, count in zip(got.tolist(), fired, strict=True):
            assert _same(value, timer_offset(timer, count, values)), (count, value)
    th = ThresholdValues(TH)
    fired_all = np.arange(60, dtype=np.int64)
    for declared in TIMERS:
        got = timer_offsets(declared, fired_all, th)
        for value, count in zip(got.tolist(), fired_all.tolist(), strict=True):
            assert _same(value, timer_offset(declared, count, th)), (declared.id, count)
