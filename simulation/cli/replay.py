"""``carechart replay``: the command line of scenario replay."""

from __future__ import annotations

import sys
from typing import Any

from ..results.outputs import check_output_file
from ..scenarios.replay import print_report, replay_paths, write_junit
from .options import add_output_file_option, add_subcommand

__all__ = ["add_command"]


# --- command line ----------------------------------------------------------------------------


def add_command(sub: Any) -> None:
    """Register ``carechart replay``."""
    p = add_subcommand(
        sub,
        "replay",
        _replay_command,
        help="replay scenario files against the pathway and check their expectations",
        description="Replay scenario files (shared/spec/scenario-format.md) against the pathway "
        "and check their expectations. Exit status: 0 all pass, 1 some fail, 2 a file is "
        "invalid.",
    )
    p.add_argument("paths", nargs="+", metavar="FILE|DIR", help="scenario files or directories")
    add_output_file_option(p, "--junit", "the results as JUnit XML too")
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show checks, deviations and violations of every scenario",
    )
    p.add_argument("--trace", action="store_true", help="print every step of every course")


def _replay_command(args: Any) -> int:
    if args.junit:
        check_output_file("--junit", args.junit)
    report = replay_paths(args.paths)
    print_report(report, sys.stdout, verbose=args.verbose, trace=args.trace)
    if args.junit:
        write_junit(report, args.junit)
    return report.exit_status
