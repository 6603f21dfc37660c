"""carechart compare: paired differences with 95% intervals, a compact table, --out files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulation.cli.main import main
from simulation.results.compare import KEYS, PatientOutcomes, estimates, paired_differences
from simulation.results.outcomes import YEAR, OutcomeTally

HORIZON = 10 * YEAR


def _rows(seed: int, n: int, *, shift: float = 0.0) -> list[dict[str, Any]]:
    """Synthetic patients.csv rows; ``shift`` makes events likelier (a worse policy).

    Drawn from one generator per patient (``seed`` + i), as a cohort does, so row i of two
    calls with the same seed is the same patient: paired, like common random numbers.
    """
    rows = []
    for i in range(n):
        u = np.random.default_rng([seed, i]).random(8)
        death = float(u[1] * 6000) if u[0] < 0.2 + shift else None
        follow = death if death is not None else HORIZON
        withdrawal = float(u[3] * 2000) if u[2] < 0.3 else None
        relapse = withdrawal + float(u[5] * 900) if withdrawal is not None and u[4] < 0.6 else None
        treated = u[6] > 0.05
        rows.append(
            {
                "first_line": "pred_aza" if treated else "none",
                "first_cbr_day": float(u[7] * 400) if treated else None,
                "second_line_day": float(u[7] * 700) if u[7] < 0.4 + shift else None,
                "third_line_day": None,
                "withdrawal_day": withdrawal,
                "relapse_after_withdrawal_day": relapse,
                "transplant_day": float(u[1] * 3000) if u[0] < 0.05 else None,
                "referral_day": None,
                "death_day": death,
                "death_cause": ("liver" if u[2] < 0.5 else "other") if death is not None else "",
                "followup_days": follow,
                "cirrhosis_at_diagnosis": "none",
                "recurrence_day": None,
                "hcc_day": None,
                "presentation": "typical",
                "deviations": int(u[4] * 3),
            }
        )
    return rows


def _outcomes(rows: list[dict[str, Any]]) -> PatientOutcomes:
    kept = PatientOutcomes(HORIZON)
    for r in rows:
        kept.add(r)
    return kept


def test_point_estimates_match_the_summary_figures() -> None:
    """The figures resampled for the intervals are the summary's, Kaplan-Meier included."""
    rows = _rows(1, 400)
    tally = OutcomeTally()
    for r in rows:
        tally.add(r)
    summary = tally.outcomes(HORIZON)
    values = estimates(_outcomes(rows).arrays(), np.ones((1, len(rows))))
    assert set(values) == set(KEYS)
    for key in KEYS:
        value = float(values[key][0])
        assert round(value, 4) == pytest.approx(summary[key], abs=1e-12), key


def test_share_intervals_agree_with_the_normal_approximation() -> None:
    """For a per-patient share the bootstrap interval is about mean +- 1.96 SE of the paired
    differences; the interval holds the estimate and excludes 0 for a real difference."""
    a_rows, b_rows = _rows(2, 2000), _rows(2, 2000, shift=0.1)
    diffs = paired_differences(_outcomes(a_rows), _outcomes(b_rows), seed=5)
    d = np.array(
        [
            (b["death_day"] is not None) - (a["death_day"] is not None)
            for a, b in zip(a_rows, b_rows, strict=True)
        ],
        dtype=float,
    )
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    died = diffs["died"]
    assert died.estimate == pytest.approx(d.mean())
    assert died.low == pytest.approx(d.mean() - half, abs=0.004)
    assert died.high == pytest.approx(d.mean() + half, abs=0.004)
    assert died.low is not None
    assert died.low > 0
    for key, diff in diffs.items():
        if diff.low is not None and diff.high is not None and diff.estimate is not None:
            assert diff.low <= diff.estimate <= diff.high, key


def test_pairing_narrows_the_interval() -> None:
    """The same patients under both policies: identical runs give a zero-width interval."""
    kept = _outcomes(_rows(3, 300))
    same = paired_differences(kept, kept, seed=1)
    assert all(d.low == d.high == 0 for d in same.values() if d.low is not None)


def _compare(tmp_path: Path, out: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(
        [
            "compare",
            "--policies",
            "guideline,mmf_first_line,budesonide_when_eligible",
            "--patients",
            "40",
            "--years",
            "2",
            "--workers",
            "1",
            "--out",
            str(tmp_path / out),
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_compare_saves_json_and_csv_and_fits_100_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _compare(tmp_path, "cmp.json", capsys)
    assert code == 0
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "95% interval" in text
    doc = json.loads((tmp_path / "cmp.json").read_text())
    assert doc["reference"] == "guideline"
    assert doc["patients"] == 40
    died = [r for r in doc["rows"] if r["outcome"] == "died"]
    assert [r["policy"] for r in died] == [
        "guideline",
        "mmf_first_line",
        "budesonide_when_eligible",
    ]
    for r in died[1:]:
        assert r["low"] <= r["difference"] <= r["high"]
    code, _ = _compare(tmp_path, "cmp.csv", capsys)
    assert code == 0
    with (tmp_path / "cmp.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["policy"] for r in rows} == {
        "guideline",
        "mmf_first_line",
        "budesonide_when_eligible",
    }
    assert next(r for r in rows if r["outcome"] == "died")["difference"] == ""


def test_compare_out_needs_json_or_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --out is one line, exit 2, before any run, and nothing is written."""
    code, text = _compare(tmp_path, "cmp.txt", capsys)
    assert code == 2
    assert text.strip().splitlines() == [
        f"carechart: error: --out {tmp_path / 'cmp.txt'}: found suffix '.txt', "
        "expected .json or .csv"
    ]
    assert list(tmp_path.iterdir()) == []
