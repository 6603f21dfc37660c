"""The stochastic patient model: lab trajectories, response, relapse and hazards.

:class:`DiseaseModel` implements the engine's :class:`~simulation.run.engine.PatientModel`
protocol for one virtual patient. It reads the chart (active states, the record's drugs and
history) and never changes it: it only produces findings the chart can handle in its current
configuration. Every number comes from :mod:`simulation.model.parameters` (source, figure and tag
in ``simulation/data/parameters.yaml``); this module turns those figures into hazards and
trajectories (:class:`ModelConstants`).

How a course unfolds:

- **Labs.** ALT, AST and IgG (multiples of ULN) follow a *course*: a piecewise log-linear
  path from the values at the course start towards the level its response class reaches.
  A course starts with first-line treatment, each switch (second line by reason, third
  line), re-induction, a flare and a transplant. The response class (complete,
  insufficient, non-response) comes from one uniform draw per course compared with the
  regimen's probability of complete response, so a regimen change during induction (the
  antimetabolite added at week 2, a switch for intolerance during induction) re-reads the
  same draw and keeps the course's start. Bilirubin and INR
  follow the liver stage and, after an acute presentation, an excess that resolves
  (steroid response) or worsens (steroid failure, S-YEOMAN11); MELD is computed from them.
- **Events.** Flares (on maintenance, S-JOHNSON95; after withdrawal, time-dependent,
  S-VGERVEN13; postpartum, S-HEN01; recurrence after transplant, S-ML22), intolerance per
  drug (S-CAMARO, S-SANTIAGO19, S-EFE17), cirrhosis, decompensation, HCC (S-TANSEL17),
  transplant after referral, graft loss and deaths are :class:`~simulation.model.hazards.Clock`
  objects whose hazard is recomputed after every step from the chart's situation.
- **Randomness.** One generator per patient, passed in; it is split into independent
  streams (one per clock, one for courses, one for lab noise, one for the patient's
  baseline) so that two policies applied to the same patient share random numbers.

Units: days from diagnosis, x ULN, mg/dL, 10^9/L.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import pairwise
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np

from pathway import Pathway, PatientRecord
from pathway.records import reduce_frozen

from ..run.engine import Days, Occurrence
from .clock_hazards import set_clocks
from .courses import (
    COURSE_CLASSES,
    EMERGENCY_OUTCOMES,
    CourseDraws,
    ShapeOps,
    acute_excess,
    baseline_labs,
    class_code,
    course_shape,
    death_years,
    emergency_outcome,
    knots,
    time_to_cbr_median,
    tpmt_delay,
)
from .courses import (
    INDUCING_KINDS as _INDUCING_KINDS,
)
from .draws import Randomness
from .hazard_conditions import Limits, Situation, flare_case, hazards_on, reported
from .hazards import (
    YEAR_DAYS,
    Clock,
    Hazard,
    constant,
    from_cumulative,
    rate_from_probability,
)
from .parameters import ParameterSet
from .scripted import baseline_occurrences

__all__ = [
    "CLOCKS",
    "DAY_TOLERANCE",
    "FLOAT_OPS",
    "LATENT_FIELDS",
    "PANEL_DRAWS",
    "ChartNow",
    "DiseaseModel",
    "MeldFormula",
    "ModelConstants",
    "PanelOps",
    "Path",
    "clock_priority",
    "complete_probability",
    "complete_share",
    "course_class",
    "meld",
    "np_exp",
    "np_exp2",
    "np_log",
    "np_log1p",
    "panel_values",
    "path_value",
    "response_probability",
    "round_half_even",
]

MONTH_DAYS = YEAR_DAYS / 12.0
_LN2 = math.log(2.0)
#: Years of the cumulative figures the hazards are built from (as in the parameter names).
_WITHDRAWAL_YEARS = (1, 2, 3)
_RECURRENCE_YEARS = (5, 10)
_LT_SURVIVAL_YEARS = (5, 10)
_PER_1000 = 1000.0
#: Numerical guards, not model figures: a tolerance and the clamp of a probability before a
#: normal quantile (the lowest log value and the largest uniform used: model.courses).
_EPS = 1e-9
_P_CLAMP = 1e-6
_MIN_HALFLIFE_DAYS = 0.1
#: Random draws: standard normals and uniforms of a patient's baseline, normals of a
#: course, own streams (baseline, courses, lab noise) before one per clock, noise per panel.
_BASELINE_NORMALS = 12
_BASELINE_UNIFORMS = 8
_COURSE_NORMALS = 8
_OWN_STREAMS = 3
_PANEL_DRAWS = 6
#: ... the same, for the array model (simulation.model.model_arrays, course_arrays).
PANEL_DRAWS = _PANEL_DRAWS
BASELINE_DRAWS = (_BASELINE_NORMALS, _BASELINE_UNIFORMS)
COURSE_NORMALS = _COURSE_NORMALS
#: Days by which an event day may exceed a whole day and still fall on it (``_EPS``).
DAY_TOLERANCE = _EPS
#: The :class:`~simulation.model.hazard_conditions.Situation` fields the model's latent state
#: gives (:meth:`DiseaseModel.latent_fields`, in this order; the situation's middle fields).
LATENT_FIELDS = (
    "stage",
    "native",
    "hcc",
    "recurrence",
    "graft_failed",
    "recompensates",
    "decompensation_active",
    "nonadherent_since",
    "untreated_since",
    "course",
    "emergency",
    "candidate",
)
#: Same-day order of queued events: first, findings, an acute outcome, deaths.
_FIRST, _FINDING, _EMERGENCY, _DEATH = 0, 1, 5, 9

#: Care states in which a flare (ALT > 3 x ULN) is a relapse the chart acts on.
_REMISSION_STATES = frozenset({"maintenance", "withdrawal", "off_treatment"})
_UNTREATED_STATES = frozenset({"diagnosis", "observation"})
#: Rules a switch to second line names when it is for a failed response (rules._switch_rows).
_FAILURE_RULES = frozenset({"AIH-RSP-03", "AIH-MNT-05"})
#: Lab panels whose noise is drawn at once (see DiseaseModel._noise).
_NOISE_BLOCK = 64

Path = tuple[tuple[float, float], ...]
"""Points ``(days after the course start, log value)``; log-linear between, flat after."""


def _odds(p: float) -> float:
    return p / (1.0 - p)


def _prob(odds: float) -> float:
    return odds / (1.0 + odds)


# --- the vector engine's functions, on Python floats -----------------------------------------
# Wherever a transcendental function or a rounding feeds a value the chart compares or the
# outputs write (latent paths, lab panels, MELD), the model calls the function the array model
# (simulation.model.model_arrays) calls: numpy's ``exp``, ``exp2`` and ``log`` differ from
# ``math``'s in the last bit on some arguments (exp: 4.6% on an AVX-512 machine), and numpy
# gives a Python float the bits it gives an array element (tested), so the two models agree bit
# for bit by construction (issue 14). So do the baseline draws and the courses' classes and
# knots, written once for floats and arrays (simulation.model.courses).


def np_exp(x: float) -> float:
    """``numpy.exp`` of one float, as a Python float."""
    return float(np.exp(x))


def np_log(x: float) -> float:
    """``numpy.log`` of one float, as a Python float."""
    return float(np.log(x))


def np_log1p(x: float) -> float:
    """``numpy.log1p`` of one float, as a Python float."""
    return float(np.log1p(x))


def np_exp2(x: float) -> float:
    """``numpy.exp2`` of one float (2 to the ``x``), as a Python float.

    Halvings are ``exp2(-x)``: ``numpy.power`` of two floats costs 1.3 us, ``exp2`` 0.17.
    """
    return float(np.exp2(x))


#: Powers of ten of the decimals a lab value is rounded to.
_DECIMALS = {0: 1.0, 1: 10.0, 2: 100.0}


def round_half_even(x: float, digits: int) -> float:
    """``x`` (finite) to ``digits`` decimals (0 to 2) as numpy rounds (``numpy.round``).

    ``round(x * 10**digits) / 10**digits``: a product, an exact round-half-even to an integer
    and a quotient, each correctly rounded in IEEE 754, so the array form
    (``rint(x * s) / s``) gives the same bits. Python's ``round(x, digits)`` rounds the
    binary value's exact decimal expansion instead, and differs near ties: the float 2.675
    is 2.67499..., which Python rounds to 2.67, but its product by 100 is 267.5.

    >>> round_half_even(2.675, 2), round(2.675, 2), round_half_even(2.5, 0)
    (2.68, 2.67, 2.0)
    """
    scale = _DECIMALS[digits]
    return round(x * scale) / scale


@dataclass(frozen=True, slots=True)
class MeldFormula:
    """The MELD score's coefficients and bounds (``meld.*`` parameters, S-MELD)."""

    bilirubin: float  # per ln(mg/dL)
    inr: float  # per ln(INR)
    creatinine: float  # per ln(mg/dL)
    constant: float
    low: float
    high: float

    @classmethod
    def from_parameters(cls, p: ParameterSet) -> MeldFormula:
        """The formula of a parameter set."""
        return cls(
            bilirubin=p["meld.bilirubin_coefficient"],
            inr=p["meld.inr_coefficient"],
            creatinine=p["meld.creatinine_coefficient"],
            constant=p["meld.constant"],
            low=p["meld.min"],
            high=p["meld.max"],
        )

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        """Rebuilt by its constructor (copy and pickle work in the native build too)."""
        return reduce_frozen(self)


