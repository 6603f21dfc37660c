"""Hostile snapshots and days: refused with one clear error, or restored to a sound chart.

Valid snapshots come from real courses (every scenario of the library and patients of the
default cohort, at random steps, on both engines); random mutations of them must either
restore to a chart that passes the structural and invariant checks and goes on, or be
refused with :class:`SnapshotError` naming the field. Then one test per kind of fault the
issue lists, and the day checks and the lock of the live API.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import math
import pickle
import random
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from pathway import (
    AIHPathway,
    InvariantViolation,
    LabPanel,
    PatientError,
    SnapshotError,
    restore,
    snapshot,
)
from pathway.compiled import CompiledPathway
from pathway.guidelines.aih.invariants import INVARIANTS
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.runtime import PathwayRuntime, Step
from pathway.snapshot import from_json, to_json
from simulation.model.parameters import load_parameters
from simulation.model.policies import GuidelinePolicy
from simulation.model.scripted import ScriptedPatient
from simulation.run.cohort import RunSettings, load_cohort, simulate_patient
from simulation.run.engine import run_patient
from simulation.scenarios.scenario import load_scenario

from ..helpers import new_chart
from ..scenario_support import LIBRARY
from ..strategies import apply_move
from ..test_chart_stateful import assert_valid_configuration

ENGINES = [AIHPathway, CompiledPathway]
Engine = type[AIHPathway]


# --- valid snapshots from real courses ---------------------------------------------------------


class _Sampler:
    """Step listener keeping a snapshot at a few randomly chosen steps."""

    def __init__(self, rng: random.Random, rate: float) -> None:
        self.rng, self.rate = rng, rate
        self.taken: list[dict[str, Any]] = []

    def after_step(self, chart: PathwayRuntime, step: Step) -> None:
        if self.rng.random() < self.rate:
            self.taken.append(json.loads(to_json(chart)))  # type: ignore[arg-type]


@functools.cache
def scenario_snapshots() -> tuple[tuple[Engine, str], ...]:
    """Snapshots (as JSON text) taken at random steps of every scenario of the library."""
    rng = random.Random(16)
    out: list[tuple[Engine, str]] = []
    for i, path in enumerate(LIBRARY):
        scenario = load_scenario(path)
        record = scenario.record()
        engine = ENGINES[i % 2]
        chart = engine(record)
        sampler = _Sampler(rng, 0.15)
        chart.add_step_listener(sampler)
        model = ScriptedPatient(scenario.baseline(record), scenario.occurrences())
        # A "caught" scenario may end its course early with an error: keep what was taken.
        with contextlib.suppress(Exception):
            run_patient(chart, model, horizon_days=scenario.horizon_days)
        sampler.taken.append(json.loads(to_json(chart)))
        out += [(engine, json.dumps(s)) for s in sampler.taken]
    return tuple(out)


@functools.cache
def cohort_snapshots() -> tuple[tuple[Engine, str], ...]:
    """Snapshots taken at random steps of patients of the default cohort (both engines)."""
    rng = random.Random(1616)
    out: list[tuple[Engine, str]] = []
    for index in range(8):
        engine = ENGINES[index % 2]
        sampler = _Sampler(rng, 0.04)

        class Sampled(engine):  # type: ignore[valid-type,misc]
            definition = AIHPathway
            listener = sampler

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.add_step_listener(self.listener)

        settings = RunSettings(
            cohort=load_cohort(),
            parameters=load_parameters(),
            thresholds=Thresholds(),
            seed=16,
            policy="guideline",
            horizon_days=3 * 365.25,
            chart_class=Sampled,
        )
        simulate_patient(settings, index)
        out += [(engine, json.dumps(s)) for s in sampler.taken]
    return tuple(out)


def valid_snapshots() -> tuple[tuple[Engine, str], ...]:
    return scenario_snapshots() + cohort_snapshots()


def test_real_snapshots_restore_exactly_on_both_engines() -> None:
    """Every snapshot of a real course passes validation and round-trips byte for byte."""
    snaps = valid_snapshots()
    assert len(snaps) > 100
    assert {e for e, _ in snaps} == set(ENGINES)
    for _engine, text in snaps:
        data = json.loads(text)
        for other in ENGINES:
            assert json.loads(to_json(restore(copy.deepcopy(data), other))) == data


# --- random mutations ----------------------------------------------------------------------------


def _deep(levels: int = 2000) -> list[Any]:
    """A list nested ``levels`` deep (past the recursion limit of naive code)."""
    out: list[Any] = []
    for _ in range(levels):
        out = [out]
    return out


_DEEP = object()  # stands for a fresh _deep() in NASTY

#: Values a mutation may put anywhere: wrong types, non-finite and huge numbers, ids.
NASTY: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    0.001,
    2.5,
    1e308,
    -1e308,
    math.nan,
    math.inf,
    -math.inf,
    10**400,
    "2",
    "",
    "death",
    "diagnosis",
    "maintenance",
    "prednisolone",
    "INV-04",
    [],
    {},
    [1, 2],
    {"day": 0},
    _DEEP,
]


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if len(here) > 12:  # not into a deep value an earlier mutation put there
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*here, i))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _fresh(value: Any) -> Any:
    """A copy, so that no mutation changes NASTY or another part of the snapshot."""
    if value is _DEEP or _depth(value) > 50:  # deepcopy would hit the recursion limit
        return _deep()
    return copy.deepcopy(value)


def _depth(value: Any) -> int:
    """Nesting depth of lists and objects, without recursion."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, level = todo.pop()
        deepest = max(deepest, level)
        if isinstance(item, list | dict) and level <= 50:
            children = item.values() if isinstance(item, dict) else item
            todo += [(child, level + 1) for child in children]
    return deepest


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Engine, dict[str, Any], str, dict[str, Any]]:
    """A valid snapshot with one to three random changes, what they were, and the original."""
    engine, text = draw(st.sampled_from(valid_snapshots()))
    data = json.loads(text)
    done = []
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent, key = _get(data, path[:-1]), path[-1]
        kind = draw(st.sampled_from(["replace", "delete", "add", "nudge", "state"]))
        if kind == "replace":
            parent[key] = _fresh(draw(st.sampled_from(NASTY)))
        elif kind == "delete":
            del parent[key]
        elif kind == "add" and isinstance(parent, list):
            parent.insert(key, _fresh(draw(st.sampled_from([*NASTY, parent[key]]))))
        elif kind == "add":
            parent[draw(st.sampled_from(["colour", "death", "alt_xuln", "prednisolone"]))] = 1
        elif (
            kind == "nudge"
            and isinstance(parent[key], int | float)
            # An earlier change may have put 10**400 here: a float nudge would overflow in
            # this generator, not in restore.
            and abs(parent[key]) < 1e300
        ):
            parent[key] = parent[key] + draw(st.sampled_from([-400, -1, -0.5, 0.5, 1, 30, 1e6]))
        else:  # swap in another state id
            parent[key] = draw(st.sampled_from(list(AIHPathway.states_map)))
        done.append(f"{kind} {'/'.join(map(str, path))}")
    return engine, data, "; ".join(done), json.loads(text)


