"""A small cohort of any guideline that has a patient model: the engine's seam for simulation.

``carechart simulate`` runs the AIH guideline with its disease model and writes the AIH
outputs (:mod:`simulation.run.cohort`). :func:`run_guideline_cohort` runs any guideline
whose bundle names a patient model in
:data:`~simulation.model.registry.PATIENT_MODELS` through the same SimPy engine
(:func:`~simulation.run.engine.run_patient`), guideline policy and per-patient random
generators, and returns the finished charts (their traces are the results).
"""

from __future__ import annotations

from typing import Any

from pathway import AnyPathway
from pathway.bundle import Guideline
from pathway.executor import compiled_class

from ..model.policies import GuidelinePolicy
from ..model.registry import PATIENT_MODELS
from .cohort import patient_rng
from .engine import run_patient

__all__ = ["run_guideline_cohort"]


def run_guideline_cohort(
    guideline: Guideline,
    patients: int,
    *,
    seed: int,
    years: float,
    engine: str = "compiled",
    chart_class: type[Any] | None = None,
) -> list[AnyPathway]:
    """Simulate ``patients`` patients of ``guideline`` for ``years``; return their charts.

    Patient ``i`` draws from :func:`~simulation.run.cohort.patient_rng` ``(seed, i)``, so a
    run is reproducible. ``engine`` is ``compiled`` or ``reference``; ``chart_class``
    (an instrumented chart, say) replaces it.

    Raises:
        ValueError: the guideline has no patient model here, or a bad count or engine.
    """
    factory = PATIENT_MODELS.get(guideline.patient_model)
    if factory is None:
        raise ValueError(
            f"guideline {guideline.name!r} has no patient model for a small cohort "
            f"(models: {sorted(PATIENT_MODELS)})"
        )
    if patients < 1 or not years > 0:
        raise ValueError(f"need patients >= 1 and years > 0 (got {patients}, {years})")
    engines = {"compiled": compiled_class(guideline.chart), "reference": guideline.chart}
    if chart_class is None and engine not in engines:
        raise ValueError(f"unknown engine {engine!r}; expected one of {sorted(engines)}")
    cls = chart_class or engines[engine]
    width = max(5, len(str(patients)))
    charts: list[AnyPathway] = []
    for index in range(patients):
        record, model = factory(f"P{index + 1:0{width}d}", patient_rng(seed, index))
        chart = cls(record, strict_invariants=False)
        charts.append(
            run_patient(chart, model, horizon_days=years * 365.25, policy=GuidelinePolicy())
        )
    return charts
