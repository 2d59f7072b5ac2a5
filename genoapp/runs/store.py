"""Run directories: every analysis saved with its models, config, record, results and log.

One writer for both kinds of run (``kind`` in ``run.json``: ``"casecontrol"`` or
``"quantitative"``), since both are a :class:`genoapp.workflows.ProtocolResult`. Layout of
``<root>/<run_id>/`` (``run_id = YYYYmmdd-HHMMSS-<label>-<6 hex>``)::

    run.json             record: kind, task, versions, devices, seeds, protocol config, input
                         hashes, outer folds, traits, notes, the pipeline configuration, the
                         list of saved models and preprocessing files (paths relative to the run)
    config.json          the protocol config and the model settings used
    metrics.csv          test metrics per model, input, trait and outer fold (seed)
    summary.csv          mean ± SD over outer folds (the comparison table)
    fold_metrics.csv     validation metrics of every tuning fit
    predictions.csv      one row per test sample and model: FID, IID, label/score/prediction
                         (case/control) or observed/predicted (quantitative)
    histories.csv        per-epoch logs of the torch models
    samples.csv          FID, IID, set (training/test) and label of every sample
    importance.csv       per-input importance and selection frequency (models that select)
    run.log              the analysis log (as PLINK's .log)
    models/<stem>.pt         torch models (state_dict + settings; loaded by their format string)
    models/<stem>.joblib     scikit-learn models (pickles: open runs from trusted sources only)
    models/<stem>.scaler.npz training-fold scaling of a quantitative model (plain arrays)
    preprocess/<input>.joblib  FeatureProjector (QC variant list, imputation and projection
                               fitted on the training samples)
    preprocess/covariates.joblib  the covariate coding of models trained with covariates as
                               inputs (:class:`genoapp.features.CovariateInputs`; ``run.json``
                               key ``covariates`` describes it)
    covariate_dropped.csv  samples left out for lacking a covariate value (FID, IID,
                         missing_covariates, set)

Writes are atomic and crash-safe: the whole directory is written under ``<root>/.<run_id>.tmp``
and renamed in one step (:func:`genoapp.fileio.atomic_path`), so :func:`list_runs` never sees a
half-written run; a killed process leaves only a hidden ``.tmp`` folder, which
:func:`incomplete_runs` lists with its reason and :func:`remove_incomplete` deletes. A full
disk, a read-only or unwritable folder give one :class:`~genoapp.errors.StorageError`; the
caller keeps the result in memory and can save again.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import InputDataError
from genoapp.fileio import atomic_path, check_writable
from genoapp.runs.safety import check_run_record_paths, resolve_inside

__all__ = ["RUN_FORMAT", "Run", "array_sha256", "check_runs_dir", "default_runs_dir",
           "incomplete_runs", "list_runs", "open_run", "remove_incomplete", "resolve_runs_dir",
           "save_run", "versions"]

RUN_FORMAT = "genoapp.run"
RUN_FORMAT_VERSION = 2
KINDS = {"classification": "casecontrol", "regression": "quantitative"}


def default_runs_dir() -> Path:
    """Where runs are saved: ``$GENOAPP_RUNS_DIR`` if set, else ``~/genoapp_runs``."""
    env = os.environ.get("GENOAPP_RUNS_DIR")
    return Path(env).expanduser() if env else Path.home() / "genoapp_runs"


def array_sha256(a) -> str:
    """SHA-256 of an array's dtype, shape and C-ordered bytes (an input fingerprint)."""
    arr = np.ascontiguousarray(np.asarray(a))
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    view = memoryview(arr).cast("B") if arr.size else b""
    step = 1 << 26
    for s in range(0, len(view), step):
        h.update(view[s:s + step])
    return h.hexdigest()


def _slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-").lower()
    return (s or "run")[:limit]


def versions() -> dict:
    """Versions of genoapp and the packages that decide its results."""
    import sklearn
    import torch

    import genoapp

    out = {"genoapp": getattr(genoapp, "__version__", "unknown"),
           "python": sys.version.split()[0], "numpy": np.__version__, "pandas": pd.__version__,
           "torch": torch.__version__, "scikit-learn": sklearn.__version__,
           "platform": platform.platform()}
    try:
        import optuna

        out["optuna"] = optuna.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    if isinstance(o, tuple | set):
        return list(o)
    return str(o)


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, default=_json_default, allow_nan=True))


def _model_stem(k) -> str:
    stem = f"{k.key}__{_slug(k.input, 30)}"
    if k.trait not in ("(all traits)",) and len(str(k.trait)):
        stem += f"__{_slug(k.trait, 30)}"
    return f"{stem}__r{int(k.repeat)}f{int(k.fold)}s{int(k.seed)}"


