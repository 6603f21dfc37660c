"""The outputs of a small cohort of a guideline other than AIH (``simulate --guideline``).

``events.csv`` has the AIH run's columns (:data:`~simulation.results.outputs.EVENT_COLUMNS`,
rows from each chart's trace by :func:`~simulation.results.outputs.trace_events`);
``patients.csv`` holds what any guideline's course has: the final care state, the day of
death, follow-up, event, deviation and invariant-violation counts; ``summary.json`` the
run's settings and counts. Written all or nothing
(:class:`~simulation.results.outputs.OutputWriter`).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pathway import AnyPathway

from .outputs import EVENT_COLUMNS, OutputWriter, format_number, summary_json, trace_events

__all__ = ["PATIENT_COLUMNS", "write_guideline_outputs"]

PATIENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "final_care_state",
    "death_day",
    "followup_days",
    "events",
    "deviations",
    "invariant_violations",
)


def write_guideline_outputs(
    out: Path,
    charts: Sequence[AnyPathway],
    settings: dict[str, Any],
    *,
    horizon_days: float,
    force: bool = False,
) -> tuple[dict[str, Any], list[Path]]:
    """Write events.csv, patients.csv and summary.json of ``charts`` to ``out``.

    ``settings`` (guideline, seed, engine, ...) head summary.json. Returns the summary and
    the files published.
    """
    patients = io.StringIO()
    rows = csv.writer(patients, lineterminator="\n")
    rows.writerow(PATIENT_COLUMNS)
    events = [",".join(EVENT_COLUMNS) + "\n"]
    kinds: Counter[str] = Counter()
    finals: Counter[str] = Counter()
    deaths = violations = 0
    for chart in charts:
        record = chart.patient
        text, counts = trace_events(record.patient_id, chart.trace)
        events.append(text)
        kinds.update(counts)
        death = record.death_day
        deaths += death is not None
        violations += len(chart.violations)
        finals[chart.care_state] += 1
        rows.writerow(
            (
                record.patient_id,
                chart.care_state,
                format_number(death),
                format_number(death if death is not None else horizon_days),
                sum(counts.values()),
                sum(1 for s in chart.trace if s.deviation),
                len(chart.violations),
            )
        )
    summary = {
        **settings,
        "counts": {
            "patients": len(charts),
            "deaths": deaths,
            "invariant_violations": violations,
            "events": dict(sorted(kinds.items())),
        },
        "final_care_states": dict(sorted(finals.items())),
    }
    with OutputWriter(out, force=force) as writer:
        writer.write_text("patients.csv", patients.getvalue())
        writer.write_text("events.csv", "".join(events))
        writer.write_text("summary.json", summary_json(summary))
        published = writer.publish()
    return summary, list(published)
