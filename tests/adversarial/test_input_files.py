"""Input files: every YAML/JSON input is read by one hardened loader (simulation.input_files)."""

from __future__ import annotations

import ast
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simulation.input_files import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, parse_json, parse_yaml
from simulation.model.parameters import load_parameters
from simulation.results.calibration import load_result, load_targets
from simulation.run.cohort import load_cohort
from simulation.scenarios.scenario import load_scenario
from simulation.train.cases import load_case
from simulation.verify.findings import load_declarations

from .support import one_error_line, simulate

#: Every loader of a YAML input file, by the name of what it reads.
YAML_LOADERS: dict[str, Callable[[Path], Any]] = {
    "cohort": load_cohort,
    "parameters": load_parameters,
    "targets": load_targets,
    "declarations": load_declarations,
}
#: Every loader, the JSON calibration result included.
LOADERS: dict[str, Callable[[Path], Any]] = {**YAML_LOADERS, "calibration": load_result}


def _error(load: Callable[[Path], Any], path: Path, seconds: float = 5.0) -> str:
    """The one-line message of the ValueError ``load(path)`` raises within ``seconds``."""
    started = time.monotonic()
    with pytest.raises(ValueError, match=re.escape(str(path))) as info:
        load(path)
    assert time.monotonic() - started < seconds
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_deep_nesting_is_one_line_not_a_recursion_error(kind: str, tmp_path: Path) -> None:
    """50,000 levels of nesting are refused with the file and line, not RecursionError."""
    path = tmp_path / "deep.yaml"
    path.write_text('{"a":\n  ' + "[" * 50_000 + "]" * 50_000 + "}\n")  # JSON and YAML
    message = _error(LOADERS[kind], path)
    assert re.search(rf"deep\.yaml:2:\d+: .*nested deeper than {MAX_DEPTH} levels", message)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_device_is_refused_without_reading(kind: str) -> None:
    """/dev/zero never ends: it is refused as a device before a byte is read."""
    message = _error(LOADERS[kind], Path("/dev/zero"), seconds=2.0)
    assert "found a character device, expected a file" in message


@pytest.mark.parametrize("kind", sorted(YAML_LOADERS))
def test_fifo_is_refused_without_blocking(kind: str, tmp_path: Path) -> None:
    """A named pipe with no writer would block the command for ever: refused at once."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(_error(LOADERS[kind], fifo)))
    worker.start()
    worker.join(5)
    if worker.is_alive():  # unblock it before failing
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert "found a named pipe (FIFO), expected a file" in outcome[0]


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_huge_file_is_refused_before_parsing(kind: str, tmp_path: Path) -> None:
    """A 200 MB file is refused at once (it took minutes to parse), naming the limit."""
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: costs no disk space
    message = _error(LOADERS[kind], path, seconds=2.0)
    assert f"found 209,715,200 bytes, expected at most {MAX_FILE_BYTES:,}" in message


@pytest.mark.parametrize("kind", sorted(YAML_LOADERS))
def test_alias_bomb_fails_at_once(kind: str, tmp_path: Path) -> None:
    """A billion-laughs document stops at the value budget instead of eating memory."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(levels) + "\n")
    assert f"more than {MAX_NODES} values" in _error(YAML_LOADERS[kind], path)


@pytest.mark.parametrize("kind", sorted(YAML_LOADERS))
def test_object_tags_and_bad_bytes_name_their_line(kind: str, tmp_path: Path) -> None:
    """A Python object tag is refused; bytes that are not UTF-8 are named with their line."""
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("schema: 1\nx: !!python/object/apply:os.system ['true']\n")
    assert "tagged.yaml:2:4: tag '!!python/object/apply:os.system' is not allowed" in _error(
        YAML_LOADERS[kind], tagged
    )
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"schema: 1\nname: caf\xe9\n")
    assert "latin.yaml:2:10: found byte 0xe9 at offset 19" in _error(YAML_LOADERS[kind], latin)


def test_parameter_file_refuses_duplicate_keys(tmp_path: Path) -> None:
    """A parameter given twice was silently the last one; now both lines are named."""
    shipped = Path(load_parameters().origin)
    root = Path(__file__).resolve().parents[2]
    text = (root / shipped).read_text(encoding="utf-8")
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  ") and line[2] not in " #")
    entry = [lines[first]]
    for line in lines[first + 1 :]:
        if not line.startswith("    "):
            break
        entry.append(line)
    path = tmp_path / "parameters.yaml"
    path.write_text(text.rstrip("\n") + "\n" + "\n".join(entry) + "\n", encoding="utf-8")
    message = _error(load_parameters, path)
    name = lines[first].strip().rstrip(":")
    assert f"parameters.yaml:{len(lines) + 1}:3: duplicate key {name!r}" in message
    assert f"(first at line {first + 1})" in message


