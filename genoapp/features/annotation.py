"""SNP-to-gene annotation and SNP windows (DESIGN §4.2).

Both :func:`annotate_snps` and :func:`snp_windows` return the same *long* table, one row per
(variant, gene) pair, which :class:`genoapp.features.GenePCA` consumes:

============== ===============================================================================
column         meaning
============== ===============================================================================
variant_index  int, column of the variant in the genotype matrix (row of the variants table)
variant_id     str, variant identifier (bim column 2)
chrom          str, chromosome label (normalised, see below)
pos            int, base-pair position of the variant (bim column 4)
gene           str, gene *key* (unique per gene-table record) or window name
relation       str, ``"inside"``, ``"nearest"`` or ``"window"``
distance_bp    int, distance from the variant to the gene body (0 inside the gene)
gene_symbol    str, gene symbol as in the table (window name for windows)
gene_start     int, gene start (bp, inclusive; window start for windows)
gene_end       int, gene end (bp, inclusive; window end for windows)
============== ===============================================================================

Chromosome labels are compared as strings after normalisation: surrounding white space and a
leading ``chr`` (any case) are removed and leading zeros of numeric labels are dropped
(``"chr01"`` -> ``"1"``). Where a variant label is absent from the gene table but its PLINK
numeric alias is present, the alias is used (``23`` -> ``X``, ``24`` -> ``Y``, ``25`` -> ``XY``,
``26`` -> ``MT``, and back), so a bim file with numeric sex chromosomes matches the hg19 table
while species with more than 22 autosomes keep their own numbering.

Counts of variants that could not be annotated are stored in ``DataFrame.attrs`` of the result
(``n_variants``, ``n_annotated_variants``, ``n_inside_variants``, ``n_nearest_variants``,
``n_unannotated_variants``, ``unannotated_chroms``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError

__all__ = [
    "ANNOTATION_COLUMNS",
    "annotate_snps",
    "annotation_summary",
    "check_build",
    "gene_keys",
    "normalize_chrom",
    "snp_windows",
]

ANNOTATION_COLUMNS = [
    "variant_index",
    "variant_id",
    "chrom",
    "pos",
    "gene",
    "relation",
    "distance_bp",
    "gene_symbol",
    "gene_start",
    "gene_end",
]

# Positions are packed with the chromosome code into one int64 key: code * 2**40 + position.
# 2**40 bp (1.1e12) is far above any chromosome length; 2**23 codes fit below 2**63.
_SHIFT = np.int64(1 << 40)
_MAX_POS = int(_SHIFT) - 1
# Upper bound of candidate (variant, gene) pairs expanded at once (memory ~ 16 bytes each).
_MAX_PAIRS = 8_000_000

_PLINK_ALIASES = {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT"}
_PLINK_ALIASES_BACK = {"X": "23", "Y": "24", "XY": "25", "MT": "26"}


def normalize_chrom(values) -> np.ndarray:
    """Normalise chromosome labels to plain strings.

    Parameters
    ----------
    values : array-like of str or int, shape (n,)
        Chromosome codes as found in a bim file or a gene table.

    Returns
    -------
    numpy.ndarray of str, shape (n,)
        Labels with white space and a leading ``chr``/``Chr``/``CHR`` removed and leading zeros
        of numeric labels dropped (``"chr01"`` -> ``"1"``, ``1`` -> ``"1"``, ``"chrX"`` -> ``"X"``).
        Letters are upper-cased only for the sex/mitochondrial codes ``x``, ``y``, ``xy``, ``mt``,
        ``m``.
    """
    s = pd.Series(np.asarray(values).astype(str), dtype=object).str.strip()
    s = s.str.replace(r"^[cC][hH][rR]", "", regex=True)
    numeric = s.str.fullmatch(r"\d+")
    s = s.where(~numeric, s.str.lstrip("0").replace("", "0"))
    upper = s.str.upper()
    s = s.where(~upper.isin(["X", "Y", "XY", "MT", "M"]), upper)
    return s.to_numpy(dtype=object).astype(str)


def gene_keys(genes: pd.DataFrame) -> np.ndarray:
    """Unique key of every record of a gene table.

    The key is the gene symbol where the symbol occurs once in the table, else
    ``"SYMBOL@CHROM:START"`` (e.g. the pseudo-autosomal ``SHOX`` on X and Y becomes
    ``"SHOX@X:60001"`` and ``"SHOX@Y:10001"``; hg19 ``glist`` has 537 such symbols). Should
    symbol, chromosome and start still coincide, ``"-END"`` is appended, then ``"#ROW"``.

    Parameters
    ----------
    genes : pandas.DataFrame
        Columns ``gene`` (symbol), ``chrom`` (or ``chromosome``), ``start``, ``end``.

    Returns
    -------
    numpy.ndarray of str, shape (n_genes,)
    """
    g = _check_genes(genes)
    sym = g["gene"].to_numpy(dtype=object).astype(str)
    chrom = normalize_chrom(g["chrom"].to_numpy())
    start = g["start"].to_numpy(dtype=np.int64)
    end = g["end"].to_numpy(dtype=np.int64)
    keys = pd.Series(sym, dtype=object)
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        long = pd.Series(sym, dtype=object) + "@" + chrom + ":" + start.astype(str)
        keys = keys.where(~dup, long)
        dup = keys.duplicated(keep=False).to_numpy()
        if dup.any():
            keys = keys.where(~dup, keys + "-" + end.astype(str))
            dup = keys.duplicated(keep=False).to_numpy()
            if dup.any():
                keys = keys.where(~dup, keys + "#" + np.arange(len(keys)).astype(str))
    return keys.to_numpy(dtype=object).astype(str)


# ----------------------------------------------------------------------------- validation


def _check_variants(variants: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(variants, pd.DataFrame):
        raise InputDataError(
            f"variants: expected a pandas DataFrame (the bim table), found {type(variants).__name__}. "
            "Read the .bim file with genoapp.io first."
        )
    missing = [c for c in ("chrom", "id", "pos") if c not in variants.columns]
    if missing:
        raise InputDataError(
            f"variants table: missing column(s) {missing}; found {list(variants.columns)}. "
            "Expected the bim columns chrom, id, pos (as returned by genoapp.io)."
        )
    pos = _as_int(variants["pos"], "variants table, column 'pos'")
    if len(pos) and pos.min() < 0:
        raise InputDataError(
            f"variants table, column 'pos': {int((pos < 0).sum())} negative base-pair position(s) "
            f"(first: {int(pos[pos < 0][0])}); expected positions >= 0. Fix the .bim file."
        )
    if len(pos) and pos.max() > _MAX_POS:
        raise InputDataError(
            f"variants table, column 'pos': position {int(pos.max())} exceeds {_MAX_POS}; "
            "expected base-pair positions. Fix the .bim file."
        )
    if variants["chrom"].isna().any():
        raise InputDataError(
            "variants table, column 'chrom': missing chromosome code(s); fix the .bim file."
        )
    chrom = normalize_chrom(variants["chrom"].to_numpy())
    ids = variants["id"].to_numpy(dtype=object).astype(str)
    return chrom, ids, pos


def _check_genes(genes: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(genes, pd.DataFrame):
        raise InputDataError(
            f"gene table: expected a pandas DataFrame, found {type(genes).__name__}. "
            "Read it with genoapp.io.read_gene_table."
        )
    g = genes
    if "chrom" not in g.columns and "chromosome" in g.columns:
        g = g.rename(columns={"chromosome": "chrom"})
    missing = [c for c in ("gene", "chrom", "start", "end") if c not in g.columns]
    if missing:
        raise InputDataError(
            f"gene table: missing column(s) {missing}; found {list(genes.columns)}. "
            "Expected columns gene, chrom, start, end (bp, inclusive, as PLINK glist files)."
        )
    if len(g) == 0:
        raise InputDataError("gene table: no records; load a gene table for the genome build.")
    if g["gene"].isna().any() or g["chrom"].isna().any():
        raise InputDataError(
            "gene table: empty gene symbol or chromosome in "
            f"{int((g['gene'].isna() | g['chrom'].isna()).sum())} record(s); fix the table."
        )
    start = _as_int(g["start"], "gene table, column 'start'")
    end = _as_int(g["end"], "gene table, column 'end'")
    bad = end < start
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"gene table: {int(bad.sum())} record(s) with end < start (first: "
            f"{g['gene'].iloc[i]} {start[i]}-{end[i]}); expected start <= end. Fix the table."
        )
    if start.min() < 0 or end.max() > _MAX_POS:
        raise InputDataError(
            f"gene table: coordinates outside 0..{_MAX_POS} bp; expected base-pair positions."
        )
    return g


def _as_int(col: pd.Series, what: str) -> np.ndarray:
    if col.isna().any():
        raise InputDataError(
            f"{what}: {int(col.isna().sum())} missing value(s); expected integer base-pair "
            "positions. Fix or remove those rows."
        )
    try:
        arr = np.asarray(col.to_numpy(), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"{what}: non-numeric values found; expected integer base-pair positions."
        ) from exc
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise InputDataError(
            f"{what}: non-integer values found; expected integer base-pair positions."
        )
    return np.asarray(col.to_numpy(), dtype=np.float64).astype(np.int64)


# ----------------------------------------------------------------------------- helpers


def _expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (row, j) with lo[row] <= j < hi[row], vectorised."""
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    rows = np.repeat(np.arange(len(lo)), counts)
    starts = np.cumsum(counts) - counts
    offs = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    return rows, lo[rows] + offs


