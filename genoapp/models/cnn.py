"""The DiseaseCapsule authors' CNN baseline (``CNN.GPU.py``; DESIGN §4.3).

The first ``s**2`` features (``s = floor(sqrt(F))``: 274 for the paper's 75,584 Gene-PCA
features, 102 for All-PCA) are reshaped row by row into an ``s x s`` one-channel image:
Conv2D(32, 3x3, stride 2) -> Conv2D(32, 3x3, stride 2) -> BatchNorm -> ReLU ->
Conv2D(64, 3x3, stride 2) -> Conv2D(64, 3x3, stride 2) -> BatchNorm -> ReLU -> flatten ->
Dense(128) -> BatchNorm -> ReLU -> Dropout(0.5) -> Dense(64) -> BatchNorm -> ReLU ->
Dropout(0.5) -> Dense(2) -> softmax; Adam lr 5e-5, x0.7 every 4 epochs, batch 128, 30 epochs.
The remaining ``F - s**2`` features are not used (as in the authors' code). The authors'
convolutions have no padding ("valid"); an image narrower than 31 pixels cannot pass four of
them, so ``padding="auto"`` switches to "same" padding there (small cohorts, tests).
Paper (ALS): accuracy 74.5 % on Gene-PCA, 53.8 % on All-PCA.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genoapp.errors import ConfigError
from genoapp.models._torch import BatchNorm1dAnySize, BatchNorm2dAnySize, TorchBinaryClassifier

__all__ = ["CNNNet", "TorchCNNClassifier", "image_side"]

_MIN_VALID_SIDE = 31  # smallest s whose image survives four valid 3x3 stride-2 convolutions


def image_side(n_features: int) -> int:
    """Side ``s = floor(sqrt(F))`` of the square image made of the first ``s**2`` features."""
    return math.isqrt(int(n_features))


def _conv_out(s: int, padding: int) -> int:
    return (s + 2 * padding - 3) // 2 + 1


class CNNNet(nn.Module):
    """The authors' CNN on an ``s x s`` image (see the module docstring).

    Parameters
    ----------
    side : int
        Image side ``s`` (>= 1).
    padding : {"valid", "same"}
        No padding (authors) or one pixel (output side ``ceil(s / 2)``, as Keras' "same").
    dropout : float, default 0.5

    Forward: ``x`` (B, F) with F >= s**2 -> logits (B, 2).
    """

    def __init__(self, side: int, *, padding: str = "valid", dropout: float = 0.5) -> None:
        super().__init__()
        self.side = int(side)
        p = 0 if padding == "valid" else 1
        s = self.side
        for _ in range(4):
            s = _conv_out(s, p)
        if s < 1:
            raise ConfigError(
                f"CNN: an image of {self.side}x{self.side} pixels is too small for four 3x3 "
                f"stride-2 convolutions without padding (needs >= {_MIN_VALID_SIDE}); use "
                "padding='same' or 'auto'."
            )
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=p), nn.Conv2d(32, 32, 3, stride=2, padding=p),
            BatchNorm2dAnySize(32, eps=1e-5), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=p), nn.Conv2d(64, 64, 3, stride=2, padding=p),
            BatchNorm2dAnySize(64, eps=1e-5), nn.ReLU(),
        )
        n_flat = 64 * s * s
        self.dense = nn.Sequential(
            nn.Linear(n_flat, 128), BatchNorm1dAnySize(128, eps=1e-3), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(128, 64), BatchNorm1dAnySize(64, eps=1e-3), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(64, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.side
        img = x[:, : s * s].reshape(x.shape[0], 1, s, s)
        h = self.conv(img)
        return self.dense(h.flatten(1))


class TorchCNNClassifier(TorchBinaryClassifier):
    """The authors' CNN as a scikit-learn style binary classifier.

    Parameters
    ----------
    padding : {"auto", "valid", "same"}, default "auto"
        "valid" as the authors; "auto" uses "valid" when the image side is >= 31 pixels, else
        "same" (recorded in ``padding_``).
    dropout : float, default 0.5
    learning_rate : float, default 5e-5
    lr_step, lr_decay : int, float, default 4, 0.7
    epochs : int, default 30
    batch_size : int, default 128
    device : str, default "auto"
    mixed_precision : {"auto", True, False}, default "auto"
    random_state : int, default 0

    Attributes
    ----------
    image_side_ : int
        ``floor(sqrt(n_features_in_))``; only the first ``image_side_**2`` features are used.
    padding_ : str
        Padding actually used.
    module_, classes_, history_, device_, mixed_precision_, n_features_in_, stopped_early_,
    best_epoch_, fit_seconds_
        See :class:`genoapp.models._torch.TorchBinaryClassifier`.

    Notes
    -----
    Source: GitHub ``HaploKit/DiseaseCapsule`` ``CNN.GPU.py`` (Keras, channels last; Keras'
    default batch-norm epsilon 1e-3 in the dense blocks, 1e-5 after the convolutions).
    """

    _format = "genoapp.TorchCNNClassifier"

    def __init__(self, *, padding="auto", dropout=0.5, learning_rate=5e-5, lr_step=4,
                 lr_decay=0.7, epochs=30, batch_size=128, device="auto",
                 mixed_precision="auto", random_state=0):
        self.padding = padding
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
        if self.padding not in ("auto", "valid", "same"):
            raise ConfigError(f"padding: 'auto', 'valid' or 'same', got {self.padding!r}.")

    def _build_module(self, n_features: int) -> CNNNet:
        side = image_side(n_features)
        padding = self.padding
        if padding == "auto":
            padding = "valid" if side >= _MIN_VALID_SIDE else "same"
        self.image_side_ = side
        self.padding_ = padding
        return CNNNet(side, padding=padding, dropout=float(self.dropout))
