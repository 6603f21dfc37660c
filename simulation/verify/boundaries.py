"""Candidate patients, lab panels and findings built from the thresholds' boundary values.

Guards compare the record with the numbers of
:class:`~pathway.guidelines.aih.thresholds.Thresholds`, so the interesting patients sit on
either side of each number: just below, exactly at, just above (``±`` :data:`EPSILON` in
the field's unit). The analyte a threshold applies to is
read from its name (units are in the names: ``_xuln``, ``_mg_dl``, ``inr``, ``meld``,
``wbc``, ``platelets``), time points from ``_days``, and body-weight boundaries from the
dose caps. Nothing clinical is invented here: every value is derived from a threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from pathway import PatientRecord, Thresholds
from pathway.guidelines.aih.patient import LAB_RANGES
from pathway.guidelines.aih.vocabulary import CIRRHOSIS_STAGES, FINDING_VALUES, TPMT_STATUSES

from ..scenarios.course import Start
from ..scenarios.scenario import PatientSpec

__all__ = [
    "EPSILON",
    "default_starts",
    "finding_moves",
    "lab_boundaries",
    "lab_position",
    "record_facts",
    "threshold_analytes",
    "triage_starts",
    "visit_panels",
]

#: The "small epsilon" around each lab threshold, in the threshold's own unit.
EPSILON = 0.01

_TRANSAMINASES = ("alt_xuln", "ast_xuln")


def threshold_analytes(name: str) -> tuple[str, ...]:
    """The lab analytes a threshold compares, read from its name (empty: not a lab cut-off)."""
    if name == "uln":
        return ("alt_xuln", "ast_xuln", "igg_xuln")
    if name.endswith("_xuln"):
        if "transaminase" in name:
            return _TRANSAMINASES
        for analyte in ("alt", "ast", "igg"):
            if f"_{analyte}_" in f"_{name}":
                return (f"{analyte}_xuln",)
        return ("alt_xuln", "ast_xuln", "igg_xuln")
    for key, analyte in (
        ("bilirubin", "bilirubin_mg_dl"),
        ("_inr", "inr"),
        ("meld", "meld"),
        ("wbc", "wbc_10e9_l"),
        ("platelets", "platelets_10e9_l"),
    ):
        if key in f"_{name}":
            return (analyte,)
    return ()


def _clamp(analyte: str, value: float) -> float | None:
    low, high = LAB_RANGES[analyte]
    return round(value, 6) if low <= value <= high else None


def lab_boundaries(th: Thresholds) -> dict[str, list[tuple[float, str]]]:
    """For each analyte, the values ``v - ε``, ``v``, ``v + ε`` of every threshold on it.

    Returns:
        analyte -> sorted ``(value, threshold name)`` pairs.
    """
    out: dict[str, set[tuple[float, str]]] = {}
    for f in fields(th):
        value = float(getattr(th, f.name))
        for analyte in threshold_analytes(f.name):
            for v in (value - EPSILON, value, value + EPSILON):
                clamped = _clamp(analyte, v)
                if clamped is not None:
                    out.setdefault(analyte, set()).add((clamped, f.name))
    return {a: sorted(vs) for a, vs in out.items()}


def unsearched_thresholds(th: Thresholds) -> list[str]:
    """Thresholds that are not lab cut-offs, time points or weight boundaries (doses)."""
    searched = {f.name for f in fields(th) if threshold_analytes(f.name)}
    searched |= {f.name for f in fields(th) if f.name.endswith("_days")}
    searched |= {"non_response_fall"} | set(_WEIGHT_CAPS)
    return sorted(f.name for f in fields(th) if f.name not in searched)


#: Dose caps that become body-weight boundaries: (mg/day cap, mg/kg rate) field pairs.
_WEIGHT_CAPS = {
    "prednisolone_max_mg_day": "prednisolone_max_mg_per_kg",
    "prednisolone_max_mg_per_kg": "prednisolone_max_mg_day",
    "azathioprine_min_start_mg_day": "azathioprine_start_mg_per_kg",
    "azathioprine_start_mg_per_kg": "azathioprine_min_start_mg_day",
}


def weight_boundaries(th: Thresholds) -> list[float]:
    """Body weights (kg) at which a mg/kg dose meets a mg/day cap, ± 1 kg."""
    out: set[float] = set()
    pairs = (
        ("prednisolone_max_mg_day", "prednisolone_max_mg_per_kg"),
        ("prednisolone_max_mg_day", "prednisolone_acute_mg_per_kg"),
        ("azathioprine_min_start_mg_day", "azathioprine_start_mg_per_kg"),
    )
    for cap, rate in pairs:
        per_kg = float(getattr(th, rate))
        if per_kg > 0:
            w = float(getattr(th, cap)) / per_kg
            out |= {w - 1, w, w + 1}
    return sorted(w for w in out if 30 <= w <= 300)


# --- patients at diagnosis ----------------------------------------------------------------


def _start(
    name: str,
    labs: dict[str, float],
    *,
    sex: str = "F",
    weight: float = 62,
    age: float = 45,
    cirrhosis: str = "none",
    presentation: str = "chronic",
    tpmt: str = "normal",
    pregnant: bool = False,
) -> Start:
    spec = PatientSpec(age, sex, weight, cirrhosis, presentation, tpmt, pregnant)
    return Start(name, spec, tuple((k, round(v, 4)) for k, v in labs.items()))


def default_starts(th: Thresholds) -> list[Start]:
    """Typical patients at diagnosis, one per branch of triage, to explore from.

    Active disease has transaminases well above the activity threshold; acute severe and
    acute liver failure sit above the jaundice and INR cut-offs; mild disease sits below
    the activity threshold.
    """
    active = th.active_transaminase_xuln
    labs = {
        "alt_xuln": active * 2.8,
        "ast_xuln": active * 2.3,
        "igg_xuln": th.uln * 1.6,
        "bilirubin_mg_dl": th.jaundice_bilirubin_mg_dl * 0.5,
        "inr": th.acute_severe_inr * 0.73,
    }
    jaundiced = dict(
        labs,
        bilirubin_mg_dl=th.jaundice_bilirubin_mg_dl * 3,
        inr=th.acute_severe_inr * 1.2,
    )
    mild = {"alt_xuln": active * 0.66, "ast_xuln": active * 0.5, "igg_xuln": th.uln * 1.1}
    return [
        _start("chronic active disease, TPMT normal", labs),
        _start("chronic active disease, TPMT not yet known", labs, tpmt="unknown"),
        _start(
            "chronic active disease, TPMT deficient", labs, tpmt="deficient", sex="M", weight=80
        ),
        _start("chronic active disease, TPMT intermediate", labs, tpmt="intermediate"),
        _start("compensated cirrhosis at diagnosis", labs, cirrhosis="compensated"),
        _start(
            "decompensated cirrhosis at diagnosis",
            dict(labs, meld=th.transplant_meld + 1),
            cirrhosis="decompensated",
        ),
        _start("acute severe presentation", jaundiced, presentation="acute_severe"),
        _start(
            "acute liver failure",
            dict(jaundiced, inr=th.acute_severe_inr * 1.6),
            presentation="acute_liver_failure",
        ),
        _start("mild disease below the activity threshold", mild),
        _start("pregnant at diagnosis", labs, pregnant=True),
    ]


def triage_starts(th: Thresholds) -> list[Start]:
    """Patients at diagnosis whose labs and weight sit on the triage thresholds' boundaries.

    Each varies one number of a typical chronic patient (active transaminases, jaundice,
    INR, MELD, weight) to ``v - ε``, ``v`` and ``v + ε``, under every presentation and
    cirrhosis stage where the threshold matters.
    """
    base = default_starts(th)[0]
    labs = base.lab_dict
    bounds = lab_boundaries(th)
    out: list[Start] = []
    for analyte in ("alt_xuln", "ast_xuln", "bilirubin_mg_dl", "inr", "meld"):
        for value, name in bounds.get(analyte, []):
            for cirrhosis in CIRRHOSIS_STAGES:
                varied = dict(labs, **{analyte: value})
                if analyte in _TRANSAMINASES:
                    other = "ast_xuln" if analyte == "alt_xuln" else "alt_xuln"
                    varied[other] = min(varied[other], value)
                out.append(
                    _start(
                        f"{analyte} = {value:g} ({name}), cirrhosis {cirrhosis}",
                        varied,
                        cirrhosis=cirrhosis,
                    )
                )
    for weight in weight_boundaries(th):
        for presentation in ("chronic", "acute_severe"):
            out.append(
                _start(
                    f"weight {weight:g} kg, {presentation}",
                    labs,
                    weight=weight,
                    presentation=presentation,
                )
            )
    for tpmt in TPMT_STATUSES:
        out.append(_start(f"TPMT {tpmt}", labs, tpmt=tpmt))
    return out


# --- what can happen next ---------------------------------------------------------------------


def _panel(**values: float | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in values.items():
        if v is None:
            continue
        clamped = _clamp(k, v)
        if clamped is not None:
            out[k] = clamped
    return out


def visit_panels(p: PatientRecord, th: Thresholds, active: Iterable[str]) -> list[dict[str, float]]:
    """Lab panels worth drawing at the next visit, each at a threshold boundary.

    Remission deep enough for withdrawal; exactly at and just above the upper limit of
    normal; exactly at and just above the relapse threshold; transaminases exactly halved
    and just short of halved from the treatment baseline; bilirubin just below the baseline
    in acute severe disease; MELD at the transplant threshold.
    """
    e = EPSILON
    panels = [
        _panel(
            alt_xuln=th.withdrawal_max_alt_xuln - e,
            ast_xuln=th.withdrawal_max_alt_xuln - e,
            igg_xuln=th.withdrawal_max_igg_xuln,
        ),
        _panel(alt_xuln=th.uln, ast_xuln=th.uln, igg_xuln=th.uln),
        _panel(alt_xuln=th.uln + e, ast_xuln=th.uln + e, igg_xuln=th.uln),
        _panel(alt_xuln=th.relapse_alt_xuln, ast_xuln=th.relapse_alt_xuln),
        _panel(alt_xuln=th.relapse_alt_xuln + e, ast_xuln=th.relapse_alt_xuln + e),
        _panel(meld=th.transplant_meld),
    ]
    base = p.treatment_baseline
    if base is not None and base.alt_xuln is not None:
        keep = 1 - th.non_response_fall
        alt = base.alt_xuln * keep
        ast = base.ast_xuln * keep if base.ast_xuln is not None else None
        if alt > th.uln:
            panels.append(_panel(alt_xuln=alt, ast_xuln=ast))
            panels.append(_panel(alt_xuln=alt + e, ast_xuln=None if ast is None else ast + e))
    if "acute_severe" in set(active) and base is not None and base.bilirubin_mg_dl is not None:
        panels.append(_panel(bilirubin_mg_dl=base.bilirubin_mg_dl - e, inr=base.inr))
        panels.append(_panel(bilirubin_mg_dl=base.bilirubin_mg_dl, inr=base.inr))
    unique: list[dict[str, float]] = []
    for panel in panels:
        if panel and panel not in unique:
            unique.append(panel)
    return unique


def finding_moves(p: PatientRecord, allowed: set[str]) -> list[tuple[str, Any]]:
    """Findings (vocabulary id, payload) that can happen to this patient now.

    Only findings some active state handles; only changes (TPMT once, an intolerance of a
    drug being taken, a stage that is new); pregnancy only for women. Death is left out:
    it ends every course the same way.
    """
    out: list[tuple[str, Any]] = []
    if p.tpmt == "unknown":
        out += [("tpmt", status) for status in FINDING_VALUES["tpmt"]]
    out += [("intolerance", drug) for drug in sorted(p.drugs)]
    if not p.severe_cytopenia:
        out += [("cytopenia", grade) for grade in FINDING_VALUES["cytopenia"]]
    stage = CIRRHOSIS_STAGES.index(p.cirrhosis)
    out += [("cirrhosis_diagnosed", s) for s in CIRRHOSIS_STAGES[stage + 1 :]]
    if p.cirrhosis != "none" and not p.decompensated:
        out.append(("decompensation", None))
    for flag, name in (
        (p.encephalopathy, "encephalopathy"),
        (p.hcc, "hcc"),
        (p.nonadherent, "nonadherence"),
    ):
        if not flag:
            out.append((name, None))
    if p.sex == "F":
        out += [(name, None) for name in ("pregnancy_planned", "pregnant", "delivered")]
    out += [("transplanted", None), ("graft_failure", None)]
    return [(name, value) for name, value in out if name in allowed]


def lab_position(panel: Any, bounds: dict[str, list[float]]) -> tuple[int | None, ...]:
    """Where each analyte of ``panel`` sits among its boundary values (``bounds``, from
    :func:`lab_boundaries`): twice the number below it, plus one when it equals one
    (``None``: not measured), analytes in name order."""
    return tuple(
        None
        if (v := getattr(panel, a)) is None
        else sum(v > b for b in values) + sum(v >= b for b in values)
        for a, values in sorted(bounds.items())
    )


def record_facts(p: PatientRecord) -> tuple[Any, ...]:
    """The record's clinically relevant facts for telling situations apart: response
    class, drugs and doses, TPMT, staging, flags, intolerances, withdrawal and failure
    history (lab values apart: :func:`lab_position`)."""
    return (
        p.response,
        tuple(sorted(p.drugs.items(), key=lambda kv: kv[0])),
        p.tpmt,
        p.cirrhosis,
        p.decompensated,
        p.encephalopathy,
        p.hcc,
        p.nonadherent,
        p.severe_cytopenia,
        p.pregnancy,
        tuple(sorted(p.intolerant)),
        p.reinduced,
        p.relapsed_after_withdrawal,
        p.line_assessed,
        p.optimised_day is not None,
        p.failure_confirmed,
        p.acute_improving,
        p.acute_review_day is not None,
        p.transplant_referral_day is not None,
        p.withdrawal_attempts,
    )
