"""The AIH patient record as columns (:mod:`pathway.columns`), for the vector engine.

Plain fields by kind (written out: the native build erases the annotations; a test checks
them against :class:`PatientRecord`); doses, intolerances, timers fired and states entered
over their vocabularies; the latest value and day of each analyte as the call columns
``latest(a)`` and ``latest_day(a)``; ``steroid``, ``antimetabolite`` and
``immunosuppressed`` read off the dose columns.
"""

from __future__ import annotations

from typing import Any, Final

from ...columns import CallKey, Keyed, Kind, Layout
from .chart import AIHPathway
from .patient import PatientRecord
from .timers import TIMERS
from .vocabulary import DRUGS, LAB_FIELDS, STEROIDS

__all__ = ["ANTIMETABOLITES", "LAYOUT"]

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
        "timers_fired": Keyed(
            tuple(t.id for t in TIMERS), value="int", value_call="fired", default=0
        ),
        "entered": Keyed(tuple(AIHPathway.states_map), value="float"),
    },
    methods={"latest": LAB_FIELDS, "latest_day": LAB_FIELDS},
    firsts={"steroid": ("drugs", STEROIDS), "antimetabolite": ("drugs", ANTIMETABOLITES)},
    anys={"immunosuppressed": "drugs"},
    restore=_restore,
)
