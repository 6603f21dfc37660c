"""Table tests, one per guideline branch: which actions are allowed, refused and why."""

from __future__ import annotations

import pytest

from pathway import AIHPathway, GuidelineOptions, Thresholds

from .helpers import NORMAL_LABS, course, new_chart


def actions(chart: AIHPathway) -> list[str]:
    return [r.action for r in chart.recommendations()]


def breach_ids(chart: AIHPathway, action: str) -> set[str]:
    return {b.rule_id for b in chart.explain(action)}


# --- triage ------------------------------------------------------------------------------


def test_active_chronic_disease_must_start_prednisolone() -> None:
    """Active disease at diagnosis: predniso(lo)ne is a must, continue is not allowed."""
    chart = new_chart()
    top = chart.recommendations()[0]
    assert (top.action, top.strength) == ("start_prednisolone", "must")
    assert top.rule_ids == ("AIH-TRI-03",)
    assert top.doses == {"prednisolone": 35.0}  # 0.5 mg/kg x 70 kg
    assert "continue" not in actions(chart)
    assert "AIH-TRI-03" in breach_ids(chart, "continue")


def test_acute_severe_presentation_gets_high_dose_and_no_budesonide() -> None:
    """Acute severe AIH: 1 mg/kg capped at 60 mg, budesonide refused (INV-02)."""
    chart = new_chart(
        {"alt_xuln": 20, "bilirubin_mg_dl": 8, "inr": 1.7},
        presentation="acute_severe",
        weight_kg=90,
    )
    top = chart.recommendations()[0]
    assert top.action == "start_prednisolone"
    assert top.rule_ids == ("AIH-TRI-01",)
    assert top.doses == {"prednisolone": 60.0}
    assert "INV-02" in breach_ids(chart, "start_budesonide")
    chart.take("start_prednisolone", day=0)
    assert chart.in_state("acute_severe")


def test_jaundice_with_high_inr_is_acute_severe_even_if_called_chronic() -> None:
    """Bilirubin >= 2.5 mg/dL with INR >= 1.5 and no encephalopathy routes to acute_severe."""
    chart = new_chart({"alt_xuln": 12, "bilirubin_mg_dl": 4.0, "inr": 1.6})
    chart.take("start_prednisolone", day=0)
    assert chart.in_state("acute_severe")


def test_liver_failure_must_be_referred_before_any_steroid() -> None:
    """AIH with encephalopathy: referral is a must; a steroid first breaks INV-14."""
    chart = new_chart(
        {"alt_xuln": 30, "bilirubin_mg_dl": 12, "inr": 2.4}, presentation="acute_liver_failure"
    )
    assert chart.in_state("acute_liver_failure")
    top = chart.recommendations()[0]
    assert (top.action, top.strength) == ("refer_transplant", "must")
    assert "INV-14" in breach_ids(chart, "start_prednisolone")


def test_mild_inactive_disease_may_be_observed() -> None:
    """Transaminases <= 3 x ULN, no cirrhosis: observation leads, treatment stays allowed."""
    chart = new_chart({"alt_xuln": 2.0, "ast_xuln": 1.5, "igg_xuln": 1.1})
    recs = actions(chart)
    assert recs[0] == "observe_untreated"
    assert "start_prednisolone" in recs
    chart.take("observe_untreated", day=0)
    assert chart.in_state("observation")


@pytest.mark.parametrize(("alt", "active"), [(3.0, False), (3.01, True)])
def test_active_disease_starts_above_three_times_uln(alt: float, active: bool) -> None:
    """ALT of exactly 3 x ULN is still mild (observation leads); just above it is active."""
    chart = new_chart({"alt_xuln": alt, "ast_xuln": 1.5, "igg_xuln": 1.1})
    assert (actions(chart)[0] == "start_prednisolone") is active
    assert ("AIH-TRI-03" in breach_ids(chart, "observe_untreated")) is active


def test_observation_is_refused_for_active_disease_or_cirrhosis() -> None:
    """Observation needs inactive, non-cirrhotic disease (AIH-TRI-03, AIH-TRI-04)."""
    assert "AIH-TRI-03" in breach_ids(new_chart(), "observe_untreated")
    mild_cirrhotic = new_chart({"alt_xuln": 2.0}, cirrhosis="compensated")
    assert "AIH-TRI-04" in breach_ids(mild_cirrhotic, "observe_untreated")


# --- induction ---------------------------------------------------------------------------


def test_budesonide_allowed_without_cirrhosis_refused_with_it() -> None:
    """Budesonide: a 'may' option without cirrhosis; INV-01 with compensated cirrhosis."""
    chart = new_chart()
    rec = {r.action: r for r in chart.recommendations()}["start_budesonide"]
    assert (rec.strength, rec.doses) == ("may", {"budesonide": 9.0})
    assert "INV-01" in breach_ids(new_chart(cirrhosis="compensated"), "start_budesonide")


