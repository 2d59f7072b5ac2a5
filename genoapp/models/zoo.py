"""The case/control model zoo: every model of paper Table 1 with named presets.

:func:`model_zoo` returns :class:`genoapp.train.protocol.ModelSpec` objects (how to build each
model and which hyper-parameters the protocol tunes inside the training data) for a preset:

``"quick"`` (default; teaching and first looks, a few CPU minutes on the demo cohort)
    The authors' architectures and optimisers, with fewer epochs for the capsule network and
    the CNN (10) and 100 AdaBoost trees; small grids (logistic regression C, SVM C, PRS p-value
    threshold); 3 seeds, one balanced validation fold.
``"paper"`` ("Paper settings"; hours on a CPU at the paper's scale, use a GPU)
    As the DiseaseCapsule authors: capsule network, MLP and CNN 30 epochs, AdaBoost 1,000
    trees, random forest 100 trees of depth 5; 5 seeds; 5-fold balanced CV for every
    hyper-parameter and the refit epochs.

Model keys and display names (``MODEL_NAMES``): capsule "DiseaseCapsule", mlp "MLP",
cnn "CNN", logreg "Logistic regression", svm "SVM", rf "Random forest", adaboost "AdaBoost",
prs "PRS (Σβ·dosage)", authors_prs "Authors' 'PRS' (LR on SNPs p<0.05)".
"""

from __future__ import annotations

from genoapp.errors import ConfigError
from genoapp.models.baselines import (
    make_adaboost,
    make_logistic_regression,
    make_random_forest,
    make_svm,
)
from genoapp.models.capsnet import DiseaseCapsuleClassifier
from genoapp.models.cnn import TorchCNNClassifier
from genoapp.models.mlp import TorchMLPClassifier
from genoapp.models.prs import AuthorsPRSClassifier, PolygenicRiskScore
from genoapp.train.protocol import ModelSpec, ProtocolConfig

__all__ = ["MODEL_KEYS", "MODEL_NAMES", "PRESETS", "model_zoo", "preset_config"]

MODEL_KEYS = ("capsule", "mlp", "cnn", "logreg", "svm", "rf", "adaboost", "prs", "authors_prs")
MODEL_NAMES = {
    "capsule": "DiseaseCapsule",
    "mlp": "MLP",
    "cnn": "CNN",
    "logreg": "Logistic regression",
    "svm": "SVM",
    "rf": "Random forest",
    "adaboost": "AdaBoost",
    "prs": "PRS (Σβ·dosage)",
    "authors_prs": "Authors' 'PRS' (LR on SNPs p<0.05)",
}
PRESETS = {
    "quick": "Quick (teaching): authors' models, fewer capsule/CNN epochs, 3 seeds, one validation fold",
    "paper": "Paper settings: authors' epochs and trees, 5 seeds, 5-fold balanced CV (slow on a CPU)",
}


def preset_config(preset: str = "quick", **overrides) -> ProtocolConfig:
    """The protocol settings of a preset (see the module docstring), with overrides.

    Raises
    ------
    ConfigError
        Unknown preset.
    """
    if preset == "quick":
        base = dict(seeds=(0, 1, 2), n_folds=5, validation="holdout", tuning="grid")
    elif preset == "paper":
        base = dict(seeds=(0, 1, 2, 3, 4), n_folds=5, validation="cv", tuning="grid")
    else:
        raise ConfigError(f"preset: {preset!r}; choose one of {sorted(PRESETS)}.")
    base.update(overrides)
    return ProtocolConfig(**base)


def _logreg(**kw):
    return make_logistic_regression(**kw)


