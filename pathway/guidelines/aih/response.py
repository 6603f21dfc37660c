"""IAIHG 2022 response classification: pure functions of lab values (G-IAIHG22 [V]).

Classes (vocabulary): ``not_assessed``, ``non_response`` (transaminases fell < 50% by
week 4), ``insufficient_response`` (no complete biochemical response by month 6),
``complete_biochemical_response`` (ALT, AST and IgG <= ULN), ``loss_of_response`` (ALT or
IgG above ULN after a complete response) and ``relapse`` (ALT > 3 x ULN after a response,
S-VGERVEN13 [V]). Relapse is not an IAIHG class; the two-event split is a [MODEL] choice of
knowledge base 1.1. Lab values are multiples of ULN.

The two panel comparisons the rules call (non-response and complete biochemical response)
are declared once as expressions (:data:`NON_RESPONSE`, :data:`CBR`) over the fields of
:class:`PanelPair`: the scalar functions below evaluate them on one pair of panels, the
vector engine on columns of many (:mod:`pathway.guidelines.aih.vector_forms`).
"""

from __future__ import annotations

from dataclasses import fields

from ...expr import Expr, Schema
from .patient import LabPanel
from .thresholds import Thresholds

__all__ = [
    "CBR",
    "NON_RESPONSE",
    "PANELS",
    "PanelPair",
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


#: The analytes the comparisons read, on the latest panel and on the treatment baseline.
_LATEST = ("alt_xuln", "ast_xuln", "igg_xuln")
_BASELINE = ("alt_xuln", "ast_xuln")


class PanelPair:
    """A treatment baseline and the latest panel, as the fields :data:`PANELS` names:
    ``alt_xuln``, ``ast_xuln``, ``igg_xuln`` (latest) and ``baseline_alt_xuln``,
    ``baseline_ast_xuln`` (``None`` when not measured or without a baseline)."""

    def __init__(self, baseline: LabPanel | None, latest: LabPanel) -> None:
        self.alt_xuln = latest.alt_xuln
        self.ast_xuln = latest.ast_xuln
        self.igg_xuln = latest.igg_xuln
        self.baseline_alt_xuln = None if baseline is None else baseline.alt_xuln
        self.baseline_ast_xuln = None if baseline is None else baseline.ast_xuln


def _derived(analyte: str) -> dict[str, str]:
    """``<alt|ast>_known``: :func:`transaminase_fall` is defined (a positive baseline and a
    latest value); ``<alt|ast>_fall``: the fall (read only where known)."""
    base, short = f"baseline_{analyte}", analyte[:3]
    return {
        f"{short}_known": f"{base} > 0 and {analyte} is not None",
        f"{short}_fall": f"(({base} or 0.0) - ({analyte} or 0.0)) / ({base} or 1.0)",
    }


#: The names the panel comparisons may use (all thresholds; see :func:`_derived`).
PANELS = Schema(
    fields={**dict.fromkeys(_LATEST, True), **{f"baseline_{a}": True for a in _BASELINE}},
    thresholds=frozenset(f.name for f in fields(Thresholds)),
    derived={k: v for a in _BASELINE for k, v in _derived(a).items()},
)

#: Non-response at week 4: transaminases fell by less than 50%.
#:
#: [MODEL] The consensus speaks of "transaminases" without saying which: ALT is judged,
#: and AST only where ALT is not measured (requiring both to halve reads visit-to-visit
#: noise in AST as non-response, which the consensus does not intend). A transaminase back
#: at or below ULN is never non-response, even when a mild start made the fall small.
NON_RESPONSE = Expr(
    "(alt_fall < th.non_response_fall and alt_xuln > th.uln) if alt_known"
    " else (ast_fall < th.non_response_fall and ast_xuln > th.uln) if ast_known"
    " else False",
    PANELS,
    "response.NON_RESPONSE",
)

#: Complete biochemical response: ALT, AST and IgG all <= ULN (those measured; ALT needed).
CBR = Expr(
    "alt_xuln is not None and alt_xuln <= th.uln"
    " and (ast_xuln is None or ast_xuln <= th.uln)"
    " and (igg_xuln is None or igg_xuln <= th.uln)",
    PANELS,
    "response.CBR",
)

_NO_STATES: frozenset[str] = frozenset()


def is_non_response(baseline: LabPanel, latest: LabPanel, th: Thresholds) -> bool:
    """Non-response at week 4 (:data:`NON_RESPONSE`): transaminases fell by less than 50%.

    >>> th = Thresholds()
    >>> base, week4 = LabPanel(0, alt_xuln=10, ast_xuln=8), LabPanel(28, alt_xuln=6, ast_xuln=3)
    >>> is_non_response(base, week4, th)
    True
    >>> is_non_response(LabPanel(0, ast_xuln=8), LabPanel(28, ast_xuln=3), th)
    False
    >>> is_non_response(LabPanel(0, alt_xuln=10), LabPanel(28, alt_xuln=4), th)
    False
    """
    return bool(NON_RESPONSE.fn(PanelPair(baseline, latest), th, None, _NO_STATES))


def is_cbr(panel: LabPanel, th: Thresholds) -> bool:
    """Complete biochemical response (:data:`CBR`) on ``panel``.

    >>> is_cbr(LabPanel(182, alt_xuln=0.8, ast_xuln=0.9, igg_xuln=1.0), Thresholds())
    True
    >>> is_cbr(LabPanel(182, alt_xuln=0.8, igg_xuln=1.2), Thresholds())
    False
    """
    # A panel has the latest-panel fields CBR reads (and no baseline ones: CBR reads none).
    return bool(CBR.fn(panel, th, None, _NO_STATES))


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
