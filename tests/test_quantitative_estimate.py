"""The time the Quantitative page shows before the click is within a factor 2 of the time the
run takes (issue 16), on real genotypes: a slice of the BGLR mice, GRVSNN and ridge under the
quick preset, as the page runs them."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest


@pytest.mark.slow
def test_estimate_is_within_a_factor_two_of_the_measured_time(shared_data, tmp_path):
    from bed_reader import open_bed

    from genoapp.workflows.estimate import estimate_quantitative
    from genoapp.workflows.quantitative import load_quantitative_data, run_quantitative

    src = shared_data / "bglr_mice" / "mice"
    with open_bed(f"{src}.bed") as bed:
        iid = bed.iid
    # a slice of the real data: 800 mice x all markers, the page's two default traits
    keep = np.sort(np.random.default_rng(0).choice(len(iid), 800, replace=False))
    pheno = pd.read_csv(f"{src}.pheno.tsv", sep="\t", dtype={"IID": str, "FID": str})
    pheno = pheno[pheno["IID"].isin(set(iid[keep].astype(str)))]
    pheno.to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    data = load_quantitative_data(src, phenotypes=tmp_path / "pheno.tsv")
    traits = ["Obesity.BodyLength", "Obesity.BMI"]
    n_obs = int(data.samples[traits].notna().any(axis=1).sum())
    assert 700 <= n_obs <= 800
    est = estimate_quantitative(n_obs, data.n_variants, len(traits), models=["grvsnn", "ridge"],
                                preset="quick", n_input_sets=1)
    t = time.perf_counter()
    run = run_quantitative(data, traits=traits, models=["grvsnn", "ridge"],
                           input_sets=["markers"], preset="quick")
    measured = time.perf_counter() - t
    assert len(run.metrics) == 2 * 2 * 5  # 2 models x 2 traits x 5 folds
    assert est.seconds / 2 <= measured <= 2 * est.seconds, (est.text(), measured)


def test_lassonet_planning_rule_matches_its_measured_fits():
    """The quick preset's LassoNet rule goes through the two fits it was calibrated on
    (wheat 479 x 1,279: 30 s; mice 1,451 x 10,346: 62 s), not rows x columns (735 s)."""
    from genoapp.workflows.estimate import _regression_fit_seconds
    from genoapp.workflows.presets import model_params

    params = tuple(sorted(model_params("quick", "lassonet").items()))
    wheat = _regression_fit_seconds("lassonet", "quick", 479, 1279, params)
    mice = _regression_fit_seconds("lassonet", "quick", 1451, 10346, params)
    assert wheat == pytest.approx(30.0, rel=1e-6) and mice == pytest.approx(62.0, rel=1e-6)
    paper = _regression_fit_seconds("lassonet", "paper", 1451, 10346,
                                    tuple(sorted(model_params("paper", "lassonet").items())))
    assert paper > 10 * mice          # the package defaults: a long path, 100 hidden units
