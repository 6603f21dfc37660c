"""Progress on stderr for long commands (check, coverage --cohort, generate).

They report through :class:`StderrProgress`, as ``simulate`` does, but only when asked
(``--progress``) or when stderr is a terminal: standard output never holds progress, so
piped or saved results stay the same.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["StderrProgress", "StepProgress", "add_progress_option", "progress_reporter"]

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
    return StderrProgress(verb, unit, eta=eta)


class StderrProgress:
    """Prints ``simulated 1,200/10,000 patients (12%), about 2 min left`` on stderr.

    In place on a terminal, a line per report otherwise. The time left is the elapsed time
    per item so far times the items to go (shown from the first report on, when ``eta``).
    Other long commands reuse it with their own words: ``StderrProgress("searched",
    "moves")``; a report may name the step under way (``doing``).
    """

    def __init__(self, verb: str = "simulated", unit: str = "patients", *, eta: bool = True):
        self.started = time.monotonic()
        self.verb, self.unit, self.eta = verb, unit, eta

    def __call__(self, done: int, total: int, doing: str = "") -> None:
        """Report ``done`` of ``total`` items, and the step under way when given."""
        pct = 100 * done // total if total else 100
        line = f"carechart: {self.verb} {done:,}/{total:,} {self.unit} ({pct}%)"
        if doing:
            line += f": {doing}"
        if self.eta and 0 < done < total:
            left = (time.monotonic() - self.started) * (total - done) / done
            line += f", about {_duration(left)} left"
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K" + line + ("\n" if done == total else ""))
            sys.stderr.flush()
        else:
            sys.stderr.write(line + "\n")


def _duration(seconds: float) -> str:
    """A rough time for people: ``40 s``, ``3 min``, ``1 h 20 min``.

    >>> _duration(4.2), _duration(95), _duration(4850)
    ('4 s', '2 min', '1 h 21 min')
    """
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
