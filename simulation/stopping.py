"""How a command stops on SIGTERM: outputs removed, workers stopped, exit status 143.

A batch system or ``timeout`` ends a job with SIGTERM. The handler does not raise into the
command: unwinding through a process pool in the middle of its bookkeeping can leave it
waiting for ever for workers that wait for it. It removes the staging folders of the
output writers, terminates this process's worker processes and exits at once. While
workers are being started (:func:`deferred`) it waits, so that none is left running
unseen.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .outputs import remove_staging_folders

__all__ = ["EXIT_STATUS", "deferred", "install", "restore"]

#: 128 + SIGTERM, what a shell reports for a process that SIGTERM ended.
EXIT_STATUS = 143

_STATE = {"main_pid": 0, "deferred": 0, "pending": False}


def install() -> Any:
    """Handle SIGTERM in this (main) thread's process; return the previous handler."""
    _STATE["main_pid"] = os.getpid()
    return signal.signal(signal.SIGTERM, _on_sigterm)


def restore(previous: Any) -> None:
    """Put back the handler :func:`install` replaced (``None``: one set outside Python)."""
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a SIGTERM until the block ends (around starting worker processes)."""
    _STATE["deferred"] += 1
    try:
        yield
    finally:
        _STATE["deferred"] -= 1
        if not _STATE["deferred"] and _STATE["pending"]:
            _stop()


def _on_sigterm(signum: int, frame: object) -> None:
    if os.getpid() != _STATE["main_pid"]:  # a worker forked before it reset its handler
        os._exit(EXIT_STATUS)
    if _STATE["deferred"]:
        _STATE["pending"] = True
        return
    _stop()


def _stop() -> None:
    for child in multiprocessing.active_children():
        child.terminate()
    remove_staging_folders()
    print("carechart: terminated", file=sys.stderr, flush=True)
    os._exit(EXIT_STATUS)
