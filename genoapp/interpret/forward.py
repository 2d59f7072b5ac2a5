"""The DiseaseCapsule forward pass from the hidden layer on, batched for interpretation.

Every interpretation method of DESIGN §4.4 runs the trained network (eval mode: dropout off)
on many *modified* inputs: one gene kept (gene scan), a set of genes kept (masked accuracy,
genetic algorithm). The network's first layer is linear,

    h = ReLU(W x + b),   W (150 x F),

so an input with only the features ``cols`` kept has the pre-activation ``W[:, cols] x[cols] +
b``: the full ``F x 150`` product is never needed. This module builds those hidden vectors and
runs the rest of the network (primary capsules, prediction vectors, dynamic routing) on them.

With the authors' routing (softmax over the input capsules, ``routing_softmax="input"``) the
two class capsules are routed independently: ``b_ij`` only ever meets ``v_j``. The coupling of
one class therefore needs that class's routing alone, and its prediction vectors need not be
stored: with ``M_j`` the ``(n_routes * primary_dim) x class_dim`` matrix stacking ``W_ij^T``,

    s_j = sum_i c_ij W_ij u_i = ((c_j (x) 1) * u) @ M_j,
    u_hat_{j|i} . v_j = u_i . (W_ij^T v_j) = (u * (v_j @ M_j^T)) summed per route,

two matrix products per routing iteration instead of materialising the (B, 2336, 2, 16)
prediction tensor. The result equals the module's own forward pass up to float32 rounding
(tests compare both). The Sabour variant (softmax over classes) couples the classes and uses
the module's own ``predictions`` and ``route``.
"""

from __future__ import annotations

import numpy as np
import torch

from genoapp.errors import InputDataError
from genoapp.models.capsnet import SQUASH_EPS, squash

__all__ = ["GeneIndex", "auto_batch_size", "net_of", "hidden_from_columns", "primary_from_hidden",
           "class_matrices", "coupling_from_hidden", "lengths_from_hidden"]


class GeneIndex:
    """Which feature columns belong to which gene.

    Parameters
    ----------
    feature_gene : array-like (F,)
        Gene (or window) key of every feature column, e.g. ``FeatureSet.feature_gene``.

    Attributes
    ----------
    genes : ndarray (G,) object
        Gene keys in order of first appearance.
    gene_of_feature : ndarray (F,) int64
        Position in ``genes`` of each feature's gene.
    n_features_per_gene : ndarray (G,) int64
    padded : ndarray (G, max_features_per_gene) int64
        Feature columns of each gene, padded with ``n_features`` (a column index one past the
        end, used as an all-zero column).
    n_features : int

    Raises
    ------
    InputDataError
        Empty or not one-dimensional.
    """

    def __init__(self, feature_gene) -> None:
        fg = np.asarray(feature_gene)
        if fg.ndim != 1 or fg.size == 0:
            raise InputDataError(
                f"feature_gene: expected a non-empty 1-D array (one gene key per feature), got "
                f"shape {fg.shape}."
            )
        codes, uniques = _factorize(fg)
        self.genes = uniques
        self.gene_of_feature = codes
        self.n_features = int(fg.size)
        order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes, minlength=len(uniques)).astype(np.int64)
        self.n_features_per_gene = sizes
        kmax = int(sizes.max())
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        padded = np.full((len(uniques), kmax), self.n_features, dtype=np.int64)
        rank = np.arange(fg.size) - np.repeat(starts, sizes)
        padded[codes[order], rank] = order
        self.padded = padded
        self._pos = {g: i for i, g in enumerate(uniques.tolist())}

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    def positions(self, genes) -> np.ndarray:
        """Positions (into :attr:`genes`) of gene keys; raises InputDataError for unknown keys."""
        out = []
        unknown = []
        for g in np.asarray(genes, dtype=object).tolist():
            p = self._pos.get(g)
            if p is None:
                unknown.append(g)
            else:
                out.append(p)
        if unknown:
            raise InputDataError(
                f"genes: {len(unknown)} gene key(s) are not among the features, e.g. "
                f"{unknown[:3]}. Use keys of FeatureSet.feature_gene."
            )
        return np.asarray(out, dtype=np.int64)

    def columns(self, gene_positions) -> np.ndarray:
        """Sorted feature columns of the genes at ``gene_positions``."""
        p = np.asarray(gene_positions, dtype=np.int64).ravel()
        cols = self.padded[p].ravel()
        return np.sort(cols[cols < self.n_features])

    def feature_mask(self, gene_positions) -> np.ndarray:
        """Boolean (F,) mask of the columns of the genes at ``gene_positions``."""
        m = np.zeros(self.n_features, dtype=bool)
        m[self.columns(gene_positions)] = True
        return m


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")           # first-appearance order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse].astype(np.int64), np.asarray(uniq[order], dtype=object)


