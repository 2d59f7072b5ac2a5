"""AppTest of the QC page: demo cohort with defaults and options, a user's files, downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from genoapp.io import write_plink

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _qc_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    _ok(at)
    at.switch_page("pages/qc.py").run()
    _ok(at)
    return at


def _downloads(at: AppTest) -> list[str]:
    return [e.proto.label for e in at.get("download_button")]


def test_qc_page_default_run_on_the_demo():
    at = _qc_page()
    at.button(key="run_qc").click().run()
    _ok(at)
    msg = [s.value for s in at.success]
    assert any(m.startswith("Kept 1,485 samples and ") for m in msg), msg
    funnel = at.dataframe[0].value
    # no fixed association filter by default (chosen at training); the GWAS is still reported
    assert funnel["step"].tolist()[-1] == "Batch effect (controls)"
    split = at.dataframe[1].value
    test_row = split[split["set"] == "test"].iloc[0]
    assert test_row["cases"] == test_row["controls"] == 74
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert len(at.get("plotly_chart")) >= 10  # funnel, 5 histograms, Manhattan, QQ, 2 PCAs
    assert keys
    labels = _downloads(at)
    for name in ("qc_funnel.csv", "gwas_training.csv", "qc_variants.csv", "qc_samples.csv",
                 "sample_pca_before_batch_filter.csv"):
        assert any(name in lab for lab in labels), (name, labels)
    assert sum("qc_removed_" in lab for lab in labels) == 7  # removed IDs of every step
    state = at.session_state["genoapp_qc"]
    G = state["G"]
    assert G.shape == (1485, len(state["variants"])) and G.dtype == np.float32
    assert len(state["split"].train_idx) + len(state["split"].test_idx) == G.shape[0]
    # colour the PCA by phenotype
    at.selectbox(key="pca_color").set_value("phenotype").run()
    _ok(at)


def test_qc_page_options_logistic_pairwise_all_samples():
    at = _qc_page()
    at.checkbox(key="gwas_p_on").check()  # the paper's fixed filter
    at.radio(key="gwas_test").set_value("logistic")
    at.number_input(key="gwas_pcs").set_value(2)
    at.radio(key="batch_mode").set_value("every pair")
    at.radio(key="label_samples").set_value("all")
    at.checkbox(key="hwe_all").check()
    at.checkbox(key="stratify").check()
    at.button(key="run_qc").click().run()
    _ok(at)
    flags = at.dataframe[0].value["plink_flag"].tolist()
    assert any(f.startswith("--logistic") for f in flags)
    assert any("every pair" in f for f in flags)
    assert any("include-nonctrl" in f for f in flags)


def test_qc_page_on_a_users_files_without_batch(tmp_path):
    """A small user cohort loaded from files: no batch column -> the batch filter is skipped
    with a note, and a filter that removes everything is a readable error."""
    rng = np.random.default_rng(0)
    n, m = 120, 400
    G = rng.binomial(2, rng.uniform(0.05, 0.5, m), size=(n, m)).astype(np.float32)
    G[rng.random(G.shape) < 0.01] = np.nan
    samples = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"I{i}" for i in range(n)]})
    variants = pd.DataFrame({"chrom": np.repeat(["1", "2"], m // 2), "id": [f"rs{j}" for j in range(m)],
                             "pos": np.tile(np.arange(m // 2) * 5000 + 1, 2), "A1": ["A"] * m,
                             "A2": ["G"] * m})
    write_plink(tmp_path / "user", G, samples=samples, variants=variants)
    y = (rng.random(n) < 0.5).astype(int)
    pd.DataFrame({"FID": samples["FID"], "IID": samples["IID"], "status": y}).to_csv(
        tmp_path / "pheno.tsv", sep="\t", index=False)

    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    at.radio(key="data_source").set_value("Files on the server").run()
    at.text_input(key="path_bed").input(str(tmp_path / "user")).run()
    at.text_input(key="path_pheno").input(str(tmp_path / "pheno.tsv")).run()
    at.button(key="load_paths").click().run()
    # the Data page keeps the demo's sex choice (1, 2) after loading; these samples are sex 0
    at.multiselect(key="sexes").set_value([0]).run()
    _ok(at)
    at.switch_page("pages/qc.py").run()
    _ok(at)
    at.checkbox(key="gwas_p_on").check()  # the paper's fixed filter
    at.button(key="run_qc").click().run()
    _ok(at)
    assert any(s.value.startswith(f"Kept {n} samples") for s in at.success)
    steps = at.dataframe[0].value["step"].tolist()
    assert "Batch effect (controls)" not in steps and steps[-1] == "GWAS (training samples)"
    # asking for the batch filter without a batch column: skipped with a note
    at.checkbox(key="batch_alpha_on").check()
    at.button(key="run_qc").click().run()
    _ok(at)
    assert any("Batch-effect filter skipped" in i.value for i in at.info)
    # a GWAS threshold nothing passes is reported as an error, not a traceback
    at.number_input(key="gwas_p").set_value(1e-12)
    at.button(key="run_qc").click().run()
    assert not at.exception
    assert at.error and "Association filter" in at.error[0].value
    assert "Raise the threshold" in at.error[0].value


@pytest.mark.parametrize("page", ["pages/qc.py"])
def test_qc_page_explains_a_missing_selection(page):
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    at.session_state["genoapp_selection"] = None
    at.switch_page(page).run()
    assert not at.exception
    assert at.info and "first" in at.info[0].value
