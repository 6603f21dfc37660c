"""Coverage counts states, transitions, rules and guard outcomes, and reports them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pathway import AIHPathway
from pathway.structure import ChartModel
from simulation.cli.main import main
from simulation.verify.coverage import CoverageReport, collect_scenarios, guard_items
from simulation.verify.coverage_html import coverage_dot, render_html

from .helpers import REPO

SCENARIOS = REPO / "scenarios"
ONE = str(SCENARIOS / "combination-therapy-to-maintenance.yaml")


@pytest.fixture(scope="module")
def one() -> CoverageReport:
    """Coverage of the classic course alone."""
    return collect_scenarios([ONE])


def test_one_scenario_covers_its_own_path(one: CoverageReport) -> None:
    """The classic course enters maintenance and takes the week-4 and month-6 transitions,
    and never enters the transplant states."""
    m = one.model
    taken = {m.transitions[i].key for i in one.transitions}
    assert "week4_check: induction -> response_assessment" in taken
    assert "month6_assessment: response_assessment -> maintenance" in taken
    assert one.states["maintenance"] == 1
    assert one.states["transplant"] == 0
    assert "transplant" in one.uncovered()["states"]
    assert one.rules["AIH-IND-03"] == 1  # add azathioprine was offered


def test_guard_outcomes_need_both_answers(one: CoverageReport) -> None:
    """cbr_reached at month 6 was seen true but never false in this course."""
    m = one.model
    t = next(
        t for t in m.transitions if t.key == "month6_assessment: response_assessment -> maintenance"
    )
    assert one.guards[(t.index, "cbr_reached", True)] >= 1
    assert (t.index, "cbr_reached", False) in one.uncovered()["guards"]


def test_permission_guards_are_counted_as_rule_checks() -> None:
    """may_<action> guards are not routing items; each action's check is, both ways."""
    items = guard_items(ChartModel.of(AIHPathway))
    assert not [i for i in items if len(i) == 3 and i[1].startswith("may_")]
    assert ("refer_transplant", True) in items
    assert ("refer_transplant", False) in items


def test_library_covers_every_state() -> None:
    """The scenario library enters every state of the chart at every depth."""
    report = collect_scenarios([str(SCENARIOS)])
    assert report.failed == []
    assert report.percent("states") == 100.0
    assert 0 < report.percent() < 100.0
    data = report.to_json()
    assert data["kinds"]["transitions"]["total"] == len(report.model.transitions)
    assert {u["item"] for u in data["uncovered"]["states"]} == set()


def test_html_report_colours_the_diagram(one: CoverageReport) -> None:
    """The DOT source marks uncovered states red and taken arrows green with their flow."""
    dot = coverage_dot(one)
    assert '"transplant" [label="transplant\\n0 courses", color="#c62828"' in dot
    assert 'label="week4_check (1)", color="#2e7d32"' in dot
    page = render_html(one)
    assert page.startswith("<!doctype html>")
    assert "Uncovered items" in page
    assert "AIH-" in page


def test_cli_fail_under(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--fail-under exits 1 below the bar and 0 at or above it; JSON is written."""
    out = tmp_path / "c.json"
    assert main(["coverage", ONE, "--json", str(out), "--fail-under", "99"]) == 1
    assert "below --fail-under" in capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["courses"] == 1
    assert main(["coverage", ONE, "--fail-under", "1"]) == 0


def test_cli_needs_something_to_measure(capsys: pytest.CaptureFixture[str]) -> None:
    """Without scenarios or --cohort the command is a usage error (exit 2)."""
    assert main(["coverage"]) == 2
    assert "needs scenario files" in capsys.readouterr().err


def test_cli_invalid_scenario_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid scenario file is reported with its line and exits 2 (like replay), not 0;
    a folder without scenario files is an error too."""
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: x\n\xff")
    assert main(["coverage", ONE, str(bad)]) == 2
    assert f"carechart: error: {bad}:2:1: file is not UTF-8 text" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["coverage", str(empty)]) == 2
    assert f"{empty}: found no scenario files (*.yaml)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cohort", "0"], "--cohort: found 0, expected a whole number >= 1"),
        (["--limit", "-1"], "--limit: found -1, expected a whole number >= 0"),
        (["--json", "{file}/c.json"], "--json {file}/c.json: found a file at {file}"),
        (["--html", "{tmp}"], "--html {tmp}: found a folder, expected a file name"),
    ],
)
def test_cli_bad_options_exit_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Bad numbers and unwritable report paths fail at once, naming the option."""
    file = tmp_path / "f"
    file.write_text("x")
    fill = {"file": str(file), "tmp": str(tmp_path)}
    assert main(["coverage", ONE, *(a.format(**fill) for a in args)]) == 2
    assert message.format(**fill) in capsys.readouterr().err


def test_cli_reports_are_written_atomically_with_the_usual_mode(tmp_path: Path) -> None:
    """--json and --html leave no temporary file and are readable by others (umask)."""
    out = tmp_path / "c.json"
    assert main(["coverage", ONE, "--json", str(out), "--html", str(tmp_path / "c.html")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.html", "c.json"]
    assert out.stat().st_mode & 0o044 == 0o044
