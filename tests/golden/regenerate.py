"""The golden outputs: small seeded runs whose bytes a refactor must not change.

``make golden`` (``python -m tests.golden.regenerate``) rewrites the files of this folder
from the current code and says what changed: each file added, removed or changed, with its
count of differing lines (``--check``: only says it, and exits 1 if anything would
change). tests/test_golden.py compares the current code's outputs with the files byte for
byte.

Run it deliberately: after a change meant to alter simulated courses (a parameter, a rule,
a hazard), regenerate, read the diff (``git diff tests/golden``), and say in CHANGELOG.md
why the outputs changed. Never regenerate to make an unexplained difference go away.

What is kept (about 400 KB in all):

- ``runs/NAME/patients.csv`` and ``runs/NAME/events.csv`` of each run of :data:`RUNS`, as
  ``carechart simulate`` writes them (the same rows, in patient order);
- ``sweep/sweep.json``: a small ``carechart sweep`` (:data:`SWEEP`: parameter draws, two
  policies on the same patients);
- ``scenarios/NAME.csv``: the events.csv rows of each scenario of scenarios/ whose course
  deviates from the guideline (a deviation step or a declared violation), replayed.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pathway.atomic import write_atomic
from simulation.model.parameters import load_parameters
from simulation.results.outputs import EVENT_COLUMNS, trace_events
from simulation.run.cohort import apply_overrides, load_cohort, run_cohort
from simulation.run.sweep import parse_vary, run_sweep
from simulation.scenarios.replay import replay_scenario
from simulation.scenarios.scenario import find_scenario_files, load_scenario

__all__ = ["FOLDER", "RUNS", "GoldenRun", "changes", "main", "produce", "stored"]

#: This folder: the golden files live under it.
FOLDER = Path(__file__).resolve().parent
_ROOT = FOLDER.parents[1]
_SCENARIOS = _ROOT / "scenarios"
_HEADER = ",".join(EVENT_COLUMNS) + "\n"


@dataclass(frozen=True)
class GoldenRun:
    """One seeded cohort run: the options of ``carechart simulate`` it stands for."""

    name: str
    patients: int
    years: float
    seed: int
    policy: str = "guideline"
    sets: tuple[str, ...] = ()

    def command(self) -> str:
        """The equivalent command line (for messages)."""
        sets = "".join(f" --set {s}" for s in self.sets)
        return (
            f"carechart simulate --patients {self.patients} --years {self.years:g} "
            f"--seed {self.seed} --policy {self.policy}{sets}"
        )


#: The runs, small enough that all of them take a few seconds.
RUNS: tuple[GoldenRun, ...] = (
    GoldenRun("default", patients=12, years=5, seed=20250101),
    GoldenRun("mmf_first_line", patients=8, years=4, seed=11, policy="mmf_first_line"),
    GoldenRun(
        "budesonide_when_eligible", patients=8, years=3, seed=12, policy="budesonide_when_eligible"
    ),
    GoldenRun(
        "acute_severe",
        patients=8,
        years=2,
        seed=13,
        sets=(
            "cohort.presentation.acute_severe=0.8",
            "cohort.presentation.acute_liver_failure=0.2",
        ),
    ),
    GoldenRun(
        "overrides",
        patients=10,
        years=6,
        seed=14,
        sets=(
            "intolerance.azathioprine_1y=0.4",
            "relapse.withdrawal_1y=0.7",
            "liver.cirrhosis_per_year=0.15",
            "adherence.nonadherence_per_year=0.5",
            "pregnancy.plan_per_year=0.3",
            "thresholds.relapse_alt_xuln=2.5",
        ),
    ),
    # Cirrhosis, HCC, transplant, recurrence and graft failure made common, so that the
    # runs together exercise every hazard condition (tests/test_golden.py checks it).
    GoldenRun(
        "liver_transplant",
        patients=8,
        years=5,
        seed=16,
        sets=(
            "cohort.cirrhosis.decompensated=0.5",
            "liver.hcc_per_1000py_cirrhosis=150",
            "transplant.candidate_share=1.0",
            "transplant.recurrence_5y=0.5",
            "transplant.recurrence_10y=0.7",
            "transplant.graft_loss_per_year=0.3",
        ),
    ),
)


def _run_files(run: GoldenRun) -> dict[str, str]:
    cohort, params, thresholds = apply_overrides(
        load_cohort(),
        load_parameters(),
        [*run.sets, f"cohort.patients={run.patients}", f"cohort.years={run.years}"],
    )
    result = run_cohort(
        cohort, parameters=params, thresholds=thresholds, seed=run.seed, policy=run.policy
    )
    return {
        f"runs/{run.name}/patients.csv": result.patients_csv(),
        f"runs/{run.name}/events.csv": result.events_csv(),
    }


#: A small sweep (``carechart sweep``): its draws and summaries as JSON.
SWEEP: dict[str, Any] = {
    "vary": ("relapse.withdrawal_1y=0.3:0.7", "response.pred_aza_cbr=beta(mean=0.6, sd=0.1)"),
    "draws": 3,
    "patients": 6,
    "years": 3,
    "seed": 15,
    "policies": ("guideline", "mmf_first_line"),
}


def _sweep_file() -> dict[str, str]:
    s = SWEEP
    result = run_sweep(
        [parse_vary(v) for v in s["vary"]],
        draws=s["draws"],
        patients=s["patients"],
        years=s["years"],
        seed=s["seed"],
        policies=s["policies"],
    )
    return {"sweep/sweep.json": result.to_json() + "\n"}


def _scenario_files() -> dict[str, str]:
    files: dict[str, str] = {}
    for path in find_scenario_files([_SCENARIOS]):
        result = replay_scenario(load_scenario(path))
        trace = result.chart.trace
        if not (result.scenario.violates or any(s.deviation for s in trace)):
            continue
        name = Path(path).stem
        files[f"scenarios/{name}.csv"] = _HEADER + trace_events(name, trace)[0]
    return files


def produce() -> dict[str, str]:
    """Every golden file's text as the current code makes it, by path under :data:`FOLDER`."""
    files: dict[str, str] = {}
    for run in RUNS:
        files.update(_run_files(run))
    files.update(_sweep_file())
    files.update(_scenario_files())
    return files


