"""Gene scan: the coupling of one-gene-only inputs (DiseaseCapsule, DESIGN §4.4).

For every gene g the network is run on inputs with every feature zeroed except g's Gene-PCA
components, and the coupling coefficients ``c^g_kj`` (summed over the positions of primary
type k, final routing iteration, eval mode) are averaged over the samples whose true label is j
(Luo et al., DiseaseCapsule, Fig. 4a; the authors' ``Cij_for_single_gene`` tables). The genes
are ranked by ``c^g_{k*,case}``, k* the primary type with the strongest case coupling.

The fast scan never runs the full first layer: the hidden vector of a one-gene input is
``ReLU(W[:, cols_g] x_g + b)``, a product with at most a handful of columns (see
:mod:`genoapp.interpret.forward`). Genes x samples are flattened into one stream of items and
routed in batches on the model's device (GPU when the model is there). Two more savings, both
exact:

- with the authors' routing (softmax over input capsules) the case row needs the case
  capsule's routing only, on case samples only;
- samples whose gene-g features are identical (common for genes with few SNPs: a one-SNP gene
  has at most three distinct genotypes) give identical outputs: each distinct feature row of a
  gene is run once and weighted by its count.

The fast scan runs as jobs of the current executor (:mod:`genoapp.execution`): one per class
and contiguous range of genes, on Dask workers under ``use_executor("local:N")``, with the same
result as in this process.

``method="naive"`` runs the model's own forward pass on the masked full inputs, gene by gene
(the reference for tests and benchmarks).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from genoapp.errors import ConfigError, InputDataError
from genoapp.interpret._jobs import Bundle, executor_for, target_jobs
from genoapp.interpret.coupling import mean_coupling_by_label, strongest_case_type
from genoapp.interpret.forward import (
    GeneIndex,
    auto_batch_size,
    class_matrices,
    coupling_from_hidden,
    net_of,
)

__all__ = ["GeneScanResult", "gene_scan", "as_gene_index", "SCAN_RESOLUTION", "tie_tolerance", "tie_groups"]

_HASH_SEED = 20230509

#: Relative resolution of the gene-scan arithmetic: scores closer than this times the largest
#: absolute score are ties. float64 keeps about 16 digits (eps 2.2e-16): 1e-12 leaves room for
#: the rounding accumulated over thousands of routed inputs; float32 keeps about 7 (eps 1.2e-7).
SCAN_RESOLUTION = {"float64": 1e-12, "float32": 1e-6}


def tie_tolerance(scores, dtype: str = "float64") -> float:
    """Absolute tolerance below which two scores of a scan are ties.

    ``SCAN_RESOLUTION[dtype] * max(|scores|)``: relative 1e-12 for float64 scans, 1e-6 for
    float32 (the arithmetic of :func:`~genoapp.interpret.gene_scan`, ``GeneScanResult.dtype``).
    """
    if dtype not in SCAN_RESOLUTION:
        raise ConfigError(f"dtype: must be one of {sorted(SCAN_RESOLUTION)}, got {dtype!r}.")
    s = np.asarray(scores, dtype=np.float64)
    top = float(np.nanmax(np.abs(s))) if s.size else 0.0
    return SCAN_RESOLUTION[dtype] * top


def tie_groups(scores, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Ranks with ties and tie groups of scores (higher is better).

    Sorted in decreasing order, a score joins the group of the previous one when it is less
    than ``tol`` below it (single linkage: a long run of near-equal scores forms one group even
    when its ends differ by more than ``tol``).

    Parameters
    ----------
    scores : array-like (G,)
    tol : float
        Absolute tolerance (:func:`tie_tolerance`); 0 ties exactly equal scores only.

    Returns
    -------
    rank : ndarray (G,) int64
        1 + the number of genes in better groups (method "min": a group shares its best rank).
    group : ndarray (G,) int64
        1-based tie group, in decreasing order of score.
    """
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    ss = s[order]
    new = np.ones(s.size, dtype=bool)
    if s.size > 1:
        new[1:] = (ss[:-1] - ss[1:]) >= tol if tol > 0 else ss[:-1] != ss[1:]
    grp_sorted = np.cumsum(new)
    first = np.flatnonzero(new)                         # position of each group's first gene
    rank_sorted = first[grp_sorted - 1] + 1
    rank = np.empty(s.size, dtype=np.int64)
    group = np.empty(s.size, dtype=np.int64)
    rank[order] = rank_sorted
    group[order] = grp_sorted
    return rank, group


