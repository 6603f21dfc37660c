"""Mermaid, Graphviz DOT and Markdown exports of the pathway, generated from the chart.

Everything here reads a guideline (:class:`~pathway.bundle.Guideline`): its chart class
(states, transitions, guard names and ``transition.rule_ids``), rule catalogue, timers,
vocabulary and the prose of its docs page (:class:`~pathway.bundle.PageText`); nothing
clinical is written twice. Without one, the default guideline of :mod:`pathway.guidelines`
is drawn. Output
is deterministic: states and transitions come in the chart's definition order, so exports
can be diffed.

``docs/pathway.md`` is :func:`render_docs_page`; regenerate it with::

    python -m pathway.diagram --write-docs docs/pathway.md

Two Mermaid quirks shape :func:`to_mermaid` (checked with Mermaid 11):

- a state is drawn inside the *last* composite block that mentions it, so every transition
  is written in the innermost block that holds both of its ends, before any nested block;
- a transition whose end is a composite state inside a parallel region crashes the
  renderer (mermaid-js/mermaid#4052), so such an end is drawn at the composite's initial
  leaf; a redirected source is marked ``(any <state>)`` in the label.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import guidelines
from .atomic import write_atomic
from .bundle import Guideline

__all__ = [
    "DOCS_COMMAND",
    "Flows",
    "TransitionRow",
    "render_docs_page",
    "rule_table_md",
    "timer_table_md",
    "to_dot",
    "to_mermaid",
    "transition_rows",
    "transition_table_md",
    "write_atomic",
]

#: Patient counts per transition, keyed by ``(source id, event, target id)``; the target is
#: ``""`` for a transition that changes no state.
Flows = Mapping[tuple[str, str, str], int]

#: The command that regenerates the docs page (named in the page and in stale-test failures).
DOCS_COMMAND = "python -m pathway.diagram --write-docs docs/pathway.md"


def _chart(chart_class: type[Any] | None) -> type[Any]:
    """``chart_class``, or the default guideline's chart."""
    return chart_class if chart_class is not None else guidelines.get().chart


def _guideline(chart_class: type[Any] | None) -> Guideline:
    """The guideline of ``chart_class`` (its bound bundle), or the default guideline."""
    if chart_class is None:
        return guidelines.get()
    found: Guideline = getattr(chart_class, "guideline", None) or guidelines.get()
    return found


@dataclass(frozen=True, slots=True)
class TransitionRow:
    """One transition of the chart, flattened for export.

    Attributes:
        event: the event id that triggers it.
        source: the source state id.
        target: the target state id, or ``""`` when the transition changes no state.
        guards: guard names in evaluation order (``not <name>`` for an ``unless`` guard).
        rule_ids: the guideline rules it encodes.
    """

    event: str
    source: str
    target: str
    guards: tuple[str, ...]
    rule_ids: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str, str]:
        """The ``(source, event, target)`` key used by :data:`Flows`."""
        return (self.source, self.event, self.target)


# --- reading the chart ------------------------------------------------------------------


def _guard_names(transition: Any) -> tuple[str, ...]:
    names: list[str] = []
    for spec in transition.cond:
        if getattr(spec, "is_convention", False):
            continue
        name = str(spec.attr_name)
        names.append(f"not {name}" if spec.expected_value is False else name)
    return tuple(names)


def transition_rows(chart_class: type[Any] | None = None) -> list[TransitionRow]:
    """Every event-triggered transition of ``chart_class``, in a stable order.

    Rows are ordered by event (in the chart's definition order), then by source state (in
    definition order), then by the order the transitions were declared. Initial transitions
    of compound states (no event) are left out.

    Args:
        chart_class: a guideline's chart class (default: the default guideline's).

    Returns:
        One row per (transition, event) pair.
    """
    chart_class = _chart(chart_class)
    event_order = {str(e): i for i, e in enumerate(chart_class.events)}
    state_order = {sid: i for i, sid in enumerate(chart_class.states_map)}
    rows: list[tuple[tuple[int, int, int], TransitionRow]] = []
    n = 0
    for state in chart_class.states_map.values():
        for transition in state.transitions:
            if not transition.event:
                continue  # initial transition of a compound state
            target = transition.target.id if transition.target is not None else ""
            guards = _guard_names(transition)
            rule_ids = tuple(getattr(transition, "rule_ids", ()))
            for event in transition.event.split():
                row = TransitionRow(event, state.id, target, guards, rule_ids)
                order = (event_order.get(event, len(event_order)), state_order[state.id], n)
                rows.append((order, row))
                n += 1
    rows.sort(key=lambda item: item[0])
    return [row for _, row in rows]


