"""Versioned JSON snapshots of a running pathway, and restore without entry actions.

A snapshot holds the configuration (every active state id, parallel regions included),
the history-state memory, the patient record, the options and thresholds, the pending
guideline timers as due days and the trace. :func:`restore` rebuilds the chart on that
configuration without running any entry action, so a resumed course continues exactly
where it stopped. This is how apps embed and resume a patient. Before anything is built,
:mod:`pathway.snapshot_checks` validates the whole snapshot; what it refuses is a
:class:`~pathway.errors.SnapshotError` naming the field.
"""

from __future__ import annotations

import json
import reprlib
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar, overload

from statemachine.orderedset import OrderedSet

from . import guidelines
from .errors import SnapshotError
from .records import record_to_dict
from .runtime import PathwayRuntime, document_order
from .snapshot_checks import check_pending_timers, check_snapshot

if TYPE_CHECKING:
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

_C = TypeVar("_C", bound=PathwayRuntime[Any])

SCHEMA = "carechart.pathway-snapshot"
SCHEMA_VERSION = 1


def _step_to_dict(step: Step) -> dict[str, Any]:
    return asdict(step)


def snapshot(chart: PathwayRuntime[Any]) -> dict[str, Any]:
    """A JSON-ready snapshot of ``chart`` (see the module docstring).

    Taken under the chart's lock, so that no step is half made while it is read.
    """
    with chart._lock:
        return _snapshot(chart)


def _snapshot(chart: PathwayRuntime[Any]) -> dict[str, Any]:
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


@overload
def restore(data: dict[str, Any], chart_class: None = None) -> PathwayRuntime[Any]: ...


@overload
def restore(data: dict[str, Any], chart_class: type[_C]) -> _C: ...


def restore(data: dict[str, Any], chart_class: type[Any] | None = None) -> Any:
    """Rebuild a pathway from :func:`snapshot` data; no entry action runs.

    The whole snapshot is validated first (:mod:`pathway.snapshot_checks`: types, ranges,
    the configuration against the chart's structure, the record against the configuration,
    the trace against itself), whichever engine ``chart_class`` is.

    Raises:
        SnapshotError: not a carechart snapshot, a newer or unknown version, or content the
            pathway could not have reached; ``field`` names the JSON path of the first fault.
    """
    if chart_class is None:
        chart_class = _chart_of(data)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise SnapshotError(f"not a carechart pathway snapshot (schema {SCHEMA!r} expected)")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SnapshotError(
            f"unknown snapshot version {reprlib.repr(version)}; expected {SCHEMA_VERSION}",
            "version",
            reprlib.repr(version),
            str(SCHEMA_VERSION),
        )
    if version > SCHEMA_VERSION:
        raise SnapshotError(
            f"snapshot version {version} is newer than this carechart reads "
            f"({SCHEMA_VERSION}); upgrade carechart",
            "version",
            repr(version),
            f"at most {SCHEMA_VERSION}",
        )
    checked = check_snapshot(data, chart_class)
    states = chart_class.states_map  # type: ignore[union-attr]
    record = checked.record
    # A model that already holds a configuration makes python-statemachine skip the
    # initial activation, so no entry action runs on restore.
    record.state = OrderedSet(checked.configuration)
    chart = chart_class(record, thresholds=checked.thresholds, options=checked.options)
    chart.history_values.update(
        {key: [states[s] for s in ids] for key, ids in checked.history.items()}
    )
    chart.trace.extend(checked.trace)
    chart._deviated = any(s.deviation for s in checked.trace)
    chart.monitor.violations.extend(checked.violations)
    chart.monitor._open = checked.open_violations
    if "pending_timers" in data:
        check_pending_timers(data["pending_timers"], chart)
    return chart


def _chart_of(data: Any) -> type[PathwayRuntime[Any]]:
    """The shipped guideline chart a snapshot names (the default guideline's when unnamed)."""
    name = data.get("chart") if isinstance(data, dict) else None
    for guideline_name in guidelines.NAMES:
        chart: type[PathwayRuntime[Any]] = guidelines.get(guideline_name).chart
        if chart.__name__ == name:
            return chart
    default: type[PathwayRuntime[Any]] = guidelines.get().chart
    return default


def to_json(chart: PathwayRuntime[Any]) -> str:
    """The snapshot as a JSON string (sorted keys, stable across runs; never NaN or Infinity)."""
    return json.dumps(snapshot(chart), sort_keys=True, indent=2, allow_nan=False)


def _no_constant(name: str) -> Any:
    raise SnapshotError(
        f"snapshot is not valid JSON: {name} is not a JSON number", "", name, "a finite number"
    )


@overload
def from_json(text: str, chart_class: None = None) -> PathwayRuntime[Any]: ...


@overload
def from_json(text: str, chart_class: type[_C]) -> _C: ...


def from_json(text: str, chart_class: type[Any] | None = None) -> Any:
    """Restore from a JSON string.

    Raises:
        SnapshotError: the text is not strict JSON (``NaN`` and ``Infinity`` are refused,
            as are nesting too deep and integers too long to read), or :func:`restore`
            refuses its content.
    """
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot is not valid JSON: {exc}") from None
    except RecursionError:
        raise SnapshotError("snapshot is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal beyond Python's digit limit
        raise SnapshotError(f"snapshot is not valid JSON: {exc}") from None
    return restore(data, chart_class)
