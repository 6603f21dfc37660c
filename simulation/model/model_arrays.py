"""The patient model for many patients at once, for the vector engine (issue 14).

:class:`~simulation.model.disease.DiseaseModel` advances one patient. Here, for many
patients at once, each on its own day and at its own draw numbers:

- **lab panels** (:func:`panel`) from :class:`PanelColumns`: the scalar models' state as
  columns, the latent ALT and IgG paths as padded knot arrays read off the models' own path
  objects (the shapes are not written twice: courses are still built by the scalar model),
  the liver function of the stage with the acute excess, noise from each patient's
  counter-based stream, rounding and MELD;
- **the next event** (:func:`next_events`) over the queue and the clocks
  (:func:`clocks_of`: :class:`~simulation.model.hazard_arrays.ClockArrays`), same-day ties
  in the scalar model's order;
- **which hazards run** (:func:`hazards_on`, :func:`flare_cases`): the declared hazard
  conditions evaluated as masks by the vector interpreter (:mod:`pathway.vector`).

Every value equals the scalar model's bit for bit (tested): the same floating-point
operations in the same order, the panel formula and MELD shared
(:func:`~simulation.model.disease.panel_values` with :data:`ARRAY_OPS`), and the scalar
model calls the numpy functions used here (:func:`~simulation.model.disease.np_exp`,
``np_exp2``, ``np_log``, :func:`~simulation.model.disease.round_half_even`), so agreement
holds by construction.

Units: days from diagnosis, x ULN, mg/dL, 10^9/L.
"""

from __future__ import annotations

import math
from collections.abc import Sequence, Set
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pathway.vector import Batch, VectorInterpreter

from . import disease
from .disease import (
    CLOCKS,
    DAY_TOLERANCE,
    PANEL_DRAWS,
    DiseaseModel,
    MeldFormula,
    ModelConstants,
    PanelOps,
    Path,
    clock_priority,
)
from .draws import PatientStream, Randomness, normal_of, run_words
from .hazard_arrays import ClockArrays, HazardTable
from .hazard_conditions import FLARE_CASES, HAZARD_CONDITIONS, SCHEMA, Limits, Situation

__all__ = [
    "ARRAY_OPS",
    "NO_EVENT",
    "QUEUE",
    "STAGES",
    "PanelColumns",
    "PathArrays",
    "activity",
    "acute_factor",
    "clip",
    "clocks_of",
    "flare_cases",
    "hazards_on",
    "liver_function",
    "meld",
    "next_events",
    "noise_at",
    "panel",
    "rounded",
    "situation_batch",
    "situation_labs",
    "taken_arrays",
    "visit_labs",
]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]
#: Rows of :class:`PanelColumns`: indices, or ``slice(None)`` for all (views, not copies).
Rows = Ints | slice

#: Liver stages as codes (the position of ``_Latent.stage`` in this tuple).
STAGES = ("none", "compensated", "decompensated")
_ACUTE_MODES = ("", "improve", "worsen")
_IMPROVE, _WORSEN = 1, 2
_DECOMPENSATED, _COMPENSATED = 2, 1


