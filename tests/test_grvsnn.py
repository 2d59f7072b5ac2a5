"""GRVSNN: equations, shapes, masking of missing traits, selection, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoapp.errors import ConfigError, InputDataError
from genoapp.models.grvsnn import GRVSNNNet, GRVSNNRegressor, hard_sigmoid, masked_mse
from genoapp.train.callbacks import History


@pytest.fixture(autouse=True)
def _one_thread():
    """Small networks: one thread avoids contention on a loaded 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(n=240, p=40, seed=0, missing=0.0):
    rng = np.random.default_rng(seed)
    X = rng.binomial(2, 0.4, size=(n, p)).astype(float)
    beta = np.zeros(p)
    beta[:3] = [1.0, -1.0, 0.8]
    g = X @ beta
    Y = np.c_[g + 0.5 * rng.normal(size=n), 0.5 * g + 0.5 * rng.normal(size=n)]
    if missing:
        Y[rng.random(n) < missing, 1] = np.nan
    return X, Y


def test_forward_follows_the_equations():
    torch.manual_seed(0)
    net = GRVSNNNet(7, 3, n_hidden=5, dropout=0.0, gate="sigmoid").eval()
    x = torch.randn(4, 7)
    with torch.no_grad():
        f1 = torch.nn.functional.elu(net.fc1(x))
        f2 = net.fc2(f1)
        g = torch.sigmoid(net.gate(f2))
        z = g * net.value(f2) + (1 - g) * x
        zn = torch.nn.functional.layer_norm(z, (7,), net.norm.weight, net.norm.bias, net.norm.eps)
        w = torch.softmax(zn, dim=1)
        expected = net.out(w * zn)
        out = net(x)
        w_net, _ = net.selection(x)
    torch.testing.assert_close(out, expected)
    assert out.shape == (4, 3)
    torch.testing.assert_close(w_net.sum(dim=1), torch.ones(4))
    hard = GRVSNNNet(7, 3, n_hidden=5, gate="hard_sigmoid")
    assert hard(x).shape == (4, 3)
    with pytest.raises(ConfigError):
        GRVSNNNet(7, 3, gate="relu")


def test_hard_sigmoid_is_the_keras_definition():
    a = torch.tensor([-10.0, -2.5, 0.0, 1.0, 2.5, 10.0])
    torch.testing.assert_close(hard_sigmoid(a), torch.tensor([0.0, 0.0, 0.5, 0.7, 1.0, 1.0]))


def test_masked_loss_ignores_missing_traits():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    target = torch.tensor([[1.5, float("nan")], [2.0, 1.0], [5.0, float("nan")]])
    loss = masked_mse(pred, target)
    # trait 1: (0.25 + 1 + 0) / 3; trait 2: only row 2 observed: 9 / 1
    assert loss.item() == pytest.approx((0.25 + 1.0) / 3 + 9.0)
    loss.backward()
    assert pred.grad[0, 1] == 0 and pred.grad[2, 1] == 0 and pred.grad[1, 1] != 0
    empty = torch.full((2, 1), float("nan"))
    assert masked_mse(torch.zeros(2, 1), empty).item() == 0.0


def test_shapes_importance_and_selection():
    X, Y = _data()
    m = GRVSNNRegressor(n_hidden=8, max_epochs=15, patience=5, random_state=1).fit(X, Y)
    pred = m.predict(X[:10])
    assert pred.shape == (10, 2)
    assert m.feature_importances_.shape == (40,)
    assert m.feature_importances_.sum() == pytest.approx(1.0, abs=1e-6)
    assert m.selected_.dtype == bool and m.selected_.shape == (40,)
    assert m.n_selected_ == int((m.feature_importances_ >= 0.05).sum())
    assert m.selected_at(0.0).all() and not m.selected_at(1.01).any()
    rel = GRVSNNRegressor(n_hidden=8, max_epochs=3, importance_scale="max").fit(X, Y)
    assert rel.selected_[np.argmax(rel.feature_importances_)]  # the top input: 1.0 >= 0.05
    w = m.selection_weights(X[:5])
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    assert 1 <= m.best_epoch_ <= len(m.history_) and np.isfinite(m.best_val_loss_)
    assert {"train_loss", "val_loss", "lr"} <= set(m.history_[0])
    one = GRVSNNRegressor(n_hidden=4, max_epochs=3).fit(X, Y[:, 0])
    assert one.predict(X[:6]).shape == (6,)


