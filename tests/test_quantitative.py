"""Quantitative traits: regression metrics, the CV protocol (no test leakage), the workflow."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import Ridge

from genoapp.errors import ConfigError, InputDataError
from genoapp.metrics import regression_metrics
from genoapp.models.callbacks import StopFlag
from genoapp.train import folds_from_labels, repeated_kfold
from genoapp.workflows.presets import model_params, protocol_config
from genoapp.workflows.protocol import FoldScaler, ModelSpec, ProtocolConfig, run_protocol
from genoapp.workflows.registry import model_specs


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(n=150, p=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.binomial(2, 0.3, size=(n, p)).astype(float)
    beta = np.zeros(p)
    beta[:4] = 1.0
    Y = np.c_[X @ beta + rng.normal(size=n), 0.5 * (X @ beta) + rng.normal(size=n)]
    Y[rng.random(n) < 0.2, 1] = np.nan
    X[rng.random((n, p)) < 0.01] = np.nan
    return X, Y


def _cv_config(**kw):
    """The old ``CVConfig(...)``: the quick regression protocol with these settings."""
    return protocol_config("quick", "regression", **kw)


def _ridge_spec(key="Ridge"):
    """A custom single-output spec (the old ``ModelSpec("Ridge", make=lambda s: Ridge())``)."""
    return ModelSpec(key, key, lambda random_state=0: Ridge(), task="regression")


def _cross_validate(X, Y, *, models, folds=None, config, traits=None, feature_groups=None,
                    on_event=None, stop=None):
    """The old ``cross_validate(X, Y, ...)``: run_protocol on one input named "markers"."""
    Y = np.asarray(Y, dtype=np.float64)
    if folds is None:
        folds = repeated_kfold(len(X), n_splits=config.n_splits, n_repeats=config.n_repeats,
                               random_state=config.random_state)
    return run_protocol({"markers": X}, Y, models=models, outer=folds, config=config,
                        traits=traits,
                        feature_groups=None if feature_groups is None else {"markers": feature_groups},
                        on_event=on_event, stop=stop)


# ------------------------------------------------------------------------------ metrics
def test_regression_metrics_match_references():
    import dcor
    from scipy.stats import pearsonr

    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    y = x ** 2 + 0.3 * rng.normal(size=200)
    m = regression_metrics(x, y)
    assert m["dcor"] == pytest.approx(dcor.distance_correlation(x, y), rel=1e-12)
    assert m["dcor"] == pytest.approx(dcor.distance_correlation(x, y, method="naive"), rel=1e-9)
    assert m["r"] == pytest.approx(pearsonr(x, y).statistic, rel=1e-12)
    assert m["mse"] == pytest.approx(np.mean((x - y) ** 2)) and m["n"] == 200
    # a non-linear relation: r is near 0, dCor is not
    assert abs(m["r"]) < 0.2 and m["dcor"] > 0.4
    # hand-made: perfect linear relation
    lin = regression_metrics([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert lin["r"] == pytest.approx(1.0) and lin["dcor"] == pytest.approx(1.0)
    assert lin["mse"] == pytest.approx((1 + 4 + 9) / 3)
    const = regression_metrics([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    assert np.isnan(const["r"])
    with pytest.raises(InputDataError, match="missing"):
        regression_metrics([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(InputDataError, match="predictions"):
        regression_metrics([1.0, 2.0], [1.0])


# ------------------------------------------------------------------------------ folds
def test_repeated_kfold_and_fold_labels():
    folds = repeated_kfold(23, n_splits=5, n_repeats=2, random_state=0)
    assert len(folds) == 10 and folds[5].repeat == 2 and folds[5].fold == 1
    for rep in (1, 2):
        tests = np.concatenate([f.test_idx for f in folds if f.repeat == rep])
        assert sorted(tests.tolist()) == list(range(23))
    for f in folds:
        assert np.intersect1d(f.train_idx, f.test_idx).size == 0
        assert f.train_idx.size + f.test_idx.size == 23
    assert not np.array_equal(folds[0].test_idx, folds[5].test_idx)
    lab = folds_from_labels([2, 1, 2, 3, 1, 3])
    assert [f.test_idx.tolist() for f in lab] == [[1, 4], [0, 2], [3, 5]]
    with pytest.raises(InputDataError):
        folds_from_labels([1, 1, 1])
    with pytest.raises(ConfigError):
        ProtocolConfig(task="regression", n_splits=1)
    paper, quick = protocol_config("paper", "regression"), protocol_config("quick", "regression")
    assert paper.n_repeats == 10 and paper.n_splits == 5
    # the quick answer: one 5-fold CV with the default hyper-parameters (issue 16)
    assert quick.n_repeats == 1 and quick.tuning == "none"
    assert model_params("quick", "grvsnn")["patience"] == 25


def test_fold_scaler_uses_training_statistics_only():
    X, Y = _data()
    tr, te = np.arange(100), np.arange(100, 150)
    a = FoldScaler().fit(X[tr], Y[tr])
    X2 = X.copy()
    X2[te] = 1e6  # test rows changed: nothing fitted may change
    b = FoldScaler().fit(X2[tr], Y[tr])
    np.testing.assert_array_equal(a.x_mean_, b.x_mean_)
    Z = a.transform_x(X[tr])
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)  # imputed with training means
    np.testing.assert_allclose(a.y_mean_, np.nanmean(Y[tr], axis=0))
    np.testing.assert_allclose(a.inverse_y(a.transform_y(Y[te])), Y[te])
    const = np.c_[np.ones(10), np.arange(10.0)]
    assert (FoldScaler().fit(const, np.ones((10, 1))).transform_x(const)[:, 0] == 0).all()


class _Spy:
    """A ridge that records every row it is fitted on (to prove the test fold is never seen)."""

    seen: list = []

    def __init__(self, random_state=0):
        self.random_state = random_state
        self.model = Ridge(alpha=1.0)

    def fit(self, X, y):
        _Spy.seen.append(np.asarray(X).copy())
        self.model.fit(X, y)
        self.selected_ = None
        return self

    def predict(self, X):
        return self.model.predict(X)


def test_cross_validation_never_fits_on_the_test_fold():
    X, Y = _data()
    X[:, 0] = np.arange(len(X))  # a row id in column 0 (it is standardised, so compare ranks)
    _Spy.seen = []
    folds = repeated_kfold(len(X), n_splits=3, n_repeats=1, random_state=0)
    res = _cross_validate(X, Y, models=[ModelSpec("spy", "spy", _Spy, task="regression")],
                          folds=folds, config=_cv_config(n_splits=3, n_repeats=1),
                          traits=["a", "b"])
    assert len(_Spy.seen) == 3 * 2  # per fold and trait
    for k, fold in enumerate(folds):
        for t in range(2):
            fitted = _Spy.seen[2 * k + t]
            sc = FoldScaler().fit(X[fold.train_idx], Y[fold.train_idx])
            test_rows = sc.transform_x(X[fold.test_idx])[:, 0]
            assert not np.isin(np.round(fitted[:, 0], 4), np.round(test_rows, 4)).any()
            np.testing.assert_allclose(fitted.mean(axis=0)[1:], 0, atol=0.2)
    s = res.metrics
    assert len(s) == 6 and set(s["trait"]) == {"a", "b"}
    assert (s.loc[s["trait"] == "b", "n_train"].to_numpy()
            < s.loc[s["trait"] == "a", "n_train"].to_numpy()).all()  # trait b has NaNs
    p = res.predictions
    assert sorted(p.loc[p["trait"] == "a", "row"]) == list(range(len(X)))
    fold1 = p[(p["fold"] == 1) & (p["trait"] == "a")]
    assert sorted(fold1["row"].tolist()) == folds[0].test_idx.tolist()
    m = regression_metrics(fold1["observed_std"], fold1["predicted_std"])
    row = s[(s["fold"] == 1) & (s["trait"] == "a")].iloc[0]
    assert m["r"] == pytest.approx(row["r"]) and m["mse"] == pytest.approx(row["mse"])
    summ = res.summary()
    assert summ.loc[summ["trait"] == "a", "r_mean"].iloc[0] > 0.5
    assert np.isnan(summ["n_selected_mean"]).all()


def test_grvsnn_tuning_inside_training_data_and_selection_counts():
    X, Y = _data(n=160, p=20)
    # GRVSNN is tuned by the protocol (Optuna inside each training fold); max_epochs and
    # patience are GRVSNN parameters now
    cfg = _cv_config(n_splits=2, n_repeats=1, n_trials=3, tuning="optuna")
    grvsnn = model_specs(["grvsnn"], task="regression",
                         overrides={"grvsnn": {"n_hidden": 4, "max_epochs": 6, "patience": 3}})
    groups = np.array(["loading"] * 5 + ["marker"] * 15, dtype=object)
    res = _cross_validate(X, Y, models=[*grvsnn, _ridge_spec()], config=cfg, traits=["a", "b"],
                          feature_groups=groups)
    tuning = res.fold_metrics
    assert (tuning["key"] == "grvsnn").all()  # nothing to tune for ridge: fitted once per fold
    for fold in (1, 2):
        trials = tuning[tuning["fold"] == fold].reset_index(drop=True)
        assert len(trials) == 3 and set(trials["state"]) <= {"COMPLETE", "PRUNED"}
        params = pd.DataFrame([json.loads(p) for p in trials["params"]])
        first = params.iloc[0]
        assert first["batch_size"] == 128 and first["learning_rate"] == pytest.approx(1e-3)
        assert params["batch_size"].between(64, 512).all()
        assert params["learning_rate"].between(1e-5, 1e-3).all()
        assert params["dropout"].between(0.1, 0.5).all()
        # the fold's model is the best trial's (lowest validation MSE)
        row = res.metrics[(res.metrics["key"] == "grvsnn") & (res.metrics["fold"] == fold)].iloc[0]
        best = trials.loc[trials["mse"].idxmin()]
        assert json.loads(row["best_params"]) == json.loads(best["params"])
        assert row["val_score"] == pytest.approx(-trials["mse"].min())
    g = res.metrics[res.metrics["model"] == "GRVSNN"]
    assert len(g) == 4  # 2 folds x 2 traits, one multi-trait fit per fold
    assert (g["n_selected"] == g["n_selected_markers"] + g["n_selected_loadings"]).all()
    assert len(res.fold_metrics) == 2 * 3 and set(res.fold_metrics["fold"]) == {1, 2}
    imp = res.importance("GRVSNN", "markers")
    assert len(imp) == 20 and imp["importance"].sum() == pytest.approx(1.0, abs=1e-4)
    assert set(imp["group"]) == {"marker", "loading"}
    assert ("grvsnn", "markers", "(all traits)") in res.importance_models()
    with pytest.raises(ConfigError):
        res.importance("BRR", "markers")


def test_stop_request_keeps_finished_folds():
    X, Y = _data()
    flag = StopFlag()
    events = []

    def on_event(ev):
        events.append(ev)
        if ev["event"] == "task_end" and sum(e["event"] == "task_end" for e in events) == 2:
            flag.request_stop()

    res = _cross_validate(X, Y, models=[_ridge_spec()], config=_cv_config(n_splits=3, n_repeats=2),
                          on_event=on_event, stop=flag)
    assert res.stopped and len(res.metrics) == 2 and res.notes
    assert events[-1]["n_tasks"] == 12 and isinstance(res.metrics, pd.DataFrame)


# ------------------------------------------------------------------------------ workflow
@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    """A small PLINK fileset, phenotype table and pedigree with a known additive signal."""
    from genoapp.io import write_plink

    rng = np.random.default_rng(3)
    d = tmp_path_factory.mktemp("quant")
    n_f, n_kids = 20, 100
    ids = [f"F{i}" for i in range(n_f)] + [f"K{i}" for i in range(n_kids)]
    sires = ["0"] * n_f + [f"F{rng.integers(0, 10)}" for _ in range(n_kids)]
    dams = ["0"] * n_f + [f"F{rng.integers(10, 20)}" for _ in range(n_kids)]
    ped = pd.DataFrame({"id": ids, "sire": sires, "dam": dams})
    ped.to_csv(d / "study.pedigree.tsv", sep="\t", index=False)
    n, m = len(ids), 60
    G = rng.binomial(2, 0.35, size=(n, m)).astype(np.float32)
    samples = pd.DataFrame({"FID": ids, "IID": ids})
    variants = pd.DataFrame({"chrom": "1", "id": [f"snp{j}" for j in range(m)],
                             "pos": np.arange(1, m + 1), "A1": "A", "A2": "G"})
    write_plink(d / "study", G, samples=samples, variants=variants)
    g = G[:, :5].sum(axis=1)
    y1 = g + rng.normal(size=n)
    y2 = -0.5 * g + rng.normal(size=n)
    y2[rng.random(n) < 0.2] = np.nan
    pd.DataFrame({"FID": ids, "IID": ids, "size": y1, "weight": y2}).to_csv(
        d / "study.pheno.tsv", sep="\t", index=False, na_rep="NA")
    return d


def test_workflow_pedigree_loadings_runs_and_saves(small_study, tmp_path, monkeypatch):
    from genoapp.runs import open_run, save_quantitative
    from genoapp.workflows import quantitative as wq
    from genoapp.workflows.quantitative import (
        build_inputs,
        load_quantitative_data,
        resolve_rank,
        results_table,
        run_quantitative,
    )

    data = load_quantitative_data(small_study / "study", phenotypes=small_study / "study.pheno.tsv",
                                  pedigree=small_study / "study.pedigree.tsv")
    assert data.n_samples == 120 and data.n_variants == 60
    assert data.trait_names == ["size", "weight"]
    rel = data.relationship
    # the decomposition reproduces A of the whole pedigree
    np.testing.assert_allclose(rel.loadings @ rel.loadings.T,
                               _A_of(small_study / "study.pedigree.tsv"), atol=1e-8)
    X, names, groups = build_inputs(data, input_set="markers + loadings", n_components=7)
    assert X.shape == (120, 67) and names[:2] == ["L1", "L2"] and (groups == "loading").sum() == 7
    with pytest.raises(ConfigError):
        resolve_rank(data, 10_000)
    # unknown model names are refused now; a model that cannot run here is skipped with a reason
    with pytest.raises(ConfigError, match="nope"):
        run_quantitative(data, traits=["size"], models=["GRVSNN", "nope"])
    avail = wq.available_models("regression")
    monkeypatch.setattr(wq, "available_models", lambda task=None: {
        **avail, "lassonet": "LassoNet is not available (ImportError: test)."})
    events = []
    cfg = _cv_config(n_splits=3, n_repeats=1, n_trials=1)
    run = run_quantitative(data, traits=["size", "weight"], models=["GRVSNN", "Ridge (GBLUP)",
                                                                     "LassoNet"],
                           config=cfg, n_components=7,
                           overrides={"grvsnn": {"n_hidden": 4, "max_epochs": 4, "patience": 2}},
                           on_event=events.append)
    assert run.info["skipped"].keys() == {"LassoNet"}
    assert [m.name for m in run.models.values()] == ["GRVSNN", "Ridge (GBLUP)"]
    assert run.inputs == ["markers", "markers + loadings"]
    assert events[-1]["event"] == "done"
    assert events[-1]["n_done"] == events[-1]["n_tasks"] == 2 * 3 * (1 + 2)
    s = run.summary()
    assert len(s) == 2 * 2 * 2 and (s["n"] == 3).all()
    ridge = s[(s["model"] == "Ridge (GBLUP)") & (s["trait"] == "size")]
    assert (ridge["r_mean"] > 0.4).all()
    gl = s[(s["model"] == "GRVSNN") & (s["input"] == "markers + loadings")]
    assert gl["n_selected_mean"].notna().all()
    t = results_table(s)
    assert {"MSE", "Pearson r", "dCor", "selected markers"} <= set(t.columns)
    p = run.predictions
    assert {"observed", "predicted"} <= set(p.columns)
    # paired design: every model and input set was scored on the same test rows
    rows = p.groupby(["input", "model", "trait", "fold"])["row"].apply(lambda r: tuple(sorted(r)))
    assert rows.xs(("markers", "GRVSNN", "size"), level=(0, 1, 2)).tolist() == \
        rows.xs(("markers + loadings", "Ridge (GBLUP)", "size"), level=(0, 1, 2)).tolist()
    out = save_quantitative(run, data, runs_dir=tmp_path)
    assert out.parent == tmp_path
    record = json.loads((out / "run.json").read_text())
    assert record["info"]["n_components"] == 7 and record["protocol"]["n_splits"] == 3
    for name in ("summary.csv", "metrics.csv", "predictions.csv", "fold_metrics.csv",
                 "config.json", "importance.csv"):
        assert (out / name).is_file(), name
    saved = open_run(out)
    assert {"FID", "IID", "observed", "predicted"} <= set(saved.predictions.columns)
    assert not any(f.name.endswith(".tmp") for f in tmp_path.rglob("*"))


def _A_of(path):
    from genoapp.features.pedigree import additive_relationship
    from genoapp.io.pedigree import read_pedigree

    return additive_relationship(read_pedigree(path))


def test_workflow_errors(small_study):
    from genoapp.workflows.quantitative import load_quantitative_data, run_quantitative

    data = load_quantitative_data(small_study / "study", phenotypes=small_study / "study.pheno.tsv")
    assert data.relationship is None
    with pytest.raises(ConfigError, match="pedigree or a relationship"):
        run_quantitative(data, traits=["size"], input_sets=["markers + loadings"])
    with pytest.raises(ConfigError, match="Unknown"):
        run_quantitative(data, traits=["height"])
    with pytest.raises(ConfigError, match="not both"):
        load_quantitative_data(small_study / "study", phenotypes=small_study / "study.pheno.tsv",
                               pedigree=small_study / "study.pedigree.tsv", grm="x")
    bad = small_study / "bad.pedigree.tsv"
    bad.write_text("id\tsire\tdam\nK0\t0\t0\n")
    with pytest.raises(InputDataError, match="not in the pedigree"):
        load_quantitative_data(small_study / "study", phenotypes=small_study / "study.pheno.tsv",
                               pedigree=bad)


def test_models_registry_and_demo_assets(repo_root, shared_data):
    from genoapp.workflows.quantitative import demo_paths
    from genoapp.workflows.registry import QUANTITATIVE_MODELS, available_models

    avail = available_models("regression")
    assert list(avail) == list(QUANTITATIVE_MODELS) and avail["grvsnn"] is None
    paths = demo_paths()
    readme = paths["readme"].read_text()
    assert "GPL-3" in readme
    for name in ("mice.bed", "mice.bim", "mice.fam", "mice.pheno.tsv", "mice.A.grm.bin",
                 "mice.A.grm.id"):
        shipped = (repo_root / "assets" / "quantitative" / "mice" / name).read_bytes()
        digest = hashlib.sha256(shipped).hexdigest()
        assert digest in readme, name
        assert shipped == (shared_data / "bglr_mice" / name).read_bytes(), name


def test_quantitative_plots():
    from genoapp.plots.quantitative import (
        fold_scores_figure,
        importance_figure,
        model_comparison_figure,
        observed_vs_predicted,
        scree_plot,
    )

    fig = scree_plot(np.r_[np.linspace(10, 2, 20), np.full(80, 0.5)], elbow=5, plateau=20,
                     chosen=20)
    assert fig.data[0].y.shape[0] == 60 and "first 20" in fig.layout.title.text
    X, Y = _data(n=90, p=10)
    res = _cross_validate(X, Y, models=[_ridge_spec()], config=_cv_config(n_splits=3, n_repeats=2),
                          traits=["a", "b"])
    fig = observed_vs_predicted(res.predictions, model="Ridge", trait="a")
    assert len(fig.data) == 3 and "pooled r" in fig.layout.title.text  # 2 repeats + y = x
    fig = observed_vs_predicted(res.predictions, model="Ridge", trait="a",
                                metrics={"r": 0.5, "dcor": 0.4, "mse": 0.8})
    assert "r = 0.500, dCor = 0.400" in fig.layout.title.text
    assert len(model_comparison_figure(res.summary(), metric="r").data) == 1
    assert len(fold_scores_figure(res.metrics, metric="mse").data) == 1
    imp = pd.DataFrame({"feature": ["a", "b", "L1"], "group": ["marker", "marker", "loading"],
                        "importance": [0.5, 0.1, 0.4], "selected_fraction": [1.0, 0.0, 1.0]})
    fig = importance_figure(imp, top=2, threshold=0.05)
    assert sum(len(t.y) for t in fig.data) == 2


def test_lassonet_app_preset_runs_in_the_protocol_and_is_recorded(small_study, tmp_path):
    """LassoNet with the quick preset's coarse lambda search, through the same folds as the other
    models; its settings are written to the run record."""
    from genoapp.runs import open_run, save_quantitative
    from genoapp.workflows.quantitative import load_quantitative_data, run_quantitative

    data = load_quantitative_data(small_study / "study", phenotypes=small_study / "study.pheno.tsv")
    cfg = _cv_config(n_splits=3, n_repeats=1, n_trials=1)
    run = run_quantitative(data, traits=["size"], models=["LassoNet", "Ridge (GBLUP)"],
                           input_sets=["markers"], config=cfg,
                           overrides={"lassonet": model_params("quick", "lassonet")})
    assert not run.info["skipped"]
    s = run.summary().set_index("model")
    assert s.loc["LassoNet", "n"] == 3
    assert 0 < s.loc["LassoNet", "n_selected_markers_mean"] <= 60
    assert s.loc["LassoNet", "r_mean"] > 0.3 and s.loc["Ridge (GBLUP)", "r_mean"] > 0.3
    rec = open_run(save_quantitative(run, data, runs_dir=tmp_path)).config["models"]["lassonet"]["params"]
    assert rec["cv"] == 3 and rec["path_multiplier"] == 1.5
