"""Clinician policies: who chooses the action after each step.

The guideline policy takes the pathway's top recommendation until nothing stronger than
``continue`` is left. Named strategies (later issues) compare variants on the same patients.
"""

from __future__ import annotations

from typing import Protocol

from pathway import AIHPathway, PathwayError

__all__ = ["MAX_ACTIONS_PER_STEP", "GuidelinePolicy", "Policy"]

#: A policy that keeps acting after this many actions on one day has a modelling bug.
MAX_ACTIONS_PER_STEP = 12


class Policy(Protocol):
    """Chooses and takes clinician actions on ``chart`` at ``day``."""

    name: str

    def act(self, chart: AIHPathway, day: float) -> None: ...


class GuidelinePolicy:
    """Follow the guideline: take the top recommendation while it is a must or a should."""

    name = "guideline"

    def act(self, chart: AIHPathway, day: float) -> None:
        """Take top recommendations at ``day`` until ``continue`` (or a mere option) leads."""
        for _ in range(MAX_ACTIONS_PER_STEP):
            top = chart.top_recommendation()
            if top is None or top.action == "continue" or top.strength == "may":
                return
            chart.take(top.action, day=day)
        raise PathwayError(
            f"guideline policy did not settle after {MAX_ACTIONS_PER_STEP} actions on day "
            f"{day:g} in {sorted(chart.active)}"
        )
