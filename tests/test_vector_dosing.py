"""The dose rules and the day-7 improvement: declared once, the same bits over columns (issue 14).

Three differential layers:

* the declared expressions (:mod:`pathway.guidelines.aih.dosing`,
  :data:`~pathway.guidelines.aih.rules.ACUTE_IMPROVING`) against the Python they replaced,
  copied here as the oracle, over random records, weights near the tablet steps and random
  thresholds (integers too: Python's ``min``/``max`` keep the type, so must the rules);
* their vector forms against the scalar functions, bit for bit, over batches of random
  records and records of random courses, with no row-by-row call;
* the vector effects of every action that doses (and of the day-7 review) against the scalar
  effects, with none of these functions run row by row.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathway.columns import RecordColumns
from pathway.guidelines.aih import dosing, effects, rules
from pathway.guidelines.aih.columns import EFFECT_FORMS, LAYOUT, METHOD_FORMS, MUTATOR_FORMS
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.patient import LabPanel, PatientRecord
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.aih.vector_forms import DOSING_FORMS, FORMS, VECTOR_RULEBOOK
from pathway.guidelines.aih.vocabulary import FINDING_VALUES
from pathway.vector import Batch, Columnar
from pathway.vector_effects import VectorEffects

from .legacy_rules import acute_improving as _old_acute_improving
from .strategies import LAB_STRATEGIES
from .test_columns import _whole
from .test_declarations import situations
from .test_effects import _payload
from .test_vector_forms import EXPRS, _check

# --- the oracle: the Python the declarations replaced (dosing.py and rules.py before) -------


def _old_floor_to(value: float, step: float) -> float:
    return math.floor(value / step + 1e-9) * step


def _old_prednisolone(p: PatientRecord, th: Thresholds, opt: Any, *, acute: bool) -> float:
    cap = min(th.prednisolone_max_mg_day, th.prednisolone_max_mg_per_kg * p.weight_kg)
    if acute:
        wanted = th.prednisolone_acute_mg_per_kg * p.weight_kg
    elif opt.steroid_scheme == "aasld_fixed":
        wanted = th.prednisolone_fixed_mg_day
    else:
        wanted = th.prednisolone_mg_per_kg * p.weight_kg
    return max(5.0, _old_floor_to(min(wanted, cap), 5.0))


def _old_optimised(p: PatientRecord, th: Thresholds, opt: Any) -> tuple[str, float] | None:
    if p.on("budesonide"):
        return "prednisolone", _old_prednisolone(p, th, opt, acute=False)
    current = p.dose("prednisolone")
    if current is None or p.response != "non_response":
        return None
    cap = min(th.prednisolone_max_mg_day, th.prednisolone_max_mg_per_kg * p.weight_kg)
    top = max(5.0, _old_floor_to(cap, 5.0))
    return ("prednisolone", top) if top > current else None


def _old_azathioprine(p: PatientRecord, th: Thresholds, *, maintenance: bool) -> float:
    if p.tpmt == "deficient":
        return 0.0
    cap = _old_floor_to(th.azathioprine_max_mg_per_kg * p.weight_kg, 25.0)
    per_kg = th.azathioprine_max_mg_per_kg if maintenance else th.azathioprine_start_mg_per_kg
    dose = max(th.azathioprine_min_start_mg_day, _old_floor_to(per_kg * p.weight_kg, 25.0))
    if p.tpmt == "intermediate":
        dose = max(25.0, _old_floor_to(dose * th.azathioprine_tpmt_intermediate_factor, 25.0))
    return min(dose, cap)


def _old_tacrolimus(p: PatientRecord, th: Thresholds) -> float:
    return max(1.0, _old_floor_to(th.tacrolimus_mg_per_kg * p.weight_kg, 0.5))


def _same(got: Any, want: Any) -> bool:
    """The same value and type class; floats bit for bit (``None``: NaN or ``None``)."""
    if want is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    if isinstance(want, tuple):
        return isinstance(got, tuple) and all(map(_same, got, want)) and len(got) == len(want)
    if isinstance(want, float | int) and not isinstance(want, bool):
        return isinstance(got, int | float) and float(got).hex() == float(want).hex()
    return bool(got == want) and type(got) is type(want)


# --- records and thresholds near the rounding steps ----------------------------------------

#: Weights anywhere, and weights whose dose lands on, or one ulp beside, a tablet step.
_ON_STEP = st.builds(
    lambda k, per_kg, ulps: (
        float(np.nextafter(k / per_kg, math.inf if ulps > 0 else -math.inf)) if ulps else k / per_kg
    ),
    st.integers(2, 60).map(lambda n: n * 2.5),
    st.sampled_from([0.05, 0.5, 1.0, 2.0, 0.7, 0.35]),
    st.integers(-1, 1),
).filter(lambda w: 30 <= w <= 300)
_WEIGHT = st.integers(30, 300) | st.floats(30, 300) | _ON_STEP

#: Thresholds of the dose rules: the defaults, others, and integers (as ``--set`` may give).
_NUMBER = st.sampled_from([0.35, 0.5, 0.7, 1.0, 2.0, 0.05, 0.075]) | st.integers(1, 3)
_DOSE_THRESHOLDS = st.fixed_dictionaries(
    {},
    optional={
        "prednisolone_mg_per_kg": _NUMBER,
        "prednisolone_acute_mg_per_kg": _NUMBER,
        "prednisolone_max_mg_per_kg": _NUMBER,
        "prednisolone_max_mg_day": st.sampled_from([60, 60.0, 40.0, 80.0]),
        "prednisolone_fixed_mg_day": st.sampled_from([30, 30.0, 20.0, 40.0, 37.5]),
        "azathioprine_start_mg_per_kg": _NUMBER,
        "azathioprine_max_mg_per_kg": _NUMBER,
        "azathioprine_min_start_mg_day": st.sampled_from([50, 50.0, 25.0, 75.0]),
        "azathioprine_tpmt_intermediate_factor": st.sampled_from([0.5, 1, 0.3, 0.75]),
        "tacrolimus_mg_per_kg": _NUMBER,
    },
)


def _acute_labs(draw: st.DrawFn, p: PatientRecord) -> None:
    """Panels and a baseline that exercise the day-7 rule's branches (MELD re-measured or
    carried forward, bilirubin and INR up or down, values missing)."""
    acute = {k: st.none() | LAB_STRATEGIES[k] for k in ("meld", "bilirubin_mg_dl", "inr")}
    base_day = draw(st.floats(0, p.day))
    if draw(st.booleans()):
        values = {k: v for k, s in acute.items() if (v := draw(s)) is not None}
        p.treatment_baseline = LabPanel(base_day, **values)
    for day in sorted(draw(st.lists(st.floats(0, p.day) | st.just(base_day), max_size=3))):
        values = {k: v for k, s in acute.items() if (v := draw(s)) is not None}
        if values:
            p.add_labs(LabPanel(day, **values))


@st.composite
def _records(draw: st.DrawFn) -> tuple[list[PatientRecord], Thresholds, Any, frozenset[str]]:
    """1-8 random records in one configuration, with the dose rules' fields drawn anew."""
    drawn = draw(st.lists(situations(), min_size=1, max_size=8))
    _, _, opt, active = drawn[0]
    th = Thresholds(**draw(_DOSE_THRESHOLDS))
    records = []
    for p, *_ in drawn:
        p.weight_kg = draw(_WEIGHT)
        p.tpmt = draw(st.sampled_from(["unknown", "normal", "intermediate", "deficient"]))
        if draw(st.booleans()):
            p.response = "non_response"
        if draw(st.booleans()):
            p.drugs["prednisolone"] = draw(st.sampled_from([5.0, 30, 40.0, 55.0, 60.0, 100.0]))
        if draw(st.booleans()):
            p.drugs["budesonide"] = 9.0
        if draw(st.booleans()):
            _acute_labs(draw, p)
        records.append(p)
    return records, th, opt, active


