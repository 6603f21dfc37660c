"""The numpy interpreter of the guideline expression language, and rulebook masks (issue 14).

The vector engine steps many patients of one chart configuration together. Here the same
checked expression trees the scalar interpreter compiles (:mod:`pathway.expr`) are walked
over a :class:`Batch`: one column per record field (numpy arrays), and one active
configuration for the whole batch or one configuration code per row (a state test is then
a lookup per row: :meth:`Batch.configured`). No clinical logic is written twice: every
check, strength row and priority of a :class:`~pathway.declarations.Rulebook` is read from
its declarations.

Values are numpy arrays of three kinds: ``bool``; ``float64``, where NaN stands for a
missing value (``None``); and ``object`` (text, collections, ``None``). The scalar semantics
hold: an ordering comparison with a missing value is false, ``and``/``or`` give an operand
(Python's short circuit, as masks), ``x or 0.0`` reads a missing ``x`` as 0.

Function calls are read, in this order, from:

1. the batch's call columns (constant arguments, e.g. ``latest("alt_xuln")``), made from the
   records on first use (:meth:`Batch.call`) or kept by a columnar engine;
2. the guideline's vector forms (:class:`Columnar`, :class:`Breached`, :class:`Listed`):
   numpy forms of functions, or functions defined by the rulebook's own lists and checks;
3. for a record method with a non-constant argument, one call column per distinct value;
4. for a function that reads nothing of the record, one call per distinct argument tuple;
5. otherwise the scalar function row by row over the batch's records, only on the rows where
   the scalar interpreter would call it (the short-circuit mask): correct, and measured.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .declarations import Invariant, Rulebook, _CompiledCheck, _CompiledInvariant
from .errors import InvalidPathwayError
from .expr import _BUILTINS, Expr, Function, Schema

__all__ = [
    "MIXED",
    "Array",
    "Batch",
    "Breached",
    "Columnar",
    "Configurations",
    "Form",
    "Listed",
    "Memo",
    "Plan",
    "Top",
    "VectorInterpreter",
    "VectorRulebook",
    "column",
    "missing",
    "truthy",
]

Array = NDArray[Any]
CallKey = tuple[str, tuple[Any, ...]]


def column(values: Sequence[Any]) -> Array:
    """Values of one field as a column: ``bool``, ``float64`` (NaN: missing) or ``object``."""
    if all(type(v) is bool for v in values):
        return np.array(values, dtype=bool)
    if all(v is None or (isinstance(v, int | float) and type(v) is not bool) for v in values):
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


class Configurations(Protocol):
    """Configuration codes -> active states, for a batch whose rows are in several
    configurations (:class:`~pathway.vector_steps.ConfigLookup` over a chart's tables)."""

    def active_of(self, code: int) -> frozenset[str]:
        """The active state ids of configuration ``code``."""
        ...

    def holds(self, state: str) -> Array:
        """Per code (index it with a code array), whether ``state`` is active."""
        ...


class _Mixed(frozenset[str]):
    """The ``active`` of a batch in several configurations: there is no one set, and any
    use as one is a bug (read :meth:`Batch.holds` or :meth:`Batch.actives`)."""

    def _refuse(self, *_: Any) -> Any:
        raise InvalidPathwayError(
            "vector batch: rows are in several configurations; read Batch.holds/actives"
        )

    __contains__ = __iter__ = __len__ = __and__ = __rand__ = _refuse


MIXED: frozenset[str] = _Mixed()


@dataclass
class Batch:
    """``n`` patient records as columns, in one chart configuration or several.

    Attributes:
        n: number of patients.
        active: the configuration's active state ids when every row shares it; for rows in
            several configurations :data:`MIXED` (see ``codes``).
        columns: record field -> column (see :func:`column`).
        calls: ``(function, constant arguments)`` -> column of its values.
        records: the records themselves, for functions without a columnar form (optional).
        codes: each row's configuration code when the rows are in several configurations
            (``None``: all in ``active``), with ``configs`` to read them: a test of a state
            is then a lookup per row, not a split of the batch.
    """

    n: int
    active: frozenset[str]
    columns: dict[str, Array] = field(default_factory=dict)
    calls: dict[CallKey, Array] = field(default_factory=dict)
    records: Sequence[Any] | None = None
    #: Tests of one field against constants (``response == "x"``, ``"x" in intolerant``,
    #: ``len(drugs)``), worked out once per batch: a columnar engine keeps such columns.
    #: A batch is a snapshot: clear this when a column changes.
    derived: dict[tuple[Any, ...], Array] = field(default_factory=dict)
    codes: Array | None = None
    configs: Configurations | None = None

    def configured(self, codes: Array, configs: Configurations) -> None:
        """Give the rows' configuration ``codes``: one code keeps the fast path (one
        ``active`` set), several make the batch mixed (:data:`MIXED`)."""
        codes = np.asarray(codes, dtype=np.int64)
        if len(codes) and (codes == codes[0]).all():
            self.active, self.codes = configs.active_of(int(codes[0])), None
        else:
            self.active, self.codes = MIXED, codes
        self.configs = configs

    @property
    def mixed(self) -> bool:
        """Whether the rows are in several configurations."""
        return self.codes is not None

    def holds(self, state: str) -> Array | bool:
        """Whether ``state`` is active: one bool, or per row for a mixed batch."""
        if self.codes is None:
            return state in self.active
        assert self.configs is not None
        return np.asarray(self.configs.holds(state)[self.codes], dtype=bool)

    def holds_any(self, states: Iterable[str]) -> Array | bool:
        """Whether any of ``states`` is active (``active & states``), as :meth:`holds`."""
        if self.codes is None:
            return bool(self.active & frozenset(states))
        out = np.zeros(self.n, dtype=bool)
        for s in states:
            out |= self.holds(s)
        return out

    def actives(self) -> list[frozenset[str]]:
        """Each row's active states (for Python that reads them row by row)."""
        if self.codes is None:
            return [self.active] * self.n
        assert self.configs is not None
        active_of = self.configs.active_of
        return [active_of(c) for c in self.codes.tolist()]

    def like(self, columns: dict[str, Array], n: int | None = None) -> Batch:
        """A batch over other ``columns`` with these rows' configurations and records."""
        return Batch(
            self.n if n is None else n,
            self.active,
            columns,
            self.calls,
            self.records,
            codes=self.codes,
            configs=self.configs,
        )

    @classmethod
    def from_records(
        cls, records: Sequence[Any], active: Set[str], schema: Schema, reads: Iterable[str]
    ) -> Batch:
        """Columns for the fields ``reads`` made from the records now; other fields and record
        method calls (e.g. ``latest("alt_xuln")``) are made from them on first use."""
        batch = cls(len(records), frozenset(active), records=records)
        for name in reads:
            if name in schema.fields:
                batch.columns[name] = column([getattr(r, name) for r in records])
        return batch

    def column(self, name: str) -> Array:
        """The column of field ``name`` (made from the records on first use)."""
        col = self.columns.get(name)
        if col is None:
            if self.records is None:
                raise InvalidPathwayError(f"vector batch: no column {name!r} and no records")
            col = self.columns[name] = column([getattr(r, name) for r in self.records])
        return col

    def item(self, name: str, key: str) -> Array:
        """The column of ``record.<name>.get(key)`` (a dict field: ``entered``,
        ``timers_fired``; NaN or ``None`` where the key is absent), kept as column
        ``"<name>[<key>]"``."""
        label = f"{name}[{key}]"
        col = self.columns.get(label)
        if col is None:
            col = self.columns[label] = column([v.get(key) for v in self._values(name, label)])
        return col

    def attr(self, name: str, attribute: str) -> Array:
        """The column of ``record.<name>.<attribute>`` (a field holding an object or
        ``None``, e.g. ``treatment_baseline``; NaN or ``None`` where it is ``None``), kept as
        column ``"<name>.<attribute>"``."""
        label = f"{name}.{attribute}"
        col = self.columns.get(label)
        if col is None:
            values = self._values(name, label)
            col = self.columns[label] = column(
                [None if v is None else getattr(v, attribute) for v in values]
            )
        return col

    def _values(self, name: str, label: str) -> list[Any]:
        """Field ``name``'s values: from its (object) column when there is one, else from
        the records (``label``: the column wanted, for the error)."""
        whole = self.columns.get(name)
        if whole is not None:
            return list(_objects(whole).tolist())  # NaN: None
        return [getattr(r, name) for r in self._records(label)]

    def _records(self, label: str) -> Sequence[Any]:
        if self.records is None:
            raise InvalidPathwayError(f"vector batch: no column {label!r} and no records")
        return self.records

    def call(self, name: str, args: tuple[Any, ...]) -> Array:
        """The column of record method ``name(*args)`` (made from the records on first use)."""
        key = (name, args)
        col = self.calls.get(key)
        if col is None:
            if self.records is None:
                raise InvalidPathwayError(f"vector batch: no column for {name}{args!r}")
            col = self.calls[key] = column([getattr(r, name)(*args) for r in self.records])
        return col


# --- vector forms of guideline functions -----------------------------------------------------


@dataclass(frozen=True)
class Columnar:
    """A numpy form of a function: ``fn(interpreter, *argument arrays) -> array``.

    The interpreter gives the batch (``vi.batch``), thresholds and options (``vi.th``,
    ``vi.opt``) and the rows whose value matters (``vi.mask``).
    """

    fn: Callable[..., Array]


@dataclass(frozen=True)
class Breached:
    """The function is ``bool(rulebook.breaches(action, env))``."""

    action: str


@dataclass(frozen=True)
class Listed:
    """The function reads the findings of the rulebook's check list ``name``.

    ``rules=False``: whether there is any finding. ``rules=True``: the list of the findings'
    rule ids, only those of strength ``level`` when given, only the first when ``first``.
    """

    name: str
    rules: bool = False
    level: str | None = None
    first: bool = False


Form = Columnar | Breached | Listed


# --- value helpers -------------------------------------------------------------------------


def _arr(x: Any) -> Array:
    if isinstance(x, np.ndarray):
        return x
    if x is None or isinstance(x, str | tuple | frozenset | set | list | dict):
        out = np.empty((), dtype=object)
        out[()] = x
        return out
    return np.asarray(x)


def _full(a: Array, n: int) -> Array:
    """``a`` as an array of length ``n`` (most values already are: no numpy call then)."""
    return a if a.shape == (n,) else np.broadcast_to(a, (n,))


def _some(a: Array) -> bool:
    """Whether any element of the boolean array holds (cheaper than ``a.any()`` on the
    small arrays of small groups)."""
    return bool(np.count_nonzero(a))


def _objects(a: Array) -> Array:
    """``a`` as an object array, NaN read as ``None`` (the scalar value)."""
    if a.dtype == object:
        return a
    if a.dtype.kind == "f":
        out = a.astype(object)
        out[np.isnan(a)] = None
        return out
    return a.astype(object)


def truthy(x: Any) -> Array:
    """Python truthiness, elementwise (NaN, i.e. ``None``, is false)."""
    a = _arr(x)
    if a.dtype == bool:
        return a
    if a.dtype.kind in "iu":
        return np.asarray(a != 0)
    if a.dtype.kind == "f":
        return np.asarray((a != 0) & ~np.isnan(a))
    return np.asarray(np.frompyfunc(bool, 1, 1)(a), dtype=bool)


def missing(a: Array) -> Array:
    """Where the value is missing (``None``, or NaN in a float column), elementwise."""
    if a.dtype.kind == "f":
        return np.isnan(a)
    if a.dtype == object:
        return np.asarray(np.frompyfunc(lambda v: v is None, 1, 1)(a), dtype=bool)
    return np.zeros(a.shape, dtype=bool)


def _numeric(a: Array) -> bool:
    return a.dtype.kind in "biuf"


def _where(cond: Array, x: Any, y: Any) -> Array:
    a, b = _arr(x), _arr(y)
    if _numeric(a) and _numeric(b):
        if a.dtype == bool and b.dtype == bool:
            return np.where(cond, a, b)
        return np.where(cond, a.astype(np.float64), b.astype(np.float64))
    return np.where(cond, _objects(a), _objects(b))


def _rowwise(fn: Callable[..., Any], mask: Array, n: int, *args: Any) -> Array:
    """``fn`` on each row where ``mask`` holds (``None`` elsewhere), arguments broadcast."""
    cols = [_full(_objects(_arr(a)), n) for a in args]
    idx = np.flatnonzero(_full(mask, n))
    out: list[Any] = [None] * n
    for i in idx:
        out[i] = fn(*(c[i] for c in cols))
    return column(out)


def _eq(a: Array, b: Array) -> Array:
    if _numeric(a) and _numeric(b):
        eq = np.asarray(a == b)
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            fa = a.astype(np.float64)
            fb = b.astype(np.float64)
            eq = eq | (np.isnan(fa) & np.isnan(fb))
        return eq
    oa, ob = _objects(a), _objects(b)
    return np.asarray(np.frompyfunc(operator.eq, 2, 1)(oa, ob), dtype=bool)


_ORDER: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _ordered(op: Callable[[Any, Any], Any], a: Array, b: Array) -> Array:
    if _numeric(a) and _numeric(b):
        with np.errstate(invalid="ignore"):
            return np.asarray(op(a.astype(np.float64), b.astype(np.float64)), dtype=bool)

    def safe(x: Any, y: Any) -> bool:
        return x is not None and y is not None and bool(op(x, y))

    return np.asarray(np.frompyfunc(safe, 2, 1)(_objects(a), _objects(b)), dtype=bool)


_ACTIVE = object()  # the name ``active``: the batch's configuration


def _field_key(node: ast.Compare) -> tuple[Any, ...] | None:
    if len(node.ops) != 1:
        return None
    left, right, op = node.left, node.comparators[0], node.ops[0]
    if isinstance(op, ast.In | ast.NotIn) and isinstance(left, ast.Constant):
        left, right = right, left
    if not (isinstance(left, ast.Name) and left.id != "active"):
        return None
    if isinstance(right, ast.Constant):
        const: Any = right.value
    elif isinstance(right, ast.Tuple | ast.Set):
        const = tuple(e.value for e in right.elts if isinstance(e, ast.Constant))
    else:
        return None
    return (type(op).__name__, left.id, isinstance(node.left, ast.Constant), const)


#: A compiled expression node: its value for the interpreter's batch (under ``vi.mask``).
Plan = Callable[["VectorInterpreter"], Any]

_PLANS: dict[int, tuple[ast.AST, Plan]] = {}


def plan(tree: ast.AST) -> Plan:
    """The compiled plan of a checked tree, made once (as the scalar interpreter compiles
    each tree once): node kinds, constants, field-test keys and call kinds are resolved here,
    so evaluating walks closures, not the tree."""
    memo = _PLANS.get(id(tree))
    if memo is not None and memo[0] is tree:
        return memo[1]
    compiled = _compile(tree)
    if len(_PLANS) > 100_000:  # trees made and dropped (tests): do not grow for ever
        _PLANS.clear()
    _PLANS[id(tree)] = (tree, compiled)
    return compiled


def _compile(node: ast.AST) -> Plan:
    handler = _COMPILERS.get(type(node))
    if handler is None:
        raise InvalidPathwayError(f"vector interpreter: {type(node).__name__} is not compiled")
    return handler(node)


def _c_constant(node: ast.AST) -> Plan:
    assert isinstance(node, ast.Constant)
    value = node.value
    return lambda vi: value


def _c_name(node: ast.AST) -> Plan:
    assert isinstance(node, ast.Name)
    if node.id == "active":
        return lambda vi: _ACTIVE
    name = node.id
    return lambda vi: vi.batch.column(name)


def _c_attribute(node: ast.AST) -> Plan:
    assert isinstance(node, ast.Attribute)
    assert isinstance(node.value, ast.Name)
    attr = node.attr
    if node.value.id == "th":
        return lambda vi: getattr(vi.th, attr)
    return lambda vi: getattr(vi.opt, attr)


def _c_collection(node: ast.AST) -> Plan:
    assert isinstance(node, ast.Tuple | ast.Set)
    consts = [e.value for e in node.elts if isinstance(e, ast.Constant)]
    value: Any = tuple(consts) if isinstance(node, ast.Tuple) else frozenset(consts)
    return lambda vi: value


def _c_boolop(node: ast.AST) -> Plan:
    assert isinstance(node, ast.BoolOp)
    is_and = isinstance(node.op, ast.And)
    first, rest = _compile(node.values[0]), [_compile(v) for v in node.values[1:]]

    def run(vi: VectorInterpreter) -> Any:
        out = _arr(vi._value(first(vi)))
        decided: Array | None = None  # rows whose result is already an operand
        for nxt_plan in rest:
            t = truthy(out)
            now = ~t if is_and else t
            decided = now if decided is None else decided | now
            if decided.all():
                break  # every row decided (e.g. by a test of the active states)
            nxt = vi._value(vi._under(~decided, nxt_plan))
            out = _where(decided, out, nxt)
        return out

    return run


def _c_unaryop(node: ast.AST) -> Plan:
    assert isinstance(node, ast.UnaryOp)
    operand = _compile(node.operand)
    if isinstance(node.op, ast.Not):
        return lambda vi: ~truthy(vi._value(operand(vi)))

    def neg(vi: VectorInterpreter) -> Any:
        a = _arr(vi._value(operand(vi)))
        return -a.astype(np.float64) if _numeric(a) else _rowwise(operator.neg, vi.mask, vi.n, a)

    return neg


def _c_binop(node: ast.AST) -> Plan:
    assert isinstance(node, ast.BinOp)
    left, right = _compile(node.left), _compile(node.right)
    if isinstance(node.op, ast.BitAnd):

        def both(vi: VectorInterpreter) -> Any:
            lv, rv = left(vi), right(vi)
            if lv is _ACTIVE or rv is _ACTIVE:
                other = rv if lv is _ACTIVE else lv
                if isinstance(other, frozenset | tuple):
                    return vi.batch.holds_any(other)
                return truthy(_rowwise(operator.and_, vi.mask, vi.n, vi._value(_ACTIVE), other))
            return _rowwise(operator.and_, vi.mask, vi.n, lv, rv)

        return both
    op = _ARITH[type(node.op)]

    def arith(vi: VectorInterpreter) -> Any:
        a, b = _arr(left(vi)), _arr(right(vi))
        if _numeric(a) and _numeric(b):
            with np.errstate(divide="ignore", invalid="ignore"):
                return op(a.astype(np.float64), b.astype(np.float64))
        return _rowwise(op, vi.mask, vi.n, a, b)

    return arith


def _c_compare(node: ast.AST) -> Plan:
    assert isinstance(node, ast.Compare)
    operands = [_compile(o) for o in (node.left, *node.comparators)]
    ops = list(node.ops)

    def chain(vi: VectorInterpreter) -> Any:
        out: Array | None = None
        left = operands[0](vi)
        for op, comp in zip(ops, operands[1:], strict=True):
            right = comp(vi)
            result = vi._compare(op, left, right)
            out = result if out is None else out & result
            left = right
        return out

    key = _field_key(node)
    if key is None:
        return chain

    def field_test(vi: VectorInterpreter) -> Any:
        # A test of one field against constants, safe on every row: kept by the batch.
        cached = vi.batch.derived.get(key)
        if cached is None:
            saved, vi.mask = vi.mask, np.ones(vi.n, dtype=bool)
            try:
                cached = vi.batch.derived[key] = chain(vi)
            finally:
                vi.mask = saved
        return cached

    return field_test


def _c_ifexp(node: ast.AST) -> Plan:
    assert isinstance(node, ast.IfExp)
    test_plan, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)

    def run(vi: VectorInterpreter) -> Any:
        test = truthy(vi._value(test_plan(vi)))
        return _where(test, vi._value(vi._under(test, body)), vi._value(vi._under(~test, orelse)))

    return run


