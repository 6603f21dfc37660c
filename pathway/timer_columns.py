"""The timers' schedule as columns, for the vector engine (issue 14).

:func:`pathway.timers.next_lab_day` asks, for one record, when the next armed timer that
draws labs is due. :func:`next_lab_days` gives the same day for a batch of records in one
configuration (or several): starts and fired counts as columns, offsets from the scalar
:func:`~pathway.timers.timer_offset` (kept per timer and threshold values in a table by
fired count: :func:`offset_table`), so no timing rule is written twice. Units: days; NaN
where the scalar function gives ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Set

import numpy as np
from numpy.typing import NDArray

from .timers import Timer, Values, timer_offset

__all__ = ["next_lab_days", "offset_table", "timer_offsets", "timer_starts"]

Floats = NDArray[np.float64]


#: Per timer (by identity) and threshold values: its offsets by fired count, as
#: :func:`~pathway.timers.timer_offset` gives them (NaN: spent), made once and grown.
_OFFSETS: dict[tuple[int, tuple[float, ...]], tuple[Timer, Floats]] = {}


def _reads(timer: Timer) -> tuple[str, ...]:
    """The threshold names ``timer``'s offsets read."""
    extra = (timer.every_threshold, timer.until_threshold)
    return (*timer.at_threshold, *(name for name in extra if name is not None))


def offset_table(timer: Timer, values: Values, size: int = 0) -> Floats:
    """``timer``'s offsets for fired counts ``0, 1, ...`` (NaN: spent), at least ``size``
    of them for a repeating timer; a timer that does not repeat is spent from the last one
    on (index it with counts clipped to the table). Each entry is the scalar
    :func:`~pathway.timers.timer_offset`, so the offsets are the same bits."""
    key = (id(timer), tuple(values[name] for name in _reads(timer)))
    found = _OFFSETS.get(key)
    if (
        found is not None
        and found[0] is timer
        and (timer.every_threshold is None or len(found[1]) >= size)
    ):
        return found[1]
    # A repeating timer's table grows to twice what was asked, so it is remade rarely.
    length = len(timer.at_threshold) + 1
    if timer.every_threshold is not None:
        length = max(length, 2 * size)
    table = np.array(
        [
            np.nan if offset is None else offset
            for offset in (timer_offset(timer, count, values) for count in range(length))
        ],
        dtype=np.float64,
    )
    if len(_OFFSETS) > 4096:  # many threshold overrides (a sweep): do not grow for ever
        _OFFSETS.clear()
    _OFFSETS[key] = (timer, table)
    return table


def timer_offsets(timer: Timer, fired: NDArray[np.int64], values: Values) -> Floats:
    """Per row, :func:`~pathway.timers.timer_offset` of ``timer`` after ``fired[i]`` firings
    (NaN: spent): one gather from the timer's table of offsets (:func:`offset_table`)."""
    if fired.size == 0:
        return np.full(fired.shape, np.nan)
    if timer.every_threshold is None:
        table = offset_table(timer, values)
        return table[np.minimum(fired, len(table) - 1)]
    return offset_table(timer, values, int(fired.max()) + 1)[fired]


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
