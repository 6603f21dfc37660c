"""The SimPy engine: one process per patient; SimPy owns time (days).

Each patient's process asks the pathway for its pending timers (declared as data in
:mod:`pathway.guidelines.aih.timers`) and the patient model for its next finding, waits with
``env.timeout`` until the earlier of the two, sends it, and lets the policy act. Leaving a
state disarms its timers, because pending timers are recomputed from the configuration at
every step. No wall-clock time, threads or python-statemachine delays are involved.

Same-day order: the model's findings (and scripted actions) of day D come first, in order,
then the timers due on D; the policy acts after each of them, except on a day for which the
model scripts clinician actions (the scripted clinician is in charge that day).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import simpy

from pathway import AIHPathway, PendingTimer, Step

from ..model.policies import GuidelinePolicy, Policy

__all__ = [
    "Occurrence",
    "PatientModel",
    "apply_occurrence",
    "next_event",
    "patient_journey",
    "run_patient",
    "visit",
]

Days = float


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

    def baseline(self, chart: AIHPathway) -> list[Occurrence]:
        """Findings known at diagnosis (day 0), in order."""
        ...

    def next_day(self, chart: AIHPathway) -> Days | None:
        """Day of the next finding or scripted action, or ``None`` when there is none."""
        ...

    def pop(self, chart: AIHPathway, day: Days) -> list[Occurrence]:
        """The occurrences due on ``day``, in order (removed from the model)."""
        ...

    def visit_labs(self, chart: AIHPathway, day: Days) -> dict[str, float] | None:
        """A lab panel drawn at a timer visit on ``day``, or ``None`` (values stand)."""
        ...

    def scripts_actions_on(self, day: Days) -> bool:
        """True when the model scripts clinician actions on ``day``."""
        ...


def apply_occurrence(chart: AIHPathway, occ: Occurrence) -> Step:
    """Send a model's occurrence to the chart (a scripted action is taken as given)."""
    if occ.kind == "action":
        return chart.take(occ.name, day=occ.day, deviate=True)
    return chart.observe(occ.name, occ.value, day=occ.day)


def patient_journey(
    env: simpy.Environment,
    chart: AIHPathway,
    model: PatientModel,
    policy: Policy,
    horizon_days: Days,
) -> Generator[simpy.Event, Any, None]:
    """SimPy process: drive ``chart`` with ``model`` and ``policy`` up to ``horizon_days``."""
    for occ in model.baseline(chart):
        apply_occurrence(chart, occ)
    if not model.scripts_actions_on(0.0):
        policy.act(chart, 0.0)
    while not chart.is_dead:
        day, timer = next_event(chart, model)
        if day > horizon_days:
            break
        yield env.timeout(max(0.0, day - env.now))
        scripted = model.scripts_actions_on(day)
        if timer is None:
            for occ in model.pop(chart, day):
                if chart.is_dead:
                    break
                apply_occurrence(chart, occ)
                if not scripted and not chart.is_dead:
                    policy.act(chart, day)
        else:
            visit(chart, model, timer, day)
            if not scripted and not chart.is_dead:
                policy.act(chart, day)


def next_event(chart: AIHPathway, model: PatientModel) -> tuple[Days, PendingTimer | None]:
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


def visit(chart: AIHPathway, model: PatientModel, timer: PendingTimer, day: Days) -> None:
    """A timer's visit on ``day``: the model's lab panel when it asks for labs, then the timer."""
    if timer.labs:
        labs = model.visit_labs(chart, day)
        if labs:
            chart.observe("labs", labs, day=day)
    # The visit's labs may move the chart out of the timer's state (a relapse regained at a
    # relapse visit): a disarmed timer is not fired.
    if chart.timer_armed(timer.timer_id):
        chart.fire(timer.timer_id, day=day)


def run_patient(
    chart: AIHPathway,
    model: PatientModel,
    *,
    horizon_days: Days,
    policy: Policy | None = None,
    until: Callable[[AIHPathway], bool] | None = None,
) -> AIHPathway:
    """Run one patient's course in its own SimPy environment; return the chart.

    Raises ``ValueError`` for a non-positive horizon.
    """
    if not horizon_days > 0:
        raise ValueError(f"'horizon_days' must be > 0 (got {horizon_days!r})")
    env = simpy.Environment()
    env.process(patient_journey(env, chart, model, policy or GuidelinePolicy(), horizon_days))
    env.run()
    return chart
