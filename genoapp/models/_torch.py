"""One base class for genoapp's torch models: :class:`TorchEstimator` (and its two-class head
:class:`TorchBinaryClassifier`).

Every torch model of genoapp (DiseaseCapsule, the authors' MLP and CNN, GRVSNN, the thesis'
sequence CNN) is a scikit-learn style estimator built on :class:`TorchEstimator`. The base class
owns what they have in common: checks of the common hyper-parameters, seeding (a forked torch
RNG: the caller's global state is restored), device resolution, the training call
(:func:`genoapp.train.train_module` with callbacks and best-epoch selection), the fitted
attributes, batched inference without gradients, and ``save`` / ``load`` of a versioned model
file written atomically. A subclass only says what differs: how the data is checked and
encoded, which module to build, the loss, the optimiser and which validation value selects the
best epoch.

:class:`TorchBinaryClassifier` adds the classification head shared by the case/control models:
any two labels (``classes_``), ``predict_proba`` / ``decision_function`` / ``predict`` from two
output scores, accuracy logging and best-epoch selection on validation accuracy. Its defaults
(Glorot-uniform initialisation, Adam with a step decay of the learning rate, x0.7 every 4
epochs) are those of the DiseaseCapsule authors' Keras baselines ``MLP.GPU.py`` and
``CNN.GPU.py`` (DESIGN §4.3).

Model files (see :meth:`TorchEstimator.save`) carry a ``format`` string that names the class
that wrote them; :func:`genoapp.models.files.load_model_file` reads any of them back without the
caller naming the class.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from torch import nn

from genoapp.device import resolve_device
from genoapp.errors import ConfigError, InputDataError
from genoapp.fileio import atomic_write
from genoapp.models._validation import as_float32_matrix, check_fit_data, check_predict_data
from genoapp.models.training import TrainResult, train_module

__all__ = ["TorchEstimator", "TorchBinaryClassifier", "FitData", "BatchNorm1dAnySize",
           "BatchNorm2dAnySize", "read_torch_payload", "registered_formats"]

#: format string -> concrete estimator class; filled by ``TorchEstimator.__init_subclass__``.
_REGISTRY: dict[str, type[TorchEstimator]] = {}


def registered_formats() -> dict[str, type[TorchEstimator]]:
    """The model-file formats known so far (format string -> estimator class), a copy.

    A class is registered when its module is imported; :mod:`genoapp.models.files` imports
    genoapp's own model modules before it looks a format up.
    """
    return dict(_REGISTRY)


# --------------------------------------------------------------------------------------------
# model files
# --------------------------------------------------------------------------------------------
def load_payload(path, *, hint: str = "") -> dict:
    """``torch.load(path, weights_only=True)`` of a genoapp model file, on the CPU.

    ``weights_only=True``: tensors and plain containers only, no pickled code is run.

    Raises
    ------
    InputDataError
        The file is missing, unreadable, or does not hold a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: model file not found. Check the run directory.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is reported the same way
        raise InputDataError(
            f"{path}: not a readable torch file ({type(exc).__name__}: {exc}).{hint}") from exc
    if not isinstance(payload, dict):
        raise InputDataError(
            f"{path}: not a saved genoapp model (found a {type(payload).__name__}, not a dict).{hint}")
    return payload


def check_payload(payload: dict, path, *, fmt: str, version: int, what: str,
                  cls_name: str | None = None) -> dict:
    """Check the ``format``, ``class`` and ``format_version`` keys of a loaded model file.

    A file without a ``class`` key (DiseaseCapsule files written before the key existed)
    passes the class check.

    Raises
    ------
    InputDataError
        Another format or class, or a newer format version than ``version``.
    """
    ok = payload.get("format") == fmt
    if ok and cls_name is not None:
        ok = payload.get("class", cls_name) == cls_name
    if not ok:
        found = {k: payload.get(k) for k in ("format", "class")}
        raise InputDataError(f"{path}: not a saved {what} (found {found!r}).")
    if payload.get("format_version", 0) > version:
        raise InputDataError(
            f"{path}: written by a newer genoapp (format version {payload['format_version']}); "
            "upgrade genoapp to read it.")
    return payload


