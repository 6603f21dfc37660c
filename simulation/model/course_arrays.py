"""Courses and baselines of many patients at once, for the vector engine (issue 14).

The scalar model draws each patient's baseline at diagnosis and, at every course start,
eight normals and a uniform from the patient's course stream; the shapes are
:mod:`simulation.model.courses`' formulas. Here the same formulas run on arrays
(:data:`ARRAY_SHAPE_OPS`) over draws computed at the scalar model's draw numbers
(:mod:`simulation.model.draws`), so that:

- :func:`baselines` gives a cohort's baseline draws (the lab values, the acute excess and
  its mode, the emergency's outcome and delay, transplant candidacy, recompensation, the
  TPMT result day and the background death day) without building the scalar models;
- :func:`initial_columns` gives the :class:`~simulation.model.model_arrays.PanelColumns`
  and :class:`CourseColumns` of patients at diagnosis (untreated courses);
- :func:`start_courses` starts a course of one kind for some rows on their own days (the
  anchor read off the current paths, the draws at each row's next course draw number),
  :func:`optimise` restarts it after an optimisation and :func:`reshape` re-reads it with a
  new regimen, writing the class and knots into the columns as ``PanelColumns.update``
  would from the scalar models; :func:`course_uniforms` is the course stream's single draw
  of an intolerance or a decompensation.

Which rows start or change a course is the caller's: the scalar model decides it from the
chart's trace (``DiseaseModel._scan``, ``catch_up``, ``_fire``, ``_optimise``).

Every value equals the scalar model's bit for bit (tested). Units: days, x ULN, mg/dL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from pathway import PatientRecord

from . import disease
from .courses import (
    COURSE_CLASSES,
    INDUCING_KINDS,
    Baseline,
    CourseDraws,
    ShapeOps,
    acute_excess,
    baseline_labs,
    course_shape,
    death_years,
    emergency_outcome,
    time_to_cbr_median,
    tpmt_delay,
)
from .disease import (
    BASELINE_DRAWS,
    COURSE_NORMALS,
    DiseaseModel,
    ModelConstants,
    complete_probability,
)
from .draws import (
    PatientStream,
    child_stream,
    exponential_of,
    normal_of,
    run_words,
    uniform_of,
)
from .hazards import YEAR_DAYS
from .model_arrays import (
    ARRAY_OPS,
    STAGES,
    Bools,
    Floats,
    Ints,
    PanelColumns,
    PathArrays,
    _widen,
    activity,
    clip,
    taken_arrays,
)

__all__ = [
    "ARRAY_SHAPE_OPS",
    "COURSE_DRAWS",
    "BaselineArrays",
    "CourseColumns",
    "Diagnosis",
    "baselines",
    "course_draws",
    "course_uniforms",
    "initial_columns",
    "optimise",
    "reshape",
    "shapes",
    "start_courses",
]

#: Draws a course start takes from the course stream: its normals, then one uniform.
COURSE_DRAWS = COURSE_NORMALS + 1
#: The model's own streams (its stream's first children, in ``DiseaseModel.__init__``'s
#: order): baseline, courses, lab noise.
_BASELINE_STREAM, _COURSE_STREAM, _NOISE_STREAM = 0, 1, 2
_BASELINE_NORMALS, _BASELINE_UNIFORMS = BASELINE_DRAWS
#: ``PanelColumns.acute_mode`` codes.
_IMPROVE, _WORSEN = 1, 2


# --- the operations on arrays ---------------------------------------------------------------


def _erf(x: Floats) -> Floats:
    """``math.erf`` per element (numpy has no erf; a rational approximation would differ in
    the last bits from the scalar model's, so the scalar function runs on each value)."""
    flat = np.asarray(x, dtype=np.float64).ravel().tolist()
    return np.fromiter(map(math.erf, flat), np.float64, len(flat)).reshape(np.shape(x))


def _max(x: Floats, y: Floats) -> Floats:
    """Python's ``max(x, y)`` per element: ``y`` only where strictly greater."""
    out: Floats = np.where(y > x, y, x)
    return out


def _min(x: Floats, y: Floats) -> Floats:
    """Python's ``min(x, y)`` per element: ``y`` only where strictly less."""
    out: Floats = np.where(y < x, y, x)
    return out


def _path(points: list[tuple[Floats, Floats]]) -> PathArrays:
    """Paths of ``len(points)`` knots, one row per patient (broadcast)."""
    columns = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for p in points for v in p))
    times = np.stack(columns[0::2], axis=-1).reshape(-1, len(points))
    logs = np.stack(columns[1::2], axis=-1).reshape(-1, len(points))
    return PathArrays(times, logs, np.full(len(times), len(points), dtype=np.int64))


