"""Case/control lessons on genotypes with a known (simulated) phenotype: leakage, overfitting.

Both run on a dense dosage matrix (e.g. the demo cohort: real 1000 Genomes/HapMap3 genotypes
with a disease simulated from planted genes, or a pure-noise phenotype with no genetic signal)
and are seeded.

* :func:`leakage_lesson`: the same GWAS filter + logistic regression, once with the GWAS
  (``--assoc``) run on the **training samples only** (honest) and once on **all samples**,
  test labels included (leaky, as when a published filter was run on the whole cohort before
  splitting), repeated over random balanced splits. With no genetic signal at all the honest
  protocol stays at chance while the leaky one looks predictive: the selected SNPs were chosen
  because they happen to separate the test cases from the test controls.
* :func:`distribution_lesson`: training and test samples drawn at random have the same
  distributions (PC1 of the genotypes, case fraction); a test set from a group absent from
  training (another ancestry) does not, and the model's accuracy changes with it.
* :func:`overfitting_lesson`: a multilayer perceptron on standardised dosages, with training and
  validation curves per epoch, and the knobs that fight overfitting: dropout, L2 weight decay
  (Adam's ``weight_decay``) and early stopping on the validation loss.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from genoapp.errors import ConfigError, InputDataError

__all__ = ["DistributionResult", "LeakageResult", "OverfitResult", "distribution_lesson", "leakage_lesson",
           "noise_phenotype", "overfitting_lesson"]


def _check_inputs(G, y) -> tuple[np.ndarray, np.ndarray]:
    G = np.asarray(G)
    y = np.asarray(y)
    if G.ndim != 2 or y.ndim != 1 or G.shape[0] != y.shape[0]:
        raise InputDataError(f"genotypes {G.shape} and phenotype {y.shape}: expected (n, m) and (n,).")
    if not set(np.unique(y)) <= {0, 1} or len(np.unique(y)) != 2:
        raise InputDataError("phenotype: expected 0 = control and 1 = case, with both present.")
    return G, y.astype(np.int64)


def noise_phenotype(n_samples: int, *, case_fraction: float = 0.4, random_state: int = 0) -> np.ndarray:
    """A phenotype with no genetic signal: ``round(case_fraction * n)`` random cases (int64 0/1)."""
    if not 0 < case_fraction < 1:
        raise ConfigError(f"case_fraction: must be in (0, 1), got {case_fraction!r}.")
    rng = np.random.default_rng(random_state)
    y = np.zeros(int(n_samples), dtype=np.int64)
    y[rng.choice(int(n_samples), size=int(round(case_fraction * n_samples)), replace=False)] = 1
    return y


def _assoc_p(G: np.ndarray, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """PLINK ``--assoc`` p-values of every SNP over ``rows`` (genoapp.qc, PLINK-exact)."""
    from genoapp.qc.assoc import allelic_test
    from genoapp.qc.counts import scan_dense

    groups = np.full(len(y), -1, dtype=np.int64)
    groups[rows] = y[rows]
    counts = scan_dense(G, groups=groups)
    return allelic_test(counts.group_sum([1]), counts.group_sum([0]))["P"].to_numpy()


def _standardise(G: np.ndarray, fit_rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    X = G[:, cols].astype(np.float64)
    mu = np.nanmean(X[fit_rows], axis=0)
    X = np.where(np.isnan(X), mu, X)
    sd = X[fit_rows].std(axis=0)
    return (X - mu) / np.where(sd > 0, sd, 1.0)


@dataclasses.dataclass
class LeakageResult:
    """Outcome of :func:`leakage_lesson`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per repeat and protocol: ``repeat``, ``protocol`` ("GWAS on training samples
        only" or "GWAS on all samples (leaky)"), ``n_snps`` selected, ``train_accuracy``,
        ``test_accuracy``, ``test_roc_auc``.
    summary : pandas.DataFrame
        Mean and SD of the test accuracy and AUC per protocol.
    seconds : float
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    seconds: float


HONEST = "GWAS on training samples only"
LEAKY = "GWAS on all samples (leaky)"


def leakage_lesson(G, y, *, p_threshold: float = 0.01, n_repeats: int = 5, test_size: float = 0.2,
                   C: float = 1.0, random_state: int = 0) -> LeakageResult:
    """Honest vs leaky GWAS filtering before a logistic regression, on the same splits.

    Parameters
    ----------
    G : array (n_samples, n_snps)
        A1 dosages (0/1/2), NaN = missing.
    y : array (n_samples,)
        0 = control, 1 = case.
    p_threshold : float, default 0.01
        SNPs with allelic-test p below this are kept.
    n_repeats : int, default 5
        Random balanced test splits (:func:`genoapp.train.make_split`, seeds
        ``random_state + r``).
    test_size : float, default 0.2
    C : float, default 1.0
        Inverse L2 strength of the logistic regression (scikit-learn).
    random_state : int, default 0

    Returns
    -------
    LeakageResult

    Raises
    ------
    InputDataError, ConfigError
        Bad shapes or codings; out-of-range settings.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from genoapp.train import make_split

    G, y = _check_inputs(G, y)
    if not 0 < p_threshold < 1:
        raise ConfigError(f"p_threshold: must be in (0, 1), got {p_threshold!r}.")
    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise ConfigError(f"n_repeats: must be an integer >= 1, got {n_repeats!r}.")
    t0 = time.perf_counter()
    every = np.arange(len(y))
    rows = []
    for r in range(n_repeats):
        split = make_split(y, test_size=test_size, random_state=random_state + r)
        tr, te = split.train_idx, split.test_idx
        for protocol, gwas_rows in ((HONEST, tr), (LEAKY, every)):
            p = _assoc_p(G, y, gwas_rows)
            cols = np.flatnonzero(np.nan_to_num(p, nan=1.0) < p_threshold)
            if len(cols) == 0:
                rows.append({"repeat": r, "protocol": protocol, "n_snps": 0, "train_accuracy": np.nan,
                             "test_accuracy": 0.5, "test_roc_auc": 0.5})
                continue
            X = _standardise(G, tr, cols)  # scaling on training samples in both protocols
            lr = LogisticRegression(C=C, max_iter=2000).fit(X[tr], y[tr])
            rows.append({"repeat": r, "protocol": protocol, "n_snps": int(len(cols)),
                         "train_accuracy": float(lr.score(X[tr], y[tr])),
                         "test_accuracy": float(lr.score(X[te], y[te])),
                         "test_roc_auc": float(roc_auc_score(y[te], lr.decision_function(X[te])))})
    table = pd.DataFrame(rows)
    summary = (table.groupby("protocol", sort=False)
               .agg(n_snps=("n_snps", "mean"), test_accuracy=("test_accuracy", "mean"),
                    test_accuracy_sd=("test_accuracy", "std"), test_roc_auc=("test_roc_auc", "mean"),
                    test_roc_auc_sd=("test_roc_auc", "std"))
               .reset_index())
    return LeakageResult(table=table, summary=summary, seconds=time.perf_counter() - t0)


@dataclasses.dataclass
class OverfitResult:
    """Outcome of :func:`overfitting_lesson`.

    Attributes
    ----------
    history : pandas.DataFrame
        Per epoch (:mod:`genoapp.models.callbacks` keys): ``epoch``, ``train_loss``,
        ``train_accuracy`` (during the epoch, dropout active), ``val_loss``, ``val_accuracy``
        (eval mode), ``lr``, ``seconds``.
    best_epoch : int
        Epoch with the lowest validation loss (its weights are kept and scored on the test set).
    stopped_epoch : int
        Last epoch run (earlier than ``epochs`` when early stopping ended training).
    test_accuracy, test_roc_auc : float
    gap : float
        Training minus validation accuracy at the last epoch (the overfitting gap).
    seconds : float
    """

    history: pd.DataFrame
    best_epoch: int
    stopped_epoch: int
    test_accuracy: float
    test_roc_auc: float
    gap: float
    seconds: float


def overfitting_lesson(G, y, *, hidden: int = 64, dropout: float = 0.0, weight_decay: float = 0.0,
                       epochs: int = 60, patience: int | None = None, learning_rate: float = 1e-3,
                       batch_size: int = 64, test_size: float = 0.2, validation_size: float = 0.2,
                       random_state: int = 0) -> OverfitResult:
    """Train an MLP on SNP dosages and record training vs validation curves.

    The balanced test set is set aside first (:func:`genoapp.train.make_split`); a
    validation set (``validation_size`` of the training samples, stratified) is drawn inside
    the training samples; dosages are mean-imputed and standardised with the fitting samples'
    statistics. Network: Linear(m, hidden) -> ReLU -> Dropout -> Linear(hidden, 2), Adam with
    ``weight_decay`` (L2), cross-entropy, :func:`genoapp.train.train_module` (CPU).

    Parameters
    ----------
    G : array (n_samples, n_snps)
        A1 dosages, NaN = missing.
    y : array (n_samples,)
        0 = control, 1 = case.
    hidden : int, default 64
    dropout : float, default 0.0
    weight_decay : float, default 0.0
        L2 penalty of Adam.
    epochs : int, default 60
    patience : int, optional
        Early stopping on the validation loss after this many epochs without improvement.
    learning_rate, batch_size, test_size, validation_size, random_state
        Training settings; ``random_state`` seeds the split, the initial weights and shuffling.

    Returns
    -------
    OverfitResult

    Raises
    ------
    InputDataError, ConfigError
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from genoapp.train import EarlyStopping, make_split, train_module

    G, y = _check_inputs(G, y)
    if not 0 <= dropout < 1:
        raise ConfigError(f"dropout: must be in [0, 1), got {dropout!r}.")
    if weight_decay < 0:
        raise ConfigError(f"weight_decay: must be >= 0, got {weight_decay!r}.")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ConfigError(f"patience: must be an integer >= 1 or None, got {patience!r}.")
    t0 = time.perf_counter()
    split = make_split(y, test_size=test_size, random_state=random_state)
    fit, val = train_test_split(split.train_idx, test_size=validation_size, stratify=y[split.train_idx],
                                random_state=random_state)
    X = _standardise(G, fit, np.arange(G.shape[1])).astype(np.float32)
    torch.manual_seed(random_state)
    net = nn.Sequential(nn.Linear(X.shape[1], int(hidden)), nn.ReLU(), nn.Dropout(float(dropout)),
                        nn.Linear(int(hidden), 2))
    opt = torch.optim.Adam(net.parameters(), lr=float(learning_rate), weight_decay=float(weight_decay))
    callbacks = [EarlyStopping(monitor="val_loss", patience=int(patience))] if patience else []
    res = train_module(net, torch.from_numpy(X[fit]), torch.from_numpy(y[fit]),
                       loss_fn=nn.functional.cross_entropy, optimizer=opt, epochs=int(epochs),
                       batch_size=int(batch_size), device=torch.device("cpu"),
                       X_val=torch.from_numpy(X[val]), y_val=torch.from_numpy(y[val]),
                       callbacks=callbacks, monitor="val_loss",
                       count_correct=lambda out, yb: (out.argmax(1) == yb).sum(),
                       random_state=random_state)
    hist = pd.DataFrame(res.history)
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(X[split.test_idx]))
    score = (logits[:, 1] - logits[:, 0]).numpy()
    yt = y[split.test_idx]
    last = hist.iloc[-1]
    return OverfitResult(history=hist, best_epoch=int(hist["val_loss"].idxmin()) + 1,
                         stopped_epoch=int(len(hist)),
                         test_accuracy=float(((score > 0).astype(int) == yt).mean()),
                         test_roc_auc=float(roc_auc_score(yt, score)),
                         gap=float(last["train_accuracy"] - last["val_accuracy"]),
                         seconds=time.perf_counter() - t0)


