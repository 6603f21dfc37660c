"""Benchmark: what the per-chart lock costs the compiled engine on a cohort.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_lock.py                   # 150 patients x 10 years, 3 runs
    .venv/bin/python benchmarks/bench_lock.py --patients 300 --runs 5

Counts the events (``observe``, ``fire``, ``take`` calls) of a one-worker run, times one
acquire and release of the lock, and prints their product as a share of the run. Runs with
and without the lock alternate, for a direct comparison too (noisy on a busy machine: the
product is the steadier figure).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import timeit
from typing import Any

from pathway.compiled import CompiledPathway
from pathway.runtime import PathwayRuntime
from simulation.run.cohort import DEFAULT_SEED, run_cohort


class _Unlocked(CompiledPathway):
    """The compiled pathway with the event methods as they are without the lock."""

    observe = PathwayRuntime.observe.__wrapped__  # type: ignore[attr-defined]
    fire = PathwayRuntime.fire.__wrapped__  # type: ignore[attr-defined]
    take = PathwayRuntime.take.__wrapped__  # type: ignore[attr-defined]


class _Counted(CompiledPathway):
    """The compiled pathway, counting the calls that take the lock."""

    calls = 0

    def observe(self, *args: Any, **kwargs: Any) -> Any:
        _Counted.calls += 1
        return super().observe(*args, **kwargs)

    def fire(self, *args: Any, **kwargs: Any) -> Any:
        _Counted.calls += 1
        return super().fire(*args, **kwargs)

    def take(self, *args: Any, **kwargs: Any) -> Any:
        _Counted.calls += 1
        return super().take(*args, **kwargs)


def _run(chart_class: type[CompiledPathway], patients: int, years: float) -> float:
    started = time.perf_counter()
    run_cohort(
        patients=patients,
        years=years,
        seed=DEFAULT_SEED,
        workers=1,
        chart_class=chart_class,
        on_chunk=lambda chunk: None,
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Measure and print the lock's cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=150)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    _run(_Counted, args.patients, args.years)
    locked, unlocked = [], []
    for _ in range(args.runs):
        locked.append(_run(CompiledPathway, args.patients, args.years))
        unlocked.append(_run(_Unlocked, args.patients, args.years))
    lock = threading.RLock()

    def acquire_release() -> None:
        with lock:
            pass

    each = min(timeit.repeat(acquire_release, number=200_000, repeat=5)) / 200_000
    share = each * _Counted.calls / min(unlocked)
    print(f"cohort              {args.patients} patients x {args.years:g} years, 1 worker")
    print(f"locked events       {_Counted.calls:,}")
    print(f"one lock            {each * 1e9:.0f} ns (acquire and release)")
    print(f"lock share of run   {share:.2%} ({each * _Counted.calls:.3f} s)")
    print(f"best run, locked    {min(locked):.2f} s")
    print(f"best run, unlocked  {min(unlocked):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
