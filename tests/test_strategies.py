"""Named clinician strategies and the guideline's safety over simulated cohorts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pathway import AIHPathway, PatientRecord
from simulation.model.disease import DiseaseModel, ModelConstants
from simulation.model.parameters import load_parameters
from simulation.model.policies import get_strategy
from simulation.run.cohort import load_cohort, run_cohort
from simulation.run.engine import run_patient


def _course(strategy: str, **record: Any) -> AIHPathway:
    s = get_strategy(strategy)
    rec = PatientRecord("s1", **{"age": 40, "sex": "F", "weight_kg": 70, **record})
    model = DiseaseModel(
        rec,
        ModelConstants.from_parameters(load_parameters()),
        np.random.default_rng(4),
        tpmt="normal",
    )
    chart = AIHPathway(rec, options=s.options)
    return run_patient(chart, model, horizon_days=120, policy=s.policy())


def _actions(chart: AIHPathway) -> list[str]:
    return [step.name for step in chart.trace if step.kind == "action"]


def test_budesonide_when_eligible_starts_budesonide() -> None:
    """A chronic, non-cirrhotic patient starts budesonide under budesonide_when_eligible."""
    assert "start_budesonide" in _actions(_course("budesonide_when_eligible"))
    assert "start_budesonide" not in _actions(_course("guideline"))


def test_budesonide_never_in_cirrhosis() -> None:
    """Budesonide stays forbidden in cirrhosis (INV-01) even for the budesonide strategy."""
    chart = _course("budesonide_when_eligible", cirrhosis="compensated")
    assert "start_budesonide" not in _actions(chart)
    assert chart.violations == []


def test_prednisolone_all_never_takes_budesonide() -> None:
    """prednisolone_all starts predniso(lo)ne."""
    actions = _actions(_course("prednisolone_all"))
    assert "start_prednisolone" in actions
    assert "start_budesonide" not in actions


def test_mmf_first_line_adds_mycophenolate() -> None:
    """mmf_first_line adds mycophenolate, not azathioprine, in first line."""
    actions = _actions(_course("mmf_first_line"))
    assert "add_mycophenolate" in actions
    assert "add_azathioprine" not in actions


def test_guideline_breaks_no_hard_invariant_fast() -> None:
    """Over 60 simulated patients x 10 years, the guideline policy breaks no invariant."""
    result = run_cohort(load_cohort(), patients=60, years=10, seed=101, workers=1)
    assert sum(result.violations().values()) == 0
    assert result.counts()["deviations"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["guideline", "mmf_first_line", "budesonide_when_eligible"])
def test_no_hard_invariant_over_a_few_hundred_patients(policy: str) -> None:
    """300 patients x 10 years under each strategy: no invariant violation, no crash."""
    result = run_cohort(load_cohort(), patients=300, years=10, seed=202, workers=2, policy=policy)
    assert sum(result.violations().values()) == 0
