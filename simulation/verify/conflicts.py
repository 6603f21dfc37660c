"""Gap and overlap search: patients the guideline leaves without a recommendation, or with two.

At every decision point of the pathway (each state with guarded alternatives for an event,
and the recommendation set in each care state) the search looks for:

- **gaps**: a living patient whose recommendations are empty (``continue`` counts as a
  recommendation), or an event that no transition handles (the course stops with an error);
- **overlaps**: two guarded transitions of one event from one state both enabled towards
  different targets (python-statemachine would take the first in document order without a
  word), or two different actions tied at the top rank;
- on the way, **safety** problems: a hard invariant broken while following the guideline,
  or a guard, action or rule that raises.

Three searches feed each other (all deterministic for a given seed):

1. every patient at diagnosis with labs and weight on a triage threshold's boundary
   (:func:`simulation.verify.boundaries.triage_starts`), followed through the guideline's visits
   (the lab values carried forward) for ``follow_days``, and each typical patient followed
   on lab trajectories set at the response boundaries (exactly halved at week 4; exactly
   at the upper limit of normal at month 6);
2. the course search (:class:`simulation.verify.explore.Search`) from typical patients; at each
   new configuration it reached, one extra lab result with each analyte at each threshold
   boundary (``v - ε``, ``v``, ``v + ε``);
3. a Hypothesis search over random courses (findings, lab panels biased towards the
   boundaries, clinician actions), which shrinks each new problem to a minimal course.

Each problem is shrunk further by dropping moves while it still occurs, then written as a
scenario file (:mod:`simulation.scenarios.scenario_writer`) that replays it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pathway import AIHPathway, AnyPathway
from pathway.guidelines import get
from pathway.structure import ChartModel

from ..scenarios.course import Course, Move, Problem, Start
from ..scenarios.scenario_writer import ExpectationSpec, care_states_of, render_scenario
from .explore import Search, replay_path
from .explorers import Explorer, explorer_for

__all__ = ["ConflictReport", "Counterexample", "counterexample_scenario", "search_conflicts"]


@dataclass
class Counterexample:
    """A problem with the (minimal) course that shows it.

    Attributes:
        problem: the problem, as met on the shrunk course.
        start: the patient at diagnosis.
        moves: the moves from diagnosis to the problem.
        found_by: ``triage``, ``boundary``, ``search`` or ``hypothesis``.
        scenario: the scenario file (YAML text).
    """

    problem: Problem
    start: Start
    moves: tuple[Move, ...]
    found_by: str
    scenario: str = ""


@dataclass
class ConflictReport:
    """Everything the gap and overlap search did and found."""

    counterexamples: dict[tuple[str, str], Counterexample] = field(default_factory=dict)
    decision_points: dict[str, int] = field(default_factory=dict)
    courses: int = 0
    probes: int = 0
    hypothesis_examples: int = 0
    seconds: float = 0.0

    def add(self, problem: Problem, start: Start, moves: tuple[Move, ...], how: str) -> bool:
        """Keep the first problem of each signature; ``True`` when it is new."""
        if problem.signature in self.counterexamples:
            return False
        self.counterexamples[problem.signature] = Counterexample(problem, start, moves, how)
        return True


# --- searches -----------------------------------------------------------------------------


def _follow(
    chart_class: type[AnyPathway],
    explorer: Explorer,
    report: ConflictReport,
    starts: Sequence[Start],
    kinds: Sequence[str],
    until_day: float,
) -> None:
    """Follow each start through the guideline's visits on each lab trajectory."""
    for start in starts:
        for kind in kinds:
            course = Course(start, chart_class)
            moves: list[Move] = []
            while course.alive and (due := course.next_due()) is not None and due <= until_day:
                move = Move("visit", value=explorer.trajectory_panel(course, kind))
                course.apply(move)
                moves.append(move)
            report.courses += 1
            for problem in course.problems:
                report.add(problem, start, tuple(moves[: problem.moves]), "triage")


