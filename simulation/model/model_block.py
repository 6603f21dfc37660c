"""The patient models of a block, asked a round at a time with array operations (issue 14).

:class:`ModelColumns` is the :class:`~simulation.run.lockstep.ModelBlock` of a block's
:class:`~simulation.model.disease.DiseaseModel` s: the lockstep driver hands it the
questions of a round's courses together. The lab panels of a round's visits are one
:func:`~simulation.model.model_arrays.panel` call over :class:`PanelColumns` kept in step
with the scalar models: a row is read again from its model when what a panel reads of it
changed (a course, the liver stage, a transplant, the acute excess, azathioprine), and the
noise is the six draws each model takes for the visit
(:meth:`~simulation.model.disease.DiseaseModel.visit_noise`: its own stream, advanced as
its own panel advances it), so its later panels (a flare's) draw what they would.

The next events: each model catches up with its chart
(:meth:`~simulation.model.disease.DiseaseModel.catch_up`: courses started, drugs; its clocks
left alone), then the round's rows are planned with array operations: the latent ALT, IgG
and MELD (:func:`~simulation.model.model_arrays.situation_labs` over the same columns),
the rows' situations as columns (the record's fields off the block's columns, the models'
latent fields), the hazard conditions and flare cases as masks over them in any mix of
configurations (:func:`~simulation.model.model_arrays.hazards_on`,
:func:`~simulation.model.model_arrays.flare_cases`), every clock's table
(:func:`~simulation.model.clock_arrays.clock_tables`) and the clocks spent, set, solved and
chosen over the rows gathered from :class:`~simulation.model.clock_block.ClockBlock`, where
the models' clocks live for the block's run. What stays scalar is per row and rare: a
course started or a drug changed (``catch_up``), a clock firing (``pop``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pathway import PendingTimer
from pathway.vector import Array, Batch, column

from ..run.block_charts import BlockCharts
from ..run.engine import Days, earliest
from ..run.lockstep import ChartBlock, ModelList, RowError
from .clock_arrays import ClockColumns, clock_tables
from .clock_block import ClockBlock
from .clock_hazards import CLOCK_HAZARDS, drug_of
from .disease import CLOCKS, LATENT_FIELDS, ChartNow, DiseaseModel, ModelConstants
from .hazards import YEAR_DAYS
from .model_arrays import (
    NO_EVENT,
    QUEUE,
    PanelColumns,
    flare_cases,
    hazards_on,
    panel,
    situation_labs,
)

__all__ = ["ActiveSets", "ModelColumns", "panel_key"]

#: The record's fields a situation reads (``age`` then grows with the day).
RECORD_FIELDS = ("pregnancy", "sex", "age", "withdrawal_start_day", "treatment_start_day")
#: The drugs whose latent start day a clock counts from.
_DRUG_STARTS = tuple(
    drug for drug in (drug_of(h.origin) for h in CLOCK_HAZARDS) if drug is not None
)


def panel_key(model: DiseaseModel) -> tuple[Any, ...]:
    """What a lab panel reads of ``model`` that changes during a course (the rest are the
    patient's baseline draws): equal keys, equal :class:`PanelColumns` rows."""
    course, lat = model.course, model.latent
    return (
        course.start,
        course.alt_path,
        course.igg_path,
        lat.stage,
        lat.transplanted,
        lat.graft_failed,
        lat.acute_mode,
        lat.acute_until,
        model.acute_bili,
        model.acute_inr,
        model.on_azathioprine,
    )


class ModelColumns:
    """A :class:`~simulation.run.lockstep.ModelBlock` over the scalar models of a block,
    whose visit panels and next events are computed for a round's rows at once (see the
    module docstring).

    From construction on the models keep their clocks in :attr:`clocks` (each model's
    ``clocks`` are rows of it; a copy of a model copies the block). The models must draw
    from counter-based streams (:mod:`simulation.model.draws`; a cohort's do) and share
    one set of hazard limits: ``ValueError`` otherwise.
    """

    def __init__(
        self, block: ChartBlock, models: Sequence[DiseaseModel], constants: ModelConstants
    ) -> None:
        self.models = list(models)
        self.constants = constants
        self._scalar = ModelList(block, self.models)
        self.columns = PanelColumns.of(self.models)
        self._keys = [panel_key(m) for m in self.models]
        limits = {m.limits(block.chart(row)) for row, m in enumerate(self.models)}
        if len(limits) > 1:
            raise ValueError(f"model block: one set of limits expected, found {limits}")
        self.limits = limits.pop() if limits else None
        #: The models' clocks, kept here from now on (each model's are rows of it).
        self.clocks = ClockBlock.of(self.models)
        self._sets = ActiveSets()  # configurations of charts without codes
        #: A columnar block, read a round's rows at a time (else each chart is read).
        self._columnar = block if isinstance(block, BlockCharts) else None

    def next_events(self, rows: Sequence[int]) -> list[tuple[Days, PendingTimer | None]]:
        block = self._scalar.block
        charts = [block.chart(row) for row in rows]
        # A columnar block answers the timers and deaths of the rows in one call each.
        columnar = self._columnar
        if columnar is not None:
            timers, dead = columnar.next_timers(rows), columnar.dead(rows)
        else:
            timers = [chart.next_timer() for chart in charts]
            dead = [chart.is_dead for chart in charts]
        live = [i for i in range(len(rows)) if not dead[i]]  # positions whose model plans
        known = self._chart_now([rows[i] for i in live])
        days: list[Days] = []
        for i, now in zip(live, known, strict=True):
            try:
                days.append(self.models[rows[i]].catch_up(charts[i], clocks=False, known=now))
            except Exception as exc:
                raise RowError(rows[i], exc) from exc
        plans: list[Days | None] = [None] * len(rows)
        if live:
            taking = np.array([rows[i] for i in live], dtype=np.int64)
            try:
                planned = self._plan(taking, [charts[i] for i in live], np.array(days))
            except Exception as exc:
                raise RowError(int(taking[0]), exc, group=len(live)) from exc
            for i, plan in zip(live, planned, strict=True):
                plans[i] = plan
        return [earliest(t, d) for t, d in zip(timers, plans, strict=True)]

    def _chart_now(self, rows: Sequence[int]) -> Sequence[ChartNow | None]:
        """What ``catch_up`` reads of the charts of ``rows``, off a columnar block's
        columns in one pass (else ``None`` each: each model reads its chart)."""
        block = self._columnar
        if block is None or not rows:
            return [None] * len(rows)
        at = np.array(rows, dtype=np.int64)
        return [
            ChartNow(*values)
            for values in zip(
                block.plain("day", at).tolist(),
                block.doses("prednisolone", at),
                block.doses("azathioprine", at),
                block.drug_sets(at),
                block.actives(at),
                strict=True,
            )
        ]

    def _plan(self, rows: Array, charts: Sequence[Any], day: Array) -> list[Days | None]:
        """The next events of caught-up ``rows`` (``charts``: theirs) on ``day``: set in the
        models as ``choose_next`` sets them; their days (``None``: none)."""
        self._refresh(rows.tolist())
        models = [self.models[row] for row in rows.tolist()]
        labs = situation_labs(self.columns, self.constants, day, rows)
        batch = self.situations(rows, charts, models, day, labs)
        assert self.limits is not None  # a block with rows has limits
        on = hazards_on(batch, self.limits)
        cases = flare_cases(batch, self.limits)
        lt_day = np.array([m.latent.lt_day for m in models], dtype=np.float64)
        drug_start = {
            drug: np.array([m.latent.drug_start.get(drug, math.nan) for m in models])
            for drug in _DRUG_STARTS
        }
        tables = clock_tables(
            self.constants, on, cases, ClockColumns.of(batch, day, lt_day, drug_start)
        )
        heads = [m.queue_head for m in models]
        queue_day = np.array([math.inf if h is None else h[0] for h in heads])
        queue_priority = np.array([0 if h is None else h[1] for h in heads], dtype=np.int64)
        best, what = self.clocks.plan(rows, day, tables, queue_day, queue_priority)
        return [
            m.planned(None if w == NO_EVENT else (d, "queue" if w == QUEUE else CLOCKS[w]))
            for m, d, w in zip(models, best.tolist(), what.tolist(), strict=True)
        ]

    def situations(
        self,
        rows: Array,
        charts: Sequence[Any],
        models: Sequence[DiseaseModel],
        day: Array,
        labs: dict[str, Array],
    ) -> Batch:
        """The :class:`~simulation.model.hazard_conditions.Situation` s of caught-up
        ``rows`` on ``day`` as a batch's columns (``labs``: their latent ALT, IgG and MELD),
        each row in its chart's configuration: what ``DiseaseModel.situation`` makes of
        each."""
        block = self._columnar
        if block is not None:  # the record's fields off the block's columns
            record = {name: block.plain(name, rows) for name in RECORD_FIELDS}
        else:
            patients = [chart.patient for chart in charts]
            record = {name: column([getattr(p, name) for p in patients]) for name in RECORD_FIELDS}
        drugs = [m.drugs_taken for m in models]
        cols: dict[str, Array] = {"drugs": column(drugs), **record}
        cols["age"] = record["age"] + day / YEAR_DAYS
        latent = zip(*(m.latent_fields() for m in models), strict=True)
        cols.update(zip(LATENT_FIELDS, map(column, latent), strict=True))
        cols.update(labs)
        batch = Batch(len(rows), frozenset(), cols)
        # ``"x" in drugs`` for the drugs taken and those with a clock, as the vector
        # interpreter keeps such tests of a field (else it asks each row in Python).
        for drug in frozenset().union(*drugs, _DRUG_STARTS):
            here = np.array([drug in taken for taken in drugs], dtype=bool)
            batch.derived[("In", "drugs", True, drug)] = here
            batch.derived[("NotIn", "drugs", True, drug)] = ~here
        if block is not None:
            codes, configs = block.configurations(rows)
        else:
            configs = self._sets
            codes = np.array([configs.code(chart.active) for chart in charts], dtype=np.int64)
        batch.configured(codes, configs)
        return batch

    def _refresh(self, rows: Sequence[int]) -> None:
        """Read again from their models the columns of ``rows`` whose :func:`panel_key`
        changed since they were last read."""
        keys, stale = self._keys, []
        for row in rows:
            key = panel_key(self.models[row])
            if key != keys[row]:
                keys[row] = key
                stale.append(row)
        if stale:
            self.columns.update(np.array(stale, dtype=np.int64), [self.models[r] for r in stale])

    def visit_labs(
        self, rows: Sequence[int], days: Sequence[Days]
    ) -> list[dict[str, float] | None]:
        out: list[dict[str, float] | None] = [None] * len(rows)
        at: list[int] = []  # positions in rows that take a sample
        noise: list[list[float]] = []
        for i, row in enumerate(rows):
            # The model takes the panel's draws (or, at a second visit the same day, none).
            draws = self.models[row].visit_noise(days[i])
            if draws is not None:
                at.append(i)
                noise.append(draws)
        if not at:
            return out
        taking = [rows[i] for i in at]
        self._refresh(taking)
        try:
            panels = panel(
                self.columns,
                self.constants,
                np.array([days[i] for i in at]),
                np.array(taking, dtype=np.int64),
                np.array(noise),
            )
        except Exception as exc:
            raise RowError(taking[0], exc, group=len(at)) from exc
        names = list(panels)
        values = zip(*(panels[name].tolist() for name in names), strict=True)
        for i, row_values in zip(at, values, strict=True):
            out[i] = dict(zip(names, row_values, strict=True))
        return out


class ActiveSets:
    """Configuration codes for charts that have none (compiled charts): each distinct set
    of active states a code, in the order first seen
    (:class:`~pathway.vector.Configurations`)."""

    def __init__(self) -> None:
        self._codes: dict[frozenset[str], int] = {}
        self._sets: list[frozenset[str]] = []
        self._holds: dict[str, Array] = {}

    def code(self, active: frozenset[str]) -> int:
        """The code of ``active`` (a new one the first time)."""
        found = self._codes.get(active)
        if found is None:
            found = self._codes[active] = len(self._sets)
            self._sets.append(active)
        return found

    def active_of(self, code: int) -> frozenset[str]:
        """The active states of ``code``."""
        return self._sets[code]

    def holds(self, state: str) -> Array:
        """Per code, whether ``state`` is active (remade when codes were added since)."""
        found = self._holds.get(state)
        if found is None or len(found) < len(self._sets):
            found = self._holds[state] = np.array([state in a for a in self._sets], dtype=bool)
        return found
