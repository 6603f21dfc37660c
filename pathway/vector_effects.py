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

from collections.abc import Iterator, Mapping, Sequence, Set
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .columns import RecordColumns
from .effects import PAYLOAD, CompiledEffect, EffectBook
from .errors import InvalidPathwayError
from .expr import Expr
from .vector import Batch, Form, VectorInterpreter, VectorRulebook, column, truthy

__all__ = ["LiveRecords", "VectorEffects"]

Array = NDArray[Any]


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
    the rulebook they read), as for the rules.
    """

    def __init__(self, book: EffectBook, rulebook: VectorRulebook | None = None) -> None:
        self.book = book
        self.rulebook = rulebook
        self.forms: Mapping[str, Form] = rulebook.forms if rulebook is not None else {}
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
    ) -> None:
        """Apply effect ``name`` of ``kind`` to every row (or the rows of ``mask``).

        ``values``: each row's payload (``None``: no payload); the rows share ``active``.
        """
        effect: CompiledEffect | None = self.book.effects.get(kind, {}).get(name)
        if effect is None:
            raise InvalidPathwayError(f"no declared {kind} effect {name!r}")
        run = _Run(self, columns, values, th, opt, active)
        rows = np.ones(columns.n, dtype=bool) if mask is None else mask.astype(bool)
        for var, expr in self.book.before.items():
            run.variables[var] = run.evaluate(expr, rows)
            run.changed()
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
        self._fallbacks: dict[str, int] = {}

    # --- the interpreter's view ------------------------------------------------------------

    def batch(self) -> Batch:
        if self._batch is None:
            whole = [n for n in self.columns.layout.keyed if n in self.book.schema.fields]
            batch = self.columns.batch(self.active, whole=whole)
            batch.records = self.live
            batch.columns.update(self.variables)
            self._batch = batch
        return self._batch

    def changed(self) -> None:
        """The columns were written: the batch's caches and the live records are stale."""
        self._batch = None
        self.live.forget()

    def vi_fallbacks(self) -> dict[str, int]:
        return self._fallbacks

    def evaluate(self, expr: Expr, rows: Array) -> Array:
        batch = self.batch()
        self._methods(expr, rows, batch)
        vi = VectorInterpreter(
            batch, self.th, self.opt, self.book.schema, self.owner.forms, self.owner.rulebook
        )
        out = vi.evaluate(expr, rows)
        for fn, count in vi.fallbacks.items():
            self._fallbacks[fn] = self._fallbacks.get(fn, 0) + count
        return out

    def _methods(self, expr: Expr, rows: Array, batch: Batch) -> None:
        """Record method calls without a column, made from the live records of ``rows``."""
        functions = self.book.schema.functions
        for name, args in expr.deps.calls:
            fn = functions.get(name)
            if fn is None or not fn.method or (name, args) in batch.calls:
                continue
            out: list[Any] = [None] * self.columns.n
            for i in np.flatnonzero(rows).tolist():
                out[i] = getattr(self.live[i], name)(*args)
            self._fallbacks[name] = self._fallbacks.get(name, 0) + int(np.count_nonzero(rows))
            batch.calls[(name, args)] = column(out)

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
        self.changed()

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
        self.changed()

    def _stop(self, op: tuple[Any, ...], rows: Array) -> None:
        _, drug, drug_expr, _ = op
        for key, here in list(self._keys(drug, drug_expr, rows)):
            self._drop(self.book.doses, key, here)
        self.changed()

    def _scale(self, op: tuple[Any, ...], rows: Array) -> None:
        _, factor_expr, _ = op
        factor = _floats(self.evaluate(factor_expr, rows))
        field = self.book.doses
        for key in self.columns.layout.keyed[field].keys:
            values = self.columns.values[(field, key)]
            here = rows & self.columns.present[(field, key)] & ~np.isnan(values)
            values[here] = values[here] * factor[here]
        self.changed()

    def _clear(self, op: tuple[Any, ...], rows: Array) -> None:
        _, name, _ = op
        keyed = self.columns.layout.keyed.get(name)
        if keyed is None:
            raise InvalidPathwayError(f"vector effects: {name!r} is not a keyed column")
        for key in keyed.keys:
            self._drop(name, key, rows)
        self.changed()

    def _add(self, op: tuple[Any, ...], rows: Array) -> None:
        _, name, expr, _ = op
        for key, here in list(self._keys(None, expr, rows)):
            self._known(name, key)
            self.columns.present[(name, key)][here] = True
        self.changed()

    def _discard(self, op: tuple[Any, ...], rows: Array) -> None:
        _, name, expr, _ = op
        for key, here in list(self._keys(None, expr, rows)):
            self._drop(name, key, here)
        self.changed()

    def _forget(self, op: tuple[Any, ...], rows: Array) -> None:
        self._discard(op, rows)

    def _call(self, op: tuple[Any, ...], rows: Array) -> None:
        """A mutator: Python, row by row on the rows concerned, written back."""
        _, method, args, _ = op
        values = [_as_objects(self.evaluate(a, rows)) for a in args]
        idx = np.flatnonzero(rows).tolist()
        for i in idx:
            record = self.live[i]
            getattr(record, method)(*(v[i] for v in values))
            self.columns.put(i, record)
        self.owner.fallbacks[method] = self.owner.fallbacks.get(method, 0) + len(idx)
        self.changed()
