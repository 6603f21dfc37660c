"""Guidelines the engine runs: each one a package (chart, record, rules, timers, vocabulary)
that builds a :class:`~pathway.bundle.Guideline` named ``GUIDELINE``.

:func:`get` loads a guideline by name; the engine itself imports none of them.

>>> get("aih").chart.__name__
'AIHPathway'
"""

from __future__ import annotations

import importlib
from typing import Final

from ..bundle import Guideline
from ..errors import PathwayError

__all__ = ["DEFAULT", "NAMES", "get"]

#: The shipped guidelines by registry name: ``aih`` (autoimmune hepatitis) and ``toy`` (a
#: small made-up guideline that tests the engine's seam; no clinical content).
NAMES: Final = ("aih", "toy")
#: The guideline used when none is named.
DEFAULT: Final = "aih"


def get(name: str = DEFAULT) -> Guideline:
    """The guideline called ``name`` (loading its package on first use).

    Raises:
        PathwayError: ``name`` is not a shipped guideline.
    """
    if name not in NAMES:
        raise PathwayError(f"unknown guideline {name!r}; expected one of {list(NAMES)}")
    guideline: Guideline = importlib.import_module(f"{__name__}.{name}").GUIDELINE
    return guideline