def _c_subscript(node: ast.AST) -> Plan:
    assert isinstance(node, ast.Subscript)
    assert isinstance(node.slice, ast.Constant)
    value, index = _compile(node.value), node.slice.value
    return lambda vi: _rowwise(lambda v: v[index], vi.mask, vi.n, value(vi))


def _c_call(node: ast.AST) -> Plan:
    assert isinstance(node, ast.Call)
    assert isinstance(node.func, ast.Name)
    name = node.func.id
    args = [_compile(a) for a in node.args]
    consts = [a.value for a in node.args if isinstance(a, ast.Constant)]
    key = (name, tuple(consts)) if len(consts) == len(node.args) else None
    first = node.args[0] if node.args else None
    sized = name == "len" and isinstance(first, ast.Name) and first.id != "active"
    size_of = first.id if sized and isinstance(first, ast.Name) else ""

    def call(vi: VectorInterpreter) -> Any:
        calls = vi.batch.calls
        if key is not None and key in calls:
            return calls[key]
        if sized:
            return vi._sizes(size_of)
        return vi._call(name, [vi._value(a(vi)) for a in args])

    return call


_COMPILERS: dict[type[ast.AST], Callable[[ast.AST], Plan]] = {
    ast.Constant: _c_constant,
    ast.Name: _c_name,
    ast.Attribute: _c_attribute,
    ast.Tuple: _c_collection,
    ast.Set: _c_collection,
    ast.BoolOp: _c_boolop,
    ast.UnaryOp: _c_unaryop,
    ast.BinOp: _c_binop,
    ast.Compare: _c_compare,
    ast.IfExp: _c_ifexp,
    ast.Subscript: _c_subscript,
    ast.Call: _c_call,
}


