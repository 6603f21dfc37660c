"""Tidy cohort outputs: ``patients.csv``, ``events.csv`` and ``summary.json``.

The columns follow shared/spec/cohort-and-outputs.md (the contract other tools read). Rows are
formatted in the process that simulated the patient, so the bytes do not depend on the
worker count. Files are written into a staging folder and moved into place only when all of
them are complete (:class:`OutputWriter`): a failed run leaves the output folder untouched.
``carechart simulate`` writes the rows and events chunk by chunk as they arrive; the summary
comes from running totals (:class:`CohortResult`), so no row per patient is held.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pathway import Pathway, PatientRecord, Step

from ..run.output_folder import (
    OutputPathError,
    StagedFolder,
    check_output_file,
    check_output_folder,
)
from ..version import software_version
from .outcomes import OutcomeTally

if TYPE_CHECKING:
    from ..model.disease import DiseaseModel
    from ..run.cohort import Attributes, RunSettings

__all__ = [
    "EVENT_COLUMNS",
    "GZ",
    "PATIENT_COLUMNS",
    "PATIENT_EXTRA_COLUMNS",
    "ChunkResult",
    "CohortResult",
    "OutputPathError",
    "OutputWriter",
    "PatientResult",
    "check_output_file",
    "check_output_folder",
    "collect_patient",
    "format_number",
    "patients_csv_header",
    "trace_events",
]

#: patients.csv columns of the contract, in order.
PATIENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "age",
    "sex",
    "weight_kg",
    "cirrhosis_at_diagnosis",
    "presentation",
    "tpmt",
    "first_line",
    "first_cbr_day",
    "second_line_day",
    "withdrawal_day",
    "relapse_day",
    "transplant_day",
    "death_day",
    "death_cause",
    "followup_days",
)
#: Further patients.csv columns (after the contract's), for calibration and reports.
PATIENT_EXTRA_COLUMNS: tuple[str, ...] = (
    "third_line_day",
    "referral_day",
    "relapse_after_withdrawal_day",
    "cirrhosis_day",
    "decompensation_day",
    "hcc_day",
    "recurrence_day",
    "graft_failure_day",
    "final_care_state",
    "events",
    "deviations",
    "invariant_violations",
    "azathioprine_start_day",
    "azathioprine_stopped_day",
    "prednisolone_mg",
    "prednisolone_mg_1y",
)
#: events.csv columns of the contract, in order.
EVENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "day",
    "kind",
    "name",
    "detail",
    "source",
    "target",
    "rule_ids",
)

_ANTIMETABOLITE_ACTIONS = {"add_azathioprine": "azathioprine", "add_mycophenolate": "mycophenolate"}
_STEROID_ACTIONS = {"start_prednisolone": "prednisolone", "start_budesonide": "budesonide"}
_AZATHIOPRINE_STARTS = frozenset({"add_azathioprine", "start_azathioprine"})
_FIRST_LINE_STATES = frozenset({"first_line", "acute_severe", "diagnosis", "observation"})


def format_number(value: float | int | None) -> str:
    """CSV cell of a number: empty for ``None``, no trailing ``.0``, at most 3 decimals.

    >>> format_number(182.0), format_number(57.25), format_number(None), format_number(1 / 3)
    ('182', '57.25', '', '0.333')
    """
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


@dataclass(slots=True)
class PatientResult:
    """One simulated patient: the patients.csv row, the events.csv lines and counters.

    ``steps`` counts the chart's steps (findings, timers and actions), the unit of work.
    """

    row: dict[str, Any]
    events_csv: str
    kinds: Counter[str]
    violations: Counter[str]
    steps: int = 0
    chart: Pathway[PatientRecord] | None = None
    model: DiseaseModel | None = None


def _first_transit_into(
    chart: Pathway[PatientRecord], state: str, sources: Iterable[str] = ()
) -> float | None:
    allowed = frozenset(sources)
    for step in chart.trace:
        for t in step.transits:
            if t.target == state and t.source != t.target and (not allowed or t.source in allowed):
                return step.day
    return None


def _first_finding(chart: Pathway[PatientRecord], name: str, after: float = -1.0) -> float | None:
    for step in chart.trace:
        if step.kind == "finding" and step.name == name and step.day > after:
            return step.day
    return None


def _azathioprine_days(chart: Pathway[PatientRecord]) -> tuple[float | None, float | None]:
    """Day azathioprine was first started, and the first day after it that it was stopped
    for intolerance or severe cytopenia (``None`` when not started or never stopped so)."""
    start = next(
        (
            s.day
            for s in chart.trace
            if s.kind == "action" and s.carried_out and s.name in _AZATHIOPRINE_STARTS
        ),
        None,
    )
    if start is None:
        return None, None
    stop = next(
        (
            s.day
            for s in chart.trace
            if s.kind == "finding"
            and s.day >= start
            and (s.name == "cytopenia" or (s.name == "intolerance" and s.detail == "azathioprine"))
        ),
        None,
    )
    return start, stop


def _first_line(chart: Pathway[PatientRecord]) -> str:
    """The first-line regimen: the first steroid, plus an antimetabolite added in first line."""
    steroid = antimetabolite = ""
    for step in chart.trace:
        if step.kind != "action" or not step.carried_out:
            continue
        if not steroid and step.name in _STEROID_ACTIONS:
            steroid = _STEROID_ACTIONS[step.name]
        elif (
            steroid
            and step.name in _ANTIMETABOLITE_ACTIONS
            and _FIRST_LINE_STATES & set(step.configuration)
        ):
            antimetabolite = _ANTIMETABOLITE_ACTIONS[step.name]
            break
        elif steroid and step.name.startswith(("switch_to_", "start_third_line", "reinduce")):
            break
    if not steroid:
        return "none"
    return f"{steroid}+{antimetabolite}" if antimetabolite else steroid


def trace_events(patient_id: str, trace: Iterable[Step]) -> tuple[str, Counter[str]]:
    """A chart trace as events.csv lines (no header), and the count of events by kind.

    A finding or action is one row (``deviation`` when it deviated from the guideline, its
    detail then naming the breaches); every move between two different states is a
    ``transition`` row.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    kinds: Counter[str] = Counter()
    for step in trace:
        day = format_number(step.day)
        if step.kind in ("finding", "action"):
            kind = "deviation" if step.deviation else step.kind
            detail = step.detail
            if step.deviation:
                detail = "; ".join(str(b) for b in step.breaches)
                if not step.carried_out:
                    detail += " (not carried out)"
            row = (patient_id, day, kind, step.name, detail, "", "", ";".join(step.rule_ids))
            writer.writerow(row)
            kinds[kind] += 1
        for t in step.transits:
            if t.source != t.target:
                rules = ";".join(t.rule_ids)
                writer.writerow(
                    (patient_id, day, "transition", t.event, "", t.source, t.target, rules)
                )
                kinds["transition"] += 1
    return buf.getvalue(), kinds


