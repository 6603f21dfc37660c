"""Generated scenarios cover what the suite missed and replay green."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathway import AIHPathway
from pathway.structure import ChartModel
from simulation.cli.main import main
from simulation.scenarios.replay import replay_scenario
from simulation.scenarios.scenario import parse_scenario
from simulation.verify.generate import generate

from .helpers import REPO

ONE = str(REPO / "scenarios" / "combination-therapy-to-maintenance.yaml")


def _transition(key: str) -> tuple[str, int]:
    model = ChartModel.of(AIHPathway)
    return ("transition", next(t.index for t in model.transitions if t.key == key))


def test_generated_scenarios_cover_their_targets_and_replay_green() -> None:
    """For transitions the classic course never takes (an intolerance of the steroid, a
    transplant referral from decompensated cirrhosis, budesonide from diagnosis) the
    generator finds a course, writes it as a scenario and that scenario replays green."""
    targets = {
        _transition("intolerance: steroid_induction -> no_steroid"),
        _transition("start_budesonide: diagnosis -> induction"),
        _transition("decompensation: compensated_cirrhosis -> decompensated_cirrhosis"),
    }
    report = generate([ONE], budget=1500, only=targets)
    assert not report.not_found, report.not_found
    assert report.scenarios
    for generated in report.scenarios:
        assert generated.passed, generated.failure
        result = replay_scenario(parse_scenario(generated.text, file=f"{generated.name}.yaml"))
        assert result.passed
    covered = {item for g in report.scenarios for item in g.items}
    assert "start_budesonide: diagnosis -> induction [may_start_budesonide]" in covered


def test_deviation_only_transition_is_generated_with_its_deviation() -> None:
    """A transition only a deviation takes (a second steroid while on one) gets a scenario
    that scripts the action and expects it to be recorded as a deviation."""
    target = _transition("start_prednisolone: steroid_induction -> (stay)")
    report = generate([ONE], budget=2500, only={target})
    assert not report.not_found
    (generated,) = report.scenarios
    assert generated.passed, generated.failure
    assert "deviation: start_prednisolone" in generated.text


def test_invalid_suite_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A suite file that does not load is an error (exit 2) before any search, not a gap
    to fill; a file in the way of --out is named."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("")
    with pytest.raises(ValueError, match=r"bad\.yaml:1:1: empty file"):
        generate([ONE, str(bad)], budget=1)
    out = tmp_path / "gen"
    assert main(["generate", str(bad), "--out", str(out), "--budget", "1"]) == 2
    assert "generate needs a suite that runs" in capsys.readouterr().err
    assert not out.exists()
    (tmp_path / "f").write_text("x")
    assert main(["generate", ONE, "--out", str(tmp_path / "f"), "--budget", "1"]) == 2
    assert "--out" in capsys.readouterr().err