@pytest.mark.parametrize(
    ("tpmt", "day", "bilirubin", "expected"),
    [
        ("normal", 14, 1.0, set()),
        ("unknown", 14, 1.0, {"INV-05"}),
        ("deficient", 14, 1.0, {"INV-05"}),
        ("normal", 10, 1.0, {"INV-07"}),
        ("normal", 14, 7.0, {"INV-07"}),
        ("normal", 14, 6.0, {"INV-07"}),  # the bilirubin limit itself is too high
        ("normal", 14, 5.9, set()),
    ],
)
def test_azathioprine_start_conditions(
    tpmt: str, day: float, bilirubin: float, expected: set[str]
) -> None:
    """AZA needs TPMT known and not deficient, 14 days of steroid and bilirubin < 6 mg/dL."""
    chart = new_chart({"alt_xuln": 8, "ast_xuln": 6, "bilirubin_mg_dl": bilirubin}, tpmt=tpmt)
    chart.take("start_prednisolone", day=0)
    chart.observe("labs", {"bilirubin_mg_dl": bilirubin}, day=day)
    assert breach_ids(chart, "add_azathioprine") == expected


def test_tpmt_intermediate_halves_the_azathioprine_dose() -> None:
    """Intermediate TPMT: 0.5 mg/kg floored to 25 mg (70 kg -> 25 mg), normal 1 mg/kg -> 50."""
    for tpmt, dose in (("intermediate", 25.0), ("normal", 50.0)):
        chart = new_chart(tpmt=tpmt)
        chart.take("start_prednisolone", day=0)
        chart.observe("labs", {"alt_xuln": 6.0}, day=14)
        rec = {r.action: r for r in chart.recommendations()}["add_azathioprine"]
        assert rec.doses == {"azathioprine": dose}


def test_mycophenolate_first_line_option_reorders_antimetabolites() -> None:
    """Default: AZA should, MMF may; with the CAMARO option MMF is the one that should."""
    for option, first in (
        ("azathioprine", "add_azathioprine"),
        ("mycophenolate", "add_mycophenolate"),
    ):
        chart = new_chart()
        chart.options = GuidelineOptions(first_line_antimetabolite=option)  # type: ignore[arg-type]
        chart.take("start_prednisolone", day=0)
        chart.observe("labs", {"alt_xuln": 6.0}, day=14)
        should = [r.action for r in chart.recommendations() if r.strength == "should"]
        assert should[0] == first


def test_tpmt_deficient_makes_mycophenolate_the_recommendation() -> None:
    """No AZA with deficient TPMT, so MMF becomes a 'should' (AIH-IND-04)."""
    chart = course([], horizon_days=20, tpmt="deficient")
    assert chart.patient.on("mycophenolate")
    assert not chart.patient.on("azathioprine")


def test_aasld_fixed_dose_option() -> None:
    """The AASLD variant starts 30 mg whatever the weight (capped at 1 mg/kg)."""
    for weight, dose in ((90, 30.0), (40, 30.0)):
        chart = new_chart(weight_kg=weight)
        chart.options = GuidelineOptions(steroid_scheme="aasld_fixed")
        assert chart.recommendations()[0].doses == {"prednisolone": dose}


# --- response, taper, maintenance -------------------------------------------------------


def test_week4_non_response_leads_to_tacrolimus() -> None:
    """< 50% fall by week 4 is non-response; tacrolimus is preferred over MMF (S-EFE17)."""
    chart = course([(28, "labs", {"alt_xuln": 6.0, "ast_xuln": 5.0})], horizon_days=29)
    assert chart.patient.response_history[0] == (28.0, "non_response")
    assert chart.in_state("second_line")
    assert chart.patient.on("tacrolimus")


def test_complete_response_at_month6_enters_maintenance_and_tapers() -> None:
    """Halved by week 4, normal by month 6: maintenance with predniso(lo)ne at 10 mg."""
    chart = course(
        [(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}), (180, "labs", NORMAL_LABS)],
        horizon_days=183,
    )
    assert chart.in_state("maintenance")
    assert chart.in_state("steroid_maintenance")
    assert chart.patient.response == "complete_biochemical_response"
    assert chart.patient.drugs == {"prednisolone": 10.0, "azathioprine": 50.0}


def test_insufficient_response_at_month6_stays_and_recommends_second_line() -> None:
    """No CBR at 6 months: insufficient response; second line follows (AIH-RSP-03)."""
    chart = course([(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5})], horizon_days=183)
    assert "insufficient_response" in [c for _, c in chart.patient.response_history]
    assert chart.in_state("second_line")


