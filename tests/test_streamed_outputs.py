"""Outputs streamed, not held: running totals give the row-based figures; files unchanged.

``carechart simulate`` writes patients.csv and events.csv chunk by chunk and computes
summary.json from running totals (:class:`simulation.results.outcomes.OutcomeTally`), so the main
process holds nothing per patient. The totals are checked against a plain row-based
reference (the definitions of summary.json's figures, Kaplan-Meier by the textbook product
over event days), on random rows with censoring, ties, empty groups and missing values.
"""

from __future__ import annotations

import gc
import itertools
import json
import tracemalloc
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pathway import Thresholds
from simulation.cli.simulate import simulate_to
from simulation.model.parameters import load_parameters
from simulation.results.outcomes import YEAR, headline_outcomes, km_at
from simulation.results.outputs import ChunkResult, CohortResult, PatientResult, summary_json
from simulation.results.survival import KaplanMeierTally, kaplan_meier
from simulation.run.cohort import RunSettings, apply_overrides, load_cohort, run_cohort

Row = Mapping[str, Any]

# --- random rows ------------------------------------------------------------------------------

# The figures' cut-offs (14 and 200 days, 1/2/3/5/10 years), days beside them, and ties.
_CUTOFFS = [0, 14, 200, YEAR, 2 * YEAR, 3 * YEAR, 5 * YEAR, 10 * YEAR]
_BESIDE = [0.5, 1, 15, 199, 200.5, 365, 366, 1000, 1827]
_DAY = st.one_of(
    st.none(),
    st.sampled_from(_CUTOFFS),
    st.sampled_from(_BESIDE),
    st.integers(0, 4000),
    st.floats(0, 4000, allow_nan=False, allow_infinity=False),
)
_DAY_COLUMNS = (
    "first_cbr_day",
    "second_line_day",
    "third_line_day",
    "withdrawal_day",
    "relapse_after_withdrawal_day",
    "transplant_day",
    "referral_day",
    "death_day",
    "recurrence_day",
    "hcc_day",
)
_HORIZONS = st.sampled_from([3 * YEAR, 5 * YEAR, 10 * YEAR, 12 * YEAR])


@st.composite
def _rows(draw: st.DrawFn) -> dict[str, Any]:
    return {
        **{key: draw(_DAY) for key in _DAY_COLUMNS},
        "first_line": draw(st.sampled_from(["none", "prednisolone", "budesonide+azathioprine"])),
        "cirrhosis_at_diagnosis": draw(st.sampled_from(["none", "compensated", "decompensated"])),
        "presentation": draw(st.sampled_from(["chronic", "acute", "acute_severe"])),
        "death_cause": draw(st.sampled_from(["", "liver", "hcc", "other"])),
        "followup_days": draw(st.one_of(st.sampled_from(_CUTOFFS), _DAY.filter(bool))),
        "deviations": draw(st.integers(0, 3)),
        "final_care_state": draw(st.sampled_from(["maintenance", "transplant", ""])),
    }


_ROWS = st.lists(_rows(), max_size=40)


# --- the reference: every figure straight from the whole list of rows --------------------------


def _reference_km(
    rows: Sequence[Row],
    day: float,
    event: Callable[[Row], Any],
    origin: Callable[[Row], Any] = lambda r: 0.0,
) -> float | None:
    """Cumulative incidence by the product over event days of (1 - events / at risk)."""
    spans: list[tuple[float, bool]] = []
    for r in rows:
        start = origin(r)
        if start is None:
            continue
        end, when = float(r["followup_days"]), event(r)
        if when is not None and start <= when <= end:
            spans.append((when - start, True))
        else:
            spans.append((max(0.0, end - start), False))
    if not spans:
        return None
    s = 1.0
    for t in sorted({d for d, e in spans if e}):
        if t > day:
            break
        at_risk = sum(1 for d, _ in spans if d >= t)
        s *= 1.0 - sum(1 for d, e in spans if e and d == t) / at_risk
    return round(1.0 - s, 4)


