"""Read a cohort output folder back: ``patients.csv``, ``events.csv`` and ``summary.json``.

The files follow shared/spec/cohort-and-outputs.md. Reading checks the contract (required
columns, numbers where numbers belong) and fails with one clear message naming the file,
the line and the bad value, so a report is never built from a half-understood folder.

:func:`load_outputs` reads a folder whole. :func:`iter_patients`, :func:`iter_events`,
:func:`iter_patient_events` and :func:`iter_outputs` read the same files as streams, with the
same checks and errors, holding one patient and its events at a time.
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..input_files import InputFileError, load_json
from .columnar import PARQUET, ColumnarError, parquet_rows
from .outputs import EVENT_COLUMNS, GZ, PATIENT_COLUMNS

__all__ = [
    "DAY_COLUMNS",
    "EVENT_COLUMNS",
    "EVENT_KINDS",
    "OUTPUT_FILES",
    "PATIENT_COLUMNS",
    "CohortOutputs",
    "EventOrderError",
    "EventRow",
    "OutputFormatError",
    "PatientRow",
    "iter_events",
    "iter_outputs",
    "iter_patient_events",
    "iter_patients",
    "load_outputs",
    "open_text",
    "output_file",
    "read_events",
    "read_patients",
    "read_summary",
    "require_outputs",
]

# The contract's columns are defined once, by the writer (simulation.results.outputs): patients.csv
# must have PATIENT_COLUMNS (more are allowed and kept in ``PatientRow.extra``), events.csv
# EVENT_COLUMNS.

EVENT_KINDS: tuple[str, ...] = ("finding", "action", "transition", "deviation")

#: The machine-readable files of an output folder, in the order they are checked.
OUTPUT_FILES: tuple[str, ...] = ("patients.csv", "events.csv", "summary.json")

#: The contract's day columns (empty cell: did not happen within follow-up).
DAY_COLUMNS: tuple[str, ...] = (
    "first_cbr_day",
    "second_line_day",
    "withdrawal_day",
    "relapse_day",
    "transplant_day",
    "death_day",
)


class OutputFormatError(ValueError):
    """A cohort output file does not follow the output contract.

    Attributes:
        path: The offending file.
        line: 1-based line number in the file, or 0 for the whole file.
    """

    def __init__(self, path: Path, line: int, message: str) -> None:
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class EventOrderError(OutputFormatError):
    """events.csv does not list the patients in the order of patients.csv.

    The contract asks for time order within a patient only, so such a file may still be
    valid: :func:`load_outputs` reads it whole (and names a patient missing from
    patients.csv, the other cause).
    """


@dataclass(frozen=True, slots=True)
class PatientRow:
    """One row of patients.csv. Days count from diagnosis; ``None`` = did not happen."""

    patient_id: str
    age: float
    sex: str
    weight_kg: float
    cirrhosis_at_diagnosis: str
    presentation: str
    tpmt: str
    first_line: str
    first_cbr_day: float | None
    second_line_day: float | None
    withdrawal_day: float | None
    relapse_day: float | None
    transplant_day: float | None
    death_day: float | None
    death_cause: str
    followup_days: float
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of events.csv."""

    patient_id: str
    day: float
    kind: str
    name: str
    detail: str
    source: str
    target: str
    rule_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CohortOutputs:
    """The three machine-readable outputs of one cohort run."""

    patients: list[PatientRow]
    events: list[EventRow]
    summary: dict[str, Any]

    def events_by_patient(self) -> dict[str, list[EventRow]]:
        """Events grouped by patient id, each list in file (time) order."""
        out: dict[str, list[EventRow]] = {p.patient_id: [] for p in self.patients}
        for e in self.events:
            out.setdefault(e.patient_id, []).append(e)
        return out


def load_outputs(out_dir: Path) -> CohortOutputs:
    """Read and check patients.csv, events.csv and summary.json in ``out_dir``.

    Args:
        out_dir: A folder written by ``carechart simulate``.

    Returns:
        The parsed outputs.

    Raises:
        FileNotFoundError: If a file is missing (the message names it and the fix).
        OutputFormatError: If a file breaks the output contract.
    """
    out_dir = Path(out_dir)
    require_outputs(out_dir)
    patients = read_patients(output_file(out_dir, "patients.csv"))
    events_path = output_file(out_dir, "events.csv")
    events = read_events(events_path)
    known = {p.patient_id for p in patients}
    for e in events:
        if e.patient_id not in known:
            raise OutputFormatError(
                events_path, 0, f"patient {e.patient_id!r} is not in patients.csv"
            )
    return CohortOutputs(patients, events, read_summary(out_dir / "summary.json"))


