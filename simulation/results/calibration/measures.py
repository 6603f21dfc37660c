"""What a calibration target measures on a run's outputs: the measure kinds and their checks.

Each kind is a function of (outputs, params) returning (value, denominator), measured on
the standard output files with the readers the report uses.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.aih.vocabulary import ACTIONS

from ..cohort_outputs import DAY_COLUMNS, CohortOutputs, EventRow, PatientRow
from ..endpoints import (
    Duration,
    TimeToEvent,
    overall_survival,
    recurrence_after_transplant,
    relapse_after_withdrawal,
    time_to_cbr,
    transplant_free_survival,
)
from ..survival import kaplan_meier
from ..trajectories import CARE_GROUP, CARE_ORDER, care_courses

if TYPE_CHECKING:
    from .targets import Target

__all__ = ["LIVER_CAUSES", "MEASURES", "MEASURE_PARAMS", "Measure", "MeasureFn", "measure"]

_ENDPOINTS: dict[str, Callable[[CohortOutputs], TimeToEvent]] = {
    "time_to_cbr": lambda o: time_to_cbr(o.patients),
    "overall_survival": lambda o: overall_survival(o.patients),
    "transplant_free_survival": lambda o: transplant_free_survival(o.patients),
    "relapse_after_withdrawal": lambda o: relapse_after_withdrawal(
        o.patients, o.events_by_patient()
    ),
    "recurrence_after_transplant": lambda o: recurrence_after_transplant(
        o.patients, o.events_by_patient()
    ),
    "liver_death": lambda o: _liver_death(o.patients),
    "hcc": lambda o: _hcc(o.patients),
    "death_after_transplant": lambda o: _death_after_transplant(o.patients),
}
#: Causes of death that count as liver-related (``death_cause`` in patients.csv).
LIVER_CAUSES = ("liver", "hcc")
_ANTIMETABOLITES = ("azathioprine", "mycophenolate")
_SWITCH_DRUGS = {"switch_to_mycophenolate": "mycophenolate", "switch_to_tacrolimus": "tacrolimus"}
#: The rule a switch to second line names when it is for a failed response (AIH-RSP-03,
#: pathway.guidelines.aih.rules); a switch after intolerance or cytopenia does not name it.
_FAILED_RESPONSE_RULE = "AIH-RSP-03"
_FIRST_LINE_STARTS = ("start_prednisolone", "start_budesonide")
#: The pathway's 6-month assessment (IAIHG 2022 insufficient response), in days.
_MONTH6_DAYS = Thresholds().cbr_assessment_days
_SECOND_LINE_REASONS = ("intolerance", "non_response", "insufficient_response")


@dataclass(frozen=True, slots=True)
class Measure:
    """What to measure on a run's outputs: a kind of :data:`MEASURES` and its parameters."""

    kind: str
    params: Mapping[str, Any]


def _where(outputs: CohortOutputs, params: Mapping[str, Any]) -> list[PatientRow]:
    """The patients that match the measure's optional ``where`` equalities."""
    conditions = params.get("where") or {}
    return [
        p
        for p in outputs.patients
        if all(str(getattr(p, k, p.extra.get(k, ""))) == str(v) for k, v in conditions.items())
    ]


def _observed_for(p: PatientRow, event_day: float | None, window_end: float) -> bool:
    """Whether the patient's status at ``window_end`` is known (event, death or followed)."""
    return event_day is not None or p.death_day is not None or p.followup_days >= window_end


def _proportion_by_day(outputs: CohortOutputs, params: Mapping[str, Any]) -> tuple[float, int]:
    column, day = str(params["column"]), float(params["day"])
    before = params.get("before")
    hits = n = 0
    for p in _where(outputs, params):
        value = getattr(p, column)
        happened = value if value is not None and value <= day else None
        if happened is not None and before is not None:
            limit = getattr(p, str(before))
            if limit is not None and limit <= happened:
                happened = None  # e.g. a response reached only after switching to second line
        if not _observed_for(p, happened, day):
            continue  # left follow-up alive before the day without the event: unknown
        n += 1
        hits += happened is not None
    return (hits / n if n else math.nan), n


