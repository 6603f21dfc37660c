"""Hypothesis strategies: patients, lab panels and random courses of findings and actions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from pathway import AIHPathway, PatientRecord
from pathway.guidelines.aih.vocabulary import ACTIONS, DRUGS, PLAIN_FINDINGS

LAB_STRATEGIES = {
    "alt_xuln": st.floats(0.1, 40),
    "ast_xuln": st.floats(0.1, 40),
    "igg_xuln": st.floats(0.3, 3),
    "bilirubin_mg_dl": st.floats(0.2, 20),
    "inr": st.floats(0.8, 4),
    "wbc_10e9_l": st.floats(1, 12),
    "platelets_10e9_l": st.floats(20, 400),
    "meld": st.floats(6, 40),
}

labs = st.fixed_dictionaries({}, optional=LAB_STRATEGIES).filter(bool)
#: Panels without a MELD: a random MELD is >= 15 three times in four, and the referral that
#: follows ends most courses in transplant care.
labs_without_meld = st.fixed_dictionaries(
    {}, optional={k: v for k, v in LAB_STRATEGIES.items() if k != "meld"}
).filter(bool)
#: A panel of a responding patient: transaminases and IgG normal. Random panels are almost
#: never normal, so without these the courses stop short of response, maintenance and
#: relapse (Hypothesis statistics showed no course reaching maintenance).
normal_labs = st.fixed_dictionaries(
    {
        "alt_xuln": st.floats(0.1, 1.0),
        "ast_xuln": st.floats(0.1, 1.0),
        "igg_xuln": st.floats(0.3, 1.0),
    }
)

patients = st.builds(
    PatientRecord,
    patient_id=st.just("h1"),
    age=st.integers(18, 85),
    sex=st.sampled_from(["F", "M"]),
    weight_kg=st.integers(40, 150),
    cirrhosis=st.sampled_from(["none", "none", "compensated", "decompensated"]),
    presentation=st.sampled_from(["chronic"] * 6 + ["acute_severe", "acute_liver_failure"]),
    tpmt=st.sampled_from(["unknown", "normal", "normal", "intermediate", "deficient"]),
)

_FINDINGS = st.one_of(
    st.tuples(st.just("labs"), labs),
    st.tuples(st.just("labs"), labs_without_meld),
    st.tuples(st.just("labs"), normal_labs),
    st.tuples(st.just("labs"), normal_labs),
    st.tuples(st.just("tpmt"), st.sampled_from(["normal", "intermediate", "deficient"])),
    st.tuples(st.just("intolerance"), st.sampled_from(DRUGS[:5])),
    st.tuples(st.just("cytopenia"), st.sampled_from(["mild", "severe"])),
    st.tuples(st.just("cirrhosis_diagnosed"), st.sampled_from(["compensated", "decompensated"])),
    st.tuples(st.sampled_from(PLAIN_FINDINGS), st.none()),
)

#: One move of a course: wait ``dt`` days and then do something.
moves_guideline = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 120), st.just("finding"), _FINDINGS),
        st.tuples(st.integers(0, 0), st.just("timer"), st.none()),
        st.tuples(st.integers(0, 0), st.just("timer"), st.none()),
    ),
    max_size=30,
)
moves_any = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 120), st.just("finding"), _FINDINGS),
        st.tuples(st.integers(0, 0), st.just("timer"), st.none()),
        st.tuples(st.integers(0, 30), st.just("deviate"), st.sampled_from(ACTIONS)),
    ),
    max_size=30,
)


def apply_move(chart: AIHPathway, move: tuple[int, str, Any], *, policy: bool = True) -> None:
    """Apply one move if it is possible now (findings the chart cannot take are skipped)."""
    from simulation.model.policies import GuidelinePolicy

    if chart.is_dead:
        return
    dt, kind, payload = move
    if kind != "timer":
        # Like the engine: time points due before the move happen first.
        until = chart.day + dt
        while (pending := chart.pending_timers()) and pending[0].due_day <= until:
            chart.fire(pending[0].timer_id, day=max(chart.day, pending[0].due_day))
            if policy and not chart.is_dead:
                GuidelinePolicy().act(chart, chart.day)
            if chart.is_dead:
                return
    if kind == "timer":
        pending = chart.pending_timers()
        if not pending:
            return
        timer = pending[0]
        chart.fire(timer.timer_id, day=max(chart.day, timer.due_day))
    elif kind == "finding":
        name, value = payload
        if name not in chart.allowed_event_ids():
            return
        chart.observe(name, value, day=chart.day + dt)
    else:
        chart.take(payload, day=chart.day + dt, deviate=True)
    if policy and not chart.is_dead:
        GuidelinePolicy().act(chart, chart.day)


def start(
    patient: PatientRecord, baseline: dict[str, float], *, engine: type[Any] | None = None
) -> AIHPathway:
    """A chart at day 0 with the baseline findings and the guideline's first actions.

    ``engine``: the chart class (default :class:`AIHPathway`, python-statemachine).
    """
    from simulation.model.policies import GuidelinePolicy
    from simulation.model.scripted import baseline_occurrences

    chart: AIHPathway = (engine or AIHPathway)(patient)
    for occ in baseline_occurrences(patient, baseline):
        chart.observe(occ.name, occ.value, day=0)
    GuidelinePolicy().act(chart, 0.0)
    return chart


def course(
    patient: PatientRecord, moves: list[Any], *, engine: type[Any] | None = None
) -> Iterator[AIHPathway]:
    """The chart of a random course (mild baseline labs) after its start and after each move,
    while the patient lives."""
    chart = start(patient, {"alt_xuln": 6.0, "igg_xuln": 1.6}, engine=engine)
    for move in [None, *moves]:
        if move is not None:
            apply_move(chart, move)
        if chart.is_dead:
            return
        yield chart
