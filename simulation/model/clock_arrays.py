"""Every clock's hazard and origin for many patients at once, for the vector engine (issue 14).

The declared table of :mod:`simulation.model.clock_hazards` (rates, hazard ratios, sums,
pieces, windows, origins), read over a batch: given where each hazard condition holds
(:func:`~simulation.model.model_arrays.hazards_on`), each patient's flare case
(:func:`~simulation.model.model_arrays.flare_cases`) and the few columns the rates read
(:class:`ClockColumns`), :func:`clock_tables` gives each clock's origins and padded pieces
(:class:`ClockTable`), which :meth:`~simulation.model.hazard_arrays.ClockArrays.set_table`
takes. Every float is the scalar :func:`~simulation.model.clock_hazards.set_clocks`' (the same
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
    FLARE_HAZARDS,
    NO_FLARE,
    ClockHazard,
    Variants,
    Window,
    drug_of,
    variants,
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


@dataclass(frozen=True)
class _Stacked:
    """A clock's variants (:class:`~simulation.model.clock_hazards.Variants`) as one padded
    table, with one more row for none (the clock does not run)."""

    reads: tuple[str, ...]
    table: HazardTable
    size: Ints

    @classmethod
    def of(cls, v: Variants) -> _Stacked:
        hazards = [*v.hazards, ()]
        table = HazardTable.of(hazards)
        return cls(v.reads, table, np.array([len(h) for h in hazards], dtype=np.int64))

    def code(self, on: Mapping[str, Bools], runs: Bools | None, n: int) -> Ints:
        """Each row's variant (the last: none, where ``runs`` is false)."""
        code = _code(self.reads, on, n)
        if runs is not None:
            code = np.where(runs, code, len(self.size) - 1)
        return code


def _code(reads: tuple[str, ...], on: Mapping[str, Bools], n: int) -> Ints:
    """Each row's variant of :class:`~simulation.model.clock_hazards.Variants` reading
    ``reads``: bit ``j`` set where condition ``reads[j]`` holds."""
    code = np.zeros(n, dtype=np.int64)
    for j, name in enumerate(reads):
        code |= on[name].astype(np.int64) << j
    return code


def _gathered(stacked: _Stacked, code: Ints) -> tuple[Floats, Floats, Floats, Ints]:
    t = stacked.table  # numpy.take: rows gathered two to three times faster than t[code]
    return (
        np.take(t.starts, code, axis=0),
        np.take(t.rates, code, axis=0),
        np.take(t.ends, code, axis=0),
        np.take(stacked.size, code),
    )


def _window(
    h: ClockHazard, c: ModelConstants, on: Mapping[str, Bools], cols: ClockColumns
) -> tuple[Floats, Floats, Floats, Ints]:
    """:class:`~simulation.model.clock_hazards.Window`'s hazard of every row: rate
    ``rate`` from the trial's end to the maximum age, where that end is after the start
    and the clock runs."""
    shape, n = h.shape, cols.n
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
    running = end > start
    if h.runs:
        running &= on[h.runs]
    size = np.where(running, 2, 0).astype(np.int64)
    starts = np.where(running[:, None], np.stack([start, end], axis=1), math.inf)
    rates = np.zeros((n, 2))
    rates[:, 0] = np.where(running, float(getattr(c, shape.rate)), 0.0)
    ends = np.full((n, 2), math.inf)
    ends[:, 0] = starts[:, 1]
    return starts, rates, ends, size


def _origin(h: ClockHazard, cols: ClockColumns) -> Floats:
    if h.origin == "day":
        return cols.day
    if h.origin == "lt_day":
        return cols.lt_day
    drug = drug_of(h.origin)
    value = cols.drug_start[drug] if drug is not None else cols.situation[h.origin]
    out: Floats = np.where(np.isnan(value), cols.day, value)
    return out