def _enters_within(outputs: CohortOutputs, params: Mapping[str, Any]) -> tuple[float, int]:
    states, days = set(params["states"]), float(params["days"])
    only = params.get("second_line_reason")
    patients = _where(outputs, params)
    by_patient = outputs.events_by_patient() if only else {}
    hits = n = 0
    for p, course in zip(patients, care_courses(patients, outputs.events), strict=True):
        first = next(
            (
                d
                for d, s in zip(course.days, course.states, strict=True)
                if s in states
                and (
                    s != "second_line"
                    or not only
                    or _second_line_reason(by_patient.get(p.patient_id, []), d) == only
                )
            ),
            None,
        )
        happened = first if first is not None and first <= days else None
        if not _observed_for(p, happened, days):
            continue
        n += 1
        hits += happened is not None
    return (hits / n if n else math.nan), n


def _labs(event: EventRow) -> dict[str, float]:
    """The values of a ``labs`` finding (``alt_xuln=1.2;ast_xuln=0.9;...``)."""
    out: dict[str, float] = {}
    for item in event.detail.split(";"):
        key, _, value = item.partition("=")
        with contextlib.suppress(ValueError):
            out[key] = float(value)
    return out


def _transaminases_normal(event: EventRow, with_igg: bool = False) -> bool:
    """ALT and AST <= ULN on a labs finding (and, ``with_igg``, IgG too)."""
    labs = _labs(event)
    alt, ast, igg = labs.get("alt_xuln"), labs.get("ast_xuln"), labs.get("igg_xuln")
    if with_igg and (igg is None or igg > 1.0):
        return False
    return alt is not None and alt <= 1.0 and (ast is None or ast <= 1.0)


def _normal_transaminases(outputs: CohortOutputs, params: Mapping[str, Any]) -> tuple[float, int]:
    """Share of treated patients with ALT and AST <= ULN (IgG too with ``with_igg: true``).

    ``mode: at``: on the last panel of the ``window`` days up to ``day`` (a response at that
    time point); ``mode: any``: on any panel after the treatment start up to ``day``. With
    ``before``, only panels up to that column's day count (the first-line regimen); with
    ``until_actions``, only panels up to the day of the first of those actions (e.g.
    ``optimise_treatment``, which replaces budesonide by predniso(lo)ne).
    """
    day, mode = float(params["day"]), str(params["mode"])
    window = float(params.get("window", 45))
    before = params.get("before")
    until = frozenset(params.get("until_actions") or ())
    with_igg = bool(params.get("with_igg", False))
    by_patient = outputs.events_by_patient()
    hits = n = 0
    for p in _where(outputs, params):
        if p.first_line == "none":
            continue  # the studies enrolled treated patients
        limit = day
        if before is not None and getattr(p, str(before)) is not None:
            limit = min(limit, float(getattr(p, str(before))))
        events = by_patient.get(p.patient_id, [])
        if until:
            ended = next((e.day for e in events if e.kind == "action" and e.name in until), None)
            limit = min(limit, ended) if ended is not None else limit
        panels = [
            e for e in events if e.kind == "finding" and e.name == "labs" and 0 < e.day <= limit
        ]
        if mode == "at":
            recent = [e for e in panels if e.day > day - window]
            happened = bool(recent) and _transaminases_normal(recent[-1], with_igg)
        else:
            happened = any(_transaminases_normal(e, with_igg) for e in panels)
        if not happened and p.death_day is None and p.followup_days < day:
            continue  # left follow-up before the time point: unknown
        n += 1
        hits += happened
    return (hits / n if n else math.nan), n


def _cumulative_incidence(outputs: CohortOutputs, params: Mapping[str, Any]) -> tuple[float, int]:
    subset = CohortOutputs(_where(outputs, params), outputs.events, outputs.summary)
    tte = _ENDPOINTS[str(params["endpoint"])](subset)
    if tte.n == 0:
        return math.nan, 0
    curve = kaplan_meier(tte.durations, tte.observed)
    return curve.cumulative_incidence_at(float(params["day"])), tte.n


def _switch_reason(events: Sequence[EventRow], day: float) -> str:
    """Why the patient switched to second line on ``day``, as the chart recorded it:
    ``failure`` when the switch names the failed-response rule (a response judged failed,
    even if an intolerance arrived at the same time), else ``intolerance`` (intolerance or
    cytopenia, also a switch made once the counts recovered weeks after a cytopenia)."""
    for e in events:
        if e.day == day and e.name in _SWITCH_DRUGS and _FAILED_RESPONSE_RULE in e.rule_ids:
            return "failure"
    return "intolerance"