def _save_estimator(est, folder: Path, stem: str) -> dict:
    """Write one final model; returns its file entries (paths relative to the run).

    Torch models are written with their own ``save`` (weights and settings, read back by their
    format string without pickles); others with joblib. What the model's outer fold fitted
    before it is written beside it: a nested feature stage (e.g. the association filter and
    Gene-PCA of the fold) with joblib, a quantitative model's training-fold scaling as plain
    arrays.
    """
    import joblib

    from genoapp.workflows.protocol import FittedModel

    entry: dict = {}
    inner = est
    if isinstance(est, FittedModel):
        inner = est.model
        entry["trait_index"] = est.trait_index
        if est.stage is not None:
            joblib.dump(est.stage, folder / f"{stem}.stage.joblib")
            entry["stage"] = f"models/{stem}.stage.joblib"
        if est.scaler is not None:
            sc = est.scaler
            np.savez(folder / f"{stem}.scaler.npz", x_mean=sc.x_mean_, x_scale=sc.x_scale_,
                     y_mean=sc.y_mean_, y_scale=sc.y_scale_)
            entry["scaler"] = f"models/{stem}.scaler.npz"
    if callable(getattr(inner, "save", None)) and callable(getattr(type(inner), "load", None)):
        inner.save(folder / f"{stem}.pt")
        entry.update(file=f"models/{stem}.pt", format="torch")
    else:
        joblib.dump(inner, folder / f"{stem}.joblib")
        entry.update(file=f"models/{stem}.joblib", format="joblib")
    entry["class"] = type(inner).__name__
    return entry


def save_run(result, root=None, *, projectors: dict | None = None,
             samples: pd.DataFrame | None = None, inputs: dict | None = None, label: str = "",
             extra: dict | None = None, log: list | None = None) -> Path:
    """Save a :class:`genoapp.workflows.ProtocolResult` (either task) as a run directory.

    Parameters
    ----------
    result : ProtocolResult
    root : path-like, optional
        Parent folder of runs (default :func:`default_runs_dir`); created if needed.
    projectors : dict of str -> FeatureProjector, optional
        One per input of ``result`` (feature inputs and ``"SNPs"``), to predict new samples;
        inputs without one can be reopened but not used on new individuals.
    samples : pandas.DataFrame, optional
        ``FID``, ``IID`` of every row of the inputs.
    inputs : dict of str -> array, optional
        The input matrices, only to record their SHA-256, shape and dtype.
    label : str
        Short human label ("demo Gene-PCA vs All-PCA").
    extra : dict, optional
        More record entries (cohort name, QC/feature settings, ``pipeline_config``, device
        description...).
    log : list of str, optional
        Lines of the analysis log (:func:`genoapp.logs.capture_log`), saved as ``run.log``.

    Returns
    -------
    pathlib.Path
        The run directory.

    Raises
    ------
    StorageError
        The disk is full, or the folder is read-only or not writable (nothing is left behind).
    """
    root = Path(root) if root is not None else default_runs_dir()
    check_writable(root, what="the runs folder", min_free=1_000_000)
    projectors = projectors or {}
    now = _dt.datetime.now()
    run_id = f"{now:%Y%m%d-%H%M%S}-{_slug(label or 'run', 30)}-{secrets.token_hex(3)}"
    with atomic_path(root / run_id, directory=True, what="the run") as tmp:
        _write_run(tmp, result, run_id=run_id, now=now, projectors=projectors, samples=samples,
                   inputs=inputs, label=label, extra=extra, log=log)
    return root / run_id


