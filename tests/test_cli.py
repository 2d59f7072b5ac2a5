"""CLI (`python -m genoapp`): reproduces an app run from its saved config; report, bundle, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    at.selectbox(key="device").set_value("cpu")
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
    pd.testing.assert_frame_equal(a.test_scores, b.test_scores)
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