def _choose(
    cond: Bools, then: Callable[[], PathArrays], other: Callable[[], PathArrays]
) -> PathArrays:
    """Rows of ``then()`` where ``cond``, of ``other()`` elsewhere (a branch no row takes
    is not computed); the narrower is padded as ``PathArrays.of`` pads."""
    mask = np.asarray(cond, dtype=bool)
    if mask.all():
        return then()
    if not mask.any():
        return other()
    a, b = then(), other()
    width = max(a.times.shape[1], b.times.shape[1])
    a, b = _to_width(a, width), _to_width(b, width)
    rows = mask[:, None]
    return PathArrays(
        np.where(rows, a.times, b.times),
        np.where(rows, a.logs, b.logs),
        np.where(mask, a.size, b.size),
    )


def _to_width(paths: PathArrays, width: int) -> PathArrays:
    """``paths`` with ``width`` knot columns: itself if it has them, else a padded copy."""
    return paths if paths.times.shape[1] == width else _widen(paths, width)


def _first_at_or_below(path: PathArrays, level: float) -> Floats:
    """Each row's day of its first knot whose log value is at most ``level``.

    Raises:
        ValueError: a row has no such knot (the scalar ``next`` would raise too).
    """
    width = path.times.shape[1]
    hit = (path.logs <= level) & (np.arange(width) < path.size[:, None])
    if not hit.any(axis=1).all():
        raise ValueError(f"a path has no knot at or below log value {level}")
    out: Floats = np.take_along_axis(path.times, hit.argmax(axis=1)[:, None], axis=1)[:, 0]
    return out


#: :class:`~simulation.model.courses.ShapeOps` on arrays of patients (the scalar model's:
#: ``disease.FLOAT_SHAPE_OPS``).
ARRAY_SHAPE_OPS = ShapeOps(
    exp=np.exp,
    log=np.log,
    erf=_erf,
    clip=clip,
    max=_max,
    min=_min,
    where=np.where,
    path=_path,
    choose=_choose,
    first_at_or_below=_first_at_or_below,
    log1p=np.log1p,
    floor=np.floor,
    ceil=np.ceil,
)


# --- the draws --------------------------------------------------------------------------------


def course_draws(
    seed: int, patients: Ints, stream: int, drawn: NDArray[np.uint64]
) -> tuple[Floats, Floats]:
    """Each patient's course draws from draw number ``drawn[i]`` of its course stream, as
    ``DiseaseModel._new_course`` takes them: normals ``(n, 8)`` and a uniform ``(n,)``."""
    w0, w1 = run_words(seed, patients, stream, drawn, COURSE_DRAWS)
    return _normals(w0, w1, COURSE_NORMALS), uniform_of(w0[:, COURSE_NORMALS:])[:, 0]


def course_uniforms(courses: CourseColumns, rows: Ints) -> Floats:
    """The next course-stream uniform of each of patients ``rows`` (distinct), as the scalar
    model draws one at an azathioprine intolerance while on azathioprine (a severe cytopenia
    or not) and at a decompensation with active disease (recompensation or not);
    ``courses.drawn`` advances by one."""
    rows = np.asarray(rows, dtype=np.int64)
    w0, _ = run_words(courses.seed, courses.patients[rows], courses.stream, courses.drawn[rows], 1)
    courses.drawn[rows] += np.uint64(1)
    return uniform_of(w0[:, 0])


