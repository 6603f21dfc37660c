"""The course driver follows the engine's rules: what it finds replays the same way."""

from __future__ import annotations

from pathway import AIHPathway, Thresholds
from simulation.scenarios.course import Course, Move
from simulation.scenarios.replay import replay_scenario
from simulation.scenarios.scenario import parse_scenario
from simulation.scenarios.scenario_writer import ExpectationSpec, care_states_of, render_scenario
from simulation.verify.boundaries import default_starts, lab_boundaries, threshold_analytes


def _classic() -> Course:
    return Course(default_starts(Thresholds())[0], AIHPathway)


def _as_scenario(course: Course) -> str:
    chart = course.chart
    return render_scenario(
        name="driver check",
        description="written by the test",
        patient=course.start.patient,
        labs=course.start.lab_dict,
        timeline=course.timeline,
        expect=[
            ExpectationSpec(
                course.clock,
                {
                    "in_state": care_states_of(chart.active),
                    "on_drugs": sorted(chart.patient.drugs),
                    "response": chart.patient.response,
                },
            )
        ],
        horizon_days=course.clock,
    )


def test_a_driven_course_replays_green_through_the_engine() -> None:
    """States, drugs and response reached by the driver are what SimPy replay reaches."""
    course = _classic()
    halved = {"alt_xuln": 4.2, "ast_xuln": 3.45}
    moves = [Move("visit"), Move("visit", value=halved)] + [Move("visit")] * 5
    moves += [Move("visit", value={"alt_xuln": 0.8, "ast_xuln": 0.7, "igg_xuln": 0.9})]
    moves += [Move("finding", "intolerance", "azathioprine"), Move("visit")]
    for move in moves:
        assert course.apply(move)
    result = replay_scenario(parse_scenario(_as_scenario(course), file="driven.yaml"))
    assert result.passed, result.failures


def test_rewind_returns_to_the_same_moment() -> None:
    """After a rewind the same moves give the same configuration, record and trace."""
    course = _classic()
    course.apply(Move("visit"))
    saved = course.save()
    course.apply(Move("finding", "intolerance", "azathioprine"))
    course.apply(Move("visit"))
    first = (sorted(course.chart.active), dict(course.chart.patient.drugs), len(course.chart.trace))
    course.rewind(saved)
    assert len(course.chart.trace) == saved["trace"]
    course.apply(Move("finding", "intolerance", "azathioprine"))
    course.apply(Move("visit"))
    again = (sorted(course.chart.active), dict(course.chart.patient.drugs), len(course.chart.trace))
    assert again == first


def test_an_impossible_finding_is_not_a_move() -> None:
    """A finding no active state handles (a delivery without pregnancy) is refused, no gap."""
    course = _classic()
    assert not course.apply(Move("finding", "delivered"))
    assert course.problems == []


def test_boundaries_cover_each_lab_threshold() -> None:
    """Each lab threshold gives its value and the values just below and above."""
    th = Thresholds()
    bounds = lab_boundaries(th)
    alt = {v for v, _ in bounds["alt_xuln"]}
    assert {2.99, 3.0, 3.01} <= alt  # relapse and activity thresholds
    assert threshold_analytes("withdrawal_max_igg_xuln") == ("igg_xuln",)
    assert threshold_analytes("taper_interval_days") == ()
