"""The trainer's web app (FastAPI, Jinja2 templates, htmx served from ``static/``).

Pages: the case list (``/``), a session (``/sessions/{id}``, its controls post to
``/sessions/{id}/take|hint|advance|finish`` and htmx swaps the panel in place; without
JavaScript the forms still work by redirect), the debrief (``/sessions/{id}/debrief``,
also as ``debrief.html`` and ``debrief.json`` downloads) and the instructor's class report
(``/instructor``). Sessions are saved after every request and resumed from disk when the
server restarts. All text from case files and trainees is escaped by the templates.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from pathway import RULES, Step
from pathway.atomic import write_atomic
from pathway.guidelines.aih.patient import LabPanel
from pathway.guidelines.aih.timers import TIMERS

from .cases import Case
from .debrief import build_debrief, class_report, load_debriefs, render_class_report, render_debrief
from .plot import lab_series, lab_timeline_svg
from .sessions import ACTION_LABELS, DIFFICULTIES, Session, SessionError, SessionStore

__all__ = ["create_app", "describe_step"]

_HERE = Path(__file__).parent
_LAB_TEXT = (
    ("alt_xuln", "ALT", "x ULN"),
    ("ast_xuln", "AST", "x ULN"),
    ("igg_xuln", "IgG", "x ULN"),
    ("bilirubin_mg_dl", "bilirubin", "mg/dL"),
    ("inr", "INR", ""),
    ("meld", "MELD", ""),
    ("wbc_10e9_l", "WBC", "10^9/L"),
    ("platelets_10e9_l", "platelets", "10^9/L"),
)


def lab_text(values: dict[str, float]) -> str:
    """``ALT 2.1 x ULN, IgG 1.2 x ULN, ...`` for a lab mapping."""
    return ", ".join(
        f"{label} {values[key]:g}{' ' + unit if unit else ''}"
        for key, label, unit in _LAB_TEXT
        if key in values
    )


def describe_step(step: Step) -> str:
    """One line in plain words for a step of the trace."""
    if step.kind == "timer":
        timer = next((t for t in TIMERS if t.id == step.detail), None)
        rule = RULES.get(timer.rule_id) if timer is not None else None
        what = f"scheduled review: {step.detail.replace('_', ' ')}"
        text = f"{what} ({rule.summary})" if rule is not None else what
    elif step.kind == "action":
        text = ACTION_LABELS.get(step.name, step.name)
        if step.deviation:
            text += " (deviation)"
        if not step.carried_out:
            text += ", not possible in this state"
    elif step.name == "labs":
        values = {k: float(v) for k, v in (item.split("=", 1) for item in step.detail.split(";"))}
        text = f"labs: {lab_text(values)}"
    else:
        text = step.name.replace("_", " ") + (f": {step.detail}" if step.detail else "")
    moves = [f"{t.source} -> {t.target}" for t in step.transits if t.source != t.target]
    return text + (f" [{'; '.join(moves)}]" if moves else "")


def _latest_labs(labs: list[LabPanel]) -> dict[str, tuple[float, float]]:
    """Each lab's latest value and its day."""
    out: dict[str, tuple[float, float]] = {}
    for panel in labs:
        for key, value in panel.values().items():
            out[key] = (value, panel.day)
    return out


