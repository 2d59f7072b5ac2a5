"""Covariates done right: one-hot design against the most frequent level, missing rows dropped
and reported by ID, and the logistic GWAS on that design equal to statsmodels' ``Logit``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoapp.demo import DEMO_PHENOTYPE, load_demo_cohort
from genoapp.errors import InputDataError
from genoapp.features import CovariateDesign, covariate_design
from genoapp.qc import linear_association
from genoapp.workflows.qc import QCWorkflowConfig, run_qc_workflow


# ------------------------------------------------------------------------ the design builder
def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "FID": [f"F{i}" for i in range(8)], "IID": [f"I{i}" for i in range(8)],
        "age": [31.5, 40.0, 52.0, 47.0, 38.0, 29.0, 61.0, 44.0],
        "site": ["b", "c", "b", "a", "b", "c", "a", "b"],  # b most frequent (4), then a, c (2)
    })


def test_reference_is_the_most_frequent_level_and_columns_are_named_name_level():
    d = covariate_design(_table(), ["site", "age"])
    assert isinstance(d, CovariateDesign)
    assert d.columns == ["site=a", "site=c", "age"]
    assert d.X.dtype == np.float64 and d.X.shape == (8, 3) and d.X.flags.c_contiguous
    np.testing.assert_array_equal(d.X[:, 0], [0, 0, 0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(d.X[:, 1], [0, 1, 0, 0, 0, 1, 0, 0])
    assert d.complete.all() and d.n_dropped == 0
    assert d.coding[0].reference == "b" and d.coding[0].levels == ("a", "c")
    assert any(n.startswith("site: 3 levels, reference 'b' (most frequent, 4 of 8 rows)")
               for n in d.notes), d.notes
    # the same as pandas' one-hot columns minus the most frequent one
    ref = pd.get_dummies(_table()["site"], prefix="site", prefix_sep="=", dtype=float)
    np.testing.assert_array_equal(d.X[:, :2], ref.drop(columns="site=b").to_numpy())


def test_a_tie_picks_the_first_level_in_sorted_order_and_category_dtype_works():
    t = pd.DataFrame({"batch": pd.Categorical(["y", "x", "z", "y", "x", "z"])})
    d = covariate_design(t, ["batch"])
    assert d.coding[0].reference == "x" and d.columns == ["batch=y", "batch=z"]
    # numbers in a text column are levels, written without a trailing ".0"
    d2 = covariate_design(pd.DataFrame({"plate": np.array([1.0, 2.0, 2.0, 3.0], dtype=object)}),
                          ["plate"])
    assert d2.columns == ["plate=1", "plate=3"]


def test_numeric_columns_pass_through_unchanged():
    t = pd.DataFrame({"i": np.array([3, -9, 0, 7], dtype=np.int64),
                      "f": [0.25, -1.5, 1e6, 2.0],
                      "b": [True, False, True, True]})
    d = covariate_design(t, ["i", "f", "b"])
    assert d.columns == ["i", "f", "b"] and not d.notes
    np.testing.assert_array_equal(d.X, np.column_stack([t["i"], t["f"], [1.0, 0.0, 1.0, 1.0]]))
    assert d.complete.all()  # the number -9 is a value; only the text token "-9" is missing


def test_rows_with_a_missing_value_are_marked_counted_and_named():
    t = _table()
    t["site"] = t["site"].astype(object)
    t.loc[1, "site"] = "NA"
    t.loc[4, "site"] = " -9 "
    t.loc[6, "site"] = None
    t.loc[6, "age"] = np.nan
    t.loc[7, "age"] = np.inf
    d = covariate_design(t, ["age", "site"])
    np.testing.assert_array_equal(d.complete, [1, 0, 1, 1, 0, 1, 0, 0])
    assert d.n_dropped == 4
    assert d.missing_names().tolist() == ["", "site", "", "", "site", "", "age, site", "age"]
    assert np.isnan(d.X[~d.complete]).any(axis=1).all()
    assert np.isfinite(d.X[d.complete]).all()
    assert d.notes[-1] == "4 of 8 rows lack a covariate value (age: 2, site: 3) and are dropped."
    # levels and the reference come from the complete rows only: b 2, c 1, a 1
    assert d.coding[1].reference == "b" and d.columns == ["age", "site=a", "site=c"]
    assert "2 of 4 rows" in d.notes[0]


def test_a_single_level_column_is_dropped_with_a_note():
    t = _table().assign(country=["SE"] * 8, const=1.0)
    d = covariate_design(t, ["country", "age", "const"])
    assert d.columns == ["age"] and [c.kind for c in d.coding] == ["dropped", "numeric",
                                                                    "dropped"]
    assert any("country: one level only ('SE')" in n and "dropped" in n for n in d.notes)
    assert any("const: one value only (1)" in n for n in d.notes)


def test_levels_are_fixed_on_the_rows_given_and_reused_with_coding():
    t = _table()
    train = np.array([0, 1, 2, 3, 4, 5])  # b 3, c 2, a 1
    d = covariate_design(t, ["site"], rows=train)
    assert d.X.shape == (6, 2) and d.columns == ["site=a", "site=c"]
    other = pd.DataFrame({"site": ["c", "zz", "b", "a"]})
    o = covariate_design(other, ["site"], coding=d.coding)
    assert o.columns == d.columns
    np.testing.assert_array_equal(o.X, [[0, 1], [0, 0], [0, 0], [1, 0]])  # "zz": all-zero row
    assert any("1 row with a level not seen" in n and "'zz'" in n for n in o.notes), o.notes
    mask = np.zeros(8, dtype=bool)
    mask[train] = True
    np.testing.assert_array_equal(covariate_design(t, ["site"], rows=mask).X, d.X)


def test_no_covariates_gives_an_empty_design():
    d = covariate_design(_table(), [])
    assert d.X.shape == (8, 0) and d.columns == [] and d.complete.all() and d.notes == []


def test_errors_name_the_column_and_say_what_was_found():
    with pytest.raises(InputDataError, match=r"Covariate 'agee' is not a column .* expected "
                                             r"one of: FID, IID, age, site"):
        covariate_design(_table(), ["agee"])
    with pytest.raises(InputDataError, match=r"must be in \[0, 8\).*found 0\.\.8"):
        covariate_design(_table(), ["age"], rows=[0, 8])
    d = covariate_design(_table(), ["age", "site"])
    with pytest.raises(InputDataError, match="same order"):
        covariate_design(_table(), ["site", "age"], coding=d.coding)


# ------------------------------------------------------------------- real data: the workflow
NAMES = ("superpopulation", "sex")
#: Selected-sample positions whose covariates are blanked: superpopulation ("NA" token), sex
#: (NaN), both; training and test samples among them (checked below).
BLANK_POP = [3, 10, 50, 700, 1200]
BLANK_SEX = [10, 77, 901, 1400, 15, 1101]


@pytest.fixture(scope="module")
def demo_run():
    cohort = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = cohort.phenotype(DEMO_PHENOTYPE)
    y = np.asarray(y, dtype=float)
    cov = cohort.samples.copy()
    cov["superpopulation"] = cov["superpopulation"].astype(object)
    cov.loc[BLANK_POP, "superpopulation"] = "NA"
    cov["sex"] = cov["sex"].astype(float)
    cov.loc[BLANK_SEX, "sex"] = np.nan
    cfg = QCWorkflowConfig(gwas_test="logistic", gwas_covariates=NAMES, gwas_pcs=2,
                           pca_components=2, batch_filter=None)
    r = run_qc_workflow(cohort, y, config=cfg, covariates=cov)
    return cohort, y, cov, r


def test_dropped_training_samples_are_reported_exactly(demo_run):
    cohort, _, cov, r = demo_run
    assert r.qc.sample_mask.all()  # the demo loses no sample to --mind: positions line up
    training = r.sample_stats["set"].to_numpy() == "training"
    blanked = sorted(set(BLANK_POP) | set(BLANK_SEX))
    train_blanked = [i for i in blanked if training[i]]
    assert 0 < len(train_blanked) < len(blanked)  # test samples blanked too: never reported
    want = pd.DataFrame({
        "FID": cohort.samples["FID"].to_numpy()[train_blanked],
        "IID": cohort.samples["IID"].to_numpy()[train_blanked],
        "missing_covariates": [", ".join(n for n, rows in zip(NAMES, (BLANK_POP, BLANK_SEX),
                                                              strict=True) if i in rows)
                               for i in train_blanked],
    })
    got = r.covariate_dropped.sort_values(["FID", "IID"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want.sort_values(["FID", "IID"]).reset_index(drop=True),
                                  check_dtype=False)
    assert "superpopulation, sex" in set(got["missing_covariates"])  # sample 10 lacks both
    note = next(n for n in r.notes if "without a covariate value" in n)
    assert note.startswith(f"Logistic GWAS: {len(train_blanked)} training samples")
    ref = cov["superpopulation"].to_numpy()[training & ~np.isin(np.arange(len(cov)), blanked)]
    top = pd.Series(ref).value_counts()
    level = sorted(top.index[top == top.max()])[0]
    assert any(f"superpopulation: 5 levels, reference '{level}' (most frequent" in n
               for n in r.notes), r.notes


def test_logistic_gwas_with_a_categorical_covariate_equals_statsmodels(demo_run):
    sm = pytest.importorskip("statsmodels.api")
    cohort, y, cov, r = demo_run
    kept = np.flatnonzero(r.qc.sample_mask)
    train = kept[r.split.train_idx]
    dropped = set(zip(r.covariate_dropped["FID"], r.covariate_dropped["IID"], strict=True))
    ids = list(zip(cohort.samples["FID"].to_numpy()[train],
                   cohort.samples["IID"].to_numpy()[train], strict=True))
    use = np.array([i not in dropped for i in ids])
    rows = train[use]
    # the design built independently: pandas one-hot, most frequent level dropped, then the PCs
    pop = cov["superpopulation"].to_numpy()[rows].astype(str)
    counts = pd.Series(pop).value_counts()
    reference = sorted(counts.index[counts == counts.max()])[0]
    dummies = pd.get_dummies(pd.Series(pop), dtype=float).drop(columns=reference)
    pcs = r.gwas_pc_scores[use]  # PCA of the training samples only
    design = np.column_stack([dummies.to_numpy(), cov["sex"].to_numpy()[rows], pcs])
    stats = r.variant_stats
    tested = np.flatnonzero(stats["gwas_p"].notna().to_numpy())
    pick = np.unique(np.concatenate([tested[:3], tested[np.argsort(
        stats["gwas_p"].to_numpy()[tested])[:3]]]))
    G = cohort.read_dosages(pick)[rows]
    for j, v in enumerate(pick):
        ok = ~np.isnan(G[:, j])
        exog = sm.add_constant(np.column_stack([G[ok, j], design[ok]]), has_constant="add")
        fit = sm.Logit(y[rows][ok], exog).fit(disp=0, method="newton", maxiter=100, tol=1e-12)
        np.testing.assert_allclose(np.log(stats["gwas_or"].iloc[v]), fit.params[1], rtol=1e-6)
        np.testing.assert_allclose(stats["gwas_p"].iloc[v], fit.pvalues[1], rtol=1e-6)
        np.testing.assert_allclose(stats["gwas_stat"].iloc[v], fit.tvalues[1], rtol=1e-6)


def test_linear_association_on_a_one_hot_design_equals_statsmodels_ols():
    sm = pytest.importorskip("statsmodels.api")
    cohort = load_demo_cohort()
    d = covariate_design(cohort.samples, ["superpopulation", "source", "sex"])
    assert d.complete.all() and len(d.columns) == 6
    rng = np.random.default_rng(0)
    G = cohort.read_dosages(np.arange(0, 2000, 400))
    trait = d.X @ rng.normal(size=d.X.shape[1]) + np.nan_to_num(G[:, 0]) * 0.3 + rng.normal(
        size=len(G))
    ours = linear_association(G, trait, covariates=d.X)
    for j in range(G.shape[1]):
        ok = ~np.isnan(G[:, j])
        fit = sm.OLS(trait[ok], sm.add_constant(np.column_stack([G[ok, j], d.X[ok]]))).fit()
        np.testing.assert_allclose(ours["BETA"][j], fit.params[1], rtol=1e-6)
        np.testing.assert_allclose(ours["P"][j], fit.pvalues[1], rtol=1e-6)


# ------------------------------------------------------------------------------ the QC page
def test_qc_page_offers_text_covariates_and_downloads_the_dropped_ids(tmp_path):
    from streamlit.testing.v1 import AppTest

    from genoapp.io import write_plink

    rng = np.random.default_rng(1)
    n, m = 120, 300
    G = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(np.float32)
    samples = pd.DataFrame({"FID": [f"F{i}" for i in range(n)],
                            "IID": [f"I{i}" for i in range(n)]})
    variants = pd.DataFrame({"chrom": np.repeat(["1", "2"], m // 2),
                             "id": [f"rs{j}" for j in range(m)],
                             "pos": np.tile(np.arange(m // 2) * 5000 + 1, 2), "A1": ["A"] * m,
                             "A2": ["G"] * m})
    write_plink(tmp_path / "user", G, samples=samples, variants=variants)
    pd.DataFrame({"FID": samples["FID"], "IID": samples["IID"],
                  "status": (rng.random(n) < 0.5).astype(int)}).to_csv(
        tmp_path / "pheno.tsv", sep="\t", index=False)
    site = rng.choice(["north", "south", "west"], size=n, p=[0.5, 0.3, 0.2]).astype(object)
    site[[5, 17, 60]] = "NA"
    pd.DataFrame({"FID": samples["FID"], "IID": samples["IID"], "site": site}).to_csv(
        tmp_path / "covar.tsv", sep="\t", index=False)

    app = str(Path(__file__).resolve().parents[1] / "app.py")
    at = AppTest.from_file(app, default_timeout=240)
    at.run()
    at.radio(key="data_source").set_value("Files on the server").run()
    at.text_input(key="path_bed").input(str(tmp_path / "user")).run()
    at.text_input(key="path_pheno").input(str(tmp_path / "pheno.tsv")).run()
    at.text_input(key="path_covar").input(str(tmp_path / "covar.tsv")).run()
    at.button(key="load_paths").click().run()
    at.multiselect(key="sexes").set_value([0]).run()
    assert not at.exception
    at.switch_page("pages/qc.py").run()
    assert not at.exception and not at.error
    assert "site" in at.multiselect(key="gwas_covariates").options
    at.radio(key="gwas_test").set_value("logistic")
    at.multiselect(key="gwas_covariates").set_value(["site"])
    at.button(key="run_qc").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    infos = [i.value for i in at.info]
    assert any("site: 3 levels, reference 'north'" in i for i in infos), infos
    wf = at.session_state["genoapp_qc"]["result"]
    training = wf.sample_stats["set"].to_numpy() == "training"
    want = [f"I{i}" for i in (5, 17, 60) if training[i]]
    assert sorted(wf.covariate_dropped["IID"]) == want and want
    assert any(f"Logistic GWAS: {len(want)} training samples" in i for i in infos), infos
    labels = [e.proto.label for e in at.get("download_button")]
    assert any("gwas_covariate_missing_samples.csv" in lab for lab in labels), labels
