"""Interpretation suite: gene scan exactness, core genes vs the authors' table, masked accuracy,
random-set nulls, the non-additive gene search, retraining and known-truth recall."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import hypergeom

from genoapp.errors import ConfigError, InputDataError
from genoapp.interpret import (
    FeatureTable,
    GAConfig,
    GeneIndex,
    accuracy_vs_n_genes,
    core_genes,
    gene_scan,
    masked_class_scores,
    masked_coupling,
    masked_linear_predictions,
    masked_metrics,
    mean_coupling_by_label,
    permutation_null,
    planted_recall,
    random_gene_sets,
    retrain_on_genes,
    search_nonadditive_genes,
)
from genoapp.interpret.forward import class_matrices, coupling_from_hidden, lengths_from_hidden
from genoapp.models import DiseaseCapsuleClassifier, make_logistic_regression
from genoapp.train import Split, StopFlag

pytestmark = pytest.mark.usefixtures("one_torch_thread_module")


def _ft(X, feature_gene, y=None):
    """Raw arrays as interpretation inputs (all rows: ``samples="all"``)."""
    return FeatureTable(X, feature_gene, y=y)


TOL = 1e-5  # acceptance: fast scan vs naive masked forward, float32


def _err(a, ref):
    """Max absolute difference; relative to the magnitude where values exceed 1 (with the
    output-axis routing the per-type sums are about 36, whose float32 spacing is 4e-6)."""
    return float(np.abs(a - ref).max() / max(1.0, float(np.abs(ref).max())))


def _toy(n=60, seed=0):
    """Features of 14 genes: 1-PC genes with discrete values (SNP-like, duplicates across
    samples), 4- and 8-PC genes with continuous values; labels depend on two genes."""
    rng = np.random.default_rng(seed)
    blocks, genes = [], []
    for g in range(14):
        k = 1 if g < 8 else (4 if g < 12 else 8)
        if k == 1:
            snps = rng.integers(0, 3, size=(n, 2)).astype(np.float32)
            blocks.append((snps @ np.array([[0.8], [-0.6]], np.float32)) - 0.2)
        else:
            blocks.append(rng.normal(size=(n, k)).astype(np.float32))
        genes += [f"G{g}"] * k
    X = np.hstack(blocks)
    y = ((X[:, 0] + X[:, 9] * X[:, 10] + 0.3 * rng.normal(size=n)) > 0).astype(np.int64)
    return X, y, np.array(genes, dtype=object)


@pytest.fixture(scope="module", params=[("input", "per_route"), ("input", "shared"), ("output", "per_route")],
                ids=["input-per_route", "input-shared", "output-per_route"])
def toy_model(request):
    routing, pose = request.param
    X, y, fg = _toy()
    m = DiseaseCapsuleClassifier(epochs=2, batch_size=16, routing_softmax=routing, pose=pose, device="cpu",
                                 random_state=1, learning_rate=1e-2).fit(X, y)
    return m, X, y, fg


def _naive_scan(model, X, y, gi, genes, dtype=torch.float32):
    """Reference: zero every other gene and run the module's own forward pass."""
    net = model.model_ if dtype == torch.float32 else copy.deepcopy(model.model_).to(dtype)
    out = []
    for g in genes:
        cols = gi.columns(gi.positions([g]))
        Xm = np.zeros_like(X)
        Xm[:, cols] = X[:, cols]
        with torch.no_grad():
            _, _, c = net(torch.from_numpy(Xm).to(dtype))
        ck = c.view(len(X), net.n_primary_types, net.n_positions, 2).sum(dim=2).numpy()
        out.append([ck[y == j, :, j].mean(axis=0) for j in (0, 1)])
    return np.array(out)  # (genes, 2, K)


# ----------------------------------------------------------------------------- gene index
def test_gene_index_columns_and_padding():
    gi = GeneIndex(["b", "b", "a", "c", "a", "a"])
    assert list(gi.genes) == ["b", "a", "c"]
    assert gi.n_features_per_gene.tolist() == [2, 3, 1]
    assert gi.padded.tolist() == [[0, 1, 6], [2, 4, 5], [3, 6, 6]]
    assert gi.columns([1, 2]).tolist() == [2, 3, 4, 5]
    assert gi.feature_mask([0]).tolist() == [True, True, False, False, False, False]
    assert gi.positions(["c", "b"]).tolist() == [2, 0]
    with pytest.raises(InputDataError, match="not among the features"):
        gi.positions(["zzz"])


