"""The declarative AIH rules give exactly what the hand-written ones gave (issue 13).

The oracle is tests/legacy_rules.py, the rules, invariant checks and dose rules as written
in Python before they became declarations. For random records, active configurations and
options, every answer a user sees is compared: breaches and their messages (they appear in
events.csv), allowed actions, strength and rules, rank, doses, transplant indications and
every invariant's message after a step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway import AIHPathway
from pathway.declarations import Action, Check, Dose, Invariant, Refuse, Row, Rulebook
from pathway.errors import InvalidPathwayError
from pathway.expr import ExpressionError
from pathway.guidelines.aih import invariants, rules
from pathway.guidelines.aih.effects import ACTION_EFFECTS
from pathway.guidelines.aih.guideline import RULES
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.patient import LabPanel, PatientRecord
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.aih.vocabulary import ACTIONS, DRUGS, FINDINGS, RESPONSE_CLASSES

from . import legacy_rules as legacy
from .strategies import LAB_STRATEGIES, apply_move, moves_any, patients, start

STATES = sorted(AIHPathway.states_map)  # type: ignore[attr-defined]
_DAYS = st.floats(0, 3000, allow_nan=False)
_OPT_DAY = st.none() | _DAYS


@dataclass(frozen=True)
class _Step:
    kind: str
    name: str
    carried_out: bool


_panel = st.fixed_dictionaries({}, optional=LAB_STRATEGIES)


#: The record's flags and optional days a situation draws (tests/test_vector_memo.py too).
FLAGS = (
    "encephalopathy",
    "decompensated",
    "hcc",
    "nonadherent",
    "severe_cytopenia",
    "relapsed_after_withdrawal",
    "reinduced",
    "line_assessed",
    "failure_confirmed",
)
OPTIONAL_DAYS = (
    "steroid_start_day",
    "steroid_change_day",
    "cbr_since_day",
    "acute_review_day",
    "optimised_day",
    "first_treatment_day",
    "remission_biopsy_day",
    "antimetabolite_change_day",
    "treatment_start_day",
    "withdrawal_cbr_days",
)


@st.composite
def situations(draw: st.DrawFn) -> tuple[PatientRecord, Thresholds, GuidelineOptions, Any]:
    """A record with any history, a random configuration and options."""
    p: PatientRecord = draw(patients)
    p.day = draw(st.floats(0, 4000, allow_nan=False))
    for _ in range(draw(st.integers(0, 3))):
        p.add_labs(LabPanel.from_mapping(draw(st.floats(0, p.day)), draw(_panel)))
    drugs = draw(st.lists(st.sampled_from(DRUGS[:5]), max_size=3, unique=True))
    p.drugs = {
        d: draw(st.none() | st.sampled_from([0.0, 2.5, 5, 7.5, 9, 10, 30, 60, 150])) for d in drugs
    }
    p.intolerant = set(draw(st.lists(st.sampled_from(DRUGS[:5]), max_size=3)))
    rarely = st.sampled_from([False, False, False, True])  # most checks pass: actions allowed
    for flag in FLAGS:
        setattr(p, flag, draw(rarely))
    p.pregnancy = draw(st.sampled_from(["none"] * 3 + ["planned", "pregnant", "postpartum"]))
    p.response = draw(st.sampled_from([*RESPONSE_CLASSES, "relapse"]))
    for name in OPTIONAL_DAYS:
        setattr(p, name, draw(_OPT_DAY))
    p.acute_improving = draw(st.sampled_from([None, True, False]))
    if draw(st.booleans()):
        p.treatment_baseline = LabPanel.from_mapping(draw(st.floats(0, p.day)), draw(_panel))
    active = frozenset(draw(st.lists(st.sampled_from(STATES), max_size=6)))
    p.entered = {s: draw(st.floats(0, p.day)) for s in active}
    p.timers_fired = {"month6_assessment": draw(st.integers(0, 2))}
    if draw(st.booleans()):
        p.response_history = [(p.day, p.response)]
    opt = GuidelineOptions(
        steroid_scheme=draw(st.sampled_from(["weight_based", "aasld_fixed"])),
        first_line_antimetabolite=draw(st.sampled_from(["azathioprine", "mycophenolate"])),
        withdrawal_criteria=draw(st.sampled_from(["hasl", "hartl"])),
        withdrawal_biopsy=draw(st.booleans()),
    )
    return p, Thresholds(), opt, active


def _pairs(breaches: list[Any]) -> list[tuple[str, str]]:
    return [(b.rule_id, b.message) for b in breaches]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(situations())
def test_declarations_agree_with_the_hand_written_rules(situation: Any) -> None:
    """Breaches, allowed actions, strength, rank, doses and indications are unchanged."""
    p, th, opt, active = situation
    new, old = rules.Ctx(p, th, opt, active), legacy.Ctx(p, th, opt, active)
    got, want = rules.evaluate(new), legacy.evaluate(old)
    assert {a: _pairs(b) for a, b in got.items()} == {a: _pairs(b) for a, b in want.items()}
    assert rules.allowed_actions(new) == legacy.allowed_actions(old)
    for action in ACTIONS:
        assert _pairs(rules.ACTION_CHECKS[action](new)) == _pairs(legacy.ACTION_CHECKS[action](old))
        assert rules.strength(action, new) == legacy.strength(action, old), action
        level = rules.strength(action, new)[0]
        assert rules.rank_key(action, level, new) == legacy.rank_key(action, level, old)
        assert rules.doses(action, new) == legacy.doses(action, old), action
    assert rules.transplant_indications(new) == legacy.transplant_indications(old)
    assert rules.disease_active(p, th) == legacy.disease_active(p, th)
    assert rules.presents_acute_severe(p, th) == legacy.presents_acute_severe(p, th)
    assert rules.cbr_days(p) == legacy.cbr_days(p)


def _agree(chart: Any) -> None:
    c = chart.ctx()
    old = legacy.Ctx(*c)
    assert rules.allowed_actions(c) == legacy.allowed_actions(old)
    for action in ACTIONS:
        assert _pairs(rules.ACTION_CHECKS[action](c)) == _pairs(legacy.ACTION_CHECKS[action](old))
        assert rules.strength(action, c) == legacy.strength(action, old)
        assert rules.doses(action, c) == legacy.doses(action, old)


class _InvariantsAgree:
    """A step listener: after each step, every invariant's message is the oracle's."""

    def after_step(self, chart: Any, step: Any) -> None:
        p, th, active = chart.patient, chart.thresholds, chart.active
        for rule_id, check in legacy.INVARIANTS.items():
            assert invariants.INVARIANTS[rule_id](p, th, active, step) == check(p, th, active, step)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient=patients, moves=moves_any)
def test_declarations_agree_along_random_courses(patient: PatientRecord, moves: list[Any]) -> None:
    """Along courses of findings, the guideline's actions and deviations, answers agree."""
    chart = start(patient, {"alt_xuln": 6.0, "igg_xuln": 1.6})
    chart.add_step_listener(_InvariantsAgree())
    _agree(chart)
    for move in moves:
        apply_move(chart, move)
        if chart.is_dead:
            break
        _agree(chart)


