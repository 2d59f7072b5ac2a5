"""DiseaseCapsule: a capsule network with dynamic routing for case/control prediction.

Architecture as the authors coded it (Luo et al., DiseaseCapsule, GitHub ``HaploKit/
DiseaseCapsule`` ``capsule.GPU.py``; DESIGN §4.3), with the paper's variants as options:

1. FC: ``Linear(F, 150)`` -> ``Dropout(0.5)`` -> ``ReLU`` (dropout before the activation, as
   coded).
2. PrimaryCaps: 32 capsule types, each a ``Conv1d(1 -> 4, kernel 5, stride 2)`` over the
   150-vector, giving 73 positions x 4-d; 32 x 73 = 2,336 primary capsules ``u_i``, squashed.
   Route index ``i = type * 73 + position`` (the authors' concatenation order). Implemented as
   one ``Conv1d(1, 32 * 4)`` whose output channel ``type * 4 + d`` is dimension ``d`` of a type.
3. PhenoCaps: 2 capsules (0 = control, 1 = case) of 16 dimensions; predictions
   ``u_hat_{j|i} = W_ij u_i`` with one 16x4 matrix per route and class (``pose="per_route"``,
   the code) or one per type and class shared by its 73 positions (``pose="shared"``, the
   paper's text). ``W`` is initialised standard normal, as in the authors' code.
4. Dynamic routing, 3 iterations: ``b = 0``; ``c = softmax(b)`` over the 2,336 input capsules
   (``routing_softmax="input"``: the code and the paper's equation) or over the 2 output
   capsules (``"output"``: Sabour et al. 2017); ``s_j = sum_i c_ij u_hat_{j|i}``;
   ``v_j = squash(s_j)``; ``b_ij += u_hat_{j|i} . v_j`` (not after the last iteration).
   Gradients flow through the routing, as in the authors' code.
5. Class scores: capsule lengths ``||v_j||``. Loss: cross-entropy on the scores with one
   softmax (the authors applied softmax twice: once in the model, once in
   ``CrossEntropyLoss``), or the margin loss of Sabour et al. (m+ = 0.9, m- = 0.1,
   lambda = 0.5).

``squash(s) = |s|^2 / (1 + |s|^2) * s / sqrt(|s|^2 + eps)`` (Sabour et al. eq. 1; ``eps``
avoids the division by zero of the authors' version), so every output norm is below 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import DataConversionWarning
from torch import nn

from genoapp.errors import ConfigError, InputDataError
from genoapp.models._torch import FitData, TorchBinaryClassifier

__all__ = ["squash", "margin_loss", "DiseaseCapsuleNet", "DiseaseCapsuleClassifier"]

SQUASH_EPS = 1e-8


def squash(s: torch.Tensor, dim: int = -1, eps: float = SQUASH_EPS) -> torch.Tensor:
    """Capsule non-linearity ``|s|^2 / (1 + |s|^2) * s / sqrt(|s|^2 + eps)`` along ``dim``.

    Keeps the direction of ``s`` and maps its norm into [0, 1) (Sabour et al. 2017, eq. 1).
    """
    sq = (s * s).sum(dim=dim, keepdim=True)
    return s * (sq / (1.0 + sq) / torch.sqrt(sq + eps))


def margin_loss(lengths: torch.Tensor, y: torch.Tensor, *, m_plus: float = 0.9,
                m_minus: float = 0.1, lam: float = 0.5) -> torch.Tensor:
    """Margin loss of Sabour et al. (2017, eq. 4), mean over the batch.

    ``L = sum_k T_k max(0, m+ - |v_k|)^2 + lam (1 - T_k) max(0, |v_k| - m-)^2`` with
    ``T_k = 1`` for the true class. ``lengths`` (B, K) capsule lengths; ``y`` (B,) int classes.
    """
    t = F.one_hot(y.long(), num_classes=lengths.shape[1]).to(lengths.dtype)
    pos = t * F.relu(m_plus - lengths) ** 2
    neg = lam * (1.0 - t) * F.relu(lengths - m_minus) ** 2
    return (pos + neg).sum(dim=1).mean()


def _n_positions(n_hidden: int, kernel_size: int, stride: int) -> int:
    return (n_hidden - kernel_size) // stride + 1


class DiseaseCapsuleNet(nn.Module):
    """The DiseaseCapsule network (module only; see :class:`DiseaseCapsuleClassifier`).

    Parameters
    ----------
    n_features : int
        Number of input features F (Gene-PCA components).
    n_hidden : int, default 150
        Width of the fully connected layer.
    n_primary_types : int, default 32
        Number of primary capsule types (convolution filters).
    primary_dim : int, default 4
        Dimension of a primary capsule (output channels per type).
    kernel_size, stride : int, default 5, 2
        Of the primary 1-D convolutions; positions = ``(n_hidden - kernel_size) // stride + 1``
        (73 for the defaults).
    n_classes : int, default 2
        Number of output (phenotype) capsules; 0 = control, 1 = case.
    class_dim : int, default 16
        Dimension of an output capsule.
    routing_iterations : int, default 3
    routing_softmax : {"input", "output"}, default "input"
        Axis of the coupling softmax: over input capsules (authors) or output capsules (Sabour).
    pose : {"per_route", "shared"}, default "per_route"
        Transformation matrices per route (authors' code) or shared by the positions of a type
        (paper's text).
    dropout : float, default 0.5

    Attributes
    ----------
    n_positions, n_routes : int
        73 and 2,336 for the defaults.
    W : Parameter
        ``(n_routes, n_classes, class_dim, primary_dim)`` for "per_route",
        ``(n_primary_types, n_classes, class_dim, primary_dim)`` for "shared".
    """

    def __init__(self, n_features: int, *, n_hidden: int = 150, n_primary_types: int = 32,
                 primary_dim: int = 4, kernel_size: int = 5, stride: int = 2,
                 n_classes: int = 2, class_dim: int = 16, routing_iterations: int = 3,
                 routing_softmax: str = "input", pose: str = "per_route",
                 dropout: float = 0.5) -> None:
        super().__init__()
        _check_architecture(n_features=n_features, n_hidden=n_hidden,
                            n_primary_types=n_primary_types, primary_dim=primary_dim,
                            kernel_size=kernel_size, stride=stride, class_dim=class_dim,
                            routing_iterations=routing_iterations,
                            routing_softmax=routing_softmax, pose=pose, dropout=dropout)
        self.n_features = int(n_features)
        self.n_primary_types = int(n_primary_types)
        self.primary_dim = int(primary_dim)
        self.n_classes = int(n_classes)
        self.class_dim = int(class_dim)
        self.routing_iterations = int(routing_iterations)
        self.routing_softmax = routing_softmax
        self.pose = pose
        self.n_positions = _n_positions(n_hidden, kernel_size, stride)
        self.n_routes = self.n_primary_types * self.n_positions

        self.fc = nn.Linear(self.n_features, n_hidden)
        self.dropout = nn.Dropout(p=dropout)
        self.primary = nn.Conv1d(1, self.n_primary_types * self.primary_dim,
                                 kernel_size=kernel_size, stride=stride)
        n_w = self.n_routes if pose == "per_route" else self.n_primary_types
        self.W = nn.Parameter(torch.randn(n_w, self.n_classes, self.class_dim, self.primary_dim))

    def primary_capsules(self, x: torch.Tensor) -> torch.Tensor:
        """Squashed primary capsules ``u`` (B, n_routes, primary_dim) of inputs x (B, F)."""
        h = F.relu(self.dropout(self.fc(x)))                     # (B, H)
        a = self.primary(h.unsqueeze(1))                          # (B, T*D, P)
        B = a.shape[0]
        a = a.view(B, self.n_primary_types, self.primary_dim, self.n_positions)
        u = a.permute(0, 1, 3, 2).reshape(B, self.n_routes, self.primary_dim)
        return squash(u)

    def predictions(self, u: torch.Tensor) -> torch.Tensor:
        """Prediction vectors ``u_hat`` (B, n_routes, n_classes, class_dim) from u."""
        if self.pose == "per_route":
            return torch.einsum("njod,bnd->bnjo", self.W, u)
        B = u.shape[0]
        ut = u.view(B, self.n_primary_types, self.n_positions, self.primary_dim)
        uh = torch.einsum("tjod,btpd->btpjo", self.W, ut)
        return uh.reshape(B, self.n_routes, self.n_classes, self.class_dim)

    def route(self, u_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Dynamic routing. Returns ``v`` (B, n_classes, class_dim), ``c`` (B, n_routes,
        n_classes): the output capsules and the coupling coefficients of the last iteration."""
        # Work in the (B, n_classes, n_routes, class_dim) layout: both routing contractions
        # become contiguous batched matrix-vector products (about 1.4x faster than the einsums
        # in the (B, n_routes, n_classes, class_dim) layout, forward and backward, on a CPU).
        B = u_hat.shape[0]
        ut = u_hat.permute(0, 2, 1, 3).contiguous()                  # (B, J, N, O)
        b = ut.new_zeros(B, self.n_classes, self.n_routes)           # logits b_ij, (B, J, N)
        axis = 2 if self.routing_softmax == "input" else 1
        for it in range(self.routing_iterations):
            c = torch.softmax(b, dim=axis)
            s = torch.matmul(c.unsqueeze(2), ut).squeeze(2)          # sum_i c_ij u_hat_j|i
            v = squash(s)                                            # (B, J, O)
            if it < self.routing_iterations - 1:
                b = b + torch.matmul(ut, v.unsqueeze(-1)).squeeze(-1)  # agreement u_hat . v
        c = c.transpose(1, 2)                                        # (B, N, J)
        return v, c

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the network.

        Parameters
        ----------
        x : Tensor (B, F) float32

        Returns
        -------
        lengths : Tensor (B, n_classes)
            ``||v_j||`` in [0, 1), the class scores.
        v : Tensor (B, n_classes, class_dim)
            Output capsules.
        c : Tensor (B, n_routes, n_classes)
            Final coupling coefficients; route ``i = type * n_positions + position``.
        """
        u = self.primary_capsules(x)
        u_hat = self.predictions(u)
        v, c = self.route(u_hat)
        lengths = torch.linalg.vector_norm(v, dim=-1)
        return lengths, v, c


def _check_architecture(*, n_features, n_hidden, n_primary_types, primary_dim, kernel_size,
                        stride, class_dim, routing_iterations, routing_softmax, pose, dropout):
    for name, value in [("n_features", n_features), ("n_hidden", n_hidden),
                        ("n_primary_types", n_primary_types), ("primary_dim", primary_dim),
                        ("kernel_size", kernel_size), ("stride", stride),
                        ("class_dim", class_dim), ("routing_iterations", routing_iterations)]:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"{name}: must be a positive integer, got {value!r}.")
    if kernel_size > n_hidden:
        raise ConfigError(
            f"kernel_size: {kernel_size} is larger than n_hidden = {n_hidden}; the primary "
            "convolution needs kernel_size <= n_hidden (paper: 5 and 150)."
        )
    if routing_softmax not in ("input", "output"):
        raise ConfigError(
            f"routing_softmax: must be 'input' (authors' code, paper equation) or 'output' "
            f"(Sabour et al.), got {routing_softmax!r}."
        )
    if pose not in ("per_route", "shared"):
        raise ConfigError(
            f"pose: must be 'per_route' (authors' code) or 'shared' (paper text), got {pose!r}."
        )
    if not isinstance(dropout, int | float | np.number) or not 0.0 <= float(dropout) < 1.0:
        raise ConfigError(f"dropout: must be in [0, 1), got {dropout!r}. The paper used 0.5.")


def _count_correct(out, yb):
    return (out[0].argmax(dim=1) == yb).sum()


class DiseaseCapsuleClassifier(TorchBinaryClassifier):
    """DiseaseCapsule as a scikit-learn style binary classifier (0 = control, 1 = case).

    Built on :class:`genoapp.models._torch.TorchBinaryClassifier` (seeding, devices, training
    loop, fitted attributes, batched prediction, save/load).

    Parameters
    ----------
    n_hidden, n_primary_types, primary_dim, kernel_size, stride, class_dim, routing_iterations,
    routing_softmax, pose, dropout
        Architecture, see :class:`DiseaseCapsuleNet` (defaults: the authors' best setting).
    loss : {"cross_entropy", "margin"}, default "cross_entropy"
        Cross-entropy on the capsule lengths (softmax applied once), or the margin loss.
    length_scale : float, default 1.0
        Temperature of the cross-entropy: the logits are ``length_scale * ||v_j||``. The
        lengths lie in [0, 1), so with 1 (the authors' setting) the softmax probabilities stay
        within about (0.27, 0.73) and the loss hardly moves (0.6931 -> 0.6928 in 10 epochs on
        the demo); a larger scale lets the loss reach a confident fit. It also scales
        ``predict_proba`` and ``decision_function``; the ranking of samples and ``predict``
        are unchanged by it.
    learning_rate : float, default 1e-4
        Adam learning rate.
    lr_decay : float, default 0.8
        ``ExponentialLR`` factor gamma, stepped after every epoch.
    epochs : int, default 30
    batch_size : int, default 128
    device : str, default "auto"
        See :func:`genoapp.train.resolve_device`.
    random_state : int, default 0
        Seeds the weight initialisation, dropout (torch RNG, forked so the global state is left
        as it was) and the batch shuffling. CPU runs with the same seed are identical.

    Attributes
    ----------
    model_ : DiseaseCapsuleNet
        The trained module (on ``device_``, eval mode).
    history_ : list of dict
        Per-epoch logs (keys in :mod:`genoapp.models.callbacks`).
    device_ : str
        Device used, e.g. "cpu" or "cuda:0".
    n_features_in_ : int
    classes_ : ndarray [0, 1]
    stopped_early_ : bool
        True when a callback stopped training before ``epochs`` epochs.
    best_epoch_ : int or None
        With validation data: the 1-based epoch with the highest validation accuracy (earliest
        on ties), whose weights are kept. Without: None, the weights are those of the last batch.
    fit_seconds_ : float

    Notes
    -----
    Class scores are the capsule lengths ``||v_j||`` (:meth:`class_scores`);
    ``predict_proba`` is their softmax, ``decision_function`` their difference
    ``||v_case|| - ||v_control||`` (``predict_proba(X)[:, 1] == sigmoid(decision_function(X))``)
    and ``predict`` their argmax (0 on exact ties). Because the lengths lie in [0, 1), the
    probabilities lie in about (0.27, 0.73): they rank samples but are not calibrated risks.
    Prediction methods take ``batch_size`` (default 512).

    Cost: the prediction tensor ``u_hat`` is (B, 2336, 2, 16) floats, 38 MB for a batch of 128.
    """

    _format = "genoapp.DiseaseCapsuleClassifier"
    _format_version = 1
    _module_attr = "model_"
    _what = "DiseaseCapsule model"
    _count_correct = staticmethod(_count_correct)
    _predict_batch_size = 512
    _param_hints = {"learning_rate": "The paper used 1e-4.", "lr_decay": "The paper used 0.8.",
                    "dropout": "The paper used 0.5."}
    _x_messages = {
        "missing_hint": "Impute missing genotypes before building Gene-PCA features (DESIGN §4.1).",
        "mismatch_hint": "Build the features with the same gene set and PCA as for the training data.",
    }

    def __init__(self, *, n_hidden=150, n_primary_types=32, primary_dim=4, kernel_size=5,
                 stride=2, class_dim=16, routing_iterations=3, routing_softmax="input",
                 pose="per_route", loss="cross_entropy", length_scale=1.0, dropout=0.5,
                 learning_rate=1e-4, lr_decay=0.8, epochs=30, batch_size=128, device="auto",
                 random_state=0):
        self.n_hidden = n_hidden
        self.n_primary_types = n_primary_types
        self.primary_dim = primary_dim
        self.kernel_size = kernel_size
        self.stride = stride
        self.class_dim = class_dim
        self.routing_iterations = routing_iterations
        self.routing_softmax = routing_softmax
        self.pose = pose
        self.loss = loss
        self.length_scale = length_scale
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ TorchEstimator hooks
    def _check_extra_params(self) -> None:
        if self.loss not in ("cross_entropy", "margin"):
            raise ConfigError(f"loss: must be 'cross_entropy' or 'margin', got {self.loss!r}.")
        ls = self.length_scale
        if isinstance(ls, bool) or not isinstance(ls, int | float | np.number) or not float(ls) > 0:
            raise ConfigError(f"length_scale: must be > 0, got {ls!r} (1 = the authors' "
                              "cross-entropy on the raw capsule lengths).")
        kwargs = self._module_kwargs()
        del kwargs["n_classes"]
        _check_architecture(n_features=1, **kwargs)

    def _module_kwargs(self) -> dict:
        return dict(n_hidden=self.n_hidden, n_primary_types=self.n_primary_types,
                    primary_dim=self.primary_dim, kernel_size=self.kernel_size,
                    stride=self.stride, n_classes=2, class_dim=self.class_dim,
                    routing_iterations=self.routing_iterations,
                    routing_softmax=self.routing_softmax, pose=self.pose,
                    dropout=float(self.dropout))

    def _build_module(self, n_features: int) -> DiseaseCapsuleNet:
        return DiseaseCapsuleNet(n_features, **self._module_kwargs())

    def _init_module(self, module) -> None:
        """Keep the module's own initialisation (W standard normal, as the authors)."""

    def _optimizer(self, module):
        optimizer = torch.optim.Adam(module.parameters(), lr=float(self.learning_rate))
        return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer,
                                                                 gamma=float(self.lr_decay))

    def _loss_fn(self):
        if self.loss == "margin":
            return lambda out, yb: margin_loss(out[0], yb)
        scale = float(self.length_scale)
        return lambda out, yb: F.cross_entropy(scale * out[0], yb)

    def _scores(self, X, batch_size: int | None = None) -> np.ndarray:
        """Class logits: the capsule lengths times ``length_scale`` (n, 2), float64."""
        return super()._scores(X, batch_size) * float(self.length_scale)

    @staticmethod
    def _check_y(y, name: str, n: int) -> np.ndarray:
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected "
                          f"({name} of shape (n, 1)); using its one column.",
                          DataConversionWarning, stacklevel=4)
            arr = arr.ravel()
        if arr.ndim != 1 or arr.shape[0] != n:
            raise InputDataError(
                f"{name}: expected {n} labels (one per row of the features), got shape "
                f"{arr.shape}."
            )
        if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
            raise InputDataError(f"{name}: missing (NaN) labels; drop those samples first.")
        if arr.size and not np.isin(arr, (0, 1)).all():
            found = np.unique(arr)
            if arr.dtype.kind == "f" and not np.all(np.mod(arr, 1) == 0):
                kind = "continuous values"
            elif found.size > 2:
                kind = f"{found.size} classes (Only binary classification is supported)"
            else:
                kind = "labels"
            raise InputDataError(
                f"{name}: labels must be 0 (control) or 1 (case); found {kind} "
                f"{found[:5].tolist()}."
            )
        return arr.astype(np.int64)

    def _prepare_fit(self, X, y, X_val, y_val) -> FitData:
        Xa = self._check_X(X, "X")
        ya = self._check_y(y, "y", Xa.shape[0])
        if np.unique(ya).size < 2:
            raise InputDataError(
                f"y: the training labels hold only 1 class ({np.unique(ya).tolist()}); both "
                "controls (0) and cases (1) are needed."
            )
        Xv = yv = None
        if X_val is not None:
            Xv = self._check_X(X_val, "X_val", Xa.shape[1])
            yv = self._check_y(y_val, "y_val", Xv.shape[0])
        self.n_features_in_ = int(Xa.shape[1])
        self.classes_ = np.array([0, 1])
        return FitData(Xa, ya, Xv, yv)

    def _check_predict_X(self, X) -> np.ndarray:
        self._check_fitted()
        return self._check_X(X, "X", self.n_features_in_)

    @staticmethod
    def _class_scores_batch(module, xb) -> np.ndarray:
        return module(xb)[0].float().cpu().numpy()

    # ------------------------------------------------------------------ API
    def fit(self, X, y, *, X_val=None, y_val=None, callbacks=()):
        """Train the network.

        Parameters
        ----------
        X : array-like (n, F) float
            Features (e.g. Gene-PCA), no missing values. Converted to float32.
        y : array-like (n,)
            Labels 0 = control, 1 = case (upsample beforehand for 1:1, see
            :func:`genoapp.train.upsample_minority`).
        X_val, y_val : optional
            Validation data (never the test set). Logged every epoch; the weights of the epoch
            with the best validation accuracy are kept (earliest on ties).
        callbacks : sequence of :class:`genoapp.train.Callback`
            Progress, stop button, early stopping. Training stops after the current batch when
            any ``should_stop()`` is True; ``stopped_early_`` then records it.

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            Bad shapes, NaN features, labels not 0/1, or a missing class in ``y``.
        ConfigError
            Bad hyper-parameters or an unavailable device.
        """
        return super().fit(X, y, X_val=X_val, y_val=y_val, callbacks=callbacks)

    def class_scores(self, X, *, batch_size: int = 512) -> np.ndarray:
        """Capsule lengths ``||v_j||`` (n, 2) float32, j = 0 control, 1 case; eval mode."""
        Xa = self._check_predict_X(X)
        out = self._predict_batches(Xa, self._class_scores_batch, batch_size=batch_size)
        return np.concatenate(out, axis=0) if out else np.zeros((0, 2), dtype=np.float32)

    def coupling_coefficients(self, X, *, batch_size: int = 512) -> np.ndarray:
        """Coupling coefficients summed per primary capsule type (DESIGN §4.4).

        Parameters
        ----------
        X : array-like (n, F)
        batch_size : int, default 512

        Returns
        -------
        ndarray (n, 2, n_primary_types) float32
            ``c_kj = sum over the positions of type k of c_ij`` of the final routing iteration,
            eval mode (no dropout); axis 1 is the class j (0 control, 1 case), axis 2 the type
            k (0-based; the paper's "type 5" is k = 4). With ``routing_softmax="input"`` each
            class row sums to 1 over the types (uniform baseline 1/32).
        """
        Xa = self._check_predict_X(X)

        def per_type(model, xb):
            _, _, c = model(xb)
            ck = c.view(c.shape[0], model.n_primary_types, model.n_positions, model.n_classes)
            return ck.sum(dim=2).transpose(1, 2).float().cpu().numpy()

        out = self._predict_batches(Xa, per_type, batch_size=batch_size)
        if not out:
            return np.zeros((0, 2, self.model_.n_primary_types), dtype=np.float32)
        return np.concatenate(out, axis=0)
