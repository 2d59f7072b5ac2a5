"""Reading VCF.gz, .pgen and BGEN at paper scale: genoapp vs ``plink2 --vcf ... --make-bed``.

Creates once (cached under ``/tmp/genoapp_bench/formats``) a ``plink1.9 --dummy 10405 505333
0.02 acgt --seed 1`` cohort (the DiseaseCapsule paper's 10,405 samples x 505,333 SNPs, 2 %
missing calls) and its conversions by plink2: ``--export vcf bgz id-paste=iid``, ``--make-pgen``,
``--export bgen-1.2 ref-first``. Then times, each in a fresh child process (peak memory its own,
Python imports excluded), from a warm page cache:

* ``vcf_s``: :func:`genoapp.io.open_genotypes` on the VCF.gz (conversion to the cached PLINK 1
  fileset: plink2 parses the text when installed, genoapp reads and filters the .pgen it writes)
  **plus** the QC funnel (:func:`genoapp.qc.run_qc_bed`, ``--geno 0.1 --mind 0.1 --maf 0.01
  --hwe 1e-5``);
* ``plink2_vcf_s``: ``plink2 --vcf X.vcf.gz --make-bed`` (the reference: conversion only);
* ``pgen_s``, ``bgen_s``: open_genotypes + QC from the .pgen and the BGEN (pgenlib, cbgen);
* ``vcf_direct_s`` (with ``--direct``): the VCF read by cyvcf2 only (``GENOAPP_PLINK2=0``).

Every converted .bed must be byte-identical to the one plink2 writes from the VCF (A1 = ALT in
both); the script stops otherwise. Usage: ``python benchmarks/read_formats.py [--samples N
--snps M] [--direct] [--skip-bgen]`` from the repo root (under ``flock /tmp/genoapp_heavy.lock``
on a shared machine). Last line: ``RESULT {json}`` with ``vcf_s``, ``plink2_vcf_s``, ``ratio``
(``vcf_s / plink2_vcf_s``), ``pgen_s``, ``bgen_s``, ``peak_gb`` (genoapp's process; the plink2
it starts is ``plink2_child_peak_gb``).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = Path("/tmp/genoapp_bench/formats")


def child(path: str, cache: str) -> None:
    """One timed read + QC in this process; prints one JSON line."""
    import resource

    sys.path.insert(0, str(REPO))
    from genoapp.io import open_genotypes
    from genoapp.qc import QCConfig, run_qc_bed

    t0 = time.perf_counter()
    g = open_genotypes(path, cache_dir=cache)
    t1 = time.perf_counter()
    res = run_qc_bed(g, config=QCConfig(geno=0.1, mind=0.1, maf=0.01, hwe=1e-5))
    t2 = time.perf_counter()
    rep = g.read_report
    print(json.dumps({
        "read_s": t1 - t0, "qc_s": t2 - t1, "seconds": t2 - t0,
        "bed": str(g.bed_path), "converter": rep.converter if rep else "",
        "n_variants": g.n_variants, "n_kept": int(res.variant_mask.sum()),
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        "plink2_peak_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9,
    }))


def _run(cmd: list[str], env=None) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return res.stdout


def _timed_child(path: Path, env=None) -> dict:
    cache = tempfile.mkdtemp(prefix="genoapp_read_", dir=BENCH)
    try:
        out = _run([sys.executable, __file__, "--child", str(path), cache], env=env)
        rec = json.loads(out.strip().splitlines()[-1])
        rec["bed_copy"] = str(BENCH / (path.name.replace(".", "_") + ".bed"))
        shutil.copyfile(rec["bed"], rec["bed_copy"])
        return rec
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10405)
    ap.add_argument("--snps", type=int, default=505333)
    ap.add_argument("--direct", action="store_true", help="also time the cyvcf2-only read")
    ap.add_argument("--skip-bgen", action="store_true")
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    plink, plink2 = shutil.which("plink1.9") or shutil.which("plink"), shutil.which("plink2")
    if not plink or not plink2:
        sys.exit("needs plink1.9 and plink2 (apt-get install plink1.9 plink2)")
    BENCH.mkdir(parents=True, exist_ok=True)
    name = (f"paper_{args.samples}_{args.snps}" if (args.samples, args.snps) == (10405, 505333)
            else f"dummy_{args.samples}_{args.snps}")
    base = BENCH / name
    threads = ["--threads", str(os.cpu_count() or 1)]
    if not base.with_suffix(".bed").is_file():
        print(f"creating {base} with plink1.9 --dummy (once) ...", flush=True)
        _run([plink, "--dummy", str(args.samples), str(args.snps), "0.02", "acgt", "--seed", "1",
              "--make-bed", "--out", str(base)])
    files = {"vcf": Path(f"{base}.vcf.gz"), "pgen": Path(f"{base}.pgen"),
             "bgen": Path(f"{base}.bgen")}
    exports = {"vcf": ["--export", "vcf", "bgz", "id-paste=iid"], "pgen": ["--make-pgen"],
               "bgen": ["--export", "bgen-1.2", "ref-first"]}
    for key, path in files.items():
        if key == "bgen" and args.skip_bgen:
            continue
        if not path.is_file():
            print(f"writing {path.name} with plink2 (once) ...", flush=True)
            _run([plink2, "--bfile", str(base), *exports[key], "--out", str(base), *threads])
    for path in files.values():  # warm page cache
        if path.is_file():
            with open(path, "rb") as fh:
                while fh.read(1 << 24):
                    pass

    ref = BENCH / f"{name}_plink2_from_vcf"
    t = time.perf_counter()
    _run([plink2, "--vcf", str(files["vcf"]), "--make-bed", "--out", str(ref), *threads])
    plink2_s = time.perf_counter() - t
    print(f"plink2 --vcf --make-bed: {plink2_s:.1f} s", flush=True)

    results = {}
    for key in ("vcf", "pgen", "bgen"):
        if key == "bgen" and args.skip_bgen:
            continue
        rec = _timed_child(files[key])
        same = filecmp.cmp(rec["bed_copy"], f"{ref}.bed", shallow=False)
        print(f"genoapp {key:<5} read {rec['read_s']:7.1f} s + QC {rec['qc_s']:5.1f} s = "
              f"{rec['seconds']:7.1f} s  peak {rec['peak_gb']:.2f} GB (its plink2 "
              f"{rec.get('plink2_peak_gb', 0):.2f} GB)  [{rec['converter']}]  "
              f".bed identical to plink2's: {same}", flush=True)
        if not same:
            sys.exit(f"{key}: the converted .bed differs from plink2's conversion")
        results[key] = rec
    direct = None
    if args.direct:
        env = {**os.environ, "GENOAPP_PLINK2": "0"}
        rec = _timed_child(files["vcf"], env=env)
        same = filecmp.cmp(rec["bed_copy"], f"{ref}.bed", shallow=False)
        direct = rec
        print(f"genoapp vcf (cyvcf2 only) {rec['seconds']:7.1f} s  peak {rec['peak_gb']:.2f} GB  "
              f".bed identical: {same}", flush=True)
        if not same:
            sys.exit("vcf direct: the converted .bed differs from plink2's conversion")
    vcf_s = results["vcf"]["seconds"]
    out = {
        "samples": args.samples, "snps": args.snps,
        "vcf_s": round(vcf_s, 2), "vcf_read_s": round(results["vcf"]["read_s"], 2),
        "vcf_qc_s": round(results["vcf"]["qc_s"], 2),
        "plink2_vcf_s": round(plink2_s, 2), "ratio": round(vcf_s / plink2_s, 3),
        "pgen_s": round(results["pgen"]["seconds"], 2),
        "bgen_s": round(results["bgen"]["seconds"], 2) if "bgen" in results else None,
        "vcf_direct_s": round(direct["seconds"], 2) if direct else None,
        "peak_gb": round(max(r["peak_gb"] for r in [*results.values(), *([direct] if direct else [])]), 2),
        "plink2_child_peak_gb": round(max(r.get("plink2_peak_gb", 0) for r in results.values()), 2),
        "converter": results["vcf"]["converter"], "cores": os.cpu_count(),
    }
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