class VectorInterpreter:
    """Evaluates checked expression trees over a :class:`Batch` (see the module docstring),
    each tree compiled once into a :func:`plan`.

    ``mask`` is the set of rows whose value matters (the scalar short circuit); a
    row-by-row fallback runs only there.
    """

    def __init__(
        self,
        batch: Batch,
        th: Any,
        opt: Any,
        schema: Schema,
        forms: Mapping[str, Form] | None = None,
        rulebook: VectorRulebook | None = None,
    ) -> None:
        self.batch, self.th, self.opt, self.schema = batch, th, opt, schema
        self.forms = forms or {}
        self.rulebook = rulebook
        self.n = batch.n
        self.mask: Array = np.ones(batch.n, dtype=bool)
        #: Row-by-row calls made (function name -> rows), to measure what has no vector form.
        self.fallbacks: dict[str, int] = {}
        #: With a memo, the truths of the rulebook's conditions are kept per patient: the
        #: cohort rows of the batch's patients.
        self.memo: Memo | None = None
        self.rows: Array = np.arange(batch.n)

    def evaluate(self, expr: Expr, mask: Array | None = None) -> Array:
        """The value of ``expr`` for every patient (an array of length ``n``)."""
        saved = self.mask
        self.mask = saved if mask is None else mask
        try:
            out = plan(expr.tree)(self)
        finally:
            self.mask = saved
        if out is _ACTIVE:
            raise InvalidPathwayError(f"{expr.text!r}: 'active' is not a value")
        return _full(_arr(out), self.n)

    def test(self, expr: Expr, mask: Array | None = None) -> Array:
        """Where ``expr`` holds (Python truthiness), as a boolean array (what matters: the
        rows of ``mask``). With a memo, a condition of the rulebook is evaluated only for
        the rows whose truth is not kept."""
        if self.memo is not None and self.rulebook is not None:
            slot = self.rulebook._slots.get(id(expr))
            if slot is not None:
                return self.memo._test(self, slot, expr, self.mask if mask is None else mask)
        return _full(truthy(self.evaluate(expr, mask)), self.n)

    def _under(self, mask: Array, compiled: Plan) -> Any:
        saved = self.mask
        self.mask = saved & mask
        try:
            return compiled(self)
        finally:
            self.mask = saved

    def _value(self, value: Any) -> Any:
        if value is _ACTIVE:
            if self.batch.mixed:  # each row's own set (Python reads it row by row)
                out = np.empty(self.n, dtype=object)
                out[:] = self.batch.actives()
                return out
            return self.batch.active
        return value

    # --- comparisons -----------------------------------------------------------------------

    def _compare(self, op: ast.cmpop, left: Any, right: Any) -> Array:
        if isinstance(op, ast.In | ast.NotIn):
            found = self._contains(left, right)
            return ~found if isinstance(op, ast.NotIn) else found
        if isinstance(op, ast.Is | ast.IsNot):
            absent = missing(_arr(left))
            return ~absent if isinstance(op, ast.IsNot) else absent
        a, b = _arr(self._value(left)), _arr(self._value(right))
        if isinstance(op, ast.Eq):
            return _eq(a, b)
        if isinstance(op, ast.NotEq):
            return ~_eq(a, b)
        return _ordered(_ORDER[type(op)], a, b)

    def _contains(self, left: Any, right: Any) -> Array:
        if right is _ACTIVE:
            if not isinstance(left, np.ndarray):
                return np.asarray(self.batch.holds(left))
            if not self.batch.mixed:
                active = self.batch.active
                return _rowwise(lambda v: v in active, self.mask, self.n, left).astype(bool)
            right = self._value(_ACTIVE)
        if isinstance(right, tuple | frozenset):
            a = _arr(left)
            found = np.zeros(a.shape, dtype=bool)
            for const in right:
                found = found | _eq(a, _arr(const))
            return found
        out = _rowwise(
            lambda x, coll: coll is not None and x in coll, self.mask, self.n, left, right
        )
        return truthy(out)

    # --- calls ---------------------------------------------------------------------------

    def _sizes(self, name: str) -> Array:
        """``len(<field>)`` (NaN where missing), kept by the batch."""
        size_key = ("len", name)
        if size_key not in self.batch.derived:
            sizes = np.frompyfunc(lambda v: np.nan if v is None else len(v), 1, 1)
            values = sizes(_objects(self.batch.column(name)))
            self.batch.derived[size_key] = np.asarray(values, dtype=np.float64)
        return self.batch.derived[size_key]

    def _call(self, name: str, args: list[Any]) -> Any:
        if name in _BUILTINS:
            return self._builtin(name, args)
        form = self.forms.get(name)
        if form is not None:
            return self._form(name, form, args)
        fn = self.schema.functions[name]
        if fn.method:
            return self._method(name, args)
        if not fn.reads and not fn.reads_active:
            return self._pure(name, fn, args)
        return self._fallback(name, fn, args)

    def _builtin(self, name: str, args: list[Any]) -> Any:
        arrays = [_arr(a) for a in args]
        if name in ("min", "max") and len(arrays) > 1 and all(map(_numeric, arrays)):
            combine = np.minimum if name == "min" else np.maximum
            out = arrays[0].astype(np.float64)
            for a in arrays[1:]:
                out = combine(out, a.astype(np.float64))
            return out
        if name == "abs" and _numeric(arrays[0]):
            return np.abs(arrays[0].astype(np.float64))
        if name == "bool":
            return truthy(arrays[0])
        return _rowwise(_BUILTINS[name][0], self.mask, self.n, *arrays)

    def _method(self, name: str, args: list[Any]) -> Any:
        """A record method: one call column per distinct (object) argument value."""
        if len(args) == 1 and isinstance(args[0], np.ndarray):
            values = _objects(_full(args[0], self.n))
            out: Array | None = None
            for v in dict.fromkeys(values[_full(self.mask, self.n)].tolist()):
                col = self.batch.call(name, (v,))
                out = col if out is None else _where(_eq(values, _arr(v)), col, out)
            return out if out is not None else np.full(self.n, np.nan)
        return self.batch.call(name, tuple(args))

    def _pure(self, name: str, fn: Function, args: list[Any]) -> Any:
        """A function of its arguments only (e.g. ``taper_target(steroid)``): the scalar
        function called once per distinct argument tuple, its values spread by masks."""
        impl = fn.impl
        assert impl is not None
        mask = _full(self.mask, self.n)
        cols = [_full(_objects(_arr(a)), self.n) for a in args]
        th, opt, batch = self.th, self.opt, self.batch
        if batch.codes is not None:
            # It reads no state, but is called with one: each row's own, as the scalar does.
            assert batch.configs is not None
            cols.append(batch.codes.astype(object))
        keys = zip(*(c[mask].tolist() for c in cols), strict=True) if cols else [()]
        which = np.full(self.n, -1)
        values: list[Any] = []
        for key in dict.fromkeys(keys):
            at = mask
            for col, value in zip(cols, key, strict=True):
                at = at & _eq(col, _arr(value))
            which[at] = len(values)
            if batch.configs is not None and batch.codes is not None:
                active, key = batch.configs.active_of(key[-1]), key[:-1]
            else:
                active = batch.active
            values.append(impl(None, th, opt, active, *key))
        return column([*values, None])[which]  # -1: the trailing None (rows not asked)

    def _fallback(self, name: str, fn: Function, args: list[Any]) -> Any:
        records = self.batch.records
        if records is None:
            raise InvalidPathwayError(
                f"vector interpreter: {name}() has no vector form and the batch has no records"
            )
        impl = fn.impl
        assert impl is not None
        th, opt = self.th, self.opt
        actives = self.batch.actives()
        rows = np.arange(self.n)
        self.fallbacks[name] = self.fallbacks.get(name, 0) + int(
            np.count_nonzero(_full(self.mask, self.n))
        )
        return _rowwise(
            lambda i, *a: impl(records[i], th, opt, actives[i], *a),
            self.mask,
            self.n,
            rows,
            *args,
        )

    def _form(self, name: str, form: Form, args: list[Any]) -> Any:
        if isinstance(form, Columnar):
            return form.fn(self, *[_arr(a) for a in args])
        book = self.rulebook
        if book is None:
            raise InvalidPathwayError(f"vector form of {name}() needs the rulebook")
        if isinstance(form, Breached):
            return book.breached(self, form.action, self.mask)
        fired, checks = book.list_fired(self, form.name, self.mask)
        if not form.rules:
            return fired.any(axis=1)
        keep = [j for j, c in enumerate(checks) if form.level is None or c.level == form.level]

        def ids(row: Array) -> list[str]:
            found = [checks[j].rule or "" for j in keep if row[j]]
            return found[:1] if form.first else found

        out = np.empty(self.n, dtype=object)
        out[:] = [ids(fired[i]) for i in range(self.n)]
        return out


