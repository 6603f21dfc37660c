"""The numpy interpreter agrees with the scalar one on every AIH declaration (issue 14).

For batches of random records in one configuration (the situations of
tests/test_declarations.py: any history, drugs, flags, days and options), every declared
expression (checks, strength and priority rows, list checks, invariants) holds for exactly
the patients the scalar interpreter says, and the rulebook's allowed actions and first-ranked
recommendation are the scalar engine's, patient by patient.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.compiled import CompiledPathway
from pathway.errors import InvalidPathwayError
from pathway.expr import Expr, Schema
from pathway.guidelines.aih import rules
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.patient import LabPanel, PatientRecord
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.aih.vector_forms import VECTOR_RULEBOOK
from pathway.vector import Batch, VectorInterpreter, column, truthy

from .strategies import course, moves_any, patients
from .test_declarations import situations

BOOK = rules.RULEBOOK


def _expressions() -> list[tuple[str, Expr]]:
    """Every condition the rulebook declares, named."""
    out: list[tuple[str, Expr]] = []
    for name, action in BOOK.actions.items():
        out += [(f"{name} check {i}", c.when) for i, c in enumerate(action.checks)]
        out += [(f"{name} row {i}", row[0]) for i, row in enumerate(action.rows)]
        out += [(f"{name} priority {i}", w) for i, (w, _) in enumerate(action.priority_rows)]
    for name, checks in BOOK.lists.items():
        out += [(f"list {name} {i}", c.when) for i, c in enumerate(checks)]
    out += [(f"invariant {inv.decl.id}", inv.test) for inv in BOOK.invariants]
    out += [(f"condition {name}", expr) for name, expr in rules.CONDITIONS.items()]
    return out


EXPRESSIONS = _expressions()


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[Any], Any, Any, frozenset[str]]:
    """1-8 random records sharing one configuration and one set of options."""
    drawn = draw(st.lists(situations(), min_size=1, max_size=8))
    _, th, opt, active = drawn[0]
    return [s[0] for s in drawn], th, opt, active


def _scalar(fn: Any, records: list[Any], th: Any, opt: Any, active: frozenset[str]) -> list[Any]:
    return [fn((p, th, opt, active)) for p in records]


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(batches())
def test_every_declared_condition_agrees(batch: tuple[list[Any], Any, Any, Any]) -> None:
    """Each check, row, priority, list check, invariant and routing condition holds for the
    same patients."""
    records, th, opt, active = batch
    vi = VECTOR_RULEBOOK.interpreter(Batch(len(records), active, records=records), th, opt)
    for name, expr in EXPRESSIONS:
        scalar = [bool(expr.fn(p, th, opt, active)) for p in records]
        assert vi.test(expr).tolist() == scalar, name


@_SETTINGS
@given(batches())
def test_allowed_actions_and_top_recommendation_agree(
    batch: tuple[list[Any], Any, Any, Any],
) -> None:
    """Allowed actions and the first-ranked recommendation (action, strength, rules) are the
    scalar rulebook's for every patient."""
    records, th, opt, active = batch
    vector_batch = Batch(len(records), active, records=records)
    vi = VECTOR_RULEBOOK.interpreter(vector_batch, th, opt)
    masks = VECTOR_RULEBOOK.allowed(vi)
    for i, p in enumerate(records):
        env = (p, th, opt, active)
        assert [a for a, m in masks.items() if m[i]] == BOOK.allowed(env)
    top = VECTOR_RULEBOOK.top(vector_batch, th, opt)
    for i, p in enumerate(records):
        env = (p, th, opt, active)
        ranked = sorted(
            ((BOOK.rank_key(a, BOOK.strength(a, env)[0], env), a) for a in BOOK.allowed(env)),
            key=lambda item: item[0],
        )
        if not ranked:
            assert top.action[i] is None
            continue
        action = ranked[0][1]
        level, rule_ids = BOOK.strength(action, env)
        assert (top.action[i], top.strength[i], top.rules(i)) == (action, level, tuple(rule_ids))


def test_possible_events_restrict_the_recommendation() -> None:
    """Given the chart's possible events, the top recommendation is chosen among them."""
    p = PatientRecord("v1", age=40, sex="F", weight_kg=60, cirrhosis="none")
    p.add_labs(LabPanel.from_mapping(0.0, {"alt_xuln": 8.0, "igg_xuln": 1.5}))
    th, opt = Thresholds(), GuidelineOptions()
    batch = Batch(1, frozenset({"diagnosis"}), records=[p])
    assert VECTOR_RULEBOOK.top(batch, th, opt).action[0] == "start_prednisolone"
    env = (p, th, opt, batch.active)
    possible = set(BOOK.allowed(env)) - {"start_prednisolone"}
    assert possible
    expected = min(possible, key=lambda a: BOOK.rank_key(a, BOOK.strength(a, env)[0], env))
    assert VECTOR_RULEBOOK.top(batch, th, opt, possible=possible).action[0] == expected
    assert VECTOR_RULEBOOK.top(batch, th, opt, possible=set()).action[0] is None


