"""Capsule insights as a workflow: a nested feature stage refitted for every permuted-label
network (the exact null), the planted gene found and marked significant, the results saved in
a run folder and shown in the HTML report."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from genoapp.errors import ConfigError
from genoapp.interpret import FeatureTable, permuted_label_networks
from genoapp.models import DiseaseCapsuleClassifier
from genoapp.report.html import _insights_section
from genoapp.train import make_split
from genoapp.workflows.insights import InsightsData, capsule_insights, load_insights

PARAMS = dict(n_hidden=20, n_primary_types=4, epochs=10, learning_rate=3e-3, lr_decay=1.0,
              length_scale=10.0, batch_size=32, device="cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread_module")


class TopGenes(TransformerMixin, BaseEstimator):
    """Keeps the ``k`` genes whose best column correlates most with the labels (a stand-in for
    the nested association filter: chosen with the labels of the rows it is fitted on)."""

    def __init__(self, genes=None, k: int = 8):
        self.genes = genes
        self.k = k

    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        yc = np.asarray(y, dtype=np.float64) - np.mean(y)
        r = np.abs((X - X.mean(0)).T @ yc) / (X.std(0) * np.sqrt(len(yc)) * yc.std() + 1e-12)
        genes = np.asarray(self.genes, dtype=object)
        best = {g: r[genes == g].max() for g in dict.fromkeys(genes)}
        keep = sorted(best, key=best.get, reverse=True)[: self.k]
        self.cols_ = np.flatnonzero(np.isin(genes, keep))
        self.feature_gene_ = genes[self.cols_]
        self.feature_names_ = np.array([f"{g}_{i}" for i, g in enumerate(self.feature_gene_)])
        return self

    def transform(self, X):
        return np.ascontiguousarray(np.asarray(X)[:, self.cols_], dtype=np.float32)

    def describe(self):
        return f"top {self.k} genes"


def _toy(n: int = 600, n_genes: int = 30, seed: int = 0):
    rng = np.random.default_rng(seed)
    blocks, genes = [], []
    for g in range(n_genes):
        k = 1 + g % 2
        blocks.append(rng.normal(size=(n, k)).astype(np.float32))
        genes += [f"G{g}"] * k
    X = np.hstack(blocks)
    y = ((X[:, 0] + 0.5 * rng.normal(size=n)) > 0).astype(np.int64)
    return X, y, np.array(genes, dtype=object)


@pytest.fixture(scope="module")
def nested():
    raw, y, genes = _toy()
    split = make_split(y, test_size=0.2, random_state=0)
    tr = split.train_idx
    stage = TopGenes(genes=genes, k=20).fit(raw[tr], y[tr])
    X = stage.transform(raw)
    model = DiseaseCapsuleClassifier(**PARAMS, random_state=0).fit(X[tr], y[tr])
    table = FeatureTable(X, stage.feature_gene_, y=y, split=split)
    return InsightsData(model, table, stage=stage, raw=raw, input="toy", seed=0), split


def test_references_refit_the_stage_on_their_permuted_labels(nested):
    data, split = nested
    refs = permuted_label_networks(data.model, data.features, n_networks=2, stage=data.stage,
                                   raw=data.raw, random_state=1)
    assert len(refs) == 2
    for net in refs:
        own = net.null_features_
        assert own.X.shape == (data.raw.shape[0], net.n_features_in_)
        # refitted with the permuted labels: the stage's choice follows them, not the real ones
        y_perm = net.null_y_
        again = type(data.stage)(genes=data.stage.genes, k=20).fit(data.raw[net.null_rows_], y_perm)
        assert list(again.feature_gene_) == list(own.feature_gene)
    assert any("G0" not in set(net.null_features_.feature_gene) for net in refs)


@pytest.mark.parametrize("statistic", ["coupling", "prediction"])
def test_both_gene_statistics_find_the_planted_gene(nested, statistic):
    data, split = nested
    ins = capsule_insights(data, n_networks=5, samples="test", n_sets=30, random_state=0,
                           statistic=statistic)
    top = ins.scan_null.iloc[0]
    assert top["gene"] == "G0" and top["rank"] == 1 and bool(top["significant"])
    assert "G0" in set(ins.core.genes)
    assert ins.settings["statistic"] == statistic
    # the masked accuracy is measured where the genes were not chosen
    assert ins.settings["chosen_on"] == ("train" if statistic == "prediction" else "test")
    assert ins.scan_coupling is not None and ins.scan_coupling.attrs["statistic"] == "coupling"
    key = "Gene scan" if statistic == "coupling" else "Genes (one-gene-only AUC, training samples)"
    found = dict((line.split(":")[0], ok) for ok, line in ins.findings())
    assert found[key] is True


def test_capsule_insights_find_the_planted_gene_and_report_it(nested, tmp_path):
    data, split = nested
    ins = capsule_insights(data, n_networks=5, samples="test", n_sets=30, random_state=0)
    top = ins.scan_null.iloc[0]
    assert top["gene"] == "G0" and top["rank"] == 1 and bool(top["significant"])
    assert "G0" in set(ins.core.genes)
    assert ins.core.rule == "significant"
    assert ins.masked is not None and len(ins.masked.null) == 30
    found = dict((line.split(":")[0], ok) for ok, line in ins.findings())
    assert found["Genes (one-gene-only AUC, training samples)"] is True
    assert ins.settings["stage"] == "top 20 genes"
    with pytest.raises(ConfigError, match="statistic"):
        capsule_insights(data, n_networks=1, statistic="saliency")

    folder = ins.save(tmp_path)
    assert {p.name for p in folder.iterdir()} >= {"insights.json", "gene_scan.csv",
                                                  "gene_scan_coupling.csv",
                                                  "core_genes.csv", "coupling.csv",
                                                  "masked_accuracy.csv"}
    saved = load_insights(tmp_path)
    assert saved["info"]["n_significant"] == int(ins.scan_null["significant"].sum())
    assert saved["gene_scan"]["gene"].iloc[0] == "G0"
    html = "\n".join(_insights_section(SimpleNamespace(path=tmp_path)))
    assert "Capsule insights" in html and "G0" in html and "one-gene-only AUC" in html
    assert _insights_section(SimpleNamespace(path=tmp_path / "elsewhere")) == []
