"""Interpretation against a null: permuted-label reference networks, coupling against the
reference, gene-scan ranks with ties, empirical p / FDR, core genes and degenerate masked nulls."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from genoapp.errors import ConfigError, InputDataError
from genoapp.interpret import (
    CouplingNull,
    FeatureTable,
    GeneIndex,
    GeneScanResult,
    core_genes_against_null,
    coupling_against_null,
    gene_scan,
    gene_scan_null,
    mean_coupling_by_label,
    null_gene_scans,
    null_score_deviations,
    permutation_null,
    permuted_label_networks,
)
from genoapp.interpret.null import tie_groups, tie_tolerance
from genoapp.models import DiseaseCapsuleClassifier
from genoapp.plots.capsule import coupling_deviation_heatmaps
from genoapp.plots.interpret import gene_scan_null_figure, null_histogram
from genoapp.train import make_split

pytestmark = pytest.mark.usefixtures("one_torch_thread_module")


# A small DiseaseCapsule that learns a strong one-gene effect in 10 epochs on 480 samples:
# temperature 10 on the capsule lengths (with 1 the loss hardly moves), no decay, Adam 3e-3.
PARAMS = dict(n_hidden=20, n_primary_types=4, epochs=10, learning_rate=3e-3, lr_decay=1.0,
              length_scale=10.0, batch_size=32, device="cpu")


def _toy(planted: bool, seed: int = 0, n: int = 600, n_genes: int = 30):
    """Features of 30 genes (1 or 2 standard normal features each); the label is driven by
    gene G0's first feature (planted) or is a fair coin (pure noise)."""
    rng = np.random.default_rng(seed)
    blocks, genes = [], []
    for g in range(n_genes):
        k = 1 + g % 2
        blocks.append(rng.normal(size=(n, k)).astype(np.float32))
        genes += [f"G{g}"] * k
    X = np.hstack(blocks)
    if planted:
        y = ((X[:, 0] + 0.5 * rng.normal(size=n)) > 0).astype(np.int64)
    else:
        y = rng.integers(0, 2, size=n).astype(np.int64)
    return X, y, np.array(genes, dtype=object)


def _setup(planted: bool, seed: int = 0):
    X, y, fg = _toy(planted, seed)
    split = make_split(y, test_size=0.2, random_state=0)
    ft = FeatureTable(X, fg, y=y, split=split)
    tr = split.train_idx
    model = DiseaseCapsuleClassifier(**PARAMS, random_state=seed).fit(X[tr], y[tr])
    scan = gene_scan(model, ft, samples="train")
    refs = permuted_label_networks(model, ft, n_networks=3, random_state=seed)
    null_scans = null_gene_scans(refs, ft, samples="train")
    return {"X": X, "y": y, "fg": fg, "split": split, "ft": ft, "model": model, "scan": scan,
            "refs": refs, "null_scans": null_scans, "table": gene_scan_null(scan, null_scans)}


@pytest.fixture(scope="module")
def planted():
    return _setup(planted=True)


@pytest.fixture(scope="module")
def noise():
    return _setup(planted=False)


def _scan(scores, genes=None, dtype="float64", k=0):
    s = np.asarray(scores, dtype=np.float64)
    genes = np.array([f"g{i}" for i in range(s.size)], dtype=object) if genes is None else genes
    case = np.column_stack([s, 1.0 - s])
    return GeneScanResult(genes=genes, case=case, control=None, k_star=k, n_samples={"case": 10},
                          n_items=0, n_items_total=0, method="fast", device="cpu", seconds=0.0, dtype=dtype)


# ----------------------------------------------------------------------------- acceptance
def test_planted_gene_ranks_first_and_is_significant(planted):
    model, X, y, split = planted["model"], planted["X"], planted["y"], planted["split"]
    assert (model.predict(X[split.test_idx]) == y[split.test_idx]).mean() > 0.75   # it learned
    t = planted["table"]
    assert t.loc[0, "gene"] == "G0" and t.loc[0, "rank"] == 1 and t.loc[0, "n_tied"] == 1
    assert bool(t.loc[0, "significant"]) and t.loc[0, "q"] < 0.05
    assert t["significant"].sum() <= 2                      # at most one noise gene at this seed
    assert t.attrs["n_networks"] == 3 and t.attrs["n_null"] == 3 * 30
    # the planted network's coupling pattern exceeds the permuted-label reference
    cn = coupling_against_null(model, planted["ft"], planted["refs"])
    assert cn.n_exceeding >= 1 and "exceed" in cn.verdict


