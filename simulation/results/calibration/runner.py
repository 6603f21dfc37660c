"""Running the calibration: each group of targets simulated once, then measured.

Targets sharing cohort, policy and horizon share one run; every run uses the same seed, so
the arms of a trial are simulated on the same virtual patients.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from ...model.parameters import load_parameters
from ...model.policies import STRATEGIES, Strategy
from ...run import cohort as engine
from ...run.output_folder import temporary_folder
from ...version import software_version
from ..cohort_outputs import CohortOutputs, load_outputs
from ..outputs import summary_json
from .measures import measure
from .result import CalibrationResult, TargetResult
from .targets import CalibrationError, Target

__all__ = ["DEFAULT_PATIENTS", "DEFAULT_SEED", "Simulate", "override_strings", "run_calibration"]

DEFAULT_PATIENTS = 2000
DEFAULT_SEED = 20250101


Simulate = Callable[[Target, int, int, Path], CohortOutputs]
"""Runs one target's cohort: (target, patients, seed, out_dir) -> outputs."""


def run_calibration(
    targets: Sequence[Target],
    *,
    patients: int = DEFAULT_PATIENTS,
    seed: int = DEFAULT_SEED,
    workers: int = 1,
    command: str = "",
    simulate: Simulate | None = None,
    progress: TextIO | None = None,
    engine: str = "compiled",
) -> CalibrationResult:
    """Simulate every target's sub-cohort and measure its quantity.

    Args:
        targets: Targets to run (see :func:`load_targets`).
        patients: Patients per simulated run.
        seed: Seed of every run (the arms of a study share their virtual patients).
        workers: Worker processes per run.
        command: The command line to record in the result.
        simulate: Replaces the cohort engine (tests); default
            :func:`simulation.run.cohort.run_cohort`.
        progress: Where to print one line per run (for example ``sys.stderr``).
        engine: The chart engine (``run_cohort``'s); a target whose policy it cannot run
            (the vector engine and a strategy that prefers or avoids actions) runs on the
            compiled engine, which gives the same outputs.

    Returns:
        The results, in the order of ``targets``.

    Raises:
        ValueError: If ``patients`` is not positive.
    """
    if patients <= 0:
        raise ValueError(f"'patients' must be > 0 (got {patients!r})")
    run = simulate or _engine(workers, engine)
    groups: dict[str, list[Target]] = {}
    for t in targets:
        groups.setdefault(t.run_key(), []).append(t)
    measured: dict[str, TargetResult] = {}
    started = time.perf_counter()
    for i, members in enumerate(groups.values(), start=1):
        first = members[0]
        tick = time.perf_counter()
        # Removed on a stopping signal too, and by a later run if this process is killed.
        with temporary_folder("carechart-calibration") as tmp:
            outputs = run(first, patients, seed, tmp)
        for t in members:
            value, n = measure(t, outputs)
            measured[t.id] = TargetResult(t, value, n)
        if progress is not None:
            ids = ", ".join(t.id for t in members)
            print(
                f"run {i}/{len(groups)}: policy {first.policy_name}, {first.years:g} years, "
                f"{patients} patients ({time.perf_counter() - tick:.0f} s): {ids}",
                file=progress,
                flush=True,
            )
    return CalibrationResult(
        results=tuple(measured[t.id] for t in targets),
        patients=patients,
        seed=seed,
        command=command,
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=software_version(),
        runs=len(groups),
        seconds=time.perf_counter() - started,
    )


def _engine(workers: int, chart_engine: str = "compiled") -> Simulate:
    """The real cohort engine (``carechart simulate``'s), as a :data:`Simulate` function."""

    def simulate(target: Target, patients: int, seed: int, out_dir: Path) -> CohortOutputs:
        sets = override_strings(target)
        cohort, parameters, thresholds = engine.apply_overrides(
            engine.load_cohort(), load_parameters(), sets
        )
        with _registered(target) as policy:
            result = engine.run_cohort(
                cohort,
                parameters=parameters,
                thresholds=thresholds,
                patients=patients,
                years=target.years,
                seed=seed,
                policy=policy,
                workers=workers,
                engine=chart_engine if engine.engine_runs(chart_engine, policy) else "compiled",
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "patients.csv").write_text(result.patients_csv(), encoding="utf-8")
        (out_dir / "events.csv").write_text(result.events_csv(), encoding="utf-8")
        (out_dir / "summary.json").write_text(summary_json(result.summary(sets)), encoding="utf-8")
        return load_outputs(out_dir)

    return simulate


def override_strings(target: Target) -> list[str]:
    """The target's overrides as ``KEY=VALUE`` strings, as ``carechart simulate --set``."""
    return [f"{k}={v}" for k, v in target.overrides.items()]


@contextlib.contextmanager
def _registered(target: Target) -> Iterator[str]:
    """The target's policy name; a strategy written as data is registered while it runs.

    The cohort engine takes strategies by name (:data:`simulation.model.policies.STRATEGIES`).
    Worker processes are forked inside the ``with`` block and inherit the registration.
    """
    if isinstance(target.policy, str):
        yield target.policy
        return
    p = target.policy
    strategy = Strategy(
        name=str(p["name"]),
        description=str(p.get("description", "")),
        prefer=tuple(p.get("prefer", ())),
        avoid=frozenset(p.get("avoid", ())),
    )
    existing = STRATEGIES.get(strategy.name)
    if existing is not None and existing != strategy:
        raise CalibrationError(
            f"target {target.id!r}: policy {strategy.name!r} differs from the named strategy "
            "of that name; rename it"
        )
    STRATEGIES[strategy.name] = strategy
    try:
        yield strategy.name
    finally:
        if existing is None:
            del STRATEGIES[strategy.name]
