"""AppTest of the Quantitative traits page (run directly, so it works before and after the page
is registered in app.py's navigation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from threadpoolctl import threadpool_limits

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "quantitative.py")


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One BLAS/torch thread: on a shared, loaded 2-core machine oversubscribed threads make
    the small fits many times slower (the app itself keeps the library defaults)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    _ok(at)
    return at


def test_opens_on_the_mice_example_with_the_scree_plot(page):
    at = page
    assert at.title[0].value == "Quantitative traits"
    assert [m.value for m in at.metric][:2] == ["1,814", "10,346"]
    assert at.multiselect(key="q_traits").value == ["Obesity.BodyLength", "Obesity.BMI"]
    assert at.multiselect(key="q_models_quick").value == ["GRVSNN", "Ridge (GBLUP)"]
    captions = " ".join(c.value for c in at.caption)
    assert "Expected time on this machine" in captions
    assert "The full comparison (every model" in captions  # one choice away, with its estimate
    assert at.multiselect(key="q_inputs").value == ["markers + loadings"]
    assert at.multiselect(key="q_inputs").options == ["markers", "markers + loadings"]
    assert at.radio(key="q_rank_choice").value == "plateau"  # m = 169, the paper's rank
    assert "169" in at.radio(key="q_rank_choice").format_func("plateau")
    assert len(at.get("plotly_chart")) == 1  # the scree plot


def test_runs_a_small_protocol_and_shows_results(page, tmp_path):
    at = page
    at.number_input(key="q_folds_quick").set_value(2)
    at.number_input(key="q_repeats_quick").set_value(1)
    at.number_input(key="q_trials_quick").set_value(1)
    at.number_input(key="q_epochs_quick").set_value(5)
    at.number_input(key="q_hidden_quick").set_value(4)
    at.text_input(key="q_runs_dir").set_value(str(tmp_path))
    at.multiselect(key="q_traits").set_value(["Obesity.BodyLength"])
    at.button(key="q_run").click().run()
    _ok(at)
    job = at.session_state["genoapp_train_job"]  # a background job with Stop, like Train
    assert job.join(600), "the cross-validation did not finish"
    at.run()
    _ok(at)
    tables = [d.value for d in at.dataframe]
    result = next(t for t in reversed(tables) if "inputs" in t.columns)
    assert set(result["model"]) == {"GRVSNN", "Ridge (GBLUP)"}
    assert set(result["inputs"]) == {"markers + loadings"}
    assert (result["folds"] == 2).all()
    paired = next(t for t in tables if "verdict" in t.columns)  # GRVSNN vs the best baseline
    assert paired["model"].tolist() == ["GRVSNN"] and paired["baseline"].tolist() == ["Ridge (GBLUP)"]
    assert (paired["folds"] == 2).all() and paired["ci_low"].notna().all()
    charts = at.get("plotly_chart")
    assert len(charts) >= 5  # scree, comparison, folds, scatter, importance
    assert any(b.label.startswith("Download quantitative_summary") for b in at.get("download_button"))
    at.radio(key="q_metric").set_value("dcor").run()
    _ok(at)


def test_bad_path_gives_a_readable_error():
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    at.radio(key="q_source").set_value("Files on the server").run()
    at.text_input(key="q_path_bed").input("/nonexistent/cohort").run()
    at.text_input(key="q_path_pheno").input("/nonexistent/pheno.tsv").run()
    at.button(key="q_load_paths").click().run()
    assert not at.exception
    assert at.error and "cohort" in at.error[0].value