def _boundary_probes(
    explorer: Explorer, report: ConflictReport, per_configuration: int
) -> Callable[[Course, int, tuple[Move, ...]], None]:
    probes = explorer.probes()
    seen: dict[frozenset[str], int] = {}

    def probe(course: Course, start_index: int, path: tuple[Move, ...]) -> None:
        config = frozenset(course.chart.active)
        if seen.get(config, 0) >= per_configuration:
            return
        seen[config] = seen.get(config, 0) + 1
        saved = course.save()
        before = len(course.problems)
        for name, value in probes:
            course.rewind(saved)
            move = Move("finding", name, value)
            course.apply(move)
            report.probes += 1
            for problem in course.problems[before:]:
                report.add(problem, course.start, (*path, move), "boundary")
        course.rewind(saved)

    return probe


def _decision_points(chart_class: type[AnyPathway]) -> dict[str, int]:
    model = ChartModel.of(chart_class)
    out: dict[str, int] = {}
    for sid in model.states:
        by_event: dict[str, int] = {}
        for t in model.transitions_from(sid):
            if t.guards:
                by_event[t.event] = by_event.get(t.event, 0) + 1
        for event, n in by_event.items():
            if n > 1 or len(model.transitions_from(sid, event)) > 1:
                out[f"{event}@{sid}"] = len(model.transitions_from(sid, event))
    return out


def _hypothesis(
    chart_class: type[AnyPathway],
    explorer: Explorer,
    starts: Sequence[Start],
    report: ConflictReport,
    *,
    examples: int,
    seed: int,
    rounds: int,
) -> None:
    # Lazy: Hypothesis takes about 0.4 s to import, and every `carechart` command imports
    # this module (through its parser); only the search itself needs it.
    from hypothesis import HealthCheck, find, settings
    from hypothesis import strategies as st
    from hypothesis.errors import NoSuchExample, Unsatisfiable

    panel = explorer.random_panel(st)
    finding = explorer.random_finding(st)
    actions = (getattr(chart_class, "guideline", None) or get()).actions
    move = st.one_of(
        st.just(Move("visit")),
        *([] if panel is None else [panel.map(lambda p: Move("visit", value=p))]),
        finding.map(lambda f: Move("finding", f[0], f[1])),
        st.sampled_from(actions).map(lambda a: Move("action", a)),
    )
    course_strategy = st.tuples(st.integers(0, len(starts) - 1), st.lists(move, max_size=14))

    def run(example: tuple[int, list[Move]]) -> Course:
        index, moves = example
        course = Course(starts[index], chart_class)
        for m in moves:
            if not course.alive:
                break
            course.apply(m)
        return course

    known = set(report.counterexamples)
    config = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    rng = random.Random(seed)
    counter = {"n": 0}

    def new_problem(example: tuple[int, list[Move]]) -> bool:
        counter["n"] += 1
        course = run(example)
        return any(p.signature not in known for p in course.problems)

    for _ in range(rounds):
        counter["n"] = 0
        try:
            found = find(course_strategy, new_problem, settings=config, random=rng)
        except (NoSuchExample, Unsatisfiable):
            report.hypothesis_examples += counter["n"]
            return
        report.hypothesis_examples += counter["n"]
        course = run(found)
        index, moves = found
        for problem in course.problems:
            if problem.signature not in known:
                known.add(problem.signature)
                report.add(problem, starts[index], tuple(moves[: problem.moves]), "hypothesis")


def _shrink(chart_class: type[AnyPathway], ce: Counterexample) -> Counterexample:
    """Drop moves while the same problem still occurs (greedy, from the last move back)."""

    def occurs(moves: tuple[Move, ...]) -> Problem | None:
        course = replay_path(chart_class, ce.start, moves)
        for problem in course.problems:
            if problem.signature == ce.problem.signature:
                return problem
        return None

    moves = ce.moves
    found = occurs(moves)
    if found is None:  # pragma: no cover - the search and a fresh replay disagree
        return ce
    i = len(moves) - 1
    while i >= 0:
        trial = moves[:i] + moves[i + 1 :]
        again = occurs(trial)
        if again is not None:
            moves, found = trial, again
        i -= 1
    return Counterexample(found, ce.start, moves, ce.found_by)


