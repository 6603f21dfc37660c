"""The guideline's time points, declared as data: "after N days in state X, event Y".

The chart holds no clock. A driver (the simulator, a replay, an app) asks the pathway for
its pending timers (:meth:`pathway.AIHPathway.pending_timers`) and sends each timer's event
when its day comes. A timer is armed when its state is entered and disarmed when the state
is left, so leaving a state cancels its timers. Units: days.

Some timers borrow an interval cited for another purpose; the borrowing is a [MODEL]
choice, since the knowledge base gives no visit interval for these states: relapse visits
(2 weeks, then monthly), second-line visits (monthly, then 3-monthly), third-line,
post-transplant and listed-patient visits (3-monthly; monthly labs while listed).
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from ...timers import Timer, Values, timer_offset, timer_start
from ...timers import next_lab_day as _next_lab_day

__all__ = [
    "LAB_TIMERS",
    "TIMERS",
    "ThresholdValues",
    "Timer",
    "Values",
    "next_lab_day",
    "timer_offset",
    "timer_start",
]


TIMERS: tuple[Timer, ...] = (
    Timer(
        "thiopurine_due",
        "thiopurine_due",
        "induction",
        ("thiopurine_delay_days",),
        None,
        False,
        "AIH-IND-03",
    ),
    Timer(
        "week4_check",
        "week4_check",
        "induction",
        ("non_response_check_days",),
        None,
        True,
        "AIH-RSP-01",
    ),
    Timer(
        "month6_assessment",
        "month6_assessment",
        "first_line",
        ("cbr_assessment_days",),
        None,
        True,
        "AIH-RSP-02",
    ),
    Timer(
        "month12_assessment",
        "month12_assessment",
        "first_line",
        ("cbr_final_assessment_days",),
        None,
        True,
        "AIH-RSP-05",
    ),
    Timer(
        "response_visit",
        "monitoring_due",
        "response_assessment",
        ("response_visit_days",),
        "response_visit_days",
        True,
        "AIH-MON-02",
    ),
    # INV-15: blood counts every 2 weeks for 8 weeks after an antimetabolite is started or
    # its dose raised, wherever the patient is; the care states' visits cover the rest.
    Timer(
        "blood_count_early",
        "monitoring_due",
        "care_line",
        ("cbc_early_interval_days",),
        "cbc_early_interval_days",
        True,
        "INV-15",
        anchor="antimetabolite_change_day",
        until_threshold="cbc_early_phase_days",
    ),
    Timer(
        "steroid_review_induction",
        "steroid_review",
        "steroid_induction",
        ("taper_interval_days",),
        "taper_interval_days",
        True,
        "AIH-TAP-01",
    ),
    Timer(
        "steroid_review_taper",
        "steroid_review",
        "taper",
        ("taper_interval_days",),
        "taper_interval_days",
        True,
        "AIH-TAP-01",
    ),
    Timer(
        "maintenance_visit",
        "monitoring_due",
        "maintenance",
        ("maintenance_visit_days",),
        "maintenance_visit_days",
        True,
        "AIH-MON-01",
    ),
    Timer(
        "observation_visit",
        "monitoring_due",
        "observation",
        ("observation_visit_days",),
        "observation_visit_days",
        True,
        "AIH-TRI-04",
    ),
    Timer(
        "withdrawal_visit",
        "monitoring_due",
        "withdrawal",
        ("withdrawal_visit_days",),
        "withdrawal_visit_days",
        True,
        "AIH-WDR-02",
    ),
    Timer(
        "withdrawal_complete",
        "withdrawal_complete",
        "withdrawal",
        ("withdrawal_taper_days",),
        None,
        True,
        "AIH-WDR-01",
    ),
    Timer(
        "off_treatment_visit",
        "monitoring_due",
        "off_treatment",
        ("withdrawal_visit_days", "withdrawal_visit_days", "withdrawal_visit_days"),
        "maintenance_visit_days",
        True,
        "AIH-WDR-02",
    ),
    Timer(
        "relapse_visit",
        "monitoring_due",
        "relapse",
        ("taper_interval_days",),
        "withdrawal_visit_days",
        True,
        "AIH-REL-01",
    ),
    Timer(
        "relapse_assessment",
        "relapse_assessment",
        "reinduction",
        ("cbr_assessment_days",),
        None,
        True,
        "AIH-REL-01",
    ),
    Timer(
        "second_line_visit",
        "monitoring_due",
        "second_line",
        ("withdrawal_visit_days",),
        "maintenance_visit_days",
        True,
        "AIH-2L-03",
    ),
    Timer(
        "second_line_assessment",
        "second_line_assessment",
        "second_line",
        ("second_line_assessment_days",),
        None,
        True,
        "AIH-2L-03",
    ),
    Timer(
        "third_line_visit",
        "monitoring_due",
        "third_line",
        ("maintenance_visit_days",),
        "maintenance_visit_days",
        True,
        "AIH-3L-01",
    ),
    Timer(
        "acute_review",
        "acute_review",
        "acute_severe",
        ("acute_review_days",),
        None,
        True,
        "AIH-ASA-01",
    ),
    Timer(
        "third_line_assessment",
        "third_line_assessment",
        "third_line",
        ("second_line_assessment_days",),
        "second_line_assessment_days",
        True,
        "AIH-3L-02",
    ),
    Timer(
        "transplant_review",
        "transplant_review",
        "transplant",
        ("maintenance_visit_days",),
        "maintenance_visit_days",
        True,
        "AIH-LT-05",
    ),
    Timer(
        "transplant_visit",
        "monitoring_due",
        "transplant",
        ("withdrawal_visit_days",),
        "withdrawal_visit_days",
        True,
        "AIH-LT-04",
    ),
    Timer(
        "post_transplant_visit",
        "monitoring_due",
        "post_transplant",
        ("maintenance_visit_days",),
        "maintenance_visit_days",
        True,
        "AIH-PLT-01",
    ),
    Timer(
        "postpartum_end",
        "postpartum_end",
        "postpartum",
        ("postpartum_days",),
        None,
        False,
        "AIH-PRG-03",
    ),
    Timer(
        "hcc_surveillance_compensated",
        "hcc_surveillance",
        "compensated_cirrhosis",
        ("hcc_surveillance_days",),
        "hcc_surveillance_days",
        False,
        "AIH-LIV-02",
    ),
    Timer(
        "hcc_surveillance_decompensated",
        "hcc_surveillance",
        "decompensated_cirrhosis",
        ("hcc_surveillance_days",),
        "hcc_surveillance_days",
        False,
        "AIH-LIV-02",
    ),
)


#: The timers that draw labs (INV-15's blood counts are due at their visits).
LAB_TIMERS: tuple[Timer, ...] = tuple(t for t in TIMERS if t.labs)


class ThresholdValues:
    """Thresholds read by field name, as the timers ask for them (days)."""

    __slots__ = ("th",)

    def __init__(self, th: Any) -> None:
        self.th = th

    def __getitem__(self, name: str) -> float:
        value: float = getattr(self.th, name)
        return value


def next_lab_day(active: Set[str], record: Any, values: Values) -> float | None:
    """Due day of the next armed AIH timer that draws labs (``record``: a patient record)."""
    return _next_lab_day(LAB_TIMERS, active, record, values)
