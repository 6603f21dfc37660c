"""A batch whose rows are in several configurations (issue 14, v16config).

Each row's configuration is a code column (:meth:`pathway.vector.Batch.configured`), so a
state test is a lookup per row and a call's rows are evaluated as one group whatever their
configurations. Every result must be the scalar rulebook's for each row in its own
configuration, and the same as evaluating the rows split by configuration (today's path).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.errors import InvalidPathwayError
from pathway.expr import Expr
from pathway.guidelines.aih import rules
from pathway.guidelines.aih.vector_forms import VECTOR_RULEBOOK
from pathway.timer_columns import next_lab_days
from pathway.vector import MIXED, Batch, VectorInterpreter
from pathway.vector_steps import ConfigLookup

from .test_declarations import situations
from .test_vector import _STEP_NAMES, EXPRESSIONS, SCHEMA, _Rec, _Th

BOOK = rules.RULEBOOK


class _Configs:
    """Codes -> configurations for the tests (codes given in order of first sight)."""

    def __init__(self, configs: list[frozenset[str]]) -> None:
        self.configs = configs

    def active_of(self, code: int) -> frozenset[str]:
        return self.configs[code]

    def holds(self, state: str) -> Any:
        return np.array([state in c for c in self.configs], dtype=bool)


@st.composite
def mixed(draw: st.DrawFn) -> tuple[list[Any], Any, Any, list[frozenset[str]]]:
    """2-10 random records, each in its own random configuration (some shared), one set of
    thresholds and options."""
    drawn = draw(st.lists(situations(), min_size=2, max_size=10))
    _, th, opt, _ = drawn[0]
    actives = [s[3] for s in drawn]
    if draw(st.booleans()):  # some rows share a configuration
        actives[1] = actives[0]
    return [s[0] for s in drawn], th, opt, actives


def _batch(records: list[Any], actives: list[frozenset[str]]) -> Batch:
    configs = list(dict.fromkeys(actives))
    codes = np.array([configs.index(a) for a in actives], dtype=np.int64)
    batch = Batch(len(records), frozenset(), records=records)
    batch.configured(codes, _Configs(configs))
    return batch


_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(mixed())
def test_every_declared_condition_agrees_row_by_row(
    drawn: tuple[list[Any], Any, Any, list[frozenset[str]]],
) -> None:
    """Each declared condition holds, over one mixed batch, for exactly the rows where the
    scalar interpreter says so in the row's own configuration."""
    records, th, opt, actives = drawn
    vi = VECTOR_RULEBOOK.interpreter(_batch(records, actives), th, opt)
    for name, expr in EXPRESSIONS:
        scalar = [bool(expr.fn(p, th, opt, a)) for p, a in zip(records, actives, strict=True)]
        assert vi.test(expr).tolist() == scalar, name


@_SETTINGS
@given(mixed())
def test_allowed_top_and_possible_agree_row_by_row(
    drawn: tuple[list[Any], Any, Any, list[frozenset[str]]],
) -> None:
    """Allowed actions (gates per row) and the first-ranked recommendation among each row's
    own possible actions are what one batch per configuration gives."""
    records, th, opt, actives = drawn
    batch = _batch(records, actives)
    masks = VECTOR_RULEBOOK.allowed(VECTOR_RULEBOOK.interpreter(batch, th, opt))
    for i, (p, a) in enumerate(zip(records, actives, strict=True)):
        assert [x for x, m in masks.items() if m[i]] == BOOK.allowed((p, th, opt, a))
    # Each row's possible actions: a configuration's own subset of the actions.
    order = VECTOR_RULEBOOK.order
    possible = {
        a: frozenset(order[k] for k in range(len(order)) if hash((a, k)) % 3) for a in actives
    }
    table = np.stack([VECTOR_RULEBOOK.possible_of(possible[a]) for a in actives], axis=1)
    top = VECTOR_RULEBOOK.top(batch, th, opt, possible=table)
    for i, (p, a) in enumerate(zip(records, actives, strict=True)):
        alone = VECTOR_RULEBOOK.top(Batch(1, a, records=[p]), th, opt, possible=possible[a])
        got = (top.action[i], top.strength[i], top.rules(i))
        assert got == (alone.action[0], alone.strength[0], alone.rules(0))


