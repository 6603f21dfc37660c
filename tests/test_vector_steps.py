"""Chart steps of a batch of patients agree with the compiled interpreter (issue 14).

Random courses run on the compiled engine with every microstep recorded: the configuration
before, the event and its arguments, the guards the interpreter evaluated and their values,
the transitions taken, the states exited and entered (in the order the interpreter entered
them) and the configuration after, or the refusal. The microsteps of several courses are
then stepped as batches, one event at a time over all the rows that met it (many
configurations mixed): :meth:`StepTables.step` must give every row the same configuration,
acceptance, transitions, exits and entries, asking each guard for exactly the rows the
interpreter asked. With :class:`RuleGuards` (conditions and permissions as masks, other
guards the chart's own, row by row, over copies of the records), the same again. On AIH and
on the toy guideline.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statemachine.exceptions import TransitionNotAllowed

from pathway import PatientRecord
from pathway.compiled import CompiledPathway
from pathway.errors import ActionNotRecommended, InvalidPathwayError, PathwayError
from pathway.executor import compile_chart, compiled_class
from pathway.guidelines.aih import rules
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.aih.vector_forms import VECTOR_RULEBOOK
from pathway.guidelines.toy.chart import ToyPathway
from pathway.guidelines.toy.record import ToyRecord
from pathway.guidelines.toy.rules import ACTIONS as TOY_ACTIONS
from pathway.guidelines.toy.rules import RULEBOOK as TOY_RULEBOOK
from pathway.vector import Batch, VectorRulebook
from pathway.vector_steps import (
    ChartActions,
    ConfigLookup,
    Outcome,
    RuleGuards,
    StepTables,
    round_groups,
)

from .strategies import apply_move, moves_any, patients, start

AIH_TABLES = StepTables(CompiledPathway.plan)
TOY_COMPILED = compiled_class(ToyPathway)
TOY_TABLES = StepTables(TOY_COMPILED.plan)
TOY_VECTOR = VectorRulebook(TOY_RULEBOOK)


@dataclass
class Micro:
    """One microstep as the compiled interpreter took it."""

    config: tuple[str, ...]
    event: str
    kwargs: dict[str, Any]
    record: Any
    guards: dict[str, bool] = field(default_factory=dict)
    accepted: bool = False
    after: tuple[str, ...] = ()
    selected: tuple[Any, ...] = ()
    exits: frozenset[str] = frozenset()
    entries: list[str] = field(default_factory=list)
    owner: Any = None  # the chart, and the index of the trace step this microstep is part of
    step_index: int = -1
    after_record: Any = None  # the last microstep of a send: the record when send returns


class _Recorded:
    """Mixed into a compiled chart class: records every microstep in ``log``."""

    log: list[Micro]
    copy_records = True

    def _process(self, event: str, kwargs: dict[str, Any]) -> None:
        chart: Any = self
        record = copy.deepcopy(chart.model) if self.copy_records else None
        micro = Micro(tuple(chart._config), event, dict(kwargs), record)
        micro.owner, micro.step_index = chart, len(chart.trace)
        self.log.append(micro)
        self._micro: Micro | None = micro
        try:
            super()._process(event, kwargs)  # type: ignore[misc]  # may refuse: not accepted
            micro.accepted = True
            micro.after = tuple(chart._config)
        finally:
            self._micro = None

    def send(self, event: str, *args: Any, **kwargs: Any) -> Any:
        chart: Any = self
        before = len(self.log)
        result = super().send(event, *args, **kwargs)  # type: ignore[misc]
        if self.copy_records and len(self.log) > before:
            self.log[-1].after_record = copy.deepcopy(chart.model)
        return result

    def _call(self, cb: Any, t: Any, event: str, kwargs: dict[str, Any]) -> Any:
        value = super()._call(cb, t, event, kwargs)  # type: ignore[misc]
        micro = getattr(self, "_micro", None)
        if micro is not None and any(c is cb for c in t.conds):
            assert micro.guards.setdefault(cb.name, bool(value)) == bool(value)
        return value

    def _microstep(self, selected: list[Any], event: str, kwargs: dict[str, Any]) -> None:
        chart: Any = self
        micro = self._micro
        assert micro is not None
        micro.selected = tuple(selected)
        micro.exits = frozenset(s for t in selected for s in chart._exit_set(t))
        super()._microstep(selected, event, kwargs)  # type: ignore[misc]

    def _enter(self, states: Any) -> None:
        chart: Any = self
        micro = getattr(self, "_micro", None)
        if micro is not None:
            for sid in states:
                if sid not in chart._config and sid not in micro.entries:
                    micro.entries.append(sid)
        super()._enter(states)  # type: ignore[misc]


class _AIH(_Recorded, CompiledPathway):
    pass


class _Toy(_Recorded, TOY_COMPILED):  # type: ignore[misc,valid-type]
    pass


def _asked_by(micros: list[Micro], asked: set[tuple[int, str]]) -> Any:
    """A guard callable answering with the recorded values, noting what it was asked."""

    def guards(name: str, code: int, rows: Any) -> Any:
        out = []
        for r in rows.tolist():
            assert (r, name) not in asked, f"guard {name!r} asked twice for row {r}"
            asked.add((r, name))
            out.append(micros[r].guards[name])
        return np.array(out, dtype=bool)

    return guards


def _check(tables: StepTables, micros: list[Micro], guards_for: Any) -> list[Outcome]:
    """Step every event's microsteps as one batch and compare row by row; the outcomes."""
    outcomes: list[Outcome | None] = [None] * len(micros)
    by_event: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(micros):
        by_event[m.event].append(i)
    for event, index in by_event.items():
        batch = [micros[i] for i in index]
        codes = tables.encode(m.config for m in batch)
        asked: set[tuple[int, str]] = set()
        result = tables.step(codes, event, guards_for(batch, codes, event, asked))
        for r, m in enumerate(batch):
            got = outcomes[index[r]] = result.of(r)
            assert bool(result.accepted[r]) is m.accepted, (event, m.config)
            if not m.accepted:
                assert result.codes[r] == codes[r]
                assert not got.transitions
                continue
            assert tables.configuration(int(result.codes[r])) == m.after, (event, m.config)
            assert got.transitions == m.selected
            assert set(got.exits) == m.exits
            assert list(got.exits) == sorted(m.exits, key=tables.plan.order.__getitem__)[::-1]
            assert list(got.entries) == m.entries
        if guards_for is _recorded_guards:  # the guards asked where the interpreter asked
            want = {(r, name) for r, m in enumerate(batch) for name in m.guards}
            assert asked == want, event
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


