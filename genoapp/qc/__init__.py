"""Quality control and association testing of genotype data with PLINK 1.9 semantics.

- :func:`run_qc` / :func:`run_qc_bed`: the QC funnel in PLINK's order (``--autosome``,
  ``--mind``, ``--geno``, ``--hwe``, ``--maf``, then differential missingness), optionally
  within strata, on a dense matrix or straight on the packed .bed bytes
  (:mod:`genoapp.qc.funnel`, :mod:`genoapp.qc.counts`).
- Exact tests: Hardy-Weinberg and 2x2 Fisher, with mid-p (:mod:`genoapp.qc.exact`).
- Association: allelic chi-squared (``--assoc``), logistic (``--logistic``) and linear
  (``--linear``) regression, genomic control (:mod:`genoapp.qc.assoc`).
- Batch-effect filter among controls (:mod:`genoapp.qc.batch`).
- The QC page's whole flow (split, batch filter, GWAS on training samples) is a workflow:
  :mod:`genoapp.workflows.qc`.
- Rate functions on dense matrices (:mod:`genoapp.qc.basic`).
- On a Dask cluster (:func:`genoapp.execution.use_executor`), the passes over a .bed and the
  regressions run per variant block on the workers, with identical results
  (:mod:`genoapp.qc.distributed`).
"""

from genoapp.qc.assoc import (
    allelic_association,
    allelic_test,
    allelic_test_bed,
    genomic_control_lambda,
    linear_association,
    logistic_association,
)
from genoapp.qc.basic import (
    MISSING_INT,
    SMALL_EPSILON,
    QCConfig,
    QCResult,
    QCStep,
    allele_frequency,
    minor_allele_frequency,
    sample_missing_rate,
    variant_missing_rate,
)
from genoapp.qc.batch import allele_counts_by_batch, batch_effect_test
from genoapp.qc.counts import GenotypeCounts, scan_bed, scan_dense
from genoapp.qc.exact import fisher_exact_2x2, hwe_exact
from genoapp.qc.funnel import autosome_mask, run_qc, run_qc_bed
from genoapp.qc.pca import sample_pca

__all__ = [
    "MISSING_INT",
    "SMALL_EPSILON",
    "GenotypeCounts",
    "QCConfig",
    "QCResult",
    "QCStep",
    "allele_counts_by_batch",
    "allelic_association",
    "allele_frequency",
    "allelic_test",
    "allelic_test_bed",
    "autosome_mask",
    "batch_effect_test",
    "fisher_exact_2x2",
    "genomic_control_lambda",
    "hwe_exact",
    "linear_association",
    "logistic_association",
    "minor_allele_frequency",
    "run_qc",
    "run_qc_bed",
    "sample_missing_rate",
    "sample_pca",
    "scan_bed",
    "scan_dense",
    "variant_missing_rate",
]
