"""Scenario replay: run scenario files against the pathway and check their expectations.

``carechart replay FILE|DIR ... [--junit FILE] [--verbose]`` loads each scenario
(:mod:`simulation.scenarios.scenario`), plays it through the one SimPy engine
(:func:`simulation.run.engine.patient_journey`) with the guideline policy as the clinician
(scripted actions are taken as the scenario says and recorded as deviations when the
guideline does not recommend them) and checks each expectation after everything due on its
day has happened: the SimPy environment is run up to just past that day, the expectation is
evaluated, and the run resumes.

Every hard safety invariant is checked after every step. A hard invariant broken without a
deviation stops the course (a modelling bug, reported as a failure); a scenario that exists
to show a deviation being caught lists the invariants in ``violates``, and replay confirms
that exactly those hard invariants (and no others) were recorded.

Exit status: 0 when every scenario passes, 1 when some fail, 2 when a file is invalid (the
other files are still replayed and reported).
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import simpy

from pathway import AnyPathway, Step
from pathway.atomic import write_atomic
from pathway.guidelines import get

from ..model.policies import GuidelinePolicy
from ..model.scripted import ScriptedPatient
from ..run.engine import Occurrence, patient_journey
from .scenario import Expectation, Scenario, ScenarioError, find_scenario_files, load_scenario

__all__ = [
    "TRACE_TAIL",
    "Failure",
    "ReplayReport",
    "ReplayResult",
    "format_step",
    "replay_paths",
    "replay_scenario",
    "write_junit",
]

#: How many of the last trace steps a failure report shows.
TRACE_TAIL = 8
#: Run the SimPy clock this far past a check's day, so that everything due that day is done.
_PAST_DAY = 1e-6


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed check of a scenario.

    Attributes:
        line: 1-based line in the scenario file of the failing key (or entry).
        day: the day checked (days from diagnosis), or ``None`` for whole-course checks.
        check: the expectation key (``in_state``, ...), ``violates`` or ``course``.
        expected: what the scenario expected, in words.
        found: what the pathway did, in words.
        trace_tail: the last steps of the trace at that moment, formatted.
    """

    line: int
    day: float | None
    check: str
    expected: str
    found: str
    trace_tail: tuple[str, ...] = ()


@dataclass(slots=True)
class ReplayResult:
    """The outcome of replaying one scenario.

    Attributes:
        scenario: the scenario replayed.
        chart: the pathway after the course (stopped early when ``stopped`` is true).
        failures: failed checks, in file order of evaluation.
        checks: number of checks evaluated.
        recommended_rules: rule ids of the recommendations that ``recommends`` checks
            asserted, as returned at those moments.
        stopped: the course ended early with an error (a modelling bug or an impossible
            finding).
        seconds: wall-clock replay time.
    """

    scenario: Scenario
    chart: AnyPathway
    failures: list[Failure] = field(default_factory=list)
    checks: int = 0
    recommended_rules: set[str] = field(default_factory=set)
    stopped: bool = False
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return not self.failures

    @property
    def states_visited(self) -> set[str]:
        """Care states (vocabulary ids) active at any step of the course."""
        seen: set[str] = set()
        care = frozenset(self.chart.guideline.care_states)
        for step in self.chart.trace:
            seen.update(care.intersection(step.configuration))
        return seen

    @property
    def rules_exercised(self) -> set[str]:
        """Rule ids of every action step of the course, plus :attr:`recommended_rules`."""
        seen = set(self.recommended_rules)
        for step in self.chart.trace:
            if step.kind == "action":
                seen.update(step.rule_ids)
        return seen

    @property
    def violations_confirmed(self) -> set[str]:
        """Invariants listed in ``violates`` that the course recorded (when it passed)."""
        if not self.passed:
            return set()
        recorded = {v.rule_id for v in self.chart.violations}
        return recorded & set(self.scenario.violates)


