"""Background training jobs: the app stays responsive while models train, and can stop them.

A :class:`TrainingJob` runs a back-end function in a daemon thread. The function receives an
``on_event`` sink and a :class:`genoapp.train.StopFlag`; the protocol
(:func:`genoapp.workflows.protocol.run_protocol`) reports plain dict events to the sink, which
this class folds into a small, thread-safe progress state (queue of tasks, the current fit's
per-epoch training/validation loss and accuracy). The page polls that state with
``st.fragment(run_every=...)`` (:func:`live_panel`) and never blocks on the thread. The Stop
button sets the flag; training ends after the current mini-batch and keeps the best model so far.

Only :func:`live_panel` and the session helpers touch Streamlit; the thread never does.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable

import pandas as pd

from genoapp.execution import current_executor, use_executor
from genoapp.train import StopFlag

__all__ = ["TrainingJob", "get_job", "start_job", "clear_job", "live_panel", "max_trainings"]

_JOB_KEY = "genoapp_train_job"


def max_trainings() -> int:
    """How many trainings may run at once in this server process.

    ``$GENOAPP_MAX_TRAININGS`` when set (at least 1), else half the CPU cores (at least 1):
    more jobs than that queue instead of oversubscribing the CPU (each training already uses
    several threads).
    """
    import os

    env = os.environ.get("GENOAPP_MAX_TRAININGS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    return max(1, (os.cpu_count() or 2) // 2)


_SLOTS = threading.BoundedSemaphore(max_trainings())
_WAITING = [0]  # jobs waiting for a slot (for the queue message)
_WAITING_LOCK = threading.Lock()


class TrainingJob:
    """A function run in a background thread with progress events and a stop flag.

    Parameters
    ----------
    target : callable(on_event, stop) -> object
        The work; its return value becomes :attr:`result`. ``on_event`` takes the protocol's
        dict events; ``stop`` is a StopFlag to pass on to the training loop.
    tasks : list of dict, optional
        The planned queue (``model``, ``input``, ``trait``, ``fold``, ``seed`` per task, as
        strings) shown before it starts.
    label : str
    meta : dict, optional
        Anything the page wants back with the result (e.g. the settings used).

    Attributes
    ----------
    status : {"created", "queued", "running", "done", "stopped", "failed"}
        "queued": waiting for a training slot (:func:`max_trainings` run at once).
    result : object
        ``target``'s return value once finished (also after a stop).
    error : BaseException or None
    error_text : str
        The traceback of a failure (for the log expander).
    stop_flag : StopFlag
    """

    def __init__(self, target: Callable, *, tasks: list[dict] | None = None, label: str = "training",
                 meta: dict | None = None):
        self.target = target
        self.label = label
        self.meta = dict(meta or {})
        self.stop_flag = StopFlag()
        self.status = "created"
        self.result = None
        self.error: BaseException | None = None
        self.error_text = ""
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._lock = threading.Lock()
        self._tasks = [dict(t, status="queued") for t in (tasks or [])]
        self._current: dict | None = None
        self._epochs: list[dict] = []
        self._message = ""
        # the thread runs where the page that made the job runs (contextvars do not cross
        # threads by themselves)
        self._executor = current_executor()
        self._thread = threading.Thread(target=self._run, name=f"genoapp-{label}", daemon=True)

    # ------------------------------------------------------------------ thread side
    def _acquire_slot(self) -> bool:
        """Wait for a free training slot (other sessions' jobs); False if stopped meanwhile."""
        if _SLOTS.acquire(blocking=False):
            return True
        self.status = "queued"
        with _WAITING_LOCK:
            _WAITING[0] += 1
            ahead = _WAITING[0]
        self._message = (f"queued: {ahead} training(s) waiting; at most {max_trainings()} run at "
                         "once on this server (GENOAPP_MAX_TRAININGS)")
        try:
            while not _SLOTS.acquire(timeout=0.5):
                if self.stop_flag.stop_requested:
                    return False
            return True
        finally:
            with _WAITING_LOCK:
                _WAITING[0] -= 1

    def _run(self) -> None:
        self.started_at = time.time()
        got = False
        try:
            got = self._acquire_slot()
            if not got:
                self.status = "stopped"
                return
            self.status = "running"
            self._message = ""
            with use_executor(self._executor):
                self.result = self.target(self.on_event, self.stop_flag)
            self.status = "stopped" if self.stop_flag.stop_requested else "done"
        except BaseException as exc:  # reported in the app, never raised into the thread runner
            self.error = exc
            self.error_text = traceback.format_exc()
            self.status = "failed"
        finally:
            if got:
                _SLOTS.release()
            self.finished_at = time.time()
            with self._lock:
                for t in self._tasks:
                    if t["status"] == "running":
                        t["status"] = "stopped" if self.stop_flag.stop_requested else t["status"]
                    elif t["status"] == "queued" and self.status in ("stopped", "failed"):
                        t["status"] = "skipped"

    def on_event(self, ev: dict) -> None:
        """Fold one protocol event into the progress state (thread-safe, cheap)."""
        with self._lock:
            kind = ev.get("event")
            if "task" in ev and "n_tasks" in ev and len(self._tasks) != ev["n_tasks"]:
                # queued tasks are shown with empty cells (typed columns: no mixed "?" values)
                self._tasks = [{"model": "", "input": "", "trait": "", "fold": "", "seed": "",
                                "status": "queued"} for _ in range(ev["n_tasks"])]
            if kind == "task_begin":
                t = self._tasks[ev["task"]]
                fold = f"{ev.get('repeat', 1)}.{ev.get('fold_outer', 1)}"
                t.update(model=ev["model"], input=ev["input"], trait=str(ev.get("trait", "")),
                         fold=fold, seed=str(ev["seed"]), status="running")
                self._message = f"{ev['model']} on {ev['input']}, seed {ev['seed']}"
                if ev.get("repeat") is not None and (ev.get("repeat"), ev.get("fold_outer")) != (1, 1):
                    self._message = f"{ev['model']} on {ev['input']}, fold {fold}"
            elif kind == "fit_begin":
                fold = ev.get("fold")
                what = "refit on all training samples" if fold == "final" else f"validation fold {int(fold) + 1}"
                info = ev.get("info") or {}
                self._current = {"model": ev["model"], "input": ev["input"], "seed": ev["seed"],
                                 "fold": what, "params": ev.get("params") or {},
                                 "n_epochs": info.get("n_epochs"), "device": info.get("device")}
                self._epochs = []
            elif kind == "epoch":
                self._epochs.append(dict(ev["logs"]))
            elif kind == "task_end":
                t = self._tasks[ev["task"]]
                t["status"] = "stopped" if ev.get("stopped") else "done"
                for k, v in (ev.get("metrics") or {}).items():
                    t[k] = None if v is None else float(v)
            elif kind == "task_failed":
                self._tasks[ev["task"]]["status"] = "failed"
                self._message = ev.get("error", "")
            elif kind == "stopped":
                self._message = "stopped: the best model so far was kept"
            elif kind == "message":
                self._message = str(ev.get("text", ""))

    # ------------------------------------------------------------------ app side
    def start(self) -> TrainingJob:
        """Start the thread (returns at once)."""
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask training to stop after the current mini-batch (or scikit-learn fit)."""
        self.stop_flag.request_stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread (tests, scripts); True when it has finished."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def snapshot(self) -> dict:
        """A consistent copy of the progress: ``status``, ``tasks`` (DataFrame), ``current``
        (dict or None), ``epochs`` (DataFrame of the current fit), ``message``, ``elapsed``,
        ``fraction`` (0..1 of the queue, counting the current fit's epochs)."""
        with self._lock:
            tasks = pd.DataFrame(self._tasks)
            current = dict(self._current) if self._current else None
            epochs = pd.DataFrame(self._epochs)
            message = self._message
        n = max(len(tasks), 1)
        done = int(tasks["status"].isin(["done", "stopped"]).sum()) if len(tasks) else 0
        frac = done / n
        if current and current.get("n_epochs") and len(epochs) and self.running:
            frac += min(len(epochs) / current["n_epochs"], 1.0) / n * 0.99
        end = self.finished_at or time.time()
        return {"status": self.status, "tasks": tasks, "current": current, "epochs": epochs,
                "message": message, "elapsed": (end - self.started_at) if self.started_at else 0.0,
                "fraction": min(frac, 1.0)}


# ---------------------------------------------------------------------- session helpers
def get_job() -> TrainingJob | None:
    """The session's training job (None when none was started)."""
    import streamlit as st

    return st.session_state.get(_JOB_KEY)


def start_job(job: TrainingJob) -> TrainingJob:
    """Store ``job`` in the session and start it; refuses while another one runs."""
    import streamlit as st

    current = get_job()
    if current is not None and current.running:
        raise RuntimeError("a training job is already running; stop it first")
    st.session_state[_JOB_KEY] = job
    return job.start()


def clear_job() -> None:
    """Forget the session's finished job."""
    import streamlit as st

    job = get_job()
    if job is not None and not job.running:
        st.session_state.pop(_JOB_KEY, None)


def live_panel(on_finish: Callable[[TrainingJob], None], *, every: float = 1.0) -> None:
    """Show the running job live and hand its result over when it ends.

    Renders, inside ``st.fragment(run_every=every)`` (only this panel re-runs while training):
    a progress bar with the current fit, the queue with each finished model's test accuracy,
    the current fit's learning curves (training and validation loss and accuracy per epoch) and
    a Stop button. When the thread has finished, calls ``on_finish(job)`` once (e.g. to store
    the result in the session), forgets the job (polling stops) and re-runs the whole page.

    Parameters
    ----------
    on_finish : callable(TrainingJob)
    every : float, default 1.0
        Polling period in seconds.
    """
    import streamlit as st

    from genoapp.plots.training import training_curves

    @st.fragment(run_every=every)
    def _panel():
        job = get_job()
        if job is None:
            return
        if not job.running and job.started_at is not None:
            if not getattr(job, "_handed_over", False):
                job._handed_over = True
                on_finish(job)
            st.session_state.pop(_JOB_KEY, None)  # stop polling
            st.rerun(scope="app")
        snap = job.snapshot()
        cur = snap["current"]
        text = f"{job.label}: {snap['message'] or 'starting'}"
        if cur:
            n_ep = cur.get("n_epochs")
            text += f" — {cur['fold']}"
            if n_ep:
                text += f", epoch {len(snap['epochs'])}/{n_ep}"
        st.progress(snap["fraction"], text=text)
        c1, c2 = st.columns([5, 1])
        c1.caption(f"Elapsed {snap['elapsed']:.0f} s. The page stays usable; results appear here when "
                   "the queue is done.")
        if job.stop_flag.stop_requested:
            c2.button("Stopping…", disabled=True, key="stop_training_pending")
        elif c2.button("Stop", type="secondary", key="stop_training", icon=":material/stop_circle:",
                       help="End training after the current mini-batch; keeps the best model so far."):
            job.request_stop()
        if len(snap["epochs"]):
            st.plotly_chart(training_curves(snap["epochs"]), width="stretch", key="live_curves")
        tasks = snap["tasks"]
        if len(tasks):
            cols = [c for c in ("model", "input", "trait", "fold", "seed", "status", "accuracy",
                                "roc_auc", "r", "mse") if c in tasks]
            shown = tasks[cols].copy()
            for c in ("accuracy", "roc_auc", "r", "mse"):
                if c in shown:
                    shown[c] = pd.to_numeric(shown[c], errors="coerce")
            st.dataframe(shown, hide_index=True, height=min(38 + 35 * len(tasks), 300))

    _panel()
