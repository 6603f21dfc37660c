"""Snapshot checks of the AIH record: what :func:`pathway.snapshot.restore` refuses in it.

The engine (:mod:`pathway.snapshot_checks`) checks a snapshot's shape, configuration, trace,
invariants and timers for any guideline; this module gives the AIH bundle its
``check_record`` (labs within :data:`~.patient.LAB_RANGES` as
:meth:`~pathway.AIHPathway.observe` applies them, age, weight and categories as
:class:`~.patient.PatientRecord`, doses > 0 mg/day and at most what the dose rules
(:mod:`.dosing`) give this patient with these thresholds) and its ``consistency`` table
(:data:`CONSISTENCY`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, Final

from ...errors import PatientError
from ...snapshot_checks import (
    _at,
    _bool,
    _count,
    _day,
    _fail,
    _list,
    _number,
    _object,
    _Shown,
    _str,
    read_record,
)
from ...structure import ChartModel
from .dosing import budesonide_dose, mycophenolate_dose, prednisolone_dose, tacrolimus_dose
from .options import GuidelineOptions
from .patient import AGE_RANGE_YEARS, LAB_RANGES, WEIGHT_RANGE_KG, LabPanel, PatientRecord
from .thresholds import Thresholds
from .timers import TIMERS
from .vocabulary import (
    CIRRHOSIS_STAGES,
    DRUGS,
    PRESENTATIONS,
    RESPONSE_CLASSES,
    SEXES,
    TPMT_STATUSES,
)

__all__ = ["CONSISTENCY", "RECORD_FIELDS_CHECKED", "check_record"]

#: Values of ``PatientRecord.pregnancy`` (set by the pregnancy findings of the AIH effects).
_PREGNANCY: Final = ("none", "planned", "pregnant", "postpartum")
#: Record fields that are days (days from diagnosis), ``None`` while not reached.
_DAY_FIELDS: Final = (
    "treatment_start_day",
    "steroid_start_day",
    "steroid_change_day",
    "cbr_since_day",
    "withdrawal_start_day",
    "acute_review_day",
    "transplant_referral_day",
    "transplant_day",
    "death_day",
    "labs_reset_day",
    "optimised_day",
    "first_treatment_day",
    "remission_biopsy_day",
    "antimetabolite_change_day",
)
_FLAGS: Final = (
    "encephalopathy",
    "decompensated",
    "hcc",
    "nonadherent",
    "severe_cytopenia",
    "relapsed_after_withdrawal",
    "reinduced",
    "line_assessed",
    "failure_confirmed",
)
#: Record fields checked one by one in :func:`_record` (the rest are days or flags above);
#: a test checks that together they name every field of the record, so that a new field
#: cannot be dropped silently by restore.
RECORD_FIELDS_CHECKED: Final = frozenset(
    {
        *_DAY_FIELDS,
        *_FLAGS,
        "patient_id",
        "age",
        "sex",
        "weight_kg",
        "day",
        "cirrhosis",
        "presentation",
        "tpmt",
        "pregnancy",
        "response",
        "cirrhosis_at_diagnosis",
        "acute_improving",
        "withdrawal_cbr_days",
        "withdrawal_attempts",
        "labs",
        "treatment_baseline",
        "intolerant",
        "response_history",
        "entered",
        "timers_fired",
        "drugs",
    }
)


def _panel(value: Any, path: str, now: float) -> LabPanel:
    """A lab panel: its day and each analyte within LAB_RANGES (the ranges observe uses)."""
    data = _object(value, path, ("day", *LAB_RANGES), required=("day",))
    day = _day(data["day"], _at(path, "day"), now)
    analytes: dict[str, float] = {}
    for name, (low, high) in LAB_RANGES.items():
        item = data.get(name)
        if item is not None:
            analytes[name] = _number(
                item, _at(path, name), low, high, f"a number in [{low:g}, {high:g}]"
            )
    return LabPanel(day=day, **analytes)


def _dose_ceiling(
    drug: str, p: PatientRecord, th: Thresholds, opt: GuidelineOptions
) -> float | None:
    """The largest daily dose (mg/day) the dose rules give ``p``; ``None``: not dosed daily.

    The dose rules' own caps: predniso(lo)ne INV-04 (or the taper target, which a taper
    never goes below), budesonide INV-03 or its maintenance dose, azathioprine INV-06.
    """
    match drug:
        case "prednisolone":
            doses = (prednisolone_dose(p, th, opt, acute=a) for a in (True, False))
            return max(*doses, th.taper_target_mg_day)
        case "budesonide":
            return max(budesonide_dose(th), th.budesonide_maintenance_mg_day)
        case "azathioprine":
            return th.azathioprine_max_mg_per_kg * p.weight_kg
        case "mycophenolate":
            return mycophenolate_dose(th)
        case "tacrolimus":
            return tacrolimus_dose(p, th)
        case _:
            return None  # third-line agents: by infusion (G-ERN20 [R]), any positive dose


def _drugs(
    value: Any, p: PatientRecord, th: Thresholds, opt: GuidelineOptions
) -> dict[str, float | None]:
    path = "record.drugs"
    out: dict[str, float | None] = {}
    for drug, dose in _object(value, path, DRUGS).items():
        ceiling = _dose_ceiling(drug, p, th, opt)
        where = _at(path, drug)
        if dose is None and ceiling is None:
            out[drug] = None
            continue
        high = math.inf if ceiling is None else ceiling
        limit = "" if ceiling is None else f" and <= {ceiling:g} (the dose rules' largest dose)"
        out[drug] = _number(dose, where, 0.0, high, f"a dose in mg/day > 0{limit}")
        if out[drug] == 0.0:
            raise _fail(where, dose, f"a dose in mg/day > 0{limit}")
    return out


def check_record(
    value: Any, th: Thresholds, opt: GuidelineOptions, model: ChartModel
) -> PatientRecord:
    """The AIH record of a snapshot, checked field by field (see the module docstring)."""
    checked, data = read_record(value, PatientRecord, (t.id for t in TIMERS), model)
    r = functools.partial(_at, "record")
    now = checked["day"]
    age_low, age_high = AGE_RANGE_YEARS
    kg_low, kg_high = WEIGHT_RANGE_KG
    d: dict[str, Any] = {
        "patient_id": checked["patient_id"],
        "age": _number(
            data["age"], r("age"), age_low, age_high, f"an age in [{age_low:g}, {age_high:g}] years"
        ),
        "sex": _str(data["sex"], r("sex"), SEXES),
        "weight_kg": _number(
            data["weight_kg"],
            r("weight_kg"),
            kg_low,
            kg_high,
            f"a weight in [{kg_low:g}, {kg_high:g}] kg",
        ),
        "day": now,
    }
    for name, choices in (
        ("cirrhosis", CIRRHOSIS_STAGES),
        ("presentation", PRESENTATIONS),
        ("tpmt", TPMT_STATUSES),
        ("pregnancy", _PREGNANCY),
        ("response", RESPONSE_CLASSES),
        ("cirrhosis_at_diagnosis", CIRRHOSIS_STAGES),
    ):
        if name in data:
            d[name] = _str(data[name], r(name), choices)
    for name in _FLAGS:
        if name in data:
            d[name] = _bool(data[name], r(name))
    if data.get("acute_improving") is not None:
        d["acute_improving"] = _bool(data["acute_improving"], r("acute_improving"))
    for name in _DAY_FIELDS:
        if data.get(name) is not None:
            d[name] = _day(data[name], r(name), now)
    if data.get("withdrawal_cbr_days") is not None:
        d["withdrawal_cbr_days"] = _number(
            data["withdrawal_cbr_days"],
            r("withdrawal_cbr_days"),
            0.0,
            now,
            f"days from 0 to {now:g}",
        )
    d["withdrawal_attempts"] = _count(data.get("withdrawal_attempts", 0), r("withdrawal_attempts"))
    labs: list[LabPanel] = []
    for i, item in enumerate(_list(data.get("labs", []), r("labs"))):
        panel = _panel(item, _at(r("labs"), i), now)
        if labs and panel.day < labs[-1].day:
            raise _fail(
                _at(_at(r("labs"), i), "day"),
                panel.day,
                f"a day >= {labs[-1].day:g} (panels in order)",
            )
        labs.append(panel)
    d["labs"] = labs
    if data.get("treatment_baseline") is not None:
        d["treatment_baseline"] = _panel(data["treatment_baseline"], r("treatment_baseline"), now)
    intolerant = _list(data.get("intolerant", []), r("intolerant"))
    d["intolerant"] = {_str(x, _at(r("intolerant"), i), DRUGS) for i, x in enumerate(intolerant)}
    history: list[tuple[float, str]] = []
    for i, item in enumerate(_list(data.get("response_history", []), r("response_history"))):
        where = _at(r("response_history"), i)
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise _fail(where, item, "a [day, response class] pair")
        day = _day(item[0], _at(where, 0), now)
        if history and day < history[-1][0]:
            raise _fail(_at(where, 0), day, f"a day >= {history[-1][0]:g} (in order)")
        history.append((day, _str(item[1], _at(where, 1), RESPONSE_CLASSES)))
    d["response_history"] = history
    d["entered"] = checked["entered"]
    d["timers_fired"] = checked["timers_fired"]
    try:
        record = PatientRecord(**d)
    except PatientError as exc:  # the record's own checks; the fields above make it rare
        raise _fail("record", _Shown(str(exc)), "a valid patient record") from None
    record.drugs = _drugs(data.get("drugs", {}), record, th, opt)
    return record


#: Facts the chart keeps in step with its configuration, as (state, record field, test,
#: what is expected): while ``state`` is active, ``test(record)`` holds. Each holds after any
#: sequence of findings, time points and actions, deviations included, because the effect
#: that sets the field runs with the only transitions that enter the state. The liver stage
#: and pregnancy facts are one way only: a record created with cirrhosis or a pregnancy is
#: in ``noncirrhotic`` / ``not_pregnant`` until the finding is observed (as a driver does at
#: day 0), and such a chart must still restore.
CONSISTENCY: Final[tuple[tuple[str, str, Callable[[PatientRecord], bool], str], ...]] = (
    ("steroid_induction", "drugs", lambda p: p.steroid is not None, "a steroid on board"),
    ("taper", "drugs", lambda p: p.steroid is not None, "a steroid on board"),
    ("steroid_maintenance", "drugs", lambda p: p.steroid is not None, "a steroid on board"),
    ("no_steroid", "drugs", lambda p: p.steroid is None, "no steroid on board"),
    ("compensated_cirrhosis", "cirrhosis", lambda p: p.cirrhosis != "none", "a cirrhosis stage"),
    (
        "decompensated_cirrhosis",
        "cirrhosis",
        lambda p: p.cirrhosis == "decompensated" and p.decompensated,
        "'decompensated' (and decompensated true)",
    ),
    ("planning_pregnancy", "pregnancy", lambda p: p.pregnancy == "planned", "'planned'"),
    (
        "in_pregnancy",
        "pregnancy",
        lambda p: p.pregnancy in ("pregnant", "planned"),
        "'pregnant' (or 'planned')",
    ),
    ("postpartum", "pregnancy", lambda p: p.pregnancy == "postpartum", "'postpartum'"),
    ("withdrawal", "withdrawal_start_day", lambda p: p.withdrawal_start_day is not None, "a day"),
    (
        "off_treatment",
        "withdrawal_start_day",
        lambda p: p.withdrawal_start_day is not None,
        "a day",
    ),
    ("reinduction", "reinduced", lambda p: p.reinduced, "true"),
    (
        "transplant",
        "transplant_referral_day",
        lambda p: p.transplant_referral_day is not None,
        "a day",
    ),
    ("post_transplant", "transplant_day", lambda p: p.transplant_day is not None, "a day"),
)
