"""Benchmark: the declarative rules against the hand-written ones they replaced (issue 13).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_rules.py                 # 100 patients x 10 years
    .venv/bin/python benchmarks/bench_rules.py --patients 300

A cohort runs once on the compiled engine; after every step the patient's record, options
and configuration are copied. Both implementations then answer, for every copied step, what
the engine asks after each step: the recommendations (allowed actions, their strength and
rank, the top one's doses), and every invariant. The hand-written rules are the test oracle
(tests/legacy_rules.py). Printed: microseconds per step for each, and their ratio.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pathway import RULES
from pathway.compiled import CompiledPathway
from pathway.guidelines.aih import invariants, rules
from simulation.run.cohort import run_cohort
from tests import legacy_rules as legacy

_SEEN: list[tuple[Any, Any, Any, frozenset[str], Any]] = []


class _Recorder:
    def after_step(self, chart: Any, step: Any) -> None:
        _SEEN.append(
            (copy.deepcopy(chart.patient), chart.thresholds, chart.options, chart.active, step)
        )


class _Recording(CompiledPathway):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_step_listener(_Recorder())


def _recommend(module: Any, c: Any) -> Any:
    """What the runtime does after a step: rank the allowed actions, dose the first."""
    ranked = []
    for action in module.allowed_actions(c):
        level, rule_ids = module.strength(action, c)
        ranked.append((module.rank_key(action, level, c), action, level, rule_ids))
    ranked.sort(key=lambda item: item[0])
    return module.doses(ranked[0][1], c) if ranked else None


def _time(label: str, fn: Any, contexts: list[Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = perf_counter()
        for c in contexts:
            fn(c)
        best = min(best, perf_counter() - started)
    per_step = best / len(contexts) * 1e6
    print(f"  {label:<40} {per_step:8.2f} us/step")
    return per_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    run_cohort(
        patients=args.patients,
        years=args.years,
        seed=1,
        workers=1,
        chart_class=_Recording,
        on_chunk=lambda chunk: None,
    )
    new = [rules.Ctx(p, th, opt, a) for p, th, opt, a, _ in _SEEN]
    old = [legacy.Ctx(p, th, opt, a) for p, th, opt, a, _ in _SEEN]
    steps = [(p, th, a, s) for p, th, _, a, s in _SEEN]
    print(f"{len(_SEEN)} steps from {args.patients} patients x {args.years:g} years")
    print("recommendations after a step (allowed, strength, rank, top doses):")
    hand = _time("hand-written rules", lambda c: _recommend(legacy, c), old, args.repeat)
    decl = _time(
        "declarations (compiled expressions)", lambda c: _recommend(rules, c), new, args.repeat
    )
    print(f"  ratio declarative / hand-written: {decl / hand:.2f}")
    print("every invariant after a step:")
    old_monitor = legacy.LegacyMonitor(strict=False)
    hand = _time(
        "hand-written checks (the old monitor)",
        lambda s: old_monitor.check(s[0], s[1], s[2], s[3], True),
        steps,
        args.repeat,
    )
    monitor = invariants.InvariantMonitor(invariants.INVARIANTS, RULES, strict=False)
    decl = _time(
        "declarations (InvariantMonitor.check)",
        lambda s: monitor.check(s[0], s[1], s[2], s[3], True),
        steps,
        args.repeat,
    )
    print(f"  ratio declarative / hand-written: {decl / hand:.2f}")


if __name__ == "__main__":
    main()
