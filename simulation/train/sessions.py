"""A training session: a trainee manages one virtual patient, moment by moment.

The course unfolds as in a cohort run (:func:`simulation.run.engine.patient_journey`): the
patient model (:class:`simulation.model.disease.DiseaseModel`) makes findings happen, the
pathway's timers bring visits with labs, and after each of them comes a *moment* where
the clinician acts. Here the clinician is the trainee: at each moment they take actions
(with doses) and then advance to the next event. A trainee who always does what the
guideline policy does gets exactly the guideline's course (same random draws).

Every decision is classed against the pathway:

- ``recommended``: the guideline's top recommendation (or, when advancing, nothing stronger
  than "continue" was due);
- ``allowed``: the guideline allows it, though it ranks another action first, or a dose
  other than the guideline's that stays within the safety caps;
- ``deviation``: an action the guideline's rules stand against (the rules are named), a
  dose above a safety cap, or advancing while a *must* or *should* action is due.

A session is saved as JSON: the case, the trainee's operations in order and a pathway
snapshot (:func:`pathway.snapshot`). Loading replays the operations on the same seeded
patient and checks that the result matches the snapshot, so a session resumes after a
server restart exactly where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pathway import RULES, AIHPathway, Recommendation, Step, snapshot
from pathway.atomic import write_atomic
from pathway.guidelines.aih.invariants import INVARIANTS
from pathway.guidelines.aih.sources import SOURCES
from pathway.guidelines.aih.vocabulary import ACTIONS

from ..input_files import InputFileError, parse_json, read_input_file
from ..model.disease import DiseaseModel, ModelConstants
from ..model.parameters import load_parameters
from ..run.engine import DayRules
from .cases import Case, case_from_dict

__all__ = [
    "ACTION_LABELS",
    "DIFFICULTIES",
    "Advice",
    "Decision",
    "Moment",
    "RuleNote",
    "Session",
    "SessionError",
    "SessionStore",
    "rule_note",
]

Klass = Literal["recommended", "allowed", "deviation"]
SCHEMA = "carechart-train-session"
SCHEMA_VERSION = 1

DIFFICULTIES: dict[str, str] = {
    "guided": "the guideline's recommendation is shown at every moment (hints on)",
    "standard": "the recommendation stays hidden until you act; ask for a hint when stuck "
    "(hints are counted in the debrief)",
    "exam": "no hints, and the feedback on each decision waits for the debrief",
}
"""Difficulty levels, with what each means for the trainee."""

ACTION_LABELS: dict[str, str] = {
    "start_prednisolone": "Start predniso(lo)ne",
    "start_budesonide": "Start budesonide",
    "add_azathioprine": "Add azathioprine",
    "add_mycophenolate": "Add mycophenolate",
    "taper_steroid": "Taper the steroid (one step)",
    "stop_steroid": "Stop the steroid",
    "switch_to_mycophenolate": "Switch to mycophenolate",
    "switch_to_tacrolimus": "Switch to tacrolimus",
    "start_third_line": "Start third-line treatment",
    "attempt_withdrawal": "Attempt treatment withdrawal",
    "reinduce": "Re-induce (steroid and antimetabolite)",
    "optimise_treatment": "Check adherence and optimise the doses",
    "refer_transplant": "Refer for liver transplantation",
    "observe_untreated": "Observe without treatment",
    "continue": "Continue unchanged",
}
"""Plain words for each clinician action of the vocabulary."""

#: The drug whose dose the trainee may set with an action (taper: the current steroid).
_DOSED: dict[str, str] = {
    "start_prednisolone": "prednisolone",
    "reinduce": "prednisolone",
    "start_budesonide": "budesonide",
    "add_azathioprine": "azathioprine",
    "add_mycophenolate": "mycophenolate",
    "switch_to_mycophenolate": "mycophenolate",
    "switch_to_tacrolimus": "tacrolimus",
}
#: The dose rule behind each drug's guideline dose.
_DOSE_RULES: dict[str, str] = {
    "prednisolone": "AIH-DOSE-PRED",
    "budesonide": "AIH-DOSE-BUD",
    "azathioprine": "AIH-DOSE-AZA",
    "mycophenolate": "AIH-DOSE-MMF",
    "tacrolimus": "AIH-DOSE-TAC",
}
#: The hard dose caps (safety invariants) a trainee's dose is checked against.
_DOSE_INVARIANTS = ("INV-03", "INV-04", "INV-06")
#: Doses are typed by hand: anything above this (mg/day) is a typing error, not a choice.
_MAX_TYPED_DOSE_MG = 5000.0
_ID = re.compile(r"[0-9a-f]{16}")


class SessionError(ValueError):
    """A request the session cannot carry out (one line saying what and why)."""


@dataclass(frozen=True, slots=True)
class RuleNote:
    """A guideline rule in plain words: summary, sources (id, title), tag, what was found."""

    rule_id: str
    summary: str
    sources: tuple[tuple[str, str], ...]
    tag: str
    message: str = ""


def rule_note(rule_id: str, message: str = "") -> RuleNote:
    """The catalogue's summary and sources of ``rule_id`` (unknown ids keep the id alone)."""
    rule = RULES.get(rule_id)
    if rule is None:
        return RuleNote(rule_id, "", (), "", message)
    sources = tuple((s, SOURCES.get(s, "")) for s in rule.sources)
    return RuleNote(rule_id, rule.summary, sources, rule.tag, message)


