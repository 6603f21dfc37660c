"""Effect declarations: what a finding, timer event or clinician action does to the record.

A guideline declares each effect as a sequence of operations over its record, every value
an expression of :mod:`pathway.expr` checked against the guideline's schema (plus the
finding's payload, read as ``value``), every operation with the rule id it carries out:

* :class:`Assign` sets a field to an expression's value (``Assign("death_day", "day")``);
* :class:`~pathway.declarations.Dose`, the declaration an action's recommendation shows,
  gives a drug its dose (when its condition holds); :class:`StopDrug` removes a drug;
  :class:`ScaleDoses` multiplies every daily dose; :class:`Clear` empties a collection;
* :class:`AddTo` and :class:`RemoveFrom` add or remove a set member, :class:`Forget` a
  mapping's key;
* :class:`CallMethod` calls one of the record's declared mutators (:class:`Mutator`), the
  Python that stays Python (e.g. appending a lab panel), listed by the guideline;
* :class:`When` branches on a condition (evaluated once, before its branch runs).

Operations run in order and later ones see what earlier ones did, as statements do. What
every effect is followed by (e.g. restarting a schedule when a drug changes) is declared
once, as operations run after each effect that may read values taken before it (``before``).
An
:class:`EffectBook` compiles each effect once into one Python function of
``(record, value, thresholds, options, active)`` with the expressions inlined, so the scalar
engine runs the declarations at the speed of the hand-written effects they replace; a
vectorised interpreter walks the same operations over columns (issue 14).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Any

from .declarations import Dose
from .errors import InvalidPathwayError
from .expr import Deps, Expr, Schema

__all__ = [
    "AddTo",
    "Assign",
    "CallMethod",
    "Clear",
    "CompiledEffect",
    "EffectBook",
    "Forget",
    "Mutator",
    "Op",
    "RemoveFrom",
    "ScaleDoses",
    "StopDrug",
    "When",
]

#: The variable an effect's expressions read the finding's payload from.
PAYLOAD = "value"


@dataclass(frozen=True, slots=True)
class Assign:
    """Set record field ``field`` to the value of expression ``value``."""

    field: str
    value: str
    rule: str = ""


@dataclass(frozen=True, slots=True)
class StopDrug:
    """Remove ``drug`` (or the drug expression ``drug_expr`` names) from the doses, if there."""

    drug: str | None = None
    drug_expr: str | None = None
    rule: str = ""


@dataclass(frozen=True, slots=True)
class ScaleDoses:
    """Multiply every daily dose (those not ``None``) by the expression ``factor``."""

    factor: str
    rule: str = ""


@dataclass(frozen=True, slots=True)
class Clear:
    """Empty the collection field ``field`` (a set or mapping)."""

    field: str
    rule: str = ""


@dataclass(frozen=True, slots=True)
class AddTo:
    """Add the value of expression ``value`` to the set field ``field``."""

    field: str
    value: str
    rule: str = ""


@dataclass(frozen=True, slots=True)
class RemoveFrom:
    """Remove the value of expression ``value`` from the set field ``field`` (if there)."""

    field: str
    value: str
    rule: str = ""


@dataclass(frozen=True, slots=True)
class Forget:
    """Remove the key the expression ``key`` gives from the mapping field ``field`` (if there)."""

    field: str
    key: str
    rule: str = ""


@dataclass(frozen=True, slots=True)
class CallMethod:
    """Call the record's mutator ``method`` with the values of the expressions ``args``."""

    method: str
    args: tuple[str, ...] = ()
    rule: str = ""


@dataclass(frozen=True, slots=True)
class When:
    """Run ``then`` where ``condition`` holds, ``otherwise`` elsewhere.

    The condition is evaluated once, before the branch runs.
    """

    condition: str
    then: tuple[Op, ...]
    otherwise: tuple[Op, ...] = ()
    rule: str = ""


