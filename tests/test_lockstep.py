"""Lockstep rounds give every patient the course the SimPy engine gives it (issue 14).

The lockstep driver (:mod:`simulation.run.lockstep`) steps a block's courses together and
makes their calls to the chart in groups; over ordinary charts it must change nothing,
which is what makes it the reference for a columnar block.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway import Thresholds
from pathway.guidelines import get
from simulation.model.policies import STRATEGIES, GuidelinePolicy
from simulation.model.scripted import ScriptedPatient
from simulation.run.cohort import SimulationError, run_cohort
from simulation.run.engine import run_patient
from simulation.run.lockstep import ChartList, ModelList, RowError, run_lockstep
from simulation.scenarios.scenario import find_scenario_files, load_scenario


def _outputs(**kw: Any) -> tuple[str, str]:
    r = run_cohort(workers=1, **kw)
    return r.events_csv(), r.patients_csv()


def test_default_cohort_in_lockstep_is_byte_identical() -> None:
    """events.csv and patients.csv of 60 patients x 10 years: lockstep = compiled."""
    common: dict[str, Any] = {"patients": 60, "years": 10, "seed": 20251205}
    events, patients = _outputs(**common)
    assert _outputs(engine="lockstep", **common) == (events, patients)
    assert events.count("\n") > 60 * 20  # real courses, not empty outputs


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    policy=st.sampled_from(sorted(STRATEGIES)),
    patients=st.integers(1, 12),
    years=st.sampled_from([0.25, 1.0, 4.0, 10.0]),
    block=st.integers(1, 12),
    relapse=st.sampled_from([None, 2.0, 5.0]),
)
def test_lockstep_equals_compiled_for_any_cohort(
    seed: int, policy: str, patients: int, years: float, block: int, relapse: float | None
) -> None:
    """Any seed, policy, block size, horizon and threshold override: identical outputs."""
    th = Thresholds() if relapse is None else Thresholds().with_overrides(relapse_alt_xuln=relapse)
    common: dict[str, Any] = {
        "patients": patients,
        "years": years,
        "seed": seed,
        "policy": policy,
        "thresholds": th,
        "block": block,
    }
    assert _outputs(engine="lockstep", **common) == _outputs(**common)


def _scripted() -> list[tuple[Any, Any, float]]:
    """Every shipped AIH scenario, fresh, as (chart, scripted model, horizon in days)."""
    out = []
    for file in find_scenario_files(["scenarios"]):
        scenario = load_scenario(file)
        if scenario.guideline != "aih":
            continue
        record = scenario.record()
        model = ScriptedPatient(scenario.baseline(record), scenario.occurrences())
        out.append((get("aih").chart(record), model, scenario.horizon_days))
    return out


def test_scenarios_in_one_block_match_their_own_runs() -> None:
    """The shipped scenarios (scripted actions: the clinician is scripted on those days),
    run together in blocks (one per horizon), give the traces and records of their runs
    one by one."""
    alone, together = [], []
    for (chart, model, horizon), (chart2, model2, _) in zip(_scripted(), _scripted(), strict=True):
        try:
            run_patient(chart, model, horizon_days=horizon, policy=GuidelinePolicy())
        except Exception:
            continue  # a scenario that stops on an error is tested below
        alone.append(chart)
        together.append((chart2, model2, horizon))
    assert len(together) > 30
    # The driver takes one horizon per block: the courses are grouped by theirs.
    for horizon in sorted({h for _, _, h in together}):
        group = [(c, m) for c, m, h in together if h == horizon]
        block = ChartList([c for c, _ in group], [GuidelinePolicy() for _ in group])
        stats = run_lockstep(block, [m for _, m in group], horizon)
        assert stats.calls >= len(group)
    for a, (b, _, _) in zip(alone, together, strict=True):
        assert b.trace == a.trace
        assert b.patient == a.patient


def test_calls_are_grouped_across_patients() -> None:
    """A round holds many patients' calls: fewer groups than calls, fewer rounds than steps."""
    from simulation.model.disease import ModelConstants
    from simulation.model.parameters import load_parameters
    from simulation.run.cohort import RunSettings, load_cohort, start_patient

    params = load_parameters()
    cohort = load_cohort()
    s = RunSettings(cohort, params, Thresholds(), 7, "guideline", 5 * 365.25)
    constants = ModelConstants.from_parameters(params)
    patients = [start_patient(s, i, constants) for i in range(40)]
    block = ChartList([p.chart for p in patients], [p.policy for p in patients])
    stats = run_lockstep(block, [p.model for p in patients], s.horizon_days)
    steps = sum(len(p.chart.trace) for p in patients)
    assert stats.calls <= steps  # actions the policy takes are steps, not calls
    assert stats.call_groups < stats.calls / 2  # 40 patients: about 3 calls per group
    assert stats.rounds < stats.calls / 10
    assert stats.decisions > 0
    assert stats.decision_groups <= stats.rounds


class _Failing:
    """A patient model whose course fails when asked for its next day after ``day``."""

    def __init__(self, model: Any, day: float) -> None:
        self.model, self.day = model, day

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def next_day(self, chart: Any) -> Any:
        if chart.patient.day >= self.day:
            raise RuntimeError("model broke")
        return self.model.next_day(chart)


