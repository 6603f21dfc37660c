"""The hand-written AIH rules, invariant checks and dose rules as they were before issue 13.

Kept only as the oracle of tests/test_declarations.py: the declarative rules
(pathway.guidelines.aih.rules, .safety) must give exactly what these gave. Not used by the
package. Copied verbatim apart from imports.
"""

from __future__ import annotations

# ruff: noqa
# mypy: ignore-errors

from collections.abc import Callable, Set
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pathway.guidelines.aih.timers import next_lab_day

from pathway.guidelines.aih import dosing, response
from pathway.guidelines.aih.dosing import taper_target
from pathway.guidelines.aih.options import GuidelineOptions
from pathway.guidelines.aih.patient import PatientRecord
from pathway.guidelines.aih.thresholds import Thresholds

__all__ = [
    "ACTION_CHECKS",
    "Breach",
    "Ctx",
    "Strength",
    "acute_improving",
    "disease_active",
    "evaluate",
    "presents_acute_severe",
    "strength",
]

Strength = Literal["must", "should", "may"]

#: States from which the first line may add an antimetabolite.
_ANTIMETABOLITE_STATES = frozenset(
    {"induction", "response_assessment", "maintenance", "relapse", "second_line"}
)
_SWITCH_STATES = frozenset({"induction", "response_assessment", "maintenance", "relapse"})
_NOT_REFERRABLE = frozenset({"transplant", "post_transplant"})
_ACUTE_EPISODE = frozenset({"acute_severe", "first_line"})
#: Drugs that let the steroid stop (AIH-MNT-01 azathioprine; AIH-MNT-04 the others).
_STEROID_SPARING = ("azathioprine", "mycophenolate", "tacrolimus")

#: Care states outside which an action is never recommended: (states, rule id, reason).
#: The checks below report this breach; recommendations use it to skip a check early.
_GATES: dict[str, tuple[frozenset[str], str, str]] = {
    "start_budesonide": (
        frozenset({"diagnosis", "observation"}),
        "AIH-IND-02",
        "budesonide is a first-line induction option only",
    ),
    "add_azathioprine": (
        _ANTIMETABOLITE_STATES,
        "AIH-IND-03",
        "added during induction, maintenance or second line only",
    ),
    "add_mycophenolate": (
        _ANTIMETABOLITE_STATES,
        "AIH-IND-04",
        "added during induction, maintenance or second line only",
    ),
    "stop_steroid": (
        frozenset({"maintenance"}),
        "AIH-MNT-01",
        "the steroid is stopped in maintenance",
    ),
    "switch_to_mycophenolate": (
        _SWITCH_STATES,
        "AIH-2L-01",
        "a switch is made from first-line treatment",
    ),
    "start_third_line": (
        frozenset({"second_line"}),
        "AIH-3L-01",
        "third line follows a failed second line",
    ),
    "attempt_withdrawal": (
        frozenset({"maintenance"}),
        "AIH-WDR-01",
        "withdrawal is attempted from maintenance",
    ),
    "optimise_treatment": (
        frozenset({"response_assessment", "maintenance"}),
        "AIH-RSP-05",
        "optimisation answers a failed response in first line or a loss of response on maintenance",
    ),
    "reinduce": (
        frozenset({"relapse", "recurrent_aih"}),
        "AIH-REL-01",
        "re-induction treats a relapse or recurrent AIH in the graft",
    ),
    "observe_untreated": (
        frozenset({"diagnosis"}),
        "AIH-TRI-04",
        "observation is chosen at diagnosis",
    ),
}


def _gate(action: str, c: Ctx) -> list[Breach]:
    """The breach of ``action``'s care-state gate, or an empty list when inside it."""
    states, rule_id, reason = _GATES[action]
    return [] if c.active & states else [Breach(rule_id, reason)]


class Ctx(NamedTuple):
    """What a rule may look at: the record, thresholds, options and active state ids."""

    p: PatientRecord
    th: Thresholds
    opt: GuidelineOptions
    active: Set[str]


@dataclass(frozen=True, slots=True)
class Breach:
    """One reason against an action: the rule id and what was found."""

    rule_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.message}"


# --- facts ------------------------------------------------------------------------------


def disease_active(p: PatientRecord, th: Thresholds) -> bool:
    """Active disease: a transaminase > 3 x ULN (AIH-TRI-03; EASL 2015 [V-sec])."""
    return any(
        (v := p.latest(a)) is not None and v > th.active_transaminase_xuln
        for a in ("alt_xuln", "ast_xuln")
    )


