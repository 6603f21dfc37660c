"""The optional native build (``make native``: mypyc) behaves exactly like the pure one.

Runs when ``CARECHART_NATIVE`` names the Python of a native build (``make test`` sets it when
a C compiler is present); skipped otherwise. The native install is run from a temporary
folder, so that it imports its compiled modules rather than this source tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

_NATIVE = os.environ.get("CARECHART_NATIVE", "")
NATIVE = os.path.abspath(_NATIVE) if _NATIVE else ""
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not NATIVE, reason="no native build to check (make native; CARECHART_NATIVE=python)"
)


def _compiled_modules() -> tuple[str, ...]:
    """The modules pyproject.toml's mypyc hook compiles, as dotted names."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        hook = tomllib.load(f)["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]
    return tuple(path.removesuffix(".py").replace("/", ".") for path in hook["include"])


COMPILED = _compiled_modules()


def _carechart(python: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from simulation.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [python, "-c", code, *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_hot_modules_are_compiled(tmp_path: Path) -> None:
    """Every module pyproject.toml lists is an extension module in the native build."""
    assert "pathway.guidelines.aih.rules" in COMPILED
    assert "simulation.model.disease" in COMPILED
    code = (
        "import importlib, sys\nfor m in sys.argv[1:]: print(importlib.import_module(m).__file__)"
    )
    done = subprocess.run(
        [NATIVE, "-c", code, *COMPILED], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    files = done.stdout.split()
    assert len(files) == len(COMPILED)
    assert all(f.endswith(".so") and "site-packages" in f for f in files), files


@pytest.mark.parametrize("policy", ["guideline", "mmf_first_line"])
def test_native_outputs_are_byte_identical(tmp_path: Path, policy: str) -> None:
    """The same cohort and seed give the same patients.csv, events.csv and summary.json."""
    args = ("simulate", "--patients", "150", "--years", "10", "--seed", "5", "--workers", "2")
    outs = {}
    for name, python in (("pure", sys.executable), ("native", NATIVE)):
        out = tmp_path / name
        cwd = ROOT if name == "pure" else tmp_path
        done = _carechart(python, *args, "--policy", policy, "--out", str(out), cwd=cwd)
        assert done.returncode == 0, done.stderr
        outs[name] = out
    for file in ("patients.csv", "events.csv", "summary.json"):
        assert (outs["native"] / file).read_bytes() == (outs["pure"] / file).read_bytes(), file


def test_native_build_replays_the_scenario_library(tmp_path: Path) -> None:
    """Every scenario of the library passes on the native build too."""
    done = _carechart(NATIVE, "replay", str(ROOT / "scenarios"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert ", 0 failed" in done.stdout


_COPY_AND_PICKLE = """
import copy, pickle
from pathway import AIHPathway, PatientRecord
from pathway.invariants import Violation
from pathway.guidelines.aih.timers import TIMERS
from simulation.model.disease import MeldFormula, ModelConstants
from simulation.model.parameters import load_parameters

chart = AIHPathway(PatientRecord("p1", age=40, sex="F", weight_kg=60))
chart.observe("labs", {"alt_xuln": 5.0, "igg_xuln": 1.5}, day=0.0)
chart.take("start_prednisolone", day=0.0)
chart.monitor.violations.append(Violation("AIH-INV-01", 0.0, 1, "planted", True))
p = load_parameters()
for obj in (ModelConstants.from_parameters(p), MeldFormula.from_parameters(p), TIMERS[0]):
    assert pickle.loads(pickle.dumps(obj)) == obj == copy.deepcopy(obj), type(obj)
for twin in (copy.deepcopy(chart), pickle.loads(pickle.dumps(chart))):
    assert twin.sorted_configuration() == chart.sorted_configuration()
    assert twin.model.labs == chart.model.labs and len(twin.model.labs) == 1
    assert twin.violations == chart.violations and len(twin.violations) == 1
    assert twin.model.drugs == chart.model.drugs and twin.model.drugs
print("ok")
"""


def test_native_charts_copy_and_pickle(tmp_path: Path) -> None:
    """A chart holding a lab panel and a violation, and the disease model's constants,
    survive ``copy.deepcopy`` and ``pickle`` in the native build (mypyc's frozen dataclasses
    refused the field assignments of the default restore: ``FrozenInstanceError``)."""
    for python in (sys.executable, NATIVE):
        done = subprocess.run(
            [python, "-c", _COPY_AND_PICKLE], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, (python, done.stderr[-1500:])
        assert done.stdout.strip() == "ok"
