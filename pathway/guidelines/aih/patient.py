"""The typed patient record: attributes, lab history by day, active drugs, findings.

The record is the statechart's model: guards read it, findings and actions update it. It
holds no clock; ``day`` is the simulated day (from diagnosis, day 0) of the latest event,
set by whoever drives the pathway. Units: days, mg/day, ALT/AST/IgG as multiples of ULN.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields
from typing import Any

from ...errors import PatientError
from ...records import reduce_frozen
from .vocabulary import (
    CIRRHOSIS_STAGES,
    DRUGS,
    LAB_FIELDS,
    PRESENTATIONS,
    SEXES,
    STEROIDS,
    TPMT_STATUSES,
)

__all__ = ["OPTIONAL_FIELDS", "LabPanel", "PatientRecord"]

Days = float

# Plausible ranges for each lab (inclusive); values outside are input errors, not patients.
LAB_RANGES: dict[str, tuple[float, float]] = {
    "alt_xuln": (0.0, 200.0),
    "ast_xuln": (0.0, 200.0),
    "igg_xuln": (0.0, 10.0),
    "bilirubin_mg_dl": (0.0, 60.0),
    "inr": (0.5, 15.0),
    "wbc_10e9_l": (0.0, 200.0),
    "platelets_10e9_l": (0.0, 2000.0),
    "meld": (6.0, 40.0),
}
#: Adult ages only: paediatrics is out of scope for v1 (knowledge base section 6).
AGE_RANGE_YEARS: tuple[float, float] = (18.0, 110.0)
#: Plausible adult body weights (inclusive); outside is an input error.
WEIGHT_RANGE_KG: tuple[float, float] = (30.0, 300.0)


@dataclass(frozen=True, slots=True)
class LabPanel:
    """One resulted lab panel; a missing analyte is ``None`` (not measured)."""

    day: Days
    alt_xuln: float | None = None
    ast_xuln: float | None = None
    igg_xuln: float | None = None
    bilirubin_mg_dl: float | None = None
    inr: float | None = None
    wbc_10e9_l: float | None = None
    platelets_10e9_l: float | None = None
    meld: float | None = None

    @classmethod
    def from_mapping(cls, day: Days, values: dict[str, Any]) -> LabPanel:
        """Build a panel from ``{field: value}``; unknown fields or bad values raise."""
        clean: dict[str, float] = {}
        for name, value in values.items():
            if name not in LAB_RANGES:
                raise PatientError(f"unknown lab {name!r}; expected one of {list(LAB_FIELDS)}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PatientError(f"lab {name!r} must be a number (got {value!r})")
            low, high = LAB_RANGES[name]
            if not (low <= float(value) <= high) or math.isnan(value):
                raise PatientError(f"lab {name!r} = {value!r} is outside [{low:g}, {high:g}]")
            clean[name] = float(value)
        return cls(day=day, **clean)

    def values(self) -> dict[str, float]:
        """The measured analytes as a dict (missing ones left out)."""
        return {n: v for n in LAB_FIELDS if (v := getattr(self, n)) is not None}

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        """Rebuilt by its constructor (copy and pickle work in the native build too)."""
        return reduce_frozen(self)


#: The record fields that may be ``None`` (missing), for the expression language's
#: missing-safe comparisons. Written out rather than read from the annotations: the native
#: build (mypyc) erases ``X | None`` to ``object`` there. A test checks it against them.
OPTIONAL_FIELDS: frozenset[str] = frozenset(
    {
        "treatment_start_day",
        "treatment_baseline",
        "steroid_start_day",
        "steroid_change_day",
        "cbr_since_day",
        "withdrawal_start_day",
        "withdrawal_cbr_days",
        "acute_review_day",
        "acute_improving",
        "transplant_referral_day",
        "transplant_day",
        "death_day",
        "optimised_day",
        "first_treatment_day",
        "remission_biopsy_day",
        "antimetabolite_change_day",
        "labs_reset_day",
    }
)


@dataclass(slots=True)
class PatientRecord:
    """Everything the pathway knows about one patient.

    Static attributes come first; the rest is history the pathway builds as findings and
    actions arrive. ``state`` is python-statemachine's configuration field (do not set it).
    """

    patient_id: str
    age: float
    sex: str
    weight_kg: float
    cirrhosis: str = "none"
    presentation: str = "chronic"
    tpmt: str = "unknown"
    day: Days = 0.0
    labs: list[LabPanel] = field(default_factory=list)
    drugs: dict[str, float | None] = field(default_factory=dict)
    intolerant: set[str] = field(default_factory=set)
    encephalopathy: bool = False
    decompensated: bool = False
    hcc: bool = False
    nonadherent: bool = False
    severe_cytopenia: bool = False
    pregnancy: str = "none"  # none | planned | pregnant | postpartum
    response: str = "not_assessed"
    response_history: list[tuple[Days, str]] = field(default_factory=list)
    treatment_start_day: Days | None = None
    treatment_baseline: LabPanel | None = None
    steroid_start_day: Days | None = None
    steroid_change_day: Days | None = None
    cbr_since_day: Days | None = None
    withdrawal_start_day: Days | None = None
    withdrawal_attempts: int = 0
    withdrawal_cbr_days: Days | None = None
    relapsed_after_withdrawal: bool = False
    reinduced: bool = False
    acute_review_day: Days | None = None
    acute_improving: bool | None = None
    transplant_referral_day: Days | None = None
    transplant_day: Days | None = None
    death_day: Days | None = None
    line_assessed: bool = False
    # AIH-RSP-05: the day adherence was checked and doses optimised for the current failed or
    # lost response, and whether a later reassessment confirmed the failure.
    optimised_day: Days | None = None
    failure_confirmed: bool = False
    first_treatment_day: Days | None = None  # start of the first course (AIH-WDR-04)
    remission_biopsy_day: Days | None = None  # biopsy with HAI <= 3 (AIH-WDR-05)
    antimetabolite_change_day: Days | None = None  # start or last dose rise (INV-15)
    entered: dict[str, Days] = field(default_factory=dict)
    timers_fired: dict[str, int] = field(default_factory=dict)
    cirrhosis_at_diagnosis: str = ""
    state: Any = None
    labs_reset_day: Days | None = None
    _latest: dict[str, float] = field(default_factory=dict, repr=False, compare=False)
    _latest_day: dict[str, Days] = field(default_factory=dict, repr=False, compare=False)
    # latest_panel() as last built, with the day it was dated; dropped when labs arrive.
    _latest_panel: LabPanel | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._latest, self._latest_day, self._latest_panel = {}, {}, None
        for panel in self.labs:
            if self.labs_reset_day is None or panel.day >= self.labs_reset_day:
                self._note(panel)
        if not self.cirrhosis_at_diagnosis:
            self.cirrhosis_at_diagnosis = self.cirrhosis
        checks = (
            ("sex", self.sex, SEXES),
            ("cirrhosis", self.cirrhosis, CIRRHOSIS_STAGES),
            ("presentation", self.presentation, PRESENTATIONS),
            ("tpmt", self.tpmt, TPMT_STATUSES),
        )
        for name, value, allowed in checks:
            if value not in allowed:
                raise PatientError(f"{name} must be one of {list(allowed)} (got {value!r})")
        if not isinstance(self.patient_id, str):
            raise PatientError(f"patient_id must be a string (got {self.patient_id!r})")
        for name in ("age", "weight_kg", *_DAY_FIELDS):
            # A new name, not ``value``: mypyc types a variable once, and ``value`` above
            # holds text, so a number in it fails the compiled build's type check.
            number: object = getattr(self, name)
            if number is None and name in _OPTIONAL_DAY_FIELDS:
                continue
            # NaN compares false with everything, so it would pass the range checks below
            # and, as a day, let time run backwards; strings would fail later with TypeError.
            if isinstance(number, bool) or not isinstance(number, numbers.Real):
                raise PatientError(f"{name} must be a number (got {number!r})")
            if not math.isfinite(number):
                raise PatientError(f"{name} must be a finite number (got {number!r})")
        (age_low, age_high), (kg_low, kg_high) = AGE_RANGE_YEARS, WEIGHT_RANGE_KG
        if not age_low <= self.age <= age_high:
            raise PatientError(
                f"age must be between {age_low:g} and {age_high:g} years (got {self.age!r})"
            )
        if not kg_low <= self.weight_kg <= kg_high:
            raise PatientError(
                f"weight_kg must be between {kg_low:g} and {kg_high:g} (got {self.weight_kg!r})"
            )
        for drug in self.drugs:
            if drug not in DRUGS:
                raise PatientError(f"unknown drug {drug!r}; expected one of {list(DRUGS)}")

    # --- lab history -------------------------------------------------------------------

    def _note(self, panel: LabPanel) -> None:
        self._latest_panel = None
        values = panel.values()
        self._latest.update(values)
        for name in values:
            self._latest_day[name] = panel.day

    def add_labs(self, panel: LabPanel) -> None:
        """Append a resulted panel to the history (keeps the latest values current)."""
        self.labs.append(panel)
        self._note(panel)

    def reset_latest_labs(self) -> None:
        """Forget carried-forward values (a new liver): history stays, ``latest`` restarts."""
        self.labs_reset_day = self.day
        self._latest, self._latest_day = {}, {}
        self._latest_panel = None

    def latest_day(self, analyte: str) -> Days | None:
        """Day the latest value of ``analyte`` was measured, or ``None``."""
        return self._latest_day.get(analyte)

    def latest(self, analyte: str) -> float | None:
        """The most recent measured value of ``analyte`` (carried forward), or ``None``."""
        return self._latest.get(analyte)

    def latest_panel(self) -> LabPanel:
        """All analytes at their latest value, as one panel dated at the latest result."""
        day = self.labs[-1].day if self.labs else self.day
        cached = self._latest_panel
        if cached is None or cached.day != day:
            cached = self._latest_panel = LabPanel(day=day, **self._latest)
        return cached

    # --- drugs ---------------------------------------------------------------------------

    def on(self, drug: str) -> bool:
        """True when ``drug`` is active."""
        return drug in self.drugs

    @property
    def steroid(self) -> str | None:
        """The active steroid (prednisolone or budesonide), if any."""
        for drug in STEROIDS:
            if drug in self.drugs:
                return drug
        return None

    @property
    def antimetabolite(self) -> str | None:
        """The active azathioprine or mycophenolate, if any."""
        for drug in ("azathioprine", "mycophenolate"):
            if drug in self.drugs:
                return drug
        return None

    @property
    def immunosuppressed(self) -> bool:
        """True while any drug is active."""
        return bool(self.drugs)

    def dose(self, drug: str) -> float | None:
        """Dose of ``drug`` in mg/day (``None`` when inactive or not a daily dose)."""
        return self.drugs.get(drug)

    def set_response(self, new: str) -> None:
        """Record a new response class; CBR starts or ends the sustained-response clock."""
        if new == self.response:
            return
        self.response = new
        self.response_history.append((self.day, new))
        if new == "complete_biochemical_response":
            if self.cbr_since_day is None:
                self.cbr_since_day = self.day
        else:
            self.cbr_since_day = None

    # --- time ----------------------------------------------------------------------------

    def days_since(self, day: Days | None) -> Days | None:
        """Days from ``day`` to the record's current day, or ``None``."""
        return None if day is None else self.day - day


#: Record fields that hold a day (days from diagnosis), checked finite at construction.
_OPTIONAL_DAY_FIELDS: frozenset[str] = frozenset(
    f.name for f in fields(PatientRecord) if f.type == "Days | None"
)
_DAY_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(PatientRecord) if f.type in ("Days", "Days | None")
)
