"""``carechart check``: static analysis plus the gap and overlap search, for guideline authors.

``carechart check [--json] [--static-only] [--budget N] [--examples N] [--seed S]
[--out DIR] [--declared FILE]`` reports every finding of :mod:`simulation.verify.analysis`
(structure and catalogue) and of :mod:`simulation.verify.conflicts` (gaps, overlaps, safety),
each with its rule ids and, for gaps and overlaps, a counterexample scenario file. Findings
accepted as by design in ``simulation/data/declared_findings.yaml`` are shown with their
reason and do not fail the check.

Exit status: 0 when every finding is declared, 1 when some are not, 2 for bad input.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from pathway.guidelines import DEFAULT, get

from ..run.progress import StepProgress
from .analysis import Catalogue, static_findings
from .conflicts import SEARCH_STEPS, ConflictReport, search_conflicts, trap_counterexample
from .findings import CODES, Declaration, Finding, apply_declarations, load_declarations

__all__ = ["CheckResult", "print_findings", "run_check"]

_FOUND_BY = {
    "triage": "the triage boundary search",
    "boundary": "a boundary lab value probe",
    "search": "the course search",
    "hypothesis": "the Hypothesis search",
}
_DYNAMIC = ("gap", "overlap", "unsafe", "crash")


class CheckResult:
    """The findings of one check run, declared ones included, and the search's statistics."""

    def __init__(
        self,
        findings: list[Finding],
        search: ConflictReport | None,
        unmet: list[Declaration] | None = None,
    ) -> None:
        self.findings = findings
        self.search = search
        self.unmet = unmet or []

    @property
    def open(self) -> list[Finding]:
        """Findings not declared as by design."""
        return [f for f in self.findings if f.declared is None]

    @property
    def exit_status(self) -> int:
        """1 when some finding is not declared, else 0."""
        return 1 if self.open else 0

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        out: dict[str, Any] = {
            "ok": not self.open,
            "open": len(self.open),
            "declared": len(self.findings) - len(self.open),
            "findings": [f.to_json() for f in self.findings],
        }
        if self.search is not None:
            s = self.search
            out["search"] = {
                "courses": s.courses,
                "boundary_probes": s.probes,
                "hypothesis_examples": s.hypothesis_examples,
                "decision_points": s.decision_points,
                "seconds": round(s.seconds, 2),
                "declared_not_met": [f"{d.code}@{d.subject}" for d in self.unmet],
            }
        return out


def run_check(
    chart_class: type[Any] | None = None,
    *,
    catalogue: Catalogue | None = None,
    search: bool = True,
    budget: int = 300,
    examples: int = 150,
    seed: int = 0,
    declared: str | Path | None = None,
    progress: StepProgress | None = None,
) -> CheckResult:
    """Run every check on ``chart_class`` and apply the declarations.

    Args:
        chart_class: the pathway chart class (default: the default guideline's).
        catalogue: what the chart is checked against (default: its guideline's).
        search: also run the gap and overlap search (slower; what it explores comes from the
            guideline's explorer, :mod:`simulation.verify.explorers`).
        budget: courses the course search expands.
        examples: Hypothesis examples per round.
        seed: the search's seed.
        declared: the declarations file (default: the shipped one, for the AIH guideline;
            none for another).
        progress: called with ``(steps done, steps, step under way)`` as each step starts
            and once at the end.
    """
    guideline = getattr(chart_class, "guideline", None) or get()
    chart_class = chart_class or guideline.chart
    steps = ["static analysis", *(SEARCH_STEPS if search else ()), "declarations"]

    def step(name: str) -> None:
        if progress is not None:
            progress(steps.index(name), len(steps), name)

    step("static analysis")
    findings = static_findings(chart_class, catalogue)
    report: ConflictReport | None = None
    if search:
        report = search_conflicts(
            chart_class, budget=budget, examples=examples, seed=seed, on_step=step
        )
        for ce in report.counterexamples.values():
            p = ce.problem
            findings.append(
                Finding(
                    p.code,
                    p.subject,
                    p.message,
                    "error",
                    p.rule_ids,
                    {
                        **p.details,
                        "day": p.day,
                        "found_by": ce.found_by,
                        "patient": ce.start.name,
                        "moves": [str(m) for m in ce.moves],
                    },
                    ce.scenario,
                )
            )
    step("declarations")
    shipped = declared is None and guideline.name != DEFAULT
    declarations = [] if shipped else load_declarations(declared)
    if search:
        accepted = {(d.code, d.subject) for d in declarations}
        findings = [
            f if (f.code, f.subject) in accepted else _with_trap_story(chart_class, f)
            for f in findings
        ]
    static = set(CODES) - set(_DYNAMIC)
    unmet: list[Declaration] = []
    marked = apply_declarations(
        findings, declarations, stale_codes=static, unmet=unmet if search else None
    )
    if progress is not None:
        progress(len(steps), len(steps), "done")
    return CheckResult(marked, report, unmet)


def _with_trap_story(chart_class: type[Any], finding: Finding) -> Finding:
    """A trap-state finding with a scenario of a patient held there (when one is found)."""
    if finding.code != "trap-state" or finding.counterexample:
        return finding
    story = trap_counterexample(chart_class, finding.subject)
    return finding if story is None else replace(finding, counterexample=story)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def write_counterexamples(result: CheckResult, folder: Path) -> list[Path]:
    """Write each finding's counterexample scenario into ``folder``; return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in result.findings:
        if f.counterexample:
            path = folder / f"{_slug(f.code + '-' + f.subject)}.yaml"
            path.write_text(f.counterexample, encoding="utf-8")
            out.append(path)
    return out


def print_findings(
    result: CheckResult, out: TextIO, *, files: dict[str, Path] | None = None
) -> None:
    """Readable report: open findings by category, then the declared ones, then a summary."""
    files = files or {}
    open_ = result.open
    declared = [f for f in result.findings if f.declared is not None]
    categories = ("structure", "catalogue", "gap", "overlap", "safety")
    for category in categories:
        group = [f for f in open_ if f.category == category]
        if not group:
            continue
        out.write(f"\n{category.upper()} ({len(group)})\n")
        for f in group:
            out.write(f"  {f.severity:<7} {f.code}: {f.subject}\n")
            out.write(f"          {f.message}\n")
            if f.rule_ids:
                out.write(f"          rules: {', '.join(f.rule_ids)}\n")
            if "found_by" in f.details:
                how = _FOUND_BY.get(f.details["found_by"], f.details["found_by"])
                moves = "; ".join(f.details.get("moves", [])) or "none"
                out.write(f"          found by {how}: {f.details.get('patient')}, moves: {moves}\n")
            key = f"{f.code}@{f.subject}"
            if key in files:
                out.write(f"          counterexample: {files[key]}\n")
    if declared:
        out.write(f"\nDECLARED BY DESIGN ({len(declared)})\n")
        for f in declared:
            out.write(f"  {f.code}: {f.subject}\n          {f.declared}\n")
    s = result.search
    if s is not None:
        out.write(
            f"\nsearch: {len(s.decision_points)} decision points; {s.courses} courses, "
            f"{s.probes} boundary probes, {s.hypothesis_examples} Hypothesis examples "
            f"({s.seconds:.1f} s)\n"
        )
        for d in result.unmet:
            out.write(f"  declared but not met by this search: {d.code} {d.subject}\n")
    verdict = "OK" if not open_ else "FINDINGS"
    out.write(f"{verdict}: {len(open_)} open, {len(declared)} declared\n")
