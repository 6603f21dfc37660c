"""Built-in demo patients: short clinical stories walked through the pathway.

Each course is printed with the rule ids behind every step, so a reader sees what the
guideline recommended and why. The stories are illustrative, not real patients.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pathway import AIHPathway, PatientRecord, Step

from ..model.parameters import load_parameters
from ..model.scripted import ScriptedPatient, baseline_occurrences
from ..run.cohort import apply_overrides, check_run_options, default_workers, load_cohort
from ..run.engine import Occurrence, run_patient
from ..run.output_folder import add_force_option, check_output_folder
from ..run.progress import StderrProgress
from ..scenarios.scenario_writer import care_states_of
from .options import add_subcommand
from .simulate import simulate_to

__all__ = ["DEMO_PATIENTS", "DemoPatient", "format_course", "run_demo"]


@dataclass(frozen=True)
class DemoPatient:
    """A story: who the patient is, the baseline labs and what happens when."""

    title: str
    patient: dict[str, Any]
    labs: dict[str, float]
    timeline: list[tuple[float, str, Any]] = field(default_factory=list)
    horizon_days: float = 1500.0

    def record(self) -> PatientRecord:
        return PatientRecord(**self.patient)

    def occurrences(self) -> list[Occurrence]:
        return [
            Occurrence(
                day,
                "action" if name == "action" else "finding",
                value if name == "action" else name,
                None if name == "action" else value,
            )
            for day, name, value in self.timeline
        ]


_NORMAL = {"alt_xuln": 0.6, "ast_xuln": 0.7, "igg_xuln": 0.8}
_DEEP = {"alt_xuln": 0.3, "ast_xuln": 0.4, "igg_xuln": 0.6}

DEMO_PATIENTS: tuple[DemoPatient, ...] = (
    DemoPatient(
        "Chronic AIH: combination therapy, complete response, withdrawal and relapse",
        {"patient_id": "demo-1", "age": 34, "sex": "F", "weight_kg": 62, "tpmt": "normal"},
        {"alt_xuln": 8.5, "ast_xuln": 7.0, "igg_xuln": 1.6, "bilirubin_mg_dl": 1.2, "inr": 1.1},
        [
            (28, "labs", {"alt_xuln": 2.1, "ast_xuln": 1.8, "igg_xuln": 1.2}),
            (180, "labs", _NORMAL),
            (540, "labs", _NORMAL),
            (900, "labs", _DEEP),
            (1150, "labs", {"alt_xuln": 4.2, "ast_xuln": 3.1, "igg_xuln": 1.3}),
            (1330, "labs", _NORMAL),
        ],
    ),
    DemoPatient(
        "Cirrhosis at diagnosis, intermediate TPMT, decompensation and transplant",
        {
            "patient_id": "demo-2",
            "age": 58,
            "sex": "M",
            "weight_kg": 80,
            "tpmt": "intermediate",
            "cirrhosis": "compensated",
        },
        {
            "alt_xuln": 6.0,
            "ast_xuln": 5.5,
            "igg_xuln": 1.9,
            "bilirubin_mg_dl": 1.8,
            "inr": 1.2,
            "meld": 11,
        },
        [
            (28, "labs", {"alt_xuln": 2.5, "ast_xuln": 2.2, "igg_xuln": 1.4}),
            (150, "decompensation", None),
            (151, "labs", {"meld": 17, "bilirubin_mg_dl": 3.2}),
            (400, "transplanted", None),
            (800, "labs", {"alt_xuln": 4.5, "ast_xuln": 3.8, "igg_xuln": 1.5}),
        ],
        horizon_days=900,
    ),
    DemoPatient(
        "Acute severe AIH not improving at day 7",
        {
            "patient_id": "demo-3",
            "age": 45,
            "sex": "F",
            "weight_kg": 70,
            "tpmt": "normal",
            "presentation": "acute_severe",
        },
        {
            "alt_xuln": 25,
            "ast_xuln": 20,
            "igg_xuln": 2.1,
            "bilirubin_mg_dl": 9.0,
            "inr": 1.8,
            "meld": 24,
        },
        [(7, "labs", {"bilirubin_mg_dl": 11.0, "inr": 2.0, "meld": 27})],
        horizon_days=60,
    ),
    DemoPatient(
        "Autoimmune acute liver failure: referral first",
        {
            "patient_id": "demo-4",
            "age": 29,
            "sex": "F",
            "weight_kg": 58,
            "tpmt": "normal",
            "presentation": "acute_liver_failure",
        },
        {"alt_xuln": 40, "ast_xuln": 35, "bilirubin_mg_dl": 14.0, "inr": 2.6, "meld": 33},
        [(3, "transplanted", None), (90, "labs", _NORMAL)],
        horizon_days=120,
    ),
    DemoPatient(
        "Non-response at week 4, tacrolimus second line, then third line",
        {"patient_id": "demo-5", "age": 41, "sex": "M", "weight_kg": 85, "tpmt": "normal"},
        {"alt_xuln": 9.0, "ast_xuln": 7.5, "igg_xuln": 2.0, "bilirubin_mg_dl": 1.5, "inr": 1.1},
        [(28, "labs", {"alt_xuln": 6.0, "ast_xuln": 5.0, "igg_xuln": 1.9})],
        horizon_days=400,
    ),
    DemoPatient(
        "TPMT deficient: mycophenolate first line, then a planned pregnancy",
        {"patient_id": "demo-6", "age": 27, "sex": "F", "weight_kg": 60, "tpmt": "deficient"},
        {"alt_xuln": 5.0, "ast_xuln": 4.2, "igg_xuln": 1.5, "bilirubin_mg_dl": 0.9, "inr": 1.0},
        [
            (28, "labs", {"alt_xuln": 1.5, "ast_xuln": 1.3, "igg_xuln": 1.1}),
            (182, "labs", _NORMAL),
            (300, "pregnancy_planned", None),
        ],
        horizon_days=400,
    ),
)


def run_story(story: DemoPatient) -> AIHPathway:
    """Walk one story through the pathway under the guideline policy."""
    record = story.record()
    model = ScriptedPatient(baseline_occurrences(record, story.labs), story.occurrences())
    return run_patient(AIHPathway(record), model, horizon_days=story.horizon_days)


def _interesting(step: Step) -> bool:
    return step.kind != "timer" or any(t.source != t.target for t in step.transits)


def format_course(chart: AIHPathway, title: str = "") -> str:
    """A readable course: one line per finding, action and state-changing time point."""
    p = chart.patient
    lines = [
        f"{title or p.patient_id}",
        f"  {p.patient_id}: {p.age:g} y {p.sex}, {p.weight_kg:g} kg, "
        f"cirrhosis {p.cirrhosis_at_diagnosis}, {p.presentation} presentation, TPMT {p.tpmt}",
    ]
    for step in chart.trace:
        if not _interesting(step):
            continue
        moves = ", ".join(
            f"{t.source} -> {t.target}" for t in step.transits if t.source != t.target
        )
        what = step.name + (f" ({step.detail})" if step.detail else "")
        flag = "  DEVIATION" if step.deviation else ""
        rules = ", ".join(step.rule_ids)
        lines.append(f"  day {step.day:6g}  {what:<44} {moves}{flag}")
        if rules and (step.kind == "action" or moves):
            lines.append(f"  {'':10}  rules: {rules}")
    drugs = ", ".join(f"{d} {v:g} mg/day" if v is not None else d for d, v in p.drugs.items())
    care = care_states_of(chart.active)
    lines.append(
        f"  now: {', '.join(sorted(care)) or 'none'}; drugs: {drugs or 'none'}; "
        f"response: {p.response}"
    )
    return "\n".join(lines)


def run_demo(
    out: TextIO,
    stories: tuple[DemoPatient, ...] = DEMO_PATIENTS,
    run: Callable[[DemoPatient], AIHPathway] = run_story,
) -> int:
    """Print every demo course to ``out``; return the number of invariant violations."""
    violations = 0
    for story in stories:
        chart = run(story)
        violations += len(chart.violations)
        out.write(format_course(chart, story.title) + "\n\n")
    return violations


#: The stories ``carechart demo`` prints before simulating the cohort.
SHOWN_STORIES = ("demo-1", "demo-3")
DEMO_OUT = "carechart-demo"


def add_command(sub: Any) -> None:
    """Register ``carechart demo``."""
    p = add_subcommand(
        sub,
        "demo",
        _demo_command,
        help="show two courses, then simulate the default cohort and write the report",
        description="Print two built-in patients' courses with the rule ids behind every step, "
        "then simulate the default cohort (1,000 patients x 10 years) and write patients.csv, "
        "events.csv, summary.json and report.html to --out.",
    )
    p.add_argument("--out", default=DEMO_OUT, metavar="DIR", help="output folder")
    add_force_option(p)
    p.add_argument(
        "--patients",
        type=int,
        default=None,
        metavar="N",
        help="cohort size (default: the default cohort's, 1,000)",
    )
    p.add_argument(
        "--courses-only", action="store_true", help="print the built-in courses only, no cohort"
    )


def _demo_command(args: Any) -> int:
    check_run_options(args.patients, None, 0)
    if not args.courses_only:  # before any work: not after the courses were shown
        check_output_folder("--out", args.out, force=args.force)
    out = sys.stdout
    out.write(
        "carechart demo: the AIH pathway on virtual patients "
        "(research and education only; not for treating patients)\n\n"
    )
    stories = (
        DEMO_PATIENTS
        if args.courses_only
        else tuple(s for s in DEMO_PATIENTS if s.patient["patient_id"] in SHOWN_STORIES)
    )
    violations = run_demo(out, stories)
    out.write(f"{len(stories)} courses, {violations} invariant violations\n")
    if args.courses_only or violations:
        return 0 if violations == 0 else 1
    cohort, params, thresholds = apply_overrides(load_cohort(), load_parameters(), [])
    if args.patients is not None:
        cohort, *_ = apply_overrides(cohort, params, [f"cohort.patients={args.patients}"])
    out.write("\n")
    out.flush()  # the courses before the progress lines, when both go to one terminal
    sys.stderr.write(
        f"carechart demo: simulating the default cohort ({cohort.patients:,} patients)\n"
    )
    text, ok = simulate_to(
        Path(args.out),
        cohort,
        params,
        thresholds,
        seed=20250101,
        policy="guideline",
        workers=default_workers(),
        progress=StderrProgress(),
        force=args.force,
        command="demo",
    )
    out.write(text)
    out.write(f"Open {Path(args.out) / 'report.html'} in a browser to read the report.\n")
    return 0 if ok else 1
