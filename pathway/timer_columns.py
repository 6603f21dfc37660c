"""The timers' schedule as columns, for the vector engine (issue 14).

:func:`pathway.timers.next_lab_day` asks, for one record, when the next armed timer that
draws labs is due. :func:`next_lab_days` gives the same day for a batch of records in one
configuration (or several): starts and fired counts as columns, offsets from the scalar
:func:`~pathway.timers.timer_offset` once per distinct fired count, so no timing rule is
written twice. Units: days; NaN where the scalar function gives ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Set

import numpy as np
from numpy.typing import NDArray

from .timers import Timer, Values, timer_offset

__all__ = ["next_lab_days", "timer_offsets", "timer_starts"]

Floats = NDArray[np.float64]


def timer_offsets(timer: Timer, fired: NDArray[np.int64], values: Values) -> Floats:
    """Per row, :func:`~pathway.timers.timer_offset` of ``timer`` after ``fired[i]`` firings
    (NaN: spent), the scalar function called once per distinct count."""
    out = np.full(fired.shape, np.nan)
    for count in np.unique(fired).tolist():
        offset = timer_offset(timer, int(count), values)
        if offset is not None:
            out[fired == count] = offset
    return out


def timer_starts(timer: Timer, entered: Floats, anchor: Floats | None, day: Floats) -> Floats:
    """Per row, :func:`~pathway.timers.timer_start`: the anchor field's column when the timer
    has one, else the day its state was entered (``entered``, NaN: not recorded), read as
    ``day`` when not recorded. NaN: disarmed."""
    if timer.anchor is not None:
        if anchor is None:
            raise ValueError(f"timer {timer.id!r} counts from {timer.anchor!r}: no column given")
        return anchor
    return np.where(np.isnan(entered), day, entered)


def next_lab_days(
    timers: tuple[Timer, ...],
    active: Set[str] | Callable[[str], NDArray[np.bool_] | bool],
    start: Callable[[Timer], Floats],
    fired: Callable[[Timer], NDArray[np.int64]],
    values: Values,
    n: int,
) -> Floats:
    """Per row, :func:`~pathway.timers.next_lab_day`: the earliest due day of the armed
    timers of ``timers`` that draw labs (NaN: none). ``active``: the configuration shared by
    the rows, or ``state -> whether it is active`` (per row, for rows in several
    configurations). ``start(timer)`` and ``fired(timer)`` give the columns of
    :func:`timer_starts` and of the fired counts."""
    holds = active if callable(active) else active.__contains__
    best = np.full(n, np.nan)
    for timer in timers:
        if not timer.labs:
            continue
        armed = holds(timer.state)
        if not np.any(armed):
            continue
        due = start(timer) + timer_offsets(timer, fired(timer), values)
        if armed is not True:
            due = np.where(armed, due, np.nan)  # a timer of a state not active: disarmed
        # The scalar loop keeps the first of equal days; NaN (disarmed or spent) never wins.
        better = ~np.isnan(due) & (np.isnan(best) | (due < best))
        best = np.where(better, due, best)
    return best
