"""The checks can fail: each mutation of the chart is caught by check, coverage or replay.

Each test builds a mutated copy of the chart (``tests/mutants.py``: the chart's source with
one edit, executed as a new module; or a subclass with other thresholds), shows that the
shipped chart passes the same check, and that the mutant does not.
"""

from __future__ import annotations

from typing import Any

import pytest

from pathway import AIHPathway, Thresholds
from simulation.scenarios.replay import replay_paths
from simulation.verify.analysis import static_findings
from simulation.verify.conflicts import search_conflicts
from simulation.verify.coverage import collect_scenarios

from .helpers import REPO
from .mutants import mutant_chart

SCENARIOS = REPO / "scenarios"
NO_RELAPSE_GUARD = (
    '_ma.to(_rel, cond="relapse_labs", on="begin_relapse")',
    '_ma.to(_rel, on="begin_relapse")',
)


def _failing(chart: type[Any], *names: str) -> set[str]:
    """Names (file stems) of the given library scenarios that fail under ``chart``."""
    files = [str(SCENARIOS / f"{n}.yaml") for n in names]
    report = replay_paths(files, chart)
    return {r.scenario.patient_id for r in report.results if not r.passed}


def _static(chart: type[Any]) -> set[tuple[str, str]]:
    return {(f.code, f.subject) for f in static_findings(chart)}


def test_dropped_guard_is_caught_by_replay() -> None:
    """Without ``relapse_labs`` every lab result in maintenance is a relapse: the classic
    story (normal labs on day 500, still in maintenance on day 637) fails."""
    story = "combination-therapy-to-maintenance"
    assert _failing(AIHPathway, story) == set()
    chart = mutant_chart(
        (
            '_ma.to(_rel, cond="relapse_labs", on="begin_relapse")',
            '_ma.to(_rel, on="begin_relapse")',
        )
    )
    assert _failing(chart, story) == {story}


def test_dropped_guard_is_caught_by_coverage() -> None:
    """The guard's outcomes vanish from the coverage report of the same story."""
    story = [str(SCENARIOS / "combination-therapy-to-maintenance.yaml")]
    shipped = collect_scenarios(story)
    key = "labs: maintenance -> relapse"
    index = next(t.index for t in shipped.model.transitions if t.key == key)
    assert shipped.guards[(index, "relapse_labs", False)] > 0
    chart = mutant_chart(
        (
            '_ma.to(_rel, cond="relapse_labs", on="begin_relapse")',
            '_ma.to(_rel, on="begin_relapse")',
        )
    )
    mutated = collect_scenarios(story, chart)
    index = next(t.index for t in mutated.model.transitions if t.key == key)
    assert not [g for g in mutated.guards if g[0] == index]
    assert mutated.transitions[index] > 0  # the story now relapses


def test_shifted_threshold_is_caught_by_check_and_replay() -> None:
    """With the week-4 check moved to day 200, after the 6-month assessment, the gap search
    finds the assessment firing in induction, and the classic story fails."""
    th = Thresholds(non_response_check_days=200.0)

    class Shifted(AIHPathway):
        def __init__(self, patient: Any, **kw: Any) -> None:
            kw.setdefault("thresholds", th)
            super().__init__(patient, **kw)

    report = search_conflicts(
        Shifted, thresholds=th, budget=30, examples=0, rounds=0, triage=False, follow_days=200
    )
    assert ("gap", "month6_assessment@induction") in report.counterexamples
    assert _failing(Shifted, "combination-therapy-to-maintenance")


def test_removed_transition_is_caught_by_replay() -> None:
    """Without the way back from recurrent AIH to a stable graft, the regression story of
    recurrent AIH that resolves fails again."""
    story = "regression-recurrent-aih-never-resolves"
    assert _failing(AIHPathway, story) == set()
    chart = mutant_chart(('| _rule(_raih.to(_gs, cond="cbr_reached"), "AIH-PLT-01")', ""))
    assert _failing(chart, story) == {story}


def test_removed_timer_transition_is_caught_by_check() -> None:
    """Removing the week-4 check leaves a declared timer without its event: check reports it."""
    assert ("bad-timer", "week4_check") not in _static(AIHPathway)
    chart = mutant_chart(('week4_check = _rule(_ind.to(_ra), "AIH-RSP-01", "INV-18")', ""))
    assert ("bad-timer", "week4_check") in _static(chart)


def test_swapped_target_is_caught_by_check_and_replay() -> None:
    """Sending attempt_withdrawal straight to off_treatment makes withdrawal unreachable
    (static check) and breaks the successful-withdrawal story (replay)."""
    story = "successful-withdrawal"
    assert ("unreachable-state", "withdrawal") not in _static(AIHPathway)
    chart = mutant_chart(
        (
            '_ma.to(_wd, cond="may_attempt_withdrawal")',
            '_ma.to(_off, cond="may_attempt_withdrawal")',
        )
    )
    assert ("unreachable-state", "withdrawal") in _static(chart)
    assert _failing(chart, story) == {story}


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        (
            '_ma.to(_wd, cond="may_attempt_withdrawal")',
            "_ma.to(_wd)",
            ("unguarded-action", "attempt_withdrawal: maintenance -> withdrawal"),
        ),
        (
            '_ma.to(_wd, cond="may_attempt_withdrawal")',
            '_ma.to(_wd, cond="may_reinduce")',
            ("misplaced-permission", "attempt_withdrawal: maintenance -> withdrawal"),
        ),
    ],
    ids=["dropped-permission", "wrong-permission"],
)
def test_permission_mutations_are_caught_by_check(
    old: str, new: str, finding: tuple[str, str]
) -> None:
    """An action taken without (or with another action's) permission guard is reported."""
    assert finding not in _static(AIHPathway)
    assert finding in _static(mutant_chart((old, new)))
