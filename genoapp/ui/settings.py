"""Settings chosen once for the whole app, in the sidebar: the torch device, the seed and where
jobs run (this process, a local Dask cluster, or an existing Dask scheduler).

Every page reads them from here (never its own selectbox), and every run records them
(``protocol.device``, the seeds and ``execution`` in ``run.json``). ``app.py`` runs every page
inside :func:`genoapp.execution.use_executor` with :func:`executor`; background training jobs
carry the executor into their thread (:class:`genoapp.ui.jobs.TrainingJob`).
"""

from __future__ import annotations

import streamlit as st

_DEVICE = "genoapp_device"
_SEED = "genoapp_seed"
_WHERE = "genoapp_where"
_WORKERS = "genoapp_local_workers"
_ADDRESS = "genoapp_scheduler"
DEVICES = ("auto", "cpu", "cuda")
WHERE = ("this process", "local Dask cluster", "Dask scheduler")


class _Held:
    """Holds an open executor for ``st.cache_resource`` (a Dask client looks awaitable to
    Streamlit, so it is never returned bare)."""

    def __init__(self, ex):
        self.executor = ex


def _release(held: _Held) -> None:
    held.executor.close()  # a local cluster genoapp started is shut down with its cache entry


@st.cache_resource(show_spinner=False, max_entries=4, on_release=_release)
def _open(setting: str) -> _Held:
    from genoapp.execution import open_executor

    return _Held(open_executor(setting, timeout=10))


def execution_setting() -> str:
    """The chosen execution setting as text: ``in-process``, ``local:N`` or an address."""
    where = st.session_state.get(_WHERE, WHERE[0])
    if where == WHERE[1]:
        return f"local:{int(st.session_state.get(_WORKERS, 2))}"
    if where == WHERE[2]:
        return str(st.session_state.get(_ADDRESS, "") or "in-process").strip()
    return "in-process"


def executor():
    """The open executor of the sidebar setting (in-process when the cluster cannot be used;
    the sidebar says why)."""
    from genoapp.errors import GenoappError
    from genoapp.execution import current_executor

    setting = execution_setting()
    if setting == "in-process":
        return current_executor()
    try:
        held = _open(setting)
    except GenoappError:
        return current_executor()
    if held.executor.client is None or held.executor.client.status in ("closed", "closing"):
        _open.clear()  # the scheduler went away: connect afresh on the next rerun
        return current_executor()
    return held.executor


def _cluster_widgets() -> None:
    """Where jobs run, with the Dask dashboard link and the workers."""
    from genoapp.errors import GenoappError

    st.session_state.setdefault(_WHERE, WHERE[0])
    st.session_state.setdefault(_WORKERS, 2)
    st.selectbox("Run jobs on", WHERE, key=_WHERE,
                 help="Where the independent jobs of an analysis run (outer folds × seeds × "
                      "models, permutation nulls, gene-scan chunks, QC variant blocks): this "
                      "process, a local Dask cluster started by genoapp, or an existing Dask "
                      "scheduler (e.g. one started on a SLURM cluster with dask-jobqueue; its "
                      "workers must see the same data paths). Results are the same; recorded "
                      "in every run.")
    where = st.session_state[_WHERE]
    if where == WHERE[1]:
        st.number_input("Workers", 1, 64, key=_WORKERS,
                        help="Worker processes of the local cluster, one thread each. More "
                             "workers than CPU cores only adds overhead.")
    elif where == WHERE[2]:
        st.text_input("Scheduler address", key=_ADDRESS, placeholder="tcp://10.0.0.5:8786")
    setting = execution_setting()
    if setting == "in-process":
        return
    try:
        held = _open(setting)
    except GenoappError as exc:
        st.caption(f"**Jobs:** in this process. {exc}")
        return
    ex = held.executor
    workers = ex.workers()
    link = ex.dashboard_link
    st.caption(f"**Jobs:** `{setting}`, {len(workers)} worker(s), "
               f"{sum(w['threads'] for w in workers)} thread(s)"
               + (f"  \n[Dask dashboard]({link})" if link else ""))


def sidebar() -> None:
    """Draw the device and seed widgets (call once, inside ``st.sidebar``)."""
    from genoapp.train import device_description, resolve_device

    st.session_state.setdefault(_DEVICE, "auto")
    st.session_state.setdefault(_SEED, 0)
    st.selectbox("Device", DEVICES, key=_DEVICE,
                 help="Where the neural networks and Gene-PCA run: 'auto' uses a GPU when one is "
                      "visible, else the CPU. Recorded in every run.")
    st.number_input("Seed", 0, 2**31 - 1, key=_SEED,
                    help="Seeds the test split, the validation folds, the models and the nulls; "
                         "the same seed reproduces a run exactly on the same machine.")
    try:
        st.caption(f"**Device:** {device_description(resolve_device(device()))}")
    except Exception as exc:  # noqa: BLE001 - e.g. cuda chosen without a GPU: say so here
        st.caption(f"**Device:** {exc}")
    _cluster_widgets()


def device() -> str:
    """The chosen device ("auto", "cpu" or "cuda")."""
    return str(st.session_state.get(_DEVICE, "auto"))


def seed() -> int:
    """The chosen seed."""
    return int(st.session_state.get(_SEED, 0))