def _write_run(tmp: Path, result, *, run_id, now, projectors, samples, inputs, label, extra, log):
    import joblib

    (tmp / "models").mkdir()
    (tmp / "preprocess").mkdir()
    kind = KINDS[result.task]
    models = []
    for k, est in result.estimators.items():
        entry = _save_estimator(est, tmp / "models", _model_stem(k))
        spec = result.models.get(k.key)
        models.append({"key": k.key, "name": spec.name if spec else k.key, "input": k.input,
                       "trait": k.trait, "repeat": int(k.repeat), "fold": int(k.fold),
                       "seed": int(k.seed), **entry,
                       "device": str(getattr(est, "device_", "cpu"))})
    pre = {}
    for name in result.inputs:
        if name in projectors:
            fname = f"preprocess/{_slug(name, 30)}.joblib"
            joblib.dump(projectors[name], tmp / fname)
            pre[name] = fname
    cov_record = None
    cov = getattr(result, "covariates", None)
    if cov is not None:  # the coding new individuals need (Run.predict)
        from genoapp.workflows.protocol import SNP_INPUT

        joblib.dump(cov, tmp / "preprocess" / "covariates.joblib")
        cov.dropped.to_csv(tmp / "covariate_dropped.csv", index=False)
        cov_record = {**cov.describe(), "file": "preprocess/covariates.joblib",
                      "inputs": [n for n in result.inputs if n != SNP_INPUT]}
    cfg = {"protocol": result.config.to_dict(),
           "models": {k: s.describe() for k, s in result.models.items()}}
    _write_json(tmp / "config.json", cfg)
    result.metrics.to_csv(tmp / "metrics.csv", index=False)
    result.summary().to_csv(tmp / "summary.csv", index=False)
    result.fold_metrics.to_csv(tmp / "fold_metrics.csv", index=False)
    ids = samples.reset_index(drop=True) if samples is not None else None
    labels = (extra or {}).get("_labels")
    pred = result.predictions.copy()
    if ids is not None and len(pred):
        rows = pred["row"].to_numpy(dtype=np.int64)
        pred.insert(8, "FID", ids["FID"].to_numpy()[rows])
        pred.insert(9, "IID", ids["IID"].to_numpy()[rows])
    pred.to_csv(tmp / "predictions.csv", index=False)
    hist = [h.assign(key=k.key, input=k.input, trait=k.trait, repeat=int(k.repeat),
                     fold=int(k.fold), seed=int(k.seed)) for k, h in result.histories.items()]
    (pd.concat(hist, ignore_index=True) if hist else pd.DataFrame(
        columns=["key", "input", "trait", "repeat", "fold", "seed", "epoch"])).to_csv(
        tmp / "histories.csv", index=False)
    imp = []
    for key, inp, trait in result.importance_models():
        t = result.importance(key, inp, None if trait == "(all traits)" else trait)
        imp.append(t.assign(key=key, input=inp, trait=trait))
    if imp:
        pd.concat(imp, ignore_index=True).to_csv(tmp / "importance.csv", index=False)
    n_rows = None
    for a in (inputs or {}).values():
        n_rows = int(np.shape(a)[0])
        break
    if n_rows is None and ids is not None:
        n_rows = len(ids)
    if n_rows is not None:
        sdf = pd.DataFrame({"row": np.arange(n_rows)})
        if ids is not None:
            sdf["FID"] = ids["FID"].to_numpy()
            sdf["IID"] = ids["IID"].to_numpy()
        if result.task == "classification" and result.outer:
            sset = np.full(n_rows, "", dtype=object)
            sset[result.outer[0].train_idx] = "training"
            sset[result.outer[0].test_idx] = "test"
            sdf["set"] = sset
        if labels is not None:
            sdf["label"] = np.asarray(labels)
        sdf.to_csv(tmp / "samples.csv", index=False)
    if log:
        (tmp / "run.log").write_text("\n".join(log) + "\n")
    extra = {k: v for k, v in (extra or {}).items() if not k.startswith("_")}
    o0 = result.outer[0] if result.outer else None
    record = {
        "format": RUN_FORMAT, "format_version": RUN_FORMAT_VERSION, "run_id": run_id,
        "kind": kind, "task": result.task, "label": label,
        "created": now.isoformat(timespec="seconds"), "versions": versions(),
        "devices": sorted({m["device"] for m in models}),
        "seeds": sorted({int(f.seed) for f in result.outer}),
        "protocol": result.config.to_dict(),
        "traits": list(result.traits),
        "inputs": {name: {"shape": list(np.shape(a)), "dtype": str(np.asarray(a).dtype),
                          "sha256": array_sha256(a)} for name, a in (inputs or {}).items()},
        "outer": {"n_folds": len(result.outer),
                  "n_train": int(len(o0.train_idx)) if o0 is not None else None,
                  "n_test": int(len(o0.test_idx)) if o0 is not None else None,
                  "test_idx_sha256": [array_sha256(f.test_idx) for f in result.outer]},
        "split": ({"n_train": int(len(o0.train_idx)), "n_test": int(len(o0.test_idx)),
                   "test_idx_sha256": array_sha256(o0.test_idx)}
                  if o0 is not None and result.task == "classification" else {}),
        "labels_sha256": None if labels is None else array_sha256(np.asarray(labels)),
        "stopped": bool(result.stopped), "notes": list(result.notes),
        "warnings": result.warnings(),
        "info": result.info, "seconds": float(result.seconds),
        "models": models, "preprocess": pre,
        **({"covariates": cov_record} if cov_record is not None else {}), **extra,
    }
    _write_json(tmp / "run.json", record)


