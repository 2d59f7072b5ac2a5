"""The training engine, above the models: the sample splits of the evaluation protocol, and
in one place the pieces every training uses.

- :mod:`~genoapp.train.splits` (defined here): balanced test split (:func:`make_split`),
  balanced validation folds, upsampling, and the outer folds of the protocol
  (:class:`OuterFold`).
- re-exported from below: :func:`resolve_device` (:mod:`genoapp.device`, base layer: ``"auto"``
  picks CUDA, then the CPU); :func:`train_module` (:mod:`genoapp.models.training`: the
  mini-batch loop of the torch estimator base, with callbacks, the stop button and best-epoch
  selection on validation data); the one progress/callback protocol
  (:mod:`genoapp.models.callbacks`: :class:`Callback`, :class:`StopFlag`,
  :class:`EarlyStopping`, :class:`History`).

The loop and the callbacks live with the torch estimator base (:mod:`genoapp.models._torch`),
which owns seeding, the device, the loop and save/load, so that ``models`` never imports
``train``: the layers run io -> qc -> features -> models -> train -> interpret -> workflows.
"""

from genoapp.device import device_description, resolve_device
from genoapp.models.callbacks import Callback, EarlyStopping, History, StopFlag
from genoapp.models.training import TrainResult, evaluate_module, train_module
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
