"""Time-to-event endpoints of a cohort, ready for :func:`simulation.results.survival.kaplan_meier`.

Each endpoint turns a row of patients.csv (and, where needed, the patient's rows of
events.csv) into one duration and one event flag (``*_duration``; ``None`` when the patient
is not eligible), and a list of rows into a :class:`TimeToEvent`. Patients without the
event are censored at the end of follow-up (``followup_days``: death or the horizon).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .cohort_outputs import EventRow, PatientRow
from .trajectories import CARE_GROUP

__all__ = [
    "Duration",
    "TimeToEvent",
    "cbr_duration",
    "overall_survival",
    "recurrence_after_transplant",
    "recurrence_after_transplant_duration",
    "relapse_after_withdrawal",
    "relapse_after_withdrawal_duration",
    "survival_duration",
    "time_to_cbr",
    "transplant_free_duration",
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


#: One patient's duration (days from the endpoint's origin) and event flag.
Duration = tuple[float, bool]


def _build(patients: Iterable[PatientRow], durations: Iterable[Duration | None]) -> TimeToEvent:
    rows = [(p.patient_id, *d) for p, d in zip(patients, durations, strict=True) if d is not None]
    return TimeToEvent(
        tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows)
    )


def _since(p: PatientRow, origin: float, day: float | None) -> Duration:
    """From ``origin`` to ``day`` if it falls within follow-up, else censored at its end."""
    if day is not None and day <= p.followup_days:
        return max(0.0, day - origin), True
    return max(0.0, p.followup_days - origin), False


def cbr_duration(p: PatientRow) -> Duration:
    """Days from diagnosis to the first complete biochemical response."""
    return _since(p, 0.0, p.first_cbr_day)


def survival_duration(p: PatientRow) -> Duration:
    """Days from diagnosis to death from any cause."""
    return _since(p, 0.0, p.death_day)


def transplant_free_duration(p: PatientRow) -> Duration:
    """Days from diagnosis to liver transplantation or death, whichever comes first."""
    days = [d for d in (p.transplant_day, p.death_day) if d is not None]
    return _since(p, 0.0, min(days) if days else None)


def time_to_cbr(patients: Sequence[PatientRow]) -> TimeToEvent:
    """Days from diagnosis to the first complete biochemical response (all patients)."""
    return _build(patients, map(cbr_duration, patients))


def overall_survival(patients: Sequence[PatientRow]) -> TimeToEvent:
    """Days from diagnosis to death from any cause (all patients)."""
    return _build(patients, map(survival_duration, patients))


def transplant_free_survival(patients: Sequence[PatientRow]) -> TimeToEvent:
    """Days from diagnosis to liver transplantation or death, whichever comes first."""
    return _build(patients, map(transplant_free_duration, patients))


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


def relapse_after_withdrawal_duration(p: PatientRow, events: Sequence[EventRow]) -> Duration | None:
    """Days from the start of withdrawal to the first relapse after it; ``None``: no withdrawal.

    The relapse is the first transition into the ``relapse`` care state on or after the
    ``withdrawal_day`` (``events``: the patient's rows of events.csv in time order); when
    the events hold none, a ``relapse_day`` on or after the withdrawal day counts.
    """
    if p.withdrawal_day is None:
        return None
    w = p.withdrawal_day
    day = _first_entry_after(events, "relapse", w)
    if day is None and p.relapse_day is not None and p.relapse_day >= w:
        day = p.relapse_day
    return _since(p, w, day)


def recurrence_after_transplant_duration(
    p: PatientRow, events: Sequence[EventRow]
) -> Duration | None:
    """Days from liver transplantation to recurrent AIH in the graft; ``None``: no transplant."""
    if p.transplant_day is None:
        return None
    t = p.transplant_day
    return _since(p, t, _first_entry_after(events, "recurrent_aih", t))


def relapse_after_withdrawal(
    patients: Sequence[PatientRow], events: Mapping[str, Sequence[EventRow]]
) -> TimeToEvent:
    """Days from the start of withdrawal to the first relapse after it.

    Only patients with a ``withdrawal_day`` are eligible (see
    :func:`relapse_after_withdrawal_duration`).

    Args:
        patients: Rows of patients.csv.
        events: Events per patient id (see ``CohortOutputs.events_by_patient``).
    """
    return _build(
        patients,
        (relapse_after_withdrawal_duration(p, events.get(p.patient_id, ())) for p in patients),
    )


def recurrence_after_transplant(
    patients: Sequence[PatientRow], events: Mapping[str, Sequence[EventRow]]
) -> TimeToEvent:
    """Days from liver transplantation to recurrent AIH in the graft (transplanted patients)."""
    return _build(
        patients,
        (recurrence_after_transplant_duration(p, events.get(p.patient_id, ())) for p in patients),
    )
