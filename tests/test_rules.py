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


NON_RESPONSE = [(28, "labs", {"alt_xuln": 6.0, "ast_xuln": 5.0})]


def test_week4_non_response_is_optimised_first() -> None:
    """< 50% fall by week 4 is non-response: adherence and doses first (AIH-RSP-05), with
    predniso(lo)ne at the top of the range and azathioprine at 2 mg/kg; no switch yet."""
    chart = course(NON_RESPONSE, horizon_days=29)
    assert chart.patient.response_history[0] == (28.0, "non_response")
    assert chart.in_state("response_assessment")
    assert chart.patient.optimised_day == 28.0
    assert chart.patient.drugs == {"prednisolone": 60.0, "azathioprine": 125.0}
    assert "AIH-RSP-05" in breach_ids(chart, "switch_to_tacrolimus")


def test_confirmed_non_response_leads_to_tacrolimus() -> None:
    """Still non-responding 4 weeks after optimisation: tacrolimus, preferred over MMF
    (S-EFE17)."""
    chart = course(NON_RESPONSE, horizon_days=57)
    assert chart.in_state("second_line")
    assert chart.patient.on("tacrolimus")
    switch = [s for s in chart.trace if s.name == "switch_to_tacrolimus"]
    assert [s.day for s in switch] == [56.0]


def test_budesonide_non_responder_is_moved_to_prednisolone_not_tacrolimus() -> None:
    """Budesonide non-response: predniso(lo)ne first (AIH-RSP-05, S-DIAZ23), and its taper
    starts again from the steroid-induction state."""
    chart = new_chart()
    chart.take("start_budesonide", day=0)
    chart.observe("labs", {"alt_xuln": 6.0, "ast_xuln": 5.0}, day=28)
    chart.fire("week4_check", day=28)
    assert chart.patient.response == "non_response"
    assert breach_ids(chart, "switch_to_tacrolimus") == {"AIH-RSP-05"}
    top = chart.recommendations()[0]
    assert (top.action, top.doses) == ("optimise_treatment", {"prednisolone": 35.0})
    chart.take("optimise_treatment", day=28)
    assert chart.patient.drugs == {"prednisolone": 35.0}
    assert chart.in_state("steroid_induction")


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


def test_insufficient_response_at_month6_is_optimised_and_reassessed_at_month12() -> None:
    """No CBR at 6 months: insufficient response; azathioprine is titrated to 2 mg/kg and
    the second line waits for the 12-month reassessment (AIH-RSP-05, G-HASL)."""
    halved = [(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5})]
    chart = course(halved, horizon_days=363)
    assert "insufficient_response" in [c for _, c in chart.patient.response_history]
    assert chart.in_state("response_assessment")
    assert chart.patient.optimised_day == 182.0
    assert chart.patient.dose("azathioprine") == 125.0
    chart = course(halved, horizon_days=365)
    assert chart.in_state("second_line")


def test_complete_response_between_month6_and_month12_is_a_response() -> None:
    """Normal labs at a monthly visit after an insufficient month 6: maintenance, no second
    line (AIH-RSP-05)."""
    chart = course(
        [(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}), (250, "labs", NORMAL_LABS)],
        horizon_days=400,
    )
    assert chart.in_state("maintenance")
    assert chart.patient.response == "complete_biochemical_response"
    assert chart.patient.cbr_since_day == 250.0
    assert not any(s.name.startswith("switch_to_") for s in chart.trace)


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
    assert recs[0] == ("switch_to_mycophenolate", "should")
    # Tacrolimus answers a failed response, so it waits for optimisation (AIH-RSP-05).
    assert "AIH-RSP-05" in breach_ids(chart, "switch_to_tacrolimus")


def test_nonadherence_blocks_escalation() -> None:
    """Adherence must be confirmed before second line (AIH-RSP-03); the adherence check of
    dose optimisation addresses it (AIH-RSP-05)."""
    chart = new_chart()
    chart.take("start_prednisolone", day=0)
    chart.observe("nonadherence", day=20)
    chart.observe("labs", {"alt_xuln": 6.0, "ast_xuln": 5.0}, day=28)
    chart.fire("week4_check", day=28)
    assert chart.patient.response == "non_response"
    assert "AIH-RSP-03" in breach_ids(chart, "switch_to_tacrolimus")
    assert chart.recommendations()[0].action == "optimise_treatment"
    chart.take("optimise_treatment", day=28)
    assert not chart.patient.nonadherent
    assert breach_ids(chart, "switch_to_tacrolimus") == {"AIH-RSP-05"}


def test_steroid_stopped_after_a_year_of_response_with_aza_raised() -> None:
    """S-JOHNSON95: after >= 12 months of CBR, stop the steroid, AZA to 2 mg/kg."""
    chart = course(
        [(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}), (180, "labs", NORMAL_LABS)],
        horizon_days=640,
    )
    # CBR from day 182; the first visit with >= 365 days of CBR is day 637.
    assert chart.patient.drugs == {"azathioprine": 125.0}  # 2 mg/kg x 70 floored to 25
    assert chart.in_state("no_steroid")


