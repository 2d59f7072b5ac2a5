"""genoapp's QC funnel and allelic association test vs plink1.9 at paper scale.

Creates (once, cached) a ``plink1.9 --dummy 10405 505333 0.02 acgt --seed 1`` cohort (the
DiseaseCapsule paper's 10,405 samples x 505,333 SNPs, 2 % missing calls, random case/control
phenotype) under ``/tmp/genoapp_bench``, then times on the same files, interleaved and repeated:

* QC funnel: ``--geno 0.1 --mind 0.1 --maf 0.01 --hwe 1e-5 midp include-nonctrl``.
  genoapp: ``open_plink`` + :func:`genoapp.qc.run_qc_bed` (packed 2-bit bytes, streamed).
  plink1.9: the same options with ``--make-bed`` (as in TOOLING.md), and for reference with
  ``--write-snplist`` only (no .bed written).
* Allelic association (``--assoc``): genoapp :func:`genoapp.qc.allelic_test_bed` vs plink1.9.

Each genoapp run is a fresh child process (so its peak memory is its own); its time excludes the
Python start-up and imports (reported separately), and numba's compiled kernels come from the
on-disk cache (a warm-up run on a tiny file fills it). The .bed is read once beforehand so both
tools start from the page cache. Times are medians over the repeats. The kept samples/variants
must be identical and the p-values equal to PLINK's printed precision.

Usage: ``python benchmarks/qc_vs_plink.py [--repeats 3] [--samples N --snps M]`` from the repo
root (run it under ``flock /tmp/genoapp_heavy.lock`` on a shared machine). Last line:
``RESULT {json}`` with ``funnel_s``, ``plink_funnel_s``, ``funnel_ratio``, ``assoc_s``,
``plink_assoc_s``, ``assoc_ratio``, ``peak_gb`` (and details).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUNNEL_FLAGS = ["--geno", "0.1", "--mind", "0.1", "--maf", "0.01", "--hwe", "1e-5", "midp",
                "include-nonctrl"]


# ------------------------------------------------------------------------------------------
# child process: one genoapp run, prints one JSON line
# ------------------------------------------------------------------------------------------
def child(task: str, prefix: str, out: str) -> None:
    import resource

    t_start = time.perf_counter()
    sys.path.insert(0, str(REPO))
    import numpy as np

    from genoapp.io import open_plink
    from genoapp.qc import QCConfig, allelic_test_bed, run_qc_bed

    t_imported = time.perf_counter()
    g = open_plink(prefix)
    t_opened = time.perf_counter()
    if task == "funnel":
        cfg = QCConfig(mind=0.1, geno=0.1, maf=0.01, hwe=1e-5, hwe_midp=True, hwe_all=True)
        res = run_qc_bed(g, config=cfg)
        t_done = time.perf_counter()
        Path(out + ".samples").write_text("\n".join(g.samples["IID"][res.sample_mask]) + "\n")
        Path(out + ".variants").write_text("\n".join(g.variants["id"][res.variant_mask]) + "\n")
        extra = {"removed": {s.plink_flag: s.n_removed for s in res.steps}}
    else:
        res = allelic_test_bed(g)
        t_done = time.perf_counter()
        np.save(out + ".p.npy", res["P"].to_numpy())
        extra = {}
    print(json.dumps({
        "seconds": t_done - t_imported, "open_seconds": t_opened - t_imported,
        "import_seconds": t_imported - t_start,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, **extra,
    }))


def run_timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (GB) of the child, and its stdout."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    out = proc.stdout.read()
    err = proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{out}\n{err}")
    return wall, usage.ru_maxrss * 1024 / 1e9, out


def read_plink_p(path: Path):
    import numpy as np

    vals = []
    with open(path) as fh:
        next(fh)
        for line in fh:
            v = line.split()[8]
            vals.append(float("nan") if v == "NA" else float(v))
    return np.array(vals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10405)
    ap.add_argument("--snps", type=int, default=505333)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("TASK", "PREFIX", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return

    import numpy as np

    plink = shutil.which("plink1.9") or shutil.which("plink")
    if plink is None:
        sys.exit("plink1.9 not found: apt-get install plink1.9")
    cache = Path(tempfile.gettempdir()) / "genoapp_bench"
    cache.mkdir(exist_ok=True)
    name = ("paper_dummy" if (args.samples, args.snps) == (10405, 505333)
            else f"dummy_{args.samples}_{args.snps}")
    prefix = cache / name
    if not prefix.with_suffix(".bed").exists():
        print(f"creating {prefix} with plink1.9 --dummy (once) ...", flush=True)
        subprocess.run([plink, "--dummy", str(args.samples), str(args.snps), "0.02", "acgt",
                        "--make-bed", "--seed", "1", "--out", str(prefix)], check=True,
                       capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="genoapp_qc_bench_"))
    py = sys.executable
    me = str(Path(__file__).resolve())

    # warm-up: numba's on-disk cache, and the page cache for the big .bed
    warm = cache / "qc_warmup"
    if not warm.with_suffix(".bed").exists():
        subprocess.run([plink, "--dummy", "300", "2000", "0.02", "acgt", "--make-bed", "--seed",
                        "2", "--out", str(warm)], check=True, capture_output=True)
    for task in ("funnel", "assoc"):
        run_timed([py, me, "--child", task, str(warm), str(work / "warm")])
    with open(prefix.with_suffix(".bed"), "rb") as fh:
        while fh.read(64 << 20):
            pass

    times: dict[str, list[float]] = {k: [] for k in (
        "genoapp_funnel", "genoapp_funnel_open", "genoapp_funnel_process", "plink_funnel",
        "plink_funnel_nowrite", "genoapp_assoc", "genoapp_assoc_process", "plink_assoc")}
    peaks: dict[str, float] = {}
    child_info = {}
    for rep in range(args.repeats):
        w, pk, _ = run_timed([plink, "--bfile", str(prefix), *FUNNEL_FLAGS, "--make-bed",
                              "--threads", "2", "--out", str(work / "pf")])
        times["plink_funnel"].append(w)
        peaks["plink_funnel"] = max(peaks.get("plink_funnel", 0), pk)
        w, pk, out = run_timed([py, me, "--child", "funnel", str(prefix), str(work / "gf")])
        info = json.loads(out.strip().splitlines()[-1])
        child_info["funnel"] = info
        times["genoapp_funnel"].append(info["seconds"])
        times["genoapp_funnel_open"].append(info["open_seconds"])
        times["genoapp_funnel_process"].append(w)
        peaks["genoapp_funnel"] = max(peaks.get("genoapp_funnel", 0), info["peak_gb"], pk)
        w, pk, _ = run_timed([plink, "--bfile", str(prefix), *FUNNEL_FLAGS, "--write-snplist",
                              "--threads", "2", "--out", str(work / "pn")])
        times["plink_funnel_nowrite"].append(w)
        w, pk, _ = run_timed([plink, "--bfile", str(prefix), "--assoc", "--threads", "2",
                              "--out", str(work / "pa")])
        times["plink_assoc"].append(w)
        peaks["plink_assoc"] = max(peaks.get("plink_assoc", 0), pk)
        w, pk, out = run_timed([py, me, "--child", "assoc", str(prefix), str(work / "ga")])
        info = json.loads(out.strip().splitlines()[-1])
        times["genoapp_assoc"].append(info["seconds"])
        times["genoapp_assoc_process"].append(w)
        peaks["genoapp_assoc"] = max(peaks.get("genoapp_assoc", 0), info["peak_gb"], pk)
        print(f"repeat {rep + 1}/{args.repeats}: " + ", ".join(
            f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    # identical results?
    ref_fam = [line.split()[1] for line in (work / "pf.fam").read_text().splitlines()]
    ref_bim = [line.split()[1] for line in (work / "pf.bim").read_text().splitlines()]
    same_s = (work / "gf.samples").read_text().split() == ref_fam
    same_v = (work / "gf.variants").read_text().split() == ref_bim
    ours_p = np.load(work / "ga.p.npy")
    ref_p = read_plink_p(work / "pa.assoc")
    both = np.isfinite(ours_p) & np.isfinite(ref_p)
    same_na = bool((np.isnan(ours_p) == np.isnan(ref_p)).all())
    mag = np.abs(ref_p[both])
    half_unit = 0.5 * 10.0 ** (np.floor(np.log10(np.where(mag > 0, mag, 1))) - 3)
    p_ok = bool((np.abs(ours_p[both] - ref_p[both]) <= half_unit * (1 + 1e-9)).all()) and same_na

    rows = [
        ("QC funnel (open + geno/mind/maf/hwe)", med["genoapp_funnel"], med["plink_funnel"],
         peaks["genoapp_funnel"], peaks["plink_funnel"]),
        ("  plink1.9 without writing the .bed", None, med["plink_funnel_nowrite"], None, None),
        ("  genoapp: of which open_plink (.bim/.fam)", med["genoapp_funnel_open"], None, None,
         None),
        ("  genoapp: whole process (+ Python imports)", med["genoapp_funnel_process"], None, None,
         None),
        ("Allelic test (--assoc)", med["genoapp_assoc"], med["plink_assoc"],
         peaks["genoapp_assoc"], peaks["plink_assoc"]),
        ("  genoapp: whole process (+ Python imports)", med["genoapp_assoc_process"], None, None,
         None),
    ]
    print(f"\n{args.samples:,} samples x {args.snps:,} SNPs, {len(os.sched_getaffinity(0))} cores, "
          f"median of {args.repeats}; load average before: {os.getloadavg()[0]:.1f}")
    print(f"{'step':<46}{'genoapp s':>10}{'plink1.9 s':>11}{'ratio':>7}{'genoapp GB':>11}"
          f"{'plink GB':>9}")

    def fmt(v, spec):
        return format(v, spec) if v is not None else "-".rjust(int(spec.split(".")[0]))

    for label, g, p, gg, pg in rows:
        ratio = g / p if (g is not None and p is not None) else None
        print(f"{label:<46}{fmt(g, '10.2f')}{fmt(p, '11.2f')}{fmt(ratio, '7.2f')}"
              f"{fmt(gg, '11.2f')}{fmt(pg, '9.2f')}")
    print(f"identical kept samples: {same_s}, variants: {same_v} "
          f"({len(ref_bim):,} of {args.snps:,} variants kept; removed by genoapp: "
          f"{child_info['funnel']['removed']})")
    print(f"--assoc p-values equal to PLINK's printed precision: {p_ok}")
    result = {
        "benchmark": "qc_vs_plink", "n_samples": args.samples, "n_snps": args.snps,
        "repeats": args.repeats,
        "funnel_s": round(med["genoapp_funnel"], 3),
        "plink_funnel_s": round(med["plink_funnel"], 3),
        "funnel_ratio": round(med["genoapp_funnel"] / med["plink_funnel"], 3),
        "assoc_s": round(med["genoapp_assoc"], 3),
        "plink_assoc_s": round(med["plink_assoc"], 3),
        "assoc_ratio": round(med["genoapp_assoc"] / med["plink_assoc"], 3),
        "peak_gb": round(max(peaks["genoapp_funnel"], peaks["genoapp_assoc"]), 3),
        "plink_funnel_no_write_s": round(med["plink_funnel_nowrite"], 3),
        "funnel_ratio_vs_plink_no_write": round(med["genoapp_funnel"]
                                                / med["plink_funnel_nowrite"], 3),
        "genoapp_open_plink_s": round(med["genoapp_funnel_open"], 3),
        "genoapp_funnel_process_s": round(med["genoapp_funnel_process"], 3),
        "plink_peak_gb": round(max(peaks["plink_funnel"], peaks["plink_assoc"]), 3),
        "identical_samples": same_s, "identical_variants": same_v, "assoc_p_equal": p_ok,
        "threads": len(os.sched_getaffinity(0)),
    }
    shutil.rmtree(work, ignore_errors=True)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
