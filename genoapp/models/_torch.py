"""Shared machinery of the torch baselines (MLP, CNN): a scikit-learn style binary classifier.

Subclasses only build their ``torch.nn.Module`` (:meth:`TorchBinaryClassifier._build_module`);
this base class validates inputs, seeds everything, trains with
:func:`genoapp.train.train_module` (callbacks, stop button, best-epoch selection on validation
data), runs mixed precision on CUDA only, predicts in batches and saves/loads ``state_dict``
files atomically. The DiseaseCapsule authors' baselines (``MLP.GPU.py``, ``CNN.GPU.py``) were
Keras models trained with Adam and a step decay of the learning rate (x0.7 every 4 epochs); the
defaults here are theirs (DESIGN §4.3).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from genoapp.errors import ConfigError, InputDataError
from genoapp.models._validation import as_float32_matrix, check_fit_data, check_predict_data
from genoapp.train.device import resolve_device
from genoapp.train.trainer import train_module

__all__ = ["TorchBinaryClassifier", "BatchNorm1dAnySize", "BatchNorm2dAnySize", "atomic_torch_save"]


def atomic_torch_save(payload: dict, path) -> Path:
    """``torch.save(payload)`` to ``path`` through a temporary file and ``os.replace``.

    A reader never sees a half-written file: either the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def fit_record(est) -> dict:
    """The training record a saved torch model keeps besides its weights (history, device,
    early stopping, best epoch, fit time)."""
    return {"history": [dict(h) for h in est.history_], "device": est.device_,
            "stopped_early": bool(est.stopped_early_), "best_epoch": est.best_epoch_,
            "fit_seconds": float(est.fit_seconds_)}


def restore_fit_record(est, payload: dict, device) -> None:
    """Set the attributes written by :func:`fit_record` on a loaded estimator."""
    est.history_ = list(payload.get("history", []))
    est.device_ = str(device)
    est.stopped_early_ = bool(payload.get("stopped_early", False))
    est.best_epoch_ = payload.get("best_epoch")
    est.fit_seconds_ = float(payload.get("fit_seconds", float("nan")))


