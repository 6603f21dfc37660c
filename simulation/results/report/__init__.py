"""The cohort report: ``report.html`` built from a cohort output folder.

:func:`write_report` reads ``patients.csv``, ``events.csv`` and ``summary.json``
(shared/spec/cohort-and-outputs.md) and writes one self-contained HTML page for clinicians:
cohort table, Kaplan-Meier outcome curves, care-line occupancy over time, the pathway with
the flow of patients along each transition, and the calibration table when a calibration
result is available. The page is written whole or not at all.

The CSV files are read as streams, one patient and its events at a time, into running
counts (:mod:`simulation.results.report.tally`), so memory does not grow with the events of the
cohort, and with its patients only through the distinct values and days it counts (and
the curves' durations while the page is drawn).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pathway.atomic import write_atomic
from pathway.diagram import to_mermaid

from ..calibration.result import CalibrationResult, load_result, simulated_text
from ..cohort_outputs import (
    CohortOutputs,
    EventOrderError,
    find_key,
    load_outputs,
    read_summary,
    require_outputs,
)
from ..survival import KaplanMeierTally, SurvivalCurve
from ..trajectories import CARE_ORDER
from . import figures
from .page import (
    CalibrationRow,
    Figure,
    Section,
    bullet_list,
    calibration_table_html,
    heading,
    paragraph,
    preformatted,
    render_page,
)
from .tables import (
    Table,
    baseline_table,
    burden_table,
    estimates_table,
    first_line_label,
    outcome_table,
)
from .tally import OCCUPANCY_YEARS, ReportTally, tally_folder, tally_outputs

__all__ = [
    "CALIBRATION_FILE",
    "REPORT_FILE",
    "ReportError",
    "build_report",
    "calibration_rows",
    "write_report",
    "write_report_or_fail",
]

REPORT_FILE = "report.html"
#: A calibration result in the output folder is picked up by the report automatically.
CALIBRATION_FILE = "calibration.json"

DAYS_PER_YEAR = 365.25
#: Curves of smaller groups are too noisy to read; their figures stay in the tables.
MIN_PLOTTED_GROUP = 10
_GROUP_COLOURS = ("#1f5f9e", "#c0392b", "#2e8b57", "#7b4ea3", "#d68910")
_CIRRHOSIS_COLOURS = {"none": "#2e8b57", "compensated": "#d68910", "decompensated": "#c0392b"}
_CIRRHOSIS_LABELS = {
    "none": "No cirrhosis",
    "compensated": "Compensated cirrhosis",
    "decompensated": "Decompensated cirrhosis",
}


def calibration_rows(result: CalibrationResult) -> list[CalibrationRow]:
    """Rows of the report's calibration table, one per target of ``result``."""
    return [
        CalibrationRow(
            source=r.target.source,
            study=r.target.study,
            quantity=f"{r.target.quantity} ({r.target.arm})",
            population=r.target.population,
            simulated=simulated_text(r),
            published=f"{100 * r.target.published.value:.1f}%",
            interval=r.target.published.range_text(),
            interval_basis=r.target.published.basis_text(),
            passed=r.passed,
        )
        for r in result.results
    ]


