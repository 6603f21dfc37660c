"""Summary tables of a cohort: baseline characteristics, outcome counts, curve estimates.

Tables are plain data (a header and rows of strings) so that the HTML page, a Markdown
export or a test can all use them.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..cohort_outputs import PatientRow
from ..survival import SurvivalCurve

__all__ = [
    "Table",
    "baseline_table",
    "estimates_table",
    "group_by_first_line",
    "outcome_table",
    "percent",
]

DAYS_PER_YEAR = 365.25

_CATEGORIES: tuple[tuple[str, str, dict[str, str]], ...] = (
    (
        "cirrhosis_at_diagnosis",
        "Cirrhosis at diagnosis",
        {"none": "None", "compensated": "Compensated", "decompensated": "Decompensated"},
    ),
    (
        "presentation",
        "Presentation",
        {
            "chronic": "Chronic / non-acute",
            "acute_severe": "Acute severe",
            "acute_liver_failure": "Acute liver failure",
        },
    ),
    (
        "tpmt",
        "TPMT activity",
        {"normal": "Normal", "intermediate": "Intermediate", "deficient": "Deficient"},
    ),
)


@dataclass(frozen=True, slots=True)
class Table:
    """A table of strings.

    ``indent`` marks rows shown as sub-items of the row above; ``align`` gives each column's
    alignment (``left`` or ``right``; default: the first column left, the others right).
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    indent: tuple[bool, ...]
    align: tuple[str, ...] | None = None


def percent(k: int, n: int) -> str:
    """``k (p%)`` with p rounded to one decimal; ``0 (0%)`` when ``n`` is 0."""
    if n == 0:
        return f"{k} (0%)"
    return f"{k} ({100 * k / n:.1f}%)"


def first_line_label(value: str) -> str:
    """Readable name of a first-line regimen id (``prednisolone+azathioprine`` ...)."""
    if not value or value == "none":
        return "No first-line drug"
    return " + ".join(part.strip().capitalize() for part in value.replace(",", "+").split("+"))


def group_by_first_line(
    patients: Sequence[PatientRow], max_groups: int = 4
) -> list[tuple[str, list[PatientRow]]]:
    """The whole cohort, then the most common first-line regimens (at most ``max_groups``)."""
    counts = Counter(p.first_line for p in patients)
    groups: list[tuple[str, list[PatientRow]]] = [("All patients", list(patients))]
    if len(counts) > 1:
        for regimen, _ in counts.most_common(max_groups):
            members = [p for p in patients if p.first_line == regimen]
            groups.append((first_line_label(regimen), members))
    return groups


def _mean_sd(values: Sequence[float]) -> str:
    if not values:
        return "–"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.1f} ({sd:.1f})"


