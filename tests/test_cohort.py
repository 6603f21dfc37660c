"""Cohorts: file validation, --set overrides, seeds and reproducible (parallel) runs."""

from __future__ import annotations

import math
import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from simulation.model.draws import uniforms
from simulation.model.parameters import load_parameters
from simulation.model.policies import STRATEGIES, get_strategy
from simulation.run.cohort import (
    BLOCK_PATIENTS,
    LOCKSTEP_BLOCK_PATIENTS,
    CohortError,
    _chunks,
    apply_overrides,
    block_size,
    in_order,
    load_cohort,
    parse_cohort,
    patient_rng,
    run_cohort,
    sample_attributes,
)

VALID: dict[str, Any] = {
    "patients": 10,
    "years": 2,
    "age": {"distribution": "normal", "mean": 45, "sd": 16, "min": 18, "max": 85},
    "weight_kg": {"distribution": "uniform", "min": 50, "max": 90},
    "sex": {"F": 0.75, "M": 0.25},
    "cirrhosis": {"none": 0.72, "compensated": 0.23, "decompensated": 0.05},
    "presentation": {"chronic": 0.88, "acute_severe": 0.10, "acute_liver_failure": 0.02},
    "tpmt": {"normal": 0.89, "intermediate": 0.10, "deficient": 0.01},
}


def _with(**changes: Any) -> dict[str, Any]:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in VALID.items()}
    data.update(changes)
    return data


def test_default_cohort_loads() -> None:
    """The packaged default cohort is valid and matches the spec's shape."""
    cohort = load_cohort()
    assert cohort.patients == 1000
    assert cohort.years == 10
    assert sum(cohort.cirrhosis.values()) == pytest.approx(1.0)
    assert cohort.cirrhosis["compensated"] + cohort.cirrhosis["decompensated"] == pytest.approx(
        0.283
    )  # S-GRON14


def test_cohort_file_round_trip(tmp_path: Path) -> None:
    """A cohort file written as the spec shows loads; fixed and bare numbers are accepted."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_with(age={"fixed": 40}, weight_kg=70)))
    cohort = load_cohort(path)
    rng = np.random.default_rng(0)
    attrs = sample_attributes(cohort, "P1", rng)
    assert attrs.age == 40
    assert attrs.weight_kg == 70
    assert cohort.origin == str(path)


_INVALID = [
    ({"sex": {"F": 0.7, "M": 0.25}}, r"sex: probabilities sum to 0\.95, expected 1"),
    ({"sex": {"F": 0.75, "X": 0.25}}, r"sex\.X: found 'X', expected one of \['F', 'M'\]"),
    ({"tpmt": {"normal": 1.2}}, r"tpmt\.normal: found 1\.2, expected a probability"),
    ({"patients": 0}, r"patients: found 0, expected a whole number >= 1"),
    ({"years": -1}, r"years: found -1"),
    (
        {"age": {"distribution": "normal", "mean": 40, "sd": 10, "min": 10, "max": 80}},
        "age.min",
    ),
    ({"age": {"distribution": "gamma"}}, r"age\.distribution: found 'gamma'"),
    (
        {"age": {"distribution": "normal", "mean": 40, "min": 18, "max": 80}},
        r"age\.sd: found None",
    ),
    ({"weight_kg": {"distribution": "uniform", "min": 90, "max": 50}}, r"weight_kg\.max"),
    ({"presentaton": {}}, r"unknown field 'presentaton'; did you mean 'presentation'"),
    (
        {"age": {"distribution": "uniform", "mean": 40, "min": 18, "max": 80}},
        r"age\.mean: found 40, expected no 'mean' for uniform",
    ),
    (
        {"weight_kg": {"fixed": 70, "distribution": "normal"}},
        r"weight_kg\.distribution: found 'normal', expected none beside 'fixed: VALUE'",
    ),
    ({"weight_kg": {"fixed": 70, "sd": 3}}, r"weight_kg\.sd: found 3, expected no 'sd' for fixed"),
]


@pytest.mark.parametrize(("changes", "message"), _INVALID)
def test_invalid_cohorts_fail_in_one_line(changes: dict[str, Any], message: str) -> None:
    """Errors name the file, the field, what was found and what was expected."""
    with pytest.raises(CohortError, match=message) as info:
        parse_cohort(_with(**changes), "my.yaml")
    assert str(info.value).startswith("my.yaml: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("changes", "message"), _INVALID)
def test_cohort_file_errors_name_the_line_of_the_field(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    """From a file, the error also names the line of the field at fault (``file:line:``)."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_with(**changes), sort_keys=False))
    with pytest.raises(CohortError, match=message) as info:
        load_cohort(path)
    field = info.value.field
    assert field is not None
    head, _, rest = field.partition(".")
    lines = path.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith(f"{head}:"))
    if rest:  # the nested key, below its parent when the file has it
        nested = [i for i, text in enumerate(lines, 1) if text.strip().startswith(f"{rest}:")]
        line = next((i for i in nested if i > line), line)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert field in str(info.value)
    assert "\n" not in str(info.value)


