"""Where genoapp's embarrassingly parallel jobs run: in this process, or on a Dask cluster.

One execution setting, read by the app's sidebar, the run configuration and the CLI's
``--cluster``:

- ``"in-process"`` (default): jobs run one after the other in this process, as genoapp always
  did;
- ``"local:N"``: a ``dask.distributed.LocalCluster`` of N single-threaded worker processes,
  started by genoapp and closed when the analysis ends;
- ``"tcp://host:8786"`` (or ``tls://``): the address of an existing Dask scheduler (started by
  ``dask scheduler`` / ``dask worker``, dask-jobqueue on SLURM or PBS, dask-kubernetes...).

Library code never starts a cluster itself: it asks :func:`current_executor` and calls
:meth:`Executor.map` on its independent jobs (outer folds × seeds × models, permutation nulls,
gene-scan chunks, GA fitness, Gibbs chains, variant blocks). The caller at the top (a page, the
CLI, a benchmark) opens the executor once::

    with use_executor("local:2") as ex:
        result = compare_models(...)        # its folds run on the two workers
        print(ex.dashboard_link)

Results do not depend on the setting: every job gets its own seed from its inputs, never from
a shared random state, and :meth:`Executor.map` returns results in job order. Dask is imported
only when a cluster is used; the in-process executor needs nothing beyond the standard library.

Source: Dask distributed documentation ("Futures", ``Client.scatter``, ``as_completed``,
``LocalCluster``); Rocklin, M. (2015) "Dask: Parallel computation with blocked algorithms and
task scheduling", Proc. 14th Python in Science Conference.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from genoapp.errors import ConfigError, GenoappError
from genoapp.logs import get_logger

__all__ = [
    "IN_PROCESS", "ExecutionSetting", "Executor", "JobsStopped", "current_executor",
    "open_executor", "use_executor",
]

_log = get_logger(__name__)

#: The default setting: every job in this process, one after the other.
IN_PROCESS = "in-process"

_LOCAL = re.compile(r"^local(?::(\d+))?$")
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s]+$")


class JobsStopped(GenoappError):
    """A stop was requested while jobs were running; the finished ones are in ``done``.

    Attributes
    ----------
    done : dict of int -> object
        Results of the jobs that finished before the stop, by job index.
    """

    def __init__(self, message: str, done: dict[int, Any]):
        super().__init__(message)
        self.done = done


@dataclasses.dataclass(frozen=True)
class ExecutionSetting:
    """Where jobs run (see the module docstring).

    Attributes
    ----------
    kind : {"in-process", "local", "scheduler"}
    n_workers : int or None
        Worker processes of a ``local`` cluster (each single-threaded).
    address : str or None
        Scheduler address of a ``scheduler`` setting, e.g. ``"tcp://10.0.0.5:8786"``.
    """

    kind: str = IN_PROCESS
    n_workers: int | None = None
    address: str | None = None

    @classmethod
    def parse(cls, text: str | ExecutionSetting | None) -> ExecutionSetting:
        """Read ``"in-process"``, ``"local:N"`` or a scheduler address.

        Parameters
        ----------
        text : str, ExecutionSetting or None
            None, ``""``, ``"in-process"`` (or ``"none"``): in-process. ``"local"`` alone
            means one worker per CPU core.

        Raises
        ------
        ConfigError
            Anything else, with the three accepted forms in the message.
        """
        if isinstance(text, ExecutionSetting):
            return text
        t = (text or "").strip()
        if t.lower() in ("", IN_PROCESS, "none", "inprocess", "in_process"):
            return cls()
        m = _LOCAL.match(t.lower())
        if m:
            n = int(m.group(1)) if m.group(1) else (os.cpu_count() or 1)
            if n < 1 or n > 1024:
                raise ConfigError(f"cluster {text!r}: a local cluster needs 1 to 1024 workers.")
            return cls(kind="local", n_workers=n)
        if _ADDRESS.match(t):
            return cls(kind="scheduler", address=t)
        if re.match(r"^[\w.-]+:\d+$", t):  # host:port without a protocol
            return cls(kind="scheduler", address=f"tcp://{t}")
        raise ConfigError(
            f"cluster {text!r} is not an execution setting. Use 'in-process' (default), "
            "'local:N' (a local Dask cluster of N worker processes, e.g. 'local:2') or the "
            "address of a running Dask scheduler (e.g. 'tcp://10.0.0.5:8786').")

    def __str__(self) -> str:
        if self.kind == "local":
            return f"local:{self.n_workers}"
        if self.kind == "scheduler":
            return str(self.address)
        return IN_PROCESS

    @property
    def distributed(self) -> bool:
        """True for a Dask setting (local cluster or scheduler)."""
        return self.kind != IN_PROCESS


class Executor:
    """Runs independent jobs, in this process or on Dask workers, results in job order.

    Do not build one directly: use :func:`open_executor` / :func:`use_executor`.

    Attributes
    ----------
    setting : ExecutionSetting
    client : dask.distributed.Client or None
        None in-process.
    """

    def __init__(self, setting: ExecutionSetting, client=None, cluster=None):
        self.setting = setting
        self.client = client
        self._cluster = cluster

    # -- description ---------------------------------------------------------------------
    @property
    def distributed(self) -> bool:
        return self.client is not None

    @property
    def dashboard_link(self) -> str | None:
        """The Dask dashboard URL (None in-process, or when the dashboard is off)."""
        if self.client is None:
            return None
        try:
            return self.client.dashboard_link
        except Exception:  # noqa: BLE001 - no dashboard (bokeh absent)
            return None

    def workers(self) -> list[dict]:
        """The workers: ``name``, ``address``, ``threads``, ``memory_gb`` (one row in-process)."""
        if self.client is None:
            return [{"name": "this process", "address": "", "threads": os.cpu_count() or 1,
                     "memory_gb": None}]
        info = self.client.scheduler_info(n_workers=-1).get("workers", {})
        return [{"name": str(w.get("name", a)), "address": a, "threads": int(w.get("nthreads", 1)),
                 "memory_gb": round(float(w.get("memory_limit", 0)) / 1e9, 2)}
                for a, w in sorted(info.items())]

    @property
    def n_workers(self) -> int:
        """Number of workers (1 in-process)."""
        return 1 if self.client is None else max(1, len(self.workers()))

    def describe(self) -> dict:
        """What a run record stores: the setting and the workers it ran on."""
        return {"cluster": str(self.setting), "n_workers": self.n_workers,
                "dashboard": self.dashboard_link}

    # -- jobs ----------------------------------------------------------------------------
    def share(self, obj):
        """Send ``obj`` (e.g. a genotype matrix) to the workers once; pass the handle to
        :meth:`map`'s ``shared``. In-process the object itself is returned."""
        if self.client is None or _is_future(obj):  # already on the cluster: as it is
            return obj
        # (scattered inside a one-item list: a list or dict argument stays one object)
        return self.client.scatter([obj], broadcast=True, hash=False)[0]

    def map(self, fn: Callable, items: Sequence, *, shared: Sequence = (),
            on_result: Callable[[int, Any], None] | None = None,
            should_stop: Callable[[], bool] | None = None, label: str = "jobs") -> list:
        """Run ``fn(item, *shared)`` for every item; return the results in item order.

        Parameters
        ----------
        fn : callable
            A module-level function (worker processes import it by name); it must not rely
            on global random state: give each item its own seed.
        items : sequence
            One entry per job (picklable).
        shared : sequence
            Extra arguments common to all jobs (large arrays): sent to the workers once.
        on_result : callable(index, result), optional
            Called in this process as each job finishes (in completion order on a cluster,
            in item order in-process), e.g. to report progress.
        should_stop : callable() -> bool, optional
            Polled between jobs; when it returns True, pending jobs are cancelled and
            :class:`JobsStopped` is raised with the finished results.
        label : str
            Name of the jobs in log lines and the Dask dashboard.

        Raises
        ------
        JobsStopped
            On a stop request.
        Exception
            The first exception a job raised (the remaining jobs are cancelled).
        """
        items = list(items)
        stop = should_stop or (lambda: False)
        if self.client is None or len(items) <= 1:
            out = []
            for i, it in enumerate(items):
                if stop():
                    raise JobsStopped(f"{label}: stopped after {i} of {len(items)} jobs.",
                                      dict(enumerate(out)))
                r = fn(it, *shared)
                out.append(r)
                if on_result is not None:
                    on_result(i, r)
            return out
        return self._map_dask(fn, items, shared, on_result, stop, label)

    def _map_dask(self, fn, items, shared, on_result, stop, label):
        shared_h = [self.share(s) for s in shared]
        t0 = time.perf_counter()
        tag = os.urandom(4).hex()
        futs = [self.client.submit(fn, it, *shared_h, pure=False, key=f"genoapp-{label}-{tag}-{i}")
                for i, it in enumerate(items)]
        index = {f.key: i for i, f in enumerate(futs)}
        done: dict[int, Any] = {}
        pending = set(futs)
        try:
            while pending:
                if stop():
                    raise JobsStopped(f"{label}: stopped after {len(done)} of {len(items)} jobs.",
                                      done)
                finished = [f for f in pending if f.done()]
                if not finished:
                    time.sleep(0.02)
                    continue
                for f in sorted(finished, key=lambda f: index[f.key]):
                    pending.discard(f)
                    r = f.result()  # re-raises the job's exception here
                    done[index[f.key]] = r
                    if on_result is not None:
                        on_result(index[f.key], r)
        except BaseException:
            self.client.cancel([f for f in futs if index[f.key] not in done])
            raise
        _log.info("%s: %d job(s) on %d worker(s) in %.1f s", label, len(items), self.n_workers,
                  time.perf_counter() - t0)
        return [done[i] for i in range(len(futs))]

    # -- life cycle ----------------------------------------------------------------------
    def close(self) -> None:
        """Close the client, and the cluster genoapp started."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                self._cluster.close()
        self.client = self._cluster = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_future(obj) -> bool:
    try:
        from distributed import Future
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, Future)


#: Environment of the worker processes genoapp starts. Dask sets MALLOC_TRIM_THRESHOLD_=65536
#: (memory given back to the system sooner), which alone makes glibc return and re-map torch's
#: large temporary buffers on every call: 2.5x slower forward passes, measured. A fixed mmap
#: threshold keeps those buffers in the heap. Workers started by hand (``dask worker``) need
#: ``export MALLOC_MMAP_THRESHOLD_=33554432`` (README, "Bigger than one machine").
WORKER_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432", "OMP_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


_IN_PROCESS = Executor(ExecutionSetting())
_CURRENT: contextvars.ContextVar[Executor] = contextvars.ContextVar("genoapp_executor",
                                                                   default=_IN_PROCESS)


def open_executor(setting: str | ExecutionSetting | None = None, *,
                  timeout: float = 30.0) -> Executor:
    """Connect to (or start) the cluster of an execution setting.

    Parameters
    ----------
    setting : str or ExecutionSetting, optional
        See :meth:`ExecutionSetting.parse`; default in-process.
    timeout : float
        Seconds to wait for a scheduler to answer.

    Returns
    -------
    Executor
        Close it (or use it as a context manager); a ``local`` cluster is shut down then.

    Raises
    ------
    ConfigError
        A bad setting, dask not installed, or a scheduler that does not answer (the message
        says which address and how to start one).
    """
    s = ExecutionSetting.parse(setting)
    if not s.distributed:
        return Executor(s)
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is in requirements.txt
        raise ConfigError(f"cluster {s}: dask.distributed is not installed "
                          "(pip install 'dask[distributed]').") from exc
    if s.kind == "local":
        import dask

        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v
                              for k, v in WORKER_ENV.items()}):
            cluster = LocalCluster(n_workers=s.n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=40,
                                   worker_dashboard_address=None)
        client = Client(cluster, set_as_default=False)
        _log.info("started a local Dask cluster of %d worker(s): %s", s.n_workers,
                  client.dashboard_link)
        return Executor(s, client, cluster)
    try:
        client = Client(s.address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"cluster {s}: no Dask scheduler answered within {timeout:.0f} s ({exc}). Start one "
            "with `dask scheduler` and workers with `dask worker <address>` on machines that "
            "share the data directory, or use 'local:N'.") from exc
    _log.info("connected to the Dask scheduler %s", s.address)
    return Executor(s, client)


def current_executor() -> Executor:
    """The executor jobs should use now (in-process unless inside :func:`use_executor`)."""
    return _CURRENT.get()


@contextlib.contextmanager
def use_executor(setting: str | ExecutionSetting | Executor | None = None) -> Iterator[Executor]:
    """Make an executor current for the code inside the ``with`` block.

    Parameters
    ----------
    setting : str, ExecutionSetting, Executor or None
        An already-open :class:`Executor` is used as it is (and left open); a setting is
        opened here and closed at the end of the block.

    Yields
    ------
    Executor
    """
    if isinstance(setting, Executor):
        token = _CURRENT.set(setting)
        try:
            yield setting
        finally:
            _CURRENT.reset(token)
        return
    ex = open_executor(setting)
    token = _CURRENT.set(ex)
    try:
        yield ex
    finally:
        _CURRENT.reset(token)
        ex.close()