@dataclass(frozen=True)
class PathArrays:
    """Latent paths (:data:`~simulation.model.disease.Path`) of ``n`` patients.

    Attributes:
        times: knot days after the course start, shape ``(n, knots)``; ``inf`` pads.
        logs: log values at the knots; a row's last value pads.
        size: real knots per row (at least 1).
    """

    times: Floats
    logs: Floats
    size: Ints

    @classmethod
    def of(cls, paths: Sequence[Path]) -> PathArrays:
        """The arrays of scalar paths, one per row."""
        width = max((len(p) for p in paths), default=1)
        times = np.full((len(paths), width), math.inf)
        logs = np.zeros((len(paths), width))
        for i, path in enumerate(paths):
            t, y = zip(*path, strict=True)
            times[i, : len(t)] = t
            logs[i, : len(y)] = y
            logs[i, len(y) :] = y[-1]
        return cls(times, logs, np.array([len(p) for p in paths], dtype=np.int64))

    @property
    def n(self) -> int:
        """Number of paths (rows)."""
        return int(self.times.shape[0])

    def take(self, rows: Ints) -> PathArrays:
        """A copy of rows ``rows`` (in that order, repeats allowed)."""
        return PathArrays(self.times[rows], self.logs[rows], self.size[rows])

    def with_rows(self, rows: Ints, paths: Sequence[Path]) -> PathArrays:
        """These arrays with ``rows[i]`` replaced by ``paths[i]`` (widened as needed)."""
        new = PathArrays.of(paths)
        width = max(self.times.shape[1], new.times.shape[1])
        out = _widen(self, width)
        if new.times.shape[1] < width:
            new = _widen(new, width)
        out.times[rows], out.logs[rows], out.size[rows] = new.times, new.logs, new.size
        return out

    def value(self, t: Floats, rows: Ints | None = None) -> Floats:
        """Value (not log) of path ``rows[i]`` at ``t[i]`` days after its course start, as
        :func:`~simulation.model.disease.path_value` computes it (all rows: ``rows=None``)."""
        times = self.times if rows is None else self.times[rows]
        logs = self.logs if rows is None else self.logs[rows]
        size = self.size if rows is None else self.size[rows]
        t = np.asarray(t, dtype=np.float64)
        first = logs[:, 0]
        if times.shape[1] == 1:
            return np.exp(first)
        # The scalar search: the first knot at or after t (knots increase).
        j = (times < t[:, None]).sum(axis=1)
        k = np.clip(j, 1, times.shape[1] - 1)
        # Plain fancy indexing (take_along_axis builds its index grid at every call).
        at = np.arange(len(k))
        t0, t1 = times[at, k - 1], times[at, k]
        y0, y1 = logs[at, k - 1], logs[at, k]
        last = logs[at, size - 1]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            inner = y0 + (y1 - y0) * (t - t0) / (t1 - t0)
        return np.exp(np.where(j == 0, first, np.where(j >= size, last, inner)))


def _widen(paths: PathArrays, width: int) -> PathArrays:
    """A copy of ``paths`` with ``width`` knot columns (padded as :meth:`PathArrays.of`)."""
    extra = width - paths.times.shape[1]
    if not extra:
        return PathArrays(paths.times.copy(), paths.logs.copy(), paths.size.copy())
    last = np.take_along_axis(paths.logs, (paths.size - 1)[:, None], axis=1)
    return PathArrays(
        np.hstack([paths.times, np.full((paths.n, extra), math.inf)]),
        np.hstack([paths.logs, np.repeat(last, extra, axis=1)]),
        paths.size.copy(),
    )


@dataclass
class PanelColumns:
    """What a lab panel reads of ``n`` patient models, as columns (see the module docstring).

    Build with :meth:`of` from the scalar models; :meth:`update` rewrites rows after a
    model's state changed (a new course, a stage, a transplant). :func:`panel` advances
    ``noise_drawn`` as the scalar model advances its noise stream.

    Attributes:
        seed: the run's seed (of every patient's streams).
        patients: each patient's index in the cohort (its draws' key).
        noise_stream: the stream number of the models' lab noise (the same for all).
        noise_drawn: each patient's next noise draw number.
        course_start: the current course's start day.
        alt, igg: the current course's latent paths.
        stage: liver stage code (:data:`STAGES`).
        transplanted, graft_failed: after a transplant; the graft has failed.
        acute_mode: 0 none, 1 improving, 2 worsening (the acute excess).
        acute_until, acute_bili, acute_inr: the acute excess and the day it stops growing.
        bili_chronic, inr_chronic, bili_decomp, inr_decomp, plt_factor, wbc, ast_ratio:
            the patient's baseline draws.
        azathioprine: on azathioprine at the last sync (white cells lowered).
        visit_day: day of the last visit's lab panel (``-inf``: none yet).
    """

    seed: int
    patients: Ints
    noise_stream: int
    noise_drawn: NDArray[np.uint64]
    course_start: Floats
    alt: PathArrays
    igg: PathArrays
    stage: Ints
    transplanted: Bools
    graft_failed: Bools
    acute_mode: Ints
    acute_until: Floats
    acute_bili: Floats
    acute_inr: Floats
    bili_chronic: Floats
    inr_chronic: Floats
    bili_decomp: Floats
    inr_decomp: Floats
    plt_factor: Floats
    wbc: Floats
    ast_ratio: Floats
    azathioprine: Bools
    visit_day: Floats

    @classmethod
    def of(cls, models: Sequence[DiseaseModel]) -> PanelColumns:
        """The columns of scalar models whose streams are counter-based (the cohort's).

        Raises:
            ValueError: a model draws from a ``numpy`` generator, or the models' seeds or
                noise stream numbers differ.
        """
        noise = [_noise_stream(m) for m in models]
        seed, noise_stream = _one_key(noise)
        rows = [_row(m) for m in models]
        columns = {name: np.array([r[name] for r in rows]) for name in _ROW_FIELDS}
        return cls(
            seed=seed,
            patients=np.array([s.patient for s in noise], dtype=np.int64),
            noise_stream=noise_stream,
            noise_drawn=np.array([noise_at(m) for m in models], dtype=np.uint64),
            alt=PathArrays.of([m.course.alt_path for m in models]),
            igg=PathArrays.of([m.course.igg_path for m in models]),
            **columns,
        )

    @property
    def n(self) -> int:
        """Number of patients (rows)."""
        return len(self.patients)

    def take(self, rows: Ints, patients: Ints | None = None) -> PanelColumns:
        """A copy of rows ``rows`` (in that order, repeats allowed), as patients
        ``patients`` (default: the rows' own; other indices draw other noise)."""
        taken = taken_arrays(self, rows, patients)
        return replace(self, **taken, alt=self.alt.take(rows), igg=self.igg.take(rows))

    def update(self, rows: Ints, models: Sequence[DiseaseModel]) -> None:
        """Rewrite ``rows[i]`` from ``models[i]`` (the same patients, later in their course)."""
        values = [_row(m) for m in models]
        for name in _ROW_FIELDS:
            getattr(self, name)[rows] = [v[name] for v in values]
        self.noise_drawn[rows] = [noise_at(m) for m in models]
        self.alt = self.alt.with_rows(rows, [m.course.alt_path for m in models])
        self.igg = self.igg.with_rows(rows, [m.course.igg_path for m in models])


