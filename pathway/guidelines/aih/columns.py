"""The AIH patient record as columns (:mod:`pathway.columns`), for the vector engine.

Plain fields by kind (written out: the native build erases the annotations; a test checks
them against :class:`PatientRecord`); doses, intolerances, timers fired and states entered
over their vocabularies; the latest value and day of each analyte as the call columns
``latest(a)`` and ``latest_day(a)``; ``steroid``, ``antimetabolite`` and
``immunosuppressed`` read off the dose columns. :data:`MUTATOR_FORMS` are the columnar
forms of the record's mutators, and :data:`VECTOR_EFFECTS` the declared effects over columns
(tests/test_vector_effects.py checks them against the scalar effects).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ...columns import CallKey, Keyed, Kind, Layout, RecordColumns
from ...expr import Expr
from ...vector import Batch, Columnar, Form, VectorInterpreter
from ...vector_effects import MutatorForm, VectorEffects
from . import response
from .chart import AIHPathway
from .effects import EFFECTS
from .patient import LabPanel, PatientRecord
from .timers import TIMERS
from .vector_forms import VECTOR_RULEBOOK, panel_columns
from .vocabulary import DRUGS, LAB_FIELDS, STEROIDS

__all__ = [
    "ANTIMETABOLITES",
    "EFFECT_FORMS",
    "LAYOUT",
    "METHOD_FORMS",
    "MUTATOR_FORMS",
    "VECTOR_EFFECTS",
    "latest_panels",
]

Array = NDArray[Any]

#: The antimetabolites, in the order :attr:`PatientRecord.antimetabolite` looks for them.
ANTIMETABOLITES: Final = ("azathioprine", "mycophenolate")

_BOOL = (
    "encephalopathy decompensated hcc nonadherent severe_cytopenia relapsed_after_withdrawal"
    " reinduced line_assessed failure_confirmed"
)
_FLOAT = (
    "age weight_kg day treatment_start_day steroid_start_day steroid_change_day cbr_since_day"
    " withdrawal_start_day withdrawal_cbr_days acute_review_day transplant_referral_day"
    " transplant_day death_day optimised_day first_treatment_day remission_biopsy_day"
    " antimetabolite_change_day labs_reset_day"
)
_INT = "withdrawal_attempts"
_OBJECT = (
    "patient_id sex cirrhosis presentation tpmt pregnancy response cirrhosis_at_diagnosis"
    " labs response_history treatment_baseline acute_improving state"
)

#: Every plain field of the record with its kind.
FIELDS: Final[dict[str, Kind]] = {
    **dict.fromkeys(_BOOL.split(), "bool"),
    **dict.fromkeys(_FLOAT.split(), "float"),
    **dict.fromkeys(_INT.split(), "int"),
    **dict.fromkeys(_OBJECT.split(), "object"),
}


def _restore(record: PatientRecord, kept: dict[CallKey, Any]) -> None:
    """The latest value and day of each analyte, as the columns hold them."""
    record._latest = {a: v for (m, (a,)), v in kept.items() if m == "latest" and v is not None}
    record._latest_day = {
        a: v for (m, (a,)), v in kept.items() if m == "latest_day" and v is not None
    }
    record._latest_panel = None


#: The AIH record as columns.
LAYOUT: Final = Layout(
    record=PatientRecord,
    fields=FIELDS,
    keyed={
        "drugs": Keyed(DRUGS, value="float", present="on", value_call="dose"),
        "intolerant": Keyed(DRUGS),
        "timers_fired": Keyed(tuple(t.id for t in TIMERS), value="int", value_call="fired"),
        "entered": Keyed(tuple(AIHPathway.states_map), value="float"),
    },
    methods={"latest": LAB_FIELDS, "latest_day": LAB_FIELDS},
    firsts={"steroid": ("drugs", STEROIDS), "antimetabolite": ("drugs", ANTIMETABOLITES)},
    anys={"immunosuppressed": "drugs"},
    attrs={"treatment_baseline": ("day", *LAB_FIELDS)},
    restore=_restore,
)


# --- the record's mutators over columns (PatientRecord.add_labs, .reset_latest_labs, ...) -----


def _add_labs(c: RecordColumns, rows: Array, panels: Array) -> None:
    """:meth:`PatientRecord.add_labs`: the panel appended, each measured analyte's latest
    value and day set."""
    idx = np.flatnonzero(rows)
    history = c.plain["labs"]
    given = panels[idx].tolist()
    for i, panel in zip(idx.tolist(), given, strict=True):
        history[i].append(panel)
    days = np.array([panel.day for panel in given], dtype=np.float64)
    for analyte in LAB_FIELDS:
        values = [getattr(panel, analyte) for panel in given]
        measured = np.array([v is not None for v in values], dtype=bool)
        if not measured.any():
            continue
        at = idx[measured]
        c.methods[("latest", (analyte,))][at] = [v for v in values if v is not None]
        c.methods[("latest_day", (analyte,))][at] = days[measured]


def _reset_latest_labs(c: RecordColumns, rows: Array) -> None:
    """:meth:`PatientRecord.reset_latest_labs`: the latest values restart today."""
    c.plain["labs_reset_day"][rows] = c.plain["day"][rows]
    for col in c.methods.values():
        col[rows] = np.nan


_CBR = "complete_biochemical_response"


def _set_response(c: RecordColumns, rows: Array, new: Array) -> None:
    """:meth:`PatientRecord.set_response`: a new class joins the history; complete
    biochemical response starts the sustained-response clock, another class stops it."""
    response, day = c.plain["response"], c.plain["day"]
    changed = rows & (new != response)
    if not changed.any():
        return
    response[changed] = new[changed]
    history = c.plain["response_history"]
    for i in np.flatnonzero(changed).tolist():
        history[i].append((float(day[i]), new[i]))
    since = c.plain["cbr_since_day"]
    cbr = changed & (new == _CBR)
    start = cbr & np.isnan(since)
    since[start] = day[start]
    since[changed & ~cbr] = np.nan


#: Columnar forms of the mutators the effects call (:data:`.effects.MUTATORS`).
MUTATOR_FORMS: Final[dict[str, MutatorForm]] = {
    "add_labs": _add_labs,
    "reset_latest_labs": _reset_latest_labs,
    "set_response": _set_response,
}

# --- the latest panel and the response classes over columns ------------------------------------


def latest_panels(batch: Batch, rows: Array) -> Array:
    """``record.latest_panel()`` for the rows of mask ``rows`` (``None`` elsewhere), made
    from the latest-value columns: every analyte at its latest value, dated at the last
    panel of the history (the record's day without one)."""
    values = {a: batch.call("latest", (a,)).tolist() for a in LAB_FIELDS}
    history, day = batch.column("labs"), batch.column("day")
    out = np.full(batch.n, None, dtype=object)
    for i in np.flatnonzero(rows).tolist():
        labs = history[i]
        dated = labs[-1].day if labs else float(day[i])
        measured = {a: v[i] for a, v in values.items() if v[i] == v[i]}
        out[i] = LabPanel(dated, **measured)
    return out


def _classes(expr: Expr) -> Callable[..., Array]:
    """A class of :mod:`.response` (:data:`~.response.WEEK4`, ...) evaluated over the batch's
    panel columns; the class before (``previous``), when given, as a column too."""

    def form(vi: VectorInterpreter, *previous: Array) -> Array:
        columns = panel_columns(vi.batch)
        panels = Batch(vi.n, frozenset(), {f: columns[f] for f in expr.deps.fields})
        if previous:
            panels.columns["previous"] = np.broadcast_to(previous[0], (vi.n,))
        return VectorInterpreter(panels, vi.th, None, response.CLASSES).evaluate(expr, vi.mask)

    return form


#: Forms of the functions only effects call (:data:`.effects.FUNCTIONS`): the classes of
#: :mod:`.response`, its declared expressions over the panel columns.
EFFECT_FORMS: Final[dict[str, Form]] = {
    "classify_week4": Columnar(_classes(response.WEEK4)),
    "classify_month6": Columnar(_classes(response.MONTH6)),
    "classify_followup": Columnar(_classes(response.FOLLOWUP)),
}

#: Columns of record method calls effects make (``latest_panel()``): ``form(batch, rows)``.
METHOD_FORMS: Final = {"latest_panel": latest_panels}

#: The AIH effects applied over columns.
VECTOR_EFFECTS: Final = VectorEffects(
    EFFECTS,
    VECTOR_RULEBOOK,
    MUTATOR_FORMS,
    forms=EFFECT_FORMS,
    methods=METHOD_FORMS,
)