@dataclass(frozen=True, slots=True)
class ModelConstants:
    """The parameters as the model uses them: hazards per day, derived odds ratios.

    Build with :meth:`from_parameters`; every field is a literal parameter or a documented
    transformation of some (see the field comments).
    """

    # baseline labs
    alt_median: float
    alt_log_sd: float
    ast_alt_ratio: float
    igg_median: float  # from the raised fraction: P(IgG > 1 ULN) = baseline.igg_raised_fraction
    igg_log_sd: float
    bili_median: float
    inr_mean: float
    acute_alt_median: float
    acute_bili_median: float
    acute_inr_min: float
    acute_inr_max: float
    alf_inr_min: float
    creatinine: float
    wbc_mean: float
    platelets_median: float
    noise_sd: float
    # visit-to-visit noise ratios and reporting ranges: the ``labs.*`` parameters by name
    labs: dict[str, float]
    meld: MeldFormula
    igg_noise_ratio: float  # IgG noise as a share of noise_sd
    # liver stage
    comp_bili_factor: float
    comp_inr_add: float
    comp_platelets: float
    decomp_bili: float
    decomp_inr: float
    decomp_platelets: float
    cirrhosis_rate: float
    activity_hr: float
    decompensation_rate: float
    recompensation: float  # S-WANG16: share of active decompensation that recompensates
    recompensation_rate: float
    steroid_trial_days: float
    decompensated_death_rate: float
    hcc_rate_cirrhosis: float
    hcc_rate_noncirrhotic: float
    hcc_death_rate: float
    tpmt_max_delay: float
    # response
    pred_aza_cbr: float  # S-PAPE19: transaminases normal at 6 months (not the class draw)
    pred_br: float  # S-DIAZ23: normal transaminases at any time on first line
    nonresponse_share: float  # non-responders among those without complete response
    #: Courses short of complete response whose transaminases still normalise (IgG alone
    #: stays raised): S-DIAZ23's response counts them, the complete class does not.
    igg_only_response: float
    mmf_odds_ratio: float  # S-CAMARO: odds(MMF) / odds(AZA) of CBR at 24 weeks
    budesonide_odds_ratio: float
    optimised_aza_odds_ratio: float  # [MODEL] azathioprine raised by an optimisation
    optimised_time_to_cbr_median: float  # [MODEL] from the optimisation day
    time_to_cbr_median: float
    time_to_cbr_median_budesonide: float
    time_to_cbr_sd: float  # derived: pred_br x P(time <= 6 months) = pred_aza_cbr
    week4_min: float
    week4_max: float
    cbr_alt_floor: float
    cbr_igg_floor: float
    cbr_igg_floor_max: float
    igg_floor_sd: float
    floor_sd: float
    ins_alt_floor: float
    ins_igg_floor: float
    ins_igg_only: float
    nr_ratio_min: float
    nr_ratio_max: float
    mmf_after_intolerance: float
    mmf_after_failure: float
    tac_after_failure: float
    tac_after_intolerance: float
    third_line_cbr: float
    # acute
    acute_failure: float  # at the reference MELD (S-TELLEZ22 mean)
    acute_failure_meld_reference: float
    acute_failure_meld_log_odds: float
    acute_failure_transplant: float
    acute_failure_death: float
    acute_outcome_mean: float
    acute_halflife: float
    alf_death: float
    alf_transplant: float
    alf_outcome_mean: float
    # intolerance hazards
    aza_intolerance: Hazard
    cytopenia_share: float
    mmf_intolerance: Hazard
    tac_intolerance: Hazard
    # relapse hazards
    maintenance_flare_rate: float
    withdrawal_flare: Hazard
    flare_alt_median: float
    flare_igg_median: float
    untreated_flare_rate: float
    postpartum_flare_rate: float
    # transplant
    transplant_rate: float
    transplant_candidate: float  # share listed when a chronic indication arises [MODEL]
    transplant_max_age: float
    recurrence: Hazard
    post_lt_death: Hazard  # from the transplant day: first year, to 5 and to 10 years, scaled
    recurrence_death_hr: float
    graft_loss_rate: float
    recurrence_graft_loss_hr: float
    graft_failure_death_rate: float
    graft_alt: float
    failed_graft_bili: float
    failed_graft_inr: float
    # background mortality
    gompertz: dict[str, tuple[float, float]]  # sex -> (a per year, b per year of age)
    aih_excess_hr: float  # multiplies the Gompertz hazard (non-liver deaths)
    # adherence
    nonadherence_rate: float
    adherence_effect_lost: float
    adherence_loss_alt: float  # x ULN reached while non-adherent on maintenance [MODEL]
    adherence_loss_days: float
    adherence_recovery_days: float
    # shape of lab trajectories: the ``shape.*`` parameters, by their name without the prefix
    shape: dict[str, float]
    # pregnancy
    pregnancy_rate: float
    pregnancy_max_age: float
    conception_rate: float
    gestation_days: float

    @classmethod
    def from_parameters(cls, p: ParameterSet) -> ModelConstants:
        """Derive the constants from a parameter set (validated ranges raise ``ValueError``)."""
        y = YEAR_DAYS
        for name in p:
            info = p.info(name)
            if info.unit == "probability" and not 0.0 <= info.value <= 1.0:
                raise ValueError(f"parameter {name!r}: found {info.value!r}, expected 0 to 1")
            if info.value < 0:
                raise ValueError(f"parameter {name!r}: found {info.value!r}, expected >= 0")
        pred_aza = p["response.pred_aza_cbr"]
        if not 0.0 < pred_aza < 1.0:
            raise ValueError(
                f"parameter 'response.pred_aza_cbr' must be in (0, 1) (got {pred_aza})"
            )
        raised = p["baseline.igg_raised_fraction"]
        igg_z = NormalDist().inv_cdf(min(max(raised, _P_CLAMP), 1 - _P_CLAMP))
        half_year = y / 2.0
        pred_br = p["response.prednisone_br_any_time"]
        if not pred_aza < pred_br < 1.0:
            raise ValueError(
                "parameter 'response.prednisone_br_any_time' must lie between "
                f"'response.pred_aza_cbr' and 1 (got {pred_br})"
            )
        # S-DIAZ23's response (normal transaminases, IgG not required) is the complete
        # responses plus the insufficient ones where only IgG stays raised:
        # pred_br = complete + igg_only x (1 - complete - nonresponse).
        nonresponse, igg_only = p["response.nonresponse"], p["response.insufficient_igg_only"]
        pred_complete = (pred_br - igg_only * (1.0 - nonresponse)) / (1.0 - igg_only)
        if not 0.0 < pred_complete < 1.0 - nonresponse:
            raise ValueError(
                "parameters 'response.prednisone_br_any_time', 'response.nonresponse' and "
                "'response.insufficient_igg_only' leave no complete response "
                f"(complete share {pred_complete:.3f})"
            )
        nonresponse_share = nonresponse / (1.0 - pred_complete)
        median = p["response.time_to_cbr_median_days"]
        # Responders who are normal by 6 months: pred_aza_cbr / pred_br (S-PAPE19 / S-DIAZ23).
        by_6m_z = NormalDist().inv_cdf(pred_aza / pred_br)
        time_sd = max(
            math.log(half_year / max(median, 1.0)) / by_6m_z, p["shape.time_to_cbr_min_log_sd"]
        )
        return cls(
            alt_median=p["baseline.alt_median_xuln"],
            alt_log_sd=p["baseline.alt_log_sd"],
            ast_alt_ratio=p["baseline.ast_alt_ratio"],
            igg_median=math.exp(igg_z * p["baseline.igg_log_sd"]),
            igg_log_sd=p["baseline.igg_log_sd"],
            bili_median=p["baseline.bilirubin_median_mg_dl"],
            inr_mean=p["baseline.inr_mean"],
            acute_alt_median=p["baseline.acute_alt_median_xuln"],
            acute_bili_median=p["baseline.acute_bilirubin_median_mg_dl"],
            acute_inr_min=p["baseline.acute_inr_min"],
            acute_inr_max=max(p["baseline.acute_inr_max"], p["baseline.acute_inr_min"]),
            alf_inr_min=p["baseline.alf_inr_min"],
            creatinine=p["baseline.creatinine_mg_dl"],
            wbc_mean=p["baseline.wbc_mean_10e9_l"],
            platelets_median=p["baseline.platelets_median_10e9_l"],
            noise_sd=p["labs.noise_log_sd"],
            igg_noise_ratio=p["labs.igg_noise_ratio"],
            labs={name.removeprefix("labs."): p[name] for name in p if name.startswith("labs.")},
            meld=MeldFormula.from_parameters(p),
            comp_bili_factor=p["liver.compensated_bilirubin_factor"],
            comp_inr_add=p["liver.compensated_inr_add"],
            comp_platelets=p["liver.compensated_platelets_median_10e9_l"],
            decomp_bili=p["liver.decompensated_bilirubin_median_mg_dl"],
            decomp_inr=p["liver.decompensated_inr_median"],
            decomp_platelets=p["liver.decompensated_platelets_median_10e9_l"],
            cirrhosis_rate=p["liver.cirrhosis_per_year"] / y,
            activity_hr=p["liver.activity_hazard_ratio"],
            decompensation_rate=p["liver.decompensation_per_year"] / y,
            recompensation=p["liver.recompensation"],
            recompensation_rate=_LN2 / max(p["liver.recompensation_median_days"], 1.0),
            steroid_trial_days=p["transplant.steroid_trial_days"],
            decompensated_death_rate=p["liver.decompensated_death_per_year"] / y,
            hcc_rate_cirrhosis=p["liver.hcc_per_1000py_cirrhosis"] / _PER_1000 / y,
            hcc_rate_noncirrhotic=p["liver.hcc_per_1000py_noncirrhotic"] / _PER_1000 / y,
            hcc_death_rate=p["liver.hcc_death_per_year"] / y,
            tpmt_max_delay=p["tpmt.result_max_delay_days"],
            pred_aza_cbr=pred_aza,
            pred_br=pred_br,
            nonresponse_share=nonresponse_share,
            igg_only_response=igg_only * (1.0 - nonresponse_share),
            mmf_odds_ratio=_odds(p["response.camaro_mmf_cbr"])
            / _odds(p["response.camaro_aza_cbr"]),
            budesonide_odds_ratio=p["response.budesonide_odds_ratio"],
            optimised_aza_odds_ratio=p["response.optimised_azathioprine_odds_ratio"],
            optimised_time_to_cbr_median=p["response.optimised_time_to_cbr_median_days"],
            time_to_cbr_median=median,
            time_to_cbr_median_budesonide=p["response.budesonide_time_to_cbr_median_days"],
            time_to_cbr_sd=time_sd,
            week4_min=p["response.week4_ratio_min"],
            week4_max=p["response.week4_ratio_max"],
            cbr_alt_floor=p["response.cbr_alt_floor_median_xuln"],
            cbr_igg_floor=p["response.cbr_igg_floor_median_xuln"],
            cbr_igg_floor_max=p["response.cbr_igg_floor_max_xuln"],
            igg_floor_sd=p["response.igg_floor_log_sd"],
            floor_sd=p["response.floor_log_sd"],
            ins_alt_floor=p["response.insufficient_alt_floor_median_xuln"],
            ins_igg_floor=p["response.insufficient_igg_floor_median_xuln"],
            ins_igg_only=p["response.insufficient_igg_only"],
            nr_ratio_min=p["response.nonresponse_ratio_min"],
            nr_ratio_max=p["response.nonresponse_ratio_max"],
            mmf_after_intolerance=p["response.mmf_after_intolerance"],
            mmf_after_failure=p["response.mmf_after_failure"],
            tac_after_failure=p["response.tacrolimus_after_failure"],
            tac_after_intolerance=p["response.tacrolimus_after_intolerance"],
            third_line_cbr=p["response.third_line_cbr"],
            acute_failure=p["acute.steroid_failure"],
            acute_failure_meld_reference=p["acute.failure_meld_reference"],
            acute_failure_meld_log_odds=p["acute.failure_meld_log_odds"],
            acute_failure_transplant=p["acute.failure_transplant"],
            acute_failure_death=p["acute.failure_death"],
            acute_outcome_mean=p["acute.failure_outcome_mean_days"],
            acute_halflife=max(p["acute.improvement_halflife_days"], _MIN_HALFLIFE_DAYS),
            alf_death=p["alf.death"],
            alf_transplant=p["alf.transplant"],
            alf_outcome_mean=p["alf.outcome_mean_days"],
            aza_intolerance=(
                (0.0, rate_from_probability(p["intolerance.azathioprine_1y"], y)),
                (y, p["intolerance.azathioprine_late_per_year"] / y),
            ),
            cytopenia_share=p["intolerance.cytopenia_share"],
            mmf_intolerance=(
                (0.0, rate_from_probability(p["intolerance.mycophenolate_6m"], half_year)),
                (
                    half_year,
                    rate_from_probability(
                        p["intolerance.mycophenolate_late"],
                        p["intolerance.mycophenolate_late_months"] * MONTH_DAYS,
                    ),
                ),
            ),
            tac_intolerance=constant(
                rate_from_probability(
                    p["intolerance.tacrolimus"], p["intolerance.tacrolimus_months"] * MONTH_DAYS
                )
            ),
            maintenance_flare_rate=rate_from_probability(
                1.0 - p["relapse.maintenance_remission"],
                p["relapse.maintenance_months"] * MONTH_DAYS,
            ),
            withdrawal_flare=from_cumulative(
                [(n * y, p[f"relapse.withdrawal_{n}y"]) for n in _WITHDRAWAL_YEARS]
            ),
            flare_alt_median=p["relapse.flare_alt_median_xuln"],
            flare_igg_median=p["relapse.flare_igg_median_xuln"],
            untreated_flare_rate=p["relapse.untreated_per_year"] / y,
            postpartum_flare_rate=rate_from_probability(
                p["relapse.postpartum_flare"], p["relapse.postpartum_days"]
            ),
            transplant_rate=_LN2 / max(p["transplant.wait_median_days"], 1.0),
            transplant_candidate=p["transplant.candidate_share"],
            transplant_max_age=p["transplant.max_age"],
            recurrence=from_cumulative(
                [(n * y, p[f"transplant.recurrence_{n}y"]) for n in _RECURRENCE_YEARS]
            ),
            post_lt_death=_registry_share(
                from_cumulative(
                    [
                        (y, p["transplant.mortality_1y"]),
                        *(
                            (n * y, 1.0 - p[f"transplant.survival_{n}y"])
                            for n in _LT_SURVIVAL_YEARS
                        ),
                    ]
                ),
                p["transplant.registry_hazard_factor"],
                p["transplant.registry_hazard_factor_late"],
                _LT_SURVIVAL_YEARS[0] * y,
            ),
            recurrence_death_hr=p["transplant.recurrence_death_hr"],
            graft_loss_rate=p["transplant.graft_loss_per_year"] / y,
            recurrence_graft_loss_hr=p["transplant.recurrence_graft_loss_hr"],
            graft_failure_death_rate=p["transplant.graft_failure_death_per_year"] / y,
            graft_alt=p["transplant.graft_alt_median_xuln"],
            failed_graft_bili=p["transplant.failed_graft_bilirubin_mg_dl"],
            failed_graft_inr=p["transplant.failed_graft_inr"],
            gompertz={
                "F": (p["mortality.gompertz_a_female"], p["mortality.gompertz_b_female"]),
                "M": (p["mortality.gompertz_a_male"], p["mortality.gompertz_b_male"]),
            },
            aih_excess_hr=p["mortality.aih_excess_hr"],
            nonadherence_rate=p["adherence.nonadherence_per_year"] / y,
            adherence_effect_lost=min(1.0, p["adherence.effect_lost"]),
            adherence_loss_alt=p["adherence.loss_alt_xuln"],
            adherence_loss_days=p["adherence.loss_days"],
            adherence_recovery_days=p["adherence.recovery_days"],
            shape={name.removeprefix("shape."): p[name] for name in p if name.startswith("shape.")},
            pregnancy_rate=p["pregnancy.plan_per_year"] / y,
            pregnancy_max_age=p["pregnancy.max_age"],
            conception_rate=_LN2 / max(p["pregnancy.conception_median_days"], 1.0),
            gestation_days=p["pregnancy.gestation_days"],
        )

    def field_names(self) -> list[str]:
        """Names of all constants (for documentation and tests)."""
        return [f.name for f in fields(self)]

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        """Rebuilt by its constructor (copy and pickle work in the native build too)."""
        return reduce_frozen(self)


