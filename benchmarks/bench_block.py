"""The block driver against the compiled engine on the same recorded inputs (issue 14).

Runs a default cohort on the compiled engine with its external inputs recorded
(``tests.block_replay.Recording``: findings with their payloads and days, timer fires,
where the clinician was asked), then replays those inputs, the guideline policy deciding
the actions:

* through the compiled engine, patient by patient (a fresh chart per patient, its policy
  acting where the clinician acted): the chart's share of a scalar course;
* through one :class:`pathway.block.BlockPathway` over all the patients in lockstep rounds
  (round ``r``: each patient's ``r``-th input, grouped by finding or timer).

Both must give every patient the same trace (checked). Figures are per patient-step (a
trace step: finding, timer or action). ``--profile`` prints where the block's time goes,
``--parts`` the wall time of its invariants, effects, chart steps and recommendations.

    .venv/bin/python benchmarks/bench_block.py --patients 2000 --years 10 --profile
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pathway.block import BlockPathway
from pathway.compiled import CompiledPathway
from pathway.guidelines.aih.block import AIH_BLOCK
from simulation.model.policies import GuidelinePolicy
from tests.block_replay import Input, inputs_of, recorded_cohort, replay


def compiled_replay(initial: list[object], courses: list[list[Input]]) -> list[CompiledPathway]:
    """The inputs replayed through the compiled engine, patient by patient."""
    policy = GuidelinePolicy()
    charts = []
    for record, course in zip(initial, courses, strict=True):
        chart = CompiledPathway(copy.deepcopy(record), strict_invariants=False)
        for item in course:
            if item.kind == "finding":
                chart.observe(item.name, copy.deepcopy(item.value), day=item.day)
            else:
                chart.fire(item.name, day=item.day)
            if item.decide:
                policy.act(chart, item.day)
        charts.append(chart)
    return charts


def _timed_parts() -> dict[str, float]:
    """Wall time spent in the block's invariants, effects, chart steps and recommendations
    (none inside another; the rest is the calls' bookkeeping), filled as it runs."""
    spent: dict[str, float] = {}
    for name in ("_broken", "_effect", "_macrostep", "top"):
        method = getattr(BlockPathway, name)

        def timed(*args: Any, _name: str = name, _method: Any = method, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return _method(*args, **kw)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - started

        setattr(BlockPathway, name, timed)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile the block's replay")
    parser.add_argument(
        "--parts", action="store_true", help="time the block's invariants, effects, steps, top"
    )
    args = parser.parse_args()
    parts = _timed_parts() if args.parts else {}

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    t0 = time.perf_counter()
    recorded = recorded_cohort(args.patients, args.years, args.seed)
    t_sim = time.perf_counter() - t0
    initial = [c.initial for c in recorded]
    courses = [inputs_of(c) for c in recorded]
    steps = sum(len(c.trace) for c in recorded)
    inputs = sum(len(c) for c in courses)
    decisions = sum(i.decide for c in courses for i in c)
    rounds = max(len(c) for c in courses)
    del recorded

    t0 = time.perf_counter()
    charts = compiled_replay(initial, courses)
    t_compiled = time.perf_counter() - t0

    profiler = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    block = replay(AIH_BLOCK, initial, courses)
    if profiler is not None:
        profiler.disable()
    t_block = time.perf_counter() - t0
    for i, chart in enumerate(charts):
        assert block.traces[i] == chart.trace, f"patient {i}: traces differ"
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    print(
        f"\n{args.patients} patients x {args.years:g} years, seed {args.seed}: {steps:,} "
        f"patient-steps ({inputs:,} inputs, {decisions:,} decisions, {rounds} rounds); "
        "traces identical\n"
    )
    print("| | s | us per patient-step |")
    print("|---|---|---|")
    print(
        f"| simulation on the compiled engine (model + chart) | {t_sim:.1f} | "
        f"{t_sim / steps * 1e6:.1f} |"
    )
    print(
        f"| replay, compiled engine, patient by patient | {t_compiled:.1f} | "
        f"{t_compiled / steps * 1e6:.1f} |"
    )
    print(f"| replay, one block in lockstep rounds | {t_block:.1f} | {t_block / steps * 1e6:.1f} |")
    fallbacks = AIH_BLOCK.effects.fallbacks if AIH_BLOCK.effects is not None else {}
    print(f"\neffects row by row (rows): {dict(sorted(fallbacks.items()))}")
    counts = getattr(block, "evaluations", {})
    print(f"group evaluations of the block (by part): {counts}, {sum(counts.values()):,} in all")
    if parts:
        print("block parts, wall s: " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(
            r"pathway/(block|vector|columns|vector_\w+)\.py", 30
        )
        print(out.getvalue())


if __name__ == "__main__":
    main()
