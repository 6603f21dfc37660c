"""Lab panels of many patients at once equal the scalar model's panels bit for bit (issue 14)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway import AIHPathway, PatientRecord
from simulation.model import disease
from simulation.model.disease import DiseaseModel, ModelConstants, path_value
from simulation.model.draws import PatientStream
from simulation.model.model_arrays import (
    PanelColumns,
    PathArrays,
    activity,
    acute_factor,
    liver_function,
    meld,
    panel,
)
from simulation.model.parameters import load_parameters
from simulation.run.engine import run_patient

_PARAMETERS = load_parameters()
_CONSTANTS = ModelConstants.from_parameters(_PARAMETERS)
_MODEL_STREAM = 2  # the cohort's model stream (simulation.run.cohort)
#: Parameters the panel reads, and factors applied to them by the tests.
_PANEL_PARAMETERS = (
    "labs.noise_log_sd",
    "labs.igg_noise_ratio",
    "labs.inr_noise_ratio",
    "acute.improvement_halflife_days",
    "liver.compensated_bilirubin_factor",
    "liver.compensated_inr_add",
    "shape.acute_worsening_days",
    "shape.acute_slow_recovery_factor",
    "shape.azathioprine_wbc_factor",
)
_KINDS = (
    ("chronic", "none"),
    ("chronic", "compensated"),
    ("chronic", "decompensated"),
    ("acute_severe", "none"),
    ("acute_liver_failure", "none"),
)


def _same_bits(got: np.ndarray, want: list[float]) -> bool:
    return bool(got.tobytes() == np.array(want, dtype=np.float64).tobytes())


_KNOTS = st.lists(
    st.tuples(st.floats(0, 400, allow_nan=False), st.floats(0.0005, 50, allow_nan=False)),
    min_size=1,
    max_size=6,
)


@given(
    paths=st.lists(_KNOTS, min_size=1, max_size=8),
    times=st.lists(st.floats(-50, 1000, allow_nan=False), min_size=8, max_size=8),
)
def test_path_values_are_the_scalar_path_values(
    paths: list[list[tuple[float, float]]], times: list[float]
) -> None:
    """Paths of any number of knots (made as the model makes them), at days before, on,
    between and after their knots: every value equals ``path_value``'s, bit for bit."""
    made = [disease._mk(sorted(p)) for p in paths]
    arrays = PathArrays.of(made)
    t = np.array(times[: len(made)])
    got = arrays.value(t)
    assert _same_bits(got, [path_value(p, x) for p, x in zip(made, t.tolist(), strict=True)])
    # On the knots themselves, and for rows picked in any order.
    rows = np.arange(len(made))[::-1]
    on = np.array([p[min(1, len(p) - 1)][0] for p in made])[rows]
    assert _same_bits(
        arrays.value(on, rows), [path_value(made[r], x) for r, x in zip(rows, on, strict=True)]
    )


@given(st.lists(st.tuples(st.floats(0.0, 80.0), st.floats(0.0, 12.0)), min_size=1))
def test_meld_is_the_scalar_meld(values: list[tuple[float, float]]) -> None:
    """MELD of any bilirubin and INR (below 1, at the bounds, beyond) equals the scalar's."""
    bili, inr = (np.array(v) for v in zip(*values, strict=True))
    f = _CONSTANTS.meld
    want = [disease.meld(b, i, _CONSTANTS.creatinine, f) for b, i in values]
    assert _same_bits(meld(bili, inr, _CONSTANTS.creatinine, f), want)


@given(
    mode=st.integers(0, 2),
    until=st.sampled_from([math.inf, 0.0]) | st.floats(0, 4000),
    days=st.lists(st.floats(0, 4000), min_size=1, max_size=20),
)
def test_acute_factor_is_the_scalar_s(mode: int, until: float, days: list[float]) -> None:
    """The share of the acute excess left, improving, worsening or recovering after the
    worst, on any day: the scalar model's float, bit for bit."""
    rec = PatientRecord("a", age=45, sex="F", weight_kg=70, presentation="acute_severe")
    model = DiseaseModel(rec, _CONSTANTS, PatientStream(1, 0, _MODEL_STREAM), tpmt="normal")
    model.latent.acute_mode, model.latent.acute_until = ("", "improve", "worsen")[mode], until
    cols = PanelColumns.of([model])
    rows = np.zeros(len(days), dtype=np.int64)
    got = acute_factor(cols, _CONSTANTS, np.array(days), rows)
    assert _same_bits(got, [model._acute_factor(d) for d in days])


