"""DiseaseCapsule network and classifier (genoapp.models.capsnet)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from genoapp.errors import ConfigError, InputDataError
from genoapp.models import DiseaseCapsuleClassifier, DiseaseCapsuleNet, margin_loss, squash
from genoapp.train import Callback, History, StopFlag

N_ROUTES = 32 * 73


def _easy_problem(n=400, F=20, seed=1):
    """Cases shifted by +1 SD, controls by -1 SD on 4 of F features (Bayes accuracy ~0.98)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, F)).astype(np.float32)
    X[:, :4] += (2 * y[:, None] - 1) * 1.0
    return X, y


def _reference_routing(u_hat, iterations, axis):
    """Plain NumPy dynamic routing, written from the equations with explicit loops over j."""
    B, N, J, _ = u_hat.shape
    b = np.zeros((B, N, J))
    for it in range(iterations):
        e = np.exp(b - b.max(axis=axis, keepdims=True))
        c = e / e.sum(axis=axis, keepdims=True)
        v = np.zeros((B, J, u_hat.shape[3]))
        for j in range(J):
            s = (c[:, :, j, None] * u_hat[:, :, j, :]).sum(axis=1)
            n2 = (s**2).sum(axis=1, keepdims=True)
            v[:, j] = n2 / (1 + n2) * s / np.sqrt(n2 + 1e-8)
        if it < iterations - 1:
            for j in range(J):
                b[:, :, j] += (u_hat[:, :, j, :] * v[:, None, j, :]).sum(axis=2)
    return v, c


@pytest.fixture(scope="module")
def tiny_data():
    X, y = _easy_problem(n=120, F=12, seed=3)
    return X, y


# ----------------------------------------------------------------------------- the module
def test_forward_shapes_and_positions():
    torch.manual_seed(0)
    net = DiseaseCapsuleNet(20)
    assert net.n_positions == 73  # (150 - 5) // 2 + 1
    assert net.n_routes == N_ROUTES == 2336
    lengths, v, c = net(torch.randn(3, 20))
    assert lengths.shape == (3, 2)
    assert v.shape == (3, 2, 16)
    assert c.shape == (3, 2336, 2)
    torch.testing.assert_close(lengths, torch.linalg.vector_norm(v, dim=-1))
    assert (lengths < 1).all() and (lengths >= 0).all()


def test_parameter_counts_per_route_vs_shared():
    per_route = DiseaseCapsuleNet(10, pose="per_route")
    shared = DiseaseCapsuleNet(10, pose="shared")
    assert per_route.W.shape == (2336, 2, 16, 4)
    assert per_route.W.numel() == 2336 * 2 * 16 * 4 == 299_008
    assert shared.W.shape == (32, 2, 16, 4)
    assert shared.W.numel() == 32 * 2 * 16 * 4 == 4096
    rest = (10 * 150 + 150) + (128 * 5 + 128)  # FC and the 32 x 4 primary filters
    assert sum(p.numel() for p in per_route.parameters()) == rest + 299_008
    assert sum(p.numel() for p in shared.parameters()) == rest + 4096


def test_coupling_input_softmax_rows_sum_to_one_over_types():
    torch.manual_seed(1)
    net = DiseaseCapsuleNet(15, routing_softmax="input").eval()
    _, _, c = net(torch.randn(4, 15) * 3)
    c_kj = c.view(4, 32, 73, 2).sum(dim=2)  # (B, types, classes)
    torch.testing.assert_close(c_kj.sum(dim=1), torch.ones(4, 2), atol=1e-5, rtol=0)
    assert not torch.allclose(c, torch.full_like(c, 1 / 2336))  # routing moved away from b = 0


def test_coupling_output_softmax_sums_to_one_over_classes():
    torch.manual_seed(2)
    net = DiseaseCapsuleNet(15, routing_softmax="output").eval()
    _, _, c = net(torch.randn(4, 15) * 3)
    torch.testing.assert_close(c.sum(dim=2), torch.ones(4, 2336), atol=1e-5, rtol=0)


def test_squash_hand_values():
    s = torch.tensor([[3.0, 4.0], [0.0, 0.0], [1e-3, 0.0]])
    out = squash(s)
    # |s| = 5 -> |v| = 25 / 26, same direction
    torch.testing.assert_close(out[0], torch.tensor([3.0, 4.0]) / 5 * 25 / 26)
    assert torch.equal(out[1], torch.zeros(2))  # eps: no division by zero
    assert torch.isfinite(out).all()
    big = squash(torch.randn(1000, 4) * 100)
    assert (torch.linalg.vector_norm(big, dim=1) < 1).all()