def test_steroid_stopped_on_mycophenolate_too() -> None:
    """AIH-MNT-04: after AZA intolerance and MMF, the steroid stops after a year of CBR, so
    the patient can reach monotherapy (before, only azathioprine allowed it)."""
    chart = course(
        [
            (20, "intolerance", "azathioprine"),
            (28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}),
            (180, "labs", NORMAL_LABS),
        ],
        horizon_days=1000,
    )
    assert chart.in_state("maintenance")
    assert chart.patient.drugs == {"mycophenolate": 2000.0}
    stop = [s for s in chart.trace if s.name == "stop_steroid"]
    assert [s.recommended_by for s in stop] == [("AIH-MNT-04",)]


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
    chart = course(WITHDRAWAL_COURSE, horizon_days=1300)
    # 730 days of CBR by day 1001, but 3 years of treatment only from day 1095 (AIH-WDR-04).
    assert chart.patient.withdrawal_start_day == 1183.0
    assert chart.patient.withdrawal_cbr_days is not None
    assert chart.patient.withdrawal_cbr_days >= 730
    assert chart.in_state("off_treatment")
    assert not chart.patient.drugs


def test_withdrawal_needs_three_years_of_treatment_unless_the_hartl_option() -> None:
    """Two years of CBR are not enough before 3 years of treatment in total (AIH-WDR-04,
    G-HASL); the ``hartl`` option keeps the study criteria without a total duration."""
    chart = course(WITHDRAWAL_COURSE, horizon_days=1002)
    assert breach_ids(chart, "attempt_withdrawal") == {"AIH-WDR-04"}
    chart.options = GuidelineOptions(withdrawal_criteria="hartl")
    assert breach_ids(chart, "attempt_withdrawal") == set()


def test_biopsy_option_needs_histological_remission_during_this_response() -> None:
    """With ``withdrawal_biopsy`` (S-EJIM21), withdrawal needs a biopsy with HAI <= 3 taken
    since the complete response began (AIH-WDR-05); without the option it is not asked."""
    chart = course(WITHDRAWAL_COURSE, horizon_days=1100)
    chart.observe("labs", {"alt_xuln": 0.3, "ast_xuln": 0.3, "igg_xuln": 0.5}, day=1100)
    assert breach_ids(chart, "attempt_withdrawal") == set()
    chart.options = GuidelineOptions(withdrawal_biopsy=True)
    assert breach_ids(chart, "attempt_withdrawal") == {"AIH-WDR-05"}
    chart.observe("histological_remission", day=1100)
    assert breach_ids(chart, "attempt_withdrawal") == set()
    chart.patient.cbr_since_day = 1100.5  # a later response: the biopsy is of an earlier one
    assert "AIH-WDR-05" in breach_ids(chart, "attempt_withdrawal")


def test_withdrawal_too_early_is_refused_with_inv10() -> None:
    """Before 24 months of CBR the attempt breaks INV-10."""
    chart = course(WITHDRAWAL_COURSE, horizon_days=600)
    assert "INV-10" in breach_ids(chart, "attempt_withdrawal")


def test_relapse_after_withdrawal_forbids_a_second_attempt() -> None:
    """After relapse off treatment, withdrawal breaks INV-11 for good."""
    chart = course(
        [
            *WITHDRAWAL_COURSE,
            (1400, "labs", {"alt_xuln": 4.5}),
            (1580, "labs", {"alt_xuln": 0.3, "ast_xuln": 0.3, "igg_xuln": 0.5}),
        ],
        horizon_days=2750,
    )
    assert chart.patient.relapsed_after_withdrawal
    assert chart.in_state("maintenance")
    assert chart.patient.withdrawal_attempts == 1
    assert "INV-11" in breach_ids(chart, "attempt_withdrawal")


def test_withdrawal_refused_in_pregnancy_and_cirrhosis() -> None:
    """Pregnancy (INV-12, soft) and cirrhosis (AIH-WDR-01) stand against withdrawal."""
    chart = course([*WITHDRAWAL_COURSE, (1100, "pregnant", True)], horizon_days=1190)
    assert "INV-12" in breach_ids(chart, "attempt_withdrawal")
    assert chart.in_state("maintenance")
    chart = course(
        [*WITHDRAWAL_COURSE, (900, "cirrhosis_diagnosed", "compensated")], horizon_days=1190
    )
    reasons = [str(b) for b in chart.explain("attempt_withdrawal")]
    assert reasons == ["AIH-WDR-01: cirrhosis: withdrawal evidence is non-cirrhotic"]
    assert chart.in_state("maintenance")
    assert chart.patient.withdrawal_start_day is None