# ------------------------------------------------------------------------------- listing
def list_runs(root=None) -> pd.DataFrame:
    """The saved runs under ``root`` (newest first).

    Returns
    -------
    pandas.DataFrame
        ``run_id``, ``created``, ``kind``, ``label``, ``models`` (display names), ``inputs``,
        ``seeds``, ``n_models`` (saved model files), ``best`` (best mean test ROC AUC, or r
        for quantitative runs: model, input), ``stopped``, ``path``. Empty (with these columns)
        when there is none. Hidden folders (runs being written, leftovers of killed runs: see
        :func:`incomplete_runs`) and folders without a readable ``run.json`` are skipped.
    """
    root = Path(root) if root is not None else default_runs_dir()
    cols = ["run_id", "created", "kind", "label", "models", "inputs", "seeds", "n_models", "best",
            "stopped", "path"]
    rows = []
    if root.is_dir():
        for d in root.iterdir():
            if not d.is_dir() or d.name.startswith(".") or d.is_symlink():
                continue
            try:
                rec = json.loads((d / "run.json").read_text())
            except (OSError, ValueError):
                continue
            if not isinstance(rec, dict) or rec.get("format") != RUN_FORMAT:
                continue
            best = ""
            try:
                summ = pd.read_csv(d / "summary.csv")
                metric = "roc_auc" if rec.get("kind", "casecontrol") == "casecontrol" else "r"
                if len(summ) and f"{metric}_mean" in summ:
                    r = summ.loc[summ[f"{metric}_mean"].idxmax()]
                    best = f"{r['model']} on {r['input']}: {metric} {r[metric]}"
            except (OSError, ValueError, KeyError, TypeError):
                pass
            ms = [m for m in rec.get("models", []) if isinstance(m, dict)]
            rows.append({"run_id": rec.get("run_id", d.name), "created": rec.get("created", ""),
                         "kind": rec.get("kind", "casecontrol"), "label": rec.get("label", ""),
                         "models": ", ".join(dict.fromkeys(str(m.get("name")) for m in ms)),
                         "inputs": ", ".join(dict.fromkeys(str(m.get("input")) for m in ms)),
                         "seeds": ", ".join(str(s) for s in rec.get("seeds", [])),
                         "n_models": len(ms), "best": best, "stopped": bool(rec.get("stopped")),
                         "path": str(d)})
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values("created", ascending=False, kind="stable").reset_index(drop=True)


def incomplete_runs(root=None) -> pd.DataFrame:
    """Leftovers of runs that were never completed (a killed process, power loss).

    Returns
    -------
    pandas.DataFrame
        ``folder``, ``modified`` (ISO time), ``reason``, ``path``: hidden ``.<run_id>.*.tmp``
        folders of runs still being written or killed while writing, and visible folders
        without a readable genoapp ``run.json``.
    """
    root = Path(root) if root is not None else default_runs_dir()
    rows = []
    if root.is_dir():
        for d in root.iterdir():
            if not d.is_dir() or d.is_symlink():
                continue
            when = _dt.datetime.fromtimestamp(d.stat().st_mtime).isoformat(timespec="seconds")
            if d.name.startswith(".") and d.name.endswith(".tmp"):
                rows.append({"folder": d.name, "modified": when,
                             "reason": "being written, or left by a run that was killed while "
                                       "saving", "path": str(d)})
            elif not d.name.startswith("."):
                try:
                    rec = json.loads((d / "run.json").read_text())
                    ok = isinstance(rec, dict) and rec.get("format") == RUN_FORMAT
                except (OSError, ValueError):
                    ok = False
                if not ok:
                    rows.append({"folder": d.name, "modified": when,
                                 "reason": "no readable genoapp run.json", "path": str(d)})
    return pd.DataFrame(rows, columns=["folder", "modified", "reason", "path"])


def remove_incomplete(root=None, *, older_than_s: float = 3600.0) -> list[str]:
    """Delete hidden leftovers of killed runs older than ``older_than_s`` seconds.

    Only ``.<name>.tmp`` folders are removed (never a visible folder).

    Returns
    -------
    list of str
        The folders removed.
    """
    root = Path(root) if root is not None else default_runs_dir()
    removed = []
    now = time.time()
    if root.is_dir():
        for d in root.iterdir():
            if d.is_dir() and not d.is_symlink() and d.name.startswith(".") and \
                    d.name.endswith(".tmp") and now - d.stat().st_mtime > older_than_s:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name)
    return removed


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.EmptyDataError):
        return pd.DataFrame()


