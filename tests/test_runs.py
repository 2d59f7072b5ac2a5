"""Saved runs: atomic run directories, identical predictions after reloading, new individuals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genoapp.errors import InputDataError
from genoapp.features import FeatureConfig, build_features
from genoapp.io import write_plink
from genoapp.runs import array_sha256, list_runs, match_variants, open_run, save_casecontrol
from genoapp.train import make_split
from genoapp.workflows import QCWorkflowResult
from genoapp.workflows.casecontrol import compare_models
from genoapp.workflows.protocol import ProtocolConfig, case_scores


def _qc_like(G, variants, samples, split):
    """The parts of a QC result that saving a case/control run reads."""
    qc = QCWorkflowResult.__new__(QCWorkflowResult)
    qc.G, qc.variants, qc.samples, qc.split = G, variants, samples, split
    qc.summary = lambda: pd.DataFrame()
    return qc

MODELS = ["capsule", "mlp", "cnn", "logreg", "rf", "prs", "authors_prs"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(11)
    n, m = 180, 120
    freq = rng.uniform(0.1, 0.5, size=m)
    G = rng.binomial(2, freq, size=(n, m)).astype(np.float32)
    y = ((G[:, 5] + G[:, 40] - G[:, 90] + rng.normal(scale=0.8, size=n)) > 0.6).astype(int)
    G[rng.random(G.shape) < 0.02] = np.nan
    variants = pd.DataFrame({
        "chrom": np.repeat(["1", "2"], m // 2), "id": [f"rs{i}" for i in range(m)], "cM": 0.0,
        "pos": np.tile(np.arange(m // 2) * 5_000 + 100, 2), "A1": "A", "A2": "G"})
    samples = pd.DataFrame({"FID": [f"f{i}" for i in range(n)], "IID": [f"i{i}" for i in range(n)]})
    split = make_split(y, test_size=0.2, random_state=0)
    fs = build_features(G, variants, split, config=FeatureConfig(kind="windows", window_snps=10))
    fs_all = build_features(G, variants, split, config=FeatureConfig(kind="windows", window_snps=10,
                                                                     method="all_pca", n_components=20))
    inputs = {"Windows-PCA": fs, "All-PCA": fs_all}
    cfg = ProtocolConfig(seeds=(0,), n_folds=3, validation="holdout", device="cpu")
    res = compare_models(inputs, split, snps=G, models=MODELS, config=cfg,
                         overrides={"capsule": {"epochs": 1, "device": "cpu"},
                                    "mlp": {"epochs": 2, "device": "cpu"},
                                    "cnn": {"epochs": 1, "device": "cpu"},
                                    "rf": {"n_estimators": 10}})
    root = tmp_path_factory.mktemp("runs")
    path = save_casecontrol(res, inputs, _qc_like(G, variants, samples, split), runs_dir=root,
                            label="unit test")
    return {"G": G, "y": y, "variants": variants, "samples": samples, "split": split, "fs": fs,
            "inputs": inputs, "res": res, "root": root, "path": path}


def test_run_directory_record_and_listing(trained):
    root, path, res, fs = trained["root"], trained["path"], trained["res"], trained["fs"]
    runs = list_runs(root)
    n_models = 2 * (len(MODELS) - 2) + 2  # feature models on both inputs, PRS models on SNPs
    assert len(runs) == 1 and runs.loc[0, "path"] == str(path) and runs.loc[0, "n_models"] == n_models
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    rec = json.loads((path / "run.json").read_text())
    assert rec["seeds"] == [0] and rec["devices"] == ["cpu"] and rec["label"] == "unit test"
    assert {"python", "numpy", "torch", "scikit-learn", "genoapp"} <= set(rec["versions"])
    assert rec["inputs"]["Windows-PCA"]["sha256"] == array_sha256(fs.X)
    assert rec["inputs"]["SNPs"]["sha256"] == array_sha256(trained["G"])
    assert rec["labels_sha256"] == array_sha256(trained["split"].y)
    assert rec["split"] == {"n_train": len(trained["split"].train_idx), "n_test": len(trained["split"].test_idx),
                            "test_idx_sha256": array_sha256(trained["split"].test_idx)}
    assert rec["inputs"]["All-PCA"]["shape"] == [len(trained["y"]), 20]
    files = {m["key"]: m["file"] for m in rec["models"]}
    assert files["capsule"].endswith(".pt") and files["mlp"].endswith(".pt") and files["cnn"].endswith(".pt")
    assert files["logreg"].endswith(".joblib") and files["prs"].endswith(".joblib")
    assert (path / "config.json").is_file() and (path / "preprocess" / "windows-pca.joblib").is_file()
    assert (path / "preprocess" / "all-pca.joblib").is_file()
    run = open_run(path)
    pd.testing.assert_frame_equal(run.metrics.drop(columns=["best_params", "val_score"]),
                                  res.metrics.drop(columns=["best_params", "val_score"]),
                                  check_dtype=False, check_exact=False)
    assert set(run.samples["set"]) == {"training", "test"}


def test_saved_run_reloads_with_identical_predictions(trained):
    run = open_run(trained["path"])
    split, G = trained["split"], trained["G"]
    for k, est in trained["res"].estimators.items():
        key, inp, seed = k.key, k.input, k.seed
        model = run.load_model(key, inp, seed, device="cpu")
        X = trained["inputs"][inp].X if inp != "SNPs" else G
        if inp != "SNPs":  # the saved QC list, imputation and projection rebuild the features
            # (float32 rounding of a different summation order: ~1 ulp)
            np.testing.assert_allclose(run.projector(inp).transform(G), X, rtol=1e-5, atol=1e-5)
        got = case_scores(model, X[split.test_idx])
        np.testing.assert_array_equal(got, case_scores(est, X[split.test_idx]), err_msg=key)
        np.testing.assert_array_equal(got, run.scores(key, inp, seed)["score"].to_numpy(), err_msg=key)
        np.testing.assert_array_equal(model.predict(X[split.test_idx]),
                                      run.scores(key, inp, seed)["prediction"].to_numpy())


def test_predict_new_individuals_with_shuffled_swapped_and_missing_variants(trained, tmp_path):
    G, variants, split = trained["G"], trained["variants"], trained["split"]
    run = open_run(trained["path"])
    rows = split.test_idx[:20]
    rng = np.random.default_rng(5)
    order = rng.permutation(len(variants))
    new_v = variants.iloc[order].reset_index(drop=True).copy()
    new_G = G[np.ix_(rows, order)].copy()
    swap = rng.random(len(new_v)) < 0.5  # the new file counts the other allele
    new_v.loc[swap, ["A1", "A2"]] = new_v.loc[swap, ["A2", "A1"]].to_numpy()
    new_G[:, swap] = 2.0 - new_G[:, swap]
    extra = pd.DataFrame({"chrom": "3", "id": ["x1", "x2"], "cM": 0.0, "pos": [1, 2], "A1": "C", "A2": "T"})
    new_v = pd.concat([new_v, extra], ignore_index=True)
    new_G = np.column_stack([new_G, np.zeros((len(rows), 2), dtype=np.float32)])
    fam = pd.DataFrame({"FID": [f"n{i}" for i in range(len(rows))], "IID": [f"n{i}" for i in range(len(rows))]})
    prefix = write_plink(tmp_path / "new", new_G, samples=fam, variants=new_v)
    for key, inp in (("capsule", "Windows-PCA"), ("logreg", "Windows-PCA"), ("mlp", "All-PCA"),
                     ("prs", "SNPs")):
        out, rep = run.predict(prefix, key=key, input=inp, seed=0, device="cpu")
        assert rep.n_matched == len(variants) and rep.n_flipped == int(swap.sum()) and rep.n_missing == 0
        est = trained["res"].estimator(key, inp, seed=0)
        X = trained["inputs"][inp].X[rows] if inp != "SNPs" else G[rows]
        np.testing.assert_allclose(out["case_score"], case_scores(est, X), rtol=1e-5, atol=1e-6)
        assert out["IID"].tolist() == fam["IID"].tolist() and set(out["prediction"]) <= {0, 1}
    # variants absent or with other alleles are imputed with the training means and counted
    keep = np.ones(len(new_v), dtype=bool)
    keep[:10] = False
    v2 = new_v[keep].reset_index(drop=True).copy()
    v2.loc[0:2, "A1"] = "T"
    prefix2 = write_plink(tmp_path / "new2", new_G[:, keep], samples=fam, variants=v2)
    out2, rep2 = run.predict(prefix2, key="logreg", input="Windows-PCA", seed=0, device="cpu")
    assert rep2.n_missing == 10 and rep2.n_allele_mismatch == 3
    assert rep2.n_matched == len(variants) - 13 and np.isfinite(out2["case_score"]).all()
    # a fileset from another panel is refused with a readable message
    other = variants.assign(id=[f"zz{i}" for i in range(len(variants))], chrom="9")
    prefix3 = write_plink(tmp_path / "other", G[rows], samples=fam, variants=other)
    with pytest.raises(InputDataError, match="variants were found"):
        run.predict(prefix3, key="logreg", input="Windows-PCA", seed=0)


def test_match_variants_by_position_when_ids_are_missing():
    saved = pd.DataFrame({"chrom": ["1", "1", "2"], "id": ".", "pos": [10, 20, 10], "A1": ["A", "C", "G"],
                          "A2": ["G", "T", "A"]})
    new = pd.DataFrame({"chrom": ["2", "1", "1"], "id": ".", "pos": [10, 20, 30], "A1": ["A", "C", "A"],
                        "A2": ["G", "T", "G"]})
    idx, flip, rep = match_variants(saved, new)
    assert idx.tolist() == [-1, 1, 0] and flip.tolist() == [False, False, True]
    assert rep.matched_by == "chrom:pos" and rep.n_missing == 1 and rep.n_flipped == 1


def test_predict_reads_a_vcf_and_returns_the_harmonisation_table(trained, tmp_path, plink2):
    import subprocess

    from genoapp.errors import ConfigError
    from genoapp.runs import VariantMatch, harmonise_variants  # exported beside Run

    G, variants, split = trained["G"], trained["variants"], trained["split"]
    run = open_run(trained["path"])
    rows = split.test_idx[:15]
    new_v = variants.copy()
    swap = np.random.default_rng(3).random(len(new_v)) < 0.5  # the new file counts the other allele
    new_v.loc[swap, ["A1", "A2"]] = new_v.loc[swap, ["A2", "A1"]].to_numpy()
    new_G = G[rows].copy()
    new_G[:, swap] = 2.0 - new_G[:, swap]
    fam = pd.DataFrame({"FID": [f"n{i}" for i in range(len(rows))], "IID": [f"n{i}" for i in range(len(rows))]})
    prefix = write_plink(tmp_path / "new", new_G, samples=fam, variants=new_v)
    subprocess.run([plink2, "--bfile", str(prefix), "--export", "vcf", "bgz", "id-paste=iid",
                    "--threads", "1", "--out", str(tmp_path / "new")], check=True, capture_output=True)
    ref, _ = run.predict(prefix, key="logreg", input="Windows-PCA", seed=0, device="cpu")
    out, rep, table = run.predict(tmp_path / "new.vcf.gz", key="logreg", input="Windows-PCA", seed=0,
                                  device="cpu", variant_table=True)
    assert out["IID"].tolist() == ref["IID"].tolist() == fam["IID"].tolist()
    np.testing.assert_allclose(out["case_score"], ref["case_score"], rtol=0, atol=1e-6)
    assert rep.n_matched == len(variants) and rep.n_flipped == int(swap.sum()) and rep.n_missing == 0
    assert table["status"].tolist() == np.where(swap, "swapped", "same").tolist()
    assert table["flip"].tolist() == swap.tolist() and (table["matched_by"] == "chrom:pos:alleles").all()
    assert isinstance(harmonise_variants(variants, new_v), VariantMatch)
    with pytest.raises(ConfigError, match="ambiguous"):
        run.predict(prefix, key="logreg", input="Windows-PCA", seed=0, ambiguous="flip")


def test_failed_save_leaves_no_run_and_bad_dirs_are_refused(trained, tmp_path, monkeypatch):
    import joblib

    real_dump = joblib.dump

    def failing(obj, path, *a, **k):
        if "preprocess" in str(path):
            raise OSError("disk full")
        return real_dump(obj, path, *a, **k)

    monkeypatch.setattr(joblib, "dump", failing)
    with pytest.raises(OSError, match="disk full"):
        save_casecontrol(trained["res"], trained["inputs"],
                         _qc_like(trained["G"], trained["variants"], trained["samples"], trained["split"]),
                         runs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == [] and list_runs(tmp_path).empty
    with pytest.raises(InputDataError, match="not a genoapp run"):
        open_run(tmp_path)


def test_html_report_is_self_contained_with_every_figure_and_the_methods(trained, tmp_path):
    from genoapp.report import methods_paragraph, run_report_html

    run = open_run(trained["path"])
    page = run_report_html(run)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # no external resource: plotly.js is inlined once; no <script src>, <link href> or <img src>
    import re

    assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=", page, flags=re.I)
    assert page.count("window.PlotlyConfig") == 1  # the library's preamble appears once
    assert page.count("plotly-graph-div") >= 2 + 3 * 2 + 1  # comparisons, ROC/PR/CM per input, folds
    methods = methods_paragraph(run.record)
    n_train, n_test = len(trained["split"].train_idx), len(trained["split"].test_idx)
    assert f"{n_test:,} samples was set aside" in methods and f"{n_train:,} training samples" in methods
    assert run.record["versions"]["torch"] in methods and "DiseaseCapsule" in methods
    assert "grouped by windows of 10 SNPs" in methods and "fitted on training samples only" in methods
    for name in ("DiseaseCapsule", "Logistic regression", "Random forest"):
        assert name in page
    # every figure renders in a real browser with the network blocked
    import shutil

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    out.write_text(page, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        ctx = browser.new_context(offline=True)
        tab = ctx.new_page()
        requests = []
        tab.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        tab.goto(out.as_uri())
        tab.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length > 0")
        n_divs = tab.locator(".plotly-graph-div").count()
        n_drawn = tab.evaluate("[...document.querySelectorAll('.plotly-graph-div')]"
                               ".filter(d => d.querySelector('.main-svg')).length")
        with tab.expect_download() as dl:
            tab.get_by_role("button", name="SVG").first.click()
        svg_path = tmp_path / dl.value.suggested_filename
        dl.value.save_as(svg_path)
        browser.close()
    assert svg_path.suffix == ".svg" and "<svg" in svg_path.read_text()[:500]
    assert n_divs == page.count('class="plotly-graph-div"') and n_drawn == n_divs and not requests
    assert page.count("format:'svg'") == n_divs and page.count("format:'png'") == n_divs


def test_bundle_round_trip_gives_identical_tables_and_predictions(trained, tmp_path):
    import io
    import zipfile

    from genoapp.runs import load_bundle, make_bundle

    data = make_bundle(trained["path"])
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    run_id = trained["path"].name
    assert f"{run_id}/run.json" in names and f"{run_id}/report.html" in names
    assert any(n.startswith(f"{run_id}/models/") for n in names)
    other = tmp_path / "elsewhere"
    path = load_bundle(data, other)
    assert path == other / run_id and not [p for p in other.iterdir() if p.name.startswith(".")]
    a, b = open_run(trained["path"]), open_run(path)
    for table in ("metrics", "summary", "fold_metrics", "predictions", "histories", "samples"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table), obj=table)
    assert a.record == b.record
    split = trained["split"]
    for key, inp in [("capsule", "Windows-PCA"), ("logreg", "All-PCA"), ("prs", "SNPs")]:
        X = trained["inputs"][inp].X if inp != "SNPs" else trained["G"]
        np.testing.assert_array_equal(
            case_scores(b.load_model(key, inp, 0, device="cpu"), X[split.test_idx]),
            a.scores(key, inp, 0)["score"].to_numpy())
    assert load_bundle(data, other) == other / f"{run_id}-2"  # a second copy does not overwrite


def test_bad_bundles_are_refused_with_readable_errors(tmp_path):
    import io
    import zipfile

    from genoapp.runs import load_bundle

    with pytest.raises(InputDataError, match="not a zip file"):
        load_bundle(b"not a zip", tmp_path)

    def zipped(files: dict) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, text in files.items():
                zf.writestr(name, text)
        return buf.getvalue()

    with pytest.raises(InputDataError, match="unsafe"):
        load_bundle(zipped({"run/../../evil.txt": "x", "run/run.json": "{}"}), tmp_path)
    with pytest.raises(InputDataError, match="one run folder"):
        load_bundle(zipped({"a/run.json": "{}", "b/run.json": "{}"}), tmp_path)
    with pytest.raises(InputDataError, match="not a genoapp run record"):
        load_bundle(zipped({"run/run.json": json.dumps({"format": "other"})}), tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written