def _normals(w0: NDArray[np.uint64], w1: NDArray[np.uint64], count: int) -> Floats:
    """Normals of the first ``count`` draws of a run of words (rows: patients), from
    contiguous copies as the scalar streams compute them."""
    return normal_of(np.ascontiguousarray(w0[:, :count]), np.ascontiguousarray(w1[:, :count]))


def _columns(z: Floats) -> list[Floats]:
    """The draws of ``z`` (rows: patients) as contiguous columns, draw by draw."""
    return list(np.ascontiguousarray(z.T))


# --- the courses ------------------------------------------------------------------------------


@dataclass
class CourseColumns:
    """What a course start or re-reading reads of ``n`` patients beyond the panel columns.

    Attributes:
        seed: the run's seed; ``patients``: each patient's index (its draws' key).
        stream: the course stream's number (the same for all).
        drawn: each patient's next course draw number.
        kind, reason: the current course's kind and switch reason (``object`` strings).
        z, u: the current course's normals ``(n, 8)`` and uniform.
        optimised, dose_raised: restarted by an optimisation; ... which raised azathioprine.
        cls: the current course's class (a code of ``courses.COURSE_CLASSES``).
        anchor_alt, anchor_igg: latent ALT and IgG on the current course's start day.
        before_alt, before_igg: latent ALT and IgG when non-adherence last began.
        graft_alt: the baseline draw of ALT on a working graft.
    """

    seed: int
    patients: Ints
    stream: int
    drawn: NDArray[np.uint64]
    kind: NDArray[np.object_]
    reason: NDArray[np.object_]
    z: Floats
    u: Floats
    optimised: Bools
    dose_raised: Bools
    cls: Ints
    anchor_alt: Floats
    anchor_igg: Floats
    before_alt: Floats
    before_igg: Floats
    graft_alt: Floats

    @classmethod
    def of(cls, models: Sequence[DiseaseModel]) -> CourseColumns:
        """The course columns of scalar models whose streams are counter-based."""
        streams = [_course_stream(m) for m in models]
        seeds, numbers = {s.seed for s in streams}, {s.stream for s in streams}
        if len(seeds) > 1 or len(numbers) > 1:
            raise ValueError(f"models: found seeds {seeds} and course streams {numbers}")
        courses = [m.course for m in models]
        return cls(
            seed=seeds.pop() if seeds else 0,
            patients=np.array([s.patient for s in streams], dtype=np.int64),
            stream=numbers.pop() if numbers else 0,
            drawn=np.array([s.drawn for s in streams], dtype=np.uint64),
            kind=np.array([k.kind for k in courses], dtype=object),
            reason=np.array([k.reason for k in courses], dtype=object),
            z=np.array([k.z for k in courses], dtype=np.float64).reshape(-1, COURSE_NORMALS),
            u=np.array([k.u for k in courses], dtype=np.float64),
            optimised=np.array([k.optimised for k in courses], dtype=bool),
            dose_raised=np.array([k.dose_raised for k in courses], dtype=bool),
            cls=np.array([COURSE_CLASSES.index(k.cls) for k in courses], dtype=np.int64),
            anchor_alt=np.array([k.anchor[0] for k in courses], dtype=np.float64),
            anchor_igg=np.array([k.anchor[1] for k in courses], dtype=np.float64),
            before_alt=np.array([m._before_nonadherence[0] for m in models], dtype=np.float64),
            before_igg=np.array([m._before_nonadherence[1] for m in models], dtype=np.float64),
            graft_alt=np.array([m.graft_alt for m in models], dtype=np.float64),
        )

    @property
    def n(self) -> int:
        """Number of patients (rows)."""
        return len(self.patients)

    def take(self, rows: Ints, patients: Ints | None = None) -> CourseColumns:
        """A copy of rows ``rows`` (in that order, repeats allowed), as patients
        ``patients`` (default: the rows' own; other indices draw other courses)."""
        return replace(self, **taken_arrays(self, rows, patients))


