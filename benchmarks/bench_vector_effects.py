"""Benchmark: effects applied record by record (scalar) against over columns (issue 14).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_vector_effects.py                  # 10,000 patients
    .venv/bin/python benchmarks/bench_vector_effects.py --patients 20000 --actions 10000

A cohort runs on the compiled engine and every finding and time point is copied as it
arrives (the record just before its effect, the event, its payload, the configuration),
until there are ``--patients`` of them, and every action effect as it runs (the record and
configuration it sees), until there are ``--actions``: real patients at real moments. Both
forms then apply
the effects: the scalar functions record by record, and
:class:`pathway.vector_effects.VectorEffects` once per group of patients receiving the same
event in the same configuration with the same options (the vector engine's grouping). The
records made back from the columns are checked equal to the scalar ones. Printed, in
microseconds per patient: each form; the conversion from and to records (not needed by a
columnar engine, which keeps the columns); the same for the most common event replicated to
``--patients`` patients in one group; and the rows the vector form still hands to Python.
The vector form runs twice: with the guideline's vector forms, and "before", without the
forms of the dose rules and the day-7 rule (issue 14, v15forms), which then run row by row.
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
from pathway.guidelines.aih.rules import RULEBOOK
from pathway.guidelines.aih.vector_forms import FORMS, IMPLIED, VECTOR_RULEBOOK
from pathway.vector import VectorRulebook
from pathway.vector_effects import VectorEffects
from simulation.run.cohort import run_cohort

#: (record before the effect, thresholds, options, active, kind, name, payload)
_SEEN: list[tuple[Any, ...]] = []
#: The same for the action effects.
_ACTS: list[tuple[Any, ...]] = []
_TABLES = {
    "finding": effects.FINDING_EFFECTS,
    "timer": effects.TIMER_EFFECTS,
    "action": dict(effects.ACTION_EFFECTS),
}
#: The forms this benchmark measures the effect of ("before": without them).
_NEW_FORMS = frozenset(
    {"prednisolone_dose", "azathioprine_dose", "tacrolimus_dose", "optimised_steroid"}
    | {"acute_improvement"}
)


def _record_actions() -> None:
    """Each action effect copies the record and configuration it sees, then runs."""

    def recording(name: str, effect: Any) -> Any:
        def run(p: Any, value: Any, th: Any, opt: Any, active: Any) -> None:
            _ACTS.append((copy.deepcopy(p), th, opt, frozenset(active), "action", name, value))
            effect(p, value, th, opt, active)

        return run

    for name, effect in _TABLES["action"].items():
        effects.ACTION_EFFECTS[name] = recording(name, effect)


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


def _effects(before: bool) -> VectorEffects:
    """The AIH vector effects; ``before``: without the forms of :data:`_NEW_FORMS`."""
    if not before:
        return VectorEffects(
            effects.EFFECTS,
            VECTOR_RULEBOOK,
            VECTOR_EFFECTS.mutators,
            forms=VECTOR_EFFECTS.forms,
            methods=VECTOR_EFFECTS.methods,
        )
    rulebook = VectorRulebook(
        RULEBOOK, {k: v for k, v in FORMS.items() if k not in _NEW_FORMS}, IMPLIED
    )
    forms = {k: v for k, v in VECTOR_EFFECTS.forms.items() if k not in _NEW_FORMS}
    return VectorEffects(
        effects.EFFECTS,
        rulebook,
        VECTOR_EFFECTS.mutators,
        forms=forms,
        methods=VECTOR_EFFECTS.methods,
    )


def _check(got: list[Any], want: list[Any]) -> None:
    for a, b in zip(got, want, strict=True):
        if a != b or list(a.drugs) != list(b.drugs) or a.latest_panel() != b.latest_panel():
            raise SystemExit(f"vector and scalar effects differ:\n{a}\n{b}")


def _replicated(seen: list[tuple[Any, ...]], rows: list[int], n: int) -> list[tuple[Any, ...]]:
    """The events of ``rows`` repeated to ``n``, each record its own copy."""
    replicated = [seen[i] for i in rows] * -(-n // len(rows))
    return [(copy.deepcopy(s[0]), *s[1:]) for s in replicated[:n]]


def _measure(
    label: str,
    batch: list[tuple[Any, ...]],
    grouping: dict[tuple[Any, ...], list[int]],
    repeat: int,
) -> list[str]:
    """Table rows: best of ``repeat`` per patient, scalar, vector before and after."""
    best = {"scalar": float("inf"), "before": float("inf"), "after": float("inf")}
    converting = float("inf")
    handed: dict[str, dict[str, int]] = {}
    for form in ("before", "after"):
        vec = _effects(form == "before")
        for _ in range(repeat):
            s, want = _scalar(batch)
            v, c, got = _vector(batch, grouping, vec)
            _check(got, want)
            best["scalar"] = min(best["scalar"], s)
            best[form] = min(best[form], v)
            converting = min(converting, c)
        handed[form] = {k: v // repeat for k, v in sorted(vec.fallbacks.items())}
    n = len(batch)
    us = {k: v / n * 1e6 for k, v in best.items()}
    return [
        f"| {label} | {len(grouping)} | {us['scalar']:.2f} | {us['before']:.2f} "
        f"| {us['after']:.2f} | {converting / n * 1e6:.2f} |",
        f"  rows handed to Python per run, before: {handed['before']}",
        f"  after: {handed['after']}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--actions", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    _record_actions()
    cohort = 25
    while len(_SEEN) < args.patients or len(_ACTS) < args.actions:
        _SEEN.clear()
        _ACTS.clear()
        run_cohort(
            patients=cohort,
            years=10,
            seed=1,
            workers=1,
            chart_class=_Recording,
            on_chunk=lambda chunk: None,
        )
        cohort *= 2
    effects.ACTION_EFFECTS.update(_TABLES["action"])
    seen, acts = _SEEN[: args.patients], _ACTS[: args.actions]
    groups, act_groups = _grouped(seen), _grouped(acts)
    events = Counter(f"{s[4]} {s[5]}" for s in seen)
    taken = Counter(s[5] for s in acts)
    print(
        f"{len(seen):,} findings and time points and {len(acts):,} actions of {cohort // 2}"
        f" patients x 10 years, in {len(groups)} and {len(act_groups)} groups (event,"
        " configuration, options); most common: "
        + ", ".join(f"{e} {n}" for e, n in events.most_common(4))
        + "; actions: "
        + ", ".join(f"{e} {n}" for e, n in taken.most_common(6))
    )
    biggest = max(groups.items(), key=lambda kv: len(kv[1]))
    (kind, name, _, _, _), rows = biggest
    replicated = _replicated(seen, rows, args.patients)
    # The largest group of an action the dose rules serve, replicated.
    dosing = [kv for kv in act_groups.items() if kv[0][1] in _DOSING_ACTIONS]
    act_key, act_rows = max(dosing, key=lambda kv: len(kv[1]))
    act_replicated = _replicated(acts, act_rows, args.actions)

    print(
        "| batch | groups | scalar us/patient | vector before us/patient "
        "| vector us/patient | to/from columns us/patient |"
    )
    print("|---|---|---|---|---|---|")
    for label, batch, grouping in (
        ("findings and time points, real groups", seen, groups),
        (
            f"{kind} {name} x {len(replicated):,} in one group",
            replicated,
            {biggest[0]: list(range(len(replicated)))},
        ),
        ("actions, real groups", acts, act_groups),
        (
            f"action {act_key[1]} x {len(act_replicated):,} in one group",
            act_replicated,
            {act_key: list(range(len(act_replicated)))},
        ),
    ):
        print("\n".join(_measure(label, batch, grouping, args.repeat)))


#: Actions whose effects call the dose rules.
_DOSING_ACTIONS = frozenset(
    {"start_prednisolone", "add_azathioprine", "stop_steroid", "switch_to_tacrolimus"}
    | {"reinduce", "optimise_treatment"}
)


if __name__ == "__main__":
    main()
