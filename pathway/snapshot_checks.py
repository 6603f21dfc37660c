"""Validation of snapshot data: what :func:`pathway.snapshot.restore` refuses, and why.

A snapshot is checked whole before any chart is built, so that a restored chart is one the
pathway could have reached. Checked, in this order:

- **shape and types**: known keys only, each value of its declared type (no ``bool`` for a
  number, no string for a day);
- **configuration**, against the chart class's own structure (:class:`ChartModel`): at
  least one state, every state known, no state without its parent, one active child in an
  active compound state, every region of an active parallel state, one top-level state (so
  a final state such as ``death`` is alone); history memory names the chart's history
  states and their descendants only;
- **ranges**, the same ones the live API applies: labs within
  :data:`~pathway.guidelines.aih.patient.LAB_RANGES` (as :meth:`~pathway.AIHPathway.observe`),
  age, weight and categories as :class:`~pathway.PatientRecord`, thresholds as
  :meth:`~pathway.Thresholds.with_overrides`, options as :class:`~pathway.GuidelineOptions`;
  every number finite; days from 0 to the record's day; doses > 0 mg/day and at most what
  the dose rules (:mod:`pathway.guidelines.aih.dosing`) give this patient with these thresholds;
- **the record against the configuration**: the facts the chart keeps in step with its
  regions (:data:`CONSISTENCY`), e.g. a steroid on board exactly when the steroid course is
  not ``no_steroid``, ``death_day`` set exactly when ``death`` is active;
- **the snapshot against itself**: trace indexes and days in order, the last step's
  configuration is the current one, the violations are those the trace recorded, the open
  invariants are those broken at the last step and the pending timers are those the record
  arms.

Every failure is one :class:`~pathway.errors.SnapshotError` whose ``field`` is a JSON path
(``record.labs[3].alt_xuln``), with what was found and what was expected.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final, cast

from .errors import PatientError, SnapshotError, short_repr
from .guidelines.aih.dosing import (
    budesonide_dose,
    mycophenolate_dose,
    prednisolone_dose,
    tacrolimus_dose,
)
from .guidelines.aih.guideline import RULES
from .guidelines.aih.invariants import INVARIANTS, Violation
from .guidelines.aih.options import GuidelineOptions
from .guidelines.aih.patient import (
    AGE_RANGE_YEARS,
    LAB_RANGES,
    WEIGHT_RANGE_KG,
    LabPanel,
    PatientRecord,
)
from .guidelines.aih.rules import Breach
from .guidelines.aih.thresholds import Thresholds
from .guidelines.aih.timers import TIMERS
from .guidelines.aih.vocabulary import (
    ACTIONS,
    CIRRHOSIS_STAGES,
    DRUGS,
    FINDINGS,
    PRESENTATIONS,
    RESPONSE_CLASSES,
    SEXES,
    TPMT_STATUSES,
)
from .runtime import Step, StepKind, Transit
from .structure import ChartModel

if TYPE_CHECKING:
    from .guidelines.aih.chart import AIHPathway

__all__ = [
    "CONSISTENCY",
    "Checked",
    "chart_model",
    "check_configuration",
    "check_pending_timers",
    "check_snapshot",
]

#: Top-level keys of a snapshot; the first four are required.
_REQUIRED: Final = ("schema", "version", "configuration", "record")
_OPTIONAL: Final = (
    "chart",
    "history",
    "options",
    "thresholds",
    "pending_timers",
    "trace",
    "violations",
    "open_violations",
)
#: Values of ``PatientRecord.pregnancy`` (set by the pregnancy findings of the AIH effects).
_PREGNANCY: Final = ("none", "planned", "pregnant", "postpartum")
_STEP_KINDS: Final = ("finding", "timer", "action")
_TIMER_IDS: Final = frozenset(t.id for t in TIMERS)
_TIMER_EVENTS: Final = frozenset(t.event for t in TIMERS)
#: Largest count (timer firings, withdrawal attempts): counts become floats in timer offsets,
#: and no course comes near it.
_MAX_COUNT: Final = 2**31
#: Record fields that are days (days from diagnosis), ``None`` while not reached.
_DAY_FIELDS: Final = (
    "treatment_start_day",
    "steroid_start_day",
    "steroid_change_day",
    "cbr_since_day",
    "withdrawal_start_day",
    "acute_review_day",
    "transplant_referral_day",
    "transplant_day",
    "death_day",
    "labs_reset_day",
    "optimised_day",
    "first_treatment_day",
    "remission_biopsy_day",
    "antimetabolite_change_day",
)
_FLAGS: Final = (
    "encephalopathy",
    "decompensated",
    "hcc",
    "nonadherent",
    "severe_cytopenia",
    "relapsed_after_withdrawal",
    "reinduced",
    "line_assessed",
    "failure_confirmed",
)
#: Record fields checked one by one in :func:`_record` (the rest are days or flags above);
#: a test checks that together they name every field of the record, so that a new field
#: cannot be dropped silently by restore.
RECORD_FIELDS_CHECKED: Final = frozenset(
    {
        *_DAY_FIELDS,
        *_FLAGS,
        "patient_id",
        "age",
        "sex",
        "weight_kg",
        "day",
        "cirrhosis",
        "presentation",
        "tpmt",
        "pregnancy",
        "response",
        "cirrhosis_at_diagnosis",
        "acute_improving",
        "withdrawal_cbr_days",
        "withdrawal_attempts",
        "labs",
        "treatment_baseline",
        "intolerant",
        "response_history",
        "entered",
        "timers_fired",
        "drugs",
    }
)


@dataclass(frozen=True, slots=True)
class Checked:
    """A snapshot's content, validated and converted (what restore builds the chart from)."""

    configuration: list[str]
    history: dict[str, list[str]]
    record: PatientRecord
    options: GuidelineOptions
    thresholds: Thresholds
    trace: list[Step]
    violations: list[Violation]
    open_violations: set[str]


