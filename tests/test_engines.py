"""Engines and scale-out: the same seed gives byte-identical outputs everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from simulation.cli.main import main
from simulation.run.cohort import run_cohort


@pytest.fixture(scope="module")
def reference() -> tuple[str, str]:
    """A small cohort on python-statemachine itself."""
    r = run_cohort(patients=40, years=8, seed=20251125, workers=1, engine="reference")
    return r.events_csv(), r.patients_csv()


def test_compiled_cohort_equals_reference_byte_for_byte(reference: tuple[str, str]) -> None:
    """events.csv and patients.csv are identical on both engines for the same seed."""
    fast = run_cohort(patients=40, years=8, seed=20251125, workers=1, engine="compiled")
    events, patients = reference
    assert fast.events_csv() == events
    assert fast.patients_csv() == patients
    assert events.count("\n") > 40 * 10  # a real course per patient, not empty outputs


def test_other_policies_agree_across_engines() -> None:
    """A named strategy with its own options also runs identically on both engines."""
    a = run_cohort(patients=15, years=5, seed=3, policy="mmf_first_line", engine="reference")
    b = run_cohort(patients=15, years=5, seed=3, policy="mmf_first_line", engine="compiled")
    assert a.events_csv() == b.events_csv()


def test_unknown_engine_is_refused() -> None:
    """A misspelled engine names the choices."""
    with pytest.raises(ValueError, match="'engine' must be one of"):
        run_cohort(patients=2, years=1, engine="turbo")


def test_dask_local_cluster_gives_the_local_outputs(reference: tuple[str, str]) -> None:
    """Chunks run on a Dask LocalCluster merge to exactly the local run's outputs."""
    pytest.importorskip("distributed")
    r = run_cohort(patients=40, years=8, seed=20251125, workers=2, dask="local")
    assert (r.events_csv(), r.patients_csv()) == reference


def test_engine_option_on_the_command_line(tmp_path: pytest.TempPathFactory) -> None:
    """``carechart simulate --engine reference`` writes the same events as the default."""
    out_a, out_b = tmp_path / "a", tmp_path / "b"  # type: ignore[operator]
    common = ["simulate", "--patients", "12", "--years", "3", "--seed", "5", "--workers", "1"]
    assert main([*common, "--out", str(out_a)]) == 0
    assert main([*common, "--engine", "reference", "--out", str(out_b)]) == 0
    assert (out_a / "events.csv").read_bytes() == (out_b / "events.csv").read_bytes()
    assert main([*common, "--engine", "turbo", "--out", str(out_b)]) == 2


def test_output_folder_is_not_private_and_calibration_must_exist(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """The published folder has the usual mode; a missing --calibration is one-line exit 2."""
    import os

    out = tmp_path / "run"  # type: ignore[operator]
    args = ["simulate", "--patients", "3", "--years", "1", "--workers", "1", "--out", str(out)]
    assert main(args) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert main([*args, "--calibration", str(tmp_path / "none.json")]) == 2  # type: ignore[operator]
    assert "--calibration: found" in capsys.readouterr().err


class _Future:
    def __init__(self, client: _Client, fn: Any, args: tuple[Any, ...]) -> None:
        self.client, self.fn, self.args = client, fn, args

    def result(self) -> Any:
        self.client.in_flight -= 1
        return self.fn(*self.args)


class _Client:
    """Just enough of ``distributed.Client`` to watch the order and the window of chunks."""

    def __init__(self, workers: int, identities: dict[str, Any] | None = None) -> None:
        self.workers, self.in_flight, self.most = workers, 0, 0
        self.identities = identities

    def run(self, fn: Any, on_error: str) -> dict[str, Any]:
        assert on_error == "return"  # a worker that cannot import carechart is reported
        if self.identities is not None:
            return self.identities
        return {f"tcp://w{i}": fn() for i in range(self.workers)}

    def scatter(self, value: Any, broadcast: bool) -> Any:
        return value

    def scheduler_info(self) -> dict[str, Any]:
        return {"workers": {f"w{i}": {} for i in range(self.workers)}}

    def submit(self, fn: Any, *args: Any, pure: bool) -> _Future:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        return _Future(self, fn, args)


def test_dask_chunks_come_back_in_order_with_a_bounded_window() -> None:
    """However many chunks a cohort has, at most 4 per worker are in flight at once."""
    from simulation.run import scale

    bounds = [(i, i + 1) for i in range(100)]
    client = _Client(workers=3)
    got = list(scale.dask_map(lambda settings, b: b, None, bounds, client, workers=3))
    assert got == bounds
    assert client.most == scale.CHUNKS_PER_WORKER * 3


def test_dask_workers_must_run_this_carechart() -> None:
    """A worker with other code, or without carechart, is refused before any chunk runs."""
    from simulation.run import scale

    version, fingerprint = scale.code_identity()
    assert len(fingerprint) == 16
    assert scale.code_identity() == (version, fingerprint)  # computed once per process
    stale = {"tcp://a": (version, fingerprint), "tcp://b": (version, "0123456789abcdef")}
    missing = {"tcp://a": ModuleNotFoundError("No module named 'simulation'")}
    for identities, message in (
        (stale, r"worker tcp://b runs carechart .* \(code 0123456789abcdef\), expected"),
        (missing, r"worker tcp://a cannot run carechart \(ModuleNotFoundError"),
        ({}, "the cluster has no workers"),
    ):
        client = _Client(workers=2, identities=identities)
        with pytest.raises(ValueError, match=message):
            list(scale.dask_map(lambda settings, b: b, None, [(0, 1)], client, workers=2))
        assert client.most == 0  # nothing was submitted


def test_code_identity_changes_with_the_code(tmp_path: Any) -> None:
    """The fingerprint covers the installed sources: a copy elsewhere gives the same one, a
    copy with one changed line another."""
    import shutil
    from pathlib import Path

    import pathway
    import simulation
    from simulation.run.scale import code_identity, fingerprint

    roots = []
    for package in (pathway, simulation):
        roots.append(tmp_path / package.__name__)
        shutil.copytree(
            Path(package.__file__).parent,
            roots[-1],
            ignore=shutil.ignore_patterns("__pycache__", "*.so"),
        )
    assert fingerprint(roots) == code_identity()[1]
    thresholds = tmp_path / "pathway" / "guidelines" / "aih" / "thresholds.py"
    thresholds.write_text(thresholds.read_text() + "\n# changed\n")
    assert fingerprint(roots) != code_identity()[1]
    parameters = tmp_path / "simulation" / "data" / "parameters.yaml"
    shutil.copy(Path(simulation.__file__).parent / "data" / "parameters.yaml", parameters)
    shutil.copy(Path(pathway.__file__).parent / "guidelines" / "aih" / "thresholds.py", thresholds)
    assert fingerprint(roots) == code_identity()[1]
    parameters.write_text(parameters.read_text().replace("value: 8.0", "value: 8.5", 1))
    assert fingerprint(roots) != code_identity()[1]


def test_a_bad_dask_address_names_the_option() -> None:
    """A malformed scheduler address is one line naming ``--dask`` and the address."""
    pytest.importorskip("distributed")
    from simulation.run.scale import dask_client

    with pytest.raises(ValueError, match=r"^--dask nonsense: .*port"):
        dask_client("nonsense", workers=1)