# --- pure helpers (tested on their own) -----------------------------------------------------


def _clip(value: float, lo: float, hi: float) -> float:
    return lo if value < lo else hi if value > hi else value


def _at_least(value: float, lo: float) -> float:
    return lo if value < lo else value


@dataclass(frozen=True, slots=True)
class PanelOps:
    """The elementary functions of a lab panel and of MELD, on Python floats
    (:data:`FLOAT_OPS`: the scalar model) or on arrays (``model_arrays.ARRAY_OPS``), so that
    :func:`panel_values` and :func:`meld` are written once for both (issue 14)."""

    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    #: ``lo`` where below ``lo``, ``hi`` where above ``hi``, else the value.
    clip: Callable[[Any, float, float], Any]
    #: ``lo`` where below ``lo``, else the value.
    at_least: Callable[[Any, float], Any]
    #: To the given decimals, half to even (:func:`round_half_even`).
    round: Callable[[Any, int], Any]


#: :class:`PanelOps` on Python floats (numpy's functions: see :func:`np_exp`).
FLOAT_OPS = PanelOps(np_exp, np_log, _clip, _at_least, round_half_even)


def _where(cond: bool, a: Any, b: Any) -> Any:
    return a if cond else b


def _choose(cond: bool, then: Callable[[], Path], other: Callable[[], Path]) -> Path:
    return then() if cond else other()


