"""The AIH guideline as the engine's :class:`~pathway.bundle.Guideline` bundle.

Building :data:`GUIDELINE` binds it to :class:`~pathway.guidelines.aih.chart.AIHPathway`
(``AIHPathway.guideline``). The lab panel payload of ``labs`` is checked here; the effects,
the antimetabolite tracking after each (INV-15) included, are declared in :mod:`.effects`.
"""

from __future__ import annotations

from typing import Any, Final

from ...bundle import Guideline, PageText
from ...errors import PatientError, short_repr
from ...timers import TimerTable
from .chart import AIHPathway
from .effects import ACTION_EFFECTS, EFFECTS, FINDING_EFFECTS, TIMER_EFFECTS, validate_payload
from .guideline import RULES
from .invariants import INVARIANTS
from .options import GuidelineOptions
from .patient import LabPanel, PatientRecord
from .rules import RULEBOOK, Ctx
from .snapshot_record import CONSISTENCY, check_record
from .sources import SOURCES
from .thresholds import CITATIONS, Thresholds
from .timers import TIMERS
from .vocabulary import ACTIONS, CARE_LINE, CARE_STATES, DRUGS, FINDINGS

__all__ = ["GUIDELINE", "PAGE"]


def _check_payload(finding: str, value: Any, day: float) -> tuple[Any, Any]:
    """A finding's payload checked; ``labs`` becomes a dated :class:`LabPanel` for its effect."""
    if isinstance(value, LabPanel):
        # A ready-made panel gets the checks a mapping gets (ranges, NaN) and the day.
        if value.day != day:
            raise PatientError(
                f"lab panel dated day {short_repr(value.day)} observed on day {day:g}; "
                "expected the same day"
            )
        value = value.values()
    value = validate_payload(finding, value)
    # Lab values are checked (ranges, NaN) here, before anything changes.
    return value, LabPanel.from_mapping(day, value) if finding == "labs" else value


PAGE: Final = PageText(
    heading="The autoimmune hepatitis pathway",
    events="Events are findings "
    "(`labs`, `intolerance`, `pregnant`, ...), timer events sent by the simulator when a "
    "declared time point comes (see the timer table) and clinician actions "
    "(`start_prednisolone`, `taper_steroid`, ...). Guards named `may_<action>` ask the "
    "guideline whether an action is allowed now; the others read facts about the "
    "patient.",
    timers="A timer with an anchor (the early blood counts of INV-15) counts from a day of the "
    "patient record instead, here the start or last dose rise of azathioprine or "
    "mycophenolate, and is armed only while that day is set.",
    catalogue="pathway/guidelines/aih/guideline.py",
    timers_file="pathway/guidelines/aih/timers.py",
    regions={
        "care_line": (
            "where the patient is in the guideline: diagnosis, observation, first-line "
            "treatment (induction, then response assessment), maintenance, withdrawal, "
            "relapse, second and third line, acute severe disease, acute liver failure, "
            "transplantation and life after it"
        ),
        "steroid_course": (
            "the corticosteroid course, which overlaps the care line: none, induction dose, "
            "taper, maintenance dose"
        ),
        "liver_stage": (
            "the liver disease stage: no cirrhosis, compensated or decompensated cirrhosis"
        ),
        "pregnancy_status": "pregnancy: not pregnant, planning, pregnant, postpartum",
    },
)
"""The prose of docs/pathway.md (the rest is generated from the chart and catalogue)."""


GUIDELINE: Final = Guideline(
    name="aih",
    title="Autoimmune hepatitis (EASL 2025 / IAIHG 2022 defaults)",
    chart=AIHPathway,
    record=PatientRecord,
    thresholds=Thresholds,
    options=GuidelineOptions,
    context=Ctx,
    rulebook=RULEBOOK,
    finding_effects=FINDING_EFFECTS,
    timer_effects=TIMER_EFFECTS,
    action_effects=ACTION_EFFECTS,
    effect_reads=EFFECTS.reads,
    check_payload=_check_payload,
    timers=TimerTable(TIMERS),
    invariants=INVARIANTS,
    rules=RULES,
    actions=ACTIONS,
    findings=FINDINGS,
    care_states=CARE_STATES,
    care_line=CARE_LINE,
    final_state="death",
    drugs=DRUGS,
    page=PAGE,
    sources=SOURCES,
    citations=CITATIONS,
    check_record=check_record,
    consistency=CONSISTENCY,
    patient_model="aih",
    explorer="aih",
)
"""The AIH guideline bundle (see :mod:`pathway.bundle`)."""