def stored() -> dict[str, str]:
    """The golden files as stored (every ``.csv`` and ``.json`` under :data:`FOLDER`)."""
    paths = sorted([*FOLDER.rglob("*.csv"), *FOLDER.rglob("*.json")])
    return {p.relative_to(FOLDER).as_posix(): p.read_bytes().decode("utf-8") for p in paths}


def differing_lines(old: str, new: str) -> int:
    """Lines removed plus lines added between two texts."""
    diff = difflib.ndiff(old.splitlines(), new.splitlines())
    return sum(1 for line in diff if line[:2] in ("- ", "+ "))


def changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """What differs between two sets of golden files, a line per file, sorted by path."""
    lines = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            lines.append(f"removed  {path}")
        elif path not in old:
            lines.append(f"added    {path} ({new[path].count(chr(10))} lines)")
        elif old[path] != new[path]:
            n = differing_lines(old[path], new[path])
            lines.append(f"changed  {path}: {n} lines differ")
    return lines


def main(argv: Sequence[str] = ()) -> int:
    """Rewrite the golden files from the current code and print what changed.

    With ``--check``, write nothing: print what would change and exit 1 if anything would.
    """
    unknown = [a for a in argv if a != "--check"]
    if unknown:
        print(f"regenerate: unknown argument(s) {unknown}; usage: regenerate [--check]")
        return 2
    old, new = stored(), produce()
    if "--check" in argv:
        report = changes(old, new)
        for line in report:
            print(line)
        print(f"{len(report)} of {len(new)} golden files would change")
        return 1 if report else 0
    for path in old.keys() - new.keys():
        (FOLDER / path).unlink()
    for path, text in new.items():
        if old.get(path) != text:
            (FOLDER / path).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(FOLDER / path, text)
    report = changes(old, new)
    for line in report:
        print(line)
    size = sum(len(t.encode()) for t in new.values())
    print(
        f"{len(report)} of {len(new)} golden files changed ({size / 1024:.0f} KB in all)"
        + ("; say why in CHANGELOG.md" if report else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
