"""End-to-end analyses over the layers: the one protocol, the one model registry, the presets,
the case/control and quantitative-trait workflows and the run configuration the CLI and the
pages share.

- :mod:`~genoapp.workflows.protocol`: outer splits x seeds x tuning inside the training part,
  for both tasks (:func:`run_protocol`, :class:`ProtocolResult`).
- :mod:`~genoapp.workflows.registry`: every model as a :class:`ModelSpec` (:func:`model_specs`).
- :mod:`~genoapp.workflows.presets`: "quick" (Teaching demo) and "paper" settings.
- :mod:`~genoapp.workflows.qc`: the QC page's leakage-safe flow (:func:`run_qc_workflow`).
- :mod:`~genoapp.workflows.casecontrol`: features -> model comparison (:func:`compare_models`).
- :mod:`~genoapp.workflows.quantitative`: GRVSNN and its baselines (:func:`run_quantitative`).
- :mod:`~genoapp.workflows.insights`: Capsule insights against permuted-label networks
  (:func:`~genoapp.workflows.insights.capsule_insights`).
- :mod:`~genoapp.workflows.config`: the whole pipeline as one JSON configuration
  (:func:`run_pipeline`).
"""

from genoapp.workflows.presets import PRESETS, RUN_CONFIGS, protocol_config, run_config
from genoapp.workflows.protocol import (
    ModelSpec,
    ProtocolConfig,
    ProtocolResult,
    comparison_table,
    run_protocol,
    summarize,
)
from genoapp.workflows.qc import QCWorkflowConfig, QCWorkflowResult, run_qc_workflow
from genoapp.workflows.registry import MODEL_NAMES, available_models, model_specs

__all__ = [
    "MODEL_NAMES",
    "PRESETS",
    "RUN_CONFIGS",
    "ModelSpec",
    "ProtocolConfig",
    "ProtocolResult",
    "QCWorkflowConfig",
    "QCWorkflowResult",
    "available_models",
    "comparison_table",
    "model_specs",
    "protocol_config",
    "run_config",
    "run_protocol",
    "run_qc_workflow",
    "summarize",
]