def _median_iqr(values: Sequence[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{q2:.1f} [{q1:.1f}–{q3:.1f}]"


def _share(column: str, value: str) -> Callable[[Sequence[PatientRow]], str]:
    """Cell function: patients whose ``column`` equals ``value``, as ``k (p%)``."""

    def cell(ps: Sequence[PatientRow]) -> str:
        return percent(sum(getattr(p, column) == value for p in ps), len(ps))

    return cell


def _died_of(cause: str) -> Callable[[PatientRow], bool]:
    """Predicate: the patient died of ``cause`` (empty cause = "not recorded")."""

    def has(p: PatientRow) -> bool:
        return p.death_day is not None and (p.death_cause or "not recorded") == cause

    return has


def baseline_table(groups: Sequence[tuple[str, Sequence[PatientRow]]]) -> Table:
    """Baseline characteristics ("table 1"), one column per group."""
    header = ("Characteristic", *(f"{name} (n={len(ps)})" for name, ps in groups))
    rows: list[tuple[str, ...]] = []
    indent: list[bool] = []

    def row(label: str, cell: Callable[[Sequence[PatientRow]], str], sub: bool = False) -> None:
        rows.append((label, *(cell(ps) for _, ps in groups)))
        indent.append(sub)

    row("Age, years: mean (SD)", lambda ps: _mean_sd([p.age for p in ps]))
    row("Age, years: median [IQR]", lambda ps: _median_iqr([p.age for p in ps]))
    row("Female sex, n (%)", lambda ps: percent(sum(p.sex == "F" for p in ps), len(ps)))
    row("Weight, kg: mean (SD)", lambda ps: _mean_sd([p.weight_kg for p in ps]))
    all_patients = groups[0][1] if groups else []
    for column, title, labels in _CATEGORIES:
        row(f"{title}, n (%)", lambda ps: "")
        present = {getattr(p, column) for p in all_patients}
        ordered = [k for k in labels if k in present] + sorted(present - set(labels))
        for key in ordered:
            row(labels.get(key, key or "not recorded"), _share(column, key), sub=True)
    if len(groups) == 1:
        row("First-line regimen, n (%)", lambda ps: "")
        for regimen, _ in Counter(p.first_line for p in all_patients).most_common():
            row(first_line_label(regimen), _share("first_line", regimen), sub=True)
    return Table(header, tuple(rows), tuple(indent))


def outcome_table(groups: Sequence[tuple[str, Sequence[PatientRow]]]) -> Table:
    """Events observed during follow-up (crude counts), one column per group."""
    header = ("Outcome during follow-up", *(f"{name} (n={len(ps)})" for name, ps in groups))
    rows: list[tuple[str, ...]] = []
    indent: list[bool] = []

    def count(label: str, has: Callable[[PatientRow], bool], sub: bool = False) -> None:
        rows.append((label, *(percent(sum(has(p) for p in ps), len(ps)) for _, ps in groups)))
        indent.append(sub)

    rows.append(
        (
            "Follow-up, years: median [IQR]",
            *(_median_iqr([p.followup_days / DAYS_PER_YEAR for p in ps]) for _, ps in groups),
        )
    )
    indent.append(False)
    count("Complete biochemical response reached, n (%)", lambda p: p.first_cbr_day is not None)
    count("Second-line therapy started", lambda p: p.second_line_day is not None)
    count("Withdrawal of treatment attempted", lambda p: p.withdrawal_day is not None)
    count("Relapse", lambda p: p.relapse_day is not None)
    count("Liver transplantation", lambda p: p.transplant_day is not None)
    count("Death", lambda p: p.death_day is not None)
    causes = Counter(p.death_cause or "not recorded" for p in groups[0][1] if p.death_day)
    for cause, _ in causes.most_common():
        count(f"cause: {cause.replace('_', ' ')}", _died_of(cause), sub=True)
    return Table(header, tuple(rows), tuple(indent))


def estimates_table(
    curves: Sequence[tuple[str, SurvivalCurve]],
    *,
    horizon_days: float,
    cumulative: bool,
    years: Sequence[float] = (1, 2, 5, 10),
) -> Table:
    """Kaplan-Meier estimates (95% CI) at fixed years, with n, events and median time."""
    shown = [y for y in years if y * DAYS_PER_YEAR <= horizon_days + 1e-9]
    header = ("Group", "n", "Events", *(f"{y:g} y" for y in shown), "Median, years")
    rows: list[tuple[str, ...]] = []
    for label, curve in curves:
        cells = []
        for y in shown:
            day = y * DAYS_PER_YEAR
            s = curve.survival_at(day)
            lo, hi = curve.interval_at(day)
            if cumulative:
                s, lo, hi = 1 - s, 1 - hi, 1 - lo
            cells.append(f"{100 * s:.0f}% ({100 * lo:.0f}–{100 * hi:.0f})")
        median = curve.median()
        rows.append(
            (
                label,
                str(curve.n),
                str(curve.n_events),
                *cells,
                "not reached" if median is None else f"{median / DAYS_PER_YEAR:.1f}",
            )
        )
    return Table(header, tuple(rows), tuple(False for _ in rows))
