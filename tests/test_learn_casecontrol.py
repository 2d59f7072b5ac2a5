"""Case/control lessons (leakage, overfitting, distributions, relatives): each shows its effect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from genoapp.demo import DEMO_PHENOTYPE, load_demo_cohort
from genoapp.errors import ConfigError, InputDataError
from genoapp.learn.casecontrol import (
    HONEST,
    LEAKY,
    distribution_lesson,
    leakage_lesson,
    noise_phenotype,
    overfitting_lesson,
)
from genoapp.learn.epistasis import additive_vs_epistatic_lesson
from genoapp.learn.relatedness import relatedness_lesson

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def demo():
    c = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE)
    y, _ = c.phenotype(DEMO_PHENOTYPE)
    return c.read_dosages(), np.asarray(y, dtype=np.int64)


def test_leaky_gwas_looks_predictive_on_a_pure_noise_phenotype(demo):
    G, y = demo
    noise = noise_phenotype(len(y), case_fraction=0.4, random_state=1)
    assert noise.sum() == round(0.4 * len(y))
    r = leakage_lesson(G, noise, p_threshold=0.01, n_repeats=3, random_state=0)
    s = r.summary.set_index("protocol")
    assert list(s.index) == [HONEST, LEAKY] and len(r.table) == 6
    assert abs(s.loc[HONEST, "test_roc_auc"] - 0.5) < 0.1          # honest: chance
    assert s.loc[LEAKY, "test_roc_auc"] > s.loc[HONEST, "test_roc_auc"] + 0.2  # leaky: an illusion
    assert (r.table["n_snps"] > 0).all()


def test_overfitting_curves_and_remedies(demo):
    G, y = demo
    free = overfitting_lesson(G, y, epochs=15, random_state=0)
    h = free.history
    assert list(h["epoch"]) == list(range(1, 16))
    assert h["train_accuracy"].iloc[-1] > 0.99 and free.gap > 0.2          # memorised
    assert h["val_loss"].iloc[-1] > h["val_loss"].min() + 0.1            # validation loss rises
    assert free.best_epoch == int(h["val_loss"].idxmin()) + 1
    early = overfitting_lesson(G, y, epochs=15, patience=3, random_state=0)
    assert early.stopped_epoch <= free.best_epoch + 3 < 15
    again = overfitting_lesson(G, y, epochs=15, patience=3, random_state=0)
    np.testing.assert_allclose(again.history["val_loss"], early.history["val_loss"])  # seeded
    with pytest.raises(ConfigError, match="dropout"):
        overfitting_lesson(G, y, dropout=1.5)
    with pytest.raises(InputDataError, match="phenotype"):
        leakage_lesson(G, np.zeros(len(y)))


def test_held_out_ancestry_shifts_the_distributions(demo):
    G, y = demo
    groups = load_demo_cohort().select(require_phenotype=DEMO_PHENOTYPE).samples["superpopulation"].to_numpy()
    r = distribution_lesson(G, y, groups, held_out="AFR")
    rnd, held = r.splits.iloc[0], r.splits.iloc[1]
    assert rnd["n_test"] == held["n_test"] == int((groups == "AFR").sum())
    assert rnd["ks_pc1"] < 0.15 and held["ks_pc1"] > 0.4 and held["ks_pc1_p"] < 1e-10
    assert set(r.pc1[rnd["split"]]) == {"training", "test"}
    with pytest.raises(ConfigError, match="not found"):
        distribution_lesson(G, y, groups, held_out="MARS")


def test_relatives_across_the_split_inflate_accuracy():
    r = relatedness_lesson(n_families=60, n_snps=1500, n_causal=300, n_repeats=2, random_state=0)
    m = r.table.groupby("split").mean(numeric_only=True)
    assert m.loc["random", "test_with_relative"] > 0.8 and m.loc["by family", "test_with_relative"] == 0
    assert m.loc["random", "pearson_r"] > m.loc["by family", "pearson_r"] + 0.05
    assert abs(np.median(r.max_relationship["random"]) - 0.5) < 0.12  # siblings: about 0.5
    assert r.n_samples == 240 and 0.45 < r.h2 < 0.75


def test_linear_model_misses_the_epistatic_trait_the_network_learns():
    r = additive_vs_epistatic_lesson(n_samples=4000, random_state=0)
    t = r.table.set_index(["trait", "model"])["test_roc_auc"]
    assert t["additive", "Logistic regression"] > 0.85 and t["additive", "Neural network"] > 0.8
    assert t["epistatic", "Logistic regression"] < 0.62
    assert t["epistatic", "Neural network"] > t["epistatic", "Logistic regression"] + 0.1
    assert set(r.truth["epistatic"]["role"]) == {"interaction"} and set(r.truth["additive"]["role"]) == {"additive"}
    with pytest.raises(ConfigError, match="n_genes"):
        additive_vs_epistatic_lesson(n_genes=3)


def test_learn_page_leakage_and_overfitting_tabs():
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/learn.py").run()
    assert not at.exception
    at.number_input(key="learn_leak_reps").set_value(2)
    at.button(key="learn_leak_run").click().run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert "Test accuracy, honest" in labels and "Test accuracy, leaky" in labels
    at.number_input(key="learn_over_epochs").set_value(8)
    at.checkbox(key="learn_over_es").check()
    at.button(key="learn_over_run").click().run()
    assert not at.exception and not at.error
    assert any(m.label == "Epochs run" for m in at.metric)
    at.button(key="learn_dist_run").click().run()
    assert not at.exception and not at.error
    at.number_input(key="learn_rel_fam").set_value(40)
    at.button(key="learn_rel_run").click().run()
    assert not at.exception and not at.error
    assert "genoapp_learn_rel" in at.session_state and "genoapp_learn_dist" in at.session_state
    at.number_input(key="learn_epi_n").set_value(2000)
    at.button(key="learn_epi_run").click().run()
    assert not at.exception and not at.error and "genoapp_learn_epi" in at.session_state
