"""Safety invariants: each check fires when broken, stays quiet when kept; who is blamed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pathway import AIHPathway, InvariantViolation, LabPanel, PatientRecord, Thresholds
from pathway.guidelines.aih.invariants import INVARIANTS
from pathway.runtime import Step

from .helpers import course, new_chart, record

TH = Thresholds()


def step(name: str = "labs", kind: str = "finding", carried_out: bool = True) -> Step:
    return Step(0, 0.0, kind, name, "", (), (), carried_out=carried_out)  # type: ignore[arg-type]


Case = tuple[str, Callable[[PatientRecord], None], set[str], Step]

#: Maintenance, where 3-monthly visits draw labs (and so blood counts, INV-15).
ON_VISITS = {"maintenance"}

CASES: list[Case] = [
    (
        "INV-01",
        lambda p: (p.drugs.update(budesonide=9.0), setattr(p, "cirrhosis", "compensated")),
        set(),
        step(),
    ),
    ("INV-02", lambda p: p.drugs.update(budesonide=9.0), {"acute_severe"}, step()),
    ("INV-03", lambda p: p.drugs.update(budesonide=12.0), set(), step()),
    ("INV-04", lambda p: p.drugs.update(prednisolone=75.0), set(), step()),
    (
        "INV-05",
        lambda p: (p.drugs.update(azathioprine=50.0), setattr(p, "tpmt", "unknown")),
        ON_VISITS,
        step(),
    ),
    ("INV-06", lambda p: p.drugs.update(azathioprine=200.0), ON_VISITS, step()),
    (
        "INV-07",
        lambda p: (p.drugs.update(azathioprine=50.0), setattr(p, "steroid_start_day", -3.0)),
        {"induction"},
        step("add_azathioprine", "action"),
    ),
    (
        "INV-08",
        lambda p: (p.drugs.update(azathioprine=50.0), setattr(p, "decompensated", True)),
        ON_VISITS,
        step("add_azathioprine", "action"),
    ),
    (
        "INV-09",
        lambda p: (p.drugs.update(mycophenolate=2000.0), setattr(p, "pregnancy", "pregnant")),
        ON_VISITS,
        step(),
    ),
    ("INV-10", lambda p: setattr(p, "withdrawal_cbr_days", 400.0), {"withdrawal"}, step()),
    ("INV-11", lambda p: setattr(p, "relapsed_after_withdrawal", True), {"withdrawal"}, step()),
    (
        "INV-12",
        lambda p: setattr(p, "pregnancy", "pregnant"),
        {"withdrawal"},
        step("attempt_withdrawal", "action"),
    ),
    (
        "INV-13",
        lambda p: (p.entered.update(acute_severe=0.0), setattr(p, "day", 9.0)),
        {"acute_severe"},
        step(),
    ),
    (
        "INV-14",
        lambda p: (p.entered.update(acute_liver_failure=0.0), setattr(p, "day", 3.0)),
        {"acute_liver_failure"},
        step(),
    ),
    # On azathioprine where no visit draws labs: no blood count is scheduled.
    ("INV-15", lambda p: p.drugs.update(azathioprine=50.0), {"acute_liver_failure"}, step()),
    (
        "INV-17",
        lambda p: (p.drugs.update(budesonide=9.0), setattr(p, "cirrhosis", "compensated")),
        set(),
        step("cirrhosis_diagnosed"),
    ),
    (
        "INV-18",
        lambda p: (
            setattr(p, "treatment_start_day", 0.0),
            setattr(p, "day", 10.0),
            p.response_history.append((10.0, "non_response")),
        ),
        set(),
        step("week4_check", "timer"),
    ),
    (
        "INV-19",
        lambda p: p.add_labs(LabPanel(0.0, alt_xuln=5.0)),
        {"post_transplant", "graft_stable"},
        step("labs"),
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "mutate", "active", "the_step"), CASES, ids=[c[0] for c in CASES]
)
def test_each_invariant_can_fail(
    rule_id: str, mutate: Callable[[PatientRecord], None], active: set[str], the_step: Step
) -> None:
    """The check reports a breach on a record that breaks it, and only that check's rule
    (budesonide kept when cirrhosis is found also breaks INV-01)."""
    p = record()
    assert INVARIANTS[rule_id](p, TH, active, the_step) is None  # clean record: quiet
    mutate(p)
    message = INVARIANTS[rule_id](p, TH, active, the_step)
    assert message, f"{rule_id} did not notice"
    fired = {r for r, check in INVARIANTS.items() if check(p, TH, active, the_step)}
    assert fired == ({"INV-01", "INV-17"} if rule_id == "INV-17" else {rule_id})


#: Cases at the edge of an invariant: (id, rule, change to a clean record, active, step,
#: whether the check must fire). Each limit is checked on the side the guideline allows.
EDGES: list[tuple[str, str, Callable[[PatientRecord], None], set[str], Step, bool]] = [
    (
        "cbc-early-phase-needs-2-weekly-counts",  # 3-monthly visits are too sparse early on
        "INV-15",
        lambda p: (p.drugs.update(azathioprine=100.0), setattr(p, "antimetabolite_change_day", 0)),
        {"maintenance"},
        step(),
        True,
    ),
    (
        "cbc-early-phase-kept-by-its-timer",
        "INV-15",
        lambda p: (p.drugs.update(azathioprine=100.0), setattr(p, "antimetabolite_change_day", 0)),
        {"maintenance", "care_line"},
        step(),
        False,
    ),
    (
        "cbc-no-schedule-after-death",
        "INV-15",
        lambda p: p.drugs.update(azathioprine=100.0),
        {"death"},
        step("death"),
        False,
    ),
    (
        "cbc-after-the-early-phase-3-monthly-visits-do",
        "INV-15",
        lambda p: (
            p.drugs.update(azathioprine=100.0),
            setattr(p, "antimetabolite_change_day", 0),
            setattr(p, "day", 60.0),
            p.entered.update(maintenance=60.0),
        ),
        {"maintenance"},
        step(),
        False,
    ),
    (
        "pred-1mg/kg-below-60kg",  # 50 kg: the cap is 50 mg, not 60
        "INV-04",
        lambda p: (setattr(p, "weight_kg", 50), p.drugs.update(prednisolone=55.0)),
        set(),
        step(),
        True,
    ),
    (
        "pred-at-1mg/kg",
        "INV-04",
        lambda p: (setattr(p, "weight_kg", 50), p.drugs.update(prednisolone=50.0)),
        set(),
        step(),
        False,
    ),
    (
        "aza-at-bilirubin-limit",  # bilirubin >= 6 mg/dL, the limit itself included
        "INV-07",
        lambda p: (
            p.drugs.update(azathioprine=50.0),
            p.add_labs(LabPanel(0.0, bilirubin_mg_dl=TH.thiopurine_max_bilirubin_mg_dl)),
        ),
        set(),
        step("add_azathioprine", "action"),
        True,
    ),
    (
        "aza-not-carried-out",
        "INV-07",
        lambda p: (
            p.drugs.update(azathioprine=50.0),
            p.add_labs(LabPanel(0.0, bilirubin_mg_dl=8.0)),
        ),
        set(),
        step("add_azathioprine", "action", carried_out=False),
        False,
    ),
    (
        "mmf-pregnancy-planned",
        "INV-09",
        lambda p: (p.drugs.update(mycophenolate=2000.0), setattr(p, "pregnancy", "planned")),
        set(),
        step(),
        True,
    ),
    (
        "off-treatment-too-early",
        "INV-10",
        lambda p: setattr(p, "withdrawal_cbr_days", 400.0),
        {"off_treatment"},
        step(),
        True,
    ),
    (
        "withdrawal-at-24-months",
        "INV-10",
        lambda p: setattr(p, "withdrawal_cbr_days", TH.withdrawal_min_cbr_days),
        {"withdrawal"},
        step(),
        False,
    ),
    (
        "reviewed-on-the-day-of-entry",
        "INV-13",
        lambda p: (
            p.entered.update(acute_severe=0.0),
            setattr(p, "acute_review_day", 0.0),
            setattr(p, "day", 9.0),
        ),
        {"acute_severe"},
        step(),
        False,
    ),
    (
        "insufficient-response-judged-early",
        "INV-18",
        lambda p: (
            setattr(p, "treatment_start_day", 0.0),
            setattr(p, "day", 100.0),
            p.response_history.append((100.0, "insufficient_response")),
        ),
        set(),
        step("month6_assessment", "timer"),
        True,
    ),
    (
        "insufficient-response-at-month-6",
        "INV-18",
        lambda p: (
            setattr(p, "treatment_start_day", 0.0),
            setattr(p, "day", TH.cbr_assessment_days),
            p.response_history.append((TH.cbr_assessment_days, "insufficient_response")),
        ),
        set(),
        step("month6_assessment", "timer"),
        False,
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "mutate", "active", "the_step", "fires"),
    [e[1:] for e in EDGES],
    ids=[e[0] for e in EDGES],
)
def test_invariant_limits(
    rule_id: str,
    mutate: Callable[[PatientRecord], None],
    active: set[str],
    the_step: Step,
    fires: bool,
) -> None:
    """Each limit sits where the knowledge base puts it: the inclusive side, per kg, and
    every state or pregnancy status the rule names."""
    p = record()
    mutate(p)
    assert (INVARIANTS[rule_id](p, TH, active, the_step) is not None) is fires


def test_thiopurine_delay_belongs_to_first_line_induction() -> None:
    """After a re-induction, AZA the next day keeps INV-07 (found in a 100,000-patient run)."""
    p = record()
    p.drugs.update(prednisolone=35.0, azathioprine=50.0)
    p.steroid_start_day, p.day = 923.0, 924.0
    add = step("add_azathioprine", "action")
    assert INVARIANTS["INV-07"](p, TH, {"relapse", "reinduction"}, add) is None
    assert INVARIANTS["INV-07"](p, TH, {"induction"}, add) is not None


def test_every_checked_invariant_has_a_failing_case() -> None:
    """No invariant is a check that cannot fail."""
    assert {c[0] for c in CASES} == set(INVARIANTS)


def test_guideline_breaking_a_hard_invariant_raises_with_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If the guideline's own dose rule overshoots, the step raises with rule, day and state."""
    from pathway.guidelines.aih import dosing

    monkeypatch.setattr(dosing, "prednisolone_dose", lambda *a, **k: 90.0)
    chart = new_chart()
    with pytest.raises(InvariantViolation) as info:
        chart.take("start_prednisolone", day=0)
    err = info.value
    assert err.rule_id == "INV-04"
    assert err.day == 0
    assert "induction" in err.configuration
    assert err.patient["patient_id"] == "t1"