def _no_constant(name: str) -> Any:
    raise AssertionError(f"{name} in snapshot JSON")


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=mutated())
def test_mutated_snapshots_restore_soundly_or_are_refused(
    case: tuple[Engine, dict[str, Any], str, dict[str, Any]],
) -> None:
    """Refused with SnapshotError (naming a field), or a sound chart that goes on."""
    engine, data, what, original = case
    note(what)
    refused: SnapshotError | None = None
    try:
        chart = restore(data, engine)
    except SnapshotError as exc:
        refused = exc
    event("refused" if refused is not None else "restored")
    if refused is not None:
        # A nudged version above the current one is refused as "snapshot version N is newer"
        # (field ``version``): a refusal the snapshot contract names, not a crash.
        assert str(refused).startswith(
            ("snapshot field ", "not a carechart", "unknown snapshot", "snapshot version ")
        )
        assert refused.field or "schema" in str(refused)
        return
    assert_valid_configuration(chart)
    text = to_json(chart)  # raises ValueError on NaN or Infinity
    json.loads(text, parse_constant=_no_constant)
    assert to_json(from_json(text, engine)) == text
    broken_now = {
        rid
        for rid, check in INVARIANTS.items()
        if chart.trace and check(chart.patient, chart.thresholds, chart.active, chart.trace[-1])
    }
    assert broken_now <= set(chart.monitor._open) | {"INV-13", "INV-14"}
    # It goes on: the guideline's answer to the last step (a snapshot may be taken between
    # a step and the clinician's answer to it), then the next time point and its answer.
    chart.recommendations()
    try:
        if not chart.is_dead:
            GuidelinePolicy().act(chart, chart.day)
        apply_move(chart, (0, "timer", None))
    except InvariantViolation:
        # Thresholds that with_overrides accepts may still make the dose rules break a cap
        # (a guideline run under other numbers): not the snapshot's fault.
        assert chart.thresholds != Thresholds(**original.get("thresholds", {}))
        return
    assert [s.index for s in chart.trace] == list(range(len(chart.trace)))