_STEP_NAMES = sorted({*ACTIONS, *FINDINGS, "week4_check", "second_line_assessment", "labs"})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    situations(),
    st.sampled_from(["action", "finding", "timer"]),
    st.sampled_from(_STEP_NAMES),
    st.booleans(),
)
def test_invariants_agree_with_the_hand_written_checks(
    situation: Any, kind: str, name: str, carried_out: bool
) -> None:
    """Every invariant reports the same message (or none) after any step."""
    p, th, _, active = situation
    step = _Step(kind, name, carried_out)
    for rule_id, check in legacy.INVARIANTS.items():
        assert invariants.INVARIANTS[rule_id](p, th, active, step) == check(p, th, active, step), (
            rule_id
        )


def test_rule_states_are_chart_states() -> None:
    """Every state a rule tests is a state of the chart (a typo would never be active)."""
    read: set[str] = set()
    for action in rules.RULEBOOK.actions.values():
        for check in action.checks:
            read |= check.when.deps.states
    assert read <= set(STATES)
    assert set(rules.SCHEMA.states) <= set(STATES)


def test_list_functions_declare_what_their_declarations_read() -> None:
    """Functions that evaluate declarations declare at least what those read, so that the
    dependency sets of the expressions calling them stay complete."""
    indications = rules.RULEBOOK.lists["transplant_indications"]
    reads = [c.when.deps for c in indications]
    reads += [c.message.deps for c in indications if c.message is not None]
    fn = rules.FUNCTIONS["transplant_indicated"]
    assert {f for d in reads for f in d.fields} <= fn.reads
    assert {t for d in reads for t in d.thresholds} <= fn.thresholds
    observe = rules.RULEBOOK.actions["observe_untreated"].checks
    fn = rules.FUNCTIONS["observation_refused"]
    assert {f for c in observe for f in c.when.deps.fields} <= fn.reads
    assert {t for c in observe for t in c.when.deps.thresholds} <= fn.thresholds


