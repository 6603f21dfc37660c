"""Incremental recommendations: a memo kept between steps gives what a full evaluation gives
(issue 14).

A cohort of random records (tests/test_declarations.py's situations) is changed step by
step at random (some patients, some fields, their configuration), the caller naming the
fields it changed (:meth:`pathway.vector.Memo.changed`); after each step, the first-ranked
recommendation of every patient, grouped by configuration as the vector engine groups them,
is the same with the memo (actions decided again only where a field they read changed) as
from scratch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.errors import InvalidPathwayError
from pathway.guidelines.aih import rules
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.patient import LabPanel, PatientRecord
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.aih.timers import TIMERS
from pathway.guidelines.aih.vector_forms import IMPLIED, VECTOR_RULEBOOK
from pathway.guidelines.aih.vocabulary import DRUGS, RESPONSE_CLASSES
from pathway.vector import Batch, Top

from .strategies import LAB_STRATEGIES
from .test_declarations import FLAGS, OPTIONAL_DAYS, STATES, situations

_PANEL = st.fixed_dictionaries({}, optional=LAB_STRATEGIES).filter(bool)
_DAY = st.floats(0, 4000, allow_nan=False)

Change = Callable[[st.DrawFn, PatientRecord], None]


def _set(name: str, values: st.SearchStrategy[Any]) -> Change:
    def change(draw: st.DrawFn, p: PatientRecord) -> None:
        setattr(p, name, draw(values))

    return change


def _day(draw: st.DrawFn, p: PatientRecord) -> None:
    p.day += draw(st.floats(0, 400))


def _labs(draw: st.DrawFn, p: PatientRecord) -> None:
    p.add_labs(LabPanel.from_mapping(p.day, draw(_PANEL)))


def _drugs(draw: st.DrawFn, p: PatientRecord) -> None:
    drug = draw(st.sampled_from(DRUGS[:5]))
    if drug in p.drugs and draw(st.booleans()):
        del p.drugs[drug]
    else:
        p.drugs[drug] = draw(st.none() | st.sampled_from([2.5, 5.0, 10.0, 30.0, 60.0, 150.0]))


def _fired(draw: st.DrawFn, p: PatientRecord) -> None:
    timer = draw(st.sampled_from(TIMERS)).id
    p.timers_fired[timer] = p.timers_fired.get(timer, 0) + 1


def _entered(draw: st.DrawFn, p: PatientRecord) -> None:
    p.entered[draw(st.sampled_from(STATES))] = draw(st.floats(0, p.day))


def _intolerant(draw: st.DrawFn, p: PatientRecord) -> None:
    p.intolerant.add(draw(st.sampled_from(DRUGS[:5])))


def _baseline(draw: st.DrawFn, p: PatientRecord) -> None:
    p.treatment_baseline = draw(st.none() | _PANEL.map(lambda v: LabPanel.from_mapping(0, v)))


#: A change of each kind, by the record field it changes.
CHANGES: dict[str, Change] = {
    "day": _day,
    "labs": _labs,
    "drugs": _drugs,
    "timers_fired": _fired,
    "entered": _entered,
    "intolerant": _intolerant,
    "treatment_baseline": _baseline,
    "response": _set("response", st.sampled_from([*RESPONSE_CLASSES, "relapse"])),
    "tpmt": _set("tpmt", st.sampled_from(["unknown", "normal", "intermediate", "deficient"])),
    "pregnancy": _set("pregnancy", st.sampled_from(["none", "planned", "pregnant"])),
    "cirrhosis": _set("cirrhosis", st.sampled_from(["none", "compensated", "decompensated"])),
    "acute_improving": _set("acute_improving", st.sampled_from([None, True, False])),
    **{flag: _set(flag, st.booleans()) for flag in FLAGS},
    **{name: _set(name, st.none() | _DAY) for name in OPTIONAL_DAYS},
}


def _answers(top: Top, n: int) -> list[Any]:
    return [(top.action[i], top.strength[i], top.rules(i)) for i in range(n)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_incremental_answers_equal_full_evaluation(data: st.DataObject) -> None:
    draw = data.draw
    drawn = draw(st.lists(situations(), min_size=2, max_size=10))
    records = [s[0] for s in drawn]
    th = drawn[0][1]
    opts = [s[2] for s in drawn]
    # Few configurations, so that groups hold several patients.
    configs = [drawn[0][3], draw(st.frozensets(st.sampled_from(STATES), max_size=5))]
    active = [draw(st.sampled_from(configs)) for _ in records]
    memo = VECTOR_RULEBOOK.memo(len(records))
    for step in range(draw(st.integers(1, 12))):
        if step:
            rows = draw(st.lists(st.integers(0, len(records) - 1), min_size=1, unique=True))
            # Mostly one field at a time: a change another field's change would cover (an
            # action reading both) would hide a field missing from an action's reads.
            fields = draw(st.lists(st.sampled_from([*CHANGES, "active"]), min_size=1, max_size=2))
            for i in rows:
                for f in fields:
                    if f == "active":
                        active[i] = draw(st.sampled_from(configs))
                    else:
                        CHANGES[f](draw, records[i])
            memo.changed(np.array(rows), fields)
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i in range(len(records)):
            groups[(active[i], id(opts[i]))].append(i)
        for (config, _), idx in groups.items():
            opt = opts[idx[0]]
            batch = Batch(len(idx), config, records=[records[i] for i in idx])
            fresh = Batch(len(idx), config, records=[records[i] for i in idx])
            full = VECTOR_RULEBOOK.memo(len(idx))
            try:
                want = VECTOR_RULEBOOK.top(fresh, th, opt, memo=full, rows=np.arange(len(idx)))
            except InvalidPathwayError:
                continue  # a record the random changes left without a strength row
            got = VECTOR_RULEBOOK.top(batch, th, opt, memo=memo, rows=np.array(idx))
            assert _answers(got, len(idx)) == _answers(want, len(idx))
            # Every action's decision, not only the winner's, is the full evaluation's.
            for table in ("ok", "must", "index", "level", "prio"):
                kept = getattr(memo, table)[:, idx]
                assert (kept == getattr(full, table)).all(), (table, step)
            # And the invariants broken after a step, with their kept truths.
            for step_name in ("labs", "add_azathioprine"):
                assert VECTOR_RULEBOOK.broken(
                    batch, th, opt, step_name, True, memo=memo, rows=np.array(idx)
                ) == VECTOR_RULEBOOK.broken(fresh, th, opt, step_name, True)
            # So is every condition's kept truth, where both know it.
            both = memo.truth_known[:, idx] & full.truth_known
            assert (memo.truth[:, idx][both] == full.truth[both]).all(), step


def test_every_field_an_action_reads_can_be_changed() -> None:
    """The fields the actions read are record fields, or listed in IMPLIED (properties)."""
    record_fields = set(PatientRecord.__dataclass_fields__)
    read = set(VECTOR_RULEBOOK._readers) - {"active"}
    assert read - record_fields <= set(IMPLIED)
    assert {f for fs in IMPLIED.values() for f in fs} <= record_fields
    assert set(CHANGES) <= record_fields


def test_a_memo_needs_the_rows() -> None:
    p = PatientRecord("m1", age=40, sex="F", weight_kg=60)
    batch = Batch(1, frozenset({"diagnosis"}), records=[p])
    memo = VECTOR_RULEBOOK.memo(3)
    with pytest.raises(InvalidPathwayError, match="cohort row"):
        VECTOR_RULEBOOK.top(batch, Thresholds(), GuidelineOptions(), memo=memo)


def test_unchanged_patients_are_not_decided_again() -> None:
    """After a change that no action reads, nothing is decided again; after a lab panel,
    only the actions that read labs are."""
    th, opt = Thresholds(), GuidelineOptions()
    p = PatientRecord("m2", age=40, sex="F", weight_kg=60)
    p.add_labs(LabPanel.from_mapping(0.0, {"alt_xuln": 8.0, "igg_xuln": 1.5}))
    batch = Batch(1, frozenset({"diagnosis"}), records=[p])
    memo = VECTOR_RULEBOOK.memo(1)
    rows = np.array([0])
    first = VECTOR_RULEBOOK.top(batch, th, opt, memo=memo, rows=rows)
    assert memo.known.all()
    memo.changed(rows, ["patient_id"])
    assert memo.known.all()
    memo.changed(rows, ["labs"])
    stale = {VECTOR_RULEBOOK.order[a] for a in np.flatnonzero(~memo.known[:, 0])}
    readers = {
        name
        for name, action in rules.RULEBOOK.actions.items()
        if any("labs" in c.when.deps.fields for c in action.checks)
    }
    assert readers <= stale < set(VECTOR_RULEBOOK.order)
    again = VECTOR_RULEBOOK.top(batch, th, opt, memo=memo, rows=rows)
    assert _answers(again, 1) == _answers(first, 1)
