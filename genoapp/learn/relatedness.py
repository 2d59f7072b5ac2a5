"""Relatedness lesson: relatives split across training and test inflate prediction accuracy.

Families are simulated with :mod:`genoapp.simulate` (unrelated founders with LD on real gene
coordinates, full-sib offspring by Mendelian transmission) and a polygenic quantitative trait
with heritability ``h2`` is simulated on the offspring. A ridge regression on standardised
dosages (genomic BLUP's equivalent, penalty ``m (1 - h2) / h2``) predicts the trait of test
samples, once with a **random split** (siblings of most test samples are in training) and once
with a **family split** (whole families in training or test; scikit-learn
``GroupShuffleSplit``). The random split's accuracy measures how alike siblings are, not how
well the trait is predicted in new, unrelated people.

The relatedness check uses the genomic relationship matrix (GRM; VanRaden 2008, method 1 with
the training samples' allele frequencies): for each test sample, its largest relationship to a
training sample; values near 0.5 are first-degree relatives (siblings, parent-offspring).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError

__all__ = ["RelatednessResult", "relatedness_lesson"]

FIRST_DEGREE = 0.35  # GRM above this: first-degree relatives (expected 0.5)


@dataclasses.dataclass
class RelatednessResult:
    """Outcome of :func:`relatedness_lesson`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per repeat and split ("random", "by family"): ``repeat``, ``split``,
        ``pearson_r`` and ``mse`` (test set, standardised trait), ``test_with_relative``
        (fraction of test samples with a first-degree relative in training).
    max_relationship : dict of str -> ndarray
        For the first repeat, each test sample's largest GRM value with a training sample.
    n_samples, n_families, n_snps : int
    h2 : float
        Realised heritability of the simulated trait.
    seconds : float
    """

    table: pd.DataFrame
    max_relationship: dict
    n_samples: int
    n_families: int
    n_snps: int
    h2: float
    seconds: float


def _grm_max(Z_tr: np.ndarray, Z_te: np.ndarray) -> np.ndarray:
    K = Z_te @ Z_tr.T / Z_tr.shape[1]
    return K.max(axis=1)


def relatedness_lesson(*, n_families: int = 150, offspring_per_family: int = 4, n_snps: int = 3000,
                       h2: float = 0.6, n_causal: int = 500, test_size: float = 0.25,
                       n_repeats: int = 3, random_state: int = 0) -> RelatednessResult:
    """Random vs family-grouped split of simulated full-sib families.

    Parameters
    ----------
    n_families : int, default 150
        Full-sib families (each from a sire and a dam among ``2.4 * n_families + 10`` unrelated
        simulated founders of random sex).
    offspring_per_family : int, default 4
    n_snps : int, default 3000
        SNPs on the hg19 genes shipped with genoapp (LD within blocks).
    h2 : float, default 0.6
        Heritability of the trait (in (0, 1)).
    n_causal : int, default 500
        Causal SNPs (polygenic).
    test_size : float, default 0.25
        Fraction of samples (random split) or of families (family split) in the test set.
    n_repeats : int, default 3
    random_state : int, default 0

    Returns
    -------
    RelatednessResult

    Raises
    ------
    ConfigError
        Out-of-range settings.
    """
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

    from genoapp.demo import HG19_GENES
    from genoapp.io import read_gene_table
    from genoapp.simulate import (
        simulate_genotypes,
        simulate_pedigree_genotypes,
        simulate_quantitative_traits,
    )

    if not 0 < h2 < 1:
        raise ConfigError(f"h2: must be in (0, 1), got {h2!r}.")
    if n_families < 8 or offspring_per_family < 2:
        raise ConfigError("n_families >= 8 and offspring_per_family >= 2 are needed for the lesson; "
                          f"got {n_families} and {offspring_per_family}.")
    t0 = time.perf_counter()
    founders = simulate_genotypes(read_gene_table(HG19_GENES), n_samples=int(2.4 * n_families) + 10, n_snps=n_snps,
                                  random_state=random_state)
    ped = simulate_pedigree_genotypes(founders, n_families=n_families,
                                      offspring_per_family=offspring_per_family,
                                      random_state=random_state + 1)
    G = ped.G.astype(np.float64)
    trait = simulate_quantitative_traits(G, n_traits=1, h2=h2, n_causal=min(n_causal, G.shape[1]),
                                         random_state=random_state + 2)
    y = trait.Y[:, 0]
    fam = ped.samples["FID"].to_numpy()
    rows, max_rel = [], {}
    splitters = {"random": ShuffleSplit(n_splits=n_repeats, test_size=test_size, random_state=random_state),
                 "by family": GroupShuffleSplit(n_splits=n_repeats, test_size=test_size,
                                                random_state=random_state)}
    for name, splitter in splitters.items():
        parts = splitter.split(G, y, groups=fam) if name == "by family" else splitter.split(G, y)
        for r, (tr, te) in enumerate(parts):
            p = G[tr].mean(axis=0) / 2
            keep = (p > 0) & (p < 1)
            Z = (G[:, keep] - 2 * p[keep]) / np.sqrt(2 * p[keep] * (1 - p[keep]))
            m = Z.shape[1]
            mu, sd = y[tr].mean(), y[tr].std()
            model = Ridge(alpha=m * (1 - h2) / h2).fit(Z[tr], (y[tr] - mu) / sd)
            pred = model.predict(Z[te])
            obs = (y[te] - mu) / sd
            gmax = _grm_max(Z[tr], Z[te])
            if r == 0:
                max_rel[name] = gmax
            rows.append({"repeat": r, "split": name, "pearson_r": float(np.corrcoef(pred, obs)[0, 1]),
                         "mse": float(np.mean((pred - obs) ** 2)),
                         "test_with_relative": float((gmax > FIRST_DEGREE).mean())})
    return RelatednessResult(table=pd.DataFrame(rows), max_relationship=max_rel, n_samples=int(len(y)),
                             n_families=int(n_families), n_snps=int(G.shape[1]),
                             h2=float(trait.h2_realised[0]), seconds=time.perf_counter() - t0)
