"""The hand-written AIH effects as they were before issue 14 declared them.

Kept only as the oracle of tests/test_effects.py: the declared effects
(pathway.guidelines.aih.effects) must leave every record exactly as these did. Not used by
the package. Copied verbatim apart from imports.
"""

from __future__ import annotations

# ruff: noqa
# mypy: ignore-errors

from collections.abc import Callable, Set
from typing import Any

from pathway.errors import PatientError
from pathway.guidelines.aih import response
from pathway.guidelines.aih.dosing import (
    azathioprine_dose,
    budesonide_dose,
    mycophenolate_dose,
    next_taper_dose,
    optimised_steroid,
    prednisolone_dose,
    tacrolimus_dose,
)
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.patient import LabPanel, PatientRecord
from pathway.guidelines.aih.rules import acute_improving, cbr_days
from pathway.guidelines.aih.thresholds import Thresholds
from pathway.guidelines.aih.vocabulary import CIRRHOSIS_STAGES, FINDING_VALUES

__all__ = ["ACTION_EFFECTS", "FINDING_EFFECTS", "TIMER_EFFECTS", "validate_payload"]

Effect = Callable[[PatientRecord, Any, Thresholds, GuidelineOptions, Set[str]], None]


# --- findings ------------------------------------------------------------------------------


def _switch_budesonide(p: PatientRecord, th: Thresholds, opt: GuidelineOptions) -> None:
    """INV-17: budesonide is replaced by predniso(lo)ne once cirrhosis is known."""
    if p.on("budesonide"):
        del p.drugs["budesonide"]
        p.drugs["prednisolone"] = prednisolone_dose(p, th, opt, acute=False)
        p.steroid_change_day = p.day


