"""The quantitative-trait workflow as plain functions: data -> inputs -> cross-validated models.

Used by the "Quantitative traits" page, by the benchmarks and by scripts, so all of them run
the same code (DESIGN §4.2, §4.5):

1. :func:`load_quantitative_data`: a PLINK fileset, a phenotype table and optionally a
   pedigree (A by Henderson's method) or a GCTA GRM; the relationship matrix is decomposed
   once (``L = Q sqrt(Lambda)``, all components kept) so the user can change the rank m
   without recomputing; the rows of the genotyped individuals are matched by IID.
2. :func:`build_inputs`: ``X = [L_m, markers]`` or markers only, with input names and groups.
3. :func:`run_quantitative`: the outer cross-validation of :mod:`genoapp.train.cv` for the
   chosen models (:data:`MODELS`), traits and input sets ("markers", "markers + loadings"),
   on the same folds for every model and input set.
4. :func:`save_run`: a run directory (config, record of versions and seeds, tables as CSV),
   written atomically.

The built-in example (:func:`demo_paths`) is a copy of the BGLR mice data (GPL-3) in
``assets/quantitative/mice``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import importlib
import json
import os
import platform
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.features.pedigree import (
    RelationshipLoadings,
    additive_relationship,
    pedigree_loadings,
)
from genoapp.train.cv import (
    PRESETS,
    CVConfig,
    Fold,
    ModelSpec,
    cross_validate,
    grvsnn_spec,
    repeated_kfold,
)

__all__ = [
    "APP_DEFAULT_INPUTS",
    "DEMO_TRAITS",
    "INPUT_SETS",
    "MODELS",
    "PRESET_GRVSNN",
    "PRESET_LASSONET",
    "QuantitativeData",
    "QuantitativeRun",
    "available_models",
    "build_inputs",
    "demo_paths",
    "load_quantitative_data",
    "model_specs",
    "run_quantitative",
    "save_run",
]

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "quantitative" / "mice"
#: Traits of the built-in mice example (the GRVSNN paper's mouse traits).
DEMO_TRAITS = ("Obesity.BodyLength", "Obesity.BMI")
#: Input sets: markers only, or pedigree loadings and markers (paper Tables 1-4).
INPUT_SETS = ("markers", "markers + loadings")

#: Input sets selected by default on the page when a relationship matrix is loaded (both can
#: be chosen; each doubles the run time).
APP_DEFAULT_INPUTS = ("markers + loadings",)

#: Fixed GRVSNN parameters of each protocol preset (genoapp.train.cv.PRESETS): 16 hidden
#: units keep the app preset to minutes on 2 CPU cores; 128 is the width of the authors' Keras
#: code.
PRESET_GRVSNN = {"app": {"n_hidden": 16}, "paper": {"n_hidden": 128}}

#: LassoNet settings of each protocol preset. "paper" keeps the ``lassonet`` package's defaults
#: (100 hidden units, 5-fold CV over lambda, path multiplier 1.02, up to 1,000 / 100 epochs
#: with patience 100 / 10): more than 7 minutes per fit on the wheat (1,279 markers) and hours on
#: the mice (10,346 markers) on 2 CPU cores. "app" is a quicker, coarser search (20 hidden
#: units, 3-fold CV over lambda, path multiplier 1.5, up to 200 / 30 epochs with patience
#: 10 / 3) for interactive use; its cost and accuracy on the mice and wheat are measured by
#: benchmarks/quantitative_paper_table.py.
PRESET_LASSONET = {
    "app": {"hidden_dims": (20,), "cv": 3, "path_multiplier": 1.5, "n_iters": (200, 30),
            "patience": (10, 3)},
    "paper": {},
}

#: Models offered, in display order. ``target`` is "module:Class" (imported when used, so a
#: missing optional model is reported instead of breaking the page); ``slow`` marks models
#: whose CPU time per fit is minutes on the mice (10,346 markers).
MODELS: dict[str, dict] = {
    "GRVSNN": {"target": None, "multi_trait": True, "slow": False,
               "about": "gated residual variable selection network, all traits at once, "
                        "tuned by Optuna inside each training fold"},
    "Ridge (GBLUP)": {"target": "genoapp.models.ridge:RidgeGBLUP", "multi_trait": False,
                      "slow": False,
                      "about": "ridge regression, penalty by leave-one-out CV on the training "
                               "fold: the fast GBLUP-equivalent reference"},
    "LassoNet": {"target": "genoapp.models.lassonet_model:LassoNetRegressorCV",
                 "multi_trait": False, "slow": True,
                 "about": "LassoNet (lassonet package), lambda by CV on the training fold"},
    "BRR": {"target": "genoapp.models.bayes:BayesianRidgeGibbs", "multi_trait": False,
            "slow": True, "about": "Bayesian ridge regression, Gibbs sampler, BGLR defaults"},
    "BL": {"target": "genoapp.models.bayes:BayesianLassoGibbs", "multi_trait": False,
           "slow": True, "about": "Bayesian lasso, Gibbs sampler, BGLR defaults"},
    "BayesCπ": {"target": "genoapp.models.bayes:BayesCpiGibbs", "multi_trait": False,
                "slow": True, "about": "BayesCπ, Gibbs sampler, BGLR defaults (π estimated)"},
}


def demo_paths() -> dict:
    """Files of the built-in quantitative example (BGLR mice, see its README).

    Returns
    -------
    dict
        ``bed`` (PLINK prefix), ``phenotypes``, ``grm`` (prefix of the pedigree A as a GCTA
        GRM), ``traits`` (tuple), ``readme``.

    Raises
    ------
    InputDataError
        The assets are missing (a partial copy of the repository).
    """
    paths = {"bed": ASSETS / "mice", "phenotypes": ASSETS / "mice.pheno.tsv",
             "grm": ASSETS / "mice.A", "traits": DEMO_TRAITS, "readme": ASSETS / "README.md"}
    missing = [str(p) for p in (ASSETS / "mice.bed", paths["phenotypes"], ASSETS / "mice.A.grm.bin")
               if not Path(p).is_file()]
    if missing:
        raise InputDataError(f"The built-in mice example is missing ({', '.join(missing)}); "
                             "restore assets/quantitative/mice from the repository.")
    return paths


# ---------------------------------------------------------------------------------------- data
@dataclasses.dataclass(repr=False)
class QuantitativeData:
    """Genotypes, quantitative traits and relationship loadings of the same individuals.

    Attributes
    ----------
    name : str
    samples : pandas.DataFrame
        ``FID``, ``IID`` (str), one row per genotyped individual, .fam order.
    phenotypes : pandas.DataFrame
        The numeric phenotype columns (float64, NaN = missing), rows as ``samples``.
    markers : numpy.ndarray
        ``(n, M)`` float32 dosages of A1 (0/1/2, NaN = missing).
    marker_names : list of str
        Variant ids of the .bim.
    relationship : RelationshipLoadings or None
        Full-rank loadings of the relationship matrix (all individuals of the pedigree or
        GRM) with eigenvalues, the automatic elbow and the paper's plateau rank.
    loading_rows : numpy.ndarray or None
        Row of ``relationship.loadings`` for each sample.
    relationship_source : str
        What the loadings come from ("pedigree FILE (A, N individuals)", "GRM FILE", "").
    files : dict
        Input files (str paths) for the run record.
    notes : list of str
    """

    name: str
    samples: pd.DataFrame
    phenotypes: pd.DataFrame
    markers: np.ndarray
    marker_names: list
    relationship: RelationshipLoadings | None = None
    loading_rows: np.ndarray | None = None
    relationship_source: str = ""
    files: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def n_markers(self) -> int:
        return int(self.markers.shape[1])

    @property
    def trait_names(self) -> list:
        """Numeric phenotype columns with at least 10 observed values."""
        return [c for c in self.phenotypes.columns if self.phenotypes[c].notna().sum() >= 10]

    def __repr__(self) -> str:
        rel = f", loadings from {self.relationship_source}" if self.relationship is not None else ""
        return (f"QuantitativeData({self.name!r}, n={self.n_samples}, markers={self.n_markers}, "
                f"traits={len(self.trait_names)}{rel})")

    def trait_table(self) -> pd.DataFrame:
        """Per trait: observed count, mean, SD, min, max."""
        rows = []
        for c in self.trait_names:
            s = self.phenotypes[c]
            rows.append({"trait": c, "observed": int(s.notna().sum()),
                         "missing": int(s.isna().sum()), "mean": s.mean(), "sd": s.std(),
                         "min": s.min(), "max": s.max()})
        return pd.DataFrame(rows)

    def loadings(self, n_components) -> tuple[np.ndarray, list]:
        """``(n, m)`` loadings of the samples and their names ``L1..Lm``.

        Parameters
        ----------
        n_components : int, "elbow" or "plateau"
            m, the automatic elbow, or the paper's plateau rule (the elbow when there is no
            plateau).

        Raises
        ------
        ConfigError
            No relationship matrix, or m outside 1..(positive rank).
        """
        rel = self.relationship
        if rel is None:
            raise ConfigError("No pedigree or relationship matrix was loaded, so there are no "
                              "loadings; load one or use markers only.")
        m = self.resolve_rank(n_components)
        return rel.loadings[self.loading_rows, :m].astype(np.float32), rel.names[:m]

    def resolve_rank(self, n_components) -> int:
        """The integer m for ``"elbow"``, ``"plateau"`` or an int (checked)."""
        rel = self.relationship
        if rel is None:
            raise ConfigError("No relationship matrix loaded.")
        if n_components == "elbow":
            return int(rel.elbow)
        if n_components == "plateau":
            return int(rel.plateau or rel.elbow)
        if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer):
            raise ConfigError(f"rank m: 'elbow', 'plateau' or an integer, got {n_components!r}.")
        m = int(n_components)
        if not 1 <= m <= rel.n_components:
            raise ConfigError(f"rank m: must be in 1..{rel.n_components} (the positive rank of "
                              f"the relationship matrix), got {m}.")
        return m


def _match_rows(sample_ids: pd.DataFrame, ids: pd.DataFrame, where: str) -> np.ndarray:
    """Rows of ``ids`` (FID/IID or IID) for each sample; matched on (FID, IID), else IID."""
    if "FID" in ids.columns:
        key_s = sample_ids["FID"].astype(str) + "\x1f" + sample_ids["IID"].astype(str)
        key_i = ids["FID"].astype(str) + "\x1f" + ids["IID"].astype(str)
        pos = pd.Index(key_i.to_numpy()).get_indexer(key_s.to_numpy())
        if (pos >= 0).all():
            return pos.astype(np.int64)
    iid_index = pd.Index(ids["IID"].astype(str).to_numpy())
    if not iid_index.is_unique:
        raise InputDataError(f"{where}: IIDs repeat, so individuals cannot be matched by IID.")
    pos = iid_index.get_indexer(sample_ids["IID"].astype(str).to_numpy())
    if (pos < 0).any():
        miss = sample_ids.loc[pos < 0, "IID"].astype(str).tolist()
        raise InputDataError(
            f"{where}: {len(miss)} of {len(sample_ids)} genotyped individuals are not in it "
            f"(e.g. {', '.join(miss[:5])}). The pedigree/GRM ids must equal the .fam IIDs."
        )
    return pos.astype(np.int64)


def load_quantitative_data(
    bed,
    *,
    phenotypes,
    pedigree=None,
    grm=None,
    relationship_scope: str = "all",
    pedigree_options: dict | None = None,
    name: str | None = None,
    max_bytes: float = 4e9,
) -> QuantitativeData:
    """Load genotypes, quantitative traits and (optionally) relationship loadings.

    Parameters
    ----------
    bed : str or path-like
        PLINK 1 prefix or any of the .bed/.bim/.fam paths.
    phenotypes : str, path-like or pandas.DataFrame
        Table keyed by FID/IID (see :func:`genoapp.io.read_sample_table`); its numeric
        columns are the candidate traits.
    pedigree : str, path-like or pandas.DataFrame, optional
        Pedigree (id, sire, dam); A is built by Henderson's method
        (:func:`genoapp.features.pedigree.additive_relationship`). Ids must be the IIDs.
    grm : str or path-like, optional
        A GCTA binary GRM prefix (``.grm.bin`` + ``.grm.id``) instead of a pedigree.
    relationship_scope : {"all", "genotyped"}, default "all"
        Decompose A over every individual of the pedigree and take the genotyped rows
        (DESIGN §4.2, the paper), or over the genotyped individuals only (smaller, faster;
        then ``L L^T`` reproduces their A block exactly). A GRM is always used whole.
    pedigree_options : dict, optional
        Passed to :func:`genoapp.io.pedigree.read_pedigree` (``missing_parents``,
        ``allow_selfing``, ``check_sex``).
    name : str, optional
    max_bytes : float, default 4e9
        Refuse to load more genotype bytes (float32) than this; thin or QC the markers first.

    Returns
    -------
    QuantitativeData

    Raises
    ------
    InputDataError
        Bad files, no numeric trait, individuals missing from the pedigree/GRM.
    ConfigError
        Both a pedigree and a GRM, a bad scope, too many genotypes.
    """
    from genoapp.cohort import Cohort
    from genoapp.io.grm import read_grm
    from genoapp.io.pedigree import read_pedigree

    if pedigree is not None and grm is not None:
        raise ConfigError("Give a pedigree or a GRM, not both.")
    if relationship_scope not in ("all", "genotyped"):
        raise ConfigError(f"relationship_scope: 'all' or 'genotyped', got {relationship_scope!r}.")
    cohort = Cohort.from_files(bed, phenotypes=phenotypes, name=name)
    n, m = cohort.n_samples, cohort.n_variants
    if 4.0 * n * m > max_bytes:
        raise ConfigError(
            f"{n:,} samples x {m:,} markers need {4.0 * n * m / 1e9:.1f} GB as float32 (limit "
            f"{max_bytes / 1e9:.1f} GB). Thin or QC the markers first (e.g. plink --maf, "
            "--indep-pairwise) or raise max_bytes."
        )
    samples = cohort.samples[["FID", "IID"]].reset_index(drop=True)
    table_cols = [c for c in cohort.samples.columns
                  if c not in ("sample_index", "FID", "IID", "sex")]
    numeric = [c for c in table_cols if pd.api.types.is_numeric_dtype(cohort.samples[c])]
    if not numeric:
        raise InputDataError(
            "The phenotype table has no numeric column: quantitative traits must be numbers "
            f"(columns found: {', '.join(map(str, table_cols[:10])) or 'none'})."
        )
    phen = cohort.samples[numeric].astype("float64").reset_index(drop=True)
    markers = cohort.genotypes.read(cohort.sample_index, dtype="float32", order="C")
    notes = list(cohort.notes)
    files = {"bed": str(cohort.genotypes.bed_path), "bim": str(cohort.genotypes.bim_path),
             "fam": str(cohort.genotypes.fam_path)}
    if isinstance(phenotypes, str | os.PathLike):
        files["phenotypes"] = str(phenotypes)
    rel = None
    rows = None
    source = ""
    if grm is not None:
        g = read_grm(grm)
        rel = pedigree_loadings(g.matrix, n_components=None, ids=g.ids["IID"])
        rows = _match_rows(samples, g.ids, f"GRM {g.source}")
        source = f"GRM {Path(g.source).name} ({g.n:,} individuals)"
        files["grm"] = f"{g.source}.grm.bin"
    elif pedigree is not None:
        ped = read_pedigree(pedigree, **(pedigree_options or {}))
        notes.extend(ped.notes)
        iids = samples["IID"].astype(str).tolist()
        if relationship_scope == "genotyped":
            A = additive_relationship(ped, individuals=iids)
            rel = pedigree_loadings(A, n_components=None, ids=iids)
            rows = np.arange(len(iids), dtype=np.int64)
        else:
            ped.index(iids, what="genotyped individuals")  # readable error if some are absent
            A = additive_relationship(ped)
            rel = pedigree_loadings(A, n_components=None, ids=ped.ids)
            rows = _match_rows(samples, pd.DataFrame({"IID": rel.ids}), f"pedigree {ped.source}")
        source = (f"pedigree {ped.source} (A over {A.shape[0]:,} "
                  f"{'genotyped ' if relationship_scope == 'genotyped' else ''}individuals)")
        if isinstance(pedigree, str | os.PathLike):
            files["pedigree"] = str(pedigree)
    return QuantitativeData(name=cohort.name, samples=samples, phenotypes=phen, markers=markers,
                            marker_names=cohort.variants["id"].astype(str).tolist(),
                            relationship=rel, loading_rows=rows, relationship_source=source,
                            files=files, notes=notes)


def build_inputs(data: QuantitativeData, *, input_set: str = "markers",
                 n_components="elbow") -> tuple[np.ndarray, list, np.ndarray]:
    """Model inputs ``X`` for an input set.

    Parameters
    ----------
    data : QuantitativeData
    input_set : {"markers", "markers + loadings"}
    n_components : int, "elbow" or "plateau"
        Rank m of the loadings (with loadings only).

    Returns
    -------
    X : numpy.ndarray
        ``(n, P)`` float32: ``[L_m, markers]`` or markers (NaN = missing genotype; the CV
        protocol imputes with training-fold means and standardises).
    names : list of str
        ``L1..Lm`` then the marker ids.
    groups : numpy.ndarray
        ``(P,)`` ``"loading"`` or ``"marker"``.
    """
    if input_set not in INPUT_SETS:
        raise ConfigError(f"input_set: one of {INPUT_SETS}, got {input_set!r}.")
    if input_set == "markers":
        return (data.markers, list(data.marker_names),
                np.full(data.n_markers, "marker", dtype=object))
    L, lnames = data.loadings(n_components)
    X = np.concatenate([L, data.markers], axis=1)
    groups = np.array(["loading"] * L.shape[1] + ["marker"] * data.n_markers, dtype=object)
    return X, [*lnames, *data.marker_names], groups


# ---------------------------------------------------------------------------------------- models
def _load_class(target: str):
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def available_models() -> dict:
    """Which models can run here.

    Returns
    -------
    dict
        Model name -> None when available, else the reason (e.g. a module that is missing).
    """
    out = {}
    for name, info in MODELS.items():
        if info["target"] is None:
            out[name] = None
            continue
        try:
            _load_class(info["target"])
            out[name] = None
        except (ImportError, AttributeError) as exc:
            out[name] = f"{name} is not available ({type(exc).__name__}: {exc})."
    return out


def model_specs(names: Sequence[str], *, config: CVConfig = PRESETS["app"],
                grvsnn_params: dict | None = None,
                model_params: dict | None = None) -> tuple[list[ModelSpec], dict]:
    """Model specs for :func:`genoapp.train.cv.cross_validate`.

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`MODELS`.
    config : CVConfig
        GRVSNN's search ranges and threshold come from it.
    grvsnn_params : dict, optional
        Fixed GRVSNN parameters (``n_hidden``, ``gate``, ``importance_scale``, ``device``).
    model_params : dict, optional
        Model name -> constructor keyword arguments for the baselines (e.g. fewer Gibbs
        iterations for a quick look: ``{"BRR": {"n_iter": 1500, "burn_in": 500}}``).

    Returns
    -------
    specs : list of ModelSpec
        The available models, in the order given.
    skipped : dict
        Model name -> reason, for models that are unknown or cannot be imported.
    """
    specs, skipped = [], {}
    avail = available_models()
    for name in names:
        if name not in MODELS:
            skipped[name] = f"unknown model {name!r}; known: {', '.join(MODELS)}."
            continue
        if avail[name] is not None:
            skipped[name] = avail[name]
            continue
        info = MODELS[name]
        if info["target"] is None:
            specs.append(grvsnn_spec(name, **(grvsnn_params or {})))
            continue
        cls = _load_class(info["target"])
        kw = dict((model_params or {}).get(name, {}))

        def make(seed, _cls=cls, _kw=kw):
            return _cls(**{**_kw, "random_state": int(seed)})

        specs.append(ModelSpec(name=name, make=make, multi_trait=False))
    return specs, skipped


# ---------------------------------------------------------------------------------------- runs
@dataclasses.dataclass(repr=False)
class QuantitativeRun:
    """Results of :func:`run_quantitative`.

    Attributes
    ----------
    results : dict
        Input set ("markers", "markers + loadings") -> :class:`~genoapp.train.cv.CVResult`.
    traits : list of str
    models : list of str
        Models that ran.
    skipped : dict
        Model name -> reason it did not run.
    n_components : int or None
        Rank m of the loadings used (None without loadings).
    config : CVConfig
    folds : list of Fold
    data_name : str
    sample_ids : pandas.DataFrame
        FID/IID of the rows (to label predictions).
    record : dict
        Versions, device, seeds, input files, timing.
    stopped : bool
    """

    results: dict
    traits: list
    models: list
    skipped: dict
    n_components: int | None
    config: CVConfig
    folds: list
    data_name: str
    sample_ids: pd.DataFrame
    record: dict
    stopped: bool = False

    def __repr__(self) -> str:
        return (f"QuantitativeRun({self.data_name!r}, inputs={list(self.results)}, "
                f"models={self.models}, traits={self.traits}, stopped={self.stopped})")

    def summary(self) -> pd.DataFrame:
        """Mean and SD over folds per input set, model and trait (paper Tables 1-4)."""
        parts = []
        for inputs, res in self.results.items():
            s = res.summary()
            s.insert(0, "inputs", inputs)
            parts.append(s)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def table(self) -> pd.DataFrame:
        """The summary as readable "mean ± SD" text, one row per input set, model and trait."""
        s = self.summary()
        if s.empty:
            return s

        def pm(mean, sd, digits=3):
            if pd.isna(mean):
                return "–"
            return f"{mean:.{digits}f} ± {sd:.{digits}f}" if pd.notna(sd) else f"{mean:.{digits}f}"

        def count(v):
            return "–" if pd.isna(v) else f"{v:.1f}"

        return pd.DataFrame({
            "inputs": s["inputs"], "model": s["model"], "trait": s["trait"], "folds": s["folds"],
            "MSE": [pm(a, b) for a, b in zip(s["mse_mean"], s["mse_sd"], strict=True)],
            "Pearson r": [pm(a, b) for a, b in zip(s["r_mean"], s["r_sd"], strict=True)],
            "dCor": [pm(a, b) for a, b in zip(s["dcor_mean"], s["dcor_sd"], strict=True)],
            "selected markers": [count(v) for v in s["n_selected_markers_mean"]],
            "selected loadings": [count(v) for v in s["n_selected_loadings_mean"]],
            "seconds per fit": [f"{v:.1f}" for v in s["seconds_mean"]],
        })

    def scores(self) -> pd.DataFrame:
        """Per-fold scores of every input set (``inputs`` column added)."""
        parts = []
        for inputs, res in self.results.items():
            s = res.scores.copy()
            s.insert(0, "inputs", inputs)
            parts.append(s)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def predictions(self) -> pd.DataFrame:
        """Test-fold predictions of every input set with the samples' FID and IID."""
        parts = []
        for inputs, res in self.results.items():
            p = res.predictions.copy()
            p.insert(0, "inputs", inputs)
            rows = p["row"].to_numpy(dtype=np.int64)
            p.insert(5, "FID", self.sample_ids["FID"].to_numpy()[rows])
            p.insert(6, "IID", self.sample_ids["IID"].to_numpy()[rows])
            parts.append(p)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _versions() -> dict:
    import sklearn
    import torch

    out = {"python": platform.python_version(), "numpy": np.__version__,
           "pandas": pd.__version__, "scikit-learn": sklearn.__version__,
           "torch": torch.__version__}
    from genoapp import __version__

    out["genoapp"] = __version__
    try:
        import optuna

        out["optuna"] = optuna.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def run_quantitative(
    data: QuantitativeData,
    *,
    traits: Sequence[str],
    models: Sequence[str] = ("GRVSNN", "Ridge (GBLUP)"),
    input_sets: Sequence[str] = INPUT_SETS,
    config: CVConfig = PRESETS["app"],
    n_components="elbow",
    folds: Sequence[Fold] | None = None,
    grvsnn_params: dict | None = None,
    model_params: dict | None = None,
    progress: Callable[[dict], None] | None = None,
    stop=None,
    callbacks=(),
) -> QuantitativeRun:
    """Cross-validate the chosen models on the chosen traits and input sets.

    Every model and input set uses the same outer folds, so their scores are paired.

    Parameters
    ----------
    data : QuantitativeData
    traits : sequence of str
        Numeric phenotype columns (:attr:`QuantitativeData.trait_names`).
    models : sequence of str
        Keys of :data:`MODELS`; unavailable ones are skipped with a reason.
    input_sets : sequence of str
        Subset of :data:`INPUT_SETS`; "markers + loadings" needs a pedigree or GRM.
    config : CVConfig
        Protocol (``PRESETS["app"]`` or ``PRESETS["paper"]``).
    n_components : int, "elbow" or "plateau"
        Rank m of the loadings.
    folds : sequence of Fold, optional
        Outer folds (default: repeated k-fold from ``config``).
    grvsnn_params, model_params : dict, optional
        See :func:`model_specs`.
    progress : callable, optional
        As in :func:`~genoapp.train.cv.cross_validate`, plus ``inputs``,
        ``overall_done``/``overall_total`` over all input sets and ``run`` (a
        :class:`QuantitativeRun` of the fits done so far, marked ``stopped``, to keep when
        the run is interrupted).
    stop : object with ``should_stop()`` or callable, optional
    callbacks : sequence of Callback
        Training callbacks for GRVSNN.

    Returns
    -------
    QuantitativeRun

    Raises
    ------
    ConfigError
        No trait, unknown trait or input set, loadings without a relationship matrix, no
        available model.
    """
    traits = list(traits)
    if not traits:
        raise ConfigError("Choose at least one trait.")
    unknown = [t for t in traits if t not in data.trait_names]
    if unknown:
        raise ConfigError(f"Unknown or almost empty traits {unknown}; numeric traits with at "
                          f"least 10 values: {', '.join(data.trait_names[:20])}.")
    input_sets = list(input_sets)
    bad = [s for s in input_sets if s not in INPUT_SETS]
    if bad or not input_sets:
        raise ConfigError(f"input_sets: choose from {INPUT_SETS}; got {input_sets}.")
    if "markers + loadings" in input_sets and data.relationship is None:
        raise ConfigError("'markers + loadings' needs a pedigree or a relationship matrix (GRM); "
                          "load one or choose markers only.")
    specs, skipped = model_specs(models, config=config, grvsnn_params=grvsnn_params,
                                 model_params=model_params)
    if not specs:
        raise ConfigError(f"None of the chosen models can run: {skipped}.")
    m = data.resolve_rank(n_components) if "markers + loadings" in input_sets else None
    Y = data.phenotypes[traits].to_numpy(dtype=np.float64)
    keep = np.isfinite(Y).any(axis=1)
    rows = np.flatnonzero(keep)
    if folds is None:
        folds = repeated_kfold(rows.size, n_splits=config.n_splits, n_repeats=config.n_repeats,
                               random_state=config.random_state)
        folds_rows = [Fold(f.repeat, f.fold, rows[f.train_idx], rows[f.test_idx]) for f in folds]
    else:
        folds_rows = [Fold(f.repeat, f.fold, np.asarray(f.train_idx)[keep[f.train_idx]],
                           np.asarray(f.test_idx)[keep[f.test_idx]]) for f in folds]
    per_set = len(folds_rows) * sum(1 if s.multi_trait else len(traits) for s in specs)
    overall_total = per_set * len(input_sets)
    results: dict = {}
    t0 = time.perf_counter()
    stopped = False
    for k, inputs in enumerate(input_sets):
        X, names, groups = build_inputs(data, input_set=inputs, n_components=m or "elbow")

        def relay(event, _k=k, _inputs=inputs):
            if progress is not None:
                partial = QuantitativeRun(
                    results={**results, _inputs: event["result"]}, traits=traits,
                    models=[s.name for s in specs], skipped=skipped, n_components=m,
                    config=config, folds=folds_rows, data_name=data.name,
                    sample_ids=data.samples, record={}, stopped=True)
                progress({**event, "inputs": _inputs, "run": partial,
                          "overall_done": _k * per_set + event["done"],
                          "overall_total": overall_total})

        res = cross_validate(X, Y, models=specs, folds=folds_rows, config=config,
                             traits=traits, feature_names=names, feature_groups=groups,
                             progress=relay, stop=stop, callbacks=callbacks)
        results[inputs] = res
        if res.stopped:
            stopped = True
            break
    device = (grvsnn_params or {}).get("device", "auto")
    try:
        from genoapp.train.device import device_description

        dev = device_description(device)
    except Exception:  # noqa: BLE001 - the record must not fail the run
        dev = str(device)
    record = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - t0,
        "versions": _versions(),
        "device": dev,
        "data": {"name": data.name, "n_samples": data.n_samples, "n_markers": data.n_markers,
                 "relationship": data.relationship_source, "files": dict(data.files)},
        "traits": traits,
        "models": [s.name for s in specs],
        "skipped": skipped,
        "input_sets": list(results),
        "n_components": m,
        "elbow": None if data.relationship is None else int(data.relationship.elbow),
        "plateau": None if data.relationship is None else data.relationship.plateau,
        "config": config.to_dict(),
        "grvsnn_params": dict(grvsnn_params or {}),
        "model_params": {k: dict(v) for k, v in (model_params or {}).items()},
        "folds": len(folds_rows),
        "stopped": stopped,
    }
    return QuantitativeRun(results=results, traits=traits, models=[s.name for s in specs],
                           skipped=skipped, n_components=m, config=config, folds=folds_rows,
                           data_name=data.name, sample_ids=data.samples, record=record,
                           stopped=stopped)