def _first_at_or_below(path: Path, level: float) -> float:
    return next(t for t, y in path if y <= level)


def _floor(x: float) -> float:
    return float(math.floor(x))


def _ceil(x: float) -> float:
    return float(math.ceil(x))


#: :class:`~simulation.model.courses.ShapeOps` on Python floats: the courses and baseline
#: of one patient (``model_arrays``' twin: ``course_arrays.ARRAY_SHAPE_OPS``).
FLOAT_SHAPE_OPS = ShapeOps(
    exp=np_exp,
    log=np_log,
    erf=math.erf,
    clip=_clip,
    max=max,
    min=min,
    where=_where,
    path=tuple,
    choose=_choose,
    first_at_or_below=_first_at_or_below,
    log1p=np_log1p,
    floor=_floor,
    ceil=_ceil,
)


def _registry_share(hazard: Hazard, early: float, late: float, switch: float) -> Hazard:
    """``hazard`` times ``early`` before day ``switch`` and times ``late`` from it on.

    >>> _registry_share(((0.0, 1.0), (10.0, 2.0)), 0.5, 0.25, 10.0)
    ((0.0, 0.5), (10.0, 0.5))
    """
    return tuple((start, rate * (early if start < switch else late)) for start, rate in hazard)


def failure_probability(
    c: ModelConstants, bilirubin: Any, inr: Any, ops: PanelOps = FLOAT_OPS
) -> Any:
    """Probability that steroids fail in acute severe AIH, from the MELD at presentation.

    The odds of ``acute.steroid_failure`` (S-TELLEZ22) at the reference MELD, times
    ``exp(acute.failure_meld_log_odds)`` per MELD point above it [MODEL]. Floats, or arrays
    with ``model_arrays.ARRAY_OPS``.
    """
    base = min(max(c.acute_failure, _EPS), 1.0 - _EPS)
    excess = meld(bilirubin, inr, c.creatinine, c.meld, ops) - c.acute_failure_meld_reference
    return _prob(_odds(base) * ops.exp(c.acute_failure_meld_log_odds * excess))


def response_probability(
    c: ModelConstants, drugs: Collection[str], *, dose_raised: bool = False
) -> float:
    """Probability that transaminases normalise at any time on a first-line regimen.

    S-DIAZ23's biochemical response (IgG not required) on predniso(lo)ne + azathioprine,
    with the odds multiplied by the S-CAMARO odds ratio for mycophenolate, the S-DIAZ23 odds
    ratio for budesonide and, when an optimisation raised azathioprine (``dose_raised``,
    AIH-RSP-05), ``response.optimised_azathioprine_odds_ratio`` [MODEL]. A steroid alone or
    an antimetabolite alone is read as the combination it belongs to ([MODEL]).
    """
    odds = _odds(c.pred_br)
    if "budesonide" in drugs:
        odds *= c.budesonide_odds_ratio
    if "mycophenolate" in drugs and "azathioprine" not in drugs:
        odds *= c.mmf_odds_ratio
    if dose_raised and "azathioprine" in drugs:
        odds *= c.optimised_aza_odds_ratio
    return _prob(odds)


def complete_share(response: float, igg_only_response: float) -> float:
    """Complete responses (ALT and IgG normal) among courses whose transaminases normalise
    with probability ``response``, when ``igg_only_response`` of the other courses normalise
    their transaminases with IgG still raised (an insufficient response).

    >>> round(complete_share(0.87, 0.266), 3)
    0.823
    """
    return max(0.0, (response - igg_only_response) / (1.0 - igg_only_response))


def complete_probability(
    c: ModelConstants,
    kind: str,
    drugs: Collection[str],
    reason: str = "",
    *,
    dose_raised: bool = False,
) -> float:
    """Probability that a course reaches complete biochemical response on ``drugs``.

    First line and re-induction: the share of :func:`response_probability` (normal
    transaminases at any time, S-DIAZ23; S-PAPE19's 70.5% at 6 months follows from the time
    to response, :class:`ModelConstants`) that is complete, i.e. without the insufficient
    responses where only IgG stays raised (:func:`complete_share`). Second line by drug and
    reason (``intolerance`` or ``failure``; S-SANTIAGO19, S-EFE17); third line [MODEL].
    """
    if kind == "third_line" or "infliximab" in drugs or "rituximab" in drugs:
        return c.third_line_cbr
    if kind == "second_line" or "tacrolimus" in drugs:
        failed = reason == "failure"
        if "tacrolimus" in drugs:
            return c.tac_after_failure if failed else c.tac_after_intolerance
        if "mycophenolate" in drugs:
            return c.mmf_after_failure if failed else c.mmf_after_intolerance
    response = response_probability(c, drugs, dose_raised=dose_raised)
    return complete_share(response, c.igg_only_response)


def course_class(u: float, p_complete: float, nonresponse_share: float) -> str:
    """Response class from one uniform draw ``u``: monotone in ``p_complete``.

    >>> course_class(0.1, 0.7, 0.24), course_class(0.8, 0.7, 0.24), course_class(0.99, 0.7, 0.24)
    ('complete', 'insufficient', 'non_response')
    """
    return COURSE_CLASSES[class_code(FLOAT_SHAPE_OPS, u, p_complete, nonresponse_share)]


def path_value(path: Path, t: float) -> float:
    """Value (not log) of ``path`` at ``t`` days after the course start.

    >>> round(path_value(((0.0, math.log(8.0)), (28.0, math.log(2.0))), 14.0), 6)
    4.0
    """
    if t <= path[0][0]:
        return np_exp(path[0][1])
    for (t0, y0), (t1, y1) in pairwise(path):
        if t <= t1:
            return np_exp(y0 + (y1 - y0) * (t - t0) / (t1 - t0))
    return np_exp(path[-1][1])


def _mk(points: list[tuple[float, float]]) -> Path:
    path: Path = knots(FLOAT_SHAPE_OPS, points)
    return path


def meld(
    bilirubin: Any, inr: Any, creatinine: float, formula: MeldFormula, ops: PanelOps = FLOAT_OPS
) -> Any:
    """MELD score (the UNOS formula, S-MELD; values below 1 count as 1), within its bounds.

    Bilirubin and creatinine in mg/dL; floats, or arrays with ``model_arrays.ARRAY_OPS``.
    """
    f = formula
    raw = (
        f.bilirubin * ops.log(ops.at_least(bilirubin, 1.0))
        + f.inr * ops.log(ops.at_least(inr, 1.0))
        + f.creatinine * ops.log(ops.at_least(creatinine, 1.0))
        + f.constant
    )
    return ops.clip(raw, f.low, f.high)


