"""A plain-data view of a statechart class: states, hierarchy, transitions, guards, rules.

Verification (static analysis, coverage, scenario generation) reads charts through this
model instead of python-statemachine internals, so that those tools work the same on the
shipped :class:`~pathway.guidelines.aih.chart.AIHPathway` and on any other chart class (a
mutated copy in a test, a future guideline). Pure: no time, no randomness, no chart instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from statemachine.spec_parser import names_in_boolean_expr

__all__ = ["ChartModel", "Guard", "HistoryInfo", "StateInfo", "TransitionInfo"]

StateKind = Literal["atomic", "compound", "parallel", "final"]


@dataclass(frozen=True, slots=True)
class Guard:
    """One guard of a transition.

    Attributes:
        expr: the guard as written (a method name or a boolean expression of names).
        names: the method names the guard reads.
        expected: ``True`` for ``cond``, ``False`` for ``unless``.
    """

    expr: str
    names: tuple[str, ...]
    expected: bool = True

    def __str__(self) -> str:
        return self.expr if self.expected else f"not ({self.expr})"


@dataclass(frozen=True, slots=True)
class StateInfo:
    """One state of the chart.

    Attributes:
        id: the state id.
        parent: id of the enclosing state, or ``None`` at top level.
        children: ids of the sub-states, in document order.
        kind: ``atomic``, ``compound``, ``parallel`` or ``final``.
        initial: entered by default when its parent is entered.
        order: document order (0-based, depth first).
    """

    id: str
    parent: str | None
    children: tuple[str, ...]
    kind: StateKind
    initial: bool
    order: int


@dataclass(frozen=True, slots=True)
class HistoryInfo:
    """A history pseudo-state: its id, its parent and the targets of its default transition."""

    id: str
    parent: str | None
    parent_kind: StateKind | None
    defaults: tuple[str, ...]
    deep: bool


@dataclass(frozen=True, slots=True)
class TransitionInfo:
    """One event-triggered transition (one row per event when a transition has several).

    Attributes:
        index: position in :attr:`ChartModel.transitions` (a stable id within one chart).
        event: the triggering event id.
        source: the source state id.
        target: the (first) target id, or ``None`` for a transition that changes no state.
        guards: the guards in evaluation order (all must hold).
        rule_ids: the guideline rules the transition encodes (``transition.rule_ids``).
        internal: an internal transition (no exit and re-entry of the source).
        rank: position among the source state's transitions (document order).
    """

    index: int
    event: str
    source: str
    target: str | None
    guards: tuple[Guard, ...]
    rule_ids: tuple[str, ...]
    internal: bool
    rank: int

    @property
    def key(self) -> str:
        """A readable key: ``event: source -> target`` (``(stay)`` when targetless).

        Unique within a chart unless two transitions share event, source and target (the
        analysis reports that as a duplicate).
        """
        return f"{self.event}: {self.source} -> {self.target or '(stay)'}"

    @property
    def label(self) -> str:
        """``event: source -> target [guards]`` for people."""
        guards = f" [{', '.join(str(g) for g in self.guards)}]" if self.guards else ""
        return f"{self.event}: {self.source} -> {self.target or '(stay)'}{guards}"

    @property
    def guard_names(self) -> tuple[str, ...]:
        """Every method name the guards read, in order."""
        return tuple(n for g in self.guards for n in g.names)


@dataclass
class ChartModel:
    """The structure of a chart class as plain data.

    Build it with :meth:`of`. States are keyed by id; ``top`` lists the top-level states.
    """

    name: str
    states: dict[str, StateInfo]
    top: tuple[str, ...]
    transitions: list[TransitionInfo]
    events: tuple[str, ...]
    history: dict[str, HistoryInfo] = field(default_factory=dict)
    #: transition objects by index, for tools that need the live object (same order).
    objects: list[Any] = field(default_factory=list, repr=False)

    @classmethod
    def of(cls, chart_class: type[Any]) -> ChartModel:
        """Read ``chart_class`` (a python-statemachine ``StateChart`` class)."""
        states: dict[str, StateInfo] = {}
        history: dict[str, HistoryInfo] = {}
        order = 0

        def kind_of(state: Any) -> StateKind:
            if state.final:
                return "final"
            if state.parallel:
                return "parallel"
            return "compound" if state.states else "atomic"

        def visit(state: Any, parent: str | None) -> None:
            nonlocal order
            states[state.id] = StateInfo(
                state.id,
                parent,
                tuple(child.id for child in state.states),
                kind_of(state),
                bool(state.initial),
                order,
            )
            order += 1
            for hist in getattr(state, "history", []) or []:
                defaults = tuple(t.target.id for t in hist.transitions if t.target is not None)
                deep = str(getattr(hist, "type", "shallow")).lower().endswith("deep")
                history[hist.id] = HistoryInfo(hist.id, state.id, kind_of(state), defaults, deep)
            for child in state.states:
                visit(child, state.id)

        for state in chart_class.states:
            visit(state, None)

        transitions: list[TransitionInfo] = []
        objects: list[Any] = []
        for sid in sorted(states, key=lambda s: states[s].order):
            state = chart_class.states_map[sid]
            rank = 0
            for transition in state.transitions:
                if getattr(transition, "initial", False) or not transition.event:
                    continue  # the default entry of a compound state
                guards = tuple(_guards(transition))
                target = transition.target.id if transition.target is not None else None
                for event in transition.event.split():
                    transitions.append(
                        TransitionInfo(
                            len(transitions),
                            event,
                            sid,
                            target,
                            guards,
                            tuple(getattr(transition, "rule_ids", ())),
                            bool(transition.internal),
                            rank,
                        )
                    )
                    objects.append(transition)
                rank += 1
        events = tuple(str(e) for e in chart_class.events)
        top = tuple(s.id for s in chart_class.states)
        return cls(chart_class.__name__, states, top, transitions, events, history, objects)

    # --- hierarchy ------------------------------------------------------------------------

    def ancestors(self, sid: str) -> list[str]:
        """Proper ancestors of ``sid``, innermost first."""
        out: list[str] = []
        up = self.states[sid].parent if sid in self.states else self._history_parent(sid)
        while up is not None:
            out.append(up)
            up = self.states[up].parent
        return out

    def _history_parent(self, sid: str) -> str | None:
        info = self.history.get(sid)
        return info.parent if info else None

    def descendants(self, sid: str) -> list[str]:
        """All states below ``sid``, depth first."""
        out: list[str] = []
        for child in self.states[sid].children:
            out.append(child)
            out.extend(self.descendants(child))
        return out

    def is_atomic(self, sid: str) -> bool:
        """True for a state without sub-states (final states included)."""
        return not self.states[sid].children

    def atomic_states(self) -> list[str]:
        """Every atomic state, in document order."""
        return [s for s in self._ordered() if self.is_atomic(s)]

    def _ordered(self) -> list[str]:
        return sorted(self.states, key=lambda s: self.states[s].order)

    def region_of(self, sid: str) -> str | None:
        """The parallel region holding ``sid`` (a child of a parallel state), if any."""
        chain = [sid, *self.ancestors(sid)]
        for here, up in pairwise(chain):
            if self.states[up].kind == "parallel":
                return here
        return None

    def entered_with(self, sid: str) -> set[str]:
        """States entered along with ``sid``: its ancestors and its default descendants.

        Entering a parallel state enters every region; entering a compound state enters
        its initial child; entering a state enters its ancestors (and, for an ancestor that
        is parallel, the default configuration of its other regions).
        """
        out: set[str] = set()

        def down(s: str) -> None:
            if s in out:
                return
            out.add(s)
            info = self.states[s]
            if info.kind == "parallel":
                for child in info.children:
                    down(child)
            elif info.children:
                initial = [c for c in info.children if self.states[c].initial]
                down((initial or list(info.children))[0])

        if sid in self.history:
            hist = self.history[sid]
            parent = hist.parent
            if parent is None:
                return out
            targets = hist.defaults or ()
            if targets:
                for t in targets:
                    out |= self.entered_with(t)
            else:
                out |= self.entered_with(parent)
            # history may restore any previously active descendant of its parent
            out |= set(self.descendants(parent))
            return out
        down(sid)
        for up in self.ancestors(sid):
            out.add(up)
            if self.states[up].kind == "parallel":
                for region in self.states[up].children:
                    if region not in out and not (set(self.descendants(region)) & out):
                        down(region)
        return out

    # --- transitions ------------------------------------------------------------------------

    def transitions_from(self, sid: str, event: str | None = None) -> list[TransitionInfo]:
        """Transitions whose source is ``sid`` (optionally for one event), in rank order."""
        return [
            t for t in self.transitions if t.source == sid and (event is None or t.event == event)
        ]

    def handlers(self, sid: str, event: str) -> Iterator[TransitionInfo]:
        """Transitions that may handle ``event`` while atomic state ``sid`` is active.

        In selection order: the state's own transitions first, then each ancestor's
        (python-statemachine takes the first enabled one on this chain).
        """
        for s in (sid, *self.ancestors(sid)):
            yield from self.transitions_from(s, event)

    def leaves(self, transition: TransitionInfo, sid: str) -> bool:
        """True when taking ``transition`` while ``sid`` is active leaves ``sid`` for good.

        The transition must exit ``sid`` (``sid`` lies below the transition's domain) and
        not enter it again (a self-transition re-enters its source).
        """
        if transition.target is None:
            return False
        domain = self._domain(transition)
        if domain is not None and domain not in self.ancestors(sid):
            return False
        return sid not in self.entered_with(transition.target)

    def _domain(self, transition: TransitionInfo) -> str | None:
        """The compound state that the transition stays inside (``None``: the root)."""
        assert transition.target is not None
        source, target = transition.source, transition.target
        target_up = self.ancestors(target)
        if transition.internal and source in target_up and self.states[source].children:
            return source
        for up in self.ancestors(source):
            if up in target_up and self.states[up].kind == "compound":
                return up
        return None


def _guards(transition: Any) -> Iterator[Guard]:
    for spec in transition.cond:
        if getattr(spec, "is_convention", False):
            continue
        expr = str(spec.attr_name)
        yield Guard(expr, _names(expr), spec.expected_value is not False)


def _names(expr: str) -> tuple[str, ...]:
    try:
        names = names_in_boolean_expr(expr)
    except Exception:  # pragma: no cover - not an expression: a plain name
        return (expr,)
    return tuple(sorted(names)) if names else (expr,)
