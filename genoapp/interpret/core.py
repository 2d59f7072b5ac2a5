"""Core genes: the genes with the highest one-gene-only case coupling (DESIGN §4.4).

A gene is *core* when its score ``c^g_{k*,case}`` is at or above the q-th percentile of all
genes' scores (paper: q = 95). Ties at the cut-off are kept: on the authors' own table
(``../shared/reference/diseasecapsule/fig4a_gene_coupling.tsv.gz``, 18,265 genes) the 95th
percentile of ``als_pc5`` keeps exactly the paper's 922 genes this way (a strict ``>`` keeps
909, because their float32 scores tie at the cut-off).

:func:`core_genes_against_null` selects core genes from the table of
:func:`genoapp.interpret.null.gene_scan_null` instead: the genes marked significant against
permuted-label reference networks, or the percentile rule with ties at the resolution of the
scan's arithmetic kept together.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError

__all__ = ["CoreGenes", "core_genes", "core_genes_against_null"]


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
        The ``percentile``-th percentile of the scores (numpy's linear interpolation). With
        ``rule="significant"``: the lowest score of a core gene (NaN when there is none).
    percentile : float
    rule : str, default "percentile"
        How ``core`` was decided: "percentile" (:func:`core_genes`, or
        :func:`core_genes_against_null` with tie groups kept whole), "significant" or "both"
        (:func:`core_genes_against_null`).
    alpha : float or None
        FDR level of the ``significant`` column, when the table comes from a null.
    """

    table: pd.DataFrame
    cutoff: float
    percentile: float
    rule: str = "percentile"
    alpha: float | None = None

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


def _check_percentile(percentile) -> None:
    if isinstance(percentile, bool) or not isinstance(percentile, int | float | np.number) \
            or not 0.0 <= float(percentile) <= 100.0:
        raise ConfigError(f"percentile: must be in [0, 100], got {percentile!r} (paper: 95).")


def _add_locations(df: pd.DataFrame, summary: pd.DataFrame | None, at: int = 2) -> pd.DataFrame:
    """Insert ``chrom``, ``start``, ``end``, ``n_snps`` from ``FeatureSet.summary`` at column ``at``."""
    if summary is None:
        return df
    if "gene" not in summary.columns:
        raise InputDataError("summary: needs a 'gene' column (FeatureSet.summary).")
    sm = summary.drop_duplicates("gene").set_index("gene")
    start = sm["gene_start"] if "gene_start" in sm.columns else sm.get("start_bp")
    end = sm["gene_end"] if "gene_end" in sm.columns else sm.get("end_bp")
    loc = pd.DataFrame({"chrom": sm.get("chrom"), "start": start, "end": end,
                        "n_snps": sm.get("n_snps")}, index=sm.index)
    loc = loc.reindex(df["gene"].to_numpy())
    i = at
    for col in ["chrom", "start", "end", "n_snps"]:
        if col in loc.columns and loc[col].notna().any():
            df.insert(i, col, loc[col].to_numpy())
            i += 1
    return df


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
    _check_percentile(percentile)
    cutoff = float(np.percentile(s, float(percentile)))
    order = np.argsort(-s, kind="stable")
    df = pd.DataFrame({"gene": g[order], "score": s[order]})
    df.insert(0, "rank", pd.Series(df["score"]).rank(method="min", ascending=False).astype(np.int64).to_numpy())
    df = _add_locations(df, summary, at=2)
    df["core"] = df["score"].to_numpy() >= cutoff
    return CoreGenes(table=df.reset_index(drop=True), cutoff=cutoff, percentile=float(percentile))


_NULL_COLUMNS = ["rank", "gene", "score", "tie_group", "n_tied", "p_value", "q", "significant"]


def core_genes_against_null(table: pd.DataFrame, *, rule: str = "significant", percentile: float = 95.0,
                            summary: pd.DataFrame | None = None) -> CoreGenes:
    """Core genes from a gene scan tested against permuted-label networks.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`genoapp.interpret.null.gene_scan_null` output (columns ``rank``, ``gene``,
        ``score``, ``tie_group``, ``n_tied``, ``p_value``, ``q``, ``significant``; ``z`` and
        ``p_empirical`` are kept when present).
    rule : {"significant", "percentile", "both"}, default "significant"
        "significant": the genes with ``q < alpha`` (the table's ``significant``).
        "percentile": the paper's rule, score at or above the ``percentile``-th percentile of
        all scores, with ties kept whole: a tie group (scores within the scan's arithmetic
        resolution) with any gene at or above the cut-off is in **as a whole**, so genes tied
        with the cut-off score are all in (as :func:`core_genes` keeps exact ties).
        "both": the percentile rule and significant.
    percentile : float, default 95
        In [0, 100]; used by "percentile" and "both".
    summary : pandas.DataFrame, optional
        ``FeatureSet.summary``: adds ``chrom``, ``start``, ``end``, ``n_snps``.

    Returns
    -------
    CoreGenes
        ``table`` best first with ``rank``, ``gene``, location columns, ``score``, the null
        columns (``z``, ``tie_group``, ``n_tied``, ``p_empirical``, ``p_value``, ``q``,
        ``significant`` where present) and ``core``; ``cutoff`` is the percentile of the
        scores for "percentile"/"both" and the lowest core score for "significant" (NaN when no
        gene is core); ``rule``; ``alpha`` from ``table.attrs`` when present.

    Raises
    ------
    InputDataError
        Missing columns or NaN scores.
    ConfigError
        Unknown rule or percentile outside [0, 100].
    """
    if rule not in ("significant", "percentile", "both"):
        raise ConfigError(f"rule: must be 'significant', 'percentile' or 'both', got {rule!r}.")
    _check_percentile(percentile)
    missing = [c for c in _NULL_COLUMNS if c not in table.columns]
    if missing:
        raise InputDataError(f"table: missing column(s) {missing}; pass the output of gene_scan_null.")
    if len(table) == 0:
        raise InputDataError("table: no genes to rank.")
    s = table["score"].to_numpy(dtype=np.float64)
    if np.isnan(s).any():
        raise InputDataError(f"table: {int(np.isnan(s).sum())} NaN score(s); rerun the gene scan.")
    order = np.lexsort((np.arange(s.size), -s))
    keep = [c for c in ["rank", "gene", "score", "z", "tie_group", "n_tied", "p_empirical", "p_value",
                        "q", "significant"] if c in table.columns]
    df = table.iloc[order][keep].reset_index(drop=True)
    df = _add_locations(df, summary)
    cutoff = float(np.percentile(s, float(percentile)))
    above = df["score"].to_numpy() >= cutoff
    groups = df["tie_group"].to_numpy()
    in_pct = np.isin(groups, groups[above])          # a tie group reaching the cut-off: all in
    sig = df["significant"].to_numpy(dtype=bool)
    core = {"significant": sig, "percentile": in_pct, "both": in_pct & sig}[rule]
    df["core"] = core
    if rule == "significant":
        cutoff = float(df.loc[core, "score"].min()) if core.any() else float("nan")
    alpha = table.attrs.get("alpha") if hasattr(table, "attrs") else None
    return CoreGenes(table=df, cutoff=cutoff, percentile=float(percentile), rule=rule,
                     alpha=None if alpha is None else float(alpha))
