"""The HTML coverage report: the pathway diagram coloured by coverage, and the tables.

One self-contained page (inline CSS and SVG, no scripts, nothing fetched). States and
arrows are green when some course went there, red when none did; each arrow is labelled
with its events and the number of courses (patients) that took it. Transitions that change
no state are not drawn; the tables list them. The diagram is drawn by Graphviz ``dot`` when
it is installed (``apt-get install graphviz``: a more compact layout), otherwise by
carechart itself (:mod:`pathway.diagram_svg`), so Graphviz is optional.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from typing import Any

from pathway.diagram_svg import EdgeMark, StateMark, to_svg
from pathway.structure import ChartModel

from .coverage import _TITLES, KINDS, CoverageReport

__all__ = ["coverage_dot", "coverage_svg", "render_html", "render_svg"]

_GREEN, _RED, _GREY = "#2e7d32", "#c62828", "#9e9e9e"
_FILL_OK, _FILL_NO = "#e8f5e9", "#ffebee"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def coverage_dot(report: CoverageReport) -> str:
    """The chart as Graphviz DOT, coloured by coverage, arrows labelled with patient flow."""
    m: ChartModel = report.model
    lines = [
        f"digraph {_q(m.name)} {{",
        '  graph [compound=true, rankdir=LR, fontname="Helvetica", fontsize=12, '
        "nodesep=0.25, ranksep=0.5];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]

    def body(ids: tuple[str, ...] | list[str], depth: int) -> None:
        pad = "  " * depth
        for sid in ids:
            info = m.states[sid]
            n = report.states[sid]
            ok = n > 0
            if not info.children:
                periph = ", peripheries=2" if info.kind == "final" else ""
                label = _q(f"{sid}\n{n} courses")
                lines.append(
                    f"{pad}{_q(sid)} [label={label}, "
                    f'color="{_GREEN if ok else _RED}", '
                    f'fillcolor="{_FILL_OK if ok else _FILL_NO}"{periph}];'
                )
                continue
            parallel = info.kind == "parallel"
            region = info.parent is not None and m.states[info.parent].kind == "parallel"
            style = "rounded,dashed" if region else "rounded"
            lines.append(f"{pad}subgraph {_q('cluster_' + sid)} {{")
            lines.append(
                f"{pad}  label={_q(sid + (' (parallel)' if parallel else ''))}; "
                f'style="{style}"; color="{_GREEN if ok else _RED}";'
            )
            lines.append(f'{pad}  {_q(sid)} [shape=point, style=invis, width=0.01, label=""];')
            body(list(info.children), depth + 1)
            lines.append(f"{pad}}}")

    body(m.top, 1)
    peak = max((report.transitions[t.index] for t in m.transitions), default=0)
    for t in m.transitions:
        if t.target is None:
            continue
        n = report.transitions[t.index]
        label = _q(f"{t.event} ({n})")
        attrs = [
            f"label={label}",
            f'color="{_GREEN if n else _RED}"',
            f'fontcolor="{_GREEN if n else _RED}"',
        ]
        if not n:
            attrs.append("style=dashed")
        elif peak:
            attrs.append(f"penwidth={1 + 4 * n / peak:.2f}")
        if m.states[t.source].children:
            attrs.append(f"ltail={_q('cluster_' + t.source)}")
        if m.states[t.target].children:
            attrs.append(f"lhead={_q('cluster_' + t.target)}")
        lines.append(f"  {_q(t.source)} -> {_q(t.target)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def coverage_svg(report: CoverageReport) -> str:
    """The chart coloured by coverage, drawn without Graphviz (:mod:`pathway.diagram_svg`).

    One arrow per pair of states, labelled with the courses that took any of its
    transitions; its tooltip lists each transition.
    """
    m: ChartModel = report.model
    states = {
        sid: StateMark(
            _GREEN if report.states[sid] else _RED,
            _FILL_OK if report.states[sid] else _FILL_NO,
            () if info.children else (f"{report.states[sid]} courses",),
        )
        for sid, info in m.states.items()
    }
    flows: dict[tuple[str, str], int] = {}
    for t in m.transitions:
        if t.target is not None:
            key = (t.source, t.target)
            flows[key] = flows.get(key, 0) + report.transitions[t.index]
    peak = max(flows.values(), default=0)
    edges = {
        key: EdgeMark(
            _GREEN if n else _RED,
            width=1 + 4 * n / peak if n and peak else 1.2,
            dashed=not n,
            suffix=f" ({n})",
        )
        for key, n in flows.items()
    }
    return to_svg(m, states=states, edges=edges)


def render_svg(dot_source: str) -> str | None:
    """SVG drawn by Graphviz ``dot``, or ``None`` when it is not installed or fails."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "-Tsvg"], input=dot_source, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    svg = done.stdout
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else None


