"""Piecewise-constant hazards of many patients at once, for the vector engine (issue 14).

The scalar patient model finds its next event with :func:`simulation.model.hazards.solve`,
one clock of one patient at a time (about a quarter of the compiled engine's time with the
lab panels, by the issue's profile). Here the same functions work on a :class:`HazardTable`,
one hazard per row, padded to the longest with empty pieces, and give the same numbers bit
for bit: the same floating-point operations in the same order (tested), so a vector engine
finds the same event days as the scalar one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .draws import exponentials
from .hazards import Hazard

__all__ = ["ClockArrays", "HazardTable", "cumulative_hazard", "solve"]

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class HazardTable:
    """``n`` hazards as arrays of shape ``(n, pieces)``.

    Attributes:
        starts: each piece's start (days after the hazard's origin); ``inf`` pads.
        rates: each piece's rate (per day); 0 pads.
        ends: each piece's end, the next piece's start (``inf`` for the last).
    """

    starts: Floats
    rates: Floats
    ends: Floats

    @classmethod
    def of(cls, hazards: Sequence[Hazard]) -> HazardTable:
        """The table of scalar hazards (tuples of ``(start, rate)``), one per row."""
        width = max((len(h) for h in hazards), default=0)
        starts = np.full((len(hazards), width), math.inf)
        rates = np.zeros((len(hazards), width))
        for i, h in enumerate(hazards):
            for j, (start, rate) in enumerate(h):
                starts[i, j], rates[i, j] = start, rate
        return cls.padded(starts, rates)

    @classmethod
    def padded(cls, starts: Floats, rates: Floats) -> HazardTable:
        """The table of pieces ``starts`` and ``rates`` (``inf`` and 0 where padded)."""
        ends = np.full_like(starts, math.inf)
        ends[:, :-1] = starts[:, 1:]
        return cls(starts, rates, ends)

    @property
    def n(self) -> int:
        """Number of hazards (rows)."""
        return int(self.starts.shape[0])


def cumulative_hazard(table: HazardTable, lo: ArrayLike, hi: ArrayLike) -> Floats:
    """Per row, the integral of the rate from ``lo`` to ``hi`` (days after the origin)."""
    lo_, hi_ = np.broadcast_to(lo, (table.n,)), np.broadcast_to(hi, (table.n,))
    total = np.zeros(table.n)
    for j in range(table.starts.shape[1]):
        rate = table.rates[:, j]
        s = np.maximum(table.starts[:, j], lo_)
        e = np.minimum(table.ends[:, j], hi_)
        add = (e > s) & (rate > 0)
        # Rows that add nothing keep their total exactly (x + 0.0 is x for x >= +0.0).
        total = np.where(add, total + rate * np.where(add, e - s, 0.0), total)
    return total


def solve(table: HazardTable, lo: ArrayLike, budget: ArrayLike) -> Floats:
    """Per row, the day ``t >= lo`` at which the hazard integrated from ``lo`` reaches
    ``budget`` (``inf`` when it never does)."""
    lo_ = np.broadcast_to(np.asarray(lo, dtype=np.float64), (table.n,))
    left = np.array(np.broadcast_to(np.asarray(budget, dtype=np.float64), (table.n,)))
    out = np.full(table.n, math.inf)
    open_ = np.ones(table.n, dtype=bool)  # rows still searching
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for j in range(table.starts.shape[1]):
            rate, end = table.rates[:, j], table.ends[:, j]
            s = np.maximum(table.starts[:, j], lo_)
            live = open_ & ~(end <= s) & (rate > 0)
            need = left / rate
            at = s + need
            hit = live & (at <= end)
            out = np.where(hit, at, out)
            spend = live & ~hit
            left = np.where(spend, left - rate * (end - s), left)
            open_ &= ~hit
    return out


def _pad(table: HazardTable, width: int) -> HazardTable:
    extra = width - table.starts.shape[1]
    if extra <= 0:
        return table
    n = table.n
    return HazardTable(
        np.hstack([table.starts, np.full((n, extra), math.inf)]),
        np.hstack([table.rates, np.zeros((n, extra))]),
        np.hstack([table.ends, np.full((n, extra), math.inf)]),
    )


class ClockArrays:
    """One kind of event for ``n`` patients: :class:`simulation.model.hazards.Clock`, as columns.

    Each patient's budgets are the Exp(1) draws of its own stream ``stream``
    (:mod:`simulation.model.draws`), in order: the first when made, the next each time the
    event fires, as the scalar clock draws them from its :class:`PatientStream`. Every
    method takes a mask of the patients it applies to; the results are the scalar clock's,
    bit for bit (tested).
    """

    def __init__(self, seed: int, patients: NDArray[np.int64], stream: int) -> None:
        self.seed, self.patients, self.stream = seed, patients, stream
        n = len(patients)
        self.drawn = np.zeros(n, dtype=np.uint64)  # budgets drawn so far
        self.budget = exponentials(seed, patients, stream, self.drawn)
        self.drawn += np.uint64(1)
        self.origin = np.zeros(n)
        self.since = np.zeros(n)
        self.table = HazardTable.of([()] * n)
        self.has = np.zeros(n, dtype=bool)  # a hazard is set (the scalar ``if self.hazard``)

    def advance(self, day: Floats, mask: NDArray[np.bool_]) -> None:
        """Spend each masked patient's budget from its last update to ``day``."""
        m = mask & (day > self.since)
        spend = m & self.has
        if spend.any():
            used = cumulative_hazard(self.table, self.since - self.origin, day - self.origin)
            self.budget = np.where(spend, self.budget - used, self.budget)
        self.since = np.where(m, day, self.since)

    def set(self, origin: Floats, hazards: Sequence[Hazard], mask: NDArray[np.bool_]) -> None:
        """From now on the masked patients' hazard is ``hazards[i]`` counted from ``origin``."""
        has = np.array([len(h) > 0 for h in hazards], dtype=bool)
        self.set_table(origin, HazardTable.of(hazards), has, mask)

    def set_table(
        self, origin: Floats, new: HazardTable, has: NDArray[np.bool_], mask: NDArray[np.bool_]
    ) -> None:
        """:meth:`set` from a table: the masked patients' hazard is row ``i`` of ``new``
        (``has[i]``: it has a piece, the scalar ``if hazard``) counted from ``origin``."""
        width = max(new.starts.shape[1], self.table.starts.shape[1])
        old, new = _pad(self.table, width), _pad(new, width)
        rows = mask[:, None]
        self.table = HazardTable(
            np.where(rows, new.starts, old.starts),
            np.where(rows, new.rates, old.rates),
            np.where(rows, new.ends, old.ends),
        )
        self.has = np.where(mask, has, self.has)
        self.origin = np.where(mask, origin, self.origin)

    def due(self) -> Floats:
        """Each patient's event day at its current hazard (``inf``: never)."""
        at = self.origin + solve(self.table, self.since - self.origin, self.budget)
        return np.where(~self.has, math.inf, np.where(self.budget <= 0, self.since, at))

    def fired(self, day: Floats, mask: NDArray[np.bool_]) -> None:
        """The masked patients' event happened on ``day``: each draws its next budget."""
        self.since = np.where(mask, np.maximum(self.since, day), self.since)
        fresh = exponentials(self.seed, self.patients, self.stream, self.drawn)
        self.budget = np.where(mask, fresh, self.budget)
        self.drawn = self.drawn + mask.astype(np.uint64)
