"""Scenario loading: typed results, one-line errors with positions, safety, and fuzzing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from simulation.scenarios.scenario import (
    MAX_NODES,
    Expectation,
    Scenario,
    ScenarioError,
    TimelineEntry,
    find_scenario_files,
    load_scenario,
    parse_scenario,
)

from .scenario_support import LIBRARY

_ERROR_LINE = re.compile(r"^[^\n]+:\d+:\d+: [^\n]+$")

_MINIMAL = """\
name: Minimal
patient: {age: 40, sex: F, weight_kg: 65}
"""


def _error(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, file="s.yaml")
    assert _ERROR_LINE.match(str(info.value)), str(info.value)
    return info.value


# --- typed results ---------------------------------------------------------------------------


def test_spec_shaped_scenario_becomes_typed_objects() -> None:
    """Patient, labs, timeline, expectations and horizon arrive typed, in file order."""
    scenario = parse_scenario(
        _MINIMAL
        + """\
labs: {alt_xuln: 8, ast_xuln: 7.0}
timeline:
  - day: 0
    action: start_budesonide
  - day: 28
    labs: {alt_xuln: 2.1}
  - day: 28
    intolerance: azathioprine
  - day: 90
    decompensation: true
expect:
  - day: 15
    in_state: induction
    on_drugs: [budesonide, azathioprine]
    dose: {azathioprine: [50, 124], budesonide: 9}
  - day: 90
    deviation: start_budesonide
