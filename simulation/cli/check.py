"""``carechart check``: the command line of the static analysis and the gap and overlap search."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..run.output_folder import StagedFolder, add_force_option, check_output_folder
from ..run.progress import add_progress_option, progress_reporter
from ..verify.check import print_findings, run_check, write_counterexamples
from ..verify.findings import DeclarationError
from .options import UsageError, add_guideline_option, add_subcommand, guideline_of

__all__ = ["add_command"]


def add_command(sub: Any) -> None:
    """Register ``carechart check``."""
    p = add_subcommand(
        sub,
        "check",
        _check_command,
        help="static analysis, gap and overlap search of the pathway (exit 1 on findings)",
        description="Check the pathway: reachability and dead ends at every depth, waiting "
        "states, history states, rule catalogue consistency, and a search for patients with "
        "no recommendation or with conflicting ones (with counterexample scenarios). "
        "Exit status 1 when a finding is not declared in the declarations file.",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--static-only", action="store_true", help="skip the gap and overlap search")
    p.add_argument("--budget", type=int, default=300, help="courses the search expands")
    p.add_argument("--examples", type=int, default=150, help="Hypothesis examples per round")
    p.add_argument("--seed", type=int, default=0, help="seed of the search")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write counterexample scenarios into DIR (default: not written)",
    )
    add_force_option(p)
    p.add_argument("--declared", metavar="FILE", help="declarations file (default: shipped)")
    add_progress_option(p)
    add_guideline_option(p)


def _check_command(args: Any) -> int:
    if args.budget < 0 or args.examples < 0:
        raise UsageError("--budget and --examples must be >= 0")
    guideline = guideline_of(args)
    if args.out:
        check_output_folder("--out", args.out, force=args.force)
    try:
        result = run_check(
            guideline.chart,
            search=not args.static_only,
            budget=args.budget,
            examples=args.examples,
            seed=args.seed,
            declared=args.declared,
            progress=progress_reporter(args.progress, "check:", "steps", eta=False),
        )
    except DeclarationError as exc:
        raise UsageError(str(exc)) from None
    files: dict[str, Path] = {}
    if args.out:
        out = Path(args.out)
        with StagedFolder(out, command="check", force=args.force) as folder:
            written = write_counterexamples(result, folder.staging)
            folder.publish()
        for path, f in zip(written, [f for f in result.findings if f.counterexample], strict=True):
            files[f"{f.code}@{f.subject}"] = out / path.name
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_findings(result, sys.stdout, files=files)
    return result.exit_status