def test_actions_are_declared_in_vocabulary_order() -> None:
    """Allowed-action lists keep the vocabulary order users see."""
    assert tuple(a.id for a in rules.ACTIONS) == ACTIONS


def test_every_action_names_a_registered_effect_and_catalogued_rules() -> None:
    """The Python effects stay listed: each declared action's effect is registered."""
    for action in rules.ACTIONS:
        assert action.effect_name in ACTION_EFFECTS
        assert set(rules.RULEBOOK.rule_ids(action.id)) <= set(RULES), action.id


def test_one_predicate_refuses_and_is_monitored() -> None:
    """INV-01 is declared once: budesonide in cirrhosis is refused and, if given, flagged."""
    p = PatientRecord("p", 40, "F", 70, cirrhosis="compensated")
    c = rules.Ctx(p, Thresholds(), GuidelineOptions(), frozenset({"diagnosis"}))
    assert ("INV-01", "budesonide is contraindicated in cirrhosis (compensated)") in _pairs(
        rules.ACTION_CHECKS["start_budesonide"](c)
    )
    p.drugs["budesonide"] = 9.0
    step = _Step("action", "start_budesonide", True)
    assert invariants.INVARIANTS["INV-01"](p, Thresholds(), c.active, step) == (
        "budesonide with cirrhosis (compensated)"
    )
    refused = {c.rule for a in rules.RULEBOOK.actions.values() for c in a.checks}
    monitored = {inv.decl.id for inv in rules.RULEBOOK.invariants}
    assert {"INV-01", "INV-02", "INV-05", "INV-09", "INV-11", "INV-12"} <= refused & monitored


# --- declaration errors: at import, naming where ------------------------------------------


def _book(*actions: Action, invs: tuple[Invariant, ...] = ()) -> Rulebook:
    return Rulebook(rules.SCHEMA, actions, invs)


def test_a_typo_in_a_check_fails_when_declared() -> None:
    """A misspelt threshold is refused at declaration, naming the action, check and column."""
    bad = Action("a", checks=(Check("R-1", "latest('alt_xuln') > th.relapse_alt_xul", "x"),))
    with pytest.raises(ExpressionError) as err:
        _book(bad)
    message = str(err.value)
    assert "action 'a', check 1" in message
    assert "column 22" in message
    assert "th.relapse_alt_xuln" in message  # the suggestion


def test_unknown_state_and_invariant_and_row_order_are_refused() -> None:
    """Unknown states, unknown invariants and a 'must' after a 'should' row are errors."""
    with pytest.raises(ExpressionError, match="unknown state 'maintenence'"):
        _book(Action("a", checks=(Check("R", '"maintenence" in active', "x"),)))
    with pytest.raises(InvalidPathwayError, match="unknown invariant 'INV-99'"):
        _book(Action("a", checks=(Refuse("INV-99", "x"),)))
    rows = (Row("True", "should", ("R",)), Row("True", "must", ("R",)))
    with pytest.raises(InvalidPathwayError, match="'must' rows come before"):
        _book(Action("a", strength=rows))
    with pytest.raises(InvalidPathwayError, match="dose 1: give either drug or drug_expr"):
        _book(Action("a", doses=(Dose("1.0"),)))
    with pytest.raises(InvalidPathwayError, match="reads options"):
        _book(invs=(Invariant("I", condition='opt.withdrawal_criteria == "hasl"', message="x"),))


def test_optional_fields_match_the_record_annotations() -> None:
    """OPTIONAL_FIELDS lists exactly the record fields annotated ``... | None``.

    The schema reads the list, not the annotations, because the native build erases them; a
    field added as optional but left out would make its comparisons fail on ``None``.
    """
    from dataclasses import fields

    from pathway.guidelines.aih.patient import OPTIONAL_FIELDS

    annotated = {
        f.name
        for f in fields(PatientRecord)
        if str(f.type).endswith("| None") and not f.name.startswith("_")
    }
    assert annotated == OPTIONAL_FIELDS
    assert {n for n, optional in rules.SCHEMA.fields.items() if optional} >= OPTIONAL_FIELDS
