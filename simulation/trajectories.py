"""Each patient's course through the care line, rebuilt from the transition rows of events.csv.

The chart nests some care states (``induction`` inside ``first_line``, ``recurrent_aih``
inside ``post_transplant``) and records death as a transition from ``alive``. Here every
transition row is mapped to the care state the patient is in afterwards, so that a course
is a plain sequence of (day, care state) and flows count moves between care states, with
death attributed to the care state the patient died in.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .cohort_outputs import EventRow, PatientRow

__all__ = [
    "CARE_GROUP",
    "CARE_ORDER",
    "CENSORED",
    "CareCourse",
    "Flow",
    "care_courses",
    "flows",
    "occupancy",
]

#: Care states in the order the report lists and stacks them.
CARE_ORDER: tuple[str, ...] = (
    "diagnosis",
    "observation",
    "acute_severe",
    "acute_liver_failure",
    "induction",
    "response_assessment",
    "maintenance",
    "withdrawal",
    "off_treatment",
    "relapse",
    "second_line",
    "third_line",
    "transplant",
    "post_transplant",
    "recurrent_aih",
    "death",
)

#: Chart state id -> care state shown in the report. Ids not listed (the steroid course,
#: liver stage and pregnancy regions, and the containers ``alive`` and ``care_line``) do not
#: move the care line.
CARE_GROUP: dict[str, str] = {
    **{state: state for state in CARE_ORDER},
    "first_line": "induction",
    "steroid_lead_in": "induction",
    "combination": "induction",
    "graft_stable": "post_transplant",
}

#: Pseudo-state for patients who left observation alive before a given day.
CENSORED = "censored"


@dataclass(frozen=True, slots=True)
class CareCourse:
    """One patient's care line: ``states[i]`` holds from ``days[i]`` until ``days[i + 1]``.

    Attributes:
        patient_id: The patient.
        days: Days of entry into each care state, ascending; the first is 0.
        states: Care states (ids of :data:`CARE_ORDER`).
        followup_days: Day the patient left observation (death or horizon).
    """

    patient_id: str
    days: tuple[float, ...]
    states: tuple[str, ...]
    followup_days: float

    def state_at(self, day: float) -> str:
        """The care state at ``day``; ``death`` after death, :data:`CENSORED` after follow-up."""
        if self.states[-1] == "death" and day >= self.days[-1]:
            return "death"
        if day > self.followup_days:
            return CENSORED
        i = bisect.bisect_right(self.days, day)
        return self.states[max(0, i - 1)]

    def moves(self) -> list[tuple[str, str, float]]:
        """Consecutive (from, to, day) changes of care state."""
        return [
            (self.states[i - 1], self.states[i], self.days[i]) for i in range(1, len(self.states))
        ]


@dataclass(frozen=True, slots=True)
class Flow:
    """Moves from one care state to another across the cohort."""

    source: str
    target: str
    transitions: int
    patients: int


def care_courses(patients: Sequence[PatientRow], events: Iterable[EventRow]) -> list[CareCourse]:
    """Rebuild every patient's care line from the transition rows.

    A patient whose death_day is set but whose events hold no death transition is moved to
    ``death`` on that day, so the course agrees with patients.csv.

    Args:
        patients: Rows of patients.csv.
        events: Rows of events.csv (only ``kind == 'transition'`` rows are read).

    Returns:
        One course per patient, in the order of ``patients``.
    """
    changes: dict[str, list[tuple[float, str]]] = {p.patient_id: [] for p in patients}
    for e in events:
        if e.kind != "transition" or e.patient_id not in changes:
            continue
        target = CARE_GROUP.get(e.target)
        if target is None or e.target == e.source:
            continue
        changes[e.patient_id].append((e.day, target))
    out: list[CareCourse] = []
    for p in patients:
        days = [0.0]
        states = ["diagnosis"]
        for day, state in changes[p.patient_id]:
            if state == states[-1] or states[-1] == "death":
                continue
            # Several moves on one day are all kept (zero-length stays), so flows count
            # each of them; state_at() reports the last one.
            days.append(day)
            states.append(state)
        if p.death_day is not None and states[-1] != "death":
            days.append(p.death_day)
            states.append("death")
        out.append(CareCourse(p.patient_id, tuple(days), tuple(states), p.followup_days))
    return out


def occupancy(courses: Sequence[CareCourse], grid: Sequence[float]) -> dict[str, list[int]]:
    """Patients in each care state at each day of ``grid``.

    Args:
        courses: Care courses from :func:`care_courses`.
        grid: Days at which to count, ascending.

    Returns:
        Care state (or :data:`CENSORED`) -> counts along ``grid``; only states that occur
        are present, in :data:`CARE_ORDER` order with :data:`CENSORED` last.
    """
    counts: dict[str, list[int]] = {s: [0] * len(grid) for s in (*CARE_ORDER, CENSORED)}
    for course in courses:
        for j, day in enumerate(grid):
            counts[course.state_at(day)][j] += 1
    return {s: c for s, c in counts.items() if any(c)}


def flows(courses: Iterable[CareCourse]) -> list[Flow]:
    """Moves between care states, most frequent first (ties by care state order)."""
    transitions: Counter[tuple[str, str]] = Counter()
    patients: dict[tuple[str, str], set[str]] = {}
    for course in courses:
        for source, target, _ in course.moves():
            transitions[(source, target)] += 1
            patients.setdefault((source, target), set()).add(course.patient_id)
    rank = {s: i for i, s in enumerate(CARE_ORDER)}
    ordered = sorted(transitions.items(), key=lambda kv: (-kv[1], rank[kv[0][0]], rank[kv[0][1]]))
    return [Flow(s, t, n, len(patients[(s, t)])) for (s, t), n in ordered]
