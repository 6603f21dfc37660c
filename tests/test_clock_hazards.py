"""Every clock's hazard and origin, declared once (simulation.model.clock_hazards), equals the
hand-written code it replaced, and its array form (simulation.model.clock_arrays) equals the
scalar clocks of random courses bit for bit (issue 14)."""

from __future__ import annotations

import math
import struct
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathway import AIHPathway, PatientRecord
from simulation.model import clock_hazards, hazard_conditions
from simulation.model.clock_arrays import ClockColumns, ClockTable, clock_tables
from simulation.model.clock_hazards import (
    CLOCK_HAZARDS,
    FLARE_HAZARDS,
    ClockHazard,
    Constant,
    Factor,
    Rate,
    conditions_read,
)
from simulation.model.disease import CLOCKS, DiseaseModel, ModelConstants
from simulation.model.draws import PatientStream
from simulation.model.hazard_conditions import FLARE_CASES, HAZARD_CONDITIONS, Limits, Situation
from simulation.model.hazards import Hazard
from simulation.model.model_arrays import clocks_of, flare_cases, hazards_on, situation_batch
from simulation.model.parameters import load_parameters
from simulation.run.engine import run_patient

from .legacy_hazards import legacy_settings
from .test_hazard_conditions import situations

_PARAMETERS = load_parameters()
_MODEL_STREAM = 2  # the cohort's model stream (simulation.run.cohort)
_KINDS = (
    ("chronic", "none"),
    ("chronic", "compensated"),
    ("chronic", "decompensated"),
    ("acute_severe", "none"),
    ("acute_liver_failure", "none"),
)
#: Parameters behind the rates, windows and hazard ratios, and factors the tests apply to
#: them (0: a rate of zero, so no hazard; ages: windows that close before the patient's age).
_RATE_PARAMETERS = (
    "liver.activity_hazard_ratio",
    "liver.cirrhosis_per_year",
    "liver.decompensation_per_year",
    "liver.hcc_per_1000py_noncirrhotic",
    "liver.decompensated_death_per_year",
    "transplant.graft_failure_death_per_year",
    "transplant.recurrence_graft_loss_hr",
    "transplant.recurrence_death_hr",
    "transplant.steroid_trial_days",
    "transplant.max_age",
    "transplant.candidate_share",
    "pregnancy.max_age",
    "pregnancy.plan_per_year",
    "adherence.effect_lost",
    "adherence.nonadherence_per_year",
    "relapse.maintenance_remission",
    "relapse.untreated_per_year",
    "intolerance.tacrolimus",
    "intolerance.azathioprine_late_per_year",
)
_FACTORS = st.dictionaries(
    st.sampled_from(_RATE_PARAMETERS), st.sampled_from([0.0, 0.5, 1.5, 3.0]) | st.floats(0, 3)
)


def _constants(factors: dict[str, float]) -> ModelConstants:
    """The model's constants with parameters scaled (probabilities kept within 0.05-0.95)."""
    values = {}
    for name, f in factors.items():
        value = _PARAMETERS[name] * f
        if _PARAMETERS.info(name).unit == "probability":
            value = min(max(value, 0.05), 0.95)
        values[name] = value
    return ModelConstants.from_parameters(_PARAMETERS.with_overrides(values))


class _Noted:
    """A clock that notes what it is set to."""

    def __init__(self, name: str, out: list[tuple[str, float, Hazard]]) -> None:
        self.name, self.out = name, out

    def set(self, origin: float, hazard: Hazard) -> None:
        self.out.append((self.name, origin, hazard))


def _settings(*args: Any) -> list[tuple[str, float, Hazard]]:
    """What ``clock_hazards.set_clocks(clocks, *args)`` sets: ``(clock, origin, hazard)``."""
    out: list[tuple[str, float, Hazard]] = []
    clock_hazards.set_clocks({name: _Noted(name, out) for name in CLOCKS}, *args)
    return out


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _hazard_bits(h: Hazard) -> list[tuple[bytes, bytes]]:
    return [(_bits(start), _bits(rate)) for start, rate in h]


def _same(a: tuple[float, Hazard], b: tuple[float, Hazard]) -> bool:
    return _bits(a[0]) == _bits(b[0]) and _hazard_bits(a[1]) == _hazard_bits(b[1])


def test_the_table_covers_every_clock_and_case_with_declared_conditions() -> None:
    """One entry per clock in the model's order; flare cases that are declared; the table
    reads every declared condition, and only those."""
    assert ("flare", *(h.clock for h in CLOCK_HAZARDS)) == CLOCKS
    assert set(FLARE_HAZARDS) <= {case.name for case in FLARE_CASES}
    assert conditions_read() == set(HAZARD_CONDITIONS)
    entries = (*CLOCK_HAZARDS, *FLARE_HAZARDS.values())
    drugs = {clock_hazards.drug_of(h.origin) for h in entries} - {None}
    assert drugs == {"azathioprine", "mycophenolate", "tacrolimus"}
    others = {h.origin for h in entries if clock_hazards.drug_of(h.origin) is None}
    assert others <= {"day", *clock_hazards.ORIGINS}


