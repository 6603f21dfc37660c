"""The public identifiers of shared/spec/vocabulary.md, as Python constants.

Scenario files, the CLI, the event log and the API all speak these ids. The chart may define
more; it may not rename or drop these (tests check the chart against this module).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTIONS",
    "CARE_LINE",
    "CARE_STATES",
    "CIRRHOSIS_STAGES",
    "CYTOPENIA_GRADES",
    "DRUGS",
    "FINDINGS",
    "FINDING_VALUES",
    "LAB_FIELDS",
    "PLAIN_FINDINGS",
    "PRESENTATIONS",
    "RESPONSE_CLASSES",
    "SEXES",
    "STEROIDS",
    "TPMT_STATUSES",
]

CARE_STATES: Final = (
    "diagnosis",
    "observation",
    "induction",
    "response_assessment",
    "taper",
    "maintenance",
    "withdrawal",
    "off_treatment",
    "relapse",
    "second_line",
    "third_line",
    "acute_severe",
    "acute_liver_failure",
    "transplant",
    "post_transplant",
    "recurrent_aih",
    "death",
)
#: The care states in the order they win when several are active (for
#: :func:`pathway.care.care_state`): ``recurrent_aih`` before ``post_transplant``, which
#: holds it; ``taper`` belongs to the steroid course, beside the care line, and never wins.
CARE_LINE: Final = (
    "recurrent_aih",
    *(s for s in CARE_STATES if s not in {"taper", "recurrent_aih"}),
)

DRUGS: Final = (
    "prednisolone",
    "budesonide",
    "azathioprine",
    "mycophenolate",
    "tacrolimus",
    "ciclosporin",
    "sirolimus",
    "infliximab",
    "rituximab",
)
STEROIDS: Final = ("prednisolone", "budesonide")

ACTIONS: Final = (
    "start_prednisolone",
    "start_budesonide",
    "add_azathioprine",
    "add_mycophenolate",
    "taper_steroid",
    "stop_steroid",
    "switch_to_mycophenolate",
    "switch_to_tacrolimus",
    "start_third_line",
    "attempt_withdrawal",
    "reinduce",
    "optimise_treatment",
    "refer_transplant",
    "observe_untreated",
    "continue",
)

LAB_FIELDS: Final = (
    "alt_xuln",
    "ast_xuln",
    "igg_xuln",
    "bilirubin_mg_dl",
    "inr",
    "wbc_10e9_l",
    "platelets_10e9_l",
    "meld",
)

TPMT_STATUSES: Final = ("unknown", "normal", "intermediate", "deficient")
CYTOPENIA_GRADES: Final = ("mild", "severe")
CIRRHOSIS_STAGES: Final = ("none", "compensated", "decompensated")
PRESENTATIONS: Final = ("chronic", "acute_severe", "acute_liver_failure")
SEXES: Final = ("F", "M")

#: Findings whose value is one of a fixed list of ids, and those ids: the one table that
#: the chart, scenario files and snapshots check finding values against.
FINDING_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "tpmt": TPMT_STATUSES[1:],
    "intolerance": DRUGS,
    "cytopenia": CYTOPENIA_GRADES,
    "cirrhosis_diagnosed": CIRRHOSIS_STAGES[1:],
}
#: Findings and the type of their payload (None: no payload; a tuple: one of those ids).
FINDINGS: Final[dict[str, object]] = {
    "labs": dict,
    **FINDING_VALUES,
    "decompensation": None,
    "recompensation": None,
    "encephalopathy": None,
    "hcc": None,
    "pregnancy_planned": None,
    "pregnant": None,
    "delivered": None,
    "nonadherence": None,
    "histological_remission": None,
    "transplanted": None,
    "graft_failure": None,
    "death": None,
}

#: Findings without a payload, except death (which ends the course).
PLAIN_FINDINGS: Final = tuple(f for f, kind in FINDINGS.items() if kind is None and f != "death")

RESPONSE_CLASSES: Final = (
    "not_assessed",
    "non_response",
    "insufficient_response",
    "complete_biochemical_response",
    "loss_of_response",
    "relapse",
)
