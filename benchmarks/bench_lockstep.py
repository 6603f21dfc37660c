"""Benchmark: lockstep rounds over ordinary charts against the SimPy engine.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_lockstep.py                 # 300 patients x 10 years
    .venv/bin/python benchmarks/bench_lockstep.py --patients 1000 --block 500 --runs 3

The same cohort and seed on one worker, the engines alternated ``--runs`` times (best
time of each kept): ``compiled`` (one SimPy process per patient) and ``lockstep``
(:mod:`simulation.run.lockstep`: each block's courses stepped together, the calls to the
chart grouped by kind and name, made one by one on compiled charts). The outputs are
checked byte-identical. What the lockstep driver costs on its own is the difference; the
groups it forms (rounds, calls per group) are what a columnar block would evaluate at once.
"""

from __future__ import annotations

import argparse
import os
import time

from pathway import Thresholds
from simulation.model.disease import ModelConstants
from simulation.model.parameters import load_parameters
from simulation.run.cohort import (
    DEFAULT_SEED,
    RunSettings,
    load_cohort,
    run_cohort,
    start_patient,
)
from simulation.run.lockstep import ChartList, run_lockstep


def _run(engine: str, args: argparse.Namespace) -> tuple[float, str]:
    events: list[str] = []
    started = time.perf_counter()
    run_cohort(
        patients=args.patients,
        years=args.years,
        seed=args.seed,
        workers=1,
        engine=engine,
        block=args.block,
        on_chunk=lambda chunk: events.append(chunk.events_csv),
    )
    return time.perf_counter() - started, "".join(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--block", type=int, default=100, help="patients per block")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    best: dict[str, float] = {}
    outputs: dict[str, str] = {}
    for _ in range(args.runs):
        for engine in ("compiled", "lockstep"):
            seconds, events = _run(engine, args)
            best[engine] = min(best.get(engine, seconds), seconds)
            outputs[engine] = events
    per = {k: v / args.patients * 1e3 for k, v in best.items()}
    print(
        f"{args.patients} patients x {args.years:g} years, blocks of {args.block}, 1 worker, "
        f"best of {args.runs}, load average {os.getloadavg()[0]:.1f}"
    )
    for engine in best:
        print(f"  {engine:9s} {best[engine]:7.2f} s  {per[engine]:6.2f} ms per patient-course")
    print(f"  events identical: {outputs['compiled'] == outputs['lockstep']}")
    # The groups one block forms.
    params = load_parameters()
    settings = RunSettings(
        load_cohort(), params, Thresholds(), args.seed, "guideline", args.years * 365.25
    )
    constants = ModelConstants.from_parameters(params)
    patients = [start_patient(settings, i, constants) for i in range(args.block)]
    block = ChartList([p.chart for p in patients], [p.policy for p in patients])
    stats = run_lockstep(block, [p.model for p in patients], settings.horizon_days)
    print(
        f"one block of {args.block}: {stats.rounds} rounds, {stats.calls} calls in "
        f"{stats.call_groups} groups ({stats.calls / stats.call_groups:.1f} per group), "
        f"{stats.decisions} decisions in {stats.decision_groups} groups "
        f"({stats.decisions / max(1, stats.decision_groups):.1f} per group)"
    )


if __name__ == "__main__":
    main()
