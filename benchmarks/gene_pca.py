"""Gene-PCA at paper scale: genoapp's streaming, batched Gene-PCA vs a per-gene scikit-learn loop.

Input (cached under the system temp directory, built on first use):

* ``paper_dummy.bed/.fam``: ``plink1.9 --dummy 10405 505333 0.02 acgt --seed 1`` (the
  DiseaseCapsule cohort's size: 10,405 samples x 505,333 SNPs, 2 % missing genotypes, no LD);
* ``paper_genes.bim`` (+ links to that .bed/.fam): the same SNPs placed on chromosomes 1-22 of
  GRCh37, in clusters (LD-block-like runs, sd 5 kb) centred inside hg19 genes (70 %, chosen with
  probability proportional to gene length) or anywhere on the chromosomes (30 %), so that about
  18,000 genes of ``assets/genes/glist_hg19.tsv`` receive SNPs, most fewer than 200 and a few
  more than 1,000 (the shape of DiseaseCapsule's Suppl. Fig. 4).

Then, each in its own process (so that peak memory is that of the method alone):

1. genoapp: ``gene_pca_features`` on the .bed (streamed by blocks of neighbouring genes, never a
   dense matrix; 90 % training rows fitted, all rows projected; CPU; and the GPU if present);
2. the authors' way: scikit-learn ``PCA(n_components=k)`` fitted gene by gene on the training
   rows and applied to all rows, timed on a size-stratified random sample of genes (the genes'
   dosages already in RAM, mean-imputed; the faster of multi-threaded and single-threaded BLAS
   per gene) and **extrapolated** to all genes bin by bin.

The explained variances of the sampled genes are compared (eigenvalues are well determined even
where the random genotypes make eigenvectors nearly degenerate). Usage: ``python
benchmarks/gene_pca.py [--sample-genes N]`` from the repository root (run it under
``flock /tmp/genoapp_heavy.lock`` on a shared machine). ``--smoke`` runs every step on a small
dummy cohort (2,000 samples x 50,000 SNPs, its own cache files): it checks the script and
measures nothing useful. Ends with ``RESULT {json}`` holding
``cpu_s``, ``loop_s_extrapolated``, ``speedup``, ``peak_gb``, ``gpu_s`` (null without a GPU).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CACHE = Path(tempfile.gettempdir()) / "genoapp_bench"
DUMMY = CACHE / "paper_dummy"
PREFIX = CACHE / "paper_genes"
N_SAMPLES, N_SNPS = 10_405, 505_333
SMOKE_SAMPLES, SMOKE_SNPS = 2_000, 50_000


def configure(smoke: bool) -> None:
    """Paper scale (default) or the small ``--smoke`` cohort; called again in each child
    process (spawned children import this module afresh)."""
    global DUMMY, PREFIX, N_SAMPLES, N_SNPS
    if smoke:
        DUMMY, PREFIX = CACHE / "smoke_dummy", CACHE / "smoke_genes"
        N_SAMPLES, N_SNPS = SMOKE_SAMPLES, SMOKE_SNPS
SIZE_BINS = [(1, 4), (5, 20), (21, 64), (65, 256), (257, 1000), (1001, 10**9)]


# ----------------------------------------------------------------------------- input


def ensure_dummy() -> None:
    """The shared paper-scale dummy cohort (never modified once written)."""
    if DUMMY.with_suffix(".bed").exists():
        return
    plink = shutil.which("plink1.9") or shutil.which("plink")
    CACHE.mkdir(parents=True, exist_ok=True)
    if plink is None:  # e.g. the GPU machine: random genotypes written directly (no LD either)
        _numpy_dummy()
        return
    print(f"building {DUMMY}.bed with plink1.9 --dummy ({N_SAMPLES * N_SNPS / 4e9:.2f} GB; "
          "paper scale: about a minute) ...", flush=True)
    subprocess.run([plink, "--dummy", str(N_SAMPLES), str(N_SNPS), "0.02", "acgt", "--make-bed",
                    "--seed", "1", "--out", str(DUMMY)], check=True, capture_output=True)


def _numpy_dummy() -> None:
    """A dummy cohort like ``plink1.9 --dummy`` without plink: random SNP-major .bed bytes
    (each genotype 0/1/2 equally likely, about 2 % missing), chr 1 at positions 1..M."""
    import numpy as np
    import pandas as pd

    from genoapp.fileio import atomic_write

    print(f"building {DUMMY}.bed with numpy ({N_SAMPLES * N_SNPS / 4e9:.2f} GB) ...", flush=True)
    codes = np.array([0, 2, 3], dtype=np.uint8)  # PLINK 2-bit codes: hom, het, hom (1 = missing)
    valid = np.array([a | (b << 2) | (c << 4) | (d << 6) for a in codes for b in codes
                      for c in codes for d in codes], dtype=np.uint8)
    with_missing = np.array([1 | (v & 0xFC) for v in valid], dtype=np.uint8)
    per_snp = (N_SAMPLES + 3) // 4
    rng = np.random.default_rng(1)

    def write_bed(tmp):
        with open(tmp, "wb") as fh:
            fh.write(bytes([0x6C, 0x1B, 0x01]))
            block = max(1, (256 << 20) // per_snp)
            for v0 in range(0, N_SNPS, block):
                nv = min(block, N_SNPS - v0)
                b = valid[rng.integers(0, valid.size, size=nv * per_snp)]
                miss = rng.random(b.size) < 0.08  # one of 4 genotypes missing: ~2 %
                b[miss] = with_missing[rng.integers(0, with_missing.size, size=int(miss.sum()))]
                fh.write(b.tobytes())

    atomic_write(DUMMY.with_suffix(".fam"), lambda t: pd.DataFrame({
        "FID": [f"per{i}" for i in range(N_SAMPLES)], "IID": [f"per{i}" for i in range(N_SAMPLES)],
        "f": 0, "m": 0, "sex": 2, "pheno": 1}).to_csv(t, sep=" ", header=False, index=False))
    atomic_write(DUMMY.with_suffix(".bim"), lambda t: pd.DataFrame({
        "chrom": 1, "id": [f"snp{j}" for j in range(N_SNPS)], "cM": 0, "pos": np.arange(N_SNPS),
        "A1": "A", "A2": "C"}).to_csv(t, sep="\t", header=False, index=False))
    atomic_write(DUMMY.with_suffix(".bed"), write_bed, what="the dummy .bed")


def simulate_positions(genes, n_snps: int, *, n_clusters: int = 100_000, inside: float = 0.7,
                       sd_bp: float = 5_000.0, seed: int = 1):
    """Chromosome (1-22) and GRCh37 position of ``n_snps`` SNPs, clustered around hg19 genes."""
    from genoapp.io.genes import chromosome_lengths

    rng = np.random.default_rng(seed)
    lengths = chromosome_lengths("GRCh37")
    auto = genes[genes["chrom"].isin([str(c) for c in range(1, 23)])].reset_index(drop=True)
    glen = (auto["end"] - auto["start"] + 1).to_numpy(dtype=np.float64)
    n_in = int(n_clusters * inside)
    gi = rng.choice(len(auto), size=n_in, p=glen / glen.sum())
    c_pos_in = auto["start"].to_numpy()[gi] + (rng.random(n_in) * glen[gi]).astype(np.int64)
    c_chr_in = auto["chrom"].to_numpy()[gi].astype(np.int64)
    clen = np.array([lengths[str(c)] for c in range(1, 23)], dtype=np.float64)
    c_chr_out = rng.choice(22, size=n_clusters - n_in, p=clen / clen.sum()) + 1
    c_pos_out = 1 + (rng.random(n_clusters - n_in) * clen[c_chr_out - 1]).astype(np.int64)
    c_chr = np.r_[c_chr_in, c_chr_out]
    c_pos = np.r_[c_pos_in, c_pos_out]
    weight = rng.lognormal(0.0, 1.0, n_clusters)
    size = rng.multinomial(n_snps, weight / weight.sum())
    cl = np.repeat(np.arange(n_clusters), size)
    chrom = c_chr[cl]
    pos = c_pos[cl] + rng.normal(0.0, sd_bp, n_snps).astype(np.int64)
    pos = np.clip(pos, 1, clen[chrom - 1].astype(np.int64))
    order = np.lexsort((pos, chrom))
    return chrom[order], pos[order]


def ensure_paper_genes() -> None:
    """paper_genes.bim (positions around hg19 genes) with links to the dummy .bed/.fam."""
    ensure_dummy()
    bim = PREFIX.with_suffix(".bim")
    if bim.exists():
        return
    import pandas as pd

    from genoapp.demo import HG19_GENES
    from genoapp.fileio import atomic_write
    from genoapp.io import read_bim, read_gene_table

    dummy = read_bim(DUMMY.with_suffix(".bim"))
    chrom, pos = simulate_positions(read_gene_table(HG19_GENES), len(dummy),
                                    n_clusters=min(100_000, max(1_000, len(dummy) // 5)))
    out = pd.DataFrame({"chrom": chrom, "id": dummy["id"], "cM": 0, "pos": pos,
                        "A1": dummy["A1"], "A2": dummy["A2"]})
    for suffix in (".bed", ".fam"):
        link = PREFIX.with_suffix(suffix)
        if not link.exists():
            os.symlink(DUMMY.with_suffix(suffix), link)
    # the .bim last, complete or absent: its presence says the input is ready
    atomic_write(bim, lambda tmp: out.to_csv(tmp, sep="\t", header=False, index=False),
                 what="the benchmark .bim")


def annotation_and_split():
    from genoapp.demo import HG19_GENES
    from genoapp.features import annotate_snps
    from genoapp.io import read_bim, read_gene_table

    variants = read_bim(PREFIX.with_suffix(".bim"))
    ann = annotate_snps(variants, read_gene_table(HG19_GENES))
    rng = np.random.default_rng(0)
    train = np.sort(rng.permutation(N_SAMPLES)[: int(round(0.9 * N_SAMPLES))])
    return ann, train


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB


# ----------------------------------------------------------------------------- children


def run_genoapp(device: str, sample_genes: list[str], smoke: bool = False) -> dict:
    """genoapp in a fresh process: time, peak memory, features of the sampled genes."""
    configure(smoke)
    from genoapp.features import gene_pca_features
    from genoapp.features._kernels import unpack_bed  # noqa: F401  (compile outside the timing)

    ann, train = annotation_and_split()
    base_gb = _peak_gb()
    # warm-up: compile the numba kernels and load torch's kernels on a tiny slice (not timed)
    small = ann[ann["gene"].isin(ann["gene"].unique()[:50])]
    gene_pca_features(str(PREFIX), small, fit_rows=train, device=device)
    t = time.perf_counter()
    res = gene_pca_features(str(PREFIX), ann, fit_rows=train, device=device)
    seconds = time.perf_counter() - t
    genes = res.model.genes_.set_index("gene")
    ev = {}
    for g in sample_genes:
        f0, k = int(genes.loc[g, "first_feature"]), int(genes.loc[g, "n_components"])
        ev[g] = res.model.explained_variance_[f0 : f0 + k] if k else np.zeros(0)
    return {
        "seconds": seconds, "peak_gb": _peak_gb(), "base_gb": base_gb,
        "n_genes": int(len(genes)), "n_features": int(res.X.shape[1]),
        "n_imputed_total": res.n_imputed_total, "device": res.device,
        "precision": res.precision, "explained_variance": ev,
    }


def run_sklearn_loop(sample_genes: list[str], smoke: bool = False) -> dict:
    """The naive per-gene loop from the same .bed: read the gene's dosages (bed-reader), impute
    with training means, scikit-learn ``PCA(n_components=k)`` (its default solver, as the
    authors called it) fitted on training rows and applied to all rows. The read + imputation
    and the PCA are timed separately. The explained variances are also computed with the exact
    solver (``svd_solver="full"``, not timed) for the accuracy check."""
    configure(smoke)
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    from genoapp.features import gene_pca_k
    from genoapp.io import open_plink

    ann, train = annotation_and_split()
    times, read_times, ev, ev_full = {}, {}, {}, {}
    with open_plink(PREFIX) as g:
        for gene in sample_genes:
            cols = np.sort(ann.loc[ann["gene"] == gene, "variant_index"].unique())
            t = time.perf_counter()
            X = g.read(variant_idx=cols, dtype="float64", order="C")
            mu = np.nanmean(X[train], axis=0)
            X = np.where(np.isnan(X), mu, X)
            read_times[gene] = time.perf_counter() - t
            k = min(int(gene_pca_k(len(cols))), len(train) - 1)
            best = np.inf
            for limit in (None, 1):  # BLAS threads as installed, and one thread: keep the faster
                with threadpool_limits(limits=limit, user_api="blas"):
                    t = time.perf_counter()
                    pca = PCA(n_components=k, random_state=0).fit(X[train])
                    pca.transform(X)
                    best = min(best, time.perf_counter() - t)
            times[gene] = best
            ev[gene] = pca.explained_variance_
            ev_full[gene] = PCA(n_components=k, svd_solver="full").fit(X[train]).explained_variance_
    return {"times": times, "read_times": read_times, "explained_variance": ev,
            "explained_variance_full": ev_full, "peak_gb": _peak_gb()}


def _in_child(fn, *args):
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as ex:
        return ex.submit(fn, *args).result()


# ----------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample-genes", type=int, default=20,
                    help="genes timed per size bin in the scikit-learn loop (default 20)")
    ap.add_argument("--smoke", action="store_true",
                    help=f"a {SMOKE_SAMPLES:,} x {SMOKE_SNPS:,} dummy cohort: checks the script, "
                         "measures nothing useful")
    args = ap.parse_args()
    configure(args.smoke)
    t = time.perf_counter()
    ensure_paper_genes()
    ann, _ = annotation_and_split()
    t_input = time.perf_counter() - t
    from genoapp.features import annotation_summary

    summ = annotation_summary(ann)
    sizes = summ.set_index("gene")["n_snps"]
    m = sizes.to_numpy()
    print(f"Input: {N_SAMPLES:,} samples x {N_SNPS:,} SNPs ({PREFIX}.bed, 2 % missing), "
          f"{len(m):,} genes with SNPs (median {np.median(m):.0f} SNPs, 99th percentile "
          f"{np.percentile(m, 99):.0f}, {(m > 200).sum()} genes > 200, {(m > 1000).sum()} > 1,000, "
          f"largest {m.max():,}); {len(ann):,} (SNP, gene) pairs; annotation {t_input:.1f} s")

    rng = np.random.default_rng(0)
    sample, per_bin = [], []
    for lo, hi in SIZE_BINS:
        in_bin = sizes.index[(sizes >= lo) & (sizes <= hi)].to_numpy()
        pick = rng.choice(in_bin, size=min(args.sample_genes, len(in_bin)), replace=False)
        sample += pick.tolist()
        per_bin.append(((lo, hi), len(in_bin), pick.tolist()))

    ours = _in_child(run_genoapp, "cpu", sample, args.smoke)
    gpu = None
    import torch

    if torch.cuda.is_available():
        gpu = _in_child(run_genoapp, "cuda", sample, args.smoke)
    ref = _in_child(run_sklearn_loop, sample, args.smoke)

    pca_s = read_s = 0.0
    print(f"\nscikit-learn loop, timed on {len(sample)} genes sampled by size and extrapolated "
          "bin by bin:")
    print(f"{'SNPs per gene':>16}{'genes':>9}{'timed':>7}{'read s/gene':>13}{'PCA s/gene':>12}"
          f"{'extrapolated s':>16}")
    for (lo, hi), n_bin, pick in per_bin:
        if not pick:
            continue
        mean_t = float(np.mean([ref["times"][g] for g in pick]))
        mean_r = float(np.mean([ref["read_times"][g] for g in pick]))
        pca_s += mean_t * n_bin
        read_s += mean_r * n_bin
        label = f"{lo}-{hi}" if hi < 10**9 else f">{lo - 1}"
        print(f"{label:>16}{n_bin:>9,}{len(pick):>7}{mean_r:>13.4f}{mean_t:>12.4f}"
              f"{(mean_t + mean_r) * n_bin:>16.1f}")
    loop_s = pca_s + read_s

    def max_rel(key):
        rel = []
        for g in sample:
            a, b = ours["explained_variance"][g], ref[key][g]
            k = min(len(a), len(b))
            if k:
                rel.append(float(np.max(np.abs(a[:k] - b[:k]) / b[:k])))
        return max(rel) if rel else float("nan")

    rel_full, rel_default = max_rel("explained_variance_full"), max_rel("explained_variance")
    cpu_s = ours["seconds"]
    speedup = loop_s / cpu_s
    print(f"\nGene-PCA of {ours['n_genes']:,} genes -> {ours['n_features']:,} features "
          f"(fit on {int(round(0.9 * N_SAMPLES)):,} training rows, all {N_SAMPLES:,} rows "
          f"projected; {ours['n_imputed_total']:,} missing genotypes imputed)")
    print(f"{'method':<48}{'wall s':>10}{'peak GB':>10}")
    print(f"{'genoapp gene_pca_features, CPU (' + ours['precision'] + ')':<48}{cpu_s:>10.1f}"
          f"{ours['peak_gb']:>10.2f}")
    if gpu is not None:
        print(f"{'genoapp gene_pca_features, ' + gpu['device']:<48}{gpu['seconds']:>10.2f}"
              f"{gpu['peak_gb']:>10.2f}")
    print(f"{'per-gene loop: read + impute + PCA (extrapolated)':<48}{loop_s:>10.1f}{'':>10}")
    print(f"{'  of which scikit-learn PCA alone':<48}{pca_s:>10.1f}{'':>10}")
    gpu_txt = f"{gpu['seconds']:.2f} s" if gpu else "not present"
    print(f"speed-up {speedup:.1f}x over the whole loop, {pca_s / cpu_s:.1f}x over its PCA calls alone "
          f"(goal >= 20x); CPU {cpu_s:.1f} s (goal <= 30 s); peak "
          f"{ours['peak_gb']:.2f} GB (goal <= 8; process baseline {ours['base_gb']:.2f} GB); "
          f"GPU {gpu_txt} (goal <= 3 s)")
    print(f"explained variance of the {len(sample)} sampled genes, max relative difference: "
          f"{rel_full:.1e} vs scikit-learn's exact solver (svd_solver='full'), {rel_default:.1e} vs "
          "its default solver (randomized for most genes: an approximation)")
    print("RESULT " + json.dumps({
        "benchmark": "gene_pca", "smoke": bool(args.smoke), "n_samples": N_SAMPLES, "n_snps": N_SNPS,
        "n_genes": ours["n_genes"], "n_features": ours["n_features"],
        "cpu_s": round(cpu_s, 3), "loop_s_extrapolated": round(loop_s, 1),
        "loop_pca_only_s_extrapolated": round(pca_s, 1), "speedup_vs_pca_only": round(pca_s / cpu_s, 2),
        "speedup": round(speedup, 2), "peak_gb": round(ours["peak_gb"], 3),
        "gpu_s": None if gpu is None else round(gpu["seconds"], 3),
        "loop_genes_timed": len(sample), "max_rel_diff_explained_variance": rel_full,
        "max_rel_diff_explained_variance_randomized": rel_default,
        "precision": ours["precision"], "device": "cpu",
    }))


if __name__ == "__main__":
    main()
