"""Calibration: target definitions, intervals, measures, the result file, the Markdown page."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from pathway.guidelines.aih.sources import SOURCES
from pathway.guidelines.aih.vocabulary import ACTIONS
from simulation.cli.main import main
from simulation.model.parameters import load_parameters
from simulation.model.policies import STRATEGIES
from simulation.results import calibration as cal
from simulation.results.calibration import (
    CalibrationError,
    CalibrationResult,
    Target,
    TargetResult,
    load_result,
    load_targets,
    measure,
    render_markdown,
    render_text,
    run_calibration,
    wilson_interval,
)
from simulation.results.calibration.measures import MEASURE_PARAMS
from simulation.results.cohort_outputs import CohortOutputs, EventRow, PatientRow
from simulation.results.report import write_report
from simulation.run.cohort import apply_overrides, load_cohort

from .synthetic_outputs import write_synthetic_outputs

TARGETS = load_targets()


class TestTargetDefinitions:
    def test_every_source_is_in_the_knowledge_base(self) -> None:
        """Each target cites a source id listed in pathway.guidelines.aih.sources.SOURCES."""
        assert {t.source for t in TARGETS} <= set(SOURCES)

    def test_the_brief_s_studies_are_all_covered(self) -> None:
        """Knowledge base section 4 targets (induction, withdrawal, second line, acute, LT)
        and the population cohorts, acute severe cohorts and registries of issue 12."""
        assert {t.source for t in TARGETS} == {
            "S-MANNS10",
            "S-CAMARO",
            "S-DIAZ23",
            "S-VGERVEN13",
            "S-SANTIAGO19",
            "S-EFE17",
            "S-YEOMAN11",
            "S-ML22",
            "S-HEINEMANN20",
            "S-TELLEZ22",
            "S-SURFASA22",
            "S-PAPE20",
            "S-ARVANITI24",
            "S-GRON14",
            "S-GRON20",
            "S-SHARMA21",
            "S-SHARMAS21",
            "S-FELD05",
            "S-LANDEIRA12",
            "S-KIL10",
        }

    def test_both_groups_are_present(self) -> None:
        """Inputs measured back and validation targets; validation covers the issue's list."""
        validation = {t.id for t in TARGETS if t.group == "validation"}
        assert {t.group for t in TARGETS} == {"input", "validation"}
        for wanted in (
            "gron14-mortality-10y",  # 10-year mortality
            "sharma21-death-or-lt-10y",  # death-or-transplant-free survival
            "sharmas21-compensated-12m",  # survival by cirrhosis
            "feld05-cirrhosis-10y",  # long-term survival by cirrhosis
            "feld05-no-cirrhosis-10y",
            "surfasa22-as-aih-90d",  # acute severe transplant-free survival
            "arvaniti24-second-line-1y",  # second-line use at 1 year
            "kil10-remission-3.5m",  # time to remission
        ):
            assert wanted in validation

    @pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.id)
    def test_overrides_are_valid_set_keys(self, target: Target) -> None:
        """Every sub-cohort override is accepted by the engine's own --set parser."""
        cohort, _, _ = apply_overrides(
            load_cohort(), load_parameters(), cal.override_strings(target)
        )
        if "cohort.presentation.acute_severe" in target.overrides:
            assert cohort.presentation["acute_severe"] == 1.0

    @pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.id)
    def test_policy_exists(self, target: Target) -> None:
        """A named policy is a registered strategy; an inline one prefers real actions."""
        if isinstance(target.policy, str):
            assert target.policy in STRATEGIES
        else:
            assert set(target.policy.get("prefer", ())) <= set(ACTIONS)
            assert target.policy["name"] not in STRATEGIES

    @pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.id)
    def test_published_interval(self, target: Target) -> None:
        """The interval holds the value; a derived one names its n."""
        pub = target.published
        assert pub.low <= pub.value <= pub.high
        if pub.derived:
            assert pub.n is not None
            assert f"n = {pub.n}" in pub.interval_text()
            assert "derived" in pub.interval_text()
        else:
            assert "published" in pub.interval_text()

    def test_santiago_uses_the_published_ci(self) -> None:
        """Where the knowledge base gives a CI it is used as is."""
        t = next(t for t in TARGETS if t.id == "santiago19-mmf-intolerance")
        assert (t.published.low, t.published.high, t.published.derived) == (0.77, 0.87, False)


