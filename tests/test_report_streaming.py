"""report.html from streamed outputs: the same page as from loaded outputs, in flat memory.

:func:`simulation.results.report.write_report` reads patients.csv and events.csv one patient at a
time into running counts (:mod:`simulation.results.report.tally`). These tests check that the
counts give exactly what the list-based computations give on the loaded outputs, that the
page is the same, that a malformed row still fails with its file and line, and that memory
does not grow with the events (nor, over repeated values, with the patients).
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import itertools
import math
import random
import statistics
import tempfile
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulation.results.report as report_module
from simulation.results.cohort_outputs import (
    EventOrderError,
    OutputFormatError,
    iter_outputs,
    iter_patient_events,
    iter_patients,
    load_outputs,
    read_events,
    read_patients,
)
from simulation.results.endpoints import (
    overall_survival,
    relapse_after_withdrawal,
    time_to_cbr,
    transplant_free_survival,
)
from simulation.results.report import REPORT_FILE, build_report, write_report
from simulation.results.report.tables import ValueCounts, _median_iqr, _quartiles
from simulation.results.report.tally import ReportTally, tally_folder, tally_outputs
from simulation.results.survival import kaplan_meier
from simulation.results.trajectories import care_courses, flows, occupancy

from .synthetic_outputs import EVENT_HEADER, PATIENT_HEADER, write_synthetic_outputs

WHEN = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def _drop_events(out_dir: Path, keep: Callable[[str], bool]) -> None:
    """Remove every events.csv row of the patients ``keep`` refuses."""
    header, *rows = _rows(out_dir / "events.csv")
    _write_rows(out_dir / "events.csv", [header, *(r for r in rows if keep(r[0]))])


def _reference(out_dir: Path, tally: ReportTally) -> dict[str, Any]:
    """The report's aggregates computed the list way from the loaded outputs."""
    outputs = load_outputs(out_dir)
    patients = outputs.patients
    courses = care_courses(patients, outputs.events)
    fired = Counter(
        (e.source, e.name, "" if e.target == e.source else e.target)
        for e in outputs.events
        if e.kind == "transition"
    )

    def km(tte: Any) -> Any:
        return kaplan_meier(tte.durations, tte.observed)

    stages = sorted({p.cirrhosis_at_diagnosis for p in patients})
    regimens = sorted({p.first_line for p in patients})
    return {
        "patients": len(patients),
        "horizon": max(p.followup_days for p in patients),
        "cbr": {
            None: km(time_to_cbr(patients)),
            **{r: km(time_to_cbr([p for p in patients if p.first_line == r])) for r in regimens},
        },
        "relapse": km(relapse_after_withdrawal(patients, outputs.events_by_patient())),
        "transplant_free": km(transplant_free_survival(patients)),
        "survival_by_stage": {
            s: km(overall_survival([p for p in patients if p.cirrhosis_at_diagnosis == s]))
            for s in stages
        },
        "occupancy": occupancy(courses, tally.occupancy.grid),
        "occupancy_years": occupancy(courses, tally.occupancy_years.grid),
        "flows": flows(courses),
        "fired": fired,
    }


def _aggregates(tally: ReportTally) -> dict[str, Any]:
    return {
        "patients": tally.patients,
        "horizon": tally.horizon,
        "cbr": {k: v.curve() for k, v in sorted(tally.cbr.items(), key=lambda kv: str(kv[0]))},
        "relapse": tally.relapse.curve(),
        "transplant_free": tally.transplant_free.curve(),
        "survival_by_stage": {k: v.curve() for k, v in sorted(tally.survival_by_stage.items())},
        "occupancy": tally.occupancy.counts(),
        "occupancy_years": tally.occupancy_years.counts(),
        "flows": tally.flows.flows(),
        "fired": tally.fired,
    }


# --- each aggregate equals the list-based computation -----------------------------------------


