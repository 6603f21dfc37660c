"""The SimPy engine: one process per patient; SimPy owns time (days).

Each patient's process asks the pathway for its pending timers (declared as data in
:mod:`pathway.guidelines.aih.timers`) and the patient model for its next finding, waits with
``env.timeout`` until the earlier of the two, sends it, and lets the policy act. Leaving a
state disarms its timers, because pending timers are recomputed from the configuration at
every step. No wall-clock time, threads or python-statemachine delays are involved.

Same-day order: the model's findings (and scripted actions) of day D come first, in order,
then the timers due on D; the policy acts after each of them, except on a day for which the
model scripts clinician actions (the scripted clinician is in charge that day).

These day rules are written once, in :class:`DayRules`: the SimPy process here, the trainer's
sessions (which pause where the clinician decides) and the step-by-step courses of
verification (:class:`simulation.scenarios.course.Course`) all drive the chart through it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol, TypeVar

import simpy

from pathway import AnyPathway, PendingTimer, Step

from ..model.policies import GuidelinePolicy, Policy

__all__ = [
    "PLAN",
    "Ask",
    "Call",
    "DayRules",
    "Labs",
    "Move",
    "Occurrence",
    "PatientModel",
    "Plan",
    "apply_occurrence",
    "earliest",
    "next_event",
    "patient_journey",
    "run_patient",
]

Days = float
_Chart = TypeVar("_Chart", bound=AnyPathway)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Something the patient model makes happen: a finding or a scripted action.

    ``line`` is the source line (scenario files) for error messages, or 0.
    """

    day: Days
    kind: Literal["finding", "action"]
    name: str
    value: Any = None
    line: int = 0


class PatientModel(Protocol):
    """What happens to a patient: baseline, findings over time and labs at visits."""

    def baseline(self, chart: AnyPathway) -> list[Occurrence]:
        """Findings known at diagnosis (day 0), in order."""
        ...

    def next_day(self, chart: AnyPathway) -> Days | None:
        """Day of the next finding or scripted action, or ``None`` when there is none."""
        ...

    def pop(self, chart: AnyPathway, day: Days) -> list[Occurrence]:
        """The occurrences due on ``day``, in order (removed from the model)."""
        ...

    def visit_labs(self, chart: AnyPathway, day: Days) -> dict[str, float] | None:
        """A lab panel drawn at a timer visit on ``day``, or ``None`` (values stand)."""
        ...

    def scripts_actions_on(self, day: Days) -> bool:
        """True when the model scripts clinician actions on ``day``."""
        ...


def apply_occurrence(chart: AnyPathway, occ: Occurrence) -> Step:
    """Send a model's occurrence to the chart (a scripted action is taken as given)."""
    if occ.kind == "action":
        return chart.take(occ.name, day=occ.day, deviate=True)
    return chart.observe(occ.name, occ.value, day=occ.day)


#: What :meth:`DayRules.course` yields: ``("wait", day)`` before the events of a new day,
#: ``("decide", day)`` where the clinician acts (never on a scripted day, never after death).
Moment = tuple[Literal["wait", "decide"], Days]


@dataclass(frozen=True, slots=True)
class Call:
    """A call to the chart that a course asks for (see :meth:`DayRules.moves`).

    ``kind`` is ``finding`` (observe ``name`` with payload ``value``), ``action`` (take
    ``name`` as a scripted clinician: deviations allowed) or ``timer`` (fire the timer
    ``name``; ``value`` is its :class:`~pathway.PendingTimer`); ``guarded``: the call goes
    through :meth:`DayRules.guard` (every call but the findings known at diagnosis).
    """

    kind: Literal["finding", "action", "timer"]
    name: str
    day: Days
    value: Any = None
    guarded: bool = True

    @property
    def group(self) -> str:
        """What calls of one kind are made together by: the name, or a timer's event (the
        timers that share an event are fired together)."""
        event: str = self.value.event if self.kind == "timer" else self.name
        return event

    @classmethod
    def of(cls, occ: Occurrence, guarded: bool = True) -> Call:
        """The call that sends a model's occurrence (see :func:`apply_occurrence`)."""
        return cls(occ.kind, occ.name, occ.day, occ.value, guarded)

    def apply(self, chart: AnyPathway) -> Step:
        """Make the call on one chart."""
        if self.kind == "timer":
            return chart.fire(self.name, day=self.day)
        if self.kind == "action":
            return chart.take(self.name, day=self.day, deviate=True)
        return chart.observe(self.name, self.value, day=self.day)