def _check_trace(tables: StepTables, micros: list[Micro], outcomes: list[Outcome]) -> None:
    """Each trace step's transits are its microsteps' outcome transits, concatenated and
    stably sorted by the source's document order (what the runtime records)."""
    steps: dict[tuple[int, int], list[Any]] = defaultdict(list)
    owners = {}
    for m, o in zip(micros, outcomes, strict=True):
        steps[(id(m.owner), m.step_index)].extend(o.transits)
        owners[id(m.owner)] = m.owner
    order = tables.plan.order
    for (owner, index), transits in steps.items():
        trace = owners[owner].trace
        step = trace[index]
        want = step.transits if step.carried_out else ()
        got = tuple(sorted(transits, key=lambda t: order[t.source]))
        assert got == want, step


def _recorded_guards(batch: list[Micro], codes: Any, event: str, asked: set[Any]) -> Any:
    return _asked_by(batch, asked)


def _aih_rule_guards(
    th: Thresholds,
    batch: list[Micro],
    codes: Any,
    event: str,
    asked: set[Any],
    ahead: bool = False,
) -> Any:
    opt = GuidelineOptions()
    records = [m.record for m in batch]

    def mixed_for(rows: Any, row_codes: Any) -> Batch:
        out = Batch(len(rows), frozenset(), records=[records[i] for i in rows.tolist()])
        out.configured(row_codes, ConfigLookup(AIH_TABLES))
        return out

    return RuleGuards(
        AIH_TABLES,
        VECTOR_RULEBOOK,
        rules.CONDITIONS,
        [m.record for m in batch],
        codes,
        th,
        opt,
        event=event,
        args={
            "deviate": [bool(m.kwargs.get("deviate", False)) for m in batch],
            "value": [m.kwargs.get("value") for m in batch],
        },
        mixed_for=mixed_for if ahead else None,
    )