def _chunks_by_count(counts: np.ndarray, limit: int):
    """Yield slices of consecutive rows whose summed counts stay near ``limit``."""
    n = len(counts)
    if n == 0:
        return
    csum = np.cumsum(counts)
    start = 0
    while start < n:
        base = csum[start - 1] if start else 0
        stop = int(np.searchsorted(csum, base + limit, side="right"))
        stop = max(stop, start + 1)
        yield slice(start, stop)
        start = stop


def _match_chroms(v_chrom: np.ndarray, gene_labels: np.ndarray) -> np.ndarray:
    """Map variant labels onto gene-table labels (PLINK numeric aliases where needed)."""
    known = set(gene_labels.tolist())
    out = v_chrom.copy()
    for lab in np.unique(v_chrom):
        if lab in known:
            continue
        alias = _PLINK_ALIASES.get(lab) or _PLINK_ALIASES_BACK.get(lab)
        if alias is not None and alias in known:
            out[v_chrom == lab] = alias
    return out


def _empty_annotation() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant_index": np.array([], dtype=np.int64),
            "variant_id": pd.Series([], dtype="str"),
            "chrom": pd.Series([], dtype="str"),
            "pos": np.array([], dtype=np.int64),
            "gene": pd.Series([], dtype="str"),
            "relation": pd.Series([], dtype="str"),
            "distance_bp": np.array([], dtype=np.int64),
            "gene_symbol": pd.Series([], dtype="str"),
            "gene_start": np.array([], dtype=np.int64),
            "gene_end": np.array([], dtype=np.int64),
        }
    )