def _table(
    h: ClockHazard,
    stacked: _Stacked | None,
    c: ModelConstants,
    on: Mapping[str, Bools],
    cols: ClockColumns,
) -> ClockTable:
    if stacked is None:
        starts, rates, ends, size = _window(h, c, on, cols)
    else:
        code = stacked.code(on, on[h.runs] if h.runs else None, cols.n)
        starts, rates, ends, size = _gathered(stacked, code)
    return ClockTable(_origin(h, cols), HazardTable(starts, rates, ends), size)


@dataclass(frozen=True)
class _Stacks:
    """The table's variants stacked under one set of constants: each clock's (``None``: a
    window) and the flare cases' in one table, with each case's first row."""

    clocks: tuple[tuple[ClockHazard, _Stacked | None], ...]
    flare_cases: tuple[tuple[ClockHazard, Variants], ...]
    flare: _Stacked
    offsets: Ints

    @classmethod
    def of(cls, c: ModelConstants) -> _Stacks:
        clocks = []
        for h in CLOCK_HAZARDS:
            v = variants(h, c)
            clocks.append((h, None if v is None else _Stacked.of(v)))
        cases = []
        # FLARE_CASES order, then none (case -1) last.
        for h in [FLARE_HAZARDS.get(case.name, NO_FLARE) for case in FLARE_CASES] + [NO_FLARE]:
            v = variants(h, c)
            if v is None:
                raise ValueError(f"flare case {h.clock!r}: a window; expected no day window")
            cases.append((h, v))
        merged = Variants((), tuple(hazard for _, v in cases for hazard in v.hazards))
        offsets = np.cumsum([0] + [len(v.hazards) for _, v in cases[:-1]])
        return cls(tuple(clocks), tuple(cases), _Stacked.of(merged), offsets)


#: Stacks of the last constants seen, by their identity (a cohort has one set).
_STACKS: dict[int, tuple[ModelConstants, _Stacks]] = {}
_STACKS_KEPT = 8


def _stacks(c: ModelConstants) -> _Stacks:
    kept = _STACKS.get(id(c))
    if kept is not None and kept[0] is c:
        return kept[1]
    if len(_STACKS) >= _STACKS_KEPT:
        _STACKS.clear()
    stacks = _Stacks.of(c)
    _STACKS[id(c)] = (c, stacks)
    return stacks


def _flare(stacks: _Stacks, on: Mapping[str, Bools], cases: Ints, cols: ClockColumns) -> ClockTable:
    """The flare clock: each row its case's hazard and origin (no case: none, from the day),
    gathered from the cases' variants stacked in one table."""
    case = np.where(cases < 0, len(FLARE_CASES), cases)  # -1 (none): the last entry
    code = stacks.offsets[case]
    origin = cols.day
    for k, (h, v) in enumerate(stacks.flare_cases):
        if not (v.reads or h.origin != "day"):
            continue
        rows = case == k
        if not rows.any():
            continue
        if v.reads:
            code = np.where(rows, code + _code(v.reads, on, cols.n), code)
        if h.origin != "day":
            origin = np.where(rows, _origin(h, cols), origin)
    starts, rates, ends, size = _gathered(stacks.flare, code)
    return ClockTable(origin, HazardTable(starts, rates, ends), size)


def clock_tables(
    c: ModelConstants, on: Mapping[str, Bools], cases: Ints, cols: ClockColumns
) -> dict[str, ClockTable]:
    """Each clock's origins and hazards for ``n`` patients, flare first, then the model's
    clock order: :func:`~simulation.model.clock_hazards.set_clocks` over a batch.

    ``on``: where each hazard condition holds (``model_arrays.hazards_on``); ``cases``: each
    patient's flare case (an index of ``FLARE_CASES``, -1 for none:
    ``model_arrays.flare_cases``); ``cols``: the rest the rates and origins read. A constant,
    a sum or pieces is gathered from its variants, worked out once by the scalar table;
    a window is computed over the rows with the scalar operations.
    """
    stacks = _stacks(c)
    out = {"flare": _flare(stacks, on, cases, cols)}
    for h, stacked in stacks.clocks:
        out[h.clock] = _table(h, stacked, c, on, cols)
    return out
