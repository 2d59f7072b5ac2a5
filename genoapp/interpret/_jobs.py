"""How the interpretation loops are cut into executor jobs (issue 18, :mod:`genoapp.execution`).

Every loop of this package that runs many independent evaluations of a trained network (the
random gene-set nulls, gene-scan chunks, the genetic algorithm's fitness batch, the permuted-label
networks) hands them to :func:`genoapp.execution.current_executor` in a few contiguous jobs,
each large enough to be worth shipping to a Dask worker. Results never depend on the cut: job
boundaries fall where the in-process loop already started a new batch, and every random draw is
made on the client before the jobs are built (or seeded from the job's own index).
"""

from __future__ import annotations

import math

from genoapp.execution import Executor, current_executor

#: Jobs per map call in this process (progress granularity; the cost of a job call is nil).
IN_PROCESS_JOBS = 16
#: Fewest jobs per map call on a cluster (each worker gets several, so a slow one does not
#: hold the others up), and jobs per worker beyond that.
MIN_CLUSTER_JOBS = 8
JOBS_PER_WORKER = 4


def executor_for(device) -> Executor:
    """The executor for evaluations of a network on ``device``: the current one for a CPU model;
    this process for a GPU model (the GPU is here, and batches of 8,192 inputs already keep it
    busy), whatever the setting."""
    ex = current_executor()
    if getattr(device, "type", str(device)) != "cpu" and ex.distributed:
        from genoapp.execution import ExecutionSetting

        return Executor(ExecutionSetting())
    return ex


def target_jobs(ex: Executor) -> int:
    """Jobs to cut one map call into: 16 in this process; on a cluster 4 per worker, 8 to 16
    on a small one (at least 8)."""
    if not ex.distributed:
        return IN_PROCESS_JOBS
    return max(MIN_CLUSTER_JOBS, min(max(IN_PROCESS_JOBS, 2 * ex.n_workers),
                                     JOBS_PER_WORKER * ex.n_workers))


def job_ranges(n: int, n_jobs: int, *, align: int = 1) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` ranges covering ``0..n``, about ``n_jobs`` of them, every
    boundary a multiple of ``align`` (the in-process batch size, so that batches are unchanged).

    Returns
    -------
    list of (int, int)
        Empty when ``n == 0``.
    """
    if n <= 0:
        return []
    align = max(1, int(align))
    n_units = math.ceil(n / align)
    per = max(1, math.ceil(n_units / max(1, int(n_jobs)))) * align
    return [(s, min(n, s + per)) for s in range(0, n, per)]


class Bundle:
    """Several objects sent to the workers as one (``Client.scatter`` would split a list, a
    tuple or a dict into one piece per element); a job reads them from :attr:`objs`."""

    def __init__(self, *objs):
        self.objs = objs
