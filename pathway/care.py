"""The care state of a configuration: the one state of a guideline's care line to show.

A chart's configuration holds every active state at every depth (for AIH: the care line,
the steroid course, the liver stage, the pregnancy status and their parents). Applications,
outputs and messages show one id of it, the *care state*; this is the one function that
picks it, for any guideline, given the guideline's care line (its care states in the
order they win: a nested state before the state holding it).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["care_state"]


def care_state(active: Collection[str], care_line: Sequence[str]) -> str:
    """The first state of ``care_line`` that is active, or ``unknown`` when none is.

    Args:
        active: the active state ids (a chart's ``active``, a trace step's or snapshot's
            configuration).
        care_line: the guideline's care states in the order they win when several are
            active: a state nested in another comes before it (the AIH one:
            :data:`pathway.guidelines.aih.vocabulary.CARE_LINE`).

    >>> care_state({"alive", "care_line", "first_line", "induction", "taper"},
    ...            ("recurrent_aih", "diagnosis", "induction", "post_transplant"))
    'induction'
    >>> care_state({"post_transplant", "recurrent_aih"}, ("recurrent_aih", "post_transplant"))
    'recurrent_aih'
    >>> care_state(set(), ("diagnosis",))
    'unknown'
    """
    for state in care_line:
        if state in active:
            return state
    return "unknown"
