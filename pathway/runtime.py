"""Running the pathway for one patient: findings, timers, actions, recommendations, trace.

:class:`PathwayRuntime` is mixed into the chart class (:class:`pathway.AIHPathway`): the
chart decides, the runtime applies effects, checks the guideline's permission for each
action, records deviations and transitions, checks the invariants after every step and
tells step listeners. Time is given by the caller (``day``); nothing here reads a clock.
"""

from __future__ import annotations

import functools
import math
import numbers
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
)

from statemachine.exceptions import TransitionNotAllowed

from .care import care_state
from .declarations import Breach, Strength
from .errors import (
    ActionNotRecommended,
    EventNotHandled,
    InvariantViolation,
    PathwayError,
    PatientError,
    short_repr,
)
from .invariants import Violation
from .records import record_to_dict
from .timers import timer_offset, timer_start

if TYPE_CHECKING:
    from statemachine import State

    from .bundle import Guideline

__all__ = [
    "EntryPointRefused",
    "LabsSource",
    "PathwayRuntime",
    "PendingTimer",
    "Recommendation",
    "Record",
    "Step",
    "StepListener",
    "Transit",
    "checked_day",
]

#: ``labs_from(day)`` for :meth:`PathwayRuntime.advance_to`: the panel drawn at a visit on
#: ``day`` (lab ids of the vocabulary to values).
LabsSource = Callable[[float], Mapping[str, float] | None]

#: A course that fires more timers than this in one call to ``advance_to`` is looping.
_MAX_TIMERS_PER_ADVANCE = 10_000


class EntryPointRefused(PathwayError):
    """A python-statemachine entry point (``send``, an event method, ...) was called directly.

    Those bypass the guideline's permission checks, the effects on the record, the trace and
    the invariants; drive the pathway with ``take``, ``observe``, ``fire`` or ``advance_to``.
    """

    def __init__(self, entry_point: str, event: str = "") -> None:
        what = f"{entry_point}({event!r})" if event else f"{entry_point}()"
        super().__init__(
            f"{what} is refused: it would change the chart without the guideline's checks, "
            "effects, trace or invariants; use take(action, day=...), observe(finding, value, "
            "day=...), fire(timer_id, day=...) or advance_to(day, labs_from=...)"
        )
        self.entry_point = entry_point
        self.event = event


StepKind = Literal["finding", "timer", "action"]


@dataclass(frozen=True, slots=True)
class Transit:
    """One transition taken: source and target state ids (equal for targetless) and rules."""

    event: str
    source: str
    target: str
    rule_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recommendation:
    """An action the guideline allows now, with its strength, rules and doses (mg/day)."""

    action: str
    strength: Strength
    rule_ids: tuple[str, ...]
    doses: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingTimer:
    """A declared time point that is armed: send ``event`` at ``due_day``."""

    timer_id: str
    event: str
    due_day: float
    labs: bool
    rule_id: str


@dataclass(frozen=True, slots=True)
class Step:
    """What one event did: one row of the course's trace.

    ``deviation`` is true for an action the guideline did not recommend; ``breaches`` then
    names the rules it goes against. ``carried_out`` is false for a deviation that was not
    physically possible in the current state.
    """

    index: int
    day: float
    kind: StepKind
    name: str
    detail: str
    transits: tuple[Transit, ...]
    configuration: tuple[str, ...]
    deviation: bool = False
    breaches: tuple[Breach, ...] = ()
    carried_out: bool = True
    violations: tuple[Violation, ...] = ()
    recommended_by: tuple[str, ...] = ()

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Rule ids behind this step: breached or recommending rules, then the transitions'."""
        seen: dict[str, None] = {}
        for b in self.breaches:
            seen[b.rule_id] = None
        for r in self.recommended_by:
            seen[r] = None
        for t in self.transits:
            for r in t.rule_ids:
                seen[r] = None
        return tuple(seen)


class StepListener(Protocol):
    """Anything that wants to hear about each step (coverage, loggers, trainers)."""

    def after_step(self, pathway: PathwayRuntime[Any], step: Step) -> None: ...


