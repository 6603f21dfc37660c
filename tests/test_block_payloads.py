"""Lab panels checked as arrays in a block equal the runtime's checks (issue 14).

:meth:`pathway.block.BlockPathway.observe` checks the ``labs`` payloads of all its rows as
arrays where AIH declares how (:data:`pathway.guidelines.aih.block.LAB_PAYLOAD`) and falls
back to the scalar ``check_payload`` for anything else. Hypothesis draws panels (valid,
out of range, NaN, infinite, bool, int, text, unknown names, missing analytes, empty,
ready-made :class:`LabPanel` objects) for a few fresh patients; the block's steps and
records, or its error, must be the compiled runtime's patient by patient (the first bad
row's error), and the array path must be the one taken exactly when every payload is a
plain dict of valid numbers.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway import block as block_module
from pathway.block import BlockPathway, NumbersPayload
from pathway.compiled import CompiledPathway
from pathway.guidelines.aih.block import AIH_BLOCK, LAB_PAYLOAD
from pathway.guidelines.aih.bundle import GUIDELINE
from pathway.guidelines.aih.patient import LAB_RANGES, LabPanel, PatientRecord
from pathway.records import record_to_dict
from pathway.runtime import _detail

_NAMES = tuple(LAB_RANGES)


def _value(name: str) -> st.SearchStrategy[Any]:
    low, high = LAB_RANGES[name]
    valid = st.floats(low, high) | st.integers(math.ceil(low), int(high))
    edges = st.sampled_from([low, high, float(low), float(high)])
    bad = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**400), 10**400),
        st.booleans(),
        st.sampled_from(["1.0", None, np.float64(low), [1.0]]),
    )
    return st.one_of(valid, valid, valid, edges, bad)


_valid_panel = st.lists(st.sampled_from(_NAMES), min_size=1, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({n: st.floats(*LAB_RANGES[n]) for n in names})
)
_any_panel = st.lists(
    st.sampled_from((*_NAMES, "alt", "{x}")), min_size=0, max_size=9, unique=True
).flatmap(
    lambda names: st.fixed_dictionaries(
        {n: _value(n) if n in LAB_RANGES else st.floats(0.0, 1.0) for n in names}
    )
)
_payload = st.one_of(
    _valid_panel,
    _valid_panel,
    _any_panel,
    st.sampled_from([None, 1.0, "labs", LabPanel(0.0, alt_xuln=2.0)]),
)


@contextlib.contextmanager
def _array_checks() -> Iterator[list[bool]]:
    """Notes, per call of the block's array check, whether it took the payloads."""
    taken: list[bool] = []
    inner = block_module._numbers_checked

    def spy(*args: Any) -> Any:
        out = inner(*args)
        taken.append(out is not None)
        return out

    with mock.patch.object(block_module, "_numbers_checked", spy):
        yield taken


def _record(i: int) -> PatientRecord:
    return PatientRecord(f"P{i}", age=40.0 + i, sex="FM"[i % 2], weight_kg=70.0)


def _all_valid(payloads: list[Any]) -> bool:
    def ok(name: str, v: Any) -> bool:
        if name not in LAB_RANGES or type(v) not in (int, float):
            return False
        low, high = LAB_RANGES[name]
        return bool(low <= v <= high)

    return all(type(p) is dict and p and all(ok(k, v) for k, v in p.items()) for p in payloads)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=st.lists(st.one_of(_valid_panel, _valid_panel, _payload), min_size=1, max_size=6))
def test_lab_payloads_checked_as_arrays_equal_the_runtime(payloads: list[Any]) -> None:
    n = len(payloads)
    block = BlockPathway(AIH_BLOCK, [_record(i) for i in range(n)])
    charts = [CompiledPathway(_record(i)) for i in range(n)]
    want: list[Any] = []
    error = None
    for chart, payload in zip(charts, payloads, strict=True):
        try:
            want.append(chart.observe("labs", payload, day=0.0))
        except Exception as exc:
            error = exc
            break
    with _array_checks() as taken:
        if error is not None:
            with pytest.raises(type(error)) as got:
                block.observe(np.arange(n), "labs", payloads, 0.0)
            assert str(got.value) == str(error)  # the first bad row's error
            assert all(t == [] for t in block.traces)  # nothing changed
        else:
            steps = block.observe(np.arange(n), "labs", payloads, 0.0)
            assert steps == want
            for i, chart in enumerate(charts):
                assert block.traces[i] == chart.trace
                assert record_to_dict(block.record(i)) == record_to_dict(chart.patient)
    assert taken == [_all_valid(payloads)], payloads  # arrays exactly when all are valid


@settings(max_examples=60, deadline=None)
@given(payloads=st.lists(_payload, min_size=1, max_size=8), day=st.floats(0.0, 5000.0))
def test_check_payloads_equal_the_scalar_check(payloads: list[Any], day: float) -> None:
    """Payloads, effect values (the dated panels) and details, or the error."""
    block = BlockPathway(AIH_BLOCK, [_record(i) for i in range(2)])
    days = np.full(len(payloads), day)
    error: Exception | None = None
    try:
        checked = [GUIDELINE.check_payload("labs", p, day) for p in payloads]
    except Exception as exc:
        error = exc
    if error is not None:
        with pytest.raises(type(error)) as got:
            block.check_payloads("labs", payloads, days)
        assert str(got.value) == str(error)
        return
    values, effect_values, details = block.check_payloads("labs", payloads, days)
    assert values == [c[0] for c in checked]
    assert effect_values == [c[1] for c in checked]
    assert [type(v) for v in effect_values] == [LabPanel] * len(payloads)
    assert details == [_detail(c[0]) for c in checked]


def test_model_panels_take_the_array_path() -> None:
    """Panels as the patient model makes them (every analyte, floats; some rows with fewer
    analytes, ints) are checked without the scalar check, per-row days kept."""
    block = BlockPathway(AIH_BLOCK, [_record(i) for i in range(4)])
    panels: list[Any] = [
        {n: (LAB_RANGES[n][0] + LAB_RANGES[n][1]) / 3 for n in _NAMES},
        {"alt_xuln": 3, "inr": 1.25},
        {n: LAB_RANGES[n][1] for n in _NAMES},
        {"alt_xuln": 3.0, "inr": 1},
    ]
    days = np.array([0.0, 1.5, 2.0, 7.0])
    with _array_checks() as taken:
        values, made, details = block.check_payloads("labs", panels, days)
    assert taken == [True]
    assert values == panels
    assert made == [LabPanel.from_mapping(d, p) for d, p in zip(days.tolist(), panels, strict=True)]
    assert details == [_detail(p) for p in panels]
    assert details[1] == "alt_xuln=3;inr=1.25"


def test_toy_guideline_declares_no_payload_arrays() -> None:
    """A finding without a declaration is checked row by row (the toy guideline's scores
    go through tests/test_block.py); a declaration is a plain value object."""
    assert AIH_BLOCK.payloads == {"labs": LAB_PAYLOAD}
    assert isinstance(LAB_PAYLOAD, NumbersPayload)
    assert dict(LAB_PAYLOAD.ranges) == LAB_RANGES
