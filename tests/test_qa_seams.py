"""Defects found at the seams of issues 12, 15 and 16, each pinned by a test."""

from __future__ import annotations

import pytest

from pathway import ActionNotRecommended, snapshot
from tests.helpers import new_chart


def test_a_refused_action_changes_nothing_not_even_the_day() -> None:
    chart = new_chart()
    before = snapshot(chart)
    with pytest.raises(ActionNotRecommended):
        chart.take("switch_to_tacrolimus", day=40)
    assert chart.patient.day == 0
    assert snapshot(chart) == before
    # The clock was not moved, so an event at an earlier day than the refusal still works.
    chart.take("start_prednisolone", day=10)
    assert chart.patient.day == 10
