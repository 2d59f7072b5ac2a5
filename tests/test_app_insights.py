"""AppTest of the Capsule insights page: gene scan, core genes, nulls, GA, retraining, known truth.

The demo cohort's QC, split and Gene-PCA features are built once with the pipeline functions and
a DiseaseCapsule network is trained for one epoch; they are put into the session state the way
the Features and Train pages store them, so this test does not depend on those pages' widgets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from genoapp.demo import DEMO_PHENOTYPE, HG19_GENES, load_demo_cohort
from genoapp.io import read_gene_table
from genoapp.models import DiseaseCapsuleClassifier, make_logistic_regression
from genoapp.pipeline import TrainResult, build_features, make_split
from genoapp.qc import QCConfig, run_qc
from genoapp.train import upsample_minority


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small tensors: one intra-op thread avoids oversubscription on a shared 2-core runner."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def trained():
    c = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = c.phenotype(DEMO_PHENOTYPE)
    G = c.read_dosages()
    qc = run_qc(G, c.samples, c.variants, config=QCConfig(mind=0.1, geno=0.1, maf=0.01))
    Gq = np.ascontiguousarray(G[np.ix_(qc.sample_mask, qc.variant_mask)])
    variants = c.variants[qc.variant_mask].reset_index(drop=True)
    split = make_split(y[qc.sample_mask], test_size=0.1, random_state=0)
    fs = build_features(Gq, variants, split, genes=read_gene_table(HG19_GENES))
    fit_idx = upsample_minority(split.train_idx, split.y, random_state=0)
    capsule = DiseaseCapsuleClassifier(epochs=1, device="cpu", random_state=0).fit(fs.X[fit_idx], split.y[fit_idx])
    lr = make_logistic_regression(C=0.01, random_state=0).fit(fs.X[fit_idx], split.y[fit_idx])
    result = TrainResult(capsule=capsule, baseline=lr, metrics=None, test_scores={}, test_predictions={},
                         history=None, seconds={})
    return split, fs, result


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _frame(el):
    v = el.value
    return v.data if hasattr(v, "data") and not hasattr(v, "columns") else v


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.caption, *at.warning, *at.info])


def test_insights_page_full_workflow(trained):
    split, fs, result = trained
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    _ok(at)
    at.session_state["genoapp_features"] = {"split": split, "features": fs}
    at.session_state["genoapp_train"] = {"result": result, "params": {}}
    at.switch_page("pages/insights.py").run()
    _ok(at)
    assert len(at.get("plotly_chart")) == 2                      # the two heatmaps before any scan
    assert "Run the gene scan" in _texts(at)

    # gene scan on the test cases (fast), float32
    at.radio(key="scan_samples").set_value("test")
    at.radio(key="scan_dtype").set_value("float32")
    at.button(key="run_scan").click().run()
    _ok(at)
    store = at.session_state["genoapp_insights"]
    scan = store["scan"]["result"]
    assert len(scan.genes) == len(fs.summary)
    assert scan.n_samples["case"] == int((split.y[split.test_idx] == 1).sum())
    assert np.allclose(scan.case.sum(axis=1), 1.0, atol=1e-4)
    texts = _texts(at)
    assert "core genes" in texts and "distinct one-gene inputs" in texts
    core = at.dataframe[0].value
    assert list(core.columns[:7]) == ["rank", "gene", "chrom", "start", "end", "n_snps", "score"]
    n_core = len(core)
    assert n_core >= int(0.05 * len(scan.genes))
    # known truth table (demo phenotype)
    truth = _frame(at.dataframe[1])
    assert "core genes: all planted" in list(truth["selection"])
    assert ((truth["random_recall"] > 0) & (truth["random_recall"] < 1)).all()
    # heatmaps (all genes, core genes only), histogram, genome view
    assert len(at.get("plotly_chart")) == 6
    downloads = [b.proto.label for b in at.get("download_button")]
    assert any("core_genes.csv" in d for d in downloads)

    # changing the percentile re-selects instantly
    at.slider(key="core_percentile").set_value(99.0).run()
    _ok(at)
    assert len(at.dataframe[0].value) < n_core

    # masked accuracy null with 20 random sets
    at.number_input(key="n_null_sets").set_value(20)
    at.button(key="run_null").click().run()
    _ok(at)
    nr = at.session_state["genoapp_insights"]["null"]["result"]
    assert len(nr.null) == 20 and 0 <= nr.p_value <= 1

    # accuracy vs number of genes
    at.text_input(key="avn_sizes").input("5, 50, all")
    at.number_input(key="avn_random").set_value(2)
    at.button(key="run_avn").click().run()
    _ok(at)
    avn = at.session_state["genoapp_insights"]["avn"]
    assert sorted(avn["n_genes"].unique()) == [5, 50, len(scan.genes)]

    # genetic algorithm with tiny settings, then retraining on the selected genes
    at.number_input(key="ga_pool_quick").set_value(20)
    at.number_input(key="ga_pop_quick").set_value(4)
    at.number_input(key="ga_gens_quick").set_value(2)
    at.number_input(key="ga_epochs_quick").set_value(1)
    at.button(key="run_ga").click().run()
    _ok(at)
    store = at.session_state["genoapp_insights"]
    ga = store["ga"]
    assert ga.generations_completed == 2 and 0 < len(ga.selected_genes) <= 20
    metrics = store["retrain"].metrics
    assert list(metrics["model"]) == ["DiseaseCapsule", "Logistic regression"]
    assert metrics[["accuracy", "precision", "recall"]].apply(lambda c: c.between(0, 1)).all().all()
    assert "genes selected" in _texts(at)
    labels = set(_frame(at.dataframe[-1])["selection"])
    assert "GA genes: interacting" in labels


def test_insights_page_without_a_capsule_model(trained):
    split, fs, result = trained
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.session_state["genoapp_features"] = {"split": split, "features": fs}
    no_capsule = TrainResult(capsule=None, baseline=None, metrics=None, test_scores={}, test_predictions={},
                             history=None, seconds={})
    at.session_state["genoapp_train"] = {"result": no_capsule, "params": {}}
    at.switch_page("pages/insights.py").run()
    assert not at.exception
    assert at.info and "DiseaseCapsule" in at.info[0].value
