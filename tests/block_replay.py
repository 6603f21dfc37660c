"""Courses recorded on the compiled engine, replayed through a block in lockstep rounds.

:class:`Recording` is the compiled AIH chart noting its external inputs (findings with their
payloads and days, timer fires) and where the clinician was asked (the trace length at each
call of ``top_recommendation``). :func:`recorded_cohort` runs real patients of the default
cohort on it; :func:`replay` drives a :class:`~pathway.block.BlockPathway` over all of them:
round ``r`` sends each patient's ``r``-th input (grouped by finding or timer), then lets the
block's policy act for the rows whose clinician acted after that input. Used by
tests/test_block.py and benchmarks/bench_block.py.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from pathway.block import BlockGuideline, BlockPathway
from pathway.compiled import CompiledPathway
from simulation.run.cohort import run_cohort

__all__ = ["Input", "Recording", "inputs_of", "recorded_cohort", "replay"]


class Recording(CompiledPathway):
    """The compiled AIH chart, noting its inputs and where the policy was asked.

    An input is a finding, a timer fire or an action taken with ``deviate=True`` (the
    policy never deviates), with the index of the step it made; one that raised made none
    and is forgotten.
    """

    def __init__(self, patient: Any, **kwargs: Any) -> None:
        self.initial = copy.deepcopy(patient)
        self.inputs: list[tuple[str, str, Any, float, int]] = []
        self.asked: set[int] = set()
        super().__init__(patient, **kwargs)

    def _noted(self, kind: str, name: str, value: Any, day: float, call: Any) -> Any:
        self.inputs.append((kind, name, copy.deepcopy(value), day, len(self.trace)))
        try:
            return call()
        except Exception:
            self.inputs.pop()
            raise

    def observe(self, finding: str, value: Any = None, *, day: float) -> Any:
        step = super().observe
        return self._noted("finding", finding, value, day, lambda: step(finding, value, day=day))

    def fire(self, timer_id: str, *, day: float) -> Any:
        step = super().fire
        return self._noted("timer", timer_id, None, day, lambda: step(timer_id, day=day))

    def take(self, action: str, *, day: float, deviate: bool = False) -> Any:
        step = super().take
        if not deviate:  # the policy's
            return step(action, day=day)
        return self._noted("action", action, None, day, lambda: step(action, day=day, deviate=True))

    def top_recommendation(self) -> Any:
        self.asked.add(len(self.trace))
        return super().top_recommendation()

    def recommendations(self) -> Any:
        self.asked.add(len(self.trace))
        return super().recommendations()


@dataclass(frozen=True)
class Input:
    """One external input of a course and whether the clinician acted after it."""

    kind: str  # "finding", "timer" or "action" (taken with deviate=True)
    name: str  # finding id, timer id or action
    value: Any
    day: float
    decide: bool


def inputs_of(chart: Recording) -> list[Input]:
    """The chart's inputs in order, each with whether the policy was asked right after."""
    assert [at for *_, at in chart.inputs] == sorted({at for *_, at in chart.inputs})
    return [
        Input(kind, name, value, day, at + 1 in chart.asked)
        for kind, name, value, day, at in chart.inputs
    ]


def recorded_cohort(
    patients: int, years: float, seed: int, *, thresholds: Any = None, policy: str = "guideline"
) -> list[Recording]:
    """The charts of a default cohort's patients run on :class:`Recording`."""
    result = run_cohort(
        patients=patients,
        years=years,
        seed=seed,
        thresholds=thresholds,
        policy=policy,
        keep_charts=True,
        chart_class=Recording,
    )
    return [p.chart for p in result.patients]  # type: ignore[misc]


def replay(
    parts: BlockGuideline,
    initial: list[Any],
    courses: list[list[Input]],
    *,
    thresholds: Any = None,
    options: Any = None,
    strict: bool = False,
) -> BlockPathway:
    """A block over ``initial`` records driven by ``courses`` in lockstep rounds."""
    block = BlockPathway(
        parts,
        [copy.deepcopy(r) for r in initial],
        thresholds=thresholds,
        options=options,
        strict_invariants=strict,
    )
    longest = max((len(c) for c in courses), default=0)
    for r in range(longest):
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, course in enumerate(courses):
            if r < len(course):
                groups[(course[r].kind, course[r].name)].append(i)
        for (kind, name), rows in groups.items():
            days = np.array([courses[i][r].day for i in rows])
            if kind == "finding":
                values = [copy.deepcopy(courses[i][r].value) for i in rows]
                block.observe(rows, name, values, days)
            elif kind == "timer":
                block.fire(rows, name, days)
            else:
                block.take(rows, name, days, deviate=True)
        deciding = [i for i, c in enumerate(courses) if r < len(c) and c[r].decide]
        if deciding:
            block.act(deciding, np.array([courses[i][r].day for i in deciding]))
    return block