def _sha256(path: str) -> str | None:
    p = Path(path)
    if not p.is_file():
        return None
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_run(run: QuantitativeRun, directory, *, hash_inputs: bool = True) -> Path:
    """Write a run directory: ``record.json``, ``config.json`` and the tables as CSV.

    Files: ``record.json`` (versions, device, data, input-file sha256, timing, skipped
    models), ``config.json`` (protocol), ``summary.csv``, ``table.csv`` (mean ± SD text),
    ``scores.csv`` (per fold), ``predictions.csv``, ``tuning.csv`` (Optuna trials) and
    ``importance_<inputs>_<model>.csv`` per model with importances or selections. Each file
    is written to a temporary name and renamed.

    Parameters
    ----------
    run : QuantitativeRun
    directory : str or path-like
        Created if needed; existing files of the same names are replaced.
    hash_inputs : bool, default True
        Add the sha256 of every input file to the record.

    Returns
    -------
    pathlib.Path
        The directory.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    record = json.loads(json.dumps(run.record, default=str))
    if hash_inputs:
        record["data"]["sha256"] = {k: _sha256(v) for k, v in record["data"]["files"].items()}
    _atomic_write(out / "record.json", json.dumps(record, indent=2).encode())
    _atomic_write(out / "config.json", json.dumps(run.config.to_dict(), indent=2).encode())
    tables = {"summary.csv": run.summary(), "table.csv": run.table(), "scores.csv": run.scores(),
              "predictions.csv": run.predictions()}
    tuning = [r.tuning.assign(inputs=k) for k, r in run.results.items() if len(r.tuning)]
    if tuning:
        tables["tuning.csv"] = pd.concat(tuning, ignore_index=True)
    for inputs, res in run.results.items():
        for model, trait in res.importance_models():
            slug = "".join(c if c.isalnum() else "_" for c in f"{inputs}_{model}_{trait}")
            tables[f"importance_{slug}.csv"] = res.importance(model, trait)
    for name, df in tables.items():
        _atomic_write(out / name, df.to_csv(index=False).encode())
    return out
