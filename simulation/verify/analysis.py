"""Static analysis of a pathway chart and its rule catalogue, at every depth.

python-statemachine validates a chart class when it is defined, but ignores guards, checks
dead ends only at the top level and is switched off for charts loaded from files. These
checks go further (shared/DESIGN.md, "what we measured"):

- structure: every state reachable, no dead end inside compound states (leaving through an
  ancestor counts), a final state reachable from every state, every waiting care state left
  by a timer or a possible finding, valid history states, no duplicate or shadowed
  transitions, findings and timers handled where they can happen, guards that exist;
- catalogue: every rule used and every rule id known, every transition ruled, every action
  transition guarded by its own permission guard, every source known, every timer's state,
  event and thresholds known, every threshold cited and read.

The results are :class:`~simulation.verify.findings.Finding` objects; ``carechart check``
(:mod:`simulation.verify.check`) prints them. Nothing here runs the chart.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pathway.bundle import Citation, Guideline
from pathway.guidelines import get
from pathway.invariants import RuleEntry
from pathway.structure import ChartModel, TransitionInfo
from pathway.timers import Timer

from .findings import Finding

__all__ = [
    "Catalogue",
    "check_catalogue",
    "check_structure",
    "reachable_states",
    "static_findings",
]

#: Events that leave every state by definition (death); they do not count as a way out of
#: a waiting state, or every state would trivially have one.
UNIVERSAL_EVENTS: tuple[str, ...] = ("death",)

#: The parallel region whose atomic states are the patient's care states (where a patient
#: waits between visits).
CARE_REGION = "care_line"


@dataclass
class Catalogue:
    """What the chart is checked against: rules, sources, timers, thresholds, vocabulary.

    :meth:`of` reads a guideline's; :meth:`default` is the default guideline's; tests build
    altered copies.
    """

    rules: Mapping[str, RuleEntry]
    sources: Mapping[str, str]
    timers: Sequence[Timer]
    thresholds: Any
    citations: Mapping[str, Citation]
    invariants: Iterable[str]
    action_checks: Iterable[str]
    actions: Sequence[str]
    findings: Sequence[str]
    care_states: Sequence[str]
    code_paths: Sequence[Path] = field(default_factory=list)
    #: Thresholds the declared rules' expressions read (their dependency sets).
    declared_thresholds: frozenset[str] = frozenset()

    @classmethod
    def of(cls, guideline: Guideline) -> Catalogue:
        """``guideline``'s catalogue, timers, thresholds, vocabulary and source files (its
        package's, but for the modules that define the thresholds and the catalogue)."""

        def file_of(module: str) -> Path:
            return Path(str(sys.modules[module].__file__))

        package = file_of(guideline.chart.__module__).parent
        rule_module = type(next(iter(guideline.rules.values()))).__module__
        defining = {file_of(guideline.thresholds.__module__), file_of(rule_module)}
        return cls(
            rules=guideline.rules,
            sources=guideline.sources,
            timers=guideline.timers.timers,
            thresholds=guideline.thresholds(),
            citations=guideline.citations,
            invariants=tuple(guideline.invariants),
            action_checks=tuple(guideline.rulebook.actions),
            actions=guideline.actions,
            findings=tuple(guideline.findings),
            care_states=guideline.care_states,
            code_paths=sorted(p for p in package.glob("*.py") if p not in defining),
            declared_thresholds=(
                guideline.rulebook.reads.thresholds | guideline.effect_reads.thresholds
            ),
        )

    @classmethod
    def default(cls) -> Catalogue:
        """The default guideline's catalogue (see :meth:`of`)."""
        return cls.of(get())


# --- structure ------------------------------------------------------------------------------


def reachable_states(model: ChartModel) -> set[str]:
    """States that some sequence of transitions can enter, ignoring guards (a fixpoint)."""
    initial = [s for s in model.top if model.states[s].initial] or list(model.top[:1])
    reached: set[str] = set()
    for sid in initial:
        reached |= model.entered_with(sid)
    changed = True
    while changed:
        changed = False
        for t in model.transitions:
            if t.target is None or t.source not in reached:
                continue
            new = model.entered_with(t.target) - reached
            if new:
                reached |= new
                changed = True
    return reached


def _ways_out(model: ChartModel, sid: str, events: Iterable[str] | None = None) -> list[str]:
    """Transitions (labels) that leave atomic state ``sid``, optionally for some events."""
    wanted = None if events is None else set(events)
    out: list[str] = []
    for s in (sid, *model.ancestors(sid)):
        for t in model.transitions_from(s):
            if (wanted is None or t.event in wanted) and model.leaves(t, sid):
                out.append(t.label)
    return out


