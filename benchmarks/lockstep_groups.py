"""How many groups the lockstep rounds form: calls and decisions split by configuration.

Usage (from the repository root)::

    .venv/bin/python benchmarks/lockstep_groups.py --patients 1000 --years 10

Runs the default cohort's courses in one block of compiled charts in lockstep
(:mod:`simulation.run.lockstep`) and counts the groups a columnar block evaluates: each
round's calls of one kind and name split by the configuration of their rows, and each
round's decisions split the same way. A columnar block pays a fixed cost per such group.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from pathway import Thresholds
from simulation.model.disease import ModelConstants
from simulation.model.parameters import load_parameters
from simulation.run.cohort import DEFAULT_SEED, RunSettings, load_cohort, start_patient
from simulation.run.engine import Call
from simulation.run.lockstep import ChartList, run_lockstep


class _Counting(ChartList):
    """Counts the distinct configurations among each group's rows."""

    call_groups = 0
    decision_groups = 0

    def call(self, rows: Sequence[int], calls: Sequence[Call]) -> list[Any]:
        self.call_groups += len({self.charts[r].active for r in rows})
        return super().call(rows, calls)

    def decide(self, rows: Sequence[int], days: Sequence[float]) -> None:
        self.decision_groups += len({self.charts[r].active for r in rows})
        super().decide(rows, days)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    params = load_parameters()
    settings = RunSettings(
        load_cohort(), params, Thresholds(), args.seed, "guideline", args.years * 365.25
    )
    constants = ModelConstants.from_parameters(params)
    patients = [start_patient(settings, i, constants) for i in range(args.patients)]
    block = _Counting([p.chart for p in patients], [p.policy for p in patients])
    started = time.perf_counter()
    stats = run_lockstep(block, [p.model for p in patients], settings.horizon_days)
    print(
        f"{args.patients} patients x {args.years:g} years in one block: {stats.rounds} rounds "
        f"({time.perf_counter() - started:.1f} s on compiled charts)"
    )
    print(
        f"  calls: {stats.calls} in {stats.call_groups} groups by kind and name, "
        f"{block.call_groups} by kind, name and configuration "
        f"({stats.calls / block.call_groups:.1f} rows each)"
    )
    print(
        f"  decisions: {stats.decisions} in {stats.decision_groups} groups, "
        f"{block.decision_groups} by configuration "
        f"({stats.decisions / max(1, block.decision_groups):.1f} rows each)"
    )


if __name__ == "__main__":
    main()
