"""AppTests of the Train page (model zoo in the background, live panel, Stop) and the Runs page."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from genoapp.demo import DEMO_BED

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
RUNS_PAGE = str(REPO / "pages" / "runs.py")
JOB = "genoapp_train_job"


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/qc.py").run()
    at.button(key="run_qc").click().run()
    at.switch_page("pages/features.py").run()
    at.button(key="build_features").click().run()
    at.switch_page("pages/train.py").run()
    _ok(at)
    return at


def _configure(at: AppTest, models, *, seeds=1, mlp_epochs=2, all_pca=False) -> None:
    at.multiselect(key="models").set_value(models)
    at.number_input(key="n_seeds").set_value(seeds)
    at.number_input(key="mlp_epochs").set_value(mlp_epochs)
    at.checkbox(key="compare_all_pca").set_value(all_pca)


def _table(at: AppTest, column: str):
    """The first dataframe on the page with ``column`` (pages add tables above older ones)."""
    for d in at.dataframe:
        v = d.value.data if hasattr(d.value, "data") else d.value
        if column in v.columns:
            return v
    raise AssertionError(f"no table with a {column!r} column")


@pytest.fixture(scope="module")
def trained_app(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("GENOAPP_RUNS_DIR", str(runs))
    at = _train_page()
    _configure(at, ["mlp", "logreg", "prs"], seeds=2, all_pca=True)
    at.button(key="train").click().run()
    _ok(at)
    job = at.session_state[JOB]
    assert job.join(600), "training did not finish"
    at.run()
    _ok(at)
    yield at, runs
    mp.undo()


def test_train_page_queues_models_and_shows_the_comparison(trained_app):
    at, runs = trained_app
    assert "Test-set metrics" in [s.value for s in at.subheader]
    verdicts = _table(at, "verdict")  # every metric with its interval and a plain verdict
    assert len(verdicts) == 5 and verdicts["95 % interval"].str.contains("–").all()
    table = _table(at, "n_seeds")
    assert list(table["model"]) == ["MLP", "Logistic regression", "MLP", "Logistic regression",
                                    "PRS (Σβ·dosage)"]
    assert list(table["input"]) == ["Gene-PCA", "Gene-PCA", "All-PCA", "All-PCA", "SNPs"]
    assert (table["n_seeds"] == 2).all() and table["accuracy"].between(0, 1).all()
    nested = _table(at, "chosen")  # what the nested association filter kept, per seed
    assert len(nested) == 2 and nested["chosen"].str.startswith("top ").all()
    assert nested["additive_kept"].str.endswith(" of 10").all()        # the demo's truth
    paper = _table(at, "Gene-PCA accuracy")
    assert "±" in paper.loc[0, "Gene-PCA accuracy"]
    assert "±" in paper.loc[0, "All-PCA accuracy"] and paper.loc[2, "SNPs roc_auc"] != ""
    charts = at.get("plotly_chart")
    assert len(charts) >= 5  # comparison, ROC, PR, confusion matrices, folds, learning curves
    tr = at.session_state["genoapp_train"]
    assert tr["result"].estimator("capsule", "Gene-PCA") is None and tr["result"].config.seeds == (0, 1)
    assert Path(tr["run_dir"]).parent == runs and (Path(tr["run_dir"]) / "run.json").is_file()
    assert any("Saved run" in s.value for s in at.success)


def test_runs_page_reopens_the_run_and_predicts_new_individuals(trained_app):
    _, runs = trained_app
    at = AppTest.from_file(RUNS_PAGE, default_timeout=300)
    at.run()
    _ok(at)
    assert at.text_input(key="runs_root").value == str(runs)
    assert len(at.dataframe[0].value) == 1
    assert len(_table(at, "Gene-PCA accuracy"))  # results without retraining
    assert len(at.get("plotly_chart")) >= 4
    assert any("HTML report" in b.proto.label for b in at.get("download_button"))
    at.button(key="make_bundle").click().run()
    _ok(at)
    assert any("run bundle" in b.proto.label for b in at.get("download_button"))
    rec = json.loads(next(runs.iterdir()).joinpath("run.json").read_text())
    # the association filter is chosen inside the training samples by the protocol (nested),
    # not applied once by QC; the form sends only what differs from the preset
    assert rec["qc"][-1]["step"] == "Batch effect (controls)" and rec["features"]["Gene-PCA"]["fit_on"] == "train"
    train_cfg = rec["pipeline_config"]["train"]
    assert train_cfg["association"] == "nested" and train_cfg["overrides"]["capsule"] == {"epochs": 30}
    models = at.selectbox(key="predict_model")
    options = list(models.options)
    models.set_value(next(i for i, o in enumerate(options) if o.startswith("Logistic regression")))
    at.text_input(key="predict_path").input(str(DEMO_BED))
    at.button(key="predict").click().run()
    _ok(at)
    msg = [s.value for s in at.success if "individuals scored" in s.value]
    assert msg and msg[0].startswith("1,485 individuals scored")  # every demo sample
    found = re.search(r"Variants: ([\d,]+) of ([\d,]+) found by id", msg[0])
    assert found and found.group(1) == found.group(2)  # the run's whole QC'd variant list


@pytest.fixture(scope="module")
def demo_vcf(tmp_path_factory, plink2) -> Path:
    """The demo cohort as a bgzipped VCF (plink2: REF = A2, ALT = A1, sample ID = IID), under a
    data root (pytest's folder)."""
    out = tmp_path_factory.mktemp("demo_vcf") / "demo"
    subprocess.run([plink2, "--bfile", str(DEMO_BED), "--export", "vcf", "bgz", "id-paste=iid",
                    "--threads", "1", "--out", str(out)], check=True, capture_output=True)
    return out.with_suffix(".vcf.gz")


def test_saved_run_scores_a_vcf_like_the_bed(trained_app, demo_vcf):
    from genoapp.io import open_genotypes
    from genoapp.io.formats import ReadOptions
    from genoapp.runs import open_run

    _, runs = trained_app
    run = open_run(next(runs.iterdir()))
    for key, inp in (("logreg", "Gene-PCA"), ("prs", "SNPs")):
        ref, ref_rep = run.predict(DEMO_BED, key=key, input=inp, seed=0, device="cpu")
        out, rep, table = run.predict(demo_vcf, key=key, input=inp, seed=0, device="cpu",
                                      read_options=ReadOptions(), variant_table=True)
        assert len(out) == 1485
        assert out["FID"].tolist() == ref["FID"].tolist() and out["IID"].tolist() == ref["IID"].tolist()
        np.testing.assert_allclose(out["case_score"], ref["case_score"], rtol=0, atol=1e-6)
        assert out["prediction"].tolist() == ref["prediction"].tolist()
        n = rep.n_expected
        assert n == ref_rep.n_expected and rep.n_matched == n and rep.n_imputed_variants == 0
        assert rep.n_missing == rep.n_allele_mismatch == rep.n_flipped == rep.n_strand_flipped == 0
        assert rep.matched_by == "id" and rep.n_samples == 1485
        assert rep.lines()[0] == f"{n:,} of {n:,} variants matched by chrom:pos:alleles."
        assert len(table) == n and (table["new_index"] >= 0).all()
        assert set(table["status"]) <= {"same", "ambiguous"}
        assert (table["status"] == "ambiguous").sum() == rep.n_ambiguous
    # an opened handle; strand-ambiguous SNPs dropped are imputed and counted
    with open_genotypes(demo_vcf) as g:
        out2, rep2, table2 = run.predict(g, key="logreg", input="Gene-PCA", seed=0, device="cpu",
                                         ambiguous="drop", variant_table=True)
    assert rep2.n_ambiguous > 0 and rep2.n_ambiguous_dropped == rep2.n_ambiguous
    assert rep2.n_matched == rep2.n_expected - rep2.n_ambiguous
    assert (table2["status"] == "ambiguous_dropped").sum() == rep2.n_ambiguous
    assert any("strand-ambiguous" in line and "dropped" in line for line in rep2.lines())
    assert out2["IID"].tolist() == out["IID"].tolist() and np.isfinite(out2["case_score"]).all()


def test_runs_page_predicts_from_a_vcf_with_the_harmonisation_report(trained_app, demo_vcf):
    at = AppTest.from_file(RUNS_PAGE, default_timeout=300)
    at.run()
    _ok(at)
    at.text_input(key="predict_path").input(str(demo_vcf)).run()
    _ok(at)
    assert any(e.proto.label.startswith("Reading the VCF file") for e in at.expander)
    models = at.selectbox(key="predict_model")
    models.set_value(next(i for i, o in enumerate(models.options) if o.startswith("Logistic regression")))
    assert at.radio(key="predict_ambiguous").value == "keep"
    at.button(key="predict").click().run()
    _ok(at)
    msg = [s.value for s in at.success if "individuals scored" in s.value]
    assert msg and msg[0].startswith("1,485 individuals scored")
    found = re.search(r"Variants: ([\d,]+) of ([\d,]+) found by id", msg[0])
    assert found and found.group(1) == found.group(2)
    info = [i.value for i in at.info if "Harmonisation" in i.value]
    assert info and f"{found.group(1)} of {found.group(2)} variants matched by chrom:pos:alleles" in info[0]
    assert "missing calls of matched variants" in info[0]
    assert not [w for w in at.warning if "imputed" in w.value]  # well under 5 % imputed
    assert any(e.proto.label.startswith("Genotype file: VCF") for e in at.expander)
    assert any("harmonisation.csv" in b.proto.label for b in at.get("download_button"))
    # dropping the strand-ambiguous SNPs is said in the report
    at.radio(key="predict_ambiguous").set_value("drop")
    at.button(key="predict").click().run()
    _ok(at)
    reports = [m.value for m in (*at.info, *at.warning) if "strand-ambiguous" in m.value]
    assert reports and "dropped" in reports[0]


def test_stop_button_ends_training_and_keeps_the_best_model(tmp_path, monkeypatch):
    monkeypatch.setenv("GENOAPP_RUNS_DIR", str(tmp_path))
    at = _train_page()
    # presets and model sets fill the form
    at.radio(key="preset").set_value("paper").run()
    assert at.number_input(key="epochs").value == 30 and at.number_input(key="n_seeds").value == 5
    assert at.selectbox(key="validation").value == "cv" and at.number_input(key="ada_trees").value == 1000
    assert at.multiselect(key="models").value == ["capsule", "logreg"]  # the quick set by default
    assert at.checkbox(key="compare_all_pca").value is False
    at.selectbox(key="model_set").set_value("all").run()
    assert len(at.multiselect(key="models").value) == 9 and at.checkbox(key="compare_all_pca").value
    at.selectbox(key="model_set").set_value("quick").run()
    assert at.multiselect(key="models").value == ["capsule", "logreg"]
    at.radio(key="preset").set_value("quick").run()
    assert at.number_input(key="epochs").value == 30 and at.number_input(key="n_seeds").value == 3
    _configure(at, ["mlp", "logreg"], seeds=1, mlp_epochs=500)
    at.button(key="train").click().run()
    _ok(at)
    job = at.session_state[JOB]
    assert job.running
    import time

    t0 = time.time()  # stop once the MLP has trained an epoch (not before any model began)
    while not len(job.snapshot()["epochs"]) and time.time() - t0 < 120:
        time.sleep(0.2)
    at.button(key="stop_training").click().run()  # the live panel's Stop button
    assert job.join(120), "the stop was not honoured"
    at.run()
    _ok(at)
    assert job.status == "stopped"
    assert any("stopped" in w.value for w in at.warning)
    m = at.session_state["genoapp_train"]["result"].metrics
    assert list(m["key"]) == ["mlp"] and bool(m.loc[0, "stopped"])  # logistic regression skipped
    assert m.loc[0, "epochs"] < 500
