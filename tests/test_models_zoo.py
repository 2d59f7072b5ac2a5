"""The case/control model zoo: estimator contracts, the authors' architectures, the PRS models."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import check_estimator

from genoapp.errors import ConfigError, InputDataError
from genoapp.models import (
    AuthorsPRSClassifier,
    PolygenicRiskScore,
    TorchCNNClassifier,
    TorchMLPClassifier,
    allelic_association,
    ld_clump,
    make_svm,
)
from genoapp.models.cnn import CNNNet, image_side
from genoapp.models.mlp import MLPNet
from genoapp.workflows.presets import protocol_config
from genoapp.workflows.registry import CASECONTROL_MODELS, model_specs

# ---------------------------------------------------------------------------- estimator contract
# A reduced set of scikit-learn's estimator checks for the torch models (each check fits the
# network; the full suite takes minutes). It covers the API contract: parameters, cloning,
# pickling, fitted state, input validation and error messages, binary-only labels.
_TORCH_CHECKS = [
    ec.check_no_attributes_set_in_init,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_estimator_cloneable,
    ec.check_estimator_repr,
    ec.check_estimators_unfitted,
    ec.check_fit_check_is_fitted,
    ec.check_n_features_in_after_fitting,
    ec.check_fit2d_predict1d,
    ec.check_fit2d_1sample,
    ec.check_classifiers_one_label,
    ec.check_classifier_not_supporting_multiclass,
    ec.check_classifiers_regression_target,
    ec.check_requires_y_none,
    ec.check_supervised_y_2d,
    ec.check_complex_data,
    ec.check_dtype_object,
    ec.check_estimators_empty_data_messages,
    ec.check_estimators_nan_inf,
    ec.check_estimators_overwrite_params,
    ec.check_dont_overwrite_parameters,
    ec.check_fit_idempotent,
    ec.check_estimators_pickle,
]


@pytest.mark.parametrize(("cls", "epochs", "extra"), [
    (TorchMLPClassifier, 8, [ec.check_classifiers_train]),
    # the CNN sees only the first floor(sqrt(F))**2 features: one of the check's two blobs
    # features, so its training accuracy cannot reach the check's 0.83
    (TorchCNNClassifier, 2, []),
])
def test_torch_baselines_pass_the_estimator_contract(cls, epochs, extra):
    est = cls(epochs=epochs, batch_size=32, learning_rate=1e-2, device="cpu")
    for check in _TORCH_CHECKS + extra:
        check(cls.__name__, est)


def _as_dosages(X):
    """scikit-learn's checks feed continuous data; the PRS models need allele dosages. Map
    finite real values elementwise to 0/1/2 (round |x|, clip); pass anything else through so
    that the estimator's own validation meets it (sparse, complex, object, inf)."""
    try:
        arr = np.asarray(X)
    except Exception:
        return X
    if arr.ndim == 2 and arr.dtype.kind in "fi":
        arr = arr.astype(float)
        return np.where(np.isfinite(arr), np.clip(np.round(np.abs(arr)), 0, 2), arr)
    return X


class _DosagePRS(PolygenicRiskScore):
    def fit(self, G, y):
        return super().fit(_as_dosages(G), y)

    def decision_function(self, G):
        return super().decision_function(_as_dosages(G))


class _DosageAuthorsPRS(AuthorsPRSClassifier):
    def fit(self, G, y):
        return super().fit(_as_dosages(G), y)

    def decision_function(self, G):
        return super().decision_function(_as_dosages(G))


