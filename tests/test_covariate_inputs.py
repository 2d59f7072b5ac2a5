"""Covariates as model inputs (issue 17, item 3), on real data.

The demo cohort (QC page defaults, Gene-PCA) gets two covariates of its own: a numeric ``age``
and a categorical ``site`` with a level seen only in test samples and missing values in both
sets. Checked: the coding (levels, reference, PCA, standardisation) comes from the training
rows only; samples lacking a value are removed from training and test, counted and listed; the
feature matrices gain exactly the covariate columns (plain inputs and, after its stage, the
nested association filter's input); a logistic regression comparison runs with them; a saved run
needs the covariate table to score new individuals and applies the saved coding. Quantitative
traits: the BGLR mice with their covariate table (sex, litter).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import genoapp.workflows.casecontrol as cc
from genoapp.demo import DEMO_BATCH, DEMO_PHENOTYPE, HG19_GENES, load_demo_cohort
from genoapp.errors import ConfigError, InputDataError
from genoapp.features import FeatureConfig, build_features
from genoapp.io import read_gene_table, write_plink
from genoapp.runs import open_run, save_casecontrol
from genoapp.workflows.casecontrol import compare_models, covariate_columns
from genoapp.workflows.config import qc_config
from genoapp.workflows.protocol import ProtocolConfig, StagedInput, case_scores
from genoapp.workflows.qc import run_qc_workflow

NAMES = ("age", "site")
COLUMNS = ["age", "site=south", "site=west", "PC1", "PC2"]


@pytest.fixture(scope="module")
def demo():
    c = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = c.phenotype(DEMO_PHENOTYPE)
    wf = run_qc_workflow(c, np.asarray(y, dtype=float), batch=c.samples[DEMO_BATCH].to_numpy(),
                         config=qc_config({}))
    fs = build_features(wf.G, wf.variants, wf.split, genes=read_gene_table(HG19_GENES))
    fa = build_features(wf.G, wf.variants, wf.split,
                        config=FeatureConfig(kind="windows", window_snps=20, method="all_pca",
                                             n_components=20))
    tr, te = wf.split.train_idx, wf.split.test_idx
    rng = np.random.default_rng(7)
    s = wf.samples.copy()
    n = len(s)
    s["age"] = rng.normal(50, 10, n).round(1)
    s["site"] = rng.choice(["north", "south", "west"], size=n, p=[0.5, 0.3, 0.2]).astype(object)
    rows = {"island": te[:3],                    # a level seen only in test samples
            "no_age": np.array([tr[3], tr[10], te[7]]),
            "no_site": np.array([tr[3], te[5]])}  # tr[3] lacks both
    s.loc[rows["island"], "site"] = "island"
    s.loc[rows["no_age"], "age"] = np.nan
    s.loc[rows["no_site"], "site"] = "NA"
    return {"wf": wf, "fs": fs, "fa": fa, "samples": s, "rows": rows, "tr": tr, "te": te}


def test_coding_is_fitted_on_the_training_rows_only(demo):
    wf, s, rows = demo["wf"], demo["samples"], demo["rows"]
    cov, X, split, _ = covariate_columns(s, wf.split, covariates=NAMES, pcs=2, snps=wf.G)
    assert cov.columns == COLUMNS and X.shape == (len(s), 5) and X.dtype == np.float32
    site = cov.coding[1]
    train_sites = s["site"].to_numpy()[split.train_idx]
    assert site.reference == pd.Series(train_sites).value_counts().idxmax() == "north"
    assert "island" not in site.levels and site.levels == ("south", "west")
    # the test-only level is an all-zero one-hot row (before the standardisation)
    raw = X.astype(np.float64) * cov.scale + cov.mean
    np.testing.assert_allclose(raw[rows["island"]][:, 1:3], 0.0, atol=1e-5)
    # standardised with the statistics of the training rows used
    kept = split.train_idx
    assert cov.n_fit == kept.size
    assert cov.mean[0] == pytest.approx(s["age"].to_numpy()[kept].mean(), rel=1e-9)
    np.testing.assert_allclose(X[kept].mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(X[kept].std(axis=0), 1.0, atol=1e-4)
    # neither the test samples' covariates nor their genotypes shape the coding or the PCs
    s2 = s.copy()
    s2.loc[demo["te"], "age"] = s2.loc[demo["te"], "age"] + 100.0
    G2 = wf.G.copy()
    G2[demo["te"]] = 2.0
    cov2, X2, _, _ = covariate_columns(s2, wf.split, covariates=NAMES, pcs=2, snps=G2)
    assert cov2.coding == cov.coding
    np.testing.assert_allclose(cov2.mean, cov.mean)
    np.testing.assert_allclose(cov2.scale, cov.scale)
    np.testing.assert_allclose(X2[kept], X[kept], atol=1e-5)


def test_rows_lacking_a_covariate_are_removed_counted_and_listed(demo):
    wf, s, rows, tr, te = demo["wf"], demo["samples"], demo["rows"], demo["tr"], demo["te"]
    cov, X, split, notes = covariate_columns(s, wf.split, covariates=NAMES, pcs=2, snps=wf.G)
    lost = sorted({*rows["no_age"], *rows["no_site"]})
    got = cov.dropped.sort_values("IID").reset_index(drop=True)
    ids = s.iloc[lost]
    want = pd.DataFrame({"FID": ids["FID"].to_numpy(), "IID": ids["IID"].to_numpy(),
                         "missing_covariates": ["age, site" if i == tr[3] else
                                                "age" if i in rows["no_age"] else "site"
                                                for i in lost],
                         "set": ["training" if i in set(tr) else "test" for i in lost]}
                        ).sort_values("IID").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert list(cov.dropped.columns[:3]) == list(wf.covariate_dropped.columns)  # the QC table's
    assert not set(lost) & set(split.train_idx) and not set(lost) & set(split.test_idx)
    assert len(split.train_idx) == len(tr) - 2 and len(split.test_idx) == len(te) - 2
    assert np.array_equal(split.y, wf.split.y)  # same rows, same numbering
    assert (X[lost] == 0).all()  # never used: no fold holds them
    note = next(n for n in notes if "lack a covariate value" in n)
    assert note.startswith("Covariates as inputs: 4 samples lack a covariate value (age: 3, "
                           "site: 2) and were removed: 2 training and 2 test samples")
    assert any("site: 3 levels, reference 'north'" in n for n in notes), notes


@pytest.fixture(scope="module")
def trained(demo, tmp_path_factory):
    wf, fs, fa, s = demo["wf"], demo["fs"], demo["fa"], demo["samples"]
    seen = {}
    real = cc.run_protocol

    def spy(inputs, y, **kw):
        seen.update(inputs)
        return real(inputs, y, **kw)

    inputs = {fs.input_name: fs, "All-PCA": fa}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cc, "run_protocol", spy)
        res = compare_models(inputs, wf.split, snps=wf.G, models=["logreg"],
                             config=ProtocolConfig(seeds=(0,), n_folds=3, device="cpu"),
                             association="nested", association_grid_override={"top_k": [20]},
                             covariates=NAMES, covariate_pcs=2, samples=s)
    root = tmp_path_factory.mktemp("runs")
    qc = dataclasses.replace(wf, samples=s)
    path = save_casecontrol(res, inputs, qc, runs_dir=root, label="covariates")
    return {"res": res, "seen": seen, "inputs": inputs, "path": path}


def test_feature_matrices_gain_exactly_the_covariate_columns(demo, trained):
    wf, fs, fa, s = demo["wf"], demo["fs"], demo["fa"], demo["samples"]
    res, seen = trained["res"], trained["seen"]
    _, X, split, _ = covariate_columns(s, wf.split, covariates=NAMES, pcs=2, snps=wf.G)
    # a plain input: its features, then the covariate columns
    np.testing.assert_array_equal(seen["All-PCA"], np.column_stack([fa.X, X]))
    assert res.feature_names["All-PCA"] == [*fa.feature_names, *COLUMNS]
    assert list(res.feature_groups["All-PCA"][-5:]) == ["covariate"] * 5
    assert set(res.feature_groups["All-PCA"][:-5]) == {"feature"}
    assert res.estimator("logreg", "All-PCA").n_features_in_ == fa.X.shape[1] + 5
    # the nested filter's input: raw dosages then the covariates; its stage appends them
    staged = seen[fs.input_name]
    assert isinstance(staged, StagedInput)
    np.testing.assert_array_equal(staged.data, np.column_stack([wf.G, X]))
    stage = res.stages[(fs.input_name, 1, 1)]
    assert list(stage.feature_names_[-5:]) == COLUMNS
    assert stage.feature_names_.size == stage.inner.feature_names_.size + 5
    est = res.estimator("logreg", fs.input_name)
    assert est.model.n_features_in_ == stage.feature_names_.size
    np.testing.assert_allclose(stage.transform(staged.data)[:, -5:], X)
    # every model is scored on the same reduced test set
    assert set(res.predictions["row"]) == set(split.test_idx)
    assert res.covariates.columns == COLUMNS and res.info["covariates"]["n_dropped"] == 4
    assert res.info["covariates"]["coding"][1]["reference"] == "north"


def test_logistic_regression_comparison_runs_with_covariates(trained):
    res = trained["res"]
    s = res.summary().set_index("input")
    assert list(s.index) == ["Gene-PCA", "All-PCA"] and (s["n"] == 1).all()
    assert s["roc_auc_mean"].between(0, 1).all()
    assert s.loc["Gene-PCA", "roc_auc_mean"] > 0.6  # the nested filter finds the planted genes
    assert res.notes[0].startswith("Covariates as inputs (coded on the")
    assert res.stage_choice["described"].iloc[0].endswith("+ 5 covariate columns")


def test_saved_run_needs_the_covariates_and_applies_the_saved_coding(demo, trained, tmp_path):
    wf, fa, s = demo["wf"], demo["fa"], demo["samples"]
    res, path = trained["res"], trained["path"]
    run = open_run(path)
    rec = json.loads((path / "run.json").read_text())
    assert rec["covariates"]["columns"] == COLUMNS and rec["covariates"]["names"] == list(NAMES)
    assert rec["covariates"]["inputs"] == ["Gene-PCA", "All-PCA"]
    assert len(pd.read_csv(path / "covariate_dropped.csv")) == 4
    assert run.covariate_names("All-PCA") == list(NAMES) and run.covariate_names("SNPs") == []
    rows = demo["te"][:12]  # the three "island" samples among them
    fam = s.iloc[rows][["FID", "IID"]].reset_index(drop=True)
    prefix = write_plink(tmp_path / "new", wf.G[rows], samples=fam, variants=wf.variants)
    with pytest.raises(InputDataError, match=r"trained with covariates as inputs.*columns age, "
                                             r"site"):
        run.predict(prefix, key="logreg", input="All-PCA", seed=0)
    with pytest.raises(InputDataError, match=r"need the column site in the covariate table"):
        run.predict(prefix, key="logreg", input="All-PCA", seed=0,
                    covariates=s[["FID", "IID", "age"]])
    table = s.iloc[rows][["FID", "IID", *NAMES]].reset_index(drop=True)
    with pytest.raises(InputDataError, match=r"2 new individuals lack a covariate value"):
        run.predict(prefix, key="logreg", input="All-PCA", seed=0, covariates=table)
    table["age"] = table["age"].fillna(50.0)
    table.loc[table["site"] == "NA", "site"] = "west"
    table = table.iloc[::-1]  # matched by ID, not by order
    enc = res.covariates.encode(table.iloc[::-1].reset_index(drop=True), wf.G[rows])
    assert enc.complete.all()
    for inp, base in (("All-PCA", fa.X[rows]), ("Gene-PCA", wf.G[rows])):
        out, rep = run.predict(prefix, key="logreg", input=inp, seed=0, covariates=table)
        assert rep.n_matched == len(wf.variants) and out["IID"].tolist() == fam["IID"].tolist()
        want = case_scores(res.estimator("logreg", inp, seed=0), np.column_stack([base, enc.X]))
        np.testing.assert_allclose(out["case_score"], want, rtol=1e-5, atol=1e-6)


def test_readable_errors(demo):
    wf, fs, s = demo["wf"], demo["fs"], demo["samples"]
    with pytest.raises(InputDataError, match="sample table has 0 rows"):
        compare_models(fs, wf.split, models=["logreg"], covariates=("age",))
    with pytest.raises(InputDataError, match="Covariate 'agee' is not a column"):
        covariate_columns(s, wf.split, covariates=("agee",))
    with pytest.raises(ConfigError, match="covariate PCs need the QC'd SNP dosages"):
        covariate_columns(s, wf.split, pcs=2)


def test_cli_covariate_options_reach_the_train_section(monkeypatch):
    import genoapp.runs
    from genoapp.__main__ import main

    seen = {}

    class _Result:
        def table(self):
            return pd.DataFrame({"model": ["x"]})

    def fake_run_pipeline(cfg, **kw):
        seen["train"] = cfg.train
        return "run_dir", _Result()

    monkeypatch.setattr(genoapp.runs, "run_pipeline", fake_run_pipeline)
    assert main(["run", "--preset", "teaching-demo", "--covariates", "age, source",
                 "--covariate-pcs", "2", "--quiet"]) == 0
    assert seen["train"]["covariates"] == ["age", "source"] and seen["train"]["covariate_pcs"] == 2


def test_run_pipeline_records_and_applies_the_covariates(tmp_path):
    from genoapp.runs import run_pipeline
    from genoapp.workflows.config import RunConfig

    cfg = RunConfig(kind="casecontrol", label="covariates", data={"source": "demo"}, qc={},
                    features={}, train={"models": ["logreg"], "association": "nested",
                                        "protocol": {"seeds": [0], "n_folds": 3},
                                        "covariates": ["superpopulation"], "covariate_pcs": 1})
    run_dir, res = run_pipeline(cfg, runs_dir=tmp_path)
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["covariates"]["columns"] == ["superpopulation=AMR", "superpopulation=EAS",
                                            "superpopulation=EUR", "superpopulation=SAS", "PC1"]
    assert rec["pipeline_config"]["train"]["covariates"] == ["superpopulation"]
    assert res.covariates.dropped.empty and len(res.metrics) == 1


# ------------------------------------------------------------------------ quantitative traits
def test_quantitative_mice_with_sex_and_litter_as_inputs(shared_data, tmp_path):
    from genoapp.runs import save_quantitative
    from genoapp.workflows.presets import protocol_config
    from genoapp.workflows.quantitative import load_quantitative_data, run_quantitative

    d = shared_data / "bglr_mice"
    cov = pd.read_csv(d / "mice.covar.tsv", sep="\t", dtype={"FID": str, "IID": str})
    cov.loc[[4, 40], "GENDER"] = "NA"
    cov.loc[[40, 400], "Litter"] = np.nan
    data = load_quantitative_data(d / "mice", phenotypes=d / "mice.pheno.tsv",
                                  covariates=cov[["FID", "IID", "GENDER", "Litter"]])
    cfg = protocol_config("quick", "regression", n_splits=3, n_repeats=1, n_trials=1)
    res = run_quantitative(data, traits=["Obesity.BodyLength"], models=["ridge"],
                           input_sets=["markers"], config=cfg, covariates=("GENDER", "Litter"),
                           covariate_pcs=1)
    cols = ["GENDER=F", "Litter", "PC1"]  # males are the most frequent level
    assert res.covariates.columns == cols
    assert res.feature_names["markers"][-3:] == cols
    assert list(res.feature_groups["markers"][-3:]) == ["covariate"] * 3
    assert res.feature_names["markers"][:-3] == data.variants["id"].astype(str).tolist()
    assert sorted(res.covariates.dropped["IID"]) == sorted(cov["IID"].iloc[[4, 40, 400]])
    assert dict(zip(res.covariates.dropped["IID"], res.covariates.dropped["missing_covariates"],
                    strict=True))[cov["IID"].iloc[40]] == "GENDER, Litter"
    assert any("3 samples with a trait lack a covariate value (GENDER: 2, Litter: 2)" in n
               for n in res.notes), res.notes
    lost = set(np.flatnonzero(data.samples["IID"].isin(res.covariates.dropped["IID"])))
    assert not lost & set(res.predictions["row"])
    assert len(set(res.predictions["row"])) == data.n_samples - 3
    assert res.summary()["r_mean"].iloc[0] > 0.2
    # the saved run scores new individuals with the saved coding
    run = open_run(save_quantitative(res, data, runs_dir=tmp_path))
    rows = np.arange(10, 20)
    G = data.read_dosages()[rows]
    fam = data.samples.iloc[rows][["FID", "IID"]].reset_index(drop=True)
    prefix = write_plink(tmp_path / "new", G, samples=fam, variants=data.variants)
    with pytest.raises(InputDataError, match="columns GENDER, Litter"):
        run.predict(prefix, key="ridge", input="markers", fold=1)
    table = data.samples.iloc[rows][["FID", "IID", "GENDER", "Litter"]]
    out, _ = run.predict(prefix, key="ridge", input="markers", fold=1, covariates=table)
    est = res.estimator("ridge", "markers", fold=1)
    Xc = res.covariates.encode(table.reset_index(drop=True), G).X
    np.testing.assert_allclose(out["predicted"], est.predict(np.column_stack([G, Xc])),
                               rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------- the pages
def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_train_page_covariates_reach_the_run_and_the_runs_page_asks_for_them(tmp_path,
                                                                             monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from genoapp.demo import DEMO_BED, DEMO_COVAR

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("GENOAPP_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(str(repo / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/qc.py").run()
    at.button(key="run_qc").click().run()
    at.switch_page("pages/features.py").run()
    at.button(key="build_features").click().run()
    at.switch_page("pages/train.py").run()
    _ok(at)
    options = at.multiselect(key="train_covariates").options
    assert {"source", "superpopulation", "sex"} <= set(options) and "FID" not in options
    assert "disease" not in options  # the phenotype is no covariate
    at.multiselect(key="models").set_value(["logreg"])
    at.number_input(key="n_seeds").set_value(1)
    at.multiselect(key="train_covariates").set_value(["superpopulation"])
    at.number_input(key="train_covariate_pcs").set_value(1)
    at.button(key="train").click().run()
    _ok(at)
    assert at.session_state["genoapp_train_job"].join(600), "training did not finish"
    at.run()
    _ok(at)
    infos = [i.value for i in at.info]
    assert any("superpopulation: 5 levels, reference" in i for i in infos), infos
    tr = at.session_state["genoapp_train"]
    assert tr["result"].covariates.columns[-1] == "PC1"
    rec = json.loads((Path(tr["run_dir"]) / "run.json").read_text())
    assert rec["pipeline_config"]["train"]["covariates"] == ["superpopulation"]
    assert rec["pipeline_config"]["train"]["covariate_pcs"] == 1
    # the Runs page asks for the covariate table and predicts with it
    runs = AppTest.from_file(str(repo / "pages" / "runs.py"), default_timeout=300)
    runs.run()
    _ok(runs)
    runs.text_input(key="predict_path").input(str(DEMO_BED))
    runs.button(key="predict").click().run()
    assert runs.error and "covariate table" in runs.error[0].value
    runs.text_input(key="predict_covar").input(str(DEMO_COVAR))
    runs.button(key="predict").click().run()
    _ok(runs)
    assert any(s.value.startswith("1,485 individuals scored") for s in runs.success)


def test_quantitative_page_takes_a_covariate_table_and_covariates(shared_data, tmp_path):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    d = shared_data / "bglr_mice"
    page = str(Path(__file__).resolve().parents[1] / "pages" / "quantitative.py")
    at = AppTest.from_file(page, default_timeout=300)
    at.run()
    at.radio(key="q_source").set_value("Files on the server").run()
    at.text_input(key="q_path_bed").input(str(d / "mice")).run()
    at.text_input(key="q_path_pheno").input(str(d / "mice.pheno.tsv")).run()
    at.text_input(key="q_path_covar").input(str(d / "mice.covar.tsv")).run()
    at.button(key="q_load_paths").click().run()
    _ok(at)
    assert {"GENDER", "Litter", "cage"} <= set(at.multiselect(key="q_covariates").options)
    at.multiselect(key="q_traits").set_value(["Obesity.BodyLength"]).run()
    assert "Obesity.BodyLength" not in at.multiselect(key="q_covariates").options
    at.multiselect(key="q_models_quick").set_value(["Ridge (GBLUP)"])
    at.multiselect(key="q_inputs").set_value(["markers"])
    at.multiselect(key="q_covariates").set_value(["GENDER"])
    at.number_input(key="q_covariate_pcs").set_value(1)
    at.number_input(key="q_folds_quick").set_value(2)
    at.number_input(key="q_trials_quick").set_value(1)
    at.text_input(key="q_runs_dir").set_value(str(tmp_path)).run()
    at.button(key="q_run").click().run()
    _ok(at)
    assert at.session_state["genoapp_train_job"].join(600), "the cross-validation did not finish"
    at.run()
    _ok(at)
    captions = [c.value for c in at.caption]
    assert any("GENDER: 2 levels, reference 'M'" in c for c in captions), captions
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["covariates"]["columns"] == ["GENDER=F", "PC1"]
    assert rec["pipeline_config"]["data"]["covariates"].endswith("mice.covar.tsv")
