"""Interpretation against a null: permuted-label reference networks (DESIGN §4.4).

DiseaseCapsule's interpretation (Luo et al. 2023) reads patterns in coupling coefficients that
lie within about 6e-5 of the uniform 1/K, and names core genes from one-gene-only couplings
that may differ in the ninth digit, without asking whether such deviations exceed chance. This
module supplies the missing reference: networks of the same architecture and hyper-parameters,
trained on the same training rows for the same number of epochs, but with the case/control
labels permuted among those rows. Whatever pattern such a network shows arises from the
architecture, the initialisation and the fitting of noise; a pattern of the real network is
one only when it exceeds theirs.

- :func:`permuted_label_networks` trains the reference networks;
- :func:`coupling_against_null` puts the real network's mean coupling (deviation from 1/K) on
  one scale with the references' and marks the cells beyond them;
- :func:`null_gene_scans` scans the references by the rule of the real scan (each its own
  strongest case type, its own training labels);
- :func:`gene_scan_null` gives every gene of the real gene scan a rank with ties, an empirical
  p-value against the pooled scans of the reference networks and a Benjamini-Hochberg q-value;
- :func:`null_score_deviations` returns that pooled null (for figures);
- :func:`gene_prediction_null` does the same for the one-gene-only AUC
  (:func:`genoapp.interpret.masking.one_gene_auc`): how well each gene alone lets the network
  tell its cases from its controls, against the same statistic of the reference networks (each
  on its own refitted selection and its own permuted labels).

How far to trust it: with R reference networks, a real network that carries no signal still
exceeds all R of them somewhere with probability up to 1/(R + 1) (network-to-network variation
is sampled R times only). On 20 pure-noise toy phenotypes (30 genes, R = 3) the coupling
verdict flagged cells in 5 and the gene scan marked a gene significant in 2 (the tail estimate
of :func:`gene_scan_null`); one planted gene was ranked first and marked significant in 5 of 5
toys. Use more networks (``n_networks``) for a formal claim.

This is a permutation test in the sense of Good (2005, *Permutation, Parametric and Bootstrap
Tests of Hypotheses*) and Phipson & Smyth (2010, "Permutation p-values should never be zero",
*Stat. Appl. Genet. Mol. Biol.* 9:39), whose ``(1 + b) / (1 + m)`` estimator is used; the
false discovery rate follows Benjamini & Hochberg (1995, *J. R. Stat. Soc. B* 57:289).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.execution import JobsStopped
from genoapp.interpret._jobs import Bundle, executor_for
from genoapp.interpret.coupling import mean_coupling_by_label
from genoapp.interpret.masking import one_gene_auc
from genoapp.interpret.scan import (
    SCAN_RESOLUTION,
    gene_scan,
    select_rows,
    tie_groups,
    tie_tolerance,
)

__all__ = ["permuted_label_networks", "CouplingNull", "coupling_against_null", "null_gene_scans",
           "reference_labels", "gene_scan_null", "gene_prediction_null",
           "null_score_deviations", "tie_tolerance", "tie_groups", "SCAN_RESOLUTION"]

def _is_pos_int(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | np.integer) and v >= 1


def _rows(features, samples) -> np.ndarray:
    if isinstance(samples, str) and samples == "all":
        return np.arange(np.asarray(features.X).shape[0])
    return np.asarray(features.rows(samples), dtype=np.int64)


# ----------------------------------------------------------------------------- networks
def permuted_label_networks(model, features, *, n_networks: int = 3, samples="train",
                            random_state: int = 0, epochs: int | None = None,
                            stage=None, raw=None, callbacks: Sequence = (),
                            progress: Callable[[float, str], None] | None = None) -> list:
    """Reference networks trained on the same rows with permuted case/control labels.

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
        The fitted real network. Each reference is ``type(model)(**model.get_params())`` with
        ``epochs`` fixed (below) and its own ``random_state``.
    features : genoapp.features.FeatureSet or FeatureTable
        The inputs the model was trained on, with labels and split.
    n_networks : int, default 3
        Number of reference networks R (each a new permutation and a new seed).
    samples : {"train", "test", "all"} or array-like of int, default "train"
        Rows the references are trained on (the real network's training rows).
    random_state : int, default 0
        Seeds the permutations, the upsampling and the networks' initialisation: network r
        uses ``numpy.random.default_rng([random_state, r])``.
    epochs : int, optional
        Epochs of every reference. Default: the real network's ``best_epoch_`` (the epoch whose
        weights it kept), else the number of epochs it ran (``len(history_)``), else its
        ``epochs`` parameter. A fixed count keeps the weight scales comparable: a network
        trained longer moves further from its initialisation, coupling included.
    stage : fitted transformer, optional
        The feature stage the model's inputs came from when it was chosen with the labels
        (e.g. the nested :class:`genoapp.features.AssociationFilter` of the model's outer
        fold: ``fit(raw, y)``, ``transform(raw)``, ``feature_gene_``). Each reference then
        refits a clone of it (same settings, e.g. the same top-k) on its own permuted labels
        and is trained on the features that gives, so that selection is part of the null
        (an exact test; see Notes). Needs ``raw``.
    raw : array-like (n, p), optional
        The stage's input for every row of ``features`` (e.g. QC'd dosages, NaN = missing).
    callbacks : sequence of genoapp.train.Callback
        Passed to every reference's ``fit`` (progress, stop button). When a callback stops a
        fit (``should_stop()``), that partly trained network is discarded and the networks
        completed so far are returned. On a Dask cluster (:mod:`genoapp.execution`; each
        network is one job) the callbacks stay in this process: each finished network's
        epochs are replayed to them, and ``should_stop()`` is polled while the jobs run (a
        stop cancels the networks not yet finished).
    progress : callable(fraction, message), optional
        Called at the start and after each network.

    Returns
    -------
    list of DiseaseCapsuleClassifier
        Up to ``n_networks`` fitted networks (fewer only after a stop). Each carries
        ``null_rows_`` (m,) int64, the rows of ``features`` it was trained on (before
        upsampling), and ``null_y_`` (m,) int64, the permuted labels of those rows; with
        ``stage``, also ``null_features_``, a :class:`~genoapp.interpret.FeatureTable` of its
        own features for every row (true labels, the split of ``features``).

    Raises
    ------
    ConfigError
        ``n_networks`` or ``epochs`` not a positive integer, or the model not fitted.
    InputDataError
        No labels, or a class missing among the rows.

    Notes
    -----
    What is permuted: the labels of the m training rows among themselves (a uniformly random
    permutation per network), so the number of cases is unchanged and any association of
    features with the labels is broken. As in the real training, the minority class of the
    permuted labels is then upsampled 1:1 (:func:`genoapp.train.upsample_minority`). No
    validation data is used: the weights of the last epoch are kept. The real network may have
    been fitted on a part of these rows (an inner validation fold held out); the references use
    all of them.

    The features are taken as given. When they were chosen with the labels (an association
    filter on the training samples: the paper's GWAS p < 0.05, or the nested filter of the
    Train page), the real network sees features selected for association with its labels and
    the references features not selected for theirs: the null is then too lenient. Pass the
    ``stage`` and its ``raw`` input to repeat the selection on every permutation (the exact
    test: the references then see other genes than the real network, which the pooled null of
    :func:`gene_scan_null` allows, all genes being exchangeable under it).
    """
    if not _is_pos_int(n_networks):
        raise ConfigError(f"n_networks: must be a positive integer, got {n_networks!r}.")
    if epochs is not None and not _is_pos_int(epochs):
        raise ConfigError(f"epochs: must be a positive integer, got {epochs!r}.")
    if not hasattr(model, "get_params") or getattr(model, "history_", None) is None:
        raise ConfigError("model: pass the fitted DiseaseCapsule network (it has no training history).")
    if epochs is None:
        epochs = getattr(model, "best_epoch_", None) or len(model.history_) or \
            int(model.get_params().get("epochs", 1))
    X, y, _ = select_rows(features, samples)
    if y is None:
        raise InputDataError("features: no labels; the permuted-label networks need the case/control labels.")
    rows = _rows(features, samples)
    lab = np.asarray(y)
    if not np.isin(lab, (0, 1)).all():
        raise InputDataError(f"y: labels must be 0 (control) or 1 (case); found {np.unique(lab)[:5].tolist()}.")
    lab = lab.astype(np.int64)
    if np.unique(lab).size < 2:
        raise InputDataError("y: the rows hold one class only; both cases and controls are needed.")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if stage is not None:
        if raw is None:
            raise ConfigError("stage: pass its raw input (raw) too, e.g. the QC'd dosages.")
        if np.shape(raw)[0] != np.asarray(features.X).shape[0]:
            raise InputDataError(f"raw: {np.shape(raw)[0]} rows, the features "
                                 f"{np.asarray(features.X).shape[0]}.")
    params = dict(model.get_params())
    params["epochs"] = int(epochs)
    R = int(n_networks)
    callbacks = list(callbacks)
    ex = executor_for(getattr(model, "device_", "cpu"))
    # each network is one job; on a cluster the callbacks stay here (they may hold a page's
    # widgets): they are replayed from each finished network's history, and polled for a stop
    bundle = Bundle(type(model), params, X, lab, rows, int(random_state), stage, raw,
                    () if ex.distributed else tuple(callbacks))
    done = [0]

    def finished(i, res):
        done[0] += 1
        if ex.distributed:
            _replay(callbacks, res[0], i)
        if progress is not None:
            progress(done[0] / R, f"permuted-label network {done[0] + 1} of {R}" if done[0] < R
                     else f"{R} permuted-label network(s) trained")

    if progress is not None:
        progress(0.0, f"permuted-label network 1 of {R}")
    try:
        results = ex.map(_reference_job, list(range(R)), shared=(bundle,), on_result=finished,
                         should_stop=lambda: any(cb.should_stop() for cb in callbacks),
                         label="permuted-label-networks")
    except JobsStopped as stop:
        results = []
        while len(results) in stop.done:       # the networks finished in order before the stop
            results.append(stop.done[len(results)])
    out = []
    for net, y_perm, all_r, fg_r in results:
        if getattr(net, "stopped_early_", False):
            break
        net.null_rows_ = rows.copy()
        net.null_y_ = y_perm
        if all_r is not None:
            from genoapp.interpret.scan import FeatureTable

            net.null_features_ = FeatureTable(all_r, fg_r, y=getattr(features, "y", None),
                                              split=getattr(features, "split", None))
        out.append(net)
    if progress is not None:
        progress(1.0, f"{len(out)} permuted-label network(s) trained")
    return out


def _reference_job(r: int, bundle: Bundle) -> tuple:
    """One executor job: reference network r, its permuted labels and (with a stage) its own
    features. Every draw comes from ``default_rng([random_state, r])``, so a network does not
    depend on where, or after which other network, it was trained."""
    from genoapp.train import upsample_minority

    cls, params, X, lab, rows, random_state, stage, raw, callbacks = bundle.objs
    rng = np.random.default_rng([int(random_state), r])
    y_perm = lab[rng.permutation(lab.size)]
    seed = int(rng.integers(0, 2**31 - 1))
    fit_idx = upsample_minority(np.arange(lab.size), y_perm, random_state=seed)
    Xr, all_r, fg_r = X, None, None
    if stage is not None:
        from sklearn.base import clone

        st_r = clone(stage).fit(np.asarray(raw)[rows], y_perm)
        all_r = np.ascontiguousarray(st_r.transform(raw), dtype=np.float32)
        fg_r = np.asarray(st_r.feature_gene_)
        Xr = all_r[rows]
    net = cls(**{**params, "random_state": seed})
    net.fit(Xr[fit_idx], y_perm[fit_idx], callbacks=list(callbacks))
    return net, y_perm, all_r, fg_r


def _replay(callbacks, net, index: int) -> None:
    """Training events of a network fitted on a worker, replayed to this process's callbacks
    (progress bars, stop flags) once it is back: begin, one per epoch of its history, end."""
    if not callbacks:
        return
    hist = list(getattr(net, "history_", None) or [])
    info = {"n_epochs": int(net.get_params().get("epochs", len(hist))), "n_train": 0, "n_val": 0,
            "n_features": int(getattr(net, "n_features_in_", 0) or 0), "batch_size": 0,
            "n_batches": 0, "device": f"Dask worker (reference network {index + 1})",
            "model": type(net).__name__}
    for cb in callbacks:
        cb.on_train_begin(dict(info))
    for logs in hist:
        for cb in callbacks:
            cb.on_epoch_end(int(logs.get("epoch", 0)), dict(logs))
    for cb in callbacks:
        cb.on_train_end({"epochs_completed": len(hist), "stopped_early": False,
                         "best_epoch": getattr(net, "best_epoch_", None),
                         "seconds": float(sum(h.get("seconds", 0.0) for h in hist))})


# ----------------------------------------------------------------------------- coupling
@dataclasses.dataclass
class CouplingNull:
    """Mean coupling of the real network against permuted-label references.

    Attributes
    ----------
    real : ndarray (2, K) float64
        Real network: row j = mean over samples of true label j of ``c_kj`` (control row 0,
        case row 1), as :func:`~genoapp.interpret.mean_coupling_by_label`.
    references : ndarray (R, 2, K) float64
        The same for each reference network, its rows grouped by the labels it was trained
        with (see :func:`coupling_against_null`).
    baseline : float
        1/K, the uniform coupling (each row sums to 1 with the input-axis routing).
    deviation, reference_deviation : ndarray (2, K) and (R, 2, K)
        ``real - baseline`` and ``references - baseline``.
    limit : float
        Shared symmetric colour limit: the largest absolute deviation over the real network
        and every reference (``[-limit, limit]``).
    reference_max : ndarray (2, K)
        Threshold per cell that a real deviation must exceed (see ``rule``).
    exceeds : ndarray (2, K) bool
        ``|deviation| > reference_max``.
    rule : str
        "max" (the threshold is the largest absolute reference deviation over all cells) or
        "cell" (over the references at that cell only).
    verdict : str
        One line: "no coupling pattern beyond the permuted-label reference" or "N of 2K cells
        exceed the permuted-label reference".
    n_samples : dict
        Samples averaged per class.
    """

    real: np.ndarray
    references: np.ndarray
    baseline: float
    deviation: np.ndarray
    reference_deviation: np.ndarray
    limit: float
    reference_max: np.ndarray
    exceeds: np.ndarray
    rule: str
    verdict: str
    n_samples: dict

    @property
    def n_exceeding(self) -> int:
        return int(self.exceeds.sum())

    def table(self) -> pd.DataFrame:
        """Long table: one row per (network, phenotype capsule, type) with the coupling and its
        deviation; ``network`` is "real" or "reference 1".."reference R" and ``exceeds`` is
        set on the real rows."""
        K = self.real.shape[1]
        frames = []
        nets = [("real", self.real, self.exceeds)] + [
            (f"reference {r + 1}", self.references[r], np.zeros_like(self.exceeds))
            for r in range(self.references.shape[0])]
        for name, m, ex in nets:
            frames.append(pd.DataFrame({
                "network": name, "phenotype_capsule": np.repeat(["control", "case"], K),
                "primary_type": np.tile(np.arange(1, K + 1), 2), "mean_coupling": m.ravel(),
                "deviation": m.ravel() - self.baseline, "exceeds_reference": ex.ravel()}))
        return pd.concat(frames, ignore_index=True)


def coupling_against_null(model, features, references, *, samples="train",
                          rule: str = "max") -> CouplingNull:
    """Mean coupling by label of the real network, on one scale with permuted-label references.

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
        The real fitted network.
    features : genoapp.features.FeatureSet or FeatureTable
        With labels (and split for ``samples="train"``/``"test"``).
    references : sequence of DiseaseCapsuleClassifier
        From :func:`permuted_label_networks` (at least one).
    samples : {"train", "test", "all"} or array-like of int, default "train"
    rule : {"max", "cell"}, default "max"
        When a real cell counts as beyond the reference. "max": its absolute deviation from 1/K
        exceeds the largest absolute deviation of any cell of any reference (a max-statistic
        rule: with a real network exchangeable with the R references, i.e. no signal, the
        chance that any real cell exceeds is at most 1/(R + 1)). "cell": it exceeds the largest
        of the R references at that cell only (with 2K cells and few references, many cells of
        a pure-noise network pass this by chance: 1/(R + 1) each).

    Returns
    -------
    CouplingNull

    Raises
    ------
    InputDataError
        No reference network, no labels, or references of another shape.
    ConfigError
        Unknown rule.

    Notes
    -----
    Rows are grouped by true label for the real network. A reference network is grouped by the
    labels it was trained with (its ``null_rows_``/``null_y_``) on the rows it was trained on,
    by the true labels elsewhere: on training rows both networks then show what fitting their
    own labels did to the coupling, memorisation included.
    """
    if rule not in ("max", "cell"):
        raise ConfigError(f"rule: must be 'max' or 'cell', got {rule!r}.")
    refs = list(references)
    if not refs:
        raise InputDataError("references: no permuted-label network; train them first "
                             "(permuted_label_networks).")
    X, y, _ = select_rows(features, samples)
    if y is None:
        raise InputDataError("features: no labels; the coupling is averaged by true label.")
    rows = _rows(features, samples)
    lab = np.asarray(y).astype(np.int64)
    real = mean_coupling_by_label(model.coupling_coefficients(X), lab)
    K = real.shape[1]
    ref = []
    for net in refs:
        own = getattr(net, "null_features_", None)  # a reference with its own feature stage
        Xr = X if own is None else select_rows(own, samples)[0]
        m = mean_coupling_by_label(net.coupling_coefficients(Xr),
                                   reference_labels(net, features)[rows].astype(np.int64))
        if m.shape != real.shape:
            raise InputDataError(f"references: a network has {m.shape[1]} primary types, the model {K}; "
                                 "use networks of the same architecture.")
        ref.append(m)
    ref = np.stack(ref)
    base = 1.0 / K
    dev, rdev = real - base, ref - base
    lim = float(np.nanmax(np.abs(np.concatenate([dev[None], rdev]))))
    rmax = np.nanmax(np.abs(rdev), axis=0)
    if rule == "max":
        rmax = np.full_like(rmax, np.nanmax(rmax))
    exceeds = np.abs(dev) > rmax
    exceeds &= np.isfinite(dev)
    n = int(exceeds.sum())
    R = ref.shape[0]
    verdict = ("no coupling pattern beyond the permuted-label reference" if n == 0 else
               f"{n} of {exceeds.size} cells exceed the permuted-label reference")
    verdict += f" ({R} network{'s' if R != 1 else ''}, rule '{rule}')"
    return CouplingNull(real=real, references=ref, baseline=base, deviation=dev,
                        reference_deviation=rdev, limit=lim, reference_max=rmax, exceeds=exceeds,
                        rule=rule, verdict=verdict,
                        n_samples={"control": int((lab == 0).sum()), "case": int((lab == 1).sum())})


# ----------------------------------------------------------------------------- gene scan
class _Relabelled:
    """A feature set whose labels are replaced (same X, genes and row sets)."""

    def __init__(self, features, y):
        self._features = features
        self.X = features.X
        self.feature_gene = features.feature_gene
        self.y = y

    def rows(self, samples="all"):
        return self._features.rows(samples)


def reference_labels(net, features) -> np.ndarray | None:
    """Labels of all rows of ``features`` as reference network ``net`` saw them: its permuted
    training labels on the rows it was trained on (``null_rows_``/``null_y_``), the true labels
    elsewhere; None without labels."""
    y = getattr(features, "y", None)
    if y is None:
        return None
    y = np.asarray(y).copy()
    nr, ny = getattr(net, "null_rows_", None), getattr(net, "null_y_", None)
    if nr is not None and ny is not None:
        y[np.asarray(nr)] = np.asarray(ny)
    return y


def null_gene_scans(references, features, *, samples="train", k_star: int | None = None,
                    progress: Callable[[float, str], None] | None = None, **scan_kwargs) -> list:
    """Gene scans of the permuted-label networks, by the same rule as the real scan.

    Parameters
    ----------
    references : sequence of DiseaseCapsuleClassifier
        From :func:`permuted_label_networks`.
    features : genoapp.features.FeatureSet or FeatureTable
        As for the real scan.
    samples : {"train", "test", "all"} or array-like of int, default "train"
        As for the real scan.
    k_star : int, optional
        Default (None): each network's own strongest case type, computed with the labels it
        was trained with (the rule :func:`~genoapp.interpret.gene_scan` applies to the real
        network). The primary types of independently trained networks do not correspond, so
        the real network's type number has no meaning in a reference; pass an int only to
        reproduce a fixed-type analysis.
    progress : callable(fraction, message), optional
    **scan_kwargs
        Passed to :func:`~genoapp.interpret.gene_scan` (``dtype``, ``batch_size``, ...; use
        the real scan's ``dtype``).

    Returns
    -------
    list of GeneScanResult
        One per reference (scanned one after the other, each in jobs of the current executor:
        see :func:`~genoapp.interpret.gene_scan`); the case row averages over the cases of the labels the reference
        was trained with (its permuted labels on its training rows).
    """
    refs = list(references)
    out = []
    for r, net in enumerate(refs):
        sub = None
        if progress is not None:
            def sub(f, msg, _r=r):
                progress((_r + f) / len(refs), f"reference {_r + 1} of {len(refs)}: {msg}")
        own = getattr(net, "null_features_", None)  # own refitted stage: own genes
        base = features if own is None else own
        feats = _Relabelled(base, reference_labels(net, features)) \
            if getattr(features, "y", None) is not None else base
        scan = gene_scan(net, feats, samples=samples, k_star=k_star, progress=sub, **scan_kwargs)
        scan.own_features = own is not None
        out.append(scan)
    return out


_MAD_TO_SD = 1.482602218505602  # 1 / Phi^-1(3/4): the MAD of a normal sample estimates its SD


def _spread(v: np.ndarray) -> float:
    """Robust spread of one scan's scores: 1.4826 x MAD, else the SD, else 1 (all equal)."""
    s = _MAD_TO_SD * float(np.median(np.abs(v - np.median(v))))
    if not (np.isfinite(s) and s > 0):
        s = float(np.std(v))
    return s if np.isfinite(s) and s > 0 else 1.0


def _standardised(scores, scale: str | None) -> tuple[np.ndarray, float]:
    """``(scores - median) / spread`` and the spread (1 with ``scale=None``)."""
    v = np.asarray(scores, dtype=np.float64)
    d = v - np.median(v)
    s = _spread(v) if scale == "mad" else 1.0
    return d / s, s


def _check_test(alpha, min_exceed) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.number) or not 0 < float(alpha) < 1:
        raise ConfigError(f"alpha: must be in (0, 1), got {alpha!r}.")
    if not _is_pos_int(min_exceed):
        raise ConfigError(f"min_exceed: must be a positive integer, got {min_exceed!r}.")