# --- one test per fault the issue lists ---------------------------------------------------


def _combination(engine: Engine) -> AIHPathway:
    """A patient on prednisolone and azathioprine (combination induction)."""
    chart = new_chart()
    data = snapshot(chart)
    chart = restore(data, engine)
    chart.take("start_prednisolone", day=0)
    chart.fire("thiopurine_due", day=14)
    chart.take("add_azathioprine", day=14)
    assert set(chart.patient.drugs) == {"prednisolone", "azathioprine"}
    return chart


INITIAL = ["alive", "care_line", "diagnosis", "steroid_course", "no_steroid", "liver_stage"]
INITIAL += ["noncirrhotic", "pregnancy_status", "not_pregnant"]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split("/")]
        _get(data, tuple(keys[:-1]))[keys[-1]] = value

    return change


def _config(change: Callable[[list[str]], list[str]]) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        data["configuration"] = change(list(data["configuration"]))

    return mutate


FAULTS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # impossible configurations
    (
        "two exclusive states",
        _config(lambda c: [*c, "maintenance"]),
        "configuration",
        "exactly one of",
    ),
    (
        "child without parent",
        _config(lambda c: [s for s in c if s != "first_line"]),
        "configuration",
        "'first_line' active too",
    ),
    (
        "missing region",
        _config(lambda c: [s for s in c if s not in ("liver_stage", "noncirrhotic")]),
        "configuration",
        "all of its regions",
    ),
    ("empty configuration", _config(lambda c: []), "configuration", "at least one active state"),
    (
        "death with alive",
        _config(lambda c: [*c, "death"]),
        "configuration",
        "exactly one of ['alive', 'death']",
    ),
    ("duplicate state", _config(lambda c: [*c, c[0]]), "configuration[11]", "each state once"),
    (
        "unknown state",
        _config(lambda c: [*c, "limbo"]),
        "configuration[11]",
        "a state of AIHPathway",
    ),
    (
        "death_day set while alive",
        _set("record/death_day", 14.0),
        "record.death_day",
        "null while the patient is alive",
    ),
    # the record against the configuration: the issue's wrong advice (observe_untreated)
    (
        "drugs without treatment states",
        _config(lambda c: INITIAL),
        "record.drugs",
        "no steroid on board",
    ),
    (
        "steroid state without steroid",
        _set("record/drugs", {"azathioprine": 50.0}),
        "record.drugs",
        "a steroid on board",
    ),
    (
        "history of an unknown state",
        _set("history", {"h": ["limbo"]}),
        "history.h",
        "a history state",
    ),
    # wrong types
    ("age as text", _set("record/age", "52"), "record.age", "an age in [18, 110] years"),
    ("weight as bool", _set("record/weight_kg", True), "record.weight_kg", "a weight in"),
    (
        "lab as text",
        _set("record/labs/0/alt_xuln", "9"),
        "record.labs[0].alt_xuln",
        "a number in [0, 200]",
    ),
    (
        "dose as text",
        _set("record/drugs/prednisolone", "30"),
        "record.drugs.prednisolone",
        "a dose in mg/day",
    ),
    ("threshold as text", _set("thresholds/uln", "1"), "thresholds.uln", "a number"),
    ("day as text", _set("record/day", "14"), "record.day", "a finite day"),
    ("labs not a list", _set("record/labs", {"alt_xuln": 1}), "record.labs", "a list"),
    (
        "negative timer count",
        _set("record/timers_fired/thiopurine_due", -5),
        "record.timers_fired.thiopurine_due",
        "a whole number",
    ),
    (
        "unknown entered state",
        _set("record/entered/limbo", 0.0),
        "record.entered",
        "a state of AIHPathway",
    ),
    # NaN, Infinity and 1e308
    (
        "NaN lab",
        _set("record/labs/0/alt_xuln", math.nan),
        "record.labs[0].alt_xuln",
        "a number in [0, 200]",
    ),
    (
        "infinite lab",
        _set("record/labs/0/inr", math.inf),
        "record.labs[0].inr",
        "a number in [0.5, 15]",
    ),
    ("1e308 lab", _set("record/labs/0/meld", 1e308), "record.labs[0].meld", "a number in [6, 40]"),
    (
        "NaN dose",
        _set("record/drugs/prednisolone", math.nan),
        "record.drugs.prednisolone",
        "a dose in mg/day",
    ),
    (
        "1e308 dose",
        _set("record/drugs/azathioprine", 1e308),
        "record.drugs.azathioprine",
        "the dose rules' largest dose",
    ),
    (
        "zero dose",
        _set("record/drugs/prednisolone", 0),
        "record.drugs.prednisolone",
        "a dose in mg/day > 0",
    ),
    ("NaN day", _set("record/day", math.nan), "record.day", "a finite day"),
    (
        "1e308 threshold",
        _set("thresholds/tacrolimus_mg_per_kg", 1e308),
        "thresholds.tacrolimus_mg_per_kg",
        "<= 1e+09",
    ),
    ("huge integer age", _set("record/age", 10**400), "record.age", "an age in"),
    (
        "tiny visit interval",
        _set("thresholds/maintenance_visit_days", 0.001),
        "thresholds.maintenance_visit_days",
        "a number of days >= 1",
    ),
    ("NaN threshold", _set("thresholds/uln", math.nan), "thresholds.uln", "a finite number > 0"),
    # the snapshot against itself
    (
        "lab day after the record's day",
        _set("record/labs/0/day", 400.0),
        "record.labs[0].day",
        "a day from 0 to 14",
    ),
    ("trace index repeated", _set("trace/1/index", 0), "trace[1].index", "the step's position"),
    ("trace out of order", _set("trace/0/day", 10.0), "trace[1].day", "a day from 10"),
    (
        "open invariant that is not broken",
        _set("open_violations", ["INV-04"]),
        "open_violations",
        "[] (the invariants",
    ),
    (
        "pending timer moved",
        _set("pending_timers/0/due_day", 15.0),
        "pending_timers",
        "armed by record.entered",
    ),
    (
        "violation of no step",
        _set(
            "violations",
            [{"rule_id": "INV-04", "day": 0, "step": 99, "message": "x", "hard": True}],
        ),
        "violations[0].step",
        "the index of a step",
    ),
    ("other chart", _set("chart", "OtherChart"), "chart", "'AIHPathway'"),
]


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.__name__)
@pytest.mark.parametrize(
    ("mutate", "field", "expected"),
    [pytest.param(m, f, e, id=name) for name, m, f, e in FAULTS],
)
def test_each_fault_is_one_clear_snapshot_error(
    engine: Engine, mutate: Callable[[dict[str, Any]], None], field: str, expected: str
) -> None:
    """Each impossible snapshot names its field, what was found and what was expected."""
    data = snapshot(_combination(AIHPathway))
    mutate(data)
    with pytest.raises(SnapshotError) as caught:
        restore(data, engine)
    exc = caught.value
    assert exc.field == field, str(exc)
    assert expected in exc.expected, str(exc)
    assert str(exc) == f"snapshot field {exc.field}: found {exc.found}, expected {exc.expected}"


