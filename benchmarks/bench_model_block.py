"""Benchmark: the patient models' answers to a block's courses, scalar against columns.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_model_block.py --patients 2000 --years 10

One block of compiled charts in lockstep rounds (:mod:`simulation.run.lockstep`), run
``--runs`` times with each model block in turn: ``ModelList`` (each scalar model asked
itself) and ``ModelColumns`` (a round's visit panels in one array call). Prints the time
spent answering the courses' questions (next events, visit panels) per patient, and checks
that the two runs give the same traces.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from pathway import Thresholds
from simulation.model.disease import ModelConstants
from simulation.model.model_block import ModelColumns
from simulation.model.parameters import load_parameters
from simulation.run.cohort import DEFAULT_SEED, RunSettings, load_cohort, start_patient
from simulation.run.lockstep import ChartList, ModelList, run_lockstep


def _timed(spent: dict[str, float], name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args)
        finally:
            spent[name] += time.perf_counter() - started

    return run


def _run(kind: str, args: argparse.Namespace) -> tuple[dict[str, float], list[Any]]:
    params = load_parameters()
    s = RunSettings(
        load_cohort(), params, Thresholds(), args.seed, "guideline", args.years * 365.25
    )
    constants = ModelConstants.from_parameters(params)
    patients = [start_patient(s, i, constants) for i in range(args.patients)]
    block = ChartList([p.chart for p in patients], [p.policy for p in patients])
    models = [p.model for p in patients]
    asked: Any = (
        ModelList(block, models) if kind == "scalar" else ModelColumns(block, models, constants)
    )
    spent = {"next_events": 0.0, "visit_labs": 0.0, "all": 0.0}
    asked.next_events = _timed(spent, "next_events", asked.next_events)
    asked.visit_labs = _timed(spent, "visit_labs", asked.visit_labs)
    started = time.perf_counter()
    run_lockstep(block, models, s.horizon_days, asked)
    spent["all"] = time.perf_counter() - started
    return spent, [p.chart.trace for p in patients]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    n = args.patients
    traces: dict[str, list[Any]] = {}
    for run in range(args.runs):
        for kind in ("scalar", "columns"):
            spent, traces[kind] = _run(kind, args)
            print(
                f"run {run + 1} {kind:8s} {n} x {args.years:g} years: "
                f"next events {spent['next_events'] / n * 1e3:6.2f} ms per patient, "
                f"visit panels {spent['visit_labs'] / n * 1e3:6.2f}, "
                f"whole run {spent['all'] / n * 1e3:6.2f} "
                f"(load average {os.getloadavg()[0]:.1f})"
            )
    print(f"traces identical: {traces['scalar'] == traces['columns']}")


if __name__ == "__main__":
    main()