def write_report(
    out_dir: Path, calibration: Path | None = None, *, generated: _dt.datetime | None = None
) -> Path:
    """Write ``out_dir/report.html`` from the cohort outputs in ``out_dir``.

    patients.csv and events.csv are read as streams into running counts
    (:func:`simulation.results.report.tally.tally_folder`): memory does not grow with the events
    or the patients. A folder whose events.csv does not list the patients in the order of
    patients.csv (``carechart simulate`` always does) is read whole instead; the page is
    the same either way. The page is built in memory and written to a temporary file in
    ``out_dir`` that replaces ``report.html`` in one step, so a reader never sees a partial
    page and a failure leaves no new file behind (an older report, if any, is kept).

    Args:
        out_dir: Folder holding patients.csv, events.csv and summary.json.
        calibration: A calibration result file (``carechart calibrate --out``); by default
            ``out_dir/calibration.json`` is used when it exists.
        generated: Time stamp shown on the page (default: now, UTC).

    Returns:
        The path of the report.

    Raises:
        FileNotFoundError: If an input file (or the given calibration file) is missing.
        ValueError: If an input file breaks the output contract.
    """
    out_dir = Path(out_dir)
    require_outputs(out_dir)
    try:
        tally = tally_folder(out_dir)
    except EventOrderError:
        # Valid but not in patient order, or naming an unknown patient: load_outputs
        # reads it whole (or says which patient is unknown).
        tally = tally_outputs(load_outputs(out_dir))
    summary = read_summary(out_dir / "summary.json")
    cal_rows: list[CalibrationRow] | None = None
    cal_facts: dict[str, str] = {}
    cal_notes: list[str] = []
    if calibration is None and (out_dir / CALIBRATION_FILE).is_file():
        calibration = out_dir / CALIBRATION_FILE
    if calibration is not None:
        result = load_result(Path(calibration))
        cal_rows = calibration_rows(result)
        cal_facts = result.facts()
        cal_notes = result.notes()
    text = _render(tally, summary, cal_rows, cal_facts, cal_notes, generated)
    return write_atomic(out_dir / REPORT_FILE, text)


def build_report(
    outputs: CohortOutputs,
    *,
    calibration: Sequence[CalibrationRow] | None = None,
    calibration_facts: Mapping[str, str] | None = None,
    calibration_notes: Sequence[str] = (),
    generated: _dt.datetime | None = None,
) -> str:
    """The report page for ``outputs`` held in memory as HTML text.

    The same page as :func:`write_report` builds from the folder of these outputs.

    Args:
        outputs: The cohort outputs (see :func:`simulation.results.cohort_outputs.load_outputs`).
        calibration: Rows of the calibration table, or ``None`` when there is no result.
        calibration_facts: How the calibration was produced (command, seed, date ...).
        calibration_notes: Caveats of the targets (definitions, denominators).
        generated: Time stamp shown on the page (default: now, UTC).

    Returns:
        The HTML document.

    Raises:
        ValueError: If the cohort has no patients.
    """
    return _render(
        tally_outputs(outputs),
        outputs.summary,
        calibration,
        calibration_facts or {},
        calibration_notes,
        generated,
    )


def _render(
    tally: ReportTally,
    summary: Mapping[str, Any],
    calibration: Sequence[CalibrationRow] | None,
    calibration_facts: Mapping[str, str],
    calibration_notes: Sequence[str],
    generated: _dt.datetime | None,
) -> str:
    """The page of a cohort's aggregates and summary (see :func:`build_report`)."""
    if not tally.patients:
        raise ValueError("patients.csv holds no patients; nothing to report")
    when = generated or _dt.datetime.now(_dt.UTC)
    facts = _run_facts(summary, tally.patients, tally.horizon, when)
    sections = [
        _cohort_section(tally, summary),
        _curves_section(tally),
        _occupancy_section(tally),
        _flow_section(tally),
        _calibration_section(calibration, calibration_facts, calibration_notes),
        _methods_section(),
    ]
    return render_page(title="carechart cohort report", run_facts=facts, sections=sections)


def _violations(summary: Mapping[str, Any]) -> int | None:
    value = find_key(summary, "invariant_violations")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list | dict):
        return len(value)
    return None


def _run_facts(
    summary: Mapping[str, Any], n: int, horizon: float, when: _dt.datetime
) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "Patients": n,
        "Follow-up horizon": f"{horizon / DAYS_PER_YEAR:.1f} years",
    }
    for label, key in (("Policy", "policy"), ("Seed", "seed"), ("carechart", "version")):
        value = find_key(summary, key)
        if value is not None and not isinstance(value, dict | list):
            facts[label] = value
    facts["Report generated"] = when.strftime("%Y-%m-%d %H:%M UTC")
    return facts


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            out.append(
                (
                    name,
                    f"{len(value)} item(s)"
                    if value and isinstance(value[0], dict)
                    else ", ".join(map(str, value)),
                )
            )
        else:
            out.append((name, str(value)))
    return out


