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
once), and the array panel's parts; then the same for the choice of the next event over
the queue and the 17 clocks (:func:`~simulation.model.model_arrays.next_events`), the plans
of the distinct states checked identical first; then which hazards run (the declared
conditions, :func:`~simulation.model.model_arrays.hazards_on`), per patient, against the
scalar interpreter; then a new course (``DiseaseModel._new_course``, patient by patient,
against :func:`~simulation.model.course_arrays.start_courses`, the classes and knots of the
distinct states checked identical first) and the baseline draws at diagnosis
(``DiseaseModel._draw_baseline`` against :func:`~simulation.model.course_arrays.baselines`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from pathway import AIHPathway, PatientRecord
from simulation.model import course_arrays, hazard_conditions, model_arrays
from simulation.model.courses import COURSE_CLASSES
from simulation.model.disease import CLOCKS, PANEL_DRAWS, DiseaseModel, ModelConstants
from simulation.model.draws import PatientStream, normal_of, run_words
from simulation.model.hazard_conditions import HAZARD_CONDITIONS, Situation
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
    return [m for m, _ in _courses(n, c)]


def _courses(n: int, c: ModelConstants) -> list[tuple[DiseaseModel, Any]]:
    """``n`` patients of every kind run through the chart to random days (model, chart)."""
    rng = np.random.default_rng(SEED)
    models = []
    for i in range(n):
        presentation, cirrhosis = KINDS[i % len(KINDS)]
        rec = PatientRecord(
            f"b{i}", age=45, sex="F", weight_kg=70, presentation=presentation, cirrhosis=cirrhosis
        )
        model = DiseaseModel(rec, c, PatientStream(SEED, i, MODEL_STREAM), tpmt="normal")
        chart = run_patient(AIHPathway(rec), model, horizon_days=float(rng.uniform(1, 3650)))
        models.append((model, chart))
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
    courses = _courses(args.distinct, c)
    models = [m for m, _ in courses]
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
    print(f"    alone: noise draws (Philox + Box-Muller)      {t_draws * per:8.2f}")
    print(f"    alone: latent paths and liver function        {t_latent * per:8.2f}")
    print(f"  ratio: {t_scalar / t_arrays:.0f}x (panels of the distinct states identical)")

    # The next event over the queue and the 17 clocks (the models as their runs left them).
    nows = [max(clock.since for clock in m.clocks.values()) for m in models]
    for m, now in zip(models, nows, strict=True):
        m.choose_next(now)
    tiled = [models[i % len(models)] for i in range(n)]
    clocks = [model_arrays.clocks_of(tiled, name) for name in CLOCKS]
    heads = [m.queue_head for m in tiled]
    q_day = np.array([np.inf if h is None else h[0] for h in heads])
    q_prio = np.array([0 if h is None else h[1] for h in heads], dtype=np.int64)
    now_all = np.array([nows[i % len(models)] for i in range(n)])
    day, what = model_arrays.next_events(now_all, clocks, q_day, q_prio)
    names = {model_arrays.QUEUE: "queue", **dict(enumerate(CLOCKS))}
    for i, m in enumerate(models):
        plan = m.plan
        assert (plan is None and np.isinf(day[i])) or plan == (day[i], names[int(what[i])])

    def scalar_next() -> None:
        k = len(models)
        for i in range(n):
            models[i % k].choose_next(nows[i % k])

    def arrays_next() -> None:
        model_arrays.next_events(now_all, clocks, q_day, q_prio)

    def dues() -> None:
        for clock in clocks:
            clock.due()

    t_scalar = _best(args.repeats, scalar_next)
    t_arrays = _best(args.repeats, arrays_next)
    t_dues = _best(args.repeats, dues)
    print(f"next event over the queue and {len(CLOCKS)} clocks, us per patient:")
    print(f"  scalar DiseaseModel.choose_next, patient by patient  {t_scalar * per:8.2f}")
    print(f"  next_events over ClockArrays, all patients at once   {t_arrays * per:8.2f}")
    print(f"    alone: the clocks' due days (hazard_arrays)        {t_dues * per:8.2f}")
    print(f"  ratio: {t_scalar / t_arrays:.0f}x (plans of the distinct states identical)")

    _hazard_conditions(courses, n, args.repeats)
    _new_courses(c, models, n, args.repeats)


def _hazard_conditions(courses: list[tuple[DiseaseModel, Any]], n: int, repeats: int) -> None:
    """Which hazards run: the scalar interpreter per patient against masks per group."""
    alive = [(m, chart) for m, chart in courses if not chart.is_dead]
    limits = alive[0][0].limits(alive[0][1])
    copies = max(1, n // len(alive))
    groups: dict[frozenset[str], list[Situation]] = {}
    for m, chart in alive:
        situation = m.situation(chart.patient, chart.patient.day)
        groups.setdefault(frozenset(chart.active), []).extend([situation] * copies)
    total = sum(len(g) for g in groups.values())
    batches = {a: model_arrays.situation_batch(g, a) for a, g in groups.items()}
    for active, batch in batches.items():
        masks = model_arrays.hazards_on(batch, limits)
        s = groups[active][0]
        want = hazard_conditions.hazards_on(s, limits, active)
        assert all(bool(masks[k][0]) == bool(v) for k, v in want.items())

    def scalar() -> None:
        for active, situations in groups.items():
            for s in situations:
                hazard_conditions.hazards_on(s, limits, active)
                hazard_conditions.flare_case(s, limits, active)

    def kept() -> None:
        for batch in batches.values():
            model_arrays.hazards_on(batch, limits)
            model_arrays.flare_cases(batch, limits)

    def made() -> None:
        for active, situations in groups.items():
            batch = model_arrays.situation_batch(situations, active)
            model_arrays.hazards_on(batch, limits)
            model_arrays.flare_cases(batch, limits)

    per = 1e6 / total
    t_scalar, t_kept = _best(repeats, scalar), _best(repeats, kept)
    t_made = _best(repeats, made)
    print(
        f"which hazards run ({len(HAZARD_CONDITIONS)} conditions and the flare case), "
        f"{total:,} situations in {len(groups)} configurations, us per patient:"
    )
    print(f"  scalar interpreter, patient by patient              {t_scalar * per:8.2f}")
    print(f"  masks per configuration, columns kept               {t_kept * per:8.2f}")
    print(f"  masks per configuration, columns made from objects  {t_made * per:8.2f}")


#: Regimens of the benchmark's new courses, one per row in turn.
REGIMENS = (
    ("prednisolone", "azathioprine"),
    ("budesonide", "azathioprine"),
    ("prednisolone",),
    ("prednisolone", "mycophenolate"),
)


def _new_courses(c: ModelConstants, models: list[DiseaseModel], n: int, repeats: int) -> None:
    """A new course (first line on four regimens, and a flare) and the baseline draws."""
    k = len(models)
    days = np.random.default_rng(SEED + 2).uniform(0, 3650, n)
    drugs = [REGIMENS[i % len(REGIMENS)] for i in range(n)]
    # Identity first: the distinct states' new courses from the arrays are the scalar's.
    cols = model_arrays.PanelColumns.of(models)
    state = course_arrays.CourseColumns.of(models)
    rows = np.arange(k)
    course_arrays.start_courses(cols, state, c, rows, "first_line", days[:k], drugs[:k])
    for i, m in enumerate(models):
        day = float(days[i])
        new = m._new_course("first_line", day, anchor=m.activity(day), drugs=drugs[i])
        for got, path in ((cols.alt, new.alt_path), (cols.igg, new.igg_path)):
            want = model_arrays.PathArrays.of([path])
            size = int(got.size[i])
            assert size == len(path)
            assert got.times[i, :size].tobytes() == want.times[0].tobytes()
            assert got.logs[i, :size].tobytes() == want.logs[0].tobytes()
        assert COURSE_CLASSES[int(state.cls[i])] == new.cls

    tile = np.arange(n) % k
    big_cols = model_arrays.PanelColumns.of(models).take(tile, patients=np.arange(n))
    big = course_arrays.CourseColumns.of(models).take(tile, patients=np.arange(n))
    all_rows, day_list = np.arange(n), days.tolist()

    def scalar(kind: str) -> Callable[[], None]:
        def work() -> None:
            for i in range(n):
                m, day = models[i % k], day_list[i]
                m._new_course(kind, day, anchor=m.activity(day), drugs=drugs[i])

        return work

    def arrays(kind: str) -> Callable[[], None]:
        def work() -> None:
            course_arrays.start_courses(big_cols, big, c, all_rows, kind, days, drugs)

        return work

    def draws() -> None:
        course_arrays.course_draws(SEED, big.patients, big.stream, big.drawn)

    per = 1e6 / n
    print(f"a new course, {n:,} patients ({k} distinct states), us per patient:")
    for kind in ("first_line", "flare"):
        t_scalar, t_arrays = _best(repeats, scalar(kind)), _best(repeats, arrays(kind))
        print(
            f"  {kind:<10} scalar DiseaseModel._new_course, one by one        {t_scalar * per:8.2f}"
        )
        print(
            f"  {kind:<10} course_arrays.start_courses, all patients at once  {t_arrays * per:8.2f}"
        )
    t_draws = _best(repeats, draws)
    print(f"    alone: the course draws (8 normals, 1 uniform)                {t_draws * per:8.2f}")

    records = [models[i].record for i in range(len(KINDS))]
    dx = course_arrays.Diagnosis.of([records[i % len(KINDS)] for i in range(n)])

    def scalar_baseline() -> None:
        m = models[0]
        for i in range(n):
            m._queue.clear()
            m._draw_baseline(records[i % len(KINDS)], PatientStream(SEED, i, 513), "normal")

    def arrays_baseline() -> None:
        course_arrays.baselines(c, SEED, all_rows, MODEL_STREAM, dx)

    t_scalar, t_arrays = _best(repeats, scalar_baseline), _best(repeats, arrays_baseline)
    print(f"baseline draws at diagnosis, {n:,} patients, us per patient:")
    print(
        f"  scalar DiseaseModel._draw_baseline, patient by patient          {t_scalar * per:8.2f}"
    )
    print(
        f"  course_arrays.baselines, all patients at once                   {t_arrays * per:8.2f}"
    )


if __name__ == "__main__":
    main()
