"""A guideline's patient record as JSON-ready data, whatever the guideline.

Records are dataclasses; :func:`record_to_dict` turns one into plain data for snapshots and
error reports: nested dataclasses (a lab panel) become dicts, sets sorted lists, tuples
lists, dicts copies. ``state`` (the chart's configuration, stored apart) and private fields
(derived caches) are left out.
"""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from typing import Any

__all__ = ["record_to_dict", "reduce_frozen"]


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def record_to_dict(record: Any) -> dict[str, Any]:
    """The record as JSON-ready data (sets as sorted lists, panels as dicts).

    >>> from dataclasses import dataclass, field
    >>> @dataclass
    ... class R:
    ...     day: float
    ...     seen: set[str] = field(default_factory=set)
    ...     state: object = None
    >>> record_to_dict(R(3.0, {"b", "a"}))
    {'day': 3.0, 'seen': ['a', 'b']}
    """
    return {
        f.name: _plain(getattr(record, f.name))
        for f in fields(record)
        if f.name != "state" and not f.name.startswith("_")
    }


def reduce_frozen(obj: Any) -> tuple[type[Any], tuple[Any, ...]]:
    """``__reduce__`` of a frozen dataclass: rebuild it through its constructor.

    A frozen dataclass compiled by mypyc (``make native``) restores its state by assigning
    fields, which the frozen ``__setattr__`` refuses (``FrozenInstanceError``), so
    ``copy.deepcopy`` and ``pickle`` of anything holding one failed; the constructor works in
    both builds. Every field must be an ``__init__`` argument.
    """
    return (type(obj), tuple(getattr(obj, f.name) for f in fields(obj)))
