"""The toy guideline's bundle: catalogue, effects, timer and vocabulary ([MODEL] throughout).

Nothing here is clinical: the drugs, score, doses and intervals are made up to drive the
engine through every seam (runtime, compiled executor, snapshots, diagrams, simulation).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any, Final

from ...bundle import Citation, Effect, Guideline, PageText
from ...errors import PatientError
from ...timers import Timer, TimerTable
from .chart import ToyPathway
from .record import SCORE_RANGE, ToyOptions, ToyRecord, ToyThresholds
from .rules import ACTIONS, CARE_STATES, RULEBOOK, Ctx

__all__ = ["GUIDELINE", "RULES", "TIMERS"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One toy rule: id, kind, summary, sources (none: made up), tag and strength."""

    id: str
    kind: str
    summary: str
    sources: tuple[str, ...]
    tag: str
    strength: str


def _model(id: str, kind: str, summary: str, strength: str = "soft") -> Rule:
    """A made-up rule: no sources, tag MODEL."""
    return Rule(id, kind, summary, (), "MODEL", strength)


RULES: Final[dict[str, Rule]] = {
    r.id: r
    for r in (
        _model("TOY-GEN-01", "transition", "Events that change no state are recorded."),
        _model("TOY-REC-01", "recommendation", "Start alfa when the score is high."),
        _model(
            "TOY-REC-02",
            "recommendation",
            "Switch to beta when the score is still high at a review on alfa.",
        ),
        _model("TOY-REC-03", "recommendation", "The drug may stop in remission."),
        _model("TOY-TRN-01", "transition", "A low score is remission."),
        _model("TOY-TRN-02", "transition", "A high score in remission is a relapse."),
        _model("TOY-TIM-01", "timer", "Review every review_days on a drug."),
        _model("TOY-INV-01", "invariant", "No dose above the toy maximum.", "hard"),
    )
}

TIMERS: Final = (
    Timer("alfa_review", "review", "on_alfa", ("review_days",), "review_days", False, "TOY-TIM-01"),
    Timer("beta_review", "review", "on_beta", ("review_days",), "review_days", False, "TOY-TIM-01"),
)

FINDINGS: Final[dict[str, object]] = {"score": float, "death": None}


def _check_payload(finding: str, value: Any, day: float) -> tuple[Any, Any]:
    if finding == "score":
        low, high = SCORE_RANGE
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise PatientError(f"'score' needs a number in [0, 20] (got {value!r})")
        return float(value), float(value)
    if value not in (None, True):
        raise PatientError(f"{finding!r} takes no value (got {value!r})")
    return None, None


def _score(p: ToyRecord, v: Any, th: ToyThresholds, opt: Any, a: Set[str]) -> None:
    p.score = v


def _death(p: ToyRecord, v: Any, th: ToyThresholds, opt: Any, a: Set[str]) -> None:
    p.death_day = p.day


def _nothing(p: ToyRecord, v: Any, th: ToyThresholds, opt: Any, a: Set[str]) -> None:
    return None


def _review(p: ToyRecord, v: Any, th: ToyThresholds, opt: Any, a: Set[str]) -> None:
    p.reviews += 1


def _give(drug: str, dose: str) -> Effect:
    def give(p: ToyRecord, v: Any, th: ToyThresholds, opt: Any, a: Set[str]) -> None:
        p.drugs, p.reviews = {drug: getattr(th, dose)}, 0

    return give


def _stop(p: ToyRecord, v: Any, th: ToyThresholds, opt: Any, a: Set[str]) -> None:
    p.drugs, p.reviews = {}, 0


GUIDELINE: Final = Guideline(
    name="toy",
    title="Toy guideline (tests the engine's seam; no clinical content)",
    chart=ToyPathway,
    record=ToyRecord,
    thresholds=ToyThresholds,
    options=ToyOptions,
    context=Ctx,
    rulebook=RULEBOOK,
    finding_effects={"score": _score, "death": _death},
    timer_effects={"review": _review},
    action_effects={
        "start_alfa": _give("alfa", "alfa_mg_day"),
        "switch_to_beta": _give("beta", "beta_mg_day"),
        "stop_drug": _stop,
        "continue": _nothing,
    },
    check_payload=_check_payload,
    timers=TimerTable(TIMERS),
    invariants={
        inv.id: RULEBOOK.invariant_check(inv.id) for inv in RULEBOOK.invariant_decls.values()
    },
    rules=RULES,
    actions=ACTIONS,
    findings=FINDINGS,
    care_states=CARE_STATES,
    care_line=CARE_STATES,
    final_state="death",
    drugs=("alfa", "beta"),
    patient_model="toy",
    citations={
        name: Citation((), "MODEL", "made up to exercise the engine")
        for name in ToyThresholds.__dataclass_fields__
    },
    page=PageText(
        heading="The toy pathway",
        events="Events are the `score` finding, the `review` timer and four actions.",
        timers="",
        catalogue="pathway/guidelines/toy/guideline.py",
        timers_file="pathway/guidelines/toy/guideline.py",
        regions={},
    ),
    consistency=(
        ("on_alfa", "drugs", lambda p: set(p.drugs) == {"alfa"}, "alfa alone"),
        ("on_beta", "drugs", lambda p: set(p.drugs) == {"beta"}, "beta alone"),
        ("untreated", "drugs", lambda p: not p.drugs, "no drug"),
    ),
)
"""The toy guideline bundle."""
