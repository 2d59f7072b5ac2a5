"""Input validation shared by genoapp's models (scikit-learn's rules, genoapp's errors).

scikit-learn's ``validate_data`` does the generic checks (2-D, numeric, no sparse matrices, no
complex numbers, at least one sample and feature, ``n_features_in_`` consistency); its
ValueErrors are re-raised as :class:`genoapp.errors.InputDataError` (itself a ValueError) with
the same text, so callers get genoapp's error type and scikit-learn's estimator checks still
recognise the messages.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from genoapp.errors import InputDataError

__all__ = ["check_fit_data", "check_predict_data", "as_float32_matrix", "as_real_array",
           "NonNumericInputError"]


def check_fit_data(est, X, y, *, allow_nan: bool = False, dtype=np.float32):
    """Validate training data; set ``n_features_in_`` and ``classes_``.

    Returns
    -------
    X : numpy.ndarray (n, F) of ``dtype``
    y01 : numpy.ndarray (n,) int64
        0 for ``classes_[0]``, 1 for ``classes_[1]`` (the case).

    Raises
    ------
    InputDataError
        Anything scikit-learn rejects; labels that are not exactly two classes.
    """
    try:
        X, y = validate_data(est, X, y, accept_sparse=False, dtype=dtype,
                             ensure_all_finite="allow-nan" if allow_nan else True,
                             ensure_min_samples=2)
        check_classification_targets(y)
    except InputDataError:
        raise
    except ValueError as exc:
        raise InputDataError(f"{type(est).__name__}: {exc}") from exc
    classes, y01 = np.unique(y, return_inverse=True)
    if classes.size > 2:
        raise InputDataError(
            f"{type(est).__name__}: Only binary classification is supported (0 = control, 1 = case); "
            f"found {classes.size} classes: {classes[:5].tolist()}."
        )
    if classes.size != 2:
        raise InputDataError(
            f"{type(est).__name__}: a binary classifier needs exactly two classes (0 = control, "
            f"1 = case); found {classes.size} class{'es' if classes.size != 1 else ''}: "
            f"{classes[:5].tolist()}."
        )
    est.classes_ = classes
    return X, y01.astype(np.int64)


def check_predict_data(est, X, *, allow_nan: bool = False, dtype=np.float32, fitted_attr=None):
    """Validate prediction data against the fitted estimator (raises NotFittedError first)."""
    check_is_fitted(est, fitted_attr)
    try:
        return validate_data(est, X, reset=False, accept_sparse=False, dtype=dtype,
                             ensure_all_finite="allow-nan" if allow_nan else True)
    except InputDataError:
        raise
    except ValueError as exc:
        raise InputDataError(f"{type(est).__name__}: {exc}") from exc


class NonNumericInputError(InputDataError, TypeError):
    """Inputs that cannot be converted to numbers (also a TypeError, as NumPy raises it)."""


def as_real_array(X, name: str, *, what: str = "features") -> np.ndarray:
    """Any array-like as a NumPy array of real numbers (no shape or finiteness check).

    Accepts numpy arrays, pandas DataFrames, torch tensors (copied to the CPU) and object
    arrays holding numbers (converted to float64).

    Raises
    ------
    InputDataError
        Sparse matrices, complex numbers, or values that are not numbers
        (:class:`NonNumericInputError`, also a TypeError, for non-numeric objects).
    """
    import scipy.sparse
    import torch

    if scipy.sparse.issparse(X):
        raise InputDataError(
            f"{name}: sparse input is not supported; pass a dense array (X.toarray()).")
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise InputDataError(f"{name}: could not be read as a numeric array ({exc}).") from exc
    if arr.dtype.kind == "c":
        raise InputDataError(f"{name}: Complex data not supported; expected real-valued {what}.")
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except TypeError as exc:
            raise NonNumericInputError(
                f"{name}: {what} must be numbers ({exc}); float() argument must be a string "
                "or a real number.") from exc
        except ValueError as exc:
            raise InputDataError(f"{name}: could not be read as numbers ({exc}).") from exc
    return arr


def as_float32_matrix(X, name: str, n_features: int | None = None, *,
                      what: str = "features",
                      missing_hint: str = "Impute missing genotypes before building features (DESIGN §4.1).",
                      mismatch_hint: str = "Build the features with the same variants and projection as "
                                           "for training.",
                      owner: str = "the model") -> np.ndarray:
    """A (samples x ``what``) matrix as C-contiguous float32, with genoapp's messages.

    Accepts numpy arrays (numbers, or object arrays holding numbers), pandas DataFrames and
    torch tensors (copied to the CPU). The messages also contain the phrases of scikit-learn's
    own checks (so its estimator checks recognise them).

    Parameters
    ----------
    X : array-like (n, F)
    name : str
        Name of the argument in messages ("X", "X_val").
    n_features : int, optional
        Required number of columns (the fitted model's).
    what : str
        What the columns are, in messages ("features", "inputs").
    missing_hint, mismatch_hint : str
        The advice appended to the missing-value and the wrong-width messages.
    owner : str
        Name of the fitted model in the wrong-width message (e.g. the class name).

    Returns
    -------
    numpy.ndarray (n, F) float32

    Raises
    ------
    InputDataError
        Sparse or complex input, not readable as numbers (:class:`NonNumericInputError`, also a
        TypeError), not 2-D, empty, NaN or infinite values, or ``F != n_features``.
    """
    arr = as_real_array(X, name, what=what)
    if arr.ndim != 2:
        raise InputDataError(
            f"{name}: expected a 2-D {what} matrix (samples x {what}), got shape {arr.shape}. "
            "Reshape your data: X.reshape(-1, 1) for a single column."
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputDataError(f"{name}: expected numeric {what}, got dtype {arr.dtype}.")
    if arr.shape[0] == 0:
        raise InputDataError(f"{name}: empty {what} matrix: 0 sample(s) (shape={arr.shape}) while "
                             "a minimum of 1 is required.")
    if arr.shape[1] == 0:
        raise InputDataError(f"{name}: empty {what} matrix: 0 feature(s) (shape={arr.shape}) while "
                             "a minimum of 1 is required.")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise InputDataError(f"{name}: {bad} missing or infinite value(s) (NaN, inf) in the {what}. {missing_hint}")
    if n_features is not None and arr.shape[1] != n_features:
        raise InputDataError(
            f"{name} has {arr.shape[1]} features, but {owner} is expecting {n_features} features "
            f"as input: it was fitted on {n_features} {what} and expects {n_features} (as in "
            f"training). {mismatch_hint}"
        )
    return arr