@dataclass(frozen=True, slots=True)
class Advice:
    """The guideline's recommendation at a moment: action, strength, doses (mg/day), rules."""

    action: str
    strength: str
    doses: dict[str, float | None]
    notes: tuple[RuleNote, ...]

    @property
    def text(self) -> str:
        """``Start predniso(lo)ne (must): prednisolone 30 mg/day``."""
        doses = ", ".join(f"{d} {v:g} mg/day" for d, v in self.doses.items() if v is not None)
        label = ACTION_LABELS.get(self.action, self.action)
        return f"{label} ({self.strength})" + (f": {doses}" if doses else "")


def _advice(rec: Recommendation | None) -> Advice | None:
    if rec is None:
        return None
    return Advice(rec.action, rec.strength, dict(rec.doses), tuple(map(rule_note, rec.rule_ids)))


@dataclass(frozen=True, slots=True)
class Decision:
    """One classed decision of the trainee.

    Attributes:
        index: 0-based position among the session's decisions.
        moment: the moment it was taken at; ``day`` its day (days from diagnosis).
        choice: an action id, or ``advance`` (go on to the next event).
        drug, dose: the dose the trainee set (mg/day), when they set one.
        klass: ``recommended``, ``allowed`` or ``deviation``.
        notes: the rules behind the class (broken rules for a deviation).
        guideline: the guideline's own recommendation at that point.
        hinted: a hint was asked for at this moment before the decision.
        carried_out: false for a deviation not physically possible in the state.
        care_state: the care state when deciding.
        comment: the trainee's free-text reason (may be empty).
    """

    index: int
    moment: int
    day: float
    choice: str
    klass: Klass
    notes: tuple[RuleNote, ...]
    guideline: Advice | None
    care_state: str
    drug: str | None = None
    dose: float | None = None
    hinted: bool = False
    carried_out: bool = True
    comment: str = ""

    @property
    def label(self) -> str:
        """The choice in plain words, with the dose."""
        if self.choice == "advance":
            return "Advance to the next event"
        text = ACTION_LABELS.get(self.choice, self.choice)
        if self.dose is not None:
            text += f" ({self.drug} {self.dose:g} mg/day)"
        return text


@dataclass(frozen=True, slots=True)
class Moment:
    """A point where the trainee decides: its day and what happened since the last one."""

    index: int
    day: float
    steps: tuple[Step, ...]
    final: bool = False


