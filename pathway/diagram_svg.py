"""The chart drawn as SVG by carechart itself: no Graphviz, no browser script.

A simple layered layout, deterministic (the same chart gives the same bytes):

- each compound state is a box holding its sub-states in columns, left to right: a sub-state's
  column is its distance in transitions from the initial sub-state (breadth first, siblings
  in document order), and the states of a column are ordered by the mean row of their
  predecessors;
- a parallel state stacks its regions (dashed boxes) one above the other;
- transitions between the same two states are drawn as one arrow, labelled with its events;
  an arrow to or from a compound state ends at its border. An arrow going right leaves the
  right side of its source; one going back leaves the top and arcs above; one between states
  of one column arcs on the right. Each arrow has a tooltip (``<title>``) with its events,
  guards and rule ids.

Colours, extra text lines and arrow labels can be given per state and per arrow (the coverage
report colours what was reached). Text widths are estimated from the character count (the
font is the viewer's sans-serif), so boxes are sized generously.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from . import guidelines
from .structure import ChartModel, TransitionInfo

__all__ = ["EdgeMark", "StateMark", "to_svg"]

_FONT = 11.0  # px: state names
_SMALL = 9.0  # px: arrow labels, counts
_CHAR = 0.6  # average character width as a share of the font size (sans-serif)
_LINE = 14.0  # px per text line in a state box
_PAD = 10.0  # px inside a box, around its content
_HEAD = 18.0  # px: the title line of a compound box
_COL_GAP = 70.0  # px between columns (room for arrow labels)
_ROW_GAP = 18.0  # px between the states of a column
_REGION_GAP = 12.0  # px between the regions of a parallel state
_INK, _MUTED, _FILL = "#37474f", "#78909c", "#ffffff"


@dataclass(frozen=True)
class StateMark:
    """How to draw one state: outline and fill colours and extra text lines under its name."""

    stroke: str = _INK
    fill: str = _FILL
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class EdgeMark:
    """How to draw one arrow (all transitions from one state to another).

    ``label`` replaces the default (the events), ``suffix`` is added to it (a count, say);
    ``width`` is the stroke width in px.
    """

    color: str = _MUTED
    label: str | None = None
    width: float = 1.2
    dashed: bool = False
    suffix: str = ""


@dataclass
class _Box:
    sid: str
    w: float = 0.0
    h: float = 0.0
    x: float = 0.0  # relative to the parent's content origin until placed
    y: float = 0.0
    children: list[_Box] = field(default_factory=list)

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _text_width(text: str, size: float = _FONT) -> float:
    return len(text) * size * _CHAR


def _n(value: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros (stable output)."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


class _Layout:
    def __init__(self, model: ChartModel, marks: Mapping[str, StateMark]) -> None:
        self.m = model
        self.marks = marks
        self.boxes: dict[str, _Box] = {}
        # transitions lifted to each container: (source child, target child) pairs
        self.lifted: dict[str | None, list[tuple[str, str]]] = {}
        for t in model.transitions:
            if t.target is None or t.target == t.source:
                continue
            src = [t.source, *model.ancestors(t.source)]
            dst = [t.target, *model.ancestors(t.target)]
            for container in [*model.ancestors(t.source), None]:
                a = next((s for s in src if model.states[s].parent == container), None)
                b = next((s for s in dst if model.states[s].parent == container), None)
                if a is not None and b is not None:
                    if a != b:
                        self.lifted.setdefault(container, []).append((a, b))
                    break

    def title(self, sid: str) -> str:
        kind = self.m.states[sid].kind
        return sid + (" (parallel)" if kind == "parallel" else "")

    def measure(self, sid: str) -> _Box:
        info = self.m.states[sid]
        mark = self.marks.get(sid, StateMark())
        if not info.children:
            width = max(
                [_text_width(sid), *(_text_width(line, _SMALL) for line in mark.lines), 40.0]
            )
            box = _Box(sid, width + 2 * _PAD, 12.0 + _LINE * (1 + len(mark.lines)))
        elif info.kind == "parallel":
            regions = [self.measure(c) for c in info.children]
            width = max(r.w for r in regions)
            y = 0.0
            for r in regions:
                r.w, r.x, r.y = width, 0.0, y  # regions share one width
                y += r.h + _REGION_GAP
            box = self._wrap(sid, regions, width, y - _REGION_GAP, mark)
        else:
            kids = [self.measure(c) for c in info.children]
            width, height = self._columns(sid, kids)
            box = self._wrap(sid, kids, width, height, mark)
        self.boxes[sid] = box
        return box

    def _wrap(
        self, sid: str, kids: list[_Box], width: float, height: float, mark: StateMark
    ) -> _Box:
        head = _HEAD + _LINE * len(mark.lines)
        title = max([_text_width(self.title(sid)), *(_text_width(t, _SMALL) for t in mark.lines)])
        inner = max(width, title)
        for k in kids:
            k.x += _PAD + (inner - width) / 2
            k.y += head + _PAD / 2
        return _Box(sid, inner + 2 * _PAD, head + height + 1.5 * _PAD, children=kids)

    def _columns(self, container: str | None, kids: list[_Box]) -> tuple[float, float]:
        """Place ``kids`` (siblings) in columns; return the content's width and height."""
        ids = [k.sid for k in kids]
        edges = [(a, b) for a, b in self.lifted.get(container, []) if a in ids and b in ids]
        succ: dict[str, list[str]] = {s: [] for s in ids}
        for a, b in edges:
            if b not in succ[a]:
                succ[a].append(b)
        initial = [s for s in ids if self.m.states[s].initial]
        order = initial + [s for s in ids if s not in initial]
        # rank: breadth-first depth from the initial state (then from each state not yet
        # reached, in document order), so columns stay few and the drawing stays compact
        rank: dict[str, int] = {}
        for root in order:
            if root in rank:
                continue
            rank[root] = 0 if not rank else min(rank.values())
            frontier = [root]
            while frontier:
                nxt: list[str] = []
                for s in frontier:
                    for t in succ[s]:
                        if t not in rank:
                            rank[t] = rank[s] + 1
                            nxt.append(t)
                frontier = nxt
        columns: list[list[str]] = [[] for _ in range(max(rank.values(), default=0) + 1)]
        for s in ids:
            columns[rank[s]].append(s)
        row = {s: float(i) for col in columns for i, s in enumerate(col)}
        preds: dict[str, list[str]] = {s: [] for s in ids}
        for a, b in edges:
            if rank[a] < rank[b] and a not in preds[b]:
                preds[b].append(a)
        for col in columns[1:]:  # order each column by its predecessors' mean row
            col.sort(
                key=lambda s: (
                    sum(row[p] for p in preds[s]) / len(preds[s]) if preds[s] else 1e9,
                    ids.index(s),
                )
            )
            for i, s in enumerate(col):
                row[s] = float(i)
        by_id = {k.sid: k for k in kids}
        x = 0.0
        height = 0.0
        for col in columns:
            col_w = max(by_id[s].w for s in col)
            y = 0.0
            for s in col:
                box = by_id[s]
                box.x, box.y = x + (col_w - box.w) / 2, y
                y += box.h + _ROW_GAP
            height = max(height, y - _ROW_GAP)
            x += col_w + _COL_GAP
        return x - _COL_GAP, height

    def place(self, box: _Box, dx: float, dy: float) -> None:
        """Turn relative positions into absolute ones."""
        box.x += dx
        box.y += dy
        for k in box.children:
            self.place(k, box.x, box.y)