def counterexample_scenario(chart_class: type[AnyPathway], ce: Counterexample) -> str:
    """The counterexample as a scenario file: the story up to the problem, and what to see.

    Gaps and ties replay green and show the problem in their expectations (no action
    recommended; two actions recommended at the top). Overlaps replay green with the
    target that document order picks. An unhandled event, a broken invariant or an error
    stops the replay at that day: the failure is the counterexample.
    """
    course = replay_path(chart_class, ce.start, ce.moves)
    guideline = course.chart.guideline
    p = ce.problem
    day = p.day
    config = p.details.get("configuration") or sorted(course.chart.active)
    checks: dict[str, Any] = {}
    states = care_states_of(config, guideline.care_states)
    if states:
        checks["in_state"] = states
    if p.code == "gap" and p.subject.startswith("recommendations@"):
        checks["does_not_recommend"] = list(guideline.actions)
        stops = False
    elif p.code == "overlap" and "actions" in p.details:
        checks["recommends"] = list(p.details["actions"])
        stops = False
    else:
        stops = p.code != "overlap"
    if p.code == "overlap" and "targets" in p.details:
        states = (
            care_states_of(course.chart.active, guideline.care_states) if course.alive else states
        )
        if states:
            checks["in_state"] = states
    what = {
        "gap": "GAP",
        "overlap": "OVERLAP",
        "unsafe": "UNSAFE",
        "crash": "ERROR",
    }.get(p.code, p.code.upper())
    how = {
        "triage": "the triage boundary search",
        "boundary": "a boundary lab value probe",
        "search": "the course search",
        "hypothesis": "the Hypothesis search",
    }.get(ce.found_by, ce.found_by)
    description = (
        f"{what} found by carechart check ({how}): {p.message}. "
        + (
            "Replaying this file stops with an error on that day: the failure is the "
            "counterexample. "
            if stops
            else "The expectations below describe what the pathway does now. "
        )
        + f"Patient: {ce.start.name}. Moves: "
        + ("; ".join(str(m) for m in ce.moves) or "none")
        + "."
    )
    timeline = [o for o in course.timeline if o.day <= day]
    return render_scenario(
        name=f"{what}: {p.subject} on day {day:g}",
        description=description,
        patient=ce.start.patient,
        labs=ce.start.lab_dict,
        timeline=timeline,
        expect=[ExpectationSpec(day, checks)] if checks else [],
        horizon_days=max([1.0, day, *(o.day for o in timeline)]),
        guideline=ce.start.guideline,
    )


#: The steps of :func:`search_conflicts`, in order, as progress reports name them.
SEARCH_STEPS: tuple[str, ...] = (
    "following boundary patients",
    "searching courses",
    "Hypothesis search",
    "shrinking counterexamples",
)


