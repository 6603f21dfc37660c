"""Safety invariants (knowledge base section 3), checked after every step.

Each invariant is declared once in :mod:`.safety` (one predicate, also used by the actions
that would break it to refuse); :data:`INVARIANTS` gives each as a pure function of the
record, thresholds, the active state ids and the step just taken, returning a message when
the invariant is broken, else ``None``. The
:class:`InvariantMonitor` runs them after each step: a hard invariant broken by the
guideline itself (a course with no deviation so far) raises
:class:`~pathway.errors.InvariantViolation`; once a course has deviated, and for soft
invariants, breaches are recorded as :class:`Violation` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .guideline import RULES
from .patient import PatientRecord
from .rules import RULEBOOK
from .safety import INVARIANT_DECLARATIONS
from .thresholds import Thresholds

if TYPE_CHECKING:
    from ...runtime import Step

__all__ = ["INVARIANTS", "InvariantMonitor", "Violation"]

Check = Callable[[PatientRecord, Thresholds, Set[str], "Step"], str | None]


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken invariant: rule id, day, step index, message, and whether it is hard."""

    rule_id: str
    day: float
    step: int
    message: str
    hard: bool


INVARIANTS: dict[str, Check] = {
    inv.id: RULEBOOK.invariant_check(inv.id) for inv in INVARIANT_DECLARATIONS
}
"""The checked invariants by rule id (INV-16 is a schedule: see the timers)."""


class InvariantMonitor:
    """Checks every invariant after each step and keeps the violations found.

    A hard invariant newly broken in a course without any deviation raises
    :class:`~pathway.errors.InvariantViolation` when ``strict`` (the default).
    """

    def __init__(self, *, strict: bool = True) -> None:
        self.strict = strict
        self.violations: list[Violation] = []
        self._open: set[str] = set()

    def check(
        self, p: PatientRecord, th: Thresholds, active: Set[str], step: Step, deviated: bool
    ) -> list[Violation]:
        """Run all checks; return the violations that are new at this step."""
        found: list[Violation] = []
        now_open: set[str] = set()
        for rule_id, check in INVARIANTS.items():
            message = check(p, th, active, step)
            if message is None:
                continue
            now_open.add(rule_id)
            if rule_id in self._open:
                continue  # still broken since an earlier step: reported once
            hard = RULES[rule_id].strength == "hard"
            found.append(Violation(rule_id, p.day, step.index, message, hard))
        self._open = now_open
        self.violations.extend(found)
        return found