def _edge_groups(model: ChartModel) -> dict[tuple[str, str], list[TransitionInfo]]:
    groups: dict[tuple[str, str], list[TransitionInfo]] = {}
    for t in model.transitions:
        if t.target is not None:
            groups.setdefault((t.source, t.target), []).append(t)
    return groups


def _default_label(ts: Sequence[TransitionInfo]) -> str:
    events = list(dict.fromkeys(t.event for t in ts))
    if len(events) <= 2:
        return ", ".join(events)
    return f"{events[0]}, {events[1]} +{len(events) - 2}"


def _path(a: _Box, b: _Box, lane: int) -> tuple[str, float, float]:
    """An arrow from box ``a`` to box ``b``: SVG path data and its label's position."""
    bend = 26.0 + 10.0 * lane
    if a is b:  # a transition back into the same state: a loop over its top right corner
        x0, y0 = a.x + a.w - 12, a.y
        x1, y1 = a.x + a.w, a.y + 10
        c = f"C{_n(x0)},{_n(y0 - bend)} {_n(x1 + bend)},{_n(y1)} "
        return f"M{_n(x0)},{_n(y0)} {c}{_n(x1)},{_n(y1)}", x1 + bend / 2, y0 - bend / 2
    if b.x >= a.x + a.w - 1:  # forward: right side to left side
        x0, y0, x1, y1 = a.x + a.w, a.cy, b.x, b.cy
        mid = (x0 + x1) / 2
        d = f"M{_n(x0)},{_n(y0)} C{_n(mid)},{_n(y0)} {_n(mid)},{_n(y1)} {_n(x1)},{_n(y1)}"
        return d, mid, (y0 + y1) / 2 - 3
    if a.x >= b.x + b.w - 1:  # backward: top to top, arcing above
        x0, y0, x1, y1 = a.cx, a.y, b.cx, b.y
        top = min(y0, y1) - bend
        d = f"M{_n(x0)},{_n(y0)} C{_n(x0)},{_n(top)} {_n(x1)},{_n(top)} {_n(x1)},{_n(y1)}"
        return d, (x0 + x1) / 2, top + bend / 4
    # one column (or nested boxes): right side to right side, arcing on the right
    x0, y0, x1, y1 = a.x + a.w, a.cy, b.x + b.w, b.cy
    side = max(x0, x1) + bend
    d = f"M{_n(x0)},{_n(y0)} C{_n(side)},{_n(y0)} {_n(side)},{_n(y1)} {_n(x1)},{_n(y1)}"
    return d, side - bend / 4, (y0 + y1) / 2


