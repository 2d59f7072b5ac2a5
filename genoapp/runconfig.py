"""The case/control pipeline as one JSON-able configuration, run headless (CLI, scripts).

The app records the configuration of every training in its run (``run.json`` key
``pipeline_config``); :func:`run_pipeline` runs the same steps with the same functions the
pages call (Data -> QC -> Features -> Train, then the run directory), so a saved run is
reproduced with identical metrics on the same machine (same seeds, same thread count):

1. data: the built-in demo cohort or a PLINK fileset with phenotype/covariate tables, and
   the sample selection (phenotype, batch column, batches, sexes);
2. QC: :func:`genoapp.qc.run_qc_workflow` with a :class:`~genoapp.qc.QCWorkflowConfig`;
3. features: :func:`genoapp.pipeline.build_features` with a
   :class:`~genoapp.pipeline.FeatureConfig` (gene table path and format), plus All-PCA
   features when asked;
4. training: :func:`genoapp.pipeline.compare_models` (models, preset, protocol settings,
   per-model overrides) and :func:`genoapp.pipeline.save_comparison`.

Presets: ``"teaching-demo"`` (the demo cohort, DiseaseCapsule and logistic regression, the
quick protocol) and ``"paper"`` (every model, Gene-PCA vs All-PCA, the paper's settings).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from genoapp.errors import ConfigError

__all__ = ["PRESET_CONFIGS", "preset_run_config", "read_run_config", "run_pipeline"]

_TEACHING = {
    "label": "Teaching demo",
    "data": {"source": "demo"},
    "selection": {"phenotype": None, "batch_column": None, "batches": None, "sexes": None},
    "qc": {},  # QCWorkflowConfig defaults (the QC page's defaults)
    "features": {"config": {}, "gene_table": None, "gene_format": "auto"},
    "train": {"models": ["capsule", "logreg"], "preset": "quick", "protocol": None,
              "overrides": {"capsule": {"epochs": 10}}, "all_pca": False},
}
_PAPER = {
    **copy.deepcopy(_TEACHING),
    "label": "Paper settings",
    "train": {"models": None, "preset": "paper", "protocol": None, "overrides": {}, "all_pca": True},
}
#: Named starting points (``python -m genoapp config --preset NAME`` prints one).
PRESET_CONFIGS = {"teaching-demo": _TEACHING, "paper": _PAPER}


def preset_run_config(name: str) -> dict:
    """A copy of a preset configuration (see :data:`PRESET_CONFIGS`).

    Raises
    ------
    ConfigError
        Unknown preset name.
    """
    if name not in PRESET_CONFIGS:
        raise ConfigError(f"preset: {name!r} is not a preset; choose one of {sorted(PRESET_CONFIGS)}.")
    return copy.deepcopy(PRESET_CONFIGS[name])


def read_run_config(path) -> dict:
    """Read a pipeline configuration from a JSON file, a run's ``run.json`` or a run directory.

    Raises
    ------
    ConfigError
        Missing or unreadable file, or a run without a recorded configuration.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "run.json"
    try:
        obj = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p}: cannot read a JSON configuration ({exc}).") from exc
    if "pipeline_config" in obj:  # a run record
        obj = obj["pipeline_config"]
    elif obj.get("format") == "genoapp-run":
        raise ConfigError(f"{p}: this run has no recorded pipeline configuration (made by an "
                          "older genoapp, or outside the app); write one with "
                          "`python -m genoapp config`.")
    missing = [k for k in ("data", "qc", "features", "train") if k not in obj]
    if missing:
        raise ConfigError(f"{p}: not a genoapp pipeline configuration; missing keys {missing}.")
    return obj


def qc_config_from_dict(d: dict):
    """:class:`~genoapp.qc.QCWorkflowConfig` from its ``dataclasses.asdict`` form."""
    from genoapp.qc import QCConfig
    from genoapp.qc.workflow import QCWorkflowConfig

    d = dict(d or {})
    kw = {k: v for k, v in d.items() if k != "qc"}
    if "gwas_covariates" in kw:
        kw["gwas_covariates"] = tuple(kw["gwas_covariates"] or ())
    if "qc" in d:
        kw["qc"] = QCConfig(**d["qc"])
    return QCWorkflowConfig(**kw)


def _protocol(train: dict):
    from genoapp.models.zoo import preset_config

    proto = train.get("protocol")
    if not proto:
        return preset_config(train.get("preset", "quick"))
    proto = dict(proto)
    proto["seeds"] = tuple(proto.get("seeds", (0,)))
    return preset_config(train.get("preset", "quick"), **proto)


