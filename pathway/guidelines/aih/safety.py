"""The AIH safety invariants (knowledge base section 3), declared once each.

Each :class:`~pathway.declarations.Invariant` is ONE predicate: the actions that would make
its subject true refuse it (``Refuse`` in :mod:`.rules`), and
:class:`~.invariants.InvariantMonitor` checks it after each step. Where a refusal must
judge something else than the monitor (INV-07, INV-08, INV-10: the state when an action is
taken versus what was recorded when it was), the action keeps its own check under the same
rule id. INV-15 reads the timers' schedule (``next_lab_day()``, an expression function).
INV-18 needs Python (the response history and the step that classified it); it is listed in
:data:`FREE_FORM`. INV-16 is a schedule (see the timers).
"""

from __future__ import annotations

from collections.abc import Callable, Set
from typing import Any

from ...declarations import Invariant
from .guideline import RULES
from .patient import PatientRecord
from .thresholds import Thresholds

__all__ = ["FREE_FORM", "INVARIANT_DECLARATIONS"]

#: [MODEL] Tolerance on day and dose comparisons: floating-point sums of day offsets and
#: mg/kg products must not read as breaches at the exact limit.
_EPS = 1e-9


_CLASSIFYING = frozenset(
    {
        "week4_check",
        "month6_assessment",
        "month12_assessment",
        "second_line_assessment",
        "relapse_assessment",
    }
)


def _inv18(p: PatientRecord, th: Thresholds, a: Set[str], step_name: str) -> str | None:
    """INV-18: a response class judged before its time point (reads the step that judged)."""
    if not p.response_history:
        return None
    day, cls = p.response_history[-1]
    if day != p.day:
        return None  # this time point made no new classification
    start = p.treatment_start_day
    if step_name == "second_line_assessment":
        start = p.entered.get("second_line", start)
    if start is None:
        return None
    elapsed = p.day - start
    if cls == "non_response" and elapsed < th.non_response_check_days - _EPS:
        return f"non-response judged {elapsed:g} days after the treatment start"
    if cls == "insufficient_response" and elapsed < th.cbr_assessment_days - _EPS:
        return f"insufficient response judged {elapsed:g} days after the treatment start"
    return None


#: What stays Python in the invariants: INV-18's check, which reads the step that classified
#: the response. (INV-15 reads the timers' schedule through ``next_lab_day()``.)
FREE_FORM: dict[str, Callable[..., str | None]] = {
    "INV-18": _inv18,
}


def _inv(rule_id: str, **kw: Any) -> Invariant:
    return Invariant(rule_id, hard=RULES[rule_id].strength == "hard", **kw)


_ACUTE = '{"acute_severe", "acute_liver_failure"}'

