"""The patient record as columns: a batch of records as numpy arrays (issue 14).

A guideline declares its record's :class:`Layout`: the kind of each plain field, its
mappings and sets over closed vocabularies (:class:`Keyed`: one column per key), the record
methods whose values a columnar engine keeps (e.g. the latest value of each analyte), and the
properties read off the keyed columns. :class:`RecordColumns` holds ``n`` records so, and
converts from and to the records exactly (the order of a mapping's keys included).

The columns follow :mod:`pathway.vector`'s conventions, so :meth:`RecordColumns.batch` hands
the same arrays to the numpy interpreter without copying: a field is ``bool``, ``float64``
(NaN: missing), ``int64`` or ``object``; a key of a mapping or a method value is the call
column ``(name, (key,))`` the interpreter looks up (``on("azathioprine")``,
``dose("azathioprine")``, ``latest("alt_xuln")``) and the item column ``"<field>[<key>]"``
(:meth:`~pathway.vector.Batch.item`: NaN where absent); an attribute of an object field is
the column ``"<field>.<attribute>"`` (:meth:`~pathway.vector.Batch.attr`); a set member is
the membership test ``"x" in field`` the interpreter caches in ``Batch.derived`` (a
mapping's membership is read from the whole field, :meth:`RecordColumns.whole`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidPathwayError
from .vector import Batch, column

__all__ = ["Keyed", "Kind", "Layout", "LazyColumns", "Maker", "RecordColumns", "makers"]

Array = NDArray[Any]
CallKey = tuple[str, tuple[Any, ...]]

#: How a field is held: ``bool``; ``float`` (float64, NaN for ``None``); ``int`` (int64);
#: ``object`` (text, panels, lists: the values themselves).
Kind = Literal["bool", "float", "int", "object"]


@dataclass(frozen=True)
class Keyed:
    """A mapping or set field over the closed vocabulary ``keys``: one column per key.

    Attributes:
        keys: every key the field may hold.
        value: ``float`` (float64, NaN for ``None``) or ``int`` for a mapping's values;
            ``None`` for a set.
        present: the call name whose column says whether a key is there (``on``), if any.
        value_call: the call name whose column is a key's value (``dose``, ``fired``), if
            any: NaN where the key is absent (``float``), 0 (``int``).
    """

    keys: tuple[str, ...]
    value: Literal["float", "int"] | None = None
    present: str | None = None
    value_call: str | None = None


@dataclass(frozen=True)
class Layout:
    """A record type as columns.

    Attributes:
        record: the record type, built as ``record(**fields)`` from the columns.
        fields: plain field -> kind (see :data:`Kind`).
        keyed: mapping and set fields, by name.
        methods: record method -> the constant arguments whose values are kept as call
            columns (e.g. ``latest`` -> the analytes).
        firsts: property -> (keyed field, keys): the first key present, in that order, or
            ``None`` (e.g. the active steroid).
        anys: property -> keyed field: whether any key is present.
        attrs: object field -> attributes read as ``"<field>.<attribute>"`` columns
            (:meth:`pathway.vector.Batch.attr`; e.g. the treatment baseline's analytes).
        restore: ``(record, {call key: value})`` puts the method values back on a record
            built from the columns (they are the record's own state, e.g. latest values).
    """

    record: Callable[..., Any]
    fields: Mapping[str, Kind]
    keyed: Mapping[str, Keyed] = field(default_factory=dict)
    methods: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    firsts: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    anys: Mapping[str, str] = field(default_factory=dict)
    attrs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    restore: Callable[[Any, dict[CallKey, Any]], None] | None = None


def _float(values: Sequence[Any]) -> Array:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _objects(values: Sequence[Any]) -> Array:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # one by one: numpy would unpack nested lists
        out[i] = value
    return out


def _plain(kind: Kind, values: Sequence[Any]) -> Array:
    if kind == "bool":
        return np.array(values, dtype=bool)
    if kind == "float":
        return _float(values)
    if kind == "int":
        return np.array(values, dtype=np.int64)
    return _objects(values)


def _own(x: Any) -> Any:
    """A list, dict or set copied (a column and a record never share one); else ``x``."""
    return type(x)(x) if isinstance(x, list | dict | set) else x


def _value(kind: Kind, x: Any) -> Any:
    """One element of a column as the record holds it."""
    if kind == "float":
        return None if x != x else float(x)
    if kind == "int":
        return int(x)
    if kind == "bool":
        return bool(x)
    return x


#: Makes a column from the record columns as they are when it is read.
Maker = Callable[["RecordColumns"], Array]


class LazyColumns(dict[Any, Array]):
    """A batch's columns, some made on first read from ``source`` (``makers``: label ->
    function of the record columns, shared by every batch of a layout).

    Item and attribute columns (``"entered[s]"``, ``"treatment_baseline.alt_xuln"``) are
    made only when an expression reads them: a batch of a few rows would otherwise spend
    more on making the hundred-odd item columns than on evaluating its rules. A made
    column is kept until :meth:`RecordColumns.refresh` drops it after a write.
    """

    def __init__(self, source: RecordColumns, makers: Mapping[Any, Maker]) -> None:
        super().__init__()
        self.source = source
        self.makers = makers

    def __missing__(self, key: Any) -> Array:
        maker = self.makers.get(key)
        if maker is None:
            raise KeyError(key)
        value = self[key] = maker(self.source)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        """The column ``key`` (made now if it has a maker), else ``default``."""
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if key in self.makers:
            return self[key]
        return default

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.makers


class _Gathered(dict[Any, Array]):
    """Some rows of a dict of columns, each column gathered when first read (see
    :meth:`RecordColumns.view`). Iterating gathers every column; :meth:`gathered` lists
    only those read so far (the only ones a caller can have written)."""

    def __init__(self, source: Mapping[Any, Array], rows: Array) -> None:
        super().__init__()
        self.source, self.rows = source, rows

    def __missing__(self, key: Any) -> Array:
        value = self[key] = self.source[key][self.rows]
        return value

    def __contains__(self, key: object) -> bool:
        return key in self.source

    def __len__(self) -> int:
        return len(self.source)

    def _all(self) -> None:
        for key in self.source:
            if not dict.__contains__(self, key):
                self.__missing__(key)

    def __iter__(self) -> Iterator[Any]:
        self._all()
        return super().__iter__()

    def keys(self) -> Any:
        self._all()
        return super().keys()

    def values(self) -> Any:
        self._all()
        return super().values()

    def items(self) -> Any:
        self._all()
        return super().items()

    def gathered(self) -> list[tuple[Any, Array]]:
        """The columns read so far, with their values."""
        return list(dict.items(self))


_CALLS: dict[int, tuple[Layout, dict[Any, Maker]]] = {}


def call_makers(layout: Layout) -> dict[Any, Maker]:
    """Call key -> maker of every call column of ``layout`` (``on(d)``, ``dose(d)``,
    ``latest(a)``, ...: the columns themselves, not copies; made once)."""
    found = _CALLS.get(id(layout))
    if found is not None and found[0] is layout:
        return found[1]
    out: dict[Any, Maker] = {}
    for method_key in _method_keys(layout):
        out[method_key] = _method_maker(method_key)
    for name, keyed in layout.keyed.items():
        for key in keyed.keys:
            if keyed.present is not None:
                out[(keyed.present, (key,))] = _present_maker(name, key)
            if keyed.value_call is not None:
                out[(keyed.value_call, (key,))] = _values_maker(name, key)
        if keyed.present is not None:
            out[(keyed.present, (None,))] = _absent_maker(bool, False)
        if keyed.value_call is not None:
            fill = 0.0 if keyed.value == "int" else np.nan
            out[(keyed.value_call, (None,))] = _absent_maker(np.float64, fill)
    _CALLS[id(layout)] = (layout, out)
    return out


def _method_keys(layout: Layout) -> list[CallKey]:
    return [(method, (arg,)) for method, args in layout.methods.items() for arg in args]


def _method_maker(key: CallKey) -> Maker:
    return lambda c: c.methods[key]


def _present_maker(name: str, key: str) -> Maker:
    return lambda c: c.present[(name, key)]


def _values_maker(name: str, key: str) -> Maker:
    return lambda c: c.values[(name, key)]


def _absent_maker(dtype: Any, fill: Any) -> Maker:
    return lambda c: np.full(c.n, fill, dtype=dtype)


def _plain_maker(name: str) -> Maker:
    return lambda c: c.plain[name]


def _first_maker(name: str) -> Maker:
    return lambda c: c.first(name)


def _any_maker(name: str) -> Maker:
    return lambda c: c.any(name)


_MAKERS: dict[int, tuple[Layout, dict[str, Maker]]] = {}


def _item_maker(name: str, key: str) -> Maker:
    """Makes the item column ``"<name>[<key>]"`` (NaN where the key is absent)."""

    def make(c: RecordColumns) -> Array:
        return np.where(c.present[(name, key)], c.values[(name, key)], np.nan)

    return make


def _whole_maker(name: str) -> Maker:
    """Makes the object column of a keyed field (sets, or dicts in key order)."""

    def make(c: RecordColumns) -> Array:
        return c.whole(name)

    return make


def _attr_maker(name: str, attribute: str) -> Maker:
    """Makes the column ``"<name>.<attribute>"`` of an object field (numbers with NaN for
    missing, as the interpreter's ``column()`` makes them; else objects)."""

    def make(c: RecordColumns) -> Array:
        values = [None if v is None else getattr(v, attribute) for v in c.plain[name]]
        try:
            return _float(values)
        except (TypeError, ValueError):
            return column(values)

    return make


def makers(layout: Layout) -> dict[str, Maker]:
    """Label -> maker of every keyed field read whole, item column and attribute column of
    ``layout`` (made once)."""
    found = _MAKERS.get(id(layout))
    if found is not None and found[0] is layout:
        return found[1]
    out: dict[str, Maker] = {name: _plain_maker(name) for name in layout.fields}
    out.update({name: _first_maker(name) for name in layout.firsts})
    out.update({name: _any_maker(name) for name in layout.anys})
    for name, keyed in layout.keyed.items():
        out[name] = _whole_maker(name)  # read whole: ``len(drugs)``, ``sorted(intolerant)``
        if keyed.value is not None:
            for key in keyed.keys:
                out[f"{name}[{key}]"] = _item_maker(name, key)
    for name, attributes in layout.attrs.items():
        for attribute in attributes:
            out[f"{name}.{attribute}"] = _attr_maker(name, attribute)
    _MAKERS[id(layout)] = (layout, out)
    return out


@dataclass
class RecordColumns:
    """``n`` records as columns (see the module docstring).

    Attributes:
        plain: field -> column.
        present: (keyed field, key) -> ``bool`` column: the key is there.
        values: (mapping field, key) -> column of its value (NaN or 0 where absent).
        rank: (mapping field, key) -> ``int64`` column: the key's place in the mapping's
            order (-1: absent), so the records come back with their keys in order.
        methods: (method, arguments) -> column of the record method's value.
    """

    layout: Layout
    n: int
    plain: dict[str, Array] = field(default_factory=dict)
    present: dict[tuple[str, str], Array] = field(default_factory=dict)
    values: dict[tuple[str, str], Array] = field(default_factory=dict)
    rank: dict[tuple[str, str], Array] = field(default_factory=dict)
    methods: dict[CallKey, Array] = field(default_factory=dict)

    @classmethod
    def from_records(cls, layout: Layout, records: Sequence[Any]) -> RecordColumns:
        """The columns of ``records``; a key outside its field's vocabulary raises."""
        n = len(records)
        out = cls(layout, n)
        for name, kind in layout.fields.items():
            out.plain[name] = _plain(kind, [_own(getattr(r, name)) for r in records])
        for name, keyed in layout.keyed.items():
            held = [getattr(r, name) for r in records]
            known = set(keyed.keys)
            for i, value in enumerate(held):
                unknown = sorted(str(k) for k in value if k not in known)
                if unknown:
                    raise InvalidPathwayError(
                        f"record {i}: {name} holds {unknown}; expected keys among "
                        f"{list(keyed.keys)}"
                    )
            for key in keyed.keys:
                out.present[(name, key)] = np.array([key in v for v in held], dtype=bool)
            if keyed.value is None:
                continue
            for key in keyed.keys:
                if keyed.value == "int":
                    col: Array = np.array([v.get(key, 0) for v in held], dtype=np.int64)
                else:
                    col = _float([v.get(key) for v in held])
                out.values[(name, key)] = col
                ranks = [{k: j for j, k in enumerate(v)}.get(key, -1) for v in held]
                out.rank[(name, key)] = np.array(ranks, dtype=np.int64)
        for method, args in layout.methods.items():
            for arg in args:
                got = [getattr(r, method)(arg) for r in records]
                out.methods[(method, (arg,))] = _float(got)
        return out

    def to_records(self) -> list[Any]:
        """The records the columns hold, each built by the layout's record type."""
        return self.records(np.arange(self.n))

    def record(self, i: int) -> Any:
        """Record ``i`` as the columns hold it now (its lists and mappings its own copies).

        One element of each column (no fancy indexing: a single row is what the row-by-row
        fallbacks ask for, and :meth:`records` costs about 1 ms for one)."""
        layout = self.layout
        kwargs: dict[str, Any] = {
            name: _own(_value(kind, self.plain[name][i])) for name, kind in layout.fields.items()
        }
        for name, keyed in layout.keyed.items():
            present = self.present
            here = [k for k in keyed.keys if present[(name, k)][i]]
            if keyed.value is None:
                kwargs[name] = set(here)
                continue
            rank, values, kind = self.rank, self.values, keyed.value
            ordered = sorted((int(rank[(name, k)][i]), k) for k in here)
            kwargs[name] = {k: _value(kind, values[(name, k)][i]) for _, k in ordered}
        record = layout.record(**kwargs)
        if layout.restore is not None:
            methods = self.methods
            kept = {key: _value("float", methods[key][i]) for key in _method_keys(layout)}
            layout.restore(record, kept)
        return record

    def records(self, rows: Array) -> list[Any]:
        """The records of rows ``rows`` (indices), each column read once for all of them."""
        layout = self.layout
        plain = {
            name: [_own(_value(kind, v)) for v in self.plain[name][rows].tolist()]
            for name, kind in layout.fields.items()
        }
        held = {name: self._held_rows(name, rows) for name in layout.keyed}
        kept = {key: self.methods[key][rows].tolist() for key in _method_keys(layout)}
        out = []
        for j in range(len(rows)):
            kwargs = {name: values[j] for name, values in plain.items()}
            for name, values in held.items():
                kwargs[name] = values[j]
            record = layout.record(**kwargs)
            if layout.restore is not None:
                layout.restore(record, {key: _value("float", v[j]) for key, v in kept.items()})
            out.append(record)
        return out

    def _held_rows(self, name: str, rows: Array) -> list[Any]:
        """What rows ``rows`` hold in keyed field ``name``: sets, or dicts in key order."""
        keyed = self.layout.keyed[name]
        present = {k: self.present[(name, k)][rows] for k in keyed.keys}
        keys = [k for k in keyed.keys if present[k].any()]
        if keyed.value is None:
            flags = {k: present[k].tolist() for k in keys}
            return [{k for k in keys if flags[k][j]} for j in range(len(rows))]
        value_kind = keyed.value
        values = {k: self.values[(name, k)][rows].tolist() for k in keys}
        ranks = {k: self.rank[(name, k)][rows].tolist() for k in keys}
        out = []
        for j in range(len(rows)):
            here = sorted((ranks[k][j], k) for k in keys if ranks[k][j] >= 0)
            out.append({k: _value(value_kind, values[k][j]) for _, k in here})
        return out

    def take(self, rows: Array) -> RecordColumns:
        """Rows ``rows`` (indices) as columns of their own: the arrays are copies, the
        objects they hold (lab histories, panels) are shared, as the records would share
        them. :meth:`give` writes them back."""
        return RecordColumns(
            self.layout,
            len(rows),
            {k: v[rows] for k, v in self.plain.items()},
            {k: v[rows] for k, v in self.present.items()},
            {k: v[rows] for k, v in self.values.items()},
            {k: v[rows] for k, v in self.rank.items()},
            {k: v[rows] for k, v in self.methods.items()},
        )

    def view(self, rows: Array) -> RecordColumns:
        """Rows ``rows`` (indices) as columns of their own, each column gathered when first
        read (copies, as :meth:`take` makes); :meth:`give` writes back those read."""
        return RecordColumns(
            self.layout,
            len(rows),
            _Gathered(self.plain, rows),
            _Gathered(self.present, rows),
            _Gathered(self.values, rows),
            _Gathered(self.rank, rows),
            _Gathered(self.methods, rows),
        )

    def give(self, rows: Array, part: RecordColumns) -> None:
        """Write ``part`` (columns of rows ``rows``, from :meth:`take` or :meth:`view`) back
        into them."""
        for mine, theirs in (
            (self.plain, part.plain),
            (self.present, part.present),
            (self.values, part.values),
            (self.rank, part.rank),
            (self.methods, part.methods),
        ):
            pairs = theirs.gathered() if isinstance(theirs, _Gathered) else theirs.items()
            for key, col in pairs:
                mine[key][rows] = col  # type: ignore[index]

    def put(self, i: int, record: Any) -> None:
        """Write ``record`` into row ``i`` (every column: what a Python mutator changed)."""
        layout = self.layout
        for name, kind in layout.fields.items():
            value = getattr(record, name)
            self.plain[name][i] = np.nan if kind == "float" and value is None else _own(value)
        for name, keyed in layout.keyed.items():
            held = getattr(record, name)
            for key in keyed.keys:
                self.present[(name, key)][i] = key in held
            if keyed.value is None:
                continue
            order = {k: j for j, k in enumerate(held)}
            for key in keyed.keys:
                value = held.get(key, 0 if keyed.value == "int" else None)
                self.values[(name, key)][i] = np.nan if value is None else value
                self.rank[(name, key)][i] = order.get(key, -1)
        for (method, args), col in self.methods.items():
            value = getattr(record, method)(*args)
            col[i] = np.nan if value is None else value

    # --- what the numpy interpreter reads ------------------------------------------------

    def first(self, name: str) -> Array:
        """The property ``name`` of :attr:`Layout.firsts`: the first key present, or None."""
        keyed_field, keys = self.layout.firsts[name]
        out = np.full(self.n, None, dtype=object)
        for key in reversed(keys):
            out[self.present[(keyed_field, key)]] = key
        return out

    def any(self, name: str) -> Array:
        """The property ``name`` of :attr:`Layout.anys`: whether any key is present."""
        keyed_field = self.layout.anys[name]
        out = np.zeros(self.n, dtype=bool)
        for key in self.layout.keyed[keyed_field].keys:
            out |= self.present[(keyed_field, key)]
        return out

    def whole(self, name: str) -> Array:
        """A keyed field as an object column of sets or dicts (for whole-field reads)."""
        return _objects(self._held_rows(name, np.arange(self.n)))

    def batch(self, active: Set[str], whole: Sequence[str] = ()) -> Batch:
        """A :class:`~pathway.vector.Batch` over these columns (the same arrays, no records).

        Plain fields, the properties, each key's call columns, the method columns and the
        set membership tests are all there; the keyed fields named in ``whole`` are added as
        object columns (``len(drugs)``, ``sorted(drugs)`` read them whole). Columns written
        in place stay current; after a write, :meth:`refresh` the rest.
        """
        layout = self.layout
        batch = Batch(
            self.n,
            frozenset(active),
            LazyColumns(self, makers(layout)),
            LazyColumns(self, call_makers(layout)),
        )
        for name, keyed in layout.keyed.items():
            if keyed.value is None:  # a set: its membership tests
                for key in keyed.keys:
                    here = self.present[(name, key)]
                    batch.derived[("In", name, True, key)] = here
                    batch.derived[("NotIn", name, True, key)] = ~here
        for name in whole:
            batch.columns[name] = self.whole(name)
        return batch

    def refresh(self, batch: Batch, changed: Set[str]) -> None:
        """Bring ``batch`` up to date after fields ``changed`` were written in place: the
        interpreter's cached tests of them, membership tests, properties, whole columns."""
        layout = self.layout
        properties = {n for n, (f, _) in layout.firsts.items() if f in changed}
        properties |= {n for n, f in layout.anys.items() if f in changed}
        stale = set(changed) | properties
        for cached in [k for k in batch.derived if len(k) > 1 and k[1] in stale]:
            del batch.derived[cached]
        for name in changed & set(layout.keyed):
            batch.columns.pop(name, None)
            keyed = layout.keyed[name]
            for key in keyed.keys:
                here = self.present[(name, key)]
                if keyed.value is None:  # a set: its membership tests
                    batch.derived[("In", name, True, key)] = here
                    batch.derived[("NotIn", name, True, key)] = ~here
                else:  # a mapping: its items (its membership tests read it whole)
                    label = f"{name}[{key}]"
                    if isinstance(batch.columns, LazyColumns):
                        batch.columns.pop(label, None)  # made again when read
                    else:
                        batch.columns[label] = _item_maker(name, key)(self)
        for name in changed & set(layout.attrs):
            for attribute in layout.attrs[name]:
                label = f"{name}.{attribute}"
                if isinstance(batch.columns, LazyColumns):
                    batch.columns.pop(label, None)  # made again when read
                else:
                    batch.columns[label] = _attr_maker(name, attribute)(self)
        for name, (keyed_field, _) in layout.firsts.items():
            if keyed_field in changed:
                batch.columns[name] = self.first(name)
        for name, keyed_field in layout.anys.items():
            if keyed_field in changed:
                batch.columns[name] = self.any(name)
