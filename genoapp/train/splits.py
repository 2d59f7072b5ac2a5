"""Sample splits for case/control training (DiseaseCapsule protocol, DESIGN §4.3).

- :func:`balanced_test_split`: a held-out test set with as many cases as controls.
- :func:`upsample_minority`: the training indices with the minority class drawn with
  replacement until both classes are equally frequent (the authors upsampled the cases).
- :func:`balanced_kfold`: k disjoint validation folds, each balanced 1:1, for hyper-parameter
  selection inside the training set (the test set is never used for model selection).
- :func:`make_split` / :class:`Split`: the balanced test split of a case/control cohort, drawn
  before anything is fitted.
- :class:`OuterFold` and :func:`holdout_folds`, :func:`repeated_kfold`, :func:`folds_from_labels`:
  the outer splits of the evaluation protocol (:mod:`genoapp.workflows.protocol`): one fixed
  test split repeated over seeds (case/control), or repeated k-fold cross-validation
  (quantitative traits).

All functions take labels ``y`` coded 0 = control, 1 = case, return sorted ``int64`` index
arrays into ``y`` and never modify their inputs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError

__all__ = ["balanced_test_split", "upsample_minority", "balanced_kfold", "Split", "make_split",
           "OuterFold", "holdout_folds", "repeated_kfold", "folds_from_labels"]


def _check_labels(y, name: str = "y") -> np.ndarray:
    """Return ``y`` as a 1-D int64 array of 0/1, or raise InputDataError."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InputDataError(
            f"{name}: expected a 1-D array of case/control labels, got shape {arr.shape}. "
            "Pass one label per sample (0 = control, 1 = case)."
        )
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise InputDataError(
            f"{name}: expected numeric labels 0/1, got dtype {arr.dtype}. Recode the phenotype "
            "as 0 = control, 1 = case (PLINK's 1/2 coding: subtract 1)."
        )
    if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
        raise InputDataError(
            f"{name}: {int(np.isnan(arr).sum())} missing (NaN) label(s). Drop the samples "
            "without a phenotype before splitting."
        )
    bad = ~np.isin(arr, (0, 1))
    if bad.any():
        found = np.unique(arr[bad])[:5].tolist()
        raise InputDataError(
            f"{name}: labels must be 0 (control) or 1 (case); found {found}"
            f"{' ...' if np.unique(arr[bad]).size > 5 else ''}. Recode the phenotype "
            "(PLINK's 1/2 coding: subtract 1)."
        )
    return arr.astype(np.int64)


def _check_indices(idx, n: int, name: str) -> np.ndarray:
    arr = np.asarray(idx)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise InputDataError(
            f"{name}: expected a 1-D array of integer sample indices, got shape {arr.shape} "
            f"and dtype {arr.dtype}."
        )
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise InputDataError(
            f"{name}: indices must lie in 0..{n - 1} (len(y) = {n}); found range "
            f"{arr.min()}..{arr.max()}. Pass indices into the same label array."
        )
    return arr


def _check_random_state(random_state):
    if random_state is not None and not isinstance(
        random_state, int | np.integer | np.random.Generator
    ):
        raise ConfigError(
            f"random_state: expected an int, None or a numpy Generator, got "
            f"{type(random_state).__name__}."
        )
    return np.random.default_rng(random_state)


