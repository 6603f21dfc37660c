"""The AIH record as columns: exact round trip, and the columns the numpy interpreter reads.

Records come from random situations (tests/test_declarations.py: any history, doses, flags
and days) and from random courses run on the chart (tests/strategies.py), so the lab
history, the latest values after a transplant's reset, the order of the doses and the
states entered are realistic.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.columns import RecordColumns
from pathway.compiled import CompiledPathway
from pathway.errors import InvalidPathwayError
from pathway.guidelines.aih.columns import FIELDS, LAYOUT
from pathway.guidelines.aih.patient import PatientRecord
from pathway.guidelines.aih.rules import RULEBOOK
from pathway.guidelines.aih.vector_forms import VECTOR_RULEBOOK
from pathway.vector import Batch

from .strategies import apply_move, labs, moves_any, patients, start
from .test_declarations import situations

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _whole(p: PatientRecord) -> dict[str, Any]:
    """The record with what equality leaves out: key order and the latest values."""
    return {
        "record": p,
        "order": [list(p.drugs), list(p.entered), list(p.timers_fired)],
        "latest": (p._latest, p._latest_day),
        "panel": p.latest_panel(),
        "properties": (p.steroid, p.antimetabolite, p.immunosuppressed),
    }


@st.composite
def courses(draw: st.DrawFn) -> PatientRecord:
    """A record after a random course on the chart (state, history and all)."""
    chart = start(draw(patients), draw(labs), engine=CompiledPathway)
    for move in draw(moves_any):
        apply_move(chart, move)
    return copy.deepcopy(chart.model)  # type: ignore[no-any-return]


records = st.lists(situations().map(lambda s: s[0]) | courses(), min_size=1, max_size=6)


@_SETTINGS
@given(records)
def test_records_round_trip_through_columns(recs: list[PatientRecord]) -> None:
    """Records -> columns -> records gives the same records, key order and latest values."""
    back = RecordColumns.from_records(LAYOUT, recs).to_records()
    assert [_whole(p) for p in back] == [_whole(p) for p in recs]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values, NaN read as None (the interpreter's ``column`` picks ``float64`` for a
    field that is ``None`` on every row, where the layout keeps ``object``)."""

    def values(x: np.ndarray) -> list[Any]:
        return [None if v != v else v for v in x.tolist()]

    return values(a) == values(b)


@_SETTINGS
@given(records, st.sampled_from(sorted(RULEBOOK.schema.states)))
def test_the_batch_holds_what_the_interpreter_would_make_from_the_records(
    recs: list[PatientRecord], state: str
) -> None:
    """Every column, call column and membership test of the columnar batch equals the one
    :class:`~pathway.vector.Batch` makes from the records (the interpreter's convention)."""
    columns = RecordColumns.from_records(LAYOUT, recs)
    got = columns.batch({state}, whole=("drugs", "intolerant"))
    want = Batch(len(recs), frozenset({state}), records=recs)
    for name, col in got.columns.items():
        assert _same(col, want.column(name)), name
    for (name, args), col in got.calls.items():
        expected = (
            [p.timers_fired.get(args[0], 0) for p in recs]
            if name == "fired"
            else want.call(name, args).tolist()
        )
        assert _same(col, np.array(expected, dtype=col.dtype)), (name, args)
    for key, col in got.derived.items():
        op, field, _, value = key
        inside = [value in getattr(p, field) for p in recs]
        assert col.tolist() == (inside if op == "In" else [not x for x in inside]), key


@_SETTINGS
@given(st.lists(situations(), min_size=1, max_size=6))
def test_the_columnar_batch_gives_the_same_recommendations(drawn: list[Any]) -> None:
    """The first-ranked recommendation over the columns (records only for the functions
    without a vector form) is the one over the records."""
    recs = [s[0] for s in drawn]
    _, th, opt, active = drawn[0]
    batch = RecordColumns.from_records(LAYOUT, recs).batch(active, whole=("drugs",))
    batch.records = recs
    got = VECTOR_RULEBOOK.top(batch, th, opt)
    want = VECTOR_RULEBOOK.top(Batch(len(recs), active, records=recs), th, opt)
    assert got.action.tolist() == want.action.tolist()
    assert [got.rules(i) for i in range(len(recs))] == [want.rules(i) for i in range(len(recs))]


def test_fields_cover_the_record_with_their_annotated_kinds() -> None:
    """Each plain field's kind matches its annotation; every field is plain or keyed."""
    kinds = {"bool": "bool", "float": "float", "Days": "float", "Days | None": "float"}
    kinds["int"] = "int"
    for f in dataclasses.fields(PatientRecord):
        if f.name.startswith("_"):
            continue
        if f.name in LAYOUT.keyed:
            assert f.name not in FIELDS
            continue
        assert FIELDS[f.name] == kinds.get(str(f.type), "object"), f.name


def test_a_key_outside_the_vocabulary_is_refused() -> None:
    p = PatientRecord("x", 40, "F", 70)
    p.entered["nowhere"] = 1.0
    with pytest.raises(InvalidPathwayError, match=r"entered holds \['nowhere'\]"):
        RecordColumns.from_records(LAYOUT, [p])
