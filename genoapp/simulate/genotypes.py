"""Simulated SNP genotypes with LD on real gene coordinates, and Mendelian pedigrees.

Model of :func:`simulate_genotypes` (DESIGN §4.6):

1. **Positions.** About ``fraction_in_genes`` (default 70 %) of the ``n_snps`` SNPs are placed
   inside genes of the supplied gene table (e.g. ``read_gene_table(genoapp.demo.HG19_GENES)``):
   ``round(n_inside / snps_per_gene)`` genes are drawn at random, the inside SNPs are spread
   over them (multinomial, equal weights) and placed uniformly within ``[start, end]``. The
   other SNPs are placed uniformly in the gaps *between* genes (the gene intervals of a
   chromosome are merged first; a gap is drawn with probability proportional to its length).
   Positions are unique per chromosome; variants are sorted by chromosome and position.
   Genetic positions use 1 cM per Mb (``cM = pos / 1e6``).
2. **Allele frequencies.** The frequency of A1 (the minor allele, as PLINK 1.9 codes it) is
   ``min(x, 1 - x)`` with ``x ~ Beta(0.5, 0.5)``, redrawn while below ``min_maf``: a U-shaped,
   folded distribution with many rare and many common SNPs, truncated at ``min_maf`` (default
   0.01) like a QC'd SNP array.
3. **LD.** Each haplotype is a thresholded Gaussian first-order Markov chain (a latent AR(1)
   process) along the chromosome: ``u_1 ~ N(0, 1)``, ``u_j = rho_j u_(j-1) + sqrt(1 - rho_j^2)
   e_j`` with ``e_j ~ N(0, 1)`` and ``rho_j = exp(-d_j / ld_scale_kb)`` for the distance
   ``d_j`` (kb) to the previous SNP; the haplotype carries A1 at SNP j iff
   ``u_j < Phi^-1(p_j)``. Because every ``u_j`` is exactly N(0, 1), the marginal frequency of
   A1 is exactly ``p_j`` whatever the neighbouring frequencies (a plain "copy the previous
   allele with probability rho" chain would drift towards the neighbours' frequencies), and the
   correlation between SNPs decays with distance. Recombination hotspots, a Poisson process
   with mean spacing ``block_kb``, and chromosome ends set ``rho = 0``: they cut the genome into
   haplotype blocks (``variants["block"]``) with no LD between blocks.
4. **Genotypes.** Two independent haplotypes per individual (Hardy-Weinberg equilibrium);
   the dosage is the count of A1 (0, 1, 2), int8.

:func:`simulate_pedigree_genotypes` mates pairs of founders and transmits one gamete from each
parent per offspring (see there for phased and unphased founders).
"""

from __future__ import annotations

import dataclasses
from statistics import NormalDist

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError

__all__ = [
    "SimulatedGenotypes",
    "SimulatedPedigree",
    "simulate_genotypes",
    "simulate_pedigree_genotypes",
]

_BASES = np.array(list("ACGT"))
_AUTOSOMES = tuple(str(c) for c in range(1, 23))


@dataclasses.dataclass
class SimulatedGenotypes:
    """Result of :func:`simulate_genotypes`.

    Attributes
    ----------
    G : numpy.ndarray
        Shape (n_samples, n_snps), int8: dosage of allele A1 (0, 1, 2); no missing values.
    variants : pandas.DataFrame
        ``n_snps`` rows sorted by chromosome and position, the .bim columns of
        :func:`genoapp.io.write_plink`: ``chrom`` (str), ``id`` (str, ``"sim_<chrom>_<pos>"``),
        ``cM`` (float64, 1 cM/Mb), ``pos`` (int64, bp, 1-based), ``A1`` (minor allele),
        ``A2``; then ``gene`` (str: the gene the SNP was placed in, ``""`` between genes) and
        ``block`` (int64: haplotype block index, 0-based, increasing along the genome).
    samples : pandas.DataFrame
        ``n_samples`` rows: ``FID``, ``IID`` (str, equal: ``"S00001"``...), ``sex`` (int8,
        1 = male, 2 = female, each with probability 1/2), ``batch`` (str).
    freq : numpy.ndarray
        Shape (n_snps,), float64: population frequency of A1 used to simulate (<= 0.5).
    haplotypes : numpy.ndarray or None
        Shape (n_samples, 2, n_snps), int8, 1 = A1 on that haplotype; ``G = haplotypes.sum(1)``.
        ``None`` with ``keep_haplotypes=False``.
    parameters : dict
        The simulation parameters (for the provenance record).
    """

    G: np.ndarray
    variants: pd.DataFrame
    samples: pd.DataFrame
    freq: np.ndarray
    haplotypes: np.ndarray | None
    parameters: dict

    @property
    def gene_of_snp(self) -> np.ndarray:
        """Shape (n_snps,), object: gene of each SNP, ``""`` for SNPs between genes."""
        return self.variants["gene"].to_numpy(dtype=object)


