"""Calibration: does the simulated cohort reproduce published figures?

Each target (``simulation/data/calibration_targets.yaml``) is a sub-cohort, a clinician
policy, a follow-up horizon and a measured quantity, compared with a figure from the
clinical knowledge base (section 4) and its 95% interval. Targets are data: a target runs
through the same cohort engine as ``carechart simulate`` (:func:`simulation.run.cohort.run_cohort`
writing the standard output files), and its quantity is measured on those files with the
same readers the report uses. Targets sharing cohort, policy and horizon share one run; every
run uses the same seed, so the arms of a trial are simulated on the same virtual patients.

``carechart calibrate`` prints the table, ``--out FILE`` saves the result as JSON (the
report shows it), and ``--markdown FILE`` writes the page ``docs/calibration.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import math
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from pathway.atomic import write_atomic
from pathway.guidelines.aih.sources import SOURCES
from pathway.guidelines.aih.thresholds import Thresholds

from ..input_files import InputFileError, compose_yaml, parse_json, read_input_file
from ..model.parameters import load_parameters
from ..run.output_folder import temporary_folder
from .cohort_outputs import DAY_COLUMNS, CohortOutputs, EventRow, PatientRow, load_outputs
from .endpoints import (
    Duration,
    TimeToEvent,
    overall_survival,
    recurrence_after_transplant,
    relapse_after_withdrawal,
    time_to_cbr,
    transplant_free_survival,
)
from .outputs import check_output_file
from .survival import kaplan_meier
from .trajectories import CARE_GROUP, CARE_ORDER, care_courses

__all__ = [
    "DEFAULT_TARGETS",
    "MEASURES",
    "CalibrationError",
    "CalibrationResult",
    "Measure",
    "Published",
    "Target",
    "TargetResult",
    "add_command",
    "load_result",
    "load_targets",
    "measure",
    "render_markdown",
    "render_text",
    "run_calibration",
    "wilson_interval",
]

#: The target file shipped with the package (in ``simulation/data``).
DEFAULT_TARGETS = "calibration_targets.yaml"
DEFAULT_PATIENTS = 2000
DEFAULT_SEED = 20250101
_Z95 = 1.959963984540054

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
#: The two groups of targets: parameters measured back, and figures the model was not fitted to.
GROUPS = ("input", "validation")
_GROUP_TITLES = {
    "input": "Inputs measured back",
    "validation": "Validation (figures the model was not fitted to)",
}
_ANTIMETABOLITES = ("azathioprine", "mycophenolate")
_SWITCH_DRUGS = {"switch_to_mycophenolate": "mycophenolate", "switch_to_tacrolimus": "tacrolimus"}
#: Findings that make a switch to second line an "intolerance" switch when they precede it.
_INTOLERANCE_FINDINGS = ("intolerance", "cytopenia")
_INTOLERANCE_WINDOW_DAYS = 30.0
_FIRST_LINE_STARTS = ("start_prednisolone", "start_budesonide")
#: The pathway's 6-month assessment (IAIHG 2022 insufficient response), in days.
_MONTH6_DAYS = Thresholds().cbr_assessment_days
_SECOND_LINE_REASONS = ("intolerance", "non_response", "insufficient_response")


class CalibrationError(ValueError):
    """A calibration target file or result file is invalid (names the file and the field)."""


# --- targets ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Published:
    """A published proportion and its 95% interval.

    Attributes:
        value: The published proportion (0-1).
        low: Lower bound of the 95% interval.
        high: Upper bound of the 95% interval.
        derived: True when the interval was derived here from ``n`` (binomial, Wilson)
            rather than published.
        n: The denominator used to derive the interval, when derived.
        n_note: What that denominator is, when it is not the target's own group.
    """

    value: float
    low: float
    high: float
    derived: bool
    n: int | None = None
    n_note: str = ""

    def range_text(self) -> str:
        """``77.0–87.0%``."""
        return f"{100 * self.low:.1f}–{100 * self.high:.1f}%"

    def basis_text(self) -> str:
        """Where the interval comes from: published, or derived from which n."""
        if not self.derived:
            return "95% CI, published"
        return f"binomial (Wilson) from n = {self.n}, derived"

    def interval_text(self) -> str:
        """``77–87% (95% CI, published)`` or ``50–69% (binomial 95%, n = 100, derived)``."""
        span = f"{100 * self.low:.1f}–{100 * self.high:.1f}%"
        if not self.derived:
            return f"{span} (95% CI, published)"
        return f"{span} (binomial 95% Wilson interval from n = {self.n}, derived)"


@dataclass(frozen=True, slots=True)
class Measure:
    """What to measure on a run's outputs: a kind of :data:`MEASURES` and its parameters."""

    kind: str
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    """One calibration target: sub-cohort, policy, horizon, measure and published figure.

    ``overrides`` are ``--set`` style dotted names and values applied to the default cohort
    and parameters (for example ``cohort.presentation.acute_severe: 1.0``).
    """

    id: str
    source: str
    study: str
    quantity: str
    arm: str
    population: str
    overrides: Mapping[str, Any]
    policy: str | Mapping[str, Any]
    years: float
    measure: Measure
    published: Published
    note: str = ""
    group: str = "input"

    @property
    def policy_name(self) -> str:
        """The policy's name (a named strategy, or the ``name`` of an inline one)."""
        if isinstance(self.policy, str):
            return self.policy
        return str(self.policy["name"])

    def run_key(self) -> str:
        """Targets with equal keys share one simulated run."""
        return json.dumps(
            {"set": self.overrides, "policy": self.policy, "years": self.years}, sort_keys=True
        )


