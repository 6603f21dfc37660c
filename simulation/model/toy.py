"""A patient model for the toy guideline (:mod:`pathway.guidelines.toy`): no clinical content.

Every number is [MODEL], made up to drive the toy pathway through all its states: a score
measured every ``interval_days``; on a drug the patient responds to, the score halves at
each measurement (plus noise), else it drifts back to the patient's own level; each
patient responds to alfa with probability 0.5 and to beta with 0.8; death comes at an
exponential time (1% a year).
"""

from __future__ import annotations

from typing import Final

from pathway import AnyPathway
from pathway.guidelines.toy.record import SCORE_RANGE, ToyRecord

from ..run.engine import Days, Occurrence
from .draws import PatientStream

__all__ = ["ToyPatient"]

#: [MODEL] chance of responding to each toy drug; yearly chance of death.
RESPONSE: Final = {"alfa": 0.5, "beta": 0.8}
DEATH_PER_YEAR: Final = 0.01
YEAR_DAYS: Final = 365.25


class ToyPatient:
    """One toy patient: its record at diagnosis and the findings over time."""

    def __init__(self, patient_id: str, rng: PatientStream, interval_days: Days = 14.0):
        self.rng = rng
        self.interval = interval_days
        self.level = rng.uniform(9.0, 16.0)
        self.responds = {drug: bool(rng.random() < p) for drug, p in RESPONSE.items()}
        self.death_day = rng.standard_exponential() * YEAR_DAYS / DEATH_PER_YEAR
        self.record = ToyRecord(patient_id, score=round(self.level, 1))
        self._score = self.level
        self._next = interval_days

    def baseline(self, chart: AnyPathway) -> list[Occurrence]:
        """Nothing beyond the record: the score at diagnosis is in it."""
        return []

    def next_day(self, chart: AnyPathway) -> Days | None:
        """The next measurement, or death when it comes first."""
        return min(self._next, self.death_day)

    def pop(self, chart: AnyPathway, day: Days) -> list[Occurrence]:
        """Death, or the score measured on ``day``."""
        if day >= self.death_day:
            self._next = self.death_day = float("inf")
            return [Occurrence(day, "finding", "death")]
        self._next = day + self.interval
        drugs = chart.patient.drugs
        noise = self.rng.normal(0.0, 0.5)
        if any(self.responds[d] for d in drugs):
            self._score = self._score / 2.0 + noise
        else:
            self._score = (self._score + self.level) / 2.0 + noise
        low, high = SCORE_RANGE
        self._score = min(high, max(low, self._score))
        return [Occurrence(day, "finding", "score", round(self._score, 1))]

    def visit_labs(self, chart: AnyPathway, day: Days) -> dict[str, float] | None:
        """The toy reviews draw no labs."""
        return None

    def scripts_actions_on(self, day: Days) -> bool:
        """No clinician action is scripted."""
        return False
