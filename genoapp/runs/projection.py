"""From new individuals' genotypes to a saved model's inputs.

A saved run keeps, for every input it was trained on, a :class:`FeatureProjector`: the QC'd
variant list (chrom, id, pos, A1, A2 of the columns the features were built from), the
imputation means and the feature projection (Gene-PCA, window PCA, All-PCA) **fitted on the
run's training samples**. :func:`align_genotypes` reads a new PLINK fileset in that variant
order (matching by variant id, else chromosome:position, and flipping dosages when A1/A2 are
swapped); the projector then imputes and projects exactly as in training.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from genoapp.errors import InputDataError

__all__ = ["FeatureProjector", "MatchReport", "align_genotypes", "match_variants"]

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


@dataclasses.dataclass
class MatchReport:
    """How a new fileset's variants matched a run's QC'd variant list.

    Attributes
    ----------
    n_expected : int
        Variants of the run.
    n_matched : int
        Found with the same alleles (including swapped ones).
    n_flipped : int
        Found with A1 and A2 swapped (dosage replaced by 2 - dosage).
    n_missing : int
        Not found (all their dosages are set missing, then imputed with training means).
    n_allele_mismatch : int
        Found, but with other alleles (treated as missing).
    matched_by : str
        "id" or "chrom:pos".
    """

    n_expected: int
    n_matched: int
    n_flipped: int
    n_missing: int
    n_allele_mismatch: int
    matched_by: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def match_variants(saved: pd.DataFrame, new: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, MatchReport]:
    """Locate the saved variants in a new variant table.

    Parameters
    ----------
    saved, new : pandas.DataFrame
        Variant tables (``chrom``, ``id``, ``pos``, ``A1``, ``A2``).

    Returns
    -------
    index : numpy.ndarray of int64 (n_saved,)
        Row of ``new`` for every saved variant, -1 where absent or with other alleles.
    flip : numpy.ndarray of bool (n_saved,)
        A1/A2 swapped.
    report : MatchReport

    Notes
    -----
    Variant ids are used when most saved ids are unique and informative (not ".");
    otherwise chromosome and position.
    """
    saved = _variant_table(saved)
    new = _variant_table(new)
    ids_ok = saved["id"].ne(".").mean() > 0.5 and saved["id"].is_unique and new["id"].is_unique
    if ids_ok and saved["id"].isin(new["id"]).any():
        key_s, key_n, by = saved["id"], new["id"], "id"
    else:
        key_s = saved["chrom"] + ":" + saved["pos"].astype(str)
        key_n = new["chrom"] + ":" + new["pos"].astype(str)
        key_n = key_n.where(~key_n.duplicated(keep=False), None)
        by = "chrom:pos"
    lookup = pd.Series(np.arange(len(new)), index=key_n.to_numpy())
    lookup = lookup[lookup.index.notna()]
    lookup = lookup[~lookup.index.duplicated(keep="first")]
    idx = lookup.reindex(key_s.to_numpy()).to_numpy()
    found = ~pd.isna(idx)
    index = np.full(len(saved), -1, dtype=np.int64)
    index[found] = idx[found].astype(np.int64)
    flip = np.zeros(len(saved), dtype=bool)
    mismatch = np.zeros(len(saved), dtype=bool)
    if found.any():
        fi = np.flatnonzero(found)
        a1n = new["A1"].to_numpy()[index[fi]]
        a2n = new["A2"].to_numpy()[index[fi]]
        a1s = saved["A1"].to_numpy()[fi]
        a2s = saved["A2"].to_numpy()[fi]
        same = (a1n == a1s) & (a2n == a2s)
        swapped = (a1n == a2s) & (a2n == a1s) & ~same
        flip[fi[swapped]] = True
        bad = ~(same | swapped)
        mismatch[fi[bad]] = True
        index[fi[bad]] = -1
    report = MatchReport(
        n_expected=len(saved), n_matched=int((index >= 0).sum()), n_flipped=int(flip.sum()),
        n_missing=int((~found).sum()), n_allele_mismatch=int(mismatch.sum()), matched_by=by,
    )
    return index, flip, report


def align_genotypes(genotypes, saved_variants: pd.DataFrame, *, sample_idx=None,
                    min_fraction: float = 0.5) -> tuple[np.ndarray, MatchReport]:
    """Read a new fileset's dosages in the order of a run's QC'd variants.

    Parameters
    ----------
    genotypes : str, path-like or genoapp.io.PlinkGenotypes
        The new individuals' PLINK fileset.
    saved_variants : pandas.DataFrame
        The run's QC'd variant list (:attr:`FeatureProjector.variants`).
    sample_idx : array-like of int, optional
        Rows of the .fam to read (default all).
    min_fraction : float, default 0.5
        Fewest matched variants accepted, as a fraction of the saved ones.

    Returns
    -------
    G : numpy.ndarray (n_samples, n_saved) float32
        Dosages of each saved variant's A1 (flipped where the new file counts the other
        allele), NaN where missing or absent.
    report : MatchReport

    Raises
    ------
    InputDataError
        Fewer than ``min_fraction`` of the variants were found.
    """
    from genoapp.io import PlinkGenotypes, open_plink

    g = genotypes if isinstance(genotypes, PlinkGenotypes) else open_plink(genotypes)
    index, flip, report = match_variants(saved_variants, g.variants)
    if report.n_matched < max(1, min_fraction * report.n_expected):
        raise InputDataError(
            f"{getattr(g, 'prefix', 'genotypes')}: only {report.n_matched} of the run's "
            f"{report.n_expected} variants were found (matched by {report.matched_by}; "
            f"{report.n_allele_mismatch} with other alleles). Use genotypes on the same build and "
            "variant naming as the training cohort."
        )
    found = np.flatnonzero(index >= 0)
    n = g.n_samples if sample_idx is None else len(np.asarray(sample_idx))
    G = np.full((n, report.n_expected), np.nan, dtype=np.float32)
    if found.size:
        block = g.read(sample_idx, index[found], dtype="float32")
        f = flip[found]
        block[:, f] = 2.0 - block[:, f]
        G[:, found] = block
    return G, report
