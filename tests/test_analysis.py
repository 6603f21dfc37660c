"""Static analysis finds structural and catalogue problems at every depth."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from statemachine import State, StateChart
from statemachine.state import HistoryState

from pathway import AIHPathway
from pathway.guidelines.aih.timers import TIMERS, Timer
from pathway.structure import ChartModel
from simulation.verify.analysis import Catalogue, check_catalogue, check_structure, static_findings

from .mutants import mutant_chart


def _codes(findings: list[Any]) -> set[tuple[str, str]]:
    return {(f.code, f.subject) for f in findings}


class _Loose(StateChart[Any]):
    """Base for small test charts: the library's own definition checks switched off."""

    validate_disconnected_states = False
    validate_trap_states = False
    validate_final_reachability = False


class Nested(_Loose):
    """A chart with a dead end inside a compound state and an unreachable state."""

    class clinic(State.Compound):
        waiting = State(initial=True)
        stuck = State()
        orphan = State()
        move = waiting.to(stuck)

    done = State(final=True)
    finish = clinic.waiting.to(done)


def test_dead_end_and_unreachable_state_inside_compound() -> None:
    """A nested state that nothing leaves is a dead end; a nested state never entered is
    unreachable; both are found although the top level looks fine."""
    model = ChartModel.of(Nested)
    found = _codes(check_structure(model, Nested, timers=(), findings=()))
    assert ("dead-end", "stuck") in found
    assert ("unreachable-state", "orphan") in found
    assert ("no-final-path", "stuck") in found
    assert ("dead-end", "waiting") not in found


class LeftByParent(_Loose):
    """A leaf with no transition of its own, left through its parent's transition."""

    class clinic(State.Compound):
        waiting = State(initial=True)
        seen = State()
        move = waiting.to(seen)

    done = State(final=True)
    finish = clinic.to(done)


def test_leaving_through_an_ancestor_is_not_a_dead_end() -> None:
    """A transition of the enclosing state counts as a way out of every sub-state."""
    found = _codes(
        check_structure(ChartModel.of(LeftByParent), LeftByParent, timers=(), findings=())
    )
    assert not {c for c in found if c[0] in ("dead-end", "no-final-path")}


class WithHistory(_Loose):
    """A chart whose history state defaults to a state outside its parent."""

    class clinic(State.Compound):
        waiting = State(initial=True)
        seen = State()
        h = HistoryState()
        move = waiting.to(seen)

    away = State()
    done = State(final=True)
    leave = clinic.to(away)
    back = away.to(clinic.h)
    finish = away.to(done)


def test_history_default_outside_its_parent_is_invalid() -> None:
    """A history state's default transition must stay inside its compound state."""
    WithHistory.clinic.h.transitions.add_transitions(WithHistory.clinic.h.to(WithHistory.away))
    found = _codes(check_structure(ChartModel.of(WithHistory), WithHistory, timers=(), findings=()))
    assert ("invalid-history", "h") in found


class Shadowed(_Loose):
    """Two transitions of one event from one state, the unguarded one first."""

    a = State(initial=True)
    b = State()
    c = State(final=True)
    go = a.to(b) | a.to(c, cond="ready")
    end = b.to(c)

    def ready(self) -> bool:
        return True


def test_transition_after_an_unguarded_one_is_shadowed() -> None:
    """A guarded transition listed after an unguarded one for the same event never fires."""
    found = _codes(check_structure(ChartModel.of(Shadowed), Shadowed, timers=(), findings=()))
    assert ("shadowed-transition", "go: a -> c") in found


def test_shipped_chart_has_no_structural_errors_at_any_depth() -> None:
    """Every state of the pathway is reachable, none is a dead end, every guard exists."""
    codes = {f.code for f in static_findings(AIHPathway)}
    for code in (
        "unreachable-state",
        "dead-end",
        "no-final-path",
        "invalid-history",
        "missing-guard",
        "shadowed-transition",
        "duplicate-transition",
    ):
        assert code not in codes


def test_shipped_catalogue_is_consistent() -> None:
    """Rules, sources, timers and thresholds of the shipped pathway raise no error finding."""
    model = ChartModel.of(AIHPathway)
    errors = [f for f in check_catalogue(model, Catalogue.default()) if f.severity == "error"]
    assert errors == []


def test_waiting_states_left_only_by_actions_are_traps() -> None:
    """Care states that no timer or finding can move are reported (observation, ALF, ...)."""
    traps = {f.subject for f in static_findings(AIHPathway) if f.code == "trap-state"}
    assert {"observation", "acute_liver_failure"} <= traps
    assert "maintenance" not in traps  # relapse labs move it


def test_timer_naming_an_unknown_state_is_reported() -> None:
    """A timer armed in a state the chart does not have is a catalogue error."""
    catalogue = Catalogue.default()
    bad = Timer(
        "ghost_visit",
        "monitoring_due",
        "ghost",
        ("maintenance_visit_days",),
        None,
        True,
        "AIH-MON-01",
    )
    catalogue = replace(catalogue, timers=(*TIMERS, bad))
    found = _codes(check_catalogue(ChartModel.of(AIHPathway), catalogue))
    assert ("bad-timer", "ghost_visit") in found


def test_unused_and_unknown_rules_and_uncited_thresholds() -> None:
    """A rule nothing uses, a rule id nobody catalogued and a threshold without a citation
    are each reported."""
    catalogue = Catalogue.default()
    rules = dict(catalogue.rules)
    extra = replace(rules["AIH-GEN-01"], id="AIH-GEN-99")
    rules["AIH-GEN-99"] = extra
    citations = dict(catalogue.citations)
    citations.pop("uln")
    catalogue = replace(catalogue, rules=rules, citations=citations)
    found = _codes(check_catalogue(ChartModel.of(AIHPathway), catalogue))
    assert ("unused-rule", "AIH-GEN-99") in found
    assert ("uncited-threshold", "uln") in found


def test_action_without_its_permission_guard_is_reported() -> None:
    """Dropping may_<action> from an action's transition bypasses the guideline check."""
    chart = mutant_chart(
        ('_ma.to(_wd, cond="may_attempt_withdrawal")', "_ma.to(_wd)"),
    )
    found = _codes(static_findings(chart))
    assert ("unguarded-action", "attempt_withdrawal: maintenance -> withdrawal") in found
