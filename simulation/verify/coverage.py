"""Coverage of the pathway by a scenario suite and/or a simulated cohort.

``carechart coverage [SCENARIO_DIR ...] [--cohort N --seed S] [--json FILE] [--html FILE]
[--fail-under PCT]`` runs every scenario (and optionally a cohort) on an instrumented chart
(:mod:`simulation.verify.instrument`) and reports four kinds of coverage:

- **states**: every state of the chart, at every depth, entered by some course;
- **transitions**: every transition taken by some course (with the number of courses,
  the patient flow shown on the diagram);
- **recommendation rules**: every rule of kind ``recommendation`` cited by a
  recommendation offered to some patient after some step;
- **guard outcomes**: every guard of every guarded transition seen answering both true
  and false (a guard only ever seen true is never tested as a decision).

Uncovered items are listed with their rule ids, so an author knows which story to write (or
runs ``carechart generate``). The exit status is 1 when ``--fail-under`` is given and the
overall coverage (all items of the four kinds together) is below it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pathway import AnyPathway
from pathway.bundle import Guideline
from pathway.guidelines import DEFAULT, get
from pathway.structure import ChartModel

from ..model.scripted import ScriptedPatient
from ..run import cohort as cohort_module
from ..run.engine import run_patient
from ..run.guideline_cohort import run_guideline_cohort
from ..scenarios.scenario import ScenarioError, find_scenario_files, load_scenario
from .instrument import Exposure, instrument, probe_of

__all__ = [
    "CoverageReport",
    "collect_cohort",
    "collect_scenarios",
    "guard_items",
    "print_summary",
    "scenario_paths_problem",
]

KINDS = ("states", "transitions", "rules", "guards")
#: Follow-up of a coverage cohort of a guideline other than AIH, in years [MODEL].
GUIDELINE_COHORT_YEARS = 5.0
_TITLES = {
    "states": "States",
    "transitions": "Transitions",
    "rules": "Recommendation rules",
    "guards": "Guard outcomes",
}


def guard_items(model: ChartModel, guideline: Guideline | None = None) -> list[tuple[Any, ...]]:
    """Every guard outcome a full suite should see.

    Routing guards (facts such as ``relapse_labs``): ``(transition index, guard name,
    outcome)`` for each guarded transition. Permission guards (``may_<action>``) are the
    guideline's rule checks: through the runtime they only see actions the check allowed
    or that are recorded as deviations, so they always answer true on the transition; their
    real decision is the check itself, counted as ``(action, allowed)`` each time the
    recommendations are worked out (offered, or possible in the state but refused).
    """
    routing = [
        (t.index, name, outcome)
        for t in model.transitions
        for name in dict.fromkeys(t.guard_names)
        if not name.startswith("may_")
        for outcome in (True, False)
    ]
    actions = (guideline or get()).actions
    permission = [(a, ok) for a in actions for ok in (True, False)]
    return [*routing, *permission]


@dataclass
class CoverageReport:
    """What a set of courses covered of one chart.

    Attributes:
        model: the chart's structure.
        courses: number of courses (scenarios and simulated patients) counted.
        sources: where the courses came from (scenario files, ``cohort N seed S``).
        states: courses that entered each state (by id).
        transitions: courses that took each transition (by index): the patient flow.
        guards: times each guard answered each way: ``(index, name, outcome)`` for routing
            guards, ``(action, allowed)`` for the rule checks (see :func:`guard_items`).
        rules: courses offered a recommendation citing each rule id.
        failed: courses that stopped with an error: ``(source, message)``.
        seconds: wall-clock time of the runs.
        guideline: the guideline whose chart ``model`` is (its actions and catalogue).
    """

    model: ChartModel
    courses: int = 0
    sources: list[str] = field(default_factory=list)
    states: Counter[str] = field(default_factory=Counter)
    transitions: Counter[int] = field(default_factory=Counter)
    guards: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    guideline: Guideline = field(default_factory=get)

    # --- adding courses ---------------------------------------------------------------------

    def add(self, exposure: Exposure, states: Iterable[str]) -> None:
        """Count one course: what it exercised and the states it entered."""
        self.courses += 1
        self.states.update(set(states))
        self.transitions.update(set(exposure.transitions))
        self.guards.update(exposure.guards)
        self.guards.update(exposure.permissions)
        self.rules.update(set(exposure.rules))

    def add_chart(self, chart: Any) -> None:
        """Count one finished course of an instrumented chart."""
        states = set(chart.active)
        for step in chart.trace:
            states.update(step.configuration)
        self.add(probe_of(chart), states)

    # --- measures ---------------------------------------------------------------------------

    def universe(self) -> dict[str, list[Any]]:
        """Every item of each kind."""
        return {
            "states": sorted(self.model.states, key=lambda s: self.model.states[s].order),
            "transitions": [t.index for t in self.model.transitions],
            "rules": [r.id for r in self.guideline.rules.values() if r.kind == "recommendation"],
            "guards": guard_items(self.model, self.guideline),
        }

    def covered(self) -> dict[str, list[Any]]:
        """The covered items of each kind."""
        u = self.universe()
        return {
            "states": [s for s in u["states"] if self.states[s]],
            "transitions": [i for i in u["transitions"] if self.transitions[i]],
            "rules": [r for r in u["rules"] if self.rules[r]],
            "guards": [g for g in u["guards"] if self.guards[g]],
        }

    def uncovered(self) -> dict[str, list[Any]]:
        """The items of each kind no course covered."""
        u, c = self.universe(), self.covered()
        return {k: [x for x in u[k] if x not in set(c[k])] for k in KINDS}

    def failure_message(self) -> str:
        """The first failed file in one line (``FILE:LINE:COL: ...``), with how many more;
        empty when none failed."""
        if not self.failed:
            return ""
        source, error = self.failed[0]
        text = error if error.startswith(source) else f"{source}: {error}"
        more = len(self.failed) - 1
        return text + (f" (and {more} more failed file(s))" if more else "")

    def percent(self, kind: str | None = None) -> float:
        """Coverage in percent of one kind, or of all items together (``None``)."""
        u, c = self.universe(), self.covered()
        kinds = KINDS if kind is None else (kind,)
        total = sum(len(u[k]) for k in kinds)
        return 100.0 * sum(len(c[k]) for k in kinds) / total if total else 100.0

    def describe(self, kind: str, item: Any) -> tuple[str, tuple[str, ...]]:
        """An uncovered item in words, with its rule ids."""
        m = self.model
        if kind == "states":
            path = " > ".join([*reversed(m.ancestors(item)), item])
            rules = tuple(
                dict.fromkeys(r for t in m.transitions if t.target == item for r in t.rule_ids)
            )
            return path, rules
        if kind == "transitions":
            t = m.transitions[item]
            return t.label, t.rule_ids
        if kind == "rules":
            return f"{item}: {self.guideline.rules[item].summary}", (item,)
        if len(item) == 2:
            action, allowed = item
            word = "offered" if allowed else "refused while possible"
            return f"rule check of {action!r} never {word}", ()
        index, name, outcome = item
        t = m.transitions[index]
        return f"{name} never {'true' if outcome else 'false'} on {t.label}", t.rule_ids

    def flows(self) -> dict[tuple[str, str, str], int]:
        """Courses per ``(source, event, target)`` (target ``""`` when targetless)."""
        out: dict[tuple[str, str, str], int] = {}
        for t in self.model.transitions:
            out[(t.source, t.event, t.target or "")] = self.transitions[t.index]
        return out

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (stable order)."""
        m = self.model
        unc = self.uncovered()
        return {
            "chart": m.name,
            "courses": self.courses,
            "sources": self.sources,
            "failed": [{"source": s, "error": e} for s, e in self.failed],
            "percent": round(self.percent(), 2),
            "kinds": {
                k: {
                    "covered": len(self.covered()[k]),
                    "total": len(self.universe()[k]),
                    "percent": round(self.percent(k), 2),
                }
                for k in KINDS
            },
            "states": {s: self.states[s] for s in self.universe()["states"]},
            "transitions": [
                {
                    "event": t.event,
                    "source": t.source,
                    "target": t.target,
                    "guards": [str(g) for g in t.guards],
                    "rule_ids": list(t.rule_ids),
                    "courses": self.transitions[t.index],
                }
                for t in m.transitions
            ],
            "guards": [
                {
                    "transition": m.transitions[item[0]].label,
                    "guard": item[1],
                    "true": self.guards[(item[0], item[1], True)],
                    "false": self.guards[(item[0], item[1], False)],
                }
                for item in guard_items(m, self.guideline)
                if len(item) == 3 and item[2]
            ],
            "permissions": [
                {
                    "action": item[0],
                    "offered": self.guards[(item[0], True)],
                    "refused": self.guards[(item[0], False)],
                }
                for item in guard_items(m, self.guideline)
                if len(item) == 2 and item[1]
            ],
            "rules": {r: self.rules[r] for r in self.universe()["rules"]},
            "uncovered": {
                k: [
                    {"item": self.describe(k, x)[0], "rule_ids": list(self.describe(k, x)[1])}
                    for x in unc[k]
                ]
                for k in KINDS
            },
            "seconds": round(self.seconds, 3),
        }


