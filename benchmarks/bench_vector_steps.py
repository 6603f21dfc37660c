"""Benchmark: chart steps of many patients as array operations against the compiled
interpreter (issue 14).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_vector_steps.py                     # 500 courses
    .venv/bin/python benchmarks/bench_vector_steps.py --patients 1000 --scales 10000 100000

A cohort of ``--patients`` x 10 years runs on the compiled engine, recording every
microstep (configuration, event, arguments, the guards the interpreter evaluated and their
values, and a copy of the record where a guard was asked) and timing the interpreter's own
microstep (selection, guards, exits, actions, entries) in place. The courses are then
replayed in lockstep rounds (round ``r``: every live patient's ``r``-th microstep), tiled
to each of ``--scales`` patients: per round, :func:`pathway.vector_steps.round_groups`
groups the rows by (configuration, event), and :meth:`StepTables.step` steps each event's
rows at once. Two guard sources: the recorded values (the tables' own cost), and
:class:`~pathway.vector_steps.RuleGuards` (conditions and permissions as masks over columns
made from the records, other guards row by row; only at the smallest scale, it is slow).
Every row's new configuration is checked against the recording. Printed: groups per round,
and microseconds per patient-step of each form.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
from collections import Counter
from pathlib import Path
from time import perf_counter
from typing import Any, ClassVar

import numpy as np
from statemachine.exceptions import TransitionNotAllowed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pathway.compiled import CompiledPathway
from pathway.guidelines.aih import rules
from pathway.guidelines.aih.vector_forms import VECTOR_RULEBOOK
from pathway.vector_steps import RuleGuards, StepTables, round_groups
from simulation.run.cohort import run_cohort

TABLES = StepTables(CompiledPathway.plan)
COURSES: list[list[tuple[int, str, dict[str, Any], Any, dict[str, bool], int]]] = []
TIMING = [0.0, 0]  # seconds in the interpreter's microsteps, microsteps


class _Timed(CompiledPathway):
    """The compiled chart, timing each microstep of its course (nothing else added)."""

    def _process(self, event: str, kwargs: dict[str, Any]) -> None:
        started = perf_counter()
        try:
            super()._process(event, kwargs)
        finally:
            TIMING[0] += perf_counter() - started
            TIMING[1] += 1


class _Recording(CompiledPathway):
    """The compiled chart, recording each microstep of its course (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._course: list[Any] = []
        self._guards: dict[str, bool] | None = None
        COURSES.append(self._course)
        super().__init__(*args, **kwargs)

    def _process(self, event: str, kwargs: dict[str, Any]) -> None:
        code = TABLES.code(self._config)
        asks = any(t.conds for group in self._candidates(event) for t in group)
        record = copy.deepcopy(self.model) if asks else None
        guards: dict[str, bool] = {}
        self._guards = guards
        try:
            super()._process(event, kwargs)
        finally:
            self._guards = None
        self._course.append((code, event, dict(kwargs), record, guards, TABLES.code(self._config)))

    def _call(self, cb: Any, t: Any, event: str, kwargs: dict[str, Any]) -> Any:
        value = super()._call(cb, t, event, kwargs)
        if self._guards is not None and any(c is cb for c in t.conds):
            self._guards[cb.name] = bool(value)
        return value


class _Replay(CompiledPathway):
    """The compiled chart answering its guards from a recording, its actions doing nothing:
    the interpreter's own work on a microstep (what the batch step's tables replace)."""

    values: ClassVar[dict[str, bool]] = {}

    def _call(self, cb: Any, t: Any, event: str, kwargs: dict[str, Any]) -> Any:
        return self.values[cb.name] if any(c is cb for c in t.conds) else None


def _replay(courses: list[list[Any]]) -> float:
    """Seconds per microstep of the interpreter replaying the courses (recorded guards)."""
    chart: Any = _Replay(CompiledPathway.guideline.record("r", age=40, sex="F", weight_kg=70))
    config, recorder = chart._config, chart._recorder
    started = perf_counter()
    count = 0
    for course in courses:
        for code, event, kwargs, _, guards, _ in course:
            if tuple(config) != TABLES.configuration(code):  # a new course (in a course,
                config[:] = TABLES.configuration(code)  # each step leads to the next)
                chart._views = None
            chart.values = guards
            with contextlib.suppress(TransitionNotAllowed):
                chart._process(event, kwargs)
            recorder.transits.clear()
            count += 1
    return (perf_counter() - started) / count


def _timed(guards: Any, by_guard: dict[str, list[float]]) -> Any:
    """``guards``, timing each guard's calls into ``by_guard``."""

    def timed(name: str, code: int, rows: Any) -> Any:
        started = perf_counter()
        out = guards(name, code, rows)
        entry = by_guard.setdefault(name, [0, 0.0])
        entry[0] += len(rows)
        entry[1] += perf_counter() - started
        return out

    return timed


def _rounds(courses: list[list[Any]]) -> list[list[tuple[int, Any]]]:
    """Round ``r``: (patient, its ``r``-th microstep) for every patient that has one."""
    longest = max(len(c) for c in courses)
    return [[(i, c[r]) for i, c in enumerate(courses) if r < len(c)] for r in range(longest)]


def _recorded(values: dict[str, Any]) -> Any:
    def guards(name: str, code: int, rows: Any) -> Any:
        return values[name][rows]

    return guards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--scales", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    for chart_class in (_Timed, _Recording):  # the same courses (seed 1), timed apart
        run_cohort(
            patients=args.patients,
            years=10,
            seed=1,
            workers=1,
            chart_class=chart_class,
            on_chunk=lambda chunk: None,
        )
    courses = [c for c in COURSES if c]
    rounds = _rounds(courses)
    events = sorted({m[1] for c in courses for m in c})
    kind_of = {e: k for k, e in enumerate(events)}
    steps = sum(len(c) for c in courses)
    per_round = []
    for members in rounds:
        codes = np.array([m[0] for _, m in members])
        kinds = np.array([kind_of[m[1]] for _, m in members])
        per_round.append(len(round_groups(codes, kinds)))
    configs = {m[0] for c in courses for m in c}
    guarded = sum(bool(m[4]) for c in courses for m in c)
    print(
        f"{len(courses)} courses x 10 years: {steps:,} microsteps ({steps / len(courses):.0f} "
        f"per course; {guarded / steps:.0%} ask a guard), {len(configs)} configurations, "
        f"{len(TABLES)} registered; {len(rounds)} rounds, {sum(per_round):,} groups "
        f"(configuration, event): {np.mean(per_round):.1f} per round on average, at most "
        f"{max(per_round)}"
    )
    interp = TIMING[0] / TIMING[1] * 1e6
    print(
        f"compiled interpreter, one microstep in place: {interp:.2f} us per patient-step "
        "(selection, guards, exits, transition actions, entries)"
    )
    replay = _replay(courses) * 1e6
    print(
        f"compiled interpreter replaying the microsteps, guards from the recording, actions "
        f"off: {replay:.2f} us per patient-step (the interpreter's own work)"
    )
    print("batch steps, us per patient-step (new configurations checked against the courses):")
    measured: list[tuple[int, int, float]] = []  # rows, step calls, seconds (recorded guards)
    by_guard: dict[str, list[float]] = {}  # guard -> [rows asked, seconds] (RuleGuards)
    for scale in args.scales:
        tile = -(-scale // len(courses))
        t_tables, t_rules, rows_total, calls = 0.0, 0.0, 0, 0
        for members in rounds:
            by_event: dict[str, list[Any]] = {}
            for _, m in members:
                by_event.setdefault(m[1], []).append(m)
            for event, ms in by_event.items():
                base = np.array([m[0] for m in ms], dtype=np.int64)
                codes = np.tile(base, tile)
                names = {n for m in ms for n in m[4]}
                values = {
                    n: np.tile(np.array([m[4].get(n, False) for m in ms]), tile) for n in names
                }
                started = perf_counter()
                result = TABLES.step(codes, event, _recorded(values))
                t_tables += perf_counter() - started
                want = np.tile(np.array([m[5] for m in ms]), tile)
                assert (result.codes == want).all(), event
                if scale == args.scales[0] and names:
                    records = [m[3] for m in ms] * tile
                    rule_guards = RuleGuards(
                        TABLES,
                        VECTOR_RULEBOOK,
                        rules.CONDITIONS,
                        records,
                        codes,
                        _TH,
                        _OPT,
                        event=event,
                        args={
                            "deviate": [bool(m[2].get("deviate", False)) for m in ms] * tile,
                            "value": [m[2].get("value") for m in ms] * tile,
                        },
                    )
                    started = perf_counter()
                    again = TABLES.step(codes, event, _timed(rule_guards, by_guard))
                    t_rules += perf_counter() - started
                    assert (again.codes == want).all(), event
                elif scale == args.scales[0]:
                    started = perf_counter()
                    TABLES.step(codes, event, _recorded(values))
                    t_rules += perf_counter() - started
                rows_total += len(codes)
                calls += 1
        print(
            f"  {tile * len(courses):>7,} patients ({calls:,} step calls): recorded guards "
            f"{t_tables / rows_total * 1e6:.3f}"
            + (
                f"; RuleGuards, columns made from the records {t_rules / rows_total * 1e6:.3f}"
                if scale == args.scales[0]
                else ""
            )
        )
        measured.append((rows_total, calls, t_tables))
        if scale == args.scales[0]:
            top = sorted(by_guard.items(), key=lambda kv: -kv[1][1])[:8]
            print(
                "    RuleGuards by guard, us per patient-step of the run (rows asked): "
                + ", ".join(f"{g} {t / rows_total * 1e6:.2f} ({int(n):,})" for g, (n, t) in top)
            )
    if len(measured) > 1:
        (rows_a, calls_a, t_a), (rows_b, _, t_b) = measured[0], measured[-1]
        marginal = (t_b - t_a) / (rows_b - rows_a)
        fixed = (t_a - rows_a * marginal) / calls_a
        print(
            f"  split (recorded guards): {fixed * 1e6:.0f} us per step call + "
            f"{marginal * 1e6:.3f} us per patient-step; at "
            f"{measured[-1][0] // steps * len(courses):,} patients the batch step is "
            f"{interp / (t_b / rows_b * 1e6):.0f}x below the interpreter in place, "
            f"{replay / (t_b / rows_b * 1e6):.0f}x below its replay"
        )
    print(f"events met: {Counter(m[1] for c in courses for m in c).most_common(6)}")


_TH = CompiledPathway.guideline.thresholds()
_OPT = CompiledPathway.guideline.options()


if __name__ == "__main__":
    main()
