"""Command line of the benchmarks that run the default cohort with ``--set`` overrides.

Shared by loss_of_response.py and time_to_response.py (imported from this folder).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from simulation.model.parameters import load_parameters
from simulation.results.outputs import ChunkResult, CohortResult
from simulation.run.cohort import Cohort, apply_overrides, default_workers, load_cohort, run_cohort


def add_cohort_arguments(
    parser: argparse.ArgumentParser, *, patients: int | None, years: float | None, seed: int
) -> None:
    """Add ``--patients``, ``--years``, ``--seed``, ``--workers`` and ``--set`` (defaults given;
    ``None``: the cohort's)."""
    parser.add_argument("--patients", type=int, default=patients, help="default: %(default)s")
    parser.add_argument("--years", type=float, default=years, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="as carechart simulate"
    )


def run_default_cohort(
    args: argparse.Namespace, on_chunk: Callable[[ChunkResult], None]
) -> tuple[Cohort, CohortResult]:
    """Run the default cohort (guideline policy) with the arguments' overrides; each chunk
    goes to ``on_chunk`` and is not kept."""
    cohort, params, thresholds = apply_overrides(load_cohort(), load_parameters(), args.set)
    result = run_cohort(
        cohort,
        parameters=params,
        thresholds=thresholds,
        patients=args.patients,
        years=args.years,
        seed=args.seed,
        workers=args.workers,
        on_chunk=on_chunk,
        keep_patients=False,
    )
    return cohort, result