@dataclass(frozen=True, slots=True)
class Plan:
    """The course asks for its next event (see :meth:`DayRules.moves`); the answer is what
    :func:`next_event` gives: the day (``inf``: none) and the timer due then, or ``None``
    when the model's finding comes first."""


#: The one :class:`Plan` (it holds nothing).
PLAN = Plan()


@dataclass(frozen=True, slots=True)
class Labs:
    """A timer's visit on ``day`` asks for its lab panel (see :meth:`DayRules.moves`); the
    answer is what :meth:`PatientModel.visit_labs` gives: the panel, or ``None``."""

    day: Days


#: A question to the patient model that a course leaves to its caller, so that a driver
#: can answer the questions of many courses together (:mod:`simulation.run.lockstep`).
Ask = Plan | Labs

#: What :meth:`DayRules.moves` yields: a :class:`Call` to make (the caller sends back its
#: :class:`~pathway.Step`), an :data:`Ask` (the caller sends back its answer), or a
#: :data:`Moment`.
Move = Call | Ask | Moment


class DayRules:
    """The day rules of one patient's course, written once.

    Each step sends one thing to ``chart`` (a finding, a scripted action, a timer's visit)
    and then yields the day when the clinician may act on it: not on a day for which
    ``scripted(day)`` is true (a scripted clinician is in charge), not after death. The
    caller acts between the yield and the next step. :meth:`course` strings the steps
    together for a patient model, earliest event first (a finding wins a tie with a timer).

    :meth:`moves` is the same course with the calls to the chart and the questions to the
    patient model (its next event, a visit's labs: :data:`Ask`) left to the caller, so that
    a driver can make the calls and answer the questions of many patients' courses together
    (:mod:`simulation.run.lockstep`); :meth:`course` makes and answers them itself, one by
    one.

    A subclass observes or guards the steps: :meth:`guard` runs each call to the chart
    (verification turns errors into findings), :meth:`fire` fires a timer and
    :meth:`settled` runs once the clinician has acted.
    """

    def __init__(self, chart: AnyPathway, scripted: Callable[[Days], bool]) -> None:
        self.chart = chart
        self.scripted = scripted
        #: The last step a finding or scripted action gave (its deviation, for example).
        self.last_step: Step | None = None

    def guard(self, call: Callable[[], Any], what: str, day: Days) -> Any:
        """Run one call to the chart (``what`` names it, on ``day``); return its result."""
        return call()

    def settled(self, day: Days) -> None:
        """Called after each step, once the clinician has acted on it."""

    def fire(self, timer: PendingTimer, day: Days) -> Step:
        """Fire an armed ``timer`` on ``day``; return its step."""
        step: Step = self.guard(partial(self.chart.fire, timer.timer_id, day=day), timer.event, day)
        return step

    def _decides(self, day: Days) -> bool:
        return not self.scripted(day) and not self.chart.is_dead

    def begin(self, baseline: Iterable[Occurrence]) -> Generator[Move, Any, None]:
        """Day 0: the findings known at diagnosis, then the clinician decides."""
        for occ in baseline:
            yield Call.of(occ, guarded=False)
        if self._decides(0.0):
            yield "decide", 0.0

    def occurrence(self, occ: Occurrence) -> Generator[Move, Any, None]:
        """A finding or a scripted action, then the clinician decides."""
        self.last_step = yield Call.of(occ)
        if self._decides(occ.day):
            yield "decide", occ.day
        self.settled(occ.day)

    def timer(
        self, timer: PendingTimer, day: Days, labs: dict[str, float] | None = None
    ) -> Generator[Move, Any, None]:
        """A timer's visit on ``day``: its lab panel (``None``: the values stand), the timer
        (unless the labs moved the chart out of its state), then the clinician decides."""
        if labs:
            yield Call("finding", "labs", day, labs)
        # The visit's labs may move the chart out of the timer's state (a relapse regained at
        # a relapse visit): a disarmed timer is not fired.
        if self.chart.timer_armed(timer.timer_id):
            yield Call("timer", timer.timer_id, day, timer)
        if self._decides(day):
            yield "decide", day
        self.settled(day)

    def moves(self, model: PatientModel, horizon_days: Days) -> Generator[Move, Any, None]:
        """The whole course under ``model`` up to ``horizon_days``, as :data:`Move` s.

        The caller makes each :class:`Call` on the chart and sends back its step, and
        answers each :data:`Ask` as :meth:`course` does (:func:`next_event`,
        ``model.visit_labs``); the chart and the model are read
        between moves, so each call must be made before the next move is asked for.
        """
        chart = self.chart
        yield from self.begin(model.baseline(chart))
        while not chart.is_dead:
            day, timer = yield PLAN
            if day > horizon_days:
                return
            yield "wait", day
            if timer is None:
                for occ in model.pop(chart, day):
                    if chart.is_dead:
                        break
                    yield from self.occurrence(occ)
            else:
                labs = (yield Labs(day)) if timer.labs else None
                yield from self.timer(timer, day, labs)

    def call(self, call: Call) -> Step:
        """Make ``call`` on this course's chart, through :meth:`guard` or :meth:`fire`."""
        if not call.guarded:
            return call.apply(self.chart)
        if call.kind == "timer":
            return self.fire(call.value, call.day)
        step: Step = self.guard(partial(call.apply, self.chart), call.name, call.day)
        return step

    def course(self, model: PatientModel, horizon_days: Days) -> Iterator[Moment]:
        """The whole course under ``model`` up to ``horizon_days`` (see :data:`Moment`)."""
        moves = self.moves(model, horizon_days)
        answer: Any = None
        while True:
            try:
                move = moves.send(answer)
            except StopIteration:
                return
            answer = None
            if isinstance(move, Call):
                answer = self.call(move)
            elif isinstance(move, Plan):
                answer = next_event(self.chart, model)
            elif isinstance(move, Labs):
                answer = model.visit_labs(self.chart, move.day)
            else:
                yield move


