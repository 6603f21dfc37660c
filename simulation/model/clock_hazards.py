"""The hazard each clock of the patient model runs, and the day it counts from: declared once.

*Whether* a clock runs is a declared condition (:mod:`simulation.model.hazard_conditions`).
*What* it runs is declared here, per clock (:data:`CLOCK_HAZARDS`) and per flare case
(:data:`FLARE_HAZARDS`), from names only: the condition that runs it, the
:class:`~simulation.model.disease.ModelConstants` field of its rate or piecewise hazard, the
hazard ratios that apply where a condition holds, the terms of a sum, a window in days
(from the end of the steroid trial to a maximum age), and its origin (the day, or a day the
situation or the latent state keeps). Two interpreters read the table:

- :func:`set_clocks`, for one patient: what the scalar
  :meth:`DiseaseModel._set_hazards <simulation.model.disease.DiseaseModel>` gives its clocks;
- :func:`simulation.model.clock_arrays.clock_tables`, for a batch: each clock's origins and
  padded pieces (:class:`~simulation.model.hazard_arrays.HazardTable`), the same floats bit
  for bit (the same operations in the same order; tested).

Rates are per day; origins and window bounds are days (window bounds after the origin).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, cast

from .hazard_conditions import Situation
from .hazards import YEAR_DAYS, Hazard

if TYPE_CHECKING:
    from .disease import ModelConstants

__all__ = [
    "CLOCK_HAZARDS",
    "DRUG_START",
    "FLARE_HAZARDS",
    "NO_FLARE",
    "ORIGINS",
    "ClockHazard",
    "Constant",
    "Factor",
    "Pieces",
    "Rate",
    "Settable",
    "Sum",
    "Trial",
    "Variants",
    "Window",
    "conditions_read",
    "drug_of",
    "set_clocks",
    "variants",
]

#: Origins other than ``day``: the situation's days (``None`` where there is none) and the
#: latent transplant day; and ``drug_start.<drug>``, the latent start day of a drug. A
#: missing origin counts from the day (the conditions that run a hazard counted from such a
#: day require it).
ORIGINS = frozenset({"withdrawal_start_day", "untreated_since", "nonadherent_since", "lt_day"})
DRUG_START = "drug_start."


def drug_of(origin: str) -> str | None:
    """The drug whose start day ``origin`` names (``None``: not a drug's start).

    >>> drug_of("drug_start.tacrolimus"), drug_of("lt_day")
    ('tacrolimus', None)
    """
    return origin.removeprefix(DRUG_START) if origin.startswith(DRUG_START) else None


@dataclass(frozen=True, slots=True)
class Factor:
    """A multiplier: constant ``name`` where condition ``when`` holds (always: ``""``),
    else 1.0 (a product by 1.0 is exact, so scaled and unscaled rows share one formula)."""

    name: str
    when: str = ""

    def value(self, c: ModelConstants, on: Mapping[str, Any]) -> float:
        """The factor for one patient (``on``: the conditions' values)."""
        if not self.when or on[self.when]:
            factor: float = getattr(c, self.name)
            return factor
        return 1.0


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate per day: constant ``name``, or constant ``other`` where condition ``switch``
    holds; times ``factor`` if given (``rate * factor``)."""

    name: str
    other: str = ""
    switch: str = ""
    factor: Factor | None = None

    def value(self, c: ModelConstants, on: Mapping[str, Any]) -> float:
        """The rate for one patient."""
        rate: float = getattr(c, self.other if self.switch and on[self.switch] else self.name)
        if self.factor is not None:
            rate = rate * self.factor.value(c, on)
        return rate


@dataclass(frozen=True, slots=True)
class Constant:
    """A constant hazard at ``rate`` (none where the rate is not positive:
    :func:`~simulation.model.hazards.constant`)."""

    rate: Rate

    def hazard(self, c: ModelConstants, on: Mapping[str, Any], s: Situation, day: float) -> Hazard:
        """The hazard for one patient."""
        rate = self.rate.value(c, on)
        return ((0.0, rate),) if rate > 0 else ()


@dataclass(frozen=True, slots=True)
class Sum:
    """A constant hazard at the sum, from 0.0 and in order, of the rates ``terms`` whose
    conditions hold (``(condition, rate)``; none where the sum is not positive)."""

    terms: tuple[tuple[str, Rate], ...]

    def hazard(self, c: ModelConstants, on: Mapping[str, Any], s: Situation, day: float) -> Hazard:
        """The hazard for one patient."""
        rate = 0.0
        for when, term in self.terms:
            if on[when]:
                rate += term.value(c, on)
        return ((0.0, rate),) if rate > 0 else ()


@dataclass(frozen=True, slots=True)
class Pieces:
    """The piecewise hazard in constant ``name``, each rate times ``factor`` if given, then
    plus constant ``plus`` if given (``plus + rate * factor``)."""

    name: str
    factor: Factor | None = None
    plus: str = ""

    def hazard(self, c: ModelConstants, on: Mapping[str, Any], s: Situation, day: float) -> Hazard:
        """The hazard for one patient."""
        pieces: Hazard = getattr(c, self.name)
        if self.factor is not None:
            f = self.factor.value(c, on)
            pieces = tuple((start, rate * f) for start, rate in pieces)
        if self.plus:
            base: float = getattr(c, self.plus)
            pieces = tuple((start, base + rate) for start, rate in pieces)
        return pieces


@dataclass(frozen=True, slots=True)
class Trial:
    """Days of a trial left: where condition ``when`` holds, ``max(0.0, since + days - day)``
    (``since``: a day of the situation, ``days``: a constant); else 0.0."""

    when: str
    since: str
    days: str

    def left(self, c: ModelConstants, on: Mapping[str, Any], s: Situation, day: float) -> float:
        """Days left for one patient (situation ``s``, now ``day``)."""
        since: float | None = getattr(s, self.since)
        if on[self.when] and since is not None:
            days: float = getattr(c, self.days)
            return max(0.0, since + days - day)
        return 0.0


@dataclass(frozen=True, slots=True)
class Window:
    """Rate constant ``rate`` from the end of ``trial`` (from 0.0 without one) until the
    patient reaches the age in constant ``until_age`` (years): ``(until_age - age) *
    YEAR_DAYS`` days; no hazard where that end is not after the start."""

    rate: str
    until_age: str
    trial: Trial | None = None

    def hazard(self, c: ModelConstants, on: Mapping[str, Any], s: Situation, day: float) -> Hazard:
        """The hazard for one patient (situation ``s``, now ``day``)."""
        end = (getattr(c, self.until_age) - s.age) * YEAR_DAYS
        start = 0.0 if self.trial is None else self.trial.left(c, on, s, day)
        if end > start:
            rate: float = getattr(c, self.rate)
            return ((start, rate), (end, 0.0))
        return ()


Shape = Constant | Sum | Pieces | Window


@dataclass(frozen=True, slots=True)
class ClockHazard:
    """What one clock (or one flare case) runs.

    Attributes:
        clock: the clock (:data:`~simulation.model.disease.CLOCKS`) or the flare case
            (:data:`~simulation.model.hazard_conditions.FLARE_CASES`).
        runs: the condition under which the hazard runs (``""``: always; a flare case is
            its own condition); elsewhere the clock has no hazard.
        shape: the hazard (``None``: none).
        origin: ``day``, a name of :data:`ORIGINS` or ``drug_start.<drug>``: the
            absolute day the hazard counts from (also while it does not run).
    """

    clock: str
    runs: str
    shape: Shape | None
    origin: str = "day"


def _constant(clock: str, rate: str, factor: Factor | None = None) -> ClockHazard:
    return ClockHazard(clock, clock, Constant(Rate(rate, factor=factor)))


_ACTIVITY = Factor("activity_hr", "activity")

#: Every clock but the flare, in the model's clock order.
CLOCK_HAZARDS: tuple[ClockHazard, ...] = (
    _constant("postpartum_flare", "postpartum_flare_rate"),
    ClockHazard(
        "intolerance_azathioprine",
        "intolerance_azathioprine",
        Pieces("aza_intolerance"),
        "drug_start.azathioprine",
    ),
    ClockHazard(
        "intolerance_mycophenolate",
        "intolerance_mycophenolate",
        Pieces("mmf_intolerance"),
        "drug_start.mycophenolate",
    ),
    ClockHazard(
        "intolerance_tacrolimus",
        "intolerance_tacrolimus",
        Pieces("tac_intolerance"),
        "drug_start.tacrolimus",
    ),
    _constant("cirrhosis", "cirrhosis_rate", _ACTIVITY),
    _constant("decompensation", "decompensation_rate", _ACTIVITY),
    ClockHazard(
        "hcc", "hcc", Constant(Rate("hcc_rate_noncirrhotic", "hcc_rate_cirrhosis", "hcc.cirrhotic"))
    ),
    # After the steroid trial's remaining days, before the maximum transplant age.
    ClockHazard(
        "transplant",
        "transplant",
        Window(
            "transplant_rate",
            "transplant_max_age",
            Trial("transplant.steroid_trial", "treatment_start_day", "steroid_trial_days"),
        ),
    ),
    _constant(
        "graft_failure",
        "graft_loss_rate",
        Factor("recurrence_graft_loss_hr", "graft_failure.recurrence"),
    ),
    ClockHazard("plan_pregnancy", "plan_pregnancy", Window("pregnancy_rate", "pregnancy_max_age")),
    _constant("conception", "conception_rate"),
    _constant("recompensation", "recompensation_rate"),
    _constant("nonadherence", "nonadherence_rate"),
    ClockHazard(
        "liver_death",
        "",
        Sum(
            (
                ("liver_death.decompensated", Rate("decompensated_death_rate")),
                ("liver_death.graft_failed", Rate("graft_failure_death_rate")),
            )
        ),
    ),
    _constant("hcc_death", "hcc_death_rate"),
    ClockHazard(
        "post_transplant_death",
        "post_transplant_death",
        Pieces("post_lt_death", Factor("recurrence_death_hr", "post_transplant_death.recurrence")),
        "lt_day",
    ),
)

#: The flare clock's hazard in each case (no case, or a case not listed: none, from the day).
FLARE_HAZARDS: dict[str, ClockHazard] = {
    h.clock: h
    for h in (
        ClockHazard("flare.recurrence", "", Pieces("recurrence"), "lt_day"),
        ClockHazard("flare.withdrawal", "", Pieces("withdrawal_flare"), "withdrawal_start_day"),
        ClockHazard(
            "flare.maintenance_untreated", "", Pieces("withdrawal_flare"), "untreated_since"
        ),
        # [MODEL] Non-adherent: part of the protection is lost, so part of the hazard after
        # full withdrawal (S-VGERVEN13) adds to the maintenance one.
        ClockHazard(
            "flare.nonadherent",
            "",
            Pieces("withdrawal_flare", Factor("adherence_effect_lost"), "maintenance_flare_rate"),
            "nonadherent_since",
        ),
        ClockHazard("flare.maintenance", "", Constant(Rate("maintenance_flare_rate"))),
        ClockHazard("flare.untreated", "", Constant(Rate("untreated_flare_rate"))),
    )
}
#: The flare clock outside the cases of :data:`FLARE_HAZARDS`: no hazard, from the day.
NO_FLARE = ClockHazard("flare", "", None)


def _conditions(h: ClockHazard) -> set[str]:
    shape, names = h.shape, {h.runs} - {""}
    rates: list[Rate] = []
    factors: list[Factor | None] = []
    if isinstance(shape, Constant):
        rates.append(shape.rate)
    elif isinstance(shape, Sum):
        names |= {when for when, _ in shape.terms}
        rates.extend(rate for _, rate in shape.terms)
    elif isinstance(shape, Pieces):
        factors.append(shape.factor)
    elif isinstance(shape, Window) and shape.trial is not None:
        names.add(shape.trial.when)
    for rate in rates:
        names.add(rate.switch)
        factors.append(rate.factor)
    names |= {f.when for f in factors if f is not None}
    return names - {""}


def conditions_read() -> frozenset[str]:
    """The hazard conditions the table reads (each must be declared)."""
    out: set[str] = set()
    for h in (*CLOCK_HAZARDS, *FLARE_HAZARDS.values()):
        out |= _conditions(h)
    return frozenset(out)


#: A clock's hazard for one patient, from its situation, the conditions' values and the day.
_HazardOf = Callable[[Situation, Mapping[str, Any], float], Hazard]
#: Origin kinds of a plan: the day, the transplant day, a drug's start, a situation field.
_DAY, _LT_DAY, _DRUG, _FIELD = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Variants:
    """Every hazard a clock's constant, sum or pieces can be while it runs: one per truth
    assignment of the conditions it reads, worked out once per set of constants by the
    table's own functions (so a plan or an array gathering them has the same floats).

    Attributes:
        reads: the conditions read (besides ``runs``).
        hazards: hazard ``k`` holds where condition ``reads[j]`` holds exactly for the bits
            ``j`` set in ``k``.
    """

    reads: tuple[str, ...]
    hazards: tuple[Hazard, ...]


def variants(h: ClockHazard, c: ModelConstants) -> Variants | None:
    """The variants of ``h``'s hazard under constants ``c`` (``None`` for a window, which
    reads the age and the days as well)."""
    return _cache(c).variants[h]


def _variants(h: ClockHazard, c: ModelConstants) -> Variants | None:
    shape = h.shape
    if shape is None:
        return Variants((), ((),))
    if isinstance(shape, Window):
        return None
    reads = tuple(sorted(_conditions(replace(h, runs=""))))
    hazards = []
    for code in range(1 << len(reads)):
        truths = {name: bool(code >> j & 1) for j, name in enumerate(reads)}
        hazards.append(shape.hazard(c, truths, cast(Situation, None), 0.0))
    return Variants(reads, tuple(hazards))


def _hazard_of(h: ClockHazard, c: ModelConstants, v: Variants | None) -> _HazardOf:
    """``h``'s hazard as a function of the situation, the conditions and the day: none
    where ``h.runs`` does not hold, else one of the variants ``v`` (a window computed)."""
    shape, runs = h.shape, h.runs
    if v is None:
        assert isinstance(shape, Window)
        window = shape
        return lambda s, on, day: window.hazard(c, on, s, day) if not runs or on[runs] else ()
    reads, hazards = v.reads, v.hazards
    if not reads:
        fixed = hazards[0]
        return lambda s, on, day: fixed if not runs or on[runs] else ()
    if len(reads) == 1:
        name, no, yes = reads[0], hazards[0], hazards[1]
        return lambda s, on, day: (yes if on[name] else no) if not runs or on[runs] else ()
    bits = tuple(enumerate(reads))
    return lambda s, on, day: (
        hazards[sum(1 << j for j, n in bits if on[n])] if not runs or on[runs] else ()
    )


def _plan(h: ClockHazard, c: ModelConstants, v: Variants | None) -> _Plan:
    kind = _DAY
    if h.origin == "lt_day":
        kind = _LT_DAY
    elif drug_of(h.origin) is not None:
        kind = _DRUG
    elif h.origin != "day":
        kind = _FIELD
    clock = h.clock.split(".")[0]  # a flare case sets the flare clock
    return clock, kind, drug_of(h.origin) or h.origin, _hazard_of(h, c, v)


#: A clock's plan: its name, origin kind and name, and its hazard.
_Plan = tuple[str, int, str, _HazardOf]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """The table under one set of constants: the variants and the plans of each entry."""

    variants: dict[ClockHazard, Variants | None]
    flare: dict[str, _Plan]
    clocks: list[_Plan]


#: The table compiled for the last constants seen, by their identity (a cohort has one).
_COMPILED: dict[int, tuple[ModelConstants, _Compiled]] = {}
_COMPILED_KEPT = 8


def _cache(c: ModelConstants) -> _Compiled:
    kept = _COMPILED.get(id(c))
    if kept is not None and kept[0] is c:
        return kept[1]
    entries = (NO_FLARE, *FLARE_HAZARDS.values(), *CLOCK_HAZARDS)
    found = {h: _variants(h, c) for h in entries}
    flare = {case: _plan(h, c, found[h]) for case, h in FLARE_HAZARDS.items()}
    flare[""] = _plan(NO_FLARE, c, found[NO_FLARE])
    compiled = _Compiled(found, flare, [_plan(h, c, found[h]) for h in CLOCK_HAZARDS])
    if len(_COMPILED) >= _COMPILED_KEPT:
        _COMPILED.clear()
    _COMPILED[id(c)] = (c, compiled)
    return compiled


class Settable(Protocol):
    """What :func:`set_clocks` sets: a :class:`~simulation.model.hazards.Clock`."""

    def set(self, origin: float, hazard: Hazard) -> None:
        """From now on, the hazard is ``hazard`` counted from the absolute day ``origin``."""


def set_clocks(
    clocks: Mapping[str, Settable],
    c: ModelConstants,
    s: Situation,
    on: Mapping[str, Any],
    case: str,
    day: float,
    lt_day: float,
    drug_start: Mapping[str, float],
) -> None:
    """Set each clock's origin and hazard for one patient now, flare first.

    ``clocks``: the model's clocks by name; ``c``: its constants; ``s``: its situation;
    ``on``: the conditions' values (:func:`~simulation.model.hazard_conditions.hazards_on`);
    ``case``: the flare case (``""``: none); ``day``: today; ``lt_day``: the transplant
    day; ``drug_start``: the latent start day of each drug taken. The table is read through
    plans made once per set of constants (see :class:`Variants`).
    """
    compiled = _cache(c)
    flare = compiled.flare
    origin: float
    for clock, kind, name, hazard_of in (flare.get(case, flare[""]), *compiled.clocks):
        if kind == _DAY:
            origin = day
        elif kind == _LT_DAY:
            origin = lt_day
        elif kind == _DRUG:
            origin = drug_start.get(name, day)
        else:
            value: float | None = getattr(s, name)
            origin = day if value is None else value
        clocks[clock].set(origin, hazard_of(s, on, day))