@dataclass
class _Tree:
    """The state hierarchy of a chart class, by id."""

    top: list[str]
    children: dict[str, list[str]]
    parent: dict[str, str | None]
    parallel: set[str]
    final: set[str]
    initial: dict[str | None, str]

    @classmethod
    def of(cls, chart_class: type[Any]) -> _Tree:
        children: dict[str, list[str]] = {}
        parent: dict[str, str | None] = {}
        parallel: set[str] = set()
        final: set[str] = set()
        initial: dict[str | None, str] = {}
        for state in chart_class.states_map.values():
            children[state.id] = [child.id for child in state.states]
            parent[state.id] = state.parent.id if state.parent is not None else None
            if getattr(state, "parallel", False):
                parallel.add(state.id)
            if state.final:
                final.add(state.id)
            if state.initial and state.parent is None:
                initial[None] = state.id
            elif state.initial and not getattr(state.parent, "parallel", False):
                initial[state.parent.id] = state.id
        top = [state.id for state in chart_class.states]
        return cls(top, children, parent, parallel, final, initial)

    def ancestors(self, sid: str) -> list[str]:
        """Proper ancestors of ``sid``, innermost first."""
        out: list[str] = []
        up = self.parent[sid]
        while up is not None:
            out.append(up)
            up = self.parent[up]
        return out

    def in_parallel(self, sid: str) -> bool:
        return any(a in self.parallel for a in self.ancestors(sid))

    def is_compound(self, sid: str) -> bool:
        return bool(self.children[sid])

    def path(self, sid: str) -> str:
        return " > ".join([*reversed(self.ancestors(sid)), sid])

    def scope(self, a: str, b: str) -> str | None:
        """The innermost non-parallel state holding both ``a`` and ``b`` (None: top level)."""
        if a == b:
            outer = self.ancestors(a)
        else:
            mine = set(self.ancestors(b))
            outer = [s for s in self.ancestors(a) if s in mine]
        for sid in outer:
            if sid not in self.parallel:
                return sid
        return None


def _label(row: TransitionRow, flows: Flows | None, note: str = "") -> str:
    text = row.event
    if row.guards:
        text += f" [{', '.join(row.guards)}]"
    if note:
        text += f" {note}"
    if flows is not None:
        text += f" ({flows.get(row.key, 0)})"
    return text


def _chunks(events: Sequence[str], first: str, width: int = 4) -> list[str]:
    """``events`` as comma-separated lines of ``width`` names, the first prefixed."""
    lines = [", ".join(events[i : i + width]) for i in range(0, len(events), width)]
    return [first + lines[0], *lines[1:]] if lines else []


# --- Mermaid ----------------------------------------------------------------------------