# ----------------------------------------------------------------------------- network pieces
def test_forward_pieces_match_the_module(toy_model):
    model, X, _, _ = toy_model
    net = model.model_
    xb = torch.from_numpy(X[:20])
    with torch.no_grad():
        lengths, _, c = net(xb)
        h = torch.relu(net.fc(xb))
        ck = c.view(20, net.n_primary_types, net.n_positions, 2).sum(dim=2)
        M = class_matrices(net)
        for j in (0, 1):
            assert torch.allclose(coupling_from_hidden(net, h, target_class=j, M=M), ck[:, :, j], atol=1e-6)
        assert torch.allclose(lengths_from_hidden(net, h, M=M), lengths, atol=1e-6)


# ----------------------------------------------------------------------------- gene scan
def test_fast_gene_scan_equals_naive_masked_forward(toy_model):
    """Acceptance: fast scan == naive masked full forward pass, max |diff| <= 1e-5 (float32)."""
    model, X, y, fg = toy_model
    gi = GeneIndex(fg)
    ref = _naive_scan(model, X, y, gi, gi.genes)
    for dtype in ("float32", "float64"):
        fast = gene_scan(model, _ft(X, gi, y), samples="all", both_classes=True, dtype=dtype, k_star=0, batch_size=7)
        assert fast.method == "fast" and fast.dtype == dtype
        assert _err(fast.case, ref[:, 1]) <= TOL
        assert _err(fast.control, ref[:, 0]) <= TOL
    naive = gene_scan(model, _ft(X, gi, y), samples="all", both_classes=True, method="naive", k_star=0)
    assert _err(naive.case, ref[:, 1]) <= 1e-6
    # identical discrete rows of the 1-PC genes were merged, and the result did not change
    assert fast.n_items < fast.n_items_total == len(X) * gi.n_genes


def test_float64_scan_equals_float64_reference(toy_model):
    model, X, y, fg = toy_model
    gi = GeneIndex(fg)
    ref = _naive_scan(model, X, y, gi, gi.genes[:6], dtype=torch.float64)
    fast = gene_scan(model, _ft(X, gi, y), samples="all", genes=gi.genes[:6], dtype="float64", k_star=3)
    assert _err(fast.case, ref[:, 1]) <= 1e-12
    np.testing.assert_allclose(fast.scores(), fast.case[:, 3])


def test_scan_dedup_is_exact_and_rows_sum_to_one():
    X, y, fg = _toy(n=80, seed=3)
    model = DiseaseCapsuleClassifier(epochs=1, device="cpu", random_state=0).fit(X, y)
    a = gene_scan(model, _ft(X, fg, y), samples="all", dedup=True)
    b = gene_scan(model, _ft(X, fg, y), samples="all", dedup=False)
    np.testing.assert_allclose(a.case, b.case, rtol=0, atol=1e-12)
    assert a.n_items < b.n_items == b.n_items_total
    np.testing.assert_allclose(a.case.sum(axis=1), 1.0, atol=1e-9)
    # default k*: the strongest mean case type of the full inputs
    c = mean_coupling_by_label(model.coupling_coefficients(X), y)
    assert a.k_star == int(np.nanargmax(c[1]))
    t = a.table()
    assert list(t.columns[:2]) == ["gene", "case_type1"] and len(t) == 14


def test_scan_on_the_demo_cohort_sample_of_genes(demo_features):
    """Exactness on real genotypes (demo cohort), a sample of 25 genes, float32."""
    fs, split = demo_features
    tr = split.train_idx[:120]
    X, y = fs.X[tr], split.y[tr]
    model = DiseaseCapsuleClassifier(epochs=1, device="cpu", random_state=0).fit(X, y)
    gi = GeneIndex(fs.feature_gene)
    rng = np.random.default_rng(0)
    multi = np.flatnonzero(gi.n_features_per_gene > 1)
    pos = np.concatenate([rng.choice(gi.n_genes, 20, replace=False), multi[:5]])
    genes = gi.genes[pos]
    ref = _naive_scan(model, X, y, gi, genes)
    fast = gene_scan(model, fs, samples=tr, genes=genes, dtype="float32", both_classes=True, k_star=0)
    assert np.abs(fast.case - ref[:, 1]).max() <= TOL
    assert np.abs(fast.control - ref[:, 0]).max() <= TOL


