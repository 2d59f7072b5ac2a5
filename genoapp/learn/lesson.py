"""The sequence-to-phenotype lesson end to end: prepared data -> CNN -> scores -> interpretation.

:func:`run_sequence_lesson` is what the Learn page calls (and the benchmark on the thesis' own
data): it trains :class:`genoapp.models.seqcnn.SequenceCNNRegressor` on the fitted rows of a
:class:`~genoapp.learn.sequences.PreparedSequences`, stops early on the validation rows,
scores the test rows once, then interprets the model by gradient saliency (all training
sequences) and in-silico mutagenesis (a seeded subset of them), see
:mod:`genoapp.interpret.saliency`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import mean_squared_error, r2_score

from genoapp.errors import ConfigError
from genoapp.interpret.saliency import (
    causal_recovery,
    in_silico_mutagenesis,
    ism_logo_matrix,
    ism_position_scores,
    position_saliency,
    position_table,
)
from genoapp.learn.sequences import PreparedSequences
from genoapp.models.seqcnn import SequenceCNNRegressor

__all__ = ["LessonConfig", "LessonResult", "run_sequence_lesson"]


@dataclass
class LessonConfig:
    """Settings of the lesson (defaults: the thesis' model, sized to run on a CPU in < 2 min).

    Attributes
    ----------
    conv_activation : {"linear", "relu"}, default "linear"
        "linear" = no activation after the convolution, as in the thesis.
    epochs : int, default 30
        Maximum number of epochs, a CPU budget: on the thesis-sized simulation (seed 0) the
        best validation MSE is 0.165 by epoch 28 and 0.162 by epoch 38; on the thesis' own
        data early stopping ends training at epoch 32 with the best weights from epoch 22.
    batch_size : int, default 32
        Keras' default.
    learning_rate : float, default 1e-3
        Adam (Keras' default).
    patience : int, default 10
        Early stopping on the validation loss; the best epoch's weights are restored.
    dropout : float, default 0.05
    n_ism : int, default 200
        Training sequences used for in-silico mutagenesis (``3 L`` forward passes each).
    top : int, default 20
        Positions listed in the top table and drawn in the sequence logo.
    device : str, default "auto"
    random_state : int, default 0
        Seeds the network, the batch order and the ISM subset.
    """

    conv_activation: str = "linear"
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 10
    dropout: float = 0.05
    n_ism: int = 200
    top: int = 20
    device: str = "auto"
    random_state: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LessonResult:
    """Everything the lesson shows.

    Attributes
    ----------
    config : LessonConfig
    prepared : PreparedSequences
        The data, split and scaler used.
    model : SequenceCNNRegressor
        Fitted on standardised phenotypes of ``prepared.train_idx``.
    history : pandas.DataFrame
        One row per epoch: ``epoch``, ``train_loss``, ``val_loss`` (MSE, standardised units),
        ``lr``, ``seconds``.
    y_test, y_pred : numpy.ndarray
        Shape (n_test,): observed and predicted test phenotypes, original units.
    metrics : dict
        ``r2`` (test R^2, ``sklearn.metrics.r2_score``), ``mse`` (test MSE in standardised units,
        the scale the network is trained on), ``mse_original`` (phenotype units^2), ``pearson_r``,
        ``n_test``, ``best_epoch``, ``epochs_run``.
    saliency : numpy.ndarray
        Shape (L,): gradient saliency averaged over the fitted training sequences.
    ism_rows : numpy.ndarray
        Training rows used for ISM.
    ism_delta : numpy.ndarray
        Shape (n_ism, L, 4): effect of each substitution, phenotype units.
    ism : numpy.ndarray
        Shape (L,): ISM position scores, phenotype units.
    logo : pandas.DataFrame
        Shape (L, 4), index = position, columns A, C, G, T: centred mean effect of each
        nucleotide (phenotype units), see :func:`genoapp.interpret.saliency.ism_logo_matrix`.
    causal : numpy.ndarray or None
        Known causal positions (truth of simulated data, or given for loaded data).
    recovery : dict or None
        ``{"saliency": dict, "ism": dict}`` from
        :func:`genoapp.interpret.saliency.causal_recovery` with ``k = len(causal)``.
    table : pandas.DataFrame
        Top positions (see :func:`genoapp.interpret.saliency.position_table`).
    seconds : dict
        Wall-clock seconds: ``train``, ``saliency``, ``ism``, ``total``.
    """

    config: LessonConfig
    prepared: PreparedSequences
    model: SequenceCNNRegressor
    history: pd.DataFrame
    y_test: np.ndarray
    y_pred: np.ndarray
    metrics: dict
    saliency: np.ndarray
    ism_rows: np.ndarray
    ism_delta: np.ndarray
    ism: np.ndarray
    logo: pd.DataFrame
    causal: np.ndarray | None
    recovery: dict | None
    table: pd.DataFrame
    seconds: dict = field(default_factory=dict)

    def metrics_table(self) -> pd.DataFrame:
        """Test metrics as a two-column table (``metric``, ``value``)."""
        labels = {"r2": "test R²", "mse": "test MSE (standardised phenotype)",
                  "mse_original": "test MSE (phenotype units²)", "pearson_r": "test Pearson r",
                  "n_test": "test sequences", "best_epoch": "best epoch (weights kept)",
                  "epochs_run": "epochs run"}
        return pd.DataFrame({"metric": [labels[k] for k in labels],
                             "value": [self.metrics[k] for k in labels]})

    def recovery_table(self) -> pd.DataFrame | None:
        """Causal positions among the top k, per method, with the random expectation."""
        if self.recovery is None:
            return None
        rows = []
        for method, label in (("saliency", "gradient saliency"), ("ism", "in-silico mutagenesis")):
            r = self.recovery[method]
            rows.append({"method": label, "top_k": r["k"], "causal_found": r["hits"],
                         "n_causal": r["n_causal"], "random_expectation": r["expected"],
                         "p_value": r["p_value"],
                         "found": ", ".join(str(p) for p in r["found"])})
        return pd.DataFrame(rows)


def _check_config(config: LessonConfig) -> None:
    if not isinstance(config, LessonConfig):
        raise ConfigError(f"config: expected a LessonConfig, got {type(config).__name__}.")
    for name in ("n_ism", "top"):
        v = getattr(config, name)
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ConfigError(f"{name}: must be a positive integer, got {v!r}.")


def run_sequence_lesson(prepared: PreparedSequences, *, config: LessonConfig | None = None,
                        callbacks=(), causal_loci=None) -> LessonResult:
    """Train the thesis CNN and interpret it, without touching the test set before scoring.

    Parameters
    ----------
    prepared : PreparedSequences
        From :func:`genoapp.learn.prepare_sequences` (split and training-only scaler).
    config : LessonConfig, optional
        Defaults: ``LessonConfig()``.
    callbacks : sequence of :class:`genoapp.train.Callback`
        E.g. a live progress display or a stop button.
    causal_loci : array-like of int, optional
        Known causal positions; default the simulated truth's (``prepared.data.truth``), if any.

    Returns
    -------
    LessonResult

    Raises
    ------
    ConfigError
        Bad settings (see :class:`LessonConfig` and
        :class:`~genoapp.models.seqcnn.SequenceCNNRegressor`).
    InputDataError
        Causal loci outside the sequences.
    """
    config = LessonConfig() if config is None else config
    _check_config(config)
    t0 = time.perf_counter()
    X, ys = prepared.X, prepared.y_scaled
    tr, va, te = prepared.train_idx, prepared.val_idx, prepared.test_idx
    model = SequenceCNNRegressor(
        conv_activation=config.conv_activation, dropout=config.dropout,
        learning_rate=config.learning_rate, epochs=config.epochs, batch_size=config.batch_size,
        patience=config.patience, device=config.device, random_state=config.random_state,
    )
    model.fit(X[tr], ys[tr], X_val=X[va], y_val=ys[va], callbacks=callbacks)
    t_train = time.perf_counter() - t0

    sd = float(prepared.scaler.scale_[0])
    pred_s = model.predict(X[te])
    y_pred = prepared.scaler.inverse_transform(pred_s.reshape(-1, 1)).ravel()
    y_test = prepared.y[te]
    r = stats.pearsonr(y_test, y_pred).statistic if np.std(y_pred) > 0 else float("nan")
    metrics = {
        "r2": float(r2_score(y_test, y_pred)),
        "mse": float(mean_squared_error(ys[te].astype(np.float64), pred_s)),
        "mse_original": float(mean_squared_error(y_test, y_pred)),
        "pearson_r": float(r),
        "n_test": int(te.size),
        "best_epoch": model.best_epoch_,
        "epochs_run": len(model.history_),
    }

    t1 = time.perf_counter()
    saliency = position_saliency(model, X[tr])
    t2 = time.perf_counter()
    rng = np.random.default_rng(config.random_state)
    ism_rows = np.sort(rng.choice(tr, size=min(int(config.n_ism), tr.size), replace=False))
    delta = in_silico_mutagenesis(model, X[ism_rows]) * sd
    ism = ism_position_scores(delta)
    t3 = time.perf_counter()
    L = X.shape[1]
    logo = pd.DataFrame(ism_logo_matrix(delta), index=pd.RangeIndex(L, name="position"),
                        columns=["A", "C", "G", "T"])

    truth = prepared.data.truth
    causal = causal_loci
    if causal is None and truth is not None:
        causal = truth.causal_loci
    recovery = None
    if causal is not None:
        causal = np.unique(np.asarray(causal, dtype=np.int64))
        recovery = {"saliency": causal_recovery(saliency, causal),
                    "ism": causal_recovery(ism, causal)}
    reference = truth.reference if truth is not None else _consensus(X[tr])
    table = position_table(saliency, ism, reference=reference, causal=causal, top=config.top)
    return LessonResult(
        config=config, prepared=prepared, model=model,
        history=pd.DataFrame.from_records(model.history_), y_test=y_test, y_pred=y_pred,
        metrics=metrics, saliency=saliency, ism_rows=ism_rows, ism_delta=delta, ism=ism,
        logo=logo, causal=causal, recovery=recovery, table=table,
        seconds={"train": t_train, "saliency": t2 - t1, "ism": t3 - t2,
                 "total": time.perf_counter() - t0},
    )


def _consensus(X: np.ndarray) -> str:
    """Most frequent nucleotide per position (ties: A, C, G, T order)."""
    return "".join("ACGT"[i] for i in X.sum(axis=0).argmax(axis=1))