@dataclasses.dataclass
class SimulatedPedigree:
    """Result of :func:`simulate_pedigree_genotypes`.

    Attributes
    ----------
    G : numpy.ndarray
        Shape (n_families * offspring_per_family, n_snps), int8: offspring A1 dosages (0/1/2),
        families in order, offspring of a family together.
    pedigree : pandas.DataFrame
        ``id``, ``sire``, ``dam`` (str, ``"0"`` = unknown): the founders used as parents (sire
        and dam ``"0"``) first, then the offspring; ready for
        :func:`genoapp.io.pedigree.make_pedigree` and the additive relationship matrix.
    samples : pandas.DataFrame
        One row per offspring, .fam-like: ``FID`` (family, ``"FAM0001"``...), ``IID``,
        ``father``, ``mother`` (founder ids), ``sex`` (int8, 1/2 at random).
    parent_index : numpy.ndarray
        Shape (n_offspring, 2), int64: row of the sire and of the dam in the founders' ``G``.
    haplotypes : numpy.ndarray or None
        Shape (n_offspring, 2, n_snps), int8 (paternal, maternal gamete), or ``None`` when the
        founders were unphased.
    parameters : dict
        The simulation parameters (for the provenance record).
    """

    G: np.ndarray
    pedigree: pd.DataFrame
    samples: pd.DataFrame
    parent_index: np.ndarray
    haplotypes: np.ndarray | None
    parameters: dict


def _batch_sizes(batches, n_samples: int) -> dict[str, int]:
    """Turn ``{name: count}`` or ``{name: fraction}`` into counts that sum to ``n_samples``."""
    if batches is None:
        return {"batch1": n_samples}
    if not isinstance(batches, dict) or not batches:
        raise ConfigError(
            f"batches={batches!r}: expected a non-empty dict batch name -> number of samples "
            "(int) or fraction of samples (float), or None for a single batch."
        )
    values = list(batches.values())
    names = [str(k) for k in batches]
    if any(not isinstance(v, (int, float, np.integer, np.floating)) or v < 0 for v in values):
        raise ConfigError(f"batches={batches!r}: every value must be a number >= 0.")
    if all(isinstance(v, (int, np.integer)) for v in values):
        if sum(values) != n_samples:
            raise ConfigError(
                f"batches={batches!r}: the counts sum to {sum(values)}, expected n_samples="
                f"{n_samples} (or give fractions that sum to 1)."
            )
        return dict(zip(names, (int(v) for v in values), strict=True))
    total = float(sum(values))
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(
            f"batches={batches!r}: fractions sum to {total:.6g}, expected 1 (or give integer "
            f"counts that sum to n_samples={n_samples})."
        )
    raw = np.asarray(values, dtype=float) * n_samples
    counts = np.floor(raw).astype(int)
    # Largest remainder: hand the samples lost to rounding to the largest fractional parts.
    for i in np.argsort(-(raw - counts), kind="stable")[: n_samples - counts.sum()]:
        counts[i] += 1
    return dict(zip(names, (int(c) for c in counts), strict=True))