def test_a_failing_course_names_its_row() -> None:
    """The row whose course fails is named; the error is the cause."""
    runs = _scripted()[:3]
    models: list[Any] = [m for _, m, _ in runs]
    models[1] = _Failing(models[1], 0.0)
    block = ChartList([c for c, _, _ in runs], [GuidelinePolicy() for _ in runs])
    with pytest.raises(RowError) as info:
        run_lockstep(block, models, 400.0)
    assert info.value.row == 1
    assert isinstance(info.value.error, RuntimeError)
    with pytest.raises(ValueError, match="horizon_days"):
        run_lockstep(block, models, 0.0)


@pytest.mark.parametrize("engine", ["lockstep", "vector"])
def test_a_failing_patient_in_a_block_cohort_is_named(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cohort's failure names the patient, its index and the seed, as the SimPy engine does,
    on both engines that step a block together."""
    from simulation.model import disease

    # catch_up: the scalar next_day and the vector engine's model block both call it.
    original = disease.DiseaseModel.catch_up

    def broken(self: Any, chart: Any, **options: Any) -> Any:
        if chart.patient.patient_id == "P00003" and chart.patient.day > 30:
            raise RuntimeError("model broke")
        return original(self, chart, **options)

    monkeypatch.setattr(disease.DiseaseModel, "catch_up", broken)
    with pytest.raises(SimulationError, match=r"patient P00003 \(index 2, seed 9"):
        run_cohort(patients=5, years=1, seed=9, engine=engine)


class _Recording(ModelList):
    """The scalar answers, noting the rows of each group of questions."""

    def __init__(self, block: Any, models: Any) -> None:
        super().__init__(block, models)
        self.plans: list[list[int]] = []
        self.visits: list[list[int]] = []

    def next_events(self, rows: Any) -> Any:
        self.plans.append(list(rows))
        return super().next_events(rows)

    def visit_labs(self, rows: Any, days: Any) -> Any:
        self.visits.append(list(rows))
        return super().visit_labs(rows, days)


def test_questions_to_the_models_are_asked_in_groups() -> None:
    """The courses' next events and visit panels are asked of a model block a round's rows
    at once, and the courses are those of the patients run one by one."""
    from simulation.model.disease import ModelConstants
    from simulation.model.parameters import load_parameters
    from simulation.run.cohort import RunSettings, load_cohort, start_patient

    params = load_parameters()
    s = RunSettings(load_cohort(), params, Thresholds(), 11, "guideline", 4 * 365.25)
    constants = ModelConstants.from_parameters(params)
    alone = [start_patient(s, i, constants) for i in range(30)]
    for p in alone:
        run_patient(p.chart, p.model, horizon_days=s.horizon_days, policy=p.policy)
    patients = [start_patient(s, i, constants) for i in range(30)]
    block = ChartList([p.chart for p in patients], [p.policy for p in patients])
    models = [p.model for p in patients]
    asked = _Recording(block, models)
    stats = run_lockstep(block, models, s.horizon_days, asked)
    for a, b in zip(alone, patients, strict=True):
        assert b.chart.trace == a.chart.trace
        assert b.chart.patient == a.chart.patient
    assert stats.plans == sum(map(len, asked.plans)) > 30
    assert stats.labs == sum(map(len, asked.visits)) > 30
    assert stats.ask_groups == len(asked.plans) + len(asked.visits)
    assert stats.plans / len(asked.plans) > 5
    assert stats.labs / len(asked.visits) > 3
    for group in asked.plans + asked.visits:
        assert len(set(group)) == len(group)  # a row asks at most once per group


def test_day_rules_leave_the_model_questions_to_the_caller() -> None:
    """``DayRules.moves`` yields a ``Plan`` before each event and a ``Labs`` for a visit
    whose timer takes labs, and carries on with the answers it is sent."""
    from simulation.run.engine import PLAN, DayRules, Labs, Plan

    chart = get("aih").chart(_scripted()[0][0].patient)
    model = _scripted()[0][1]
    moves = DayRules(chart, model.scripts_actions_on).moves(model, 400.0)
    seen: list[Any] = []
    answer: Any = None
    for _ in range(200):
        try:
            move = moves.send(answer)
        except StopIteration:
            break
        seen.append(move)
        answer = None
        if isinstance(move, Plan):
            assert move is PLAN
            timer = chart.next_timer()
            answer = (timer.due_day, timer) if timer is not None else (math.inf, None)
        elif isinstance(move, Labs):
            answer = None  # the values stand
        elif not isinstance(move, tuple):
            answer = move.apply(chart)
        elif move[0] == "decide":
            GuidelinePolicy().act(chart, move[1])
    assert any(isinstance(m, Labs) for m in seen)
    assert sum(isinstance(m, Plan) for m in seen) > 3
    # Only timers ran: the scripted findings after day 0 were never planned.
    assert all(m.kind == "timer" for m in seen[len(model.baseline(chart)) :] if hasattr(m, "kind"))