# ----------------------------------------------------------------------------- annotation


def annotate_snps(
    variants: pd.DataFrame, genes: pd.DataFrame, *, flank_kb: float = 0.0
) -> pd.DataFrame:
    """Assign every variant to genes: the genes that contain it, else the nearest gene.

    Rules (DESIGN §4.2, as DiseaseCapsule's SNP-to-gene step):

    * *inside*: a variant at ``pos`` lies in gene ``[start, end]`` when
      ``start - flank <= pos <= end + flank`` (bounds inclusive, as PLINK ``--make-set`` with
      ``--make-set-border``). It is assigned to **every** such gene (overlapping and nested
      genes all receive it); ``relation = "inside"``. ``distance_bp`` is 0 inside the gene body
      and the distance to the body for a variant that is inside only thanks to the flank.
    * *nearest*: a variant inside no gene goes to the gene on the same chromosome with the
      smallest distance between the variant and the gene's boundary (``start - pos`` for genes
      to the right, ``pos - end`` for genes to the left); ``relation = "nearest"``. Ties (equal
      distance to the left and the right gene, or several genes sharing the nearest boundary)
      assign the variant to **all** tied genes. Variants before the first or after the last gene
      of a chromosome go to that first/last gene.
    * Variants on a chromosome without any gene in the table are left out; their number and
      chromosomes are in ``result.attrs`` (``n_unannotated_variants``, ``unannotated_chroms``).

    Parameters
    ----------
    variants : pandas.DataFrame, n_variants rows
        Columns ``chrom``, ``id``, ``pos`` (bp). Row order = column order of the genotype
        matrix; ``variant_index`` of the result refers to it (0-based position, not the index).
    genes : pandas.DataFrame, n_genes rows
        Columns ``gene`` (symbol), ``chrom`` (``chromosome`` is accepted), ``start``, ``end``
        (bp, inclusive, same genome build as ``variants``), e.g. PLINK's ``glist-hg19``.
    flank_kb : float, default 0
        Extend every gene by this many kb (1 kb = 1,000 bp) on both sides for the *inside* rule.

    Returns
    -------
    pandas.DataFrame
        One row per (variant, gene) with the columns of :data:`ANNOTATION_COLUMNS`
        (see the module docstring). ``gene`` is the gene key of :func:`gene_keys` (the symbol,
        or ``SYMBOL@CHROM:START`` for symbols that occur more than once). Rows are sorted by the
        gene's row in ``genes``, then ``variant_index``. ``attrs`` holds the counts
        ``n_variants``, ``n_annotated_variants``, ``n_inside_variants``,
        ``n_nearest_variants``, ``n_unannotated_variants``, ``unannotated_chroms``,
        ``flank_kb``.

    Raises
    ------
    InputDataError
        Missing columns, missing or non-integer positions, genes with ``end < start``.
    ConfigError
        ``flank_kb`` negative or not finite.

    Notes
    -----
    Vectorised: genes are sorted by (chromosome, start) with a running maximum of their ends, so
    ``np.searchsorted`` gives for every variant the range of genes that may contain it (nested
    and overlapping genes included); the nearest genes come from ``searchsorted`` on sorted
    starts and ends. Chromosome and position are packed into one int64 key.
    """
    try:
        flank = float(flank_kb)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"flank_kb: expected a number of kb >= 0, found {flank_kb!r}.") from exc
    if not np.isfinite(flank) or flank < 0:
        raise ConfigError(f"flank_kb: expected a number of kb >= 0, found {flank_kb!r}.")
    flank_bp = int(round(flank * 1000))

    v_chrom, v_id, v_pos = _check_variants(variants)
    g = _check_genes(genes)
    keys = gene_keys(g)
    g_sym = g["gene"].to_numpy(dtype=object).astype(str)
    g_chrom = normalize_chrom(g["chrom"].to_numpy())
    g_start = g["start"].to_numpy(dtype=np.float64).astype(np.int64)
    g_end = g["end"].to_numpy(dtype=np.float64).astype(np.int64)
    n_var, n_gene = len(v_pos), len(g_start)

    labels, g_code = np.unique(g_chrom, return_inverse=True)
    v_lab = _match_chroms(v_chrom, labels)
    v_code = np.searchsorted(labels, v_lab)
    v_code = np.minimum(v_code, len(labels) - 1)
    v_ok = labels[v_code] == v_lab
    v_code = np.where(v_ok, v_code, -1).astype(np.int64)
    g_code = g_code.astype(np.int64)

    ok_idx = np.flatnonzero(v_ok)
    kp = v_code[ok_idx] * _SHIFT + v_pos[ok_idx]

    # --- inside: genes with start_ext <= pos <= end_ext ------------------------------------
    s_ext = np.maximum(g_start - flank_bp, 0)
    e_ext = np.minimum(g_end + flank_bp, _MAX_POS)
    ks_ext = g_code * _SHIFT + s_ext
    ke_ext = g_code * _SHIFT + e_ext
    order_s = np.argsort(ks_ext, kind="stable")
    ks_sorted = ks_ext[order_s]
    ke_by_s = ke_ext[order_s]
    runmax = np.maximum.accumulate(ke_by_s)
    lo = np.searchsorted(runmax, kp, side="left")  # first gene whose running max end >= pos
    hi = np.searchsorted(ks_sorted, kp, side="right")  # genes starting at or before pos
    counts = np.maximum(hi - lo, 0)
    in_rows, in_genes = [], []
    for sl in _chunks_by_count(counts, _MAX_PAIRS):
        rows, cand = _expand_ranges(lo[sl], hi[sl])
        rows = rows + sl.start
        keep = ke_by_s[cand] >= kp[rows]
        in_rows.append(rows[keep])
        in_genes.append(order_s[cand[keep]])
    in_rows = np.concatenate(in_rows) if in_rows else np.array([], dtype=np.int64)
    in_genes = np.concatenate(in_genes) if in_genes else np.array([], dtype=np.int64)
    has_inside = np.zeros(len(ok_idx), dtype=bool)
    has_inside[in_rows] = True

    # --- nearest: intergenic variants, distance to the gene body ----------------------------
    inter = np.flatnonzero(~has_inside)
    kpi = kp[inter]
    ks0 = g_code * _SHIFT + g_start
    ke0 = g_code * _SHIFT + g_end
    order_s0 = np.argsort(ks0, kind="stable")
    ks0_sorted = ks0[order_s0]
    order_e0 = np.argsort(ke0, kind="stable")
    ke0_sorted = ke0[order_e0]
    code_i = v_code[ok_idx[inter]]

    il = np.searchsorted(ke0_sorted, kpi, side="left") - 1  # largest end < pos
    il_c = np.clip(il, 0, n_gene - 1)
    left_ok = (il >= 0) & (g_code[order_e0[il_c]] == code_i)
    dl = np.where(left_ok, kpi - ke0_sorted[il_c], np.iinfo(np.int64).max)
    ir = np.searchsorted(ks0_sorted, kpi, side="right")  # smallest start > pos
    ir_c = np.clip(ir, 0, n_gene - 1)
    right_ok = (ir < n_gene) & (g_code[order_s0[ir_c]] == code_i)
    dr = np.where(right_ok, ks0_sorted[ir_c] - kpi, np.iinfo(np.int64).max)
    dmin = np.minimum(dl, dr)
    take_l = left_ok & (dl == dmin)
    take_r = right_ok & (dr == dmin)

    li = np.flatnonzero(take_l)
    l_lo = np.searchsorted(ke0_sorted, ke0_sorted[il[li]], side="left")
    rows_l, cand_l = _expand_ranges(l_lo, il[li] + 1)
    near_rows_l = inter[li[rows_l]]
    near_genes_l = order_e0[cand_l]
    ri = np.flatnonzero(take_r)
    r_hi = np.searchsorted(ks0_sorted, ks0_sorted[ir[ri]], side="right")
    rows_r, cand_r = _expand_ranges(ir[ri], r_hi)
    near_rows_r = inter[ri[rows_r]]
    near_genes_r = order_s0[cand_r]

    rows_all = np.concatenate([in_rows, near_rows_l, near_rows_r])
    genes_all = np.concatenate([in_genes, near_genes_l, near_genes_r])
    rel_all = np.concatenate(
        [
            np.zeros(len(in_rows), dtype=np.int8),
            np.ones(len(near_rows_l) + len(near_rows_r), dtype=np.int8),
        ]
    )
    vidx = ok_idx[rows_all]
    order = np.lexsort((vidx, genes_all))
    vidx, genes_all, rel_all = vidx[order], genes_all[order], rel_all[order]
    pos = v_pos[vidx]
    gs, ge = g_start[genes_all], g_end[genes_all]
    dist = np.maximum(np.maximum(gs - pos, pos - ge), 0)

    out = pd.DataFrame(
        {
            "variant_index": vidx.astype(np.int64),
            "variant_id": pd.array(v_id[vidx], dtype="str"),
            "chrom": pd.array(g_chrom[genes_all], dtype="str"),
            "pos": pos.astype(np.int64),
            "gene": pd.array(keys[genes_all], dtype="str"),
            "relation": pd.array(np.array(["inside", "nearest"])[rel_all], dtype="str"),
            "distance_bp": dist.astype(np.int64),
            "gene_symbol": pd.array(g_sym[genes_all], dtype="str"),
            "gene_start": gs.astype(np.int64),
            "gene_end": ge.astype(np.int64),
        }
    )
    n_inside = int(has_inside.sum())
    out.attrs.update(
        {
            "n_variants": int(n_var),
            "n_annotated_variants": int(len(ok_idx)),
            "n_inside_variants": n_inside,
            "n_nearest_variants": int(len(ok_idx) - n_inside),
            "n_unannotated_variants": int(n_var - len(ok_idx)),
            "unannotated_chroms": sorted(set(v_chrom[~v_ok].tolist())),
            "flank_kb": flank,
        }
    )
    return out


