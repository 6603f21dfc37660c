"""Parquet outputs (``carechart simulate --format parquet``, the arrow extra; issue 14).

The Parquet files are read back by DuckDB, a reader independent of pyarrow, and must hold
the CSV files' rows in the same order with the same values, typed as the output contract
says. The tests skip only where the extra (or DuckDB) is not installed; ``make install``
installs both.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow", reason="the arrow extra (pyarrow) is not installed")
duckdb = pytest.importorskip("duckdb", reason="duckdb (the independent reader) is not installed")

import pyarrow.parquet as pq  # noqa: E402

from simulation.cli.main import main  # noqa: E402
from simulation.results.cohort_outputs import OutputFormatError, load_outputs  # noqa: E402
from simulation.results.columnar import EVENT_TYPES, ParquetTableWriter  # noqa: E402

from .test_block_outputs import GOLDEN, PATIENTS, content, simulate  # noqa: E402


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden run as CSV, with one worker and the default blocks."""
    return simulate(tmp_path_factory.mktemp("reference") / "out")


#: DuckDB types of the columns, from the output contract: numbers where the contract has
#: numbers (days, age, weight, counts, whole mg), text elsewhere; every column nullable.
_COUNTS = {"events", "deviations", "invariant_violations", "prednisolone_mg", "prednisolone_mg_1y"}


def _duckdb_type(column: str) -> str:
    if column in _COUNTS:
        return "BIGINT"
    if column in ("age", "weight_kg", "followup_days", "day") or column.endswith("_day"):
        return "DOUBLE"
    return "VARCHAR"


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden run as Parquet, on 2 workers in blocks of 5."""
    out = tmp_path_factory.mktemp("parquet") / "out"
    return simulate(out, workers=2, block=5, output_format="parquet")


@pytest.mark.parametrize("table", ["patients", "events"])
def test_parquet_read_by_duckdb_equals_the_csv_row_for_row(
    reference: Path, parquet: Path, table: str
) -> None:
    """DuckDB (its own CSV and Parquet readers, no pyarrow) finds the same rows, in the same
    order, with the same values, and the contract's types in the Parquet file."""
    csv_path, parquet_path = reference / f"{table}.csv", parquet / f"{table}.parquet"
    assert not (parquet / f"{table}.csv").exists()
    db = duckdb.connect()
    header = csv_path.read_text(encoding="utf-8").splitlines()[0].split(",")
    types = {c: _duckdb_type(c) for c in header}
    described = db.sql(f"DESCRIBE SELECT * FROM read_parquet('{parquet_path}')").fetchall()
    assert [(name, kind) for name, kind, *_ in described] == list(types.items())
    from_csv = db.sql(
        f"SELECT * FROM read_csv('{csv_path}', header = true, columns = {types!r})"
    ).fetchall()
    from_parquet = db.sql(f"SELECT * FROM read_parquet('{parquet_path}')").fetchall()
    assert len(from_csv) == len(from_parquet) > PATIENTS - 1
    assert from_parquet == from_csv


def test_parquet_folder_gives_the_same_summary_and_report(reference: Path, parquet: Path) -> None:
    """summary.json does not depend on the format; report.html, read back from the Parquet
    files, is the CSV run's page byte for byte."""
    for name in ("summary.json", "report.html"):
        assert content(parquet / name) == content(reference / name), name


def test_parquet_bytes_do_not_depend_on_blocks(parquet: Path, tmp_path: Path) -> None:
    out = simulate(tmp_path / "out", workers=1, block=1, output_format="parquet")
    for name in ("patients.parquet", "events.parquet"):
        assert (out / name).read_bytes() == (parquet / name).read_bytes(), name


def test_row_groups_have_a_fixed_size_whatever_the_cuts(tmp_path: Path) -> None:
    """The same lines cut into blocks differently give the same file, in row groups of
    exactly the size asked for (the last one shorter)."""
    lines = (GOLDEN / "events.csv").read_text(encoding="utf-8").splitlines(keepends=True)[1:]
    files = []
    for cuts in ([len(lines)], [1, 2, 3, 50, 7], [23] * (len(lines) // 23 + 1)):
        path = tmp_path / f"events-{len(files)}.parquet"
        writer = ParquetTableWriter(path, EVENT_TYPES, row_group_rows=40)
        start = 0
        for size in [*cuts, len(lines)]:
            writer.write_csv("".join(lines[start : start + size]))
            start = min(len(lines), start + size)
        writer.close()
        files.append(path.read_bytes())
        meta = pq.ParquetFile(path).metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert sum(sizes) == len(lines)
        assert set(sizes[:-1]) == {40}
        assert 1 <= sizes[-1] <= 40
    assert files[0] == files[1] == files[2]


def test_missing_pyarrow_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow fails
    out = tmp_path / "out"
    command = ["simulate", "--patients", "3", "--years", "1", "--workers", "1", "--out", str(out)]
    assert main([*command, "--format", "parquet"]) == 2
    assert capsys.readouterr().err == (
        "carechart: error: --format parquet needs pyarrow, which is not installed: "
        "pip install 'carechart[arrow]'\n"
    )
    assert not out.exists()
    assert main([*command, "--format", "parquet", "--compress"]) == 2
    assert "--compress: applies to CSV files" in capsys.readouterr().err


def test_a_damaged_parquet_file_is_named_in_one_line(parquet: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    for name in ("patients.parquet", "summary.json"):
        (folder / name).write_bytes((parquet / name).read_bytes())
    data = (parquet / "events.parquet").read_bytes()
    (folder / "events.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(OutputFormatError, match=r"events\.parquet: not a readable Parquet file"):
        load_outputs(folder)
    (folder / "events.csv").write_bytes((GOLDEN / "events.csv").read_bytes())
    with pytest.raises(OutputFormatError, match=r"found both events\.csv and events\.parquet"):
        load_outputs(folder)