def _course_stream(m: DiseaseModel) -> PatientStream:
    rng = m._course_rng
    if not isinstance(rng, PatientStream):
        raise ValueError(
            f"model: found a {type(rng).__name__} for its courses, expected a counter-based "
            "PatientStream (simulation.model.draws)"
        )
    return rng


def _per_regimen(
    c: ModelConstants,
    kind: str,
    regimens: Sequence[tuple[Collection[str], str, bool, bool]],
) -> tuple[Floats, Floats]:
    """Each row's probability of complete response and median days to it on its regimen
    ``(drugs, reason, dose raised, optimised)``: the scalar functions, called once per
    distinct regimen and spread to the rows."""
    index: dict[tuple[Collection[str], str, bool, bool], int] = {}
    codes = np.fromiter(
        (index.setdefault(r, len(index)) for r in regimens), np.int64, len(regimens)
    )
    p = np.array([complete_probability(c, kind, d, r, dose_raised=up) for d, r, up, _ in index])
    median = np.array([time_to_cbr_median(c, kind, d, optimised=opt) for d, _, _, opt in index])
    return p[codes], median[codes]


def shapes(
    c: ModelConstants,
    kind: str,
    draws: CourseDraws,
    drugs: Sequence[Collection[str]],
    reason: Sequence[str],
    dose_raised: Bools,
    optimised: Bools,
) -> tuple[Ints, PathArrays, PathArrays]:
    """Class codes and latent ALT and IgG paths of courses of one ``kind`` on each row's
    regimen (``drugs``, ``reason``, ``dose_raised``, ``optimised``): the scalar
    ``DiseaseModel._shape``; ``draws.p_complete`` and ``draws.median`` are filled in here
    (the scalar functions, once per distinct regimen)."""
    n = len(drugs)
    if kind in INDUCING_KINDS:
        regimens = list(zip(drugs, reason, dose_raised.tolist(), optimised.tolist(), strict=True))
        p, median = _per_regimen(c, kind, regimens)
        draws = replace(draws, p_complete=p, median=median)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        code, alt, igg = course_shape(c, kind, draws, ARRAY_SHAPE_OPS)
    return np.broadcast_to(np.asarray(code, dtype=np.int64), (n,)).copy(), alt, igg


def _shape_rows(
    panel: PanelColumns,
    courses: CourseColumns,
    c: ModelConstants,
    rows: Ints,
    kind: str,
    drugs: Sequence[Collection[str]],
) -> None:
    """(Re)build the courses of ``rows`` (all of ``kind``) from the columns' draws and
    anchors, and write their classes and paths."""
    draws = CourseDraws(
        alt=courses.anchor_alt[rows],
        igg=courses.anchor_igg[rows],
        z=_columns(courses.z[rows]),
        u=courses.u[rows],
        p_complete=0.0,
        median=0.0,
        transplanted=panel.transplanted[rows],
        before_alt=courses.before_alt[rows],
        before_igg=courses.before_igg[rows],
        graft_alt=courses.graft_alt[rows],
    )
    code, alt, igg = shapes(
        c,
        kind,
        draws,
        drugs,
        courses.reason[rows].tolist(),
        courses.dose_raised[rows],
        courses.optimised[rows],
    )
    courses.cls[rows] = code
    panel.alt = _with_rows(panel.alt, rows, alt)
    panel.igg = _with_rows(panel.igg, rows, igg)


def _with_rows(paths: PathArrays, rows: Ints, new: PathArrays) -> PathArrays:
    """``paths`` with ``rows[i]`` replaced by row ``i`` of ``new``: in place, or in a
    widened copy when ``new`` has more knots."""
    width = max(paths.times.shape[1], new.times.shape[1])
    out, new = _to_width(paths, width), _to_width(new, width)
    out.times[rows], out.logs[rows], out.size[rows] = new.times, new.logs, new.size
    return out