# --- collecting ---------------------------------------------------------------------------


def scenario_paths_problem(paths: Sequence[str]) -> str:
    """Why ``paths`` cannot be a scenario suite (a path missing, a folder without
    ``*.yaml`` files), in one line; empty when they can."""
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        return f"no such file or folder: {', '.join(missing)}"
    empty = [p for p in paths if not find_scenario_files([p])]
    if empty:
        return f"{empty[0]}: found no scenario files (*.yaml) in this folder"
    return ""


def collect_scenarios(
    paths: Sequence[str],
    chart_class: type[Any] | None = None,
    report: CoverageReport | None = None,
) -> CoverageReport:
    """Run every scenario under ``paths`` on an instrumented chart and count its coverage.

    Scenarios are run through the engine exactly as ``carechart replay`` runs them (the
    expectations are not checked here: a failing story still exercises the chart). A file
    that is invalid, runs another guideline than the report's, or whose course stops with
    an error is listed in ``failed``. ``chart_class`` defaults to the report's guideline's.
    """
    guideline = report.guideline if report is not None else get()
    chart_class = chart_class or guideline.chart
    report = report or CoverageReport(ChartModel.of(chart_class), guideline=guideline)
    started = time.perf_counter()
    inst = instrument(chart_class)
    for file in find_scenario_files(paths):
        try:
            scenario = load_scenario(file)
        except ScenarioError as exc:
            report.failed.append((file, str(exc)))
            continue
        if scenario.guideline != guideline.name:
            why = f"runs guideline {scenario.guideline!r}; this report covers {guideline.name!r}"
            report.failed.append((file, why))
            continue
        record = scenario.record()
        chart = inst(record)
        model = ScriptedPatient(scenario.baseline(record), scenario.occurrences())
        try:
            run_patient(chart, model, horizon_days=scenario.horizon_days)
        except Exception as exc:
            report.failed.append((file, f"{type(exc).__name__}: {exc}"))
        report.add_chart(chart)
        report.sources.append(file)
    report.seconds += time.perf_counter() - started
    return report