def wilson_interval(successes: float, n: int) -> tuple[float, float]:
    """Binomial 95% Wilson score interval for ``successes`` out of ``n``.

    Args:
        successes: Number of successes (may be fractional when derived from a percentage).
        n: Number of trials (> 0).

    Returns:
        (low, high), both within [0, 1].

    Raises:
        ValueError: If ``n`` is not positive or ``successes`` is outside [0, n].

    >>> [round(x, 3) for x in wilson_interval(60, 100)]
    [0.502, 0.691]
    """
    if n <= 0:
        raise ValueError(f"'n' must be > 0 (got {n!r})")
    if not 0 <= successes <= n:
        raise ValueError(f"'successes' must be within [0, {n}] (got {successes!r})")
    p = successes / n
    z2 = _Z95 * _Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def load_targets(path: Path | None = None) -> tuple[Target, ...]:
    """Read and check the calibration targets.

    Args:
        path: A target file; by default the one shipped in ``simulation/data``.

    Returns:
        The targets, in file order.

    Raises:
        CalibrationError: If the file breaks the format (unknown measure, source id not in
            the knowledge base, interval that does not contain the value, duplicate id...).
    """
    if path is None:
        text = resources.files("simulation").joinpath("data", DEFAULT_TARGETS).read_text("utf-8")
        where = f"simulation/data/{DEFAULT_TARGETS}"
    else:
        text = read_input_file(path)
        where = str(path)
    try:
        root = compose_yaml(text, where)  # duplicate keys, depth, aliases: see input_files
    except InputFileError as exc:
        raise CalibrationError(str(exc)) from None
    data = None if root is None else root.plain()
    if not isinstance(data, dict) or data.get("schema") != 1:
        raise CalibrationError(f"{where}: expected a mapping with 'schema: 1' and 'targets'")
    raw_targets = data.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise CalibrationError(f"{where}: 'targets' must be a non-empty list")
    targets: list[Target] = []
    seen: set[str] = set()
    assert root is not None
    items = root.value["targets"][1].value  # the targets with their positions
    for i, raw in enumerate(raw_targets):
        at = f"{where}:{items[i].line}"
        target = _parse_target(raw, f"{at}: target #{i + 1}")
        if target.id in seen:
            raise CalibrationError(f"{at}: target id {target.id!r} appears more than once")
        seen.add(target.id)
        targets.append(target)
    return tuple(targets)


_REQUIRED = (
    "id",
    "source",
    "study",
    "quantity",
    "arm",
    "population",
    "set",
    "policy",
    "years",
    "measure",
    "published",
)
_OPTIONAL = ("note", "n_note", "group")


