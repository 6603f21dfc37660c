"""Every clinical number the pathway uses, in one place, each with its sources and tag.

Guards and dose rules read these values; no clinical literal appears inside a guard.
Units are in the field names (``_days``, ``_xuln``, ``_mg_day``, ``_mg_per_kg``).
:data:`CITATIONS` gives each field its knowledge-base sources and verification tag, or
``MODEL`` with a one-line rationale; a test fails when a field has no citation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Final

from ...bundle import Citation

__all__ = ["CITATIONS", "Citation", "Thresholds"]


@dataclass(frozen=True)
class Thresholds:
    """Clinical thresholds, time points and doses (see :data:`CITATIONS` for sources)."""

    # --- response (IAIHG 2022) ---
    non_response_fall: float = 0.5
    non_response_check_days: float = 28.0
    cbr_assessment_days: float = 182.0
    cbr_final_assessment_days: float = 364.0
    response_visit_days: float = 28.0
    uln: float = 1.0
    relapse_alt_xuln: float = 3.0
    # --- activity and triage ---
    active_transaminase_xuln: float = 3.0
    acute_severe_inr: float = 1.5
    jaundice_bilirubin_mg_dl: float = 2.5
    # --- induction ---
    thiopurine_delay_days: float = 14.0
    thiopurine_max_bilirubin_mg_dl: float = 6.0
    prednisolone_mg_per_kg: float = 0.5
    prednisolone_acute_mg_per_kg: float = 1.0
    prednisolone_max_mg_per_kg: float = 1.0
    prednisolone_max_mg_day: float = 60.0
    prednisolone_fixed_mg_day: float = 30.0
    budesonide_mg_day: float = 9.0
    budesonide_maintenance_mg_day: float = 6.0
    azathioprine_start_mg_per_kg: float = 1.0
    azathioprine_min_start_mg_day: float = 50.0
    azathioprine_max_mg_per_kg: float = 2.0
    azathioprine_tpmt_intermediate_factor: float = 0.5
    mycophenolate_mg_day: float = 2000.0
    tacrolimus_mg_per_kg: float = 0.05
    # --- taper ---
    taper_interval_days: float = 14.0
    taper_target_mg_day: float = 10.0
    # --- maintenance and withdrawal ---
    steroid_stop_cbr_days: float = 365.0
    withdrawal_min_cbr_days: float = 730.0
    withdrawal_min_treatment_days: float = 1095.0
    withdrawal_max_alt_xuln: float = 0.5
    withdrawal_max_igg_xuln: float = 0.75
    withdrawal_taper_days: float = 91.0
    maintenance_visit_days: float = 91.0
    withdrawal_visit_days: float = 30.0
    observation_visit_days: float = 91.0
    postpartum_days: float = 91.0
    # --- acute severe, failure, transplant ---
    acute_review_days: float = 7.0
    alf_referral_max_days: float = 1.0
    transplant_meld: float = 15.0
    severe_cytopenia_wbc_10e9_l: float = 2.5
    severe_cytopenia_platelets_10e9_l: float = 50.0
    second_line_assessment_days: float = 182.0
    hcc_surveillance_days: float = 182.0
    # --- optimisation before second line, blood counts ---
    loss_of_response_recheck_days: float = 91.0
    cbc_early_interval_days: float = 14.0
    cbc_early_phase_days: float = 56.0
    cbc_interval_days: float = 91.0

    def with_overrides(self, **overrides: Any) -> Thresholds:
        """Return a copy with some values replaced.

        Raises:
            ValueError: an unknown name, or a value out of range: every threshold is a
                number > 0 and at most 1e9, a ``_days`` interval at least 1 (a zero interval
                would fire its timer for ever) and a fraction at most 1.
        """
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown threshold(s) {unknown!r}; known: {sorted(known)}")
        values = {k: float(v) for k, v in overrides.items()}
        for name, value in values.items():
            above_low = value >= 1.0 if name.endswith("_days") else value > 0.0
            below_high = value <= 1.0 if name in _FRACTIONS else value <= _LARGEST
            if not (above_low and below_high):
                raise ValueError(
                    f"thresholds.{name}: found {value!r}, expected {_expected_range(name)}"
                )
        result = replace(self, **values)
        for early, late in _ORDERED:
            if getattr(result, late) < getattr(result, early):
                name = late if late in values else early
                raise ValueError(
                    f"thresholds.{name}: found {values.get(name)!r}, expected "
                    f"{late} ({getattr(result, late):g}) >= {early} ({getattr(result, early):g})"
                )
        return result


#: Time points that must come in this order (the later one is a reassessment of the first).
_ORDERED: Final = (
    ("cbr_assessment_days", "cbr_final_assessment_days"),
    ("cbc_early_interval_days", "cbc_early_phase_days"),
)

#: Thresholds that are shares of a whole (at most 1).
_FRACTIONS: Final = frozenset({"non_response_fall", "azathioprine_tpmt_intermediate_factor"})
#: Largest value any threshold may take. Not clinical: every real threshold, dose or interval
#: is far below it, and a larger one (a typo such as 1e308) overflows to infinity once
#: multiplied by a weight or a count of visits.
_LARGEST: Final = 1e9


def _expected_range(name: str) -> str:
    if name.endswith("_days"):
        return f"a number of days >= 1 and <= {_LARGEST:g}"
    if name in _FRACTIONS:
        return "a fraction > 0 and <= 1"
    return f"a finite number > 0 and <= {_LARGEST:g}"


_IAIHG = ("G-IAIHG22",)

CITATIONS: Final[dict[str, Citation]] = {
    "non_response_fall": Citation(_IAIHG, "V", "non-response: transaminases fell < 50%"),
    "non_response_check_days": Citation(_IAIHG, "V", "non-response is judged at week 4"),
    "cbr_assessment_days": Citation(_IAIHG, "V", "CBR vs insufficient response at 6 months"),
    "cbr_final_assessment_days": Citation(
        ("G-HASL",),
        "V",
        "CBR is aimed for no later than 6-12 months: an insufficient response at 6 months is "
        "optimised and reassessed at 12 months before second line",
    ),
    "response_visit_days": Citation(
        ("G-EASL15",),
        "MODEL",
        "labs every 4 weeks from week 4 to the 6- and 12-month calls, so each call rests on a "
        "series of panels (taper labs are every 2 weeks, G-EASL15 [V-sec]); no source interval",
    ),
    "uln": Citation(_IAIHG, "V", "CBR: ALT, AST and IgG <= ULN (values are multiples of ULN)"),
    "relapse_alt_xuln": Citation(("S-VGERVEN13",), "V", "relapse = ALT > 3 x ULN"),
    "active_transaminase_xuln": Citation(
        ("G-EASL15",), "V-sec", "active disease: transaminases > 3 x ULN"
    ),
    "acute_severe_inr": Citation(("S-RAHIM20",), "V", "acute severe AIH: INR >= 1.5"),
    "jaundice_bilirubin_mg_dl": Citation(
        ("S-RAHIM20",),
        "MODEL",
        "jaundice as bilirubin >= 2.5 mg/dL: a common clinical cut-off; the source gives none",
    ),
    "thiopurine_delay_days": Citation(("G-EASL15",), "V-sec", "add AZA after about 2 weeks"),
    "thiopurine_max_bilirubin_mg_dl": Citation(
        ("G-EASL15",), "V-sec", "add AZA once bilirubin < 6 mg/dL"
    ),
    "prednisolone_mg_per_kg": Citation(
        ("G-EASL15", "S-PAPE19"),
        "V",
        "lower end of 0.5-1 mg/kg: similar remission with less steroid (S-PAPE19)",
    ),
    "prednisolone_acute_mg_per_kg": Citation(
        ("G-EASL15",), "V-sec", "acute severe AIH: high-dose steroid >= 1 mg/kg, capped by INV-04"
    ),
    "prednisolone_max_mg_per_kg": Citation(("G-EASL15", "S-PAPE19"), "V", "INV-04: <= 1 mg/kg"),
    "prednisolone_max_mg_day": Citation(("G-EASL15",), "V-sec", "INV-04: <= 60 mg/day"),
    "prednisolone_fixed_mg_day": Citation(
        ("G-AASLD19",), "R", "AASLD option: fixed 20-40 mg/day with AZA (midpoint)"
    ),
    "budesonide_mg_day": Citation(("S-MANNS10",), "V", "3 mg three times daily; INV-03"),
    "budesonide_maintenance_mg_day": Citation(
        ("S-MANNS10",), "V", "reduced to twice daily once in remission"
    ),
    "azathioprine_start_mg_per_kg": Citation(("S-MANNS10",), "V", "AZA 1-2 mg/kg; start at 1"),
    "azathioprine_min_start_mg_day": Citation(
        ("S-MANNS10",),
        "MODEL",
        "AZA start 50 mg/day as in KB T06, which gives this start dose no source or tag "
        "(the 1-2 mg/kg range is S-MANNS10 [V]; EASL 2015 [V-sec] covers only delay and bilirubin)",
    ),
    "azathioprine_max_mg_per_kg": Citation(
        ("S-MANNS10", "S-JOHNSON95"), "V", "INV-06: <= 2 mg/kg/day"
    ),
    "azathioprine_tpmt_intermediate_factor": Citation(
        ("G-EASL15",),
        "MODEL",
        "halving is our choice: the KB says only that intermediate TPMT calls for a dose "
        "reduction [R] and gives no amount",
    ),
    "mycophenolate_mg_day": Citation(("S-CAMARO",), "R", "MMF about 2 g/day"),
    "tacrolimus_mg_per_kg": Citation(
        ("S-EFE17",),
        "MODEL",
        "dosed to trough level in practice; a nominal mg/kg so doses can be compared",
    ),
    "taper_interval_days": Citation(
        ("G-EASL15",), "MODEL", "a taper step every 2 weeks reaches 10 mg in about 14 weeks"
    ),
    "taper_target_mg_day": Citation(("G-EASL15",), "V-sec", "lowest effective dose 5-10 mg"),
    "steroid_stop_cbr_days": Citation(
        ("S-JOHNSON95",), "V", "remission >= 1 year before replacing pred by AZA 2 mg/kg"
    ),
    "withdrawal_min_cbr_days": Citation(
        ("S-VGERVEN13", "S-HARTL15", "G-HASL"), "V", ">= 2 years of CBR before withdrawal"
    ),
    "withdrawal_min_treatment_days": Citation(
        ("G-HASL",), "V", ">= 3-5 years of treatment in total before withdrawal (lower end)"
    ),
    "withdrawal_max_alt_xuln": Citation(("S-HARTL15",), "V", "ALT < 0.5 x ULN at withdrawal"),
    "withdrawal_max_igg_xuln": Citation(
        ("S-HARTL15",),
        "MODEL",
        "IgG <= 12 g/L (S-HARTL15 [V]) as a multiple of an assumed ULN of 16 g/L",
    ),
    "withdrawal_taper_days": Citation(
        ("S-VGERVEN13",), "MODEL", "gradual taper; 3 months assumed (duration not given)"
    ),
    "maintenance_visit_days": Citation(("G-EASL15",), "R", "labs about every 3 months"),
    "withdrawal_visit_days": Citation(
        ("S-VGERVEN13", "S-TUR"),
        "MODEL",
        "monthly labs early after withdrawal: most relapses occur in the first year",
    ),
    "observation_visit_days": Citation(
        ("G-EASL15",), "V-sec", "untreated follow-up: ALT/IgG every 3-6 months"
    ),
    "postpartum_days": Citation(("S-HEN01", "S-DB16"), "V", "postpartum flares in months 0-3"),
    "acute_review_days": Citation(
        ("G-EASL15", "S-YEOMAN11"), "V-sec", "acute severe AIH reassessed at day 7"
    ),
    "alf_referral_max_days": Citation(
        ("S-ALFSG", "S-RAHIM20"),
        "MODEL",
        "INV-14: referral the day ALF is recognised (one day allowed for the visit)",
    ),
    "transplant_meld": Citation(
        ("S-SEC-AI",),
        "V-sec",
        "MELD >= 15: general LT-benefit threshold where listing is considered, not "
        "AIH-specific (KB E7, T23: checked in a 'Liver Immunology' chapter with no KB source id)",
    ),
    "severe_cytopenia_wbc_10e9_l": Citation(("G-AASLD10",), "V-sec", "WBC < 2.5 x 10^9/L"),
    "severe_cytopenia_platelets_10e9_l": Citation(
        ("G-AASLD10",), "V-sec", "platelets < 50 x 10^9/L"
    ),
    "second_line_assessment_days": Citation(
        ("S-EFE17",), "MODEL", "second line judged like first line, at 6 months"
    ),
    "hcc_surveillance_days": Citation(
        ("G-EASL25",),
        "V-sec",
        "6-monthly ultrasound while cirrhotic: the interval is from a review of international "
        "guidelines (KB T24, no source id); the G-EASL25 abstract [V] covers surveillance only",
    ),
    "loss_of_response_recheck_days": Citation(
        ("G-EASL15",),
        "MODEL",
        "loss of response persisting one 3-monthly visit (G-EASL15 [R] interval) after "
        "optimisation is treated as a failed response; no source gives the wait",
    ),
    "cbc_early_interval_days": Citation(
        ("G-BSG25",),
        "MODEL",
        "INV-15: blood counts every 2 weeks early on; KB E14 says myelotoxicity is highest after "
        "a start or dose rise and 6-monthly counts are too sparse, guideline interval [R]",
    ),
    "cbc_early_phase_days": Citation(
        ("G-BSG25",),
        "MODEL",
        "INV-15: the dense early phase lasts 8 weeks after an antimetabolite start or dose rise "
        "(KB E14 asks for a dense early phase; its length is ours)",
    ),
    "cbc_interval_days": Citation(
        ("G-EASL15",),
        "R",
        "INV-15: blood counts with the 3-monthly labs after the early phase (KB T09 [R])",
    ),
}
