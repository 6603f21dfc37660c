"""Dose rules (mg/day) with the caps of the safety invariants.

Each function names its rule id in the docstring; the caps (INV-03, INV-04, INV-06) are
applied here and checked again, independently, by :mod:`pathway.guidelines.aih.invariants`.

Doses come from :class:`~pathway.guidelines.aih.thresholds.Thresholds`, which cites them. The
few literals here are [MODEL] choices, not guideline figures: rounding to tablet-sized steps
(predniso(lo)ne 5 mg, azathioprine 25 mg, tacrolimus 0.5 mg), the floors (predniso(lo)ne
5 mg, azathioprine 25 mg with intermediate TPMT, tacrolimus 1 mg) and the taper steps
(-10 mg above 40 mg/day, then -5 mg), chosen so that a 60 mg start reaches the 10 mg target
in 8 steps (the EASL 2015 example schedule, 60 to 10 mg in about 10 weeks, is [V-sec]).
"""

from __future__ import annotations

import math

from .options import GuidelineOptions
from .patient import PatientRecord
from .thresholds import Thresholds

__all__ = [
    "azathioprine_dose",
    "budesonide_dose",
    "mycophenolate_dose",
    "next_taper_dose",
    "optimised_steroid",
    "prednisolone_dose",
    "tacrolimus_dose",
    "taper_target",
]


def _floor_to(value: float, step: float) -> float:
    return math.floor(value / step + 1e-9) * step


def prednisolone_dose(
    patient: PatientRecord, th: Thresholds, options: GuidelineOptions, *, acute: bool
) -> float:
    """Induction predniso(lo)ne (AIH-DOSE-PRED): mg/kg by scheme, floored to 5 mg, capped.

    Caps of INV-04: <= 1 mg/kg and <= 60 mg/day; never below 5 mg.
    """
    cap = min(th.prednisolone_max_mg_day, th.prednisolone_max_mg_per_kg * patient.weight_kg)
    if acute:
        wanted = th.prednisolone_acute_mg_per_kg * patient.weight_kg
    elif options.steroid_scheme == "aasld_fixed":
        wanted = th.prednisolone_fixed_mg_day
    else:
        wanted = th.prednisolone_mg_per_kg * patient.weight_kg
    return max(5.0, _floor_to(min(wanted, cap), 5.0))


def optimised_steroid(
    patient: PatientRecord, th: Thresholds, options: GuidelineOptions
) -> tuple[str, float] | None:
    """The steroid change of dose optimisation (AIH-RSP-05), or ``None`` for none.

    Budesonide is replaced by predniso(lo)ne at the induction dose (S-DIAZ23: budesonide
    inferior). A week-4 non-responder's predniso(lo)ne goes to the top of the range, 1 mg/kg
    and at most 60 mg/day (KB T07 "higher steroid dose" [R]; INV-04 caps).
    """
    if patient.on("budesonide"):
        return "prednisolone", prednisolone_dose(patient, th, options, acute=False)
    current = patient.dose("prednisolone")
    if current is None or patient.response != "non_response":
        return None
    cap = min(th.prednisolone_max_mg_day, th.prednisolone_max_mg_per_kg * patient.weight_kg)
    top = max(5.0, _floor_to(cap, 5.0))
    return ("prednisolone", top) if top > current else None


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
    """Azathioprine (AIH-DOSE-AZA), TPMT-aware, floored to 25 mg; INV-06 cap 2 mg/kg.

    Start: 1 mg/kg and at least 50 mg; maintenance monotherapy (S-JOHNSON95): 2 mg/kg.
    Intermediate TPMT halves the dose [R]. Deficient TPMT: no azathioprine (0).
    """
    if patient.tpmt == "deficient":
        return 0.0
    cap = _floor_to(th.azathioprine_max_mg_per_kg * patient.weight_kg, 25.0)
    per_kg = th.azathioprine_max_mg_per_kg if maintenance else th.azathioprine_start_mg_per_kg
    dose = max(th.azathioprine_min_start_mg_day, _floor_to(per_kg * patient.weight_kg, 25.0))
    if patient.tpmt == "intermediate":
        dose = max(25.0, _floor_to(dose * th.azathioprine_tpmt_intermediate_factor, 25.0))
    return min(dose, cap)


def mycophenolate_dose(th: Thresholds) -> float:
    """Mycophenolate mofetil 2 g/day (AIH-DOSE-MMF)."""
    return th.mycophenolate_mg_day


def tacrolimus_dose(patient: PatientRecord, th: Thresholds) -> float:
    """Tacrolimus nominal mg/day (AIH-DOSE-TAC), floored to 0.5 mg, at least 1 mg."""
    return max(1.0, _floor_to(th.tacrolimus_mg_per_kg * patient.weight_kg, 0.5))
