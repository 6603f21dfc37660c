"""A round's visit panels and next events from the model block equal the scalar models'
(issue 14).

:class:`simulation.model.model_block.ModelColumns` answers the lockstep driver's questions
to a block's models; here every group of its answers is compared, bit for bit, with what
each scalar model answers from a copy taken just before, on random courses.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway import Thresholds
from pathway.vector import Batch, column
from simulation.model import model_arrays
from simulation.model.disease import DiseaseModel, ModelConstants
from simulation.model.hazard_conditions import FLARE_CASES, Situation, flare_case, hazards_on
from simulation.model.hazards import Clock
from simulation.model.model_arrays import noise_at
from simulation.model.model_block import ModelColumns, panel_key
from simulation.model.parameters import load_parameters
from simulation.model.policies import STRATEGIES
from simulation.run import cohort
from simulation.run.cohort import RunSettings, load_cohort, start_patient
from simulation.run.engine import next_event, run_patient
from simulation.run.lockstep import ChartList, run_lockstep

_PARAMETERS = load_parameters()
_CONSTANTS = ModelConstants.from_parameters(_PARAMETERS)


def _bits(panel: dict[str, float] | None) -> Any:
    return None if panel is None else [(k, v.hex()) for k, v in panel.items()]


class _Checked(ModelColumns):
    """:class:`ModelColumns` whose every next event and visit panel is compared with the
    scalar model's."""

    panels = 0
    stale = 0
    plans = 0
    read = 0

    situated = 0

    def next_events(self, rows: Any) -> Any:
        charts = [self._scalar.block.chart(r) for r in rows]
        twins: list[DiseaseModel] = copy.deepcopy([self.models[r] for r in rows])
        for twin in twins:  # the twins plan with scalar clocks, not rows of the block
            twin.use_clocks({name: _scalar_clock(c) for name, c in twin.clocks.items()})
        want = [next_event(c, t) for c, t in zip(charts, twins, strict=True)]
        got = super().next_events(rows)
        assert got == want
        for row, twin in zip(rows, twins, strict=True):
            assert self.models[row].plan == twin.plan
            assert _clock_bits(self.models[row]) == _clock_bits(twin)
        type(self).plans += len(rows)
        return got

    def situations(
        self, rows: Any, charts: Any, models: Any, day: Any, labs: dict[str, Any]
    ) -> Batch:
        """The batch, checked against each model's scalar situation and the scalar hazard
        conditions and flare case of each row."""
        batch = super().situations(rows, charts, models, day, labs)
        latent = zip(*(labs[k].tolist() for k in ("alt", "igg", "meld")), strict=True)
        scalar = [
            m.situation(c.patient, d, numbers)
            for m, c, d, numbers in zip(models, charts, day.tolist(), latent, strict=True)
        ]
        for name in Situation.__slots__:
            got, want = batch.column(name), column([getattr(s, name) for s in scalar])
            assert [_value(v) for v in got.tolist()] == [_value(v) for v in want.tolist()], name
        assert self.limits is not None
        on = model_arrays.hazards_on(batch, self.limits)
        cases = model_arrays.flare_cases(batch, self.limits)
        for i, (s, chart) in enumerate(zip(scalar, charts, strict=True)):
            want_on = hazards_on(s, self.limits, chart.active)
            assert {k: bool(v[i]) for k, v in on.items()} == {
                k: bool(v) for k, v in want_on.items()
            }
            case = flare_case(s, self.limits, chart.active)
            assert (FLARE_CASES[cases[i]].name if cases[i] >= 0 else "") == case
        type(self).situated += len(scalar)
        return batch

    def visit_labs(self, rows: Any, days: Any) -> Any:
        charts = [self._scalar.block.chart(r) for r in rows]
        twins: list[DiseaseModel] = copy.deepcopy([self.models[r] for r in rows])
        want = [t.visit_labs(c, d) for t, c, d in zip(twins, charts, days, strict=True)]
        got = super().visit_labs(rows, days)
        assert [_bits(g) for g in got] == [_bits(w) for w in want]
        for row, twin in zip(rows, twins, strict=True):
            model = self.models[row]
            assert noise_at(model) == noise_at(twin)
            assert model.visit_day == twin.visit_day
        type(self).panels += sum(g is not None for g in got)
        return got

    def _refresh(self, rows: Any) -> None:
        before = list(self._keys)
        super()._refresh(rows)
        type(self).stale += sum(a != b for a, b in zip(before, self._keys, strict=True))


def _scalar_clock(clock: Clock) -> Clock:
    """A plain scalar clock in ``clock``'s state (its stream copied)."""
    out = Clock.__new__(Clock)  # not Clock(): that draws a budget from the stream
    out.name, out.rng = clock.name, copy.deepcopy(clock.rng)
    out.budget, out.since, out.origin, out.hazard = (
        clock.budget,
        clock.since,
        clock.origin,
        clock.hazard,
    )
    return out


def _clock_bits(m: DiseaseModel) -> list[Any]:
    """Every clock's state, floats as their bits, and its stream's position."""
    return [
        (
            name,
            c.budget.hex(),
            c.since.hex(),
            c.origin.hex(),
            [(a.hex(), b.hex()) for a, b in c.hazard],
            c.rng.drawn,
        )
        for name, c in m.clocks.items()
    ]


def _value(v: Any) -> Any:
    """A column value comparable across columns (NaN: None; floats as bits)."""
    if isinstance(v, float):
        return None if math.isnan(v) else v.hex()
    return v


