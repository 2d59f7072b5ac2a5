"""Capsule insights against a null: the interpretation the Insights page, the report and the
demo benchmark share (DESIGN §4.4, issue "find the signal").

DiseaseCapsule's interpretation (Luo et al. 2023) reads coupling coefficients and one-gene-only
gene scores without asking whether they exceed chance. Here every such result is put beside
networks of the same architecture and settings trained on the same training rows with the
case/control labels permuted (:mod:`genoapp.interpret.null`):

1. :func:`insights_data` finds the network and the inputs it was trained on: for a model of a
   nested input (association filter and Gene-PCA refitted inside the training samples), the
   features of its outer fold's fitted stage for every sample;
2. :func:`capsule_insights` trains the reference networks (refitting the nested stage on their
   permuted labels, so that the selection is part of the null), compares the coupling with
   theirs, scans the genes of all networks, gives every gene an empirical p-value and FDR
   q-value and names the core genes (default: the significant ones), and tests the core genes'
   masked accuracy against random gene sets of the same size, flagging degenerate results;
3. :meth:`CapsuleInsights.save` / :func:`load_insights` keep the tables in a run folder, where
   the HTML report reads them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError
from genoapp.execution import current_executor, use_executor
from genoapp.interpret import (
    core_genes,
    coupling_summary,
    gene_scan,
    one_gene_auc,
    permutation_null,
)
from genoapp.interpret.core import core_genes_against_null
from genoapp.interpret.null import (
    coupling_against_null,
    gene_prediction_null,
    gene_scan_null,
    null_gene_scans,
    null_score_deviations,
    permuted_label_networks,
)
from genoapp.interpret.scan import FeatureTable
from genoapp.workflows.protocol import FittedModel

__all__ = ["GENE_STATISTICS", "default_networks", "default_statistic", "InsightsData", "CapsuleInsights", "insights_data", "capsule_insights",
           "estimate_insights", "load_insights", "INSIGHTS_DIR"]

#: Subfolder of a run folder holding saved insights.
INSIGHTS_DIR = "insights"
#: Gene statistics the core genes can be tested on (:func:`capsule_insights`).
GENE_STATISTICS = ("prediction", "coupling")
#: Pooled null values a default run aims at (references x genes), and its bounds on references.
NULL_VALUES_TARGET, MIN_NETWORKS, MAX_NETWORKS = 100, 3, 20


#: Above this many genes the default gene statistic is the coupling scan (see default_statistic).
PREDICTION_MAX_GENES = 500


def default_statistic(n_genes: int) -> str:
    """The gene statistic of a default run: "prediction" for a network of at most
    :data:`PREDICTION_MAX_GENES` genes (the nested association filter's 5-40), else "coupling".

    The one-gene-only AUC routes every training sample's one-gene input through the network
    (its distinct rows once): for a network on all 6,988 demo genes that took 103 s per
    network on 2 CPU cores (1,337 training samples), against 6 s for the coupling scan of the
    test samples, so for such networks it is offered, with its estimate, not run by default.
    """
    return "prediction" if int(n_genes) <= PREDICTION_MAX_GENES else "coupling"


def default_networks(n_genes: int) -> int:
    """Permuted-label networks of a default run for a network of ``n_genes`` genes.

    Enough references for about :data:`NULL_VALUES_TARGET` pooled null values (the
    generalised Pareto tail of :func:`~genoapp.interpret.null.gene_scan_null` needs 80), at
    least 3 and at most 20: a network given the 15 genes of a nested filter gets 7, one given
    every gene 3. With R references and G genes no p-value can fall below 1 / (1 + R G)
    before the tail is fitted, so with 3 networks and 5 genes no gene could ever be significant.
    """
    g = max(1, int(n_genes))
    return int(min(MAX_NETWORKS, max(MIN_NETWORKS, -(-NULL_VALUES_TARGET // g))))


@dataclasses.dataclass
class InsightsData:
    """The network to interpret and its inputs.

    Attributes
    ----------
    model : DiseaseCapsuleClassifier
        The fitted network (unwrapped from its :class:`~genoapp.workflows.protocol.FittedModel`).
    features : FeatureSet or FeatureTable
        The network's inputs for every sample, with labels and split.
    stage : fitted transformer or None
        The nested feature stage of the model's outer fold (None for fixed features).
    raw : numpy.ndarray (n, p) or None
        The stage's input (QC'd dosages, NaN = missing) when there is a stage.
    summary : pandas.DataFrame or None
        Gene locations (``FeatureSet.summary``) for the tables.
    input : str
        Input name in the training result.
    seed : int
    """

    model: object
    features: object
    stage: object = None
    raw: object = None
    summary: pd.DataFrame | None = None
    input: str = ""
    seed: int = 0

    @property
    def n_genes(self) -> int:
        return int(pd.unique(np.asarray(self.features.feature_gene, dtype=object)).size)

    @property
    def universe(self) -> np.ndarray:
        """Every gene the pipeline could have given the network: the genes of the full feature
        set (before a nested association filter kept some), else the network's own genes. The
        set a random selection is drawn from when a recall is compared with chance."""
        own = pd.unique(np.asarray(self.features.feature_gene, dtype=object))
        if self.summary is not None and "gene" in self.summary.columns:
            return pd.unique(np.concatenate([self.summary["gene"].to_numpy(dtype=object), own]))
        return own

    def describe(self) -> str:
        """One line on where the inputs come from."""
        if self.stage is not None and hasattr(self.stage, "describe"):
            return (f"nested input {self.input!r}, seed {self.seed}: the fold's feature stage "
                    f"({self.stage.describe()})")
        return f"input {self.input!r}, seed {self.seed}: {self.n_genes:,} genes"


def insights_data(result, features, *, snps=None, input: str | None = None,
                  seed: int | None = None) -> InsightsData:
    """The DiseaseCapsule network of a training result and the inputs it was trained on.

    Parameters
    ----------
    result : genoapp.workflows.ProtocolResult
        A case/control result that includes the "capsule" model.
    features : genoapp.features.FeatureSet
        The feature set the run was built on (labels, split, gene locations).
    snps : numpy.ndarray (n_samples, n_snps), optional
        The QC'd dosages (NaN = missing) the run was given; needed when the model's input was
        nested (its stage transforms dosages).
    input : str, optional
        Input name (default ``features.input_name`` or the first input with a capsule model).
    seed : int, optional
        Seed of the network (default the first of the run).

    Returns
    -------
    InsightsData

    Raises
    ------
    ConfigError
        No DiseaseCapsule model in the result, a nested model without ``snps``, or models
        trained with covariates as inputs (not interpreted).
    """
    if getattr(result, "covariates", None) is not None:
        raise ConfigError("Capsule insights read the network on Gene-PCA features alone; these "
                          "models were trained with covariates as inputs too. Train without "
                          "covariates to interpret the network.")
    seed = int(result.config.seeds[0]) if seed is None else int(seed)
    names = [input] if input else [getattr(features, "input_name", None), *result.inputs]
    est = None
    for name in names:
        if name is None:
            continue
        est = result.estimator("capsule", name, seed=seed)
        if est is not None:
            input = name
            break
    if est is None:
        raise ConfigError("the training run did not include DiseaseCapsule: train it first.")
    summary = getattr(features, "summary", None)
    if isinstance(est, FittedModel):
        if est.stage is not None:
            if snps is None:
                raise ConfigError("this network's input was rebuilt inside its training samples "
                                  "(nested association filter): pass the QC'd dosages (snps).")
            X = np.ascontiguousarray(est.stage.transform(snps), dtype=np.float32)
            table = FeatureTable(X, np.asarray(est.stage.feature_gene_, dtype=object),
                                 y=features.y, split=features.split)
            return InsightsData(est.model, table, stage=est.stage, raw=snps, summary=summary,
                                input=input, seed=seed)
        est = est.model
    return InsightsData(est, features, summary=summary, input=input, seed=seed)


@dataclasses.dataclass
class CapsuleInsights:
    """Capsule interpretation against permuted-label networks.

    Attributes
    ----------
    coupling : CouplingNull
        Mean coupling deviation from 1/K of the real network and the references (training
        samples) with the verdict.
    coupling_test : CouplingSummary
        Mean coupling on training and test samples (the paper's heatmaps), for the tables.
    k_star : int
        0-based primary type with the strongest case coupling (training samples).
    scan : GeneScanResult
        The real network's one-gene-only scan.
    scan_null : pandas.DataFrame
        The gene test the core genes come from (``settings["statistic"]``):
        :func:`~genoapp.interpret.null.gene_prediction_null` or
        :func:`~genoapp.interpret.null.gene_scan_null` table (rank with ties, z, p, q,
        significant), best first.
    null_values : numpy.ndarray
        Its pooled null values (for the figure).
    scan_coupling : pandas.DataFrame or None
        The one-gene-only coupling scan against the references (the paper's statistic), also
        when the core genes come from the prediction statistic.
    core : CoreGenes
        Core genes by ``rule``.
    core_percentile : CoreGenes
        The paper's rule (95th percentile) beside it, for comparison.
    masked : NullResult or None
        Masked accuracy of the core genes against random gene sets (test samples); None when
        no gene is core.
    n_networks : int
    samples : str
    seconds : float
    settings : dict
    """

    coupling: object
    coupling_test: object
    k_star: int
    scan: object
    scan_null: pd.DataFrame
    null_values: np.ndarray
    core: object
    core_percentile: object
    masked: object
    n_networks: int
    samples: str
    seconds: float
    settings: dict
    scan_coupling: pd.DataFrame | None = None

    def findings(self) -> list[tuple[bool, str]]:
        """``(found, line)`` in plain words for the coupling, the gene scan and the masked
        accuracy; ``found`` is True where the real network exceeds its null."""
        out = [(self.coupling.n_exceeding > 0, f"Coupling: {self.coupling.verdict}.")]
        n_sig = int(self.scan_null["significant"].sum())
        alpha = self.settings.get("alpha", 0.05)
        what = ("Genes (one-gene-only AUC, training samples)"
                if self.settings.get("statistic") == "prediction" else "Gene scan")
        if n_sig:
            out.append((True, f"{what}: {n_sig} of {len(self.scan_null):,} genes stand out "
                              f"from the permuted-label networks (FDR q < {alpha:g})."))
        else:
            n_null = int(self.scan_null.attrs.get("n_null", 0) or 0)
            floor = 1.0 / (1 + n_null) if n_null else 1.0
            if n_null < 80 and floor >= alpha:  # no tail fitted: no q can fall below the floor
                out.append((False, f"{what}: not a test: {n_null} null values (networks x genes) "
                                   f"cannot give any gene q < {alpha:g} (smallest p-value "
                                   f"{floor:.3g}); run more permuted-label networks."))
            else:
                out.append((False, f"{what}: no gene stands out from the permuted-label networks "
                                   f"(FDR q < {alpha:g}), so no gene is significant."))
        m = self.masked
        if m is not None:
            if getattr(m, "degenerate", False):
                out.append((False, f"Masked accuracy: not a test: {m.degenerate_reason}"))
            else:
                out.append((bool(m.p_value < 0.05),
                            f"Masked accuracy of the {int(m.observed['n_genes'])} core genes: "
                            f"{m.observed['accuracy']:.3f} vs {m.mean:.3f} ± {m.sd:.3f} for "
                            f"random gene sets of that size (p = {m.p_value:.3g})."))
        return out

    def verdicts(self) -> list[str]:
        """The lines of :meth:`findings`."""
        return [line for _, line in self.findings()]

    def save(self, folder) -> Path:
        """Write the tables under ``folder/insights`` (a run folder); returns that path.

        Files: ``coupling.csv`` (real and reference networks), ``gene_scan.csv`` (the null
        table), ``core_genes.csv``, ``masked_accuracy.csv`` (observed and random sets, when
        computed) and ``insights.json`` (verdicts, settings, counts).
        """
        from genoapp.fileio import atomic_path

        out = Path(folder) / INSIGHTS_DIR
        out.mkdir(parents=True, exist_ok=True)
        frames = {"coupling.csv": self.coupling.table(), "gene_scan.csv": self.scan_null,
                  "core_genes.csv": self.core.table}
        if self.scan_coupling is not None and self.scan_coupling is not self.scan_null:
            frames["gene_scan_coupling.csv"] = self.scan_coupling
        if self.masked is not None:
            obs = pd.DataFrame([{**self.masked.observed, "set": "core genes"}])
            frames["masked_accuracy.csv"] = pd.concat(
                [obs, self.masked.null.assign(set="random")], ignore_index=True)
        for name, df in frames.items():
            with atomic_path(out / name) as tmp:
                df.to_csv(tmp, index=False)
        info = {"verdicts": self.verdicts(), "k_star": int(self.k_star),
                "n_networks": int(self.n_networks), "samples": self.samples,
                "n_genes": int(len(self.scan_null)), "n_core": int(self.core.n_core),
                "core_rule": self.core.rule, "n_core_percentile": int(self.core_percentile.n_core),
                "n_significant": int(self.scan_null["significant"].sum()),
                "seconds": float(self.seconds), "settings": self.settings,
                "masked_degenerate": bool(getattr(self.masked, "degenerate", False))}
        with atomic_path(out / "insights.json") as tmp:
            Path(tmp).write_text(json.dumps(info, indent=2, default=float))
        return out


def load_insights(run_dir) -> dict | None:
    """Saved insights of a run folder: ``{"info": dict, "<name>": DataFrame, ...}`` or None."""
    folder = Path(run_dir) / INSIGHTS_DIR
    if not (folder / "insights.json").is_file():
        return None
    try:
        out = {"info": json.loads((folder / "insights.json").read_text())}
        for name in ("coupling", "gene_scan", "core_genes", "masked_accuracy"):
            f = folder / f"{name}.csv"
            if f.is_file():
                out[name] = pd.read_csv(f)
    except (OSError, ValueError):
        return None
    return out


def estimate_insights(data: InsightsData, *, n_networks: int | None = None, n_sets: int = 200,
                      samples: str = "test", statistic: str | None = None) -> float:
    """Expected seconds of :func:`capsule_insights` on this machine.

    The real network's own measured epoch times (``history_``) times the epochs the references
    run, plus one feature-stage fit per reference (timed once here when there is a stage),
    ``1 + n_networks`` gene scans on ``samples`` (timed on the real network's first genes) and
    the masked-accuracy null of ``n_sets`` random gene sets on the other samples (timed on a
    few sets; counted as if core genes are found). On a Dask cluster (the current executor,
    :mod:`genoapp.execution`) the references, gene-scan chunks and random sets are spread
    over its workers: those parts are divided by the number of workers (the probes are timed
    in this process, one worker's share).
    """
    if n_networks is None:
        n_networks = default_networks(data.n_genes)
    if statistic is None:
        statistic = default_statistic(data.n_genes)
    ex = current_executor()
    n_w = ex.n_workers if ex.distributed else 1
    hist = getattr(data.model, "history_", None) or []
    per_epoch = float(np.median([h.get("seconds", 0.0) for h in hist])) if hist else 1.0
    epochs = getattr(data.model, "best_epoch_", None) or len(hist) or 10
    # references fit all training rows; the real network's measured epochs may have held out
    # a validation fold (planning rule: 20 % more rows per epoch)
    train = -(-n_networks // n_w) * epochs * per_epoch * 1.2
    stage = 0.0
    if data.stage is not None:
        from sklearn.base import clone

        tr = data.features.rows("train")
        t0 = time.perf_counter()
        clone(data.stage).fit(np.asarray(data.raw)[tr], np.asarray(data.features.y)[tr])
        stage = n_networks * (time.perf_counter() - t0)
    fg = np.asarray(data.features.feature_gene, dtype=object)
    genes = pd.unique(fg)
    n_sub = min(20, genes.size)
    # the same network scanned over its first genes (the others pooled into one): the cost
    # per gene on this machine
    timing = FeatureTable(data.features.X, np.where(np.isin(fg, genes[:n_sub]), fg, "(rest)"),
                          y=data.features.y, split=data.features.split)
    try:
        t0 = time.perf_counter()
        with use_executor(None):
            gene_scan(data.model, timing, samples=samples)
        scan = (time.perf_counter() - t0) * genes.size / (n_sub + 1) * (1 + n_networks) / n_w
    except Exception:  # noqa: BLE001 - an estimate never stops the page
        scan = 0.05 * genes.size * (1 + n_networks)
    if statistic == "prediction":  # one-gene-only AUCs of every network on the training rows
        try:
            t0 = time.perf_counter()
            with use_executor(None):
                one_gene_auc(data.model, timing, samples="train")
            scan += (time.perf_counter() - t0) * genes.size / (n_sub + 1) * (1 + n_networks)
        except Exception:  # noqa: BLE001 - an estimate never stops the page
            scan += 0.05 * genes.size * (1 + n_networks)
    masked = 0.0
    if n_sets and genes.size > 1:
        other = "test" if statistic == "prediction" else "train" if samples == "test" else "test"
        probe = min(5, int(n_sets))
        try:
            t0 = time.perf_counter()
            with use_executor(None):
                permutation_null(data.model, data.features, list(genes[:1]), samples=other,
                                 n_sets=probe, random_state=0)
            masked = (time.perf_counter() - t0) * int(n_sets) / probe / n_w
        except Exception:  # noqa: BLE001 - an estimate never stops the page
            masked = 0.0
    return float(train + stage + scan + masked + 2.0)


def capsule_insights(data: InsightsData, *, n_networks: int | None = None, rule: str = "significant",
                     statistic: str | None = None,
                     percentile: float = 95.0, alpha: float = 0.05, samples: str = "test",
                     dtype: str = "float64", n_sets: int = 200, random_state: int = 0,
                     callbacks: Sequence = (),
                     progress: Callable[[float, str], None] | None = None) -> CapsuleInsights:
    """Coupling, gene scan, core genes and masked accuracy, each against its null.

    Parameters
    ----------
    data : InsightsData
        From :func:`insights_data`.
    n_networks : int, optional
        Permuted-label reference networks R (default :func:`default_networks` of the
        network's number of genes) (:func:`~genoapp.interpret.null.permuted_label_networks`;
        with a nested stage each refits it on its permuted labels).
    rule : {"significant", "percentile", "both"}, default "significant"
        Core genes: FDR-significant against the references (default), the paper's 95th
        percentile, or both (:func:`~genoapp.interpret.core.core_genes_against_null`).
    statistic : {"prediction", "coupling"}, optional
        What each gene is tested on (default :func:`default_statistic` of the network's number
        of genes: "prediction" up to 500 genes). "prediction": the one-gene-only AUC of the network's
        output on the training samples (:func:`~genoapp.interpret.null.gene_prediction_null`),
        where every reference repeated the selection and the fit with its permuted labels;
        the masked accuracy is then measured on the test samples. "coupling": the paper's
        one-gene-only case coupling (:func:`~genoapp.interpret.null.gene_scan_null`) on
        ``samples``. The coupling scan is computed either way (the paper's 95th-percentile
        rule and :attr:`CapsuleInsights.scan_coupling` use it). Why "prediction" is the
        default: on the demo network one-gene-only couplings differ by about 1e-4 and no
        gene beats the references (0 of 15 significant with 10 references, the 9 planted
        additive genes among them ranked 1-15); the one-gene-only AUC marks 7 of them.
    percentile : float, default 95
    alpha : float, default 0.05
        FDR level.
    samples : {"train", "test"}, default "train"
        Samples the coupling and the gene scan average over (the paper: training samples).
    dtype : {"float64", "float32"}, default "float64"
        Arithmetic of the gene scans.
    n_sets : int, default 200
        Random gene sets for the masked-accuracy null (paper: 1,000).
    random_state : int, default 0
    callbacks : sequence of genoapp.train.Callback
        Passed to the reference networks' fits (stop button).
    progress : callable(fraction, message), optional

    Returns
    -------
    CapsuleInsights

    Raises
    ------
    ConfigError
        Bad settings, or the references were stopped before one was trained.
    InputDataError
        No labels.
    """
    if statistic is None:
        statistic = default_statistic(data.n_genes)
    if statistic not in GENE_STATISTICS:
        raise ConfigError(f"statistic: one of {list(GENE_STATISTICS)}, got {statistic!r}.")
    if n_networks is None:
        n_networks = default_networks(data.n_genes)
    t0 = time.perf_counter()

    def part(lo, hi):
        if progress is None:
            return None
        return lambda f, msg: progress(lo + (hi - lo) * float(f), msg)

    feats = data.features
    refs = permuted_label_networks(data.model, feats, n_networks=n_networks, samples="train",
                                   random_state=random_state, stage=data.stage, raw=data.raw,
                                   callbacks=callbacks, progress=part(0.0, 0.6))
    if not refs:
        raise ConfigError("stopped before a permuted-label network was trained; nothing to compare.")
    cnull = coupling_against_null(data.model, feats, refs, samples=samples)
    ctest = coupling_summary(data.model, feats)
    k_star = int(ctest.strongest_case_type) if samples == "train" else int(
        np.argmax(cnull.real[1]))
    scan = gene_scan(data.model, feats, samples=samples, k_star=k_star, dtype=dtype,
                     progress=part(0.6, 0.75))
    nscans = null_gene_scans(refs, feats, samples=samples, dtype=dtype, progress=part(0.75, 0.85))
    coupling_table = gene_scan_null(scan, nscans, alpha=alpha)
    if statistic == "prediction":
        table = gene_prediction_null(data.model, feats, refs, samples="train", alpha=alpha,
                                     progress=part(0.85, 0.9))
        null_values = np.asarray(table.attrs["null_values"])
        chosen_on = "train"
    else:
        table = coupling_table
        null_values = null_score_deviations(nscans, scale="mad")
        chosen_on = samples
    core = core_genes_against_null(table, rule=rule, percentile=percentile, summary=data.summary)
    core_pct = core_genes(scan.scores(k_star), scan.genes, percentile=percentile,
                          summary=data.summary)
    masked = None
    if core.n_core:  # evaluated on the samples the genes were not chosen on
        other = "train" if chosen_on == "test" else "test"
        masked = permutation_null(data.model, feats, core.genes, samples=other, n_sets=int(n_sets),
                                  random_state=random_state, progress=part(0.9, 1.0))
    if progress is not None:
        progress(1.0, "done")
    return CapsuleInsights(
        coupling=cnull, coupling_test=ctest, k_star=k_star, scan=scan, scan_null=table,
        scan_coupling=coupling_table,
        null_values=null_values, core=core, core_percentile=core_pct, masked=masked,
        n_networks=len(refs), samples=samples, seconds=time.perf_counter() - t0,
        settings={"rule": rule, "statistic": statistic, "chosen_on": chosen_on,
                  "percentile": float(percentile), "alpha": float(alpha),
                  "dtype": dtype, "n_sets": int(n_sets), "random_state": int(random_state),
                  "input": data.input, "seed": int(data.seed),
                  "stage": data.stage.describe() if data.stage is not None and
                  hasattr(data.stage, "describe") else None})
