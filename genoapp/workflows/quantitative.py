"""The quantitative-trait analysis: cohort + relationships -> inputs -> the one protocol.

Used by the "Quantitative traits" page, the CLI (``kind: quantitative``) and the benchmarks, so
all of them run the same code (DESIGN §4.2, §4.5):

1. :func:`load_quantitative_data`: a PLINK fileset and a phenotype table as a
   :class:`~genoapp.cohort.Cohort`, with (optionally) the loadings of a pedigree (A by
   Henderson's method) or of a GCTA GRM attached (``cohort.relationship``): the matrix is
   decomposed once (``L = Q sqrt(Lambda)``, all components kept) so the user can change the
   rank m without recomputing; the rows of the genotyped individuals are matched by IID.
2. :func:`build_inputs`: ``X = [L_m, markers]`` or markers only, with input names and groups.
3. :func:`run_quantitative`: the outer cross-validation of
   :func:`~genoapp.workflows.protocol.run_protocol` (task "regression") for the chosen
   models, traits and input sets ("markers", "markers + loadings"), on the same folds for
   every model and input set.

The built-in example (:func:`demo_paths`) is a copy of the BGLR mice data (GPL-3) in
``assets/quantitative/mice``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.cohort import Cohort
from genoapp.errors import ConfigError, InputDataError
from genoapp.features.covariates import (
    COVARIATE_GROUP,
    fit_covariate_inputs,
    no_dropped_rows,
)
from genoapp.features.pedigree import additive_relationship, pedigree_loadings
from genoapp.logs import get_logger
from genoapp.train.splits import OuterFold, repeated_kfold
from genoapp.workflows.presets import protocol_config
from genoapp.workflows.protocol import ProtocolConfig, ProtocolResult, run_protocol
from genoapp.workflows.registry import MODEL_NAMES, available_models, model_key, model_specs

__all__ = [
    "APP_DEFAULT_INPUTS",
    "DEMO_TRAITS",
    "INPUT_SETS",
    "best_baseline",
    "build_inputs",
    "demo_paths",
    "load_quantitative_data",
    "loadings",
    "paired_comparison",
    "resolve_rank",
    "results_table",
    "run_quantitative",
    "trait_table",
]

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "quantitative" / "mice"
#: Traits of the built-in mice example (the GRVSNN paper's mouse traits).
DEMO_TRAITS = ("Obesity.BodyLength", "Obesity.BMI")
#: Input sets: markers only, or pedigree loadings and markers (paper Tables 1-4).
INPUT_SETS = ("markers", "markers + loadings")
#: Input sets selected by default on the page when a relationship matrix is loaded.
APP_DEFAULT_INPUTS = ("markers + loadings",)
_log = get_logger(__name__)


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
    covariates=None,
    pedigree=None,
    grm=None,
    relationship_scope: str = "all",
    pedigree_options: dict | None = None,
    name: str | None = None,
    max_bytes: float = 4e9,
    read_options=None,
) -> Cohort:
    """Load genotypes, quantitative traits and (optionally) relationship loadings.

    Parameters
    ----------
    bed : str or path-like
        PLINK 1 prefix or any of the .bed/.bim/.fam paths, or a VCF/BCF, .pgen or BGEN file
        (:func:`genoapp.io.open_genotypes`).
    phenotypes : str, path-like or pandas.DataFrame
        Table keyed by FID/IID (see :func:`genoapp.io.read_sample_table`); its numeric
        columns are the candidate traits (``cohort.trait_names``).
    covariates : str, path-like or pandas.DataFrame, optional
        Covariate table keyed by FID/IID (sex, batch, litter...); its columns join the sample
        table (candidate covariates of :func:`run_quantitative`), not the traits.
    pedigree : str, path-like or pandas.DataFrame, optional
        Pedigree (id, sire, dam); A is built by Henderson's method
        (:func:`genoapp.features.pedigree.additive_relationship`). Ids must be the IIDs.
    grm : str or path-like, optional
        A GCTA binary GRM prefix (``.grm.bin`` + ``.grm.id``) instead of a pedigree.
    relationship_scope : {"all", "genotyped"}, default "all"
        Decompose A over every individual of the pedigree and take the genotyped rows
        (DESIGN §4.2, the paper), or over the genotyped individuals only (smaller, faster;
        then ``L L^T`` reproduces their A block exactly). A GRM is always used whole. The
        automatic ranks (elbow, plateau) belong to the matrix decomposed: a GRM holding the A
        of the genotyped individuals gives the same ranks as ``"genotyped"``, not as
        ``"all"`` (on the PIC pig pedigree with its 3,534 phenotyped animals as the genotyped
        ones: elbow 122 over all 6,473 animals, 97 over the 3,534).
    pedigree_options : dict, optional
        Passed unchanged to :func:`genoapp.io.pedigree.read_pedigree` (``missing_parents``,
        ``allow_selfing``, ``check_sex``, ``species``: ``{"species": "plant"}`` for
        monoecious species, where one individual can be both sire and dam).
    name : str, optional
    max_bytes : float, default 4e9
        Refuse more genotype bytes (float32) than this; thin or QC the markers first.
    read_options : genoapp.io.ReadOptions or dict, optional
        How a VCF/BCF, .pgen or BGEN file is read (see :class:`genoapp.io.ReadOptions`).

    Returns
    -------
    Cohort
        All .fam samples; ``relationship`` (full-rank
        :class:`~genoapp.features.pedigree.RelationshipLoadings` with eigenvalues, elbow and
        plateau), ``loading_rows``, ``relationship_source`` and ``files`` set.

    Raises
    ------
    InputDataError
        Bad files, no numeric trait, individuals missing from the pedigree/GRM.
    ConfigError
        Both a pedigree and a GRM, a bad scope, too many genotypes.
    """
    from genoapp.io.grm import read_grm
    from genoapp.io.pedigree import read_pedigree

    if pedigree is not None and grm is not None:
        raise ConfigError("Give a pedigree or a GRM, not both.")
    if relationship_scope not in ("all", "genotyped"):
        raise ConfigError(f"relationship_scope: 'all' or 'genotyped', got {relationship_scope!r}.")
    cohort = Cohort.from_files(bed, phenotypes=phenotypes, covariates=covariates, name=name,
                               read_options=read_options)
    n, m = cohort.n_samples, cohort.n_variants
    if 4.0 * n * m > max_bytes:
        raise ConfigError(
            f"{n:,} samples x {m:,} markers need {4.0 * n * m / 1e9:.1f} GB as float32 (limit "
            f"{max_bytes / 1e9:.1f} GB). Thin or QC the markers first (e.g. plink --maf, "
            "--indep-pairwise) or raise max_bytes."
        )
    table_cols = [c for c, k in cohort.column_sources.items() if k == "phenotype"]
    numeric = [c for c in table_cols if pd.api.types.is_numeric_dtype(cohort.samples[c])]
    if not numeric:
        raise InputDataError(
            "The phenotype table has no numeric column: quantitative traits must be numbers "
            f"(columns found: {', '.join(map(str, table_cols[:10])) or 'none'})."
        )
    samples = cohort.samples[["FID", "IID"]]
    notes = list(cohort.notes)
    files = dict(cohort.files)
    rel, rows, source = None, None, ""
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
        source = (f"pedigree {Path(str(ped.source)).name} (A over {A.shape[0]:,} "
                  f"{'genotyped ' if relationship_scope == 'genotyped' else ''}individuals)")
        if not isinstance(pedigree, pd.DataFrame):
            files["pedigree"] = str(pedigree)
    _log.info("quantitative data %s: %d samples, %d markers, traits %s%s", cohort.name, n, m,
              numeric[:10], f", loadings from {source}" if source else "")
    return dataclasses.replace(cohort, relationship=rel, loading_rows=rows,
                               relationship_source=source, files=files, notes=notes)


def trait_table(cohort: Cohort, traits: Sequence[str] | None = None) -> pd.DataFrame:
    """Per trait: observed count, missing count, mean, SD, min, max.

    Parameters
    ----------
    cohort : Cohort
    traits : sequence of str, optional
        Default ``cohort.trait_names``.
    """
    rows = []
    for c in (cohort.trait_names if traits is None else traits):
        s = cohort.samples[c].astype("float64")
        rows.append({"trait": c, "observed": int(s.notna().sum()), "missing": int(s.isna().sum()),
                     "mean": s.mean(), "sd": s.std(), "min": s.min(), "max": s.max()})
    return pd.DataFrame(rows)


def resolve_rank(cohort: Cohort, n_components) -> int:
    """The integer rank m for ``"elbow"``, ``"plateau"`` or an int (checked).

    Raises
    ------
    ConfigError
        No relationship matrix, or m outside 1..(positive rank).
    """
    rel = cohort.relationship
    if rel is None:
        raise ConfigError("No pedigree or relationship matrix was loaded, so there are no "
                          "loadings; load one or use markers only.")
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


def loadings(cohort: Cohort, n_components) -> tuple[np.ndarray, list]:
    """``(n, m)`` float32 loadings of the cohort's samples and their names ``L1..Lm``."""
    m = resolve_rank(cohort, n_components)
    rel = cohort.relationship
    return rel.loadings[cohort.loading_rows, :m].astype(np.float32), list(rel.names[:m])


