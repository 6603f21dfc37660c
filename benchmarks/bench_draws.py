"""Benchmark: counter-based draws (simulation.model.draws) against numpy's Generator (issue 14).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_draws.py                  # 200 patients x 10 years
    .venv/bin/python benchmarks/bench_draws.py --patients 500

Printed, side by side in one run (nanoseconds per draw unless said otherwise):

* scalar, one value per call (what the patient model does for clocks and courses):
  ``Generator.standard_exponential()`` against ``PatientStream.standard_exponential()``;
* scalar, blocks of 384 normals (the model's lab-noise block);
* per patient: making today's 21 generators (``SeedSequence`` + PCG64) against the 21
  ``PatientStream`` objects and their first draw (Philox made on first use);
* array (the vector engine): uniforms, normals and exponentials for 100,000 patients at once,
  against ``Generator.standard_normal(100_000)``;
* whole cohort: the compiled engine with the old generators and with the streams.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pathway import Thresholds
from simulation.model import draws
from simulation.model.disease import ModelConstants
from simulation.model.parameters import load_parameters
from simulation.run import cohort
from simulation.run.cohort import RunSettings, load_cohort

STREAMS = 21  # root + attributes + model, the model's 3 streams and 17 clocks: 2 + 3 + 17 - 1


def _best(fn: Callable[[], Any], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = perf_counter()
        fn()
        best = min(best, perf_counter() - t)
    return best


def _old_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def scalar(n: int) -> None:
    """Single draws and blocks, one stream."""
    g = np.random.default_rng(1)
    s = draws.PatientStream(1, 2, 3)
    t_g = _best(lambda: [g.standard_exponential() for _ in range(n)]) / n
    t_s = _best(lambda: [s.standard_exponential() for _ in range(n)]) / n
    print(f"  one exponential per call   Generator {t_g * 1e9:8.0f}   stream {t_s * 1e9:8.0f}")
    t_g = _best(lambda: [g.random() for _ in range(n)]) / n
    t_s = _best(lambda: [s.random() for _ in range(n)]) / n
    print(f"  one uniform per call       Generator {t_g * 1e9:8.0f}   stream {t_s * 1e9:8.0f}")
    blocks = max(1, n // 384)
    t_g = _best(lambda: [g.standard_normal(384) for _ in range(blocks)]) / (384 * blocks)
    t_s = _best(lambda: [s.standard_normal(384) for _ in range(blocks)]) / (384 * blocks)
    print(f"  normals in blocks of 384   Generator {t_g * 1e9:8.0f}   stream {t_s * 1e9:8.0f}")


def per_patient(n: int) -> None:
    """Making a patient's 21 generators against its 21 streams (each used once)."""

    def old() -> None:
        for i in range(n):
            root = _old_rng(7, i)
            _, model = root.spawn(2)
            for child in model.spawn(20):
                child.standard_exponential()

    def new() -> None:
        for i in range(n):
            root = draws.PatientStream(7, i)
            _, model = root.spawn(2)
            for child in model.spawn(20):
                child.standard_exponential()

    t_old, t_new = _best(old, 3) / n, _best(new, 3) / n
    print(
        f"  21 generators + a draw each (us/patient)  Generator {t_old * 1e6:6.0f}"
        f"   streams {t_new * 1e6:6.0f}"
    )


def arrays(n: int) -> None:
    """The vector engine's draws: one draw number for n patients at once."""
    p = np.arange(n)
    g = np.random.default_rng(1)
    t_g = _best(lambda: g.standard_normal(n)) / n
    t_u = _best(lambda: draws.uniforms(7, p, 515, 3)) / n
    t_z = _best(lambda: draws.normals(7, p, 515, 3)) / n
    t_e = _best(lambda: draws.exponentials(7, p, 515, 3)) / n
    t_w = _best(lambda: draws.philox4x64(p, 1, p)) / n
    k = (np.arange(n) % 7 * 6)[:, None] + np.arange(6)  # each patient at its own draw number
    t_v = _best(lambda: draws.normals(7, p[:, None], 515, k)) / n
    t_gv = _best(lambda: g.standard_normal((n, 6))) / n
    start = np.arange(n) % 7 * 6
    t_r = _best(lambda: draws.normal_of(*draws.run_words(7, p, 515, start, 6))) / n
    print(
        f"  a lab panel's 6 noise normals, {n:,} patients at once (us per patient-visit): "
        f"Generator {t_gv * 1e6:.2f}   counter-based {t_v * 1e6:.2f}"
        f"   as a run (each block once) {t_r * 1e6:.2f}"
    )
    print(
        f"  {n:,} patients: Generator.standard_normal {t_g * 1e9:5.1f}   uniforms {t_u * 1e9:5.1f}"
        f"   normals {t_z * 1e9:5.1f}   exponentials {t_e * 1e9:5.1f}"
        f"   (Philox blocks alone {t_w * 1e9:5.1f})"
    )


def cohort_run(patients: int, years: float) -> None:
    """The compiled engine on one core with the old generators and with the streams."""
    settings = RunSettings(
        cohort=load_cohort(),
        parameters=load_parameters(),
        thresholds=Thresholds(),
        seed=7,
        policy="guideline",
        horizon_days=years * 365.25,
    )
    constants = ModelConstants.from_parameters(settings.parameters)

    def run() -> None:
        for i in range(patients):
            cohort.simulate_patient(settings, i, constants)

    new_stream = cohort.patient_rng
    times = {}
    for label, factory in (("Generator", _old_rng), ("streams", new_stream)):
        cohort.patient_rng = factory  # type: ignore[assignment]
        try:
            times[label] = _best(run, 2) / patients
        finally:
            cohort.patient_rng = new_stream
    print(
        f"  {patients} patients x {years:g} years, compiled engine, ms/patient: "
        + "   ".join(f"{k} {v * 1e3:.2f}" for k, v in times.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--years", type=float, default=10.0)
    args = parser.parse_args()
    print("Counter-based draws against numpy's Generator (ns per draw; best of 5)")
    scalar(20_000)
    per_patient(500)
    arrays(100_000)
    cohort_run(args.patients, args.years)


if __name__ == "__main__":
    main()
