"""One prepared device check: everything genoapp should measure when a GPU is lent, in one command.

Run on a machine with CUDA (about 8 minutes on an H100/H200; every step has its own time cap so
the whole command ends within ``--budget`` seconds)::

    OUT=/some/folder python benchmarks/gpu_check.py            # the GPU figures
    python benchmarks/gpu_check.py --dry-run                    # tiny sizes on the CPU (CI)

Steps, in order (each a subprocess with a time limit; a failing step is recorded and the next
one runs):

1. the CUDA tests (``pytest -m gpu``; skipped without CUDA);
2. ``benchmarks/train_capsnet.py``: DiseaseCapsule and MLP epochs at paper scale on the GPU
   (goal: 30 DiseaseCapsule epochs <= 20 s on an H200);
3. ``benchmarks/gene_pca.py``: Gene-PCA of a paper-scale cohort on the GPU (goal <= 3 s);
   without plink1.9 on the machine, the dummy cohort is written with numpy;
4. ``benchmarks/gene_scan.py``: the one-gene-only gene scan (goal <= 10 s) and the 1,000-set
   null (goal <= 5 s);
5. a GRVSNN fit on the BGLR mice markers, in float32 and with bf16 autocast, whose predictions
   are compared (mixed precision is used only where it leaves the result unchanged within a
   stated tolerance).

Each benchmark's ``RESULT`` line and a summary are written to ``$OUT`` (``results.jsonl``,
``summary.md``, ``log.txt``) when the environment variable ``OUT`` is set, else printed. The GPU
machine has no network: packages it lacks (bed-reader, optuna, dcor, kneed, ...) travel as
wheels in a ``.whl`` folder (see ``benchmarks/gpu_wheels.sh``), installed by this script into a
private folder before anything else. Ends with ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOALS = {"capsnet_30_epochs_s": 20.0, "gene_pca_s": 3.0, "gene_scan_s": 10.0, "null_s": 5.0}


def _install_wheels(log) -> dict:
    """Install the carried wheels (``.whl``) into /tmp/genoapp_site; returns the env to use."""
    env = dict(os.environ)
    wheels = sorted((REPO / ".whl").glob("*.whl"))
    if wheels:
        site = Path("/tmp/genoapp_site")
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
               "--no-compile", "--no-cache-dir", "--upgrade", "--target", str(site),
               *map(str, wheels)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        log(f"installed {len(wheels)} wheels: rc {r.returncode} {r.stderr[-500:]}")
        env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO), env.get("PYTHONPATH", "")])
    else:
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def _run(name: str, cmd: list[str], *, env, timeout: float, log) -> dict:
    """Run one step; keep its RESULT line (parsed) and its tail."""
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=max(5.0, timeout))
        rc, out = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as exc:
        rc = "timeout"
        out = (exc.stdout or "") + (exc.stderr or "") if isinstance(exc.stdout, str) else ""
    secs = time.perf_counter() - t0
    result = None
    for line in out.splitlines()[::-1]:
        if line.startswith("RESULT "):
            try:
                result = json.loads(line[len("RESULT "):])
            except ValueError:
                result = {"unparsed": line[:500]}
            break
    log(f"== {name}: rc {rc}, {secs:.1f} s\n{out[-3000:]}")
    return {"step": name, "rc": rc, "seconds": round(secs, 1), "result": result}


def _grvsnn_step(dry_run: bool) -> None:
    """GRVSNN on the mice markers (or random data in a dry run): float32 vs bf16 autocast."""
    import numpy as np
    import torch

    from genoapp.models.grvsnn import GRVSNNRegressor

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if dry_run or not (REPO / "assets/quantitative/mice/mice.bed").exists():
        rng = np.random.default_rng(0)
        X = rng.normal(size=(300, 200)).astype(np.float32)
        Y = X[:, :5].sum(1, keepdims=True) + rng.normal(size=(300, 1))
        epochs = 3
    else:
        from genoapp.workflows.quantitative import demo_paths, load_quantitative_data

        p = demo_paths()
        c = load_quantitative_data(p["bed"], phenotypes=p["phenotypes"])
        X = c.read_dosages()
        Y = c.samples[["Obesity.BodyLength", "Obesity.BMI"]].to_numpy(np.float64)
        epochs = 30
    out = {"device": device, "n": int(X.shape[0]), "p": int(X.shape[1]), "epochs": epochs}
    preds = {}
    for mp in (False, "auto"):
        kw = dict(n_hidden=64, max_epochs=epochs, patience=epochs, validation_fraction=0.0,
                  batch_size=128, device=device, random_state=0)
        est = GRVSNNRegressor(**kw)
        if "mixed_precision" in est.get_params():
            est.set_params(mixed_precision=mp)
        elif mp:
            continue
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        est.fit(X, Y)
        if device == "cuda":
            torch.cuda.synchronize()
        out[f"fit_s_{'bf16' if mp else 'fp32'}"] = round(time.perf_counter() - t, 3)
        preds[mp] = np.asarray(est.predict(X), dtype=np.float64)
    if "auto" in preds:
        a, b = preds[False], preds["auto"]
        out["bf16_vs_fp32_max_abs_diff"] = float(np.nanmax(np.abs(a - b)))
        out["bf16_vs_fp32_corr"] = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    print("RESULT " + json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (CI)")
    ap.add_argument("--budget", type=float, default=470.0, help="seconds for the whole command")
    ap.add_argument("--grvsnn-step", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.grvsnn_step:
        _grvsnn_step(args.dry_run)
        return
    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else None
    lines: list[str] = []

    def log(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    t0 = time.perf_counter()
    env = _install_wheels(log)
    py = sys.executable
    dry = args.dry_run
    budget = args.budget
    # step caps (seconds) as fractions of the budget
    plan = [
        ("cuda tests", [py, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                        "tests/test_train.py"] if dry else
         [py, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests"], 0.25),
        ("train_capsnet", [py, "benchmarks/train_capsnet.py"] + (["--smoke", "--batches", "1"] if dry else []), 0.15),
        ("gene_pca", [py, "benchmarks/gene_pca.py"] + (["--smoke", "--sample-genes", "1"] if dry else ["--sample-genes", "3"]), 0.25),
        ("gene_scan", [py, "benchmarks/gene_scan.py"] + (["--smoke", "--device", "cpu", "--cpu-genes", "5", "--null-sets", "10"] if dry else ["--device", "cuda"]), 0.25),
        ("grvsnn", [py, "benchmarks/gpu_check.py", "--grvsnn-step"] + (["--dry-run"] if dry else []), 0.10),
    ]
    steps = []
    for name, cmd, frac in plan:
        left = budget - (time.perf_counter() - t0)
        if left < 5:
            steps.append({"step": name, "rc": "skipped (no time left)", "seconds": 0, "result": None})
            continue
        steps.append(_run(name, cmd, env=env, timeout=min(left, frac * budget + 20), log=log))
    import torch

    summary = {"dry_run": dry, "cuda": bool(torch.cuda.is_available()),
               "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
               "seconds": round(time.perf_counter() - t0, 1), "goals": GOALS,
               "steps": [{k: s[k] for k in ("step", "rc", "seconds")} for s in steps]}
    md = [f"# genoapp device check ({'dry run' if dry else summary['device']})", "",
          "| step | exit | seconds | figures |", "|---|---|---|---|"]
    for s in steps:
        fig = json.dumps(s["result"])[:300] if s["result"] else ""
        md.append(f"| {s['step']} | {s['rc']} | {s['seconds']} | {fig} |")
    md += ["", f"Goals (H200): {json.dumps(GOALS)}"]
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.jsonl").write_text("\n".join(json.dumps(s) for s in steps) + "\n")
        (out_dir / "summary.md").write_text("\n".join(md) + "\n")
        (out_dir / "log.txt").write_text("\n".join(lines)[-5_000_000:])
    print("\n".join(md))
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
