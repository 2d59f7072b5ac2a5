"""GRVSNN: equations, shapes, masking of missing traits, selection, reproducibility; the
linear path (ridge) and the selection against permuted traits of genoapp's default."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoapp.errors import ConfigError, InputDataError
from genoapp.models.callbacks import History
from genoapp.models.grvsnn import GRVSNNNet, GRVSNNRegressor, hard_sigmoid, masked_mse


@pytest.fixture(autouse=True)
def _one_thread():
    """Small networks: one thread avoids contention on a loaded 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: the paper's equations (no linear path, selection weights summing to 1)
PAPER = {"linear_path": False, "weight_scale": "sum", "importance_scale": "sum"}


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
    m = GRVSNNRegressor(n_hidden=8, max_epochs=15, patience=5, random_state=1,
                        **PAPER).fit(X, Y)
    pred = m.predict(X[:10])
    assert pred.shape == (10, 2)
    assert m.feature_importances_.shape == (40,)
    assert m.feature_importances_.sum() == pytest.approx(1.0, abs=1e-6)
    assert m.selected_.dtype == bool and m.selected_.shape == (40,)
    assert m.n_selected_ == int((m.feature_importances_ >= 0.05).sum())
    assert m.selected_at(0.0).all() and not m.selected_at(1.01).any()
    rel = GRVSNNRegressor(n_hidden=8, max_epochs=3, **{**PAPER, "importance_scale": "max"}
                          ).fit(X, Y)
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
    short = dict(n_hidden=8, max_epochs=5, batch_size=64, **PAPER)
    a = GRVSNNRegressor(random_state=3, **short).fit(X, Y)
    b = GRVSNNRegressor(random_state=3, **short).fit(X, Y)
    np.testing.assert_array_equal(a.predict(Xt), b.predict(Xt))
    c = GRVSNNRegressor(random_state=4, **short).fit(X, Y)
    assert not np.array_equal(a.predict(Xt), c.predict(Xt))
    m = GRVSNNRegressor(n_hidden=16, max_epochs=300, patience=25, learning_rate=1e-2,
                        batch_size=64, random_state=3, **PAPER).fit(X, Y)
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


def test_linear_path_alone_reproduces_ridge():
    """With the network's part switched off (its weight s = 0, or untrained: the output layer
    starts at 0), the default GRVSNN is the ridge regression (GBLUP) fitted on the same rows."""
    from genoapp.models.ridge import RidgeGBLUP

    X, Y = _data(n=200, p=60, seed=3)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    m = GRVSNNRegressor(n_hidden=8, max_epochs=5, standardize=False, random_state=0)
    m.fit(Xs[:150], Y[:150, 0], X_val=Xs[150:], y_val=Y[150:, 0])
    ridge = RidgeGBLUP().fit(Xs, Y[:, 0])   # the linear path sees the validation rows too
    assert m.linear_alpha_[0] == pytest.approx(ridge.alpha_)
    np.testing.assert_allclose(m.linear_coef_[:, 0], ridge.coef_, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        m.model_.residual_scale.zero_()
    np.testing.assert_allclose(m.predict(Xs), ridge.predict(Xs), rtol=1e-4, atol=1e-4)
    untrained = GRVSNNRegressor(n_hidden=8, max_epochs=1, learning_rate=1e-12,
                                standardize=False, validation_fraction=0.0).fit(Xs, Y[:, 0])
    np.testing.assert_allclose(untrained.predict(Xs), RidgeGBLUP().fit(Xs, Y[:, 0]).predict(Xs),
                               rtol=1e-4, atol=1e-4)
    assert 0.0 <= m.residual_scale_[0] <= 1.0


def test_network_weight_is_chosen_on_validation_rows():
    """A trait the additive model explains fully gets little of the network's part; an
    epistatic trait (product of two loci) gets some, and the model beats ridge on it."""
    from genoapp.models.ridge import RidgeGBLUP

    rng = np.random.default_rng(5)
    n, p = 1500, 20
    X = rng.binomial(2, 0.5, size=(n, p)).astype(float)
    epi = (X[:, 0] - 1) * (X[:, 1] - 1)
    Y = np.c_[3 * epi + 0.5 * rng.normal(size=n), X[:, 2] + 0.5 * rng.normal(size=n)]
    tr, te = np.arange(1200), np.arange(1200, n)
    m = GRVSNNRegressor(n_hidden=16, max_epochs=150, learning_rate=1e-2, batch_size=64,
                        random_state=0).fit(X[tr], Y[tr])
    assert m.residual_scale_[0] > 0.5, m.residual_scale_
    r_net = np.corrcoef(m.predict(X[te])[:, 0], Y[te, 0])[0, 1]
    r_ridge = np.corrcoef(RidgeGBLUP().fit(X[tr], Y[tr, 0]).predict(X[te]), Y[te, 0])[0, 1]
    assert r_net > r_ridge + 0.2, (r_net, r_ridge)


def test_selection_finds_planted_qtl():
    """Inputs selected against the permutation null are the planted QTL (independent loci)."""
    from genoapp.simulate.traits import simulate_quantitative_traits

    rng = np.random.default_rng(11)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, size=400), size=(600, 400)).astype(float)
    sim = simulate_quantitative_traits(G, n_traits=2, h2=0.6, genetic_correlation=0.5,
                                       n_causal=5, random_state=4)
    m = GRVSNNRegressor(n_hidden=8, max_epochs=30, random_state=0).fit(G, sim.Y)
    selected = set(np.flatnonzero(m.selected_).tolist())
    causal = set(sim.causal.tolist())
    assert len(causal & selected) >= 4, (sorted(selected), sorted(causal))
    assert len(selected - causal) <= 2, (sorted(selected), sorted(causal))
    assert m.null_max_attribution_.shape == (100,)
    assert m.selected_at(0.5).sum() >= m.selected_at(0.01).sum()
    np.testing.assert_allclose(m.feature_importances_.sum(), 1.0)
    with pytest.raises(ConfigError, match="linear_path"):
        GRVSNNRegressor(linear_path=False).fit(G[:50], sim.Y[:50])