def presents_acute_severe(p: PatientRecord, th: Thresholds) -> bool:
    """Acute severe AIH: the presentation, or jaundice with INR >= 1.5 and no HE (AIH-TRI-01)."""
    if p.encephalopathy:
        return False
    if p.presentation == "acute_severe":
        return True
    if p.cirrhosis != "none":
        return False  # jaundice with a high INR in cirrhosis is decompensation, not AS-AIH
    bili, inr = p.latest("bilirubin_mg_dl"), p.latest("inr")
    return (
        bili is not None
        and inr is not None
        and bili >= th.jaundice_bilirubin_mg_dl
        and inr >= th.acute_severe_inr
    )


def acute_improving(p: PatientRecord) -> bool:
    """Day-7 improvement in acute severe AIH (AIH-ASA-01) [MODEL]: bilirubin and INR fell.

    The evidence uses the change in UKELD/MELD (S-YEOMAN11); with the vocabulary's labs,
    improvement is read as bilirubin below and INR not above the treatment baseline, or
    MELD down by at least 2 where both MELDs are known.
    """
    base, now = p.treatment_baseline, p.latest_panel()
    if base is None:
        return False
    meld_day = p.latest_day("meld")
    # Use MELD only when one was measured since the baseline, not carried forward.
    remeasured = meld_day is not None and meld_day > base.day
    if base.meld is not None and now.meld is not None and remeasured:
        return now.meld <= base.meld - 2
    if base.bilirubin_mg_dl is None or now.bilirubin_mg_dl is None:
        return False
    inr_ok = base.inr is None or now.inr is None or now.inr <= base.inr
    return now.bilirubin_mg_dl < base.bilirubin_mg_dl and inr_ok


def treatment_days(p: PatientRecord) -> float:
    """Days since the first treatment course started (0 when never treated) (AIH-WDR-04)."""
    return 0.0 if p.first_treatment_day is None else p.day - p.first_treatment_day


def cbr_days(p: PatientRecord) -> float:
    """Days of sustained complete biochemical response up to now (0 when not in CBR)."""
    return 0.0 if p.cbr_since_day is None else p.day - p.cbr_since_day


def transplant_indications(c: Ctx) -> list[tuple[str, str, Strength]]:
    """The reasons to refer for transplant now: (rule id, reason, strength)."""
    p, th, active = c.p, c.th, c.active
    found: list[tuple[str, str, Strength]] = []
    if "acute_liver_failure" in active or p.encephalopathy:
        found.append(
            ("AIH-ALF-01", "hepatic encephalopathy (AIH with acute liver failure)", "must")
        )
    if "acute_severe" in active:
        if p.acute_review_day is None:
            return found  # AIH-ASA-01: the day-7 review is the decision point
        if not p.acute_improving:
            found.append(("AIH-ASA-01", "no improvement at the acute severe review", "must"))
    meld = p.latest("meld")
    # An improving acute severe episode (AIH-ASA-01) explains a high MELD only during that
    # episode: its steroid course up to the first-line assessment, not for life.
    acute_recovering = (
        p.presentation == "acute_severe"
        and p.acute_improving is True
        and bool(active & _ACUTE_EPISODE)
    )
    if meld is not None and meld >= th.transplant_meld and not acute_recovering:
        found.append(("AIH-LT-01", f"MELD {meld:g} >= {th.transplant_meld:g}", "should"))
    if p.decompensated:
        found.append(("AIH-LT-02", "decompensated cirrhosis", "should"))
    if p.hcc:
        found.append(("AIH-LT-03", "hepatocellular carcinoma", "should"))
    return found


# --- checks: one per clinician action -------------------------------------------------


def budesonide_contraindicated(c: Ctx) -> str | None:
    """The invariant budesonide breaks for this patient now (INV-01, INV-02), or ``None``."""
    p = c.p
    if p.cirrhosis != "none" or p.decompensated:
        return "INV-01"
    if p.presentation != "chronic" or c.active & {"acute_severe", "acute_liver_failure"}:
        return "INV-02"
    return None


def check_start_prednisolone(c: Ctx) -> list[Breach]:
    p, active = c.p, c.active
    out: list[Breach] = []
    if p.steroid == "budesonide" and budesonide_contraindicated(c):
        return out  # replace a contraindicated budesonide wherever the patient is (INV-17)
    if p.steroid:
        out.append(Breach("AIH-IND-01", f"already on {p.steroid}"))
    if "acute_liver_failure" in active:
        out.append(Breach("INV-14", "refer for transplant before any steroid trial in ALF"))
    elif "transplant" in active:
        if not p.encephalopathy and p.acute_review_day is None:
            out.append(Breach("AIH-IND-01", "no steroid trial is indicated while listed"))
    elif not active & {"diagnosis", "observation"}:
        out.append(
            Breach(
                "AIH-IND-01",
                "induction starts at diagnosis or from observation; "
                "a flare is treated with reinduce",
            )
        )
    return out


