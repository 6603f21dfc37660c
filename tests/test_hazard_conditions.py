"""The patient model's hazard conditions, declared as expressions (issue 13)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway import AIHPathway
from pathway.expr import Expr, ExpressionError
from simulation.model import hazard_conditions as hc
from simulation.model.disease import DiseaseModel
from simulation.model.parameters import load_parameters

_CONDITIONS = [*hc.FLARE_CASES, *hc.HAZARD_CONDITIONS.values()]


def test_every_clock_has_its_conditions() -> None:
    """Each clock of the model is governed by a declared condition (or the flare cases)."""
    declared = {c.name.split(".")[0] for c in _CONDITIONS} - {"activity"}
    assert declared == set(DiseaseModel._CLOCKS)


def test_parameters_exist_and_every_condition_says_why() -> None:
    known = set(load_parameters())
    for c in _CONDITIONS:
        unknown = set(c.parameters) - known
        assert not unknown, f"{c.name}: unknown parameters {sorted(unknown)}"
        assert re.match(r"\[MODEL\] \S|AIH-[A-Z]+-\d+", c.why), c.name


def test_dependency_sets_say_what_each_hazard_reads() -> None:
    cirrhosis = hc.HAZARD_CONDITIONS["cirrhosis"].when.deps
    assert cirrhosis.fields == {"native", "stage"}
    assert not cirrhosis.states
    assert not cirrhosis.any_state
    postpartum = hc.HAZARD_CONDITIONS["postpartum_flare"].when.deps
    assert postpartum.states == {"maintenance", "withdrawal", "off_treatment", "observation"}
    transplant = hc.HAZARD_CONDITIONS["transplant"].when.deps
    assert transplant.thresholds == {"transplant_meld"}
    assert "meld" in transplant.fields
    pregnancy = hc.HAZARD_CONDITIONS["plan_pregnancy"].when.deps
    assert pregnancy.thresholds == {"pregnancy_max_age"}
    assert pregnancy.states == {"transplant", "post_transplant"}


def test_a_typo_fails_at_declaration_naming_the_condition() -> None:
    with pytest.raises(ExpressionError, match=r"hazard condition 'x'.*did you mean stage"):
        hc._condition("x", 'stag == "none"', (), "[MODEL] a test")
    with pytest.raises(ExpressionError, match="unknown state"):
        hc._condition("x", '"maintenence" in active', (), "[MODEL] a test")


def test_report_conditions_read_only_active_states() -> None:
    for name, expr in hc.REPORT_CONDITIONS.items():
        assert expr.deps.states, name
        assert not expr.deps.fields, name
    with pytest.raises(ValueError, match="may read only the active states"):
        hc._report("x", '"transplant" in active and hcc')
    assert hc.reported("transplant", frozenset({"alive", "care_line", "transplant"}))
    assert not hc.reported("graft_failure", frozenset({"alive", "care_line", "transplant"}))


_STATES = sorted(AIHPathway.states_map)
_maybe_day = st.none() | st.floats(0, 5000)
situations = st.builds(
    hc.Situation,
    drugs=st.frozensets(st.sampled_from(["azathioprine", "mycophenolate", "tacrolimus"])),
    pregnancy=st.sampled_from(["none", "planned", "pregnant", "postpartum"]),
    sex=st.sampled_from(["F", "M"]),
    age=st.floats(18, 90),
    withdrawal_start_day=_maybe_day,
    treatment_start_day=_maybe_day,
    stage=st.sampled_from(["none", "compensated", "decompensated"]),
    native=st.booleans(),
    hcc=st.booleans(),
    recurrence=st.booleans(),
    graft_failed=st.booleans(),
    recompensates=st.booleans(),
    decompensation_active=st.booleans(),
    nonadherent_since=_maybe_day,
    untreated_since=_maybe_day,
    course=st.sampled_from(["untreated", "first_line", "flare", "nonadherent"]),
    emergency=st.booleans(),
    candidate=st.booleans(),
    meld=st.floats(6, 40),
    alt=st.floats(0.1, 20),
    igg=st.floats(0.5, 3),
)
limits = st.builds(hc.Limits, st.floats(10, 25), st.floats(35, 50))


@given(situations, limits, st.frozensets(st.sampled_from(_STATES)))
def test_the_compiled_table_agrees_with_each_expression(
    s: hc.Situation, th: hc.Limits, active: frozenset[str]
) -> None:
    """The conditions run as one function per step; each agrees with its own expression."""
    on = hc.hazards_on(s, th, active)
    for name, c in hc.HAZARD_CONDITIONS.items():
        assert bool(on[name]) == bool(c.when(s, th, None, active)), name
    first = next((c.name for c in hc.FLARE_CASES if c.when(s, th, None, active)), "")
    assert hc.flare_case(s, th, active) == first


def test_the_flare_cases_follow_the_care_line() -> None:
    s = hc.Situation(
        drugs=frozenset({"azathioprine"}),
        pregnancy="none",
        sex="F",
        age=40.0,
        withdrawal_start_day=None,
        treatment_start_day=0.0,
        stage="none",
        native=True,
        hcc=False,
        recurrence=False,
        graft_failed=False,
        recompensates=False,
        decompensation_active=False,
        nonadherent_since=None,
        untreated_since=None,
        course="first_line",
        emergency=False,
        candidate=True,
        meld=8.0,
        alt=0.5,
        igg=0.9,
    )
    th = hc.Limits(15.0, 45.0)
    assert hc.flare_case(s, th, {"maintenance"}) == "flare.maintenance"
    assert hc.flare_case(s, th, {"induction"}) == ""
    assert hc.flare_case(s, th, {"post_transplant"}) == "flare.recurrence"
    s.nonadherent_since = 100.0
    assert hc.flare_case(s, th, {"maintenance"}) == "flare.nonadherent"
    s.withdrawal_start_day = 200.0
    assert hc.flare_case(s, th, {"withdrawal"}) == "flare.withdrawal"


def test_expressions_keep_their_text() -> None:
    """The table's conditions are the text a reader sees (docs and messages quote them)."""
    cond = hc.HAZARD_CONDITIONS["hcc"]
    assert isinstance(cond.when, Expr)
    assert cond.when.text == "native and not hcc"
