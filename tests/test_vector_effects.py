"""Effects applied over columns equal the scalar effects applied record by record (issue 14).

A batch of random records (the situations of tests/test_declarations.py, sharing one
configuration and options) receives one event, each record with its own payload: the
declared effect is applied to each record by the scalar engine, and to the batch's columns
by :class:`pathway.vector_effects.VectorEffects`; the records made back from the columns are
the scalar ones, field by field, with their key order and latest values.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.columns import RecordColumns
from pathway.errors import InvalidPathwayError
from pathway.guidelines.aih import effects
from pathway.guidelines.aih.columns import LAYOUT
from pathway.guidelines.aih.patient import LabPanel, PatientRecord
from pathway.guidelines.aih.vector_forms import VECTOR_RULEBOOK
from pathway.vector_effects import VectorEffects

from .test_columns import _whole
from .test_declarations import _panel, situations
from .test_effects import _EVENTS, _payload

VECTOR = VectorEffects(effects.EFFECTS, VECTOR_RULEBOOK)


@st.composite
def events(draw: st.DrawFn) -> tuple[Any, ...]:
    """1-8 records in one configuration, an event, and each record's payload."""
    drawn = draw(st.lists(situations(), min_size=1, max_size=8))
    _, th, opt, active = drawn[0]
    kind, name = draw(st.sampled_from(_EVENTS))
    records = []
    for p, *_ in drawn:
        if draw(st.booleans()):
            p.treatment_baseline = LabPanel.from_mapping(p.day, draw(_panel))
        p.timers_fired["month12_assessment"] = draw(st.integers(0, 1))
        p.timers_fired["blood_count_early"] = draw(st.integers(0, 3))
        p.tpmt = draw(st.sampled_from(["unknown", "normal", "intermediate", "deficient"]))
        records.append(p)
    values = [_payload(draw, kind, name, p) for p in records]
    return records, th, opt, active, kind, name, values


def _scalar(records: list[PatientRecord], event: tuple[Any, ...]) -> list[PatientRecord]:
    _, th, opt, active, kind, name, values = event
    fn = {"finding": effects.FINDING_EFFECTS, "timer": effects.TIMER_EFFECTS}.get(
        kind, effects.ACTION_EFFECTS
    )[name]
    out = copy.deepcopy(records)
    for p, v in zip(out, values, strict=True):
        fn(p, v, th, opt, active)
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_effects_over_columns_equal_the_scalar_effects(event: tuple[Any, ...]) -> None:
    """Every effect, any batch: the columns hold what the scalar effects give."""
    records, th, opt, active, kind, name, values = event
    want = _scalar(records, event)
    columns = RecordColumns.from_records(LAYOUT, copy.deepcopy(records))
    VECTOR.apply(kind, name, columns, values, th, opt, active)
    got = columns.to_records()
    assert [_whole(p) for p in got] == [_whole(p) for p in want], (kind, name, values)


def test_a_mask_leaves_the_other_rows_alone() -> None:
    p = PatientRecord("a", 40, "F", 70)
    q = PatientRecord("b", 50, "M", 80)
    columns = RecordColumns.from_records(LAYOUT, [p, q])
    VECTOR.apply("finding", "hcc", columns, None, None, None, frozenset(), np.array([False, True]))
    assert [r.hcc for r in columns.to_records()] == [False, True]


def test_an_unknown_effect_is_refused() -> None:
    columns = RecordColumns.from_records(LAYOUT, [PatientRecord("a", 40, "F", 70)])
    with pytest.raises(InvalidPathwayError, match="no declared finding effect 'nope'"):
        VECTOR.apply("finding", "nope", columns, None, None, None, frozenset())
