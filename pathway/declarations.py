"""Guideline declarations and their generic evaluation: checks, actions, invariants, tables.

A guideline declares, per clinician action, the :class:`Check` list that stands against
taking it, a care-state :class:`Gate`, a strength :class:`Row` table, a priority and
:class:`Dose` rules; and, once each, the :class:`Invariant` predicates that both refuse the
actions that would break them (:class:`Refuse`) and are monitored after each step. Every
condition, dose and message is an expression of :mod:`pathway.expr`, checked against the
guideline's :class:`~pathway.expr.Schema` when the :class:`Rulebook` is built.

Checks run in order; the breaches of those whose condition holds are returned. A check
with ``stop=True`` ends the list when it fires, and :class:`Stop` ends it without a breach.
This flat form (condition, rule id, message) is what a vectorised interpreter evaluates as
boolean masks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .errors import InvalidPathwayError
from .expr import Deps, Expr, Schema, Template

__all__ = [
    "GATE",
    "GATE_STOP",
    "Action",
    "Breach",
    "Check",
    "Dose",
    "Gate",
    "Invariant",
    "InvariantCheck",
    "Item",
    "Refuse",
    "Row",
    "Rulebook",
    "StepLike",
    "Stop",
    "Strength",
]

Strength = Literal["must", "should", "may"]
_STRENGTH_ORDER: dict[str, int] = {"must": 0, "should": 1, "may": 2}


@dataclass(frozen=True, slots=True)
class Breach:
    """One reason against an action: the rule id and what was found."""

    rule_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.message}"


@dataclass(frozen=True, slots=True)
class Check:
    """A breach of ``rule`` with ``message`` when ``when`` holds.

    ``stop``: when it fires, later checks are not run. ``level``: for indication lists,
    the strength the finding asks for.
    """

    rule: str
    when: str
    message: str
    stop: bool = False
    level: Strength | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """When ``when`` holds, the checks after it are not run (``why`` says why; no breach)."""

    when: str
    why: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """A breach of the invariant ``invariant`` when its condition holds (unless ``unless``).

    The condition is the invariant's own: one predicate refuses and is monitored.
    """

    invariant: str
    message: str
    unless: str | None = None


@dataclass(frozen=True, slots=True)
class Gate:
    """The care states outside which an action is never allowed: rule id and reason."""

    states: frozenset[str]
    rule: str
    message: str


class _GateMark:
    """Where an action's gate check sits in its check list."""

    __slots__ = ("stop",)

    def __init__(self, stop: bool) -> None:
        self.stop = stop

    def __repr__(self) -> str:
        return "GATE_STOP" if self.stop else "GATE"


#: The action's gate breach at this position of its checks.
GATE = _GateMark(stop=False)
#: The action's gate breach at this position; when breached, nothing else is checked.
GATE_STOP = _GateMark(stop=True)

Item = Check | Stop | Refuse | _GateMark


@dataclass(frozen=True, slots=True)
class Row:
    """A decision-table row: when ``when`` holds, the strength and the rules behind it.

    ``rules_expr`` (an expression giving a list of rule ids) replaces ``rules`` when the
    rules depend on the patient. The first row that holds decides; ``must`` rows come first.
    """

    when: str
    strength: Strength
    rules: tuple[str, ...] = ()
    rules_expr: str | None = None


@dataclass(frozen=True, slots=True)
class Dose:
    """A dose the action gives (mg/day): for ``drug`` (or the drug ``drug_expr`` names).

    The same declaration is shown with a recommendation and, as an operation of an effect
    (:mod:`pathway.effects`), gives the dose; ``rule`` names the dose rule.
    """

    mg_day: str
    drug: str | None = None
    drug_expr: str | None = None
    when: str | None = None
    rule: str = ""


@dataclass(frozen=True)
class Action:
    """One clinician action: checks, gate, strength table, priority, doses and effect.

    ``priority`` orders actions of equal strength (lower first); ``priority_rows`` give
    another priority when their condition holds. ``effect`` names the guideline's effect
    that carries the action out, in its effects registry (default: the action id).
    """

    id: str
    checks: tuple[Item, ...] = ()
    gate: Gate | None = None
    strength: tuple[Row, ...] = ()
    priority: int = 0
    priority_rows: tuple[tuple[str, int], ...] = ()
    doses: tuple[Dose, ...] = ()
    effect: str | None = None

    @property
    def effect_name(self) -> str:
        """The effect's name in the guideline's effects registry."""
        return self.effect or self.id