class TestWilson:
    def test_hand_computed(self) -> None:
        """60/100: centre 0.5963, half-width 0.0943."""
        low, high = wilson_interval(60, 100)
        assert low == pytest.approx(0.50201, abs=1e-4)
        assert high == pytest.approx(0.69061, abs=1e-4)

    def test_bounds(self) -> None:
        """0 of n starts at 0; n of n ends at 1."""
        assert wilson_interval(0, 10)[0] == 0.0
        assert wilson_interval(10, 10)[1] == pytest.approx(1.0)

    @pytest.mark.parametrize(("k", "n"), [(1, 0), (-1, 5), (6, 5)])
    def test_bad_input(self, k: int, n: int) -> None:
        """Impossible counts are refused."""
        with pytest.raises(ValueError, match="must be"):
            wilson_interval(k, n)


GOOD = """
schema: 1
targets:
  - id: t1
    source: S-MANNS10
    study: s
    quantity: q
    arm: a
    population: p
    set: {}
    policy: guideline
    years: 1
    measure: {kind: proportion_by_day, column: first_cbr_day, day: 183}
    published: {value: 0.6, n: 100}
"""


class TestLoadTargets:
    def test_good_file(self, tmp_path: Path) -> None:
        """A minimal file loads, with a derived interval."""
        (tmp_path / "t.yaml").write_text(GOOD)
        (t,) = load_targets(tmp_path / "t.yaml")
        assert t.published.derived
        assert t.measure.kind == "proportion_by_day"

    @pytest.mark.parametrize(
        ("old", "new", "message"),
        [
            ("source: S-MANNS10", "source: S-NOWHERE", "not in the knowledge base"),
            ("kind: proportion_by_day", "kind: vibes", "unknown measure kind 'vibes'"),
            ("column: first_cbr_day", "column: age", "'column' must be one of"),
            ("day: 183}", "day: 183, before: weight_kg}", "'before' must be one of"),
            ("day: 183}", "day: 183, after: death_day}", "unknown \\['after'\\]"),
            ("{value: 0.6, n: 100}", "{value: 0.6, low: 0.7, high: 0.8}", "does not contain"),
            ("{value: 0.6, n: 100}", "{value: 0.6, low: 0.5, high: 0.7, n: 100}", "either 'low'"),
            ("{value: 0.6, n: 100}", "{value: 0.6, low: 0.5}", "either 'low'"),
            ("{value: 0.6, n: 100}", "{value: 0.6, n: 100, ci: 0.1}", "unknown 'published' keys"),
            ("{value: 0.6, n: 100}", "{value: high, n: 100}", "'value' must be a number"),
            ("{value: 0.6, n: 100}", "{value: 0.6, n: 0}", "whole number >= 1"),
            ("{value: 0.6, n: 100}", "{value: 0.6, n: 100, events: 101}", "must lie in 0-100"),
            ("years: 1", "years: 0", "'years' must be > 0"),
            ("set: {}", "cohort: {}", "missing fields \\['set'\\]"),
            ("years: 1", "years: 1\n    group: bogus", "'group' must be one of"),
        ],
    )
    def test_errors_name_the_problem(
        self, tmp_path: Path, old: str, new: str, message: str
    ) -> None:
        """A broken target is refused with the target and the field."""
        (tmp_path / "t.yaml").write_text(GOOD.replace(old, new))
        with pytest.raises(CalibrationError, match=message):
            load_targets(tmp_path / "t.yaml")

    def test_duplicate_ids(self, tmp_path: Path) -> None:
        """Two targets with one id are refused."""
        body = GOOD + GOOD.split("targets:\n", 1)[1]
        (tmp_path / "t.yaml").write_text(body)
        with pytest.raises(CalibrationError, match="more than once"):
            load_targets(tmp_path / "t.yaml")


