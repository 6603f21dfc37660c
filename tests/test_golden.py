"""Golden outputs: small seeded runs give byte for byte the stored files of tests/golden.

A refactor must leave them as they are. A change meant to alter simulated courses
regenerates them (``make golden``) and says why in CHANGELOG.md.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

import pytest

from simulation.model import disease
from simulation.model.hazard_conditions import (
    FLARE_CASES,
    HAZARD_CONDITIONS,
    Limits,
    Situation,
    flare_case,
    hazards_on,
)

from .golden.regenerate import FOLDER, changes, main, produce, stored

_HINT = "if intended, run make golden and say why in CHANGELOG"
_STORED = stored()


#: Hazard conditions and flare cases that held at least once while the runs were made.
_HELD: set[str] = set()
#: Declared cases no cohort run can reach, and why.
_UNREACHED = {
    # Observation is a "may" the guideline policy never takes; scenarios script it, but
    # they run the scripted patient, not the disease model.
    "flare.untreated",
}


@pytest.fixture(scope="module")
def produced() -> dict[str, str]:
    """Every golden file as the current code makes it (a few seconds, made once), noting
    which hazard conditions held on the way."""

    def on(s: Situation, th: Limits, active: Set[str]) -> dict[str, Any]:
        values = hazards_on(s, th, active)
        _HELD.update(name for name, value in values.items() if value)
        return values

    def flare(s: Situation, th: Limits, active: Set[str]) -> str:
        case = flare_case(s, th, active)
        _HELD.add(case)
        return case

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(disease, "hazards_on", on)
        mp.setattr(disease, "flare_case", flare)
        return produce()


def first_difference(old: str, new: str) -> str:
    """The first line where two texts differ, both sides, 1-based."""
    a, b = old.splitlines(), new.splitlines()
    for i, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x != y:
            return f"line {i}:\n  golden:  {x}\n  now:     {y}"
    if len(a) != len(b):
        n = min(len(a), len(b)) + 1
        longer, which = (a, "golden") if len(a) > len(b) else (b, "now")
        return f"line {n}: only the {which} text has it:\n  {longer[n - 1]}"
    return "the lines are equal; the line endings or the final newline differ"


def test_golden_files_exist() -> None:
    assert _STORED, f"no golden files in {FOLDER}; run make golden"


def test_the_same_files(produced: dict[str, str]) -> None:
    extra = sorted(produced.keys() - _STORED.keys())
    missing = sorted(_STORED.keys() - produced.keys())
    assert not extra, f"golden files made now but not stored: {extra}; {_HINT}"
    assert not missing, f"golden files stored but not made now: {missing}; {_HINT}"


@pytest.mark.parametrize("path", sorted(_STORED))
def test_golden_file(path: str, produced: dict[str, str]) -> None:
    if path not in produced:
        pytest.fail(f"{path}: stored but not made now; {_HINT}")
    old, new = _STORED[path], produced[path]
    if old != new:
        pytest.fail(f"tests/golden/{path} differs at {first_difference(old, new)}\n{_HINT}")


def test_the_runs_exercise_every_hazard_condition(produced: dict[str, str]) -> None:
    """The golden runs reach every declared hazard condition and flare case, so a change to
    any of them shows in the golden files."""
    declared = set(HAZARD_CONDITIONS) | {c.name for c in FLARE_CASES}
    missing = sorted(declared - _HELD - _UNREACHED)
    assert not missing, f"no golden run reaches the hazard conditions {missing}"


def test_first_difference_names_the_line() -> None:
    assert first_difference("a\nb\nc\n", "a\nx\nc\n") == "line 2:\n  golden:  b\n  now:     x"
    assert "line 3: only the now text" in first_difference("a\nb\n", "a\nb\nc\n")
    assert "final newline" in first_difference("a\n", "a")


def test_changes_counts_differing_lines() -> None:
    old = {"a.csv": "1\n2\n3\n", "gone.csv": "x\n"}
    new = {"a.csv": "1\n9\n3\n", "new.csv": "y\nz\n"}
    assert changes(old, new) == [
        "changed  a.csv: 2 lines differ",
        "removed  gone.csv",
        "added    new.csv (2 lines)",
    ]


def test_regenerate_refuses_an_unknown_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dry-run"]) == 2
    assert "usage: regenerate [--check]" in capsys.readouterr().out