def test_route_index_is_type_times_73_plus_position():
    torch.manual_seed(3)
    net = DiseaseCapsuleNet(9).eval()
    x = torch.randn(2, 9)
    with torch.no_grad():
        u = net.primary_capsules(x)
        conv = net.primary(torch.relu(net.fc(x)).unsqueeze(1))  # (B, 32*4, 73)
    for t, p in [(0, 0), (4, 17), (31, 72), (12, 5)]:
        expected = squash(conv[:, t * 4:(t + 1) * 4, p])
        torch.testing.assert_close(u[:, t * 73 + p, :], expected)


@pytest.mark.parametrize("pose", ["per_route", "shared"])
def test_prediction_vectors_match_matrix_products(pose):
    torch.manual_seed(4)
    net = DiseaseCapsuleNet(9, pose=pose).eval()
    u = torch.randn(2, 2336, 4)
    with torch.no_grad():
        u_hat = net.predictions(u)
    assert u_hat.shape == (2, 2336, 2, 16)
    for i in [0, 73, 1000, 2335]:
        w = net.W[i] if pose == "per_route" else net.W[i // 73]
        for j in (0, 1):
            torch.testing.assert_close(u_hat[:, i, j, :], u[:, i, :] @ w[j].T)


@pytest.mark.parametrize("axis_name,axis", [("input", 1), ("output", 2)])
def test_routing_matches_numpy_reference(axis_name, axis):
    torch.manual_seed(5)
    net = DiseaseCapsuleNet(9, routing_softmax=axis_name)
    u_hat = torch.randn(3, 2336, 2, 16, dtype=torch.float64) * 0.3
    with torch.no_grad():
        v, c = net.route(u_hat)
    v_ref, c_ref = _reference_routing(u_hat.numpy(), 3, axis)
    np.testing.assert_allclose(v.numpy(), v_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.numpy(), c_ref, rtol=1e-10, atol=1e-14)


def test_margin_loss_hand_values():
    lengths = torch.tensor([[0.95, 0.05], [0.5, 0.5], [0.2, 0.7]])
    y = torch.tensor([0, 1, 0])
    # sample 0: 0; sample 1: (0.9-0.5)^2 + 0.5 (0.5-0.1)^2 = 0.24;
    # sample 2: (0.9-0.2)^2 + 0.5 (0.7-0.1)^2 = 0.49 + 0.18 = 0.67
    torch.testing.assert_close(margin_loss(lengths, y), torch.tensor((0 + 0.24 + 0.67) / 3))


def test_invalid_architecture_raises_config_error():
    with pytest.raises(ConfigError, match="routing_softmax"):
        DiseaseCapsuleNet(10, routing_softmax="columns")
    with pytest.raises(ConfigError, match="pose"):
        DiseaseCapsuleNet(10, pose="tied")
    with pytest.raises(ConfigError, match="kernel_size"):
        DiseaseCapsuleNet(10, n_hidden=4)


# ----------------------------------------------------------------------------- the estimator
@pytest.mark.parametrize("loss", ["cross_entropy", "margin"])
@pytest.mark.parametrize("pose", ["per_route", "shared"])
def test_fit_runs_with_both_losses(tiny_data, loss, pose):
    X, y = tiny_data
    clf = DiseaseCapsuleClassifier(epochs=1, batch_size=64, loss=loss, pose=pose, device="cpu")
    assert clf.fit(X, y) is clf
    assert len(clf.history_) == 1 and np.isfinite(clf.history_[0]["train_loss"])
    assert clf.device_ == "cpu" and clf.n_features_in_ == 12
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    assert clf.stopped_early_ is False and clf.fit_seconds_ > 0
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    dec = clf.decision_function(X)
    np.testing.assert_allclose(1 / (1 + np.exp(-dec)), proba[:, 1], rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), (dec > 0).astype(int))


def test_learns_an_easy_separable_problem():
    X, y = _easy_problem()
    clf = DiseaseCapsuleClassifier(epochs=3, batch_size=32, learning_rate=3e-3, device="cpu",
                                   random_state=0)
    clf.fit(X[:300], y[:300])
    acc = (clf.predict(X[300:]) == y[300:]).mean()
    assert acc > 0.9, f"test accuracy {acc:.3f}"
    assert clf.history_[-1]["train_loss"] < clf.history_[0]["train_loss"]


def test_coupling_coefficients_per_type(tiny_data):
    X, y = tiny_data
    clf = DiseaseCapsuleClassifier(epochs=1, device="cpu").fit(X, y)
    c_kj = clf.coupling_coefficients(X[:7], batch_size=3)  # several batches
    assert c_kj.shape == (7, 2, 32) and c_kj.dtype == np.float32
    np.testing.assert_allclose(c_kj.sum(axis=2), 1.0, atol=1e-5)
    with torch.no_grad():
        _, _, c = clf.model_(torch.from_numpy(X[:7]))
    np.testing.assert_allclose(c_kj, c.view(7, 32, 73, 2).sum(2).transpose(1, 2).numpy(),
                               atol=1e-6)


