"""The AIH guideline's vector parts for a block of patients (:mod:`pathway.block`)."""

from __future__ import annotations

from typing import Final

from ...block import BlockGuideline
from .bundle import GUIDELINE
from .columns import LAYOUT, VECTOR_EFFECTS
from .rules import CONDITIONS
from .vector_forms import VECTOR_RULEBOOK

__all__ = ["AIH_BLOCK"]

#: AIH as a block: its record as columns, rulebook as masks, guard conditions, effects.
AIH_BLOCK: Final = BlockGuideline(GUIDELINE, LAYOUT, VECTOR_RULEBOOK, CONDITIONS, VECTOR_EFFECTS)
