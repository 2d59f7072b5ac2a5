"""The honest comparison protocol: identical splits, tuning inside training data, leakage guards, stop."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from genoapp.errors import ConfigError, InputDataError
from genoapp.features import FeatureConfig, build_features
from genoapp.train import StopFlag, balanced_test_split, holdout_folds, make_split
from genoapp.ui.jobs import TrainingJob
from genoapp.workflows.casecontrol import compare_models
from genoapp.workflows.protocol import (
    ModelSpec,
    ProtocolConfig,
    case_scores,
    comparison_table,
    plan_tasks,
    run_protocol,
    summarize,
)
from genoapp.workflows.registry import model_specs

SEEN: list[dict] = []  # what every SpyClassifier.fit saw


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """Column 0 of X is the sample's row id; column 1 carries the signal; q scales it."""

    def __init__(self, *, q=1.0, tag="spy", random_state=0):
        self.q = q
        self.tag = tag
        self.random_state = random_state

    def fit(self, X, y):
        X = np.asarray(X)
        SEEN.append({"tag": self.tag, "seed": self.random_state, "q": self.q,
                     "rows": X[:, 0].astype(int).copy(), "y": np.asarray(y).copy()})
        self.classes_ = np.array([0, 1])
        self.center_ = float(np.mean(X[:, 1]))
        return self

    def decision_function(self, X):
        return self.q * (np.asarray(X)[:, 1] - self.center_)

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(int)


def _spy(key="spy", grid=None):
    return ModelSpec(key, key.upper(), SpyClassifier, params={"tag": key}, grid=grid or {})


def _outer(train_idx, test_idx, config=None):
    """The old ``(train_idx, test_idx)`` argument: the same split once per seed."""
    return holdout_folds(train_idx, test_idx, seeds=(config or ProtocolConfig()).seeds)


def _test_scores(res, key, inp, seed):
    """Case scores of the test rows of one final model (the old ``res.test_scores[...]``)."""
    p = res.predictions
    return p[(p["key"] == key) & (p["input"] == inp) & (p["seed"] == seed)]["score"].to_numpy()


def _data(n=240, seed=0, case_frac=0.3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < case_frac).astype(int)
    X = np.column_stack([np.arange(n), y + rng.normal(scale=0.8, size=n), rng.normal(size=(n, 8))])
    G = rng.binomial(2, 0.3, size=(n, 60)).astype(float)
    G[:, 0] = np.clip(G[:, 0] + y, 0, 2)
    split = make_split(y, test_size=0.2, random_state=seed)
    return X.astype(np.float32), y, G, split


def test_all_models_see_identical_folds_and_upsampling_and_never_a_test_row():
    X, y, G, split = _data()
    SEEN.clear()
    cfg = ProtocolConfig(seeds=(0, 1), n_folds=4, validation="cv", tuning="none")
    res = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg), models=[_spy("a"), _spy("b")], config=cfg)
    test = set(split.test_idx.tolist())
    assert all(not (set(s["rows"].tolist()) & test) for s in SEEN)  # no test row in any fit
    for seed in (0, 1):
        a = [s["rows"] for s in SEEN if s["tag"] == "a" and s["seed"] == seed]
        b = [s["rows"] for s in SEEN if s["tag"] == "b" and s["seed"] == seed]
        assert len(a) == len(b) == 5  # 4 folds + refit
        for ra, rb in zip(a, b, strict=True):
            np.testing.assert_array_equal(ra, rb)  # identical (upsampled) fitting rows
        for s in SEEN:
            if s["seed"] == seed:
                assert (s["y"] == 1).sum() == (s["y"] == 0).sum()  # upsampled to 1:1
    a0 = [s["rows"] for s in SEEN if s["tag"] == "a" and s["seed"] == 0]
    a1 = [s["rows"] for s in SEEN if s["tag"] == "a" and s["seed"] == 1]
    assert not np.array_equal(a0[0], a1[0])  # seeds change the folds
    fm = res.fold_metrics
    assert len(fm) == 2 * 2 * 4 and (fm["n_val"] % 2 == 0).all()
    # validation folds are balanced, disjoint, and inside the training rows
    assert set(res.metrics["input"]) == {"A"} and (res.metrics["n_test"] == len(split.test_idx)).all()