def _toy_rule_guards(batch: list[Micro], codes: Any, event: str, asked: set[Any]) -> Any:
    """Toy guards, with every column made up front by ``batch_for`` (a columnar engine's
    seam), asked once per configuration with its rows."""
    records = [m.record for m in batch]
    schema = TOY_RULEBOOK.schema
    seen: set[int] = set()

    def batch_for(code: int, rows: Any) -> Batch:
        assert code not in seen
        seen.add(code)
        assert rows.tolist() == np.flatnonzero(codes == code).tolist()
        chosen = [records[i] for i in rows.tolist()]
        return Batch.from_records(chosen, TOY_TABLES.configuration(code), schema, schema.fields)

    return RuleGuards(
        TOY_TABLES,
        TOY_VECTOR,
        {},
        records,
        codes,
        TOY_COMPILED.guideline.thresholds(),
        TOY_COMPILED.guideline.options(),
        event=event,
        args={"deviate": [bool(m.kwargs.get("deviate", False)) for m in batch]},
        batch_for=batch_for,
    )


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _aih_courses(courses: list[tuple[Any, list[Any]]], th: Thresholds) -> list[Micro]:
    micros: list[Micro] = []
    for patient, moves in courses:
        _AIH.log = micros
        engine = functools.partial(_AIH, thresholds=th)
        chart = start(patient, {"alt_xuln": 6.0, "igg_xuln": 1.6}, engine=engine)  # type: ignore[arg-type]
        assert chart.thresholds is th
        assert chart.options == GuidelineOptions()
        for move in moves:
            try:
                apply_move(chart, move)
            except PathwayError:
                break
    return micros


_AIH_COURSES = st.lists(st.tuples(patients, moves_any), min_size=1, max_size=4)


def _check_macro(
    tables: StepTables, micros: list[Micro], th: Any, opt: Any, conditions: Any, book: Any
) -> int:
    """The interpreter's sends replayed as macrosteps, batched by event: each row's final
    configuration, acceptance, trace transits and record (actions run row by row) are the
    interpreter's. Returns the number of internal-event waves met."""
    sends: dict[tuple[int, int], list[Micro]] = defaultdict(list)
    for m in micros:
        sends[(id(m.owner), m.step_index)].append(m)
    by_event: dict[str, list[list[Micro]]] = defaultdict(list)
    for group in sends.values():
        by_event[group[0].event].append(group)
    guideline = tables.plan.chart_class.guideline  # type: ignore[attr-defined]
    waves = 0
    for event, groups in by_event.items():
        records = [copy.deepcopy(g[0].record) for g in groups]
        codes = tables.encode(g[0].config for g in groups)
        keys = sorted({k for g in groups for k in g[0].kwargs})
        args = {k: [g[0].kwargs.get(k) for g in groups] for k in keys}

        def guards_for(
            event: str, rows: Any, codes: Any, args: Any, records: list[Any] = records
        ) -> RuleGuards:
            chosen = [records[i] for i in rows.tolist()]
            return RuleGuards(
                tables, book, conditions, chosen, codes, th, opt, event=event, args=args
            )

        def on_wave(event: str, rows: Any, result: Any, records: list[Any] = records) -> None:
            for outcome, at in result.by_outcome():  # the runtime's on_enter_state
                for row in rows[at].tolist():
                    p = records[row]
                    for sid in outcome.entries:
                        p.entered[sid] = p.day
                        for timer in guideline.timers.by_state.get(sid, ()):
                            p.timers_fired.pop(timer.id, None)

        actions = ChartActions(tables, records, th, opt)
        result = tables.macrostep(codes, event, args, guards_for, actions, on_wave)
        waves += len(result.waves) - 1
        for r, g in enumerate(groups):
            assert bool(result.accepted[r]) is g[0].accepted
            assert len(result.outcomes(r)) == len(g)
            if not g[0].accepted:
                continue
            assert tables.configuration(int(result.codes[r])) == g[-1].after
            assert result.transits(r) == g[0].owner.trace[g[0].step_index].transits
            got, want = records[r], g[-1].after_record
            got.state = want.state = None  # the configuration: compared above
            assert got == want, event
            assert (list(got.entered), list(got.timers_fired)) == (  # order too
                list(want.entered),
                list(want.timers_fired),
            )
    return waves


