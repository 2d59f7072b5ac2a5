"""Training progress shown live in the page, as a genoapp training callback."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from genoapp.plots import training_curves
from genoapp.train import Callback


class StreamlitProgress(Callback):
    """Progress bar, epoch line and learning curves updated after every epoch.

    Parameters
    ----------
    n_epochs : int
        Planned number of epochs (for the progress bar).
    label : str
        Model name shown in the status line.
    """

    def __init__(self, n_epochs: int, label: str = "DiseaseCapsule"):
        self.n_epochs = n_epochs
        self.label = label
        self._bar = st.progress(0.0, text=f"{label}: starting")
        self._chart = st.empty()
        self._rows: list[dict] = []

    def on_train_begin(self, info: dict) -> None:
        dev = info.get("device", "")
        self._bar.progress(0.0, text=f"{self.label}: training on {dev}")

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._rows.append(dict(logs))
        acc = logs.get("train_accuracy", float("nan"))
        self._bar.progress(min(epoch / self.n_epochs, 1.0),
                           text=f"{self.label}: epoch {epoch}/{self.n_epochs}, "
                                f"loss {logs.get('train_loss', float('nan')):.4f}, "
                                f"training accuracy {acc:.3f}")
        self._chart.plotly_chart(training_curves(pd.DataFrame(self._rows)), width="stretch",
                                 key=f"live_curve_{epoch}")

    def on_train_end(self, logs: dict) -> None:
        self._bar.progress(1.0, text=f"{self.label}: done")
