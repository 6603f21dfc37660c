"""Outputs written block by block: the bytes depend on the seed only (issue 14).

``carechart simulate`` runs fixed-size blocks of patients and writes each block's rows as it
comes back, in patient order. Neither the block size nor the worker count may change a
byte: the runs below are checked against the golden run of tests/golden (12 patients x 5
years, seed 20250101), whose files were written before blocks existed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulation.cli.main import main
from simulation.cli.simulate import simulate_to
from simulation.model.parameters import load_parameters
from simulation.run.cohort import apply_overrides, load_cohort

from .golden.regenerate import FOLDER

GOLDEN = FOLDER / "runs" / "default"
PATIENTS, YEARS, SEED = 12, 5, 20250101


def content(path: Path) -> bytes:
    """A file's bytes; report.html without its time stamp (the minute it was written)."""
    data = path.read_bytes()
    if path.name == "report.html":
        data = re.sub(rb"Report generated: [^<]*", b"", data)
    return data


def simulate(out: Path, **options: object) -> Path:
    """The golden default run through ``simulate_to`` with ``options``; returns ``out``."""
    cohort, params, thresholds = apply_overrides(
        load_cohort(), load_parameters(), [f"cohort.patients={PATIENTS}", f"cohort.years={YEARS}"]
    )
    settings: dict[str, object] = {"workers": 1, **options}
    simulate_to(out, cohort, params, thresholds, seed=SEED, policy="guideline", **settings)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run with one worker and the default blocks."""
    return simulate(tmp_path_factory.mktemp("reference") / "out")


def test_the_reference_run_is_the_golden_run(reference: Path) -> None:
    for name in ("patients.csv", "events.csv"):
        assert (reference / name).read_bytes() == (GOLDEN / name).read_bytes(), name


@pytest.mark.parametrize(("workers", "block"), [(1, 1), (2, 5), (2, 100)])
def test_block_size_and_workers_do_not_change_a_byte(
    reference: Path, tmp_path: Path, workers: int, block: int
) -> None:
    """Blocks of 1, 5 (the last one short) or 100 patients (one block), on 1 or 2 worker
    processes: every file is the reference run's, byte for byte."""
    out = simulate(tmp_path / "out", workers=workers, block=block)
    for name in ("patients.csv", "events.csv", "summary.json", "report.html"):
        assert content(out / name) == content(reference / name), name


def test_bad_block_sizes_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["simulate", "--patients", "3", "--block-size", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == "carechart: error: --block-size: found 0, expected a whole number >= 1\n"
    assert not out.exists()


def test_dask_takes_the_same_blocks_and_gives_the_same_bytes(
    reference: Path, tmp_path: Path
) -> None:
    """Blocks of 5 as Dask tasks on a LocalCluster of 2 workers (threads in this process,
    to stay fast): every file is the local run's, byte for byte."""
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with distributed.get_task_stream(client) as tasks:
            out = simulate(tmp_path / "out", workers=2, block=5, dask=client)
        blocks = [t for t in tasks.data if str(t["key"]).startswith("run_chunk")]
        assert len(blocks) == 3  # 12 patients in blocks of 5, 5 and 2
        assert {t["worker"] for t in blocks} <= set(client.scheduler_info()["workers"])
    for name in ("patients.csv", "events.csv", "summary.json", "report.html"):
        assert content(out / name) == content(reference / name), name
