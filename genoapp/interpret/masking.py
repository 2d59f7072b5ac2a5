"""Masked accuracy: the trained network with only some genes kept (DESIGN §4.4).

Keeping a gene set S means zeroing every feature of the other genes and running the trained
network (eval mode). DiseaseCapsule (Luo et al. 2023, Fig. 4b and Suppl. Fig. 1) kept the 922
core genes (test accuracy 0.760) and compared with 1,000 random sets of 922 genes (mean 0.701,
SD 0.013), and plotted accuracy against the number of random genes kept.

Many sets are scored in one pass: the hidden vector of a masked input is
``ReLU(W[:, cols_S] x[cols_S] + b)`` (or the full product minus the dropped columns when most
genes are kept), and the hidden vectors of all sets x samples are routed in batches
(:mod:`genoapp.interpret.forward`). The sets are scored in a few contiguous jobs of the current
executor (:mod:`genoapp.execution`; Dask workers under ``use_executor("local:N")``); the random
sets are drawn on the client first, so the results do not depend on where the jobs ran.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from genoapp.errors import ConfigError, InputDataError
from genoapp.interpret._jobs import executor_for, job_ranges, target_jobs
from genoapp.interpret.coupling import mean_coupling_by_label
from genoapp.interpret.forward import (
    GeneIndex,
    auto_batch_size,
    class_matrices,
    hidden_from_columns,
    lengths_from_hidden,
    net_of,
)
from genoapp.interpret.scan import _check_inputs, select_rows

__all__ = ["masked_class_scores", "one_gene_auc", "masked_metrics", "masked_coupling", "random_gene_sets",
           "NullResult", "permutation_null", "accuracy_vs_n_genes"]


def _as_sets(gene_sets, gi: GeneIndex) -> list[np.ndarray]:
    """Gene sets as a list of position arrays; accepts (S, G) bool, (S, m) int, or a list."""
    if isinstance(gene_sets, np.ndarray) and gene_sets.dtype == bool:
        if gene_sets.ndim != 2 or gene_sets.shape[1] != gi.n_genes:
            raise InputDataError(f"gene_sets: a boolean mask must have shape (n_sets, {gi.n_genes}), "
                                 f"got {gene_sets.shape}.")
        return [np.flatnonzero(row) for row in gene_sets]
    out = []
    for s in gene_sets:
        a = np.asarray(s)
        if a.dtype.kind in "iu":
            a = a.astype(np.int64).ravel()
            if a.size and (a.min() < 0 or a.max() >= gi.n_genes):
                raise InputDataError(f"gene_sets: gene positions must be in 0..{gi.n_genes - 1}.")
        else:
            a = gi.positions(a.ravel())
        out.append(np.unique(a))
    return out


def masked_class_scores(model, features, gene_sets, *, samples="test",
                        batch_size: int | None = None,
                        progress: Callable[[float, str], None] | None = None) -> np.ndarray:
    """Class-capsule lengths of inputs that keep only each gene set.

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
        Fitted (its device is used).
    features : genoapp.features.FeatureSet or FeatureTable
        The inputs the model was trained on, with their gene index and split.
    gene_sets : (S, G) bool array, (S, m) int array of gene positions, or a list of arrays of
        gene positions or gene keys
        The genes kept in each set; every other gene's features are zeroed.
    samples : {"test", "train", "all"} or array-like of int, default "test"
    batch_size : int, optional
        Inputs routed per batch (default 32 on a CPU, 8,192 on a GPU).
    progress : callable(fraction, message), optional

    Returns
    -------
    ndarray (S, n, 2) float32
        ``||v_control||, ||v_case||`` per set and sample; the predicted class is the argmax
        (control on ties, as ``DiseaseCapsuleClassifier.predict``).

    Raises
    ------
    InputDataError
        Shapes disagree, NaN features, unknown genes.
    """
    X, _, gi = select_rows(features, samples)
    return _masked_class_scores(model, X, gi, gene_sets, batch_size=batch_size, progress=progress)


def one_gene_auc(model, features, *, samples="train", batch_size: int | None = None,
                 progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """How well each gene alone lets the network tell cases from controls (one-gene-only AUC).

    For every gene g, the inputs keep only g's features (every other feature zeroed, as in the
    paper's one-gene-only scan and in :func:`masked_class_scores`), and the network's case
    score ``||v_case|| - ||v_control||`` is compared with the labels by the ROC AUC (Mann-Whitney
    U / (n_case n_control), ties counted 1/2).

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
        Fitted.
    features : genoapp.features.FeatureSet or FeatureTable
        The inputs the model was trained on, with labels, gene index and split.
    samples : {"train", "test", "all"} or array-like of int, default "train"
    batch_size : int, optional
        Inputs routed per batch (default 32 on a CPU, 8,192 on a GPU).
    progress : callable(fraction, message), optional

    Returns
    -------
    pandas.DataFrame
        One row per gene in feature order: ``gene``, ``auc`` (0.5 = the gene alone carries no
        information the network uses; > 0.5 it ranks cases above controls), ``n_case``,
        ``n_control``.

    Raises
    ------
    InputDataError
        No labels, one class only, labels not 0/1, shapes disagree, NaN features.

    Notes
    -----
    Each gene's distinct feature rows are routed once. Unlike the one-gene-only coupling
    (:func:`genoapp.interpret.gene_scan`, Luo et al. 2023),
    which moves by about 1e-4 on the demo network whatever the gene, this reads the network's
    output, the quantity it was trained to get right. :func:`genoapp.interpret.null.gene_prediction_null`
    tests it against permuted-label networks.
    """
    from scipy.stats import rankdata

    X, y, gi = select_rows(features, samples)
    if y is None:
        raise InputDataError("features: no labels; the one-gene-only AUC needs case/control labels.")
    y = _labels(y, np.shape(X)[0])
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    if n1 == 0 or n0 == 0:
        raise InputDataError("y: the samples hold one class only; the AUC needs cases and controls.")
    margin = _one_gene_margins(model, X, gi, batch_size=batch_size, progress=progress)   # (G, n)
    ranks = rankdata(margin, axis=1)
    auc = (ranks[:, y == 1].sum(axis=1) - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return pd.DataFrame({"gene": np.asarray(gi.genes, dtype=object), "auc": auc,
                         "n_case": n1, "n_control": n0})


def _one_gene_margins(model, X, gi: GeneIndex, *, batch_size=None, progress=None) -> np.ndarray:
    """``||v_case|| - ||v_control||`` (G, n) float64 of every one-gene-only input.

    Each gene's distinct feature rows are routed once (a gene of a few SNPs has a few dozen
    distinct rows among thousands of samples) and the result is copied to the samples that
    share them; the same arithmetic as :func:`masked_class_scores` (float32).
    """
    Xa = _check_inputs(model, X, gi)
    net = net_of(model)
    net.eval()
    device = next(net.parameters()).device
    n, G = Xa.shape[0], gi.n_genes
    out = np.empty((G, n), dtype=np.float64)
    bs = max(int(batch_size) if batch_size is not None else auto_batch_size(device), 4096)
    F = gi.n_features
    with torch.no_grad():
        WT = net.fc.weight.detach().T
        bias = net.fc.bias.detach()
        M = class_matrices(net) if net.routing_softmax == "input" else None
        pending, hidden, size = [], [], 0

        def flush():
            nonlocal pending, hidden, size
            if not pending:
                return
            lengths = lengths_from_hidden(net, torch.cat(hidden), M=M).double().cpu().numpy()
            d = lengths[:, 1] - lengths[:, 0]
            a = 0
            for g, inv, k in pending:
                out[g] = d[a:a + k][inv]
                a += k
            pending, hidden, size = [], [], 0

        for g in range(G):
            cols = gi.padded[g]
            cols = cols[cols < F]
            uniq, inv = np.unique(Xa[:, cols], axis=0, return_inverse=True)
            ct = torch.from_numpy(np.ascontiguousarray(cols)).to(device)
            h = torch.relu(torch.from_numpy(uniq).to(device) @ WT[ct] + bias)
            pending.append((g, inv.reshape(-1), uniq.shape[0]))
            hidden.append(h)
            size += uniq.shape[0]
            if size >= bs:
                flush()
                if progress is not None:
                    progress((g + 1) / G, f"one-gene-only inputs: {g + 1:,} of {G:,} genes")
        flush()
    return out


def _masked_class_scores(model, X, gi: GeneIndex, gene_sets, *, batch_size=None,
                         progress=None) -> np.ndarray:
    """The sets are scored in contiguous jobs of :func:`genoapp.execution.current_executor`
    (Dask workers under ``use_executor("local:N")``), cut where the in-process loop starts a
    batch of sets: the results do not depend on the execution setting."""
    Xa = _check_inputs(model, X, gi)
    net = net_of(model)
    device = next(net.parameters()).device
    sets = _as_sets(gene_sets, gi)
    n = Xa.shape[0]
    if n == 0 or not sets:
        return np.zeros((len(sets), n, net.n_classes), dtype=np.float32)
    bs = int(batch_size) if batch_size is not None else auto_batch_size(device)
    sets_per_batch = max(1, bs // n)
    ex = executor_for(device)
    ranges = job_ranges(len(sets), target_jobs(ex), align=sets_per_batch)
    done = [0]

    def report(i, _r):
        done[0] += ranges[i][1] - ranges[i][0]
        if progress is not None:
            progress(done[0] / len(sets), f"masked inputs: {done[0]:,} of {len(sets):,} gene sets")

    parts = ex.map(_masked_scores_job, [(sets[a:b], bs) for a, b in ranges], shared=(net, Xa, gi),
                   on_result=report, label="masked-sets")
    return np.concatenate(parts, axis=0)


def _masked_scores_job(item, net, Xa: np.ndarray, gi: GeneIndex) -> np.ndarray:
    """One executor job: class-capsule lengths (S_job, n, C) of a contiguous run of sets."""
    sets, bs = item
    return _scores_of_sets(net, Xa, gi, sets, bs)


def _scores_of_sets(net, Xa: np.ndarray, gi: GeneIndex, sets, bs: int) -> np.ndarray:
    """Class-capsule lengths (S, n, C) of the inputs ``Xa`` keeping only each set's genes.

    Sets are routed ``max(1, bs // n)`` at a time (their hidden vectors concatenated, routed
    in batches of ``bs``); runs in this process or on a worker.
    """
    net.eval()
    device = next(net.parameters()).device
    n = Xa.shape[0]
    out = np.zeros((len(sets), n, net.n_classes), dtype=np.float32)
    if n == 0 or not sets:
        return out
    M = class_matrices(net) if net.routing_softmax == "input" else None
    sets_per_batch = max(1, bs // n)
    with torch.no_grad():
        Xt = torch.from_numpy(np.ascontiguousarray(Xa, dtype=np.float32)).to(device)
        pre_full = None
        if any(gi.n_features_per_gene[s].sum() * 2 > gi.n_features for s in sets):
            pre_full = torch.addmm(net.fc.bias, Xt, net.fc.weight.T)
        for s0 in range(0, len(sets), sets_per_batch):
            chunk = sets[s0:s0 + sets_per_batch]
            h = torch.cat([hidden_from_columns(net, Xt, torch.from_numpy(gi.columns(s)).to(device),
                                               pre_full=pre_full)
                           for s in chunk], dim=0)
            lens = torch.cat([lengths_from_hidden(net, h[b:b + bs], M=M)
                              for b in range(0, h.shape[0], bs)], dim=0)
            out[s0:s0 + len(chunk)] = lens.view(len(chunk), n, -1).float().cpu().numpy()
    return out


def _metrics_from_predictions(pred: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Accuracy, precision, recall, F1 (zero_division 0, as genoapp.metrics) per row of pred."""
    yt = y.astype(bool)[None, :]
    p = pred.astype(bool)
    tp = (p & yt).sum(1)
    fp = (p & ~yt).sum(1)
    fn = (~p & yt).sum(1)
    tn = (~p & ~yt).sum(1)
    n = y.size
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.where(
            precision + recall > 0, precision + recall, 1.0), 0.0)
    return pd.DataFrame({"accuracy": (tp + tn) / n, "precision": precision, "recall": recall, "f1": f1})


