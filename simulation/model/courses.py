"""A treatment course's response class and latent paths, and a patient's baseline draws,
written once for one patient or many (issue 14).

:class:`~simulation.model.disease.DiseaseModel` draws a patient's baseline at diagnosis and,
at each course start, eight normals and a uniform; this module turns those draws into
numbers. Every function takes a :class:`ShapeOps`: ``disease.FLOAT_SHAPE_OPS`` on Python
floats (the scalar model) or ``course_arrays.ARRAY_SHAPE_OPS`` on arrays of patients (the
vector engine), so the formulas are not written twice and agree bit for bit: the same
floating-point operations in the same order, numpy's ``exp`` and ``log`` on both sides, and
``math.erf`` on both (numpy has none; the array form calls it per element).

Branches are :meth:`ShapeOps.choose` over thunks: one patient takes one branch (the work it
always did), many patients compute each branch any of them takes and pick per row. Paths
(:data:`~simulation.model.disease.Path`) are tuples of knots for one patient and padded knot
arrays (``model_arrays.PathArrays``) for many.

Units: days after the course start, x ULN, mg/dL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .disease import ModelConstants

__all__ = [
    "COURSE_CLASSES",
    "EMERGENCY_OUTCOMES",
    "INDUCING_KINDS",
    "LOG_FLOOR",
    "Baseline",
    "CourseDraws",
    "ShapeOps",
    "acute_excess",
    "baseline_labs",
    "class_code",
    "course_shape",
    "death_years",
    "emergency_outcome",
    "falling",
    "knots",
    "time_to_cbr_median",
    "tpmt_delay",
    "unit",
]

#: The lowest value a log path holds (a numerical guard, not a model figure).
LOG_FLOOR = 1e-3
_SQRT2 = math.sqrt(2.0)
#: Response classes by code (``class_code`` and the arrays' ``cls``).
COURSE_CLASSES = ("stable", "flare", "complete", "insufficient", "non_response")
_STABLE, _FLARE, COMPLETE, INSUFFICIENT, NON_RESPONSE = range(len(COURSE_CLASSES))
#: Outcomes of an acute presentation's emergency, by code (:func:`emergency_outcome`).
EMERGENCY_OUTCOMES = ("death", "transplant", "recover")
#: The largest uniform draw used (a numerical guard: ``log1p(-1)`` is infinite).
U_MAX = 0.999999
#: Course kinds whose class is drawn from the regimen's probability of complete response.
INDUCING_KINDS = frozenset({"first_line", "second_line", "third_line", "reinduction"})


@dataclass(frozen=True, slots=True)
class ShapeOps:
    """The operations of a course shape and a baseline, on floats or on arrays."""

    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    #: ``math.erf`` (per element on arrays).
    erf: Callable[[Any], Any]
    #: ``lo`` where below ``lo``, ``hi`` where above ``hi``, else the value.
    clip: Callable[[Any, Any, Any], Any]
    #: Python's ``max(x, y)`` and ``min(x, y)``: ``y`` only where strictly above (below).
    max: Callable[[Any, Any], Any]
    min: Callable[[Any, Any], Any]
    #: ``a`` where ``cond``, else ``b`` (both computed).
    where: Callable[[Any, Any, Any], Any]
    #: A path from ``(day, log value)`` knots.
    path: Callable[[list[tuple[Any, Any]]], Any]
    #: ``then()`` where ``cond``, else ``other()``: paths; only the branches taken run.
    choose: Callable[[Any, Callable[[], Any], Callable[[], Any]], Any]
    #: Day of a path's first knot whose log value is at most ``level``.
    first_at_or_below: Callable[[Any, float], Any]
    #: ``log(1 + x)``; whole numbers below and above, as floats.
    log1p: Callable[[Any], Any]
    floor: Callable[[Any], Any]
    ceil: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class CourseDraws:
    """What a course's shape reads: floats for one patient, arrays for many.

    Attributes:
        alt, igg: the anchor, latent ALT and IgG (x ULN) on the course's start day.
        z: the course's eight standard normals; ``u``: its uniform.
        p_complete: probability of complete response (inducing kinds; else unused).
        median: median days to complete response (inducing kinds; else unused).
        transplanted: after a transplant (a flare's decay is a recurrence's).
        before_alt, before_igg: latent ALT and IgG when non-adherence began (readherent).
        graft_alt: the patient's ALT on a working graft (post-transplant).
    """

    alt: Any
    igg: Any
    z: Sequence[Any]
    u: Any
    p_complete: Any
    median: Any
    transplanted: Any
    before_alt: Any
    before_igg: Any
    graft_alt: Any


def knots(ops: ShapeOps, points: Sequence[tuple[Any, Any]]) -> Any:
    """A path through ``(day, value)`` points: log values floored at :data:`LOG_FLOOR`,
    each day at least one after the previous knot's."""
    out: list[tuple[Any, Any]] = []
    prev: Any = None
    for t, v in points:
        if prev is not None:
            t = ops.where(t <= prev, prev + 1.0, t)
        out.append((t, ops.log(ops.max(v, LOG_FLOOR))))
        prev = t
    return ops.path(out)


