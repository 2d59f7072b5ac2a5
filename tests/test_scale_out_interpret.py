"""The interpretation jobs on a 2-worker Dask LocalCluster give the in-process results (issue 18).

Random gene-set null, permuted-label networks and their gene scans, the gene scan and the
genetic algorithm's fitness batches run as :meth:`genoapp.execution.Executor.map` jobs; with
the same seeds the results equal those computed in this process, progress callbacks are still
called and a stop still ends the permuted-label networks. Torch runs one intra-op thread here,
as on the workers (Dask starts them with ``OMP_NUM_THREADS=1``), so the arithmetic is the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genoapp.execution import current_executor, use_executor
from genoapp.interpret import (
    FeatureTable,
    GAConfig,
    accuracy_vs_n_genes,
    gene_scan,
    null_gene_scans,
    permutation_null,
    permuted_label_networks,
    search_nonadditive_genes,
)
from genoapp.interpret._jobs import job_ranges, target_jobs
from genoapp.models import DiseaseCapsuleClassifier, make_logistic_regression
from genoapp.train import Callback, StopFlag, make_split

PARAMS = dict(n_hidden=20, n_primary_types=4, epochs=3, learning_rate=3e-3, lr_decay=1.0,
              length_scale=10.0, batch_size=32, device="cpu")
TOL = 1e-6  # torch float results (the runs below match exactly with equal thread counts)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def toy():
    """40 genes of 1 or 2 features (some SNP-like, with repeated values), 240 samples; the
    label follows gene G0."""
    rng = np.random.default_rng(0)
    n, blocks, genes = 240, [], []
    for g in range(40):
        k = 1 + g % 2
        b = rng.integers(0, 3, size=(n, k)) - 1.0 if g % 3 == 0 else rng.normal(size=(n, k))
        blocks.append(b.astype(np.float32))
        genes += [f"G{g}"] * k
    X = np.hstack(blocks)
    y = ((X[:, 0] + X[:, 1] + 0.5 * rng.normal(size=n)) > 0).astype(np.int64)
    split = make_split(y, test_size=0.25, random_state=0)
    ft = FeatureTable(X, np.array(genes, dtype=object), y=y, split=split)
    tr = split.train_idx
    model = DiseaseCapsuleClassifier(**PARAMS, random_state=1).fit(X[tr], y[tr])
    return model, ft


class _Epochs(Callback):
    def __init__(self):
        self.epochs = []

    def on_epoch_end(self, epoch, logs):
        self.epochs.append(int(epoch))


def test_job_ranges_cover_and_align():
    r = job_ranges(51, 8, align=3)
    assert r[0][0] == 0 and r[-1][1] == 51 and all(a % 3 == 0 for a, _ in r)
    assert all(b == c for (_, b), (c, _) in zip(r[:-1], r[1:], strict=False))
    assert len(r) <= 8 and job_ranges(0, 8) == [] and job_ranges(5, 16) == [(i, i + 1) for i in range(5)]
    assert target_jobs(current_executor()) == 16


def test_permutation_null_on_two_workers_equals_in_process(toy, local2):
    model, ft = toy
    kept = [f"G{g}" for g in range(8)]
    seen_a, seen_b = [], []
    a = permutation_null(model, ft, kept, samples="test", n_sets=50, random_state=3,
                         progress=lambda f, msg: seen_a.append(f))
    with use_executor(local2):
        assert target_jobs(local2) == 8
        b = permutation_null(model, ft, kept, samples="test", n_sets=50, random_state=3,
                             progress=lambda f, msg: seen_b.append(f))
        avn_b = accuracy_vs_n_genes(model, ft, [f"G{g}" for g in range(40)], sizes=[2, 20],
                                    samples="test", n_random=5, random_state=1)
    pd.testing.assert_frame_equal(a.null, b.null)
    assert a.observed == b.observed and (a.mean, a.sd, a.p_value) == (b.mean, b.sd, b.p_value)
    assert len(b.null) == 50
    # progress after every job: 51 sets (tested + 50 random) in 8 jobs on the cluster
    assert seen_b[-1] == pytest.approx(1.0) and len(seen_b) == len(job_ranges(51, 8))
    assert seen_a[-1] == pytest.approx(1.0)
    avn_a = accuracy_vs_n_genes(model, ft, [f"G{g}" for g in range(40)], sizes=[2, 20],
                                samples="test", n_random=5, random_state=1)
    pd.testing.assert_frame_equal(avn_a, avn_b)


def test_permuted_label_networks_and_their_scans_on_two_workers(toy, local2):
    model, ft = toy
    cb_a, cb_b = _Epochs(), _Epochs()
    prog = []
    a = permuted_label_networks(model, ft, n_networks=2, epochs=2, random_state=4, callbacks=[cb_a])
    sa = null_gene_scans(a, ft, samples="train")
    with use_executor(local2):
        b = permuted_label_networks(model, ft, n_networks=2, epochs=2, random_state=4,
                                    callbacks=[cb_b], progress=lambda f, msg: prog.append(f))
        sb = null_gene_scans(b, ft, samples="train")
    assert len(a) == len(b) == 2
    for ra, rb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ra.null_y_, rb.null_y_)
        np.testing.assert_array_equal(ra.null_rows_, rb.null_rows_)
        assert ra.get_params() == rb.get_params()
        for (ka, va), (kb, vb) in zip(ra.model_.state_dict().items(), rb.model_.state_dict().items(),
                                      strict=True):
            assert ka == kb
            np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=0, atol=TOL)
    for x, z in zip(sa, sb, strict=True):
        assert x.k_star == z.k_star and x.n_samples == z.n_samples
        np.testing.assert_allclose(x.case, z.case, rtol=0, atol=TOL)
    # the callbacks heard both networks' epochs (replayed from the workers' histories)
    assert cb_a.epochs == [1, 2, 1, 2] and sorted(cb_b.epochs) == [1, 1, 2, 2]
    assert prog[0] == 0.0 and prog[-1] == pytest.approx(1.0)


def test_stop_ends_the_permuted_label_networks_on_two_workers(toy, local2):
    model, ft = toy
    flag = StopFlag()

    def progress(f, msg):
        if f > 0:
            flag.request_stop()  # as the Stop button, once a network is back

    with use_executor(local2):
        out = permuted_label_networks(model, ft, n_networks=6, epochs=3, random_state=4,
                                      callbacks=[flag], progress=progress)
    assert len(out) < 6
    if out:  # the networks kept are those finished in order, as in this process
        ref = permuted_label_networks(model, ft, n_networks=len(out), epochs=3, random_state=4)
        for ra, rb in zip(ref, out, strict=True):
            np.testing.assert_array_equal(ra.null_y_, rb.null_y_)
            np.testing.assert_allclose(ra.model_.fc.weight.detach().numpy(),
                                       rb.model_.fc.weight.detach().numpy(), rtol=0, atol=TOL)


def test_gene_scan_on_two_workers_equals_in_process(toy, local2):
    model, ft = toy
    prog = []
    a = gene_scan(model, ft, samples="train", both_classes=True)
    with use_executor(local2):
        b = gene_scan(model, ft, samples="train", both_classes=True,
                      progress=lambda f, msg: prog.append(f))
        b32 = gene_scan(model, ft, samples="train", dtype="float32")
    a32 = gene_scan(model, ft, samples="train", dtype="float32")
    assert a.k_star == b.k_star and (a.n_items, a.n_items_total) == (b.n_items, b.n_items_total)
    np.testing.assert_array_equal(a.genes, b.genes)
    # float64: equal within the scan's own resolution (relative 1e-12), so the same ranking
    for x, z in ((a.case, b.case), (a.control, b.control)):
        np.testing.assert_allclose(x, z, rtol=0, atol=1e-12 * np.abs(x).max())
    pd.testing.assert_frame_equal(a.ranked(), b.ranked())
    np.testing.assert_allclose(a32.case, b32.case, rtol=0, atol=TOL)
    # 2 classes x 40 genes in 16 jobs of 5 genes: progress after each
    assert len(prog) >= 8 and prog[-1] == pytest.approx(1.0)


def test_ga_fitness_on_two_workers_equals_in_process(toy, local2):
    model, ft = toy
    tr = ft.split.train_idx
    lr = make_logistic_regression(C=0.1).fit(ft.X[tr], ft.y[tr])
    ranking = [f"G{g}" for g in range(40)]
    cfg = GAConfig(pool_size=30, population=8, generations=2, random_state=2)
    gens_a, gens_b = _Epochs(), _Epochs()
    a = search_nonadditive_genes(model, ft, ranking, baseline=lr, samples="train", config=cfg,
                                 callbacks=[gens_a])
    with use_executor(local2):
        b = search_nonadditive_genes(model, ft, ranking, baseline=lr, samples="train", config=cfg,
                                     callbacks=[gens_b])
    cols = [c for c in a.history.columns if c != "seconds"]
    pd.testing.assert_frame_equal(a.history[cols], b.history[cols])
    np.testing.assert_array_equal(a.best_mask, b.best_mask)
    assert (a.fitness, a.capsule_accuracy, a.lr_accuracy, a.n_evaluations) == \
        (b.fitness, b.capsule_accuracy, b.lr_accuracy, b.n_evaluations)
    assert a.generations_completed == b.generations_completed == 2
    assert gens_a.epochs == gens_b.epochs == [0, 1, 2]
    # population 2 with one elite: a generation brings at most one new mask (a single job)
    small = GAConfig(pool_size=10, population=2, generations=3, random_state=5)
    c = search_nonadditive_genes(model, ft, ranking, baseline=lr, samples="train", config=small)
    with use_executor(local2):
        d = search_nonadditive_genes(model, ft, ranking, baseline=lr, samples="train", config=small)
    pd.testing.assert_frame_equal(c.history[cols], d.history[cols])