def _cohort_section(tally: ReportTally, summary: Mapping[str, Any]) -> Section:
    groups = tally.groups.groups()
    blocks: list[str | Table | Figure] = []
    violations = _violations(summary)
    if violations is None:
        blocks.append(paragraph("summary.json does not report invariant violations.", "alert"))
    elif violations:
        blocks.append(
            paragraph(
                f"{violations} safety invariant violation(s) were recorded in this run. "
                "For the guideline policy this must be zero: treat every figure below as "
                "suspect until the cause is found (see summary.json).",
                "alert",
            )
        )
    else:
        blocks.append(paragraph("No safety invariant was violated in this run.", "ok"))
    blocks.append(heading("Baseline characteristics"))
    blocks.append(
        paragraph(
            "Columns after the first split the cohort by the first-line regimen the simulated "
            "clinician chose. Percentages are of the column's patients.",
            "note",
        )
    )
    blocks.append(baseline_table(groups))
    blocks.append(heading("What happened during follow-up"))
    blocks.append(
        paragraph(
            "Crude counts of patients with each event at least once, whatever the length of "
            "their follow-up. The curves in the next section account for follow-up time.",
            "note",
        )
    )
    blocks.append(outcome_table(groups))
    outcomes = summary.get("outcomes")
    burden = burden_table(outcomes) if isinstance(outcomes, Mapping) else None
    if burden is not None:
        blocks.append(heading("Treatment burden and causes of death"))
        blocks.append(
            paragraph(
                "From summary.json: crude shares of all patients (second and third line), of "
                "azathioprine users (discontinuation), of patients who took predniso(lo)ne "
                "(cumulative dose), and of deaths (causes, as percentages of all deaths).",
                "note",
            )
        )
        blocks.append(burden)
    flat = _flatten(summary)
    if flat:
        blocks.append(
            preformatted(
                "All figures in summary.json",
                "\n".join(f"{k}: {v}" for k, v in flat),
            )
        )
    return Section("cohort", "1. Cohort", blocks)


def _curve(label: str, tally: KaplanMeierTally) -> tuple[str, SurvivalCurve]:
    return label, tally.curve()


def _curve_block(
    blocks: list[str | Table | Figure],
    curves: Sequence[tuple[str, SurvivalCurve]],
    colours: Sequence[str],
    *,
    title: str,
    ylabel: str,
    horizon: float,
    cumulative: bool,
    caption: str,
    xlabel: str = "Years since diagnosis",
) -> None:
    blocks.append(heading(title))
    coloured = [(label, c, colour) for (label, c), colour in zip(curves, colours, strict=False)]
    plotted = [item for item in coloured if item[1].n >= MIN_PLOTTED_GROUP] or coloured
    if len(plotted) < len(coloured):
        caption += f" Groups of fewer than {MIN_PLOTTED_GROUP} patients are in the table only."
    png = figures.km_figure(
        plotted,
        ylabel=ylabel,
        horizon_days=horizon,
        cumulative=cumulative,
        xlabel=xlabel,
    )
    blocks.append(Figure(png, title, caption))
    blocks.append(estimates_table(curves, horizon_days=horizon, cumulative=cumulative))


