"""Tests of genoapp.cohort.Cohort on the shared rice and human data and hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genoapp.cohort import Cohort
from genoapp.errors import ConfigError, InputDataError
from genoapp.io import open_plink, read_phenotypes

RICE = "rice_44k/rice44k"
HUMAN = "human_1kg_hapmap3/human_1kg_hapmap3"


@pytest.fixture(scope="module")
def rice(shared_data):
    return Cohort.from_files(
        shared_data / f"{RICE}.bed", phenotypes=shared_data / f"{RICE}.pheno.tsv"
    )


@pytest.fixture(scope="module")
def human(shared_data):
    return Cohort.from_files(shared_data / HUMAN, covariates=shared_data / f"{HUMAN}.samples.tsv")


def test_rice_from_files(rice, shared_data):
    assert rice.name == "rice44k"
    assert (rice.n_samples, rice.n_variants) == (374, 36901)
    assert list(rice.samples.columns[:4]) == ["sample_index", "FID", "IID", "sex"]
    assert rice.samples.shape[1] == 4 + 36
    np.testing.assert_array_equal(rice.sample_index, np.arange(374))
    assert rice.variants is rice.genotypes.variants
    assert rice.id_report.n_both == 374 and rice.id_report.messages() == []
    assert rice.binary_codings == {
        "Leaf_pubescence": "0/1",
        "Awn_presence": "0/1",
        "Seed_color": "0/1",
        "Pericarp_color": "0/1",
    }
    y, info = rice.phenotype("Pericarp_color")
    assert (info.n_cases, info.n_controls, info.n_missing) == (33, 321, 20)
    assert info.coding == "0/1" and y.dtype == np.float64 and y.shape == (374,)
    table = read_phenotypes(shared_data / f"{RICE}.pheno.tsv")
    np.testing.assert_array_equal(y, table["Pericarp_color"].to_numpy())
    t = rice.cases_controls_table("Pericarp_color")
    assert t.to_dict("list") == {
        "batch": ["all"],
        "cases": [33],
        "controls": [321],
        "missing": [20],
        "total": [374],
        "case_fraction": [pytest.approx(33 / 354)],
    }
    with pytest.raises(InputDataError, match="not a binary"):
        rice.phenotype("Plant_height")
    with pytest.raises(ConfigError, match="not a column.*Pericarp_color"):
        rice.phenotype("pericarp")


def test_select_require_phenotype_and_read(rice):
    sub = rice.select(require_phenotype="Pericarp_color")
    assert sub.n_samples == 354 and rice.n_samples == 374  # original untouched
    assert sub.genotypes is rice.genotypes
    y, info = sub.phenotype("Pericarp_color")
    assert not np.isnan(y).any() and (info.n_cases, info.n_controls) == (33, 321)
    cols = np.array([10, 5000, 36900])
    full = rice.read_dosages(cols)
    np.testing.assert_array_equal(sub.read_dosages(cols), full[sub.sample_index])
    i8 = sub.read_int8(cols)
    ref = full[sub.sample_index]
    np.testing.assert_array_equal(i8, np.where(np.isnan(ref), -127, ref).astype(np.int8))
    # only controls: the coding detected on the whole table is kept
    ctrl = rice.take(rice.phenotype("Pericarp_color")[0] == 0)
    assert ctrl.phenotype("Pericarp_color")[1].n_controls == 321
    with pytest.raises(ConfigError, match="no sample"):
        rice.select(sexes=[1])  # every rice sex code is 0
    assert rice.select(sexes=[0]).n_samples == 374


def test_human_covariates_sex_and_batches(human, shared_data):
    assert "superpopulation" in human.samples.columns
    assert "sex" in human.samples.columns and "sex_covariate" not in human.samples.columns
    assert any("agrees with the .fam" in n for n in human.notes)
    fam = open_plink(shared_data / HUMAN).samples
    males = human.select(sexes=[1])
    assert males.n_samples == int((fam["sex"] == 1).sum())
    assert (males.samples["sex"] == 1).all()
    eur = human.select(batch_column="superpopulation", batches=["EUR"], sexes=[2])
    cov = pd.read_csv(shared_data / f"{HUMAN}.samples.tsv", sep="\t")
    assert eur.n_samples == int(((cov["superpopulation"] == "EUR") & (cov["sex"] == 2)).sum())
    assert eur.samples["sample_index"].is_monotonic_increasing
    with pytest.raises(ConfigError, match=r"batches \['EUROPE'\].*present: .*AFR"):
        human.select(batch_column="superpopulation", batches=["EUROPE"])
    with pytest.raises(ConfigError, match="'pop' is not a column"):
        human.select(batch_column="pop", batches=["EUR"])
    with pytest.raises(ConfigError, match="needs 'batch_column'"):
        human.select(batches=["EUR"])
    with pytest.raises(ConfigError, match="codes 0"):
        human.select(sexes=["M"])


def test_cases_controls_table_by_batch(shared_data):
    cov = pd.read_csv(shared_data / f"{HUMAN}.samples.tsv", sep="\t")
    rng = np.random.default_rng(3)
    pheno = cov[["FID", "IID"]].copy()
    pheno["ALS"] = rng.choice([1.0, 2.0, np.nan], size=len(cov), p=[0.5, 0.4, 0.1])
    pheno_before = pheno.copy()
    c = Cohort.from_files(
        shared_data / HUMAN,
        phenotypes=pheno,
        covariates=shared_data / f"{HUMAN}.samples.tsv",
        name="sim",
    )
    pd.testing.assert_frame_equal(pheno, pheno_before)  # DataFrame input not modified
    assert c.name == "sim" and c.binary_codings["ALS"] == "1/2"
    t = c.cases_controls_table("ALS", batch_column="superpopulation")
    assert t["batch"].tolist() == ["AFR", "AMR", "EAS", "EUR", "SAS", "Total"]
    ref = pd.crosstab(cov["superpopulation"], pheno["ALS"].fillna(0))
    np.testing.assert_array_equal(t["cases"].iloc[:5], ref[2.0].to_numpy())
    np.testing.assert_array_equal(t["controls"].iloc[:5], ref[1.0].to_numpy())
    np.testing.assert_array_equal(t["missing"].iloc[:5], ref[0.0].to_numpy())
    total = t.iloc[-1]
    assert total["cases"] == int((pheno["ALS"] == 2).sum())
    assert total["total"] == 1485 == t["total"].iloc[:5].sum()
    np.testing.assert_allclose(t["case_fraction"], t["cases"] / (t["cases"] + t["controls"]))
    # a batch column with missing labels gets a "(missing)" row
    t2 = c.cases_controls_table("ALS", batch_column="hapmap_fid")
    assert t2["batch"].iloc[-2] == "(missing)"
    assert t2["total"].iloc[-2] == int(cov["hapmap_fid"].isna().sum())
    assert t2["total"].iloc[-1] == 1485


def test_numeric_batches_and_iid_only_table(shared_data, tmp_path):
    fam = open_plink(shared_data / RICE).samples
    # rice: FID (HybID) differs from IID; a table without FID is matched on IID
    f = tmp_path / "iid_only.tsv"
    batch = np.arange(374) % 3 + 1
    pd.DataFrame({"IID": fam["IID"], "plate": batch}).iloc[::-1].to_csv(f, sep="\t", index=False)
    c = Cohort.from_files(shared_data / RICE, covariates=f)
    assert c.covariate_report.on == "IID" and c.covariate_report.n_both == 374
    np.testing.assert_array_equal(c.samples["plate"].to_numpy(), batch)  # .fam order restored
    assert c.select(batch_column="plate", batches=[2]).n_samples == int((batch == 2).sum())
    assert c.select(batch_column="plate", batches=["3"]).n_samples == int((batch == 3).sum())
    # labels as a UI builds them with .astype(str) ("1.0") match too
    as_str = sorted(c.samples["plate"].dropna().astype(str).unique())
    assert as_str == ["1.0", "2.0", "3.0"]
    assert c.select(batch_column="plate", batches=as_str[:2]).n_samples == int((batch < 3).sum())
    # the same IDs with a wrong FID column: nothing matches -> readable error with hint
    bad = pd.DataFrame({"FID": fam["IID"], "IID": fam["IID"], "y": 1.0})
    with pytest.raises(InputDataError, match="match on IID alone"):
        Cohort.from_files(shared_data / RICE, phenotypes=bad)
    c2 = Cohort.from_files(shared_data / RICE, phenotypes=bad, match_on="IID")
    assert c2.samples["y"].notna().all()


def test_from_files_errors(shared_data):
    fam = open_plink(shared_data / RICE).samples
    dup = pd.concat([fam[["FID", "IID"]], fam[["FID", "IID"]].iloc[[5, 7]]], ignore_index=True)
    dup["y"] = 0.0
    with pytest.raises(InputDataError, match=r"2 sample IDs .* more than one row") as err:
        Cohort.from_files(shared_data / RICE, phenotypes=dup)
    assert f"{fam['FID'][5]}/{fam['IID'][5]}" in str(err.value)
    t1 = fam[["FID", "IID"]].assign(z=1.0)
    with pytest.raises(
        InputDataError, match="'z' is in both the phenotype table and the covariate"
    ):
        Cohort.from_files(shared_data / RICE, phenotypes=t1, covariates=t1)
    with pytest.raises(InputDataError, match="no IID column"):
        Cohort.from_files(shared_data / RICE, phenotypes=pd.DataFrame({"id": ["1"]}))
    with pytest.raises(ConfigError):
        Cohort.from_files(shared_data / RICE, match_on="name")
    # a 'sex' column that disagrees with the .fam is kept under another name
    t2 = fam[["FID", "IID"]].assign(sex=2)
    c = Cohort.from_files(shared_data / RICE, covariates=t2)
    assert (c.samples["sex"] == 0).all() and (c.samples["sex_covariate"] == 2).all()
    assert any("sex_covariate" in n for n in c.notes)


def test_take_and_repr(rice):
    sub = rice.take([5, 1, 1])
    assert sub.sample_index.tolist() == [1, 5]
    assert "rice44k" in repr(sub) and "n_samples=2" in repr(sub)
    with pytest.raises(ConfigError):
        rice.take([400])
