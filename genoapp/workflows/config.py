"""The whole pipeline as one configuration, filled by the pages and read by the CLI.

:class:`RunConfig` is the one settings object of an analysis: the app's pages fill its
sections as the user goes (Data: ``data`` and ``selection``; QC: ``qc``; Features:
``features``; Train or Quantitative traits: ``train``, ``traits``, ``inputs``), every saved run
records it (``run.json`` key ``pipeline_config``), and ``python -m genoapp run --config`` reads
it back and runs :func:`genoapp.runs.pipeline.run_pipeline`, which calls the same functions as
the pages, so a saved run is reproduced with identical metrics on the same machine (same seeds,
same thread count).

Two kinds (``kind``):

``"casecontrol"``
    data (the built-in demo cohort or a PLINK fileset with phenotype/covariate tables) and the
    sample selection -> :func:`~genoapp.workflows.qc.run_qc_workflow` ->
    :func:`~genoapp.features.build_features` (+ All-PCA when asked) ->
    :func:`~genoapp.workflows.casecontrol.compare_models` -> the run directory.
``"quantitative"``
    data (the built-in mice or files, with a pedigree or GRM) ->
    :func:`~genoapp.workflows.quantitative.run_quantitative` -> the run directory.

Presets (``python -m genoapp config --preset NAME``): :data:`genoapp.workflows.presets.RUN_CONFIGS`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

from genoapp.errors import ConfigError

__all__ = ["RunConfig", "protocol_for", "qc_config", "read_run_config"]

_KINDS = ("casecontrol", "quantitative")


def _asdict(obj) -> dict:
    """``dataclasses.asdict`` with tuples as lists (JSON-able)."""
    return json.loads(json.dumps(dataclasses.asdict(obj), default=list))


@dataclasses.dataclass
class RunConfig:
    """One analysis, every setting (JSON-able with :meth:`to_dict`).

    Attributes
    ----------
    kind : {"casecontrol", "quantitative"}
    label : str
    data : dict
        ``source`` ("demo" or "files"); with files ``bed`` (genotypes: PLINK 1 prefix, VCF/BCF,
        .pgen or BGEN), ``genotype_options`` (:class:`~genoapp.io.ReadOptions` fields), ``phenotypes``,
        ``covariates`` (covariate table), ``pedigree`` or ``grm``, ``relationship_scope``,
        ``pedigree_options`` (quantitative). Paths may be relative to a data root
        (``root-name:relative/path``).
    selection : dict
        Case/control: ``phenotype``, ``batch_column``, ``batches``, ``sexes``.
    qc : dict
        :class:`~genoapp.workflows.qc.QCWorkflowConfig` settings (``{}`` = the QC page's
        defaults).
    features : dict
        ``config`` (:class:`~genoapp.features.FeatureConfig` settings), ``gene_table``,
        ``gene_format``.
    train : dict
        ``models`` (keys; None = all of the kind), ``preset`` ("quick"/"paper"), ``protocol``
        (:class:`~genoapp.workflows.protocol.ProtocolConfig` settings replacing the preset's,
        or None), ``overrides`` (fixed model parameters by key), ``all_pca`` (case/control:
        also every model on All-PCA), ``all_pca_config``, ``association`` (case/control:
        "nested" or "none"), ``covariates`` (sample-table columns appended to every feature
        input as model inputs, coded on the training samples; samples lacking one are left
        out) and ``covariate_pcs`` (PCs of the genotypes appended too; case/control: a PCA
        of the training samples).
    traits : list of str
        Quantitative: the traits.
    inputs : dict
        Quantitative: ``sets`` (input sets) and ``n_components`` (rank m of the loadings).
    execution : str, default "in-process"
        Where the embarrassingly parallel jobs run (:class:`genoapp.execution.ExecutionSetting`):
        ``"in-process"``, ``"local:N"`` (a Dask ``LocalCluster`` of N worker processes) or the
        address of a running Dask scheduler (``"tcp://host:8786"``). Results do not depend on
        it. CLI: ``--cluster``.
    """

    kind: str = "casecontrol"
    label: str = ""
    data: dict = dataclasses.field(default_factory=lambda: {"source": "demo"})
    selection: dict = dataclasses.field(default_factory=dict)
    qc: dict = dataclasses.field(default_factory=dict)
    features: dict = dataclasses.field(default_factory=dict)
    train: dict = dataclasses.field(default_factory=dict)
    traits: list = dataclasses.field(default_factory=list)
    inputs: dict = dataclasses.field(default_factory=dict)
    execution: str = "in-process"

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ConfigError(f"kind: one of {_KINDS}, got {self.kind!r}.")
        from genoapp.execution import ExecutionSetting

        self.execution = str(ExecutionSetting.parse(self.execution))  # ConfigError if invalid

    def to_dict(self) -> dict:
        """Plain JSON-able dict (the ``pipeline_config`` of a run record)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=_default))

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        """Read a configuration dict (unknown top-level keys are refused).

        Raises
        ------
        ConfigError
            Unknown keys or kind.
        """
        d = copy.deepcopy(dict(d))
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"pipeline configuration: unknown keys {unknown}; known: "
                              f"{sorted(names)}.")
        return cls(**d)

    # sections filled from the settings objects of the pages ---------------------------
    def set_qc(self, qc_config) -> RunConfig:
        """Record a :class:`~genoapp.workflows.qc.QCWorkflowConfig`."""
        self.qc = _asdict(qc_config)
        return self

    def set_features(self, feature_config, *, gene_table=None, gene_format: str = "auto") -> RunConfig:
        """Record a :class:`~genoapp.features.FeatureConfig` and the gene table used."""
        self.features = {"config": _asdict(feature_config),
                         "gene_table": None if gene_table is None else str(gene_table),
                         "gene_format": gene_format}
        return self