def check_start_budesonide(c: Ctx) -> list[Breach]:
    p = c.p
    out: list[Breach] = []
    if p.steroid:
        out.append(Breach("AIH-IND-02", f"already on {p.steroid}"))
    match budesonide_contraindicated(c):
        case "INV-01":
            out.append(
                Breach("INV-01", f"budesonide is contraindicated in cirrhosis ({p.cirrhosis})")
            )
        case "INV-02":
            out.append(Breach("INV-02", "no budesonide in acute severe AIH or acute liver failure"))
    out += _gate("start_budesonide", c)
    return out


def _antimetabolite_common(c: Ctx, drug: str, rule: str) -> list[Breach]:
    p, th, active = c.p, c.th, c.active
    out: list[Breach] = []
    if p.antimetabolite:
        out.append(Breach(rule, f"already on {p.antimetabolite}"))
    if p.on("tacrolimus"):
        out.append(Breach(rule, "on tacrolimus second line"))
    if drug in p.intolerant:
        out.append(Breach(rule, f"{drug} intolerance"))
    out += _gate("add_azathioprine" if drug == "azathioprine" else "add_mycophenolate", c)
    if p.severe_cytopenia:
        out.append(Breach("INV-08", "severe cytopenia"))
    if "induction" in active and p.steroid:
        since = c.p.days_since(p.steroid_start_day) or 0.0
        if since < th.thiopurine_delay_days:
            out.append(
                Breach(
                    "INV-07",
                    f"{since:g} days since the steroid start (< {th.thiopurine_delay_days:g})",
                )
            )
    return out


def check_add_azathioprine(c: Ctx) -> list[Breach]:
    p, th = c.p, c.th
    out = _antimetabolite_common(c, "azathioprine", "AIH-IND-03")
    if p.tpmt == "unknown":
        out.append(Breach("INV-05", "TPMT status not yet known"))
    elif p.tpmt == "deficient":
        out.append(Breach("INV-05", "TPMT deficient"))
    if p.decompensated:
        out.append(Breach("INV-08", "decompensated cirrhosis"))
    bili = p.latest("bilirubin_mg_dl")
    if bili is not None and bili >= th.thiopurine_max_bilirubin_mg_dl:
        out.append(
            Breach("INV-07", f"bilirubin {bili:g} mg/dL >= {th.thiopurine_max_bilirubin_mg_dl:g}")
        )
    if c.active & {"acute_severe", "acute_liver_failure"}:
        out.append(Breach("INV-08", "not during acute severe AIH or acute liver failure"))
    return out


def check_add_mycophenolate(c: Ctx) -> list[Breach]:
    out = _antimetabolite_common(c, "mycophenolate", "AIH-IND-04")
    if c.p.pregnancy in ("planned", "pregnant"):
        out.append(Breach("INV-09", "no mycophenolate when pregnant or planning pregnancy"))
    if c.active & {"acute_severe", "acute_liver_failure"}:
        out.append(Breach("AIH-IND-04", "not during acute severe AIH or acute liver failure"))
    return out


def check_taper_steroid(c: Ctx) -> list[Breach]:
    p, th = c.p, c.th
    drug = p.steroid
    if drug is None:
        return [Breach("AIH-TAP-01", "no steroid to taper")]
    out: list[Breach] = []
    dose = p.dose(drug) or 0.0
    if dose <= taper_target(drug, th):
        out.append(Breach("AIH-TAP-01", f"{drug} already at the maintenance dose {dose:g} mg"))
    since = p.days_since(p.steroid_change_day) or 0.0
    if since < th.taper_interval_days:
        out.append(
            Breach(
                "AIH-TAP-01", f"last dose change {since:g} days ago (< {th.taper_interval_days:g})"
            )
        )
    if c.active & {"acute_severe", "acute_liver_failure", "diagnosis", "withdrawal"}:
        out.append(Breach("AIH-TAP-01", "no taper in this phase"))
    if drug == "budesonide":
        alt = p.latest("alt_xuln")
        if alt is None or alt > th.uln:
            out.append(Breach("AIH-TAP-02", "budesonide is reduced once transaminases are normal"))
    else:
        base = p.treatment_baseline
        latest = p.latest_panel()
        if base is None or response.is_non_response(base, latest, th):
            out.append(Breach("AIH-TAP-01", "transaminases have not fallen by half"))
    return out


