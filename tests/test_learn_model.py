"""Learn lesson: the thesis CNN, saliency, in-silico mutagenesis, recovery counts, the lesson run."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genoapp.errors import ConfigError, InputDataError
from genoapp.interpret.saliency import (
    causal_recovery,
    in_silico_mutagenesis,
    input_gradients,
    ism_logo_matrix,
    ism_position_scores,
    position_saliency,
    position_table,
    top_positions,
)
from genoapp.learn import (
    LessonConfig,
    one_hot,
    prepare_sequences,
    run_sequence_lesson,
    simulate_sequences,
)
from genoapp.models.seqcnn import SequenceCNN, SequenceCNNRegressor

pytestmark = pytest.mark.usefixtures("one_torch_thread_module")


def _random_one_hot(n, L, seed=0):
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(n, L))]


class OnePosition(nn.Module):
    """Output depends on position ``p`` only: linear (w . x_p) or a non-linear function of it."""

    def __init__(self, p, w, nonlinear=False):
        super().__init__()
        self.p = p
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float32))
        self.nonlinear = nonlinear

    def forward(self, x):
        z = x[:, self.p, :] @ self.w
        return torch.tanh(z) ** 2 + 0.5 * z if self.nonlinear else z


# ---------------------------------------------------------------- the CNN
def test_cnn_equals_conv1d_maxpool_reference():
    torch.manual_seed(0)
    for L, act in ((200, "linear"), (23, "relu")):
        m = SequenceCNN(L, conv_activation=act, n_filters=8).eval()
        x = torch.from_numpy(_random_one_hot(5, L))
        # reference: torch's own Conv1d and MaxPool1d on channels-first input (Keras semantics:
        # valid convolution, pool stride 4, remainder dropped), flattened position-major
        h = F.conv1d(x.transpose(1, 2), m.conv.weight, m.conv.bias)
        if act == "relu":
            h = F.relu(h)
        q = F.max_pool1d(h, 4)  # (B, C, P)
        assert q.shape[2] == (L - 2) // 4
        flat = q.transpose(1, 2).reshape(5, -1)
        ref = m.out(F.relu(m.dense3(F.softplus(m.dense2(F.relu(m.dense1(flat))))))).squeeze(-1)
        torch.testing.assert_close(m(x), ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(m.conv_features(x), h.transpose(1, 2), rtol=1e-5, atol=1e-5)
    # architecture of the thesis
    m = SequenceCNN(200)
    assert m.conv.weight.shape == (256, 4, 3) and m.dense1.in_features == 49 * 256
    assert [m.dense1.out_features, m.dense2.out_features, m.dense3.out_features] == [32, 8, 32]
    assert m.dropout.p == 0.05 and m.conv_activation == "linear"
    with pytest.raises(ConfigError, match="too short"):
        SequenceCNN(5)
    with pytest.raises(ConfigError, match="conv_activation"):
        SequenceCNN(20, conv_activation="tanh")


def test_regressor_learns_a_one_position_trait_and_is_deterministic():
    rng = np.random.default_rng(1)
    X = _random_one_hot(600, 20, seed=1)
    y = X[:, 7, :] @ np.array([2.0, -1.0, 0.5, -1.5]) + rng.normal(0, 0.1, 600)
    y = ((y - y.mean()) / y.std()).astype(np.float32)
    # pool_size=1: with the thesis' pool of 4 a 20-bp toy trait is learnt slowly (the max over 4
    # neighbouring windows blurs which position a filter saw); the lesson test uses the default
    kw = dict(n_filters=16, pool_size=1, epochs=25, batch_size=32, patience=5, device="cpu",
              random_state=3)
    a = SequenceCNNRegressor(**kw).fit(X[:400], y[:400], X_val=X[400:500], y_val=y[400:500])
    b = SequenceCNNRegressor(**kw).fit(X[:400], y[:400], X_val=X[400:500], y_val=y[400:500])
    pa, pb = a.predict(X[500:]), b.predict(X[500:])
    assert np.array_equal(pa, pb)  # same seed, same numbers
    assert a.score(X[500:], y[500:]) > 0.9
    assert a.device_ == "cpu" and a.n_positions_in_ == 20
    val = [h["val_loss"] for h in a.history_]
    assert a.best_epoch_ == int(np.argmin(val)) + 1  # best weights restored
    assert len(a.history_) <= 25
    if a.stopped_early_:
        assert len(a.history_) - a.best_epoch_ == 5
    # the module holds the best epoch's weights: its validation MSE is the best logged one
    pv = a.predict(X[400:500])
    assert np.mean((pv - y[400:500]) ** 2) == pytest.approx(min(val), rel=1e-4)
    sal = position_saliency(a, X[:200])
    assert int(np.argmax(sal)) == 7
    with pytest.raises(InputDataError, match="shape"):
        a.predict(X[:, :, :3])
    with pytest.raises(InputDataError, match="20 bp"):
        a.predict(_random_one_hot(3, 21))


def test_regressor_save_load_round_trip(tmp_path):
    from genoapp.models import load_model_file

    X = _random_one_hot(80, 12, seed=6)
    y = (X[:, 3, 0] - X[:, 5, 2]).astype(np.float32)
    m = SequenceCNNRegressor(n_filters=8, epochs=3, batch_size=16, device="cpu").fit(
        X[:60], y[:60], X_val=X[60:], y_val=y[60:])
    path = m.save(tmp_path / "seqcnn.pt")
    for loaded in (SequenceCNNRegressor.load(path, device="cpu"), load_model_file(path, device="cpu")):
        assert type(loaded) is SequenceCNNRegressor and loaded.get_params() == m.get_params()
        assert loaded.n_positions_in_ == loaded.n_features_in_ == 12
        assert loaded.history_ == m.history_ and loaded.best_epoch_ == m.best_epoch_
        np.testing.assert_array_equal(loaded.predict(X), m.predict(X))


# ---------------------------------------------------------------- saliency and ISM
@pytest.mark.parametrize("nonlinear", [False, True])
def test_saliency_ranks_the_only_position_that_matters_first(nonlinear):
    X = _random_one_hot(64, 30, seed=2)
    w = [1.0, -2.0, 0.5, 3.0]
    model = OnePosition(11, w, nonlinear=nonlinear)
    sal = position_saliency(model, X, batch_size=16)
    assert sal.shape == (30,)
    assert int(np.argmax(sal)) == 11 and top_positions(sal, 1).tolist() == [11]
    assert np.all(sal[np.arange(30) != 11] == 0.0) and sal[11] > 0
    if not nonlinear:  # gradient = w at position 11 for every sequence
        assert sal[11] == pytest.approx(np.mean(np.abs(w)))
        g = input_gradients(model, X[:3])
        np.testing.assert_allclose(g[:, 11, :], np.tile(w, (3, 1)))
    ism = ism_position_scores(in_silico_mutagenesis(model, X))
    assert int(np.argmax(ism)) == 11 and np.all(ism[np.arange(30) != 11] == 0.0)


def test_ism_known_answer_for_a_linear_model():
    X = _random_one_hot(10, 12, seed=3)
    w = np.array([1.0, -2.0, 0.5, 3.0])
    model = OnePosition(4, w.tolist())
    delta = in_silico_mutagenesis(model, X)
    own = X[:, 4, :].argmax(1)
    np.testing.assert_allclose(delta[:, 4, :], w[None, :] - w[own][:, None], atol=1e-6)
    assert np.all(delta[:, np.arange(12) != 4, :] == 0)
    # score: mean over sequences of mean |delta| over the 3 substitutions
    expected = np.mean([np.abs(w - w[o]).sum() / 3 for o in own])
    assert ism_position_scores(delta)[4] == pytest.approx(expected)
    logo = ism_logo_matrix(delta)
    np.testing.assert_allclose(logo[4], w - w.mean(), atol=1e-6)  # the centred true effects
    np.testing.assert_allclose(logo.sum(1), 0.0, atol=1e-9)
    with pytest.raises(InputDataError, match="one-hot"):
        in_silico_mutagenesis(model, X * 0.5)


def test_fast_ism_of_the_cnn_equals_evaluating_every_mutant():
    torch.manual_seed(4)
    for L, k, pool, act in ((200, 3, 4, "linear"), (23, 3, 4, "relu"), (30, 5, 2, "relu"),
                            (17, 2, 3, "linear")):
        m = SequenceCNN(L, kernel_size=k, pool_size=pool, conv_activation=act, n_filters=16)
        m.train()  # mode must not matter: both paths evaluate in eval mode
        X = _random_one_hot(6, L, seed=L)
        fast = in_silico_mutagenesis(m, X)
        slow = in_silico_mutagenesis(m, X, fast=False, batch_size=100)
        np.testing.assert_allclose(fast, slow, atol=2e-5)
        assert m.training


def test_recovery_counts_and_hypergeometric_p_value():
    scores = np.zeros(200)
    scores[[5, 9, 100, 150]] = [4.0, 3.0, 2.0, 1.0]
    r = causal_recovery(scores, [9, 150, 199], k=3)
    assert r["top"] == [5, 9, 100] and r["hits"] == 1 and r["found"] == [9]
    assert r["expected"] == pytest.approx(3 * 3 / 200)
    # P(X >= 1), X ~ hypergeometric(N=200, K=3 causal, n=3 drawn)
    assert r["p_value"] == pytest.approx(1 - comb(197, 3) / comb(200, 3))
    full = causal_recovery(np.arange(200.0)[::-1], list(range(16)))
    assert full["hits"] == 16 and full["expected"] == pytest.approx(1.28)
    assert full["p_value"] == pytest.approx(1 / comb(200, 16), rel=1e-6)
    with pytest.raises(InputDataError, match="causal"):
        causal_recovery(scores, [250])
    table = position_table(scores, scores[::-1], reference="A" * 200, causal=[9], top=2)
    assert table["position"].tolist()[:2] == [5, 9] and set(table["position"]) >= {194, 190}
    assert table.loc[table["position"] == 9, "causal"].item()


# ---------------------------------------------------------------- the lesson end to end
def test_lesson_runs_recovers_causal_loci_and_repeats_exactly():
    data = simulate_sequences(1200, length=40, n_causal=4, n_pairs=1, n_triples=0,
                              environment=0.5, random_state=0)
    prepared = prepare_sequences(data, random_state=0)
    config = LessonConfig(epochs=12, batch_size=32, n_ism=40, top=8, device="cpu",
                          random_state=0)
    a = run_sequence_lesson(prepared, config=config)
    b = run_sequence_lesson(prepared, config=config)
    assert a.metrics == b.metrics
    assert np.array_equal(a.saliency, b.saliency) and np.array_equal(a.ism, b.ism)
    assert a.metrics["r2"] > 0.5 and a.metrics["n_test"] == prepared.test_idx.size
    # the test rows were scored once, with the training-set scaler: R^2 is scale-free
    yt = data.phenotypes[prepared.test_idx]
    np.testing.assert_array_equal(a.y_test, yt)
    assert a.saliency.shape == (40,) and a.ism.shape == (40,) and a.logo.shape == (40, 4)
    assert a.ism_delta.shape == (40, 40, 4) and np.isin(a.ism_rows, prepared.train_idx).all()
    # 4 causal loci among 40 positions: a random top 4 holds 0.4 of them on average
    assert a.recovery["saliency"]["hits"] >= 2 and a.recovery["ism"]["hits"] >= 2
    causal = set(data.truth.causal_loci.tolist())
    assert set(top_positions(a.saliency, 2).tolist()) <= causal
    assert set(top_positions(a.ism, 2).tolist()) <= causal
    assert a.recovery["ism"]["expected"] == pytest.approx(4 * 4 / 40)
    assert set(a.recovery_table()["method"]) == {"gradient saliency", "in-silico mutagenesis"}
    assert list(a.history.columns[:3]) == ["epoch", "train_loss", "val_loss"]
    assert a.metrics_table()["metric"].iloc[0] == "test R²"
    # given loci override the truth; unknown truth without loci -> no recovery
    c = run_sequence_lesson(prepared, config=LessonConfig(epochs=1, n_ism=2, device="cpu"),
                            causal_loci=[0, 1])
    assert c.recovery["saliency"]["n_causal"] == 2
    with pytest.raises(ConfigError, match="n_ism"):
        run_sequence_lesson(prepared, config=LessonConfig(n_ism=0))
    assert one_hot(data.sequences[:1]).shape == (1, 40, 4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="GPU test: CUDA not available")
def test_cnn_on_cuda_matches_cpu_and_interprets():
    X = _random_one_hot(300, 30, seed=5)
    y = (X[:, 9, :] @ np.array([1.0, -1.0, 0.5, -0.5])).astype(np.float32)
    kw = dict(n_filters=16, pool_size=1, dropout=0.0, epochs=3, random_state=0)  # same init/order
    gpu = SequenceCNNRegressor(device="cuda", **kw).fit(X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    cpu = SequenceCNNRegressor(device="cpu", **kw).fit(X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    assert gpu.device_.startswith("cuda")
    pg, pc = gpu.predict(X), cpu.predict(X)
    assert np.corrcoef(pg, pc)[0, 1] > 0.999 and np.abs(pg - pc).max() < 0.05
    np.testing.assert_allclose(in_silico_mutagenesis(gpu, X[:5]),
                               in_silico_mutagenesis(gpu, X[:5], fast=False), atol=1e-4)
    assert position_saliency(gpu, X[:50]).shape == (30,)
