"""Chart steps for a batch of patients as array operations (issue 14).

The compiled executor (:mod:`pathway.executor`) steps one patient. Here the same
:class:`~pathway.executor.ChartPlan` steps many: a configuration is an integer code
(:class:`StepTables` registers each configuration on first sight; :meth:`StepTables.bits`
gives its active states as a bitset over document order), and per (configuration code,
event) the tables hold the candidate transitions the interpreter would try, in its order,
with their guard names. :meth:`StepTables.step` takes arrays of codes, one event and a
:class:`GuardMasks` callable that evaluates a named guard over rows, and gives every row's
new code, whether the event was accepted, and its :class:`Outcome` (transitions taken,
states exited and entered, in order), one outcome per distinct guard result, not per row.

The statechart semantics are the executor's own functions (:func:`~pathway.executor.
candidate_groups`, :func:`~pathway.executor.exit_set`, :func:`~pathway.executor.
without_conflicts`): selection per atomic state walking up its ancestors, the first enabled
transition, conflicts, exit and entry sets. Guards are evaluated exactly where the
interpreter would evaluate them (later guards of a transition only where the earlier ones
held, later transitions only where the earlier ones did not), so a guard that runs Python
row by row runs on the same rows. An outcome lists the transitions taken and their actions;
:meth:`StepTables.macrostep` runs them (:class:`ChartActions`: the chart's own, row by row)
and steps the internal events they raise, as the interpreter's ``send`` does.

:class:`RuleGuards` is the guard callable for a guideline's chart: a guard named like one of
the guideline's conditions is that expression over columns (:mod:`pathway.vector`), a
permission guard ``may_<action>(deviate)`` is ``deviate`` or no breach of the rulebook's
checks for that action, and any other guard is the chart's own method, row by row.
:func:`round_groups` groups a round's rows by (configuration, kind of step) with one argsort.

This module knows no guideline: charts, rulebooks and conditions are given.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidPathwayError
from .executor import ChartPlan, CompiledTransition, candidate_groups, exit_set, without_conflicts
from .expr import Expr
from .runtime import Transit
from .vector import Batch, VectorInterpreter, VectorRulebook

__all__ = [
    "Actions",
    "Candidate",
    "ChartActions",
    "ConfigLookup",
    "GuardMasks",
    "GuardsFor",
    "MacroResult",
    "Outcome",
    "RoundGroups",
    "RuleGuards",
    "StepResult",
    "StepTables",
    "by_code",
    "round_groups",
]

Array = NDArray[Any]

#: Keyword arguments that would make a guard's value depend on the transition asking.
_TRANSITION_ARGS = frozenset({"source", "target", "state"})


class GuardMasks(Protocol):
    """Evaluates a named guard for some rows of a step.

    ``rows`` are indices into the step's batch, all in configuration ``code``; the answer is
    a boolean array aligned with ``rows`` (the guard's truth, as ``bool(guard(...))``).
    """

    def __call__(self, guard: str, code: int, rows: Array) -> Array: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    """A transition the interpreter may try, with its guards as ``(name, expected)``."""

    transition: CompiledTransition
    guards: tuple[tuple[str, bool], ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an event does to one configuration for one combination of guard results.

    Attributes:
        id: index in :attr:`StepTables.outcomes`.
        code, event: the configuration code before, and the event.
        accepted: some transition was taken (``False``: the interpreter refuses the event
            with ``TransitionNotAllowed`` and nothing changes).
        target: the configuration code after.
        transitions: the transitions taken, in the order the interpreter runs their actions.
        exits: the states exited, in reverse order of the chart's states (so descendants
            before their ancestors, as SCXML exits them). The compiled interpreter runs no
            exit callbacks; python-statemachine's own order may differ among states that are
            not ancestors of one another.
        entries: the states entered, in the order the interpreter enters them.
        transits: the transitions as the trace records them (:class:`~pathway.runtime.
            Transit`, targetless ones with the source as target), in the runtime's order
            (document order of the source state). A step whose actions raise internal events
            records the transits of all its microsteps, concatenated and stably re-sorted
            the same way.
    """

    id: int
    code: int
    event: str
    accepted: bool
    target: int
    transitions: tuple[CompiledTransition, ...]
    exits: tuple[str, ...]
    entries: tuple[str, ...]
    transits: tuple[Transit, ...]

    @property
    def actions(self) -> tuple[str, ...]:
        """Names of the transition actions to run, in order (the caller runs them)."""
        return tuple(cb.name for t in self.transitions for cb in t.ons)


class StepTables:
    """Configuration codes and per (code, event) candidates and outcomes of one chart plan.

    Codes are dense integers given on first sight (:meth:`code`), so they depend on the
    order configurations are met; :meth:`explore` called on fresh tables registers every
    configuration reachable from the initial one in a fixed order (breadth first, events
    sorted), giving the same codes in every process. Candidates and outcomes are built on
    first use and kept.
    """

    def __init__(self, plan: ChartPlan) -> None:
        self.plan = plan
        #: State ids in document order; bit ``i`` of a configuration's bitset is state ``i``.
        self.states: tuple[str, ...] = tuple(sorted(plan.order, key=plan.order.__getitem__))
        self.events: tuple[str, ...] = tuple(sorted({ev for (_, ev) in plan.table}))
        self._configs: list[tuple[str, ...]] = []
        self._code_of: dict[tuple[str, ...], int] = {}
        self._bits: list[int] = []
        self._allowed: dict[int, frozenset[str]] = {}
        self._candidates: dict[tuple[int, str], tuple[tuple[Candidate, ...], ...]] = {}
        self._static: dict[tuple[int, str], int] = {}  # outcome id when no guard decides
        self._outcome_of: dict[tuple[int, str, tuple[int, ...]], int] = {}
        #: Every outcome built so far, by id.
        self.outcomes: list[Outcome] = []
        self._arrays: tuple[Array, Array] | None = None
        #: Guard name -> (the chart's function, the keyword arguments it takes), as met.
        self.guards: dict[str, tuple[Callable[..., Any], frozenset[str]]] = {}
        self.initial = self.code(plan.initial)

    # --- configurations -------------------------------------------------------------------

    def code(self, configuration: Iterable[str]) -> int:
        """The code of a configuration (its active state ids, any order), registered if new.

        Raises:
            InvalidPathwayError: an id that is not a state of the chart.
        """
        order = self.plan.order
        try:
            key = tuple(sorted(configuration, key=order.__getitem__))
        except KeyError as exc:
            raise InvalidPathwayError(
                f"{self.plan.chart_class.__name__}: no state {exc.args[0]!r}; "
                f"expected one of {list(self.states)}"
            ) from None
        found = self._code_of.get(key)
        if found is None:
            found = self._code_of[key] = len(self._configs)
            self._configs.append(key)
            self._bits.append(sum(1 << order[s] for s in key))
        return found

    def encode(self, configurations: Iterable[Iterable[str]]) -> Array:
        """Codes of many configurations (``int64``)."""
        return np.array([self.code(c) for c in configurations], dtype=np.int64)

    def configuration(self, code: int) -> tuple[str, ...]:
        """The active state ids of ``code``, in document order."""
        return self._configs[code]

    def bits(self, code: int) -> int:
        """The active states of ``code`` as a bitset (bit ``i``: ``states[i]`` is active)."""
        return self._bits[code]

    def allowed_events(self, code: int) -> frozenset[str]:
        """Events some active state of ``code`` has a transition for (guards not evaluated):
        the interpreter's ``allowed_event_ids``."""
        found = self._allowed.get(code)
        if found is None:
            events_of = self.plan.events_of
            found = self._allowed[code] = frozenset().union(
                *(events_of[s] for s in self._configs[code])
            )
        return found

    def __len__(self) -> int:
        """Number of configurations registered."""
        return len(self._configs)

    def in_state(self, state: str) -> Array:
        """Per registered code, whether ``state`` is active (index it with a code array)."""
        bit = 1 << self.plan.order[state]
        return np.array([b & bit != 0 for b in self._bits], dtype=bool)

    def explore(self, limit: int = 100_000) -> int:
        """Register every configuration reachable from the initial one; returns their number.

        Each guard is taken as free to hold or not, independently of the others, and each
        event (internal ones too) as possible in every configuration that has a transition
        for it: a superset of what a patient can reach.

        Raises:
            InvalidPathwayError: more than ``limit`` configurations.
        """
        seen = {self.initial}
        queue = deque([self.initial])
        while queue:
            code = queue.popleft()
            for event in self.events:
                groups = self.candidates(code, event)
                for choice in itertools.product(*(_possible(g) for g in groups)):
                    target = self.outcomes[self.outcome(code, event, choice)].target
                    if target not in seen:
                        if len(seen) >= limit:
                            raise InvalidPathwayError(
                                f"{self.plan.chart_class.__name__}: more than {limit} "
                                "reachable configurations"
                            )
                        seen.add(target)
                        queue.append(target)
        return len(seen)

    # --- candidates and outcomes ----------------------------------------------------------

    def candidates(self, code: int, event: str) -> tuple[tuple[Candidate, ...], ...]:
        """Per active atomic state (document order), the transitions tried on ``event``.

        Raises:
            InvalidPathwayError: a guard reads the transition (``source``, ``target`` or
                ``state``), so it has no single value per row.
        """
        key = (code, event)
        found = self._candidates.get(key)
        if found is None:
            found = tuple(
                tuple(_candidate(self.plan, t, self.guards) for t in group)
                for group in candidate_groups(self.plan, self._configs[code], event)
            )
            self._candidates[key] = found
        return found

    def outcome(self, code: int, event: str, choice: Sequence[int]) -> int:
        """The outcome id when, per candidate group, transition ``choice[k]`` is the first
        enabled (``-1``: none is)."""
        key = (code, event, tuple(choice))
        found = self._outcome_of.get(key)
        if found is None:
            found = self._outcome_of[key] = self._build(code, event, key[2])
        return found

    def _build(self, code: int, event: str, choice: tuple[int, ...]) -> int:
        plan, config = self.plan, self._configs[code]
        chosen: list[CompiledTransition] = []
        for group, j in zip(self.candidates(code, event), choice, strict=True):
            if j >= 0 and group[j].transition not in chosen:
                chosen.append(group[j].transition)
        selected = without_conflicts(plan, config, chosen)
        exits: set[str] = set()
        for t in selected:
            exits.update(exit_set(plan, config, t))
        present = {s for s in config if s not in exits}
        entries: list[str] = []
        for t in selected:
            if t.target is None:
                continue
            for sid in t.entry:
                if sid not in present:
                    present.add(sid)
                    entries.append(sid)
        outcome = Outcome(
            id=len(self.outcomes),
            code=code,
            event=event,
            accepted=bool(selected),
            target=self.code(present) if exits or entries else code,
            transitions=tuple(selected),
            exits=tuple(sorted(exits, key=plan.order.__getitem__, reverse=True)),
            entries=tuple(entries),
            transits=tuple(
                sorted(
                    (Transit(event, t.source, t.target or t.source, t.rule_ids) for t in selected),
                    key=lambda tr: plan.order[tr.source],
                )
            ),
        )
        self.outcomes.append(outcome)
        self._arrays = None
        return outcome.id

    def _outcome_arrays(self) -> tuple[Array, Array]:
        """Per outcome id: target code and accepted."""
        if self._arrays is None:
            self._arrays = (
                np.array([o.target for o in self.outcomes], dtype=np.int64),
                np.array([o.accepted for o in self.outcomes], dtype=bool),
            )
        return self._arrays

    def _static_outcome(self, code: int, event: str) -> int | None:
        """The outcome when no guard needs evaluating (each group's first try is unguarded)."""
        key = (code, event)
        found = self._static.get(key)
        if found is None:
            groups = self.candidates(code, event)
            found = -1
            if all(not g[0].guards for g in groups):
                found = self.outcome(code, event, (0,) * len(groups))
            self._static[key] = found
        return None if found < 0 else found

    # --- the batch step -------------------------------------------------------------------

    def macrostep(
        self,
        codes: Array,
        event: str,
        args: Mapping[str, Sequence[Any]],
        guards_for: GuardsFor,
        actions: Actions,
        on_wave: Callable[[str, Array, StepResult], None] | None = None,
    ) -> MacroResult:
        """Send ``event`` to every row, run the actions of the transitions taken and step
        the internal events they raise until none is left (the interpreter's ``send``).

        ``on_wave(event, rows, result)`` is called after each wave's actions, before the
        next wave's guards: where the caller does what the runtime does on entering a
        state (the entry days and timers of the record), as the interpreter does between
        microsteps.

        Raises:
            InvalidPathwayError: an internal event that a row's configuration refuses (the
                interpreter raises ``TransitionNotAllowed`` there).
        """
        codes = np.asarray(codes, dtype=np.int64)
        now = codes.copy()
        everyone = np.arange(len(codes))
        first = self.step(codes, event, guards_for(event, everyone, codes, args))
        now[:] = first.codes
        waves = [(event, everyone, first)]
        queues: dict[int, Raised] = {}
        self._act(first, everyone, args, actions, queues)
        if on_wave is not None:
            on_wave(event, everyone, first)
        while queues:
            heads: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            for row in sorted(queues):
                name, kwargs = queues[row].pop(0)
                if not queues[row]:
                    del queues[row]
                heads.setdefault(name, []).append((row, kwargs))
            for name, items in heads.items():
                rows = np.array([r for r, _ in items], dtype=np.int64)
                keys = sorted({k for _, kw in items for k in kw})
                wave_args = {k: [kw.get(k) for _, kw in items] for k in keys}
                result = self.step(now[rows], name, guards_for(name, rows, now[rows], wave_args))
                if not result.accepted.all():
                    row = int(rows[np.flatnonzero(~result.accepted)[0]])
                    raise InvalidPathwayError(
                        f"internal event {name!r} raised by an action is refused in "
                        f"configuration {list(self.configuration(int(now[row])))} (row {row})"
                    )
                now[rows] = result.codes
                waves.append((name, rows, result))
                self._act(result, rows, wave_args, actions, queues)
                if on_wave is not None:
                    on_wave(name, rows, result)
        return MacroResult(now, first.accepted, waves)

    def _act(
        self,
        result: StepResult,
        rows: Array,
        args: Mapping[str, Sequence[Any]],
        actions: Actions,
        queues: dict[int, Raised],
    ) -> None:
        """Run the actions of each outcome with some, queueing what they raise per row."""
        for outcome, at in result.by_outcome():
            if not outcome.actions:
                continue
            chosen = {k: [v[i] for i in at.tolist()] for k, v in args.items()}
            raised = actions(outcome, rows[at], chosen)
            for row, events in zip(rows[at].tolist(), raised, strict=True):
                if events:
                    queues.setdefault(row, []).extend(events)

    def step(self, codes: Array, event: str, guards: GuardMasks) -> StepResult:
        """Send ``event`` to every row (configuration ``codes[i]``); guards from ``guards``.

        Rows are grouped by code (one stable argsort); within a code, each candidate's
        guards are asked for the rows where the interpreter would ask them, each guard at
        most once per row, and the rows are grouped by their outcome.
        """
        codes = np.asarray(codes, dtype=np.int64)
        outcome = np.empty(len(codes), dtype=np.int64)
        split = by_code(codes)
        prefetch = getattr(guards, "prefetch", None)
        if prefetch is not None and len(split) > 1:
            # The first guard of each group's first candidate is asked for every row of the
            # code: asked once over the rows of all codes (the same rows, one evaluation).
            first: dict[str, list[Array]] = {}
            for code, rows in split:
                if self._static_outcome(code, event) is None:
                    for group in self.candidates(code, event):
                        if group and group[0].guards:
                            first.setdefault(group[0].guards[0][0], []).append(rows)
            for name, parts in first.items():
                if len(parts) > 1:
                    prefetch(name, np.sort(np.concatenate(parts)))
        for code, rows in split:
            static = self._static_outcome(code, event)
            if static is not None:
                outcome[rows] = static
                continue
            groups = self.candidates(code, event)
            choice = _choose(groups, code, rows, guards)
            # One integer per row for its choices (mixed radix: group k has len + 1 values).
            radices = [len(g) + 1 for g in groups]
            key = choice[:, 0] + 1
            scale = 1
            for k in range(1, len(groups)):
                scale *= radices[k - 1]
                key += (choice[:, k] + 1) * scale
            if key.min() == key.max():  # one outcome for all the rows (no sort needed)
                outcome[rows] = self.outcome(code, event, _digits(int(key[0]), radices))
                continue
            unique, inverse = np.unique(key, return_inverse=True)
            ids = np.array(
                [self.outcome(code, event, _digits(int(u), radices)) for u in unique],
                dtype=np.int64,
            )
            outcome[rows] = ids[np.ravel(inverse)]
        targets, accepted = self._outcome_arrays()
        return StepResult(self, outcome, targets[outcome], accepted[outcome])


class ConfigLookup:
    """What a batch in several configurations reads of a chart's codes
    (:class:`~pathway.vector.Configurations`): each code's active states, and per state a
    boolean table over the codes, remade when configurations were registered since."""

    def __init__(self, tables: StepTables) -> None:
        self.tables = tables
        self._active: dict[int, frozenset[str]] = {}
        self._holds: dict[str, Array] = {}

    def active_of(self, code: int) -> frozenset[str]:
        """The active state ids of ``code`` (kept per code)."""
        found = self._active.get(code)
        if found is None:
            found = self._active[code] = frozenset(self.tables.configuration(code))
        return found

    def holds(self, state: str) -> Array:
        """Per registered code, whether ``state`` is active (index it with a code array)."""
        found = self._holds.get(state)
        if found is None or len(found) < len(self.tables):
            found = self._holds[state] = self.tables.in_state(state)
        return found


def _candidate(
    plan: ChartPlan,
    t: CompiledTransition,
    guards: dict[str, tuple[Callable[..., Any], frozenset[str]]],
) -> Candidate:
    for cb in t.conds:
        guards[cb.name] = (cb.func, cb.wants)
        if cb.wants & _TRANSITION_ARGS:
            raise InvalidPathwayError(
                f"{plan.chart_class.__name__}: guard {cb.name!r} on {t.event!r} from "
                f"{t.source!r} reads {sorted(cb.wants & _TRANSITION_ARGS)}; a guard evaluated "
                "over a batch may read the record and the event's arguments only"
            )
    return Candidate(t, tuple((cb.name, cb.expected) for cb in t.conds))


def by_code(codes: Array) -> list[tuple[int, Array]]:
    """The distinct codes with their rows (ascending): one stable argsort, none when all
    rows share a code."""
    n = len(codes)
    if not n:
        return []
    if (codes == codes[0]).all():
        return [(int(codes[0]), np.arange(n))]
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    bounds = [0, *(np.flatnonzero(ordered[1:] != ordered[:-1]) + 1).tolist(), n]
    return [(int(ordered[s]), order[s:e]) for s, e in itertools.pairwise(bounds)]


def _digits(key: int, radices: Sequence[int]) -> tuple[int, ...]:
    """The choices encoded in ``key`` (see :meth:`StepTables.step`)."""
    out = []
    for radix in radices:
        key, digit = divmod(key, radix)
        out.append(digit - 1)
    return tuple(out)


def _possible(group: tuple[Candidate, ...]) -> list[int]:
    """The choices a candidate group allows: up to its first unguarded transition, or none."""
    out = []
    for j, cand in enumerate(group):
        out.append(j)
        if not cand.guards:
            return out
    return [*out, -1]


def _choose(
    groups: tuple[tuple[Candidate, ...], ...], code: int, rows: Array, guards: GuardMasks
) -> Array:
    """Rows x groups: the index of the first enabled candidate of each group (-1: none)."""
    n = len(rows)
    choice = np.full((n, len(groups)), -1, dtype=np.int64)
    values: dict[str, Array] = {}
    known: dict[str, Array] = {}
    for k, group in enumerate(groups):
        remaining = np.ones(n, dtype=bool)
        for j, cand in enumerate(group):
            live = remaining.copy()
            for name, expected in cand.guards:
                if not live.any():
                    break
                value = values.get(name)
                if value is None:
                    value = values[name] = np.zeros(n, dtype=bool)
                    known[name] = np.zeros(n, dtype=bool)
                need = live & ~known[name]
                if need.any():
                    value[need] = np.asarray(guards(name, code, rows[need]), dtype=bool)
                    known[name] |= need
                live &= value == expected
            choice[live, k] = j
            remaining &= ~live
            if not remaining.any():
                break
    return choice


@dataclass(frozen=True)
class StepResult:
    """One batch step: per row, the outcome id, the new code and whether it was accepted."""

    tables: StepTables
    outcome: Array
    codes: Array
    accepted: Array

    def of(self, row: int) -> Outcome:
        """Row ``row``'s outcome."""
        return self.tables.outcomes[int(self.outcome[row])]

    def by_outcome(self) -> list[tuple[Outcome, Array]]:
        """Each outcome that occurred with its rows (ascending), in outcome id order."""
        return [(self.tables.outcomes[o], rows) for o, rows in by_code(self.outcome)]


#: Internal events a transition action raised: (event, keyword arguments), in order.
Raised = list[tuple[str, dict[str, Any]]]


class Actions(Protocol):
    """Runs an outcome's transition actions for some rows (after the exits, before the
    entries, as the interpreter does) and gives, per row, the internal events they raised.

    ``rows`` index the macrostep's batch; ``args`` are the event's arguments, aligned with
    ``rows``.
    """

    def __call__(
        self, outcome: Outcome, rows: Array, args: Mapping[str, Sequence[Any]]
    ) -> Sequence[Raised]: ...


class GuardsFor(Protocol):
    """The guards for one step of a macrostep: ``event`` sent to ``rows`` of the batch
    (configurations ``codes``, arguments ``args``, both aligned with ``rows``); the
    :class:`GuardMasks` answers for indices into ``rows``."""

    def __call__(
        self, event: str, rows: Array, codes: Array, args: Mapping[str, Sequence[Any]]
    ) -> GuardMasks: ...


@dataclass(frozen=True)
class MacroResult:
    """One event sent to a batch with the internal events its actions raised.

    ``waves[0]`` is the event over every row; each later wave is an internal event over the
    rows that raised it, in each row's order of raising (first in, first out). ``codes`` are
    the configurations after all of them; ``accepted`` says where the event was taken.
    """

    codes: Array
    accepted: Array
    waves: list[tuple[str, Array, StepResult]]

    def outcomes(self, row: int) -> list[Outcome]:
        """Row ``row``'s microsteps, in order."""
        out = []
        for _, rows, result in self.waves:
            at = np.flatnonzero(rows == row)
            if len(at):
                out.append(result.of(int(at[0])))
        return out

    def transits(self, row: int) -> tuple[Transit, ...]:
        """Row ``row``'s transits as the trace records the step (sorted by source state)."""
        order = self.waves[0][2].tables.plan.order
        found = [t for o in self.outcomes(row) for t in o.transits]
        return tuple(sorted(found, key=lambda t: order[t.source]))


# --- guards from a guideline's rules -------------------------------------------------------


class _RowView:
    """What a chart's guard or action reads of ``self`` (model, thresholds, options, ctx)
    and ``raise_``, which collects the internal events raised."""

    __slots__ = ("active", "guideline", "model", "options", "raised", "thresholds")

    def __init__(self, model: Any, th: Any, opt: Any, guideline: Any, active: frozenset[str]):
        self.model, self.thresholds, self.options = model, th, opt
        self.guideline, self.active = guideline, active
        self.raised: Raised = []

    def ctx(self) -> Any:
        """The rule context, as :meth:`~pathway.runtime.PathwayRuntime.ctx` gives it."""
        return self.guideline.context(self.model, self.thresholds, self.options, self.active)

    def raise_(self, event: str, **kwargs: Any) -> None:
        """Queue an internal event (the interpreter's ``raise_``)."""
        self.raised.append((event, kwargs))


class ChartActions:
    """The chart's own transition actions, row by row over the records (an :class:`Actions`).

    Each action is called as the interpreter calls it: with the event's arguments it asks
    for, ``source``/``state``/``target`` as the chart's states and ``event``, while the
    configuration is the one before the step less the states exited.
    """

    def __init__(self, tables: StepTables, records: Sequence[Any], th: Any, opt: Any) -> None:
        self.tables, self.records, self.th, self.opt = tables, records, th, opt
        self._guideline = getattr(tables.plan.chart_class, "guideline", None)

    def __call__(
        self, outcome: Outcome, rows: Array, args: Mapping[str, Sequence[Any]]
    ) -> list[Raised]:
        """Run ``outcome``'s actions for ``rows``; the events each row raised."""
        states = self.tables.plan.states
        active = frozenset(self.tables.configuration(outcome.code)) - frozenset(outcome.exits)
        out: list[Raised] = []
        for k, row in enumerate(rows.tolist()):
            view = _RowView(self.records[row], self.th, self.opt, self._guideline, active)
            for t in outcome.transitions:
                for cb in t.ons:
                    kwargs: dict[str, Any] = {}
                    for name in cb.wants:
                        if name in args:
                            kwargs[name] = args[name][k]
                        elif name in ("source", "state"):
                            kwargs[name] = states[t.source]
                        elif name == "target":
                            kwargs[name] = states[t.target] if t.target is not None else None
                        elif name == "event":
                            kwargs[name] = outcome.event
                    cb.func(view, **kwargs)
            out.append(view.raised)
        return out


class RuleGuards:
    """The guards of a guideline's chart over a batch of records, for one event.

    A guard named like one of ``conditions`` is that expression, evaluated over the rows'
    columns by :mod:`pathway.vector`; ``may_<action>`` for an action of the rulebook is the
    permission guard ``deviate or not breaches(action)`` (``deviate`` from ``args``); any
    other guard is the chart's own method, called row by row with the rows' ``args``.
    Guard values are the scalar ones (tests/test_vector_steps.py holds them to that).

    Args:
        tables: the chart's step tables (for the configuration of a code).
        rulebook: the guideline's rulebook as masks (with its vector forms).
        conditions: the guideline's named conditions (guard name -> expression).
        records: the patient records, one per row of the step.
        codes: the rows' configuration codes.
        th, opt: the thresholds and options shared by the rows.
        event: the event being stepped.
        args: the event's arguments per row (``deviate``, ``value``, ...), each a sequence
            aligned with the rows.
        batch_for: ``(code, rows) -> Batch``: the columns of the rows (ascending indices)
            in configuration ``code``, for an engine that keeps its records as columns;
            default: a :class:`~pathway.vector.Batch` over ``records`` (columns made from
            them on first use).
        mixed_for: ``(rows, codes) -> Batch``: the columns of rows in several
            configurations (:meth:`~pathway.vector.Batch.configured`), for :meth:`prefetch`;
            ``None``: no guard is asked ahead.
    """

    def __init__(
        self,
        tables: StepTables,
        rulebook: VectorRulebook,
        conditions: Mapping[str, Expr],
        records: Sequence[Any],
        codes: Array,
        th: Any,
        opt: Any,
        *,
        event: str,
        args: Mapping[str, Sequence[Any]] | None = None,
        batch_for: Callable[[int, Array], Batch] | None = None,
        mixed_for: Callable[[Array, Array], Batch] | None = None,
    ) -> None:
        self.tables, self.rulebook, self.conditions = tables, rulebook, conditions
        self.batch_for = batch_for or self._records_batch
        self.records, self.codes = records, np.asarray(codes, dtype=np.int64)
        self.th, self.opt, self.event = th, opt, event
        self.args = dict(args or {})
        deviate = self.args.get("deviate")
        self._deviate = (
            np.zeros(len(records), dtype=bool) if deviate is None else np.asarray(deviate, bool)
        )
        self._groups: dict[int, tuple[Array, VectorInterpreter]] = {}
        self.mixed_for = mixed_for
        #: Guard -> (rows, values) evaluated ahead over rows of several codes (:meth:`prefetch`).
        self._ahead: dict[str, tuple[Array, Array]] = {}
        chart = tables.plan.chart_class
        self._chart = chart
        self._guideline = getattr(chart, "guideline", None)

    def with_batches(self, batches: Mapping[int, Batch]) -> RuleGuards:
        """The same guards over batches made already, one per code (of all its rows)."""
        return RuleGuards(
            self.tables,
            self.rulebook,
            self.conditions,
            self.records,
            self.codes,
            self.th,
            self.opt,
            event=self.event,
            args=self.args,
            batch_for=lambda code, rows: batches[code],
        )  # no guard asked ahead: the batches are per code

    def _records_batch(self, code: int, rows: Array) -> Batch:
        records = [self.records[i] for i in rows.tolist()]
        return Batch(len(records), frozenset(self.tables.configuration(code)), records=records)

    def _group(self, code: int) -> tuple[Array, VectorInterpreter]:
        found = self._groups.get(code)
        if found is None:
            members = np.flatnonzero(self.codes == code)
            batch = self.batch_for(code, members)
            found = self._groups[code] = (
                members,
                self.rulebook.interpreter(batch, self.th, self.opt),
            )
        return found

    def prefetch(self, guard: str, rows: Array) -> None:
        """Evaluate ``guard`` now over ``rows`` (ascending, of several configurations), all
        of which :meth:`__call__` will ask it for: one evaluation instead of one per code.
        Only a guard that is an expression (a named condition or a permission); not
        without ``mixed_for``."""
        if self.mixed_for is None or guard in self._ahead:
            return
        action = guard[4:] if guard.startswith("may_") else None
        permission = action is not None and action in self.rulebook.book.actions
        expr = None if permission else self.conditions.get(guard)
        if not permission and expr is None:
            return  # the chart's own method: row by row, in the order asked
        vi = self.rulebook.interpreter(self.mixed_for(rows, self.codes[rows]), self.th, self.opt)
        if action is not None and permission:
            deviate = self._deviate[rows]
            values = deviate | ~self.rulebook.breached(vi, action, ~deviate)
        else:
            assert expr is not None
            values = vi.test(expr)
        self._ahead[guard] = (rows, np.asarray(values, dtype=bool))

    def __call__(self, guard: str, code: int, rows: Array) -> Array:
        """The guard's truth for ``rows`` (all in configuration ``code``)."""
        rows = np.asarray(rows, dtype=np.int64)
        ahead = self._ahead.get(guard)
        if ahead is not None:
            at = np.minimum(np.searchsorted(ahead[0], rows), len(ahead[0]) - 1)
            if (ahead[0][at] == rows).all():
                return ahead[1][at]
        action = guard[4:] if guard.startswith("may_") else None
        if action is not None and action in self.rulebook.book.actions:
            deviate = self._deviate[rows]
            out = deviate.copy()
            ask = rows[~deviate]  # ``deviate or ...``: the check runs where deviate is false
            if len(ask):
                members, vi = self._group(code)
                mask = _mask(members, ask)
                breached = self.rulebook.breached(vi, action, mask)
                out[~deviate] = ~breached[np.searchsorted(members, ask)]
            return out
        expr = self.conditions.get(guard)
        if expr is not None:
            members, vi = self._group(code)
            mask = _mask(members, rows)
            return np.asarray(vi.test(expr, mask)[np.searchsorted(members, rows)], dtype=bool)
        return self._rowwise(guard, code, rows)

    def _rowwise(self, guard: str, code: int, rows: Array) -> Array:
        found = self.tables.guards.get(guard)
        if found is None:
            raise InvalidPathwayError(f"{self._chart.__name__}: no guard {guard!r}")
        func, wants = found
        active = frozenset(self.tables.configuration(code))
        out = np.zeros(len(rows), dtype=bool)
        for k, i in enumerate(rows.tolist()):
            view = _RowView(self.records[i], self.th, self.opt, self._guideline, active)
            kwargs = {name: self.args[name][i] for name in wants if name in self.args}
            if "event" in wants:
                kwargs["event"] = self.event
            out[k] = bool(func(view, **kwargs))
        return out


def _mask(members: Array, rows: Array) -> Array:
    """A boolean mask over ``members`` (sorted row indices) selecting ``rows``."""
    mask = np.zeros(len(members), dtype=bool)
    mask[np.searchsorted(members, rows)] = True
    return mask


# --- rounds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundGroups:
    """A round's rows grouped by (configuration code, kind of step).

    ``order`` lists the rows group by group; group ``g`` is ``order[starts[g]:starts[g] +
    sizes[g]]`` with configuration ``codes[g]`` and kind ``kinds[g]``.
    """

    order: Array
    starts: Array
    sizes: Array
    codes: Array
    kinds: Array

    def __len__(self) -> int:
        """Number of groups."""
        return len(self.sizes)

    def rows(self, g: int) -> Array:
        """The rows of group ``g`` (ascending)."""
        s = int(self.starts[g])
        return self.order[s : s + int(self.sizes[g])]


def round_groups(codes: Array, kinds: Array) -> RoundGroups:
    """Group rows by (``codes[i]``, ``kinds[i]``), both non-negative integers: one argsort.

    Groups come in ascending (code, kind) order; rows within a group stay ascending.
    """
    codes = np.asarray(codes, dtype=np.int64)
    kinds = np.asarray(kinds, dtype=np.int64)
    if codes.shape != kinds.shape:
        raise ValueError(f"codes {codes.shape} and kinds {kinds.shape} differ in shape")
    if not len(codes):
        empty = np.zeros(0, dtype=np.int64)
        return RoundGroups(empty, empty, empty, empty, empty)
    width = int(kinds.max()) + 1
    key = codes * width + kinds
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(ordered)])
    first = ordered[starts]
    return RoundGroups(order, starts, sizes, first // width, first % width)