def _parse_target(raw: Any, where: str) -> Target:
    if not isinstance(raw, dict):
        raise CalibrationError(f"{where}: expected a mapping (got {type(raw).__name__})")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise CalibrationError(f"{where}: missing fields {missing}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CalibrationError(f"{where}: unknown fields {unknown}")
    where = f"{where} ({raw['id']})"
    source = str(raw["source"])
    if source not in SOURCES:
        raise CalibrationError(
            f"{where}: source {source!r} is not in the knowledge base "
            "(pathway.guidelines.aih.sources)"
        )
    if not isinstance(raw["set"], dict) or not all(isinstance(k, str) for k in raw["set"]):
        raise CalibrationError(f"{where}: 'set' must map dotted names to values")
    policy = raw["policy"]
    if isinstance(policy, dict):
        if "name" not in policy or set(policy) - {"name", "description", "prefer", "avoid"}:
            raise CalibrationError(
                f"{where}: an inline policy needs 'name' and may have 'description', "
                f"'prefer', 'avoid' (got {sorted(policy)})"
            )
    elif not isinstance(policy, str):
        raise CalibrationError(f"{where}: 'policy' must be a name or a mapping")
    years = raw["years"]
    if not isinstance(years, int | float) or years <= 0:
        raise CalibrationError(f"{where}: 'years' must be > 0 (got {years!r})")
    measure = _parse_measure(raw["measure"], where)
    published = _parse_published(raw["published"], raw.get("n_note", ""), where)
    group = str(raw.get("group", "input"))
    if group not in GROUPS:
        raise CalibrationError(f"{where}: 'group' must be one of {list(GROUPS)} (got {group!r})")
    return Target(
        id=str(raw["id"]),
        source=source,
        study=str(raw["study"]),
        quantity=str(raw["quantity"]),
        arm=str(raw["arm"]),
        population=str(raw["population"]),
        overrides={k: raw["set"][k] for k in sorted(raw["set"])},
        policy=policy,
        years=float(years),
        measure=measure,
        published=published,
        note=str(raw.get("note", "")),
        group=group,
    )


def _parse_measure(raw: Any, where: str) -> Measure:
    if not isinstance(raw, dict) or "kind" not in raw:
        raise CalibrationError(f"{where}: 'measure' must be a mapping with a 'kind'")
    kind = str(raw["kind"])
    if kind not in MEASURES:
        raise CalibrationError(
            f"{where}: unknown measure kind {kind!r}; expected one of {sorted(MEASURES)}"
        )
    params = {k: v for k, v in raw.items() if k != "kind"}
    required, optional, check = _MEASURE_PARAMS[kind]
    missing = [p for p in required if p not in params]
    extra = sorted(set(params) - set(required) - set(optional) - {"where"})
    if missing or extra:
        raise CalibrationError(
            f"{where}: measure {kind!r} takes {list(required)} (optional: "
            f"{[*optional, 'where']}); missing {missing}, unknown {extra}"
        )
    problem = check(params)
    if problem:
        raise CalibrationError(f"{where}: measure {kind!r}: {problem}")
    return Measure(kind, params)


def _parse_published(raw: Any, n_note: Any, where: str) -> Published:
    if not isinstance(raw, dict) or "value" not in raw:
        raise CalibrationError(f"{where}: 'published' must be a mapping with a 'value'")
    value = float(raw["value"])
    if not 0 <= value <= 1:
        raise CalibrationError(f"{where}: published value must be a proportion (got {value})")
    if "low" in raw or "high" in raw:
        low, high = float(raw["low"]), float(raw["high"])
        if not low <= value <= high:
            raise CalibrationError(
                f"{where}: published interval {low}-{high} does not contain {value}"
            )
        return Published(value, low, high, derived=False, n_note=str(n_note))
    if "n" not in raw:
        raise CalibrationError(f"{where}: 'published' needs 'low' and 'high' or 'n'")
    n = int(raw["n"])
    successes = float(raw.get("events", value * n))
    low, high = wilson_interval(successes, n)
    return Published(value, low, high, derived=True, n=n, n_note=str(n_note))


# --- measures --------------------------------------------------------------------------------


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


def _transaminases_normal(event: EventRow) -> bool:
    labs = _labs(event)
    alt, ast = labs.get("alt_xuln"), labs.get("ast_xuln")
    return alt is not None and alt <= 1.0 and (ast is None or ast <= 1.0)


def _normal_transaminases(outputs: CohortOutputs, params: Mapping[str, Any]) -> tuple[float, int]:
    """Share of treated patients with ALT and AST <= ULN (IgG not required).

    ``mode: at``: on the last panel of the ``window`` days up to ``day`` (a response at that
    time point); ``mode: any``: on any panel after the treatment start up to ``day``. With
    ``before``, only panels up to that column's day count (the first-line regimen).
    """
    day, mode = float(params["day"]), str(params["mode"])
    window = float(params.get("window", 45))
    before = params.get("before")
    by_patient = outputs.events_by_patient()
    hits = n = 0
    for p in _where(outputs, params):
        if p.first_line == "none":
            continue  # the studies enrolled treated patients
        limit = day
        if before is not None and getattr(p, str(before)) is not None:
            limit = min(limit, float(getattr(p, str(before))))
        panels = [
            e
            for e in by_patient.get(p.patient_id, [])
            if e.kind == "finding" and e.name == "labs" and 0 < e.day <= limit
        ]
        if mode == "at":
            recent = [e for e in panels if e.day > day - window]
            happened = bool(recent) and _transaminases_normal(recent[-1])
        else:
            happened = any(_transaminases_normal(e) for e in panels)
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
    for e in events:
        if (
            e.kind == "finding"
            and e.name in _INTOLERANCE_FINDINGS
            and day - _INTOLERANCE_WINDOW_DAYS <= e.day <= day
        ):
            return "intolerance"
    return "failure"


def _second_line_reason(events: Sequence[EventRow], day: float) -> str:
    """Why the patient entered second line on ``day``: ``intolerance`` (a finding of it in
    the month before), ``non_response`` (failure before the first line's 6-month
    assessment) or ``insufficient_response`` (failure at or after it)."""
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
_MEASURE_PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...], _Check]] = {
    "proportion_by_day": (("column", "day"), ("before",), _check_proportion),
    "enters_within": (("states", "days"), ("second_line_reason",), _check_enters),
    "normal_transaminases": (("mode", "day"), ("window", "before"), _check_transaminases),
    "cumulative_incidence": (("endpoint", "day"), (), _check_incidence),
    "second_line_response": (("drug", "reason", "within_days"), (), _check_second_line),
    "drug_stopped_within": (("drug", "days"), (), _check_drug_stopped),
}


