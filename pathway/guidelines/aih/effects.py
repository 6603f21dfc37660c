"""What findings, timers and clinician actions do to the patient record, declared.

Findings and timer effects run *before* the chart sees the event, so guards judge the new
facts; action effects run *after* the chart has accepted the action, so guards judge the
situation the clinician acted in. Each effect is a sequence of operations of
:mod:`pathway.effects` (assign a field, give or stop a dose, add a set member, branch),
each with the rule it carries out, over the record, ``th.*``, ``opt.*``, the active states
and the finding's payload ``value``; :data:`EFFECTS` compiles them once at import, and the
engines run the compiled functions, each followed by the antimetabolite tracking of INV-15
(:data:`AFTER`). A dose an action gives is the :class:`Dose` declared
with the action in :mod:`.rules` (the one its recommendation shows), so it is written once.

Python stays where a declaration cannot say it, listed here: the record's mutators
(:data:`MUTATORS`: appending a lab panel, forgetting the native liver's values, recording a
response class with its history) and the functions of :data:`FUNCTIONS`: the response
classes of :mod:`.response` and the day-7 improvement of :func:`.rules.acute_improving`
(both declared expressions evaluated on the record's panels) and the stage order.
Units are mg/day and days.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import fields, replace
from typing import Any

from ...declarations import Dose
from ...effects import (
    AddTo,
    Assign,
    CallMethod,
    Clear,
    EffectBook,
    Forget,
    Mutator,
    Op,
    ScaleDoses,
    StopDrug,
    When,
)
from ...errors import PatientError
from ...expr import Function
from . import response
from .options import GuidelineOptions
from .patient import LabPanel, PatientRecord
from .rules import ACTIONS, RULEBOOK, acute_improving
from .thresholds import Thresholds
from .timers import TIMERS as TIMER_TABLE
from .vocabulary import CIRRHOSIS_STAGES, FINDING_VALUES

__all__ = [
    "ACTION_EFFECTS",
    "AFTER",
    "ANTIMETABOLITE_TIMERS",
    "BEFORE",
    "DECLARATIONS",
    "EFFECTS",
    "FINDING_EFFECTS",
    "FUNCTIONS",
    "MUTATORS",
    "TIMER_EFFECTS",
    "validate_payload",
]

Effect = Callable[[PatientRecord, Any, Thresholds, GuidelineOptions, Set[str]], None]


def validate_payload(finding: str, value: Any) -> Any:
    """Check a finding's payload against the vocabulary; return it normalised."""
    allowed = FINDING_VALUES.get(finding)
    if finding == "labs":
        if not isinstance(value, dict | LabPanel) or not value:
            raise PatientError(f"'labs' needs a mapping of lab values (got {value!r})")
        return value
    if allowed is not None:
        if value not in allowed:
            raise PatientError(f"{finding!r} must be one of {list(allowed)} (got {value!r})")
        return value
    if value not in (None, True):
        raise PatientError(f"{finding!r} takes no value (got {value!r})")
    return None


# --- free-form Python: what a declaration cannot say -----------------------------------------

#: The record methods effects call (what a columnar engine must apply row by row or give a
#: columnar form of), with the fields each changes.
MUTATORS: dict[str, Mutator] = {
    "add_labs": Mutator(1, frozenset({"labs"}), "append a resulted panel; latest values"),
    "reset_latest_labs": Mutator(
        0, frozenset({"labs", "labs_reset_day"}), "a new liver: latest values restart"
    ),
    "set_response": Mutator(
        1,
        frozenset({"response", "response_history", "cbr_since_day"}),
        "a new response class, its history and the sustained-response clock",
    ),
}

_UPPER = frozenset({"uln"})


def _latest(p: PatientRecord) -> LabPanel:
    return p.latest_panel()


#: Functions only effects call, besides the rulebook's (:data:`.rules.FUNCTIONS`): the
#: IAIHG 2022 classes of :mod:`.response` on the latest panel, the day-7 improvement of
#: acute severe AIH and the order of the cirrhosis stages.
FUNCTIONS: dict[str, Function] = {
    "latest_panel": Function(arity=0, method=True, reads=frozenset({"labs"})),
    "classify_week4": Function(
        impl=lambda p, th, opt, a: response.classify_week4(p.treatment_baseline, _latest(p), th),
        reads=frozenset({"treatment_baseline", "labs"}),
        thresholds=frozenset({"non_response_fall", "uln"}),
    ),
    "classify_month6": Function(
        impl=lambda p, th, opt, a: response.classify_month6(_latest(p), th),
        reads=frozenset({"labs"}),
        thresholds=_UPPER,
    ),
    "classify_followup": Function(
        impl=lambda p, th, opt, a, previous: response.classify_followup(previous, _latest(p), th),
        arity=1,
        reads=frozenset({"labs"}),
        thresholds=frozenset({"relapse_alt_xuln", "uln"}),
    ),
    "acute_improvement": Function(
        impl=lambda p, th, opt, a: acute_improving(p),
        reads=frozenset({"treatment_baseline", "labs"}),
    ),
    "cirrhosis_rank": Function(
        impl=lambda p, th, opt, a, stage: CIRRHOSIS_STAGES.index(stage), arity=1
    ),
}


