"""A course driven step by step, exactly as the SimPy engine would drive a scenario file.

Verification searches thousands of short courses. Running each one through SimPy from day
0 would repeat the same prefix over and over, so :class:`Course` drives one chart instance
move by move with the engine's day rules (shared/spec/scenario-format.md and
:mod:`simulation.run.engine`): on a day, the scenario's findings and actions come first, in
order, then the timers due that day; the guideline policy acts after each of them, except
on a day for which the scenario scripts a clinician action. A course can be saved and
rewound (:meth:`Course.save`, :meth:`Course.rewind`), so a search branches without
rebuilding the chart. Every course can be written as a scenario file
(:mod:`simulation.scenarios.scenario_writer`) that the real engine replays: the searches confirm
their results that way.

Each move uses a day after every earlier one, so the timeline stays in day order and the
"scripted day" rule is known when a move is made.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, Literal

from statemachine.exceptions import TransitionNotAllowed

from pathway import AIHPathway, AnyPathway, PatientRecord
from pathway.errors import InvariantViolation, PathwayError
from pathway.guidelines import DEFAULT, get
from pathway.guidelines.aih.response import is_cbr

from ..model.policies import GuidelinePolicy
from ..model.scripted import baseline_occurrences
from ..run.engine import Occurrence
from ..verify.instrument import Exposure, configure, instrument, probe_of, record_recommendations
from .scenario import PatientSpec

__all__ = ["Course", "Move", "Problem", "Start"]

MoveKind = Literal["visit", "finding", "action", "action_at_visit", "deviation"]


@dataclass(frozen=True)
class Start:
    """A patient at diagnosis: attributes and the baseline lab panel (day 0).

    ``patient`` is an AIH :class:`~simulation.scenarios.scenario.PatientSpec` or, for
    another guideline (``guideline``, a registry name), its record's fields as
    ``(name, value)`` pairs (as the ``patient`` of that guideline's scenario files).
    """

    name: str
    patient: PatientSpec | tuple[tuple[str, Any], ...]
    labs: tuple[tuple[str, float], ...]
    day0_action: str | None = None
    guideline: str = DEFAULT

    @property
    def lab_dict(self) -> dict[str, float]:
        """The baseline labs as a mapping."""
        return dict(self.labs)

    def record(self, patient_id: str = "verification") -> Any:
        """A fresh patient record for this start (of its guideline's record type)."""
        if isinstance(self.patient, PatientSpec):
            return self.patient.record(patient_id)
        return get(self.guideline).record(patient_id, **dict(self.patient))

    def baseline(self, record: Any) -> list[Occurrence]:
        """The day-0 findings (AIH: labs, staging, encephalopathy, pregnancy; none for
        another guideline, whose record holds its state at diagnosis)."""
        if not isinstance(record, PatientRecord):
            return []
        return baseline_occurrences(record, self.lab_dict or None)


@dataclass(frozen=True)
class Move:
    """One move of a search: what happens next, and when.

    ``visit``: the next guideline time point, with ``value`` a lab panel drawn that day (or
    ``None``); ``finding`` / ``action`` / ``deviation``: the next day;
    ``action_at_visit``: an action on the day of the next time point, before it.
    """

    kind: MoveKind
    name: str = ""
    value: Any = None

    def __str__(self) -> str:
        if self.kind == "visit":
            return "visit" + (f" labs {_labs_text(self.value)}" if self.value else "")
        what = f"{self.name}" + (f"={_labs_text(self.value)}" if self.value is not None else "")
        return f"{self.kind} {what}"


def _labs_text(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v:g}" for k, v in value.items()) + "}"
    return str(value)


@dataclass(frozen=True)
class Problem:
    """A gap, overlap or safety problem met on a course.

    Attributes:
        code: ``gap``, ``overlap``, ``unsafe`` or ``crash``.
        subject: what and where (``<event or action(s)>@<state>``).
        message: one sentence.
        day: the day it happened.
        moves: how many moves of the course had been made (the counterexample's length).
        details: JSON-ready facts.
        rule_ids: guideline rules involved.
    """

    code: str
    subject: str
    message: str
    day: float
    moves: int
    details: dict[str, Any] = field(default_factory=dict)
    rule_ids: tuple[str, ...] = ()

    @property
    def signature(self) -> tuple[str, str]:
        """``(code, subject)``: problems with one signature are the same problem."""
        return (self.code, self.subject)


class CourseBroken(Exception):
    """A move ended the course with an error (recorded as a problem)."""


class Course:
    """One patient's course, driven move by move with the engine's rules.

    Args:
        start: the patient at diagnosis.
        chart_class: the pathway chart class (instrumented for coverage and overlaps).
        check: look for gaps and overlaps after every settled moment.
        policy: the clinician (default: the guideline policy).

    Attributes:
        chart: the (instrumented) chart.
        timeline: the scenario entries so far (findings and scripted actions).
        clock: the day up to which everything, timers included, has happened.
        problems: problems met so far.
        recommended_rules: rule ids of every recommendation offered at a settled moment.
        deviated: a move was a deviation from the guideline.
    """

    def __init__(
        self,
        start: Start,
        chart_class: type[AnyPathway] = AIHPathway,
        *,
        check: bool = True,
        policy: GuidelinePolicy | None = None,
    ) -> None:
        self.start = start
        self.chart_class = instrument(chart_class)
        self.check = check
        self.policy = policy or GuidelinePolicy()
        self.timeline: list[Occurrence] = []
        self.clock = 0.0
        self.problems: list[Problem] = []
        self.recommended_rules: set[str] = set()
        self.states_seen: set[str] = set()
        self.deviated = False
        self.broken = False
        self.moves = 0
        self._action_days: set[float] = set()
        record = start.record()
        self.chart: Any = self.chart_class(record)
        configure(self.chart, recommendations=False, overlaps=check)
        self._seen_overlaps = 0
        try:
            for occ in start.baseline(record):
                self.chart.observe(occ.name, occ.value, day=0.0)
            if start.day0_action is not None:
                self._action_days.add(0.0)
                self.timeline.append(Occurrence(0.0, "action", start.day0_action))
                self._take(start.day0_action, 0.0)
            else:
                self._act(0.0)
            self._settled(0.0)
        except CourseBroken:
            pass

    # --- state ---------------------------------------------------------------------------

    @property
    def exposure(self) -> Exposure:
        """What the course has exercised (transitions, guard outcomes, overlaps)."""
        return probe_of(self.chart)

    @property
    def alive(self) -> bool:
        """The course can go on: not broken and the patient is alive."""
        return not self.broken and not self.chart.is_dead

    def next_due(self) -> float | None:
        """Day of the next guideline time point, or ``None``."""
        pending = self.chart.pending_timers()
        return pending[0].due_day if pending else None

    # --- save and rewind --------------------------------------------------------------------

    def save(self) -> dict[str, Any]:
        """Everything needed to come back to this moment (see :meth:`rewind`)."""
        p = self.chart.model
        return {
            "record": {f.name: copy.copy(getattr(p, f.name)) for f in fields(p)},
            "trace": len(self.chart.trace),
            "violations": len(self.chart.monitor.violations),
            "open": set(self.chart.monitor._open),
            "timeline": len(self.timeline),
            "clock": self.clock,
            "problems": len(self.problems),
            "action_days": set(self._action_days),
            "deviated": self.deviated,
            "broken": self.broken,
            "moves": self.moves,
            "overlaps": len(self.exposure.overlaps),
            "transitions": self.exposure.transitions.copy(),
            "guards": self.exposure.guards.copy(),
            "permissions": self.exposure.permissions.copy(),
            "rules": self.exposure.rules.copy(),
            "states_seen": set(self.states_seen),
            "recommended_rules": set(self.recommended_rules),
        }

    def rewind(self, saved: dict[str, Any]) -> None:
        """Return to a moment saved with :meth:`save` (not across the patient's death).

        What the course exercised (its :attr:`exposure`) is rewound too, so coverage read
        after a rewind belongs to this course's own moves only.
        """
        p = self.chart.model
        for name, value in saved["record"].items():
            setattr(p, name, copy.copy(value))
        del self.chart.trace[saved["trace"] :]
        del self.chart.monitor.violations[saved["violations"] :]
        self.chart.monitor._open = set(saved["open"])
        del self.timeline[saved["timeline"] :]
        del self.problems[saved["problems"] :]
        exposure = self.exposure
        del exposure.overlaps[saved["overlaps"] :]
        exposure.transitions = saved["transitions"].copy()
        exposure.guards = saved["guards"].copy()
        exposure.permissions = saved["permissions"].copy()
        exposure.rules = saved["rules"].copy()
        self.states_seen = set(saved["states_seen"])
        self.recommended_rules = set(saved["recommended_rules"])
        self._seen_overlaps = saved["overlaps"]
        self.clock = saved["clock"]
        self._action_days = set(saved["action_days"])
        self.deviated = saved["deviated"]
        self.broken = saved["broken"]
        self.moves = saved["moves"]

    def clone(self) -> Course:
        """An independent copy (slow: a deep copy of the chart); used before a death."""
        return copy.deepcopy(self)

    # --- moves ------------------------------------------------------------------------------

    def apply(self, move: Move) -> bool:
        """Make ``move``; return ``False`` when it is not possible now or broke the course."""
        if not self.alive:
            return False
        due = self.next_due()
        if move.kind in ("visit", "action_at_visit"):
            if due is None:
                return False
            day = due
        else:
            day = self.clock + 1.0
        self.moves += 1
        try:
            self._fire_timers(before=day)
            if move.kind == "visit":
                if move.value:
                    self._finding("labs", dict(move.value), day)
            elif move.kind == "finding":
                if move.name not in {e.id for e in self.chart.allowed_events}:
                    self.moves -= 1
                    return False
                self._finding(move.name, move.value, day)
            else:
                self._action_days.add(day)
                self.timeline.append(Occurrence(day, "action", move.name))
                self._take(move.name, day)
                self._settled(day)
            self._fire_timers(upto=day)
            self.clock = day
        except CourseBroken:
            self.clock = day
            return False
        return True

    def _finding(self, name: str, value: Any, day: float) -> None:
        self.timeline.append(Occurrence(day, "finding", name, value))
        self._guard(lambda: self.chart.observe(name, value, day=day), name, day)
        self._act(day)
        self._settled(day)

    def _fire_timers(self, *, before: float | None = None, upto: float | None = None) -> None:
        while self.alive:
            pending = self.chart.pending_timers()
            if not pending:
                return
            first = pending[0]
            if (before is not None and not first.due_day < before) or (
                upto is not None and not first.due_day <= upto
            ):
                return
            day, timer_id = first.due_day, first.timer_id
            classes = _classes(self.chart.model)
            self._guard(partial(self.chart.fire, timer_id, day=day), first.event, day)
            if self.check and _classes(self.chart.model) > classes:
                self._classification_conflict(day)
            self._act(day)
            self._settled(day)

    def _take(self, action: str, day: float) -> None:
        def take() -> Any:
            step = self.chart.take(action, day=day, deviate=True)
            if step.deviation:
                self.deviated = True
            return step

        self._guard(take, action, day)

    def _act(self, day: float) -> None:
        if day in self._action_days or not self.alive:
            return
        self._guard(lambda: self.policy.act(self.chart, day), "policy", day)

    def _guard(self, fn: Callable[[], Any], what: str, day: float) -> None:
        """Run ``fn``; turn an error into a problem and break the course."""
        where = self.chart.care_state
        try:
            fn()
        except TransitionNotAllowed:
            self._problem(
                "gap",
                f"{what}@{where}",
                f"no transition handles {what!r} in {where!r} on day {day:g}",
                day,
                {"event": what, "configuration": sorted(self.chart.active)},
            )
        except InvariantViolation as exc:
            self._problem(
                "unsafe",
                f"{exc.rule_id}@{where}",
                f"following the guideline broke {exc.rule_id} on day {day:g}: {exc.message}",
                day,
                {"configuration": exc.configuration},
                (exc.rule_id,),
            )
        except PathwayError as exc:
            self._problem("crash", f"{type(exc).__name__}@{where}", str(exc), day, {})
        except Exception as exc:
            self._problem(
                "crash",
                f"{type(exc).__name__}@{where}",
                f"{what!r} on day {day:g} raised {type(exc).__name__}: {exc}",
                day,
                {"event": what},
            )
        else:
            return
        self.broken = True
        raise CourseBroken

    def _problem(
        self,
        code: str,
        subject: str,
        message: str,
        day: float,
        details: dict[str, Any],
        rule_ids: tuple[str, ...] = (),
    ) -> None:
        self.problems.append(Problem(code, subject, message, day, self.moves, details, rule_ids))

    # --- checks at settled moments -----------------------------------------------------------

    def _settled(self, day: float) -> None:
        chart = self.chart
        self.states_seen.update(chart.active)
        overlaps = self.exposure.overlaps
        if self.check:
            model = probe_model(chart)
            for ov in overlaps[self._seen_overlaps :]:
                targets = [model.transitions[i].target or "(stay)" for i in ov.transitions]
                rules = tuple(r for i in ov.transitions for r in model.transitions[i].rule_ids)
                self._problem(
                    "overlap",
                    f"{ov.event}@{ov.source}",
                    f"{ov.event!r} in {ov.source!r}: guarded transitions to {targets} are all "
                    f"enabled; the first ({targets[0]}) is taken by document order",
                    day,
                    {
                        "event": ov.event,
                        "source": ov.source,
                        "targets": targets,
                        "transitions": [model.transitions[i].label for i in ov.transitions],
                    },
                    tuple(dict.fromkeys(rules)),
                )
        self._seen_overlaps = len(overlaps)
        if chart.is_dead:
            return
        recs = record_recommendations(self.exposure, chart)
        for rec in recs:
            self.recommended_rules.update(rec.rule_ids)
        if not self.check:
            return
        where = chart.care_state
        if not recs:
            self._problem(
                "gap",
                f"recommendations@{where}",
                f"no recommendation at all (not even 'continue') in {where!r} on day {day:g}",
                day,
                {"configuration": sorted(chart.active)},
            )
            return
        if len(recs) > 1:
            c, rank_key = chart.ctx(), chart.guideline.rulebook.rank_key
            k0 = rank_key(recs[0].action, recs[0].strength, c)
            k1 = rank_key(recs[1].action, recs[1].strength, c)
            if k0 == k1 and recs[0].action != recs[1].action:
                pair = f"{recs[0].action}|{recs[1].action}"
                self._problem(
                    "overlap",
                    f"{pair}@{where}",
                    f"{recs[0].action!r} and {recs[1].action!r} tie at the top "
                    f"({recs[0].strength}) in {where!r} on day {day:g}",
                    day,
                    {"actions": [recs[0].action, recs[1].action], "rank": list(k0)},
                    recs[0].rule_ids + recs[1].rule_ids,
                )

    def _classification_conflict(self, day: float) -> None:
        """A failed-response class given today while the labs meet complete response."""
        p = self.chart.model
        if not p.response_history or p.response_history[-1][0] != day:
            return
        if p.response not in _FAILED or not is_cbr(p.latest_panel(), self.chart.thresholds):
            return
        where = self.chart.care_state
        self._problem(
            "overlap",
            f"{p.response}|complete_biochemical_response@{where}",
            f"on day {day:g} the patient is classified {p.response!r} although ALT, AST and "
            "IgG are all within the upper limit of normal (complete biochemical response): "
            "two response definitions hold at once",
            day,
            {"response": p.response, "labs": p.latest_panel().values()},
            _FAILED[p.response],
        )


def _classes(record: Any) -> int:
    """Response classifications an AIH record has had (0 for another guideline's)."""
    return len(record.response_history) if isinstance(record, PatientRecord) else 0


#: Failed-response classes and the rules that act on them.
_FAILED = {
    "non_response": ("AIH-RSP-01", "AIH-2L-02"),
    "insufficient_response": ("AIH-RSP-02", "AIH-2L-02"),
}


def probe_model(chart: Any) -> Any:
    """The :class:`~pathway.structure.ChartModel` behind an instrumented chart."""
    return chart.__dict__["_verification_probe"].model
