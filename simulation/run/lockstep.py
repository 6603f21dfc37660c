"""Lockstep rounds: the courses of a block of patients stepped together (issue 14).

Each patient's course is :meth:`~simulation.run.engine.DayRules.moves`: the day rules,
written once, with the calls to the chart left to the caller. A round takes every
unfinished course to its next call or decision (the waits between days cost nothing: SimPy
only orders them, and patients do not interact); the round's calls are made together,
grouped by (kind, name), and so are the clinician's decisions. Round ``r`` holds each
patient's ``r``-th call or decision, whatever its day.

Who makes the calls is a :class:`ChartBlock`. A block that holds its patients as columns
(the vector engine) evaluates a group with array operations; :class:`ChartList`, a block
of ordinary charts, makes them one by one. Run over a :class:`ChartList`, the lockstep
driver gives every patient the course :func:`~simulation.run.engine.patient_journey`
gives it (tests/test_lockstep.py), so it is the reference a columnar block is compared
with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pathway import AnyPathway, Step

from ..model.policies import Policy
from .engine import Call, DayRules, Days, Move, PatientModel

__all__ = ["ChartBlock", "ChartList", "LockstepStats", "RowError", "run_lockstep"]


class RowError(Exception):
    """A patient's course failed; ``row`` is its row in the block (``__cause__``: why).

    ``group`` > 1: the error came from a call made for that many rows together and does not
    say which of them failed; ``row`` is the group's first.
    """

    def __init__(self, row: int, error: BaseException, group: int = 1) -> None:
        super().__init__(f"row {row}: {type(error).__name__}: {error}")
        self.row = row
        self.error = error
        self.group = group


class ChartBlock(Protocol):
    """The charts of a block of patients, called a group of rows at a time."""

    def chart(self, row: int) -> AnyPathway:
        """Row ``row``'s chart as the day rules and the patient model read it."""
        ...

    def call(self, rows: Sequence[int], calls: Sequence[Call]) -> list[Step]:
        """Make ``calls[i]`` on row ``rows[i]``'s chart (all of one kind and name); their
        steps, in order. Raises :class:`RowError` naming the first row that failed."""
        ...

    def decide(self, rows: Sequence[int], days: Sequence[Days]) -> None:
        """The clinician acts on rows ``rows`` on days ``days`` (the block's policy)."""
        ...


class ChartList:
    """A :class:`ChartBlock` of ordinary charts, one policy object per patient."""

    def __init__(self, charts: Sequence[AnyPathway], policies: Sequence[Policy]) -> None:
        if len(charts) != len(policies):
            raise ValueError(f"{len(charts)} charts but {len(policies)} policies")
        self.charts = list(charts)
        self.policies = list(policies)

    def chart(self, row: int) -> AnyPathway:
        return self.charts[row]

    def call(self, rows: Sequence[int], calls: Sequence[Call]) -> list[Step]:
        steps: list[Step] = []
        for row, call in zip(rows, calls, strict=True):
            try:
                steps.append(call.apply(self.charts[row]))
            except Exception as exc:
                raise RowError(row, exc) from exc
        return steps

    def decide(self, rows: Sequence[int], days: Sequence[Days]) -> None:
        for row, day in zip(rows, days, strict=True):
            try:
                self.policies[row].act(self.charts[row], day)
            except Exception as exc:
                raise RowError(row, exc) from exc


@dataclass
class LockstepStats:
    """What a lockstep run did: rounds, and groups of calls and decisions made together."""

    rounds: int = 0
    call_groups: int = 0
    calls: int = 0
    decision_groups: int = 0
    decisions: int = 0


def run_lockstep(
    block: ChartBlock, models: Sequence[PatientModel], horizon_days: Days
) -> LockstepStats:
    """Run the courses of all ``models`` (row ``i``: ``models[i]`` on ``block.chart(i)``) up
    to ``horizon_days`` in lockstep rounds.

    Raises:
        RowError: a patient's course failed (its row; the original error as the cause).
    """
    if not horizon_days > 0:
        raise ValueError(f"'horizon_days' must be > 0 (got {horizon_days!r})")
    courses = [
        DayRules(block.chart(row), model.scripts_actions_on).moves(model, horizon_days)
        for row, model in enumerate(models)
    ]
    answers: list[Any] = [None] * len(courses)
    live = list(range(len(courses)))
    stats = LockstepStats()
    while live:
        calls: dict[tuple[str, str], tuple[list[int], list[Call]]] = {}
        deciding: list[int] = []
        days: list[Days] = []
        still: list[int] = []
        for row in live:
            move = _next_move(courses[row], answers[row], row)
            answers[row] = None
            if move is None:
                continue  # the course is over
            still.append(row)
            if isinstance(move, Call):
                rows, group = calls.setdefault((move.kind, move.name), ([], []))
                rows.append(row)
                group.append(move)
            else:
                deciding.append(row)
                days.append(move[1])
        for rows, group in calls.values():
            for row, step in zip(rows, block.call(rows, group), strict=True):
                answers[row] = step
            stats.calls += len(rows)
        if deciding:
            block.decide(deciding, days)
            stats.decision_groups += 1
            stats.decisions += len(deciding)
        stats.call_groups += len(calls)
        stats.rounds += 1 if still else 0
        live = still
    return stats


def _next_move(course: Any, answer: Any, row: int) -> Move | None:
    """The course's next call or decision (past its waits), or ``None`` when it is over."""
    try:
        move: Move = course.send(answer)
        while not isinstance(move, Call) and move[0] == "wait":
            move = course.send(None)
    except StopIteration:
        return None
    except Exception as exc:
        raise RowError(row, exc) from exc
    return move
