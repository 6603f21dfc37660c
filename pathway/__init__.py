"""The autoimmune hepatitis pathway as a traceable statechart (no time, no randomness).

For research and education; not for treating patients.
"""

from __future__ import annotations

from .chart import AIHPathway
from .errors import (
    ActionNotRecommended,
    EventNotHandled,
    InvalidPathwayError,
    InvariantViolation,
    PathwayError,
    PatientError,
    SnapshotError,
)
from .guideline import RULES, Rule
from .options import GuidelineOptions
from .patient import LabPanel, PatientRecord
from .runtime import EntryPointRefused, PendingTimer, Recommendation, Step, care_state
from .snapshot import restore, snapshot
from .thresholds import Thresholds

__all__ = [
    "RULES",
    "AIHPathway",
    "ActionNotRecommended",
    "EntryPointRefused",
    "EventNotHandled",
    "GuidelineOptions",
    "InvalidPathwayError",
    "InvariantViolation",
    "LabPanel",
    "PathwayError",
    "PatientError",
    "PatientRecord",
    "PendingTimer",
    "Recommendation",
    "Rule",
    "SnapshotError",
    "Step",
    "Thresholds",
    "care_state",
    "restore",
    "snapshot",
]