# --- the rulebook as masks --------------------------------------------------------------------


_LEVELS = ("must", "should", "may")


@dataclass
class Top:
    """The first-ranked recommendation per patient.

    ``action`` and ``strength`` are object arrays (``None``: no action allowed); ``row`` the
    index of the strength row that decided it. :meth:`rules` gives the rule ids behind
    patient ``i``'s: the row's own, or, for rows whose rules depend on the patient, the ones
    worked out for it (``dynamic``).
    """

    action: Array
    strength: Array
    row: Array
    static: dict[tuple[str, int], tuple[str, ...]]
    dynamic: dict[int, tuple[str, ...]]

    def rules(self, i: int) -> tuple[str, ...] | None:
        """The rule ids behind patient ``i``'s recommendation (``None``: there is none)."""
        action = self.action[i]
        if action is None:
            return None
        found = self.dynamic.get(i)
        return found if found is not None else self.static[(action, int(self.row[i]))]


@dataclass(frozen=True)
class _Watched:
    """An invariant as :meth:`VectorRulebook.broken` evaluates it with a memo: its place
    among the rulebook's invariants, its subject (``None``: always) and its condition as
    expressions of their own (the invariant is broken where both hold; ``None``: written
    in Python)."""

    index: int
    inv: _CompiledInvariant
    subject: Expr | None
    condition: Expr | None

    @property
    def decl(self) -> Invariant:
        """The invariant's declaration (``after``, ``carried_out``, ``python``)."""
        return self.inv.decl