_CSS = """
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial,
  sans-serif; color: #1a1a1a; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { color: #23476b; font-size: 26px; margin: 4px 0; }
h2 { color: #23476b; font-size: 20px; border-top: 2px solid #ddd; padding-top: 8px;
  margin-top: 32px; }
.muted { color: #555; font-size: 13px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: 10px 14px; min-width: 170px; }
.card b { font-size: 24px; display: block; }
.bar { height: 8px; background: #ffebee; border-radius: 4px; margin-top: 6px; }
.bar span { display: block; height: 8px; background: #2e7d32; border-radius: 4px; }
.diagram { overflow: auto; border: 1px solid #ddd; border-radius: 8px; padding: 8px; }
.diagram svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 14px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: #f2f5f8; }
td.n { text-align: right; }
.no { color: #c62828; font-weight: 600; }
.ok { color: #2e7d32; }
code { font-size: 12px; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text))


def render_html(report: CoverageReport, *, title: str = "Pathway coverage") -> str:
    """The full HTML page for ``report``."""
    cov, uni, unc = report.covered(), report.universe(), report.uncovered()
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}: {_e(report.model.name)}</h1>",
        f"<p class='muted'>{report.courses} courses: "
        + _e("; ".join(report.sources[:4]))
        + (f" and {len(report.sources) - 4} more" if len(report.sources) > 4 else "")
        + ". For research and education; not for treating patients.</p>",
        "<div class='cards'>",
    ]
    for k in (*KINDS, None):
        pct = report.percent(k)
        label = _TITLES[k] if k else "Overall"
        count = f"{len(cov[k])}/{len(uni[k])}" if k else ""
        parts.append(
            f"<div class='card'>{_e(label)}<b>{pct:.1f}%</b>"
            f"<span class='muted'>{count}</span>"
            f"<div class='bar'><span style='width:{pct:.1f}%'></span></div></div>"
        )
    parts.append("</div>")
    if report.failed:
        parts.append("<h2>Courses that stopped with an error</h2><ul>")
        parts += [f"<li><code>{_e(s)}</code>: {_e(e)}</li>" for s, e in report.failed]
        parts.append("</ul>")
    svg = render_svg(coverage_dot(report))
    drawn_by = "Graphviz"
    if svg is None:  # Graphviz is optional: carechart draws the chart itself
        svg, drawn_by = coverage_svg(report), "carechart (install Graphviz for a tighter layout)"
    parts.append("<h2>The pathway, coloured by coverage</h2>")
    parts.append(
        "<p class='muted'>Green: entered or taken by at least one course; red: never. "
        "Arrow labels: event (number of courses that took it); wider arrows carry more "
        f"courses. Transitions that change no state are listed in the tables below. Drawn "
        f"by {_e(drawn_by)}.</p>"
    )
    parts.append(f"<div class='diagram'>{svg}</div>")
    parts.append("<h2>Uncovered items</h2>")
    for k in KINDS:
        parts.append(f"<h3>{_e(_TITLES[k])} ({len(unc[k])})</h3>")
        if not unc[k]:
            parts.append("<p class='ok'>All covered.</p>")
            continue
        parts.append("<table><tr><th>item</th><th>rule ids</th></tr>")
        for item in unc[k]:
            text, rules = report.describe(k, item)
            parts.append(f"<tr><td>{_e(text)}</td><td>{_e(', '.join(rules))}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Transitions and patient flow</h2>")
    parts.append(
        "<table><tr><th>event</th><th>source</th><th>target</th><th>guards</th>"
        "<th>rule ids</th><th>courses</th></tr>"
    )
    for t in report.model.transitions:
        n = report.transitions[t.index]
        cls = "n ok" if n else "n no"
        parts.append(
            f"<tr><td>{_e(t.event)}</td><td>{_e(t.source)}</td>"
            f"<td>{_e(t.target or '(stay)')}</td>"
            f"<td>{_e(', '.join(str(g) for g in t.guards))}</td>"
            f"<td>{_e(', '.join(t.rule_ids))}</td><td class='{cls}'>{n}</td></tr>"
        )
    parts.append("</table>")
    parts.append("</main></body></html>\n")
    return "".join(parts)