def annotation_summary(annotation: pd.DataFrame) -> pd.DataFrame:
    """Per-gene summary of an annotation (or window) table.

    Parameters
    ----------
    annotation : pandas.DataFrame
        Output of :func:`annotate_snps` or :func:`snp_windows`.

    Returns
    -------
    pandas.DataFrame
        One row per gene key in order of first appearance, columns ``gene``, ``chrom``,
        ``start_bp`` / ``end_bp`` (smallest / largest position of the gene's variants),
        ``n_snps`` (distinct variants), ``n_inside``, ``n_nearest`` (variants by relation),
        ``span_bp`` (``end_bp - start_bp + 1``: the stretch of genome its SNPs cover), and,
        where the input has them, ``gene_symbol``, ``gene_start``, ``gene_end`` (the gene's own
        coordinates) and ``gene_length_bp`` (``gene_end - gene_start + 1``).

    Raises
    ------
    InputDataError
        Missing columns.
    """
    need = ["variant_index", "gene", "chrom", "pos", "relation"]
    missing = [c for c in need if c not in annotation.columns]
    if missing:
        raise InputDataError(
            f"annotation table: missing column(s) {missing}; expected the output of "
            "annotate_snps or snp_windows."
        )
    if len(annotation) == 0:
        return pd.DataFrame(
            {
                "gene": pd.Series([], dtype="str"),
                "chrom": pd.Series([], dtype="str"),
                "start_bp": np.array([], dtype=np.int64),
                "end_bp": np.array([], dtype=np.int64),
                "n_snps": np.array([], dtype=np.int64),
                "n_inside": np.array([], dtype=np.int64),
                "n_nearest": np.array([], dtype=np.int64),
                "span_bp": np.array([], dtype=np.int64),
            }
        )
    a = annotation.assign(
        _inside=(annotation["relation"] == "inside").to_numpy(),
        _nearest=(annotation["relation"] == "nearest").to_numpy(),
    )
    grp = a.groupby("gene", sort=False)
    agg = {
        "chrom": ("chrom", "first"),
        "start_bp": ("pos", "min"),
        "end_bp": ("pos", "max"),
        "n_snps": ("variant_index", "nunique"),
        "n_inside": ("_inside", "sum"),
        "n_nearest": ("_nearest", "sum"),
    }
    for extra in ("gene_symbol", "gene_start", "gene_end"):
        if extra in a.columns:
            agg[extra] = (extra, "first")
    out = grp.agg(**agg).reset_index()
    for c in ("start_bp", "end_bp", "n_snps", "n_inside", "n_nearest"):
        out[c] = out[c].astype(np.int64)
    out.insert(out.columns.get_loc("n_nearest") + 1, "span_bp", out["end_bp"] - out["start_bp"] + 1)
    if "gene_start" in out.columns and "gene_end" in out.columns:
        out["gene_length_bp"] = (out["gene_end"] - out["gene_start"] + 1).astype(np.int64)
    return out


