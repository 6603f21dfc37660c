"""Benchmark: the goals of issue 6 measured in one run, each printed as met or not met.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_goals.py                     # the goals' own sizes
    .venv/bin/python benchmarks/bench_goals.py --patients 10000    # a quicker look

One run, the default cohort, the guideline policy and one seed throughout:

1. speed-up: the first ``--engine-patients`` patients on python-statemachine and on the
   compiled executor (one worker each), outputs checked byte-identical (bench_engines.py);
   then the compiled executor's own share of that run, and so the ceiling on any
   executor's speed-up: the reference run's time over the time the guideline's shared
   work (rules, invariants, patient model, outputs) takes;
2. scale: ``--patients`` patients x 10 years on ``--workers`` workers (bench_cohort.py, in
   a fresh process), against the 60-second goal;
3. memory: the same at a tenth of the patients, in a fresh process: the peak memory of the
   main process and of a worker must not grow with the cohort (within 15%).

Wall-clock figures on this machine; not part of the test suite.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_engines import _run, executor_seconds  # noqa: E402

from simulation.results.outputs import software_version  # noqa: E402
from simulation.run.cohort import DEFAULT_SEED  # noqa: E402

#: The goals of issue 6.
SPEED_UP_GOAL = 20.0
SCALE_GOAL_S = 60.0
MEMORY_GROWTH_LIMIT = 1.15  # [MODEL] "flat": at most 15% more at 10x the patients


def _cohort(patients: int, years: float, workers: int, seed: int) -> dict[str, float]:
    """Run bench_cohort.py in a fresh process; its wall time and peak memories (MiB)."""
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "bench_cohort.py"),
            f"--patients={patients}",
            f"--years={years}",
            f"--workers={workers}",
            f"--seed={seed}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    wall = re.search(r"wall time\s+([\d.]+) s", out)
    peak = re.search(r"peak memory\s+(\d+) MiB main, (\d+) MiB worker", out)
    if wall is None or peak is None:
        raise RuntimeError(f"bench_cohort.py printed no figures:\n{out}")
    return {"wall": float(wall[1]), "main": float(peak[1]), "worker": float(peak[2])}


def main(argv: list[str] | None = None) -> int:
    """Measure the goals; exit 0 when all are met, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine-patients", type=int, default=300)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    print(f"carechart {software_version()}; command: {' '.join([sys.executable, *sys.argv])}")

    ref_s, ref_events = _run("reference", args.engine_patients, args.years, 1, args.seed)
    fast_s, fast_events = _run("compiled", args.engine_patients, args.years, 1, args.seed)
    speed_up = ref_s / fast_s
    print(
        f"engines: {args.engine_patients:,} patients x {args.years:g} years, 1 worker: "
        f"reference {ref_s:.1f} s, compiled {fast_s:.1f} s, "
        f"outputs identical: {ref_events == fast_events}"
    )
    executor_s = executor_seconds(args.engine_patients, args.years, args.seed)
    shared_s = fast_s - executor_s
    print(
        f"compiled run: executor {executor_s:.2f} s ({executor_s / fast_s:.0%}), "
        f"the guideline's shared work {shared_s:.2f} s; ceiling for a free executor: "
        f"{ref_s:.1f} / {shared_s:.2f} = {ref_s / shared_s:.1f}x"
    )
    floor_s = shared_s / args.engine_patients * args.patients / args.workers
    print(
        f"the shared work alone for {args.patients:,} patients on {args.workers} workers, "
        f"if they scaled perfectly: {floor_s:.0f} s"
    )
    small = _cohort(max(1, args.patients // 10), args.years, args.workers, args.seed)
    full = _cohort(args.patients, args.years, args.workers, args.seed)
    for n, r in ((args.patients // 10, small), (args.patients, full)):
        print(
            f"cohort: {n:,} patients x {args.years:g} years, {args.workers} workers: "
            f"{r['wall']:.1f} s, peak {r['main']:.0f} MiB main / {r['worker']:.0f} MiB worker"
        )
    growth = max(full["main"] / small["main"], full["worker"] / small["worker"])
    goals = [
        (
            f"compiled >= {SPEED_UP_GOAL:g}x faster than reference",
            f"{speed_up:.1f}x",
            speed_up >= SPEED_UP_GOAL and ref_events == fast_events,
        ),
        (
            f"{args.patients:,} x {args.years:g} years < {SCALE_GOAL_S:g} s "
            f"on {args.workers} workers",
            f"{full['wall']:.1f} s",
            full["wall"] < SCALE_GOAL_S,
        ),
        (
            "memory flat in cohort size (10x patients)",
            f"x{growth:.2f} at most",
            growth <= MEMORY_GROWTH_LIMIT,
        ),
    ]
    print()
    for goal, measured, met in goals:
        print(f"{goal:<48} {measured:>12}  {'met' if met else 'NOT MET'}")
    return 0 if all(met for _, _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