def check_structure(
    model: ChartModel,
    chart_class: type[Any],
    *,
    timers: Sequence[Timer] | None = None,
    findings: Sequence[str] | None = None,
    care_region: str = CARE_REGION,
) -> list[Finding]:
    """Structural findings of a chart (see the module docstring); ``timers`` and ``findings``
    default to those of the chart's guideline."""
    guideline = getattr(chart_class, "guideline", None) or get()
    timers = guideline.timers.timers if timers is None else timers
    findings = tuple(guideline.findings) if findings is None else findings
    out: list[Finding] = []
    reached = reachable_states(model)
    for sid in sorted(model.states, key=lambda s: model.states[s].order):
        if sid not in reached:
            out.append(Finding("unreachable-state", sid, f"state {sid!r} can never be entered"))
    atomic = [s for s in model.atomic_states() if model.states[s].kind != "final"]
    for sid in atomic:
        if not _ways_out(model, sid):
            path = " > ".join([*reversed(model.ancestors(sid)), sid])
            out.append(Finding("dead-end", sid, f"no transition leaves {path}, at any depth"))
    out.extend(_final_reachability(model, atomic))
    out.extend(_traps(model, atomic, timers, findings, care_region))
    out.extend(_history(model))
    out.extend(_duplicates_and_shadows(model))
    out.extend(_unhandled(model, timers, findings))
    for t in model.transitions:
        for name in t.guard_names:
            if not callable(getattr(chart_class, name, None)):
                out.append(
                    Finding(
                        "missing-guard",
                        t.key,
                        f"guard {name!r} on {t.label} is not a method of {model.name}",
                        rule_ids=t.rule_ids,
                    )
                )
    return out


def _final_reachability(model: ChartModel, atomic: list[str]) -> list[Finding]:
    finals = [s for s, info in model.states.items() if info.kind == "final"]
    if not finals:
        return []
    # Edges between atomic states: from A to every atomic state a transition leaving A enters.
    succ: dict[str, set[str]] = {}
    for sid in atomic:
        nxt: set[str] = set()
        for s in (sid, *model.ancestors(sid)):
            for t in model.transitions_from(s):
                if t.target is not None and model.leaves(t, sid):
                    nxt |= {x for x in model.entered_with(t.target) if model.is_atomic(x)}
        succ[sid] = nxt
    good = set(finals)
    changed = True
    while changed:
        changed = False
        for sid, nxt in succ.items():
            if sid not in good and nxt & good:
                good.add(sid)
                changed = True
    return [
        Finding("no-final-path", sid, f"no path from {sid!r} reaches a final state {finals}")
        for sid in atomic
        if sid not in good
    ]


def _traps(
    model: ChartModel,
    atomic: list[str],
    timers: Sequence[Timer],
    findings: Sequence[str],
    care_region: str,
) -> list[Finding]:
    out: list[Finding] = []
    finding_events = [f for f in findings if f not in UNIVERSAL_EVENTS and f in model.events]
    for sid in atomic:
        if model.region_of(sid) != care_region and care_region in model.states:
            continue
        chain = {sid, *model.ancestors(sid)}
        armed = [t for t in timers if t.state in chain]
        events = finding_events + [t.event for t in armed]
        if _ways_out(model, sid, events):
            continue
        timer_text = ", ".join(t.id for t in armed) or "none"
        out.append(
            Finding(
                "trap-state",
                sid,
                f"care state {sid!r} is left only by clinician actions: no finding and no "
                f"timer (armed: {timer_text}) moves it",
                rule_ids=tuple(dict.fromkeys(t.rule_id for t in armed)),
                details={"timers": [t.id for t in armed]},
            )
        )
    return out


def _history(model: ChartModel) -> list[Finding]:
    out: list[Finding] = []
    for hid, info in model.history.items():
        if info.parent is None or info.parent_kind not in ("compound", "parallel"):
            out.append(
                Finding(
                    "invalid-history",
                    hid,
                    f"history state {hid!r} is not inside a compound state "
                    f"(parent {info.parent!r} is {info.parent_kind})",
                )
            )
            continue
        inside = set(model.descendants(info.parent))
        for target in info.defaults:
            if target not in inside:
                out.append(
                    Finding(
                        "invalid-history",
                        hid,
                        f"history state {hid!r} defaults to {target!r}, which is not inside "
                        f"{info.parent!r}",
                    )
                )
            elif not info.deep and model.states[target].parent != info.parent:
                out.append(
                    Finding(
                        "invalid-history",
                        hid,
                        f"shallow history {hid!r} defaults to {target!r}, not a child of "
                        f"{info.parent!r}",
                    )
                )
    return out