def to_mermaid(
    chart_class: type[Any] | None = None,
    *,
    flows: Flows | None = None,
    targetless: bool = False,
    direction: str = "TB",
) -> str:
    """The chart as a Mermaid ``stateDiagram-v2``.

    Compound and parallel states are nested blocks; parallel regions are separated by
    ``--``; each transition is an arrow labelled ``event [guards]`` (transitions between
    the same two states share one arrow, their labels stacked); final states lead to
    ``[*]``. Transitions that change no state are left out unless ``targetless`` is set,
    in which case they are listed compactly in one note per source state.

    Args:
        chart_class: a guideline's chart class (default: the default guideline's).
        flows: optional patient counts per ``(source, event, target)``, appended to each
            arrow's label as ``(n)``.
        targetless: also list the transitions that change no state, as notes.
        direction: Mermaid layout direction (``TB``, ``LR``, ...).

    Returns:
        The Mermaid source, ending with a newline.
    """
    chart_class = _chart(chart_class)
    tree = _Tree.of(chart_class)
    rows = transition_rows(chart_class)

    def resolve(sid: str) -> str:
        # mermaid-js/mermaid#4052: no arrows to composites inside a parallel region.
        while tree.is_compound(sid) and tree.in_parallel(sid) and sid in tree.initial:
            sid = tree.initial[sid]
        return sid

    # One arrow per (source, target): the labels of parallel transitions are stacked.
    merged: dict[tuple[str, str], list[str]] = {}
    stays: dict[str, list[str]] = {}
    for row in rows:
        if not row.target:
            stays.setdefault(row.source, [])
            if row.event not in stays[row.source]:
                stays[row.source].append(row.event)
            continue
        source, target = resolve(row.source), resolve(row.target)
        note = f"(any {row.source})" if source != row.source else ""
        merged.setdefault((source, target), []).append(_label(row, flows, note))
    arrows: dict[str | None, list[str]] = {}
    for (source, target), labels in merged.items():
        line = f"{source} --> {target} : {'<br/>'.join(labels)}"
        arrows.setdefault(tree.scope(source, target), []).append(line)

    lines = ["stateDiagram-v2", f"    direction {direction}"]

    def note_for(sid: str, pad: str) -> None:
        if not targetless or sid not in stays:
            return
        lines.append(f"{pad}note right of {sid}")
        lines.extend(f"{pad}    {chunk}" for chunk in _chunks(stays[sid], "stays on: "))
        lines.append(f"{pad}end note")

    def block(owner: str | None, ids: list[str], depth: int) -> None:
        pad = "    " * depth
        if owner in tree.initial:
            lines.append(f"{pad}[*] --> {tree.initial[owner]}")
        lines.extend(f"{pad}{arrow}" for arrow in arrows.get(owner, []))
        for sid in ids:
            if not tree.is_compound(sid):
                lines.append(f"{pad}{sid}")
                note_for(sid, pad)
                continue
            lines.append(f"{pad}state {sid} {{")
            if sid in tree.parallel:
                for i, region in enumerate(tree.children[sid]):
                    if i:
                        lines.append(f"{pad}    --")
                    block(sid, [region], depth + 1)
                    note_for(region, pad + "    ")
            else:
                block(sid, tree.children[sid], depth + 1)
            lines.append(f"{pad}}}")
            if tree.parent[sid] is None or tree.parent[sid] not in tree.parallel:
                note_for(sid, pad)
        lines.extend(f"{pad}{sid} --> [*]" for sid in ids if sid in tree.final)

    block(None, tree.top, 1)
    return "\n".join(lines) + "\n"


