"""Polygenic risk scores from a training-set GWAS (DESIGN §4.3).

Two different models, both fitted on SNP dosages (QC'd, NaN = missing) of training samples only:

- :class:`PolygenicRiskScore`: a true PRS. A GWAS on the training samples (PLINK ``--assoc``
  allelic 1-df chi-squared test, :func:`genoapp.qc.allelic_test`) gives, per SNP, the log odds ratio of the counted allele A1
  (``beta``) and a p-value. SNPs with p below ``p_threshold`` (thresholds 5e-2, 5e-4, 5e-6,
  5e-8 are the usual grid), optionally LD-clumped as PLINK's ``--clump`` does, form the score
  ``S = sum_j beta_j * dosage_j``; a one-variable logistic regression of the label on the
  standardised score turns it into a case probability (calibration).
- :class:`AuthorsPRSClassifier`: what the DiseaseCapsule paper calls "PRS" (its
  ``classifier_PRS.py``): a logistic regression (saga) on the raw dosages of the SNPs with GWAS
  p < 0.05. It is a multivariable classifier, not a polygenic score; it is labelled as such
  everywhere in the app.

Both estimators impute missing dosages with the training mean of each SNP and handle the case
imbalance themselves, so they are fitted on the real (not upsampled) training samples: an
upsampled GWAS would count duplicated cases as independent and shrink p-values. The score model
(PRS calibration, the authors' logistic regression) uses ``class_weight="balanced"``, which in
expectation is the 1:1 upsampling of the other models.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from genoapp.errors import ConfigError, InputDataError
from genoapp.features import MeanImputer
from genoapp.models._validation import check_fit_data, check_predict_data
from genoapp.qc.assoc import allelic_association

__all__ = ["allelic_association", "ld_clump", "PolygenicRiskScore", "AuthorsPRSClassifier"]

# the association test lives with the other tests in genoapp.qc (re-exported here)


def ld_clump(G, p, *, chrom, pos, p1: float = 1.0, r2: float = 0.1, kb: float = 250.0) -> np.ndarray:
    """Greedy LD clumping of SNPs (the rule of PLINK 1.9 ``--clump``).

    SNPs are visited by increasing p-value; each SNP with p <= ``p1`` not yet assigned becomes an
    index SNP and removes every other candidate on the same chromosome within ``kb`` kilobases
    whose squared correlation with it exceeds ``r2``.

    Parameters
    ----------
    G : array-like (n_samples, n_snps)
        Dosages without missing values (impute first), training samples only.
    p : array-like (n_snps,)
        Association p-values (NaN = never an index SNP).
    chrom, pos : array-like (n_snps,)
        Chromosome labels and base-pair positions.
    p1 : float, default 1.0
        Index SNPs must have p <= p1 (PLINK's ``--clump-p1``; the PRS passes its threshold).
    r2 : float, default 0.1
        ``--clump-r2`` (PRSice and most PRS tutorials: 0.1; PLINK's own default is 0.5).
    kb : float, default 250
        ``--clump-kb``.

    Returns
    -------
    numpy.ndarray of int64
        Indices of the index SNPs (sorted by increasing p).

    Notes
    -----
    r² is the squared Pearson correlation of dosages (PLINK's ``--clump`` uses genotype
    correlations when phase is unknown, which is the same quantity).
    """
    G = np.asarray(G, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    chrom = np.asarray(chrom).astype(str)
    pos = np.asarray(pos, dtype=np.float64)
    if not (G.shape[1] == p.size == chrom.size == pos.size):
        raise InputDataError("ld_clump: G columns, p, chrom and pos must describe the same SNPs.")
    Z = G - G.mean(axis=0)
    norm = np.sqrt((Z * Z).sum(axis=0))
    norm[norm == 0] = np.inf
    Z = Z / norm
    order = [j for j in np.argsort(p, kind="stable") if np.isfinite(p[j]) and p[j] <= p1]
    taken = np.zeros(p.size, dtype=bool)
    index = []
    for j in order:
        if taken[j]:
            continue
        index.append(j)
        taken[j] = True
        near = np.flatnonzero((chrom == chrom[j]) & (np.abs(pos - pos[j]) <= kb * 1000.0) & ~taken)
        if near.size:
            r = Z[:, near].T @ Z[:, j]
            taken[near[r * r > r2]] = True
    return np.asarray(index, dtype=np.int64)


class _SNPClassifierBase(ClassifierMixin, BaseEstimator):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        # scikit-learn's generic checks feed continuous, non-genotype data: no accuracy promise
        tags.classifier_tags.poor_score = True
        return tags

    def _fit_data(self, G, y):
        Ga, y01 = check_fit_data(self, G, y, allow_nan=True, dtype=np.float64)
        return Ga, y01

    def _predict_data(self, G):
        return check_predict_data(self, G, allow_nan=True, dtype=np.float64, fitted_attr="selected_")

    def _gwas(self, G, y01):
        self.imputer_ = MeanImputer(all_missing="zero").fit(G)
        self.gwas_ = allelic_association(G, y01)
        p = self.gwas_["p"].to_numpy()
        return p

    def predict_proba(self, G) -> np.ndarray:
        """Probabilities (n, 2) of ``classes_[0]`` and ``classes_[1]`` (the case)."""
        z = self.decision_function(G)
        p1 = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, G) -> np.ndarray:
        """Labels (n,) from ``classes_``: the case where the case probability exceeds 0.5."""
        z = self.decision_function(G)
        return self.classes_[(z > 0).astype(np.int64)]


class PolygenicRiskScore(_SNPClassifierBase):
    """A polygenic risk score with logistic calibration, fitted on training samples only.

    Parameters
    ----------
    p_threshold : float, default 0.05
        SNPs with training-GWAS p below this enter the score (usual grid 5e-2, 5e-4, 5e-6,
        5e-8; the comparison protocol tunes it on validation folds).
    clump : bool, default False
        LD-clump the SNPs below the threshold first (:func:`ld_clump`), keeping index SNPs.
    clump_r2, clump_kb : float, default 0.1, 250
        Clumping parameters.
    variants : pandas.DataFrame, optional
        The SNPs' ``chrom`` and ``pos`` (rows = columns of ``G``); required with
        ``clump=True``.
    random_state : int, default 0
        Unused (the fit is deterministic); accepted for a uniform interface.

    Attributes
    ----------
    gwas_ : pandas.DataFrame
        The training GWAS (:func:`allelic_association`), one row per SNP.
    selected_ : numpy.ndarray of int64
        Columns of ``G`` in the score.
    beta_ : numpy.ndarray (n_selected,)
        Their log odds ratios (weights of the score).
    fallback_ : bool
        True when no SNP passed the threshold: the single most significant SNP is used (none
        when every SNP is monomorphic or missing in training: a constant, chance-level score).
    score_mean_, score_sd_ : float
        Training mean and SD of the raw score (the calibration uses the standardised score).
    calibrator_ : sklearn.linear_model.LogisticRegression
        Fitted on the standardised training scores (balanced class weights).
    imputer_ : genoapp.features.MeanImputer
        Training means of every SNP (for missing dosages).
    classes_ : numpy.ndarray (2,)
    n_features_in_ : int

    Notes
    -----
    ``S = sum_j beta_j * x_j`` over selected SNPs j, ``x_j`` = dosage of A1 (mean-imputed),
    ``beta_j = log OR_j`` from the allelic test (the C+T method of PRSice / PLINK ``--score``).
    """

    def __init__(self, *, p_threshold=0.05, clump=False, clump_r2=0.1, clump_kb=250.0,
                 variants=None, random_state=0):
        self.p_threshold = p_threshold
        self.clump = clump
        self.clump_r2 = clump_r2
        self.clump_kb = clump_kb
        self.variants = variants
        self.random_state = random_state

    def fit(self, G, y):
        """Run the training GWAS, select (and clump) SNPs, calibrate the score.

        Parameters
        ----------
        G : array-like (n, n_snps)
            Dosages of A1 of the training samples, NaN = missing.
        y : array-like (n,)
            Two classes (0 = control, 1 = case).

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            Bad shapes or labels.
        ConfigError
            Threshold outside (0, 1], or clumping without ``variants``.
        """
        t = self.p_threshold
        if isinstance(t, bool) or not isinstance(t, int | float | np.number) or not 0 < float(t) <= 1:
            raise ConfigError(f"p_threshold: must be in (0, 1], got {t!r} (usual: 5e-2 ... 5e-8).")
        Ga, y01 = self._fit_data(G, y)
        p = self._gwas(Ga, y01)
        beta = self.gwas_["beta"].to_numpy()
        ok = np.isfinite(p) & np.isfinite(beta)
        sel = np.flatnonzero(ok & (p < float(t)))
        Gi = self.imputer_.transform(Ga)
        if self.clump and sel.size > 1:
            v = self.variants
            if v is None or len(v) != Ga.shape[1] or not {"chrom", "pos"} <= set(v.columns):
                raise ConfigError(
                    "clump=True needs variants: a table with 'chrom' and 'pos' for every SNP column."
                )
            keep = ld_clump(Gi[:, sel], p[sel], chrom=v["chrom"].to_numpy()[sel],
                            pos=v["pos"].to_numpy()[sel], p1=float(t), r2=float(self.clump_r2),
                            kb=float(self.clump_kb))
            sel = np.sort(sel[keep])
        self.fallback_ = False
        if sel.size == 0:
            # nothing passes: the single most significant SNP (none at all when every SNP is
            # monomorphic or missing: a constant score, i.e. chance-level predictions)
            sel = np.array([int(np.nanargmin(np.where(ok, p, np.nan)))]) if ok.any() else np.array([], int)
            self.fallback_ = True
        self.selected_ = sel.astype(np.int64)
        self.beta_ = beta[sel]
        s = Gi[:, sel] @ self.beta_
        self.score_mean_ = float(s.mean())
        sd = float(s.std())
        self.score_sd_ = sd if sd > 0 else 1.0
        z = ((s - self.score_mean_) / self.score_sd_).reshape(-1, 1)
        self.calibrator_ = LogisticRegression(class_weight="balanced").fit(z, y01)
        return self

    def score_samples_raw(self, G) -> np.ndarray:
        """Raw polygenic score ``sum_j beta_j x_j`` (n,) of new samples (training means impute)."""
        Ga = self._predict_data(G)
        x = Ga[:, self.selected_]
        means = self.imputer_.mean_[self.selected_]
        x = np.where(np.isnan(x), means, x)
        return x @ self.beta_

    def decision_function(self, G) -> np.ndarray:
        """Calibrated log-odds of being a case (n,)."""
        s = self.score_samples_raw(G)
        z = ((s - self.score_mean_) / self.score_sd_).reshape(-1, 1)
        return self.calibrator_.decision_function(z)


class AuthorsPRSClassifier(_SNPClassifierBase):
    """The DiseaseCapsule paper's "PRS": logistic regression on SNP dosages with GWAS p < 0.05.

    Not a polygenic risk score: a multivariable L2 logistic regression (saga) on the raw,
    mean-imputed dosages of the SNPs that pass the training GWAS threshold, as in the authors'
    ``classifier_PRS.py`` (``LogisticRegression(solver='saga')``, no feature scaling).

    Parameters
    ----------
    p_threshold : float, default 0.05
    C : float, default 1.0
        Inverse L2 strength (scikit-learn default, as the authors).
    max_iter : int, default 300
        saga epochs (the authors used scikit-learn's default 100, which does not converge on
        unscaled dosages; convergence is recorded in ``converged_``).
    random_state : int, default 0

    Attributes
    ----------
    gwas_, selected_, imputer_, classes_, n_features_in_
        As :class:`PolygenicRiskScore`.
    logreg_ : sklearn.linear_model.LogisticRegression
        Fitted on the selected, imputed dosages (balanced class weights).
    converged_ : bool
    fallback_ : bool
        No SNP passed the threshold: the most significant one is used (none at all when every
        SNP is monomorphic: ``logreg_`` is None and the score is constant).
    """

    def __init__(self, *, p_threshold=0.05, C=1.0, max_iter=300, random_state=0):
        self.p_threshold = p_threshold
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, G, y):
        """Training GWAS, SNP selection at ``p_threshold``, then the logistic regression.

        Returns self. Raises InputDataError for bad shapes/labels, ConfigError for a bad
        threshold.
        """
        t = self.p_threshold
        if isinstance(t, bool) or not isinstance(t, int | float | np.number) or not 0 < float(t) <= 1:
            raise ConfigError(f"p_threshold: must be in (0, 1], got {t!r} (authors: 0.05).")
        Ga, y01 = self._fit_data(G, y)
        p = self._gwas(Ga, y01)
        ok = np.isfinite(p)
        sel = np.flatnonzero(ok & (p < float(t)))
        self.fallback_ = False
        if sel.size == 0:
            sel = np.array([int(np.nanargmin(np.where(ok, p, np.nan)))]) if ok.any() else np.array([], int)
            self.fallback_ = True
        self.selected_ = sel.astype(np.int64)
        if sel.size == 0:  # every SNP monomorphic or missing: chance-level constant model
            self.logreg_, self.converged_, self.n_iter_ = None, True, np.array([0])
            return self
        Gi = self.imputer_.transform(Ga)[:, sel]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            self.logreg_ = LogisticRegression(C=float(self.C), solver="saga", max_iter=int(self.max_iter),
                                              class_weight="balanced",
                                              random_state=int(self.random_state)).fit(Gi, y01)
        self.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        self.n_iter_ = self.logreg_.n_iter_
        return self

    def decision_function(self, G) -> np.ndarray:
        """Log-odds of being a case (n,)."""
        Ga = self._predict_data(G)
        x = Ga[:, self.selected_]
        if self.logreg_ is None:
            return np.zeros(Ga.shape[0])
        x = np.where(np.isnan(x), self.imputer_.mean_[self.selected_], x)
        return self.logreg_.decision_function(x)
