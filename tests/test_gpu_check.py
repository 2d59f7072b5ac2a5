"""The prepared device check (benchmarks/gpu_check.py) runs end to end in its CPU dry run, so it
cannot rot between the rare sessions that are lent a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_dry_run_writes_every_step_and_a_summary(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--dry-run", "--budget", "300"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=420)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1].removeprefix("RESULT "))
    assert result["dry_run"] is True
    steps = {s["step"]: s for s in result["steps"]}
    assert list(steps) == ["cuda tests", "train_capsnet", "gene_pca", "gene_scan", "grvsnn"]
    assert all(s["rc"] == 0 for s in steps.values()), steps
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert all(x["result"] is not None for x in lines if x["step"] != "cuda tests")
    assert "| gene_scan | 0 |" in (tmp_path / "summary.md").read_text()