# --- shared operation sequences ----------------------------------------------------------------

_ACTIONS = {action.id: action for action in ACTIONS}


def _declared(action: str, index: int = 0) -> Dose:
    """The dose ``action`` is declared to give (in :mod:`.rules`), as an effect operation."""
    return _ACTIONS[action].doses[index]


_CBR = '"complete_biochemical_response"'

#: AIH-RSP-05: after optimisation, a failure still there at the reassessment is confirmed. A
#: complete response ends the episode (a later failure is optimised afresh). The wait after
#: optimisation is 4 weeks for non-response (G-IAIHG22 [V] time point, borrowed), a
#: 3-monthly visit for loss of response [MODEL] and the 12-month assessment for an
#: insufficient response (G-HASL [V]; the month-12 effect). 1e-9 days absorbs rounding.
_REASSESS_FAILURE: tuple[Op, ...] = (
    When(
        f"response == {_CBR}",
        (Assign("optimised_day", "None"), Assign("failure_confirmed", "False")),
        otherwise=(
            When(
                "optimised_day is not None and not failure_confirmed and ("
                '(response == "non_response" and treatment_baseline is not None'
                " and transaminases_not_halved()"
                " and days_since(optimised_day) >= th.non_response_check_days - 1e-9)"
                ' or (response == "loss_of_response" and not cbr_on_latest_panel()'
                " and days_since(optimised_day) >= th.loss_of_response_recheck_days - 1e-9)"
                ' or (response == "insufficient_response" and fired("month12_assessment")'
                " and not cbr_on_latest_panel()"
                " and days_since(optimised_day) >= th.non_response_check_days - 1e-9))",
                (Assign("failure_confirmed", "True"),),
            ),
        ),
        rule="AIH-RSP-05",
    ),
)

#: INV-17: budesonide is replaced by predniso(lo)ne once cirrhosis is known.
_SWITCH_BUDESONIDE: tuple[Op, ...] = (
    When(
        'on("budesonide")',
        (
            StopDrug("budesonide"),
            Dose("prednisolone_dose(False)", drug="prednisolone", rule="AIH-DOSE-PRED"),
            Assign("steroid_change_day", "day"),
        ),
        rule="INV-17",
    ),
)

_DECOMPENSATION: tuple[Op, ...] = (
    Assign("cirrhosis", '"decompensated"', rule="AIH-LIV-01"),
    Assign("decompensated", "True", rule="AIH-LIV-01"),
    *_SWITCH_BUDESONIDE,
)

#: The start of a steroid course; the treatment baseline is kept through a steroid change.
_START_COURSE: tuple[Op, ...] = (
    When("first_treatment_day is None", (Assign("first_treatment_day", "day"),)),
    When(
        "treatment_start_day is None or treatment_baseline is None",
        (Assign("treatment_start_day", "day"), Assign("treatment_baseline", "latest_panel()")),
    ),
    Assign("steroid_start_day", "day"),
    Assign("steroid_change_day", "day"),
)

#: A new line of treatment: judged afresh, with its own optimisation (AIH-RSP-05).
_NEW_LINE: tuple[Op, ...] = (
    Assign("line_assessed", "False"),
    Assign("optimised_day", "None", rule="AIH-RSP-05"),
    Assign("failure_confirmed", "False", rule="AIH-RSP-05"),
)

_SET_MONTH6 = CallMethod("set_response", ("classify_month6()",), rule="AIH-RSP-02")


def _pregnancy(status: str) -> tuple[Op, ...]:
    stop: tuple[Op, ...] = ()
    if status in ("planned", "pregnant"):  # AIH-PRG-01 / INV-09: stop MMF before conception
        stop = (StopDrug("mycophenolate", rule="INV-09"),)
    return (Assign("pregnancy", repr(status), rule="AIH-PRG-01"), *stop)


# --- findings ------------------------------------------------------------------------------

