"""Which sequence positions drive a model's prediction: gradient saliency and in-silico mutagenesis.

For a model ``f`` mapping one-hot sequences ``x`` of shape (L, 4) (A, C, G, T) to a phenotype:

* **Gradient saliency** (Simonyan, Vedaldi & Zisserman 2014, "Deep inside convolutional
  networks"): ``s_p = mean_i mean_b |df(x_i)/dx_{p,b}|``, the mean absolute gradient over the
  one-hot axis, averaged over sequences (the thesis averaged it over training sequences).
* **In-silico mutagenesis** (ISM; Alipanahi et al. 2015, DeepBind; Zhou & Troyanskaya 2015,
  DeepSEA): every position of every sequence set to each of the 3 other nucleotides,
  ``delta[i, p, b] = f(x_i with p <- b) - f(x_i)`` (0 for the sequence's own nucleotide).
  Position score ``m_p = mean_i (1/3) sum_b |delta[i, p, b]|``. Costs ``3 L`` forward passes
  per sequence, so it is usually run on a subset of sequences.
* **Logo matrix**: ``M[p, b] = mean_i f(x_i with p <- b)`` centred over the 4 nucleotides, the
  model's average effect of each nucleotide at each position (what a sequence logo draws).
* **Recovery**: how many known causal positions are among the top-k by a score, against the
  expectation ``k * n_causal / L`` of a random ranking and the hypergeometric tail p-value.

``model`` is a torch module taking (B, L, 4) float and returning (B,) or (B, 1), or a fitted
estimator holding one in ``model_`` (e.g. :class:`genoapp.models.seqcnn.SequenceCNNRegressor`).
The module is evaluated in eval mode (no dropout) on the device of its parameters; its mode is
restored afterwards.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch
from scipy import stats

from genoapp.errors import ConfigError, InputDataError

__all__ = [
    "input_gradients",
    "position_saliency",
    "in_silico_mutagenesis",
    "ism_position_scores",
    "ism_logo_matrix",
    "top_positions",
    "causal_recovery",
    "position_table",
]


def _module(model) -> torch.nn.Module:
    module = getattr(model, "model_", model)
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(
            f"model: expected a torch module or a fitted estimator with a 'model_' module, got "
            f"{type(model).__name__}."
        )
    return module


def _device(module: torch.nn.Module) -> torch.device:
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@contextlib.contextmanager
def _eval_mode(module: torch.nn.Module):
    was = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was)


def _check_X(X, *, one_hot: bool = False) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.ndim != 3 or arr.shape[2] != 4 or arr.shape[0] == 0:
        raise InputDataError(
            f"X: expected one-hot sequences of shape (n, L, 4) with n >= 1, got {arr.shape}."
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if one_hot and not (np.isin(arr, (0.0, 1.0)).all() and (arr.sum(-1) == 1).all()):
        raise InputDataError(
            "X: in-silico mutagenesis needs exact one-hot sequences (one 1 per position); "
            "encode them with genoapp.learn.one_hot."
        )
    return arr


def _forward(module, xb):
    out = module(xb)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 1:
        raise ConfigError(
            f"model: must return one value per sequence, shape (B,) or (B, 1); got "
            f"{tuple(out.shape)}."
        )
    return out


def input_gradients(model, X, *, batch_size: int = 256) -> np.ndarray:
    """Gradients of the prediction with respect to the one-hot input.

    Parameters
    ----------
    model : torch.nn.Module or fitted estimator with ``model_``
    X : array-like (n, L, 4)
        One-hot sequences.
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray
        Shape (n, L, 4), float32: ``df(x_i)/dx_{p,b}`` (eval mode).
    """
    module = _module(model)
    Xa = _check_X(X)
    device = _device(module)
    out = []
    with _eval_mode(module):
        for s in range(0, Xa.shape[0], int(batch_size)):
            xb = torch.from_numpy(Xa[s:s + batch_size]).to(device).requires_grad_(True)
            (grad,) = torch.autograd.grad(_forward(module, xb).sum(), xb)
            out.append(grad.detach().cpu().numpy())
    return np.concatenate(out, axis=0)


def position_saliency(model, X, *, batch_size: int = 256) -> np.ndarray:
    """Gradient saliency per position: mean over sequences of mean_b |df/dx_{p,b}|.

    Parameters
    ----------
    model : torch.nn.Module or fitted estimator with ``model_``
    X : array-like (n, L, 4)
        One-hot sequences (the lesson uses the training sequences, as the thesis did).
    batch_size : int, default 256

    Returns
    -------
    numpy.ndarray
        Shape (L,), float64, >= 0 (units of the prediction per unit of input).
    """
    module = _module(model)
    Xa = _check_X(X)
    device = _device(module)
    total = np.zeros(Xa.shape[1], dtype=np.float64)
    with _eval_mode(module):
        for s in range(0, Xa.shape[0], int(batch_size)):
            xb = torch.from_numpy(Xa[s:s + batch_size]).to(device).requires_grad_(True)
            (grad,) = torch.autograd.grad(_forward(module, xb).sum(), xb)
            total += grad.abs().mean(dim=2).sum(dim=0).double().cpu().numpy()
    return total / Xa.shape[0]


@torch.no_grad()
def in_silico_mutagenesis(model, X, *, batch_size: int = 2048, fast: bool = True) -> np.ndarray:
    """Effect on the prediction of every single-nucleotide substitution.

    Parameters
    ----------
    model : torch.nn.Module or fitted estimator with ``model_``
    X : array-like (n, L, 4)
        Exact one-hot sequences.
    batch_size : int, default 2048
        Mutant sequences per forward pass (at least the 3 L mutants of one sequence are
        evaluated together).
    fast : bool, default True
        Use the module's exact local computation ``mutation_effects(x)`` when it has one
        (:class:`genoapp.models.seqcnn.SequenceCNN` does: only the convolution windows a
        substitution touches are recomputed); False evaluates every mutant sequence.

    Returns
    -------
    numpy.ndarray
        Shape (n, L, 4), float64: ``delta[i, p, b] = f(x_i with p <- b) - f(x_i)``; 0 where
        ``b`` is the sequence's own nucleotide. Cost: ``n (3 L + 1)`` forward passes.

    Raises
    ------
    InputDataError
        ``X`` not one-hot.
    """
    module = _module(model)
    Xa = _check_X(X, one_hot=True)
    n, L, _ = Xa.shape
    device = _device(module)
    per_seq = 3 * L
    chunk = max(1, int(batch_size) // per_seq)
    delta = np.zeros((n, L, 4), dtype=np.float64)
    pos = torch.arange(per_seq, device=device) // 3
    shift = torch.arange(per_seq, device=device) % 3 + 1
    eye = torch.eye(4, device=device)
    with _eval_mode(module):
        if fast and callable(getattr(module, "mutation_effects", None)):
            for s in range(0, n, 64):
                xb = torch.from_numpy(Xa[s:s + 64]).to(device)
                delta[s:s + xb.shape[0]] = module.mutation_effects(xb).double().cpu().numpy()
            return delta
        for s in range(0, n, chunk):
            xb = torch.from_numpy(Xa[s:s + chunk]).to(device)  # (c, L, 4)
            c = xb.shape[0]
            base = _forward(module, xb)  # (c,)
            own = xb.argmax(dim=2)  # (c, L)
            alt = (own[:, pos] + shift) % 4  # (c, 3L): nucleotide of each mutant
            mut = xb.unsqueeze(1).repeat(1, per_seq, 1, 1)  # (c, 3L, L, 4)
            mut[:, torch.arange(per_seq, device=device), pos] = eye[alt]
            pred = _forward(module, mut.reshape(c * per_seq, L, 4)).reshape(c, per_seq)
            d = (pred - base[:, None]).double().cpu().numpy()
            rows = np.repeat(np.arange(c), per_seq)
            delta[s + rows, np.tile(pos.cpu().numpy(), c), alt.cpu().numpy().ravel()] = d.ravel()
    return delta


def ism_position_scores(delta) -> np.ndarray:
    """ISM score per position: mean over sequences of the mean |delta| over the 3 substitutions.

    Parameters
    ----------
    delta : array-like (n, L, 4)
        Output of :func:`in_silico_mutagenesis` (0 at each sequence's own nucleotide).

    Returns
    -------
    numpy.ndarray
        Shape (L,), float64, >= 0, in the units of the prediction.
    """
    d = np.asarray(delta, dtype=np.float64)
    if d.ndim != 3 or d.shape[2] != 4:
        raise InputDataError(f"delta: expected shape (n, L, 4), got {d.shape}.")
    return np.abs(d).sum(axis=2).mean(axis=0) / 3.0


def ism_logo_matrix(delta) -> np.ndarray:
    """Average effect of each nucleotide at each position, centred over the 4 nucleotides.

    ``M[p, b] = mean_i delta[i, p, b] - mean_b' mean_i delta[i, p, b']``, which equals
    ``mean_i f(x_i with p <- b)`` centred: the baseline ``f(x_i)`` cancels.

    Parameters
    ----------
    delta : array-like (n, L, 4)
        Output of :func:`in_silico_mutagenesis`.

    Returns
    -------
    numpy.ndarray
        Shape (L, 4), float64, each row sums to 0 (columns A, C, G, T).
    """
    d = np.asarray(delta, dtype=np.float64)
    if d.ndim != 3 or d.shape[2] != 4:
        raise InputDataError(f"delta: expected shape (n, L, 4), got {d.shape}.")
    m = d.mean(axis=0)
    return m - m.mean(axis=1, keepdims=True)


def top_positions(scores, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, highest first (ties: lower position first).

    Parameters
    ----------
    scores : array-like (L,)
    k : int
        1 <= k; clipped to L.

    Returns
    -------
    numpy.ndarray
        Shape (min(k, L),), int64.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise InputDataError(f"scores: expected a 1-D array (one score per position), got {s.shape}.")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k: must be a positive integer, got {k!r}.")
    return np.argsort(-s, kind="stable")[: int(k)].astype(np.int64)


def causal_recovery(scores, causal, *, k: int | None = None) -> dict:
    """How many known causal positions are among the top-``k`` positions by ``scores``.

    Parameters
    ----------
    scores : array-like (L,)
        One score per position (higher = more important).
    causal : array-like of int
        Known causal positions (0-based, distinct, < L).
    k : int, optional
        Number of top positions; default ``len(causal)``.

    Returns
    -------
    dict
        ``k``, ``n_causal``, ``length`` (L), ``hits`` (causal positions in the top k),
        ``expected`` (``k * n_causal / L``, a random ranking's mean), ``p_value``
        (hypergeometric P(hits >= observed) under a random ranking, ``scipy.stats.hypergeom``),
        ``top`` (the top-k positions, list) and ``found`` (the causal ones among them).
    """
    s = np.asarray(scores, dtype=np.float64)
    c = np.unique(np.asarray(causal, dtype=np.int64))
    L = s.shape[0]
    if c.size == 0 or c.min() < 0 or c.max() >= L:
        raise InputDataError(
            f"causal: need at least one position in [0, {L - 1}], got {np.asarray(causal).tolist()[:10]}."
        )
    k = int(c.size) if k is None else k
    top = top_positions(s, k)
    found = np.intersect1d(top, c)
    hits = int(found.size)
    return {
        "k": int(top.size),
        "n_causal": int(c.size),
        "length": int(L),
        "hits": hits,
        "expected": float(top.size * c.size / L),
        "p_value": float(stats.hypergeom.sf(hits - 1, L, c.size, top.size)),
        "top": top.tolist(),
        "found": [int(v) for v in top if v in set(found.tolist())],
    }


def position_table(saliency, ism=None, *, reference: str | None = None, causal=None,
                   top: int = 20) -> pd.DataFrame:
    """Top positions by saliency with both scores and ranks, for display and CSV export.

    Parameters
    ----------
    saliency : array-like (L,)
    ism : array-like (L,), optional
        ISM position scores.
    reference : str, optional
        Reference (or consensus) sequence, to show its nucleotide.
    causal : array-like of int, optional
        Known causal positions, to flag them.
    top : int, default 20

    Returns
    -------
    pandas.DataFrame
        The union of the top ``top`` positions by saliency and by ISM (sorted by saliency rank):
        ``position``, ``reference``, ``saliency``, ``saliency_rank`` (1 = highest),
        ``ism``, ``ism_rank``, ``causal`` (columns present when their input is given).
    """
    s = np.asarray(saliency, dtype=np.float64)
    L = s.size
    rank_s = np.empty(L, dtype=np.int64)
    rank_s[np.argsort(-s, kind="stable")] = np.arange(1, L + 1)
    chosen = set(top_positions(s, top).tolist())
    df = pd.DataFrame({"position": np.arange(L)})
    if reference is not None:
        df["reference"] = list(reference)
    df["saliency"] = s
    df["saliency_rank"] = rank_s
    if ism is not None:
        m = np.asarray(ism, dtype=np.float64)
        rank_m = np.empty(L, dtype=np.int64)
        rank_m[np.argsort(-m, kind="stable")] = np.arange(1, L + 1)
        df["ism"] = m
        df["ism_rank"] = rank_m
        chosen |= set(top_positions(m, top).tolist())
    if causal is not None:
        df["causal"] = np.isin(df["position"], np.asarray(causal, dtype=np.int64))
    return df.loc[sorted(chosen, key=lambda p: rank_s[p])].reset_index(drop=True)

