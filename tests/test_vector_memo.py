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
from pathway.expr import Expr
from pathway.guidelines.aih import rules
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.patient import LabPanel, PatientRecord
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.aih.timers import TIMERS
from pathway.guidelines.aih.vector_forms import IMPLIED, VECTOR_RULEBOOK
from pathway.guidelines.aih.vocabulary import DRUGS, PRESENTATIONS, RESPONSE_CLASSES
from pathway.vector import Batch, Memo, Top, VectorInterpreter

from .strategies import LAB_STRATEGIES
from .test_declarations import FLAGS, OPTIONAL_DAYS, STATES, situations
from .test_vector import _STEP_NAMES
from .test_vector_mixed import _batch

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
    # The chart's possible actions per configuration (an action not possible is decided
    # only if it can be mandatory), or every action.
    order = VECTOR_RULEBOOK.order
    some = st.frozensets(st.sampled_from(order), min_size=1)
    possible = {c: draw(some) for c in configs} if draw(st.booleans()) else None
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
            can = None if possible is None else possible[config]
            try:
                want = VECTOR_RULEBOOK.top(
                    fresh, th, opt, possible=can, memo=full, rows=np.arange(len(idx))
                )
            except InvalidPathwayError:
                continue  # a record the random changes left without a strength row
            got = VECTOR_RULEBOOK.top(batch, th, opt, possible=can, memo=memo, rows=np.array(idx))
            assert _answers(got, len(idx)) == _answers(want, len(idx))
            # Every action's decision, not only the winner's, is the full evaluation's
            # (where the action is possible, or may be mandatory: all of them without
            # ``possible``).
            needed = np.array(
                [
                    can is None or a in can or VECTOR_RULEBOOK._mandatory[k]
                    for k, a in enumerate(order)
                ]
            )
            assert memo.known[needed][:, idx].all()
            for table in ("ok", "must", "index", "level", "prio"):
                kept = getattr(memo, table)[needed][:, idx]
                assert (kept == getattr(full, table)[needed]).all(), (table, step)
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


# --- invariants known to hold (v17block) -----------------------------------------------------

#: Changes of every field an invariant reads (CHANGES covers all but these two).
INVARIANT_CHANGES: dict[str, Change] = {
    **CHANGES,
    "presentation": _set("presentation", st.sampled_from(PRESENTATIONS)),
    "weight_kg": _set("weight_kg", st.sampled_from([45.0, 70.0, 110.0])),
}

_K = len(VECTOR_RULEBOOK._watched)


def _assert_holds_are_true(
    memo: Memo, records: list[PatientRecord], actives: list[frozenset[str]], th: Any, opt: Any
) -> None:
    """Every invariant the memo keeps as holding for a patient holds for it now: its
    subject (row ``j``) or its condition (row ``k + j``) is false by the scalar rulebook."""
    for w in VECTOR_RULEBOOK._watched:
        for part, expr in ((w.index, w.subject), (_K + w.index, w.condition)):
            for i in np.flatnonzero(memo.holds[part]).tolist():
                assert expr is not None, w.decl.id  # Python-written: never kept
                assert not expr.fn(records[i], th, opt, actives[i]), (w.decl.id, part, i)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_invariants_with_the_memo_equal_the_scalar_rulebook(data: st.DataObject) -> None:
    """Random cohorts changed step by step (any field an invariant reads, or none, and the
    configuration), the caller naming what changed; after each change some rows take a
    step (random name, carried out or not per row) in one mixed batch: the invariants
    broken, with their messages, are the scalar rulebook's, and what the memo keeps as
    holding holds."""
    draw = data.draw
    drawn = draw(st.lists(situations(), min_size=2, max_size=8))
    records = [s[0] for s in drawn]
    th, opt = drawn[0][1], drawn[0][2]
    actives = [s[3] for s in drawn]
    configs = [*dict.fromkeys(actives)]
    memo = VECTOR_RULEBOOK.memo(len(records))
    names = [*INVARIANT_CHANGES, "active", "patient_id"]  # patient_id: read by none
    for step in range(draw(st.integers(1, 10))):
        if step:
            changed = draw(st.lists(st.integers(0, len(records) - 1), min_size=1, unique=True))
            fields = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2))
            for i in changed:
                for f in fields:
                    if f == "active":
                        actives[i] = draw(st.sampled_from(configs))
                    elif f != "patient_id":
                        INVARIANT_CHANGES[f](draw, records[i])
            memo.changed(np.array(changed), fields)
        rows = sorted(draw(st.lists(st.integers(0, len(records) - 1), min_size=1, unique=True)))
        step_name = draw(st.sampled_from(_STEP_NAMES))
        done = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
        want = [
            rules.RULEBOOK.broken((records[i], th, opt, actives[i]), step_name, d)
            for i, d in zip(rows, done, strict=True)
        ]
        batch = _batch([records[i] for i in rows], [actives[i] for i in rows])
        got = VECTOR_RULEBOOK.broken(
            batch, th, opt, step_name, np.array(done), memo=memo, rows=np.array(rows)
        )
        assert got == want, step
        _assert_holds_are_true(memo, records, actives, th, opt)


