"""Additive vs epistatic traits: what a linear model can and cannot learn.

Two case/control traits are simulated on the same simulated genotypes
(:func:`genoapp.simulate.simulate_genotypes`, LD on real gene positions) with a
liability-threshold model (:func:`genoapp.simulate.simulate_binary_trait`): one purely additive
(each causal gene adds its score), one purely epistatic (the liability is a sum of products of
two genes' scores, with no effect of either gene alone). A logistic regression (linear in the
dosages) and a neural network (scikit-learn ``MLPClassifier``, two hidden layers, early
stopping on a validation split of the training samples) are trained on the same training
samples and scored on the same test samples (ROC AUC). The linear model does well on the
additive trait and near chance on the epistatic one; the network learns both.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError

__all__ = ["EpistasisResult", "additive_vs_epistatic_lesson"]


@dataclasses.dataclass
class EpistasisResult:
    """Outcome of :func:`additive_vs_epistatic_lesson`.

    Attributes
    ----------
    table : pandas.DataFrame
        ``trait`` ("additive" or "epistatic"), ``model`` ("Logistic regression" or "Neural
        network"), ``test_roc_auc``, ``test_accuracy``.
    truth : dict of str -> pandas.DataFrame
        The planted genes of each trait (:attr:`BinaryTraitSimulation.truth`).
    n_samples, n_snps : int
    seconds : float
    """

    table: pd.DataFrame
    truth: dict
    n_samples: int
    n_snps: int
    seconds: float


def additive_vs_epistatic_lesson(*, n_samples: int = 5000, n_snps: int = 100, h2: float = 0.9,
                                 n_genes: int = 4, test_size: float = 0.25,
                                 random_state: int = 0) -> EpistasisResult:
    """Logistic regression vs neural network on an additive and an epistatic trait.

    Parameters
    ----------
    n_samples : int, default 5000
    n_snps : int, default 100
        Few SNPs keep the interactions learnable from a few thousand samples.
    h2 : float, default 0.9
        Liability-scale heritability of both traits (prevalence 0.5).
    n_genes : int, default 4
        Causal genes: ``n_genes`` additive genes, or ``n_genes / 2`` interacting pairs; two
        causal SNPs per gene.
    test_size : float, default 0.25
    random_state : int, default 0

    Returns
    -------
    EpistasisResult

    Raises
    ------
    ConfigError
        Out-of-range settings.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    from genoapp.demo import HG19_GENES
    from genoapp.io import read_gene_table
    from genoapp.simulate import simulate_binary_trait, simulate_genotypes

    if not 0 < h2 < 1:
        raise ConfigError(f"h2: must be in (0, 1), got {h2!r}.")
    if n_genes < 2 or n_genes % 2:
        raise ConfigError(f"n_genes: must be an even number >= 2, got {n_genes!r}.")
    t0 = time.perf_counter()
    sg = simulate_genotypes(read_gene_table(HG19_GENES), n_samples=n_samples, n_snps=n_snps,
                            random_state=random_state)
    G = sg.G.astype(np.float64)
    X = (G - G.mean(axis=0)) / np.where(G.std(axis=0) > 0, G.std(axis=0), 1.0)
    common = dict(h2=h2, prevalence=0.5, n_dominance_genes=0, dominance=0.0, n_causal_snps=2,
                  random_state=random_state + 1)
    traits = {
        "additive": simulate_binary_trait(G, sg.gene_of_snp, n_additive_genes=n_genes,
                                          n_interacting_pairs=0, interaction=0.0, **common),
        "epistatic": simulate_binary_trait(G, sg.gene_of_snp, n_additive_genes=0,
                                           n_interacting_pairs=n_genes // 2, interaction=1.0, **common),
    }
    rows = []
    for trait, sim in traits.items():
        y = sim.phenotype.astype(int)
        tr, te = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y,
                                  random_state=random_state)
        models = {
            "Logistic regression": LogisticRegression(C=0.1, max_iter=2000),
            "Neural network": MLPClassifier(hidden_layer_sizes=(64, 32), alpha=1e-3, max_iter=500,
                                            early_stopping=True, random_state=random_state),
        }
        for name, model in models.items():
            model.fit(X[tr], y[tr])
            score = model.predict_proba(X[te])[:, 1]
            rows.append({"trait": trait, "model": name,
                         "test_roc_auc": float(roc_auc_score(y[te], score)),
                         "test_accuracy": float(((score > 0.5).astype(int) == y[te]).mean())})
    return EpistasisResult(table=pd.DataFrame(rows), truth={k: v.truth for k, v in traits.items()},
                           n_samples=int(n_samples), n_snps=int(G.shape[1]),
                           seconds=time.perf_counter() - t0)
