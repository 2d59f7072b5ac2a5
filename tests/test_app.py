"""App tests (streamlit.testing AppTest): one per page, walking the demo path with a fast config."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _fresh() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.success, *at.caption, *at.info])


def _run_qc(at: AppTest) -> AppTest:
    at.switch_page("pages/qc.py").run()
    _ok(at)
    at.button(key="run_qc").click().run()
    _ok(at)
    return at


def _build_features(at: AppTest) -> AppTest:
    at.switch_page("pages/features.py").run()
    _ok(at)
    at.button(key="build_features").click().run()
    _ok(at)
    return at


def _train(at: AppTest, epochs: int = 1) -> AppTest:
    """Train the quick model set (DiseaseCapsule + logistic regression) in the background job."""
    at.switch_page("pages/train.py").run()
    _ok(at)
    at.multiselect(key="models").set_value(["capsule", "logreg"])
    at.number_input(key="epochs").set_value(epochs)
    at.number_input(key="n_seeds").set_value(1)
    at.selectbox(key="tuning").set_value("none")
    at.checkbox(key="compare_all_pca").set_value(False)
    at.checkbox(key="save_run").set_value(False)
    at.button(key="train").click().run()
    _ok(at)
    job = at.session_state["genoapp_train_job"]
    assert job.join(600), "training did not finish"
    at.run()
    _ok(at)
    return at


def test_data_page_opens_on_the_demo_cohort():
    at = _fresh()
    assert at.title[0].value == "Data"
    assert at.selectbox(key="phenotype").value == "disease"
    assert at.selectbox(key="batch_column").value == "source"
    assert any("1,485 samples with a phenotype (594 cases, 891 controls)" in s.value for s in at.success)
    table = at.dataframe[-1].value
    assert int(table.loc[table["batch"] == "Total", "cases"].iloc[0]) == 594
    assert at.get("plotly_chart")


def test_data_page_selection_and_bad_path_error():
    at = _fresh()
    at.multiselect(key="batches").set_value(["HapMap3_r2"]).run()
    _ok(at)
    assert any("393 samples with a phenotype" in s.value for s in at.success)
    at.radio(key="data_source").set_value("Files on the server").run()
    at.text_input(key="path_bed").input("/nonexistent/cohort").run()
    at.button(key="load_paths").click().run()
    assert not at.exception
    assert at.error and "cohort" in at.error[0].value  # readable message naming the file


def test_qc_page_runs_the_filters():
    at = _run_qc(_fresh())
    # default: label-free filters, HWE on controls, batch filter on controls, GWAS p < 0.05
    msg = [s.value for s in at.success]
    assert any(m.startswith("Kept 1,485 samples and ") for m in msg), msg
    funnel = at.dataframe[0].value
    n_kept = int(funnel["n_variants"].iloc[-1])
    assert 0 < n_kept < int(funnel["n_variants"].iloc[0]) == 14079
    assert f"{n_kept:,} variants" in msg[0]
    assert len(at.get("plotly_chart")) >= 4  # funnel + histograms + GWAS plots
    split = at.dataframe[1].value
    test_row = split[split["set"] == "test"].iloc[0]
    assert test_row["cases"] == test_row["controls"] == 74


def test_features_page_builds_gene_pca():
    at = _build_features(_run_qc(_fresh()))
    metrics = {m.label: m.value for m in at.metric}
    fs = at.session_state["genoapp_features"]["features"]
    assert metrics["Features (PCs)"] == f"{fs.X.shape[1]:,}"
    assert 0 < fs.X.shape[1] <= at.session_state["genoapp_qc"]["G"].shape[1]


def test_train_page_trains_and_scores():
    at = _train(_build_features(_run_qc(_fresh())), epochs=1)
    metrics = at.dataframe[0].value.data if hasattr(at.dataframe[0].value, "data") else at.dataframe[0].value
    assert list(metrics["model"]) == ["DiseaseCapsule", "Logistic regression"]
    assert ((metrics["accuracy"] >= 0) & (metrics["accuracy"] <= 1)).all()
    assert "Test-set metrics" in [s.value for s in at.subheader]


def test_insights_page_compares_the_network_with_permuted_labels():
    at = _train(_build_features(_run_qc(_fresh())), epochs=1)
    at.switch_page("pages/insights.py").run()
    _ok(at)
    assert len(at.get("plotly_chart")) == 0           # no raw heatmap presented as a pattern
    assert "nested input" in _texts(at)               # the default input is the nested filter
    at.number_input(key="n_networks").set_value(1)
    at.button(key="run_null").click().run()
    _ok(at)
    ins = at.session_state["genoapp_insights"]["ins"]
    assert ins.settings["stage"]                      # the references refitted the stage
    charts = at.get("plotly_chart")
    assert len(charts) >= 2                           # coupling deviation and gene-scan null
    assert "1/K" in _texts(at)


@pytest.mark.parametrize("page", ["pages/qc.py", "pages/features.py", "pages/train.py", "pages/insights.py"])
def test_pages_explain_missing_prerequisites(page):
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    if page != "pages/qc.py":  # the demo selection is made at start, so QC can run directly
        assert at.info and "first" in at.info[0].value


def test_runs_page_is_in_the_navigation_and_explains_an_empty_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GENOAPP_RUNS_DIR", str(tmp_path))
    at = _fresh()
    at.switch_page("pages/runs.py").run()
    _ok(at)
    assert at.title[0].value == "Runs"
    assert at.info and "No saved run" in at.info[0].value
