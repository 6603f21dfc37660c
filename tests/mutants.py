"""Mutated copies of the pathway chart, for showing that the verification tools can fail.

:func:`mutant_chart` executes ``pathway/guidelines/aih/chart.py`` again as a new module, after
replacing text in its source, so the mutant has its own states and transitions and the shipped
:class:`~pathway.AIHPathway` is untouched. Patterns must match exactly once; when the chart
is refactored and a pattern no longer matches, the test says which one to update.
"""

from __future__ import annotations

import itertools
import sys
import types
from dataclasses import replace
from typing import Any

import pytest

from pathway.guidelines.aih import GUIDELINE

from .helpers import REPO

_COUNTER = itertools.count()


_OFF = """
    # Mutants are checked by carechart's own tools, as charts loaded from files would be.
    validate_disconnected_states = False
    validate_trap_states = False
    validate_final_reachability = False
"""


def mutant_chart(*replacements: tuple[str, str]) -> type[Any]:
    """A fresh chart class built from ``pathway/guidelines/aih/chart.py`` with text replaced.

    python-statemachine's own definition checks are switched off in the mutant (as for
    charts loaded from files), so that what catches a mutation is carechart's tooling. The
    mutant runs a copy of the AIH guideline bundle whose chart it is.
    """
    source = (REPO / "pathway" / "guidelines" / "aih" / "chart.py").read_text(encoding="utf-8")
    anchor = "    catch_errors_as_events = False"
    if source.count(anchor) != 1:
        pytest.fail(f"anchor not found exactly once in pathway/guidelines/aih/chart.py: {anchor!r}")
    line_end = source.index("\n", source.index(anchor))
    source = source[:line_end] + _OFF + source[line_end:]
    for old, new in replacements:
        if source.count(old) != 1:
            pytest.fail(
                "mutation pattern not found exactly once in "
                f"pathway/guidelines/aih/chart.py: {old!r}"
            )
        source = source.replace(old, new)
    name = f"pathway.guidelines.aih._mutant_{next(_COUNTER)}"
    module = types.ModuleType(name)
    module.__package__ = "pathway.guidelines.aih"
    module.__file__ = str(REPO / "pathway" / "guidelines" / "aih" / "chart.py")
    sys.modules[name] = module
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    chart: type[Any] = module.AIHPathway
    replace(GUIDELINE, chart=chart)  # a copy of the AIH bundle, bound to the mutant
    return chart