@dataclasses.dataclass
class GeneScanResult:
    """Mean one-gene-only coupling of every scanned gene.

    Attributes
    ----------
    genes : ndarray (G,) object
        Gene keys scanned, in feature order.
    case : ndarray (G, K) float64
        Row "case" of c^g: mean over the samples averaged (cases when labels were given) of
        the coupling of each primary type k (0-based) to the case capsule. Rows sum to 1 with
        the authors' routing.
    control : ndarray (G, K) float64 or None
        The control row (mean over controls), when ``both_classes=True``.
    k_star : int
        0-based primary type used for the ranking (paper: type 5, k = 4).
    n_samples : dict
        Samples averaged per class, e.g. ``{"case": 520}``.
    n_items, n_items_total : int
        Gene x sample inputs run after and before merging identical inputs.
    method : str
        "fast" or "naive".
    device : str
    seconds : float
    dtype : str
        Arithmetic used ("float64" or "float32").
    """

    genes: np.ndarray
    case: np.ndarray
    control: np.ndarray | None
    k_star: int
    n_samples: dict
    n_items: int
    n_items_total: int
    method: str
    device: str
    seconds: float
    dtype: str = "float64"

    def scores(self, k: int | None = None) -> np.ndarray:
        """``c^g_{k,case}`` (G,) for type k (default :attr:`k_star`), the ranking statistic."""
        k = self.k_star if k is None else int(k)
        if not 0 <= k < self.case.shape[1]:
            raise ConfigError(f"k: primary type must be in 0..{self.case.shape[1] - 1}, got {k}.")
        return self.case[:, k]

    @property
    def tolerance(self) -> float:
        """Score difference below which two genes tie: the arithmetic's resolution (relative
        1e-12 for float64 scans, 1e-6 for float32) times the largest absolute score of type
        :attr:`k_star` (:func:`tie_tolerance`)."""
        return tie_tolerance(self.scores(), "float64" if self.dtype == "float64" else "float32")

    def ranked(self, k: int | None = None) -> pd.DataFrame:
        """Genes best first, differences below the arithmetic's resolution ranked as ties.

        Returns
        -------
        pandas.DataFrame
            ``rank`` (genes of a tie group share its best rank), ``gene``, ``score``
            (:meth:`scores` of type k), ``tie_group`` (1-based, best first), ``n_tied``.
        """
        s = np.asarray(self.scores(k), dtype=np.float64)
        rank, group = tie_groups(s, tie_tolerance(s, "float64" if self.dtype == "float64" else "float32"))
        df = pd.DataFrame({"rank": rank, "gene": self.genes, "score": s, "tie_group": group,
                           "n_tied": np.bincount(group)[group]})
        return df.iloc[np.lexsort((np.arange(s.size), -s))].reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        """One row per gene: ``gene``, ``case_type1..K`` (and ``control_type1..K``), 1-based
        type numbers as in the paper and the authors' ``als_pc*`` / ``healthy_pc*`` columns."""
        K = self.case.shape[1]
        cols = {"gene": self.genes}
        if self.control is not None:
            for k in range(K):
                cols[f"control_type{k + 1}"] = self.control[:, k]
        for k in range(K):
            cols[f"case_type{k + 1}"] = self.case[:, k]
        return pd.DataFrame(cols)


@dataclasses.dataclass
class FeatureTable:
    """Model inputs for interpretation when there is no :class:`genoapp.features.FeatureSet`.

    Attributes
    ----------
    X : array-like (n, F)
        Features of every sample.
    feature_gene : array-like (F,)
        Gene key of every feature column.
    y : array-like (n,), optional
        0/1 labels of the samples.
    split : object with ``train_idx`` and ``test_idx``, optional
        So that ``samples="train"`` / ``"test"`` work.
    """

    X: object
    feature_gene: object
    y: object = None
    split: object = None

    def rows(self, samples="all") -> np.ndarray:
        """Row indices of ``"all"``, ``"train"``, ``"test"`` or an index array."""
        if isinstance(samples, str):
            if samples == "all":
                return np.arange(np.asarray(self.X).shape[0])
            if samples in ("train", "test") and self.split is not None:
                return np.asarray(self.split.train_idx if samples == "train" else self.split.test_idx)
            raise ConfigError(f"samples={samples!r}: give 'all', row indices, or a split.")
        return np.asarray(samples, dtype=np.int64)