#: Thresholds the AIH routing conditions read, overridden at random (as ``--set`` does).
_AIH_THRESHOLDS = st.builds(
    Thresholds().with_overrides,
    relapse_alt_xuln=st.floats(1.5, 5.0),
    active_transaminase_xuln=st.floats(2.0, 5.0),
    acute_severe_inr=st.floats(1.2, 2.0),
)


@_SETTINGS
@given(_AIH_COURSES, _AIH_THRESHOLDS)
def test_aih_batch_steps_agree_with_the_compiled_interpreter(courses: Any, th: Any) -> None:
    """Configuration, acceptance, transitions, exits and entries of every microstep of
    random AIH courses under random thresholds; guards asked for exactly the rows the
    interpreter asked; the trace's transits."""
    micros = _aih_courses(courses, th)
    outcomes = _check(AIH_TABLES, micros, _recorded_guards)
    _check(AIH_TABLES, micros, functools.partial(_aih_rule_guards, th))
    # The same with the first guards asked ahead over rows of several configurations.
    _check(AIH_TABLES, micros, functools.partial(_aih_rule_guards, th, ahead=True))
    _check_trace(AIH_TABLES, micros, outcomes)
    _check_macro(AIH_TABLES, micros, th, GuidelineOptions(), rules.CONDITIONS, VECTOR_RULEBOOK)


def test_a_transplant_raises_an_internal_event_stepped_in_the_same_macrostep() -> None:
    """``transplanted`` runs ``receive_graft``, which raises ``graft_received``: the
    macrostep steps it for the rows that raised it (liver stage reset, steroid region as its
    guard says), with the interpreter's configuration, transits and record."""
    th = Thresholds()
    micros: list[Micro] = []
    _AIH.log = micros
    for cirrhosis in ("compensated", "decompensated", "none"):
        p = PatientRecord("tx", age=50, sex="M", weight_kg=80, cirrhosis=cirrhosis)
        chart: Any = start(p, {"alt_xuln": 6.0, "igg_xuln": 1.6}, engine=_AIH)
        chart.take("refer_transplant", day=10, deviate=True)
        assert "transplant" in chart.active
        chart.observe("transplanted", None, day=20)
        assert {"graft_stable", "noncirrhotic"} <= chart.active
    assert sum(m.event == "graft_received" for m in micros) == 3
    opt = GuidelineOptions()
    waves = _check_macro(AIH_TABLES, micros, th, opt, rules.CONDITIONS, VECTOR_RULEBOOK)
    assert waves == 1  # the three patients' graft_received in one wave


_TOY_MOVES = st.lists(
    st.one_of(
        st.tuples(st.just("score"), st.floats(0, 20)),
        st.tuples(st.just("timer"), st.none()),
        st.tuples(st.sampled_from(TOY_ACTIONS), st.booleans()),
        st.tuples(st.just("death"), st.none()),
    ),
    max_size=25,
)


def _toy_courses(courses: list[tuple[float, list[Any]]]) -> list[Micro]:
    micros: list[Micro] = []
    for score, moves in courses:
        _Toy.log = micros
        chart: Any = _Toy(ToyRecord("t", score=score))
        day = 0.0
        for kind, payload in moves:
            if chart.is_dead:
                break
            day += 7
            try:
                if kind == "score":
                    chart.observe("score", payload, day=day)
                elif kind == "death":
                    chart.observe("death", None, day=day)
                elif kind == "timer":
                    pending = chart.pending_timers()
                    if pending:
                        due = max(chart.day, pending[0].due_day)
                        chart.fire(pending[0].timer_id, day=due)
                        day = due
                else:
                    chart.take(kind, day=day, deviate=payload)
            except ActionNotRecommended:
                pass
    return micros


