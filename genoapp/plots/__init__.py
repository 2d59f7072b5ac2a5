"""Pure plotting functions: each takes results and returns a ``plotly.graph_objects.Figure``.

They never show or save a figure; the UI adds display and download buttons.
"""

from genoapp.plots.capsule import coupling_heatmap
from genoapp.plots.data import cases_controls_bar
from genoapp.plots.features import explained_variance_histogram, snps_per_gene_histogram
from genoapp.plots.qc import qc_funnel, rate_histogram
from genoapp.plots.training import confusion_matrix_figure, roc_curves, training_curves

__all__ = [
    "cases_controls_bar",
    "confusion_matrix_figure",
    "coupling_heatmap",
    "explained_variance_histogram",
    "qc_funnel",
    "rate_histogram",
    "roc_curves",
    "snps_per_gene_histogram",
    "training_curves",
]
