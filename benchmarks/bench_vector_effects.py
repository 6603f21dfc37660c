"""Benchmark: effects applied record by record (scalar) against over columns (issue 14).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_vector_effects.py                  # 10,000 patients
    .venv/bin/python benchmarks/bench_vector_effects.py --patients 20000

A cohort runs on the compiled engine and every finding and time point is copied as it
arrives (the record just before its effect, the event, its payload, the configuration),
until there are ``--patients`` of them: real patients at real moments. Both forms then apply
the effects: the scalar functions record by record, and
:class:`pathway.vector_effects.VectorEffects` once per group of patients receiving the same
event in the same configuration with the same options (the vector engine's grouping). The
records made back from the columns are checked equal to the scalar ones. Printed, in
microseconds per patient: each form; the conversion from and to records (not needed by a
columnar engine, which keeps the columns); the same for the most common event replicated to
``--patients`` patients in one group; and the rows the vector form still hands to Python.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections import Counter, defaultdict
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from pathway.columns import RecordColumns
from pathway.compiled import CompiledPathway
from pathway.guidelines.aih import effects
from pathway.guidelines.aih.columns import LAYOUT, VECTOR_EFFECTS
from pathway.guidelines.aih.patient import LabPanel
from pathway.guidelines.aih.vector_forms import VECTOR_RULEBOOK
from pathway.vector_effects import VectorEffects
from simulation.run.cohort import run_cohort

#: (record before the effect, thresholds, options, active, kind, name, payload)
_SEEN: list[tuple[Any, ...]] = []
_TABLES = {"finding": effects.FINDING_EFFECTS, "timer": effects.TIMER_EFFECTS}


class _Recording(CompiledPathway):
    """The compiled pathway, copying each finding and time point as its effect sees it."""

    def observe(self, finding: str, value: Any = None, *, day: float) -> Any:
        if not self.is_dead and day >= self.model.day:
            p = copy.deepcopy(self.model)
            p.day = day
            payload = LabPanel.from_mapping(day, dict(value)) if finding == "labs" else value
            _SEEN.append(
                (p, self.thresholds, self.options, self.active, "finding", finding, payload)
            )
        return super().observe(finding, value, day=day)

    def fire(self, timer_id: str, *, day: float) -> Any:
        timer = self.guideline.timers.by_id.get(timer_id)
        if timer is not None and not self.is_dead and day >= self.model.day:
            p = copy.deepcopy(self.model)
            p.day = day
            p.timers_fired[timer_id] = p.timers_fired.get(timer_id, 0) + 1
            _SEEN.append(
                (p, self.thresholds, self.options, self.active, "timer", timer.event, None)
            )
        return super().fire(timer_id, day=day)


def _scalar(seen: list[tuple[Any, ...]]) -> tuple[float, list[Any]]:
    copies = [copy.deepcopy(s[0]) for s in seen]
    started = perf_counter()
    for p, (_, th, opt, active, kind, name, value) in zip(copies, seen, strict=True):
        _TABLES[kind][name](p, value, th, opt, active)
    return perf_counter() - started, copies


def _grouped(seen: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[int]]:
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, (_, th, opt, active, kind, name, _) in enumerate(seen):
        groups[(kind, name, active, th, opt)].append(i)
    return groups


def _vector(
    seen: list[tuple[Any, ...]], groups: dict[tuple[Any, ...], list[int]], vec: VectorEffects
) -> tuple[float, float, list[Any]]:
    """Seconds applying, seconds converting (to columns and back), and the records."""
    out: list[Any] = [None] * len(seen)
    applying = converting = 0.0
    for (kind, name, active, th, opt), rows in groups.items():
        started = perf_counter()
        columns = RecordColumns.from_records(LAYOUT, [seen[i][0] for i in rows])
        converted = perf_counter()
        vec.apply(kind, name, columns, [seen[i][6] for i in rows], th, opt, active)
        applied = perf_counter()
        back = columns.to_records()
        converting += converted - started + perf_counter() - applied
        applying += applied - converted
        for i, p in zip(rows, back, strict=True):
            out[i] = p
    return applying, converting, out


def _check(got: list[Any], want: list[Any]) -> None:
    for a, b in zip(got, want, strict=True):
        if a != b or list(a.drugs) != list(b.drugs) or a.latest_panel() != b.latest_panel():
            raise SystemExit(f"vector and scalar effects differ:\n{a}\n{b}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cohort = 25
    while len(_SEEN) < args.patients:
        _SEEN.clear()
        run_cohort(
            patients=cohort,
            years=10,
            seed=1,
            workers=1,
            chart_class=_Recording,
            on_chunk=lambda chunk: None,
        )
        cohort *= 2
    seen = _SEEN[: args.patients]
    groups = _grouped(seen)
    events = Counter(f"{s[4]} {s[5]}" for s in seen)
    print(
        f"{len(seen):,} findings and time points of {cohort // 2} patients x 10 years, in "
        f"{len(groups)} groups (event, configuration, options); most common: "
        + ", ".join(f"{e} {n}" for e, n in events.most_common(4))
    )
    biggest = max(groups.items(), key=lambda kv: len(kv[1]))
    (kind, name, _, _, _), rows = biggest
    times = -(-args.patients // len(rows))
    replicated = [seen[i] for i in rows] * times
    replicated = [(copy.deepcopy(s[0]), *s[1:]) for s in replicated[: args.patients]]
    one_group = {biggest[0]: list(range(len(replicated)))}

    table = []
    for label, batch, grouping in (
        ("all events, real groups", seen, groups),
        (f"{kind} {name} x {len(replicated):,} in one group", replicated, one_group),
    ):
        vec = VectorEffects(
            effects.EFFECTS,
            VECTOR_RULEBOOK,
            VECTOR_EFFECTS.mutators,
            forms=VECTOR_EFFECTS.forms,
            methods=VECTOR_EFFECTS.methods,
        )
        best_s = best_v = best_c = float("inf")
        for _ in range(args.repeat):
            s, want = _scalar(batch)
            v, c, got = _vector(batch, grouping, vec)
            _check(got, want)
            best_s, best_v, best_c = min(best_s, s), min(best_v, v), min(best_c, c)
        n = len(batch)
        table.append((label, len(grouping), best_s / n * 1e6, best_v / n * 1e6, best_c / n * 1e6))
        fallbacks = {k: v // args.repeat for k, v in vec.fallbacks.items()}
        table.append((f"  rows handed to Python per run: {fallbacks}", 0, 0.0, 0.0, 0.0))
    print("| batch | groups | scalar us/patient | vector us/patient | to/from columns us/patient |")
    print("|---|---|---|---|---|")
    for label, n_groups, s, v, c in table:
        if n_groups:
            print(f"| {label} | {n_groups} | {s:.2f} | {v:.2f} | {c:.2f} |")
        else:
            print(label)


if __name__ == "__main__":
    main()
