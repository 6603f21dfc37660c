"""The AIH chart on the engine's compiled executor (:mod:`pathway.executor`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...executor import CompiledRuntime, compile_chart
from .bundle import GUIDELINE
from .chart import AIHPathway

if TYPE_CHECKING:
    from ...bundle import Pathway
    from .patient import PatientRecord

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


if TYPE_CHECKING:  # mypy checks that both engines are what drivers call (the protocol)
    _REFERENCE: type[Pathway[PatientRecord]] = AIHPathway
    _COMPILED: type[Pathway[PatientRecord]] = CompiledPathway
