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
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections import defaultdict
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--situations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
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
    print("functions called row by row (no vector form yet): rows, us per patient")
    for name, (count, seconds) in sorted(calls.items(), key=lambda kv: -kv[1][1]):
        if count:
            print(f"  {name:<28} {int(count):>8,}   {seconds / n * 1e6:6.2f}")


if __name__ == "__main__":
    main()
