"""Every clock's hazard and origin for many patients at once, for the vector engine (issue 14).

The declared table of :mod:`simulation.model.clock_hazards` (rates, hazard ratios, sums,
pieces, windows, origins), read over a batch: given where each hazard condition holds
(:func:`~simulation.model.model_arrays.hazards_on`), each patient's flare case
(:func:`~simulation.model.model_arrays.flare_cases`) and the few columns the rates read
(:class:`ClockColumns`), :func:`clock_tables` gives each clock's origins and padded pieces
(:class:`ClockTable`), which :meth:`~simulation.model.hazard_arrays.ClockArrays.set_table`
takes. Every float is the scalar :func:`~simulation.model.clock_hazards.settings`' (the same
operations on the same constants, in the same order; tested on random courses).

Units: days, rates per day, ages in years.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pathway.vector import Batch

from .clock_hazards import (
    CLOCK_HAZARDS,
    DRUG_ORIGINS,
    FLARE_HAZARDS,
    NO_FLARE,
    ClockHazard,
    Constant,
    Factor,
    Pieces,
    Rate,
    Sum,
    Window,
)
from .disease import ModelConstants
from .hazard_arrays import HazardTable
from .hazard_conditions import FLARE_CASES
from .hazards import YEAR_DAYS

__all__ = ["SITUATION_COLUMNS", "ClockColumns", "ClockTable", "clock_tables"]

Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]

#: The situation's fields the rates and origins read (besides the conditions).
SITUATION_COLUMNS = (
    "age",
    "treatment_start_day",
    "withdrawal_start_day",
    "untreated_since",
    "nonadherent_since",
)


@dataclass(frozen=True)
class ClockColumns:
    """What the clocks' rates and origins read of ``n`` patients (``NaN``: none).

    Attributes:
        day: today.
        lt_day: the transplant day (the latent one: 0.0 before any).
        drug_start: the latent start day of each drug with an intolerance clock.
        situation: the situation's :data:`SITUATION_COLUMNS` (``age`` in years).
    """

    day: Floats
    lt_day: Floats
    drug_start: Mapping[str, Floats]
    situation: Mapping[str, Floats]

    @classmethod
    def of(
        cls, batch: Batch, day: Floats, lt_day: Floats, drug_start: Mapping[str, Floats]
    ) -> ClockColumns:
        """The columns of a batch of situations (its columns, made on first use) and the
        model's days."""
        situation = {name: np.asarray(batch.column(name), np.float64) for name in SITUATION_COLUMNS}
        return cls(day, lt_day, drug_start, situation)

    @property
    def n(self) -> int:
        """Number of patients (rows)."""
        return len(self.day)


@dataclass(frozen=True)
class ClockTable:
    """One clock of ``n`` patients, as the scalar model sets it.

    Attributes:
        origin: the absolute day each hazard counts from.
        table: each hazard's pieces, padded (``inf`` starts, 0 rates).
        size: each hazard's number of pieces (0: none, the scalar ``()``).
    """

    origin: Floats
    table: HazardTable
    size: Ints

    @property
    def has(self) -> Bools:
        """Where a hazard runs (``ClockArrays.set_table``'s ``has``)."""
        out: Bools = self.size > 0
        return out


def _factor(f: Factor, c: ModelConstants, on: Mapping[str, Bools], n: int) -> Floats:
    value: float = getattr(c, f.name)
    if not f.when:
        return np.full(n, value)
    out: Floats = np.where(on[f.when], value, 1.0)
    return out


def _rate(r: Rate, c: ModelConstants, on: Mapping[str, Bools], n: int) -> Floats:
    rate: Floats = np.full(n, float(getattr(c, r.name)))
    if r.switch:
        rate = np.where(on[r.switch], float(getattr(c, r.other)), rate)
    if r.factor is not None:
        rate = rate * _factor(r.factor, c, on, n)
    return rate


def _one_piece(rate: Floats) -> tuple[Floats, Floats, Ints]:
    """:func:`~simulation.model.hazards.constant` of each rate: one piece where positive."""
    size = (rate > 0).astype(np.int64)
    starts = np.where(size > 0, 0.0, math.inf)[:, None]
    return starts, np.where(size > 0, rate, 0.0)[:, None], size