def row(pid: str, followup: float = 365.0, **days: float) -> PatientRow:
    get = days.get
    return PatientRow(
        pid, 40, "F", 70, "none", "chronic", "normal", "prednisolone+azathioprine",
        get("first_cbr_day"), get("second_line_day"), get("withdrawal_day"),
        get("relapse_day"), get("transplant_day"), get("death_day"), "", followup,
    )  # fmt: skip


def ev(pid: str, day: float, kind: str, name: str, source: str = "", target: str = "") -> EventRow:
    return EventRow(pid, day, kind, name, "", source, target, ())


def target_with(kind: str, **params: object) -> Target:
    base = TARGETS[0]
    return Target(
        "x", base.source, "s", "q", "a", "p", {}, "guideline", 5.0,
        cal.Measure(kind, params), base.published,
    )  # fmt: skip


class TestMeasures:
    def test_proportion_by_day_skips_unknown_status(self) -> None:
        """A patient who left follow-up alive before the day is not counted either way."""
        outputs = CohortOutputs(
            [
                row("a", first_cbr_day=150),
                row("b", first_cbr_day=250),
                row("c", death_day=100, followup=100),
                row("d", followup=120),
            ],
            [],
            {},
        )
        value, n = measure(
            target_with("proportion_by_day", column="first_cbr_day", day=183), outputs
        )
        assert n == 3
        assert value == pytest.approx(1 / 3)

    def test_proportion_before_another_event(self) -> None:
        """With `before`, a response reached only after a switch to second line is a miss."""
        outputs = CohortOutputs(
            [
                row("a", first_cbr_day=150),
                row("b", first_cbr_day=300, second_line_day=182),
                row("c", first_cbr_day=100, second_line_day=182),
            ],
            [],
            {},
        )
        t = target_with(
            "proportion_by_day", column="first_cbr_day", day=365, before="second_line_day"
        )
        value, n = measure(t, outputs)
        assert n == 3
        assert value == pytest.approx(2 / 3)

    def test_normal_transaminases_until_an_action(self) -> None:
        """With `until_actions`, panels after the first of those actions do not count: a
        response reached after optimise_treatment replaced budesonide is a miss (S-DIAZ23
        measured response on budesonide)."""

        def labs(pid: str, day: float, alt: float) -> EventRow:
            detail = f"alt_xuln={alt};ast_xuln={alt}"
            return EventRow(pid, day, "finding", "labs", detail, "", "", ())

        events = [
            labs("a", 90, 0.8),
            labs("b", 90, 1.6),
            ev("b", 182, "action", "optimise_treatment"),
            labs("b", 270, 0.7),
            labs("c", 182, 1.4),
            ev("c", 182, "action", "optimise_treatment"),
        ]
        outputs = CohortOutputs([row(p) for p in "abc"], events, {})
        params = {"mode": "any", "day": 365}
        assert measure(target_with("normal_transaminases", **params), outputs) == (2 / 3, 3)
        until = target_with("normal_transaminases", until_actions=["optimise_treatment"], **params)
        assert measure(until, outputs) == (1 / 3, 3)
        check = MEASURE_PARAMS["normal_transaminases"][2]
        assert "until_actions" in check({**params, "until_actions": ["optimise"]})
        assert check({**params, "until_actions": ["optimise_treatment"]}) == ""

    def test_normal_labs_with_igg(self) -> None:
        """`with_igg: true` also requires IgG <= ULN (a remission, S-KIL10), not only the
        transaminases (S-DIAZ23's biochemical response)."""
        events = [
            EventRow(
                "a", 56, "finding", "labs", "alt_xuln=0.8;ast_xuln=0.7;igg_xuln=0.9", "", "", ()
            ),
            EventRow(
                "b", 56, "finding", "labs", "alt_xuln=0.8;ast_xuln=0.7;igg_xuln=1.3", "", "", ()
            ),
        ]
        outputs = CohortOutputs([row(p) for p in "ab"], events, {})
        params = {"mode": "any", "day": 107}
        assert measure(target_with("normal_transaminases", **params), outputs) == (1.0, 2)
        with_igg = target_with("normal_transaminases", with_igg=True, **params)
        assert measure(with_igg, outputs) == (0.5, 2)
        check = MEASURE_PARAMS["normal_transaminases"][2]
        assert "with_igg" in check({**params, "with_igg": "yes"})

    def test_second_line_response_by_reason(self) -> None:
        """Failure = the switch names the failed-response rule (AIH-RSP-03), as the chart
        recorded it; else intolerance (also long after a cytopenia)."""

        def failed(pid: str, day: float, name: str) -> EventRow:
            rules = ("AIH-2L-01", "AIH-RSP-03")
            return EventRow(pid, day, "transition", name, "", "first_line", "second_line", rules)

        events = [
            ev("a", 100, "finding", "intolerance"),
            ev("a", 100, "transition", "switch_to_mycophenolate", "maintenance", "second_line"),
            ev("a", 290, "transition", "second_line_assessment", "second_line", "maintenance"),
            failed("b", 182, "switch_to_mycophenolate"),
            ev("b", 364, "transition", "start_third_line", "second_line", "third_line"),
            failed("c", 182, "switch_to_tacrolimus"),
            ev("c", 364, "transition", "second_line_assessment", "second_line", "maintenance"),
            # A switch two months after a cytopenia names no failure rule: intolerance.
            ev("d", 100, "finding", "cytopenia"),
            ev("d", 160, "transition", "switch_to_mycophenolate", "maintenance", "second_line"),
            ev("d", 350, "transition", "second_line_assessment", "second_line", "maintenance"),
        ]
        outputs = CohortOutputs([row(p, followup=1000) for p in "abcd"], events, {})
        mmf_intol = target_with(
            "second_line_response", drug="mycophenolate", reason="intolerance", within_days=365
        )
        mmf_fail = target_with(
            "second_line_response", drug="mycophenolate", reason="failure", within_days=365
        )
        tac_fail = target_with(
            "second_line_response", drug="tacrolimus", reason="failure", within_days=365
        )
        assert measure(mmf_intol, outputs) == (1.0, 2)
        assert measure(mmf_fail, outputs) == (0.0, 1)
        assert measure(tac_fail, outputs) == (1.0, 1)

    def test_cumulative_incidence_uses_kaplan_meier(self) -> None:
        """Relapse after withdrawal at 1 year: KM with censoring."""
        patients = [
            row("a", withdrawal_day=100, followup=2000),
            row("b", withdrawal_day=100, followup=2000),
            row("c", withdrawal_day=100, followup=300),
        ]
        events = [ev("a", 200, "transition", "labs", "withdrawal", "relapse")]
        t = target_with("cumulative_incidence", endpoint="relapse_after_withdrawal", day=365)
        value, n = measure(t, CohortOutputs(patients, events, {}))
        assert n == 3
        assert value == pytest.approx(1 / 3)

    def test_drug_stopped_within_counts_intolerance_after_the_start(self) -> None:
        """Among azathioprine starters: stopped for intolerance or cytopenia within the year;
        a patient who left follow-up alive before the year was out is not counted."""
        events = [
            ev("a", 14, "action", "add_azathioprine"),
            EventRow("a", 100, "finding", "intolerance", "azathioprine", "", "", ()),
            ev("b", 14, "action", "add_azathioprine"),
            ev("c", 14, "action", "add_azathioprine"),
            ev("d", 14, "action", "add_azathioprine"),
            EventRow("d", 500, "finding", "cytopenia", "severe", "", "", ()),
            EventRow("e", 50, "finding", "intolerance", "mycophenolate", "", "", ()),
        ]
        patients = [row("a", 2000), row("b", 2000), row("c", 200), row("d", 2000), row("e")]
        t = target_with("drug_stopped_within", drug="azathioprine", days=365)
        value, n = measure(t, CohortOutputs(patients, events, {}))
        assert n == 3
        assert value == pytest.approx(1 / 3)

    def test_liver_death_endpoint_censors_other_deaths(self) -> None:
        """Liver-related deaths (liver, hcc) are events; a background death censors."""
        patients = [
            dataclasses.replace(row("a", 3000, death_day=1000), death_cause="liver"),
            dataclasses.replace(row("b", 3000, death_day=500), death_cause="background"),
            row("c", 4000),
            row("d", 4000),
        ]
        t = target_with("cumulative_incidence", endpoint="liver_death", day=3652)
        value, n = measure(t, CohortOutputs(patients, [], {}))
        assert n == 4
        assert value == pytest.approx(1 / 3)

    def test_no_eligible_patient(self) -> None:
        """Nothing to measure is None, not zero."""
        t = target_with("cumulative_incidence", endpoint="recurrence_after_transplant", day=365)
        assert measure(t, CohortOutputs([row("a")], [], {})) == (None, 0)


