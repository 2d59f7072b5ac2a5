"""Baseline classifiers of the DiseaseCapsule paper, as the authors coded them (DESIGN §4.3).

scikit-learn models built by small factories so that every option is explicit and seeded:

- :func:`make_logistic_regression`: standardisation + logistic regression (saga), the main
  baseline (also the authors' "PRS" when fitted on raw SNP dosages at GWAS p < 0.05);
- :func:`make_svm` (RBF kernel), :func:`make_random_forest` (100 trees, depth 5),
  :func:`make_adaboost` (1,000 depth-3 trees), as in the authors' ``basicML.py``.
"""

from __future__ import annotations

from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

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


def make_svm(*, C: float = 1.0, random_state: int = 0) -> Pipeline:
    """``StandardScaler -> SVC(kernel="rbf", probability=True)`` (authors' SVM baseline).

    ``probability=True`` fits Platt scaling with an internal 5-fold CV (seeded by
    ``random_state``) so that ROC AUC can use ``predict_proba``; it costs about 5x the fit.
    """
    return Pipeline([
        ("scale", StandardScaler()),
        ("svm", SVC(C=C, kernel="rbf", probability=True, random_state=random_state)),
    ])


def make_random_forest(*, n_estimators: int = 100, max_depth: int = 5, random_state: int = 0,
                       n_jobs: int | None = None) -> RandomForestClassifier:
    """Random forest of ``n_estimators`` trees of depth ``max_depth`` (authors: 100, 5)."""
    return RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                  random_state=random_state, n_jobs=n_jobs)


def make_adaboost(*, n_estimators: int = 1000, max_depth: int = 3,
                  random_state: int = 0) -> AdaBoostClassifier:
    """AdaBoost over depth-``max_depth`` trees (authors: 1,000 estimators, depth 3)."""
    return AdaBoostClassifier(estimator=DecisionTreeClassifier(max_depth=max_depth),
                              n_estimators=n_estimators, random_state=random_state)