@dataclasses.dataclass
class DistributionResult:
    """Outcome of :func:`distribution_lesson`.

    Attributes
    ----------
    splits : pandas.DataFrame
        One row per split ("random", "held-out group"): ``split``, ``n_train``, ``n_test``,
        ``ks_pc1`` and ``ks_pc1_p`` (two-sample Kolmogorov-Smirnov test of PC1, training vs
        test; :func:`scipy.stats.ks_2samp`), ``case_fraction_train``, ``case_fraction_test``,
        ``test_accuracy``, ``test_roc_auc`` (honest GWAS filter + logistic regression).
    pc1 : dict of str -> dict of str -> ndarray
        PC1 scores of training and test samples for each split (PCA fitted on training samples).
    held_out : str
        The held-out group.
    seconds : float
    """

    splits: pd.DataFrame
    pc1: dict
    held_out: str
    seconds: float


def distribution_lesson(G, y, groups, *, held_out: str, p_threshold: float = 0.01, C: float = 1.0,
                        random_state: int = 0) -> DistributionResult:
    """Training vs test distributions: a random split against a test set from another group.

    Both splits are scored with the honest pipeline (GWAS on training samples, SNPs with
    p < ``p_threshold``, scaling on training samples, logistic regression). The random split
    has the same size of test set as the held-out group.

    Parameters
    ----------
    G : array (n_samples, n_snps)
        A1 dosages, NaN = missing.
    y : array (n_samples,)
        0 = control, 1 = case.
    groups : array (n_samples,)
        Group of each sample (e.g. super-population).
    held_out : str
        The group used as the test set of the second split.
    p_threshold, C, random_state
        As :func:`leakage_lesson`.

    Returns
    -------
    DistributionResult

    Raises
    ------
    InputDataError, ConfigError
        Bad shapes, or a held-out group that is absent or leaves no cases/controls for training.
    """
    from scipy.stats import ks_2samp
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    G, y = _check_inputs(G, y)
    groups = np.asarray(groups).astype(str)
    if groups.shape != y.shape:
        raise InputDataError(f"groups: {groups.shape} values for {len(y)} samples.")
    test_group = np.flatnonzero(groups == str(held_out))
    if len(test_group) == 0:
        raise ConfigError(f"held_out: group {held_out!r} not found; groups: {sorted(set(groups))}.")
    t0 = time.perf_counter()
    rng = np.random.default_rng(random_state)
    random_test = np.sort(rng.choice(len(y), size=len(test_group), replace=False))
    rows, pc1 = [], {}
    for name, te in (("random", random_test), (f"held-out {held_out}", test_group)):
        tr = np.setdiff1d(np.arange(len(y)), te)
        if len(np.unique(y[tr])) < 2 or len(np.unique(y[te])) < 2:
            raise ConfigError(f"held_out: {held_out!r} leaves only one class in training or test.")
        Xall = _standardise(G, tr, np.arange(G.shape[1]))
        pca = PCA(n_components=1, random_state=random_state).fit(Xall[tr])
        s_tr, s_te = pca.transform(Xall[tr])[:, 0], pca.transform(Xall[te])[:, 0]
        ks = ks_2samp(s_tr, s_te)
        p = _assoc_p(G, y, tr)
        cols = np.flatnonzero(np.nan_to_num(p, nan=1.0) < p_threshold)
        X = _standardise(G, tr, cols)
        lr = LogisticRegression(C=C, max_iter=2000).fit(X[tr], y[tr])
        rows.append({"split": name, "n_train": int(len(tr)), "n_test": int(len(te)),
                     "ks_pc1": float(ks.statistic), "ks_pc1_p": float(ks.pvalue),
                     "case_fraction_train": float(y[tr].mean()), "case_fraction_test": float(y[te].mean()),
                     "n_snps": int(len(cols)), "test_accuracy": float(lr.score(X[te], y[te])),
                     "test_roc_auc": float(roc_auc_score(y[te], lr.decision_function(X[te])))})
        pc1[name] = {"training": s_tr, "test": s_te}
    return DistributionResult(splits=pd.DataFrame(rows), pc1=pc1, held_out=str(held_out),
                              seconds=time.perf_counter() - t0)