def test_issue_example_wrong_advice_is_refused() -> None:
    """Before: restored on the initial configuration, the chart advised observe_untreated."""
    data = snapshot(_combination(AIHPathway))
    data["configuration"] = INITIAL
    with pytest.raises(SnapshotError, match=r"record\.drugs: found .*prednisolone"):
        restore(data)


def test_death_without_death_day_is_refused() -> None:
    """Death active with ``death_day`` null: the record and the chart disagree."""
    chart = new_chart()
    chart.observe("death", day=5)
    data = snapshot(chart)
    data["record"]["death_day"] = None
    with pytest.raises(SnapshotError) as caught:
        restore(data)
    assert caught.value.field == "record.death_day"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"schema": "carechart.pathway-snapshot", "version": ' + "9" * 5000 + "}",
        '{"schema": "carechart.pathway-snapshot", "version": NaN}',
        '{"schema": "carechart.pathway-snapshot", "version": Infinity}',
    ],
    ids=["deep nesting", "huge integer", "NaN", "Infinity"],
)
def test_hostile_json_is_a_snapshot_error(text: str) -> None:
    """Deep nesting, integers past the digit limit, NaN and Infinity: SnapshotError."""
    with pytest.raises(SnapshotError, match="not valid JSON"):
        from_json(text)


