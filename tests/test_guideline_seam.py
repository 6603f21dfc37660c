"""The engine knows no disease (issue 13): a second, toy guideline runs through the runtime,
both chart engines, snapshots, diagrams, replay, the static check, coverage and a small
cohort with no edit to the engine, and no engine module imports a guideline."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from statemachine import Event, State, StateChart

from pathway import diagram
from pathway.bundle import Guideline
from pathway.diagram_svg import to_svg
from pathway.errors import (
    ActionNotRecommended,
    InvalidPathwayError,
    InvariantViolation,
    PathwayError,
    SnapshotError,
)
from pathway.executor import compiled_class
from pathway.guidelines import NAMES, get
from pathway.guidelines.toy.chart import ToyPathway
from pathway.guidelines.toy.record import ToyRecord
from pathway.runtime import PathwayRuntime
from pathway.snapshot import from_json, to_json
from pathway.structure import ChartModel
from simulation.cli.main import main
from simulation.run.guideline_cohort import run_guideline_cohort
from simulation.scenarios.replay import replay_paths, replay_scenario
from simulation.scenarios.scenario import ScenarioError, parse_scenario
from simulation.verify.check import run_check
from simulation.verify.coverage import CoverageReport, collect_cohort, collect_scenarios
from simulation.verify.explore import Search, replay_path
from simulation.verify.explorers import AIHExplorer, BundleExplorer, explorer_for
from simulation.verify.generate import generate

ROOT = Path(__file__).resolve().parents[1]
TOY = get("toy")
ENGINES = [TOY.chart, compiled_class(TOY.chart)]

#: Modules of pathway/ that re-export the AIH guideline under its public names (for
#: embedders and docs: ``from pathway import AIHPathway``); every other one is engine.
FACADES = {"pathway/__init__.py", "pathway/compiled.py"}


def _course(engine: type) -> object:
    chart = engine(ToyRecord("t1", score=12.0))
    assert [r.action for r in chart.recommendations()] == ["start_alfa", "continue"]
    chart.take("start_alfa", day=0)
    chart.observe("score", 11.0, day=10)
    chart.advance_to(28)  # the review finds no remission
    assert chart.care_state == "on_alfa"
    top = chart.top_recommendation()
    assert top is not None
    assert top.action == "switch_to_beta"
    assert top.doses == {"beta": 20.0}
    chart.take("switch_to_beta", day=30)
    chart.observe("score", 2.0, day=40)
    chart.advance_to(60)
    assert chart.care_state == "remission"
    chart.take("stop_drug", day=61)
    return chart


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.__name__)
def test_a_toy_course_runs_on_both_engines(engine: type) -> None:
    chart = _course(engine)
    assert chart.care_state == "untreated"  # type: ignore[attr-defined]
    assert chart.patient.drugs == {}  # type: ignore[attr-defined]
    names = [s.name for s in chart.trace]  # type: ignore[attr-defined]
    assert names == [
        "start_alfa", "score", "review", "switch_to_beta", "score", "review", "stop_drug",
    ]  # fmt: skip


def test_both_engines_give_the_same_snapshot_and_restore_it() -> None:
    reference, compiled = (_course(e) for e in ENGINES)
    text = to_json(reference)  # type: ignore[arg-type]
    assert to_json(compiled) == text  # type: ignore[arg-type]
    for engine in (None, *ENGINES):
        restored = from_json(text, engine)
        assert to_json(restored) == text
        assert restored.guideline is TOY


def test_a_toy_snapshot_is_checked_against_the_toy_guideline() -> None:
    data = to_json(_course(TOY.chart))  # type: ignore[arg-type]
    with pytest.raises(SnapshotError, match="start_prednisolone"):
        from_json(data.replace('"stop_drug"', '"start_prednisolone"'), TOY.chart)
    with pytest.raises(SnapshotError, match=r"record\.drugs"):
        from_json(data.replace('"drugs": {}', '"drugs": {"alfa": 10.0}'), TOY.chart)


def test_the_toy_rules_refuse_and_its_invariant_is_monitored() -> None:
    chart = TOY.chart(ToyRecord("t2", score=12.0))
    with pytest.raises(ActionNotRecommended, match="TOY-REC-03"):
        chart.take("stop_drug", day=0)
    with pytest.raises(PathwayError, match="unknown action"):
        chart.take("start_prednisolone", day=0)
    high = TOY.thresholds().with_overrides(alfa_mg_day=30.0)
    chart = TOY.chart(ToyRecord("t3", score=12.0), thresholds=high)
    with pytest.raises(InvariantViolation, match="TOY-INV-01"):
        chart.take("start_alfa", day=0)
    lenient = TOY.chart(ToyRecord("t4", score=12.0), thresholds=high, strict_invariants=False)
    lenient.take("start_alfa", day=0)
    assert [v.rule_id for v in lenient.violations] == ["TOY-INV-01"]


def test_the_diagrams_draw_the_toy_chart_and_catalogue() -> None:
    chart = TOY.chart
    assert "untreated --> on_alfa : start_alfa" in diagram.to_mermaid(chart)
    assert diagram.to_dot(chart).startswith('digraph "ToyPathway"')
    assert "on_beta" in to_svg(chart)
    assert "| `review` | timer |" in diagram.transition_table_md(chart)
    rules = diagram.rule_table_md(TOY)
    assert "TOY-INV-01" in rules
    assert "AIH-" not in rules
    assert "`alfa_review`" in diagram.timer_table_md(guideline=TOY)
    page = diagram.render_docs_page(chart)
    assert page.count("# The toy pathway") == 1
    assert "AIH" not in page


def test_the_registry_names_each_guideline_once() -> None:
    assert all(isinstance(get(name), Guideline) for name in NAMES)
    assert [get(name).name for name in NAMES] == list(NAMES)
    with pytest.raises(PathwayError, match="unknown guideline 'pbc'"):
        get("pbc")


#: simulation's modules that drive any guideline (the rest is the AIH model, outputs, the
#: trainer and the AIH course search). They may import the registry and the engine, not a
#: guideline, nor the AIH names the ``pathway`` facade re-exports.
SIMULATION_ENGINE = (
    "simulation/run/engine.py",
    "simulation/run/guideline_cohort.py",
    "simulation/results/guideline_outputs.py",
    "simulation/scenarios/replay.py",
    "simulation/verify/analysis.py",
    "simulation/verify/check.py",
    "simulation/verify/coverage.py",
    "simulation/verify/instrument.py",
    "simulation/cli/options.py",
    "simulation/cli/diagram.py",
    "simulation/cli/coverage.py",
)
#: Names the ``pathway`` facade re-exports from the AIH guideline.
AIH_FACADE_NAMES = frozenset(
    {"AIHPathway", "PatientRecord", "LabPanel", "Thresholds", "GuidelineOptions", "RULES",
     "Rule", "care_state"}
)  # fmt: skip


def _engine_modules() -> list[Path]:
    pathway_engine = [
        path
        for path in sorted((ROOT / "pathway").glob("*.py"))
        if str(path.relative_to(ROOT)) not in FACADES
    ]
    return pathway_engine + [ROOT / name for name in SIMULATION_ENGINE]


def _module_name(path: Path) -> str:
    """``pathway.runtime`` for ROOT/pathway/runtime.py (a file outside ROOT: ``pathway.m``)."""
    try:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
    except ValueError:
        parts = ["pathway", path.stem]
    return ".".join(parts)


def _guideline_imports(path: Path) -> list[str]:
    """What ``path`` imports of a guideline: ``pathway.guidelines.<name>`` modules and the
    AIH names of the ``pathway`` facade (relative imports resolved)."""
    package = _module_name(path).split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package[: len(package) - node.level + 1], *([base] if base else [])]
                )
            names = [f"{base}.{a.name}" for a in node.names]
            if base != "pathway.guidelines":
                names.append(base)
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["pathway", "guidelines"] and len(parts) > 2 and parts[2] in NAMES:
                found.append(name)  # ``from . import guidelines`` (the registry) is allowed
            elif len(parts) == 2 and parts[0] == "pathway" and parts[1] in AIH_FACADE_NAMES:
                found.append(name)
    return sorted(set(found))


def test_no_engine_module_imports_a_guideline() -> None:
    modules = _engine_modules()
    assert {p.name for p in modules} >= {"runtime.py", "executor.py", "snapshot.py", "diagram.py"}
    offenders = {str(p.relative_to(ROOT)): _guideline_imports(p) for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_scan_sees_a_guideline_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from .guidelines.aih.chart import AIHPathway\nfrom . import guidelines\n"
        "from pathway import AIHPathway, AnyPathway\n"
    )
    assert _guideline_imports(module) == [
        "pathway.AIHPathway",
        "pathway.guidelines.aih.chart",
        "pathway.guidelines.aih.chart.AIHPathway",
    ]


# --- the simulation side: replay, check, coverage and a small cohort ----------------------

TOY_SCENARIOS = ROOT / "tests" / "fixtures" / "toy"


def test_a_toy_scenario_replays_and_its_ids_are_the_toy_guideline_s() -> None:
    [result] = replay_paths([str(TOY_SCENARIOS)]).results
    assert result.passed, result.failures
    assert result.chart.guideline is TOY
    assert result.states_visited == {"untreated", "on_alfa", "on_beta", "remission"}
    text = (TOY_SCENARIOS / "alfa_then_beta.yaml").read_text(encoding="utf-8")
    with pytest.raises(ScenarioError, match="start_prednisolone"):
        parse_scenario(text.replace("action: stop_drug", "action: start_prednisolone"))
    with pytest.raises(ScenarioError, match="'labs' is a key of AIH scenarios"):
        parse_scenario(text.replace("timeline:", "labs: {alt_xuln: 2}\ntimeline:"))


def test_the_static_check_reads_the_toy_catalogue() -> None:
    result = run_check(TOY.chart, search=False)
    assert result.findings == []


def test_the_gap_search_of_check_runs_the_toy_and_finds_a_planted_gap(tmp_path: Path) -> None:
    """``check``'s gap and overlap search explores the toy from its bundle: nothing on the
    toy; on the toy chart with a planted gap, that gap (the only problem the search
    finds), with a counterexample scenario of the toy guideline whose replay stops on it."""
    assert run_check(TOY.chart, search=True, budget=300, examples=50).findings == []
    findings = run_check(GAPPY.chart, search=True, budget=300, examples=50).findings
    [gap] = [f for f in findings if "found_by" in f.details]
    assert (gap.code, gap.subject) == ("gap", "review@on_alfa")
    text = gap.counterexample
    assert text is not None
    assert text.startswith("guideline: toy\n")
    result = replay_scenario(parse_scenario(text, file=str(tmp_path / "gap.yaml")))
    assert not result.passed
    assert "review" in str(result.failures[0])


def test_toy_coverage_counts_scenarios_and_a_cohort() -> None:
    report = CoverageReport(ChartModel.of(TOY.chart), guideline=TOY)
    collect_scenarios([str(TOY_SCENARIOS)], report=report)
    collect_cohort(20, 3, report=report)
    assert report.courses == 21
    assert not report.failed
    assert set(report.universe()["rules"]) == {"TOY-REC-01", "TOY-REC-02", "TOY-REC-03"}
    assert {"on_alfa", "on_beta", "remission"} <= set(report.covered()["states"])


def test_a_small_toy_cohort_is_the_same_on_both_engines_and_reproducible() -> None:
    fast = run_guideline_cohort(TOY, 30, seed=11, years=3)
    reference = run_guideline_cohort(TOY, 30, seed=11, years=3, engine="reference")
    again = run_guideline_cohort(TOY, 30, seed=11, years=3)
    assert [to_json(c) for c in fast] == [to_json(c) for c in reference]  # type: ignore[arg-type]
    assert [to_json(c) for c in fast] == [to_json(c) for c in again]  # type: ignore[arg-type]
    assert {c.care_state for c in fast} >= {"remission"}
    with pytest.raises(ValueError, match="no patient model"):
        run_guideline_cohort(get("aih"), 1, seed=1, years=1)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["diagram", "--guideline", "toy", "--format", "rules"], "TOY-INV-01"),
        (["check", "--guideline", "toy", "--static-only"], "OK: 0 open"),
        (["check", "--guideline", "toy", "--budget", "100", "--examples", "20"], "OK: 0 open"),
        (["replay", str(TOY_SCENARIOS)], "1 passed"),
        (["coverage", "--guideline", "toy", str(TOY_SCENARIOS)], "Coverage of ToyPathway"),
    ],
)
def test_the_commands_run_the_toy_guideline(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    assert expected in capsys.readouterr().out


def test_simulate_runs_a_small_toy_cohort(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "toy"
    argv = ["simulate", "--guideline", "toy", "--patients", "12", "--years", "2", "--seed", "5"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "guideline toy" in capsys.readouterr().out
    patients = (out / "patients.csv").read_text(encoding="utf-8").splitlines()
    assert len(patients) == 13
    assert patients[0].startswith("patient_id,final_care_state")
    events = (out / "events.csv").read_text(encoding="utf-8")
    assert "start_alfa" in events
    assert "AIH-" not in events
    again = tmp_path / "again"
    assert main([*argv, "--engine", "reference", "--out", str(again)]) == 0
    assert (again / "events.csv").read_text(encoding="utf-8") == events
    assert main([*argv, "--policy", "prednisolone_all", "--out", str(tmp_path / "x")]) == 2
    assert "--policy: AIH runs only" in capsys.readouterr().err


def test_a_bundle_that_does_not_fit_its_chart_is_refused() -> None:
    """A guideline is checked when built: effects for its vocabulary, its states in the
    chart, a declaration per action, one guideline per chart class."""
    with pytest.raises(InvalidPathwayError, match="already bound to guideline 'toy'"):
        replace(TOY, name="other")
    variant = type("Variant", (TOY.chart,), {})
    with pytest.raises(InvalidPathwayError, match="no effect declared for action 'wait'"):
        replace(TOY, chart=variant, actions=(*TOY.actions, "wait"))
    with pytest.raises(InvalidPathwayError, match="care-line state 'limbo' not in chart"):
        replace(TOY, chart=variant, care_line=(*TOY.care_line, "limbo"))
    effects = {**TOY.action_effects, "wait": TOY.action_effects["continue"]}
    with pytest.raises(InvalidPathwayError, match=r"actions \['wait'\] have no declaration"):
        replace(TOY, chart=variant, actions=(*TOY.actions, "wait"), action_effects=effects)
    bound = replace(TOY, chart=variant)
    assert variant.guideline is bound
    assert TOY.chart.guideline is TOY


class _GappyToy(PathwayRuntime[ToyRecord], StateChart[ToyRecord]):
    """The toy chart with one planted gap: no transition handles a review on alfa that
    finds no remission (the toy's ``review`` stays in ``alive`` instead)."""

    allow_event_without_transition = False
    catch_errors_as_events = False

    class alive(State.Compound):
        untreated = State(initial=True)
        on_alfa = State()
        on_beta = State()
        remission = State()

    death = State(final=True)

    _a: Any = alive
    _u: Any = alive.untreated
    _alfa: Any = alive.on_alfa
    _beta: Any = alive.on_beta
    _rem: Any = alive.remission

    score = _u.to(_rem, cond="in_remission") | _rem.to(_u, cond="relapsed") | _a.to(None)
    review = (
        _alfa.to(_rem, cond="in_remission")
        | _beta.to(_rem, cond="in_remission")
        | _beta.to(None)  # the planted gap: on alfa, nothing when the score stays high
    )
    start_alfa = _u.to(_alfa, cond="may_start_alfa")
    switch_to_beta = _alfa.to(_beta, cond="may_switch_to_beta")
    stop_drug = _rem.to(_u, cond="may_stop_drug")
    continue_ = Event(_a.to(None, cond="may_continue"), id="continue")
    died = Event(_a.to(death), id="death")

    del _a, _u, _alfa, _beta, _rem

    may_start_alfa = ToyPathway.may_start_alfa
    may_switch_to_beta = ToyPathway.may_switch_to_beta
    may_stop_drug = ToyPathway.may_stop_drug
    may_continue = ToyPathway.may_continue
    allowed_event_ids = ToyPathway.allowed_event_ids
    in_remission = ToyPathway.in_remission
    relapsed = ToyPathway.relapsed


GAPPY = replace(TOY, chart=_GappyToy)


def test_the_course_search_explores_the_toy_from_its_bundle() -> None:
    """Starts, findings and boundary values come from the toy bundle (score findings on
    the boundaries of treat_score and remission_score); the toy has no gap, and the
    search reaches every toy care state."""
    assert isinstance(explorer_for(get("aih")), AIHExplorer)  # the AIH bundle names it
    explorer = explorer_for(TOY)
    assert isinstance(explorer, BundleExplorer)
    assert explorer.boundaries == {"score": [2.99, 3.0, 3.01, 7.99, 8.0, 8.01]}
    assert [s.name for s in explorer.starts()][:2] == ["the record's defaults", "score = 2.99"]
    result = Search(TOY.chart, deviations=True).run(budget=3000)
    assert result.problems == {}
    states = {item[1] for item in result.examples if item[0] == "state"}
    assert {"untreated", "on_alfa", "on_beta", "remission", "death"} <= states


def test_a_bundle_explorer_needs_a_record_it_can_build() -> None:
    """The AIH record has fields without defaults (age, sex, weight): explored from its
    bundle alone there would be no patient to start from, so that is refused by name."""
    aih = get("aih")
    with pytest.raises(ValueError, match=r"needs \['age', 'sex', 'weight_kg'\]"):
        BundleExplorer(aih, aih.thresholds())


def test_the_course_search_finds_a_gap_planted_in_a_toy_chart() -> None:
    result = Search(GAPPY.chart).run(budget=3000)
    assert set(result.problems) == {("gap", "review@on_alfa")}
    _, start, moves = result.problems[("gap", "review@on_alfa")]
    course = replay_path(GAPPY.chart, Search(GAPPY.chart).variants()[start], moves)
    assert course.broken
    assert [p.signature for p in course.problems] == [("gap", "review@on_alfa")]


def test_generate_writes_toy_scenarios_that_replay_green(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From an empty suite, generate covers every toy state and the relapse transition
    with scenarios of the toy guideline, each replaying green on its own."""
    report = generate(chart_class=TOY.chart, budget=3000)
    assert report.scenarios
    assert all(g.passed for g in report.scenarios), [g.failure for g in report.scenarios]
    for g in report.scenarios:
        assert g.text.startswith("guideline: toy\n")
        (tmp_path / f"{g.name}.yaml").write_text(g.text, encoding="utf-8")
    coverage = CoverageReport(ChartModel.of(TOY.chart), guideline=TOY)
    collect_scenarios([str(tmp_path)], report=coverage)
    assert not coverage.failed
    assert set(coverage.covered()["states"]) >= {"on_alfa", "on_beta", "remission", "death"}
    assert set(coverage.covered()["rules"]) == {"TOY-REC-01", "TOY-REC-02", "TOY-REC-03"}
    out = tmp_path / "cli"
    assert main(["generate", "--guideline", "toy", "--budget", "500", "--out", str(out)]) == 0
    assert "scenario(s) written" in capsys.readouterr().out
    assert main(["replay", str(out)]) == 0
    assert ", 0 failed" in capsys.readouterr().out
