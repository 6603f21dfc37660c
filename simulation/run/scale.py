"""Scale-out on Dask: patient chunks on a cluster, outputs identical to a local run.

Dask is an optional extra (``pip install carechart[dask]``); the core install does not need
it. Every patient's random stream comes from the run's seed and the patient's index only, so
where a chunk runs changes nothing; chunks are gathered in patient order. That holds only
when every worker runs the same carechart as this process, so that is checked before the
first chunk is sent (:func:`check_workers`).
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import pathway
import simulation

from ..version import software_version
from . import stopping

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

__all__ = [
    "CHUNKS_PER_WORKER",
    "CONNECT_TIMEOUT_SECONDS",
    "check_workers",
    "code_identity",
    "dask_client",
    "dask_map",
    "in_order",
]

#: Chunks in flight per worker: enough to keep each busy, few enough that neither the
#: workers nor this process hold more than a handful of results, whatever the cohort size.
CHUNKS_PER_WORKER = 4


def in_order(submit: Callable[[Any], Any], items: Iterable[Any], window: int) -> Iterator[Any]:
    """``submit(item).result()`` for each item, in order, with at most ``window`` in flight.

    ``submit`` returns a future (concurrent.futures or Dask). A result is yielded as soon as
    it is ready and its turn has come; the next item is submitted then, so memory stays flat
    however many items there are, even when the consumer is slower than the workers.
    """
    todo = iter(items)
    pending = deque(submit(item) for item in islice(todo, max(1, window)))
    while pending:
        result = pending.popleft().result()
        following = next(todo, None)
        if following is not None:
            pending.append(submit(following))
        yield result


#: How long ``--dask ADDRESS`` waits for the scheduler to answer, in seconds.
CONNECT_TIMEOUT_SECONDS = 15


def dask_client(address: str, workers: int) -> Any:
    """A Dask client: a new LocalCluster (``"local"``) or the scheduler at ``address``.

    Raises:
        ValueError: Dask is not installed (with the command that installs it), or no
            scheduler can be reached at ``address`` (naming ``--dask`` and the address).
    """
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the environment
        raise ValueError(
            "--dask needs Dask: pip install 'carechart[dask]' (dask and distributed)"
        ) from None
    dist: Any = distributed  # the library is only partly typed
    if address == "local":
        with stopping.deferred():  # its worker processes are started here
            cluster = dist.LocalCluster(
                n_workers=max(1, workers),
                threads_per_worker=1,  # the simulation is pure Python: processes, not threads
                processes=True,
                dashboard_address=None,
            )
        return dist.Client(cluster)
    _probe(address)
    outcome: dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["client"] = dist.Client(address, timeout=CONNECT_TIMEOUT_SECONDS)
        except Exception as exc:
            outcome["error"] = exc

    # The client's own timeout does not cover a server that accepts and then says nothing:
    # wait for it in a thread (a daemon, so a stuck attempt cannot hold the exit).
    attempt = threading.Thread(target=connect, name="carechart-dask-connect", daemon=True)
    attempt.start()
    attempt.join(CONNECT_TIMEOUT_SECONDS + 2)
    if "client" in outcome:
        return outcome["client"]
    exc = outcome.get("error")
    # A malformed address, a server that never answers, or one that answers something else
    # (a garbage frame length ends in MemoryError...).
    reason = (
        f"no answer within {CONNECT_TIMEOUT_SECONDS} s"
        if exc is None
        else (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    )
    raise ValueError(_no_scheduler(address, reason))


def _no_scheduler(address: str, reason: str) -> str:
    return (
        f"--dask {address}: found no Dask scheduler there ({reason}), expected the address "
        "of a running scheduler such as tcp://HOST:8786, or 'local'"
    )


_TCP_ADDRESS = re.compile(r"(?:tcp://)?\[?(?P<host>[^\[\]/]+?)\]?:(?P<port>\d+)/?")


def _probe(address: str) -> None:
    """Fail at once when nothing listens at a TCP ``address`` (a closed port would
    otherwise cost the whole connect timeout)."""
    match = _TCP_ADDRESS.fullmatch(address)
    if match is None:
        return  # another transport (tls://, inproc://...): Dask itself says what is wrong
    try:
        with socket.create_connection(
            (match["host"], int(match["port"])), timeout=CONNECT_TIMEOUT_SECONDS
        ):
            pass
    except OSError as exc:
        raise ValueError(_no_scheduler(address, exc.strerror or str(exc) or "timeout")) from None


def dask_map(
    task: Callable[[S, T], R], shared: S, items: Iterable[T], address: Any, workers: int
) -> Iterator[R]:
    """Run ``task(shared, item)`` as a Dask task per item; yield the results in item order.

    ``task`` must be importable by the workers (a module-level function, such as
    :func:`simulation.run.cohort.run_chunk` over patient chunks); ``shared`` is sent to
    every worker once. ``address`` is ``"local"``, a scheduler address, or an open
    ``distributed.Client`` (then reused and left open, as ``carechart sweep`` does across
    its draws).
    """
    if not isinstance(address, str):
        yield from _in_order(address, task, shared, items)
        return
    client = dask_client(address, workers)
    try:
        yield from _in_order(client, task, shared, items)
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if address == "local" and cluster is not None:
            cluster.close()


@cache
def code_identity() -> tuple[str, str]:
    """This process's carechart: ``(version, fingerprint)``.

    The fingerprint is a SHA-256 (first 16 hex digits) of every ``.py`` and ``.yaml`` file
    of the ``pathway`` and ``simulation`` packages as installed: the chart, the rules, the
    parameters and the patient model, everything that decides a patient's course.
    """
    roots = [Path(str(package.__file__)).parent for package in (pathway, simulation)]
    return software_version(), fingerprint(roots)


def fingerprint(roots: list[Path]) -> str:
    """SHA-256 (first 16 hex digits) of the ``.py`` and ``.yaml`` files under ``roots``.

    Paths count relative to their root (prefixed with the root's name), so the same files
    installed in another place give the same fingerprint.
    """
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".yaml")):
            digest.update(f"{root.name}/{path.relative_to(root).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def check_workers(client: Any) -> None:
    """Refuse a cluster whose workers would not reproduce a local run.

    Every worker must import carechart and run the same code as this process (same
    :func:`code_identity`); otherwise the same seed would give other outputs, silently.
    Workers that join after the check are not checked.

    Raises:
        ValueError: one line naming the first worker that differs and what it runs.
    """
    found = client.run(code_identity, on_error="return")
    if not found:
        raise ValueError("--dask: the cluster has no workers")
    version, fingerprint = code_identity()
    expected = f"carechart {version} (code {fingerprint})"
    for worker, identity in sorted(found.items()):
        if isinstance(identity, BaseException):
            raise ValueError(
                f"--dask: worker {worker} cannot run carechart "
                f"({type(identity).__name__}: {identity}); expected {expected}, as here: "
                "install the same carechart[dask] on every worker"
            )
        if tuple(identity) != (version, fingerprint):
            raise ValueError(
                f"--dask: worker {worker} runs carechart {identity[0]} (code {identity[1]}), "
                f"expected {expected} as here: outputs would differ from a local run; "
                "install the same carechart on every worker"
            )


def _in_order(client: Any, task: Callable[[S, T], R], shared: S, items: Iterable[T]) -> Iterator[R]:
    """Task results in item order, with a bounded window of tasks in flight.

    A result leaves the cluster as soon as it is yielded (its future is dropped), and the
    next task is submitted then, so neither the cluster nor this process holds more than
    the window, whatever the cohort size.
    """
    check_workers(client)
    scattered = client.scatter(shared, broadcast=True)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    yield from in_order(
        lambda item: client.submit(task, scattered, item, pure=False),
        items,
        CHUNKS_PER_WORKER * workers,
    )