def select_rows(features, samples) -> tuple[np.ndarray, np.ndarray | None, GeneIndex]:
    """Features ``X`` and labels ``y`` of a sample set, and the gene index.

    Parameters
    ----------
    features : genoapp.features.FeatureSet or FeatureTable
        Anything with ``X``, ``feature_gene``, ``y`` (labels or None) and ``rows(samples)``.
    samples : {"train", "test", "all"} or array-like of int
        Which rows (the split the features carry for "train"/"test").

    Returns
    -------
    (numpy.ndarray (m, F), numpy.ndarray (m,) or None, GeneIndex)

    Raises
    ------
    ConfigError
        Not a feature set, or a sample name the features cannot resolve.
    """
    if not hasattr(features, "X") or not hasattr(features, "feature_gene"):
        raise ConfigError("features: pass the FeatureSet the model was trained on (or a "
                          "genoapp.interpret.FeatureTable(X, feature_gene, y)).")
    y = getattr(features, "y", None)
    if isinstance(samples, str) and samples == "all":  # a view: no copy of a large matrix
        return np.asarray(features.X), None if y is None else np.asarray(y), \
            as_gene_index(features.feature_gene)
    rows = features.rows(samples)
    X = np.asarray(features.X)[rows]
    y = None if y is None else np.asarray(y)[rows]
    return X, y, as_gene_index(features.feature_gene)


def as_gene_index(feature_gene) -> GeneIndex:
    """A :class:`GeneIndex` from a GeneIndex, a FeatureSet or a per-feature gene-key array."""
    if isinstance(feature_gene, GeneIndex):
        return feature_gene
    if hasattr(feature_gene, "feature_gene"):
        return GeneIndex(feature_gene.feature_gene)
    return GeneIndex(feature_gene)


def _check_inputs(model, X, gi: GeneIndex) -> np.ndarray:
    net = net_of(model)
    Xa = np.asarray(X)
    if Xa.ndim != 2:
        raise InputDataError(f"X: expected a 2-D feature matrix (samples x features), got shape {Xa.shape}.")
    if Xa.shape[1] != gi.n_features or Xa.shape[1] != net.n_features:
        raise InputDataError(
            f"X: has {Xa.shape[1]} features, the gene index {gi.n_features} and the model "
            f"{net.n_features}; use the FeatureSet the model was trained on."
        )
    Xa = np.ascontiguousarray(Xa, dtype=np.float32)
    if not np.isfinite(Xa).all():
        raise InputDataError("X: contains missing or infinite values; impute before scanning.")
    return Xa


def _rows_per_class(y, n: int, classes: tuple[int, ...]) -> dict[int, np.ndarray]:
    if y is None:
        return {j: np.arange(n) for j in classes}
    lab = np.asarray(y)
    if lab.ndim != 1 or lab.shape[0] != n:
        raise InputDataError(f"y: expected {n} labels (one per row of X), got shape {lab.shape}.")
    if not np.isin(lab, (0, 1)).all():
        raise InputDataError(f"y: labels must be 0 (control) or 1 (case); found {np.unique(lab)[:5].tolist()}.")
    out = {}
    for j in classes:
        rows = np.flatnonzero(lab == j)
        if rows.size == 0:
            name = "case" if j == 1 else "control"
            raise InputDataError(
                f"y: no {name} among the samples scanned; the {name} row of c^g averages over "
                f"{name}s. Scan a sample set that contains both classes."
            )
        out[j] = rows
    return out