# --- reading typed JSON with a path ----------------------------------------------------------


class _Shown(str):
    """Text shown as found as it is (already formatted)."""

    __slots__ = ()


def _fail(path: str, found: Any, expected: str) -> SnapshotError:
    shown = found if isinstance(found, _Shown) else short_repr(found)
    return SnapshotError(
        f"snapshot field {path}: found {shown}, expected {expected}", path, str(shown), expected
    )


def _at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not key.isidentifier():
        return f"{path}[{key!r}]"
    return f"{path}.{key}" if path else key


def _object(
    value: Any, path: str, keys: Iterable[str], required: Iterable[str] = ()
) -> dict[str, Any]:
    """A JSON object with string keys among ``keys``, holding every ``required`` key."""
    if not isinstance(value, dict):
        raise _fail(path, value, "an object")
    allowed = tuple(keys)
    for key in value:
        if not isinstance(key, str) or key not in allowed:
            raise _fail(_at(path, str(key)), _Shown("an unknown field"), f"one of {list(allowed)}")
    for key in required:
        if key not in value:
            raise _fail(_at(path, key), _Shown("nothing"), "this field")
    return value


def _mapping(value: Any, path: str) -> dict[str, Any]:
    """A JSON object with any string keys."""
    if not isinstance(value, dict):
        raise _fail(path, value, "an object")
    for key in value:
        if not isinstance(key, str):
            raise _fail(path, key, "string keys")
    return value


def _list(value: Any, path: str) -> list[Any]:
    """A JSON array (a tuple too: :func:`~pathway.snapshot.snapshot` data before JSON)."""
    if not isinstance(value, list | tuple):
        raise _fail(path, value, "a list")
    return list(value)


def _str(value: Any, path: str, choices: Iterable[str] | None = None, what: str = "") -> str:
    """A string; one of ``choices`` when given (``what`` names them in the message)."""
    if choices is not None:
        allowed = list(choices)
        if not isinstance(value, str) or value not in allowed:
            raise _fail(path, value, f"{what} (one of {allowed})" if what else f"one of {allowed}")
        return value
    if not isinstance(value, str):
        raise _fail(path, value, "a string")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, value, "true or false")
    return value


def _number(value: Any, path: str, low: float, high: float, expected: str) -> float:
    """A finite number in [low, high] (``bool`` is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, value, expected)
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        raise _fail(path, value, expected) from None
    if not (math.isfinite(number) and low <= number <= high):
        raise _fail(path, value, expected)
    return value  # as given (an int stays an int), so that a round trip is exact


def _count(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        raise _fail(path, value, f"a whole number from 0 to {_MAX_COUNT}")
    return value


def _day(value: Any, path: str, now: float) -> float:
    """A day from diagnosis, no later than the record's day ``now``."""
    return _number(value, path, 0.0, now, f"a day from 0 to {now:g} (the record's day)")