_DAYS = st.floats(0, 5000)
_STATES = sorted(AIHPathway.states_map)


@settings(max_examples=300)
@given(
    s=situations,
    transplant_meld=st.floats(10, 25),
    active=st.frozensets(st.sampled_from(_STATES)),
    day=_DAYS,
    lt_day=_DAYS,
    drug_start=st.dictionaries(
        st.sampled_from(["azathioprine", "mycophenolate", "tacrolimus", "prednisolone"]), _DAYS
    ),
    factors=_FACTORS,
)
def test_the_table_gives_what_the_hand_written_code_gave(
    s: Situation,
    transplant_meld: float,
    active: frozenset[str],
    day: float,
    lt_day: float,
    drug_start: dict[str, float],
    factors: dict[str, float],
) -> None:
    """Random situations, states and parameters: every clock's origin and hazard from the
    table is the hand-written code's, bit for bit."""
    c = _constants(factors)
    limits = Limits(transplant_meld, c.pregnancy_max_age)  # the model's limits
    on = hazard_conditions.hazards_on(s, limits, active)
    case = hazard_conditions.flare_case(s, limits, active)
    want = legacy_settings(c, s, on, case, day, lt_day, drug_start)
    got = _settings(c, s, on, case, day, lt_day, drug_start)
    assert [name for name, _, _ in got] == list(CLOCKS)
    for name, origin, hazard in got:
        assert _same((origin, hazard), want[name]), (name, case)


#: Configurations where the clocks differ (transplant care, remission, withdrawal,
#: untreated), or any set of states.
_CONFIGURATIONS = st.sampled_from(
    [
        frozenset({"transplant"}),
        frozenset({"post_transplant"}),
        frozenset({"maintenance"}),
        frozenset({"withdrawal", "in_pregnancy"}),
        frozenset({"observation", "diagnosis"}),
    ]
) | st.frozensets(st.sampled_from(_STATES))


def _in_steroid_trial(s: Situation) -> Situation:
    """``s`` referred for transplant in decompensation from active disease (the steroid trial
    may run, depending on the treatment start day and the MELD)."""
    return replace(
        s,
        stage="decompensated",
        decompensation_active=True,
        native=True,
        emergency=False,
        candidate=True,
        hcc=False,
        graft_failed=False,
    )


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            situations | situations.map(_in_steroid_trial),
            _DAYS,
            _DAYS,
            st.lists(_DAYS | st.none(), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=12,
    ),
    transplant_meld=st.floats(10, 25),
    active=_CONFIGURATIONS,
    factors=_FACTORS,
)
def test_clock_tables_of_random_situations_are_the_scalar_settings(
    rows: list[tuple[Situation, float, float, list[float | None]]],
    transplant_meld: float,
    active: frozenset[str],
    factors: dict[str, float],
) -> None:
    """Random situations in one configuration (every branch: steroid trials ending before
    or after the maximum age, recurrence, sums of liver death rates, each flare case): each
    clock's origin and pieces from the arrays are the scalar table's, bit for bit."""
    c = _constants(factors)
    limits = Limits(transplant_meld, c.pregnancy_max_age)
    drugs = ("azathioprine", "mycophenolate", "tacrolimus")
    batch = situation_batch([s for s, _, _, _ in rows], active)
    cols = ClockColumns.of(
        batch,
        np.array([day for _, day, _, _ in rows]),
        np.array([lt for _, _, lt, _ in rows]),
        {
            d: np.array([math.nan if r[3][k] is None else r[3][k] for r in rows])
            for k, d in enumerate(drugs)
        },
    )
    tables = clock_tables(c, hazards_on(batch, limits), flare_cases(batch, limits), cols)
    for i, (s, day, lt_day, starts) in enumerate(rows):
        on = hazard_conditions.hazards_on(s, limits, active)
        case = hazard_conditions.flare_case(s, limits, active)
        drug_start = {d: v for d, v in zip(drugs, starts, strict=True) if v is not None}
        for name, origin, hazard in _settings(c, s, on, case, day, lt_day, drug_start):
            assert _same(_row(tables[name], i), (origin, hazard)), (name, case)


