"""Versioned JSON snapshots of a running pathway, and restore without entry actions.

A snapshot holds the configuration (every active state id, parallel regions included),
the history-state memory, the patient record, the options and thresholds, the pending
guideline timers as due days and the trace. :func:`restore` rebuilds the chart on that
configuration without running any entry action, so a resumed course continues exactly
where it stopped. This is how apps embed and resume a patient.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from statemachine.orderedset import OrderedSet

from .errors import SnapshotError
from .invariants import Violation
from .options import GuidelineOptions
from .patient import LabPanel, PatientRecord
from .rules import Breach
from .runtime import document_order
from .thresholds import Thresholds

if TYPE_CHECKING:
    from .chart import AIHPathway
    from .runtime import Step

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "from_json",
    "record_to_dict",
    "restore",
    "snapshot",
    "to_json",
]

SCHEMA = "carechart.pathway-snapshot"
SCHEMA_VERSION = 1


def record_to_dict(p: PatientRecord) -> dict[str, Any]:
    """The patient record as JSON-ready data (sets as sorted lists, panels as dicts)."""
    out: dict[str, Any] = {}
    for f in fields(p):
        if f.name == "state" or f.name.startswith("_"):
            continue  # the configuration is stored apart; private fields are derived
        value = getattr(p, f.name)
        if f.name == "labs":
            value = [asdict(panel) for panel in value]
        elif f.name == "treatment_baseline":
            value = None if value is None else asdict(value)
        elif f.name == "intolerant":
            value = sorted(value)
        elif f.name == "response_history":
            value = [list(item) for item in value]
        elif isinstance(value, dict):
            value = dict(value)
        out[f.name] = value
    return out


def record_from_dict(data: dict[str, Any]) -> PatientRecord:
    """Inverse of :func:`record_to_dict`."""
    known = {f.name for f in fields(PatientRecord) if f.name != "state" and f.name[0] != "_"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SnapshotError(f"snapshot record has unknown field(s) {unknown}")
    d = dict(data)
    d["labs"] = [LabPanel(**panel) for panel in d.get("labs", [])]
    if d.get("treatment_baseline") is not None:
        d["treatment_baseline"] = LabPanel(**d["treatment_baseline"])
    d["intolerant"] = set(d.get("intolerant", []))
    d["response_history"] = [(float(day), cls) for day, cls in d.get("response_history", [])]
    return PatientRecord(**d)


def _step_to_dict(step: Step) -> dict[str, Any]:
    d = asdict(step)
    return d


def _step_from_dict(d: dict[str, Any]) -> Step:
    from .runtime import Step, Transit

    return Step(
        index=d["index"],
        day=d["day"],
        kind=d["kind"],
        name=d["name"],
        detail=d["detail"],
        transits=tuple(
            Transit(t["event"], t["source"], t["target"], tuple(t["rule_ids"]))
            for t in d["transits"]
        ),
        configuration=tuple(d["configuration"]),
        deviation=d["deviation"],
        breaches=tuple(Breach(**b) for b in d["breaches"]),
        carried_out=d["carried_out"],
        violations=tuple(Violation(**v) for v in d["violations"]),
        recommended_by=tuple(d.get("recommended_by", ())),
    )


def snapshot(chart: AIHPathway) -> dict[str, Any]:
    """A JSON-ready snapshot of ``chart`` (see the module docstring)."""
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        # The pathway definition, whichever engine runs it (see pathway.compiled).
        "chart": getattr(type(chart), "definition", type(chart)).__name__,
        "configuration": sorted(
            (str(v) for v in chart.configuration_values),
            key=document_order(type(chart)).__getitem__,
        ),
        "history": {
            key: [s.id for s in states] for key, states in sorted(chart.history_values.items())
        },
        "record": record_to_dict(chart.model),
        "options": asdict(chart.options),
        "thresholds": asdict(chart.thresholds),
        "pending_timers": [asdict(t) for t in chart.pending_timers()],
        "trace": [_step_to_dict(s) for s in chart.trace],
        "violations": [asdict(v) for v in chart.violations],
        "open_violations": sorted(chart.monitor._open),
    }


def restore(data: dict[str, Any], chart_class: type[AIHPathway] | None = None) -> AIHPathway:
    """Rebuild a pathway from :func:`snapshot` data; no entry action runs.

    Raises:
        SnapshotError: not a carechart snapshot, a newer or unknown version, or a
            configuration naming states the chart does not have.
    """
    if chart_class is None:
        from .chart import AIHPathway

        chart_class = AIHPathway
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise SnapshotError(f"not a carechart pathway snapshot (schema {SCHEMA!r} expected)")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise SnapshotError(f"unknown snapshot version {version!r}; expected {SCHEMA_VERSION}")
    if version > SCHEMA_VERSION:
        raise SnapshotError(
            f"snapshot version {version} is newer than this carechart reads "
            f"({SCHEMA_VERSION}); upgrade carechart"
        )
    states = chart_class.states_map
    configuration = data.get("configuration") or []
    unknown = [s for s in configuration if s not in states]
    if unknown:
        raise SnapshotError(f"snapshot names unknown state(s) {unknown}; known: {sorted(states)}")
    try:
        record = record_from_dict(data["record"])
        options = GuidelineOptions(**data.get("options", {}))
        thresholds = Thresholds(**data.get("thresholds", {}))
        trace = [_step_from_dict(s) for s in data.get("trace", [])]
        violations = [Violation(**v) for v in data.get("violations", [])]
    except (KeyError, TypeError) as exc:
        raise SnapshotError(f"malformed snapshot: {exc}") from exc
    # A model that already holds a configuration makes python-statemachine skip the
    # initial activation, so no entry action runs on restore.
    record.state = OrderedSet(configuration)
    chart = chart_class(record, thresholds=thresholds, options=options)
    chart.history_values.update(
        {key: [states[s] for s in ids] for key, ids in data.get("history", {}).items()}
    )
    chart.trace.extend(trace)
    chart._deviated = any(s.deviation for s in trace)
    chart.monitor.violations.extend(violations)
    chart.monitor._open = set(data.get("open_violations", []))
    return chart


def to_json(chart: AIHPathway) -> str:
    """The snapshot as a JSON string (sorted keys, stable across runs)."""
    return json.dumps(snapshot(chart), sort_keys=True, indent=2)


def from_json(text: str, chart_class: type[AIHPathway] | None = None) -> AIHPathway:
    """Restore from a JSON string; invalid JSON raises :class:`SnapshotError`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot is not valid JSON: {exc}") from None
    return restore(data, chart_class)
