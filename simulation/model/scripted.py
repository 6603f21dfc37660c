"""A scripted patient model: a fixed timeline of findings and clinician actions.

Used by replay and by the built-in demo patients. Between scripted findings the latest lab
values stand (no new panel is drawn at timer visits).
"""

from __future__ import annotations

from collections.abc import Iterable

from pathway import AnyPathway, PatientRecord

from ..run.engine import Days, Occurrence

__all__ = ["ScriptedPatient", "baseline_occurrences"]


class ScriptedPatient:
    """Patient model that replays ``timeline`` (occurrences in day order) after ``baseline``."""

    def __init__(self, baseline: Iterable[Occurrence], timeline: Iterable[Occurrence]) -> None:
        self._baseline = list(baseline)
        self._timeline = sorted(timeline, key=lambda o: o.day)  # stable: same-day order kept
        self._next = 0
        self._action_days = {o.day for o in self._timeline if o.kind == "action"}
        self._action_days |= {o.day for o in self._baseline if o.kind == "action"}

    def baseline(self, chart: AnyPathway) -> list[Occurrence]:
        return list(self._baseline)

    def next_day(self, chart: AnyPathway) -> Days | None:
        if self._next < len(self._timeline):
            return self._timeline[self._next].day
        return None

    def pop(self, chart: AnyPathway, day: Days) -> list[Occurrence]:
        out = []
        while self._next < len(self._timeline) and self._timeline[self._next].day == day:
            out.append(self._timeline[self._next])
            self._next += 1
        return out

    def visit_labs(self, chart: AnyPathway, day: Days) -> dict[str, float] | None:
        return None

    def scripts_actions_on(self, day: Days) -> bool:
        return day in self._action_days


def baseline_occurrences(patient: PatientRecord, labs: dict[str, float] | None) -> list[Occurrence]:
    """The findings a patient's attributes imply at diagnosis (day 0), in order.

    The baseline panel, then the staging (cirrhosis), encephalopathy for an acute liver
    failure presentation and pregnancy: so the chart's regions match the record.
    """
    out: list[Occurrence] = []
    if labs:
        out.append(Occurrence(0.0, "finding", "labs", dict(labs)))
    if patient.cirrhosis != "none":
        out.append(Occurrence(0.0, "finding", "cirrhosis_diagnosed", patient.cirrhosis))
    if patient.presentation == "acute_liver_failure":
        out.append(Occurrence(0.0, "finding", "encephalopathy"))
    if patient.pregnancy == "pregnant":
        out.append(Occurrence(0.0, "finding", "pregnant"))
    return out
