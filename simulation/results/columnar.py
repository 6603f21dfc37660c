"""Columnar outputs: ``patients.parquet`` and ``events.parquet`` (``--format parquet``).

Plain CSV stays the default and the contract (shared/spec/cohort-and-outputs.md). With
``carechart simulate --format parquet`` the same two tables are written as Parquet files
instead, through pyarrow (the optional ``arrow`` extra: ``pip install 'carechart[arrow]'``).

Each block of patients is turned into Arrow columns as it arrives, in patient order: its
CSV cells, exactly as ``patients.csv`` and ``events.csv`` would hold them, are read by
Arrow's CSV reader with the contract's column types (:data:`PATIENT_TYPES`,
:data:`EVENT_TYPES`; an empty cell is null). So a Parquet file holds the values of the CSV
file, typed, by construction. Rows are written in row groups of exactly
:data:`ROW_GROUP_ROWS` (the last one shorter), whatever the block size or worker count,
so the same seed gives the same bytes. Memory holds at most about two row groups.

Reading (:func:`parquet_rows`) gives each row back as the text of its CSV cells, so the
readers of :mod:`simulation.results.cohort_outputs` (the report, calibration) check and
parse a Parquet folder exactly as a CSV one.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from .outputs import (
    EVENT_COLUMNS,
    PATIENT_COLUMNS,
    PATIENT_EXTRA_COLUMNS,
    ChunkResult,
    OutputWriter,
    format_number,
    patients_csv_header,
)

__all__ = [
    "EVENT_TYPES",
    "FORMATS",
    "PARQUET",
    "PATIENT_TYPES",
    "ROW_GROUP_ROWS",
    "ColumnarError",
    "ParquetTableWriter",
    "block_files",
    "parquet_rows",
    "pyarrow_modules",
]

#: Output formats of ``carechart simulate --format``; ``csv`` is the default.
FORMATS: tuple[str, ...] = ("csv", "parquet")
#: Suffix of a Parquet output file (``patients.parquet`` beside, or instead of, ``.csv``).
PARQUET = ".parquet"
#: Rows per Parquet row group [MODEL: large enough for column compression and fast scans
#: (Arrow's readers fetch a row group at a time), small enough that two fit in a few MiB].
ROW_GROUP_ROWS = 65_536

_FLOAT = "float64"
_INT = "int64"
_TEXT = "string"
#: patients.csv columns holding whole numbers (counts; prednisolone in whole mg).
_PATIENT_INTS = frozenset(
    {"events", "deviations", "invariant_violations", "prednisolone_mg", "prednisolone_mg_1y"}
)
#: patients.csv columns holding numbers with decimals (years, kg and days).
_PATIENT_FLOATS = frozenset({"age", "weight_kg", "followup_days"})


def _patient_type(column: str) -> str:
    if column in _PATIENT_INTS:
        return _INT
    if column in _PATIENT_FLOATS or column.endswith("_day"):
        return _FLOAT
    return _TEXT


#: Arrow type of each patients column, in file order (every ``*_day`` column is a day).
PATIENT_TYPES: dict[str, str] = {
    c: _patient_type(c) for c in (*PATIENT_COLUMNS, *PATIENT_EXTRA_COLUMNS)
}
#: Arrow type of each events column, in file order.
EVENT_TYPES: dict[str, str] = {c: _FLOAT if c == "day" else _TEXT for c in EVENT_COLUMNS}


class ColumnarError(ValueError):
    """pyarrow is missing, or a Parquet file cannot be read (one line, naming the file)."""


def pyarrow_modules(what: str = "--format parquet") -> tuple[ModuleType, ModuleType, ModuleType]:
    """``(pyarrow, pyarrow.csv, pyarrow.parquet)``, imported on first use (an optional extra).

    Raises:
        ColumnarError: pyarrow is not installed (naming ``what`` and the install command).
    """
    try:
        import pyarrow
        import pyarrow.csv
        import pyarrow.parquet
    except ImportError:
        raise ColumnarError(
            f"{what} needs pyarrow, which is not installed: pip install 'carechart[arrow]'"
        ) from None
    return pyarrow, pyarrow.csv, pyarrow.parquet


class ParquetTableWriter:
    """One Parquet file written block by block from CSV lines (no header) of its columns.

    Rows go out in row groups of exactly ``row_group_rows`` (the last one shorter), so
    the file's bytes depend on its rows only, not on how they were cut into blocks.
    """

    def __init__(
        self, path: Path, types: dict[str, str], *, row_group_rows: int = ROW_GROUP_ROWS
    ) -> None:
        pa, pacsv, pq = pyarrow_modules()
        self._pa = pa
        self._schema = pa.schema([(name, pa.type_for_alias(t)) for name, t in types.items()])
        self._read = pacsv.ReadOptions(column_names=list(types), use_threads=False)
        self._parse = pacsv.ParseOptions(newlines_in_values=True)
        self._convert = pacsv.ConvertOptions(
            column_types=self._schema,
            null_values=[""],  # an empty cell: did not happen (not "NA", "null"...)
            strings_can_be_null=True,
        )
        self._read_csv = pacsv.read_csv
        self._rows = row_group_rows
        self._pending: list[Any] = []
        self._pending_rows = 0
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write_csv(self, lines: str) -> None:
        """Append the rows of ``lines`` (CSV text of the columns, without a header)."""
        if not lines:
            return
        table = self._read_csv(
            io.BytesIO(lines.encode("utf-8")),
            read_options=self._read,
            parse_options=self._parse,
            convert_options=self._convert,
        )
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self._rows:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        rows = self._pa.concat_tables(self._pending) if self._pending else None
        self._pending, self._pending_rows = [], 0
        if rows is None:
            return
        start = 0
        while rows.num_rows - start >= self._rows or (final and start < rows.num_rows):
            self._writer.write_table(rows.slice(start, self._rows), row_group_size=self._rows)
            start += self._rows
        if start < rows.num_rows:
            rest = rows.slice(start)
            self._pending, self._pending_rows = [rest], rest.num_rows

    def close(self) -> None:
        """Write the last rows and the file's footer."""
        self._flush(final=True)
        self._writer.close()


