"""Dose rules keep their caps for every patient; response classes follow IAIHG 2022."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pathway import GuidelineOptions, LabPanel, PatientRecord, Thresholds
from pathway.guidelines.aih import dosing, response
from pathway.guidelines.aih.invariants import INVARIANTS
from pathway.runtime import Step

TH = Thresholds()

weights = st.floats(30, 300)
tpmts = st.sampled_from(["unknown", "normal", "intermediate", "deficient"])


def patient(weight: float, tpmt: str = "normal") -> PatientRecord:
    return PatientRecord("d", age=40, sex="F", weight_kg=weight, tpmt=tpmt)


@given(weights, st.booleans(), st.sampled_from(["weight_based", "aasld_fixed"]))
def test_prednisolone_never_exceeds_1_mg_per_kg_or_60(
    weight: float, acute: bool, scheme: str
) -> None:
    """INV-04 holds for every weight, scheme and presentation; doses are 5 mg steps."""
    dose = dosing.prednisolone_dose(
        patient(weight), TH, GuidelineOptions(steroid_scheme=scheme), acute=acute
    )  # type: ignore[arg-type]
    assert 5 <= dose <= 60
    assert dose <= weight
    assert dose % 5 == 0


@given(weights, tpmts, st.booleans())
def test_azathioprine_respects_tpmt_and_2_mg_per_kg(weight: float, tpmt: str, maint: bool) -> None:
    """INV-06 and INV-05: <= 2 mg/kg, none if deficient, intermediate <= normal."""
    dose = dosing.azathioprine_dose(patient(weight, tpmt), TH, maintenance=maint)
    assert dose <= 2 * weight + 1e-9  # the invariants' float tolerance
    p = patient(weight, tpmt)
    p.drugs["azathioprine"] = dose
    assert INVARIANTS["INV-06"](p, TH, set(), _STEP) is None
    if tpmt == "deficient":
        assert dose == 0
    if tpmt == "intermediate":
        assert dose <= dosing.azathioprine_dose(patient(weight, "normal"), TH, maintenance=maint)


@given(st.floats(5, 60))
def test_taper_steps_go_down_and_stop_at_target(dose: float) -> None:
    """Each taper step lowers the dose, never below the 10 mg target."""
    nxt = dosing.next_taper_dose("prednisolone", dose, TH)
    assert nxt >= TH.taper_target_mg_day
    assert nxt <= max(dose, TH.taper_target_mg_day)


_STEP = Step(0, 0.0, "finding", "labs", "", (), ())


positive = st.floats(0.05, 50)


@given(positive, positive, positive, positive)
def test_non_response_is_a_fall_below_half(
    alt0: float, alt4: float, ast0: float, ast4: float
) -> None:
    """Non-response iff ALT fell by < 50% and is still above ULN (AST when ALT is missing)."""
    base, wk4 = (
        LabPanel(0, alt_xuln=alt0, ast_xuln=ast0),
        LabPanel(28, alt_xuln=alt4, ast_xuln=ast4),
    )
    expected = (alt0 - alt4) / alt0 < 0.5 and alt4 > 1
    assert response.is_non_response(base, wk4, TH) == expected
    ast_only = response.is_non_response(LabPanel(0, ast_xuln=ast0), LabPanel(28, ast_xuln=ast4), TH)
    assert ast_only == ((ast0 - ast4) / ast0 < 0.5 and ast4 > 1)


@given(st.floats(0, 3), st.floats(0, 3), st.floats(0, 3))
def test_cbr_is_all_three_at_or_below_uln(alt: float, ast: float, igg: float) -> None:
    """CBR iff ALT, AST and IgG are all <= 1 x ULN; the class at month 6 follows."""
    panel = LabPanel(182, alt_xuln=alt, ast_xuln=ast, igg_xuln=igg)
    cbr = alt <= 1 and ast <= 1 and igg <= 1
    assert response.is_cbr(panel, TH) == cbr
    assert response.classify_month6(panel, TH) == (
        "complete_biochemical_response" if cbr else "insufficient_response"
    )


@given(st.floats(0, 10), st.floats(0, 3))
def test_followup_classes_after_a_response(alt: float, igg: float) -> None:
    """After CBR: ALT > 3 is relapse; ALT or IgG > 1 is loss of response."""
    cls = response.classify_followup(
        "complete_biochemical_response", LabPanel(400, alt_xuln=alt, igg_xuln=igg), TH
    )
    if alt > 3:
        assert cls == "relapse"
    elif alt > 1 or igg > 1:
        assert cls == "loss_of_response"
    else:
        assert cls == "complete_biochemical_response"