def test_scan_input_errors(toy_model):
    model, X, y, fg = toy_model
    with pytest.raises(ConfigError, match="method"):
        gene_scan(model, _ft(X, fg, y), samples="all", method="slow")
    with pytest.raises(ConfigError, match="dtype"):
        gene_scan(model, _ft(X, fg, y), samples="all", dtype="float16")
    with pytest.raises(InputDataError, match="features"):
        gene_scan(model, _ft(X[:, :-1], fg[:-1], y), samples="all")
    with pytest.raises(InputDataError, match="no case"):
        gene_scan(model, _ft(X, fg, np.zeros(len(X), dtype=int)), samples="all")
    with pytest.raises(ConfigError, match="k_star"):
        gene_scan(model, _ft(X, fg, y), samples="all", k_star=99)
    with pytest.raises(InputDataError, match="not among"):
        gene_scan(model, _ft(X, fg, y), samples="all", genes=["nope"])


@pytest.mark.gpu
def test_scan_on_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, y, fg = _toy()
    m = DiseaseCapsuleClassifier(epochs=1, device="cuda", random_state=0).fit(X, y)
    gpu = gene_scan(m, _ft(X, fg, y), samples="all", k_star=0)
    assert gpu.device.startswith("cuda")
    m.model_.to("cpu")
    cpu = gene_scan(m, _ft(X, fg, y), samples="all", k_star=0)
    np.testing.assert_allclose(gpu.case, cpu.case, atol=1e-10)


# ----------------------------------------------------------------------------- core genes
def test_core_genes_reference_keeps_922_of_18265(shared_data):
    ref = shared_data.parent / "reference" / "diseasecapsule" / "fig4a_gene_coupling.tsv.gz"
    if not ref.is_file():
        pytest.skip(f"{ref} not found")
    d = pd.read_csv(ref, sep="\t")
    assert len(d) == 18265
    cg = core_genes(d["als_pc5"].to_numpy(), d["gene"].to_numpy(), percentile=95)
    assert cg.n_core == 922                                  # the paper's number
    assert cg.cutoff == pytest.approx(np.percentile(d["als_pc5"], 95))
    assert (d["als_pc5"] > cg.cutoff).sum() == 909           # a strict '>' would keep fewer
    top = cg.core_table()
    assert top["score"].is_monotonic_decreasing and top["rank"].iloc[0] == 1
    assert set(top["gene"]) == set(d.loc[d["als_pc5"] >= cg.cutoff, "gene"])
    # each class row of the authors' table sums to 1 over the 32 types (input-axis routing)
    np.testing.assert_allclose(d[[f"als_pc{k}" for k in range(1, 33)]].sum(axis=1), 1.0, atol=1e-5)


def test_core_genes_hand_example_and_locations():
    summary = pd.DataFrame({"gene": ["a", "b", "c", "d"], "chrom": ["1", "1", "2", "X"],
                            "start_bp": [10, 20, 30, 40], "end_bp": [15, 25, 35, 45], "n_snps": [1, 2, 3, 4],
                            "gene_start": [9, 19, 29, 39], "gene_end": [16, 26, 36, 46]})
    cg = core_genes([0.1, 0.4, 0.4, 0.2], ["a", "b", "c", "d"], percentile=75, summary=summary)
    # 75th percentile of [0.1, 0.2, 0.4, 0.4] = 0.4 -> both tied genes kept
    assert cg.cutoff == pytest.approx(0.4) and cg.n_core == 2
    t = cg.table
    assert t["gene"].tolist() == ["b", "c", "d", "a"] and t["rank"].tolist() == [1, 1, 3, 4]
    assert t.loc[0, "start"] == 19 and t.loc[0, "end"] == 26 and t.loc[2, "chrom"] == "X"
    assert list(cg.core_table().columns) == ["rank", "gene", "chrom", "start", "end", "n_snps", "score"]
    with pytest.raises(ConfigError):
        core_genes([1.0, 2.0], ["a", "b"], percentile=101)
    with pytest.raises(InputDataError):
        core_genes([1.0, np.nan], ["a", "b"])


# ----------------------------------------------------------------------------- masking
def test_masked_scores_equal_the_model_on_zeroed_inputs(toy_model):
    model, X, y, fg = toy_model
    gi = GeneIndex(fg)
    sets = [np.array([], dtype=np.int64), np.array([0]), np.array([3, 9, 12]), np.arange(1, 14),
            np.arange(14)]
    L = masked_class_scores(model, _ft(X, gi), sets, samples="all", batch_size=50)
    for s, ls in zip(sets, L, strict=True):
        Xm = np.zeros_like(X)
        cols = gi.columns(s)
        Xm[:, cols] = X[:, cols]
        np.testing.assert_allclose(ls, model.class_scores(Xm), atol=1e-6)
    df = masked_metrics(model, _ft(X, gi, y), [s for s in sets], samples="all")
    assert df["n_genes"].tolist() == [0, 1, 3, 13, 14]
    assert df["accuracy"].iloc[-1] == pytest.approx((model.predict(X) == y).mean())
    # gene keys and boolean masks name the same sets
    keys = masked_metrics(model, _ft(X, gi, y), [gi.genes[[3, 9, 12]]], samples="all")
    mask = np.zeros((1, 14), bool)
    mask[0, [3, 9, 12]] = True
    pd.testing.assert_frame_equal(keys, masked_metrics(model, _ft(X, gi, y), mask, samples="all"))


