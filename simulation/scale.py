"""Scale-out on Dask: patient chunks on a cluster, outputs identical to a local run.

Dask is an optional extra (``pip install carechart[dask]``); the core install does not need
it. Every patient's random stream comes from the run's seed and the patient's index only, so
where a chunk runs changes nothing; chunks are gathered in patient order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cohort import RunSettings
    from .outputs import ChunkResult

__all__ = ["dask_chunk_results", "dask_client"]


def dask_client(address: str, workers: int) -> Any:
    """A Dask client: a new LocalCluster (``"local"``) or the scheduler at ``address``.

    Raises:
        ValueError: Dask is not installed (with the command that installs it).
    """
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the environment
        raise ValueError(
            "--dask needs Dask: pip install 'carechart[dask]' (dask and distributed)"
        ) from None
    dist: Any = distributed  # the library is only partly typed
    if address == "local":
        cluster = dist.LocalCluster(
            n_workers=max(1, workers),
            threads_per_worker=1,  # the simulation is pure Python: processes, not threads
            processes=True,
            dashboard_address=None,
        )
        return dist.Client(cluster)
    return dist.Client(address)


def dask_chunk_results(
    settings: RunSettings, bounds: list[tuple[int, int]], address: Any, workers: int
) -> Iterator[ChunkResult]:
    """Run each chunk of ``bounds`` as a Dask task; yield the results in patient order.

    ``address`` is ``"local"``, a scheduler address, or an open ``distributed.Client``
    (then reused and left open, as ``carechart sweep`` does across its draws).
    """
    if not isinstance(address, str):
        yield from _in_order(address, settings, bounds)
        return
    client = dask_client(address, workers)
    try:
        yield from _in_order(client, settings, bounds)
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if address == "local" and cluster is not None:
            cluster.close()


#: Chunks in flight per Dask worker: enough to keep it busy, few enough to keep memory flat.
CHUNKS_PER_WORKER = 4


def _in_order(client: Any, settings: RunSettings, bounds: list[tuple[int, int]]) -> Iterator[Any]:
    """Chunk results in patient order, with a bounded window of chunks in flight.

    A result leaves the cluster as soon as it is yielded (its future is dropped), and the
    next chunk is submitted then, so neither the cluster nor this process holds more than
    the window, whatever the cohort size.
    """
    from .cohort import run_chunk

    shared = client.scatter(settings, broadcast=True)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    todo = iter(bounds)
    window: deque[Any] = deque(
        client.submit(run_chunk, shared, b, pure=False)
        for b in islice(todo, CHUNKS_PER_WORKER * workers)
    )
    while window:
        result = window.popleft().result()
        following = next(todo, None)
        if following is not None:
            window.append(client.submit(run_chunk, shared, following, pure=False))
        yield result
