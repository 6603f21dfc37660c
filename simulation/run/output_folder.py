"""Output folders written whole or not at all, and never over a folder carechart did not write.

A command that writes a folder (``simulate``, ``demo``, ``generate``, ``check --out``)
writes into a hidden staging folder beside it, ``.NAME.tmp-PID-XXXX``, then publishes it in
one step (:class:`StagedFolder`):

- a new folder is the staging folder renamed;
- a folder from an earlier run is swapped with the staging folder in one rename
  (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two renames, the old folder kept as
  ``.NAME.old-PID-XXXX`` in between), then removed. A crash leaves the old run or the new
  one, never files of both;
- the published folder holds a marker file, :data:`MARKER`. A folder without it that is not
  empty was not written by carechart and is refused before any work, unless ``--force``;
- staging folders of runs that died (``kill -9``, a power cut) are found by the process id
  in their name and removed by the next run into the same parent folder; an old folder of
  an interrupted swap is put back when the published one is missing.

Temporary folders of a command (calibrate's runs) follow the same rules
(:func:`temporary_folder`), and a command stopped by a signal removes all of them
(:func:`remove_staging_folders`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from pathway.atomic import folder_mode, fsync_folder, fsync_tree, write_atomic

from ..version import software_version
from . import stopping

__all__ = [
    "MARKER",
    "OutputPathError",
    "StagedFolder",
    "add_force_option",
    "check_output_file",
    "check_output_folder",
    "remove_staging_folders",
    "remove_stale",
    "temporary_folder",
]

#: The file that marks a folder as written by carechart (hidden; JSON: command, version).
MARKER = ".carechart"


class OutputPathError(ValueError):
    """An output path that cannot be written (one line: option, path, found, expected)."""


# --- checks made before any work ------------------------------------------------------------


def _check_parents(option: str, target: Path, make_parents: bool) -> None:
    """The nearest existing folder above ``target`` must be a writable folder."""
    parent = target.absolute().parent
    while not parent.exists():
        if not make_parents:
            raise OutputPathError(
                f"{option} {target}: found no folder {parent}, expected an existing folder"
            )
        parent = parent.parent
    if not parent.is_dir():
        raise OutputPathError(f"{option} {target}: found a file at {parent}, expected a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"{option} {target}: found {parent} read-only, expected a writable folder"
        )


def _follow(option: str, target: Path) -> Path:
    """``target`` with its symbolic links followed; a loop or a dangling link is an error."""
    try:
        os.stat(target)
    except FileNotFoundError:
        if os.path.islink(target):
            raise OutputPathError(
                f"{option} {target}: found a symbolic link to {os.readlink(target)}, which "
                "does not exist; expected a folder (create it, or give another path)"
            ) from None
        return target.absolute()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputPathError(
                f"{option} {target}: found a loop of symbolic links, expected a folder"
            ) from None
        if exc.errno == errno.ENOTDIR:
            return target.absolute()  # a file above it: reported by _check_parents
        raise
    return Path(os.path.realpath(target))


def check_output_file(
    option: str, path: str | os.PathLike[str], *, make_parents: bool = False
) -> Path:
    """Check, before any work, that a command can write the file ``path`` (its ``option``).

    Args:
        option: the command-line option that named the path (for the message).
        path: the file to be written.
        make_parents: missing folders above it will be created (else they must exist).

    Raises:
        OutputPathError: ``path`` is a folder or a symbolic-link loop, or a folder above it
            is a file, missing or read-only.
    """
    target = Path(path)
    try:
        os.stat(target)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputPathError(
                f"{option} {target}: found a loop of symbolic links, expected a file name"
            ) from None
    if target.is_dir():
        raise OutputPathError(f"{option} {target}: found a folder, expected a file name")
    _check_parents(option, target, make_parents)
    return target


def _is_ours(folder: Path) -> bool:
    """A folder carechart wrote (it holds the marker) or an empty one."""
    if (folder / MARKER).is_file():
        return True
    return next(os.scandir(folder), None) is None


def _unsafe_to_replace(folder: Path) -> str | None:
    """Why ``folder`` must not be replaced even with ``--force`` (``None``: it may be)."""
    here, home = Path.cwd().resolve(), Path.home().resolve()
    if folder.parent == folder:
        return "the root of a file system"
    if folder == here or folder in here.parents:
        return "the current folder or one above it"
    if folder == home or folder in home.parents:
        return "the home folder or one above it"
    return None


def check_output_folder(option: str, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Check, before any work, that a command may write the folder ``path``.

    The folder may be missing (it is created with its parents), empty, or one carechart
    wrote (it holds :data:`MARKER`); with ``force``, any other folder too. The current
    folder, the home folder, a folder above them and a file system's root are never
    replaced.

    Returns:
        The folder to write, with symbolic links followed (a link to a folder stays a link;
        the folder it points to is replaced).

    Raises:
        OutputPathError: naming the option, the path, what was found and what was expected.
    """
    given = Path(path)
    target = _follow(option, given)
    if target.exists() and not target.is_dir():
        raise OutputPathError(f"{option} {given}: found a file, expected a folder")
    if target.is_dir():
        if not os.access(target, os.W_OK | os.X_OK):
            raise OutputPathError(
                f"{option} {given}: found a read-only folder, expected a writable one"
            )
        unsafe = _unsafe_to_replace(target)
        if unsafe is not None:  # replacing it would pull the folder from under the user
            raise OutputPathError(
                f"{option} {given}: found {unsafe}, which carechart never replaces, even "
                "with --force; expected a folder of its own (a new subfolder)"
            )
        if not _is_ours(target) and not force:
            entries = sorted(e.name for e in os.scandir(target))
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise OutputPathError(
                f"{option} {given}: found a folder carechart did not write ({len(entries)} "
                f"entries: {shown}), expected a new or empty folder or one from an earlier "
                "run; add --force to replace it and everything in it"
            )
        _check_parents(option, target, make_parents=False)  # the swap renames in the parent
        return target
    _check_parents(option, target, make_parents=True)
    return target


