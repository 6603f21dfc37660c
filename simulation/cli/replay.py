"""``carechart replay``: the command line of scenario replay."""

from __future__ import annotations

import sys
from typing import Any

from ..results.outputs import check_output_file
from ..scenarios.replay import print_report, replay_paths, write_junit

__all__ = ["add_command"]


# --- command line ----------------------------------------------------------------------------


def add_command(sub: Any) -> None:
    """Register ``carechart replay``."""
    p = sub.add_parser(
        "replay",
        help="replay scenario files against the pathway and check their expectations",
        description="Replay scenario files (shared/spec/scenario-format.md) against the pathway "
        "and check their expectations. Exit status: 0 all pass, 1 some fail, 2 a file is "
        "invalid.",
    )
    p.add_argument("paths", nargs="+", metavar="FILE|DIR", help="scenario files or directories")
    p.add_argument(
        "--junit", metavar="FILE", help="also write the results as JUnit XML (default: none)"
    )
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show checks, deviations and violations of every scenario",
    )
    p.add_argument("--trace", action="store_true", help="print every step of every course")
    p.set_defaults(func=_replay_command)


def _replay_command(args: Any) -> int:
    if args.junit:
        check_output_file("--junit", args.junit)
    report = replay_paths(args.paths)
    print_report(report, sys.stdout, verbose=args.verbose, trace=args.trace)
    if args.junit:
        write_junit(report, args.junit)
    return report.exit_status