def check_build(variants: pd.DataFrame, *, annotation: pd.DataFrame | None = None,
                build: str = "GRCh37", min_inside_fraction: float = 0.05) -> list[str]:
    """Sanity check of the genome build: warnings, not errors (DESIGN §4.2).

    When the variants have no map at all (every position 0, or every variant on chromosome 0,
    e.g. the shared wheat data) only that is reported
    (:func:`genoapp.io.checks.no_map_warnings`): a build cannot be checked. Otherwise two
    symptoms of genotypes and gene table on different builds (or of positions that are not
    base pairs, e.g. marker indices) are looked for:

    * positions beyond the end of their chromosome in ``build`` (GRCh37/hg19 or GRCh38/hg38
      lengths, :data:`genoapp.io.genes.CHROM_LENGTHS`; chromosomes are matched after
      :func:`normalize_chrom`, PLINK codes 23-26 as X, Y, XY, MT;
      :func:`genoapp.io.checks.chromosome_end_warning`);
    * almost no SNP inside a gene: fewer than ``min_inside_fraction`` of the annotated variants
      have ``relation == "inside"`` (human genotyping arrays typically have 30-60 %).

    Parameters
    ----------
    variants : pandas.DataFrame
        Columns ``chrom``, ``pos`` (bim table).
    annotation : pandas.DataFrame, optional
        :func:`annotate_snps` output for these variants (the inside-gene share is checked when
        given; window tables are skipped).
    build : str, default "GRCh37"
        Build of the gene table (``"GRCh37"``, ``"hg19"``, ``"GRCh38"``, ``"hg38"``).
    min_inside_fraction : float, default 0.05

    Returns
    -------
    list of str
        Readable warnings (empty when nothing looks wrong); each says what was found and what
        to do.

    Raises
    ------
    ConfigError
        Unknown build.
    InputDataError
        Missing columns in ``variants``.
    """
    from genoapp.io.checks import chromosome_end_warning, no_map_warnings
    from genoapp.io.genes import chromosome_lengths

    chromosome_lengths(build)  # unknown build: ConfigError
    chrom, _, pos = _check_variants(variants)
    no_map = no_map_warnings(variants)
    if no_map:  # nothing to compare with a build: say so instead of misleading symptoms
        return no_map
    chrom = np.array([_PLINK_ALIASES.get(c, c) for c in chrom.tolist()], dtype=object)
    warnings = []
    beyond = chromosome_end_warning(chrom, pos, build=build)
    if beyond:
        warnings.append(beyond)
    if annotation is not None and len(annotation) and "relation" in annotation.columns:
        rel = annotation["relation"]
        if not (rel == "window").all():
            n_ann = annotation["variant_index"].nunique()
            n_in = annotation.loc[rel == "inside", "variant_index"].nunique()
            frac = n_in / max(n_ann, 1)
            if frac < min_inside_fraction:
                warnings.append(
                    f"only {n_in:,} of {n_ann:,} SNPs ({100 * frac:.1f} %) fall inside a gene "
                    f"(human genotyping arrays: typically 30-60 %). Check that the gene table "
                    "matches the genotypes' build and chromosome names and that bim positions "
                    "are base pairs; otherwise use windows."
                )
    return warnings


