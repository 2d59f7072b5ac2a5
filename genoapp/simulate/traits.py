"""Binary and quantitative traits with a known genetic architecture (DESIGN §4.6).

:func:`simulate_binary_trait` is a liability-threshold model (Falconer 1965) with additive,
dominance and gene x gene (epistatic) gene effects, a population prevalence and optional
per-batch case/control ascertainment. :func:`simulate_quantitative_traits` gives several
correlated quantitative traits with chosen heritabilities and genetic correlations. Both work on
any dosage matrix (e.g. :func:`genoapp.simulate.simulate_genotypes` or real genotypes) and record
their truth, so that the app can show what a method recovered.
"""

from __future__ import annotations

import dataclasses
from statistics import NormalDist

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError

__all__ = [
    "BinaryTraitSimulation",
    "QuantitativeTraitSimulation",
    "simulate_binary_trait",
    "simulate_quantitative_traits",
]


@dataclasses.dataclass
class BinaryTraitSimulation:
    """Result of :func:`simulate_binary_trait`.

    Attributes
    ----------
    phenotype : numpy.ndarray
        Shape (n_samples,), int8: population disease status before any batch ascertainment,
        1 = case (liability above the threshold), 0 = control.
    liability : numpy.ndarray
        Shape (n_samples,), float64: ``genetic + environment``, on the N(0, 1) scale.
    genetic : numpy.ndarray
        Shape (n_samples,), float64: genetic part of the liability (variance ``h2``).
    threshold : float
        Liability threshold ``Phi^-1(1 - prevalence)``.
    selected : numpy.ndarray
        Shape (n_selected,), int64, ascending: rows kept by the per-batch case/control
        sampling (all rows when no ``case_fractions`` were given). Use
        ``G[selected]`` with ``selected_phenotype``.
    selected_phenotype : numpy.ndarray
        Shape (n_selected,), int8: ``phenotype[selected]``.
    truth : pandas.DataFrame
        One row per planted gene: ``gene``, ``role`` ("additive", "dominance" or
        "interaction"), ``partner`` (other gene of an interacting pair, ``""`` otherwise),
        ``effect`` (liability units per standard deviation of the gene's standardised score:
        the additive/dominance score, or for a pair the product of the two additive scores;
        both genes of a pair show the pair's effect), ``n_snps_inside``, ``causal_snps``
        (comma-separated SNP ids or column indices).
    realised : dict
        ``h2`` (var(genetic) / var(liability) in the sample), ``prevalence`` (case fraction of
        ``phenotype``), ``variance_shares`` (shares of the genetic variance of the additive,
        dominance and interaction components), ``batch_case_fractions`` (case fraction per
        batch among the selected rows; only with batches).
    parameters : dict
        The simulation parameters (for the provenance record).
    """

    phenotype: np.ndarray
    liability: np.ndarray
    genetic: np.ndarray
    threshold: float
    selected: np.ndarray
    selected_phenotype: np.ndarray
    truth: pd.DataFrame
    realised: dict
    parameters: dict


@dataclasses.dataclass
class QuantitativeTraitSimulation:
    """Result of :func:`simulate_quantitative_traits`.

    Attributes
    ----------
    Y : numpy.ndarray
        Shape (n_samples, n_traits), float64: phenotypes ``genetic + environment`` (mean ~0,
        variance ~1).
    genetic : numpy.ndarray
        Shape (n_samples, n_traits), float64: genetic values; in the sample their covariance
        is exactly ``diag(sqrt(h2)) R diag(sqrt(h2))`` (``R`` the genetic correlation).
    effects : numpy.ndarray
        Shape (n_causal, n_traits), float64: effect of one extra copy of A1 at each causal SNP,
        ``genetic = (G[:, causal] - mean) @ effects``.
    causal : numpy.ndarray
        Shape (n_causal,), int64, ascending: column indices of the causal SNPs (shared by all
        traits).
    truth : pandas.DataFrame
        One row per causal SNP: ``snp`` (id or column index), ``variant_index``, then
        ``effect_<t>`` for trait t = 0 .. n_traits - 1.
    h2_realised : numpy.ndarray
        Shape (n_traits,): ``var(genetic) / var(Y)`` per trait in the sample.
    genetic_correlation_realised : numpy.ndarray
        Shape (n_traits, n_traits): correlation of the genetic values in the sample.
    parameters : dict
        The simulation parameters (for the provenance record).
    """

    Y: np.ndarray
    genetic: np.ndarray
    effects: np.ndarray
    causal: np.ndarray
    truth: pd.DataFrame
    h2_realised: np.ndarray
    genetic_correlation_realised: np.ndarray
    parameters: dict