@settings(max_examples=15)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 10_000),
    years=st.sampled_from([0.5, 2.0, 10.0]),
    without_events=st.sets(st.integers(1, 60), max_size=20),
)
def test_streamed_aggregates_equal_the_list_computations(
    n: int, seed: int, years: float, without_events: set[int]
) -> None:
    """Curves, occupancy, flows and transition counts of the stream equal the list way.

    Some patients have no events at all (first, last or in a run), which the stream must
    pair with an empty list without losing the next patient's events.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = write_synthetic_outputs(Path(tmp) / "run", n=n, seed=seed, years=years)
        dropped = {f"P{i:05d}" for i in without_events}
        _drop_events(out, lambda pid: pid not in dropped)
        tally = tally_folder(out)
        assert _aggregates(tally) == _reference(out, tally)
        assert _aggregates(tally) == _aggregates(tally_outputs(load_outputs(out)))


@pytest.mark.parametrize(("n", "seed"), [(1, 1), (60, 3), (400, 11)])
def test_streamed_report_is_the_loaded_report(tmp_path: Path, n: int, seed: int) -> None:
    """write_report (streamed) writes exactly build_report(load_outputs(...)), without
    loading the outputs."""
    out = write_synthetic_outputs(tmp_path / "run", n=n, seed=seed)
    expected = build_report(load_outputs(out), generated=WHEN)
    with pytest.MonkeyPatch.context() as patch:

        def refuse(out_dir: Path) -> None:
            raise AssertionError("the outputs were loaded whole")

        patch.setattr(report_module, "load_outputs", refuse)
        path = write_report(out, generated=WHEN)
    assert path.read_text(encoding="utf-8") == expected
    assert f"Patients: {n} ·" in expected


def test_events_not_in_patient_order_are_read_whole(tmp_path: Path) -> None:
    """events.csv with the patients in another order (still valid: the contract only asks
    for time order within a patient) gives the same report, read whole."""
    out = write_synthetic_outputs(tmp_path / "run", n=40, seed=4)
    expected = build_report(load_outputs(out), generated=WHEN)
    header, *rows = _rows(out / "events.csv")
    by_patient: dict[str, list[list[str]]] = {}
    for r in rows:
        by_patient.setdefault(r[0], []).append(r)
    shuffled = list(by_patient.values())
    random.Random(1).shuffle(shuffled)
    _write_rows(out / "events.csv", [header, *(r for block in shuffled for r in block)])
    with pytest.raises(EventOrderError, match=r"events\.csv, line \d+: patient 'P\d+'"):
        list(iter_outputs(out))
    assert write_report(out, generated=WHEN).read_text(encoding="utf-8") == expected


def test_unknown_patient_in_events_is_named(tmp_path: Path) -> None:
    """An events.csv row of a patient missing from patients.csv is the loader's error."""
    out = write_synthetic_outputs(tmp_path / "run", n=20, seed=2)
    rows = _rows(out / "events.csv")
    rows.insert(5, ["P99999", "3", "finding", "labs", "", "", "", ""])
    _write_rows(out / "events.csv", rows)
    with pytest.raises(OutputFormatError, match=r"patient 'P99999' is not in patients\.csv"):
        write_report(out)
    assert not (out / REPORT_FILE).exists()


# --- errors name the file and the line -------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("day", "soon", r"'day' is not a number \(got 'soon'\)"),
        ("day", "inf", r"'day' must be finite"),
        ("kind", "guess", r"unknown kind 'guess'"),
    ],
)
def test_malformed_event_row_is_one_line_with_file_and_line(
    tmp_path: Path, column: str, value: str, message: str
) -> None:
    """A bad events.csv cell, far down the file, stops the streamed report with the same
    one-line error as read_events; no report is written."""
    out = write_synthetic_outputs(tmp_path / "run", n=50, seed=6)
    rows = _rows(out / "events.csv")
    line = len(rows) - 3  # 1-based line of rows[line - 1], near the end
    rows[line - 1][EVENT_HEADER.index(column)] = value
    _write_rows(out / "events.csv", rows)
    pattern = rf"^{out / 'events.csv'}, line {line}: {message}"
    with pytest.raises(OutputFormatError, match=pattern) as streamed:
        write_report(out)
    assert "\n" not in str(streamed.value)
    assert streamed.value.line == line
    with pytest.raises(OutputFormatError) as loaded:
        read_events(out / "events.csv")
    assert str(loaded.value) == str(streamed.value)
    with pytest.raises(OutputFormatError) as grouped:
        list(iter_patient_events(out / "events.csv"))
    assert str(grouped.value) == str(streamed.value)
    assert not (out / REPORT_FILE).exists()


