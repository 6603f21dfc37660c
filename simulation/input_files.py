"""The one hardened reader of carechart's YAML and JSON input files.

Cohorts, model parameters, calibration targets, check declarations, calibration results
and scenarios (with their own, smaller limits) are all read here, so that each of them is
safe to read whatever the file holds:

- only a regular file is read: a folder, a device such as ``/dev/zero``, a FIFO or a socket
  is refused before a byte is read (a FIFO would block, ``/dev/zero`` never ends);
- a file larger than :data:`MAX_FILE_BYTES` is refused before parsing (the largest shipped
  input is about 20 KB; a 200 MB file would take minutes to parse);
- the text must be UTF-8 (the error names the line, column and byte);
- YAML is composed into nodes with PyYAML's ``SafeLoader`` and converted here node by node:
  only plain YAML types (text, numbers, booleans, null, lists, mappings), aliases expanded
  under a budget of :data:`MAX_NODES` values (an "alias bomb" fails at once), nesting at
  most :data:`MAX_DEPTH` levels (no ``RecursionError``), keys are text and given once, one
  document per file; ``1e-5`` is a number, as in YAML 1.2 (PyYAML would read text);
- JSON is parsed with the same depth limit and duplicate keys are errors too.

Every error is an :class:`InputFileError` whose text is one line, ``FILE:LINE:COLUMN:
MESSAGE`` (``FILE: MESSAGE`` when no position applies).
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "InputFileError",
    "InputTooLargeError",
    "Located",
    "compose_yaml",
    "load_json",
    "load_yaml",
    "parse_json",
    "parse_yaml",
    "read_input_bytes",
    "read_input_file",
]

#: Largest input file accepted, in bytes (1 MiB; the largest shipped file is about 20 KB).
MAX_FILE_BYTES = 1024 * 1024
#: Most YAML values a document may hold once aliases are expanded.
MAX_NODES = 200_000
#: Deepest nesting of lists and mappings accepted (the shipped files nest 4 levels).
MAX_DEPTH = 32

_ALLOWED_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"  # read as text: a date is not a number
_STR_TAG = "tag:yaml.org,2002:str"
#: Scientific notation without a dot (``1e-5``): a number in YAML 1.2 and JSON, text to
#: PyYAML's YAML 1.1; read as the number the author meant.
_SCIENTIFIC = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class InputFileError(ValueError):
    """An input file that cannot be read as asked: not a regular file, too large, not UTF-8,
    not valid YAML/JSON, too deep, an alias bomb, a duplicate key.

    ``str(error)`` is one line: ``FILE:LINE:COLUMN: MESSAGE`` (``FILE: MESSAGE`` when
    ``line`` is 0).

    Attributes:
        file: the file as given.
        line: 1-based line of the problem (0: the file as a whole).
        column: 1-based column (0: the file as a whole).
        message: what is wrong, with what was found and what was expected.
        found: the offending value, when there is one.
        expected: a short description of what was expected.
    """

    def __init__(
        self,
        file: str,
        line: int,
        column: int,
        message: str,
        found: Any = None,
        expected: str = "",
    ) -> None:
        self.file, self.line, self.column = file, line, column
        self.message, self.found, self.expected = message, found, expected
        super().__init__(file, line, column, message, found, expected)

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class InputTooLargeError(InputFileError):
    """An input file larger than the limit (``found``: its size read so far, in bytes)."""


# --- bytes and text -------------------------------------------------------------------------

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def read_input_bytes(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of regular file ``path``, at most ``max_bytes``.

    Raises:
        InputFileError: ``path`` is not a regular file or is larger than ``max_bytes``.
        OSError: the file is missing or unreadable (its ``filename`` is set).
    """
    name = os.fspath(path)
    # O_NONBLOCK: opening a FIFO with no writer must not hang; the mode check follows.
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise InputFileError(name, 0, 0, "found a folder, expected a file") from None
    except FileNotFoundError:
        if not os.path.islink(name):
            raise
        message = f"found a symbolic link to {os.readlink(name)}, which does not exist"
        raise InputFileError(name, 0, 0, message + ", expected a file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            message = "found a loop of symbolic links, expected a file"
            raise InputFileError(name, 0, 0, message) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        for test, kind in _KINDS:
            if test(mode):
                raise InputFileError(name, 0, 0, f"found {kind}, expected a file")
        if hasattr(os, "set_blocking"):  # not on Windows before Python 3.12
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(max_bytes + 1)  # a file growing while read stops here too
    if len(data) > max_bytes:
        size = os.stat(name).st_size
        raise InputTooLargeError(
            name,
            0,
            0,
            f"found {max(size, len(data)):,} bytes, expected at most {max_bytes:,}",
            found=len(data),
            expected=f"<= {max_bytes} bytes",
        )
    return data


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_col(data[: exc.start].decode("utf-8", "replace"))
        raise InputFileError(
            name,
            line,
            column,
            f"found byte 0x{data[exc.start]:02x} at offset {exc.start}, expected a UTF-8 text file",
            expected="UTF-8",
        ) from None


def read_input_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of UTF-8 input file ``path`` (cohort, parameters, targets, declarations...).

    Raises:
        InputFileError: not a regular file, larger than ``max_bytes``, or not UTF-8 text.
        OSError: the file is missing or unreadable (its ``filename`` is set).
    """
    return _decode(read_input_bytes(path, max_bytes=max_bytes), os.fspath(path))


def _line_col(prefix: str) -> tuple[int, int]:
    lines = prefix.split("\n")
    return len(lines), len(lines[-1]) + 1


# --- YAML -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Located:
    """A plain YAML value with its 1-based position.

    ``value`` is text, a number, a bool, ``None``, a list of :class:`Located` or a dict from
    key text to ``(key Located, value Located)``.
    """

    value: Any
    line: int
    column: int

    def line_of(self, keys: Sequence[str]) -> int | None:
        """The line of the value at ``keys`` (mapping keys from this value down), or of the
        deepest of them present (a missing field is placed at its parent); ``None`` when
        not even the first is present."""
        line, node = None, self
        for key in keys:
            if not isinstance(node.value, dict) or key not in node.value:
                break
            key_node, node = node.value[key]
            line = key_node.line
        return line

    def plain(self) -> Any:
        """The value without positions: dicts, lists, text, numbers, booleans, None."""
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        if isinstance(self.value, dict):
            return {k: v.plain() for k, (_, v) in self.value.items()}
        return self.value


def compose_yaml(
    text: str,
    file: str,
    *,
    kind: str = "input",
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
    libyaml: bool = True,
) -> Located | None:
    """Compose one YAML document into :class:`Located` values (``None``: an empty file).

    Args:
        text: the document.
        file: its name, for messages.
        kind: what the file is (``scenario``), for messages.
        max_nodes: most values once aliases are expanded.
        max_depth: deepest nesting of lists and mappings.
        libyaml: compose with libyaml when PyYAML has it (about 10 times faster: a 1 MiB
            file in about 2 s rather than 20; its messages differ slightly in wording).

    Raises:
        InputFileError: invalid YAML, more than one document, a tag other than plain YAML,
            too many values or levels, a key that is not text or given twice.
    """
    loader: Any = None
    fast = libyaml and getattr(yaml, "__with_libyaml__", False)
    try:
        # Either reader rejects control characters; libyaml stops at 1,000 levels itself.
        loader = yaml.CSafeLoader(text) if fast else yaml.SafeLoader(text)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "maximum nesting depth" in problem:  # libyaml's own limit
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            message = f"invalid YAML: nested deeper than {max_depth} levels"
            raise InputFileError(file, line, column, message) from None
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        where = exc.context_mark
        if exc.problem and exc.context and where is not None and where is not mark:
            problem += f" ({exc.context} at {where.line + 1}:{where.column + 1})"
        raise InputFileError(file, line, column, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        position = getattr(exc, "position", None)
        line, column = _line_col(text[:position]) if isinstance(position, int) else (1, 1)
        reason = getattr(exc, "reason", None) or "invalid YAML"
        raise InputFileError(file, line, column, f"invalid YAML: {reason}") from None
    except RecursionError:
        # PyYAML composes nested nodes recursively: far deeper than max_depth ends here.
        line, column = _deepest(text)
        raise InputFileError(
            file, line, column, f"invalid YAML: nested deeper than {max_depth} levels"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return None
    return _Converter(file, kind, max_nodes, max_depth).convert(node)


def _deepest(text: str) -> tuple[int, int]:
    """Where the flow nesting (``[`` and ``{``) of ``text`` is deepest (roughly: strings
    are not skipped), for the message of a document too deep to compose."""
    depth = best = 0
    at = 0
    for i, ch in enumerate(text):
        if ch in "[{":
            depth += 1
            if depth > best:
                best, at = depth, i
        elif ch in "]}":
            depth -= 1
    return _line_col(text[:at])


class _Converter:
    """Turns composed nodes into :class:`Located` trees under a node budget and depth limit."""

    def __init__(self, file: str, kind: str, max_nodes: int, max_depth: int) -> None:
        self.file, self.kind = file, kind
        self.max_nodes, self.max_depth = max_nodes, max_depth
        self.budget = max_nodes
        self.constructor = SafeConstructor()
        self.path: set[int] = set()

    def error(self, node: Node, message: str, found: Any = None, expected: str = "") -> None:
        mark = node.start_mark
        raise InputFileError(self.file, mark.line + 1, mark.column + 1, message, found, expected)

    def convert(self, node: Node, depth: int = 0) -> Located:
        self.budget -= 1
        if self.budget < 0:
            self.error(
                node,
                f"document expands to more than {self.max_nodes} values (an alias bomb?)",
                expected=f"<= {self.max_nodes} values",
            )
        if depth > self.max_depth:
            self.error(node, f"nested deeper than {self.max_depth} levels")
        tag = node.tag
        if tag not in _ALLOWED_TAGS and tag != _TIMESTAMP_TAG:
            short = tag.replace("tag:yaml.org,2002:", "!!")
            self.error(
                node,
                f"tag {short!r} is not allowed; {self.kind} files hold plain YAML only "
                "(text, numbers, true/false, lists, mappings)",
                found=short,
                expected="plain YAML",
            )
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if isinstance(node, ScalarNode):
            if tag == _TIMESTAMP_TAG:
                return Located(str(node.value), line, column)
            plain = not node.style  # None (PyYAML) or "" (libyaml): not quoted, no block
            if tag == _STR_TAG and plain and _SCIENTIFIC.fullmatch(node.value):
                return Located(float(node.value), line, column)
            try:
                value = self.constructor.construct_object(node, deep=False)
            except (yaml.YAMLError, ValueError, OverflowError):
                value = str(node.value)
            return Located(value, line, column)
        if id(node) in self.path:
            self.error(node, "an alias refers to a value that contains it (recursive alias)")
        self.path.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return Located([self.convert(n, depth + 1) for n in node.value], line, column)
            assert isinstance(node, MappingNode)
            out: dict[str, tuple[Located, Located]] = {}
            for key_node, value_node in node.value:
                key = self.convert(key_node, depth + 1)
                if not isinstance(key.value, str):
                    self.error(
                        key_node,
                        f"keys must be text (got {key.value!r})",
                        found=key.value,
                        expected="text key",
                    )
                if key.value in out:
                    first = out[key.value][0]
                    self.error(
                        key_node,
                        f"duplicate key {key.value!r}: found it twice (first at line "
                        f"{first.line}), expected each key once",
                        found=key.value,
                        expected="unique keys",
                    )
                out[key.value] = (key, self.convert(value_node, depth + 1))
            return Located(out, line, column)
        finally:
            self.path.discard(id(node))


def parse_yaml(text: str, file: str) -> Any:
    """Plain data of YAML ``text`` (``None`` for an empty document); see :func:`compose_yaml`.

    Raises:
        InputFileError: see :func:`compose_yaml`.
    """
    root = compose_yaml(text, file)
    return None if root is None else root.plain()


def load_yaml(path: str | os.PathLike[str]) -> Any:
    """Plain data of YAML input file ``path`` (``None`` for an empty file).

    Raises:
        InputFileError: see :func:`read_input_file` and :func:`compose_yaml`.
        OSError: the file is missing or unreadable.
    """
    return parse_yaml(read_input_file(path), os.fspath(path))


# --- JSON -------------------------------------------------------------------------------------


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_json(text: str, file: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON ``text``: duplicate keys and nesting deeper than ``max_depth`` are errors.

    Raises:
        InputFileError: invalid JSON (with its line and column), a duplicate key, too deep.
    """
    too_deep = f"nested deeper than {max_depth} levels"
    try:
        data = json.loads(text, object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise InputFileError(file, exc.lineno, exc.colno, f"not valid JSON: {exc.msg}") from None
    except _DuplicateKeyError as exc:
        line, column = _key_position(text, exc.key)
        raise InputFileError(
            file,
            line,
            column,
            f"duplicate key {exc.key!r}: found it twice, expected each key once",
            exc.key,
            "unique keys",
        ) from None
    except RecursionError:
        raise InputFileError(file, *_deepest(text), too_deep) from None
    if _depth(data) > max_depth:
        raise InputFileError(file, *_deepest(text), too_deep)
    return data


def _key_position(text: str, key: str) -> tuple[int, int]:
    """Where ``"key":`` occurs the second time in ``text`` (1, 1 when it cannot be told)."""
    needle = json.dumps(key)
    first = text.find(needle)
    second = text.find(needle, first + 1) if first >= 0 else -1
    return _line_col(text[:second]) if second >= 0 else (1, 1)


def load_json(path: str | os.PathLike[str]) -> Any:
    """Parsed JSON input file ``path``; see :func:`read_input_file` and :func:`parse_json`.

    Raises:
        InputFileError: see :func:`read_input_file` and :func:`parse_json`.
        OSError: the file is missing or unreadable.
    """
    return parse_json(read_input_file(path), os.fspath(path))