def start_courses(
    panel: PanelColumns,
    courses: CourseColumns,
    c: ModelConstants,
    rows: Ints,
    kind: str,
    day: Floats,
    drugs: Sequence[Collection[str]],
    reason: Sequence[str] | None = None,
) -> None:
    """Start a course of ``kind`` for patients ``rows`` (distinct) on ``day[i]`` on regimen
    ``drugs[i]`` (switch ``reason[i]``), anchored at the latent ALT and IgG of the current
    course on that day: as ``DiseaseModel._new_course``, from the next nine draws of each
    patient's course stream (``courses.drawn`` advances), or, for a lapse of adherence and
    its end (``nonadherent``, ``readherent``), as the scalar model's ``_fire`` and
    ``_optimise`` make them: no draw, the course's normals kept. The state a start follows
    is the caller's to set first (a transplant: ``panel.transplanted``, the stage and the
    acute excess, as ``DiseaseModel._scan`` resets them)."""
    rows = np.asarray(rows, dtype=np.int64)
    day = np.broadcast_to(np.asarray(day, dtype=np.float64), rows.shape)
    anchor_alt, anchor_igg = activity(panel, day, rows)
    if kind in _UNDRAWN:
        courses.u[rows] = 0.0
    else:
        z, u = course_draws(
            courses.seed, courses.patients[rows], courses.stream, courses.drawn[rows]
        )
        courses.drawn[rows] += np.uint64(COURSE_DRAWS)
        courses.z[rows], courses.u[rows] = z, u
    if kind == "nonadherent":  # the level to return to once adherence is restored
        courses.before_alt[rows], courses.before_igg[rows] = anchor_alt, anchor_igg
    courses.kind[rows] = kind
    courses.reason[rows] = "" if reason is None else list(reason)
    courses.optimised[rows] = courses.dose_raised[rows] = False
    courses.anchor_alt[rows], courses.anchor_igg[rows] = anchor_alt, anchor_igg
    panel.course_start[rows] = day
    _shape_rows(panel, courses, c, rows, kind, drugs)


#: Course kinds started without draws (see :func:`start_courses`).
_UNDRAWN = frozenset({"nonadherent", "readherent"})


def optimise(
    panel: PanelColumns,
    courses: CourseColumns,
    c: ModelConstants,
    rows: Ints,
    day: Floats,
    drugs: Sequence[Collection[str]],
    raised: Bools,
) -> None:
    """Restart the inducing courses of ``rows`` from ``day[i]`` after an optimisation on
    regimens ``drugs`` (``raised``: azathioprine raised), as ``DiseaseModel._optimise``
    does for a course short of complete response: the same draws, kind and reason, a new
    start and anchor, the optimised median time to response."""
    rows = np.asarray(rows, dtype=np.int64)
    day = np.broadcast_to(np.asarray(day, dtype=np.float64), rows.shape)
    courses.anchor_alt[rows], courses.anchor_igg[rows] = activity(panel, day, rows)
    panel.course_start[rows] = day
    courses.optimised[rows] = True
    courses.dose_raised[rows] |= np.asarray(raised, dtype=bool)
    reshape(panel, courses, c, rows, drugs)


def reshape(
    panel: PanelColumns,
    courses: CourseColumns,
    c: ModelConstants,
    rows: Ints,
    drugs: Sequence[Collection[str]],
) -> None:
    """Re-read the current courses of ``rows`` with regimens ``drugs`` (the same draws,
    start and anchor), as ``DiseaseModel._shape`` does after a regimen change; set
    ``courses.kind``, ``reason``, ``optimised`` or ``dose_raised`` first where they change."""
    rows = np.asarray(rows, dtype=np.int64)
    kinds = courses.kind[rows]
    for kind in dict.fromkeys(kinds.tolist()):
        at = kinds == kind
        chosen = [d for d, a in zip(drugs, at.tolist(), strict=True) if a]
        _shape_rows(panel, courses, c, rows[at], kind, chosen)


