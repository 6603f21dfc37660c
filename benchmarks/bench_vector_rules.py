"""Benchmark: first-ranked recommendations, scalar rulebook against numpy masks (issue 14).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_vector_rules.py                  # 10,000 situations
    .venv/bin/python benchmarks/bench_vector_rules.py --situations 20000

A cohort runs on the compiled engine and every step's record, options and configuration is
copied, until there are ``--situations`` of them (real patients at real moments). Both
forms then answer what the engine asks after a step, the first-ranked recommendation
(allowed actions, strength, rank; no doses): the scalar rulebook patient by patient, and
:class:`pathway.vector.VectorRulebook` once per group of patients in one configuration with
the same options (the vector engine's grouping). Answers are checked equal. Printed:
microseconds per patient for each, the groups, and the functions the interpreter still calls
row by row (no vector form yet), with the time the vector form spends in them.

Then the same courses in lockstep, as the vector engine steps them (``--copies`` copies of
each course, so that groups have the sizes of a larger cohort): round ``r`` takes every
course's ``r``-th step, grouped by configuration; each group is evaluated from scratch
(vector, full) and with a :class:`pathway.vector.Memo` told which record fields changed
since the patient's previous step (vector, incremental), side by side with the scalar
rulebook. Answers are checked equal. Last, the invariants after a lab panel.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import sys
from collections import defaultdict
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


import numpy as np

from pathway import vector
from pathway.compiled import CompiledPathway
from pathway.guidelines.aih import rules
from pathway.guidelines.aih.vector_forms import VECTOR_RULEBOOK
from simulation.run.cohort import run_cohort

_SEEN: list[tuple[Any, Any, Any, frozenset[str]]] = []
BOOK = rules.RULEBOOK


class _Recorder:
    def after_step(self, chart: Any, step: Any) -> None:
        if not chart.is_dead:
            _SEEN.append(
                (copy.deepcopy(chart.patient), chart.thresholds, chart.options, chart.active)
            )


class _Recording(CompiledPathway):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_step_listener(_Recorder())


def _scalar_top(env: Any) -> tuple[str, str, tuple[str, ...]] | None:
    """What the runtime ranks after a step (without the chart's possible-event filter)."""
    ranked = []
    for action in BOOK.allowed(env):
        level, rule_ids = BOOK.strength(action, env)
        ranked.append((BOOK.rank_key(action, level, env), action, level, rule_ids))
    ranked.sort(key=lambda item: item[0])
    if not ranked:
        return None
    _, action, level, rule_ids = ranked[0]
    return action, level, tuple(rule_ids)


#: The record fields a step may change (the record's own, not its caches).
_FIELDS = [
    f.name
    for f in dataclasses.fields(rules.PatientRecord)
    if not f.name.startswith("_") and f.name != "state"
]


def _changed(before: Any, after: Any) -> list[str]:
    """The record fields that differ between two snapshots of one patient."""
    return [f for f in _FIELDS if getattr(before, f) != getattr(after, f)]


def lockstep(
    seen: list[Any], copies: int, repeat: int, scalar: dict[int, Any], scalar_seconds: float
) -> None:
    """The courses in lockstep rounds: full and incremental vector evaluation per group."""
    courses: dict[str, list[Any]] = defaultdict(list)
    for situation in seen:
        courses[situation[0].patient_id].append(situation)
    course_list = [c for c in courses.values() for _ in range(copies)]
    size = len(course_list)
    # Per round: the groups (configuration, options) with their cohort rows and records, and
    # the fields each patient's step changed since its previous one (all, at its first).
    rounds: list[tuple[list[Any], dict[str, list[int]]]] = []
    for r in range(max(map(len, course_list))):
        groups: dict[Any, list[int]] = defaultdict(list)
        changed: dict[str, list[int]] = defaultdict(list)
        for row, course in enumerate(course_list):
            if r >= len(course):
                continue
            p, th, opt, active = course[r]
            groups[(active, th, opt)].append(row)
            if r == 0:
                continue
            before = course[r - 1]
            for f in _changed(before[0], p):
                changed[f].append(row)
            if before[3] != active:
                changed["active"].append(row)
        batches = [
            (th, opt, vector.Batch(len(ix), a, records=[course_list[i][r][0] for i in ix]), ix)
            for (a, th, opt), ix in groups.items()
        ]
        rounds.append((batches, changed))
    n = sum(len(ix) for batches, _ in rounds for *_, ix in batches)
    n_groups = sum(len(batches) for batches, _ in rounds)

    def full() -> list[vector.Top]:
        return [
            VECTOR_RULEBOOK.top(b, th, opt) for batches, _ in rounds for th, opt, b, _ in batches
        ]

    stale = [0, 0]

    def incremental() -> list[vector.Top]:
        memo = VECTOR_RULEBOOK.memo(size)
        tops = []
        for batches, changed in rounds:
            for f, rows in changed.items():
                memo.changed(np.array(rows), [f])
            for th, opt, b, ix in batches:
                rows = np.array(ix)
                stale[0] += int((~memo.known[:, rows]).sum())
                stale[1] += memo.known[:, rows].size
                tops.append(VECTOR_RULEBOOK.top(b, th, opt, memo=memo, rows=rows))
        return tops

    full()  # columns and field tests made once, as a columnar engine keeps them
    best_full = best_inc = float("inf")
    for _ in range(repeat):
        started = perf_counter()
        tops_full = full()
        best_full = min(best_full, perf_counter() - started)
        stale[:] = [0, 0]
        started = perf_counter()
        tops_inc = incremental()
        best_inc = min(best_inc, perf_counter() - started)
    groups_in_order = [b for batches, _ in rounds for *_, b, _ in batches]
    for b, a, c in zip(groups_in_order, tops_full, tops_inc, strict=True):
        for i, p in enumerate(b.records or []):
            want = scalar[id(p)]
            for top in (a, c):
                got = (top.action[i], top.strength[i], top.rules(i))
                assert (got if got[0] is not None else None) == want, (got, want)
    best_scalar = scalar_seconds * copies
    print(
        f"lockstep rounds: {len(course_list):,} courses ({copies} copies of each), "
        f"{len(rounds)} rounds, {n_groups:,} group evaluations of "
        f"{n / n_groups:.1f} patients on average; answers equal"
    )
    print("  per patient-step (us) and per group evaluation (ms):")
    for label, t in (
        ("scalar rulebook, patient by patient", best_scalar),
        ("vector, full evaluation per group", best_full),
        ("vector, incremental (memo)", best_inc),
    ):
        print(f"    {label:<40} {t / n * 1e6:8.2f} us   {t / n_groups * 1e3:6.3f} ms")
    print(
        f"  action decisions made again with the memo: {stale[0] / max(stale[1], 1):.1%} "
        f"(full: 100%); incremental / full: {best_full / best_inc:.1f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--situations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=10, help="copies of each course (lockstep)")
    args = parser.parse_args()
    patients = 50
    while len(_SEEN) < args.situations:
        _SEEN.clear()
        run_cohort(
            patients=patients,
            years=10,
            seed=1,
            workers=1,
            chart_class=_Recording,
            on_chunk=lambda chunk: None,
        )
        patients *= 2
    # The recorded records are long-lived: out of the collector's scans (as an engine's
    # columns would be), so that its pauses do not grow with the recording.
    gc.collect()
    gc.freeze()
    steps_per_course = len(_SEEN) / (patients // 2)
    seen = _SEEN[: args.situations]
    groups: dict[tuple[frozenset[str], Any, Any], list[Any]] = defaultdict(list)
    for p, th, opt, active in seen:
        groups[(active, th, opt)].append(p)
    sizes = sorted((len(v) for v in groups.values()), reverse=True)
    print(
        f"{len(seen):,} situations (steps of {patients // 2} patients x 10 years) in "
        f"{len(groups)} configuration groups (largest {sizes[:5]}); "
        f"{steps_per_course:.0f} steps per patient-course alive"
    )

    best_scalar = float("inf")
    for _ in range(args.repeat):
        started = perf_counter()
        scalar = [_scalar_top((p, th, opt, active)) for p, th, opt, active in seen]
        best_scalar = min(best_scalar, perf_counter() - started)

    def vector_pass(batches: list[tuple[Any, Any, vector.Batch]]) -> list[vector.Top]:
        return [VECTOR_RULEBOOK.top(batch, th, opt) for th, opt, batch in batches]

    def answers_of(batches: list[Any], tops: list[vector.Top]) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for (_, _, batch), top in zip(batches, tops, strict=True):
            for i, p in enumerate(batch.records):
                out[id(p)] = (top.action[i], top.strength[i], top.rules(i))
        return out

    def fresh(times: int = 1) -> list[tuple[Any, Any, vector.Batch]]:
        return [
            (th, opt, vector.Batch(len(records) * times, active, records=records * times))
            for (active, th, opt), records in groups.items()
        ]

    best_fresh = best_kept = float("inf")
    for _ in range(args.repeat):
        batches = fresh()
        started = perf_counter()
        tops = vector_pass(batches)
        best_fresh = min(best_fresh, perf_counter() - started)
        started = perf_counter()
        vector_pass(batches)  # the columns and field tests are kept in the batches now
        best_kept = min(best_kept, perf_counter() - started)
    answers = answers_of(batches, tops)
    for (p, *_), want in zip(seen, scalar, strict=True):
        got = answers[id(p)]
        assert (got if got[0] is not None else None) == want, (got, want)
    # Ten times the patients in the same groups (as a 100,000-patient cohort would have).
    batches = fresh(10)
    vector_pass(batches)
    started = perf_counter()
    vector_pass(batches)
    best_ten = perf_counter() - started

    # The same with the functions that have no vector form timed on their own.
    calls: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for name, fn in BOOK.schema.functions.items():
        if fn.impl is None or name in VECTOR_RULEBOOK.forms:
            continue
        impl = fn.impl

        def timed(*a: Any, _impl: Any = impl, _name: str = name) -> Any:
            t = perf_counter()
            try:
                return _impl(*a)
            finally:
                calls[_name][0] += 1
                calls[_name][1] += perf_counter() - t

        object.__setattr__(fn, "impl", timed)
        try:
            for (active, th, opt), records in groups.items():
                VECTOR_RULEBOOK.top(vector.Batch(len(records), active, records=records), th, opt)
        finally:
            object.__setattr__(fn, "impl", impl)

    n = len(seen)
    print("first-ranked recommendation (allowed, strength, rank), us per patient:")
    print(f"  scalar rulebook, patient by patient                  {best_scalar / n * 1e6:8.2f}")
    print(f"  vector, columns made from the records                {best_fresh / n * 1e6:8.2f}")
    print(f"  vector, columns kept (what a columnar engine pays)   {best_kept / n * 1e6:8.2f}")
    print(f"  vector, columns kept, 10x the patients per group     {best_ten / n / 10 * 1e6:8.2f}")
    print(
        f"  ratio scalar / vector (columns kept): {best_scalar / best_kept:.1f}x; with 10x the "
        f"patients: {best_scalar / (best_ten / 10):.1f}x (answers equal)"
    )
    marginal = (best_ten - best_kept) / (9 * n)
    fixed = (best_kept - n * marginal) / len(groups)
    print(
        f"  split: {fixed * 1e3:.2f} ms per group evaluation + {marginal * 1e6:.2f} us per patient"
    )
    print(
        "functions without a vector form (row by row; pure ones once per distinct "
        "argument): calls, us per patient"
    )
    for name, (count, seconds) in sorted(calls.items(), key=lambda kv: -kv[1][1]):
        if count:
            print(f"  {name:<28} {int(count):>8,}   {seconds / n * 1e6:6.2f}")

    by_record = {id(p): want for (p, *_), want in zip(seen, scalar, strict=True)}
    lockstep(seen, args.copies, args.repeat, by_record, best_scalar)

    # The invariants after a lab panel (the commonest step), answers checked equal.
    started = perf_counter()
    want = [BOOK.broken((p, th, opt, active), "labs", False) for p, th, opt, active in seen]
    t_scalar = perf_counter() - started
    batches = fresh()
    started = perf_counter()
    got = [VECTOR_RULEBOOK.broken(b, th, opt, "labs", False) for th, opt, b in batches]
    t_vector = perf_counter() - started
    by_id = {
        id(p): found
        for (_, _, b), rows in zip(batches, got, strict=True)
        for p, found in zip(b.records or [], rows, strict=True)
    }
    assert [by_id[id(p)] for p, *_ in seen] == want
    started = perf_counter()
    for th, opt, b in batches:
        VECTOR_RULEBOOK.broken(b, th, opt, "labs", False)
    t_kept = perf_counter() - started
    print("invariants broken after a lab panel, us per patient (answers equal):")
    print(
        f"  scalar rulebook {t_scalar / n * 1e6:.2f}   vector {t_vector / n * 1e6:.2f} "
        f"(columns made from the records), {t_kept / n * 1e6:.2f} (columns kept)"
    )


if __name__ == "__main__":
    main()