#: The labs payload is the :class:`LabPanel` the bundle's payload check makes.
_LABS: tuple[Op, ...] = (
    CallMethod("add_labs", ("value",)),
    When(
        'severe_cytopenia and latest("wbc_10e9_l") >= th.severe_cytopenia_wbc_10e9_l'
        ' and (latest("platelets_10e9_l") is None'
        ' or latest("platelets_10e9_l") >= th.severe_cytopenia_platelets_10e9_l)',
        (Assign("severe_cytopenia", "False"),),
        rule="AIH-SAF-02",  # counts recovered
    ),
    When(
        '"post_transplant" in active and response == "not_assessed"',
        # The graft starts normal: judge graft labs as follow-up of a response.
        (CallMethod("set_response", (f"classify_followup({_CBR})",)),),
        otherwise=(
            When(
                f'response in ({_CBR}, "loss_of_response", "relapse")',
                (
                    CallMethod(
                        "set_response",
                        (
                            f'{_CBR} if response == "relapse" and reinduced'
                            " and cbr_on_latest_panel() else classify_followup(response)",
                        ),
                        rule="AIH-RSP-04",
                    ),
                ),
                otherwise=(
                    When(
                        '"response_assessment" in active and fired("month6_assessment") > 0'
                        ' and response in ("insufficient_response", "non_response")'
                        " and cbr_on_latest_panel()",
                        # G-HASL (CBR by 6-12 months): a late complete response is a response.
                        (CallMethod("set_response", (_CBR,)),),
                        rule="AIH-RSP-05",
                    ),
                ),
            ),
        ),
        rule="AIH-PLT-01",
    ),
    *_REASSESS_FAILURE,
)

FINDINGS: dict[str, tuple[Op, ...]] = {
    "labs": _LABS,
    "tpmt": (
        Assign("tpmt", "value", rule="AIH-IND-05"),
        # A deficient result stops azathioprine at once.
        When('value == "deficient"', (StopDrug("azathioprine"),), rule="INV-05"),
    ),
    # Intolerance stops the drug (IAIHG 2022 definition).
    "intolerance": (
        AddTo("intolerant", "value", rule="AIH-SAF-01"),
        StopDrug(drug_expr="value", rule="AIH-SAF-01"),
    ),
    # [MODEL] severe cytopenia stops the antimetabolite, as an intolerance.
    "cytopenia": (
        When(
            'value == "severe"',
            (
                Assign("severe_cytopenia", "True"),
                When(
                    "antimetabolite is not None",
                    (AddTo("intolerant", "antimetabolite"), StopDrug(drug_expr="antimetabolite")),
                ),
            ),
            rule="AIH-SAF-02",
        ),
    ),
    # The stage never goes back on a diagnosis.
    "cirrhosis_diagnosed": (
        When(
            "cirrhosis_rank(value) > cirrhosis_rank(cirrhosis)",
            (Assign("cirrhosis", "value"),),
            rule="AIH-LIV-01",
        ),
        When('value == "decompensated"', (Assign("decompensated", "True"),), rule="AIH-LIV-01"),
        *_SWITCH_BUDESONIDE,
    ),
    "decompensation": _DECOMPENSATION,
    # Treated decompensation that resolves leaves a compensated cirrhosis (the stage never
    # goes back further); encephalopathy, once seen, stays on the record.
    "recompensation": (
        Assign("cirrhosis", '"compensated"', rule="AIH-LIV-03"),
        Assign("decompensated", "False", rule="AIH-LIV-03"),
    ),
    "encephalopathy": (
        Assign("encephalopathy", "True"),
        When('cirrhosis != "none"', _DECOMPENSATION, rule="AIH-LIV-01"),
    ),
    "hcc": (Assign("hcc", "True"),),
    "pregnancy_planned": _pregnancy("planned"),
    "pregnant": _pregnancy("pregnant"),
    "delivered": _pregnancy("postpartum"),
    "nonadherence": (Assign("nonadherent", "True"),),
    # A biopsy shows histological remission (HAI <= 3, S-EJIM21).
    "histological_remission": (Assign("remission_biopsy_day", "day", rule="AIH-WDR-05"),),
    # A new liver; CNI-based immunosuppression (tacrolimus) [R].
    "transplanted": (
        Assign("transplant_day", "day", rule="AIH-LT-04"),
        CallMethod("reset_latest_labs"),  # the native liver's values do not describe the graft
        Clear("drugs", rule="AIH-LT-04"),
        _declared("switch_to_tacrolimus"),
        Assign("cirrhosis", '"none"'),
        Assign("decompensated", "False"),
        Assign("encephalopathy", "False"),
        Assign("hcc", "False"),
        Assign("response", '"not_assessed"'),
        Assign("cbr_since_day", "None"),
        Assign("treatment_start_day", "day"),
        Assign("treatment_baseline", "None"),
        Assign("optimised_day", "None"),
        Assign("failure_confirmed", "False"),
    ),
    "graft_failure": (),
    "death": (Assign("death_day", "day"),),
}

