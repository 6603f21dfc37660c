"""What the course search explores for a guideline: its patients, findings and boundaries.

The search (:class:`simulation.verify.explore.Search`) and ``carechart generate`` know no
disease: an :class:`Explorer` tells them, for one guideline, the patients at diagnosis to
start from, the findings that can happen next (with payloads on the thresholds'
boundaries), the lab panels worth drawing at a visit, and the record's facts that tell one
situation from another. :func:`explorer_for` picks a guideline's explorer from
:data:`EXPLORERS` (by registry name, as :data:`simulation.model.registry.PATIENT_MODELS`
picks patient models); a guideline without one gets a :class:`BundleExplorer`, built only
from what its bundle declares (record fields, findings and their payload kinds,
thresholds).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, fields
from typing import Any, Final, Protocol

from pathway import Guideline
from pathway.errors import PatientError

from ..scenarios.course import Start
from .boundaries import (
    EPSILON,
    default_starts,
    finding_moves,
    lab_boundaries,
    lab_position,
    record_facts,
    visit_panels,
)

__all__ = ["EXPLORERS", "AIHExplorer", "BundleExplorer", "Explorer", "explorer_for"]


class Explorer(Protocol):
    """What the course search needs of one guideline (thresholds fixed at construction)."""

    def starts(self) -> list[Start]:
        """Patients at diagnosis to explore from."""
        ...

    def situation(self, record: Any) -> tuple[Any, ...]:
        """The record's facts that tell one situation from another (hashable)."""
        ...

    def visit_panels(self, record: Any, active: Iterable[str]) -> list[dict[str, float]]:
        """Lab panels worth drawing at the next visit (empty: visits draw none)."""
        ...

    def finding_moves(self, record: Any, allowed: set[str]) -> list[tuple[str, Any]]:
        """Findings ``(id, payload)`` that can happen now (``allowed``: events some active
        state handles); the final one (death) left out."""
        ...


class AIHExplorer:
    """The AIH guideline's explorer: typical patients per triage branch, lab panels and
    findings on the thresholds' boundaries (:mod:`simulation.verify.boundaries`)."""

    def __init__(self, guideline: Guideline, thresholds: Any) -> None:
        self.th = thresholds
        self._bounds = {a: [v for v, _ in vs] for a, vs in lab_boundaries(thresholds).items()}

    def starts(self) -> list[Start]:
        """One typical patient per branch of triage (:func:`default_starts`)."""
        return default_starts(self.th)

    def situation(self, record: Any) -> tuple[Any, ...]:
        """Response, drugs, flags and the position of each lab among the boundaries."""
        return (*record_facts(record), lab_position(record.latest_panel(), self._bounds))

    def visit_panels(self, record: Any, active: Iterable[str]) -> list[dict[str, float]]:
        """Panels at the boundaries of remission, relapse, response and MELD."""
        return visit_panels(record, self.th, active)

    def finding_moves(self, record: Any, allowed: set[str]) -> list[tuple[str, Any]]:
        """TPMT, intolerance, cytopenia, staging, flags, pregnancy, transplant."""
        return finding_moves(record, allowed)


#: Record fields every guideline's record has, kept by the engine (not situation facts).
_ENGINE_FIELDS: Final = frozenset({"patient_id", "day", "entered", "timers_fired", "state"})


def _hashable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return tuple(sorted(value))
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    return value


class BundleExplorer:
    """An explorer built only from a guideline bundle's declarations.

    A numeric finding (payload kind ``float`` or ``int``) is tried at ``v - ε``, ``v`` and
    ``v + ε`` (:data:`EPSILON`) of every threshold whose name contains the finding's id
    (``treat_score`` for ``score``), as far as the guideline's payload check accepts the
    value; a finding with a tuple of allowed values is tried with each; a finding without
    payload as is. The patients at diagnosis are the record's defaults and, for a numeric
    finding that is also a record field, the record with that field on each boundary.
    The situation is every record field the engine does not keep, numeric findings as
    their position among the boundaries.
    """

    def __init__(self, guideline: Guideline, thresholds: Any) -> None:
        self.guideline = guideline
        self.th = thresholds
        self.boundaries: dict[str, list[float]] = {}
        for finding, kind in guideline.findings.items():
            if kind not in (float, int):
                continue
            values = {
                v
                for f in fields(thresholds)
                if finding in f.name
                for base in (float(getattr(thresholds, f.name)),)
                for v in (round(base - EPSILON, 6), base, round(base + EPSILON, 6))
                if self._accepts(finding, v)
            }
            self.boundaries[finding] = sorted(values)
        self._record_fields = [f.name for f in fields(guideline.record)]

    def _accepts(self, finding: str, value: float) -> bool:
        try:
            self.guideline.check_payload(finding, value, 0.0)
        except PatientError:
            return False
        return math.isfinite(value)

    def starts(self) -> list[Start]:
        """The record's defaults, then each numeric record field on each boundary."""
        name = self.guideline.name
        out = [Start("the record's defaults", (), (), guideline=name)]
        defaults = {
            f.name: f.default
            for f in fields(self.guideline.record)
            if f.default is not MISSING and f.name not in _ENGINE_FIELDS
        }
        for finding, values in self.boundaries.items():
            if finding not in defaults:
                continue
            out += [
                Start(f"{finding} = {v:g}", ((finding, v),), (), guideline=name)
                for v in values
                if v != defaults[finding]
            ]
        return out

    def situation(self, record: Any) -> tuple[Any, ...]:
        """Every non-engine field; a numeric finding's field as its boundary position."""
        out: list[Any] = []
        for name in self._record_fields:
            if name in _ENGINE_FIELDS:
                continue
            value = getattr(record, name)
            bounds = self.boundaries.get(name)
            if bounds is not None and isinstance(value, int | float):
                out.append(sum(value > b for b in bounds) + sum(value >= b for b in bounds))
            else:
                out.append(_hashable(value))
        return tuple(out)

    def visit_panels(self, record: Any, active: Iterable[str]) -> list[dict[str, float]]:
        """None: a visit is the timer's event alone."""
        return []

    def finding_moves(self, record: Any, allowed: set[str]) -> list[tuple[str, Any]]:
        """Each finding some active state handles, with each payload worth trying."""
        out: list[tuple[str, Any]] = []
        for finding, kind in self.guideline.findings.items():
            if finding not in allowed or finding == self.guideline.final_state:
                continue
            if finding in self.boundaries:
                now = getattr(record, finding, None)
                out += [(finding, v) for v in self.boundaries[finding] if v != now]
            elif isinstance(kind, Sequence) and not isinstance(kind, str):
                out += [(finding, v) for v in kind]
            elif kind is None:
                out.append((finding, None))
        return out


#: Explorers by guideline registry name; any other guideline gets a :class:`BundleExplorer`.
EXPLORERS: Final[dict[str, Callable[[Guideline, Any], Explorer]]] = {"aih": AIHExplorer}


def explorer_for(guideline: Guideline, thresholds: Any | None = None) -> Explorer:
    """The explorer of ``guideline`` at ``thresholds`` (default: the guideline's)."""
    th = thresholds if thresholds is not None else guideline.thresholds()
    return EXPLORERS.get(guideline.name, BundleExplorer)(guideline, th)
