"""Scenario replay: every library story passes, failures and invalid files are reported well."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pathway.guidelines.aih import invariants
from simulation.cli.main import main
from simulation.scenarios.replay import replay_paths, replay_scenario, write_junit
from simulation.scenarios.scenario import ScenarioError, load_scenario, parse_scenario

from .scenario_support import (
    BAD_FILES,
    FIXTURES,
    KNOWN_BUGS,
    LIBRARY,
    describe,
    expected_error,
    replayed,
)

GOOD = LIBRARY[0] if LIBRARY else Path("scenarios/missing.yaml")

_STORY = """\
name: Failing on purpose
description: A check that cannot hold, to see how failures are reported.
patient: {age: 40, sex: F, weight_kg: 65, tpmt: normal}
labs: {alt_xuln: 6.0, ast_xuln: 5.0, igg_xuln: 1.5, bilirubin_mg_dl: 1.0, inr: 1.0}
timeline:
  - day: 28
    labs: {alt_xuln: 2.0, ast_xuln: 1.8, igg_xuln: 1.2}
expect:
  - day: 14
    on_drugs: azathioprine
  - day: 28
    in_state: maintenance
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the library ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_library_scenario_passes(path: Path) -> None:
    """Each scenario in scenarios/ replays against the pathway with every check passing."""
    result = replayed(path)
    assert result.passed, describe(result)
    assert result.checks > 0


# Known pathway bugs: collected only while tests/fixtures/pathway_bugs/ holds a story (an
# empty parameter set would be a skipped test that checks nothing).
if KNOWN_BUGS:

    @pytest.mark.parametrize("path", KNOWN_BUGS, ids=lambda p: p.stem)
    @pytest.mark.xfail(strict=True, reason="documents a known pathway bug (see its description)")
    def test_known_pathway_bug_still_fails(path: Path) -> None:
        """Each known-bug story fails until the pathway is fixed; then move it to scenarios/."""
        result = replayed(path)
        assert result.passed, describe(result)


def test_known_bug_stories_are_moved_not_copied_when_fixed() -> None:
    """The known-bug folder exists only while it holds stories, each with its bug described;
    a fixed bug's story lives on only in scenarios/ as regression-<name>.yaml."""
    folder = FIXTURES / "pathway_bugs"
    assert KNOWN_BUGS or not folder.exists(), f"{folder} is empty: remove it"
    regressions = {p.stem.removeprefix("regression-") for p in LIBRARY}
    for path in KNOWN_BUGS:
        assert path.stem not in regressions, f"{path.name} is fixed and in scenarios/: remove it"
        assert len(load_scenario(path).description) > 80, f"{path.name}: describe the bug"
    fixed = {  # the bugs fixed so far, each guarded by its story
        "acute-severe-improving-meld-carried-forward",
        "delayed-reinduction-judged-early",
        "recurrent-aih-never-resolves",
        "severe-cytopenia-starts-mycophenolate",
    }
    assert fixed <= regressions


def test_library_has_thirty_described_stories() -> None:
    """The library holds at least 30 stories, each with a name and a description."""
    assert len(LIBRARY) >= 30
    for path in LIBRARY:
        scenario = load_scenario(path)
        assert len(scenario.description) > 80, f"{path.name}: description too short"


