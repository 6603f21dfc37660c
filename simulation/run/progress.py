"""Progress on stderr for long commands (check, coverage --cohort, generate).

They report through :class:`simulation.run.cohort.StderrProgress`, as ``simulate`` does, but
only when asked (``--progress``) or when stderr is a terminal: standard output never holds
progress, so piped or saved results stay the same.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cohort import StderrProgress

__all__ = ["StepProgress", "add_progress_option", "progress_reporter"]

#: A progress report naming the step under way: ``(done, total, doing)``.
StepProgress = Callable[[int, int, str], None]


def add_progress_option(parser: Any) -> None:
    """Add ``--progress`` to a command whose work is long."""
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show progress on stderr (default: only when stderr is a terminal)",
    )


def progress_reporter(
    wanted: bool, verb: str, unit: str, *, eta: bool = True
) -> StderrProgress | None:
    """A :class:`StderrProgress` when ``wanted`` (``--progress``) or stderr is a terminal."""
    if not wanted and not sys.stderr.isatty():
        return None
    from .cohort import StderrProgress  # imported here: the cohort module is heavy to load

    return StderrProgress(verb, unit, eta=eta)
