"""All-PCA: one PCA over all selected SNPs (DiseaseCapsule's comparison features, DESIGN §4.2).

The DiseaseCapsule paper compared its Gene-PCA features with "All-PCA": a single principal
component analysis of the whole (samples x SNPs) dosage matrix, with as many components as
Gene-PCA produced features (capped by the rank). With far more SNPs than samples, a randomized
SVD (Halko, Martinsson & Tropp 2011) computes the leading components at a fraction of the cost
of a full SVD: scikit-learn's ``PCA(svd_solver="randomized")`` on the CPU, ``torch.svd_lowrank``
on a GPU. When the requested components are most of the rank, the exact decomposition is both
cheaper and exact, and is used instead (``svd_solver="auto"``, as scikit-learn's own policy).

Leakage-safe use: ``fit`` on the training rows, ``transform`` all rows; fitting on all rows is
the published behaviour.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from genoapp.errors import ConfigError, InputDataError
from genoapp.features.impute import _as_2d_float

__all__ = ["AllPCA"]


class AllPCA(BaseEstimator):
    """PCA of all SNP dosages by randomized SVD, scikit-learn style.

    Parameters
    ----------
    n_components : int or None, default None
        Components to keep; ``None`` keeps ``min(n_samples - 1, n_snps)`` (every component with
        variance). Capped at that rank.
    svd_solver : {"auto", "randomized", "full"}, default "auto"
        ``"randomized"``: randomized SVD (``n_oversamples`` extra vectors, ``n_iter`` power
        iterations). ``"full"``: exact (LAPACK). ``"auto"``: randomized when ``n_components``
        is below 80 % of the rank and the matrix has more than 500 rows or columns, else full.
    n_oversamples : int, default 10
    n_iter : int or "auto", default "auto"
        Power iterations of the randomized SVD (``"auto"``: 7 if ``n_components`` < 10 % of the
        rank, else 4, as scikit-learn).
    dtype : {"float32", "float64"}, default "float32"
        dtype of the returned scores.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        ``"cuda"``/``"auto"`` with a GPU: ``torch.svd_lowrank`` (randomized) or
        ``torch.linalg.svd`` (full) on the GPU, in float64.
    random_state : int, default 0
        Seed of the random projections.

    Attributes
    ----------
    components_ : numpy.ndarray of float64, shape (n_components_, n_snps)
        Unit-norm loadings; the entry of largest absolute value of each is positive (scikit-learn's
        sign convention).
    mean_ : numpy.ndarray of float64, shape (n_snps,)
        Training means used to centre.
    explained_variance_ : numpy.ndarray of float64, shape (n_components_,)
        Variance of each component on the fitting rows (ddof = 1).
    explained_variance_ratio_ : numpy.ndarray of float64, shape (n_components_,)
        Share of the total variance (sum of the SNP variances).
    n_components_ : int
    feature_names_ : numpy.ndarray of str
        ``"PC1"``, ``"PC2"``, ...
    svd_solver_ : str
        Solver used (``"randomized"`` or ``"full"``).
    device_ : str
    n_features_in_ : int
    n_samples_fit_ : int

    Notes
    -----
    Input must be complete (impute first, e.g. :class:`~genoapp.features.MeanImputer` fitted on
    the training rows). Dosages are centred, not scaled, as in DiseaseCapsule.
    """

    def __init__(self, *, n_components=None, svd_solver="auto", n_oversamples=10, n_iter="auto",
                 dtype="float32", device="cpu", random_state=0):
        self.n_components = n_components
        self.svd_solver = svd_solver
        self.n_oversamples = n_oversamples
        self.n_iter = n_iter
        self.dtype = dtype
        self.device = device
        self.random_state = random_state

    def _check(self, X, where):
        X = _as_2d_float(X, f"{where}: X")
        if not np.isfinite(X.sum(dtype=np.float64)):
            raise InputDataError(
                f"{where}: X has missing (NaN) or infinite dosages; impute first "
                "(genoapp.features.MeanImputer fitted on the training rows)."
            )
        return X

    def _params(self, n, p):
        if self.svd_solver not in ("auto", "randomized", "full"):
            raise ConfigError(
                f"AllPCA(svd_solver=...): expected 'auto', 'randomized' or 'full', found {self.svd_solver!r}."
            )
        if str(self.dtype) not in ("float32", "float64"):
            raise ConfigError(f"AllPCA(dtype=...): expected 'float32' or 'float64', found {self.dtype!r}.")
        rank = min(n - 1, p)
        k = self.n_components
        if k is None:
            k = rank
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"AllPCA(n_components=...): expected an integer >= 1 or None, found {k!r}.")
        k = int(min(k, rank))
        solver = self.svd_solver
        if solver == "auto":
            solver = "randomized" if (max(n, p) > 500 and k < 0.8 * rank) else "full"
        n_iter = self.n_iter
        if n_iter == "auto":
            n_iter = 7 if k < 0.1 * rank else 4
        if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
            raise ConfigError(f"AllPCA(n_iter=...): expected an integer >= 0 or 'auto', found {n_iter!r}.")
        return k, solver, int(n_iter)

    def fit(self, X, y=None) -> AllPCA:
        """Fit on the rows of ``X`` (usually the training samples).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_snps)
            Complete dosages (imputed).
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            Missing values, fewer than 2 rows.
        ConfigError
            Invalid parameters or unavailable device.
        """
        from genoapp.features.genepca import _import_torch, _resolve_device

        X = self._check(X, "AllPCA.fit")
        n, p = X.shape
        if n < 2 or p < 1:
            raise InputDataError(f"AllPCA.fit: X has shape {X.shape}; need >= 2 rows and >= 1 SNP.")
        k, solver, n_iter = self._params(n, p)
        dev = _resolve_device(self.device)
        if dev.type == "cpu":
            from sklearn.decomposition import PCA

            pca = PCA(n_components=k, svd_solver=solver, n_oversamples=self.n_oversamples,
                      iterated_power=n_iter, random_state=self.random_state)
            pca.fit(np.asarray(X, dtype=np.float64))
            comps = pca.components_
            mean = pca.mean_
            ev = pca.explained_variance_
            total = float(np.sum(np.var(X, axis=0, ddof=1, dtype=np.float64)))
        else:
            torch = _import_torch()
            A = torch.from_numpy(np.asarray(X, dtype=np.float64)).to(dev)
            mu = A.mean(0)
            total = float(((A - mu) ** 2).sum() / (n - 1))
            if solver == "randomized":
                torch.manual_seed(int(self.random_state))
                q = min(k + int(self.n_oversamples), min(n, p))
                _, S, V = torch.svd_lowrank(A, q=q, niter=n_iter, M=mu[None, :])
            else:
                _, S, Vh = torch.linalg.svd(A - mu, full_matrices=False)
                V = Vh.T
            comps = V[:, :k].T.cpu().numpy()
            ev = (S[:k] ** 2 / (n - 1)).cpu().numpy()
            mean = mu.cpu().numpy()
            am = np.abs(comps).argmax(axis=1)
            comps = comps * np.sign(comps[np.arange(k), am])[:, None]
        self.components_ = np.asarray(comps, dtype=np.float64)
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.explained_variance_ = np.asarray(ev, dtype=np.float64)
        self.explained_variance_ratio_ = self.explained_variance_ / total if total > 0 else (
            np.zeros_like(self.explained_variance_))
        self.n_components_ = k
        self.feature_names_ = np.array([f"PC{i + 1}" for i in range(k)])
        self.svd_solver_ = solver
        self.device_ = str(dev)
        self.n_features_in_ = p
        self.n_samples_fit_ = n
        return self

    def transform(self, X) -> np.ndarray:
        """Scores of rows on the fitted components (centred with the fitting means).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_snps)
            Complete dosages, same SNPs and order as in ``fit``.

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_components_), dtype ``self.dtype``

        Raises
        ------
        InputDataError
            Not fitted, wrong number of SNPs, missing values.
        """
        if not hasattr(self, "components_"):
            raise InputDataError("AllPCA.transform: call fit (on the training rows) first.")
        X = self._check(X, "AllPCA.transform")
        if X.shape[1] != self.n_features_in_:
            raise InputDataError(
                f"AllPCA.transform: X has {X.shape[1]} SNPs, AllPCA was fitted on "
                f"{self.n_features_in_}; pass the same SNPs in the same order."
            )
        out = np.empty((X.shape[0], self.n_components_), dtype=np.dtype(str(self.dtype)))
        comps_t = self.components_.T
        step = 4096
        for r0 in range(0, X.shape[0], step):
            block = np.asarray(X[r0 : r0 + step], dtype=np.float64) - self.mean_
            out[r0 : r0 + step] = block @ comps_t
        return out

    def fit_transform(self, X, y=None) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``"PC1"``, ``"PC2"``, ... (scikit-learn API)."""
        return self.feature_names_.astype(object)