def taken_arrays(columns: Any, rows: Ints, patients: Ints | None = None) -> dict[str, Any]:
    """Rows ``rows`` of each array field of a dataclass of columns (copies), with
    ``patients`` as its ``patients`` where given: what a ``take`` replaces."""
    taken = {
        f.name: getattr(columns, f.name)[rows]
        for f in fields(columns)
        if isinstance(getattr(columns, f.name), np.ndarray)
    }
    if patients is not None:
        taken["patients"] = np.asarray(patients, dtype=np.int64)
    return taken


#: Columns of :class:`PanelColumns` read one model at a time (:func:`_row`).
_ROW_FIELDS = (
    "course_start",
    "stage",
    "transplanted",
    "graft_failed",
    "acute_mode",
    "acute_until",
    "acute_bili",
    "acute_inr",
    "bili_chronic",
    "inr_chronic",
    "bili_decomp",
    "inr_decomp",
    "plt_factor",
    "wbc",
    "ast_ratio",
    "azathioprine",
    "visit_day",
)


def _row(m: DiseaseModel) -> dict[str, float | int | bool]:
    lat = m.latent
    return {
        "course_start": m.course.start,
        "stage": STAGES.index(lat.stage),
        "transplanted": lat.transplanted,
        "graft_failed": lat.graft_failed,
        "acute_mode": _ACUTE_MODES.index(lat.acute_mode),
        "acute_until": lat.acute_until,
        "acute_bili": m.acute_bili,
        "acute_inr": m.acute_inr,
        "bili_chronic": m.bili_chronic,
        "inr_chronic": m.inr_chronic,
        "bili_decomp": m.bili_decomp,
        "inr_decomp": m.inr_decomp,
        "plt_factor": m.plt_factor,
        "wbc": m.wbc,
        "ast_ratio": m.ast_ratio,
        "azathioprine": m.on_azathioprine,
        "visit_day": m.visit_day,
    }


def _stream(rng: Randomness, what: str) -> PatientStream:
    if not isinstance(rng, PatientStream):
        raise ValueError(
            f"model: found a {type(rng).__name__} for its {what}, expected a "
            "counter-based PatientStream (simulation.model.draws)"
        )
    return rng


def _noise_stream(m: DiseaseModel) -> PatientStream:
    return _stream(m.noise_rng, "lab noise")


def _one_key(streams: Sequence[PatientStream]) -> tuple[int, int]:
    """The one seed and stream number of ``streams`` (0, 0 for none)."""
    seeds = {s.seed for s in streams}
    numbers = {s.stream for s in streams}
    if len(seeds) > 1 or len(numbers) > 1:
        raise ValueError(
            f"models: found seeds {sorted(seeds)} and stream numbers {sorted(numbers)}, "
            "expected one seed and one stream number for all"
        )
    return (seeds.pop() if seeds else 0), (numbers.pop() if numbers else 0)


