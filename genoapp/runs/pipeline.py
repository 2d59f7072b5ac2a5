"""Run a whole analysis from its configuration into a run directory (the CLI's ``run``).

:func:`run_pipeline` takes a :class:`genoapp.workflows.config.RunConfig` (filled by the pages,
recorded in every run, read back by ``python -m genoapp run --config``) and calls the same
functions as the pages, then the one run writer (:func:`genoapp.runs.save_run`), so a saved
run is reproduced with identical metrics on the same machine.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from genoapp.cohort import Cohort
from genoapp.demo import DEMO_BATCH, DEMO_PHENOTYPE, HG19_GENES, load_demo_cohort
from genoapp.device import device_description, resolve_device
from genoapp.errors import ConfigError
from genoapp.execution import ExecutionSetting, current_executor, use_executor
from genoapp.features.build import FeatureConfig, build_features, feature_input_name
from genoapp.io import read_gene_table
from genoapp.logs import capture_log, get_logger
from genoapp.runs.projection import FeatureProjector
from genoapp.runs.store import check_runs_dir, save_run
from genoapp.workflows.casecontrol import all_pca_config, compare_models
from genoapp.workflows.config import RunConfig, protocol_for, qc_config
from genoapp.workflows.protocol import SNP_INPUT
from genoapp.workflows.qc import run_qc_workflow
from genoapp.workflows.quantitative import demo_paths, load_quantitative_data, run_quantitative

__all__ = ["run_pipeline", "save_casecontrol", "save_quantitative"]

_log = get_logger(__name__)


def _asdict(obj) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(obj), default=list))


def _path(value):
    """A data path of the configuration (absolute, or ``root:relative`` under a data root)."""
    if value is None:
        return None
    try:
        from genoapp.io.roots import from_root_relative
    except ImportError:  # pragma: no cover - older io without data roots
        return value
    return from_root_relative(value)


def run_pipeline(config, *, runs_dir=None, data_overrides: dict | None = None,
                 on_event: Callable | None = None,
                 progress: Callable[[str, float, str], None] | None = None, stop=None):
    """Run a whole analysis headless from a configuration and save the run.

    The analysis runs inside :func:`genoapp.execution.use_executor`: the configuration's
    ``execution`` (``"local:N"``: a Dask cluster started for this run and closed after it; a
    scheduler address), or the executor already current when the configuration says
    ``"in-process"`` or names that same one. The run record (``run.json``) stores where it ran
    (``execution``: ``cluster``, ``n_workers``, ``dashboard``).

    Parameters
    ----------
    config : RunConfig or dict
        See :class:`RunConfig` (:func:`read_run_config` reads one).
    runs_dir : path-like, optional
        Where the run directory is written (default :func:`genoapp.runs.default_runs_dir`);
        checked for writability and free space before any work starts.
    data_overrides : dict, optional
        Replace file paths of ``config.data`` (``bed``, ``phenotypes``, ``covariates``,
        ``pedigree``, ``grm``), e.g. for a run whose files were uploaded to the app.
    on_event : callable(dict), optional
        Training events (:func:`genoapp.workflows.protocol.run_protocol`).
    progress : callable(step, fraction, message), optional
        Progress of the QC and feature steps.
    stop : genoapp.train.StopFlag, optional

    Returns
    -------
    (pathlib.Path, ProtocolResult)
        The run directory and the result.

    Raises
    ------
    ConfigError, InputDataError
        Invalid settings or input files (messages name the file or setting), or a Dask
        scheduler that does not answer.
    StorageError
        The runs folder cannot be written (checked first).
    """
    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    check_runs_dir(runs_dir)
    with use_executor(_executor_for(cfg)) as ex, capture_log() as log:
        _log.info("genoapp run: %s (%s), jobs: %s", cfg.label or "headless run", cfg.kind,
                  ex.setting)
        if cfg.kind == "quantitative":
            return _run_quantitative(cfg, runs_dir, data_overrides, on_event, stop, log)
        return _run_casecontrol(cfg, runs_dir, data_overrides, on_event, progress, stop, log)


def _executor_for(cfg: RunConfig):
    """Where the run's jobs go: the executor already current when it matches the config's
    ``execution`` or the config says in-process (the default: e.g. the CLI's ``--cluster`` or
    the app's sidebar opened one), else the config's setting, opened for this run."""
    setting = ExecutionSetting.parse(cfg.execution)
    cur = current_executor()
    if not setting.distributed or str(cur.setting) == str(setting):
        return cur
    return setting


def _execution_record() -> dict:
    """``Executor.describe()`` of the current executor (the run record's ``execution``)."""
    ex = current_executor()
    try:
        return ex.describe()
    except Exception:  # noqa: BLE001 - a scheduler gone away must not lose the run
        return {"cluster": str(ex.setting), "n_workers": None, "dashboard": None}


def _run_casecontrol(cfg, runs_dir, data_overrides, on_event, progress, stop, log):
    def prog(step):
        return (lambda f, msg: progress(step, float(f), msg)) if progress else None

    data = {**cfg.data, **(data_overrides or {})}
    if data.get("source") == "demo":
        cohort = load_demo_cohort()
        defaults = {"phenotype": DEMO_PHENOTYPE, "batch_column": DEMO_BATCH}
    else:
        if not data.get("bed"):
            raise ConfigError("data: no genotype file ('bed'); the run's files were uploaded to the "
                              "app, so give their paths (CLI: --genotypes, --pheno, --covar).")
        bed = _path(data["bed"])
        cohort = Cohort.from_files(bed, phenotypes=_path(data.get("phenotypes")),
                                   covariates=_path(data.get("covariates")), name=Path(bed).name,
                                   read_options=data.get("genotype_options"))
        defaults = {}
    sel = {**defaults, **{k: v for k, v in (cfg.selection or {}).items() if v is not None}}
    if not sel.get("phenotype"):
        raise ConfigError("selection: no phenotype column given.")
    selected = cohort.select(batch_column=sel.get("batch_column"), batches=sel.get("batches"),
                             sexes=sel.get("sexes"), require_phenotype=sel["phenotype"])
    y, _ = selected.phenotype(sel["phenotype"])
    batch_col = sel.get("batch_column")
    batch = selected.samples[batch_col].to_numpy() if batch_col else None
    wf = run_qc_workflow(selected, y, batch=batch, config=qc_config(cfg.qc), progress=prog("QC"))
    feats = cfg.features or {}
    fcfg = FeatureConfig(**(feats.get("config") or {}))
    genes = None
    if fcfg.kind == "genes":
        genes = read_gene_table(_path(feats.get("gene_table")) or HG19_GENES,
                                format=feats.get("gene_format", "auto"))
    fs = build_features(wf.G, wf.variants, wf.split, genes=genes, config=fcfg,
                        progress=prog("Features"))
    train = cfg.train or {}
    inputs = {feature_input_name(fs): fs}
    if train.get("all_pca"):
        all_cfg = all_pca_config(fs, wf.G.shape[1])
        if train.get("all_pca_config"):
            all_cfg = FeatureConfig(**train["all_pca_config"])
        inputs["All-PCA"] = build_features(wf.G, wf.variants, wf.split, config=all_cfg)
    proto = protocol_for(train, "classification")
    overrides = copy.deepcopy(train.get("overrides") or {})
    if (overrides.get("prs") or {}).get("clump"):
        overrides["prs"]["variants"] = wf.variants[["chrom", "pos"]]
    result = compare_models(inputs, wf.split, snps=wf.G, models=train.get("models"),
                            preset=train.get("preset", "quick"), config=proto,
                            overrides=overrides, phenotype=sel["phenotype"],
                            association=train.get("association", "none"),
                            covariates=tuple(train.get("covariates") or ()),
                            covariate_pcs=int(train.get("covariate_pcs") or 0),
                            samples=wf.samples, on_event=on_event, stop=stop)
    run_dir = save_casecontrol(result, inputs, wf, runs_dir=runs_dir, config=cfg, log=log,
                               device=device_description(resolve_device(proto.device)))
    return run_dir, result


def save_casecontrol(result, features: dict, qc, *, runs_dir=None, config: RunConfig | None = None,
                     log=None, device: str = "", label: str | None = None):
    """Save a case/control :class:`~genoapp.workflows.ProtocolResult` as a run directory.

    Parameters
    ----------
    result : ProtocolResult
    features : dict of str -> FeatureSet
        The inputs given to :func:`~genoapp.workflows.casecontrol.compare_models`.
    qc : genoapp.workflows.QCWorkflowResult
        The QC'd cohort the features were built from (variant list, samples, dosages).
    runs_dir : path-like, optional
    config : RunConfig, optional
        Recorded as ``pipeline_config`` (what ``python -m genoapp run --config`` reruns).
    log : list of str, optional
    device : str
        Device description for the record.
    label : str, optional
        Default the configuration's label.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    StorageError
        The runs folder cannot be written.
    """
    # an input rebuilt inside every fold (nested association filter) is fed raw dosages: its
    # saved models carry their fold's fitted stage
    staged = {name for name, *_ in result.stages}
    projectors = {name: (FeatureProjector.for_snps(qc.variants, name=name) if name in staged
                         else FeatureProjector.from_feature_set(f, qc.variants, name=name))
                  for name, f in features.items()}
    projectors[SNP_INPUT] = FeatureProjector.for_snps(qc.variants)
    summary = qc.summary()
    extra = {"device_description": device, "execution": _execution_record(),
             "qc": summary.astype(object).where(summary.notna(), None).to_dict("records"),
             "features": {name: _asdict(f.config) for name, f in features.items()},
             "n_qc_variants": int(len(qc.variants)), "_labels": qc.split.y}
    if config is not None:
        extra["pipeline_config"] = config.to_dict()
    return save_run(result, runs_dir, projectors=projectors, samples=qc.samples,
                    inputs={**{n: (qc.G if n in staged else f.X) for n, f in features.items()},
                            SNP_INPUT: qc.G},
                    label=label or (config.label if config else "") or "case/control run",
                    extra=extra, log=log)


def _run_quantitative(cfg, runs_dir, data_overrides, on_event, stop, log):
    data = {**cfg.data, **(data_overrides or {})}
    if data.get("source") == "demo":
        p = demo_paths()
        cohort = load_quantitative_data(p["bed"], phenotypes=p["phenotypes"], grm=p["grm"],
                                        name="BGLR mice (built-in example)")
    else:
        if not data.get("bed") or not data.get("phenotypes"):
            raise ConfigError("data: a quantitative run needs 'bed' and 'phenotypes' (CLI: "
                              "--genotypes, --pheno).")
        bed = _path(data["bed"])
        cohort = load_quantitative_data(
            bed, phenotypes=_path(data["phenotypes"]), covariates=_path(data.get("covariates")),
            pedigree=_path(data.get("pedigree")),
            grm=_path(data.get("grm")), relationship_scope=data.get("relationship_scope", "all"),
            pedigree_options=data.get("pedigree_options"), name=Path(bed).name,
            read_options=data.get("genotype_options"))
    train = cfg.train or {}
    inputs = cfg.inputs or {}
    proto = protocol_for(train, "regression")
    sets = inputs.get("sets") or (["markers + loadings"] if cohort.relationship is not None
                                  else ["markers"])
    result = run_quantitative(
        cohort, traits=cfg.traits, models=train.get("models") or ("grvsnn", "ridge"),
        input_sets=sets, preset=train.get("preset", "quick"), config=proto,
        n_components=inputs.get("n_components", "elbow"), overrides=train.get("overrides"),
        covariates=tuple(train.get("covariates") or ()),
        covariate_pcs=int(train.get("covariate_pcs") or 0), on_event=on_event, stop=stop)
    run_dir = save_quantitative(result, cohort, runs_dir=runs_dir, config=cfg, log=log,
                                device=device_description(resolve_device(proto.device)))
    return run_dir, result


def file_sha256(path) -> str | None:
    """SHA-256 of an input file (None when it is not a readable file)."""
    import hashlib

    try:
        p = Path(path)
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except (OSError, TypeError):
        return None


def save_quantitative(result, cohort, *, runs_dir=None, config: RunConfig | None = None,
                      log=None, device: str = "", label: str | None = None):
    """Save a quantitative :class:`~genoapp.workflows.ProtocolResult` as a run directory.

    The "markers" input gets a projector (the marker list), so its models can score new
    individuals; inputs with loadings cannot (new individuals have no loadings).
    """

    projectors = {}
    if "markers" in result.inputs:
        projectors["markers"] = FeatureProjector.for_snps(cohort.variants, name="markers")
    extra = {"data": {"name": cohort.name, "n_samples": cohort.n_samples,
                      "n_markers": cohort.n_variants,
                      "relationship": cohort.relationship_source,
                      "sha256": {k: file_sha256(v) for k, v in cohort.files.items()}},
             "device_description": device, "execution": _execution_record()}
    if config is not None:
        extra["pipeline_config"] = config.to_dict()
    return save_run(result, runs_dir, projectors=projectors, samples=cohort.samples[["FID", "IID"]],
                    label=label or (config.label if config else "") or "quantitative traits",
                    extra=extra, log=log)