# --- the interpreter on its own ---------------------------------------------------------------

SCHEMA = Schema(
    fields={"a": False, "alt": True, "name": True, "tags": False},
    thresholds=frozenset({"limit"}),
    states=frozenset({"s1", "s2"}),
)


class _Th:
    limit = 3.0


class _Rec:
    def __init__(self, a: float, alt: float | None, name: str | None, tags: set[str]) -> None:
        self.a, self.alt, self.name, self.tags = a, alt, name, tags


_values = st.floats(-5, 5, allow_nan=False)
_recs = st.builds(
    _Rec,
    _values,
    st.none() | _values,
    st.none() | st.sampled_from(["x", "y"]),
    st.sets(st.sampled_from(["x", "y", "z"])),
)


@given(
    st.lists(_recs, min_size=1, max_size=12),
    st.sampled_from(
        [
            "alt > th.limit",
            "not alt <= th.limit and a < th.limit",
            "(alt or 0.0) + a * 2 >= 1",
            "alt is None or -1 < a < th.limit",
            'name == "x" or name in ("y",)',
            '"x" in tags and name is not None',
            '"s1" in active and not active & {"s2"}',
            "((alt or 0.0) if alt is not None else a) / 2 > 0.5",
            "a or alt",
            "max(a, th.limit) == th.limit",
            "len(tags) != 1",
            "alt == alt",  # None == None holds, NaN == NaN would not
            "alt != (alt or a)",
        ]
    ),
    st.sets(st.sampled_from(["s1", "s2"])),
)
def test_expressions_agree_with_the_scalar_interpreter(
    recs: list[_Rec], text: str, active: set[str]
) -> None:
    """Values (not only truth) agree: missing values are NaN or None, compare false."""
    e = Expr(text, SCHEMA)
    batch = Batch.from_records(recs, frozenset(active), SCHEMA, ["a", "alt", "name", "tags"])
    got = VectorInterpreter(batch, _Th(), None, SCHEMA).evaluate(e)
    for value, rec in zip(got.tolist(), recs, strict=True):
        want = e(rec, _Th(), None, frozenset(active))
        if want is None or (isinstance(value, float) and math.isnan(value)):
            assert want is None
            assert value is None or math.isnan(value)
        else:
            assert value == want


def test_columns_and_truthiness() -> None:
    """Columns take the narrowest kind that holds the values; None is NaN or None."""
    assert column([True, False]).dtype == bool
    floats = column([1, None, 2.5])
    assert floats.dtype == np.float64
    assert np.isnan(floats[1])
    assert column(["a", None]).dtype == object
    assert truthy(np.array([0.0, np.nan, 2.0])).tolist() == [False, False, True]
    assert truthy(column(["", "a", None])).tolist() == [False, True, False]


def test_a_function_without_vector_form_needs_records() -> None:
    """A batch without records cannot fall back row by row: the error names the function
    (every AIH function reading the record has a form now: an interpreter without them)."""
    th, opt = Thresholds(), GuidelineOptions()
    batch = Batch(2, frozenset({"induction"}))
    vi = VectorInterpreter(batch, th, opt, BOOK.schema)
    with pytest.raises(InvalidPathwayError, match=r"tacrolimus_dose\(\) has no vector form"):
        vi.test(Expr("tacrolimus_dose() > 0", BOOK.schema))


# --- random expressions: the semantics, not only the AIH declarations -----------------------

_NUM_LEAVES = st.sampled_from(["a", "(alt or 0.0)", "th.limit", "0.0", "1.5", "-2", "len(tags)"])


def _num(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda p: f"({p[0]} + {p[1]})"),
        pair.map(lambda p: f"({p[0]} - {p[1]})"),
        pair.map(lambda p: f"({p[0]} * {p[1]})"),
        pair.map(lambda p: f"({p[0]} / (abs({p[1]}) + 1))"),
        pair.map(lambda p: f"min({p[0]}, {p[1]})"),
        pair.map(lambda p: f"max({p[0]}, {p[1]})"),
        children.map(lambda c: f"(-{c})"),
        st.tuples(_BOOLS, children, children).map(lambda t: f"({t[1]} if {t[0]} else {t[2]})"),
    )