def _merged_gaps(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaps (first, last bp, inclusive) between the merged intervals ``[start, end]``."""
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    gap_first = reach[:-1] + 1
    gap_last = s[1:] - 1
    ok = gap_last >= gap_first
    return gap_first[ok], gap_last[ok]


def _place_snps(genes: pd.DataFrame, n_snps, fraction_in_genes, snps_per_gene, rng):
    """Draw (chrom, pos, gene) for the SNPs; returns a DataFrame sorted by chrom and pos."""
    n_inside = int(round(fraction_in_genes * n_snps))
    n_between = n_snps - n_inside
    n_genes = min(len(genes), max(1, int(round(n_inside / snps_per_gene)))) if n_inside else 0
    chosen = rng.choice(len(genes), size=n_genes, replace=False) if n_genes else np.array([], int)
    gene_of = rng.choice(chosen, size=n_inside, replace=True) if n_inside else np.array([], int)
    starts = genes["start"].to_numpy(np.int64)
    ends = genes["end"].to_numpy(np.int64)
    inside = pd.DataFrame(
        {
            "chrom": genes["chrom"].to_numpy(dtype=object)[gene_of],
            "pos": rng.integers(starts[gene_of], ends[gene_of] + 1),
            "gene": genes["gene"].to_numpy(dtype=object)[gene_of],
        }
    )
    gap_chrom, gap_first, gap_last = [], [], []
    for chrom, sub in genes.groupby("chrom", sort=False):
        first, last = _merged_gaps(sub["start"].to_numpy(np.int64), sub["end"].to_numpy(np.int64))
        gap_chrom += [chrom] * len(first)
        gap_first.append(first)
        gap_last.append(last)
    gap_first = np.concatenate(gap_first) if gap_first else np.array([], np.int64)
    gap_last = np.concatenate(gap_last) if gap_last else np.array([], np.int64)
    if n_between and len(gap_first) == 0:
        raise ConfigError(
            "fraction_in_genes < 1 but the gene table has no gaps between genes on the chosen "
            "chromosomes; set fraction_in_genes=1.0 or give more genes."
        )
    between = pd.DataFrame({"chrom": [], "pos": [], "gene": []})
    if n_between:
        length = (gap_last - gap_first + 1).astype(float)
        gap = rng.choice(len(length), size=n_between, p=length / length.sum())
        between = pd.DataFrame(
            {
                "chrom": np.asarray(gap_chrom, dtype=object)[gap],
                "pos": rng.integers(gap_first[gap], gap_last[gap] + 1),
                "gene": np.full(n_between, "", dtype=object),
            }
        )
    snps = pd.concat([inside, between], ignore_index=True)
    snps["pos"] = snps["pos"].astype(np.int64)
    # Unique positions: redraw collisions (rare) within the same interval type.
    for _ in range(100):
        dup = snps.duplicated(["chrom", "pos"], keep="first").to_numpy()
        if not dup.any():
            break
        snps.loc[dup, "pos"] = snps.loc[dup, "pos"].to_numpy() + rng.integers(-500, 501, dup.sum())
        snps.loc[dup, "pos"] = np.maximum(snps.loc[dup, "pos"].to_numpy(), 1)
        snps.loc[dup, "gene"] = ""  # a moved SNP may have left its gene; do not claim it
    else:  # pragma: no cover - only with absurdly dense requests
        raise ConfigError(f"n_snps={n_snps}: could not place that many distinct positions.")
    chrom_rank = {c: i for i, c in enumerate(pd.unique(genes["chrom"]))}
    snps["_rank"] = snps["chrom"].map(chrom_rank)
    snps = snps.sort_values(["_rank", "pos"], kind="stable").drop(columns="_rank")
    return snps.reset_index(drop=True)


def _draw_freq(n: int, min_maf: float, rng) -> np.ndarray:
    """Folded Beta(0.5, 0.5) minor allele frequencies, truncated to >= min_maf."""
    freq = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        x = rng.beta(0.5, 0.5, size=todo.size)
        x = np.minimum(x, 1.0 - x)
        ok = x >= min_maf
        freq[todo[ok]] = x[ok]
        todo = todo[~ok]
    return freq


def simulate_genotypes(
    genes: pd.DataFrame,
    *,
    n_samples: int = 1000,
    n_snps: int = 2000,
    batches: dict[str, float] | None = None,
    chromosomes=None,
    fraction_in_genes: float = 0.7,
    snps_per_gene: float = 5.0,
    min_maf: float = 0.01,
    ld_scale_kb: float = 30.0,
    block_kb: float = 200.0,
    keep_haplotypes: bool = True,
    random_state: int = 2026,
) -> SimulatedGenotypes:
    """Simulate unrelated individuals' genotypes with LD, placed on real gene coordinates.

    The model is described in the module docstring (:mod:`genoapp.simulate.genotypes`).

    Parameters
    ----------
    genes : pandas.DataFrame
        Gene coordinates with columns ``gene``, ``chrom``, ``start``, ``end`` (bp, 1-based
        inclusive), as returned by :func:`genoapp.io.read_gene_table`.
    n_samples : int
        Number of individuals (>= 1).
    n_snps : int
        Number of SNPs (>= 1).
    batches : dict or None
        Batch name -> number of samples (ints summing to ``n_samples``) or fraction (floats
        summing to 1; rounded by largest remainder). Samples are assigned to batches in order
        (the first ``n_1`` samples to the first batch, ...). ``None``: one batch ``"batch1"``.
    chromosomes : sequence of str or None
        Chromosomes to use; ``None``: the autosomes 1-22 present in ``genes`` (X and Y would
        need sex-specific dosages).
    fraction_in_genes : float
        Share of SNPs placed inside genes, in [0, 1].
    snps_per_gene : float
        Average number of SNPs per gene hit (> 0): inside SNPs go to
        ``round(n_inside / snps_per_gene)`` randomly chosen genes.
    min_maf : float
        Smallest minor allele frequency, in (0, 0.5).
    ld_scale_kb : float
        Distance (kb) over which the latent correlation between neighbouring SNPs falls by
        ``1/e`` (> 0).
    block_kb : float
        Mean distance (kb) between recombination hotspots, the haplotype-block boundaries (> 0).
    keep_haplotypes : bool
        Keep the haplotypes (needed for :func:`simulate_pedigree_genotypes` to transmit whole
        haplotype segments).
    random_state : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same result.

    Returns
    -------
    SimulatedGenotypes

    Raises
    ------
    ConfigError
        A parameter out of range (the message names it and the allowed values), or no genes on
        the chosen chromosomes.
    InputDataError
        ``genes`` lacks one of the columns ``gene``, ``chrom``, ``start``, ``end``.
    """
    missing = {"gene", "chrom", "start", "end"} - set(genes.columns)
    if missing:
        raise InputDataError(
            f"gene table lacks columns {sorted(missing)}; expected gene, chrom, start, end as "
            "returned by genoapp.io.read_gene_table()."
        )
    for name, value in (("n_samples", n_samples), ("n_snps", n_snps)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name}={value!r}: expected an integer >= 1.")
    if not 0.0 <= fraction_in_genes <= 1.0:
        raise ConfigError(f"fraction_in_genes={fraction_in_genes}: expected a value in [0, 1].")
    if not 0.0 < min_maf < 0.5:
        raise ConfigError(f"min_maf={min_maf}: expected a value strictly between 0 and 0.5.")
    for name, value in (
        ("snps_per_gene", snps_per_gene),
        ("ld_scale_kb", ld_scale_kb),
        ("block_kb", block_kb),
    ):
        if not value > 0:
            raise ConfigError(f"{name}={value}: expected a number > 0.")
    sizes = _batch_sizes(batches, int(n_samples))

    chroms = genes["chrom"].astype(str)
    wanted = (
        [c for c in _AUTOSOMES if c in set(chroms)]
        if chromosomes is None
        else [str(c) for c in chromosomes]
    )
    table = genes.loc[chroms.isin(wanted), ["gene", "chrom", "start", "end"]].copy()
    if table.empty:
        raise ConfigError(
            f"chromosomes={chromosomes!r}: the gene table has no genes there (it has "
            f"{', '.join(pd.unique(chroms)[:25])})."
        )
    table["chrom"] = table["chrom"].astype(str)
    table["_rank"] = table["chrom"].map({c: i for i, c in enumerate(wanted)})
    table = table.sort_values(["_rank", "start"], kind="stable").drop(columns="_rank")

    rng = np.random.default_rng(random_state)
    snps = _place_snps(table, int(n_snps), fraction_in_genes, snps_per_gene, rng)
    m = len(snps)
    freq = _draw_freq(m, min_maf, rng)

    # Latent AR(1) correlation to the previous SNP; 0 at chromosome starts and hotspots.
    chrom_arr = snps["chrom"].to_numpy(dtype=object)
    pos = snps["pos"].to_numpy(np.int64)
    new_chrom = np.r_[True, chrom_arr[1:] != chrom_arr[:-1]]
    dist_kb = np.where(new_chrom, 0.0, np.r_[0.0, np.diff(pos)] / 1000.0)
    # Hotspots between SNPs j-1 and j: at least one event of a Poisson process of rate
    # 1/block_kb on the interval.
    hotspot = rng.random(m) < -np.expm1(-dist_kb / block_kb)
    cut = new_chrom | hotspot
    rho = np.where(cut, 0.0, np.exp(-dist_kb / ld_scale_kb))
    block = np.cumsum(cut) - 1

    inv = NormalDist().inv_cdf
    thresholds = np.array([inv(p) for p in freq])
    n_hap = 2 * int(n_samples)
    haps = np.empty((n_hap, m), dtype=np.int8)
    u = np.zeros(n_hap)
    for j in range(m):
        u = rho[j] * u + np.sqrt(1.0 - rho[j] ** 2) * rng.standard_normal(n_hap)
        haps[:, j] = u < thresholds[j]
    haps = haps.reshape(int(n_samples), 2, m)
    G = haps.sum(axis=1, dtype=np.int8)

    a1 = rng.integers(0, 4, size=m)
    a2 = (a1 + rng.integers(1, 4, size=m)) % 4
    variants = pd.DataFrame(
        {
            "chrom": pd.Series(chrom_arr, dtype=str),
            "id": [f"sim_{c}_{p}" for c, p in zip(chrom_arr, pos, strict=True)],
            "cM": pos / 1e6,
            "pos": pos,
            "A1": _BASES[a1],
            "A2": _BASES[a2],
            "gene": pd.Series(snps["gene"].to_numpy(dtype=object), dtype=str),
            "block": block.astype(np.int64),
        }
    )
    iid = [f"S{i + 1:05d}" for i in range(int(n_samples))]
    samples = pd.DataFrame(
        {
            "FID": iid,
            "IID": iid,
            "sex": rng.integers(1, 3, size=int(n_samples)).astype(np.int8),
            "batch": np.repeat(list(sizes), list(sizes.values())),
        }
    )
    params = {
        "model": "thresholded latent AR(1) haplotypes in blocks, HWE, genes from a gene table",
        "n_samples": int(n_samples),
        "n_snps": int(n_snps),
        "batches": sizes,
        "chromosomes": wanted,
        "fraction_in_genes": fraction_in_genes,
        "snps_per_gene": snps_per_gene,
        "maf_distribution": f"folded Beta(0.5, 0.5), truncated at {min_maf}",
        "min_maf": min_maf,
        "ld_scale_kb": ld_scale_kb,
        "block_kb": block_kb,
        "cM_per_Mb": 1.0,
        "random_state": random_state,
    }
    return SimulatedGenotypes(G, variants, samples, freq, haps if keep_haplotypes else None, params)


def _gametes(parent_haps: np.ndarray, switch_prob: np.ndarray, rng) -> np.ndarray:
    """One gamete per row of ``parent_haps`` (k, 2, m) with crossovers (Haldane)."""
    k, _, m = parent_haps.shape
    switch = rng.random((k, m)) < switch_prob
    strand = np.cumsum(switch, axis=1) % 2
    return np.take_along_axis(parent_haps, strand[:, None, :], axis=1)[:, 0, :].astype(np.int8)


def simulate_pedigree_genotypes(
    founders_G,
    *,
    n_families: int = 50,
    offspring_per_family: int = 2,
    founder_ids=None,
    random_state: int = 2026,
) -> SimulatedPedigree:
    """Simulate offspring of founder pairs by Mendelian transmission (e.g. full sibs).

    ``n_families`` disjoint sire/dam pairs are drawn at random from the founders (when the
    founders have a ``sex``, sires are males and dams females); each pair has
    ``offspring_per_family`` full-sib offspring, each receiving one gamete from each parent.

    Two transmission modes:

    * **Phased founders** (a :class:`SimulatedGenotypes` with ``haplotypes``): a gamete is a
      mosaic of the parent's two haplotypes, starting on a random one and switching between
      neighbouring SNPs with the Haldane recombination probability
      ``r = (1 - exp(-2 d)) / 2`` (``d`` in Morgans from ``variants["cM"]``; ``r = 1/2``
      across chromosomes). LD within blocks is kept.
    * **Unphased founders** (a dosage matrix, or ``keep_haplotypes=False``): phase is unknown,
      so every SNP is transmitted independently: a parent with dosage 0, 1, 2 passes A1 with
      probability 0, 1/2, 1. Genotypes stay Mendelian-consistent, but LD between linked SNPs
      is not transmitted (free recombination between all SNPs).

    Parameters
    ----------
    founders_G : SimulatedGenotypes or numpy.ndarray
        The founders: a :func:`simulate_genotypes` result, or a dosage matrix of shape
        (n_founders, n_snps) with values 0, 1, 2 (no missing values).
    n_families : int
        Number of founder pairs (>= 1; ``2 * n_families`` founders are needed, of each sex when
        sex is known).
    offspring_per_family : int
        Full sibs per family (>= 1).
    founder_ids : sequence of str, optional
        Shape (n_founders,): ids of the founders for a dosage matrix (default ``"F00001"``...);
        a :class:`SimulatedGenotypes` uses its ``samples["IID"]``.
    random_state : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    SimulatedPedigree

    Raises
    ------
    ConfigError
        ``n_families`` or ``offspring_per_family`` below 1, or more families than founder pairs.
    InputDataError
        Founders' dosages not a 2-D matrix of 0, 1, 2.
    """
    for name, value in (("n_families", n_families), ("offspring_per_family", offspring_per_family)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name}={value!r}: expected an integer >= 1.")
    haps = None
    sex = None
    if isinstance(founders_G, SimulatedGenotypes):
        G = np.asarray(founders_G.G)
        ids = founders_G.samples["IID"].astype(str).to_numpy()
        sex = founders_G.samples["sex"].to_numpy()
        haps = founders_G.haplotypes
        cm = founders_G.variants["cM"].to_numpy(float)
        chrom = founders_G.variants["chrom"].astype(str).to_numpy()
    else:
        G = np.asarray(founders_G)
        if G.ndim != 2:
            raise InputDataError(
                f"founders_G has shape {G.shape}; expected (n_founders, n_snps) dosages."
            )
        if founder_ids is None:
            ids = np.array([f"F{i + 1:05d}" for i in range(G.shape[0])])
        else:
            ids = np.asarray(founder_ids, dtype=str)
            if ids.shape != (G.shape[0],):
                raise InputDataError(
                    f"founder_ids has {ids.size} ids for {G.shape[0]} founders; expected one each."
                )
    if G.ndim != 2 or not np.isin(G, (0, 1, 2)).all():
        raise InputDataError(
            "founders_G must hold dosages 0, 1, 2 only (no missing values); impute or drop "
            "missing genotypes first."
        )
    n_founders, m = G.shape
    rng = np.random.default_rng(random_state)
    if sex is not None:
        males, females = np.flatnonzero(sex == 1), np.flatnonzero(sex == 2)
        if n_families > min(len(males), len(females)):
            raise ConfigError(
                f"n_families={n_families}: the founders have {len(males)} males and "
                f"{len(females)} females; at most {min(len(males), len(females))} families."
            )
        sires = rng.choice(males, size=n_families, replace=False)
        dams = rng.choice(females, size=n_families, replace=False)
    else:
        if 2 * n_families > n_founders:
            raise ConfigError(
                f"n_families={n_families}: needs {2 * n_families} founders, only {n_founders} "
                f"given; at most {n_founders // 2} families."
            )
        pick = rng.choice(n_founders, size=2 * n_families, replace=False)
        sires, dams = pick[:n_families], pick[n_families:]

    k = int(offspring_per_family)
    sire_of = np.repeat(sires, k)
    dam_of = np.repeat(dams, k)
    n_off = len(sire_of)
    if haps is not None:
        d_morgan = np.r_[0.0, np.diff(cm)] / 100.0
        r = 0.5 * -np.expm1(-2.0 * np.abs(d_morgan))
        r[np.r_[True, chrom[1:] != chrom[:-1]]] = 0.5
        off_haps = np.stack(
            [_gametes(haps[sire_of], r, rng), _gametes(haps[dam_of], r, rng)], axis=1
        )
        off_G = off_haps.sum(axis=1, dtype=np.int8)
    else:
        off_haps = None
        paternal = rng.random((n_off, m)) < G[sire_of] / 2.0
        maternal = rng.random((n_off, m)) < G[dam_of] / 2.0
        off_G = (paternal.astype(np.int8) + maternal.astype(np.int8)).astype(np.int8)

    fam = np.repeat([f"FAM{f + 1:04d}" for f in range(n_families)], k)
    off_ids = [f"{f}_O{j + 1}" for f in fam[::k] for j in range(k)]
    samples = pd.DataFrame(
        {
            "FID": fam,
            "IID": off_ids,
            "father": ids[sire_of],
            "mother": ids[dam_of],
            "sex": rng.integers(1, 3, size=n_off).astype(np.int8),
        }
    )
    parents = np.r_[sires, dams]
    pedigree = pd.DataFrame(
        {
            "id": np.r_[ids[parents], np.asarray(off_ids)],
            "sire": np.r_[np.full(len(parents), "0"), ids[sire_of]],
            "dam": np.r_[np.full(len(parents), "0"), ids[dam_of]],
        }
    ).astype(str)
    params = {
        "model": "Mendelian transmission, "
        + ("haplotype mosaics with Haldane crossovers" if haps is not None else "SNPs independent"),
        "n_families": int(n_families),
        "offspring_per_family": k,
        "random_state": random_state,
    }
    return SimulatedPedigree(
        off_G, pedigree, samples, np.column_stack([sire_of, dam_of]), off_haps, params
    )
