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
- **ranges**, the same ones the live API applies: thresholds as the guideline's
  ``with_overrides``, options as its options type; every number finite; days from 0 to the
  record's day; the record's own fields by the guideline's ``check_record`` (for AIH,
  :mod:`pathway.guidelines.aih.snapshot_record`: labs, age, weight, categories, doses);
- **the record against the configuration**: the facts the chart keeps in step with its
  regions (the guideline's ``consistency``), ``death_day`` set exactly when the final state
  is active;
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
from dataclasses import MISSING, asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Final, cast

from .declarations import Breach
from .errors import PatientError, SnapshotError, short_repr
from .invariants import Violation
from .runtime import Step, StepKind, Transit
from .structure import ChartModel

if TYPE_CHECKING:
    from .bundle import Guideline
    from .runtime import PathwayRuntime

__all__ = [
    "Checked",
    "chart_model",
    "check_configuration",
    "check_pending_timers",
    "check_snapshot",
    "read_record",
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
_STEP_KINDS: Final = ("finding", "timer", "action")
#: Largest count (timer firings, withdrawal attempts): counts become floats in timer offsets,
#: and no course comes near it.
_MAX_COUNT: Final = 2**31


@dataclass(frozen=True, slots=True)
class Checked:
    """A snapshot's content, validated and converted (what restore builds the chart from)."""

    configuration: list[str]
    history: dict[str, list[str]]
    record: Any
    options: Any
    thresholds: Any
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


def _options(value: Any, options: type[Any]) -> Any:
    names = [f.name for f in fields(options)]
    data = _object(value, "options", names)
    for name, item in data.items():
        if isinstance(item, list | tuple | dict):
            # Options are plain values; a nested one (any depth) is refused before the
            # options type formats it into its own message.
            raise _fail(_at("options", name), item, "a plain value (text, number, true/false)")
        try:
            options(**{name: item})
        except (TypeError, ValueError) as exc:
            raise _fail(_at("options", name), item, str(exc).split(" (got")[0]) from None
    return options(**data)


def _thresholds(value: Any, thresholds: type[Any]) -> Any:
    """Thresholds as the guideline's ``with_overrides`` accepts them (same ranges)."""
    data = _object(value, "thresholds", [f.name for f in fields(thresholds)])
    base = thresholds()
    for name, item in data.items():
        path = _at("thresholds", name)
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise _fail(path, item, "a number")
        try:
            base.with_overrides(**{name: item})
        except (ValueError, OverflowError) as exc:
            expected = str(exc).rpartition("expected ")[2] or "a number in range"
            raise _fail(path, item, expected) from None
    return thresholds(**data)  # as given (with_overrides would turn ints into floats)


# --- the record ----------------------------------------------------------------------------


def read_record(
    value: Any, record_type: type[Any], timer_ids: Iterable[str], model: ChartModel
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record fields every guideline's record has, checked; the rest as given.

    Returns the checked ``patient_id``, ``day``, ``entered`` and ``timers_fired`` (under those
    keys) and the raw JSON object of the record, for the guideline's own record checks
    (``Guideline.check_record``) to read the other fields from.
    """
    known = [
        f.name for f in fields(record_type) if f.name != "state" and not f.name.startswith("_")
    ]
    required = [
        f.name
        for f in fields(record_type)
        if f.name in known and f.default is MISSING and f.default_factory is MISSING
    ]
    data = _object(value, "record", known, required=required)
    r = functools.partial(_at, "record")
    now = _number(data.get("day", 0.0), r("day"), 0.0, math.inf, "a finite day >= 0")
    entered = _mapping(data.get("entered", {}), r("entered"))
    timer_names = sorted(timer_ids)
    fired = _mapping(data.get("timers_fired", {}), r("timers_fired"))
    checked = {
        "patient_id": _str(data["patient_id"], r("patient_id")),
        "day": now,
        "entered": {
            _str(k, r("entered"), model.states, _state_of(model)): _day(
                v, _at(r("entered"), k), now
            )
            for k, v in entered.items()
        },
        "timers_fired": {
            _str(k, r("timers_fired"), timer_names): _count(v, _at(r("timers_fired"), k))
            for k, v in fired.items()
        },
    }
    return checked, data


def _generic_record(value: Any, guideline: Guideline, model: ChartModel) -> Any:
    """A record of a guideline without its own record checks: common fields checked, the
    rest given to the record type (whose own checks raise :class:`PatientError`)."""
    checked, data = read_record(value, guideline.record, guideline.timers.by_id, model)
    try:
        return guideline.record(**{**data, **checked})
    except (PatientError, TypeError, ValueError) as exc:
        raise _fail("record", _Shown(str(exc)), "a valid patient record") from None


def _consistent(record: Any, active: set[str], guideline: Guideline) -> None:
    for state, name, test, expected in guideline.consistency:
        if state in active and not test(record):
            found = getattr(record, name)
            raise _fail(_at("record", name), found, f"{expected} while {state!r} is active")
    final = guideline.final_state
    if record.death_day is not None and final not in active:
        raise _fail("record.death_day", record.death_day, "null while the patient is alive")
    if final in active and record.death_day is None:
        raise _fail("record.death_day", None, f"the day of death while {final!r} is active")
    missing = sorted(active - set(record.entered))
    if missing:
        raise _fail(
            "record.entered", _Shown(f"no entry day for active {missing}"), "one per active state"
        )


# --- the trace, violations and open invariants --------------------------------------------------


def _violation(value: Any, path: str, now: float, steps: int, g: Guideline) -> Violation:
    data = _object(
        value,
        path,
        ("rule_id", "day", "step", "message", "hard"),
        required=("rule_id", "day", "step", "message", "hard"),
    )
    rule_id = _str(data["rule_id"], _at(path, "rule_id"), g.invariants)
    strength = g.rules[rule_id].strength
    hard = strength == "hard"
    if data["hard"] is not hard:
        raise _fail(_at(path, "hard"), data["hard"], f"{hard} ({rule_id} is {strength})")
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


def _step(
    value: Any, path: str, index: int, since: float, now: float, model: ChartModel, g: Guideline
) -> Step:
    data = _object(value, path, (*_STEP_KEYS, "recommended_by"), required=_STEP_KEYS)
    p = functools.partial(_at, path)
    if data["index"] != index or isinstance(data["index"], bool):
        raise _fail(p("index"), data["index"], f"{index} (the step's position in the trace)")
    day = _number(
        data["day"], p("day"), since, now, f"a day from {since:g} (the step before) to {now:g}"
    )
    kind = cast(StepKind, _str(data["kind"], p("kind"), _STEP_KINDS))
    names = {"finding": g.findings, "timer": g.timers.events, "action": g.actions}[kind]
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
                _str(b["rule_id"], _at(where, "rule_id"), g.rules),
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
            _violation(v, _at(p("violations"), i), now, index + 1, g)
            for i, v in enumerate(_list(data["violations"], p("violations")))
        ),
        recommended_by=tuple(
            _str(r, _at(p("recommended_by"), i), g.rules)
            for i, r in enumerate(_list(data.get("recommended_by", []), p("recommended_by")))
        ),
    )


def _trace(
    value: Any, now: float, model: ChartModel, configuration: list[str], g: Guideline
) -> list[Step]:
    steps: list[Step] = []
    for i, item in enumerate(_list(value, "trace")):
        since = steps[-1].day if steps else 0.0
        steps.append(_step(item, _at("trace", i), i, since, now, model, g))
    if steps and sorted(steps[-1].configuration) != sorted(configuration):
        raise _fail(
            _at(_at("trace", len(steps) - 1), "configuration"),
            list(steps[-1].configuration),
            "the snapshot's configuration (no state changes after the last step)",
        )
    return steps


def _open_invariants(
    value: Any, record: Any, th: Any, active: set[str], trace: list[Step], g: Guideline
) -> set[str]:
    """The open invariants: exactly those broken at the last step (as the monitor found)."""
    given = {
        _str(r, _at("open_violations", i), g.invariants)
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
                for rid, check in g.invariants.items()
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


def check_snapshot(data: Any, chart_class: type[Any]) -> Checked:
    """Validate snapshot ``data`` for ``chart_class``; return its content, converted.

    The schema and version are checked by the caller. Raises :class:`SnapshotError`.
    """
    snap = _object(data, "", (*_REQUIRED, *_OPTIONAL), required=_REQUIRED)
    g = chart_class.guideline
    model = chart_model(cast(type, chart_class))
    # The chart restoring it, or one it extends (a subclass adding listeners, say): the
    # structure checks below decide whether the content fits.
    definition = getattr(chart_class, "definition", chart_class)
    names = [c.__name__ for c in definition.__mro__ if getattr(c, "states_map", None)]
    if "chart" in snap and snap["chart"] not in names:
        raise _fail("chart", snap["chart"], f"one of {names} (the chart class restoring it)")
    configuration = check_configuration(snap["configuration"], model)
    history = _history(snap.get("history", {}), model)
    options = _options(snap.get("options", {}), g.options)
    thresholds = _thresholds(snap.get("thresholds", {}), g.thresholds)
    if g.check_record is None:
        record = _generic_record(snap["record"], g, model)
    else:
        record = g.check_record(snap["record"], thresholds, options, model)
    active = set(configuration)
    _consistent(record, active, g)
    trace = _trace(snap.get("trace", []), record.day, model, configuration, g)
    violations = [
        _violation(v, _at("violations", i), record.day, len(trace), g)
        for i, v in enumerate(_list(snap.get("violations", []), "violations"))
    ]
    recorded = [v for step in trace for v in step.violations]
    if violations != recorded:
        raise _fail(
            "violations",
            _Shown(f"{len(violations)} violation(s)"),
            f"the {len(recorded)} recorded in the trace's steps",
        )
    open_now = _open_invariants(
        snap.get("open_violations", []), record, thresholds, active, trace, g
    )
    return Checked(configuration, history, record, options, thresholds, trace, violations, open_now)


def check_pending_timers(value: Any, chart: PathwayRuntime[Any]) -> None:
    """The snapshot's pending timers are those the restored chart arms (derived data)."""
    expected = [asdict(t) for t in chart.pending_timers()]
    if value != expected:
        raise _fail(
            "pending_timers",
            value,
            f"{short_repr(expected)} (armed by record.entered and record.timers_fired)",
        )
