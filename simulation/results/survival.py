"""Kaplan-Meier estimation of time-to-event curves, with Greenwood confidence bands.

A small, dependency-free estimator used by the report (outcome curves) and by calibration
(cumulative incidences at fixed times). Time is in days. Censoring follows the usual
convention: a patient censored at day ``t`` is still at risk for the events of day ``t``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .intervals import Z95

__all__ = ["KaplanMeierTally", "SurvivalCurve", "kaplan_meier"]

#: Two-sided 95% normal quantile.


@dataclass(frozen=True, slots=True)
class SurvivalCurve:
    """A Kaplan-Meier estimate: a right-continuous step function of time (days).

    Attributes:
        times: Distinct days on which at least one event happened, ascending.
        survival: Estimated S(t) from each of ``times`` until the next one.
        at_risk: Patients at risk just before each of ``times`` (durations >= the day).
        events: Events on each of ``times``.
        lower: Lower bound of the pointwise 95% interval (Greenwood, log-log scale).
        upper: Upper bound of the pointwise 95% interval.
        durations: Every patient's observed duration, ascending (for at-risk counts).
        n_events: Total number of events.
    """

    times: tuple[float, ...]
    survival: tuple[float, ...]
    at_risk: tuple[int, ...]
    events: tuple[int, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    durations: tuple[float, ...]
    n_events: int

    @property
    def n(self) -> int:
        """Number of patients in the estimate."""
        return len(self.durations)

    def survival_at(self, day: float) -> float:
        """S(day): the estimated probability of no event by ``day`` (inclusive)."""
        i = bisect.bisect_right(self.times, day)
        return 1.0 if i == 0 else self.survival[i - 1]

    def cumulative_incidence_at(self, day: float) -> float:
        """1 - S(day): the estimated probability of the event by ``day`` (inclusive)."""
        return 1.0 - self.survival_at(day)

    def interval_at(self, day: float) -> tuple[float, float]:
        """Pointwise 95% interval of S(day); ``(1.0, 1.0)`` before the first event."""
        i = bisect.bisect_right(self.times, day)
        return (1.0, 1.0) if i == 0 else (self.lower[i - 1], self.upper[i - 1])

    def at_risk_at(self, day: float) -> int:
        """Patients still under observation and event-free at ``day`` (duration >= day)."""
        return len(self.durations) - bisect.bisect_left(self.durations, day)

    def median(self) -> float | None:
        """The first day on which S falls to 0.5 or below, or ``None`` if it never does."""
        for day, s in zip(self.times, self.survival, strict=True):
            if s <= 0.5:
                return day
        return None

    def steps(self) -> tuple[list[float], list[float]]:
        """Points of the step function for plotting with ``drawstyle='steps-post'``.

        The curve starts at (0, 1) and ends at the longest observed duration.
        """
        xs = [0.0, *self.times]
        ys = [1.0, *self.survival]
        end = self.durations[-1] if self.durations else 0.0
        if end > xs[-1]:
            xs.append(end)
            ys.append(ys[-1])
        return xs, ys


class KaplanMeierTally:
    """Right-censored durations counted by day: Kaplan-Meier in memory of the distinct days.

    The product-limit estimate needs, for each distinct day, only the number of events and
    the number of durations ending that day; a tally of those is exact and can be fed one
    duration at a time (a cohort's patients chunk by chunk) without keeping the durations.
    :func:`kaplan_meier` builds its curves from the same tally.

    >>> tally = KaplanMeierTally()
    >>> for day, event in [(1, True), (2, True), (2, False), (3, True)]:
    ...     tally.add(day, event)
    >>> len(tally), tally.survival_at(2.5)
    (4, 0.5)
    """

    __slots__ = ("_by_day", "_n")

    def __init__(self) -> None:
        self._by_day: dict[float, list[int]] = {}  # day -> [events, durations ending]
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, duration: float, observed: bool, *, label: str = "duration") -> None:
        """Count one duration (days) ending in the event (``observed``) or in censoring.

        Raises:
            ValueError: If the duration is negative or not finite.
        """
        day = float(duration)
        if not math.isfinite(day) or day < 0:
            raise ValueError(f"{label} must be finite and >= 0 (got {duration!r})")
        counts = self._by_day.get(day)
        if counts is None:
            counts = self._by_day[day] = [0, 0]
        counts[0] += bool(observed)
        counts[1] += 1
        self._n += 1

    def steps(self) -> Iterator[tuple[float, float, int, int]]:
        """``(day, S(day), at risk, events)`` for each day with events, ascending."""
        s = 1.0
        n_remaining = self._n
        for day in sorted(self._by_day):
            deaths, ending = self._by_day[day]
            if deaths:
                s *= 1.0 - deaths / n_remaining
                yield day, s, n_remaining, deaths
            n_remaining -= ending

    def survival_at(self, day: float) -> float:
        """S(day): the estimated probability of no event by ``day`` (inclusive)."""
        s = 1.0
        for when, s_when, _, _ in self.steps():
            if when > day:
                break
            s = s_when
        return s

    def cumulative_incidence_at(self, day: float) -> float:
        """1 - S(day): the estimated probability of the event by ``day`` (inclusive)."""
        return 1.0 - self.survival_at(day)

    def durations(self) -> tuple[float, ...]:
        """Every counted duration, ascending."""
        return tuple(day for day in sorted(self._by_day) for _ in range(self._by_day[day][1]))

    def curve(self) -> SurvivalCurve:
        """The Kaplan-Meier estimate of the counted durations, with Greenwood log-log 95% bands.

        The same curve as :func:`kaplan_meier` of the durations, whatever order they were
        counted in.
        """
        times: list[float] = []
        survival: list[float] = []
        at_risk: list[int] = []
        events: list[int] = []
        lower: list[float] = []
        upper: list[float] = []
        greenwood = 0.0  # running sum of d / (n (n - d))
        for day, s, n_remaining, deaths in self.steps():
            if deaths < n_remaining:
                greenwood += deaths / (n_remaining * (n_remaining - deaths))
            lo, hi = _loglog_interval(s, greenwood)
            times.append(day)
            survival.append(s)
            at_risk.append(n_remaining)
            events.append(deaths)
            lower.append(lo)
            upper.append(hi)
        return SurvivalCurve(
            times=tuple(times),
            survival=tuple(survival),
            at_risk=tuple(at_risk),
            events=tuple(events),
            lower=tuple(lower),
            upper=tuple(upper),
            durations=self.durations(),
            n_events=sum(events),
        )


def kaplan_meier(durations: Sequence[float], observed: Sequence[bool]) -> SurvivalCurve:
    """Estimate a survival curve from right-censored durations.

    Args:
        durations: Days from the origin to the event or to censoring, one per patient.
        observed: True where the duration ends in the event, False where it is censored.

    Returns:
        The Kaplan-Meier estimate with Greenwood log-log 95% pointwise intervals.

    Raises:
        ValueError: If the sequences differ in length, or a duration is negative or not
            finite.

    >>> curve = kaplan_meier([1, 2, 2, 3], [True, True, False, True])
    >>> [round(s, 3) for s in curve.survival]
    [0.75, 0.5, 0.0]
    """
    if len(durations) != len(observed):
        raise ValueError(
            f"'durations' and 'observed' differ in length ({len(durations)} != {len(observed)})"
        )
    tally = KaplanMeierTally()
    for i, (d, e) in enumerate(zip(durations, observed, strict=True)):
        tally.add(d, e, label=f"duration #{i}")
    return tally.curve()


def _loglog_interval(s: float, greenwood: float) -> tuple[float, float]:
    """95% interval for S on the log(-log S) scale (stays inside [0, 1])."""
    if s <= 0.0:
        return 0.0, 0.0
    if s >= 1.0 or greenwood == 0.0:
        return s, s
    log_s = math.log(s)
    se = math.sqrt(greenwood) / abs(log_s)
    centre = math.log(-log_s)
    # exp(-exp(x)) decreases in x, so the upper bound of x gives the lower bound of S.
    lo = math.exp(-math.exp(centre + Z95 * se))
    hi = math.exp(-math.exp(centre - Z95 * se))
    return lo, hi
