"""Piecewise-constant hazards and the clocks that turn them into event days.

A hazard is a tuple of ``(start, rate)`` pieces: ``rate`` (per day) applies from ``start``
(days after the hazard's origin) to the next piece's start; the last piece runs forever and
the time before the first piece has rate 0. Cumulative incidences from the sources (for
example 59% / 73% / 81% retreatment 1 / 2 / 3 years after withdrawal, S-VGERVEN13) become
hazards with :func:`from_cumulative`.

A :class:`Clock` holds one patient's exponential "budget" for one kind of event and spends
it at whatever rate the patient's situation dictates: when the situation changes, the
remaining budget carries over, so the event day is consistent with a hazard that changes
over time (the standard competing-clocks construction). Each clock draws from its own random
generator, so the same patient under two policies shares its random numbers (common random
numbers) as far as the two courses allow. Units: days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .draws import Randomness

__all__ = [
    "YEAR_DAYS",
    "Clock",
    "Hazard",
    "constant",
    "cumulative_hazard",
    "cumulative_incidence",
    "from_cumulative",
    "rate_from_probability",
    "sample_time",
    "scale",
    "shift",
    "solve",
]

#: Days per year (mean Gregorian year).
YEAR_DAYS = 365.25

Hazard = tuple[tuple[float, float], ...]
"""Pieces ``(start_day, rate_per_day)`` sorted by start; see the module docstring."""


def constant(rate_per_day: float) -> Hazard:
    """A hazard with the same rate from day 0 on."""
    return ((0.0, rate_per_day),) if rate_per_day > 0 else ()


def rate_from_probability(probability: float, days: float) -> float:
    """Constant rate (per day) that gives ``probability`` of an event within ``days``.

    >>> round(rate_from_probability(0.5, 10.0) * 10.0, 4)
    0.6931
    """
    if not 0.0 <= probability < 1.0:
        raise ValueError(f"probability must be in [0, 1) (got {probability!r})")
    if days <= 0:
        raise ValueError(f"days must be > 0 (got {days!r})")
    return -math.log1p(-probability) / days


def from_cumulative(points: Sequence[tuple[float, float]]) -> Hazard:
    """Piecewise hazard through cumulative incidences ``(day, probability)``.

    The rate of the last interval continues after the last point (a modelling choice: the
    sources stop there).

    >>> h = from_cumulative([(365.25, 0.59), (730.5, 0.73)])
    >>> round(cumulative_incidence(h, 730.5), 4)
    0.73
    """
    pieces: list[tuple[float, float]] = []
    prev_day, prev_surv = 0.0, 1.0
    for day, prob in points:
        surv = 1.0 - prob
        if day <= prev_day or not 0.0 < surv <= prev_surv:
            raise ValueError(f"cumulative incidences must rise with time (got {list(points)!r})")
        pieces.append((prev_day, -math.log(surv / prev_surv) / (day - prev_day)))
        prev_day, prev_surv = day, surv
    return tuple(pieces)


def shift(hazard: Hazard, days: float) -> Hazard:
    """The same hazard with its origin moved ``days`` later (earlier when negative)."""
    return tuple((start + days, rate) for start, rate in hazard)


def scale(hazard: Hazard, factor: float) -> Hazard:
    """The hazard with every rate multiplied by ``factor``."""
    return tuple((start, rate * factor) for start, rate in hazard)


def cumulative_hazard(hazard: Hazard, lo: float, hi: float) -> float:
    """Integral of the rate from ``lo`` to ``hi`` (days after the origin)."""
    total = 0.0
    n = len(hazard)
    for i, (start, rate) in enumerate(hazard):
        end = hazard[i + 1][0] if i + 1 < n else math.inf
        s, e = max(start, lo), min(end, hi)
        if e > s and rate > 0:
            total += rate * (e - s)
    return total


def cumulative_incidence(hazard: Hazard, day: float) -> float:
    """Probability of the event by ``day`` (no competing events)."""
    return -math.expm1(-cumulative_hazard(hazard, 0.0, day))


def solve(hazard: Hazard, lo: float, budget: float) -> float:
    """The day ``t >= lo`` at which the hazard integrated from ``lo`` reaches ``budget``.

    ``math.inf`` when it never does.
    """
    n = len(hazard)
    for i, (start, rate) in enumerate(hazard):
        end = hazard[i + 1][0] if i + 1 < n else math.inf
        s = max(start, lo)
        if end <= s or rate <= 0:
            continue
        need = budget / rate
        if s + need <= end:
            return s + need
        budget -= rate * (end - s)
    return math.inf


def sample_time(hazard: Hazard, rng: Randomness) -> float:
    """One event time (days after the origin) drawn from ``hazard``; ``inf`` if none."""
    return solve(hazard, 0.0, float(rng.standard_exponential()))


class Clock:
    """One kind of event for one patient: an Exp(1) budget spent by a changing hazard.

    Call :meth:`advance` up to the current day before changing the hazard with :meth:`set`;
    :meth:`due` is the absolute day the budget runs out; :meth:`fired` starts a new budget.
    """

    __slots__ = ("budget", "hazard", "name", "origin", "rng", "since")

    def __init__(self, name: str, rng: Randomness) -> None:
        self.name = name
        self.rng = rng
        self.budget = float(rng.standard_exponential())
        self.origin = 0.0
        self.hazard: Hazard = ()
        self.since = 0.0

    def advance(self, day: float) -> None:
        """Spend the budget from the last update to ``day`` at the current hazard."""
        if day > self.since:
            if self.hazard:
                self.budget -= cumulative_hazard(
                    self.hazard, self.since - self.origin, day - self.origin
                )
            self.since = day

    def set(self, origin: float, hazard: Hazard) -> None:
        """From now on, the hazard is ``hazard`` counted from the absolute day ``origin``."""
        self.origin = origin
        self.hazard = hazard

    def due(self) -> float:
        """Absolute day on which the event happens at the current hazard (``inf``: never)."""
        if not self.hazard:
            return math.inf
        if self.budget <= 0:
            return self.since
        return self.origin + solve(self.hazard, self.since - self.origin, self.budget)

    def fired(self, day: float) -> None:
        """The event happened on ``day``: start a new budget from that day."""
        self.since = max(self.since, day)
        self.budget = float(self.rng.standard_exponential())