def require_outputs(out_dir: Path, names: Iterable[str] = OUTPUT_FILES) -> None:
    """Check that the output files ``names`` exist in ``out_dir``, in order.

    A CSV file may be there gzip-compressed instead (``events.csv.gz``, written by
    ``carechart simulate --compress``).

    Raises:
        FileNotFoundError: For the first missing file (the message names it and the fix).
        OutputFormatError: A CSV file is there both plain and compressed.
    """
    for name in names:
        if not output_file(out_dir, name).is_file():
            raise FileNotFoundError(
                f"{out_dir / name}: missing; write the outputs first with "
                f"'carechart simulate --out {out_dir}'"
            )


def output_file(out_dir: Path, name: str) -> Path:
    """The file holding output ``name`` in ``out_dir``: ``name``, or for a CSV ``name.gz``
    or the Parquet file of the same stem (``carechart simulate --format parquet``).

    Raises:
        OutputFormatError: More than one is there (which one is current cannot be told).
    """
    plain = out_dir / name
    if not name.endswith(".csv"):
        return plain
    forms = [plain, out_dir / (name + GZ), plain.with_suffix(PARQUET)]
    found = [f for f in forms if f.exists()]
    if len(found) > 1:
        names = [f.name for f in found]
        listed = (
            f"both {names[0]} and {names[1]}"
            if len(names) == 2
            else f"{', '.join(names[:-1])} and {names[-1]}"
        )
        others = "the other" if len(names) == 2 else "the others"
        raise OutputFormatError(
            out_dir, 0, f"found {listed}, expected one of them; remove {others}"
        )
    return found[0] if found else plain


def read_summary(path: Path) -> dict[str, Any]:
    """Read summary.json; it must hold a JSON object."""
    try:
        data = load_json(path)  # a regular file, size and depth limits: see input_files
    except InputFileError as exc:
        raise OutputFormatError(path, exc.line, exc.message) from None
    if not isinstance(data, dict):
        raise OutputFormatError(path, 0, f"expected a JSON object (got {type(data).__name__})")
    return data


def read_patients(path: Path) -> list[PatientRow]:
    """Read patients.csv into typed rows (empty cell = did not happen)."""
    rows = list(_parse_patients(path))
    _check_unique_ids(path, [r.patient_id for r in rows])
    return rows


def iter_patients(path: Path) -> Iterator[PatientRow]:
    """The rows of patients.csv one at a time, checked exactly as :func:`read_patients` does.

    Memory does not grow with the rows while the patient ids increase down the file, as
    ``carechart simulate`` writes them: increasing ids cannot repeat. At the first id that
    does not increase, the whole file is checked once (every row, then unique ids, with
    the errors of :func:`read_patients`; this holds every id for a moment) before the rows
    go on.

    Raises:
        OutputFormatError: As :func:`read_patients`, when the row is reached.
    """
    last: str | None = None
    checked = False
    for row in _parse_patients(path):
        if not checked and last is not None and row.patient_id <= last:
            _check_unique_ids(path, [r.patient_id for r in _parse_patients(path)])
            checked = True
        last = row.patient_id
        yield row


def _parse_patients(path: Path) -> Iterator[PatientRow]:
    for line, raw in _rows(path, PATIENT_COLUMNS):
        days = {name: _optional_number(path, line, name, raw[name]) for name in DAY_COLUMNS}
        followup = _number(path, line, "followup_days", raw["followup_days"])
        if followup < 0:
            raise OutputFormatError(path, line, f"'followup_days' must be >= 0 (got {followup})")
        yield PatientRow(
            patient_id=raw["patient_id"],
            age=_number(path, line, "age", raw["age"]),
            sex=raw["sex"],
            weight_kg=_number(path, line, "weight_kg", raw["weight_kg"]),
            cirrhosis_at_diagnosis=raw["cirrhosis_at_diagnosis"],
            presentation=raw["presentation"],
            tpmt=raw["tpmt"],
            first_line=raw["first_line"],
            first_cbr_day=days["first_cbr_day"],
            second_line_day=days["second_line_day"],
            withdrawal_day=days["withdrawal_day"],
            relapse_day=days["relapse_day"],
            transplant_day=days["transplant_day"],
            death_day=days["death_day"],
            death_cause=raw["death_cause"],
            followup_days=followup,
            extra={k: v for k, v in raw.items() if k not in PATIENT_COLUMNS},
        )


def _check_unique_ids(path: Path, ids: list[str]) -> None:
    """Refuse the first id (in file order) that appears more than once."""
    counts = Counter(ids)
    if len(counts) != len(ids):
        dup = next(i for i in ids if counts[i] > 1)
        raise OutputFormatError(path, 0, f"patient id {dup!r} appears more than once")


def read_events(path: Path) -> list[EventRow]:
    """Read events.csv into typed rows; ``rule_ids`` are split on ``;``."""
    return list(iter_events(path))


def iter_events(path: Path) -> Iterator[EventRow]:
    """The rows of events.csv one at a time, checked exactly as :func:`read_events` does."""
    for _, row in _parse_events(path):
        yield row


