"""The toy guideline's declarations: actions, doses, one invariant ([MODEL] throughout)."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import fields
from typing import Any, NamedTuple

from ...declarations import GATE_STOP, Action, Dose, Gate, Invariant, Row, Rulebook
from ...expr import Function, Schema
from .record import ToyOptions, ToyRecord, ToyThresholds

__all__ = ["ACTIONS", "CARE_STATES", "RULEBOOK", "Ctx"]

CARE_STATES = ("untreated", "on_alfa", "on_beta", "remission", "death")
ACTIONS = ("start_alfa", "switch_to_beta", "stop_drug", "continue")


class Ctx(NamedTuple):
    """What a toy rule reads: record, thresholds, options, active state ids."""

    p: ToyRecord
    th: ToyThresholds
    opt: ToyOptions
    active: Set[str]


def _highest_dose(p: ToyRecord, th: Any, opt: Any, active: Set[str]) -> float:
    """The largest daily dose on board (mg/day; 0 when none)."""
    return max((d for d in p.drugs.values() if d is not None), default=0.0)


SCHEMA = Schema(
    fields={f.name: f.name == "death_day" for f in fields(ToyRecord) if f.name != "state"},
    thresholds=frozenset(f.name for f in fields(ToyThresholds)),
    states=frozenset(CARE_STATES),
    functions={"highest_dose": Function(_highest_dose, reads=frozenset({"drugs"}))},
)

_DECLARATIONS: tuple[Action, ...] = (
    Action(
        "start_alfa",
        checks=(GATE_STOP,),
        gate=Gate(frozenset({"untreated"}), "TOY-REC-01", "only an untreated patient starts alfa"),
        strength=(
            Row("score > th.treat_score", "should", ("TOY-REC-01",)),
            Row("True", "may", ("TOY-REC-01",)),
        ),
        doses=(Dose("th.alfa_mg_day", drug="alfa"),),
    ),
    Action(
        "switch_to_beta",
        checks=(GATE_STOP,),
        gate=Gate(frozenset({"on_alfa"}), "TOY-REC-02", "only a patient on alfa switches"),
        strength=(
            Row("reviews > 0 and score > th.treat_score", "should", ("TOY-REC-02",)),
            Row("True", "may", ("TOY-REC-02",)),
        ),
        doses=(Dose("th.beta_mg_day", drug="beta"),),
    ),
    Action(
        "stop_drug",
        checks=(GATE_STOP,),
        gate=Gate(frozenset({"remission"}), "TOY-REC-03", "the drug stops in remission only"),
        strength=(Row("True", "may", ("TOY-REC-03",)),),
    ),
    Action("continue"),
)

_INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "TOY-INV-01",
        condition="highest_dose() > th.max_dose_mg_day",
        message="a dose of {highest_dose()} mg/day, above the toy maximum {th.max_dose_mg_day}",
    ),
)

RULEBOOK = Rulebook(
    SCHEMA,
    _DECLARATIONS,
    _INVARIANTS,
    default_action="continue",
    default_strength=Row("True", "may", ("TOY-GEN-01",)),
)


def env(p: Any, th: Any, opt: Any, active: Set[str]) -> Ctx:
    """The rule context (a :class:`Ctx`)."""
    return Ctx(p, th, opt, active)