def _settings(seed: int, policy: str, years: float, relapse: float | None) -> RunSettings:
    th = Thresholds() if relapse is None else Thresholds().with_overrides(relapse_alt_xuln=relapse)
    return RunSettings(load_cohort(), _PARAMETERS, th, seed, policy, years * 365.25)


def _check(s: RunSettings, n: int) -> None:
    """Run ``n`` patients in one block with checked panels; their courses must be those of
    the patients run one by one."""
    alone = [start_patient(s, i, _CONSTANTS) for i in range(n)]
    for p in alone:
        run_patient(p.chart, p.model, horizon_days=s.horizon_days, policy=p.policy)
    patients = [start_patient(s, i, _CONSTANTS) for i in range(n)]
    block = ChartList([p.chart for p in patients], [p.policy for p in patients])
    models = [p.model for p in patients]
    run_lockstep(block, models, s.horizon_days, _Checked(block, models, _CONSTANTS))
    for a, b in zip(alone, patients, strict=True):
        assert b.chart.trace == a.chart.trace
        assert b.chart.patient == a.chart.patient
        assert noise_at(b.model) == noise_at(a.model)


def test_visit_panels_of_a_block_are_the_scalar_panels() -> None:
    """30 patients x 10 years: every next event and plan, every visit panel, the noise
    position and the visit day of every model equal the scalar model's; rows are re-read as
    their courses change."""
    _Checked.panels = _Checked.stale = _Checked.plans = _Checked.situated = 0
    _check(_settings(20251205, "guideline", 10.0, None), 30)
    assert _Checked.panels > 30 * 20
    assert _Checked.plans > 30 * 40
    assert _Checked.situated > 30 * 40
    assert _Checked.stale > 30  # new courses, stages, azathioprine: rows read again


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    policy=st.sampled_from(sorted(STRATEGIES)),
    years=st.sampled_from([0.5, 3.0, 8.0]),
    relapse=st.sampled_from([None, 2.0, 5.0]),
)
def test_visit_panels_for_any_cohort(
    seed: int, policy: str, years: float, relapse: float | None
) -> None:
    """Any seed, policy, horizon and threshold override: the same panels and courses."""
    _check(_settings(seed, policy, years, relapse), 12)


def test_panel_key_follows_what_a_panel_reads() -> None:
    """The key changes with the course, the stage, a transplant and azathioprine, and a
    panel of a row whose key changed is the scalar panel of its new state."""
    s = _settings(3, "guideline", 1.0, None)
    patients = [start_patient(s, i, _CONSTANTS) for i in range(4)]
    block = ChartList([p.chart for p in patients], [p.policy for p in patients])
    models = [p.model for p in patients]
    asked = ModelColumns(block, models, _CONSTANTS)
    m = models[2]
    key = panel_key(m)
    m.latent.stage = "decompensated"
    assert panel_key(m) != key
    m.latent.transplanted = True
    m.course = m._new_course("post_transplant", 10.0, anchor=(2.0, 1.5))
    twin = copy.deepcopy(m)
    got = asked.visit_labs([2, 0], [20.0, 20.0])
    assert _bits(got[0]) == _bits(twin.visit_labs(block.chart(2), 20.0))
    assert got[1] is not None
    # A second visit on the same day takes no sample and draws no noise.
    drawn = noise_at(m)
    assert asked.visit_labs([2], [20.0]) == [None]
    assert noise_at(m) == drawn


def test_models_need_counter_based_streams() -> None:
    """Models drawing from a numpy generator are refused (their draws have no counter)."""
    s = _settings(3, "guideline", 1.0, None)
    p = start_patient(s, 0, _CONSTANTS)
    model = DiseaseModel(p.record, _CONSTANTS, np.random.default_rng(1))
    with pytest.raises(ValueError, match="counter-based"):
        ModelColumns(ChartList([p.chart], [p.policy]), [model], _CONSTANTS)
    assert math.isinf(model.visit_day)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), relapse=st.sampled_from([None, 3.0]))
def test_a_columnar_block_reads_what_each_chart_reads(seed: int, relapse: float | None) -> None:
    """The vector engine's block (``BlockCharts``): every next event, plan, clock state,
    situation column, hazard condition and flare case equal the scalar model's on that
    row's chart, and what ``catch_up`` reads off the columns (day, doses, drugs, active
    states) is what the row's chart gives."""
    s = dataclasses.replace(_settings(seed, "guideline", 6.0, relapse), engine="vector")

    class _Block(_Checked):
        def _chart_now(self, rows: Any) -> Any:
            got = super()._chart_now(rows)
            for row, now in zip(rows, got, strict=True):
                chart = self._scalar.block.chart(row)
                p = chart.patient
                want = (p.day, p.dose("prednisolone"), p.dose("azathioprine"))
                assert now is not None
                assert (now.day, now.prednisolone, now.azathioprine) == want
                assert now.drugs == frozenset(p.drugs)
                assert now.active == chart.active
            type(self).read += len(got)
            return got

    _Block.plans = _Block.situated = _Block.read = 0
    original = cohort.ModelColumns
    cohort.ModelColumns = _Block  # type: ignore[misc]
    try:
        results = cohort.simulate_block(s, (0, 12), _CONSTANTS)
    finally:
        cohort.ModelColumns = original  # type: ignore[misc]
    assert _Block.plans > 12 * 10
    assert _Block.read == _Block.situated > 12 * 10
    compiled = dataclasses.replace(s, engine="compiled")
    assert results == [cohort.simulate_patient(compiled, i, _CONSTANTS) for i in range(12)]