# ------------------------------------------------------------------------------- reopening
@dataclasses.dataclass
class Run:
    """A saved run, reopened without retraining (:func:`open_run`).

    Attributes
    ----------
    path : pathlib.Path
    record : dict
        ``run.json``.
    config : dict
        ``config.json``.
    metrics, summary, fold_metrics, predictions, histories, samples, importance : DataFrame
        The saved tables (see the module docstring).
    log : str
        ``run.log`` ("" when absent).
    """

    path: Path
    record: dict
    config: dict
    metrics: pd.DataFrame
    summary: pd.DataFrame
    fold_metrics: pd.DataFrame
    predictions: pd.DataFrame
    histories: pd.DataFrame
    samples: pd.DataFrame
    importance: pd.DataFrame
    log: str = ""

    @property
    def kind(self) -> str:
        """``"casecontrol"`` or ``"quantitative"``."""
        return self.record.get("kind", "casecontrol")

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return self.record.get("task", "classification")

    @property
    def models(self) -> pd.DataFrame:
        """Saved models: ``key``, ``name``, ``input``, ``trait``, ``repeat``, ``fold``,
        ``seed``, ``file``, ``format``, ``class``, ``device``."""
        return pd.DataFrame(self.record.get("models", []))

    def _entry(self, key: str, input: str, seed=None, *, trait=None, repeat=None,
               fold=None) -> dict:
        for m in self.record.get("models", []):
            if m["key"] == key and m["input"] == input and \
                    (seed is None or int(m["seed"]) == int(seed)) and \
                    (trait is None or m.get("trait") == trait) and \
                    (repeat is None or int(m.get("repeat", 1)) == int(repeat)) and \
                    (fold is None or int(m.get("fold", 1)) == int(fold)):
                return m
        raise InputDataError(
            f"run {self.record.get('run_id')}: no saved model {key!r} on {input!r}"
            + (f" with seed {seed}" if seed is not None else "") + ".")

    def load_model(self, key: str, input: str, seed=None, *, trait=None, repeat=None, fold=None,
                   device: str = "auto"):
        """The fitted estimator (torch models onto ``device``; quantitative models wrapped with
        their fold's scaling, predicting raw inputs in trait units).

        Raises
        ------
        InputDataError
            No such model, a model path outside the run folder, or an unreadable file.
        """
        m = self._entry(key, input, seed, trait=trait, repeat=repeat, fold=fold)
        path = resolve_inside(self.path, m["file"], what=f"model file of {m.get('name', key)}")
        if m.get("format", "torch" if str(m["file"]).endswith(".pt") else "joblib") == "torch":
            from genoapp.models.files import load_model_file

            est = load_model_file(path, device=device)
        else:
            import joblib

            est = joblib.load(path)
        if m.get("scaler") or m.get("stage") or m.get("trait_index") is not None:
            from genoapp.workflows.protocol import FittedModel, FoldScaler

            scaler = stage = None
            if m.get("stage"):
                import joblib

                stage = joblib.load(resolve_inside(self.path, m["stage"],
                                                   what="model feature-stage file"))
            if m.get("scaler"):
                sp = resolve_inside(self.path, m["scaler"], what="model scaling file")
                with np.load(sp, allow_pickle=False) as z:
                    scaler = FoldScaler()
                    scaler.x_mean_, scaler.x_scale_ = z["x_mean"], z["x_scale"]
                    scaler.y_mean_, scaler.y_scale_ = z["y_mean"], z["y_scale"]
            est = FittedModel(est, stage=stage, scaler=scaler, trait_index=m.get("trait_index"))
        return est

    def projector(self, input: str):
        """The :class:`FeatureProjector` of an input.

        Raises
        ------
        InputDataError
            None saved for ``input`` (e.g. quantitative inputs with pedigree loadings, which
            new individuals do not have), or a path outside the run folder.
        """
        import joblib

        rel = self.record.get("preprocess", {}).get(input)
        if rel is None:
            extra = (" Inputs with pedigree loadings need the new individuals in the pedigree; "
                     "use a model trained on markers only." if "loadings" in input else "")
            raise InputDataError(
                f"run {self.record.get('run_id')}: no preprocessing saved for {input!r}, so its "
                f"models cannot score new individuals.{extra}")
        proj = joblib.load(resolve_inside(self.path, rel, what=f"preprocessing of {input!r}"))
        gpca = getattr(proj, "transformer", None)
        if gpca is not None and str(getattr(gpca, "device_", "cpu")).startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                gpca.device_ = "cpu"
        return proj

    def covariate_names(self, input: str | None = None) -> list[str]:
        """Sample-table covariates the models (of ``input``) take as inputs ([] when none)."""
        cov = self.record.get("covariates") or {}
        if input is not None and input not in cov.get("inputs", []):
            return []
        return list(cov.get("names", []))

    def covariate_coding(self):
        """The :class:`genoapp.features.CovariateInputs` of a run trained with covariates as
        inputs (None otherwise).

        Raises
        ------
        InputDataError
            A coding path outside the run folder, or an unreadable file.
        """
        cov = self.record.get("covariates") or {}
        if not cov.get("file"):
            return None
        import joblib

        return joblib.load(resolve_inside(self.path, cov["file"], what="covariate coding"))

    def scores(self, key: str, input: str, seed: int) -> pd.DataFrame:
        """Saved test rows of one case/control model: ``row``, ``label``, ``score``,
        ``prediction``."""
        p = self.predictions
        sel = (p["key"] == key) & (p["input"] == input) & (p["seed"] == int(seed))
        return p[sel].reset_index(drop=True)

    def predict(self, genotypes, *, key: str, input: str, seed=None, trait=None, repeat=None,
                fold=None, device: str = "auto", sample_idx=None, read_options=None,
                ambiguous: str = "keep", variant_table: bool = False, covariates=None):
        """Score new individuals with a saved model.

        The new genotypes are harmonised to the run's QC'd variant list
        (:func:`genoapp.runs.projection.harmonise_variants`: located by chrom:pos:alleles, else
        by variant ID; A1/A2 swaps and strand flips aligned; strand-ambiguous A/T and C/G SNPs
        kept or dropped), then imputed with the **training** means and projected exactly as in
        training (:class:`genoapp.runs.projection.FeatureProjector`).

        Parameters
        ----------
        genotypes : str, path-like or genoapp.io.PlinkGenotypes
            The new individuals' genotypes, in any variant order: a PLINK 1 prefix or ``.bed``
            (the dosage counts A1, .bim column 5), or a ``.vcf``/``.vcf.gz``, ``.bcf``,
            ``.pgen`` (+ ``.pvar``/``.psam``) or ``.bgen`` (+ ``.sample``) file, opened with
            :func:`genoapp.io.open_genotypes` (converted once to a cached PLINK 1 copy whose
            dosage counts the **ALT** allele, A1 = ALT), or an already opened handle. Whatever
            allele the file counts, the model receives copies of the run's saved A1.
        key, input : str
            Which saved model (with ``seed``, ``trait``, ``repeat``, ``fold`` as needed).
        device : str, default "auto"
        sample_idx : array-like of int, optional
            Rows of the sample table (.fam, .psam, VCF samples...) to predict (default all).
        read_options : genoapp.io.formats.ReadOptions, optional
            How to read a VCF/BCF, .pgen or BGEN path (sample IDs, GT or DS dosages,
            multi-allelic records, FILTER/QUAL); ignored for PLINK 1 input and for a handle.
        ambiguous : {"keep", "drop"}, default "keep"
            Strand-ambiguous (A/T, C/G) SNPs found with the same allele labels: used at face
            value, or set missing and imputed with the training means.
        variant_table : bool, default False
            Also return the per-variant harmonisation table.
        covariates : pandas.DataFrame, str or path-like, optional
            Models trained with covariates as inputs (``run.json`` key ``covariates``; see
            :meth:`covariate_names`): the new individuals' covariate table (FID, IID and those
            columns; a file is read with :func:`genoapp.io.read_sample_table`), matched on
            FID and IID (else IID). The saved coding is applied: the training samples' levels
            and reference levels (a level unseen in training is an all-zero row), the
            training PCA of the genotypes for the PCs, the training means and SDs.

        Returns
        -------
        predictions : pandas.DataFrame
            ``FID``, ``IID`` (in the order of the file's samples) and, case/control,
            ``case_score`` (probability of a case, or the model's score) and ``prediction``
            (1 = case, 0 = control); quantitative, ``predicted`` (trait units).
        report : MatchReport
            The harmonisation report: variants used of the run's list and how they were
            located (chrom:pos:alleles or ID), A1/A2 swaps, strand flips, strand-ambiguous SNPs
            kept or dropped, variants absent or with other alleles, and the genotype entries
            imputed with the training means (:meth:`MatchReport.lines` says it in sentences).
        table : pandas.DataFrame
            Only with ``variant_table=True``: the run's variants (``chrom``, ``id``, ``pos``,
            ``A1``, ``A2``) with ``new_index`` (row in the new file, -1 if not used),
            ``status`` (:data:`genoapp.runs.projection.STATUSES`), ``flip`` and ``matched_by``
            (:meth:`VariantMatch.table`).

        Raises
        ------
        ConfigError
            ``ambiguous`` is not "keep" or "drop".
        InputDataError
            Unreadable genotypes, fewer than half of the run's variants found, or no
            preprocessing saved for ``input``; a model trained with covariates and no
            covariate table, a table without those columns (all named), new individuals absent
            from it or lacking a value.
        """
        from genoapp.errors import ConfigError
        from genoapp.io import PlinkGenotypes, open_genotypes
        from genoapp.runs.projection import AMBIGUOUS_POLICIES, align_genotypes, harmonise_variants
        from genoapp.workflows.protocol import case_scores

        if ambiguous not in AMBIGUOUS_POLICIES:  # before a long VCF/BGEN conversion
            raise ConfigError(f"ambiguous must be one of {AMBIGUOUS_POLICIES}; got {ambiguous!r}.")
        proj = self.projector(input)
        cov, cov_table = self._covariates_for(input, key, covariates)  # before reading genotypes
        opened = not isinstance(genotypes, PlinkGenotypes)
        g = open_genotypes(genotypes, options=read_options) if opened else genotypes
        try:
            G, report = align_genotypes(g, proj.variants, sample_idx=sample_idx,
                                        ambiguous=ambiguous)
            table = (harmonise_variants(proj.variants, g.variants, ambiguous=ambiguous)
                     .table(proj.variants) if variant_table else None)
            fam = g.samples if sample_idx is None else g.samples.iloc[np.asarray(sample_idx)]
        finally:
            if opened:
                g.close()
        X = proj.transform(G)
        if cov is not None:
            X = np.ascontiguousarray(np.column_stack(
                [X, _covariate_columns(cov, cov_table, fam, G)]), dtype=np.float32)
        model = self.load_model(key, input, seed, trait=trait, repeat=repeat, fold=fold,
                                device=device)
        out = pd.DataFrame({"FID": fam["FID"].to_numpy(), "IID": fam["IID"].to_numpy()})
        if self.task == "classification":
            out["case_score"] = case_scores(model, X)
            out["prediction"] = np.asarray(model.predict(X)).astype(np.int64)
        else:
            out["predicted"] = np.asarray(model.predict(X), dtype=np.float64)
        return (out, report, table) if variant_table else (out, report)


    def _covariates_for(self, input: str, key: str, covariates):
        """The saved coding and the new individuals' table, when ``input`` has covariates."""
        rec = self.record.get("covariates") or {}
        if input not in rec.get("inputs", []):
            return None, None
        cov = self.covariate_coding()
        if cov is None:
            raise InputDataError(f"run {self.record.get('run_id')}: the models on {input!r} were "
                                 "trained with covariates, but their coding was not saved.")
        if not cov.names:
            return cov, None  # PCs only: computed from the genotypes
        if covariates is None:
            raise InputDataError(
                f"The model {key!r} on {input!r} was trained with covariates as inputs: give the "
                f"new individuals' covariate table with the column"
                f"{'s' if len(cov.names) > 1 else ''} {', '.join(cov.names)} (FID, IID and "
                "those columns; covariates=...). Models trained without covariates need none.")
        if not isinstance(covariates, pd.DataFrame):
            from genoapp.io import read_sample_table

            covariates = read_sample_table(covariates, kind="covariate")
        cov.check_table(covariates)
        return cov, covariates


