"""From new individuals' genotypes to a saved model's inputs.

A saved run keeps, for every input it was trained on, a :class:`FeatureProjector`: the QC'd
variant list (chrom, id, pos, A1, A2 of the columns the features were built from), the
imputation means and the feature projection (Gene-PCA, window PCA, All-PCA) **fitted on the
run's training samples**. :func:`align_genotypes` reads a new genotype file (PLINK 1, VCF/BCF,
.pgen or BGEN) in that variant order, harmonising the alleles (:func:`harmonise_variants`:
matched by chrom:pos:alleles, else by ID; A1/A2 swaps and strand flips aligned; strand-ambiguous
A/T and C/G SNPs counted, kept or dropped; the rest missing), and says what it did in a
:class:`MatchReport`; the projector then imputes the missing dosages with the training means
and projects exactly as in training.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError

__all__ = [
    "AMBIGUOUS_POLICIES",
    "STATUSES",
    "FeatureProjector",
    "MatchReport",
    "VariantMatch",
    "align_genotypes",
    "harmonise_variants",
    "match_variants",
]

_VARIANT_COLS = ("chrom", "id", "pos", "A1", "A2")


def _variant_table(variants: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _VARIANT_COLS if c not in variants.columns]
    if missing:
        raise InputDataError(
            f"variant table: missing column(s) {missing}; expected {list(_VARIANT_COLS)} (a .bim table)."
        )
    out = variants.loc[:, list(_VARIANT_COLS)].reset_index(drop=True).copy()
    for c in ("chrom", "id", "A1", "A2"):
        out[c] = out[c].astype(str)
    out["pos"] = out["pos"].astype(np.int64)
    return out


@dataclasses.dataclass
class FeatureProjector:
    """Turns QC'd dosages of new samples into a model input, with training-fitted steps.

    Attributes
    ----------
    variants : pandas.DataFrame
        The QC'd variants (``chrom``, ``id``, ``pos``, ``A1``, ``A2``), in the column order
        the run used.
    kind : {"features", "snps"}
        "features": impute with ``imputer`` then project with ``transformer``; "snps": the
        dosages themselves (models that impute internally, e.g. the PRS).
    used : numpy.ndarray of int64 or None
        Columns of ``variants`` entering the imputer/transformer (None = all).
    imputer : fitted transformer or None
        ``transform(G_used) -> G_imputed`` (e.g. :class:`genoapp.features.MeanImputer`).
    transformer : fitted transformer or None
        ``transform(G_imputed) -> X`` (e.g. :class:`genoapp.features.GenePCA`).
    feature_names : numpy.ndarray or None
    name : str
        Input name ("Gene-PCA", "All-PCA", "SNPs"...).
    """

    variants: pd.DataFrame
    kind: str = "features"
    used: np.ndarray | None = None
    imputer: object = None
    transformer: object = None
    feature_names: np.ndarray | None = None
    name: str = ""

    @classmethod
    def from_feature_set(cls, fs, variants: pd.DataFrame, *, name: str = "") -> FeatureProjector:
        """Build the projector of a :class:`genoapp.features.FeatureSet`.

        Parameters
        ----------
        fs : genoapp.features.FeatureSet
            Built by :func:`genoapp.features.build_features` from dosages whose columns are
            ``variants`` (the QC page's variant table); Gene-PCA (``fs.gene_pca``) or All-PCA
            (``fs.all_pca``).
        variants : pandas.DataFrame
            The QC'd variant table (``chrom``, ``id``, ``pos``, ``A1``, ``A2``).
        name : str
        """
        variants = _variant_table(variants)
        transformer = getattr(fs, "all_pca", None)
        if transformer is None:
            transformer = fs.gene_pca
        n_imputed_cols = getattr(fs.imputer, "n_features_in_", len(variants))
        if n_imputed_cols == len(variants):  # imputer and projection fitted on every QC'd column
            used = None
        else:  # only the annotated columns entered them
            used = np.unique(fs.annotation["variant_index"].to_numpy()).astype(np.int64)
        return cls(variants=variants, kind="features", used=used, imputer=fs.imputer,
                   transformer=transformer, feature_names=np.asarray(fs.feature_names), name=name)

    @classmethod
    def for_snps(cls, variants: pd.DataFrame, *, name: str = "SNPs") -> FeatureProjector:
        """A projector that passes the QC'd dosages through (SNP-based models)."""
        return cls(variants=_variant_table(variants), kind="snps", name=name)

    def transform(self, G) -> np.ndarray:
        """Model input of samples whose dosages ``G`` (n, n_variants) follow ``variants``.

        Raises
        ------
        InputDataError
            ``G`` does not have one column per saved variant.
        """
        G = np.asarray(G)
        if G.ndim != 2 or G.shape[1] != len(self.variants):
            raise InputDataError(
                f"projection {self.name!r}: expected {len(self.variants)} QC'd variant columns, "
                f"got shape {G.shape}. Align the genotypes first (align_genotypes)."
            )
        if self.kind == "snps":
            return G.astype(np.float32, copy=False)
        Gu = G[:, self.used] if self.used is not None and len(self.used) < G.shape[1] else G
        Gi = self.imputer.transform(Gu) if self.imputer is not None else Gu
        return np.ascontiguousarray(self.transformer.transform(Gi), dtype=np.float32)


# ----------------------------------------------------------------------------- harmonisation

AMBIGUOUS_POLICIES = ("keep", "drop")
_COMPLEMENT = str.maketrans("ACGT", "TGCA")
_BASES = ("A", "C", "G", "T")
_CHROM_ALIASES = {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT"}
_NO_ID = (".", "")

# relation of a new record's alleles to a saved variant's
_NONE, _SAME, _SWAP, _FLIP, _FLIPSWAP = -1, 0, 1, 2, 3

#: per-variant ``status`` values of :class:`VariantMatch`
STATUSES = ("same", "swapped", "strand_flipped", "strand_flipped_swapped", "ambiguous",
            "ambiguous_swapped", "ambiguous_dropped", "allele_mismatch", "absent")


@dataclasses.dataclass
class MatchReport:
    """How a new fileset's variants matched a run's QC'd variant list (the harmonisation report).

    Codings: a dosage counts copies of the saved variant's **A1**; ``NaN`` = missing, imputed
    afterwards with the **training** means by the run's :class:`FeatureProjector` (or by the
    model itself for SNP inputs, e.g. the PRS). See :func:`harmonise_variants` for the rules.

    Attributes
    ----------
    n_expected : int
        Variants of the run.
    n_matched : int
        Variants whose new dosages are used (same alleles, A1/A2 swapped, strand-flipped, and
        strand-ambiguous ones kept); the others are imputed.
    n_flipped : int
        Used with A1 and A2 exchanged, i.e. the new file counts the other allele (on either
        strand): dosage replaced by ``2 - dosage``.
    n_missing : int
        Absent: neither the position nor the ID is in the new file.
    n_allele_mismatch : int
        Found (position or ID) but with other alleles, even after complementing (imputed).
    matched_by : str
        The identifier every used variant shares with the saved list (the field older readers
        show): ``"id"`` (all their IDs agree; positions usually too), ``"chrom:pos"``
        (chromosome, position and allele pair, i.e. chrom:pos:alleles, with some IDs
        differing or uninformative), ``"chrom:pos+id"`` (some found only by position, others
        only by ID) or ``"none"`` (none used). How each was located: ``n_by_position``,
        ``n_by_id``.
    n_by_position, n_by_id : int
        Used variants located by chrom:pos:alleles (the preferred key), and by ID (when
        chrom:pos:alleles did not find them, e.g. another genome build).
    n_other_id : int
        Of ``n_by_position``, found under another (informative) variant ID.
    n_strand_flipped : int
        Used with complementary alleles (A<->T, C<->G: the new file reports the other strand);
        those also in ``n_flipped`` had A1/A2 exchanged as well.
    n_ambiguous : int
        Strand-ambiguous SNPs (allele pair A/T or C/G, whose labels cannot tell the strand)
        found with exactly the same labels (same or swapped order); kept at face value when
        ``ambiguous="keep"`` (counted in ``n_matched``), imputed when ``"drop"``.
    n_ambiguous_dropped : int
        Of ``n_ambiguous``, set missing (``ambiguous="drop"``).
    ambiguous : {"keep", "drop"}
        The policy applied to strand-ambiguous SNPs.
    n_imputed_variants : int
        Variants missing for every new individual: ``n_missing + n_allele_mismatch +
        n_ambiguous_dropped`` (= ``n_expected - n_matched``).
    n_samples : int
        New individuals aligned (0 when only the variant tables were matched).
    n_missing_calls : int
        Missing calls (``NaN``) among the used variants' dosages.
    n_imputed_genotypes : int
        Genotype entries imputed with the training means:
        ``n_samples * n_imputed_variants + n_missing_calls``.
    """

    n_expected: int
    n_matched: int
    n_flipped: int
    n_missing: int
    n_allele_mismatch: int
    matched_by: str
    n_by_position: int = 0
    n_by_id: int = 0
    n_other_id: int = 0
    n_strand_flipped: int = 0
    n_ambiguous: int = 0
    n_ambiguous_dropped: int = 0
    ambiguous: str = "keep"
    n_imputed_variants: int = 0
    n_samples: int = 0
    n_missing_calls: int = 0
    n_imputed_genotypes: int = 0

    def as_dict(self) -> dict:
        """Every field, JSON-ready (ints and strings); :meth:`from_dict` reads it back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MatchReport:
        """Rebuild a report from :meth:`as_dict` output, also one written before the
        harmonisation fields existed (they take their defaults; unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        rep = cls(**{k: v for k, v in d.items() if k in names})
        if "n_imputed_variants" not in d:
            rep.n_imputed_variants = rep.n_expected - rep.n_matched
        return rep

    @property
    def fraction_imputed(self) -> float:
        """Share of the new genotype entries imputed (``nan`` before any sample was aligned)."""
        total = self.n_samples * self.n_expected
        return self.n_imputed_genotypes / total if total else float("nan")

    def lines(self) -> list[str]:
        """Readable sentences for the app and the CLI."""
        other = (f" ({self.n_other_id:,} of them under another variant ID)"
                 if self.n_other_id else "")
        if self.n_by_position and self.n_by_id:
            by = (f": {self.n_by_position:,} by chrom:pos:alleles{other} and {self.n_by_id:,} by "
                  "variant ID (at another position)")
        elif self.n_by_position:
            by = f" by chrom:pos:alleles{other}"
        elif self.n_by_id:
            by = " by variant ID (at another position)"
        else:  # a report written before the harmonisation counts existed
            by = {"id": " by variant ID", "chrom:pos": " by chromosome and position"}.get(
                self.matched_by, "") if self.n_matched else ""
        out = [f"{self.n_matched:,} of {self.n_expected:,} variants matched{by}."]
        if self.n_flipped:
            out.append(f"{self.n_flipped:,} with A1/A2 swapped (dosage 2 - d).")
        if self.n_strand_flipped:
            out.append(f"{self.n_strand_flipped:,} strand-flipped (complementary alleles, A<->T and "
                       "C<->G), aligned to the training strand.")
        if self.n_ambiguous:
            if self.ambiguous == "drop":
                out.append(f"{self.n_ambiguous:,} strand-ambiguous A/T or C/G SNPs dropped (their "
                           "strand cannot be told from the alleles) and imputed with the training "
                           "means.")
            else:
                text = (f"{self.n_ambiguous:,} strand-ambiguous A/T or C/G SNPs kept as labelled "
                        "(their strand cannot be told from the alleles)")
                if self.n_strand_flipped:
                    text += ("; other variants of this file are on the opposite strand, so some "
                             "of these may be too: consider dropping them (ambiguous='drop')")
                out.append(text + ".")
        if self.n_allele_mismatch:
            out.append(f"{self.n_allele_mismatch:,} found with other alleles, imputed with the "
                       "training means.")
        if self.n_missing:
            out.append(f"{self.n_missing:,} absent, imputed with the training means.")
        if self.n_samples:
            out.append(f"{self.n_imputed_genotypes:,} genotypes imputed with the training means "
                       f"({100 * self.fraction_imputed:.1f} % of {self.n_samples:,} individuals x "
                       f"{self.n_expected:,} variants; {self.n_missing_calls:,} of them missing "
                       "calls of matched variants).")
        return out


@dataclasses.dataclass
class VariantMatch:
    """Per-variant result of :func:`harmonise_variants`.

    Attributes
    ----------
    index : numpy.ndarray of int64 (n_saved,)
        Row of the new variant table for every saved variant; -1 where its dosages are not used
        (absent, other alleles, dropped strand-ambiguous SNP).
    flip : numpy.ndarray of bool (n_saved,)
        The new record counts the saved A2 (A1/A2 exchanged, on either strand): dosage
        ``2 - d``.
    status : numpy.ndarray of str (n_saved,)
        One of :data:`STATUSES`.
    matched_by : numpy.ndarray of str (n_saved,)
        How each used variant was located: ``"chrom:pos:alleles"`` or ``"id"``; ``""`` where
        not used.
    report : MatchReport
    """

    index: np.ndarray
    flip: np.ndarray
    status: np.ndarray
    matched_by: np.ndarray
    report: MatchReport

    def table(self, saved: pd.DataFrame) -> pd.DataFrame:
        """The saved variant table with ``new_index``, ``status``, ``flip`` and ``matched_by``
        columns (e.g. for a download of what happened to each variant)."""
        out = _variant_table(saved)
        out["new_index"] = self.index
        out["status"] = self.status
        out["flip"] = self.flip
        out["matched_by"] = self.matched_by
        return out


def _chrom_key(chrom: pd.Series) -> pd.Series:
    c = chrom.astype(str).str.strip().str.upper().str.replace(r"^CHR", "", regex=True)
    return c.replace(_CHROM_ALIASES)


def _obj(x) -> np.ndarray:
    """A writable object array with ``None`` for missing values."""
    out = np.array(pd.Series(x, dtype=object).to_numpy(), dtype=object)
    out[pd.isna(out)] = None
    return out


def _pair_key(a1: pd.Series, a2: pd.Series) -> pd.Series:
    """The allele pair as an unordered set: ``"lo:hi"`` (sorted)."""
    first = a1 <= a2
    return a1.where(first, a2) + ":" + a2.where(first, a1)


def _harmonisation_keys(v: pd.DataFrame) -> dict:
    """Normalised keys of a variant table (from :func:`_variant_table`)."""
    pk = _chrom_key(v["chrom"]) + ":" + v["pos"].astype(str)
    a1 = v["A1"].str.strip().str.upper()
    a2 = v["A2"].str.strip().str.upper()
    snp = (a1.isin(_BASES) & a2.isin(_BASES) & (a1 != a2)).to_numpy()
    c1 = a1.str.translate(_COMPLEMENT).where(snp, None)
    c2 = a2.str.translate(_COMPLEMENT).where(snp, None)
    ambiguous = snp & (c1 == a2).to_numpy()  # A/T or C/G: the complement is the same pair
    set_key = _obj(pk + ":" + _pair_key(a1, a2))
    comp_key = _obj(pk + ":" + _pair_key(c1.fillna(""), c2.fillna("")))
    comp_key[~snp | ambiguous] = None
    vid = v["id"].str.strip()
    id_key = _obj(vid.where(~vid.isin(_NO_ID), None))
    return {"pos": _obj(pk), "a1": _obj(a1), "a2": _obj(a2), "c1": _obj(c1), "c2": _obj(c2),
            "snp": snp, "ambiguous": ambiguous, "set": set_key, "comp": comp_key, "id": id_key}


def _lookup(keys_new: np.ndarray, keys_query: np.ndarray, *, duplicates: str) -> np.ndarray:
    """Row of ``keys_new`` holding each query key, -1 if none (None never matches).

    ``duplicates="first"``: a key present several times gives its first row; ``"none"``: such
    a key matches nothing.
    """
    kn = pd.Series(keys_new, dtype=object)
    valid = kn.notna() & ~kn.duplicated(keep="first" if duplicates == "first" else False)
    rows = np.flatnonzero(valid.to_numpy())
    at = pd.Index(kn[valid].to_numpy(), dtype=object).get_indexer(np.asarray(keys_query, dtype=object))
    out = np.full(len(keys_query), -1, dtype=np.int64)
    hit = (at >= 0) & pd.notna(pd.Series(keys_query, dtype=object)).to_numpy()
    out[hit] = rows[at[hit]]
    return out


def _relation(s: dict, n: dict, si: np.ndarray, ni: np.ndarray) -> np.ndarray:
    """How the alleles of new rows ``ni`` relate to saved variants ``si`` (codes ``_SAME``...).

    Exact labels first (same, then swapped), so a strand-ambiguous SNP is never called
    strand-flipped; complements only for SNPs (single-base A/C/G/T alleles).
    """
    a1s, a2s, a1n, a2n = s["a1"][si], s["a2"][si], n["a1"][ni], n["a2"][ni]
    rel = np.full(len(si), _NONE, dtype=np.int8)
    same = (a1n == a1s) & (a2n == a2s)
    swap = ~same & (a1n == a2s) & (a2n == a1s)
    strand = s["snp"][si] & n["snp"][ni] & ~same & ~swap
    c1n, c2n = n["c1"][ni], n["c2"][ni]
    flip = strand & (c1n == a1s) & (c2n == a2s)
    flipswap = strand & ~flip & (c1n == a2s) & (c2n == a1s)
    rel[same], rel[swap], rel[flip], rel[flipswap] = _SAME, _SWAP, _FLIP, _FLIPSWAP
    return rel


def harmonise_variants(saved: pd.DataFrame, new: pd.DataFrame, *,
                       ambiguous: str = "keep") -> VariantMatch:
    """Locate a run's QC'd variants in a new variant table and align their alleles.

    The rule, for every saved variant (``chrom``, ``id``, ``pos``, ``A1``, ``A2``):

    1. **chrom:pos:alleles** — a new record at the same chromosome (``chr`` prefix ignored;
       23/24/25/26 = X/Y/XY/MT) and position whose allele pair equals the saved pair as an
       unordered set; failing that (SNPs only), equals the **complemented** pair (A<->T,
       C<->G: the new file reports the other strand). Several such records: the first.
    2. **ID** — else the new record with the same variant ID (IDs "." or empty, and IDs not
       unique in the new file, are never used), if its alleles agree in one of those ways.
    3. Otherwise the variant is missing: ``allele_mismatch`` if its position or ID is in the
       new file (with other alleles), ``absent`` if not.

    Allele relation of a located record (saved A1/A2 vs new A1/A2; dosage ``d`` counts the new
    A1): same (``d``); swapped, A1/A2 exchanged (``2 - d``); strand-flipped, the complement of
    the saved pair in the same order (``d``) or exchanged (``2 - d``).

    **Strand-ambiguous SNPs** (A/T, C/G): the complement of the pair is the pair itself, so
    the labels cannot tell a strand flip from a swap. They are only matched when the labels
    agree exactly (same or swapped order) and are then taken at face value and counted
    (``ambiguous="keep"``, the default), or set missing and imputed (``"drop"``). PRSice and
    LDpred2 drop them by default (``--keep-ambig`` / ``strand_flip``), and PLINK's
    ``--flip-scan`` only warns, because summary statistics from other studies often use an
    unknown strand. Here the new genotypes are scored with a model trained on genotypes,
    usually on the forward strand (VCF, .pgen and BGEN REF/ALT are forward-strand by
    specification), so exactly matching labels are almost always right and dropping would
    impute every A/T and C/G SNP (about 7 % of an array); keep is the default, the count is
    reported, and :meth:`MatchReport.lines` advises ``"drop"`` when other variants of the file
    turn out to be strand-flipped.

    Parameters
    ----------
    saved, new : pandas.DataFrame
        Variant tables (``chrom``, ``id``, ``pos``, ``A1``, ``A2``; alleles compared
        case-insensitively).
    ambiguous : {"keep", "drop"}, default "keep"

    Returns
    -------
    VariantMatch
        ``index``, ``flip``, per-variant ``status`` and ``matched_by``, and the
        :class:`MatchReport` (``n_samples``, ``n_missing_calls`` and ``n_imputed_genotypes``
        are filled in by :func:`align_genotypes`).

    Raises
    ------
    ConfigError
        ``ambiguous`` is not "keep" or "drop".
    InputDataError
        A table lacks a column.
    """
    if ambiguous not in AMBIGUOUS_POLICIES:
        raise ConfigError(f"ambiguous must be one of {AMBIGUOUS_POLICIES}; got {ambiguous!r}.")
    saved = _variant_table(saved)
    new = _variant_table(new)
    # only new records sharing a position or an ID with a saved variant can match (a fast
    # filter, so that a whole-genome file costs little more than the saved list)
    ids = set(saved["id"].str.strip()) - set(_NO_ID)
    rows = np.flatnonzero(np.isin(new["pos"].to_numpy(), saved["pos"].to_numpy())
                          | new["id"].str.strip().isin(ids).to_numpy())
    s = _harmonisation_keys(saved)
    n = _harmonisation_keys(new.iloc[rows].reset_index(drop=True))
    m = len(s["pos"])
    index = np.full(m, -1, dtype=np.int64)
    rel = np.full(m, _NONE, dtype=np.int8)
    by = np.full(m, "", dtype=object)

    def _accept(cand: np.ndarray, label: str) -> None:
        todo = np.flatnonzero((index < 0) & (cand >= 0))
        if not todo.size:
            return
        r = _relation(s, n, todo, cand[todo])
        ok = r != _NONE
        index[todo[ok]], rel[todo[ok]], by[todo[ok]] = cand[todo[ok]], r[ok], label

    _accept(_lookup(n["set"], s["set"], duplicates="first"), "chrom:pos:alleles")
    _accept(_lookup(n["set"], s["comp"], duplicates="first"), "chrom:pos:alleles")
    _accept(_lookup(n["id"], s["id"], duplicates="none"), "id")

    unmatched = index < 0
    near = (_lookup(n["pos"], s["pos"], duplicates="first") >= 0) | (
        _lookup(n["id"], s["id"], duplicates="first") >= 0)  # position or ID in the new file
    mismatch = unmatched & near
    absent = unmatched & ~near

    amb = s["ambiguous"] & ~unmatched
    flip = np.isin(rel, (_SWAP, _FLIPSWAP))
    status = np.full(m, "absent", dtype=object)
    status[mismatch] = "allele_mismatch"
    status[rel == _SAME] = "same"
    status[rel == _SWAP] = "swapped"
    status[rel == _FLIP] = "strand_flipped"
    status[rel == _FLIPSWAP] = "strand_flipped_swapped"
    status[amb & ~flip] = "ambiguous"
    status[amb & flip] = "ambiguous_swapped"
    n_amb = int(amb.sum())
    if ambiguous == "drop":
        status[amb] = "ambiguous_dropped"
        index[amb], flip[amb], by[amb] = -1, False, ""
    used = index >= 0
    at_pos = by == "chrom:pos:alleles"
    n_pos, n_id = int(at_pos.sum()), int((by == "id").sum())
    new_id = np.full(m, None, dtype=object)
    new_id[used] = n["id"][index[used]]
    index[used] = rows[index[used]]  # rows of the whole new table
    has_ids = used & pd.notna(s["id"]) & pd.notna(new_id)
    same_id = has_ids & (new_id == s["id"])
    if not used.any():
        summary = "none"
    elif same_id[used].all():
        summary = "id"
    elif at_pos[used].all():
        summary = "chrom:pos"
    else:
        summary = "chrom:pos+id"
    report = MatchReport(
        n_expected=m, n_matched=int(used.sum()), n_flipped=int(flip.sum()),
        n_missing=int(absent.sum()), n_allele_mismatch=int(mismatch.sum()), matched_by=summary,
        n_by_position=n_pos, n_by_id=n_id, n_other_id=int((at_pos & has_ids & ~same_id).sum()),
        n_strand_flipped=int((used & np.isin(rel, (_FLIP, _FLIPSWAP))).sum()),
        n_ambiguous=n_amb, n_ambiguous_dropped=n_amb if ambiguous == "drop" else 0,
        ambiguous=ambiguous, n_imputed_variants=int((~used).sum()),
    )
    return VariantMatch(index=index, flip=flip, status=status.astype(str),
                        matched_by=by.astype(str), report=report)


def match_variants(saved: pd.DataFrame, new: pd.DataFrame, *,
                   ambiguous: str = "keep") -> tuple[np.ndarray, np.ndarray, MatchReport]:
    """Locate the saved variants in a new variant table (:func:`harmonise_variants`).

    Parameters
    ----------
    saved, new : pandas.DataFrame
        Variant tables (``chrom``, ``id``, ``pos``, ``A1``, ``A2``).
    ambiguous : {"keep", "drop"}, default "keep"
        Strand-ambiguous (A/T, C/G) SNPs with matching labels: used at face value, or missing.

    Returns
    -------
    index : numpy.ndarray of int64 (n_saved,)
        Row of ``new`` for every saved variant, -1 where absent, with other alleles or dropped.
    flip : numpy.ndarray of bool (n_saved,)
        The new record counts the saved A2 (dosage ``2 - d``).
    report : MatchReport

    Notes
    -----
    Matched by chrom:pos:alleles (allele pair as an unordered set, also after complementing
    the alleles of a strand-flipped SNP), else by variant ID; see :func:`harmonise_variants`.
    """
    res = harmonise_variants(saved, new, ambiguous=ambiguous)
    return res.index, res.flip, res.report


def align_genotypes(genotypes, saved_variants: pd.DataFrame, *, sample_idx=None,
                    min_fraction: float = 0.5,
                    ambiguous: str = "keep") -> tuple[np.ndarray, MatchReport]:
    """Read a new fileset's dosages in the order of a run's QC'd variants.

    Parameters
    ----------
    genotypes : str, path-like or genoapp.io.PlinkGenotypes
        The new individuals' genotypes: a PLINK 1 prefix or ``.bed``, or a ``.vcf[.gz]``,
        ``.bcf``, ``.pgen`` or ``.bgen`` file (opened with :func:`genoapp.io.open_genotypes`;
        A1 = ALT for those).
    saved_variants : pandas.DataFrame
        The run's QC'd variant list (:attr:`FeatureProjector.variants`).
    sample_idx : array-like of int, optional
        Rows of the sample table to read (default all).
    min_fraction : float, default 0.5
        Fewest used variants accepted, as a fraction of the saved ones.
    ambiguous : {"keep", "drop"}, default "keep"
        Strand-ambiguous (A/T, C/G) SNPs: see :func:`harmonise_variants`.

    Returns
    -------
    G : numpy.ndarray (n_samples, n_saved) float32
        Copies of each saved variant's **A1** (``2 - d`` where the new file counts the other
        allele, on either strand), ``NaN`` where the call is missing or the variant is not
        used; the run's projector imputes the ``NaN`` with the training means.
    report : MatchReport
        With ``n_samples``, ``n_missing_calls`` and ``n_imputed_genotypes`` filled in.

    Raises
    ------
    InputDataError
        Fewer than ``min_fraction`` of the variants were found.
    """
    from genoapp.io import PlinkGenotypes, open_genotypes

    g = genotypes if isinstance(genotypes, PlinkGenotypes) else open_genotypes(genotypes)
    res = harmonise_variants(saved_variants, g.variants, ambiguous=ambiguous)
    report, index, flip = res.report, res.index, res.flip
    if report.n_matched < max(1, min_fraction * report.n_expected):
        source = getattr(getattr(g, "read_report", None), "source", "") or getattr(
            g, "prefix", "genotypes")
        raise InputDataError(
            f"{source}: only {report.n_matched} of the run's {report.n_expected} variants were "
            f"found (matched by chrom:pos:alleles or ID; {report.n_allele_mismatch} with other "
            f"alleles, {report.n_ambiguous_dropped} strand-ambiguous dropped). Use genotypes on "
            "the same build and variant naming as the training cohort."
        )
    found = np.flatnonzero(index >= 0)
    n = g.n_samples if sample_idx is None else len(np.asarray(sample_idx))
    G = np.full((n, report.n_expected), np.nan, dtype=np.float32)
    n_missing_calls = 0
    if found.size:
        block = g.read(sample_idx, index[found], dtype="float32")
        f = flip[found]
        block[:, f] = 2.0 - block[:, f]
        n_missing_calls = int(np.isnan(block).sum())
        G[:, found] = block
    report.n_samples = int(n)
    report.n_missing_calls = n_missing_calls
    report.n_imputed_genotypes = int(n) * report.n_imputed_variants + n_missing_calls
    return G, report