def measure(target: Target, outputs: CohortOutputs) -> tuple[float | None, int]:
    """The target's quantity on a run's outputs: (value or ``None`` if no patient, n)."""
    value, n = MEASURES[target.measure.kind](outputs, target.measure.params)
    return (None if n == 0 or math.isnan(value) else value), n


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetResult:
    """A target with its simulated value (``None``: no eligible patient) and verdict."""

    target: Target
    simulated: float | None
    n: int

    @property
    def passed(self) -> bool | None:
        """Inside the published interval; ``None`` when nothing could be measured."""
        if self.simulated is None:
            return None
        pub = self.target.published
        return pub.low <= self.simulated <= pub.high


@dataclass(frozen=True)
class CalibrationResult:
    """All targets' results and how they were produced."""

    results: tuple[TargetResult, ...]
    patients: int
    seed: int
    command: str
    generated: str
    version: str
    runs: int = 0
    seconds: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def counts(self, group: str | None = None) -> tuple[int, int]:
        """(targets inside their interval, targets with a measured value), in ``group``."""
        judged = [
            r
            for r in self.results
            if r.passed is not None and (group is None or r.target.group == group)
        ]
        return sum(1 for r in judged if r.passed), len(judged)

    def summary_lines(self) -> list[str]:
        """One line per group of targets: how many fall inside their interval."""
        out = []
        for group in GROUPS:
            passed, judged = self.counts(group)
            if judged:
                out.append(f"{_GROUP_TITLES[group]}: {passed} of {judged} inside the interval.")
        return out

    def facts(self) -> dict[str, str]:
        """How the result was produced, for display."""
        return {
            "Command": self.command,
            "Patients per run": str(self.patients),
            "Seed": str(self.seed),
            "Generated": self.generated,
            "carechart": self.version,
        }

    def display_rows(self) -> list[Any]:
        """Rows for the report's calibration table."""
        from .report.page import CalibrationRow  # late: the report imports this module

        return [
            CalibrationRow(
                source=r.target.source,
                study=r.target.study,
                quantity=f"{r.target.quantity} ({r.target.arm})",
                population=r.target.population,
                simulated=_sim_text(r),
                published=f"{100 * r.target.published.value:.1f}%",
                interval=r.target.published.range_text(),
                interval_basis=r.target.published.basis_text(),
                passed=r.passed,
            )
            for r in self.results
        ]

    def notes(self) -> list[str]:
        """One line per target with caveats (definitions, assumptions, denominators)."""
        out = []
        for r in self.results:
            parts = [x.rstrip(".") + "." for x in (r.target.note, r.target.published.n_note) if x]
            if parts:
                out.append(f"{r.target.id}: {' '.join(parts)}")
        return out

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready mapping (the ``--out`` file)."""
        return {
            "schema": 1,
            "kind": "carechart-calibration",
            "command": self.command,
            "generated": self.generated,
            "version": self.version,
            "patients": self.patients,
            "seed": self.seed,
            "runs": self.runs,
            "seconds": round(self.seconds, 1),
            "targets": [
                {
                    **_target_json(r.target),
                    "simulated": r.simulated,
                    "n": r.n,
                    "passed": r.passed,
                }
                for r in self.results
            ],
        }


def _target_json(t: Target) -> dict[str, Any]:
    pub = t.published
    return {
        "id": t.id,
        "source": t.source,
        "study": t.study,
        "quantity": t.quantity,
        "arm": t.arm,
        "population": t.population,
        "set": dict(t.overrides),
        "policy": t.policy if isinstance(t.policy, str) else dict(t.policy),
        "years": t.years,
        "measure": {"kind": t.measure.kind, **t.measure.params},
        "published": {
            "value": pub.value,
            "low": pub.low,
            "high": pub.high,
            "derived": pub.derived,
            "n": pub.n,
            "n_note": pub.n_note,
            "interval": pub.interval_text(),
        },
        "note": t.note,
        "group": t.group,
    }


def _target_from_json(d: Mapping[str, Any]) -> Target:
    pub = d["published"]
    measure_raw = dict(d["measure"])
    kind = str(measure_raw.pop("kind"))
    if kind not in MEASURES:
        raise ValueError(f"unknown measure kind {kind!r}")
    return Target(
        id=str(d["id"]),
        source=str(d["source"]),
        study=str(d["study"]),
        quantity=str(d["quantity"]),
        arm=str(d["arm"]),
        population=str(d["population"]),
        overrides=dict(d["set"]),
        policy=d["policy"] if isinstance(d["policy"], str) else dict(d["policy"]),
        years=float(d["years"]),
        measure=Measure(kind, measure_raw),
        published=Published(
            value=float(pub["value"]),
            low=float(pub["low"]),
            high=float(pub["high"]),
            derived=bool(pub["derived"]),
            n=None if pub["n"] is None else int(pub["n"]),
            n_note=str(pub.get("n_note", "")),
        ),
        note=str(d.get("note", "")),
        group=str(d.get("group", "input")),
    )


def _sim_text(r: TargetResult) -> str:
    if r.simulated is None:
        return f"no eligible patients (n={r.n})"
    return f"{100 * r.simulated:.1f}% (n={r.n})"


Simulate = Callable[[Target, int, int, Path], CohortOutputs]
"""Runs one target's cohort: (target, patients, seed, out_dir) -> outputs."""