@pytest.mark.parametrize(("above", "allowed"), [(0.0, True), (0.01, False)])
def test_withdrawal_igg_limit_is_inclusive(above: float, allowed: bool) -> None:
    """IgG at the withdrawal limit itself allows the attempt; just above it does not."""
    chart = course(WITHDRAWAL_COURSE, horizon_days=1100)
    igg = Thresholds().withdrawal_max_igg_xuln + above
    chart.observe("labs", {"alt_xuln": 0.3, "ast_xuln": 0.3, "igg_xuln": igg}, day=1100)
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


# --- issue 12: loss of response, the acute episode, blood counts -------------------------

LOSS_COURSE = [
    (28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5}),
    (180, "labs", NORMAL_LABS),
    (400, "labs", {"alt_xuln": 1.8, "ast_xuln": 1.4, "igg_xuln": 1.1}),
]


def test_loss_of_response_on_maintenance_is_optimised_then_escalated_if_it_persists() -> None:
    """AIH-MNT-05: adherence and azathioprine to 2 mg/kg at once; still lost at the
    3-monthly recheck, it is a failed response and second line follows."""
    chart = course(LOSS_COURSE, horizon_days=401)
    assert chart.patient.response == "loss_of_response"
    assert chart.in_state("maintenance")
    assert chart.patient.optimised_day == 400.0
    assert chart.patient.dose("azathioprine") == 125.0
    assert "AIH-RSP-05" in breach_ids(chart, "switch_to_tacrolimus")
    # Maintenance visits fall on days 455 and 546: 546 is the first >= 91 days later.
    chart = course(LOSS_COURSE, horizon_days=547)
    assert chart.in_state("second_line")
    assert [s.day for s in chart.trace if s.name.startswith("switch_to_")] == [546.0]


def test_loss_of_response_that_resolves_ends_the_episode() -> None:
    """Normal labs again after optimisation: complete response, nothing left to confirm."""
    chart = course([*LOSS_COURSE, (450, "labs", NORMAL_LABS)], horizon_days=600)
    assert chart.in_state("maintenance")
    assert chart.patient.response == "complete_biochemical_response"
    assert (chart.patient.optimised_day, chart.patient.failure_confirmed) == (None, False)


def _recovered_acute_severe(meld_day: float) -> AIHPathway:
    chart = course(
        [
            (7, "labs", {"bilirubin_mg_dl": 2.0, "inr": 1.3, "alt_xuln": 9.0, "ast_xuln": 7.0}),
            (28, "labs", {"alt_xuln": 3.0, "ast_xuln": 2.5, "igg_xuln": 1.5}),
            (180, "labs", NORMAL_LABS),
            (meld_day, "labs", {"meld": 16.0}),
        ],
        horizon_days=meld_day,
        labs={
            "alt_xuln": 25.0,
            "ast_xuln": 20.0,
            "igg_xuln": 2.1,
            "bilirubin_mg_dl": 2.8,
            "inr": 1.5,
            "meld": 14.0,
        },
        presentation="acute_severe",
    )
    assert chart.patient.acute_improving is True
    return chart


def test_meld_referral_suppressed_only_during_the_acute_episode() -> None:
    """An improving acute severe episode explains a high MELD during its first line; once in
    maintenance, MELD >= 15 is referred again (AIH-LT-01)."""
    during = _recovered_acute_severe(100)
    assert during.in_state("first_line")
    assert not during.patient.transplant_referral_day
    later = _recovered_acute_severe(900)
    assert later.patient.transplant_referral_day == 900.0


def test_azathioprine_start_schedules_two_weekly_blood_counts() -> None:
    """INV-15: after the azathioprine start on day 14, a blood count every 2 weeks for
    8 weeks, whatever the care state's own visits."""
    chart = course([(28, "labs", {"alt_xuln": 2.0, "ast_xuln": 1.5})], horizon_days=80)
    counts = [s.day for s in chart.trace if s.detail == "blood_count_early"]
    assert counts == [28.0, 42.0, 56.0, 70.0]


def test_recompensation_returns_the_liver_stage_to_compensated() -> None:
    """AIH-LIV-03 (S-WANG16): resolved decompensation clears the transplant indication."""
    from pathway import AIHPathway, PatientRecord

    chart = AIHPathway(
        PatientRecord("r", age=61, sex="F", weight_kg=64, tpmt="normal", cirrhosis="compensated")
    )
    chart.observe("decompensation", None, day=10)
    assert "decompensated_cirrhosis" in chart.active
    assert chart.patient.decompensated
    step = chart.observe("recompensation", None, day=40)
    assert "AIH-LIV-03" in step.rule_ids
    assert "compensated_cirrhosis" in chart.active
    assert "decompensated_cirrhosis" not in chart.active
    assert (chart.patient.cirrhosis, chart.patient.decompensated) == ("compensated", False)
