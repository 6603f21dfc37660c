"""Safety invariants (knowledge base section 3), checked after every step.

Each check is a pure function of the record, thresholds, the active state ids and the step
just taken; it returns a message when the invariant is broken, else ``None``. The
:class:`InvariantMonitor` runs them after each step: a hard invariant broken by the
guideline itself (a course with no deviation so far) raises
:class:`~pathway.errors.InvariantViolation`; once a course has deviated, and for soft
invariants, breaches are recorded as :class:`Violation` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .guideline import RULES
from .patient import PatientRecord
from .thresholds import Thresholds
from .timers import next_lab_day

if TYPE_CHECKING:
    from ...runtime import Step

__all__ = ["INVARIANTS", "InvariantMonitor", "Violation"]

_EPS = 1e-9

Check = Callable[[PatientRecord, Thresholds, Set[str], "Step"], str | None]


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken invariant: rule id, day, step index, message, and whether it is hard."""

    rule_id: str
    day: float
    step: int
    message: str
    hard: bool


def _inv01(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if p.on("budesonide") and (p.cirrhosis != "none" or p.decompensated):
        return f"budesonide with cirrhosis ({p.cirrhosis})"
    return None


def _inv02(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if p.on("budesonide") and (
        p.presentation != "chronic" or a & {"acute_severe", "acute_liver_failure"}
    ):
        return f"budesonide with the {p.presentation} presentation"
    return None


def _inv03(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    dose = p.dose("budesonide")
    if dose is not None and dose > th.budesonide_mg_day + _EPS:
        return f"budesonide {dose:g} mg/day > {th.budesonide_mg_day:g}"
    return None


def _inv04(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    dose = p.dose("prednisolone")
    if dose is None:
        return None
    cap = min(th.prednisolone_max_mg_day, th.prednisolone_max_mg_per_kg * p.weight_kg)
    if dose > cap + _EPS:
        return (
            f"predniso(lo)ne {dose:g} mg/day > {cap:g} "
            f"({th.prednisolone_max_mg_per_kg:g} mg/kg, {th.prednisolone_max_mg_day:g} mg)"
        )
    return None


def _inv05(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if p.on("azathioprine") and p.tpmt in ("unknown", "deficient"):
        return f"azathioprine with TPMT {p.tpmt}"
    return None


def _inv06(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    dose = p.dose("azathioprine")
    cap = th.azathioprine_max_mg_per_kg * p.weight_kg
    if dose is not None and dose > cap + _EPS:
        return f"azathioprine {dose:g} mg/day > {cap:g} ({th.azathioprine_max_mg_per_kg:g} mg/kg)"
    return None


def _aza_started(s: Step) -> bool:
    return s.kind == "action" and s.name == "add_azathioprine" and s.carried_out


def _inv07(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if not _aza_started(s) or not p.on("azathioprine"):
        return None
    since = p.days_since(p.steroid_start_day)
    bili = p.latest("bilirubin_mg_dl")
    # The 2-week delay belongs to first-line induction; re-induction starts both together.
    if "induction" in a and since is not None and since < th.thiopurine_delay_days - _EPS:
        return f"azathioprine {since:g} days after the steroid start"
    if bili is not None and bili >= th.thiopurine_max_bilirubin_mg_dl:
        return f"azathioprine started with bilirubin {bili:g} mg/dL"
    return None


def _inv08(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if not _aza_started(s) or not p.on("azathioprine"):
        return None
    if p.decompensated or p.severe_cytopenia or a & {"acute_severe", "acute_liver_failure"}:
        return "azathioprine started in decompensation, acute severe AIH, ALF or cytopenia"
    return None


def _inv09(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if p.on("mycophenolate") and p.pregnancy in ("planned", "pregnant"):
        return f"mycophenolate while pregnancy is {p.pregnancy}"
    return None


def _inv10(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    cbr = p.withdrawal_cbr_days
    withdrawn = bool(a & {"withdrawal", "off_treatment"})
    if withdrawn and cbr is not None and cbr < th.withdrawal_min_cbr_days - _EPS:
        return f"withdrawal after {cbr:g} days of CBR"
    return None


def _inv11(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if "withdrawal" in a and p.relapsed_after_withdrawal:
        return "second withdrawal after a relapse that followed withdrawal"
    return None


def _inv12(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if "withdrawal" in a and p.pregnancy != "none" and s.name == "attempt_withdrawal":
        return f"withdrawal while pregnancy is {p.pregnancy}"
    return None


def _inv13(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if "acute_severe" not in a:
        return None
    entered = p.entered.get("acute_severe", p.day)
    reviewed = p.acute_review_day is not None and p.acute_review_day >= entered
    if not reviewed and p.day - entered > th.acute_review_days + _EPS:
        return f"no transplant-evaluation decision {p.day - entered:g} days into acute severe AIH"
    return None


def _inv14(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if "acute_liver_failure" not in a:
        return None
    entered = p.entered.get("acute_liver_failure", p.day)
    if p.steroid_start_day is not None and p.steroid_start_day >= entered:
        return "steroid trial started in ALF before transplant referral"
    if p.day - entered > th.alf_referral_max_days + _EPS:
        return f"ALF for {p.day - entered:g} days without transplant referral"
    return None


def _inv17(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if s.name in ("cirrhosis_diagnosed", "decompensation") and p.on("budesonide"):
        return "budesonide continued after cirrhosis was found"
    return None


class _Values:
    """Thresholds read by field name, as the timers ask for them."""

    __slots__ = ("th",)

    def __init__(self, th: Thresholds) -> None:
        self.th = th

    def __getitem__(self, name: str) -> float:
        value: float = getattr(self.th, name)
        return value


def _inv15(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    drug = p.antimetabolite
    if drug is None or "death" in a:
        return None  # the schedule ends with the patient's death
    since = p.days_since(p.antimetabolite_change_day)
    early = since is not None and since < th.cbc_early_phase_days - _EPS
    interval = th.cbc_early_interval_days if early else th.cbc_interval_days
    due = next_lab_day(a, p, _Values(th))
    if due is None or due > p.day + interval + _EPS:
        when = "none scheduled" if due is None else f"next on day {due:g}"
        return f"{drug}: no blood count within {interval:g} days ({when})"
    return None


_CLASSIFYING = frozenset(
    {
        "week4_check",
        "month6_assessment",
        "month12_assessment",
        "second_line_assessment",
        "relapse_assessment",
    }
)


def _inv18(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if s.name not in _CLASSIFYING or not p.response_history:
        return None
    day, cls = p.response_history[-1]
    if day != p.day:
        return None  # this time point made no new classification
    start = p.treatment_start_day
    if s.name == "second_line_assessment":
        start = p.entered.get("second_line", start)
    if start is None:
        return None
    elapsed = p.day - start
    if cls == "non_response" and elapsed < th.non_response_check_days - _EPS:
        return f"non-response judged {elapsed:g} days after the treatment start"
    if cls == "insufficient_response" and elapsed < th.cbr_assessment_days - _EPS:
        return f"insufficient response judged {elapsed:g} days after the treatment start"
    return None


def _inv19(p: PatientRecord, th: Thresholds, a: Set[str], s: Step) -> str | None:
    if "post_transplant" not in a or s.name != "labs":
        return None
    alt = p.latest("alt_xuln")
    if alt is not None and alt > th.relapse_alt_xuln and "recurrent_aih" not in a:
        return f"graft hepatitis (ALT {alt:g} x ULN) not classified as recurrent AIH"
    return None


INVARIANTS: dict[str, Check] = {
    "INV-01": _inv01,
    "INV-02": _inv02,
    "INV-03": _inv03,
    "INV-04": _inv04,
    "INV-05": _inv05,
    "INV-06": _inv06,
    "INV-07": _inv07,
    "INV-08": _inv08,
    "INV-09": _inv09,
    "INV-10": _inv10,
    "INV-11": _inv11,
    "INV-12": _inv12,
    "INV-13": _inv13,
    "INV-14": _inv14,
    "INV-15": _inv15,
    "INV-17": _inv17,
    "INV-18": _inv18,
    "INV-19": _inv19,
}
"""The checked invariants by rule id (INV-16 is a schedule: see the timers)."""


class InvariantMonitor:
    """Checks every invariant after each step and keeps the violations found.

    A hard invariant newly broken in a course without any deviation raises
    :class:`~pathway.errors.InvariantViolation` when ``strict`` (the default).
    """

    def __init__(self, *, strict: bool = True) -> None:
        self.strict = strict
        self.violations: list[Violation] = []
        self._open: set[str] = set()

    def check(
        self, p: PatientRecord, th: Thresholds, active: Set[str], step: Step, deviated: bool
    ) -> list[Violation]:
        """Run all checks; return the violations that are new at this step."""
        found: list[Violation] = []
        now_open: set[str] = set()
        for rule_id, check in INVARIANTS.items():
            message = check(p, th, active, step)
            if message is None:
                continue
            now_open.add(rule_id)
            if rule_id in self._open:
                continue  # still broken since an earlier step: reported once
            hard = RULES[rule_id].strength == "hard"
            found.append(Violation(rule_id, p.day, step.index, message, hard))
        self._open = now_open
        self.violations.extend(found)
        return found