def run_calibration(
    targets: Sequence[Target],
    *,
    patients: int = DEFAULT_PATIENTS,
    seed: int = DEFAULT_SEED,
    workers: int = 1,
    command: str = "",
    simulate: Simulate | None = None,
    progress: TextIO | None = None,
) -> CalibrationResult:
    """Simulate every target's sub-cohort and measure its quantity.

    Args:
        targets: Targets to run (see :func:`load_targets`).
        patients: Patients per simulated run.
        seed: Seed of every run (the arms of a study share their virtual patients).
        workers: Worker processes per run.
        command: The command line to record in the result.
        simulate: Replaces the cohort engine (tests); default
            :func:`simulation.run.cohort.run_cohort`.
        progress: Where to print one line per run (for example ``sys.stderr``).

    Returns:
        The results, in the order of ``targets``.

    Raises:
        ValueError: If ``patients`` is not positive.
    """
    if patients <= 0:
        raise ValueError(f"'patients' must be > 0 (got {patients!r})")
    run = simulate or _engine(workers)
    groups: dict[str, list[Target]] = {}
    for t in targets:
        groups.setdefault(t.run_key(), []).append(t)
    measured: dict[str, TargetResult] = {}
    started = time.perf_counter()
    for i, members in enumerate(groups.values(), start=1):
        first = members[0]
        tick = time.perf_counter()
        # Removed on a stopping signal too, and by a later run if this process is killed.
        with temporary_folder("carechart-calibration") as tmp:
            outputs = run(first, patients, seed, tmp)
        for t in members:
            value, n = measure(t, outputs)
            measured[t.id] = TargetResult(t, value, n)
        if progress is not None:
            ids = ", ".join(t.id for t in members)
            print(
                f"run {i}/{len(groups)}: policy {first.policy_name}, {first.years:g} years, "
                f"{patients} patients ({time.perf_counter() - tick:.0f} s): {ids}",
                file=progress,
                flush=True,
            )
    return CalibrationResult(
        results=tuple(measured[t.id] for t in targets),
        patients=patients,
        seed=seed,
        command=command,
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=_version(),
        runs=len(groups),
        seconds=time.perf_counter() - started,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("carechart")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _engine(workers: int) -> Simulate:
    """The real cohort engine (``carechart simulate``'s), as a :data:`Simulate` function."""

    def simulate(target: Target, patients: int, seed: int, out_dir: Path) -> CohortOutputs:
        # Late imports: the engine is heavy, and the report imports this module.
        from ..run import cohort as engine
        from .outputs import summary_json

        sets = override_strings(target)
        cohort, parameters, thresholds = engine.apply_overrides(
            engine.load_cohort(), load_parameters(), sets
        )
        with _registered(target) as policy:
            result = engine.run_cohort(
                cohort,
                parameters=parameters,
                thresholds=thresholds,
                patients=patients,
                years=target.years,
                seed=seed,
                policy=policy,
                workers=workers,
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "patients.csv").write_text(result.patients_csv(), encoding="utf-8")
        (out_dir / "events.csv").write_text(result.events_csv(), encoding="utf-8")
        (out_dir / "summary.json").write_text(summary_json(result.summary(sets)), encoding="utf-8")
        return load_outputs(out_dir)

    return simulate


def override_strings(target: Target) -> list[str]:
    """The target's overrides as ``KEY=VALUE`` strings, as ``carechart simulate --set``."""
    return [f"{k}={v}" for k, v in target.overrides.items()]


@contextlib.contextmanager
def _registered(target: Target) -> Iterator[str]:
    """The target's policy name; a strategy written as data is registered while it runs.

    The cohort engine takes strategies by name (:data:`simulation.model.policies.STRATEGIES`).
    Worker processes are forked inside the ``with`` block and inherit the registration.
    """
    from ..model.policies import STRATEGIES, Strategy

    if isinstance(target.policy, str):
        yield target.policy
        return
    p = target.policy
    strategy = Strategy(
        name=str(p["name"]),
        description=str(p.get("description", "")),
        prefer=tuple(p.get("prefer", ())),
        avoid=frozenset(p.get("avoid", ())),
    )
    existing = STRATEGIES.get(strategy.name)
    if existing is not None and existing != strategy:
        raise CalibrationError(
            f"target {target.id!r}: policy {strategy.name!r} differs from the named strategy "
            "of that name; rename it"
        )
    STRATEGIES[strategy.name] = strategy
    try:
        yield strategy.name
    finally:
        if existing is None:
            del STRATEGIES[strategy.name]


# --- results: files, text, Markdown -------------------------------------------------------


def save_result(result: CalibrationResult, path: Path) -> Path:
    """Write the result as JSON, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result.to_json(), indent=2) + "\n"
    write_atomic(path, text)
    return path


def load_result(path: Path) -> CalibrationResult:
    """Read a result written by :func:`save_result` (``carechart calibrate --out``).

    Raises:
        FileNotFoundError: If the file does not exist.
        CalibrationError: If it is not a calibration result.
    """
    path = Path(path)
    try:  # a missing file raises FileNotFoundError naming it
        data = parse_json(read_input_file(path), str(path))
    except InputFileError as exc:
        raise CalibrationError(str(exc)) from None
    if not isinstance(data, dict) or data.get("kind") != "carechart-calibration":
        raise CalibrationError(f"{path}: not a carechart calibration result")
    try:
        results = tuple(
            TargetResult(
                _target_from_json(row),
                None if row["simulated"] is None else float(row["simulated"]),
                int(row["n"]),
            )
            for row in data["targets"]
        )
        return CalibrationResult(
            results=results,
            patients=int(data["patients"]),
            seed=int(data["seed"]),
            command=str(data["command"]),
            generated=str(data["generated"]),
            version=str(data["version"]),
            runs=int(data.get("runs", 0)),
            seconds=float(data.get("seconds", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"{path}: malformed calibration result ({exc!r})") from exc


def render_text(result: CalibrationResult) -> str:
    """A plain-text table for the terminal."""
    header = ("target", "source", "simulated", "n", "published", "95% interval", "result")
    rows = [header]
    ordered = [r for g in GROUPS for r in result.results if r.target.group == g]
    for r in ordered:
        pub = r.target.published
        rows.append(
            (
                r.target.id,
                r.target.source,
                "-" if r.simulated is None else f"{100 * r.simulated:.1f}%",
                str(r.n),
                f"{100 * pub.value:.1f}%",
                f"{100 * pub.low:.1f}-{100 * pub.high:.1f}%"
                + (" (derived)" if pub.derived else ""),
                {True: "pass", False: "FAIL", None: "n/a"}[r.passed],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    passed, judged = result.counts()
    lines.insert(1, "  ".join("-" * w for w in widths))
    # A heading before each group's first row (rows follow GROUPS order).
    at = 2
    for group in GROUPS:
        members = sum(1 for r in ordered if r.target.group == group)
        if members:
            lines.insert(at, f"[{_GROUP_TITLES[group]}]")
            at += members + 1
    lines.append("")
    lines += result.summary_lines()
    lines.append(f"{passed} of {judged} targets inside the published interval.")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: CalibrationResult) -> str:
    """The page ``docs/calibration.md``: how it was made, the table, failures and notes."""
    passed, judged = result.counts()
    lines = [
        "# Calibration",
        "",
        "carechart is for research and education, not for treating patients. This page",
        "compares figures simulated by carechart's patient model and pathway with published",
        "figures from the clinical knowledge base (section 4). It is generated; do not edit",
        "it by hand.",
        "",
        f"- Command: `{result.command}`",
        f"- Seed: {result.seed}",
        f"- Patients per simulated run: {result.patients} ({result.runs} runs)",
        f"- Generated: {result.generated}, carechart {result.version}",
        "- Targets: `simulation/data/calibration_targets.yaml` (sub-cohort, policy, horizon,",
        "  measured quantity and published figure of each target)",
        "",
        f"**{passed} of {judged} targets fall inside the published 95% interval.**",
        "",
        "Targets come in two groups. *Inputs measured back* compare the model with figures",
        "its parameters were taken or fitted from: they check the plumbing, not the model.",
        "*Validation* targets are figures the model was not fitted to.",
    ]
    for group in GROUPS:
        members = [r for r in result.results if r.target.group == group]
        if not members:
            continue
        g_passed, g_judged = result.counts(group)
        lines += [
            "",
            f"## {_GROUP_TITLES[group]}",
            "",
            f"{g_passed} of {g_judged} inside the published interval.",
            "",
            "| Target | Source | Quantity | Arm | Simulated | n | Published "
            "| Published 95% interval | Result |",
            "|---|---|---|---|---:|---:|---:|---|---|",
        ]
        for r in members:
            t, pub = r.target, r.target.published
            sim = "–" if r.simulated is None else f"{100 * r.simulated:.1f}%"
            verdict = {True: "pass", False: "**fail**", None: "n/a"}[r.passed]
            lines.append(
                f"| {_md(t.id)} | {t.source} | {_md(t.quantity)} | {_md(t.arm)} | {sim} "
                f"| {r.n} | {100 * pub.value:.1f}% | {_md(pub.interval_text())} | {verdict} |"
            )
    failing = [r for r in result.results if r.passed is False]
    lines += ["", "## Targets outside the published interval", ""]
    if failing:
        for r in failing:
            assert r.simulated is not None
            side = "below" if r.simulated < r.target.published.low else "above"
            lines.append(
                f"- `{r.target.id}`: simulated {100 * r.simulated:.1f}% is {side} "
                f"{_md(r.target.published.interval_text())}."
            )
    else:
        lines.append("None.")
    lines += ["", "## Notes", ""]
    for line in result.notes():
        target_id, text = line.split(": ", 1)
        lines.append(f"- `{target_id}`: {_md(text)}")
    lines += [
        "",
        "Intervals marked *derived* are binomial 95% Wilson intervals computed from the",
        "study's n where the knowledge base gives no confidence interval. Time-to-event",
        "figures are Kaplan-Meier estimates on the simulated patients.",
        "",
    ]
    return "\n".join(lines)


# --- command line ----------------------------------------------------------------------------


def add_command(sub: Any) -> None:
    """Register ``carechart calibrate``."""
    p = sub.add_parser(
        "calibrate",
        help="compare simulated figures with published ones (knowledge base section 4)",
        description=(
            "Simulate each calibration target's sub-cohort and policy and compare the measured "
            "figure with the published one and its 95% interval."
        ),
    )
    p.add_argument(
        "--patients",
        type=int,
        default=DEFAULT_PATIENTS,
        metavar="N",
        help="patients per simulated run",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        metavar="S",
        help="seed of every run",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="W",
        help="worker processes per run (default: CPUs, at most 8); results do not depend on it",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="save the result as JSON (put it in a simulate output folder as "
        "calibration.json and the report shows it) (default: not saved)",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="write the calibration page, as in docs/calibration.md (default: not written)",
    )
    p.add_argument(
        "--targets",
        type=Path,
        metavar="FILE",
        help="a target file (default: the one shipped with carechart)",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="ID",
        help="run only this target (repeatable) (default: every target)",
    )
    p.add_argument("--list", action="store_true", help="list the targets and exit")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when a target falls outside its interval",
    )
    p.set_defaults(func=_main)


def _command_line(args: argparse.Namespace) -> str:
    parts = ["carechart", "calibrate", "--patients", str(args.patients), "--seed", str(args.seed)]
    if args.targets:
        parts += ["--targets", str(args.targets)]
    for t in args.target:
        parts += ["--target", t]
    if args.out:
        parts += ["--out", str(args.out)]
    if args.markdown:
        parts += ["--markdown", str(args.markdown)]
    return shlex.join(parts)


def _main(args: argparse.Namespace) -> int:
    from ..run.cohort import check_run_options, choose_workers

    check_run_options(args.patients, None, args.seed)
    workers = choose_workers(args.workers)
    for option, path in (("--out", args.out), ("--markdown", args.markdown)):
        if path is not None:
            check_output_file(option, path, make_parents=True)
    targets = load_targets(args.targets)
    if args.target:
        known = {t.id for t in targets}
        unknown = [t for t in args.target if t not in known]
        if unknown:
            raise ValueError(f"unknown target {unknown[0]!r}; expected one of {sorted(known)}")
        targets = tuple(t for t in targets if t.id in set(args.target))
    if args.list:
        for t in targets:
            print(f"{t.id:32} {t.source:13} {t.quantity} ({t.arm})")
        return 0
    result = run_calibration(
        targets,
        patients=args.patients,
        seed=args.seed,
        workers=workers,
        command=_command_line(args),
        progress=sys.stderr,
    )
    sys.stdout.write(render_text(result))
    if args.out:
        save_result(result, args.out)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.markdown, render_markdown(result))
    passed, judged = result.counts()
    return 1 if args.strict and passed < judged else 0
