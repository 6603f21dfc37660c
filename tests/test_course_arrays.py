"""Baselines and courses of many patients at once equal the scalar model's bit for bit
(issue 14): the draws at the scalar model's draw numbers, the shapes by the same formulas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pathway import AIHPathway, PatientRecord
from simulation.model import courses as shapes_module
from simulation.model.course_arrays import (
    ARRAY_SHAPE_OPS,
    COURSE_DRAWS,
    CourseColumns,
    Diagnosis,
    baselines,
    course_draws,
    course_uniforms,
    initial_columns,
    optimise,
    reshape,
    start_courses,
)
from simulation.model.courses import COURSE_CLASSES, EMERGENCY_OUTCOMES, INDUCING_KINDS
from simulation.model.disease import FLOAT_SHAPE_OPS, DiseaseModel, ModelConstants
from simulation.model.draws import PatientStream
from simulation.model.model_arrays import PanelColumns, PathArrays, _widen, panel
from simulation.model.parameters import ParameterSet, load_parameters
from simulation.run.engine import run_patient

_PARAMETERS = load_parameters()
_CONSTANTS = ModelConstants.from_parameters(_PARAMETERS)
_MODEL_STREAM = 2  # the cohort's model stream (simulation.run.cohort)
_PRESENTATIONS = ("chronic", "acute_severe", "acute_liver_failure")
_STAGES = ("none", "compensated", "decompensated")
#: Parameters the baseline reads, and those a course's shape reads (factors are drawn).
_BASELINE_PARAMETERS = (
    "baseline.alt_log_sd",
    "baseline.igg_log_sd",
    "baseline.acute_bilirubin_median_mg_dl",
    "baseline.acute_inr_max",
    "acute.failure_meld_log_odds",
    "acute.steroid_failure",
    "transplant.graft_alt_median_xuln",
    "shape.platelets_log_sd",
    "liver.recompensation",
    "alf.death",
    "alf.outcome_mean_days",
    "acute.failure_transplant",
    "tpmt.result_max_delay_days",
    "mortality.gompertz_a_female",
    "mortality.gompertz_b_male",
    "mortality.aih_excess_hr",
)
_COURSE_PARAMETERS = (
    "response.floor_log_sd",
    "response.igg_floor_log_sd",
    "response.time_to_cbr_median_days",
    "response.optimised_time_to_cbr_median_days",
    "response.nonresponse_ratio_max",
    "response.insufficient_alt_floor_median_xuln",
    "response.cbr_alt_floor_median_xuln",
    "response.optimised_azathioprine_odds_ratio",
    "response.budesonide_odds_ratio",
    "response.mmf_after_failure",
    "response.third_line_cbr",
    "shape.flare_alt_log_sd",
    "shape.flare_igg_log_sd",
    "shape.insufficient_igg_log_sd",
    "shape.normal_edge_xuln",
    "shape.recurrence_flare_decay",
)
_REGIMENS = (
    (),
    ("prednisolone",),
    ("prednisolone", "azathioprine"),
    ("budesonide", "azathioprine"),
    ("budesonide",),
    ("prednisolone", "mycophenolate"),
    ("mycophenolate",),
    ("prednisolone", "tacrolimus"),
    ("infliximab",),
    ("rituximab", "prednisolone"),
)
_REASONS = ("", "failure", "intolerance")
#: What a round does to a patient: start a course of a kind, or change the current one.
_ACTIONS = (
    "first_line",
    "second_line",
    "third_line",
    "reinduction",
    "post_transplant",
    "flare",
    "untreated",
    "nonadherent",
    "readherent",
    "optimise",
    "switch",
    "regimen",
)


def _same(got: np.ndarray, want: Sequence[Any]) -> bool:
    """Bit for bit (floats), or equal (other kinds)."""
    expected = np.array(want, dtype=got.dtype)
    if got.dtype == object:
        return bool((got == expected).all())
    return bool(got.tobytes() == expected.tobytes())


def _constants(factors: dict[str, float]) -> ModelConstants:
    params: ParameterSet = _PARAMETERS.with_overrides(
        {k: _PARAMETERS[k] * f for k, f in factors.items()}
    )
    try:
        return ModelConstants.from_parameters(params)
    except ValueError:  # a probability pushed beyond 1, a response share left empty
        assume(False)
        raise


def _model(
    c: ModelConstants,
    seed: int,
    i: int,
    presentation: str,
    stage: str,
    who: tuple[str, float, str, str] = ("F", 45.0, "normal", "normal"),
) -> DiseaseModel:
    """Patient ``i``; ``who``: sex, age, TPMT on the record and true TPMT."""
    sex, age, tpmt, truth = who
    rec = PatientRecord(
        f"p{i}",
        age=age,
        sex=sex,
        weight_kg=70,
        presentation=presentation,
        cirrhosis=stage,
        tpmt=tpmt,
    )
    return DiseaseModel(rec, c, PatientStream(seed, i, _MODEL_STREAM), tpmt=truth)


def _queued(model: DiseaseModel, kind: str) -> float:
    """Day of the model's queued event ``kind`` (NaN: none)."""
    days = [day for day, _, _, k, _ in model._queue if k == kind]
    return days[0] if days else math.nan


