"""Time-to-event endpoints of a cohort, ready for :func:`simulation.survival.kaplan_meier`.

Each endpoint turns rows of patients.csv (and, where needed, events.csv) into one duration
and one event flag per eligible patient. Patients without the event are censored at the
end of follow-up (``followup_days``: death or the horizon).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .cohort_outputs import EventRow, PatientRow
from .trajectories import CARE_GROUP

__all__ = [
    "TimeToEvent",
    "overall_survival",
    "recurrence_after_transplant",
    "relapse_after_withdrawal",
    "time_to_cbr",
    "transplant_free_survival",
]


@dataclass(frozen=True, slots=True)
class TimeToEvent:
    """Durations (days from the endpoint's origin) and event flags of eligible patients."""

    patient_ids: tuple[str, ...]
    durations: tuple[float, ...]
    observed: tuple[bool, ...]

    @property
    def n(self) -> int:
        """Number of eligible patients."""
        return len(self.durations)


def _build(rows: list[tuple[str, float, bool]]) -> TimeToEvent:
    return TimeToEvent(
        tuple(r[0] for r in rows), tuple(max(0.0, r[1]) for r in rows), tuple(r[2] for r in rows)
    )


def _simple(
    patients: Sequence[PatientRow], event_day: Callable[[PatientRow], float | None]
) -> TimeToEvent:
    rows = []
    for p in patients:
        day = event_day(p)
        if day is not None and day <= p.followup_days:
            rows.append((p.patient_id, day, True))
        else:
            rows.append((p.patient_id, p.followup_days, False))
    return _build(rows)


def time_to_cbr(patients: Sequence[PatientRow]) -> TimeToEvent:
    """Days from diagnosis to the first complete biochemical response (all patients)."""
    return _simple(patients, lambda p: p.first_cbr_day)


def overall_survival(patients: Sequence[PatientRow]) -> TimeToEvent:
    """Days from diagnosis to death from any cause (all patients)."""
    return _simple(patients, lambda p: p.death_day)


def transplant_free_survival(patients: Sequence[PatientRow]) -> TimeToEvent:
    """Days from diagnosis to liver transplantation or death, whichever comes first."""

    def first(p: PatientRow) -> float | None:
        days = [d for d in (p.transplant_day, p.death_day) if d is not None]
        return min(days) if days else None

    return _simple(patients, first)


def _first_entry_after(events: Sequence[EventRow], care_state: str, origin: float) -> float | None:
    for e in events:
        if (
            e.kind == "transition"
            and e.day >= origin
            and e.target != e.source
            and CARE_GROUP.get(e.target) == care_state
        ):
            return e.day
    return None


def relapse_after_withdrawal(
    patients: Sequence[PatientRow], events: Mapping[str, Sequence[EventRow]]
) -> TimeToEvent:
    """Days from the start of withdrawal to the first relapse after it.

    Only patients with a ``withdrawal_day`` are eligible. The relapse is the first
    transition into the ``relapse`` care state on or after that day (events.csv); when the
    events hold none, a ``relapse_day`` on or after the withdrawal day counts.

    Args:
        patients: Rows of patients.csv.
        events: Events per patient id (see ``CohortOutputs.events_by_patient``).
    """
    rows = []
    for p in patients:
        if p.withdrawal_day is None:
            continue
        w = p.withdrawal_day
        day = _first_entry_after(events.get(p.patient_id, ()), "relapse", w)
        if day is None and p.relapse_day is not None and p.relapse_day >= w:
            day = p.relapse_day
        if day is not None and day <= p.followup_days:
            rows.append((p.patient_id, day - w, True))
        else:
            rows.append((p.patient_id, p.followup_days - w, False))
    return _build(rows)


def recurrence_after_transplant(
    patients: Sequence[PatientRow], events: Mapping[str, Sequence[EventRow]]
) -> TimeToEvent:
    """Days from liver transplantation to recurrent AIH in the graft (transplanted patients)."""
    rows = []
    for p in patients:
        if p.transplant_day is None:
            continue
        t = p.transplant_day
        day = _first_entry_after(events.get(p.patient_id, ()), "recurrent_aih", t)
        if day is not None and day <= p.followup_days:
            rows.append((p.patient_id, day - t, True))
        else:
            rows.append((p.patient_id, p.followup_days - t, False))
    return _build(rows)
