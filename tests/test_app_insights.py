"""AppTest of the Capsule insights page: permuted-label null, gene scan, core genes, GA, known truth.

The demo cohort's QC, split and Gene-PCA features are built once with the pipeline functions and
a DiseaseCapsule network is trained for one epoch; they are put into the session state the way
the Features and Train pages store them, so this test does not depend on those pages' widgets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from genoapp.demo import DEMO_PHENOTYPE
from genoapp.models import DiseaseCapsuleClassifier, make_logistic_regression
from genoapp.train import upsample_minority
from genoapp.workflows.protocol import ProtocolConfig, ProtocolResult, TaskKey

pytestmark = pytest.mark.usefixtures("one_torch_thread_module")


APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def trained(demo_gene_pca):
    fs = demo_gene_pca
    split = fs.split
    fit_idx = upsample_minority(split.train_idx, split.y, random_state=0)
    capsule = DiseaseCapsuleClassifier(epochs=1, device="cpu", random_state=0).fit(fs.X[fit_idx], split.y[fit_idx])
    lr = make_logistic_regression(C=0.01, random_state=0).fit(fs.X[fit_idx], split.y[fit_idx])
    # what the Train page stores: the comparison's result, with its final models by task
    keys = {m: TaskKey(m, fs.input_name, DEMO_PHENOTYPE, 1, 1, 0) for m in ("capsule", "logreg")}
    result = ProtocolResult(
        task="classification", metrics=pd.DataFrame(), fold_metrics=pd.DataFrame(),
        predictions=pd.DataFrame(), histories={},
        estimators={keys["capsule"]: capsule, keys["logreg"]: lr}, outer=[],
        traits=[DEMO_PHENOTYPE], inputs=[fs.input_name], feature_names={}, feature_groups={},
        config=ProtocolConfig(seeds=(0,)), models={})
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
    assert len(at.get("plotly_chart")) == 0            # nothing shown before the null is run
    texts = _texts(at)
    assert "Run the analysis" in texts and "Expected time on this machine" in texts

    # one permuted-label network, scan on the test cases, 20 random gene sets
    at.number_input(key="n_networks").set_value(1)
    at.radio(key="scan_samples").set_value("test")
    at.number_input(key="n_null_sets").set_value(20)
    at.button(key="run_null").click().run()
    _ok(at)
    ins = at.session_state["genoapp_insights"]["ins"]
    assert ins.n_networks == 1
    assert len(ins.scan.genes) == len(fs.summary) == len(ins.scan_null)
    assert ins.scan.n_samples["case"] == int((split.y[split.test_idx] == 1).sum())
    assert np.allclose(ins.scan.case.sum(axis=1), 1.0, atol=1e-4)
    assert ins.coupling.deviation.shape == (2, ins.coupling_test.train.shape[1])
    assert ins.scan_null["q"].between(0, 1).all()
    # every finding is said in words, as found (success) or not (warning)
    lines = [e.value for e in [*at.success, *at.warning]]
    assert any(v.startswith("Coupling:") for v in lines)
    assert any(v.startswith("Gene scan:") for v in lines)
    if ins.masked is not None and ins.masked.degenerate:
        assert any("Not a test" in v or "not a test" in v for v in lines)
    downloads = [b.proto.label for b in at.get("download_button")]
    assert any("core_genes.csv" in d for d in downloads)
    assert any("gene_scan_against_permuted_labels.csv" in d for d in downloads)
    # known truth table (demo phenotype) with the chance expectation
    truth = _frame(at.dataframe[-1])
    assert "core genes: all planted" in list(truth["selection"])
    assert ((truth["random_recall"] >= 0) & (truth["random_recall"] < 1)).all()

    # the paper's rule re-selects without recomputing: at least 5 % of the genes, ties whole
    at.radio(key="core_rule").set_value("percentile").run()
    _ok(at)
    core = at.dataframe[0].value
    core = core.data if hasattr(core, "data") and not hasattr(core, "columns") else core
    assert list(core.columns[:7]) == ["rank", "gene", "chrom", "start", "end", "n_snps", "score"]
    assert len(core) >= int(0.05 * len(ins.scan.genes))
    assert at.session_state["genoapp_insights"]["ins"] is ins

    # accuracy vs number of genes
    at.text_input(key="avn_sizes").input("5, 50, all")
    at.number_input(key="avn_random").set_value(2)
    at.button(key="run_avn").click().run()
    _ok(at)
    avn = at.session_state["genoapp_insights"]["avn"]
    assert sorted(avn["n_genes"].unique()) == [5, 50, len(ins.scan.genes)]

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
    import dataclasses

    no_capsule = dataclasses.replace(result, estimators={})
    at.session_state["genoapp_train"] = {"result": no_capsule, "params": {}}
    at.switch_page("pages/insights.py").run()
    assert not at.exception
    assert at.info and "DiseaseCapsule" in at.info[0].value