def _covariate_columns(cov, table, fam: pd.DataFrame, G) -> np.ndarray:
    """The saved covariate columns of the new individuals ``fam`` (rows of ``G``)."""
    rows = None
    if table is not None:
        if "IID" not in table.columns:
            raise InputDataError("The covariate table needs an IID column (and FID) to be matched "
                                 "with the genotypes' samples.")
        fid = table["FID"].astype(str) if "FID" in table.columns else table["IID"].astype(str)
        key_t = pd.Index((fid + "\x1f" + table["IID"].astype(str)).to_numpy())
        key_s = (fam["FID"].astype(str) + "\x1f" + fam["IID"].astype(str)).to_numpy()
        rows = key_t.get_indexer(key_s) if key_t.is_unique else np.full(len(fam), -1)
        if (rows < 0).any():  # FIDs differ: match on IID alone when it is unique
            iid = pd.Index(table["IID"].astype(str).to_numpy())
            if iid.is_unique:
                rows = iid.get_indexer(fam["IID"].astype(str).to_numpy())
        absent = np.flatnonzero(rows < 0)
        if absent.size:
            shown = ", ".join(fam["IID"].astype(str).to_numpy()[absent[:5]])
            raise InputDataError(
                f"{absent.size:,} of the {len(fam):,} new individuals are not in the covariate "
                f"table (e.g. {shown}); the models need their covariates "
                f"({', '.join(cov.names)}).")
        table = table.iloc[rows].reset_index(drop=True)
    if cov.n_pcs and G.shape[1] != cov.n_variants:
        raise InputDataError(f"Covariate PCs: {G.shape[1]} aligned variants, the run's PCA used "
                             f"{cov.n_variants}.")
    enc = cov.encode(table, G if cov.n_pcs else None)
    if not enc.complete.all():
        bad = np.flatnonzero(~enc.complete)
        shown = "; ".join(f"{fam['IID'].astype(str).to_numpy()[i]} ({enc.missing.iloc[i]})"
                          for i in bad[:5])
        raise InputDataError(
            f"{bad.size:,} new individuals lack a covariate value the models need (e.g. {shown}); "
            "give every covariate, or predict the others with sample_idx.")
    return enc.X


