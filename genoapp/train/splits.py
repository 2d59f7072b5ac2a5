"""Sample splits for case/control training (DiseaseCapsule protocol, DESIGN §4.3).

- :func:`balanced_test_split`: a held-out test set with as many cases as controls.
- :func:`upsample_minority`: the training indices with the minority class drawn with
  replacement until both classes are equally frequent (the authors upsampled the cases).
- :func:`balanced_kfold`: k disjoint validation folds, each balanced 1:1, for hyper-parameter
  selection inside the training set (the test set is never used for model selection).

All functions take labels ``y`` coded 0 = control, 1 = case, return sorted ``int64`` index
arrays into ``y`` and never modify their inputs.
"""

from __future__ import annotations

import numpy as np

from genoapp.errors import ConfigError, InputDataError

__all__ = ["balanced_test_split", "upsample_minority", "balanced_kfold"]


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
