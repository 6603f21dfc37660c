"""The guideline expression language: parsing, dependency sets and the scalar interpreter.

A guideline writes its conditions, dose rules and messages as expressions over named record
fields, active states, thresholds and options, for example::

    latest("alt_xuln") > th.relapse_alt_xuln
    "induction" in active and steroid
    (days_since(steroid_start_day) or 0.0) < th.thiopurine_delay_days

The syntax is a safe subset of Python expressions, parsed with :mod:`ast`. Every name is
resolved against a :class:`Schema` when the expression is declared, so a typo fails at import
time, naming the expression, the column and what is allowed, not on a patient's day 400.

Semantics follow Python's, with one change: a missing value (``None``) makes an ordering
comparison (``<``, ``<=``, ``>``, ``>=``) false, as NaN does in numpy, so
``latest("alt_xuln") > th.relapse_alt_xuln`` is false before the first ALT. Arithmetic on a
value the schema marks as possibly missing is refused at declaration: write
``(x or 0.0)`` to say what missing means.

Each :class:`Expr` keeps its checked syntax tree and knows what it reads (:class:`Deps`). The
scalar interpreter compiles the tree once into a Python function of
``(record, thresholds, options, active)``; a vectorised interpreter can walk the same tree
with a :class:`Visitor` (the seam for issue 14).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import InvalidPathwayError

__all__ = [
    "Deps",
    "Expr",
    "ExpressionError",
    "Function",
    "Schema",
    "Template",
    "Visitor",
]

#: The compiled form of an expression: ``fn(record, thresholds, options, active)``.
Compiled = Callable[[Any, Any, Any, Set[str]], Any]

T = TypeVar("T")


class ExpressionError(InvalidPathwayError, ValueError):
    """An expression or message template is not valid (a declaration error)."""


@dataclass(frozen=True, slots=True)
class Function:
    """A function expressions may call.

    ``method`` functions are the record's own methods, called as ``record.name(*args)``;
    the others are called as ``impl(record, thresholds, options, active, *args)``.
    ``reads``, ``thresholds`` and ``options`` name the record fields, thresholds and options
    the function reads (they join the dependency set of every expression that calls it);
    ``optional`` says the result may be ``None`` (missing).
    """

    impl: Callable[..., Any] | None = None
    arity: int = 0
    method: bool = False
    optional: bool = False
    reads: frozenset[str] = frozenset()
    reads_active: bool = False
    thresholds: frozenset[str] = frozenset()
    options: frozenset[str] = frozenset()


#: Python built-ins an expression may call, with their arity (-1: any).
_BUILTINS: dict[str, tuple[Callable[..., Any], int]] = {
    "len": (len, 1),
    "min": (min, -1),
    "max": (max, -1),
    "abs": (abs, 1),
    "bool": (bool, 1),
    "sorted": (sorted, 1),
}


@dataclass(frozen=True)
class Schema:
    """The names an expression may use.

    Attributes:
        fields: record attribute -> whether it may be ``None`` (read as ``record.<name>``).
        thresholds: names readable as ``th.<name>``.
        options: names readable as ``opt.<name>``.
        states: state ids ``active`` may be tested against (empty: not checked).
        functions: callable names (record methods and guideline functions).
        derived: named expressions, usable as names and inlined where used.
        optional_derived: derived names whose value may be ``None``.
        variables: names the caller binds, read as Python variables of that name (an
            effect's payload ``value``); they may be ``None``. The compiled function takes
            them as keyword arguments (default ``None``).
    """

    fields: Mapping[str, bool]
    thresholds: frozenset[str] = frozenset()
    options: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()
    functions: Mapping[str, Function] = field(default_factory=dict)
    derived: Mapping[str, str] = field(default_factory=dict)
    variables: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Deps:
    """What an expression reads: its dependency set.

    ``states`` are the state ids it tests ``active`` against; ``any_state`` is true when it
    reads ``active`` in another way (passes it to a function), so any state change matters.
    ``calls`` lists function calls with their constant arguments, e.g.
    ``('latest', ('alt_xuln',))``.
    """

    fields: frozenset[str] = frozenset()
    thresholds: frozenset[str] = frozenset()
    options: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()
    any_state: bool = False
    functions: frozenset[str] = frozenset()
    calls: frozenset[tuple[str, tuple[Any, ...]]] = frozenset()

    def __or__(self, other: Deps) -> Deps:
        return Deps(
            self.fields | other.fields,
            self.thresholds | other.thresholds,
            self.options | other.options,
            self.states | other.states,
            self.any_state or other.any_state,
            self.functions | other.functions,
            self.calls | other.calls,
        )


_ALLOWED = (
    "and, or, not, if-else, comparisons (< <= > >= == != in, not in, is None, is not None), "
    "+ - * /, & (set intersection), calls of named functions, constants, tuples and sets "
    "of constants, th.<threshold>, opt.<option>, [constant index]"
)

_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.BitAnd: "&",
}
_CMPOPS: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}


class Visitor(Generic[T]):
    """Walks a checked expression tree; subclass per interpreter (scalar, numpy).

    ``visit`` dispatches on the node type to ``visit_<NodeType>``; a checked tree holds only
    the node types listed in the language (see :data:`_ALLOWED`).
    """

    def visit(self, node: ast.AST) -> T:
        method: Callable[[Any], T] = getattr(self, "visit_" + type(node).__name__)
        return method(node)


class _Checker:
    """Checks one tree against the schema, inlines derived names and collects deps."""

    def __init__(self, text: str, schema: Schema, where: str, stack: tuple[str, ...]) -> None:
        self.text, self.schema, self.where, self.stack = text, schema, where, stack
        self.deps = Deps()

    def fail(self, node: ast.AST | None, message: str, col: int = 0) -> ExpressionError:
        col = col or getattr(node, "col_offset", 0) + 1
        where = f"{self.where}: " if self.where else ""
        return ExpressionError(f"{where}expression {self.text!r}, column {col}: {message}")

    def unknown(self, node: ast.AST, kind: str, name: str, known: Set[str]) -> ExpressionError:
        close = difflib.get_close_matches(name, sorted(known), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return self.fail(node, f"unknown {kind} {name!r}{hint}")

    def add(self, **parts: Any) -> None:
        self.deps = self.deps | Deps(**parts)

    # --- the walk: returns (checked node, may be None) -----------------------------------

    def check(self, node: ast.AST) -> tuple[ast.expr, bool]:
        handler = getattr(self, "_" + type(node).__name__, None)
        if handler is None:
            raise self.fail(node, f"{type(node).__name__} is not allowed; allowed: {_ALLOWED}")
        result: tuple[ast.expr, bool] = handler(node)
        return result

    def _Constant(self, node: ast.Constant) -> tuple[ast.expr, bool]:
        if node.value is not None and not isinstance(node.value, str | int | float | bool):
            raise self.fail(node, f"constant {node.value!r} is not allowed")
        return node, node.value is None

    def _Name(self, node: ast.Name) -> tuple[ast.expr, bool]:
        name, schema = node.id, self.schema
        if name in schema.fields:
            self.add(fields=frozenset({name}))
            return node, schema.fields[name]
        if name == "active":
            return node, False  # what it reads is worked out on the whole tree
        if name in schema.variables:
            return node, True
        if name in schema.derived:
            if name in self.stack:
                raise self.fail(node, f"derived name {name!r} refers to itself")
            at = f"{self.where}: derived name {name!r}" if self.where else f"derived name {name!r}"
            sub = _Checker(schema.derived[name], schema, at, (*self.stack, name))
            tree, optional = sub.check(_parse(schema.derived[name], sub).body)
            self.deps = self.deps | sub.deps
            return ast.copy_location(tree, node), optional
        known = {*schema.fields, *schema.derived, *schema.variables, "active"}
        raise self.unknown(node, "name", name, known)

    def _Attribute(self, node: ast.Attribute) -> tuple[ast.expr, bool]:
        base = node.value
        if isinstance(base, ast.Name) and base.id == "th":
            if node.attr not in self.schema.thresholds:
                known = {f"th.{t}" for t in self.schema.thresholds}
                raise self.unknown(node, "threshold", f"th.{node.attr}", known)
            self.add(thresholds=frozenset({node.attr}))
            return node, False
        if isinstance(base, ast.Name) and base.id == "opt":
            if node.attr not in self.schema.options:
                known = {f"opt.{o}" for o in self.schema.options}
                raise self.unknown(node, "option", f"opt.{node.attr}", known)
            self.add(options=frozenset({node.attr}))
            return node, False
        raise self.fail(node, "only th.<threshold> and opt.<option> may be read with a dot")

    def _Call(self, node: ast.Call) -> tuple[ast.expr, bool]:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only named functions may be called")
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        name = node.func.id
        args = [self.check(a)[0] for a in node.args]
        node = ast.Call(func=node.func, args=args, keywords=[])
        if name in _BUILTINS:
            arity = _BUILTINS[name][1]
            optional = False
        elif name in self.schema.functions:
            fn = self.schema.functions[name]
            arity, optional = fn.arity, fn.optional
            consts = tuple(a.value for a in args if isinstance(a, ast.Constant))
            self.add(
                fields=fn.reads,
                thresholds=fn.thresholds,
                options=fn.options,
                functions=frozenset({name}),
                any_state=fn.reads_active,
                calls=frozenset({(name, consts)}) if len(consts) == len(args) else frozenset(),
            )
        else:
            known = {*self.schema.functions, *_BUILTINS}
            raise self.unknown(node, "function", name, known)
        if arity >= 0 and len(args) != arity:
            raise self.fail(node, f"{name}() takes {arity} argument(s), got {len(args)}")
        return node, optional

    def _BoolOp(self, node: ast.BoolOp) -> tuple[ast.expr, bool]:
        checked = [self.check(v) for v in node.values]
        # Python's and/or return an operand: missing only if the last one may be missing.
        return ast.BoolOp(op=node.op, values=[c[0] for c in checked]), checked[-1][1]

    def _UnaryOp(self, node: ast.UnaryOp) -> tuple[ast.expr, bool]:
        operand, optional = self.check(node.operand)
        if isinstance(node.op, ast.Not):
            return ast.UnaryOp(op=node.op, operand=operand), False
        if isinstance(node.op, ast.USub):
            if optional:
                raise self.fail(node, "the value may be missing: write (x or 0.0)")
            return ast.UnaryOp(op=node.op, operand=operand), False
        raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")

    def _BinOp(self, node: ast.BinOp) -> tuple[ast.expr, bool]:
        if type(node.op) not in _BINOPS:
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        (left, lopt), (right, ropt) = self.check(node.left), self.check(node.right)
        if lopt or ropt:
            raise self.fail(node, "an operand may be missing (None): write (x or 0.0)")
        if isinstance(node.op, ast.BitAnd):
            self._note_states(left, right)
        return ast.BinOp(left=left, op=node.op, right=right), False

    def _Compare(self, node: ast.Compare) -> tuple[ast.expr, bool]:
        left, lopt = self.check(node.left)
        comparators: list[ast.expr] = []
        optional = [lopt]
        for op, comp in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _CMPOPS:
                raise self.fail(node, f"comparison {type(op).__name__} is not allowed")
            checked, copt = self.check(comp)
            if isinstance(op, ast.Is | ast.IsNot) and not (
                isinstance(checked, ast.Constant) and checked.value is None
            ):
                raise self.fail(node, "'is' compares with None only")
            if isinstance(op, ast.In | ast.NotIn):
                self._note_states(left if len(comparators) == 0 else comparators[-1], checked)
            comparators.append(checked)
            optional.append(copt)
        if len(node.ops) > 1 and any(optional):
            raise self.fail(node, "a chained comparison may not read a value that may be missing")
        return ast.Compare(left=left, ops=node.ops, comparators=comparators), False

    def _note_states(self, left: ast.expr, right: ast.expr) -> None:
        """``"x" in active`` or ``active & {...}``: the states read, checked against the chart."""
        for side, other in ((left, right), (right, left)):
            if not (isinstance(side, ast.Name) and side.id == "active"):
                continue
            consts = _constants(other)
            if consts is None:
                return
            states = self.schema.states
            unknown = sorted(
                str(s) for s in consts if not (isinstance(s, str) and (not states or s in states))
            )
            if unknown:
                raise self.unknown(other, "state", str(unknown[0]), self.schema.states)
            self.add(states=frozenset(consts))

    def _IfExp(self, node: ast.IfExp) -> tuple[ast.expr, bool]:
        test = self.check(node.test)[0]
        (body, bopt), (orelse, oopt) = self.check(node.body), self.check(node.orelse)
        return ast.IfExp(test=test, body=body, orelse=orelse), bopt or oopt

    def _collection(self, node: ast.Tuple | ast.Set) -> tuple[ast.expr, bool]:
        for element in node.elts:
            if not isinstance(element, ast.Constant):
                raise self.fail(element, "tuples and sets hold constants only")
        return node, False

    def _Tuple(self, node: ast.Tuple) -> tuple[ast.expr, bool]:
        return self._collection(node)

    def _Set(self, node: ast.Set) -> tuple[ast.expr, bool]:
        return self._collection(node)

    def _Subscript(self, node: ast.Subscript) -> tuple[ast.expr, bool]:
        # Indexing a missing value fails when run: guard it (a dose's ``when``).
        value = self.check(node.value)[0]
        if not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int)):
            raise self.fail(node, "only a constant integer index is allowed")
        return ast.Subscript(value=value, slice=node.slice, ctx=ast.Load()), False


def _constants(node: ast.expr) -> frozenset[Any] | None:
    if isinstance(node, ast.Constant):
        return frozenset({node.value})
    if isinstance(node, ast.Tuple | ast.Set):
        return frozenset(e.value for e in node.elts if isinstance(e, ast.Constant))
    return None


def _parse(text: str, checker: _Checker) -> ast.Expression:
    if not isinstance(text, str):
        raise checker.fail(None, f"an expression must be text (got {type(text).__name__})")
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise checker.fail(None, f"syntax error: {exc.msg}", exc.offset or 1) from None


class _Scalar(Visitor[str]):
    """The scalar interpreter: a checked tree as Python source over ``p, th, opt, active``.

    Missing-safe ordering comparisons bind their operand once (``:=``) and test it for
    ``None``, so the compiled function is as fast as the hand-written checks it replaces.
    """

    def __init__(self, schema: Schema, optional: Callable[[ast.expr], bool]) -> None:
        self.schema, self.optional = schema, optional
        self.temps = 0
        self.globals: dict[str, Any] = {}

    def visit_Constant(self, node: ast.Constant) -> str:
        return repr(node.value)

    def visit_Name(self, node: ast.Name) -> str:
        if node.id == "active" or node.id in self.schema.variables:
            return node.id
        return f"p.{node.id}"

    def visit_Attribute(self, node: ast.Attribute) -> str:
        assert isinstance(node.value, ast.Name)
        return f"{node.value.id}.{node.attr}"

    def visit_Call(self, node: ast.Call) -> str:
        assert isinstance(node.func, ast.Name)
        name, args = node.func.id, [self.visit(a) for a in node.args]
        if name in _BUILTINS:
            self.globals[name] = _BUILTINS[name][0]
            return f"{name}({', '.join(args)})"
        fn = self.schema.functions[name]
        if fn.method:
            return f"p.{name}({', '.join(args)})"
        self.globals[f"_f_{name}"] = fn.impl
        return f"_f_{name}({', '.join(['p', 'th', 'opt', 'active', *args])})"

    def visit_BoolOp(self, node: ast.BoolOp) -> str:
        op = " and " if isinstance(node.op, ast.And) else " or "
        return "(" + op.join(self.visit(v) for v in node.values) + ")"

    def visit_UnaryOp(self, node: ast.UnaryOp) -> str:
        op = "not " if isinstance(node.op, ast.Not) else "-"
        return f"({op}{self.visit(node.operand)})"

    def visit_BinOp(self, node: ast.BinOp) -> str:
        op = _BINOPS[type(node.op)]
        return f"({self.visit(node.left)} {op} {self.visit(node.right)})"

    def visit_Compare(self, node: ast.Compare) -> str:
        operands = [node.left, *node.comparators]
        if len(node.ops) == 1 and isinstance(node.ops[0], _ORDERING):
            left, right = (self.visit(o) for o in operands)
            guards: list[str] = []
            if self.optional(node.left):
                left = self._bind(left, guards)
            if self.optional(node.comparators[0]):
                right = self._bind(right, guards)
            test = f"{left} {_CMPOPS[type(node.ops[0])]} {right}"
            return "(" + " and ".join([*guards, test]) + ")"
        parts = [self.visit(node.left)]
        for op, comp in zip(node.ops, node.comparators, strict=True):
            parts += [_CMPOPS[type(op)], self.visit(comp)]
        return "(" + " ".join(parts) + ")"

    def _bind(self, source: str, guards: list[str]) -> str:
        self.temps += 1
        name = f"_t{self.temps}"
        guards.append(f"({name} := {source}) is not None")
        return name

    def visit_IfExp(self, node: ast.IfExp) -> str:
        body, test, orelse = self.visit(node.body), self.visit(node.test), self.visit(node.orelse)
        return f"({body} if {test} else {orelse})"

    def visit_Tuple(self, node: ast.Tuple) -> str:
        return "(" + "".join(f"{self.visit(e)}, " for e in node.elts) + ")"

    def visit_Set(self, node: ast.Set) -> str:
        # A frozenset constant: built once at compile time, not per evaluation.
        name = f"_c{len(self.globals)}"
        self.globals[name] = frozenset(e.value for e in node.elts if isinstance(e, ast.Constant))
        return name

    def visit_Subscript(self, node: ast.Subscript) -> str:
        return f"{self.visit(node.value)}[{self.visit(node.slice)}]"


class Expr:
    """One checked expression: its text, tree, dependency set and compiled scalar form.

    >>> schema = Schema(fields={"alt": True}, thresholds=frozenset({"limit"}))
    >>> e = Expr("alt > th.limit", schema)
    >>> sorted(e.deps.fields), sorted(e.deps.thresholds)
    (['alt'], ['limit'])
    """

    __slots__ = ("deps", "fn", "namespace", "optional", "source", "text", "tree")

    def __init__(self, text: str, schema: Schema, where: str = "") -> None:
        checker = _Checker(text, schema, where, ())
        parsed = _parse(text, checker)
        tree, self.optional = checker.check(parsed.body)
        self.text, self.tree = text, tree
        deps = checker.deps
        if not deps.any_state and _reads_active_whole(tree):
            deps = deps | Deps(any_state=True)
        self.deps = deps
        optional = _optional_nodes(tree, schema)
        scalar = _Scalar(schema, lambda n: id(n) in optional)
        self.source = scalar.visit(tree)
        bound = "".join(f", {name}=None" for name in sorted(schema.variables))
        code = f"lambda p, th, opt, active{bound}: {self.source}"
        #: The names ``source`` refers to besides p, th, opt and active (to inline it).
        self.namespace: dict[str, Any] = scalar.globals
        self.fn: Compiled = eval(compile(code, f"<expr {text!r}>", "eval"), scalar.globals)

    def __call__(self, p: Any, th: Any, opt: Any, active: Set[str]) -> Any:
        return self.fn(p, th, opt, active)

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"


def _reads_active_whole(tree: ast.expr) -> bool:
    """``active`` used other than in ``"x" in active`` or ``active & {...}`` tests."""
    narrowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) for op in node.ops
        ):
            for operand in [node.left, *node.comparators]:
                if isinstance(operand, ast.Name) and operand.id == "active":
                    narrowed.add(id(operand))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if isinstance(side, ast.Name) and side.id == "active" and _constants(other):
                    narrowed.add(id(side))
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "active"]
    return any(id(n) not in narrowed for n in uses)


def _optional_nodes(tree: ast.expr, schema: Schema) -> set[int]:
    """Ids of the nodes whose value may be ``None`` (for the missing-safe comparisons)."""
    out: set[int] = set()

    def walk(node: ast.AST) -> bool:
        for child in ast.iter_child_nodes(node):
            walk(child)
        optional = False
        if isinstance(node, ast.Constant):
            optional = node.value is None
        elif isinstance(node, ast.Name):
            optional = schema.fields.get(node.id, False) or node.id in schema.variables
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fn = schema.functions.get(node.func.id)
            optional = fn is not None and fn.optional
        elif isinstance(node, ast.BoolOp):
            optional = id(node.values[-1]) in out
        elif isinstance(node, ast.IfExp):
            optional = id(node.body) in out or id(node.orelse) in out
        if optional:
            out.add(id(node))
        return optional

    walk(tree)
    return out


# --- message templates ---------------------------------------------------------------------

_FIELD = re.compile(r"\{\{|\}\}|\{|\}")


class Template:
    """A message with ``{expression:format}`` fields, rendered for one patient.

    Fields are expressions of the same language; ``{{`` and ``}}`` are literal braces. The
    rendering is what Python's f-string would give, so messages stay byte-identical to
    hand-written ones.

    >>> from types import SimpleNamespace as Obj
    >>> schema = Schema(fields={"dose": False}, thresholds=frozenset({"cap"}))
    >>> Template("{dose:g} mg/day > {th.cap:g}", schema).render(
    ...     Obj(dose=12.5), Obj(cap=10.0), None, frozenset())
    '12.5 mg/day > 10'
    """

    __slots__ = ("deps", "fields", "fn", "text")

    def __init__(self, text: str, schema: Schema, where: str = "") -> None:
        self.text = text
        parts: list[str] = []  # Python source pieces joined with +
        self.fields: list[Expr] = []
        deps = Deps()
        g: dict[str, Any] = {"format": format}
        literal, i = [], 0
        while i < len(text):
            ch = text[i]
            if text.startswith("{{", i) or text.startswith("}}", i):
                literal.append(ch)
                i += 2
                continue
            if ch == "}":
                raise ExpressionError(f"{where}: template {text!r}: single '}}' at {i + 1}")
            if ch != "{":
                literal.append(ch)
                i += 1
                continue
            end = _field_end(text, i, where)
            body = text[i + 1 : end]
            expr_text, spec = _split_spec(body)
            expr = Expr(expr_text, schema, f"{where}: template {text!r}" if where else "")
            self.fields.append(expr)
            deps = deps | expr.deps
            if literal:
                parts.append(repr("".join(literal)))
                literal = []
            name = f"_e{len(self.fields)}"
            g[name] = expr.fn
            parts.append(f"format({name}(p, th, opt, active), {spec!r})")
            i = end + 1
        if literal or not parts:
            parts.append(repr("".join(literal)))
        self.deps = deps
        self.fn: Compiled = eval(f"lambda p, th, opt, active: {' + '.join(parts)}", g)

    def render(self, p: Any, th: Any, opt: Any, active: Set[str]) -> str:
        """The message for this patient now."""
        text: str = self.fn(p, th, opt, active)
        return text

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


def _field_end(text: str, start: int, where: str) -> int:
    """Index of the ``}`` closing the field opened at ``start`` (quotes and brackets skipped)."""
    depth, quote, i = 0, "", start + 1
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if ch == "}" and depth == 0:
                return i
            depth -= 1
        i += 1
    raise ExpressionError(f"{where}: template {text!r}: '{{' at {start + 1} is never closed")


def _split_spec(body: str) -> tuple[str, str]:
    """``expr:spec`` split at the last ':' outside quotes and brackets."""
    depth, quote, cut = 0, "", -1
    for i, ch in enumerate(body):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0:
            cut = i
    return (body, "") if cut < 0 else (body[:cut], body[cut + 1 :])