def _upgrade_v1(path: Path, rec: dict) -> pd.DataFrame:
    """Predictions table of a format-1 run (case/control only, ``test_scores.csv``)."""
    ts = _read_csv(path / "test_scores.csv")
    if len(ts):
        names = {m["key"]: m.get("name", m["key"]) for m in rec.get("models", [])}
        ts.insert(1, "model", ts["key"].map(names))
        ts["trait"] = "phenotype"
        ts["repeat"] = 1
        ts["fold"] = 1
    for m in rec.get("models", []):
        m.setdefault("trait", "phenotype")
        m.setdefault("repeat", 1)
        m.setdefault("fold", 1)
    rec.setdefault("kind", "casecontrol")
    rec.setdefault("task", "classification")
    return ts


def open_run(path) -> Run:
    """Reopen a run directory written by :func:`save_run`.

    Every file path in ``run.json`` is checked to stay inside the run folder before anything
    is read (:func:`genoapp.runs.safety.check_run_record_paths`).

    Raises
    ------
    InputDataError
        Not a run directory, written by a newer genoapp, or a path in ``run.json`` pointing
        outside the run folder.
    """
    path = Path(path)
    try:
        rec = json.loads((path / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{path}: not a genoapp run directory (no readable run.json).") from exc
    if not isinstance(rec, dict) or rec.get("format") != RUN_FORMAT:
        raise InputDataError(f"{path}: run.json is not a genoapp run record.")
    if rec.get("format_version", 0) > RUN_FORMAT_VERSION:
        raise InputDataError(f"{path}: written by a newer genoapp; upgrade to open it.")
    check_run_record_paths(path, rec)
    try:
        cfg = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        cfg = {}
    if rec.get("format_version", 1) < 2:
        predictions = _upgrade_v1(path, rec)
    else:
        predictions = _read_csv(path / "predictions.csv")
    try:
        log = (path / "run.log").read_text()
    except OSError:
        log = ""
    return Run(path=path, record=rec, config=cfg, metrics=_read_csv(path / "metrics.csv"),
               summary=_read_csv(path / "summary.csv"),
               fold_metrics=_read_csv(path / "fold_metrics.csv"), predictions=predictions,
               histories=_read_csv(path / "histories.csv"),
               samples=_read_csv(path / "samples.csv"),
               importance=_read_csv(path / "importance.csv"), log=log)


def check_runs_dir(root=None) -> Path:
    """Check before training that runs can be saved under ``root`` (writable, space free).

    Raises
    ------
    StorageError
        Not writable, read-only, or nearly full.
    """
    root = Path(root) if root is not None else default_runs_dir()
    return check_writable(root, what="the runs folder")



def resolve_runs_dir(value) -> Path:
    """A runs folder typed on a page, confined like every server path.

    Allowed: the default runs folder (:func:`default_runs_dir`, i.e. ``$GENOAPP_RUNS_DIR`` or
    ``~/genoapp_runs``) and folders inside it, and folders inside a data root
    (:func:`genoapp.io.roots.resolve_data_path`; ``root:relative`` accepted).

    Raises
    ------
    InputDataError
        A folder elsewhere (the message names the allowed places, not what is there).
    """
    from genoapp.io.roots import resolve_data_path

    text = str(value).strip()
    default = default_runs_dir().expanduser().resolve()
    if not text:
        return default
    p = Path(text).expanduser()
    if p.is_absolute():
        rp = p.resolve()
        if rp == default or default in rp.parents:
            return rp
    try:
        return resolve_data_path(text, what="runs folder")
    except InputDataError as exc:
        raise InputDataError(f"{exc} Runs can also be saved in the default runs folder {default} "
                             "(GENOAPP_RUNS_DIR).") from None
