"""``carechart sweep``: the command line of the probabilistic sensitivity analysis."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pathway.atomic import write_atomic

from ..model.policies import STRATEGIES, parse_policy_list
from ..results.outputs import OutputPathError, check_output_file
from ..run.cohort import (
    DEFAULT_SEED,
    check_run_options,
    choose_workers,
)
from ..run.sweep import format_table, parse_vary, run_sweep
from .options import add_subcommand

__all__ = ["add_command"]


def add_command(sub: Any) -> None:
    """Register ``carechart sweep``."""
    p = add_subcommand(
        sub,
        "sweep",
        _sweep_command,
        help="probabilistic sensitivity analysis over parameter draws",
        description="Draw parameter sets (each --vary NAME=LOW:HIGH uniform, or NAME=beta("
        "mean=M, sd=S) and the like), simulate the "
        "same cohort under each draw (common random numbers) and summarise every headline "
        "outcome (mean, 2.5%, median, 97.5%). With --policies A,B,... every draw runs each "
        "policy on the same patients, and each policy's difference from the first is "
        "summarised too, with the share of draws above zero. Research and education only.",
    )
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="a model parameter and its distribution: LOW:HIGH (uniform) or KIND(ARG=VALUE, "
        "...) with KIND uniform, beta, gamma, lognormal or normal, given by mean=, sd= or "
        "by natural parameters (docs/simulation.md); repeatable (required)",
    )
    p.add_argument("--draws", type=int, default=20, metavar="N", help="parameter draws")
    p.add_argument("--patients", type=int, default=500, metavar="N", help="patients per draw")
    p.add_argument("--years", type=float, default=10.0, metavar="Y", help="follow-up (years)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="S", help="random seed")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="W",
        help="worker processes (default: CPUs, at most 8)",
    )
    p.add_argument(
        "--dask", default=None, metavar="local|ADDRESS", help="run on Dask (default: no Dask)"
    )
    p.add_argument(
        "--engine",
        choices=["compiled", "reference", "vector"],
        default="compiled",
        help="chart engine (as carechart simulate)",
    )
    p.add_argument(
        "--policies",
        default="guideline",
        metavar="A,B,...",
        help=f"comma-separated policies run under every draw, the first the reference of the "
        f"differences (default: guideline); from {', '.join(STRATEGIES)}",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="write draws and summary (JSON) (default: not written)",
    )


def _sweep_command(args: argparse.Namespace) -> int:
    check_run_options(args.patients, args.years, args.seed)
    if args.out:
        check_output_file("--out", args.out)
        if Path(args.out).suffix.lower() != ".json":
            # The result is JSON; a .csv name would hold JSON and mislead the next tool.
            raise OutputPathError(
                f"--out {args.out}: found suffix {Path(args.out).suffix or '(none)'!r}, "
                "expected a .json file name"
            )
    ranges = [parse_vary(v) for v in args.vary]
    policies = parse_policy_list(args.policies)
    workers = choose_workers(args.workers)
    result = run_sweep(
        ranges,
        draws=args.draws,
        patients=args.patients,
        years=args.years,
        seed=args.seed,
        workers=workers,
        dask=args.dask,
        engine=args.engine,
        policies=policies,
    )
    sys.stdout.write(
        f"carechart sweep: {args.draws} draws x {args.patients:,} patients x {args.years:g} "
        f"years, seed {args.seed}, policies {', '.join(policies)} "
        "(research and education only)\n"
    )
    sys.stdout.write(format_table(result))
    if args.out:
        write_atomic(Path(args.out), result.to_json())
    return 0
