"""The autoimmune hepatitis pathway as a traceable statechart (no time, no randomness).

For research and education; not for treating patients.
"""

from __future__ import annotations

from .bundle import AnyPathway, Guideline, Pathway
from .care import care_state
from .errors import (
    ActionNotRecommended,
    EventNotHandled,
    InvalidPathwayError,
    InvariantViolation,
    PathwayError,
    PatientError,
    SnapshotError,
)
from .guidelines.aih.chart import AIHPathway
from .guidelines.aih.guideline import RULES, Rule
from .guidelines.aih.options import GuidelineOptions
from .guidelines.aih.patient import LabPanel, PatientRecord
from .guidelines.aih.thresholds import Thresholds
from .runtime import EntryPointRefused, PendingTimer, Recommendation, Step
from .snapshot import restore, snapshot

__all__ = [
    "RULES",
    "AIHPathway",
    "ActionNotRecommended",
    "AnyPathway",
    "EntryPointRefused",
    "EventNotHandled",
    "Guideline",
    "GuidelineOptions",
    "InvalidPathwayError",
    "InvariantViolation",
    "LabPanel",
    "Pathway",
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
