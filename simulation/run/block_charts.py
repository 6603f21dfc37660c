"""A block of patients held as columns, as the lockstep driver calls it (issue 14).

:class:`BlockCharts` is the :class:`~simulation.run.lockstep.ChartBlock` of a
:class:`pathway.block.BlockPathway`: the round's calls of one kind and name become one
``observe``, ``fire`` or ``take`` over their rows, and the round's decisions one policy loop
(:meth:`~pathway.block.BlockPathway.act`). What the day rules and the patient model read of
a patient's chart between calls (its record, active states, trace, timers) is
:class:`RowChart`, a view of the row; the record is made from the columns when first read
after the row changed.

The patient model is still one scalar model per patient reading those views (asked a
round's rows at a time: :class:`simulation.model.model_block.ModelColumns`); each record
it reads beyond the plain fields and drugs is made from the columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pathway import PendingTimer, Step
from pathway.block import BlockChart, BlockPathway

from .engine import Call, Days
from .lockstep import RowError

__all__ = ["BlockCharts", "RowChart", "RowRecord"]


class RowRecord:
    """Row ``row``'s record as the patient model reads it: plain fields and the drugs
    (``drugs``, ``dose``, ``on``) read off the live columns, anything else from the whole
    record made from them (see :meth:`BlockCharts.record`).

    Making a whole record costs some 100-250 us; the model reads a few fields at every
    step, so it reads them here without one.
    """

    __slots__ = ("_charts", "_kinds", "_row")

    def __init__(self, charts: BlockCharts, row: int) -> None:
        self._charts = charts
        self._row = row
        self._kinds = charts.block.columns.layout.fields

    def __getattr__(self, name: str) -> Any:
        kind = self._kinds.get(name)
        if kind is not None:
            value = self._charts.block.columns.plain[name][self._row]
            if kind == "float":
                return None if value != value else float(value)
            if kind == "int":
                return int(value)
            if kind == "bool":
                return bool(value)
            if not isinstance(value, list | dict | set):  # text: the column's own value
                return value
        return getattr(self._charts.record(self._row), name)

    @property
    def drugs(self) -> dict[str, float | None]:
        """The drugs and their daily doses (mg/day; ``None``: not a daily dose), in order."""
        cols, row = self._charts.block.columns, self._row
        held = []
        for key in cols.layout.keyed["drugs"].keys:
            rank = int(cols.rank[("drugs", key)][row])
            if rank >= 0:
                value = float(cols.values[("drugs", key)][row])
                held.append((rank, key, None if value != value else value))
        return {key: value for _, key, value in sorted(held)}

    def dose(self, drug: str) -> float | None:
        """Daily dose of ``drug`` (mg/day), ``None`` when not taken or not a daily dose."""
        cols, row = self._charts.block.columns, self._row
        if not cols.present[("drugs", drug)][row]:
            return None
        value = float(cols.values[("drugs", drug)][row])
        return None if value != value else value

    def on(self, drug: str) -> bool:
        """True when ``drug`` is taken."""
        return bool(self._charts.block.columns.present[("drugs", drug)][self._row])


class RowChart:
    """Row ``row`` of a block as a chart: what the day rules (``is_dead``, ``next_timer``,
    ``timer_armed``) and the patient model (``patient``, ``active``, ``trace``,
    ``thresholds``) read of it, and no more."""

    __slots__ = ("_charts", "row")

    def __init__(self, charts: BlockCharts, row: int) -> None:
        self._charts = charts
        self.row = row

    @property
    def _block(self) -> BlockPathway:
        return self._charts.block

    @property
    def guideline(self) -> Any:
        return self._block.guideline

    @property
    def patient(self) -> Any:
        """The row's record as of its latest call (:class:`RowRecord`)."""
        return self._charts.rows[self.row]

    @property
    def thresholds(self) -> Any:
        return self._block.thresholds

    @property
    def active(self) -> frozenset[str]:
        return self._block.active(self.row)

    @property
    def trace(self) -> list[Step]:
        return self._block.traces[self.row]

    @property
    def is_dead(self) -> bool:
        # Asked at every step of the day rules: read straight off the block's codes.
        block = self._charts.block
        return block.guideline.final_state in block.active_of(int(block.codes[self.row]))

    def next_timer(self) -> PendingTimer | None:
        return self._charts.next_timer(self.row)

    def timer_armed(self, timer_id: str) -> bool:
        return self._charts.timer_armed(self.row, timer_id)