def net_of(model) -> torch.nn.Module:
    """The fitted module of a :class:`~genoapp.models.DiseaseCapsuleClassifier`, in eval mode."""
    from sklearn.exceptions import NotFittedError

    net = getattr(model, "model_", None)
    if net is None:
        raise NotFittedError("the DiseaseCapsule model is not fitted; train it first.")
    net.eval()
    return net


def auto_batch_size(device: torch.device) -> int:
    """Items (input vectors) per routing batch: small on a CPU (the (B, 9344) intermediates stay
    in cache; 32 was fastest on the project's 2-core machine), large on a GPU."""
    return 8192 if device.type == "cuda" else 32


def hidden_from_columns(net, X: torch.Tensor, cols: torch.Tensor, *,
                        pre_full: torch.Tensor | None = None) -> torch.Tensor:
    """Hidden vectors ``ReLU(W[:, cols] X[:, cols]^T + b)`` of inputs keeping ``cols`` only.

    Parameters
    ----------
    net : DiseaseCapsuleNet (eval mode)
    X : Tensor (n, F) float32, on the module's device
    cols : Tensor (L,) int64
        Kept feature columns (every other feature is zero).
    pre_full : Tensor (n, H), optional
        ``X W^T + b`` of the full inputs; when more than half of the columns are kept the
        dropped columns are subtracted from it (computed here when not given).

    Returns
    -------
    Tensor (n, n_hidden)
        Equals ``ReLU(fc(X * mask))`` (dropout is the identity in eval mode).
    """
    W, b = net.fc.weight, net.fc.bias
    if cols.numel() == 0:
        return torch.relu(b).expand(X.shape[0], -1).clone()
    if cols.numel() * 2 > X.shape[1]:           # mostly kept: subtract the dropped columns
        drop = torch.ones(X.shape[1], dtype=torch.bool, device=X.device)
        drop[cols] = False
        pre = torch.addmm(b, X, W.T) if pre_full is None else pre_full
        if drop.any():
            d = drop.nonzero().squeeze(1)
            pre = pre - X[:, d] @ W[:, d].T
        return torch.relu(pre)
    return torch.relu(torch.addmm(b, X[:, cols], W[:, cols].T))


def primary_from_hidden(net, h: torch.Tensor) -> torch.Tensor:
    """Squashed primary capsules (B, n_routes, primary_dim) from hidden vectors h (B, H).

    The same operations as ``DiseaseCapsuleNet.primary_capsules`` after its first layer.
    """
    a = net.primary(h.unsqueeze(1))
    B = a.shape[0]
    a = a.view(B, net.n_primary_types, net.primary_dim, net.n_positions)
    u = a.permute(0, 1, 3, 2).reshape(B, net.n_routes, net.primary_dim)
    return squash(u)


def _primary_dn(net, h: torch.Tensor) -> torch.Tensor:
    """Squashed primary capsules in dimension-major layout (B, primary_dim, n_routes).

    Same values as :func:`primary_from_hidden` (``u[b, i, d] == ud[b, d, i]``); this layout
    makes the sums over the 4 capsule dimensions plain additions of contiguous slices.
    """
    a = net.primary(h.unsqueeze(1))
    B = a.shape[0]
    a = a.view(B, net.n_primary_types, net.primary_dim, net.n_positions).transpose(1, 2)
    a = a.reshape(B, net.primary_dim, net.n_routes)
    sq = (a * a).sum(dim=1, keepdim=True)
    return a * (sq / (1.0 + sq) / torch.sqrt(sq + SQUASH_EPS))


