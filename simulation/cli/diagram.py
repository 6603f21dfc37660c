"""``carechart diagram``: export the pathway chart as SVG, Mermaid, DOT or Markdown tables.

The exports themselves live in :mod:`pathway.diagram`; this module only parses the options
and writes the result to standard output or, atomically, to a file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from pathway import diagram
from pathway.bundle import Guideline
from pathway.diagram_svg import to_svg
from pathway.guidelines import get

from .options import add_guideline_option, add_subcommand, guideline_of

__all__ = ["FORMATS", "add_command", "render"]

#: Output formats, what each writes, and the export (given the guideline).
FORMATS: dict[str, tuple[str, Callable[[Guideline], str]]] = {
    "mermaid": ("Mermaid stateDiagram-v2 of the chart", lambda g: diagram.to_mermaid(g.chart)),
    "svg": ("the chart drawn as SVG by carechart (no Graphviz needed)", lambda g: to_svg(g.chart)),
    "dot": ("Graphviz DOT of the chart", lambda g: diagram.to_dot(g.chart)),
    "table": (
        "Markdown table of every transition",
        lambda g: diagram.transition_table_md(g.chart),
    ),
    "rules": ("Markdown table of the rule catalogue", diagram.rule_table_md),
    "timers": ("Markdown table of the timers", lambda g: diagram.timer_table_md(guideline=g)),
    "page": ("the whole docs/pathway.md page", lambda g: diagram.render_docs_page(g.chart)),
}


def render(fmt: str, guideline: Guideline | None = None) -> str:
    """The export named ``fmt`` (a key of :data:`FORMATS`) of ``guideline`` (default: AIH).

    Raises:
        ValueError: ``fmt`` is not a known format.
    """
    try:
        _, export = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}") from None
    return export(guideline or get())


def add_command(sub: Any) -> None:
    """Register ``carechart diagram``."""
    p = add_subcommand(
        sub,
        "diagram",
        _diagram_command,
        help="export the pathway chart (SVG, Mermaid, DOT, Markdown tables)",
        description="Export the pathway chart, generated from the code: "
        + "; ".join(f"{name}: {text}" for name, (text, _) in FORMATS.items())
        + ".",
    )
    p.add_argument(
        "--format",
        choices=tuple(FORMATS),
        default="mermaid",
        help="what to export (default: mermaid)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write to FILE (atomically) (default: standard output)",
    )
    add_guideline_option(p)


def _diagram_command(args: Any) -> int:
    text = render(args.format, guideline_of(args))
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        diagram.write_atomic(args.out, text)
    except OSError as exc:
        # Re-raised as a bare OSError (not UsageError) so that cli.main reports it in one
        # line even when cli runs as ``__main__`` and its UsageError is a different class.
        raise OSError(f"cannot write {args.out!r}: {exc.strerror or exc}") from exc
    return 0
