"""Everything the report shows of a cohort, counted one patient (and its events) at a time.

:class:`ReportTally` is a fold: each patient of patients.csv is added with its rows of
events.csv, and only running counts are kept (group tallies for the tables, Kaplan-Meier
tallies for the curves, care-state occupancy on a fixed grid, flows between care states,
how often each chart transition fired). :func:`tally_folder` feeds it from an output folder
read as a stream, so memory does not grow with the events; :func:`tally_outputs` from
outputs already in memory. Both give the same tally, so the report is the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..cohort_outputs import (
    CohortOutputs,
    EventRow,
    PatientRow,
    iter_outputs,
    iter_patients,
    output_file,
)
from ..endpoints import (
    Duration,
    cbr_duration,
    relapse_after_withdrawal_duration,
    survival_duration,
    transplant_free_duration,
)
from ..survival import KaplanMeierTally
from ..trajectories import FlowTally, OccupancyTally, care_course
from .tables import FirstLineGroups

__all__ = [
    "OCCUPANCY_STEPS",
    "OCCUPANCY_YEARS",
    "ReportTally",
    "count_fired",
    "report_horizon",
    "tally_folder",
    "tally_outputs",
]

DAYS_PER_YEAR = 365.25
#: Intervals of the occupancy figure's grid, from diagnosis to the horizon.
OCCUPANCY_STEPS = 240
#: Years at which the occupancy table gives the share in each care state.
OCCUPANCY_YEARS: tuple[float, ...] = (0.25, 0.5, 1, 2, 5, 10)

#: (source, event, target) of a chart transition; target ``""`` for one that stays.
Fired = tuple[str, str, str]


def report_horizon(followup_days: Iterable[float]) -> float:
    """The right end of the report's time axes: the longest follow-up (one year if none)."""
    return max(followup_days, default=0.0) or DAYS_PER_YEAR


def count_fired(fired: Counter[Fired], events: Iterable[EventRow]) -> None:
    """Count the transition rows of ``events`` by (source, event, target or ``""``)."""
    for e in events:
        if e.kind == "transition":
            fired[(e.source, e.name, "" if e.target == e.source else e.target)] += 1


def _add(tally: KaplanMeierTally, duration: Duration | None) -> None:
    if duration is not None:
        tally.add(*duration)


class ReportTally:
    """The report's aggregates, fed one patient and its events at a time (:meth:`add`).

    Memory holds counts only: distinct values and event days, groups, care states, the
    occupancy grids and the chart's transitions; nothing per patient or per event.

    Attributes:
        horizon: Right end of the time axes (days), fixed up front for the occupancy grid.
        patients: Patients added.
        groups: Baseline and outcome tallies of the cohort and each first-line regimen.
        cbr: Time to complete response by first-line regimen (``None``: all patients).
        relapse: Relapse after withdrawal, from the start of withdrawal.
        transplant_free: Transplant-free survival.
        survival_by_stage: Overall survival by cirrhosis at diagnosis.
        occupancy: Care states on :data:`OCCUPANCY_STEPS` intervals up to the horizon.
        occupancy_years: Care states at :data:`OCCUPANCY_YEARS` within the horizon.
        flows: Moves between care states.
        fired: How often each chart transition fired (see :func:`count_fired`).
    """

    __slots__ = (
        "cbr",
        "fired",
        "flows",
        "groups",
        "horizon",
        "occupancy",
        "occupancy_years",
        "patients",
        "relapse",
        "survival_by_stage",
        "transplant_free",
    )

    def __init__(self, horizon: float) -> None:
        self.horizon = horizon
        self.patients = 0
        self.groups = FirstLineGroups()
        self.cbr: dict[str | None, KaplanMeierTally] = {None: KaplanMeierTally()}
        self.relapse = KaplanMeierTally()
        self.transplant_free = KaplanMeierTally()
        self.survival_by_stage: dict[str, KaplanMeierTally] = {}
        self.occupancy = OccupancyTally(
            [horizon * i / OCCUPANCY_STEPS for i in range(OCCUPANCY_STEPS + 1)]
        )
        self.occupancy_years = OccupancyTally(
            [y * DAYS_PER_YEAR for y in OCCUPANCY_YEARS if y * DAYS_PER_YEAR <= horizon + 1e-9]
        )
        self.flows = FlowTally()
        self.fired: Counter[Fired] = Counter()

    def add(self, patient: PatientRow, events: Sequence[EventRow]) -> None:
        """Count one patient with its rows of events.csv (in time order)."""
        self.patients += 1
        self.groups.add(patient)
        cbr = cbr_duration(patient)
        _add(self.cbr[None], cbr)
        regimen = self.cbr.get(patient.first_line)
        if regimen is None:
            regimen = self.cbr[patient.first_line] = KaplanMeierTally()
        _add(regimen, cbr)
        _add(self.relapse, relapse_after_withdrawal_duration(patient, events))
        _add(self.transplant_free, transplant_free_duration(patient))
        stage = self.survival_by_stage.get(patient.cirrhosis_at_diagnosis)
        if stage is None:
            stage = self.survival_by_stage[patient.cirrhosis_at_diagnosis] = KaplanMeierTally()
        _add(stage, survival_duration(patient))
        course = care_course(patient, events)
        self.occupancy.add(course)
        self.occupancy_years.add(course)
        self.flows.add(course)
        count_fired(self.fired, events)


def _fold(horizon: float, patients: Iterable[tuple[PatientRow, Sequence[EventRow]]]) -> ReportTally:
    tally = ReportTally(horizon)
    for patient, events in patients:
        tally.add(patient, events)
    return tally


def tally_outputs(outputs: CohortOutputs) -> ReportTally:
    """The report's aggregates of outputs held in memory (:func:`load_outputs`)."""
    by_patient = outputs.events_by_patient()
    return _fold(
        report_horizon(p.followup_days for p in outputs.patients),
        ((p, by_patient[p.patient_id]) for p in outputs.patients),
    )


def tally_folder(out_dir: Path) -> ReportTally:
    """The report's aggregates of an output folder, read as a stream.

    patients.csv is read twice (first for the horizon), events.csv once, one patient's
    rows at a time (:func:`simulation.results.cohort_outputs.iter_outputs`).

    Raises:
        FileNotFoundError: If patients.csv or events.csv is missing.
        OutputFormatError: If a row breaks the output contract.
        EventOrderError: If events.csv does not list the patients in the order of
            patients.csv (read the folder whole instead: :func:`tally_outputs`).
    """
    out_dir = Path(out_dir)
    horizon = report_horizon(
        p.followup_days for p in iter_patients(output_file(out_dir, "patients.csv"))
    )
    return _fold(horizon, iter_outputs(out_dir))