def test_pure_noise_phenotype_has_no_significant_gene_and_no_pattern(noise):
    t = noise["table"]
    assert not t["significant"].any()
    assert (t["q"] >= 0.05).all()
    cn = coupling_against_null(noise["model"], noise["ft"], noise["refs"])
    assert cn.n_exceeding == 0
    assert cn.verdict.startswith("no coupling pattern beyond the permuted-label reference")
    cg = core_genes_against_null(t)
    assert cg.n_core == 0 and np.isnan(cg.cutoff) and cg.rule == "significant"


# ----------------------------------------------------------------------------- networks
def test_permuted_label_networks_permute_within_training_rows(planted):
    model, y, split, refs = planted["model"], planted["y"], planted["split"], planted["refs"]
    tr = split.train_idx
    assert len(refs) == 3
    seeds = {r.get_params()["random_state"] for r in refs}
    assert len(seeds) == 3
    for r in refs:
        p = r.get_params()
        # same hyper-parameters, fixed epochs = the real network's epochs (no validation data)
        assert {k: v for k, v in p.items() if k != "random_state"} == \
            {k: v for k, v in model.get_params().items() if k != "random_state"}
        assert len(r.history_) == len(model.history_) == 10 and r.best_epoch_ is None
        np.testing.assert_array_equal(r.null_rows_, tr)
        assert np.bincount(r.null_y_).tolist() == np.bincount(y[tr]).tolist()   # a permutation
        assert not np.array_equal(r.null_y_, y[tr])
    # reproducible, and stopped fits are discarded
    ft = planted["ft"]
    a = permuted_label_networks(model, ft, n_networks=1, epochs=1, random_state=5)
    b = permuted_label_networks(model, ft, n_networks=1, epochs=1, random_state=5)
    np.testing.assert_array_equal(a[0].null_y_, b[0].null_y_)
    assert len(a[0].history_) == 1

    class Stop:
        def on_train_begin(self, info): pass
        def on_epoch_end(self, epoch, logs): pass
        def on_train_end(self, logs): pass
        def should_stop(self): return True

    assert permuted_label_networks(model, ft, n_networks=2, epochs=2, callbacks=[Stop()]) == []
    with pytest.raises(ConfigError):
        permuted_label_networks(model, ft, n_networks=0)
    with pytest.raises(ConfigError):
        permuted_label_networks(DiseaseCapsuleClassifier(), ft)


def test_null_gene_scans_use_each_network_s_labels_and_type(planted):
    ft, refs, scans = planted["ft"], planted["refs"], planted["null_scans"]
    n_case = [int(r.null_y_.sum()) for r in refs]
    assert [s.n_samples["case"] for s in scans] == n_case
    fixed = null_gene_scans(refs[:1], ft, k_star=2)
    assert fixed[0].k_star == 2
    pooled = null_score_deviations(scans)
    assert pooled.shape == (3 * 30,)
    # each network's block is centred on its median and scaled to a unit robust spread
    block = pooled[:30]
    assert abs(np.median(block)) < 1e-12
    assert np.median(np.abs(block)) * 1.482602218505602 == pytest.approx(1.0)