def _maybe(value: Any, read: Callable[[Any], Any]) -> Any:
    return None if value is None else read(value)


# --- the configuration against the chart's structure ------------------------------------------


@functools.cache
def chart_model(chart_class: type[Any]) -> ChartModel:
    """The structure of ``chart_class`` (its definition, for a compiled engine); cached."""
    return ChartModel.of(getattr(chart_class, "definition", chart_class))


def _state_of(model: ChartModel) -> str:
    return f"a state of {model.name}"


def check_configuration(
    configuration: Any, model: ChartModel, path: str = "configuration"
) -> list[str]:
    """``configuration`` is a legal set of active states of ``model``; return it as a list."""
    states = _list(configuration, path)
    if not states:
        raise _fail(path, states, "at least one active state")
    seen: set[str] = set()
    for i, sid in enumerate(states):
        _str(sid, _at(path, i), model.states, _state_of(model))
        if sid in seen:
            raise _fail(_at(path, i), sid, "each state once")
        seen.add(sid)
    top = [s for s in model.top if s in seen]
    if len(top) != 1:
        raise _fail(path, _Shown(f"top-level states {top}"), f"exactly one of {list(model.top)}")
    for sid in states:  # orphans first: a missing parent also leaves its parent childless
        parent = model.states[sid].parent
        if parent is not None and parent not in seen:
            raise _fail(path, _Shown(f"{sid!r} without its parent"), f"{parent!r} active too")
    for sid in states:
        info = model.states[sid]
        if not info.children:
            continue
        on = [c for c in info.children if c in seen]
        if info.kind == "parallel" and len(on) != len(info.children):
            raise _fail(
                path,
                _Shown(f"regions {on} of parallel state {sid!r}"),
                f"all of its regions {list(info.children)}",
            )
        if info.kind != "parallel" and len(on) != 1:
            raise _fail(
                path,
                _Shown(f"children {on} of compound state {sid!r}"),
                f"exactly one of {list(info.children)}",
            )
    return list(states)


def _history(value: Any, model: ChartModel) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, ids in _mapping(value, "history").items():
        path = _at("history", key)
        info = model.history.get(key)
        if info is None:
            raise _fail(path, key, f"a history state of the chart {sorted(model.history)}")
        below = set(model.descendants(info.parent)) if info.parent else set(model.states)
        out[key] = [_str(s, _at(path, i), sorted(below)) for i, s in enumerate(_list(ids, path))]
    return out


# --- options and thresholds --------------------------------------------------------------------


def _options(value: Any) -> GuidelineOptions:
    names = [f.name for f in fields(GuidelineOptions)]
    data = _object(value, "options", names)
    for name, item in data.items():
        try:
            GuidelineOptions(**{name: item})
        except (TypeError, ValueError) as exc:
            raise _fail(_at("options", name), item, str(exc).split(" (got")[0]) from None
    return GuidelineOptions(**data)


def _thresholds(value: Any) -> Thresholds:
    """Thresholds as :meth:`Thresholds.with_overrides` accepts them (same ranges)."""
    data = _object(value, "thresholds", [f.name for f in fields(Thresholds)])
    base = Thresholds()
    for name, item in data.items():
        path = _at("thresholds", name)
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise _fail(path, item, "a number")
        try:
            base.with_overrides(**{name: item})
        except (ValueError, OverflowError) as exc:
            expected = str(exc).rpartition("expected ")[2] or "a number in range"
            raise _fail(path, item, expected) from None
    return Thresholds(**data)  # as given (with_overrides would turn ints into floats)


# --- the record ----------------------------------------------------------------------------------


def _panel(value: Any, path: str, now: float) -> LabPanel:
    """A lab panel: its day and each analyte within LAB_RANGES (the ranges observe uses)."""
    data = _object(value, path, ("day", *LAB_RANGES), required=("day",))
    day = _day(data["day"], _at(path, "day"), now)
    analytes: dict[str, float] = {}
    for name, (low, high) in LAB_RANGES.items():
        item = data.get(name)
        if item is not None:
            analytes[name] = _number(
                item, _at(path, name), low, high, f"a number in [{low:g}, {high:g}]"
            )
    return LabPanel(day=day, **analytes)


