"""Training cases: a virtual patient at diagnosis, the seed of its course and a horizon.

A case is a small YAML file (the built-in library is ``simulation/train/library/``; an
instructor adds a folder of their own with ``carechart train --cases DIR``). A scenario
file (``scenarios/*.yaml``) can be trained on too: its patient at diagnosis is used and the
course comes from the patient model (the scenario's scripted timeline is not replayed).
The patient's course is :class:`simulation.model.disease.DiseaseModel`, the model cohorts use,
with one generator seeded by the case: the same case gives the same patient every time.

Case file::

    title: Classic chronic AIH
    summary: what the trainee is told at the start (free text)
    patient: {age: 45, sex: F, weight_kg: 68, cirrhosis: none,
              presentation: chronic, tpmt: unknown}
    true_tpmt: normal      # what the TPMT test will show (reported during the course)
    seed: 3                # the patient's random draws
    horizon_days: 365      # the case ends after this day

The ``patient`` block is a scenario file's (shared/spec/scenario-format.md), read by the same
parser (:func:`simulation.scenarios.scenario.parse_patient`): same fields, ranges, messages.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pathway import PatientRecord
from pathway.guidelines.aih.vocabulary import TPMT_STATUSES

from ..input_files import InputFileError, Located, compose_yaml, read_input_file
from ..scenarios.scenario import PatientSpec, ScenarioError, load_scenario, parse_patient

__all__ = [
    "LIBRARY",
    "PRESETS",
    "Case",
    "CaseError",
    "case_from_dict",
    "case_from_scenario",
    "load_case",
    "load_library",
]

#: The built-in case library (one YAML file per case).
LIBRARY = Path(__file__).with_name("library")

#: The built-in cases in teaching order (simple to complex); other cases follow by name.
PRESETS = (
    "classic-chronic",
    "acute-severe",
    "cirrhosis-at-diagnosis",
    "tpmt-deficiency",
    "intolerance",
    "pregnancy-wish",
    "relapse-after-withdrawal",
    "post-transplant",
)

#: Longest case a trainee can be given (days): ten years of visits.
_MAX_HORIZON_DAYS = 3650.0
_KEYS = ("title", "summary", "patient", "true_tpmt", "seed", "horizon_days")


class CaseError(ValueError):
    """A case file is invalid: one line, ``FILE:LINE: field: found X, expected Y``."""


@dataclass(frozen=True, slots=True)
class Case:
    """One training case (see the module docstring). Units: years, kg, days."""

    id: str
    title: str
    summary: str
    age: float
    sex: str
    weight_kg: float
    cirrhosis: str
    presentation: str
    tpmt: str
    true_tpmt: str
    seed: int
    horizon_days: float
    pregnant: bool = False
    origin: str = ""

    @property
    def patient(self) -> PatientSpec:
        """The patient at diagnosis, as a scenario file's ``patient`` block gives it."""
        return PatientSpec(
            self.age,
            self.sex,
            self.weight_kg,
            cirrhosis=self.cirrhosis,
            presentation=self.presentation,
            tpmt=self.tpmt,
            pregnant=self.pregnant,
        )

    def record(self) -> PatientRecord:
        """A fresh patient record at diagnosis."""
        return self.patient.record(self.id)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (sessions and debriefs keep the whole case)."""
        return asdict(self)


def _where(origin: str, line: int) -> str:
    return f"{origin}:{line}" if line else origin


def _lines(node: Located) -> dict[str, int]:
    """1-based line of each value of a YAML mapping (nested keys as ``a.b``)."""
    out: dict[str, int] = {}
    if isinstance(node.value, dict):
        for name, (_, value) in node.value.items():
            out[name] = value.line
            for sub, line in _lines(value).items():
                out[f"{name}.{sub}"] = line
    return out


def _choice(origin: str, line: int, field: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise CaseError(
            f"{_where(origin, line)}: {field}: found {value!r}, expected one of {list(options)}"
        )
    return str(value)


def _number(origin: str, line: int, field: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise CaseError(
            f"{_where(origin, line)}: {field}: found {value!r}, expected a number from "
            f"{lo:g} to {hi:g}"
        )
    return float(value)


def _plain_node(value: Any) -> Located:
    """``value`` as a :class:`Located` tree without positions (a case kept in a session)."""
    if isinstance(value, dict):
        return Located({str(k): (Located(k, 0, 0), _plain_node(v)) for k, v in value.items()}, 0, 0)
    if isinstance(value, list):
        return Located([_plain_node(v) for v in value], 0, 0)
    return Located(value, 0, 0)


def case_from_dict(
    data: Any,
    case_id: str,
    origin: str,
    lines: dict[str, int] | None = None,
    patient_node: Located | None = None,
) -> Case:
    """Validate a case mapping (see the module docstring).

    The ``patient`` block is read by the scenario files' parser
    (:func:`simulation.scenarios.scenario.parse_patient`): the same fields, ranges and
    messages. ``patient_node`` is that block with its positions (from the file); without
    it, messages name the file only.

    Raises:
        CaseError: one line naming the file, line, field, what was found and what was
            expected.
    """
    lines = lines or {}
    if not isinstance(data, dict):
        raise CaseError(f"{origin}: found {type(data).__name__}, expected a mapping of {_KEYS}")
    for key in data:
        if key not in _KEYS:
            raise CaseError(
                f"{_where(origin, lines.get(str(key), 0))}: unknown field {key!r}; "
                f"expected {list(_KEYS)}"
            )
    for key in ("title", "patient", "seed", "horizon_days"):
        if key not in data:
            raise CaseError(f"{origin}: {key}: missing; expected fields {list(_KEYS)}")

    def line(key: str) -> int:
        return lines.get(key, 0)

    title, summary = data["title"], data.get("summary", "")
    for key, value in (("title", title), ("summary", summary)):
        if not isinstance(value, str):
            raise CaseError(f"{_where(origin, line(key))}: {key}: found {value!r}, expected text")
    try:
        patient = parse_patient(patient_node or _plain_node(data["patient"]), origin)
    except ScenarioError as exc:
        raise CaseError(str(exc)) from None
    tpmt = patient.tpmt
    true_tpmt = data.get("true_tpmt", tpmt if tpmt != "unknown" else "normal")
    true_tpmt = _choice(origin, line("true_tpmt"), "true_tpmt", true_tpmt, TPMT_STATUSES[1:])
    if tpmt != "unknown" and true_tpmt != tpmt:
        raise CaseError(
            f"{_where(origin, line('true_tpmt'))}: true_tpmt: found {true_tpmt!r}, expected "
            f"{tpmt!r} (the TPMT status is already known at diagnosis)"
        )
    seed = data["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise CaseError(
            f"{_where(origin, line('seed'))}: seed: found {seed!r}, expected a whole number >= 0"
        )
    return Case(
        id=case_id,
        title=title.strip(),
        summary=" ".join(summary.split()),
        age=patient.age,
        sex=patient.sex,
        weight_kg=patient.weight_kg,
        cirrhosis=patient.cirrhosis,
        presentation=patient.presentation,
        tpmt=tpmt,
        true_tpmt=true_tpmt,
        seed=seed,
        horizon_days=_number(
            origin, line("horizon_days"), "horizon_days", data["horizon_days"], 1, _MAX_HORIZON_DAYS
        ),
        pregnant=patient.pregnant,
        origin=origin,
    )


def load_case(path: str | os.PathLike[str]) -> Case:
    """Read and validate one case file; its id is the file's stem.

    Raises:
        CaseError: unreadable file, bad YAML or an invalid field (one line, with the line).
    """
    origin = str(path)
    # The one hardened loader (simulation/input_files.py): regular files only, size, depth
    # and alias limits, duplicate keys refused; its errors are one line with file:line.
    try:
        node = compose_yaml(read_input_file(path), origin, kind="case")
    except InputFileError as exc:
        raise CaseError(str(exc)) from None
    except OSError as exc:
        raise CaseError(f"{origin}: cannot read the case file ({exc.strerror or exc})") from None
    data = None if node is None else node.plain()
    lines = _lines(node) if node is not None else {}
    patient = (
        node.value.get("patient") if node is not None and isinstance(node.value, dict) else None
    )
    return case_from_dict(data, Path(path).stem, origin, lines, patient and patient[1])


def case_from_scenario(path: str | os.PathLike[str], seed: int = 1) -> Case:
    """A case from a scenario file: its patient at diagnosis, its title, text and horizon.

    Raises:
        simulation.scenarios.scenario.ScenarioError: the scenario file is invalid.
    """
    sc = load_scenario(path)
    p = sc.patient
    if not isinstance(p, PatientSpec):
        line = sc.line_of.get("guideline", 1)
        message = f"the trainer runs AIH cases; this scenario runs {sc.guideline!r}"
        raise ScenarioError(str(path), line, 1, message, sc.guideline, "aih")
    return Case(
        id=f"scenario-{Path(path).stem}",
        title=sc.name,
        summary=" ".join(sc.description.split()),
        age=p.age,
        sex=p.sex,
        weight_kg=p.weight_kg,
        cirrhosis=p.cirrhosis,
        presentation=p.presentation,
        tpmt=p.tpmt,
        true_tpmt=p.tpmt if p.tpmt != "unknown" else "normal",
        seed=seed,
        horizon_days=min(float(sc.horizon_days), _MAX_HORIZON_DAYS),
        pregnant=p.pregnant,
        origin=str(path),
    )


def load_library(
    folders: list[str | os.PathLike[str]] | None = None,
    scenario_folders: list[str | os.PathLike[str]] | None = None,
) -> dict[str, Case]:
    """Cases by id: the built-in library, then each folder's ``*.yaml`` (an instructor's
    case replaces a built-in one of the same id), then scenario files as cases.

    Raises:
        CaseError: a missing folder or an invalid case file.
    """
    cases: dict[str, Case] = {}
    for folder in [LIBRARY, *(folders or [])]:
        if not Path(folder).is_dir():
            raise CaseError(f"{folder}: not a folder of case files")
        paths = sorted(Path(folder).glob("*.yaml"))
        order = {name: i for i, name in enumerate(PRESETS)}
        for path in sorted(paths, key=lambda p: (order.get(p.stem, len(order)), p.stem)):
            case = load_case(path)
            cases[case.id] = case
    for folder in scenario_folders or []:
        if not Path(folder).is_dir():
            raise CaseError(f"{folder}: not a folder of scenario files")
        for path in sorted(Path(folder).glob("*.yaml")):
            case = case_from_scenario(path)
            cases[case.id] = case
    return cases
