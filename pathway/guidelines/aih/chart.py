"""The AIH pathway as a python-statemachine ``StateChart``: states, events, guards.

Four parallel regions under ``alive``: the care line (the vocabulary's care states), the
steroid course (``taper`` lives here, overlapping the care line), the liver stage and the
pregnancy status; ``death`` is the final state. Events are findings (vocabulary), timer
events (:mod:`pathway.guidelines.aih.timers`) and clinician actions (vocabulary).

Guards come in two kinds. Routing guards read facts (``relapse_labs``); permission guards
(``may_<action>``) ask :mod:`pathway.guidelines.aih.rules` whether the guideline allows an
action now and accept ``deviate=True`` to let a recorded deviation through. Every transition
carries the rule ids it encodes in ``transition.rule_ids``. The chart holds no clock and no random
generator; the record's ``day`` is set by the driver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from statemachine import Event, State, StateChart
from statemachine.transition_list import TransitionList

from ...runtime import PathwayRuntime
from . import rules
from .patient import PatientRecord

__all__ = ["AIHPathway", "transition_rules"]


def _rule(transitions: Any, *rule_ids: str) -> TransitionList:
    """Attach guideline rule ids to each transition of ``transitions``."""
    for transition in transitions.transitions:
        transition.rule_ids = tuple(rule_ids)
    result: TransitionList = transitions
    return result


def _permission(action: str) -> Callable[..., bool]:
    check = rules.ACTION_CHECKS[action]

    def guard(self: AIHPathway, deviate: bool = False) -> bool:
        return deviate or not check(self.ctx())

    guard.__name__ = f"may_{action}"
    guard.__doc__ = f"The guideline allows {action!r} now (or the caller deviates)."
    return guard


#: Rule id of a finding or timer that changes no state: it is recorded, nothing moves.
STAY = "AIH-GEN-02"


class AIHPathway(PathwayRuntime[PatientRecord], StateChart[PatientRecord]):
    """Autoimmune hepatitis treatment pathway (EASL 2025 / IAIHG 2022 defaults).

    Strict: an event the chart cannot handle raises ``TransitionNotAllowed`` and errors in
    guards or actions propagate. The runtime methods (``observe``, ``fire``, ``take``,
    ``recommendations``, ``pending_timers``) come from :class:`~pathway.runtime.PathwayRuntime`.

    >>> from pathway import AIHPathway, PatientRecord
    >>> chart = AIHPathway(PatientRecord("p1", age=40, sex="F", weight_kg=70, tpmt="normal"))
    >>> _ = chart.observe("labs", {"alt_xuln": 8.0, "ast_xuln": 6.0, "igg_xuln": 1.5}, day=0)
    >>> [r.action for r in chart.recommendations()][:2]
    ['start_prednisolone', 'start_budesonide']
    >>> _ = chart.take("start_prednisolone", day=0)
    >>> sorted(chart.active & {"induction", "steroid_induction"})
    ['induction', 'steroid_induction']
    >>> chart.patient.drugs
    {'prednisolone': 35.0}
    """

    allow_event_without_transition = False  # an unhandled event is a modelling bug
    catch_errors_as_events = False  # let guard and action errors surface

    class alive(State.Parallel):
        class care_line(State.Compound):
            diagnosis = State(initial=True)
            observation = State()

            class first_line(State.Compound):
                class induction(State.Compound):
                    steroid_lead_in = State(initial=True)
                    combination = State()

                response_assessment = State()

            maintenance = State()
            withdrawal = State()
            off_treatment = State()

            class relapse(State.Compound):
                flare = State(initial=True)
                reinduction = State()

            second_line = State()
            third_line = State()
            acute_severe = State()
            acute_liver_failure = State()
            transplant = State()

            class post_transplant(State.Compound):
                graft_stable = State(initial=True)
                recurrent_aih = State()

        class steroid_course(State.Compound):
            no_steroid = State(initial=True)
            steroid_induction = State()
            taper = State()
            steroid_maintenance = State()

        class liver_stage(State.Compound):
            noncirrhotic = State(initial=True)
            compensated_cirrhosis = State()
            decompensated_cirrhosis = State()

        class pregnancy_status(State.Compound):
            not_pregnant = State(initial=True)
            planning_pregnancy = State()
            in_pregnancy = State()
            postpartum = State()

    death = State(final=True)

    # Short aliases for the transition table below (typed Any: the library's stubs do not
    # cover nested-state factories or targetless transitions); deleted after the table.
    _cl: Any = alive.care_line
    _d: Any = _cl.diagnosis
    _o: Any = _cl.observation
    _fl: Any = _cl.first_line
    _ind: Any = _fl.induction
    _lead: Any = _ind.steroid_lead_in
    _comb: Any = _ind.combination
    _ra: Any = _fl.response_assessment
    _ma: Any = _cl.maintenance
    _wd: Any = _cl.withdrawal
    _off: Any = _cl.off_treatment
    _rel: Any = _cl.relapse
    _flare: Any = _rel.flare
    _rei: Any = _rel.reinduction
    _l2: Any = _cl.second_line
    _l3: Any = _cl.third_line
    _as: Any = _cl.acute_severe
    _alf: Any = _cl.acute_liver_failure
    _tx: Any = _cl.transplant
    _pt: Any = _cl.post_transplant
    _gs: Any = _pt.graft_stable
    _raih: Any = _pt.recurrent_aih
    _sc: Any = alive.steroid_course
    _ns: Any = _sc.no_steroid
    _si: Any = _sc.steroid_induction
    _tp: Any = _sc.taper
    _sm: Any = _sc.steroid_maintenance
    _nc: Any = alive.liver_stage.noncirrhotic
    _cc: Any = alive.liver_stage.compensated_cirrhosis
    _dc: Any = alive.liver_stage.decompensated_cirrhosis
    _np: Any = alive.pregnancy_status.not_pregnant
    _pp: Any = alive.pregnancy_status.planning_pregnancy
    _ip: Any = alive.pregnancy_status.in_pregnancy
    _post: Any = alive.pregnancy_status.postpartum

    # --- findings ----------------------------------------------------------------------
    labs = (
        _rule(_ma.to(_rel, cond="relapse_labs", on="begin_relapse"), "AIH-MNT-03", "AIH-RSP-04")
        | _rule(_wd.to(_rel, cond="relapse_labs", on="begin_relapse"), "AIH-WDR-03")
        | _rule(_off.to(_rel, cond="relapse_labs", on="begin_relapse"), "AIH-WDR-03")
        | _rule(_rei.to(_ma, cond="response_regained", on="regain_response"), "AIH-REL-02")
        | _rule(_ra.to(_ma, cond="late_response"), "AIH-RSP-05")
        | _rule(_gs.to(_raih, cond="relapse_labs", on="begin_recurrence"), "AIH-PLT-01", "INV-19")
        | _rule(_raih.to(_gs, cond="cbr_reached"), "AIH-PLT-01")
        | _rule(_cl.to(None), STAY)
    )
    tpmt = _rule(_cl.to(None), "AIH-IND-05")
    intolerance = (
        _rule(_si.to(_ns, cond="steroid_stopped"), "AIH-SAF-01")
        | _rule(_tp.to(_ns, cond="steroid_stopped"), "AIH-SAF-01")
        | _rule(_sm.to(_ns, cond="steroid_stopped"), "AIH-SAF-01")
        | _rule(_cl.to(None), "AIH-SAF-01")
    )
    cytopenia = _rule(_cl.to(None), "AIH-SAF-02")
    nonadherence = _rule(_cl.to(None), "AIH-RSP-03")
    histological_remission = _rule(_cl.to(None), "AIH-WDR-05")
    hcc = _rule(_cl.to(None), "AIH-LT-03")
    cirrhosis_diagnosed = (
        _rule(_nc.to(_cc, cond="stage_compensated"), "AIH-LIV-01")
        | _rule(_nc.to(_dc), "AIH-LIV-01")
        | _rule(_cc.to(_dc, cond="stage_decompensated"), "AIH-LIV-01")
        | _rule(_cc.to(None), STAY)
        | _rule(_dc.to(None), STAY)
    )
    decompensation = (
        _rule(_nc.to(_dc), "AIH-LIV-01")
        | _rule(_cc.to(_dc), "AIH-LIV-01")
        | _rule(_dc.to(None), STAY)
    )
    recompensation = _rule(_dc.to(_cc), "AIH-LIV-03")
    encephalopathy = (
        _rule(_d.to(_alf), "AIH-TRI-02")
        | _rule(_as.to(_alf), "AIH-ASA-02")
        | _rule(_cl.to(None), STAY)
        | _rule(_cc.to(_dc), "AIH-LIV-01")
    )
    pregnancy_planned = (
        _rule(_np.to(_pp), "AIH-PRG-01")
        | _rule(_post.to(_pp), "AIH-PRG-01")
        | _rule(_pp.to(None), STAY)
        | _rule(_ip.to(None), STAY)
    )
    pregnant = (
        _rule(_np.to(_ip), "AIH-PRG-01")
        | _rule(_pp.to(_ip), "AIH-PRG-01")
        | _rule(_post.to(_ip), "AIH-PRG-01")
        | _rule(_ip.to(None), STAY)
    )
    delivered = _rule(_ip.to(_post), "AIH-PRG-03")
    transplanted = _rule(_tx.to(_pt, on="receive_graft"), "AIH-LT-04")
    # Internal event raised by receive_graft: the new liver has no cirrhosis.
    graft_received = (
        _rule(_cc.to(_nc), "AIH-LT-04")
        | _rule(_dc.to(_nc), "AIH-LT-04")
        | _rule(_nc.to(None), "AIH-LT-04")
        | _rule(_si.to(_ns, cond="steroid_stopped"), "AIH-LT-04")
        | _rule(_tp.to(_ns, cond="steroid_stopped"), "AIH-LT-04")
        | _rule(_sm.to(_ns, cond="steroid_stopped"), "AIH-LT-04")
    )
    graft_failure = _rule(_pt.to(_tx), "AIH-PLT-02")
    died = Event(_rule(alive.to(death), "AIH-GEN-03"), id="death")

    # --- timers (pathway.guidelines.aih.timers) ---------------------------------------------
    thiopurine_due = _rule(_ind.to(None), "AIH-IND-03")
    week4_check = _rule(_ind.to(_ra), "AIH-RSP-01", "INV-18")
    month6_assessment = _rule(_ra.to(_ma, cond="cbr_reached"), "AIH-RSP-02", "INV-18") | _rule(
        _ra.to(None), "AIH-RSP-03", "INV-18"
    )
    month12_assessment = _rule(_ra.to(_ma, cond="cbr_reached"), "AIH-RSP-05", "INV-18") | _rule(
        _fl.to(None), "AIH-RSP-05", "INV-18"
    )
    steroid_review = _rule(_si.to(None), "AIH-TAP-01") | _rule(_tp.to(None), "AIH-TAP-01")
    monitoring_due = _rule(_cl.to(None), "AIH-MON-01")
    second_line_assessment = _rule(_l2.to(_ma, cond="cbr_reached"), "AIH-2L-03") | _rule(
        _l2.to(None), "AIH-2L-03"
    )
    relapse_assessment = _rule(_rei.to(_ma, cond="cbr_reached"), "AIH-REL-02") | _rule(
        _rei.to(None), "AIH-REL-01", "INV-18"
    )
    acute_review = _rule(_as.to(_ind, cond="acute_improving"), "AIH-ASA-01", "INV-13") | _rule(
        _as.to(None), "AIH-ASA-01", "INV-13"
    )
    withdrawal_complete = (
        _rule(_wd.to(_rel, cond="relapse_labs", on="begin_relapse"), "AIH-WDR-03")
        | _rule(_wd.to(_off), "AIH-WDR-01", "AIH-WDR-02")
        | _rule(_si.to(_ns, cond="steroid_stopped"), "AIH-WDR-01")
        | _rule(_tp.to(_ns, cond="steroid_stopped"), "AIH-WDR-01")
        | _rule(_sm.to(_ns, cond="steroid_stopped"), "AIH-WDR-01")
    )
    third_line_assessment = _rule(_l3.to(_ma, cond="cbr_reached"), "AIH-3L-02") | _rule(
        _l3.to(None), "AIH-3L-02"
    )
    transplant_review = _rule(_tx.to(_ma, cond="transplant_indication_resolved"), "AIH-LT-05") | (
        _rule(_tx.to(None), "AIH-LT-05")
    )
    postpartum_end = _rule(_post.to(_np), "AIH-PRG-03")
    hcc_surveillance = _rule(_cc.to(None), "AIH-LIV-02") | _rule(_dc.to(None), "AIH-LIV-02")

    # --- clinician actions --------------------------------------------------------------
    start_prednisolone = (
        _rule(_d.to(_as, cond=["presents_acute_severe", "may_start_prednisolone"]), "AIH-TRI-01")
        | _rule(
            _d.to(_ind, cond="may_start_prednisolone", unless="presents_acute_severe"),
            "AIH-IND-01",
            "AIH-DOSE-PRED",
        )
        | _rule(_o.to(_ind, cond="may_start_prednisolone"), "AIH-IND-01", "AIH-DOSE-PRED")
        | _rule(_cl.to(None, cond="may_start_prednisolone"), "AIH-IND-01", "AIH-ALF-01")
        | _rule(_ns.to(_si, cond="may_start_prednisolone"), "AIH-DOSE-PRED")
        | _rule(_tp.to(_si, cond="may_start_prednisolone"), "AIH-DOSE-PRED")
        | _rule(_sm.to(_si, cond="may_start_prednisolone"), "AIH-DOSE-PRED")
        | _rule(_si.to(None, cond="may_start_prednisolone"), "AIH-DOSE-PRED")
    )
    start_budesonide = (
        _rule(_d.to(_as, cond=["presents_acute_severe", "may_start_budesonide"]), "AIH-IND-02")
        | _rule(_d.to(_ind, cond="may_start_budesonide"), "AIH-IND-02", "AIH-DOSE-BUD")
        | _rule(_o.to(_ind, cond="may_start_budesonide"), "AIH-IND-02", "AIH-DOSE-BUD")
        | _rule(_cl.to(None, cond="may_start_budesonide"), "AIH-IND-02")
        | _rule(_ns.to(_si, cond="may_start_budesonide"), "AIH-DOSE-BUD")
        | _rule(_tp.to(_si, cond="may_start_budesonide"), "AIH-DOSE-BUD")
        | _rule(_sm.to(_si, cond="may_start_budesonide"), "AIH-DOSE-BUD")
        | _rule(_si.to(None, cond="may_start_budesonide"), "AIH-DOSE-BUD")
    )
    add_azathioprine = _rule(
        _lead.to(_comb, cond="may_add_azathioprine"), "AIH-IND-03", "AIH-DOSE-AZA"
    ) | _rule(_cl.to(None, cond="may_add_azathioprine"), "AIH-IND-03", "AIH-DOSE-AZA")
    add_mycophenolate = _rule(
        _lead.to(_comb, cond="may_add_mycophenolate"), "AIH-IND-04", "AIH-DOSE-MMF"
    ) | _rule(_cl.to(None, cond="may_add_mycophenolate"), "AIH-IND-04", "AIH-DOSE-MMF")
    taper_steroid = (
        _rule(
            _si.to(_sm, cond=["taper_reaches_target", "may_taper_steroid"]),
            "AIH-TAP-01",
            "AIH-TAP-02",
        )
        | _rule(_si.to(_tp, cond="may_taper_steroid", unless="taper_reaches_target"), "AIH-TAP-01")
        | _rule(_tp.to(_sm, cond=["taper_reaches_target", "may_taper_steroid"]), "AIH-TAP-01")
        | _rule(_tp.to(None, cond="may_taper_steroid", unless="taper_reaches_target"), "AIH-TAP-01")
        | _rule(_sm.to(None, cond="may_taper_steroid"), "AIH-TAP-02")
    )
    stop_steroid = (
        _rule(_si.to(_ns, cond="may_stop_steroid"), "AIH-MNT-01", "AIH-MNT-04", "AIH-DOSE-AZA")
        | _rule(_tp.to(_ns, cond="may_stop_steroid"), "AIH-MNT-01", "AIH-MNT-04", "AIH-DOSE-AZA")
        | _rule(_sm.to(_ns, cond="may_stop_steroid"), "AIH-MNT-01", "AIH-MNT-04", "AIH-DOSE-AZA")
    )
    switch_to_mycophenolate = (
        _rule(_fl.to(_l2, cond="may_switch_to_mycophenolate"), "AIH-2L-01", "AIH-DOSE-MMF")
        | _rule(_ma.to(_l2, cond="may_switch_to_mycophenolate"), "AIH-2L-01", "AIH-DOSE-MMF")
        | _rule(_rel.to(_l2, cond="may_switch_to_mycophenolate"), "AIH-2L-01", "AIH-DOSE-MMF")
        | _rule(_cl.to(None, cond="may_switch_to_mycophenolate"), "AIH-2L-01")
    )
    switch_to_tacrolimus = (
        _rule(_fl.to(_l2, cond="may_switch_to_tacrolimus"), "AIH-2L-02", "AIH-DOSE-TAC")
        | _rule(_ma.to(_l2, cond="may_switch_to_tacrolimus"), "AIH-2L-02", "AIH-DOSE-TAC")
        | _rule(_rel.to(_l2, cond="may_switch_to_tacrolimus"), "AIH-2L-02", "AIH-DOSE-TAC")
        | _rule(_cl.to(None, cond="may_switch_to_tacrolimus"), "AIH-2L-02", "AIH-DOSE-TAC")
    )
    start_third_line = _rule(_l2.to(_l3, cond="may_start_third_line"), "AIH-3L-01") | _rule(
        _cl.to(None, cond="may_start_third_line"), "AIH-3L-01"
    )
    attempt_withdrawal = (
        _rule(_ma.to(_wd, cond="may_attempt_withdrawal"), "AIH-WDR-01", "INV-10", "INV-11")
        | _rule(_cl.to(None, cond="may_attempt_withdrawal"), "AIH-WDR-01")
        | _rule(_si.to(_tp, cond="may_attempt_withdrawal"), "AIH-WDR-01")
        | _rule(_sm.to(_tp, cond="may_attempt_withdrawal"), "AIH-WDR-01")
    )
    reinduce = (
        _rule(_flare.to(_rei, cond="may_reinduce"), "AIH-REL-01", "AIH-DOSE-PRED")
        | _rule(_raih.to(None, cond="may_reinduce"), "AIH-PLT-01", "AIH-DOSE-PRED")
        | _rule(_cl.to(None, cond="may_reinduce"), "AIH-REL-01")
        | _rule(_ns.to(_si, cond="may_reinduce"), "AIH-REL-01", "AIH-DOSE-PRED")
        | _rule(_tp.to(_si, cond="may_reinduce"), "AIH-REL-01", "AIH-DOSE-PRED")
        | _rule(_sm.to(_si, cond="may_reinduce"), "AIH-REL-01", "AIH-DOSE-PRED")
        | _rule(_si.to(None, cond="may_reinduce"), "AIH-REL-01", "AIH-DOSE-PRED")
    )
    # Dose optimisation: a changed steroid (budesonide to predniso(lo)ne, a higher dose)
    # starts a new steroid course, so its taper restarts with 2-weekly reviews.
    optimise_treatment = (
        _rule(_ra.to(None, cond="may_optimise_treatment"), "AIH-RSP-05", "AIH-DOSE-AZA")
        | _rule(_ma.to(None, cond="may_optimise_treatment"), "AIH-MNT-05", "AIH-DOSE-AZA")
        | _rule(_si.to(None, cond="may_optimise_treatment"), "AIH-RSP-05")
        | _rule(
            _tp.to(_si, cond=["optimisation_changes_steroid", "may_optimise_treatment"]),
            "AIH-RSP-05",
            "AIH-DOSE-PRED",
        )
        | _rule(
            _sm.to(_si, cond=["optimisation_changes_steroid", "may_optimise_treatment"]),
            "AIH-RSP-05",
            "AIH-DOSE-PRED",
        )
    )
    refer_transplant = (
        _rule(_alf.to(_tx, cond="may_refer_transplant"), "AIH-ALF-01", "INV-14")
        | _rule(_as.to(_tx, cond="may_refer_transplant"), "AIH-ASA-01", "INV-13")
        | _rule(_d.to(_tx, cond="may_refer_transplant"), "AIH-LT-01", "AIH-LT-02", "AIH-LT-03")
        | _rule(_o.to(_tx, cond="may_refer_transplant"), "AIH-LT-01", "AIH-LT-02", "AIH-LT-03")
        | _rule(_fl.to(_tx, cond="may_refer_transplant"), "AIH-LT-01", "AIH-LT-02", "AIH-LT-03")
        | _rule(_ma.to(_tx, cond="may_refer_transplant"), "AIH-LT-01", "AIH-LT-02", "AIH-LT-03")
        | _rule(_wd.to(_tx, cond="may_refer_transplant"), "AIH-LT-01", "AIH-LT-02", "AIH-LT-03")
        | _rule(_off.to(_tx, cond="may_refer_transplant"), "AIH-LT-01", "AIH-LT-02", "AIH-LT-03")
        | _rule(_rel.to(_tx, cond="may_refer_transplant"), "AIH-LT-01", "AIH-LT-02", "AIH-LT-03")
        | _rule(_l2.to(_tx, cond="may_refer_transplant"), "AIH-LT-01", "AIH-LT-02", "AIH-LT-03")
        | _rule(_l3.to(_tx, cond="may_refer_transplant"), "AIH-LT-01", "AIH-LT-02", "AIH-LT-03")
    )
    observe_untreated = _rule(_d.to(_o, cond="may_observe_untreated"), "AIH-TRI-04") | _rule(
        _cl.to(None, cond="may_observe_untreated"), "AIH-TRI-04"
    )
    continue_ = Event(_rule(_cl.to(None, cond="may_continue"), "AIH-GEN-01"), id="continue")

    del _cl, _d, _o, _fl, _ind, _lead, _comb, _ra, _ma, _wd, _off, _rel, _flare, _rei, _l2, _l3
    del _as, _alf, _tx, _pt, _gs, _raih, _sc, _ns, _si, _tp, _sm, _nc, _cc, _dc
    del _np, _pp, _ip, _post

    # --- guards ---------------------------------------------------------------------------
    may_start_prednisolone = _permission("start_prednisolone")
    may_start_budesonide = _permission("start_budesonide")
    may_add_azathioprine = _permission("add_azathioprine")
    may_add_mycophenolate = _permission("add_mycophenolate")
    may_taper_steroid = _permission("taper_steroid")
    may_stop_steroid = _permission("stop_steroid")
    may_switch_to_mycophenolate = _permission("switch_to_mycophenolate")
    may_switch_to_tacrolimus = _permission("switch_to_tacrolimus")
    may_start_third_line = _permission("start_third_line")
    may_attempt_withdrawal = _permission("attempt_withdrawal")
    may_reinduce = _permission("reinduce")
    may_refer_transplant = _permission("refer_transplant")
    may_optimise_treatment = _permission("optimise_treatment")
    may_observe_untreated = _permission("observe_untreated")
    may_continue = _permission("continue")

    def allowed_event_ids(self) -> frozenset[str]:
        """Events with a transition from an active state (guards not evaluated)."""
        return frozenset(e.id for e in self.allowed_events)

    def presents_acute_severe(self) -> bool:
        """Acute severe AIH at presentation (AIH-TRI-01)."""
        return bool(rules.condition("presents_acute_severe", self.ctx()))

    def relapse_labs(self) -> bool:
        """ALT above the relapse threshold (AIH-RSP-04, S-VGERVEN13)."""
        return bool(rules.condition("relapse_labs", self.ctx()))

    def cbr_reached(self) -> bool:
        """Complete biochemical response on the latest labs (AIH-RSP-02)."""
        return bool(rules.condition("cbr_reached", self.ctx()))

    def late_response(self) -> bool:
        """Complete response reached after the month-6 call, by month 12 (AIH-RSP-05)."""
        return bool(rules.condition("late_response", self.ctx()))

    def optimisation_changes_steroid(self) -> bool:
        """Dose optimisation changes the steroid now (AIH-RSP-05, :func:`optimised_steroid`)."""
        return bool(rules.condition("optimisation_changes_steroid", self.ctx()))

    def response_regained(self) -> bool:
        """Complete response after re-induction (AIH-REL-02)."""
        return bool(rules.condition("response_regained", self.ctx()))

    def acute_improving(self) -> bool:
        """Improvement at the acute severe review (AIH-ASA-01)."""
        return bool(self.ctx().p.acute_improving)

    def transplant_indication_resolved(self) -> bool:
        """Listed patient in complete response with no indication left (AIH-LT-05)."""
        return bool(rules.condition("transplant_indication_resolved", self.ctx()))

    def taper_reaches_target(self) -> bool:
        """The next taper step reaches the maintenance dose (AIH-TAP-01)."""
        return bool(rules.condition("taper_reaches_target", self.ctx()))

    def steroid_stopped(self) -> bool:
        """No steroid is active any more (after intolerance) (AIH-SAF-01)."""
        return bool(rules.condition("steroid_stopped", self.ctx()))

    def stage_compensated(self, value: Any = None) -> bool:
        """The finding's payload is ``compensated`` (AIH-LIV-01)."""
        return bool(value == "compensated")

    def stage_decompensated(self, value: Any = None) -> bool:
        """The finding's payload is ``decompensated`` (AIH-LIV-01)."""
        return bool(value == "decompensated")

    # --- transition actions (record bookkeeping tied to a route) -------------------------
    def begin_relapse(self, source: State) -> None:
        """A relapse starts: re-induction pending; a failed withdrawal is remembered."""
        p = self.ctx().p
        p.reinduced = False
        p.set_response("relapse")
        if source.id in ("withdrawal", "off_treatment"):
            p.relapsed_after_withdrawal = True  # INV-11: no second withdrawal

    def receive_graft(self) -> None:
        """A transplant resets the liver stage region (internal event, same macrostep)."""
        self.raise_("graft_received")

    def begin_recurrence(self) -> None:
        """Recurrent AIH in the graft: treatment (re-induction) is pending (AIH-PLT-01)."""
        self.ctx().p.reinduced = False

    def regain_response(self) -> None:
        """Complete response regained after re-induction: maintenance resumes."""
        p = self.ctx().p
        p.cbr_since_day = p.day


def transition_rules(
    chart_class: type[StateChart[Any]],
) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """Every transition as ``(event, source id, target id or "", rule ids)``."""
    out = []
    for state in chart_class.states_map.values():
        for transition in state.transitions:
            if not transition.event:
                continue  # initial transitions of compound states
            target = transition.target.id if transition.target is not None else ""
            for event in transition.event.split():
                out.append((event, state.id, target, getattr(transition, "rule_ids", ())))
    return out
