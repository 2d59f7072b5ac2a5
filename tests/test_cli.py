"""CLI (`python -m genoapp`): reproduces an app run from its saved config; report, bundle, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from genoapp.runs import list_runs, open_run

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


def _cli(*args, cwd=REPO, env=None):
    return subprocess.run([sys.executable, "-m", "genoapp", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def app_run(tmp_path_factory):
    """A short run made in the app (DiseaseCapsule 1 epoch + logistic regression, one seed)."""
    runs = tmp_path_factory.mktemp("app_runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("GENOAPP_RUNS_DIR", str(runs))
    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    at.switch_page("pages/qc.py").run()
    at.button(key="run_qc").click().run()
    at.switch_page("pages/features.py").run()
    at.button(key="build_features").click().run()
    at.switch_page("pages/train.py").run()
    at.multiselect(key="models").set_value(["capsule", "logreg"])
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="n_seeds").set_value(1)
    at.selectbox(key="tuning").set_value("none")
    at.session_state["genoapp_device"] = "cpu"  # the sidebar setting
    at.button(key="train").click().run()
    assert not at.exception and not at.error
    assert at.session_state["genoapp_train_job"].join(600)
    at.run()
    mp.undo()
    (path,) = list_runs(runs)["path"]
    return Path(path)


def test_cli_reproduces_the_app_run_from_its_saved_config(app_run, tmp_path):
    rec = json.loads((app_run / "run.json").read_text())
    cfg = rec["pipeline_config"]
    assert cfg["data"] == {"source": "demo"} and cfg["train"]["models"] == ["capsule", "logreg"]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    out = _cli("run", "--config", app_run, "--runs-dir", tmp_path, "--report", tmp_path / "r.html", env=env)
    assert out.returncode == 0, out.stderr
    assert "Train" in out.stderr and "test accuracy" in out.stderr  # progress lines
    (new,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    a, b = open_run(app_run), open_run(new)
    cols = ["model", "input", "seed", "accuracy", "precision", "recall", "f1", "roc_auc"]
    pd.testing.assert_frame_equal(a.metrics[cols], b.metrics[cols])  # identical metrics
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    assert b.record["pipeline_config"] == cfg
    assert (tmp_path / "r.html").stat().st_size > 100_000


def test_cli_config_report_and_bundle(app_run, tmp_path):
    out = _cli("config", "--run", app_run)
    assert out.returncode == 0 and json.loads(out.stdout)["train"]["preset"] == "quick"
    out = _cli("config", "--preset", "paper", "-o", tmp_path / "paper.json")
    assert out.returncode == 0 and json.loads((tmp_path / "paper.json").read_text())["train"]["all_pca"]
    out = _cli("report", app_run, "-o", tmp_path / "report.html")
    assert out.returncode == 0 and "<!DOCTYPE html>" in (tmp_path / "report.html").read_text()[:50]
    out = _cli("bundle", app_run, "-o", tmp_path / "run.zip")
    assert out.returncode == 0 and (tmp_path / "run.zip").is_file()
    out = _cli("bundle", tmp_path / "run.zip", "--load", "--runs-dir", tmp_path / "other")
    assert out.returncode == 0
    pd.testing.assert_frame_equal(open_run(tmp_path / "other" / app_run.name).metrics, open_run(app_run).metrics)


def test_cli_errors_are_readable_with_exit_status_2(tmp_path):
    (tmp_path / "bad.json").write_text('{"data": {}}')
    out = _cli("run", "--config", tmp_path / "bad.json", "--runs-dir", tmp_path)
    assert out.returncode == 2 and "missing keys" in out.stderr and "Traceback" not in out.stderr
    out = _cli("run", "--config", tmp_path / "nope.json")
    assert out.returncode == 2 and "nope.json" in out.stderr
    cfg = {"data": {"source": "files", "bed": str(tmp_path / "missing")}, "selection": {"phenotype": "x"},
           "qc": {}, "features": {}, "train": {}}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    out = _cli("run", "--config", tmp_path / "c.json", "--runs-dir", tmp_path)
    assert out.returncode == 2 and "missing" in out.stderr and "Traceback" not in out.stderr


# ------------------------------------------------------------------ pre-flight data checks
# A dozen samples whose .bim has no physical map (every position 0) and one variant ID on two
# lines, and a phenotype table with an empty trait column: the CLI prints the Data page's data
# checks before the run starts, and the too-small test split of make_split reaches the user
# unchanged (CLI exit status 2; the QC page's error).


@pytest.fixture
def odd_fileset(tmp_path):
    from genoapp.io import write_plink

    rng = np.random.default_rng(0)
    n, m = 12, 40
    G = rng.binomial(2, 0.3, size=(n, m)).astype(np.float32)
    samples = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"I{i}" for i in range(n)]})
    ids = [f"rs{j}" for j in range(m)]
    ids[3] = ids[5] = "rs_dup"
    variants = pd.DataFrame({"chrom": "1", "id": ids, "pos": np.zeros(m, dtype=np.int64),
                             "A1": "A", "A2": "G"})
    prefix = write_plink(tmp_path / "odd", G, samples=samples, variants=variants)
    pheno = tmp_path / "odd.pheno.tsv"
    pd.DataFrame({"FID": samples["FID"], "IID": samples["IID"], "status": [0, 1] * (n // 2),
                  "empty": ["NA"] * n}).to_csv(pheno, sep="\t", index=False)
    return prefix, pheno


def _too_small_message(n_cases: int, n_controls: int, test_size: float = 0.1) -> str:
    from genoapp.errors import InputDataError
    from genoapp.train import make_split

    with pytest.raises(InputDataError) as info:
        make_split(np.r_[np.ones(n_cases), np.zeros(n_controls)], test_size=test_size)
    return str(info.value)


def test_cli_prints_data_checks_before_the_run(odd_fileset, tmp_path):
    prefix, pheno = odd_fileset
    cfg = {"data": {"source": "files", "bed": str(prefix), "phenotypes": str(pheno)},
           "selection": {"phenotype": "status"}, "qc": {}, "features": {}, "train": {}}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    out = _cli("run", "--config", tmp_path / "c.json", "--runs-dir", tmp_path / "runs", env=env)
    err = out.stderr
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 3, err
    assert "All 40 variants have base-pair position 0" in warnings[0]
    assert "1 variant IDs occur more than once in the .bim odd.bim" in warnings[1]
    assert "rs_dup (lines 4, 6)" in warnings[1]
    assert "Column 'empty'" in warnings[2] and "no value" in warnings[2]
    # printed before the run starts (the first progress line comes after them)
    assert err.index(warnings[-1]) < err.index("QC ")
    # a dozen samples: make_split's message, unchanged, exit status 2, no traceback
    assert out.returncode == 2 and "Traceback" not in err
    assert f"error: {_too_small_message(6, 6)}" in err
    # --quiet drops progress lines, not the warnings; the demo data needs no checks
    out = _cli("run", "--config", tmp_path / "c.json", "--runs-dir", tmp_path / "runs", "--quiet",
               "--bed", prefix, env=env)
    assert out.stderr.count("warning: ") == 3 and "QC " not in out.stderr
    from genoapp.__main__ import _data_check_warnings

    assert _data_check_warnings({"source": "demo"}) == []
    assert _data_check_warnings({"source": "files", "bed": str(tmp_path / "absent")}) == []


def test_data_page_checks_and_qc_page_too_small_message(odd_fileset):
    prefix, pheno = odd_fileset
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    at.radio(key="data_source").set_value("Files on the server").run()
    at.text_input(key="path_bed").input(str(prefix)).run()
    at.text_input(key="path_pheno").input(str(pheno)).run()
    at.button(key="load_paths").click().run()
    at.multiselect(key="sexes").set_value([0]).run()  # these samples are of unknown sex
    assert not at.exception and not at.error, [e.value for e in at.error]
    (checks,) = [e for e in at.expander if e.label.startswith("Data checks")]
    assert checks.label == "Data checks (3 warnings)"
    shown = [w.value for w in checks.warning]
    assert "All 40 variants have base-pair position 0" in shown[0]
    assert "rs_dup (lines 4, 6)" in shown[1] and "Column 'empty'" in shown[2]
    at.switch_page("pages/qc.py").run()
    at.button(key="run_qc").click().run()
    assert not at.exception
    assert at.error and at.error[0].value == f"Running QC: {_too_small_message(6, 6)}"


def test_cli_genotypes_takes_any_format_with_its_reading_options(monkeypatch, capsys):
    """--genotypes (alias --bed) and the VCF/BGEN reading options reach the run's data section."""
    import genoapp.runs
    from genoapp.__main__ import main

    seen = {}

    class _Result:
        def table(self):
            return pd.DataFrame({"model": ["x"]})

    def fake_run_pipeline(cfg, *, runs_dir=None, data_overrides=None, **kw):
        seen["overrides"] = data_overrides
        return Path("run_dir"), _Result()

    monkeypatch.setattr(genoapp.runs, "run_pipeline", fake_run_pipeline)
    status = main(["run", "--preset", "teaching-demo", "--genotypes", "cohort.vcf.gz",
                   "--pheno", "p.tsv", "--id-delimiter", "_", "--dosage", "DS",
                   "--multiallelic", "split", "--keep-filtered", "--min-qual", "20",
                   "--bgen-ref", "last", "--quiet"])
    assert status == 0
    o = seen["overrides"]
    assert o["bed"] == "cohort.vcf.gz" and o["source"] == "files"
    assert o["genotype_options"] == {"id_delimiter": "_", "dosage_field": "DS",
                                     "multiallelic": "split", "filter_pass": False,
                                     "min_qual": 20.0, "bgen_ref": "last"}
    # the options are those of genoapp.io.ReadOptions
    from genoapp.io import ReadOptions

    ReadOptions(**o["genotype_options"])
