"""Saved runs: run directories with models, config, record, results and log; reopen, predict,
share.

- :func:`save_run` writes a :class:`genoapp.workflows.ProtocolResult` of either analysis
  (case/control or quantitative; ``kind`` in ``run.json``) with every model (torch files read
  back by their format string, or joblib), the config, a record of versions, seeds, devices and
  input hashes, the tables, the analysis log and one :class:`FeatureProjector` per input;
  atomic and crash-safe.
- :func:`list_runs`, :func:`open_run` reopen them without retraining; :meth:`Run.predict`
  scores new individuals from any genotype format (PLINK 1, VCF/BCF, .pgen, BGEN) with the
  saved QC variant list (harmonised by :func:`harmonise_variants`: chrom:pos:alleles or ID,
  swaps, strand flips, strand-ambiguous SNPs; reported in a :class:`MatchReport`), imputation
  and feature projection fitted on the run's training samples; :func:`incomplete_runs` and
  :func:`remove_incomplete` deal with what killed runs left behind.
- :func:`run_pipeline` runs a whole configuration (:class:`genoapp.workflows.config.RunConfig`)
  into a run directory (the CLI's ``run``); :func:`save_casecontrol` and
  :func:`save_quantitative` are what the pages call.
- :func:`make_bundle`, :func:`load_bundle` zip a run (with its HTML report) and unpack one
  elsewhere, with checked paths and size limits.
"""

from genoapp.runs.bundle import load_bundle, make_bundle
from genoapp.runs.pipeline import run_pipeline, save_casecontrol, save_quantitative
from genoapp.runs.projection import (
    FeatureProjector,
    MatchReport,
    VariantMatch,
    align_genotypes,
    harmonise_variants,
    match_variants,
)
from genoapp.runs.store import (
    RUN_FORMAT,
    Run,
    array_sha256,
    check_runs_dir,
    default_runs_dir,
    incomplete_runs,
    list_runs,
    open_run,
    remove_incomplete,
    resolve_runs_dir,
    save_run,
)

__all__ = [
    "RUN_FORMAT",
    "FeatureProjector",
    "MatchReport",
    "Run",
    "VariantMatch",
    "align_genotypes",
    "array_sha256",
    "check_runs_dir",
    "default_runs_dir",
    "harmonise_variants",
    "incomplete_runs",
    "list_runs",
    "load_bundle",
    "make_bundle",
    "match_variants",
    "open_run",
    "remove_incomplete",
    "resolve_runs_dir",
    "run_pipeline",
    "save_casecontrol",
    "save_quantitative",
    "save_run",
]