def fake_result(values: dict[str, float | None]) -> CalibrationResult:
    results = tuple(TargetResult(t, values.get(t.id), 50) for t in TARGETS)
    return CalibrationResult(results, 50, 7, "carechart calibrate --patients 50 --seed 7",
                             "2026-01-01 00:00 UTC", "0.1.0", runs=9)  # fmt: skip


class TestResults:
    def test_runs_are_shared_and_ordered(self) -> None:
        """Targets with one cohort, policy and horizon share a run; results keep file order."""
        calls: list[str] = []

        def simulate(target: Target, patients: int, seed: int, out_dir: Path) -> CohortOutputs:
            calls.append(target.id)
            return CohortOutputs([row("a", first_cbr_day=100)], [], {})

        result = run_calibration(TARGETS, patients=5, seed=1, simulate=simulate)
        assert [r.target.id for r in result.results] == [t.id for t in TARGETS]
        assert len(calls) == len({t.run_key() for t in TARGETS}) == result.runs
        assert "vgerven13-2y" not in calls  # shares the 1-year target's run

    def test_json_round_trip(self, tmp_path: Path) -> None:
        """A saved result loads back equal."""
        result = fake_result({t.id: t.published.value for t in TARGETS})
        loaded = load_result(cal.save_result(result, tmp_path / "c.json"))
        assert loaded.results == result.results
        assert loaded.facts() == result.facts()

    def test_load_result_rejects_other_json(self, tmp_path: Path) -> None:
        """Any other JSON file is refused with its name."""
        (tmp_path / "x.json").write_text(json.dumps({"hello": 1}))
        with pytest.raises(CalibrationError, match="not a carechart calibration result"):
            load_result(tmp_path / "x.json")

    def test_verdicts(self) -> None:
        """Inside the interval passes, outside fails, unmeasured is None."""
        t = TARGETS[0]
        assert TargetResult(t, t.published.value, 10).passed is True
        assert TargetResult(t, t.published.high + 0.01, 10).passed is False
        assert TargetResult(t, None, 0).passed is None


