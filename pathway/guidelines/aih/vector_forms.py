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

* the dose rules and the day-7 improvement, declared once as expressions
  (:data:`.dosing.PREDNISOLONE`, ..., :data:`.rules.ACUTE_IMPROVING`) and evaluated here
  over the batch's columns, the function's argument bound as the rule's variable
  (``prednisolone_dose``, ``azathioprine_dose``, ``tacrolimus_dose``,
  ``optimised_steroid``, and ``acute_improvement``, which only effects call);
  ``floor_to``, the tablet rounding they call, in numpy.

Functions of their arguments only (``taper_target``, ``next_taper_dose``) need no form: the
interpreter calls the scalar function once per distinct argument. No AIH function runs row
by row any more (:class:`pathway.vector.VectorInterpreter` counts such calls in
``fallbacks``).
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
from . import dosing
from .response import CBR, NON_RESPONSE, PANELS
from .rules import ACUTE_IMPROVING, ACUTE_PANELS, RULEBOOK
from .timers import LAB_TIMERS, ThresholdValues, Timer

__all__ = ["DOSING_FORMS", "FORMS", "IMPLIED", "VECTOR_RULEBOOK", "panel_columns"]


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

    timers = _lab_timers(batch)
    return next_lab_days(timers, batch.holds, start, fired, ThresholdValues(vi.th), vi.n)


#: The timers that draw labs armed in any of a set of active states (its union over rows).
_LAB_TIMERS_IN: dict[frozenset[str], tuple[Timer, ...]] = {}


def _lab_timers(batch: Batch) -> tuple[Timer, ...]:
    """The timers of :data:`LAB_TIMERS` whose state is active in some row of ``batch``: the
    others are disarmed everywhere, so :func:`next_lab_days` need not visit them."""
    if batch.codes is None:
        states = batch.active
    else:
        assert batch.configs is not None
        active_of = batch.configs.active_of
        states = frozenset().union(*(active_of(c) for c in np.unique(batch.codes).tolist()))
    found = _LAB_TIMERS_IN.get(states)
    if found is None:
        if len(_LAB_TIMERS_IN) > 4096:
            _LAB_TIMERS_IN.clear()
        found = _LAB_TIMERS_IN[states] = tuple(t for t in LAB_TIMERS if t.state in states)
    return found


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


def _floor_to(vi: VectorInterpreter, value: Array, step: Array) -> Array:
    """:func:`.dosing.floor_to` in numpy: ``floor`` gives the integer the scalar's
    ``math.floor`` gives (as a float), and the division, sum and product are the same
    IEEE 754 operations, so the doses are the same bits."""
    with np.errstate(invalid="ignore"):
        return np.floor(value.astype(np.float64) / step + dosing.TABLET_SLACK) * step


#: Forms of what the dose rules call besides the record's methods (the tablet rounding).
DOSING_FORMS: dict[str, Form] = {"floor_to": Columnar(_floor_to)}


def _rule_form(rule: Expr, variable: str = "") -> Callable[..., Array]:
    """A dose rule of :mod:`.dosing` over the batch's columns (the same arrays), the call's
    argument bound as the rule's ``variable``; evaluated on the rows the caller asks for."""
    fields = sorted(rule.deps.fields & set(dosing.DOSING.fields))

    def form(vi: VectorInterpreter, *args: Array) -> Array:
        batch = vi.batch
        columns = {f: batch.column(f) for f in fields}
        if variable:
            columns[variable] = np.broadcast_to(args[0], (vi.n,))
        view = batch.like(columns, vi.n)
        inner = VectorInterpreter(view, vi.th, vi.opt, dosing.DOSING, DOSING_FORMS)
        out = inner.evaluate(rule, vi.mask)
        for name, rows in inner.fallbacks.items():
            vi.fallbacks[name] = vi.fallbacks.get(name, 0) + rows
        return out

    return form


_optimised = _rule_form(dosing.OPTIMISED_PREDNISOLONE, "acute")
_NOT_ACUTE = np.asarray(False)


def _optimised_steroid(vi: VectorInterpreter) -> Array:
    """``optimised_steroid()``: ``("prednisolone", mg/day)`` where the optimisation changes
    the steroid (:data:`.dosing.OPTIMISED_PREDNISOLONE`), ``None`` elsewhere."""
    mg = _optimised(vi, _NOT_ACUTE)  # None (an object column) or NaN where there is no change
    out = np.full(vi.n, None, dtype=object)
    idx = np.flatnonzero(~missing(mg) & vi.mask)
    out[idx] = [("prednisolone", float(v)) for v in mg[idx].tolist()]
    return out


def _acute_improvement(vi: VectorInterpreter) -> Array:
    """``acute_improvement()`` (:data:`.rules.ACUTE_IMPROVING`) over the latest-value
    columns (``latest_panel()`` holds the latest values), the latest MELD's day and the
    treatment baseline's columns."""
    batch = vi.batch
    columns: dict[str, Array] = {"meld_day": batch.call("latest_day", ("meld",))}
    for name in ACUTE_PANELS.fields:
        if name.startswith("baseline_"):
            columns[name] = batch.attr("treatment_baseline", name.removeprefix("baseline_"))
        elif name != "meld_day":
            columns[name] = batch.call("latest", (name,))
    pairs = Batch(vi.n, frozenset(), columns)
    return VectorInterpreter(pairs, None, None, ACUTE_PANELS).test(ACUTE_IMPROVING, vi.mask)


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
    "prednisolone_dose": Columnar(_rule_form(dosing.PREDNISOLONE, "acute")),
    "azathioprine_dose": Columnar(_rule_form(dosing.AZATHIOPRINE, "maintenance")),
    "tacrolimus_dose": Columnar(_rule_form(dosing.TACROLIMUS)),
    "optimised_steroid": Columnar(_optimised_steroid),
    "acute_improvement": Columnar(_acute_improvement),
}

#: Schema fields computed from record fields (the record's properties), for
#: :meth:`pathway.vector.Memo.changed`: a change of ``drugs`` changes these too.
IMPLIED: dict[str, tuple[str, ...]] = {
    "steroid": ("drugs",),
    "antimetabolite": ("drugs",),
    "immunosuppressed": ("drugs",),
}

#: The AIH rulebook as masks over a batch of patients in one configuration.
VECTOR_RULEBOOK = VectorRulebook(RULEBOOK, FORMS, IMPLIED)