# --- timers ----------------------------------------------------------------------------------

_LINE_ASSESSMENT: tuple[Op, ...] = (Assign("line_assessed", "True"), _SET_MONTH6)

TIMERS: dict[str, tuple[Op, ...]] = {
    "thiopurine_due": (),
    "week4_check": (
        When(
            "treatment_baseline is not None",
            (CallMethod("set_response", ("classify_week4()",)),),
            rule="AIH-RSP-01",
        ),
    ),
    "month6_assessment": (_SET_MONTH6,),
    # The 12-month reassessment of a response judged insufficient at month 6; in maintenance
    # or beyond there is nothing to reassess.
    "month12_assessment": (
        When(
            '"response_assessment" in active',
            (
                _SET_MONTH6,
                When(
                    f"response != {_CBR} and optimised_day is not None",
                    (Assign("failure_confirmed", "True"),),
                ),
                *_REASSESS_FAILURE,
            ),
            rule="AIH-RSP-05",
        ),
    ),
    # A visit judges the latest labs again: a failure may be confirmed.
    "steroid_review": _REASSESS_FAILURE,
    "monitoring_due": _REASSESS_FAILURE,
    "second_line_assessment": _LINE_ASSESSMENT,
    "relapse_assessment": _LINE_ASSESSMENT,
    "third_line_assessment": _LINE_ASSESSMENT,
    # A listed patient in complete response is judged so (delisting).
    "transplant_review": (
        When("cbr_on_latest_panel()", (CallMethod("set_response", (_CBR,)),), rule="AIH-LT-05"),
    ),
    "acute_review": (
        Assign("acute_review_day", "day", rule="AIH-ASA-01"),
        Assign("acute_improving", "acute_improvement()", rule="AIH-ASA-01"),
    ),
    "withdrawal_complete": (
        Clear("drugs", rule="AIH-WDR-01"),
        CallMethod("set_response", ("classify_followup(response)",)),
    ),
    "postpartum_end": (Assign("pregnancy", '"none"'),),
    "hcc_surveillance": (),
}

# --- clinician actions -----------------------------------------------------------------------

