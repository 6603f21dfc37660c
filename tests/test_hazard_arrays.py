"""Hazards of many patients at once give the scalar functions' numbers bit for bit."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simulation.model import hazards
from simulation.model.hazard_arrays import HazardTable, cumulative_hazard, solve

_DAYS = st.floats(0, 5000, allow_nan=False)
_RATES = st.sampled_from([0.0, 1e-5, 3e-4, 0.002, 0.05]) | st.floats(0, 0.1, allow_nan=False)


@st.composite
def _hazard(draw: st.DrawFn) -> hazards.Hazard:
    starts = sorted(draw(st.lists(_DAYS, max_size=5, unique=True)))
    return tuple((s, draw(_RATES)) for s in starts)


_ROWS = st.lists(st.tuples(_hazard(), _DAYS, _DAYS, st.floats(0, 8, allow_nan=False)), min_size=1)


@given(_ROWS)
def test_cumulative_hazard_and_solve_agree_bit_for_bit(
    rows: list[tuple[hazards.Hazard, float, float, float]],
) -> None:
    """For random hazards (empty, zero rates, one to five pieces), origins, horizons and
    budgets, every row equals the scalar function's float exactly."""
    table = HazardTable.of([h for h, *_ in rows])
    lo = np.array([lo for _, lo, _, _ in rows])
    hi = lo + np.array([d for _, _, d, _ in rows])
    budget = np.array([b for *_, b in rows])
    got_h = cumulative_hazard(table, lo, hi)
    got_t = solve(table, lo, budget)
    for i, (h, *_) in enumerate(rows):
        want_h = hazards.cumulative_hazard(h, float(lo[i]), float(hi[i]))
        want_t = hazards.solve(h, float(lo[i]), float(budget[i]))
        assert got_h[i].tobytes() == np.float64(want_h).tobytes()
        assert got_t[i].tobytes() == np.float64(want_t).tobytes()


def test_solve_spends_the_budget_it_reports() -> None:
    """The solved day spends exactly the budget (a check of meaning, not only agreement)."""
    h = hazards.from_cumulative([(365.25, 0.59), (730.5, 0.73), (1095.75, 0.81)])
    table = HazardTable.of([h, (), hazards.constant(0.01)])
    t = solve(table, 0.0, np.array([1.2, 1.0, 0.5]))
    assert math.isinf(t[1])
    assert t[2] == 50.0
    assert abs(hazards.cumulative_hazard(h, 0.0, float(t[0])) - 1.2) < 1e-12
