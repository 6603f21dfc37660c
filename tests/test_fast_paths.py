"""The hot path's shortcuts give the same answers as the plain definitions they stand for.

The compiled and reference engines share these shortcuts, so the differential tests between
the engines cannot see a mistake in them; these properties compare each shortcut with the
definition at every step of random courses, including deviations.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pathway import PatientRecord
from pathway.compiled import CompiledPathway
from pathway.guidelines.aih import rules
from pathway.guidelines.aih.patient import LabPanel
from pathway.guidelines.aih.timers import TIMERS

from .strategies import apply_move, moves_any, patients, start


def _check_step(chart: Any) -> None:
    c = chart.ctx()
    # Allowed actions: the actions whose breach list is empty, in vocabulary order.
    everything = rules.evaluate(c)
    assert rules.allowed_actions(c) == [a for a, breaches in everything.items() if not breaches]
    # The cached latest panel: what a fresh one would hold, dated at the latest result.
    p = chart.patient
    fresh = LabPanel(day=p.labs[-1].day if p.labs else p.day, **p._latest)
    assert p.latest_panel() == fresh
    # A timer is armed exactly when it is among the pending ones.
    pending = {t.timer_id for t in chart.pending_timers()}
    assert {t.id for t in TIMERS if chart.timer_armed(t.id)} == pending
    # The compiled engine's cached views of its configuration.
    if isinstance(chart, CompiledPathway):
        config = chart.configuration_values
        assert chart.active == frozenset(config)
        assert chart.sorted_configuration() == tuple(sorted(config))
        events_of = chart.plan.events_of
        assert chart.allowed_event_ids() == frozenset().union(*(events_of[s] for s in config))


@given(patient=patients, baseline=st.just({"alt_xuln": 6.0, "igg_xuln": 1.6}), moves=moves_any)
def test_shortcuts_agree_with_definitions_on_random_courses(
    patient: PatientRecord, baseline: dict[str, float], moves: list[Any]
) -> None:
    """At every step (guideline actions and deviations), shortcut == definition."""
    for engine in (None, CompiledPathway):
        record = copy.deepcopy(patient)  # each engine gets the untouched patient
        chart = start(record, baseline, engine=engine)
        _check_step(chart)
        for move in moves:
            apply_move(chart, move)
            if chart.is_dead:
                break
            _check_step(chart)