@dataclass(frozen=True)
class Invariant:
    """A safety invariant: ONE predicate, refused in actions and monitored after steps.

    Broken when ``subject`` (who it is about, e.g. ``on("budesonide")``) and ``condition``
    hold. ``name`` makes the condition usable in other expressions; actions that would make
    the subject true refuse it with :class:`Refuse`. ``after``: step names after which it is
    checked (empty: every step); ``carried_out``: only after an action actually carried out.
    ``cases`` give a more precise message than ``message`` when their condition holds (the
    first that does). ``python`` is a free-form check ``(record, thresholds, active, step
    name) -> message or None`` for what an expression cannot say; the guideline lists it.
    """

    id: str
    condition: str
    message: str
    subject: str = "True"
    name: str | None = None
    hard: bool = True
    after: frozenset[str] = frozenset()
    carried_out: bool = False
    cases: tuple[tuple[str, str], ...] = ()
    python: Callable[[Any, Any, Set[str], str], str | None] | None = None


class _CompiledCheck:
    __slots__ = ("level", "message", "rule", "stop", "when")

    def __init__(
        self,
        rule: str | None,
        when: Expr,
        message: Template | None,
        stop: bool,
        level: Strength | None,
    ) -> None:
        self.rule, self.when, self.message, self.stop, self.level = rule, when, message, stop, level


class _CompiledAction:
    __slots__ = ("checks", "decl", "doses", "gate", "priority_rows", "rows")

    def __init__(self, decl: Action) -> None:
        self.decl = decl
        self.checks: tuple[_CompiledCheck, ...] = ()
        self.gate: frozenset[str] | None = decl.gate.states if decl.gate else None
        self.rows: tuple[tuple[Expr, str, tuple[str, ...], Expr | None], ...] = ()
        self.priority_rows: tuple[tuple[Expr, int], ...] = ()
        self.doses: tuple[tuple[Expr | None, str | None, Expr | None, Expr], ...] = ()


@dataclass(frozen=True)
class _CompiledInvariant:
    decl: Invariant
    test: Expr
    message: Template
    cases: tuple[tuple[Expr, Template], ...]


Env = tuple[Any, Any, Any, Set[str]]


class StepLike(Protocol):
    """What an invariant's scope reads of the step just taken."""

    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def carried_out(self) -> bool: ...


#: One invariant as a monitor check: ``(record, thresholds, active, step) -> message``.
InvariantCheck = Callable[[Any, Any, Set[str], StepLike], str | None]