def test_selection_finds_planted_qtl_in_real_mice_genotypes(shared_data):
    """Real LD (BGLR mice, first 3,000 markers): the selected markers sit at or beside the
    planted QTL (within 3 markers), far above the ~2 % expected by chance."""
    from genoapp.cohort import Cohort
    from genoapp.simulate.traits import simulate_quantitative_traits

    G = Cohort.from_files(shared_data / "bglr_mice" / "mice").read_dosages()[:, :3000]
    G = np.where(np.isnan(G), np.nanmean(G, axis=0), G)
    G = G[:, G.std(axis=0) > 0.1]
    sim = simulate_quantitative_traits(G, n_traits=2, h2=0.5, genetic_correlation=0.6,
                                       n_causal=5, random_state=1)
    m = GRVSNNRegressor(n_hidden=16, max_epochs=100, random_state=0).fit(G[:1400], sim.Y[:1400])
    sel = np.flatnonzero(m.selected_)
    causal = np.asarray(sim.causal)
    near = np.array([np.abs(causal - j).min() <= 3 for j in sel])
    found = np.array([np.abs(sel - c).min() <= 3 for c in causal]) if sel.size else np.zeros(5)
    chance = len({j for c in causal for j in range(c - 3, c + 4)}) / G.shape[1]
    assert sel.size >= 3 and near.mean() >= 0.4 > 10 * chance, (sel, causal)
    assert found.sum() >= 3, (sel, causal)


def test_network_sees_the_screened_inputs_only(tmp_path):
    """n_screened: the network's inputs are those with the largest ridge attributions; the
    selection weights of the others are 0; a saved model keeps the screen."""
    X, Y = _data(n=200, p=40)
    m = GRVSNNRegressor(n_hidden=4, max_epochs=5, n_screened=5, random_state=0).fit(X, Y)
    assert m.screen_index_.shape == (5,) and set(m.screen_index_.tolist()) >= {0, 1, 2}
    w = m.selection_weights(X[:4])
    assert w.shape == (4, 40) and np.allclose(np.delete(w, m.screen_index_, axis=1), 0.0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    back = GRVSNNRegressor.load(m.save(tmp_path / "screened.pt"), device="cpu")
    np.testing.assert_array_equal(back.screen_index_, m.screen_index_)
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    full = GRVSNNRegressor(n_hidden=4, max_epochs=2, n_screened=None).fit(X, Y)
    assert full.screen_index_ is None and full.model_.fc1.in_features == 40


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    X, Y = _data(n=100, p=10)
    m = GRVSNNRegressor(n_hidden=4, max_epochs=3, device="cuda").fit(X, Y)
    assert m.device_.startswith("cuda") and m.predict(X).shape == (100, 2)
