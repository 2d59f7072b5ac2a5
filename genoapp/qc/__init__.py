"""Quality control of genotype data with PLINK 1.9 semantics.

This version: sample call rate (``--mind``), variant call rate (``--geno``) and minor allele
frequency (``--maf``) filters, applied in PLINK's order by :func:`run_qc`, with the count and IDs
removed at each step. See :mod:`genoapp.qc.basic` for the exact semantics.
"""

from genoapp.qc.basic import (
    MISSING_INT,
    SMALL_EPSILON,
    QCConfig,
    QCResult,
    QCStep,
    allele_frequency,
    minor_allele_frequency,
    run_qc,
    sample_missing_rate,
    variant_missing_rate,
)

__all__ = [
    "MISSING_INT",
    "SMALL_EPSILON",
    "QCConfig",
    "QCResult",
    "QCStep",
    "allele_frequency",
    "minor_allele_frequency",
    "run_qc",
    "sample_missing_rate",
    "variant_missing_rate",
]
