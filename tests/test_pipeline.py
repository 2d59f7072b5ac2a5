"""The case/control path end to end on a real binary trait: rice 44K, Pericarp colour, windows."""

import numpy as np
import pytest

from genoapp.cohort import Cohort
from genoapp.errors import ConfigError, InputDataError
from genoapp.features import FeatureConfig, build_features
from genoapp.interpret import coupling_summary
from genoapp.qc import QCConfig, run_qc
from genoapp.train import make_split
from genoapp.workflows.casecontrol import compare_models
from genoapp.workflows.presets import protocol_config


@pytest.fixture(scope="module")
def rice(shared_data):
    d = shared_data / "rice_44k"
    cohort = Cohort.from_files(d / "rice44k", phenotypes=d / "rice44k.pheno.tsv")
    cohort = cohort.select(require_phenotype="Pericarp_color")
    y, _ = cohort.phenotype("Pericarp_color")
    G = cohort.read_dosages()
    qc = run_qc(G, cohort.samples, cohort.variants, config=QCConfig())
    Gq = G[np.ix_(qc.sample_mask, qc.variant_mask)]
    variants = cohort.variants[qc.variant_mask].reset_index(drop=True)
    return Gq, variants, y[qc.sample_mask]


def test_rice_pericarp_colour_end_to_end(rice):
    G, variants, y = rice
    split = make_split(y, test_size=0.1, random_state=0)
    yt = split.y[split.test_idx]
    assert (yt == 1).sum() == (yt == 0).sum() > 0
    assert not set(split.train_idx) & set(split.test_idx)
    fs = build_features(G, variants, split, config=FeatureConfig(kind="windows", window_snps=20))
    assert fs.X.shape[0] == len(y) and fs.X.dtype == np.float32
    assert fs.n_imputed_total == int(np.isnan(G).sum())  # every missing genotype imputed and counted
    # the old train_case_control: DiseaseCapsule (3 epochs) and the logistic-regression baseline
    # (C = 0.01) on the 1:1 upsampled training rows, one seed
    result = compare_models(fs, split, models=["capsule", "logreg"],
                            config=protocol_config("quick", "classification", seeds=(0,)),
                            overrides={"capsule": {"epochs": 3}, "logreg": {"C": 0.01}})
    m = result.summary().set_index("model")
    assert list(m.index) == ["DiseaseCapsule", "Logistic regression"]
    mets = [f"{k}_mean" for k in ("accuracy", "precision", "recall", "f1", "roc_auc")]
    assert m[mets].apply(lambda c: c.between(0, 1)).all().all()
    # Pericarp colour is nearly monogenic (Rc on chr 7): the linear baseline finds it
    assert m.loc["Logistic regression", "roc_auc_mean"] > 0.8
    capsule = result.estimator("capsule", fs.input_name, seed=result.config.seeds[0])
    cs = coupling_summary(capsule, fs)
    np.testing.assert_allclose(cs.train.sum(axis=1), 1.0, atol=1e-4)
    assert 0 <= cs.strongest_case_type < 32


def test_features_fitted_on_training_rows_only(rice):
    G, variants, y = rice
    split = make_split(y, test_size=0.1, random_state=1)
    fs = build_features(G, variants, split, config=FeatureConfig(kind="windows", window_snps=50))
    # imputation means come from training rows only
    used = np.unique(fs.annotation["variant_index"])
    np.testing.assert_allclose(fs.imputer.mean_, np.nanmean(G[split.train_idx][:, used], axis=0), rtol=1e-6)
    # changing test genotypes does not change the fitted transformers
    G2 = G.copy()
    G2[split.test_idx] = 2.0
    fs2 = build_features(G2, variants, split, config=FeatureConfig(kind="windows", window_snps=50))
    np.testing.assert_allclose(fs.X[split.train_idx], fs2.X[split.train_idx], rtol=1e-5, atol=1e-5)


def test_bad_inputs_raise_readable_errors():
    with pytest.raises(InputDataError, match="missing"):
        make_split(np.array([0, 1, np.nan, 1, 0, 0, 1, 1]))
    with pytest.raises(ConfigError):
        FeatureConfig(kind="exons")
    with pytest.raises(ConfigError):
        FeatureConfig(fit_on="test")