def test_reproducible_and_global_rng_untouched(tiny_data):
    X, y = tiny_data
    state = torch.get_rng_state()
    a = DiseaseCapsuleClassifier(epochs=2, batch_size=32, random_state=7, device="cpu").fit(X, y)
    assert torch.equal(state, torch.get_rng_state())
    b = DiseaseCapsuleClassifier(epochs=2, batch_size=32, random_state=7, device="cpu").fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = DiseaseCapsuleClassifier(epochs=2, batch_size=32, random_state=8, device="cpu").fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_callbacks_get_one_epoch_end_per_epoch_with_documented_keys(tiny_data):
    X, y = tiny_data

    class Recorder(Callback):
        def __init__(self):
            self.begin, self.epochs, self.end = [], [], []

        def on_train_begin(self, info):
            self.begin.append(info)

        def on_epoch_end(self, epoch, logs):
            self.epochs.append((epoch, logs))

        def on_train_end(self, logs):
            self.end.append(logs)

    rec, hist = Recorder(), History()
    clf = DiseaseCapsuleClassifier(epochs=3, batch_size=50, learning_rate=1e-3, lr_decay=0.5,
                                   device="cpu")
    clf.fit(X[:100], y[:100], X_val=X[100:], y_val=y[100:], callbacks=[rec, hist])
    assert len(rec.begin) == 1 and len(rec.end) == 1
    info = rec.begin[0]
    assert info["n_epochs"] == 3 and info["n_train"] == 100 and info["n_val"] == 20
    assert info["n_batches"] == 2 and info["device"] == "cpu"
    assert [e for e, _ in rec.epochs] == [1, 2, 3]
    keys = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    for epoch, logs in rec.epochs:
        assert set(logs) == keys and logs["epoch"] == epoch
    assert [logs["lr"] for _, logs in rec.epochs] == pytest.approx([1e-3, 5e-4, 2.5e-4])
    assert clf.history_ == [logs for _, logs in rec.epochs]
    assert list(hist.to_frame()["epoch"]) == [1, 2, 3]
    # the weights of the best validation epoch (earliest on ties) are kept
    val_acc = [h["val_accuracy"] for h in clf.history_]
    assert clf.best_epoch_ == int(np.argmax(val_acc)) + 1
    assert (clf.predict(X[100:]) == y[100:]).mean() == pytest.approx(max(val_acc))
    assert rec.end[0]["best_epoch"] == clf.best_epoch_ and rec.end[0]["stopped_early"] is False


def test_stop_flag_stops_after_current_batch(tiny_data):
    X, y = tiny_data
    flag = StopFlag()

    class PressStopAt(Callback):
        """Presses the stop button at the 9th batch (epoch 2, batch 3 of 6).

        ``should_stop`` is called once per batch (after the last batch of an epoch, once the
        epoch is logged), so the calls count the batches run.
        """

        def __init__(self):
            self.batches = 0

        def should_stop(self):
            self.batches += 1
            if self.batches == 9:
                flag.request_stop()
            return False

    presser = PressStopAt()
    clf = DiseaseCapsuleClassifier(epochs=5, batch_size=20, device="cpu")
    clf.fit(X, y, callbacks=[presser, flag])
    assert presser.batches == 9  # no batch ran after the request
    assert clf.stopped_early_ is True
    assert len(clf.history_) == 1 < 5  # the interrupted epoch 2 is not logged
    assert clf.predict(X).shape == (120,)


def test_stop_requested_at_epoch_end(tiny_data):
    X, y = tiny_data
    flag = StopFlag()

    class StopAfterFirstEpoch(Callback):
        def on_epoch_end(self, epoch, logs):
            flag.request_stop()

    clf = DiseaseCapsuleClassifier(epochs=4, batch_size=64, device="cpu")
    clf.fit(X, y, callbacks=[StopAfterFirstEpoch(), flag])
    assert len(clf.history_) == 1 and clf.stopped_early_ is True


def test_save_load_round_trip(tmp_path, tiny_data):
    X, y = tiny_data
    clf = DiseaseCapsuleClassifier(epochs=1, pose="shared", routing_softmax="output",
                                   device="cpu", random_state=3).fit(X, y)
    path = clf.save(tmp_path / "run" / "capsnet.pt")
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["capsnet.pt"]  # no temp file left
    loaded = DiseaseCapsuleClassifier.load(path, device="cpu")
    assert loaded.get_params() == clf.get_params()
    assert loaded.n_features_in_ == 12 and loaded.device_ == "cpu"
    assert loaded.history_ == clf.history_
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.coupling_coefficients(X), clf.coupling_coefficients(X))


