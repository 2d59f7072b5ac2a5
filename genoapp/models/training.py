"""A generic mini-batch training loop for torch modules, with callbacks.

Used by :class:`genoapp.models.DiseaseCapsuleClassifier` and reusable by the other torch models
(the loss, the forward call and the accuracy count are injected). See
:mod:`genoapp.models.callbacks` for the callback protocol and the keys of the epoch logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from genoapp.errors import ConfigError, InputDataError
from genoapp.models.callbacks import Callback

__all__ = ["TrainResult", "train_module", "evaluate_module"]

# training sets up to this size are moved to a GPU once instead of batch by batch
_RESIDENT_BYTES = 2**30


@dataclass
class TrainResult:
    """What :func:`train_module` did.

    Attributes
    ----------
    history : list of dict
        One logs dict per completed epoch (keys in :mod:`genoapp.models.callbacks`).
    stopped_early : bool
        True when a callback stopped training before ``epochs`` epochs were completed.
    best_epoch : int or None
        1-based epoch whose weights the module holds at the end when a monitored validation
        value selected them; None when the module holds the weights of the last batch.
    epochs_completed : int
        Number of completed epochs (a stopped, partial epoch is not counted or logged).
    seconds : float
        Wall-clock seconds of the whole loop.
    """

    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None
    epochs_completed: int = 0
    seconds: float = 0.0


def _as_tensor(a, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    return torch.as_tensor(np.asarray(a))


def _default_forward(module: torch.nn.Module, xb: torch.Tensor):
    return module(xb)


def _summed(values: list, all_reduce: Callable | None, device) -> list[float]:
    """Scalar sums (0-d tensors or numbers) as floats, summed over the processes when
    ``all_reduce`` is given (one float64 tensor holds them all: one collective call)."""
    if all_reduce is None:
        return [float(v.item() if isinstance(v, torch.Tensor) else v) for v in values]
    t = torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device).reshape(())
                     for v in values])
    out = all_reduce(t)
    return [float(v) for v in (t if out is None else out).tolist()]


@torch.no_grad()
def evaluate_module(module, X, y, *, loss_fn, device, batch_size: int = 512, forward=None,
                    count_correct=None, all_reduce: Callable | None = None) -> dict:
    """Mean loss (and accuracy) of a module on a data set, in eval mode without gradients.

    Parameters
    ----------
    module : torch.nn.Module
    X : torch.Tensor or array, shape (n, ...)
        Inputs; moved to ``device`` batch by batch.
    y : torch.Tensor or array, shape (n, ...)
        Targets as ``loss_fn`` expects them.
    loss_fn : callable (output, yb) -> scalar tensor
        Mean loss over a batch.
    device : torch.device
    batch_size : int, default 512
    forward : callable (module, xb) -> output, optional
        Default ``module(xb)``.
    count_correct : callable (output, yb) -> tensor, optional
        Number of correct predictions in a batch; adds ``accuracy``.
    all_reduce : callable (tensor) -> tensor or None, optional
        Data-parallel evaluation: each process passes its own shard of the data, and this
        function sums a float64 tensor over the processes (in place, e.g.
        ``torch.distributed.all_reduce``, or returning the sum). The summed loss, correct count
        and sample count then give the same mean on every process. Every process must call it.

    Returns
    -------
    dict
        ``{"loss": float, "accuracy": float}`` (``accuracy`` only with ``count_correct``).
        The module is put back into training mode if it was in it.
    """
    forward = forward or _default_forward
    X = _as_tensor(X, "X")
    y = _as_tensor(y, "y")
    was_training = module.training
    module.eval()
    n = X.shape[0]
    total_loss = torch.zeros((), device=device, dtype=torch.float64)
    total_correct = torch.zeros((), device=device, dtype=torch.float64)
    try:
        for start in range(0, n, batch_size):
            xb = X[start:start + batch_size].to(device, non_blocking=True)
            yb = y[start:start + batch_size].to(device, non_blocking=True)
            out = forward(module, xb)
            total_loss += loss_fn(out, yb).double() * xb.shape[0]
            if count_correct is not None:
                total_correct += count_correct(out, yb).double()
    finally:
        module.train(was_training)
    total_loss, total_correct, n = _summed([total_loss, total_correct, n], all_reduce, device)
    res = {"loss": total_loss / max(n, 1)}
    if count_correct is not None:
        res["accuracy"] = total_correct / max(n, 1)
    return res


def train_module(
    module: torch.nn.Module,
    X,
    y,
    *,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batch_size: int,
    device: torch.device,
    scheduler=None,
    X_val=None,
    y_val=None,
    callbacks: Sequence[Callback] = (),
    forward: Callable | None = None,
    count_correct: Callable | None = None,
    monitor: str | None = "val_accuracy",
    random_state: int = 0,
    eval_batch_size: int = 512,
    sampler=None,
    all_reduce: Callable | None = None,
) -> TrainResult:
    """Train ``module`` with shuffled mini-batches and callbacks.

    Parameters
    ----------
    module : torch.nn.Module
        Already on ``device``; trained in place.
    X, y : torch.Tensor or array, shape (n, ...)
        Training inputs and targets. On a GPU, inputs up to 1 GiB are moved there once;
        otherwise each batch is moved to ``device``.
    loss_fn : callable (output, yb) -> scalar tensor
        Mean loss over a batch.
    optimizer : torch.optim.Optimizer
    epochs : int
        Maximum number of epochs (>= 1).
    batch_size : int
        Mini-batch size (>= 1); the last batch of an epoch may be smaller.
    device : torch.device
    scheduler : torch LR scheduler, optional
        Stepped once after every completed epoch.
    X_val, y_val : optional
        Validation data, evaluated in eval mode after every epoch (``val_loss``,
        ``val_accuracy``).
    callbacks : sequence of Callback
        See :mod:`genoapp.models.callbacks`. ``should_stop`` is checked once per batch: after
        each batch, except that the check for the last batch of an epoch comes after the epoch
        is logged and ``on_epoch_end`` has run (so a callback may decide there). A stop seen
        in the middle of an epoch abandons the rest of that epoch, which is not logged.
    forward : callable (module, xb) -> output, optional
        Default ``module(xb)``.
    count_correct : callable (output, yb) -> tensor, optional
        Number of correct predictions of a batch; enables the ``*_accuracy`` keys.
    monitor : {"val_accuracy", "val_loss", None}, default "val_accuracy"
        With validation data, the weights of the epoch with the best value (highest accuracy,
        lowest loss; the earliest on ties) are restored at the end. None, or no validation
        data: the module keeps the weights of the last batch.
    random_state : int, default 0
        Seed of the shuffling generator (a private ``torch.Generator``; global RNG untouched
        here, though dropout draws from the global torch RNG).
    eval_batch_size : int, default 512
        Batch size for validation.
    sampler : iterable of int, optional
        The sample order of every epoch instead of the default shuffle (a
        ``torch.randperm`` from the private generator): the indices into ``X`` that this
        process trains on, in batch order, e.g. a
        ``torch.utils.data.distributed.DistributedSampler`` (this process's shard). When it has
        ``set_epoch``, ``sampler.set_epoch(epoch - 1)`` is called before each epoch (0-based, as
        in PyTorch). ``random_state`` is then unused. Every epoch must yield the same number of
        indices. ``train_loss`` / ``train_accuracy`` are means over the indices drawn (a
        padded ``DistributedSampler`` counts its repeated samples).
    all_reduce : callable (tensor) -> tensor or None, optional
        Data-parallel training (:mod:`genoapp.models.ddp`): a function summing a float64
        tensor over all processes (in place, like ``torch.distributed.all_reduce``, or
        returning the sum). With it, the epoch's loss and accuracy sums, the validation sums
        (each process passes its own validation shard) and every ``should_stop`` check are
        combined over the processes, so every process logs the same values, selects the same
        best epoch and stops at the same batch (a stop on any process stops all). The module
        is then the ``DistributedDataParallel`` wrapper, which averages the gradients. Every
        process must call ``train_module`` with the same number of batches per epoch. Without
        it (default) nothing is communicated.

    Returns
    -------
    TrainResult

    Raises
    ------
    InputDataError
        ``X`` and ``y`` differ in length or are empty.
    ConfigError
        Bad ``epochs``, ``batch_size`` or ``monitor``, or ``monitor="val_accuracy"`` without
        ``count_correct``.
    """
    if not isinstance(epochs, int | np.integer) or epochs < 1:
        raise ConfigError(f"epochs: must be an integer >= 1, got {epochs!r}.")
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ConfigError(f"batch_size: must be an integer >= 1, got {batch_size!r}.")
    if monitor not in (None, "val_accuracy", "val_loss"):
        raise ConfigError(
            f"monitor: must be 'val_accuracy', 'val_loss' or None, got {monitor!r}."
        )
    if monitor == "val_accuracy" and count_correct is None:
        raise ConfigError("monitor='val_accuracy' needs count_correct (a classification task).")
    forward = forward or _default_forward
    X = _as_tensor(X, "X")
    y = _as_tensor(y, "y")
    has_val = X_val is not None and y_val is not None
    if has_val:
        X_val = _as_tensor(X_val, "X_val")
        y_val = _as_tensor(y_val, "y_val")
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise InputDataError(
            f"X, y: need the same, non-zero number of samples; got {X.shape[0]} inputs and "
            f"{y.shape[0]} targets."
        )
    if device.type != "cpu" and X.element_size() * X.nelement() <= _RESIDENT_BYTES:
        # small enough: keep the training set on the accelerator, no per-batch copies
        X, y = X.to(device), y.to(device)
    callbacks = list(callbacks)
    n = int(X.shape[0])
    n_batches = -(-(n if sampler is None else len(sampler)) // int(batch_size))
    gen = torch.Generator().manual_seed(int(random_state))

    info = {
        "n_epochs": int(epochs),
        "n_train": n,
        "n_val": int(X_val.shape[0]) if has_val else 0,
        "n_features": int(np.prod(X.shape[1:])) if X.ndim > 1 else 1,
        "batch_size": int(batch_size),
        "n_batches": n_batches,
        "device": str(device),
        "model": type(getattr(module, "module", module)
                      if isinstance(module, torch.nn.parallel.DistributedDataParallel)
                      else module).__name__,
    }
    for cb in callbacks:
        cb.on_train_begin(info)

    def stop_requested() -> bool:
        stop = any(cb.should_stop() for cb in callbacks)
        if all_reduce is not None:  # a stop on any process stops them all at the same batch
            stop = _summed([float(stop)], all_reduce, device)[0] > 0
        return stop

    result = TrainResult()
    best_value = None
    best_state = None
    t_start = time.perf_counter()
    stop = False
    module.train()
    for epoch in range(1, int(epochs) + 1):
        t_epoch = time.perf_counter()
        lr = float(optimizer.param_groups[0]["lr"])
        if sampler is None:
            perm = torch.randperm(n, generator=gen).to(X.device)
        else:
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch - 1)
            perm = torch.as_tensor(list(sampler), dtype=torch.int64).to(X.device)
        n_seen = int(perm.numel())
        run_loss = torch.zeros((), device=device, dtype=torch.float64)
        run_correct = torch.zeros((), device=device, dtype=torch.float64)
        completed = True
        for b in range(n_batches):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            xb = X[idx].to(device, non_blocking=True)
            yb = y[idx].to(device, non_blocking=True)
            out = forward(module, xb)
            loss = loss_fn(out, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            run_loss += loss.detach().double() * idx.numel()
            if count_correct is not None:
                with torch.no_grad():
                    run_correct += count_correct(out.detach() if isinstance(out, torch.Tensor)
                                                 else out, yb).double()
            if b < n_batches - 1 and stop_requested():
                completed = False
                break
        if not completed:
            stop = True
            break
        # sums over all processes with all_reduce; plain floats either way
        sum_loss, sum_correct, n_seen = _summed([run_loss, run_correct, n_seen], all_reduce,
                                                device)
        logs = {"epoch": epoch, "train_loss": sum_loss / n_seen}
        if count_correct is not None:
            logs["train_accuracy"] = sum_correct / n_seen
        if has_val:
            ev = evaluate_module(module, X_val, y_val, loss_fn=loss_fn, device=device,
                                 batch_size=eval_batch_size, forward=forward,
                                 count_correct=count_correct, all_reduce=all_reduce)
            logs["val_loss"] = ev["loss"]
            if count_correct is not None:
                logs["val_accuracy"] = ev["accuracy"]
        logs["lr"] = lr
        if scheduler is not None:
            scheduler.step()
        logs["seconds"] = time.perf_counter() - t_epoch
        result.history.append(logs)
        result.epochs_completed = epoch
        if has_val and monitor is not None:
            value = logs[monitor]
            better = (best_value is None
                      or (value > best_value if monitor == "val_accuracy" else value < best_value))
            if better:
                best_value = value
                result.best_epoch = epoch
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        for cb in callbacks:
            cb.on_epoch_end(epoch, dict(logs))
        if stop_requested():
            stop = stop or epoch < int(epochs)
            break
    result.stopped_early = bool(stop and result.epochs_completed < int(epochs))
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        result.best_epoch = None
    module.eval()
    result.seconds = time.perf_counter() - t_start
    end_logs = {
        "epochs_completed": result.epochs_completed,
        "stopped_early": result.stopped_early,
        "best_epoch": result.best_epoch,
        "seconds": result.seconds,
    }
    for cb in callbacks:
        cb.on_train_end(end_logs)
    return result