def collect_patient(
    attrs: Attributes,
    chart: Pathway[PatientRecord],
    model: DiseaseModel,
    horizon_days: float,
    *,
    keep: bool = False,
) -> PatientResult:
    """Build one patient's outputs from the finished chart and model."""
    p = chart.patient
    transplant_day = _first_finding(chart, "transplanted")
    # Response of the native liver: a normal graft after transplant is not a response.
    first_cbr = next(
        (
            day
            for day, cls in p.response_history
            if cls == "complete_biochemical_response"
            and (transplant_day is None or day < transplant_day)
        ),
        None,
    )
    death_day = p.death_day
    followup = death_day if death_day is not None else horizon_days
    aza_start, aza_stop = _azathioprine_days(chart)
    # Models without a steroid account (scripted or stand-in models) leave the cells empty.
    exposure = getattr(model, "steroid_exposure", None)
    pred_mg, pred_mg_1y = exposure(followup) if exposure is not None else (None, None)
    deviations = sum(1 for s in chart.trace if s.deviation)
    violations = Counter(v.rule_id for v in chart.violations)
    row: dict[str, Any] = {
        "patient_id": attrs.patient_id,
        "age": attrs.age,
        "sex": attrs.sex,
        "weight_kg": attrs.weight_kg,
        "cirrhosis_at_diagnosis": attrs.cirrhosis,
        "presentation": attrs.presentation,
        "tpmt": attrs.tpmt,
        "first_line": _first_line(chart),
        "first_cbr_day": first_cbr,
        "second_line_day": _first_transit_into(chart, "second_line"),
        "withdrawal_day": _first_transit_into(chart, "withdrawal"),
        "relapse_day": _first_transit_into(chart, "relapse"),
        "transplant_day": transplant_day,
        "death_day": death_day,
        "death_cause": model.death_cause or "" if death_day is not None else "",
        "followup_days": death_day if death_day is not None else horizon_days,
        "third_line_day": _first_transit_into(chart, "third_line"),
        "referral_day": _first_transit_into(chart, "transplant"),
        "relapse_after_withdrawal_day": _first_transit_into(
            chart, "relapse", ("withdrawal", "off_treatment")
        ),
        "cirrhosis_day": _first_finding(chart, "cirrhosis_diagnosed", after=0.0),
        "decompensation_day": _first_finding(chart, "decompensation"),
        "hcc_day": _first_finding(chart, "hcc"),
        "recurrence_day": _first_transit_into(chart, "recurrent_aih"),
        "graft_failure_day": _first_finding(chart, "graft_failure"),
        "final_care_state": chart.care_state,
        "events": 0,
        "deviations": deviations,
        "invariant_violations": sum(violations.values()),
        "azathioprine_start_day": aza_start,
        "azathioprine_stopped_day": aza_stop,
        "prednisolone_mg": None if pred_mg is None else round(pred_mg),
        "prednisolone_mg_1y": None if pred_mg_1y is None else round(pred_mg_1y),
    }
    events_csv, kinds = trace_events(attrs.patient_id, chart.trace)
    row["events"] = sum(kinds.values())
    return PatientResult(
        row=row,
        events_csv=events_csv,
        kinds=kinds,
        violations=violations,
        steps=len(chart.trace),
        chart=chart if keep else None,
        model=model if keep else None,
    )


