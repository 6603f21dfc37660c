"""The AIH functions' vector forms, for the numpy interpreter (:mod:`pathway.vector`).

Three kinds, each checked against the scalar function by tests/test_vector.py and
tests/test_vector_forms.py:

* record accessors in numpy (``days_since``, ``fired``, ``entered_day``);
* functions declared once as data and evaluated on columns: the panel comparisons of
  :mod:`.response` (``transaminases_not_halved``, ``cbr_on_latest_panel``: the expressions
  :data:`~.response.NON_RESPONSE` and :data:`~.response.CBR` over the latest and baseline
  analyte columns) and the timers' lab schedule (``next_lab_day``:
  :func:`pathway.timer_columns.next_lab_days` over the declared :data:`~.timers.TIMERS`);
* functions that evaluate this guideline's own declarations, read from them as masks
  (``observation_refused`` is a breach of ``observe_untreated``; the ``transplant_*``
  functions read the transplant-indication list), so no clinical logic is written twice.

Functions of their arguments only (``taper_target``, ``next_taper_dose``) need no form: the
interpreter calls the scalar function once per distinct argument. The others (the dose
functions that read the record, ``optimised_steroid``, ``acute_improving``'s field) run row
by row (:class:`pathway.vector.VectorInterpreter` counts those calls in ``fallbacks``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ...expr import Expr
from ...timer_columns import next_lab_days, timer_starts
from ...vector import (
    Array,
    Batch,
    Breached,
    Columnar,
    Form,
    Listed,
    VectorInterpreter,
    VectorRulebook,
    column,
    missing,
)
from .response import CBR, NON_RESPONSE, PANELS
from .rules import RULEBOOK
from .timers import LAB_TIMERS, ThresholdValues, Timer

__all__ = ["FORMS", "VECTOR_RULEBOOK", "panel_columns"]


def _days_since(vi: VectorInterpreter, day: NDArray[np.float64]) -> NDArray[np.float64]:
    """``record.days_since(day)``: the record's day minus ``day`` (NaN when missing)."""
    batch = vi.batch
    if day.dtype == object:
        day = column(list(np.broadcast_to(day, (batch.n,))))
    return batch.column("day") - day.astype(np.float64)


def _per_key(vi: VectorInterpreter, key: Array, one: Callable[[str], Array]) -> Array:
    """``one(k)`` for a constant key, or spread over the distinct keys of a key column."""
    if key.ndim == 0:
        return one(str(key[()]))
    out = np.full(vi.n, np.nan)
    for k in dict.fromkeys(key[vi.mask].tolist()):
        out = np.where(key == k, one(k), out)
    return out


def _fired(vi: VectorInterpreter, timer: Array) -> Array:
    """``fired(timer)``: how often the timer has fired (``timers_fired.get(timer, 0)``)."""

    def one(t: str) -> Array:
        count = vi.batch.item("timers_fired", t)
        return np.where(np.isnan(count), 0.0, count)

    return _per_key(vi, timer, one)


def _entered(batch: Batch, state: str) -> Array:
    """``entered.get(state, day)``: the day ``state`` was entered, else the record's day."""
    return timer_starts(
        Timer("", "", state, (), None, False, ""),
        batch.item("entered", state),
        None,
        batch.column("day"),
    )


def _entered_day(vi: VectorInterpreter, state: Array) -> Array:
    """``entered_day(state)``."""
    return _per_key(vi, state, lambda s: _entered(vi.batch, s))


def _next_lab_day(vi: VectorInterpreter) -> Array:
    """``next_lab_day()``: the due day of the next armed timer that draws labs (NaN: none)."""
    batch = vi.batch

    def start(timer: Timer) -> NDArray[np.float64]:
        if timer.anchor is not None:
            return batch.column(timer.anchor).astype(np.float64)
        return _entered(batch, timer.state)

    def fired(timer: Timer) -> NDArray[np.int64]:
        count = batch.item("timers_fired", timer.id)
        return np.where(np.isnan(count), 0, count).astype(np.int64)

    return next_lab_days(LAB_TIMERS, batch.active, start, fired, ThresholdValues(vi.th), vi.n)


def panel_columns(batch: Batch) -> dict[str, Array]:
    """The fields of :data:`~.response.PANELS` as columns of ``batch``: the latest value of
    each analyte (``latest(analyte)``, as ``latest_panel()`` holds it) and its value at the
    treatment baseline (``treatment_baseline.<analyte>``)."""
    out: dict[str, Array] = {}
    for name in PANELS.fields:
        if name.startswith("baseline_"):
            out[name] = batch.attr("treatment_baseline", name.removeprefix("baseline_"))
        else:
            out[name] = batch.call("latest", (name,))
    return out


def _on_panels(expr: Expr) -> Callable[[VectorInterpreter], Array]:
    """A comparison of :mod:`.response` evaluated over the batch's panel columns."""

    def form(vi: VectorInterpreter) -> Array:
        columns = panel_columns(vi.batch)
        panels = Batch(vi.n, frozenset(), {f: columns[f] for f in expr.deps.fields})
        return VectorInterpreter(panels, vi.th, None, PANELS).test(expr, vi.mask)

    return form


_non_response = _on_panels(NON_RESPONSE)


def _not_halved(vi: VectorInterpreter) -> Array:
    """``transaminases_not_halved()``: no treatment baseline, or non-response since it."""
    no_baseline = missing(vi.batch.column("treatment_baseline"))
    return np.asarray(no_baseline | _non_response(vi))


#: Vector forms by function name.
FORMS: dict[str, Form] = {
    "days_since": Columnar(_days_since),
    "fired": Columnar(_fired),
    "entered_day": Columnar(_entered_day),
    "next_lab_day": Columnar(_next_lab_day),
    "transaminases_not_halved": Columnar(_not_halved),
    "cbr_on_latest_panel": Columnar(_on_panels(CBR)),
    "observation_refused": Breached("observe_untreated"),
    "transplant_indicated": Listed("transplant_indications"),
    "transplant_rules": Listed("transplant_indications", rules=True),
    "transplant_must_rules": Listed("transplant_indications", rules=True, level="must", first=True),
}

#: The AIH rulebook as masks over a batch of patients in one configuration.
VECTOR_RULEBOOK = VectorRulebook(RULEBOOK, FORMS)
