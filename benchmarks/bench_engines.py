"""Benchmark: the compiled executor against python-statemachine on the same cohort.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_engines.py                  # 300 patients x 10 years
    .venv/bin/python benchmarks/bench_engines.py --patients 1000 --workers 2

Both engines simulate the same patients with the same seed in one run (one worker each by
default, so the ratio is per core); the outputs are checked to be byte-identical. Memory:
the compiled engine is then run on N and 4N patients in fresh processes and the peak
resident memory of each is printed (outputs are streamed, so it should stay flat).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from simulation.cohort import DEFAULT_SEED, run_cohort
from simulation.outputs import software_version


def _run(engine: str, patients: int, years: float, workers: int, seed: int) -> tuple[float, str]:
    events: list[str] = []
    started = time.perf_counter()
    run_cohort(
        patients=patients,
        years=years,
        seed=seed,
        workers=workers,
        engine=engine,
        on_chunk=lambda chunk: events.append(chunk.events_csv),
    )
    return time.perf_counter() - started, "".join(events)


_PEAK = """
import resource, sys
from simulation.cohort import run_cohort
n = int(sys.argv[1])
run_cohort(patients=n, years=float(sys.argv[2]), seed=1, workers=1, on_chunk=lambda c: None)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--memory-patients", type=int, default=500)
    args = parser.parse_args(argv)
    print(f"carechart {software_version()}; command: {' '.join([sys.executable, *sys.argv])}")
    ref_s, ref_events = _run("reference", args.patients, args.years, args.workers, args.seed)
    fast_s, fast_events = _run("compiled", args.patients, args.years, args.workers, args.seed)
    rows = ref_events.count("\n")
    print(
        f"cohort                {args.patients:,} patients x {args.years:g} years, "
        f"{args.workers} worker(s), {rows:,} event rows"
    )
    print(f"reference engine      {ref_s:.1f} s ({args.patients / ref_s:.1f} patients/s)")
    print(f"compiled engine       {fast_s:.1f} s ({args.patients / fast_s:.1f} patients/s)")
    print(f"speed-up              {ref_s / fast_s:.1f}x")
    print(f"events identical      {ref_events == fast_events}")
    for n in (args.memory_patients, 4 * args.memory_patients):
        out = subprocess.run(
            [sys.executable, "-c", _PEAK, str(n), str(args.years)],
            check=True,
            capture_output=True,
            text=True,
        )
        print(f"peak memory, {n:>6,} patients  {int(out.stdout.split()[-1]) / 1024:.0f} MiB")
    return 0 if ref_events == fast_events else 1


if __name__ == "__main__":
    sys.exit(main())