class Rulebook:
    """The compiled declarations of one guideline and their generic evaluation.

    Every method takes the environment ``(record, thresholds, options, active)``.
    ``default_action`` (e.g. ``continue``) is allowed unless another allowed action is
    mandatory now; its breaches name the rules that make them so.
    """

    def __init__(
        self,
        schema: Schema,
        actions: Sequence[Action],
        invariants: Sequence[Invariant] = (),
        *,
        lists: Mapping[str, Sequence[Check | Stop]] | None = None,
        default_action: str | None = None,
        default_strength: Row | None = None,
    ) -> None:
        self.invariant_decls = {inv.id: inv for inv in invariants}
        # Named invariant conditions become derived names of the language.
        derived = dict(schema.derived)
        for inv in invariants:
            if inv.name is not None:
                derived[inv.name] = inv.condition
        self.schema = Schema(
            fields=schema.fields,
            thresholds=schema.thresholds,
            options=schema.options,
            states=schema.states,
            functions=schema.functions,
            derived=derived,
        )
        self.default_action = default_action
        #: Everything the compiled declarations read (all expressions and messages).
        self.reads = Deps()
        self.actions: dict[str, _CompiledAction] = {}
        for action in actions:
            if action.id in self.actions:
                raise InvalidPathwayError(f"action {action.id!r} is declared twice")
            self.actions[action.id] = self._compile_action(action)
        if default_action is not None and default_action not in self.actions:
            raise InvalidPathwayError(f"default action {default_action!r} is not declared")
        self._default_rows = self._rows(
            (default_strength,) if default_strength else (), "the default strength"
        )
        self.lists = {
            name: self._checks(items, None, f"list {name!r}")
            for name, items in (lists or {}).items()
        }
        self.invariants = tuple(self._compile_invariant(inv) for inv in invariants)
        self._scoped: dict[tuple[str, bool], tuple[_CompiledInvariant, ...]] = {}
        self._others = tuple(a for a in self.actions.values() if a.decl.id != default_action)

    # --- compiling ---------------------------------------------------------------------

    def expr(self, text: str, where: str) -> Expr:
        """``text`` checked and compiled against this guideline's schema."""
        compiled = Expr(text, self.schema, where)
        self.reads = self.reads | compiled.deps
        return compiled

    def template(self, text: str, where: str) -> Template:
        """The message template ``text``, checked and compiled against the schema."""
        compiled = Template(text, self.schema, where)
        self.reads = self.reads | compiled.deps
        return compiled

    def _checks(
        self, items: Sequence[Item], decl: Action | None, where: str
    ) -> tuple[_CompiledCheck, ...]:
        out = []
        for i, item in enumerate(items):
            at = f"{where}, check {i + 1}"
            match item:
                case Check():
                    out.append(
                        _CompiledCheck(
                            item.rule,
                            self.expr(item.when, at),
                            self.template(item.message, at),
                            item.stop,
                            item.level,
                        )
                    )
                case Stop():
                    out.append(_CompiledCheck(None, self.expr(item.when, at), None, True, None))
                case Refuse():
                    inv = self.invariant_decls.get(item.invariant)
                    if inv is None:
                        raise InvalidPathwayError(f"{at}: unknown invariant {item.invariant!r}")
                    when = f"({inv.condition})"
                    if item.unless is not None:
                        when = f"{when} and not ({item.unless})"
                    message = self.template(item.message, at)
                    out.append(_CompiledCheck(inv.id, self.expr(when, at), message, False, None))
                case _GateMark():
                    if decl is None or decl.gate is None:
                        raise InvalidPathwayError(f"{at}: GATE in checks without a gate")
                    gate = decl.gate
                    states = "{" + ", ".join(repr(s) for s in sorted(gate.states)) + "}"
                    test = self.expr(f"not (active & {states})", at)
                    message = self.template(gate.message, at)
                    out.append(_CompiledCheck(gate.rule, test, message, item.stop, None))
                case _:
                    raise InvalidPathwayError(f"{at}: not a check ({item!r})")
        return tuple(out)

    def _rows(
        self, rows: Sequence[Row], where: str
    ) -> tuple[tuple[Expr, str, tuple[str, ...], Expr | None], ...]:
        seen_other = False
        out = []
        for i, row in enumerate(rows):
            at = f"{where}, row {i + 1}"
            if row.strength not in _STRENGTH_ORDER:
                raise InvalidPathwayError(
                    f"{at}: strength {row.strength!r}; expected one of {list(_STRENGTH_ORDER)}"
                )
            if row.strength == "must" and seen_other:
                raise InvalidPathwayError(f"{at}: 'must' rows come before the others")
            seen_other = seen_other or row.strength != "must"
            rules_expr = self.expr(row.rules_expr, at) if row.rules_expr else None
            out.append((self.expr(row.when, at), row.strength, row.rules, rules_expr))
        return tuple(out)

    def _compile_action(self, decl: Action) -> _CompiledAction:
        where = f"action {decl.id!r}"
        compiled = _CompiledAction(decl)
        compiled.checks = self._checks(decl.checks, decl, where)
        compiled.rows = self._rows(decl.strength, f"{where} strength")
        compiled.priority_rows = tuple(
            (self.expr(when, f"{where} priority"), level) for when, level in decl.priority_rows
        )
        for i, d in enumerate(decl.doses):
            if (d.drug is None) == (d.drug_expr is None):
                raise InvalidPathwayError(
                    f"{where}, dose {i + 1}: give either drug or drug_expr (got {d!r})"
                )
        compiled.doses = tuple(
            (
                self.expr(d.when, f"{where} dose") if d.when else None,
                d.drug,
                self.expr(d.drug_expr, f"{where} dose") if d.drug_expr else None,
                self.expr(d.mg_day, f"{where} dose"),
            )
            for d in decl.doses
        )
        return compiled

    def _compile_invariant(self, inv: Invariant) -> _CompiledInvariant:
        where = f"invariant {inv.id}"
        test = self.expr(f"({inv.subject}) and ({inv.condition})", where)
        cases = tuple(
            (self.expr(when, f"{where} case"), self.template(text, f"{where} case"))
            for when, text in inv.cases
        )
        message = self.template(inv.message, where)
        # The monitor runs after steps, where no options are in play.
        read = test.deps | message.deps
        for when, text in cases:
            read = read | when.deps | text.deps
        if read.options:
            raise InvalidPathwayError(f"{where}: reads options {sorted(read.options)}")
        return _CompiledInvariant(inv, test, message, cases)

    # --- evaluation ----------------------------------------------------------------------

    @staticmethod
    def _run(checks: tuple[_CompiledCheck, ...], env: Env) -> list[tuple[_CompiledCheck, str]]:
        p, th, opt, active = env
        found: list[tuple[_CompiledCheck, str]] = []
        for check in checks:
            if check.when.fn(p, th, opt, active):
                if check.message is not None:
                    found.append((check, check.message.fn(p, th, opt, active)))
                if check.stop:
                    break
        return found

    def rule_ids(self, action: str) -> list[str]:
        """Every rule id the declaration of ``action`` can name, in declaration order."""
        compiled = self.actions[action]
        ids = [c.rule for c in compiled.checks if c.rule]
        ids += [r for _, _, rules, _ in compiled.rows for r in rules]
        return list(dict.fromkeys(ids))

    def breaches(self, action: str, env: Env) -> list[Breach]:
        """What stands against ``action`` now (empty: allowed)."""
        if action == self.default_action:
            return self.evaluate(env)[action]
        return [Breach(c.rule or "", m) for c, m in self._run(self.actions[action].checks, env)]

    def findings(self, name: str, env: Env) -> list[tuple[str, str, Strength | None]]:
        """The named check list's findings now: (rule id, message, level)."""
        return [(c.rule or "", m, c.level) for c, m in self._run(self.lists[name], env)]

    def evaluate(self, env: Env) -> dict[str, list[Breach]]:
        """The breaches of every action at once (the default action's derived from the rest)."""
        out = {
            a.decl.id: [Breach(c.rule or "", m) for c, m in self._run(a.checks, env)]
            for a in self._others
        }
        if self.default_action is not None:
            allowed = [a for a, breaches in out.items() if not breaches]
            out[self.default_action] = self._default_breaches(allowed, env)
        return out

    def allowed(self, env: Env) -> list[str]:
        """The actions without breaches now, in declaration order (the default last).

        An action outside its gate is known to be breached without running its checks.
        """
        p, th, opt, active = env
        allowed = []
        for action in self._others:
            gate = action.gate
            if gate is not None and not active & gate:
                continue
            for check in action.checks:
                if check.when.fn(p, th, opt, active):
                    if check.message is not None:
                        break  # a breach
                    if check.stop:
                        allowed.append(action.decl.id)
                        break
            else:
                allowed.append(action.decl.id)
        if self.default_action is not None and not self._default_breaches(allowed, env):
            allowed.append(self.default_action)
        return allowed

    def _default_breaches(self, allowed: list[str], env: Env) -> list[Breach]:
        return [
            Breach(rule_id, f"{action} is required")
            for action in allowed
            if (rule_id := self.must_rule(action, env)) is not None
        ]

    def _decide(self, action: str, env: Env) -> tuple[str, list[str]] | None:
        compiled = self.actions[action]
        p, th, opt, active = env
        for when, level, rules, rules_expr in compiled.rows or self._default_rows:
            if when.fn(p, th, opt, active):
                if rules_expr is not None:
                    return level, list(rules_expr.fn(p, th, opt, active))
                return level, list(rules)
        return None

    def must_rule(self, action: str, env: Env) -> str | None:
        """The rule that makes ``action`` mandatory now, or ``None``."""
        decided = self._decide(action, env)
        if decided is None or decided[0] != "must":
            return None
        return decided[1][0] if decided[1] else None

    def strength(self, action: str, env: Env) -> tuple[Strength, list[str]]:
        """How strongly the guideline asks for an allowed ``action`` now, and why."""
        decided = self._decide(action, env)
        if decided is None:
            raise InvalidPathwayError(f"action {action!r}: no strength row holds")
        level: Any = decided[0]
        return level, decided[1]

    def priority(self, action: str, env: Env) -> int:
        """Order among actions of equal strength (lower first)."""
        compiled = self.actions[action]
        p, th, opt, active = env
        for when, level in compiled.priority_rows:
            if when.fn(p, th, opt, active):
                return level
        return compiled.decl.priority

    def rank_key(self, action: str, level: str, env: Env) -> tuple[int, int]:
        """Sort key of a recommendation: strength, then priority; the default heads the mays."""
        order = _STRENGTH_ORDER[level]
        return (order, -1 if action == self.default_action else self.priority(action, env))

    def doses(self, action: str, env: Env) -> dict[str, float | None]:
        """Doses (mg/day) ``action`` would give now, by drug."""
        p, th, opt, active = env
        out: dict[str, float | None] = {}
        for when, drug, drug_expr, mg_day in self.actions[action].doses:
            if when is not None and not when.fn(p, th, opt, active):
                continue
            name: str = drug_expr.fn(p, th, opt, active) if drug_expr is not None else drug or ""
            out[name] = mg_day.fn(p, th, opt, active)
        return out

    def invariant_check(self, rule_id: str) -> InvariantCheck:
        """The invariant ``rule_id`` as one fast monitor check (its message, or ``None``).

        Options are not in play after a step: invariants read none (checked when built).
        """
        inv = next((i for i in self.invariants if i.decl.id == rule_id), None)
        if inv is None:
            raise InvalidPathwayError(f"unknown invariant {rule_id!r}")
        decl = inv.decl
        # One function per invariant with its scope tests and condition inlined: the
        # monitor runs every invariant after every step, so a call saved is time saved.
        lines = ["def check(p, th, active, step):", "    opt = None"]
        if decl.after:
            lines.append("    if step.name not in _after: return None")
        if decl.carried_out:
            lines.append('    if not (step.kind == "action" and step.carried_out): return None')
        if decl.python is not None:
            lines.append("    return _python(p, th, active, step.name)")
        else:
            lines.append(f"    if not {inv.test.source}: return None")
            for i in range(len(inv.cases)):
                lines.append(
                    f"    if _case{i}(p, th, opt, active): return _text{i}(p, th, opt, active)"
                )
            lines.append("    return _message(p, th, opt, active)")
        namespace: dict[str, Any] = {
            **inv.test.namespace,
            "_after": decl.after,
            "_python": decl.python,
            "_message": inv.message.fn,
        }
        for i, (when, text) in enumerate(inv.cases):
            namespace[f"_case{i}"], namespace[f"_text{i}"] = when.fn, text.fn
        exec(compile("\n".join(lines), f"<invariant {rule_id}>", "exec"), namespace)
        check: InvariantCheck = namespace["check"]
        check.__name__ = f"check_{rule_id.replace('-', '_').lower()}"
        check.__doc__ = f"{rule_id}: its message when broken after a step, else None."
        return check

    def broken(self, env: Env, step_name: str, carried_out: bool) -> list[tuple[str, str]]:
        """The invariants broken after a step: (invariant id, message)."""
        key = (step_name, carried_out)
        scoped = self._scoped.get(key)
        if scoped is None:
            # The invariants in scope after this kind of step, worked out once per step name.
            scoped = self._scoped[key] = tuple(
                inv
                for inv in self.invariants
                if not (inv.decl.after and step_name not in inv.decl.after)
                and not (inv.decl.carried_out and not carried_out)
            )
        p, th, opt, active = env
        out = []
        for inv in scoped:
            python = inv.decl.python
            if python is not None:
                message = python(p, th, active, step_name)
                if message is not None:
                    out.append((inv.decl.id, message))
            elif inv.test.fn(p, th, opt, active):
                out.append((inv.decl.id, self._message(inv, env)))
        return out

    @staticmethod
    def _message(inv: _CompiledInvariant, env: Env) -> str:
        p, th, opt, active = env
        for when, text in inv.cases:
            if when.fn(p, th, opt, active):
                return text.render(p, th, opt, active)
        return inv.message.render(p, th, opt, active)
