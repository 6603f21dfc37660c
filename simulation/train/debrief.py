"""The debrief of a session and the class report over many debriefs.

The debrief gives an adherence score (:data:`SCORE_DEFINITION`), every deviation with the
rules it broke, the invariant violations of the course, and the same virtual patient's
course under the guideline policy: the same case and seed, so the same random draws
(:class:`simulation.model.disease.DiseaseModel` keeps one stream per kind of event), run to the
same day. It is JSON-ready data; :func:`render_debrief` makes a self-contained HTML page
of it (inline CSS and SVG, no script).

The class report reads many debrief JSON files and counts which rules are broken most,
by how many trainees, and the scores per case.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from pathway import AIHPathway

from ..model.disease import DiseaseModel
from ..model.policies import GuidelinePolicy
from ..run.engine import run_patient
from .plot import Series, lab_timeline_svg
from .sessions import Session, SessionError, decision_dict, new_course, read_trainer_json, rule_note

__all__ = [
    "DEBRIEF_SCHEMA",
    "SCORE_DEFINITION",
    "build_debrief",
    "class_report",
    "load_debriefs",
    "render_class_report",
    "render_debrief",
]

DEBRIEF_SCHEMA = "carechart-train-debrief"
SCORE_DEFINITION = (
    "Adherence = decisions in line with the pathway (recommended or allowed) / all "
    "decisions, in percent. A decision is each action taken and each advance to the next "
    "event. Recommended: the guideline's top recommendation (or advancing when nothing "
    "stronger than 'continue' was due). Allowed: permitted by the guideline though not "
    "ranked first, or a dose other than the guideline's within the safety caps. Deviation: "
    "an action the guideline's rules stand against, a dose above a safety cap, or advancing "
    "while a must or should action was due. Hints do not lower the score; they are counted."
)


def _course(chart: AIHPathway, model: DiseaseModel) -> dict[str, Any]:
    p = chart.patient
    return {
        "events": [
            {
                "day": s.day,
                "kind": s.kind,
                "name": s.name,
                "detail": s.detail,
                "deviation": s.deviation,
                "carried_out": s.carried_out,
                "rules": list(s.rule_ids),
                "transits": [
                    f"{t.source} -> {t.target}" for t in s.transits if t.source != t.target
                ],
            }
            for s in chart.trace
        ],
        "labs": [{"day": panel.day, **panel.values()} for panel in p.labs],
        "outcome": {
            "care_state": chart.care_state,
            "alive": not chart.is_dead,
            "day": p.day,
            "response": p.response,
            "drugs": dict(p.drugs),
            "latent_events": dict(model.history),
            "death_cause": model.death_cause,
        },
        "violations": [
            {"rule_id": v.rule_id, "day": v.day, "message": v.message, "hard": v.hard}
            for v in chart.violations
        ],
    }


def guideline_course(session: Session) -> tuple[AIHPathway, DiseaseModel]:
    """The session's patient under the guideline policy, up to the session's end day."""
    chart, model = new_course(session.case)
    # run_patient needs a positive horizon; a case ended on day 0 compares day 0 alone.
    run_patient(chart, model, horizon_days=max(session.end_day, 1e-9), policy=GuidelinePolicy())
    return chart, model


def build_debrief(session: Session) -> dict[str, Any]:
    """The session's debrief as JSON-ready data (see the module docstring)."""
    decisions = [decision_dict(d) for d in session.decisions]
    counts = Counter(d.klass for d in session.decisions)
    n = len(session.decisions)
    in_line = counts["recommended"] + counts["allowed"]
    ref_chart, ref_model = guideline_course(session)
    return {
        "schema": DEBRIEF_SCHEMA,
        "version": 1,
        "session": session.session_id,
        "trainee": session.trainee,
        "created": session.created,
        "case": session.case.as_dict(),
        "difficulty": session.difficulty,
        "finished": session.finished,
        "end_reason": session.end_reason,
        "end_day": session.end_day,
        "score": {
            "adherence_pct": round(100.0 * in_line / n, 1) if n else None,
            "definition": SCORE_DEFINITION,
            "decisions": n,
            "recommended": counts["recommended"],
            "allowed": counts["allowed"],
            "deviations": counts["deviation"],
            "hints": session.hints,
        },
        "decisions": decisions,
        "deviations": [d for d in decisions if d["klass"] == "deviation"],
        "deviation_groups": _groups([d for d in decisions if d["klass"] == "deviation"]),
        "courses": {
            "trainee": _course(session.chart, session.model),
            "guideline": _course(ref_chart, ref_model),
        },
    }


