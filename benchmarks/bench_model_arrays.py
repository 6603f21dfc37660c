"""Benchmark: lab panels, the scalar patient model against the array model (issue 14).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_model_arrays.py                 # 100,000 patients
    .venv/bin/python benchmarks/bench_model_arrays.py --patients 20000 --distinct 200

``--distinct`` patients of every presentation are run through the chart to random days
(various courses, stages, acute excesses, noise draw numbers); their panels from
:class:`~simulation.model.model_arrays.PanelColumns` are first checked identical to the
scalar models' panels, bit for bit. Their columns are then repeated up to ``--patients``
rows, each row its own patient (its own noise). Printed, side by side: microseconds per
patient-panel with ``DiseaseModel.panel`` (patient by patient; its cost does not depend on
the cohort's size) and with :func:`~simulation.model.model_arrays.panel` (all patients at
once), and the array panel's parts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from pathway import AIHPathway, PatientRecord
from simulation.model import model_arrays
from simulation.model.disease import PANEL_DRAWS, DiseaseModel, ModelConstants
from simulation.model.draws import PatientStream, normal_of, run_words
from simulation.model.parameters import load_parameters
from simulation.run.engine import run_patient

KINDS = (
    ("chronic", "none"),
    ("chronic", "compensated"),
    ("chronic", "decompensated"),
    ("acute_severe", "none"),
    ("acute_liver_failure", "none"),
)
SEED = 1
MODEL_STREAM = 2  # the cohort's model stream (simulation.run.cohort)


def _models(n: int, c: ModelConstants) -> list[DiseaseModel]:
    rng = np.random.default_rng(SEED)
    models = []
    for i in range(n):
        presentation, cirrhosis = KINDS[i % len(KINDS)]
        rec = PatientRecord(
            f"b{i}", age=45, sex="F", weight_kg=70, presentation=presentation, cirrhosis=cirrhosis
        )
        model = DiseaseModel(rec, c, PatientStream(SEED, i, MODEL_STREAM), tpmt="normal")
        run_patient(AIHPathway(rec), model, horizon_days=float(rng.uniform(1, 3650)))
        models.append(model)
    return models


def _best(repeats: int, work: Callable[[], None]) -> float:
    """Seconds of the fastest of ``repeats`` runs of ``work()``."""
    times = []
    for _ in range(repeats):
        started = perf_counter()
        work()
        times.append(perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    c = ModelConstants.from_parameters(load_parameters())
    models = _models(args.distinct, c)
    days = np.random.default_rng(SEED + 1).uniform(0, 3650, args.patients)

    # Identity first: the distinct patients' array panels are the scalar panels.
    cols = model_arrays.PanelColumns.of(models)
    got = model_arrays.panel(cols, c, days[: len(models)])
    want = [m.panel(d) for m, d in zip(models, days.tolist()[: len(models)], strict=True)]
    for name, values in got.items():
        assert values.tolist() == [w[name] for w in want], name

    n = args.patients
    big = cols.take(np.arange(n) % len(models), patients=np.arange(n))
    rows = slice(None)  # all rows (views)
    day_list = days.tolist()

    def scalar() -> None:
        k = len(models)
        for i in range(n):
            models[i % k].panel(day_list[i])

    def arrays() -> None:
        model_arrays.panel(big, c, days)

    def draws() -> None:
        w0, w1 = run_words(SEED, big.patients, big.noise_stream, big.noise_drawn, PANEL_DRAWS)
        normal_of(w0, w1)

    def latent() -> None:
        model_arrays.activity(big, days, rows)
        model_arrays.liver_function(big, c, days, rows)

    t_scalar = _best(args.repeats, scalar)
    t_arrays = _best(args.repeats, arrays)
    t_draws = _best(args.repeats, draws)
    t_latent = _best(args.repeats, latent)
    per = 1e6 / n
    print(f"lab panel, {n:,} patients ({len(models)} distinct states), us per patient-panel:")
    print(f"  scalar DiseaseModel.panel, patient by patient   {t_scalar * per:8.2f}")
    print(f"  array model, all patients at once               {t_arrays * per:8.2f}")
    print(f"    of which noise draws (Philox + Box-Muller)    {t_draws * per:8.2f}")
    print(f"    of which latent paths and liver function      {t_latent * per:8.2f}")
    rest = t_arrays - t_draws - t_latent
    print(f"    the rest (noise, bounds, rounding, MELD)      {rest * per:8.2f}")
    print(f"  ratio: {t_scalar / t_arrays:.0f}x (panels of the distinct states identical)")


if __name__ == "__main__":
    main()