def _fraction(part: Sequence[Row], of: Sequence[Row]) -> float | None:
    return round(len(part) / len(of), 4) if of else None


def _alive(incidence: float | None) -> float | None:
    return None if incidence is None else round(1 - incidence, 4)


def _liver(r: Row) -> Any:
    days = [] if r["transplant_day"] is None else [r["transplant_day"]]
    if r["death_cause"] in ("liver", "hcc") and r["death_day"] is not None:
        days.append(r["death_day"])
    return min(days, default=None)


def _mean_g(rows: Sequence[Row], column: str) -> float | None:
    """Mean grams per patient who took predniso(lo)ne (a positive whole-course dose)."""
    users = [r for r in rows if r.get("prednisolone_mg")]
    return (
        round(sum(float(r.get(column) or 0) for r in users) / len(users) / 1000, 1)
        if users
        else None
    )


def _reference(rows: Sequence[Row], horizon: float) -> dict[str, Any]:
    treated = [r for r in rows if r["first_line"] != "none"]

    def cbr(group: Sequence[Row]) -> float | None:
        hit = [r for r in group if r["first_cbr_day"] is not None and r["first_cbr_day"] <= 200]
        return _fraction(hit, group)

    lines = sorted({str(r["first_line"]) for r in treated})
    out: dict[str, Any] = {
        "cbr_by_6_months": cbr(treated),
        "cbr_by_6_months_by_first_line": {
            line: cbr([r for r in treated if r["first_line"] == line]) for line in lines
        },
        "first_line": dict(sorted(Counter(r["first_line"] for r in rows).items())),
        "second_line_within_1y": _fraction(
            [r for r in rows if r["second_line_day"] is not None and r["second_line_day"] <= YEAR],
            rows,
        ),
        "third_line_within_1y": _fraction(
            [r for r in rows if r["third_line_day"] is not None and r["third_line_day"] <= YEAR],
            rows,
        ),
        "third_line_ever": _fraction([r for r in rows if r["third_line_day"] is not None], rows),
        "azathioprine_stopped_1y": _fraction(
            [
                r
                for r in rows
                if r.get("azathioprine_stopped_day") is not None
                and r.get("azathioprine_start_day") is not None
                and r["azathioprine_stopped_day"] <= r["azathioprine_start_day"] + YEAR
            ],
            [r for r in rows if r.get("azathioprine_start_day") is not None],
        ),
        "prednisolone_g_1y_mean": _mean_g(rows, "prednisolone_mg_1y"),
        "prednisolone_g_mean": _mean_g(rows, "prednisolone_mg"),
        "withdrawal_attempted": _fraction(
            [r for r in rows if r["withdrawal_day"] is not None], rows
        ),
        "withdrawals": len([r for r in rows if r["withdrawal_day"] is not None]),
    }
    for y in (1, 2, 3):
        out[f"relapse_after_withdrawal_{y}y"] = _reference_km(
            rows,
            y * YEAR,
            lambda r: r["relapse_after_withdrawal_day"],
            lambda r: r["withdrawal_day"],
        )
    for key, column in (
        ("transplanted", "transplant_day"),
        ("referred_for_transplant", "referral_day"),
        ("died", "death_day"),
    ):
        out[key] = _fraction([r for r in rows if r[column] is not None], rows)
    out["liver_death"] = _fraction([r for r in rows if r["death_cause"] in ("liver", "hcc")], rows)
    out["death_causes"] = dict(
        sorted(Counter(r["death_cause"] for r in rows if r["death_cause"]).items())
    )
    out["liver_share_of_deaths"] = _fraction(
        [r for r in rows if r["death_cause"] in ("liver", "hcc")],
        [r for r in rows if r["death_cause"]],
    )
    for y in (5, 10):
        if horizon >= y * YEAR:
            out[f"survival_{y}y"] = _alive(_reference_km(rows, y * YEAR, lambda r: r["death_day"]))
            out[f"liver_event_free_{y}y"] = _alive(_reference_km(rows, y * YEAR, _liver))
    stages = sorted({str(r["cirrhosis_at_diagnosis"]) for r in rows})
    out["survival_10y_by_cirrhosis"] = {
        stage: _alive(
            _reference_km(
                [r for r in rows if r["cirrhosis_at_diagnosis"] == stage],
                10 * YEAR,
                lambda r: r["death_day"],
            )
        )
        for stage in (stages if horizon >= 10 * YEAR else [])
    }
    out["recurrence_after_transplant_5y"] = _reference_km(
        rows, 5 * YEAR, lambda r: r["recurrence_day"], lambda r: r["transplant_day"]
    )
    events, days = 0, 0.0
    for r in rows:
        if r["cirrhosis_at_diagnosis"] == "none":
            continue
        end = float(r["followup_days"])
        if r["transplant_day"] is not None:
            end = min(end, float(r["transplant_day"]))
        if r["hcc_day"] is not None and r["hcc_day"] <= end:
            events, end = events + 1, float(r["hcc_day"])
        days += end
    out["hcc_per_1000py_cirrhosis_at_diagnosis"] = (
        round(events / (days / YEAR) * 1000.0, 3) if days / YEAR > 0 else None
    )
    acute = [r for r in rows if r["presentation"] == "acute_severe"]
    out["acute_severe_referred_by_day_14"] = _fraction(
        [r for r in acute if r["referral_day"] is not None and r["referral_day"] <= 14], acute
    )
    deviations = [r["deviations"] for r in rows]
    out["mean_deviations"] = round(sum(deviations) / len(rows), 4) if rows else None
    return out