def search_conflicts(
    chart_class: type[AnyPathway] = AIHPathway,
    *,
    thresholds: Any | None = None,
    budget: int = 400,
    examples: int = 200,
    rounds: int = 6,
    seed: int = 0,
    per_configuration: int = 1,
    seconds: float | None = None,
    shrink: bool = True,
    follow_days: float = 400.0,
    triage: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> ConflictReport:
    """Run the three searches and return the problems with minimal counterexamples.

    Args:
        chart_class: the pathway chart class (of any guideline: what is searched comes
            from its explorer, :func:`simulation.verify.explorers.explorer_for`).
        thresholds: the numbers whose boundaries are searched (default: the guideline's).
        budget: courses the course search expands.
        examples: Hypothesis examples per round.
        rounds: Hypothesis rounds (each looks for one new problem).
        seed: makes the Hypothesis search reproducible.
        per_configuration: situations probed with boundary lab values per configuration.
        seconds: wall-clock limit of the course search.
        shrink: drop moves from each counterexample while its problem still occurs.
        follow_days: how long each boundary patient at diagnosis is followed (days).
        triage: follow every boundary patient at diagnosis (search 1; the slowest part).
        on_step: called with the name of each step as it starts (see :data:`SEARCH_STEPS`).
    """

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)

    guideline = getattr(chart_class, "guideline", None) or get()
    explorer = explorer_for(guideline, thresholds)
    started = time.perf_counter()
    report = ConflictReport(decision_points=_decision_points(chart_class))
    starts = explorer.starts()
    step(SEARCH_STEPS[0])
    if triage:
        _follow(
            chart_class, explorer, report, explorer.triage_starts(), ("unchanged",), follow_days
        )
    _follow(chart_class, explorer, report, starts, explorer.trajectories, follow_days)
    step(SEARCH_STEPS[1])
    search = Search(chart_class, starts, thresholds=explorer.th, explorer=explorer)
    result = search.run(
        budget=budget,
        seconds=seconds,
        on_course=_boundary_probes(explorer, report, per_configuration),
    )
    report.courses += result.expanded
    variants = search.variants()
    for problem, start_index, path in result.problems.values():
        report.add(problem, variants[start_index], path, "search")
    step(SEARCH_STEPS[2])
    if examples > 0 and rounds > 0:
        _hypothesis(
            chart_class,
            explorer,
            [*starts, *explorer.triage_starts()[::7]],
            report,
            examples=examples,
            seed=seed,
            rounds=rounds,
        )
    step(SEARCH_STEPS[3])
    for key, ce in list(report.counterexamples.items()):
        if shrink:
            ce = _shrink(chart_class, ce)
        ce.scenario = counterexample_scenario(chart_class, ce)
        report.counterexamples[key] = ce
    report.seconds = time.perf_counter() - started
    return report


def trap_counterexample(
    chart_class: type[AnyPathway],
    state: str,
    *,
    thresholds: Any | None = None,
    budget: int = 3000,
    wait_days: float = 365.0,
) -> str | None:
    """A scenario showing a patient held in a trap state: reached, then a year of visits.

    The course reaching ``state`` is found by the course search; from there the guideline's
    visits go on for ``wait_days`` with the explorer's remission panel at the first one
    (AIH: a complete biochemical response; none for a guideline without labs), and
    the patient is still in ``state`` at the end. ``None`` when the search does not reach
    the state within ``budget`` moves.
    """
    guideline = getattr(chart_class, "guideline", None) or get()
    explorer = explorer_for(guideline, thresholds)
    search = Search(chart_class, thresholds=explorer.th, check=False, explorer=explorer)
    result = search.run(budget=budget, wanted={("state", state)}, toward={state})
    found = result.examples.get(("state", state))
    if found is None:
        return None
    start = search.variants()[found[0]]
    course = replay_path(chart_class, start, found[1], check=False)
    if not course.alive or state not in course.chart.active:
        return None
    reached = course.clock
    moves = list(found[1])
    remission = explorer.remission_panel()
    first = True
    while course.alive and (due := course.next_due()) is not None and due <= reached + wait_days:
        move = Move("visit", value=remission if first else None)
        course.apply(move)
        moves.append(move)
        first = False
    if not course.alive or state not in course.chart.active:
        return None
    checks = {"in_state": care_states_of(course.chart.active, guideline.care_states)}
    description = (
        f"TRAP found by carechart check: the patient reaches {state!r} on day {reached:g} "
        f"and is still there on day {course.clock:g}, after a year of the guideline's visits "
        "and a complete biochemical response, because no timer or finding can move the care "
        f"line out of {state!r}. Patient: {start.name}. Moves: "
        + "; ".join(str(m) for m in moves)
        + "."
    )
    return render_scenario(
        name=f"TRAP: {state} holds the patient",
        description=description,
        patient=start.patient,
        labs=start.lab_dict,
        timeline=course.timeline,
        expect=[
            ExpectationSpec(reached, {"in_state": care_states_of([state], guideline.care_states)}),
            ExpectationSpec(course.clock, checks),
        ],
        horizon_days=max(1.0, course.clock),
        guideline=start.guideline,
    )
