"""Figures for the Train step: learning curves, ROC curves, confusion matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve


def training_curves(history) -> go.Figure:
    """Loss and accuracy per epoch.

    Parameters
    ----------
    history : list of dict or pandas.DataFrame
        One record per epoch with ``epoch``, ``train_loss``, ``train_accuracy`` and optionally
        ``val_loss``, ``val_accuracy`` (the trainer's history).

    Returns
    -------
    plotly.graph_objects.Figure
        Two panels: loss (left) and accuracy (right).
    """
    h = pd.DataFrame(history)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    colors = {"train": "#4c78a8", "val": "#e45756"}
    names = {"train": "training", "val": "validation"}
    for part in ("train", "val"):
        for col, metric in ((1, "loss"), (2, "accuracy")):
            key = f"{part}_{metric}"
            if key in h and h[key].notna().any():
                fig.add_scatter(x=h["epoch"], y=h[key], mode="lines+markers", name=names[part],
                                line_color=colors[part], legendgroup=part, showlegend=(col == 1),
                                row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(template="plotly_white", title="Learning curves")
    return fig


def roc_curves(y_true, scores: dict) -> go.Figure:
    """ROC curves of several models on the same samples.

    Parameters
    ----------
    y_true : array-like
        Shape (n,), 1 = case, 0 = control.
    scores : dict of str -> array-like
        Model name -> case score, shape (n,) (higher = more likely a case).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    y = np.asarray(y_true)
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                    name="chance", showlegend=False)
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y, np.asarray(s))
        auc = roc_auc_score(y, np.asarray(s))
        fig.add_scatter(x=fpr, y=tpr, mode="lines", name=f"{name} (AUC {auc:.3f})")
    fig.update_layout(title="ROC curves on the test set", xaxis_title="false positive rate",
                      yaxis_title="true positive rate", template="plotly_white")
    return fig


def confusion_matrix_figure(y_true, y_pred, *, title: str = "Confusion matrix") -> go.Figure:
    """Confusion matrix as an annotated heatmap (rows = true, columns = predicted).

    Parameters
    ----------
    y_true, y_pred : array-like
        Shape (n,), 1 = case, 0 = control.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    cm = confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=[0, 1])
    labels = ["control", "case"]
    fig = go.Figure(go.Heatmap(z=cm, x=labels, y=labels, colorscale="Blues", showscale=False,
                               text=cm, texttemplate="%{text}"))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true",
                      yaxis_autorange="reversed", template="plotly_white", width=380, height=340)
    return fig