def _models(
    seed: int, c: ModelConstants, kinds: list[int], horizons: list[float]
) -> list[DiseaseModel]:
    """Patients run through the chart to random days: courses, stages and noise draws vary."""
    return [
        _run(seed, c, i, kind, horizon)
        for i, (kind, horizon) in enumerate(zip(kinds, horizons, strict=True))
    ]


def _run(seed: int, c: ModelConstants, i: int, kind: int, horizon: float) -> DiseaseModel:
    """Patient ``i`` of a kind (:data:`_KINDS`) run through the chart up to ``horizon``."""
    presentation, cirrhosis = _KINDS[kind]
    rec = PatientRecord(
        f"p{i}", age=45, sex="F", weight_kg=70, presentation=presentation, cirrhosis=cirrhosis
    )
    model = DiseaseModel(rec, c, PatientStream(seed, 7 * i + 1, _MODEL_STREAM), tpmt="normal")
    run_patient(AIHPathway(rec), model, horizon_days=horizon)
    return model


def _state(model: DiseaseModel, change: tuple[int, int, bool, bool, float], day: float) -> None:
    """Put a model in a state its course may not reach in a short test: a liver stage, an
    acute excess improving or worsening (growing until ``day`` + a random number of days),
    a transplant, a failed graft."""
    stage, mode, transplanted, failed, until = change
    until += day
    lat = model.latent
    lat.stage = ("none", "compensated", "decompensated")[stage]
    if mode:
        lat.acute_mode = ("", "improve", "worsen")[mode]
        model.acute_bili, model.acute_inr = max(model.acute_bili, 3.0), max(model.acute_inr, 0.4)
        lat.acute_until = until
    lat.transplanted, lat.graft_failed = transplanted, transplanted and failed


_CHANGES = st.tuples(
    st.integers(0, 2),
    st.integers(0, 2),
    st.booleans(),
    st.booleans(),
    st.sampled_from([math.inf, 0.0]) | st.floats(0, 800),
)


@settings(max_examples=25)
@given(
    seed=st.integers(0, 2**32),
    patients=st.lists(
        st.tuples(st.integers(0, len(_KINDS) - 1), st.floats(1, 3 * 365.25), _CHANGES | st.none()),
        min_size=1,
        max_size=6,
    ),
    factors=st.dictionaries(st.sampled_from(_PANEL_PARAMETERS), st.floats(0.25, 4.0)),
    rounds=st.lists(
        st.lists(st.floats(0, 800, allow_nan=False), min_size=6, max_size=6), min_size=1, max_size=4
    ),
)
def test_panels_are_the_scalar_model_s_panels(
    seed: int,
    patients: list[tuple[int, float, Any]],
    factors: dict[str, float],
    rounds: list[list[float]],
) -> None:
    """Random patients (each presentation and stage, run to a random day, some put in a
    transplanted, failed-graft, decompensated or acute state), random panel parameters: the
    array panels of all patients, round after round on each patient's own days, equal the
    scalar model's panels analyte by analyte, bit for bit, at the same noise draw numbers."""
    params = _PARAMETERS.with_overrides({k: _PARAMETERS[k] * f for k, f in factors.items()})
    c = ModelConstants.from_parameters(params)
    models = _models(seed, c, [k for k, _, _ in patients], [h for _, h, _ in patients])
    for model, (_, horizon, change) in zip(models, patients, strict=True):
        if change is not None:
            _state(model, change, horizon)
    cols = PanelColumns.of(models)
    for offsets in rounds:
        days = np.array([h + offsets[i] for i, (_, h, _) in enumerate(patients)])
        # The latent values (hazards compare them) before the panel's noise and rounding.
        rows = np.arange(len(models))
        latent = (*activity(cols, days, rows), *liver_function(cols, c, days, rows))
        scalar = [
            (*m.activity(d), *m._liver_function(d))
            for m, d in zip(models, days.tolist(), strict=True)
        ]
        for k, values in enumerate(latent):
            assert _same_bits(values, [s[k] for s in scalar]), k
        got = panel(cols, c, days)
        want = [m.panel(float(d)) for m, d in zip(models, days, strict=True)]
        for name, values in got.items():
            assert _same_bits(values, [w[name] for w in want]), name
    assert cols.noise_drawn.tolist() == [m.noise_rng.drawn - m.noise_buffered for m in models]


