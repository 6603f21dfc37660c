"""``carechart compare``'s figures: outcome differences between policies, with 95% intervals.

Every policy runs the same patients with the same random numbers (common random numbers), so
patient ``i`` under policy B is paired with patient ``i`` under the reference policy A. The
95% interval of each difference B - A is a paired percentile bootstrap over patients: each of
:data:`RESAMPLES` resamples draws ``n`` patients with replacement and evaluates both policies
on the *same* resampled patients, so the interval reflects only the variation between
patients that the pairing does not cancel. For an outcome that is a per-patient share or mean
this agrees with the normal approximation (mean of the paired differences +- 1.96 standard
errors); it also covers the outcomes that are not per-patient means: the complete response
among the treated (a ratio) and the Kaplan-Meier figures. The resamples come from their own
generator seeded by the run's seed, so the same run gives the same intervals.

Per patient only a few numbers per outcome are kept (not the rows), so memory is a few
arrays of the cohort's length per policy.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from .outcomes import OUTCOME_LABELS, YEAR, Row
from .outputs import OutputPathError, check_output_file

__all__ = [
    "KEYS",
    "RESAMPLES",
    "Comparison",
    "Difference",
    "PatientOutcomes",
    "check_compare_out",
    "compare_csv",
    "compare_json",
    "compare_table",
    "paired_differences",
]

#: Bootstrap resamples behind each interval.
RESAMPLES = 1000
#: Resamples evaluated at once (bounds memory: this many x patients weights).
_BATCH = 50
#: An interval needs the outcome defined (someone at risk) in this share of the resamples.
_MIN_DEFINED = 0.95

Vector = npt.NDArray[np.float64]
Weights = npt.NDArray[np.float64]  # resamples x patients: how often each patient is drawn
_COUNT_KEYS = ("mean_deviations", "_violations")


def _day(value: Any) -> float:
    return float("nan") if value is None else float(value)


@dataclass
class PatientOutcomes:
    """Per patient, the numbers behind each headline outcome of one policy's run.

    Fed patients.csv rows in patient order (:meth:`add`); the figures match
    :class:`simulation.results.outcomes.OutcomeTally` (same definitions, unrounded).
    """

    horizon_days: float
    columns: dict[str, list[float]] = field(default_factory=dict)

    def add(self, r: Row) -> None:
        """Add one patients.csv row (typed: None for empty cells)."""
        follow = float(r["followup_days"])
        liver = [d for d in (r["transplant_day"],) if d is not None]
        if r["death_cause"] in ("liver", "hcc") and r["death_day"] is not None:
            liver.append(r["death_day"])
        values = {
            "treated": float(r["first_line"] != "none"),
            "cbr6": float(
                r["first_line"] != "none"
                and r["first_cbr_day"] is not None
                and r["first_cbr_day"] <= 200.0
            ),
            "second_line_within_1y": float(
                r["second_line_day"] is not None and r["second_line_day"] <= YEAR
            ),
            "third_line_ever": float(r["third_line_day"] is not None),
            "withdrawal_attempted": float(r["withdrawal_day"] is not None),
            "transplanted": float(r["transplant_day"] is not None),
            "died": float(r["death_day"] is not None),
            "liver_death": float(r["death_cause"] in ("liver", "hcc")),
            "mean_deviations": float(r["deviations"]),
            "follow": follow,
            "death_day": _day(r["death_day"]),
            "liver_event_day": min(liver) if liver else float("nan"),
            "withdrawal_day": _day(r["withdrawal_day"]),
            "relapse_day": _day(r["relapse_after_withdrawal_day"]),
        }
        for key, value in values.items():
            self.columns.setdefault(key, []).append(value)

    def arrays(self) -> dict[str, Vector]:
        """The columns as arrays, one entry per patient."""
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.columns.items()}


#: Outcomes that are a weighted share or mean: (numerator column, denominator column or
#: None for all patients). All are computed with one matrix product per resample batch.
LINEAR: dict[str, tuple[str, str | None]] = {
    "cbr_by_6_months": ("cbr6", "treated"),  # complete response among the treated
    "second_line_within_1y": ("second_line_within_1y", None),
    "third_line_ever": ("third_line_ever", None),
    "withdrawal_attempted": ("withdrawal_attempted", None),
    "transplanted": ("transplanted", None),
    "died": ("died", None),
    "liver_death": ("liver_death", None),
    "mean_deviations": ("mean_deviations", None),
}


def _km(
    origin: str | None, event: str, day: float, *, survival: bool
) -> Callable[[dict[str, Vector], Weights], Vector]:
    """Weighted Kaplan-Meier at ``day`` (incidence, or survival when ``survival``).

    Durations run from ``origin`` (0 when None; patients without one are not at risk) to
    the event when it falls within follow-up, else to the end of follow-up (censored): the
    definition of :func:`simulation.results.outcomes.km_at`.
    """

    def estimate(a: dict[str, Vector], w: Weights) -> Vector:
        start = np.zeros_like(a["follow"]) if origin is None else a[origin]
        at_risk = ~np.isnan(start)
        start, end, when = start[at_risk], a["follow"][at_risk], a[event][at_risk]
        observed = ~np.isnan(when) & (start <= when) & (when <= end)
        duration = np.where(observed, when - start, np.maximum(0.0, end - start))
        order = np.argsort(duration, kind="stable")
        duration, observed = duration[order], observed[order]
        weights = w[:, at_risk][:, order]
        # at risk from position p on: the weights of p and after; events up to p.
        remaining = np.cumsum(weights[:, ::-1], axis=1)[:, ::-1]
        events = np.concatenate(
            [np.zeros((len(w), 1)), np.cumsum(weights * observed, axis=1)], axis=1
        )
        days = np.unique(duration[observed & (duration <= day)])  # the event days, at once
        first = np.searchsorted(duration, days, "left")
        last = np.searchsorted(duration, days, "right")
        n = remaining[:, first] if len(days) else np.ones((len(w), 0))
        dead = events[:, last] - events[:, first]
        s = np.prod(1.0 - np.divide(dead, n, out=np.zeros_like(n), where=n > 0), axis=1)
        defined = weights.sum(axis=1) > 0
        value = s if survival else 1.0 - s
        return np.where(defined, value, np.nan)

    return estimate


#: The Kaplan-Meier outcomes, each a function of the columns and the resampling weights.
KAPLAN_MEIER: dict[str, Callable[[dict[str, Vector], Weights], Vector]] = {
    "relapse_after_withdrawal_1y": _km("withdrawal_day", "relapse_day", YEAR, survival=False),
    "survival_10y": _km(None, "death_day", 10 * YEAR, survival=True),
    "liver_event_free_10y": _km(None, "liver_event_day", 10 * YEAR, survival=True),
}

#: Every outcome with an interval, in the order of :data:`OUTCOME_LABELS`.
KEYS: tuple[str, ...] = tuple(k for k in OUTCOME_LABELS if k in LINEAR or k in KAPLAN_MEIER)


def estimates(columns: dict[str, Vector], w: Weights) -> dict[str, Vector]:
    """Every outcome of :data:`KEYS` under each row of resampling weights ``w``.

    Args:
        columns: :meth:`PatientOutcomes.arrays` of one run.
        w: resamples x patients, how often each patient is drawn (a row of ones: the run).

    Returns:
        Per outcome key, one value per resample (NaN where nobody is at risk).
    """
    names = sorted({c for pair in LINEAR.values() for c in pair if c is not None})
    sums = w @ np.column_stack([columns[c] for c in names])  # one product for all shares
    by_name = {c: sums[:, i] for i, c in enumerate(names)}
    total = w.sum(axis=1)
    out: dict[str, Vector] = {}
    for key, (num, den) in LINEAR.items():
        base = total if den is None else by_name[den]
        out[key] = np.asarray(by_name[num] / np.where(base > 0, base, np.nan))
    for key, km in KAPLAN_MEIER.items():
        out[key] = km(columns, w)
    return out


@dataclass(frozen=True)
class Difference:
    """A policy's difference from the reference and its 95% interval (None: undefined)."""

    estimate: float | None
    low: float | None
    high: float | None