def _duplicates_and_shadows(model: ChartModel) -> list[Finding]:
    out: list[Finding] = []
    seen: dict[str, TransitionInfo] = {}
    for t in model.transitions:
        if t.key in seen:
            out.append(
                Finding(
                    "duplicate-transition",
                    t.key,
                    f"{t.label} repeats {seen[t.key].label}",
                    rule_ids=t.rule_ids,
                )
            )
        seen.setdefault(t.key, t)
    for sid in model.states:
        by_event: dict[str, list[TransitionInfo]] = {}
        for t in model.transitions_from(sid):
            by_event.setdefault(t.event, []).append(t)
        for ts in by_event.values():
            open_ = [i for i, t in enumerate(ts) if not t.guards]
            if not open_:
                continue
            for t in ts[open_[0] + 1 :]:
                out.append(
                    Finding(
                        "shadowed-transition",
                        t.key,
                        f"{t.label} is never taken: {ts[open_[0]].label} comes first and has "
                        "no guard",
                        rule_ids=t.rule_ids,
                    )
                )
    return out


def _handled_leaves(model: ChartModel, event: str) -> dict[str, set[str]]:
    """For each parallel region (or the whole chart), the atomic states that handle ``event``."""
    out: dict[str, set[str]] = {}
    for sid in model.atomic_states():
        if model.states[sid].kind == "final":
            continue
        region = model.region_of(sid) or ""
        out.setdefault(region, set())
        if any(True for _ in model.handlers(sid, event)):
            out[region].add(sid)
    return out


def _region_leaves(model: ChartModel, region: str) -> set[str]:
    if region:
        return {s for s in model.descendants(region) if model.is_atomic(s)} or {region}
    return {
        s
        for s in model.atomic_states()
        if model.region_of(s) is None and model.states[s].kind != "final"
    }


def _unhandled(
    model: ChartModel, timers: Sequence[Timer], findings: Sequence[str]
) -> list[Finding]:
    """Findings and timer events that some reachable configuration cannot handle."""
    out: list[Finding] = []
    for event in findings:
        if event not in model.events:
            continue  # reported by the vocabulary check
        handled = _handled_leaves(model, event)
        if any(leaves == _region_leaves(model, r) for r, leaves in handled.items() if leaves):
            continue
        where = sorted(s for leaves in handled.values() for s in leaves)
        out.append(
            Finding(
                "unhandled-finding",
                event,
                f"finding {event!r} is handled only while one of {where} is active; "
                "elsewhere it is an error",
                "warning",
                details={"handled_in": where},
            )
        )
    for timer in timers:
        if timer.state not in model.states or timer.event not in model.events:
            continue  # reported by the catalogue check
        inside = [timer.state, *model.descendants(timer.state)]
        missing = [
            s
            for s in inside
            if model.is_atomic(s) and not any(True for _ in model.handlers(s, timer.event))
        ]
        if missing:
            out.append(
                Finding(
                    "unhandled-timer",
                    timer.id,
                    f"timer {timer.id!r} is armed in {timer.state!r} but its event "
                    f"{timer.event!r} is not handled in {missing}",
                    "warning",
                    (timer.rule_id,),
                    {"state": timer.state, "not_handled_in": missing},
                )
            )
    return out


# --- catalogue ------------------------------------------------------------------------------


def _code_constants(paths: Iterable[Path]) -> tuple[set[str], set[str]]:
    """String constants and attribute names used in the given Python files."""
    strings: set[str] = set()
    attrs: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
            elif isinstance(node, ast.Attribute):
                attrs.add(node.attr)
    return strings, attrs