def _second_line_reason(events: Sequence[EventRow], day: float) -> str:
    """Why the patient entered second line on ``day``: ``intolerance`` (the switch names no
    failed-response rule, :func:`_switch_reason`), ``non_response`` (failure before the
    first line's 6-month assessment) or ``insufficient_response`` (failure at or after it)."""
    if _switch_reason(events, day) == "intolerance":
        return "intolerance"
    start = next(
        (e.day for e in events if e.kind == "action" and e.name in _FIRST_LINE_STARTS), 0.0
    )
    return "non_response" if day < start + _MONTH6_DAYS else "insufficient_response"


def _second_line_response(outputs: CohortOutputs, params: Mapping[str, Any]) -> tuple[float, int]:
    drug, reason = str(params["drug"]), str(params["reason"])
    within = float(params["within_days"])
    by_patient = outputs.events_by_patient()
    hits = n = 0
    for p in _where(outputs, params):
        events = by_patient.get(p.patient_id, [])
        switch = next(
            (
                e
                for e in events
                if e.kind == "transition"
                and e.source != e.target
                and CARE_GROUP.get(e.target) == "second_line"
            ),
            None,
        )
        if switch is None or _SWITCH_DRUGS.get(switch.name) != drug:
            continue
        if _switch_reason(events, switch.day) != reason:
            continue
        leave = next(
            (
                e
                for e in events
                if e.kind == "transition"
                and e.day >= switch.day
                and e is not switch
                and CARE_GROUP.get(e.source) == "second_line"
                and e.target != e.source
            ),
            None,
        )
        responded = (
            leave is not None
            and CARE_GROUP.get(leave.target) == "maintenance"
            and leave.day - switch.day <= within
        )
        end = switch.day + within
        if not responded and p.death_day is None and p.followup_days < end:
            continue  # switched too close to the horizon to know
        n += 1
        hits += responded
    return (hits / n if n else math.nan), n


def _liver_death_duration(p: PatientRow) -> Duration:
    """Days from diagnosis to a liver-related death (liver failure or HCC); other deaths censor."""
    liver = p.death_day if p.death_cause in LIVER_CAUSES else None
    end = min(p.followup_days, p.death_day if p.death_day is not None else math.inf)
    if liver is not None and liver <= p.followup_days:
        return liver, True
    return end, False


def _tte(rows: Sequence[tuple[str, float, bool]]) -> TimeToEvent:
    return TimeToEvent(
        tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows)
    )


def _liver_death(patients: Sequence[PatientRow]) -> TimeToEvent:
    return _tte([(p.patient_id, *_liver_death_duration(p)) for p in patients])


def _extra_day(p: PatientRow, column: str) -> float | None:
    raw = p.extra.get(column, "")
    return float(raw) if raw not in ("", None) else None


def _hcc(patients: Sequence[PatientRow]) -> TimeToEvent:
    """Days from diagnosis to hepatocellular carcinoma (``hcc_day``); death censors."""
    rows = []
    for p in patients:
        day = _extra_day(p, "hcc_day")
        end = p.death_day if p.death_day is not None else p.followup_days
        rows.append((p.patient_id, *((day, True) if day is not None else (end, False))))
    return _tte(rows)


def _death_after_transplant(patients: Sequence[PatientRow]) -> TimeToEvent:
    """Days from the (first) transplant to death from any cause, transplanted patients only."""
    rows = []
    for p in patients:
        if p.transplant_day is None:
            continue
        if p.death_day is not None:
            rows.append((p.patient_id, p.death_day - p.transplant_day, True))
        else:
            rows.append((p.patient_id, p.followup_days - p.transplant_day, False))
    return _tte(rows)


def _drug_stopped(outputs: CohortOutputs, params: Mapping[str, Any]) -> tuple[float, int]:
    """Among patients who started ``drug``, the share who stopped it for intolerance (or,
    for an antimetabolite, severe cytopenia) within ``days`` of the start."""
    drug, days = str(params["drug"]), float(params["days"])
    starts = {f"add_{drug}", f"start_{drug}"}
    by_patient = outputs.events_by_patient()
    hits = n = 0
    for p in _where(outputs, params):
        events = by_patient.get(p.patient_id, [])
        start = next((e.day for e in events if e.kind == "action" and e.name in starts), None)
        if start is None:
            continue
        stopped = any(
            e.kind == "finding"
            and start <= e.day <= start + days
            and (
                (e.name == "intolerance" and e.detail == drug)
                or (e.name == "cytopenia" and drug in _ANTIMETABOLITES)
            )
            for e in events
        )
        if not stopped and p.death_day is None and p.followup_days < start + days:
            continue  # left follow-up before the year was out
        n += 1
        hits += stopped
    return (hits / n if n else math.nan), n