def _evaluated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts of the expressions the vector interpreter evaluates from now on."""
    seen: list[str] = []
    evaluate = VectorInterpreter.evaluate

    def counted(self: VectorInterpreter, expr: Any, mask: Any = None) -> Any:
        seen.append(expr.text)
        return evaluate(self, expr, mask)

    monkeypatch.setattr(VectorInterpreter, "evaluate", counted)
    return seen


def test_invariants_known_to_hold_are_not_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    """An invariant is evaluated again only where a field its subject or condition reads
    changed, and only its part that reads it; one that is broken at every step."""
    th, opt = Thresholds(), GuidelineOptions()
    p = PatientRecord("m3", age=40, sex="F", weight_kg=60, cirrhosis="compensated")
    p.drugs = {"budesonide": 9.0}  # INV-01 broken: budesonide with cirrhosis
    active = frozenset({"treatment", "induction"})
    memo = VECTOR_RULEBOOK.memo(1)
    rows = np.array([0])

    def broken() -> list[str]:
        batch = Batch(1, active, records=[p])
        found = VECTOR_RULEBOOK.broken(batch, th, opt, "labs", True, memo=memo, rows=rows)
        assert found == [rules.RULEBOOK.broken((p, th, opt, active), "labs", True)]
        return [rule_id for rule_id, _ in found[0]]

    seen = _evaluated(monkeypatch)
    assert broken() == ["INV-01"]
    assert len(seen) > 10  # the first time: every invariant in scope
    seen.clear()
    assert broken() == ["INV-01"]  # nothing changed: only the broken one, again
    inv01 = next(w for w in VECTOR_RULEBOOK._watched if w.decl.id == "INV-01")
    assert seen == [inv01.subject.text, inv01.condition.text]  # type: ignore[union-attr]
    memo.changed(rows, ["day"])  # read by INV-13/14/15's conditions, whose subjects are false
    seen.clear()
    assert broken() == ["INV-01"]
    assert len(seen) == 2
    p.drugs = {"prednisolone": 30.0}
    memo.changed(rows, ["drugs"])
    seen.clear()
    assert broken() == []

    # Only the subjects and conditions that read the drugs (or a property made of them).
    def reads_drugs(expr: Expr) -> bool:
        return any(f == "drugs" or "drugs" in IMPLIED.get(f, ()) for f in expr.deps.fields)

    exprs = [e for w in VECTOR_RULEBOOK._watched for e in (w.subject, w.condition) if e]
    parts = {e.text for e in exprs}
    readers = {e.text for e in exprs if reads_drugs(e)}
    assert seen
    assert set(seen) <= readers < parts


def test_a_memo_without_kept_truths_keeps_no_invariants() -> None:
    """A memo made for the actions' table only (``conditions=False``) evaluates every
    invariant, as without a memo."""
    th, opt = Thresholds(), GuidelineOptions()
    p = PatientRecord("m4", age=40, sex="F", weight_kg=60, cirrhosis="compensated")
    p.drugs = {"budesonide": 9.0}
    active = frozenset({"treatment", "induction"})
    memo = Memo(VECTOR_RULEBOOK, 1, conditions=False)
    want = [rules.RULEBOOK.broken((p, th, opt, active), "labs", True)]
    for _ in range(2):
        batch = Batch(1, active, records=[p])
        got = VECTOR_RULEBOOK.broken(batch, th, opt, "labs", True, memo=memo, rows=np.array([0]))
        assert got == want
    assert memo.holds.shape == (0, 1)
