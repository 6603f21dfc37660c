"""The AIH chart on the engine's compiled executor (:mod:`pathway.executor`)."""

from __future__ import annotations

from ...executor import CompiledRuntime, compile_chart
from .bundle import GUIDELINE
from .chart import AIHPathway

__all__ = ["CompiledPathway"]


class CompiledPathway(CompiledRuntime):
    """The AIH pathway on the compiled executor: same API and behaviour as AIHPathway.

    Guards and transition actions are AIHPathway's own functions; only the statechart
    interpreter differs. Use it for cohorts; use :class:`~pathway.AIHPathway` to embed,
    draw or extend the chart.
    """

    definition = AIHPathway
    plan = compile_chart(AIHPathway)
    states_map = AIHPathway.states_map
    guideline = GUIDELINE