def _check_drug_stopped(params: Mapping[str, Any]) -> str:
    if params.get("drug") not in (*_ANTIMETABOLITES, "tacrolimus"):
        return f"'drug' must be one of {[*_ANTIMETABOLITES, 'tacrolimus']}"
    return _positive(params, "days")


def _check_proportion(params: Mapping[str, Any]) -> str:
    for name in ("column", "before"):
        if (name == "column" or name in params) and params.get(name) not in DAY_COLUMNS:
            return f"{name!r} must be one of {list(DAY_COLUMNS)} (got {params.get(name)!r})"
    return _positive(params, "day")


def _check_enters(params: Mapping[str, Any]) -> str:
    states = params.get("states")
    if not isinstance(states, list) or not states or set(states) - set(CARE_ORDER):
        return f"'states' must be a list of care states {list(CARE_ORDER)} (got {states!r})"
    reason = params.get("second_line_reason")
    if reason is not None and reason not in _SECOND_LINE_REASONS:
        return f"'second_line_reason' must be one of {list(_SECOND_LINE_REASONS)}"
    return _positive(params, "days")


def _check_transaminases(params: Mapping[str, Any]) -> str:
    if params.get("mode") not in ("at", "any"):
        return f"'mode' must be 'at' or 'any' (got {params.get('mode')!r})"
    if "before" in params and params["before"] not in DAY_COLUMNS:
        return f"'before' must be one of {list(DAY_COLUMNS)} (got {params['before']!r})"
    if "window" in params and (problem := _positive(params, "window")):
        return problem
    if params.get("with_igg", False) not in (True, False):
        return f"'with_igg' must be true or false (got {params['with_igg']!r})"
    until = params.get("until_actions")
    if until is not None and (
        not isinstance(until, list) or not until or set(until) - set(ACTIONS)
    ):
        return f"'until_actions' must be a list of actions {list(ACTIONS)} (got {until!r})"
    return _positive(params, "day")


def _check_incidence(params: Mapping[str, Any]) -> str:
    if params.get("endpoint") not in _ENDPOINTS:
        return f"'endpoint' must be one of {sorted(_ENDPOINTS)} (got {params.get('endpoint')!r})"
    return _positive(params, "day")


def _check_second_line(params: Mapping[str, Any]) -> str:
    if params.get("drug") not in _SWITCH_DRUGS.values():
        return f"'drug' must be one of {sorted(_SWITCH_DRUGS.values())}"
    if params.get("reason") not in ("intolerance", "failure"):
        return "'reason' must be 'intolerance' or 'failure'"
    return _positive(params, "within_days")


def _positive(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, int | float) or value <= 0:
        return f"{name!r} must be a number > 0 (got {value!r})"
    return ""


MeasureFn = Callable[[CohortOutputs, Mapping[str, Any]], tuple[float, int]]

#: Measure kinds: function of (outputs, params) -> (value, denominator); NaN when n = 0.
MEASURES: dict[str, MeasureFn] = {
    "proportion_by_day": _proportion_by_day,
    "enters_within": _enters_within,
    "normal_transaminases": _normal_transaminases,
    "cumulative_incidence": _cumulative_incidence,
    "second_line_response": _second_line_response,
    "drug_stopped_within": _drug_stopped,
}

_Check = Callable[[Mapping[str, Any]], str]
#: Measure kind -> (required parameters, optional parameters, check returning a problem).
MEASURE_PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...], _Check]] = {
    "proportion_by_day": (("column", "day"), ("before",), _check_proportion),
    "enters_within": (("states", "days"), ("second_line_reason",), _check_enters),
    "normal_transaminases": (
        ("mode", "day"),
        ("window", "before", "until_actions", "with_igg"),
        _check_transaminases,
    ),
    "cumulative_incidence": (("endpoint", "day"), (), _check_incidence),
    "second_line_response": (("drug", "reason", "within_days"), (), _check_second_line),
    "drug_stopped_within": (("drug", "days"), (), _check_drug_stopped),
}


def measure(target: Target, outputs: CohortOutputs) -> tuple[float | None, int]:
    """The target's quantity on a run's outputs: (value or ``None`` if no patient, n)."""
    value, n = MEASURES[target.measure.kind](outputs, target.measure.params)
    return (None if n == 0 or math.isnan(value) else value), n