def add_force_option(parser: argparse.ArgumentParser) -> None:
    """``--force``: replace an output folder carechart did not write."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace --out even when it is a folder carechart did not write (everything "
        "in it is deleted); a folder from an earlier run is replaced without it",
    )


# --- staging folders, owned by a process ------------------------------------------------------

#: Staging and temporary folders of this process (removed by :func:`remove_staging_folders`).
_STAGING: set[Path] = set()


def remove_staging_folders() -> None:
    """Remove every staging and temporary folder this process still has open (a command
    that is being stopped by a signal leaves nothing half-written behind)."""
    for folder in list(_STAGING):
        shutil.rmtree(folder, ignore_errors=True)
        _STAGING.discard(folder)


stopping.on_stop(remove_staging_folders)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie counts as dead)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal test is all there is
    return stat.rpartition(")")[2].split()[0] != "Z"


def _stale(parent: Path, pattern: str) -> Iterator[tuple[Path, str, int]]:
    """Entries of ``parent`` whose name matches ``pattern`` (groups: kind, pid) and whose
    owner process is gone."""
    regex = re.compile(pattern)
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        match = regex.fullmatch(entry.name)
        if match is None:
            continue
        pid = int(match.group("pid"))
        if not _alive(pid):
            yield Path(entry.path), match.group("kind"), pid


def remove_stale(parent: Path, name: str) -> list[Path]:
    """Remove the staging folders for ``parent/name`` left by runs that died; put back an
    old folder whose swap was cut short when ``name`` itself is missing.

    Returns:
        The folders removed or restored (each is reported on stderr).
    """
    target = parent / name
    pattern = rf"\.{re.escape(name)}\.(?P<kind>tmp|old)-(?P<pid>\d+)-\w+"
    done = []
    for path, kind, pid in _stale(parent, pattern):
        if kind == "old" and not target.exists():
            os.replace(path, target)
            what = f"restored {target} from an interrupted run (pid {pid})"
        else:
            shutil.rmtree(path, ignore_errors=True)
            what = f"removed {path}, left by an interrupted run (pid {pid})"
        print(f"carechart: {what}", file=sys.stderr)
        done.append(path)
    return done


@contextlib.contextmanager
def temporary_folder(prefix: str) -> Iterator[Path]:
    """A private temporary folder, removed on leaving the block or on a stopping signal, and
    by a later call when its process died (``PREFIX-PID-XXXX`` in the temporary folder)."""
    base = Path(tempfile.gettempdir())
    for path, _, _ in _stale(base, rf"{re.escape(prefix)}-(?P<kind>)(?P<pid>\d+)-\w+"):
        shutil.rmtree(path, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-{os.getpid()}-", dir=base))
    _STAGING.add(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _STAGING.discard(folder)


# --- publishing -------------------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap folders ``a`` and ``b`` in one step (Linux ``renameat2``); ``False`` where the
    system or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:  # a C library older than glibc 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes.append(ctypes.c_uint)
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


class StagedFolder:
    """Stage output files in a hidden folder beside ``out_dir``; publish all or nothing.

    Use as a context manager: write files into :attr:`staging` (:meth:`path`,
    :meth:`write_text`); :meth:`publish` replaces ``out_dir`` with it in one step; leaving
    the block without publishing (an error) removes the staging folder and leaves
    ``out_dir`` as it was.

    Args:
        out_dir: the folder to write.
        command: the command writing it (recorded in :data:`MARKER`).
        force: replace a folder carechart did not write (see :func:`check_output_folder`).
        option: the option that named the folder (for messages).

    Raises:
        OutputPathError: see :func:`check_output_folder`.
    """

    def __init__(
        self, out_dir: Path, *, command: str, force: bool = False, option: str = "--out"
    ) -> None:
        self.out_dir = Path(out_dir)
        self.option, self.force, self.command = option, force, command
        self.target = check_output_folder(option, out_dir, force=force)
        parent = self.target.parent
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale(parent, self.target.name)
        prefix = f".{self.target.name}.tmp-{os.getpid()}-"
        self.staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        _STAGING.add(self.staging)
        # mkdtemp makes a private (0700) folder; the published one gets the usual mode.
        self.staging.chmod(folder_mode())
        self.published: list[Path] = []

    def __enter__(self) -> StagedFolder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)
        _STAGING.discard(self.staging)

    def path(self, name: str) -> Path:
        """Where to write ``name`` now (inside the staging folder)."""
        return self.staging / name

    def write_text(self, name: str, text: str) -> Path:
        """Write a whole file into the staging folder."""
        path = self.path(name)
        path.write_text(text, encoding="utf-8", newline="")
        return path

    def publish(self) -> list[Path]:
        """Replace ``out_dir`` with the staged files in one step; return the files published
        (the marker left out), sorted by name.

        Raises:
            OutputPathError: a folder carechart did not write appeared at ``out_dir`` during
                the run (and ``force`` was not given).
        """
        marker = {"written_by": f"carechart {self.command}", "version": software_version()}
        write_atomic(self.staging / MARKER, json.dumps(marker) + "\n")
        fsync_tree(self.staging)
        target = self.target
        if target.is_dir() and not self.force and not _is_ours(target):
            check_output_folder(self.option, self.out_dir)  # raises, naming what is there
        with stopping.deferred():  # a SIGTERM waits until the renames are done
            if not target.exists():
                os.rename(self.staging, target)
            elif _exchange(self.staging, target):
                pass  # the staging path now holds the old run, removed below
            else:
                prefix = f".{target.name}.old-{os.getpid()}-"
                old = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
                os.replace(target, old)  # a kill -9 here is undone by remove_stale
                os.rename(self.staging, target)
                os.rename(old, self.staging)  # removed below, or on a signal
        shutil.rmtree(self.staging, ignore_errors=True)
        _STAGING.discard(self.staging)
        fsync_folder(target.parent)
        self.published = sorted(p for p in target.iterdir() if p.name != MARKER)
        return self.published
