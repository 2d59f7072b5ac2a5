"""Input/output: genotype files, sample tables, gene tables and ID reconciliation.

Genotypes: PLINK 1 .bed/.bim/.fam (:mod:`genoapp.io.plink`), and VCF/BCF, PLINK 2 .pgen and
BGEN 1.2 (:mod:`genoapp.io.formats`: read in blocks, converted once to a cached PLINK 1 fileset;
:func:`open_genotypes` opens any of them).

Conventions: genotypes are dosages of the counted allele **A1** (column 5 of the .bim, as
PLINK), float32 with ``NaN`` = missing (int8 with ``-127`` on the light path). Sample tables
carry ``FID`` and ``IID`` as strings; samples are matched on the (FID, IID) pair.

Paths typed by a user of the app are confined to the data roots (:mod:`genoapp.io.roots`)
before any reader sees them; error messages quote file content only as short, sanitised
excerpts (:mod:`genoapp.io.sanitize`). Sanity checks of a variants table (impossible
positions, duplicate IDs) are in :mod:`genoapp.io.checks`.
"""

from genoapp.io.checks import (
    check_positions,
    deduplicate_variant_ids,
    duplicate_variant_ids,
    duplicate_variant_ids_message,
)
from genoapp.io.formats import (
    GENOTYPE_FORMATS,
    ReadOptions,
    ReadReport,
    detect_genotype_format,
    open_genotypes,
    read_genotypes,
)
from genoapp.io.genes import chrom_order, read_gene_table
from genoapp.io.plink import (
    PlinkGenotypes,
    open_plink,
    plink_paths,
    read_bim,
    read_fam,
    write_plink,
)
from genoapp.io.roots import (
    data_roots,
    describe_roots,
    from_root_relative,
    relative_to_root,
    resolve_data_path,
    resolve_grm_prefix,
    resolve_plink_prefix,
)
from genoapp.io.tables import (
    MISSING_VALUES,
    BinaryCoding,
    IdReport,
    all_missing_messages,
    coerce_binary,
    is_binary_trait,
    normalize_sample_table,
    read_covariates,
    read_phenotypes,
    read_sample_table,
    reconcile_ids,
)

__all__ = [
    "GENOTYPE_FORMATS",
    "MISSING_VALUES",
    "BinaryCoding",
    "IdReport",
    "PlinkGenotypes",
    "ReadOptions",
    "ReadReport",
    "all_missing_messages",
    "check_positions",
    "chrom_order",
    "coerce_binary",
    "data_roots",
    "deduplicate_variant_ids",
    "detect_genotype_format",
    "describe_roots",
    "duplicate_variant_ids",
    "duplicate_variant_ids_message",
    "from_root_relative",
    "is_binary_trait",
    "normalize_sample_table",
    "open_genotypes",
    "open_plink",
    "plink_paths",
    "read_bim",
    "read_covariates",
    "read_fam",
    "read_gene_table",
    "read_genotypes",
    "read_phenotypes",
    "read_sample_table",
    "reconcile_ids",
    "relative_to_root",
    "resolve_data_path",
    "resolve_grm_prefix",
    "resolve_plink_prefix",
    "write_plink",
]