""".replace(
            "day: 90\n    deviation", "day: 90\n    response: relapse\n  - day: 91\n    recommends"
        ).replace("recommends: start_budesonide", "recommends: [refer_transplant]"),
        file="story.yaml",
    )
    assert isinstance(scenario, Scenario)
    assert scenario.patient_id == "story"
    assert scenario.labs == {"alt_xuln": 8.0, "ast_xuln": 7.0}
    assert [(e.day, e.kind, e.name, e.value) for e in scenario.timeline] == [
        (0.0, "action", "start_budesonide", None),
        (28.0, "finding", "labs", {"alt_xuln": 2.1}),
        (28.0, "finding", "intolerance", "azathioprine"),
        (90.0, "finding", "decompensation", None),
    ]
    assert all(isinstance(e, TimelineEntry) and e.line > 0 for e in scenario.timeline)
    first = scenario.expect[0]
    assert isinstance(first, Expectation)
    assert first.in_state == ("induction",)
    assert first.dose == {"azathioprine": (50.0, 124.0), "budesonide": (9.0, 9.0)}
    assert first.checks == ("in_state", "on_drugs", "dose")
    assert first.key_lines["dose"] == first.line + 3
    assert scenario.expect[-1].recommends == ("refer_transplant",)
    assert scenario.horizon_days == 92.0  # last day named + 1


def test_record_carries_patient_attributes() -> None:
    """The patient record is built from the patient section; pregnant maps to pregnancy."""
    scenario = parse_scenario(
        "name: P\npatient: {age: 30, sex: F, weight_kg: 60, tpmt: deficient, pregnant: true}\n"
    )
    rec = scenario.record()
    assert (rec.age, rec.sex, rec.weight_kg, rec.tpmt, rec.pregnancy) == (
        30,
        "F",
        60,
        "deficient",
        "pregnant",
    )
    assert [o.name for o in scenario.baseline(rec)] == ["pregnant"]


def test_every_library_file_loads() -> None:
    """Every file in scenarios/ is a valid scenario."""
    assert LIBRARY
    for path in LIBRARY:
        assert isinstance(load_scenario(path), Scenario)


def test_directory_expands_to_sorted_yaml_files(tmp_path: Path) -> None:
    """A directory contributes its *.yaml files, sorted; other files are ignored."""
    for name in ("b.yaml", "a.yaml", "notes.md"):
        (tmp_path / name).write_text(_MINIMAL, encoding="utf-8")
    files = find_scenario_files([tmp_path, "missing.yaml"])
    assert [Path(f).name for f in files] == ["a.yaml", "b.yaml", "missing.yaml"]


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("", (1, 1), "empty file"),
        ("- a\n- b\n", (1, 1), "a scenario must be a mapping"),
        ("name: x\n", (1, 1), "the scenario needs 'patient'"),
        ("name: x\n---\nname: y\n", (2, 1), "invalid YAML: but found another document"),
        (_MINIMAL + "horizon: 30\n", (3, 1), "unknown key 'horizon'"),
        (_MINIMAL + "horizon_days: 0\n", (3, 15), "'horizon_days' must be a number in days"),
        (
            _MINIMAL + "timeline:\n  - {day: 50, labs: {alt_xuln: 1}}\nhorizon_days: 40\n",
            (5, 15),
            "'horizon_days' must be >= the last day named (50)",
        ),
        (
            "name: x\npatient: {age: 12, sex: F, weight_kg: 40}\n",
            (2, 16),
            "'age' must be a number in years within [18, 110] (got 12)",
        ),
        (
            "name: x\npatient: {age: 40, sex: female, weight_kg: 60}\n",
            (2, 25),
            "'sex' must be one of [F, M] (got 'female')",
        ),
        (
            "name: x\npatient: {age: 40, sex: M, weight_kg: 60, pregnant: true}\n",
            (2, 53),
            "'pregnant: true' needs sex F",
        ),
        (
            "name: x\npatient: {age: true, sex: F, weight_kg: 60}\n",
            (2, 16),
            "(got True)",
        ),
        (_MINIMAL + "labs: {alt_xuln: .nan}\n", (3, 18), "lab 'alt_xuln' must be"),
        (_MINIMAL + "labs: {}\n", (3, 7), "'labs' must hold at least one lab value"),
        (
            _MINIMAL + "timeline:\n  - day: 4w\n    hcc: true\n",
            (4, 10),
            "'day' must be a plain number in days from diagnosis, without a unit",
        ),
        (
            _MINIMAL + "timeline:\n  - day: 2024-01-05\n    hcc: true\n",
            (4, 10),
            "(got '2024-01-05')",
        ),
        (
            _MINIMAL + "timeline:\n  - day: 3\n    hcc: yes please\n",
            (5, 10),
            "'hcc' takes no value; write 'hcc: true'",
        ),
        (
            (_MINIMAL + "timeline:\n  - day: 3\n    pregnant: true\n").replace("F", "M"),
            (5, 15),
            "'pregnant' needs a patient of sex F",
        ),
        (
            _MINIMAL + "timeline:\n  - day: 3\n    intolerance: aspirin\n",
            (5, 18),
            "'intolerance' must be one of",
        ),
        (
            _MINIMAL + "timeline:\n  - day: 3\n    hcc: true\n    death: true\n",
            (4, 5),
            "holds one finding or one action besides 'day' (got ['hcc', 'death'])",
        ),
        (
            _MINIMAL + "timeline:\n  - day: 3\n    action: start_prednisone\n",
            (5, 13),
            "(did you mean 'start_prednisolone'?)",
        ),
        (_MINIMAL + "expect:\n  - day: 3\n", (4, 5), "needs at least one check"),
        (
            _MINIMAL + "expect:\n  - {day: 3, in_state: [induction, induction]}\n",
            (4, 36),
            "names 'induction' twice",
        ),
        (
            _MINIMAL + "expect:\n  - {day: 9, response: remission}\n  - {day: 3, on_drugs: []}\n",
            (4, 24),
            "'response' must be one of",
        ),
        (
            _MINIMAL + "expect:\n  - {day: 9, on_drugs: x}\n  - {day: 3, on_drugs: []}\n",
            (4, 24),
            "'on_drugs' must be one of",
        ),
        (
            _MINIMAL + "expect:\n  - {day: 3, dose: {azathioprine: [100, 50]}}\n",
            (4, 35),
            "range must have low <= high",
        ),
        (
            _MINIMAL + "expect:\n  - {day: 3, dose: {azathioprine: 50 mg}}\n",
            (4, 35),
            "without a unit (got '50 mg')",
        ),
        (_MINIMAL + "violates: [INV-99]\n", (3, 12), "an invariant rule id (got 'INV-99')"),
        (_MINIMAL + "violates: [AIH-IND-01]\n", (3, 12), "'violates' must be"),
        (_MINIMAL + "a: &x [*x]\n", (3, 4), "recursive alias"),
        (_MINIMAL + "? [1, 2]\n: x\n", (3, 3), "keys must be text"),
        (_MINIMAL + "x: !!binary aGk=\n", (3, 4), "tag '!!binary' is not allowed"),
        (_MINIMAL + "x: !custom 1\n", (3, 4), "tag '!custom' is not allowed"),
        ("name: x\n" + "p: " + "[" * 40 + "]" * 40 + "\n", (2, 28), "nested deeper than"),
    ],
)
def test_invalid_text_gives_one_line_with_position(
    text: str, position: tuple[int, int], fragment: str
) -> None:
    """Each kind of mistake is one ScenarioError line with the right position and message."""
    err = _error(text)
    assert fragment in err.message, err.message
    assert (err.line, err.column) == position, str(err)


def test_error_carries_found_and_expected() -> None:
    """The error's found and expected fields name the offending value and the rule."""
    err = _error(_MINIMAL + "expect:\n  - {day: 3, dose: {azathioprine: fifty}}\n")
    assert err.found == "fifty"
    assert err.expected == "mg/day number or [low, high]"
    assert str(err) == (
        "s.yaml:4:35: 'dose' for 'azathioprine' must be mg/day number or [low, high] (got 'fifty')"
    )