# --- the baseline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineArrays:
    """A cohort's baseline draws (``DiseaseModel._draw_baseline``), one row per patient.

    Attributes:
        labs: the lab draws (``courses.Baseline`` of arrays).
        acute_bili, acute_inr: the acute excess over the chronic level (0: chronic).
        acute_mode: ``PanelColumns.acute_mode`` (0 none, 1 improving, 2 worsening).
        candidate: a transplant candidate; ``recompensates``: a decompensation at diagnosis
            that treatment will recompensate.
        emergency: the worsening acute presentation's latent outcome (a code of
            ``courses.EMERGENCY_OUTCOMES``; -1: none) and ``emergency_delay`` its days.
        tpmt_delay: days until the TPMT status is resulted (NaN: none to come).
        death_day: the day of background death (a whole day; ``inf``: none).
    """

    labs: Baseline
    acute_bili: Floats
    acute_inr: Floats
    acute_mode: Ints
    candidate: Bools
    recompensates: Bools
    emergency: Ints
    emergency_delay: Floats
    tpmt_delay: Floats
    death_day: Floats


@dataclass(frozen=True)
class Diagnosis:
    """What the baseline draws read of ``n`` patients' records at diagnosis (``object``
    strings, ages in years), and their true TPMT status (``unknown`` on the record: to be
    resulted)."""

    presentation: NDArray[np.object_]
    cirrhosis: NDArray[np.object_]
    sex: NDArray[np.object_]
    age: Floats
    tpmt: NDArray[np.object_]
    true_tpmt: NDArray[np.object_]

    @classmethod
    def of(
        cls, records: Sequence[PatientRecord], true_tpmt: Sequence[str | None] | None = None
    ) -> Diagnosis:
        """The columns of records (true TPMT: the record's where not given)."""
        truth = true_tpmt or [None] * len(records)
        return cls(
            presentation=np.array([r.presentation for r in records], dtype=object),
            cirrhosis=np.array([r.cirrhosis for r in records], dtype=object),
            sex=np.array([r.sex for r in records], dtype=object),
            age=np.array([r.age for r in records], dtype=np.float64),
            tpmt=np.array([r.tpmt for r in records], dtype=object),
            true_tpmt=np.array(
                [r.tpmt if t is None else t for r, t in zip(records, truth, strict=True)],
                dtype=object,
            ),
        )


def baselines(
    c: ModelConstants, seed: int, patients: Ints, model_stream: int, dx: Diagnosis
) -> BaselineArrays:
    """The baseline draws of patients ``patients`` whose model stream is ``model_stream``
    (the cohort's: 2), from their baseline streams' first 21 draws, as the scalar model
    draws them at diagnosis."""
    stream = child_stream(model_stream, _BASELINE_STREAM)
    count = _BASELINE_NORMALS + _BASELINE_UNIFORMS
    w0, w1 = run_words(seed, patients, stream, np.zeros(len(patients), np.uint64), count + 1)
    z = _columns(_normals(w0, w1, _BASELINE_NORMALS))
    u = _columns(uniform_of(w0[:, _BASELINE_NORMALS:count]))
    e = exponential_of(w0[:, count])
    acute, alf = dx.presentation != "chronic", dx.presentation == "acute_liver_failure"
    ops = ARRAY_SHAPE_OPS
    labs = baseline_labs(c, acute, z, ops)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bili, inr, excess_bili, excess_inr = acute_excess(c, alf, z[10], u[0], labs, ops)
        fails = u[1] < disease.failure_probability(c, bili, inr, ARRAY_OPS)
        # Acute liver failure, or a failing acute severe presentation: its own figures.
        outcome, delay = emergency_outcome(
            ops,
            np.where(alf, u[1], u[3]),
            np.where(alf, c.alf_death, c.acute_failure_death),
            np.where(alf, c.alf_transplant, c.acute_failure_transplant),
            np.where(alf, c.alf_outcome_mean, c.acute_outcome_mean),
            u[2],
        )
        death_day = _death_days(c, dx, e)
    worsens = acute & (alf | fails)
    resulted = (dx.tpmt == "unknown") & (dx.true_tpmt != "unknown")
    return BaselineArrays(
        labs=labs,
        acute_bili=np.where(acute, excess_bili, 0.0),
        acute_inr=np.where(acute, excess_inr, 0.0),
        acute_mode=np.where(acute, np.where(worsens, _WORSEN, _IMPROVE), 0),
        candidate=u[6] < c.transplant_candidate,
        recompensates=(dx.cirrhosis == "decompensated") & (u[5] < c.recompensation),
        emergency=np.where(worsens, outcome, -1),
        emergency_delay=np.where(worsens, delay, math.nan),
        tpmt_delay=np.where(resulted, tpmt_delay(ops, u[4], c.tpmt_max_delay), math.nan),
        death_day=death_day,
    )