def build_inputs(cohort: Cohort, *, input_set: str = "markers", n_components="elbow",
                 markers: np.ndarray | None = None) -> tuple[np.ndarray, list, np.ndarray]:
    """Model inputs ``X`` for an input set.

    Parameters
    ----------
    cohort : Cohort
    input_set : {"markers", "markers + loadings"}
    n_components : int, "elbow" or "plateau"
        Rank m of the loadings (with loadings only).
    markers : numpy.ndarray, optional
        ``(n, M)`` dosages already read (``cohort.read_dosages()``).

    Returns
    -------
    X : numpy.ndarray
        ``(n, P)`` float32: ``[L_m, markers]`` or markers (dosages of A1, NaN = missing
        genotype; the protocol imputes with training-fold means and standardises).
    names : list of str
        ``L1..Lm`` then the marker ids.
    groups : numpy.ndarray
        ``(P,)`` ``"loading"`` or ``"marker"``.
    """
    if input_set not in INPUT_SETS:
        raise ConfigError(f"input_set: one of {INPUT_SETS}, got {input_set!r}.")
    G = cohort.read_dosages() if markers is None else markers
    ids = cohort.variants["id"].astype(str).tolist()
    if input_set == "markers":
        return G, ids, np.full(len(ids), "marker", dtype=object)
    L, lnames = loadings(cohort, n_components)
    X = np.concatenate([L, G], axis=1)
    groups = np.array(["loading"] * L.shape[1] + ["marker"] * len(ids), dtype=object)
    return X, [*lnames, *ids], groups