def test_grid_search_picks_the_best_validation_candidate_and_optuna_is_seeded():
    X, y, G, split = _data(seed=1)
    spec = _spy("g", grid={"q": [-1.0, 0.5, 1.0]})
    cfg = ProtocolConfig(seeds=(0,), n_folds=3, validation="cv", tuning="grid")
    res = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg), models=[spec], config=cfg)
    assert res.metrics.loc[0, "best_params"] == '{"q": 0.5}'  # q = 0.5 and 1 rank alike: first wins
    assert len(res.fold_metrics) == 3 * 3
    worst = res.fold_metrics[res.fold_metrics["params"] == '{"q": -1.0}']
    assert (worst["roc_auc"] < 0.5).all()
    cfg_o = ProtocolConfig(seeds=(0,), n_folds=3, validation="holdout", tuning="optuna", n_trials=4)
    r1 = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg_o), models=[spec], config=cfg_o)
    r2 = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg_o), models=[spec], config=cfg_o)
    assert r1.fold_metrics["candidate"].nunique() == 4
    assert list(r1.fold_metrics["params"]) == list(r2.fold_metrics["params"])


def _fitted_fingerprint(res, inputs, snps):
    """Every final model's case scores on the training rows, and every validation result."""
    out = {}
    for task, est in res.estimators.items():
        X = snps if task.input == "SNPs" else inputs[task.input]
        out[task] = case_scores(est, X[res.outer[0].train_idx])
    fm = res.fold_metrics.drop(columns=["seconds"]).reset_index(drop=True)
    return out, fm


def _assert_same(fp1, fp2):
    assert fp1[0].keys() == fp2[0].keys()
    for k in fp1[0]:
        np.testing.assert_array_equal(fp1[0][k], fp2[0][k], err_msg=str(k))
    pd.testing.assert_frame_equal(fp1[1], fp2[1])


def test_leakage_guard_test_rows_influence_no_fitted_step():
    """Change every test sample's features, SNPs and label: nothing fitted may change."""
    X, y, G, split = _data(seed=2)
    specs = model_specs(["mlp", "logreg", "rf", "prs", "authors_prs"],
                        overrides={"mlp": {"epochs": 2, "device": "cpu"}, "rf": {"n_estimators": 10}})
    specs.append(_spy("s", grid={"q": [-1.0, 1.0]}))
    cfg = ProtocolConfig(seeds=(0, 1), n_folds=3, validation="cv", tuning="grid", device="cpu")
    r1 = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg), models=specs, snps=G, config=cfg)
    rng = np.random.default_rng(99)
    X2, G2, y2 = X.copy(), G.copy(), y.copy()
    te = split.test_idx
    X2[te, 1:] = rng.normal(scale=50.0, size=(len(te), X.shape[1] - 1))
    G2[te] = rng.integers(0, 3, size=(len(te), G.shape[1]))
    y2[te] = 1 - y2[te]
    r2 = run_protocol({"A": X2}, y2, outer=_outer(split.train_idx, split.test_idx, cfg), models=specs, snps=G2, config=cfg)
    _assert_same(_fitted_fingerprint(r1, {"A": X}, G), _fitted_fingerprint(r2, {"A": X}, G))
    assert not np.array_equal(_test_scores(r1, "logreg", "A", 0), _test_scores(r2, "logreg", "A", 0))


def _pipeline_fingerprint(G, variants, split, fit_on):
    fs = build_features(G, variants, split, config=FeatureConfig(kind="windows", window_snps=10, fit_on=fit_on))
    cfg = ProtocolConfig(seeds=(0,), n_folds=3, validation="holdout", tuning="grid", device="cpu")
    res = compare_models(fs, split, snps=G, models=["logreg", "mlp", "prs"], config=cfg,
                         overrides={"mlp": {"epochs": 2, "device": "cpu"}})
    return _fitted_fingerprint(res, {"Windows-PCA": fs.X}, G)


def test_leakage_guard_end_to_end_and_it_detects_leaky_preprocessing():
    rng = np.random.default_rng(3)
    n, m = 160, 80
    G = rng.binomial(2, rng.uniform(0.1, 0.5, size=m), size=(n, m)).astype(np.float32)
    y = ((G[:, :5].sum(axis=1) + rng.normal(size=n)) > 2.5).astype(int)
    G[rng.random(G.shape) < 0.03] = np.nan
    variants = pd.DataFrame({"chrom": "1", "id": [f"s{i}" for i in range(m)], "pos": np.arange(m) * 1000 + 1})
    split = make_split(y, test_size=0.2, random_state=0)
    G2 = G.copy()
    G2[split.test_idx] = rng.binomial(2, 0.5, size=(len(split.test_idx), m))
    _assert_same(_pipeline_fingerprint(G, variants, split, "train"), _pipeline_fingerprint(G2, variants, split, "train"))
    # positive control: the published behaviour (PCA fitted on all samples) leaks, and the guard sees it
    with pytest.raises(AssertionError):
        _assert_same(_pipeline_fingerprint(G, variants, split, "all"), _pipeline_fingerprint(G2, variants, split, "all"))