# ----------------------------------------------------------------------------- windows


def snp_windows(
    variants: pd.DataFrame, *, n_snps: int | None = None, kb: float | None = None
) -> pd.DataFrame:
    """Group variants into windows, for species without a gene table (DESIGN §4.2).

    Exactly one of ``n_snps`` and ``kb`` is given. Windows never cross chromosomes.

    * ``n_snps=N``: within each chromosome, variants sorted by position (ties by
      ``variant_index``) are cut into runs of N consecutive variants; the last window of a
      chromosome may be shorter. Window bounds = first and last variant position.
    * ``kb=W``: fixed bins of W kb counted **from position 0** of each chromosome
      (bin ``b`` covers ``[b*W*1000, (b+1)*W*1000 - 1]`` bp), so windows are comparable between
      cohorts; only bins holding at least one variant are returned.

    Variants with chromosome code ``0`` (PLINK: unplaced) are left out and counted in ``attrs``.

    Parameters
    ----------
    variants : pandas.DataFrame
        Columns ``chrom``, ``id``, ``pos``; row order = genotype column order.
    n_snps : int, optional
        Number of consecutive variants per window (>= 1).
    kb : float, optional
        Window width in kb (> 0; rounded to whole bp, at least 1 bp).

    Returns
    -------
    pandas.DataFrame
        Same columns as :func:`annotate_snps`; ``gene`` (and ``gene_symbol``) is the window
        name ``"chr{chrom}:{start}-{end}"``, ``relation = "window"``, ``distance_bp = 0``,
        ``gene_start``/``gene_end`` the window bounds. Rows are sorted by chromosome (order of
        first appearance in ``variants``), window, position.

    Raises
    ------
    ConfigError
        Neither or both of ``n_snps`` / ``kb`` given, or a value out of range.
    InputDataError
        Missing columns or bad positions in ``variants``.
    """
    if (n_snps is None) == (kb is None):
        raise ConfigError(
            f"snp_windows: give exactly one of n_snps (found {n_snps!r}) and kb (found {kb!r}), "
            "e.g. n_snps=20 or kb=100."
        )
    if n_snps is not None:
        if isinstance(n_snps, bool) or not float(n_snps).is_integer() or int(n_snps) < 1:
            raise ConfigError(f"n_snps: expected an integer >= 1, found {n_snps!r}.")
        n_snps = int(n_snps)
    else:
        try:
            kbf = float(kb)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"kb: expected a window width in kb > 0, found {kb!r}.") from exc
        if not np.isfinite(kbf) or kbf <= 0:
            raise ConfigError(f"kb: expected a window width in kb > 0, found {kb!r}.")
        width = max(int(round(kbf * 1000)), 1)

    v_chrom, v_id, v_pos = _check_variants(variants)
    n_var = len(v_pos)
    placed = v_chrom != "0"
    idx = np.flatnonzero(placed)
    code, labels_in_order = pd.factorize(pd.Series(v_chrom[idx], dtype=object))
    code = np.asarray(code, dtype=np.int64)
    labels_in_order = np.asarray(labels_in_order, dtype=object).astype(str)
    pos = v_pos[idx]
    order = np.lexsort((idx, pos, code))
    idx, pos, code = idx[order], pos[order], code[order]

    if n_snps is not None:
        first_of_chrom = np.searchsorted(code, code, side="left")
        win = (np.arange(len(idx)) - first_of_chrom) // n_snps
    else:
        win = pos // width
    new = np.ones(len(idx), dtype=bool)
    new[1:] = (code[1:] != code[:-1]) | (win[1:] != win[:-1])
    wid = np.cumsum(new) - 1
    if n_snps is not None:
        first = np.flatnonzero(new)
        last = np.r_[first[1:] - 1, len(idx) - 1] if len(first) else first
        w_start, w_end = pos[first], pos[last]
    else:
        b = win[new]
        w_start, w_end = b * width, (b + 1) * width - 1
    w_chrom = labels_in_order[code[new]] if len(idx) else np.array([], dtype=str)
    names = (
        (
            "chr"
            + pd.Series(w_chrom, dtype=object)
            + ":"
            + pd.Series(w_start.astype(str), dtype=object)
            + "-"
            + pd.Series(w_end.astype(str), dtype=object)
        )
        .to_numpy(dtype=object)
        .astype(str)
    )
    dup = pd.Series(names, dtype=object).duplicated(keep=False).to_numpy()
    if dup.any():  # e.g. n_snps=1 with two variants at one position: keep windows distinct
        names = np.where(dup, names + "#" + np.arange(len(names)).astype(str), names)

    if len(idx) == 0:
        out = _empty_annotation()
    else:
        out = pd.DataFrame(
            {
                "variant_index": idx.astype(np.int64),
                "variant_id": pd.array(v_id[idx], dtype="str"),
                "chrom": pd.array(w_chrom[wid], dtype="str"),
                "pos": pos.astype(np.int64),
                "gene": pd.array(names[wid], dtype="str"),
                "relation": pd.array(np.full(len(idx), "window"), dtype="str"),
                "distance_bp": np.zeros(len(idx), dtype=np.int64),
                "gene_symbol": pd.array(names[wid], dtype="str"),
                "gene_start": w_start[wid].astype(np.int64),
                "gene_end": w_end[wid].astype(np.int64),
            }
        )
    out.attrs.update(
        {
            "n_variants": int(n_var),
            "n_annotated_variants": int(len(idx)),
            "n_inside_variants": 0,
            "n_nearest_variants": 0,
            "n_unannotated_variants": int(n_var - len(idx)),
            "unannotated_chroms": ["0"] if (~placed).any() else [],
            "window_n_snps": n_snps,
            "window_kb": None if kb is None else float(kb),
        }
    )
    return out