def iter_patient_events(path: Path) -> Iterator[tuple[int, str, list[EventRow]]]:
    """Consecutive rows of events.csv that belong to one patient, in file order.

    Yields ``(line, patient_id, events)`` with the line of the first row, so memory holds
    one patient's events at a time. A patient whose rows are not all together comes back
    once per run of rows (:func:`iter_outputs` refuses that).
    """
    pid: str | None = None
    first = 0
    events: list[EventRow] = []
    for line, row in _parse_events(path):
        if row.patient_id != pid:
            if pid is not None:
                yield first, pid, events
            pid, first, events = row.patient_id, line, []
        events.append(row)
    if pid is not None:
        yield first, pid, events


def _parse_events(path: Path) -> Iterator[tuple[int, EventRow]]:
    for line, raw in _rows(path, EVENT_COLUMNS):
        if raw["kind"] not in EVENT_KINDS:
            raise OutputFormatError(
                path, line, f"unknown kind {raw['kind']!r}; expected one of {list(EVENT_KINDS)}"
            )
        yield (
            line,
            EventRow(
                patient_id=raw["patient_id"],
                day=_number(path, line, "day", raw["day"]),
                kind=raw["kind"],
                name=raw["name"],
                detail=raw["detail"],
                source=raw["source"],
                target=raw["target"],
                rule_ids=tuple(r for r in raw["rule_ids"].split(";") if r),
            ),
        )


def iter_outputs(out_dir: Path) -> Iterator[tuple[PatientRow, list[EventRow]]]:
    """Each patient of ``out_dir/patients.csv`` with its events, both files read as streams.

    Memory holds one patient and its events at a time (see :func:`iter_patients` for the
    check of unique ids). events.csv must list the patients in the order of patients.csv,
    each patient's rows together, as ``carechart simulate`` writes it; a patient without
    events gets an empty list. summary.json is not read.

    Raises:
        FileNotFoundError: If patients.csv or events.csv is missing.
        OutputFormatError: If a row breaks the output contract (as :func:`load_outputs`).
        EventOrderError: If events.csv does not follow the order of patients.csv, or names
            a patient who is not in patients.csv (:func:`load_outputs` tells which).
    """
    out_dir = Path(out_dir)
    require_outputs(out_dir, OUTPUT_FILES[:2])
    events_path = output_file(out_dir, "events.csv")
    groups = iter_patient_events(events_path)
    pending = next(groups, None)
    for patient in iter_patients(output_file(out_dir, "patients.csv")):
        if pending is not None and pending[1] == patient.patient_id:
            yield patient, pending[2]
            pending = next(groups, None)
        else:
            yield patient, []
    if pending is not None:
        line, pid, _ = pending
        raise EventOrderError(
            events_path,
            line,
            f"patient {pid!r} is not in patients.csv, or not in the same order as there",
        )


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a CSV (or Parquet) output file as cell text, with their line numbers.

    A Parquet file's row ``k`` (from 1) counts as line ``k + 1``, the line its CSV form
    would give it, under the header.
    """
    if path.suffix == PARQUET:
        yield from _parquet_rows(path, required)
        return
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise OutputFormatError(path, 1, f"missing columns {missing}; found {list(header)}")
            for raw in reader:
                if None in raw:
                    raise OutputFormatError(path, reader.line_num, "more cells than columns")
                yield reader.line_num, {k: (v or "") for k, v in raw.items()}
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise OutputFormatError(
                path, reader.line_num, f"not a whole gzip file ({str(exc) or type(exc).__name__})"
            ) from None


def _parquet_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        header, rows = parquet_rows(path)
        missing = [c for c in required if c not in header]
        if missing:
            raise OutputFormatError(path, 1, f"missing columns {missing}; found {list(header)}")
        yield from enumerate(rows, start=2)
    except ColumnarError as exc:
        raise OutputFormatError(path, 0, str(exc).removeprefix(f"{path}: ")) from None


@contextmanager
def open_text(path: Path) -> Iterator[TextIO]:
    """Open an output file for reading as UTF-8 text, decompressing a ``.gz`` file."""
    if path.name.endswith(GZ):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            yield handle
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            yield handle


def _number(path: Path, line: int, name: str, text: str) -> float:
    value = _optional_number(path, line, name, text)
    if value is None:
        raise OutputFormatError(path, line, f"{name!r} is empty; a number is required")
    return value


def _optional_number(path: Path, line: int, name: str, text: str) -> float | None:
    if text.strip() == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise OutputFormatError(path, line, f"{name!r} is not a number (got {text!r})") from None
    if not math.isfinite(value):
        raise OutputFormatError(path, line, f"{name!r} must be finite (got {text!r})")
    return value


def find_key(data: Mapping[str, Any], key: str) -> Any:
    """The first value stored under ``key`` anywhere in nested mappings, or ``None``."""
    if key in data:
        return data[key]
    for value in data.values():
        if isinstance(value, Mapping):
            found = find_key(value, key)
            if found is not None:
                return found
    return None
