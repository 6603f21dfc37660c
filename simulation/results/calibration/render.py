"""A calibration result as a terminal table and as the Markdown page docs/calibration.md."""

from __future__ import annotations

from .result import CalibrationResult
from .targets import GROUP_TITLES, GROUPS

__all__ = ["render_markdown", "render_text"]


def render_text(result: CalibrationResult) -> str:
    """A plain-text table for the terminal."""
    header = ("target", "source", "simulated", "n", "published", "95% interval", "result")
    rows = [header]
    ordered = [r for g in GROUPS for r in result.results if r.target.group == g]
    for r in ordered:
        pub = r.target.published
        rows.append(
            (
                r.target.id,
                r.target.source,
                "-" if r.simulated is None else f"{100 * r.simulated:.1f}%",
                str(r.n),
                f"{100 * pub.value:.1f}%",
                f"{100 * pub.low:.1f}-{100 * pub.high:.1f}%"
                + (" (derived)" if pub.derived else ""),
                {True: "pass", False: "FAIL", None: "n/a"}[r.passed],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    passed, judged = result.counts()
    lines.insert(1, "  ".join("-" * w for w in widths))
    # A heading before each group's first row (rows follow GROUPS order).
    at = 2
    for group in GROUPS:
        members = sum(1 for r in ordered if r.target.group == group)
        if members:
            lines.insert(at, f"[{GROUP_TITLES[group]}]")
            at += members + 1
    lines.append("")
    lines += result.summary_lines()
    lines.append(f"{passed} of {judged} targets inside the published interval.")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: CalibrationResult) -> str:
    """The page ``docs/calibration.md``: how it was made, the table, failures and notes."""
    passed, judged = result.counts()
    lines = [
        "# Calibration",
        "",
        "carechart is for research and education, not for treating patients. This page",
        "compares figures simulated by carechart's patient model and pathway with published",
        "figures from the clinical knowledge base (section 4). It is generated; do not edit",
        "it by hand.",
        "",
        f"- Command: `{result.command}`",
        f"- Seed: {result.seed}",
        f"- Patients per simulated run: {result.patients} ({result.runs} runs)",
        f"- Generated: {result.generated}, carechart {result.version}",
        "- Targets: `simulation/data/calibration_targets.yaml` (sub-cohort, policy, horizon,",
        "  measured quantity and published figure of each target)",
        "",
        f"**{passed} of {judged} targets fall inside the published 95% interval.**",
        "",
        "Targets come in two groups. *Inputs measured back* compare the model with figures",
        "its parameters were taken or fitted from: they check the plumbing, not the model.",
        "*Validation* targets are figures the model was not fitted to.",
    ]
    for group in GROUPS:
        members = [r for r in result.results if r.target.group == group]
        if not members:
            continue
        g_passed, g_judged = result.counts(group)
        lines += [
            "",
            f"## {GROUP_TITLES[group]}",
            "",
            f"{g_passed} of {g_judged} inside the published interval.",
            "",
            "| Target | Source | Quantity | Arm | Simulated | n | Published "
            "| Published 95% interval | Result |",
            "|---|---|---|---|---:|---:|---:|---|---|",
        ]
        for r in members:
            t, pub = r.target, r.target.published
            sim = "–" if r.simulated is None else f"{100 * r.simulated:.1f}%"
            verdict = {True: "pass", False: "**fail**", None: "n/a"}[r.passed]
            lines.append(
                f"| {_md(t.id)} | {t.source} | {_md(t.quantity)} | {_md(t.arm)} | {sim} "
                f"| {r.n} | {100 * pub.value:.1f}% | {_md(pub.interval_text())} | {verdict} |"
            )
    failing = [r for r in result.results if r.passed is False]
    lines += ["", "## Targets outside the published interval", ""]
    if failing:
        for r in failing:
            assert r.simulated is not None
            side = "below" if r.simulated < r.target.published.low else "above"
            lines.append(
                f"- `{r.target.id}`: simulated {100 * r.simulated:.1f}% is {side} "
                f"{_md(r.target.published.interval_text())}."
            )
    else:
        lines.append("None.")
    lines += ["", "## Notes", ""]
    for line in result.notes():
        target_id, text = line.split(": ", 1)
        lines.append(f"- `{target_id}`: {_md(text)}")
    lines += [
        "",
        "Intervals marked *derived* are binomial 95% Wilson intervals computed from the",
        "study's n where the knowledge base gives no confidence interval. Time-to-event",
        "figures are Kaplan-Meier estimates on the simulated patients.",
        "",
    ]
    return "\n".join(lines)
