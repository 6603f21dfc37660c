"""The AIH guideline's rules, declared: one :class:`~pathway.declarations.Action` per action.

Every permission check, care-state gate, strength row, priority and dose rule is an
expression of :mod:`pathway.expr` over the record (:class:`PatientRecord`), the active
states, ``th.*`` (:class:`Thresholds`) and ``opt.*`` (:class:`GuidelineOptions`), with the
rule id it comes from (see :mod:`pathway.guidelines.aih.guideline`). :data:`RULEBOOK`
compiles them once at import; the functions below (``evaluate``, ``allowed_actions``,
``strength``, ``rank_key``, ...) are the generic evaluation over it.

Python remains only where an expression cannot say it, listed in :data:`FUNCTIONS` (the
transplant-indication list as a whole, the lab schedule; the dose rules of :mod:`.dosing`,
the panel comparisons of :mod:`.response` and the day-7 improvement
(:data:`ACUTE_IMPROVING`) are expressions over their own schemas, called as functions); the
effects that carry an action out are declared in :mod:`.effects`, giving the doses declared
here.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import fields
from functools import partial
from typing import Any, NamedTuple

from ...declarations import (
    GATE,
    GATE_STOP,
    Action,
    Breach,
    Check,
    Dose,
    Gate,
    Item,
    Refuse,
    Row,
    Rulebook,
    Stop,
    Strength,
)
from ...expr import Expr, Function, Schema
from . import dosing, response
from .options import GuidelineOptions
from .patient import OPTIONAL_FIELDS, LabPanel, PatientRecord
from .safety import INVARIANT_DECLARATIONS
from .thresholds import Thresholds
from .timers import LAB_TIMERS, ThresholdValues, next_lab_day
from .vocabulary import CARE_STATES

__all__ = [
    "ACTIONS",
    "ACTION_CHECKS",
    "ACUTE_IMPROVING",
    "ACUTE_PANELS",
    "CONDITIONS",
    "FUNCTIONS",
    "RULEBOOK",
    "SCHEMA",
    "AcutePair",
    "Breach",
    "Ctx",
    "Strength",
    "acute_improving",
    "allowed_actions",
    "condition",
    "disease_active",
    "evaluate",
    "presents_acute_severe",
    "priority",
    "rank_key",
    "strength",
    "transplant_indications",
]


class Ctx(NamedTuple):
    """What a rule may look at: the record, thresholds, options and active state ids."""

    p: PatientRecord
    th: Thresholds
    opt: GuidelineOptions
    active: Set[str]


# --- the day-7 improvement (AIH-ASA-01), declared over a pair of panels ---------------------


class AcutePair:
    """A treatment baseline and the latest panel, as the fields :data:`ACUTE_PANELS` names:
    ``meld``, ``bilirubin_mg_dl``, ``inr`` (latest), ``meld_day`` (the day MELD was last
    measured), ``baseline_day`` and the baseline's ``baseline_<analyte>`` (``None`` when not
    measured or without a baseline)."""

    def __init__(self, baseline: LabPanel | None, latest: LabPanel, meld_day: float | None) -> None:
        # Written out, not set by name: the native build's classes take declared fields only.
        self.meld, self.meld_day = latest.meld, meld_day
        self.bilirubin_mg_dl, self.inr = latest.bilirubin_mg_dl, latest.inr
        self.baseline_day = None if baseline is None else baseline.day
        self.baseline_meld = None if baseline is None else baseline.meld
        self.baseline_bilirubin_mg_dl = None if baseline is None else baseline.bilirubin_mg_dl
        self.baseline_inr = None if baseline is None else baseline.inr


_ACUTE_ANALYTES = ("meld", "bilirubin_mg_dl", "inr")

#: The names the day-7 improvement may use (every one may be missing).
ACUTE_PANELS = Schema(
    fields=dict.fromkeys(
        ("meld_day", "baseline_day", *_ACUTE_ANALYTES, *(f"baseline_{a}" for a in _ACUTE_ANALYTES)),
        True,
    )
)

#: Day-7 improvement in acute severe AIH (AIH-ASA-01) [MODEL]: bilirubin and INR fell.
#:
#: The evidence uses the change in UKELD/MELD (S-YEOMAN11); with the vocabulary's labs,
#: improvement is read as MELD down by at least 2 where both MELDs are known and MELD was
#: measured since the baseline (not carried forward), else bilirubin below and INR not above
#: the treatment baseline. No baseline: not improving.
ACUTE_IMPROVING = Expr(
    "baseline_day is not None and (meld <= (baseline_meld or 0.0) - 2"
    " if baseline_meld is not None and meld is not None and meld_day > baseline_day"
    " else bilirubin_mg_dl < baseline_bilirubin_mg_dl"
    " and (baseline_inr is None or inr is None or inr <= baseline_inr))",
    ACUTE_PANELS,
    "rules.ACUTE_IMPROVING",
)


def acute_improving(p: PatientRecord) -> bool:
    """Day-7 improvement in acute severe AIH (:data:`ACUTE_IMPROVING`, AIH-ASA-01)."""
    pair = AcutePair(p.treatment_baseline, p.latest_panel(), p.latest_day("meld"))
    return bool(ACUTE_IMPROVING.fn(pair, None, None, frozenset()))


# --- free-form Python: what an expression cannot say ---------------------------------------


def _not_halved(p: PatientRecord, th: Thresholds, opt: Any, active: Set[str]) -> bool:
    """No treatment baseline, or transaminases have not fallen by half since it."""
    base = p.treatment_baseline
    return base is None or response.is_non_response(base, p.latest_panel(), th)


def _cbr_panel(p: PatientRecord, th: Thresholds, opt: Any, active: Set[str]) -> bool:
    return response.is_cbr(p.latest_panel(), th)


def _indications(p: PatientRecord, th: Thresholds, opt: Any, a: Set[str]) -> list[Any]:
    return RULEBOOK.findings("transplant_indications", (p, th, opt, a))


def _transplant_indicated(p: PatientRecord, th: Thresholds, opt: Any, a: Set[str]) -> bool:
    return bool(_indications(p, th, opt, a))


def _transplant_rules(p: PatientRecord, th: Thresholds, opt: Any, a: Set[str]) -> list[str]:
    return [rule_id for rule_id, _, _ in _indications(p, th, opt, a)]


def _transplant_must(p: PatientRecord, th: Thresholds, opt: Any, a: Set[str]) -> list[str]:
    return [rule_id for rule_id, _, level in _indications(p, th, opt, a) if level == "must"][:1]


def _observation_refused(p: PatientRecord, th: Thresholds, opt: Any, a: Set[str]) -> bool:
    return bool(RULEBOOK.breaches("observe_untreated", (p, th, opt, a)))


def _fn(impl: Callable[..., Any], arity: int = 0, **kw: Any) -> Function:
    return Function(impl=impl, arity=arity, **kw)


def _dose_fn(impl: Callable[..., Any], arity: int, rule: Expr | None = None) -> Function:
    """A :mod:`.dosing` function as an expression function (mg/day); what it reads is
    its declared ``rule``'s (none: a function of its arguments and thresholds only, which
    :data:`_TAPER` names). ``impl`` is called as ``impl(record, thresholds, options,
    active, *args)``."""
    if rule is None:
        return Function(impl=impl, arity=arity, thresholds=frozenset(_TAPER.split()))
    deps = rule.deps
    return Function(
        impl=impl,
        arity=arity,
        optional=rule.optional,
        reads=deps.fields,
        thresholds=deps.thresholds,
        options=deps.options,
    )


_TAPER = "budesonide_maintenance_mg_day taper_target_mg_day"
#: The thresholds the lab timers' schedule reads (intervals, limits).
_LAB_TIMER_THRESHOLDS = frozenset(
    name
    for t in LAB_TIMERS
    for name in (*t.at_threshold, t.every_threshold, t.until_threshold)
    if name is not None
)
#: What the declared transplant-indication list reads (a test checks it against the list).
_INDICATION_READS = frozenset(
    {"encephalopathy", "acute_review_day", "acute_improving", "labs", "presentation"}
    | {"decompensated", "hcc"}
)


#: The guideline's free-form Python functions, by the name expressions call them with.
#: Record methods (``latest``, ``on``, ...) are the record's own; the rest are Python
#: because an expression cannot say them: dose arithmetic, panel comparisons, and the
#: transplant-indication list evaluated as a whole.
FUNCTIONS: dict[str, Function] = {
    "latest": Function(arity=1, method=True, optional=True, reads=frozenset({"labs"})),
    "latest_day": Function(arity=1, method=True, optional=True, reads=frozenset({"labs"})),
    "on": Function(arity=1, method=True, reads=frozenset({"drugs"})),
    "dose": Function(arity=1, method=True, optional=True, reads=frozenset({"drugs"})),
    "days_since": Function(arity=1, method=True, optional=True, reads=frozenset({"day"})),
    "transaminases_not_halved": _fn(
        _not_halved,
        reads=frozenset({"treatment_baseline", "labs"}),
        thresholds=frozenset({"non_response_fall", "uln"}),
    ),
    "cbr_on_latest_panel": _fn(
        _cbr_panel, reads=frozenset({"labs"}), thresholds=frozenset({"uln"})
    ),
    **{
        name: _fn(
            impl,
            reads=_INDICATION_READS,
            reads_active=True,
            thresholds=frozenset({"transplant_meld"}),
        )
        for name, impl in (
            ("transplant_indicated", _transplant_indicated),
            ("transplant_rules", _transplant_rules),
            ("transplant_must_rules", _transplant_must),
        )
    },
    "observation_refused": _fn(
        _observation_refused,
        reads=frozenset({"labs", "presentation", "cirrhosis"}),
        reads_active=True,
        thresholds=frozenset({"active_transaminase_xuln"}),
    ),
    "fired": _fn(
        lambda p, th, opt, a, timer: p.timers_fired.get(timer, 0),
        1,
        reads=frozenset({"timers_fired"}),
    ),
    "entered_day": _fn(
        lambda p, th, opt, a, state: p.entered.get(state, p.day),
        1,
        reads=frozenset({"entered", "day"}),
    ),
    # INV-15: the due day of the next armed timer that draws labs (None: none scheduled).
    "next_lab_day": _fn(
        lambda p, th, opt, a: next_lab_day(a, p, ThresholdValues(th)),
        optional=True,
        reads_active=True,
        reads=frozenset({"antimetabolite_change_day", "entered", "timers_fired", "day"}),
        thresholds=_LAB_TIMER_THRESHOLDS,
    ),
    "prednisolone_dose": _dose_fn(
        lambda p, th, opt, a, acute: dosing.prednisolone_dose(p, th, opt, acute=acute),
        1,
        dosing.PREDNISOLONE,
    ),
    "azathioprine_dose": _dose_fn(
        lambda p, th, opt, a, maintenance: dosing.azathioprine_dose(p, th, maintenance=maintenance),
        1,
        dosing.AZATHIOPRINE,
    ),
    "tacrolimus_dose": _dose_fn(
        lambda p, th, opt, a: dosing.tacrolimus_dose(p, th), 0, dosing.TACROLIMUS
    ),
    "next_taper_dose": _dose_fn(
        lambda p, th, opt, a, drug, dose: dosing.next_taper_dose(drug, dose, th), 2
    ),
    "taper_target": _dose_fn(lambda p, th, opt, a, drug: dosing.taper_target(drug, th), 1),
    "optimised_steroid": _dose_fn(
        lambda p, th, opt, a: dosing.optimised_steroid(p, th, opt),
        0,
        dosing.OPTIMISED_PREDNISOLONE,
    ),
}

#: Named expressions every rule may use (inlined where used).
DERIVED: dict[str, str] = {
    # AIH-TRI-03; EASL 2015 [V-sec]: a transaminase > 3 x ULN.
    "disease_active": 'latest("alt_xuln") > th.active_transaminase_xuln'
    ' or latest("ast_xuln") > th.active_transaminase_xuln',
    # AIH-TRI-01: the presentation, or jaundice with INR >= 1.5 and no HE; jaundice with a
    # high INR in cirrhosis is decompensation, not AS-AIH.
    "presents_acute_severe": 'not encephalopathy and (presentation == "acute_severe"'
    ' or cirrhosis == "none" and latest("bilirubin_mg_dl") >= th.jaundice_bilirubin_mg_dl'
    ' and latest("inr") >= th.acute_severe_inr)',
    "cbr_days": "days_since(cbr_since_day) or 0.0",  # days of sustained CBR up to now
    "treatment_days": "days_since(first_treatment_day) or 0.0",  # AIH-WDR-04
    "since_steroid_start": "days_since(steroid_start_day) or 0.0",
    "since_steroid_change": "days_since(steroid_change_day) or 0.0",
    "steroid_dose": "dose(steroid) or 0.0",
    # A failed response that can justify a second line now (AIH-MNT-05: a loss of response
    # counts on maintenance, where it persists after optimisation).
    "failed_response": 'response in ("non_response", "insufficient_response")'
    ' or response == "loss_of_response" and "maintenance" in active',
    "aza_stopped": '"azathioprine" in intolerant and not antimetabolite',
    "mmf_failed": '"second_line" in active and "mycophenolate" in intolerant',
    "escalating": 'active & {"first_line", "maintenance"}',
    # An improving acute severe episode (AIH-ASA-01) explains a high MELD only during that
    # episode: its steroid course up to the first-line assessment, not for life.
    "acute_recovering": 'presentation == "acute_severe" and acute_improving == True'
    ' and active & {"acute_severe", "first_line"}',
    # Dose caps of INV-04 (<= 1 mg/kg and <= 60 mg/day) and INV-06 (<= 2 mg/kg/day).
    "prednisolone_cap": "min(th.prednisolone_max_mg_day,"
    " th.prednisolone_max_mg_per_kg * weight_kg)",
    "azathioprine_cap": "th.azathioprine_max_mg_per_kg * weight_kg",
    # INV-15 (G-BSG25): blood counts every 2 weeks for 8 weeks after an antimetabolite start
    # or dose rise, then at least every 3 months (days; 1e-9: the invariants' tolerance).
    "cbc_interval": "th.cbc_early_interval_days"
    " if days_since(antimetabolite_change_day) < th.cbc_early_phase_days - 1e-9"
    " else th.cbc_interval_days",
    # A biopsy showed histological remission since the current complete response began.
    "biopsy_in_this_response": "remission_biopsy_day >= cbr_since_day",
}

_PROPERTIES = {"steroid": True, "antimetabolite": True, "immunosuppressed": False}

#: The names AIH expressions may use.
SCHEMA = Schema(
    fields={
        **{
            f.name: f.name in OPTIONAL_FIELDS
            for f in fields(PatientRecord)
            if not f.name.startswith("_") and f.name != "state"
        },
        **_PROPERTIES,
    },
    thresholds=frozenset(f.name for f in fields(Thresholds)),
    options=frozenset(f.name for f in fields(GuidelineOptions)),
    # Care states plus the compound states rules test (a test checks them against the chart).
    states=frozenset(CARE_STATES) | {"first_line"},
    functions=FUNCTIONS,
    derived=DERIVED,
)


# --- declarations ---------------------------------------------------------------------------

_ANTIMETABOLITE_STATES = frozenset(
    {"induction", "response_assessment", "maintenance", "relapse", "second_line"}
)
_SWITCH_STATES = '{"induction", "response_assessment", "maintenance", "relapse"}'
_ACUTE = '{"acute_severe", "acute_liver_failure"}'


def _antimetabolite_checks(drug: str, rule: str) -> tuple[Item, ...]:
    """The checks azathioprine and mycophenolate share (AIH-IND-03/04, INV-07, INV-08)."""
    return (
        Check(rule, "antimetabolite", "already on {antimetabolite}"),
        Check(rule, 'on("tacrolimus")', "on tacrolimus second line"),
        Check(rule, f'"{drug}" in intolerant', f"{drug} intolerance"),
        GATE,
        Check("INV-08", "severe_cytopenia", "severe cytopenia"),
        # The 2-week delay belongs to first-line induction; re-induction starts both.
        Check(
            "INV-07",
            '"induction" in active and steroid and since_steroid_start < th.thiopurine_delay_days',
            "{since_steroid_start:g} days since the steroid start (< {th.thiopurine_delay_days:g})",
        ),
    )


def _escalation(before: str) -> tuple[Check, ...]:
    """AIH-RSP-05: a failed response in first line or on maintenance is optimised and
    reassessed before a second line (KB T10 "optimise the dose, then second-line" [R];
    G-HASL: CBR by 6-12 months [V]). Relapses and later lines keep their own rules."""
    esc = f"({before}) and escalating"
    return (
        Check(
            "AIH-RSP-05",
            f'{esc} and on("budesonide")',
            "budesonide non-response: predniso(lo)ne first",
        ),
        Check(
            "AIH-RSP-05",
            f'{esc} and not on("budesonide") and optimised_day is None',
            "adherence and doses not yet optimised",
        ),
        Check(
            "AIH-RSP-05",
            f'{esc} and not on("budesonide") and optimised_day is not None'
            " and not failure_confirmed",
            "optimised on day {optimised_day:g}: reassessment pending",
        ),
    )


def _switch_rows(rule: str) -> tuple[Row, ...]:
    """A second line for a failed response names the response rules; after intolerance not."""
    return (
        Row("not failed_response", "should", (rule,)),
        Row(
            'escalating and response == "loss_of_response"',
            "should",
            (rule, "AIH-RSP-03", "AIH-MNT-05"),
        ),
        Row("escalating", "should", (rule, "AIH-RSP-03", "AIH-RSP-05")),
        Row("True", "should", (rule, "AIH-RSP-03")),
    )


def _should(*rules: str) -> tuple[Row, ...]:
    return (Row("True", "should", rules),)


_MMF_DOSE = (Dose("th.mycophenolate_mg_day", drug="mycophenolate"),)

#: Every clinician action, declared in vocabulary order (the order of allowed-action lists);
#: ``priority`` orders actions of equal strength.
ACTIONS: tuple[Action, ...] = (
    Action(
        "start_prednisolone",
        checks=(
            Stop(
                'steroid == "budesonide" and (budesonide_in_cirrhosis'
                " or budesonide_in_acute_disease)",
                "INV-17: a contraindicated budesonide is replaced wherever the patient is",
            ),
            Check("AIH-IND-01", "steroid", "already on {steroid}"),
            Check(
                "INV-14",
                '"acute_liver_failure" in active',
                "refer for transplant before any steroid trial in ALF",
            ),
            Check(
                "AIH-IND-01",
                '"acute_liver_failure" not in active and "transplant" in active'
                " and not encephalopathy and acute_review_day is None",
                "no steroid trial is indicated while listed",
            ),
            Check(
                "AIH-IND-01",
                '"acute_liver_failure" not in active and "transplant" not in active'
                ' and not active & {"diagnosis", "observation"}',
                "induction starts at diagnosis or from observation; "
                "a flare is treated with reinduce",
            ),
        ),
        strength=(
            Row('steroid == "budesonide" and budesonide_in_cirrhosis', "must", ("INV-01",)),
            Row('steroid == "budesonide" and budesonide_in_acute_disease', "must", ("INV-02",)),
            Row('"diagnosis" in active and presents_acute_severe', "must", ("AIH-TRI-01",)),
            Row(
                'active & {"diagnosis", "observation"} and disease_active', "must", ("AIH-TRI-03",)
            ),
            # Not a case for observation.
            Row(
                '"diagnosis" in active and observation_refused()',
                "should",
                ("AIH-IND-01", "AIH-TRI-04"),
            ),
            Row("True", "may", ("AIH-IND-01",)),
        ),
        priority=3,
        doses=(
            Dose(
                'prednisolone_dose("diagnosis" in active and presents_acute_severe)',
                drug="prednisolone",
            ),
        ),
    ),
    Action(
        "start_budesonide",
        gate=Gate(
            frozenset({"diagnosis", "observation"}),
            "AIH-IND-02",
            "budesonide is a first-line induction option only",
        ),
        checks=(
            Check("AIH-IND-02", "steroid", "already on {steroid}"),
            Refuse("INV-01", "budesonide is contraindicated in cirrhosis ({cirrhosis})"),
            Refuse(
                "INV-02",
                "no budesonide in acute severe AIH or acute liver failure",
                unless="budesonide_in_cirrhosis",
            ),
            GATE,
        ),
        # Ranked below predniso(lo)ne: inferior in real-world use (S-DIAZ23).
        strength=(Row("True", "may", ("AIH-IND-02",)),),
        priority=15,
        doses=(Dose("th.budesonide_mg_day", drug="budesonide"),),
    ),
    Action(
        "add_azathioprine",
        gate=Gate(
            _ANTIMETABOLITE_STATES,
            "AIH-IND-03",
            "added during induction, maintenance or second line only",
        ),
        checks=(
            *_antimetabolite_checks("azathioprine", "AIH-IND-03"),
            Refuse(
                "INV-05",
                'TPMT {"status not yet known" if tpmt == "unknown" else "deficient"}',
            ),
            Check("INV-08", "decompensated", "decompensated cirrhosis"),
            Check(
                "INV-07",
                'latest("bilirubin_mg_dl") >= th.thiopurine_max_bilirubin_mg_dl',
                'bilirubin {latest("bilirubin_mg_dl"):g} mg/dL'
                " >= {th.thiopurine_max_bilirubin_mg_dl:g}",
            ),
            Check(
                "INV-08", f"active & {_ACUTE}", "not during acute severe AIH or acute liver failure"
            ),
        ),
        strength=(
            Row('opt.first_line_antimetabolite == "azathioprine"', "should", ("AIH-IND-03",)),
            Row("True", "may", ("AIH-IND-03",)),
        ),
        priority=8,
        doses=(Dose("azathioprine_dose(False)", drug="azathioprine"),),
    ),
    Action(
        "add_mycophenolate",
        gate=Gate(
            _ANTIMETABOLITE_STATES,
            "AIH-IND-04",
            "added during induction, maintenance or second line only",
        ),
        checks=(
            *_antimetabolite_checks("mycophenolate", "AIH-IND-04"),
            Refuse("INV-09", "no mycophenolate when pregnant or planning pregnancy"),
            Check(
                "AIH-IND-04",
                f"active & {_ACUTE}",
                "not during acute severe AIH or acute liver failure",
            ),
        ),
        strength=(
            Row(
                'opt.first_line_antimetabolite == "mycophenolate" or tpmt == "deficient"'
                ' or "azathioprine" in intolerant',
                "should",
                ("AIH-IND-04",),
            ),
            Row("True", "may", ("AIH-IND-04",)),
        ),
        priority=9,
        doses=_MMF_DOSE,
    ),
    Action(
        "taper_steroid",
        checks=(
            Check("AIH-TAP-01", "steroid is None", "no steroid to taper", stop=True),
            Check(
                "AIH-TAP-01",
                "steroid_dose <= taper_target(steroid)",
                "{steroid} already at the maintenance dose {steroid_dose:g} mg",
            ),
            Check(
                "AIH-TAP-01",
                "since_steroid_change < th.taper_interval_days",
                "last dose change {since_steroid_change:g} days ago (< {th.taper_interval_days:g})",
            ),
            Check(
                "AIH-TAP-01",
                'active & {"acute_severe", "acute_liver_failure", "diagnosis", "withdrawal"}',
                "no taper in this phase",
            ),
            Check(
                "AIH-TAP-02",
                'steroid == "budesonide" and (latest("alt_xuln") is None'
                ' or latest("alt_xuln") > th.uln)',
                "budesonide is reduced once transaminases are normal",
            ),
            Check(
                "AIH-TAP-01",
                'steroid != "budesonide" and transaminases_not_halved()',
                "transaminases have not fallen by half",
            ),
        ),
        strength=(
            Row('steroid == "budesonide"', "should", ("AIH-TAP-02",)),
            Row("True", "should", ("AIH-TAP-01",)),
        ),
        priority=11,
        doses=(
            Dose(
                "next_taper_dose(steroid, steroid_dose)",
                drug_expr="steroid",
                when="steroid is not None",
            ),
        ),
    ),
    Action(
        "stop_steroid",
        gate=Gate(
            frozenset({"maintenance"}), "AIH-MNT-01", "the steroid is stopped in maintenance"
        ),
        checks=(
            Check("AIH-MNT-01", "steroid is None", "no steroid to stop", stop=True),
            GATE,
            # AIH-MNT-01 azathioprine; AIH-MNT-04 the other steroid-sparing drugs.
            Check(
                "AIH-MNT-01",
                'not (on("azathioprine") or on("mycophenolate") or on("tacrolimus"))',
                "a steroid-sparing agent (azathioprine, mycophenolate or tacrolimus) must "
                "replace the steroid",
            ),
            Check(
                "AIH-MNT-01",
                "cbr_days < th.steroid_stop_cbr_days",
                "{cbr_days:g} days of CBR (< {th.steroid_stop_cbr_days:g})",
            ),
            Check(
                "AIH-TAP-01",
                "steroid_dose > taper_target(steroid)",
                "taper to the maintenance dose first ({steroid_dose:g} mg)",
            ),
        ),
        strength=(
            Row('on("azathioprine")', "should", ("AIH-MNT-01",)),
            Row("True", "should", ("AIH-MNT-04",)),
        ),
        priority=10,
        doses=(Dose("azathioprine_dose(True)", drug="azathioprine", when='on("azathioprine")'),),
    ),
    Action(
        "switch_to_mycophenolate",
        gate=Gate(
            frozenset({"induction", "response_assessment", "maintenance", "relapse"}),
            "AIH-2L-01",
            "a switch is made from first-line treatment",
        ),
        checks=(
            Check("AIH-2L-01", 'on("mycophenolate")', "already on mycophenolate"),
            Check("AIH-2L-01", '"mycophenolate" in intolerant', "mycophenolate intolerance"),
            Refuse("INV-09", "no mycophenolate when pregnant or planning pregnancy"),
            Check(
                "AIH-SAF-02",
                "severe_cytopenia",
                "severe cytopenia: no antimetabolite until counts recover",
            ),
            GATE,
            Check(
                "AIH-2L-01",
                "not aza_stopped and not failed_response",
                "no azathioprine intolerance and no failed response",
            ),
            Check(
                "AIH-RSP-03",
                "not aza_stopped and failed_response and nonadherent",
                "adherence not confirmed",
            ),
            *_escalation("not aza_stopped and failed_response and not nonadherent"),
        ),
        strength=_switch_rows("AIH-2L-01"),
        priority=6,
        # MMF works best after AZA intolerance (S-SANTIAGO19).
        priority_rows=(('"azathioprine" in intolerant', 0),),
        doses=_MMF_DOSE,
    ),
    Action(
        "switch_to_tacrolimus",
        checks=(
            Check("AIH-2L-02", 'on("tacrolimus")', "already on tacrolimus"),
            Check("AIH-2L-02", '"tacrolimus" in intolerant', "tacrolimus intolerance"),
            Check(
                "AIH-2L-02",
                f"not (active & {_SWITCH_STATES} or mmf_failed)",
                "tacrolimus follows a failed first line",
            ),
            Check(
                "AIH-2L-02",
                "not mmf_failed and not failed_response",
                "no non-response or insufficient response",
            ),
            Check("AIH-RSP-03", "nonadherent", "adherence not confirmed"),
            *_escalation("not nonadherent and not mmf_failed and failed_response"),
        ),
        strength=_switch_rows("AIH-2L-02"),
        priority=5,  # better than MMF after non-response (S-EFE17)
        doses=(Dose("tacrolimus_dose()", drug="tacrolimus"),),
    ),
    Action(
        "start_third_line",
        gate=Gate(
            frozenset({"second_line"}), "AIH-3L-01", "third line follows a failed second line"
        ),
        checks=(
            GATE_STOP,
            Check(
                "AIH-3L-01",
                'not (line_assessed and response == "insufficient_response")',
                "second line not yet judged insufficient at 6 months",
            ),
        ),
        strength=_should("AIH-3L-01"),
        priority=7,
    ),
    Action(
        "attempt_withdrawal",
        gate=Gate(
            frozenset({"maintenance"}), "AIH-WDR-01", "withdrawal is attempted from maintenance"
        ),
        checks=(
            GATE,
            Refuse("INV-11", "relapse after an earlier withdrawal: no second attempt"),
            Check(
                "INV-10",
                "cbr_days < th.withdrawal_min_cbr_days",
                "{cbr_days:g} days of CBR (< {th.withdrawal_min_cbr_days:g})",
            ),
            Check(
                "AIH-WDR-04",
                'opt.withdrawal_criteria == "hasl"'
                " and treatment_days < th.withdrawal_min_treatment_days",
                "{treatment_days:g} days of treatment in total"
                " (< {th.withdrawal_min_treatment_days:g})",
            ),
            Check("AIH-WDR-01", "len(drugs) != 1", "not on monotherapy ({sorted(drugs)})"),
            Check(
                "AIH-WDR-01",
                'latest("alt_xuln") is None or latest("alt_xuln") >= th.withdrawal_max_alt_xuln',
                'ALT {latest("alt_xuln")} x ULN (needs < {th.withdrawal_max_alt_xuln:g})',
            ),
            Check(
                "AIH-WDR-01",
                'latest("igg_xuln") is None or latest("igg_xuln") > th.withdrawal_max_igg_xuln',
                'IgG {latest("igg_xuln")} x ULN (needs <= {th.withdrawal_max_igg_xuln:g})',
            ),
            Check(
                "AIH-WDR-05",
                "opt.withdrawal_biopsy and not biopsy_in_this_response",
                "no biopsy with histological remission (HAI <= 3) in this response",
            ),
            Check(
                "AIH-WDR-01",
                'cirrhosis != "none"',
                "cirrhosis: withdrawal evidence is non-cirrhotic",
            ),
            Refuse("INV-12", "not during pregnancy or the first 3 months postpartum"),
        ),
        strength=(
            Row('opt.withdrawal_criteria == "hasl"', "should", ("AIH-WDR-01", "AIH-WDR-04")),
            Row("True", "should", ("AIH-WDR-01",)),
        ),
        priority=12,
    ),
    Action(
        "reinduce",
        gate=Gate(
            frozenset({"relapse", "recurrent_aih"}),
            "AIH-REL-01",
            "re-induction treats a relapse or recurrent AIH in the graft",
        ),
        checks=(
            GATE_STOP,
            Check("AIH-REL-01", "reinduced", "already re-induced for this flare"),
        ),
        strength=(
            Row('"recurrent_aih" in active', "must", ("AIH-PLT-01",)),
            Row("True", "must", ("AIH-REL-01",)),
        ),
        priority=2,
        doses=(Dose("prednisolone_dose(False)", drug="prednisolone"),),
    ),
    Action(
        "optimise_treatment",
        gate=Gate(
            frozenset({"response_assessment", "maintenance"}),
            "AIH-RSP-05",
            "optimisation answers a failed response in first line or a loss of response on "
            "maintenance",
        ),
        checks=(
            GATE_STOP,
            Check(
                "AIH-MNT-05",
                '"maintenance" in active and response != "loss_of_response"',
                "no loss of response on maintenance",
            ),
            Check(
                "AIH-RSP-05",
                '"maintenance" not in active'
                ' and response not in ("non_response", "insufficient_response")',
                "no non-response or insufficient response",
            ),
            Check(
                "AIH-RSP-05",
                "optimised_day is not None",
                "already optimised on day {optimised_day:g}: reassess first",
            ),
        ),
        strength=(
            Row('"maintenance" in active', "should", ("AIH-MNT-05",)),
            Row("True", "should", ("AIH-RSP-05",)),
        ),
        priority=4,  # before any second line (AIH-RSP-05)
        doses=(
            Dose(
                'max(dose("azathioprine") or 0.0, azathioprine_dose(True))',
                drug="azathioprine",
                when='on("azathioprine")',
            ),
            Dose(
                "optimised_steroid()[1]",
                drug_expr="optimised_steroid()[0]",
                when="optimised_steroid() is not None",
            ),
        ),
    ),
    Action(
        "refer_transplant",
        checks=(
            Check(
                "AIH-LT-01",
                'active & {"transplant", "post_transplant"}',
                "already in transplant care",
                stop=True,
            ),
            Check(
                "AIH-LT-01",
                "not transplant_indicated()",
                "no indication: MELD < {th.transplant_meld:g}, no decompensation, HCC or failure",
            ),
        ),
        strength=(
            Row("transplant_must_rules()", "must", rules_expr="transplant_must_rules()"),
            Row("True", "should", rules_expr="transplant_rules()"),
        ),
        priority=1,
    ),
    Action(
        "observe_untreated",
        gate=Gate(frozenset({"diagnosis"}), "AIH-TRI-04", "observation is chosen at diagnosis"),
        checks=(
            GATE,
            Check(
                "AIH-TRI-03",
                "disease_active",
                "active disease (transaminases > 3 x ULN) is treated",
            ),
            Check(
                "AIH-TRI-04",
                'presentation != "chronic" or cirrhosis != "none"',
                "observation only for mild, non-cirrhotic disease",
            ),
        ),
        strength=_should("AIH-TRI-04"),
        priority=13,
    ),
    Action("continue", priority=14),
)

#: The reasons to refer for transplant now, in order, with the strength each asks for.
TRANSPLANT_INDICATIONS: tuple[Check | Stop, ...] = (
    Check(
        "AIH-ALF-01",
        '"acute_liver_failure" in active or encephalopathy',
        "hepatic encephalopathy (AIH with acute liver failure)",
        level="must",
    ),
    Stop(
        '"acute_severe" in active and acute_review_day is None',
        "AIH-ASA-01: the day-7 review is the decision point",
    ),
    Check(
        "AIH-ASA-01",
        '"acute_severe" in active and not acute_improving',
        "no improvement at the acute severe review",
        level="must",
    ),
    Check(
        "AIH-LT-01",
        'latest("meld") >= th.transplant_meld and not acute_recovering',
        'MELD {latest("meld"):g} >= {th.transplant_meld:g}',
        level="should",
    ),
    Check("AIH-LT-02", "decompensated", "decompensated cirrhosis", level="should"),
    Check("AIH-LT-03", "hcc", "hepatocellular carcinoma", level="should"),
)

#: The compiled declarations: actions in vocabulary order, invariants, indication list.
RULEBOOK = Rulebook(
    SCHEMA,
    ACTIONS,
    INVARIANT_DECLARATIONS,
    lists={"transplant_indications": TRANSPLANT_INDICATIONS},
    default_action="continue",
    default_strength=Row("True", "may", ("AIH-GEN-01",)),
)

#: Routing conditions the chart's guards ask (AIH-RSP-04 relapse ALT: S-VGERVEN13).
CONDITIONS: dict[str, Expr] = {
    name: RULEBOOK.expr(text, f"condition {name!r}")
    for name, text in {
        "presents_acute_severe": "presents_acute_severe",
        "disease_active": "disease_active",
        "relapse_labs": 'latest("alt_xuln") > th.relapse_alt_xuln',
        "cbr_reached": 'response == "complete_biochemical_response"',
        "late_response": 'response == "complete_biochemical_response"'
        ' and fired("month6_assessment") > 0',
        "response_regained": 'reinduced and response == "complete_biochemical_response"',
        "steroid_stopped": "steroid is None",
        "optimisation_changes_steroid": "optimised_steroid() is not None",
        "taper_reaches_target": "steroid is not None"
        " and next_taper_dose(steroid, steroid_dose) <= taper_target(steroid)",
        "transplant_indication_resolved": "not encephalopathy and not transplant_indicated()"
        " and cbr_on_latest_panel()",
        "cbr_days": "cbr_days",
    }.items()
}


def condition(name: str, c: Ctx) -> Any:
    """The named condition's value for this patient now (see :data:`CONDITIONS`)."""
    return CONDITIONS[name].fn(c.p, c.th, c.opt, c.active)