@dataclass(slots=True)
class ChunkResult:
    """The results of a run of consecutive patients (what a worker sends back)."""

    patients: list[PatientResult]

    @classmethod
    def of(cls, patients: Sequence[PatientResult]) -> ChunkResult:
        """Wrap a list of patient results."""
        return cls(list(patients))

    @property
    def events_csv(self) -> str:
        """The chunk's events.csv lines, in patient order."""
        return "".join(p.events_csv for p in self.patients)

    @property
    def patients_csv(self) -> str:
        """The chunk's patients.csv lines (no header), in patient order."""
        return _patient_lines(self.patients)

    def without_events(self) -> ChunkResult:
        """The same chunk without the events text (already written elsewhere)."""
        for p in self.patients:
            p.events_csv = ""
        return self


def patients_csv_header() -> str:
    """The header line of patients.csv."""
    return ",".join((*PATIENT_COLUMNS, *PATIENT_EXTRA_COLUMNS)) + "\n"


def _patient_lines(patients: Iterable[PatientResult]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = (*PATIENT_COLUMNS, *PATIENT_EXTRA_COLUMNS)
    for p in patients:
        writer.writerow(_cell(p.row[c]) for c in columns)
    return buf.getvalue()


class CohortResult:
    """A whole run: its settings and running totals, and every patient's result if kept.

    Chunks are added in patient order (:meth:`add`). The totals behind :meth:`counts`,
    :meth:`violations` and :meth:`summary` are kept as they arrive, in memory of the
    distinct event days and groups (:class:`~simulation.results.outcomes.OutcomeTally`), so a run
    that streams its rows to files elsewhere (``keep=False``) holds nothing per patient.
    With ``keep=True`` (the default) each patient's result is kept too, for :attr:`rows`,
    :meth:`patients_csv` and :meth:`events_csv`.
    """

    __slots__ = ("_care_states", "_kept", "_kinds", "_outcomes", "_violations", "settings", "steps")

    def __init__(self, settings: RunSettings, *, keep: bool = True) -> None:
        self.settings = settings
        self._kept: list[PatientResult] | None = [] if keep else None
        self._outcomes = OutcomeTally()
        self._kinds: Counter[str] = Counter()
        self._violations: Counter[str] = Counter()
        self._care_states: Counter[Any] = Counter()
        #: Chart steps of all patients (the unit of work).
        self.steps = 0

    @property
    def keep(self) -> bool:
        """Whether every patient's result is kept."""
        return self._kept is not None

    def add(self, chunk: ChunkResult) -> None:
        """Count a chunk (chunks arrive in patient order) and keep it when asked to."""
        for p in chunk.patients:
            self._outcomes.add(p.row)
            self._kinds.update(p.kinds)
            self._violations.update(p.violations)
            self._care_states[p.row["final_care_state"]] += 1
            self.steps += p.steps
        if self._kept is not None:
            self._kept.extend(chunk.patients)

    @property
    def patients(self) -> list[PatientResult]:
        """Every patient's result, in patient order.

        Raises:
            ValueError: The result was made with ``keep=False``.
        """
        if self._kept is None:
            raise ValueError(
                "the patients' results were not kept (run_cohort(..., keep_patients=True) "
                "keeps them)"
            )
        return self._kept

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The patients.csv rows as typed dicts."""
        return [p.row for p in self.patients]

    def patients_csv(self) -> str:
        """The whole patients.csv text."""
        return patients_csv_header() + _patient_lines(self.patients)

    def events_csv(self) -> str:
        """The whole events.csv text (empty body when events were streamed out)."""
        return ",".join(EVENT_COLUMNS) + "\n" + "".join(p.events_csv for p in self.patients)

    def counts(self) -> dict[str, Any]:
        """Patients, events by kind, deaths, transplants, deviations."""
        kinds, outcomes = self._kinds, self._outcomes
        return {
            "patients": outcomes.patients,
            "events": sum(kinds.values()),
            "events_by_kind": {
                k: kinds.get(k, 0) for k in ("finding", "action", "transition", "deviation")
            },
            "deviations": outcomes.deviations,
            "deaths": outcomes.counts["died"],
            "transplants": outcomes.counts["transplanted"],
            "final_care_state": dict(sorted(self._care_states.items())),
        }

    def violations(self) -> Counter[str]:
        """Invariant violations by rule id."""
        return Counter(self._violations)

    def summary(self, overrides: Sequence[str] = ()) -> dict[str, Any]:
        """summary.json content: parameters (seed, version), counts, violations, outcomes."""
        s = self.settings
        violations = self.violations()
        return {
            "version": software_version(),
            "command": "simulate",
            "seed": s.seed,
            "policy": s.policy,
            "patients": s.cohort.patients,
            "years": s.cohort.years,
            "horizon_days": s.horizon_days,
            "cohort_file": s.cohort.origin,
            "parameters_file": s.parameters.origin,
            "overrides": list(overrides),
            "cohort": s.cohort.describe(),
            "parameters": s.parameters.as_dict(),
            "thresholds": {
                name: getattr(s.thresholds, name) for name in s.thresholds.__dataclass_fields__
            },
            "counts": self.counts(),
            "invariant_violations": sum(violations.values()),
            "invariant_violations_by_rule": dict(sorted(violations.items())),
            "outcomes": self._outcomes.outcomes(s.horizon_days),
        }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return format_number(value)
    return str(value)


#: Suffix of a compressed output file (``carechart simulate --compress``); the readers of
#: :mod:`simulation.results.cohort_outputs` take ``NAME`` or ``NAME`` + GZ.
GZ = ".gz"


class OutputWriter(StagedFolder):
    """The output folder of a cohort run (see :class:`~simulation.run.output_folder.StagedFolder`:
    staged beside ``out_dir``, published all or nothing, never over a folder carechart did
    not write unless ``force``)."""

    def __init__(self, out_dir: Path, *, force: bool = False, command: str = "simulate") -> None:
        super().__init__(out_dir, command=command, force=force)

    def __enter__(self) -> OutputWriter:
        return self

    def open_text(self, name: str, *, compress: bool = False) -> TextIO:
        """Open ``name`` in the staging folder for writing UTF-8 text.

        With ``compress``, the file is ``name.gz``, gzip-compressed (level 6) with no time
        stamp in its header, so the same text gives the same bytes.
        """
        if not compress:
            return self.path(name).open("w", encoding="utf-8", newline="")
        packed = gzip.GzipFile(self.path(name + GZ), "wb", compresslevel=6, mtime=0)
        return io.TextIOWrapper(packed, encoding="utf-8", newline="")


def summary_json(summary: dict[str, Any]) -> str:
    """summary.json text: indented, keys in insertion order, floats rounded to 6 digits."""
    return json.dumps(_round(summary), indent=2, ensure_ascii=False) + "\n"


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    return value
