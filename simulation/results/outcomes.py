"""Headline outcome figures of a cohort, from its patients.csv rows (whole or streamed).

Used by summary.json, the terminal summary of ``carechart simulate`` and ``carechart
compare``. Time-to-event figures are Kaplan-Meier estimates (:mod:`simulation.results.survival`);
proportions are crude. Days from diagnosis; years of 365.25 days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .survival import KaplanMeierTally

__all__ = ["OUTCOME_LABELS", "OutcomeTally", "headline_outcomes", "km_at"]

YEAR = 365.25
_LIVER_CAUSES = ("liver", "hcc")

Row = Mapping[str, Any]

#: The outcome keys shown by ``carechart compare`` and the terminal summary, with labels.
OUTCOME_LABELS: dict[str, str] = {
    "cbr_by_6_months": "complete response by 6 months (treated)",
    "second_line_within_1y": "second line within 1 year",
    "third_line_within_1y": "third line within 1 year",
    "third_line_ever": "third line during follow-up",
    "azathioprine_stopped_1y": "azathioprine stopped for intolerance within 1 year (its users)",
    "prednisolone_g_1y_mean": "predniso(lo)ne in the first year, mean g (treated)",
    "withdrawal_attempted": "withdrawal attempted",
    "relapse_after_withdrawal_1y": "relapse within 1 year of withdrawal (KM)",
    "transplanted": "transplanted",
    "died": "died",
    "liver_death": "liver-related death (liver, HCC)",
    "survival_10y": "overall survival at 10 years (KM)",
    "liver_event_free_10y": "free of liver death or transplant at 10 years (KM)",
    "mean_deviations": "deviations per patient",
}


def _from_diagnosis(r: Row) -> float:
    return 0.0


def _end_of_followup(r: Row) -> float:
    return float(r["followup_days"])


def km_at(
    rows: Iterable[Row],
    day: float,
    event: Callable[[Row], float | None],
    origin: Callable[[Row], float | None] = _from_diagnosis,
    censor: Callable[[Row], float] = _end_of_followup,
) -> float | None:
    """Kaplan-Meier cumulative incidence at ``day`` after ``origin`` (None: nobody at risk).

    ``event(row)`` gives the event day (or None), ``origin(row)`` the start (None: the row
    is not at risk), ``censor(row)`` the end of observation.
    """
    tally = KaplanMeierTally()
    for r in rows:
        _count_at_risk(tally, r, event, origin, censor)
    return _incidence(tally, day)


def _count_at_risk(
    tally: KaplanMeierTally,
    r: Row,
    event: Callable[[Row], float | None],
    origin: Callable[[Row], float | None] = _from_diagnosis,
    censor: Callable[[Row], float] = _end_of_followup,
) -> None:
    """Count one row's duration from ``origin`` to its event, or to ``censor`` without one."""
    start = origin(r)
    if start is None:
        return
    end = censor(r)
    when = event(r)
    if when is not None and start <= when <= end:
        tally.add(when - start, True)
    else:
        tally.add(max(0.0, end - start), False)


def _incidence(tally: KaplanMeierTally, day: float) -> float | None:
    return round(tally.cumulative_incidence_at(day), 4) if len(tally) else None


def _survival(tally: KaplanMeierTally, day: float) -> float | None:
    incidence = _incidence(tally, day)
    return None if incidence is None else round(1 - incidence, 4)


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _mean_g(total_mg: float, patients: int) -> float | None:
    """Mean dose per patient in grams (one decimal)."""
    return round(total_mg / patients / 1000.0, 1) if patients else None


def _within(value: Any, days: float) -> bool:
    return value is not None and value <= days


def _death_day(r: Row) -> float | None:
    day: float | None = r["death_day"]
    return day


def _liver_event(r: Row) -> float | None:
    days = [d for d in (r["transplant_day"],) if d is not None]
    if r["death_cause"] in _LIVER_CAUSES and r["death_day"] is not None:
        days.append(r["death_day"])
    return min(days) if days else None


