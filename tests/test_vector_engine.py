"""The vector engine (a block of patients as columns, in lockstep rounds) writes the
compiled engine's events.csv and patients.csv byte for byte (issue 14).

The chart side is columnar (:class:`pathway.block.BlockPathway` through
:class:`simulation.run.block_charts.BlockCharts`); the patient model is still one scalar
model per patient, reading each row's record made from the columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway import Thresholds
from pathway.block import BlockPathway
from simulation.cli.main import main
from simulation.model.policies import STRATEGIES
from simulation.run.cohort import run_cohort
from simulation.run.sweep import Range, run_sweep

#: Strategies the vector engine runs: the guideline policy and those that only set options.
_OPTION_ONLY = sorted(n for n, s in STRATEGIES.items() if not s.prefer and not s.avoid)


def _outputs(**kw: Any) -> tuple[str, str]:
    r = run_cohort(workers=1, **kw)
    return r.events_csv(), r.patients_csv()


def test_default_cohort_on_the_vector_engine_is_byte_identical() -> None:
    """40 patients x 10 years in one block: events.csv and patients.csv as compiled."""
    common: dict[str, Any] = {"patients": 40, "years": 10, "seed": 20251205}
    events, patients = _outputs(**common)
    assert _outputs(engine="vector", block=40, **common) == (events, patients)
    assert events.count("\n") > 40 * 20


def test_timers_of_one_event_fire_as_one_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AIH guideline's monitoring timers share an event: the block fires different
    timers of it in one call, and the outputs stay the compiled engine's."""
    mixed: list[int] = []
    fire = BlockPathway.fire

    def spy(self: BlockPathway, rows: Any, timer_id: Any, day: Any) -> Any:
        if not isinstance(timer_id, str):
            mixed.append(len(set(timer_id)))
        return fire(self, rows, timer_id, day)

    monkeypatch.setattr(BlockPathway, "fire", spy)
    common: dict[str, Any] = {"patients": 30, "years": 4, "seed": 11}
    assert _outputs(engine="vector", block=30, **common) == _outputs(**common)
    assert max(mixed) > 1  # some call fired several timers


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    policy=st.sampled_from(_OPTION_ONLY),
    patients=st.integers(1, 10),
    years=st.sampled_from([0.1, 1.0, 3.0]),
    block=st.integers(1, 10),
    override=st.sampled_from([None, ("relapse_alt_xuln", 2.0), ("cbr_assessment_days", 120.0)]),
)
def test_vector_equals_compiled_for_any_cohort(
    seed: int,
    policy: str,
    patients: int,
    years: float,
    block: int,
    override: tuple[str, float] | None,
) -> None:
    """Any seed, option-only policy, size, horizon, block size and threshold override."""
    th = Thresholds() if override is None else Thresholds().with_overrides(**dict([override]))
    common: dict[str, Any] = {
        "patients": patients,
        "years": years,
        "seed": seed,
        "policy": policy,
        "thresholds": th,
    }
    assert _outputs(engine="vector", block=block, **common) == _outputs(**common)


def test_strategies_that_prefer_or_avoid_are_refused() -> None:
    """The block's policy loop is the guideline's: a strategy bending it is refused; so is a
    chart class, which a block of columns has no use for."""
    with pytest.raises(ValueError, match="prefers or avoids"):
        run_cohort(patients=2, years=1, engine="vector", policy="prednisolone_all")
    with pytest.raises(ValueError, match="'chart_class' needs a chart engine"):
        run_cohort(patients=2, years=1, engine="vector", chart_class=Thresholds)