def check_markdown_table(text: str, rows: int) -> None:
    """Every table (one per group of targets) is well formed; ``rows`` rows in all."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    rule = "|---|---|---|---|---:|---:|---:|---|---|"
    starts = [i - 1 for i, line in enumerate(lines) if line == rule]
    assert starts, "no table"
    body_rows = 0
    for k, start in enumerate(starts):
        header = lines[start]
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        body = lines[start + 2 : end]
        cells = header.count("|") - header.count("\\|")
        body_rows += len(body)
        for line in body:
            assert line.count("|") - line.count("\\|") == cells
            assert re.search(r"\| (pass|\*\*fail\*\*|n/a) \|$", line)
    assert body_rows == rows


class TestMarkdown:
    def test_table_format(self) -> None:
        """One row per target, same column count, verdict last; failures listed."""
        values: dict[str, float | None] = {t.id: t.published.value for t in TARGETS}
        values[TARGETS[0].id] = 0.0
        values[TARGETS[1].id] = None
        text = render_markdown(fake_result(values))
        check_markdown_table(text, len(TARGETS))
        assert "- Command: `carechart calibrate --patients 50 --seed 7`" in text
        assert "- Seed: 7" in text
        assert "- Patients per simulated run: 50" in text
        assert "- Generated: 2026-01-01 00:00 UTC" in text
        assert f"{len(TARGETS) - 2} of {len(TARGETS) - 1} targets" in text
        assert f"`{TARGETS[0].id}`: simulated 0.0% is below" in text
        assert "## Inputs measured back" in text
        assert "## Validation (figures the model was not fitted to)" in text

    def test_groups_are_counted_apart(self) -> None:
        """The terminal table and the counts report inputs and validation separately."""
        values: dict[str, float | None] = {t.id: t.published.value for t in TARGETS}
        bad = next(t for t in TARGETS if t.group == "validation")
        values[bad.id] = bad.published.high + 0.05
        result = fake_result(values)
        n_val = sum(1 for t in TARGETS if t.group == "validation")
        n_in = len(TARGETS) - n_val
        assert result.counts("validation") == (n_val - 1, n_val)
        assert result.counts("input") == (n_in, n_in)
        text = render_text(result)
        assert f"Validation (figures the model was not fitted to): {n_val - 1} of {n_val}" in text
        assert text.index("[Inputs measured back]") < text.index("[Validation")

    def test_tiny_real_run(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`carechart calibrate` on 4 patients writes the page, the JSON and the table."""
        md, out = tmp_path / "calibration.md", tmp_path / "run" / "calibration.json"
        status = main(
            [
                "calibrate", "--patients", "4", "--seed", "3",
                "--target", "yeoman11-steroid-failure", "--target", "camaro-aza",
                "--markdown", str(md), "--out", str(out),
            ]
        )  # fmt: skip
        assert status == 0
        printed = capsys.readouterr().out
        assert "yeoman11-steroid-failure" in printed
        assert "targets inside the published interval" in printed
        text = md.read_text()
        check_markdown_table(text, 2)
        assert "--patients 4 --seed 3" in text
        result = load_result(out)
        assert [r.target.id for r in result.results] == ["camaro-aza", "yeoman11-steroid-failure"]
        assert all(r.n <= 4 for r in result.results)

    def test_report_shows_the_calibration_table(self, tmp_path: Path) -> None:
        """A calibration.json in the output folder appears in report.html with verdicts."""
        out_dir = write_synthetic_outputs(tmp_path / "run", n=30)
        values: dict[str, float | None] = {t.id: t.published.value for t in TARGETS}
        values[TARGETS[0].id] = 0.0
        cal.save_result(fake_result(values), out_dir / "calibration.json")
        text = write_report(out_dir).read_text()
        assert "S-MANNS10" in text
        assert 'pass">inside' in text
        assert 'fail">outside' in text
        assert "carechart calibrate --patients 50 --seed 7" in text

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--out", "{file}/c.json"], "--out {file}/c.json: found a file at {file}"),
            (["--markdown", "{tmp}"], "--markdown {tmp}: found a folder, expected a file name"),
            (["--patients", "-1"], "--patients: found -1, expected a whole number >= 1"),
            (["--workers", "0"], "--workers: found 0, expected a whole number >= 1"),
            (["--targets", "{file}"], "{file}:1:1: found byte 0xff at offset 0"),
        ],
    )
    def test_bad_options_fail_before_any_run(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
    ) -> None:
        """Unwritable outputs, bad numbers and a binary target file fail at once, in one
        line naming the option or file (not after every run, not as an errno)."""
        file = tmp_path / "f"
        file.write_bytes(b"\xff")
        fill = {"file": str(file), "tmp": str(tmp_path)}
        assert main(["calibrate", *(a.format(**fill) for a in args)]) == 2
        err = capsys.readouterr().err
        assert message.format(**fill) in err
        assert "run 1/" not in err

    def test_unknown_target_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--target with a wrong id fails in one line, listing the known ids."""
        assert main(["calibrate", "--target", "nope"]) == 2
        assert "unknown target 'nope'" in capsys.readouterr().err