def test_panels_of_some_rows_and_updated_rows() -> None:
    """A panel of some patients advances only their draws; rows rewritten after the scalar
    models moved on (new courses, more panels) give the models' panels again."""
    c = _CONSTANTS
    models = _models(5, c, [0, 1, 2, 3, 4, 0], [30.0, 200.0, 400.0, 10.0, 5.0, 900.0])
    cols = PanelColumns.of(models)
    before = cols.noise_drawn.copy()
    rows = np.array([4, 1, 3])
    days = np.array([500.0, 420.0, 60.0])
    got = panel(cols, c, days, rows)
    want = [models[r].panel(d) for r, d in zip(rows.tolist(), days.tolist(), strict=True)]
    assert _same_bits(got["alt_xuln"], [w["alt_xuln"] for w in want])
    assert (cols.noise_drawn - before).tolist() == [0, 6, 0, 6, 6, 0]
    # Run two patients further in their courses, then rewrite their rows.
    kinds = {0: 0, 3: 3}
    for i, kind in kinds.items():
        models[i] = _run(5, c, i, kind, 1500.0)
    cols.update(np.array([0, 3]), [models[0], models[3]])
    day = np.full(6, 1600.0)
    got = panel(cols, c, day)
    want = [m.panel(1600.0) for m in models]
    for name in got:
        assert _same_bits(got[name], [w[name] for w in want]), name


def test_taken_rows_are_copies_drawing_their_patients_noise() -> None:
    """Rows taken (repeated, reordered) give their source rows' panels; as other patients
    they draw those patients' noise; the source columns are left as they were."""
    c = _CONSTANTS
    models = _models(3, c, [1, 3, 4], [100.0, 20.0, 300.0])
    cols = PanelColumns.of(models)
    before = cols.noise_drawn.copy()
    rows = np.array([2, 0, 2])
    same = panel(cols.take(rows), c, 400.0)
    assert cols.noise_drawn.tolist() == before.tolist()
    want = [models[r].panel(400.0) for r in (2, 0)]
    assert _same_bits(same["inr"][:2], [w["inr"] for w in want])
    assert same["alt_xuln"][0] == same["alt_xuln"][2]  # the same patient, the same draws
    other = panel(cols.take(rows, patients=np.array([50, 51, 52])), c, 400.0)
    assert other["alt_xuln"][0] != other["alt_xuln"][2]


def test_columns_need_counter_based_streams() -> None:
    """A model drawing from a numpy Generator has no draw numbers: a clear error."""
    rec = PatientRecord("g", age=45, sex="F", weight_kg=70)
    model = DiseaseModel(rec, _CONSTANTS, np.random.default_rng(1), tpmt="normal")
    with pytest.raises(ValueError, match="expected a counter-based PatientStream"):
        PanelColumns.of([model])
    other = DiseaseModel(rec, _CONSTANTS, PatientStream(9, 0, _MODEL_STREAM), tpmt="normal")
    mine = DiseaseModel(rec, _CONSTANTS, PatientStream(8, 1, _MODEL_STREAM), tpmt="normal")
    with pytest.raises(ValueError, match="expected one seed"):
        PanelColumns.of([other, mine])
