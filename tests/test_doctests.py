"""Every ``>>>`` example in the code and the documents is collected as a doctest."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
_EXAMPLE = re.compile(r"^\s*>>> ", re.MULTILINE)


def _pytest_options() -> dict[str, object]:
    with (_ROOT / "pyproject.toml").open("rb") as f:
        options: dict[str, object] = tomllib.load(f)["tool"]["pytest"]["ini_options"]
    return options


def test_doctests_run_over_the_packages_and_documents() -> None:
    options = _pytest_options()
    addopts = str(options["addopts"]).split()
    assert "--doctest-modules" in addopts
    assert "--doctest-glob=*.md" in addopts
    assert {"pathway", "simulation", "docs", "README.md"} <= set(options["testpaths"])  # type: ignore[arg-type]


def test_no_module_with_examples_is_left_out() -> None:
    namespace: dict[str, object] = {}
    exec((_ROOT / "conftest.py").read_text(encoding="utf-8"), namespace)
    optional = set(namespace["_NEEDS"])  # type: ignore[arg-type]
    globs: list[str] = namespace["collect_ignore_glob"]  # type: ignore[assignment]
    with_examples = [
        p.relative_to(_ROOT).as_posix()
        for d in ("pathway", "simulation")
        for p in (_ROOT / d).rglob("*.py")
        if _EXAMPLE.search(p.read_text(encoding="utf-8"))
    ]
    assert with_examples, "no docstring examples found: the pattern is wrong"
    left_out = [
        p for p in with_examples if p in optional or any(fnmatch.fnmatch(p, g) for g in globs)
    ]
    assert not left_out, f"modules with examples that are never collected: {left_out}"
