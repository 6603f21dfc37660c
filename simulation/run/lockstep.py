"""Lockstep rounds: the courses of a block of patients stepped together (issue 14).

Each patient's course is :meth:`~simulation.run.engine.DayRules.moves`: the day rules,
written once, with the calls to the chart left to the caller. A round takes every
unfinished course to its next call or decision (the waits between days cost nothing: SimPy
only orders them, and patients do not interact); the round's calls are made together,
grouped by kind and name (a timer's event: timers that share one are fired together), and
so are the clinician's decisions. Round ``r`` holds each patient's ``r``-th call or
decision, whatever its day.

The course's questions to the patient model (its next event, a timer visit's labs: the
moves :class:`~simulation.run.engine.Plan` and :class:`~simulation.run.engine.Labs`) are
answered the same way, a round's together, by a :class:`ModelBlock`: :class:`ModelList`
asks each patient's own model; a block of models as columns answers with array operations
(:class:`simulation.model.model_block.ModelColumns`). A round takes the courses that asked
on to their next call or decision once answered.

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

from pathway import AnyPathway, PendingTimer, Step

from ..model.policies import Policy
from .engine import Call, DayRules, Days, Labs, Move, PatientModel, Plan, next_event

__all__ = [
    "ChartBlock",
    "ChartList",
    "LockstepStats",
    "ModelBlock",
    "ModelList",
    "RowError",
    "run_lockstep",
]


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
        """Make ``calls[i]`` on row ``rows[i]``'s chart (all of one kind and
        :attr:`~simulation.run.engine.Call.group`: one finding or action, or timers of one
        event); their steps, in order. Raises :class:`RowError` naming the first row that
        failed."""
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


class ModelBlock(Protocol):
    """The patient models of a block of patients, asked a group of rows at a time."""

    def next_events(self, rows: Sequence[int]) -> list[tuple[Days, PendingTimer | None]]:
        """Each row's next event, as :func:`~simulation.run.engine.next_event` gives it
        for its chart and model. Raises :class:`RowError` naming the row that failed."""
        ...

    def visit_labs(
        self, rows: Sequence[int], days: Sequence[Days]
    ) -> list[dict[str, float] | None]:
        """The lab panel of row ``rows[i]``'s timer visit on ``days[i]`` (``None``: the
        values stand), as its model's ``visit_labs`` gives it. Raises :class:`RowError`."""
        ...


class ModelList:
    """A :class:`ModelBlock` of ordinary patient models, asked one by one."""

    def __init__(self, block: ChartBlock, models: Sequence[PatientModel]) -> None:
        self.block = block
        self.models = list(models)

    def next_events(self, rows: Sequence[int]) -> list[tuple[Days, PendingTimer | None]]:
        out = []
        for row in rows:
            try:
                out.append(next_event(self.block.chart(row), self.models[row]))
            except Exception as exc:
                raise RowError(row, exc) from exc
        return out

    def visit_labs(
        self, rows: Sequence[int], days: Sequence[Days]
    ) -> list[dict[str, float] | None]:
        out = []
        for row, day in zip(rows, days, strict=True):
            try:
                out.append(self.models[row].visit_labs(self.block.chart(row), day))
            except Exception as exc:
                raise RowError(row, exc) from exc
        return out


@dataclass
class LockstepStats:
    """What a lockstep run did: rounds, and groups of calls and decisions made together."""

    rounds: int = 0
    call_groups: int = 0
    calls: int = 0
    decision_groups: int = 0
    decisions: int = 0
    #: Questions to the patient models: next events and visit panels asked, and the
    #: groups they were asked in.
    plans: int = 0
    labs: int = 0
    ask_groups: int = 0


def run_lockstep(
    block: ChartBlock,
    models: Sequence[PatientModel],
    horizon_days: Days,
    model_block: ModelBlock | None = None,
) -> LockstepStats:
    """Run the courses of all ``models`` (row ``i``: ``models[i]`` on ``block.chart(i)``) up
    to ``horizon_days`` in lockstep rounds; ``model_block`` answers the courses' questions
    to the models (default: :class:`ModelList`, each model asked itself).

    Raises:
        RowError: a patient's course failed (its row; the original error as the cause).
    """
    if not horizon_days > 0:
        raise ValueError(f"'horizon_days' must be > 0 (got {horizon_days!r})")
    asked = model_block if model_block is not None else ModelList(block, models)
    courses = [
        DayRules(block.chart(row), model.scripts_actions_on).moves(model, horizon_days)
        for row, model in enumerate(models)
    ]
    answers: list[Any] = [None] * len(courses)
    moves: list[Move | None] = [None] * len(courses)
    live = list(range(len(courses)))
    stats = LockstepStats()
    while live:
        _advance(courses, answers, moves, live, asked, stats)
        calls: dict[tuple[str, str], tuple[list[int], list[Call]]] = {}
        deciding: list[int] = []
        days: list[Days] = []
        still: list[int] = []
        for row in live:
            move = moves[row]
            if move is None:
                continue  # the course is over
            still.append(row)
            if isinstance(move, Call):
                rows, group = calls.setdefault((move.kind, move.group), ([], []))
                rows.append(row)
                group.append(move)
            elif isinstance(move, tuple):
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


def _advance(
    courses: Sequence[Any],
    answers: list[Any],
    moves: list[Move | None],
    rows: Sequence[int],
    asked: ModelBlock,
    stats: LockstepStats,
) -> None:
    """Take the courses of ``rows`` to their next call or decision (``moves[row]``; ``None``:
    the course is over), answering their questions to the models together: all the next
    events asked at once, then all the visit panels, until no course asks."""
    pending = rows
    while pending:
        plans: list[int] = []
        visits: list[int] = []
        visit_days: list[Days] = []
        for row in pending:
            # The course's next call, decision or question (past its waits), or ``None``
            # when it is over; inline, as this runs once per move of every course.
            course = courses[row]
            move: Move | None
            try:
                move = course.send(answers[row])
                while isinstance(move, tuple) and move[0] == "wait":
                    move = course.send(None)
            except StopIteration:
                move = None
            except Exception as exc:
                raise RowError(row, exc) from exc
            answers[row] = None
            if isinstance(move, Plan):
                plans.append(row)
            elif isinstance(move, Labs):
                visits.append(row)
                visit_days.append(move.day)
            else:
                moves[row] = move
        if plans:
            for row, event in zip(plans, asked.next_events(plans), strict=True):
                answers[row] = event
            stats.plans += len(plans)
            stats.ask_groups += 1
        if visits:
            for row, labs in zip(visits, asked.visit_labs(visits, visit_days), strict=True):
                answers[row] = labs
            stats.labs += len(visits)
            stats.ask_groups += 1
        pending = plans + visits
