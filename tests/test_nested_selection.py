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
