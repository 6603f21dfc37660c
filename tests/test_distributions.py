"""sweep --vary distributions: beta, gamma, lognormal, normal by mean/sd or natural parameters."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.cli.main import main
from simulation.model.distributions import Distribution, parse_distribution
from simulation.run.cohort import CohortError
from simulation.run.sweep import Range, parse_vary, run_sweep


@pytest.mark.parametrize(
    ("spec", "mean", "sd"),
    [
        ("beta(mean=0.55, sd=0.05)", 0.55, 0.05),
        ("gamma(mean=20, sd=5)", 20.0, 5.0),
        ("lognormal(mean=3, sd=1.5)", 3.0, 1.5),
        ("normal(mean=-1, sd=0.2)", -1.0, 0.2),
        ("uniform(mean=10, sd=2)", 10.0, 2.0),
        ("beta(a=2, b=6)", 0.25, (2 * 6 / (8**2 * 9)) ** 0.5),
        ("gamma(shape=4, scale=0.5)", 2.0, 1.0),
        ("lognormal(mu=0, sigma=0.5)", np.exp(0.125), ((np.exp(0.25) - 1) * np.exp(0.25)) ** 0.5),
        ("uniform(low=1, high=3)", 2.0, (4 / 12) ** 0.5),
    ],
)
def test_draws_have_the_asked_moments(spec: str, mean: float, sd: float) -> None:
    """20,000 draws (fixed seed) have the spec's mean and sd within 2% of the sd."""
    dist = parse_distribution("p", spec)
    assert dist.mean == pytest.approx(mean)
    assert dist.sd == pytest.approx(sd)
    rng = np.random.default_rng(20250101)
    values = np.array([dist.draw(rng) for _ in range(20_000)])
    assert values.mean() == pytest.approx(mean, abs=0.02 * sd)
    assert values.std() == pytest.approx(sd, rel=0.03)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("beta(mean=1.2, sd=0.1)", "found mean 1.2, expected 0 < mean < 1"),
        (
            "beta(mean=0.5, sd=0.6)",
            r"found sd 0.6, expected sd < sqrt\(mean x \(1 - mean\)\) = 0.5",
        ),
        ("gamma(mean=-2, sd=1)", "found mean -2, expected mean > 0"),
        ("lognormal(mean=2, sd=0)", "found sd 0, expected sd > 0"),
        ("normal(mean=1)", r"found normal\(mean\), expected normal\(mean=, sd=\)"),
        ("gamma(mean=1, scale=2)", r"expected gamma\(shape=, scale= or mean=, sd=\)"),
        ("beta(a=0, b=2)", "expected a > 0 and b > 0"),
        ("weibull(k=1, l=2)", "expected LOW:HIGH or KIND"),
        ("beta(mean=0.5, sd=x)", "found 'sd=x' in beta"),
        ("beta(mean=0.5, sd=nan)", "expected a finite number"),
        ("uniform(low=3, high=1)", "found low > high"),
    ],
)
def test_bad_specs_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(CohortError, match=message) as info:
        parse_vary(f"relapse.withdrawal_1y={spec}")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("--vary relapse.withdrawal_1y")


def test_the_uniform_shorthand_is_unchanged() -> None:
    assert parse_vary("relapse.withdrawal_1y=0.4:0.7") == Range("relapse.withdrawal_1y", 0.4, 0.7)
    assert isinstance(parse_vary("relapse.withdrawal_1y=beta(a=2,b=3)"), Distribution)


def test_a_sweep_draws_from_the_distribution() -> None:
    """Each draw's parameter comes from the beta asked for (values within 0-1, repeatable)."""
    dist = parse_vary("relapse.withdrawal_1y=beta(mean=0.55, sd=0.05)")
    kw = {"draws": 3, "patients": 5, "years": 1, "seed": 9, "workers": 1}
    a = run_sweep([dist], **kw)  # type: ignore[arg-type]
    values = [d["parameters"]["relapse.withdrawal_1y"] for d in a.draws]
    assert len(set(values)) == 3
    assert all(0.35 < v < 0.75 for v in values)
    assert run_sweep([dist], **kw).to_json() == a.to_json()  # type: ignore[arg-type]


def test_draws_outside_the_parameters_range_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A normal that draws a probability above 1 stops before any cohort runs, in one line."""
    code = main(
        [
            "sweep",
            "--vary",
            "relapse.withdrawal_1y=normal(mean=0.95, sd=0.5)",
            "--draws",
            "20",
            "--patients",
            "5",
            "--years",
            "1",
            "--workers",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("carechart: error: --vary relapse.withdrawal_1y: draw ")
    assert "outside the parameter's own range" in err
    assert len(err.strip().splitlines()) == 1
    assert "draw 1/20 done" not in err
