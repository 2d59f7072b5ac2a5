"""Gene-PCA: per-gene principal components of SNP dosages (DiseaseCapsule, DESIGN §4.2).

For every gene ``g`` with ``m_g`` SNPs, the (samples x m_g) dosage matrix of the fitting rows is
centred (not scaled) and decomposed; the top ``k_g`` principal-component scores become the
gene's features, named ``"chrom:GENE:pc"``. ``k_g`` follows DiseaseCapsule (Wang et al. 2023,
"DiseaseCapsule: a capsule network for complex disease prediction"): 8 if ``m_g > 20``,
4 if ``4 < m_g <= 20``, else 1, never more than ``m_g``.

Exact and batched: genes with the same number of SNPs are stacked and their covariance
matrices (float64) decomposed with one batched symmetric eigensolver call (``torch.linalg.eigh``;
on the GPU when ``device`` says so), instead of thousands of small SVDs in a Python loop. The
result equals ``sklearn.decomposition.PCA(n_components=k_g)`` fitted per gene, signs included
(scikit-learn's ``svd_flip(u_based_decision=False)``: the loading of largest absolute value of
each component is positive).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from genoapp.errors import ConfigError, InputDataError
from genoapp.features.impute import _as_2d_float

__all__ = ["GenePCA", "gene_pca_k"]

# Elements (float64) of one gathered (samples x genes x SNPs) block: 2**25 = 256 MB.
_BATCH_ELEMENTS = 1 << 25
# Eigenvalues (dosage^2 units) at or below this are treated as zero variance.
_ABS_TOL = 1e-12
# Rows per chunk when scanning X for NaN.
_ROW_CHUNK = 2048


def gene_pca_k(n_snps):
    """Number of Gene-PCA components for a gene with ``n_snps`` SNPs (DiseaseCapsule rule).

    Parameters
    ----------
    n_snps : int or array-like of int
        SNPs per gene (>= 0).

    Returns
    -------
    int or numpy.ndarray of int64
        8 if ``n > 20``; 4 if ``4 < n <= 20``; 1 if ``n <= 4``; capped at ``n`` (so 0 for an empty
        gene). Same shape as the input (a Python int for a scalar).

    Raises
    ------
    ConfigError
        Negative or non-integer counts.
    """
    arr = np.asarray(n_snps)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ConfigError(f"gene_pca_k: expected integer SNP counts >= 0, found {n_snps!r}.")
    if arr.size and (np.any(arr < 0) or np.any(arr != np.round(arr))):
        raise ConfigError(f"gene_pca_k: expected integer SNP counts >= 0, found {n_snps!r}.")
    arr = arr.astype(np.int64)
    k = np.where(arr > 20, 8, np.where(arr > 4, 4, 1))
    k = np.minimum(k, arr).astype(np.int64)
    return int(k) if k.ndim == 0 else k


def _project(sub, V):
    """Scores ``(n, B, k)`` of centred blocks ``sub`` ``(n, B, m)`` on loadings ``V`` ``(B, m, k)``."""
    if sub.shape[2] == 1:
        return sub * V[:, 0, :][None, :, :]
    return (sub.permute(1, 0, 2) @ V).permute(1, 0, 2)


def _import_torch():
    import torch  # lazy: about 3 s

    return torch


def _resolve_device(device):
    torch = _import_torch()
    name = str(device).lower() if device is not None else ""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"GenePCA(device={device!r}): CUDA is not available on this machine; "
                "use device='cpu' or 'auto'."
            )
        return torch.device(name)
    raise ConfigError(f"GenePCA(device=...): expected 'cpu', 'cuda' or 'auto', found {device!r}.")


class GenePCA(BaseEstimator):
    """Per-gene PCA features (DiseaseCapsule "Gene-PCA"), scikit-learn style.

    Parameters
    ----------
    k_rule : "diseasecapsule" or int, default "diseasecapsule"
        Components per gene: ``"diseasecapsule"`` uses :func:`gene_pca_k` (8 / 4 / 1 by SNP
        count); an int ``k >= 1`` keeps ``min(k, n_snps)`` for every gene.
    max_components : int, default 8
        Upper bound on the components of any gene (>= 1).
    dtype : {"float32", "float64"}, default "float32"
        dtype of the returned features (computation is always float64).
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where the batched covariance products and eigensolvers run (``"auto"``: CUDA if
        available, else CPU). The device used is stored in ``device_``.

    Attributes
    ----------
    feature_names_ : numpy.ndarray of str, shape (n_features,)
        ``"chrom:GENE:pc"`` with ``pc`` 1-based, e.g. ``"1:SAMD11:1"``; genes in order of first
        appearance in the annotation, components in decreasing variance.
    feature_gene_ : numpy.ndarray of str, shape (n_features,)
        Gene key of every feature (for gene masking).
    genes_ : pandas.DataFrame
        One row per gene of the annotation (order of first appearance): ``gene``, ``chrom``,
        ``n_snps``, ``n_components``, ``explained_variance_ratio_total`` (share of the gene's
        total variance kept), ``total_variance``, ``first_feature`` (column of its first
        feature, -1 for none).
    explained_variance_ : numpy.ndarray of float64, shape (n_features,)
        Variance of every component on the fitting rows (ddof = 1, as scikit-learn).
    explained_variance_ratio_ : numpy.ndarray of float64, shape (n_features,)
        ``explained_variance_`` divided by the total variance of its gene (as scikit-learn's
        per-gene PCA).
    mean_ : numpy.ndarray of float64, shape (n_variants,)
        Mean dosage of every variant on the fitting rows (NaN for variants in no gene).
    n_features_in_ : int
        Variants (columns of ``X``) seen in ``fit``.
    n_samples_fit_ : int
        Rows used in ``fit``.
    device_ : str
        Device used.

    Notes
    -----
    * Number of components of gene g: ``k_g = min(rule(m_g), max_components, n_fit - 1,
      rank_g)``, where ``rank_g`` counts eigenvalues above
      ``max(lambda_max * max(n_fit, m_g) * eps64, 1e-12)``. Components that would only span
      numerical noise (SNPs in perfect LD, fewer samples than SNPs) are therefore not returned;
      scikit-learn would return arbitrary zero-variance directions there.
    * Genes whose SNPs have zero variance in the fitting rows (all monomorphic) get no feature;
      they stay in ``genes_`` with ``n_components = 0``.
    * A SNP assigned to several genes (overlapping genes, nearest-gene ties) is used in each.
    * Leakage-safe use: ``fit`` on training rows, ``transform`` all rows (DESIGN default); the
      published DiseaseCapsule behaviour is ``fit`` on all rows.
    """

    def __init__(self, *, k_rule="diseasecapsule", max_components=8, dtype="float32", device="cpu"):
        self.k_rule = k_rule
        self.max_components = max_components
        self.dtype = dtype
        self.device = device

    # ------------------------------------------------------------------ parameters / inputs
    def _check_params(self):
        if isinstance(self.k_rule, str):
            if self.k_rule != "diseasecapsule":
                raise ConfigError(
                    f"GenePCA(k_rule=...): expected 'diseasecapsule' or an integer >= 1, "
                    f"found {self.k_rule!r}."
                )
        elif (
            isinstance(self.k_rule, bool)
            or not isinstance(self.k_rule, (int, np.integer))
            or self.k_rule < 1
        ):
            raise ConfigError(
                f"GenePCA(k_rule=...): expected 'diseasecapsule' or an integer >= 1, found {self.k_rule!r}."
            )
        mc = self.max_components
        if isinstance(mc, bool) or not isinstance(mc, (int, np.integer)) or mc < 1:
            raise ConfigError(
                f"GenePCA(max_components=...): expected an integer >= 1, found {mc!r}."
            )
        if str(self.dtype) not in ("float32", "float64"):
            raise ConfigError(
                f"GenePCA(dtype=...): expected 'float32' or 'float64', found {self.dtype!r}."
            )
        return np.dtype(str(self.dtype)), _resolve_device(self.device)

    def _k_for(self, m: int) -> int:
        if self.k_rule == "diseasecapsule":
            k = gene_pca_k(m)
        else:
            k = min(int(self.k_rule), m)
        return int(min(k, int(self.max_components)))

    @staticmethod
    def _check_nan(X: np.ndarray, used: np.ndarray, where: str) -> None:
        for r0 in range(0, X.shape[0], _ROW_CHUNK):
            rows = X[r0 : r0 + _ROW_CHUNK]
            if np.isfinite(rows.sum(dtype=np.float64)):  # fast path: one reduction, no copy
                continue
            block = rows[:, used]
            bad = np.isnan(block)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise InputDataError(
                    f"{where}: X has missing dosages (NaN), first at row {r0 + int(r)}, column "
                    f"{int(used[c])}; Gene-PCA needs complete data. Impute first "
                    "(genoapp.features.MeanImputer fitted on the training rows)."
                )
            if not np.isfinite(block).all():
                raise InputDataError(f"{where}: X has infinite values; expected dosages 0..2.")

    @staticmethod
    def _prepare(annotation: pd.DataFrame, p: int):
        if not isinstance(annotation, pd.DataFrame):
            raise InputDataError(
                f"GenePCA.fit: annotation must be a DataFrame (output of annotate_snps or "
                f"snp_windows), found {type(annotation).__name__}."
            )
        missing = [c for c in ("variant_index", "gene", "chrom") if c not in annotation.columns]
        if missing:
            raise InputDataError(
                f"GenePCA.fit: annotation lacks column(s) {missing}; pass the output of "
                "annotate_snps or snp_windows."
            )
        if len(annotation) == 0:
            raise InputDataError(
                "GenePCA.fit: the annotation is empty (no SNP was assigned to a gene); check that "
                "the gene table has the chromosomes and genome build of the genotypes."
            )
        if annotation["variant_index"].isna().any() or annotation["gene"].isna().any():
            raise InputDataError(
                "GenePCA.fit: annotation has missing variant_index or gene values."
            )
        vidx = np.asarray(annotation["variant_index"].to_numpy(), dtype=np.int64)
        if vidx.min() < 0 or vidx.max() >= p:
            raise InputDataError(
                f"GenePCA.fit: annotation refers to variant_index {int(vidx.min())}..{int(vidx.max())} "
                f"but X has {p} columns; annotate the same variants (same order) as in X."
            )
        code, names = pd.factorize(annotation["gene"], sort=False)
        code = np.asarray(code, dtype=np.int64)
        names = np.asarray(names, dtype=object).astype(str)
        n_genes = len(names)
        first_row = np.full(n_genes, len(code), dtype=np.int64)
        np.minimum.at(first_row, code, np.arange(len(code)))
        chrom = annotation["chrom"].to_numpy(dtype=object).astype(str)[first_row]
        order = np.lexsort((vidx, code))
        code_s, vidx_s = code[order], vidx[order]
        keep = np.ones(len(order), dtype=bool)
        keep[1:] = (code_s[1:] != code_s[:-1]) | (vidx_s[1:] != vidx_s[:-1])
        code_s, vidx_s = code_s[keep], vidx_s[keep]
        sizes = np.bincount(code_s, minlength=n_genes).astype(np.int64)
        offsets = np.cumsum(sizes) - sizes
        return names, chrom, sizes, offsets, vidx_s

    # ------------------------------------------------------------------ fitting
    def fit(self, X, annotation) -> GenePCA:
        """Fit per-gene PCAs on the rows of ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_variants)
            Dosages (counted allele, 0..2) without missing values; impute first. Usually the
            training rows only.
        annotation : pandas.DataFrame
            Output of :func:`~genoapp.features.annotate_snps` or
            :func:`~genoapp.features.snp_windows` for the same variants (``variant_index`` =
            column of ``X``); columns ``variant_index``, ``gene``, ``chrom`` are used.

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            NaN/inf in the used columns, fewer than 2 rows, annotation inconsistent with ``X``.
        ConfigError
            Invalid hyper-parameters or unavailable device.
        """
        self._fit(X, annotation, want_scores=False)
        return self

    def fit_transform(self, X, annotation) -> np.ndarray:
        """Fit on ``X`` and return its features (same as ``fit(X, a).transform(X)``, one pass).

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_features), dtype ``self.dtype``
        """
        return self._fit(X, annotation, want_scores=True)

    def _fit(self, X, annotation, *, want_scores: bool):
        out_dtype, dev = self._check_params()
        torch = _import_torch()
        X = _as_2d_float(X, "GenePCA.fit: X")
        n, p = X.shape
        if n < 2:
            raise InputDataError(
                f"GenePCA.fit: X has {n} row(s); PCA needs at least 2 samples to fit."
            )
        names, chrom, sizes, offsets, vidx_s = self._prepare(annotation, p)
        used = np.unique(vidx_s)
        self._check_nan(X, used, "GenePCA.fit")
        n_genes = len(names)
        eps = float(np.finfo(np.float64).eps)

        mean = np.full(p, np.nan)
        n_comp = np.zeros(n_genes, dtype=np.int64)
        total_var = np.zeros(n_genes, dtype=np.float64)
        ev_pad = np.zeros((n_genes, max(int(self.max_components), 1)), dtype=np.float64)
        groups = []  # (m, gene ids, idx (G, m), V (G, m, kcap))
        score_chunks = []  # (gene ids, scores (n, G, kcap))

        for m in np.unique(sizes):
            m = int(m)
            if m == 0:
                continue
            gids = np.flatnonzero(sizes == m)
            idx_all = vidx_s[offsets[gids][:, None] + np.arange(m)]
            kcap = min(self._k_for(m), n - 1)
            step = max(1, _BATCH_ELEMENTS // (n * m))
            g_keep, idx_keep, v_keep = [], [], []
            for b0 in range(0, len(gids), step):
                g = gids[b0 : b0 + step]
                idx = idx_all[b0 : b0 + step]
                B = len(g)
                sub = torch.from_numpy(X[:, idx.reshape(-1)]).to(device=dev, dtype=torch.float64)
                mu = sub.mean(dim=0)
                sub.sub_(mu)
                sub = sub.reshape(n, B, m)  # (n, B, m), centred
                if m == 1:  # one SNP: the component is the SNP itself (loading +1)
                    tot = (sub[:, :, 0] ** 2).sum(0) / (n - 1)
                    evals = tot[:, None]
                    evecs = torch.ones((B, 1, 1), dtype=torch.float64, device=dev)
                else:
                    sub_b = sub.permute(1, 0, 2)  # (B, n, m) view
                    cov = sub_b.transpose(1, 2) @ sub_b / (n - 1)
                    tot = torch.diagonal(cov, dim1=1, dim2=2).sum(-1)
                    evals, evecs = torch.linalg.eigh(cov)
                    evals = evals.flip(-1).clamp(min=0.0)
                    evecs = evecs.flip(-1)[:, :, :kcap]
                    # sign: largest |loading| of each component positive (sklearn svd_flip, v-based)
                    am = evecs.abs().argmax(dim=1, keepdim=True)
                    sgn = torch.sign(torch.gather(evecs, 1, am))
                    sgn[sgn == 0] = 1.0
                    evecs = evecs * sgn
                tol = torch.clamp(evals[:, 0] * (max(n, m) * eps), min=_ABS_TOL)
                rank = (evals > tol[:, None]).sum(-1)
                k_g = torch.clamp(rank, max=kcap)
                live = torch.arange(kcap, device=dev)[None, :] < k_g[:, None]
                evecs = evecs * live[:, None, :]
                mean[idx.reshape(-1)] = mu.cpu().numpy()
                k_np = k_g.cpu().numpy()
                n_comp[g] = k_np
                total_var[g] = tot.cpu().numpy()
                ev_pad[g, :kcap] = evals[:, :kcap].cpu().numpy()
                nz = k_np > 0
                if not nz.any():
                    continue
                if not nz.all():
                    sel = torch.from_numpy(np.flatnonzero(nz)).to(dev)
                    evecs = evecs.index_select(0, sel)
                    sub = sub.index_select(1, sel)
                g_keep.append(g[nz])
                idx_keep.append(idx[nz])
                v_keep.append(evecs.cpu().numpy())
                if want_scores:
                    sc = _project(sub, evecs)  # (n, B', kcap)
                    score_chunks.append((g[nz], sc.cpu().numpy().astype(out_dtype, copy=False)))
            if g_keep:
                groups.append(
                    (m, np.concatenate(g_keep), np.concatenate(idx_keep), np.concatenate(v_keep))
                )

        first = np.cumsum(n_comp) - n_comp
        first = np.where(n_comp > 0, first, -1)
        n_feat = int(n_comp.sum())
        feat_gene_id = np.repeat(np.arange(n_genes), n_comp)
        pc = np.arange(n_feat) - np.repeat(np.cumsum(n_comp) - n_comp, n_comp) + 1
        ev = ev_pad[feat_gene_id, pc - 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            evr = ev / total_var[feat_gene_id]

        # output columns of every stored component (-1 = padding)
        self._groups = []
        for m, g, idx, V in groups:
            kcap = V.shape[2]
            j = np.arange(kcap)[None, :]
            cols = np.where(j < n_comp[g][:, None], first[g][:, None] + j, -1)
            self._groups.append({"m": m, "genes": g, "idx": idx, "V": V, "cols": cols})

        self.feature_gene_ = names[feat_gene_id]
        self.feature_names_ = (
            (
                pd.Series(chrom[feat_gene_id], dtype=object)
                + ":"
                + pd.Series(self.feature_gene_, dtype=object)
                + ":"
                + pd.Series(pc.astype(str), dtype=object)
            )
            .to_numpy(dtype=object)
            .astype(str)
        )
        self.explained_variance_ = ev.astype(np.float64)
        self.explained_variance_ratio_ = evr.astype(np.float64)
        evr_total = np.zeros(n_genes)
        np.add.at(evr_total, feat_gene_id, evr)
        self.genes_ = pd.DataFrame(
            {
                "gene": pd.array(names, dtype="str"),
                "chrom": pd.array(chrom, dtype="str"),
                "n_snps": sizes,
                "n_components": n_comp,
                "explained_variance_ratio_total": evr_total,
                "total_variance": total_var,
                "first_feature": first.astype(np.int64),
            }
        )
        self.mean_ = mean
        self.n_features_in_ = p
        self.n_samples_fit_ = n
        self.device_ = str(dev)
        self._out_dtype = out_dtype

        if not want_scores:
            return None
        out = np.empty((n, n_feat), dtype=out_dtype)
        for g, sc in score_chunks:
            j = np.arange(sc.shape[2])[None, :]
            cols = np.where(j < n_comp[g][:, None], first[g][:, None] + j, -1)
            mask = cols >= 0
            out[:, cols[mask]] = sc[:, mask]
        return out

    def transform(self, X) -> np.ndarray:
        """Project rows onto the fitted per-gene components.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_variants)
            Dosages with the variants of ``fit`` in the same order, no missing values (impute
            with the imputer fitted on the training rows). Centred with the training means.

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_features), dtype ``self.dtype``
            Column ``f`` = score on component ``feature_names_[f]``.

        Raises
        ------
        InputDataError
            Not fitted, wrong number of variants, NaN/inf in the used columns.
        """
        if not hasattr(self, "_groups"):
            raise InputDataError("GenePCA.transform: call fit (on the training rows) first.")
        torch = _import_torch()
        dev = torch.device(self.device_)
        X = _as_2d_float(X, "GenePCA.transform: X")
        n, p = X.shape
        if p != self.n_features_in_:
            raise InputDataError(
                f"GenePCA.transform: X has {p} variants, GenePCA was fitted on "
                f"{self.n_features_in_}; pass the same variants in the same order."
            )
        used = np.flatnonzero(~np.isnan(self.mean_))
        self._check_nan(X, used, "GenePCA.transform")
        out = np.empty((n, len(self.feature_names_)), dtype=self._out_dtype)
        if n == 0:
            return out
        mean_t = torch.from_numpy(np.nan_to_num(self.mean_))
        for grp in self._groups:
            m, idx_all, V_all, cols_all = grp["m"], grp["idx"], grp["V"], grp["cols"]
            step = max(1, _BATCH_ELEMENTS // (n * m))
            for b0 in range(0, len(idx_all), step):
                idx = idx_all[b0 : b0 + step].reshape(-1)
                B = len(idx) // m
                sub = torch.from_numpy(X[:, idx]).to(dtype=torch.float64)
                sub.sub_(mean_t[torch.from_numpy(idx)])
                sub = sub.to(dev).reshape(n, B, m)
                V = torch.from_numpy(V_all[b0 : b0 + step]).to(dev)
                sc = _project(sub, V).cpu().numpy()
                cols = cols_all[b0 : b0 + step]
                mask = cols >= 0
                out[:, cols[mask]] = sc[:, mask].astype(self._out_dtype)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Feature names ``"chrom:GENE:pc"`` (scikit-learn API)."""
        return self.feature_names_.astype(object)

    def gene_loadings(self, gene: str) -> pd.DataFrame:
        """Loadings of one gene's components.

        Parameters
        ----------
        gene : str
            Gene key (as in ``genes_["gene"]``).

        Returns
        -------
        pandas.DataFrame, shape (n_snps, n_components)
            Index ``variant_index`` (columns of X), columns ``pc1``, ``pc2``, ...; every column
            has unit norm; the entry of largest absolute value is positive.

        Raises
        ------
        InputDataError
            Unknown gene.
        """
        if not hasattr(self, "_groups"):
            raise InputDataError("GenePCA.gene_loadings: call fit first.")
        hit = np.flatnonzero(self.genes_["gene"].to_numpy(dtype=object) == gene)
        if hit.size == 0:
            raise InputDataError(f"GenePCA.gene_loadings: gene {gene!r} is not in genes_.")
        gid = int(hit[0])
        k = int(self.genes_["n_components"].iloc[gid])
        for grp in self._groups:
            pos = np.flatnonzero(grp["genes"] == gid)
            if pos.size:
                r = int(pos[0])
                return pd.DataFrame(
                    grp["V"][r][:, :k],
                    index=pd.Index(grp["idx"][r], name="variant_index"),
                    columns=[f"pc{j + 1}" for j in range(k)],
                )
        return pd.DataFrame(index=pd.Index([], name="variant_index", dtype=np.int64))