def test_extra_cell_in_events_is_refused(tmp_path: Path) -> None:
    """A row with more cells than columns names its line."""
    out = write_synthetic_outputs(tmp_path / "run", n=10, seed=6)
    rows = _rows(out / "events.csv")
    rows[4].append("surplus")
    _write_rows(out / "events.csv", rows)
    with pytest.raises(OutputFormatError, match=r"events\.csv, line 5: more cells than columns"):
        write_report(out)


def _set_ids(out_dir: Path, ids: list[str]) -> None:
    """Rename the patients (and their events) in file order."""
    header, *rows = _rows(out_dir / "patients.csv")
    rename = {r[0]: new for r, new in zip(rows, ids, strict=True)}
    _write_rows(out_dir / "patients.csv", [header, *([rename[r[0]], *r[1:]] for r in rows)])
    header, *events = _rows(out_dir / "events.csv")
    _write_rows(out_dir / "events.csv", [header, *([rename[r[0]], *r[1:]] for r in events)])


def test_duplicate_patient_ids_are_refused_as_before(tmp_path: Path) -> None:
    """Ids that do not increase are checked for repeats, with read_patients' message."""
    out = write_synthetic_outputs(tmp_path / "run", n=6, seed=1)
    _set_ids(out, ["B", "A", "C", "D", "A", "B"])
    with pytest.raises(OutputFormatError) as loaded:
        read_patients(out / "patients.csv")
    assert str(loaded.value).endswith("patient id 'B' appears more than once")
    with pytest.raises(OutputFormatError) as streamed:
        list(iter_patients(out / "patients.csv"))
    assert str(streamed.value) == str(loaded.value)
    with pytest.raises(OutputFormatError, match="'B' appears more than once"):
        write_report(out)


def test_unsorted_unique_ids_stream_the_same(tmp_path: Path) -> None:
    """Unique ids in any order are fine, and the page is the loaded one."""
    out = write_synthetic_outputs(tmp_path / "run", n=30, seed=8)
    ids = [f"X{i:03d}" for i in random.Random(3).sample(range(100, 999), 30)]
    _set_ids(out, ids)
    assert [p.patient_id for p in iter_patients(out / "patients.csv")] == ids
    expected = build_report(load_outputs(out), generated=WHEN)
    assert write_report(out, generated=WHEN).read_text(encoding="utf-8") == expected


def test_a_bad_patient_row_after_an_unsorted_id_keeps_its_line(tmp_path: Path) -> None:
    """Once ids stop increasing the whole file is checked, rows before ids, as before."""
    out = write_synthetic_outputs(tmp_path / "run", n=8, seed=8)
    _set_ids(out, ["P2", "P1", "P3", "P4", "P5", "P6", "P7", "P1"])
    rows = _rows(out / "patients.csv")
    rows[7][PATIENT_HEADER.index("age")] = "old"
    _write_rows(out / "patients.csv", rows)
    with pytest.raises(OutputFormatError, match=r"patients\.csv, line 8: 'age' is not a number"):
        list(iter_patients(out / "patients.csv"))


# --- tables: counted values give the list statistics --------------------------------------------

_VALUES = st.lists(
    st.one_of(
        st.sampled_from([0.0, 1.5, 18.0, 45.2, 3652.5]),
        st.floats(0, 5000, allow_nan=False, allow_infinity=False),
    ),
    max_size=40,
)


@given(_VALUES)
def test_value_counts_give_the_list_statistics(values: list[float]) -> None:
    """Mean, SD and inclusive quartiles of counted values equal the statistics module's."""
    counted = ValueCounts(values)
    assert len(counted) == len(values)
    assert list(counted.values()) == sorted(values)
    assert [counted.nth(i) for i in range(len(values))] == sorted(values)
    if values:
        assert statistics.fmean(counted.values()) == statistics.fmean(values)
    if len(values) > 1:
        assert statistics.stdev(counted.values()) == statistics.stdev(values)
        assert _quartiles(counted) == statistics.quantiles(values, n=4, method="inclusive")
        q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
        assert _median_iqr(counted) == f"{q2:.1f} [{q1:.1f}–{q3:.1f}]"
    with pytest.raises(IndexError):
        counted.nth(len(values))


# --- memory -----------------------------------------------------------------------------------