def test_masked_coupling_with_all_genes_is_the_plain_coupling(toy_model):
    model, X, y, fg = toy_model
    full = mean_coupling_by_label(model.coupling_coefficients(X), y)
    np.testing.assert_allclose(masked_coupling(model, _ft(X, fg, y), np.unique(fg), samples="all"),
                               full, atol=1e-7)


def test_random_gene_sets_properties():
    s = random_gene_sets(50, 7, 200, random_state=4)
    assert s.shape == (200, 7)
    assert all(len(set(r)) == 7 for r in s) and (np.diff(s, axis=1) > 0).all()
    assert s.min() >= 0 and s.max() < 50
    np.testing.assert_array_equal(s, random_gene_sets(50, 7, 200, random_state=4))
    assert not np.array_equal(s, random_gene_sets(50, 7, 200, random_state=5))
    # every gene appears about equally often (7/50 of the sets)
    counts = np.bincount(s.ravel(), minlength=50)
    assert abs(counts.mean() - 28) < 1e-9 and counts.min() > 10
    with pytest.raises(ConfigError):
        random_gene_sets(5, 6, 1)


def test_permutation_null_statistics(toy_model):
    model, X, y, fg = toy_model
    gi = GeneIndex(fg)
    nr = permutation_null(model, _ft(X, gi, y), ["G0", "G9", "G10"], samples="all", n_sets=40,
                          random_state=2)
    acc = nr.null["accuracy"].to_numpy()
    assert len(acc) == 40 and nr.observed["n_genes"] == 3
    assert nr.mean == pytest.approx(acc.mean()) and nr.sd == pytest.approx(acc.std(ddof=1))
    assert nr.p_value == pytest.approx((1 + (acc >= nr.observed["accuracy"]).sum()) / 41)
    if nr.sd > 0:
        assert nr.z == pytest.approx((nr.observed["accuracy"] - nr.mean) / nr.sd)
    # the null reproduces the random sets' masked accuracy computed independently
    sets = random_gene_sets(14, 3, 40, random_state=2)
    np.testing.assert_allclose(masked_metrics(model, _ft(X, gi, y), sets, samples="all")["accuracy"], acc)
    assert list(nr.summary().columns) == ["n_genes", "accuracy", "null_mean", "null_sd", "z", "p_empirical",
                                          "n_random_sets"]


def test_accuracy_vs_n_genes(toy_model):
    model, X, y, fg = toy_model
    df = accuracy_vs_n_genes(model, _ft(X, fg, y), [f"G{g}" for g in range(14)], sizes=[1, 5, 14],
                             samples="all", n_random=3)
    assert len(df) == 3 * (1 + 3)
    top = df[df["kind"] == "top-ranked"].set_index("n_genes")
    assert top.loc[14, "accuracy"] == pytest.approx((model.predict(X) == y).mean())
    rnd = df[(df["kind"] == "random") & (df["n_genes"] == 14)]
    assert np.allclose(rnd["accuracy"], top.loc[14, "accuracy"])   # all genes: every set is the same


# ----------------------------------------------------------------------------- GA
def test_masked_linear_predictions_equal_zeroed_inputs():
    X, y, _ = _toy(n=80)
    lr = make_logistic_regression(C=0.5).fit(X, y)
    rng = np.random.default_rng(0)
    fm = rng.random((6, X.shape[1])) < 0.5
    fast = masked_linear_predictions(lr, X, fm)
    slow = np.stack([lr.predict(np.where(m, X, 0).astype(np.float32)) for m in fm])
    np.testing.assert_array_equal(fast, slow)


@pytest.fixture(scope="module")
def ga_setup():
    X, y, fg = _toy(n=80, seed=5)
    model = DiseaseCapsuleClassifier(epochs=3, batch_size=16, device="cpu", random_state=0,
                                     learning_rate=1e-2).fit(X, y)
    lr = make_logistic_regression(C=0.1).fit(X, y)
    ranking = [f"G{g}" for g in (9, 10, 0, 1, 2, 3, 11, 12, 4, 5)]
    return model, lr, X, y, fg, ranking