class BlockCharts:
    """A :class:`~simulation.run.lockstep.ChartBlock` over a :class:`BlockPathway`.

    Only the guideline policy decides (``decide`` is the block's policy loop): strategies
    that prefer or avoid actions are refused by the engine before a block is made.
    """

    def __init__(self, block: BlockPathway) -> None:
        self.block = block
        self._views = [RowChart(self, row) for row in range(block.n)]
        #: Each row's record as the patient model reads it.
        self.rows = [RowRecord(self, row) for row in range(block.n)]
        # Each row's first pending timer (due day, index; -1: none), made for all the rows
        # changed since it was last asked, in one call (a round changes many rows at once).
        self._due = np.full(block.n, np.inf)
        self._which = np.full(block.n, -1, dtype=np.int64)
        self._stale = np.ones(block.n, dtype=bool)
        self._timers = block.guideline.timers.timers
        self._index = {t.id: k for k, t in enumerate(self._timers)}
        # Whether a row's timer is armed, by row: (timer id, answer), until the row changes.
        self._armed: dict[int, tuple[str, bool]] = {}
        self._records: dict[int, Any] = {}
        # Drug sets by the bits of the drugs present (a handful of combinations).
        self._drug_sets: dict[int, frozenset[str]] = {}

    def chart(self, row: int) -> Any:
        return self._views[row]

    def record(self, row: int) -> Any:
        """Row ``row``'s record, made again only after a call changed the row."""
        found = self._records.get(row)
        if found is None:
            found = self._records[row] = self.block.record(row)
        return found

    def result(self, row: int) -> BlockChart:
        """Row ``row`` as a finished chart (what the outputs read)."""
        return self.block.result(row)

    def next_timer(self, row: int) -> PendingTimer | None:
        """Row ``row``'s first pending timer (the runtime's ``next_timer``)."""
        return self.next_timers([row])[0]

    def next_timers(self, rows: Sequence[int]) -> list[PendingTimer | None]:
        """Each row's first pending timer (:meth:`next_timer` of each), the rows changed
        since last asked worked out in one call."""
        self._fresh()
        which = self._which[rows].tolist()
        due = self._due[rows].tolist()
        timers = self._timers
        return [
            None
            if k < 0
            else PendingTimer(timers[k].id, timers[k].event, d, timers[k].labs, timers[k].rule_id)
            for k, d in zip(which, due, strict=True)
        ]

    def _fresh(self) -> None:
        """Work out the first pending timer of every row changed since last asked."""
        stale = np.flatnonzero(self._stale)
        if len(stale):
            self._due[stale], self._which[stale] = self.block.next_timers(stale)
            self._stale[stale] = False

    def plain(self, name: str, rows: Any) -> Any:
        """Plain field ``name`` of ``rows`` off the live columns (an array; NaN: ``None``
        where the field is a float)."""
        return self.block.columns.plain[name][rows]

    def drug_sets(self, rows: Any) -> list[frozenset[str]]:
        """Each row's drugs as a set (``frozenset(record.drugs)``), off the live columns."""
        cols = self.block.columns
        keys = cols.layout.keyed["drugs"].keys
        code = np.zeros(len(rows), dtype=np.int64)
        for j, key in enumerate(keys):
            code |= cols.present[("drugs", key)][rows].astype(np.int64) << j
        sets = self._drug_sets
        for c in set(code.tolist()) - sets.keys():
            sets[c] = frozenset(key for j, key in enumerate(keys) if c >> j & 1)
        return [sets[c] for c in code.tolist()]

    def doses(self, drug: str, rows: Any) -> list[float | None]:
        """Each row's daily dose of ``drug`` (``RowRecord.dose``: ``None`` when not taken
        or not a daily dose), off the live columns."""
        cols = self.block.columns
        values = np.where(
            cols.present[("drugs", drug)][rows], cols.values[("drugs", drug)][rows], np.nan
        )
        return [None if v != v else v for v in values.tolist()]

    def actives(self, rows: Any) -> list[frozenset[str]]:
        """Each row's active states (:attr:`RowChart.active`)."""
        active_of = self.block.active_of
        return [active_of(code) for code in self.block.codes[rows].tolist()]

    def configurations(self, rows: Any) -> tuple[Any, Any]:
        """The configuration codes of ``rows`` and what reads them
        (:class:`pathway.vector.Configurations`), for a batch over the rows."""
        return self.block.codes[rows], self.block.configs

    def dead(self, rows: Sequence[int]) -> list[bool]:
        """Each row's ``is_dead`` (:attr:`RowChart.is_dead`), in one call."""
        out: list[bool] = self.block.is_dead(np.asarray(rows, dtype=np.int64)).tolist()
        return out

    def timer_armed(self, row: int, timer_id: str) -> bool:
        """Whether ``timer_id`` is armed for row ``row`` (the runtime's ``timer_armed``).

        The day rules ask it of the timer a row's visit is for, after the visit's labs; so
        it is answered in one call for every row whose first timer was that one."""
        found = self._armed.get(row)
        if found is not None and found[0] == timer_id:
            return found[1]
        index = self._index.get(timer_id, -2)
        rows = [r for r in np.flatnonzero(self._which == index).tolist() if r not in self._armed]
        if row not in rows:
            rows.append(row)
        for r, armed in zip(rows, self.block.timer_armed(rows, timer_id).tolist(), strict=True):
            self._armed[r] = (timer_id, bool(armed))
        return self._armed[row][1]

    def _changed(self, rows: Sequence[int]) -> None:
        for row in rows:
            self._records.pop(row, None)
            self._armed.pop(row, None)
        self._stale[list(rows)] = True

    def call(self, rows: Sequence[int], calls: Sequence[Call]) -> list[Step]:
        kind, name = calls[0].kind, calls[0].name
        at = np.asarray(rows, dtype=np.int64)
        days = np.array([c.day for c in calls], dtype=np.float64)
        self._changed(rows)
        try:
            if kind == "finding":
                return self.block.observe(at, name, [c.value for c in calls], days)
            if kind == "timer":
                return self.block.fire(at, [c.name for c in calls], days)
            return self.block.take(at, name, days, deviate=True)
        except Exception as exc:
            raise _failed(exc, rows) from exc

    def decide(self, rows: Sequence[int], days: Sequence[Days]) -> None:
        self._changed(rows)
        try:
            self.block.act(np.asarray(rows, dtype=np.int64), np.asarray(days, dtype=np.float64))
        except Exception as exc:
            raise _failed(exc, rows) from exc


def _failed(exc: BaseException, rows: Sequence[int]) -> RowError:
    """The row a block error names (its ``row`` attribute), else the group's first row,
    marked as one of ``len(rows)``."""
    row = getattr(exc, "row", None)
    if row is not None:
        return RowError(int(row), exc)
    return RowError(int(rows[0]), exc, group=len(rows))