# --- Graphviz DOT -----------------------------------------------------------------------


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(
    chart_class: type[Any] | None = None,
    *,
    flows: Flows | None = None,
    targetless: bool = False,
    rankdir: str = "LR",
) -> str:
    """The chart as a Graphviz ``digraph``.

    Each compound or parallel state is a ``cluster_<id>`` subgraph (parallel regions are
    dashed) holding an invisible anchor node named after the state, so arrows to and from
    a composite state end at its border (``compound=true`` with ``lhead``/``ltail``).
    Initial states are marked by a small dot, final states by a double border.

    Args:
        chart_class: a guideline's chart class (default: the default guideline's).
        flows: optional patient counts per ``(source, event, target)``; each arrow's label
            gets ``(n)`` and its width grows with the count.
        targetless: list the events that change no state under each state's name.
        rankdir: Graphviz layout direction.

    Returns:
        The DOT source, ending with a newline.
    """
    chart_class = _chart(chart_class)
    tree = _Tree.of(chart_class)
    rows = transition_rows(chart_class)
    stays: dict[str, list[str]] = {}
    for row in rows:
        if not row.target and row.event not in stays.setdefault(row.source, []):
            stays[row.source].append(row.event)

    def title(sid: str) -> str:
        if targetless and sid in stays:
            return "\n".join([sid, *_chunks(stays[sid], "stays on: ")])
        return sid

    name = getattr(chart_class, "__name__", "chart")
    lines = [
        f"digraph {_q(name)} {{",
        f'    graph [compound=true, rankdir={rankdir}, fontname="Helvetica", fontsize=11];',
        '    node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];',
        '    edge [fontname="Helvetica", fontsize=9];',
    ]
    initial_edges: list[str] = []

    def start_marker(owner: str | None, pad: str) -> None:
        if owner not in tree.initial:
            return
        marker = "__start" if owner is None else f"__start_{owner}"
        lines.append(f'{pad}{_q(marker)} [shape=point, width=0.12, label=""];')
        first = tree.initial[owner]
        attrs = f" [lhead={_q('cluster_' + first)}]" if tree.is_compound(first) else ""
        initial_edges.append(f"    {_q(marker)} -> {_q(first)}{attrs};")

    def body(owner: str | None, ids: list[str], depth: int) -> None:
        pad = "    " * depth
        start_marker(owner, pad)
        for sid in ids:
            if not tree.is_compound(sid):
                extra = ", peripheries=2" if sid in tree.final else ""
                lines.append(f"{pad}{_q(sid)} [label={_q(title(sid))}{extra}];")
                continue
            region = tree.parent[sid] in tree.parallel
            kind = " (parallel)" if sid in tree.parallel else ""
            lines.append(f"{pad}subgraph {_q('cluster_' + sid)} {{")
            lines.append(f"{pad}    label={_q(title(sid) + kind)};")
            lines.append(f'{pad}    style="{"rounded,dashed" if region else "rounded"}";')
            lines.append(f'{pad}    {_q(sid)} [shape=point, style=invis, width=0.01, label=""];')
            body(sid, tree.children[sid], depth + 1)
            lines.append(f"{pad}}}")

    body(None, tree.top, 1)
    lines.extend(initial_edges)
    peak = max(flows.values(), default=0) if flows else 0
    for row in rows:
        if not row.target:
            continue
        attrs = [f"label={_q(_label(row, flows))}"]
        if tree.is_compound(row.source):
            attrs.append(f"ltail={_q('cluster_' + row.source)}")
        if tree.is_compound(row.target):
            attrs.append(f"lhead={_q('cluster_' + row.target)}")
        if flows is not None and peak > 0:
            attrs.append(f"penwidth={1 + 4 * flows.get(row.key, 0) / peak:.2f}")
        lines.append(f"    {_q(row.source)} -> {_q(row.target)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- Markdown tables --------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    out = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for ch in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ/!?":
        out = out.replace(f"<{ch}", f"&lt;{ch}")
    return out


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def _event_kind(event: str, g: Guideline) -> str:
    if event in g.findings:
        return "finding"
    if event in g.actions:
        return "action"
    if event in g.timers.events:
        return "timer"
    return "internal"


def transition_table_md(chart_class: type[Any] | None = None) -> str:
    """A Markdown table of every transition: event, kind, source, target, guards, rules.

    The target reads ``(stay)`` for a transition that changes no state. Rows are in the
    order of :func:`transition_rows`.

    Args:
        chart_class: a guideline's chart class (default: the default guideline's).

    Returns:
        The table, ending with a newline.
    """
    g = _guideline(chart_class)
    return _table(
        ("event", "kind", "source", "target", "guards", "rule ids"),
        (
            (
                _code(r.event),
                _event_kind(r.event, g),
                _code(r.source),
                _code(r.target) if r.target else "(stay)",
                ", ".join(_code(g) for g in r.guards),
                ", ".join(r.rule_ids),
            )
            for r in transition_rows(chart_class)
        ),
    )


def rule_table_md(guideline: Guideline | None = None) -> str:
    """A Markdown table of the rule catalogue: id, kind, hard/soft, tag, sources, summary.

    Args:
        guideline: whose catalogue (default: the default guideline's).

    Returns:
        The table in catalogue order, ending with a newline.
    """
    return _table(
        ("id", "kind", "hard/soft", "tag", "sources", "summary"),
        (
            (r.id, r.kind, r.strength, r.tag, ", ".join(r.sources), r.summary)
            for r in (guideline or guidelines.get()).rules.values()
        ),
    )


def _days(name: str, defaults: Any) -> str:
    return f"`{name}` ({getattr(defaults, name):g} d)"


def timer_table_md(thresholds: Any = None, guideline: Guideline | None = None) -> str:
    """A Markdown table of the declared timers, with their default intervals in days.

    Args:
        thresholds: the values to show next to each interval name (defaults if None).
        guideline: whose timers (default: the default guideline's).

    Returns:
        The table in declaration order, ending with a newline.
    """
    g = guideline or guidelines.get()
    th = thresholds if thresholds is not None else g.thresholds()
    return _table(
        ("timer", "event", "armed in", "first firing(s) after", "then every", "labs", "rule"),
        (
            (
                _code(t.id),
                _code(t.event),
                _code(t.state)
                + (f" while `{t.anchor}` is set (counted from it)" if t.anchor else ""),
                " + ".join(_days(n, th) for n in t.at_threshold),
                (_days(t.every_threshold, th) if t.every_threshold else "(once)")
                + (f" up to {_days(t.until_threshold, th)}" if t.until_threshold else ""),
                "yes" if t.labs else "no",
                t.rule_id,
            )
            for t in g.timers.timers
        ),
    )


# --- the docs page ----------------------------------------------------------------------


def _care_state_table(tree: _Tree, g: Guideline) -> str:
    return _table(
        ("care state", "where in the chart"),
        (
            (_code(sid), _code(tree.path(sid)) if sid in tree.parent else "(missing)")
            for sid in g.care_states
        ),
    )


def _care_state_note(tree: _Tree, g: Guideline) -> str:
    """A sentence naming the care states that are not in the ``care_line`` region."""
    outside = [
        f"`{sid}` ({'top level' if tree.parent[sid] is None else f'in `{tree.parent[sid]}`'})"
        for sid in g.care_states
        if sid in tree.parent and "care_line" not in tree.ancestors(sid)
    ]
    if not outside:
        return ""
    return " Not in `care_line`: " + ", ".join(outside) + "."


def _region_list(tree: _Tree, regions: Mapping[str, str]) -> str:
    lines = []
    for sid in tree.top:
        if sid in tree.parallel:
            for region in tree.children[sid]:
                text = regions.get(
                    region, "(not described yet: add it to the guideline's PageText)"
                )
                lines.append(f"- `{region}`: {text}.")
    return "\n".join(lines)


def render_docs_page(chart_class: type[Any] | None = None) -> str:
    """The whole ``docs/pathway.md`` page, generated from the chart and the catalogue.

    Args:
        chart_class: a guideline's chart class (default: the default guideline's).

    Returns:
        The Markdown page, ending with a newline.
    """
    chart_class = _chart(chart_class)
    g = _guideline(chart_class)
    text = g.page
    tree = _Tree.of(chart_class)
    parallel = next((s for s in tree.top if s in tree.parallel), "")
    finals = ", ".join(f"`{s}`" for s in tree.top if s in tree.final)
    rows = transition_rows(chart_class)
    n_stay = sum(1 for r in rows if not r.target)
    parts = [
        f"<!-- Generated from the code; do not edit by hand. Regenerate with:\n"
        f"     {DOCS_COMMAND}\n"
        f"     (tests/test_diagram.py fails when this page is stale.) -->",
        "",
        f"# {text.heading}",
        "",
        "> **carechart is for research and education. It is not a medical device and must "
        "not be used to diagnose or treat patients.**",
        "",
        f"This page describes the statechart `{chart_class.__module__}.{chart_class.__name__}`"
        " for guideline authors. "
        "Every diagram and table below is generated from the chart class, the rule "
        f"catalogue (`{text.catalogue}`) and the timers (`{text.timers_file}`).",
        "",
        "## Structure",
        "",
        f"While the patient lives, the chart is in the parallel state `{parallel}`, whose "
        "regions are all active at once:",
        "",
        _region_list(tree, text.regions),
        "",
        f"The final state {finals} ends the pathway from any state. {text.events}",
        "",
        "### Care states",
        "",
        "The care states of the shared vocabulary and where each lives in the chart."
        + _care_state_note(tree, g),
        "",
        _care_state_table(tree, g),
        "## Diagram",
        "",
        f"The chart has {len(rows)} transitions; the {n_stay} that change no state (recorded, "
        "nothing moves) are listed in the transition table, not drawn. An arrow to a "
        "composite state inside `alive` is drawn to its initial state, and an arrow from a "
        "composite state is drawn from its initial state and marked `(any <state>)` "
        "(a Mermaid limitation).",
        "",
        "```mermaid",
        to_mermaid(chart_class).rstrip("\n"),
        "```",
        "",
        "## Timers",
        "",
        "A timer is armed when the patient enters its state and cancelled when they leave it. "
        f"{text.timers} Intervals are fields of "
        f"`{g.thresholds.__module__}.{g.thresholds.__name__}` (default values shown).",
        "",
        timer_table_md(guideline=g),
        "## Transitions",
        "",
        "Each transition with its guards and the guideline rules it encodes. `(stay)`: the "
        "event is handled and recorded but no state changes.",
        "",
        transition_table_md(chart_class),
        "## Rules",
        "",
        "The rule catalogue. Tags: `V` verified against the source, `V-sec` verified "
        "against a secondary source, `R` reasoned from the sources, `MODEL` a modelling "
        "choice. Hard rules must hold; soft rules are preferences.",
        "",
        rule_table_md(g),
    ]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pathway.diagram``: write or check the docs page; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m pathway.diagram", description="Generate docs/pathway.md from the chart."
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write-docs", metavar="FILE", help="write the docs page to FILE")
    group.add_argument("--check-docs", metavar="FILE", help="exit 1 if FILE is stale")
    args = parser.parse_args(argv)
    page = render_docs_page()
    if args.write_docs:
        write_atomic(args.write_docs, page)
        return 0
    current = Path(args.check_docs).read_text(encoding="utf-8")
    if current != page:
        print(f"{args.check_docs} is stale; regenerate with: {DOCS_COMMAND}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