Op = Assign | Dose | StopDrug | ScaleDoses | Clear | AddTo | RemoveFrom | Forget | CallMethod | When


@dataclass(frozen=True, slots=True)
class Mutator:
    """A record method an effect may call: free-form Python, listed by the guideline.

    ``arity``: its argument count; ``writes``: the record fields it changes (what a columnar
    engine must update, or hand the rows concerned to the method row by row).
    """

    arity: int
    writes: frozenset[str]
    why: str = ""


# --- compiled form ----------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledEffect:
    """One effect compiled: its operations with their expressions, and its function.

    ``ops`` mirror the declaration with each expression text replaced by its :class:`Expr`
    (a :class:`When` becomes ``("when", condition, then, otherwise, rule)``); ``writes``
    are the record fields it may change; ``fn(record, value, th, opt, active)`` runs it.
    """

    kind: str
    name: str
    ops: tuple[tuple[Any, ...], ...]
    writes: frozenset[str]
    fn: Callable[[Any, Any, Any, Any, Set[str]], None]
    source: str

    def walk(self) -> Iterator[tuple[Any, ...]]:
        """Every operation, those inside :class:`When` branches included, in order."""
        yield from _walk(self.ops)


def _walk(ops: Sequence[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for op in ops:
        yield op
        if op[0] == "when":
            yield from _walk(op[2])
            yield from _walk(op[3])


class _Writer:
    """Python source of one effect function, with the names its expressions need."""

    def __init__(self, variables: Set[str] = frozenset()) -> None:
        self.bound = "".join(f", {v}={v}" for v in sorted(variables))
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {}
        self.calls = 0

    def expr(self, e: Expr) -> str:
        """``e``'s source inlined when its names fit the namespace, else a call of it."""
        clash = any(
            k in self.namespace and self.namespace[k] is not v for k, v in e.namespace.items()
        )
        if not clash:
            self.namespace.update(e.namespace)
            return e.source
        self.calls += 1
        name = f"_e{self.calls}"
        self.namespace[name] = e.fn
        return f"{name}(p, th, opt, active{self.bound})"


class EffectBook:
    """The compiled effect declarations of one guideline.

    Args:
        schema: the guideline's expression schema (the rulebook's, derived names included);
            effects may also read the payload as ``value``.
        effects: by kind (``finding``, ``timer``, ``action``), effect name -> operations.
        fields: the record fields effects may assign (not the derived properties).
        doses: the record field holding the doses, drug -> mg/day (``None``: no daily dose).
        mutators: the record methods effects may call, by name.
        before: values taken before each effect, by the name ``after`` reads them as.
        after: operations run after every effect (the same for all).
    """

    def __init__(
        self,
        schema: Schema,
        effects: Mapping[str, Mapping[str, Sequence[Op]]],
        *,
        fields: Set[str],
        doses: str,
        mutators: Mapping[str, Mutator] | None = None,
        before: Mapping[str, str] | None = None,
        after: Sequence[Op] = (),
    ) -> None:
        self.before_decl = dict(before or {})
        clash = sorted(set(self.before_decl) & ({PAYLOAD} | set(schema.fields)))
        if clash:
            raise InvalidPathwayError(f"effects: 'before' names {clash} are already names")
        self.schema = replace(
            schema, variables=schema.variables | {PAYLOAD} | set(self.before_decl)
        )
        self.fields, self.doses = frozenset(fields), doses
        if doses not in self.fields:
            raise InvalidPathwayError(f"effects: the doses field {doses!r} is not a record field")
        self.mutators = dict(mutators or {})
        self.before = {
            name: self._expr(text, f"effects: before {name!r}")
            for name, text in self.before_decl.items()
        }
        self.after_decl = tuple(after)
        #: The operations run after every effect, compiled (as in :attr:`CompiledEffect.ops`).
        self.after: tuple[tuple[Any, ...], ...] = self._ops(
            self.after_decl, "effects: after", _Writer(), set(), 1
        )
        self.effects: dict[str, dict[str, CompiledEffect]] = {
            kind: {name: self._compile(kind, name, ops) for name, ops in table.items()}
            for kind, table in effects.items()
        }

    @property
    def reads(self) -> Deps:
        """What the effects read, all of them together (their ``before`` and ``after`` too).

        The static check counts a threshold an effect reads as used (AIH's cytopenia
        recovery reads its count thresholds only here)."""
        ops = [op for table in self.effects.values() for e in table.values() for op in e.walk()]
        return self._deps(ops)

    def deps(self, kind: str, name: str) -> Deps:
        """What one effect reads, its ``before`` and ``after`` included (a vector engine
        applies an effect that reads no state to rows of many configurations at once)."""
        return self._deps(list(self.effects[kind][name].walk()))

    def _deps(self, ops: list[tuple[Any, ...]]) -> Deps:
        deps = Deps()
        exprs: list[Expr] = list(self.before.values())
        for op in [*ops, *_walk(self.after)]:
            for part in op:
                if isinstance(part, Expr):
                    exprs.append(part)
                elif isinstance(part, tuple):
                    exprs += [a for a in part if isinstance(a, Expr)]
        for expr in exprs:
            deps = deps | expr.deps
        return deps

    def functions(self, kind: str) -> dict[str, Callable[[Any, Any, Any, Any, Set[str]], None]]:
        """The effects of ``kind`` as functions ``(record, value, th, opt, active) -> None``."""
        return {name: compiled.fn for name, compiled in self.effects[kind].items()}

    # --- compiling ---------------------------------------------------------------------

    def _compile(self, kind: str, name: str, ops: Sequence[Op]) -> CompiledEffect:
        where = f"{kind} effect {name!r}"
        writer = _Writer(self.schema.variables)
        writes: set[str] = set()
        for var, expr in self.before.items():
            writer.lines.append(f"    {var} = {writer.expr(expr)}")
        compiled = self._ops(ops, where, writer, writes, 1)
        self._ops(self.after_decl, f"{where} (after)", writer, writes, 1)
        body = writer.lines or ["    return None"]
        source = "\n".join([f"def effect(p, {PAYLOAD}, th, opt, active):", *body])
        exec(compile(source, f"<effect {kind} {name}>", "exec"), writer.namespace)
        fn = writer.namespace.pop("effect")
        fn.__name__ = f"{kind}_{name}"
        fn.__doc__ = f"The declared {kind} effect {name!r} (see pathway.effects)."
        return CompiledEffect(kind, name, compiled, frozenset(writes), fn, source)

    def _expr(self, text: str, where: str) -> Expr:
        return Expr(text, self.schema, where)

    def _field(self, name: str, where: str) -> None:
        if name not in self.fields:
            raise InvalidPathwayError(
                f"{where}: {name!r} is not a record field effects may set; "
                f"expected one of {sorted(self.fields)}"
            )

    def _ops(
        self, ops: Sequence[Op], where: str, w: _Writer, writes: set[str], depth: int
    ) -> tuple[tuple[Any, ...], ...]:
        pad = "    " * depth
        out: list[tuple[Any, ...]] = []
        for i, op in enumerate(ops):
            at = f"{where}, operation {i + 1}"
            match op:
                case Assign():
                    self._field(op.field, at)
                    value = self._expr(op.value, at)
                    w.lines.append(f"{pad}p.{op.field} = {w.expr(value)}")
                    writes.add(op.field)
                    out.append(("assign", op.field, value, op.rule))
                case Dose():
                    if (op.drug is None) == (op.drug_expr is None):
                        raise InvalidPathwayError(f"{at}: give either drug or drug_expr ({op!r})")
                    when = self._expr(op.when, at) if op.when else None
                    drug = self._expr(op.drug_expr, at) if op.drug_expr else None
                    mg_day = self._expr(op.mg_day, at)
                    inner = pad
                    if when is not None:
                        w.lines.append(f"{pad}if {w.expr(when)}:")
                        inner = pad + "    "
                    if drug is None:
                        key = repr(op.drug)
                    else:  # the drug is worked out before its dose, as the rulebook does
                        w.lines.append(f"{inner}_k = {w.expr(drug)}")
                        key = "_k"
                    w.lines.append(f"{inner}p.{self.doses}[{key}] = {w.expr(mg_day)}")
                    writes.add(self.doses)
                    out.append(("dose", when, op.drug, drug, mg_day, op.rule))
                case StopDrug():
                    if (op.drug is None) == (op.drug_expr is None):
                        raise InvalidPathwayError(f"{at}: give either drug or drug_expr ({op!r})")
                    drug = self._expr(op.drug_expr, at) if op.drug_expr else None
                    key = w.expr(drug) if drug is not None else repr(op.drug)
                    w.lines.append(f"{pad}p.{self.doses}.pop({key}, None)")
                    writes.add(self.doses)
                    out.append(("stop", op.drug, drug, op.rule))
                case ScaleDoses():
                    factor = self._expr(op.factor, at)
                    w.lines += [
                        f"{pad}_f = {w.expr(factor)}",
                        f"{pad}_d = p.{self.doses}",
                        f"{pad}for _k, _v in _d.items():",
                        f"{pad}    if _v is not None:",
                        f"{pad}        _d[_k] = _v * _f",
                    ]
                    writes.add(self.doses)
                    out.append(("scale", factor, op.rule))
                case Clear():
                    self._field(op.field, at)
                    w.lines.append(f"{pad}p.{op.field}.clear()")
                    writes.add(op.field)
                    out.append(("clear", op.field, op.rule))
                case AddTo() | RemoveFrom():
                    self._field(op.field, at)
                    value = self._expr(op.value, at)
                    method = "add" if isinstance(op, AddTo) else "discard"
                    w.lines.append(f"{pad}p.{op.field}.{method}({w.expr(value)})")
                    writes.add(op.field)
                    out.append((method, op.field, value, op.rule))
                case Forget():
                    self._field(op.field, at)
                    forget = self._expr(op.key, at)
                    w.lines.append(f"{pad}p.{op.field}.pop({w.expr(forget)}, None)")
                    writes.add(op.field)
                    out.append(("forget", op.field, forget, op.rule))
                case CallMethod():
                    mutator = self.mutators.get(op.method)
                    if mutator is None:
                        raise InvalidPathwayError(
                            f"{at}: {op.method!r} is not a declared mutator; "
                            f"expected one of {sorted(self.mutators)}"
                        )
                    if len(op.args) != mutator.arity:
                        raise InvalidPathwayError(
                            f"{at}: {op.method}() takes {mutator.arity} argument(s), "
                            f"got {len(op.args)}"
                        )
                    args = tuple(self._expr(a, at) for a in op.args)
                    w.lines.append(f"{pad}p.{op.method}({', '.join(w.expr(a) for a in args)})")
                    writes.update(mutator.writes)
                    out.append(("call", op.method, args, op.rule))
                case When():
                    test = self._expr(op.condition, at)
                    w.lines.append(f"{pad}if {w.expr(test)}:")
                    start = len(w.lines)
                    then = self._ops(op.then, f"{at} (then)", w, writes, depth + 1)
                    if len(w.lines) == start:
                        w.lines.append(f"{pad}    pass")
                    otherwise: tuple[tuple[Any, ...], ...] = ()
                    if op.otherwise:
                        w.lines.append(f"{pad}else:")
                        otherwise = self._ops(
                            op.otherwise, f"{at} (otherwise)", w, writes, depth + 1
                        )
                    out.append(("when", test, then, otherwise, op.rule))
                case _:
                    raise InvalidPathwayError(f"{at}: not an effect operation ({op!r})")
        return tuple(out)