def test_a_required_field_left_out_of_a_file_has_no_line(tmp_path: Path) -> None:
    """There is no line to point at for a field that is not there: ``file: field: ...``."""
    data = _with()
    del data["tpmt"]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CohortError, match=rf"^{re.escape(str(path))}: tpmt: found None"):
        load_cohort(path)


def test_missing_field_and_bad_yaml(tmp_path: Path) -> None:
    """A missing field and unparsable YAML are one-line errors too."""
    data = _with()
    del data["tpmt"]
    with pytest.raises(CohortError, match="tpmt: found None, expected a value"):
        parse_cohort(data, "c.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("patients: [1\n")
    with pytest.raises(CohortError, match=r"bad\.yaml:2:1: invalid YAML"):
        load_cohort(bad)


def test_sources_block_is_checked() -> None:
    """A cited source id must exist in the knowledge base."""
    data = _with(sources={"sex": {"tag": "V", "sources": ["S-NOPE"], "figure": "x"}})
    with pytest.raises(CohortError, match="S-NOPE"):
        parse_cohort(data, "c.yaml")


def test_set_overrides_cohort_parameters_and_thresholds() -> None:
    """--set reaches cohort fields, model parameters and pathway thresholds by dotted name."""
    cohort, params, ths = apply_overrides(
        parse_cohort(_with(), "c.yaml"),
        load_parameters(),
        [
            "cohort.presentation.acute_severe=1.0",
            "cohort.age.mean=50",
            "cohort.patients=3",
            "relapse.withdrawal_1y=0.5",
            "parameters.transplant.max_age=65",
            "thresholds.transplant_meld=20",
        ],
    )
    assert cohort.presentation == {
        "chronic": 0.0,
        "acute_severe": 1.0,
        "acute_liver_failure": 0.0,
    }
    assert cohort.age.mean == 50
    assert cohort.patients == 3
    assert params["relapse.withdrawal_1y"] == 0.5
    assert params["transplant.max_age"] == 65
    assert ths.transplant_meld == 20


def test_set_one_category_rescales_the_others() -> None:
    """Setting one probability keeps the others' proportions and the sum at 1."""
    cohort, _, _ = apply_overrides(
        parse_cohort(_with(), "c.yaml"), load_parameters(), ["cohort.sex.F=0.5"]
    )
    assert cohort.sex == {"F": 0.5, "M": 0.5}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("cohort.presentaton.acute_severe=1", r"did you mean 'cohort\.presentation\.acute_severe'"),
        ("relapse.withdrawl_1y=0.5", r"did you mean 'relapse\.withdrawal_1y'"),
        ("nonsense", "expected KEY=VALUE"),
        ("relapse.withdrawal_1y=abc", r"relapse\.withdrawal_1y: found 'abc', expected a number"),
        ("cohort.sex.F=2", r"sex\.F: found 2, expected a probability"),
        ("cohort.age.min=5", r"age\.min: found 5"),
        (
            "thresholds.taper_interval_days=0",
            r"taper_interval_days: found 0\.0, expected a number of days >= 1",
        ),
        ("thresholds.non_response_fall=2", r"non_response_fall: found 2\.0, expected a fraction"),
        ("thresholds.uln=.inf", r"thresholds\.uln: found inf, expected a number"),
        ("relapse.withdrawal_1y=-0.5", r"relapse\.withdrawal_1y': found -0\.5, expected 0 to 1"),
    ],
)
def test_set_errors(item: str, message: str) -> None:
    """Bad --set items fail with one line: unknown keys list close matches, thresholds and
    model parameters out of their range fail in apply_overrides."""
    with pytest.raises(CohortError, match=message):
        apply_overrides(parse_cohort(_with(), "c.yaml"), load_parameters(), [item])


