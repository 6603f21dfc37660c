"""The report's figures, drawn with matplotlib (Agg, no pyplot state) as PNG bytes.

Each function returns PNG bytes; :mod:`simulation.results.report.page` embeds them as base64. Time
is plotted in years; colours of care states are the same in every figure.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display; must precede any pyplot import anywhere

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..survival import SurvivalCurve
from ..trajectories import CARE_ORDER, CENSORED, Flow

__all__ = [
    "CARE_COLOURS",
    "CARE_LABELS",
    "flow_diagram",
    "km_figure",
    "occupancy_figure",
    "short_label",
]

DAYS_PER_YEAR = 365.25
_DPI = 144

#: Plain-language names of the care states, as a clinician reads them.
CARE_LABELS: dict[str, str] = {
    "diagnosis": "Diagnosis and triage",
    "observation": "Observation, untreated",
    "acute_severe": "Acute severe AIH",
    "acute_liver_failure": "Acute liver failure",
    "induction": "Induction",
    "response_assessment": "Response assessment\n(week 4 to month 6)",
    "maintenance": "Maintenance",
    "withdrawal": "Withdrawal",
    "off_treatment": "Off treatment",
    "relapse": "Relapse",
    "second_line": "Second line",
    "third_line": "Third line",
    "transplant": "Transplant evaluation\nand waiting list",
    "post_transplant": "After transplant",
    "recurrent_aih": "Recurrent AIH\nin the graft",
    "death": "Death",
    CENSORED: "Left follow-up alive",
}

#: One colour per care state (colour-blind-safe hues first, greys for the end states).
CARE_COLOURS: dict[str, str] = {
    "diagnosis": "#bdbdbd",
    "observation": "#c7e9c0",
    "acute_severe": "#fdae6b",
    "acute_liver_failure": "#e6550d",
    "induction": "#9ecae1",
    "response_assessment": "#4292c6",
    "maintenance": "#31a354",
    "withdrawal": "#fde0a0",
    "off_treatment": "#a1d99b",
    "relapse": "#d6616b",
    "second_line": "#9e9ac8",
    "third_line": "#6a51a3",
    "transplant": "#e7969c",
    "post_transplant": "#8c6d31",
    "recurrent_aih": "#bd9e39",
    "death": "#525252",
    CENSORED: "#f0f0f0",
}

#: Where each care state sits in the flow diagram (x, y): one column per phase of care,
#: the main line across the middle, complications below.
_NODE_XY: dict[str, tuple[float, float]] = {
    "diagnosis": (0.0, 3.0),
    "observation": (2.4, 4.7),
    "acute_severe": (2.4, 1.5),
    "acute_liver_failure": (2.4, 0.0),
    "induction": (4.8, 3.0),
    "response_assessment": (7.2, 3.0),
    "maintenance": (9.6, 3.0),
    "withdrawal": (12.0, 4.7),
    "off_treatment": (14.4, 4.7),
    "relapse": (13.2, 3.0),
    "second_line": (6.0, 1.5),
    "third_line": (10.8, 1.5),
    "transplant": (7.2, 0.0),
    "post_transplant": (9.6, 0.0),
    "recurrent_aih": (12.0, 0.0),
    "death": (14.4, 0.0),
}
_BOX_W = 1.75
_BOX_H = 1.05

#: Short two-line names that fit the boxes of the flow diagram.
_BOX_LABELS: dict[str, str] = {
    "diagnosis": "Diagnosis\nand triage",
    CENSORED: "Left follow-up\nalive",
    "observation": "Observation\n(untreated)",
    "acute_severe": "Acute severe\nAIH",
    "acute_liver_failure": "Acute liver\nfailure",
    "induction": "Induction",
    "response_assessment": "Response\nassessment",
    "maintenance": "Maintenance",
    "withdrawal": "Withdrawal",
    "off_treatment": "Off\ntreatment",
    "relapse": "Relapse",
    "second_line": "Second line",
    "third_line": "Third line",
    "transplant": "Transplant\nlisting",
    "post_transplant": "After\ntransplant",
    "recurrent_aih": "Recurrent AIH\nin the graft",
    "death": "Death",
}


def short_label(state: str) -> str:
    """A one-line name of a care state that fits legends and narrow columns."""
    return _BOX_LABELS.get(state, CARE_LABELS.get(state, state)).replace("\n", " ")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


def _year_ticks(horizon_days: float) -> list[float]:
    years = max(1.0, horizon_days / DAYS_PER_YEAR)
    step = 1 if years <= 12 else 2 if years <= 24 else 5
    return [float(y) for y in range(0, math.floor(years) + 1, step)]


def km_figure(
    curves: Sequence[tuple[str, SurvivalCurve, str]],
    *,
    ylabel: str,
    horizon_days: float,
    cumulative: bool,
    xlabel: str = "Years since diagnosis",
) -> bytes:
    """Kaplan-Meier curves with 95% bands and a numbers-at-risk table under the axis.

    Bands are drawn for up to three curves (more would hide each other).

    Args:
        curves: (label, curve, colour) per group.
        ylabel: Label of the y axis.
        horizon_days: Right end of the x axis (days).
        cumulative: Plot 1 - S(t) (a rising cumulative incidence) instead of S(t).
        xlabel: Label of the x axis (the origin of time).

    Returns:
        PNG bytes.
    """
    ticks = _year_ticks(horizon_days)
    x_max = horizon_days / DAYS_PER_YEAR
    rows = max(1, len(curves))
    width = 9.0
    fig = Figure(figsize=(width, 4.2 + 0.28 * rows))
    # Room on the left for the longest "number at risk" label (about 0.075 in a character
    # at 9.5 pt, plus the tick padding), so long regimen names are not clipped.
    longest = max((len(label) for label, _, _ in curves), default=0)
    left = max(0.25, min(0.42, (0.075 * longest + 0.5) / width))
    grid = fig.add_gridspec(
        2,
        1,
        height_ratios=(4.0, 0.3 + 0.28 * rows),
        hspace=0.45,
        left=left,
        right=0.97,
        top=0.95,
        bottom=0.06,
    )
    ax = fig.add_subplot(grid[0])
    risk = fig.add_subplot(grid[1], sharex=ax)
    for label, curve, colour in curves:
        xs, ys = curve.steps()
        lo = [1.0, *curve.lower]
        hi = [1.0, *curve.upper]
        if len(xs) > len(lo):
            lo.append(lo[-1])
            hi.append(hi[-1])
        years = [x / DAYS_PER_YEAR for x in xs]
        if cumulative:
            ys = [1 - y for y in ys]
            lo, hi = [1 - h for h in hi], [1 - v for v in lo]
        ax.step(
            years,
            [100 * y for y in ys],
            where="post",
            color=colour,
            linewidth=2.2,
            label=f"{label} (n={curve.n})",
        )
        ax.fill_between(
            years,
            [100 * v for v in lo],
            [100 * v for v in hi],
            step="post",
            color=colour,
            alpha=0.13,
            linewidth=0,
        )
        censored = _censor_days(curve)
        if 0 < len(censored) <= 60:
            heights = [
                100 * (curve.cumulative_incidence_at(d) if cumulative else curve.survival_at(d))
                for d in censored
            ]
            ax.plot(
                [d / DAYS_PER_YEAR for d in censored],
                heights,
                linestyle="none",
                marker="|",
                markersize=8,
                color=colour,
            )
    ax.set_xlim(0, x_max)
    ax.set_ylim(0, 100)
    ax.set_xticks(ticks)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.tick_params(labelsize=10, labelbottom=True)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.grid(True, color="#e0e0e0", linewidth=0.8)
    ax.legend(loc="lower right" if cumulative else "lower left", fontsize=9.5, framealpha=0.9)
    # Numbers at risk: one row per curve, under the year ticks.
    risk.set_ylim(rows - 0.5, -0.5)
    risk.set_yticks(range(len(curves)))
    risk.set_yticklabels([label for label, _, _ in curves], fontsize=9.5)
    for tick, (_, _, colour) in zip(risk.get_yticklabels(), curves, strict=True):
        tick.set_color(colour)
    for r, (_, curve, _) in enumerate(curves):
        for t in ticks:
            risk.text(
                t,
                r,
                str(curve.at_risk_at(t * DAYS_PER_YEAR)),
                ha="center",
                va="center",
                fontsize=9.5,
            )
    risk.set_title("Number at risk", fontsize=10, loc="left", x=-0.33)
    risk.tick_params(axis="x", bottom=False, labelbottom=False)
    risk.tick_params(axis="y", left=False, pad=24)
    for spine in risk.spines.values():
        spine.set_visible(False)
    return _png(fig)


def _censor_days(curve: SurvivalCurve) -> list[float]:
    """Days on which patients were censored (durations that are not event days)."""
    event_days = set(curve.times)
    return [d for d in curve.durations if d not in event_days]


def occupancy_figure(
    grid_days: Sequence[float], counts: Mapping[str, Sequence[int]], n_patients: int
) -> bytes:
    """Stacked area: percentage of the cohort in each care state over time.

    Args:
        grid_days: Days at which the counts were taken.
        counts: Care state -> number of patients at each grid day (see
            :func:`simulation.results.trajectories.occupancy`).
        n_patients: Cohort size (the 100% line).

    Returns:
        PNG bytes.
    """
    order = [s for s in (*CARE_ORDER, CENSORED) if s in counts]
    years = [d / DAYS_PER_YEAR for d in grid_days]
    stacks = [[100 * c / max(1, n_patients) for c in counts[s]] for s in order]
    fig = Figure(figsize=(9.6, 4.8))
    ax = fig.add_axes((0.08, 0.11, 0.62, 0.85))
    ax.stackplot(
        years,
        stacks,
        colors=[CARE_COLOURS[s] for s in order],
        labels=[short_label(s) for s in order],
        linewidth=0.3,
        edgecolor="white",
    )
    ax.set_xlim(0, years[-1] if years else 1)
    ax.set_ylim(0, 100)
    ax.set_xticks(_year_ticks(grid_days[-1] if grid_days else 365.25))
    ax.set_xlabel("Years since diagnosis", fontsize=11)
    ax.set_ylabel("% of cohort", fontsize=11)
    ax.tick_params(labelsize=10)
    handles, labels = ax.get_legend_handles_labels()
    # Reverse so the legend reads top to bottom like the stack.
    ax.legend(
        handles[::-1],
        labels[::-1],
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        frameon=False,
        fontsize=9,
    )
    return _png(fig)


def _bezier(
    p0: tuple[float, float], p1: tuple[float, float], rad: float, t: float
) -> tuple[float, float]:
    """Point ``t`` of matplotlib's ``arc3`` connection (a quadratic Bezier) from p0 to p1."""
    (x0, y0), (x1, y1) = p0, p1
    cx = (x0 + x1) / 2 + rad * (y1 - y0)
    cy = (y0 + y1) / 2 - rad * (x1 - x0)
    u = 1 - t
    return u * u * x0 + 2 * u * t * cx + t * t * x1, u * u * y0 + 2 * u * t * cy + t * t * y1