def _peak(run: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _repeat(out_dir: Path, times: int) -> Path:
    """The same folder with every patient (and its events) repeated ``times`` times."""
    pheader, *patients = _rows(out_dir / "patients.csv")
    eheader, *events = _rows(out_dir / "events.csv")
    by_patient: dict[str, list[list[str]]] = {}
    for r in events:
        by_patient.setdefault(r[0], []).append(r)
    width = len(str(len(patients) * times))
    new_p, new_e = [pheader], [eheader]
    for k in range(times):
        for i, p in enumerate(patients):
            pid = f"Q{k * len(patients) + i:0{width}d}"
            new_p.append([pid, *p[1:]])
            new_e.extend([pid, *e[1:]] for e in by_patient.get(p[0], []))
    big = out_dir.with_name(f"{out_dir.name}-x{times}")
    big.mkdir()
    _write_rows(big / "patients.csv", new_p)
    _write_rows(big / "events.csv", new_e)
    (big / "summary.json").write_text((out_dir / "summary.json").read_text())
    return big


def _with_more_events(out_dir: Path, extra: int) -> Path:
    """The same folder with ``extra`` more finding rows per patient (at its last day)."""
    header, *events = _rows(out_dir / "events.csv")
    rows: list[list[str]] = [header]
    for _, block in itertools.groupby(events, key=lambda r: r[0]):
        block_rows = list(block)
        last = block_rows[-1]
        rows += block_rows
        rows += [[last[0], last[1], "finding", "labs", "alt_xuln=1.0", "", "", ""]] * extra
    dense = out_dir.with_name(f"{out_dir.name}-dense")
    dense.mkdir()
    _write_rows(dense / "events.csv", rows)
    for name in ("patients.csv", "summary.json"):
        (dense / name).write_bytes((out_dir / name).read_bytes())
    return dense


def test_report_memory_does_not_grow_with_events(tmp_path: Path) -> None:
    """Ten times the events (100 more for each of 100 patients): loading the outputs
    grows by megabytes, the streamed report's peak memory stays put, and the page is the
    same (findings do not change any figure)."""
    sparse = write_synthetic_outputs(tmp_path / "run", n=100, seed=12)
    dense = _with_more_events(sparse, 100)
    write_report(dense)  # warm-up: fonts and caches of matplotlib
    load_growth = _peak(lambda: load_outputs(dense)) - _peak(lambda: load_outputs(sparse))
    tally_growth = _peak(lambda: tally_folder(dense)) - _peak(lambda: tally_folder(sparse))
    report_growth = _peak(lambda: write_report(dense, generated=WHEN)) - _peak(
        lambda: write_report(sparse, generated=WHEN)
    )
    assert load_growth > 3_000_000, load_growth  # 10,000 more events in memory
    # One patient's events at a time: 100 rows more of one patient (about 70 kB), not
    # 10,000 rows (3.5 MB).
    assert tally_growth < 300_000, tally_growth
    assert report_growth < 150_000, report_growth
    assert (dense / REPORT_FILE).read_bytes() == (sparse / REPORT_FILE).read_bytes()


def test_report_counts_flat_in_repeated_patients(tmp_path: Path) -> None:
    """1,000 then 3,000 patients repeating the same 200 (same values and days): the counts
    behind the report do not grow.

    Holding anything per patient would show: an id (about 80 bytes) adds 160 kB here.
    """
    base = write_synthetic_outputs(tmp_path / "run", n=200, seed=12)
    mid, big = _repeat(base, 5), _repeat(base, 15)
    tally_folder(big)  # warm-up: interpreter free lists
    growth = _peak(lambda: tally_folder(big)) - _peak(lambda: tally_folder(mid))
    assert growth < 60_000, growth
    assert tally_folder(big).patients == 3000


def test_memory_grows_modestly_with_distinct_patients(tmp_path: Path) -> None:
    """With distinct values per patient (random days) memory grows with the distinct values,
    a small fraction of what the outputs take in memory."""
    small = write_synthetic_outputs(tmp_path / "small", n=200, seed=13)
    large = write_synthetic_outputs(tmp_path / "large", n=2000, seed=13)
    tally_growth = _peak(lambda: tally_folder(large)) - _peak(lambda: tally_folder(small))
    load_growth = _peak(lambda: load_outputs(large)) - _peak(lambda: load_outputs(small))
    assert tally_growth < load_growth / 10, (tally_growth, load_growth)
    per_patient = tally_growth / 1800
    assert per_patient < 600, per_patient
    assert math.isfinite(per_patient)
