"""The invariant monitor: a guideline's safety invariants checked after every step.

A guideline gives its invariants as pure functions of the record, thresholds, the active
state ids and the step just taken, returning a message when broken, else ``None`` (for AIH,
:data:`pathway.guidelines.aih.invariants.INVARIANTS`), and its rule catalogue says which are
``hard``. The :class:`InvariantMonitor` runs them after each step: a hard invariant broken
by the guideline itself (a course with no deviation so far) raises
:class:`~pathway.errors.InvariantViolation` (in the runtime); once a course has deviated, and
for soft invariants, breaches are recorded as :class:`Violation` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from typing import Any, Protocol

from .declarations import StepLike
from .records import reduce_frozen

__all__ = ["InvariantCheck", "InvariantMonitor", "RuleEntry", "StepIndex", "Violation"]


class StepIndex(StepLike, Protocol):
    """What the monitor reads of a step: its kind, name, whether done and its index."""

    @property
    def index(self) -> int: ...


#: One invariant: ``(record, thresholds, active, step) -> message or None``.
InvariantCheck = Callable[[Any, Any, Set[str], Any], str | None]


class RuleEntry(Protocol):
    """What the engine reads of a guideline's catalogue entry (its rule)."""

    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def sources(self) -> tuple[str, ...]: ...

    @property
    def tag(self) -> str: ...

    @property
    def strength(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken invariant: rule id, day, step index, message, and whether it is hard."""

    rule_id: str
    day: float
    step: int
    message: str
    hard: bool

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        """Rebuilt by its constructor (copy and pickle work in the native build too)."""
        return reduce_frozen(self)


class InvariantMonitor:
    """Checks every invariant after each step and keeps the violations found.

    ``invariants`` is read at each check (so a test may patch an entry of it); ``rules`` is
    the guideline's catalogue, whose ``strength`` says which invariants are hard. ``strict``
    tells the runtime to raise on a hard invariant newly broken in a course without deviation.
    """

    def __init__(
        self,
        invariants: Mapping[str, InvariantCheck] | None = None,
        rules: Mapping[str, RuleEntry] | None = None,
        *,
        strict: bool = True,
    ) -> None:
        # None: none yet (copy and pickle build the object first, then bind it).
        self.invariants: Mapping[str, InvariantCheck] = invariants if invariants is not None else {}
        self.rules: Mapping[str, RuleEntry] = rules if rules is not None else {}
        self.strict = strict
        self.violations: list[Violation] = []
        self._open: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        """State for copy and pickle, without the guideline's checks (functions, which do not
        pickle): the pathway that owns the monitor binds them again (:meth:`bind`)."""
        return {"strict": self.strict, "violations": self.violations, "_open": self._open}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.strict = state["strict"]
        self.violations = state["violations"]
        self._open = state["_open"]
        self.invariants = {}
        self.rules = {}

    def bind(
        self, invariants: Mapping[str, InvariantCheck], rules: Mapping[str, RuleEntry]
    ) -> None:
        """Check ``invariants`` (with ``rules``' strengths) from now on."""
        self.invariants = invariants
        self.rules = rules

    def check(
        self, p: Any, th: Any, active: Set[str], step: StepIndex, deviated: bool
    ) -> list[Violation]:
        """Run all checks; return the violations that are new at this step."""
        found: list[Violation] = []
        now_open: set[str] = set()
        for rule_id, check in self.invariants.items():
            message = check(p, th, active, step)
            if message is None:
                continue
            now_open.add(rule_id)
            if rule_id in self._open:
                continue  # still broken since an earlier step: reported once
            hard = self.rules[rule_id].strength == "hard"
            found.append(Violation(rule_id, p.day, step.index, message, hard))
        self._open = now_open
        self.violations.extend(found)
        return found