def test_stop_ends_at_the_next_batch_keeps_the_best_model_and_skips_the_rest():
    X, y, G, split = _data(n=400, seed=4)
    specs = model_specs(["mlp", "logreg"], overrides={"mlp": {"epochs": 50, "batch_size": 16, "device": "cpu"}})
    stop = StopFlag()
    epochs = []

    def on_event(ev):
        if ev["event"] == "epoch":
            epochs.append(ev["logs"])
            if len(epochs) == 3:
                stop.request_stop()  # as the Stop button does, from the training loop's view

    cfg = ProtocolConfig(seeds=(0, 1), n_folds=3, validation="holdout", device="cpu")
    res = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg), models=specs, config=cfg,
                       on_event=on_event, stop=stop)
    assert res.stopped and len(res.metrics) == 1  # logistic regression and seed 1 never started
    row = res.metrics.iloc[0]
    assert row["key"] == "mlp" and bool(row["stopped"])
    est = res.estimator("mlp", "A", seed=0)
    assert est.stopped_early_ and len(est.history_) == 3  # ended right after epoch 3
    assert est.best_epoch_ == int(np.argmax([e["val_accuracy"] for e in epochs]) + 1)  # best weights kept
    assert np.isfinite(_test_scores(res, "mlp", "A", 0)).all()


def test_stop_from_another_thread_while_training_in_the_background():
    X, y, G, split = _data(n=400, seed=5)
    specs = model_specs(["mlp"], overrides={"mlp": {"epochs": 2000, "batch_size": 16, "device": "cpu"}})
    cfg = ProtocolConfig(seeds=(0,), n_folds=3, device="cpu")
    first_epoch = threading.Event()

    def target(on_event, stop):
        def sink(ev):
            on_event(ev)
            if ev["event"] == "epoch":
                first_epoch.set()
        return run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg), models=specs, config=cfg,
                            on_event=sink, stop=stop)

    job = TrainingJob(target, label="test").start()
    assert first_epoch.wait(120)
    assert job.running
    job.request_stop()
    assert job.join(60)  # 2,000 epochs would take minutes: the stop was honoured
    assert job.status == "stopped" and job.result.stopped
    snap = job.snapshot()
    assert len(snap["epochs"]) >= 1 and snap["tasks"]["status"].tolist() == ["stopped"]
    assert len(job.result.estimator("mlp", "A", seed=0).history_) < 2000


def test_cv_refit_uses_the_median_best_epoch_and_rare_classes_get_fewer_folds():
    X, y, G, split = _data(seed=6)
    specs = model_specs(["mlp"], overrides={"mlp": {"epochs": 4, "device": "cpu", "learning_rate": 1e-2}})
    cfg = ProtocolConfig(seeds=(0,), n_folds=3, validation="cv", device="cpu")
    res = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg), models=specs, config=cfg)
    best = res.fold_metrics["best_epoch"].astype(int)
    assert res.estimator("mlp", "A", seed=0).epochs == int(round(float(np.median(best))))
    assert res.estimator("mlp", "A", seed=0).best_epoch_ is None  # refit without validation data
    # only 3 training cases: 3 folds instead of 5, with a note
    y3 = np.zeros(60, dtype=int)
    y3[:5] = 1
    Xr = np.column_stack([np.arange(60), y3 + np.random.default_rng(0).normal(size=60)]).astype(np.float32)
    # make_split now refuses a cohort this small (3 training cases): draw the same split directly
    tr3, te3 = balanced_test_split(y3, test_size=0.1, random_state=0)
    cfg3 = ProtocolConfig(seeds=(0,), n_folds=5, validation="cv")
    r3 = run_protocol({"A": Xr}, y3, outer=_outer(tr3, te3, cfg3), models=[_spy()], config=cfg3)
    assert r3.fold_metrics["inner_fold"].nunique() == 3 and "3 validation folds" in r3.notes[0]