def _dose_ceiling(
    drug: str, p: PatientRecord, th: Thresholds, opt: GuidelineOptions
) -> float | None:
    """The largest daily dose (mg/day) the dose rules give ``p``; ``None``: not dosed daily.

    The dose rules' own caps: predniso(lo)ne INV-04 (or the taper target, which a taper
    never goes below), budesonide INV-03 or its maintenance dose, azathioprine INV-06.
    """
    match drug:
        case "prednisolone":
            doses = (prednisolone_dose(p, th, opt, acute=a) for a in (True, False))
            return max(*doses, th.taper_target_mg_day)
        case "budesonide":
            return max(budesonide_dose(th), th.budesonide_maintenance_mg_day)
        case "azathioprine":
            return th.azathioprine_max_mg_per_kg * p.weight_kg
        case "mycophenolate":
            return mycophenolate_dose(th)
        case "tacrolimus":
            return tacrolimus_dose(p, th)
        case _:
            return None  # third-line agents: by infusion (G-ERN20 [R]), any positive dose


def _drugs(
    value: Any, p: PatientRecord, th: Thresholds, opt: GuidelineOptions
) -> dict[str, float | None]:
    path = "record.drugs"
    out: dict[str, float | None] = {}
    for drug, dose in _object(value, path, DRUGS).items():
        ceiling = _dose_ceiling(drug, p, th, opt)
        where = _at(path, drug)
        if dose is None and ceiling is None:
            out[drug] = None
            continue
        high = math.inf if ceiling is None else ceiling
        limit = "" if ceiling is None else f" and <= {ceiling:g} (the dose rules' largest dose)"
        out[drug] = _number(dose, where, 0.0, high, f"a dose in mg/day > 0{limit}")
        if out[drug] == 0.0:
            raise _fail(where, dose, f"a dose in mg/day > 0{limit}")
    return out


def _record(value: Any, th: Thresholds, opt: GuidelineOptions, model: ChartModel) -> PatientRecord:
    known = [
        f.name for f in fields(PatientRecord) if f.name != "state" and not f.name.startswith("_")
    ]
    data = _object(value, "record", known, required=("patient_id", "age", "sex", "weight_kg"))
    r = functools.partial(_at, "record")
    now = _number(data.get("day", 0.0), r("day"), 0.0, math.inf, "a finite day >= 0")
    age_low, age_high = AGE_RANGE_YEARS
    kg_low, kg_high = WEIGHT_RANGE_KG
    d: dict[str, Any] = {
        "patient_id": _str(data["patient_id"], r("patient_id")),
        "age": _number(
            data["age"], r("age"), age_low, age_high, f"an age in [{age_low:g}, {age_high:g}] years"
        ),
        "sex": _str(data["sex"], r("sex"), SEXES),
        "weight_kg": _number(
            data["weight_kg"],
            r("weight_kg"),
            kg_low,
            kg_high,
            f"a weight in [{kg_low:g}, {kg_high:g}] kg",
        ),
        "day": now,
    }
    for name, choices in (
        ("cirrhosis", CIRRHOSIS_STAGES),
        ("presentation", PRESENTATIONS),
        ("tpmt", TPMT_STATUSES),
        ("pregnancy", _PREGNANCY),
        ("response", RESPONSE_CLASSES),
        ("cirrhosis_at_diagnosis", CIRRHOSIS_STAGES),
    ):
        if name in data:
            d[name] = _str(data[name], r(name), choices)
    for name in _FLAGS:
        if name in data:
            d[name] = _bool(data[name], r(name))
    if data.get("acute_improving") is not None:
        d["acute_improving"] = _bool(data["acute_improving"], r("acute_improving"))
    for name in _DAY_FIELDS:
        if data.get(name) is not None:
            d[name] = _day(data[name], r(name), now)
    if data.get("withdrawal_cbr_days") is not None:
        d["withdrawal_cbr_days"] = _number(
            data["withdrawal_cbr_days"],
            r("withdrawal_cbr_days"),
            0.0,
            now,
            f"days from 0 to {now:g}",
        )
    d["withdrawal_attempts"] = _count(data.get("withdrawal_attempts", 0), r("withdrawal_attempts"))
    labs: list[LabPanel] = []
    for i, item in enumerate(_list(data.get("labs", []), r("labs"))):
        panel = _panel(item, _at(r("labs"), i), now)
        if labs and panel.day < labs[-1].day:
            raise _fail(
                _at(_at(r("labs"), i), "day"),
                panel.day,
                f"a day >= {labs[-1].day:g} (panels in order)",
            )
        labs.append(panel)
    d["labs"] = labs
    if data.get("treatment_baseline") is not None:
        d["treatment_baseline"] = _panel(data["treatment_baseline"], r("treatment_baseline"), now)
    intolerant = _list(data.get("intolerant", []), r("intolerant"))
    d["intolerant"] = {_str(x, _at(r("intolerant"), i), DRUGS) for i, x in enumerate(intolerant)}
    history: list[tuple[float, str]] = []
    for i, item in enumerate(_list(data.get("response_history", []), r("response_history"))):
        where = _at(r("response_history"), i)
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise _fail(where, item, "a [day, response class] pair")
        day = _day(item[0], _at(where, 0), now)
        if history and day < history[-1][0]:
            raise _fail(_at(where, 0), day, f"a day >= {history[-1][0]:g} (in order)")
        history.append((day, _str(item[1], _at(where, 1), RESPONSE_CLASSES)))
    d["response_history"] = history
    entered = _mapping(data.get("entered", {}), r("entered"))
    d["entered"] = {
        _str(k, r("entered"), model.states, _state_of(model)): _day(v, _at(r("entered"), k), now)
        for k, v in entered.items()
    }
    fired = _mapping(data.get("timers_fired", {}), r("timers_fired"))
    d["timers_fired"] = {
        _str(k, r("timers_fired"), sorted(_TIMER_IDS)): _count(v, _at(r("timers_fired"), k))
        for k, v in fired.items()
    }
    try:
        record = PatientRecord(**d)
    except PatientError as exc:  # the record's own checks; the fields above make it rare
        raise _fail("record", _Shown(str(exc)), "a valid patient record") from None
    record.drugs = _drugs(data.get("drugs", {}), record, th, opt)
    return record