def _row(t: ClockTable, i: int) -> tuple[float, Hazard]:
    """Row ``i`` of a clock table as the scalar ``(origin, hazard)``."""
    size = int(t.size[i])
    starts, rates = t.table.starts[i, :size].tolist(), t.table.rates[i, :size].tolist()
    assert np.all(np.isinf(t.table.starts[i, size:]))
    assert not np.any(t.table.rates[i, size:])
    return float(t.origin[i]), tuple(zip(starts, rates, strict=True))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(situations, _DAYS), min_size=1, max_size=12),
    active=_CONFIGURATIONS,
)
def test_both_interpreters_follow_a_changed_table(
    rows: list[tuple[Situation, float]], active: frozenset[str]
) -> None:
    """A flare case whose rate depends on conditions (a switch and a hazard ratio, four
    variants): the arrays still give the scalar plans' hazards (the table is data)."""
    changed = ClockHazard(
        "flare.maintenance",
        "",
        Constant(Rate("maintenance_flare_rate", "untreated_flare_rate", "hcc.cirrhotic", _HR)),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(FLARE_HAZARDS, "flare.maintenance", changed)
        c = _constants({})  # new constants: plans made from the changed table
        limits = Limits(15.0, c.pregnancy_max_age)
        batch = situation_batch([s for s, _ in rows], active)
        n = len(rows)
        cols = ClockColumns.of(
            batch,
            np.array([day for _, day in rows]),
            np.zeros(n),
            {d: np.full(n, math.nan) for d in ("azathioprine", "mycophenolate", "tacrolimus")},
        )
        flare = clock_tables(c, hazards_on(batch, limits), flare_cases(batch, limits), cols)
        for i, (s, day) in enumerate(rows):
            on = hazard_conditions.hazards_on(s, limits, active)
            case = hazard_conditions.flare_case(s, limits, active)
            want = _settings(c, s, on, case, day, 0.0, {})[0]
            assert _same(_row(flare["flare"], i), want[1:]), case


_HR = Factor("activity_hr", "activity")


class _Recording:
    """A patient model that keeps, after every hazard update of the model it wraps, what the
    hazards read and what each clock was set to (a wrapper: the native build compiles the
    model)."""

    def __init__(self, model: DiseaseModel, seen: list[dict[str, Any]]) -> None:
        self.model, self.seen = model, seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def next_day(self, chart: Any) -> float | None:
        day = self.model.next_day(chart)  # syncs with the chart, then sets the hazards
        if not chart.is_dead:
            m, now = self.model, chart.patient.day
            self.seen.append(
                {
                    "model": m,
                    "situation": m.situation(chart.patient, now),
                    "active": frozenset(chart.active),
                    "limits": m.limits(chart),
                    "day": now,
                    "lt_day": m.latent.lt_day,
                    "drug_start": dict(m.latent.drug_start),
                    "clocks": {n: (k.origin, k.hazard) for n, k in m.clocks.items()},
                }
            )
        return day


def _columns(updates: list[dict[str, Any]], active: frozenset[str]) -> tuple[Any, ...]:
    """A configuration's updates as the array interpreter's inputs."""
    situations = [u["situation"] for u in updates]
    batch = situation_batch(situations, active)
    limits = updates[0]["limits"]
    drugs = ("azathioprine", "mycophenolate", "tacrolimus")
    starts = {d: np.array([u["drug_start"].get(d, math.nan) for u in updates]) for d in drugs}
    cols = ClockColumns.of(
        batch,
        np.array([u["day"] for u in updates]),
        np.array([u["lt_day"] for u in updates]),
        starts,
    )
    return hazards_on(batch, limits), flare_cases(batch, limits), cols


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    patients=st.lists(
        st.tuples(
            st.integers(0, len(_KINDS) - 1),
            st.floats(18, 70),
            st.sampled_from(["F", "M"]),
            st.floats(30, 8 * 365.25),
        ),
        min_size=1,
        max_size=4,
    ),
    factors=_FACTORS,
)
def test_clock_tables_are_what_the_scalar_model_sets(
    seed: int, patients: list[tuple[int, float, str, float]], factors: dict[str, float]
) -> None:
    """Every hazard update along random courses (random presentations, ages, sexes and
    parameters), grouped by configuration: each clock's origin and pieces from the arrays
    are what ``_set_hazards`` set, bit for bit; set into the scalar clocks' columns, they
    give each patient's due day of the scalar clock."""
    c = _constants(factors)
    seen: list[dict[str, Any]] = []
    for i, (kind, age, sex, horizon) in enumerate(patients):
        presentation, cirrhosis = _KINDS[kind]
        rec = PatientRecord(
            f"k{i}", age=age, sex=sex, weight_kg=70, presentation=presentation, cirrhosis=cirrhosis
        )
        model = DiseaseModel(rec, c, PatientStream(seed, i, _MODEL_STREAM), tpmt="normal")
        run_patient(AIHPathway(rec), _Recording(model, seen), horizon_days=horizon)
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for update in seen:
        groups.setdefault(update["active"], []).append(update)
    for active, updates in groups.items():
        on, cases, cols = _columns(updates, active)
        tables = clock_tables(c, on, cases, cols)
        assert list(tables) == list(CLOCKS)
        for name, t in tables.items():
            for i, update in enumerate(updates):
                assert _same(_row(t, i), update["clocks"][name]), (name, sorted(active))
    # The last update of each patient left the scalar clocks as they are now.
    last = {id(u["model"]): u for u in seen}
    finals: dict[frozenset[str], list[dict[str, Any]]] = {}
    for update in last.values():
        finals.setdefault(update["active"], []).append(update)
    for active, updates in finals.items():
        models = [u["model"] for u in updates]
        tables = clock_tables(c, *_columns(updates, active))
        everyone = np.ones(len(models), dtype=bool)
        for name, t in tables.items():
            clocks = clocks_of(models, name)
            clocks.set_table(t.origin, t.table, t.has, everyone)
            want = [m.clocks[name].due() for m in models]
            assert [_bits(d) for d in clocks.due().tolist()] == [_bits(d) for d in want], name