def _default(o):
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, tuple | set):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    return str(o)


def read_run_config(path) -> RunConfig:
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
    if not isinstance(obj, dict):
        raise ConfigError(f"{p}: not a genoapp pipeline configuration (not a JSON object).")
    if "pipeline_config" in obj:  # a run record
        obj = obj["pipeline_config"]
    elif obj.get("format") == "genoapp.run":
        raise ConfigError(f"{p}: this run has no recorded pipeline configuration (made by an "
                          "older genoapp, or outside the app); write one with "
                          "`python -m genoapp config`.")
    needed = ("data", "train") if obj.get("kind") == "quantitative" else ("data", "qc", "features", "train")
    missing = [k for k in needed if k not in obj]
    if missing:
        raise ConfigError(f"{p}: not a genoapp pipeline configuration; missing keys {missing}.")
    obj.setdefault("kind", "casecontrol")
    return RunConfig.from_dict(obj)


def qc_config(d: dict):
    """:class:`~genoapp.workflows.qc.QCWorkflowConfig` from its ``to_dict`` form (``{}`` = the
    QC page's defaults)."""
    from genoapp.qc import QCConfig
    from genoapp.workflows.qc import QCWorkflowConfig

    d = dict(d or {})
    kw = {k: v for k, v in d.items() if k != "qc"}
    if "gwas_covariates" in kw:
        kw["gwas_covariates"] = tuple(kw["gwas_covariates"] or ())
    if "qc" in d:
        kw["qc"] = QCConfig(**d["qc"])
    return QCWorkflowConfig(**kw)


def protocol_for(train: dict, task: str):
    """The :class:`~genoapp.workflows.protocol.ProtocolConfig` of a ``train`` section: the
    preset's, with the section's ``protocol`` settings over it."""
    from genoapp.workflows.presets import protocol_config

    proto = dict(train.get("protocol") or {})
    proto.pop("task", None)
    return protocol_config(train.get("preset", "quick"), task, **proto)
