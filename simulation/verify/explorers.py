"""What the course search explores for a guideline: its patients, findings and boundaries.

The search (:class:`simulation.verify.explore.Search`) and ``carechart generate`` know no
disease: an :class:`Explorer` tells them, for one guideline, the patients at diagnosis to
start from, the findings that can happen next (with payloads on the thresholds'
boundaries), the lab panels worth drawing at a visit, and the record's facts that tell one
situation from another. :func:`explorer_for` picks the explorer a guideline's bundle names
(``Guideline.explorer``) from :data:`EXPLORERS`, as ``Guideline.patient_model`` names a
patient model; a guideline that names none gets a :class:`BundleExplorer`, built only from
what its bundle declares (record fields, findings and their payload kinds, thresholds).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, fields
from typing import Any, Final, Protocol

from pathway import Guideline
from pathway.errors import PatientError
from pathway.guidelines.aih.patient import LAB_RANGES
from pathway.guidelines.aih.vocabulary import FINDING_VALUES, PLAIN_FINDINGS

from ..scenarios.course import Course, Start
from .boundaries import (
    EPSILON,
    default_starts,
    finding_moves,
    lab_boundaries,
    lab_position,
    record_facts,
    triage_starts,
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

    @property
    def th(self) -> Any:
        """The thresholds the boundaries come from."""
        ...

    @property
    def trajectories(self) -> tuple[str, ...]:
        """Kinds of :meth:`trajectory_panel` each start is followed on (may be empty)."""
        ...

    def triage_starts(self) -> list[Start]:
        """Patients at diagnosis on the triage boundaries, followed with values unchanged."""
        ...

    def trajectory_panel(self, course: Course, kind: str) -> dict[str, float] | None:
        """The lab panel of the course's next visit on trajectory ``kind`` (``None``:
        values stand)."""
        ...

    def probes(self) -> list[tuple[str, Any]]:
        """Findings ``(id, payload)`` tried at each new configuration (boundary values)."""
        ...

    def random_panel(self, st: Any) -> Any:
        """A Hypothesis strategy of lab panels drawn at a visit (``st``:
        ``hypothesis.strategies``), or ``None`` when visits draw none."""
        ...

    def random_finding(self, st: Any) -> Any:
        """A Hypothesis strategy of findings ``(id, payload)``."""
        ...

    def remission_panel(self) -> dict[str, float] | None:
        """A lab panel of full remission (``None``: the guideline draws no panels)."""
        ...


class AIHExplorer:
    """The AIH guideline's explorer: typical patients per triage branch, lab panels and
    findings on the thresholds' boundaries (:mod:`simulation.verify.boundaries`)."""

    def __init__(self, guideline: Guideline, thresholds: Any) -> None:
        self.th = thresholds
        self._panel: Any = None
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

    #: Lab trajectories each typical patient is followed on (see :meth:`trajectory_panel`).
    trajectories: tuple[str, ...] = ("halved", "normalised")

    def triage_starts(self) -> list[Start]:
        """Labs and weight on the triage thresholds' boundaries (:func:`triage_starts`)."""
        return triage_starts(self.th)

    def trajectory_panel(self, course: Course, kind: str) -> dict[str, float] | None:
        """The lab panel of the next visit on a lab trajectory, or ``None`` (values stand).

        ``unchanged``: the diagnosis labs stand. ``halved``: from week 4 the transaminases
        sit exactly at the non-response boundary (fallen by ``non_response_fall``), never
        normal. ``normalised``: halved from week 4, then ALT, AST and IgG exactly at the
        upper limit of normal from month 6.
        """
        th = self.th
        p = course.chart.model
        base, due = p.treatment_baseline, course.next_due()
        if kind == "unchanged" or base is None or base.alt_xuln is None or due is None:
            return None
        elapsed = due - (p.treatment_start_day or 0.0)
        keep = 1 - th.non_response_fall
        panel: dict[str, float] = {}
        if kind == "normalised" and elapsed >= th.cbr_assessment_days - 1:
            panel = {"alt_xuln": th.uln, "ast_xuln": th.uln, "igg_xuln": th.uln}
        elif elapsed >= th.non_response_check_days:
            panel = {"alt_xuln": round(base.alt_xuln * keep, 4)}
            if base.ast_xuln is not None:
                panel["ast_xuln"] = round(base.ast_xuln * keep, 4)
        latest = p.latest_panel()
        if not panel or all(getattr(latest, k) == v for k, v in panel.items()):
            return None
        return panel

    def probes(self) -> list[tuple[str, Any]]:
        """A lab result with one analyte at each of its boundary values."""
        return [
            ("labs", {analyte: value})
            for analyte, values in lab_boundaries(self.th).items()
            for value in sorted({v for v, _ in values})
        ]

    def random_panel(self, st: Any) -> Any:
        """Panels of one analyte or several, biased towards the boundary values."""
        if self._panel is not None:
            return self._panel
        bounds = lab_boundaries(self.th)
        analytes = sorted(bounds)

        def lab_value(analyte: str) -> Any:
            values = sorted({v for v, _ in bounds[analyte]})
            low, high = LAB_RANGES[analyte]
            top = min(high, max(values) * 3)
            return st.one_of(
                st.sampled_from(values),
                st.floats(low, top, allow_nan=False).map(lambda v: min(top, max(low, round(v, 2)))),
            )

        self._panel = st.sampled_from(analytes).flatmap(
            lambda a: st.fixed_dictionaries({a: lab_value(a)})
        ) | st.fixed_dictionaries({}, optional={a: lab_value(a) for a in analytes}).filter(bool)
        return self._panel

    def remission_panel(self) -> dict[str, float] | None:
        """ALT, AST and IgG at the upper limit of normal (complete biochemical response)."""
        th = self.th
        return {"alt_xuln": th.uln, "ast_xuln": th.uln, "igg_xuln": th.uln}

    def random_finding(self, st: Any) -> Any:
        """Labs, TPMT, intolerance, cytopenia, staging and the findings without payload."""
        return st.one_of(
            st.tuples(st.just("labs"), self.random_panel(st)),
            st.tuples(st.just("tpmt"), st.sampled_from(FINDING_VALUES["tpmt"])),
            st.tuples(st.just("intolerance"), st.sampled_from(FINDING_VALUES["intolerance"][:5])),
            st.tuples(st.just("cytopenia"), st.sampled_from(FINDING_VALUES["cytopenia"])),
            st.tuples(
                st.just("cirrhosis_diagnosed"),
                st.sampled_from(FINDING_VALUES["cirrhosis_diagnosed"]),
            ),
            st.tuples(st.sampled_from(PLAIN_FINDINGS), st.none()),
        )


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
        required = [
            f.name
            for f in fields(guideline.record)
            if f.default is MISSING and f.default_factory is MISSING and f.name != "patient_id"
        ]
        if required:
            raise ValueError(
                f"guideline {guideline.name!r}: its record needs {required} (no defaults), so "
                "the search has no patient to start from; name an explorer in the bundle "
                "(Guideline.explorer, simulation/verify/explorers.py EXPLORERS)"
            )

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
                now = getattr(record, finding, None)  # record None: every value
                out += [(finding, v) for v in self.boundaries[finding] if v != now]
            elif isinstance(kind, Sequence) and not isinstance(kind, str):
                out += [(finding, v) for v in kind]
            elif kind is None:
                out.append((finding, None))
        return out

    #: No lab trajectories: the guideline's own findings drive its courses.
    trajectories: tuple[str, ...] = ()

    def triage_starts(self) -> list[Start]:
        """None beyond :meth:`starts` (which already sit on the boundaries)."""
        return []

    def trajectory_panel(self, course: Course, kind: str) -> dict[str, float] | None:
        """None: values stand."""
        return None

    def probes(self) -> list[tuple[str, Any]]:
        """Each numeric finding at each of its boundary values."""
        return [(finding, v) for finding, values in self.boundaries.items() for v in values]

    def random_panel(self, st: Any) -> Any:
        """None: visits draw no panel."""
        return None

    def remission_panel(self) -> dict[str, float] | None:
        """None: visits draw no panel."""
        return None

    def random_finding(self, st: Any) -> Any:
        """One of the findings the search tries, with a payload it tries, from any record:
        every boundary value of a numeric finding, every allowed value of a finding with
        values, findings without payload (death left out)."""
        choices = self.finding_moves(None, set(self.guideline.findings))
        return st.sampled_from(choices) if choices else st.nothing()


#: Explorers by the name a bundle gives in ``Guideline.explorer``; a bundle that names none
#: gets a :class:`BundleExplorer`.
EXPLORERS: Final[dict[str, Callable[[Guideline, Any], Explorer]]] = {"aih": AIHExplorer}


def explorer_for(guideline: Guideline, thresholds: Any | None = None) -> Explorer:
    """The explorer of ``guideline`` at ``thresholds`` (default: the guideline's)."""
    th = thresholds if thresholds is not None else guideline.thresholds()
    if guideline.explorer and guideline.explorer not in EXPLORERS:
        raise ValueError(
            f"guideline {guideline.name!r} names explorer {guideline.explorer!r}; known: "
            f"{sorted(EXPLORERS)}"
        )
    return EXPLORERS.get(guideline.explorer, BundleExplorer)(guideline, th)