def test_command_replays_whole_library(capsys: pytest.CaptureFixture[str]) -> None:
    """`carechart replay scenarios/` prints one PASS line per file and exits 0."""
    status = main(["replay", str(GOOD.parent)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.count("\nPASS ") + out.startswith("PASS ") == len(LIBRARY)
    assert f"{len(LIBRARY)} scenarios: {len(LIBRARY)} passed, 0 failed" in out


# --- failures --------------------------------------------------------------------------------


def test_failed_expectation_reports_line_expected_found_and_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing check names file and line, what was expected and found, and the last steps."""
    path = _write(tmp_path, "failing.yaml", _STORY)
    status = main(["replay", str(path)])
    out = capsys.readouterr().out
    assert status == 1
    assert f"FAIL     Failing on purpose ({path})" in out
    assert f"{path}:12: day 28: in_state" in out
    assert "expected: maintenance" in out
    assert "found:    care states ['response_assessment', 'taper']" in out
    assert "last steps:" in out
    assert "week4_check (week4_check)  [induction -> response_assessment]" in out
    assert "rules: AIH-RSP-01" in out


def test_failure_trace_tail_is_bounded() -> None:
    """The trace shown with a failure holds at most the last 8 steps."""
    result = replay_scenario(parse_scenario(_STORY, file="x.yaml"))
    assert not result.passed
    assert all(0 < len(f.trace_tail) <= 8 for f in result.failures)


def test_unlisted_hard_invariant_fails_the_scenario(tmp_path: Path) -> None:
    """A deviation that breaks a hard invariant fails unless the scenario lists it."""
    text = (load_scenario_text("budesonide-in-cirrhosis-caught.yaml")).replace(
        "violates: [INV-01]\n", ""
    )
    result = replay_scenario(parse_scenario(text, file="no-violates.yaml"))
    assert not result.passed
    (failure,) = result.failures
    assert failure.check == "violates"
    assert failure.found.startswith("INV-01 broken at day 0")


def test_listed_invariant_must_be_recorded(tmp_path: Path) -> None:
    """A scenario listing an invariant the course never broke fails, naming what was found."""
    text = load_scenario_text("budesonide-in-cirrhosis-caught.yaml").replace(
        "violates: [INV-01]", "violates: [INV-01, INV-09]"
    )
    result = replay_scenario(parse_scenario(text, file="extra.yaml"))
    assert [(f.check, f.expected, f.found) for f in result.failures] == [
        ("violates", "INV-09 recorded", "INV-01")
    ]
    assert not result.violations_confirmed


def test_guideline_breaking_an_invariant_stops_the_course(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hard invariant broken without any deviation (a modelling bug) fails with its message."""

    def always_broken(*args: object) -> str:
        return "simulated modelling bug"

    monkeypatch.setitem(invariants.INVARIANTS, "INV-03", always_broken)
    result = replay_scenario(parse_scenario(_STORY, file="bug.yaml"))
    assert result.stopped
    (failure,) = result.failures
    assert failure.check == "course"
    assert "InvariantViolation: INV-03 broken at day 0" in failure.found
    assert "simulated modelling bug" in failure.found


def test_impossible_finding_stops_the_course_at_its_line() -> None:
    """A finding the chart cannot handle in its state fails at the timeline entry's line."""
    text = _STORY.replace("expect:\n", "  - day: 40\n    delivered: true\nexpect:\n")
    text += "  - day: 41\n    in_state: taper\n"
    result = replay_scenario(parse_scenario(text, file="impossible.yaml"))
    course = [f for f in result.failures if f.check == "course"]
    assert len(course) == 1
    assert course[0].line == 9
    assert course[0].found.startswith(
        "stopped at day 40: finding 'delivered': EventNotHandled: "
        "'delivered' cannot be handled at day 40"
    )


# --- invalid files ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_invalid_file_exit_2_with_position(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid file is one line FILE:LINE:COL with the problem; other files still replay."""
    line, column, fragment = expected_error(path)
    status = main(["replay", str(path), str(GOOD)])
    captured = capsys.readouterr()
    assert status == 2
    assert f"INVALID  {path}:{line}:{column}: " in captured.out
    assert fragment in captured.out
    assert "Traceback" not in captured.out + captured.err
    assert f"PASS     {load_scenario(GOOD).name} ({GOOD})" in captured.out
    assert "1 scenarios: 1 passed, 0 failed; 1 invalid file" in captured.out


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_invalid_file_error_fields(path: Path) -> None:
    """The ScenarioError carries file, line and column as attributes and is a ValueError."""
    line, column, _ = expected_error(path)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.file, info.value.line, info.value.column) == (str(path), line, column)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_missing_file_is_invalid_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist is reported as an invalid file (exit 2)."""
    status = main(["replay", str(tmp_path / "nope.yaml")])
    out = capsys.readouterr().out
    assert status == 2
    assert f"INVALID  {tmp_path / 'nope.yaml'}: cannot read file" in out


def test_empty_directory_is_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory without scenario files is reported (exit 2), not silently passed."""
    status = main(["replay", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 2
    assert f"INVALID  {tmp_path}: no scenario files (*.yaml) in this directory" in out


def test_exit_status_two_wins_over_one(tmp_path: Path) -> None:
    """With both an invalid file and a failing scenario the exit status is 2."""
    failing = _write(tmp_path, "failing.yaml", _STORY)
    report = replay_paths([failing, BAD_FILES[0]])
    assert [type(i).__name__ for i in report.items] == ["ReplayResult", "ScenarioError"]
    assert report.exit_status == 2
    assert replay_paths([failing]).exit_status == 1


# --- JUnit -----------------------------------------------------------------------------------


def test_junit_xml_lists_passes_failures_and_errors(tmp_path: Path) -> None:
    """--junit writes one testcase per file: failures and invalid files are marked."""
    failing = _write(tmp_path, "failing.yaml", _STORY)
    out = tmp_path / "results.xml"
    status = main(["replay", str(GOOD), str(failing), str(BAD_FILES[0]), "--junit", str(out)])
    assert status == 2
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [c.find("failure") is not None for c in cases] == [False, True, False]
    assert [c.find("error") is not None for c in cases] == [False, False, True]
    failure = cases[1].find("failure")
    assert failure is not None
    assert f"{failing}:12" in (failure.get("message") or "")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_junit_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If writing fails, the previous results file is left intact and no temp file remains."""
    out = tmp_path / "results.xml"
    out.write_text("previous", encoding="utf-8")
    report = replay_paths([GOOD])

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("simulation.scenarios.replay.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_junit(report, out)
    assert out.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.xml"]


def test_junit_path_in_the_way_fails_before_replaying(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--junit below a file, or naming a folder, is one line naming the option (exit 2)
    before any scenario runs, not an errno about a temporary file."""
    (tmp_path / "f").write_text("x")
    assert main(["replay", str(GOOD), "--junit", str(tmp_path / "f" / "r.xml")]) == 2
    captured = capsys.readouterr()
    assert f"--junit {tmp_path / 'f' / 'r.xml'}: found a file at {tmp_path / 'f'}" in captured.err
    assert captured.out == ""
    assert main(["replay", str(GOOD), "--junit", str(tmp_path)]) == 2
    assert "found a folder, expected a file name" in capsys.readouterr().err


def load_scenario_text(name: str) -> str:
    """The text of a library scenario."""
    return (GOOD.parent / name).read_text(encoding="utf-8")


# --- docs/scenarios.md -----------------------------------------------------------------------


def test_docs_include_library_files_verbatim() -> None:
    """Each `<!-- include: FILE -->` block of docs/scenarios.md equals that scenario file."""
    doc = (GOOD.parent.parent / "docs" / "scenarios.md").read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- include: (\S+) -->\n```yaml\n(.*?)```\n", doc, flags=re.S)
    assert len(blocks) >= 2
    for name, text in blocks:
        path = GOOD.parent.parent / name
        assert path.parent == GOOD.parent, f"{name} is not in scenarios/"
        assert text == path.read_text(encoding="utf-8"), f"docs/scenarios.md is stale for {name}"
        assert replayed(path).passed
