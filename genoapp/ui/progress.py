"""The one Streamlit progress sink for every step run in the page's own thread.

:class:`ProgressSink` speaks all three forms the back-end uses to report progress:

- a ``progress(fraction, message)`` callable (QC, features, gene scan, nulls);
- a training :class:`genoapp.train.Callback` (torch epochs: bar, status line and, with
  ``curves=``, live learning curves; the genetic algorithm reports generations the same way);
- a protocol event sink (:meth:`event`, the dict events of
  :func:`genoapp.workflows.protocol.run_protocol`).

Long trainings run as background jobs instead (:mod:`genoapp.ui.jobs`), with the same
curves and a Stop button.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from genoapp.train import Callback


class ProgressSink(Callback):
    """A progress bar with a status line, and optional live curves.

    Parameters
    ----------
    label : str
        Shown before every message ("Gene scan", "CNN", ...).
    n_epochs : int, optional
        Planned epochs (or generations), for the bar when used as a training callback.
    curves : callable(pandas.DataFrame) -> plotly Figure, optional
        Figure of the epoch logs so far, redrawn after every epoch.
    describe : callable(epoch, logs) -> str, optional
        Status text of an epoch (default: training and validation loss).
    """

    def __init__(self, label: str, *, n_epochs: int | None = None,
                 curves: Callable | None = None, describe: Callable | None = None):
        self.label = label
        self.n_epochs = n_epochs
        self.curves = curves
        self.describe = describe
        self._bar = st.progress(0.0, text=f"{label}: starting")
        self._chart = st.empty() if curves is not None else None
        self._rows: list[dict] = []

    # progress(fraction, message) ---------------------------------------------------------
    def __call__(self, fraction: float, message: str = "") -> None:
        self._bar.progress(min(max(float(fraction), 0.0), 1.0),
                           text=f"{self.label}: {message}" if message else self.label)

    # training callback --------------------------------------------------------------------
    def on_train_begin(self, info: dict) -> None:
        dev = info.get("device", "")
        self._rows = []
        self(0.0, f"training on {dev}" if dev else "starting")

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._rows.append(dict(logs))
        if self.describe is not None:
            text = self.describe(epoch, logs)
        else:
            text = (f"epoch {epoch}" + (f"/{self.n_epochs}" if self.n_epochs else "")
                    + f", training loss {logs.get('train_loss', float('nan')):.4f}"
                    + (f", validation loss {logs['val_loss']:.4f}" if "val_loss" in logs else ""))
        self(epoch / self.n_epochs if self.n_epochs else 0.0, text)
        if self._chart is not None:
            self._chart.plotly_chart(self.curves(pd.DataFrame(self._rows)), width="stretch",
                                     key=f"live_{self.label}_{epoch}")

    def on_train_end(self, logs: dict) -> None:
        self(1.0, "done")

    # protocol events ----------------------------------------------------------------------
    def event(self, ev: dict) -> None:
        """Fold one protocol event into the bar (fraction of tasks done)."""
        n = max(int(ev.get("n_tasks", 1) or 1), 1)
        if ev.get("event") == "task_begin":
            self(ev["task"] / n, f"{ev.get('model')} on {ev.get('input')}")
        elif ev.get("event") == "task_end":
            self((ev["task"] + 1) / n, f"{ev.get('model')} on {ev.get('input')}: done")

    def clear(self) -> None:
        """Remove the bar (and curves) from the page."""
        self._bar.empty()
        if self._chart is not None:
            self._chart.empty()
