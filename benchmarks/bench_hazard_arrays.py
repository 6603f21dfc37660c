"""Benchmark: the next-event search, scalar clocks against hazard arrays (issue 14).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_hazard_arrays.py              # 100,000 patients
    .venv/bin/python benchmarks/bench_hazard_arrays.py --patients 20000

Every patient has 17 clocks (the patient model's), each with a random piecewise hazard of
0 to 4 pieces and an Exp(1) budget. Printed, side by side: microseconds per patient to find
every clock's event day (and the earliest) with :func:`simulation.model.hazards.solve`,
patient by patient, and with :func:`simulation.model.hazard_arrays.solve`, all patients at
once; the answers are checked identical.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from simulation.model import hazard_arrays, hazards

CLOCKS = 17


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    args = parser.parse_args()
    n = args.patients
    rng = np.random.default_rng(1)
    tables, budgets, lows, scalar_rows = [], [], [], []
    for _ in range(CLOCKS):
        pieces = rng.integers(0, 5, n)
        hz: list[hazards.Hazard] = []
        for k in pieces:
            starts = np.sort(rng.uniform(0, 3650, k)).tolist()
            hz.append(
                tuple((s, float(r)) for s, r in zip(starts, rng.uniform(0, 0.002, k), strict=True))
            )
        tables.append(hazard_arrays.HazardTable.of(hz))
        budgets.append(rng.standard_exponential(n))
        lows.append(rng.uniform(0, 1000, n))
        scalar_rows.append(hz)

    started = perf_counter()
    scalar = [
        min(
            hazards.solve(scalar_rows[c][i], float(lows[c][i]), float(budgets[c][i]))
            for c in range(CLOCKS)
        )
        for i in range(n)
    ]
    t_scalar = perf_counter() - started

    started = perf_counter()
    days = np.stack([hazard_arrays.solve(tables[c], lows[c], budgets[c]) for c in range(CLOCKS)])
    first = days.min(axis=0)
    t_vector = perf_counter() - started

    assert first.tolist() == scalar
    print(f"next event over {CLOCKS} clocks, {n:,} patients (us per patient):")
    print(f"  scalar hazards.solve, patient by patient   {t_scalar / n * 1e6:8.2f}")
    print(f"  hazard arrays, all patients at once        {t_vector / n * 1e6:8.2f}")
    print(f"  ratio: {t_scalar / t_vector:.0f}x (event days identical)")


if __name__ == "__main__":
    main()
