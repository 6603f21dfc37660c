"""The autoimmune hepatitis (AIH) treatment guideline: chart, record, rules, timers, vocabulary.

Importing the package builds its bundle (:data:`GUIDELINE`, see :mod:`.bundle`), which binds
it to :class:`~.chart.AIHPathway`. For research and education; not for treating patients.
"""

from .bundle import GUIDELINE

__all__ = ["GUIDELINE"]
