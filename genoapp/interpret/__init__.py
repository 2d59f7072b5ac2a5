"""Interpretation of trained models (DESIGN §4.4): coupling summaries, the one-gene-only gene
scan, core genes, masked accuracy with random-set nulls, permuted-label reference networks
(coupling and gene scan against a null), the non-additive gene search and known-truth recall."""

from genoapp.interpret.core import CoreGenes, core_genes, core_genes_against_null
from genoapp.interpret.coupling import (
    CouplingSummary,
    coupling_summary,
    mean_coupling_by_label,
    strongest_case_type,
)
from genoapp.interpret.forward import GeneIndex
from genoapp.interpret.masking import (
    NullResult,
    accuracy_vs_n_genes,
    masked_class_scores,
    masked_coupling,
    masked_metrics,
    one_gene_auc,
    permutation_null,
    random_gene_sets,
)
from genoapp.interpret.nonadditive import (
    GAConfig,
    GAResult,
    RetrainResult,
    masked_linear_predictions,
    retrain_on_genes,
    search_nonadditive_genes,
)
from genoapp.interpret.null import (
    CouplingNull,
    coupling_against_null,
    gene_prediction_null,
    gene_scan_null,
    null_gene_scans,
    null_score_deviations,
    permuted_label_networks,
)
from genoapp.interpret.scan import FeatureTable, GeneScanResult, gene_scan, select_rows
from genoapp.interpret.truth import planted_recall

__all__ = [
    "CouplingSummary",
    "coupling_summary",
    "mean_coupling_by_label",
    "strongest_case_type",
    "GeneIndex",
    "FeatureTable",
    "GeneScanResult",
    "select_rows",
    "gene_scan",
    "CoreGenes",
    "core_genes",
    "core_genes_against_null",
    "permuted_label_networks",
    "CouplingNull",
    "coupling_against_null",
    "null_gene_scans",
    "null_score_deviations",
    "gene_prediction_null",
    "gene_scan_null",
    "masked_class_scores",
    "one_gene_auc",
    "masked_metrics",
    "masked_coupling",
    "random_gene_sets",
    "NullResult",
    "permutation_null",
    "accuracy_vs_n_genes",
    "GAConfig",
    "GAResult",
    "search_nonadditive_genes",
    "masked_linear_predictions",
    "RetrainResult",
    "retrain_on_genes",
    "planted_recall",
]
