"""Training utilities: device selection, splits, upsampling, callbacks, the generic loop."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from genoapp.errors import ConfigError, InputDataError
from genoapp.train import (
    EarlyStopping,
    History,
    StopFlag,
    balanced_kfold,
    balanced_test_split,
    device_description,
    evaluate_module,
    resolve_device,
    train_module,
    upsample_minority,
)

HAS_CUDA = torch.cuda.is_available()


# ----------------------------------------------------------------------------- device
@pytest.mark.skipif(HAS_CUDA, reason="checks the CPU fallback")
def test_resolve_device_auto_is_cpu_without_cuda():
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda:1")


def test_resolve_device_explicit_and_invalid():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    for bad in ("gpu", "cuda:x", "tpu", ""):
        with pytest.raises(ConfigError, match="not recognised"):
            resolve_device(bad)
    with pytest.raises(ConfigError):
        resolve_device(0)


def test_device_description_cpu():
    n = torch.get_num_threads()
    assert device_description("cpu") == f"CPU ({n} thread{'s' if n != 1 else ''})"


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_resolve_device_cuda():
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda") == torch.device("cuda", torch.cuda.current_device())
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    assert device_description("cuda:0").startswith("CUDA: ")
    with pytest.raises(ConfigError, match="GPU index"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


# ----------------------------------------------------------------------------- splits
def _labels(n0, n1, seed=0):
    y = np.array([0] * n0 + [1] * n1)
    return np.random.default_rng(seed).permutation(y)


def test_balanced_test_split_is_balanced_disjoint_sorted():
    y = _labels(70, 30)
    train, test = balanced_test_split(y, test_size=0.1, random_state=1)
    assert test.size == 10  # round(0.1 * 100 / 2) = 5 per class
    assert (y[test] == 1).sum() == 5 and (y[test] == 0).sum() == 5
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(100))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert train.dtype == np.int64 and test.dtype == np.int64


def test_balanced_test_split_deterministic_per_seed():
    y = _labels(300, 200)
    a = balanced_test_split(y, random_state=5)
    b = balanced_test_split(y, random_state=5)
    c = balanced_test_split(y, random_state=6)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    y_copy = y.copy()
    balanced_test_split(y, random_state=5)
    np.testing.assert_array_equal(y, y_copy)  # input untouched


def test_balanced_test_split_rounding_and_caps():
    # 0.1 * 30 / 2 = 1.5 -> rounds half up to 2 per class
    assert balanced_test_split(_labels(15, 15), test_size=0.1)[1].size == 4
    # 0.1 * 25 / 2 = 1.25 -> 1 per class
    assert balanced_test_split(_labels(12, 13), test_size=0.1)[1].size == 2
    # round(0.5 * 100 / 2) = 25 per class, capped at 5 // 2 = 2 (half of the 5 cases stay)
    y = _labels(95, 5)
    train, test = balanced_test_split(y, test_size=0.5)
    assert (y[test] == 1).sum() == 2 and (y[test] == 0).sum() == 2
    assert (y[train] == 1).sum() == 3
    # tiny: at least one per class
    assert balanced_test_split(_labels(3, 3), test_size=0.01)[1].size == 2


def test_balanced_test_split_errors():
    with pytest.raises(InputDataError, match="at least 2 samples of each class"):
        balanced_test_split(_labels(20, 1))
    with pytest.raises(InputDataError, match="NaN"):
        balanced_test_split(np.array([0.0, 1.0, np.nan, 1.0, 0.0]))
    with pytest.raises(InputDataError, match="subtract 1"):
        balanced_test_split(np.array([1, 2, 2, 1, 1, 2]))
    with pytest.raises(InputDataError, match="1-D"):
        balanced_test_split(np.zeros((4, 2)))
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ConfigError, match="test_size"):
            balanced_test_split(_labels(10, 10), test_size=bad)


def test_balanced_test_split_accepts_bool_and_float_labels():
    y = _labels(10, 10).astype(bool)
    train, test = balanced_test_split(y, test_size=0.2)
    assert test.size == 4
    train2, test2 = balanced_test_split(y.astype(float), test_size=0.2)
    np.testing.assert_array_equal(test, test2)


def test_upsample_minority_balances_with_training_indices_only():
    y = _labels(70, 30)
    train, test = balanced_test_split(y, test_size=0.2, random_state=0)  # 10 + 10 held out
    up = upsample_minority(train, y, random_state=3)
    assert np.isin(up, train).all()  # never a test index
    assert (y[up] == 0).sum() == (y[up] == 1).sum() == 60
    np.testing.assert_array_equal(np.unique(up), train)  # every training index kept
    extra_counts = np.bincount(up, minlength=100)[train]
    assert (extra_counts[y[train] == 0] == 1).all()  # majority class not duplicated
    assert np.all(np.diff(up) >= 0)
    np.testing.assert_array_equal(up, upsample_minority(train, y, random_state=3))
    assert not np.array_equal(up, upsample_minority(train, y, random_state=4))


def test_upsample_minority_cases_majority_and_balanced():
    y = np.array([1, 1, 1, 0, 1, 0])
    up = upsample_minority(np.arange(6), y)
    assert (y[up] == 0).sum() == (y[up] == 1).sum() == 4
    idx = np.array([0, 3, 1, 5])
    np.testing.assert_array_equal(upsample_minority(idx, y), np.sort(idx))


def test_upsample_minority_errors():
    y = np.array([0, 0, 1, 1, 0])
    with pytest.raises(InputDataError, match="duplicated"):
        upsample_minority(np.array([0, 0, 2]), y)
    with pytest.raises(InputDataError, match="both classes"):
        upsample_minority(np.array([0, 1, 4]), y)
    with pytest.raises(InputDataError, match="0..4"):
        upsample_minority(np.array([0, 2, 7]), y)
    with pytest.raises(InputDataError, match="integer"):
        upsample_minority(np.array([0.0, 2.0]), y)


def test_balanced_kfold():
    y = _labels(80, 43)
    train, _ = balanced_test_split(y, test_size=0.1, random_state=0)  # 6 + 6 held out
    folds = balanced_kfold(train, y, n_splits=5, random_state=2)
    assert len(folds) == 5
    seen = []
    for fit, val in folds:
        assert (y[val] == 1).sum() == (y[val] == 0).sum() == 37 // 5
        assert np.intersect1d(fit, val).size == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), train)
        seen.append(val)
    allval = np.concatenate(seen)
    assert np.unique(allval).size == allval.size  # validation folds are disjoint
    with pytest.raises(InputDataError, match="fewer folds"):
        balanced_kfold(np.arange(8), np.array([0, 0, 0, 0, 0, 1, 1, 0]), n_splits=3)
    with pytest.raises(ConfigError, match="n_splits"):
        balanced_kfold(train, y, n_splits=1)


# ----------------------------------------------------------------------------- callbacks
def test_history_to_frame():
    h = History()
    h.on_train_begin({"n_epochs": 2})
    h.on_epoch_end(1, {"epoch": 1, "train_loss": 0.5})
    h.on_epoch_end(2, {"epoch": 2, "train_loss": 0.25})
    h.on_train_end({"epochs_completed": 2})
    df = h.to_frame()
    assert list(df["train_loss"]) == [0.5, 0.25] and list(df["epoch"]) == [1, 2]
    assert h.info == {"n_epochs": 2} and h.end_logs == {"epochs_completed": 2}
    h.on_train_begin({})
    assert h.history == []


def test_stop_flag_thread_safe():
    flag = StopFlag()
    assert not flag.should_stop()
    t = threading.Thread(target=flag.request_stop)
    t.start()
    t.join()
    assert flag.should_stop() and flag.stop_requested
    flag.clear()
    assert not flag.should_stop()


def test_early_stopping_hand_sequence():
    es = EarlyStopping("val_loss", patience=2)
    assert es.mode == "min"
    es.on_train_begin({})
    for epoch, value in enumerate([1.0, 0.8, 0.85, 0.79, 0.9], start=1):
        es.on_epoch_end(epoch, {"val_loss": value})
        assert not es.should_stop()
    es.on_epoch_end(6, {"val_loss": 0.95})
    assert es.should_stop() and es.best == 0.79 and es.best_epoch == 4
    acc = EarlyStopping("val_accuracy", patience=1, min_delta=0.01)
    assert acc.mode == "max"
    acc.on_epoch_end(1, {"val_accuracy": 0.70})
    acc.on_epoch_end(2, {"val_accuracy": 0.705})  # below min_delta: no improvement
    assert acc.should_stop()
    with pytest.raises(ConfigError, match="not in the epoch logs"):
        EarlyStopping("val_loss").on_epoch_end(1, {"train_loss": 1.0})
    with pytest.raises(ConfigError, match="patience"):
        EarlyStopping(patience=0)


# ----------------------------------------------------------------------------- generic loop
def _regression_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, generator=g)
    y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    return X, y


def test_train_module_regression_without_accuracy():
    X, y = _regression_data()
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hist = History()
    res = train_module(model, X, y, loss_fn=lambda out, yb: torch.mean((out[:, 0] - yb) ** 2),
                       optimizer=opt, epochs=20, batch_size=32, device=torch.device("cpu"),
                       X_val=X[:64], y_val=y[:64], callbacks=[hist], monitor="val_loss")
    assert res.epochs_completed == 20 and not res.stopped_early
    assert set(res.history[0]) == {"epoch", "train_loss", "val_loss", "lr", "seconds"}
    assert res.history[-1]["train_loss"] < 1e-4 < res.history[0]["train_loss"]
    torch.testing.assert_close(model.weight.detach(), torch.tensor([[1.0, -2.0, 0.5]]),
                               atol=1e-2, rtol=0)
    best = int(np.argmin([h["val_loss"] for h in res.history])) + 1
    assert res.best_epoch == best
    ev = evaluate_module(model, X[:64], y[:64], device=torch.device("cpu"),
                         loss_fn=lambda out, yb: torch.mean((out[:, 0] - yb) ** 2))
    assert ev["loss"] == pytest.approx(res.history[best - 1]["val_loss"], rel=1e-6)
    assert hist.end_logs["best_epoch"] == best


def test_train_module_early_stopping_callback_and_errors():
    X, y = _regression_data(64)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # no learning: val_loss never improves
    res = train_module(model, X, y, loss_fn=lambda o, yb: torch.mean((o[:, 0] - yb) ** 2),
                       optimizer=opt, epochs=50, batch_size=16, device=torch.device("cpu"),
                       X_val=X, y_val=y, monitor=None,
                       callbacks=[EarlyStopping("val_loss", patience=3)])
    assert res.epochs_completed == 4 and res.stopped_early and res.best_epoch is None
    kw = dict(loss_fn=lambda o, yb: o.sum(), optimizer=opt, device=torch.device("cpu"))
    with pytest.raises(ConfigError, match="epochs"):
        train_module(model, X, y, epochs=0, batch_size=4, **kw)
    with pytest.raises(ConfigError, match="batch_size"):
        train_module(model, X, y, epochs=1, batch_size=0, **kw)
    with pytest.raises(ConfigError, match="count_correct"):
        train_module(model, X, y, epochs=1, batch_size=4, **kw)  # monitor val_accuracy
    with pytest.raises(InputDataError, match="same, non-zero number"):
        train_module(model, X, y[:10], epochs=1, batch_size=4, monitor=None, **kw)
