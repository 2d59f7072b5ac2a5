"""The shipped demo cohort: files present, consistent, and exactly what the simulator writes."""

import json

import numpy as np
import pandas as pd
import pytest

from genoapp import demo
from genoapp.errors import ConfigError
from genoapp.simulate import simulate_case_control


def test_demo_cohort_loads_with_phenotype_and_batch():
    cohort = demo.load_demo_cohort()
    assert (cohort.n_samples, cohort.n_variants) == (1485, 14079)
    y, coding = cohort.phenotype(demo.DEMO_PHENOTYPE)
    assert coding.n_cases == 594 and coding.n_controls == 891 and coding.n_missing == 0
    table = cohort.cases_controls_table(demo.DEMO_PHENOTYPE, batch_column=demo.DEMO_BATCH)
    assert set(table["batch"]) >= {"1000G_phase1", "HapMap3_r2", "Total"}
    assert int(table.loc[table["batch"] == "Total", "total"].iloc[0]) == 1485


def test_shipped_demo_files_are_reproducible(tmp_path):
    sim = demo.build_demo_phenotype(tmp_path)
    for name in ("demo.pheno.tsv", "demo.truth.tsv", "demo.simulation.json"):
        assert (tmp_path / name).read_text() == (demo.DEMO_DIR / name).read_text(), name
    params = json.loads((tmp_path / "demo.simulation.json").read_text())
    assert params["random_state"] == 2026
    truth = demo.load_demo_truth()
    assert (truth["role"] == "additive").sum() == params["n_additive_genes"]
    assert (truth["role"] == "interaction").sum() == 2 * params["n_interacting_pairs"]
    # partners are symmetric
    pairs = truth[truth["role"] == "interaction"].set_index("gene")["partner"]
    assert all(pairs[pairs[g]] == g for g in pairs.index)
    assert sim.phenotype.mean() == pytest.approx(0.4, abs=1e-3)


def test_simulator_heritability_and_errors():
    rng = np.random.default_rng(1)
    G = rng.binomial(2, 0.3, size=(4000, 40)).astype(float)
    ann = pd.DataFrame({"variant_index": np.arange(40), "gene": np.repeat([f"g{i}" for i in range(10)], 4),
                        "relation": "inside"})
    ids = [f"rs{i}" for i in range(40)]
    sim = simulate_case_control(G, ann, ids, n_additive_genes=4, n_interacting_pairs=2,
                                h2_additive=0.6, h2_interaction=0.0, random_state=3)
    # with no interaction variance, liability regressed on the additive genes' scores gives R2 ~ 0.6
    add = sim.truth[sim.truth["role"] == "additive"]
    assert add["score_variance_explained"].sum() == pytest.approx(0.6, abs=0.06)
    assert set(np.unique(sim.phenotype)) == {0, 1}
    with pytest.raises(ConfigError):
        simulate_case_control(G, ann, ids, h2_additive=0.7, h2_interaction=0.4)
    with pytest.raises(ConfigError):
        simulate_case_control(G, ann, ids, n_additive_genes=9, n_interacting_pairs=2)
