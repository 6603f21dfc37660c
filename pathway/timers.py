"""Timers as data: "after N days in state X (or from a record's day field), event Y".

The engine's timer machinery, for any guideline: a guideline declares its :class:`Timer`
tuple (the AIH ones are :data:`pathway.guidelines.aih.timers.TIMERS`); the runtime arms a
timer when its state is entered, disarms it when the state is left and asks
:func:`timer_start` and :func:`timer_offset` when it is due. Units: days.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any, Protocol

from .records import reduce_frozen

__all__ = ["Timer", "TimerTable", "Values", "next_lab_day", "timer_offset", "timer_start"]


class Values(Protocol):
    """Threshold values by field name (a dict, or a view of :class:`Thresholds`), in days."""

    def __getitem__(self, name: str, /) -> float: ...


@dataclass(frozen=True, slots=True)
class Timer:
    """A declared time point.

    Attributes:
        id: unique timer id (also the key of its fired count in the record).
        event: the event sent when it is due.
        state: the state whose entry arms it.
        at_threshold: names of the guideline's threshold fields
            giving the intervals (days) to each of the first firings, counted from state entry and
            added up (``("a", "a")`` fires at a and 2a).
        every_threshold: name of the field giving the repeat interval after the last offset,
            or ``None`` for no repeat.
        labs: a lab panel is drawn at this visit (the driver sends ``labs`` first).
        rule_id: the guideline rule that sets this time point.
        anchor: name of a day field of the patient record to count from instead of the
            state's entry; the timer is armed only while that field is set, and it starts
            again (fired count 0) whenever the field changes.
        until_threshold: name of the field giving the last offset (days) at which the timer
            may still fire, or ``None`` for no limit.
    """

    id: str
    event: str
    state: str
    at_threshold: tuple[str, ...]
    every_threshold: str | None
    labs: bool
    rule_id: str
    anchor: str | None = None
    until_threshold: str | None = None

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        """Rebuilt by its constructor (copy and pickle work in the native build too)."""
        return reduce_frozen(self)


def timer_offset(timer: Timer, fired: int, values: Values) -> float | None:
    """Days after state entry at which ``timer`` fires for the ``fired``-th time (0-based).

    ``values`` maps threshold names to numbers. ``None`` when the timer is spent.

    >>> t = Timer("t", "e", "s", ("a", "a"), "b", False, "R")
    >>> [timer_offset(t, n, {"a": 30.0, "b": 91.0}) for n in range(4)]
    [30.0, 60.0, 151.0, 242.0]
    >>> u = Timer("u", "e", "s", ("a",), "a", False, "R", until_threshold="c")
    >>> [timer_offset(u, n, {"a": 14.0, "c": 28.0}) for n in range(3)]
    [14.0, 28.0, None]
    """
    offsets: list[float] = []
    total = 0.0
    for name in timer.at_threshold:
        total += values[name]
        offsets.append(total)
    if fired < len(offsets):
        offset = offsets[fired]
    elif timer.every_threshold is None:
        return None
    else:
        offset = offsets[-1] + values[timer.every_threshold] * (fired - len(offsets) + 1)
    if timer.until_threshold is not None and offset > values[timer.until_threshold] + 1e-9:
        return None
    return offset


def timer_start(
    timer: Timer, entered: Mapping[str, float], record: object, day: float
) -> float | None:
    """Day ``timer`` counts from: its anchor field or its state's entry (``None``: disarmed)."""
    if timer.anchor is not None:
        start: float | None = getattr(record, timer.anchor)
        return start
    return entered.get(timer.state, day)


class TimerTable:
    """One guideline's timers indexed for the runtime: by id, by state, by configuration.

    ``anchored(field)`` lists the timers that count from a record day field.
    """

    def __init__(self, timers: tuple[Timer, ...]) -> None:
        self.timers = timers
        self.by_id: dict[str, Timer] = {t.id: t for t in timers}
        by_state: dict[str, tuple[Timer, ...]] = {}
        for t in timers:
            by_state[t.state] = (*by_state.get(t.state, ()), t)
        self.by_state = by_state
        self.events: frozenset[str] = frozenset(t.event for t in timers)
        self.with_labs: tuple[Timer, ...] = tuple(t for t in timers if t.labs)
        self._armed: dict[frozenset[str], tuple[Timer, ...]] = {}

    def anchored(self, field: str) -> tuple[str, ...]:
        """Ids of the timers that count from the record's day field ``field``."""
        return tuple(t.id for t in self.timers if t.anchor == field)

    def armed(self, active: frozenset[str]) -> tuple[Timer, ...]:
        """The timers whose state is active, in declaration order (cached per configuration)."""
        armed = self._armed.get(active)
        if armed is None:
            armed = tuple(t for t in self.timers if t.state in active)
            if len(self._armed) > 4096:
                self._armed.clear()
            self._armed[active] = armed
        return armed


def next_lab_day(
    timers: tuple[Timer, ...], active: Set[str], record: Any, values: Values
) -> float | None:
    """Due day of the next armed timer of ``timers`` that draws labs (``record``: a record
    with ``entered``, ``timers_fired`` and ``day``)."""
    best: float | None = None
    for timer in timers:
        if not timer.labs or timer.state not in active:
            continue
        start = timer_start(timer, record.entered, record, record.day)
        offset = timer_offset(timer, record.timers_fired.get(timer.id, 0), values)
        if start is None or offset is None:
            continue
        if best is None or start + offset < best:
            best = start + offset
    return best