#: Every checked invariant, by rule id order.
INVARIANT_DECLARATIONS: tuple[Invariant, ...] = (
    _inv(
        "INV-01",
        name="budesonide_in_cirrhosis",
        subject='on("budesonide")',
        condition='cirrhosis != "none" or decompensated',
        message="budesonide with cirrhosis ({cirrhosis})",
    ),
    _inv(
        "INV-02",
        name="budesonide_in_acute_disease",
        subject='on("budesonide")',
        condition=f'presentation != "chronic" or active & {_ACUTE}',
        message="budesonide with the {presentation} presentation",
    ),
    _inv(
        "INV-03",
        condition=f'dose("budesonide") > th.budesonide_mg_day + {_EPS}',
        message='budesonide {dose("budesonide"):g} mg/day > {th.budesonide_mg_day:g}',
    ),
    _inv(
        "INV-04",
        condition=f'dose("prednisolone") > prednisolone_cap + {_EPS}',
        message='predniso(lo)ne {dose("prednisolone"):g} mg/day > {prednisolone_cap:g}'
        " ({th.prednisolone_max_mg_per_kg:g} mg/kg, {th.prednisolone_max_mg_day:g} mg)",
    ),
    _inv(
        "INV-05",
        name="tpmt_not_known_normal",
        subject='on("azathioprine")',
        condition='tpmt in ("unknown", "deficient")',
        message="azathioprine with TPMT {tpmt}",
    ),
    _inv(
        "INV-06",
        condition=f'dose("azathioprine") > azathioprine_cap + {_EPS}',
        message='azathioprine {dose("azathioprine"):g} mg/day > {azathioprine_cap:g}'
        " ({th.azathioprine_max_mg_per_kg:g} mg/kg)",
    ),
    # The 2-week delay belongs to first-line induction; re-induction starts both together.
    _inv(
        "INV-07",
        subject='on("azathioprine")',
        condition='"induction" in active'
        f" and days_since(steroid_start_day) < th.thiopurine_delay_days - {_EPS}"
        ' or latest("bilirubin_mg_dl") >= th.thiopurine_max_bilirubin_mg_dl',
        cases=(
            (
                f'"induction" in active and days_since(steroid_start_day)'
                f" < th.thiopurine_delay_days - {_EPS}",
                "azathioprine {days_since(steroid_start_day):g} days after the steroid start",
            ),
        ),
        message='azathioprine started with bilirubin {latest("bilirubin_mg_dl"):g} mg/dL',
        after=frozenset({"add_azathioprine"}),
        carried_out=True,
    ),
    _inv(
        "INV-08",
        subject='on("azathioprine")',
        condition=f"decompensated or severe_cytopenia or active & {_ACUTE}",
        message="azathioprine started in decompensation, acute severe AIH, ALF or cytopenia",
        after=frozenset({"add_azathioprine"}),
        carried_out=True,
    ),
    _inv(
        "INV-09",
        subject='on("mycophenolate")',
        condition='pregnancy in ("planned", "pregnant")',
        message="mycophenolate while pregnancy is {pregnancy}",
    ),
    _inv(
        "INV-10",
        subject='active & {"withdrawal", "off_treatment"}',
        condition=f"withdrawal_cbr_days < th.withdrawal_min_cbr_days - {_EPS}",
        message="withdrawal after {withdrawal_cbr_days:g} days of CBR",
    ),
    _inv(
        "INV-11",
        subject='"withdrawal" in active',
        condition="relapsed_after_withdrawal",
        message="second withdrawal after a relapse that followed withdrawal",
    ),
    _inv(
        "INV-12",
        subject='"withdrawal" in active',
        condition='pregnancy != "none"',
        message="withdrawal while pregnancy is {pregnancy}",
        after=frozenset({"attempt_withdrawal"}),
    ),
    _inv(
        "INV-13",
        subject='"acute_severe" in active',
        condition='not acute_review_day >= entered_day("acute_severe")'
        f' and day - entered_day("acute_severe") > th.acute_review_days + {_EPS}',
        message='no transplant-evaluation decision {day - entered_day("acute_severe"):g}'
        " days into acute severe AIH",
    ),
    _inv(
        "INV-14",
        subject='"acute_liver_failure" in active',
        condition='steroid_start_day >= entered_day("acute_liver_failure")'
        f' or day - entered_day("acute_liver_failure") > th.alf_referral_max_days + {_EPS}',
        cases=(
            (
                'steroid_start_day >= entered_day("acute_liver_failure")',
                "steroid trial started in ALF before transplant referral",
            ),
        ),
        message='ALF for {day - entered_day("acute_liver_failure"):g} days'
        " without transplant referral",
    ),
    # The schedule ends with the patient's death. The next blood count is the next visit of
    # a timer that draws labs; the interval (cbc_interval) is 2 weeks in the 8 weeks after an
    # antimetabolite start or dose rise, 3 months otherwise.
    _inv(
        "INV-15",
        subject='antimetabolite and "death" not in active',
        # "not due <= limit": missing (none scheduled) or too late, with one look-up.
        condition=f"not next_lab_day() <= day + cbc_interval + {_EPS}",
        cases=(
            (
                "next_lab_day() is None",
                "{antimetabolite}: no blood count within {cbc_interval:g} days (none scheduled)",
            ),
        ),
        message="{antimetabolite}: no blood count within {cbc_interval:g} days"
        " (next on day {next_lab_day():g})",
    ),
    _inv(
        "INV-17",
        subject='on("budesonide")',
        condition="True",
        message="budesonide continued after cirrhosis was found",
        after=frozenset({"cirrhosis_diagnosed", "decompensation"}),
    ),
    _inv("INV-18", condition="False", message="", after=_CLASSIFYING, python=_inv18),
    _inv(
        "INV-19",
        subject='"post_transplant" in active',
        condition='latest("alt_xuln") > th.relapse_alt_xuln and "recurrent_aih" not in active',
        message='graft hepatitis (ALT {latest("alt_xuln"):g} x ULN)'
        " not classified as recurrent AIH",
        after=frozenset({"labs"}),
    ),
)
