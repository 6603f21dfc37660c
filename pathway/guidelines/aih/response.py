"""IAIHG 2022 response classification: pure functions of lab values (G-IAIHG22 [V]).

Classes (vocabulary): ``not_assessed``, ``non_response`` (transaminases fell < 50% by
week 4), ``insufficient_response`` (no complete biochemical response by month 6),
``complete_biochemical_response`` (ALT, AST and IgG <= ULN), ``loss_of_response`` (ALT or
IgG above ULN after a complete response) and ``relapse`` (ALT > 3 x ULN after a response,
S-VGERVEN13 [V]). Relapse is not an IAIHG class; the two-event split is a [MODEL] choice of
knowledge base 1.1. Lab values are multiples of ULN.
"""

from __future__ import annotations

from .patient import LabPanel
from .thresholds import Thresholds

__all__ = [
    "classify_followup",
    "classify_month6",
    "classify_week4",
    "is_cbr",
    "is_non_response",
    "transaminase_fall",
]


def transaminase_fall(baseline: float | None, latest: float | None) -> float | None:
    """Fractional fall from ``baseline`` to ``latest`` (0.6 = fell by 60%), or ``None``.

    >>> transaminase_fall(10.0, 4.0)
    0.6
    """
    if baseline is None or latest is None or baseline <= 0:
        return None
    return (baseline - latest) / baseline


def is_non_response(baseline: LabPanel, latest: LabPanel, th: Thresholds) -> bool:
    """Non-response at week 4: transaminases fell by less than 50%.

    [MODEL] The consensus speaks of "transaminases" without saying which: ALT is judged,
    and AST only where ALT is not measured (requiring both to halve reads visit-to-visit
    noise in AST as non-response, which the consensus does not intend). A transaminase back
    at or below ULN is never non-response, even when a mild start made the fall small.

    >>> th = Thresholds()
    >>> base, week4 = LabPanel(0, alt_xuln=10, ast_xuln=8), LabPanel(28, alt_xuln=6, ast_xuln=3)
    >>> is_non_response(base, week4, th)
    True
    >>> is_non_response(LabPanel(0, ast_xuln=8), LabPanel(28, ast_xuln=3), th)
    False
    >>> is_non_response(LabPanel(0, alt_xuln=10), LabPanel(28, alt_xuln=4), th)
    False
    """
    for analyte in ("alt_xuln", "ast_xuln"):
        now = getattr(latest, analyte)
        fall = transaminase_fall(getattr(baseline, analyte), now)
        if fall is not None:
            # Normal transaminases are a response, however small the fall from a mild start.
            return fall < th.non_response_fall and now > th.uln
    return False


def is_cbr(panel: LabPanel, th: Thresholds) -> bool:
    """Complete biochemical response: ALT, AST and IgG all <= ULN (those measured; ALT needed).

    >>> is_cbr(LabPanel(182, alt_xuln=0.8, ast_xuln=0.9, igg_xuln=1.0), Thresholds())
    True
    >>> is_cbr(LabPanel(182, alt_xuln=0.8, igg_xuln=1.2), Thresholds())
    False
    """
    if panel.alt_xuln is None:
        return False
    return all(
        value is None or value <= th.uln
        for value in (panel.alt_xuln, panel.ast_xuln, panel.igg_xuln)
    )


def classify_week4(baseline: LabPanel, latest: LabPanel, th: Thresholds) -> str:
    """Class at the week-4 check: ``non_response`` or still ``not_assessed``."""
    return "non_response" if is_non_response(baseline, latest, th) else "not_assessed"


def classify_month6(latest: LabPanel, th: Thresholds) -> str:
    """Class at the 6-month check: complete biochemical or insufficient response."""
    return "complete_biochemical_response" if is_cbr(latest, th) else "insufficient_response"


def classify_followup(previous: str, latest: LabPanel, th: Thresholds) -> str:
    """Class of a follow-up panel after a response has been reached.

    ``relapse`` when ALT > 3 x ULN, ``loss_of_response`` when ALT or IgG > ULN, back to
    ``complete_biochemical_response`` when all are normal; otherwise unchanged.

    >>> th = Thresholds()
    >>> classify_followup("complete_biochemical_response", LabPanel(400, alt_xuln=4.0), th)
    'relapse'
    >>> classify_followup("complete_biochemical_response", LabPanel(400, alt_xuln=1.4), th)
    'loss_of_response'
    """
    alt = latest.alt_xuln
    if alt is not None and alt > th.relapse_alt_xuln:
        return "relapse"
    if (alt is not None and alt > th.uln) or (
        latest.igg_xuln is not None and latest.igg_xuln > th.uln
    ):
        return "loss_of_response" if previous != "relapse" else "relapse"
    if is_cbr(latest, th):
        return "complete_biochemical_response"
    return previous
