"""The compiled executor, as embedders import it: the engine (:mod:`pathway.executor`) and the
AIH chart compiled (:class:`CompiledPathway`).

A facade for public names, like :mod:`pathway` itself; the engine modules import no guideline.
"""

from __future__ import annotations

from .executor import ChartPlan, CompiledInterpreter, CompiledRuntime, compile_chart, compiled_class
from .guidelines.aih.compiled import CompiledPathway

__all__ = [
    "ChartPlan",
    "CompiledInterpreter",
    "CompiledPathway",
    "CompiledRuntime",
    "compile_chart",
    "compiled_class",
]
