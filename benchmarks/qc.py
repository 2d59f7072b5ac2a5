"""QC filters: genoapp's run_qc vs plink1.9 --mind --geno --maf on the same fileset.

Uses a ``plink1.9 --dummy`` cohort (cached under the system temp directory; size set by
``--samples`` and ``--snps``, with 2 % missing genotypes) so the filters have work to do, and
checks that both keep the same samples and variants. Timings: genoapp's read of the .bed
(bed-reader, int8) and its filters, next to PLINK's whole run (read + filters + writing the kept
lists). Usage: ``python benchmarks/qc.py [--samples N] [--snps M]``. Ends with ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genoapp.io import open_plink  # noqa: E402
from genoapp.qc import QCConfig, run_qc  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--snps", type=int, default=100_000)
    args = ap.parse_args()
    plink = shutil.which("plink1.9") or shutil.which("plink")
    if plink is None:
        sys.exit("plink1.9 not found: apt-get install plink1.9")
    cache = Path(tempfile.gettempdir()) / "genoapp_bench"
    cache.mkdir(exist_ok=True)
    prefix = cache / f"dummy_{args.samples}_{args.snps}"
    if not prefix.with_suffix(".bed").exists():
        subprocess.run([plink, "--dummy", str(args.samples), str(args.snps), "0.02", "acgt",
                        "--make-bed", "--seed", "1", "--out", str(prefix)], check=True,
                       capture_output=True)
    cfg = QCConfig(mind=0.021, geno=0.025, maf=0.05)

    t = time.perf_counter()
    with open_plink(prefix) as g:
        G = g.read_int8()
        samples, variants = g.samples, g.variants
    t_read = time.perf_counter() - t
    t = time.perf_counter()
    res = run_qc(G, samples, variants, config=cfg)
    t_qc = time.perf_counter() - t

    out = cache / "plink_qc"
    t = time.perf_counter()
    subprocess.run([plink, "--bfile", str(prefix), "--mind", "0.021", "--geno", "0.025", "--maf", "0.05",
                    "--write-snplist", "--make-just-fam", "--allow-no-sex", "--threads", "2", "--out", str(out)],
                   check=True, capture_output=True)
    t_plink = time.perf_counter() - t
    kept_snps = set(out.with_suffix(".snplist").read_text().split())
    kept_iids = {line.split()[1] for line in out.with_suffix(".fam").read_text().splitlines()}
    same_v = kept_snps == set(variants["id"][res.variant_mask])
    same_s = kept_iids == set(samples["IID"][res.sample_mask])
    print(f"QC on {args.samples:,} samples x {args.snps:,} SNPs ({cfg.plink_flags()})")
    print(f"{'step':<40}{'seconds':>10}")
    print(f"{'genoapp: read .bed (bed-reader int8)':<40}{t_read:>10.2f}")
    print(f"{'genoapp: run_qc filters':<40}{t_qc:>10.2f}")
    print(f"{'genoapp: total':<40}{t_read + t_qc:>10.2f}")
    print(f"{'plink1.9 (read + filters + write)':<40}{t_plink:>10.2f}")
    print(f"kept: {res.n_samples_kept:,} samples, {res.n_variants_kept:,} variants; identical to PLINK: "
          f"samples {same_s}, variants {same_v}")
    print("RESULT " + json.dumps({
        "benchmark": "qc", "n_samples": args.samples, "n_snps": args.snps,
        "genoapp_read_seconds": t_read, "genoapp_filter_seconds": t_qc,
        "genoapp_total_seconds": t_read + t_qc, "plink_seconds": t_plink,
        "ratio_genoapp_over_plink": (t_read + t_qc) / t_plink,
        "identical_samples": same_s, "identical_variants": same_v,
        "int8_genotype_matrix_gb": float(np.prod(G.shape)) / 1e9,
    }))


if __name__ == "__main__":
    main()
