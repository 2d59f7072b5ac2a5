"""Learn lesson (sequence -> phenotype CNN): the thesis' own data, and the lesson's CPU time.

1. The thesis' data (``../shared/data/thesis_sequences``: 9,000 sequences, the 16 causal loci
   printed in its notebook; no licence, read in place, never copied): genoapp's leak-free
   split (seed 0) and the lesson's default settings; test R^2 and MSE, and the number of true
   causal loci among the top-16 positions by gradient saliency and by in-silico mutagenesis,
   against the random expectation 16 * 16 / 200 = 1.28 (hypergeometric p-value).
2. The lesson as the app runs it by default (genoapp's own simulation, seed 0, CPU), twice:
   wall and CPU seconds, and whether the same seed gave the same data and numbers.

Usage: ``python benchmarks/learn_sequences.py [--skip-thesis] [--skip-lesson] [--threads N]``.
Ends with ``RESULT {json}``. On a loaded machine the wall time exceeds the CPU time; the CPU
time of a single-threaded run is what the work costs on one free core.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# OpenMP threads that spin while waiting make a shared, loaded CPU 5-10x slower; must be set
# before torch is imported (a user's own setting wins)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from genoapp.learn import (  # noqa: E402
    LessonConfig,
    prepare_sequences,
    read_sequence_csv,
    run_sequence_lesson,
    simulate_sequences,
)

SHARED = Path(os.environ.get("GENOAPP_SHARED", Path(__file__).resolve().parents[2] / "shared"))
THESIS = SHARED / "data" / "thesis_sequences"


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def thesis() -> dict:
    data = read_sequence_csv(THESIS / "sequences_data.csv")
    causal = pd.read_csv(THESIS / "causal_loci.tsv", sep="\t")["locus"].to_numpy()
    prepared = prepare_sequences(data, random_state=0)
    result, wall, cpu = _timed(lambda: run_sequence_lesson(prepared, config=LessonConfig(),
                                                           causal_loci=causal))
    rec = result.recovery
    print(f"\n== Thesis data: {data.n_sequences:,} sequences x {data.length} bp, 16 causal loci ==")
    print(f"split: {prepared.train_idx.size} fitted / {prepared.val_idx.size} validation / "
          f"{prepared.test_idx.size} test; KS training vs test D = {prepared.ks_statistic:.3f} "
          f"(p = {prepared.ks_pvalue:.3f})")
    print(f"epochs run {result.metrics['epochs_run']}, best epoch {result.metrics['best_epoch']}; "
          f"wall {wall:.1f} s, CPU {cpu:.1f} s on {result.model.device_}")
    print(f"{'':34s}{'genoapp':>12s}{'random ranking':>16s}")
    print(f"{'test R^2':34s}{result.metrics['r2']:12.3f}{0.0:16.3f}")
    print(f"{'test MSE (standardised)':34s}{result.metrics['mse']:12.3f}{1.0:16.3f}")
    print(f"{'test MSE (phenotype units^2)':34s}{result.metrics['mse_original']:12.2f}"
          f"{float(np.var(result.y_test)):16.2f}")
    for key, label in (("saliency", "causal in top 16, saliency"),
                       ("ism", "causal in top 16, mutagenesis")):
        r = rec[key]
        print(f"{label:34s}{r['hits']:12d}{r['expected']:16.2f}   p = {r['p_value']:.2g}  "
              f"found {r['found']}")
    print("top 20 positions:")
    print(result.table.to_string(index=False))
    return {
        "thesis_r2": result.metrics["r2"],
        "thesis_mse": result.metrics["mse"],
        "thesis_mse_original": result.metrics["mse_original"],
        "thesis_saliency_hits_top16": rec["saliency"]["hits"],
        "thesis_ism_hits_top16": rec["ism"]["hits"],
        "thesis_saliency_p": rec["saliency"]["p_value"],
        "thesis_ism_p": rec["ism"]["p_value"],
        "random_expectation_top16": rec["saliency"]["expected"],
        "thesis_epochs_run": result.metrics["epochs_run"],
        "thesis_seconds_wall": wall,
        "thesis_seconds_cpu": cpu,
    }


def lesson_once() -> tuple[dict, float, float]:
    def run():
        data = simulate_sequences(random_state=0)  # the page's defaults
        prepared = prepare_sequences(data, random_state=0)
        result = run_sequence_lesson(prepared, config=LessonConfig(device="cpu"))
        digest = hashlib.sha256(data.to_frame().to_csv(index=False).encode()).hexdigest()[:16]
        return {"data_sha256_16": digest, **{k: result.metrics[k] for k in
                                             ("r2", "mse", "best_epoch", "epochs_run")},
                "saliency_hits": result.recovery["saliency"]["hits"],
                "ism_hits": result.recovery["ism"]["hits"],
                "saliency_sum": float(result.saliency.sum()), "ism_sum": float(result.ism.sum())}
    return _timed(run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-thesis", action="store_true")
    ap.add_argument("--skip-lesson", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = {"torch_threads": torch.get_num_threads(), "device": "cpu"}
    if not args.skip_thesis:
        if (THESIS / "sequences_data.csv").is_file():
            out.update(thesis())
        else:
            print(f"thesis data not found at {THESIS}: skipped (set GENOAPP_SHARED)")
    if not args.skip_lesson:
        runs = [lesson_once() for _ in range(2)]
        print(f"\n== Lesson with default settings (simulated, seed 0, CPU, "
              f"{torch.get_num_threads()} thread(s)) ==")
        print(f"{'run':>4s}{'wall s':>9s}{'CPU s':>9s}{'R^2':>8s}{'MSE':>8s}{'epochs':>8s}"
              f"{'sal hits':>10s}{'ism hits':>10s}  data sha256")
        for i, (m, wall, cpu) in enumerate(runs, 1):
            print(f"{i:4d}{wall:9.1f}{cpu:9.1f}{m['r2']:8.3f}{m['mse']:8.3f}{m['epochs_run']:8d}"
                  f"{m['saliency_hits']:10d}{m['ism_hits']:10d}  {m['data_sha256_16']}")
        same = runs[0][0] == runs[1][0]
        print(f"budget: 120 s; same seed -> same data and numbers: {same}")
        out.update({
            "lesson_seconds_wall": runs[0][1], "lesson_seconds_cpu": runs[0][2],
            "lesson_seconds_wall_run2": runs[1][1], "lesson_r2": runs[0][0]["r2"],
            "lesson_mse": runs[0][0]["mse"], "lesson_epochs_run": runs[0][0]["epochs_run"],
            "lesson_saliency_hits_top16": runs[0][0]["saliency_hits"],
            "lesson_ism_hits_top16": runs[0][0]["ism_hits"], "same_seed_identical": same,
        })
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
