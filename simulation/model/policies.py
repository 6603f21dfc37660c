"""Clinician policies: who chooses the action after each step.

The guideline policy takes the pathway's top recommendation until nothing stronger than
``continue`` is left. Named strategies (later issues) compare variants on the same patients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pathway import AnyPathway, GuidelineOptions, PathwayError

__all__ = [
    "MAX_ACTIONS_PER_STEP",
    "STRATEGIES",
    "GuidelinePolicy",
    "Policy",
    "Strategy",
    "StrategyPolicy",
    "get_strategy",
    "parse_policy_list",
]

#: A policy that keeps acting after this many actions on one day has a modelling bug.
MAX_ACTIONS_PER_STEP = 12


def _carry_on(chart: AnyPathway) -> str | None:
    """The guideline's "carry on as before" action (AIH: ``continue``)."""
    return chart.guideline.rulebook.default_action


class Policy(Protocol):
    """Chooses and takes clinician actions on ``chart`` at ``day``."""

    name: str

    def act(self, chart: AnyPathway, day: float) -> None: ...


class GuidelinePolicy:
    """Follow the guideline: take the top recommendation while it is a must or a should."""

    name = "guideline"

    def act(self, chart: AnyPathway, day: float) -> None:
        """Take top recommendations at ``day`` until ``continue`` (or a mere option) leads."""
        for _ in range(MAX_ACTIONS_PER_STEP):
            top = chart.top_recommendation()
            if top is None or top.action == _carry_on(chart) or top.strength == "may":
                return
            chart.take(top.action, day=day)
        raise PathwayError(
            f"guideline policy did not settle after {MAX_ACTIONS_PER_STEP} actions on day "
            f"{day:g} in {sorted(chart.active)}"
        )


# --- named strategies (issue 3) ---------------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    """A named clinician strategy to compare with the guideline on the same patients.

    A strategy is the guideline policy with three knobs: the guideline options the chart is
    built with (:class:`pathway.GuidelineOptions`, e.g. mycophenolate as the first-line
    antimetabolite), actions taken whenever the chart allows them (``prefer``) and actions
    never taken (``avoid``). Everything else follows the guideline's top recommendation.

    Attributes:
        name: the id used on the command line (``--policy NAME``).
        description: one sentence for ``--help`` and reports.
        options: guideline options for :class:`pathway.AIHPathway`.
        prefer: actions taken, in this order, whenever they are recommended at all.
        avoid: actions never taken (the next recommendation is taken instead).
    """

    name: str
    description: str
    options: GuidelineOptions = field(default_factory=GuidelineOptions)
    prefer: tuple[str, ...] = ()
    avoid: frozenset[str] = frozenset()

    def policy(self) -> Policy:
        """A fresh policy object for one patient."""
        if not self.prefer and not self.avoid:
            return GuidelinePolicy()
        return StrategyPolicy(self)


class StrategyPolicy:
    """The guideline policy, bent by a :class:`Strategy`'s ``prefer`` and ``avoid``."""

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.name = strategy.name

    def act(self, chart: AnyPathway, day: float) -> None:
        """Take preferred actions when allowed, else the guideline's top non-avoided one."""
        prefer, avoid = self.strategy.prefer, self.strategy.avoid
        for _ in range(MAX_ACTIONS_PER_STEP):
            recs = chart.recommendations()
            chosen = next((r for a in prefer for r in recs if r.action == a), None)
            if chosen is None:
                chosen = next((r for r in recs if r.action not in avoid), None)
                if chosen is None or chosen.action == _carry_on(chart) or chosen.strength == "may":
                    return
            chart.take(chosen.action, day=day)
        raise PathwayError(
            f"policy {self.name!r} did not settle after {MAX_ACTIONS_PER_STEP} actions on day "
            f"{day:g} in {sorted(chart.active)}"
        )


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("guideline", "follow the pathway's top recommendation; the default"),
        Strategy(
            "prednisolone_all",
            "predniso(lo)ne first line for all: never budesonide",
            avoid=frozenset({"start_budesonide"}),
        ),
        Strategy(
            "mmf_first_line",
            "mycophenolate instead of azathioprine as the first-line antimetabolite "
            "(CAMARO / HASL variant)",
            options=GuidelineOptions(first_line_antimetabolite="mycophenolate"),
        ),
        Strategy(
            "budesonide_when_eligible",
            "start budesonide whenever the pathway allows it",
            prefer=("start_budesonide",),
        ),
    )
}
"""The named strategies, by id; ``guideline`` is the default."""


def parse_policy_list(text: str | Sequence[str], *, at_least: int = 1) -> list[str]:
    """``"A,B,..."`` (or a list of names) -> policy names, checked (option ``--policies``).

    Raises:
        ValueError: an unknown or repeated name, or fewer than ``at_least`` names; one line
            naming what was found and what was expected.
    """
    given = text.split(",") if isinstance(text, str) else text
    names = [n.strip() for n in given if n.strip()]
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise ValueError(
            f"--policies: found {unknown[0]!r}, expected names from {list(STRATEGIES)}"
        )
    if len(names) < at_least or len(set(names)) != len(names):
        many = "one or more" if at_least <= 1 else f"at least {at_least}"
        raise ValueError(f"--policies: found {','.join(given)!r}, expected {many} different names")
    return names


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``.

    Raises:
        ValueError: unknown name, listing the known ones.
    """
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown policy {name!r}; expected one of {', '.join(STRATEGIES)}"
        ) from None