def unit(ops: ShapeOps, z: Any) -> Any:
    """A standard normal draw mapped to (0, 1) (its normal CDF)."""
    return 0.5 * (1.0 + ops.erf(z / _SQRT2))


def bounded(ops: ShapeOps, value: Any, bounds: dict[str, float], name: str, unit: str = "") -> Any:
    """``value`` clipped to the parameters ``<name>_min<unit>`` and ``<name>_max<unit>``."""
    return ops.clip(value, bounds[f"{name}_min{unit}"], bounds[f"{name}_max{unit}"])


def class_code(ops: ShapeOps, u: Any, p_complete: Any, nonresponse_share: float) -> Any:
    """Response class (a code of :data:`COURSE_CLASSES`) from one uniform draw ``u``."""
    nonresponse = u > 1.0 - (1.0 - p_complete) * nonresponse_share
    return ops.where(u < p_complete, COMPLETE, ops.where(nonresponse, NON_RESPONSE, INSUFFICIENT))


def time_to_cbr_median(
    c: ModelConstants, kind: str, drugs: Collection[str], *, optimised: bool
) -> float:
    """Median days to complete response of an inducing course (from an optimisation's day,
    on first-line budesonide, or otherwise)."""
    if optimised:
        return c.optimised_time_to_cbr_median
    if "budesonide" in drugs and kind == "first_line":
        return c.time_to_cbr_median_budesonide
    return c.time_to_cbr_median


def falling(ops: ShapeOps, a: Any, r4: Any, t_n: Any, floor: Any, sh: dict[str, float]) -> Any:
    """Complete-response path of ALT: week-4 fall by ``1 - r4``, normal by ``t_n``, then floor.

    ``sh``: the ``shape.*`` parameters (just-normal level, week-4 day, days to settle).
    """
    edge, week4, settle = sh["normal_edge_xuln"], sh["week4_days"], sh["settle_days"]
    w4 = a * r4

    def crossing() -> Any:
        t_cross = ops.max(1.0, week4 * ops.log(a / edge) / ops.log(a / w4))
        return knots(ops, [(0, a), (t_cross, edge), (t_cross + settle, floor)])

    return ops.choose(
        a <= edge,
        lambda: knots(ops, [(0, a), (settle, ops.min(a, floor))]),
        lambda: ops.choose(
            w4 > edge,
            lambda: knots(ops, [(0, a), (week4, w4), (t_n, edge), (t_n + settle, floor)]),
            crossing,
        ),
    )


def course_shape(
    c: ModelConstants, kind: str, x: CourseDraws, ops: ShapeOps
) -> tuple[Any, Any, Any]:
    """A course's class code (:data:`COURSE_CLASSES`) and latent ALT and IgG paths.

    ``kind``: the course kind (one for all rows of a batch); ``x``: its draws and anchor.
    """
    a, g, z, sh = x.alt, x.igg, x.z, c.shape
    if kind == "untreated":
        return _STABLE, knots(ops, [(0, a)]), knots(ops, [(0, g)])
    if kind == "flare":
        flare_alt = c.flare_alt_median * ops.exp(sh["flare_alt_log_sd"] * z[0])
        flare = bounded(ops, flare_alt, sh, "flare_alt", "_xuln")
        igg = c.flare_igg_median * ops.exp(sh["flare_igg_log_sd"] * z[1])
        igg = ops.max(g, bounded(ops, igg, sh, "flare_igg", "_xuln"))
        decay = ops.where(x.transplanted, sh["recurrence_flare_decay"], sh["flare_decay"])
        end = ops.max(sh["flare_alt_min_xuln"], flare * decay)
        alt = knots(ops, [(0, flare), (sh["flare_course_days"], end)])
        return _FLARE, alt, knots(ops, [(0, igg)])
    if kind == "nonadherent":
        # [MODEL] Non-adherence on maintenance: the labs drift to a loss of response.
        days = c.adherence_loss_days
        alt = knots(ops, [(0, a), (days, ops.max(a, c.adherence_loss_alt))])
        igg = knots(ops, [(0, g), (days, ops.max(g, sh["nonadherent_igg_xuln"]))])
        return INSUFFICIENT, alt, igg
    if kind == "readherent":
        # [MODEL] Adherence restored: back to the level before it lapsed.
        days = c.adherence_recovery_days
        alt = knots(ops, [(0, a), (days, x.before_alt)])
        return COMPLETE, alt, knots(ops, [(0, g), (days, x.before_igg)])
    if kind == "post_transplant":
        alt = knots(ops, [(0, a), (sh["graft_settle_days"], x.graft_alt)])
        graft_igg = min(sh["graft_igg_max_xuln"], c.cbr_igg_floor)
        return COMPLETE, alt, knots(ops, [(0, g), (sh["graft_igg_days"], graft_igg)])
    return _inducing(c, x, ops)


