"""Time to first normal labs on first-line treatment, measured on a default cohort (issue 12).

Usage (from the repository root)::

    .venv/bin/python benchmarks/time_to_response.py                   # 4000 patients, 2 years
    .venv/bin/python benchmarks/time_to_response.py --set shape.igg_lag_factor=1.0

A normal ``run_cohort`` with the default cohort and the guideline policy. Among treated
patients (``first_line`` is not ``none``) it reads the panels of events.csv and reports:

- the panel schedule: patients with a panel on each day from 80 to 112 (is there a panel
  between the 3-month visit and the 3.5-month time point of S-KIL10?);
- time to the first panel after the treatment start with ALT and AST <= ULN, and with
  ALT, AST and IgG <= ULN: its median (patients who never reach it count as not yet:
  the Kaplan-Meier-free median of all treated patients, and the median among those who
  reach it) and the cumulative share by 1, 2, 3, 3.5, 4.9, 6, 12 and 24 months;
- the delay from normal transaminases to normal IgG among those who reach both;
- the same shares with the transaminases only below 2 x ULN (the older remission criterion
  of the S-KIL10 era, [R]), IgG normal.

These are compared with the published figures printed at the end (sources and tags there).
A first panel with normal values counts even if a later panel is raised again, as in
``normal_transaminases`` with ``mode: any``. Deterministic for a seed; not part of the
test suite. The machine is shared: the run takes about 15 s per 1000 patients on 2 workers.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cohort_args import add_cohort_arguments, run_default_cohort

from simulation.results.outputs import EVENT_COLUMNS, ChunkResult

#: Days per month (365.25 / 12).
MONTH_DAYS = 30.4375
#: Time points of the cumulative shares, in months.
MONTHS = (1.0, 2.0, 3.0, 3.5, 4.9, 6.0, 12.0, 24.0)
#: Panel-schedule window, in days (3-month visit to past the 3.5-month point).
SCHEDULE_DAYS = range(80, 113)

#: Published time-to-response figures: (figure, what it counts, source and tag).
PUBLISHED = (
    (
        "median 4.9 months",
        "time to normal transaminases, prednisone first line (87% responded)",
        "S-DIAZ23 [V] (model input)",
    ),
    (
        "70.5% at 6 months",
        "normal transaminases at 6 months, predniso(lo)ne >= 0.5 mg/kg",
        "S-PAPE19 [V] (model input)",
    ),
    (
        "41.9% by 3.5 months",
        "remission (undefined in the abstract), 36 of 86: half of 72 remissions, median 3.5 m",
        "S-KIL10 [V] (validation target kil10-remission-3.5m)",
    ),
    (
        "70.4% at 3 months",
        "normal aminotransferases at 3 months, 81 of 115 Chinese patients; complete "
        "biochemical remission (with IgG) 69% at 24 and 87% at 36 months",
        "Aliment Pharmacol Ther 2011 letter, doi:10.1111/j.1365-2036.2011.04690.x [V] "
        "(not in the knowledge base)",
    ),
    (
        "60.7% at 3 months",
        "normal transaminases at 3 months, 34 of 56 (84% cirrhotic, Pakistan, prospective)",
        "Tasneem 2020, J Transl Intern Med, doi:10.2478/jtim-2020-0016 [V] "
        "(not in the knowledge base)",
    ),
)


@dataclass
class Tally:
    """First-normal days of the treated patients, per criterion (``None``: never)."""

    treated: int = 0
    transaminases: list[float | None] = field(default_factory=list)
    with_igg: list[float | None] = field(default_factory=list)
    within_2x_with_igg: list[float | None] = field(default_factory=list)
    schedule: dict[int, int] = field(default_factory=dict)


def _labs(detail: str) -> dict[str, float]:
    """The values of a labs finding's detail (``alt_xuln=7.4;ast_xuln=5.3;...``)."""
    return {k: float(v) for k, v in (kv.split("=", 1) for kv in detail.split(";") if kv)}


def first_normal(
    panels: Iterable[tuple[float, dict[str, float]]], limit: float, *, igg: bool
) -> float | None:
    """Day of the first panel after day 0 with ALT and AST <= ``limit`` x ULN (and IgG <= ULN).

    >>> first_normal([(0, {"alt_xuln": 0.5, "ast_xuln": 0.5, "igg_xuln": 2.0}),
    ...               (14, {"alt_xuln": 0.9, "ast_xuln": 1.0, "igg_xuln": 1.2}),
    ...               (28, {"alt_xuln": 0.9, "ast_xuln": 0.8, "igg_xuln": 0.9})], 1.0, igg=True)
    28
    """
    for day, v in panels:
        if day <= 0 or v["alt_xuln"] > limit or v["ast_xuln"] > limit:
            continue
        if not igg or v["igg_xuln"] <= 1.0:
            return day
    return None


