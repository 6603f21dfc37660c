"""Scale-out on Dask: patient chunks on a cluster, outputs identical to a local run.

Dask is an optional extra (``pip install carechart[dask]``); the core install does not need
it. Every patient's random stream comes from the run's seed and the patient's index only, so
where a chunk runs changes nothing; chunks are gathered in patient order.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    from .cohort import run_chunk

    if not isinstance(address, str):
        shared = address.scatter(settings, broadcast=True)
        for future in address.map(run_chunk, [shared] * len(bounds), bounds, pure=False):
            yield future.result()
        return
    client = dask_client(address, workers)
    try:
        shared = client.scatter(settings, broadcast=True)
        futures = client.map(run_chunk, [shared] * len(bounds), bounds, pure=False)
        for future in futures:
            yield future.result()
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if address == "local" and cluster is not None:
            cluster.close()
