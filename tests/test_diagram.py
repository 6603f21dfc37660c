"""Diagram and table exports: generated from the chart, complete, and the docs page fresh."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pathway import RULES, AIHPathway
from pathway.diagram import (
    DOCS_COMMAND,
    main,
    render_docs_page,
    rule_table_md,
    timer_table_md,
    to_dot,
    to_mermaid,
    transition_rows,
    transition_table_md,
)
from pathway.guidelines.aih.chart import transition_rules
from pathway.guidelines.aih.timers import TIMERS
from simulation.cli import main as cli

DOCS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "pathway.md"


def _edge_lines(mermaid: str) -> list[tuple[str, str, str]]:
    """``(source, target, label)`` of each Mermaid arrow."""
    out = []
    for line in mermaid.splitlines():
        m = re.fullmatch(r"\s*(\S+) --> (\S+)(?: : (.*))?", line)
        if m:
            out.append((m[1], m[2], m[3] or ""))
    return out


def test_docs_page_is_current() -> None:
    """docs/pathway.md equals the page generated from the code."""
    assert DOCS_PAGE.exists(), f"{DOCS_PAGE} is missing; generate it with: {DOCS_COMMAND}"
    current = DOCS_PAGE.read_text(encoding="utf-8")
    assert current == render_docs_page(), (
        f"docs/pathway.md is stale (the chart, rules or timers changed); "
        f"regenerate it with: {DOCS_COMMAND}"
    )


def test_docs_page_content() -> None:
    """The page names its regenerate command, states its purpose and holds no doctest."""
    page = render_docs_page()
    assert page.startswith("<!--")
    assert DOCS_COMMAND in page.split("-->")[0]
    assert "research and education" in page
    assert "not be used to diagnose or treat" in page
    assert "```mermaid\nstateDiagram-v2" in page
    assert ">>>" not in page  # pytest collects docs/*.md as doctests
    for heading in ("## Diagram", "## Timers", "## Transitions", "## Rules"):
        assert heading in page


def test_rows_match_transition_rules() -> None:
    """The exported rows are exactly the chart's transitions with their rule ids."""
    rows = sorted((r.event, r.source, r.target, r.rule_ids) for r in transition_rows())
    assert rows == sorted(transition_rules(AIHPathway))


def test_every_moving_transition_is_drawn_in_mermaid() -> None:
    """Each state-changing transition is an arrow labelled with its event and guards."""
    edges = _edge_lines(to_mermaid())
    for row in transition_rows():
        if not row.target:
            continue
        label = row.event + (f" [{', '.join(row.guards)}]" if row.guards else "")
        sources, targets = _at_or_inside(row.source), _at_or_inside(row.target)
        assert any(
            source in sources and target in targets and _has(text, label)
            for source, target, text in edges
        ), f"{row} is not drawn"


def _at_or_inside(sid: str) -> set[str]:
    """``sid`` and every state nested in it."""
    out = {sid}
    for child in AIHPathway.states_map[sid].states:
        out |= _at_or_inside(child.id)
    return out


def _has(label: str, wanted: str) -> bool:
    """``wanted`` is one of the stacked parts of an arrow label (maybe with a note)."""
    return any(part == wanted or part.startswith(wanted + " (") for part in label.split("<br/>"))


def test_mermaid_lists_targetless_transitions_on_request() -> None:
    """With ``targetless=True`` every transition that changes no state appears in a note."""
    mermaid = to_mermaid(targetless=True)
    notes = re.findall(r"note right of (\S+)\n(.*?)end note", mermaid, flags=re.S)
    listed = {(src, ev.strip()) for src, body in notes for ev in _note_events(body)}
    for row in transition_rows():
        if not row.target:
            assert (row.source, row.event) in listed, f"{row} missing from the notes"


def _note_events(body: str) -> list[str]:
    lines = [line.strip().removeprefix("stays on:") for line in body.splitlines()]
    return [ev.strip() for line in lines for ev in line.split(",") if ev.strip()]


def test_mermaid_structure() -> None:
    """States nest, regions are separated by ``--`` and the final state leads to [*]."""
    mermaid = to_mermaid()
    assert mermaid.startswith("stateDiagram-v2\n")
    assert mermaid.count("{") == mermaid.count("}")
    assert mermaid.count("\n        --\n") == len(AIHPathway.states_map["alive"].states) - 1
    assert "    death --> [*]\n" in mermaid
    for sid in AIHPathway.states_map:
        assert re.search(rf"(^|\s){sid}(\s|$)", mermaid), sid
    assert to_mermaid() == mermaid  # deterministic