# --- totals against the reference ------------------------------------------------------------


def _settings(horizon: float) -> RunSettings:
    return RunSettings(
        cohort=load_cohort(),
        parameters=load_parameters(),
        thresholds=Thresholds(),
        seed=1,
        policy="guideline",
        horizon_days=horizon,
    )


def _patient(row: dict[str, Any], i: int = 0) -> PatientResult:
    return PatientResult(
        row=row,
        events_csv="",
        kinds=Counter({"finding": i % 3, "transition": 1}),
        violations=Counter({"INV-01": 1} if i % 5 == 0 else {}),
        steps=i % 7,
    )


def _chunks(rows: Sequence[dict[str, Any]], cuts: Sequence[int]) -> list[ChunkResult]:
    bounds = [0, *sorted({c % (len(rows) + 1) for c in cuts}), len(rows)]
    return [
        ChunkResult.of([_patient(rows[i], i) for i in range(a, b)])
        for a, b in itertools.pairwise(bounds)
    ]


def _died_on(day: float) -> dict[str, Any]:
    """A treated patient without other events who died on ``day`` (of liver disease)."""
    return {
        **dict.fromkeys(_DAY_COLUMNS),
        "first_line": "prednisolone",
        "cirrhosis_at_diagnosis": "compensated",
        "presentation": "acute_severe",
        "death_day": day,
        "death_cause": "liver",
        "followup_days": day,
        "deviations": 1,
        "final_care_state": "",
    }


@given(rows=_ROWS, horizon=_HORIZONS)
@example(rows=[_died_on(5 * YEAR), _died_on(10 * YEAR), _died_on(200)], horizon=10 * YEAR)
# HCC on a subnormal day: the patient-years round to 0.0, so there is no rate (was a
# ZeroDivisionError).
@example(rows=[{**_died_on(14), "death_day": None, "hcc_day": 5e-324}], horizon=3 * YEAR)
# Azathioprine stopped within the year by one of two users; steroid doses of two patients.
@example(
    rows=[
        {**_died_on(200), "azathioprine_start_day": 14, "azathioprine_stopped_day": 100,
         "prednisolone_mg": 5000, "prednisolone_mg_1y": 4000},
        {**_died_on(900), "azathioprine_start_day": 14, "prednisolone_mg": 3000,
         "prednisolone_mg_1y": 3000, "death_cause": "background"},
    ],
    horizon=3 * YEAR,
)  # fmt: skip
def test_headline_outcomes_match_the_reference(rows: list[dict[str, Any]], horizon: float) -> None:
    """Every headline figure equals the row-based definition, to the last rounded digit."""
    assert headline_outcomes(rows, horizon) == _reference(rows, horizon)


