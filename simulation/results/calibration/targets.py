"""Calibration targets: the target file's schema and its loader.

Each target (``simulation/data/calibration_targets.yaml``) is a sub-cohort, a clinician
policy, a follow-up horizon and a measured quantity, compared with a figure from the
clinical knowledge base (section 4) and its 95% interval.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pathway.guidelines.aih.sources import SOURCES

from ...input_files import InputFileError, compose_yaml, read_input_file
from ..intervals import wilson_interval
from .measures import MEASURE_PARAMS, MEASURES, Measure

__all__ = [
    "DEFAULT_TARGETS",
    "GROUPS",
    "GROUP_TITLES",
    "CalibrationError",
    "Published",
    "Target",
    "load_targets",
]

#: The target file shipped with the package (in ``simulation/data``).
DEFAULT_TARGETS = "calibration_targets.yaml"
#: The two groups of targets: parameters measured back, and figures the model was not fitted to.
GROUPS = ("input", "validation")
GROUP_TITLES = {
    "input": "Inputs measured back",
    "validation": "Validation (figures the model was not fitted to)",
}


class CalibrationError(ValueError):
    """A calibration target file or result file is invalid (names the file and the field)."""


# --- targets ---------------------------------------------------------------------------------


PUBLISHED_KEYS = ("value", "low", "high", "n", "events")
"""The keys a target's ``published`` mapping may hold."""


@dataclass(frozen=True, slots=True)
class Published:
    """A published proportion and its 95% interval.

    Attributes:
        value: The published proportion (0-1).
        low: Lower bound of the 95% interval.
        high: Upper bound of the 95% interval.
        derived: True when the interval was derived here from ``n`` (binomial, Wilson)
            rather than published.
        n: The denominator used to derive the interval, when derived.
        n_note: What that denominator is, when it is not the target's own group.
    """

    value: float
    low: float
    high: float
    derived: bool
    n: int | None = None
    n_note: str = ""

    def range_text(self) -> str:
        """``77.0–87.0%``."""
        return f"{100 * self.low:.1f}–{100 * self.high:.1f}%"

    def basis_text(self) -> str:
        """Where the interval comes from: published, or derived from which n."""
        if not self.derived:
            return "95% CI, published"
        return f"binomial (Wilson) from n = {self.n}, derived"

    def interval_text(self) -> str:
        """``77–87% (95% CI, published)`` or ``50–69% (binomial 95%, n = 100, derived)``."""
        span = f"{100 * self.low:.1f}–{100 * self.high:.1f}%"
        if not self.derived:
            return f"{span} (95% CI, published)"
        return f"{span} (binomial 95% Wilson interval from n = {self.n}, derived)"


@dataclass(frozen=True, slots=True)
class Target:
    """One calibration target: sub-cohort, policy, horizon, measure and published figure.

    ``overrides`` are ``--set`` style dotted names and values applied to the default cohort
    and parameters (for example ``cohort.presentation.acute_severe: 1.0``).
    """

    id: str
    source: str
    study: str
    quantity: str
    arm: str
    population: str
    overrides: Mapping[str, Any]
    policy: str | Mapping[str, Any]
    years: float
    measure: Measure
    published: Published
    note: str = ""
    group: str = "input"

    @property
    def policy_name(self) -> str:
        """The policy's name (a named strategy, or the ``name`` of an inline one)."""
        if isinstance(self.policy, str):
            return self.policy
        return str(self.policy["name"])

    def run_key(self) -> str:
        """Targets with equal keys share one simulated run."""
        return json.dumps(
            {"set": self.overrides, "policy": self.policy, "years": self.years}, sort_keys=True
        )


def load_targets(path: Path | None = None) -> tuple[Target, ...]:
    """Read and check the calibration targets.

    Args:
        path: A target file; by default the one shipped in ``simulation/data``.

    Returns:
        The targets, in file order.

    Raises:
        CalibrationError: If the file breaks the format (unknown measure, source id not in
            the knowledge base, interval that does not contain the value, duplicate id...).
    """
    if path is None:
        text = resources.files("simulation").joinpath("data", DEFAULT_TARGETS).read_text("utf-8")
        where = f"simulation/data/{DEFAULT_TARGETS}"
    else:
        text = read_input_file(path)
        where = str(path)
    try:
        root = compose_yaml(text, where)  # duplicate keys, depth, aliases: see input_files
    except InputFileError as exc:
        raise CalibrationError(str(exc)) from None
    data = None if root is None else root.plain()
    if not isinstance(data, dict) or data.get("schema") != 1:
        raise CalibrationError(f"{where}: expected a mapping with 'schema: 1' and 'targets'")
    raw_targets = data.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise CalibrationError(f"{where}: 'targets' must be a non-empty list")
    targets: list[Target] = []
    seen: set[str] = set()
    assert root is not None
    items = root.value["targets"][1].value  # the targets with their positions
    for i, raw in enumerate(raw_targets):
        at = f"{where}:{items[i].line}"
        target = _parse_target(raw, f"{at}: target #{i + 1}")
        if target.id in seen:
            raise CalibrationError(f"{at}: target id {target.id!r} appears more than once")
        seen.add(target.id)
        targets.append(target)
    return tuple(targets)


