"""Benchmark: the vector engine against the compiled engine, whole cohorts side by side.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_vector_engine.py                    # 300 x 10 years
    .venv/bin/python benchmarks/bench_vector_engine.py --patients 2000 --block 2000

The same cohort and seed on one worker: ``compiled`` (one SimPy process per patient) and
``vector`` (blocks of ``--block`` patients as columns in lockstep rounds), outputs checked
byte-identical. The vector run is split into the block's calls (findings, time points and
scripted actions over columns), its decisions (the guideline policy's loop over columns)
and the rest (the day rules and the scalar patient model, one per patient, reading the
columns), by timing :class:`simulation.run.block_charts.BlockCharts` from outside.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from simulation.model import model_block
from simulation.run import block_charts
from simulation.run.cohort import DEFAULT_SEED, run_cohort

_SPENT = {"call": 0.0, "decide": 0.0}
#: One entry per group: (kind of group, rows, seconds).
_GROUPS: list[tuple[str, int, float]] = []


def _timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def run(self: Any, rows: Sequence[int], *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(self, rows, *args)
        finally:
            spent = time.perf_counter() - started
            if name in _SPENT:
                _SPENT[name] += spent
            # A call's kind: finding, timer or action (all of a group's calls share it).
            kind = args[0][0].kind if name == "call" else name
            _GROUPS.append((kind, len(rows), spent))

    return run


def _fit_table() -> None:
    """Per kind of group: fixed ms per group + marginal us per row (least squares)."""
    print(
        f"    {'group kind':12s} {'groups':>7s} {'rows':>9s} {'rows/group':>10s} {'seconds':>8s}"
        f" {'fixed ms/group':>15s} {'marginal us/row':>16s} {'fixed share':>11s}"
    )
    for kind in sorted({k for k, _, _ in _GROUPS}):
        rows = np.array([r for k, r, _ in _GROUPS if k == kind], dtype=float)
        spent = np.array([t for k, _, t in _GROUPS if k == kind])
        design = np.column_stack([np.ones_like(rows), rows])
        (fixed, marginal), *_ = np.linalg.lstsq(design, spent, rcond=None)
        print(
            f"    {kind:12s} {len(rows):7d} {int(rows.sum()):9d} {rows.mean():10.1f}"
            f" {spent.sum():8.2f} {fixed * 1e3:15.2f} {marginal * 1e6:16.1f}"
            f" {fixed * len(rows) / spent.sum():11.0%}"
        )


def _run(engine: str, args: argparse.Namespace) -> tuple[float, str, str]:
    started = time.perf_counter()
    r = run_cohort(
        patients=args.patients,
        years=args.years,
        seed=args.seed,
        workers=1,
        engine=engine,
        block=args.block,
    )
    return time.perf_counter() - started, r.events_csv(), r.patients_csv()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--block", type=int, default=None, help="default: all patients")
    args = parser.parse_args()
    args.block = args.block or args.patients
    compiled_s, events, patients = _run("compiled", args)
    charts = block_charts.BlockCharts
    charts.call = _timed("call", charts.call)  # type: ignore[method-assign]
    charts.decide = _timed("decide", charts.decide)  # type: ignore[method-assign]
    asked = model_block.ModelColumns
    asked.next_events = _timed("next_events", asked.next_events)  # type: ignore[method-assign]
    asked.visit_labs = _timed("visit_labs", asked.visit_labs)  # type: ignore[method-assign]
    vector_s, v_events, v_patients = _run("vector", args)
    n = args.patients
    print(
        f"{n} patients x {args.years:g} years, blocks of {args.block}, 1 worker, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  compiled {compiled_s:8.2f} s {compiled_s / n * 1e3:7.2f} ms per patient-course")
    print(f"  vector   {vector_s:8.2f} s {vector_s / n * 1e3:7.2f} ms per patient-course")
    rest = vector_s - _SPENT["call"] - _SPENT["decide"]
    for part, seconds in (
        ("block calls", _SPENT["call"]),
        ("block decisions", _SPENT["decide"]),
        ("day rules, scalar model, set-up, outputs", rest),
    ):
        print(f"    {part:42s} {seconds:8.2f} s {seconds / n * 1e3:7.2f} ms per patient")
    _fit_table()
    print(f"  outputs identical: {(events, patients) == (v_events, v_patients)}")


if __name__ == "__main__":
    main()