@given(rows=_ROWS, horizon=_HORIZONS, cuts=st.lists(st.integers(0, 40), max_size=6))
def test_streamed_summary_matches_the_reference(
    rows: list[dict[str, Any]], horizon: float, cuts: list[int]
) -> None:
    """Rows fed chunk by chunk, not kept, give the reference's outcomes and counts."""
    result = CohortResult(_settings(horizon), keep=False)
    for chunk in _chunks(rows, cuts):
        result.add(chunk)
    summary = result.summary()
    assert summary["outcomes"] == _reference(rows, horizon)
    counts = summary["counts"]
    assert counts["patients"] == len(rows)
    assert counts["deviations"] == sum(r["deviations"] for r in rows)
    assert counts["deaths"] == sum(r["death_day"] is not None for r in rows)
    assert counts["transplants"] == sum(r["transplant_day"] is not None for r in rows)
    care = Counter(r["final_care_state"] for r in rows)
    assert counts["final_care_state"] == dict(sorted(care.items()))
    patients = [_patient(r, i) for i, r in enumerate(rows)]
    assert counts["events_by_kind"]["finding"] == sum(p.kinds["finding"] for p in patients)
    assert counts["events"] == sum(sum(p.kinds.values()) for p in patients)
    assert summary["invariant_violations"] == sum(i % 5 == 0 for i in range(len(rows)))
    assert result.steps == sum(p.steps for p in patients)
    # the rounded summary.json text too
    kept = CohortResult(_settings(horizon), keep=True)
    kept.add(ChunkResult.of(patients))
    assert summary_json(summary) == summary_json(kept.summary())


@given(
    spans=st.lists(
        st.tuples(st.one_of(st.integers(0, 30), st.sampled_from([0.5, 2.5, 10.0])), st.booleans()),
        max_size=40,
    ),
    data=st.data(),
)
def test_kaplan_meier_tally_is_the_product_limit(
    spans: list[tuple[float, bool]], data: st.DataObject
) -> None:
    """The tally by day gives the textbook product-limit estimate and kaplan_meier's curve."""
    days = [float(d) for d, _ in spans]
    anywhere = st.floats(-1, 40, allow_nan=False)
    day = data.draw(st.one_of(st.sampled_from(days), anywhere) if days else anywhere)
    tally = KaplanMeierTally()
    for d, e in spans:
        tally.add(d, e)
    s = 1.0
    for t in sorted({d for d, e in spans if e}):
        if t <= day:
            s *= 1.0 - sum(e and d == t for d, e in spans) / sum(d >= t for d, _ in spans)
    assert len(tally) == len(spans)
    assert tally.survival_at(day) == s
    if spans:
        curve = kaplan_meier([d for d, _ in spans], [e for _, e in spans])
        assert curve.survival_at(day) == s
        assert curve.durations == tuple(sorted(float(d) for d, _ in spans))


def test_km_at_and_tally_reject_bad_durations() -> None:
    """Negative or infinite durations are refused, named as before."""
    with pytest.raises(ValueError, match="duration #1 must be finite"):
        kaplan_meier([1, float("inf")], [True, False])
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        KaplanMeierTally().add(-1, True)
    assert km_at([], 10, lambda r: None) is None


# --- nothing per patient is kept ---------------------------------------------------------------


class _Row(dict[str, Any]):
    """A row that can be watched with a weak reference."""