class _Recorder:
    """python-statemachine listener: collects transitions and state entry days."""

    def __init__(self, runtime: PathwayRuntime[Any]) -> None:
        self.runtime = runtime
        self.transits: list[Transit] = []

    def after_transition(
        self, event: Any, source: State, target: State | None, transition: Any
    ) -> None:
        if str(event) == "__initial__":
            return
        self.transits.append(
            Transit(
                str(event),
                source.id,
                target.id if target is not None else source.id,
                getattr(transition, "rule_ids", ()),
            )
        )

    def on_enter_state(self, state: State) -> None:
        p = self.runtime.model
        p.entered[state.id] = p.day
        for timer in self.runtime.guideline.timers.by_state.get(state.id, ()):
            p.timers_fired.pop(timer.id, None)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _serialised(
    method: Callable[Concatenate[PathwayRuntime[Any], _P], _R],
) -> Callable[Concatenate[PathwayRuntime[Any], _P], _R]:
    """Run ``method`` holding the chart's lock: one event at a time per chart."""

    def locked(self: PathwayRuntime[Any], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    functools.update_wrapper(locked, method)  # name and docstring, for help() and the docs
    return locked


class Record(Protocol):
    """What the engine reads and writes of a guideline's patient record (days from diagnosis)."""

    patient_id: str
    day: float
    entered: dict[str, float]
    timers_fired: dict[str, int]
    death_day: float | None


_Record = TypeVar("_Record", bound=Record)


class PathwayRuntime(Generic[_Record]):
    """Mixin that runs a pathway chart for one patient (see :class:`pathway.AIHPathway`).

    Everything clinical comes from the chart class's ``guideline`` (a
    :class:`~pathway.bundle.Guideline`, bound to the class when the bundle is built).
    """

    guideline: ClassVar[Guideline]
    model: _Record
    configuration_values: Any
    history_values: dict[str, Any]
    #: > 0 while the runtime itself sends an event (see :class:`EntryPointRefused`).
    _inside = 0

    def __init__(
        self,
        patient: _Record,
        *,
        thresholds: Any = None,
        options: Any = None,
        listeners: Sequence[StepListener] = (),
        strict_invariants: bool = True,
    ) -> None:
        # Serialises events: two threads sending to one chart at once would interleave
        # their steps (duplicate trace indexes). Re-entrant, so a step listener may act.
        self._lock = threading.RLock()
        g = self.guideline
        if not isinstance(patient, g.record):
            raise PatientError(
                f"{type(self).__name__} runs guideline {g.name!r}, whose record is "
                f"{g.record.__name__}; got {type(patient).__name__}"
            )
        self.thresholds = thresholds or g.thresholds()
        self.options = options or g.options()
        self.trace: list[Step] = []
        self._deviated = False
        self.monitor = g.monitor(strict=strict_invariants)
        self.step_listeners: list[StepListener] = list(listeners)
        self._recorder = _Recorder(self)
        self._inside = 1  # the initial activation is the chart's own
        try:
            super().__init__(model=patient, listeners=[self._recorder])  # type: ignore[call-arg]
        finally:
            self._inside = 0

    def __getstate__(self) -> dict[str, Any]:
        """State for copy and pickle, without the lock (a lock cannot be copied)."""
        parent = getattr(super(), "__getstate__", None)
        state = dict((parent() if parent is not None else None) or vars(self))
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        parent = getattr(super(), "__setstate__", None)
        if parent is not None:
            parent(state)
        else:
            vars(self).update(state)
        self._lock = threading.RLock()
        g = self.guideline
        self.monitor.bind(g.invariants, g.rules)

    # --- state --------------------------------------------------------------------------

    @property
    def patient(self) -> _Record:
        """The patient record (the chart's model)."""
        return self.model

    @property
    def active(self) -> frozenset[str]:
        """Ids of all active states, at every depth."""
        return frozenset(self.configuration_values)

    @property
    def care_state(self) -> str:
        """The care state the patient is in (one id; :func:`pathway.care.care_state`)."""
        return care_state(self.active, self.guideline.care_line)

    @property
    def day(self) -> float:
        """Day of the latest event (days from diagnosis)."""
        return self.model.day

    @property
    def deviated(self) -> bool:
        """True once any step of this course was a deviation."""
        return self._deviated

    @property
    def violations(self) -> list[Violation]:
        """Invariant violations recorded so far."""
        return self.monitor.violations

    @property
    def is_dead(self) -> bool:
        """True once the patient has died (the chart's final state)."""
        return self.guideline.final_state in self.active

    def sorted_configuration(self) -> tuple[str, ...]:
        """Ids of all active states, sorted by name (as steps record them)."""
        return tuple(sorted(self.active))

    def in_state(self, state_id: str) -> bool:
        """True when ``state_id`` is active at any depth."""
        return state_id in self.configuration_values

    def ctx(self) -> Any:
        """The rule context: record, thresholds, options and active state ids."""
        return self.guideline.context(self.model, self.thresholds, self.options, self.active)

    # --- events -------------------------------------------------------------------------

    @_serialised
    def observe(self, finding: str, value: Any = None, *, day: float) -> Step:
        """Record a finding (vocabulary id, with its payload) at ``day``.

        Raises:
            PatientError: unknown finding, bad payload, a day that is not a finite number
                (see :func:`checked_day`) or a day before the last event.
            TransitionNotAllowed: the chart cannot handle the finding in this state.
        """
        day = checked_day(day)
        g = self.guideline
        if finding not in g.findings:
            raise PatientError(f"unknown finding {finding!r}; expected one of {list(g.findings)}")
        # The payload is checked (lab ranges, NaN) before anything changes, the day included.
        value, effect_value = g.check_payload(finding, value, day)
        self._require_handled(finding, day)
        self._advance_to(day)
        g.finding_effects[finding](
            self.model, effect_value, self.thresholds, self.options, self.active
        )
        detail = _detail(value)
        return self._send_event("finding", finding, detail, finding, {"value": value})

    @_serialised
    def fire(self, timer_id: str, *, day: float) -> Step:
        """Send a pending timer's event at ``day`` (its due day, from :meth:`pending_timers`)."""
        day = checked_day(day)
        g = self.guideline
        timer = g.timers.by_id.get(timer_id)
        if timer is None:
            raise PatientError(
                f"unknown timer {timer_id!r}; expected one of {list(g.timers.by_id)}"
            )
        if timer.state not in self.active:
            raise PathwayError(f"timer {timer_id!r} is not armed: {timer.state!r} is not active")
        if timer.anchor is not None and getattr(self.model, timer.anchor) is None:
            raise PathwayError(f"timer {timer_id!r} is not armed: {timer.anchor!r} is not set")
        self._require_handled(timer.event, day)
        self._advance_to(day)
        p = self.model
        p.timers_fired[timer_id] = p.timers_fired.get(timer_id, 0) + 1
        g.timer_effects[timer.event](p, None, self.thresholds, self.options, self.active)
        return self._send_event("timer", timer.event, timer_id, timer.event, {})

    @_serialised
    def advance_to(self, day: float, *, labs_from: LabsSource | None = None) -> list[Step]:
        """Fire every timer due on or before ``day``, earliest first; then the clock is ``day``.

        A timer that is a visit with labs (``PendingTimer.labs``) first asks
        ``labs_from(due_day)`` for the panel drawn at that visit and observes it, so that the
        visit's verdict (week 4, month 6, ...) reads that day's values, not older ones.
        Timers armed by what a fired timer does are fired too when due by ``day``; a timer
        the visit's labs disarm (a relapse regained) is not fired.

        Returns:
            The steps taken (lab findings and timers), in order.

        Raises:
            PatientError: ``day`` is before the last event; a visit with labs is due and
                ``labs_from`` is missing or returns no panel.
        """
        day = checked_day(day)
        if day < self.model.day:
            raise PatientError(f"day {day:g} is before the last event (day {self.model.day:g})")
        steps: list[Step] = []
        for _ in range(_MAX_TIMERS_PER_ADVANCE):
            timers = self.pending_timers()
            if not timers or timers[0].due_day > day:
                if not self.is_dead:
                    self._advance_to(day)
                return steps
            timer = timers[0]
            if timer.labs:
                panel = labs_from(timer.due_day) if labs_from is not None else None
                if not panel:
                    raise PatientError(
                        f"timer {timer.timer_id!r} on day {timer.due_day:g} is a visit with "
                        "labs: pass labs_from=<function of the day returning the panel> "
                        "(got no panel)"
                    )
                steps.append(self.observe("labs", dict(panel), day=timer.due_day))
            if self.timer_armed(timer.timer_id):
                steps.append(self.fire(timer.timer_id, day=timer.due_day))
        raise PathwayError(  # pragma: no cover - a modelling bug: timers re-arm at once
            f"more than {_MAX_TIMERS_PER_ADVANCE} timers before day {day:g}"
        )

    @_serialised
    def take(self, action: str, *, day: float, deviate: bool = False) -> Step:
        """Take a clinician action at ``day``.

        An action the guideline does not recommend raises :class:`ActionNotRecommended`
        naming the rules, unless ``deviate`` is true: then it is recorded as a deviation
        and carried out if it is physically possible in the current state.
        """
        day = checked_day(day)
        g = self.guideline
        if action not in g.actions:
            raise PatientError(f"unknown action {action!r}; expected one of {list(g.actions)}")
        previous_day = self.model.day
        # The rules judge the action on its own day, so the clock moves first; a refusal
        # puts it back: a refused action changes nothing.
        self._advance_to(day)
        c = self.ctx()
        breaches = tuple(g.rulebook.breaches(action, c))
        # The rules behind a recommended action; a deviation is explained by its breaches.
        because = () if breaches else tuple(g.rulebook.strength(action, c)[1])
        if breaches and not deviate:
            self.model.day = previous_day
            raise ActionNotRecommended(
                action,
                day,
                sorted(self.active),
                list(dict.fromkeys(b.rule_id for b in breaches)),
                "; ".join(str(b) for b in breaches),
            )
        self._recorder.transits.clear()
        try:
            self._dispatch(action, {"deviate": bool(breaches)})
        except TransitionNotAllowed:
            # A deviation that is not physically possible here: recorded, not carried out.
            return self._close_step(
                "action", action, "not possible in this state", breaches, False, because
            )
        g.action_effects[action](self.model, None, self.thresholds, self.options, self.active)
        return self._close_step("action", action, "", breaches, True, because)

    def _require_handled(self, event: str, day: float) -> None:
        """Refuse an event no active state handles before any effect touches the record.

        Findings and timer events always have an unguarded fallback where they are handled,
        so "some active state has a transition for it" means "it will be handled".
        """
        if self.is_dead:
            self._advance_to(self.model.day)  # raises the clear "died on day" error
        if event not in self.allowed_event_ids():  # type: ignore[attr-defined]
            raise EventNotHandled(event, day, sorted(self.active))

    def _advance_to(self, day: float) -> None:
        if self.is_dead:
            raise PathwayError(
                f"patient {self.model.patient_id!r} died on day {self.model.death_day:g}; "
                "no further events"
            )
        if day < self.model.day:
            raise PatientError(f"day {day:g} is before the last event (day {self.model.day:g})")
        self.model.day = float(day)

    def _send_event(
        self,
        kind: StepKind,
        name: str,
        detail: str,
        event: str,
        kwargs: dict[str, Any],
        breaches: tuple[Breach, ...] = (),
    ) -> Step:
        self._recorder.transits.clear()
        self._dispatch(event, kwargs)
        return self._close_step(kind, name, detail, breaches, True)

    # --- the chart engine's entry points, sealed --------------------------------------------

    def _dispatch(self, event: str, kwargs: dict[str, Any]) -> None:
        """Send ``event`` to the chart engine: the only way in (see :class:`EntryPointRefused`)."""
        self._inside += 1
        try:
            self.send(event, **kwargs)
        finally:
            self._inside -= 1

    def send(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Refused from outside (raises :class:`EntryPointRefused`): use :meth:`take`,
        :meth:`observe`, :meth:`fire` or :meth:`advance_to`."""
        if not self._inside:
            raise EntryPointRefused("send", event)
        return super().send(event, *args, **kwargs)  # type: ignore[misc]

    def raise_(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Refused from outside, like :meth:`send`; the chart's own actions may raise events."""
        if not self._inside:
            raise EntryPointRefused("raise_", event)
        return super().raise_(event, *args, **kwargs)  # type: ignore[misc]

    def _put_nonblocking(self, trigger_data: Any, internal: bool = False) -> None:
        # Where python-statemachine's event methods (``chart.start_budesonide()``) end up.
        if not self._inside:
            raise EntryPointRefused(str(getattr(trigger_data, "event", "event")))
        super()._put_nonblocking(trigger_data, internal=internal)  # type: ignore[misc]

    def activate_initial_state(self) -> Any:
        """Refused: the pathway is activated once, when it is built (or restored)."""
        if not self._inside:
            raise EntryPointRefused("activate_initial_state")
        return super().activate_initial_state()  # type: ignore[misc]

    def _close_step(
        self,
        kind: StepKind,
        name: str,
        detail: str,
        breaches: tuple[Breach, ...],
        carried_out: bool,
        because: tuple[str, ...] = (),
    ) -> Step:
        # Canonical order (document order of the source state), so that every interpreter of
        # the chart reports the same trace whatever order it visits parallel regions in.
        transits = (
            tuple(sorted(self._recorder.transits, key=self._transit_order)) if carried_out else ()
        )
        self._recorder.transits.clear()
        step = Step(
            index=len(self.trace),
            day=self.model.day,
            kind=kind,
            name=name,
            detail=detail,
            transits=transits,
            configuration=self.sorted_configuration(),
            deviation=bool(breaches),
            breaches=breaches,
            carried_out=carried_out,
            recommended_by=because,
        )
        self._deviated = self._deviated or step.deviation
        new = self._check_invariants(step, self._deviated)
        if new:
            step = replace(step, violations=tuple(new))
        self.trace.append(step)
        for listener in self.step_listeners:
            listener.after_step(self, step)
        return step

    def _transit_order(self, transit: Transit) -> int:
        return _document_order(type(self))[transit.source]

    def _check_invariants(self, step: Step, deviated: bool) -> list[Violation]:
        new = self.monitor.check(self.model, self.thresholds, self.active, step, deviated)
        if self.monitor.strict and not deviated:
            for v in new:
                if v.hard:
                    raise InvariantViolation(
                        v.rule_id, v.message, v.day, sorted(self.active), record_to_dict(self.model)
                    )
        return new

    # --- queries --------------------------------------------------------------------------

    def pending_timers(self) -> list[PendingTimer]:
        """The armed timers, earliest first (ties in declaration order)."""
        if self.is_dead:
            return []
        p, active = self.model, self.active
        values = vars_of(self.thresholds)
        out: list[PendingTimer] = []
        for timer in self.guideline.timers.armed(active):
            start = timer_start(timer, p.entered, p, p.day)
            if start is None:
                continue
            offset = timer_offset(timer, p.timers_fired.get(timer.id, 0), values)
            if offset is None:
                continue
            due = start + offset
            out.append(PendingTimer(timer.id, timer.event, due, timer.labs, timer.rule_id))
        out.sort(key=lambda t: t.due_day)
        return out

    def next_timer(self) -> PendingTimer | None:
        """The first of :meth:`pending_timers` (the earliest; ties in declaration order), or
        ``None`` when none is armed."""
        timers = self.pending_timers()
        return timers[0] if timers else None

    def timer_armed(self, timer_id: str) -> bool:
        """True when ``timer_id`` is among :meth:`pending_timers` (cheaper than listing them)."""
        timer = self.guideline.timers.by_id.get(timer_id)
        if timer is None or self.is_dead or timer.state not in self.active:
            return False
        if timer.anchor is not None and getattr(self.model, timer.anchor) is None:
            return False
        fired = self.model.timers_fired.get(timer_id, 0)
        return timer_offset(timer, fired, vars_of(self.thresholds)) is not None

    def explain(self, action: str) -> list[Breach]:
        """The rules that stand against ``action`` now (empty: it is allowed)."""
        g = self.guideline
        if action not in g.rulebook.actions:
            raise PatientError(f"unknown action {action!r}; expected one of {list(g.actions)}")
        return g.rulebook.breaches(action, self.ctx())

    def _ranked(self, c: Any) -> list[tuple[tuple[int, int], str, Strength, list[str]]]:
        """Allowed actions with their rank key, strength and rules, best first."""
        possible = self.allowed_event_ids()  # type: ignore[attr-defined]
        book = self.guideline.rulebook
        ranked = []
        for action in book.allowed(c):
            if action not in possible:
                continue
            level, rule_ids = book.strength(action, c)
            ranked.append((book.rank_key(action, level, c), action, level, rule_ids))
        ranked.sort(key=lambda item: item[0])
        return ranked

    def recommendations(self) -> list[Recommendation]:
        """The actions the guideline allows now, ranked (strongest first), with doses."""
        if self.is_dead:
            return []
        c = self.ctx()
        book = self.guideline.rulebook
        return [
            Recommendation(action, level, tuple(rule_ids), book.doses(action, c))
            for _, action, level, rule_ids in self._ranked(c)
        ]

    def top_recommendation(self) -> Recommendation | None:
        """The first recommendation (with its doses), or ``None`` when the patient has died.

        Cheaper than ``recommendations()[0]``: doses are worked out for the top one only.
        """
        if self.is_dead:
            return None
        c = self.ctx()
        ranked = self._ranked(c)
        if not ranked:
            return None
        _, action, level, rule_ids = ranked[0]
        return Recommendation(
            action, level, tuple(rule_ids), self.guideline.rulebook.doses(action, c)
        )

    def add_step_listener(self, listener: StepListener) -> None:
        """Tell ``listener`` about every later step."""
        self.step_listeners.append(listener)


def checked_day(day: Any) -> float:
    """``day`` as a float, or :class:`PatientError` unless it is a finite number of days.

    Every entry point that takes a day checks it first, so that no NaN (which compares
    false with everything and would let time go backwards), infinity, string or integer
    beyond float range gets into the record.
    """
    if type(day) is float and day - day == 0.0:  # the common case, cheaply: finite floats
        return day
    if isinstance(day, numbers.Real) and not isinstance(day, bool):
        try:
            value = float(day)
        except OverflowError:
            value = math.inf
        if math.isfinite(value):
            return value
    raise PatientError(
        f"day must be a finite number of days from diagnosis (got {short_repr(day)})"
    )


_ORDER_CACHE: dict[type, dict[str, int]] = {}


def _document_order(cls: type) -> dict[str, int]:
    """State id -> position in the chart's document order (cached per chart class)."""
    order = _ORDER_CACHE.get(cls)
    if order is None:
        order = {sid: i for i, sid in enumerate(cls.states_map)}  # type: ignore[attr-defined]
        _ORDER_CACHE[cls] = order
    return order


def document_order(cls: type) -> dict[str, int]:
    """Public alias of the chart's document order of state ids."""
    return _document_order(cls)


def _detail(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ";".join(
            [f"{k}={v:g}" if isinstance(v, int | float) else f"{k}={v}" for k, v in value.items()]
        )
    if hasattr(value, "values") and callable(value.values):
        return _detail(value.values())
    return str(value)


_VARS_CACHE: dict[int, tuple[Any, dict[str, float]]] = {}


def vars_of(th: Any) -> dict[str, float]:
    """Thresholds as a name -> value dict (cached: Thresholds objects are frozen)."""
    hit = _VARS_CACHE.get(id(th))
    if hit is not None and hit[0] is th:
        return hit[1]
    values = {name: getattr(th, name) for name in th.__dataclass_fields__}
    if len(_VARS_CACHE) > 64:
        _VARS_CACHE.clear()
    _VARS_CACHE[id(th)] = (th, values)
    return values
