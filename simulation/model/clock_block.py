"""The clocks of a block's patient models as arrays, planned a round's rows at once (issue 14).

A scalar :class:`~simulation.model.disease.DiseaseModel` keeps 17
:class:`~simulation.model.hazards.Clock` s; every next event spends them all to the day
(``advance``), sets every hazard (``set_clocks``) and searches every due day
(``choose_next``): some 100 us of Python per patient and event. In a block run the clocks
of all the block's models live here instead, as arrays of shape ``(n, K)`` (``K =
len(CLOCKS)``: budgets, last updates, origins, hazard sizes) and ``(n, K, W)`` (the
hazards' padded pieces), and :meth:`ClockBlock.plan` does those three steps for a round's
asking rows together: it gathers their rows, spends, sets the tables that
:func:`~simulation.model.clock_arrays.clock_tables` worked out for them, solves the due
days of all their clocks as one flat table, picks each row's next event
(:func:`~simulation.model.model_arrays.next_events`) and writes the rows back. Working on
the gathered rows only keeps the cost per round to some 60 numpy operations whatever the
block's size.

Each model keeps a :class:`ClockRow` per clock, a :class:`~simulation.model.hazards.Clock`
whose state is its row here: what the model still does one patient at a time (a clock
firing in ``pop``; the scalar ``next_day`` of a copy in the tests) reads and writes the
arrays through it, with the scalar clock's own code and random stream. Every float is the
scalar clock's, bit for bit: the same operations in the same order
(:mod:`simulation.model.hazard_arrays`; tested against the scalar model).

Units: days; rates per day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .clock_arrays import ClockTable
from .disease import CLOCKS, DiseaseModel
from .draws import Randomness
from .hazard_arrays import HazardTable, cumulative_hazard, solve
from .hazards import Clock, Hazard
from .model_arrays import next_events

__all__ = ["ClockBlock", "ClockRow"]

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


class ClockBlock:
    """The clocks of ``n`` models (in :data:`~simulation.model.disease.CLOCKS` order) as
    arrays; see the module docstring. :meth:`of` takes them over from the models.

    Attributes:
        budget, since, origin: each clock's budget left, last update and hazard origin
            (shape ``(n, K)``).
        size: each hazard's number of pieces (0: none, the scalar ``()``).
        starts, rates, ends: each hazard's pieces (shape ``(n, K, W)``; ``inf``, 0 and
            ``inf`` pad), as :class:`~simulation.model.hazard_arrays.HazardTable` rows.
    """

    def __init__(self, clocks: Sequence[Sequence[Clock]]) -> None:
        n, k = len(clocks), len(CLOCKS)
        flat = [clock for row in clocks for clock in row]
        self.budget = np.array([c.budget for c in flat], dtype=np.float64).reshape(n, k)
        self.since = np.array([c.since for c in flat], dtype=np.float64).reshape(n, k)
        self.origin = np.array([c.origin for c in flat], dtype=np.float64).reshape(n, k)
        self.size = np.array([len(c.hazard) for c in flat], dtype=np.int64).reshape(n, k)
        table = _at_least_one(HazardTable.of([c.hazard for c in flat]))
        width = table.starts.shape[1]
        self.starts = table.starts.reshape(n, k, width)
        self.rates = table.rates.reshape(n, k, width)
        self.ends = table.ends.reshape(n, k, width)

    @classmethod
    def of(cls, models: Sequence[DiseaseModel]) -> ClockBlock:
        """The clocks of ``models`` (row ``i``: ``models[i]``), which from now on keep their
        clocks here (:meth:`DiseaseModel.use_clocks` with :class:`ClockRow` s)."""
        out = cls([[m.clocks[name] for name in CLOCKS] for m in models])
        for row, m in enumerate(models):
            m.use_clocks(
                {
                    name: ClockRow(out, row, k, name, m.clocks[name].rng)
                    for k, name in enumerate(CLOCKS)
                }
            )
        return out

    @property
    def width(self) -> int:
        """Pieces per hazard kept (the longest hazard set so far)."""
        return int(self.starts.shape[2])

    def widen(self, width: int) -> None:
        """Keep at least ``width`` pieces per hazard (padding as a ``HazardTable``)."""
        extra = width - self.width
        if extra <= 0:
            return
        n, k = self.size.shape
        self.starts = np.concatenate([self.starts, np.full((n, k, extra), math.inf)], axis=2)
        self.rates = np.concatenate([self.rates, np.zeros((n, k, extra))], axis=2)
        self.ends = np.concatenate([self.ends, np.full((n, k, extra), math.inf)], axis=2)

    def plan(
        self,
        rows: Ints,
        day: Floats,
        tables: Mapping[str, ClockTable],
        queue_day: Floats,
        queue_priority: Ints,
    ) -> tuple[Floats, Ints]:
        """Each of ``rows``' next event on ``day[i]`` (its chart's day), as the scalar model
        plans it after catching up: every clock spent to the day
        (:meth:`~simulation.model.hazards.Clock.advance`), set to its new origin and hazard
        (``tables``: :func:`~simulation.model.clock_arrays.clock_tables` of the rows) and
        the earliest of the clocks' and the queue's events chosen
        (:meth:`~simulation.model.disease.DiseaseModel.choose_next`; ``queue_day``: each
        row's first queued event, ``inf`` for none). The rows' clocks are written back.
        Returns :func:`~simulation.model.model_arrays.next_events`' day and what."""
        budget, since, origin = self.budget[rows], self.since[rows], self.origin[rows]
        now = day[:, None]
        # Spend: on the clocks behind the day that have a hazard, over their old pieces.
        moved = now > since
        spend = moved & (self.size[rows] > 0)
        if spend.any():
            r, c = np.nonzero(spend)
            at, lo = rows[r], since[r, c] - origin[r, c]
            old = HazardTable(self.starts[at, c], self.rates[at, c], self.ends[at, c])
            budget[r, c] = budget[r, c] - cumulative_hazard(old, lo, day[r] - origin[r, c])
        since = np.where(moved, now, since)
        # Set: every clock's origin and hazard anew (the scalar model sets them all).
        self.widen(max(t.table.starts.shape[1] for t in tables.values()))
        width, count = self.width, len(rows)
        starts = np.full((count, len(CLOCKS), width), math.inf)
        rates = np.zeros((count, len(CLOCKS), width))
        ends = np.full((count, len(CLOCKS), width), math.inf)
        origin = np.empty((count, len(CLOCKS)))
        size = np.empty((count, len(CLOCKS)), dtype=np.int64)
        for k, name in enumerate(CLOCKS):
            t = tables[name]
            w = t.table.starts.shape[1]
            starts[:, k, :w], rates[:, k, :w], ends[:, k, :w] = (
                t.table.starts,
                t.table.rates,
                t.table.ends,
            )
            origin[:, k], size[:, k] = t.origin, t.size
        # Due: where a hazard runs, the budget's end (the day itself once it is spent).
        due = np.where(size > 0, since, math.inf)
        open_ = (size > 0) & (budget > 0)
        if open_.any():
            r, c = np.nonzero(open_)
            lo = since[r, c] - origin[r, c]
            table = HazardTable(starts[r, c], rates[r, c], ends[r, c])
            due[r, c] = origin[r, c] + solve(table, lo, budget[r, c])
        self.budget[rows], self.since[rows], self.origin[rows] = budget, since, origin
        self.size[rows], self.starts[rows], self.rates[rows], self.ends[rows] = (
            size,
            starts,
            rates,
            ends,
        )
        return next_events(day, (), queue_day, queue_priority, list(due.T))


def _at_least_one(table: HazardTable) -> HazardTable:
    """``table`` with at least one piece column (all-empty hazards give none)."""
    if table.starts.shape[1]:
        return table
    n = table.n
    return HazardTable(np.full((n, 1), math.inf), np.zeros((n, 1)), np.full((n, 1), math.inf))


class _Cell:
    """A float attribute of a :class:`ClockRow` kept in its block's array ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, row: ClockRow, owner: object = None) -> float:
        return float(getattr(row._block, self.name)[row._row, row._k])

    def __set__(self, row: ClockRow, value: float) -> None:
        getattr(row._block, self.name)[row._row, row._k] = value


class ClockRow(Clock):
    """Clock ``k`` of row ``row`` of a :class:`ClockBlock`: a
    :class:`~simulation.model.hazards.Clock` (same code, same random stream) whose budget,
    last update, origin and hazard are read and written there."""

    __slots__ = ("_block", "_k", "_row")

    def __init__(self, block: ClockBlock, row: int, k: int, name: str, rng: Randomness) -> None:
        # The scalar clock's name and stream; its state is the block's row.
        self.name, self.rng = name, rng
        self._block, self._row, self._k = block, row, k

    def __reduce__(self) -> tuple[type[ClockRow], tuple[Any, ...]]:
        # A copy is a row of a copy of the block (copied once with its model's clocks).
        return ClockRow, (self._block, self._row, self._k, self.name, self.rng)

    budget = _Cell("budget")
    since = _Cell("since")
    origin = _Cell("origin")

    @property
    def hazard(self) -> Hazard:
        b, i, k = self._block, self._row, self._k
        size = int(b.size[i, k])
        return tuple(
            zip(b.starts[i, k, :size].tolist(), b.rates[i, k, :size].tolist(), strict=True)
        )

    @hazard.setter
    def hazard(self, value: Hazard) -> None:
        b, i, k = self._block, self._row, self._k
        b.widen(len(value))
        table = HazardTable.of([value])
        w = table.starts.shape[1]
        b.starts[i, k], b.rates[i, k], b.ends[i, k] = math.inf, 0.0, math.inf
        b.starts[i, k, :w], b.rates[i, k, :w], b.ends[i, k, :w] = (
            table.starts,
            table.rates,
            table.ends,
        )
        b.size[i, k] = len(value)