_XLIM = (-1.0, 15.4)
_YLIM = (-0.65, 5.35)


def _inside_box(x: float, y: float, states: Iterable[str], margin: float) -> bool:
    return any(
        abs(x - _NODE_XY[s][0]) < _BOX_W / 2 + margin
        and abs(y - _NODE_XY[s][1]) < _BOX_H / 2 + margin
        for s in states
    )


def _route(source: str, target: str, obstacles: Sequence[str], reverse: bool) -> float:
    """The bend (``arc3`` rad) of the arrow source -> target that avoids other boxes.

    An arrow whose reverse is also drawn is bent so the two do not overlap; an arrow never
    leaves the canvas.
    """
    p0, p1 = _NODE_XY[source], _NODE_XY[target]
    if reverse:
        candidates: tuple[float, ...] = (0.15, 0.3, 0.45)
    else:
        bends = [k / 20 for k in range(1, 17)]
        candidates = (0.0, *(b for bend in bends for b in (bend, -bend)))
    margin = 0.1

    def hits(rad: float) -> int:
        count = 0
        for k in range(1, 60):
            x, y = _bezier(p0, p1, rad, k / 60)
            if not (_XLIM[0] < x < _XLIM[1] and _YLIM[0] < y < _YLIM[1]):
                count += 100
            elif _inside_box(x, y, obstacles, margin):
                count += 1
        return count

    # The first (least bent) candidate that crosses the fewest boxes.
    return min(candidates, key=lambda rad: (hits(rad), candidates.index(rad)))


