"""Scenario files: load and validate one patient's clinical story (shared/spec/scenario-format.md).

A scenario is YAML written by a guideline author: who the patient is, what happens to them
and when, and what the pathway must (and must not) do. This module turns a file into a typed
:class:`Scenario` or raises :class:`ScenarioError` naming the file, line and column, the
offending value and what was expected, in one line.

Loading is safe by construction. The text is composed into YAML nodes with PyYAML's
``SafeLoader`` and converted here, node by node, so that every value keeps its position:

- only plain YAML types are accepted (text, numbers, booleans, null, lists, mappings); any
  other tag, in particular an object-constructing ``!!python/...`` tag, is an error;
- aliases are expanded under a node budget (:data:`MAX_NODES`) and a depth limit
  (:data:`MAX_DEPTH`), so an alias bomb fails at once instead of eating memory;
- files larger than :data:`MAX_FILE_BYTES` are refused before parsing, and a file holds
  exactly one document;
- duplicate keys are errors (YAML would silently keep the last one).

Units follow the vocabulary: days from diagnosis, mg/day, ALT/AST/IgG as multiples of ULN.

A scenario runs the AIH guideline unless its ``guideline:`` key names another one of
:data:`pathway.guidelines.NAMES`; then its patient holds that guideline's record fields, its
timeline that guideline's findings and actions, and its expectations name that guideline's
care states, actions, drugs and invariants (``labs`` and ``response`` are AIH's own).
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

from pathway import PathwayError, PatientError, PatientRecord
from pathway.bundle import Guideline
from pathway.guidelines import DEFAULT, NAMES, get
from pathway.guidelines.aih.patient import LAB_RANGES
from pathway.guidelines.aih.vocabulary import (
    CIRRHOSIS_STAGES,
    FINDING_VALUES,
    PRESENTATIONS,
    RESPONSE_CLASSES,
    SEXES,
    TPMT_STATUSES,
)

from ..input_files import (
    InputFileError,
    InputTooLargeError,
    Located,
    compose_yaml,
    read_input_bytes,
)
from ..model.scripted import baseline_occurrences
from ..run.engine import Occurrence

__all__ = [
    "EXPECTATION_KEYS",
    "MAX_DAY",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Expectation",
    "PatientSpec",
    "Scenario",
    "ScenarioError",
    "TimelineEntry",
    "find_scenario_files",
    "load_scenario",
    "parse_patient",
    "parse_scenario",
]

Days = float

#: Largest scenario file accepted, in bytes (a long story is a few kilobytes).
MAX_FILE_BYTES = 256 * 1024
#: Most YAML nodes a document may hold once aliases are expanded.
MAX_NODES = 20_000
#: Deepest nesting of lists and mappings accepted.
MAX_DEPTH = 24
#: Latest day a scenario may name (days from diagnosis; 100 years).
MAX_DAY: Days = 36_500.0
#: Highest dose an expectation may name, in mg/day (mycophenolate is about 2000).
MAX_DOSE_MG_DAY = 10_000.0

TOP_KEYS = (
    "guideline",
    "name",
    "description",
    "patient",
    "labs",
    "timeline",
    "expect",
    "violates",
    "horizon_days",
)
PATIENT_KEYS = (
    "age",
    "sex",
    "weight_kg",
    "cirrhosis",
    "presentation",
    "tpmt",
    "pregnant",
)
EXPECTATION_KEYS = (
    "in_state",
    "not_in_state",
    "on_drugs",
    "not_on_drugs",
    "dose",
    "response",
    "recommends",
    "does_not_recommend",
    "deviation",
)


def _invariant_ids(guideline: Guideline) -> tuple[str, ...]:
    """Invariant rule ids a scenario of ``guideline`` may name in ``violates``."""
    return tuple(r.id for r in guideline.rules.values() if r.kind == "invariant")


#: Invariant rule ids an AIH scenario may name in ``violates``.
INVARIANT_IDS = _invariant_ids(get(DEFAULT))
#: Record fields a scenario of another guideline may not set: the engine keeps them.
_KEPT_FIELDS = ("patient_id", "day", "drugs", "entered", "timers_fired", "death_day", "state")

_PREGNANCY_FINDINGS = ("pregnancy_planned", "pregnant", "delivered")
_LAB_UNITS = {
    "alt_xuln": "x ULN",
    "ast_xuln": "x ULN",
    "igg_xuln": "x ULN",
    "bilirubin_mg_dl": "mg/dL",
    "inr": "ratio",
    "wbc_10e9_l": "10^9/L",
    "platelets_10e9_l": "10^9/L",
    "meld": "points",
}
# A number followed by a unit, e.g. "62 kg", "340 U/L", "4w": the author wrote a unit.
_NUMBER_WITH_UNIT = re.compile(r"^\s*[-+]?\d+(?:\.\d*)?\s*[A-Za-zµ%/][\w/^.µ%]*\s*$")

_ALLOWED_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"  # read as text: a date is not a day number


class ScenarioError(InputFileError, PathwayError):
    """A scenario file is invalid: bad YAML, unknown key or id, bad value or order.

    An :class:`~simulation.input_files.InputFileError` (same attributes: ``file``, ``line``,
    ``column``, ``message``, ``found``, ``expected``): ``str(error)`` is one line,
    ``FILE:LINE:COLUMN: MESSAGE``, or ``FILE: MESSAGE`` when the file as a whole is at fault
    (unreadable, missing; ``line`` 0). Also a :class:`~pathway.PathwayError`, for callers
    that catch the pathway's errors.
    """


# --- typed scenario --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatientSpec:
    """The patient at diagnosis: age (years), sex, weight (kg) and clinical attributes."""

    age: float
    sex: str
    weight_kg: float
    cirrhosis: str = "none"
    presentation: str = "chronic"
    tpmt: str = "unknown"
    pregnant: bool = False

    def record(self, patient_id: str) -> PatientRecord:
        """A fresh patient record at diagnosis for this patient."""
        return PatientRecord(
            patient_id,
            age=self.age,
            sex=self.sex,
            weight_kg=self.weight_kg,
            cirrhosis=self.cirrhosis,
            presentation=self.presentation,
            tpmt=self.tpmt,
            pregnancy="pregnant" if self.pregnant else "none",
        )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One finding or scripted clinician action at ``day`` (days from diagnosis).

    ``value`` is the finding's payload (a lab mapping, a drug, a status) or ``None``.
    """

    day: Days
    kind: Literal["finding", "action"]
    name: str
    value: Any
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Expectation:
    """Checks evaluated after everything due on ``day`` has happened.

    Empty tuples and ``None`` mean "not checked". ``dose`` maps a drug to an inclusive
    ``(low, high)`` range in mg/day (an exact dose is ``(x, x)``). ``key_lines`` gives the
    1-based line of each check key, for error reports.
    """

    day: Days
    line: int
    column: int
    in_state: tuple[str, ...] = ()
    not_in_state: tuple[str, ...] = ()
    on_drugs: tuple[str, ...] = ()
    not_on_drugs: tuple[str, ...] = ()
    dose: dict[str, tuple[float, float]] = field(default_factory=dict)
    response: str | None = None
    recommends: tuple[str, ...] = ()
    does_not_recommend: tuple[str, ...] = ()
    deviation: str | None = None
    key_lines: dict[str, int] = field(default_factory=dict)

    @property
    def checks(self) -> tuple[str, ...]:
        """The check keys this expectation uses, in the order of :data:`EXPECTATION_KEYS`."""
        return tuple(k for k in EXPECTATION_KEYS if k in self.key_lines)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario file.

    Attributes:
        path: the file as given by the caller.
        name: one-line title.
        description: why the story matters (free text).
        patient: the patient at diagnosis.
        labs: the baseline lab panel at day 0 (vocabulary lab ids to values).
        timeline: findings and scripted actions in day order (file order within a day).
        expect: expectations in day order.
        violates: invariant rule ids the story exists to show being broken.
        violates_line: line of the ``violates`` key (0 when absent).
        horizon_days: how long the course runs (days from diagnosis).
        line_of: 1-based line of each top-level key.
        guideline: the registry name of the guideline it runs (:mod:`pathway.guidelines`);
            for a guideline other than AIH, ``patient`` holds its record fields.
    """

    path: str
    name: str
    description: str
    patient: PatientSpec | dict[str, Any]
    labs: dict[str, float]
    timeline: tuple[TimelineEntry, ...]
    expect: tuple[Expectation, ...]
    violates: tuple[str, ...]
    violates_line: int
    horizon_days: Days
    line_of: dict[str, int] = field(default_factory=dict)
    guideline: str = DEFAULT

    @property
    def patient_id(self) -> str:
        """The file's stem, used as the patient id."""
        return Path(self.path).stem

    def record(self) -> Any:
        """A fresh patient record for this scenario (of its guideline's record type)."""
        if isinstance(self.patient, PatientSpec):
            return self.patient.record(self.patient_id)
        return get(self.guideline).record(self.patient_id, **self.patient)

    def baseline(self, record: Any) -> list[Occurrence]:
        """The day-0 findings: baseline labs, staging, encephalopathy, pregnancy (AIH; none
        for another guideline)."""
        if not isinstance(record, PatientRecord):
            return []
        out = baseline_occurrences(record, self.labs or None)
        line = self.line_of.get("labs") or self.line_of.get("patient", 0)
        return [Occurrence(o.day, o.kind, o.name, o.value, line) for o in out]

    def occurrences(self) -> list[Occurrence]:
        """The timeline as engine occurrences (each with its source line)."""
        return [Occurrence(e.day, e.kind, e.name, e.value, e.line) for e in self.timeline]