def panel_values(
    c: ModelConstants,
    latent: tuple[Any, Any, Any, Any, Any],
    wbc: Any,
    ast_ratio: Any,
    noise: Sequence[Any],
    ops: PanelOps = FLOAT_OPS,
) -> dict[str, Any]:
    """A resulted lab panel from the latent values and a panel's six noise draws.

    ``latent``: ALT and IgG (x ULN), bilirubin (mg/dL), INR, platelets (10^9/L); ``wbc``
    (10^9/L) and ``ast_ratio`` (AST / ALT) of the patient; ``noise``: the six log-scale
    draws (times ``labs.noise_log_sd``). Floats, or arrays with ``model_arrays.ARRAY_OPS``.
    """
    alt, igg, bili, inr, plt = latent
    n, lb, exp, clip, rnd = noise, c.labs, ops.exp, ops.clip, ops.round
    alt_lo, alt_hi = lb["alt_min_xuln"], lb["alt_max_xuln"]
    alt_v = clip(alt * exp(n[0]), alt_lo, alt_hi)
    bili_v = clip(bili * exp(n[3]), lb["bilirubin_min_mg_dl"], lb["bilirubin_max_mg_dl"])
    inr_v = clip(inr * exp(n[4] * lb["inr_noise_ratio"]), lb["inr_min"], lb["inr_max"])
    ast = alt_v * ast_ratio * exp(n[1] * lb["ast_noise_ratio"])
    igg_v = clip(igg * exp(n[2] * c.igg_noise_ratio), lb["igg_min_xuln"], lb["igg_max_xuln"])
    wbc_v = clip(wbc * exp(n[5]), lb["wbc_min_10e9_l"], lb["wbc_max_10e9_l"])
    plt_v = plt * exp(n[5] * lb["platelets_noise_ratio"])
    plt_v = clip(plt_v, lb["platelets_min_10e9_l"], lb["platelets_max_10e9_l"])
    bili_r, inr_r = rnd(bili_v, 1), rnd(inr_v, 2)
    return {
        "alt_xuln": rnd(alt_v, 2),
        "ast_xuln": rnd(clip(ast, alt_lo, alt_hi), 2),
        "igg_xuln": rnd(igg_v, 2),
        "bilirubin_mg_dl": bili_r,
        "inr": inr_r,
        "wbc_10e9_l": rnd(wbc_v, 1),
        "platelets_10e9_l": rnd(plt_v, 0),
        "meld": rnd(meld(bili_r, inr_r, c.creatinine, c.meld, ops), 0),
    }


#: The model's clocks, in their same-day order (and stream order: clock ``i`` draws from
#: the model's stream ``_OWN_STREAMS + i``).
CLOCKS = (
    "flare",
    "postpartum_flare",
    "intolerance_azathioprine",
    "intolerance_mycophenolate",
    "intolerance_tacrolimus",
    "cirrhosis",
    "decompensation",
    "hcc",
    "transplant",
    "graft_failure",
    "plan_pregnancy",
    "conception",
    "recompensation",
    "nonadherence",
    "liver_death",
    "hcc_death",
    "post_transplant_death",
)


def clock_priority(name: str) -> int:
    """Same-day order of a clock's event (lower first): deaths after other findings."""
    return _DEATH if name.endswith("death") else _FINDING


@dataclass(slots=True)
class _Course:
    """One treatment course's lab paths (see the module docstring)."""

    kind: str
    start: Days
    u: float
    z: np.ndarray
    reason: str = ""
    anchor: tuple[float, float] = (1.0, 1.0)
    cls: str = "stable"
    alt_path: Path = ((0.0, 0.0),)
    igg_path: Path = ((0.0, 0.0),)
    locked: bool = False
    #: Restarted from an optimisation (AIH-RSP-05 / AIH-MNT-05): same draws, new start.
    optimised: bool = False
    #: ... which raised azathioprine (see :func:`complete_probability`).
    dose_raised: bool = False


@dataclass(slots=True)
class _Emergency:
    """A latent outcome of an acute presentation, acted out once referred for transplant."""

    outcome: str  # transplant | death | recover
    delay: Days
    scheduled: bool = False


@dataclass(slots=True)
class _Latent:
    """What the model knows about the patient that the chart may not (yet)."""

    stage: str
    hcc: bool = False
    transplanted: bool = False
    lt_day: Days = 0.0
    graft_failed: bool = False
    recurrence: bool = False
    acute_mode: str = ""  # "" | improve | worsen
    acute_until: Days = math.inf
    untreated_since: Days | None = None
    drug_start: dict[str, Days] = field(default_factory=dict)
    #: Decompensation came with active disease (at diagnosis, or ALT or IgG above ULN).
    decompensation_active: bool = False
    #: ... and will recompensate on treatment (S-WANG16).
    recompensates: bool = False
    #: Day a latent period of non-adherence began (the chart learns of it at a flare).
    nonadherent_since: Days | None = None


class ChartNow(NamedTuple):
    """What :meth:`DiseaseModel.catch_up` reads of a chart: the record's day, daily
    predniso(lo)ne and azathioprine doses (``None``: not taken or not daily) and drugs, and
    the active states."""

    day: Days
    prednisolone: float | None
    azathioprine: float | None
    drugs: frozenset[str]
    active: frozenset[str]


