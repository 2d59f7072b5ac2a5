"""Models: DiseaseCapsule (capsule network with dynamic routing) and baselines."""

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

__all__ = [
    "DiseaseCapsuleClassifier",
    "DiseaseCapsuleNet",
    "margin_loss",
    "squash",
    "make_logistic_regression",
    "make_svm",
    "make_random_forest",
    "make_adaboost",
]
