"""Sensitivity sweeps: draws vary the outcome, on the same patients, locally or on Dask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulation.cli.main import main
from simulation.run.cohort import CohortError
from simulation.run.sweep import Range, parse_vary, run_sweep


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


def test_policies_run_on_the_same_draws_and_differences_add_up() -> None:
    """Each draw runs every policy with the same parameters; the differences summarised are
    the per-draw differences from the first policy, and a policy's outcomes are those of a
    plain cohort run under that policy with the drawn parameters."""
    from simulation.model.parameters import load_parameters
    from simulation.run.cohort import apply_overrides, load_cohort, run_cohort
    from simulation.run.sweep import _numeric_outcomes

    ranges = [Range("liver.hcc_per_1000py_cirrhosis", 1.0, 60.0)]
    kw = {"draws": 3, "patients": 25, "years": 5, "seed": 11, "workers": 1}
    one = run_sweep(ranges, **kw)  # type: ignore[arg-type]
    two = run_sweep(ranges, policies=["guideline", "mmf_first_line"], **kw)  # type: ignore[arg-type]
    assert [d["parameters"] for d in one.draws] == [d["parameters"] for d in two.draws]
    assert one.outcomes == two.outcomes == two.by_policy["guideline"]
    assert "by_policy" not in json.loads(one.to_json())  # one policy: the layout as before
    cbr = [
        d["policies"]["mmf_first_line"]["cbr_by_6_months"]
        - d["policies"]["guideline"]["cbr_by_6_months"]
        for d in two.draws
    ]
    s = two.differences["mmf_first_line"]["cbr_by_6_months"]
    assert s["mean"] == pytest.approx(sum(cbr) / 3, abs=1e-6)
    assert s["share_above_zero"] == pytest.approx(sum(x > 0 for x in cbr) / 3, abs=1e-6)
    assert s["share_below_zero"] == pytest.approx(sum(x < 0 for x in cbr) / 3, abs=1e-6)
    assert any(x != 0 for x in cbr)  # the policies really differ on these patients
    first = two.draws[0]
    name = "liver.hcc_per_1000py_cirrhosis"
    sets = [f"{name}={first['parameters'][name]!r}"]
    cohort, params, thresholds = apply_overrides(load_cohort(), load_parameters(), sets)
    plain = run_cohort(
        cohort,
        parameters=params,
        thresholds=thresholds,
        patients=25,
        years=5,
        seed=11,
        policy="mmf_first_line",
        workers=1,
    )
    assert first["policies"]["mmf_first_line"] == _numeric_outcomes(plain.summary(sets)["outcomes"])


def test_policies_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown or repeated policies are one-line errors naming what was found."""
    ranges = [Range("liver.hcc_per_1000py_cirrhosis", 1.0, 2.0)]
    with pytest.raises(ValueError, match="found 'nope', expected names from"):
        run_sweep(ranges, draws=1, patients=2, years=1, policies=["guideline", "nope"])
    with pytest.raises(ValueError, match="expected one or more different names"):
        run_sweep(ranges, draws=1, patients=2, years=1, policies=["guideline", "guideline"])
    args = ["sweep", "--vary", "liver.hcc_per_1000py_cirrhosis=1:2", "--draws", "1"]
    assert main([*args, "--policies", "guideline,nope"]) == 2
    assert "--policies: found 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--vary", "relapse.withdrawal_1y=-1:5"],
            "--vary relapse.withdrawal_1y: found -1:5, a range outside the parameter's own "
            "(parameter 'relapse.withdrawal_1y': found -1.0, expected 0 to 1)",
        ),
        (
            ["--vary", "relapse.withdrawal_1y=0.1:0.2", "--vary", "relapse.withdrawal_1y=0.3:0.4"],
            "--vary relapse.withdrawal_1y: found twice, expected one range per parameter",
        ),
        (["--vary", "relapse.withdrawal_1y=0.1:0.2", "--seed", "-1"], "--seed: found -1"),
        (["--vary", "relapse.withdrawal_1y=0.1:0.2", "--patients", "0"], "--patients: found 0"),
        (
            ["--vary", "relapse.withdrawal_1y=0.1:0.2", "--out", "{file}/s.json"],
            "--out {file}/s.json: found a file at {file}, expected a folder",
        ),
        (
            ["--vary", "relapse.withdrawal_1y=0.1:0.2", "--out", "{file}.csv"],
            "--out {file}.csv: found suffix '.csv', expected a .json file name",
        ),
    ],
)
def test_bad_sweeps_fail_in_one_line_before_any_draw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Ranges outside a parameter's own, a parameter varied twice, bad numbers and an
    unwritable --out fail at once, naming the option (no traceback, no draw run)."""
    file = tmp_path / "f"
    file.write_text("x")
    argv = ["sweep", "--draws", "2", "--patients", "5", "--years", "1", "--workers", "2"]
    assert main([*argv, *(a.format(file=file) for a in args)]) == 2
    err = capsys.readouterr().err
    assert message.format(file=file) in err
    assert "draw 1/2" not in err
    assert "Traceback" not in err
