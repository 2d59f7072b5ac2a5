"""Data-parallel training of genoapp's torch models with PyTorch ``DistributedDataParallel``.

:func:`fit_ddp` trains a :class:`~genoapp.models.DiseaseCapsuleClassifier` or a
:class:`~genoapp.models.TorchMLPClassifier` (any :class:`~genoapp.models.TorchEstimator`) as one
of ``W`` processes started by ``torchrun``, each on its shard of every mini-batch, e.g.::

    torchrun --standalone --nproc_per_node 2 -m genoapp train-ddp \\
        --features features.npz --model capsule --out model.pt

It reuses the estimator's own training (:meth:`TorchEstimator.fit` and
:func:`genoapp.train.train_module`); the data-parallel parts are hooks of those:

- **Process group**: ``torch.distributed.init_process_group`` from the ``torchrun``
  environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``), with
  backend ``"nccl"`` when the model trains on CUDA (process ``LOCAL_RANK`` on GPU
  ``LOCAL_RANK``) and ``"gloo"`` on the CPU.
- **Samples**: a ``torch.utils.data.distributed.DistributedSampler`` (shuffle, seed
  ``random_state`` on every process, ``drop_last=False``, ``set_epoch`` every epoch) gives each
  process its shard of the epoch's permutation; the per-process batch is
  ``batch_size / W`` (``batch_size`` stays the global batch; it must be divisible by ``W``).
- **Gradients**: the module is wrapped in ``DistributedDataParallel``, which averages the
  gradients over the processes during ``backward`` (bucketed all-reduce overlapping the
  backward pass; PyTorch DDP documentation; Li et al. 2020, "PyTorch Distributed: Experiences
  on Accelerating Data Parallel Training", PVLDB 13(12)). The initial weights are broadcast
  from process 0.
- **Batch norm** (the MLP): with ``W > 1`` its layers are replaced, for training only, by
  layers that normalise with the statistics of the whole global batch (all-reduced over the
  processes, gradients included): ``torch.nn.SyncBatchNorm`` on CUDA and the same computation
  in genoapp on the CPU (``SyncBatchNorm`` supports GPUs only). Running statistics are
  therefore identical on all processes; the estimator keeps its own layers.
- **Logs and decisions**: the epoch's loss/accuracy sums, the validation sums (each process
  evaluates its shard ``X_val[rank::W]``) and the stop checks are all-reduced
  (``train_module(all_reduce=...)``), so every process logs the same values, keeps the same best
  epoch and stops at the same batch (early stopping decides identically everywhere).
- **Output**: process 0 writes the model with the estimator's own :meth:`save` (atomic); the
  others wait until it is written (or fail with it).

**Equality with one process.** Let ``perm`` be the epoch's permutation of the ``n`` samples,
padded (``DistributedSampler``, ``drop_last=False``) by repeating its first samples to
``W * m`` entries, ``m = ceil(n / W)``. Process ``r`` trains on ``perm[r::W]``, so its ``k``-th
batch of ``b = B / W`` samples is ``perm[r::W][k*b:(k+1)*b]``; the union over ``r`` of these
is exactly ``perm[k*B:(k+1)*B]`` (the positions ``k*W*b + r + W*j``, ``j < b``), and every
process's ``k``-th batch has the same size (also the last one). With a mean loss, DDP's
average of the ``W`` per-process gradients is therefore the gradient of the mean loss over the
global batch, i.e. the gradient one process computes on ``perm[k*B:(k+1)*B]``. In a single
process, ``reference_world_size=W`` trains on that very order (:class:`ReferenceSampler`: the
``W`` samplers' outputs interleaved, which rebuilds ``perm``) with batch ``B`` and no
communication; it equals the ``W``-process fit up to floating-point rounding (order of
summation), provided there is no dropout randomness (``dropout=0``: each process draws its own
masks) and batch norm uses the global-batch statistics (above). Without ``torchrun``,
:func:`fit_ddp` trains this way in one process (``reference_world_size`` default 1, which is
also what ``torchrun --nproc_per_node 1`` computes).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genoapp.device import resolve_device
from genoapp.errors import ConfigError, InputDataError, StorageError
from genoapp.models._torch import FitData, TorchEstimator
from genoapp.models.callbacks import Callback

__all__ = ["fit_ddp", "distributed_env", "per_process_batch_size", "ReferenceSampler",
           "read_feature_arrays", "make_estimator"]


def _model_classes() -> dict[str, type[TorchEstimator]]:
    from genoapp.models.capsnet import DiseaseCapsuleClassifier
    from genoapp.models.mlp import TorchMLPClassifier

    return {"capsule": DiseaseCapsuleClassifier, "mlp": TorchMLPClassifier}


# --------------------------------------------------------------------------------------------
# environment and batch size
# --------------------------------------------------------------------------------------------
def distributed_env() -> tuple[int, int, int] | None:
    """The process's place in a ``torchrun`` process group, from its environment.

    Returns
    -------
    (rank, world_size, local_rank) or None
        From an initialised ``torch.distributed`` group when there is one, else from the
        variables ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (default ``RANK``) that
        ``torchrun`` sets; None when ``RANK`` is not set (a plain single process).

    Raises
    ------
    ConfigError
        The variables are not integers or inconsistent (``RANK`` outside
        ``0..WORLD_SIZE-1``), or ``RANK`` is set but ``torch.distributed`` is not available.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        return rank, world, int(os.environ.get("LOCAL_RANK", rank))
    if "RANK" not in os.environ:
        return None
    try:
        rank = int(os.environ["RANK"])
        world = int(os.environ.get("WORLD_SIZE", ""))
        local = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError:
        raise ConfigError(
            "RANK / WORLD_SIZE / LOCAL_RANK: expected integers (as torchrun sets them), got "
            f"RANK={os.environ.get('RANK')!r}, WORLD_SIZE={os.environ.get('WORLD_SIZE')!r}, "
            f"LOCAL_RANK={os.environ.get('LOCAL_RANK')!r}. Start the command with torchrun, "
            "or unset RANK to train in one process.") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ConfigError(f"RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local}: need "
                          "0 <= RANK < WORLD_SIZE and LOCAL_RANK >= 0 (torchrun sets them).")
    if not dist.is_available():
        raise ConfigError(f"RANK={rank}: started as a distributed process, but this torch "
                          f"({torch.__version__}) has no torch.distributed support.")
    return rank, world, local