def _check_scale(scale) -> None:
    if scale not in ("mad", None):
        raise ConfigError(f"scale: must be 'mad' or None, got {scale!r}.")


def null_score_deviations(null_scans, *, k_star: int | None = None, scale: str | None = "mad") -> np.ndarray:
    """Pooled null of the gene scan: every gene of every permuted-label scan, standardised.

    Parameters
    ----------
    null_scans : sequence of GeneScanResult
        Gene scans of the permuted-label networks.
    k_star : int, optional
        0-based primary type; default: each scan's own ``k_star`` (see :func:`null_gene_scans`).
    scale : {"mad", None}, default "mad"
        Each scan's scores minus their median, divided by 1.4826 x their median absolute
        deviation ("mad") or not divided (None); see :func:`gene_scan_null`.

    Returns
    -------
    ndarray (R * G,) float64
        The values :func:`gene_scan_null` compares each real gene's ``z`` with.
    """
    _check_scale(scale)
    scans = list(null_scans)
    if not scans:
        raise InputDataError("null_scans: no gene scan of a permuted-label network.")
    return np.concatenate([_standardised(s.scores(None if k_star is None else int(k_star)), scale)[0]
                           for s in scans])


def _tail_p(x: np.ndarray, null_sorted: np.ndarray, n_exc: int) -> np.ndarray:
    """Generalised Pareto tail estimate of ``P(null >= x)`` (Knijnenburg et al. 2009).

    The ``n_exc`` largest null values minus the threshold t (midway between the n_exc-th and
    the (n_exc + 1)-th largest) are fitted by maximum likelihood with ``scipy.stats.genpareto``
    (location 0); a negative shape (a bounded tail, whose end point would give p = 0) is
    replaced by 0, the exponential tail, which is heavier, hence conservative.
    ``p = n_exc / n * sf(x - t)``.
    """
    from scipy import stats

    n = null_sorted.size
    t = 0.5 * (null_sorted[n - n_exc] + null_sorted[n - n_exc - 1])
    exc = null_sorted[n - n_exc:] - t
    c, scale = 0.0, float(exc.mean())
    try:
        c_fit, _, s_fit = stats.genpareto.fit(exc, floc=0.0)
        if np.isfinite(c_fit) and np.isfinite(s_fit) and s_fit > 0 and c_fit >= 0:
            c, scale = float(c_fit), float(s_fit)
    except (ValueError, RuntimeError, FloatingPointError):  # pragma: no cover - degenerate data
        pass
    if not scale > 0:
        return np.full(x.shape, np.nan)
    return n_exc / n * stats.genpareto.sf(np.maximum(x - t, 0.0), c, loc=0.0, scale=scale)