def noise_at(m: DiseaseModel) -> int:
    """The model's next noise draw number (it draws blocks ahead and reads them in order)."""
    return _noise_stream(m).drawn - m.noise_buffered


def clip(value: Floats, lo: float, hi: float) -> Floats:
    """``lo`` where ``value`` is below it, ``hi`` where above, else the value (the scalar
    ``_clip``; ``numpy.clip`` would differ on NaN)."""
    out: Floats = np.where(value < lo, lo, np.where(value > hi, hi, value))
    return out


def rounded(x: Floats, digits: int) -> Floats:
    """``x`` to ``digits`` decimals as :func:`~simulation.model.disease.round_half_even`
    (``rint(x * s) / s``; ``+ 0.0`` turns a negative zero into the scalar's zero)."""
    scale = 10.0**digits
    out: Floats = np.rint(x * scale) / scale + 0.0
    return out


#: :class:`~simulation.model.disease.PanelOps` on arrays: with them the scalar model's own
#: :func:`~simulation.model.disease.panel_values` and :func:`~simulation.model.disease.meld`
#: compute many patients at once.
ARRAY_OPS = PanelOps(np.exp, np.log, clip, np.maximum, rounded)


def meld(bilirubin: Floats, inr: Floats, creatinine: float, formula: MeldFormula) -> Floats:
    """MELD scores: :func:`simulation.model.disease.meld` on arrays."""
    out: Floats = disease.meld(bilirubin, inr, creatinine, formula, ARRAY_OPS)
    return out


def acute_factor(cols: PanelColumns, c: ModelConstants, day: Floats, rows: Rows) -> Floats:
    """Share of the acute excess left on ``day[i]`` for patient ``rows[i]`` (the scalar
    ``DiseaseModel._acute_factor``: halves while improving; grows, then recovers slowly,
    while worsening)."""
    h, sh = c.acute_halflife, c.shape
    until_day = cols.acute_until[rows]
    until = np.minimum(day, until_day)
    worse = np.minimum(sh["acute_worsening_max"], 1.0 + until / sh["acute_worsening_days"])
    slow = sh["acute_slow_recovery_factor"] * h
    with np.errstate(over="ignore", invalid="ignore"):
        improving = np.exp2(-(day / h))
        recovering = worse * np.exp2(-((day - until_day) / slow))
    worsening = np.where(day <= until_day, worse, recovering)
    return np.where(cols.acute_mode[rows] == _IMPROVE, improving, worsening)


def liver_function(
    cols: PanelColumns, c: ModelConstants, day: Floats, rows: Rows
) -> tuple[Floats, Floats, Floats]:
    """Latent bilirubin (mg/dL), INR and platelets (10^9/L) of patients ``rows`` on ``day``
    (the scalar ``DiseaseModel._liver_function``)."""
    sh = c.shape
    stage = cols.stage[rows]
    decomp, comp = stage == _DECOMPENSATED, stage == _COMPENSATED
    chronic_bili, chronic_inr = cols.bili_chronic[rows], cols.inr_chronic[rows]
    bili = np.where(comp, chronic_bili * c.comp_bili_factor, chronic_bili)
    bili = np.where(decomp, cols.bili_decomp[rows], bili)
    inr = np.where(comp, chronic_inr + c.comp_inr_add, chronic_inr)
    inr = np.where(decomp, cols.inr_decomp[rows], inr)
    plt = np.where(comp, c.comp_platelets, c.platelets_median)
    plt = np.where(decomp, c.decomp_platelets, plt)
    a_bili, a_inr = cols.acute_bili[rows], cols.acute_inr[rows]
    acute = (a_bili != 0.0) | (a_inr != 0.0)
    if acute.any():
        f = acute_factor(cols, c, day, rows)
        bili = np.where(acute, bili + a_bili * f, bili)
        inr = np.where(acute, inr + a_inr * f, inr)
    # After a transplant: the graft's values, no acute excess (a failed graft first).
    failed, transplanted = cols.graft_failed[rows], cols.transplanted[rows]
    bili = np.where(transplanted, sh["graft_bilirubin_mg_dl"], bili)
    bili = np.where(failed, c.failed_graft_bili, bili)
    inr = np.where(transplanted, sh["graft_inr"], inr)
    inr = np.where(failed, c.failed_graft_inr, inr)
    plt = np.where(transplanted, c.platelets_median, plt)
    plt = np.where(failed, sh["failed_graft_platelets_10e9_l"], plt)
    return bili, inr, plt * cols.plt_factor[rows]


