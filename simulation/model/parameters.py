"""Calibrated parameters of the patient model, each with its source, figure and tag.

The values live in a data file beside this module (``simulation/data/parameters.yaml``).
Every parameter carries a unit, a verification tag of the clinical knowledge base (``V``,
``V-sec``, ``R``, ``MODEL``) and either the source ids and the figure it comes from or, for a
modelling choice, a one-line rationale. :func:`load_parameters` validates all of this, so a
parameter without provenance, or a source id the knowledge base does not list, is an error.

>>> params = load_parameters()
>>> params["relapse.withdrawal_1y"]
0.59
>>> params.info("relapse.withdrawal_1y").sources
('S-VGERVEN13',)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from pathway.guidelines.aih.sources import SOURCES, TAGS, Tag

from ..input_files import InputFileError, compose_yaml, read_input_file

__all__ = [
    "DEFAULT_PARAMETERS",
    "InputFileError",
    "Parameter",
    "ParameterError",
    "ParameterSet",
    "close_matches",
    "load_parameters",
    "read_input_file",
]

#: The parameter file shipped with the package.
DEFAULT_PARAMETERS = "parameters.yaml"


class ParameterError(ValueError):
    """A parameter file or override is invalid (one line: file, field, found, expected).

    ``keys`` is the path of mapping keys to the field at fault in the file, when there is
    one (``("parameters", "relapse.withdrawal_1y", "value")``).
    """

    def __init__(self, message: str, keys: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.keys = keys


@dataclass(frozen=True, slots=True)
class Parameter:
    """One model parameter and its provenance.

    Attributes:
        name: dotted name, e.g. ``relapse.withdrawal_1y``.
        value: the number, in ``unit``.
        unit: the unit (``1/year``, ``probability``, ``days``, ``x ULN``...).
        tag: verification tag of the knowledge base (section 0.1).
        sources: knowledge-base source ids (may be empty for ``MODEL``).
        figure: the figure of the source the value comes from (required unless ``MODEL``).
        rationale: why a ``MODEL`` value was chosen (required for ``MODEL``).
    """

    name: str
    value: float
    unit: str
    tag: Tag
    sources: tuple[str, ...] = ()
    figure: str = ""
    rationale: str = ""

    def citation(self) -> str:
        """A one-line citation: ``S-VGERVEN13 [V]: cumulative retreatment ...``."""
        ids = ", ".join(self.sources) or "no source"
        text = self.figure or self.rationale
        return f"{ids} [{self.tag}]: {text}"


class ParameterSet(Mapping[str, float]):
    """An immutable set of parameters: ``params[name]`` is the value.

    Use :meth:`info` for the provenance and :meth:`with_overrides` for a changed copy.
    """

    def __init__(self, parameters: Mapping[str, Parameter], origin: str = "") -> None:
        self._params = dict(parameters)
        self.origin = origin
        self.overridden: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> float:
        try:
            return self._params[name].value
        except KeyError:
            raise KeyError(unknown_key_message("parameter", name, list(self._params))) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def info(self, name: str) -> Parameter:
        """The full :class:`Parameter` record of ``name``."""
        if name not in self._params:
            raise KeyError(unknown_key_message("parameter", name, list(self._params)))
        return self._params[name]

    def as_dict(self) -> dict[str, float]:
        """Name -> value, in file order."""
        return {name: p.value for name, p in self._params.items()}

    def with_overrides(self, overrides: Mapping[str, float]) -> ParameterSet:
        """A copy with some values replaced.

        Raises:
            ParameterError: an unknown name (with close matches) or a non-finite value.
        """
        params = dict(self._params)
        for name, value in overrides.items():
            if name not in params:
                raise ParameterError(unknown_key_message("parameter", name, list(params)))
            if not math.isfinite(value):
                raise ParameterError(f"parameter {name!r}: found {value!r}, expected a number")
            params[name] = replace(params[name], value=float(value))
        out = ParameterSet(params, self.origin)
        out.overridden = tuple(dict.fromkeys((*self.overridden, *overrides)))
        return out


def close_matches(name: str, known: list[str], n: int = 3) -> list[str]:
    """Up to ``n`` known names that look like ``name`` (difflib, then substring)."""
    found = difflib.get_close_matches(name, known, n=n, cutoff=0.6)
    if not found:
        tail = name.rsplit(".", 1)[-1]
        found = [k for k in known if tail and tail in k][:n]
    return found


def unknown_key_message(what: str, name: str, known: list[str]) -> str:
    """``unknown parameter 'x'; did you mean 'y'?`` (or where to find the list)."""
    matches = close_matches(name, known)
    hint = (
        f"; did you mean {', '.join(repr(m) for m in matches)}?"
        if matches
        else f"; {len(known)} known, e.g. {', '.join(repr(k) for k in known[:3])}"
    )
    return f"unknown {what} {name!r}{hint}"


#: The keys of one parameter's entry.
_ENTRY_KEYS = ("value", "unit", "tag", "sources", "figure", "rationale")


def _fail(origin: str, field: str, found: Any, expected: str) -> ParameterError:
    # ``field`` is a top-level key, a parameter's name, or NAME.PART for a part of its
    # entry (names hold dots themselves); ``keys`` lead to it in the file.
    name, _, part = field.rpartition(".")
    keys: tuple[str, ...]
    if field in ("parameters", "schema"):
        keys = (field,)
    elif part in _ENTRY_KEYS:
        keys = ("parameters", name, part)
    else:
        keys = ("parameters", field)
    return ParameterError(f"{origin}: {field}: found {found!r}, expected {expected}", keys)


def _parse_one(origin: str, name: str, entry: Any) -> Parameter:
    if not isinstance(entry, dict):
        raise _fail(origin, name, entry, "a mapping with value, unit, tag and sources/rationale")
    known = set(_ENTRY_KEYS)
    extra = sorted(set(entry) - known)
    if extra:
        raise _fail(origin, f"{name}.{extra[0]}", extra[0], f"one of {sorted(known)}")
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(origin, f"{name}.value", value, "a finite number")
    unit = entry.get("unit")
    if not isinstance(unit, str) or not unit:
        raise _fail(origin, f"{name}.unit", unit, "a unit such as '1/year' or 'probability'")
    tag = entry.get("tag")
    if tag not in TAGS:
        raise _fail(origin, f"{name}.tag", tag, f"one of {list(TAGS)}")
    sources = entry.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise _fail(origin, f"{name}.sources", sources, "a list of source ids")
    for source in sources:
        if source not in SOURCES:
            raise _fail(origin, f"{name}.sources", source, "a source id of the knowledge base")
    figure = entry.get("figure", "") or ""
    rationale = entry.get("rationale", "") or ""
    if tag == "MODEL":
        if not isinstance(rationale, str) or not rationale.strip():
            raise _fail(origin, f"{name}.rationale", rationale, "a one-line rationale for MODEL")
    else:
        if not sources:
            raise _fail(origin, f"{name}.sources", sources, f"at least one source for [{tag}]")
        if not isinstance(figure, str) or not figure.strip():
            raise _fail(origin, f"{name}.figure", figure, "the source figure the value comes from")
    return Parameter(
        name=name,
        value=float(value),
        unit=unit,
        tag=tag,
        sources=tuple(sources),
        figure=str(figure).strip(),
        rationale=str(rationale).strip(),
    )


def parse_parameters(data: Any, origin: str) -> ParameterSet:
    """Validate parsed YAML ``data`` and build a :class:`ParameterSet`.

    Raises:
        ParameterError: on the first invalid field (file, field, found, expected).
    """
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise _fail(origin, "parameters", data, "a mapping 'parameters: {name: {...}}'")
    if data.get("schema") != 1:
        raise _fail(origin, "schema", data.get("schema"), "1")
    params = {
        str(name): _parse_one(origin, str(name), entry)
        for name, entry in data["parameters"].items()
    }
    return ParameterSet(params, origin)


def load_parameters(path: str | Path | None = None) -> ParameterSet:
    """Load and validate a parameter file (default: the packaged ``parameters.yaml``).

    Raises:
        ParameterError: invalid content; OSError: unreadable file.
    """
    if path is None:
        ref = resources.files("simulation").joinpath("data", DEFAULT_PARAMETERS)
        text, origin = ref.read_text(encoding="utf-8"), f"simulation/data/{DEFAULT_PARAMETERS}"
    else:
        text, origin = read_input_file(path), str(path)
    try:
        root = compose_yaml(text, origin)  # duplicate keys, depth, aliases: see input_files
    except InputFileError as exc:
        raise ParameterError(str(exc)) from None
    try:
        return parse_parameters(None if root is None else root.plain(), origin)
    except ParameterError as exc:
        line = root.line_of(exc.keys) if root is not None else None
        if line is None:
            raise
        # file:line: field: ..., as the loaders of cohorts and scenarios write it.
        raise ParameterError(
            f"{origin}:{line}: " + str(exc).removeprefix(f"{origin}: "), exc.keys
        ) from None