# --- the record against the configuration ---------------------------------------------------------

#: Facts the chart keeps in step with its configuration, as (state, record field, test,
#: what is expected): while ``state`` is active, ``test(record)`` holds. Each holds after any
#: sequence of findings, time points and actions, deviations included, because the effect
#: that sets the field runs with the only transitions that enter the state. The liver stage
#: and pregnancy facts are one way only: a record created with cirrhosis or a pregnancy is
#: in ``noncirrhotic`` / ``not_pregnant`` until the finding is observed (as a driver does at
#: day 0), and such a chart must still restore.
CONSISTENCY: Final[tuple[tuple[str, str, Callable[[PatientRecord], bool], str], ...]] = (
    ("death", "death_day", lambda p: p.death_day is not None, "the day of death"),
    ("steroid_induction", "drugs", lambda p: p.steroid is not None, "a steroid on board"),
    ("taper", "drugs", lambda p: p.steroid is not None, "a steroid on board"),
    ("steroid_maintenance", "drugs", lambda p: p.steroid is not None, "a steroid on board"),
    ("no_steroid", "drugs", lambda p: p.steroid is None, "no steroid on board"),
    ("compensated_cirrhosis", "cirrhosis", lambda p: p.cirrhosis != "none", "a cirrhosis stage"),
    (
        "decompensated_cirrhosis",
        "cirrhosis",
        lambda p: p.cirrhosis == "decompensated" and p.decompensated,
        "'decompensated' (and decompensated true)",
    ),
    ("planning_pregnancy", "pregnancy", lambda p: p.pregnancy == "planned", "'planned'"),
    (
        "in_pregnancy",
        "pregnancy",
        lambda p: p.pregnancy in ("pregnant", "planned"),
        "'pregnant' (or 'planned')",
    ),
    ("postpartum", "pregnancy", lambda p: p.pregnancy == "postpartum", "'postpartum'"),
    ("withdrawal", "withdrawal_start_day", lambda p: p.withdrawal_start_day is not None, "a day"),
    (
        "off_treatment",
        "withdrawal_start_day",
        lambda p: p.withdrawal_start_day is not None,
        "a day",
    ),
    ("reinduction", "reinduced", lambda p: p.reinduced, "true"),
    (
        "transplant",
        "transplant_referral_day",
        lambda p: p.transplant_referral_day is not None,
        "a day",
    ),
    ("post_transplant", "transplant_day", lambda p: p.transplant_day is not None, "a day"),
)


