"""The clocks of a block as arrays (issue 14): a :class:`ClockRow` is the scalar clock.

:class:`simulation.model.clock_block.ClockRow` keeps a clock's state in a row of a
:class:`~simulation.model.clock_block.ClockBlock`; any sequence of the clock's operations
(spend, set, fire, due) must leave it where the scalar clock is, bit for bit, and leave the
block's other rows and clocks alone. The block's round plan is compared with the scalar
models in ``tests/test_model_block.py``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.model.clock_block import ClockBlock, ClockRow
from simulation.model.disease import CLOCKS
from simulation.model.draws import PatientStream
from simulation.model.hazards import Clock

_K = len(CLOCKS)

_rates = st.floats(0.0, 0.05, allow_nan=False)
_hazards = st.lists(st.tuples(st.floats(0.0, 4000.0), _rates), max_size=5).map(
    lambda pieces: tuple(sorted(pieces))
)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0.0, 5000.0)),
        st.tuples(st.just("set"), st.floats(0.0, 5000.0), _hazards),
        st.tuples(st.just("fired"), st.floats(0.0, 5000.0)),
        st.tuples(st.just("due")),
    ),
    max_size=25,
)


def _state(c: Clock) -> Any:
    return (
        c.budget.hex(),
        c.since.hex(),
        c.origin.hex(),
        [(a.hex(), b.hex()) for a, b in c.hazard],
        c.rng.drawn,
    )


def _apply(c: Clock, op: tuple[Any, ...]) -> Any:
    if op[0] == "advance":
        c.advance(op[1])
    elif op[0] == "set":
        c.set(op[1], op[2])
    elif op[0] == "fired":
        c.fired(op[1])
    else:
        due = c.due()
        return None if math.isinf(due) else due.hex()
    return None


@settings(max_examples=200, deadline=None)
@given(ops=_ops, row=st.integers(0, 2), k=st.integers(0, _K - 1), seed=st.integers(0, 2**31))
def test_a_clock_row_is_the_scalar_clock(
    ops: list[tuple[Any, ...]], row: int, k: int, seed: int
) -> None:
    """Any operations on a row of the block and on a scalar clock: the same states, due
    days and draws; the block's other rows and clocks unchanged."""
    clocks = [
        [Clock(name, PatientStream(seed, r, j + 1)) for j, name in enumerate(CLOCKS)]
        for r in range(3)
    ]
    scalar = copy.deepcopy(clocks[row][k])
    block = ClockBlock(clocks)
    view = ClockRow(block, row, k, CLOCKS[k], clocks[row][k].rng)
    others = [
        (r, j, _state(ClockRow(block, r, j, CLOCKS[j], clocks[r][j].rng)))
        for r in range(3)
        for j in range(_K)
        if (r, j) != (row, k)
    ]
    for op in ops:
        assert _apply(view, op) == _apply(scalar, op)
        assert _state(view) == _state(scalar)
    for r, j, state in others:
        assert _state(ClockRow(block, r, j, CLOCKS[j], clocks[r][j].rng)) == state


def test_models_keep_their_clocks_in_the_block() -> None:
    """After :meth:`ClockBlock.of`, a model's clocks are rows of the block, in the scalar
    clocks' state, and a copy of the model keeps a copy of them."""
    from pathway import Thresholds
    from simulation.model.disease import DiseaseModel, ModelConstants
    from simulation.model.parameters import load_parameters
    from simulation.run.cohort import RunSettings, load_cohort, start_patient

    constants = ModelConstants.from_parameters(load_parameters())
    s = RunSettings(load_cohort(), load_parameters(), Thresholds(), 5, "guideline", 365.25)
    models: list[DiseaseModel] = [start_patient(s, i, constants).model for i in range(3)]
    before = [[_state(m.clocks[name]) for name in CLOCKS] for m in models]
    block = ClockBlock.of(models)
    for m, states in zip(models, before, strict=True):
        assert all(isinstance(c, ClockRow) for c in m.clocks.values())
        assert [_state(m.clocks[name]) for name in CLOCKS] == states
    twin = copy.deepcopy(models[1])
    twin.clocks["flare"].fired(30.0)
    assert _state(twin.clocks["flare"]) != _state(models[1].clocks["flare"])
    assert np.array_equal(block.since[1], [c.since for c in models[1].clocks.values()])
