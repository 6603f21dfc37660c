"""The guideline expression language: checking, dependency sets, semantics and templates."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway.expr import Deps, Expr, ExpressionError, Function, Schema, Template
from pathway.vector import Batch, VectorInterpreter

SCHEMA = Schema(
    fields={"a": False, "b": False, "c": False, "flag": False, "alt": True, "drug": True},
    thresholds=frozenset({"limit", "delay"}),
    options=frozenset({"scheme"}),
    states=frozenset({"s1", "s2", "s3"}),
    functions={
        "latest": Function(arity=1, method=True, optional=True, reads=frozenset({"labs"})),
        "twice": Function(impl=lambda p, th, opt, active, x: 2 * x, arity=1),
        "busy": Function(impl=lambda p, th, opt, active: len(active), reads_active=True),
    },
    derived={"high": "alt > th.limit", "late": "high and a > th.delay"},
)
TH = SimpleNamespace(limit=3.0, delay=14.0)
OPT = SimpleNamespace(scheme="x")


class _Record(SimpleNamespace):
    def latest(self, name: str) -> float | None:
        value: float | None = getattr(self, "labs", {}).get(name)
        return value


def _record(**values: Any) -> _Record:
    base = {"a": 1.0, "b": 2.0, "c": 3.0, "flag": False, "alt": None, "drug": None, "labs": {}}
    return _Record(**{**base, **values})


def run(text: str, active: frozenset[str] = frozenset(), **values: Any) -> Any:
    return Expr(text, SCHEMA)(_record(**values), TH, OPT, active)


# --- checking: every mistake is found when declared, naming where ----------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a +* b", "column 4: syntax error"),
        ("lambda: 1", "column 1: Lambda is not allowed; allowed: and, or, not"),
        ("[x for x in b]", "ListComp is not allowed"),
        ("aa > 1", "column 1: unknown name 'aa'; did you mean a"),
        ("a > th.limt", "column 5: unknown threshold 'th.limt'; did you mean th.limit"),
        ("opt.schem", "unknown option 'opt.schem'; did you mean opt.scheme"),
        ('"s4" in active', "unknown state 's4'"),
        ("p.a", "only th.<threshold> and opt.<option> may be read with a dot"),
        ("twice(a, b)", "twice() takes 1 argument(s), got 2"),
        ("twice(x=a)", "keyword arguments are not allowed"),
        ("__import__('os')", "unknown function '__import__'"),
        ("alt + 1 > 2", "an operand may be missing (None): write (x or 0.0)"),
        ("a is 1", "'is' compares with None only"),
        ("0 < alt < 5", "chained comparison may not read a value that may be missing"),
    ],
)
def test_bad_expressions_are_refused_with_position(text: str, message: str) -> None:
    """A mistake raises ExpressionError naming the declaration, expression and column."""
    with pytest.raises(ExpressionError) as err:
        Expr(text, SCHEMA, "action 'x', check 2")
    assert str(err.value).startswith(f"action 'x', check 2: expression {text!r}, column ")
    assert message in str(err.value)


def test_a_derived_name_that_refers_to_itself_is_refused() -> None:
    schema = Schema(fields={"a": False}, derived={"loop": "a > 1 and loop"})
    with pytest.raises(ExpressionError, match="derived name 'loop' refers to itself"):
        Expr("loop", schema)


# --- dependency sets ---------------------------------------------------------------------


def test_dependency_sets_name_what_is_read() -> None:
    """Fields, thresholds, states, function calls; derived names bring their own reads."""
    e = Expr('latest("alt_xuln") > th.limit and "s1" in active and late', SCHEMA)
    assert e.deps == Deps(
        fields=frozenset({"labs", "alt", "a"}),
        thresholds=frozenset({"limit", "delay"}),
        states=frozenset({"s1"}),
        functions=frozenset({"latest"}),
        calls=frozenset({("latest", ("alt_xuln",))}),
    )
    assert Expr('active & {"s2", "s3"}', SCHEMA).deps.states == {"s2", "s3"}
    assert not Expr('active & {"s2"}', SCHEMA).deps.any_state
    assert Expr("len(active) > 1", SCHEMA).deps.any_state  # the whole set is read
    assert Expr("busy() > 1", SCHEMA).deps.any_state  # a function that reads it
    assert Expr("opt.scheme == 'x'", SCHEMA).deps.options == {"scheme"}


# --- semantics: Python's, with missing values comparing false ------------------------------


def test_a_missing_value_makes_an_ordering_comparison_false() -> None:
    """Before the first ALT, 'ALT above the limit' and 'ALT at or below' are both false."""
    assert run("alt > th.limit") is False
    assert run("alt <= th.limit") is False
    assert run("alt > th.limit", alt=4.0) is True
    assert run("alt is None or alt > 5") is True
    assert run("(alt or 0.0) + 1 > 0.5") is True
    assert run("high", alt=3.5) is True  # derived names inline


def test_functions_states_and_conditional_values() -> None:
    assert run('latest("alt_xuln")', labs={"alt_xuln": 2.5}) == 2.5
    assert run("twice(a) + b") == 4.0
    assert run('"s1" in active and flag', frozenset({"s1"}), flag=True) is True
    assert run('"low" if a < 2 else "high"') == "low"
    assert run("drug in ('x', 'y')", drug="y") is True


# --- Hypothesis: the compiled interpreter agrees with Python's eval -----------------------

_names = st.sampled_from(["a", "b", "c", "th.limit", "th.delay"])
_numbers = st.one_of(_names, st.integers(-5, 5).map(str), st.sampled_from(["0.5", "2.25"]))
_arith = st.recursive(
    _numbers,
    lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=6,
)
_compare = st.tuples(_arith, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _arith).map(
    lambda t: f"{t[0]} {t[1]} {t[2]}"
)
_atoms = st.one_of(
    _compare, st.just("flag"), st.sampled_from(['"s1" in active', '"s2" not in active'])
)
_bools = st.recursive(
    _atoms,
    lambda inner: st.one_of(
        inner.map(lambda x: f"not ({x})"),
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(_arith, inner, _arith).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    ),
    max_leaves=8,
)
_expressions = st.one_of(_bools, _arith)
_values = st.one_of(st.integers(-10, 10), st.floats(-100, 100, allow_nan=False))
_envs = st.fixed_dictionaries(
    {
        "a": _values,
        "b": _values,
        "c": _values,
        "flag": st.booleans(),
        "active": st.frozensets(st.sampled_from(["s1", "s2", "s3"])),
    }
)


@given(_expressions, _envs)
def test_compiled_expressions_agree_with_python_eval(text: str, env: dict[str, Any]) -> None:
    """On values that are never missing, the interpreter is Python's expression semantics."""
    expected = eval(text, {"__builtins__": {}}, {**env, "th": TH})
    record = _record(**{k: v for k, v in env.items() if k != "active"})
    assert Expr(text, SCHEMA)(record, TH, OPT, env["active"]) == expected


