"""The lab timeline as an inline SVG drawn on the server (no JavaScript, no chart library).

Transaminases and IgG are multiples of the upper limit of normal (x ULN) on a log scale,
over days from diagnosis; the ULN and the relapse threshold (ALT > 3 x ULN, from
:class:`pathway.Thresholds`) are drawn as reference lines, and the days of the trainee's
actions as ticks along the bottom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from pathway import PatientRecord, Thresholds

__all__ = ["Series", "lab_series", "lab_timeline_svg"]


@dataclass(frozen=True, slots=True)
class Series:
    """One line: a label, its colour, dashed or not, and ``(day, x ULN)`` points."""

    label: str
    colour: str
    points: tuple[tuple[float, float], ...]
    dashed: bool = False


_LABS = (
    ("alt_xuln", "ALT", "#c0392b"),
    ("ast_xuln", "AST", "#e67e22"),
    ("igg_xuln", "IgG", "#2471a3"),
)


def lab_series(record: PatientRecord, *, suffix: str = "", dashed: bool = False) -> list[Series]:
    """ALT, AST and IgG of a record's lab history (x ULN by day)."""
    out = []
    for name, label, colour in _LABS:
        points = tuple((p.day, v) for p in record.labs if (v := getattr(p, name)) is not None)
        if points:
            out.append(Series(label + suffix, colour, points, dashed))
    return out


def lab_timeline_svg(
    series: Sequence[Series],
    *,
    marks: Sequence[tuple[float, str]] = (),
    end_day: float | None = None,
    width: int = 640,
    height: int = 240,
    title: str = "Lab timeline",
) -> str:
    """An ``<svg>`` element: the series over days, log y axis (x ULN), action ticks."""
    # The legend sits right of the plot: room for its longest label (about 6 px a letter).
    longest = max([len(s.label) for s in series] + [8])
    left, right, top, bottom = 44, 34 + 6 * longest, 14, 30
    pw, ph = width - left - right, height - top - bottom
    days = [d for s in series for d, _ in s.points] + [d for d, _ in marks]
    values = [v for s in series for _, v in s.points if v > 0]
    x_max = max([end_day or 0.0, *days, 28.0])
    relapse = Thresholds().relapse_alt_xuln
    lo = min([0.3, *values])
    hi = max([relapse * 3, *values])
    lo_l, hi_l = math.log10(lo), math.log10(hi)

    def x(day: float) -> float:
        return left + pw * day / x_max

    def y(value: float) -> float:
        v = math.log10(max(value, lo))
        return top + ph * (1 - (v - lo_l) / (hi_l - lo_l))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="labplot" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fbfbfb" stroke="#999"/>',
    ]
    for tick in (0.3, 1, 3, 10, 30, 100):
        if lo <= tick <= hi:
            parts.append(
                f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" font-size="10" '
                f'text-anchor="end">{tick:g}</text>'
            )
    for value, label, colour in ((1.0, "ULN", "#555"), (relapse, f"{relapse:g}x ULN", "#c0392b")):
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="{colour}" stroke-dasharray="2 3" stroke-width="1"/>'
            f'<text x="{left + pw + 4}" y="{y(value) + 3:.1f}" font-size="9" '
            f'fill="{colour}">{escape(label)}</text>'
        )
    step = _nice_step(x_max)
    day = 0.0
    while day <= x_max + 1e-9:
        parts.append(
            f'<text x="{x(day):.1f}" y="{top + ph + 14}" font-size="10" '
            f'text-anchor="middle">{day:g}</text>'
        )
        day += step
    parts.append(
        f'<text x="{left + pw / 2}" y="{height - 2}" font-size="10" text-anchor="middle">'
        "days from diagnosis</text>"
        f'<text x="10" y="{top + ph / 2}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 10 {top + ph / 2})">x ULN</text>'
    )
    for day, label in marks:
        parts.append(
            f'<line x1="{x(day):.1f}" x2="{x(day):.1f}" y1="{top + ph - 8}" y2="{top + ph}" '
            f'stroke="#333" stroke-width="1.5"><title>{escape(label)}</title></line>'
        )
    for i, s in enumerate(series):
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in s.points)
        parts.append(
            f'<polyline fill="none" stroke="{s.colour}" stroke-width="2"{dash} points="{path}"/>'
        )
        for d, v in s.points:
            parts.append(
                f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="2.5" fill="{s.colour}">'
                f"<title>{escape(s.label)} day {d:g}: {v:g} x ULN</title></circle>"
            )
        ly = top + 10 + 14 * i
        parts.append(
            f'<line x1="{left + pw + 6}" x2="{left + pw + 22}" y1="{ly + 10}" y2="{ly + 10}" '
            f'stroke="{s.colour}" stroke-width="2"{dash}/>'
            f'<text x="{left + pw + 25}" y="{ly + 13}" font-size="10">{escape(s.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(span: float) -> float:
    """A round tick interval (days) giving about six ticks over ``span``."""
    raw = span / 6
    for step in (7, 14, 28, 30, 60, 90, 180, 365, 730):
        if step >= raw:
            return float(step)
    return float(math.ceil(raw / 365) * 365)