def patient_journey(
    env: simpy.Environment,
    chart: AnyPathway,
    model: PatientModel,
    policy: Policy,
    horizon_days: Days,
) -> Generator[simpy.Event, Any, None]:
    """SimPy process: drive ``chart`` with ``model`` and ``policy`` up to ``horizon_days``."""
    for kind, day in DayRules(chart, model.scripts_actions_on).course(model, horizon_days):
        if kind == "wait":
            yield env.timeout(max(0.0, day - env.now))
        else:
            policy.act(chart, day)


def next_event(chart: AnyPathway, model: PatientModel) -> tuple[Days, PendingTimer | None]:
    """Day of the patient's next event (``inf``: none) and the timer due then.

    The timer is ``None`` when the model's findings come first (they win same-day ties).
    """
    timer = chart.next_timer()
    return earliest(timer, model.next_day(chart))


def earliest(timer: PendingTimer | None, next_day: Days | None) -> tuple[Days, PendingTimer | None]:
    """:func:`next_event` of the chart's first pending ``timer`` and the model's
    ``next_day`` (``None``: no finding)."""
    timer_day = timer.due_day if timer is not None else math.inf
    finding_day = math.inf if next_day is None else next_day
    if finding_day <= timer_day:
        return finding_day, None
    return timer_day, timer


def run_patient(
    chart: _Chart,
    model: PatientModel,
    *,
    horizon_days: Days,
    policy: Policy | None = None,
    until: Callable[[AnyPathway], bool] | None = None,
) -> _Chart:
    """Run one patient's course in its own SimPy environment; return the chart.

    Raises ``ValueError`` for a non-positive horizon.
    """
    if not horizon_days > 0:
        raise ValueError(f"'horizon_days' must be > 0 (got {horizon_days!r})")
    env = simpy.Environment()
    env.process(patient_journey(env, chart, model, policy or GuidelinePolicy(), horizon_days))
    env.run()
    return chart
