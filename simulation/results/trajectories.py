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
    "FlowTally",
    "OccupancyTally",
    "care_course",
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


def care_course(patient: PatientRow, events: Iterable[EventRow]) -> CareCourse:
    """Rebuild one patient's care line from the transition rows of its events.

    A patient whose death_day is set but whose events hold no death transition is moved to
    ``death`` on that day, so the course agrees with patients.csv.

    Args:
        patient: The patient's row of patients.csv.
        events: The patient's rows of events.csv in time order (only ``kind ==
            'transition'`` rows are read).
    """
    days = [0.0]
    states = ["diagnosis"]
    for e in events:
        if e.kind != "transition" or e.target == e.source:
            continue
        state = CARE_GROUP.get(e.target)
        if state is None or state == states[-1] or states[-1] == "death":
            continue
        # Several moves on one day are all kept (zero-length stays), so flows count
        # each of them; state_at() reports the last one.
        days.append(e.day)
        states.append(state)
    if patient.death_day is not None and states[-1] != "death":
        days.append(patient.death_day)
        states.append("death")
    return CareCourse(patient.patient_id, tuple(days), tuple(states), patient.followup_days)


def care_courses(patients: Sequence[PatientRow], events: Iterable[EventRow]) -> list[CareCourse]:
    """Rebuild every patient's care line from the transition rows (see :func:`care_course`).

    Args:
        patients: Rows of patients.csv.
        events: Rows of events.csv (rows of patients not in ``patients`` are ignored).

    Returns:
        One course per patient, in the order of ``patients``.
    """
    by_patient: dict[str, list[EventRow]] = {p.patient_id: [] for p in patients}
    for e in events:
        if e.patient_id in by_patient:
            by_patient[e.patient_id].append(e)
    return [care_course(p, by_patient[p.patient_id]) for p in patients]


class OccupancyTally:
    """Patients in each care state at fixed days, counted one care course at a time.

    Memory holds the counts only: care states times the days of the grid.
    """

    __slots__ = ("_counts", "grid")

    def __init__(self, grid: Sequence[float]) -> None:
        self.grid = tuple(grid)
        self._counts: dict[str, list[int]] = {
            s: [0] * len(self.grid) for s in (*CARE_ORDER, CENSORED)
        }

    def add(self, course: CareCourse) -> None:
        """Count one patient's care course at every day of the grid."""
        counts = self._counts
        for j, day in enumerate(self.grid):
            counts[course.state_at(day)][j] += 1

    def counts(self) -> dict[str, list[int]]:
        """Care state (or :data:`CENSORED`) -> counts along the grid, as :func:`occupancy`."""
        return {s: list(c) for s, c in self._counts.items() if any(c)}


def occupancy(courses: Iterable[CareCourse], grid: Sequence[float]) -> dict[str, list[int]]:
    """Patients in each care state at each day of ``grid``.

    Args:
        courses: Care courses from :func:`care_courses`.
        grid: Days at which to count, ascending.

    Returns:
        Care state (or :data:`CENSORED`) -> counts along ``grid``; only states that occur
        are present, in :data:`CARE_ORDER` order with :data:`CENSORED` last.
    """
    tally = OccupancyTally(grid)
    for course in courses:
        tally.add(course)
    return tally.counts()


class FlowTally:
    """Moves between care states, counted one care course (one patient) at a time.

    Attributes:
        courses: Courses counted.
        entered: Care state -> patients who were ever in it.
        died: Care state -> patients who died while in it.
    """

    __slots__ = ("_patients", "_transitions", "courses", "died", "entered")

    def __init__(self) -> None:
        self.courses = 0
        self.entered: Counter[str] = Counter()
        self.died: Counter[str] = Counter()
        self._transitions: Counter[tuple[str, str]] = Counter()
        self._patients: Counter[tuple[str, str]] = Counter()

    def add(self, course: CareCourse) -> None:
        """Count one patient's course (each patient once: patients are counted per course)."""
        self.courses += 1
        for state in set(course.states):
            self.entered[state] += 1
        moves = [(source, target) for source, target, _ in course.moves()]
        self._transitions.update(moves)
        self._patients.update(set(moves))
        for source, target in moves:
            if target == "death":
                self.died[source] += 1

    def flows(self) -> list[Flow]:
        """Moves between care states, most frequent first (ties by care state order)."""
        rank = {s: i for i, s in enumerate(CARE_ORDER)}
        ordered = sorted(
            self._transitions.items(), key=lambda kv: (-kv[1], rank[kv[0][0]], rank[kv[0][1]])
        )
        return [Flow(s, t, n, self._patients[(s, t)]) for (s, t), n in ordered]


def flows(courses: Iterable[CareCourse]) -> list[Flow]:
    """Moves between care states, most frequent first (ties by care state order).

    ``courses`` are of distinct patients (as :func:`care_courses` gives them).
    """
    tally = FlowTally()
    for course in courses:
        tally.add(course)
    return tally.flows()
