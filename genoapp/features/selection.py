"""The association filter as a fitted step: GWAS on the fitting rows, then Gene-PCA on what it kept.

DiseaseCapsule filtered SNPs by a training-sample GWAS (p < 0.05) once, before any model; the
threshold was fixed and the validation folds that chose hyper-parameters had helped choose the
SNPs. Here the filter is an estimator (:class:`AssociationFilter`) that the evaluation protocol
fits inside every training part (:mod:`genoapp.workflows.protocol`, ``StagedInput``), so its
threshold (a number of top genes, a number of top SNPs or a p-value) is a hyper-parameter chosen
on inner validation folds, and no validation or test sample ever enters the association test that
chose it.

Genes or SNPs? DiseaseCapsule works on genes, and a gene's risk is usually carried by several SNPs
in partial LD. Keeping the top SNPs keeps the few best-tagged SNPs of the strongest genes and drops
the others; keeping the top *genes* (ranked by their best SNP, the "minP" gene statistic) and then
all of their SNPs gives Gene-PCA the whole gene. On the demo cohort (1,337 training samples, 12,630
QC'd SNPs, 10 planted additive genes of 3 causal SNPs each), 5-fold CV on the training samples
only, logistic regression with C tuned: fixed p < 0.05 (about 1,700 SNPs) ROC AUC about 0.58; best
top-k SNPs (k = 10-40) 0.74; best top genes (15 genes, Gene-PCA) 0.75, on all of their SNPs
without Gene-PCA 0.77; a logistic regression on the planted causal SNPs themselves reaches 0.81 on
the test samples. The quick preset therefore tunes ``top_genes``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from genoapp.errors import ConfigError, InputDataError
from genoapp.features.genepca import GenePCA
from genoapp.features.impute import MeanImputer
from genoapp.qc.assoc import allelic_association

__all__ = ["AssociationFilter"]


class AssociationFilter(TransformerMixin, BaseEstimator):
    """Keep the SNPs most associated with case/control status in the fitting rows, then
    impute and compute Gene-PCA features on them (all fitted on the same rows).

    Parameters
    ----------
    annotation : pandas.DataFrame
        SNP-to-gene (or window) assignments of the columns of the dosage matrix
        (:func:`genoapp.features.annotate_snps` / :func:`~genoapp.features.snp_windows`:
        ``variant_index`` = column of ``G``, ``gene``, ...).
    top_k : int, optional
        Keep the ``top_k`` SNPs with the smallest allelic-test p-values.
    top_genes : int, optional
        Keep every annotated SNP of the ``top_genes`` genes (or windows) whose smallest SNP
        p-value is smallest (minP gene ranking; ties broken by annotation order).
    p_threshold : float, optional
        Keep the SNPs with p below this (the paper's fixed filter is 0.05). At most one of
        ``top_k``, ``top_genes`` and ``p_threshold`` (none: every annotated SNP, no filter).
    min_snps : int, default 2
        With ``p_threshold``: keep at least this many SNPs (the best ones) so that a strict
        threshold on a small fold never leaves the model without inputs.

    Attributes
    ----------
    p_values_ : numpy.ndarray
        ``(n_snps,)`` allelic-test p-values (PLINK ``--assoc``) on the fitting rows (NaN where
        untestable).
    selected_ : numpy.ndarray
        Sorted columns of ``G`` that were kept.
    imputer_ : MeanImputer
        Means of the kept SNPs on the fitting rows.
    gene_pca_ : GenePCA
        Fitted on the kept SNPs of the fitting rows.
    feature_names_ : numpy.ndarray
        ``chr:GENE:pc`` per output feature.
    feature_gene_ : numpy.ndarray
        Gene key per output feature.
    n_features_in_ : int
        SNP columns of ``G``.

    Notes
    -----
    Fit on the real (not upsampled) fitting rows: duplicated cases would inflate the test
    statistics. The test is PLINK 1.9's allelic chi-squared (:func:`genoapp.qc.allelic_association`),
    checked against ``plink1.9 --assoc``.
    """

    def __init__(self, annotation=None, *, top_k: int | None = None,
                 top_genes: int | None = None, p_threshold: float | None = None,
                 min_snps: int = 2):
        self.annotation = annotation
        self.top_k = top_k
        self.top_genes = top_genes
        self.p_threshold = p_threshold
        self.min_snps = min_snps

    def _check(self):
        if self.annotation is None or not isinstance(self.annotation, pd.DataFrame):
            raise ConfigError("AssociationFilter: give the SNP annotation (annotate_snps output).")
        rules = [n for n in ("top_k", "top_genes", "p_threshold") if getattr(self, n) is not None]
        if len(rules) > 1:
            raise ConfigError(f"AssociationFilter: give one of top_k, top_genes and p_threshold, "
                              f"got {' and '.join(rules)}.")
        for name, what in (("top_k", "SNPs"), ("top_genes", "genes")):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or int(v) < 1):
                raise ConfigError(f"{name}: a positive number of {what}, got {v!r}.")
        if self.p_threshold is not None and not 0 < float(self.p_threshold) <= 1:
            raise ConfigError(f"p_threshold: in (0, 1], got {self.p_threshold!r}.")

    def fit(self, G, y):
        """Run the association test on ``(G, y)`` and fit imputation and Gene-PCA on the kept SNPs.

        Parameters
        ----------
        G : array-like (n, n_snps)
            Dosages of A1 (0, 1, 2), NaN = missing; the fitting rows only.
        y : array-like (n,)
            1 = case, 0 = control.

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            Shapes disagree, labels not 0/1, or no annotated SNP.
        ConfigError
            Bad settings.
        """
        self._check()
        G = np.asarray(G, dtype=np.float32)
        y = np.asarray(y)
        if G.ndim != 2 or y.shape != (G.shape[0],):
            raise InputDataError(f"AssociationFilter.fit: G {G.shape} and y {y.shape} do not match.")
        ann = self.annotation
        annotated = np.unique(ann["variant_index"].to_numpy()).astype(np.int64)
        if annotated.size == 0 or annotated.max() >= G.shape[1]:
            raise InputDataError("AssociationFilter: the annotation's variant_index must refer to "
                                 f"the {G.shape[1]} columns of G.")
        p = allelic_association(G, y.astype(np.int64))["p"].to_numpy()
        self.p_values_ = p
        pa = np.where(np.isfinite(p[annotated]), p[annotated], np.inf)
        order = annotated[np.argsort(pa, kind="stable")]
        if self.top_k is not None:
            keep = order[: int(self.top_k)]
        elif self.top_genes is not None:
            best = (pd.DataFrame({"gene": ann["gene"].to_numpy(),
                                  "p": np.nan_to_num(p[ann["variant_index"].to_numpy()],
                                                     nan=np.inf)})
                    .groupby("gene", sort=False)["p"].min().sort_values(kind="stable"))
            genes = best.index[: int(self.top_genes)]
            keep = np.unique(ann.loc[ann["gene"].isin(genes), "variant_index"].to_numpy())
        elif self.p_threshold is not None:
            keep = annotated[pa < float(self.p_threshold)]
            if keep.size < int(self.min_snps):
                keep = order[: int(self.min_snps)]
        else:
            keep = annotated
        keep = np.sort(keep)
        self.selected_ = keep
        sub = ann[ann["variant_index"].isin(keep)].copy()
        sub["variant_index"] = np.searchsorted(keep, sub["variant_index"].to_numpy())
        Gs = G[:, keep]
        self.imputer_ = MeanImputer(all_missing="zero").fit(Gs)
        self.gene_pca_ = GenePCA().fit(self.imputer_.transform(Gs), sub)
        self.feature_names_ = np.asarray(self.gene_pca_.feature_names_)
        self.feature_gene_ = np.asarray(self.gene_pca_.feature_gene_)
        self.n_features_in_ = int(G.shape[1])
        return self

    def transform(self, G) -> np.ndarray:
        """Gene-PCA features ``(n, n_features)`` float32 of the kept SNPs of ``G``."""
        check_is_fitted(self, "gene_pca_")
        G = np.asarray(G)
        if G.ndim != 2 or G.shape[1] != self.n_features_in_:
            raise InputDataError(f"AssociationFilter.transform: expected {self.n_features_in_} SNP "
                                 f"columns, got shape {G.shape}.")
        Gs = np.asarray(G[:, self.selected_], dtype=np.float32)
        return np.ascontiguousarray(self.gene_pca_.transform(self.imputer_.transform(Gs)),
                                    dtype=np.float32)

    def describe(self) -> str:
        """One line: the rule and how many SNPs and genes it kept."""
        check_is_fitted(self, "gene_pca_")
        rule = (f"top {self.top_k} SNPs" if self.top_k is not None else
                f"top {self.top_genes} genes" if self.top_genes is not None else
                f"p < {self.p_threshold:g}" if self.p_threshold is not None else "no filter")
        return (f"{rule}: {self.selected_.size} SNPs in {len(set(self.feature_gene_))} genes, "
                f"{self.feature_names_.size} features")