_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_records())
def test_the_declared_rules_give_what_the_python_gave(batch: tuple[Any, ...]) -> None:
    """Values and their types (``repr``: an int dose stays an int, floats to the last bit):
    the rules changed form, not one dose or answer."""
    records, th, opt, _ = batch
    for p in records:
        pairs = [
            *(
                (
                    dosing.prednisolone_dose(p, th, opt, acute=a),
                    _old_prednisolone(p, th, opt, acute=a),
                )
                for a in (False, True)
            ),
            *(
                (
                    dosing.azathioprine_dose(p, th, maintenance=m),
                    _old_azathioprine(p, th, maintenance=m),
                )
                for m in (False, True)
            ),
            (dosing.tacrolimus_dose(p, th), _old_tacrolimus(p, th)),
            (dosing.optimised_steroid(p, th, opt), _old_optimised(p, th, opt)),
            (rules.acute_improving(p), _old_acute_improving(p)),
        ]
        for got, want in pairs:
            assert repr(got) == repr(want)


#: Values on a step, one ulp either side of it, and anywhere.
_NEAR_STEP = st.builds(
    lambda k, ulps: float(np.nextafter(k * 0.1, math.inf * ulps)) if ulps else k * 0.1,
    st.integers(0, 10_000),
    st.integers(-1, 1),
)


@given(
    st.floats(0, 1e4) | st.integers(0, 10_000) | _NEAR_STEP,
    st.sampled_from([0.5, 5.0, 25.0, 2.5, 0.3, 0.1]),
)
def test_floor_to_in_numpy_is_the_scalar_floor_to(value: float, step: float) -> None:
    vi = VECTOR_RULEBOOK.interpreter(Batch(1, frozenset()), None, None)
    form = DOSING_FORMS["floor_to"]
    assert isinstance(form, Columnar)
    out = form.fn(vi, np.array([value]), np.asarray(step))
    assert out[0].hex() == dosing.floor_to(value, step).hex()