def activity(cols: PanelColumns, day: Floats, rows: Rows) -> tuple[Floats, Floats]:
    """Latent ALT and IgG (x ULN, no noise) of patients ``rows`` on ``day``."""
    t = day - cols.course_start[rows]
    path_rows = None if isinstance(rows, slice) else rows
    return cols.alt.value(t, path_rows), cols.igg.value(t, path_rows)


def panel(
    cols: PanelColumns,
    c: ModelConstants,
    day: Floats,
    rows: Ints | None = None,
    noise: Floats | None = None,
) -> dict[str, Floats]:
    """Lab panels of patients ``rows`` (all: ``None``; each at most once) on ``day[i]``:
    :meth:`~simulation.model.disease.DiseaseModel.panel`'s analytes, bit for bit, from each
    patient's next noise draws, which it takes (``cols.noise_drawn`` advances); or from
    ``noise`` where given: each row's six draws, scaled (the scalar model's own,
    :meth:`~simulation.model.disease.DiseaseModel.visit_noise`; ``noise_drawn`` stays)."""
    # All rows as a slice: the columns as views, not copies.
    rows_: Rows = slice(None)
    count = cols.n
    if rows is not None:
        rows_ = np.asarray(rows, dtype=np.int64)
        count = len(rows_)
    day_ = np.broadcast_to(np.asarray(day, dtype=np.float64), (count,))
    alt, igg = activity(cols, day_, rows_)
    bili, inr, plt = liver_function(cols, c, day_, rows_)
    if noise is None:
        w0, w1 = run_words(
            cols.seed, cols.patients[rows_], cols.noise_stream, cols.noise_drawn[rows_], PANEL_DRAWS
        )
        noise = normal_of(w0, w1) * c.noise_sd
        cols.noise_drawn[rows_] += np.uint64(PANEL_DRAWS)
    n = noise
    wbc = cols.wbc[rows_] * np.where(
        cols.azathioprine[rows_], c.shape["azathioprine_wbc_factor"], 1.0
    )
    latent = (alt, igg, bili, inr, plt)
    return disease.panel_values(
        c, latent, wbc, cols.ast_ratio[rows_], list(np.ascontiguousarray(n.T)), ARRAY_OPS
    )


def visit_labs(
    cols: PanelColumns, c: ModelConstants, day: Floats, rows: Ints
) -> tuple[Bools, dict[str, Floats]]:
    """Lab panels at scheduled visits of patients ``rows`` (each at most once) on ``day``, as
    :meth:`~simulation.model.disease.DiseaseModel.visit_labs`: a second visit on the day of
    the last one takes no new sample. Returns where a panel is taken (a mask over ``rows``)
    and the panels of those rows (in ``rows`` order)."""
    idx = np.asarray(rows, dtype=np.int64)
    day_ = np.broadcast_to(np.asarray(day, dtype=np.float64), idx.shape)
    new = day_ != cols.visit_day[idx]
    cols.visit_day[idx[new]] = day_[new]
    return new, panel(cols, c, day_[new], idx[new])


# --- the next event -------------------------------------------------------------------------

#: ``next_events``' answer for the queue, and for no event at all.
QUEUE, NO_EVENT = -1, -2


def clocks_of(models: Sequence[DiseaseModel], name: str) -> ClockArrays:
    """Clock ``name`` of each model as :class:`~simulation.model.hazard_arrays.ClockArrays`
    (budget, hazard, origin, last update and draws taken: the scalar clocks' own).

    Raises:
        ValueError: a clock draws from a ``numpy`` generator, or the clocks' seeds or stream
            numbers differ.
    """
    clocks = [m.clocks[name] for m in models]
    streams = [_stream(c.rng, f"clock {name!r}") for c in clocks]
    seed, number = _one_key(streams)
    out = ClockArrays(seed, np.array([s.patient for s in streams], dtype=np.int64), number)
    out.drawn = np.array([s.drawn for s in streams], dtype=np.uint64)
    out.budget = np.array([c.budget for c in clocks], dtype=np.float64)
    out.origin = np.array([c.origin for c in clocks], dtype=np.float64)
    out.since = np.array([c.since for c in clocks], dtype=np.float64)
    out.table = HazardTable.of([c.hazard for c in clocks])
    out.has = np.array([len(c.hazard) > 0 for c in clocks], dtype=bool)
    return out


