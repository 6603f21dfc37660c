"""The HTML page: one self-contained file (inline CSS, base64 PNG images, no scripts).

Everything user-visible is escaped; nothing is fetched from the network when the page is
opened, so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .tables import Table

__all__ = [
    "DISCLAIMER",
    "CalibrationRow",
    "Figure",
    "Section",
    "bullet_list",
    "calibration_table_html",
    "heading",
    "paragraph",
    "preformatted",
    "render_page",
]

DISCLAIMER = (
    "carechart is software for research and education. It is not a medical device and must "
    "not be used to diagnose, treat or make decisions about any patient. The patients in "
    "this report are simulated; the figures describe a model, not real people."
)

_CSS = """
:root { --ink: #1a1a1a; --muted: #555; --line: #d9d9d9; --accent: #23476b; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 28px; margin: 8px 0 4px; color: var(--accent); }
h2 { font-size: 22px; margin: 40px 0 8px; padding-top: 8px; border-top: 2px solid var(--line);
  color: var(--accent); }
h3 { font-size: 17px; margin: 24px 0 6px; }
p, li { max-width: 80ch; }
.notice { border: 2px solid #b45f06; background: #fff4e5; padding: 12px 16px; border-radius: 6px;
  font-weight: 600; max-width: none; }
.run { color: var(--muted); font-size: 14px; }
.alert { border-left: 6px solid #b00020; background: #fdecee; padding: 8px 12px; }
.ok { border-left: 6px solid #2e7d32; background: #edf7ee; padding: 8px 12px; }
nav ul { columns: 2; font-size: 15px; list-style: none; padding-left: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: right;
  vertical-align: top; }
th:first-child, td:first-child { text-align: left; min-width: 240px; }
th { background: #f2f5f8; font-weight: 600; }
tr:nth-child(even) td { background: #fafafa; }
td.sub { padding-left: 28px; color: #333; }
th.l, td.l { text-align: left; }
table.cal td:first-child, table.cal th:first-child { min-width: 150px; }
small { color: var(--muted); font-size: 12px; }
td.pass { color: #1b5e20; font-weight: 700; }
td.fail { color: #b00020; font-weight: 700; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: var(--muted); font-size: 14px; max-width: 90ch; }
.note { color: var(--muted); font-size: 14px; }
details { margin: 8px 0; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
@media print { h2 { page-break-before: auto; } figure { page-break-inside: avoid; } }
"""


@dataclass(frozen=True, slots=True)
class Figure:
    """A PNG image with its caption."""

    png: bytes
    alt: str
    caption: str = ""


@dataclass(frozen=True, slots=True)
class CalibrationRow:
    """One line of the calibration table (already formatted for display)."""

    source: str
    study: str
    quantity: str
    population: str
    simulated: str
    published: str
    interval: str
    interval_basis: str
    passed: bool | None


@dataclass(frozen=True, slots=True)
class Section:
    """A titled part of the page.

    ``blocks`` are shown in order: a :class:`Table`, a :class:`Figure`, or a string of HTML
    built by this module's helpers (:func:`paragraph`, :func:`bullet_list`, ...), which
    escape their text.
    """

    anchor: str
    title: str
    blocks: list[str | Table | Figure] = field(default_factory=list)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table_html(table: Table) -> str:
    align = table.align or ("left", *("right" for _ in table.header[1:]))
    style = [' class="l"' if a == "left" and i else "" for i, a in enumerate(align)]
    head = "".join(f"<th{st}>{_esc(h)}</th>" for h, st in zip(table.header, style, strict=True))
    body = []
    for row, sub in zip(table.rows, table.indent, strict=True):
        first = f'<td class="sub">{_esc(row[0])}</td>' if sub else f"<td>{_esc(row[0])}</td>"
        rest = "".join(f"<td{st}>{_esc(c)}</td>" for c, st in zip(row[1:], style[1:], strict=True))
        body.append(f"<tr>{first}{rest}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure_html(fig: Figure) -> str:
    data = base64.b64encode(fig.png).decode("ascii")
    cap = f"<figcaption>{_esc(fig.caption)}</figcaption>" if fig.caption else ""
    return f'<figure><img alt="{_esc(fig.alt)}" src="data:image/png;base64,{data}">{cap}</figure>'


def calibration_table_html(rows: Sequence[CalibrationRow]) -> str:
    """The calibration table: study, quantity, population, figures and a verdict column."""
    head = (
        '<tr><th>Study</th><th class="l">Quantity (arm)</th><th class="l">Simulated '
        "population</th><th>Simulated (n)</th><th>Published</th>"
        '<th class="l">Published 95% interval</th><th class="l">Result</th></tr>'
    )
    body = []
    for r in rows:
        if r.passed is None:
            verdict = '<td class="l">–</td>'
        elif r.passed:
            verdict = '<td class="l pass">inside</td>'
        else:
            verdict = '<td class="l fail">outside</td>'
        body.append(
            f"<tr><td>{_esc(r.study)}<br><small>{_esc(r.source)}</small></td>"
            f'<td class="l">{_esc(r.quantity)}</td><td class="l">{_esc(r.population)}</td>'
            f"<td>{_esc(r.simulated)}</td><td>{_esc(r.published)}</td>"
            f'<td class="l">{_esc(r.interval)}<br><small>{_esc(r.interval_basis)}</small></td>'
            f"{verdict}</tr>"
        )
    return f'<table class="cal"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def paragraph(text: str, css: str = "") -> str:
    """An escaped paragraph, optionally with a CSS class."""
    cls = f' class="{_esc(css)}"' if css else ""
    return f"<p{cls}>{_esc(text)}</p>"


def heading(text: str) -> str:
    """An escaped sub-heading (``<h3>``) inside a section."""
    return f"<h3>{_esc(text)}</h3>"


def bullet_list(items: Iterable[str]) -> str:
    """An escaped bullet list."""
    return "<ul>" + "".join(f"<li>{_esc(i)}</li>" for i in items) + "</ul>"


def preformatted(summary: str, text: str) -> str:
    """A collapsed block of preformatted text (for example a diagram source)."""
    return f"<details><summary>{_esc(summary)}</summary><pre>{_esc(text)}</pre></details>"


def render_page(*, title: str, run_facts: Mapping[str, Any], sections: Sequence[Section]) -> str:
    """The whole report as one HTML document.

    Args:
        title: Page title.
        run_facts: Short facts about the run (seed, version, ...) shown under the title.
        sections: The page's sections, in order; each becomes an ``<h2>`` with an anchor.

    Returns:
        The HTML text.
    """
    facts = " · ".join(f"{_esc(k)}: {_esc(v)}" for k, v in run_facts.items())
    toc = "".join(f'<li><a href="#{_esc(s.anchor)}">{_esc(s.title)}</a></li>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="notice" role="note">{_esc(DISCLAIMER)}</p>',
        f'<p class="run">{facts}</p>',
        f"<nav><strong>Contents</strong><ul>{toc}</ul></nav>",
    ]
    for s in sections:
        parts.append(f'<section id="{_esc(s.anchor)}"><h2>{_esc(s.title)}</h2>')
        for block in s.blocks:
            if isinstance(block, Table):
                parts.append(_table_html(block))
            elif isinstance(block, Figure):
                parts.append(_figure_html(block))
            else:
                parts.append(block)
        parts.append("</section>")
    parts.append(f'<p class="note">{_esc(DISCLAIMER)}</p></main></body></html>')
    return "\n".join(parts)