# ----------------------------------------------------------------------------- coupling
def test_coupling_against_null_shapes_and_shared_limit(planted):
    model, ft, refs = planted["model"], planted["ft"], planted["refs"]
    cn = coupling_against_null(model, ft, refs)
    assert isinstance(cn, CouplingNull)
    K = PARAMS["n_primary_types"]
    assert cn.real.shape == (2, K) and cn.references.shape == (3, 2, K)
    assert cn.baseline == pytest.approx(1 / K)
    np.testing.assert_allclose(cn.real.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(cn.deviation, cn.real - 1 / K)
    assert cn.limit == pytest.approx(max(np.abs(cn.deviation).max(), np.abs(cn.reference_deviation).max()))
    assert cn.exceeds.dtype == bool and cn.exceeds.shape == (2, K)
    assert np.all(cn.reference_max == np.abs(cn.reference_deviation).max())
    np.testing.assert_array_equal(cn.exceeds, np.abs(cn.deviation) > cn.reference_max)
    cell = coupling_against_null(model, ft, refs, rule="cell")
    assert np.all(cell.exceeds | ~cn.exceeds)            # "cell" flags a superset of "max"
    tab = cn.table()
    assert len(tab) == 4 * 2 * K and set(tab["network"]) == {"real", "reference 1", "reference 2", "reference 3"}
    assert tab.loc[tab["network"] == "real", "exceeds_reference"].sum() == cn.n_exceeding
    # references are grouped by the labels they were trained with
    X, tr = planted["X"], planted["split"].train_idx
    ref0 = mean_coupling_by_label(refs[0].coupling_coefficients(X[tr]), refs[0].null_y_)
    np.testing.assert_allclose(cn.references[0], ref0)
    with pytest.raises(InputDataError, match="no permuted-label network"):
        coupling_against_null(model, ft, [])
    with pytest.raises(ConfigError):
        coupling_against_null(model, ft, refs, rule="any")


# ----------------------------------------------------------------------------- ties
def test_tie_groups_follow_the_arithmetic_resolution():
    base = 1 / 32
    s = np.array([base + 2e-9, base + 1e-9, base + 1e-9 + 1e-16, base, base - 1e-15])
    tol = tie_tolerance(s, "float64")
    assert tol == pytest.approx(1e-12 * s.max())
    rank, group = tie_groups(s, tol)
    assert rank.tolist() == [1, 2, 2, 4, 4] and group.tolist() == [1, 2, 2, 3, 3]
    # float32 resolution (1e-6 relative) merges differences in the 9th digit
    rank32, group32 = tie_groups(s, tie_tolerance(s, "float32"))
    assert rank32.tolist() == [1] * 5 and set(group32.tolist()) == {1}
    r = _scan(s).ranked()
    assert r["rank"].tolist() == [1, 2, 2, 4, 4] and r["n_tied"].tolist() == [1, 2, 2, 2, 2]
    assert _scan(s).tolerance == pytest.approx(tol)
    assert (_scan(s, dtype="float32").ranked()["rank"] == 1).all()
    t = gene_scan_null(_scan(s, dtype="float32"), [_scan(s[::-1] + 1e-9)])
    assert (t["rank"] == 1).all() and (t["n_tied"] == 5).all() and t["p_value"].nunique() == 1
    assert not t["significant"].any()


def test_genes_with_identical_features_and_weights_tie(planted):
    """G3 (2 features) gets G1's features and first-layer weights: identical scores, one tie."""
    X, fg, y, split = planted["X"].copy(), planted["fg"], planted["y"], planted["split"]
    gi = GeneIndex(fg)
    c1, c3 = gi.columns(gi.positions(["G1"])), gi.columns(gi.positions(["G3"]))
    X[:, c3] = X[:, c1]
    model = copy.deepcopy(planted["model"])
    with torch.no_grad():
        model.model_.fc.weight[:, torch.from_numpy(c3)] = model.model_.fc.weight[:, torch.from_numpy(c1)]
    ft = FeatureTable(X, fg, y=y, split=split)
    scan = gene_scan(model, ft)
    t = gene_scan_null(scan, planted["null_scans"]).set_index("gene")
    assert t.loc["G1", "score"] == t.loc["G3", "score"]
    assert t.loc["G1", "rank"] == t.loc["G3", "rank"] and t.loc["G1", "tie_group"] == t.loc["G3", "tie_group"]
    assert t.loc["G1", "n_tied"] >= 2 and t.loc["G1", "p_value"] == t.loc["G3", "p_value"]
    assert t.loc["G1", "q"] == t.loc["G3", "q"]


# ----------------------------------------------------------------------------- p-values
def test_gene_scan_null_p_values_and_errors():
    rng = np.random.default_rng(0)
    null = [_scan(0.25 + 1e-4 * rng.normal(size=50)) for _ in range(3)]
    real_s = 0.25 + 1e-4 * rng.normal(size=50)
    real_s[7] = 0.26                                       # 100 spreads above the median
    t = gene_scan_null(_scan(real_s), null)
    assert t.loc[0, "gene"] == "g7" and t.loc[0, "significant"] and t.loc[0, "p_method"] == "tail"
    assert t.loc[0, "p_empirical"] == pytest.approx(1 / 151)
    # empirical p by hand, on the standardised scale
    pooled = np.sort(null_score_deviations(null))
    z = t["z"].to_numpy()
    b = np.array([(pooled >= v - t.attrs["tolerance"] / t.attrs["spread"]).sum() for v in z])
    np.testing.assert_allclose(t["p_empirical"], (1 + b) / 151)
    emp = gene_scan_null(_scan(real_s), null, tail=False)
    np.testing.assert_allclose(emp["p_value"], emp["p_empirical"])
    assert not emp["significant"].any()                    # floor 1/151: q >= 50/151
    from statsmodels.stats.multitest import multipletests
    np.testing.assert_allclose(t["q"], multipletests(t["p_value"], method="fdr_bh")[1])
    centred = gene_scan_null(_scan(real_s), null, scale=None)
    np.testing.assert_allclose(centred["z"], centred["deviation"])
    with pytest.raises(InputDataError, match="other genes"):
        gene_scan_null(_scan(real_s), [_scan(real_s[:10])])
    with pytest.raises(InputDataError):
        gene_scan_null(_scan(real_s), [])
    with pytest.raises(ConfigError):
        gene_scan_null(_scan(real_s), null, alpha=1.5)
    with pytest.raises(ConfigError):
        gene_scan_null(_scan(real_s), null, scale="sd")


def test_core_genes_against_null_rules_and_ties_at_the_cut(planted):
    cg = core_genes_against_null(planted["table"])
    assert cg.genes[0] == "G0" and cg.rule == "significant" and cg.alpha == 0.05
    assert cg.cutoff == pytest.approx(cg.table.loc[cg.table["core"], "score"].min())
    # percentile rule: a tie group that reaches the cut-off is in as a whole
    s = np.array([0.5, 0.4, 0.3 + 1e-15, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3])
    t = gene_scan_null(_scan(s), [_scan(np.linspace(-0.3, 0.5, 10))])
    cut = np.percentile(s, 75)                             # 0.3 + 7.5e-16 - between the tied pair
    assert s[3] < cut <= s[2]
    p = core_genes_against_null(t, rule="percentile", percentile=75)
    assert p.table.set_index("gene").loc[["g2", "g3"], "core"].all() and p.n_core == 4
    both = core_genes_against_null(t, rule="both", percentile=75)
    assert both.n_core <= p.n_core
    assert list(p.core_table().columns[:3]) == ["rank", "gene", "score"]
    with pytest.raises(ConfigError):
        core_genes_against_null(t, rule="top")
    with pytest.raises(InputDataError):
        core_genes_against_null(pd.DataFrame({"gene": ["a"], "score": [1.0]}))


# ----------------------------------------------------------------------------- masked accuracy
def test_null_result_flags_a_network_that_predicts_one_class(planted):
    model, X, y, fg = planted["model"], planted["X"], planted["y"], planted["fg"]
    zero = FeatureTable(np.zeros_like(X), fg, y=y)        # every input identical: one class
    nr = permutation_null(model, zero, ["G0", "G1"], samples="all", n_sets=20)
    assert nr.degenerate and nr.sd < 1e-12 and np.isnan(nr.z)
    assert "for every sample" in nr.degenerate_reason and "SD 0" in nr.degenerate_reason
    assert nr.observed_predicted_case in (0.0, 1.0) and nr.null_one_class == 1.0
    flags = nr.summary(flags=True)
    assert bool(flags.loc[0, "degenerate"]) and flags.loc[0, "degenerate_reason"] == nr.degenerate_reason
    assert list(nr.summary().columns) == ["n_genes", "accuracy", "null_mean", "null_sd", "z", "p_empirical",
                                          "n_random_sets"]
    fig = null_histogram(nr.null["accuracy"], nr.observed["accuracy"], p_value=nr.p_value,
                         degenerate=nr.degenerate_reason)
    assert "no test" in fig.layout.title.text and "p =" not in fig.layout.title.text
    ok = permutation_null(model, FeatureTable(X, fg, y=y), ["G0"], samples="all", n_sets=20)
    assert not ok.degenerate and ok.degenerate_reason == ""
    assert 0 < ok.observed_predicted_case < 1


# ----------------------------------------------------------------------------- figures
def test_null_figures(planted):
    cn = coupling_against_null(planted["model"], planted["ft"], planted["refs"])
    fig = coupling_deviation_heatmaps(cn, highlight_type=planted["scan"].k_star)
    assert isinstance(fig, go.Figure)
    heat = [tr for tr in fig.data if isinstance(tr, go.Heatmap)]
    assert len(heat) == 4 and all(tr.coloraxis == "coloraxis" for tr in heat)
    assert fig.layout.coloraxis.cmin == pytest.approx(-cn.limit) and fig.layout.coloraxis.cmax == pytest.approx(cn.limit)
    assert fig.layout.coloraxis.cmid == 0
    marks = [tr for tr in fig.data if isinstance(tr, go.Scatter)]
    assert len(marks) == 1 and len(marks[0].x) == cn.n_exceeding
    t = planted["table"]
    g = gene_scan_null_figure(t, null_score_deviations(planted["null_scans"]))
    assert isinstance(g, go.Figure) and len(g.data) == 3
    assert "significant" in g.layout.title.text and g.data[2].text[0] == "G0"


# ----------------------------------------------------------------------------- one-gene-only AUC
def test_one_gene_auc_matches_scikit_learn_on_the_masked_scores(planted):
    from sklearn.metrics import roc_auc_score

    from genoapp.interpret import masked_class_scores, one_gene_auc

    model, ft, split, y = planted["model"], planted["ft"], planted["split"], planted["y"]
    got = one_gene_auc(model, ft, samples="train")
    assert list(got["gene"]) == [f"G{g}" for g in range(30)]
    sc = masked_class_scores(model, ft, [np.array([g]) for g in range(30)], samples="train")
    yt = y[split.train_idx]
    want = [roc_auc_score(yt, sc[g, :, 1].astype(float) - sc[g, :, 0]) for g in range(30)]
    # float32 routing in another order: a near-tie may flip (one pair in n_case x n_control)
    np.testing.assert_allclose(got["auc"], want, atol=1e-4)
    assert got.loc[0, "auc"] > 0.8 and (got["n_case"] + got["n_control"] == yt.size).all()


def test_prediction_null_marks_the_planted_gene_and_nothing_in_noise(planted, noise):
    from genoapp.interpret import gene_prediction_null

    t = gene_prediction_null(planted["model"], planted["ft"], planted["refs"])
    assert t.loc[0, "gene"] == "G0" and t.loc[0, "rank"] == 1 and bool(t.loc[0, "significant"])
    assert t["significant"].sum() <= 2
    assert t.attrs["statistic"] == "prediction" and t.attrs["n_null"] == 3 * 30
    assert np.asarray(t.attrs["null_values"]).shape == (90,)
    np.testing.assert_allclose(t["z"], t["score"] - 0.5)
    cg = core_genes_against_null(t)
    assert "G0" in set(cg.genes)
    n = gene_prediction_null(noise["model"], noise["ft"], noise["refs"])
    assert not n["significant"].any()
    with pytest.raises(InputDataError, match="no permuted-label network"):
        gene_prediction_null(planted["model"], planted["ft"], [])
    with pytest.raises(ConfigError, match="alpha"):
        gene_prediction_null(planted["model"], planted["ft"], planted["refs"], alpha=2)


def test_default_networks_aim_at_a_null_that_can_reach_significance():
    from genoapp.workflows.insights import default_networks

    assert default_networks(15) == 7 and default_networks(5) == 20 and default_networks(1437) == 3
    for g in (1, 5, 15, 40, 1000):
        r = default_networks(g)
        assert 3 <= r <= 20 and (r * g >= 80 or r == 20)
