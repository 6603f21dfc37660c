"""A guideline as one bundle the engine is given, and the protocol of a running pathway.

The engine (runtime, compiled executor, snapshots, diagrams) knows no disease: everything
clinical reaches it through a :class:`Guideline` (chart class, record type, rulebook,
effects, timers, thresholds, options, invariants, vocabulary and rule catalogue). A
guideline's chart class carries its bundle as ``guideline`` (set when the bundle is built),
so ``AIHPathway(record)`` needs no other argument. :class:`Pathway` types what a driver
(the simulator, a replay, the trainer) may call on a running pathway, whichever engine runs
it. The registry of shipped guidelines is :mod:`pathway.guidelines`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .declarations import Breach, Rulebook
from .errors import InvalidPathwayError
from .expr import Deps
from .invariants import InvariantCheck, InvariantMonitor, RuleEntry, Violation
from .runtime import PendingTimer, Recommendation, Step, StepListener
from .structure import ChartModel
from .timers import TimerTable

__all__ = [
    "AnyPathway",
    "Breach",
    "Citation",
    "Effect",
    "Guideline",
    "InvariantMonitor",
    "PageText",
    "Pathway",
    "RuleEntry",
    "Violation",
]

#: What a finding, timer or action does to the record: ``(record, value, thresholds,
#: options, active) -> None`` (``value`` is the finding's payload; ``None`` otherwise).
Effect = Callable[[Any, Any, Any, Any, Set[str]], None]

#: ``(finding, value, day) -> (payload, effect value)``: the finding's payload checked
#: against the vocabulary (raising :class:`~pathway.errors.PatientError`), as the trace
#: records it, and as the finding's effect receives it.
PayloadCheck = Callable[[str, Any, float], tuple[Any, Any]]

#: ``(record JSON, thresholds, options, chart structure) -> record``: a snapshot's record
#: checked field by field (raising :class:`~pathway.errors.SnapshotError`).
RecordCheck = Callable[[Any, Any, Any, ChartModel], Any]

#: ``(state, record field, test, what is expected)``: see ``Guideline.consistency``.
Consistency = tuple[str, str, Callable[[Any], bool], str]


@dataclass(frozen=True)
class Citation:
    """Where a threshold comes from: knowledge-base source ids, tag (``V``, ``V-sec``,
    ``R``, ``MODEL``) and a short note."""

    sources: tuple[str, ...]
    tag: str
    note: str


@dataclass(frozen=True)
class PageText:
    """The prose of a guideline's generated docs page (:func:`pathway.diagram.render_docs_page`).

    Attributes:
        heading: the page title.
        events: what the events are (after the sentence naming the final state).
        timers: what is special about the timers (after the generic sentence).
        catalogue, timers_file: source files of the rule catalogue and of the timers.
        regions: what each parallel region means, by region id.
    """

    heading: str
    events: str
    timers: str
    catalogue: str
    timers_file: str
    regions: Mapping[str, str]


@dataclass(frozen=True, eq=False)
class Guideline:
    """Everything the engine needs of one guideline.

    Attributes:
        name: registry id (``aih``); also the ``guideline:`` key of a scenario.
        title: a human title for diagrams and reports.
        chart: the python-statemachine chart class (a :class:`~pathway.runtime.PathwayRuntime`).
        record: the patient record type (a dataclass with ``patient_id``, ``day``,
            ``entered``, ``timers_fired``, ``death_day`` and ``state``).
        thresholds: the thresholds type (a frozen dataclass; ``thresholds()`` gives the
            defaults, ``with_overrides(**kw)`` a checked copy).
        options: the options type (``options()`` gives the defaults).
        context: ``(record, thresholds, options, active) -> ctx``: what the rulebook and the
            chart's guards read (a 4-tuple in that order).
        rulebook: the compiled declarations (permission checks, strength, doses, invariants).
        finding_effects, timer_effects, action_effects: the effect of each finding, timer
            event and action on the record, by id.
        check_payload: checks a finding's payload (see :data:`PayloadCheck`).
        timers: the declared timers, indexed.
        invariants: the monitored invariants by rule id (read at each check).
        rules: the rule catalogue by id (sources, tag, strength).
        actions, findings: the vocabulary's clinician actions and findings (finding id to the
            kind of its payload).
        care_states: the vocabulary's care states; ``care_line``: the care line, an outer
            state before those nested in it, from which :func:`pathway.care.care_state`
            picks the one the patient is in.
        final_state: the chart's final state id (the patient has died).
        drugs: drug ids the record may hold doses of.
        page: the prose of its generated docs page.
        sources: the knowledge-base source ids its rules and citations may name, with text.
        citations: where each threshold comes from, by threshold name.
        check_record: checks a snapshot's record (see :data:`RecordCheck`); ``None``: the
            engine checks the common fields and leaves the rest to the record type.
        consistency: facts the chart keeps in step with its configuration, as ``(state,
            record field, test, what is expected)``: while ``state`` is active,
            ``test(record)`` holds (snapshots are checked against them).
        patient_model: the simulation's patient model for this guideline, by name (see
            :mod:`simulation.model`); empty when the guideline has none.
        effect_reads: what the effects read (see :attr:`pathway.effects.EffectBook.reads`);
            the static check counts the thresholds here as used.
        explorer: what the gap search and scenario generation explore for this guideline,
            by name (see :mod:`simulation.verify.explorers`); empty: what the bundle
            declares (record defaults, findings, thresholds).
    """

    name: str
    title: str
    chart: type[Any]
    record: type[Any]
    thresholds: type[Any]
    options: type[Any]
    context: Callable[[Any, Any, Any, Set[str]], Any]
    rulebook: Rulebook
    finding_effects: Mapping[str, Effect]
    timer_effects: Mapping[str, Effect]
    action_effects: Mapping[str, Effect]
    check_payload: PayloadCheck
    timers: TimerTable
    invariants: Mapping[str, InvariantCheck]
    rules: Mapping[str, RuleEntry]
    actions: tuple[str, ...]
    findings: Mapping[str, object]
    care_states: tuple[str, ...]
    care_line: tuple[str, ...]
    final_state: str
    drugs: tuple[str, ...] = ()
    check_record: RecordCheck | None = None
    page: PageText = PageText("", "", "", "", "", {})
    sources: Mapping[str, str] = field(default_factory=dict)
    citations: Mapping[str, Citation] = field(default_factory=dict)
    consistency: tuple[Consistency, ...] = ()
    patient_model: str = ""
    explorer: str = ""
    effect_reads: Deps = field(default_factory=Deps)

    def __post_init__(self) -> None:
        missing = [
            f"{kind} {name!r}"
            for kind, names, table in (
                ("action", self.actions, self.action_effects),
                ("finding", tuple(self.findings), self.finding_effects),
                ("timer event", tuple(sorted(self.timers.events)), self.timer_effects),
            )
            for name in names
            if name not in table
        ]
        if missing:
            raise InvalidPathwayError(
                f"guideline {self.name!r}: no effect declared for {', '.join(missing)}"
            )
        states = self.chart.states_map
        unknown = [f"care-line state {sid!r}" for sid in self.care_line if sid not in states]
        unknown += [f"final state {self.final_state!r}"] * (self.final_state not in states)
        unknown += [
            f"the state {t.state!r} of timer {t.id!r}"
            for t in self.timers.timers
            if t.state not in states
        ]
        if unknown:
            raise InvalidPathwayError(
                f"guideline {self.name!r}: {', '.join(unknown)} not in chart {self.chart.__name__}"
            )
        undeclared = [a for a in self.actions if a not in self.rulebook.actions]
        if undeclared:
            raise InvalidPathwayError(
                f"guideline {self.name!r}: actions {undeclared} have no declaration in its rulebook"
            )
        bound = self.chart.__dict__.get("guideline")
        if bound is not None and bound is not self:
            raise InvalidPathwayError(
                f"chart {self.chart.__name__} is already bound to guideline {bound.name!r}"
            )
        # The chart class carries its guideline: ``Chart(record)`` needs nothing else.
        self.chart.guideline = self

    def monitor(self, *, strict: bool = True) -> InvariantMonitor:
        """A fresh invariant monitor over this guideline's invariants and catalogue."""
        return InvariantMonitor(self.invariants, self.rules, strict=strict)

    def breaches(self, action: str, ctx: Any) -> list[Breach]:
        """The rules that stand against ``action`` in context ``ctx`` (empty: allowed)."""
        return self.rulebook.breaches(action, ctx)


