"""The training engine, below the models: device selection, the mini-batch loop with
callbacks, and the sample splits of the evaluation protocol.

- :mod:`~genoapp.train.device`: ``"auto"`` picks CUDA, then the CPU (:func:`resolve_device`).
- :mod:`~genoapp.train.trainer`: :func:`train_module` (callbacks, stop button, best-epoch
  selection on validation data).
- :mod:`~genoapp.train.callbacks`: the one progress/callback protocol (:class:`Callback`,
  :class:`StopFlag`, :class:`EarlyStopping`, :class:`History`).
- :mod:`~genoapp.train.splits`: balanced test split (:func:`make_split`), balanced validation
  folds, upsampling, and the outer folds of the protocol (:class:`OuterFold`).
"""

from genoapp.train.callbacks import Callback, EarlyStopping, History, StopFlag
from genoapp.train.device import device_description, resolve_device
from genoapp.train.splits import (
    OuterFold,
    Split,
    balanced_kfold,
    balanced_test_split,
    folds_from_labels,
    holdout_folds,
    make_split,
    repeated_kfold,
    upsample_minority,
)
from genoapp.train.trainer import TrainResult, evaluate_module, train_module

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "OuterFold",
    "Split",
    "StopFlag",
    "TrainResult",
    "balanced_kfold",
    "balanced_test_split",
    "device_description",
    "evaluate_module",
    "folds_from_labels",
    "holdout_folds",
    "make_split",
    "repeated_kfold",
    "resolve_device",
    "train_module",
    "upsample_minority",
]