def gene_scan_null(real_scan, null_scans, *, alpha: float = 0.05, scale: str | None = "mad",
                   null_type: str = "scanned", tail: bool = True, min_exceed: int = 10) -> pd.DataFrame:
    """Per-gene ranks with ties, empirical p-values and FDR q-values against permuted labels.

    Parameters
    ----------
    real_scan : GeneScanResult
        Gene scan of the real network (:func:`~genoapp.interpret.gene_scan`).
    null_scans : sequence of GeneScanResult
        Scans of the permuted-label networks over the same genes and samples, by the same rule
        as the real scan (:func:`null_gene_scans`).
    alpha : float, default 0.05
        FDR level: ``significant = q < alpha``.
    scale : {"mad", None}, default "mad"
        How scores of different networks are put on one scale: each scan's scores minus that
        scan's median ("robust centring"), divided by 1.4826 x its median absolute deviation
        ("mad") or not divided (None). See Notes.
    null_type : {"scanned", "real"}, default "scanned"
        Primary type whose scores a null scan contributes: the ``k_star`` it was scanned with
        (by :func:`null_gene_scans`: its own strongest case type, the rule that chose the real
        scan's) or the real scan's type number.
    tail : bool, default True
        Where fewer than ``min_exceed`` null values reach a gene's value, estimate its p-value
        from a generalised Pareto tail fitted to the pooled null (Notes) instead of the
        empirical count alone.
    min_exceed : int, default 10
        Exceedances needed for the empirical p-value to be used as it is.

    Returns
    -------
    pandas.DataFrame
        One row per gene, best first:

        ``rank``        1 = highest score; the genes of a tie group share its best rank ("min")
        ``gene``        gene key
        ``score``       ``c^g_{k*, case}`` of the real scan
        ``deviation``   score minus the real scan's median score
        ``z``           deviation / the real scan's spread (= deviation with ``scale=None``)
        ``tie_group``   1-based tie group, best first; ``n_tied`` genes in it
        ``n_exceed``    pooled null values >= z (ties within the resolution count)
        ``p_empirical`` ``(1 + n_exceed) / (1 + n_null)``
        ``p_value``     p_empirical, or the tail estimate where ``n_exceed < min_exceed``
        ``p_method``    "empirical" or "tail"
        ``q``           Benjamini-Hochberg q-value of p_value over the G genes
        ``significant`` ``q < alpha``

        ``attrs``: ``k_star``, ``dtype``, ``tolerance`` (absolute score difference below which
        genes tie), ``n_null`` (null values pooled), ``n_networks``, ``alpha``, ``scale``,
        ``spread`` (the real scan's spread), ``null_spreads`` (list, one per reference).

    Raises
    ------
    InputDataError
        No null scan, scans of other genes or types, NaN scores.
    ConfigError
        alpha outside (0, 1), unknown scale, bad min_exceed.

    Notes
    -----
    *What the null is.* R networks trained on the same rows with the labels permuted
    (:func:`permuted_label_networks`), each scanned like the real one: R x G values of the
    statistic under "no association of any gene with the labels", pooled over genes (all genes
    are exchangeable under that null).

    *Scale.* Scores are compared as deviations from their own network's median gene score,
    so that a network-wide shift of the coupling (another initialisation) is no finding. With
    ``scale="mad"`` they are also divided by the network's robust spread (1.4826 x MAD of its G
    scores): networks differ several-fold in how widely one-gene inputs move the coupling, as a
    whole: on a 30-gene toy with one planted gene the real network's MAD was 4 to 10 times
    those of its permuted-label references (centring alone made several noise genes
    "significant"); on the demo cohort (1,437 genes) it was 0.4 times theirs (centring alone
    marked no gene, not even one of the planted genes at 33 MADs). The median and MAD are
    hardly moved by the few genes that carry signal.

    *Ties.* Scores that differ by less than the arithmetic's resolution
    (:data:`SCAN_RESOLUTION`: relative 1e-12 for float64 scans, 1e-6 for float32, times the
    largest absolute score; :func:`tie_groups`) share one rank and one tie group; every gene of
    a group gets the group's largest p-value, so a group is significant as a whole or not at
    all. Null values within that resolution of a gene's value count as reaching it.

    *p-values.* ``p_empirical = (1 + b) / (1 + n)`` with b the null values >= z among the
    n = R G pooled ones (Phipson & Smyth 2010). Its floor, 1 / (1 + R G), leaves BH little room:
    one gene beyond every null value gets ``q = G / (1 + R G)``, about 1/R, never below 0.05 with
    three networks. Where b < ``min_exceed``, ``p_value`` is therefore a generalised Pareto
    estimate of the tail of the pooled null, fitted to its ``min(250, n // 4)`` largest values
    (Knijnenburg et al. 2009, "Fewer permutations, more accurate P-values", *Bioinformatics*
    25:i161; at least 20 of them, else no tail is fitted); a bounded fitted tail is replaced
    by the exponential one (conservative). ``tail=False`` keeps the empirical value.

    *q-values.* Benjamini-Hochberg over the G genes
    (``statsmodels.stats.multitest.multipletests(p_value, method="fdr_bh")``).
    """
    _check_test(alpha, min_exceed)
    _check_scale(scale)
    scans = list(null_scans)
    if not scans:
        raise InputDataError("null_scans: no gene scan of a permuted-label network; scan the "
                             "networks of permuted_label_networks first.")
    genes = np.asarray(real_scan.genes, dtype=object)
    k = int(real_scan.k_star)
    for i, s in enumerate(scans):
        g = np.asarray(s.genes, dtype=object)
        if getattr(s, "own_features", False):
            pass  # a reference with its own refitted selection: other genes, pooled alike
        elif g.shape != genes.shape or not (g == genes).all():
            raise InputDataError(f"null_scans[{i}]: scanned other genes than the real scan; scan the "
                                 "same genes (all, in feature order).")
        if s.case.shape[1] != real_scan.case.shape[1]:
            raise InputDataError(f"null_scans[{i}]: {s.case.shape[1]} primary types, the real scan "
                                 f"{real_scan.case.shape[1]}.")
    score = np.asarray(real_scan.scores(k), dtype=np.float64)
    if score.size == 0:
        raise InputDataError("real_scan: no genes.")
    if not np.isfinite(score).all():
        raise InputDataError("real_scan: NaN scores; rerun the gene scan.")
    dtypes = {getattr(real_scan, "dtype", "float64")} | {getattr(s, "dtype", "float64") for s in scans}
    dtype = "float64" if dtypes == {"float64"} else "float32"
    tol = tie_tolerance(score, dtype)
    z, spread = _standardised(score, scale)
    if null_type not in ("scanned", "real"):
        raise ConfigError(f"null_type: must be 'scanned' or 'real', got {null_type!r}.")
    k_null = None if null_type == "scanned" else k
    null = null_score_deviations(scans, k_star=k_null, scale=scale)
    if not np.isfinite(null).all():
        raise InputDataError("null_scans: NaN scores; rerun the scans.")
    df = _empirical_table(genes, score, z, null, tol=tol, tol_z=tol / spread, alpha=alpha,
                          tail=tail, min_exceed=min_exceed,
                          deviation=score - np.median(score))
    df.attrs.update({"k_star": k, "dtype": dtype, "tolerance": float(tol), "n_null": int(null.size),
                     "n_networks": len(scans), "alpha": float(alpha), "scale": scale,
                     "spread": float(spread), "statistic": "coupling",
                     "null_k_star": [int(s.k_star) if k_null is None else k for s in scans],
                     "null_spreads": [float(_spread(np.asarray(s.scores(k_null), dtype=np.float64)))
                                      if scale == "mad" else 1.0 for s in scans]})
    return df