def _journey(chart: AIHPathway, model: DiseaseModel, horizon_days: float) -> Iterator[float]:
    """The engine's course (:func:`simulation.run.engine.patient_journey`), pausing at moments.

    Yields the day of each moment where a policy would act; returns when the patient has
    died or the next event is after ``horizon_days``.
    """
    for kind, day in DayRules(chart, model.scripts_actions_on).course(model, horizon_days):
        if kind == "decide":
            yield day


_CONSTANTS: list[ModelConstants] = []


def model_constants() -> ModelConstants:
    """The patient model's constants from the shipped parameters (read once)."""
    if not _CONSTANTS:
        _CONSTANTS.append(ModelConstants.from_parameters(load_parameters()))
    return _CONSTANTS[0]


def new_course(case: Case) -> tuple[AIHPathway, DiseaseModel]:
    """The case's chart and patient model at diagnosis (same seed, same patient)."""
    record = case.record()
    chart = AIHPathway(record, strict_invariants=False)
    rng = np.random.default_rng(case.seed)
    return chart, DiseaseModel(record, model_constants(), rng, tpmt=case.true_tpmt)


@dataclass
class Session:
    """One trainee on one case (see the module docstring).

    Args:
        case: the case.
        difficulty: a key of :data:`DIFFICULTIES`.
        trainee: the trainee's name as typed (free text, shown escaped).
        session_id: 16 hex digits (a new random id when empty).
    """

    case: Case
    difficulty: str = "standard"
    trainee: str = ""
    session_id: str = ""
    created: str = ""
    log: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)
    hints: int = 0
    finished: bool = False
    end_reason: str = ""

    def __post_init__(self) -> None:
        if self.difficulty not in DIFFICULTIES:
            raise SessionError(
                f"difficulty: found {self.difficulty!r}, expected one of {list(DIFFICULTIES)}"
            )
        self.session_id = self.session_id or secrets.token_hex(8)
        if not _ID.fullmatch(self.session_id):
            raise SessionError(f"session id: found {self.session_id!r}, expected 16 hex digits")
        self.trainee = " ".join(self.trainee.split())[:80]
        self.created = self.created or datetime.now(UTC).isoformat(timespec="seconds")
        self.chart, self.model = new_course(self.case)
        self._journey = _journey(self.chart, self.model, self.case.horizon_days)
        self._seen = 0
        self._hinted_here = False
        self._next_moment()

    # --- where we are -----------------------------------------------------------------------

    @property
    def moment(self) -> Moment:
        """The current moment (the last one once the case is over)."""
        return self.moments[-1]

    @property
    def day(self) -> float:
        """The current moment's day (days from diagnosis)."""
        return self.moment.day

    @property
    def hints_shown(self) -> bool:
        """The guideline's recommendation is visible before acting (guided, or a hint now)."""
        return self.difficulty == "guided" or self._hinted_here

    def advice(self) -> Advice | None:
        """The guideline's top recommendation now (what a hint shows)."""
        return None if self.finished else _advice(self.chart.top_recommendation())

    def possible_actions(self) -> list[str]:
        """Actions the chart could carry out in this state, deviations included."""
        possible = self.chart.allowed_event_ids()
        return [a for a in ACTIONS if a != "continue" and a in possible]

    def _next_moment(self) -> None:
        day = next(self._journey, None)
        steps = tuple(self.chart.trace[self._seen :])
        self._seen = len(self.chart.trace)
        self._hinted_here = False
        if day is None:
            self.finished = True
            self.end_reason = self.end_reason or ("death" if self.chart.is_dead else "horizon")
            last = self.moments[-1].day if self.moments else 0.0
            end = self.chart.day if self.chart.is_dead else self.case.horizon_days
            self.moments.append(Moment(len(self.moments), max(last, end), steps, final=True))
            return
        self.moments.append(Moment(len(self.moments), day, steps))

    # --- what the trainee does ----------------------------------------------------------------

    def _require_open(self) -> None:
        if self.finished:
            raise SessionError(f"the case is over ({self.end_reason}); open the debrief")

    def _decide(self, choice: str, klass: Klass, notes: list[RuleNote], **kw: Any) -> Decision:
        decision = Decision(
            index=len(self.decisions),
            moment=self.moment.index,
            day=self.day,
            choice=choice,
            klass=klass,
            notes=tuple(notes),
            guideline=kw.pop("guideline"),
            care_state=kw.pop("care_state", self.chart.care_state),
            hinted=self._hinted_here,
            **kw,
        )
        self.decisions.append(decision)
        return decision

    def hint(self) -> Advice | None:
        """The guideline's recommendation now; counted in standard mode, refused in exam."""
        self._require_open()
        if self.difficulty == "exam":
            raise SessionError("no hints in exam mode")
        self.log.append({"op": "hint"})
        if self.difficulty == "standard" and not self._hinted_here:
            self.hints += 1
        self._hinted_here = True
        return self.advice()

    def take(self, action: str, dose: float | None = None, comment: str = "") -> Decision:
        """Take ``action`` now, with the trainee's ``dose`` (mg/day) of its drug if given.

        Raises:
            SessionError: the case is over, an unknown action or an impossible dose.
        """
        self._require_open()
        if action not in ACTIONS or action == "continue":
            choices = [a for a in ACTIONS if a != "continue"]
            raise SessionError(f"action: found {action!r}, expected one of {choices}")
        drug = self.chart.patient.steroid if action == "taper_steroid" else _DOSED.get(action)
        if dose is not None:
            if drug is None:
                raise SessionError(f"dose: {ACTION_LABELS[action]!r} takes no dose")
            if not (math.isfinite(dose) and 0 < dose <= _MAX_TYPED_DOSE_MG):
                raise SessionError(
                    f"dose: found {dose:g}, expected mg/day above 0 and up to "
                    f"{_MAX_TYPED_DOSE_MG:g}"
                )
        comment = " ".join(comment.split())[:500]
        self.log.append({"op": "take", "action": action, "dose": dose, "comment": comment})
        chart = self.chart
        care = chart.care_state
        recs = chart.recommendations()
        top = recs[0] if recs else None
        breaches = chart.explain(action)
        klass: Klass
        if breaches:
            klass, notes = "deviation", [rule_note(b.rule_id, b.message) for b in breaches]
        else:
            rec = next((r for r in recs if r.action == action), None)
            notes = [rule_note(r) for r in (rec.rule_ids if rec else ())]
            if top is not None and top.action == action:
                klass = "recommended"
            else:
                klass = "allowed"
                if top is not None:
                    first = f"{ACTION_LABELS[top.action]} ({top.strength})"
                    notes.append(rule_note(top.rule_ids[0], f"the guideline ranks first: {first}"))
        step = chart.take(action, day=self.day, deviate=True)
        self._seen = len(chart.trace)
        if dose is not None and step.carried_out and drug in chart.patient.drugs:
            given = chart.patient.drugs[drug]
            if given is None or abs(given - dose) > 1e-9:
                chart.patient.drugs[drug] = dose
                broken = [
                    rule_note(rid, msg)
                    for rid in _DOSE_INVARIANTS
                    if (msg := INVARIANTS[rid](chart.patient, chart.thresholds, chart.active, step))
                ]
                rule = _DOSE_RULES.get(drug, "AIH-TAP-01")
                guideline_dose = f"{given:g} mg/day" if given is not None else "no daily dose"
                dose_note = rule_note(rule, f"the guideline's dose here is {guideline_dose}")
                if broken:
                    klass, notes = "deviation", [*notes, *broken, dose_note]
                else:
                    klass = "allowed" if klass == "recommended" else klass
                    notes.append(dose_note)
        return self._decide(
            action,
            klass,
            notes,
            guideline=_advice(top),
            care_state=care,
            drug=drug if dose is not None else None,
            dose=dose,
            carried_out=step.carried_out,
            comment=comment,
        )

    def advance(self) -> Decision:
        """Go on to the next event; a deviation while a must or should action is due."""
        self._require_open()
        self.log.append({"op": "advance"})
        top = self.chart.top_recommendation()
        due = top is not None and top.action != "continue" and top.strength != "may"
        if top is not None and due:
            label = ACTION_LABELS[top.action]
            notes = [
                rule_note(r, f"the guideline {top.strength} '{label}' now, and nothing was done")
                for r in top.rule_ids
            ]
            notes += self._unscheduled_notes()
            decision = self._decide("advance", "deviation", notes, guideline=_advice(top))
        else:
            notes = [rule_note(r) for r in (top.rule_ids if top is not None else ())]
            notes += self._unscheduled_notes()
            decision = self._decide("advance", "recommended", notes, guideline=_advice(top))
        self._next_moment()
        return decision

    def _unscheduled_notes(self) -> list[RuleNote]:
        """Why advancing at diagnosis may jump far: no visit is due until care is decided.

        Untreated follow-up is the pathway's ``observation`` state (ALT and IgG every 3-6
        months, G-EASL15 [V-sec]); a patient left in ``diagnosis`` has no timer, so the case
        goes on to the patient model's next event, possibly past the case's end.
        """
        chart = self.chart
        if "diagnosis" not in chart.active or any(t.labs for t in chart.pending_timers()):
            return []
        every = chart.thresholds.observation_visit_days
        return [
            rule_note(
                "AIH-TRI-04",
                "no visit is scheduled while the patient is neither treated nor under "
                "observation: the case goes on to the patient's next event, or to its end "
                f"(day {self.case.horizon_days:g}); 'Observe without treatment' schedules "
                f"ALT and IgG every {every:g} days",
            )
        ]

    def finish(self) -> None:
        """End the case now (the debrief compares the courses up to today)."""
        self._require_open()
        self.log.append({"op": "finish"})
        self.finished = True
        self.end_reason = "ended by the trainee"
        self.moments[-1] = Moment(self.moment.index, self.day, self.moment.steps, final=True)

    @property
    def end_day(self) -> float:
        """The day the debrief compares up to: today while the case runs or when the trainee
        ended it, else the case horizon (also after a death: the guideline's patient may live)."""
        if not self.finished or self.end_reason == "ended by the trainee":
            return self.day
        return self.case.horizon_days

    # --- saving and resuming --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready session: case, difficulty, trainee, operations and a pathway snapshot."""
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "id": self.session_id,
            "created": self.created,
            "case": self.case.as_dict(),
            "difficulty": self.difficulty,
            "trainee": self.trainee,
            "log": list(self.log),
            "snapshot": _jsonable(snapshot(self.chart)),
            # For listings only (the replay recomputes them): no replay to list sessions.
            "day": self.day,
            "finished": self.finished,
        }

    @classmethod
    def from_dict(cls, data: Any, origin: str = "session") -> Session:
        """Replay a saved session and check it against its snapshot.

        Raises:
            SessionError: not a session file, a newer version, a bad case or operation,
                or a replay that does not reach the saved state.
        """
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise SessionError(f"{origin}: not a carechart training session (schema {SCHEMA!r})")
        if data.get("version") != SCHEMA_VERSION:
            raise SessionError(
                f"{origin}: version: found {data.get('version')!r}, expected {SCHEMA_VERSION}"
            )
        case_data = dict(data.get("case") or {})
        case_id, case_origin = str(case_data.pop("id", "")), str(case_data.pop("origin", ""))
        fields = {"title", "summary", "seed", "horizon_days", "true_tpmt"}
        patient = {k: v for k, v in case_data.items() if k not in fields}
        raw = {k: v for k, v in case_data.items() if k in fields} | {"patient": patient}
        try:
            case = case_from_dict(raw, case_id, f"{origin}: case")
        except ValueError as exc:
            raise SessionError(str(exc)) from None
        case = Case(**{**case.as_dict(), "origin": case_origin})
        session = cls(
            case,
            str(data.get("difficulty", "")),
            str(data.get("trainee", "")),
            str(data.get("id", "")),
            str(data.get("created", "")),
        )
        for i, op in enumerate(data.get("log") or []):
            session._replay(op, f"{origin}: log[{i}]")
        if _jsonable(snapshot(session.chart)) != data.get("snapshot"):
            raise SessionError(
                f"{origin}: the saved operations do not lead to the saved pathway snapshot "
                "(edited file, or written by another carechart version)"
            )
        return session

    def _replay(self, op: Any, where: str) -> None:
        kind = op.get("op") if isinstance(op, dict) else None
        try:
            if kind == "take":
                dose = op.get("dose")
                self.take(str(op.get("action")), None if dose is None else float(dose),
                          str(op.get("comment", "")))  # fmt: skip
            elif kind in ("hint", "advance", "finish"):
                getattr(self, kind)()
            else:
                raise SessionError(f"found {op!r}, expected an operation take/hint/advance/finish")
        except (SessionError, TypeError, ValueError) as exc:
            raise SessionError(f"{where}: {exc}") from None


