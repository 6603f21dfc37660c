"""The toy guideline's statechart: untreated, on alfa, on beta, remission; death is final."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from statemachine import Event, State, StateChart
from statemachine.transition_list import TransitionList

from ...runtime import PathwayRuntime
from .record import ToyRecord
from .rules import RULEBOOK

if TYPE_CHECKING:
    from ...bundle import Pathway

__all__ = ["ToyPathway"]


def _rule(transitions: Any, *rule_ids: str) -> TransitionList:
    for transition in transitions.transitions:
        transition.rule_ids = tuple(rule_ids)
    result: TransitionList = transitions
    return result


def _permission(action: str) -> Callable[..., bool]:
    def guard(self: ToyPathway, deviate: bool = False) -> bool:
        return deviate or not RULEBOOK.breaches(action, self.ctx())

    guard.__name__ = f"may_{action}"
    return guard


class ToyPathway(PathwayRuntime[ToyRecord], StateChart[ToyRecord]):
    """A made-up two-drug pathway for testing the engine (no clinical content)."""

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

    score = (
        _rule(_u.to(_rem, cond="in_remission"), "TOY-TRN-01")
        | _rule(_rem.to(_u, cond="relapsed"), "TOY-TRN-02")
        | _rule(_a.to(None), "TOY-GEN-01")
    )
    review = (
        _rule(_alfa.to(_rem, cond="in_remission"), "TOY-TRN-01")
        | _rule(_beta.to(_rem, cond="in_remission"), "TOY-TRN-01")
        | _rule(_a.to(None), "TOY-GEN-01")
    )
    start_alfa = _rule(_u.to(_alfa, cond="may_start_alfa"), "TOY-REC-01")
    switch_to_beta = _rule(_alfa.to(_beta, cond="may_switch_to_beta"), "TOY-REC-02")
    stop_drug = _rule(_rem.to(_u, cond="may_stop_drug"), "TOY-REC-03")
    continue_ = Event(_rule(_a.to(None, cond="may_continue"), "TOY-GEN-01"), id="continue")
    died = Event(_rule(_a.to(death), "TOY-GEN-01"), id="death")

    del _a, _u, _alfa, _beta, _rem

    may_start_alfa = _permission("start_alfa")
    may_switch_to_beta = _permission("switch_to_beta")
    may_stop_drug = _permission("stop_drug")
    may_continue = _permission("continue")

    def allowed_event_ids(self) -> frozenset[str]:
        """Events with a transition from an active state (guards not evaluated)."""
        return frozenset(e.id for e in self.allowed_events)

    def in_remission(self) -> bool:
        """The score is at or below the remission threshold."""
        return bool(self.model.score <= self.thresholds.remission_score)

    def relapsed(self) -> bool:
        """The score is above the treatment threshold again."""
        return bool(self.model.score > self.thresholds.treat_score)


if TYPE_CHECKING:  # mypy checks that the chart is what drivers call (the protocol)
    _CHART: type[Pathway[ToyRecord]] = ToyPathway