def test_mycophenolate_leads_after_azathioprine_intolerance_even_with_non_response() -> None:
    """AZA intolerance then week-4 non-response: both switches are 'should', and MMF is
    ranked first because it works best after AZA intolerance (S-SANTIAGO19)."""
    chart = new_chart()
    chart.take("start_prednisolone", day=0)
    chart.observe("labs", {"alt_xuln": 6.0}, day=14)
    chart.take("add_azathioprine", day=14)
    chart.observe("intolerance", "azathioprine", day=20)
    chart.observe("labs", {"alt_xuln": 6.0, "ast_xuln": 5.0}, day=28)
    chart.fire("week4_check", day=28)
    assert chart.patient.response == "non_response"
    recs = [(r.action, r.strength) for r in chart.recommendations()]
    assert recs[:2] == [("switch_to_mycophenolate", "should"), ("switch_to_tacrolimus", "should")]


def test_nonadherence_blocks_escalation() -> None:
    """Adherence must be confirmed before second line (AIH-RSP-03)."""
    chart = course(
        [(20, "nonadherence", True), (28, "labs", {"alt_xuln": 6.0, "ast_xuln": 5.0})],
        horizon_days=29,
    )
    assert chart.patient.response == "non_response"
    assert not chart.in_state("second_line")
    assert "AIH-RSP-03" in breach_ids(chart, "switch_to_tacrolimus")


def test_steroid_stopped_after_a_year_of_response_with_aza_raised() -> None:
    """S-JOHNSON95: after >= 12 months of CBR, stop the steroid, AZA to 2 mg/kg."""
    chart = course(
        [(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}), (180, "labs", NORMAL_LABS)],
        horizon_days=640,
    )
    # CBR from day 182; the first visit with >= 365 days of CBR is day 637.
    assert chart.patient.drugs == {"azathioprine": 125.0}  # 2 mg/kg x 70 floored to 25
    assert chart.in_state("no_steroid")


def test_flare_on_treatment_is_a_relapse_and_must_be_reinduced() -> None:
    """ALT > 3 x ULN in maintenance: relapse, reinduction is a must."""
    chart = course(
        [
            (28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}),
            (180, "labs", NORMAL_LABS),
            (300, "labs", {"alt_xuln": 5.0}),
        ],
        horizon_days=301,
    )
    assert chart.in_state("relapse")
    assert chart.patient.reinduced
    assert chart.patient.drugs["prednisolone"] == 35.0


# --- withdrawal --------------------------------------------------------------------------

WITHDRAWAL_COURSE = [
    (28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}),
    (180, "labs", {"alt_xuln": 0.3, "ast_xuln": 0.4, "igg_xuln": 0.6}),
]


def test_withdrawal_is_attempted_after_24_months_of_response_on_monotherapy() -> None:
    """Eligible at the first visit after 730 days of CBR; completed after 91 days."""
    chart = course(WITHDRAWAL_COURSE, horizon_days=1200)
    assert chart.patient.withdrawal_start_day == 1001.0
    assert chart.patient.withdrawal_cbr_days is not None
    assert chart.patient.withdrawal_cbr_days >= 730
    assert chart.in_state("off_treatment")
    assert not chart.patient.drugs


def test_withdrawal_too_early_is_refused_with_inv10() -> None:
    """Before 24 months of CBR the attempt breaks INV-10."""
    chart = course(WITHDRAWAL_COURSE, horizon_days=600)
    assert "INV-10" in breach_ids(chart, "attempt_withdrawal")


def test_relapse_after_withdrawal_forbids_a_second_attempt() -> None:
    """After relapse off treatment, withdrawal breaks INV-11 for good."""
    chart = course(
        [
            *WITHDRAWAL_COURSE,
            (1150, "labs", {"alt_xuln": 4.5}),
            (1330, "labs", {"alt_xuln": 0.3, "ast_xuln": 0.3, "igg_xuln": 0.5}),
        ],
        horizon_days=2500,
    )
    assert chart.patient.relapsed_after_withdrawal
    assert chart.in_state("maintenance")
    assert chart.patient.withdrawal_attempts == 1
    assert "INV-11" in breach_ids(chart, "attempt_withdrawal")


