"""Baseline classifiers of the DiseaseCapsule paper, as the authors coded them (DESIGN §4.3).

scikit-learn models built by small factories so that every option is explicit and seeded:

- :func:`make_logistic_regression`: standardisation + logistic regression (saga), the main
  baseline (also the authors' "PRS" when fitted on raw SNP dosages at GWAS p < 0.05);
- :func:`make_svm` (RBF kernel; linear option), :func:`make_random_forest` (100 trees,
  depth 5), :func:`make_adaboost` (1,000 depth-3 trees), as in the authors' ``basicML.py``.

The neural baselines (the authors' MLP and CNN) are in :mod:`genoapp.models.mlp` and
:mod:`genoapp.models.cnn`, the polygenic risk scores in :mod:`genoapp.models.prs`, and the
named, preset collection used by the comparison protocol in :mod:`genoapp.workflows.registry`.
"""

from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from genoapp.errors import ConfigError

__all__ = ["make_logistic_regression", "make_svm", "make_random_forest", "make_adaboost"]


def make_logistic_regression(*, C: float = 1.0, random_state: int = 0,
                             max_iter: int = 2000) -> Pipeline:
    """L2-penalised logistic regression on standardised features.

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularisation strength (scikit-learn's ``C``).
    random_state : int, default 0
        Seed of saga's sample shuffling.
    max_iter : int, default 2000
        saga epochs; saga converges slowly on unscaled data, hence the scaler.

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``StandardScaler() -> LogisticRegression(solver="saga", C=C)``, unfitted; step names
        ``"scale"`` and ``"logreg"``. ``predict_proba(X)[:, 1]`` is the case probability.

    Notes
    -----
    The DiseaseCapsule authors' logistic-regression baseline (``basicML.py``) used the saga
    solver; their "PRS" classifier is the same model on raw SNP dosages filtered at GWAS
    p < 0.05 (DESIGN §4.3). The scaler uses training statistics only (inside the pipeline).
    """
    return Pipeline([
        ("scale", StandardScaler()),
        ("logreg", LogisticRegression(C=C, solver="saga", max_iter=max_iter,
                                      random_state=random_state)),
    ])


def make_svm(*, C: float = 1.0, kernel: str = "rbf", gamma="scale", probability: bool = False,
             random_state: int = 0) -> Pipeline:
    """Support vector machine on standardised features (authors' SVM baseline: RBF kernel).

    Parameters
    ----------
    C : float, default 1.0
        Penalty of the soft margin (scikit-learn's ``C``).
    kernel : {"rbf", "linear"}, default "rbf"
        The authors used the RBF kernel; "linear" is offered for wide inputs.
    gamma : {"scale", "auto"} or float, default "scale"
        RBF width (scikit-learn's default "scale" = 1 / (n_features * Var(X)), on the
        standardised features).
    probability : bool, default False
        False: no ``predict_proba``; ``decision_function`` (signed distance to the margin)
        is the case score for ROC curves. True: Platt-calibrated probabilities by
        ``CalibratedClassifierCV(SVC(...), method="sigmoid", ensemble=False)`` (5-fold
        stratified CV, about 5x the cost; scikit-learn 1.9 deprecated ``SVC(probability=True)``).
    random_state : int, default 0
        Seed of the SVC (used by its probability and shuffling internals).

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``StandardScaler() -> SVC(...)`` (or the calibrated SVC), unfitted; step names
        ``"scale"`` and ``"svm"``.

    Raises
    ------
    ConfigError
        Unknown kernel.
    """
    if kernel not in ("rbf", "linear"):
        raise ConfigError(f"SVM kernel: 'rbf' (authors) or 'linear', got {kernel!r}.")
    svm = SVC(C=C, kernel=kernel, gamma=gamma, random_state=random_state)
    if probability:
        svm = CalibratedClassifierCV(svm, method="sigmoid", ensemble=False, cv=5)
    return Pipeline([("scale", StandardScaler()), ("svm", svm)])


def make_random_forest(*, n_estimators: int = 100, max_depth: int | None = 5, random_state: int = 0,
                       n_jobs: int | None = None) -> RandomForestClassifier:
    """Random forest of ``n_estimators`` trees of depth ``max_depth`` (authors: 100, 5).

    Returns an unfitted :class:`sklearn.ensemble.RandomForestClassifier` (Gini impurity,
    ``sqrt(n_features)`` features per split, bootstrap samples, seeded by ``random_state``;
    ``n_jobs`` parallel trees, None = one core).
    """
    return RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                  random_state=random_state, n_jobs=n_jobs)


def make_adaboost(*, n_estimators: int = 1000, max_depth: int = 3, learning_rate: float = 1.0,
                  random_state: int = 0) -> AdaBoostClassifier:
    """AdaBoost (SAMME) over depth-``max_depth`` trees (authors: 1,000 estimators, depth 3).

    Returns an unfitted :class:`sklearn.ensemble.AdaBoostClassifier`; the trees and the
    boosting are seeded by ``random_state``. Cost grows linearly with ``n_estimators``.
    """
    return AdaBoostClassifier(estimator=DecisionTreeClassifier(max_depth=max_depth),
                              n_estimators=n_estimators, learning_rate=learning_rate,
                              random_state=random_state)