def test_patient_streams_are_keyed_by_seed_and_index() -> None:
    """Patient i's draws are the counter-based draws of (seed, i, stream 0), whatever other
    patient was drawn from before, and differ between patients and seeds."""
    later = patient_rng(42, 3).random(3)
    for i in range(5):
        assert np.array_equal(patient_rng(42, i).random(3), uniforms(42, i, 0, np.arange(3)))
    assert np.array_equal(patient_rng(42, 3).random(3), later)
    assert not np.array_equal(patient_rng(42, 2).random(3), later)
    assert not np.array_equal(patient_rng(43, 3).random(3), later)


def _csv(patients: int, years: float, seed: int, workers: int, policy: str = "guideline") -> str:
    result = run_cohort(
        parse_cohort(_with(), "c.yaml"),
        patients=patients,
        years=years,
        seed=seed,
        workers=workers,
        policy=policy,
    )
    return result.patients_csv() + result.events_csv()


def test_same_seed_same_bytes_and_workers_do_not_matter() -> None:
    """The same seed gives byte-identical outputs with 1 or 2 worker processes."""
    one = _csv(12, 4, seed=5, workers=1)
    assert one == _csv(12, 4, seed=5, workers=1)
    assert one == _csv(12, 4, seed=5, workers=2)
    assert one != _csv(12, 4, seed=6, workers=1)


def test_a_patient_does_not_depend_on_the_cohort_size() -> None:
    """Patient i is the same whether the cohort has 3 or 6 patients."""
    small = run_cohort(parse_cohort(_with(), "c.yaml"), patients=3, years=2, seed=9).rows
    large = run_cohort(parse_cohort(_with(), "c.yaml"), patients=6, years=2, seed=9).rows
    assert large[:3] == small


def test_policies_share_patients() -> None:
    """Under two policies the same seed gives the same patients (common random numbers)."""
    rows = {
        name: run_cohort(
            parse_cohort(_with(), "c.yaml"), patients=6, years=1, seed=3, policy=name
        ).rows
        for name in ("guideline", "mmf_first_line")
    }
    keys = (
        "patient_id",
        "age",
        "sex",
        "weight_kg",
        "cirrhosis_at_diagnosis",
        "presentation",
        "tpmt",
    )
    for a, b in zip(rows["guideline"], rows["mmf_first_line"], strict=True):
        assert [a[k] for k in keys] == [b[k] for k in keys]


def test_unknown_policy_and_bad_arguments() -> None:
    """Unknown policy names and impossible run arguments are ValueErrors."""
    with pytest.raises(ValueError, match="unknown policy 'nope'"):
        get_strategy("nope")
    with pytest.raises(ValueError, match="'workers' must be >= 1"):
        run_cohort(parse_cohort(_with(), "c.yaml"), patients=1, years=1, workers=0)
    assert {"guideline", "prednisolone_all", "mmf_first_line", "budesonide_when_eligible"} <= set(
        STRATEGIES
    )