@pytest.mark.parametrize("est", [_DosagePRS(), _DosageAuthorsPRS()])
def test_prs_models_pass_check_estimator(est):
    # the full scikit-learn suite, with the generic data turned into allele dosages
    results = check_estimator(est, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert failed == []
    with pytest.raises(InputDataError, match="dosages in \\[0, 2\\]"):
        type(est).__mro__[1]().fit(np.full((6, 3), 3.0), np.array([0, 1] * 3))


# ---------------------------------------------------------------------------- authors' MLP and CNN
def test_mlp_architecture_is_100_64_16_with_batch_norm_tanh_dropout():
    net = MLPNet(50)
    kinds = [type(m).__name__ for m in net.net]
    assert kinds == ["Linear", "BatchNorm1dAnySize", "Tanh", "Dropout"] * 3 + ["Linear"]
    widths = [m.out_features for m in net.net if isinstance(m, torch.nn.Linear)]
    assert widths == [100, 64, 16, 2]
    assert all(m.p == 0.5 for m in net.net if isinstance(m, torch.nn.Dropout))
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == (50 * 100 + 100) + 200 + (100 * 64 + 64) + 128 + (64 * 16 + 16) + 32 + (16 * 2 + 2)


@pytest.mark.parametrize(("n_features", "side", "flat"), [(75_584, 274, 16), (10_404, 102, 5), (10_500, 102, 5)])
def test_cnn_image_and_layer_sizes(n_features, side, flat):
    # paper: 274 x 274 for Gene-PCA (75,584 features), 102 x 102 for All-PCA
    assert image_side(n_features) == side
    net = CNNNet(side).eval()
    assert net.dense[0].in_features == 64 * flat * flat
    convs = [m for m in net.conv if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64]
    assert all(c.stride == (2, 2) and c.kernel_size == (3, 3) and c.padding == (0, 0) for c in convs)
    assert [m.out_features for m in net.dense if isinstance(m, torch.nn.Linear)] == [128, 64, 2]
    with torch.no_grad():
        assert net(torch.zeros(2, n_features)).shape == (2, 2)


def test_cnn_uses_only_the_first_square_features_and_pads_small_images():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 40)).astype(np.float32)  # 6 x 6 image: too small for valid convolutions
    y = (X[:, 0] > 0).astype(int)
    clf = TorchCNNClassifier(epochs=2, batch_size=16, device="cpu").fit(X, y)
    assert clf.image_side_ == 6 and clf.padding_ == "same"
    X2 = X.copy()
    X2[:, 36:] = 100.0  # features beyond 6**2 are not part of the image
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X2))
    with pytest.raises(ConfigError, match="too small"):
        TorchCNNClassifier(padding="valid", epochs=1, device="cpu").fit(X, y)


def test_step_decay_schedule_reproducibility_and_reload(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 30)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    kw = dict(epochs=9, batch_size=32, learning_rate=1e-3, device="cpu", random_state=3)
    a = TorchMLPClassifier(**kw).fit(X[:100], y[:100], X_val=X[100:], y_val=y[100:])
    lrs = [h["lr"] for h in a.history_]
    np.testing.assert_allclose(lrs, [1e-3] * 4 + [7e-4] * 4 + [4.9e-4], rtol=1e-6)  # x0.7 every 4 epochs
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy"} <= set(a.history_[0])
    assert 1 <= a.best_epoch_ <= 9 and a.device_ == "cpu" and a.mixed_precision_ is False
    b = TorchMLPClassifier(**kw).fit(X[:100], y[:100], X_val=X[100:], y_val=y[100:])
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))  # same seed, same model
    a.save(tmp_path / "mlp.pt")
    c = TorchMLPClassifier.load(tmp_path / "mlp.pt", device="cpu")
    np.testing.assert_array_equal(a.predict_proba(X), c.predict_proba(X))
    assert c.history_ == a.history_ and c.best_epoch_ == a.best_epoch_
    with pytest.raises(InputDataError, match="TorchMLPClassifier"):
        TorchCNNClassifier.load(tmp_path / "mlp.pt")


def test_torch_models_accept_any_two_labels_and_reject_bad_params():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 12)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "case", "control")
    clf = TorchMLPClassifier(epochs=2, batch_size=8, device="cpu").fit(X, y)
    assert set(clf.predict(X)) <= {"case", "control"}
    assert list(clf.classes_) == ["case", "control"]
    with pytest.raises(ConfigError, match="learning_rate"):
        TorchMLPClassifier(learning_rate=0).fit(X, y)
    with pytest.raises(ConfigError, match="activation"):
        TorchMLPClassifier(activation="swish").fit(X, y)
    with pytest.raises(InputDataError, match="missing|NaN"):
        TorchMLPClassifier(epochs=1).fit(np.where(X > 2, np.nan, X), y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="GPU test: CUDA not available")