def test_simulate_command_with_the_vector_engine(tmp_path: Path) -> None:
    """``carechart simulate --engine vector`` on 2 workers writes the default's files."""
    common = ["simulate", "--patients", "8", "--years", "2", "--seed", "3"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*common, "--workers", "1", "--out", str(a)]) == 0
    assert main([*common, "--workers", "2", "--engine", "vector", "--out", str(b)]) == 0
    for name in ("events.csv", "patients.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    bad = [*common, "--engine", "vector", "--policy", "prednisolone_all", "--out", str(b)]
    assert main([*bad, "--force"]) == 2


def test_a_sweep_on_the_vector_engine_equals_the_compiled_sweep() -> None:
    """A parameter sweep's draws and outcomes do not depend on the engine."""
    ranges = [Range("liver.hcc_per_1000py_cirrhosis", 1.0, 60.0)]
    kw: dict[str, Any] = {"draws": 2, "patients": 6, "years": 3, "seed": 4, "workers": 1}
    assert run_sweep(ranges, engine="vector", **kw).to_json() == run_sweep(ranges, **kw).to_json()


def test_a_failing_group_call_says_it_cannot_tell_which_row() -> None:
    """An impossible finding sent for two rows together fails the group's call; the error
    names the group's first row and says it was one of two."""
    from pathway import PatientRecord
    from pathway.block import BlockPathway
    from pathway.guidelines.aih.block import AIH_BLOCK
    from simulation.model.scripted import ScriptedPatient
    from simulation.run.block_charts import BlockCharts
    from simulation.run.engine import Occurrence
    from simulation.run.lockstep import RowError, run_lockstep

    records = [PatientRecord(f"P{i}", age=40.0 + i, sex="F", weight_kg=70.0) for i in range(3)]
    labs = {"alt_xuln": 8.0, "ast_xuln": 6.0, "igg_xuln": 1.6}
    models = [
        ScriptedPatient(
            [Occurrence(0.0, "finding", "labs", labs)],
            [Occurrence(10.0, "finding", "delivered")] if i else [],
        )
        for i in range(3)
    ]
    block = BlockCharts(BlockPathway(AIH_BLOCK, records, strict_invariants=False))
    with pytest.raises(RowError) as info:
        run_lockstep(block, models, 100.0)
    assert (info.value.row, info.value.group) == (1, 2)


def test_acute_and_decompensated_cohorts_on_the_vector_engine() -> None:
    """A cohort heavy in acute presentations, decompensation and TPMT deficiency (the rare
    branches: emergency transplant, steroid trials, recompensation, no azathioprine)."""
    from simulation.model.parameters import load_parameters
    from simulation.run.cohort import apply_overrides, load_cohort

    sets = [
        "cohort.presentation.chronic=0.4",
        "cohort.presentation.acute_severe=0.4",
        "cohort.presentation.acute_liver_failure=0.2",
        "cohort.cirrhosis.none=0.4",
        "cohort.cirrhosis.compensated=0.3",
        "cohort.cirrhosis.decompensated=0.3",
        "cohort.tpmt.normal=0.7",
        "cohort.tpmt.deficient=0.2",
    ]
    cohort, params, th = apply_overrides(load_cohort(), load_parameters(), sets)
    common: dict[str, Any] = {"parameters": params, "thresholds": th, "years": 4, "seed": 2}
    compiled = run_cohort(cohort, patients=40, workers=1, **common)
    vector = run_cohort(cohort, patients=40, workers=1, engine="vector", **common)
    assert vector.events_csv() == compiled.events_csv()
    assert vector.patients_csv() == compiled.patients_csv()
    assert "transplanted" in compiled.events_csv()


def test_vector_blocks_on_a_dask_local_cluster() -> None:
    """Blocks of the vector engine run as Dask tasks give the local compiled outputs."""
    pytest.importorskip("distributed")
    common: dict[str, Any] = {"patients": 20, "years": 2, "seed": 8}
    compiled = _outputs(**common)
    remote = run_cohort(workers=2, engine="vector", dask="local", **common)
    assert (remote.events_csv(), remote.patients_csv()) == compiled


def test_calibration_on_the_vector_engine_measures_what_compiled_measures() -> None:
    """``calibrate --engine vector``: the same figures; a target whose policy prefers an
    action (budesonide when eligible) runs on the compiled engine."""
    from simulation.results.calibration.runner import run_calibration
    from simulation.results.calibration.targets import load_targets

    wanted = {"camaro-mmf", "manns10-budesonide", "tellez22-steroid-failure"}
    targets = tuple(t for t in load_targets() if t.id in wanted)
    assert len(targets) == 3

    def figures(engine: str) -> list[tuple[str, Any, Any]]:
        result = run_calibration(targets, patients=8, seed=3, engine=engine)
        return [(r.target.id, r.simulated, r.n) for r in result.results]

    compiled = figures("compiled")
    assert figures("vector") == compiled
    assert all(n > 0 for _, _, n in compiled)  # every target measured something
