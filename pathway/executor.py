"""A compiled executor for a pathway chart: the same chart, without interpreter overhead.

:func:`compile_chart` reads a python-statemachine chart class (its states, transitions,
guard and action callables, rule ids) into flat lookup tables once. A
:class:`CompiledInterpreter` then runs those tables with the statechart semantics the chart
relies on (SCXML-style transition selection per atomic state walking up its ancestors,
transition domains, exit and entry sets, default entry of compound and parallel states,
internal events raised by actions). Guards and actions are the chart class's own
functions, called with the same keyword arguments, so no clinical logic is written twice.

:class:`CompiledRuntime` mixes the interpreter with :class:`~pathway.runtime.PathwayRuntime`
exactly as a guideline's chart (:class:`~pathway.AIHPathway`) mixes in python-statemachine, so
both give the same effects, recommendations, deviations, invariants, traces and snapshots.
:func:`compiled_class` gives the compiled class of any guideline's chart (the AIH one is
:class:`pathway.compiled.CompiledPathway`). Differential tests (tests/test_compiled.py) hold
the two to that.

Not supported (the AIH chart uses none of them; :func:`compile_chart` refuses a chart that
does): history states, eventless transitions, delayed events, multiple targets, async
callbacks and entry/exit actions declared on states.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from statemachine import Event, StateChart
from statemachine.callbacks import CallbackGroup
from statemachine.exceptions import TransitionNotAllowed

from .errors import InvalidPathwayError
from .runtime import PathwayRuntime

__all__ = [
    "ChartPlan",
    "CompiledInterpreter",
    "CompiledRuntime",
    "CompiledTransition",
    "candidate_groups",
    "compile_chart",
    "compiled_class",
    "exit_set",
    "without_conflicts",
]

#: Keyword arguments a guard or action may ask for, besides those sent with the event.
_INJECTED = frozenset({"source", "target", "event", "state"})


@dataclass(frozen=True, slots=True)
class _Callback:
    func: Callable[..., Any]
    expected: bool
    wants: frozenset[str]
    name: str = ""  # the name the chart declares (its method's attribute name)


@dataclass(frozen=True, slots=True)
class CompiledTransition:
    """One transition as data: ids, guard and action callables, rule ids."""

    event: str
    source: str
    target: str | None
    internal: bool
    conds: tuple[_Callback, ...]
    ons: tuple[_Callback, ...]
    rule_ids: tuple[str, ...]
    domain: str | None
    entry: tuple[str, ...]


@dataclass(frozen=True)
class ChartPlan:
    """The compiled tables of one chart class."""

    chart_class: type[StateChart[Any]]
    order: dict[str, int]
    parent: dict[str, str | None]
    atomic: frozenset[str]
    ancestors: dict[str, tuple[str, ...]]
    table: dict[tuple[str, str], tuple[CompiledTransition, ...]]
    events_of: dict[str, frozenset[str]]
    initial: tuple[str, ...]
    final: frozenset[str]
    states: dict[str, Any]
    #: (configuration, event) -> candidate transitions per atomic state (filled as used).
    candidates: dict[tuple[tuple[str, ...], str], tuple[tuple[CompiledTransition, ...], ...]] = (
        field(default_factory=dict, compare=False, repr=False)
    )


_PLANS: dict[type, ChartPlan] = {}


def _wants(func: Callable[..., Any]) -> frozenset[str]:
    params = inspect.signature(func).parameters
    return frozenset(name for name in params if name != "self")


def _callbacks(chart_class: type, transition: Any, group: CallbackGroup) -> tuple[_Callback, ...]:
    out = []
    for spec in transition._specs:
        if spec.group is not group or not isinstance(spec.func, str):
            continue
        func = getattr(chart_class, spec.func, None)
        if func is None:
            if getattr(spec, "is_convention", True):
                continue  # a naming-convention hook (on_<event>, ...) the chart does not define
            # A declared guard or action that is not a method: an expression such as
            # "not ready" or "a and b", which python-statemachine evaluates and this executor
            # would otherwise skip (taking the transition unguarded).
            raise InvalidPathwayError(
                f"{chart_class.__name__}: {spec.func!r} on a transition from "
                f"{transition.source.id!r} is not a method of the chart; the compiled executor "
                "calls methods only (write the expression as a method, or use unless=)"
            )
        if not callable(func):
            raise InvalidPathwayError(f"callback {spec.func!r} is not callable")
        expected = True if spec.expected_value is None else bool(spec.expected_value)
        out.append(_Callback(func, expected, _wants(func), spec.func))
    return tuple(out)


def _descendant_entry(plan_states: dict[str, Any], state_id: str, acc: list[str]) -> None:
    """Add ``state_id`` and its default descendants (initial child, or all regions)."""
    acc.append(state_id)
    state = plan_states[state_id]
    if not state.states:
        return
    if state.parallel:
        for child in state.states:
            _descendant_entry(plan_states, child.id, acc)
    else:
        initial = next(c for c in state.states if c.initial)
        _descendant_entry(plan_states, initial.id, acc)


def compile_chart(chart_class: type[StateChart[Any]]) -> ChartPlan:
    """Compile ``chart_class`` into lookup tables (cached per class).

    Raises:
        InvalidPathwayError: the chart uses a feature this executor does not support.
    """
    cached = _PLANS.get(chart_class)
    if cached is not None:
        return cached
    states: dict[str, Any] = dict(chart_class.states_map)
    order = {sid: i for i, sid in enumerate(states)}
    parent = {sid: (s.parent.id if s.parent is not None else None) for sid, s in states.items()}
    ancestors = {sid: tuple(a.id for a in s.ancestors()) for sid, s in states.items()}
    atomic = frozenset(sid for sid, s in states.items() if not s.states)
    table: dict[tuple[str, str], list[CompiledTransition]] = {}
    for sid, state in states.items():
        if state.is_history or getattr(state, "history", None):
            raise InvalidPathwayError(f"history state in {sid!r} is not supported")
        for t in state.transitions:
            if t.initial:
                continue
            if not t.event:
                raise InvalidPathwayError(f"eventless transition from {sid!r} is not supported")
            if len(t.targets) > 1:
                raise InvalidPathwayError(f"multi-target transition from {sid!r}")
            target = t.target.id if t.target is not None else None
            domain, entry = _domain_and_entry(states, ancestors, t)
            for event in t.event.split():
                compiled = CompiledTransition(
                    event=event,
                    source=sid,
                    target=target,
                    internal=bool(t.internal),
                    conds=_callbacks(chart_class, t, CallbackGroup.COND),
                    ons=_callbacks(chart_class, t, CallbackGroup.ON),
                    rule_ids=tuple(getattr(t, "rule_ids", ())),
                    domain=domain,
                    entry=entry,
                )
                table.setdefault((sid, event), []).append(compiled)
    events_of = {sid: frozenset(ev for (s, ev) in table if s == sid) for sid in states}
    initial_state = chart_class.initial_state
    assert initial_state is not None
    initial: list[str] = []
    _descendant_entry(states, initial_state.id, initial)
    plan = ChartPlan(
        chart_class=chart_class,
        order=order,
        parent=parent,
        atomic=atomic,
        ancestors=ancestors,
        table={k: tuple(v) for k, v in table.items()},
        events_of=events_of,
        initial=tuple(initial),
        final=frozenset(sid for sid, s in states.items() if s.final),
        states=states,
    )
    _PLANS[chart_class] = plan
    return plan


def _domain_and_entry(
    states: dict[str, Any], ancestors: dict[str, tuple[str, ...]], t: Any
) -> tuple[str | None, tuple[str, ...]]:
    """Transition domain (SCXML) and the states entered, in document order of entry."""
    if t.target is None:
        return None, ()
    source, target = t.source, t.target
    if t.internal and source.is_compound and target.is_descendant(source):
        domain: str | None = source.id
    elif t.internal and t.is_self and target.is_atomic:
        domain = source.id
    else:
        domain = None
        for anc in source.ancestors():
            if anc.is_compound and (target is anc or target.is_descendant(anc)):
                domain = anc.id
                break
    entry: list[str] = []
    _descendant_entry(states, target.id, entry)
    # Ancestors of the target below the domain are entered too; a parallel one also
    # enters, by default, each of its regions that the target is not in.
    chain = []
    for anc_id in ancestors[target.id]:
        if anc_id == domain:
            break
        chain.append(anc_id)
    entry.extend(chain)
    for anc_id in chain:
        anc = states[anc_id]
        if not anc.parallel:
            continue
        for child in anc.states:
            covered = any(e == child.id or child.id in ancestors[e] for e in entry)
            if not covered:
                _descendant_entry(states, child.id, entry)
    order = {sid: i for i, sid in enumerate(states)}
    return domain, tuple(sorted(set(entry), key=order.__getitem__))


def candidate_groups(
    plan: ChartPlan, config: Sequence[str], event: str
) -> tuple[tuple[CompiledTransition, ...], ...]:
    """Per active atomic state of ``config`` (document order), the transitions on ``event``
    from it and its ancestors, in the order they are tried (the state's own first)."""
    groups = []
    for sid in config:
        if sid not in plan.atomic:
            continue
        group = tuple(
            t for s in (sid, *plan.ancestors[sid]) for t in plan.table.get((s, event), ())
        )
        if group:
            groups.append(group)
    return tuple(groups)


def exit_set(plan: ChartPlan, config: Sequence[str], t: CompiledTransition) -> list[str]:
    """The states of ``config`` that taking ``t`` exits (document order; none if targetless)."""
    if t.target is None:
        return []
    if t.domain is None:
        return list(config)
    anc = plan.ancestors
    return [s for s in config if t.domain in anc[s]]


def without_conflicts(
    plan: ChartPlan, config: Sequence[str], chosen: list[CompiledTransition]
) -> list[CompiledTransition]:
    """``chosen`` without the transitions that conflict (overlapping exit sets): a transition
    from a descendant state pre-empts one from its ancestor, otherwise the first one wins."""
    if len(chosen) < 2:
        return chosen
    kept: list[CompiledTransition] = []
    for t1 in chosen:
        exit1 = set(exit_set(plan, config, t1))
        preempted = False
        drop: list[CompiledTransition] = []
        for t2 in kept:
            if exit1 & set(exit_set(plan, config, t2)):
                if t2.source in plan.ancestors[t1.source]:
                    drop.append(t2)
                else:
                    preempted = True
                    break
        if not preempted:
            kept = [t for t in kept if t not in drop] + [t1]
    return kept


class _ConfigViews(NamedTuple):
    """What the runtime asks of a configuration, derived once per configuration."""

    key: tuple[str, ...]  # active ids in document order (the candidate cache's key)
    active: frozenset[str]
    by_name: tuple[str, ...]  # sorted by name, as steps record them
    events: frozenset[str]  # events some active state has a transition for


class CompiledInterpreter:
    """Runs a :class:`ChartPlan`: the primitives PathwayRuntime needs from a chart engine.

    Provides ``send``, ``raise_``, ``configuration_values``, ``configuration``,
    ``allowed_event_ids``, ``history_values`` and ``states_map``, and tells listeners
    ``on_enter_state(state)`` and ``after_transition(event, source, target, transition)``.
    """

    plan: ChartPlan
    model: Any

    def __init__(self, model: Any, listeners: Sequence[Any] = ()) -> None:
        self.model = model
        self.history_values: dict[str, list[Any]] = {}
        self._listeners = list(listeners)
        self._queue: list[tuple[str, dict[str, Any]]] = []
        self._views: _ConfigViews | None = None  # None: to be derived from _config again
        self._enter_hooks = [
            lst.on_enter_state for lst in self._listeners if hasattr(lst, "on_enter_state")
        ]
        self._after_hooks = [
            lst.after_transition for lst in self._listeners if hasattr(lst, "after_transition")
        ]
        restored = getattr(model, "state", None)
        if restored:
            # A model that already holds a configuration is resumed: no entry action runs.
            self._config: list[str] = sorted(
                (str(s) for s in restored), key=self.plan.order.__getitem__
            )
        else:
            self._config = []
            self._enter(self.plan.initial)
        self.model.state = self._config

    # --- the primitives ---------------------------------------------------------------

    @property
    def states_map(self) -> dict[str, Any]:
        """State id -> the chart's State object."""
        return self.plan.states

    @property
    def configuration_values(self) -> list[str]:
        """Active state ids in document order."""
        return self._config

    @property
    def configuration(self) -> list[Any]:
        """Active State objects in document order."""
        return [self.plan.states[s] for s in self._config]

    def allowed_event_ids(self) -> frozenset[str]:
        """Events with at least one transition from an active state (guards not evaluated)."""
        return self._config_views().events

    def _config_views(self) -> _ConfigViews:
        """Views of the configuration, derived once after each change (see ``_views``)."""
        views = self._views
        if views is None:
            config, events_of = self._config, self.plan.events_of
            views = self._views = _ConfigViews(
                key=tuple(config),
                active=frozenset(config),
                by_name=tuple(sorted(config)),
                events=frozenset().union(*(events_of[sid] for sid in config)),
            )
        return views

    def raise_(self, event: str, **kwargs: Any) -> None:
        """Queue an internal event, processed before ``send`` returns."""
        self._queue.append((event, kwargs))

    def send(self, event: str, **kwargs: Any) -> None:
        """Process ``event`` and any internal events it raises (one macrostep)."""
        self._process(event, kwargs)
        while self._queue:
            internal, ikw = self._queue.pop(0)
            self._process(internal, ikw)

    # --- semantics ----------------------------------------------------------------------

    def _process(self, event: str, kwargs: dict[str, Any]) -> None:
        selected = self._select(event, kwargs)
        if not selected:
            raise TransitionNotAllowed(Event(event), self.configuration)  # type: ignore[arg-type]
        self._microstep(selected, event, kwargs)

    def _call(
        self, cb: _Callback, t: CompiledTransition, event: str, kwargs: dict[str, Any]
    ) -> Any:
        if not cb.wants:
            return cb.func(self)
        args: dict[str, Any] = {}
        states = self.plan.states
        for name in cb.wants:
            if name in kwargs:
                args[name] = kwargs[name]
            elif name == "source" or name == "state":
                args[name] = states[t.source]
            elif name == "target":
                args[name] = states[t.target] if t.target is not None else None
            elif name == "event":
                args[name] = event
        return cb.func(self, **args)

    def _enabled(self, t: CompiledTransition, event: str, kwargs: dict[str, Any]) -> bool:
        # An explicit loop, not all() over a generator: this runs for every guard.
        for cb in t.conds:  # noqa: SIM110
            if bool(self._call(cb, t, event, kwargs)) is not cb.expected:
                return False
        return True

    def _select(self, event: str, kwargs: dict[str, Any]) -> list[CompiledTransition]:
        chosen: list[CompiledTransition] = []
        for candidates in self._candidates(event):
            for t in candidates:
                if self._enabled(t, event, kwargs):
                    if t not in chosen:
                        chosen.append(t)
                    break
        return self._without_conflicts(chosen)

    def _candidates(self, event: str) -> tuple[tuple[CompiledTransition, ...], ...]:
        """Per active atomic state, the transitions on ``event`` from it and its ancestors.

        In the order they are tried (the state's own first); cached per configuration.
        """
        key = (self._config_views().key, event)
        cache = self.plan.candidates
        found = cache.get(key)
        if found is None:
            found = candidate_groups(self.plan, self._config, event)
            if len(cache) > 8192:
                cache.clear()
            cache[key] = found
        return found

    def _exit_set(self, t: CompiledTransition) -> list[str]:
        return exit_set(self.plan, self._config, t)

    def _without_conflicts(self, chosen: list[CompiledTransition]) -> list[CompiledTransition]:
        return without_conflicts(self.plan, self._config, chosen)

    def _enter(self, states: Iterable[str]) -> None:
        config = self._config
        objs = self.plan.states
        for sid in states:
            if sid in config:
                continue
            self._views = None
            config.append(sid)
            for hook in self._enter_hooks:
                hook(objs[sid])
        config.sort(key=self.plan.order.__getitem__)
        self._views = None  # the key is in document order

    def _microstep(
        self, selected: list[CompiledTransition], event: str, kwargs: dict[str, Any]
    ) -> None:
        exits: set[str] = set()
        for t in selected:
            exits.update(self._exit_set(t))
        if exits:  # targetless transitions (most findings) leave the configuration as is
            self._views = None
            self._config[:] = [s for s in self._config if s not in exits]
        for t in selected:
            for cb in t.ons:
                self._call(cb, t, event, kwargs)
        for t in selected:
            if t.target is not None:
                self._enter(t.entry)
        objs = self.plan.states
        for t in selected:
            target = objs[t.target] if t.target is not None else None
            for hook in self._after_hooks:
                hook(event, objs[t.source], target, t)


class CompiledRuntime(PathwayRuntime[Any], CompiledInterpreter):
    """A guideline's pathway on the compiled executor: same API and behaviour as its chart.

    Guards and transition actions are the chart's own functions; only the statechart
    interpreter differs. A subclass names its chart in ``definition`` (and sets ``plan``,
    ``states_map`` and ``guideline`` from it); :func:`compiled_class` builds one.
    """

    definition: type[Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        chart = cls.__dict__.get("definition")
        if chart is not None:
            # The first class compiled for a chart is the one compiled_class returns.
            _COMPILED.setdefault(chart, cls)

    @property
    def active(self) -> frozenset[str]:
        """Ids of all active states (cached between configuration changes)."""
        return self._config_views().active

    @property
    def is_dead(self) -> bool:
        """True once the patient has died (the chart's final state)."""
        return self.guideline.final_state in self._config

    def sorted_configuration(self) -> tuple[str, ...]:
        """Ids of all active states, sorted by name (cached between configuration changes)."""
        return self._config_views().by_name


_COMPILED: dict[type, type[CompiledRuntime]] = {}


def compiled_class(chart_class: type[PathwayRuntime[Any]]) -> type[CompiledRuntime]:
    """The compiled-executor class of a guideline's chart class (built once per chart).

    Raises:
        InvalidPathwayError: the chart uses a feature this executor does not support.
    """
    found = _COMPILED.get(chart_class)
    if found is None:
        found = type(
            f"Compiled{chart_class.__name__}",
            (CompiledRuntime,),
            {
                "__doc__": f"{chart_class.__name__} on the compiled executor.",
                "__module__": __name__,
                "definition": chart_class,
                "plan": compile_chart(chart_class),  # type: ignore[arg-type]
                "states_map": chart_class.states_map,  # type: ignore[attr-defined]
                "guideline": chart_class.guideline,
            },
        )
    return found
