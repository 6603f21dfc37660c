"""Probabilistic sensitivity analysis: parameter draws, each over the same cohort.

``carechart sweep`` draws N parameter sets (each named parameter uniform in its range, or from
a beta, gamma, lognormal or normal distribution: :mod:`simulation.model.distributions`), runs
the cohort under each draw through the same path as ``carechart simulate`` (local workers or
Dask) with the same patients and random numbers (common random numbers, so differences come
from the parameters), and summarises the distribution of each headline outcome.

With several policies (``--policies A,B``), every draw runs each policy on the same patients
and random numbers, and the sweep also summarises each policy's difference from the first
across the draws, with the shares of draws in which the difference is above and below zero:
how often, over the parameter uncertainty, B gives more (or less) of an outcome than A.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model.disease import ModelConstants
from ..model.distributions import Distribution, DistributionError, parse_distribution
from ..model.parameters import load_parameters, unknown_key_message
from ..model.policies import parse_policy_list
from .cohort import (
    DEFAULT_SEED,
    CohortError,
    apply_overrides,
    load_cohort,
    run_cohort,
)
from .scale import dask_client

__all__ = ["Distribution", "Range", "SweepResult", "parse_vary", "run_sweep"]


@dataclass(frozen=True)
class Range:
    """A parameter varied uniformly between ``low`` and ``high`` (its own unit)."""

    name: str
    low: float
    high: float

    def draw(self, rng: Any) -> float:
        """One value from ``rng`` (a ``numpy.random.Generator``)."""
        return float(rng.uniform(self.low, self.high))

    def __str__(self) -> str:
        return f"uniform(low={self.low:g}, high={self.high:g})"


def parse_vary(text: str) -> Range | Distribution:
    """``NAME=LOW:HIGH`` -> :class:`Range`, ``NAME=KIND(ARG=VALUE, ...)`` ->
    :class:`~simulation.model.distributions.Distribution`; a clear ``CohortError`` otherwise."""
    name, sep, span = text.partition("=")
    if sep and name and "(" in span:
        try:
            return parse_distribution(name.strip(), span)
        except DistributionError as exc:
            raise CohortError(str(exc)) from None
    low_text, sep2, high_text = span.partition(":")
    try:
        if not (sep and sep2 and name):
            raise ValueError
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise CohortError(
            f"--vary: found {text!r}, expected NAME=LOW:HIGH or NAME=KIND(ARG=VALUE, ...)"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise CohortError(f"--vary {name}: found {low:g}:{high:g}, expected LOW <= HIGH")
    return Range(name.strip(), low, high)


@dataclass
class SweepResult:
    """Per-draw parameter values and outcomes, and their summary.

    ``outcomes`` summarises the first policy. With several policies, ``by_policy`` has each
    policy's summary and ``differences`` each later policy's difference from the first
    (per draw, then summarised, with ``share_above_zero`` and ``share_below_zero``); each
    draw then also holds ``policies``: outcomes by policy.
    """

    draws: list[dict[str, Any]]
    outcomes: dict[str, dict[str, float]]
    by_policy: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    differences: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def to_json(self) -> str:
        """Stable JSON (sorted keys); one policy gives the same layout as before policies."""
        data: dict[str, Any] = {"draws": self.draws, "outcomes": self.outcomes}
        if self.differences:
            data["by_policy"] = self.by_policy
            data["differences"] = self.differences
        return json.dumps(data, indent=2, sort_keys=True)


def _numeric_outcomes(outcomes: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in outcomes.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v is not None
    }


def run_sweep(
    ranges: Sequence[Range | Distribution],
    *,
    draws: int,
    patients: int,
    years: float,
    seed: int = DEFAULT_SEED,
    workers: int = 1,
    dask: str | None = None,
    engine: str = "compiled",
    policies: Sequence[str] = ("guideline",),
) -> SweepResult:
    """Run ``draws`` cohorts, each with parameters drawn from ``ranges`` (their distributions).

    The draws come from ``SeedSequence([seed, 1])`` (draw by draw, parameter by parameter in
    the order given), all made and checked against each parameter's own range before any
    cohort runs; every draw simulates the same patients
    with the same random numbers (``seed``), under each of ``policies`` (the first is the
    reference of the differences).
    """
    if draws < 1:
        raise CohortError(f"--draws: found {draws}, expected a whole number >= 1")
    if not ranges:
        raise CohortError("--vary: name at least one parameter to vary (NAME=LOW:HIGH)")
    policies = parse_policy_list(policies)
    cohort, base = load_cohort(), load_parameters()
    seen: set[str] = set()
    for r in ranges:
        if r.name not in base:
            raise CohortError("--vary: " + unknown_key_message("parameter", r.name, list(base)))
        if r.name in seen:
            raise CohortError(f"--vary {r.name}: found twice, expected one range per parameter")
        seen.add(r.name)
        if not isinstance(r, Range):
            continue
        for end in (r.low, r.high):  # each parameter's own range (a probability: 0 to 1)
            try:
                ModelConstants.from_parameters(base.with_overrides({r.name: end}))
            except ValueError as exc:
                raise CohortError(
                    f"--vary {r.name}: found {r.low:g}:{r.high:g}, a range outside the "
                    f"parameter's own ({exc})"
                ) from None
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    drawn = [{r.name: r.draw(rng) for r in ranges} for _ in range(draws)]
    for d, values in enumerate(drawn):
        for r in ranges:
            if isinstance(r, Range):
                continue  # its ends were checked above
            try:  # an unbounded distribution can leave the parameter's own range
                ModelConstants.from_parameters(base.with_overrides({r.name: values[r.name]}))
            except ValueError as exc:
                raise CohortError(
                    f"--vary {r.name}: draw {d + 1} of {r} gave {values[r.name]:.6g}, outside "
                    f"the parameter's own range ({exc}); choose a distribution within it"
                ) from None
    rows: list[dict[str, Any]] = []
    client = None
    if dask is not None:
        client = dask_client(dask, workers)
    try:
        for d, values in enumerate(drawn):
            sets = [f"{name}={value!r}" for name, value in values.items()]
            c, params, thresholds = apply_overrides(cohort, base, sets)
            by_policy: dict[str, dict[str, float]] = {}
            for policy in policies:
                result = run_cohort(
                    c,
                    parameters=params,
                    thresholds=thresholds,
                    patients=patients,
                    years=years,
                    seed=seed,
                    policy=policy,
                    workers=workers,
                    on_chunk=lambda chunk: None,
                    keep_patients=False,
                    engine=engine,
                    dask=client,
                )
                by_policy[policy] = _numeric_outcomes(result.summary(sets)["outcomes"])
            row: dict[str, Any] = {
                "draw": d,
                "parameters": values,
                "outcomes": by_policy[policies[0]],
            }
            if len(policies) > 1:
                row["policies"] = by_policy
            rows.append(row)
            sys.stderr.write(f"carechart sweep: draw {d + 1}/{draws} done\n")
    finally:
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    if len(policies) == 1:
        return SweepResult(rows, _summarise([row["outcomes"] for row in rows]))
    per_policy = {n: [row["policies"][n] for row in rows] for n in policies}
    reference = per_policy[policies[0]]
    differences = {
        n: _summarise(
            [
                {k: v - ref[k] for k, v in own.items() if k in ref}
                for own, ref in zip(per_policy[n], reference, strict=True)
            ],
            share_above_zero=True,
        )
        for n in policies[1:]
    }
    summaries = {n: _summarise(per_policy[n]) for n in policies}
    return SweepResult(rows, summaries[policies[0]], summaries, differences)


def _summarise(
    draws: list[dict[str, float]], *, share_above_zero: bool = False
) -> dict[str, dict[str, float]]:
    """Mean, 2.5th, 50th and 97.5th percentiles of each outcome over the draws."""
    names = sorted({k for outcomes in draws for k in outcomes})
    out: dict[str, dict[str, float]] = {}
    for name in names:
        values = np.array([outcomes[name] for outcomes in draws if name in outcomes])
        out[name] = {
            "mean": round(float(values.mean()), 6),
            "p2.5": round(float(np.percentile(values, 2.5)), 6),
            "p50": round(float(np.percentile(values, 50)), 6),
            "p97.5": round(float(np.percentile(values, 97.5)), 6),
            "draws": int(values.size),
        }
        if share_above_zero:  # with the share below zero: the rest are ties
            out[name]["share_above_zero"] = round(float(np.mean(values > 0)), 6)
            out[name]["share_below_zero"] = round(float(np.mean(values < 0)), 6)
    return out


def format_table(result: SweepResult) -> str:
    """The outcome distributions as text tables: one per policy, one per difference."""
    if not result.differences:
        return _table(result.outcomes)
    parts = [f"{name}:\n{_table(s)}" for name, s in result.by_policy.items()]
    reference = next(iter(result.by_policy))
    parts += [
        f"{name} - {reference} (shares of draws with a difference above and below zero):\n"
        + _table(s, share=True)
        for name, s in result.differences.items()
    ]
    return "\n".join(parts)


def _table(summary: dict[str, dict[str, float]], *, share: bool = False) -> str:
    head = f"{'outcome':<44} {'mean':>9} {'2.5%':>9} {'median':>9} {'97.5%':>9}"
    lines = [head + (f" {'> 0':>6} {'< 0':>6}" if share else "")]
    for name, s in summary.items():
        line = f"{name:<44} {s['mean']:>9.4g} {s['p2.5']:>9.4g} {s['p50']:>9.4g} {s['p97.5']:>9.4g}"
        if share:
            line += f" {s['share_above_zero']:>6.0%} {s['share_below_zero']:>6.0%}"
        lines.append(line)
    return "\n".join(lines) + "\n"
