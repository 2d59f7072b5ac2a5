"""The app's demo path from a VCF.gz of the demo cohort gives the results of the .bed.

The demo cohort is exported with plink2 (``--export vcf bgz id-paste=iid``, so the sample IDs
match the phenotype table) into pytest's folder, an allowed data root of the tests. The Data page
loads it by path and as an upload; QC and Gene-PCA must then equal those of the built-in .bed
cohort.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from genoapp.demo import DEMO_BED, DEMO_COVAR, DEMO_PHENO
from genoapp.ui import uploads
from tests.test_app import APP, _build_features, _ok, _run_qc


@pytest.fixture(scope="module")
def demo_vcf(plink2, tmp_path_factory):
    out = tmp_path_factory.mktemp("vcf_demo")
    subprocess.run([plink2, "--bfile", str(DEMO_BED), "--export", "vcf", "bgz", "id-paste=iid",
                    "--out", str(out / "demo"), "--threads", "2"], check=True, capture_output=True)
    return out / "demo.vcf.gz"


def _pipeline(at: AppTest, *, genes: bool = False) -> dict:
    at = _run_qc(at)
    if genes:  # files from the server default to windows (any species); the demo to genes
        at.switch_page("pages/features.py").run()
        at.radio(key="feature_kind").set_value("genes")
        at.button(key="build_features").click().run()
        _ok(at)
    else:
        at = _build_features(at)
    qc = at.session_state["genoapp_qc"]
    fs = at.session_state["genoapp_features"]["features"]
    return {"G": qc["G"], "variants": qc["result"].variants["id"].tolist(),
            "samples": qc["samples"]["IID"].tolist(), "X": fs.X}


@pytest.fixture(scope="module")
def expected() -> dict:
    ref = AppTest.from_file(APP, default_timeout=300)
    ref.run()
    _ok(ref)
    return _pipeline(ref)


def _check_loaded_and_compare(at: AppTest, expected: dict) -> None:
    _ok(at)
    cohort = at.session_state["genoapp_cohort"]["cohort"]
    assert cohort.genotypes.read_report.n_variants == 14079
    assert cohort.n_samples == 1485
    text = "\n".join(str(e.value) for e in at.markdown)
    assert "14,079 biallelic variants kept" in text  # the read report on the page
    assert at.selectbox(key="phenotype").value == "disease"
    at.selectbox(key="batch_column").set_value("source").run()
    _ok(at)
    got = _pipeline(at, genes=True)
    assert got["samples"] == expected["samples"]
    assert got["variants"] == expected["variants"]
    np.testing.assert_array_equal(got["G"], expected["G"])
    np.testing.assert_allclose(got["X"], expected["X"], rtol=0, atol=1e-6)


def test_demo_from_a_vcf_gz_path_equals_the_bed(demo_vcf, expected):
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    _ok(at)
    at.radio(key="data_source").set_value("Files on the server").run()
    at.text_input(key="path_bed").input(str(demo_vcf)).run()
    at.text_input(key="path_pheno").input(str(DEMO_PHENO)).run()
    at.text_input(key="path_covar").input(str(DEMO_COVAR)).run()
    at.button(key="load_paths").click().run()
    _check_loaded_and_compare(at, expected)


def test_demo_from_a_vcf_gz_upload_equals_the_bed(demo_vcf, expected):
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    _ok(at)
    at.radio(key="data_source").set_value("Upload files").run()
    at.file_uploader(key="uploads").set_value([
        ("demo.vcf.gz", demo_vcf.read_bytes(), "application/gzip"),
        (DEMO_PHENO.name, DEMO_PHENO.read_bytes(), "text/tab-separated-values"),
        (DEMO_COVAR.name, DEMO_COVAR.read_bytes(), "text/tab-separated-values"),
    ]).run()
    _ok(at)
    at.selectbox(key="upload_pheno").set_value(DEMO_PHENO.name)
    at.selectbox(key="upload_covar").set_value(DEMO_COVAR.name)
    at.button(key="load_uploads").click().run()
    try:
        _check_loaded_and_compare(at, expected)
    finally:  # the AppTest session never "ends" for the sweeper: remove its upload folder here
        for folder in list(at.session_state["genoapp_upload_dirs"].values()):
            uploads.drop(folder)
