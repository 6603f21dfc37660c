"""Training sessions: decisions classed against the pathway, saving, debrief, class report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from simulation.train.cases import PRESETS, Case, load_library
from simulation.train.debrief import build_debrief, class_report, render_debrief
from simulation.train.sessions import Session, SessionError, SessionStore

LIBRARY = load_library()


def _follow_guideline(session: Session) -> None:
    """Do what the guideline policy does: take must/should recommendations, then advance."""
    while not session.finished:
        while (
            (a := session.advice()) is not None and a.action != "continue" and a.strength != "may"
        ):
            session.take(a.action)
        session.advance()


def _names(debrief: dict[str, object], course: str) -> list[str]:
    events = debrief["courses"][course]["events"]  # type: ignore[index]
    return [e["name"] for e in events]


# What each preset is there to teach, seen in the guideline's own course.
TEACHES: dict[str, Callable[[list[str], Session], bool]] = {
    "classic-chronic": lambda names, s: "add_azathioprine" in names and "taper_steroid" in names,
    "acute-severe": lambda names, s: (
        s.case.presentation == "acute_severe" and "start_prednisolone" in names
    ),
    "cirrhosis-at-diagnosis": lambda names, s: "start_budesonide" not in names,
    "tpmt-deficiency": lambda names, s: (
        "add_mycophenolate" in names and "add_azathioprine" not in names
    ),
    "intolerance": lambda names, s: "intolerance" in names and "switch_to_mycophenolate" in names,
    "pregnancy-wish": lambda names, s: "pregnancy_planned" in names,
    "relapse-after-withdrawal": lambda names, s: (
        "attempt_withdrawal" in names and "reinduce" in names
    ),
    "post-transplant": lambda names, s: "refer_transplant" in names and "transplanted" in names,
}


@pytest.mark.parametrize("case_id", PRESETS)
def test_following_the_guideline_gives_its_course_and_full_adherence(case_id: str) -> None:
    session = Session(LIBRARY[case_id], "guided", "auto")
    _follow_guideline(session)
    debrief = build_debrief(session)
    assert debrief["score"]["adherence_pct"] == 100.0
    assert debrief["deviations"] == []
    # Same patient, same draws, same decisions: the side-by-side courses are identical.
    trainee, guideline = debrief["courses"]["trainee"], debrief["courses"]["guideline"]
    assert trainee["events"] == guideline["events"]
    assert trainee["labs"] == guideline["labs"]
    assert TEACHES[case_id](_names(debrief, "guideline"), session), case_id


def test_a_deviation_names_the_rules_it_breaks_and_changes_the_course() -> None:
    session = Session(LIBRARY["classic-chronic"], "standard")
    first = session.take("start_prednisolone")
    assert first.klass == "recommended"
    assert [n.rule_id for n in first.notes] == ["AIH-TRI-03"]
    early = session.take("add_azathioprine", comment="want it  early")
    assert early.klass == "deviation"
    assert {"INV-05", "INV-07"} <= {n.rule_id for n in early.notes}
    assert early.guideline is not None
    assert early.guideline.action == "continue"
    assert early.comment == "want it early"
    assert all(n.sources for n in early.notes)  # every broken rule names its sources
    _follow_guideline(session)
    debrief = build_debrief(session)
    assert [d["choice"] for d in debrief["deviations"]] == ["add_azathioprine"]
    assert debrief["score"]["deviations"] == 1
    assert debrief["courses"]["trainee"]["events"] != debrief["courses"]["guideline"]["events"]


def test_allowed_choices_and_omissions() -> None:
    session = Session(LIBRARY["classic-chronic"], "standard")
    waited = session.advance()  # treatment is a must at diagnosis: waiting is a deviation
    assert waited.klass == "deviation"
    assert waited.notes[0].rule_id == "AIH-TRI-03"
    assert "must 'Start predniso(lo)ne'" in waited.notes[0].message
    other = Session(LIBRARY["classic-chronic"], "standard")
    budesonide = other.take("start_budesonide")
    assert budesonide.klass == "allowed"
    assert any("ranks first: Start predniso(lo)ne" in n.message for n in budesonide.notes)


def test_doses_are_checked_against_the_safety_caps() -> None:
    case = LIBRARY["classic-chronic"]  # 68 kg: the guideline gives 30 mg, the cap is 60 mg
    over = Session(case).take("start_prednisolone", dose=80)
    assert over.klass == "deviation"
    assert "INV-04" in {n.rule_id for n in over.notes}
    lower = Session(case)
    low = lower.take("start_prednisolone", dose=20)
    assert low.klass == "allowed"
    assert lower.chart.patient.drugs == {"prednisolone": 20.0}
    assert any(n.rule_id == "AIH-DOSE-PRED" and "30 mg/day" in n.message for n in low.notes)
    assert Session(case).take("start_prednisolone", dose=30).klass == "recommended"
    for action, dose, message in (
        ("start_prednisolone", 0.0, "expected mg/day above 0"),
        ("start_prednisolone", float("nan"), "expected mg/day above 0"),
        ("refer_transplant", 10.0, "takes no dose"),
        ("fly_away", None, "expected one of"),
        ("continue", None, "expected one of"),
    ):
        with pytest.raises(SessionError, match=message):
            Session(case).take(action, dose=dose)


def test_hints_by_difficulty() -> None:
    case = LIBRARY["classic-chronic"]
    standard = Session(case, "standard")
    assert not standard.hints_shown
    advice = standard.hint()
    assert advice is not None
    assert advice.action == "start_prednisolone"
    standard.hint()  # asking again at the same moment is one hint
    standard.take("start_prednisolone")
    assert standard.hints == 1
    assert standard.decisions[0].hinted
    standard.advance()
    assert not standard.hints_shown
    guided = Session(case, "guided")
    assert guided.hints_shown
    guided.hint()
    assert guided.hints == 0
    with pytest.raises(SessionError, match="no hints in exam mode"):
        Session(case, "exam").hint()
    with pytest.raises(SessionError, match="difficulty: found 'easy'"):
        Session(case, "easy")


def test_a_saved_session_resumes_where_it_stopped(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    session = Session(LIBRARY["intolerance"], "standard", "Bo")
    session.hint()
    session.take("start_prednisolone")
    session.take("add_azathioprine", dose=50, comment="TPMT normal")
    for _ in range(4):
        session.advance()
    path = store.save(session)
    resumed = store.load(session.session_id)  # a new process would do exactly this
    assert (resumed.day, resumed.hints, resumed.trainee) == (session.day, 1, "Bo")
    assert resumed.decisions == session.decisions
    assert resumed.chart.patient.drugs == session.chart.patient.drugs
    assert resumed.chart.trace == session.chart.trace
    # The next event is the same for both: same patient model state after the replay.
    assert resumed.advance() == session.advance()
    assert resumed.moment == session.moment
    data = json.loads(path.read_text())
    data["log"][2]["dose"] = 75
    path.write_text(json.dumps(data))
    with pytest.raises(SessionError, match="do not lead to the saved pathway snapshot"):
        store.load(session.session_id)
    with pytest.raises(KeyError):
        store.load("0123456789abcdef")
    with pytest.raises(SessionError, match="expected 16 hex digits"):
        store.load("../../etc/passwd")


def test_debrief_html_is_self_contained_and_escapes_free_text() -> None:
    session = Session(LIBRARY["classic-chronic"], "exam", "<script>alert(1)</script>")
    session.take("start_prednisolone", comment="<img src=x onerror=alert(1)>")
    session.take("add_azathioprine")
    session.finish()
    debrief = build_debrief(session)
    assert debrief["end_day"] == 0
    assert debrief["end_reason"] == "ended by the trainee"
    html = render_debrief(json.loads(json.dumps(debrief)))
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'src="' not in html  # self-contained: nothing loaded from elsewhere
    assert "<link" not in html
    assert "INV-07" in html
    assert "Hints used" in html


def test_class_report_counts_broken_rules_and_trainees() -> None:
    debriefs = []
    for name, actions in (("A", ["add_azathioprine"]), ("B", ["add_azathioprine"]), ("C", [])):
        session = Session(LIBRARY["classic-chronic"], "standard", name)
        session.take("start_prednisolone")
        for action in actions:
            session.take(action)
        session.finish()
        debriefs.append(json.loads(json.dumps(build_debrief(session))))
    report = class_report(debriefs)
    assert (report["debriefs"], report["trainees"]) == (3, 3)
    top = report["rules"][0]
    assert top["rule_id"] in ("INV-05", "INV-07", "AIH-IND-03")
    assert (top["times"], top["trainees"]) == (2, 2)
    assert report["actions"] == [{"choice": "add_azathioprine", "times": 2}]
    assert report["cases"][0]["mean_adherence_pct"] == round((50 + 50 + 100) / 3, 1)


def test_scenario_files_are_cases_too() -> None:
    cases = load_library(scenario_folders=[Path(__file__).parents[1] / "scenarios"])
    case = cases["scenario-tpmt-intermediate"]
    assert isinstance(case, Case)
    assert (case.tpmt, case.true_tpmt, case.weight_kg) == ("intermediate", "intermediate", 90)
    session = Session(case, "guided")
    _follow_guideline(session)
    assert build_debrief(session)["score"]["adherence_pct"] == 100.0