def test_alias_bomb_fails_fast() -> None:
    """A billion-laughs document fails on the node budget instead of expanding."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        levels.append(f"a{i}: &a{i} [{refs}]")
    err = _error("\n".join(levels) + "\n")
    assert f"more than {MAX_NODES} values" in err.message


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported with their position."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError, match=r"latin1.yaml:1:10: file is not UTF-8 text"):
        load_scenario(path)


def test_object_tag_never_constructs(tmp_path: Path) -> None:
    """An object-constructing tag is refused before anything is built or run."""
    marker = tmp_path / "ran"
    text = f'name: !!python/object/apply:os.system ["touch {marker}"]\npatient: {{}}\n'
    err = _error(text)
    assert err.found == "!!python/object/apply:os.system"
    assert not marker.exists()


# --- fuzzing ---------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["induction", "azathioprine", "start_budesonide", "INV-01", "F", "M"]),
)
_keys = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        ["name", "patient", "labs", "timeline", "expect", "day", "dose", "age", "sex", "action"]
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=20,
)


def _outcome(text: str) -> Scenario | ScenarioError:
    """The loader's result: a Scenario, or the ScenarioError it raised (any other escapes)."""
    outcome: Scenario | ScenarioError
    try:
        outcome = parse_scenario(text, file="fuzz.yaml")
    except ScenarioError as exc:
        outcome = exc
    if isinstance(outcome, ScenarioError):
        assert _ERROR_LINE.match(str(outcome)), str(outcome)
    return outcome


@given(st.text(max_size=300))
def test_fuzz_any_text_gives_scenario_or_scenario_error(text: str) -> None:
    """Arbitrary text never escapes as another exception."""
    assert isinstance(_outcome(text), Scenario | ScenarioError)


@given(_values)
def test_fuzz_any_yaml_document_gives_scenario_or_scenario_error(value: Any) -> None:
    """Arbitrary YAML documents never escape as another exception."""
    assert isinstance(_outcome(yaml.safe_dump(value)), Scenario | ScenarioError)


_BASES = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in LIBRARY[:12]]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def _mutated(draw: st.DrawFn) -> Any:
    import copy

    doc = copy.deepcopy(draw(st.sampled_from(_BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        kind = draw(st.sampled_from(["replace", "delete", "insert"]))
        if kind == "replace":
            parent[path[-1]] = draw(_values)
        elif kind == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(_keys)] = draw(_values)
        else:
            parent.insert(path[-1], draw(_values))
    return doc


@given(_mutated())
def test_fuzz_mutated_library_scenarios_give_scenario_or_scenario_error(doc: Any) -> None:
    """Valid scenarios with values replaced, deleted or inserted never crash the loader."""
    assert isinstance(_outcome(yaml.safe_dump(doc, sort_keys=False)), Scenario | ScenarioError)
