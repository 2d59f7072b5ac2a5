"""Real-browser test: Playwright drives Debian's chromium through the demo path of the app.

Starts ``streamlit run app.py`` on a free loopback port, walks Data -> QC -> Features -> Train
-> Capsule insights with a short training run, checks that both coupling heatmaps render and
saves a screenshot (``test-artifacts/insights.png``). Skipped only where chromium is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium; .ci/run does)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """Where the app under test saves its runs (not the user's ~/genoapp_runs)."""
    return tmp_path_factory.mktemp("browser_runs")


@pytest.fixture(scope="module")
def server(runs_dir):
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GENOAPP_RUNS_DIR": str(runs_dir)}
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    log = open(artifacts / "streamlit.log", "w")  # noqa: SIM115 (closed in teardown)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("streamlit did not become healthy within 90 s; see test-artifacts/streamlit.log")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_demo_path_in_a_real_browser(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage", "--disable-quic"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        timeout_ms = int(os.environ.get("GENOAPP_BROWSER_TIMEOUT_MS", "180000"))
        page.set_default_timeout(timeout_ms)
        expect.set_options(timeout=timeout_ms)
        out = REPO / "test-artifacts"
        out.mkdir(exist_ok=True)
        t0 = time.perf_counter()
        try:
            _walk(page, server, expect)
        except Exception:
            page.screenshot(path=str(out / "failure.png"), full_page=True)
            raise
        seconds = time.perf_counter() - t0
        page.screenshot(path=str(out / "insights.png"), full_page=True)
        browser.close()
    (out / "demo_path_seconds.txt").write_text(f"{seconds:.1f}\n")
    print(f"demo path in the browser: {seconds:.1f} s")
    assert (out / "insights.png").stat().st_size > 10_000


def _nav(page, name):
    """Click a page in the sidebar navigation."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()


def _walk(page, server, expect):
    page.goto(server)
    expect(page.get_by_role("heading", name="Data")).to_be_visible()
    expect(page.get_by_text("samples with a phenotype")).to_be_visible()

    _nav(page, "QC")
    page.get_by_role("button", name="Run QC").click()
    expect(page.get_by_text("Kept 1,485 samples")).to_be_visible()
    page.screenshot(path=str(REPO / "test-artifacts" / "qc.png"), full_page=True)

    _nav(page, "Features")
    page.get_by_role("button", name="Build features").click()
    expect(page.get_by_text("Features (PCs)")).to_be_visible()

    _nav(page, "Train")
    # a short run by default; GENOAPP_BROWSER_EPOCHS=default keeps the app's defaults (30 epochs)
    n_epochs = os.environ.get("GENOAPP_BROWSER_EPOCHS", "2")
    if n_epochs != "default":
        epochs = page.get_by_label("Epochs", exact=True)
        epochs.fill(n_epochs)
        epochs.press("Tab")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_role("heading", name="Test-set metrics")).to_be_visible()

    _nav(page, "Capsule insights")
    # interpretation is computed against permuted-label networks, on request (one reference here)
    expect(page.get_by_role("heading", name="Against permuted labels")).to_be_visible()
    refs = page.get_by_label("Permuted-label networks", exact=True)
    refs.fill("1")
    refs.press("Tab")
    page.get_by_role("button", name=re.compile(r"^Run against permuted labels")).click()
    expect(page.get_by_text("Coupling coefficients.", exact=False).first).to_be_visible()
    titles = page.locator(".js-plotly-plot .gtitle")  # plotly draws the titles as SVG text
    expect(titles.nth(0)).to_contain_text("Coupling against permuted-label networks")
    expect(titles.nth(1)).to_contain_text("Gene scan against permuted-label networks")


def test_run_bundle_loads_in_a_fresh_session_with_identical_tables(server, runs_dir, tmp_path):
    """Download the bundle of the run saved by the demo-path test, then load it in a new browser
    session into an empty runs folder through the Runs page's uploader."""
    from playwright.sync_api import expect, sync_playwright

    from genoapp.runs import list_runs, open_run

    runs = list_runs(runs_dir)
    if runs.empty:
        pytest.skip("no saved run: the demo-path test did not run first")
    original = open_run(runs.loc[0, "path"])
    empty = tmp_path / "fresh_runs"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        timeout_ms = int(os.environ.get("GENOAPP_BROWSER_TIMEOUT_MS", "180000"))
        expect.set_options(timeout=timeout_ms)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.set_default_timeout(timeout_ms)
        page.goto(server)
        _nav(page, "Runs")
        page.get_by_role("button", name="Prepare the run bundle").click()
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download the run bundle").click()
        bundle = tmp_path / dl.value.suggested_filename
        dl.value.save_as(bundle)

        fresh = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()  # new session
        fresh.set_default_timeout(timeout_ms)
        fresh.goto(server)
        _nav(fresh, "Runs")
        folder = fresh.get_by_label("Runs folder")
        folder.fill(str(empty))
        folder.press("Enter")
        expect(fresh.get_by_text("No saved run")).to_be_visible()
        fresh.get_by_text("Load a run bundle").click()
        fresh.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bundle))
        fresh.get_by_role("button", name="Load the bundle").click()
        expect(fresh.get_by_text("Loaded run")).to_be_visible()
        expect(fresh.get_by_role("heading", name="Test-set comparison")).to_be_visible()
        fresh.screenshot(path=str(REPO / "test-artifacts" / "runs_bundle.png"), full_page=True)
        browser.close()
    assert bundle.suffix == ".zip"
    loaded = open_run(list_runs(empty).loc[0, "path"])
    for table in ("metrics", "summary", "predictions", "fold_metrics", "samples"):
        pd.testing.assert_frame_equal(getattr(original, table), getattr(loaded, table), obj=table)