@_SETTINGS
@given(mixed(), st.sampled_from(_STEP_NAMES), st.lists(st.booleans(), min_size=10, max_size=10))
def test_invariants_after_a_step_agree_row_by_row(
    drawn: tuple[list[Any], Any, Any, list[frozenset[str]]],
    step_name: str,
    carried: list[bool],
) -> None:
    """The invariants broken after a step (messages too), with whether the step was carried
    out given per row, are the scalar rulebook's for each row in its configuration; with a
    memo the same again (kept truths of rows not carried out do not leak)."""
    records, th, opt, actives = drawn
    done = np.array(carried[: len(records)], dtype=bool)
    want = [
        BOOK.broken((p, th, opt, a), step_name, bool(d))
        for p, a, d in zip(records, actives, done.tolist(), strict=True)
    ]
    batch = _batch(records, actives)
    assert VECTOR_RULEBOOK.broken(batch, th, opt, step_name, done) == want
    memo = VECTOR_RULEBOOK.memo(len(records))
    rows = np.arange(len(records))
    # First with every row carried out (truths kept), then the rows' own flags.
    VECTOR_RULEBOOK.broken(_batch(records, actives), th, opt, step_name, True, memo, rows)
    again = VECTOR_RULEBOOK.broken(_batch(records, actives), th, opt, step_name, done, memo, rows)
    assert again == want


def test_one_configuration_keeps_the_fast_path() -> None:
    """Codes that are all one configuration give an ordinary batch (one ``active``)."""
    batch = Batch(3, frozenset())
    batch.configured(np.array([1, 1, 1]), _Configs([frozenset({"a"}), frozenset({"b"})]))
    assert not batch.mixed
    assert batch.active == frozenset({"b"})
    assert batch.holds("b") is True
    assert batch.actives() == [frozenset({"b"})] * 3


def test_the_mixed_set_refuses_use_as_one_set() -> None:
    """Code that still reads ``batch.active`` as one set on a mixed batch fails loudly."""
    with pytest.raises(InvalidPathwayError, match="several configurations"):
        _ = "a" in MIXED
    with pytest.raises(InvalidPathwayError, match="several configurations"):
        _ = MIXED & {"a"}


_ACTIVE_EXPRS = [
    '"s1" in active',
    '"s1" not in active',
    'bool(active & {"s1", "s2"})',
    '"s2" in active and a',
    "name in active",
    '"s1" in active or alt > th.limit',
]


@given(
    st.lists(
        st.tuples(
            st.sampled_from([frozenset(), frozenset({"s1"}), frozenset({"s1", "s2"})]),
            st.booleans(),
            st.none() | st.floats(0, 10),
            st.none() | st.sampled_from(["s1", "s2", "x"]),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(_ACTIVE_EXPRS),
)
def test_state_tests_of_every_form_agree(rows: list[Any], text: str) -> None:
    """``"x" in active``, ``active & {...}``, a field's value in ``active``: per row, the
    scalar value in the row's configuration."""
    expr = Expr(text, SCHEMA)
    records = [_Rec(a, alt, name, set()) for _, a, alt, name in rows]
    actives = [r[0] for r in rows]
    vi = VectorInterpreter(_batch(records, actives), _Th(), None, SCHEMA)
    got = vi.test(expr).tolist()
    th = _Th()
    assert got == [bool(expr.fn(p, th, None, a)) for p, a in zip(records, actives, strict=True)]


def test_next_lab_days_per_row_configuration() -> None:
    """``next_lab_days`` given ``state -> per-row mask`` disarms a timer on the rows whose
    configuration lacks its state, as one call per configuration would."""
    from pathway.guidelines.aih.thresholds import Thresholds
    from pathway.guidelines.aih.timers import LAB_TIMERS, ThresholdValues

    values = ThresholdValues(Thresholds())
    states = sorted({t.state for t in LAB_TIMERS})
    configs = [frozenset(states[:1]), frozenset(states), frozenset()]
    codes = np.array([0, 1, 2, 1, 0])
    n = len(codes)
    start = np.array([0.0, 10.0, 20.0, 30.0, 40.0])

    def begin(_: Any) -> Any:
        return start

    def fired(_: Any) -> Any:
        return np.zeros(n, dtype=np.int64)

    lookup = _Configs(configs)
    got = next_lab_days(LAB_TIMERS, lambda s: lookup.holds(s)[codes], begin, fired, values, n)
    for i, code in enumerate(codes.tolist()):
        alone = next_lab_days(LAB_TIMERS, configs[code], begin, fired, values, n)[i]
        assert (np.isnan(got[i]) and np.isnan(alone)) or got[i] == alone


def test_config_lookup_grows_with_the_tables() -> None:
    """A state's table covers configurations registered after it was first made."""
    from pathway.block import tables_for
    from pathway.guidelines.aih.block import AIH_BLOCK

    tables = tables_for(AIH_BLOCK.guideline.chart)
    lookup = ConfigLookup(tables)
    state = tables.states[1]
    first = lookup.holds(state)
    assert len(first) == len(tables)
    tables.explore()
    grown = lookup.holds(state)
    assert len(grown) == len(tables)
    assert grown.tolist() == [state in lookup.active_of(c) for c in range(len(tables))]