def test_missing_trait_values_are_masked_in_training():
    X, Y = _data(missing=0.4)
    assert np.isnan(Y[:, 1]).sum() > 50
    m = GRVSNNRegressor(n_hidden=8, max_epochs=20, patience=5, random_state=0).fit(X, Y)
    assert np.isfinite(m.history_[-1]["train_loss"]) and np.isfinite(m.predict(X)).all()
    # rows with a missing trait are kept (their other trait still trains the network)
    hist = History()
    GRVSNNRegressor(n_hidden=8, max_epochs=2, validation_fraction=0.25,
                    random_state=0).fit(X, Y, callbacks=[hist])
    assert hist.info["n_train"] + hist.info["n_val"] == len(X)
    # traits standardised over observed values only
    np.testing.assert_allclose(m.y_mean_, np.nanmean(Y, axis=0))
    Y3 = Y.copy()
    Y3[:, 1] = np.nan
    Y3[:1, 1] = 1.0
    with pytest.raises(InputDataError, match="fewer than 2 observed"):
        GRVSNNRegressor(max_epochs=2).fit(X, Y3)


def test_reproducible_with_random_state_and_learns_a_signal():
    X, Y = _data(n=400, p=30)
    Xt, Yt = _data(n=200, p=30, seed=7)
    short = dict(n_hidden=8, max_epochs=5, batch_size=64)
    a = GRVSNNRegressor(random_state=3, **short).fit(X, Y)
    b = GRVSNNRegressor(random_state=3, **short).fit(X, Y)
    np.testing.assert_array_equal(a.predict(Xt), b.predict(Xt))
    c = GRVSNNRegressor(random_state=4, **short).fit(X, Y)
    assert not np.array_equal(a.predict(Xt), c.predict(Xt))
    m = GRVSNNRegressor(n_hidden=16, max_epochs=300, patience=25, learning_rate=1e-2,
                        batch_size=64, random_state=3).fit(X, Y)
    r = np.corrcoef(m.predict(Xt)[:, 0], Yt[:, 0])[0, 1]
    assert r > 0.6, r  # the genetic value explains ~0.8 of the variance of trait 1
    assert len(m.history_) < 300  # stopped early on the inner validation split


def test_input_errors():
    X, Y = _data(n=50, p=5)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputDataError, match="missing or infinite"):
        GRVSNNRegressor(max_epochs=1).fit(bad, Y)
    with pytest.raises(InputDataError, match="rows"):
        GRVSNNRegressor(max_epochs=1).fit(X, Y[:10])
    with pytest.raises(ConfigError, match="dropout"):
        GRVSNNRegressor(dropout=1.5).fit(X, Y)
    with pytest.raises(ConfigError, match="importance_scale"):
        GRVSNNRegressor(importance_scale="mean").fit(X, Y)
    m = GRVSNNRegressor(max_epochs=1, n_hidden=2).fit(X, Y)
    with pytest.raises(InputDataError, match="fitted on 5"):
        m.predict(X[:, :3])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GRVSNNRegressor().predict(X)


def test_explicit_validation_data_and_no_validation():
    X, Y = _data(n=120, p=10)
    m = GRVSNNRegressor(n_hidden=4, max_epochs=5).fit(X[:100], Y[:100], X_val=X[100:],
                                                      y_val=Y[100:])
    assert m.history_[0]["val_loss"] > 0
    n = GRVSNNRegressor(n_hidden=4, max_epochs=4, validation_fraction=0.0).fit(X, Y)
    assert len(n.history_) == 4 and n.best_epoch_ is None and np.isnan(n.best_val_loss_)


def test_save_load_round_trip(tmp_path):
    from genoapp.models import load_model_file

    X, Y = _data(n=120, p=10, missing=0.2)
    m = GRVSNNRegressor(n_hidden=4, max_epochs=6, importance_scale="max", device="cpu",
                        random_state=2).fit(X, Y)
    path = m.save(tmp_path / "grvsnn.pt")
    for loaded in (GRVSNNRegressor.load(path, device="cpu"), load_model_file(path, device="cpu")):
        assert type(loaded) is GRVSNNRegressor and loaded.get_params() == m.get_params()
        np.testing.assert_array_equal(loaded.predict(X), m.predict(X))
        np.testing.assert_array_equal(loaded.selection_weights(X), m.selection_weights(X))
        np.testing.assert_array_equal(loaded.feature_importances_, m.feature_importances_)
        np.testing.assert_array_equal(loaded.selected_, m.selected_)
        assert loaded.best_val_loss_ == m.best_val_loss_ and loaded.best_epoch_ == m.best_epoch_
        assert loaded.history_ == m.history_ and loaded.n_traits_ == 2
    one = GRVSNNRegressor(n_hidden=4, max_epochs=2, validation_fraction=0.0).fit(X, Y[:, 0])
    back = GRVSNNRegressor.load(one.save(tmp_path / "one.pt"), device="cpu")
    assert back.predict(X[:3]).shape == (3,) and np.isnan(back.best_val_loss_)
    from genoapp.models.seqcnn import SequenceCNNRegressor

    with pytest.raises(InputDataError, match="GRVSNNRegressor"):
        SequenceCNNRegressor.load(path)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    X, Y = _data(n=100, p=10)
    m = GRVSNNRegressor(n_hidden=4, max_epochs=3, device="cuda").fit(X, Y)
    assert m.device_.startswith("cuda") and m.predict(X).shape == (100, 2)