def _inducing(c: ModelConstants, x: CourseDraws, ops: ShapeOps) -> tuple[Any, Any, Any]:
    """An inducing course: the class from the regimen's probability, paths from the draws."""
    a, g, z, sh = x.alt, x.igg, x.z, c.shape
    cls = class_code(ops, x.u, x.p_complete, c.nonresponse_share)
    # Late responders (after the 6-month assessment) exist (S-DIAZ23 vs S-PAPE19).
    t_n = bounded(ops, x.median * ops.exp(c.time_to_cbr_sd * z[0]), sh, "time_to_cbr", "_days")
    r4 = c.week4_min + (c.week4_max - c.week4_min) * unit(ops, z[1])
    f_alt = c.cbr_alt_floor * ops.exp(c.floor_sd * z[2])
    f_alt = bounded(ops, f_alt, sh, "cbr_alt_floor", "_xuln")
    f_igg = c.cbr_igg_floor * ops.exp(c.igg_floor_sd * z[3])
    f_igg = ops.clip(f_igg, sh["cbr_igg_floor_min_xuln"], c.cbr_igg_floor_max)
    i_alt = c.ins_alt_floor * ops.exp(c.floor_sd * z[4])
    i_alt = bounded(ops, i_alt, sh, "insufficient_alt", "_xuln")
    i_igg = c.ins_igg_floor * ops.exp(sh["insufficient_igg_log_sd"] * z[5])
    i_igg = bounded(ops, i_igg, sh, "insufficient_igg", "_xuln")
    igg_only = unit(ops, z[6]) < c.ins_igg_only
    nr = c.nr_ratio_min + (c.nr_ratio_max - c.nr_ratio_min) * unit(ops, z[7])
    edge, settle, week4 = sh["normal_edge_xuln"], sh["settle_days"], sh["week4_days"]
    plateau = sh["insufficient_plateau_days"]
    complete_alt = falling(ops, a, r4, t_n, f_alt, sh)
    # IgG lags the day the transaminases actually reach normal (before t_n when they
    # fall below it by week 4), but no complete response comes before time_to_cbr_min.
    t_alt = ops.first_at_or_below(complete_alt, ops.log(edge))
    t_igg = ops.max(t_alt * sh["igg_lag_factor"], sh["time_to_cbr_min_days"])
    complete_igg = ops.choose(
        g > edge,
        lambda: knots(ops, [(0, g), (t_igg, edge), (t_igg + settle, f_igg)]),
        lambda: knots(ops, [(0, g), (settle, f_igg)]),
    )
    # Insufficient response: only IgG stays raised, or ALT levels off above normal.
    partial_alt = lambda: ops.choose(  # noqa: E731
        igg_only,
        lambda: complete_alt,
        lambda: ops.choose(
            a > i_alt,
            lambda: knots(ops, [(0, a), (week4, ops.max(a * r4, i_alt)), (plateau, i_alt)]),
            lambda: knots(ops, [(0, a), (sh["insufficient_rise_days"], i_alt)]),
        ),
    )
    # Non-response: transaminases fall by less than half.
    alt = ops.choose(
        cls == COMPLETE,
        lambda: complete_alt,
        lambda: ops.choose(
            cls == INSUFFICIENT,
            partial_alt,
            lambda: knots(ops, [(0, a), (week4, ops.max(a * nr, i_alt))]),
        ),
    )
    nonresponse_igg = ops.max(g * sh["nonresponse_igg_factor"], i_igg)
    igg = ops.choose(
        cls == NON_RESPONSE,
        lambda: knots(ops, [(0, g), (sh["nonresponse_igg_days"], nonresponse_igg)]),
        lambda: ops.choose(
            (cls == INSUFFICIENT) & igg_only,
            lambda: knots(ops, [(0, g), (plateau, i_igg)]),
            lambda: complete_igg,
        ),
    )
    return cls, alt, igg