_BOOL_LEAVES = st.sampled_from(
    [
        'name == "x"',
        'name != "y"',
        "name is None",
        "alt is not None",
        '"x" in tags',
        '"z" not in tags',
        'name in ("x", "y")',
        '"s1" in active',
        'active & {"s2"}',
        "alt > a",
        "alt <= th.limit",
        "a == 0.0",
        "alt == alt",
        "alt != (alt or a)",
    ]
)
_BOOLS = st.recursive(
    _BOOL_LEAVES,
    lambda kids: st.one_of(
        kids.map(lambda c: f"(not {c})"),
        st.tuples(kids, kids).map(lambda p: f"({p[0]} and {p[1]})"),
        st.tuples(kids, kids).map(lambda p: f"({p[0]} or {p[1]})"),
    ),
    max_leaves=4,
)
_NUMS = st.recursive(_NUM_LEAVES, _num, max_leaves=5)
_COMPARED = st.one_of(
    _BOOLS,
    st.tuples(_NUMS, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _NUMS).map(" ".join),
    st.tuples(_NUMS, _NUMS, _NUMS).map(lambda t: f"{t[0]} < {t[1]} <= {t[2]}"),
    st.tuples(st.sampled_from(["alt", "(alt or a)", "(a and alt)"]), _NUMS).map(
        lambda t: f"{t[0]} > {t[1]}"
    ),
    _NUMS,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_recs, min_size=1, max_size=10), _COMPARED, st.sets(st.sampled_from(["s1", "s2"])))
def test_random_expressions_agree_with_the_scalar_interpreter(
    recs: list[_Rec], text: str, active: set[str]
) -> None:
    """Random expressions (arithmetic, min/max, if-else, and/or/not, comparisons with
    missing values, chains, membership, active states) give the scalar values and truth."""
    e = Expr(text, SCHEMA)
    batch = Batch.from_records(recs, frozenset(active), SCHEMA, ["a", "alt", "name", "tags"])
    vi = VectorInterpreter(batch, _Th(), None, SCHEMA)
    values, truth = vi.evaluate(e).tolist(), vi.test(e).tolist()
    for value, holds, rec in zip(values, truth, recs, strict=True):
        want = e(rec, _Th(), None, frozenset(active))
        assert holds == bool(want), text
        if isinstance(want, float | int) and not isinstance(want, bool):
            assert value == want or (math.isnan(value) and math.isnan(want)), text


_STEP_NAMES = sorted({*BOOK.actions, "labs", "week4_check", "month6_assessment", "intolerance"})


@_SETTINGS
@given(batches(), st.sampled_from(_STEP_NAMES), st.booleans())
def test_invariants_broken_after_a_step_agree(
    batch: tuple[list[Any], Any, Any, Any], step_name: str, carried_out: bool
) -> None:
    """The invariants broken after a step, with their messages, are the scalar rulebook's
    for every patient."""
    records, th, opt, active = batch
    got = VECTOR_RULEBOOK.broken(
        Batch(len(records), active, records=records), th, opt, step_name, carried_out
    )
    for i, p in enumerate(records):
        assert got[i] == BOOK.broken((p, th, opt, active), step_name, carried_out)


def test_routing_conditions_agree() -> None:
    """Every named condition the chart's guards ask gives the scalar value (truth and, for
    day counts, the number)."""
    th, opt = Thresholds(), GuidelineOptions()
    p = PatientRecord("v2", age=50, sex="M", weight_kg=80, cirrhosis="none")
    p.day = 400.0
    p.add_labs(LabPanel.from_mapping(390.0, {"alt_xuln": 0.8, "igg_xuln": 0.9}))
    p.cbr_since_day = 200.0
    q = PatientRecord("v3", age=30, sex="F", weight_kg=55, cirrhosis="compensated")
    records = [p, q]
    active = frozenset({"maintenance"})
    vi = VECTOR_RULEBOOK.interpreter(Batch(2, active, records=records), th, opt)
    for name, expr in rules.CONDITIONS.items():
        got = vi.evaluate(expr).tolist()
        for value, rec in zip(got, records, strict=True):
            want = expr.fn(rec, th, opt, active)
            if isinstance(want, bool) or want is None:
                assert bool(value) == bool(want), name
            else:
                assert value == want, name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patient=patients, moves=moves_any)
def test_the_charts_own_recommendation_along_random_courses(
    patient: PatientRecord, moves: list[Any]
) -> None:
    """Along random courses on the compiled engine, the vector top recommendation among the
    chart's possible events (which depend on the configuration only) is the chart's own."""
    for chart in course(patient, moves, engine=CompiledPathway):
        want = chart.top_recommendation()
        batch = Batch(1, chart.active, records=[chart.patient])
        top = VECTOR_RULEBOOK.top(
            batch, chart.thresholds, chart.options, possible=chart.allowed_event_ids()
        )
        got = None if top.action[0] is None else (top.action[0], top.strength[0], top.rules(0))
        assert got == (None if want is None else (want.action, want.strength, want.rule_ids))
