"""Saved runs: run directories with models, config, record and results; reopen and predict.

- :func:`save_run` writes a comparison (:class:`genoapp.train.protocol.ProtocolResult`) with
  every model (torch ``state_dict`` files or joblib), the config, a record of versions, seeds,
  devices and input hashes, the tables, and one :class:`FeatureProjector` per input; atomic.
- :func:`list_runs`, :func:`open_run` reopen them without retraining; :meth:`Run.predict`
  scores new individuals from a PLINK fileset with the saved QC variant list, imputation and
  feature projection fitted on the run's training samples.
- :func:`make_bundle`, :func:`load_bundle` zip a run (with its HTML report) and unpack one
  elsewhere.
"""

from genoapp.runs.bundle import load_bundle, make_bundle
from genoapp.runs.projection import FeatureProjector, MatchReport, align_genotypes, match_variants
from genoapp.runs.store import (
    RUN_FORMAT,
    Run,
    array_sha256,
    default_runs_dir,
    list_runs,
    open_run,
    save_run,
)

__all__ = [
    "FeatureProjector",
    "MatchReport",
    "align_genotypes",
    "match_variants",
    "RUN_FORMAT",
    "Run",
    "array_sha256",
    "default_runs_dir",
    "list_runs",
    "load_bundle",
    "make_bundle",
    "open_run",
    "save_run",
]