def _same_paths(got: PathArrays, want: Sequence[Any]) -> bool:
    """Padded knot arrays equal to the scalar paths' (``PathArrays.of``), at any width."""
    expected = PathArrays.of(list(want))
    width = max(got.times.shape[1], expected.times.shape[1])
    a, b = _widen(got, width), _widen(expected, width)
    return all(
        getattr(a, name).tobytes() == getattr(b, name).tobytes()
        for name in ("times", "logs", "size")
    )


def _assert_columns_are_the_models(
    cols: PanelColumns, courses: CourseColumns, models: Sequence[DiseaseModel]
) -> None:
    """Every panel and course column equals the one read off the scalar models."""
    want_panel, want_courses = PanelColumns.of(models), CourseColumns.of(models)
    for f in fields(cols):
        got, want = getattr(cols, f.name), getattr(want_panel, f.name)
        if isinstance(got, PathArrays):
            assert _same_paths(got, [getattr(m.course, f"{f.name}_path") for m in models]), f.name
        elif isinstance(got, np.ndarray):
            assert _same(got, want.tolist()), f.name
        else:
            assert got == want, f.name
    for f in fields(courses):
        got, want = getattr(courses, f.name), getattr(want_courses, f.name)
        if isinstance(got, np.ndarray):
            assert got.shape == want.shape, f.name
            assert _same(got, want.tolist()), f.name
        else:
            assert got == want, f.name


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**40),
    patients=st.lists(
        st.tuples(
            st.sampled_from(_PRESENTATIONS),
            st.sampled_from(_STAGES),
            st.tuples(
                st.sampled_from(["F", "M"]),
                st.floats(18.0, 100.0),
                st.sampled_from(["unknown", "normal"]),
                st.sampled_from(["unknown", "normal", "deficient"]),
            ),
        ),
        min_size=1,
        max_size=12,
    ),
    factors=st.dictionaries(st.sampled_from(_BASELINE_PARAMETERS), st.floats(0.25, 2.0)),
)
def test_baselines_are_the_scalar_model_s(
    seed: int,
    patients: list[tuple[str, str, tuple[str, float, str, str]]],
    factors: dict[str, float],
) -> None:
    """Random seeds, presentations, liver stages, sexes, ages, TPMT statuses and baseline
    parameters: the columns at diagnosis made from the arrays (no scalar model) equal those
    read off freshly built scalar models, bit for bit; so do the baseline ALT and IgG, the
    graft's ALT, the acute excess and whether it improves, the acute emergency's outcome and
    delay, transplant candidacy, recompensation, the TPMT result day and the background
    death day."""
    c = _constants(factors)
    index = np.arange(len(patients), dtype=np.int64) * 3 + 1
    models = [
        _model(c, seed, int(i), p, s, who)
        for i, (p, s, who) in zip(index.tolist(), patients, strict=True)
    ]
    dx = Diagnosis.of([m.record for m in models], [who[3] for _, _, who in patients])
    cols, courses, base = initial_columns(c, seed, index, _MODEL_STREAM, dx)
    _assert_columns_are_the_models(cols, courses, models)
    for name in ("alt0", "igg0", "graft_alt"):
        assert _same(getattr(base.labs, name), [getattr(m, name) for m in models]), name
    assert base.candidate.tolist() == [m.candidate for m in models]
    assert base.recompensates.tolist() == [m.latent.recompensates for m in models]
    emergencies = [m._emergency for m in models]
    assert [EMERGENCY_OUTCOMES[k] if k >= 0 else None for k in base.emergency] == [
        e.outcome if e else None for e in emergencies
    ]
    assert _same(base.emergency_delay, [e.delay if e else math.nan for e in emergencies])
    tpmt_now = [0.0 if m._tpmt_now else _queued(m, "tpmt") for m in models]
    assert _same(base.tpmt_delay, tpmt_now)
    assert _same(base.death_day, [_queued(m, "death") for m in models])
    # The first panel, from columns no scalar model made.
    got = panel(cols, c, np.zeros(len(models)))
    want = [m.panel(0.0) for m in models]
    for name, values in got.items():
        assert _same(values, [w[name] for w in want]), name
    alone = baselines(c, seed, index, _MODEL_STREAM, dx)
    assert alone.acute_mode.tolist() == cols.acute_mode.tolist()