def tally_chunk(chunk: ChunkResult, tally: Tally) -> None:
    """Add a chunk's treated patients to ``tally``."""
    kind, name = EVENT_COLUMNS.index("kind"), EVENT_COLUMNS.index("name")
    day_at, detail = EVENT_COLUMNS.index("day"), EVENT_COLUMNS.index("detail")
    for patient in chunk.patients:
        if patient.row["first_line"] == "none":
            continue  # the studies counted treated patients
        rows = [
            (float(row[day_at]), _labs(row[detail]))
            for row in csv.reader(io.StringIO(patient.events_csv))
            if len(row) == len(EVENT_COLUMNS) and row[kind] == "finding" and row[name] == "labs"
        ]
        tally.treated += 1
        tally.transaminases.append(first_normal(rows, 1.0, igg=False))
        tally.with_igg.append(first_normal(rows, 1.0, igg=True))
        tally.within_2x_with_igg.append(first_normal(rows, 2.0, igg=True))
        for day in {int(d) for d, _ in rows if d.is_integer()} & set(SCHEDULE_DAYS):
            tally.schedule[day] = tally.schedule.get(day, 0) + 1


def cumulative(days: Sequence[float | None], month: float) -> float:
    """Share of ``days`` set and at most ``month`` months.

    >>> cumulative([10.0, 100.0, None, 200.0], 3.5)
    0.5
    """
    cut = month * MONTH_DAYS
    return sum(1 for d in days if d is not None and d <= cut) / len(days) if days else 0.0


def median_months(days: Sequence[float | None]) -> tuple[float | None, float | None]:
    """(Median of all, never counting as infinite; median among those reached), in months.

    >>> median_months([30.4375, 60.875, None])
    (2.0, 1.5)
    """
    reached = sorted(d for d in days if d is not None)
    if not reached:
        return None, None
    ordered = reached + [float("inf")] * (len(days) - len(reached))
    overall = statistics.median(ordered)
    among = statistics.median(reached) / MONTH_DAYS
    return (overall / MONTH_DAYS if overall != float("inf") else None), among


def _months(value: float | None) -> str:
    """A median in months, 11 characters wide (``never`` when not reached)."""
    return f"{value:11.1f}" if value is not None else f"{'never':>11}"


def report(tally: Tally) -> str:
    """The measurement as plain text."""
    n = tally.treated
    lines = [f"treated patients: {n}", "", "panels per day (days 80-112, share of treated):"]
    lines.append(
        "  " + ", ".join(f"{d}: {c / n:.0%}" for d, c in sorted(tally.schedule.items()) if c)
    )
    header = "  criterion                      median(all)  median(reached)  " + "  ".join(
        f"{m:>5g}m" for m in MONTHS
    )
    lines += ["", "time to the first normal panel (months; cumulative share of treated):", header]
    for label, days in (
        ("ALT+AST <= ULN", tally.transaminases),
        ("ALT+AST+IgG <= ULN", tally.with_igg),
        ("ALT+AST <= 2xULN, IgG <= ULN", tally.within_2x_with_igg),
    ):
        overall, among = median_months(days)
        shares = "  ".join(f"{cumulative(days, m):6.1%}" for m in MONTHS)
        lines.append(f"  {label:29s}{_months(overall)}  {_months(among)}      {shares}")
    lags = [
        b - a
        for a, b in zip(tally.transaminases, tally.with_igg, strict=True)
        if a is not None and b is not None
    ]
    if lags:
        q = statistics.quantiles(lags, n=4)
        lines += [
            "",
            f"normal IgG after normal transaminases (days; {len(lags)} reaching both): "
            f"same panel {sum(1 for x in lags if x == 0) / len(lags):.0%}, quartiles "
            f"{q[0]:.0f} / {q[1]:.0f} / {q[2]:.0f}, over 60 days "
            f"{sum(1 for x in lags if x > 60) / len(lags):.0%}",
        ]
    lines += ["", "published figures:"]
    lines += [f"  {fig:20s} {what}; {src}" for fig, what, src in PUBLISHED]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the cohort and print the measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cohort_arguments(parser, patients=4000, years=2.0, seed=20250101)
    args = parser.parse_args(argv)
    tally = Tally()
    run_default_cohort(args, lambda chunk: tally_chunk(chunk, tally))
    print(
        f"patients {args.patients}, {args.years:g} years, seed {args.seed}, overrides "
        f"{args.set or 'none'}"
    )
    print(report(tally))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
