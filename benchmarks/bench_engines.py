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
from time import perf_counter
from typing import Any

from pathway.compiled import CompiledPathway
from simulation.results.outputs import software_version
from simulation.run.cohort import DEFAULT_SEED, run_cohort


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


class _TimedExecutor(CompiledPathway):
    """The compiled pathway, timing its executor: seconds spent in it, guards excluded."""

    executor_s = 0.0  # the interpreter's own work: event dispatch, selection, entry, exit
    callbacks_s = 0.0  # guards and transition actions: clinical rules, shared by both engines

    def send(self, event: str, **kwargs: Any) -> None:
        started = perf_counter()
        try:
            super().send(event, **kwargs)
        finally:
            _TimedExecutor.executor_s += perf_counter() - started

    def allowed_event_ids(self) -> frozenset[str]:
        started = perf_counter()
        try:
            return super().allowed_event_ids()
        finally:
            _TimedExecutor.executor_s += perf_counter() - started

    @property
    def active(self) -> frozenset[str]:
        started = perf_counter()
        try:
            return CompiledPathway.active.fget(self)  # type: ignore[attr-defined,no-any-return]
        finally:
            _TimedExecutor.executor_s += perf_counter() - started

    def _call(self, cb: Any, t: Any, event: str, kwargs: dict[str, Any]) -> Any:
        started = perf_counter()
        try:
            return super()._call(cb, t, event, kwargs)
        finally:
            _TimedExecutor.callbacks_s += perf_counter() - started


def executor_seconds(patients: int, years: float, seed: int) -> float:
    """Seconds the compiled executor itself takes in a one-worker run (guards excluded).

    What is left of a run's time when this is taken away is the guideline's own work
    (rules, invariants, the patient model, outputs), the same for both engines: no
    executor can make a run faster than that.
    """
    _TimedExecutor.executor_s = _TimedExecutor.callbacks_s = 0.0
    run_cohort(
        patients=patients,
        years=years,
        seed=seed,
        workers=1,
        chart_class=_TimedExecutor,
        on_chunk=lambda chunk: None,
    )
    # Guards and actions run inside send(): theirs is clinical work, not the executor's.
    return _TimedExecutor.executor_s - _TimedExecutor.callbacks_s


_PEAK = """
import resource, sys
from simulation.run.cohort import run_cohort
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
