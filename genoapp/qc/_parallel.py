"""Run numba ``nogil`` kernels on contiguous index ranges in a small thread pool.

genoapp's QC kernels are serial numba functions compiled with ``nogil=True``; this helper
splits the work into one contiguous range per core and runs the ranges in Python threads.
Compared with numba's ``parallel=True`` (OpenMP), this never spin-waits: on a loaded shared
machine (other processes on the same 2 cores), OpenMP's busy-waiting barriers made the kernels
about 5 times slower than a single thread in our measurements, while this pool degrades
gracefully. It is also safe to call from several Streamlit sessions at once.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["n_threads", "run_ranges"]

_POOL: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()


def n_threads() -> int:
    """Worker threads: the cores this process may use (``GENOAPP_THREADS`` overrides)."""
    env = os.environ.get("GENOAPP_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _pool(k: int) -> ThreadPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None or _POOL._max_workers < k:
            _POOL = ThreadPoolExecutor(max_workers=k, thread_name_prefix="genoapp-qc")
        return _POOL


def bounds(n: int, k: int) -> np.ndarray:
    """``k + 1`` boundaries splitting ``range(n)`` into ``k`` contiguous, near-equal ranges."""
    return np.linspace(0, n, k + 1).round().astype(np.int64)


def run_ranges(fn, n: int, *args, threads: int | None = None) -> None:
    """Call ``fn(lo, hi, worker, *args)`` on contiguous ranges covering ``range(n)``.

    ``worker`` is 0..k-1 (for per-worker accumulators). With one thread (or tiny ``n``) the
    call runs in the calling thread. Exceptions of a range are re-raised.
    """
    k = n_threads() if threads is None else max(1, int(threads))
    k = min(k, max(1, n))
    if k == 1:
        fn(0, n, 0, *args)
        return
    b = bounds(n, k)
    pool = _pool(k)
    futures = [pool.submit(fn, int(b[i]), int(b[i + 1]), i, *args) for i in range(k)]
    for f in futures:
        f.result()