def run_quantitative(
    cohort: Cohort,
    *,
    traits: Sequence[str],
    models: Sequence[str] = ("grvsnn", "ridge"),
    input_sets: Sequence[str] = INPUT_SETS,
    preset: str = "quick",
    config: ProtocolConfig | None = None,
    n_components="elbow",
    folds: Sequence[OuterFold] | None = None,
    overrides: dict | None = None,
    covariates: Sequence[str] = (),
    covariate_pcs: int = 0,
    callbacks=(),
    on_event=None,
    stop=None,
) -> ProtocolResult:
    """Cross-validate the chosen models on the chosen traits and input sets.

    Every model and input set uses the same outer folds, so their scores are paired.

    Parameters
    ----------
    cohort : Cohort
        From :func:`load_quantitative_data`.
    traits : sequence of str
        Numeric phenotype columns (``cohort.trait_names``).
    models : sequence of str
        Model keys or names of :data:`genoapp.workflows.registry.QUANTITATIVE_MODELS`;
        unavailable ones are skipped with a reason (``result.info["skipped"]``).
    input_sets : sequence of str
        Subset of :data:`INPUT_SETS`; "markers + loadings" needs a pedigree or GRM.
    preset : {"quick", "paper"}
        Model settings and protocol (:mod:`genoapp.workflows.presets`).
    config : ProtocolConfig, optional
        Replaces the preset's protocol (task "regression").
    n_components : int, "elbow" or "plateau"
        Rank m of the loadings.
    folds : sequence of OuterFold, optional
        Outer folds (default: repeated k-fold from ``config`` over the samples with at least
        one observed trait).
    overrides : dict of key -> dict, optional
        Fixed model parameters (e.g. ``{"grvsnn": {"n_hidden": 32}, "brr": {"n_iter": 1500}}``).
    covariates : sequence of str, default ()
        Sample-table columns (e.g. of the covariate table: sex, litter, batch) appended to
        every input set as model inputs, group ``"covariate"``, named as
        :func:`genoapp.features.covariate_design` codes them: numeric as they are, categorical
        one-hot against the most frequent level. The levels are fixed on the samples with a
        trait (label-free: covariate values only; a level absent from a training fold is a
        constant column there, which the fold's standardisation sets to 0); the columns are
        standardised inside every training fold with the other inputs (``FoldScaler``).
        Samples lacking a covariate value are left out of every fold (counted in ``notes``,
        listed in ``result.covariates.dropped``).
    covariate_pcs : int, default 0
        Also append this many PCs of the markers (``PC1``...): a PCA
        (:class:`~genoapp.features.AllPCA`, centred dosages) of the samples with a trait and
        every covariate. Like the pedigree loadings it is label-free and uses every such
        sample, test folds included (no trait value enters it).
    callbacks, on_event, stop
        Passed to :func:`~genoapp.workflows.protocol.run_protocol`.

    Returns
    -------
    ProtocolResult
        Task "regression"; ``info`` holds ``n_components``, ``elbow``, ``plateau``,
        ``relationship``, ``skipped``, ``data`` (and ``covariates``, the coding's description,
        with covariates); ``covariates`` is the fitted
        :class:`~genoapp.features.CovariateInputs` (None without covariates).

    Raises
    ------
    ConfigError
        No trait, unknown trait or input set, loadings without a relationship matrix, no
        available model, ``covariate_pcs`` < 0.
    InputDataError
        A covariate that is not a column of the sample table, or too few samples with every
        covariate.
    """
    traits = list(traits)
    if not traits:
        raise ConfigError("Choose at least one trait.")
    unknown = [t for t in traits if t not in cohort.trait_names]
    if unknown:
        raise ConfigError(f"Unknown or almost empty traits {unknown}; numeric traits with at "
                          f"least 10 values: {', '.join(cohort.trait_names[:20])}.")
    input_sets = list(input_sets)
    bad = [s for s in input_sets if s not in INPUT_SETS]
    if bad or not input_sets:
        raise ConfigError(f"input_sets: choose from {INPUT_SETS}; got {input_sets}.")
    if "markers + loadings" in input_sets and cohort.relationship is None:
        raise ConfigError("'markers + loadings' needs a pedigree or a relationship matrix (GRM); "
                          "load one or choose markers only.")
    keys = [model_key(m) for m in models]
    avail = available_models("regression")
    skipped = {MODEL_NAMES[k]: avail[k] for k in keys if avail.get(k)}
    keys = [k for k in keys if not avail.get(k)]
    if not keys:
        raise ConfigError(f"None of the chosen models can run: {skipped}.")
    specs = model_specs(keys, task="regression", preset=preset, overrides=overrides)
    config = config or protocol_config(preset, "regression")
    if config.task != "regression":
        raise ConfigError("run_quantitative: the protocol config must have task='regression'.")
    m = resolve_rank(cohort, n_components) if "markers + loadings" in input_sets else None
    Y = cohort.samples[traits].to_numpy(dtype=np.float64)
    rows = np.flatnonzero(np.isfinite(Y).any(axis=1))
    covariates = tuple(dict.fromkeys(str(c) for c in (covariates or ())))
    G = cohort.read_dosages()
    cov = Xc = None
    cov_notes: list[str] = []
    if covariates or covariate_pcs:
        clash = [c for c in covariates if c in traits]
        if clash:
            raise ConfigError(f"{', '.join(clash)}: chosen both as trait and as covariate.")
        cov = fit_covariate_inputs(cohort.samples, covariates, rows=rows, snps=G,
                                   n_pcs=int(covariate_pcs), standardize=False,
                                   random_state=config.random_state)
        enc = cov.encode(cohort.samples if covariates else None, G if cov.n_pcs else None)
        cov_notes = [f"Covariates as inputs (coded on the {cov.n_fit:,} samples with a trait "
                     f"and every covariate): {n}" for n in cov.notes]
        lost = rows[~enc.complete[rows]]
        cov.dropped = no_dropped_rows()
        if lost.size:
            miss = enc.missing.to_numpy()[lost]
            per = ", ".join(f"{c}: {sum(c in q.split(', ') for q in miss):,}" for c in covariates
                            if any(c in q.split(', ') for q in miss))
            cov.dropped = pd.DataFrame({
                "FID": cohort.samples["FID"].to_numpy()[lost],
                "IID": cohort.samples["IID"].to_numpy()[lost], "missing_covariates": miss,
                "set": ""})
            rows = rows[enc.complete[rows]]
            cov_notes.append(f"Covariates as inputs: {lost.size:,} samples with a trait lack a "
                             f"covariate value ({per}) and were left out of every fold "
                             f"({rows.size:,} used); their IDs are "
                             "ProtocolResult.covariates.dropped.")
        Xc = np.where(enc.complete[:, None], enc.X, np.float32(0.0)).astype(np.float32)
    if folds is None:
        folds = repeated_kfold(len(Y), n_splits=config.n_splits, n_repeats=config.n_repeats,
                               random_state=config.random_state, rows=rows)
    else:
        keep = np.zeros(len(Y), dtype=bool)
        keep[rows] = True
        folds = [dataclasses.replace(f, train_idx=np.asarray(f.train_idx)[keep[f.train_idx]],
                                     test_idx=np.asarray(f.test_idx)[keep[f.test_idx]])
                 for f in folds]
    inputs, names, groups = {}, {}, {}
    for s in input_sets:
        X, nm, gr = build_inputs(cohort, input_set=s, n_components=m or "elbow", markers=G)
        if cov is not None and cov.n_columns:
            X = np.ascontiguousarray(np.column_stack([np.asarray(X, dtype=np.float32), Xc]))
            nm = [*nm, *cov.columns]
            gr = np.concatenate([np.asarray(gr, dtype=object),
                                 np.full(cov.n_columns, COVARIATE_GROUP, dtype=object)])
        inputs[s], names[s], groups[s] = X, nm, gr
    result = run_protocol(inputs, Y, models=specs, outer=folds, config=config, traits=traits,
                          feature_names=names, feature_groups=groups, callbacks=callbacks,
                          on_event=on_event, stop=stop)
    if cov is not None:
        result.covariates = cov
        result.info["covariates"] = cov.describe()
        result.notes[:0] = cov_notes
    rel = cohort.relationship
    result.info.update({
        "n_components": m, "elbow": None if rel is None else int(rel.elbow),
        "plateau": None if rel is None else rel.plateau,
        "relationship": cohort.relationship_source, "skipped": skipped,
        "data": {"name": cohort.name, "n_samples": cohort.n_samples,
                 "n_markers": cohort.n_variants},
    })
    for name, why in skipped.items():
        result.notes.append(f"{name} skipped: {why}")
    return result


