"""Gene-level features: SNP-to-gene annotation, SNP windows, mean imputation, Gene-PCA.

Typical use (DESIGN §4.2; fit on training rows, transform all)::

    ann = annotate_snps(variants, genes)            # long table, one row per (SNP, gene)
    imp = MeanImputer().fit(X[train])               # training means only
    Xi = imp.transform(X)
    gp = GenePCA().fit(Xi[train], ann)              # per-gene PCA, k = 8 / 4 / 1
    F = gp.transform(Xi)                            # (n_samples, n_features), "chr:GENE:pc"
"""

from genoapp.features.annotation import (
    ANNOTATION_COLUMNS,
    annotate_snps,
    annotation_summary,
    gene_keys,
    normalize_chrom,
    snp_windows,
)
from genoapp.features.genepca import GenePCA, gene_pca_k
from genoapp.features.impute import MeanImputer

__all__ = [
    "ANNOTATION_COLUMNS",
    "GenePCA",
    "MeanImputer",
    "annotate_snps",
    "annotation_summary",
    "gene_keys",
    "gene_pca_k",
    "normalize_chrom",
    "snp_windows",
]