class OutcomeTally:
    """Running counts behind :func:`headline_outcomes`, fed one patients.csv row at a time.

    Memory grows with the distinct event days and groups, not with the patients: shares
    are counts, Kaplan-Meier estimates are :class:`~simulation.results.survival.KaplanMeierTally`
    counts by day, the HCC rate a running sum. Rows must be added in patient order for
    the HCC rate's patient-years to be summed exactly as from the whole list.

    Attributes:
        patients: rows added.
        counts: patients with each counted outcome (``died``, ``transplanted``, ...).
        deviations: deviations of all rows together.
    """

    def __init__(self) -> None:
        self.patients = 0
        self.counts: Counter[str] = Counter()
        self.deviations = 0
        self.first_line: Counter[Any] = Counter()
        self.death_causes: Counter[Any] = Counter()
        # first-line regimen of the treated -> [patients, complete response by 6 months]
        self.cbr_by_line: dict[str, list[int]] = {}
        self.relapse_after_withdrawal = KaplanMeierTally()
        self.survival = KaplanMeierTally()
        self.liver_event = KaplanMeierTally()
        self.survival_by_cirrhosis: dict[str, KaplanMeierTally] = {}
        self.recurrence_after_transplant = KaplanMeierTally()
        self.hcc_events = 0
        self.hcc_days = 0.0  # on the native liver, patients with cirrhosis at diagnosis
        self.prednisolone_mg = 0.0  # summed over patients who took predniso(lo)ne
        self.prednisolone_mg_1y = 0.0

    def add(self, r: Row) -> None:
        """Count one patients.csv row (as typed dicts: None for empty cells)."""
        self.patients += 1
        count = self.counts
        self.first_line[r["first_line"]] += 1
        if r["first_line"] != "none":
            count["treated"] += 1
            cbr = _within(r["first_cbr_day"], 200.0)
            count["cbr_by_6_months"] += cbr
            line = self.cbr_by_line.setdefault(str(r["first_line"]), [0, 0])
            line[0] += 1
            line[1] += cbr
        count["second_line_within_1y"] += _within(r["second_line_day"], YEAR)
        count["third_line_ever"] += r["third_line_day"] is not None
        count["third_line_within_1y"] += _within(r["third_line_day"], YEAR)
        aza_start = r.get("azathioprine_start_day")
        if aza_start is not None:
            count["azathioprine_users"] += 1
            stop = r.get("azathioprine_stopped_day")
            count["azathioprine_stopped_1y"] += stop is not None and stop <= aza_start + YEAR
        if r.get("prednisolone_mg"):
            count["prednisolone_users"] += 1
            self.prednisolone_mg += float(r["prednisolone_mg"])
            self.prednisolone_mg_1y += float(r.get("prednisolone_mg_1y") or 0.0)
        count["withdrawal_attempted"] += r["withdrawal_day"] is not None
        count["transplanted"] += r["transplant_day"] is not None
        count["referred_for_transplant"] += r["referral_day"] is not None
        count["died"] += r["death_day"] is not None
        count["liver_death"] += r["death_cause"] in _LIVER_CAUSES
        if r["death_cause"]:
            self.death_causes[r["death_cause"]] += 1
        _count_at_risk(
            self.relapse_after_withdrawal,
            r,
            lambda r: r["relapse_after_withdrawal_day"],
            origin=lambda r: r["withdrawal_day"],
        )
        _count_at_risk(self.survival, r, _death_day)
        _count_at_risk(self.liver_event, r, _liver_event)
        stage = str(r["cirrhosis_at_diagnosis"])
        by_stage = self.survival_by_cirrhosis.get(stage)
        if by_stage is None:
            by_stage = self.survival_by_cirrhosis[stage] = KaplanMeierTally()
        _count_at_risk(by_stage, r, _death_day)
        _count_at_risk(
            self.recurrence_after_transplant,
            r,
            lambda r: r["recurrence_day"],
            origin=lambda r: r["transplant_day"],
        )
        if r["cirrhosis_at_diagnosis"] != "none":
            self._add_hcc(r)
        if r["presentation"] == "acute_severe":
            count["acute_severe"] += 1
            count["acute_severe_referred_by_day_14"] += _within(r["referral_day"], 14.0)
        self.deviations += r["deviations"]

    def _add_hcc(self, r: Row) -> None:
        """HCC on the native liver: until HCC, transplant or the end of follow-up."""
        end = float(r["followup_days"])
        if r["transplant_day"] is not None:
            end = min(end, float(r["transplant_day"]))
        if r["hcc_day"] is not None and r["hcc_day"] <= end:
            self.hcc_events += 1
            end = float(r["hcc_day"])
        self.hcc_days += end

    def outcomes(self, horizon_days: float) -> dict[str, Any]:
        """The headline figures (proportions 0-1, rates per 1000 patient-years)."""
        n, count = self.patients, self.counts
        out: dict[str, Any] = {
            "cbr_by_6_months": _share(count["cbr_by_6_months"], count["treated"]),
            "cbr_by_6_months_by_first_line": {
                line: _share(responses, patients)
                for line, (patients, responses) in sorted(self.cbr_by_line.items())
            },
            "first_line": dict(sorted(self.first_line.items())),
            "second_line_within_1y": _share(count["second_line_within_1y"], n),
            "third_line_within_1y": _share(count["third_line_within_1y"], n),
            "third_line_ever": _share(count["third_line_ever"], n),
            "azathioprine_stopped_1y": _share(
                count["azathioprine_stopped_1y"], count["azathioprine_users"]
            ),
            "prednisolone_g_1y_mean": _mean_g(self.prednisolone_mg_1y, count["prednisolone_users"]),
            "prednisolone_g_mean": _mean_g(self.prednisolone_mg, count["prednisolone_users"]),
            "withdrawal_attempted": _share(count["withdrawal_attempted"], n),
            "withdrawals": count["withdrawal_attempted"],
        }
        for years in (1, 2, 3):
            out[f"relapse_after_withdrawal_{years}y"] = _incidence(
                self.relapse_after_withdrawal, years * YEAR
            )
        for key in ("transplanted", "referred_for_transplant", "died", "liver_death"):
            out[key] = _share(count[key], n)
        out["death_causes"] = dict(sorted(self.death_causes.items()))
        deaths = sum(self.death_causes.values())
        out["liver_share_of_deaths"] = _share(
            sum(self.death_causes[c] for c in _LIVER_CAUSES), deaths
        )
        for years in (5, 10):
            if horizon_days >= years * YEAR:
                out[f"survival_{years}y"] = _survival(self.survival, years * YEAR)
                out[f"liver_event_free_{years}y"] = _survival(self.liver_event, years * YEAR)
        out["survival_10y_by_cirrhosis"] = (
            {
                stage: _survival(tally, 10 * YEAR)
                for stage, tally in sorted(self.survival_by_cirrhosis.items())
            }
            if horizon_days >= 10 * YEAR
            else {}
        )
        out["recurrence_after_transplant_5y"] = _incidence(
            self.recurrence_after_transplant, 5 * YEAR
        )
        patient_years = self.hcc_days / YEAR  # 0.0 for a subnormal number of days too
        out["hcc_per_1000py_cirrhosis_at_diagnosis"] = (
            None if patient_years <= 0 else round(self.hcc_events / patient_years * 1000.0, 3)
        )
        out["acute_severe_referred_by_day_14"] = _share(
            count["acute_severe_referred_by_day_14"], count["acute_severe"]
        )
        out["mean_deviations"] = round(self.deviations / n, 4) if n else None
        return out


def headline_outcomes(rows: Iterable[Row], horizon_days: float) -> dict[str, Any]:
    """The run's headline figures (proportions 0-1, rates per 1000 patient-years).

    The figures of an :class:`OutcomeTally` fed ``rows`` in order (a cohort run feeds one
    chunk by chunk instead of keeping its rows).
    """
    tally = OutcomeTally()
    for r in rows:
        tally.add(r)
    return tally.outcomes(horizon_days)