def _shape(
    h: ClockHazard, c: ModelConstants, on: Mapping[str, Bools], cols: ClockColumns
) -> tuple[Floats, Floats, Ints]:
    """Starts, rates and sizes of ``h``'s hazard for every row (whether it runs or not)."""
    shape, n = h.shape, cols.n
    if shape is None:
        return np.zeros((n, 0)), np.zeros((n, 0)), np.zeros(n, dtype=np.int64)
    if isinstance(shape, Constant):
        return _one_piece(_rate(shape.rate, c, on, n))
    if isinstance(shape, Sum):
        total = np.zeros(n)
        for when, term in shape.terms:
            total = np.where(on[when], total + _rate(term, c, on, n), total)
        return _one_piece(total)
    if isinstance(shape, Pieces):
        pieces = getattr(c, shape.name)
        base_starts = np.array([s for s, _ in pieces], dtype=np.float64)
        rates = np.broadcast_to(
            np.array([r for _, r in pieces], dtype=np.float64), (n, len(pieces))
        )
        if shape.factor is not None:
            rates = rates * _factor(shape.factor, c, on, n)[:, None]
        if shape.plus:
            rates = float(getattr(c, shape.plus)) + rates
        starts = np.broadcast_to(base_starts, (n, len(pieces)))
        return starts, rates, np.full(n, len(pieces), dtype=np.int64)
    assert isinstance(shape, Window)
    end = (float(getattr(c, shape.until_age)) - cols.situation["age"]) * YEAR_DAYS
    start = np.zeros(n)
    if shape.trial is not None:
        trial = shape.trial
        since = cols.situation[trial.since]
        with np.errstate(invalid="ignore"):
            left = since + float(getattr(c, trial.days)) - cols.day
            left = np.where(left > 0.0, left, 0.0)  # max(0.0, left): 0.0 unless greater
        start = np.where(on[trial.when] & ~np.isnan(since), left, start)
    size = np.where(end > start, 2, 0).astype(np.int64)
    starts = np.stack([start, end], axis=1)
    rates = np.stack([np.full(n, float(getattr(c, shape.rate))), np.zeros(n)], axis=1)
    return starts, rates, size


def _origin(h: ClockHazard, cols: ClockColumns) -> Floats:
    if h.origin == "day":
        return cols.day
    if h.origin == "lt_day":
        return cols.lt_day
    drug = DRUG_ORIGINS.get(h.origin)
    value = cols.drug_start[drug] if drug is not None else cols.situation[h.origin]
    out: Floats = np.where(np.isnan(value), cols.day, value)
    return out


def _table(
    h: ClockHazard, c: ModelConstants, on: Mapping[str, Bools], cols: ClockColumns, rows: Bools
) -> tuple[Floats, Floats, Floats, Ints]:
    """Origins, starts, rates and sizes of ``h`` where it runs among ``rows`` (none
    elsewhere), padded."""
    starts, rates, size = _shape(h, c, on, cols)
    runs = rows & on[h.runs] if h.runs else rows
    size = np.where(runs, size, 0)
    real = np.arange(starts.shape[1])[None, :] < size[:, None]
    return (
        _origin(h, cols),
        np.where(real, starts, math.inf),
        np.where(real, rates, 0.0),
        size,
    )


def _widen(values: Floats, width: int, pad: float) -> Floats:
    extra = width - values.shape[1]
    if extra <= 0:
        return values
    return np.hstack([values, np.full((values.shape[0], extra), pad)])


def _flare(
    c: ModelConstants, on: Mapping[str, Bools], cases: Ints, cols: ClockColumns
) -> ClockTable:
    """The flare clock: each row its case's hazard and origin (no case: none, from the day)."""
    everyone = np.ones(cols.n, dtype=bool)
    origin, starts, rates, size = _table(NO_FLARE, c, on, cols, everyone)
    for k, case in enumerate(FLARE_CASES):
        h = FLARE_HAZARDS.get(case.name)
        rows = cases == k
        if h is None or not rows.any():
            continue
        o, s, r, z = _table(h, c, on, cols, rows)
        width = max(starts.shape[1], s.shape[1])
        starts, rates = _widen(starts, width, math.inf), _widen(rates, width, 0.0)
        s, r = _widen(s, width, math.inf), _widen(r, width, 0.0)
        origin = np.where(rows, o, origin)
        starts = np.where(rows[:, None], s, starts)
        rates = np.where(rows[:, None], r, rates)
        size = np.where(rows, z, size)
    return ClockTable(origin, HazardTable.padded(starts, rates), size)


def clock_tables(
    c: ModelConstants, on: Mapping[str, Bools], cases: Ints, cols: ClockColumns
) -> dict[str, ClockTable]:
    """Each clock's origins and hazards for ``n`` patients, flare first, then the model's
    clock order: :func:`~simulation.model.clock_hazards.settings` over a batch.

    ``on``: where each hazard condition holds (``model_arrays.hazards_on``); ``cases``: each
    patient's flare case (an index of ``FLARE_CASES``, -1 for none:
    ``model_arrays.flare_cases``); ``cols``: the rest the rates and origins read.
    """
    everyone = np.ones(cols.n, dtype=bool)
    out = {"flare": _flare(c, on, cases, cols)}
    for h in CLOCK_HAZARDS:
        origin, starts, rates, size = _table(h, c, on, cols, everyone)
        out[h.clock] = ClockTable(origin, HazardTable.padded(starts, rates), size)
    return out
