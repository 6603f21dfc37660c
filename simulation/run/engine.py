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
    "DayRules",
    "Occurrence",
    "PatientModel",
    "apply_occurrence",
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


class DayRules:
    """The day rules of one patient's course, written once.

    Each step sends one thing to ``chart`` (a finding, a scripted action, a timer's visit)
    and then yields the day when the clinician may act on it: not on a day for which
    ``scripted(day)`` is true (a scripted clinician is in charge), not after death. The
    caller acts between the yield and the next step. :meth:`course` strings the steps
    together for a patient model, earliest event first (a finding wins a tie with a timer).

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

    def fire(self, timer: PendingTimer, day: Days) -> None:
        """Fire an armed ``timer`` on ``day``."""
        self.guard(partial(self.chart.fire, timer.timer_id, day=day), timer.event, day)

    def _decides(self, day: Days) -> bool:
        return not self.scripted(day) and not self.chart.is_dead

    def begin(self, baseline: Iterable[Occurrence]) -> Iterator[Days]:
        """Day 0: the findings known at diagnosis, then the clinician decides."""
        for occ in baseline:
            apply_occurrence(self.chart, occ)
        if self._decides(0.0):
            yield 0.0

    def occurrence(self, occ: Occurrence) -> Iterator[Days]:
        """A finding or a scripted action, then the clinician decides."""
        self.last_step = self.guard(partial(apply_occurrence, self.chart, occ), occ.name, occ.day)
        if self._decides(occ.day):
            yield occ.day
        self.settled(occ.day)

    def timer(
        self, timer: PendingTimer, day: Days, labs: dict[str, float] | None = None
    ) -> Iterator[Days]:
        """A timer's visit on ``day``: its lab panel (``None``: the values stand), the timer
        (unless the labs moved the chart out of its state), then the clinician decides."""
        if labs:
            self.guard(partial(self.chart.observe, "labs", labs, day=day), "labs", day)
        # The visit's labs may move the chart out of the timer's state (a relapse regained at
        # a relapse visit): a disarmed timer is not fired.
        if self.chart.timer_armed(timer.timer_id):
            self.fire(timer, day)
        if self._decides(day):
            yield day
        self.settled(day)

    def course(self, model: PatientModel, horizon_days: Days) -> Iterator[Moment]:
        """The whole course under ``model`` up to ``horizon_days`` (see :data:`Moment`)."""
        chart = self.chart
        for day in self.begin(model.baseline(chart)):
            yield "decide", day
        while not chart.is_dead:
            day, timer = next_event(chart, model)
            if day > horizon_days:
                return
            yield "wait", day
            if timer is None:
                for occ in model.pop(chart, day):
                    if chart.is_dead:
                        break
                    for decide in self.occurrence(occ):
                        yield "decide", decide
            else:
                labs = model.visit_labs(chart, day) if timer.labs else None
                for decide in self.timer(timer, day, labs):
                    yield "decide", decide


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
    timers = chart.pending_timers()
    timer_day = timers[0].due_day if timers else math.inf
    next_day = model.next_day(chart)
    finding_day = math.inf if next_day is None else next_day
    if finding_day <= timer_day:
        return finding_day, None
    return timer_day, timers[0]


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