# --- the baseline ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Baseline:
    """A patient's baseline lab draws (floats, or arrays of patients)."""

    alt0: Any
    ast_ratio: Any
    igg0: Any
    bili_chronic: Any
    inr_chronic: Any
    bili_decomp: Any
    inr_decomp: Any
    wbc: Any
    plt_factor: Any
    graft_alt: Any


def baseline_labs(c: ModelConstants, acute: Any, z: Sequence[Any], ops: ShapeOps) -> Baseline:
    """The baseline lab draws from the patient's first ten baseline normals ``z``;
    ``acute``: an acute presentation (its ALT has another median and spread)."""
    sh = c.shape
    alt_median = ops.where(acute, c.acute_alt_median, c.alt_median)
    sd = c.alt_log_sd * ops.where(acute, sh["acute_alt_sd_factor"], 1.0)
    bili_decomp = c.decomp_bili * ops.exp(sh["decompensated_bilirubin_log_sd"] * z[5])
    return Baseline(
        alt0=bounded(ops, alt_median * ops.exp(sd * z[0]), sh, "baseline_alt", "_xuln"),
        ast_ratio=bounded(
            ops, c.ast_alt_ratio * ops.exp(sh["ast_ratio_log_sd"] * z[1]), sh, "ast_ratio"
        ),
        igg0=bounded(ops, c.igg_median * ops.exp(c.igg_log_sd * z[2]), sh, "baseline_igg", "_xuln"),
        bili_chronic=bounded(
            ops,
            c.bili_median * ops.exp(sh["chronic_bilirubin_log_sd"] * z[3]),
            sh,
            "chronic_bilirubin",
            "_mg_dl",
        ),
        inr_chronic=bounded(ops, c.inr_mean + sh["chronic_inr_sd"] * z[4], sh, "chronic_inr"),
        bili_decomp=bounded(ops, bili_decomp, sh, "decompensated_bilirubin", "_mg_dl"),
        inr_decomp=bounded(
            ops,
            c.decomp_inr * ops.exp(sh["decompensated_inr_log_sd"] * z[6]),
            sh,
            "decompensated_inr",
        ),
        wbc=bounded(ops, c.wbc_mean + sh["wbc_sd"] * z[7], sh, "wbc", "_10e9_l"),
        plt_factor=ops.exp(sh["platelets_log_sd"] * z[8]),
        graft_alt=bounded(ops, c.graft_alt * ops.exp(c.floor_sd * z[9]), sh, "graft_alt", "_xuln"),
    )


def acute_excess(
    c: ModelConstants, alf: Any, z10: Any, u0: Any, base: Baseline, ops: ShapeOps
) -> tuple[Any, Any, Any, Any]:
    """An acute presentation's bilirubin (mg/dL) and INR at presentation and their excess
    over the chronic level: ``(bili, inr, excess bili, excess inr)``; ``alf``: acute liver
    failure (a higher INR); ``z10``, ``u0``: the baseline's normal 10 and uniform 0."""
    sh = c.shape
    bili = c.acute_bili_median * ops.exp(sh["acute_bilirubin_log_sd"] * z10)
    bili = bounded(ops, bili, sh, "acute_bilirubin", "_mg_dl")
    lo = ops.where(alf, c.alf_inr_min, c.acute_inr_min)
    inr = lo + (ops.max(c.acute_inr_max, lo + sh["acute_inr_min_range"]) - lo) * u0
    excess_bili = ops.max(0.0, bili - base.bili_chronic)
    return bili, inr, excess_bili, ops.max(0.0, inr - base.inr_chronic)


def emergency_outcome(
    ops: ShapeOps, u: Any, p_death: Any, p_transplant: Any, mean: Any, v: Any
) -> tuple[Any, Any]:
    """An acute presentation's latent outcome once referred for transplant (a code of
    :data:`EMERGENCY_OUTCOMES`, from the uniform ``u``) and its delay in whole days, at least
    one (exponential with mean ``mean`` days, from the uniform ``v``)."""
    code = ops.where(u < p_death, 0, ops.where(u < p_death + p_transplant, 1, 2))
    delay = ops.ceil(-ops.log1p(-ops.min(v, U_MAX)) * mean)
    return code, ops.max(1.0, delay)


def tpmt_delay(ops: ShapeOps, u: Any, max_delay: float) -> Any:
    """Days (whole, 0 to ``max_delay``) until an unknown TPMT status is resulted."""
    return ops.floor(u * (max_delay + 1))


def death_years(ops: ShapeOps, a: Any, b: Any, e: Any, age: Any) -> Any:
    """Years to background death under a Gompertz hazard ``a * exp(b * age)`` per year
    (``a``, ``b`` > 0) from an Exp(1) draw ``e``, for a patient of ``age`` years."""
    return ops.log1p(e * b / (a * ops.exp(b * age))) / b