# --- files -----------------------------------------------------------------------------------


def find_scenario_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Expand ``paths`` (files or directories) to scenario files, in a stable order.

    A directory contributes its ``*.yaml`` files (not recursively), sorted by name, and its
    ``*.yaml`` symbolic links that lead nowhere. A path that does not exist is returned as
    is, so that loading it reports the error.
    """
    out: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # A broken or looping symbolic link is kept: loading it reports the error.
            out.extend(str(p) for p in sorted(path.glob("*.yaml")) if p.is_file() or p.is_symlink())
        else:
            out.append(str(raw))
    return out


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load and validate one scenario file.

    Args:
        path: the ``.yaml`` file.

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: the file cannot be read, is too large, is not valid YAML, or breaks
            the scenario format (with the file, line, column and offending value).
    """
    name = os.fspath(path)
    try:
        data = read_input_bytes(path, max_bytes=MAX_FILE_BYTES)
    except InputTooLargeError as exc:
        raise ScenarioError(
            name,
            1,
            1,
            f"file is larger than {MAX_FILE_BYTES} bytes; a scenario is one patient's story",
            found=exc.found,
            expected=f"<= {MAX_FILE_BYTES} bytes",
        ) from None
    except InputFileError as exc:  # a folder, a device, a FIFO...
        raise ScenarioError(name, 0, 0, exc.message) from None
    except OSError as exc:
        raise ScenarioError(name, 0, 0, f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_col(data[: exc.start].decode("utf-8", "replace"))
        raise ScenarioError(
            name, line, column, "file is not UTF-8 text", expected="UTF-8"
        ) from None
    return parse_scenario(text, file=name)


def parse_patient(node: Located, file: str) -> PatientSpec:
    """Validate a ``patient`` block (a YAML mapping with its positions) as in a scenario.

    Other files that describe a patient at diagnosis (the trainer's cases) use it, so that
    one set of fields, ranges and messages holds everywhere.

    Raises:
        ScenarioError: an unknown or missing field or a bad value, naming ``file``, the
            line and column, what was found and what was expected.
    """
    return _Validator(file).patient(node)


def parse_scenario(text: str, *, file: str = "<string>") -> Scenario:
    """Validate scenario YAML given as text (``file`` names it in errors).

    Raises:
        ScenarioError: see :func:`load_scenario`.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioError(file, 1, 1, f"document is larger than {MAX_FILE_BYTES} bytes")
    root = _compose(text, file)
    return _Validator(file).scenario(root)


def _line_col(prefix: str) -> tuple[int, int]:
    lines = prefix.split("\n")
    return len(lines), len(lines[-1]) + 1


# --- YAML nodes to positioned plain values ---------------------------------------------------


#: A plain YAML value with its 1-based position (see :class:`simulation.input_files.Located`).
_Val = Located


def _compose(text: str, file: str) -> _Val:
    """The scenario document as positioned values, under the scenario limits."""
    try:
        root = compose_yaml(
            text,
            file,
            kind="scenario",
            max_nodes=MAX_NODES,
            max_depth=MAX_DEPTH,
            libyaml=False,  # the messages scenario authors see are pinned by the tests
        )
    except InputFileError as exc:
        raise ScenarioError(
            exc.file, exc.line, exc.column, exc.message, exc.found, exc.expected
        ) from None
    if root is None:
        raise ScenarioError(file, 1, 1, "empty file; expected a scenario mapping", expected="map")
    return root


# --- validation ------------------------------------------------------------------------------

_T = TypeVar("_T")


def _choices(options: Sequence[str]) -> str:
    return "[" + ", ".join(options) + "]"


def _close(word: object, options: Sequence[str]) -> str | None:
    if not isinstance(word, str):
        return None
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def _suggest(word: object, options: Sequence[str]) -> str:
    close = _close(word, options)
    return f" (did you mean {close!r}?)" if close else ""


#: Option lists longer than this are named by their kind when a close match can be suggested.
_SHORT_LIST = 8


def _expected(options: Sequence[str], word: object, noun: str) -> str:
    """``one of [a, b]``, or just ``noun`` when the list is long and a suggestion will follow."""
    if noun and len(options) > _SHORT_LIST and _close(word, options):
        return noun
    return f"one of {_choices(options)}"


class _Validator:
    """Checks a :class:`_Val` tree against the scenario format, building typed objects.

    The ids it accepts (actions, findings, care states, drugs, invariants) are those of
    ``guideline`` (set from the scenario's ``guideline:`` key).
    """

    def __init__(self, file: str, guideline: Guideline | None = None) -> None:
        self.file = file
        self.use(guideline or get(DEFAULT))

    def use(self, guideline: Guideline) -> None:
        """Accept the ids of ``guideline`` from now on."""
        self.guideline = guideline
        self.actions: tuple[str, ...] = guideline.actions
        self.care_states: tuple[str, ...] = guideline.care_states
        self.drugs: tuple[str, ...] = guideline.drugs
        self.findings: tuple[str, ...] = tuple(guideline.findings)
        self.invariant_ids = _invariant_ids(guideline)
        self.aih = guideline.name == DEFAULT

    def fail(self, at: _Val, message: str, found: Any = None, expected: str = "") -> ScenarioError:
        return ScenarioError(self.file, at.line, at.column, message, found, expected)

    # --- shapes ---

    def mapping(self, v: _Val, what: str) -> dict[str, tuple[_Val, _Val]]:
        if not isinstance(v.value, dict):
            raise self.fail(
                v, f"{what} must be a mapping of keys (got {v.value!r})", v.value, "mapping"
            )
        result: dict[str, tuple[_Val, _Val]] = v.value
        return result

    def sequence(self, v: _Val, what: str) -> list[_Val]:
        if not isinstance(v.value, list):
            raise self.fail(v, f"{what} must be a list (got {v.value!r})", v.value, "list")
        result: list[_Val] = v.value
        return result

    def keys(
        self,
        m: dict[str, tuple[_Val, _Val]],
        allowed: Sequence[str],
        what: str,
        required: Sequence[str] = (),
        at: _Val | None = None,
    ) -> None:
        for key, (kv, _) in m.items():
            if key not in allowed:
                close = _close(key, allowed)
                hint = (
                    f"did you mean {close!r}?"
                    if close and len(allowed) > _SHORT_LIST
                    else f"expected one of {_choices(allowed)}" + _suggest(key, allowed)
                )
                raise self.fail(
                    kv,
                    f"unknown key {key!r} in {what}; {hint}",
                    key,
                    f"one of {_choices(allowed)}",
                )
        for key in required:
            if key not in m:
                where = at if at is not None else _Val(None, 1, 1)
                raise self.fail(where, f"{what} needs {key!r}", None, key)

    def text(self, v: _Val, what: str) -> str:
        if not isinstance(v.value, str) or not v.value.strip():
            raise self.fail(v, f"{what} must be non-empty text (got {v.value!r})", v.value, "text")
        return v.value

    def number(
        self, v: _Val, what: str, unit: str, low: float, high: float, *, open_low: bool = False
    ) -> float:
        value = v.value
        bounds = f"({low:g}, {high:g}]" if open_low else f"[{low:g}, {high:g}]"
        expected = f"a number in {unit} within {bounds}"
        if isinstance(value, str) and _NUMBER_WITH_UNIT.match(value):
            raise self.fail(
                v,
                f"{what} must be a plain number in {unit}, without a unit (got {value!r})",
                value,
                expected,
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(v, f"{what} must be {expected} (got {value!r})", value, expected)
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        below = number <= low if open_low else number < low
        if not math.isfinite(number) or below or number > high:
            raise self.fail(v, f"{what} must be {expected} (got {value!r})", value, expected)
        return number

    def choice(self, v: _Val, what: str, options: Sequence[str], noun: str = "") -> str:
        if not isinstance(v.value, str) or v.value not in options:
            raise self.fail(
                v,
                f"{what} must be {_expected(options, v.value, noun)} (got {v.value!r})"
                + _suggest(v.value, options),
                v.value,
                f"one of {_choices(options)}",
            )
        return v.value

    def ids(self, v: _Val, what: str, options: Sequence[str], noun: str = "") -> tuple[str, ...]:
        """One id or a non-empty list of distinct ids from ``options``."""
        items = v.value if isinstance(v.value, list) else [v]
        if not items:
            raise self.fail(v, f"{what} must name at least one id (got [])", [], "ids")
        out: list[str] = []
        for item in items:
            value = self.choice(item, what, options, noun)
            if value in out:
                raise self.fail(item, f"{what} names {value!r} twice", value, "distinct ids")
            out.append(value)
        return tuple(out)

    def day(self, v: _Val, what: str) -> float:
        return self.number(v, what, "days from diagnosis", 0.0, MAX_DAY)

    # --- sections ---

    def scenario(self, root: _Val) -> Scenario:
        top = self.mapping(root, "a scenario")
        self.keys(top, TOP_KEYS, "the scenario", required=("name", "patient"), at=root)
        line_of = {key: kv.line for key, (kv, _) in top.items()}
        if "guideline" in top:
            self.use(get(self.choice(top["guideline"][1], "'guideline'", NAMES)))
        if not self.aih and "labs" in top:
            kv = top["labs"][0]
            raise self.fail(
                kv,
                f"'labs' is a key of AIH scenarios; this one runs {self.guideline.name!r}",
                "labs",
                "no 'labs'",
            )
        name = self.text(top["name"][1], "'name'")
        description = ""
        if "description" in top:
            v = top["description"][1]
            if not isinstance(v.value, str):
                raise self.fail(v, f"'description' must be text (got {v.value!r})", v.value)
            description = v.value.strip()
        patient: PatientSpec | dict[str, Any] = (
            self.patient(top["patient"][1]) if self.aih else self.record(top["patient"][1])
        )
        labs = self.labs(top["labs"][1], "'labs'") if "labs" in top else {}
        timeline = self.timeline(top["timeline"][1], patient) if "timeline" in top else ()
        expect = self.expectations(top["expect"][1], timeline) if "expect" in top else ()
        violates: tuple[str, ...] = ()
        if "violates" in top:
            violates = self.ids(
                top["violates"][1], "'violates'", self.invariant_ids, "an invariant rule id"
            )
        last = max([0.0] + [e.day for e in timeline] + [x.day for x in expect])
        if "horizon_days" in top:
            hv = top["horizon_days"][1]
            horizon = self.number(hv, "'horizon_days'", "days", 0.0, MAX_DAY, open_low=True)
            if horizon < last:
                raise self.fail(
                    hv,
                    f"'horizon_days' must be >= the last day named ({last:g}) (got {hv.value!r})",
                    hv.value,
                    f">= {last:g}",
                )
        else:
            horizon = last + 1.0
        return Scenario(
            path=self.file,
            name=name,
            description=description,
            patient=patient,
            labs=labs,
            timeline=tuple(timeline),
            expect=tuple(expect),
            violates=violates,
            violates_line=line_of.get("violates", 0),
            horizon_days=horizon,
            line_of=line_of,
            guideline=self.guideline.name,
        )

    def patient(self, v: _Val) -> PatientSpec:
        m = self.mapping(v, "'patient'")
        self.keys(m, PATIENT_KEYS, "'patient'", required=("age", "sex", "weight_kg"), at=v)
        age = self.number(m["age"][1], "'age'", "years", 18.0, 110.0)
        sex = self.choice(m["sex"][1], "'sex'", SEXES)
        weight = self.number(m["weight_kg"][1], "'weight_kg'", "kg", 30.0, 300.0)
        fields: dict[str, str] = {}
        for key, options in (
            ("cirrhosis", CIRRHOSIS_STAGES),
            ("presentation", PRESENTATIONS),
            ("tpmt", TPMT_STATUSES),
        ):
            if key in m:
                fields[key] = self.choice(m[key][1], f"{key!r}", options)
        pregnant = False
        if "pregnant" in m:
            pv = m["pregnant"][1]
            if not isinstance(pv.value, bool):
                raise self.fail(
                    pv, f"'pregnant' must be true or false (got {pv.value!r})", pv.value, "bool"
                )
            pregnant = pv.value
            if pregnant and sex != "F":
                raise self.fail(pv, "'pregnant: true' needs sex F", pv.value, "sex F")
        return PatientSpec(age, sex, weight, pregnant=pregnant, **fields)

    def record(self, v: _Val) -> dict[str, Any]:
        """The ``patient`` of a non-AIH scenario: fields of its guideline's record type,
        checked by building one (the record type's own checks)."""
        m = self.mapping(v, "'patient'")
        names = [
            f.name
            for f in fields(self.guideline.record)
            if f.name not in _KEPT_FIELDS and not f.name.startswith("_")
        ]
        self.keys(m, names, "'patient'", at=v)
        out = {key: vv.value for key, (_, vv) in m.items()}
        try:
            self.guideline.record("check", **out)
        except (PatientError, TypeError, ValueError) as exc:
            raise self.fail(v, f"'patient' is not a valid record: {exc}", out) from None
        return out

    def labs(self, v: _Val, what: str) -> dict[str, float]:
        m = self.mapping(v, what)
        if not m:
            raise self.fail(v, f"{what} must hold at least one lab value", {}, "lab values")
        out: dict[str, float] = {}
        for key, (kv, vv) in m.items():
            if key not in LAB_RANGES:
                fields = list(LAB_RANGES)
                raise self.fail(
                    kv,
                    f"unknown lab {key!r} in {what}; expected "
                    f"{_expected(fields, key, 'a lab id')}"
                    + _suggest(key, fields)
                    + " (units are in the names: _xuln = multiple of ULN, _mg_dl = mg/dL)",
                    key,
                    f"one of {_choices(fields)}",
                )
            low, high = LAB_RANGES[key]
            out[key] = self.number(vv, f"lab {key!r}", _LAB_UNITS[key], low, high)
        return out

    def timeline(self, v: _Val, patient: PatientSpec | dict[str, Any]) -> list[TimelineEntry]:
        items = self.sequence(v, "'timeline'")
        out: list[TimelineEntry] = []
        allowed = ("day", "action", *self.findings)
        for item in items:
            m = self.mapping(item, "a timeline entry")
            self.keys(m, allowed, "a timeline entry", required=("day",), at=item)
            day = self.day(m["day"][1], "'day'")
            if out and day < out[-1].day:
                raise self.fail(
                    m["day"][1],
                    f"timeline day {day:g} is out of order (the entry before is day "
                    f"{out[-1].day:g}); entries must be in day order",
                    day,
                    f">= {out[-1].day:g}",
                )
            events = [(key, kv, vv) for key, (kv, vv) in m.items() if key != "day"]
            if len(events) != 1:
                names = [key for key, _, _ in events]
                raise self.fail(
                    item,
                    f"a timeline entry holds one finding or one action besides 'day' (got {names})",
                    names,
                    "one finding or action",
                )
            key, kv, vv = events[0]
            if key == "action":
                action = self.choice(vv, "'action'", self.actions, "an action id")
                out.append(TimelineEntry(day, "action", action, None, kv.line, kv.column))
                continue
            value = self.payload(key, vv, patient)
            out.append(TimelineEntry(day, "finding", key, value, kv.line, kv.column))
        return out

    def payload(self, finding: str, v: _Val, patient: PatientSpec | dict[str, Any]) -> Any:
        if not isinstance(patient, PatientSpec):
            try:  # another guideline: its own payload check
                return self.guideline.check_payload(finding, v.value, 0.0)[0]
            except PatientError as exc:
                raise self.fail(v, f"{finding!r}: {exc}", v.value) from None
        if finding == "labs":
            return self.labs(v, "'labs'")
        if finding in FINDING_VALUES:
            return self.choice(v, f"{finding!r}", FINDING_VALUES[finding], "a drug id")
        if v.value is not True:
            raise self.fail(
                v,
                f"{finding!r} takes no value; write '{finding}: true' (got {v.value!r})",
                v.value,
                "true",
            )
        if finding in _PREGNANCY_FINDINGS and patient.sex != "F":
            raise self.fail(v, f"{finding!r} needs a patient of sex F", finding, "sex F")
        return None

    def expectations(self, v: _Val, timeline: Sequence[TimelineEntry]) -> list[Expectation]:
        items = self.sequence(v, "'expect'")
        out: list[Expectation] = []
        for item in items:
            m = self.mapping(item, "an expectation")
            keys = (
                EXPECTATION_KEYS
                if self.aih
                else tuple(k for k in EXPECTATION_KEYS if k != "response")
            )
            self.keys(m, ("day", *keys), "an expectation", required=("day",), at=item)
            day = self.day(m["day"][1], "'day'")
            if out and day < out[-1].day:
                raise self.fail(
                    m["day"][1],
                    f"expectation day {day:g} is out of order (the one before is day "
                    f"{out[-1].day:g}); expectations must be in day order",
                    day,
                    f">= {out[-1].day:g}",
                )
            if len(m) < 2:
                raise self.fail(
                    item,
                    f"an expectation needs at least one check besides 'day'; "
                    f"expected some of {_choices(EXPECTATION_KEYS)}",
                    None,
                    "a check",
                )
            out.append(self.expectation(day, item, m, timeline))
        return out

    def expectation(
        self,
        day: float,
        item: _Val,
        m: dict[str, tuple[_Val, _Val]],
        timeline: Sequence[TimelineEntry],
    ) -> Expectation:
        def get(key: str, convert: Callable[[_Val], _T], default: _T) -> _T:
            return convert(m[key][1]) if key in m else default

        deviation = get(
            "deviation", lambda x: self.choice(x, "'deviation'", self.actions, "an action id"), None
        )
        if deviation is not None and not any(
            e.kind == "action" and e.name == deviation and e.day == day for e in timeline
        ):
            dv = m["deviation"][1]
            raise self.fail(
                dv,
                f"'deviation: {deviation}' at day {day:g} needs 'action: {deviation}' scripted "
                f"in the timeline on day {day:g}",
                deviation,
                "a scripted action on that day",
            )
        return Expectation(
            day=day,
            line=item.line,
            column=item.column,
            in_state=get(
                "in_state",
                lambda x: self.ids(x, "'in_state'", self.care_states, "a care state id"),
                (),
            ),
            not_in_state=get(
                "not_in_state",
                lambda x: self.ids(x, "'not_in_state'", self.care_states, "a care state id"),
                (),
            ),
            on_drugs=get(
                "on_drugs", lambda x: self.ids(x, "'on_drugs'", self.drugs, "a drug id"), ()
            ),
            not_on_drugs=get(
                "not_on_drugs",
                lambda x: self.ids(x, "'not_on_drugs'", self.drugs, "a drug id"),
                (),
            ),
            dose=get("dose", self.doses, {}),
            response=get(
                "response", lambda x: self.choice(x, "'response'", RESPONSE_CLASSES), None
            ),
            recommends=get(
                "recommends",
                lambda x: self.ids(x, "'recommends'", self.actions, "an action id"),
                (),
            ),
            does_not_recommend=get(
                "does_not_recommend",
                lambda x: self.ids(x, "'does_not_recommend'", self.actions, "an action id"),
                (),
            ),
            deviation=deviation,
            key_lines={key: kv.line for key, (kv, _) in m.items() if key != "day"},
        )

    def doses(self, v: _Val) -> dict[str, tuple[float, float]]:
        m = self.mapping(v, "'dose'")
        if not m:
            raise self.fail(v, "'dose' must name at least one drug", {}, "drug: mg/day")
        out: dict[str, tuple[float, float]] = {}
        expected = "mg/day number or [low, high]"
        for drug, (kv, dv) in m.items():
            drugs = self.drugs
            if drug not in drugs:
                raise self.fail(
                    kv,
                    f"unknown drug {drug!r} in 'dose'; expected "
                    f"{_expected(drugs, drug, 'a drug id')}" + _suggest(drug, drugs),
                    drug,
                    f"one of {_choices(drugs)}",
                )
            what = f"'dose' for {drug!r}"
            if isinstance(dv.value, list):
                if len(dv.value) != 2:
                    raise self.fail(
                        dv, f"{what} must be {expected} (got a list of {len(dv.value)})", None
                    )
                low = self._dose_number(dv.value[0], what, expected)
                high = self._dose_number(dv.value[1], what, expected)
                if low > high:
                    raise self.fail(
                        dv, f"{what} range must have low <= high (got [{low:g}, {high:g}])"
                    )
                out[drug] = (low, high)
            else:
                dose = self._dose_number(dv, what, expected)
                out[drug] = (dose, dose)
        return out

    def _dose_number(self, v: _Val, what: str, expected: str) -> float:
        value = v.value
        if isinstance(value, str) and _NUMBER_WITH_UNIT.match(value):
            raise self.fail(
                v, f"{what} must be a plain number in mg/day, without a unit (got {value!r})", value
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(v, f"{what} must be {expected} (got {value!r})", value, expected)
        return self.number(v, what, "mg/day", 0.0, MAX_DOSE_MG_DAY)
