"""``carechart calibrate``: the calibration table, its JSON result and its Markdown page."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from pathway.atomic import write_atomic

from ..results.calibration.render import render_markdown, render_text
from ..results.calibration.result import save_result
from ..results.calibration.runner import DEFAULT_PATIENTS, DEFAULT_SEED, run_calibration
from ..results.calibration.targets import load_targets
from ..results.outputs import check_output_file
from ..run.cohort import check_run_options, choose_workers
from .options import add_subcommand

__all__ = ["add_command"]


def add_command(sub: Any) -> None:
    """Register ``carechart calibrate``."""
    p = add_subcommand(
        sub,
        "calibrate",
        _main,
        help="compare simulated figures with published ones (knowledge base section 4)",
        description=(
            "Simulate each calibration target's sub-cohort and policy and compare the measured "
            "figure with the published one and its 95% interval."
        ),
    )
    p.add_argument(
        "--patients",
        type=int,
        default=DEFAULT_PATIENTS,
        metavar="N",
        help="patients per simulated run",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        metavar="S",
        help="seed of every run",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="W",
        help="worker processes per run (default: CPUs, at most 8); results do not depend on it",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="save the result as JSON (put it in a simulate output folder as "
        "calibration.json and the report shows it) (default: not saved)",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="write the calibration page, as in docs/calibration.md (default: not written)",
    )
    p.add_argument(
        "--targets",
        type=Path,
        metavar="FILE",
        help="a target file (default: the one shipped with carechart)",
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="ID",
        help="run only this target (repeatable) (default: every target)",
    )
    p.add_argument(
        "--engine",
        choices=["compiled", "reference", "vector"],
        default="compiled",
        help="chart engine (as carechart simulate; with vector, targets whose policy prefers "
        "or avoids actions run on compiled, which gives the same outputs)",
    )
    p.add_argument("--list", action="store_true", help="list the targets and exit")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when a target falls outside its interval",
    )


def _command_line(args: argparse.Namespace) -> str:
    parts = ["carechart", "calibrate", "--patients", str(args.patients), "--seed", str(args.seed)]
    if args.engine != "compiled":
        parts += ["--engine", args.engine]
    if args.targets:
        parts += ["--targets", str(args.targets)]
    for t in args.target:
        parts += ["--target", t]
    if args.out:
        parts += ["--out", str(args.out)]
    if args.markdown:
        parts += ["--markdown", str(args.markdown)]
    return shlex.join(parts)


def _main(args: argparse.Namespace) -> int:

    check_run_options(args.patients, None, args.seed)
    workers = choose_workers(args.workers)
    for option, path in (("--out", args.out), ("--markdown", args.markdown)):
        if path is not None:
            check_output_file(option, path, make_parents=True)
    targets = load_targets(args.targets)
    if args.target:
        known = {t.id for t in targets}
        unknown = [t for t in args.target if t not in known]
        if unknown:
            raise ValueError(f"unknown target {unknown[0]!r}; expected one of {sorted(known)}")
        targets = tuple(t for t in targets if t.id in set(args.target))
    if args.list:
        for t in targets:
            print(f"{t.id:32} {t.source:13} {t.quantity} ({t.arm})")
        return 0
    result = run_calibration(
        targets,
        patients=args.patients,
        seed=args.seed,
        workers=workers,
        command=_command_line(args),
        progress=sys.stderr,
        engine=args.engine,
    )
    sys.stdout.write(render_text(result))
    if args.out:
        save_result(result, args.out)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.markdown, render_markdown(result))
    passed, judged = result.counts()
    return 1 if args.strict and passed < judged else 0