def read_torch_payload(path, *, fmt: str, version: int, what: str, cls_name: str | None = None,
                       hint: str = "") -> dict:
    """Read and check a model file written by :meth:`TorchEstimator.save`.

    Parameters
    ----------
    path : path-like
    fmt, version : str, int
        Expected ``format`` key and highest readable ``format_version``.
    what : str
        Name of the model in messages ("DiseaseCapsule model").
    cls_name : str, optional
        Expected ``class`` key (when the file has one).
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
    payload = load_payload(path, hint=hint)
    return check_payload(payload, Path(path), fmt=fmt, version=version, what=what,
                         cls_name=cls_name)


def _plain(value):
    """Hyper-parameter values as plain Python (numpy scalars and arrays would make the file
    unreadable with ``weights_only=True``)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------------------------
# layers shared by the Keras re-implementations
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# parameter checks
# --------------------------------------------------------------------------------------------
def _is_real(v) -> bool:
    return (not isinstance(v, bool) and isinstance(v, int | float | np.integer | np.floating)
            and math.isfinite(float(v)))


def _is_int(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | np.integer)


def _check_common_param(name: str, value, hint: str) -> None:
    """Raise ConfigError when a common hyper-parameter is out of range (see TorchEstimator)."""
    hint = f" {hint}" if hint else ""
    if name in ("batch_size", "epochs", "max_epochs", "lr_step", "patience"):
        if not _is_int(value) or value < 1:
            raise ConfigError(f"{name}: must be a positive integer, got {value!r}.{hint}")
    elif name == "learning_rate":
        if not _is_real(value) or not float(value) > 0:
            raise ConfigError(f"learning_rate: must be > 0, got {value!r}.{hint}")
    elif name == "lr_decay":
        if not _is_real(value) or not 0.0 < float(value) <= 1.0:
            raise ConfigError(f"lr_decay: must be in (0, 1], got {value!r}.{hint}")
    elif name == "dropout":
        if not _is_real(value) or not 0.0 <= float(value) < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1), got {value!r}.{hint}")
    elif name == "mixed_precision":
        if not (isinstance(value, bool) or value == "auto"):
            raise ConfigError(f"mixed_precision: must be 'auto', True or False, got {value!r}.")
    elif name == "random_state":
        if not _is_int(value):
            raise ConfigError(f"random_state: must be an integer seed, got {value!r}.{hint}")
    elif name == "device":
        if not isinstance(value, str | torch.device):
            raise ConfigError(
                f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {value!r}.")


#: hyper-parameters the base class checks, when the estimator has them (in this order)
COMMON_PARAMS = ("learning_rate", "lr_decay", "lr_step", "batch_size", "epochs", "max_epochs",
                 "patience", "dropout", "device", "mixed_precision", "random_state")


@dataclass
class FitData:
    """Training data as :func:`genoapp.train.train_module` takes it (checked, encoded).

    Attributes
    ----------
    X, y : numpy.ndarray
        Training inputs (float32) and encoded targets (int64 class codes or float32 values).
    X_val, y_val : numpy.ndarray or None
        Validation data in the same encoding; None without validation.
    """

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# the base class
# --------------------------------------------------------------------------------------------
class TorchEstimator(BaseEstimator):
    """Base class of genoapp's torch models: a scikit-learn estimator around a ``nn.Module``.

    ``__init__`` of a subclass stores hyper-parameters only (scikit-learn's rule); :meth:`fit`
    checks them, checks and encodes the data, seeds, builds and trains the module with
    :func:`genoapp.train.train_module`, and records the fitted attributes below. Prediction
    helpers run the module in eval mode, without gradients, in batches; :meth:`save` and
    :meth:`load` write and read a versioned model file.

    Parameters
    ----------
    learning_rate : float
        Checked > 0 (when the subclass has the parameter; so are the ones below).
    lr_decay : float
        Checked in (0, 1].
    lr_step, batch_size, epochs, max_epochs, patience : int
        Checked positive integers. ``_epochs_param`` names the one that bounds training.
    dropout : float
        Checked in [0, 1).
    device : str
        "auto" (CUDA when a GPU is visible, else the CPU), "cpu", "cuda" or "cuda:N"
        (:func:`genoapp.train.resolve_device`).
    mixed_precision : {"auto", True, False}
        bfloat16 autocast of the training forward pass, on CUDA only.
    random_state : int
        Checked integer; the seed of everything random in ``fit`` (see Notes).

    Attributes
    ----------
    module_ or model_ : torch.nn.Module
        The trained module, on ``device_``, in eval mode (name: ``_module_attr``).
    n_features_in_ : int
        Number of input columns (for sequences: the sequence length).
    history_ : list of dict
        Per-epoch logs (keys in :mod:`genoapp.models.callbacks`); ``pandas.DataFrame(history_)``
        is the training curve.
    device_ : str
        Device used, e.g. "cpu" or "cuda:0" (after :meth:`load`: the device loaded onto).
    best_epoch_ : int or None
        With validation data, the 1-based epoch with the best ``_monitor`` value (earliest on
        ties), whose weights are kept; None without validation data (last weights kept).
    stopped_early_ : bool
        A callback (stop button, early stopping) ended training before the last epoch.
    fit_seconds_ : float
        Wall-clock seconds of :meth:`fit`.
    mixed_precision_ : bool
        Only for models with a ``mixed_precision`` parameter: whether bfloat16 autocast was
        used in training (False after :meth:`load`).

    See Also
    --------
    TorchBinaryClassifier : the two-class head (``classes_``, ``predict_proba``).
    genoapp.models.files.load_model_file : read any saved model without naming its class.
    genoapp.train.train_module : the training loop.

    Notes
    -----
    **What a subclass implements.**
    ``_prepare_fit(X, y, X_val, y_val) -> FitData`` checks and encodes the training and
    validation data and sets ``n_features_in_`` and any data-dependent attribute the module
    needs (``classes_``, ``n_traits_``, standardisation statistics); it runs after the
    hyper-parameter checks and before the device is resolved.
    ``_build_module(n_features) -> nn.Module`` builds the untrained module (other shapes from
    the attributes ``_prepare_fit`` set); :meth:`load` calls it too, before loading weights.
    ``_loss_fn() -> (output, target) -> scalar`` is the mean loss over a batch.

    It may override ``_check_extra_params()`` (its own hyper-parameters, raising
    :class:`~genoapp.errors.ConfigError`), ``_init_module(module)`` (default: the module's own
    initialisation), ``_optimizer(module) -> (optimizer, scheduler or None)`` (default: Adam
    with ``learning_rate``, and ``weight_decay`` when the model has it; a scheduler is stepped
    once per epoch), ``_training_callbacks(callbacks, has_val)`` (e.g. to add an early
    stopping), ``_after_fit(result, data, device)`` (further fitted attributes),
    ``_extra_state()`` / ``_restore_state(payload)`` (what the file holds besides the common
    keys: tensors or plain Python values only) and ``_check_X(X, name, n_features)`` (the
    input check for validation and prediction data; default a finite 2-D float32 matrix).

    Class attributes: ``_format`` (the file format string, e.g.
    ``"genoapp.GRVSNNRegressor"``; defining it registers the class for
    :func:`genoapp.models.files.load_model_file`, and two classes may not share one),
    ``_format_version`` (highest file version the class reads), ``_module_attr`` ("module_"
    or "model_"), ``_epochs_param``, ``_monitor`` ("val_accuracy" or "val_loss": the
    validation value that selects the best epoch), ``_count_correct`` (classifiers: enables
    the ``*_accuracy`` logs), ``_param_hints`` (advice appended to a parameter's error),
    ``_x_messages`` (hints of the input checks), ``_what`` (the model's name in file
    messages) and ``_predict_batch_size``.

    **Seeding.** ``fit`` runs inside ``torch.random.fork_rng`` (the CPU generator and that of
    the CUDA device used) after ``torch.manual_seed(random_state)``: weight initialisation and
    dropout are seeded, and the caller's global torch RNG state is restored afterwards. Batch
    shuffling uses a private generator seeded with ``random_state``; a validation split drawn
    by the model uses ``numpy.random.default_rng(random_state)``. On the CPU the same seed
    gives bitwise identical weights (same thread count); CUDA kernels need not be
    deterministic.

    **Devices.** ``device`` is resolved once per ``fit`` and recorded in ``device_``. With a
    ``mixed_precision`` parameter, the training forward pass runs under bfloat16 autocast on
    CUDA only (no loss scaling is needed: bfloat16 keeps float32's exponent range);
    predictions are always computed in float32, so a reloaded model predicts identically.

    **File format.** :meth:`save` writes one ``torch.save`` dict atomically (temporary file,
    then rename: :func:`genoapp.fileio.atomic_write`) with the keys ``format`` (``_format``),
    ``format_version``, ``class`` (the class name), ``params`` (``get_params(deep=False)`` as
    plain Python values), ``n_features_in``, ``state_dict`` (CPU tensors), ``history``,
    ``device`` (of training), ``stopped_early``, ``best_epoch``, ``fit_seconds``, plus the
    model's ``_extra_state()`` (e.g. ``classes``). :meth:`load` reads it with
    ``torch.load(weights_only=True)`` (no pickled code is executed), checks ``format``,
    ``class`` and ``format_version``, and rebuilds the estimator with the saved parameters
    (``device`` replaced by the one asked for).

    Examples
    --------
    >>> model = GRVSNNRegressor(max_epochs=50).fit(X, y)         # doctest: +SKIP
    >>> model.save(run_dir / "models" / "grvsnn.pt")             # doctest: +SKIP
    >>> load_model_file(run_dir / "models" / "grvsnn.pt")        # doctest: +SKIP
    """

    _format: ClassVar[str | None] = None
    _format_version: ClassVar[int] = 1
    _module_attr: ClassVar[str] = "module_"
    _epochs_param: ClassVar[str] = "epochs"
    _monitor: ClassVar[str] = "val_loss"
    _count_correct: ClassVar[Callable | None] = None
    _param_hints: ClassVar[dict[str, str]] = {}
    _what: ClassVar[str | None] = None
    _x_messages: ClassVar[dict[str, str]] = {}
    _predict_batch_size: ClassVar[int] = 1024

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fmt = cls.__dict__.get("_format")
        if fmt:
            prev = _REGISTRY.get(fmt)
            same = prev is not None and (prev.__module__, prev.__qualname__) == (
                cls.__module__, cls.__qualname__)
            if prev is not None and not same:
                raise TypeError(
                    f"{cls.__qualname__}: model file format {fmt!r} is already used by "
                    f"{prev.__module__}.{prev.__qualname__}; give the class its own _format.")
            _REGISTRY[fmt] = cls

    # ------------------------------------------------------------------ hooks
    def _prepare_fit(self, X, y, X_val, y_val) -> FitData:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build_module(self, n_features: int) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _loss_fn(self) -> Callable:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_extra_params(self) -> None:
        """Validate subclass-specific hyper-parameters (raise ConfigError)."""

    def _init_module(self, module: nn.Module) -> None:
        """Initialise the weights of a freshly built module (default: as built)."""

    def _optimizer(self, module: nn.Module):
        kw = {"lr": float(self.learning_rate)}
        if "weight_decay" in self._get_param_names():
            kw["weight_decay"] = float(self.weight_decay)
        return torch.optim.Adam(module.parameters(), **kw), None

    def _training_callbacks(self, callbacks: Sequence, has_val: bool) -> list:
        return list(callbacks)

    def _after_fit(self, result: TrainResult, data: FitData, device: torch.device) -> None:
        """Set further fitted attributes (the trained module is already in place)."""

    def _extra_state(self) -> dict:
        return {}

    def _restore_state(self, payload: dict) -> None:
        """Restore what ``_extra_state`` saved (called by ``load`` before ``_build_module``)."""

    def _check_X(self, X, name: str, n_features: int | None = None) -> np.ndarray:
        return as_float32_matrix(X, name, n_features, owner=type(self).__name__,
                                 **self._x_messages)

    # ------------------------------------------------------------------ common machinery
    def _check_params(self) -> None:
        """Check the common hyper-parameters this model has, then ``_check_extra_params``."""
        names = set(self._get_param_names())
        for name in COMMON_PARAMS:
            if name in names:
                _check_common_param(name, getattr(self, name), self._param_hints.get(name, ""))
        self._check_extra_params()

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, self._module_attr)

    def _check_fitted(self) -> None:
        if not hasattr(self, self._module_attr):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(X, y) or load().")

    def _fitted_module(self) -> nn.Module:
        self._check_fitted()
        return getattr(self, self._module_attr)

    def _check_predict_X(self, X) -> np.ndarray:
        """Fitted check, then the prediction inputs against ``n_features_in_``."""
        self._check_fitted()
        return self._check_X(X, "X", self.n_features_in_)

    def _use_amp(self, device: torch.device) -> bool:
        mp = getattr(self, "mixed_precision", False)
        if device.type != "cuda" or mp is False:
            return False
        return bool(torch.cuda.is_bf16_supported())

    def _train_forward(self, amp: bool) -> Callable | None:
        """The loop's forward call: None (``module(xb)``), or bfloat16 autocast on CUDA."""
        if not amp:
            return None

        def forward(m, xb):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = m(xb)
            if isinstance(out, tuple):
                return tuple(o.float() for o in out)
            return out.float()

        return forward

    @contextlib.contextmanager
    def _seeded(self, device: torch.device) -> Iterator[None]:
        """Fork the torch RNG (CPU and the CUDA device used) and seed it with random_state."""
        forks = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=forks):
            torch.manual_seed(int(self.random_state))
            yield

    # ------------------------------------------------------------------ API
    def fit(self, X, y, *, X_val=None, y_val=None, callbacks=()):
        """Train the network.

        Parameters
        ----------
        X : array-like
            Training inputs, no missing values (float32 after conversion).
        y : array-like
            Targets (see the class docstring).
        X_val, y_val : optional
            Validation data (never the test set): logged every epoch; the weights of the best
            epoch (``_monitor``) are kept.
        callbacks : sequence of :class:`genoapp.train.Callback`
            Progress, stop button, early stopping; ``should_stop()`` is checked after every
            mini-batch.

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            Bad shapes, missing values or targets.
        ConfigError
            Bad hyper-parameters or an unavailable device.
        """
        return self._fit(X, y, X_val=X_val, y_val=y_val, callbacks=callbacks)

    def _fit(self, X, y, *, X_val=None, y_val=None, callbacks=(), parallel=None):
        """:meth:`fit`, optionally as one process of a data-parallel group.

        Parameters
        ----------
        X, y, X_val, y_val, callbacks
            As :meth:`fit`.
        parallel : object, optional
            Data parallelism (:mod:`genoapp.models.ddp`); None (default) trains in this process
            only, exactly as :meth:`fit`. Inside the seeded block, after the module is built,
            initialised, moved to the device and given its optimiser,
            ``parallel.prepare(module, data, device)`` returns ``(net, data, hooks)``: the
            module to train (e.g. its ``DistributedDataParallel`` wrapper, sharing the
            parameters the optimiser holds), the data this process trains and validates on
            (a :class:`FitData`, e.g. with its validation shard) and keyword arguments of
            :func:`genoapp.train.train_module` that replace or add to the estimator's
            (``sampler``, ``all_reduce``, the per-process ``batch_size``). After
            training, ``parallel.finish(net, module)`` restores ``module`` as the estimator
            keeps it (e.g. its own batch-norm layers back in place).
        """
        self._check_params()
        if y is None:
            raise InputDataError(
                f"{type(self).__name__} requires y to be passed, but the target y is None.")
        if (X_val is None) != (y_val is None):
            raise ConfigError("X_val and y_val: pass both or neither.")
        data = self._prepare_fit(X, y, X_val, y_val)
        device = resolve_device(self.device)
        amp = self._use_amp(device)
        has_val = data.X_val is not None
        callbacks = self._training_callbacks(callbacks, has_val)
        t0 = time.perf_counter()
        with self._seeded(device):
            module = self._build_module(int(self.n_features_in_))
            self._init_module(module)
            module.to(device)
            optimizer, scheduler = self._optimizer(module)
            net, local, hooks = (module, data, {}) if parallel is None else \
                parallel.prepare(module, data, device)
            kwargs = dict(
                loss_fn=self._loss_fn(), optimizer=optimizer, scheduler=scheduler,
                epochs=int(getattr(self, self._epochs_param)), batch_size=int(self.batch_size),
                device=device,
                X_val=torch.from_numpy(local.X_val) if has_val else None,
                y_val=torch.from_numpy(local.y_val) if has_val else None,
                callbacks=callbacks, forward=self._train_forward(amp),
                count_correct=self._count_correct, monitor=self._monitor,
                random_state=int(self.random_state),
            )
            res = train_module(net, torch.from_numpy(local.X), torch.from_numpy(local.y),
                               **{**kwargs, **hooks})
            if parallel is not None:
                parallel.finish(net, module)
        module.eval()
        setattr(self, self._module_attr, module)
        self.history_ = res.history
        self.device_ = str(device)
        self.stopped_early_ = bool(res.stopped_early)
        self.best_epoch_ = res.best_epoch
        if "mixed_precision" in self._get_param_names():
            self.mixed_precision_ = amp
        self._after_fit(res, data, device)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    @torch.no_grad()
    def _predict_batches(self, Xa: np.ndarray, fn: Callable, *,
                         batch_size: int | None = None) -> list:
        """``fn(module, xb)`` on consecutive batches of ``Xa`` (eval mode, no gradients).

        Parameters
        ----------
        Xa : numpy.ndarray
            Checked inputs (float32, C-contiguous).
        fn : callable (module, xb) -> numpy.ndarray
            Batch ``xb`` is on the module's device.
        batch_size : int, optional
            Default ``_predict_batch_size``.

        Returns
        -------
        list
            One ``fn`` result per batch (empty for no rows).

        Raises
        ------
        ConfigError
            ``batch_size`` is not a positive integer.
        """
        if batch_size is None:
            batch_size = self._predict_batch_size
        if not _is_int(batch_size) or batch_size < 1:
            raise ConfigError(f"batch_size: must be a positive integer, got {batch_size!r}.")
        module = self._fitted_module()
        module.eval()
        device = next(module.parameters()).device
        return [fn(module, torch.from_numpy(Xa[s:s + batch_size]).to(device))
                for s in range(0, Xa.shape[0], int(batch_size))]

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the fitted model to ``path`` atomically (see "File format" above).

        Parameters
        ----------
        path : path-like
            Target file (its folder is created). An existing file is replaced only once the
            new one is complete.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        sklearn.exceptions.NotFittedError
        genoapp.errors.StorageError
            Disk full, read-only or not writable.
        """
        module = self._fitted_module()
        payload = {
            "format": self._format,
            "format_version": self._format_version,
            "class": type(self).__name__,
            "params": _plain(self.get_params(deep=False)),
            "n_features_in": int(self.n_features_in_),
            "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
            "history": [dict(h) for h in self.history_],
            "device": self.device_,
            "stopped_early": bool(self.stopped_early_),
            "best_epoch": self.best_epoch_,
            "fit_seconds": float(self.fit_seconds_),
            **self._extra_state(),
        }
        what = f"the {self._what or type(self).__name__} file"
        return atomic_write(path, lambda tmp: torch.save(payload, tmp), what=what)

    @classmethod
    def load(cls, path, *, device: str = "auto"):
        """Read a model written by :meth:`save` onto ``device`` ("auto": GPU if present).

        Parameters
        ----------
        path : path-like
        device : str, default "auto"

        Returns
        -------
        The fitted estimator (``device_`` is the device it was loaded onto; the training
        device is in the file's ``device`` key).

        Raises
        ------
        InputDataError
            Missing file, unreadable file, a model of another class or a newer format.
        ConfigError
            Unavailable device.
        """
        payload = load_payload(path, hint=f" Was it written by {cls.__name__}.save()?")
        return cls._from_payload(payload, path, device=device)

    @classmethod
    def _from_payload(cls, payload: dict, path, *, device: str = "auto"):
        check_payload(payload, Path(path), fmt=cls._format, version=cls._format_version,
                      what=cls._what or cls.__name__, cls_name=cls.__name__)
        params = dict(payload["params"])
        params["device"] = device
        est = cls(**params)
        dev = resolve_device(device)
        n_features = int(payload["n_features_in"])
        est.n_features_in_ = n_features
        est._restore_state(payload)
        module = est._build_module(n_features)
        module.load_state_dict(payload["state_dict"])
        module.to(dev).eval()
        setattr(est, cls._module_attr, module)
        est.history_ = list(payload.get("history", []))
        est.device_ = str(dev)
        est.stopped_early_ = bool(payload.get("stopped_early", False))
        est.best_epoch_ = payload.get("best_epoch")
        est.fit_seconds_ = float(payload.get("fit_seconds", float("nan")))
        if "mixed_precision" in cls._get_param_names():
            est.mixed_precision_ = False
        return est


# --------------------------------------------------------------------------------------------
# the classification head
# --------------------------------------------------------------------------------------------
def _count_correct(out, yb):
    return (out.argmax(dim=1) == yb).sum()


class TorchBinaryClassifier(ClassifierMixin, TorchEstimator):
    """Base class: a torch network with two outputs as a binary classifier.

    The module returns two scores per sample (class 0, class 1: logits, or capsule lengths for
    DiseaseCapsule); the probabilities are their softmax, the decision function their
    difference, the prediction their argmax (class 0 on ties). Training minimises the
    cross-entropy by default, logs ``train_accuracy`` / ``val_accuracy`` and keeps the weights of
    the epoch with the best validation accuracy. See :class:`TorchEstimator` for seeding,
    devices, fitted attributes and the file format.

    Parameters
    ----------
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
        Per-epoch logs (keys in :mod:`genoapp.models.callbacks`).
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

    Notes
    -----
    The parameters are those of the authors' MLP and CNN (their defaults). A subclass
    implements ``_build_module(n_features)`` (and ``_check_extra_params``); it overrides
    ``_class_scores_batch`` when the module's output is not the (B, 2) scores themselves, and
    ``_init_module`` / ``_optimizer`` / ``_loss_fn`` for other training choices (as
    DiseaseCapsule does).
    """

    _module_attr = "module_"
    _monitor = "val_accuracy"
    _count_correct = staticmethod(_count_correct)
    _param_hints = {"learning_rate": "The authors used 5e-5.", "lr_decay": "The authors used 0.7.",
                    "dropout": "The authors used 0.5."}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ training choices
    def _init_module(self, module: nn.Module) -> None:
        _keras_init(module)

    def _optimizer(self, module: nn.Module):
        optimizer = torch.optim.Adam(module.parameters(), lr=float(self.learning_rate))
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(self.lr_step),
                                                    gamma=float(self.lr_decay))
        return optimizer, scheduler

    def _loss_fn(self) -> Callable:
        return F.cross_entropy

    # ------------------------------------------------------------------ data
    def _prepare_fit(self, X, y, X_val, y_val) -> FitData:
        Xa, ya = check_fit_data(self, X, y)
        Xa = np.ascontiguousarray(Xa, dtype=np.float32)
        Xv = yv = None
        if X_val is not None:
            Xv = self._check_X(X_val, "X_val", Xa.shape[1])
            yv = self._encode_y(y_val, "y_val", Xv.shape[0])
        return FitData(Xa, ya, Xv, yv)

    def _check_predict_X(self, X) -> np.ndarray:
        self._check_fitted()
        Xa = check_predict_data(self, X, fitted_attr=self._module_attr)
        return np.ascontiguousarray(Xa, dtype=np.float32)

    def _encode_y(self, y, name: str, n: int) -> np.ndarray:
        """Labels -> int64 codes 0/1 (indices into ``classes_``); only labels seen in fit."""
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr.ravel()
        if arr.ndim != 1 or arr.shape[0] != n:
            raise InputDataError(
                f"{name}: expected {n} labels (one per row of the features), got shape {arr.shape}."
            )
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise InputDataError(f"{name}: missing (NaN) labels; drop those samples first.")
        codes = np.clip(np.searchsorted(self.classes_, arr), 0, 1)
        if not np.array_equal(self.classes_[codes], arr):
            raise InputDataError(
                f"{name}: labels {np.setdiff1d(np.unique(arr), self.classes_)[:5].tolist()} were not "
                f"seen in training (classes {self.classes_.tolist()})."
            )
        return codes.astype(np.int64)

    def _extra_state(self) -> dict:
        return {"classes": _plain(self.classes_.tolist())}

    def _restore_state(self, payload: dict) -> None:
        self.classes_ = np.asarray(payload.get("classes", [0, 1]))

    # ------------------------------------------------------------------ prediction
    @staticmethod
    def _class_scores_batch(module: nn.Module, xb: torch.Tensor) -> np.ndarray:
        """The (B, 2) class scores of one batch as float32 numpy."""
        return module(xb).float().cpu().numpy()

    def _scores(self, X, batch_size: int | None = None) -> np.ndarray:
        """The (n, 2) class scores, float64."""
        Xa = self._check_predict_X(X)
        out = self._predict_batches(Xa, self._class_scores_batch, batch_size=batch_size)
        return np.concatenate(out, axis=0).astype(np.float64) if out else np.zeros((0, 2))

    def predict_proba(self, X, *, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (n, 2): softmax of the two scores (eval mode, float32 network).

        ``batch_size``: rows per forward pass (default 1024; 512 for DiseaseCapsule).
        """
        z = self._scores(X, batch_size)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def decision_function(self, X, *, batch_size: int | None = None) -> np.ndarray:
        """Case score (n,): score difference ``z_1 - z_0`` (> 0 predicts ``classes_[1]``).

        ``predict_proba(X)[:, 1] == sigmoid(decision_function(X))``; use it for ROC AUC.
        """
        z = self._scores(X, batch_size)
        return z[:, 1] - z[:, 0]

    def predict(self, X, *, batch_size: int | None = None) -> np.ndarray:
        """Predicted labels (n,) from ``classes_`` (argmax of the scores; class 0 on ties)."""
        z = self._scores(X, batch_size)
        return self.classes_[z.argmax(axis=1)]

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
        return super().fit(X, y, X_val=X_val, y_val=y_val, callbacks=callbacks)