def _groups(deviations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deviations in a row with the same choice and rules, as one entry (first, last, times).

    Advancing visit after visit without the taper the guideline asks for is one lesson,
    not twenty.
    """
    groups: list[dict[str, Any]] = []
    for d in deviations:
        key = (d["label"], tuple(n["rule_id"] for n in d["notes"]))
        last = groups[-1] if groups else None
        if last is not None and last["key"] == key and last["last_index"] + 1 == d["index"]:
            last.update(last_day=d["day"], times=last["times"] + 1, last_index=d["index"])
            continue
        groups.append(
            {**d, "key": key, "first_day": d["day"], "last_day": d["day"], "times": 1}
            | {"last_index": d["index"]}
        )
    return [{k: v for k, v in g.items() if k not in ("key", "last_index")} for g in groups]


def _templates() -> Any:
    # Optional: jinja2 comes with the 'train' extra; the class report's text and JSON do not
    # need it, only its HTML page.
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = lambda v: "" if v is None else f"{v:g}" if isinstance(v, float) else v
    return env


def _plot(debrief: dict[str, Any]) -> str:
    series: list[Series] = []
    for key, suffix, dashed in (("trainee", " (you)", False), ("guideline", " (guideline)", True)):
        labs = debrief["courses"][key]["labs"]
        for name, label, colour in (("alt_xuln", "ALT", "#c0392b"), ("igg_xuln", "IgG", "#2471a3")):
            pts = tuple((row["day"], row[name]) for row in labs if name in row)
            if pts:
                series.append(Series(label + suffix, colour, pts, dashed))
    marks = [(d["day"], d["label"]) for d in debrief["decisions"] if d["choice"] != "advance"]
    return lab_timeline_svg(
        series, marks=marks, end_day=debrief["end_day"], width=760, title="You vs the guideline"
    )


def render_debrief(debrief: dict[str, Any]) -> str:
    """A self-contained HTML page of a debrief (inline CSS and SVG, no script)."""
    from markupsafe import Markup  # optional: the 'train' extra (with jinja2)

    template = _templates().get_template("debrief.html")
    return str(template.render(d=debrief, plot=Markup(_plot(debrief))))


def load_debriefs(paths: list[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Debrief JSON files (folders: their ``*.json`` debriefs), in path order.

    Raises:
        SessionError: a file that cannot be read or is not a debrief (names the file).
    """
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files.extend(sorted(path.glob("*.json")))
        elif path.exists():
            files.append(path)  # not a regular file: the loader says so
        else:
            raise SessionError(f"{path}: no such file or folder")
    out = []
    for path in files:
        data = read_trainer_json(path, "debrief")
        if not isinstance(data, dict) or data.get("schema") != DEBRIEF_SCHEMA:
            raise SessionError(f"{path}: not a carechart debrief (schema {DEBRIEF_SCHEMA!r})")
        out.append(data)
    return out


def class_report(debriefs: list[dict[str, Any]]) -> dict[str, Any]:
    """Which rules are broken most, by how many trainees, and scores per case."""
    broken: Counter[str] = Counter()
    trainees: defaultdict[str, set[str]] = defaultdict(set)
    by_action: Counter[str] = Counter()
    cases: defaultdict[str, list[float]] = defaultdict(list)
    titles: dict[str, str] = {}
    hints = 0
    for d in debriefs:
        who = d.get("trainee") or d.get("session", "?")
        case = d.get("case", {})
        titles[case.get("id", "?")] = case.get("title", "")
        score = d.get("score", {})
        if score.get("adherence_pct") is not None:
            cases[case.get("id", "?")].append(float(score["adherence_pct"]))
        hints += int(score.get("hints") or 0)
        for dev in d.get("deviations", []):
            by_action[dev.get("choice", "?")] += 1
            for rule in {n["rule_id"] for n in dev.get("notes", [])}:
                broken[rule] += 1
                trainees[rule].add(who)
    rules = [
        {
            "rule_id": rid,
            "times": times,
            "trainees": len(trainees[rid]),
            "summary": rule_note(rid).summary,
            "sources": [s for s, _ in rule_note(rid).sources],
        }
        for rid, times in sorted(broken.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return {
        "schema": "carechart-train-class-report",
        "version": 1,
        "debriefs": len(debriefs),
        "trainees": len({d.get("trainee") or d.get("session") for d in debriefs}),
        "hints": hints,
        "rules": rules,
        "actions": [{"choice": a, "times": n} for a, n in by_action.most_common()],
        "cases": [
            {
                "case": cid,
                "title": titles.get(cid, ""),
                "sessions": len(scores),
                "mean_adherence_pct": round(sum(scores) / len(scores), 1),
            }
            for cid, scores in sorted(cases.items())
        ],
    }


def render_class_report(report: dict[str, Any]) -> str:
    """A self-contained HTML page of a class report."""
    return str(_templates().get_template("report.html").render(r=report))