def class_matrices(net) -> torch.Tensor:
    """``M`` (n_classes, primary_dim * n_routes, class_dim), ``M[j, d*N + i, o] = W_ij[o, d]``.

    Matches the dimension-major flattening of the primary capsules (``d * n_routes + i``).
    For ``pose="shared"`` the type's matrix is repeated over its positions (route
    ``i = type * n_positions + position``).
    """
    W = net.W.detach()
    if net.pose == "shared":
        W = W.repeat_interleave(net.n_positions, dim=0)
    n_routes, n_classes, class_dim, primary_dim = W.shape
    return W.permute(1, 3, 0, 2).reshape(n_classes, primary_dim * n_routes, class_dim).contiguous()


def _route_one_class(net, ud: torch.Tensor, Mj: torch.Tensor,
                     coupling_only: bool = False) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Input-axis routing of one class from primary capsules ud (B, D, N).

    Returns ``v`` (B, class_dim) and ``c`` (B, N) of the last iteration, as the module's
    ``route``; with ``coupling_only`` the last iteration stops once ``c`` is known (v None).
    """
    B, D, N = ud.shape
    uf = ud.reshape(B, D * N)
    n_iter = net.routing_iterations
    b = None
    c = v = None
    for it in range(n_iter):
        if it == 0:
            c = torch.full((B, N), 1.0 / N, dtype=ud.dtype, device=ud.device)
            if coupling_only and n_iter == 1:
                return None, c
            s = (uf @ Mj) / N
        else:
            c = torch.softmax(b, dim=1)
            if coupling_only and it == n_iter - 1:
                return None, c
            s = (c.unsqueeze(1) * ud).reshape(B, D * N) @ Mj
        v = squash(s)
        if it < n_iter - 1:
            agree = ((v @ Mj.T).view(B, D, N) * ud).sum(dim=1)
            b = agree if b is None else b + agree
    return v, c


def coupling_from_hidden(net, h: torch.Tensor, *, target_class: int = 1,
                         M: torch.Tensor | None = None) -> torch.Tensor:
    """Final coupling of each primary type to one class capsule, from hidden vectors.

    Parameters
    ----------
    net : DiseaseCapsuleNet (eval mode)
    h : Tensor (B, H)
        Hidden vectors after the ReLU.
    target_class : int, default 1
        Class capsule j (0 control, 1 case).
    M : Tensor, optional
        :func:`class_matrices` of ``net`` (pass it when calling repeatedly).

    Returns
    -------
    Tensor (B, n_primary_types)
        ``c_kj = sum over the positions of type k of c_ij``, final routing iteration; equals
        ``DiseaseCapsuleClassifier.coupling_coefficients(x)[:, j, :]`` up to float32 rounding.
    """
    B = h.shape[0]
    if net.routing_softmax == "input":
        if M is None:
            M = class_matrices(net)
        _, c = _route_one_class(net, _primary_dn(net, h), M[target_class], coupling_only=True)
    else:
        _, c_all = net.route(net.predictions(primary_from_hidden(net, h)))
        c = c_all[:, :, target_class]
    return c.reshape(B, net.n_primary_types, net.n_positions).sum(dim=2)


def lengths_from_hidden(net, h: torch.Tensor, *, M: torch.Tensor | None = None) -> torch.Tensor:
    """Class-capsule lengths ``||v_j||`` (B, n_classes) from hidden vectors h (B, H).

    Equals the module's ``forward(x)[0]`` for the inputs whose hidden vectors are ``h``, up to
    float32 rounding.
    """
    if net.routing_softmax == "input":
        if M is None:
            M = class_matrices(net)
        ud = _primary_dn(net, h)
        out = [torch.linalg.vector_norm(_route_one_class(net, ud, M[j])[0], dim=-1)
               for j in range(net.n_classes)]
        return torch.stack(out, dim=1)
    v, _ = net.route(net.predictions(primary_from_hidden(net, h)))
    return torch.linalg.vector_norm(v, dim=-1)