def check_stop_steroid(c: Ctx) -> list[Breach]:
    p, th = c.p, c.th
    out: list[Breach] = []
    if p.steroid is None:
        return [Breach("AIH-MNT-01", "no steroid to stop")]
    out += _gate("stop_steroid", c)
    if not any(p.on(drug) for drug in _STEROID_SPARING):
        out.append(
            Breach(
                "AIH-MNT-01",
                "a steroid-sparing agent (azathioprine, mycophenolate or tacrolimus) must "
                "replace the steroid",
            )
        )
    if cbr_days(p) < th.steroid_stop_cbr_days:
        out.append(
            Breach("AIH-MNT-01", f"{cbr_days(p):g} days of CBR (< {th.steroid_stop_cbr_days:g})")
        )
    dose = p.dose(p.steroid) or 0.0
    if dose > taper_target(p.steroid, th):
        out.append(Breach("AIH-TAP-01", f"taper to the maintenance dose first ({dose:g} mg)"))
    return out


def _second_line_reason(c: Ctx) -> str | None:
    """The failed response that can justify a second line now, or ``None``."""
    p = c.p
    if p.response in ("non_response", "insufficient_response"):
        return p.response
    if p.response == "loss_of_response" and "maintenance" in c.active:
        return p.response  # AIH-MNT-05: a loss of response that persists after optimisation
    return None


def _escalation_breaches(c: Ctx) -> list[Breach]:
    """AIH-RSP-05: a failed response in first line or on maintenance is optimised and
    reassessed before a second line (KB T10 "optimise the dose, then second-line" [R];
    G-HASL: CBR by 6-12 months [V]). Relapses and later lines keep their own rules."""
    p = c.p
    if not c.active & {"first_line", "maintenance"}:
        return []
    if p.on("budesonide"):
        return [Breach("AIH-RSP-05", "budesonide non-response: predniso(lo)ne first")]
    if p.optimised_day is None:
        return [Breach("AIH-RSP-05", "adherence and doses not yet optimised")]
    if not p.failure_confirmed:
        return [
            Breach(
                "AIH-RSP-05",
                f"optimised on day {p.optimised_day:g}: reassessment pending",
            )
        ]
    return []


def check_switch_to_mycophenolate(c: Ctx) -> list[Breach]:
    p = c.p
    out: list[Breach] = []
    if p.on("mycophenolate"):
        out.append(Breach("AIH-2L-01", "already on mycophenolate"))
    if "mycophenolate" in p.intolerant:
        out.append(Breach("AIH-2L-01", "mycophenolate intolerance"))
    if p.pregnancy in ("planned", "pregnant"):
        out.append(Breach("INV-09", "no mycophenolate when pregnant or planning pregnancy"))
    if p.severe_cytopenia:
        out.append(Breach("AIH-SAF-02", "severe cytopenia: no antimetabolite until counts recover"))
    out += _gate("switch_to_mycophenolate", c)
    aza_stopped = "azathioprine" in p.intolerant and not p.antimetabolite
    if not aza_stopped:
        if _second_line_reason(c) is None:
            out.append(Breach("AIH-2L-01", "no azathioprine intolerance and no failed response"))
        elif p.nonadherent:
            out.append(Breach("AIH-RSP-03", "adherence not confirmed"))
        else:
            out += _escalation_breaches(c)
    return out


def check_switch_to_tacrolimus(c: Ctx) -> list[Breach]:
    p = c.p
    out: list[Breach] = []
    if p.on("tacrolimus"):
        out.append(Breach("AIH-2L-02", "already on tacrolimus"))
    if "tacrolimus" in p.intolerant:
        out.append(Breach("AIH-2L-02", "tacrolimus intolerance"))
    mmf_failed = "second_line" in c.active and "mycophenolate" in p.intolerant
    if not (c.active & _SWITCH_STATES or mmf_failed):
        out.append(Breach("AIH-2L-02", "tacrolimus follows a failed first line"))
    if not mmf_failed and _second_line_reason(c) is None:
        out.append(Breach("AIH-2L-02", "no non-response or insufficient response"))
    if p.nonadherent:
        out.append(Breach("AIH-RSP-03", "adherence not confirmed"))
    elif not mmf_failed and _second_line_reason(c) is not None:
        out += _escalation_breaches(c)
    return out


def check_start_third_line(c: Ctx) -> list[Breach]:
    p = c.p
    if gate := _gate("start_third_line", c):
        return gate
    if not (p.line_assessed and p.response == "insufficient_response"):
        return [Breach("AIH-3L-01", "second line not yet judged insufficient at 6 months")]
    return []