def _consistent(record: PatientRecord, active: set[str]) -> None:
    for state, name, test, expected in CONSISTENCY:
        if state in active and not test(record):
            found = getattr(record, name)
            raise _fail(_at("record", name), found, f"{expected} while {state!r} is active")
    if record.death_day is not None and "death" not in active:
        raise _fail("record.death_day", record.death_day, "null while the patient is alive")
    missing = sorted(active - set(record.entered))
    if missing:
        raise _fail(
            "record.entered", _Shown(f"no entry day for active {missing}"), "one per active state"
        )


# --- the trace, violations and open invariants --------------------------------------------------


def _violation(value: Any, path: str, now: float, steps: int) -> Violation:
    data = _object(
        value,
        path,
        ("rule_id", "day", "step", "message", "hard"),
        required=("rule_id", "day", "step", "message", "hard"),
    )
    rule_id = _str(data["rule_id"], _at(path, "rule_id"), INVARIANTS)
    hard = RULES[rule_id].strength == "hard"
    if data["hard"] is not hard:
        raise _fail(
            _at(path, "hard"), data["hard"], f"{hard} ({rule_id} is {RULES[rule_id].strength})"
        )
    step = _count(data["step"], _at(path, "step"))
    if step >= steps:
        raise _fail(_at(path, "step"), step, f"the index of a step of the trace (< {steps})")
    return Violation(
        rule_id,
        _day(data["day"], _at(path, "day"), now),
        step,
        _str(data["message"], _at(path, "message")),
        hard,
    )


_STEP_KEYS: Final = (
    "index",
    "day",
    "kind",
    "name",
    "detail",
    "transits",
    "configuration",
    "deviation",
    "breaches",
    "carried_out",
    "violations",
)


def _step(value: Any, path: str, index: int, since: float, now: float, model: ChartModel) -> Step:
    data = _object(value, path, (*_STEP_KEYS, "recommended_by"), required=_STEP_KEYS)
    p = functools.partial(_at, path)
    if data["index"] != index or isinstance(data["index"], bool):
        raise _fail(p("index"), data["index"], f"{index} (the step's position in the trace)")
    day = _number(
        data["day"], p("day"), since, now, f"a day from {since:g} (the step before) to {now:g}"
    )
    kind = cast(StepKind, _str(data["kind"], p("kind"), _STEP_KINDS))
    names = {"finding": FINDINGS, "timer": _TIMER_EVENTS, "action": ACTIONS}[kind]
    transits = []
    for i, item in enumerate(_list(data["transits"], p("transits"))):
        t = _object(
            item,
            _at(p("transits"), i),
            ("event", "source", "target", "rule_ids"),
            ("event", "source", "target", "rule_ids"),
        )
        q = functools.partial(_at, _at(p("transits"), i))
        transits.append(
            Transit(
                _str(t["event"], q("event")),
                _str(t["source"], q("source"), model.states, _state_of(model)),
                _str(t["target"], q("target"), model.states, _state_of(model)),
                tuple(
                    _str(r, _at(q("rule_ids"), j))
                    for j, r in enumerate(_list(t["rule_ids"], q("rule_ids")))
                ),
            )
        )
    breaches = []
    for i, item in enumerate(_list(data["breaches"], p("breaches"))):
        b = _object(item, _at(p("breaches"), i), ("rule_id", "message"), ("rule_id", "message"))
        where = _at(p("breaches"), i)
        breaches.append(
            Breach(
                _str(b["rule_id"], _at(where, "rule_id"), RULES),
                _str(b["message"], _at(where, "message")),
            )
        )
    config = _list(data["configuration"], p("configuration"))
    return Step(
        index=index,
        day=day,
        kind=kind,
        name=_str(data["name"], p("name"), sorted(names)),
        detail=_str(data["detail"], p("detail")),
        transits=tuple(transits),
        configuration=tuple(
            _str(s, _at(p("configuration"), i), model.states, _state_of(model))
            for i, s in enumerate(config)
        ),
        deviation=_bool(data["deviation"], p("deviation")),
        breaches=tuple(breaches),
        carried_out=_bool(data["carried_out"], p("carried_out")),
        violations=tuple(
            _violation(v, _at(p("violations"), i), now, index + 1)
            for i, v in enumerate(_list(data["violations"], p("violations")))
        ),
        recommended_by=tuple(
            _str(r, _at(p("recommended_by"), i), RULES)
            for i, r in enumerate(_list(data.get("recommended_by", []), p("recommended_by")))
        ),
    )