ACTION_OPS: dict[str, tuple[Op, ...]] = {
    "start_prednisolone": (
        StopDrug("budesonide"),
        Dose('prednisolone_dose("acute_severe" in active)', drug="prednisolone"),
        *_START_COURSE,
    ),
    "start_budesonide": (
        StopDrug("prednisolone"),
        _declared("start_budesonide"),
        *_START_COURSE,
    ),
    # TPMT deficient: a deviation that cannot be carried out as a dose.
    "add_azathioprine": (When("azathioprine_dose(False) > 0", (_declared("add_azathioprine"),)),),
    "add_mycophenolate": (_declared("add_mycophenolate"),),
    "taper_steroid": (
        _declared("taper_steroid"),
        When("steroid is not None", (Assign("steroid_change_day", "day"),), rule="AIH-TAP-01"),
    ),
    # S-JOHNSON95: steroid off, azathioprine raised to 2 mg/kg; on mycophenolate or
    # tacrolimus (AIH-MNT-04 [MODEL]) the steroid-sparing dose is kept.
    "stop_steroid": (
        StopDrug("prednisolone", rule="AIH-MNT-01"),
        StopDrug("budesonide", rule="AIH-MNT-01"),
        _declared("stop_steroid"),
        Assign("steroid_change_day", "day"),
    ),
    "switch_to_mycophenolate": (
        StopDrug("azathioprine", rule="AIH-2L-01"),
        _declared("switch_to_mycophenolate"),
        *_NEW_LINE,
    ),
    "switch_to_tacrolimus": (
        StopDrug("azathioprine", rule="AIH-2L-02"),
        StopDrug("mycophenolate", rule="AIH-2L-02"),
        _declared("switch_to_tacrolimus"),
        *_NEW_LINE,
    ),
    # Third-line agents are given by infusion, not as a daily dose (G-ERN20 [R]).
    "start_third_line": (Dose("None", drug="infliximab", rule="AIH-3L-01"), *_NEW_LINE),
    "attempt_withdrawal": (
        Assign("withdrawal_start_day", "day", rule="AIH-WDR-01"),
        Assign("withdrawal_cbr_days", "cbr_days"),
        Assign("withdrawal_attempts", "withdrawal_attempts + 1"),
        ScaleDoses("0.5"),  # [MODEL] halve now, stop at withdrawal_complete
    ),
    # Predniso(lo)ne again with the antimetabolite (restarted if stopped). Recurrent AIH in
    # the graft: steroid with azathioprine on top of the calcineurin inhibitor (S-CZAJA12);
    # elsewhere tacrolimus second line already replaces it.
    "reinduce": (
        Assign("reinduced", "True", rule="AIH-REL-01"),
        Assign("optimised_day", "None"),
        Assign("failure_confirmed", "False"),
        StopDrug("budesonide"),
        _declared("reinduce"),
        When(
            'antimetabolite is None and ("recurrent_aih" in active or not on("tacrolimus"))',
            (
                When(
                    'tpmt in ("normal", "intermediate") and "azathioprine" not in intolerant',
                    (_declared("add_azathioprine"),),
                    otherwise=(
                        When(
                            '"mycophenolate" not in intolerant'
                            ' and pregnancy not in ("planned", "pregnant")',
                            (_declared("add_mycophenolate"),),
                        ),
                    ),
                ),
            ),
            rule="AIH-REL-01",
        ),
        Assign("treatment_start_day", "day"),
        Assign("treatment_baseline", "latest_panel()"),
        Assign("steroid_start_day", "day"),
        Assign("steroid_change_day", "day"),
    ),
    # Adherence checked and addressed, doses optimised, reassessment pending. Azathioprine
    # is titrated to 2 mg/kg (TPMT-adjusted, S-MANNS10 range); budesonide is replaced by
    # predniso(lo)ne, and a week-4 non-responder's predniso(lo)ne is raised to the top of
    # the range (KB T07 [R]). The steroid dose is given before budesonide stops: the change
    # is worked out on the doses the patient is on.
    "optimise_treatment": (
        Assign("nonadherent", "False", rule="AIH-RSP-05"),
        Assign("optimised_day", "day", rule="AIH-RSP-05"),
        Assign("failure_confirmed", "False", rule="AIH-RSP-05"),
        _declared("optimise_treatment", 0),
        When(
            "optimised_steroid() is not None",
            (
                _declared("optimise_treatment", 1),
                StopDrug("budesonide"),
                Assign("steroid_change_day", "day"),
            ),
            rule="AIH-RSP-05",
        ),
    ),
    "refer_transplant": (Assign("transplant_referral_day", "day", rule="AIH-LT-01"),),
    "observe_untreated": (),
    "continue": (),
}

#: Timers that count from the antimetabolite's start or last dose rise (INV-15).
ANTIMETABOLITE_TIMERS: tuple[str, ...] = tuple(
    t.id for t in TIMER_TABLE if t.anchor == "antimetabolite_change_day"
)

#: What every effect is followed by: the antimetabolite and its dose before the effect ...
BEFORE: dict[str, str] = {
    "old_antimetabolite": "antimetabolite",
    # Never dose(None): the native build's record types the drug as text.
    "old_antimetabolite_dose": "dose(old_antimetabolite)"
    " if old_antimetabolite is not None else None",
}
#: ... and INV-15: the early blood-count schedule restarts on a new antimetabolite or a
#: dose rise (its day is cleared when there is none).
AFTER: tuple[Op, ...] = (
    When(
        "antimetabolite is None",
        (Assign("antimetabolite_change_day", "None"),),
        otherwise=(
            When(
                "antimetabolite != old_antimetabolite"
                " or dose(antimetabolite) > old_antimetabolite_dose",
                (
                    Assign("antimetabolite_change_day", "day"),
                    *(Forget("timers_fired", repr(t)) for t in ANTIMETABOLITE_TIMERS),
                ),
            ),
        ),
        rule="INV-15",
    ),
)

#: Every effect's declaration, by kind.
DECLARATIONS: dict[str, dict[str, tuple[Op, ...]]] = {
    "finding": FINDINGS,
    "timer": TIMERS,
    "action": ACTION_OPS,
}

#: The compiled effects: one Python function per effect, expressions inlined.
EFFECTS = EffectBook(
    replace(RULEBOOK.schema, functions={**RULEBOOK.schema.functions, **FUNCTIONS}),
    DECLARATIONS,
    fields=frozenset(
        f.name for f in fields(PatientRecord) if not f.name.startswith("_") and f.name != "state"
    ),
    doses="drugs",
    mutators=MUTATORS,
    before=BEFORE,
    after=AFTER,
)

FINDING_EFFECTS: dict[str, Effect] = EFFECTS.functions("finding")
TIMER_EFFECTS: dict[str, Effect] = EFFECTS.functions("timer")
ACTION_EFFECTS: dict[str, Effect] = EFFECTS.functions("action")