def gene_prediction_null(model, features, references, *, samples="train", alpha: float = 0.05,
                         tail: bool = True, min_exceed: int = 10,
                         progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """One-gene-only AUC of every gene against permuted-label networks: p-values and FDR.

    Parameters
    ----------
    model : DiseaseCapsuleClassifier
        The fitted real network.
    features : genoapp.features.FeatureSet or FeatureTable
        Its inputs, with labels and split.
    references : sequence of DiseaseCapsuleClassifier
        From :func:`permuted_label_networks` (with the ``stage``, each has its own features).
    samples : {"train", "test", "all"}, default "train"
        Where the AUCs are computed. "train": the rows on which the real network and its
        association filter were fitted, and on which every reference repeated both with its
        permuted labels, so the null carries the same optimism as the real statistic (the
        default; the exact comparison). "test": held-out samples, an honest but much weaker
        test on a small test set.
    alpha : float, default 0.05
        FDR level.
    tail, min_exceed
        As :func:`gene_scan_null`: a generalised Pareto tail estimate where fewer than
        ``min_exceed`` pooled null values reach a gene (needs >= 80 pooled values).
    progress : callable(fraction, message), optional

    Returns
    -------
    pandas.DataFrame
        Best first: ``rank`` (ties share the best rank), ``gene``, ``score`` (the AUC),
        ``deviation`` and ``z`` (AUC - 0.5), ``tie_group``, ``n_tied``, ``n_exceed``,
        ``p_empirical``, ``p_value``, ``p_method``, ``q`` (Benjamini-Hochberg), ``significant``
        (q < alpha). ``attrs``: ``statistic`` ("prediction"), ``samples``, ``n_null``,
        ``n_networks``, ``alpha``, ``null_values`` (the pooled reference AUC - 0.5 values).

    Raises
    ------
    InputDataError
        No reference, no labels or one class among the samples.
    ConfigError
        alpha outside (0, 1), bad min_exceed.

    Notes
    -----
    The statistic is one-sided: a gene counts when, alone, it lets the network rank cases above
    controls (AUC > 0.5). The R reference networks give R x G_r values of it under "no gene is
    associated with the labels", pooled over genes as in :func:`gene_scan_null` (Phipson & Smyth
    2010 p-values, Benjamini-Hochberg q-values). Because each reference refits the association
    filter on its permuted labels, its genes are the strongest *by chance*, which is what the
    real network's null genes are too. Two limits, measured on the demo cohort (15 genes kept,
    9 of them planted): a gene in LD with a causal gene is associated, and marked (SNHG22,
    which overlaps the planted MYO5B); and the real network's null genes are the best of the
    noise genes that remained after the causal ones took their places, so they sit slightly
    higher than a pooled null gene: 2 of 10 significant genes there were neither planted nor
    near a planted gene. Read the q-values as a screen, and the masked accuracy on the test
    samples as the check.
    """
    _check_test(alpha, min_exceed)

    refs = list(references)
    if not refs:
        raise InputDataError("references: no permuted-label network; train them first "
                             "(permuted_label_networks).")
    real = one_gene_auc(model, features, samples=samples)
    null = []
    for r, net in enumerate(refs):
        own = getattr(net, "null_features_", None)
        base = features if own is None else own
        feats = _Relabelled(base, reference_labels(net, features))
        null.append(one_gene_auc(net, feats, samples=samples)["auc"].to_numpy() - 0.5)
        if progress is not None:
            progress((r + 1) / len(refs), f"one-gene-only AUC: reference {r + 1} of {len(refs)}")
    null = np.concatenate(null)
    score = real["auc"].to_numpy(dtype=np.float64)
    tol = 1e-12
    df = _empirical_table(np.asarray(real["gene"], dtype=object), score, score - 0.5, null,
                          tol=tol, tol_z=tol, alpha=alpha, tail=tail, min_exceed=min_exceed)
    df.attrs.update({"statistic": "prediction", "samples": samples if isinstance(samples, str)
                     else "selected", "n_null": int(null.size), "n_networks": len(refs),
                     "alpha": float(alpha), "null_values": null})
    return df


def _empirical_table(genes, score, z, null, *, tol: float, tol_z: float, alpha: float, tail: bool,
                     min_exceed: int, deviation=None) -> pd.DataFrame:
    """Rank with ties, empirical (or tail) p-value against the pooled null, BH q-value."""
    from statsmodels.stats.multitest import multipletests

    null = np.sort(np.asarray(null, dtype=np.float64))
    n = null.size
    b = n - np.searchsorted(null, z - tol_z, side="left")
    p_emp = (1.0 + b) / (1.0 + n)
    p = p_emp.copy()
    method = np.full(score.size, "empirical", dtype=object)
    n_exc = min(250, n // 4)
    if tail and n_exc >= 20:
        low = b < int(min_exceed)
        if low.any():
            pt = _tail_p(z[low], null, n_exc)
            ok = np.isfinite(pt)
            idx = np.flatnonzero(low)[ok]
            p[idx] = pt[ok]
            method[idx] = "tail"
    rank, group = tie_groups(score, tol)
    p_emp = pd.Series(p_emp).groupby(group).transform("max").to_numpy()
    p = pd.Series(p).groupby(group).transform("max").to_numpy()
    q = multipletests(p, alpha=float(alpha), method="fdr_bh")[1]
    df = pd.DataFrame({"rank": rank, "gene": genes, "score": score,
                       "deviation": z if deviation is None else deviation,
                       "z": z, "tie_group": group, "n_tied": np.bincount(group)[group], "n_exceed": b,
                       "p_empirical": p_emp, "p_value": p, "p_method": method, "q": q,
                       "significant": q < float(alpha)})
    return df.iloc[np.lexsort((np.arange(len(df)), -score))].reset_index(drop=True)
