"""``carechart simulate`` and ``carechart compare``: cohort runs from the command line.

``simulate`` runs a cohort (shared/spec/cohort-and-outputs.md) and writes ``patients.csv``,
``events.csv``, ``summary.json`` and (when the report module is present) ``report.html``,
all or nothing. ``compare`` runs the same patients, with the same random numbers, under
several policies and prints the differences in outcomes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pathway.diagram import write_atomic

from ..model.parameters import ParameterSet, load_parameters
from ..model.policies import STRATEGIES, parse_policy_list
from ..results.calibration.result import load_result
from ..results.columnar import FORMATS, block_files
from ..results.compare import (
    WRITERS,
    Comparison,
    PatientOutcomes,
    check_compare_out,
    compare_table,
    paired_differences,
)
from ..results.guideline_outputs import write_guideline_outputs
from ..results.outcomes import YEAR
from ..results.outputs import (
    ChunkResult,
    CohortResult,
    OutputWriter,
    summary_json,
)
from ..results.report import write_report_or_fail
from ..run.cohort import (
    BLOCK_PATIENTS,
    DEFAULT_SEED,
    ENGINES,
    LOCKSTEP_BLOCK_PATIENTS,
    Cohort,
    CohortError,
    apply_overrides,
    check_run_options,
    choose_workers,
    load_cohort,
    run_cohort,
)
from ..run.guideline_cohort import run_guideline_cohort
from ..run.output_folder import add_force_option, check_output_folder
from ..run.progress import StderrProgress
from .options import UsageError, add_guideline_option, add_subcommand, guideline_of

__all__ = ["add_command", "format_summary", "simulate_to"]

DEFAULT_OUT = "carechart-output"
#: A calibration result kept in the output folder goes into its report.
CALIBRATION_FILE = "calibration.json"
#: Runs with at least this many patient-years show progress on stderr.
_PROGRESS_MIN_PATIENT_YEARS = 2000
_DISCLAIMER = "research and education only; not for treating patients"


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cohort", metavar="FILE", help="cohort file (YAML); default: built-in")
    p.add_argument(
        "--patients", type=int, metavar="N", help="number of patients (default: the cohort's)"
    )
    p.add_argument(
        "--years",
        type=float,
        metavar="Y",
        help="follow-up horizon in years (default: the cohort's)",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="S", help="random seed")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="sets",
        help="override a cohort field (cohort.presentation.acute_severe=1.0) or a model "
        "parameter (relapse.withdrawal_1y=0.5) by its dotted name; repeatable",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="W",
        help="worker processes (default: CPUs, at most 8); outputs do not depend on it",
    )
    p.add_argument(
        "--engine",
        choices=sorted([*ENGINES, "vector"]),
        default="compiled",
        help="chart engine: compiled (default, fast), reference (python-statemachine) or "
        "vector (experimental: blocks of patients as columns, in lockstep; slower than "
        "compiled until the patient model is columnar too); all give identical outputs",
    )
    p.add_argument(
        "--dask",
        metavar="local|ADDRESS",
        default=None,
        help="run patient chunks on Dask: 'local' starts a LocalCluster with --workers "
        "workers, an address uses that scheduler; outputs are identical to a local run "
        "(needs the dask extra) (default: no Dask, local processes)",
    )


def add_command(sub: Any) -> None:
    """Register ``carechart simulate`` and ``carechart compare``."""
    policies = ", ".join(f"{s.name} ({s.description})" for s in STRATEGIES.values())
    sim = add_subcommand(
        sub,
        "simulate",
        _simulate_command,
        help="simulate a cohort and write patients.csv, events.csv, summary.json, report",
        description="Simulate a cohort of virtual patients through the AIH pathway and write "
        "patients.csv, events.csv, summary.json and report.html to --out (all or nothing). "
        f"For {_DISCLAIMER}.",
    )
    _common_options(sim)
    sim.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="output folder")
    add_force_option(sim)
    sim.add_argument(
        "--policy", default="guideline", metavar="NAME", help=f"clinician policy: {policies}"
    )
    sim.add_argument(
        "--calibration",
        type=Path,
        default=None,
        metavar="FILE",
        help="a carechart calibrate --out file whose table goes into report.html "
        "(default: --out/calibration.json when present)",
    )
    sim.add_argument(
        "--compress",
        action="store_true",
        help="write patients.csv and events.csv gzip-compressed (.csv.gz, about 9x "
        "smaller); carechart reads either form",
    )
    sim.add_argument(
        "--format",
        choices=FORMATS,
        default="csv",
        dest="output_format",
        help="csv (default, the contract) or parquet: patients.parquet and events.parquet "
        "(typed columns, zstd-compressed; needs pyarrow: pip install 'carechart[arrow]') "
        "instead of the CSV files, with the same rows and values",
    )
    sim.add_argument(
        "--block-size",
        type=int,
        default=None,
        metavar="N",
        dest="block",
        help="patients per block, the unit of work of a worker and of writing (default: "
        f"at most {BLOCK_PATIENTS}, {LOCKSTEP_BLOCK_PATIENTS} with --engine vector, fewer for "
        "small cohorts); outputs do not depend on it",
    )
    add_guideline_option(sim)
    cmp = add_subcommand(
        sub,
        "compare",
        _compare_command,
        help="compare policies on the same patients (common random numbers)",
        description="Run the same virtual patients, with the same random numbers, under "
        "several policies and print each outcome's difference from the first policy with "
        "its 95% interval (a paired bootstrap over patients). "
        f"Policies: {policies}.",
    )
    _common_options(cmp)
    cmp.add_argument(
        "--policies",
        required=True,
        metavar="A,B,...",
        help="comma-separated policy names; the first is the reference (required)",
    )
    cmp.add_argument(
        "--out",
        metavar="FILE",
        help="also save the figures and intervals, as JSON (FILE.json) or CSV (FILE.csv), "
        "written whole or not at all (default: not saved)",
    )


def _prepare(args: argparse.Namespace) -> tuple[Cohort, ParameterSet, Any, int]:
    check_run_options(args.patients, args.years, args.seed)
    cohort = load_cohort(args.cohort)
    sets = list(args.sets)
    if args.patients is not None:
        sets.append(f"cohort.patients={args.patients}")
    if args.years is not None:
        sets.append(f"cohort.years={args.years}")
    cohort, params, thresholds = apply_overrides(cohort, load_parameters(), sets)
    return cohort, params, thresholds, choose_workers(args.workers)


def _progress(cohort: Cohort) -> Any:
    return (
        StderrProgress() if cohort.patients * cohort.years >= _PROGRESS_MIN_PATIENT_YEARS else None
    )


def simulate_to(
    out: Path,
    cohort: Cohort,
    params: ParameterSet,
    thresholds: Any,
    *,
    seed: int,
    policy: str,
    workers: int,
    sets: Sequence[str] = (),
    engine: str = "compiled",
    dask: Any = None,
    progress: Any = None,
    calibration: Path | None = None,
    compress: bool = False,
    force: bool = False,
    command: str = "simulate",
    output_format: str = "csv",
    block: int | None = None,
) -> tuple[str, bool]:
    """Simulate and write every output to ``out`` (all or nothing).

    With ``compress``, the CSV files are written gzip-compressed (``patients.csv.gz``,
    ``events.csv.gz``); with ``output_format="parquet"``, as ``patients.parquet`` and
    ``events.parquet`` (:mod:`simulation.results.columnar`, needs pyarrow). ``block`` is
    the patients per block (:func:`~simulation.run.cohort.block_size`); ``dask`` as for
    :func:`~simulation.run.cohort.run_cohort`. No output depends on ``block``,
    ``workers`` or ``dask``. ``out`` is replaced as a whole; a folder carechart did not write is
    refused unless ``force`` (:class:`~simulation.run.output_folder.StagedFolder`); its
    marker names ``command`` (``carechart demo`` writes through here too). A
    ``calibration.json`` kept in ``out`` from an earlier ``carechart calibrate`` goes into
    the report and into the new folder.

    Raises:
        OutputPathError: ``out`` cannot or must not be written (checked before the run).
        ColumnarError: Parquet was asked for and pyarrow is missing (before the run).
        CohortError: the calibration file is not a calibration result (before the run).
        ReportError: report.html could not be written (nothing is published).

    Returns:
        The terminal summary, and whether the run kept every hard invariant (always true
        for policies other than the guideline's, whose deviations are recorded).
    """
    started = time.perf_counter()
    kept = out / CALIBRATION_FILE
    if calibration is None and kept.is_file():
        calibration = kept  # from an earlier carechart calibrate: checked, then carried over
    if calibration is not None:
        check_calibration(calibration)
    with OutputWriter(out, force=force, command=command) as writer:
        # Rows and events are written as their blocks arrive (in patient order); the
        # result keeps only the running totals behind the summary.
        with block_files(writer, output_format, compress=compress) as stream:
            result = run_cohort(
                cohort,
                parameters=params,
                thresholds=thresholds,
                seed=seed,
                policy=policy,
                workers=workers,
                progress=progress,
                on_chunk=stream,
                keep_patients=False,
                engine=engine,
                dask=dask,
                block=block,
            )
        summary = result.summary(list(sets))
        writer.write_text("summary.json", summary_json(summary))
        if calibration == kept:
            shutil.copy2(kept, writer.path(CALIBRATION_FILE))
        write_report_or_fail(writer.staging, calibration)
        published = writer.publish()
    elapsed = time.perf_counter() - started
    text = format_summary(result, summary, out, published, elapsed, workers)
    return text, summary["invariant_violations"] == 0 or policy != "guideline"


#: A guideline other than AIH has no cohort file: its small cohort's defaults [MODEL].
GUIDELINE_PATIENTS = 100
GUIDELINE_YEARS = 5.0


def _simulate_guideline(args: argparse.Namespace) -> int:
    """``simulate --guideline NAME`` for a guideline other than AIH: a small cohort of its
    patient model, written as events.csv, patients.csv and summary.json."""
    guideline = guideline_of(args)
    unused = [
        option
        for option, given in (
            ("--cohort", args.cohort is not None),
            ("--set", bool(args.sets)),
            ("--policy", args.policy != "guideline"),
            ("--calibration", args.calibration is not None),
            ("--dask", args.dask is not None),
            ("--compress", args.compress),
            ("--format", args.output_format != "csv"),
            ("--block-size", args.block is not None),
        )
        if given
    ]
    if unused:
        raise UsageError(
            f"{', '.join(unused)}: AIH runs only; --guideline {guideline.name} runs its own "
            "patient model with the guideline policy"
        )
    check_run_options(args.patients, args.years, args.seed)
    patients = args.patients if args.patients is not None else GUIDELINE_PATIENTS
    years = args.years if args.years is not None else GUIDELINE_YEARS
    out = Path(args.out)
    check_output_folder("--out", args.out, force=args.force)
    try:
        charts = run_guideline_cohort(
            guideline, patients, seed=args.seed, years=years, engine=args.engine
        )
    except ValueError as exc:
        raise UsageError(f"--guideline {guideline.name}: {exc}") from None
    settings = {
        "guideline": guideline.name,
        "patients": patients,
        "years": years,
        "seed": args.seed,
        "engine": args.engine,
        "policy": "guideline",
    }
    summary, published = write_guideline_outputs(
        out, charts, settings, horizon_days=years * YEAR, force=args.force
    )
    counts = summary["counts"]
    sys.stdout.write(
        f"carechart simulate: {patients:,} patients x {years:g} years, guideline "
        f"{guideline.name}, seed {args.seed} ({_DISCLAIMER})\n"
        f"  deaths {counts['deaths']}, invariant violations {counts['invariant_violations']}\n"
        f"  final care states: {summary['final_care_states']}\n"
        f"  wrote {', '.join(p.name for p in published)} to {out}\n"
    )
    return 0 if counts["invariant_violations"] == 0 else 1


def _simulate_command(args: argparse.Namespace) -> int:
    if args.guideline != "aih":
        return _simulate_guideline(args)
    if args.policy not in STRATEGIES:
        raise CohortError(f"--policy: found {args.policy!r}, expected one of {list(STRATEGIES)}")
    if args.block is not None and args.block < 1:
        raise UsageError(f"--block-size: found {args.block}, expected a whole number >= 1")
    if args.compress and args.output_format != "csv":
        raise UsageError(
            f"--compress: applies to CSV files; --format {args.output_format} files are "
            "compressed already"
        )
    cohort, params, thresholds, workers = _prepare(args)
    text, ok = simulate_to(
        Path(args.out),
        cohort,
        params,
        thresholds,
        seed=args.seed,
        policy=args.policy,
        workers=workers,
        sets=args.sets,
        engine=args.engine,
        dask=args.dask,
        progress=_progress(cohort),
        calibration=args.calibration,
        compress=args.compress,
        force=args.force,
        output_format=args.output_format,
        block=args.block,
    )
    sys.stdout.write(text)
    return 0 if ok else 1


def check_calibration(path: Path) -> None:
    """Check, before a run, that ``path`` is a calibration result for the report.

    Raises:
        CohortError: naming ``--calibration``, the file and what is wrong with it.
    """
    if not path.is_file():
        raise CohortError(f"--calibration: found {str(path)!r}, expected a file")
    try:  # a bad file would otherwise fail the report after the whole run
        load_result(path)
    except ValueError as exc:
        raise CohortError(f"--calibration: {exc}") from None


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def format_summary(
    result: CohortResult,
    summary: dict[str, Any] | None = None,
    out: Path | None = None,
    published: Sequence[Path] = (),
    elapsed: float | None = None,
    workers: int = 1,
) -> str:
    """The terminal summary of a cohort run (also usable without an output folder).

    Args:
        result: the run (:func:`simulation.run.cohort.run_cohort`).
        summary: its summary (default: ``result.summary()``).
        out: the output folder, when files were written, and ``published`` its files.
        elapsed: wall-clock seconds of the run, when known, with the ``workers`` used.
    """
    summary = summary if summary is not None else result.summary()
    s, o, c = result.settings, summary["outcomes"], summary["counts"]
    n = c["patients"]
    lines = [
        f"carechart simulate: {n:,} patients x {s.cohort.years:g} years, policy {s.policy}, "
        f"seed {s.seed} ({_DISCLAIMER})",
    ]
    if out is not None:
        lines.append(f"  outputs in {out}/: {', '.join(p.name for p in published)}")
    lines += [
        f"  events: {c['events']:,} ("
        + ", ".join(f"{v:,} {k}" for k, v in c["events_by_kind"].items())
        + ")",
        "  first line: " + ", ".join(f"{k} {v:,}" for k, v in o["first_line"].items()),
        f"  complete response by 6 months (treated): {_pct(o['cbr_by_6_months'])}; "
        f"second line within 1 year: {_pct(o['second_line_within_1y'])}; "
        f"third line: {_pct(o['third_line_ever'])}",
        f"  withdrawal attempted: {o['withdrawals']:,}; relapse within 1/2/3 years of "
        f"withdrawal: {_pct(o['relapse_after_withdrawal_1y'])} / "
        f"{_pct(o['relapse_after_withdrawal_2y'])} / {_pct(o['relapse_after_withdrawal_3y'])}",
        f"  transplanted: {c['transplants']:,}; deaths: {c['deaths']:,}"
        + (
            " (" + ", ".join(f"{k} {v:,}" for k, v in o["death_causes"].items()) + ")"
            if o["death_causes"]
            else ""
        ),
    ]
    if "survival_10y" in o:
        lines.append(
            f"  at 10 years: survival {_pct(o['survival_10y'])}, free of liver death or "
            f"transplant {_pct(o['liver_event_free_10y'])}"
        )
    lines.append(
        f"  invariant violations: {summary['invariant_violations']}; deviations: "
        f"{c['deviations']:,}"
    )
    if elapsed is not None:
        rate = n / elapsed if elapsed > 0 else float("inf")
        lines.append(f"  elapsed {elapsed:.1f} s ({rate:.1f} patients/s, {workers} worker(s))")
    return "\n".join(lines) + "\n"


def _compare_command(args: argparse.Namespace) -> int:
    names = parse_policy_list(args.policies, at_least=2)
    out_path = check_compare_out(args.out) if args.out else None
    cohort, params, thresholds, workers = _prepare(args)
    values: dict[str, dict[str, Any]] = {}
    per_patient: dict[str, PatientOutcomes] = {}
    for name in names:
        sys.stderr.write(f"carechart compare: running {name} ...\n")
        kept = per_patient[name] = PatientOutcomes(cohort.years * YEAR)

        def keep(chunk: ChunkResult, kept: PatientOutcomes = kept) -> None:
            for patient in chunk.patients:  # a few numbers per patient, not the rows
                kept.add(patient.row)

        result = run_cohort(
            cohort,
            parameters=params,
            thresholds=thresholds,
            seed=args.seed,
            policy=name,
            workers=workers,
            progress=_progress(cohort),
            on_chunk=keep,
            keep_patients=False,
            engine=args.engine,
            dask=args.dask,
        )
        summary = result.summary(args.sets)
        values[name] = {**summary["outcomes"], "_violations": summary["invariant_violations"]}
    ref = per_patient[names[0]]
    comparison = Comparison(
        {"patients": cohort.patients, "years": cohort.years, "seed": args.seed, "sets": args.sets},
        values,
        {name: paired_differences(ref, per_patient[name], seed=args.seed) for name in names[1:]},
    )
    out = sys.stdout
    out.write(
        f"carechart compare: {cohort.patients:,} patients x {cohort.years:g} years, seed "
        f"{args.seed}\nsame patients and random numbers under each policy; 95% intervals: "
        f"paired bootstrap over patients\n({_DISCLAIMER})\n\n"
    )
    compare_table(comparison, out)
    if out_path is not None:
        write_atomic(out_path, WRITERS[out_path.suffix.lower()](comparison))
        out.write(f"\nwrote {out_path}\n")
    return 0