_REQUIRED = (
    "id",
    "source",
    "study",
    "quantity",
    "arm",
    "population",
    "set",
    "policy",
    "years",
    "measure",
    "published",
)
_OPTIONAL = ("note", "n_note", "group")


def _parse_target(raw: Any, where: str) -> Target:
    if not isinstance(raw, dict):
        raise CalibrationError(f"{where}: expected a mapping (got {type(raw).__name__})")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise CalibrationError(f"{where}: missing fields {missing}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise CalibrationError(f"{where}: unknown fields {unknown}")
    where = f"{where} ({raw['id']})"
    source = str(raw["source"])
    if source not in SOURCES:
        raise CalibrationError(
            f"{where}: source {source!r} is not in the knowledge base "
            "(pathway.guidelines.aih.sources)"
        )
    if not isinstance(raw["set"], dict) or not all(isinstance(k, str) for k in raw["set"]):
        raise CalibrationError(f"{where}: 'set' must map dotted names to values")
    policy = raw["policy"]
    if isinstance(policy, dict):
        if "name" not in policy or set(policy) - {"name", "description", "prefer", "avoid"}:
            raise CalibrationError(
                f"{where}: an inline policy needs 'name' and may have 'description', "
                f"'prefer', 'avoid' (got {sorted(policy)})"
            )
    elif not isinstance(policy, str):
        raise CalibrationError(f"{where}: 'policy' must be a name or a mapping")
    years = raw["years"]
    if not isinstance(years, int | float) or years <= 0:
        raise CalibrationError(f"{where}: 'years' must be > 0 (got {years!r})")
    measure = _parse_measure(raw["measure"], where)
    published = _parse_published(raw["published"], raw.get("n_note", ""), where)
    group = str(raw.get("group", "input"))
    if group not in GROUPS:
        raise CalibrationError(f"{where}: 'group' must be one of {list(GROUPS)} (got {group!r})")
    return Target(
        id=str(raw["id"]),
        source=source,
        study=str(raw["study"]),
        quantity=str(raw["quantity"]),
        arm=str(raw["arm"]),
        population=str(raw["population"]),
        overrides={k: raw["set"][k] for k in sorted(raw["set"])},
        policy=policy,
        years=float(years),
        measure=measure,
        published=published,
        note=str(raw.get("note", "")),
        group=group,
    )


def _parse_measure(raw: Any, where: str) -> Measure:
    if not isinstance(raw, dict) or "kind" not in raw:
        raise CalibrationError(f"{where}: 'measure' must be a mapping with a 'kind'")
    kind = str(raw["kind"])
    if kind not in MEASURES:
        raise CalibrationError(
            f"{where}: unknown measure kind {kind!r}; expected one of {sorted(MEASURES)}"
        )
    params = {k: v for k, v in raw.items() if k != "kind"}
    required, optional, check = MEASURE_PARAMS[kind]
    missing = [p for p in required if p not in params]
    extra = sorted(set(params) - set(required) - set(optional) - {"where"})
    if missing or extra:
        raise CalibrationError(
            f"{where}: measure {kind!r} takes {list(required)} (optional: "
            f"{[*optional, 'where']}); missing {missing}, unknown {extra}"
        )
    problem = check(params)
    if problem:
        raise CalibrationError(f"{where}: measure {kind!r}: {problem}")
    return Measure(kind, params)


def _published_number(raw: dict[str, Any], key: str, where: str) -> float:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalibrationError(f"{where}: published {key!r} must be a number (got {value!r})")
    return float(value)


def _parse_published(raw: Any, n_note: Any, where: str) -> Published:
    if not isinstance(raw, dict) or "value" not in raw:
        raise CalibrationError(f"{where}: 'published' must be a mapping with a 'value'")
    unknown = sorted(set(raw) - set(PUBLISHED_KEYS))
    if unknown:
        raise CalibrationError(
            f"{where}: unknown 'published' keys {unknown}; expected {list(PUBLISHED_KEYS)}"
        )
    value = _published_number(raw, "value", where)
    if not 0 <= value <= 1:
        raise CalibrationError(f"{where}: published value must be a proportion (got {value})")
    if "low" in raw or "high" in raw:
        # A published interval and a denominator to derive one would be two answers to the
        # same question; refuse rather than silently ignore one of them.
        if "low" not in raw or "high" not in raw or "n" in raw or "events" in raw:
            raise CalibrationError(
                f"{where}: 'published' takes either 'low' and 'high' (a published interval) or "
                f"'n' (and optionally 'events') to derive one (got {sorted(raw)})"
            )
        low, high = (_published_number(raw, k, where) for k in ("low", "high"))
        if not low <= value <= high:
            raise CalibrationError(
                f"{where}: published interval {low}-{high} does not contain {value}"
            )
        return Published(value, low, high, derived=False, n_note=str(n_note))
    if "n" not in raw:
        raise CalibrationError(f"{where}: 'published' needs 'low' and 'high' or 'n'")
    n = raw["n"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise CalibrationError(f"{where}: published 'n' must be a whole number >= 1 (got {n!r})")
    successes = _published_number(raw, "events", where) if "events" in raw else value * n
    if not 0 <= successes <= n:
        raise CalibrationError(f"{where}: published 'events' must lie in 0-{n} (got {successes})")
    low, high = wilson_interval(successes, n)
    return Published(value, low, high, derived=True, n=n, n_note=str(n_note))