def _death_days(c: ModelConstants, dx: Diagnosis, e: Floats) -> Floats:
    """Background death days (whole days; ``inf`` where the Gompertz hazard is zero)."""
    a, b = np.zeros(len(e)), np.zeros(len(e))
    for sex, (a_sex, b_sex) in c.gompertz.items():
        a, b = np.where(dx.sex == sex, a_sex, a), np.where(dx.sex == sex, b_sex, b)
    a = a * c.aih_excess_hr
    years = death_years(ARRAY_SHAPE_OPS, a, b, e, dx.age)
    out: Floats = np.where((a > 0) & (b > 0), np.ceil(years * YEAR_DAYS), math.inf)
    return out


def initial_columns(
    c: ModelConstants, seed: int, patients: Ints, model_stream: int, dx: Diagnosis
) -> tuple[PanelColumns, CourseColumns, BaselineArrays]:
    """The columns of patients at diagnosis, before any event or panel (``PanelColumns.of``
    and ``CourseColumns.of`` of freshly built scalar models), and their baseline draws:
    untreated courses from the baseline ALT and IgG."""
    patients = np.asarray(patients, dtype=np.int64)
    n = len(patients)
    base = baselines(c, seed, patients, model_stream, dx)
    labs = base.labs
    zeros, falses = np.zeros(n), np.zeros(n, dtype=bool)
    panel = PanelColumns(
        seed=seed,
        patients=patients,
        noise_stream=child_stream(model_stream, _NOISE_STREAM),
        noise_drawn=np.zeros(n, dtype=np.uint64),
        course_start=zeros.copy(),
        alt=PathArrays.of([((0.0, 0.0),)] * n),
        igg=PathArrays.of([((0.0, 0.0),)] * n),
        stage=np.array([STAGES.index(s) for s in dx.cirrhosis], dtype=np.int64),
        transplanted=falses.copy(),
        graft_failed=falses.copy(),
        acute_mode=base.acute_mode.astype(np.int64),
        acute_until=np.full(n, math.inf),
        acute_bili=base.acute_bili,
        acute_inr=base.acute_inr,
        bili_chronic=labs.bili_chronic,
        inr_chronic=labs.inr_chronic,
        bili_decomp=labs.bili_decomp,
        inr_decomp=labs.inr_decomp,
        plt_factor=labs.plt_factor,
        wbc=labs.wbc,
        ast_ratio=labs.ast_ratio,
        azathioprine=falses.copy(),
        visit_day=np.full(n, -math.inf),
    )
    courses = CourseColumns(
        seed=seed,
        patients=patients,
        stream=child_stream(model_stream, _COURSE_STREAM),
        drawn=np.zeros(n, dtype=np.uint64),
        kind=np.full(n, "untreated", dtype=object),
        reason=np.full(n, "", dtype=object),
        z=np.zeros((n, COURSE_NORMALS)),
        u=zeros.copy(),
        optimised=falses.copy(),
        dose_raised=falses.copy(),
        cls=np.zeros(n, dtype=np.int64),
        anchor_alt=zeros.copy(),
        anchor_igg=zeros.copy(),
        before_alt=np.ones(n),
        before_igg=np.ones(n),
        graft_alt=labs.graft_alt,
    )
    # The untreated course: anchored at the baseline ALT and IgG (not at a path's value).
    rows = np.arange(n)
    z, u = course_draws(seed, patients, courses.stream, courses.drawn)
    courses.drawn += np.uint64(COURSE_DRAWS)
    courses.z, courses.u = z, u
    courses.anchor_alt, courses.anchor_igg = labs.alt0, labs.igg0
    _shape_rows(panel, courses, c, rows, "untreated", [frozenset()] * n)
    return panel, courses, base
