"""Write a course as a scenario file (shared/spec/scenario-format.md).

Counterexamples (``carechart check``) and generated scenarios (``carechart generate``)
are courses found by a search; this module writes them as ordinary scenario files that a
guideline author can read and ``carechart replay`` can run. The text is built by hand, in
the order of the format's example, so that it reads like the hand-written scenarios.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pathway.guidelines import DEFAULT
from pathway.guidelines.aih.vocabulary import CARE_STATES

from ..run.engine import Occurrence
from .scenario import PatientSpec

__all__ = ["ExpectationSpec", "render_scenario"]


@dataclass
class ExpectationSpec:
    """One ``expect`` entry: the day and the checks (keys of the scenario format)."""

    day: float
    checks: dict[str, Any] = field(default_factory=dict)


def _num(value: float) -> str:
    if isinstance(value, bool):
        raise TypeError("a number is expected")
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(float(value))
    return text if math.isfinite(value) else "0"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _num(value)
    return str(value)


def _flow(mapping: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in mapping.items()) + "}"


def _ids(values: Sequence[str] | str) -> str:
    if isinstance(values, str):
        return values
    return "[" + ", ".join(values) + "]"


def _folded(text: str, indent: str = "  ", width: int = 92) -> list[str]:
    words = text.split()
    lines: list[str] = []
    line = ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(indent + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(indent + line)
    return lines


def render_scenario(
    *,
    name: str,
    description: str,
    patient: PatientSpec | tuple[tuple[str, Any], ...],
    labs: dict[str, float],
    timeline: Iterable[Occurrence],
    expect: Iterable[ExpectationSpec],
    horizon_days: float,
    violates: Sequence[str] = (),
    guideline: str = DEFAULT,
) -> str:
    """The scenario as YAML text.

    Args:
        name: one-line title.
        description: free text (folded at about 90 characters).
        patient: the patient at diagnosis (an AIH patient, or another guideline's record
            fields as ``(name, value)`` pairs).
        labs: the baseline panel (day 0).
        timeline: findings and scripted actions in day order.
        expect: expectations in day order.
        horizon_days: how long the course runs.
        violates: invariant rule ids the story exists to show.
        guideline: the guideline it runs (a registry name; written unless it is AIH).

    Returns:
        The file's text, ending with a newline.
    """
    out = [f"guideline: {guideline}"] if guideline != DEFAULT else []
    out += [f"name: {_quote(name)}", "description: >", *_folded(description)]
    if not isinstance(patient, PatientSpec):
        out.append("patient:" if patient else "patient: {}")
        out.extend(f"  {k}: {_scalar(v)}" for k, v in patient)
        return _rest(out, labs, timeline, expect, horizon_days, violates)
    out.append("patient:")
    out.append(f"  age: {_num(patient.age)}")
    out.append(f"  sex: {patient.sex}")
    out.append(f"  weight_kg: {_num(patient.weight_kg)}")
    if patient.cirrhosis != "none":
        out.append(f"  cirrhosis: {patient.cirrhosis}")
    if patient.presentation != "chronic":
        out.append(f"  presentation: {patient.presentation}")
    out.append(f"  tpmt: {patient.tpmt}")
    if patient.pregnant:
        out.append("  pregnant: true")
    return _rest(out, labs, timeline, expect, horizon_days, violates)


def _rest(
    out: list[str],
    labs: dict[str, float],
    timeline: Iterable[Occurrence],
    expect: Iterable[ExpectationSpec],
    horizon_days: float,
    violates: Sequence[str],
) -> str:
    """The scenario's text after its patient: labs, timeline, expectations, horizon."""
    if labs:
        out.append("labs:")
        out.extend(f"  {k}: {_num(v)}" for k, v in labs.items())
    entries = list(timeline)
    if entries:
        out.append("timeline:")
        for occ in entries:
            out.append(f"  - day: {_num(occ.day)}")
            if occ.kind == "action":
                out.append(f"    action: {occ.name}")
            elif isinstance(occ.value, dict):
                out.append(f"    {occ.name}: {_flow(occ.value)}")
            elif occ.value is None:
                out.append(f"    {occ.name}: true")
            else:
                out.append(f"    {occ.name}: {_scalar(occ.value)}")
    checks = [e for e in expect if e.checks]
    if checks:
        out.append("expect:")
        for exp in checks:
            out.append(f"  - day: {_num(exp.day)}")
            for key, value in exp.checks.items():
                if isinstance(value, dict):
                    out.append(f"    {key}: {_flow(value)}")
                elif isinstance(value, list | tuple):
                    out.append(f"    {key}: {_ids(list(value))}")
                else:
                    out.append(f"    {key}: {_scalar(value)}")
    if violates:
        out.append(f"violates: {_ids(list(violates))}")
    out.append(f"horizon_days: {_num(horizon_days)}")
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    if any(ch in text for ch in ":#{}[],&*!|>'\"%@`") or text != text.strip():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def care_states_of(active: Iterable[str], care_states: Sequence[str] = CARE_STATES) -> list[str]:
    """The vocabulary care states (default: AIH's) in a configuration, in vocabulary order."""
    active = set(active)
    return [s for s in care_states if s in active]