def model_zoo(keys=None, *, preset: str = "quick", overrides: dict | None = None) -> list[ModelSpec]:
    """Model specifications for the comparison protocol.

    Parameters
    ----------
    keys : sequence of str, optional
        Which models, in this order (default: all of ``MODEL_KEYS``).
    preset : {"quick", "paper"}, default "quick"
    overrides : dict of key -> dict, optional
        Fixed hyper-parameters replacing the preset's, e.g. ``{"capsule": {"epochs": 3}}``
        (a key in a model's grid fixes it: it is removed from the grid).

    Returns
    -------
    list of ModelSpec

    Raises
    ------
    ConfigError
        Unknown preset or model key.
    """
    if preset not in PRESETS:
        raise ConfigError(f"preset: {preset!r}; choose one of {sorted(PRESETS)}.")
    keys = list(MODEL_KEYS if keys is None else keys)
    unknown = [k for k in keys if k not in MODEL_KEYS]
    if unknown:
        raise ConfigError(f"models: unknown {unknown}; choose among {list(MODEL_KEYS)}.")
    paper = preset == "paper"
    specs = {
        "capsule": ModelSpec(
            "capsule", MODEL_NAMES["capsule"], DiseaseCapsuleClassifier,
            params={"epochs": 30 if paper else 10},
            is_torch=True,
            description="Capsule network with dynamic routing (authors' code: FC 150, 32 primary "
                        "types, 2 x 16-d phenotype capsules, Adam 1e-4, decay 0.8/epoch, batch 128).",
        ),
        "mlp": ModelSpec(
            "mlp", MODEL_NAMES["mlp"], TorchMLPClassifier, params={"epochs": 30}, is_torch=True,
            description="Authors' MLP: Dense 100-64-16, batch norm, tanh, dropout 0.5; Adam 5e-5, "
                        "x0.7 every 4 epochs, batch 128.",
        ),
        "cnn": ModelSpec(
            "cnn", MODEL_NAMES["cnn"], TorchCNNClassifier, params={"epochs": 30 if paper else 10},
            is_torch=True,
            description="Authors' CNN on the first floor(sqrt(F))^2 features as a square image: "
                        "2x Conv(32) + BN + ReLU, 2x Conv(64) + BN + ReLU, Dense 128 and 64.",
        ),
        "logreg": ModelSpec(
            "logreg", MODEL_NAMES["logreg"], _logreg,
            grid={"C": [0.001, 0.01, 0.1, 1.0]},
            space={"C": ("float", 1e-4, 10.0, True)},
            description="L2 logistic regression (saga) on standardised features; C tuned.",
        ),
        "svm": ModelSpec(
            "svm", MODEL_NAMES["svm"], make_svm, params={"kernel": "rbf"},
            grid={"C": [0.1, 1.0, 10.0]}, space={"C": ("float", 1e-2, 100.0, True)},
            description="SVM, RBF kernel, standardised features, Platt probabilities; C tuned.",
        ),
        "rf": ModelSpec(
            "rf", MODEL_NAMES["rf"], make_random_forest,
            params={"n_estimators": 100, "max_depth": 5},
            description="Random forest: 100 trees of depth 5 (authors).",
        ),
        "adaboost": ModelSpec(
            "adaboost", MODEL_NAMES["adaboost"], make_adaboost,
            params={"n_estimators": 1000 if paper else 100, "max_depth": 3},
            description="AdaBoost over depth-3 trees (authors: 1,000; quick preset: 100).",
        ),
        "prs": ModelSpec(
            "prs", MODEL_NAMES["prs"], PolygenicRiskScore,
            grid={"p_threshold": [5e-2, 5e-4, 5e-6, 5e-8]},
            space={"p_threshold": ("categorical", [5e-2, 5e-4, 5e-6, 5e-8])},
            input="snps", upsample=False,
            description="Polygenic risk score: sum of GWAS log odds ratios x dosage over SNPs below "
                        "the p threshold (training GWAS only), logistic calibration; threshold tuned.",
        ),
        "authors_prs": ModelSpec(
            "authors_prs", MODEL_NAMES["authors_prs"], AuthorsPRSClassifier,
            params={"p_threshold": 0.05}, input="snps", upsample=False,
            description="What the DiseaseCapsule paper calls 'PRS': logistic regression (saga) on "
                        "raw SNP dosages with training-GWAS p < 0.05. Not a polygenic score.",
        ),
    }
    out = []
    for k in keys:
        spec = specs[k]
        extra = dict((overrides or {}).get(k, {}))
        if extra:
            spec.params = {**spec.params, **extra}
            spec.grid = {g: v for g, v in spec.grid.items() if g not in extra}
        out.append(spec)
    return out