def collect_cohort(
    patients: int,
    seed: int,
    chart_class: type[AnyPathway] | None = None,
    report: CoverageReport | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CoverageReport:
    """Simulate a cohort (``carechart simulate``'s model and guideline policy) and count it.

    The cohort runs in this process with the instrumented chart class in place of the
    engine's chart. ``progress`` is called with ``(patients done, patients)``.
    """
    guideline = report.guideline if report is not None else get()
    chart_class = chart_class or guideline.chart
    report = report or CoverageReport(ChartModel.of(chart_class), guideline=guideline)
    started = time.perf_counter()
    inst = instrument(chart_class)
    if guideline.name != DEFAULT:  # a guideline with a patient model of its own
        charts = run_guideline_cohort(
            guideline, patients, seed=seed, years=GUIDELINE_COHORT_YEARS, chart_class=inst
        )
        for chart in charts:
            report.add_chart(chart)
        if progress is not None:
            progress(patients, patients)
    else:
        result = cohort_module.run_cohort(
            patients=patients, seed=seed, keep_charts=True, chart_class=inst, progress=progress
        )
        for patient in result.patients:
            found = getattr(patient, "chart", None)
            if found is not None:
                report.add_chart(found)
    report.sources.append(f"cohort of {patients} patients, seed {seed}")
    report.seconds += time.perf_counter() - started
    return report


# --- output ---------------------------------------------------------------------------------


def print_summary(report: CoverageReport, out: TextIO, *, limit: int = 0) -> None:
    """The terminal summary: one line per kind, then the uncovered items with rule ids.

    ``limit`` caps the uncovered items listed per kind (0: all).
    """
    out.write(f"Coverage of {report.model.name} by {report.courses} courses\n")
    for source in report.sources[:3]:
        out.write(f"  from {source}\n")
    if len(report.sources) > 3:
        out.write(f"  ... and {len(report.sources) - 3} more\n")
    cov, uni = report.covered(), report.universe()
    for k in KINDS:
        out.write(
            f"  {_TITLES[k]:<22} {len(cov[k]):>4}/{len(uni[k]):<4} {report.percent(k):6.1f}%\n"
        )
    out.write(f"  {'Overall':<22} {'':>9} {report.percent():6.1f}%\n")
    for source, error in report.failed:
        out.write(f"  FAILED {source}: {error}\n")
    unc = report.uncovered()
    for k in KINDS:
        if not unc[k]:
            continue
        out.write(f"\nUncovered {_TITLES[k].lower()} ({len(unc[k])}):\n")
        shown = unc[k] if not limit else unc[k][:limit]
        for item in shown:
            text, rules = report.describe(k, item)
            out.write(f"  - {text}" + (f"  [{', '.join(rules)}]" if rules else "") + "\n")
        if len(shown) < len(unc[k]):
            out.write(f"  ... {len(unc[k]) - len(shown)} more (see --json)\n")
