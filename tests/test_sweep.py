"""Sensitivity sweeps: draws vary the outcome, on the same patients, locally or on Dask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulation.cli import main
from simulation.cohort import CohortError
from simulation.sweep import Range, parse_vary, run_sweep


def test_parse_vary() -> None:
    """NAME=LOW:HIGH parses; anything else is a one-line error."""
    assert parse_vary("relapse.withdrawal_1y=0.4:0.7") == Range("relapse.withdrawal_1y", 0.4, 0.7)
    with pytest.raises(CohortError, match="expected NAME=LOW:HIGH"):
        parse_vary("relapse.withdrawal_1y=0.4")
    with pytest.raises(CohortError, match="expected LOW <= HIGH"):
        parse_vary("x=0.9:0.1")


def test_draws_change_outcomes_and_repeat_exactly() -> None:
    """Different draws give different outcomes; the same seed gives the same sweep."""
    ranges = [Range("liver.hcc_per_1000py_cirrhosis", 1.0, 60.0)]
    kw = {"draws": 3, "patients": 30, "years": 10, "seed": 9, "workers": 1}
    a = run_sweep(ranges, **kw)  # type: ignore[arg-type]
    b = run_sweep(ranges, **kw)  # type: ignore[arg-type]
    assert a.to_json() == b.to_json()
    values = [d["parameters"]["liver.hcc_per_1000py_cirrhosis"] for d in a.draws]
    assert len(set(values)) == 3
    assert all(1.0 <= v <= 60.0 for v in values)
    s = a.outcomes["died"]
    assert s["p2.5"] <= s["p50"] <= s["p97.5"]
    assert s["draws"] == 3


def test_unknown_parameter_names_close_matches() -> None:
    """A misspelled parameter is refused with suggestions."""
    with pytest.raises(CohortError, match=r"did you mean 'liver\.hcc_per_1000py_cirrhosis'"):
        run_sweep([Range("liver.hcc_per_1000py_cirrhos", 1, 2)], draws=1, patients=2, years=1)


def test_sweep_on_dask_equals_local() -> None:
    """The same sweep through a Dask LocalCluster gives the same draws and outcomes."""
    pytest.importorskip("distributed")
    ranges = [Range("liver.hcc_per_1000py_cirrhosis", 1.0, 60.0)]
    kw = {"draws": 2, "patients": 20, "years": 5, "seed": 4, "workers": 2}
    local = run_sweep(ranges, **kw)  # type: ignore[arg-type]
    remote = run_sweep(ranges, dask="local", **kw)  # type: ignore[arg-type]
    assert local.to_json() == remote.to_json()


def test_sweep_command_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command prints the outcome table and writes the draws as JSON."""
    out = tmp_path / "sweep.json"
    code = main(
        [
            "sweep",
            "--vary",
            "liver.hcc_per_1000py_cirrhosis=5:20",
            "--draws",
            "2",
            "--patients",
            "10",
            "--years",
            "2",
            "--workers",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "median" in capsys.readouterr().out
    assert len(json.loads(out.read_text())["draws"]) == 2
    assert main(["sweep", "--vary", "nope", "--draws", "1"]) == 2
