"""Exceptions. All derive from :class:`PathwayError`; most also from a built-in."""

from __future__ import annotations

import reprlib
from typing import Any

from statemachine.exceptions import TransitionNotAllowed

__all__ = [
    "ActionNotRecommended",
    "EventNotHandled",
    "InvalidPathwayError",
    "InvariantViolation",
    "PathwayError",
    "PatientError",
    "SnapshotError",
    "short_repr",
]

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlevel = 3


def short_repr(value: Any) -> str:
    """``repr(value)`` cut short for a message: long strings, deep nesting, huge integers."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    return _SHORT.repr(value)


class PathwayError(Exception):
    """Base class of carechart's pathway errors."""


class InvalidPathwayError(PathwayError):
    """The chart or the rule catalogue is inconsistent (a definition error)."""


class PatientError(PathwayError, ValueError):
    """A patient attribute, lab value or finding payload is invalid."""


class SnapshotError(PathwayError, ValueError):
    """A snapshot cannot be restored (wrong schema, newer version, invalid content).

    Attributes:
        field: JSON path of the offending field (``record.labs[3].alt_xuln``), or ``""``
            when the snapshot as a whole is refused.
        found: what the field holds (shortened).
        expected: what it should hold.
    """

    def __init__(self, message: str, field: str = "", found: str = "", expected: str = "") -> None:
        self.field = field
        self.found = found
        self.expected = expected
        # All fields go to args so that the error pickles and copies whole.
        super().__init__(message, field, found, expected)

    def __str__(self) -> str:
        return str(self.args[0])


class EventNotHandled(PathwayError, TransitionNotAllowed):
    """A finding or time point that no active state can handle (the chart is strict).

    Attributes:
        event: the event id.
        day: the simulated day.
        configuration: active state ids.
    """

    def __init__(self, event: str, day: float, configuration: list[str]) -> None:
        self.event = event  # type: ignore[assignment]
        self.day = day
        self.configuration = configuration  # type: ignore[assignment]
        # Plain args, so that SimPy can re-raise it from a process and pickle can copy it.
        Exception.__init__(self, event, day, configuration)

    def __str__(self) -> str:
        return f"{self.event!r} cannot be handled at day {self.day:g} in {self.configuration}"


class ActionNotRecommended(PathwayError):
    """A clinician action the guideline does not recommend now.

    Attributes:
        action: the action id.
        day: the simulated day.
        configuration: active state ids.
        rule_ids: the guideline rules that the action goes against.
        explanation: one sentence per broken rule.
    """

    def __init__(
        self,
        action: str,
        day: float,
        configuration: list[str],
        rule_ids: list[str],
        explanation: str,
    ) -> None:
        self.action = action
        self.day = day
        self.configuration = configuration
        self.rule_ids = rule_ids
        self.explanation = explanation
        # All fields go to args so that the error can be re-raised by SimPy and pickled.
        super().__init__(action, day, configuration, rule_ids, explanation)

    def __str__(self) -> str:
        return (
            f"{self.action!r} is not recommended at day {self.day:g} "
            f"in {self.configuration}: {self.explanation}"
        )


class InvariantViolation(PathwayError, AssertionError):
    """The guideline itself broke a hard safety invariant (a modelling bug).

    Attributes:
        rule_id: the invariant's rule id (``INV-..``).
        message: what was found.
        day: the simulated day.
        configuration: active state ids.
        patient: the patient record (as a dict).
    """

    def __init__(
        self,
        rule_id: str,
        message: str,
        day: float,
        configuration: list[str],
        patient: dict[str, Any],
    ) -> None:
        self.rule_id = rule_id
        self.message = message
        self.day = day
        self.configuration = configuration
        self.patient = patient
        super().__init__(rule_id, message, day, configuration, patient)

    def __str__(self) -> str:
        return (
            f"{self.rule_id} broken at day {self.day:g} in {self.configuration} "
            f"(patient {self.patient.get('patient_id')!r}): {self.message}"
        )