def test_deep_nesting_inside_a_field_is_named() -> None:
    """A deeply nested value (no RecursionError) is refused at its field."""
    data = snapshot(new_chart())
    data["record"]["labs"][0]["alt_xuln"] = _deep()
    with pytest.raises(SnapshotError) as caught:
        restore(data)
    assert caught.value.field == "record.labs[0].alt_xuln"
    assert len(str(caught.value)) < 300


def test_snapshot_error_pickles_whole() -> None:
    """Its field, found and expected survive pickling (errors cross process boundaries)."""
    data = snapshot(new_chart())
    data["record"]["age"] = 7
    with pytest.raises(SnapshotError) as caught:
        restore(data)
    copy_ = pickle.loads(pickle.dumps(caught.value))
    assert (copy_.field, copy_.found, copy_.expected, str(copy_)) == (
        "record.age",
        "7",
        "an age in [18, 110] years",
        str(caught.value),
    )


# --- days at the live API ----------------------------------------------------------------------


BAD_DAYS = [math.nan, math.inf, -math.inf, "2", 10**400, True, None]
BAD_DAY_IDS = ["nan", "inf", "-inf", "text", "10**400", "True", "None"]


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.__name__)
@pytest.mark.parametrize("day", BAD_DAYS, ids=BAD_DAY_IDS)
@pytest.mark.parametrize("call", ["observe", "fire", "take"])
def test_bad_days_are_patient_errors_and_change_nothing(
    engine: Engine, day: Any, call: str
) -> None:
    """NaN, infinities, strings, huge integers and bools: PatientError, record untouched."""
    chart = restore(snapshot(new_chart()), engine)
    chart.take("start_prednisolone", day=0)
    before = to_json(chart)
    send: dict[str, Callable[[], Any]] = {
        "observe": lambda: chart.observe("labs", {"alt_xuln": 2.0}, day=day),
        "fire": lambda: chart.fire("thiopurine_due", day=day),
        "take": lambda: chart.take("continue", day=day),
    }
    with pytest.raises(PatientError, match="day must be a finite number of days"):
        send[call]()
    assert to_json(chart) == before


def test_nan_day_can_no_longer_turn_time_back() -> None:
    """Before: day=NaN was accepted and a later, earlier day passed the order check."""
    chart = new_chart()
    chart.observe("labs", {"alt_xuln": 5.0}, day=30)
    with pytest.raises(PatientError):
        chart.observe("labs", {"alt_xuln": 5.0}, day=math.nan)
    with pytest.raises(PatientError, match="before the last event"):
        chart.observe("labs", {"alt_xuln": 5.0}, day=10)
    assert chart.day == 30


# --- one chart, several threads -----------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.__name__)
def test_events_from_several_threads_are_serialised(engine: Engine) -> None:
    """Four threads sending to one chart: every step gets its own index, none is lost."""
    chart = restore(snapshot(new_chart()), engine)
    start = len(chart.trace)
    per_thread, threads = 150, 4
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            chart.observe("labs", {"alt_xuln": 8.0}, day=0)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(old)
    indexes = [s.index for s in chart.trace]
    assert indexes == list(range(start + per_thread * threads))


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.__name__)
def test_a_chart_still_copies_and_pickles(engine: Engine) -> None:
    """The lock is left out of copies; each copy gets its own and goes on independently."""
    chart = restore(snapshot(new_chart()), engine)
    chart.take("start_prednisolone", day=0)
    for twin in (copy.deepcopy(chart), pickle.loads(pickle.dumps(chart))):
        twin.observe("labs", {"alt_xuln": 4.0}, day=3)
        assert len(twin.trace) == len(chart.trace) + 1
        assert twin._lock is not chart._lock
    chart.observe("labs", {"alt_xuln": 4.0}, day=3)


@pytest.mark.parametrize(
    ("panel", "message"),
    [
        (LabPanel(day=5, alt_xuln=math.nan), "outside"),
        (LabPanel(day=5, inr=1e308), "outside"),
        (LabPanel(day=4, alt_xuln=2.0), "expected the same day"),
        ({"alt_xuln": math.nan}, "outside"),
    ],
    ids=["panel NaN", "panel 1e308", "panel of another day", "mapping NaN"],
)
def test_bad_lab_values_are_refused_before_anything_changes(panel: Any, message: str) -> None:
    """A LabPanel used to skip the ranges (NaN in snapshots); a bad mapping moved the day."""
    chart = new_chart()
    before = to_json(chart)
    with pytest.raises(PatientError, match=message):
        chart.observe("labs", panel, day=5)
    assert to_json(chart) == before