def _free_spot(
    taken: list[tuple[float, float, float, float]], x: float, y: float, width: float
) -> float:
    """The baseline nearest ``y`` (steps of a line, up then down) where a label centred at
    ``x`` overlaps no box or label in ``taken``; the spot found is added to ``taken``."""
    half, height = width / 2 + 2, _SMALL + 2
    for step in range(12):
        dy = (step + 1) // 2 * (height + 1) * (-1 if step % 2 else 1)
        top = y + dy - _SMALL
        box = (x - half, top, x + half, top + height)
        if all(box[2] <= t[0] or t[2] <= box[0] or box[3] <= t[1] or t[3] <= box[1] for t in taken):
            taken.append(box)
            return y + dy
    return y  # crowded everywhere nearby: keep the arrow's midpoint


def to_svg(
    chart: type[Any] | ChartModel | None = None,
    *,
    states: Mapping[str, StateMark] | None = None,
    edges: Mapping[tuple[str, str], EdgeMark] | None = None,
    title: str | None = None,
) -> str:
    """The chart as a standalone SVG document (deterministic).

    Args:
        chart: a guideline's chart class, or its :class:`ChartModel` (default: the default
            guideline's chart).
        states: how to draw states, by id (default: dark outline, white fill).
        edges: how to draw arrows, by ``(source id, target id)`` (default: grey, labelled
            with the events).
        title: the document's ``<title>`` (default: the chart class's name).

    Returns:
        The SVG text, ending with a newline.
    """
    if chart is None:
        chart = guidelines.get().chart
    model = chart if isinstance(chart, ChartModel) else ChartModel.of(chart)
    states = states or {}
    edges = edges or {}
    layout = _Layout(model, states)
    tops = [layout.measure(s) for s in model.top]
    width, height = layout._columns(None, tops)
    margin = 20.0
    top_gap = 40.0  # room for arrows that arc above the top row
    root = _Box("", width, height, children=tops)
    layout.place(root, margin, margin + top_gap)
    total_w, total_h = width + 2 * margin + 60, height + 2 * margin + top_gap + 20
    colors = sorted({m.color for m in edges.values()} | {_MUTED})
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(total_w)}" height="{_n(total_h)}" '
        f'viewBox="0 0 {_n(total_w)} {_n(total_h)}" font-family="Helvetica, Arial, sans-serif" '
        f'role="img">',
        f"<title>{escape(title or model.name)}</title>",
        "<defs>",
    ]
    for i, color in enumerate(colors):
        out.append(
            f'<marker id="arrow{i}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
            f'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" '
            f'fill="{color}"/></marker>'
        )
    out.append("</defs>")
    out.append(f'<rect width="100%" height="100%" fill="{_FILL}"/>')

    def draw(box: _Box, atomic: bool) -> None:
        """Draw the compound boxes (``atomic`` False) or the atomic ones, depth first."""
        info = model.states[box.sid]
        if bool(info.children) == atomic:
            for k in box.children:
                draw(k, atomic)
            return
        mark = states.get(box.sid, StateMark())
        dashed = info.parent is not None and model.states[info.parent].kind == "parallel"
        attrs = f'fill="{mark.fill}" stroke="{mark.stroke}" stroke-width="1.2"'
        if dashed:
            attrs += ' stroke-dasharray="5,3"'
        out.append(f'<g class="state" id="state-{escape(box.sid)}">')
        rx = 6 if info.children else 8
        out.append(
            f'<rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.w)}" height="{_n(box.h)}" '
            f'rx="{rx}" {attrs}/>'
        )
        if info.kind == "final":
            out.append(
                f'<rect x="{_n(box.x + 3)}" y="{_n(box.y + 3)}" width="{_n(box.w - 6)}" '
                f'height="{_n(box.h - 6)}" rx="6" fill="none" stroke="{mark.stroke}"/>'
            )
        if info.children:
            out.append(
                f'<text x="{_n(box.x + _PAD)}" y="{_n(box.y + 14)}" font-size="{_n(_FONT)}" '
                f'font-weight="bold" fill="{_INK}">{escape(layout.title(box.sid))}</text>'
            )
            lines_x, lines_y = box.x + _PAD, box.y + 14 + _LINE
            anchor = "start"
        else:
            out.append(
                f'<text x="{_n(box.cx)}" y="{_n(box.y + 6 + _LINE)}" font-size="{_n(_FONT)}" '
                f'text-anchor="middle" fill="{_INK}">{escape(box.sid)}</text>'
            )
            lines_x, lines_y = box.cx, box.y + 6 + 2 * _LINE
            anchor = "middle"
        for i, line in enumerate(mark.lines):
            out.append(
                f'<text x="{_n(lines_x)}" y="{_n(lines_y + i * _LINE - 2)}" '
                f'font-size="{_n(_SMALL)}" text-anchor="{anchor}" fill="{_INK}">'
                f"{escape(line)}</text>"
            )
        out.append("</g>")
        initial = [k for k in box.children if model.states[k.sid].initial]
        if info.kind == "compound" and initial:
            k = initial[0]  # the default entry: a dot with a short arrow
            out.append(
                f'<circle cx="{_n(k.x - 9)}" cy="{_n(k.cy)}" r="3.5" fill="{_INK}">'
                f"<title>initial state of {escape(box.sid)}: {escape(k.sid)}</title></circle>"
            )
        for k in box.children:
            draw(k, atomic)

    # Containers first, then the arrows, then the states over them (an arrow passing
    # behind a state is hidden there), then the arrow labels over everything.
    for box in tops:
        draw(box, atomic=False)
    labels: list[str] = []
    lanes: dict[str, int] = {}
    # Where labels may not go: atomic states, compound titles, then each label placed.
    taken = [
        (b.x, b.y, b.x + b.w, b.y + b.h)
        if not model.states[sid].children
        else (b.x, b.y, b.x + _PAD + _text_width(layout.title(sid)), b.y + _HEAD)  # its title
        for sid, b in layout.boxes.items()
    ]
    for (source, target), ts in _edge_groups(model).items():
        mark = edges.get((source, target), EdgeMark())
        a, b = layout.boxes[source], layout.boxes[target]
        lane = lanes[source] = lanes.get(source, -1) + 1
        d, lx, ly = _path(a, b, lane % 4)
        label = (mark.label if mark.label is not None else _default_label(ts)) + mark.suffix
        ly = _free_spot(taken, lx, ly, _text_width(label, _SMALL))
        tip = "; ".join(
            f"{t.event}"
            + (f" [{', '.join(str(g) for g in t.guards)}]" if t.guards else "")
            + (f" ({', '.join(t.rule_ids)})" if t.rule_ids else "")
            for t in ts
        )
        dash = ' stroke-dasharray="4,3"' if mark.dashed else ""
        marker = colors.index(mark.color)
        out.append(
            f'<g class="transition" data-source="{escape(source)}" '
            f'data-target="{escape(target)}"><title>{escape(f"{source} -> {target}: {tip}")}'
            f'</title><path d="{d}" fill="none" stroke="{mark.color}" '
            f'stroke-width="{_n(mark.width)}"{dash} marker-end="url(#arrow{marker})"/></g>'
        )
        labels.append(
            f'<text x="{_n(lx)}" y="{_n(ly)}" font-size="{_n(_SMALL)}" text-anchor="middle" '
            f'fill="{mark.color}" stroke="{_FILL}" stroke-width="3" paint-order="stroke">'
            f"{escape(label)}</text>"
        )
    for box in tops:
        draw(box, atomic=True)
    out.append('<g class="labels">')
    out.extend(labels)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