def flow_diagram(
    flows: Sequence[Flow],
    entered: Mapping[str, int],
    died: Mapping[str, int],
    *,
    min_transitions: int = 1,
) -> bytes:
    """The care line as boxes and arrows; arrow width and label = number of transitions.

    Moves into ``death`` are not drawn as arrows (every state would point at it); each box
    shows instead how many patients died while in that state. Arrows bend around boxes
    they would otherwise cross.

    Args:
        flows: Moves between care states (see :func:`simulation.results.trajectories.flows`).
        entered: Care state -> patients who were ever in it.
        died: Care state -> patients who died while in it.
        min_transitions: Arrows with fewer transitions are left out (list them elsewhere).

    Returns:
        PNG bytes.
    """
    shown = {s for s, n in entered.items() if n} | {"diagnosis"}
    for f in flows:
        if f.target != "death":
            shown |= {f.source, f.target}
    fig = Figure(figsize=(11.5, 5.2))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(*_XLIM)
    ax.set_ylim(*_YLIM)
    ax.set_axis_off()
    boxes: dict[str, FancyBboxPatch] = {}
    for state in CARE_ORDER:
        if state not in shown or state not in _NODE_XY:
            continue
        x, y = _NODE_XY[state]
        box = FancyBboxPatch(
            (x - _BOX_W / 2, y - _BOX_H / 2),
            _BOX_W,
            _BOX_H,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=CARE_COLOURS[state],
            edgecolor="#333333",
            linewidth=1.0,
            zorder=3,
        )
        ax.add_patch(box)
        boxes[state] = box
        dark = state in {
            "death",
            "acute_liver_failure",
            "third_line",
            "post_transplant",
            "response_assessment",
            "maintenance",
        }
        ink = "white" if dark else "#111111"
        ax.text(
            x,
            y + 0.2,
            _BOX_LABELS[state],
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            color=ink,
            zorder=4,
            linespacing=1.0,
        )
        sub = f"{entered.get(state, 0)} patients"
        if died.get(state) and state != "death":
            sub += f"\n{died[state]} died here"
        ax.text(
            x,
            y - 0.3,
            sub,
            ha="center",
            va="center",
            fontsize=8.5,
            color=ink,
            zorder=4,
            linespacing=1.0,
        )
    drawn = [
        f
        for f in flows
        if f.target != "death"
        and f.source in boxes
        and f.target in boxes
        and f.transitions >= min_transitions
    ]
    biggest = max((f.transitions for f in drawn), default=1)
    pairs = {(f.source, f.target) for f in drawn}
    placed: list[tuple[float, float]] = []
    for f in drawn:
        width = 0.8 + 6.0 * math.sqrt(f.transitions / biggest)
        others = [s for s in boxes if s not in (f.source, f.target)]
        rad = _route(f.source, f.target, others, (f.target, f.source) in pairs)
        arrow = FancyArrowPatch(
            posA=_NODE_XY[f.source],
            posB=_NODE_XY[f.target],
            patchA=boxes[f.source],
            patchB=boxes[f.target],
            arrowstyle="-|>,head_length=5,head_width=3.5",
            mutation_scale=1.8,
            connectionstyle=f"arc3,rad={rad}",
            linewidth=width,
            color="#3a5a80",
            alpha=0.5,
            zorder=2,
            shrinkA=3,
            shrinkB=3,
        )
        ax.add_patch(arrow)
        (x0, y0), (x1, y1) = _NODE_XY[f.source], _NODE_XY[f.target]
        if rad == 0.0 and abs(x1 - x0) < 2.5 and abs(y1 - y0) < 2.0:
            # Between neighbouring boxes the label would hide the arrow: put it beside.
            mx, my = (x0 + x1) / 2, (y0 + y1) / 2
            if abs(y1 - y0) < 1e-9:
                my += 0.3
            elif abs(x1 - x0) < 1e-9:
                mx += 0.4
        else:
            # Slide the label along the arrow until it clears the labels already placed.
            for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78):
                mx, my = _bezier((x0, y0), (x1, y1), rad, t)
                free = all(abs(mx - lx) > 0.45 or abs(my - ly) > 0.3 for lx, ly in placed)
                if free and not _inside_box(mx, my, boxes, 0.05):
                    break
        placed.append((mx, my))
        ax.text(
            mx,
            my,
            str(f.transitions),
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#3a5a80", "lw": 0.8},
        )
    return _png(fig)