_Rec = TypeVar("_Rec", covariant=True)


class Pathway(Protocol[_Rec]):
    """What a driver calls on a running pathway (reference chart or compiled executor), for
    a guideline whose patient record is ``_Rec``.

    Days are days from diagnosis; doses mg/day.
    """

    trace: list[Step]
    thresholds: Any
    options: Any

    @property
    def guideline(self) -> Guideline: ...

    @property
    def model(self) -> _Rec: ...

    @property
    def patient(self) -> _Rec: ...

    @property
    def active(self) -> frozenset[str]: ...

    @property
    def care_state(self) -> str: ...

    @property
    def day(self) -> float: ...

    @property
    def deviated(self) -> bool: ...

    @property
    def violations(self) -> list[Violation]: ...

    @property
    def is_dead(self) -> bool: ...

    def in_state(self, state_id: str) -> bool: ...

    def sorted_configuration(self) -> tuple[str, ...]: ...

    def observe(self, finding: str, value: Any = None, *, day: float) -> Step: ...

    def fire(self, timer_id: str, *, day: float) -> Step: ...

    def advance_to(
        self, day: float, *, labs_from: Callable[[float], Mapping[str, float] | None] | None = None
    ) -> list[Step]: ...

    def take(self, action: str, *, day: float, deviate: bool = False) -> Step: ...

    def pending_timers(self) -> list[PendingTimer]: ...

    def next_timer(self) -> PendingTimer | None: ...

    def timer_armed(self, timer_id: str) -> bool: ...

    def explain(self, action: str) -> list[Breach]: ...

    def recommendations(self) -> list[Recommendation]: ...

    def top_recommendation(self) -> Recommendation | None: ...

    def add_step_listener(self, listener: StepListener) -> None: ...


#: A pathway of any guideline on any engine, as drivers receive it.
AnyPathway = Pathway[Any]