def check_attempt_withdrawal(c: Ctx) -> list[Breach]:
    p, th = c.p, c.th
    out: list[Breach] = []
    out += _gate("attempt_withdrawal", c)
    if p.relapsed_after_withdrawal:
        out.append(Breach("INV-11", "relapse after an earlier withdrawal: no second attempt"))
    if cbr_days(p) < th.withdrawal_min_cbr_days:
        out.append(
            Breach("INV-10", f"{cbr_days(p):g} days of CBR (< {th.withdrawal_min_cbr_days:g})")
        )
    treated = treatment_days(p)
    if c.opt.withdrawal_criteria == "hasl" and treated < th.withdrawal_min_treatment_days:
        out.append(
            Breach(
                "AIH-WDR-04",
                f"{treated:g} days of treatment in total (< {th.withdrawal_min_treatment_days:g})",
            )
        )
    if len(p.drugs) != 1:
        out.append(Breach("AIH-WDR-01", f"not on monotherapy ({sorted(p.drugs)})"))
    alt, igg = p.latest("alt_xuln"), p.latest("igg_xuln")
    if alt is None or alt >= th.withdrawal_max_alt_xuln:
        out.append(
            Breach("AIH-WDR-01", f"ALT {alt} x ULN (needs < {th.withdrawal_max_alt_xuln:g})")
        )
    if igg is None or igg > th.withdrawal_max_igg_xuln:
        out.append(
            Breach("AIH-WDR-01", f"IgG {igg} x ULN (needs <= {th.withdrawal_max_igg_xuln:g})")
        )
    if c.opt.withdrawal_biopsy and not _biopsy_in_this_response(p):
        out.append(
            Breach(
                "AIH-WDR-05", "no biopsy with histological remission (HAI <= 3) in this response"
            )
        )
    if p.cirrhosis != "none":
        out.append(Breach("AIH-WDR-01", "cirrhosis: withdrawal evidence is non-cirrhotic"))
    if p.pregnancy != "none":
        out.append(Breach("INV-12", "not during pregnancy or the first 3 months postpartum"))
    return out


def _biopsy_in_this_response(p: PatientRecord) -> bool:
    """A biopsy showed histological remission since the current complete response began."""
    biopsy, since = p.remission_biopsy_day, p.cbr_since_day
    return biopsy is not None and since is not None and biopsy >= since


def check_optimise_treatment(c: Ctx) -> list[Breach]:
    p = c.p
    if gate := _gate("optimise_treatment", c):
        return gate
    out: list[Breach] = []
    failed = p.response in ("non_response", "insufficient_response")
    if "maintenance" in c.active:
        if p.response != "loss_of_response":
            out.append(Breach("AIH-MNT-05", "no loss of response on maintenance"))
    elif not failed:
        out.append(Breach("AIH-RSP-05", "no non-response or insufficient response"))
    if p.optimised_day is not None:
        out.append(
            Breach("AIH-RSP-05", f"already optimised on day {p.optimised_day:g}: reassess first")
        )
    return out


def check_reinduce(c: Ctx) -> list[Breach]:
    if gate := _gate("reinduce", c):
        return gate
    if c.p.reinduced:
        return [Breach("AIH-REL-01", "already re-induced for this flare")]
    return []


def check_refer_transplant(c: Ctx) -> list[Breach]:
    if c.active & _NOT_REFERRABLE:
        return [Breach("AIH-LT-01", "already in transplant care")]
    if not transplant_indications(c):
        return [
            Breach(
                "AIH-LT-01",
                f"no indication: MELD < {c.th.transplant_meld:g}, "
                "no decompensation, HCC or failure",
            )
        ]
    return []


def check_observe_untreated(c: Ctx) -> list[Breach]:
    p, th = c.p, c.th
    out: list[Breach] = []
    out += _gate("observe_untreated", c)
    if disease_active(p, th):
        out.append(Breach("AIH-TRI-03", "active disease (transaminases > 3 x ULN) is treated"))
    if p.presentation != "chronic" or p.cirrhosis != "none":
        out.append(Breach("AIH-TRI-04", "observation only for mild, non-cirrhotic disease"))
    return out


def check_continue(c: Ctx) -> list[Breach]:
    return evaluate(c)["continue"]


def evaluate(c: Ctx) -> dict[str, list[Breach]]:
    """The breaches of every action at once (``continue`` derived from the others)."""
    out = {action: check(c) for action, check in _CHECKS_BUT_CONTINUE}
    out["continue"] = _continue_breaches([a for a, breaches in out.items() if not breaches], c)
    return out


