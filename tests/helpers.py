"""Helpers shared by the tests: typical patients and short scripted courses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pathway import AIHPathway, PatientRecord

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

ACTIVE_LABS = {
    "alt_xuln": 8.0,
    "ast_xuln": 6.0,
    "igg_xuln": 1.5,
    "bilirubin_mg_dl": 1.2,
    "inr": 1.1,
}
NORMAL_LABS = {"alt_xuln": 0.4, "ast_xuln": 0.5, "igg_xuln": 0.6}


def record(**overrides: Any) -> PatientRecord:
    """A typical adult patient; override any attribute."""
    attrs: dict[str, Any] = {
        "patient_id": "t1",
        "age": 45,
        "sex": "F",
        "weight_kg": 70,
        "tpmt": "normal",
    }
    attrs.update(overrides)
    return PatientRecord(**attrs)


def new_chart(labs: dict[str, float] | None = None, **overrides: Any) -> AIHPathway:
    """A chart at diagnosis with baseline labs observed at day 0 (regions synchronised)."""
    from simulation.model.scripted import baseline_occurrences

    rec = record(**overrides)
    chart = AIHPathway(rec)
    for occ in baseline_occurrences(rec, ACTIVE_LABS if labs is None else labs):
        chart.observe(occ.name, occ.value, day=0)
    return chart


def course(
    timeline: list[tuple[float, str, Any]],
    horizon_days: float,
    labs: dict[str, float] | None = None,
    **overrides: Any,
) -> AIHPathway:
    """Run a scripted course under the guideline policy: ``(day, finding|"action", value)``."""
    from simulation.model.scripted import ScriptedPatient, baseline_occurrences
    from simulation.run.engine import Occurrence, run_patient

    rec = record(**overrides)
    occs = [
        Occurrence(d, "action", v) if n == "action" else Occurrence(d, "finding", n, v)
        for d, n, v in timeline
    ]
    model = ScriptedPatient(baseline_occurrences(rec, ACTIVE_LABS if labs is None else labs), occs)
    return run_patient(AIHPathway(rec), model, horizon_days=horizon_days)