@contextmanager
def block_files(
    writer: OutputWriter, fmt: str = "csv", *, compress: bool = False
) -> Iterator[Callable[[ChunkResult], None]]:
    """Open the patients and events files of ``fmt`` in ``writer``'s staging folder.

    Yields the function that appends one block (a :class:`ChunkResult`, blocks in patient
    order) to both; the files are complete when the context ends. ``compress`` gzips the
    CSV files (Parquet files are compressed already, with zstd).

    Raises:
        ColumnarError: ``fmt`` is ``parquet`` and pyarrow is not installed (before any
            file is opened).
        ValueError: an unknown ``fmt``, or ``compress`` with Parquet.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format: found {fmt!r}, expected one of {list(FORMATS)}")
    if fmt == "csv":
        with (
            writer.open_text("patients.csv", compress=compress) as patients,
            writer.open_text("events.csv", compress=compress) as events,
        ):
            patients.write(patients_csv_header())
            events.write(",".join(EVENT_COLUMNS) + "\n")

            def csv_block(chunk: ChunkResult) -> None:
                patients.write(chunk.patients_csv)
                events.write(chunk.events_csv)

            yield csv_block
        return
    if compress:
        raise ValueError("compress applies to CSV files; Parquet files are compressed already")
    pyarrow_modules()
    with ExitStack() as stack:
        tables = [
            ParquetTableWriter(writer.path(f"{name}{PARQUET}"), types)
            for name, types in (("patients", PATIENT_TYPES), ("events", EVENT_TYPES))
        ]
        for table in tables:
            stack.callback(table.close)

        def parquet_block(chunk: ChunkResult) -> None:
            tables[0].write_csv(chunk.patients_csv)
            tables[1].write_csv(chunk.events_csv)

        yield parquet_block


def _cell(value: Any) -> str:
    """A Parquet value as its CSV cell (the text the CSV file holds)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def parquet_rows(
    path: Path, batch_rows: int = 4096
) -> tuple[Sequence[str], Iterator[dict[str, str]]]:
    """The column names of a Parquet output file, and its rows as CSV cell text.

    Rows are read a batch of ``batch_rows`` at a time, so memory does not grow with the
    file. Values come back as :mod:`simulation.results.outputs` writes them in CSV
    (numbers by :func:`~simulation.results.outputs.format_number`, null as empty).

    Raises:
        ColumnarError: pyarrow is missing, or the file is not a readable Parquet file
            (raised when the file is opened or, for a damaged row group, when it is read).
    """
    _, _, pq = pyarrow_modules(f"reading {path}")
    try:
        handle = pq.ParquetFile(str(path))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...
        raise ColumnarError(f"{path}: not a readable Parquet file ({exc})") from None
    names = list(handle.schema_arrow.names)

    def rows() -> Iterator[dict[str, str]]:
        batches = handle.iter_batches(batch_size=batch_rows)
        while True:
            try:
                batch = next(batches, None)
            except Exception as exc:
                raise ColumnarError(f"{path}: not a readable Parquet file ({exc})") from None
            if batch is None:
                return
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for values in zip(*columns, strict=True):
                yield {name: _cell(v) for name, v in zip(names, values, strict=True)}

    return names, rows()
