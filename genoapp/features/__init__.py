"""Gene-level features: SNP-to-gene annotation, SNP windows, mean imputation, Gene-PCA, All-PCA.

Typical use (DESIGN §4.2; fit on training rows, transform all)::

    ann = annotate_snps(variants, genes)            # long table, one row per (SNP, gene)
    warnings = check_build(variants, annotation=ann, build="GRCh37")
    res = gene_pca_features(G_or_bed, ann, fit_rows=train)   # impute, fit, project: one pass
    res.X                                           # (n_samples, n_features), "chr:GENE:pc"

or the whole feature step of the app (:func:`build_features`: annotation, imputation and Gene-PCA
or All-PCA fitted on the training rows of a split, :class:`FeatureSet`), or step by step with the scikit-learn style transformers::

    imp = MeanImputer().fit(X[train])               # training means only
    Xi = imp.transform(X)
    gp = GenePCA().fit(Xi[train], ann)              # per-gene PCA, k = 8 / 4 / 1
    F = gp.transform(Xi)
    A = AllPCA(n_components=500).fit(Xi[train]).transform(Xi)   # one PCA of all SNPs

Covariates (:func:`covariate_design`): numeric columns as they are, categorical columns one-hot
against their most frequent level, levels fixed on the training rows; as model inputs
(:func:`fit_covariate_inputs`), with training-sample PCs and training standardisation.
"""

from genoapp.features.allpca import AllPCA
from genoapp.features.annotation import (
    ANNOTATION_COLUMNS,
    annotate_snps,
    annotation_summary,
    check_build,
    gene_keys,
    normalize_chrom,
    snp_windows,
)
from genoapp.features.build import (
    FeatureConfig,
    FeatureSet,
    build_features,
    default_all_pca_components,
    feature_input_name,
)
from genoapp.features.covariates import (
    COVARIATE_GROUP,
    CovariateColumn,
    CovariateDesign,
    CovariateInputs,
    covariate_design,
    fit_covariate_inputs,
)
from genoapp.features.genepca import (
    GenePCA,
    GenePCAResult,
    gene_pca_features,
    gene_pca_k,
    gene_pca_transform,
)
from genoapp.features.impute import MeanImputer

__all__ = [
    "ANNOTATION_COLUMNS",
    "AllPCA",
    "COVARIATE_GROUP",
    "CovariateColumn",
    "CovariateDesign",
    "CovariateInputs",
    "FeatureConfig",
    "FeatureSet",
    "build_features",
    "default_all_pca_components",
    "feature_input_name",
    "GenePCA",
    "GenePCAResult",
    "MeanImputer",
    "annotate_snps",
    "annotation_summary",
    "check_build",
    "covariate_design",
    "fit_covariate_inputs",
    "gene_keys",
    "gene_pca_features",
    "gene_pca_k",
    "gene_pca_transform",
    "normalize_chrom",
    "snp_windows",
]