def disease_active(p: PatientRecord, th: Thresholds) -> bool:
    """Active disease: a transaminase > 3 x ULN (AIH-TRI-03; EASL 2015 [V-sec])."""
    return bool(CONDITIONS["disease_active"].fn(p, th, None, frozenset()))


def presents_acute_severe(p: PatientRecord, th: Thresholds) -> bool:
    """Acute severe AIH: the presentation, or jaundice with INR >= 1.5 and no HE (AIH-TRI-01)."""
    return bool(CONDITIONS["presents_acute_severe"].fn(p, th, None, frozenset()))


def cbr_days(p: PatientRecord) -> float:
    """Days of sustained complete biochemical response up to now (0 when not in CBR)."""
    days: float = CONDITIONS["cbr_days"].fn(p, None, None, frozenset())
    return days


def transplant_indications(c: Ctx) -> list[tuple[str, str, Strength]]:
    """The reasons to refer for transplant now: (rule id, reason, strength)."""
    return [
        (r, m, level or "should") for r, m, level in RULEBOOK.findings("transplant_indications", c)
    ]


def evaluate(c: Ctx) -> dict[str, list[Breach]]:
    """The breaches of every action at once (``continue`` derived from the others)."""
    return RULEBOOK.evaluate(c)


def allowed_actions(c: Ctx) -> list[str]:
    """The actions without breaches now, in vocabulary order (``continue`` last)."""
    return RULEBOOK.allowed(c)


def strength(action: str, c: Ctx) -> tuple[Strength, list[str]]:
    """How strongly the guideline asks for an allowed ``action`` now, and the rules behind it."""
    return RULEBOOK.strength(action, c)


def priority(action: str, c: Ctx) -> int:
    """Order among actions of equal strength (lower first)."""
    return RULEBOOK.priority(action, c)


def rank_key(action: str, level: Strength, c: Ctx) -> tuple[int, int]:
    """Sort key of a recommendation: strength first, then priority; ``continue`` heads the mays."""
    return RULEBOOK.rank_key(action, level, c)


def doses(action: str, c: Ctx) -> dict[str, float | None]:
    """Doses (mg/day) ``action`` would give now, for display with the recommendation."""
    return RULEBOOK.doses(action, c)


ACTION_CHECKS: dict[str, Callable[[Ctx], list[Breach]]] = {
    action.id: partial(RULEBOOK.breaches, action.id) for action in ACTIONS
}
"""Every clinician action of the vocabulary and the check that governs it."""