@dataclass(slots=True)
class ReplayReport:
    """Results for several files: replayed scenarios and invalid files, in input order."""

    items: list[ReplayResult | ScenarioError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def results(self) -> list[ReplayResult]:
        """The scenarios that were replayed."""
        return [i for i in self.items if isinstance(i, ReplayResult)]

    @property
    def errors(self) -> list[ScenarioError]:
        """The files that could not be loaded."""
        return [i for i in self.items if isinstance(i, ScenarioError)]

    @property
    def exit_status(self) -> int:
        """2 when a file is invalid, else 1 when a scenario failed, else 0."""
        if self.errors:
            return 2
        return 1 if any(not r.passed for r in self.results) else 0


# --- replay ----------------------------------------------------------------------------------


def replay_scenario(scenario: Scenario, chart_class: type[Any] | None = None) -> ReplayResult:
    """Replay one scenario and check its expectations and declared violations.

    Args:
        scenario: a validated scenario (:func:`simulation.scenarios.scenario.load_scenario`).
        chart_class: the chart to run it on (default: its guideline's; a variant of that
            chart, for instance, bound to a copy of the guideline).

    Returns:
        The result; ``result.passed`` tells whether every check held.
    """
    started = time.perf_counter()
    record = scenario.record()
    chart: AnyPathway = (chart_class or get(scenario.guideline).chart)(record)
    result = ReplayResult(scenario, chart)
    model = ScriptedPatient(scenario.baseline(record), scenario.occurrences())
    env = simpy.Environment()
    journey = env.process(
        patient_journey(env, chart, model, GuidelinePolicy(), scenario.horizon_days)
    )

    def advance(until: float | None) -> bool:
        try:
            if until is None:
                env.run()
            elif until > env.now:
                env.run(until=until)
        except Exception as raised:  # any error ends the course; the report shows it
            # SimPy re-raises a copy built as type(e)(*e.args); for errors that cannot be
            # rebuilt that way (TransitionNotAllowed) the copy is a TypeError, so report the
            # process's own exception instead.
            error: Exception = raised
            if journey.triggered and not journey.ok and isinstance(journey.value, Exception):
                error = journey.value
            result.stopped = True
            result.failures.append(_stopped(scenario, chart, error, env.now))
            return False
        return True

    for exp in scenario.expect:
        if not advance(exp.day + _PAST_DAY):
            break
        _check(result, exp)
    if not result.stopped and advance(None):
        _check_violations(result)
    result.seconds = time.perf_counter() - started
    return result


def _check(result: ReplayResult, exp: Expectation) -> None:
    chart = result.chart
    p = chart.patient
    fails: list[tuple[str, str, str]] = []  # (check, expected, found)
    care = sorted(s for s in chart.active if s in chart.guideline.care_states)

    for state in exp.in_state:
        if not chart.in_state(state):
            fails.append(("in_state", state, f"care states {care}"))
    for state in exp.not_in_state:
        if chart.in_state(state):
            fails.append(("not_in_state", f"not {state}", f"care states {care}"))
    drugs = _drugs(chart)
    for drug in exp.on_drugs:
        if not p.on(drug):
            fails.append(("on_drugs", f"on {drug}", f"drugs {drugs}"))
    for drug in exp.not_on_drugs:
        if p.on(drug):
            fails.append(("not_on_drugs", f"not on {drug}", f"drugs {drugs}"))
    for drug, (low, high) in exp.dose.items():
        dose = p.dose(drug)
        want = f"{drug} {low:g} mg/day" if low == high else f"{drug} {low:g}-{high:g} mg/day"
        if dose is None:
            why = "no daily dose" if p.on(drug) else "not active"
            fails.append(("dose", want, f"{drug} {why}; drugs {drugs}"))
        elif not low - 1e-9 <= dose <= high + 1e-9:
            fails.append(("dose", want, f"{drug} {dose:g} mg/day"))
    if exp.response is not None and p.response != exp.response:
        fails.append(("response", exp.response, p.response))
    if exp.recommends or exp.does_not_recommend:
        recs = chart.recommendations()
        actions = [r.action for r in recs]
        listed = ", ".join(f"{r.action} ({r.strength}: {', '.join(r.rule_ids)})" for r in recs)
        for action in exp.recommends:
            if action in actions:
                rec = recs[actions.index(action)]
                result.recommended_rules.update(rec.rule_ids)
            else:
                why = "; ".join(str(b) for b in chart.explain(action))
                fails.append(
                    ("recommends", action, f"not recommended ({why}); recommended: {listed}")
                )
        for action in exp.does_not_recommend:
            if action in actions:
                fails.append(("does_not_recommend", f"not {action}", f"recommended: {listed}"))
    if exp.deviation is not None:
        fails.extend(_check_deviation(chart, exp))

    result.checks += len(exp.checks)
    if fails:
        tail = _tail(chart.trace)
        for check, expected, found in fails:
            line = exp.key_lines.get(check, exp.line)
            result.failures.append(Failure(line, exp.day, check, expected, found, tail))


def _check_deviation(chart: AnyPathway, exp: Expectation) -> list[tuple[str, str, str]]:
    action = exp.deviation
    steps = [s for s in chart.trace if s.kind == "action" and s.name == action and s.day == exp.day]
    expected = f"{action} recorded as a deviation"
    if not steps:
        return [("deviation", expected, f"no {action!r} step on day {exp.day:g}")]
    if not any(s.deviation for s in steps):
        rules = ", ".join(steps[0].rule_ids) or "none"
        return [("deviation", expected, f"recorded as recommended (rules: {rules})")]
    return []


def _check_violations(result: ReplayResult) -> None:
    scenario, chart = result.scenario, result.chart
    recorded: dict[str, Any] = {}
    for v in chart.violations:
        recorded.setdefault(v.rule_id, v)
    line = scenario.violates_line or 1
    tail = _tail(chart.trace)
    for rule_id in scenario.violates:
        result.checks += 1
        if rule_id not in recorded:
            found = ", ".join(sorted(recorded)) or "no violation recorded"
            result.failures.append(
                Failure(line, None, "violates", f"{rule_id} recorded", found, tail)
            )
    for rule_id, v in recorded.items():
        if v.hard and rule_id not in scenario.violates:
            result.checks += 1
            result.failures.append(
                Failure(
                    line,
                    v.day,
                    "violates",
                    f"no hard invariant broken (or {rule_id} listed in 'violates')",
                    f"{rule_id} broken at day {v.day:g}: {v.message}",
                    tail,
                )
            )


def _stopped(scenario: Scenario, chart: AnyPathway, exc: Exception, day: float) -> Failure:
    culprit = _culprit(scenario, chart, day)
    what = f"{type(exc).__name__}: {exc}"
    if culprit is not None:
        what = f"{culprit.kind} {culprit.name!r}: {what}"
    line = culprit.line if culprit is not None and culprit.line else _nearest_line(scenario, day)
    return Failure(
        line,
        day,
        "course",
        f"the course runs to day {scenario.horizon_days:g} without error",
        f"stopped at day {day:g}: {what}",
        _tail(chart.trace),
    )


def _culprit(scenario: Scenario, chart: AnyPathway, day: float) -> Occurrence | None:
    """The scripted occurrence of ``day`` that the trace does not show (the one that failed)."""
    record = chart.patient
    planned = [o for o in scenario.baseline(record) if o.day == day] if day == 0 else []
    planned += [o for o in scenario.occurrences() if o.day == day]
    done = [s for s in chart.trace if s.day == day and s.kind != "timer"]
    i = 0
    for step in done:
        if i < len(planned) and step.name == planned[i].name and step.kind == planned[i].kind:
            i += 1
    return planned[i] if i < len(planned) else None


def _nearest_line(scenario: Scenario, day: float) -> int:
    before = [e.line for e in scenario.timeline if e.day <= day]
    return before[-1] if before else scenario.line_of.get("patient", 1)


def _drugs(chart: AnyPathway) -> str:
    items = chart.patient.drugs.items()
    return (
        "[" + ", ".join(f"{d} {v:g} mg/day" if v is not None else d for d, v in items) + "]"
        if items
        else "none"
    )


def format_step(step: Step) -> str:
    """One trace step in one line: index, day, kind, name, moves, rule ids, deviation."""
    moves = ", ".join(f"{t.source} -> {t.target}" for t in step.transits if t.source != t.target)
    what = step.name + (f" ({step.detail})" if step.detail else "")
    text = f"#{step.index:<3} day {step.day:>7g}  {step.kind:<7} {what}"
    if moves:
        text += f"  [{moves}]"
    if step.rule_ids:
        text += f"  rules: {', '.join(step.rule_ids)}"
    if step.deviation:
        text += "  DEVIATION" + ("" if step.carried_out else " (not carried out)")
    for v in step.violations:
        text += f"  VIOLATES {v.rule_id}"
    return text


def _tail(trace: Sequence[Step], n: int = TRACE_TAIL) -> tuple[str, ...]:
    return tuple(format_step(s) for s in trace[-n:])


# --- files -----------------------------------------------------------------------------------


def replay_paths(
    paths: Iterable[str | os.PathLike[str]], chart_class: type[Any] | None = None
) -> ReplayReport:
    """Load and replay every scenario under ``paths`` (files or directories).

    An invalid file (or a directory without ``*.yaml`` files) becomes a
    :class:`ScenarioError` item; the others are still replayed. ``chart_class``: see
    :func:`replay_scenario`.
    """
    started = time.perf_counter()
    report = ReplayReport()
    for raw in paths:
        files = find_scenario_files([raw])
        if not files:
            message = "no scenario files (*.yaml) in this directory"
            report.items.append(ScenarioError(os.fspath(raw), 0, 0, message))
        for file in files:
            try:
                scenario = load_scenario(file)
            except ScenarioError as exc:
                report.items.append(exc)
                continue
            report.items.append(replay_scenario(scenario, chart_class))
    report.seconds = time.perf_counter() - started
    return report


def print_report(
    report: ReplayReport, out: TextIO, *, verbose: bool = False, trace: bool = False
) -> None:
    """Write one line per scenario and the details of each failure to ``out``.

    ``verbose`` adds counts, deviations and violations; ``trace`` adds every step.
    """
    for item in report.items:
        if isinstance(item, ScenarioError):
            out.write(f"INVALID  {item}\n")
            continue
        sc = item.scenario
        status = "PASS" if item.passed else "FAIL"
        out.write(f"{status}     {sc.name} ({sc.path})\n")
        if verbose:
            _write_details(item, out)
        if trace:
            for step in item.chart.trace:
                out.write(f"    {format_step(step)}\n")
        for f in item.failures:
            when = f" day {f.day:g}:" if f.day is not None else ""
            out.write(f"  {sc.path}:{f.line}:{when} {f.check}\n")
            out.write(f"    expected: {f.expected}\n")
            out.write(f"    found:    {f.found}\n")
            if f.trace_tail:
                out.write("    last steps:\n")
                for line in f.trace_tail:
                    out.write(f"      {line}\n")
    results = report.results
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    invalid = len(report.errors)
    summary = f"{len(results)} scenarios: {passed} passed, {failed} failed"
    if invalid:
        summary += f"; {invalid} invalid file{'s' if invalid != 1 else ''}"
    out.write(f"{summary} ({report.seconds:.2f} s)\n")


def _write_details(result: ReplayResult, out: TextIO) -> None:
    chart = result.chart
    out.write(
        f"  {result.checks} checks, {len(chart.trace)} steps, "
        f"horizon {result.scenario.horizon_days:g} days, {result.seconds * 1000:.0f} ms\n"
    )
    for step in chart.trace:
        if step.deviation:
            rules = ", ".join(dict.fromkeys(b.rule_id for b in step.breaches))
            out.write(f"  deviation day {step.day:g}: {step.name} (breaks {rules})\n")
    for v in chart.violations:
        kind = "hard" if v.hard else "soft"
        out.write(f"  violation day {v.day:g}: {v.rule_id} ({kind}) {v.message}\n")


def write_junit(report: ReplayReport, path: str | os.PathLike[str]) -> None:
    """Write ``report`` as JUnit XML to ``path`` atomically (temporary file, then rename).

    Raises:
        OSError: the file cannot be written.
    """
    suite = ET.Element(
        "testsuite",
        name="carechart.replay",
        tests=str(len(report.items)),
        failures=str(sum(not r.passed for r in report.results)),
        errors=str(len(report.errors)),
        time=f"{report.seconds:.3f}",
    )
    for item in report.items:
        if isinstance(item, ScenarioError):
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_classname(item.file),
                name=Path(item.file).stem,
                file=item.file,
                time="0",
            )
            err = ET.SubElement(case, "error", type="ScenarioError", message=str(item))
            err.text = str(item)
            continue
        sc = item.scenario
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_classname(sc.path),
            name=f"{sc.patient_id}: {sc.name}",
            file=sc.path,
            time=f"{item.seconds:.3f}",
        )
        if item.failures:
            first = item.failures[0]
            message = f"{sc.path}:{first.line}: {first.check}: expected {first.expected}"
            lines = []
            for f in item.failures:
                when = f" day {f.day:g}:" if f.day is not None else ""
                lines += [
                    f"{sc.path}:{f.line}:{when} {f.check}",
                    f"  expected: {f.expected}",
                    f"  found:    {f.found}",
                    *(f"    {t}" for t in f.trace_tail),
                ]
            fail = ET.SubElement(case, "failure", type="ExpectationFailed", message=message)
            fail.text = "\n".join(lines)
    root = ET.Element(
        "testsuites",
        name="carechart replay",
        tests=suite.get("tests", "0"),
        failures=suite.get("failures", "0"),
        errors=suite.get("errors", "0"),
        time=suite.get("time", "0"),
    )
    root.append(suite)
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    write_atomic(path, data)


def _classname(file: str) -> str:
    parent = Path(file).parent.as_posix()
    return "scenarios" if parent in ("", ".") else parent.replace("/", ".")