def _curves_section(tally: ReportTally) -> Section:
    horizon = tally.horizon
    blocks: list[str | Table | Figure] = [
        paragraph(
            "Kaplan-Meier estimates with 95% pointwise confidence bands (shaded). Patients are "
            "censored when they leave follow-up (the horizon; ticks mark censored patients in "
            "small groups). Tables give the estimate (95% CI) at fixed times.",
            "note",
        )
    ]
    groups = tally.groups.selected()
    by_regimen = groups[1:] if len(groups) > 1 else groups
    cbr = [_curve(name, tally.cbr[regimen]) for name, regimen in by_regimen]
    _curve_block(
        blocks,
        cbr,
        _GROUP_COLOURS,
        title="Time to complete biochemical response",
        ylabel="% with complete response",
        horizon=horizon,
        cumulative=True,
        caption=(
            "Cumulative proportion reaching complete biochemical response (transaminases and "
            "IgG at or below the upper limit of normal, IAIHG 2022), by first-line regimen. "
            "Deaths are censored, so the curve slightly overstates the proportion among all "
            "patients when mortality is high."
        ),
    )
    if len(tally.relapse):
        relapse = _curve("Withdrawal attempted", tally.relapse)
        _curve_block(
            blocks,
            [relapse],
            _GROUP_COLOURS[1:],
            title="Relapse after withdrawal",
            ylabel="% relapsed",
            horizon=relapse[1].durations[-1],
            cumulative=True,
            xlabel="Years since the start of withdrawal",
            caption=(
                "Cumulative proportion relapsing, counted from the day withdrawal began, among "
                "patients in whom treatment withdrawal was attempted."
            ),
        )
    else:
        blocks.append(heading("Relapse after withdrawal"))
        blocks.append(paragraph("No patient attempted withdrawal of treatment during follow-up."))
    _curve_block(
        blocks,
        [_curve("All patients", tally.transplant_free)],
        _GROUP_COLOURS,
        title="Transplant-free survival",
        ylabel="% alive without transplant",
        horizon=horizon,
        cumulative=False,
        caption="Proportion alive without liver transplantation (either ends the curve).",
    )
    stages = [s for s in _CIRRHOSIS_LABELS if s in tally.survival_by_stage]
    by_stage = [_curve(_CIRRHOSIS_LABELS[s], tally.survival_by_stage[s]) for s in stages]
    _curve_block(
        blocks,
        by_stage,
        [_CIRRHOSIS_COLOURS[s] for s in stages],
        title="Survival by cirrhosis at diagnosis",
        ylabel="% alive",
        horizon=horizon,
        cumulative=False,
        caption="Overall survival (death from any cause) by liver stage at diagnosis.",
    )
    return Section("outcomes", "2. Outcome curves", blocks)


def _occupancy_section(tally: ReportTally) -> Section:
    n = tally.patients
    counts = tally.occupancy.counts()
    png = figures.occupancy_figure(tally.occupancy.grid, counts, n)
    cap = (
        "Share of the cohort in each care state, over time since diagnosis, rebuilt from the "
        "care-line transitions in events.csv. Taper overlaps response assessment and "
        "maintenance and is not shown as a separate band."
    )
    years = OCCUPANCY_YEARS[: len(tally.occupancy_years.grid)]
    header = ("Care state", *(f"{y:g} y" for y in years))
    at_years = tally.occupancy_years.counts()
    rows = [
        (
            figures.short_label(state),
            *(f"{100 * k / n:.1f}%" for k in at_years.get(state, [0] * len(years))),
        )
        for state in counts
    ]
    table = Table(header, tuple(rows), tuple(False for _ in rows))
    return Section(
        "occupancy",
        "3. Where patients are over time",
        [Figure(png, "State occupancy over time", cap), table],
    )


def _flow_section(tally: ReportTally) -> Section:
    moves = tally.flows.flows()
    smallest = max(2, math.ceil(0.01 * tally.flows.courses))
    png = figures.flow_diagram(
        moves, tally.flows.entered, tally.flows.died, min_transitions=smallest
    )
    blocks: list[str | Table | Figure] = [
        Figure(
            png,
            "Pathway diagram with patient flows",
            "The care line of the pathway. Each box shows how many patients were ever in that "
            "state and how many died in it; arrow width and label give the number of "
            "transitions along it (a patient can take an arrow more than once, for example "
            f"relapse and back to maintenance). Arrows taken fewer than {smallest} times "
            "(1% of the cohort) are left out of the drawing; the table below lists every "
            "transition.",
        ),
    ]
    rank = {s: i for i, s in enumerate(CARE_ORDER)}
    rows = tuple(
        (
            figures.short_label(m.source),
            figures.short_label(m.target),
            str(m.transitions),
            str(m.patients),
        )
        for m in sorted(moves, key=lambda m: (rank[m.source], -m.transitions))
    )
    blocks.append(heading("Every transition between care states"))
    blocks.append(
        Table(
            ("From", "To", "Transitions", "Patients"),
            rows,
            tuple(False for _ in rows),
            align=("left", "left", "right", "right"),
        )
    )
    mermaid = _mermaid_source(tally.fired)
    if mermaid:
        blocks.append(
            preformatted(
                "The whole chart as Mermaid text (paste into a Mermaid viewer); each arrow's "
                "label ends with the number of times it fired in this cohort",
                mermaid,
            )
        )
    return Section("pathway", "4. Pathway and patient flows", blocks)


