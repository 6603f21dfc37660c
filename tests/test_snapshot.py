"""Snapshots: exact round trip over random courses, resume equivalence, clear errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pathway import AIHPathway, PatientError, PatientRecord, SnapshotError, restore, snapshot
from pathway.snapshot import SCHEMA_VERSION, from_json, to_json

from .helpers import ACTIVE_LABS, new_chart
from .strategies import apply_move, moves_any, patients, start


def _run(chart: AIHPathway, moves: list[tuple[int, str, Any]]) -> AIHPathway:
    for move in moves:
        apply_move(chart, move)
    return chart


@given(patient=patients, before=moves_any, after=moves_any)
def test_round_trip_is_exact_and_resumes_identically(
    patient: PatientRecord, before: list[Any], after: list[Any]
) -> None:
    """snapshot -> JSON -> restore -> snapshot is the identity, and both copies go on alike."""
    chart = _run(start(patient, ACTIVE_LABS), before)
    text = to_json(chart)
    resumed = from_json(text)
    assert to_json(resumed) == text
    assert resumed.active == chart.active
    # The original and the restored copy react identically to the same future.
    _run(chart, after)
    _run(resumed, after)
    assert snapshot(resumed) == snapshot(chart)


def test_restore_runs_no_entry_action() -> None:
    """State entry days survive a restore made later than the entries."""
    chart = new_chart()
    chart.take("start_prednisolone", day=0)
    chart.observe("labs", {"alt_xuln": 5.0}, day=20)
    data = snapshot(chart)
    restored = restore(data)
    assert restored.patient.entered == chart.patient.entered
    assert restored.patient.entered["induction"] == 0.0


def test_snapshot_lists_parallel_configuration_and_pending_timers() -> None:
    """The snapshot names every active state and the due days of armed timers."""
    chart = new_chart()
    chart.take("start_prednisolone", day=0)
    data = snapshot(chart)
    assert {"induction", "steroid_lead_in", "steroid_induction", "noncirrhotic"} <= set(
        data["configuration"]
    )
    due = {t["timer_id"]: t["due_day"] for t in data["pending_timers"]}
    assert due["thiopurine_due"] == 14.0
    assert due["week4_check"] == 28.0
    json.dumps(data)  # JSON-ready


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=SCHEMA_VERSION + 1), "newer than this carechart reads"),
        (lambda d: d.update(version="one"), "unknown snapshot version"),
        (lambda d: d.update(schema="something"), "not a carechart pathway snapshot"),
        (
            lambda d: d.update(configuration=["alive", "limbo"]),
            "found .limbo., expected a state of",
        ),
        (lambda d: d["record"].update(colour="blue"), "unknown field"),
    ],
)
def test_bad_snapshots_are_clear_errors(mutate: Any, message: str) -> None:
    """Wrong schema, newer or unknown versions and unknown states are SnapshotErrors."""
    data = snapshot(new_chart())
    mutate(data)
    with pytest.raises(SnapshotError, match=message):
        restore(data)


def test_invalid_json_is_a_snapshot_error() -> None:
    """Text that is not JSON says so."""
    with pytest.raises(SnapshotError, match="not valid JSON"):
        from_json("{nope")


@given(st.integers(0, 5))
def test_restored_dead_patient_stays_closed(days: int) -> None:
    """A snapshot taken after death restores to a closed course."""
    chart = new_chart()
    chart.observe("death", day=days)
    restored = restore(snapshot(chart))
    assert restored.is_dead
    assert restored.pending_timers() == []


def test_record_not_yet_synchronised_still_restores() -> None:
    """Cirrhosis and pregnancy given to the record but not yet observed: a real chart state."""
    chart = AIHPathway(
        PatientRecord(
            "p", age=30, sex="F", weight_kg=60, cirrhosis="compensated", pregnancy="pregnant"
        )
    )
    chart.observe("labs", {"alt_xuln": 6.0}, day=0)
    assert {"noncirrhotic", "not_pregnant"} <= chart.active
    assert to_json(from_json(to_json(chart))) == to_json(chart)


def test_numpy_days_are_numbers_and_numpy_nan_is_not() -> None:
    """Drivers computing days with numpy: integers and floats pass, NaN does not."""
    import numpy as np

    chart = new_chart()
    assert chart.observe("labs", {"alt_xuln": 5.0}, day=np.int64(3)).day == 3.0
    with pytest.raises(PatientError, match="finite number"):
        chart.observe("labs", {"alt_xuln": 5.0}, day=np.float64("nan"))


def test_restore_checks_every_field_of_the_record() -> None:
    """A record field restore does not know would be dropped silently on restore."""
    from dataclasses import fields

    from pathway.guidelines.aih.patient import PatientRecord
    from pathway.guidelines.aih.snapshot_record import RECORD_FIELDS_CHECKED

    stored = {f.name for f in fields(PatientRecord) if f.name != "state"}
    stored = {name for name in stored if not name.startswith("_")}
    assert stored == set(RECORD_FIELDS_CHECKED)


def test_a_nested_option_value_is_refused_naming_the_field() -> None:
    """An option holding a list nested thousands deep is refused like any wrong value (it
    used to raise RecursionError when the options type formatted it)."""
    data = snapshot(new_chart())
    deep: list[Any] = []
    for _ in range(3000):
        deep = [deep]
    data["options"] = {"steroid_scheme": deep}
    with pytest.raises(SnapshotError, match=r"options\.steroid_scheme") as caught:
        restore(data)
    assert caught.value.field == "options.steroid_scheme"