def _trace(value: Any, now: float, model: ChartModel, configuration: list[str]) -> list[Step]:
    steps: list[Step] = []
    for i, item in enumerate(_list(value, "trace")):
        since = steps[-1].day if steps else 0.0
        steps.append(_step(item, _at("trace", i), i, since, now, model))
    if steps and sorted(steps[-1].configuration) != sorted(configuration):
        raise _fail(
            _at(_at("trace", len(steps) - 1), "configuration"),
            list(steps[-1].configuration),
            "the snapshot's configuration (no state changes after the last step)",
        )
    return steps


def _open_invariants(
    value: Any, record: PatientRecord, th: Thresholds, active: set[str], trace: list[Step]
) -> set[str]:
    """The open invariants: exactly those broken at the last step (as the monitor found)."""
    given = {
        _str(r, _at("open_violations", i), INVARIANTS)
        for i, r in enumerate(_list(value, "open_violations"))
    }
    broken: set[str] = set()
    if trace:
        last = trace[-1]
        now = record.day
        record.day = last.day  # the monitor checked at the step's day; time may have gone on
        try:
            broken = {
                rid
                for rid, check in INVARIANTS.items()
                if check(record, th, active, last) is not None
            }
        finally:
            record.day = now
    if given != broken:
        raise _fail(
            "open_violations",
            sorted(given),
            f"{sorted(broken)} (the invariants the record breaks at the last step)",
        )
    return given


# --- the whole snapshot ---------------------------------------------------------------


def check_snapshot(data: Any, chart_class: type[AIHPathway]) -> Checked:
    """Validate snapshot ``data`` for ``chart_class``; return its content, converted.

    The schema and version are checked by the caller. Raises :class:`SnapshotError`.
    """
    snap = _object(data, "", (*_REQUIRED, *_OPTIONAL), required=_REQUIRED)
    model = chart_model(chart_class)
    # The chart restoring it, or one it extends (a subclass adding listeners, say): the
    # structure checks below decide whether the content fits.
    definition = getattr(chart_class, "definition", chart_class)
    names = [c.__name__ for c in definition.__mro__ if getattr(c, "states_map", None)]
    if "chart" in snap and snap["chart"] not in names:
        raise _fail("chart", snap["chart"], f"one of {names} (the chart class restoring it)")
    configuration = check_configuration(snap["configuration"], model)
    history = _history(snap.get("history", {}), model)
    options = _options(snap.get("options", {}))
    thresholds = _thresholds(snap.get("thresholds", {}))
    record = _record(snap["record"], thresholds, options, model)
    active = set(configuration)
    _consistent(record, active)
    trace = _trace(snap.get("trace", []), record.day, model, configuration)
    violations = [
        _violation(v, _at("violations", i), record.day, len(trace))
        for i, v in enumerate(_list(snap.get("violations", []), "violations"))
    ]
    recorded = [v for step in trace for v in step.violations]
    if violations != recorded:
        raise _fail(
            "violations",
            _Shown(f"{len(violations)} violation(s)"),
            f"the {len(recorded)} recorded in the trace's steps",
        )
    open_now = _open_invariants(snap.get("open_violations", []), record, thresholds, active, trace)
    return Checked(configuration, history, record, options, thresholds, trace, violations, open_now)


def check_pending_timers(value: Any, chart: AIHPathway) -> None:
    """The snapshot's pending timers are those the restored chart arms (derived data)."""
    from dataclasses import asdict

    expected = [asdict(t) for t in chart.pending_timers()]
    if value != expected:
        raise _fail(
            "pending_timers",
            value,
            f"{short_repr(expected)} (armed by record.entered and record.timers_fired)",
        )