def test_ga_fitness_is_capsule_minus_lr_accuracy_and_reproducible(ga_setup):
    model, lr, X, y, fg, ranking = ga_setup
    cfg = GAConfig(pool_size=8, population=6, generations=3, random_state=1)
    w = np.where(np.arange(len(y)) % 3 == 0, 2.0, 1.0)
    a = search_nonadditive_genes(model, _ft(X, fg, y), ranking, baseline=lr, samples="all",
                                 sample_weight=w, config=cfg)
    b = search_nonadditive_genes(model, _ft(X, fg, y), ranking, baseline=lr, samples="all",
                                 sample_weight=w, config=cfg)
    np.testing.assert_array_equal(a.best_mask, b.best_mask)
    assert list(a.pool_genes) == ranking[:8] and a.generations_completed == 3 and not a.stopped_early
    assert a.history["generation"].tolist() == [0, 1, 2, 3]
    assert a.history["best_fitness"].is_monotonic_increasing
    # recompute the best mask's fitness by zeroing the other genes' features
    gi = GeneIndex(fg)
    cols = gi.columns(gi.positions(a.selected_genes))
    Xm = np.zeros_like(X)
    Xm[:, cols] = X[:, cols]
    cap = np.average(model.predict(Xm) == y, weights=w)
    lra = np.average(lr.predict(Xm) == y, weights=w)
    assert a.capsule_accuracy == pytest.approx(cap) and a.lr_accuracy == pytest.approx(lra)
    assert a.fitness == pytest.approx(cap - lra)
    assert a.fitness == pytest.approx(a.history["best_fitness"].iloc[-1])


def test_ga_stops_when_a_callback_asks(ga_setup):
    model, lr, X, y, fg, ranking = ga_setup

    class StopAfterOne(StopFlag):
        def on_epoch_end(self, epoch, logs):
            if epoch >= 1:
                self.request_stop()

    seen = []
    r = search_nonadditive_genes(model, _ft(X, fg, y), ranking, baseline=lr, samples="all",
                                 config=GAConfig(pool_size=6, population=4, generations=50),
                                 callbacks=[StopAfterOne()], on_generation=lambda g, genes, logs: seen.append(g))
    assert r.stopped_early and r.generations_completed == 1 and seen == [0, 1]
    assert len(r.selected_genes) == r.best_mask.sum()


def test_ga_config_validation():
    with pytest.raises(ConfigError):
        GAConfig(population=1)
    with pytest.raises(ConfigError):
        GAConfig(mutation_probability=2.0)
    assert GAConfig.paper().pool_size == 1200 and GAConfig.paper().generations == 200
    assert GAConfig.quick().population < GAConfig.paper().population


def test_retrain_on_genes(ga_setup):
    _, _, X, y, fg, _ = ga_setup
    tr, te = np.arange(0, 60), np.arange(60, 80)
    split = Split(y, tr, te, test_size=0.25, random_state=0)
    r = retrain_on_genes(FeatureTable(X, fg, y=y, split=split), ["G9", "G10"],
                         capsule_params={"epochs": 1, "device": "cpu"})
    assert list(r.metrics["model"]) == ["DiseaseCapsule", "Logistic regression"]
    assert (r.metrics["n_features"] == 8).all() and (r.metrics["n_genes"] == 2).all()
    assert r.capsule.n_features_in_ == 8
    assert r.metrics[["accuracy", "precision", "recall"]].apply(lambda c: c.between(0, 1)).all().all()


# ----------------------------------------------------------------------------- known truth
def test_planted_recall_hand_example():
    universe = [f"g{i}" for i in range(100)]
    r = planted_recall(["g1", "g2", "g3", "g50"], ["g1", "g2", "g99", "absent"], universe, label="x")
    assert r["hits"] == 2 and r["n_planted"] == 3 and r["n_planted_missing"] == 1
    assert r["recall"] == pytest.approx(2 / 3) and r["random_recall"] == pytest.approx(0.04)
    assert r["p_value"] == pytest.approx(hypergeom(100, 3, 4).sf(1))
    assert r["hit_genes"] == ["g1", "g2"] and r["enrichment"] == pytest.approx((2 / 3) / 0.04)
    with pytest.raises(InputDataError):
        planted_recall(["zz"], ["g1"], universe)


@pytest.fixture(scope="module")
def demo_features(demo_gene_pca):
    return demo_gene_pca, demo_gene_pca.split
