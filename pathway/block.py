"""Many patients of one guideline stepping the chart together, as columns (issue 14).

:class:`BlockPathway` does for a set of rows at once what :class:`~pathway.runtime.
PathwayRuntime` does for one patient: ``observe``, ``fire`` and ``take`` with the payload
checks, the declared effects over the columns (:class:`~pathway.vector_effects.
VectorEffects`), the chart step (:meth:`~pathway.vector_steps.StepTables.macrostep` with
:class:`~pathway.vector_steps.RuleGuards` and the chart's own actions), the runtime's
bookkeeping (entry days, fired counts, the day, the trace's :class:`~pathway.runtime.Step`
objects, deviations and breaches) and the invariants after each step
(:meth:`~pathway.vector.VectorRulebook.broken`, with the memo); the pending timers from the
timer columns; the first-ranked recommendation (:meth:`~pathway.vector.VectorRulebook.top`)
and the guideline policy's loop over rows (:meth:`BlockPathway.act`).

The block keeps the records as one :class:`~pathway.columns.RecordColumns` (never rebuilt
from records) and each row's configuration code (:class:`~pathway.vector_steps.
StepTables`). A call takes a view of its rows' columns (:meth:`~pathway.columns.
RecordColumns.view`: a column is gathered when first read), evaluates its invariants,
declared effect and recommendations over all of them at once (each row's configuration a
code column of the batch: :meth:`~pathway.vector.Batch.configured`), steps the chart code
by code, and writes back the columns it read. A
guideline's effect without a declaration, a guard or transition action of the chart, a
function without a vector form run row by row on records made from the columns (correct
first; the interpreters count them). :meth:`BlockPathway.result` gives one row as
an object with what a driver reads of a finished chart (record, trace, violations, ...).

This module knows no guideline: a guideline hands its vector parts in a
:class:`BlockGuideline` (AIH: :data:`pathway.guidelines.aih.block.AIH_BLOCK`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, repeat, starmap
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .bundle import Guideline
from .care import care_state
from .columns import Layout, RecordColumns
from .declarations import Breach
from .errors import (
    ActionNotRecommended,
    EventNotHandled,
    InvariantViolation,
    PathwayError,
    PatientError,
)
from .executor import ChartPlan, compiled_class
from .expr import Expr
from .invariants import Violation
from .records import record_to_dict
from .runtime import PendingTimer, Recommendation, Step, StepKind, Transit, _detail, vars_of
from .timer_columns import timer_offsets, timer_starts
from .timers import Timer
from .vector import Batch, VectorRulebook
from .vector_effects import LiveRecords, VectorEffects
from .vector_steps import (
    ChartActions,
    ConfigLookup,
    MacroResult,
    Outcome,
    RuleGuards,
    StepTables,
    by_code,
)

__all__ = ["BlockChart", "BlockGuideline", "BlockPathway", "NumbersPayload", "tables_for"]

Array = NDArray[Any]

#: A policy that keeps acting after this many actions on one day has a modelling bug (the
#: simulation's ``MAX_ACTIONS_PER_STEP``; the engine cannot import it).
DEFAULT_MAX_ACTIONS = 12


#: ``(days, names, values) -> effect values``: each row's value for the finding's effect,
#: from its day and its checked numbers (``values``: rows x ``names``, float64).
PayloadMaker = Callable[[Array, tuple[str, ...], Array], list[Any]]


@dataclass(frozen=True)
class NumbersPayload:
    """How a finding whose payload is a plain ``dict`` of named numbers is checked as arrays.

    A guideline declares it for such a finding (AIH: the lab panel of ``labs``) when its
    scalar ``check_payload`` accepts exactly these payloads: a non-empty ``dict``, every
    name a key of ``ranges``, every value an ``int`` or ``float`` (not ``bool``, not NaN)
    within the name's inclusive range; returns the payload itself as the trace's value;
    and gives the effect what ``make`` gives. :meth:`BlockPathway.observe` takes this path
    when every row's payload is a plain ``dict`` of ``int`` and ``float`` values that
    passes; anything else (another type, a bad row) goes through the scalar check row by
    row, so errors are the scalar check's, the first bad row's first.

    Attributes:
        ranges: each known name's inclusive range ``(low, high)``.
        make: the effect's value of each row (:data:`PayloadMaker`).
    """

    ranges: Mapping[str, tuple[float, float]]
    make: PayloadMaker


@dataclass(frozen=True)
class BlockGuideline:
    """What a block needs of a guideline besides its bundle: its vector parts.

    Attributes:
        guideline: the bundle (chart, record, rulebook, effects, timers, invariants).
        layout: the record as columns.
        rulebook: the rulebook as masks (with the guideline's vector forms).
        conditions: the named conditions the chart's guards are (guard name -> expression).
        effects: the declared effects over columns; ``None`` (or an effect it does not
            declare): the bundle's effect functions, row by row on records.
        payloads: the findings whose payloads are checked as arrays, by finding (the
            others: the bundle's ``check_payload`` row by row).
    """

    guideline: Guideline
    layout: Layout
    rulebook: VectorRulebook
    conditions: Mapping[str, Expr] = field(default_factory=dict)
    effects: VectorEffects | None = None
    payloads: Mapping[str, NumbersPayload] = field(default_factory=dict)


_TABLES: dict[type, StepTables] = {}


def tables_for(chart: type[Any]) -> StepTables:
    """The step tables of a chart class's compiled plan (one per chart, kept)."""
    found = _TABLES.get(chart)
    if found is None:
        found = _TABLES[chart] = StepTables(compiled_class(chart).plan)
    return found


@dataclass
class BlockChart:
    """One row of a block as a finished chart: what drivers and outputs read of one.

    ``patient`` is the record made from the row's columns (with ``state`` set to the
    configuration, in document order, as the compiled executor keeps it).
    """

    guideline: Guideline
    patient: Any
    trace: list[Step]
    violations: list[Violation]
    active: frozenset[str]
    configuration: tuple[str, ...]
    deviated: bool
    thresholds: Any
    options: Any

    @property
    def model(self) -> Any:
        """The patient record (the chart's model)."""
        return self.patient

    @property
    def care_state(self) -> str:
        """The care state the patient is in (:func:`pathway.care.care_state`)."""
        return care_state(self.active, self.guideline.care_line)

    @property
    def is_dead(self) -> bool:
        """True once the patient has died (the chart's final state)."""
        return self.guideline.final_state in self.active

    @property
    def day(self) -> float:
        """Day of the latest event (days from diagnosis)."""
        return float(self.patient.day)

    def sorted_configuration(self) -> tuple[str, ...]:
        """Ids of all active states, sorted by name (as steps record them)."""
        return tuple(sorted(self.active))

    def in_state(self, state_id: str) -> bool:
        """True when ``state_id`` is active at any depth."""
        return state_id in self.active


class _Call:
    """One call's rows: a view of their columns, their codes, what was written."""

    def __init__(self, block: BlockPathway, rows: Array) -> None:
        self.block = block
        self.rows = rows
        self.n = len(rows)
        self.sub = block.columns.view(rows)
        self.live = LiveRecords(self.sub)
        self.before = block.codes[rows].copy()
        self.codes = self.before.copy()
        #: Record fields written for every row (for the memo); the day apart (:meth:`at`).
        self.fields: set[str] = set()
        #: Rows whose day the call moved (most of a decision's actions fall on its day).
        self.day_moved = np.zeros(self.n, dtype=bool)
        #: Rows (indices into the call) changed by Python (anything may have changed).
        self.touched = np.zeros(self.n, dtype=bool)

    def at(self, days: Array) -> None:
        """The rows' day is ``days`` from now on (the memo is told where it moved)."""
        col = self.sub.plain["day"]
        self.day_moved = col != days
        col[:] = days

    def batch(self, code: int, idx: Array) -> Batch:
        """The columns of the call's rows ``idx`` (all in configuration ``code``) as a
        batch for the interpreter: a snapshot, read only."""
        return self.mixed(idx, np.full(len(idx), code, dtype=np.int64))

    def mixed(self, idx: Array | None = None, codes: Array | None = None) -> Batch:
        """The call's rows ``idx`` (default: all) as one batch, each in its configuration
        (``codes``, default: the rows' configurations now): a snapshot, read only."""
        if idx is None or (len(idx) == self.n and bool((idx == np.arange(self.n)).all())):
            part = self.sub
        else:
            part = self.sub.view(idx)
        batch = part.batch(frozenset())
        batch.configured(self.codes if codes is None else codes, self.block.configs)
        batch.records = LiveRecords(part)
        return batch

    def record(self, i: int) -> Any:
        """Row ``i``'s record as the columns hold it now (written back by :meth:`put`)."""
        return self.live[i]

    def put(self, idx: Sequence[int]) -> None:
        """Write the live records of rows ``idx`` back into the columns."""
        for i in idx:
            self.sub.put(i, self.live[i])
        self.live.forget()
        self.touched[list(idx)] = True


def _numbers_checked(
    spec: NumbersPayload, values: Sequence[Any], days: Array
) -> tuple[list[Any], list[str]] | None:
    """The effect values and details of payloads that are all plain dicts of valid
    numbers (see :class:`NumbersPayload`); ``None`` when any is not (the caller checks
    row by row then)."""
    n = len(values)
    if not n or set(map(type, values)) != {dict}:
        return None
    keys = list(map(tuple, values))
    groups: dict[tuple[str, ...], list[int]] = {}
    if len(set(keys)) == 1:
        groups[keys[0]] = list(range(n))
    else:
        for i, k in enumerate(keys):
            groups.setdefault(k, []).append(i)
    effect_values: list[Any] = [None] * n
    details: list[str] = [""] * n
    ranges = spec.ranges
    for names, at in groups.items():
        if not names or not all(name in ranges for name in names):
            return None
        whole = len(at) == n
        mine = values if whole else [values[i] for i in at]
        flat = list(chain.from_iterable(map(dict.values, mine)))
        if not set(map(type, flat)) <= {float, int}:
            return None  # bool, numpy scalars, text: the scalar check decides
        try:
            table = np.array(flat, dtype=np.float64).reshape(len(at), len(names))
        except OverflowError:
            return None
        low = np.array([ranges[name][0] for name in names], dtype=np.float64)
        high = np.array([ranges[name][1] for name in names], dtype=np.float64)
        if not ((table >= low) & (table <= high)).all():  # NaN fails both
            return None
        # The runtime's ``_detail`` of a dict of numbers, one format call per row.
        template = ";".join(name.replace("{", "{{").replace("}", "}}") + "={:g}" for name in names)
        texts = list(starmap(template.format, map(dict.values, mine)))
        made = spec.make(days if whole else days[at], names, table)
        if whole:
            return made, texts
        for i, text, value in zip(at, texts, made, strict=True):
            details[i] = text
            effect_values[i] = value
    return effect_values, details


class _Rows(Sequence[Any]):
    """Live records of some of a call's rows, indexed from 0 (what guards read)."""

    def __init__(self, live: LiveRecords, idx: Array) -> None:
        self.live, self.idx = live, idx

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i: Any) -> Any:
        return self.live[int(self.idx[i])]


class _PutBack:
    """The chart's own transition actions (:class:`ChartActions`) on a call's live
    records, each record written back into the columns after its actions ran."""

    def __init__(self, call: _Call) -> None:
        b = call.block
        self.call = call
        self.inner = ChartActions(b.tables, call.live, b.thresholds, b.options)

    def __call__(
        self, outcome: Outcome, rows: Array, args: Mapping[str, Sequence[Any]]
    ) -> list[Any]:
        raised = self.inner(outcome, rows, args)
        self.call.put(rows.tolist())
        return raised


class BlockPathway:
    """``n`` patients of one guideline on the chart, as columns (see the module docstring).

    Rows are the patients' indices in ``records``; every call takes the rows it applies to
    (each at most once) and their days (one number for all, or one per row). The records
    are read once: the block keeps their columns, and :meth:`record` or :meth:`result`
    makes a row's record again.

    Args:
        parts: the guideline and its vector parts.
        records: the patients' records, fresh (no configuration yet).
        thresholds, options: shared by every row (default: the guideline's).
        strict_invariants: raise :class:`~pathway.errors.InvariantViolation` when a hard
            invariant breaks in a course without deviation (as the runtime does).
        max_actions: the policy loop's limit of actions per decision (:meth:`act`).
    """

    def __init__(
        self,
        parts: BlockGuideline,
        records: Sequence[Any],
        *,
        thresholds: Any = None,
        options: Any = None,
        strict_invariants: bool = True,
        max_actions: int = DEFAULT_MAX_ACTIONS,
    ) -> None:
        g = self.guideline = parts.guideline
        self.parts = parts
        for r in records:
            if not isinstance(r, g.record):
                raise PatientError(
                    f"block of guideline {g.name!r}: records are {g.record.__name__}; "
                    f"got {type(r).__name__}"
                )
            if getattr(r, "state", None):
                raise PatientError("block: records must be fresh (no configuration yet)")
        self.tables = tables_for(g.chart)
        self.plan: ChartPlan = self.tables.plan
        self.thresholds = thresholds or g.thresholds()
        self.options = options or g.options()
        self.strict = strict_invariants
        self.max_actions = max_actions
        n = self.n = len(records)
        self.columns = RecordColumns.from_records(parts.layout, records)
        self.codes = np.full(n, self.tables.initial, dtype=np.int64)
        self.traces: list[list[Step]] = [[] for _ in range(n)]
        self.violations: list[list[Violation]] = [[] for _ in range(n)]
        self._open: list[frozenset[str]] = [frozenset()] * n
        self.deviated = np.zeros(n, dtype=bool)
        self.memo = parts.rulebook.memo(n)
        self._final = self.tables.in_state(g.final_state)
        self._by_name: dict[int, tuple[str, ...]] = {}
        self.configs = ConfigLookup(self.tables)
        #: Per configuration code, which actions (in the rulebook's ranking order) are
        #: among its events: the columns of :meth:`top`'s ``possible`` table.
        self._possible: dict[int, Array] = {}
        #: Group evaluations made, by part ("invariants", "recommendations", "effects",
        #: "guards", "judged"): each is one pass of the interpreter over a set of rows,
        #: with a fixed cost (what the configuration as a column cuts).
        self.evaluations: dict[str, int] = dict.fromkeys(
            ("invariants", "recommendations", "effects", "guards", "judged"), 0
        )
        self._order = {rule_id: k for k, rule_id in enumerate(g.invariants)}
        self._timer_index = {t.id: k for k, t in enumerate(g.timers.timers)}
        self._enter(self.columns, np.arange(n), self.plan.initial)

    # --- state ------------------------------------------------------------------------------

    def _dead(self, codes: Array) -> Array:
        if len(self._final) < len(self.tables):
            self._final = self.tables.in_state(self.guideline.final_state)
        return np.asarray(self._final[codes], dtype=bool)

    def is_dead(self, rows: Any = None) -> Array:
        """Per row (all rows when ``None``), whether the patient has died."""
        return self._dead(self.codes if rows is None else self.codes[self._rows(rows)])

    def active(self, row: int) -> frozenset[str]:
        """Row ``row``'s active states."""
        return self.active_of(int(self.codes[row]))

    def active_of(self, code: int) -> frozenset[str]:
        """The active states of configuration ``code`` (kept per code)."""
        return self.configs.active_of(code)

    def day(self, rows: Any = None) -> Array:
        """Per row, the day of its latest event."""
        days = self.columns.plain["day"]
        return days.copy() if rows is None else days[self._rows(rows)]

    def record(self, row: int) -> Any:
        """Row ``row``'s record, made from the columns (``state``: its configuration)."""
        record = self.columns.record(int(row))
        record.state = list(self.tables.configuration(int(self.codes[row])))
        return record

    def result(self, row: int) -> BlockChart:
        """Row ``row`` as a finished chart (what ``collect_patient`` reads of one)."""
        config = self.tables.configuration(int(self.codes[row]))
        return BlockChart(
            self.guideline,
            self.record(row),
            self.traces[row],
            self.violations[row],
            frozenset(config),
            config,
            bool(self.deviated[row]),
            self.thresholds,
            self.options,
        )

    def _configuration(self, code: int) -> tuple[str, ...]:
        found = self._by_name.get(code)
        if found is None:
            found = self._by_name[code] = tuple(sorted(self.tables.configuration(code)))
        return found

    # --- arguments ----------------------------------------------------------------------------

    def _rows(self, rows: Any) -> Array:
        out = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(out) and (out.min() < 0 or out.max() >= self.n):
            raise PatientError(f"block rows must be in [0, {self.n}); got {out.tolist()}")
        if len(np.unique(out)) != len(out):
            raise PatientError("block: a call takes each row at most once")
        return out

    def _days(self, day: Any, rows: Array) -> Array:
        days = np.broadcast_to(np.asarray(day, dtype=np.float64), (len(rows),)).copy()
        if not np.isfinite(days).all():
            raise PatientError(f"day must be a finite number of days (got {day!r})")
        return days

    def _advance(self, rows: Array, days: Array) -> None:
        """The runtime's ``_advance_to`` checks, for every row (nothing changes yet)."""
        dead = self._dead(self.codes[rows])
        if dead.any():
            i = int(rows[np.flatnonzero(dead)[0]])
            raise PathwayError(f"block row {i} has died; no further events")
        before = self.columns.plain["day"][rows]
        back = days < before
        if back.any():
            k = int(np.flatnonzero(back)[0])
            raise PatientError(
                f"day {days[k]:g} is before the last event (day {before[k]:g}) of row {rows[k]}"
            )

    def _require_handled(self, rows: Array, event: str, days: Array) -> None:
        self._advance(rows, days)
        for code, idx in by_code(self.codes[rows]):
            if event not in self.tables.allowed_events(code):
                k = int(idx[0])
                raise EventNotHandled(
                    event, float(days[k]), sorted(self.tables.configuration(code))
                )

    # --- bookkeeping over columns --------------------------------------------------------------

    def _enter(self, cols: RecordColumns, idx: Array, states: Sequence[str]) -> None:
        """The runtime's ``on_enter_state`` for rows ``idx``: each state's entry day, its
        timers' fired counts forgotten, in the order the states are entered."""
        if not len(idx):
            return
        day = cols.plain["day"][idx]
        by_state = self.guideline.timers.by_state
        for sid in states:
            key = ("entered", sid)
            present = cols.present[key]
            new = idx[~present[idx]]
            if len(new):
                cols.rank[key][new] = self._last_rank(cols, "entered", new) + 1
            present[idx] = True
            cols.values[key][idx] = day
            for timer in by_state.get(sid, ()):
                self._drop(cols, "timers_fired", timer.id, idx)

    @staticmethod
    def _last_rank(cols: RecordColumns, name: str, idx: Array) -> Array:
        last = np.full(len(idx), -1, dtype=np.int64)
        for k in cols.layout.keyed[name].keys:
            last = np.maximum(last, cols.rank[(name, k)][idx])
        return last

    @staticmethod
    def _drop(cols: RecordColumns, name: str, key: str, idx: Array) -> None:
        cols.present[(name, key)][idx] = False
        cols.values[(name, key)][idx] = 0
        cols.rank[(name, key)][idx] = -1

    def _count_fired(self, cols: RecordColumns, timer_id: str, at: Array | None = None) -> None:
        """``timers_fired[timer_id] += 1`` on the rows ``at`` of ``cols`` (all when
        ``None``; a new key goes last)."""
        key = ("timers_fired", timer_id)
        rows = np.arange(len(cols.present[key])) if at is None else at
        present = cols.present[key]
        new = rows[~present[rows]]
        if len(new):
            cols.rank[key][new] = self._last_rank(cols, "timers_fired", new) + 1
            cols.values[key][new] = 0
        present[rows] = True
        cols.values[key][rows] += 1

    # --- effects --------------------------------------------------------------------------------

    def _effect(
        self, call: _Call, kind: str, name: str, values: Sequence[Any] | None, on: Array
    ) -> None:
        """Effect ``name`` of ``kind`` on the call's rows of mask ``on``: a declared effect
        once over all of them, a Python effect row by row (each with its configuration)."""
        at = np.flatnonzero(on)
        if not len(at):
            return
        effects = self.parts.effects
        declared = effects.book.effects.get(kind, {}).get(name) if effects is not None else None
        if effects is not None and declared is not None:
            # One run over all the rows, each in its own configuration (the ``active`` the
            # effect reads is a lookup per row).
            self.evaluations["effects"] += 1
            effects.apply(
                kind,
                name,
                call.sub,
                values,
                self.thresholds,
                self.options,
                frozenset(),
                on,
                codes=call.codes,
                configs=self.configs,
            )
            call.fields |= declared.writes
            call.live.forget()
            return
        g = self.guideline
        table = {"finding": g.finding_effects, "timer": g.timer_effects}.get(kind, g.action_effects)
        fn = table[name]
        for code, idx in by_code(call.codes[at]):
            active = self.active_of(code)
            for i in at[idx].tolist():
                value = None if values is None else values[i]
                fn(call.record(i), value, self.thresholds, self.options, active)
            call.put(at[idx].tolist())

    # --- the chart step -------------------------------------------------------------------------

    def _macrostep(self, call: _Call, event: str, args: Mapping[str, Sequence[Any]]) -> MacroResult:
        block = self

        def batch_for(code: int, members: Array, rows: Array) -> Batch:
            block.evaluations["guards"] += 1
            return call.batch(code, rows[members])

        def mixed_for(members: Array, codes: Array, rows: Array) -> Batch:
            block.evaluations["guards"] += 1
            return call.mixed(rows[members], codes)

        def guards_for(
            event: str, rows: Array, codes: Array, args: Mapping[str, Sequence[Any]]
        ) -> RuleGuards:
            return RuleGuards(
                block.tables,
                block.parts.rulebook,
                block.parts.conditions,
                _Rows(call.live, rows),
                codes,
                block.thresholds,
                block.options,
                event=event,
                args=args,
                batch_for=lambda code, members: batch_for(code, members, rows),
                mixed_for=lambda members, codes: mixed_for(members, codes, rows),
            )

        def on_wave(ev: str, wrows: Array, result: Any) -> None:
            for outcome, at in result.by_outcome():
                if outcome.entries:
                    block._enter(call.sub, wrows[at], outcome.entries)
                    call.fields |= {"entered", "timers_fired"}
                    call.live.forget()

        result = self.tables.macrostep(call.codes, event, args, guards_for, _PutBack(call), on_wave)
        call.codes = result.codes.copy()
        return result

    @staticmethod
    def _transits(result: MacroResult) -> list[tuple[Transit, ...]]:
        """Each row's transits as the trace records them (sorted by source state)."""
        first = result.waves[0][2]
        outcomes = first.tables.outcomes
        out = [outcomes[o].transits for o in first.outcome.tolist()]
        if len(result.waves) > 1:
            later = {int(r) for _, w, _ in result.waves[1:] for r in w.tolist()}
            for r in later:
                out[r] = result.transits(r)
        return out

    # --- closing a step ---------------------------------------------------------------------

    def _close(
        self,
        call: _Call,
        kind: StepKind,
        name: str,
        details: Sequence[str],
        transits: Sequence[tuple[Transit, ...]],
        breaches: Sequence[tuple[Breach, ...]] | None = None,
        carried_out: Array | None = None,
        because: Sequence[tuple[str, ...]] | None = None,
    ) -> list[Step]:
        """The runtime's ``_close_step`` for every row of the call: the trace's steps,
        deviations, the memo told what changed, the invariants, the columns written back."""
        rows, n = call.rows, call.n
        done = np.ones(n, dtype=bool) if carried_out is None else carried_out
        days = call.sub.plain["day"]
        deviation = np.zeros(n, dtype=bool)
        if breaches is not None:
            deviation = np.array([bool(b) for b in breaches], dtype=bool)
        self.deviated[rows] |= deviation
        self._tell_memo(call)
        row_list = rows.tolist()
        traces, opened = self.traces, self._open
        codes = call.codes.tolist()
        # One configuration tuple per code (shared by the steps), the steps in one pass.
        shapes = {code: self._configuration(code) for code in set(codes)}
        none = repeat(())
        steps = [
            Step(
                len(traces[r]),
                day,
                kind,
                name,
                detail,
                tr if ok else (),
                shapes[c],
                dv,
                b,
                ok,
                (),
                rb,
            )
            for r, day, detail, tr, ok, c, dv, b, rb in zip(
                row_list,
                days.tolist(),
                details,
                transits,
                done.tolist(),
                codes,
                deviation.tolist(),
                none if breaches is None else breaches,
                none if because is None else because,
                strict=False,  # ``none`` repeats without end; the rest have a row each
            )
        ]
        broken = self._broken(call, name, kind == "action", done)
        # The violations: only rows with an invariant broken now or open before.
        g = self.guideline
        for i in [i for i, r in enumerate(row_list) if broken[i] or opened[r]]:
            r = row_list[i]
            found_here = broken[i]
            step = steps[i]
            new: list[Violation] = []
            now_open: set[str] = set()
            for rule_id, message in sorted(found_here, key=lambda f: self._order[f[0]]):
                now_open.add(rule_id)
                if rule_id in opened[r]:
                    continue
                hard = g.rules[rule_id].strength == "hard"
                new.append(Violation(rule_id, step.day, step.index, message, hard))
            opened[r] = frozenset(now_open)
            if not new:
                continue
            self.violations[r].extend(new)
            if self.strict and not self.deviated[r]:
                for v in new:
                    if v.hard:
                        raise InvariantViolation(
                            v.rule_id,
                            v.message,
                            v.day,
                            sorted(self.tables.configuration(codes[i])),
                            record_to_dict(call.live[i]),
                        )
            steps[i] = replace(step, violations=tuple(new))
        for r, step in zip(row_list, steps, strict=True):
            traces[r].append(step)
        self.codes[rows] = call.codes
        self.columns.give(rows, call.sub)
        return steps

    def _tell_memo(self, call: _Call) -> None:
        """The memo forgets what the call may have changed: the fields written, the
        configuration where it moved, everything on rows Python changed."""
        rows = call.rows
        self.memo.changed(rows, call.fields)
        if call.day_moved.any():
            self.memo.changed(rows[call.day_moved], ["day"])
        moved = call.codes != call.before
        if moved.any():
            self.memo.changed(rows[moved], ["active"])
        if call.touched.any():
            self.memo.forget(rows[call.touched])

    def _broken(
        self, call: _Call, name: str, action: bool, done: Array
    ) -> list[list[tuple[str, str]]]:
        """Per row of the call, the invariants broken after the step (id, message): one
        evaluation over all the rows, whatever their configurations."""
        self.evaluations["invariants"] += 1
        return self.parts.rulebook.broken(
            call.mixed(),
            self.thresholds,
            self.options,
            name,
            done & action,
            memo=self.memo,
            rows=call.rows,
        )

    # --- events -----------------------------------------------------------------------------

    def observe(self, rows: Any, finding: str, values: Sequence[Any], day: Any) -> list[Step]:
        """Record ``finding`` with each row's payload (``values``, aligned with ``rows``).

        Raises as the runtime does (unknown finding, bad payload, a day before the last
        event, a finding the configuration does not handle, a patient who has died),
        before anything changes.
        """
        rows = self._rows(rows)
        days = self._days(day, rows)
        g = self.guideline
        if finding not in g.findings:
            raise PatientError(f"unknown finding {finding!r}; expected one of {list(g.findings)}")
        if len(values) != len(rows):
            raise PatientError(f"observe: {len(values)} values for {len(rows)} rows")
        payloads, effect_values, details = self.check_payloads(finding, values, days)
        self._require_handled(rows, finding, days)
        call = _Call(self, rows)
        call.at(days)
        self._effect(call, "finding", finding, effect_values, np.ones(call.n, bool))
        result = self._macrostep(call, finding, {"value": payloads})
        self._accepted(result, finding, call)
        return self._close(call, "finding", finding, details, self._transits(result))

    def check_payloads(
        self, finding: str, values: Sequence[Any], days: Array
    ) -> tuple[list[Any], list[Any], list[str]]:
        """Each row's payload checked as the runtime checks it: the value the trace and
        the guards get, the value the effect gets, and the trace's detail. As arrays where
        the guideline declares how (:class:`NumbersPayload`), else (or where that finds a
        bad row) the scalar ``check_payload`` row by row, which raises its own error."""
        spec = self.parts.payloads.get(finding)
        if spec is not None:
            fast = _numbers_checked(spec, values, days)
            if fast is not None:
                return list(values), fast[0], fast[1]
        check = self.guideline.check_payload
        checked = [check(finding, v, d) for v, d in zip(values, days.tolist(), strict=True)]
        payloads = [c[0] for c in checked]
        return payloads, [c[1] for c in checked], [_detail(v) for v in payloads]

    def fire(self, rows: Any, timer_id: str | Sequence[str], day: Any) -> list[Step]:
        """Send timer ``timer_id``'s event to every row (armed there: :meth:`timer_armed`).

        ``timer_id`` may also name each row's timer (aligned with ``rows``), all of them
        timers of one event: the timers that share an event (the AIH guideline's eleven
        ``monitoring_due`` timers) are fired as one group.
        """
        rows = self._rows(rows)
        days = self._days(day, rows)
        ids = [timer_id] * len(rows) if isinstance(timer_id, str) else list(timer_id)
        if len(ids) != len(rows):
            raise PatientError(f"fire: {len(ids)} timers for {len(rows)} rows")
        g = self.guideline
        by_id = {}
        for name in dict.fromkeys(ids):
            found = g.timers.by_id.get(name)
            if found is None:
                raise PatientError(
                    f"unknown timer {name!r}; expected one of {list(g.timers.by_id)}"
                )
            by_id[name] = found
        events = {t.event for t in by_id.values()}
        if len(events) > 1:
            raise PathwayError(f"fire: timers of several events in one call: {sorted(events)}")
        if not events:
            return []  # no rows, no timer to send
        event = events.pop()
        self._advance(rows, days)
        names = np.array(ids, dtype=object)
        groups = [(name, np.flatnonzero(names == name)) for name in by_id]
        for name, at in groups:
            armed = self.timer_armed(rows[at], name, spent_too=True)
            if not armed.all():
                k = int(at[np.flatnonzero(~armed)[0]])
                raise PathwayError(f"timer {name!r} is not armed for row {rows[k]}")
        self._require_handled(rows, event, days)
        call = _Call(self, rows)
        call.at(days)
        for name, at in groups:
            self._count_fired(call.sub, name, None if len(groups) == 1 else at)
        call.fields.add("timers_fired")
        call.live.forget()
        self._effect(call, "timer", event, None, np.ones(call.n, bool))
        result = self._macrostep(call, event, {})
        self._accepted(result, event, call)
        return self._close(call, "timer", event, ids, self._transits(result))

    def _accepted(self, result: MacroResult, event: str, call: _Call) -> None:
        if not result.accepted.all():
            k = int(np.flatnonzero(~result.accepted)[0])
            raise EventNotHandled(
                event,
                float(call.sub.plain["day"][k]),
                sorted(self.tables.configuration(int(call.before[k]))),
            )

    def take(self, rows: Any, action: str, day: Any, *, deviate: bool = False) -> list[Step]:
        """Take clinician ``action`` for every row, as the runtime's ``take``.

        A row where the guideline does not recommend it raises
        :class:`~pathway.errors.ActionNotRecommended` (nothing changes), unless ``deviate``:
        then it is recorded as a deviation with its breaches, and carried out where the
        configuration allows it.
        """
        rows = self._rows(rows)
        return self._take(rows, action, self._days(day, rows), deviate, None)

    def _take(
        self,
        rows: Array,
        action: str,
        days: Array,
        deviate: bool,
        because: Sequence[tuple[str, ...]] | None,
    ) -> list[Step]:
        """``take``; ``because``: the rules recommending it where it is known to be allowed
        (the policy's top recommendation), so no check needs to run again."""
        g = self.guideline
        if action not in g.actions:
            raise PatientError(f"unknown action {action!r}; expected one of {list(g.actions)}")
        self._advance(rows, days)
        call = _Call(self, rows)
        call.at(days)
        if because is None:
            breaches, because = self._judge(call, action)
        else:
            breaches = [()] * call.n
        refused = [i for i, b in enumerate(breaches) if b]
        if refused and not deviate:
            i = refused[0]
            found = breaches[i]
            raise ActionNotRecommended(
                action,
                float(days[i]),
                sorted(self.tables.configuration(int(call.before[i]))),
                list(dict.fromkeys(b.rule_id for b in found)),
                "; ".join(str(b) for b in found),
            )
        result = self._macrostep(call, action, {"deviate": [bool(b) for b in breaches]})
        accepted = np.asarray(result.accepted, dtype=bool)
        self._effect(call, "action", action, None, accepted)
        details = ["" if ok else "not possible in this state" for ok in accepted.tolist()]
        return self._close(
            call, "action", action, details, self._transits(result), breaches, accepted, because
        )

    def _judge(
        self, call: _Call, action: str
    ) -> tuple[list[tuple[Breach, ...]], list[tuple[str, ...]]]:
        """Per row, the breaches of ``action`` and, where none, the rules recommending it
        (breached rows found by masks; their breaches and the rules by the scalar
        rulebook, row by row on those rows)."""
        g = self.guideline
        book = self.parts.rulebook
        breaches: list[tuple[Breach, ...]] = [()] * call.n
        because: list[tuple[str, ...]] = [()] * call.n
        batch = call.mixed()
        self.evaluations["judged"] += 1
        vi = book.interpreter(batch, self.thresholds, self.options)
        hit = book.breached(vi, action, np.ones(call.n, dtype=bool)).tolist()
        actives = batch.actives()
        for i in range(call.n):
            c = g.context(call.record(i), self.thresholds, self.options, actives[i])
            if hit[i]:
                breaches[i] = tuple(g.rulebook.breaches(action, c))
            else:
                because[i] = tuple(g.rulebook.strength(action, c)[1])
        return breaches, because

    # --- queries ----------------------------------------------------------------------------

    def _armed_timers(self, code: int) -> tuple[Timer, ...]:
        return self.guideline.timers.armed(frozenset(self.tables.configuration(code)))

    def _due(self, timer: Timer, rows: Array) -> Array:
        """Per row, the day ``timer`` is due (NaN: disarmed or spent), for rows where its
        state is active."""
        c = self.columns
        values = vars_of(self.thresholds)
        entered = c.values[("entered", timer.state)][rows]
        entered = np.where(c.present[("entered", timer.state)][rows], entered, np.nan)
        anchor = c.plain[timer.anchor][rows] if timer.anchor is not None else None
        start = timer_starts(timer, entered, anchor, c.plain["day"][rows])
        fired = c.values[("timers_fired", timer.id)][rows]
        return start + timer_offsets(timer, fired, values)

    def next_timers(self, rows: Any = None) -> tuple[Array, Array]:
        """Per row: the due day of its first pending timer (``inf``: none) and that timer's
        index in the guideline's timers (-1), as ``pending_timers()[0]`` (ties: declaration
        order). One pass per timer armed in any of the rows' configurations, over the rows
        where it is armed."""
        rows = np.arange(self.n) if rows is None else self._rows(rows)
        due = np.full(len(rows), np.inf)
        which = np.full(len(rows), -1, dtype=np.int64)
        codes = self.codes[rows]
        alive = ~self._dead(codes)
        if not alive.any():
            return due, which
        active_of = self.configs.active_of
        states = frozenset().union(*(active_of(c) for c in np.unique(codes[alive]).tolist()))
        for timer in self.guideline.timers.armed(states):
            # Each row's timers in declaration order, a later one only when strictly
            # earlier: what the runtime's sorted pending timers put first.
            at = np.flatnonzero(alive & self.configs.holds(timer.state)[codes])
            if not len(at):
                continue
            d = self._due(timer, rows[at])
            better = ~np.isnan(d) & (d < due[at])
            due[at[better]] = d[better]
            which[at[better]] = self._timer_index[timer.id]
        return due, which

    def pending_timers(self, row: int) -> list[PendingTimer]:
        """Row ``row``'s armed timers, earliest first, as the runtime's ``pending_timers``."""
        code = int(self.codes[row])
        if self._dead(np.array([code]))[0]:
            return []
        out: list[PendingTimer] = []
        here = np.array([row])
        for timer in self._armed_timers(code):
            due = float(self._due(timer, here)[0])
            if due == due:
                out.append(PendingTimer(timer.id, timer.event, due, timer.labs, timer.rule_id))
        out.sort(key=lambda t: t.due_day)
        return out

    def timer_armed(self, rows: Any, timer_id: str, *, spent_too: bool = False) -> Array:
        """Per row, whether ``timer_id`` is pending (the runtime's ``timer_armed``);
        ``spent_too``: whether ``fire`` accepts it (state active, anchor set)."""
        rows = self._rows(rows)
        timer = self.guideline.timers.by_id.get(timer_id)
        out = np.zeros(len(rows), dtype=bool)
        if timer is None:
            return out
        alive = ~self._dead(self.codes[rows])
        state_on = self.tables.in_state(timer.state)[self.codes[rows]]
        out = alive & state_on
        if timer.anchor is not None:
            out &= ~np.isnan(self.columns.plain[timer.anchor][rows])
        if not spent_too:
            fired = self.columns.values[("timers_fired", timer.id)][rows]
            values = vars_of(self.thresholds)
            out &= ~np.isnan(timer_offsets(timer, fired, values))
        return np.asarray(out, dtype=bool)

    def top(self, rows: Any) -> tuple[Array, Array, list[tuple[str, ...]]]:
        """Per row, the first-ranked recommendation's action and strength (``None``: none,
        or the patient has died) and the rules behind it, from the rulebook's masks with
        the memo."""
        rows = self._rows(rows)
        n = len(rows)
        action = np.full(n, None, dtype=object)
        strength = np.full(n, None, dtype=object)
        rules: list[tuple[str, ...]] = [()] * n
        codes = self.codes[rows]
        alive = ~self._dead(codes)
        if not alive.any():
            return action, strength, rules
        live_rows = rows[alive]
        live_codes = codes[alive]
        self.evaluations["recommendations"] += 1
        sub = self.columns.view(live_rows)
        batch = sub.batch(frozenset())
        batch.configured(live_codes, self.configs)
        batch.records = LiveRecords(sub)
        top = self.parts.rulebook.top(
            batch,
            self.thresholds,
            self.options,
            possible=self._possible_table(live_codes),
            memo=self.memo,
            rows=live_rows,
        )
        at = np.flatnonzero(alive)
        action[at] = top.action
        strength[at] = top.strength
        for j, i in enumerate(at.tolist()):
            found = top.rules(j)
            rules[i] = () if found is None else found
        return action, strength, rules

    def _possible_table(self, codes: Array) -> Array:
        """Actions (in the rulebook's ranking order) x rows: whether the action is among
        the events of the row's configuration (the chart's possible events)."""
        unique, inverse = np.unique(codes, return_inverse=True)
        columns = []
        for code in unique.tolist():
            found = self._possible.get(code)
            if found is None:
                events = self.tables.allowed_events(code)
                found = self._possible[code] = self.parts.rulebook.possible_of(events)
            columns.append(found)
        return np.stack(columns, axis=1)[:, np.ravel(inverse)]

    def top_recommendation(self, row: int) -> Recommendation | None:
        """Row ``row``'s first recommendation with its doses (scalar doses), or ``None``."""
        action, strength, rules = self.top([row])
        if action[0] is None:
            return None
        g = self.guideline
        c = g.context(self.record(row), self.thresholds, self.options, self.active(row))
        return Recommendation(action[0], strength[0], rules[0], g.rulebook.doses(action[0], c))

    def act(self, rows: Any, day: Any) -> int:
        """The guideline policy for every row: take the top recommendation while it is a
        must or a should (at most ``max_actions`` per row). Returns the actions taken.

        Raises:
            PathwayError: a row still acting after ``max_actions``.
        """
        rows = self._rows(rows)
        days = self._days(day, rows)
        default = self.guideline.rulebook.default_action
        taken = 0
        for _ in range(self.max_actions):
            if not len(rows):
                return taken
            action, strength, rules = self.top(rows)
            go = np.array(
                [
                    a is not None and a != default and s != "may"
                    for a, s in zip(action, strength, strict=True)
                ],
                dtype=bool,
            )
            rows, days, action = rows[go], days[go], action[go]
            rules = [r for r, ok in zip(rules, go.tolist(), strict=True) if ok]
            for name in dict.fromkeys(action.tolist()):
                at = np.flatnonzero(action == name)
                self._take(rows[at], name, days[at], False, [rules[i] for i in at.tolist()])
                taken += len(at)
        if len(rows):
            raise PathwayError(
                f"guideline policy did not settle after {self.max_actions} actions for rows "
                f"{rows.tolist()[:5]}"
            )
        return taken
