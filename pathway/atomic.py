"""Writing a file whole or not at all: the one writer behind every file carechart writes.

:func:`write_atomic` writes into a temporary file beside the target (same file system),
flushes and fsyncs it, gives it the mode of any new file (``0o666`` under the umask, so
0644 with the usual umask 022), renames it over the target in one step and fsyncs the
folder, so that a crash or a full disk leaves the old file or the new one, never a part.

It lives in ``pathway`` because ``pathway.diagram`` writes the docs page and ``pathway``
never imports ``simulation``; every command of ``simulation`` uses it too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

__all__ = ["file_mode", "folder_mode", "fsync_folder", "fsync_tree", "write_atomic"]


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode of a new file under the current umask (0644 with the usual 022)."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """The mode of a new folder under the current umask (0755 with the usual 022)."""
    return 0o777 & ~_umask()


def fsync_folder(path: str | os.PathLike[str]) -> None:
    """Make the entries of folder ``path`` (a rename into it) durable; a no-op where a
    folder cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems cannot sync a folder
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: str | os.PathLike[str]) -> None:
    """fsync every file and folder under ``path`` (before the folder is published)."""
    root = Path(path)
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_folder(folder)


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text is written as UTF-8, newlines as given) to ``path`` atomically.

    Args:
        path: the file to write; its folder must exist.
        data: the whole content.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: the folder is missing or read-only, ``path`` is a folder, or the disk is
            full; the target is then as it was and no temporary file is left.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = target.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes a private (0600) file; the written one gets the usual mode.
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(folder)
    return target
