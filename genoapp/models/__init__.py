"""Models: DiseaseCapsule (capsule network with dynamic routing) and baselines."""

from genoapp.models._torch import TorchBinaryClassifier, TorchEstimator
from genoapp.models.baselines import (
    make_adaboost,
    make_logistic_regression,
    make_random_forest,
    make_svm,
)
from genoapp.models.capsnet import (
    DiseaseCapsuleClassifier,
    DiseaseCapsuleNet,
    margin_loss,
    squash,
)
from genoapp.models.cnn import TorchCNNClassifier
from genoapp.models.files import load_model_file, model_file_format
from genoapp.models.mlp import TorchMLPClassifier
from genoapp.models.prs import (
    AuthorsPRSClassifier,
    PolygenicRiskScore,
    allelic_association,
    ld_clump,
)

__all__ = [
    "DiseaseCapsuleClassifier",
    "DiseaseCapsuleNet",
    "margin_loss",
    "squash",
    "make_logistic_regression",
    "make_svm",
    "make_random_forest",
    "make_adaboost",
    "TorchMLPClassifier",
    "TorchCNNClassifier",
    "PolygenicRiskScore",
    "AuthorsPRSClassifier",
    "allelic_association",
    "ld_clump",
    "TorchEstimator",
    "TorchBinaryClassifier",
    "load_model_file",
    "model_file_format",
]