def test_mixed_precision_on_cuda():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(256, 64)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = TorchMLPClassifier(epochs=3, device="cuda").fit(X, y)
    assert clf.device_.startswith("cuda") and clf.mixed_precision_ == torch.cuda.is_bf16_supported()
    assert np.isfinite(clf.predict_proba(X)).all()


def test_svm_kernels():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(80, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    for kernel in ("rbf", "linear"):
        svm = make_svm(kernel=kernel).fit(X, y)
        assert (svm.predict(X) == y).mean() > 0.9
        assert not hasattr(svm, "predict_proba")  # the case score is decision_function
    assert make_svm(probability=True).fit(X, y).predict_proba(X).shape == (80, 2)
    with pytest.raises(ConfigError, match="kernel"):
        make_svm(kernel="poly")


# ---------------------------------------------------------------------------- PRS models
def test_allelic_association_equals_plink_assoc(shared_data, plink19, tmp_path):
    from genoapp.cohort import Cohort

    d = shared_data / "rice_44k"
    subprocess.run([plink19, "--bfile", str(d / "rice44k"), "--pheno", str(d / "rice44k.pheno.tsv"),
                    "--pheno-name", "Pericarp_color", "--1", "--assoc", "--allow-no-sex", "--silent",
                    "--out", str(tmp_path / "ref")], check=True)
    ref = pd.read_csv(tmp_path / "ref.assoc", sep=r"\s+", na_values=["NA"])
    cohort = Cohort.from_files(d / "rice44k", phenotypes=d / "rice44k.pheno.tsv")
    cohort = cohort.select(require_phenotype="Pericarp_color")
    y, _ = cohort.phenotype("Pericarp_color")
    ours = allelic_association(cohort.read_dosages(), y)
    assert len(ours) == len(ref) == 36_901
    tested = ref["P"].notna().to_numpy()
    np.testing.assert_array_equal(np.isfinite(ours["p"].to_numpy()), tested)
    # PLINK prints 4 significant digits
    np.testing.assert_allclose(ours["chisq"][tested], ref["CHISQ"][tested], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ours["p"][tested], ref["P"][tested], rtol=1.5e-3, atol=1e-30)
    nz = tested & (ours[["a1_cases", "a2_cases", "a1_controls", "a2_controls"]] > 0).all(axis=1).to_numpy()
    np.testing.assert_allclose(ours["or"][nz], ref["OR"][nz], rtol=1e-3)
    # the Rc gene of pericarp colour: best chromosome-7 SNP at 6.07 Mb, p = 2.5e-58 (data README)
    chr7 = np.flatnonzero(ref["CHR"].to_numpy() == 7)
    top = chr7[int(np.nanargmin(ours["p"].to_numpy()[chr7]))]
    assert abs(ref.loc[top, "BP"] - 6_070_000) < 10_000
    assert ours["p"][top] == pytest.approx(2.5e-58, rel=0.05)


def _planted(n=400, m=200, seed=0):
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.1, 0.9, size=m)
    G = rng.binomial(2, freq, size=(n, m)).astype(float)
    liab = 1.2 * (G[:, 3] - 2 * freq[3]) - 0.9 * (G[:, 10] - 2 * freq[10]) + rng.normal(size=n)
    y = (liab > np.quantile(liab, 0.6)).astype(int)
    G[rng.random(G.shape) < 0.02] = np.nan
    return G, y


def test_prs_is_the_sum_of_training_log_odds_ratios_times_dosage():
    G, y = _planted()
    prs = PolygenicRiskScore(p_threshold=5e-4).fit(G, y)
    assert {3, 10} <= set(prs.selected_.tolist())
    gw = allelic_association(G, y)
    np.testing.assert_allclose(prs.beta_, gw["beta"].to_numpy()[prs.selected_])
    assert prs.beta_[list(prs.selected_).index(3)] > 0 > prs.beta_[list(prs.selected_).index(10)]
    Gi = np.where(np.isnan(G), np.nanmean(G, axis=0), G)
    np.testing.assert_allclose(prs.score_samples_raw(G), Gi[:, prs.selected_] @ prs.beta_, rtol=1e-10)
    auc_like = (prs.decision_function(G)[y == 1].mean() > prs.decision_function(G)[y == 0].mean())
    assert auc_like
    # a threshold nothing passes: the single best SNP is used and flagged
    weak = PolygenicRiskScore(p_threshold=1e-300).fit(G, y)
    assert weak.fallback_ and weak.selected_.size == 1
    with pytest.raises(ConfigError, match="p_threshold"):
        PolygenicRiskScore(p_threshold=0).fit(G, y)


