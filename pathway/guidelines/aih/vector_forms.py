"""The AIH functions' vector forms, for the numpy interpreter (:mod:`pathway.vector`).

Two kinds, each checked against the scalar function by tests/test_vector.py:

* record arithmetic in numpy (``days_since``);
* functions that evaluate this guideline's own declarations, read from them as masks
  (``observation_refused`` is a breach of ``observe_untreated``; the ``transplant_*``
  functions read the transplant-indication list), so no clinical logic is written twice.

The other functions have no vector form yet: the interpreter calls them row by row
(:class:`pathway.vector.VectorInterpreter` counts those calls in ``fallbacks``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ...vector import Batch, Breached, Columnar, Form, Listed, VectorRulebook, column
from .rules import RULEBOOK

__all__ = ["FORMS", "VECTOR_RULEBOOK"]


def _days_since(batch: Batch, day: NDArray[np.float64]) -> NDArray[np.float64]:
    """``record.days_since(day)``: the record's day minus ``day`` (NaN when missing)."""
    if day.dtype == object:
        day = column(list(np.broadcast_to(day, (batch.n,))))
    return batch.column("day") - day.astype(np.float64)


#: Vector forms by function name.
FORMS: dict[str, Form] = {
    "days_since": Columnar(_days_since),
    "observation_refused": Breached("observe_untreated"),
    "transplant_indicated": Listed("transplant_indications"),
    "transplant_rules": Listed("transplant_indications", rules=True),
    "transplant_must_rules": Listed("transplant_indications", rules=True, level="must", first=True),
}

#: The AIH rulebook as masks over a batch of patients in one configuration.
VECTOR_RULEBOOK = VectorRulebook(RULEBOOK, FORMS)