def test_mermaid_avoids_composite_ends_inside_parallel() -> None:
    """No arrow starts or ends at a composite state inside ``alive`` (mermaid#4052)."""
    composites = {s.id for s in AIHPathway.states_map.values() if s.states and s.parent}
    for source, target, _ in _edge_lines(to_mermaid()):
        if source == "[*]":
            continue  # initial arrows into a composite render fine
        assert source not in composites, source
        assert target not in composites, target


def test_mermaid_flow_counts() -> None:
    """Flows label each arrow with its patient count."""
    row = next(r for r in transition_rows() if r.source == "maintenance" and r.target)
    mermaid = to_mermaid(flows={row.key: 17})
    assert f"{row.event} [{', '.join(row.guards)}] (17)" in mermaid
    assert "(0)" in mermaid


def test_dot_is_structurally_valid() -> None:
    """Balanced braces, every state a node and every moving transition an edge."""
    dot = to_dot(flows={("maintenance", "labs", "relapse"): 3})
    assert dot.startswith('digraph "AIHPathway" {')
    assert dot.rstrip().endswith("}")
    depth = 0
    for ch in re.sub(r'"(?:[^"\\]|\\.)*"', '""', dot):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    for sid in AIHPathway.states_map:
        assert re.search(rf'^\s*"{sid}" \[', dot, flags=re.M), sid
    for row in transition_rows():
        if row.target:
            assert f'"{row.source}" -> "{row.target}" [label="{row.event}' in dot, row
    assert "penwidth=" in dot
    for compound in ("alive", "care_line", "first_line", "induction"):
        assert f'subgraph "cluster_{compound}"' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_dot_renders_with_graphviz(tmp_path: Path) -> None:
    """Graphviz accepts the DOT output without warnings."""
    result = subprocess.run(
        ["dot", "-Tsvg"], input=to_dot(targetless=True), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_transition_table_lists_every_transition() -> None:
    """One table row per transition, with the rule ids, ``(stay)`` for no target."""
    table = transition_table_md().splitlines()
    assert table[0] == "| event | kind | source | target | guards | rule ids |"
    body = table[2:]
    assert len(body) == len(transition_rules(AIHPathway))
    for row, line in zip(transition_rows(), body, strict=True):
        target = f"`{row.target}`" if row.target else "(stay)"
        assert line.startswith(f"| `{row.event}` | ")
        assert f"| `{row.source}` | {target} |" in line
        assert line.endswith(f"| {', '.join(row.rule_ids)} |")


def test_rule_and_timer_tables() -> None:
    """Every rule and every timer has a row; cells with ``|`` are escaped."""
    rules = rule_table_md().splitlines()[2:]
    assert [line.split(" | ")[0][2:] for line in rules] == list(RULES)
    timers = timer_table_md().splitlines()[2:]
    assert len(timers) == len(TIMERS)
    for line in [*rules, *timers]:
        assert len(re.findall(r"(?<!\\)\|", line)) == line.count(" | ") + 2


def test_module_main_checks_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m pathway.diagram`` writes the page and detects a stale copy."""
    page = tmp_path / "pathway.md"
    assert main(["--write-docs", str(page)]) == 0
    assert main(["--check-docs", str(page)]) == 0
    page.write_text("old\n", encoding="utf-8")
    assert main(["--check-docs", str(page)]) == 1
    assert DOCS_COMMAND in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["mermaid", "dot", "table", "rules", "timers", "page"])
def test_cli_writes_file(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``carechart diagram --out`` writes the export and leaves no temporary file."""
    out = tmp_path / f"chart.{fmt}"
    assert cli.main(["diagram", "--format", fmt, "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").strip()
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    assert capsys.readouterr().out == ""


def test_written_file_has_the_usual_mode(tmp_path: Path) -> None:
    """The atomic write's temporary file is private (0600); the published one follows the
    umask like any other file, so others can read the export."""
    out = tmp_path / "chart.mmd"
    assert cli.main(["diagram", "--out", str(out)]) == 0
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert out.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_cli_writes_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """Without ``--out`` the export goes to standard output (Mermaid by default)."""
    assert cli.main(["diagram"]) == 0
    assert capsys.readouterr().out == to_mermaid()


@pytest.mark.parametrize("where", ["missing/dir/chart.mmd", "."])
def test_cli_unwritable_out(where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unwritable ``--out`` exits 2 with one line on stderr, no traceback, no leftovers."""
    out = tmp_path / where
    assert cli.main(["diagram", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("carechart: error: cannot write ")
    assert list(tmp_path.iterdir()) == []


def test_cli_rejects_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown ``--format`` is a one-line usage error."""
    assert cli.main(["diagram", "--format", "png"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
