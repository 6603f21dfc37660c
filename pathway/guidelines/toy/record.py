"""The toy guideline's record, thresholds and options ([MODEL] values; no clinical claims)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ...errors import PatientError

__all__ = ["SCORE_RANGE", "ToyOptions", "ToyRecord", "ToyThresholds"]

#: The made-up activity score's range (unitless).
SCORE_RANGE: tuple[float, float] = (0.0, 20.0)


@dataclass(slots=True)
class ToyRecord:
    """One toy patient: a made-up activity score (0-20) and the drugs on board (mg/day)."""

    patient_id: str
    day: float = 0.0
    score: float = 10.0
    drugs: dict[str, float | None] = field(default_factory=dict)
    reviews: int = 0  # reviews on the current drug
    entered: dict[str, float] = field(default_factory=dict)
    timers_fired: dict[str, int] = field(default_factory=dict)
    death_day: float | None = None
    state: Any = None

    def __post_init__(self) -> None:
        low, high = SCORE_RANGE
        if not (math.isfinite(self.score) and low <= self.score <= high):
            raise PatientError(f"score: found {self.score!r}, expected a number in [0, 20]")

    def on(self, drug: str) -> bool:
        """True while ``drug`` is on board."""
        return drug in self.drugs

    def dose(self, drug: str) -> float | None:
        """Dose of ``drug`` in mg/day (``None`` when not on board)."""
        return self.drugs.get(drug)


@dataclass(frozen=True, slots=True)
class ToyThresholds:
    """[MODEL] thresholds of the toy guideline (scores unitless, doses mg/day, days)."""

    treat_score: float = 8.0
    remission_score: float = 3.0
    alfa_mg_day: float = 10.0
    beta_mg_day: float = 20.0
    max_dose_mg_day: float = 25.0
    review_days: float = 28.0

    def with_overrides(self, **overrides: Any) -> ToyThresholds:
        """A copy with some values replaced; ``ValueError`` for an unknown name or a value
        that is not a number > 0 (at least 1 for ``review_days``)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown threshold(s) {unknown!r}; known: {sorted(known)}")
        values = {k: float(v) for k, v in overrides.items()}
        for name, value in values.items():
            low = 1.0 if name.endswith("_days") else 0.0
            if not (math.isfinite(value) and value > low - (1.0 if low else 0.0) and value > 0):
                raise ValueError(f"thresholds.{name}: found {value!r}, expected a number > {low:g}")
        return replace(self, **values)


@dataclass(frozen=True, slots=True)
class ToyOptions:
    """The toy guideline has no options."""
