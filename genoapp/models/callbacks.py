"""Training callbacks (DESIGN §3).

The training loop calls, in order: ``on_train_begin(info)`` once; after every mini-batch
``should_stop()`` (any callback returning True ends training after that batch; the check for
the last batch of an epoch comes after that epoch's ``on_epoch_end``, so it is logged first);
``on_epoch_end(epoch, logs)`` after every completed epoch (an epoch interrupted by a stop is
not logged); ``on_train_end(logs)`` once, also after a stop. The app injects a progress callback of its own; the back-end never knows about
Streamlit.

Keys of ``logs`` passed to ``on_epoch_end`` (all plain Python numbers):

============== ============================================================================
epoch          1-based epoch number (also the ``epoch`` argument)
train_loss     mean training loss over the epoch's samples (training mode: dropout active)
train_accuracy fraction of training samples classified correctly during the epoch
val_loss       mean loss on the validation data (eval mode); only with validation data
val_accuracy   validation accuracy (eval mode); only with validation data
lr             learning rate used during the epoch (before the scheduler step)
seconds        wall-clock seconds of the epoch, validation included
============== ============================================================================

Regression models use the same loop without the ``*_accuracy`` keys.
"""

from __future__ import annotations

import math
import threading

from genoapp.errors import ConfigError

__all__ = ["Callback", "History", "StopFlag", "EarlyStopping"]


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    def on_train_begin(self, info: dict) -> None:
        """Called once before the first epoch.

        ``info`` holds ``n_epochs``, ``n_train``, ``n_val`` (0 without validation data),
        ``n_features``, ``batch_size``, ``n_batches`` (per epoch), ``device`` (str) and
        ``model`` (class name).
        """

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        """Called after each completed epoch with the 1-based ``epoch`` and its ``logs``."""

    def on_train_end(self, logs: dict) -> None:
        """Called once at the end: ``logs`` holds ``epochs_completed``, ``stopped_early``,
        ``best_epoch`` (1-based epoch whose weights were kept, None when the last ones were)
        and ``seconds`` (whole training)."""

    def should_stop(self) -> bool:
        """Return True to end training after the current mini-batch."""
        return False


class History(Callback):
    """Collect the per-epoch logs.

    Attributes
    ----------
    history : list of dict
        One ``logs`` dict per completed epoch (copies), reset at ``on_train_begin``.
    info : dict
        The ``info`` of the last ``on_train_begin``.
    end_logs : dict
        The ``logs`` of the last ``on_train_end``.
    """

    def __init__(self) -> None:
        self.history: list[dict] = []
        self.info: dict = {}
        self.end_logs: dict = {}

    def on_train_begin(self, info: dict) -> None:
        self.history = []
        self.info = dict(info)
        self.end_logs = {}

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.history.append(dict(logs))

    def on_train_end(self, logs: dict) -> None:
        self.end_logs = dict(logs)

    def to_frame(self):
        """Return the history as a pandas DataFrame, one row per epoch (CSV-exportable)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.history)


class StopFlag(Callback):
    """A thread-safe stop button.

    Another thread (e.g. the app's "Stop" button) calls :meth:`request_stop`; the training
    loop sees it after the current mini-batch and stops cleanly. The flag stays set until
    :meth:`clear`; use a fresh ``StopFlag`` for every run.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def request_stop(self) -> None:
        """Ask the training loop to stop after the current mini-batch."""
        self._event.set()

    def clear(self) -> None:
        """Withdraw a stop request."""
        self._event.clear()

    @property
    def stop_requested(self) -> bool:
        return self._event.is_set()

    def should_stop(self) -> bool:
        return self._event.is_set()


class EarlyStopping(Callback):
    """Stop when a monitored log value has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default "val_loss"
        A key of the epoch logs (see the module docstring).
    patience : int, default 5
        Number of epochs without improvement tolerated; training stops at the end of the
        ``patience``-th such epoch.
    min_delta : float, default 0.0
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}, default "auto"
        Direction of improvement; "auto" means "max" for keys ending in ``accuracy``, ``auc``
        or ``_r`` (a correlation), else "min".

    Attributes
    ----------
    best : float
        Best monitored value seen; ``best_epoch`` its 1-based epoch; ``wait`` epochs since.

    Notes
    -----
    Which weights are kept is decided by the estimator (the DiseaseCapsule classifier keeps the
    epoch with the best validation accuracy when validation data is given).
    """

    def __init__(self, monitor: str = "val_loss", *, patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto") -> None:
        if mode not in ("auto", "min", "max"):
            raise ConfigError(f"EarlyStopping mode: must be 'auto', 'min' or 'max', got {mode!r}.")
        if not isinstance(patience, int) or patience < 1:
            raise ConfigError(f"EarlyStopping patience: must be an integer >= 1, got {patience!r}.")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        if mode == "auto":
            mode = "max" if monitor.endswith(("accuracy", "auc", "_r")) else "min"
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.wait = 0
        self._stop = False

    def on_train_begin(self, info: dict) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if self.monitor not in logs:
            raise ConfigError(
                f"EarlyStopping monitor: {self.monitor!r} is not in the epoch logs "
                f"(available: {sorted(logs)}). Validation keys need validation data."
            )
        value = float(logs[self.monitor])
        if self.mode == "min":
            improved = value < self.best - self.min_delta
        else:
            improved = value > self.best + self.min_delta
        if improved:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self._stop = True

    def should_stop(self) -> bool:
        return self._stop
