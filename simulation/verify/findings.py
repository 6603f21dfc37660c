"""Verification findings and the declarations that accept some of them as by design.

Every check of ``carechart check`` (structure, catalogue, gaps and overlaps) reports
:class:`Finding` objects. A guideline author can accept a finding as intended by listing it
in ``simulation/data/declared_findings.yaml`` with a reason and the rule id behind the
design; ``check`` then shows it as declared and does not fail on it. A declaration that no
longer matches any finding is itself reported (``stale-declaration``), so the file cannot
silently drift from the pathway.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pathway import RULES

from ..input_files import InputFileError, compose_yaml, read_input_file

__all__ = [
    "CODES",
    "DEFAULT_DECLARATIONS",
    "Declaration",
    "DeclarationError",
    "Finding",
    "apply_declarations",
    "load_declarations",
]

Severity = Literal["error", "warning"]
Category = Literal["structure", "catalogue", "gap", "overlap", "safety"]

#: Every finding code, its category and what it means (used in reports and docs).
CODES: dict[str, tuple[Category, str]] = {
    "unreachable-state": ("structure", "no sequence of transitions enters the state"),
    "dead-end": ("structure", "a non-final atomic state that no transition leaves"),
    "no-final-path": ("structure", "no path from the state to a final state"),
    "trap-state": (
        "structure",
        "a waiting care state that no timer or finding can move; only a clinician action can",
    ),
    "invalid-history": (
        "structure",
        "a history state outside a compound state or with a bad default target",
    ),
    "duplicate-transition": ("structure", "two transitions share event, source and target"),
    "shadowed-transition": (
        "structure",
        "a transition listed after an unguarded one for the same event and source: never taken",
    ),
    "unhandled-finding": (
        "structure",
        "a finding that some configurations cannot handle (an error if it happens there)",
    ),
    "unhandled-timer": ("structure", "a timer armed in a state whose sub-states cannot handle it"),
    "missing-guard": ("structure", "a guard names a method the chart does not have"),
    "unguarded-action": (
        "catalogue",
        "a clinician action's transition without its permission guard may_<action>",
    ),
    "misplaced-permission": (
        "catalogue",
        "a permission guard may_<action> on a transition of another event",
    ),
    "unruled-transition": ("catalogue", "a transition that names no guideline rule"),
    "unknown-rule": ("catalogue", "a rule id that the catalogue does not list"),
    "unused-rule": ("catalogue", "a catalogued rule that nothing in the pathway uses"),
    "unknown-source": ("catalogue", "a citation of a source the knowledge base does not list"),
    "bad-timer": ("catalogue", "a timer naming an unknown state, event, threshold or rule"),
    "uncited-threshold": ("catalogue", "a threshold without sources and tag"),
    "unused-threshold": ("catalogue", "a cited threshold that no rule, dose or timer reads"),
    "missing-vocabulary": ("catalogue", "a vocabulary id the chart does not define"),
    "gap": ("gap", "a living patient with no recommendation, or an event nothing handles"),
    "overlap": (
        "overlap",
        "two guarded transitions of one event from one state both enabled to different "
        "targets, two actions tied at the top rank, or two response classes holding at once",
    ),
    "unsafe": ("safety", "following the guideline broke a hard safety invariant"),
    "crash": ("safety", "a guard, action or rule raised an error"),
    "stale-declaration": ("catalogue", "a declared finding that no longer occurs"),
}


@dataclass(frozen=True)
class Finding:
    """One problem found by ``carechart check``.

    Attributes:
        code: what kind of problem (a key of :data:`CODES`).
        subject: what it is about: a state id, a transition, a rule id, a threshold name
            or, for gaps and overlaps, ``<event or care state>@<state>``.
        message: one sentence for people.
        severity: ``error`` or ``warning``.
        rule_ids: guideline rules involved.
        details: JSON-ready facts (configuration, day, values, competing targets, ...).
        counterexample: for gaps and overlaps, a scenario file (YAML text) that replays it.
        declared: the reason from the declarations file when the finding is accepted as
            by design, else ``None``.
    """

    code: str
    subject: str
    message: str
    severity: Severity = "error"
    rule_ids: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    counterexample: str | None = None
    declared: str | None = None

    @property
    def category(self) -> Category:
        """``structure``, ``catalogue``, ``gap``, ``overlap`` or ``safety``."""
        return CODES[self.code][0]

    def to_json(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return {
            "code": self.code,
            "category": self.category,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "rule_ids": list(self.rule_ids),
            "details": self.details,
            "counterexample": self.counterexample,
            "declared": self.declared,
        }


class DeclarationError(ValueError):
    """The declarations file is invalid (names the file, the entry and the problem)."""


@dataclass(frozen=True)
class Declaration:
    """A finding accepted as by design: its code and subject, the reason and the rule."""

    code: str
    subject: str
    reason: str
    rule_id: str
    index: int


DEFAULT_DECLARATIONS = Path(__file__).parent.parent / "data" / "declared_findings.yaml"

_KEYS = ("code", "subject", "reason", "rule_id")


def load_declarations(path: str | os.PathLike[str] | None = None) -> list[Declaration]:
    """Read and validate a declarations file (default: the shipped one).

    Raises:
        DeclarationError: unreadable YAML, a missing or unknown key, an unknown finding code
            or rule id, an empty reason.
    """
    file = Path(path) if path is not None else DEFAULT_DECLARATIONS
    if not file.exists():
        if path is None:
            return []
        raise DeclarationError(f"{file}: no such declarations file")
    try:
        root = compose_yaml(read_input_file(file), str(file))  # limits: see input_files
    except InputFileError as exc:
        raise DeclarationError(str(exc)) from None
    if root is None:
        return []
    data = root.plain()
    if not isinstance(data, dict) or not isinstance(data.get("declared"), list):
        raise DeclarationError(f"{file}: expected a mapping with a 'declared' list")
    items = root.value["declared"][1].value  # the entries with their positions
    out: list[Declaration] = []
    for i, entry in enumerate(data["declared"], start=1):
        where = f"{file}:{items[i - 1].line}: entry {i}"
        if not isinstance(entry, dict):
            raise DeclarationError(f"{where}: expected a mapping (got {entry!r})")
        unknown = sorted(set(entry) - set(_KEYS))
        missing = [k for k in _KEYS if k not in entry]
        if unknown or missing:
            raise DeclarationError(
                f"{where}: keys must be {list(_KEYS)} (unknown {unknown}, missing {missing})"
            )
        code, subject = str(entry["code"]), str(entry["subject"])
        reason, rule_id = " ".join(str(entry["reason"]).split()), str(entry["rule_id"])
        if code not in CODES:
            raise DeclarationError(f"{where}: unknown finding code {code!r}; known: {list(CODES)}")
        if rule_id not in RULES:
            raise DeclarationError(f"{where}: unknown rule id {rule_id!r}")
        if not reason:
            raise DeclarationError(f"{where}: 'reason' must say why this is by design")
        out.append(Declaration(code, subject, reason, rule_id, i))
    return out


def apply_declarations(
    findings: Iterable[Finding],
    declarations: Sequence[Declaration],
    *,
    stale_codes: Iterable[str] | None = None,
    unmet: list[Declaration] | None = None,
) -> list[Finding]:
    """Mark declared findings and add a ``stale-declaration`` finding for unused ones.

    Args:
        findings: the findings of a check run.
        declarations: the accepted findings.
        stale_codes: codes whose checks are complete (static checks); a declaration of one
            of these codes that matches nothing is stale. ``None``: every code.
        unmet: when given, receives the declarations of other codes (found by a search,
            which cannot prove an absence) that this run did not meet.

    Returns:
        The findings (declared ones with ``declared`` set), then any stale declarations.
    """
    by_key = {(d.code, d.subject): d for d in declarations}
    used: set[tuple[str, str]] = set()
    out: list[Finding] = []
    for f in findings:
        d = by_key.get((f.code, f.subject))
        if d is not None:
            used.add((d.code, d.subject))
            f = replace(f, declared=f"{d.reason} ({d.rule_id})")
        out.append(f)
    complete = None if stale_codes is None else set(stale_codes)
    for d in declarations:
        if (d.code, d.subject) in used:
            continue
        if complete is not None and d.code not in complete:
            if unmet is not None:
                unmet.append(d)
            continue
        out.append(
            Finding(
                "stale-declaration",
                f"{d.code}@{d.subject}",
                f"declaration #{d.index} ({d.code} {d.subject!r}) matches no finding; "
                "remove it or fix its subject",
                "error",
                (d.rule_id,),
            )
        )
    return out