def _labels(y, n: int) -> np.ndarray:
    lab = np.asarray(y)
    if lab.ndim != 1 or lab.shape[0] != n:
        raise InputDataError(f"y: expected {n} labels (one per row of X), got shape {lab.shape}.")
    if not np.isin(lab, (0, 1)).all():
        raise InputDataError(f"y: labels must be 0 (control) or 1 (case); found {np.unique(lab)[:5].tolist()}.")
    return lab.astype(np.int64)


def masked_metrics(model, features, gene_sets, *, samples="test",
                   batch_size: int | None = None,
                   progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """Accuracy, precision, recall and F1 of the network keeping only each gene set.

    Parameters
    ----------
    model, features, gene_sets, samples, batch_size, progress
        As :func:`masked_class_scores`; the features must carry labels.

    Returns
    -------
    pandas.DataFrame
        One row per set: ``n_genes``, ``accuracy``, ``precision``, ``recall``, ``f1``
        (definitions of :mod:`genoapp.metrics`; precision 0 when no case is predicted).
    """
    X, y, gi = select_rows(features, samples)
    return _masked_metrics(model, X, y, gi, gene_sets, batch_size=batch_size, progress=progress)


def _masked_metrics(model, X, y, gi: GeneIndex, gene_sets, *, batch_size=None,
                    progress=None) -> pd.DataFrame:
    lab = _labels(y, np.asarray(X).shape[0])
    sets = _as_sets(gene_sets, gi)
    L = _masked_class_scores(model, X, gi, sets, batch_size=batch_size, progress=progress)
    pred = L.argmax(axis=2)
    df = _metrics_from_predictions(pred, lab)
    df.insert(0, "n_genes", [len(s) for s in sets])
    return df


def masked_coupling(model, features, genes_kept, *, samples="test") -> np.ndarray:
    """Mean coupling by true label (2, K) of inputs that keep only ``genes_kept``.

    The paper's "core genes only" heatmaps (DiseaseCapsule Fig. 3, right): every feature of
    the other genes is zeroed, the network routes the masked inputs, and
    :func:`~genoapp.interpret.mean_coupling_by_label` averages ``c_kj`` over samples of true
    label j.

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
    features : genoapp.features.FeatureSet or FeatureTable
        With labels.
    genes_kept : array-like of gene keys or positions
    samples : {"test", "train", "all"} or array-like of int, default "test"

    Returns
    -------
    ndarray (2, K) float64
    """
    X, y, gi = select_rows(features, samples)
    Xa = _check_inputs(model, X, gi)
    lab = _labels(y, Xa.shape[0])
    (pos,) = _as_sets([np.asarray(genes_kept)], gi)
    Xm = np.zeros_like(Xa)
    cols = gi.columns(pos)
    Xm[:, cols] = Xa[:, cols]
    return mean_coupling_by_label(model.coupling_coefficients(Xm), lab)


def random_gene_sets(n_genes: int, size: int, n_sets: int, *, random_state: int = 0) -> np.ndarray:
    """Random gene sets drawn without replacement within each set.

    Parameters
    ----------
    n_genes : int
        Number of genes to draw from (positions 0..n_genes-1).
    size : int
        Genes per set (1..n_genes).
    n_sets : int
        Number of sets.
    random_state : int

    Returns
    -------
    ndarray (n_sets, size) int64
        Sorted gene positions per row.

    Raises
    ------
    ConfigError
        Size or count out of range.
    """
    for name, v in (("n_genes", n_genes), ("size", size), ("n_sets", n_sets)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ConfigError(f"{name}: must be a positive integer, got {v!r}.")
    if size > n_genes:
        raise ConfigError(f"size: {size} genes per set but only {n_genes} genes exist.")
    rng = np.random.default_rng(random_state)
    # argsort of uniform keys = a random permutation per row; keep the first `size`
    if n_genes * n_sets <= 50_000_000:
        keys = rng.random((n_sets, n_genes))
        sets = np.argpartition(keys, size - 1, axis=1)[:, :size] if size < n_genes else \
            np.tile(np.arange(n_genes), (n_sets, 1))
    else:
        sets = np.stack([rng.choice(n_genes, size, replace=False) for _ in range(n_sets)])
    return np.sort(sets, axis=1).astype(np.int64)


@dataclasses.dataclass
class NullResult:
    """Masked test accuracy of a gene set against random sets of the same size.

    Attributes
    ----------
    observed : dict
        ``n_genes``, ``accuracy``, ``precision``, ``recall``, ``f1`` of the tested set.
    null : pandas.DataFrame
        One row per random set (same columns).
    mean, sd : float
        Mean and SD (ddof = 1) of the null accuracies.
    z : float
        ``(observed accuracy - mean) / sd`` (NaN when sd = 0 or every null accuracy is the
        same; a computed SD of identical values can be 1e-16 instead of 0).
    p_value : float
        Empirical one-sided p-value ``(1 + #{null >= observed}) / (1 + n_sets)``.
    seconds : float
    degenerate : bool, default False
        The comparison is no test: the tested set predicts one class for every sample, every
        random set does, or the null accuracies do not vary (SD 0 or undefined). Such a result
        (e.g. accuracy 0.500 against a null of 0.500, SD 0, p = 1) says the masked network
        does not discriminate at all; show the reason instead of a null histogram.
    degenerate_reason : str, default ""
        Why, in words ("" when not degenerate).
    observed_predicted_case : float, default NaN
        Fraction of samples the tested set predicts as cases.
    null_one_class : float, default NaN
        Fraction of the random sets that predict one class for every sample.
    """

    observed: dict
    null: pd.DataFrame
    mean: float
    sd: float
    z: float
    p_value: float
    seconds: float
    degenerate: bool = False
    degenerate_reason: str = ""
    observed_predicted_case: float = float("nan")
    null_one_class: float = float("nan")

    def __post_init__(self):
        reasons = [self.degenerate_reason] if self.degenerate_reason else []
        n_sets = len(self.null)
        frac = self.observed_predicted_case
        if np.isfinite(frac) and frac in (0.0, 1.0):
            msg = f"the tested set predicts {'case' if frac == 1.0 else 'control'} for every sample"
            if msg not in reasons:
                reasons.append(msg)
        if np.isfinite(self.null_one_class) and n_sets and self.null_one_class >= 1.0:
            msg = "every random set predicts one class for every sample"
            if msg not in reasons:
                reasons.append(msg)
        acc = self.null["accuracy"].to_numpy(dtype=float) if "accuracy" in self.null else np.zeros(0)
        constant = acc.size > 1 and np.isfinite(acc).all() and float(np.ptp(acc)) == 0.0
        if n_sets > 1 and (constant or not (np.isfinite(self.sd) and self.sd > 0)):
            msg = "the null accuracies do not vary (SD 0)"
            if msg not in reasons:
                reasons.append(msg)
            self.z = float("nan")      # (observed - mean) / SD means nothing here
        if reasons:
            self.degenerate = True
            self.degenerate_reason = "; ".join(reasons)

    def summary(self, *, flags: bool = False) -> pd.DataFrame:
        """One-row table: n_genes, observed accuracy, null mean, SD, z, p, n_sets; with
        ``flags=True`` also ``degenerate`` and ``degenerate_reason``."""
        row = {"n_genes": self.observed["n_genes"], "accuracy": self.observed["accuracy"],
               "null_mean": self.mean, "null_sd": self.sd, "z": self.z,
               "p_empirical": self.p_value, "n_random_sets": len(self.null)}
        if flags:
            row.update(degenerate=bool(self.degenerate), degenerate_reason=self.degenerate_reason)
        return pd.DataFrame([row])


def permutation_null(model, features, genes_kept, *, samples="test", n_sets: int = 1000,
                     random_state: int = 0, batch_size: int | None = None,
                     progress: Callable[[float, str], None] | None = None) -> NullResult:
    """Masked accuracy of ``genes_kept`` against ``n_sets`` random sets of the same size.

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
    features : genoapp.features.FeatureSet or FeatureTable
        With labels.
    genes_kept : array-like of gene keys or positions
        E.g. the core genes.
    samples : {"test", "train", "all"} or array-like of int, default "test"
    n_sets : int, default 1000
        Random sets (paper: 1,000).
    random_state : int, default 0
    batch_size, progress
        See :func:`masked_class_scores`.

    Returns
    -------
    NullResult
        Paper (ALS, 922 core genes): 0.760 vs null mean 0.702, SD 0.013.
    """
    t0 = time.perf_counter()
    X, y, gi = select_rows(features, samples)
    (kept,) = _as_sets([np.asarray(genes_kept)], gi)
    if kept.size == 0:
        raise InputDataError("genes_kept: empty gene set; select core genes first.")
    sets = [kept, *random_gene_sets(gi.n_genes, int(kept.size), int(n_sets), random_state=random_state)]
    lab = _labels(y, np.asarray(X).shape[0])
    pred = _masked_class_scores(model, X, gi, sets, batch_size=batch_size, progress=progress).argmax(axis=2)
    df = _metrics_from_predictions(pred, lab)
    df.insert(0, "n_genes", [len(s) for s in sets])
    frac_case = pred.mean(axis=1) if pred.shape[1] else np.full(len(sets), np.nan)
    one_class = (frac_case == 0.0) | (frac_case == 1.0)
    observed = df.iloc[0].to_dict()
    observed["n_genes"] = int(observed["n_genes"])
    null = df.iloc[1:].reset_index(drop=True)
    acc = null["accuracy"].to_numpy()
    mean = float(acc.mean())
    sd = float(acc.std(ddof=1)) if acc.size > 1 else float("nan")
    z = (observed["accuracy"] - mean) / sd if sd and np.isfinite(sd) and sd > 0 else float("nan")
    p = (1 + int((acc >= observed["accuracy"]).sum())) / (1 + acc.size)
    return NullResult(observed, null, mean, sd, float(z), float(p), time.perf_counter() - t0,
                      observed_predicted_case=float(frac_case[0]),
                      null_one_class=float(one_class[1:].mean()) if len(sets) > 1 else float("nan"))


def accuracy_vs_n_genes(model, features, ranking, *, sizes, samples="test", n_random: int = 20,
                        random_state: int = 0, batch_size: int | None = None,
                        progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """Masked accuracy as a function of the number of genes kept (Suppl. Fig. 1).

    Parameters
    ----------
    model, features, samples
        As :func:`permutation_null`.
    ranking : array-like of gene keys or positions
        Genes best first (e.g. ``CoreGenes.table["gene"]``); the "top" curve keeps the first
        ``size`` of them.
    sizes : sequence of int
        Numbers of genes kept (each in 1..G).
    n_random : int, default 20
        Random sets per size (the authors: 300).
    random_state : int

    Returns
    -------
    pandas.DataFrame
        One row per set: ``kind`` ("random" or "top-ranked"), ``n_genes``, ``replicate``,
        ``accuracy``, ``precision``, ``recall``, ``f1``.
    """
    X, y, gi = select_rows(features, samples)
    rank_pos = np.asarray(ranking)
    rank_pos = rank_pos.astype(np.int64) if rank_pos.dtype.kind in "iu" else gi.positions(rank_pos)
    sizes = [int(s) for s in sizes]
    if not sizes or min(sizes) < 1 or max(sizes) > gi.n_genes:
        raise ConfigError(f"sizes: each number of genes must be in 1..{gi.n_genes}, got {sizes}.")
    if max(sizes) > rank_pos.size:
        raise ConfigError(f"sizes: the ranking holds {rank_pos.size} genes, fewer than {max(sizes)}.")
    if isinstance(n_random, bool) or not isinstance(n_random, int | np.integer) or n_random < 0:
        raise ConfigError(f"n_random: must be a non-negative integer, got {n_random!r}.")
    rows, sets = [], []
    for i, size in enumerate(sizes):
        sets.append(rank_pos[:size])
        rows.append(("top-ranked", size, 0))
        if n_random:
            for r, s in enumerate(random_gene_sets(gi.n_genes, size, int(n_random),
                                                   random_state=random_state + i)):
                sets.append(s)
                rows.append(("random", size, r))
    df = _masked_metrics(model, X, y, gi, sets, batch_size=batch_size, progress=progress)
    meta = pd.DataFrame(rows, columns=["kind", "n_genes", "replicate"])
    return pd.concat([meta, df.drop(columns="n_genes")], axis=1)
