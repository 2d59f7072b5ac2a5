"""Case/control phenotypes from planted gene effects on real genotypes.

The model is a liability-threshold model (Falconer 1965) with an additive part and a
gene x gene (epistatic) part, both built from gene-level scores:

1. For every planted gene g, ``n_causal_snps`` of the SNPs annotated *inside* g are drawn and
   given effects beta ~ N(0, 1); the gene score is ``z_g = standardise(G_g @ beta)`` where
   ``G_g`` holds the A1 dosages (0/1/2, missing set to the SNP mean).
2. Additive component ``A = sum_g a_g z_g`` over the additive genes, ``a_g = +-1`` at random.
   Interaction component ``I = sum_(g, h) s_gh z_g z_h`` over the interacting pairs,
   ``s_gh = +-1``; interacting genes have no additive effect of their own.
3. Liability ``L = sqrt(h2_additive) A' + sqrt(h2_interaction) I' + sqrt(1 - h2) e`` where
   ``A'`` and ``I'`` are standardised and ``e ~ N(0, 1)``; so ``h2_additive`` and
   ``h2_interaction`` are the shares of liability variance (heritabilities on the liability
   scale) in the simulated sample.
4. Cases are the ``case_fraction`` of samples with the highest liability (1 = case, 0 = control).

Everything is driven by one ``random_state``, so the same genotypes and annotation give the same
phenotype and truth table.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError


@dataclasses.dataclass
class CaseControlSimulation:
    """Result of :func:`simulate_case_control`.

    Attributes
    ----------
    phenotype : numpy.ndarray
        Shape (n_samples,), int8: 1 = case, 0 = control.
    liability : numpy.ndarray
        Shape (n_samples,), float64, standardised liability (mean 0, variance 1).
    truth : pandas.DataFrame
        One row per planted gene: ``gene``, ``role`` ("additive" or "interaction"),
        ``partner`` (the other gene of an interacting pair, empty for additive genes),
        ``effect`` (a_g, or s_gh for a pair), ``n_snps_inside``, ``causal_snps``
        (comma-separated SNP ids), ``score_variance_explained`` (R^2 of the liability on z_g
        alone, measured in the sample).
    parameters : dict
        The simulation parameters (for the provenance record).
    """

    phenotype: np.ndarray
    liability: np.ndarray
    truth: pd.DataFrame
    parameters: dict


def _gene_scores(G, columns, rng, n_causal_snps):
    """Standardised score of one gene from up to ``n_causal_snps`` of its SNP columns."""
    chosen = np.sort(rng.choice(columns, size=min(n_causal_snps, len(columns)), replace=False))
    block = np.asarray(G[:, chosen], dtype=np.float64)
    means = np.nanmean(block, axis=0)
    block = np.where(np.isnan(block), means, block)
    beta = rng.normal(size=len(chosen))
    score = block @ beta
    sd = score.std()
    if sd == 0:
        return None, chosen
    return (score - score.mean()) / sd, chosen


def simulate_case_control(
    G,
    annotation: pd.DataFrame,
    variant_ids,
    *,
    n_additive_genes: int = 10,
    n_interacting_pairs: int = 5,
    h2_additive: float = 0.5,
    h2_interaction: float = 0.3,
    case_fraction: float = 0.4,
    min_snps_inside: int = 3,
    n_causal_snps: int = 3,
    random_state: int = 2026,
) -> CaseControlSimulation:
    """Simulate a case/control phenotype with planted additive and gene x gene effects.

    Parameters
    ----------
    G : numpy.ndarray
        Shape (n_samples, n_variants): dosage of allele A1 (0, 1, 2), float, NaN = missing.
    annotation : pandas.DataFrame
        SNP-to-gene annotation (:func:`genoapp.features.annotate_snps`): columns
        ``variant_index``, ``gene`` and ``relation``; only ``relation == "inside"`` rows are used
        to place effects.
    variant_ids : sequence of str
        Shape (n_variants,): SNP ids, used in the truth table.
    n_additive_genes, n_interacting_pairs : int
        Number of genes with an additive effect and of interacting gene pairs (disjoint sets).
    h2_additive, h2_interaction : float
        Shares of liability variance of the additive and the interaction components
        (sum < 1).
    case_fraction : float
        Fraction of samples made cases, in (0, 1).
    min_snps_inside : int
        Only genes with at least this many SNPs inside them are eligible (so that Gene-PCA
        has something to summarise).
    n_causal_snps : int
        Causal SNPs per planted gene (fewer if the gene has fewer SNPs).
    random_state : int
        Seed of the whole simulation.

    Returns
    -------
    CaseControlSimulation

    Raises
    ------
    ConfigError
        If heritabilities or the case fraction are out of range, or there are not enough
        eligible genes.
    InputDataError
        If ``G`` and ``variant_ids`` disagree in shape or the annotation lacks columns.
    """
    G = np.asarray(G)
    variant_ids = np.asarray(variant_ids, dtype=str)
    if G.ndim != 2 or G.shape[1] != len(variant_ids):
        raise InputDataError(
            f"genotype matrix has shape {G.shape} but {len(variant_ids)} variant ids were given; "
            "expected (n_samples, n_variants) with one id per column."
        )
    missing_cols = {"variant_index", "gene", "relation"} - set(annotation.columns)
    if missing_cols:
        raise InputDataError(f"annotation lacks columns {sorted(missing_cols)}; use annotate_snps().")
    if not (0 <= h2_additive < 1 and 0 <= h2_interaction < 1 and h2_additive + h2_interaction < 1):
        raise ConfigError(
            f"h2_additive={h2_additive} and h2_interaction={h2_interaction}: each must be in [0, 1) "
            "and their sum below 1."
        )
    if not 0 < case_fraction < 1:
        raise ConfigError(f"case_fraction={case_fraction}: must be strictly between 0 and 1.")

    rng = np.random.default_rng(random_state)
    inside = annotation[annotation["relation"] == "inside"]
    snps_per_gene = inside.groupby("gene", sort=False)["variant_index"].apply(
        lambda s: np.sort(s.to_numpy())
    )
    eligible = snps_per_gene[snps_per_gene.map(len) >= min_snps_inside]
    n_needed = n_additive_genes + 2 * n_interacting_pairs
    if len(eligible) < n_needed:
        raise ConfigError(
            f"{len(eligible)} genes have >= {min_snps_inside} SNPs inside, but "
            f"{n_needed} planted genes were asked for; lower the numbers or min_snps_inside."
        )
    # Genes are drawn without replacement; a SNP shared by two planted genes is allowed
    # (overlapping genes), which is what real data look like.
    names = rng.permutation(np.asarray(eligible.index, dtype=object))
    additive_genes = list(names[:n_additive_genes])
    pair_genes = list(names[n_additive_genes:n_needed])

    rows = []
    scores = {}
    for gene in additive_genes + pair_genes:
        z, chosen = _gene_scores(G, eligible[gene], rng, n_causal_snps)
        if z is None:  # monomorphic causal SNPs: give up on this gene rather than plant nothing
            raise ConfigError(f"gene {gene}: its causal SNPs are monomorphic in this sample.")
        scores[gene] = z
        rows.append(
            {
                "gene": gene,
                "n_snps_inside": len(eligible[gene]),
                "causal_snps": ",".join(variant_ids[chosen]),
            }
        )
    truth = pd.DataFrame(rows).set_index("gene")

    n = G.shape[0]
    additive = np.zeros(n)
    effects = {}
    for gene in additive_genes:
        a = rng.choice([-1.0, 1.0])
        effects[gene] = (a, "additive", "")
        additive += a * scores[gene]
    interaction = np.zeros(n)
    for p in range(n_interacting_pairs):
        g1, g2 = pair_genes[2 * p], pair_genes[2 * p + 1]
        s = rng.choice([-1.0, 1.0])
        prod = scores[g1] * scores[g2]
        interaction += s * (prod - prod.mean())
        effects[g1] = (s, "interaction", g2)
        effects[g2] = (s, "interaction", g1)

    def _std(v):
        sd = v.std()
        return (v - v.mean()) / sd if sd > 0 else v * 0.0

    noise = rng.normal(size=n)
    h2 = h2_additive + h2_interaction
    liability = (
        np.sqrt(h2_additive) * _std(additive)
        + np.sqrt(h2_interaction) * _std(interaction)
        + np.sqrt(1.0 - h2) * noise
    )
    liability = _std(liability)
    threshold = np.quantile(liability, 1.0 - case_fraction)
    phenotype = (liability > threshold).astype(np.int8)

    truth["role"] = [effects[g][1] for g in truth.index]
    truth["partner"] = [effects[g][2] for g in truth.index]
    truth["effect"] = [effects[g][0] for g in truth.index]
    truth["score_variance_explained"] = [
        float(np.corrcoef(scores[g], liability)[0, 1] ** 2) for g in truth.index
    ]
    truth = truth.reset_index()[
        ["gene", "role", "partner", "effect", "n_snps_inside", "causal_snps", "score_variance_explained"]
    ]
    params = {
        "model": "liability threshold, additive + pairwise gene x gene",
        "n_additive_genes": n_additive_genes,
        "n_interacting_pairs": n_interacting_pairs,
        "h2_additive": h2_additive,
        "h2_interaction": h2_interaction,
        "case_fraction": case_fraction,
        "min_snps_inside": min_snps_inside,
        "n_causal_snps": n_causal_snps,
        "random_state": random_state,
    }
    return CaseControlSimulation(phenotype, liability, truth, params)
