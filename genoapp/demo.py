"""The built-in demo cohort: real 1000 Genomes + HapMap3 genotypes with a simulated disease.

Files live in ``assets/demo/`` (provenance, licence and the simulation in its README.md):

- ``human_1kg_hapmap3.bed/.bim/.fam``: 1,485 samples x 14,079 LD-thinned autosomal SNPs, GRCh37.
- ``demo.pheno.tsv``: ``FID IID disease`` (0 = control, 1 = case) simulated from planted gene
  effects by :func:`build_demo_phenotype`; ``demo.truth.tsv``: the planted genes.
- ``demo.covar.tsv``: ``FID IID source population superpopulation`` (``source`` is the
  genotyping project, usable as a batch).

The gene table used for the demo is ``assets/genes/glist_hg19.tsv`` (PLINK's glist-hg19).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS = REPO_ROOT / "assets"
DEMO_DIR = ASSETS / "demo"
DEMO_BED = DEMO_DIR / "human_1kg_hapmap3"
DEMO_PHENO = DEMO_DIR / "demo.pheno.tsv"
DEMO_COVAR = DEMO_DIR / "demo.covar.tsv"
DEMO_TRUTH = DEMO_DIR / "demo.truth.tsv"
DEMO_PARAMS = DEMO_DIR / "demo.simulation.json"
DEMO_PHENOTYPE = "disease"
DEMO_BATCH = "source"
HG19_GENES = ASSETS / "genes" / "glist_hg19.tsv"


def load_demo_cohort():
    """Open the demo cohort (genotypes, simulated phenotype, covariates).

    Returns
    -------
    genoapp.cohort.Cohort
    """
    from genoapp.cohort import Cohort

    return Cohort.from_files(DEMO_BED, phenotypes=DEMO_PHENO, covariates=DEMO_COVAR,
                             name="Demo: 1000 Genomes + HapMap3, simulated disease")


def demo_gene_pca_features(*, test_size: float = 0.1, random_state: int = 0):
    """The demo cohort's Gene-PCA features on a balanced split, with light QC (for tests and
    benchmarks that need real features quickly; the app's own defaults are the presets').

    Steps: the samples with the ``disease`` phenotype; :func:`genoapp.qc.run_qc` with
    ``--mind 0.1 --geno 0.1 --maf 0.01``; :func:`genoapp.train.make_split`; Gene-PCA on the
    hg19 gene table fitted on the training samples (:func:`genoapp.features.build_features`).

    Parameters
    ----------
    test_size : float, default 0.1
        Fraction of samples in the balanced test split.
    random_state : int, default 0
        Seed of the split.

    Returns
    -------
    genoapp.features.FeatureSet
        ``X`` (n_samples, n_features) float32, ``split`` (labels 0 = control, 1 = case).
    """
    import numpy as np

    from genoapp.features import build_features
    from genoapp.io import read_gene_table
    from genoapp.qc import QCConfig, run_qc
    from genoapp.train import make_split

    c = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = c.phenotype(DEMO_PHENOTYPE)
    G = c.read_dosages()
    qc = run_qc(G, c.samples, c.variants, config=QCConfig(mind=0.1, geno=0.1, maf=0.01))
    Gq = np.ascontiguousarray(G[np.ix_(qc.sample_mask, qc.variant_mask)])
    variants = c.variants[qc.variant_mask].reset_index(drop=True)
    split = make_split(y[qc.sample_mask], test_size=test_size, random_state=random_state)
    return build_features(Gq, variants, split, genes=read_gene_table(HG19_GENES))


def load_demo_truth() -> pd.DataFrame:
    """The planted genes of the demo phenotype (see :mod:`genoapp.simulate.casecontrol`)."""
    return pd.read_csv(DEMO_TRUTH, sep="\t", keep_default_na=False)


def build_demo_phenotype(out_dir: Path = DEMO_DIR, *, random_state: int = 2026):
    """(Re)build ``demo.pheno.tsv``, ``demo.truth.tsv`` and ``demo.simulation.json``.

    Deterministic: the shipped files are what this function writes with the default seed
    (a test checks it). Run ``python -m genoapp.demo`` to rebuild them.

    Parameters
    ----------
    out_dir : pathlib.Path
        Where to write the three files.
    random_state : int
        Seed of the simulation.

    Returns
    -------
    genoapp.simulate.CaseControlSimulation
    """
    from genoapp.features import annotate_snps
    from genoapp.io import open_plink, read_gene_table
    from genoapp.simulate import simulate_case_control

    out_dir = Path(out_dir)
    with open_plink(DEMO_BED) as geno:
        G = geno.read()
        variants = geno.variants
        samples = geno.samples
    genes = read_gene_table(HG19_GENES)
    annotation = annotate_snps(variants, genes)
    sim = simulate_case_control(G, annotation, variants["id"].to_numpy(), random_state=random_state)
    gene_rows = annotation.drop_duplicates("gene").set_index("gene")
    gene_rows = gene_rows[["gene_symbol", "chrom", "gene_start", "gene_end"]].rename(
        columns={"gene_start": "start", "gene_end": "end"})
    truth = sim.truth.join(gene_rows, on="gene")
    truth = truth[["gene", "gene_symbol", "chrom", "start", "end", "role", "partner", "effect",
                   "n_snps_inside", "causal_snps", "score_variance_explained"]]
    pheno = pd.DataFrame({"FID": samples["FID"], "IID": samples["IID"], DEMO_PHENOTYPE: sim.phenotype})
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(out_dir / DEMO_PHENO.name, pheno.to_csv(sep="\t", index=False))
    _atomic_write_text(out_dir / DEMO_TRUTH.name, truth.to_csv(sep="\t", index=False, float_format="%.6g"))
    _atomic_write_text(out_dir / DEMO_PARAMS.name, json.dumps(sim.parameters, indent=2) + "\n")
    return sim


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


if __name__ == "__main__":
    s = build_demo_phenotype()
    print(f"{int(s.phenotype.sum())} cases / {len(s.phenotype)} samples; planted genes:")
    print(s.truth.to_string(index=False))
