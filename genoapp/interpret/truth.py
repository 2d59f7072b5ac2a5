"""Known-truth checks: how many planted genes a selection recovers, against chance.

On simulated phenotypes (the demo cohort, :func:`genoapp.demo.load_demo_truth`) the causal
genes are known. A selection of ``n`` genes out of ``N`` scanned recovers ``k`` of the ``K``
planted genes present among the ``N``; a random set of ``n`` genes recovers a hypergeometric
number (expected recall ``n / N``), so the one-sided p-value is ``P(X >= k)`` for
``X ~ Hypergeom(N, K, n)`` (:class:`scipy.stats.hypergeom`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import hypergeom

from genoapp.errors import InputDataError

__all__ = ["planted_recall"]


def planted_recall(selected, planted, universe, *, label: str = "selection") -> dict:
    """Recall of planted genes by a gene selection, with the chance expectation.

    Parameters
    ----------
    selected : array-like of gene keys
        The selection (e.g. core genes, the GA's genes).
    planted : array-like of gene keys
        Planted (causal) genes; those absent from ``universe`` are ignored and counted.
    universe : array-like of gene keys
        Every gene the selection was drawn from (e.g. all scanned genes).
    label : str
        Name of the selection, copied to the result.

    Returns
    -------
    dict
        ``selection``, ``n_selected``, ``n_universe``, ``n_planted`` (in the universe),
        ``n_planted_missing`` (not in the universe), ``hits``, ``recall`` (hits / n_planted),
        ``random_recall`` (expected recall of a random set of the same size, n / N),
        ``random_recall_95`` (upper 95 % point of the random recall), ``enrichment``
        (recall / random recall), ``p_value`` (hypergeometric P(hits >= observed)),
        ``hit_genes`` (list).

    Raises
    ------
    InputDataError
        Empty universe, or selected genes outside the universe.
    """
    uni = pd.unique(np.asarray(universe, dtype=object))
    if uni.size == 0:
        raise InputDataError("universe: no genes.")
    uset = set(uni.tolist())
    sel = pd.unique(np.asarray(selected, dtype=object))
    outside = [g for g in sel.tolist() if g not in uset]
    if outside:
        raise InputDataError(f"selected: {len(outside)} gene(s) are not in the universe, e.g. {outside[:3]}.")
    pl = pd.unique(np.asarray(planted, dtype=object)).tolist()
    present = [g for g in pl if g in uset]
    sset = set(sel.tolist())
    hits = [g for g in present if g in sset]
    N, K, n, k = uni.size, len(present), sel.size, len(hits)
    recall = k / K if K else float("nan")
    rnd = n / N
    hi = hypergeom(N, K, n).ppf(0.95) / K if K else float("nan")
    p = float(hypergeom(N, K, n).sf(k - 1)) if K else float("nan")
    return {"selection": label, "n_selected": int(n), "n_universe": int(N), "n_planted": int(K),
            "n_planted_missing": int(len(pl) - K), "hits": int(k), "recall": float(recall),
            "random_recall": float(rnd), "random_recall_95": float(hi),
            "enrichment": float(recall / rnd) if rnd > 0 and K else float("nan"), "p_value": p,
            "hit_genes": hits}
