"""The trainer's routes (framework test client), case files and the train commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from simulation.cli.main import build_parser, main
from simulation.train.app import create_app
from simulation.train.cases import PRESETS, CaseError, load_case, load_library

HX = {"HX-Request": "true"}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(load_library(), tmp_path / "sessions"))


def _start(client: TestClient, **form: str) -> str:
    data = {"case_id": "classic-chronic", "difficulty": "standard", "trainee": "Cy"} | form
    response = client.post("/sessions", data=data, follow_redirects=False)
    assert response.status_code == 303
    return str(response.headers["location"])


def test_home_lists_the_case_library(client: TestClient) -> None:
    page = client.get("/").text
    assert re.findall(r'name="case_id" value="([^"]+)"', page) == list(PRESETS)
    assert page.count('name="difficulty"') == 3
    assert '<script src="/static/htmx.min.js">' in page
    assert client.get("/static/htmx.min.js").text.startswith("var htmx=")


def test_a_session_through_the_routes(client: TestClient, tmp_path: Path) -> None:
    url = _start(client)
    page = client.get(url).text
    assert 'id="advice"' not in page  # hidden until the trainee acts or asks
    # The lab timeline is an inline SVG drawn on the server: ALT, AST and IgG of day 0.
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="labplot"') == 1
    assert re.findall(r"<title>(\w+) day 0: [\d.]+ x ULN</title>", page) == ["ALT", "AST", "IgG"]
    hinted = client.post(f"{url}/hint", headers=HX).text
    assert hinted.startswith('<div id="session"')  # a fragment for htmx to swap in
    assert "Start predniso(lo)ne (must)" in hinted
    assert "used: 1" in hinted
    taken = client.post(f"{url}/take", data={"action": "add_azathioprine"}, headers=HX).text
    assert "badge deviation" in taken
    assert "INV-05" in taken
    # Without htmx the form posts and redirects back to the page.
    plain = client.post(
        f"{url}/take", data={"action": "start_prednisolone"}, follow_redirects=False
    )
    assert plain.status_code == 303
    assert plain.headers["location"] == url
    bad = client.post(f"{url}/take", data={"action": "start_prednisolone", "dose": "lots"})
    assert bad.status_code == 400
    assert "dose: found &#39;lots&#39;, expected a number" in bad.text
    client.post(f"{url}/finish", headers=HX)
    debrief = client.get(f"{url}/debrief.json").json()
    assert [d["choice"] for d in debrief["decisions"]] == ["add_azathioprine", "start_prednisolone"]
    assert debrief["score"]["hints"] == 1
    download = client.get(f"{url}/debrief.html")
    assert "attachment" in download.headers["content-disposition"]
    assert "Debrief: Classic chronic AIH" in download.text
    # The finished session's debrief is kept for the instructor's class report.
    saved = list((tmp_path / "sessions" / "debriefs").glob("*.json"))
    assert len(saved) == 1
    report = client.get("/instructor").text
    assert "INV-05" in report
    assert "Debriefs: 1. Trainees: 1." in report
    assert client.post(f"{url}/advance", headers=HX).text.count("the case is over") == 1


def test_sessions_resume_after_a_restart(client: TestClient, tmp_path: Path) -> None:
    url = _start(client)
    client.post(f"{url}/take", data={"action": "start_prednisolone"}, headers=HX)
    client.post(f"{url}/advance", headers=HX)
    before = client.get(url).text
    restarted = TestClient(create_app(load_library(), tmp_path / "sessions"))
    assert restarted.get(url).text == before
    assert "resume" in restarted.get("/").text


def test_untrusted_text_is_escaped(client: TestClient, tmp_path: Path) -> None:
    url = _start(client, trainee='<script>alert("x")</script>')
    page = client.post(
        f"{url}/take", data={"action": "start_prednisolone", "comment": "<b>bold</b>"}, headers=HX
    ).text
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>alert" not in client.get(url).text
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "evil.yaml").write_text(
        "title: <script>x()</script>\nsummary: <img src=x>\n"
        "patient: {age: 40, sex: F, weight_kg: 60}\nseed: 1\nhorizon_days: 90\n"
    )
    home = TestClient(create_app(load_library([cases]), tmp_path / "s2")).get("/").text
    assert "<script>x()" not in home
    assert "<img src=x>" not in home
    assert "&lt;script&gt;x()&lt;/script&gt;" in home


def test_unknown_sessions_and_cases_are_404(client: TestClient) -> None:
    assert client.get("/sessions/0123456789abcdef").status_code == 404
    assert client.get("/sessions/not-an-id").status_code == 404
    assert client.post("/sessions/0123456789abcdef/advance").status_code == 404
    response = client.post("/sessions", data={"case_id": "nope"})
    assert response.status_code == 404
    assert "no case &#39;nope&#39;" in response.text
    bad = client.post("/sessions", data={"case_id": "classic-chronic", "difficulty": "hard"})
    assert bad.status_code == 400
    assert "expected one of" in bad.text


def test_train_listens_on_localhost_by_default() -> None:
    args = build_parser().parse_args(["train"])
    assert (args.host, args.port, args.sessions) == ("127.0.0.1", 8765, "carechart-train")


_OK = "title: x\npatient: {age: 40, sex: F, weight_kg: 60}\nseed: 1\nhorizon_days: 90\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_OK + "colour: red\n",
         "case.yaml:5: unknown field 'colour'"),
        ("title: x\npatient: {age: 40, sex: X, weight_kg: 60}\nseed: 1\nhorizon_days: 90\n",
         "case.yaml:2:25: 'sex' must be one of [F, M] (got 'X')"),
        ("title: x\npatient: {age: 40, sex: F, weight_kg: 60}\nhorizon_days: 90\n",
         "case.yaml: seed: missing"),
        ("title: x\npatient: {age: 40, sex: F, weight_kg: 60}\nseed: -1\nhorizon_days: 90\n",
         "case.yaml:3: seed: found -1, expected a whole number >= 0"),
        ("title: x\npatient: {age: 40, sex: F, weight_kg: 60}\nseed: 1\nhorizon_days: 0\n",
         "case.yaml:4: horizon_days: found 0, expected a number from 1 to 3650"),
        (_OK.replace("60}", "60, tpmt: normal}") + "true_tpmt: deficient\n",
         "case.yaml:5: true_tpmt: found 'deficient', expected 'normal'"),
        ("title: [x\n", "case.yaml:2:1: invalid YAML"),
    ],
)  # fmt: skip
def test_bad_case_files_get_one_clear_message(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(text)
    with pytest.raises(CaseError) as err:
        load_case(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "patient",
    [
        "{age: 17, sex: F, weight_kg: 60}",
        "{age: 40, sex: M, weight_kg: 60, pregnant: true}",
        "{age: 40, sex: F, weight_kg: 60, cirrhosis: mild}",
        "{age: 40, sex: F}",
        "{age: 40, sex: F, weight_kg: 60, colour: red}",
    ],
)
def test_a_case_reads_its_patient_as_a_scenario_does(tmp_path: Path, patient: str) -> None:
    """One parser of the patient block: a case and a scenario with the same bad patient get
    the same message (fields, ranges and wording), at the same line and column."""
    from simulation.scenarios.scenario import ScenarioError, load_scenario

    case = tmp_path / "case.yaml"
    case.write_text(f"seed: 1\npatient: {patient}\ntitle: x\nhorizon_days: 90\n")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(f"name: x\npatient: {patient}\n")
    with pytest.raises(CaseError) as case_err:
        load_case(case)
    with pytest.raises(ScenarioError) as scenario_err:
        load_scenario(scenario)
    assert str(case_err.value).replace("case.yaml", "FILE") == str(scenario_err.value).replace(
        "scenario.yaml", "FILE"
    )


def test_train_commands_report_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text("title: x\n")
    assert main(["train", "--cases", str(tmp_path), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("carechart: error: ")
    assert "bad.yaml: patient: missing" in err
    assert main(["train-report", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: no such file or folder" in capsys.readouterr().err


def test_train_report_over_debrief_files(
    client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        url = _start(client)
        client.post(f"{url}/take", data={"action": "add_azathioprine"}, headers=HX)
        client.post(f"{url}/finish", headers=HX)
    folder = tmp_path / "sessions" / "debriefs"
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    assert (
        main(["train-report", str(folder), "--json", str(out_json), "--html", str(out_html)]) == 0
    )
    printed = capsys.readouterr().out
    assert printed.startswith("2 debriefs, 1 trainees")
    report = json.loads(out_json.read_text())
    assert report["rules"][0]["times"] == 2
    assert "Rules broken most" in out_html.read_text()


def test_train_refuses_a_port_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import uvicorn

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server must not start")

    monkeypatch.setattr(uvicorn, "run", never)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["train", "--port", str(port), "--no-browser", "--sessions", str(tmp_path / "s")]
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--port {port}: cannot listen there" in err
    assert "--port 0" in err
