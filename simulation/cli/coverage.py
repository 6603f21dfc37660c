"""``carechart coverage``: the command line of scenario and cohort coverage."""

from __future__ import annotations

import json
import sys
from typing import Any

from pathway.atomic import write_atomic
from pathway.structure import ChartModel

from ..results.outputs import check_output_file
from ..run.progress import add_progress_option, progress_reporter
from ..verify.coverage import (
    CoverageReport,
    collect_cohort,
    collect_scenarios,
    print_summary,
    scenario_paths_problem,
)
from ..verify.coverage_html import render_html
from .options import (
    UsageError,
    add_guideline_option,
    add_output_file_option,
    add_subcommand,
    guideline_of,
)

__all__ = ["add_command"]


def add_command(sub: Any) -> None:
    """Register ``carechart coverage``."""
    p = add_subcommand(
        sub,
        "coverage",
        _coverage_command,
        help="state, transition, rule and guard-outcome coverage of scenarios and cohorts",
        description="Measure how much of the pathway a scenario suite and/or a simulated "
        "cohort exercises: states, transitions, recommendation rules and guard outcomes "
        "(true and false both seen). Exit status 1 under --fail-under, 2 when a scenario "
        "file is invalid or its course stops with an error.",
    )
    p.add_argument("paths", nargs="*", metavar="SCENARIO_DIR", help="scenario files or folders")
    p.add_argument(
        "--cohort",
        type=int,
        metavar="N",
        help="also simulate a cohort of N patients (default: none)",
    )
    p.add_argument("--seed", type=int, default=20250101, metavar="S", help="the cohort's seed")
    add_output_file_option(p, "--json", "the full report as JSON")
    add_output_file_option(p, "--html", "an HTML report with the diagram")
    p.add_argument(
        "--fail-under",
        type=float,
        metavar="PCT",
        help="exit 1 when the overall coverage is below PCT percent (default: no minimum)",
    )
    p.add_argument(
        "--limit", type=int, default=0, help="list at most N uncovered items per kind, 0 for all"
    )
    add_progress_option(p)
    add_guideline_option(p)


def _coverage_command(args: Any) -> int:
    if not args.paths and args.cohort is None:
        raise UsageError("coverage needs scenario files or folders, or --cohort N")
    if args.fail_under is not None and not 0 <= args.fail_under <= 100:
        raise UsageError(f"--fail-under must be within 0-100 (got {args.fail_under:g})")
    if args.cohort is not None and args.cohort < 1:
        raise UsageError(f"--cohort: found {args.cohort}, expected a whole number >= 1")
    if args.seed < 0:
        raise UsageError(f"--seed: found {args.seed}, expected a whole number >= 0")
    if args.limit < 0:
        raise UsageError(f"--limit: found {args.limit}, expected a whole number >= 0 (0: all)")
    for option, path in (("--json", args.json), ("--html", args.html)):
        if path:
            check_output_file(option, path)
    guideline = guideline_of(args)
    if args.cohort is not None and not guideline.patient_model:
        raise UsageError(f"--cohort: guideline {guideline.name!r} has no patient model to simulate")
    report = CoverageReport(ChartModel.of(guideline.chart), guideline=guideline)
    if args.paths:
        problem = scenario_paths_problem(args.paths)
        if problem:
            raise UsageError(problem)
        collect_scenarios(args.paths, report=report)
    if args.cohort is not None:
        collect_cohort(
            args.cohort,
            args.seed,
            report=report,
            progress=progress_reporter(args.progress, "simulated", "patients"),
        )
    print_summary(report, sys.stdout, limit=args.limit)
    if args.json:
        write_atomic(args.json, json.dumps(report.to_json(), indent=2) + "\n")
        print(f"\nwrote {args.json}")
    if args.html:
        write_atomic(args.html, render_html(report))
        print(f"wrote {args.html}")
    if report.failed:
        print(f"carechart: error: {report.failure_message()}", file=sys.stderr)
        return 2
    if args.fail_under is not None and report.percent() < args.fail_under:
        print(
            f"carechart: coverage {report.percent():.1f}% is below --fail-under "
            f"{args.fail_under:g}%",
            file=sys.stderr,
        )
        return 1
    return 0