def allowed_actions(c: Ctx) -> list[str]:
    """The actions without breaches now, in vocabulary order (``continue`` last).

    The same answer as the empty entries of :func:`evaluate`, faster: an action outside its
    care-state gate is known to be breached without running its other checks.
    """
    active = c.active
    allowed = [
        action
        for action, check, gate in _GATED_CHECKS
        if (gate is None or active & gate) and not check(c)
    ]
    if not _continue_breaches(allowed, c):
        allowed.append("continue")
    return allowed


def _continue_breaches(allowed: list[str], c: Ctx) -> list[Breach]:
    """``continue`` is breached by every allowed action that a rule makes mandatory now."""
    return [
        Breach(rule_id, f"{action} is required")
        for action in allowed
        if (rule_id := _must_rule(action, c)) is not None
    ]


def _must_rule(action: str, c: Ctx) -> str | None:
    """The rule id that makes ``action`` mandatory now, or ``None``."""
    p, th, active = c.p, c.th, c.active
    if action == "start_prednisolone":
        if p.steroid == "budesonide" and (rule_id := budesonide_contraindicated(c)):
            return rule_id
        if "diagnosis" in active and presents_acute_severe(p, th):
            return "AIH-TRI-01"
        if active & {"diagnosis", "observation"} and disease_active(p, th):
            return "AIH-TRI-03"
    elif action == "refer_transplant":
        for rule_id, _, level in transplant_indications(c):
            if level == "must":
                return rule_id
    elif action == "reinduce":
        return "AIH-PLT-01" if "recurrent_aih" in active else "AIH-REL-01"
    return None


ACTION_CHECKS: dict[str, Callable[[Ctx], list[Breach]]] = {
    "start_prednisolone": check_start_prednisolone,
    "start_budesonide": check_start_budesonide,
    "add_azathioprine": check_add_azathioprine,
    "add_mycophenolate": check_add_mycophenolate,
    "taper_steroid": check_taper_steroid,
    "stop_steroid": check_stop_steroid,
    "switch_to_mycophenolate": check_switch_to_mycophenolate,
    "switch_to_tacrolimus": check_switch_to_tacrolimus,
    "start_third_line": check_start_third_line,
    "attempt_withdrawal": check_attempt_withdrawal,
    "reinduce": check_reinduce,
    "optimise_treatment": check_optimise_treatment,
    "refer_transplant": check_refer_transplant,
    "observe_untreated": check_observe_untreated,
    "continue": check_continue,
}
"""Every clinician action of the vocabulary and the check that governs it."""

_CHECKS_BUT_CONTINUE = tuple((a, f) for a, f in ACTION_CHECKS.items() if a != "continue")
_GATED_CHECKS = tuple(
    (a, f, gate[0] if (gate := _GATES.get(a)) is not None else None)
    for a, f in _CHECKS_BUT_CONTINUE
)


# --- strength and rank -------------------------------------------------------------------


def strength(action: str, c: Ctx) -> tuple[Strength, list[str]]:
    """How strongly the guideline asks for an allowed ``action`` now, and the rules behind it."""
    p = c.p
    must = _must_rule(action, c)
    if must is not None:
        return "must", [must]
    match action:
        case "start_prednisolone":
            if "diagnosis" in c.active and check_observe_untreated(c):
                return "should", ["AIH-IND-01", "AIH-TRI-04"]  # not a case for observation
            return "may", ["AIH-IND-01"]
        case "start_budesonide":
            # Ranked below predniso(lo)ne: inferior in real-world use (S-DIAZ23).
            return "may", ["AIH-IND-02"]
        case "add_azathioprine":
            first = c.opt.first_line_antimetabolite == "azathioprine"
            return ("should" if first else "may"), ["AIH-IND-03"]
        case "add_mycophenolate":
            aza_impossible = p.tpmt == "deficient" or "azathioprine" in p.intolerant
            first = c.opt.first_line_antimetabolite == "mycophenolate"
            return ("should" if first or aza_impossible else "may"), ["AIH-IND-04"]
        case "switch_to_mycophenolate":
            failed = _failure_rules(c)
            return "should", ["AIH-2L-01", *failed]
        case "switch_to_tacrolimus":
            failed = _failure_rules(c)
            return "should", ["AIH-2L-02", *failed]
        case "optimise_treatment":
            lost = "maintenance" in c.active
            return "should", ["AIH-MNT-05" if lost else "AIH-RSP-05"]
        case "refer_transplant":
            return "should", [rule_id for rule_id, _, _ in transplant_indications(c)]
        case "taper_steroid":
            return "should", ["AIH-TAP-02" if p.steroid == "budesonide" else "AIH-TAP-01"]
        case "stop_steroid":
            return "should", ["AIH-MNT-01" if p.on("azathioprine") else "AIH-MNT-04"]
        case "start_third_line":
            return "should", ["AIH-3L-01"]
        case "attempt_withdrawal":
            hasl = c.opt.withdrawal_criteria == "hasl"
            return "should", ["AIH-WDR-01", "AIH-WDR-04"] if hasl else ["AIH-WDR-01"]
        case "observe_untreated":
            return "should", ["AIH-TRI-04"]
        case _:
            return "may", ["AIH-GEN-01"]


