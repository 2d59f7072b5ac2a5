"""Training utilities: device selection, balanced splits, upsampling, callbacks, the loop."""

from genoapp.train.callbacks import Callback, EarlyStopping, History, StopFlag
from genoapp.train.device import device_description, resolve_device
from genoapp.train.splits import balanced_kfold, balanced_test_split, upsample_minority
from genoapp.train.trainer import TrainResult, evaluate_module, train_module

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "StopFlag",
    "device_description",
    "resolve_device",
    "balanced_kfold",
    "balanced_test_split",
    "upsample_minority",
    "TrainResult",
    "evaluate_module",
    "train_module",
]