def _watch(index: int, inv: _CompiledInvariant, schema: Schema) -> _Watched:
    decl = inv.decl
    if decl.python is not None:
        return _Watched(index, inv, None, None)
    where = f"invariant {decl.id}"
    subject = None if decl.subject == "True" else Expr(decl.subject, schema, where)
    return _Watched(index, inv, subject, Expr(decl.condition, schema, where))


class VectorRulebook:
    """A :class:`~pathway.declarations.Rulebook` evaluated as boolean masks over a batch.

    ``forms``: the guideline's vector forms of its functions (see :class:`Columnar`,
    :class:`Breached`, :class:`Listed`).
    """

    def __init__(
        self,
        rulebook: Rulebook,
        forms: Mapping[str, Form] | None = None,
        implied: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.book = rulebook
        self.forms = dict(forms or {})
        #: Non-default actions in declaration order, then the default: the ranking's order.
        default = rulebook.default_action
        self.order: tuple[str, ...] = (
            *(a for a in rulebook.actions if a != default),
            *(() if default is None else (default,)),
        )
        self._implied = dict(implied or {})
        self._readers = self._action_readers()
        #: Per action in :attr:`order`, whether its decision may matter where it is not
        #: possible: the default, and an action with a ``must`` row (where it is allowed
        #: and mandatory, the default is not allowed).
        self._mandatory = [
            a == default
            or any(row[1] == "must" for row in rulebook.actions[a].rows or rulebook._default_rows)
            for a in self.order
        ]
        #: Every condition the actions test (checks, strength and priority rows, lists) and
        #: every invariant's, by identity -> its slot in a :class:`Memo`'s truth table; and
        #: field -> slots.
        self._slots: dict[int, int] = {}
        conditions: list[Expr] = []
        book = self.book
        for compiled in book.actions.values():
            exprs = [c.when for c in compiled.checks]
            exprs += [row[0] for row in compiled.rows or book._default_rows]
            exprs += [when for when, _ in compiled.priority_rows]
            for expr in exprs:
                if id(expr) not in self._slots:
                    self._slots[id(expr)] = len(conditions)
                    conditions.append(expr)
        for expr in [c.when for checks in book.lists.values() for c in checks]:
            if id(expr) not in self._slots:
                self._slots[id(expr)] = len(conditions)
                conditions.append(expr)
        self._conditions = conditions
        self._condition_readers = self._readers_of([(i, [e]) for i, e in enumerate(conditions)])
        #: Every invariant as the memo watches it (:attr:`Memo.holds`), and the readers of
        #: its rows there: row ``j`` of invariant ``j``'s subject, row ``k + j`` of its
        #: condition (``k`` invariants). A Python-written invariant has no readers: it is
        #: never known to hold.
        self._watched = tuple(_watch(j, inv, book.schema) for j, inv in enumerate(book.invariants))
        k = len(self._watched)
        self._invariant_readers = self._readers_of(
            [(w.index, [w.subject]) for w in self._watched if w.subject is not None]
            + [(k + w.index, [w.condition]) for w in self._watched if w.condition is not None]
        )
        self._in_scope: dict[str, tuple[_Watched, ...]] = {}

    def _readers_of(
        self, groups: Sequence[tuple[int, Sequence[Expr]]], states: Set[int] = frozenset()
    ) -> dict[str, Array]:
        """Record field (or ``"active"``, the configuration) -> the indices of the groups of
        expressions that read it (``states``: indices that read the configuration anyway).
        Schema fields computed from record fields (:attr:`_implied`: a property ``steroid``
        from ``drugs``) are read as those fields too."""
        readers: dict[str, list[int]] = {}
        for index, exprs in groups:
            fields: set[str] = set()
            active = index in states
            for expr in exprs:
                for f in expr.deps.fields:
                    fields.update([f, *self._implied.get(f, ())])
                active = active or expr.deps.any_state or bool(expr.deps.states)
            for f in fields | ({"active"} if active else set()):
                readers.setdefault(f, []).append(index)
        return {f: np.array(sorted(set(ix)), dtype=np.intp) for f, ix in readers.items()}

    def _action_readers(self) -> dict[str, Array]:
        """Record field (or ``"active"``) -> the indices in :attr:`order` of the actions
        whose decision reads it (a gate reads the configuration)."""
        groups: list[tuple[int, list[Expr]]] = []
        gated: set[int] = set()
        book = self.book
        for a, name in enumerate(self.order):
            compiled = book.actions[name]
            exprs: list[Expr] = [row[0] for row in compiled.rows or book._default_rows]
            exprs += [row[3] for row in compiled.rows or book._default_rows if row[3] is not None]
            if name != book.default_action:
                exprs += [c.when for c in compiled.checks]
                exprs += [when for when, _ in compiled.priority_rows]
            if compiled.gate is not None and name != book.default_action:
                gated.add(a)
            groups.append((a, exprs))
        return self._readers_of(groups, gated)

    def memo(self, size: int) -> Memo:
        """An empty :class:`Memo` for a cohort of ``size`` patients (rows 0 to size - 1)."""
        return Memo(self, size)

    def interpreter(self, batch: Batch, th: Any, opt: Any) -> VectorInterpreter:
        """An interpreter over ``batch`` with this rulebook's schema and forms."""
        return VectorInterpreter(batch, th, opt, self.book.schema, self.forms, self)

    # --- checks --------------------------------------------------------------------------

    def _checks(
        self, vi: VectorInterpreter, checks: Sequence[_CompiledCheck], mask: Array
    ) -> Array:
        """Rows x checks: which checks fire with a breach (checks after a stop do not run)."""
        live = _full(mask, vi.n).copy()
        fired = np.zeros((vi.n, len(checks)), dtype=bool)
        for j, check in enumerate(checks):
            if not _some(live):
                break
            hit = live & vi.test(check.when, live)
            if check.message is not None:
                fired[:, j] = hit
            if check.stop:
                live &= ~hit
        return fired

    def list_fired(
        self, vi: VectorInterpreter, name: str, mask: Array
    ) -> tuple[Array, Sequence[_CompiledCheck]]:
        """The named check list: rows x checks, which give a finding."""
        checks = self.book.lists[name]
        return self._checks(vi, checks, mask), checks

    def _action_allowed(self, vi: VectorInterpreter, action: str, mask: Array) -> Array:
        compiled = self.book.actions[action]
        gated = _full(mask, vi.n)
        if compiled.gate is not None:
            # Allowed only where the configuration opens the gate (per row when mixed).
            gated = gated & vi.batch.holds_any(compiled.gate)
            if not _some(gated):
                return np.zeros(vi.n, dtype=bool)
        # A check that breaches ends the list, like the scalar loop (a stop without breach
        # also ends it, leaving the action allowed).
        live = gated.copy()
        breached = np.zeros(vi.n, dtype=bool)
        for check in compiled.checks:
            if not _some(live):
                break
            hit = live & vi.test(check.when, live)
            if check.message is not None:
                breached |= hit
            live &= ~hit
        return np.asarray(~breached & gated)

    def breached(self, vi: VectorInterpreter, action: str, mask: Array) -> Array:
        """Where ``action`` has a breach (the default action: where another is mandatory)."""
        m = _full(mask, vi.n)
        if action == self.book.default_action:
            return m & ~self.allowed(vi, m)[action]
        return m & ~self._action_allowed(vi, action, m)

    def allowed(
        self,
        vi: VectorInterpreter,
        mask: Array | None = None,
        decided: dict[str, tuple[Array, Array]] | None = None,
    ) -> dict[str, Array]:
        """Per action (declaration order, the default last), where it is allowed.

        ``decided``, when given, receives each allowed action's strength decision over its
        allowed rows (see :meth:`_decide`), which ranking needs again.
        """
        m = np.ones(vi.n, dtype=bool) if mask is None else _full(mask, vi.n)
        out: dict[str, Array] = {}
        default = self.book.default_action
        for action in self.book.actions:
            if action != default:
                out[action] = self._action_allowed(vi, action, m)
        if default is not None:
            mandatory = np.zeros(vi.n, dtype=bool)
            for action, ok in out.items():
                if _some(ok):
                    decision = self._decide(vi, action, ok)
                    if decided is not None:
                        decided[action] = decision
                    mandatory |= ok & self._must_with_rule(vi, action, decision[0])
            out[default] = m & ~mandatory
        return out

    # --- strength, priority, rank ------------------------------------------------------------

    def _decide(self, vi: VectorInterpreter, action: str, mask: Array) -> tuple[Array, Array]:
        """Per row, the index of the first strength row that holds (-1: none) and its level."""
        compiled = self.book.actions[action]
        rows = compiled.rows or self.book._default_rows
        remaining = _full(mask, vi.n).copy()
        index = np.full(vi.n, -1)
        level = np.full(vi.n, len(_LEVELS))
        for i, (when, strength, _, _) in enumerate(rows):
            if not _some(remaining):
                break
            hit = remaining & vi.test(when, remaining)
            index[hit] = i
            level[hit] = _LEVELS.index(strength)
            remaining &= ~hit
        return index, level

    def _must_with_rule(self, vi: VectorInterpreter, action: str, index: Array) -> Array:
        rows = self.book.actions[action].rows or self.book._default_rows
        out = np.zeros(vi.n, dtype=bool)
        for i, (_, strength, rules, rules_expr) in enumerate(rows):
            if strength != "must":
                continue
            at = index == i
            if not _some(at):
                continue
            out |= at & (truthy(vi.evaluate(rules_expr, at)) if rules_expr else bool(rules))
        return out

    def _priority(self, vi: VectorInterpreter, action: str, mask: Array) -> Array:
        compiled = self.book.actions[action]
        out = np.full(vi.n, compiled.decl.priority)
        remaining = _full(mask, vi.n).copy()
        for when, value in compiled.priority_rows:
            hit = remaining & vi.test(when, remaining)
            out[hit] = value
            remaining &= ~hit
        return out

    # --- invariants --------------------------------------------------------------------------

    def broken(
        self,
        batch: Batch,
        th: Any,
        opt: Any,
        step_name: str,
        carried_out: bool | Array,
        memo: Memo | None = None,
        rows: Array | None = None,
    ) -> list[list[tuple[str, str]]]:
        """Per patient, the invariants broken after a step: (invariant id, message), as
        :meth:`Rulebook.broken` gives them. The conditions are masks; an invariant written in
        Python runs row by row, and messages are rendered only for the patients concerned.
        ``carried_out``: whether the step was carried out, for all rows or per row. The rows
        may be in several configurations.

        With a ``memo`` and the cohort ``rows``, an invariant is evaluated only on the rows
        where it is not known to hold (:attr:`Memo.holds`: its subject or its condition
        found false since no field it reads changed), and not at all when there are none;
        a row where it is broken is evaluated again at every step (it is reported at every
        step). Kept truths of the rulebook's conditions are used as in :meth:`top`."""
        vi = self.interpreter(batch, th, opt)
        if memo is not None:
            if rows is None or len(rows) != batch.n:
                raise InvalidPathwayError(
                    "vector invariants: a memo needs the cohort row of every patient"
                )
            vi.memo, vi.rows = memo, rows
        n = batch.n
        out: list[list[tuple[str, str]]] = [[] for _ in range(n)]
        records = batch.records
        if records is None:
            raise InvalidPathwayError("vector invariants: messages need the batch's records")
        watched = self._in_scope.get(step_name)
        if watched is None:
            watched = self._in_scope[step_name] = tuple(
                w for w in self._watched if not (w.decl.after and step_name not in w.decl.after)
            )
        if not watched or not n:
            return out
        done = np.broadcast_to(np.asarray(carried_out, dtype=bool), (n,))
        # Invariants x rows: where each must be evaluated (in scope, not known to hold).
        holds = None if memo is None or not len(memo.holds) else memo.holds
        if holds is None or rows is None:
            need = np.ones((len(watched), n), dtype=bool)
        else:
            k = len(self._watched)
            held = holds[:, rows]
            index = np.array([w.index for w in watched], dtype=np.intp)
            need = ~(held[index] | held[index + k])
        need[[w.decl.carried_out for w in watched]] &= done
        actives: list[frozenset[str]] | None = None  # each row's, made when Python needs it
        for v in np.flatnonzero(need.any(axis=1)).tolist():
            w = watched[v]
            at = need[v]
            if w.condition is None:  # written in Python: row by row, every time
                assert w.decl.python is not None
                if actives is None:
                    actives = batch.actives()
                for i in np.flatnonzero(at).tolist():
                    message = w.decl.python(records[i], th, actives[i], step_name)
                    if message is not None:
                        out[i].append((w.decl.id, message))
                continue
            if w.subject is not None:
                subject = at & truthy(vi.evaluate(w.subject, at))
                if holds is not None and rows is not None:
                    holds[w.index, rows[at & ~subject]] = True
                at = subject
                if not _some(at):
                    continue
            hit = at & truthy(vi.evaluate(w.condition, at))
            if holds is not None and rows is not None:
                holds[len(self._watched) + w.index, rows[at & ~hit]] = True
            found = np.flatnonzero(hit).tolist()
            if found and actives is None:
                actives = batch.actives()
            for row in found:
                assert actives is not None
                env = (records[row], th, opt, actives[row])
                out[row].append((w.decl.id, self.book._message(w.inv, env)))
        return out

    def top(
        self,
        batch: Batch,
        th: Any,
        opt: Any,
        possible: Set[str] | Array | None = None,
        memo: Memo | None = None,
        rows: Array | None = None,
    ) -> Top:
        """The first-ranked recommendation of every patient: the allowed action (among
        ``possible``, the chart's events now, when given) with the strongest strength, then
        the lowest priority, the default heading the mays; ties keep declaration order.
        ``possible`` is one set for all rows or, for rows in several configurations, a
        boolean table actions (in :attr:`order`) x rows (see :meth:`possible_of`).

        With a ``memo`` (:meth:`memo`) and the cohort ``rows`` of the batch's patients, each
        action is decided again only for the patients whose fields it reads have changed
        since (:meth:`Memo.changed`); the others keep their last decision.
        """
        vi = self.interpreter(batch, th, opt)
        if memo is None:
            # A memo for this evaluation's action table only: conditions are not kept.
            memo, rows = Memo(self, batch.n, conditions=False), np.arange(batch.n)
        elif rows is None or len(rows) != batch.n:
            raise InvalidPathwayError("vector top: a memo needs the cohort row of every patient")
        else:
            vi.memo, vi.rows = memo, rows
        if isinstance(possible, np.ndarray):
            table: Array | None = possible
        else:
            table = None if possible is None else self.possible_of(possible)[:, None]
        self._refresh(vi, memo, rows, table)
        if memo.ok.shape[1] == batch.n and rows is not None and (rows == np.arange(batch.n)).all():
            rows_at: Any = slice(None)  # the whole memo: views, not gathers
        else:
            rows_at = rows
        ok, must = memo.ok[:, rows_at].copy(), memo.must[:, rows_at]
        level, prio = memo.level[:, rows_at], memo.prio[:, rows_at]
        index = memo.index[:, rows_at]
        default = self.book.default_action
        if default is not None:
            d = len(self.order) - 1
            ok[d] = ~(ok[:d] & must[:d]).any(axis=0)
        if table is not None:
            ok &= table
        undecided = ok & (index < 0)
        if _some(undecided):
            a = int(np.flatnonzero(undecided.any(axis=1))[0])
            raise InvalidPathwayError(
                f"action {self.order[a]!r}: no strength row holds for "
                f"{int(undecided[a].sum())} patient(s)"
            )
        # Strongest level, then lowest priority, then the first in the ranking's order.
        levels = np.where(ok, level, len(_LEVELS) + 1)
        best_level = levels.min(axis=0)
        tied = ok & (levels == best_level)
        prios = np.where(tied, prio, np.iinfo(np.int64).max)
        tied &= prios == prios.min(axis=0)
        first = tied.argmax(axis=0)
        cols = np.arange(batch.n)
        names = list(self.book.actions)
        position = np.array([names.index(a) for a in self.order])
        best = np.where(tied.any(axis=0), position[first], -1)
        return self._top(vi, names, best, best_level, index[first, cols])

    def possible_of(self, events: Set[str]) -> Array:
        """Per action in :attr:`order`, whether it is among ``events`` (a column of the
        table :meth:`top` takes as ``possible``)."""
        return np.array([a in events for a in self.order], dtype=bool)

    def _refresh(
        self, vi: VectorInterpreter, memo: Memo, rows: Array, possible: Array | None = None
    ) -> None:
        """Decide again every action for the batch's patients whose decision is not known.

        ``possible`` (actions x rows, or x 1): an action that can never be mandatory is
        decided only where it is possible; elsewhere its decision stays unknown (decided
        when it becomes possible), as :meth:`top` reads it only where it is possible."""
        book, default = self.book, self.book.default_action
        known = memo.known[:, rows]
        for a, action in enumerate(self.order):
            stale = ~known[a]
            if possible is not None and not self._mandatory[a]:
                stale &= possible[a]
            if not _some(stale):
                continue
            whole = bool(stale.all())
            at = rows if whole else rows[stale]
            if action == default:
                # Allowed where no other action is mandatory: worked out from the table.
                index, level = self._decide(vi, action, stale)
                prio = np.full(vi.n, -1)
                ok = must = np.zeros(vi.n, dtype=bool)
            else:
                ok = self._action_allowed(vi, action, stale)
                if _some(ok):
                    index, level = self._decide(vi, action, ok)
                    must = ok & self._must_with_rule(vi, action, index)
                    prio = self._priority(vi, action, ok)
                else:
                    index, level = np.full(vi.n, -1), np.full(vi.n, len(_LEVELS))
                    must, prio = ok, np.full(vi.n, book.actions[action].decl.priority)
            if not whole:
                ok, must, index, level, prio = (x[stale] for x in (ok, must, index, level, prio))
            memo.ok[a, at], memo.must[a, at] = ok, must
            memo.index[a, at], memo.level[a, at], memo.prio[a, at] = index, level, prio
            memo.known[a, at] = True

    def _top(
        self,
        vi: VectorInterpreter,
        names: list[str],
        best: Array,
        best_level: Array,
        best_row: Array,
    ) -> Top:
        n = vi.n
        action = np.empty(n, dtype=object)
        strength = np.empty(n, dtype=object)
        static: dict[tuple[str, int], tuple[str, ...]] = {}
        dynamic: dict[int, tuple[str, ...]] = {}
        for a, name in enumerate(names):
            at = best == a
            if not _some(at):
                continue
            action[at] = name
            strength[at] = np.array((*_LEVELS, ""), dtype=object)[best_level[at]]
            table = self.book.actions[name].rows or self.book._default_rows
            for r, (_, _, ids, rules_expr) in enumerate(table):
                static[(name, r)] = ids
                here = at & (best_row == r)
                if rules_expr is not None and _some(here):
                    values = vi.evaluate(rules_expr, here)
                    for i in np.flatnonzero(here):
                        dynamic[int(i)] = tuple(values[i])
        return Top(action, strength, best_row, static, dynamic)


class Memo:
    """Each action's last decision for every patient of a cohort, kept between steps.

    Rows are the patients' cohort indices (0 to ``size - 1``); per action (in the ranking's
    order, :attr:`VectorRulebook.order`) and patient: whether it is allowed, its strength
    row (``index``, -1: none) and level, its priority and whether it is mandatory with a
    rule, and whether these are ``known``. A caller that changes a record says which fields
    changed for which patients (:meth:`changed`); the actions that read none of them keep
    their decision, so :meth:`VectorRulebook.top` decides again only what may have changed.
    A patient's thresholds and options are taken as fixed: after changing them, call
    :meth:`forget`.
    """

    def __init__(self, book: VectorRulebook, size: int, conditions: bool = True) -> None:
        #: Per condition of the rulebook (:attr:`VectorRulebook._slots`) and patient: its
        #: truth, and whether it is known (``conditions=False``: none kept).
        shape_c = (len(book._conditions) if conditions else 0, size)
        self.truth = np.zeros(shape_c, dtype=bool)
        self.truth_known = np.zeros(shape_c, dtype=bool)
        #: Per invariant and patient, whether it is known to hold: rows ``0..k-1`` its
        #: subject known false, rows ``k..2k-1`` its condition known false (``k``: the
        #: rulebook's invariants; ``conditions=False``: none kept). Forgotten, as the
        #: truths are, when a field its subject or condition reads changes.
        self.holds = np.zeros((2 * len(book._watched) if conditions else 0, size), dtype=bool)
        shape = (len(book.order), size)
        self.book = book
        self.ok = np.zeros(shape, dtype=bool)
        self.must = np.zeros(shape, dtype=bool)
        self.index = np.full(shape, -1)
        self.level = np.full(shape, len(_LEVELS))
        self.prio = np.zeros(shape, dtype=np.int64)
        self.known = np.zeros(shape, dtype=bool)

    def changed(self, rows: Array, fields: Iterable[str]) -> None:
        """Fields ``fields`` of the patients ``rows`` have changed (``"active"``: their
        configuration): the actions that read any of them are decided again when asked."""
        fields = list(fields)
        at = np.asarray(rows, dtype=np.intp)
        for readers, known in (
            (self.book._readers, self.known),
            (self.book._condition_readers, self.truth_known),
            (self.book._invariant_readers, self.holds),
        ):
            found = [readers[f] for f in fields if f in readers]
            if found and len(known):
                known[np.ix_(np.unique(np.concatenate(found)), at)] = False

    def _test(self, vi: VectorInterpreter, slot: int, expr: Expr, mask: Array) -> Array:
        """Condition ``slot`` (``expr``) over the batch of ``vi``: kept truths, evaluated
        where they are not known and ``mask`` asks."""
        rows = vi.rows
        truth: Array = self.truth[slot][rows]
        need = _full(mask, vi.n) & ~self.truth_known[slot][rows]
        if not _some(need):
            return truth
        value = _full(truthy(vi.evaluate(expr, need)), vi.n)
        at = rows[need]
        self.truth[slot, at] = value[need]
        self.truth_known[slot, at] = True
        return np.where(need, value, truth)

    def forget(self, rows: Array | None = None) -> None:
        """Forget every decision of the patients ``rows`` (all when ``None``)."""
        for known in (self.known, self.truth_known, self.holds):
            if rows is None:
                known[:] = False
            else:
                known[:, np.asarray(rows, dtype=np.intp)] = False