def _check_G(G) -> np.ndarray:
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] < 2 or G.shape[1] < 1:
        raise InputDataError(
            f"genotype matrix has shape {G.shape}; expected (n_samples, n_snps) A1 dosages with "
            "at least 2 samples."
        )
    if np.isnan(G).any():
        means = np.nanmean(G, axis=0)
        G = np.where(np.isnan(G), np.nan_to_num(means), G)
    return G


def _std(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0 else np.zeros_like(v)


def _snps_per_gene(gene_of_snp, n_snps: int) -> pd.Series:
    """Gene -> sorted column indices, from a per-SNP gene array or an annotation table."""
    if isinstance(gene_of_snp, pd.DataFrame):
        missing = {"variant_index", "gene", "relation"} - set(gene_of_snp.columns)
        if missing:
            raise InputDataError(
                f"annotation lacks columns {sorted(missing)}; use annotate_snps() or pass one "
                "gene name per SNP."
            )
        inside = gene_of_snp[gene_of_snp["relation"] == "inside"]
        idx = inside["variant_index"].to_numpy(np.int64)
        genes = inside["gene"].astype(str).to_numpy()
    else:
        arr = np.asarray(gene_of_snp, dtype=object)
        if arr.ndim != 1 or len(arr) != n_snps:
            raise InputDataError(
                f"gene_of_snp has shape {arr.shape}; expected ({n_snps},): one gene name per SNP "
                "column ('' for SNPs between genes), or an annotation DataFrame."
            )
        keep = np.array([isinstance(g, str) and g != "" for g in arr], dtype=bool)
        idx = np.flatnonzero(keep)
        genes = arr[keep].astype(str)
    if len(idx) and (idx.min() < 0 or idx.max() >= n_snps):
        raise InputDataError(f"annotation has variant_index outside [0, {n_snps}).")
    table = pd.DataFrame({"gene": genes, "i": idx})
    return table.groupby("gene", sort=True)["i"].apply(lambda s: np.unique(s.to_numpy()))


def _dominance_codes(X: np.ndarray) -> np.ndarray:
    """Statistical dominance deviations of dosages ``X`` (n, k), orthogonal to the additive code.

    With ``p`` the sample frequency of A1 and ``q = 1 - p``: dosage 2 -> ``-2 q^2``,
    1 -> ``2 p q``, 0 -> ``-2 p^2`` (Vitezica et al. 2013); uncorrelated with the dosage under
    Hardy-Weinberg equilibrium.
    """
    p = X.mean(axis=0) / 2.0
    q = 1.0 - p
    r = np.rint(X)
    return np.where(r >= 2, -2 * q**2, np.where(r >= 1, 2 * p * q, -2 * p**2))


def _case_control_sample(phenotype, batch, case_fractions, rng):
    """Indices kept so that every batch has exactly (when possible) its case fraction."""
    labels = np.asarray(batch).astype(str)
    present = list(pd.unique(labels))
    unknown = sorted(set(map(str, case_fractions)) - set(present))
    unlisted = sorted(set(present) - set(map(str, case_fractions)))
    if unknown or unlisted:
        raise ConfigError(
            f"case_fractions={case_fractions!r}: every batch of `batches` must be listed exactly "
            f"(present: {present}; not in the data: {unknown}; missing: {unlisted})."
        )
    keep = []
    achieved = {}
    for name, f in case_fractions.items():
        rows = np.flatnonzero(labels == str(name))
        cases = rows[phenotype[rows] == 1]
        controls = rows[phenotype[rows] == 0]
        if f == 0:
            m, n_case = len(controls), 0
        elif f == 1:
            m, n_case = len(cases), len(cases)
        else:
            m_max = int(min(len(cases) / f, len(controls) / (1 - f)))
            m, n_case = 0, 0
            # Largest size whose case count f*m is a whole number (exact fraction), looking
            # back at most 1,000 sizes; otherwise the largest size, rounded.
            for size in range(m_max, max(m_max - 1000, 0), -1):
                if abs(f * size - round(f * size)) < 1e-9:
                    m, n_case = size, int(round(f * size))
                    break
            else:
                m = m_max
                n_case = min(int(round(f * m)), len(cases))
        n_control = min(m - n_case, len(controls))
        if n_case + n_control == 0:
            raise ConfigError(
                f"case_fractions[{name!r}]={f}: batch {name!r} has {len(cases)} cases and "
                f"{len(controls)} controls, so no sample can be kept; raise the prevalence or "
                "change the fraction."
            )
        keep.append(rng.choice(cases, size=n_case, replace=False))
        keep.append(rng.choice(controls, size=n_control, replace=False))
        achieved[str(name)] = n_case / (n_case + n_control)
    return np.sort(np.concatenate(keep)).astype(np.int64), achieved


def simulate_binary_trait(
    G,
    gene_of_snp,
    *,
    variant_ids=None,
    n_additive_genes: int = 10,
    n_dominance_genes: int = 5,
    n_interacting_pairs: int = 5,
    h2: float = 0.5,
    dominance: float = 0.2,
    interaction: float = 0.2,
    prevalence: float = 0.1,
    batches=None,
    case_fractions: dict[str, float] | None = None,
    n_causal_snps: int = 3,
    min_snps_inside: int = 1,
    random_state: int = 2026,
) -> BinaryTraitSimulation:
    """Simulate a case/control trait under a liability-threshold model with a known truth.

    Model:

    1. Genes with at least ``min_snps_inside`` SNPs are drawn without replacement:
       ``n_additive_genes`` additive, ``n_dominance_genes`` dominance genes and
       ``2 * n_interacting_pairs`` interacting genes (disjoint sets). Each gets up to
       ``n_causal_snps`` causal SNPs inside it with weights ``w ~ N(0, 1)``.
    2. Gene scores (standardised in the sample): additive ``z_g = std(X_g w)`` with ``X_g``
       the A1 dosages; dominance ``z_g = std(D_g w)`` with ``D_g`` the statistical dominance
       deviations (0/1/2 -> ``-2p^2``, ``2pq``, ``-2q^2``, orthogonal to the dosage under HWE),
       so the dominance variance is not additive variance in disguise; a pair (g, h) uses
       the centred product of the additive scores ``z_g z_h`` (no marginal effect).
    3. Components ``A = sum a_g z_g``, ``D = sum d_g z_g``, ``I = sum s_gh z_g z_h`` with
       signs ``+-1`` at random, each standardised; the genetic value is
       ``g = sqrt(h2) std(sqrt(1 - dominance - interaction) A + sqrt(dominance) D
       + sqrt(interaction) I)``, so it has variance exactly ``h2`` in the sample.
    4. Liability ``L = g + sqrt(1 - h2) e``, ``e ~ N(0, 1)``: variance ~1, liability-scale
       heritability ~``h2``. Cases are ``L > t`` with ``t = Phi^-1(1 - prevalence)``, the
       threshold of the N(0, 1) liability, so the population case fraction is ~``prevalence``.
    5. Optional ascertainment (``case_fractions``): within batch b with requested case
       fraction f_b, cases and controls (population status from step 4) are sampled without
       replacement to the largest batch size ``m`` that the available cases and controls
       allow with ``f_b m`` a whole number (searching down from the largest possible size),
       so the realised case fraction is exactly f_b (f_b = 0 keeps all controls and no case:
       an all-control batch; f_b = 1 keeps all cases). The rows kept are ``selected``.

    Parameters
    ----------
    G : numpy.ndarray
        Shape (n_samples, n_snps): A1 dosages (0, 1, 2), NaN = missing (set to the SNP mean).
    gene_of_snp : sequence of str or pandas.DataFrame
        Shape (n_snps,): gene of each SNP column (``""`` or None between genes; e.g.
        ``SimulatedGenotypes.gene_of_snp``), or an annotation table with ``variant_index``,
        ``gene``, ``relation`` (:func:`genoapp.features.annotate_snps`; ``"inside"`` rows used).
    variant_ids : sequence of str, optional
        Shape (n_snps,): SNP ids for the truth table (default: column indices).
    n_additive_genes, n_dominance_genes, n_interacting_pairs : int
        Numbers of planted genes of each role (>= 0; the component of a role with no gene must
        have variance share 0).
    h2 : float
        Liability-scale heritability, in [0, 1).
    dominance, interaction : float
        Shares of the *genetic* variance from dominance and from gene x gene interaction
        (each in [0, 1], sum <= 1); the additive share is ``1 - dominance - interaction``.
    prevalence : float
        Population prevalence K, in (0, 1).
    batches : sequence of str, optional
        Shape (n_samples,): batch of each sample (e.g. ``SimulatedGenotypes.samples["batch"]``);
        needed with ``case_fractions``.
    case_fractions : dict, optional
        Batch -> case fraction in [0, 1] after ascertainment, every batch listed; 0.0 gives an
        all-control batch. ``None``: no ascertainment (all samples kept).
    n_causal_snps : int
        Causal SNPs per planted gene (>= 1; fewer if the gene has fewer SNPs).
    min_snps_inside : int
        Genes with fewer SNPs are not planted (>= 1).
    random_state : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same result.

    Returns
    -------
    BinaryTraitSimulation

    Raises
    ------
    ConfigError
        A parameter out of range (named in the message), too few eligible genes, a batch of
        ``case_fractions`` that is not in ``batches`` (or vice versa), or a batch where no
        sample can be kept.
    InputDataError
        ``G``, ``gene_of_snp``, ``variant_ids`` or ``batches`` disagree in shape.
    """
    if not 0 <= h2 < 1:
        raise ConfigError(f"h2={h2}: the liability-scale heritability must be in [0, 1).")
    if not 0 < prevalence < 1:
        raise ConfigError(f"prevalence={prevalence}: must be strictly between 0 and 1.")
    if not (0 <= dominance <= 1 and 0 <= interaction <= 1 and dominance + interaction <= 1):
        raise ConfigError(
            f"dominance={dominance}, interaction={interaction}: shares of the genetic variance, "
            "each must be in [0, 1] and their sum at most 1."
        )
    counts = {
        "n_additive_genes": n_additive_genes,
        "n_dominance_genes": n_dominance_genes,
        "n_interacting_pairs": n_interacting_pairs,
    }
    for name, value in counts.items():
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"{name}={value!r}: expected an integer >= 0.")
    for name, value in (("n_causal_snps", n_causal_snps), ("min_snps_inside", min_snps_inside)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name}={value!r}: expected an integer >= 1.")
    shares = {
        "additive": 1.0 - dominance - interaction,
        "dominance": dominance,
        "interaction": interaction,
    }
    n_of_role = {
        "additive": n_additive_genes,
        "dominance": n_dominance_genes,
        "interaction": n_interacting_pairs,
    }
    param_of = {
        "additive": "n_additive_genes",
        "dominance": "n_dominance_genes",
        "interaction": "n_interacting_pairs",
    }
    for role, share in shares.items():
        if share > 1e-12 and n_of_role[role] == 0 and h2 > 0:
            raise ConfigError(
                f"{param_of[role]}=0 but the {role} share of the genetic variance is {share:.3g}; "
                f"plant at least one or set that share to 0."
            )
    if case_fractions is not None:
        if batches is None:
            raise ConfigError("case_fractions given without batches: pass one batch per sample.")
        bad = {k: v for k, v in case_fractions.items() if not 0 <= v <= 1}
        if bad:
            raise ConfigError(f"case_fractions={case_fractions!r}: values {bad} not in [0, 1].")

    G = _check_G(G)
    n, m = G.shape
    ids = np.arange(m).astype(str) if variant_ids is None else np.asarray(variant_ids, dtype=str)
    if len(ids) != m:
        raise InputDataError(
            f"{len(ids)} variant ids for {m} SNP columns; expected one per column."
        )
    if batches is not None and len(batches) != n:
        raise InputDataError(
            f"batches has {len(batches)} labels for {n} samples; expected one each."
        )

    rng = np.random.default_rng(random_state)
    per_gene = _snps_per_gene(gene_of_snp, m)
    eligible = per_gene[per_gene.map(len) >= min_snps_inside]
    n_needed = n_additive_genes + n_dominance_genes + 2 * n_interacting_pairs
    if len(eligible) < n_needed:
        raise ConfigError(
            f"{len(eligible)} genes have >= {min_snps_inside} SNPs inside, but {n_needed} planted "
            "genes were asked for (n_additive_genes + n_dominance_genes + 2 * "
            "n_interacting_pairs); lower these numbers."
        )
    names = list(rng.permutation(np.asarray(eligible.index, dtype=object))[:n_needed])
    roles = (
        ["additive"] * n_additive_genes
        + ["dominance"] * n_dominance_genes
        + ["interaction"] * (2 * n_interacting_pairs)
    )

    scores, rows = {}, []
    for gene, role in zip(names, roles, strict=True):
        cols = eligible[gene]
        chosen = np.sort(rng.choice(cols, size=min(n_causal_snps, len(cols)), replace=False))
        X = G[:, chosen]
        w = rng.normal(size=len(chosen))
        raw = (_dominance_codes(X) if role == "dominance" else X) @ w
        scores[gene] = _std(raw)
        rows.append(
            {
                "gene": gene,
                "role": role,
                "n_snps_inside": len(cols),
                "causal_snps": ",".join(ids[chosen]),
            }
        )

    comp = {role: np.zeros(n) for role in shares}
    sign = {}
    partner = {g: "" for g in names}
    for gene, role in zip(names, roles, strict=True):
        if role != "interaction":
            sign[gene] = rng.choice([-1.0, 1.0])
            comp[role] += sign[gene] * scores[gene]
    pair_genes = [g for g, r in zip(names, roles, strict=True) if r == "interaction"]
    products = []
    for p in range(n_interacting_pairs):
        g1, g2 = pair_genes[2 * p], pair_genes[2 * p + 1]
        s = rng.choice([-1.0, 1.0])
        prod = scores[g1] * scores[g2]
        prod = prod - prod.mean()
        products.append((g1, g2, prod))
        comp["interaction"] += s * prod
        sign[g1] = sign[g2] = s
        partner[g1], partner[g2] = g2, g1

    sd = {role: comp[role].std() for role in comp}
    raw_g = sum(np.sqrt(shares[r]) * (_std(comp[r])) for r in comp)
    sd_g = raw_g.std()
    genetic = np.sqrt(h2) * _std(raw_g)
    scale = np.sqrt(h2) / sd_g if sd_g > 0 else 0.0
    # Liability units per SD of a gene's standardised score (or of a pair's product term).
    effect = {}
    for gene, role in zip(names, roles, strict=True):
        if role != "interaction":
            effect[gene] = (
                scale * np.sqrt(shares[role]) * sign[gene] / sd[role] if sd[role] else 0.0
            )
    for g1, g2, prod in products:
        e = (
            scale * np.sqrt(shares["interaction"]) * sign[g1] / sd["interaction"] * prod.std()
            if sd["interaction"]
            else 0.0
        )
        effect[g1] = effect[g2] = e

    liability = genetic + np.sqrt(1.0 - h2) * rng.standard_normal(n)
    threshold = NormalDist().inv_cdf(1.0 - prevalence)
    phenotype = (liability > threshold).astype(np.int8)

    realised = {
        "h2": float(genetic.var() / liability.var()),
        "prevalence": float(phenotype.mean()),
        "variance_shares": {
            r: float(np.corrcoef(np.sqrt(shares[r]) * _std(comp[r]), raw_g)[0, 1] ** 2)
            if sd[r] > 0 and sd_g > 0
            else 0.0
            for r in comp
        },
    }
    if case_fractions is not None:
        selected, achieved = _case_control_sample(phenotype, batches, case_fractions, rng)
        realised["batch_case_fractions"] = achieved
    else:
        selected = np.arange(n, dtype=np.int64)

    truth = pd.DataFrame(rows)
    truth["partner"] = truth["gene"].map(partner)
    truth["effect"] = truth["gene"].map(effect).astype(float)
    truth = truth[["gene", "role", "partner", "effect", "n_snps_inside", "causal_snps"]]
    params = {
        "model": "liability threshold: additive + dominance + pairwise gene x gene",
        "n_additive_genes": int(n_additive_genes),
        "n_dominance_genes": int(n_dominance_genes),
        "n_interacting_pairs": int(n_interacting_pairs),
        "h2": h2,
        "dominance": dominance,
        "interaction": interaction,
        "prevalence": prevalence,
        "case_fractions": None if case_fractions is None else dict(case_fractions),
        "n_causal_snps": int(n_causal_snps),
        "min_snps_inside": int(min_snps_inside),
        "random_state": random_state,
    }
    return BinaryTraitSimulation(
        phenotype,
        liability,
        genetic,
        float(threshold),
        selected,
        phenotype[selected],
        truth,
        realised,
        params,
    )