def paired_differences(
    reference: PatientOutcomes,
    other: PatientOutcomes,
    *,
    seed: int,
    resamples: int = RESAMPLES,
    keys: Sequence[str] = KEYS,
) -> dict[str, Difference]:
    """Each outcome's difference ``other - reference`` with a paired bootstrap 95% interval.

    Both runs must hold the same patients in the same order (common random numbers).

    Raises:
        ValueError: the runs hold different numbers of patients.
    """
    a, b = reference.arrays(), other.arrays()
    n = len(a["follow"])
    if len(b["follow"]) != n:
        raise ValueError(f"paired runs differ in size: {n} and {len(b['follow'])} patients")
    ones = np.ones((1, n))
    rng = np.random.default_rng(seed)
    draws: dict[str, list[Vector]] = {k: [] for k in keys}
    done = 0
    while done < resamples:
        size = min(_BATCH, resamples - done)
        # each resample draws n patients with replacement: w counts each patient's draws
        drawn = rng.integers(0, n, size=(size, n)) + n * np.arange(size)[:, None]
        w = np.bincount(drawn.ravel(), minlength=size * n).reshape(size, n).astype(np.float64)
        ea, eb = estimates(a, w), estimates(b, w)
        for key in keys:
            draws[key].append(eb[key] - ea[key])
        done += size
    pa, pb = estimates(a, ones), estimates(b, ones)
    out: dict[str, Difference] = {}
    for key in keys:
        point = float((pb[key] - pa[key])[0])
        diffs = np.concatenate(draws[key])
        defined = diffs[~np.isnan(diffs)]
        if np.isnan(point) or len(defined) < _MIN_DEFINED * len(diffs):
            out[key] = Difference(None if np.isnan(point) else point, None, None)
            continue
        low, high = np.percentile(defined, [2.5, 97.5])
        out[key] = Difference(point, float(low), float(high))
    return out


