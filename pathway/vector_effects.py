"""Effect declarations applied to a batch of records held as columns (issue 14).

The same compiled operations the scalar engine runs (:class:`pathway.effects.EffectBook`)
are walked over :class:`pathway.columns.RecordColumns` for every patient receiving one
event, each operation on the rows where it applies: a :class:`~pathway.effects.When`
splits the rows by its condition (a mask), expressions are evaluated by the numpy
interpreter (:mod:`pathway.vector`), assignments, doses and set members are written into
the columns. Operations run in declaration order, as in the scalar engine, so a later one
sees what an earlier one wrote.

What stays Python runs row by row, only on the rows concerned: the record's mutators
(:class:`~pathway.effects.Mutator`), and the functions without a vector form, which the
interpreter calls on records made from the columns of those rows as they are at that
moment (:class:`LiveRecords`). ``fallbacks`` counts both, to measure what is left.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .columns import RecordColumns
from .effects import PAYLOAD, CompiledEffect, EffectBook
from .errors import InvalidPathwayError
from .expr import Expr
from .vector import (
    Batch,
    Configurations,
    Form,
    VectorInterpreter,
    VectorRulebook,
    column,
    truthy,
)

__all__ = ["LiveRecords", "MutatorForm", "VectorEffects"]

Array = NDArray[Any]

#: A columnar form of a record mutator: ``form(columns, rows, *argument columns)`` does to
#: the rows of mask ``rows`` what the method does to each record, in place.
MutatorForm = Callable[..., None]


class LiveRecords(Sequence[Any]):
    """Records made from the columns on demand, row by row, as the columns are now.

    A record made is kept until :meth:`forget` (called after every write), so a function
    called several times on one row between writes builds it once.
    """

    def __init__(self, columns: RecordColumns) -> None:
        self.columns = columns
        self._made: dict[int, Any] = {}

    def __len__(self) -> int:
        return self.columns.n

    def __getitem__(self, i: Any) -> Any:
        if not isinstance(i, int | np.integer):
            raise TypeError("live records are read one row at a time")
        row = int(i)
        record = self._made.get(row)
        if record is None:
            record = self._made[row] = self.columns.record(row)
        return record

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def forget(self) -> None:
        """Drop the records made: the columns have changed."""
        self._made.clear()

    def prefetch(self, rows: Array) -> None:
        """Make the records of the rows of mask ``rows`` at once (cheaper than one by one)."""
        idx = [i for i in np.flatnonzero(rows).tolist() if i not in self._made]
        if idx:
            self._made.update(zip(idx, self.columns.records(np.array(idx)), strict=True))


def _floats(values: Array) -> Array:
    """Values as ``float64``, ``None`` read as NaN."""
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    return np.array([np.nan if v is None else v for v in values.tolist()], dtype=np.float64)


def _as_objects(values: Array) -> Array:
    """Values as ``object``, NaN of a float column read as ``None``."""
    if values.dtype == object:
        return values
    out = values.astype(object)
    if values.dtype.kind == "f":
        out[np.isnan(values)] = None
    return out


class VectorEffects:
    """An :class:`~pathway.effects.EffectBook` applied over columns.

    ``rulebook`` gives the interpreter the guideline's vector forms of its functions (and
    the rulebook they read), as for the rules; ``mutators`` the columnar forms of the
    record's mutators (those without one run row by row on records made from the columns);
    ``forms`` vector forms of the functions only effects call; ``methods`` columns of record
    method calls without arguments, ``form(batch, rows)`` (e.g. ``latest_panel()``).
    """

    def __init__(
        self,
        book: EffectBook,
        rulebook: VectorRulebook | None = None,
        mutators: Mapping[str, MutatorForm] | None = None,
        *,
        forms: Mapping[str, Form] | None = None,
        methods: Mapping[str, Callable[[Batch, Array], Array]] | None = None,
    ) -> None:
        self.book = book
        self.rulebook = rulebook
        self.mutators = dict(mutators or {})
        self.forms: Mapping[str, Form] = {
            **(rulebook.forms if rulebook is not None else {}),
            **(forms or {}),
        }
        self.methods = dict(methods or {})
        #: Rows handed to Python: mutator name or function name -> rows.
        self.fallbacks: dict[str, int] = {}

    def apply(
        self,
        kind: str,
        name: str,
        columns: RecordColumns,
        values: Sequence[Any] | None,
        th: Any,
        opt: Any,
        active: Set[str],
        mask: Array | None = None,
        codes: Array | None = None,
        configs: Configurations | None = None,
    ) -> None:
        """Apply effect ``name`` of ``kind`` to every row (or the rows of ``mask``).

        ``values``: each row's payload (``None``: no payload); the rows share ``active``,
        or, given ``codes`` and ``configs``, each row is in configuration ``codes[i]``
        (:meth:`~pathway.vector.Batch.configured`).
        """
        effect: CompiledEffect | None = self.book.effects.get(kind, {}).get(name)
        if effect is None:
            raise InvalidPathwayError(f"no declared {kind} effect {name!r}")
        run = _Run(self, columns, values, th, opt, active)
        if codes is not None:
            if configs is None:
                raise InvalidPathwayError("vector effects: codes need their configurations")
            run.configured = (codes, configs)
        rows = np.ones(columns.n, dtype=bool) if mask is None else mask.astype(bool)
        for var, expr in self.book.before.items():
            run.bind(var, run.evaluate(expr, rows))
        run.ops(effect.ops, rows)
        run.ops(self.book.after, rows)
        for fn, count in run.vi_fallbacks().items():
            self.fallbacks[fn] = self.fallbacks.get(fn, 0) + count


class _Run:
    """One application: the columns, the live records and the interpreter's batch."""

    def __init__(
        self,
        owner: VectorEffects,
        columns: RecordColumns,
        values: Sequence[Any] | None,
        th: Any,
        opt: Any,
        active: Set[str],
    ) -> None:
        self.owner, self.columns, self.th, self.opt = owner, columns, th, opt
        self.active = frozenset(active)
        self.book = owner.book
        self.live = LiveRecords(columns)
        payload = [None] * columns.n if values is None else list(values)
        self.variables: dict[str, Array] = {PAYLOAD: column(payload)}
        self._batch: Batch | None = None
        self._vi: VectorInterpreter | None = None
        self._made_calls: list[tuple[str, tuple[Any, ...]]] = []
        self._fallbacks: dict[str, int] = {}
        #: Each row's configuration, when the rows are in several (see :meth:`apply`).
        self.configured: tuple[Array, Configurations] | None = None

    # --- the interpreter's view ------------------------------------------------------------

    def batch(self) -> Batch:
        if self._batch is None:
            batch = self.columns.batch(self.active)
            if self.configured is not None:
                batch.configured(*self.configured)
            batch.records = self.live
            batch.columns.update(self.variables)
            self._batch = batch
        return self._batch

    def bind(self, name: str, value: Array) -> None:
        """Variable ``name`` (a ``before`` value) is ``value`` for the rest of the run (a
        copy: the interpreter may return a column the operations will write into)."""
        value = value.copy()
        self.variables[name] = value
        batch = self.batch()
        batch.columns[name] = value
        self.columns.refresh(batch, {name})

    def changed(self, fields: Set[str]) -> None:
        """Fields ``fields`` were written: refresh what the batch derives from them; records
        and method columns made from the rows are stale."""
        self.live.forget()
        if self._batch is None:
            return
        for key in self._made_calls:
            self._batch.calls.pop(key, None)
        self._made_calls.clear()
        self.columns.refresh(self._batch, fields)

    def vi_fallbacks(self) -> dict[str, int]:
        return self._fallbacks

    def evaluate(self, expr: Expr, rows: Array) -> Array:
        batch = self.batch()
        self._prepare(expr, rows, batch)
        vi = self._interpreter(batch)
        out = vi.evaluate(expr, rows)
        for fn, count in vi.fallbacks.items():
            self._fallbacks[fn] = self._fallbacks.get(fn, 0) + count
        vi.fallbacks.clear()
        return out

    def _interpreter(self, batch: Batch) -> VectorInterpreter:
        """One interpreter for the run (the batch is refreshed in place, never replaced)."""
        if self._vi is None:
            owner = self.owner
            self._vi = VectorInterpreter(
                batch, self.th, self.opt, self.book.schema, owner.forms, owner.rulebook
            )
        return self._vi

    def _prepare(self, expr: Expr, rows: Array, batch: Batch) -> None:
        """What ``expr`` reads that the batch lacks: keyed fields read whole, record method
        calls without a column (made from the live records of ``rows``); and the records
        of ``rows`` made at once when a function without a vector form will need them."""
        for name in _whole_reads(expr, self.columns.layout.keyed):
            if name not in batch.columns:
                batch.columns[name] = self.columns.whole(name)
        functions, forms = self.book.schema.functions, self.owner.forms
        python = [
            fn
            for fn in expr.deps.functions
            if fn not in forms
            and (f := functions.get(fn)) is not None
            and not f.method
            and (f.reads or f.reads_active)
        ]
        made = [
            (name, args)
            for name, args in expr.deps.calls
            if (f := functions.get(name)) is not None
            and f.method
            and (name, args) not in batch.calls
        ]
        for name, args in [m for m in made if m[0] in self.owner.methods and not m[1]]:
            batch.calls[(name, args)] = self.owner.methods[name](batch, rows)
            self._made_calls.append((name, args))
            made.remove((name, args))
        if python or made:
            self.live.prefetch(rows)
        for name, args in made:
            out: list[Any] = [None] * self.columns.n
            for i in np.flatnonzero(rows).tolist():
                out[i] = getattr(self.live[i], name)(*args)
            self._fallbacks[name] = self._fallbacks.get(name, 0) + int(np.count_nonzero(rows))
            batch.calls[(name, args)] = column(out)
            self._made_calls.append((name, args))

    # --- operations ------------------------------------------------------------------------

    def ops(self, ops: Sequence[tuple[Any, ...]], rows: Array) -> None:
        for op in ops:
            if not np.any(rows):
                return
            getattr(self, "_" + op[0])(op, rows)

    def _when(self, op: tuple[Any, ...], rows: Array) -> None:
        _, test, then, otherwise, _ = op
        holds = rows & np.asarray(self._truth(test, rows), dtype=bool)
        self.ops(then, holds)
        self.ops(otherwise, rows & ~holds)

    def _truth(self, expr: Expr, rows: Array) -> Array:
        return np.asarray(truthy(self.evaluate(expr, rows)), dtype=bool)

    def _assign(self, op: tuple[Any, ...], rows: Array) -> None:
        _, name, expr, _ = op
        kind = self.columns.layout.fields.get(name)
        if kind is None:
            raise InvalidPathwayError(f"vector effects: {name!r} is not a plain column")
        value = self.evaluate(expr, rows)
        target = self.columns.plain[name]
        if kind == "float":
            target[rows] = _floats(value)[rows]
        elif kind == "bool":
            target[rows] = np.asarray(value, dtype=bool)[rows]
        elif kind == "int":
            target[rows] = value.astype(np.int64)[rows]
        else:
            target[rows] = _as_objects(value)[rows]
        self.changed({name})

    def _keys(
        self, drug: str | None, expr: Expr | None, rows: Array
    ) -> Iterator[tuple[str, Array]]:
        """The key an operation names, with its rows (one key per distinct value)."""
        if expr is None:
            assert drug is not None
            yield drug, rows
            return
        names = _as_objects(self.evaluate(expr, rows))
        for key in dict.fromkeys(names[rows].tolist()):
            yield key, rows & np.asarray([v == key for v in names.tolist()], dtype=bool)

    def _give(self, field: str, key: str, rows: Array, value: Array) -> None:
        """Key ``key`` of mapping ``field`` set to ``value`` on ``rows`` (appended if new)."""
        c = self.columns
        self._known(field, key)
        present = c.present[(field, key)]
        new = rows & ~present
        if np.any(new):
            last = np.full(c.n, -1, dtype=np.int64)
            for k in c.layout.keyed[field].keys:
                last = np.maximum(last, c.rank[(field, k)])
            c.rank[(field, key)][new] = last[new] + 1
        present[rows] = True
        c.values[(field, key)][rows] = value[rows]

    def _drop(self, field: str, key: str, rows: Array) -> None:
        """Key ``key`` of keyed ``field`` removed on ``rows`` (the others keep their order)."""
        c = self.columns
        if (field, key) not in c.present:
            return  # a key the vocabulary does not hold is never there
        c.present[(field, key)][rows] = False
        keyed = c.layout.keyed[field]
        if keyed.value is not None:
            c.values[(field, key)][rows] = 0 if keyed.value == "int" else np.nan
            c.rank[(field, key)][rows] = -1

    def _known(self, field: str, key: str) -> None:
        if (field, key) not in self.columns.present:
            raise InvalidPathwayError(
                f"vector effects: {key!r} is not a key of {field!r}; expected one of "
                f"{list(self.columns.layout.keyed[field].keys)}"
            )

    def _dose(self, op: tuple[Any, ...], rows: Array) -> None:
        _, when, drug, drug_expr, mg_day, _ = op
        if when is not None:
            rows = rows & self._truth(when, rows)
        field = self.book.doses
        for key, here in list(self._keys(drug, drug_expr, rows)):
            if np.any(here):
                self._give(field, key, here, _floats(self.evaluate(mg_day, here)))
        self.changed({field})

    def _stop(self, op: tuple[Any, ...], rows: Array) -> None:
        _, drug, drug_expr, _ = op
        for key, here in list(self._keys(drug, drug_expr, rows)):
            self._drop(self.book.doses, key, here)
        self.changed({self.book.doses})

    def _scale(self, op: tuple[Any, ...], rows: Array) -> None:
        _, factor_expr, _ = op
        factor = _floats(self.evaluate(factor_expr, rows))
        field = self.book.doses
        for key in self.columns.layout.keyed[field].keys:
            values = self.columns.values[(field, key)]
            here = rows & self.columns.present[(field, key)] & ~np.isnan(values)
            values[here] = values[here] * factor[here]
        self.changed({field})

    def _clear(self, op: tuple[Any, ...], rows: Array) -> None:
        _, name, _ = op
        keyed = self.columns.layout.keyed.get(name)
        if keyed is None:
            raise InvalidPathwayError(f"vector effects: {name!r} is not a keyed column")
        for key in keyed.keys:
            self._drop(name, key, rows)
        self.changed({name})

    def _add(self, op: tuple[Any, ...], rows: Array) -> None:
        _, name, expr, _ = op
        for key, here in list(self._keys(None, expr, rows)):
            self._known(name, key)
            self.columns.present[(name, key)][here] = True
        self.changed({name})

    def _discard(self, op: tuple[Any, ...], rows: Array) -> None:
        _, name, expr, _ = op
        for key, here in list(self._keys(None, expr, rows)):
            self._drop(name, key, here)
        self.changed({name})

    def _forget(self, op: tuple[Any, ...], rows: Array) -> None:
        self._discard(op, rows)

    def _call(self, op: tuple[Any, ...], rows: Array) -> None:
        """A mutator: its columnar form, or Python row by row on the rows concerned."""
        _, method, args, _ = op
        values = [_as_objects(self.evaluate(a, rows)) for a in args]
        form = self.owner.mutators.get(method)
        if form is not None:
            form(self.columns, rows, *values)
        else:
            self.live.prefetch(rows)
            idx = np.flatnonzero(rows).tolist()
            for i in idx:
                record = self.live[i]
                getattr(record, method)(*(v[i] for v in values))
                self.columns.put(i, record)
            self.owner.fallbacks[method] = self.owner.fallbacks.get(method, 0) + len(idx)
        self.changed(self.book.mutators[method].writes)


_WHOLE: dict[int, tuple[Expr, frozenset[str]]] = {}


def _whole_reads(expr: Expr, keyed: Mapping[str, Any]) -> frozenset[str]:
    """The keyed fields ``expr`` reads as a whole (all but a set's ``"x" in field`` tests,
    which the batch keeps as membership columns)."""
    memo = _WHOLE.get(id(expr))
    if memo is not None and memo[0] is expr:
        return memo[1]
    tested: set[int] = set()
    for node in ast.walk(expr.tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = node.left, node.comparators[0]
            if isinstance(node.ops[0], ast.In | ast.NotIn) and isinstance(left, ast.Constant):
                tested.add(id(right))
    found = frozenset(
        node.id
        for node in ast.walk(expr.tree)
        if isinstance(node, ast.Name)
        and node.id in keyed
        and not (id(node) in tested and keyed[node.id].value is None)
    )
    _WHOLE[id(expr)] = (expr, found)
    return found