def next_events(
    now: Floats,
    clocks: Sequence[ClockArrays],
    queue_day: Floats,
    queue_priority: Ints,
    dues: Sequence[Floats] | None = None,
) -> tuple[Floats, Ints]:
    """Each patient's next event, as :meth:`DiseaseModel.choose_next` plans it.

    ``clocks``: the model's clocks in :data:`~simulation.model.disease.CLOCKS` order;
    ``queue_day`` and ``queue_priority``: each patient's first queued event (``inf`` when
    the queue is empty); ``dues``: the clocks' due days if known (``ClockArrays.due()``,
    kept by a caller that re-solves only the clocks whose hazard or budget changed; then
    ``clocks`` is not read: ``clock_block.ClockBlock`` passes none).
    Returns the day (``inf``: none) and what: :data:`QUEUE`, the clock's index, or
    :data:`NO_EVENT`. Events fall on whole days; on the same day the lower priority comes
    first, then the queue, then the clocks in order."""
    # A running lexicographic minimum of (day, priority, position) over the candidates in
    # position order: a later candidate wins only if strictly better.
    best_day = np.where(np.isinf(queue_day), math.inf, np.maximum(queue_day, now))
    best_prio = np.asarray(queue_priority, dtype=np.int64).copy()
    what = np.where(np.isinf(best_day), NO_EVENT, QUEUE)
    if dues is None:
        dues = [clock.due() for clock in clocks]
    for i, (name, due) in enumerate(zip(CLOCKS, dues, strict=True)):
        finite = np.isfinite(due)
        with np.errstate(invalid="ignore"):
            whole = np.maximum(np.ceil(np.where(finite, due, 0.0) - DAY_TOLERANCE), now)
        day = np.where(finite, whole, math.inf)
        prio = clock_priority(name)
        better = finite & ((day < best_day) | ((day == best_day) & (prio < best_prio)))
        best_day = np.where(better, day, best_day)
        best_prio = np.where(better, prio, best_prio)
        what = np.where(better, i, what)
    return best_day, what


# --- which hazards run ------------------------------------------------------------------------


def situation_labs(
    cols: PanelColumns, c: ModelConstants, day: Floats, rows: Rows
) -> dict[str, Floats]:
    """The numbers a :class:`~simulation.model.hazard_conditions.Situation` holds of
    patients ``rows`` on ``day``: latent ``alt`` and ``igg`` (x ULN) and the ``meld`` of
    the latent bilirubin and INR, as :meth:`DiseaseModel.situation` computes them (the
    conditions compare them: ``meld >= th.transplant_meld``)."""
    alt, igg = activity(cols, day, rows)
    bili, inr, _ = liver_function(cols, c, day, rows)
    return {"alt": alt, "igg": igg, "meld": meld(bili, inr, c.creatinine, c.meld)}


def situation_batch(situations: Sequence[Situation], active: Set[str]) -> Batch:
    """Patients' :class:`~simulation.model.hazard_conditions.Situation` in one chart
    configuration, as the vector interpreter's columns."""
    return Batch.from_records(situations, active, SCHEMA, Situation.__slots__)


def hazards_on(batch: Batch, limits: Limits) -> dict[str, Bools]:
    """Where each condition of :data:`~simulation.model.hazard_conditions.HAZARD_CONDITIONS`
    holds, for a batch of situations in one configuration: the same declared expressions as
    :func:`simulation.model.hazard_conditions.hazards_on`, evaluated as masks
    (:mod:`pathway.vector`)."""
    vi = VectorInterpreter(batch, limits, None, SCHEMA)
    return {name: vi.test(cond.when) for name, cond in HAZARD_CONDITIONS.items()}


def flare_cases(batch: Batch, limits: Limits) -> Ints:
    """Each patient's flare case: the index in
    :data:`~simulation.model.hazard_conditions.FLARE_CASES` of the first that holds, ``-1``
    for none (as :func:`simulation.model.hazard_conditions.flare_case`)."""
    vi = VectorInterpreter(batch, limits, None, SCHEMA)
    out = np.full(batch.n, -1, dtype=np.int64)
    open_ = np.ones(batch.n, dtype=bool)
    for i, case in enumerate(FLARE_CASES):
        hit = open_ & vi.test(case.when, open_)
        out[hit] = i
        open_ &= ~hit
    return out
