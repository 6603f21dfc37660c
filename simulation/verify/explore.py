"""Best-first search over courses: which situations the pathway can reach, and how.

The search runs over pairs (configuration, abstract record): from each patient at
diagnosis (the guideline's explorer, :mod:`simulation.verify.explorers`) it tries every
next move (the next guideline visit with or without a lab panel drawn at a threshold
boundary, a finding that can happen now, a clinician action the guideline offers as an
alternative to the one the guideline policy takes, optionally a deviation) and keeps a
course when it reaches a situation not seen before. Situations are compared on the active
states, the record's relevant facts (the explorer's; for AIH: response class, drugs and
doses, flags, intolerances, the position of each lab value among the threshold
boundaries) and the time to each pending time point; cheaper courses (fewer moves, no
deviation) are expanded first.

Each course is a :class:`~simulation.scenarios.course.Course` on one shared chart instance,
saved and rewound between moves, so a search of thousands of courses takes seconds. The search
records, for every coverage item (state, transition, guard outcome, recommendation rule),
the first course that exercised it, and every gap, overlap and safety problem met.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pathway import AnyPathway, Guideline
from pathway.guidelines import get
from pathway.structure import ChartModel

from ..scenarios.course import Course, Move, Problem, Start
from .explorers import Explorer, explorer_for

__all__ = ["Item", "Node", "Search", "SearchResult", "course_items"]

#: A coverage item: ``("state", id)``, ``("transition", index)``,
#: ``("guard", index, name, outcome)``, ``("permission", action, allowed)`` or
#: ``("rule", rule_id)``.
Item = tuple[Any, ...]

#: Extra cost of a move (a deviation is tried only when cheaper courses are exhausted).
MOVE_COST = {"visit": 1, "finding": 5, "action": 3, "action_at_visit": 3, "deviation": 8}
#: How much one transition of distance to a wanted state weighs against one move's cost.
HEURISTIC_WEIGHT = 3
#: Extra cost of drawing a new lab panel at a visit (carrying the last values is cheaper).
PANEL_COST = 1


def course_items(course: Course) -> set[Item]:
    """Every coverage item the course has exercised so far."""
    exp = course.exposure
    items: set[Item] = {("state", s) for s in course.states_seen}
    items |= {("transition", i) for i in exp.transitions}
    items |= {("guard", i, name, outcome) for (i, name, outcome) in exp.guards}
    items |= {("permission", action, ok) for (action, ok) in exp.permissions}
    items |= {("rule", r) for r in course.recommended_rules}
    return items


@dataclass(order=True)
class Node:
    """A move waiting in the search queue: the course so far (saved) and the path.

    The path's last move is not made yet; it is made when the node leaves the queue
    (cheapest first, then in discovery order), so only the moves the search gets to cost
    time.
    """

    cost: int
    seq: int
    start: int = field(compare=False)
    moves: tuple[Move, ...] = field(compare=False)
    saved: dict[str, Any] = field(compare=False, repr=False)
    spent: int = field(compare=False, default=0)


@dataclass
class SearchResult:
    """What a search found.

    Attributes:
        examples: for each coverage item, the first ``(start index, moves)`` that exercised
            it on a course that stayed within the guideline (or only deviated when
            deviations were allowed) and did not break.
        problems: for each problem signature, the first problem and its course.
        expanded: moves made; ``situations``: distinct situations reached.
        seconds: wall-clock time; ``exhausted``: the queue ran empty (not the budget).
    """

    examples: dict[Item, tuple[int, tuple[Move, ...]]] = field(default_factory=dict)
    problems: dict[tuple[str, str], tuple[Problem, int, tuple[Move, ...]]] = field(
        default_factory=dict
    )
    expanded: int = 0
    situations: int = 0
    seconds: float = 0.0
    exhausted: bool = False


class Search:
    """Best-first search over courses of ``chart_class`` from ``starts``.

    Args:
        chart_class: the pathway chart class (of any guideline: its ``guideline`` bundle
            gives the actions and, through :func:`explorer_for`, what to explore).
        starts: patients at diagnosis (default: the explorer's).
        thresholds: the numbers the boundary values come from (default: the guideline's).
        max_day: do not go past this day (days from diagnosis).
        deviations: also try clinician actions the guideline does not recommend.
        check: look for gaps and overlaps on the way.
        explorer: what to explore (default: the guideline's, :func:`explorer_for`).
    """

    def __init__(
        self,
        chart_class: type[AnyPathway],
        starts: Sequence[Start] | None = None,
        *,
        thresholds: Any | None = None,
        max_day: float = 1500.0,
        deviations: bool = False,
        check: bool = True,
        explorer: Explorer | None = None,
    ) -> None:
        self.chart_class = chart_class
        self.guideline: Guideline = getattr(chart_class, "guideline", None) or get()
        self.th = thresholds if thresholds is not None else self.guideline.thresholds()
        self.explorer = explorer or explorer_for(self.guideline, self.th)
        self.starts = list(starts) if starts is not None else self.explorer.starts()
        self.max_day = max_day
        self.deviations = deviations
        self.check = check
        self._starts_cache: list[Start] | None = None

    # --- situations -----------------------------------------------------------------------

    def key(self, course: Course) -> tuple[Any, ...]:
        """The situation a course is in, for telling new situations from seen ones."""
        chart = course.chart
        timers = tuple(
            (t.timer_id, round(t.due_day - course.clock, 3)) for t in chart.pending_timers()
        )
        return (
            frozenset(chart.active),
            self.explorer.situation(chart.model),
            timers,
            int(course.clock // 91),
            course.deviated,
        )

    def moves(self, course: Course) -> list[Move]:
        """The moves worth trying next from ``course``."""
        chart = course.chart
        p = chart.model
        out: list[Move] = []
        due = course.next_due()
        if due is not None and due <= self.max_day:
            out.append(Move("visit"))
            out += [
                Move("visit", value=panel) for panel in self.explorer.visit_panels(p, chart.active)
            ]
        if course.clock + 1 <= self.max_day:
            allowed = {e.id for e in chart.allowed_events}
            out += [Move("finding", n, v) for n, v in self.explorer.finding_moves(p, allowed)]
            recs = chart.recommendations()
            carry_on = self.guideline.rulebook.default_action
            taken = None
            if recs and recs[0].action != carry_on and recs[0].strength != "may":
                taken = recs[0].action
            for rec in recs:
                if rec.action not in (taken, carry_on):
                    out.append(Move("action", rec.action))
                    if due is not None and due <= self.max_day:
                        out.append(Move("action_at_visit", rec.action))
            if self.deviations:
                offered = {r.action for r in recs}
                out += [
                    Move("deviation", a)
                    for a in self.guideline.actions
                    if a not in offered and a in allowed and a != carry_on
                ]
        return out

    # --- the search -----------------------------------------------------------------------

    def run(
        self,
        *,
        budget: int = 2000,
        seconds: float | None = None,
        wanted: set[Item] | None = None,
        on_course: Callable[[Course, int, tuple[Move, ...]], None] | None = None,
        toward: set[str] | None = None,
        prefer: set[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SearchResult:
        """Search until ``budget`` moves are made, time runs out or all is found.

        Args:
            budget: most moves to make (each move extends one course by one step).
            seconds: wall-clock limit.
            wanted: stop once every one of these items has an example.
            on_course: called with each course reached (for probing at that moment).
            toward: states to steer to: a course whose active states are closer (in
                transitions, ignoring guards) to one of them is tried first.
            prefer: events (findings, actions) worth trying early: a move sending one of
                them costs as little as a visit, even a deviation.
            progress: called with ``(moves made, budget)`` every twentieth of the budget,
                and with ``(moves made, moves made)`` when the search stops.

        Returns:
            The :class:`SearchResult`.
        """
        started = time.perf_counter()
        result = SearchResult()
        seen: set[tuple[Any, ...]] = set()
        queue: list[Node] = []
        seq = 0
        starts = self.variants()
        courses: dict[int, Course] = {}
        distance = self._distances(toward) if toward else {}
        report_every = max(1, budget // 20)

        def push(course: Course, index: int, cost: int, path: tuple[Move, ...]) -> None:
            nonlocal seq
            saved = course.save()
            h = 0
            if distance:
                h = min((distance.get(s, 99) for s in course.chart.active), default=99)
            for move in self.moves(course):
                new_cost = cost + (1 if prefer and move.name in prefer else _cost(move))
                heapq.heappush(
                    queue,
                    Node(
                        new_cost + HEURISTIC_WEIGHT * h, seq, index, (*path, move), saved, new_cost
                    ),
                )
                seq += 1

        for index, start in enumerate(starts):
            course = courses[index] = Course(start, self.chart_class, check=self.check)
            self._record(result, course, index, ())
            if course.alive:
                k = self.key(course)
                if k not in seen:
                    seen.add(k)
                    if on_course is not None:
                        on_course(course, index, ())
                    push(course, index, 0, ())
            self._death(result, course, index)
        while queue:
            if budget <= result.expanded or (
                seconds is not None and time.perf_counter() - started > seconds
            ):
                break
            if wanted is not None and wanted <= set(result.examples):
                break
            node = heapq.heappop(queue)
            result.expanded += 1
            if progress is not None and result.expanded % report_every == 0:
                progress(result.expanded, budget)
            course = courses[node.start]
            course.rewind(node.saved)
            before = len(course.problems)
            if not course.apply(node.moves[-1]) and not course.problems[before:]:
                continue
            self._record(result, course, node.start, node.moves)
            if not course.alive or (course.deviated and not self.deviations):
                continue
            k = self.key(course)
            if k in seen:
                continue
            seen.add(k)
            if on_course is not None:
                on_course(course, node.start, node.moves)
            push(course, node.start, node.spent, node.moves)
        if progress is not None and (result.expanded % report_every or not result.expanded):
            progress(result.expanded, result.expanded)  # stopped between two reports
        result.exhausted = not queue
        result.situations = len(seen)
        result.seconds = time.perf_counter() - started
        return result

    def _distances(self, toward: set[str]) -> dict[str, int]:
        """Fewest transitions (guards ignored) from each state to one of ``toward``."""
        model = ChartModel.of(self.chart_class)
        preds: dict[str, set[str]] = {s: set() for s in model.states}
        for t in model.transitions:
            if t.target is None:
                continue
            sources = {t.source, *model.descendants(t.source)}
            for target in model.entered_with(t.target):
                preds.setdefault(target, set()).update(sources)
        dist = {s: 0 for s in toward if s in model.states}
        frontier = list(dist)
        while frontier:
            nxt = []
            for s in frontier:
                for p in preds.get(s, ()):
                    if p not in dist:
                        dist[p] = dist[s] + 1
                        nxt.append(p)
            frontier = nxt
        return dist

    def variants(self) -> list[Start]:
        """The search's starts: each patient, plus one start per alternative first action
        the guideline offers on day 0 (the index of a result's course is into this list)."""
        if self._starts_cache is not None:
            return self._starts_cache
        out: list[Start] = []
        for start in self.starts:
            out.append(start)
            course = Course(start, self.chart_class, check=False)
            if not course.alive:
                continue
            recs = course.chart.recommendations()
            taken = recs[0].action if recs and recs[0].strength != "may" else None
            for rec in recs:
                if rec.action not in (taken, self.guideline.rulebook.default_action):
                    out.append(
                        replace(
                            start,
                            name=f"{start.name}; {rec.action} on day 0",
                            day0_action=rec.action,
                        )
                    )
        self._starts_cache = out
        return out

    def _record(
        self, result: SearchResult, course: Course, start: int, path: tuple[Move, ...]
    ) -> None:
        for problem in course.problems:
            if problem.signature not in result.problems:
                result.problems[problem.signature] = (problem, start, path[: problem.moves])
        if course.broken or (course.deviated and not self.deviations):
            return
        for item in course_items(course):
            if item not in result.examples:
                result.examples[item] = (start, path)

    def _death(self, result: SearchResult, course: Course, start: int) -> None:
        """Cover the death transition once per start (death ends every course alike)."""
        if not course.alive:
            return
        clone = course.clone()
        if clone.apply(Move("finding", "death")):
            self._record(result, clone, start, (Move("finding", "death"),))


def _cost(move: Move) -> int:
    return MOVE_COST[move.kind] + (PANEL_COST if move.kind == "visit" and move.value else 0)


def replay_path(
    chart_class: type[AnyPathway], start: Start, moves: Iterable[Move], *, check: bool = True
) -> Course:
    """Run ``moves`` from ``start`` on a fresh course (for confirming a search's result)."""
    course = Course(start, chart_class, check=check)
    for move in moves:
        if not course.alive:
            break
        course.apply(move)
    return course
