"""The DiseaseCapsule authors' MLP baseline (``MLP.GPU.py``; DESIGN §4.3).

Architecture: input F -> [Dense(100) -> BatchNorm -> tanh -> Dropout(0.5)] -> [Dense(64) -> ...]
-> [Dense(16) -> ...] -> Dense(2) -> softmax; Adam (lr 5e-5), learning rate x0.7 every 4 epochs,
batch 128, 30 epochs, categorical cross-entropy. Keras' Glorot-uniform initialisation and
batch-norm epsilon 1e-5 are kept. Paper (ALS, Gene-PCA): accuracy 84.2 %; All-PCA: 72.5 %.
"""

from __future__ import annotations

from torch import nn

from genoapp.errors import ConfigError
from genoapp.models._torch import BatchNorm1dAnySize, TorchBinaryClassifier

__all__ = ["MLPNet", "TorchMLPClassifier"]

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}


class MLPNet(nn.Module):
    """Dense blocks (Linear -> BatchNorm1d -> activation -> Dropout) and a 2-unit output.

    Parameters
    ----------
    n_features : int
    hidden : tuple of int, default (100, 64, 16)
    activation : {"tanh", "relu", "elu"}, default "tanh"
    dropout : float, default 0.5
    bn_eps : float, default 1e-5

    Forward: ``x`` (B, F) float32 -> logits (B, 2) (softmax is in the loss).
    """

    def __init__(self, n_features: int, *, hidden=(100, 64, 16), activation: str = "tanh",
                 dropout: float = 0.5, bn_eps: float = 1e-5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = int(n_features)
        for h in hidden:
            layers += [nn.Linear(width, int(h)), BatchNorm1dAnySize(int(h), eps=bn_eps),
                       _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = int(h)
        layers.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class TorchMLPClassifier(TorchBinaryClassifier):
    """The authors' MLP as a scikit-learn style binary classifier.

    Parameters
    ----------
    hidden : tuple of int, default (100, 64, 16)
        Widths of the dense blocks.
    activation : {"tanh", "relu", "elu"}, default "tanh"
    dropout : float, default 0.5
    learning_rate : float, default 5e-5
    lr_step, lr_decay : int, float, default 4, 0.7
        Step decay of the learning rate (x0.7 every 4 epochs, as the authors' Keras schedule).
    epochs : int, default 30
    batch_size : int, default 128
    device : str, default "auto"
    mixed_precision : {"auto", True, False}, default "auto"
        bfloat16 autocast on CUDA only (see :class:`genoapp.models._torch.TorchBinaryClassifier`).
    random_state : int, default 0

    Attributes
    ----------
    module_, classes_, history_, device_, mixed_precision_, n_features_in_, stopped_early_,
    best_epoch_, fit_seconds_
        See :class:`genoapp.models._torch.TorchBinaryClassifier`.

    Notes
    -----
    Source: Luo et al., DiseaseCapsule, GitHub ``HaploKit/DiseaseCapsule`` ``MLP.GPU.py``
    (Keras). The authors monitored the test set during training; here validation data, when
    given, comes from the training set only.

    Examples
    --------
    >>> clf = TorchMLPClassifier(epochs=5).fit(X_train, y_train)      # doctest: +SKIP
    >>> clf.predict_proba(X_test)[:, 1]                                # case probability
    """

    _format = "genoapp.TorchMLPClassifier"

    def __init__(self, *, hidden=(100, 64, 16), activation="tanh", dropout=0.5,
                 learning_rate=5e-5, lr_step=4, lr_decay=0.7, epochs=30, batch_size=128,
                 device="auto", mixed_precision="auto", random_state=0):
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.lr_step = lr_step
        self.lr_decay = lr_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.device = device
        self.mixed_precision = mixed_precision
        self.random_state = random_state

    def _check_extra_params(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(
                f"activation: {self.activation!r}; allowed {sorted(_ACTIVATIONS)} (authors: 'tanh')."
            )
        try:
            ok = len(self.hidden) >= 1 and all(int(h) >= 1 and int(h) == h for h in self.hidden)
        except TypeError:
            ok = False
        if not ok:
            raise ConfigError(
                f"hidden: a sequence of positive layer widths, got {self.hidden!r} (authors: (100, 64, 16))."
            )

    def _build_module(self, n_features: int) -> MLPNet:
        return MLPNet(n_features, hidden=tuple(int(h) for h in self.hidden),
                      activation=self.activation, dropout=float(self.dropout))