def test_load_rejects_other_files(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        DiseaseCapsuleClassifier.load(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(InputDataError, match="not a saved DiseaseCapsule model"):
        DiseaseCapsuleClassifier.load(other)
    garbage = tmp_path / "garbage.pt"
    garbage.write_text("hello")
    with pytest.raises(InputDataError, match="not a readable torch file"):
        DiseaseCapsuleClassifier.load(garbage)


def test_load_model_file_dispatches_on_the_stored_format(tmp_path, tiny_data):
    from genoapp.models import load_model_file, model_file_format
    from genoapp.models.files import model_formats

    X, y = tiny_data
    clf = DiseaseCapsuleClassifier(epochs=1, pose="shared", device="cpu").fit(X, y)
    path = clf.save(tmp_path / "capsnet.pt")
    assert model_file_format(path) == "genoapp.DiseaseCapsuleClassifier"
    loaded = load_model_file(path, device="cpu")
    assert type(loaded) is DiseaseCapsuleClassifier and loaded.best_epoch_ == clf.best_epoch_
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert {"genoapp.DiseaseCapsuleClassifier", "genoapp.TorchMLPClassifier",
            "genoapp.TorchCNNClassifier", "genoapp.GRVSNNRegressor",
            "genoapp.SequenceCNNRegressor"} <= set(model_formats())
    # an unknown format: the message names the file and the format found
    payload = torch.load(path, weights_only=True)
    payload["format"] = "someone.ElseModel"
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(InputDataError, match=r"other\.pt.*'someone\.ElseModel'"):
        load_model_file(tmp_path / "other.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(InputDataError, match="unknown model file format None"):
        load_model_file(tmp_path / "plain.pt")
    with pytest.raises(InputDataError, match="no 'format'"):
        model_file_format(tmp_path / "plain.pt")
    with pytest.raises(InputDataError, match="not found"):
        load_model_file(tmp_path / "missing.pt")


def test_files_of_earlier_versions_without_class_keys_still_load(tmp_path, tiny_data):
    X, y = tiny_data
    clf = DiseaseCapsuleClassifier(epochs=1, device="cpu").fit(X, y)
    payload = torch.load(clf.save(tmp_path / "new.pt"), weights_only=True)
    assert payload["class"] == "DiseaseCapsuleClassifier" and payload["format_version"] == 1
    del payload["class"], payload["classes"]  # as written before the common base class
    torch.save(payload, tmp_path / "old.pt")
    old = DiseaseCapsuleClassifier.load(tmp_path / "old.pt", device="cpu")
    np.testing.assert_array_equal(old.classes_, [0, 1])
    np.testing.assert_array_equal(old.predict(X), clf.predict(X))
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(InputDataError, match="newer genoapp"):
        DiseaseCapsuleClassifier.load(tmp_path / "future.pt")


def test_a_model_file_format_belongs_to_one_class():
    from genoapp.models._torch import TorchEstimator

    with pytest.raises(TypeError, match="already used by"):
        type("Impostor", (TorchEstimator,), {"_format": "genoapp.DiseaseCapsuleClassifier"})


def test_input_validation(tiny_data):
    X, y = tiny_data
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputDataError, match="missing or infinite"):
        DiseaseCapsuleClassifier(epochs=1, device="cpu").fit(bad, y)
    with pytest.raises(InputDataError, match="0 \\(control\\) or 1"):
        DiseaseCapsuleClassifier(epochs=1, device="cpu").fit(X, y + 1)
    with pytest.raises(InputDataError, match="both"):
        DiseaseCapsuleClassifier(epochs=1, device="cpu").fit(X, np.zeros(len(y), int))
    with pytest.raises(ConfigError, match="loss"):
        DiseaseCapsuleClassifier(loss="hinge", device="cpu").fit(X, y)
    with pytest.raises(ConfigError, match="lr_decay"):
        DiseaseCapsuleClassifier(lr_decay=0.0, device="cpu").fit(X, y)
    clf = DiseaseCapsuleClassifier(epochs=1, device="cpu").fit(X, y)
    with pytest.raises(InputDataError, match="expects 12"):
        clf.predict(X[:, :5])


def test_sklearn_compatibility(tiny_data):
    X, y = tiny_data
    clf = DiseaseCapsuleClassifier(epochs=7, pose="shared")
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "model_")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        clf.predict(X)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_one_epoch_on_cuda(tiny_data):
    X, y = tiny_data
    clf = DiseaseCapsuleClassifier(epochs=1, device="cuda").fit(X, y)
    assert clf.device_.startswith("cuda")
    assert next(clf.model_.parameters()).is_cuda
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2) and np.isfinite(proba).all()
    c_kj = clf.coupling_coefficients(X)
    np.testing.assert_allclose(c_kj.sum(axis=2), 1.0, atol=1e-5)
