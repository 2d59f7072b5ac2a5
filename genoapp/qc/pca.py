"""Sample PCA of genotypes, to see population and batch structure (EIGENSTRAT-style scaling)."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from genoapp.errors import ConfigError, InputDataError

__all__ = ["sample_pca"]


def sample_pca(G, *, n_components: int = 10, random_state: int = 0):
    """Principal components of samples from A1 dosages.

    Each variant is mean-imputed, centred and divided by ``sqrt(2 p (1 - p))`` (p = A1
    frequency; Patterson, Price & Reich 2006, as EIGENSOFT/``plink --pca``), monomorphic
    variants are dropped, then scikit-learn's ``PCA`` (randomized SVD, float32, 4 power iterations) gives the
    scores.

    Parameters
    ----------
    G : array of shape (n_samples, n_variants)
        A1 dosages, float with NaN for missing; not modified.
    n_components : int, default 10
        Number of PCs (at most ``min(n_samples, n_polymorphic_variants) - 1``).
    random_state : int, default 0
        Seed of the randomized SVD.

    Returns
    -------
    scores : numpy.ndarray of float64, shape (n_samples, k)
        Sample coordinates on the first k PCs.
    explained_variance_ratio : numpy.ndarray of float64, shape (k,)

    Raises
    ------
    InputDataError
        Fewer than 3 samples or 2 polymorphic variants.
    ConfigError
        ``n_components`` < 1.
    """
    if int(n_components) < 1:
        raise ConfigError(f"sample_pca: n_components {n_components!r} must be >= 1.")
    X = np.asarray(G, dtype=np.float64)
    if X.ndim != 2:
        raise InputDataError(f"sample_pca: G must be 2-D; found shape {X.shape}.")
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(X, axis=0) if X.shape[0] else np.zeros(X.shape[1])
    p = mean / 2.0
    sd = np.sqrt(2.0 * p * (1.0 - p))
    keep = np.isfinite(sd) & (sd > 0)
    n = X.shape[0]
    if n < 3 or keep.sum() < 2:
        raise InputDataError(f"sample_pca: needs at least 3 samples and 2 polymorphic variants; "
                             f"found {n} samples and {int(keep.sum())} polymorphic variants.")
    Z = ((X[:, keep] - mean[keep]) / sd[keep]).astype(np.float32)
    Z[np.isnan(Z)] = 0.0  # mean imputation after centring
    k = int(min(n_components, n - 1, int(keep.sum()) - 1))
    pca = PCA(n_components=k, svd_solver="randomized", iterated_power=4,
              random_state=random_state)
    # One BLAS thread: the products are small, and OpenBLAS's spinning threads made this 6x
    # slower on a loaded 2-core machine (measured).
    with threadpool_limits(limits=1, user_api="blas"):
        scores = pca.fit_transform(Z).astype(np.float64)
    return scores, pca.explained_variance_ratio_.astype(np.float64)
