"""The declared AIH effects leave every record exactly as the hand-written ones did (issue 14).

The oracle is tests/legacy_effects.py, the effects as written in Python before they became
declarations (pathway/effects.py, pathway/guidelines/aih/effects.py). For random records,
configurations, options and payloads, every finding, timer and action effect is applied to
two copies of the record, and the copies are compared field by field, the order of the
doses and the latest lab values included.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.declarations import Dose
from pathway.effects import (
    AddTo,
    Assign,
    CallMethod,
    Clear,
    EffectBook,
    Mutator,
    RemoveFrom,
    ScaleDoses,
    StopDrug,
    When,
)
from pathway.errors import InvalidPathwayError
from pathway.expr import ExpressionError, Schema
from pathway.guidelines.aih import effects
from pathway.guidelines.aih.guideline import RULES
from pathway.guidelines.aih.patient import LabPanel, PatientRecord
from pathway.guidelines.aih.rules import ACTIONS
from pathway.guidelines.aih.vocabulary import FINDING_VALUES

from . import legacy_effects as legacy
from .test_declarations import _panel, situations

#: The declared effects and the hand-written ones, each with the antimetabolite tracking
#: (INV-15) the bundle used to wrap them in.
_KINDS = {
    "finding": (effects.FINDING_EFFECTS, legacy.TRACKED["finding"]),
    "timer": (effects.TIMER_EFFECTS, legacy.TRACKED["timer"]),
    "action": (effects.ACTION_EFFECTS, legacy.TRACKED["action"]),
}
_EVENTS = [(kind, name) for kind, (table, _) in _KINDS.items() for name in sorted(table)]


def _state(p: PatientRecord) -> dict[str, Any]:
    """Everything the record holds, with the order of its doses and its latest values."""
    return {
        "record": copy.deepcopy(p),
        "drugs": list(p.drugs.items()),
        "latest": dict(p._latest),
        "latest_day": dict(p._latest_day),
        "panel": p.latest_panel(),
    }


def _payload(draw: st.DrawFn, kind: str, name: str, p: PatientRecord) -> Any:
    if kind != "finding":
        return None
    if name == "labs":
        return LabPanel.from_mapping(p.day, draw(_panel))
    allowed = FINDING_VALUES.get(name)
    return draw(st.sampled_from(list(allowed))) if allowed else None


@st.composite
def events(draw: st.DrawFn) -> tuple[Any, ...]:
    """A situation (record, thresholds, options, active) and an event with its payload."""
    p, th, opt, active = draw(situations())
    kind, name = draw(st.sampled_from(_EVENTS))
    if draw(st.booleans()):
        p.treatment_baseline = LabPanel.from_mapping(p.day, draw(_panel))
    p.timers_fired["month12_assessment"] = draw(st.integers(0, 1))
    p.timers_fired["blood_count_early"] = draw(st.integers(0, 3))
    p.tpmt = draw(st.sampled_from(["unknown", "normal", "intermediate", "deficient"]))
    return p, th, opt, active, kind, name, _payload(draw, kind, name, p)


def _outcome(fn: Any, p: PatientRecord, *args: Any) -> tuple[str, dict[str, Any]]:
    try:
        fn(p, *args)
    except Exception as exc:  # the oracle's error must be the declaration's too
        return type(exc).__name__, _state(p)
    return "", _state(p)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_declared_effects_agree_with_the_hand_written_ones(event: tuple[Any, ...]) -> None:
    """Every effect, any record: the same record afterwards (or the same error)."""
    p, th, opt, active, kind, name, value = event
    new, old = _KINDS[kind]
    got = _outcome(new[name], copy.deepcopy(p), value, th, opt, active)
    want = _outcome(old[name], copy.deepcopy(p), value, th, opt, active)
    assert got == want, (kind, name, value)


def test_every_event_has_a_declared_effect_and_no_other() -> None:
    """The declarations cover exactly the effects the hand-written registry had."""
    for kind, (new, old) in _KINDS.items():
        assert set(new) == set(old), kind
        assert set(effects.DECLARATIONS[kind]) == set(new), kind


def test_effect_rule_ids_are_catalogued() -> None:
    """Every rule an effect operation names is in the rule catalogue."""
    named = {
        op[-1]
        for table in effects.EFFECTS.effects.values()
        for c in table.values()
        for op in c.walk()
    }
    named.discard("")
    assert named, "no effect names a rule"
    assert named <= set(RULES), sorted(named - set(RULES))


def test_action_doses_are_the_declared_ones() -> None:
    """An action's effect gives the very Dose its recommendation shows (one definition)."""
    declared = {id(d) for action in ACTIONS for d in action.doses}
    given_by_effects = [
        op for ops in effects.ACTION_OPS.values() for op in _flat(ops) if isinstance(op, Dose)
    ]
    shared = [d for d in given_by_effects if id(d) in declared]
    assert len(shared) >= 8