@given(_expressions, _envs, st.sampled_from(["a", "b", "c", "flag"]), _values)
def test_a_field_outside_the_dependency_set_never_changes_the_value(
    text: str, env: dict[str, Any], name: str, value: Any
) -> None:
    """What an expression does not list in its dependency set cannot change its value."""
    e = Expr(text, SCHEMA)
    values = {k: v for k, v in env.items() if k != "active"}
    before = e(_record(**values), TH, OPT, env["active"])
    if name not in e.deps.fields:
        values[name] = value
        assert e(_record(**values), TH, OPT, env["active"]) == before
    other = frozenset({"s1", "s2", "s3"}) - e.deps.states
    if not e.deps.any_state:
        changed = env["active"] ^ other  # toggle only states the expression does not read
        assert e(_record(**values), TH, OPT, changed) == before


# --- message templates --------------------------------------------------------------------


@given(st.floats(0, 5000, allow_nan=False), st.none() | st.floats(0, 40, allow_nan=False))
def test_templates_render_as_the_f_strings_they_replace(days: float, alt: float | None) -> None:
    """Breach messages appear in events.csv: the template gives the f-string's bytes."""
    r = _record(a=days, alt=alt)
    t = Template("{a:g} days (< {th.delay:g}); ALT {alt} x ULN", SCHEMA)
    assert t.render(r, TH, OPT, frozenset()) == f"{days:g} days (< {TH.delay:g}); ALT {alt} x ULN"


def test_template_fields_may_hold_quotes_colons_and_escaped_braces() -> None:
    t = Template('{{literal}} {"a:b" if flag else "c"} {twice(a):.1f}', SCHEMA)
    assert t.render(_record(flag=True), TH, OPT, frozenset()) == "{literal} a:b 2.0"
    assert t.deps.fields == {"flag", "a"}
    with pytest.raises(ExpressionError, match=r"'\{' at 4 is never closed"):
        Template("ab {a", SCHEMA, "check 1")
    with pytest.raises(ExpressionError, match="unknown name 'aa'"):
        Template("x {aa:g}", SCHEMA, "check 1")


# --- the seam for a vectorised interpreter (issue 14) -------------------------------------


@given(
    st.lists(st.tuples(_values, st.none() | _values), min_size=1, max_size=20),
    st.sampled_from(
        [
            "alt > th.limit",
            "not alt <= th.limit and a < th.delay",
            "alt >= a or not (b > th.limit)",
            "high",  # a derived name: its tree is inlined
        ]
    ),
)
def test_the_checked_tree_drives_a_vectorised_interpreter(
    rows: list[tuple[float, float | None]], text: str
) -> None:
    """The numpy interpreter (pathway.vector) over the kept tree gives, patient by patient,
    the scalar answer (tests/test_vector.py checks every AIH declaration)."""
    e = Expr(text, SCHEMA)
    columns = {
        "a": np.array([a for a, _ in rows], dtype=float),
        "b": np.zeros(len(rows)),
        "alt": np.array([np.nan if alt is None else alt for _, alt in rows], dtype=float),
    }
    batch = Batch(len(rows), frozenset(), columns=columns)
    masks = VectorInterpreter(batch, TH, OPT, SCHEMA).test(e)
    scalar = [bool(e(_record(a=a, b=0.0, alt=alt), TH, OPT, frozenset())) for a, alt in rows]
    assert list(np.broadcast_to(masks, len(rows))) == scalar