def _sym_power(S: np.ndarray, power: float) -> np.ndarray:
    vals, vecs = np.linalg.eigh(S)
    vals = np.clip(vals, 0.0, None)
    if power < 0:
        vals = np.where(vals > 1e-12, vals, np.inf)
    return (vecs * vals**power) @ vecs.T


def _correlation_matrix(value, n_traits: int, name: str) -> np.ndarray:
    if np.ndim(value) == 0:
        r = float(value)
        if not -1 <= r <= 1:
            raise ConfigError(f"{name}={value}: a correlation must be in [-1, 1].")
        R = np.full((n_traits, n_traits), r)
        np.fill_diagonal(R, 1.0)
    else:
        R = np.asarray(value, dtype=float)
        if R.shape != (n_traits, n_traits):
            raise ConfigError(
                f"{name} has shape {R.shape}; expected a scalar or a ({n_traits}, {n_traits}) "
                "matrix (n_traits x n_traits)."
            )
        if not np.allclose(R, R.T) or not np.allclose(np.diag(R), 1.0) or np.abs(R).max() > 1:
            raise ConfigError(
                f"{name} must be a symmetric matrix with 1 on the diagonal and entries in [-1, 1]."
            )
    if np.linalg.eigvalsh(R).min() < -1e-10:
        raise ConfigError(
            f"{name}={value!r} is not a valid correlation matrix for {n_traits} traits (it is "
            "not positive semi-definite; e.g. a common correlation must be >= "
            f"{-1 / max(n_traits - 1, 1):.3g})."
        )
    return R