def _mermaid_source(fired: Counter[tuple[str, str, str]]) -> str:
    """The chart as Mermaid text, each arrow labelled with how often it fired.

    ``fired``: counts by (source, event, target) (:func:`~.tally.count_fired`), drawn by
    the pathway's own exporter (:func:`pathway.diagram.to_mermaid`).
    """
    return to_mermaid(flows=fired)


def _calibration_section(
    rows: Sequence[CalibrationRow] | None, facts: Mapping[str, str], notes: Sequence[str]
) -> Section:
    blocks: list[str | Table | Figure] = []
    if rows is None:
        blocks.append(
            paragraph(
                "No calibration result was supplied. Run 'carechart calibrate --out "
                f"OUT_DIR/{CALIBRATION_FILE}' and rebuild the report to include the table of "
                "simulated versus published figures.",
                "note",
            )
        )
        return Section("calibration", "5. Calibration", blocks)
    passed = sum(1 for r in rows if r.passed)
    judged = sum(1 for r in rows if r.passed is not None)
    blocks.append(
        paragraph(
            f"{passed} of {judged} calibration targets fall inside the published interval. "
            "Each target re-simulates a study's population and treatment with the same model "
            "and compares the simulated figure with the published one.",
        )
    )
    if facts:
        blocks.append(paragraph(" · ".join(f"{k}: {v}" for k, v in facts.items()), "note"))
    blocks.append(calibration_table_html(rows))
    if notes:
        blocks.append(heading("Notes on the targets"))
        blocks.append(bullet_list(notes))
    return Section("calibration", "5. Calibration", blocks)


def _methods_section() -> Section:
    return Section(
        "methods",
        "6. How to read this report",
        [
            bullet_list(
                [
                    "Every patient here is simulated by carechart's stochastic model and "
                    "managed by a simulated clinician policy; the pathway is written from "
                    "published guidelines and studies (see the project's knowledge base).",
                    "Day 0 is diagnosis. Follow-up ends at death or at the simulation horizon.",
                    "Curves are Kaplan-Meier estimates; with death as a competing event, one "
                    "minus Kaplan-Meier overstates the cumulative incidence of other events.",
                    "Care states follow the vocabulary of the pathway: induction includes the "
                    "steroid lead-in and combination phases; 'After transplant' includes the "
                    "stable graft, and recurrent AIH is shown on its own.",
                    f"First-line regimens are named as recorded in patients.csv "
                    f"(e.g. '{first_line_label('prednisolone+azathioprine')}').",
                ]
            )
        ],
    )


class ReportError(ValueError):
    """report.html could not be written; the run publishes nothing (one line: why)."""


def write_report_or_fail(folder: Path, calibration: Path | None = None) -> Path:
    """:func:`write_report`, with its failures as one :class:`ReportError` line.

    Raises:
        ReportError: the report could not be written (a full disk, a bad calibration
            file...); the caller then publishes nothing, so report.html never describes
            another run than the CSV files beside it.
    """
    try:
        out = write_report(folder, calibration)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise ReportError(
            f"report.html not written ({where}{exc.strerror or exc}); nothing published"
        ) from exc
    except ValueError as exc:
        raise ReportError(f"report.html not written ({exc}); nothing published") from exc
    return Path(out)