def _run(c: ModelConstants, seed: int, i: int, presentation: str, horizon: float) -> DiseaseModel:
    """Patient ``i`` run through the chart to ``horizon``: courses, regimens and draws vary."""
    model = _model(c, seed, i, presentation, "none")
    run_patient(AIHPathway(model.record), model, horizon_days=horizon)
    return model


def _chart(drugs: tuple[str, ...]) -> Any:
    """What ``_fire`` and ``_optimise`` read of a chart: the record's drugs and doses."""
    patient = SimpleNamespace(
        drugs=drugs,
        dose=lambda d: 1e4 if d == "azathioprine" and d in drugs else None,
        on=lambda d: d in drugs,
    )
    return SimpleNamespace(patient=patient, active=frozenset())


def _act(model: DiseaseModel, action: str, day: float, drugs: tuple[str, ...], reason: str) -> bool:
    """Apply ``action`` to the scalar model as the model's own code paths do; false where the
    action does not apply to the patient's current course (nothing changed)."""
    course = model.course
    if action in ("first_line", "second_line", "third_line", "reinduction", "post_transplant"):
        if action == "post_transplant":
            model.latent.transplanted = True
        model.course = model._new_course(
            action, day, anchor=model.activity(day), drugs=drugs, reason=reason
        )
    elif action in ("flare", "untreated"):
        model.course = model._new_course(action, day, anchor=model.activity(day))
    elif action == "nonadherent":
        model._fire(_chart(drugs), day, "nonadherence")
    elif action == "readherent":
        if course.kind != "nonadherent" or model.latent.nonadherent_since is None:
            return False
        assert model._optimise(_chart(drugs).patient, day)
    elif action == "optimise":
        if course.kind not in INDUCING_KINDS or course.cls == "complete":
            return False
        assert model._optimise(_chart((*drugs, "azathioprine")).patient, day)
    elif action == "switch":
        if course.kind not in INDUCING_KINDS:
            return False
        course.kind, course.reason = "second_line", "intolerance"
        model._shape(course, drugs, course.anchor)
    else:
        model._shape(course, drugs, course.anchor)
    return True