def check_catalogue(model: ChartModel, catalogue: Catalogue) -> list[Finding]:
    """Catalogue findings: rules, sources, timers, thresholds, permissions, vocabulary."""
    out: list[Finding] = []
    rules = catalogue.rules
    used: set[str] = set()

    # Transitions: ruled, rule ids known, action transitions guarded by their permission.
    actions = set(catalogue.actions)
    for t in model.transitions:
        used.update(t.rule_ids)
        if not t.rule_ids:
            out.append(
                Finding(
                    "unruled-transition",
                    t.key,
                    f"{t.label} names no guideline rule",
                    "error" if t.guards else "warning",
                )
            )
        for rule_id in t.rule_ids:
            if rule_id not in rules:
                out.append(
                    Finding("unknown-rule", rule_id, f"{t.label} names unknown rule {rule_id!r}")
                )
        permission = f"may_{t.event}"
        names = t.guard_names
        if t.event in actions and permission not in names:
            out.append(
                Finding(
                    "unguarded-action",
                    t.key,
                    f"{t.label}: action {t.event!r} is taken without its permission guard "
                    f"{permission!r}, so the guideline's check is bypassed",
                    rule_ids=t.rule_ids,
                )
            )
        for name in names:
            if name.startswith("may_") and name != permission:
                out.append(
                    Finding(
                        "misplaced-permission",
                        t.key,
                        f"{t.label}: permission guard {name!r} guards event {t.event!r}",
                        rule_ids=t.rule_ids,
                    )
                )

    # Timers.
    for timer in catalogue.timers:
        used.add(timer.rule_id)
        problems = []
        if timer.state not in model.states:
            problems.append(f"state {timer.state!r} is not a state of {model.name}")
        if timer.event not in model.events:
            problems.append(f"event {timer.event!r} is not an event of {model.name}")
        known = {f.name for f in fields(catalogue.thresholds)}
        for interval in (*timer.at_threshold, timer.every_threshold):
            if interval is not None and interval not in known:
                problems.append(f"threshold {interval!r} does not exist")
        if timer.rule_id not in rules:
            problems.append(f"rule {timer.rule_id!r} is not catalogued")
        for problem in problems:
            out.append(
                Finding(
                    "bad-timer",
                    timer.id,
                    f"timer {timer.id!r}: {problem}",
                    "error",
                    (timer.rule_id,),
                )
            )

    # Invariants and code.
    used.update(catalogue.invariants)
    strings, attrs = _code_constants(catalogue.code_paths)
    code_ids = {s for s in strings if s in rules or _looks_like_rule(s)}
    used.update(code_ids)
    for rule_id in sorted(code_ids - set(rules)):
        out.append(
            Finding(
                "unknown-rule",
                rule_id,
                f"rule id {rule_id!r} is used in the pathway code but not catalogued",
            )
        )
    for rule_id in sorted(set(catalogue.invariants) - set(rules)):
        out.append(Finding("unknown-rule", rule_id, f"invariant {rule_id!r} is not catalogued"))
    for rule_id in rules:
        if rule_id not in used:
            out.append(
                Finding(
                    "unused-rule",
                    rule_id,
                    f"rule {rule_id!r} is catalogued but no transition, timer, invariant or "
                    "rule check names it",
                    rule_ids=(rule_id,),
                )
            )

    # Sources.
    for rule in rules.values():
        for source in rule.sources:
            if source not in catalogue.sources:
                out.append(
                    Finding(
                        "unknown-source",
                        rule.id,
                        f"rule {rule.id!r} cites unknown source {source!r}",
                        rule_ids=(rule.id,),
                    )
                )

    # Thresholds.
    threshold_names = [f.name for f in fields(catalogue.thresholds)]
    timer_names = {n for t in catalogue.timers for n in (*t.at_threshold, t.every_threshold)}
    read = attrs | strings | timer_names | catalogue.declared_thresholds
    for name in threshold_names:
        citation = catalogue.citations.get(name)
        if citation is None:
            out.append(Finding("uncited-threshold", name, f"threshold {name!r} cites no source"))
        else:
            for source in citation.sources:
                if source not in catalogue.sources:
                    out.append(
                        Finding(
                            "unknown-source",
                            name,
                            f"threshold {name!r} cites unknown source {source!r}",
                        )
                    )
        if name not in read:
            out.append(
                Finding(
                    "unused-threshold",
                    name,
                    f"threshold {name!r} is cited but no rule, dose, invariant or timer reads it",
                    "warning",
                )
            )
    for name in sorted(set(catalogue.citations) - set(threshold_names)):
        out.append(Finding("uncited-threshold", name, f"citation for unknown threshold {name!r}"))

    # Vocabulary: actions have checks and events; care states and findings exist.
    checks = set(catalogue.action_checks)
    for action in catalogue.actions:
        if action not in checks:
            out.append(
                Finding("missing-vocabulary", action, f"action {action!r} has no rule check")
            )
        if action not in model.events:
            out.append(
                Finding("missing-vocabulary", action, f"action {action!r} is not a chart event")
            )
    for state in catalogue.care_states:
        if state not in model.states:
            out.append(
                Finding("missing-vocabulary", state, f"care state {state!r} is not a chart state")
            )
    for finding in catalogue.findings:
        if finding not in model.events:
            out.append(
                Finding("missing-vocabulary", finding, f"finding {finding!r} is not a chart event")
            )
    return out


def _looks_like_rule(text: str) -> bool:
    return re.fullmatch(r"AIH-[A-Z0-9]+-[A-Z0-9]+|INV-\d\d", text) is not None


def static_findings(
    chart_class: type[Any] | None = None, catalogue: Catalogue | None = None
) -> list[Finding]:
    """Every structural and catalogue finding for ``chart_class`` (default: the default
    guideline's chart), against ``catalogue`` (default: its guideline's)."""
    guideline = getattr(chart_class, "guideline", None) or get()
    chart_class = chart_class or guideline.chart
    catalogue = catalogue or Catalogue.of(guideline)
    model = ChartModel.of(chart_class)
    return check_structure(
        model, chart_class, timers=catalogue.timers, findings=catalogue.findings
    ) + check_catalogue(model, catalogue)