def _labs(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    panel = v if isinstance(v, LabPanel) else LabPanel.from_mapping(p.day, v)
    p.add_labs(panel)
    if p.severe_cytopenia:
        wbc, plt = p.latest("wbc_10e9_l"), p.latest("platelets_10e9_l")
        if (wbc is not None and wbc >= th.severe_cytopenia_wbc_10e9_l) and (
            plt is None or plt >= th.severe_cytopenia_platelets_10e9_l
        ):
            p.severe_cytopenia = False  # AIH-SAF-02: counts recovered
    if "post_transplant" in a and p.response == "not_assessed":
        # The graft starts normal: judge graft labs as follow-up of a response (AIH-PLT-01).
        p.set_response(
            response.classify_followup("complete_biochemical_response", p.latest_panel(), th)
        )
    elif p.response in ("complete_biochemical_response", "loss_of_response", "relapse"):
        latest = p.latest_panel()
        new = response.classify_followup(p.response, latest, th)
        if p.response == "relapse" and p.reinduced and response.is_cbr(latest, th):
            new = "complete_biochemical_response"
        p.set_response(new)
    elif (
        "response_assessment" in a
        and p.timers_fired.get("month6_assessment", 0) > 0
        and p.response in ("insufficient_response", "non_response")
        and response.is_cbr(p.latest_panel(), th)
    ):
        # AIH-RSP-05 (G-HASL: CBR by 6-12 months): a late complete response is a response.
        p.set_response("complete_biochemical_response")
    _reassess_failure(p, th, a)


def _reassess_failure(p: PatientRecord, th: Thresholds, a: Set[str]) -> None:
    """AIH-RSP-05: after optimisation, a failure still there at the reassessment is confirmed.

    A complete response ends the episode (a later failure is optimised afresh). The wait
    after optimisation is 4 weeks for non-response (G-IAIHG22 [V] time point, borrowed),
    a 3-monthly visit for loss of response [MODEL] and the 12-month assessment for an
    insufficient response (G-HASL [V]; :func:`_month12`).
    """
    if p.response == "complete_biochemical_response":
        p.optimised_day, p.failure_confirmed = None, False
        return
    if p.optimised_day is None or p.failure_confirmed:
        return
    since = p.day - p.optimised_day
    latest = p.latest_panel()
    if p.response == "non_response":
        base = p.treatment_baseline
        still = base is not None and response.is_non_response(base, latest, th)
        wait = th.non_response_check_days
    elif p.response == "loss_of_response":
        still, wait = not response.is_cbr(latest, th), th.loss_of_response_recheck_days
    elif p.response == "insufficient_response" and p.timers_fired.get("month12_assessment", 0):
        still, wait = not response.is_cbr(latest, th), th.non_response_check_days
    else:
        return
    if still and since >= wait - 1e-9:
        p.failure_confirmed = True


def _tpmt(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    """AIH-IND-05: record TPMT; INV-05: a deficient result stops azathioprine at once."""
    p.tpmt = v
    if v == "deficient":
        p.drugs.pop("azathioprine", None)


def _intolerance(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    """AIH-SAF-01: intolerance stops the drug (IAIHG 2022 definition)."""
    p.intolerant.add(v)
    p.drugs.pop(v, None)


def _cytopenia(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    """AIH-SAF-02 [MODEL]: severe cytopenia stops the antimetabolite, as an intolerance."""
    if v == "severe":
        p.severe_cytopenia = True
        drug = p.antimetabolite
        if drug is not None:
            p.intolerant.add(drug)
            del p.drugs[drug]


def _cirrhosis(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    if CIRRHOSIS_STAGES.index(v) > CIRRHOSIS_STAGES.index(p.cirrhosis):
        p.cirrhosis = v
    if v == "decompensated":
        p.decompensated = True
    _switch_budesonide(p, th, opt)


def _decompensation(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.cirrhosis = "decompensated"
    p.decompensated = True
    _switch_budesonide(p, th, opt)


def _recompensation(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    # AIH-LIV-03: treated decompensation that resolves leaves a compensated cirrhosis (the
    # stage never goes back further); encephalopathy, once seen, stays on the record.
    p.cirrhosis = "compensated"
    p.decompensated = False


def _encephalopathy(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.encephalopathy = True
    if p.cirrhosis != "none":
        _decompensation(p, v, th, opt, a)


def _flag(name: str) -> Effect:
    def effect(
        p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
    ) -> None:
        setattr(p, name, True)

    return effect


def _pregnancy(status: str) -> Effect:
    def effect(
        p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
    ) -> None:
        p.pregnancy = status
        if status in ("planned", "pregnant"):
            p.drugs.pop("mycophenolate", None)  # AIH-PRG-01 / INV-09: stop MMF before conception

    return effect


def _transplanted(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    """AIH-LT-04: a new liver; CNI-based immunosuppression (tacrolimus) [R]."""
    p.transplant_day = p.day
    p.reset_latest_labs()  # the native liver's values do not describe the graft
    p.drugs = {"tacrolimus": tacrolimus_dose(p, th)}
    p.cirrhosis, p.decompensated, p.encephalopathy, p.hcc = "none", False, False, False
    p.response, p.cbr_since_day = "not_assessed", None
    p.treatment_start_day, p.treatment_baseline = p.day, None
    p.optimised_day, p.failure_confirmed = None, False


def _remission_biopsy(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    """AIH-WDR-05: a biopsy shows histological remission (HAI <= 3, S-EJIM21)."""
    p.remission_biopsy_day = p.day


def _death(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    p.death_day = p.day


def _nothing(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    return None


FINDING_EFFECTS: dict[str, Effect] = {
    "labs": _labs,
    "tpmt": _tpmt,
    "intolerance": _intolerance,
    "cytopenia": _cytopenia,
    "cirrhosis_diagnosed": _cirrhosis,
    "decompensation": _decompensation,
    "recompensation": _recompensation,
    "encephalopathy": _encephalopathy,
    "hcc": _flag("hcc"),
    "pregnancy_planned": _pregnancy("planned"),
    "pregnant": _pregnancy("pregnant"),
    "delivered": _pregnancy("postpartum"),
    "nonadherence": _flag("nonadherent"),
    "histological_remission": _remission_biopsy,
    "transplanted": _transplanted,
    "graft_failure": _nothing,
    "death": _death,
}

# --- timers ----------------------------------------------------------------------------------


def _week4(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    if p.treatment_baseline is not None:
        p.set_response(response.classify_week4(p.treatment_baseline, p.latest_panel(), th))


def _month6(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    p.set_response(response.classify_month6(p.latest_panel(), th))


def _visit(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    """A visit judges the latest labs again: a failure may be confirmed (AIH-RSP-05)."""
    _reassess_failure(p, th, a)


def _month12(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    """AIH-RSP-05: the 12-month reassessment of a response judged insufficient at month 6."""
    if "response_assessment" not in a:
        return  # already in maintenance or beyond: nothing to reassess
    p.set_response(response.classify_month6(p.latest_panel(), th))
    if p.response != "complete_biochemical_response" and p.optimised_day is not None:
        p.failure_confirmed = True
    _reassess_failure(p, th, a)


def _line_assessment(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.line_assessed = True
    p.set_response(response.classify_month6(p.latest_panel(), th))


def _transplant_review(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    """A listed patient in complete response is judged so (AIH-LT-05, delisting)."""
    if response.is_cbr(p.latest_panel(), th):
        p.set_response("complete_biochemical_response")


def _acute_review(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.acute_review_day = p.day
    p.acute_improving = acute_improving(p)


def _withdrawal_complete(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.drugs.clear()
    latest = p.latest_panel()
    p.set_response(response.classify_followup(p.response, latest, th))


def _postpartum_end(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.pregnancy = "none"


TIMER_EFFECTS: dict[str, Effect] = {
    "thiopurine_due": _nothing,
    "week4_check": _week4,
    "month6_assessment": _month6,
    "month12_assessment": _month12,
    "steroid_review": _visit,
    "monitoring_due": _visit,
    "second_line_assessment": _line_assessment,
    "relapse_assessment": _line_assessment,
    "third_line_assessment": _line_assessment,
    "transplant_review": _transplant_review,
    "acute_review": _acute_review,
    "withdrawal_complete": _withdrawal_complete,
    "postpartum_end": _postpartum_end,
    "hcc_surveillance": _nothing,
}

# --- clinician actions -----------------------------------------------------------------------


def _start_course(p: PatientRecord) -> None:
    if p.first_treatment_day is None:
        p.first_treatment_day = p.day
    if p.treatment_start_day is None or p.treatment_baseline is None:
        p.treatment_start_day = p.day
        p.treatment_baseline = p.latest_panel()
    p.steroid_start_day = p.steroid_change_day = p.day


def _start_prednisolone(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.drugs.pop("budesonide", None)
    p.drugs["prednisolone"] = prednisolone_dose(p, th, opt, acute="acute_severe" in a)
    _start_course(p)


def _start_budesonide(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.drugs.pop("prednisolone", None)
    p.drugs["budesonide"] = budesonide_dose(th)
    _start_course(p)


def _add_azathioprine(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    dose = azathioprine_dose(p, th)
    if dose > 0:  # TPMT deficient: a deviation that cannot be carried out as a dose
        p.drugs["azathioprine"] = dose


def _add_mycophenolate(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.drugs["mycophenolate"] = mycophenolate_dose(th)


def _taper(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    drug = p.steroid
    if drug is not None:
        p.drugs[drug] = next_taper_dose(drug, p.drugs[drug] or 0.0, th)
        p.steroid_change_day = p.day


def _stop_steroid(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    """AIH-MNT-01 (S-JOHNSON95): steroid off, azathioprine raised to 2 mg/kg.

    On mycophenolate or tacrolimus (AIH-MNT-04 [MODEL]) the steroid-sparing dose is kept.
    """
    for drug in ("prednisolone", "budesonide"):
        p.drugs.pop(drug, None)
    if p.on("azathioprine"):
        p.drugs["azathioprine"] = azathioprine_dose(p, th, maintenance=True)
    p.steroid_change_day = p.day


def _switch_to_mycophenolate(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.drugs.pop("azathioprine", None)
    p.drugs["mycophenolate"] = mycophenolate_dose(th)
    _new_line(p)


def _new_line(p: PatientRecord) -> None:
    """A new line of treatment: judged afresh, with its own optimisation (AIH-RSP-05)."""
    p.line_assessed = False
    p.optimised_day, p.failure_confirmed = None, False


def _switch_to_tacrolimus(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.drugs.pop("azathioprine", None)
    p.drugs.pop("mycophenolate", None)
    p.drugs["tacrolimus"] = tacrolimus_dose(p, th)
    _new_line(p)


def _start_third_line(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    # Third-line agents are given by infusion, not as a daily dose (G-ERN20 [R]).
    p.drugs["infliximab"] = None
    _new_line(p)


def _attempt_withdrawal(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    p.withdrawal_start_day = p.day
    p.withdrawal_cbr_days = cbr_days(p)
    p.withdrawal_attempts += 1
    for drug, dose in p.drugs.items():  # [MODEL] halve now, stop at withdrawal_complete
        if dose is not None:
            p.drugs[drug] = dose / 2


def _reinduce(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    """AIH-REL-01: predniso(lo)ne again with the antimetabolite (restarted if stopped)."""
    p.reinduced = True
    p.optimised_day, p.failure_confirmed = None, False
    p.drugs.pop("budesonide", None)
    p.drugs["prednisolone"] = prednisolone_dose(p, th, opt, acute=False)
    # Recurrent AIH in the graft: steroid with azathioprine on top of the calcineurin
    # inhibitor (S-CZAJA12); elsewhere tacrolimus second line already replaces it.
    graft = "recurrent_aih" in a
    if p.antimetabolite is None and (graft or not p.on("tacrolimus")):
        if p.tpmt in ("normal", "intermediate") and "azathioprine" not in p.intolerant:
            p.drugs["azathioprine"] = azathioprine_dose(p, th)
        elif "mycophenolate" not in p.intolerant and p.pregnancy not in ("planned", "pregnant"):
            p.drugs["mycophenolate"] = mycophenolate_dose(th)
    p.treatment_start_day, p.treatment_baseline = p.day, p.latest_panel()
    p.steroid_start_day = p.steroid_change_day = p.day


def _optimise_treatment(
    p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]
) -> None:
    """AIH-RSP-05: adherence checked and addressed, doses optimised, reassessment pending.

    Azathioprine is titrated to 2 mg/kg (TPMT-adjusted, S-MANNS10 range); budesonide is
    replaced by predniso(lo)ne, and a week-4 non-responder's predniso(lo)ne is raised to the
    top of the range (KB T07 [R]).
    """
    p.nonadherent = False
    p.optimised_day, p.failure_confirmed = p.day, False
    if p.on("azathioprine"):
        target = azathioprine_dose(p, th, maintenance=True)
        p.drugs["azathioprine"] = max(p.drugs["azathioprine"] or 0.0, target)
    change = optimised_steroid(p, th, opt)
    if change is not None:
        drug, dose = change
        p.drugs.pop("budesonide", None)
        p.drugs[drug] = dose
        p.steroid_change_day = p.day


def _refer(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
    p.transplant_referral_day = p.day


ACTION_EFFECTS: dict[str, Effect] = {
    "start_prednisolone": _start_prednisolone,
    "start_budesonide": _start_budesonide,
    "add_azathioprine": _add_azathioprine,
    "add_mycophenolate": _add_mycophenolate,
    "taper_steroid": _taper,
    "stop_steroid": _stop_steroid,
    "switch_to_mycophenolate": _switch_to_mycophenolate,
    "switch_to_tacrolimus": _switch_to_tacrolimus,
    "start_third_line": _start_third_line,
    "attempt_withdrawal": _attempt_withdrawal,
    "reinduce": _reinduce,
    "optimise_treatment": _optimise_treatment,
    "refer_transplant": _refer,
    "observe_untreated": _nothing,
    "continue": _nothing,
}

# --- the antimetabolite tracking the bundle wrapped every effect in (INV-15) ------------------

from pathway.guidelines.aih.timers import TIMERS

_ANTIMETABOLITE_TIMERS = tuple(t.id for t in TIMERS if t.anchor == "antimetabolite_change_day")


def _tracked(effect: Effect) -> Effect:
    """``effect``, then restart the early blood-count schedule on a new antimetabolite or a
    dose rise (INV-15)."""

    def run(p: PatientRecord, v: Any, th: Thresholds, opt: GuidelineOptions, a: Set[str]) -> None:
        old_drug = p.antimetabolite
        old_dose = None if old_drug is None else p.dose(old_drug)
        effect(p, v, th, opt, a)
        drug = p.antimetabolite
        if drug is None:
            p.antimetabolite_change_day = None
            return
        dose = p.dose(drug)
        raised = dose is not None and old_dose is not None and dose > old_dose
        if drug != old_drug or raised:
            p.antimetabolite_change_day = p.day
            for timer_id in _ANTIMETABOLITE_TIMERS:
                p.timers_fired.pop(timer_id, None)

    run.__name__ = getattr(effect, "__name__", "effect")
    return run


TRACKED = {
    kind: {k: _tracked(f) for k, f in table.items()}
    for kind, table in (
        ("finding", FINDING_EFFECTS),
        ("timer", TIMER_EFFECTS),
        ("action", ACTION_EFFECTS),
    )
}