@_SETTINGS
@given(st.lists(st.tuples(st.floats(0, 20), _TOY_MOVES), min_size=1, max_size=5))
def test_toy_batch_steps_agree_with_the_compiled_interpreter(courses: Any) -> None:
    """The same on the toy guideline: the engine knows no disease."""
    micros = _toy_courses(courses)
    outcomes = _check(TOY_TABLES, micros, _recorded_guards)
    _check(TOY_TABLES, micros, _toy_rule_guards)
    _check_trace(TOY_TABLES, micros, outcomes)
    toy = TOY_COMPILED.guideline
    _check_macro(TOY_TABLES, micros, toy.thresholds(), toy.options(), {}, TOY_VECTOR)


class _Forced:
    """Mixed into a compiled chart class: guards answer from ``forced``, actions do nothing."""

    forced: dict[str, bool]

    def _call(self, cb: Any, t: Any, event: str, kwargs: dict[str, Any]) -> Any:
        return self.forced[cb.name] if any(c is cb for c in t.conds) else None


class _ForcedAIH(_Recorded, _Forced, CompiledPathway):
    copy_records = False


class _ForcedToy(_Recorded, _Forced, TOY_COMPILED):  # type: ignore[misc,valid-type]
    copy_records = False


_EXPLORED: dict[int, StepTables] = {}


def _explored(plan: Any) -> StepTables:
    """Tables of ``plan`` with every reachable configuration registered (built once)."""
    tables = _EXPLORED.get(id(plan))
    if tables is None:
        tables = _EXPLORED[id(plan)] = StepTables(plan)
        tables.explore()
    return tables


@pytest.mark.parametrize(
    ("chart_class", "record"),
    [(_ForcedAIH, None), (_ForcedToy, ToyRecord("t"))],
    ids=["aih", "toy"],
)
def test_every_configuration_and_event_with_guards_forced(chart_class: Any, record: Any) -> None:
    """Every reachable configuration, every event it handles, every combination of the
    truths of the guards its candidates ask (actions do nothing): the batch step is the
    interpreter's microstep."""
    tables = _explored(chart_class.plan)
    micros: list[Micro] = []
    chart_class.log = micros
    chart: Any = chart_class(record if record is not None else _aih_patient())
    for code in range(len(tables)):
        for event in sorted(tables.allowed_events(code)):  # the others: refused
            names = sorted(
                {n for g in tables.candidates(code, event) for c in g for n, _ in c.guards}
            )
            assert len(names) <= 6
            for bits in range(1 << len(names)):
                chart.forced = {n: bool(bits >> i & 1) for i, n in enumerate(names)}
                chart._config[:] = tables.configuration(code)
                chart._views = None
                with contextlib.suppress(TransitionNotAllowed):
                    chart._process(event, {})
        chart._config[:] = tables.configuration(code)  # the events each configuration handles
        chart._views = None
        assert tables.allowed_events(code) == chart.allowed_event_ids()
    _check(tables, micros, _recorded_guards)


def _aih_patient() -> Any:
    return PatientRecord("f1", age=40, sex="F", weight_kg=70)