def balanced_test_split(y, *, test_size: float = 0.1, random_state=0):
    """Hold out a test set with equal numbers of cases and controls.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, 0 = control, 1 = case (bool accepted). No missing values.
    test_size : float, default 0.1
        Target fraction of all samples in the test set, 0 < test_size < 1.
    random_state : int, numpy Generator or None, default 0
        Seed of ``numpy.random.default_rng``; the same seed gives the same split.

    Returns
    -------
    train_idx, test_idx : ndarray of int64
        Sorted, disjoint indices into ``y`` that together cover all samples. The test set
        holds ``n_per_class`` cases and ``n_per_class`` controls, drawn without replacement,
        where ``n_per_class = round(test_size * n / 2)`` (halves rounded up), capped at
        ``n_min // 2`` (``n_min`` = size of the smaller class) so that at least half of the
        minority class stays in training, and at least 1.

    Raises
    ------
    InputDataError
        Labels not 1-D 0/1 (NaN, other codes), or a class with fewer than 2 samples.
    ConfigError
        ``test_size`` outside (0, 1).

    Notes
    -----
    The DiseaseCapsule paper held out 10 % of the samples balanced 1:1 (its
    ``preprocess/split_dataset.py``); a balanced test set makes accuracy comparable to 0.5.
    """
    labels = _check_labels(y)
    if not isinstance(test_size, int | float | np.number) or not 0.0 < float(test_size) < 1.0:
        raise ConfigError(
            f"test_size: must be a fraction strictly between 0 and 1, got {test_size!r}. "
            "The paper used 0.1."
        )
    rng = _check_random_state(random_state)
    n = labels.size
    idx_by_class = [np.flatnonzero(labels == k) for k in (0, 1)]
    counts = [a.size for a in idx_by_class]
    if min(counts) < 2:
        raise InputDataError(
            f"y: a balanced test split needs at least 2 samples of each class; found "
            f"{counts[0]} control(s) and {counts[1]} case(s). Add samples of the rarer class "
            "or check the phenotype coding."
        )
    n_per_class = int(np.floor(float(test_size) * n / 2.0 + 0.5))
    n_per_class = max(1, min(n_per_class, min(counts) // 2))
    test = np.concatenate(
        [rng.choice(a, size=n_per_class, replace=False) for a in idx_by_class]
    )
    test.sort()
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask).astype(np.int64), test.astype(np.int64)


def upsample_minority(train_idx, y, *, random_state=0):
    """Balance the training set 1:1 by drawing minority-class samples with replacement.

    Parameters
    ----------
    train_idx : array-like of int, shape (m,)
        Indices into ``y`` of the training samples, without duplicates. Test or validation
        indices must not be passed: only these indices are ever returned.
    y : array-like of shape (n,)
        Labels of all samples, 0 = control, 1 = case.
    random_state : int, numpy Generator or None, default 0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    ndarray of int64, shape (2 * n_major,)
        Sorted indices: every training index once, plus ``n_major - n_minor`` indices of the
        minority class drawn uniformly with replacement from the training minority samples,
        so that both classes occur ``n_major`` times. Equals sorted ``train_idx`` when the
        classes are already balanced.

    Raises
    ------
    InputDataError
        Bad labels, indices out of range, duplicated ``train_idx`` (already upsampled?), or a
        class absent from the training samples.

    Notes
    -----
    As the DiseaseCapsule authors did for the ALS cases (``numpy.random.choice`` with
    replacement). Upsample after splitting, never before, or copies of a sample leak into
    the test set.
    """
    labels = _check_labels(y)
    idx = _check_indices(train_idx, labels.size, "train_idx")
    if np.unique(idx).size != idx.size:
        raise InputDataError(
            f"train_idx: {idx.size - np.unique(idx).size} duplicated index(es); pass each "
            "training sample once (was the set already upsampled?)."
        )
    rng = _check_random_state(random_state)
    lab = labels[idx]
    counts = np.bincount(lab, minlength=2)
    if counts.min() == 0:
        raise InputDataError(
            f"train_idx: the training samples hold {counts[0]} control(s) and {counts[1]} "
            "case(s); both classes are needed to upsample. Check the split and the labels."
        )
    minority = int(np.argmin(counts))
    n_extra = int(counts.max() - counts.min())
    extra = rng.choice(idx[lab == minority], size=n_extra, replace=True)
    out = np.concatenate([idx, extra.astype(np.int64)])
    out.sort()
    return out


def balanced_kfold(train_idx, y, *, n_splits: int = 5, random_state=0):
    """Disjoint validation folds balanced 1:1 inside the training samples.

    Parameters
    ----------
    train_idx : array-like of int, shape (m,)
        Indices into ``y`` of the samples available for model selection (never the test set).
    y : array-like of shape (n,)
        Labels of all samples, 0 = control, 1 = case.
    n_splits : int, default 5
        Number of folds, at least 2.
    random_state : int, numpy Generator or None, default 0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    list of (fit_idx, val_idx)
        ``n_splits`` pairs of sorted int64 index arrays. Each ``val_idx`` holds
        ``n_min // n_splits`` cases and as many controls (``n_min`` = size of the smaller class
        in ``train_idx``); the validation folds are pairwise disjoint; ``fit_idx`` is
        ``train_idx`` minus ``val_idx`` (upsample it with :func:`upsample_minority`). Samples of
        the larger class beyond ``n_splits * n_per_fold`` are never validated on.

    Raises
    ------
    InputDataError
        Bad labels or indices, or fewer than ``n_splits`` samples of a class.
    ConfigError
        ``n_splits`` < 2.

    Notes
    -----
    Follows the authors' ``split_dataset.py`` (equal numbers of cases and controls drawn per
    validation fold, the rest upsampled for training).
    """
    labels = _check_labels(y)
    idx = np.unique(_check_indices(train_idx, labels.size, "train_idx"))
    if not isinstance(n_splits, int | np.integer) or n_splits < 2:
        raise ConfigError(f"n_splits: must be an integer >= 2, got {n_splits!r}. Use 5.")
    rng = _check_random_state(random_state)
    per_class = [rng.permutation(idx[labels[idx] == k]) for k in (0, 1)]
    n_min = min(a.size for a in per_class)
    n_per_fold = n_min // int(n_splits)
    if n_per_fold == 0:
        raise InputDataError(
            f"train_idx: {n_splits} balanced folds need at least {n_splits} samples of each "
            f"class; found {per_class[0].size} control(s) and {per_class[1].size} case(s). "
            "Use fewer folds."
        )
    folds = []
    for f in range(int(n_splits)):
        sl = slice(f * n_per_fold, (f + 1) * n_per_fold)
        val = np.sort(np.concatenate([per_class[0][sl], per_class[1][sl]]))
        fit = np.setdiff1d(idx, val, assume_unique=True)
        folds.append((fit.astype(np.int64), val.astype(np.int64)))
    return folds


@dataclasses.dataclass
class Split:
    """A balanced train/test split of labelled samples.

    Attributes
    ----------
    y : numpy.ndarray
        Shape (n_samples,), int8, 1 = case, 0 = control, for every sample of the cohort selection.
    train_idx, test_idx : numpy.ndarray
        Row indices (into ``y`` and the genotype rows) of training and test samples; disjoint;
        the test set has equal numbers of cases and controls.
    test_size : float
    random_state : int
    """

    y: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    test_size: float
    random_state: int

    def table(self) -> pd.DataFrame:
        """Cases and controls in the training and test sets."""
        rows = []
        for name, idx in (("training", self.train_idx), ("test", self.test_idx)):
            yy = self.y[idx]
            rows.append({"set": name, "samples": len(idx), "cases": int((yy == 1).sum()),
                         "controls": int((yy == 0).sum())})
        return pd.DataFrame(rows)


def make_split(y, *, test_size: float = 0.1, random_state: int = 0) -> Split:
    """Draw the balanced (1:1) test split before anything is fitted.

    Parameters
    ----------
    y : array-like
        Shape (n_samples,), 1 = case, 0 = control; no missing values (select samples with a
        phenotype first).
    test_size : float
        Fraction of all samples put in the test set (DiseaseCapsule: 0.1), split equally
        between cases and controls.
    random_state : int
        Seed.

    Returns
    -------
    Split

    Raises
    ------
    InputDataError
        If ``y`` has missing or non-binary values, or the cohort is too small for a test set
        with at least 2 cases and 2 controls and a training set with at least 4 of each.
    """
    y = np.asarray(y, dtype=float)
    if np.isnan(y).any():
        raise InputDataError(
            f"the phenotype has {int(np.isnan(y).sum())} missing values among the selected samples; "
            "tick 'only samples with this phenotype' on the Data page."
        )
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise InputDataError(f"the phenotype must be 0/1 here, found values {sorted(set(np.unique(y)))[:5]}.")
    y = y.astype(np.int8)
    n_min = int(min((y == 0).sum(), (y == 1).sum()))
    # the per-class test size balanced_test_split will draw
    n_test_class = max(1, min(int(np.floor(float(test_size) * y.size / 2.0 + 0.5)), n_min // 2))
    if n_test_class < 2 or n_min - n_test_class < 4:
        need = max(6, int(np.ceil(4 / max(test_size, 1e-9))))
        raise InputDataError(
            f"{y.size} samples ({int((y == 1).sum())} cases, {int((y == 0).sum())} controls) are "
            f"too few for a balanced test set of {test_size:.0%}: it needs at least 2 cases and 2 "
            "controls in the test set and 4 of each left for training (about "
            f"{need} samples per class at this test fraction). Add samples or raise the test "
            "fraction."
        )
    train_idx, test_idx = balanced_test_split(y, test_size=test_size, random_state=random_state)
    return Split(y, np.asarray(train_idx), np.asarray(test_idx), test_size, random_state)


@dataclasses.dataclass(frozen=True, repr=False)
class OuterFold:
    """One outer split of the evaluation protocol: a training part and a test part.

    Attributes
    ----------
    repeat, fold : int
        1-based repetition and fold number (case/control: one fold per seed, ``repeat`` counts
        the seeds).
    seed : int
        Seeds everything stochastic fitted on this fold: inner validation splits, upsampling,
        Optuna, model initialisation.
    train_idx, test_idx : numpy.ndarray
        Disjoint sorted int64 row indices.
    """

    repeat: int
    fold: int
    seed: int
    train_idx: np.ndarray
    test_idx: np.ndarray

    def __repr__(self) -> str:
        return (f"OuterFold(repeat={self.repeat}, fold={self.fold}, seed={self.seed}, "
                f"n_train={self.train_idx.size}, n_test={self.test_idx.size})")


def holdout_folds(train_idx, test_idx, *, seeds) -> list[OuterFold]:
    """The same train/test split once per seed (case/control: the balanced test split).

    Parameters
    ----------
    train_idx, test_idx : array-like of int
    seeds : sequence of int
        One repetition per seed (its folds, upsampling and model initialisation).

    Returns
    -------
    list of OuterFold
        ``repeat`` = 1, 2, ... in seed order, ``fold`` = 1.
    """
    tr = np.sort(np.asarray(train_idx, dtype=np.int64))
    te = np.sort(np.asarray(test_idx, dtype=np.int64))
    return [OuterFold(repeat=i + 1, fold=1, seed=int(s), train_idx=tr, test_idx=te)
            for i, s in enumerate(seeds)]


def repeated_kfold(n: int, *, n_splits: int = 5, n_repeats: int = 2, random_state: int = 0,
                   rows=None) -> list[OuterFold]:
    """Repeated k-fold split (``sklearn.model_selection.RepeatedKFold``).

    Parameters
    ----------
    n : int
        Number of samples (rows of the inputs).
    n_splits, n_repeats : int
    random_state : int
        Seeds the shuffles; fold ``(r, k)`` gets seed ``random_state + 1000 r + k``.
    rows : array-like of int, optional
        Split only these rows (e.g. samples with at least one observed trait); indices in the
        folds are rows of the inputs.

    Returns
    -------
    list of OuterFold
        ``n_splits * n_repeats`` folds; within a repeat the test folds partition the rows.

    Raises
    ------
    ConfigError
        Fewer samples than folds.
    """
    from sklearn.model_selection import RepeatedKFold

    rows = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.size < n_splits:
        raise ConfigError(f"{rows.size} samples cannot be split into {n_splits} folds.")
    rkf = RepeatedKFold(n_splits=int(n_splits), n_repeats=int(n_repeats),
                        random_state=int(random_state))
    out = []
    for k, (tr, te) in enumerate(rkf.split(np.zeros((rows.size, 1)))):
        rep, fold = k // n_splits + 1, k % n_splits + 1
        out.append(OuterFold(repeat=rep, fold=fold, seed=int(random_state) + 1000 * rep + fold,
                             train_idx=np.sort(rows[tr]), test_idx=np.sort(rows[te])))
    return out


def folds_from_labels(labels, *, random_state: int = 0) -> list[OuterFold]:
    """Outer folds from a fold label per sample (e.g. BGLR's ``sample(rep(1:5, ...))``).

    Parameters
    ----------
    labels : array-like (n,)
        Fold label of each row (any sortable values); each distinct label is one test fold.
    random_state : int
        Fold ``k`` gets seed ``random_state + 1000 + k``.

    Returns
    -------
    list of OuterFold
        One repeat; folds in sorted label order, numbered 1..k.

    Raises
    ------
    InputDataError
        Not 1-D, missing labels, or fewer than 2 folds.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0:
        raise InputDataError(f"fold labels: expected a 1-D array, got shape {lab.shape}.")
    if pd.isna(lab).any():
        raise InputDataError("fold labels: some samples have no fold; give every sample one.")
    values = np.unique(lab)
    if values.size < 2:
        raise InputDataError(f"fold labels: need at least 2 folds, found {values.size}.")
    return [OuterFold(repeat=1, fold=k + 1, seed=int(random_state) + 1000 + k + 1,
                      train_idx=np.flatnonzero(lab != v).astype(np.int64),
                      test_idx=np.flatnonzero(lab == v).astype(np.int64))
            for k, v in enumerate(values)]
