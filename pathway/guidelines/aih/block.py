"""The AIH guideline's vector parts for a block of patients (:mod:`pathway.block`)."""

from __future__ import annotations

from typing import Any, Final

from numpy.typing import NDArray

from ...block import BlockGuideline, NumbersPayload
from .bundle import GUIDELINE
from .columns import LAYOUT, VECTOR_EFFECTS
from .patient import LAB_RANGES, LabPanel
from .rules import CONDITIONS
from .vector_forms import VECTOR_RULEBOOK
from .vocabulary import LAB_FIELDS

__all__ = ["AIH_BLOCK", "LAB_PAYLOAD"]


def _panels(days: NDArray[Any], names: tuple[str, ...], values: NDArray[Any]) -> list[Any]:
    """Each row's :class:`LabPanel` (what ``LabPanel.from_mapping`` makes of checked
    values), built from the columns: one constructor call per row, no checks again."""
    given = dict(zip(names, values.T.tolist(), strict=True))
    absent: list[None] = [None] * len(days)
    return list(map(LabPanel, days.tolist(), *(given.get(a, absent) for a in LAB_FIELDS)))


#: The ``labs`` payload (a dict of analyte values) checked as arrays: the ranges of
#: ``LabPanel.from_mapping``, and the panel it makes for the effect.
LAB_PAYLOAD: Final = NumbersPayload(LAB_RANGES, _panels)

#: AIH as a block: its record as columns, rulebook as masks, guard conditions, effects,
#: and the lab panels checked as arrays.
AIH_BLOCK: Final = BlockGuideline(
    GUIDELINE, LAYOUT, VECTOR_RULEBOOK, CONDITIONS, VECTOR_EFFECTS, {"labs": LAB_PAYLOAD}
)