# --- the vector forms against the scalar functions ----------------------------------------

#: The functions whose forms are tested here: none may run row by row.
FUNCTIONS = frozenset(
    {"prednisolone_dose", "azathioprine_dose", "tacrolimus_dose", "optimised_steroid"}
    | {"acute_improvement", "floor_to"}
)


def test_every_form_here_is_called() -> None:
    """tests/test_vector_forms.py's calls (checked on its records and on random courses)
    include each of these functions."""
    called = {fn for e in EXPRS for fn in e.deps.functions}
    assert FUNCTIONS - {"floor_to"} <= called & set(FORMS)


@_SETTINGS
@given(_records())
def test_forms_agree_on_random_records(batch: tuple[Any, ...]) -> None:
    """Every form of tests/test_vector_forms.py, on records with weights near the tablet
    steps, random dose thresholds, doses, TPMT and day-7 panels: bit for bit, none row by
    row."""
    _check(*batch)


# --- the effects that dose, over columns ---------------------------------------------------


#: What declared operations that change a dose or call the dose or day-7 rules contain.
_DOSING_WORDS = ("Dose(", "StopDrug(", "ScaleDoses(", "_dose(", "optimised_steroid(")


def _doses(ops: Any) -> bool:
    text = repr(ops)
    return any(word in text for word in (*_DOSING_WORDS, "acute_improvement("))


#: Every finding, time point and action whose effect changes a dose or calls these rules.
DOSING_EVENTS = [
    (kind, name)
    for kind, table in effects.DECLARATIONS.items()
    for name, ops in table.items()
    if _doses(ops)
]


def test_the_dosing_events_are_found() -> None:
    names = {name for _, name in DOSING_EVENTS}
    assert names >= {"start_prednisolone", "add_azathioprine", "stop_steroid", "reinduce"}
    assert names >= {"switch_to_tacrolimus", "optimise_treatment", "attempt_withdrawal"}
    assert names >= {"acute_review", "transplanted", "decompensation", "tpmt"}
    assert not names & {"refer_transplant", "observe_untreated", "continue"}


def _fresh() -> VectorEffects:
    """The AIH vector effects with their own fallback counts."""
    return VectorEffects(
        effects.EFFECTS, VECTOR_RULEBOOK, MUTATOR_FORMS, forms=EFFECT_FORMS, methods=METHOD_FORMS
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records(), st.sampled_from(DOSING_EVENTS), st.data())
def test_dosing_effects_over_columns_with_no_row_by_row_call(
    batch: tuple[Any, ...], event: tuple[str, str], data: st.DataObject
) -> None:
    kind, name = event
    values = [_payload(data.draw, kind, name, p) for p in batch[0]]
    _effects_agree(*batch, kind, name, values)


_TABLES = {
    "finding": effects.FINDING_EFFECTS,
    "timer": effects.TIMER_EFFECTS,
    "action": effects.ACTION_EFFECTS,
}


def _effects_agree(
    records: list[PatientRecord],
    th: Any,
    opt: Any,
    active: frozenset[str],
    kind: str,
    name: str,
    values: list[Any],
) -> None:
    """The effect over columns gives the scalar records, doses bit for bit, and runs none of
    the dose rules or the day-7 rule row by row."""
    want = copy.deepcopy(records)
    for p, value in zip(want, values, strict=True):
        _TABLES[kind][name](p, value, th, opt, active)
    columns = RecordColumns.from_records(LAYOUT, copy.deepcopy(records))
    vector = _fresh()
    vector.apply(kind, name, columns, values, th, opt, active)
    for got, expected in zip(columns.to_records(), want, strict=True):
        assert _whole(got) == _whole(expected), (kind, name)
        for drug, mg in expected.drugs.items():
            assert _same(got.drugs[drug], mg), (drug, got.drugs[drug], mg)
    assert not (set(vector.fallbacks) & FUNCTIONS), vector.fallbacks


def test_each_dosing_effect_on_one_record() -> None:
    """A plain case per event, so a failure names the event without shrinking."""
    p = PatientRecord("a", 40, "F", 71.3, tpmt="intermediate", day=30.0)
    p.add_labs(LabPanel(0.0, bilirubin_mg_dl=8.0, inr=1.9, meld=24.0))
    p.treatment_baseline = p.latest_panel()
    p.add_labs(LabPanel(7.0, bilirubin_mg_dl=6.0, inr=1.7))
    p.drugs = {"budesonide": 9.0, "azathioprine": 25.0}
    p.response = "non_response"
    th, opt = Thresholds(), GuidelineOptions()
    active = frozenset({"induction"})
    _check([p], th, opt, active)
    for kind, name in DOSING_EVENTS:
        value = FINDING_VALUES.get(name, (None,))[0] if kind == "finding" else None
        _effects_agree([p], th, opt, active, kind, name, [value])