def simulate_quantitative_traits(
    G,
    *,
    n_traits: int = 2,
    h2=0.5,
    genetic_correlation=0.5,
    environmental_correlation=0.0,
    n_causal: int = 100,
    variant_ids=None,
    random_state: int = 2026,
) -> QuantitativeTraitSimulation:
    """Simulate correlated quantitative traits with chosen heritabilities and genetic correlation.

    Model: ``n_causal`` SNPs (shared by all traits) are drawn; their effects on the
    standardised dosages are ``B ~ MVN(0, R)`` across traits (``R`` the genetic correlation).
    The genetic values ``U = Z B`` are then linearly recombined across traits,
    ``U <- U C^-1/2 R^1/2`` with ``C`` their sample covariance (equivalently the effects become
    ``B C^-1/2 R^1/2``), so that in the sample the genetic values have unit variances and
    correlation exactly ``R``; trait t is scaled to variance ``h2[t]``. Environmental noise
    ``E ~ MVN(0, diag(sqrt(1-h2)) R_e diag(sqrt(1-h2)))`` (``R_e`` the environmental correlation,
    independent of U) is added: ``Y = U + E``. The phenotypic correlation is then about
    ``r_g sqrt(h2_1 h2_2) + r_e sqrt((1 - h2_1)(1 - h2_2))``.

    Parameters
    ----------
    G : numpy.ndarray
        Shape (n_samples, n_snps): A1 dosages (0, 1, 2), NaN = missing (set to the SNP mean).
    n_traits : int
        Number of traits T (>= 1).
    h2 : float or sequence of float
        Heritability per trait (a scalar for all), each in [0, 1).
    genetic_correlation : float or numpy.ndarray
        Common genetic correlation between every pair of traits, or a (T, T) correlation matrix.
    environmental_correlation : float or numpy.ndarray
        Same for the environmental (residual) correlation; default 0.
    n_causal : int
        Number of causal SNPs, in [T, n_snps] (at least T so the traits can differ).
    variant_ids : sequence of str, optional
        Shape (n_snps,): SNP ids for the truth table (default: column indices).
    random_state : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same result.

    Returns
    -------
    QuantitativeTraitSimulation

    Raises
    ------
    ConfigError
        A parameter out of range (named in the message): ``h2`` outside [0, 1) or of the wrong
        length, a correlation that is not a valid correlation matrix, ``n_causal`` outside
        [n_traits, number of polymorphic SNPs].
    InputDataError
        ``G`` is not a 2-D matrix or ``variant_ids`` has the wrong length.
    """
    if not isinstance(n_traits, (int, np.integer)) or n_traits < 1:
        raise ConfigError(f"n_traits={n_traits!r}: expected an integer >= 1.")
    h2_arr = (
        np.broadcast_to(np.asarray(h2, dtype=float), (n_traits,)).copy()
        if np.ndim(h2) == 0
        else np.asarray(h2, dtype=float)
    )
    if h2_arr.shape != (n_traits,):
        raise ConfigError(f"h2={h2!r}: expected a scalar or {n_traits} values (one per trait).")
    if ((h2_arr < 0) | (h2_arr >= 1)).any():
        raise ConfigError(f"h2={h2!r}: every heritability must be in [0, 1).")
    R = _correlation_matrix(genetic_correlation, n_traits, "genetic_correlation")
    Re = _correlation_matrix(environmental_correlation, n_traits, "environmental_correlation")
    G = _check_G(G)
    n, m = G.shape
    ids = np.arange(m).astype(str) if variant_ids is None else np.asarray(variant_ids, dtype=str)
    if len(ids) != m:
        raise InputDataError(
            f"{len(ids)} variant ids for {m} SNP columns; expected one per column."
        )
    sd = G.std(axis=0)
    poly = np.flatnonzero(sd > 0)
    if not isinstance(n_causal, (int, np.integer)) or not n_traits <= n_causal <= len(poly):
        raise ConfigError(
            f"n_causal={n_causal!r}: expected an integer in [{n_traits}, {len(poly)}] (n_traits "
            "to the number of polymorphic SNPs)."
        )

    rng = np.random.default_rng(random_state)
    causal = np.sort(rng.choice(poly, size=int(n_causal), replace=False))
    mean = G[:, causal].mean(axis=0)
    Z = (G[:, causal] - mean) / sd[causal]
    B = rng.multivariate_normal(np.zeros(n_traits), R, size=int(n_causal), method="eigh")
    U = Z @ B
    C = np.atleast_2d(np.cov(U, rowvar=False, bias=True))
    if np.linalg.eigvalsh(C).min() <= 1e-12 * max(C.trace(), 1e-300):
        raise ConfigError(
            f"n_causal={n_causal}: the causal SNPs give linearly dependent genetic values; "
            "use more causal SNPs."
        )
    M = _sym_power(C, -0.5) @ _sym_power(R, 0.5) * np.sqrt(h2_arr)[None, :]
    B = B @ M
    U = U @ M
    effects = B / sd[causal][:, None]  # per copy of A1
    E = rng.standard_normal((n, n_traits)) @ _sym_power(Re, 0.5) * np.sqrt(1.0 - h2_arr)
    Y = U + E

    with np.errstate(invalid="ignore", divide="ignore"):
        rg = np.atleast_2d(np.corrcoef(U, rowvar=False))
    h2_real = U.var(axis=0) / Y.var(axis=0)
    truth = pd.DataFrame({"snp": ids[causal], "variant_index": causal})
    for t in range(n_traits):
        truth[f"effect_{t}"] = effects[:, t]
    params = {
        "model": "multivariate normal SNP effects, genetic correlation set exactly in the sample",
        "n_traits": int(n_traits),
        "h2": h2_arr.tolist(),
        "genetic_correlation": R.tolist(),
        "environmental_correlation": Re.tolist(),
        "n_causal": int(n_causal),
        "random_state": random_state,
    }
    return QuantitativeTraitSimulation(Y, U, effects, causal, truth, h2_real, rg, params)
