"""Dose rules (mg/day) with the caps of the safety invariants.

Each rule names its id; the caps (INV-03, INV-04, INV-06) are applied here and checked
again, independently, by :mod:`pathway.guidelines.aih.invariants`.

The rules that read the record are declared once as expressions (:data:`PREDNISOLONE`,
:data:`AZATHIOPRINE`, :data:`TACROLIMUS`, :data:`OPTIMISED_PREDNISOLONE`, over
:data:`DOSING`): the functions below evaluate them for one record, the vector engine over
columns of many (:mod:`pathway.guidelines.aih.vector_forms`), so the arithmetic is written
once and gives the same bits (``*``, ``/`` and ``+`` are correctly rounded in IEEE 754,
``min``, ``max`` and ``floor`` exact, in Python and numpy alike).

Doses come from :class:`~pathway.guidelines.aih.thresholds.Thresholds`, which cites them. The
few literals here are [MODEL] choices, not guideline figures: rounding to tablet-sized steps
(predniso(lo)ne 5 mg, azathioprine 25 mg, tacrolimus 0.5 mg), the floors (predniso(lo)ne
5 mg, azathioprine 25 mg with intermediate TPMT, tacrolimus 1 mg) and the taper steps
(-10 mg above 40 mg/day, then -5 mg), chosen so that a 60 mg start reaches the 10 mg target
in 8 steps (the EASL 2015 example schedule, 60 to 10 mg in about 10 weeks, is [V-sec]).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields

from ...expr import Expr, Function, Schema
from .options import GuidelineOptions
from .patient import PatientRecord
from .thresholds import Thresholds

__all__ = [
    "AZATHIOPRINE",
    "DOSING",
    "OPTIMISED_PREDNISOLONE",
    "PREDNISOLONE",
    "TABLET_SLACK",
    "TACROLIMUS",
    "azathioprine_dose",
    "budesonide_dose",
    "floor_to",
    "mycophenolate_dose",
    "next_taper_dose",
    "optimised_steroid",
    "prednisolone_dose",
    "tacrolimus_dose",
    "taper_target",
]


#: The slack of the tablet rounding: a product of mg/kg and weight that floating point puts
#: a hair below a step lands on it.
TABLET_SLACK = 1e-9


def floor_to(value: float, step: float) -> float:
    """``value`` rounded down to a multiple of ``step`` (a tablet size), with
    :data:`TABLET_SLACK`.

    >>> floor_to(37.4, 5.0), floor_to(0.05 * 70, 0.5)
    (35.0, 3.5)
    """
    return math.floor(value / step + TABLET_SLACK) * step


#: Named parts of the dose rules (inlined where used).
_DERIVED: dict[str, str] = {
    # Caps of INV-04 (<= 1 mg/kg and <= 60 mg/day) and INV-06 (<= 2 mg/kg/day).
    "prednisolone_cap": "min(th.prednisolone_max_mg_day,"
    " th.prednisolone_max_mg_per_kg * weight_kg)",
    "azathioprine_cap": "th.azathioprine_max_mg_per_kg * weight_kg",
    # The induction dose wanted: 1 mg/kg in acute severe AIH, else by scheme (AIH-DOSE-PRED).
    "prednisolone_wanted": "th.prednisolone_acute_mg_per_kg * weight_kg if acute"
    ' else th.prednisolone_fixed_mg_day if opt.steroid_scheme == "aasld_fixed"'
    " else th.prednisolone_mg_per_kg * weight_kg",
    # ... floored to 5 mg, capped, never below 5 mg.
    "prednisolone_induction": "max(5.0, floor_to(min(prednisolone_wanted, prednisolone_cap), 5.0))",
    # The top of the range (KB T07 [R]): the cap in 5 mg steps.
    "prednisolone_top": "max(5.0, floor_to(prednisolone_cap, 5.0))",
    # Azathioprine by weight (start 1 mg/kg, maintenance 2 mg/kg), at least the start dose.
    "azathioprine_by_weight": "max(th.azathioprine_min_start_mg_day, floor_to("
    "(th.azathioprine_max_mg_per_kg if maintenance else th.azathioprine_start_mg_per_kg)"
    " * weight_kg, 25.0))",
}

#: What the dose rules may read: the record's weight, TPMT, response and doses, thresholds,
#: options, and the variables ``acute`` and ``maintenance`` (the functions' arguments).
DOSING = Schema(
    fields={"weight_kg": False, "tpmt": False, "response": False},
    thresholds=frozenset(f.name for f in fields(Thresholds)),
    options=frozenset(f.name for f in fields(GuidelineOptions)),
    functions={
        "on": Function(arity=1, method=True, reads=frozenset({"drugs"})),
        "dose": Function(arity=1, method=True, optional=True, reads=frozenset({"drugs"})),
        "floor_to": Function(
            impl=lambda p, th, opt, a, value, step: floor_to(value, step), arity=2
        ),
    },
    derived=_DERIVED,
    variables=frozenset({"acute", "maintenance"}),
)


def _rule(text: str, name: str) -> Expr:
    return Expr(text, DOSING, f"dosing.{name}")


#: Induction predniso(lo)ne (AIH-DOSE-PRED): mg/kg by scheme (1 mg/kg when ``acute``),
#: floored to 5 mg, capped (INV-04: <= 1 mg/kg and <= 60 mg/day); never below 5 mg.
PREDNISOLONE = _rule("prednisolone_induction", "PREDNISOLONE")

#: Azathioprine (AIH-DOSE-AZA), TPMT-aware, floored to 25 mg; INV-06 cap 2 mg/kg. Start:
#: 1 mg/kg and at least 50 mg; maintenance monotherapy (S-JOHNSON95, ``maintenance``):
#: 2 mg/kg. Intermediate TPMT halves the dose [R], at least 25 mg. Deficient: none (0).
AZATHIOPRINE = _rule(
    '0.0 if tpmt == "deficient" else min(max(25.0, floor_to(azathioprine_by_weight'
    ' * th.azathioprine_tpmt_intermediate_factor, 25.0)) if tpmt == "intermediate"'
    " else azathioprine_by_weight, floor_to(azathioprine_cap, 25.0))",
    "AZATHIOPRINE",
)

#: Tacrolimus nominal mg/day (AIH-DOSE-TAC), floored to 0.5 mg, at least 1 mg.
TACROLIMUS = _rule("max(1.0, floor_to(th.tacrolimus_mg_per_kg * weight_kg, 0.5))", "TACROLIMUS")

#: The predniso(lo)ne dose of dose optimisation (AIH-RSP-05), ``None`` for no change:
#: budesonide is replaced by predniso(lo)ne at the induction dose (S-DIAZ23: budesonide
#: inferior); a week-4 non-responder's predniso(lo)ne goes to the top of the range, 1 mg/kg
#: and at most 60 mg/day (KB T07 "higher steroid dose" [R]; INV-04 caps), when higher.
#: Evaluated with ``acute`` false.
OPTIMISED_PREDNISOLONE = _rule(
    'prednisolone_induction if on("budesonide")'
    ' else prednisolone_top if response == "non_response"'
    ' and prednisolone_top > dose("prednisolone") else None',
    "OPTIMISED_PREDNISOLONE",
)

_NO_STATES: frozenset[str] = frozenset()


def prednisolone_dose(
    patient: PatientRecord, th: Thresholds, options: GuidelineOptions, *, acute: bool
) -> float:
    """Induction predniso(lo)ne (:data:`PREDNISOLONE`, AIH-DOSE-PRED), mg/day.

    >>> p = PatientRecord("d", age=40, sex="F", weight_kg=73)
    >>> prednisolone_dose(p, Thresholds(), GuidelineOptions(), acute=False)
    35.0
    """
    rule: Callable[..., float] = PREDNISOLONE.fn  # takes the variable ``acute`` by name
    return rule(patient, th, options, _NO_STATES, acute=acute)


def optimised_steroid(
    patient: PatientRecord, th: Thresholds, options: GuidelineOptions
) -> tuple[str, float] | None:
    """The steroid change of dose optimisation (:data:`OPTIMISED_PREDNISOLONE`,
    AIH-RSP-05): ``("prednisolone", mg/day)``, or ``None`` for none."""
    rule: Callable[..., float | None] = OPTIMISED_PREDNISOLONE.fn
    dose = rule(patient, th, options, _NO_STATES, acute=False)
    return None if dose is None else ("prednisolone", dose)


def budesonide_dose(th: Thresholds) -> float:
    """Budesonide induction 9 mg/day (AIH-DOSE-BUD; INV-03 cap)."""
    return th.budesonide_mg_day


def next_taper_dose(drug: str, dose: float, th: Thresholds) -> float:
    """The next taper step (AIH-TAP-01, AIH-TAP-02), never below the maintenance target.

    Predniso(lo)ne: -10 mg above 40, then -5 mg, down to 10 mg/day. Budesonide: 9 -> 6.

    >>> next_taper_dose("prednisolone", 60, Thresholds())
    50.0
    >>> next_taper_dose("prednisolone", 12.5, Thresholds())
    10.0
    >>> next_taper_dose("budesonide", 9, Thresholds())
    6.0
    """
    if drug == "budesonide":
        return float(th.budesonide_maintenance_mg_day)
    step = 10.0 if dose > 40 else 5.0
    return float(max(th.taper_target_mg_day, dose - step))


def taper_target(drug: str, th: Thresholds) -> float:
    """Maintenance dose a taper aims for (mg/day)."""
    return th.budesonide_maintenance_mg_day if drug == "budesonide" else th.taper_target_mg_day


def azathioprine_dose(
    patient: PatientRecord, th: Thresholds, *, maintenance: bool = False
) -> float:
    """Azathioprine (:data:`AZATHIOPRINE`, AIH-DOSE-AZA), mg/day: 0 with deficient TPMT."""
    rule: Callable[..., float] = AZATHIOPRINE.fn  # takes ``maintenance`` by name
    return rule(patient, th, None, _NO_STATES, maintenance=maintenance)


def mycophenolate_dose(th: Thresholds) -> float:
    """Mycophenolate mofetil 2 g/day (AIH-DOSE-MMF)."""
    return th.mycophenolate_mg_day


def tacrolimus_dose(patient: PatientRecord, th: Thresholds) -> float:
    """Tacrolimus nominal mg/day (:data:`TACROLIMUS`, AIH-DOSE-TAC)."""
    dose: float = TACROLIMUS.fn(patient, th, None, _NO_STATES)
    return dose