@dataclass
class Comparison:
    """The outcome of ``carechart compare``: each policy's figures and its differences.

    Attributes:
        settings: patients, years, seed and the policies (the first is the reference).
        values: per policy, the headline outcomes (as in summary.json) and ``_violations``.
        differences: per policy after the first, per outcome key.
    """

    settings: dict[str, Any]
    values: dict[str, dict[str, Any]]
    differences: dict[str, dict[str, Difference]]

    @property
    def policies(self) -> list[str]:
        """The policies in order, the reference first."""
        return list(self.values)

    def rows(self) -> list[dict[str, Any]]:
        """One row per outcome and policy, for CSV and JSON (None: not defined)."""
        out: list[dict[str, Any]] = []
        for key in (*OUTCOME_LABELS, "_violations"):
            values = [self.values[p].get(key) for p in self.policies]
            if all(v is None for v in values):
                continue
            for policy, value in zip(self.policies, values, strict=True):
                diff = self.differences.get(policy, {}).get(key)
                if diff is None and policy != self.policies[0]:
                    # a count without an interval (invariant violations): the plain difference
                    ref = values[0]
                    plain = None if value is None or ref is None else float(value - ref)
                    diff = Difference(plain, None, None)
                out.append(
                    {
                        "outcome": key.lstrip("_"),
                        "label": OUTCOME_LABELS.get(key, "invariant violations"),
                        "policy": policy,
                        "value": value,
                        "difference": None if diff is None else diff.estimate,
                        "low": None if diff is None else diff.low,
                        "high": None if diff is None else diff.high,
                    }
                )
        return out


def _fmt(key: str, value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    if key in _COUNT_KEYS:
        return f"{value:+.3g}" if sign else f"{value:.3g}"
    return f"{100 * value:+.1f} pts" if sign else f"{100 * value:.1f}%"


def compare_table(comparison: Comparison, out: TextIO) -> None:
    """Print each outcome, then one line per policy: value, difference, 95% interval.

    At most 100 columns whatever the number of policies (they are listed down, not across).
    """
    ref = comparison.policies[0]
    name_width = max(len(p) for p in comparison.policies)
    out.write(f"{'':{name_width + 2}}{'value':>8}  {'vs ' + ref:>14}  95% interval\n")
    last = ""
    for row in comparison.rows():
        key = "_violations" if row["outcome"] == "violations" else row["outcome"]
        if row["label"] != last:
            out.write(f"{row['label']}\n")
            last = row["label"]
        line = f"  {row['policy']:<{name_width}}{_fmt(key, row['value']):>8}"
        if row["policy"] != ref:
            line += f"  {_fmt(key, row['difference'], sign=True):>14}"
            if row["low"] is not None and row["high"] is not None:
                low, high = _fmt(key, row["low"], sign=True), _fmt(key, row["high"], sign=True)
                line += f"  {low.removesuffix(' pts')} to {high}"
        out.write(line.rstrip() + "\n")


def compare_json(comparison: Comparison) -> str:
    """The comparison as JSON: settings, the interval method, one record per row."""
    doc = {
        **comparison.settings,
        "reference": comparison.policies[0],
        "interval": f"95% paired percentile bootstrap over patients, {RESAMPLES} resamples",
        "rows": comparison.rows(),
    }
    return json.dumps(doc, indent=2) + "\n"


def compare_csv(comparison: Comparison) -> str:
    """The comparison as CSV: outcome, label, policy, value, difference, low, high."""
    buf = io.StringIO()
    columns = ["outcome", "label", "policy", "value", "difference", "low", "high"]
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    for row in comparison.rows():
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


#: ``--out`` suffixes and their writers.
WRITERS: Mapping[str, Callable[[Comparison], str]] = {".json": compare_json, ".csv": compare_csv}


def check_compare_out(path: str) -> Path:
    """Check ``--out`` before the run: a writable file name ending in .json or .csv.

    Raises:
        OutputPathError: another suffix, or a path that cannot be written.
    """
    target = check_output_file("--out", path)
    if target.suffix.lower() not in WRITERS:
        raise OutputPathError(
            f"--out {path}: found suffix {target.suffix or '(none)'!r}, expected .json or .csv"
        )
    return target
