"""Genotype-scale steps per variant block on Dask workers: how blocks are cut and run.

When the current executor (:func:`genoapp.execution.current_executor`) is a Dask cluster, the
genotype-scale steps that read a PLINK .bed split their variants into contiguous blocks and send
one job per block to the workers:

- the genotype counts behind every QC statistic and the allelic test
  (:func:`genoapp.qc.counts.scan_bed`, hence :func:`genoapp.qc.run_qc_bed`, the QC funnel of
  the workflow and :func:`genoapp.qc.allelic_test_bed`);
- the per-gene covariances, eigendecompositions and projections of Gene-PCA
  (:func:`genoapp.features.gene_pca_features`, :func:`genoapp.features.gene_pca_transform`),
  whose blocks are made of whole genes.

A job carries only the path of the .bed, the sample selection and its block range; the worker
reads its block from the file (a shared file system on a real cluster) and runs the *same*
compiled kernels as the in-process path; the client reduces the results (concatenates the
per-variant counts, sums the per-sample missing counts, assembles the Gene-PCA model). Counts
are integers and every per-gene computation is made with the same inputs in the same order, so
the results are identical to the in-process run. In-process (the default), none of this runs.

Block size: about ``n_variants / (4 x workers)`` variants (four jobs per worker balance the
load), at least :data:`MIN_BLOCK_VARIANTS` so that a job's fixed cost (about 10 ms of
scheduling and transfer) stays small next to its work.

Source: Dask distributed documentation ("Futures", ``Client.scatter``); Rocklin (2015), "Dask:
Parallel computation with blocked algorithms and task scheduling".
"""

from __future__ import annotations

import dataclasses
import os
from urllib.parse import urlparse

import numpy as np

from genoapp.execution import current_executor
from genoapp.qc._parallel import n_threads

__all__ = ["MIN_BLOCK_VARIANTS", "JOBS_PER_WORKER", "JobContext", "block_ranges",
           "distributed_blocks", "hosts_of_workers", "job_threads"]

#: Smallest block of variants sent to a worker (a few MB of .bed at paper scale).
MIN_BLOCK_VARIANTS = 2048
#: Jobs per worker: enough to balance uneven workers without paying much per-job overhead.
JOBS_PER_WORKER = 4


@dataclasses.dataclass(frozen=True)
class JobContext:
    """The arguments every job of one step shares, sent to the workers once as ONE object.

    (``Client.scatter`` splits a list, tuple, set or dict into one piece of data per element,
    and uses a dict's keys as task keys; wrapping the shared arguments avoids both.)

    Attributes
    ----------
    values : dict
        Name -> value; read as ``ctx["name"]``.
    """

    values: dict

    def __getitem__(self, name: str):
        return self.values[name]


def block_ranges(n: int, n_workers: int, *, min_block: int = MIN_BLOCK_VARIANTS,
                 per_worker: int = JOBS_PER_WORKER) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` ranges covering ``range(n)`` for ``n_workers`` workers.

    Parameters
    ----------
    n : int
        Items (variants, or blocks of genes) to split.
    n_workers : int
        Workers of the cluster.
    min_block : int
        Smallest range (the last one may be smaller only when ``n`` is).
    per_worker : int
        Target number of ranges per worker.

    Returns
    -------
    list of tuple of int
        Near-equal ranges, in order; one range when ``n <= min_block``.
    """
    n = int(n)
    if n <= 0:
        return []
    k = max(1, min(int(n_workers) * int(per_worker), n // max(1, int(min_block))))
    b = np.linspace(0, n, k + 1).round().astype(np.int64)
    return [(int(b[i]), int(b[i + 1])) for i in range(k) if b[i + 1] > b[i]]


def distributed_blocks(n: int, *, min_block: int = MIN_BLOCK_VARIANTS) -> list | None:
    """Block ranges of ``range(n)`` when the current executor is a cluster, else None.

    None also when the split would give a single block (nothing to distribute): the caller
    then runs its in-process code path, unchanged.
    """
    ex = current_executor()
    if not ex.distributed:
        return None
    blocks = block_ranges(n, ex.n_workers, min_block=min_block)
    return blocks if len(blocks) > 1 else None


def hosts_of_workers(ex=None) -> dict[str, int]:
    """Job slots (worker threads) on each host of the cluster (``{"": 1}`` in-process).

    Sent with the jobs so that a job divides its host's cores among the jobs that may run on
    that host at the same time (:func:`job_threads`).
    """
    ex = ex or current_executor()
    if not ex.distributed:
        return {"": 1}
    out: dict[str, int] = {}
    for w in ex.workers():
        host = urlparse(w["address"]).hostname or w["address"]
        out[host] = out.get(host, 0) + max(1, int(w.get("threads") or 1))
    return out


def job_threads(hosts: dict[str, int] | None = None) -> int:
    """Threads a job may use: this host's cores divided by the job slots (worker threads) on it.

    Parameters
    ----------
    hosts : dict, optional
        :func:`hosts_of_workers` of the client.

    Returns
    -------
    int
        At least 1. Outside a Dask worker (a job run in the client process): all the cores
        (:func:`genoapp.qc._parallel.n_threads`).
    """
    cores = n_threads()
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return cores
    env = os.environ.get("GENOAPP_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    host = urlparse(worker.address).hostname or worker.address
    share = max(1, int((hosts or {}).get(host, 1)))
    return max(1, cores // share)
