"""``carechart simulate --compress``: the same outputs, gzip-compressed, read back as usual."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from simulation.cli.main import main
from simulation.results.cohort_outputs import (
    OutputFormatError,
    iter_outputs,
    load_outputs,
    output_file,
)

_RUN = ["simulate", "--patients", "40", "--years", "4", "--seed", "13", "--workers", "1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same run written plain and compressed."""
    plain = tmp_path_factory.mktemp("plain") / "out"
    packed = tmp_path_factory.mktemp("packed") / "out"
    assert main([*_RUN, "--out", str(plain)]) == 0
    assert main([*_RUN, "--out", str(packed), "--compress"]) == 0
    return plain, packed


def _without_time_stamp(html: str) -> str:
    return "\n".join(line for line in html.splitlines() if "enerated" not in line)


def test_compressed_files_hold_the_plain_files(runs: tuple[Path, Path]) -> None:
    """The .csv.gz files decompress to exactly the plain run's files; summary.json and the
    report (read from the compressed files) are the same; no plain CSV is left beside them."""
    plain, packed = runs
    assert sorted(p.name for p in packed.iterdir()) == [
        ".carechart",  # the marker of a folder carechart wrote
        "events.csv.gz",
        "patients.csv.gz",
        "report.html",
        "summary.json",
    ]
    for name in ("patients.csv", "events.csv"):
        assert gzip.decompress((packed / f"{name}.gz").read_bytes()) == (plain / name).read_bytes()
    assert (packed / "summary.json").read_bytes() == (plain / "summary.json").read_bytes()
    assert _without_time_stamp((packed / "report.html").read_text()) == _without_time_stamp(
        (plain / "report.html").read_text()
    )
    assert (packed / "events.csv.gz").stat().st_size * 4 < (plain / "events.csv").stat().st_size


def test_compressed_outputs_are_byte_identical_across_runs(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """No time stamp in the gzip header: the same seed gives the same compressed bytes."""
    _, packed = runs
    again = tmp_path / "again"
    assert main([*_RUN, "--out", str(again), "--compress"]) == 0
    for name in ("patients.csv.gz", "events.csv.gz"):
        assert (again / name).read_bytes() == (packed / name).read_bytes()


def test_readers_take_either_form(runs: tuple[Path, Path]) -> None:
    """load_outputs and iter_outputs give the same rows from both folders."""
    plain, packed = runs
    a, b = load_outputs(plain), load_outputs(packed)
    assert (a.patients, a.events, a.summary) == (b.patients, b.events, b.summary)
    assert list(iter_outputs(plain)) == list(iter_outputs(packed))
    assert output_file(packed, "events.csv") == packed / "events.csv.gz"
    assert output_file(plain, "events.csv") == plain / "events.csv"


def test_a_new_run_supersedes_the_other_form(tmp_path: Path) -> None:
    """Writing plain into a folder with compressed files (or back) removes the other form,
    so a reader never finds both."""
    out = tmp_path / "out"
    small = ["simulate", "--patients", "3", "--years", "1", "--workers", "1", "--out", str(out)]
    assert main([*small, "--compress"]) == 0
    assert main(small) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [".carechart", "events.csv", "patients.csv", "report.html", "summary.json"]
    assert main([*small, "--compress"]) == 0
    assert "events.csv" not in {p.name for p in out.iterdir()}


def test_both_forms_or_a_broken_file_are_clear_errors(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """Both forms of a file, or a truncated .gz, are one-line errors naming the file."""
    plain, packed = runs
    both = tmp_path / "both"
    both.mkdir()
    for name in ("patients.csv", "events.csv", "summary.json"):
        (both / name).write_bytes((plain / name).read_bytes())
    (both / "events.csv.gz").write_bytes((packed / "events.csv.gz").read_bytes())
    with pytest.raises(OutputFormatError, match=r"found both events\.csv and events\.csv\.gz"):
        load_outputs(both)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("patients.csv.gz", "summary.json"):
        (broken / name).write_bytes((packed / name).read_bytes())
    data = (packed / "events.csv.gz").read_bytes()
    (broken / "events.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(OutputFormatError, match=r"events\.csv\.gz.*not a whole gzip file"):
        load_outputs(broken)
