"""Load test: concurrent browser sessions on one genoapp server, each with its own cohort.

One ``streamlit run app.py`` on a free loopback port (runs folder, data root and the server's
TMPDIR - hence its upload folders - in a fresh temporary folder; ``GENOAPP_MAX_TRAININGS``
trainings at once, default 1; ``OMP_WAIT_POLICY=PASSIVE``), one headless chromium (Debian's
``/usr/bin/chromium``) with one browser context per session, so every session is a separate
Streamlit session. First a warm-up session walks the whole path with its own cohort and is
closed (it imports every module a training needs: the memory baseline). Then every session,
concurrently (asyncio Playwright, one task per session):

1. Data: uploads its OWN small PLINK fileset (.bed/.bim/.fam, written with
   :func:`genoapp.io.write_plink`) and phenotype table (distinct cohort name, sample count and
   sample-ID prefix) through "Load another cohort" -> "Upload files" -> "Load uploaded files";
2. QC ("Run QC"), Features (windows of SNPs, the default for uploads: "Build features");
3. Train: logistic regression only, one seed (association filter ``--association``: "none" by
   default to keep ten queued trainings short, "nested" is the app default), then waits for
   "Test-set metrics", noting every half second whether its live panel says "queued" or running.

Measured meanwhile: ``/_stcore/health`` latency every 0.2 s from a separate thread (p50, p95,
max; a request without an answer within 5 s counts as a failure) and every 0.5 s the VmRSS and
CPU time of the server process and its children (``/proc``): ``baseline`` after the warm-up,
``peak`` over the whole run, ``mb_per_session = (peak - baseline) / sessions``; also the CPU
used by chromium (+ its driver and this script; memory as PSS) and by the whole machine (other
users included: the machine is shared).

Cross-talk checks (each failure counts 1 in ``cross_talk``; a session that does not finish
its steps within ``--budget``, or a run not saved, counts in ``incomplete`` instead):

- the Data page shows the session's own cohort name, sample and variant counts and selection
  size; the QC page and the sidebar describe its own cohort;
- no page text ever contains another session's cohort name (the warm-up's included), checked
  after every step;
- the run the Train page says it saved holds only the session's own samples (sample IDs carry a
  per-session prefix), as many as QC kept, split as the Train page says, and records the
  session's own uploaded file names; no two sessions point at the same run and the runs folder
  holds exactly one run per session;
- the run's ``run.log`` holds only its own training's lines: a logistic-regression training
  logs only from ``genoapp.workflows.protocol`` (one session alone: nothing else), so any other
  line (another session's run-time estimate, QC, feature build, upload sweep, error) or a second
  protocol start is another session's activity written into this run;
- after every session finished, the Data page of each session still shows its own cohort;
- upload folders (server TMPDIR): one private (0700) folder per session holding exactly that
  session's files.

Not counted, reported: how many sessions' sidebar still named the previous (demo) cohort right
after "Load uploaded files" (app.py draws the sidebar before the page loads the cohort).

Queueing: ``max_concurrent_trainings`` is the largest number of runs whose slot intervals
overlap (a job holds its slot while it trains and saves its run: interval = [first file of the
saved run - the run's ``seconds``, last file], less 0.25 s at the end); it must be <= ``GENOAPP_MAX_TRAININGS`` (else ``queue_violations``). The
browser view (sessions whose live panel said "running" in the same half-second poll; panels
refresh every second, so this can overstate by one) is ``max_running_seen_in_browser``;
``sessions_queued`` counts sessions whose panel was seen saying "queued".

Usage (repository root; 3-7 minutes on 2 shared cores, bounded by ``--budget`` + ~1 min)::

    flock -w 900 /tmp/genoapp_heavy.lock .venv/bin/python benchmarks/load_sessions.py \
        [--sessions 10] [--samples 200] [--snps 500] [--max-trainings 1] [--budget 400] \
        [--association none|nested] [--keep]

Prints one line per finished session, a table, the figures, and ends with ``RESULT {json}``.
Exit status 0 when every session finished and every check passed, else 1. The server (its own
process group) is always stopped; the temporary folder is kept (with the server log and a
screenshot + traceback per failed session) when something failed or with ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genoapp.io import write_plink  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
         "sierra", "tango"]


# ----------------------------------------------------------------------------- data
def cohort_name(i: int) -> str:
    """Distinct names, none a substring of another (``ldcoh03delta``)."""
    return f"ldcoh{i:02d}{WORDS[i % len(WORDS)]}"


def write_cohorts(folder: Path, n: int, n_samples: int, n_snps: int) -> list[dict]:
    """Write ``n`` small PLINK filesets + phenotype tables; each differs in name, size and IDs."""
    out = []
    for i in range(n):
        rng = np.random.default_rng(1000 + i)
        name = cohort_name(i)
        ns = n_samples + 3 * i  # distinct sample counts
        prefix_id = f"L{i:02d}S"
        maf = rng.uniform(0.1, 0.5, n_snps)
        G = rng.binomial(2, maf, size=(ns, n_snps)).astype(np.float32)
        # a few causal SNPs so that logistic regression has something to find
        beta = np.zeros(n_snps)
        beta[rng.choice(n_snps, 10, replace=False)] = rng.normal(0, 0.8, 10)
        score = (G - G.mean(0)) @ beta
        y = (score > np.median(score)).astype(int)
        flip = rng.random(ns) < 0.15
        y[flip] = 1 - y[flip]
        samples = pd.DataFrame({"FID": [f"F{i:02d}"] * ns,
                                "IID": [f"{prefix_id}{k:04d}" for k in range(ns)],
                                "sex": rng.integers(1, 3, ns)})
        chrom = np.repeat(np.arange(1, 3), -(-n_snps // 2))[:n_snps]
        pos = np.zeros(n_snps, dtype=np.int64)
        for c in (1, 2):
            m = chrom == c
            pos[m] = 1_000_000 + np.arange(m.sum()) * 2_000
        variants = pd.DataFrame({"chrom": chrom.astype(str), "id": [f"rs{i}_{j}" for j in range(n_snps)],
                                 "pos": pos, "A1": "A", "A2": "G"})
        write_plink(folder / name, G, samples=samples, variants=variants)
        pheno = folder / f"{name}.pheno.tsv"
        pd.DataFrame({"FID": samples["FID"], "IID": samples["IID"], "case": y}).to_csv(
            pheno, sep="\t", index=False)
        out.append({"i": i, "name": name, "n": ns, "m": n_snps, "id_prefix": prefix_id,
                    "files": [str(folder / f"{name}.{e}") for e in ("bed", "bim", "fam")] + [str(pheno)]})
    return out


# ----------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_once(url: str, timeout: float = 5.0) -> float | None:
    """Latency of one health request in ms, None when it failed."""
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=timeout) as r:
            ok = r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return None
    return (time.perf_counter() - t0) * 1000 if ok else None


def proc_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_usage(pid: int, exclude: int | None = None, *, pss: bool = False) -> tuple[float, dict, int]:
    """(memory in MB, CPU seconds per process, threads) of ``pid`` and its descendants (less
    the tree of ``exclude``). Memory: the sum of VmRSS, or of Pss with ``pss`` (shared pages
    split between the processes sharing them: right for chromium's many processes)."""
    kb, cpu, threads = 0, {}, 0
    tick = os.sysconf("SC_CLK_TCK")
    skip = set(proc_tree(exclude)) if exclude is not None else set()
    for p in proc_tree(pid):
        if p in skip:
            continue
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:") and not pss:
                        kb += int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads += int(line.split()[1])
            if pss:
                with open(f"/proc/{p}/smaps_rollup") as fh:
                    for line in fh:
                        if line.startswith("Pss:"):
                            kb += int(line.split()[1])
                            break
            with open(f"/proc/{p}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
                cpu[(p, f[19])] = (int(f[11]) + int(f[12])) / tick  # (pid, start time)
        except (OSError, IndexError, ValueError):
            continue
    return kb / 1024, cpu, threads


class CpuMeter:
    """CPU seconds of a changing set of processes: per process, the last reading minus the
    first, so that processes that end (chromium renderers) keep what they used."""

    def __init__(self):
        self.first: dict = {}
        self.last: dict = {}

    def add(self, cpu: dict) -> float:
        for k, v in cpu.items():
            self.first.setdefault(k, v)
            self.last[k] = v
        return sum(self.last[k] - self.first[k] for k in self.last)


def machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (``/proc/stat``), every process counted."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Monitor:
    """Health latency (every 0.2 s) and server RSS/CPU (every 0.5 s) in two threads."""

    def __init__(self, url: str, pid: int):
        self.url, self.pid = url, pid
        self.lat: list[float] = []
        self.fail = 0
        self.rss: list[tuple[float, float, float, int]] = []  # t, MB, cpu s, threads
        self.client: list[tuple[float, float, float, float]] = []  # t, MB, cpu s, machine busy s
        self._server_cpu, self._client_cpu = CpuMeter(), CpuMeter()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._health, daemon=True),
                         threading.Thread(target=self._memory, daemon=True)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def _health(self):
        while not self._stop.is_set():
            t0 = time.perf_counter()
            ms = health_once(self.url)
            if ms is None:
                self.fail += 1
            else:
                self.lat.append(ms)
            self._stop.wait(max(0.0, 0.2 - (time.perf_counter() - t0)))

    def _memory(self):
        while not self._stop.is_set():
            mb, cpu, th = tree_usage(self.pid)
            cmb, ccpu, _ = tree_usage(os.getpid(), exclude=self.pid, pss=True)  # script + chromium
            self.rss.append((time.time(), mb, self._server_cpu.add(cpu), th))
            self.client.append((time.time(), cmb, self._client_cpu.add(ccpu), machine_busy()))
            self._stop.wait(0.5)


def start_server(tmp: Path, port: int, max_trainings: int) -> subprocess.Popen:
    srv_tmp = tmp / "server_tmp"
    srv_tmp.mkdir()
    roots = os.pathsep.join(x for x in [str(tmp), os.environ.get("GENOAPP_DATA_ROOTS", "")] if x)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GENOAPP_RUNS_DIR": str(tmp / "runs"),
           "GENOAPP_MAX_TRAININGS": str(max_trainings), "GENOAPP_DATA_ROOTS": roots,
           "OMP_WAIT_POLICY": "PASSIVE", "TMPDIR": str(srv_tmp)}
    log = open(tmp / "streamlit.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # its own process group (start_new_session)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


# ----------------------------------------------------------------------------- browser side
class Session:
    def __init__(self, c: dict, names: list[str]):
        self.c = c
        self.others = [n for n in names if n != c["name"]]
        self.checks: list[tuple[str, bool, str]] = []
        self.steps: dict[str, float] = {}
        self.states: list[tuple[float, str]] = []  # (time, "queued"/"running"/"done")
        self.run_dir: str | None = None
        self.kept: int | None = None
        self.n_train: int | None = None
        self.n_test: int | None = None
        self.error = ""
        self.page = None
        self.sidebar_stale = False
        self.foreign_log: list[str] = []

    def check(self, what: str, ok: bool, detail: str = "", *, flow: bool = False) -> None:
        """Record a check: a cross-talk check, or with ``flow`` one that the session got
        through its steps (finished in time, trained the chosen model, saved a run)."""
        self.checks.append((what, bool(ok), detail, flow))

    @property
    def failures(self) -> list[tuple]:
        return [c for c in self.checks if not c[1]]

    @property
    def xtalk_failures(self) -> list[tuple]:
        return [c for c in self.checks if not c[1] and not c[3]]


ASSOCIATION = "none"  # the Train page's association filter (--association)
TITLES = {"Data": "Data", "QC": "Quality control", "Features": "Features", "Train": "Train"}


async def nav(page, name: str, tries: int = 4) -> None:
    """Click a page in the sidebar navigation and wait for its title (a click that lands while
    the previous page is still re-rendering can be lost under load: click again)."""
    from playwright.async_api import expect

    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
    title = page.get_by_test_id("stMain").get_by_role("heading", name=TITLES.get(name, name),
                                                     exact=True, level=1)
    for k in range(tries):
        await link.click()
        try:
            await expect(title).to_be_visible(timeout=30_000)
            return
        except AssertionError:
            if k == tries - 1:
                raise


async def settle(page, timeout: float = 120.0) -> None:
    """Wait until the script run of this session has finished (Streamlit's "Running..." status
    widget gone for half a second), so that no stale element of the previous run is read."""
    status = page.get_by_test_id("stStatusWidget")
    end = time.perf_counter() + timeout
    quiet = 0
    while quiet < 3 and time.perf_counter() < end:
        await asyncio.sleep(0.2)
        try:
            running = await status.count() and "Running" in (await status.first.inner_text(timeout=1000))
        except Exception:  # noqa: BLE001 - re-rendered meanwhile
            running = True
        quiet = 0 if running else quiet + 1


async def body_text(page) -> str:
    return await page.locator("body").inner_text(timeout=30_000)


async def no_foreign(s: Session, where: str) -> str:
    text = await body_text(s.page)
    seen = [o for o in s.others if o in text]
    s.check(f"no other cohort name on {where}", not seen, ", ".join(seen))
    return text


async def select_option(page, label: str, option: str, tries: int = 20) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label`` (retries while the option
    list is still being updated by a rerun)."""
    for _ in range(tries):
        box = page.get_by_label(label, exact=True)
        await box.click()
        opt = page.get_by_role("option", name=option, exact=True)
        try:
            await opt.click(timeout=3000)
            return
        except Exception:  # option not there yet: close the list and retry
            await page.keyboard.press("Escape")
            await asyncio.sleep(1.0)
    raise RuntimeError(f"option {option!r} never appeared in {label!r}")


async def drive(s: Session, context, url: str, expect, t_start: float, timeout_ms: int,
                train_timeout_s: float) -> None:
    c = s.c
    page = await context.new_page()
    s.page = page
    page.set_default_timeout(timeout_ms)
    t0 = time.perf_counter()

    def mark(step):
        s.steps[step] = time.perf_counter() - t0

    await page.goto(url)
    await expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    mark("open")

    # --- Data: upload its own cohort
    await page.get_by_text("Load another cohort").click()
    await page.get_by_text("Upload files", exact=True).click()
    await page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(c["files"])
    await select_option(page, "Phenotype table among the uploads", f"{c['name']}.pheno.tsv")
    await page.get_by_role("button", name="Load uploaded files").click()
    await expect(page.get_by_role("heading", name=c["name"], exact=True)).to_be_visible()
    await expect(page.get_by_text(f"Selection: {c['n']:,} samples with a phenotype")).to_be_visible()
    await settle(page)
    mark("data")
    text = await no_foreign(s, "Data")
    m = re.search(r"Samples\s+([\d,]+)", text)
    s.check("Data: own sample count", m is not None and int(m.group(1).replace(",", "")) == c["n"],
            m.group(1) if m else "no Samples metric")
    m = re.search(r"Variants\s+([\d,]+)", text)
    s.check("Data: own variant count", m is not None and int(m.group(1).replace(",", "")) == c["m"],
            m.group(1) if m else "no Variants metric")
    m = re.search(r"Selection: ([\d,]+) samples with a phenotype", text)
    s.check("Data: own selection size", m is not None and int(m.group(1).replace(",", "")) == c["n"],
            m.group(1) if m else "no selection line")
    # the sidebar is drawn by app.py before the page loads the cohort: right after loading it
    # may still name the previous (demo) cohort; noted, not counted (not another session's data)
    side = await page.get_by_test_id("stSidebar").inner_text()
    s.sidebar_stale = c["name"] not in side

    # --- QC
    await nav(page, "QC")
    main = page.get_by_test_id("stMain")
    await expect(main.get_by_text(f"{c['n']:,} samples × {c['m']:,} variants")).to_be_visible()
    await settle(page)
    side = await page.get_by_test_id("stSidebar").inner_text()
    s.check("sidebar (QC page): own cohort", c["name"] in side and f"{c['n']:,} samples" in side,
            side[side.find("Cohort:"):].split("Selection")[0].strip().replace("\n", " ")[:80])
    await page.get_by_role("button", name="Run QC").click()
    kept = page.get_by_text(re.compile(r"^Kept [\d,]+ samples"))
    await expect(kept).to_be_visible()
    m = re.search(r"Kept ([\d,]+) samples and ([\d,]+) variants", await kept.inner_text())
    s.kept = int(m.group(1).replace(",", "")) if m else None
    s.check("QC: kept <= own samples", s.kept is not None and 0 < s.kept <= c["n"], str(s.kept))
    await settle(page)
    mark("qc")
    await no_foreign(s, "QC")

    # --- Features (windows: the default for uploaded cohorts)
    await nav(page, "Features")
    await expect(page.get_by_role("button", name="Build features")).to_be_visible()
    await settle(page)
    await page.get_by_role("button", name="Build features").click()
    await expect(page.get_by_text("Features (PCs)")).to_be_visible()
    await settle(page)
    mark("features")
    await no_foreign(s, "Features")

    # --- Train: logistic regression only, one seed
    await nav(page, "Train")
    await expect(page.get_by_role("button", name="Train", exact=True)).to_be_visible()
    await settle(page)
    text = await body_text(page)
    m = re.search(r"([\d,]+) training samples \(([\d,]+) cases\) and ([\d,]+) balanced test", text)
    if m:
        s.n_train, s.n_test = int(m.group(1).replace(",", "")), int(m.group(3).replace(",", ""))
    s.check("Train: train + test = QC kept", m is not None and s.n_train + s.n_test == s.kept,
            f"{s.n_train}+{s.n_test} vs {s.kept}")
    models = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_label("Models", exact=True))
    remove = models.get_by_role("button", name="Remove DiseaseCapsule")
    while await remove.count():
        await remove.first.click()
        await asyncio.sleep(0.3)
    chips = [t.strip() for t in await models.locator("[data-tag]").all_inner_texts()]
    if ASSOCIATION == "none":
        await page.get_by_text("none: every SNP the QC page kept").click()
    seeds = page.get_by_label("Seeds", exact=True)
    await seeds.fill("1")
    await seeds.press("Tab")
    await page.get_by_role("button", name="Train", exact=True).click()
    mark("train_clicked")
    s.check("Train: models = logistic regression only",
            len(chips) == 1 and "ogistic" in chips[0], "; ".join(chips), flow=True)

    # wait for the result, noting the live panel's state every half second
    metrics = page.get_by_role("heading", name="Test-set metrics")
    progress = page.locator('[data-testid="stProgress"]')
    deadline = time.perf_counter() + train_timeout_s
    while True:
        if await metrics.count():
            s.states.append((time.time() - t_start, "done"))
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no training result after {train_timeout_s:.0f} s")
        try:
            if await progress.count():
                t = await progress.first.inner_text(timeout=1000)
                s.states.append((time.time() - t_start, "queued" if "queued" in t else "running"))
        except Exception:  # the panel re-rendered meanwhile
            pass
        await asyncio.sleep(0.5)
    await expect(metrics).to_be_visible()
    await expect(page.get_by_text("Saved run:")).to_be_visible()
    await settle(page)
    mark("trained")
    text = await no_foreign(s, "Train result")
    m = re.search(r"Saved run: (\S+)", text)
    s.run_dir = m.group(1).strip("`") if m else None
    s.check("Train: a saved run is named", s.run_dir is not None, "", flow=True)
    failed = "Training failed" in text
    s.check("Train: no failure", not failed, "Training failed" if failed else "", flow=True)


async def revisit_data(s: Session, expect) -> None:
    """After every session finished: the Data page still shows the session's own cohort."""
    page = s.page
    await nav(page, "Data")
    await expect(page.get_by_role("heading", name=s.c["name"], exact=True)).to_be_visible()
    await expect(page.get_by_text(f"Selection: {s.c['n']:,} samples with a phenotype")).to_be_visible()
    await settle(page)
    text = await no_foreign(s, "Data (after all runs)")
    m = re.search(r"Samples\s+([\d,]+)", text)
    s.check("Data (after all runs): own sample count",
            m is not None and int(m.group(1).replace(",", "")) == s.c["n"], m.group(1) if m else "")


def check_run(s: Session, runs_root: Path) -> dict | None:
    """The saved run holds this session's samples and files only."""
    if not s.run_dir:
        return None
    p = Path(s.run_dir)
    ok_place = p.is_dir() and p.resolve().parent == runs_root.resolve()
    s.check("run: inside the runs folder", ok_place, str(p))
    if not ok_place:
        return None
    rec = json.loads((p / "run.json").read_text())
    smp = pd.read_csv(p / "samples.csv", dtype=str)
    idcol = "IID" if "IID" in smp else smp.columns[0]
    own = smp[idcol].str.startswith(s.c["id_prefix"])
    s.check("run: only own sample IDs", bool(own.all()) and len(smp) > 0,
            f"{int((~own).sum())} foreign of {len(smp)}")
    s.check("run: as many samples as QC kept", len(smp) == s.kept, f"{len(smp)} vs {s.kept}")
    split = rec.get("split") or {}
    s.check("run: split as on the Train page",
            (split.get("n_train"), split.get("n_test")) == (s.n_train, s.n_test),
            f"{split.get('n_train')}+{split.get('n_test')}")
    uploaded = ((rec.get("pipeline_config") or {}).get("data") or {}).get("uploaded") or []
    want = sorted(Path(f).name for f in s.c["files"])
    s.check("run: records own uploaded files", sorted(uploaded) == want, ", ".join(uploaded))
    # run.log: the training thread of a logistic-regression run logs only from
    # genoapp.workflows.protocol (checked with a single session); any other line (another
    # session's estimate, QC, features, upload sweep, error) or a second protocol start is
    # another session's activity recorded in this run
    log_lines = (p / "run.log").read_text().splitlines() if (p / "run.log").exists() else []
    foreign, starts = [], 0
    for line in log_lines:
        m = re.match(r"^\S+ \S+ +[A-Z]+ +([\w.]+): (.*)$", line)
        if not m:
            continue
        if m.group(1) == "genoapp.workflows.protocol" and m.group(2).startswith("protocol: "):
            starts += 1
            if starts == 1:
                continue
        if m.group(1) != "genoapp.workflows.protocol" or starts > 1:
            foreign.append(line)
    s.foreign_log = foreign
    s.check("run.log: only this run's own lines", not foreign,
            f"{len(foreign)} of {len(log_lines)} lines from other sessions, e.g. "
            + (foreign[0][20:110] if foreign else ""))
    mt = {str(f.relative_to(p)): f.stat().st_mtime for f in p.rglob("*") if f.is_file()}
    first, last = min(mt.values()), max(mt.values())
    secs = float(rec.get("seconds", 0.0))
    return {"session": s.c["i"], "start": first - secs, "trained": first, "end": last,
            "seconds": secs, "save": last - first,
            "summary": mt.get("summary.csv", first) - mt.get("metrics.csv", first)}


def max_overlap(intervals: list[tuple[float, float]], tol: float = 0.25) -> int:
    """Largest number of intervals covering one instant (each shrunk by ``tol`` at its end, so
    that one run ending as the next starts does not count as two at once)."""
    ev = []
    for a, b in intervals:
        b = max(a, b - tol)
        ev += [(a, 1), (b, -1)]
    cur = best = 0
    for _, d in sorted(ev, key=lambda e: (e[0], e[1])):
        cur += d
        best = max(best, cur)
    return best


def browser_running_max(sessions: list[Session]) -> int:
    """Most sessions whose panel said 'running' in the same half-second poll window."""
    ev = []
    for s in sessions:
        for t, st in s.states:
            ev.append((round(t * 2) / 2, s.c["i"], st))
    by_t: dict[float, set] = {}
    for t, i, st in ev:
        if st == "running":
            by_t.setdefault(t, set()).add(i)
    return max((len(v) for v in by_t.values()), default=0)


async def run_sessions(args, url: str, cohorts: list[dict], warm_c: dict,
                       t_start: float) -> tuple[list[Session], dict]:
    from playwright.async_api import async_playwright, expect

    timeout_ms = 120_000
    expect.set_options(timeout=timeout_ms)
    names = [c["name"] for c in cohorts]
    sessions = [Session(c, names + [warm_c["name"]]) for c in cohorts]
    info = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            # warm-up: one throwaway session walks the whole path with its own cohort (imports
            # every module a training needs), then closes: the memory baseline. Its cohort name
            # stays in every session's list of names that must never show up.
            warm = Session(warm_c, names + [warm_c["name"]])
            info["warm"] = warm
            wctx = await browser.new_context(viewport={"width": 1280, "height": 900})
            try:
                await asyncio.wait_for(drive(warm, wctx, url, expect, t_start, timeout_ms,
                                             train_timeout_s=150), timeout=180)
            except BaseException as exc:  # noqa: BLE001 - the load test still runs
                warm.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
            await wctx.close()
            await asyncio.sleep(2.0)
            info["warm_done"] = time.time()
            print(f"[{time.time() - t_start:5.0f} s] warm-up session {warm.c['name']} "
                  f"{'FAILED: ' + warm.error if warm.error else 'done'}; starting "
                  f"{len(sessions)} sessions", flush=True)

            contexts = [await browser.new_context(viewport={"width": 1280, "height": 900})
                        for _ in sessions]
            remaining = args.budget - (time.time() - t_start) - 45  # leave time for the checks

            async def one(s, ctx):
                try:
                    await asyncio.wait_for(
                        drive(s, ctx, url, expect, t_start, timeout_ms, train_timeout_s=remaining),
                        timeout=remaining)
                    print(f"[{time.time() - t_start:5.0f} s] {s.c['name']} done", flush=True)
                except BaseException as exc:  # noqa: BLE001 - reported, never raised
                    lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
                    s.error = f"{type(exc).__name__}: {' | '.join(lines[:3])}"[:300]
                    print(f"[{time.time() - t_start:5.0f} s] {s.c['name']} FAILED: {s.error[:100]}",
                          flush=True)
                    with open(Path(args.tmp) / f"fail_{s.c['name']}.txt", "w") as fh:
                        fh.write("".join(traceback.format_exception(exc)))
                    s.check("session finished in time", False, s.error, flow=True)
                    if s.page is not None:
                        try:
                            await s.page.screenshot(path=str(Path(args.tmp) / f"fail_{s.c['name']}.png"),
                                                    full_page=True, timeout=10_000)
                        except Exception:  # noqa: BLE001
                            pass

            info["sessions_start"] = time.time()
            await asyncio.gather(*(one(s, ctx) for s, ctx in zip(sessions, contexts, strict=True)))
            info["sessions_end"] = time.time()

            async def again(s):
                if s.error:
                    return
                try:
                    await asyncio.wait_for(revisit_data(s, expect), timeout=40)
                except BaseException as exc:  # noqa: BLE001
                    s.check("Data (after all runs) shown", False, f"{type(exc).__name__}", flow=True)

            await asyncio.gather(*(again(s) for s in sessions))
            info["upload_dirs"] = upload_dir_check(Path(args.tmp) / "server_tmp", sessions,
                                                   ignore=[warm_c])
            for ctx in contexts:
                await ctx.close()
        finally:
            await browser.close()
    return sessions, info


def upload_dir_check(srv_tmp: Path, sessions: list[Session], ignore: list[dict]) -> dict:
    """One private folder per session holding exactly its own files (the closed warm-up
    session's folder, ``ignore``, may still be there: Streamlit keeps a closed session a while)."""
    skip = [sorted(Path(f).name for f in c["files"]) for c in ignore]
    dirs = [d for d in sorted(srv_tmp.glob("genoapp_cohort_*"))
            if sorted(f.name for f in d.iterdir()) not in skip]
    owners: dict[str, list[str]] = {}
    bad = []
    for d in dirs:
        mode = stat.S_IMODE(d.stat().st_mode)
        files = sorted(f.name for f in d.iterdir())
        match = [s for s in sessions if sorted(Path(f).name for f in s.c["files"]) == files]
        if mode != 0o700 or len(match) != 1:
            bad.append(f"{d.name}: mode {oct(mode)}, files {files}")
        else:
            owners.setdefault(match[0].c["name"], []).append(d.name)
    for s in sessions:
        if s.error:
            continue
        n = len(owners.get(s.c["name"], []))
        s.check("upload folder: exactly one, private, own files", n == 1, f"{n} folder(s)")
    return {"n_dirs": len(dirs), "bad": bad}


# ----------------------------------------------------------------------------- main
def _json_safe(o):
    """NaN/inf -> None (strict JSON)."""
    if isinstance(o, float) and not np.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _json_safe(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_json_safe(v) for v in o]
    return o


def pct(values, q):
    return float(np.percentile(values, q)) if len(values) else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--samples", type=int, default=200, help="samples of the first cohort (+3 per session)")
    ap.add_argument("--snps", type=int, default=500)
    ap.add_argument("--max-trainings", type=int, default=1, help="GENOAPP_MAX_TRAININGS of the server")
    ap.add_argument("--budget", type=float, default=400.0, help="seconds for the whole run")
    ap.add_argument("--association", choices=["nested", "none"], default="none",
                    help="Train page's association filter (none: fastest; nested: the app "
                         "default, ~2 s per training alone, far more under load)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (log, screenshots)")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    global ASSOCIATION
    ASSOCIATION = args.association
    if not Path(CHROMIUM).exists():
        print(f"chromium not found at {CHROMIUM}")
        return 2

    def _terminated(signum, frame):  # e.g. an outer `timeout`: still stop the server
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminated)
    t_start = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="genoapp_load_"))
    args.tmp = str(tmp)
    (tmp / "data").mkdir()
    cohorts = write_cohorts(tmp / "data", args.sessions + 1, args.samples, args.snps)
    warm_c, cohorts = cohorts[-1], cohorts[:-1]  # the last one is the warm-up session's
    print(f"{args.sessions} cohorts written to {tmp / 'data'} "
          f"({args.samples}-{args.samples + 3 * (args.sessions - 1)} samples x {args.snps} SNPs)")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(tmp, port, args.max_trainings)
    mon = None
    sessions: list[Session] = []
    info: dict = {}
    crashed = ""
    rss_startup = float("nan")
    try:
        deadline = time.time() + 90
        while time.time() < deadline and health_once(url, 2) is None:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}")
            time.sleep(0.5)
        else:
            if time.time() >= deadline:
                raise RuntimeError("streamlit not healthy within 90 s")
        rss_startup = tree_usage(proc.pid)[0]
        print(f"server pid {proc.pid} on {url}: healthy after {time.time() - t_start:.1f} s, "
              f"RSS {rss_startup:.0f} MB")
        mon = Monitor(url, proc.pid).start()
        sessions, info = asyncio.run(run_sessions(args, url, cohorts, warm_c, t_start))
    except BaseException as exc:  # noqa: BLE001 - report, stop the server, print RESULT
        crashed = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    finally:
        if mon is not None:
            mon.stop()
        stop_server(proc)

    # ---------------------------------------------------------------- figures
    runs_root = tmp / "runs"
    intervals = [iv for s in sessions if (iv := check_run(s, runs_root)) is not None]
    claimed = [s.run_dir for s in sessions if s.run_dir]
    dup = len(claimed) - len(set(claimed))
    warm = info.get("warm")
    warm_run = Path(warm.run_dir).name if warm is not None and warm.run_dir else None
    saved = sorted(d for d in runs_root.iterdir() if d.is_dir() and not d.name.startswith(".")
                   and d.name != warm_run) if runs_root.is_dir() else []
    ok_sessions = [s for s in sessions if not s.error]
    run_level, flow_level = [], []  # cross-talk / completion failures of the runs folder
    if dup:
        run_level.append(f"{dup} run folder(s) named by two sessions")
    named = {Path(s.run_dir).name for s in sessions if s.run_dir}
    stray = [d.name for d in saved if d.name not in named]
    finished_unnamed = [s for s in ok_sessions if not s.run_dir]
    if stray and not [s for s in sessions if s.error]:
        run_level.append(f"{len(stray)} saved run(s) no session names: {', '.join(stray)}")
    elif stray:  # a session that timed out may have saved its run after all
        flow_level.append(f"{len(stray)} saved run(s) of sessions that timed out")
    if finished_unnamed:
        flow_level.append(f"{len(finished_unnamed)} finished session(s) without a saved run")

    lat = mon.lat if mon else []
    rss = mon.rss if mon else []
    warm_t = info.get("warm_done")
    warm_rows = [r for r in rss if warm_t and r[0] <= warm_t]
    run_rows = [r for r in rss if info.get("sessions_start") and r[0] >= info["sessions_start"]]
    baseline = warm_rows[-1][1] if warm_rows else (rss[0][1] if rss else float("nan"))
    peak = max((r[1] for r in rss), default=float("nan"))
    n = max(len(sessions), 1)
    cpu_cores = client_cores = machine_cores = float("nan")
    if len(run_rows) >= 2:
        cpu_cores = (run_rows[-1][2] - run_rows[0][2]) / max(run_rows[-1][0] - run_rows[0][0], 1e-9)
    crow = [r for r in (mon.client if mon else []) if info.get("sessions_start") and r[0] >= info["sessions_start"]]
    client_peak = max((r[1] for r in (mon.client if mon else [])), default=float("nan"))
    if len(crow) >= 2:
        span = max(crow[-1][0] - crow[0][0], 1e-9)
        client_cores = (crow[-1][2] - crow[0][2]) / span
        machine_cores = (crow[-1][3] - crow[0][3]) / span
    peak_threads = max((r[3] for r in rss), default=0)
    # the slot is held from the start of training to the end of saving the run
    max_conc = max_overlap([(iv["start"], iv["end"]) for iv in intervals]) if intervals else 0
    unfinished = [d.name for d in runs_root.glob(".*.tmp")] if runs_root.is_dir() else []
    seen_running = browser_running_max(sessions)
    n_queued = sum(any(st == "queued" for _, st in s.states) for s in sessions)
    n_stale = sum(s.sidebar_stale for s in sessions)
    queue_violations = int(max_conc > args.max_trainings)

    cross_talk = sum(len(s.xtalk_failures) for s in sessions) + len(run_level) \
        + len(info.get("upload_dirs", {}).get("bad", []))
    incomplete = sum(len(s.failures) - len(s.xtalk_failures) for s in sessions) + len(flow_level)

    # ---------------------------------------------------------------- print
    print()
    hdr = (f"{'session':<20}{'n':>5}{'kept':>6}{'train':>6}{'test':>5}{'data s':>8}{'qc s':>7}"
           f"{'feat s':>8}{'done s':>8}{'queued':>8}{'checks':>9}  run / error")
    print(hdr)
    print("-" * len(hdr))
    for s in sessions:
        st = s.steps
        qd = sum(1 for _, x in s.states if x == "queued") * 0.5
        ok = sum(1 for c in s.checks if c[1])
        tail = Path(s.run_dir).name if s.run_dir else ""
        if s.error:
            tail = s.error
        print(f"{s.c['name']:<20}{s.c['n']:>5}{s.kept or 0:>6}{s.n_train or 0:>6}{s.n_test or 0:>5}"
              f"{st.get('data', float('nan')):>8.1f}{st.get('qc', float('nan')):>7.1f}"
              f"{st.get('features', float('nan')):>8.1f}{st.get('trained', float('nan')):>8.1f}"
              f"{qd:>7.1f}s{f'{ok}/{len(s.checks)}':>9}  {tail}")
    for s in sessions:
        for what, _, detail, flow in s.failures:
            print(f"  {'INCOMPLETE' if flow else 'CROSS-TALK'} {s.c['name']}: {what} ({detail})")
    for msg in run_level + info.get("upload_dirs", {}).get("bad", []):
        print(f"  CROSS-TALK: {msg}")
    for msg in flow_level:
        print(f"  INCOMPLETE: {msg}")
    if intervals:
        print("\ntraining slot use (s after the first start; from the saved runs: training, then "
              "saving the run,\nof which the result summary with its bootstrap intervals):")
        t0 = min(iv["start"] for iv in intervals)
        for iv in sorted(intervals, key=lambda v: v["start"]):
            print(f"  {cohort_name(iv['session']):<20}{iv['start'] - t0:7.1f} -> {iv['end'] - t0:7.1f}"
                  f"   training {iv['seconds']:6.1f} s, saving {iv['save']:6.1f} s "
                  f"(summary {iv['summary']:6.1f} s)")
    if unfinished:
        print(f"  {len(unfinished)} run(s) still being written when the server was stopped")
    seconds = time.time() - t_start
    print()
    print(f"sessions finished      {len(ok_sessions)}/{len(sessions)}")
    print(f"health latency         p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms, "
          f"max {max(lat, default=float('nan')):.1f} ms ({len(lat)} ok, {mon.fail if mon else 0} failed)")
    print(f"server RSS             startup {rss_startup:.0f} MB, "
          f"warm baseline {baseline:.0f} MB, peak {peak:.0f} MB -> "
          f"{(peak - baseline) / n:.1f} MB per session; peak threads {peak_threads}")
    print(f"CPU while sessions ran server {cpu_cores:.2f} cores, browser+driver {client_cores:.2f}, "
          f"whole machine {machine_cores:.2f} of {os.cpu_count()} (other users included)")
    print(f"browser memory         peak {client_peak:.0f} MB PSS (chromium, its driver and this script)")
    print(f"trainings at once      {max_conc} (runs' intervals; GENOAPP_MAX_TRAININGS={args.max_trainings}), "
          f"{seen_running} seen running together in the browser; {n_queued} sessions were queued")
    print(f"sidebar after loading  {n_stale} of {len(sessions)} sessions still showed the previous "
          "cohort right after 'Load uploaded files' (own session's old state, not cross-talk)")
    n_foreign = sum(len(s.foreign_log) for s in sessions)
    print(f"run.log foreign lines  {n_foreign} in {sum(bool(s.foreign_log) for s in sessions)} of "
          f"{len(intervals)} runs (log records of other sessions captured into this run's log)")
    print(f"cross-talk failures    {cross_talk}")
    print(f"completion failures    {incomplete} (sessions not finished in time, runs not saved)")
    print(f"checks passed          {sum(c[1] for s in sessions for c in s.checks)}/"
          f"{sum(len(s.checks) for s in sessions)}")
    print(f"wall time              {seconds:.0f} s")
    if warm is not None:
        print(f"warm-up session        {warm.c['name']}: {warm.steps.get('trained', float('nan')):.1f} s, "
              f"{'ERROR ' + warm.error if warm.error else 'ok'} (not counted in the figures above)")
    if crashed:
        print(f"ABORTED: {crashed}")
        print("server log tail:\n" + "\n".join((tmp / "streamlit.log").read_text().splitlines()[-20:]))

    result = {
        "sessions": len(sessions), "sessions_ok": len(ok_sessions),
        "p50_health_ms": round(pct(lat, 50), 1), "p95_health_ms": round(pct(lat, 95), 1),
        "max_health_ms": round(max(lat, default=float("nan")), 1), "health_failures": mon.fail if mon else 0,
        "health_samples": len(lat),
        "rss_startup_gb": round(rss_startup / 1024, 3),
        "baseline_gb": round(baseline / 1024, 3), "peak_gb": round(peak / 1024, 3),
        "mb_per_session": round((peak - baseline) / n, 1),
        "server_cpu_cores": round(cpu_cores, 2), "browser_cpu_cores": round(client_cores, 2),
        "machine_cpu_cores": round(machine_cores, 2), "browser_peak_gb": round(client_peak / 1024, 3),
        "peak_threads": peak_threads,
        "max_trainings_setting": args.max_trainings, "max_concurrent_trainings": max_conc,
        "max_running_seen_in_browser": seen_running,
        "trainings_done": len(intervals), "runs_unfinished": len(unfinished),
        "max_save_s": round(max((iv["save"] for iv in intervals), default=float("nan")), 1), "sessions_queued": n_queued,
        "queue_violations": queue_violations, "sidebar_stale_after_load": n_stale,
        "run_log_foreign_lines": n_foreign, "cross_talk": cross_talk, "incomplete": incomplete,
        "checks": sum(len(s.checks) for s in sessions),
        "samples": [c["n"] for c in cohorts], "snps": args.snps, "association": args.association,
        "streamlit_env": {k: v for k, v in os.environ.items() if k.startswith("STREAMLIT_")},
        "seconds": round(seconds, 1), "error": crashed or None,
    }
    if args.keep or crashed or cross_talk or len(ok_sessions) < len(sessions):
        print(f"kept {tmp} (server log, screenshots of failures)")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("RESULT " + json.dumps(_json_safe(result)))
    ok = not crashed and not cross_talk and not incomplete and not queue_violations \
        and len(ok_sessions) == len(sessions)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