def test_ld_clumping_keeps_one_index_snp_per_ld_block():
    rng = np.random.default_rng(5)
    base = rng.binomial(2, 0.4, size=(300, 3)).astype(float)
    # SNPs 0-2 copies of block A (r2 = 1), 3-4 of block B, 5 independent; block A near, B far
    G = np.column_stack([base[:, 0], base[:, 0], base[:, 0], base[:, 1], base[:, 1], base[:, 2]])
    p = np.array([1e-6, 1e-8, 1e-5, 1e-4, 1e-3, 1e-2])
    chrom = np.array(["1", "1", "1", "1", "1", "2"])
    pos = np.array([100, 5_000, 9_000, 1_000_000, 1_100_000, 100])
    idx = ld_clump(G, p, chrom=chrom, pos=pos, r2=0.1, kb=250)
    assert idx.tolist() == [1, 3, 5]  # most significant SNP of each block, by increasing p
    # the same copy 300 kb away is outside the window: kept
    pos2 = pos.copy()
    pos2[2] = 400_000
    assert ld_clump(G, p, chrom=chrom, pos=pos2, r2=0.1, kb=250).tolist() == [1, 2, 3, 5]
    variants = pd.DataFrame({"chrom": chrom, "pos": pos})
    prs = PolygenicRiskScore(p_threshold=0.5, clump=True, variants=variants).fit(G, (base[:, 0] > 1).astype(int))
    assert len(set(prs.selected_.tolist()) & {0, 1, 2}) == 1
    with pytest.raises(ConfigError, match="variants"):
        PolygenicRiskScore(p_threshold=0.5, clump=True).fit(G, (base[:, 0] > 1).astype(int))


def test_authors_prs_is_logistic_regression_on_snps_below_005():
    G, y = _planted(seed=1)
    clf = AuthorsPRSClassifier().fit(G, y)
    p = allelic_association(G, y)["p"].to_numpy()
    np.testing.assert_array_equal(clf.selected_, np.flatnonzero(p < 0.05))
    assert clf.logreg_.solver == "saga" and clf.logreg_.coef_.shape == (1, clf.selected_.size)
    assert clf.predict_proba(G).shape == (len(y), 2)


# ---------------------------------------------------------------------------- the zoo
def test_zoo_presets_and_overrides():
    quick = {s.key: s for s in model_specs()}
    paper = {s.key: s for s in model_specs(preset="paper")}
    assert list(quick) == list(CASECONTROL_MODELS)
    assert paper["capsule"].params["epochs"] == 30 and quick["capsule"].params["epochs"] == 30
    assert protocol_config("quick").patience == 3 and not protocol_config("paper").patience  # quick stops early
    assert paper["adaboost"].params["n_estimators"] == 1000
    assert paper["rf"].params == {"n_estimators": 100, "max_depth": 5}
    assert quick["prs"].grid == {"p_threshold": [5e-2, 5e-4, 5e-6, 5e-8]}
    assert quick["prs"].input == quick["authors_prs"].input == "snps"
    assert not quick["prs"].upsample and quick["capsule"].is_torch
    assert "not a polygenic score" in quick["authors_prs"].description.lower()
    o = {s.key: s for s in model_specs(["logreg", "capsule"], overrides={"logreg": {"C": 0.5}, "capsule": {"epochs": 2}})}
    assert o["logreg"].grid == {} and o["logreg"].params["C"] == 0.5 and o["capsule"].params["epochs"] == 2
    paper_cfg = protocol_config("paper", "classification")
    assert paper_cfg.validation == "cv" and len(paper_cfg.seeds) == 5
    with pytest.raises(ConfigError):
        model_specs(["gbm"])
    with pytest.raises(ConfigError):
        protocol_config("fast", "classification")
