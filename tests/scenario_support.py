"""Shared by the scenario tests: the library's files, replayed once per test session."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from simulation.scenarios.replay import ReplayResult, replay_scenario
from simulation.scenarios.scenario import load_scenario

from .helpers import REPO

SCENARIO_DIR = REPO / "scenarios"
FIXTURES = REPO / "tests" / "fixtures"
LIBRARY = sorted(SCENARIO_DIR.glob("*.yaml"))
BAD_FILES = sorted((FIXTURES / "bad_scenarios").glob("*.yaml"))
KNOWN_BUGS = sorted((FIXTURES / "pathway_bugs").glob("*.yaml"))

_EXPECT_ERROR = re.compile(r"^# expect-error: (\d+):(\d+) (.+)$")


@functools.cache
def replayed(path: Path) -> ReplayResult:
    """Load and replay one scenario file (cached: the library is replayed once per session)."""
    return replay_scenario(load_scenario(path))


def describe(result: ReplayResult) -> str:
    """A failed replay as the CLI would print it, for assertion messages."""
    lines = [f"{result.scenario.path}: {result.scenario.name}"]
    for f in result.failures:
        lines += [f"  line {f.line} day {f.day}: {f.check}", f"    expected {f.expected}"]
        lines += [f"    found    {f.found}", *(f"      {t}" for t in f.trace_tail)]
    return "\n".join(lines)


def expected_error(path: Path) -> tuple[int, int, str]:
    """The ``# expect-error: LINE:COL TEXT`` header of an invalid-file fixture."""
    with path.open(encoding="utf-8") as handle:
        first = handle.readline().rstrip("\n")
    match = _EXPECT_ERROR.match(first)
    assert match, f"{path} lacks an '# expect-error: LINE:COL text' first line"
    return int(match[1]), int(match[2]), match[3]