def _flat(ops: Any) -> Any:
    for op in ops:
        yield op
        if isinstance(op, When):
            yield from _flat(op.then)
            yield from _flat(op.otherwise)


def test_writes_name_what_an_effect_changes() -> None:
    """``writes`` lists the fields each effect may change (a columnar engine's update set)."""
    book = effects.EFFECTS.effects
    assert book["finding"]["labs"].writes >= {"labs", "response", "failure_confirmed"}
    tracking = {"antimetabolite_change_day", "timers_fired"}  # after every effect (INV-15)
    assert book["action"]["attempt_withdrawal"].writes == {
        "withdrawal_start_day",
        "withdrawal_cbr_days",
        "withdrawal_attempts",
        "drugs",
        *tracking,
    }
    assert book["timer"]["thiopurine_due"].writes == tracking


# --- the engine's declarations, on a small schema --------------------------------------------

_SCHEMA = Schema(
    fields={"x": False, "day": False, "tags": False, "drugs": False, "note": True},
    thresholds=frozenset({"limit"}),
)


class _Rec:
    def __init__(self) -> None:
        self.x, self.day, self.tags, self.drugs, self.note = 1.0, 5.0, set(), {}, None
        self.log: list[Any] = []

    def record(self, what: Any) -> None:
        self.log.append(what)


def _book(*ops: Any) -> EffectBook:
    return EffectBook(
        _SCHEMA,
        {"finding": {"e": ops}},
        fields={"x", "day", "tags", "drugs", "note"},
        doses="drugs",
        mutators={"record": Mutator(1, frozenset({"log"}))},
    )


def test_operations_run_in_order_and_see_earlier_ones() -> None:
    book = _book(
        Assign("x", "x + 1"),
        When(
            "x > 1.5",
            (AddTo("tags", "value"), Dose("x * 10", drug="a"), Dose("None", drug_expr="value")),
            otherwise=(Assign("note", "'no'"),),
        ),
        ScaleDoses("0.5"),
        StopDrug(drug_expr="value"),
        CallMethod("record", ("x",)),
        AddTo("tags", "'gone'"),
        RemoveFrom("tags", "'gone'"),
        AddTo("tags", "'kept'"),
    )
    rec = _Rec()
    book.functions("finding")["e"](rec, "b", None, None, frozenset())
    assert (rec.x, rec.drugs, rec.tags, rec.log, rec.note) == (
        2.0,
        {"a": 10.0},
        {"b", "kept"},
        [2.0],
        None,
    )
    rec.x = -5.0
    book.functions("finding")["e"](rec, "b", None, None, frozenset())
    assert rec.note == "no"
    assert rec.drugs == {"a": 5.0}
    book2 = _book(Clear("drugs"), Assign("day", "value"))
    book2.functions("finding")["e"](rec, 9.0, None, None, frozenset())
    assert rec.drugs == {}
    assert rec.day == 9.0


@pytest.mark.parametrize(
    ("op", "message"),
    [
        (Assign("y", "1"), "'y' is not a record field"),
        (Assign("x", "y + 1"), "unknown name 'y'"),
        (CallMethod("nope"), "not a declared mutator"),
        (CallMethod("record"), "takes 1 argument"),
        (Dose("1"), "either drug or drug_expr"),
        (StopDrug(), "either drug or drug_expr"),
        ("x = 1", "not an effect operation"),
    ],
)
def test_bad_declarations_fail_when_built(op: Any, message: str) -> None:
    with pytest.raises((InvalidPathwayError, ExpressionError), match=message):
        _book(op)


def test_before_values_after_operations_and_expressions_called_not_inlined() -> None:
    """``after`` runs after every effect and reads ``before``'s values; an expression whose
    names clash with another's (two set constants) is called instead of inlined."""
    book = EffectBook(
        _SCHEMA,
        {
            "finding": {
                "e": (
                    Assign("note", "'low' if x in {1.0, 2.0} else 'other'"),
                    When("x in {5.0}", (Assign("x", "x + 1"),)),
                ),
                "none": (),
            }
        },
        fields={"x", "day", "tags", "drugs", "note"},
        doses="drugs",
        before={"was": "x"},
        after=(When("x != was", (Assign("day", "value"),)),),
    )
    assert "_e1(p, th, opt, active, value=value, was=was)" in book.effects["finding"]["e"].source
    rec = _Rec()
    rec.x = 5.0
    book.functions("finding")["e"](rec, 42.0, None, None, frozenset())
    assert (rec.note, rec.x, rec.day) == ("other", 6.0, 42.0)
    book.functions("finding")["none"](rec, 7.0, None, None, frozenset())
    assert rec.day == 42.0
    assert book.effects["finding"]["none"].writes == {"day"}
    with pytest.raises(InvalidPathwayError, match="'before' names"):
        EffectBook(_SCHEMA, {}, fields={"x"}, doses="x", before={"x": "x"})