def test_summary_tables_and_task_plan():
    m = pd.DataFrame({"model": ["A", "A", "B"], "key": ["a", "a", "b"], "input": ["x", "x", "x"],
                      "trait": "phenotype", "seed": [0, 1, 0],
                      "accuracy": [0.8, 0.6, 0.5], "precision": [1, 1, 1], "recall": [0.5, 0.5, 0.5],
                      "f1": [0.6, 0.6, 0.6], "roc_auc": [0.9, 0.7, 0.5]})
    s = summarize(m, task="classification")
    assert s.loc[0, "accuracy_mean"] == pytest.approx(0.7)
    assert s.loc[0, "accuracy_sd"] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert s.loc[0, "accuracy"] == "0.700 ± 0.141" and s.loc[1, "accuracy"] == "0.500"
    t = comparison_table(s)
    assert list(t.columns[:3]) == ["model", "x accuracy", "x precision"] and t.loc[1, "x roc_auc"] == "0.500"
    specs = model_specs(["logreg", "prs"])
    outer = holdout_folds(np.arange(10), np.arange(10, 14), seeds=(0, 1))
    tasks = plan_tasks(specs, ["Gene-PCA", "All-PCA"], has_snps=True, outer=outer, traits=["phenotype"])
    assert [(t.key, t.input, t.seed) for t in tasks] == [
        ("logreg", "Gene-PCA", 0), ("logreg", "All-PCA", 0), ("prs", "SNPs", 0),
        ("logreg", "Gene-PCA", 1), ("logreg", "All-PCA", 1), ("prs", "SNPs", 1)]


def test_bad_protocol_inputs_raise_readable_errors():
    X, y, G, split = _data()
    with pytest.raises(ConfigError):
        ProtocolConfig(n_folds=1)
    with pytest.raises(ConfigError):
        ProtocolConfig(seeds=(1, 1))
    with pytest.raises(ConfigError):
        ProtocolConfig(tuning="random")
    with pytest.raises(InputDataError, match="disjoint"):
        run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.train_idx[:5]), models=[_spy()])
    with pytest.raises(InputDataError, match="rows"):
        run_protocol({"A": X[:10]}, y, outer=_outer(split.train_idx, split.test_idx), models=[_spy()])
    with pytest.raises(ConfigError, match="at least one model"):
        run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx), models=[])
    res = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx), models=model_specs(["prs"]))
    assert len(res.metrics) == 0 and "skipped" in res.notes[0]


def test_a_failing_model_is_reported_and_the_queue_goes_on():
    X, y, G, split = _data(seed=7)
    bad = model_specs(["mlp"], overrides={"mlp": {"epochs": 1, "learning_rate": -1.0, "device": "cpu"}})
    events = []
    cfg = ProtocolConfig(seeds=(0,), n_folds=3)
    res = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg), models=[*bad, _spy()],
                       config=cfg, on_event=events.append)
    assert list(res.metrics["key"]) == ["spy"]
    assert "MLP on A, fold 1.1 (seed 0) failed: ConfigError" in res.notes[0] and "learning_rate" in res.notes[0]
    assert [e["event"] for e in events].count("task_failed") == 1


def test_holdout_refit_trains_the_final_network_on_all_training_rows_for_the_best_epoch():
    X, y, G, split = _data(n=300, seed=6)
    X = X[:, 1:]  # no row ids for the network
    specs = model_specs(["mlp"], overrides={"mlp": {"epochs": 12, "batch_size": 16, "device": "cpu"}})
    runs = {}
    for refit in (False, True):
        cfg = ProtocolConfig(seeds=(0,), n_folds=3, validation="holdout", holdout_refit=refit,
                             patience=3, device="cpu")
        runs[refit] = run_protocol({"A": X}, y, outer=_outer(split.train_idx, split.test_idx, cfg),
                                   models=specs, config=cfg)
    fold_est = runs[False].estimator("mlp", "A", seed=0)
    best = fold_est.best_epoch_
    assert best is not None and "val_loss" in fold_est.history_[0]  # the fold model: validated
    row_f, row_r = runs[False].metrics.iloc[0], runs[True].metrics.iloc[0]
    final = runs[True].estimator("mlp", "A", seed=0)
    assert len(final.history_) == best and "val_loss" not in final.history_[0]  # no data held out
    assert f'"epochs": {best}' in row_r["best_params"]
    assert row_r["val_score"] == row_f["val_score"]  # chosen on the same validation fold
    assert not np.array_equal(_test_scores(runs[True], "mlp", "A", 0),
                              _test_scores(runs[False], "mlp", "A", 0))
