"""The planning rules of the Train page's time estimate (genoapp.workflows.estimate)."""

from __future__ import annotations

from genoapp.workflows.estimate import _nested_width, _plan_fits
from genoapp.workflows.presets import association_grid, protocol_config


def test_nested_filter_is_planned_at_its_median_candidate_not_the_full_input():
    # the demo: 8,033 Gene-PCA columns for 6,503 genes; quick grid top 5-40 genes (median 17.5)
    grid = association_grid("quick")
    assert grid == {"top_genes": [5, 10, 15, 20, 30, 40]}
    assert _nested_width(grid, 8033, 6503) == round(17.5 * 2.0 * 8033 / 6503) == 43
    assert _nested_width({"top_k": [10, 20, 40]}, 8033, None) == 20
    # p-value grid: the fraction of SNPs expected below the median p under the null
    assert _nested_width(association_grid("paper"), 8033, None) == round(1e-3 * 8033)
    assert _nested_width({}, 8033, 6503) == 8033
    assert _nested_width({"top_genes": [5000]}, 8033, 6503) == 8033  # never wider


def test_fit_plan_counts_validation_fits_and_refits():
    quick = protocol_config("quick", "classification")
    assert quick.holdout_refit and quick.share_tuning and quick.validation == "holdout"
    # 2 learning rates on the first seed's fold, one fold on each later seed; 3 refits
    assert _plan_fits(quick, 3, 2) == (4, 3)
    no_refit = protocol_config("quick", "classification", holdout_refit=False)
    assert _plan_fits(no_refit, 3, 2) == (4, 0)
    paper = protocol_config("paper", "classification")
    assert paper.validation == "cv" and not paper.share_tuning
    assert _plan_fits(paper, 5, 2) == (5 * 2 * 5, 5)
