"""AppTest of the Features page: Gene-PCA and All-PCA on the demo cohort, gene lookup, downloads,
readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture(scope="module")
def at_qc() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    _ok(at)
    at.switch_page("pages/qc.py").run()
    at.button(key="run_qc").click().run()
    _ok(at)
    at.switch_page("pages/features.py").run()
    _ok(at)
    return at


def _metrics(at: AppTest) -> dict:
    return {m.label: m.value for m in at.metric}


def test_features_page_gene_pca_lookup_and_downloads(at_qc):
    at = at_qc
    at.radio(key="feature_method").set_value("gene_pca")
    at.button(key="build_features").click().run()
    _ok(at)
    metrics = _metrics(at)
    fs = at.session_state["genoapp_features"]["features"]
    n_feat = int(fs.gene_pca.genes_["n_components"].sum())
    assert fs.X.shape == (len(fs.X), n_feat) and n_feat > 100
    assert metrics["Features (PCs)"] == f"{n_feat:,}"
    assert metrics["Genes"] == f"{len(fs.summary):,}"
    assert fs.gene_pca.n_samples_fit_ == len(at.session_state["genoapp_qc"]["split"].train_idx)
    assert at.subheader[0].value == "Gene-PCA features"
    assert len(at.get("plotly_chart")) >= 5  # histogram, explained variance, lookup (3)
    # gene lookup: the largest gene is preselected; pick another one by name
    box = at.selectbox(key="gene_lookup")
    assert box.value == box.options[0]
    other = box.options[5]
    box.set_value(other).run()
    _ok(at)
    assert any(other in m.value for m in at.markdown)
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Download gene_summary.csv", "Download snp_to_gene.csv", "Download features.csv",
            f"Download loadings_{other}.csv"} <= set(labels)


def test_features_page_all_pca(at_qc):
    at = at_qc
    at.radio(key="feature_method").set_value("all_pca")
    at.number_input(key="n_components").set_value(40)
    at.button(key="build_features").click().run()
    _ok(at)
    assert _metrics(at)["Features (PCs)"] == "40"
    assert at.subheader[0].value == "All-PCA features"
    assert any("default would be" in c.value for c in at.caption)
    at.number_input(key="n_components").set_value(0)
    at.radio(key="feature_method").set_value("gene_pca")


def test_features_page_bad_gene_table_is_a_readable_error(at_qc, tmp_path):
    at = at_qc
    bad = tmp_path / "genes.txt"
    bad.write_text("this is not a gene table\n")
    at.text_input(key="gene_path").input(str(bad))
    at.button(key="build_features").click().run()
    assert not at.exception
    assert at.error and "could not recognise the columns" in at.error[0].value
    at.text_input(key="gene_path").input("")
    at.button(key="build_features").click().run()
    _ok(at)
