"""Benchmark: simulate N patients x Y years and report patients per second and cost per event.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_cohort.py                    # 10,000 patients x 10 years
    .venv/bin/python benchmarks/bench_cohort.py --patients 500 --years 5 --workers 1

The run is a normal ``run_cohort`` with the default cohort and the guideline policy, holding
running totals rather than a row per patient (as ``carechart simulate`` does); events are
formatted (as for events.csv) but not written to disk, so the figures measure the
simulation, not the file system. Wall-clock time; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time

from simulation.results.outputs import ChunkResult, software_version
from simulation.run.cohort import DEFAULT_SEED, default_workers, load_cohort, run_cohort


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--policy", default="guideline")
    parser.add_argument("--engine", default="compiled", choices=["compiled", "reference"])
    args = parser.parse_args(argv)

    events = 0

    def count(chunk: ChunkResult) -> None:
        nonlocal events
        events += sum(sum(p.kinds.values()) for p in chunk.patients)

    started = time.perf_counter()
    cpu_started = time.process_time()
    result = run_cohort(
        load_cohort(),
        patients=args.patients,
        years=args.years,
        seed=args.seed,
        policy=args.policy,
        workers=args.workers,
        on_chunk=count,
        engine=args.engine,
        keep_patients=False,  # as carechart simulate: running totals, no row per patient
    )
    wall = time.perf_counter() - started
    steps = result.steps
    violations = sum(result.violations().values())
    worker_seconds = wall * args.workers
    print(
        f"carechart {software_version()} on Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), {args.workers} worker(s), engine {args.engine}"
    )
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"patients x years      {args.patients:,} x {args.years:g}")
    cpu = time.process_time() - cpu_started
    print(f"wall time             {wall:.1f} s (main-process CPU {cpu:.1f} s)")
    print(f"patients per second   {args.patients / wall:.1f}")
    print(f"patient-years per s   {args.patients * args.years / wall:.1f}")
    print(f"events (csv rows)     {events:,} ({events / args.patients:.0f} per patient)")
    print(f"chart steps           {steps:,} ({steps / args.patients:.0f} per patient)")
    print(f"cost per event        {1e6 * worker_seconds / max(events, 1):.0f} us of worker time")
    print(f"cost per chart step   {1e6 * worker_seconds / max(steps, 1):.0f} us of worker time")
    print(f"invariant violations  {violations}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        f"peak memory           {peak / 1024:.0f} MiB main, {peak_children / 1024:.0f} MiB worker"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