def _failure_rules(c: Ctx) -> list[str]:
    """Rules behind a switch for a failed response (none for a switch after intolerance)."""
    reason = _second_line_reason(c)
    if reason is None:
        return []
    if c.active & {"first_line", "maintenance"}:
        return ["AIH-RSP-03", "AIH-MNT-05" if reason == "loss_of_response" else "AIH-RSP-05"]
    return ["AIH-RSP-03"]


def priority(action: str, c: Ctx) -> int:
    """Order among actions of equal strength (lower first)."""
    if action == "switch_to_mycophenolate" and "azathioprine" in c.p.intolerant:
        return 0  # MMF works best after AZA intolerance (S-SANTIAGO19)
    return _PRIORITY[action]


_PRIORITY = {
    action: i
    for i, action in enumerate(
        (
            "refer_transplant",
            "reinduce",
            "start_prednisolone",
            "optimise_treatment",  # before any second line (AIH-RSP-05)
            "switch_to_tacrolimus",  # better than MMF after non-response (S-EFE17)
            "switch_to_mycophenolate",
            "start_third_line",
            "add_azathioprine",
            "add_mycophenolate",
            "stop_steroid",
            "taper_steroid",
            "attempt_withdrawal",
            "observe_untreated",
            "continue",
            "start_budesonide",
        ),
        start=1,
    )
}

_STRENGTH_ORDER: dict[Strength, int] = {"must": 0, "should": 1, "may": 2}


def rank_key(action: str, level: Strength, c: Ctx) -> tuple[int, int]:
    """Sort key of a recommendation: strength first, then priority; ``continue`` heads the mays."""
    order = _STRENGTH_ORDER[level]
    return (order, -1 if action == "continue" else priority(action, c))


# --- invariants (pathway/invariants.py) ---

_EPS = 1e-9

InvCheck = Callable[[PatientRecord, Thresholds, Set[str], Any], str | None]


