"""Benchmark: setting every clock's hazard and origin, the scalar model against arrays (issue 14).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_clock_hazards.py                 # 100,000 patients
    .venv/bin/python benchmarks/bench_clock_hazards.py --patients 20000 --distinct 200

``--distinct`` patients of every presentation are run through the chart to random days; the
living ones' situations are grouped by chart configuration and repeated up to
``--patients`` rows. The clock tables of the distinct states
(:func:`~simulation.model.clock_arrays.clock_tables`) are first checked identical to what
the scalar models' clocks were set to. Printed, side by side, microseconds per patient:
the scalar ``DiseaseModel._set_hazards`` (situation, conditions, table, 17 clocks set),
the scalar table alone (:func:`~simulation.model.clock_hazards.set_clocks`, the conditions
given), and over arrays per configuration: the tables alone (masks given, columns kept),
with the masks (``hazards_on``, ``flare_cases``), and with the tables set into the 17
:class:`~simulation.model.hazard_arrays.ClockArrays`.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.bench_model_arrays import _best, _courses
from simulation.model import clock_hazards, hazard_conditions, model_arrays
from simulation.model.clock_arrays import ClockColumns, clock_tables
from simulation.model.disease import CLOCKS, ModelConstants
from simulation.model.hazard_arrays import ClockArrays
from simulation.model.parameters import load_parameters

_DRUGS = ("azathioprine", "mycophenolate", "tacrolimus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    c = ModelConstants.from_parameters(load_parameters())
    alive = [(m, chart) for m, chart in _courses(args.distinct, c) if not chart.is_dead]
    limits = alive[0][0].limits(alive[0][1])
    copies = max(1, args.patients // len(alive))
    # Per configuration: the patients (model, chart), repeated.
    groups: dict[frozenset[str], list[tuple[Any, Any]]] = {}
    for m, chart in alive:
        groups.setdefault(frozenset(chart.active), []).extend([(m, chart)] * copies)
    total = sum(len(g) for g in groups.values())
    inputs = {}
    for active, members in groups.items():
        situations = [m.situation(chart.patient, chart.patient.day) for m, chart in members]
        batch = model_arrays.situation_batch(situations, active)
        cols = ClockColumns.of(
            batch,
            np.array([chart.patient.day for _, chart in members]),
            np.array([m.latent.lt_day for m, _ in members]),
            {
                d: np.array([m.latent.drug_start.get(d, math.nan) for m, _ in members])
                for d in _DRUGS
            },
        )
        masks = model_arrays.hazards_on(batch, limits)
        cases = model_arrays.flare_cases(batch, limits)
        inputs[active] = (situations, batch, cols, masks, cases)

    # Identity first: each distinct state's tables are what its scalar clocks were set to.
    for active, (_, _, cols, masks, cases) in inputs.items():
        tables = clock_tables(c, masks, cases, cols)
        for i in range(0, len(groups[active]), copies):
            m = groups[active][i][0]
            for name, t in tables.items():
                size = int(t.size[i])
                pieces = tuple(
                    zip(
                        t.table.starts[i, :size].tolist(),
                        t.table.rates[i, :size].tolist(),
                        strict=True,
                    )
                )
                clock = m.clocks[name]
                assert (float(t.origin[i]), pieces) == (clock.origin, clock.hazard), name

    def scalar() -> None:
        for members in groups.values():
            for m, chart in members:
                m._set_hazards(chart, chart.patient.day)

    scalar_inputs = []
    for active, members in groups.items():
        situations = inputs[active][0]
        for (m, chart), s in zip(members, situations, strict=True):
            on = hazard_conditions.hazards_on(s, limits, active)
            case = hazard_conditions.flare_case(s, limits, active)
            lat = m.latent
            day = chart.patient.day
            scalar_inputs.append((m.clocks, s, on, case, day, lat.lt_day, lat.drug_start))

    def table_alone() -> None:
        for clocks, s, on, case, day, lt_day, drug_start in scalar_inputs:
            clock_hazards.set_clocks(clocks, c, s, on, case, day, lt_day, drug_start)

    def arrays() -> None:
        for _, _, cols, masks, cases in inputs.values():
            clock_tables(c, masks, cases, cols)

    def with_masks() -> None:
        for _, batch, cols, _, _ in inputs.values():
            masks = model_arrays.hazards_on(batch, limits)
            cases = model_arrays.flare_cases(batch, limits)
            clock_tables(c, masks, cases, cols)

    kept = {
        active: [ClockArrays(1, np.arange(cols.n), 3 + k) for k in range(len(CLOCKS))]
        for active, (_, _, cols, _, _) in inputs.items()
    }

    def set_all() -> None:
        for active, (_, batch, cols, _, _) in inputs.items():
            masks = model_arrays.hazards_on(batch, limits)
            cases = model_arrays.flare_cases(batch, limits)
            everyone = np.ones(cols.n, dtype=bool)
            tables = clock_tables(c, masks, cases, cols)
            for clock, t in zip(kept[active], tables.values(), strict=True):
                clock.set_table(t.origin, t.table, t.has, everyone)

    per = 1e6 / total
    times = {
        "scalar": _best(args.repeats, scalar),
        "table": _best(args.repeats, table_alone),
        "arrays": _best(args.repeats, arrays),
        "masks": _best(args.repeats, with_masks),
        "set": _best(args.repeats, set_all),
    }
    print(
        f"setting the {len(CLOCKS)} clocks, {total:,} patients in {len(groups)} configurations "
        f"({len(alive)} distinct states), us per patient:"
    )
    print(f"  scalar DiseaseModel._set_hazards, patient by patient  {times['scalar'] * per:8.2f}")
    print(f"    alone: the table (set_clocks), conditions given     {times['table'] * per:8.2f}")
    print(f"  clock_tables per configuration, masks given           {times['arrays'] * per:8.2f}")
    print(f"  ... with the masks (hazards_on, flare_cases)          {times['masks'] * per:8.2f}")
    print(f"  ... and set into 17 ClockArrays                       {times['set'] * per:8.2f}")
    print(
        f"  ratio (table alone / clock_tables): {times['table'] / times['arrays']:.0f}x "
        "(tables of the distinct states identical)"
    )


if __name__ == "__main__":
    main()