def read_torch_payload(path, *, fmt: str, version: int, what: str, cls_name: str | None = None,
                       hint: str = "") -> dict:
    """Read and check a model file written with :func:`atomic_torch_save`.

    ``torch.load(weights_only=True)``: tensors and plain containers only, no pickled code.

    Parameters
    ----------
    path : path-like
    fmt, version : str, int
        Expected ``format`` key and highest readable ``format_version``.
    what : str
        Name of the model in messages ("DiseaseCapsule model").
    cls_name : str, optional
        Expected ``class`` key (models sharing one format).
    hint : str
        Appended to the unreadable-file message.

    Returns
    -------
    dict

    Raises
    ------
    InputDataError
        Missing or unreadable file, another format or class, or a newer format version.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: model file not found. Check the run directory.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is reported the same way
        raise InputDataError(
            f"{path}: not a readable torch file ({type(exc).__name__}: {exc}).{hint}") from exc
    ok = isinstance(payload, dict) and payload.get("format") == fmt
    if ok and cls_name is not None:
        ok = payload.get("class") == cls_name
    if not ok:
        found = {k: payload.get(k) for k in ("format", "class")} if isinstance(payload, dict) else None
        raise InputDataError(f"{path}: not a saved {what} (found {found!r}).")
    if payload.get("format_version", 0) > version:
        raise InputDataError(
            f"{path}: written by a newer genoapp (format version {payload['format_version']}); "
            "upgrade genoapp to read it.")
    return payload


class _AnySizeBatchNorm:
    """Mixin: batch norm that accepts a training batch with one value per channel.

    PyTorch refuses to compute batch statistics from a single value per channel (a batch of
    one sample, and for 2-D maps a 1x1 map); Keras (the authors' framework) does not. For
    such a batch the layer normalises with its running statistics and leaves them unchanged;
    every other batch behaves exactly as the PyTorch layer.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.numel() == x.shape[1]:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        return super().forward(x)


class BatchNorm1dAnySize(_AnySizeBatchNorm, nn.BatchNorm1d):
    """``BatchNorm1d`` that accepts a training batch of one sample (see ``_AnySizeBatchNorm``)."""


class BatchNorm2dAnySize(_AnySizeBatchNorm, nn.BatchNorm2d):
    """``BatchNorm2d`` that accepts a training batch of one 1x1 map (see ``_AnySizeBatchNorm``)."""


def _keras_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for Linear/Conv layers (Keras' defaults)."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _count_correct(out, yb):
    return (out.argmax(dim=1) == yb).sum()


class TorchBinaryClassifier(ClassifierMixin, BaseEstimator):
    """Base class: a torch network with two softmax outputs as a binary classifier.

    Parameters (common to all subclasses)
    -------------------------------------
    learning_rate : float, default 5e-5
        Adam learning rate (the authors' MLP and CNN).
    lr_step : int, default 4
        Epochs between learning-rate decays (``StepLR`` step size).
    lr_decay : float, default 0.7
        Multiplicative decay every ``lr_step`` epochs (authors: 0.7 every 4 epochs).
    epochs : int, default 30
    batch_size : int, default 128
    dropout : float, default 0.5
    device : str, default "auto"
        See :func:`genoapp.train.resolve_device`; the device used is recorded in ``device_``.
    mixed_precision : {"auto", True, False}, default "auto"
        bfloat16 autocast for the forward pass on CUDA ("auto": when the GPU supports bfloat16).
        Never used on the CPU. bfloat16 keeps float32's exponent range, so no loss scaling is
        needed; batch norm and the loss run in float32 (autocast rules). Predictions are always
        computed in float32, so a reloaded model predicts identically.
    random_state : int, default 0
        Seeds weight initialisation, dropout (torch RNG forked: the global state is restored)
        and batch shuffling. CPU runs with the same seed are bitwise identical.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (on ``device_``, eval mode).
    classes_ : ndarray of shape (2,)
        The two labels seen in ``fit``, sorted; ``classes_[1]`` is the positive (case) class.
    history_ : list of dict
        Per-epoch logs (keys in :mod:`genoapp.train.callbacks`).
    device_ : str
    mixed_precision_ : bool
        Whether bfloat16 autocast was used in training.
    n_features_in_ : int
    stopped_early_ : bool
        A callback (stop button, early stopping) ended training before ``epochs``.
    best_epoch_ : int or None
        With validation data, the 1-based epoch with the best validation accuracy (earliest on
        ties), whose weights are kept; None without validation data (last weights kept).
    fit_seconds_ : float
    """

    _format = "genoapp.TorchBinaryClassifier"
    _format_version = 1

    # ------------------------------------------------------------------ to override
    def _build_module(self, n_features: int) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_extra_params(self) -> None:
        """Validate subclass-specific hyper-parameters (raise ConfigError)."""

    # ------------------------------------------------------------------ helpers
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.non_deterministic = False
        return tags

    def _check_params(self) -> None:
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, int | float | np.number) or not float(lr) > 0:
            raise ConfigError(f"learning_rate: must be > 0, got {lr!r}. The authors used 5e-5.")
        g = self.lr_decay
        if isinstance(g, bool) or not isinstance(g, int | float | np.number) or not 0.0 < float(g) <= 1.0:
            raise ConfigError(f"lr_decay: must be in (0, 1], got {g!r}. The authors used 0.7.")
        for name in ("epochs", "batch_size", "lr_step"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {v!r}.")
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, int | float | np.number) or not 0.0 <= float(d) < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1), got {d!r}. The authors used 0.5.")
        if self.mixed_precision not in ("auto", True, False):
            raise ConfigError(
                f"mixed_precision: must be 'auto', True or False, got {self.mixed_precision!r}."
            )
        if isinstance(self.random_state, bool) or not isinstance(self.random_state, int | np.integer):
            raise ConfigError(f"random_state: must be an integer seed, got {self.random_state!r}.")
        self._check_extra_params()

    @staticmethod
    def _check_X(X, name: str, n_features: int | None = None) -> np.ndarray:
        return as_float32_matrix(X, name, n_features)

    def _encode_y(self, y, name: str, n: int, *, fitting: bool) -> np.ndarray:
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr.ravel()
        if arr.ndim != 1 or arr.shape[0] != n:
            raise InputDataError(
                f"{name}: expected {n} labels (one per row of the features), got shape {arr.shape}."
            )
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise InputDataError(f"{name}: missing (NaN) labels; drop those samples first.")
        if fitting:
            classes = np.unique(arr)
            if classes.size != 2:
                raise InputDataError(
                    f"{name}: a binary classifier needs exactly two classes (0 = control, 1 = case); "
                    f"found {classes.size}: {classes[:5].tolist()}."
                )
            self.classes_ = classes
        codes = np.searchsorted(self.classes_, arr)
        codes = np.clip(codes, 0, 1)
        if not np.array_equal(self.classes_[codes], arr):
            raise InputDataError(
                f"{name}: labels {np.setdiff1d(np.unique(arr), self.classes_)[:5].tolist()} were not "
                f"seen in training (classes {self.classes_.tolist()})."
            )
        return codes.astype(np.int64)

    def _use_amp(self, device: torch.device) -> bool:
        if device.type != "cuda" or self.mixed_precision is False:
            return False
        return bool(torch.cuda.is_bf16_supported())

    # ------------------------------------------------------------------ API
    def fit(self, X, y, *, X_val=None, y_val=None, callbacks=()):
        """Train the network.

        Parameters
        ----------
        X : array-like (n, F)
            Features (e.g. Gene-PCA scores), no missing values; converted to float32.
        y : array-like (n,)
            Two classes (0 = control, 1 = case); upsample beforehand for 1:1
            (:func:`genoapp.train.upsample_minority`).
        X_val, y_val : optional
            Validation data (never the test set): logged every epoch (``val_loss``,
            ``val_accuracy``); the weights of the epoch with the best validation accuracy are
            kept (earliest on ties).
        callbacks : sequence of :class:`genoapp.train.Callback`
            Progress, stop button, early stopping; ``should_stop()`` is checked after every
            mini-batch.

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            Bad shapes, NaN features, not exactly two classes.
        ConfigError
            Bad hyper-parameters or an unavailable device.
        """
        self._check_params()
        Xa, ya = check_fit_data(self, X, y)
        Xa = np.ascontiguousarray(Xa, dtype=np.float32)
        if (X_val is None) != (y_val is None):
            raise ConfigError("X_val and y_val: pass both or neither.")
        Xv = yv = None
        if X_val is not None:
            Xv = self._check_X(X_val, "X_val", Xa.shape[1])
            yv = self._encode_y(y_val, "y_val", Xv.shape[0], fitting=False)
        device = resolve_device(self.device)
        amp = self._use_amp(device)
        seed = int(self.random_state)
        t0 = time.perf_counter()
        forks = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=forks):
            torch.manual_seed(seed)
            module = self._build_module(Xa.shape[1])
            _keras_init(module)
            module.to(device)
            optimizer = torch.optim.Adam(module.parameters(), lr=float(self.learning_rate))
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(self.lr_step),
                                                        gamma=float(self.lr_decay))

            def forward(m, xb):
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                    out = m(xb)
                return out.float()

            res = train_module(
                module, torch.from_numpy(Xa), torch.from_numpy(ya),
                loss_fn=F.cross_entropy, optimizer=optimizer, scheduler=scheduler,
                epochs=int(self.epochs), batch_size=int(self.batch_size), device=device,
                X_val=None if Xv is None else torch.from_numpy(Xv),
                y_val=None if yv is None else torch.from_numpy(yv),
                callbacks=callbacks, forward=forward, count_correct=_count_correct,
                monitor="val_accuracy", random_state=seed,
            )
        module.eval()
        self.module_ = module
        self.history_ = res.history
        self.device_ = str(device)
        self.mixed_precision_ = amp
        self.stopped_early_ = bool(res.stopped_early)
        self.best_epoch_ = res.best_epoch
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    @torch.no_grad()
    def _logits(self, X, batch_size: int = 1024) -> np.ndarray:
        Xa = np.ascontiguousarray(check_predict_data(self, X, fitted_attr="module_"), dtype=np.float32)
        module = self.module_
        module.eval()
        device = next(module.parameters()).device
        out = [module(torch.from_numpy(Xa[s:s + batch_size]).to(device)).float().cpu().numpy()
               for s in range(0, Xa.shape[0], batch_size)]
        return np.concatenate(out, axis=0).astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, 2): softmax of the two outputs (eval mode, float32)."""
        z = self._logits(X)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def decision_function(self, X) -> np.ndarray:
        """Case score (n,): logit difference ``z_1 - z_0`` (> 0 predicts ``classes_[1]``)."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0]

    def predict(self, X) -> np.ndarray:
        """Predicted labels (n,) from ``classes_`` (argmax of the outputs; class 0 on ties)."""
        z = self._logits(X)
        return self.classes_[z.argmax(axis=1)]

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the fitted model to ``path`` atomically (``torch.save`` dict, CPU tensors).

        Keys: ``format``, ``format_version``, ``class``, ``params``, ``n_features_in``,
        ``classes``, ``state_dict``, ``history``, ``device``, ``stopped_early``, ``best_epoch``,
        ``fit_seconds``. Read back with :meth:`load` (``weights_only=True``: no pickled code).
        """
        check_is_fitted(self, "module_")
        payload = {
            "format": self._format,
            "format_version": self._format_version,
            "class": type(self).__name__,
            "params": self.get_params(deep=False),
            "n_features_in": int(self.n_features_in_),
            "classes": self.classes_.tolist(),
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
            **fit_record(self),
        }
        return atomic_torch_save(payload, path)

    @classmethod
    def load(cls, path, *, device: str = "auto"):
        """Read a model written by :meth:`save` onto ``device``.

        Raises
        ------
        InputDataError
            Missing file, unreadable file or a model of another class.
        """
        payload = read_torch_payload(path, fmt=cls._format, version=cls._format_version,
                                     what=cls.__name__, cls_name=cls.__name__)
        params = dict(payload["params"])
        params["device"] = device
        est = cls(**params)
        dev = resolve_device(device)
        n_features = int(payload["n_features_in"])
        module = est._build_module(n_features)
        module.load_state_dict(payload["state_dict"])
        module.to(dev).eval()
        est.module_ = module
        est.classes_ = np.asarray(payload["classes"])
        restore_fit_record(est, payload, dev)
        est.mixed_precision_ = False
        est.n_features_in_ = n_features
        return est