def _inv01(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if p.on("budesonide") and (p.cirrhosis != "none" or p.decompensated):
        return f"budesonide with cirrhosis ({p.cirrhosis})"
    return None


def _inv02(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if p.on("budesonide") and (
        p.presentation != "chronic" or a & {"acute_severe", "acute_liver_failure"}
    ):
        return f"budesonide with the {p.presentation} presentation"
    return None


def _inv03(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    dose = p.dose("budesonide")
    if dose is not None and dose > th.budesonide_mg_day + _EPS:
        return f"budesonide {dose:g} mg/day > {th.budesonide_mg_day:g}"
    return None


def _inv04(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
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


def _inv05(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if p.on("azathioprine") and p.tpmt in ("unknown", "deficient"):
        return f"azathioprine with TPMT {p.tpmt}"
    return None


def _inv06(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    dose = p.dose("azathioprine")
    cap = th.azathioprine_max_mg_per_kg * p.weight_kg
    if dose is not None and dose > cap + _EPS:
        return f"azathioprine {dose:g} mg/day > {cap:g} ({th.azathioprine_max_mg_per_kg:g} mg/kg)"
    return None


def _aza_started(s: Any) -> bool:
    return s.kind == "action" and s.name == "add_azathioprine" and s.carried_out


def _inv07(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
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


def _inv08(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if not _aza_started(s) or not p.on("azathioprine"):
        return None
    if p.decompensated or p.severe_cytopenia or a & {"acute_severe", "acute_liver_failure"}:
        return "azathioprine started in decompensation, acute severe AIH, ALF or cytopenia"
    return None


def _inv09(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if p.on("mycophenolate") and p.pregnancy in ("planned", "pregnant"):
        return f"mycophenolate while pregnancy is {p.pregnancy}"
    return None


def _inv10(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    cbr = p.withdrawal_cbr_days
    withdrawn = bool(a & {"withdrawal", "off_treatment"})
    if withdrawn and cbr is not None and cbr < th.withdrawal_min_cbr_days - _EPS:
        return f"withdrawal after {cbr:g} days of CBR"
    return None


def _inv11(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if "withdrawal" in a and p.relapsed_after_withdrawal:
        return "second withdrawal after a relapse that followed withdrawal"
    return None


def _inv12(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if "withdrawal" in a and p.pregnancy != "none" and s.name == "attempt_withdrawal":
        return f"withdrawal while pregnancy is {p.pregnancy}"
    return None


def _inv13(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if "acute_severe" not in a:
        return None
    entered = p.entered.get("acute_severe", p.day)
    reviewed = p.acute_review_day is not None and p.acute_review_day >= entered
    if not reviewed and p.day - entered > th.acute_review_days + _EPS:
        return f"no transplant-evaluation decision {p.day - entered:g} days into acute severe AIH"
    return None


def _inv14(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if "acute_liver_failure" not in a:
        return None
    entered = p.entered.get("acute_liver_failure", p.day)
    if p.steroid_start_day is not None and p.steroid_start_day >= entered:
        return "steroid trial started in ALF before transplant referral"
    if p.day - entered > th.alf_referral_max_days + _EPS:
        return f"ALF for {p.day - entered:g} days without transplant referral"
    return None


def _inv17(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
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


def _inv15(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
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


def _inv18(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
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


def _inv19(p: PatientRecord, th: Thresholds, a: Set[str], s: Any) -> str | None:
    if "post_transplant" not in a or s.name != "labs":
        return None
    alt = p.latest("alt_xuln")
    if alt is not None and alt > th.relapse_alt_xuln and "recurrent_aih" not in a:
        return f"graft hepatitis (ALT {alt:g} x ULN) not classified as recurrent AIH"
    return None


INVARIANTS: dict[str, InvCheck] = {
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


# --- the monitor loop (pathway/invariants.py), for the benchmark ---

from pathway.guidelines.aih.guideline import RULES


class LegacyMonitor:
    """Checks every invariant after each step and keeps the violations found.

    A hard invariant newly broken in a course without any deviation raises
    :class:`~pathway.errors.InvariantViolation` when ``strict`` (the default).
    """

    def __init__(self, *, strict: bool = True) -> None:
        self.strict = strict
        self.violations: list[Any] = []
        self._open: set[str] = set()

    def check(
        self, p: PatientRecord, th: Thresholds, active: Set[str], step: Any, deviated: bool
    ) -> list[Violation]:
        """Run all checks; return the violations that are new at this step."""
        found: list[Any] = []
        now_open: set[str] = set()
        for rule_id, check in INVARIANTS.items():
            message = check(p, th, active, step)
            if message is None:
                continue
            now_open.add(rule_id)
            if rule_id in self._open:
                continue  # still broken since an earlier step: reported once
            hard = RULES[rule_id].strength == "hard"
            found.append((rule_id, p.day, step.index, message, hard))
        self._open = now_open
        self.violations.extend(found)
        return found


# --- doses (pathway/runtime.py) ---


def doses(action: str, c: Ctx) -> dict[str, float | None]:
    """Doses (mg/day) an action would give, for display with the recommendation."""
    p, th, opt = c.p, c.th, c.opt
    match action:
        case "start_prednisolone":
            acute = "diagnosis" in c.active and presents_acute_severe(p, th)
            return {"prednisolone": dosing.prednisolone_dose(p, th, opt, acute=acute)}
        case "reinduce":
            return {"prednisolone": dosing.prednisolone_dose(p, th, opt, acute=False)}
        case "start_budesonide":
            return {"budesonide": dosing.budesonide_dose(th)}
        case "add_azathioprine":
            return {"azathioprine": dosing.azathioprine_dose(p, th)}
        case "add_mycophenolate" | "switch_to_mycophenolate":
            return {"mycophenolate": dosing.mycophenolate_dose(th)}
        case "switch_to_tacrolimus":
            return {"tacrolimus": dosing.tacrolimus_dose(p, th)}
        case "taper_steroid" if p.steroid is not None:
            return {p.steroid: dosing.next_taper_dose(p.steroid, p.dose(p.steroid) or 0.0, th)}
        case "stop_steroid" if p.on("azathioprine"):
            return {"azathioprine": dosing.azathioprine_dose(p, th, maintenance=True)}
        case "optimise_treatment":
            doses: dict[str, float | None] = {}
            if p.on("azathioprine"):
                target = dosing.azathioprine_dose(p, th, maintenance=True)
                doses["azathioprine"] = max(p.dose("azathioprine") or 0.0, target)
            if (change := dosing.optimised_steroid(p, th, opt)) is not None:
                doses[change[0]] = change[1]
            return doses
        case _:
            return {}