def create_app(
    cases: dict[str, Case],
    sessions_dir: str | Path,
) -> FastAPI:
    """The trainer app over ``cases`` (by id), saving sessions under ``sessions_dir``."""
    store = SessionStore(sessions_dir)
    debrief_dir = Path(sessions_dir) / "debriefs"
    live: dict[str, Session] = {}
    lock = threading.Lock()  # one request changes sessions at a time (sync routes run in threads)
    templates = Jinja2Templates(directory=str(_HERE / "templates"))
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    templates.env.filters["fmt"] = lambda v: (
        "" if v is None else f"{v:g}" if isinstance(v, float) else v
    )
    app = FastAPI(title="carechart trainer", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")

    def get(session_id: str) -> Session:
        session = live.get(session_id)
        if session is None:
            session = store.load(session_id)  # KeyError: unknown, SessionError: bad file
            live[session_id] = session
        return session

    def save(session: Session) -> None:
        store.save(session)
        if session.finished:
            # The debrief is kept beside the sessions for the instructor's class report.
            debrief_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(
                debrief_dir / f"{session.session_id}.json",
                json.dumps(build_debrief(session), indent=1, sort_keys=True),
            )

    def view(session: Session, error: str = "", advice_now: Any = None) -> dict[str, Any]:
        chart = session.chart
        marks = [(d.day, d.label) for d in session.decisions if d.choice != "advance"]
        plot = lab_timeline_svg(
            lab_series(chart.patient), marks=marks, end_day=max(session.day, 28.0)
        )
        timers = chart.pending_timers()
        here = [d for d in session.decisions if d.moment == session.moment.index]
        return {
            "s": session,
            "case": session.case,
            "patient": chart.patient,
            "care_state": chart.care_state.replace("_", " "),
            "plot": Markup(plot),
            "labs": _latest_labs(chart.patient.labs),
            "lab_names": _LAB_TEXT,
            "happened": [(st.day, describe_step(st)) for st in session.moment.steps],
            "next_visit": timers[0] if timers else None,
            "decisions_here": here,
            "show_feedback": session.difficulty != "exam",
            "advice": advice_now or (session.advice() if session.hints_shown else None),
            "actions": session.possible_actions(),
            "all_actions": [a for a in ACTION_LABELS if a != "continue"],
            "labels": ACTION_LABELS,
            "error": error,
            "difficulties": DIFFICULTIES,
        }

    def respond(
        request: Request, session: Session, error: str = "", advice: Any = None
    ) -> Response:
        if request.headers.get("HX-Request"):
            return templates.TemplateResponse(request, "panel.html", view(session, error, advice))
        if error:
            return templates.TemplateResponse(
                request, "session.html", view(session, error, advice), status_code=400
            )
        return RedirectResponse(f"/sessions/{session.session_id}", status_code=303)

    def not_found(request: Request, what: str) -> Response:
        return templates.TemplateResponse(request, "error.html", {"message": what}, status_code=404)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        recent = store.summaries()
        return templates.TemplateResponse(
            request,
            "home.html",
            {"cases": list(cases.values()), "difficulties": DIFFICULTIES, "recent": recent},
        )

    @app.post("/sessions")
    def start(
        request: Request,
        case_id: str = Form(...),
        difficulty: str = Form("standard"),
        trainee: str = Form(""),
    ) -> Response:
        case = cases.get(case_id)
        if case is None:
            return not_found(request, f"no case {case_id!r}")
        try:
            session = Session(case, difficulty, trainee)
        except SessionError as exc:
            return templates.TemplateResponse(
                request, "error.html", {"message": str(exc)}, status_code=400
            )
        with lock:
            live[session.session_id] = session
            save(session)
        return RedirectResponse(f"/sessions/{session.session_id}", status_code=303)

    @app.get("/sessions/{session_id}", response_class=HTMLResponse)
    def show(request: Request, session_id: str) -> Response:
        try:
            session = get(session_id)
        except (KeyError, SessionError) as exc:
            return not_found(request, f"no session {session_id!r} ({exc})")
        return templates.TemplateResponse(request, "session.html", view(session))

    def act(request: Request, session_id: str, what: str, **form: Any) -> Response:
        try:
            session = get(session_id)
        except (KeyError, SessionError) as exc:
            return not_found(request, f"no session {session_id!r} ({exc})")
        with lock:
            advice = None
            try:
                if what == "take":
                    dose_text = str(form.get("dose") or "").strip()
                    try:
                        dose = float(dose_text) if dose_text else None
                    except ValueError:
                        raise SessionError(
                            f"dose: found {dose_text!r}, expected a number (mg/day)"
                        ) from None
                    session.take(str(form.get("action", "")), dose, str(form.get("comment", "")))
                elif what == "hint":
                    advice = session.hint()
                elif what == "advance":
                    session.advance()
                else:
                    session.finish()
            except SessionError as exc:
                return respond(request, session, str(exc))
            save(session)
        return respond(request, session, advice=advice)

    @app.post("/sessions/{session_id}/take")
    def take(
        request: Request,
        session_id: str,
        action: str = Form(""),
        dose: str = Form(""),
        comment: str = Form(""),
    ) -> Response:
        return act(request, session_id, "take", action=action, dose=dose, comment=comment)

    @app.post("/sessions/{session_id}/hint")
    def hint(request: Request, session_id: str) -> Response:
        return act(request, session_id, "hint")

    @app.post("/sessions/{session_id}/advance")
    def advance(request: Request, session_id: str) -> Response:
        return act(request, session_id, "advance")

    @app.post("/sessions/{session_id}/finish")
    def finish(request: Request, session_id: str) -> Response:
        return act(request, session_id, "finish")

    def debrief_of(request: Request, session_id: str) -> dict[str, Any] | Response:
        try:
            session = get(session_id)
        except (KeyError, SessionError) as exc:
            return not_found(request, f"no session {session_id!r} ({exc})")
        return build_debrief(session)

    @app.get("/sessions/{session_id}/debrief", response_class=HTMLResponse)
    def debrief(request: Request, session_id: str) -> Response:
        d = debrief_of(request, session_id)
        return d if isinstance(d, Response) else HTMLResponse(render_debrief(d))

    @app.get("/sessions/{session_id}/debrief.html")
    def debrief_html(request: Request, session_id: str) -> Response:
        d = debrief_of(request, session_id)
        if isinstance(d, Response):
            return d
        name = f"debrief-{d['case']['id']}-{session_id}.html"
        return HTMLResponse(
            render_debrief(d), headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @app.get("/sessions/{session_id}/debrief.json")
    def debrief_json(request: Request, session_id: str) -> Response:
        d = debrief_of(request, session_id)
        if isinstance(d, Response):
            return d
        name = f"debrief-{d['case']['id']}-{session_id}.json"
        return JSONResponse(d, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/instructor", response_class=HTMLResponse)
    def instructor(request: Request) -> Response:
        debriefs = load_debriefs([debrief_dir]) if debrief_dir.is_dir() else []
        return HTMLResponse(render_class_report(class_report(debriefs)))

    return app