def per_process_batch_size(batch_size: int, world_size: int) -> int:
    """The mini-batch of one process: the global ``batch_size`` / ``world_size``.

    Parameters
    ----------
    batch_size : int
        The estimator's ``batch_size``: samples per optimisation step over all processes.
    world_size : int
        Number of processes ``W`` (>= 1).

    Returns
    -------
    int

    Raises
    ------
    ConfigError
        ``batch_size`` is not a multiple of ``world_size`` (the processes would then see
        batches of different sizes, and the averaged gradient would no longer be that of the
        global batch).
    """
    if isinstance(world_size, bool) or not isinstance(world_size, int | np.integer) \
            or world_size < 1:
        raise ConfigError(f"world size: must be a positive integer, got {world_size!r}.")
    b, w = int(batch_size), int(world_size)
    if b % w:
        lower, upper = (b // w) * w, -(-b // w) * w
        near = " or ".join(str(v) for v in (lower, upper) if v >= w)
        raise ConfigError(
            f"batch_size: {b} is not divisible by the number of processes ({w}); with "
            f"DistributedDataParallel every process takes batch_size / {w} samples per step. "
            f"Use a multiple of {w} (e.g. {near}) or another number of processes.")
    return b // w


class ReferenceSampler:
    """The sample order of ``W`` data-parallel processes, for one process.

    Yields, each epoch, the permutation that ``W`` ``DistributedSampler`` s (shuffle, seed
    ``random_state``, ``drop_last=False``) share out, padded to ``W * ceil(n / W)`` entries: the
    output of process ``r`` is this order's ``r::W`` slice, so a batch of ``W * b`` consecutive
    entries is the union of the processes' batches of ``b`` (see the module docstring). With
    ``world_size=1`` it is that of one ``DistributedSampler`` (no padding).

    Parameters
    ----------
    n_samples : int
        Number of training samples ``n``.
    world_size : int, default 1
        Number of processes ``W`` to reproduce.
    random_state : int, default 0
        The samplers' seed; epoch ``e`` (0-based) draws ``torch.randperm(n)`` seeded with
        ``random_state + e``, as ``DistributedSampler`` does.

    Examples
    --------
    >>> s = ReferenceSampler(5, world_size=2, random_state=0)
    >>> s.set_epoch(0); len(list(s))
    6
    """

    def __init__(self, n_samples: int, *, world_size: int = 1, random_state: int = 0) -> None:
        from torch.utils.data.distributed import DistributedSampler

        if isinstance(world_size, bool) or not isinstance(world_size, int | np.integer) \
                or world_size < 1:
            raise ConfigError(f"world_size: must be a positive integer, got {world_size!r}.")
        self.world_size = int(world_size)
        self._samplers = [DistributedSampler(range(int(n_samples)), num_replicas=self.world_size,
                                             rank=r, shuffle=True, seed=int(random_state),
                                             drop_last=False)
                          for r in range(self.world_size)]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's permutation (0-based), as ``DistributedSampler.set_epoch``."""
        for s in self._samplers:
            s.set_epoch(epoch)

    def __len__(self) -> int:
        return self.world_size * len(self._samplers[0])

    def __iter__(self):
        for group in zip(*self._samplers, strict=True):
            yield from group


# --------------------------------------------------------------------------------------------
# batch norm over the global batch (CPU / gloo)
# --------------------------------------------------------------------------------------------
class _AllReduceSum(torch.autograd.Function):
    """Sum over the processes; its gradient is the sum of the processes' gradients."""

    @staticmethod
    def forward(ctx, tensor, group):
        import torch.distributed as dist

        ctx.group = group
        out = tensor.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        import torch.distributed as dist

        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


class _GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the global batch (all processes).

    The CPU counterpart of ``torch.nn.SyncBatchNorm`` (GPU only): per-channel sums, sums of
    squares and counts are all-reduced (in float64) with gradients, so the forward and backward
    passes equal those of one batch norm over the union of the processes' batches. It shares
    the parameters and buffers of the layer it replaces (``from_batchnorm``). A global batch
    with one value per channel is normalised with the running statistics, as genoapp's
    ``BatchNorm*dAnySize`` layers do. In eval mode it is an ordinary batch norm.
    """

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, group=None) -> None:
        super().__init__(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        self.group = group
        if bn.affine:
            self.weight, self.bias = bn.weight, bn.bias
        if bn.track_running_stats:
            self.running_mean, self.running_var = bn.running_mean, bn.running_var
            self.num_batches_tracked = bn.num_batches_tracked
        self.train(bn.training)

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        tracked = self.running_mean is not None
        if not self.training and tracked:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        C = x.shape[1]
        dims = [0, *range(2, x.dim())]
        xd = x.double()
        local = torch.cat([xd.sum(dims), (xd * xd).sum(dims), xd.new_full((1,), x.numel() / C)])
        total = _AllReduceSum.apply(local, self.group)
        count = float(total[-1].detach())
        if count <= 1 and tracked:  # one value per channel in the whole batch
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        mean = total[:C] / count
        var = (total[C:2 * C] / count - mean * mean).clamp_min(0.0)  # biased, as BatchNorm
        if self.training and tracked:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                f = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                     else float(self.momentum))
                unbiased = var * (count / max(count - 1.0, 1.0))
                self.running_mean.mul_(1 - f).add_(mean.to(x.dtype), alpha=f)
                self.running_var.mul_(1 - f).add_(unbiased.to(x.dtype), alpha=f)
        shape = (1, C) + (1,) * (x.dim() - 2)
        inv_std = torch.rsqrt(var + self.eps)
        out = (x - mean.to(x.dtype).view(shape)) * inv_std.to(x.dtype).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def _replace_batchnorm(module: nn.Module, make) -> list:
    """Replace every batch-norm child of ``module`` (recursively) by ``make(layer)``.

    Returns the ``(parent, name, layer)`` triples needed to put the layers back.
    """
    swapped = []
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, name, make(child))
                swapped.append((parent, name, child))
    return swapped


# --------------------------------------------------------------------------------------------
# the two parallel plans (hooks of TorchEstimator._fit)
# --------------------------------------------------------------------------------------------
def _all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


class _DDPPlan:
    """One process of ``W``: DDP wrapper, DistributedSampler, validation shard, all-reduce."""

    def __init__(self, *, rank: int, world_size: int, batch_size: int, random_state: int):
        self.rank, self.world_size = int(rank), int(world_size)
        self.batch_size, self.random_state = int(batch_size), int(random_state)
        self._swapped: list = []

    def prepare(self, module: nn.Module, data: FitData, device: torch.device):
        from torch.nn.parallel import DistributedDataParallel
        from torch.utils.data.distributed import DistributedSampler

        if self.world_size > 1:
            make = (nn.SyncBatchNorm.convert_sync_batchnorm if device.type == "cuda"
                    else _GlobalBatchNorm)
            self._swapped = _replace_batchnorm(module, make)
            module.to(device)
        # no buffer broadcast before every forward pass: global-batch statistics keep them
        # equal on all processes (they are synchronised once, at construction)
        no_sync = ({"forward_sync_buffers": False}
                   if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                   else {"broadcast_buffers": False})
        net = DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None, **no_sync)
        # every process draws its own dropout masks (the weights came from process 0)
        torch.manual_seed(self.random_state + self.rank)
        sampler = DistributedSampler(range(data.X.shape[0]), num_replicas=self.world_size,
                                     rank=self.rank, shuffle=True, seed=self.random_state,
                                     drop_last=False)
        local = data
        if data.X_val is not None:
            shard = slice(self.rank, None, self.world_size)
            local = FitData(data.X, data.y, np.ascontiguousarray(data.X_val[shard]),
                            np.ascontiguousarray(data.y_val[shard]))
        return net, local, {"sampler": sampler, "all_reduce": _all_reduce_sum,
                            "batch_size": self.batch_size}

    def finish(self, net: nn.Module, module: nn.Module) -> None:
        for parent, name, layer in self._swapped:
            setattr(parent, name, layer)  # shares the trained parameters and buffers
        self._swapped = []


class _ReferencePlan:
    """One process reproducing ``W`` processes' sample order and global batches."""

    def __init__(self, *, world_size: int, random_state: int):
        self.world_size, self.random_state = int(world_size), int(random_state)

    def prepare(self, module: nn.Module, data: FitData, device: torch.device):
        torch.manual_seed(self.random_state)  # as process 0 of a DDP run
        sampler = ReferenceSampler(data.X.shape[0], world_size=self.world_size,
                                   random_state=self.random_state)
        return module, data, {"sampler": sampler}

    def finish(self, net: nn.Module, module: nn.Module) -> None:
        pass


class _PrintEpochs(Callback):
    """One line per epoch on stderr (process 0 of ``python -m genoapp train-ddp``)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream
        self.n_epochs = 0

    def on_train_begin(self, info: dict) -> None:
        self.n_epochs = int(info.get("n_epochs", 0))

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        shown = "  ".join(f"{k} {logs[k]:.4f}" for k in
                          ("train_loss", "train_accuracy", "val_loss", "val_accuracy") if k in logs)
        print(f"epoch {epoch}/{self.n_epochs}  {shown}  ({logs.get('seconds', 0.0):.1f} s)",
              file=self.stream or sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def _rank_device(device, local_rank: int) -> torch.device:
    """The device of this process: the estimator's choice, on CUDA GPU ``LOCAL_RANK``."""
    dev = resolve_device(device)
    if dev.type != "cuda":
        return dev
    n = torch.cuda.device_count()
    if local_rank >= n:
        raise ConfigError(
            f"LOCAL_RANK={local_rank}: only {n} GPU(s) are visible, one per process is needed. "
            f"Start at most {n} processes per node (torchrun --nproc_per_node {n}), or train on "
            "the CPU (device 'cpu').")
    return torch.device("cuda", local_rank)


def _save_on_rank0(estimator, out, *, rank: int, device: torch.device) -> None:
    """Process 0 saves; all processes learn whether it worked (and wait for it)."""
    import torch.distributed as dist

    error = None
    if rank == 0:
        try:
            estimator.save(out)
        except Exception as exc:  # re-raised below, after telling the other processes
            error = exc
    flag = torch.tensor([0.0 if error is None else 1.0], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.SUM)
    if error is not None:
        raise error
    if float(flag.item()) > 0:
        raise StorageError(f"{out}: process 0 could not write the model file (see its message).")


def fit_ddp(estimator: TorchEstimator, X, y, *, X_val=None, y_val=None, out=None,
            callbacks: Sequence[Callback] = (), reference_world_size: int | None = None,
            verbose: bool = False) -> TorchEstimator:
    """Train a torch estimator with ``DistributedDataParallel`` when run under ``torchrun``.

    Every process calls it with the same data and an identically configured estimator; each
    trains on its shard of every global mini-batch and DDP averages the gradients, so all
    processes end with the same weights (see the module docstring). Without ``torchrun``
    (``RANK`` not set) it trains in this one process.

    Parameters
    ----------
    estimator : TorchEstimator
        E.g. :class:`~genoapp.models.DiseaseCapsuleClassifier` or
        :class:`~genoapp.models.TorchMLPClassifier`, unfitted or not (it is refitted). Its
        ``batch_size`` is the global batch (all processes together), ``random_state`` seeds the
        weights (broadcast from process 0), the sample order (``DistributedSampler`` seed) and
        dropout (``random_state + rank``). ``device``: "auto"/"cuda" train process
        ``LOCAL_RANK`` on GPU ``LOCAL_RANK`` (backend "nccl"), "cpu" on the CPU ("gloo").
    X : array-like of shape (n, F)
        Features (e.g. Gene-PCA scores), float32 after conversion, no missing values. The
        same full array on every process.
    y : array-like of shape (n,)
        Labels, 0 = control, 1 = case (for the MLP any two labels, ``classes_[1]`` = case).
    X_val, y_val : array-like of shape (n_val, F) and (n_val,), optional
        Validation data (never the test set), the same on every process; each process
        evaluates ``X_val[rank::W]`` and the sums are all-reduced. The weights of the best epoch
        (estimator's rule) are kept.
    out : path-like, optional
        Model file written by process 0 with ``estimator.save`` (atomically) after training;
        when this function returns, on any process, the file is complete.
    callbacks : sequence of :class:`~genoapp.train.Callback`
        Passed to the training loop of this process; a stop requested on any process stops all
        of them after the same batch.
    reference_world_size : int, optional
        Single process only: train on the sample order and global batches of this many
        processes (:class:`ReferenceSampler`), without communication; equals the DDP fit with
        that many processes up to floating-point rounding when ``dropout=0``. Default 1 (the
        order of one ``DistributedSampler``).
    verbose : bool, default False
        Process 0 prints the set-up and one line per epoch on stderr.

    Returns
    -------
    TorchEstimator
        ``estimator``, fitted (identical weights on every process), in eval mode; its
        ``device`` parameter is left as it was and ``device_`` is this process's device.

    Raises
    ------
    ConfigError
        Bad hyper-parameters, ``batch_size`` not divisible by the number of processes, an
        inconsistent ``torchrun`` environment, more processes than GPUs on a node, or
        ``reference_world_size`` under ``torchrun``.
    InputDataError
        Bad training or validation data (as the estimator's ``fit``).
    StorageError
        ``out`` could not be written.

    Notes
    -----
    Process group: initialised with ``torch.distributed.init_process_group`` (``env://``)
    unless one exists already, and destroyed at the end when this function created it.

    Examples
    --------
    In ``train.py``, run with ``torchrun --standalone --nproc_per_node 2 train.py``:

    >>> clf = DiseaseCapsuleClassifier(epochs=10, batch_size=128)     # doctest: +SKIP
    >>> fit_ddp(clf, X, y, X_val=Xv, y_val=yv, out="model.pt")         # doctest: +SKIP
    """
    if not isinstance(estimator, TorchEstimator):
        raise ConfigError(
            f"fit_ddp: expected a genoapp torch estimator (e.g. DiseaseCapsuleClassifier, "
            f"TorchMLPClassifier), got {type(estimator).__name__}.")
    estimator._check_params()
    if "batch_size" not in estimator.get_params(deep=False):
        raise ConfigError(f"fit_ddp: {type(estimator).__name__} has no batch_size parameter.")
    batch_size = int(estimator.batch_size)
    seed = int(estimator.random_state)
    fit_args = dict(X_val=X_val, y_val=y_val)
    env = distributed_env()
    verbose = bool(verbose) and (env is None or env[0] == 0)

    def say(text: str) -> None:
        if verbose:
            print(text, file=sys.stderr, flush=True)

    if env is None:
        world = 1 if reference_world_size is None else reference_world_size
        if isinstance(world, bool) or not isinstance(world, int | np.integer) or world < 1:
            raise ConfigError(f"reference_world_size: must be a positive integer (the number of "
                              f"processes to imitate), got {world!r}.")
        per_process_batch_size(batch_size, world)
        say(f"train-ddp: one process (reference order of {world} process(es)), "
            f"batch {batch_size}, device {resolve_device(estimator.device)}")
        cbs = [*callbacks, _PrintEpochs()] if verbose else list(callbacks)
        estimator._fit(X, y, callbacks=cbs, **fit_args,
                       parallel=_ReferencePlan(world_size=world, random_state=seed))
        if out is not None:
            estimator.save(out)
        return estimator

    import torch.distributed as dist

    if reference_world_size is not None:
        raise ConfigError(
            "reference_world_size: only for a single process (it imitates several); under "
            "torchrun the processes themselves train data-parallel. Leave it unset.")
    rank, world, local_rank = env
    b = per_process_batch_size(batch_size, world)
    device = _rank_device(estimator.device, local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    own_group = not dist.is_initialized()
    if own_group:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    try:
        say(f"train-ddp: {world} processes, backend {dist.get_backend()}, device "
            f"{device.type}, global batch {batch_size} = {world} x {b}")
        cbs = [*callbacks, _PrintEpochs()] if verbose else list(callbacks)
        device_param = estimator.device
        estimator.device = str(device)
        try:
            estimator._fit(X, y, callbacks=cbs, **fit_args,
                           parallel=_DDPPlan(rank=rank, world_size=world, batch_size=b,
                                             random_state=seed))
        finally:
            estimator.device = device_param
        if out is not None:
            _save_on_rank0(estimator, out, rank=rank, device=device)
        if own_group:
            # every process reaches the end before any tears the group down: a process that
            # leaves first closes its gloo connections under a peer still using them, which
            # aborts that peer ("terminate called without an active exception"; seen under load)
            dist.barrier()
    finally:
        if own_group:
            dist.destroy_process_group()
    return estimator


# --------------------------------------------------------------------------------------------
# command-line helpers (python -m genoapp train-ddp)
# --------------------------------------------------------------------------------------------
_ARRAYS = ("X", "y", "X_val", "y_val")


def _read_zarr(path: Path) -> dict:
    try:
        import zarr
    except ImportError:
        raise InputDataError(
            f"{path}: a Zarr store, but the zarr package is not installed. Install it "
            "(pip install zarr) or save the arrays with numpy.savez as a .npz file.") from None
    try:
        root = zarr.open_group(str(path), mode="r")
        return {k: np.asarray(root[k][...]) for k in _ARRAYS if k in root}
    except Exception as exc:  # any unreadable store is reported the same way
        raise InputDataError(
            f"{path}: not a readable Zarr group with arrays X and y "
            f"({type(exc).__name__}: {exc}).") from exc


def read_feature_arrays(path) -> dict:
    """Read and check a feature matrix file for ``python -m genoapp train-ddp``.

    Parameters
    ----------
    path : path-like
        A ``.npz`` archive (``numpy.savez``) or, when the ``zarr`` package is installed, a Zarr
        group (a folder, e.g. ``features.zarr``), holding the arrays:

        - ``X``: (n, F) numeric (float32 after conversion), no NaN/inf; e.g. Gene-PCA scores;
        - ``y``: (n,) labels 0 = control, 1 = case;
        - ``X_val``, ``y_val`` (optional, both or neither): (n_val, F) and (n_val,) validation
          data in the same coding.

    Returns
    -------
    dict
        ``{"X", "y", "X_val", "y_val"}`` as numpy arrays (``X_val``/``y_val`` None when absent).

    Raises
    ------
    InputDataError
        Missing or unreadable file, a missing array, wrong shapes or dtypes, non-finite
        features, labels other than 0/1; the message names the file and the array.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"{path}: feature file not found. Pass --features with a .npz "
                             "file holding arrays X (n, F) and y (n,).")
    if path.is_dir() or path.suffix == ".zarr":
        arrays = _read_zarr(path)
    else:
        try:
            with np.load(path, allow_pickle=False) as f:
                if not hasattr(f, "files"):
                    raise ValueError("a single .npy array, not a .npz archive")
                arrays = {k: f[k] for k in _ARRAYS if k in f.files}
        except Exception as exc:  # any unreadable file is reported the same way
            raise InputDataError(
                f"{path}: not a readable .npz archive of numeric arrays ({type(exc).__name__}: "
                f"{exc}). Write it with numpy.savez(path, X=X, y=y).") from exc
    for key in ("X", "y"):
        if key not in arrays:
            raise InputDataError(f"{path}: no array {key!r} (found {sorted(arrays)}); the file "
                                 "needs X (n, F) features and y (n,) labels 0/1.")
    if ("X_val" in arrays) != ("y_val" in arrays):
        raise InputDataError(f"{path}: has only one of X_val and y_val; give both or neither.")
    out = {k: arrays.get(k) for k in _ARRAYS}
    n_features = None
    for xk, yk in (("X", "y"), ("X_val", "y_val")):
        Xa, ya = out[xk], out[yk]
        if Xa is None:
            continue
        if Xa.ndim != 2 or Xa.dtype.kind not in "biuf":
            raise InputDataError(f"{path}: {xk} must be a 2-D numeric matrix (samples x "
                                 f"features), got shape {Xa.shape} of dtype {Xa.dtype}.")
        if Xa.shape[0] == 0 or Xa.shape[1] == 0:
            raise InputDataError(f"{path}: {xk} is empty (shape {Xa.shape}).")
        if n_features is not None and Xa.shape[1] != n_features:
            raise InputDataError(f"{path}: {xk} has {Xa.shape[1]} columns but X has "
                                 f"{n_features}; use the same features.")
        n_features = Xa.shape[1]
        if Xa.dtype.kind == "f" and not np.isfinite(Xa).all():
            raise InputDataError(f"{path}: {xk} holds NaN or infinite values; impute them first.")
        if ya.ndim == 2 and ya.shape[1] == 1:
            ya = out[yk] = ya.ravel()
        if ya.ndim != 1 or ya.shape[0] != Xa.shape[0]:
            raise InputDataError(f"{path}: {yk} must hold one label per row of {xk} "
                                 f"({Xa.shape[0]}), got shape {ya.shape}.")
        if ya.dtype.kind not in "biuf" or not np.isin(ya, (0, 1)).all():
            found = np.unique(ya)[:5].tolist() if ya.dtype.kind in "biuf" else str(ya.dtype)
            raise InputDataError(f"{path}: {yk} labels must be 0 (control) or 1 (case); "
                                 f"found {found}.")
    return out


def make_estimator(model: str, params=None, *, random_state: int | None = None) -> TorchEstimator:
    """The estimator of ``train-ddp --model``, with hyper-parameters.

    Parameters
    ----------
    model : {"capsule", "mlp"}
        :class:`~genoapp.models.DiseaseCapsuleClassifier` or
        :class:`~genoapp.models.TorchMLPClassifier`.
    params : dict or str, optional
        Hyper-parameters (constructor arguments), or a JSON object of them.
    random_state : int, optional
        Replaces ``params["random_state"]`` (``--seed``).

    Returns
    -------
    TorchEstimator
        Unfitted; its parameters are checked when it is fitted.

    Raises
    ------
    ConfigError
        Unknown model, invalid JSON, or a parameter the model does not have.
    """
    classes = _model_classes()
    if model not in classes:
        raise ConfigError(f"model: {model!r}; allowed {sorted(classes)}.")
    if isinstance(params, str):
        try:
            params = json.loads(params) if params.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--params: not valid JSON ({exc}); write e.g. "
                              "'{\"epochs\": 5, \"batch_size\": 64}'.") from None
    params = dict(params or {}) if isinstance(params, dict) or params is None else params
    if not isinstance(params, dict):
        raise ConfigError(f"--params: expected a JSON object of hyper-parameters, got "
                          f"{type(params).__name__}.")
    if random_state is not None:
        params["random_state"] = random_state
    cls = classes[model]
    est = cls()
    valid = est.get_params(deep=False)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(f"--params: {unknown} are not parameters of {cls.__name__} "
                          f"(allowed: {sorted(valid)}).")
    return est.set_params(**params)