def test_the_reachable_configurations_of_both_charts() -> None:
    """Exploration registers the initial configuration first and every target of every
    outcome; the toy's five configurations are its four care states and death."""
    tables = StepTables(compile_chart(ToyPathway))
    assert tables.explore() == 5 == len(tables)
    assert {tables.configuration(c) for c in range(5)} == {
        ("alive", s) for s in ("untreated", "on_alfa", "on_beta", "remission")
    } | {("death",)}
    aih = _explored(CompiledPathway.plan)
    count = len(aih)
    assert count == len(aih) > 100
    assert aih.initial == 0
    assert all(o.target < len(aih) for o in aih.outcomes)
    for o in aih.outcomes:  # descendants are exited before their ancestors
        for i, sid in enumerate(o.exits):
            assert not set(aih.plan.ancestors[sid]) & set(o.exits[:i]), (o.code, o.event)
    actions = {(o.event, o.actions) for o in aih.outcomes if o.actions}
    assert ("transplanted", ("receive_graft",)) in actions
    assert ("labs", ("begin_relapse",)) in actions
    dead = aih.code(["death"])
    assert not any(aih.candidates(dead, e) for e in aih.events)
    again = StepTables(CompiledPathway.plan)
    again.explore()
    assert [again.configuration(c) for c in range(len(again))] == [
        aih.configuration(c) for c in range(count)
    ]  # the same codes in every process
    with pytest.raises(InvalidPathwayError, match="more than 10"):
        StepTables(CompiledPathway.plan).explore(limit=10)


def test_codes_bits_and_state_masks() -> None:
    """A configuration's code does not depend on the order its ids are given in; its
    bitset has one bit per active state in document order; unknown ids are refused."""
    tables = StepTables(compile_chart(ToyPathway))
    code = tables.code(["untreated", "alive"])
    assert code == tables.code(["alive", "untreated"]) == tables.initial
    order = tables.plan.order
    assert tables.bits(code) == (1 << order["alive"]) | (1 << order["untreated"])
    dead = tables.code(["death"])
    codes = np.array([code, dead, code])
    assert tables.in_state("alive")[codes].tolist() == [True, False, True]
    with pytest.raises(InvalidPathwayError, match="no state 'nowhere'"):
        tables.code(["alive", "nowhere"])


def test_a_refused_event_keeps_the_configuration() -> None:
    """``stop_drug`` from ``untreated`` has no transition: refused, code unchanged."""
    tables = StepTables(compile_chart(ToyPathway))
    codes = np.array([tables.initial] * 3)
    result = tables.step(codes, "stop_drug", lambda name, code, rows: np.ones(len(rows), bool))
    assert result.accepted.tolist() == [False] * 3
    assert result.codes.tolist() == codes.tolist()
    assert [o.accepted for o, _ in result.by_outcome()] == [False]


def test_rows_split_by_guard_and_group_by_outcome() -> None:
    """``start_alfa`` from ``untreated``: rows whose guard holds move to ``on_alfa`` and
    exit ``untreated``; the others are refused; outcomes group the rows."""
    tables = StepTables(compile_chart(ToyPathway))
    codes = np.array([tables.initial] * 4)
    allow = np.array([True, False, True, False])
    result = tables.step(codes, "start_alfa", lambda name, code, rows: allow[rows])
    on_alfa = tables.code(["alive", "on_alfa"])
    assert result.codes.tolist() == [on_alfa, tables.initial, on_alfa, tables.initial]
    groups = {o.accepted: rows.tolist() for o, rows in result.by_outcome()}
    assert groups == {True: [0, 2], False: [1, 3]}
    taken = result.of(0)
    assert (taken.exits, taken.entries) == (("untreated",), ("on_alfa",))


def test_round_groups() -> None:
    """One group per distinct (code, kind), rows ascending within a group."""
    codes = np.array([3, 1, 3, 1, 3, 0])
    kinds = np.array([0, 2, 0, 1, 1, 0])
    g = round_groups(codes, kinds)
    assert list(zip(g.codes.tolist(), g.kinds.tolist(), strict=True)) == [
        (0, 0), (1, 1), (1, 2), (3, 0), (3, 1),
    ]  # fmt: skip
    assert [g.rows(i).tolist() for i in range(len(g))] == [[5], [3], [1], [0, 2], [4]]
    assert g.sizes.sum() == len(codes)
    assert len(round_groups(np.zeros(0), np.zeros(0))) == 0
    with pytest.raises(ValueError, match="differ in shape"):
        round_groups(np.zeros(2), np.zeros(3))