def _synthetic_rows(n: int) -> list[_Row]:
    return [
        _Row(
            first_line="prednisolone" if i % 4 else "none",
            first_cbr_day=float(100 + i % 150) if i % 3 else None,
            second_line_day=None,
            third_line_day=None,
            withdrawal_day=float(1000 + i % 50) if i % 6 == 0 else None,
            relapse_after_withdrawal_day=float(1400 + i % 30) if i % 12 == 0 else None,
            transplant_day=None,
            referral_day=None,
            death_day=float(i % 3000) if i % 9 == 0 else None,
            death_cause="liver" if i % 9 == 0 else "",
            followup_days=float(i % 3000) if i % 9 == 0 else 10 * YEAR,
            recurrence_day=None,
            hcc_day=None,
            cirrhosis_at_diagnosis=("none", "compensated")[i % 2],
            presentation="chronic",
            deviations=0,
            final_care_state="maintenance",
        )
        for i in range(n)
    ]


def test_streamed_result_keeps_no_rows() -> None:
    """With keep off, the rows of added chunks are released; with keep on they are held."""
    for keep in (False, True):
        result = CohortResult(_settings(10 * YEAR), keep=keep)
        watched = []
        for start in range(0, 2000, 100):
            rows = _synthetic_rows(2000)[start : start + 100]
            watched += [weakref.ref(r) for r in rows]
            result.add(ChunkResult.of([_patient(r, i) for i, r in enumerate(rows)]))
            del rows
        gc.collect()
        alive = sum(ref() is not None for ref in watched)
        assert alive == (2000 if keep else 0)
        assert result.counts()["patients"] == 2000
    streamed = CohortResult(_settings(10 * YEAR), keep=False)
    with pytest.raises(ValueError, match="keep_patients=True"):
        streamed.patients_csv()


def test_totals_do_not_grow_with_the_patients() -> None:
    """Memory of the totals: 20,000 more patients over the same days add (almost) nothing."""
    result = CohortResult(_settings(10 * YEAR), keep=False)
    rows = _synthetic_rows(3000)  # every distinct day and group already appears here
    chunk = [_patient(r, i) for i, r in enumerate(rows)]
    result.add(ChunkResult.of(chunk))
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(10):
            result.add(ChunkResult.of(chunk))
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 20_000, grown
    assert result.summary()["counts"]["patients"] == 33_000


# --- the files are unchanged -------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_simulate_writes_what_the_kept_rows_give(tmp_path: Path, workers: int) -> None:
    """Streamed patients.csv, events.csv and summary.json equal the kept-rows outputs."""
    params = load_parameters()
    cohort, *_ = apply_overrides(load_cohort(), params, ["cohort.patients=30", "cohort.years=6"])
    kept = run_cohort(cohort, parameters=params, seed=5, workers=1)
    out = tmp_path / "out"
    simulate_to(out, cohort, params, Thresholds(), seed=5, policy="guideline", workers=workers)
    assert (out / "patients.csv").read_text(encoding="utf-8") == kept.patients_csv()
    assert (out / "events.csv").read_text(encoding="utf-8") == kept.events_csv()
    assert (out / "summary.json").read_text(encoding="utf-8") == summary_json(kept.summary())
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["patients"] == 30
    assert summary["outcomes"] == json.loads(
        summary_json(headline_outcomes(kept.rows, kept.settings.horizon_days))
    )


def test_run_without_keeping_gives_the_same_summary() -> None:
    """run_cohort(keep_patients=False) keeps no patients and has the same summary."""
    kept = run_cohort(patients=25, years=4, seed=8, workers=1)
    lean = run_cohort(patients=25, years=4, seed=8, workers=1, keep_patients=False)
    assert summary_json(lean.summary()) == summary_json(kept.summary())
    assert lean.steps == sum(p.steps for p in kept.patients) > 0
    with pytest.raises(ValueError, match="not kept"):
        _ = lean.rows
