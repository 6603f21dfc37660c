"""Summary tables of a cohort: baseline characteristics, outcome counts, curve estimates.

Tables are plain data (a header and rows of strings) so that the HTML page, a Markdown
export or a test can all use them. The baseline and outcome tables are built from
:class:`GroupTally` counts, fed one patient at a time (:class:`FirstLineGroups`, or
:func:`group_by_first_line` for a list of rows).
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..cohort_outputs import PatientRow
from ..survival import SurvivalCurve

__all__ = [
    "FirstLineGroups",
    "GroupTally",
    "Table",
    "ValueCounts",
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

#: Rows of the outcome table: label, and the patients.csv day column that marks the event.
_OUTCOMES: tuple[tuple[str, str], ...] = (
    ("Complete biochemical response reached, n (%)", "first_cbr_day"),
    ("Second-line therapy started", "second_line_day"),
    ("Withdrawal of treatment attempted", "withdrawal_day"),
    ("Relapse", "relapse_day"),
    ("Liver transplantation", "transplant_day"),
    ("Death", "death_day"),
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


class ValueCounts:
    """A multiset of numbers, counted by value: memory grows with the distinct values only.

    Its mean, SD and quartiles are exactly those of the numbers as a list (the standard
    library's, on the same values).

    >>> v = ValueCounts([3.0, 1.0, 3.0, 2.0])
    >>> len(v), list(v.values()), v.nth(2)
    (4, [1.0, 2.0, 3.0, 3.0], 3.0)
    """

    __slots__ = ("_counts", "_ends", "_n")

    def __init__(self, values: Iterable[float] = ()) -> None:
        self._counts: Counter[float] = Counter()
        self._n = 0
        self._ends: tuple[list[float], list[int]] | None = None  # cumulative counts
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return self._n

    def add(self, value: float) -> None:
        """Count one number."""
        self._counts[value] += 1
        self._n += 1
        self._ends = None

    def values(self) -> Iterator[float]:
        """Every number counted, ascending (a generator: nothing is copied)."""
        for value in sorted(self._counts):
            for _ in range(self._counts[value]):
                yield value

    def nth(self, index: int) -> float:
        """The number at ``index`` (0-based) of the ascending order."""
        if not 0 <= index < self._n:
            raise IndexError(f"index {index} out of range for {self._n} values")
        if self._ends is None:
            keys = sorted(self._counts)
            self._ends = (keys, list(itertools.accumulate(self._counts[k] for k in keys)))
        keys, ends = self._ends
        return keys[bisect.bisect_right(ends, index)]


class GroupTally:
    """What the baseline and outcome tables show of a group, counted one patient at a time.

    Attributes:
        n: Patients counted.
        age: Ages, years.
        weight: Weights, kg.
        followup_years: Follow-up, years.
        female: Patients of female sex.
        categories: Column -> value -> patients, for the categorical columns (values in
            order of first appearance).
        outcomes: Outcome -> patients with it during follow-up.
        died_of: Cause -> patients who died of it (empty cause: "not recorded").
        causes: The causes listed: as ``died_of``, of deaths after day 0.
    """

    __slots__ = (
        "age",
        "categories",
        "causes",
        "died_of",
        "female",
        "followup_years",
        "n",
        "outcomes",
        "weight",
    )

    def __init__(self) -> None:
        self.n = 0
        self.age = ValueCounts()
        self.weight = ValueCounts()
        self.followup_years = ValueCounts()
        self.female = 0
        self.categories: dict[str, Counter[str]] = {
            column: Counter() for column in (*(c for c, _, _ in _CATEGORIES), "first_line")
        }
        self.outcomes: Counter[str] = Counter()
        self.died_of: Counter[str] = Counter()
        self.causes: Counter[str] = Counter()

    def add(self, p: PatientRow) -> None:
        """Count one patient."""
        self.n += 1
        self.age.add(p.age)
        self.weight.add(p.weight_kg)
        self.followup_years.add(p.followup_days / DAYS_PER_YEAR)
        self.female += p.sex == "F"
        for column, counts in self.categories.items():
            counts[getattr(p, column)] += 1
        for label, day in _OUTCOMES:
            self.outcomes[label] += getattr(p, day) is not None
        if p.death_day is not None:
            self.died_of[p.death_cause or "not recorded"] += 1
        if p.death_day:
            self.causes[p.death_cause or "not recorded"] += 1


class FirstLineGroups:
    """The whole cohort and each first-line regimen as a :class:`GroupTally`.

    Fed one patient at a time; :meth:`groups` picks what :func:`group_by_first_line` shows.
    """

    __slots__ = ("all", "by_regimen")

    def __init__(self) -> None:
        self.all = GroupTally()
        self.by_regimen: dict[str, GroupTally] = {}

    def add(self, p: PatientRow) -> None:
        """Count one patient in the whole cohort and in the group of its regimen."""
        self.all.add(p)
        group = self.by_regimen.get(p.first_line)
        if group is None:
            group = self.by_regimen[p.first_line] = GroupTally()
        group.add(p)

    def selected(self, max_groups: int = 4) -> list[tuple[str, str | None]]:
        """(label, regimen) of the groups shown: the whole cohort (regimen ``None``), then,
        when there is more than one regimen, the most common (at most ``max_groups``)."""
        out: list[tuple[str, str | None]] = [("All patients", None)]
        counts = self.all.categories["first_line"]
        if len(counts) > 1:
            out.extend((first_line_label(r), r) for r, _ in counts.most_common(max_groups))
        return out

    def groups(self, max_groups: int = 4) -> list[tuple[str, GroupTally]]:
        """The groups shown (see :meth:`selected`) with their tallies."""
        return [
            (label, self.all if regimen is None else self.by_regimen[regimen])
            for label, regimen in self.selected(max_groups)
        ]


def group_by_first_line(
    patients: Iterable[PatientRow], max_groups: int = 4
) -> list[tuple[str, GroupTally]]:
    """The whole cohort, then the most common first-line regimens (at most ``max_groups``)."""
    groups = FirstLineGroups()
    for p in patients:
        groups.add(p)
    return groups.groups(max_groups)


def _mean_sd(values: ValueCounts) -> str:
    if not values:
        return "–"
    sd = statistics.stdev(values.values()) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values.values()):.1f} ({sd:.1f})"


def _median_iqr(values: ValueCounts) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values.nth(0):.1f}"
    q1, q2, q3 = _quartiles(values)
    return f"{q2:.1f} [{q1:.1f}–{q3:.1f}]"


def _quartiles(values: ValueCounts, n: int = 4) -> list[float]:
    """``statistics.quantiles(values, n=n, method="inclusive")``, without a sorted copy."""
    m = len(values) - 1
    out = []
    for i in range(1, n):
        j, delta = divmod(i * m, n)
        out.append((values.nth(j) * (n - delta) + values.nth(j + 1) * delta) / n)
    return out


def _share(column: str, value: str) -> Callable[[GroupTally], str]:
    """Cell function: patients whose ``column`` equals ``value``, as ``k (p%)``."""

    def cell(g: GroupTally) -> str:
        return percent(g.categories[column][value], g.n)

    return cell


def _died_of(cause: str) -> Callable[[GroupTally], str]:
    """Cell function: patients who died of ``cause``, as ``k (p%)``."""

    def cell(g: GroupTally) -> str:
        return percent(g.died_of[cause], g.n)

    return cell


def _had(outcome: str) -> Callable[[GroupTally], str]:
    """Cell function: patients with ``outcome`` during follow-up, as ``k (p%)``."""

    def cell(g: GroupTally) -> str:
        return percent(g.outcomes[outcome], g.n)

    return cell


def baseline_table(groups: Sequence[tuple[str, GroupTally]]) -> Table:
    """Baseline characteristics ("table 1"), one column per group."""
    header = ("Characteristic", *(f"{name} (n={g.n})" for name, g in groups))
    rows: list[tuple[str, ...]] = []
    indent: list[bool] = []

    def row(label: str, cell: Callable[[GroupTally], str], sub: bool = False) -> None:
        rows.append((label, *(cell(g) for _, g in groups)))
        indent.append(sub)

    row("Age, years: mean (SD)", lambda g: _mean_sd(g.age))
    row("Age, years: median [IQR]", lambda g: _median_iqr(g.age))
    row("Female sex, n (%)", lambda g: percent(g.female, g.n))
    row("Weight, kg: mean (SD)", lambda g: _mean_sd(g.weight))
    everyone = groups[0][1] if groups else GroupTally()
    for column, title, labels in _CATEGORIES:
        row(f"{title}, n (%)", lambda g: "")
        present = set(everyone.categories[column])
        ordered = [k for k in labels if k in present] + sorted(present - set(labels))
        for key in ordered:
            row(labels.get(key, key or "not recorded"), _share(column, key), sub=True)
    if len(groups) == 1:
        row("First-line regimen, n (%)", lambda g: "")
        for regimen, _ in everyone.categories["first_line"].most_common():
            row(first_line_label(regimen), _share("first_line", regimen), sub=True)
    return Table(header, tuple(rows), tuple(indent))


def outcome_table(groups: Sequence[tuple[str, GroupTally]]) -> Table:
    """Events observed during follow-up (crude counts), one column per group."""
    header = ("Outcome during follow-up", *(f"{name} (n={g.n})" for name, g in groups))
    rows: list[tuple[str, ...]] = [
        ("Follow-up, years: median [IQR]", *(_median_iqr(g.followup_years) for _, g in groups))
    ]
    indent: list[bool] = [False]

    def row(label: str, cell: Callable[[GroupTally], str], sub: bool = False) -> None:
        rows.append((label, *(cell(g) for _, g in groups)))
        indent.append(sub)

    for label, _ in _OUTCOMES:
        row(label, _had(label))
    everyone = groups[0][1] if groups else GroupTally()
    for cause, _ in everyone.causes.most_common():
        row(f"cause: {cause.replace('_', ' ')}", _died_of(cause), sub=True)
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


#: Rows of the treatment-burden table: (label, outcomes key, kind) with kind ``share``
#: (0-1, shown as a percentage) or ``grams``.
_BURDEN_ROWS: tuple[tuple[str, str, str], ...] = (
    ("Second line within 1 year", "second_line_within_1y", "share"),
    ("Third line within 1 year", "third_line_within_1y", "share"),
    ("Third line during follow-up", "third_line_ever", "share"),
    (
        "Azathioprine stopped for intolerance or cytopenia within 1 year of its start (its users)",
        "azathioprine_stopped_1y",
        "share",
    ),
    (
        "Predniso(lo)ne in the first year, mean per patient who took it",
        "prednisolone_g_1y_mean",
        "grams",
    ),
    ("Predniso(lo)ne over follow-up, mean per patient who took it", "prednisolone_g_mean", "grams"),
    ("Liver-related share of deaths (liver failure, HCC)", "liver_share_of_deaths", "share"),
)


def burden_table(outcomes: Mapping[str, Any]) -> Table | None:
    """Second and third line, azathioprine discontinuation, steroid exposure and causes of
    death from summary.json's ``outcomes`` (``None`` when it has none of them)."""
    rows: list[tuple[str, str]] = []
    for label, key, kind in _BURDEN_ROWS:
        value = outcomes.get(key)
        if not isinstance(value, int | float):
            continue
        rows.append((label, f"{100 * value:.1f}%" if kind == "share" else f"{value:.1f} g"))
    causes = outcomes.get("death_causes")
    if isinstance(causes, Mapping) and causes:
        total = sum(int(v) for v in causes.values())
        for cause, count in sorted(causes.items(), key=lambda kv: (-int(kv[1]), kv[0])):
            rows.append((f"Deaths: {cause}", percent(int(count), total)))
    if not rows:
        return None
    return Table(
        ("Measure", "Value"), tuple(rows), tuple(r[0].startswith("Deaths: ") for r in rows)
    )
