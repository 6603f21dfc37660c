"""Headline outcome figures of a cohort, from its patients.csv rows.

Used by summary.json, the terminal summary of ``carechart simulate`` and ``carechart
compare``. Time-to-event figures are Kaplan-Meier estimates (:mod:`simulation.survival`);
proportions are crude. Days from diagnosis; years of 365.25 days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .survival import kaplan_meier

__all__ = ["OUTCOME_LABELS", "headline_outcomes", "km_at"]

YEAR = 365.25

Row = Mapping[str, Any]

#: The outcome keys shown by ``carechart compare`` and the terminal summary, with labels.
OUTCOME_LABELS: dict[str, str] = {
    "cbr_by_6_months": "complete response by 6 months (treated)",
    "second_line_within_1y": "second line within 1 year",
    "third_line_ever": "third line during follow-up",
    "withdrawal_attempted": "withdrawal attempted",
    "relapse_after_withdrawal_1y": "relapse within 1 year of withdrawal (KM)",
    "transplanted": "transplanted",
    "died": "died",
    "liver_death": "liver-related death (liver, HCC)",
    "survival_10y": "overall survival at 10 years (KM)",
    "liver_event_free_10y": "free of liver death or transplant at 10 years (KM)",
    "mean_deviations": "deviations per patient",
}


def km_at(
    rows: Sequence[Row],
    day: float,
    event: Callable[[Row], float | None],
    origin: Callable[[Row], float | None] = lambda r: 0.0,
    censor: Callable[[Row], float] = lambda r: float(r["followup_days"]),
) -> float | None:
    """Kaplan-Meier cumulative incidence at ``day`` after ``origin`` (None: nobody at risk).

    ``event(row)`` gives the event day (or None), ``origin(row)`` the start (None: the row
    is not at risk), ``censor(row)`` the end of observation.
    """
    durations: list[float] = []
    observed: list[bool] = []
    for r in rows:
        start = origin(r)
        if start is None:
            continue
        end = censor(r)
        when = event(r)
        if when is not None and start <= when <= end:
            durations.append(when - start)
            observed.append(True)
        else:
            durations.append(max(0.0, end - start))
            observed.append(False)
    if not durations:
        return None
    return round(kaplan_meier(durations, observed).cumulative_incidence_at(day), 4)


def _share(rows: Sequence[Row], test: Callable[[Row], bool]) -> float | None:
    return round(sum(1 for r in rows if test(r)) / len(rows), 4) if rows else None


def _within(value: Any, days: float) -> bool:
    return value is not None and value <= days


def headline_outcomes(rows: Sequence[Row], horizon_days: float) -> dict[str, Any]:
    """The run's headline figures (proportions 0-1, rates per 1000 patient-years)."""
    treated = [r for r in rows if r["first_line"] != "none"]
    liver_causes = ("liver", "hcc")
    out: dict[str, Any] = {
        "cbr_by_6_months": _share(treated, lambda r: _within(r["first_cbr_day"], 200.0)),
        "cbr_by_6_months_by_first_line": {
            line: _share(group, lambda r: _within(r["first_cbr_day"], 200.0))
            for line, group in sorted(_groups(treated, "first_line").items())
        },
        "first_line": dict(sorted(Counter(r["first_line"] for r in rows).items())),
        "second_line_within_1y": _share(rows, lambda r: _within(r["second_line_day"], YEAR)),
        "third_line_ever": _share(rows, lambda r: r["third_line_day"] is not None),
        "withdrawal_attempted": _share(rows, lambda r: r["withdrawal_day"] is not None),
        "withdrawals": sum(1 for r in rows if r["withdrawal_day"] is not None),
    }
    for years in (1, 2, 3):
        out[f"relapse_after_withdrawal_{years}y"] = km_at(
            rows,
            years * YEAR,
            lambda r: r["relapse_after_withdrawal_day"],
            origin=lambda r: r["withdrawal_day"],
        )
    out["transplanted"] = _share(rows, lambda r: r["transplant_day"] is not None)
    out["referred_for_transplant"] = _share(rows, lambda r: r["referral_day"] is not None)
    out["died"] = _share(rows, lambda r: r["death_day"] is not None)
    out["liver_death"] = _share(rows, lambda r: r["death_cause"] in liver_causes)
    out["death_causes"] = dict(
        sorted(Counter(r["death_cause"] for r in rows if r["death_cause"]).items())
    )
    for years in (5, 10):
        if horizon_days >= years * YEAR:
            s = km_at(rows, years * YEAR, lambda r: r["death_day"])
            out[f"survival_{years}y"] = None if s is None else round(1 - s, 4)
            liver = km_at(rows, years * YEAR, _liver_event)
            out[f"liver_event_free_{years}y"] = None if liver is None else round(1 - liver, 4)
    out["survival_10y_by_cirrhosis"] = (
        {
            stage: (
                None
                if (s := km_at(group, 10 * YEAR, lambda r: r["death_day"])) is None
                else round(1 - s, 4)
            )
            for stage, group in sorted(_groups(rows, "cirrhosis_at_diagnosis").items())
        }
        if horizon_days >= 10 * YEAR
        else {}
    )
    out["recurrence_after_transplant_5y"] = km_at(
        rows, 5 * YEAR, lambda r: r["recurrence_day"], origin=lambda r: r["transplant_day"]
    )
    out["hcc_per_1000py_cirrhosis_at_diagnosis"] = _hcc_rate(
        [r for r in rows if r["cirrhosis_at_diagnosis"] != "none"]
    )
    acute = [r for r in rows if r["presentation"] == "acute_severe"]
    out["acute_severe_referred_by_day_14"] = _share(
        acute, lambda r: _within(r["referral_day"], 14.0)
    )
    out["mean_deviations"] = (
        round(sum(r["deviations"] for r in rows) / len(rows), 4) if rows else None
    )
    return out


def _liver_event(r: Row) -> float | None:
    days = [d for d in (r["transplant_day"],) if d is not None]
    if r["death_cause"] in ("liver", "hcc") and r["death_day"] is not None:
        days.append(r["death_day"])
    return min(days) if days else None


def _groups(rows: Sequence[Row], key: str) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for r in rows:
        out.setdefault(str(r[key]), []).append(r)
    return out


def _hcc_rate(rows: Sequence[Row]) -> float | None:
    """HCC per 1000 patient-years on the native liver (until HCC, transplant or the end)."""
    events = 0
    days = 0.0
    for r in rows:
        end = float(r["followup_days"])
        if r["transplant_day"] is not None:
            end = min(end, float(r["transplant_day"]))
        if r["hcc_day"] is not None and r["hcc_day"] <= end:
            events += 1
            end = float(r["hcc_day"])
        days += end
    if days <= 0:
        return None
    return round(events / (days / YEAR) * 1000.0, 3)