def _distinct_rows(Xg: torch.Tensor, dedup: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct feature rows of each gene of a chunk, on the chunk's device.

    Xg : (n, m, k) float32, the n samples' features of m genes (zero padded to k).
    Returns flat tensors (gene_local, row, count) with one entry per distinct (gene, row): rows
    with bit-identical features are merged (a 64-bit hash groups them; every row is then
    compared with its group's first row, and a gene with any mismatch keeps all its rows).
    """
    n, m, k = Xg.shape
    dev = Xg.device
    if not dedup or n == 1:
        g = torch.arange(m, device=dev).repeat_interleave(n)
        r = torch.arange(n, device=dev).repeat(m)
        return g, r, torch.ones(n * m, dtype=torch.float64, device=dev)
    rng = np.random.default_rng(_HASH_SEED)
    mult = torch.from_numpy(rng.integers(1, 2**62, size=k, dtype=np.int64) * 2 + 1).to(dev)
    bits = Xg.contiguous().view(torch.int32).to(torch.int64)
    h = (bits * mult).sum(dim=2)                                # (n, m), wraps modulo 2^64
    hs, order = torch.sort(h, dim=0, stable=True)
    new = torch.ones((n, m), dtype=torch.bool, device=dev)
    new[1:] = hs[1:] != hs[:-1]
    ar = torch.arange(n, device=dev).unsqueeze(1).expand(n, m)
    first = torch.cummax(torch.where(new, ar, torch.zeros_like(ar)), dim=0).values
    rep = order.gather(0, first)                               # group's first row, per position
    cols = torch.arange(m, device=dev).unsqueeze(0)
    ok = (Xg[order, cols] == Xg[rep, cols]).all(dim=2).all(dim=0)   # (m,)
    g_out, r_out, c_out = [], [], []
    bad = torch.nonzero(~ok).squeeze(1)
    if bad.numel():
        g_out.append(bad.repeat_interleave(n))
        r_out.append(torch.arange(n, device=dev).repeat(bad.numel()))
        c_out.append(torch.ones(n * bad.numel(), dtype=torch.float64, device=dev))
    good = torch.nonzero(ok).squeeze(1)
    if good.numel():
        gl, p = torch.nonzero(new[:, good].T, as_tuple=True)     # group starts, gene by gene
        nxt = torch.empty_like(p)
        nxt[:-1] = p[1:]
        last = torch.ones_like(p, dtype=torch.bool)
        last[:-1] = gl[1:] != gl[:-1]
        nxt[last] = n
        gg = good[gl]
        g_out.append(gg)
        r_out.append(order[p, gg])
        c_out.append((nxt - p).to(torch.float64))
    return torch.cat(g_out), torch.cat(r_out), torch.cat(c_out)


def gene_scan(model, features, *, samples="train", k_star: int | None = None,
              both_classes: bool = False, genes=None, method: str = "fast", dedup: bool = True,
              dtype: str = "float64", batch_size: int | None = None,
              progress: Callable[[float, str], None] | None = None) -> GeneScanResult:
    """Coupling of one-gene-only inputs for every gene (DESIGN §4.4 "gene scan").

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
        Fitted; runs on its device (``model.device_``), eval mode.
    features : genoapp.features.FeatureSet or FeatureTable
        The inputs the model was trained on, with their gene index and split.
    samples : {"train", "test", "all"} or array-like of int, default "train"
        Samples to scan (the paper used training samples; test samples are an option). With
        labels, the case row is averaged over cases and the control row over controls (as the
        paper's heatmaps); without, over all rows.
    k_star : int, optional
        0-based primary type for the ranking; default: the type with the strongest mean case
        coupling of the full inputs (:func:`strongest_case_type`).
    both_classes : bool, default False
        Also compute the control row (doubles the work).
    genes : sequence of gene keys, optional
        Scan only these genes (default: all, in feature order).
    method : {"fast", "naive"}, default "fast"
        "naive" zeroes every other feature and runs the full forward pass gene by gene.
    dedup : bool, default True
        Run each distinct gene-feature row once (exact; fast method only).
    dtype : {"float64", "float32"}, default "float64"
        Arithmetic of the fast scan (on a float64 copy of the network). One-gene inputs often
        move the coupling by less than float32 resolution (on the demo network the scores of
        all genes lie within about 1e-8 of each other, about one float32 step), so float32
        rankings are partly rounding noise; float64 costs two to four times as much on a CPU. The
        naive method always runs the model itself (float32).
    batch_size : int, optional
        Inputs routed per batch (default 32 on a CPU, 8,192 on a GPU).
    progress : callable(fraction, message), optional
        Called after each batch of genes.

    Returns
    -------
    GeneScanResult

    Raises
    ------
    InputDataError
        Shapes disagree, NaN features, labels not 0/1 or a class without samples, unknown genes.
    ConfigError
        Unknown method, bad batch size or k_star.

    Notes
    -----
    The paper (Luo et al. 2023, Fig. 4a) ranked 18,265 genes by ``c^g_{type 5, ALS}``; the
    authors' table is in ``../shared/reference/diseasecapsule``. Cost of the fast scan: per
    gene and (distinct) sample, the primary capsules and the routing of one class; the naive
    scan adds a full ``F x 150`` product per sample and the routing of both classes.
    """
    t0 = time.perf_counter()
    if method not in ("fast", "naive"):
        raise ConfigError(f"method: must be 'fast' or 'naive', got {method!r}.")
    if dtype not in ("float64", "float32"):
        raise ConfigError(f"dtype: must be 'float64' or 'float32', got {dtype!r}.")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer)
                                   or batch_size < 1):
        raise ConfigError(f"batch_size: must be a positive integer, got {batch_size!r}.")
    X, y, gi = select_rows(features, samples)
    Xa = _check_inputs(model, X, gi)
    net = net_of(model)
    device = next(net.parameters()).device
    n = Xa.shape[0]
    if n == 0:
        raise InputDataError("samples: no samples to scan.")
    classes = (0, 1) if both_classes else (1,)
    rows = _rows_per_class(y, n, classes)
    pos = np.arange(gi.n_genes) if genes is None else gi.positions(genes)
    K = net.n_primary_types
    if k_star is None:
        c_full = model.coupling_coefficients(Xa)
        mc = mean_coupling_by_label(c_full, np.asarray(y) if y is not None else np.ones(n, dtype=int))
        k_star = strongest_case_type(mc)
    if isinstance(k_star, bool) or not isinstance(k_star, int | np.integer) or not 0 <= k_star < K:
        raise ConfigError(f"k_star: must be a primary type in 0..{K - 1}, got {k_star!r}.")
    bs = int(batch_size) if batch_size is not None else auto_batch_size(device)
    out = {j: np.zeros((len(pos), K)) for j in classes}
    n_items = n_items_total = 0
    with torch.no_grad():
        if method == "naive":
            n_items = n_items_total = _scan_naive(model, Xa, gi, pos, rows, out, progress)
        else:
            net_c = net if dtype == "float32" else copy.deepcopy(net).to(torch.float64)
            n_items, n_items_total = _scan_fast(net_c, Xa, gi, pos, rows, out, bs, dedup, device, progress)
    for j in classes:
        out[j] /= len(rows[j])
    name = {0: "control", 1: "case"}
    return GeneScanResult(
        genes=np.asarray(gi.genes[pos], dtype=object), case=out[1], control=out.get(0),
        k_star=int(k_star), n_samples={name[j]: int(len(rows[j])) for j in classes},
        n_items=int(n_items), n_items_total=int(n_items_total), method=method, device=str(device),
        seconds=time.perf_counter() - t0, dtype=dtype if method == "fast" else "float32",
    )


def _scan_fast(net, Xa, gi, pos, rows, out, bs, dedup, device, progress) -> tuple[int, int]:
    """Runs the scan in jobs of the current executor (:mod:`genoapp.execution`), one job per
    class and contiguous range of genes. In this process a job is one chunk of m genes, as
    the loop always ran; on a cluster a job holds several chunks, and a scan of fewer chunks
    than jobs is cut into smaller chunks. Each gene's inputs are routed row by row (no
    operation mixes the rows of a batch) and summed in the same order, so the scores agree
    with the in-process scan (bit for bit on the project's machines with the same number of
    torch threads; tests allow the scan's resolution, :data:`SCAN_RESOLUTION`)."""
    ex = executor_for(device)
    n_target = target_jobs(ex)
    items = []
    for j, r in rows.items():
        # genes per chunk: enough items for several routing batches, bounded memory
        m = int(max(1, min(len(pos), max(16 * bs, 2**18) // max(1, len(r)))))
        if ex.distributed and math.ceil(len(pos) / m) < n_target:
            m = max(1, math.ceil(len(pos) / n_target))  # small scans: more, smaller chunks
        per = m * max(1, math.ceil(math.ceil(len(pos) / m) / n_target)) if ex.distributed else m
        items += [(j, a, min(len(pos), a + per), m) for a in range(0, len(pos), per)]
    n_jobs = len(rows) * len(pos)
    done = [0]

    def report(i, _r):
        done[0] += items[i][2] - items[i][1]
        if progress is not None:
            progress(done[0] / n_jobs, f"gene scan: {done[0]:,} of {n_jobs:,} gene x class jobs")

    parts = ex.map(_scan_fast_job, items, shared=(Bundle(net, Xa, gi, pos, rows, bs, dedup),),
                   on_result=report, label="gene-scan")
    n_items = n_total = 0
    for (j, a, b, _), (acc, ni, nt) in zip(items, parts, strict=True):
        out[j][a:b] = acc
        n_items += ni
        n_total += nt
    return n_items, n_total


def _scan_fast_job(item, bundle) -> tuple[np.ndarray, int, int]:
    """One executor job: the scan of class j over genes ``pos[a:b]`` in chunks of m genes.

    ``item`` is ``(j, a, b, m)``; the bundle holds the network, the inputs, the gene index,
    the scanned gene positions, the rows per class, the batch size and the dedup switch.
    Returns the per-gene sums (b - a, K) float64 and the numbers of items run and total.
    """
    j, a, b, m = item
    net, Xa, gi, pos, rows, bs, dedup = bundle.objs
    net.eval()
    device = next(net.parameters()).device
    r = rows[j]
    F = gi.n_features
    with torch.no_grad():
        WT = net.fc.weight.detach().T                            # (F, H)
        bias = net.fc.bias.detach()
        M = class_matrices(net) if net.routing_softmax == "input" else None
        dt = WT.dtype
        n_items = n_total = 0
        acc = torch.zeros(b - a, net.n_primary_types, dtype=torch.float64, device=device)
        for start in range(a, b, m):
            chunk = pos[start:min(b, start + m)]
            pad = gi.padded[chunk]                               # (m, kmax), F = padding
            valid = pad < F
            padc = np.where(valid, pad, 0)
            Xg = Xa[np.ix_(r, padc.ravel())].reshape(len(r), len(chunk), -1)
            Xg = np.where(valid[None], Xg, np.float32(0.0))       # (n_j, m, kmax)
            Xg_t = torch.from_numpy(Xg).to(device)
            g_loc, row, cnt = _distinct_rows(Xg_t, dedup)
            n_items += int(g_loc.numel())
            n_total += len(r) * len(chunk)
            Xg_t = Xg_t.to(dt)
            validt = torch.from_numpy(valid).to(device)
            Wg = WT[torch.from_numpy(padc).to(device)] * validt.unsqueeze(2).to(dt)   # (m, kmax, H)
            for b0 in range(0, int(g_loc.numel()), bs):
                gl, rw = g_loc[b0:b0 + bs], row[b0:b0 + bs]
                pre = torch.einsum("bk,bkh->bh", Xg_t[rw, gl], Wg[gl]) + bias
                c = coupling_from_hidden(net, torch.relu(pre), target_class=j, M=M)
                acc.index_add_(0, gl + (start - a), c.double() * cnt[b0:b0 + bs].unsqueeze(1))
    return acc.cpu().numpy(), n_items, n_total


def _scan_naive(model, Xa, gi, pos, rows, out, progress, row_batch: int = 512) -> int:
    n_jobs = len(pos)
    all_rows = np.unique(np.concatenate(list(rows.values())))
    n_items = 0
    for i, g in enumerate(pos):
        cols = gi.columns([g])
        sums = {j: np.zeros(out[j].shape[1]) for j in rows}
        for b0 in range(0, all_rows.size, row_batch):
            rb = all_rows[b0:b0 + row_batch]
            Xm = np.zeros((rb.size, Xa.shape[1]), np.float32)
            Xm[:, cols] = Xa[np.ix_(rb, cols)]
            c = model.coupling_coefficients(Xm, batch_size=row_batch)   # (b, 2, K)
            n_items += rb.size
            for j, r in rows.items():
                sel = np.isin(rb, r)
                sums[j] += c[sel, j, :].astype(np.float64).sum(axis=0)
        for j in rows:
            out[j][i] = sums[j]
        if progress is not None:
            progress((i + 1) / n_jobs, f"naive gene scan: {i + 1:,} of {n_jobs:,} genes")
    return n_items