def results_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary of a quantitative run as readable "mean ± SD" text (paper Tables 1-4).

    Parameters
    ----------
    summary : pandas.DataFrame
        ``ProtocolResult.summary()`` of a quantitative run.

    Returns
    -------
    pandas.DataFrame
        One row per input set, model and trait: ``inputs``, ``model``, ``trait``, ``folds``,
        ``MSE``, ``Pearson r``, ``dCor`` (mean ± SD over folds), ``selected markers``,
        ``selected loadings`` (mean over folds; "–" for models that do not select) and
        ``seconds per fit``.
    """
    s = summary
    if s.empty:
        return pd.DataFrame(columns=["inputs", "model", "trait", "folds", "MSE", "Pearson r", "dCor",
                                     "selected markers", "selected loadings", "seconds per fit"])

    def count(v):
        return "–" if pd.isna(v) else f"{v:.1f}"

    return pd.DataFrame({
        "inputs": s["input"], "model": s["model"], "trait": s["trait"], "folds": s["n"],
        "MSE": s["mse"], "Pearson r": s["r"], "dCor": s["dcor"],
        "selected markers": [count(v) for v in s["n_selected_markers_mean"]],
        "selected loadings": [count(v) for v in s["n_selected_loadings_mean"]],
        "seconds per fit": [f"{v:.1f}" for v in s["seconds_mean"]],
    })


def paired_comparison(metrics: pd.DataFrame, model: str, other: str, *,
                      metric: str = "r") -> pd.DataFrame:
    """Fold-by-fold comparison of two models of one run (same outer folds, so paired).

    Parameters
    ----------
    metrics : pandas.DataFrame
        ``ProtocolResult.metrics`` of a quantitative run (one row per model, input set, trait
        and outer fold).
    model, other : str
        Display names (``metrics["model"]``), e.g. "GRVSNN" and "Ridge (GBLUP)".
    metric : {"r", "dcor", "mse"}, default "r"

    Returns
    -------
    pandas.DataFrame
        One row per input set and trait where both models were scored: ``input``, ``trait``,
        ``folds`` (paired), ``model_mean``, ``other_mean``, ``difference`` (mean of
        ``model - other`` over folds), ``ci_low``, ``ci_high`` (95 % t interval of that mean,
        :func:`genoapp.metrics.fold_interval`; folds of repeated CV share samples, so it is a
        guide), ``wins`` (folds where ``model`` is better: higher r/dCor, lower MSE) and
        ``verdict`` (plain words).

    Raises
    ------
    ConfigError
        Unknown metric.
    """
    from genoapp.metrics import fold_interval

    if metric not in ("r", "dcor", "mse"):
        raise ConfigError(f"metric: 'r', 'dcor' or 'mse', got {metric!r}.")
    keys = ["input", "trait", "repeat", "fold"]
    a = metrics.loc[metrics["model"] == model, [*keys, metric]]
    b = metrics.loc[metrics["model"] == other, [*keys, metric]]
    both = a.merge(b, on=keys, suffixes=("_a", "_b")).dropna()
    rows = []
    higher = metric != "mse"
    for (inp, trait), g in both.groupby(["input", "trait"], sort=False):
        d = (g[f"{metric}_a"] - g[f"{metric}_b"]).to_numpy()
        lo, hi = fold_interval(d)
        better = d > 0 if higher else d < 0
        if np.isfinite(lo) and (lo > 0 or hi < 0):
            side = (lo > 0) == higher
            verdict = f"{model} {'better' if side else 'worse'} than {other} (interval excludes 0)"
        else:
            verdict = f"no clear difference between {model} and {other} (interval includes 0)"
        rows.append({"input": inp, "trait": trait, "folds": int(d.size),
                     "model_mean": float(g[f"{metric}_a"].mean()),
                     "other_mean": float(g[f"{metric}_b"].mean()),
                     "difference": float(d.mean()), "ci_low": lo, "ci_high": hi,
                     "wins": int(better.sum()), "verdict": verdict})
    return pd.DataFrame(rows, columns=["input", "trait", "folds", "model_mean", "other_mean",
                                       "difference", "ci_low", "ci_high", "wins", "verdict"])


def best_baseline(summary: pd.DataFrame, *, input: str, trait: str,
                  exclude: Sequence[str] = ("grvsnn", "grvsnn_paper", "grvsnn_single")) -> str | None:
    """Display name of the model with the highest mean test r among the others (the
    baselines) for one input set and trait, or None when there is none.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``ProtocolResult.summary()`` of a quantitative run.
    input, trait : str
    exclude : sequence of str
        Registry keys left out (default: the GRVSNN variants).
    """
    s = summary[(summary["input"] == input) & (summary["trait"] == trait)
                & ~summary["key"].isin(list(exclude))]
    s = s[np.isfinite(s["r_mean"])]
    return None if s.empty else str(s.loc[s["r_mean"].idxmax(), "model"])