def _act_on_arrays(
    cols: PanelColumns,
    courses: CourseColumns,
    c: ModelConstants,
    action: str,
    rows: np.ndarray,
    day: np.ndarray,
    drugs: list[tuple[str, ...]],
    reason: list[str],
) -> None:
    """The same action on the columns of ``rows``."""
    if action == "optimise":
        raised = np.ones(len(rows), dtype=bool)
        optimise(cols, courses, c, rows, day, [(*d, "azathioprine") for d in drugs], raised)
    elif action == "switch":
        courses.kind[rows], courses.reason[rows] = "second_line", "intolerance"
        reshape(cols, courses, c, rows, drugs)
    elif action == "regimen":
        reshape(cols, courses, c, rows, drugs)
    else:
        if action == "post_transplant":
            cols.transplanted[rows] = True
        no_regimen = action in ("flare", "untreated", "nonadherent", "readherent")
        start_courses(
            cols,
            courses,
            c,
            rows,
            action,
            day,
            [() for _ in drugs] if no_regimen else drugs,
            None if no_regimen else reason,
        )


_ROUND = st.lists(
    st.tuples(
        st.sampled_from(_ACTIONS),
        st.integers(0, len(_REGIMENS) - 1),
        st.sampled_from(_REASONS),
        st.floats(0.0, 400.0),
    ),
    min_size=8,
    max_size=8,
)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**40),
    patients=st.lists(
        st.tuples(st.sampled_from(_PRESENTATIONS), st.floats(1.0, 3 * 365.25), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    factors=st.dictionaries(st.sampled_from(_COURSE_PARAMETERS), st.floats(0.5, 1.5)),
    rounds=st.lists(_ROUND, min_size=1, max_size=4),
)
def test_course_starts_are_the_scalar_model_s(
    seed: int,
    patients: list[tuple[str, float, bool]],
    factors: dict[str, float],
    rounds: list[list[tuple[str, int, str, float]]],
) -> None:
    """Patients run through the chart to random days (some then transplanted), random
    course parameters; round after round, each patient's course restarts on its own later
    day with a random kind (every inducing kind on random regimens and switch reasons, a
    transplant, a flare, a lapse of adherence and its end) or is re-read (an optimisation,
    a switch for intolerance, a regimen change): the course columns after each round (class,
    knots, start, anchor, draws and draw numbers) equal the scalar model's bit for bit, and
    so do the next panels."""
    c = _constants(factors)
    models = [_run(c, seed, 5 * i + 2, p, h) for i, (p, h, _) in enumerate(patients)]
    for model, (_, _, transplanted) in zip(models, patients, strict=True):
        model.latent.transplanted = transplanted
    cols, courses = PanelColumns.of(models), CourseColumns.of(models)
    days = np.array([h for _, h, _ in patients])
    for actions in rounds:
        days = days + np.array([a[3] for a in actions[: len(models)]])
        done: dict[str, list[int]] = {}
        for i, (model, (action, regimen, reason, _)) in enumerate(
            zip(models, actions, strict=False)
        ):
            if _act(model, action, float(days[i]), _REGIMENS[regimen], reason):
                done.setdefault(action, []).append(i)
        for action, rows in done.items():
            picked = [actions[i] for i in rows]
            _act_on_arrays(
                cols,
                courses,
                c,
                action,
                np.array(rows, dtype=np.int64),
                days[rows],
                [_REGIMENS[r] for _, r, _, _ in picked],
                [reason for _, _, reason, _ in picked],
            )
        _assert_columns_are_the_models(cols, courses, models)
        assert courses.cls.tolist() == [COURSE_CLASSES.index(m.course.cls) for m in models]
        later = days + 30.0
        got = panel(cols, c, later)
        want = [m.panel(float(d)) for m, d in zip(models, later, strict=True)]
        for name, values in got.items():
            assert _same(values, [w[name] for w in want]), name


def test_every_course_class_and_path_shape_is_reached() -> None:
    """The array shapes take every branch of the formula in one batch (the rows' classes
    and knot counts differ), and each row equals the scalar shape: complete responses
    falling below normal by week 4 or later, insufficient ones with IgG only or ALT
    levelling off above or below, non-responses."""
    c = _CONSTANTS
    n = 400
    models = [_model(c, 11, i, "chronic", "none") for i in range(n)]
    cols, courses = PanelColumns.of(models), CourseColumns.of(models)
    # Anchors from just above normal to far above it, so every ALT branch is taken.
    for i, m in enumerate(models):
        m.course = m._new_course(
            "first_line",
            0.0,
            anchor=(0.5 + 20.0 * i / n, 0.5 + 3.0 * (i % 7) / 7),
            drugs=("prednisolone", "azathioprine"),
        )
    rows = np.arange(n)
    courses.kind[rows], courses.reason[rows] = "first_line", ""
    courses.anchor_alt[:] = [m.course.anchor[0] for m in models]
    courses.anchor_igg[:] = [m.course.anchor[1] for m in models]
    courses.z[:], courses.u[:] = course_draws(
        courses.seed, courses.patients, courses.stream, courses.drawn
    )
    courses.drawn += np.uint64(COURSE_DRAWS)
    reshape(cols, courses, c, rows, [("prednisolone", "azathioprine")] * n)
    _assert_columns_are_the_models(cols, courses, models)
    assert set(courses.cls.tolist()) == {2, 3, 4}
    assert set(cols.alt.size.tolist()) == {2, 3, 4}
    assert len({len(m.course.igg_path) for m in models}) >= 2


def test_erf_runs_the_scalar_function_and_knots_floor_and_space() -> None:
    """The array erf is ``math.erf`` on each value (numpy has none); knots of both forms
    floor their values and keep a day between knots."""
    x = np.linspace(-8.0, 8.0, 1001)
    assert _same(ARRAY_SHAPE_OPS.erf(x), [math.erf(v) for v in x.tolist()])
    points = [(0, 0.0), (0, 5.0), (3.0, 2.0), (2.0, 1e-9)]
    one = shapes_module.knots(FLOAT_SHAPE_OPS, points)
    many = shapes_module.knots(ARRAY_SHAPE_OPS, [(t, np.full(3, v)) for t, v in points])
    assert [t for t, _ in one] == [0, 1.0, 3.0, 4.0]
    assert _same_paths(many, [one] * 3)


def test_course_columns_need_counter_based_streams() -> None:
    """A model drawing from a numpy Generator has no draw numbers: a clear error."""
    rec = PatientRecord("g", age=45, sex="F", weight_kg=70)
    model = DiseaseModel(rec, _CONSTANTS, np.random.default_rng(1), tpmt="normal")
    with pytest.raises(ValueError, match="expected a counter-based PatientStream"):
        CourseColumns.of([model])


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**40),
    horizons=st.lists(st.floats(1.0, 3 * 365.25), min_size=1, max_size=5),
    draws=st.integers(1, 3),
)
def test_single_course_draws_are_the_scalar_model_s(
    seed: int, horizons: list[float], draws: int
) -> None:
    """The uniform a decompensation with active disease draws from the course stream
    (whether it recompensates) is the arrays' next course uniform of that patient, at the
    same draw number, once or more in a row."""
    c = _CONSTANTS
    models = [_run(c, seed, 3 * i, "chronic", h) for i, h in enumerate(horizons)]
    courses = CourseColumns.of(models)
    for _ in range(draws):
        before = courses.drawn.copy()
        for m, day in zip(models, horizons, strict=True):
            m._fire(_chart(()), day + 1.0, "decompensation")
        drew = np.flatnonzero(courses.drawn < _course_drawn(models))
        got = course_uniforms(courses, drew)
        for u, i in zip(got.tolist(), drew.tolist(), strict=True):
            rng = cast(PatientStream, models[i]._course_rng)
            stream = PatientStream(seed, rng.patient, rng.stream)
            stream.random(int(before[i]))  # the draws before it
            assert u == stream.random()
            assert models[i].latent.recompensates == (u < c.recompensation)
        assert courses.drawn.tolist() == _course_drawn(models)


def _course_drawn(models: Sequence[DiseaseModel]) -> list[int]:
    """Draws taken from each model's course stream."""
    return [cast(PatientStream, m._course_rng).drawn for m in models]