def test_withdrawal_refused_in_pregnancy_and_cirrhosis() -> None:
    """Pregnancy (INV-12, soft) and cirrhosis (AIH-WDR-01) stand against withdrawal."""
    chart = course([*WITHDRAWAL_COURSE, (900, "pregnant", True)], horizon_days=1010)
    assert "INV-12" in breach_ids(chart, "attempt_withdrawal")
    assert chart.in_state("maintenance")
    chart = course(
        [*WITHDRAWAL_COURSE, (900, "cirrhosis_diagnosed", "compensated")], horizon_days=1010
    )
    reasons = [str(b) for b in chart.explain("attempt_withdrawal")]
    assert reasons == ["AIH-WDR-01: cirrhosis: withdrawal evidence is non-cirrhotic"]
    assert chart.in_state("maintenance")
    assert chart.patient.withdrawal_start_day is None


@pytest.mark.parametrize(("above", "allowed"), [(0.0, True), (0.01, False)])
def test_withdrawal_igg_limit_is_inclusive(above: float, allowed: bool) -> None:
    """IgG at the withdrawal limit itself allows the attempt; just above it does not."""
    chart = course(WITHDRAWAL_COURSE, horizon_days=950)
    igg = Thresholds().withdrawal_max_igg_xuln + above
    chart.observe("labs", {"alt_xuln": 0.3, "ast_xuln": 0.3, "igg_xuln": igg}, day=950)
    assert (breach_ids(chart, "attempt_withdrawal") == set()) is allowed


# --- intolerance, pregnancy, transplant ----------------------------------------------


def test_azathioprine_intolerance_switches_to_mycophenolate() -> None:
    """Intolerance stops AZA; MMF leads the recommendations (S-SANTIAGO19)."""
    chart = course(
        [(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}), (60, "intolerance", "azathioprine")],
        horizon_days=61,
    )
    assert chart.patient.on("mycophenolate")
    assert chart.in_state("second_line")


def test_pregnancy_stops_mycophenolate() -> None:
    """A planned pregnancy stops MMF at once (INV-09); MMF is then refused."""
    chart = course([(100, "pregnancy_planned", True)], horizon_days=101, tpmt="deficient")
    assert not chart.patient.on("mycophenolate")
    assert chart.in_state("planning_pregnancy")
    assert "INV-09" in breach_ids(chart, "add_mycophenolate")


def test_cirrhosis_found_on_budesonide_switches_to_prednisolone() -> None:
    """INV-17: the finding itself replaces budesonide by predniso(lo)ne."""
    chart = new_chart()
    chart.take("start_budesonide", day=0)
    chart.observe("cirrhosis_diagnosed", "compensated", day=40)
    assert chart.patient.drugs == {"prednisolone": 35.0}
    assert chart.in_state("compensated_cirrhosis")


@pytest.mark.parametrize(("meld", "referred"), [(14.9, False), (15.0, True)])
def test_meld_of_15_itself_is_a_referral(meld: float, referred: bool) -> None:
    """The MELD limit is inclusive: 15 is referred (AIH-LT-01), 14.9 is not."""
    chart = course([(50, "labs", {"meld": meld})], horizon_days=51)
    assert (chart.patient.transplant_referral_day == 50.0) is referred
    assert chart.in_state("transplant") is referred


def test_meld_15_recommends_referral_and_transplant_leads_to_recurrence_check() -> None:
    """MELD >= 15 should be referred; after transplant, graft hepatitis is recurrent AIH."""
    chart = course(
        [(50, "labs", {"meld": 16}), (300, "transplanted", True), (500, "labs", {"alt_xuln": 4.0})],
        horizon_days=501,
    )
    assert chart.patient.transplant_referral_day == 50.0
    assert chart.in_state("recurrent_aih")


def test_acute_severe_improving_returns_to_induction() -> None:
    """Day-7 review with falling bilirubin and INR: induction continues (AIH-ASA-01)."""
    chart = course(
        [(7, "labs", {"bilirubin_mg_dl": 5.0, "inr": 1.4})],
        horizon_days=8,
        labs={"alt_xuln": 20, "bilirubin_mg_dl": 8.0, "inr": 1.8},
        presentation="acute_severe",
    )
    assert chart.patient.acute_improving is True
    assert chart.in_state("induction")


def test_unknown_action_is_an_error() -> None:
    """A misspelled action names the known ones."""
    from pathway import PatientError

    with pytest.raises(PatientError, match="unknown action 'start_pred'"):
        new_chart().explain("start_pred")


def test_referral_refusal_quotes_the_meld_threshold_in_force() -> None:
    """With ``transplant_meld`` set to 20, a refused referral says MELD < 20, not < 15."""
    from .helpers import record

    chart = AIHPathway(record(), thresholds=Thresholds().with_overrides(transplant_meld=20))
    chart.observe("labs", {"alt_xuln": 5.0, "meld": 17.0}, day=0)
    assert "MELD < 20," in "; ".join(str(b) for b in chart.explain("refer_transplant"))
