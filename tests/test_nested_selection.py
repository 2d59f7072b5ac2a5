"""The nested association filter never sees a validation or test sample (issue "find the signal").

The demo cohort goes through the QC page's defaults and Gene-PCA; logistic regression is then
compared with the association filter nested (top-k chosen on inner folds). Every call of the
association test is recorded (which samples' dosages it was given) and checked: the test samples
never enter; each candidate's inner fits leave out disjoint, balanced validation folds of the
training samples; the chosen filter is refitted on exactly the training samples.
"""

from __future__ import annotations

import numpy as np
import pytest

import genoapp.features.selection as selection
from genoapp.demo import DEMO_BATCH, DEMO_PHENOTYPE, HG19_GENES, load_demo_cohort
from genoapp.features.build import build_features
from genoapp.io import read_gene_table
from genoapp.workflows.casecontrol import compare_models
from genoapp.workflows.config import qc_config
from genoapp.workflows.protocol import ProtocolConfig
from genoapp.workflows.qc import run_qc_workflow


@pytest.fixture(scope="module")
def demo():
    c = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = c.phenotype(DEMO_PHENOTYPE)
    wf = run_qc_workflow(c, np.asarray(y, float), batch=c.samples[DEMO_BATCH].to_numpy(),
                         config=qc_config({}))
    fs = build_features(wf.G, wf.variants, wf.split, genes=read_gene_table(HG19_GENES))
    return wf, fs


def test_no_validation_or_test_sample_enters_the_association_test(demo, monkeypatch):
    wf, fs = demo
    G = np.nan_to_num(wf.G, nan=-1.0)
    index = {G[i].tobytes(): i for i in range(G.shape[0])}
    assert len(index) == G.shape[0], "rows must be distinguishable to trace them"
    calls = []
    real = selection.allelic_association

    def recording(Gs, y, *a, **k):
        Gs2 = np.nan_to_num(np.asarray(Gs, dtype=G.dtype), nan=-1.0)
        calls.append(np.array([index[r.tobytes()] for r in Gs2]))
        return real(Gs, y, *a, **k)

    monkeypatch.setattr(selection, "allelic_association", recording)
    grid = {"top_k": [10, 40]}
    config = ProtocolConfig(seeds=(0, 1), n_folds=3, share_tuning=False)
    res = compare_models({fs.input_name: fs}, wf.split, snps=wf.G, models=["logreg"],
                         config=config, association="nested", association_grid_override=grid)
    assert len(res.metrics) == 2
    train = set(wf.split.train_idx.tolist())
    test = set(wf.split.test_idx.tolist())
    n_inner = len(res.stage_metrics) // 2  # per seed: candidates x inner folds
    assert len(calls) == 2 * (n_inner + 1)
    for seed_calls in (calls[: n_inner + 1], calls[n_inner + 1:]):
        for rows in seed_calls:
            assert not set(rows.tolist()) & test            # never a test sample
            assert set(rows.tolist()) <= train
        inner, final = seed_calls[:-1], seed_calls[-1]
        assert sorted(final.tolist()) == sorted(train)      # refitted on the training samples
        n_folds = len(inner) // len(grid["top_k"])
        for c in range(len(grid["top_k"])):
            held_out = [train - set(r.tolist()) for r in inner[c * n_folds:(c + 1) * n_folds]]
            assert all(h for h in held_out)                 # each inner fit leaves a fold out
            for i in range(n_folds):                        # disjoint validation folds ...
                for j in range(i + 1, n_folds):
                    assert not held_out[i] & held_out[j]
            y = wf.split.y
            for h in held_out:                              # ... balanced 1:1
                assert (y[list(h)] == 1).sum() == (y[list(h)] == 0).sum()
    # the stage every model saw is the refitted one, recorded with its choice
    assert len(res.stage_choice) == 2 and set(res.stage_choice["seed"]) == {0, 1}


def test_top_genes_keeps_every_snp_of_the_best_genes(demo):
    """``top_genes`` ranks genes by their smallest training p-value (minP) and keeps all of
    their annotated SNPs; on the demo the top 15 genes hold most planted additive genes."""
    from genoapp.demo import load_demo_truth
    from genoapp.errors import ConfigError
    from genoapp.features.selection import AssociationFilter
    from genoapp.qc.assoc import allelic_association

    wf, fs = demo
    tr = wf.split.train_idx
    ann = fs.annotation
    f = AssociationFilter(ann, top_genes=15).fit(wf.G[tr], wf.y[tr])
    p = allelic_association(wf.G[tr], wf.y[tr].astype(np.int64))["p"].to_numpy()
    best = (ann.assign(p=p[ann["variant_index"].to_numpy()])
            .groupby("gene")["p"].min().sort_values())
    genes = set(best.index[:15])
    assert set(f.feature_gene_) == genes
    expected = np.sort(np.unique(ann.loc[ann["gene"].isin(genes), "variant_index"]))
    np.testing.assert_array_equal(f.selected_, expected)         # every SNP of those genes
    assert f.describe().startswith(f"top 15 genes: {expected.size} SNPs in 15 genes")
    planted = set(load_demo_truth().query("role == 'additive'")["gene"])
    assert len(genes & planted) >= 8
    X = f.transform(wf.G)
    assert X.shape == (wf.G.shape[0], f.feature_names_.size) and np.isfinite(X).all()
    with pytest.raises(ConfigError, match="top_k and top_genes"):
        AssociationFilter(ann, top_k=10, top_genes=5).fit(wf.G[tr], wf.y[tr])
    with pytest.raises(ConfigError, match="top_genes: a positive number of genes"):
        AssociationFilter(ann, top_genes=0).fit(wf.G[tr], wf.y[tr])


def test_quick_preset_tunes_the_number_of_genes(demo):
    from genoapp.workflows.presets import association_grid, describe_association

    assert association_grid("quick") == {"top_genes": [5, 10, 15, 20, 30, 40]}
    assert describe_association(association_grid("quick")) == "top 5-40 genes"
    assert describe_association(association_grid("paper")) == "p < 0.05-1e-05"
    wf, fs = demo
    res = compare_models({fs.input_name: fs}, wf.split, snps=wf.G, models=["logreg"],
                         config=ProtocolConfig(seeds=(0,), n_folds=3), association="nested")
    choice = res.stage_choice.iloc[0]
    assert '"top_genes"' in choice["params"] and "genes" in choice["described"]
    # what the Train page shows: the filter's choice and the planted genes it kept
    from genoapp.demo import load_demo_truth
    from genoapp.workflows.casecontrol import nested_filter_report

    rep = nested_filter_report(res, n_genes=fs.summary.shape[0], truth=load_demo_truth())
    assert len(rep) == 1 and rep.loc[0, "chosen"] == choice["described"]
    kept = rep.loc[0, "genes_kept"]
    assert kept == int(choice["params"].split(":")[1].strip(" }"))
    assert rep.loc[0, "genes_removed"] == fs.summary.shape[0] - kept
    hits = int(rep.loc[0, "additive_kept"].split(" of ")[0])
    assert rep.loc[0, "additive_kept"].endswith(" of 10") and hits >= min(kept, 10) // 2
    assert nested_filter_report(compare_models({fs.input_name: fs}, wf.split, models=["logreg"],
                                               config=ProtocolConfig(seeds=(0,), n_folds=3))).empty