def test_progress_reports_the_time_left(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Progress lines say how far the run is and, before the end, about how long is left
    (elapsed time per patient so far x patients to go)."""
    from simulation.run import progress as progress_module
    from simulation.run.progress import StderrProgress, _duration

    clock = iter([100.0, 140.0, 260.0])  # start, after 1,000 patients, after 5,000
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    progress = StderrProgress()
    progress(1_000, 10_000)
    progress(5_000, 10_000)
    progress(10_000, 10_000)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "carechart: simulated 1,000/10,000 patients (10%), about 6 min left",  # 40 s x 9
        "carechart: simulated 5,000/10,000 patients (50%), about 3 min left",  # 160 s x 1
        "carechart: simulated 10,000/10,000 patients (100%)",
    ]
    assert [_duration(s) for s in (0.2, 4.2, 95, 4850)] == ["1 s", "4 s", "2 min", "1 h 21 min"]


def test_duplicate_keys_are_errors_with_their_lines(tmp_path: Path) -> None:
    """YAML keeps the last of two equal keys; a cohort file names both lines instead."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_with()) + "patients: 30\n")
    lines = path.read_text().splitlines()
    first = next(i for i, line in enumerate(lines, 1) if line.startswith("patients:"))
    with pytest.raises(
        CohortError,
        match=rf"c\.yaml:{len(lines)}:1: duplicate key 'patients': found it twice "
        rf"\(first at line {first}\), expected each key once",
    ):
        load_cohort(path)


class _Futures:
    """Futures that are done at once; counts those submitted and not yet collected."""

    def __init__(self) -> None:
        self.in_flight, self.most, self.log = 0, 0, list[str]()

    def submit(self, item: int) -> _Futures.Done:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        self.log.append(f"submit {item}")
        return _Futures.Done(self, item)

    class Done:
        def __init__(self, futures: _Futures, item: int) -> None:
            self.futures, self.item = futures, item

        def result(self) -> int:
            self.futures.in_flight -= 1
            self.futures.log.append(f"result {self.item}")
            return self.item


@given(n=st.integers(0, 60), window=st.integers(1, 12))
def test_in_order_yields_every_result_in_order_with_a_bounded_window(n: int, window: int) -> None:
    """Results come back in item order; never more than ``window`` futures are pending."""
    futures = _Futures()
    assert list(in_order(futures.submit, range(n), window)) == list(range(n))
    assert futures.most == min(n, window)
    # The first ``window`` are submitted at once, then one more each time a result is out.
    first = min(n, window)
    assert futures.log[:first] == [f"submit {i}" for i in range(first)]
    assert futures.log[first:] == [
        entry
        for i in range(n)
        for entry in (f"result {i}", f"submit {i + window}")
        if entry.startswith("result") or i + window < n
    ]


@given(n=st.integers(1, 5000), workers=st.integers(1, 8), requested=st.none() | st.integers(1, 300))
def test_chunks_cover_the_cohort_in_order(n: int, workers: int, requested: int | None) -> None:
    """Blocks are consecutive, of the size asked for (default 1 to 100 patients), the last
    one possibly shorter, and cover every patient once."""
    size = block_size(n, workers, requested)
    assert size == requested or (requested is None and 1 <= size <= BLOCK_PATIENTS)
    chunks = list(_chunks(n, size))
    assert chunks[0][0] == 0
    assert chunks[-1][1] == n
    assert all(a[1] == b[0] for a, b in pairwise(chunks))
    assert all(stop - start == size for start, stop in chunks[:-1])
    assert 1 <= chunks[-1][1] - chunks[-1][0] <= size


@given(n=st.integers(1, 200_000), workers=st.integers(1, 8))
def test_vector_blocks_are_as_large_as_allowed_and_even_over_the_workers(
    n: int, workers: int
) -> None:
    """For the block engine: no block above the cap, and the busiest worker runs as few
    blocks as the cap allows (10,000 patients on 2 workers: 3 each, not 3 and 2), each as
    small as that allows (so the busiest worker's patients are as few as they can be)."""
    size = block_size(n, workers, engine="vector")
    assert 1 <= size <= LOCKSTEP_BLOCK_PATIENTS
    blocks = len(list(_chunks(n, size)))
    rounds = math.ceil(n / (workers * LOCKSTEP_BLOCK_PATIENTS))
    assert math.ceil(blocks / workers) == rounds
    assert size == math.ceil(n / (rounds * workers))


def test_chunks_are_made_as_they_are_asked_for() -> None:
    """A cohort of 10^11 patients does not build its chunk list up front (memory flat)."""
    chunks = _chunks(10**11, block_size(10**11, 2))
    assert next(chunks) == (0, 100)
    assert next(chunks) == (100, 200)