@pytest.mark.parametrize("kind", [*sorted(YAML_LOADERS), "scenario", "case"])
def test_every_yaml_input_refuses_duplicate_keys(kind: str, tmp_path: Path) -> None:
    """Each kind of YAML input, scenarios and trainer cases too, names both lines of a key
    given twice instead of keeping the last one."""
    loaders: dict[str, Callable[[Path], Any]] = {
        **YAML_LOADERS,
        "scenario": load_scenario,
        "case": load_case,
    }
    path = tmp_path / "dup.yaml"
    path.write_text("schema: 1\nnote: a\nnote: b\n", encoding="utf-8")
    message = _error(loaders[kind], path)
    assert "dup.yaml:3:1: duplicate key 'note': found it twice (first at line 2)" in message


#: Parsers of YAML and JSON text: called on a file's contents anywhere but in input_files,
#: they would bypass its limits (size, depth, aliases, duplicate keys).
_PARSERS = {"load", "loads", "safe_load", "full_load", "unsafe_load", "compose", "load_all",
            "safe_load_all", "compose_all"}  # fmt: skip
#: The parsing calls that read no file, with the reason.
_NOT_FILES = {
    ("simulation/run/cohort.py", "yaml.safe_load"): "a --set value on the command line",
    ("simulation/train/sessions.py", "json.loads"): "a round trip of data already in memory",
}


def test_only_input_files_parses_yaml_or_json() -> None:
    """Every YAML and JSON input of simulation/ goes through the one hardened loader."""
    root = Path(__file__).resolve().parents[2]
    found = set()
    for path in sorted((root / "simulation").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel == "simulation/input_files.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("yaml", "json")
                and node.func.attr in _PARSERS
            ):
                found.add((rel, f"{node.func.value.id}.{node.func.attr}"))
    assert found == set(_NOT_FILES)


def test_json_duplicate_keys_and_depth() -> None:
    """The JSON loader names a duplicate key's line and refuses deep nesting."""
    with pytest.raises(ValueError, match=r"r\.json:3:3: duplicate key 'kind'"):
        parse_json('{\n  "kind": 1,\n  "kind": 2\n}\n', "r.json")
    with pytest.raises(ValueError, match=rf"r\.json:1:\d+: nested deeper than {MAX_DEPTH}"):
        parse_json("[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2), "r.json")


def test_scientific_notation_is_a_number() -> None:
    """``1e-3`` is a number, as YAML 1.2 and JSON have it (PyYAML alone reads text)."""
    assert parse_yaml("a: 1e-3\nb: '1e-3'\nc: 2.5E+2\n", "x.yaml") == {
        "a": 0.001,
        "b": "1e-3",
        "c": 250.0,
    }


def test_simulate_with_dev_zero_cohort_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--cohort /dev/zero`` read until MemoryError; now one line and exit 2 at once."""
    started = time.monotonic()
    assert simulate(tmp_path / "o", "--cohort", "/dev/zero") == 2
    assert time.monotonic() - started < 5
    line = one_error_line(capsys.readouterr().err)
    assert "/dev/zero: found a character device, expected a file" in line
    assert not (tmp_path / "o").exists()


def test_parameter_field_error_names_its_line(tmp_path: Path) -> None:
    """A bad value in a parameter file is named with its file and line, like cohorts."""
    root = Path(__file__).resolve().parents[2]
    text = (root / "simulation" / "data" / "parameters.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("    value: "))
    lines[at] = "    value: high"
    path = tmp_path / "p.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert re.search(
        rf"p\.yaml:{at + 1}: [\w.]+\.value: found 'high', expected a finite number",
        _error(load_parameters, path),
    )


def test_targets_and_declarations_name_the_line_of_the_entry(tmp_path: Path) -> None:
    """An entry at fault in a targets or declarations file is named by its line."""
    declared = tmp_path / "d.yaml"
    declared.write_text("declared:\n  - code: gap\n    subject: x\n")
    assert f"{declared}:2: entry 1: keys must be" in _error(load_declarations, declared)
    targets = tmp_path / "t.yaml"
    targets.write_text("schema: 1\ntargets:\n  # the first\n  - study: x\n")
    assert f"{targets}:4: target #1: missing fields" in _error(load_targets, targets)
