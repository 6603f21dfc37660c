"""``carechart generate``: the command line of scenario generation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pathway.guidelines import DEFAULT

from ..run.output_folder import StagedFolder, add_force_option
from ..run.progress import add_progress_option, progress_reporter
from ..verify.coverage import scenario_paths_problem
from ..verify.generate import generate
from .options import UsageError, add_guideline_option, add_subcommand, guideline_of

__all__ = ["add_command"]


def add_command(sub: Any) -> None:
    """Register ``carechart generate``."""
    p = add_subcommand(
        sub,
        "generate",
        _generate_command,
        help="write scenarios that cover what the scenario suite does not",
        description="Measure the coverage of a scenario suite, search courses that reach "
        "each uncovered transition, guard outcome, rule or state, and write each as a "
        "scenario that replays green.",
    )
    p.add_argument("paths", nargs="*", metavar="SCENARIO_DIR", help="the scenario suite")
    p.add_argument("--out", metavar="DIR", default="generated", help="output folder")
    add_force_option(p)
    p.add_argument("--budget", type=int, default=6000, help="moves the search may make")
    p.add_argument("--no-deviations", action="store_true", help="never script a deviation")
    add_progress_option(p)
    add_guideline_option(p)


def _generate_command(args: Any) -> int:
    guideline = guideline_of(args)
    # The shipped scenarios/ folder is the default guideline's suite; another starts empty.
    library = Path("scenarios").is_dir() and guideline.name == DEFAULT
    paths = args.paths or (["scenarios"] if library else [])
    problem = scenario_paths_problem(paths)
    if problem:
        raise UsageError(problem)
    if args.budget < 1:
        raise UsageError(f"--budget must be >= 1 (got {args.budget})")
    out = Path(args.out)
    with StagedFolder(out, command="generate", force=args.force) as folder:
        report = generate(
            paths,
            chart_class=guideline.chart,
            budget=args.budget,
            deviations=not args.no_deviations,
            progress=progress_reporter(args.progress, "searched", "moves"),
        )
        written = 0
        for g in report.scenarios:
            if g.passed:
                folder.write_text(f"{g.name}.yaml", g.text)
                written += 1
        folder.publish()
    print(
        f"{len(report.targeted)} uncovered items targeted; {report.moves} moves searched "
        f"in {report.seconds:.1f} s"
    )
    for g in report.scenarios:
        status = "wrote " if g.passed else "DROPPED"
        print(f"  {status} {out / (g.name + '.yaml')}: covers {len(g.items)} item(s)")
        if not g.passed:
            print(f"          replay failed: {g.failure}")
    if report.not_found:
        print(f"not reached within the budget ({len(report.not_found)}):")
        for text in report.not_found:
            print(f"  - {text}")
    print(f"{written} scenario(s) written to {out}")
    return 0