def run_pipeline(config: dict, *, runs_dir=None, data_overrides: dict | None = None,
                 on_event: Callable | None = None,
                 progress: Callable[[str, float, str], None] | None = None):
    """Run the case/control pipeline headless from a configuration and save the run.

    Parameters
    ----------
    config : dict
        ``data``, ``selection``, ``qc``, ``features``, ``train`` and ``label`` (see the module
        docstring; :func:`read_run_config` reads one).
    runs_dir : path-like, optional
        Where the run directory is written (default :func:`genoapp.runs.default_runs_dir`).
    data_overrides : dict, optional
        Replace file paths of ``config["data"]`` (``bed``, ``phenotypes``, ``covariates``), e.g.
        for a run whose files were uploaded to the app.
    on_event : callable(dict), optional
        Training events (:func:`genoapp.train.protocol.run_protocol`).
    progress : callable(step, fraction, message), optional
        Progress of the QC and feature steps.

    Returns
    -------
    (pathlib.Path, genoapp.pipeline.TrainResult)
        The run directory and the result.

    Raises
    ------
    ConfigError, InputDataError
        Invalid settings or input files (messages name the file or setting).
    """
    from genoapp.cohort import Cohort
    from genoapp.demo import HG19_GENES, load_demo_cohort
    from genoapp.io import read_gene_table
    from genoapp.pipeline import (
        FeatureConfig,
        build_features,
        compare_models,
        feature_input_name,
        save_comparison,
    )
    from genoapp.qc.workflow import run_qc_workflow
    from genoapp.train import device_description, resolve_device

    def prog(step):
        return (lambda f, msg: progress(step, float(f), msg)) if progress else None

    data = {**config.get("data", {}), **(data_overrides or {})}
    if data.get("source") == "demo":
        from genoapp.demo import DEMO_BATCH, DEMO_PHENOTYPE

        cohort = load_demo_cohort()
        defaults = {"phenotype": DEMO_PHENOTYPE, "batch_column": DEMO_BATCH}
    else:
        if not data.get("bed"):
            raise ConfigError("data: no PLINK fileset ('bed'); the run's files were uploaded to the "
                              "app, so give their paths (CLI: --bed, --pheno, --covar).")
        cohort = Cohort.from_files(data["bed"], phenotypes=data.get("phenotypes"),
                                   covariates=data.get("covariates"), name=Path(data["bed"]).name)
        defaults = {}
    sel = {**defaults, **{k: v for k, v in (config.get("selection") or {}).items() if v is not None}}
    if not sel.get("phenotype"):
        raise ConfigError("selection: no phenotype column given.")
    selected = cohort.select(batch_column=sel.get("batch_column"), batches=sel.get("batches"),
                             sexes=sel.get("sexes"), require_phenotype=sel["phenotype"])
    y, _ = selected.phenotype(sel["phenotype"])
    batch_col = sel.get("batch_column")
    batch = selected.samples[batch_col].to_numpy() if batch_col else None

    qc_cfg = qc_config_from_dict(config.get("qc"))
    wf = run_qc_workflow(selected, y, batch=batch, config=qc_cfg, progress=prog("QC"))

    feats = config.get("features") or {}
    fcfg = FeatureConfig(**(feats.get("config") or {}))
    genes = None
    if fcfg.kind == "genes":
        genes = read_gene_table(feats.get("gene_table") or HG19_GENES, format=feats.get("gene_format", "auto"))
    fs = build_features(wf.G, wf.variants, wf.split, genes=genes, config=fcfg, progress=prog("Features"))
    train = config.get("train") or {}
    inputs = {feature_input_name(fs): fs}
    if train.get("all_pca"):
        all_kw = train.get("all_pca_config") or {}
        n_fit = len(wf.split.train_idx) if fcfg.fit_on == "train" else len(wf.split.y)
        all_cfg = FeatureConfig(**{"kind": "windows", "window_snps": 20, "method": "all_pca",
                                   "fit_on": fcfg.fit_on,
                                   "n_components": int(max(1, min(fs.X.shape[1], n_fit - 1, wf.G.shape[1]))),
                                   **all_kw})
        inputs["All-PCA"] = build_features(wf.G, wf.variants, wf.split, config=all_cfg)
    proto = _protocol(train)
    overrides = copy.deepcopy(train.get("overrides") or {})
    if (overrides.get("prs") or {}).get("clump"):
        overrides["prs"]["variants"] = wf.variants[["chrom", "pos"]]
    result = compare_models(inputs, wf.split, snps=wf.G, models=train.get("models"),
                            preset=train.get("preset", "quick"), config=proto, overrides=overrides,
                            on_event=on_event)
    summary = wf.summary()
    extra = {"device_description": device_description(resolve_device(proto.device)),
             "qc": summary.astype(object).where(summary.notna(), None).to_dict("records"),
             "pipeline_config": config}
    run_dir = save_comparison(result, inputs, qc_variants=wf.variants, root=runs_dir,
                              samples=wf.samples, split=wf.split, snps=wf.G,
                              label=config.get("label") or "headless run", extra=extra)
    return run_dir, result


def config_dict(obj) -> dict:
    """``dataclasses.asdict`` of a settings dataclass, with tuples as lists (JSON-able)."""
    return json.loads(json.dumps(dataclasses.asdict(obj), default=list))
