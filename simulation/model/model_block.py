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
(:meth:`~simulation.model.disease.DiseaseModel.catch_up`: clocks spent, courses started),
the latent ALT, IgG and MELD its hazards read are computed for the round's rows at once
(:func:`~simulation.model.model_arrays.situation_labs` over the same columns), and each
model sets its hazards and plans its next event with them
(:meth:`~simulation.model.disease.DiseaseModel.plan_next`). The hazard conditions, the
clocks and the plans are still scalar, one model at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pathway import PendingTimer

from ..run.engine import Days, earliest
from ..run.lockstep import ChartBlock, ModelList, RowError
from .disease import DiseaseModel, ModelConstants
from .model_arrays import PanelColumns, panel, situation_labs

__all__ = ["ModelColumns", "panel_key"]


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
    whose visit panels are computed for a round's rows at once (see the module docstring).

    The models must draw from counter-based streams (:mod:`simulation.model.draws`; a
    cohort's do): ``ValueError`` otherwise.
    """

    def __init__(
        self, block: ChartBlock, models: Sequence[DiseaseModel], constants: ModelConstants
    ) -> None:
        self.models = list(models)
        self.constants = constants
        self._scalar = ModelList(block, self.models)
        self.columns = PanelColumns.of(self.models)
        self._keys = [panel_key(m) for m in self.models]

    def next_events(self, rows: Sequence[int]) -> list[tuple[Days, PendingTimer | None]]:
        charts = [self._scalar.block.chart(row) for row in rows]
        timers = [chart.next_timer() for chart in charts]
        live: list[int] = []  # positions in rows whose model plans (the chart lives)
        days: list[Days] = []
        for i, (row, chart) in enumerate(zip(rows, charts, strict=True)):
            if not chart.is_dead:
                try:
                    days.append(self.models[row].catch_up(chart))
                except Exception as exc:
                    raise RowError(row, exc) from exc
                live.append(i)
        latent: list[tuple[float, float, float]] = []
        if live:
            taking = np.array([rows[i] for i in live], dtype=np.int64)
            self._refresh(taking.tolist())
            try:
                labs = situation_labs(self.columns, self.constants, np.array(days), taking)
            except Exception as exc:
                raise RowError(int(taking[0]), exc, group=len(live)) from exc
            latent = list(zip(*(labs[k].tolist() for k in ("alt", "igg", "meld")), strict=True))
        plans: list[Days | None] = [None] * len(rows)
        for i, day, numbers in zip(live, days, latent, strict=True):
            row = rows[i]
            try:
                plans[i] = self.models[row].plan_next(charts[i], day, numbers)
            except Exception as exc:
                raise RowError(row, exc) from exc
        return [earliest(t, d) for t, d in zip(timers, plans, strict=True)]

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
