"""How a command stops on SIGTERM or SIGHUP: outputs removed, workers stopped, exit 143/129.

A batch system or ``timeout`` ends a job with SIGTERM; a closed terminal or ssh session
sends SIGHUP (left alone when ignored, under ``nohup``). The handler does not raise into the
command: unwinding through a process pool in the middle of its bookkeeping can leave it
waiting for ever for workers that wait for it. It runs the clean-ups registered with
:func:`on_stop` (the output writers' staging folders), terminates this process's worker
processes and exits at once. While workers are being started (:func:`deferred`) it waits,
so that none is left running unseen.

A ``kill -9`` cannot be handled: worker processes then end with their parent
(:func:`die_with_parent`) and the next run removes the staging folder left behind
(:func:`simulation.run.output_folder.remove_stale`).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["EXIT_STATUS", "deferred", "die_with_parent", "install", "on_stop", "restore"]

#: 128 + SIGTERM, what a shell reports for a process that SIGTERM ended.
EXIT_STATUS = 143

#: The signals a command handles (SIGHUP does not exist on Windows).
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

_STATE = {"main_pid": 0, "deferred": 0, "pending": 0}

#: Clean-ups run before a stopping signal ends the process, in registration order.
_CLEANUPS: list[Callable[[], None]] = []


def on_stop(cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` when a stopping signal ends this process (once per function).

    A module that leaves things behind registers here (the output folders register their
    staging-folder removal), so this module depends on none of them.
    """
    if cleanup not in _CLEANUPS:
        _CLEANUPS.append(cleanup)


def install() -> Any:
    """Handle SIGTERM and SIGHUP in this (main) thread's process; return the previous
    handlers (for :func:`restore`)."""
    _STATE["main_pid"] = os.getpid()
    previous = {}
    for signum in _SIGNALS:
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # nohup: the user asked for the command to outlive the terminal
        previous[signum] = signal.signal(signum, _on_signal)
    return previous


def restore(previous: Any) -> None:
    """Put back the handlers :func:`install` replaced (``None``: one set outside Python)."""
    for signum, handler in (previous or {}).items():
        if handler is not None:
            signal.signal(signum, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a SIGTERM until the block ends (around starting worker processes)."""
    _STATE["deferred"] += 1
    try:
        yield
    finally:
        _STATE["deferred"] -= 1
        if not _STATE["deferred"] and _STATE["pending"]:
            _stop(_STATE["pending"])


def _on_signal(signum: int, frame: object) -> None:
    if os.getpid() != _STATE["main_pid"]:  # a worker forked before it reset its handler
        os._exit(128 + signum)
    if _STATE["deferred"]:
        _STATE["pending"] = signum
        return
    _stop(signum)


def _stop(signum: int) -> None:
    for child in multiprocessing.active_children():
        child.terminate()
    for cleanup in _CLEANUPS:
        cleanup()
    word = "terminated" if signum == signal.SIGTERM else "hung up"
    with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
        print(f"carechart: {word}", file=sys.stderr, flush=True)
    os._exit(128 + signum)


#: prctl option: the signal a process gets when its parent ends (linux/prctl.h).
_PR_SET_PDEATHSIG = 1
#: How often a worker without prctl checks that its parent is alive, in seconds.
_PARENT_POLL_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """In a worker process: end at once when process ``parent`` ends, even by ``kill -9``.

    On Linux the kernel sends SIGKILL (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon
    thread checks the parent every :data:`_PARENT_POLL_SECONDS`. Without this, workers of a
    killed command wait for ever for work that never comes.
    """
    if sys.platform.startswith("linux"):
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
            armed = prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if armed:
            if os.getppid() != parent:  # the parent ended before the signal was armed
                os._exit(1)
            return
    threading.Thread(
        target=_watch_parent, args=(parent,), name="carechart-parent", daemon=True
    ).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_POLL_SECONDS)
    os._exit(1)
