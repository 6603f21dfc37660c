"""The patient model's lab panels for many patients at once, for the vector engine (issue 14).

:class:`~simulation.model.disease.DiseaseModel` gives one patient's lab panel: the latent
ALT and IgG of its current course (:func:`~simulation.model.disease.path_value`), the liver
function of its stage with the acute excess, noise from its own counter-based stream, and
rounding. Here the same panel comes for many patients at once, each on its own day and at its
own noise draw numbers, from :class:`PanelColumns`: the scalar models' state as columns, the
latent paths as padded knot arrays read off the models' own path objects (the shapes are not
written twice: courses are still built by the scalar model).

Every value equals the scalar model's bit for bit (tested): the same floating-point
operations in the same order, and the scalar model calls the numpy functions used here
(:func:`~simulation.model.disease.np_exp`, ``np_exp2``, ``np_log``,
:func:`~simulation.model.disease.round_half_even`), so agreement holds by construction.

Units: days from diagnosis, x ULN, mg/dL, 10^9/L.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import NDArray

from . import disease
from .disease import PANEL_DRAWS, DiseaseModel, MeldFormula, ModelConstants, PanelOps, Path
from .draws import PatientStream, normal_of, run_words

__all__ = [
    "ARRAY_OPS",
    "STAGES",
    "PanelColumns",
    "PathArrays",
    "activity",
    "acute_factor",
    "clip",
    "liver_function",
    "meld",
    "panel",
    "rounded",
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
        k = np.clip(j, 1, times.shape[1] - 1)[:, None]
        t0 = np.take_along_axis(times, k - 1, axis=1)[:, 0]
        t1 = np.take_along_axis(times, k, axis=1)[:, 0]
        y0 = np.take_along_axis(logs, k - 1, axis=1)[:, 0]
        y1 = np.take_along_axis(logs, k, axis=1)[:, 0]
        last = np.take_along_axis(logs, (size - 1)[:, None], axis=1)[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            inner = y0 + (y1 - y0) * (t - t0) / (t1 - t0)
        return np.exp(np.where(j == 0, first, np.where(j >= size, last, inner)))


def _widen(paths: PathArrays, width: int) -> PathArrays:
    """A copy of ``paths`` with ``width`` knot columns (padded as :meth:`PathArrays.of`)."""
    extra = width - paths.times.shape[1]
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

    @classmethod
    def of(cls, models: Sequence[DiseaseModel]) -> PanelColumns:
        """The columns of scalar models whose streams are counter-based (the cohort's).

        Raises:
            ValueError: a model draws from a ``numpy`` generator, or the models' seeds or
                noise stream numbers differ.
        """
        noise = [_noise_stream(m) for m in models]
        seeds = {s.seed for s in noise}
        streams = {s.stream for s in noise}
        if len(seeds) > 1 or len(streams) > 1:
            raise ValueError(
                f"models: found seeds {sorted(seeds)} and noise streams {sorted(streams)}, "
                "expected one seed and one stream number for all"
            )
        rows = [_row(m) for m in models]
        columns = {name: np.array([r[name] for r in rows]) for name in _ROW_FIELDS}
        return cls(
            seed=seeds.pop() if seeds else 0,
            patients=np.array([s.patient for s in noise], dtype=np.int64),
            noise_stream=streams.pop() if streams else 0,
            noise_drawn=np.array([_noise_at(m) for m in models], dtype=np.uint64),
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
        taken = {
            f.name: getattr(self, f.name)[rows]
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        if patients is not None:
            taken["patients"] = np.asarray(patients, dtype=np.int64)
        return replace(self, **taken, alt=self.alt.take(rows), igg=self.igg.take(rows))

    def update(self, rows: Ints, models: Sequence[DiseaseModel]) -> None:
        """Rewrite ``rows[i]`` from ``models[i]`` (the same patients, later in their course)."""
        for name in _ROW_FIELDS:
            getattr(self, name)[rows] = [_row(m)[name] for m in models]
        self.noise_drawn[rows] = [_noise_at(m) for m in models]
        self.alt = self.alt.with_rows(rows, [m.course.alt_path for m in models])
        self.igg = self.igg.with_rows(rows, [m.course.igg_path for m in models])


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
    }


def _noise_stream(m: DiseaseModel) -> PatientStream:
    stream = m.noise_rng
    if not isinstance(stream, PatientStream):
        raise ValueError(
            f"model: found a {type(stream).__name__} for its lab noise, expected a "
            "counter-based PatientStream (simulation.model.draws)"
        )
    return stream


def _noise_at(m: DiseaseModel) -> int:
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
    cols: PanelColumns, c: ModelConstants, day: Floats, rows: Ints | None = None
) -> dict[str, Floats]:
    """Lab panels of patients ``rows`` (all: ``None``; each at most once) on ``day[i]``:
    :meth:`~simulation.model.disease.DiseaseModel.panel`'s analytes, bit for bit, from each
    patient's next noise draws, which it takes (``cols.noise_drawn`` advances)."""
    # All rows as a slice: the columns as views, not copies.
    rows_: Rows = slice(None)
    count = cols.n
    if rows is not None:
        rows_ = np.asarray(rows, dtype=np.int64)
        count = len(rows_)
    day_ = np.broadcast_to(np.asarray(day, dtype=np.float64), (count,))
    alt, igg = activity(cols, day_, rows_)
    bili, inr, plt = liver_function(cols, c, day_, rows_)
    w0, w1 = run_words(
        cols.seed, cols.patients[rows_], cols.noise_stream, cols.noise_drawn[rows_], PANEL_DRAWS
    )
    n = normal_of(w0, w1) * c.noise_sd
    cols.noise_drawn[rows_] += np.uint64(PANEL_DRAWS)
    wbc = cols.wbc[rows_] * np.where(
        cols.azathioprine[rows_], c.shape["azathioprine_wbc_factor"], 1.0
    )
    latent = (alt, igg, bili, inr, plt)
    return disease.panel_values(
        c, latent, wbc, cols.ast_ratio[rows_], list(np.ascontiguousarray(n.T)), ARRAY_OPS
    )
