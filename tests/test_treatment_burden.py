"""Treatment burden in the outputs: steroid exposure, azathioprine stops, the report table."""

from __future__ import annotations

import pytest

from simulation.results.report.tables import burden_table
from simulation.run.cohort import run_cohort


def _num(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    return run_cohort(patients=40, years=2, seed=5).rows


def test_prednisolone_exposure_is_recorded_per_patient(rows: list[dict[str, object]]) -> None:
    """Patients started on predniso(lo)ne carry a positive cumulative dose; the first year's
    dose never exceeds the whole course's, and at 0.5-1 mg/kg the first year is grams."""
    treated = [r for r in rows if str(r["first_line"]).startswith("prednisolone")]
    assert treated
    for r in treated:
        total, first_year = _num(r["prednisolone_mg"]), _num(r["prednisolone_mg_1y"])
        assert 0 < first_year <= total
        assert first_year < 400 * 365  # below 400 mg a day on average: a daily dose, not a sum
    assert sum(_num(r["prednisolone_mg_1y"]) for r in treated) / len(treated) > 1000


def test_azathioprine_stop_follows_its_start(rows: list[dict[str, object]]) -> None:
    """A stop for intolerance is only recorded for patients who started azathioprine."""
    for r in rows:
        start, stop = r["azathioprine_start_day"], r["azathioprine_stopped_day"]
        if stop is not None:
            assert start is not None
            assert _num(stop) >= _num(start)


def test_burden_table_shows_shares_grams_and_causes() -> None:
    """The report's table turns summary.json outcomes into percentages, grams and the causes
    of death as shares of all deaths, most frequent first."""
    table = burden_table(
        {
            "second_line_within_1y": 0.365,
            "third_line_within_1y": 0.02,
            "azathioprine_stopped_1y": 0.159,
            "prednisolone_g_1y_mean": 4.2,
            "death_causes": {"background": 30, "liver": 10},
        }
    )
    assert table is not None
    cells = {row[0]: row[1] for row in table.rows}
    assert cells["Second line within 1 year"] == "36.5%"
    assert cells["Predniso(lo)ne in the first year, mean per patient who took it"] == "4.2 g"
    assert [r[0] for r in table.rows][-2:] == ["Deaths: background", "Deaths: liver"]
    assert cells["Deaths: liver"] == "10 (25.0%)"
    assert burden_table({}) is None
