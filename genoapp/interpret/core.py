"""Core genes: the genes with the highest one-gene-only case coupling (DESIGN §4.4).

A gene is *core* when its score ``c^g_{k*,case}`` is at or above the q-th percentile of all
genes' scores (paper: q = 95). Ties at the cut-off are kept: on the authors' own table
(``../shared/reference/diseasecapsule/fig4a_gene_coupling.tsv.gz``, 18,265 genes) the 95th
percentile of ``als_pc5`` keeps exactly the paper's 922 genes this way (a strict ``>`` keeps
909, because their float32 scores tie at the cut-off).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError

__all__ = ["CoreGenes", "core_genes"]


@dataclasses.dataclass
class CoreGenes:
    """Genes ranked by score, with the core-gene cut-off.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per gene, best first: ``rank`` (1 = highest score; ties share the smallest
        rank), ``gene``, ``chrom``, ``start``, ``end`` (bp; the gene's own coordinates when the
        summary has them, else the span of its SNPs), ``n_snps``, ``score``, ``core`` (bool).
        Location columns are absent when no summary was given.
    cutoff : float
        The ``percentile``-th percentile of the scores (numpy's linear interpolation).
    percentile : float
    """

    table: pd.DataFrame
    cutoff: float
    percentile: float

    @property
    def genes(self) -> np.ndarray:
        """Keys of the core genes, best first."""
        return self.table.loc[self.table["core"], "gene"].to_numpy(dtype=object)

    @property
    def n_core(self) -> int:
        return int(self.table["core"].sum())

    def core_table(self) -> pd.DataFrame:
        """The core genes only (for display and CSV download)."""
        return self.table[self.table["core"]].drop(columns="core").reset_index(drop=True)


def core_genes(scores, genes, *, percentile: float = 95.0, summary: pd.DataFrame | None = None) -> CoreGenes:
    """Select the genes whose score is at or above a percentile of all scores.

    Parameters
    ----------
    scores : array-like (G,)
        Ranking statistic per gene, e.g. ``GeneScanResult.scores()`` (``c^g_{k*,case}``).
    genes : array-like (G,)
        Gene keys, aligned with ``scores``.
    percentile : float, default 95
        In [0, 100]. Genes with ``score >= np.percentile(scores, percentile)`` are core.
    summary : pandas.DataFrame, optional
        ``FeatureSet.summary`` (columns ``gene``, ``chrom``, ``start_bp``, ``end_bp``,
        ``n_snps`` and optionally ``gene_start``, ``gene_end``): adds the location columns.

    Returns
    -------
    CoreGenes

    Raises
    ------
    InputDataError
        Lengths differ, no genes, or NaN scores.
    ConfigError
        Percentile outside [0, 100].
    """
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(genes, dtype=object)
    if s.ndim != 1 or g.shape != s.shape:
        raise InputDataError(f"scores and genes: expected two 1-D arrays of the same length, got "
                             f"{s.shape} and {g.shape}.")
    if s.size == 0:
        raise InputDataError("scores: no genes to rank.")
    if np.isnan(s).any():
        raise InputDataError(f"scores: {int(np.isnan(s).sum())} NaN value(s); rerun the gene scan.")
    if isinstance(percentile, bool) or not isinstance(percentile, int | float | np.number) \
            or not 0.0 <= float(percentile) <= 100.0:
        raise ConfigError(f"percentile: must be in [0, 100], got {percentile!r} (paper: 95).")
    cutoff = float(np.percentile(s, float(percentile)))
    order = np.argsort(-s, kind="stable")
    df = pd.DataFrame({"gene": g[order], "score": s[order]})
    df.insert(0, "rank", pd.Series(df["score"]).rank(method="min", ascending=False).astype(np.int64).to_numpy())
    if summary is not None:
        if "gene" not in summary.columns:
            raise InputDataError("summary: needs a 'gene' column (FeatureSet.summary).")
        sm = summary.drop_duplicates("gene").set_index("gene")
        start = sm["gene_start"] if "gene_start" in sm.columns else sm.get("start_bp")
        end = sm["gene_end"] if "gene_end" in sm.columns else sm.get("end_bp")
        loc = pd.DataFrame({"chrom": sm.get("chrom"), "start": start, "end": end,
                            "n_snps": sm.get("n_snps")}, index=sm.index)
        loc = loc.reindex(df["gene"].to_numpy())
        for i, col in enumerate(["chrom", "start", "end", "n_snps"]):
            if col in loc.columns and loc[col].notna().any():
                df.insert(2 + i, col, loc[col].to_numpy())
    df["core"] = df["score"].to_numpy() >= cutoff
    return CoreGenes(table=df.reset_index(drop=True), cutoff=cutoff, percentile=float(percentile))