def test_a_deviation_that_breaks_an_invariant_is_recorded() -> None:
    """Budesonide in cirrhosis, taken as a deviation: INV-01 recorded, no exception."""
    chart = new_chart(cirrhosis="compensated")
    s = chart.take("start_budesonide", day=0, deviate=True)
    assert s.deviation
    assert {b.rule_id for b in s.breaches} >= {"INV-01"}
    assert [v.rule_id for v in s.violations] == ["INV-01"]
    assert [v.rule_id for v in chart.violations] == ["INV-01"]
    # Still broken at the next step: reported once, not again.
    later = chart.observe("labs", {"alt_xuln": 4}, day=7)
    assert later.violations == ()


def test_guideline_courses_keep_every_hard_invariant() -> None:
    """The demo courses under the guideline policy record no violation at all."""
    from simulation.cli.demo import DEMO_PATIENTS, run_story

    for story in DEMO_PATIENTS:
        chart: AIHPathway = run_story(story)
        assert chart.violations == [], story.title


def test_alf_referral_delay_is_caught_when_the_clinician_waits() -> None:
    """A trainee who continues instead of referring in ALF is flagged (INV-14)."""
    chart = new_chart(
        {"alt_xuln": 30, "bilirubin_mg_dl": 12, "inr": 2.4}, presentation="acute_liver_failure"
    )
    s = chart.take("continue", day=0, deviate=True)
    assert s.deviation
    assert "AIH-ALF-01" in {b.rule_id for b in s.breaches}
    chart.observe("labs", {"inr": 2.6}, day=2)
    assert "INV-14" in {v.rule_id for v in chart.violations}


def test_acute_review_happens_by_day_7_under_the_engine() -> None:
    """The engine fires the day-7 review, so INV-13 holds without any scripted event."""
    chart = course(
        [],
        horizon_days=10,
        labs={"alt_xuln": 20, "bilirubin_mg_dl": 8, "inr": 1.8},
        presentation="acute_severe",
    )
    assert chart.patient.acute_review_day == 7.0
    assert chart.violations == []


def test_dose_cap_messages_give_the_thresholds_in_force() -> None:
    """With other dose caps (``--set thresholds...``), messages quote those, not the defaults."""
    th = TH.with_overrides(
        prednisolone_max_mg_per_kg=0.8, prednisolone_max_mg_day=40, azathioprine_max_mg_per_kg=1.5
    )
    p = record()
    p.drugs.update(prednisolone=75.0, azathioprine=200.0)
    assert "(0.8 mg/kg, 40 mg)" in str(INVARIANTS["INV-04"](p, th, set(), step()))
    assert "(1.5 mg/kg)" in str(INVARIANTS["INV-06"](p, th, set(), step()))
