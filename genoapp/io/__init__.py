"""Input/output: PLINK 1 binary filesets, sample tables, gene tables and ID reconciliation.

Conventions: genotypes are dosages of the counted allele **A1** (column 5 of the .bim, as
PLINK), float32 with ``NaN`` = missing (int8 with ``-127`` on the light path). Sample tables
carry ``FID`` and ``IID`` as strings; samples are matched on the (FID, IID) pair.
"""

from genoapp.io.genes import chrom_order, read_gene_table
from genoapp.io.plink import (
    PlinkGenotypes,
    open_plink,
    plink_paths,
    read_bim,
    read_fam,
    write_plink,
)
from genoapp.io.tables import (
    MISSING_VALUES,
    BinaryCoding,
    IdReport,
    coerce_binary,
    is_binary_trait,
    normalize_sample_table,
    read_covariates,
    read_phenotypes,
    read_sample_table,
    reconcile_ids,
)

__all__ = [
    "MISSING_VALUES",
    "BinaryCoding",
    "IdReport",
    "PlinkGenotypes",
    "chrom_order",
    "coerce_binary",
    "is_binary_trait",
    "normalize_sample_table",
    "open_plink",
    "plink_paths",
    "read_bim",
    "read_covariates",
    "read_fam",
    "read_gene_table",
    "read_phenotypes",
    "read_sample_table",
    "reconcile_ids",
    "write_plink",
]