#: Largest session or debrief file read (bytes): a long case's trace is a few hundred KB.
MAX_TRAINER_FILE_BYTES = 16 * 1024 * 1024


def read_trainer_json(path: Path, kind: str) -> Any:
    """A session or debrief file through the hardened loader (regular file, size, depth).

    Raises:
        SessionError: one line naming the file: missing, not a regular file (a named pipe
            would block), too large, not UTF-8, not JSON or nested too deep.
    """
    try:
        return parse_json(read_input_file(path, max_bytes=MAX_TRAINER_FILE_BYTES), str(path))
    except InputFileError as exc:
        raise SessionError(str(exc)) from None
    except OSError as exc:
        raise SessionError(f"{path}: cannot read the {kind} ({exc.strerror or exc})") from None


def _jsonable(data: Any) -> Any:
    """``data`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(data))


class SessionStore:
    """Sessions saved as ``FOLDER/<id>.json``, debriefs as ``FOLDER/debriefs/<id>.json``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def path(self, session_id: str) -> Path:
        """The session's file (refuses anything but 16 hex digits: no path tricks)."""
        if not _ID.fullmatch(session_id):
            raise SessionError(f"session id: found {session_id!r}, expected 16 hex digits")
        return self.folder / f"{session_id}.json"

    def save(self, session: Session) -> Path:
        """Write the session (whole or not at all)."""
        path = self.path(session.session_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(session.to_dict(), indent=1, sort_keys=True))
        return path

    def load(self, session_id: str) -> Session:
        """Resume a saved session (replayed; see :meth:`Session.from_dict`).

        Raises:
            KeyError: no such session.
            SessionError: the file is not a valid session.
        """
        path = self.path(session_id)
        if not path.is_file():
            raise KeyError(session_id)
        return Session.from_dict(read_trainer_json(path, "session"), str(path))

    def summaries(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest sessions' id, trainee, case title, difficulty, day, state (no replay)."""
        out = []
        for session_id in self.ids()[:limit]:
            try:
                data = read_trainer_json(self.path(session_id), "session")
                case = data["case"]
                out.append(
                    {
                        "id": session_id,
                        "trainee": str(data.get("trainee", "")),
                        "case": str(case.get("title", case.get("id", ""))),
                        "difficulty": str(data.get("difficulty", "")),
                        "created": str(data.get("created", "")),
                        "day": float(data.get("day", 0.0)),
                        "finished": bool(data.get("finished", False)),
                    }
                )
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # listed only when readable; opening it reports what is wrong
        return out

    def ids(self) -> list[str]:
        """Saved session ids, newest file first."""
        if not self.folder.is_dir():
            return []
        files = [p for p in self.folder.glob("*.json") if _ID.fullmatch(p.stem)]
        return [p.stem for p in sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)]


def decision_dict(d: Decision) -> dict[str, Any]:
    """A decision as JSON-ready data."""
    out = asdict(d)
    out["label"] = d.label
    return out