class DiseaseModel:
    """Stochastic AIH patient (implements :class:`simulation.run.engine.PatientModel`).

    Args:
        record: the patient's record at diagnosis (``tpmt`` usually ``"unknown"``).
        constants: the model's constants (:meth:`ModelConstants.from_parameters`).
        rng: this patient's own stream (:mod:`simulation.model.draws`) or generator;
            nothing else is random.
        tpmt: the patient's true TPMT status, reported as a finding when the record's is
            unknown (on a day from 0 to ``tpmt.result_max_delay_days``).

    Attributes:
        death_cause: ``background``, ``liver``, ``hcc`` or ``post_transplant`` once dead.
        history: first day of latent events (``cirrhosis``, ``decompensation``, ``hcc``,
            ``flare``, ``recurrence``, ``graft_failure``).
    """

    _CLOCKS = CLOCKS

    def __init__(
        self,
        record: PatientRecord,
        constants: ModelConstants,
        rng: Randomness,
        *,
        tpmt: str | None = None,
    ) -> None:
        self.c = constants
        self.record = record
        self.death_cause: str | None = None
        self.history: dict[str, Days] = {}
        streams: list[Randomness] = list(rng.spawn(len(self._CLOCKS) + _OWN_STREAMS))
        base_rng, self._course_rng, self._noise_rng = streams[:_OWN_STREAMS]
        self._noise_block: list[float] = []
        self._noise_at = 0
        self.use_clocks(
            {
                name: Clock(name, s)
                for name, s in zip(self._CLOCKS, streams[_OWN_STREAMS:], strict=True)
            }
        )
        self._queue: list[tuple[Days, int, int, str, Any]] = []
        self._seq = 0
        self._seen = 0
        self._drugs: frozenset[str] = frozenset()
        self._aza_dose = 0.0  # azathioprine mg/day at the last sync
        self._visit_day = -math.inf  # day of the last visit's lab panel
        #: Latent ALT and IgG when the current non-adherence began (its recovery target).
        self._before_nonadherence = (1.0, 1.0)
        self._plan: tuple[Days, str] | None = None
        self._emergency: _Emergency | None = None
        # Cumulative predniso(lo)ne dose (mg) up to _dose_day, and the daily dose since then.
        self._pred_mg = 0.0
        self._pred_mg_1y = 0.0
        self._pred_dose = 0.0
        self._dose_day = 0.0
        self.latent = _Latent(stage=record.cirrhosis)
        self._draw_baseline(record, base_rng, tpmt)
        self.course = self._new_course("untreated", 0.0, anchor=(self.alt0, self.igg0))

    def use_clocks(self, clocks: dict[str, Clock]) -> None:
        """Keep the clocks in ``clocks`` (by name, in :data:`CLOCKS` order) from now on: a
        block run's rows of its clock arrays (``clock_block.ClockRow``)."""
        self.clocks = clocks
        # Same-day ties: other findings before deaths, then declaration order.
        self._clock_order = tuple(
            (i, name, clock, clock_priority(name))
            for i, (name, clock) in enumerate(self.clocks.items())
        )

    @property
    def noise_rng(self) -> Randomness:
        """The stream of lab noise (draws for :meth:`panel`)."""
        return self._noise_rng

    @property
    def noise_buffered(self) -> int:
        """Noise draws taken from :attr:`noise_rng` ahead of the panels, not used yet."""
        return len(self._noise_block) - self._noise_at

    @property
    def visit_day(self) -> Days:
        """Day of the last visit's lab panel (``-inf``: none yet)."""
        return self._visit_day

    @property
    def on_azathioprine(self) -> bool:
        """On azathioprine at the last sync with the chart (the panel's white cells)."""
        return "azathioprine" in self._drugs

    # --- baseline -----------------------------------------------------------------------

    def _draw_baseline(self, rec: PatientRecord, rng: Randomness, tpmt: str | None) -> None:
        c = self.c
        # Python floats: numpy scalars are slow one at a time (same values).
        z = rng.standard_normal(_BASELINE_NORMALS).tolist()
        u = rng.random(_BASELINE_UNIFORMS).tolist()
        acute = rec.presentation != "chronic"
        base = baseline_labs(c, acute, z, FLOAT_SHAPE_OPS)
        self.alt0, self.ast_ratio, self.igg0 = base.alt0, base.ast_ratio, base.igg0
        self.bili_chronic, self.inr_chronic = base.bili_chronic, base.inr_chronic
        self.bili_decomp, self.inr_decomp = base.bili_decomp, base.inr_decomp
        self.wbc, self.plt_factor, self.graft_alt = base.wbc, base.plt_factor, base.graft_alt
        # Decompensated at diagnosis means active disease: treatment may recompensate it.
        self.latent.decompensation_active = rec.cirrhosis == "decompensated"
        # [MODEL] Not every patient with a chronic indication is a transplant candidate.
        self.candidate = u[6] < c.transplant_candidate
        self.latent.recompensates = self.latent.decompensation_active and u[5] < c.recompensation
        # Acute presentations: an excess of bilirubin and INR over the chronic level.
        self.acute_bili = 0.0
        self.acute_inr = 0.0
        if acute:
            alf = rec.presentation == "acute_liver_failure"
            bili, inr, self.acute_bili, self.acute_inr = acute_excess(
                c, alf, z[10], u[0], base, FLOAT_SHAPE_OPS
            )
            if alf:
                self.latent.acute_mode = "worsen"
                self._emergency = self._emergency_outcome(
                    u[1], c.alf_death, c.alf_transplant, c.alf_outcome_mean, u[2]
                )
            elif u[1] < self.acute_failure_probability(bili, inr):
                self.latent.acute_mode = "worsen"
                transplant = c.acute_failure_transplant
                self._emergency = self._emergency_outcome(
                    u[3],
                    c.acute_failure_death,
                    transplant,
                    c.acute_outcome_mean,
                    u[2],
                )
            else:
                self.latent.acute_mode = "improve"
        # TPMT result day (0: reported with the baseline findings).
        self.tpmt = tpmt if tpmt is not None else rec.tpmt
        self._tpmt_now = False
        if rec.tpmt == "unknown" and self.tpmt != "unknown":
            delay = tpmt_delay(FLOAT_SHAPE_OPS, u[4], c.tpmt_max_delay)
            if delay > 0:
                self._push(delay, _FIRST, "tpmt", self.tpmt)
            else:
                self._tpmt_now = True
        # Background death (Gompertz), fixed at diagnosis.
        a, b = c.gompertz[rec.sex]
        a *= c.aih_excess_hr
        e = float(rng.standard_exponential())
        if a > 0 and b > 0:
            years = death_years(FLOAT_SHAPE_OPS, a, b, e, rec.age)
            self._push(math.ceil(years * YEAR_DAYS), _DEATH, "death", "background")

    def acute_failure_probability(self, bilirubin: float, inr: float) -> float:
        """Probability that steroids fail in acute severe AIH (:func:`failure_probability`)."""
        p: float = failure_probability(self.c, bilirubin, inr)
        return p

    @staticmethod
    def _emergency_outcome(
        u: float, p_death: float, p_tx: float, mean: float, v: float
    ) -> _Emergency:
        code, delay = emergency_outcome(FLOAT_SHAPE_OPS, u, p_death, p_tx, mean, v)
        return _Emergency(EMERGENCY_OUTCOMES[code], delay)

    def _push(self, day: Days, priority: int, kind: str, value: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (day, priority, self._seq, kind, value))

    # --- courses and lab paths ---------------------------------------------------------------

    def _new_course(
        self,
        kind: str,
        day: Days,
        *,
        anchor: tuple[float, float],
        drugs: Collection[str] = (),
        reason: str = "",
    ) -> _Course:
        z = self._course_rng.standard_normal(_COURSE_NORMALS)
        u = float(self._course_rng.random())
        course = _Course(kind=kind, start=day, u=u, z=z, reason=reason, anchor=anchor)
        self._shape(course, drugs, anchor)
        return course

    def _shape(self, course: _Course, drugs: Collection[str], anchor: tuple[float, float]) -> None:
        """(Re)build the course's class and paths from its draws and the regimen
        (:func:`~simulation.model.courses.course_shape`)."""
        c, kind = self.c, course.kind
        p = median = 0.0
        if kind in _INDUCING_KINDS:
            p = complete_probability(c, kind, drugs, course.reason, dose_raised=course.dose_raised)
            median = time_to_cbr_median(c, kind, drugs, optimised=course.optimised)
        before = self._before_nonadherence
        draws = CourseDraws(
            *anchor,
            z=course.z.tolist(),
            u=course.u,
            p_complete=p,
            median=median,
            transplanted=self.latent.transplanted,
            before_alt=before[0],
            before_igg=before[1],
            graft_alt=self.graft_alt,
        )
        code, course.alt_path, course.igg_path = course_shape(c, kind, draws, FLOAT_SHAPE_OPS)
        course.cls = COURSE_CLASSES[code]

    def activity(self, day: Days) -> tuple[float, float]:
        """Latent ALT and IgG (x ULN, no noise) on ``day``."""
        t = day - self.course.start
        return path_value(self.course.alt_path, t), path_value(self.course.igg_path, t)

    def _liver_function(self, day: Days) -> tuple[float, float, float]:
        """Latent bilirubin (mg/dL), INR and platelets (10^9/L) on ``day``."""
        c, lat = self.c, self.latent
        if lat.graft_failed:
            plt = c.shape["failed_graft_platelets_10e9_l"]
            return c.failed_graft_bili, c.failed_graft_inr, plt * self.plt_factor
        if lat.transplanted:
            graft = c.shape["graft_bilirubin_mg_dl"], c.shape["graft_inr"]
            return *graft, c.platelets_median * self.plt_factor
        if lat.stage == "decompensated":
            bili, inr, plt = self.bili_decomp, self.inr_decomp, c.decomp_platelets
        elif lat.stage == "compensated":
            bili = self.bili_chronic * c.comp_bili_factor
            inr, plt = self.inr_chronic + c.comp_inr_add, c.comp_platelets
        else:
            bili, inr, plt = self.bili_chronic, self.inr_chronic, c.platelets_median
        if self.acute_bili or self.acute_inr:
            f = self._acute_factor(day)
            bili += self.acute_bili * f
            inr += self.acute_inr * f
        return bili, inr, plt * self.plt_factor

    def _acute_factor(self, day: Days) -> float:
        """Share of the acute excess left on ``day`` (grows while worsening)."""
        lat, h, sh = self.latent, self.c.acute_halflife, self.c.shape
        if lat.acute_mode == "improve":
            return np_exp2(-(day / h))
        until = min(day, lat.acute_until)
        # Steroid failure: the excess grows, up to a multiple, then recovers slowly.
        worse = min(sh["acute_worsening_max"], 1.0 + until / sh["acute_worsening_days"])
        if day <= lat.acute_until:
            return worse
        slow = sh["acute_slow_recovery_factor"] * h
        return worse * np_exp2(-((day - lat.acute_until) / slow))

    def panel(self, day: Days, noise: Sequence[float] | None = None) -> dict[str, float]:
        """A resulted lab panel on ``day``: the latent values with visit-to-visit noise
        (``noise``: the panel's draws, already taken; default: the next ones)."""
        latent = (*self.activity(day), *self._liver_function(day))
        aza = "azathioprine" in self._drugs
        wbc = self.wbc * (self.c.shape["azathioprine_wbc_factor"] if aza else 1.0)
        draws = self._noise() if noise is None else noise
        return panel_values(self.c, latent, wbc, self.ast_ratio, draws)

    def _noise(self) -> list[float]:
        """The visit-to-visit noise draws of a panel (log scale).

        Drawn from the noise stream in blocks (the same numbers as six at a time: numpy's
        normals carry no state between calls), because one numpy call per panel is slow.
        """
        i = self._noise_at
        if i + _PANEL_DRAWS > len(self._noise_block):
            self._noise_block = (
                self._noise_rng.standard_normal(_PANEL_DRAWS * _NOISE_BLOCK) * self.c.noise_sd
            ).tolist()
            i = 0
        self._noise_at = i + _PANEL_DRAWS
        return self._noise_block[i : i + _PANEL_DRAWS]

    # --- PatientModel protocol -----------------------------------------------------------------

    def baseline(self, chart: Pathway[PatientRecord]) -> list[Occurrence]:
        """Day-0 findings: labs, the TPMT result when due today, staging, encephalopathy."""
        occs = baseline_occurrences(chart.patient, self.panel(0.0))
        if self._tpmt_now:
            occs.insert(1, Occurrence(0.0, "finding", "tpmt", self.tpmt))
        return occs

    def next_day(self, chart: Pathway[PatientRecord]) -> Days | None:
        """Day of the next finding (hazard or scheduled), or ``None``."""
        if chart.is_dead:
            return None
        day = self.catch_up(chart)
        self._set_hazards(chart, day)
        return self.choose_next(day)

    def plan_next(
        self, chart: Pathway[PatientRecord], day: Days, latent: tuple[float, float, float]
    ) -> Days | None:
        """:meth:`next_day` after :meth:`catch_up` on ``day``, with the situation's latent
        ALT, IgG and MELD given (``model_arrays.situation_labs``: a round's rows at once)."""
        self._set_hazards(chart, day, latent)
        return self.choose_next(day)

    def choose_next(self, now: Days) -> Days | None:
        """Plan the earliest of the queued events and the clocks' events from ``now`` (ties:
        by priority, then the queue, then clock order); its day, or ``None``."""
        best: tuple[Days, int, int, str] | None = None
        if self._queue:
            day, prio, _, _, _ = self._queue[0]
            best = (max(day, now), prio, -1, "queue")
        for i, name, clock, prio in self._clock_order:
            if not clock.hazard:
                continue  # no hazard: never due (Clock.due would say inf)
            due = clock.due()
            if math.isinf(due):
                continue
            # Findings happen on whole days: the day the hazard's event falls in.
            key = (max(float(math.ceil(due - _EPS)), now), prio, i)
            if best is None or key < best[:3]:
                best = (*key, name)
        if best is None:
            self._plan = None
            return None
        self._plan = (best[0], best[3])
        return best[0]

    @property
    def plan(self) -> tuple[Days, str] | None:
        """The planned occurrence: its day and ``queue`` or a clock's name (or ``None``)."""
        return self._plan

    def planned(self, plan: tuple[Days, str] | None) -> Days | None:
        """Take ``plan`` as :meth:`choose_next` would have made it (a block's clock arrays
        chose it: ``model_block.ModelColumns``); its day."""
        self._plan = plan
        return None if plan is None else plan[0]

    @property
    def queue_head(self) -> tuple[Days, int] | None:
        """Day and same-day priority of the first queued event, or ``None``."""
        return self._queue[0][:2] if self._queue else None

    def pop(self, chart: Pathway[PatientRecord], day: Days) -> list[Occurrence]:
        """The occurrence planned for ``day`` by :meth:`next_day` (one at a time)."""
        if self._plan is None or self._plan[0] != day:
            return []
        _, what = self._plan
        self._plan = None
        if what == "queue":
            _, _, _, kind, value = heapq.heappop(self._queue)
            return self._scheduled(chart, day, kind, value)
        self.clocks[what].fired(day)
        return self._fire(chart, day, what)

    def visit_labs(self, chart: Pathway[PatientRecord], day: Days) -> dict[str, float] | None:
        """A lab panel at a scheduled visit; ``None`` (the day's panel stands) at a second
        visit on the same day (a response visit and a blood count coincide: one sample)."""
        noise = self.visit_noise(day)
        return None if noise is None else self.panel(day, noise)

    def visit_noise(self, day: Days) -> list[float] | None:
        """The noise draws of a scheduled visit's panel on ``day``, taken; ``None`` at a
        second visit that day (no sample). :meth:`visit_labs` makes the panel of them; the
        array model (:mod:`simulation.model.model_block`) makes a round's panels of theirs."""
        if day == self._visit_day:
            return None
        self._visit_day = day
        return self._noise()

    def scripts_actions_on(self, day: Days) -> bool:
        """The model never scripts clinician actions."""
        return False

    # --- events -------------------------------------------------------------------------------

    def _scheduled(
        self, chart: Pathway[PatientRecord], day: Days, kind: str, value: Any
    ) -> list[Occurrence]:
        active = chart.active
        if kind == "tpmt":
            return [Occurrence(day, "finding", "tpmt", value)]
        if kind == "death":
            if value == "background" and self.latent.transplanted:
                # After a transplant the registry's all-cause survival (S-HEINEMANN20)
                # replaces background mortality: counting both would count deaths twice.
                return []
            return self._death(day, str(value))
        if kind == "delivered":
            delivered = Occurrence(day, "finding", "delivered")
            return [delivered] if reported("delivered", active) else []
        if kind == "emergency":
            if not reported("emergency", active):
                return []
            if value == "death":
                return self._death(day, "liver")
            if value == "transplant":
                return [Occurrence(day, "finding", "transplanted")]
            self.latent.acute_until = day  # recovers slowly from now on
            return []
        raise AssertionError(f"unknown scheduled event {kind!r}")  # pragma: no cover

    def _death(self, day: Days, cause: str) -> list[Occurrence]:
        self.death_cause = cause
        return [Occurrence(day, "finding", "death")]

    def _fire(self, chart: Pathway[PatientRecord], day: Days, name: str) -> list[Occurrence]:
        p, lat, active = chart.patient, self.latent, chart.active
        self.history.setdefault(name, day)
        if name in ("flare", "postpartum_flare"):
            self.history.setdefault("flare", day)
            if lat.transplanted:
                lat.recurrence = True
                self.history.setdefault("recurrence", day)
            self.course = self._new_course("flare", day, anchor=self.activity(day))
            occs = [Occurrence(day, "finding", "labs", self.panel(day))]
            if lat.nonadherent_since is not None:
                # [MODEL] The flare brings the non-adherence to light (AIH-RSP-03); the
                # patient is counselled and takes the drugs again from now on.
                lat.nonadherent_since = None
                self.history.setdefault("nonadherence_found", day)
                occs.append(Occurrence(day, "finding", "nonadherence"))
            return occs
        if name.startswith("intolerance_"):
            drug = name.removeprefix("intolerance_")
            if drug not in p.drugs:
                return []
            if drug == "azathioprine" and self._course_rng.random() < self.c.cytopenia_share:
                return [Occurrence(day, "finding", "cytopenia", "severe")]
            return [Occurrence(day, "finding", "intolerance", drug)]
        if name == "cirrhosis":
            lat.stage = "compensated"
            return [Occurrence(day, "finding", "cirrhosis_diagnosed", "compensated")]
        if name == "decompensation":
            lat.stage = "decompensated"
            # Only decompensation with active disease can recompensate on treatment.
            alt, igg = self.activity(day)
            lat.decompensation_active = alt > 1.0 or igg > 1.0
            lat.recompensates = lat.decompensation_active and (
                self._course_rng.random() < self.c.recompensation
            )
            return [Occurrence(day, "finding", "decompensation")]
        if name == "recompensation":
            lat.stage, lat.recompensates = "compensated", False
            # The chart hears of it while its liver stage is decompensated (AIH-LIV-03); a
            # transplant in between has reset the stage, and then there is nothing to tell.
            if reported("recompensation", active):
                return [Occurrence(day, "finding", "recompensation")]
            return []
        if name == "nonadherence":
            lat.nonadherent_since = day
            anchor = self.activity(day)
            self._before_nonadherence = anchor
            course = _Course("nonadherent", day, 0.0, self.course.z, anchor=anchor)
            self._shape(course, p.drugs, anchor)
            self.course = course
            return []
        if name == "hcc":
            lat.hcc = True
            return [Occurrence(day, "finding", "hcc")]
        if name == "transplant":
            transplanted = Occurrence(day, "finding", "transplanted")
            return [transplanted] if reported("transplant", active) else []
        if name == "graft_failure":
            if not reported("graft_failure", active):
                return []
            lat.graft_failed = True
            return [Occurrence(day, "finding", "graft_failure")]
        if name == "plan_pregnancy":
            return [Occurrence(day, "finding", "pregnancy_planned")]
        if name == "conception":
            self._push(day + self.c.gestation_days, _FIRST, "delivered", None)
            return [Occurrence(day, "finding", "pregnant")]
        if name == "liver_death":
            return self._death(day, "liver")
        if name == "hcc_death":
            return self._death(day, "hcc")
        if name == "post_transplant_death":
            return self._death(day, "post_transplant")
        raise AssertionError(f"unknown clock {name!r}")  # pragma: no cover

    # --- synchronising with the chart ---------------------------------------------------------

    def steroid_exposure(self, day: Days) -> tuple[float, float]:
        """Cumulative predniso(lo)ne dose in mg up to ``day``: (whole course, first year)."""
        total, first_year = self._pred_mg, self._pred_mg_1y
        if day > self._dose_day and self._pred_dose:
            total += self._pred_dose * (day - self._dose_day)
            overlap = min(day, YEAR_DAYS) - min(self._dose_day, YEAR_DAYS)
            first_year += self._pred_dose * max(0.0, overlap)
        return total, first_year

    def catch_up(
        self, chart: Pathway[PatientRecord], *, clocks: bool = True, known: ChartNow | None = None
    ) -> Days:
        """Catch up with the (live) chart: spend clocks, start courses; the chart's day.

        The hazards are recomputed after it (:meth:`next_day`, :meth:`plan_next`).
        ``clocks=False``: the clocks are left alone (a block's clock arrays spend them;
        nothing here reads them). ``known``: what is read of the chart if read already (a
        block reads a round's rows at once)."""
        if known is None:
            p = chart.patient
            known = ChartNow(
                p.day,
                p.dose("prednisolone"),
                p.dose("azathioprine"),
                frozenset(p.drugs),
                chart.active,
            )
        day, active = known.day, known.active
        if day > self._dose_day:
            self._pred_mg, self._pred_mg_1y = self.steroid_exposure(day)
            self._dose_day = day
        self._pred_dose = known.prednisolone or 0.0
        if clocks:
            for clock in self.clocks.values():
                clock.advance(day)
        new_course = self._scan(chart)
        self._aza_dose = known.azathioprine or 0.0
        drugs = known.drugs
        if drugs != self._drugs:
            for drug in drugs - self._drugs:
                self.latent.drug_start[drug] = day
            if not drugs:
                self.latent.untreated_since = day
            elif not self._drugs:
                self.latent.untreated_since = None
            self._drugs = drugs
            course = self.course
            if not new_course and course.kind in _INDUCING_KINDS and not course.locked and drugs:
                self._shape(course, drugs, course.anchor)
        if self.course.kind in _INDUCING_KINDS and active & _REMISSION_STATES:
            self.course.locked = True
        if self._emergency is not None and not self._emergency.scheduled and "transplant" in active:
            self._emergency.scheduled = True
            self._push(
                day + self._emergency.delay, _EMERGENCY, "emergency", self._emergency.outcome
            )
            if self._emergency.outcome == "recover":
                self.latent.acute_until = day + self._emergency.delay
        return day

    def _scan(self, chart: Pathway[PatientRecord]) -> bool:
        """Read the steps since the last catch-up; start a course where one starts."""
        trace, started = chart.trace, False
        p = chart.patient
        for step in trace[self._seen :]:
            if not step.carried_out:
                continue
            name = step.name
            kind: str | None = None
            reason = ""
            if step.kind == "action":
                if name in ("start_prednisolone", "start_budesonide"):
                    kind = "first_line" if self.course.kind in ("untreated", "flare") else None
                elif name in ("switch_to_mycophenolate", "switch_to_tacrolimus"):
                    kind = "second_line"
                    # The reason is the chart's (S-SANTIAGO19 classifies by the reason for
                    # switching): a switch for a response judged failed names the
                    # failed-response rule (AIH-RSP-03; AIH-MNT-05 for a loss of response
                    # that persisted after optimisation), even when an intolerance arrives
                    # at the same time; any other switch is for intolerance or cytopenia.
                    failed = not _FAILURE_RULES.isdisjoint(step.rule_ids)
                    reason = "failure" if failed else "intolerance"
                    course = self.course
                    if (
                        reason == "intolerance"
                        and course.kind in _INDUCING_KINDS
                        and not course.locked
                    ):
                        # [MODEL] Switching a drug the patient does not tolerate during
                        # induction continues the response under way (same start, same
                        # draw, re-read with the second-line probability; steroids go on)
                        # rather than restarting it from the day of the switch.
                        course.kind, course.reason = "second_line", "intolerance"
                        self._shape(course, tuple(p.drugs), course.anchor)
                        kind = None
                elif name == "start_third_line":
                    kind = "third_line"
                elif name == "reinduce":
                    kind = "reinduction"
                elif name == "optimise_treatment":
                    started = self._optimise(p, step.day) or started
            elif step.kind == "finding" and name == "transplanted":
                lat = self.latent
                lat.transplanted, lat.lt_day, lat.graft_failed = True, step.day, False
                lat.recurrence, lat.stage, lat.hcc = False, "none", False
                lat.acute_mode, self.acute_bili, self.acute_inr = "", 0.0, 0.0
                self._emergency = None
                self.history.setdefault("transplant", step.day)
                kind = "post_transplant"
            if kind is not None:
                anchor = self.activity(step.day)
                self.course = self._new_course(
                    kind, step.day, anchor=anchor, drugs=tuple(p.drugs), reason=reason
                )
                started = True
        self._seen = len(trace)
        return started

    def _optimise(self, p: PatientRecord, day: Days) -> bool:
        """React to ``optimise_treatment`` on ``day``; true when a course (re)starts.

        [MODEL] The visit restores adherence: labs of a non-adherent patient return to their
        level before it lapsed. A course short of complete response restarts from today's
        labs with the same draws, re-read with the new regimen (budesonide replaced by
        predniso(lo)ne; azathioprine raised: ``response.optimised_azathioprine_odds_ratio``),
        so only a failure whose draw lies under the higher probability turns into a response,
        within ``response.optimised_time_to_cbr_median_days``.
        """
        lat, course = self.latent, self.course
        if lat.nonadherent_since is not None:
            lat.nonadherent_since = None
            self.history.setdefault("nonadherence_found", day)
            if course.kind == "nonadherent":
                anchor = self.activity(day)
                self.course = _Course("readherent", day, 0.0, course.z, anchor=anchor)
                self._shape(self.course, p.drugs, anchor)
                return True
        raised = (p.dose("azathioprine") or 0.0) > self._aza_dose + _EPS
        steroid = "budesonide" in self._drugs and not p.on("budesonide")
        if course.kind not in _INDUCING_KINDS or course.cls == "complete":
            return False
        if not (raised or steroid):
            return False
        anchor = self.activity(day)
        self.course = replace(
            course,
            start=day,
            anchor=anchor,
            optimised=True,
            dose_raised=course.dose_raised or raised,
        )
        self._shape(self.course, p.drugs, anchor)
        return True

    def limits(self, chart: Pathway[PatientRecord]) -> Limits:
        """The limits the hazard conditions read (``th.<name>``) for this chart."""
        return Limits(chart.thresholds.transplant_meld, self.c.pregnancy_max_age)

    def situation(
        self, p: PatientRecord, day: Days, latent: tuple[float, float, float] | None = None
    ) -> Situation:
        """The patient on ``day`` as the hazard conditions read it (record ``p``: the
        chart's; ``latent``: its latent ALT, IgG and MELD if known)."""
        c = self.c
        if latent is None:
            alt, igg = self.activity(day)
            bili, inr, _ = self._liver_function(day)
            score = meld(bili, inr, c.creatinine, c.meld)
        else:
            alt, igg, score = latent
        # Positional: the record's fields, the latent ones (LATENT_FIELDS), the numbers.
        return Situation(
            frozenset(p.drugs),
            p.pregnancy,
            p.sex,
            p.age + day / YEAR_DAYS,
            p.withdrawal_start_day,
            p.treatment_start_day,
            *self.latent_fields(),
            score,
            alt,
            igg,
        )

    def latent_fields(
        self,
    ) -> tuple[str, bool, bool, bool, bool, bool, bool, Days | None, Days | None, str, bool, bool]:
        """The situation's fields :data:`LATENT_FIELDS` (the model's own state), in order."""
        lat = self.latent
        return (
            lat.stage,
            not lat.transplanted,
            lat.hcc,
            lat.recurrence,
            lat.graft_failed,
            lat.recompensates,
            lat.decompensation_active,
            lat.nonadherent_since,
            lat.untreated_since,
            self.course.kind,
            self._emergency is not None,
            self.candidate,
        )

    @property
    def drugs_taken(self) -> frozenset[str]:
        """The drugs the chart listed at the last catch-up (the situation's ``drugs``)."""
        return self._drugs

    def _set_hazards(
        self,
        chart: Pathway[PatientRecord],
        day: Days,
        latent: tuple[float, float, float] | None = None,
    ) -> None:
        """Set every clock's hazard: whether it runs is declared in
        :mod:`simulation.model.hazard_conditions`, its rate and origin in
        :mod:`simulation.model.clock_hazards` (``latent``: see :meth:`situation`)."""
        p, active, lat = chart.patient, chart.active, self.latent
        s = self.situation(p, day, latent)
        limits = self.limits(chart)
        on = hazards_on(s, limits, active)
        case = flare_case(s, limits, active)
        set_clocks(self.clocks, self.c, s, on, case, day, lat.lt_day, lat.drug_start)
