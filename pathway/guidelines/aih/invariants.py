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
from typing import TYPE_CHECKING

from ...invariants import InvariantMonitor, Violation
from .patient import PatientRecord
from .rules import RULEBOOK
from .safety import INVARIANT_DECLARATIONS
from .thresholds import Thresholds

if TYPE_CHECKING:
    from ...runtime import Step

__all__ = ["INVARIANTS", "InvariantMonitor", "Violation"]

Check = Callable[[PatientRecord, Thresholds, Set[str], "Step"], str | None]


INVARIANTS: dict[str, Check] = {
    inv.id: RULEBOOK.invariant_check(inv.id) for inv in INVARIANT_DECLARATIONS
}
"""The checked invariants by rule id (INV-16 is a schedule: see the timers)."""
