"""Run directories: every trained model saved with its config, record and results.

Layout of ``<root>/<run_id>/`` (``run_id = YYYYmmdd-HHMMSS-<label>-<6 hex>``)::

    run.json             record: versions, device, seeds, protocol config, input hashes,
                         split, notes, the list of saved models (written last)
    config.json          the protocol config and the preset/overrides used
    metrics.csv          test metrics per model, input and seed
    summary.csv          mean ± SD over seeds (the comparison table)
    fold_metrics.csv     validation metrics of every tuning fit
    test_scores.csv      long table: sample, label, model, input, seed, score, prediction
    histories.csv        per-epoch logs of the torch models
    samples.csv          FID, IID, set (training/test), label of every sample
    models/<key>__<input>__seed<k>.pt       torch state_dict files (DiseaseCapsule, MLP, CNN)
    models/<key>__<input>__seed<k>.joblib   scikit-learn models (and the PRS models)
    preprocess/<input>.joblib               FeatureProjector (QC variant list, imputation,
                                            projection fitted on the training samples)

Writes are atomic: the whole directory is written under ``<root>/.<run_id>.tmp`` and renamed
in one step, so :func:`list_runs` never sees a half-written run. Joblib files are pickles:
open runs from trusted sources only.
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
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError

__all__ = ["default_runs_dir", "array_sha256", "save_run", "list_runs", "open_run", "Run",
           "RUN_FORMAT"]

RUN_FORMAT = "genoapp.run"
RUN_FORMAT_VERSION = 1
_TORCH_CLASSES = ("DiseaseCapsuleClassifier", "TorchMLPClassifier", "TorchCNNClassifier")


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


def _versions() -> dict:
    import sklearn
    import torch

    import genoapp

    return {"genoapp": getattr(genoapp, "__version__", "unknown"), "python": sys.version.split()[0],
            "numpy": np.__version__, "pandas": pd.__version__, "torch": torch.__version__,
            "scikit-learn": sklearn.__version__, "platform": platform.platform()}


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    return str(o)


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, default=_json_default, allow_nan=True))


def _model_file(key: str, input_name: str, seed: int) -> str:
    return f"{key}__{_slug(input_name, 30)}__seed{int(seed)}"


def save_run(result, root=None, *, projectors: dict, samples: pd.DataFrame | None = None,
             y=None, inputs: dict | None = None, label: str = "", extra: dict | None = None) -> Path:
    """Save a :class:`genoapp.train.protocol.ProtocolResult` as a run directory, atomically.

    Parameters
    ----------
    result : ProtocolResult
    root : path-like, optional
        Parent folder of runs (default :func:`default_runs_dir`); created if needed.
    projectors : dict of str -> FeatureProjector
        One per input of ``result`` (feature inputs and ``"SNPs"``), to predict new samples.
    samples : pandas.DataFrame, optional
        ``FID``, ``IID`` of every row of the inputs (same order as ``y``).
    y : array-like, optional
        Labels of every row (for ``samples.csv`` and the record's hash).
    inputs : dict of str -> array, optional
        The input matrices, only to record their SHA-256, shape and dtype.
    label : str
        Short human label ("demo Gene-PCA vs All-PCA").
    extra : dict, optional
        More record entries (cohort name, files, QC/feature settings, device description...).

    Returns
    -------
    pathlib.Path
        The run directory.

    Raises
    ------
    ConfigError
        A result input without projector.
    """
    import joblib

    root = Path(root) if root is not None else default_runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    used_inputs = sorted(set(result.metrics["input"])) if len(result.metrics) else []
    missing = [i for i in used_inputs if i not in projectors]
    if missing:
        raise ConfigError(f"save_run: no projector for input(s) {missing}; pass one per input.")
    now = _dt.datetime.now()
    run_id = f"{now:%Y%m%d-%H%M%S}-{_slug(label or 'run', 30)}-{secrets.token_hex(3)}"
    tmp = root / f".{run_id}.tmp"
    final = root / run_id
    tmp.mkdir(parents=True)
    try:
        (tmp / "models").mkdir()
        (tmp / "preprocess").mkdir()
        models = []
        for (key, inp, seed), est in result.estimators.items():
            stem = _model_file(key, inp, seed)
            cls = type(est).__name__
            if cls in _TORCH_CLASSES and hasattr(est, "save"):
                fname = f"{stem}.pt"
                est.save(tmp / "models" / fname)
            else:
                fname = f"{stem}.joblib"
                joblib.dump(est, tmp / "models" / fname)
            spec = result.models.get(key)
            models.append({"key": key, "name": spec.name if spec else key, "input": inp,
                           "seed": int(seed), "file": f"models/{fname}", "class": cls,
                           "device": getattr(est, "device_", "cpu")})
        pre = {}
        for name in used_inputs:
            fname = f"preprocess/{_slug(name, 30)}.joblib"
            joblib.dump(projectors[name], tmp / fname)
            pre[name] = fname
        cfg = {"protocol": result.config.to_dict(),
               "models": {k: {"name": s.name, "params": s.params, "grid": s.grid, "input": s.input,
                              "upsample": s.upsample}
                          for k, s in result.models.items()}}
        _write_json(tmp / "config.json", cfg)
        result.metrics.to_csv(tmp / "metrics.csv", index=False)
        result.summary().to_csv(tmp / "summary.csv", index=False)
        result.fold_metrics.to_csv(tmp / "fold_metrics.csv", index=False)
        ids = None
        if samples is not None:
            ids = samples.reset_index(drop=True)
        rows = []
        for (key, inp, seed), sc in result.test_scores.items():
            pred = result.test_predictions[(key, inp, seed)]
            part = pd.DataFrame({"row": result.test_idx, "label": result.y_test, "key": key,
                                 "input": inp, "seed": int(seed), "score": sc, "prediction": pred})
            if ids is not None:
                part.insert(1, "IID", ids["IID"].to_numpy()[result.test_idx])
                part.insert(1, "FID", ids["FID"].to_numpy()[result.test_idx])
            rows.append(part)
        (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            columns=["row", "label", "key", "input", "seed", "score", "prediction"])
         ).to_csv(tmp / "test_scores.csv", index=False)
        hist = [h.assign(key=k, input=i, seed=int(s)) for (k, i, s), h in result.histories.items()]
        (pd.concat(hist, ignore_index=True) if hist else pd.DataFrame(
            columns=["key", "input", "seed", "epoch"])).to_csv(tmp / "histories.csv", index=False)
        n_rows = len(y) if y is not None else (len(ids) if ids is not None else None)
        if n_rows is not None:
            sset = np.full(n_rows, "", dtype=object)
            sset[result.train_idx] = "training"
            sset[result.test_idx] = "test"
            sdf = pd.DataFrame({"row": np.arange(n_rows), "set": sset})
            if ids is not None:
                sdf.insert(1, "FID", ids["FID"].to_numpy())
                sdf.insert(2, "IID", ids["IID"].to_numpy())
            if y is not None:
                sdf["label"] = np.asarray(y)
            sdf.to_csv(tmp / "samples.csv", index=False)
        record = {
            "format": RUN_FORMAT, "format_version": RUN_FORMAT_VERSION, "run_id": run_id,
            "label": label, "created": now.isoformat(timespec="seconds"),
            "versions": _versions(),
            "devices": sorted({m["device"] for m in models}),
            "seeds": list(result.config.seeds),
            "protocol": result.config.to_dict(),
            "inputs": {name: {"shape": list(np.shape(a)), "dtype": str(np.asarray(a).dtype),
                              "sha256": array_sha256(a)} for name, a in (inputs or {}).items()},
            "labels_sha256": array_sha256(np.asarray(y)) if y is not None else None,
            "split": {"n_train": int(len(result.train_idx)), "n_test": int(len(result.test_idx)),
                      "test_idx_sha256": array_sha256(result.test_idx)},
            "stopped": bool(result.stopped), "notes": list(result.notes),
            "models": models, "preprocess": pre, **(extra or {}),
        }
        _write_json(tmp / "run.json", record)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def list_runs(root=None) -> pd.DataFrame:
    """The saved runs under ``root`` (newest first).

    Returns
    -------
    pandas.DataFrame
        ``run_id``, ``created``, ``label``, ``models`` (display names), ``inputs``, ``seeds``,
        ``n_models`` (saved model files), ``best`` (best mean test accuracy: model, input),
        ``stopped``, ``path``. Empty (with these columns) when there is none. Folders without
        a readable ``run.json`` (half-written, foreign) are skipped.
    """
    root = Path(root) if root is not None else default_runs_dir()
    cols = ["run_id", "created", "label", "models", "inputs", "seeds", "n_models", "best",
            "stopped", "path"]
    rows = []
    if root.is_dir():
        for d in root.iterdir():
            if not d.is_dir() or d.name.startswith("."):
                continue
            try:
                rec = json.loads((d / "run.json").read_text())
            except (OSError, ValueError):
                continue
            if rec.get("format") != RUN_FORMAT:
                continue
            best = ""
            try:
                summ = pd.read_csv(d / "summary.csv")
                if len(summ):
                    r = summ.loc[summ["accuracy_mean"].idxmax()]
                    best = f"{r['model']} on {r['input']}: {r['accuracy']}"
            except (OSError, ValueError, KeyError):
                pass
            ms = rec.get("models", [])
            rows.append({"run_id": rec.get("run_id", d.name), "created": rec.get("created", ""),
                         "label": rec.get("label", ""),
                         "models": ", ".join(dict.fromkeys(m["name"] for m in ms)),
                         "inputs": ", ".join(dict.fromkeys(m["input"] for m in ms)),
                         "seeds": ", ".join(str(s) for s in rec.get("seeds", [])),
                         "n_models": len(ms), "best": best, "stopped": bool(rec.get("stopped")),
                         "path": str(d)})
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values("created", ascending=False, kind="stable").reset_index(drop=True)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.EmptyDataError):
        return pd.DataFrame()


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
    metrics, summary, fold_metrics, test_scores, histories, samples : pandas.DataFrame
        The saved tables (see the module docstring).
    """

    path: Path
    record: dict
    config: dict
    metrics: pd.DataFrame
    summary: pd.DataFrame
    fold_metrics: pd.DataFrame
    test_scores: pd.DataFrame
    histories: pd.DataFrame
    samples: pd.DataFrame

    @property
    def models(self) -> pd.DataFrame:
        """Saved models: ``key``, ``name``, ``input``, ``seed``, ``file``, ``class``, ``device``."""
        return pd.DataFrame(self.record.get("models", []))

    def _entry(self, key: str, input: str, seed: int) -> dict:
        for m in self.record.get("models", []):
            if m["key"] == key and m["input"] == input and int(m["seed"]) == int(seed):
                return m
        raise InputDataError(
            f"run {self.record.get('run_id')}: no saved model {key!r} on {input!r} with seed {seed}."
        )

    def load_model(self, key: str, input: str, seed: int, *, device: str = "auto"):
        """The fitted estimator (torch models onto ``device``)."""
        m = self._entry(key, input, seed)
        path = self.path / m["file"]
        if m["class"] == "DiseaseCapsuleClassifier":
            from genoapp.models import DiseaseCapsuleClassifier
            return DiseaseCapsuleClassifier.load(path, device=device)
        if m["class"] == "TorchMLPClassifier":
            from genoapp.models import TorchMLPClassifier
            return TorchMLPClassifier.load(path, device=device)
        if m["class"] == "TorchCNNClassifier":
            from genoapp.models import TorchCNNClassifier
            return TorchCNNClassifier.load(path, device=device)
        import joblib
        if not path.is_file():
            raise InputDataError(f"{path}: model file missing from the run directory.")
        return joblib.load(path)

    def projector(self, input: str):
        """The :class:`FeatureProjector` of an input."""
        import joblib
        rel = self.record.get("preprocess", {}).get(input)
        if rel is None:
            raise InputDataError(f"run {self.record.get('run_id')}: no preprocessing saved for {input!r}.")
        proj = joblib.load(self.path / rel)
        gpca = getattr(proj, "transformer", None)
        if gpca is not None and str(getattr(gpca, "device_", "cpu")).startswith("cuda"):
            import torch
            if not torch.cuda.is_available():
                gpca.device_ = "cpu"
        return proj

    def scores(self, key: str, input: str, seed: int) -> pd.DataFrame:
        """Saved test rows of one model: ``row``, ``label``, ``score``, ``prediction``."""
        ts = self.test_scores
        sel = (ts["key"] == key) & (ts["input"] == input) & (ts["seed"] == int(seed))
        return ts[sel].reset_index(drop=True)

    def predict(self, genotypes, *, key: str, input: str, seed: int, device: str = "auto",
                sample_idx=None):
        """Predict new individuals with a saved model.

        Parameters
        ----------
        genotypes : str, path-like or genoapp.io.PlinkGenotypes
            The new individuals' PLINK fileset (any variant order; matched to the run's QC'd
            variant list by id or position, alleles aligned).
        key, input, seed : str, str, int
            Which saved model.
        device : str, default "auto"
        sample_idx : array-like of int, optional
            Rows of the .fam to predict (default all).

        Returns
        -------
        predictions : pandas.DataFrame
            ``FID``, ``IID``, ``case_score`` (probability of a case, or the model's score),
            ``prediction`` (1 = case, 0 = control).
        report : MatchReport
            Variant matching counts.
        """
        from genoapp.io import PlinkGenotypes, open_plink
        from genoapp.runs.projection import align_genotypes
        from genoapp.train.protocol import case_scores

        g = genotypes if isinstance(genotypes, PlinkGenotypes) else open_plink(genotypes)
        proj = self.projector(input)
        G, report = align_genotypes(g, proj.variants, sample_idx=sample_idx)
        X = proj.transform(G)
        model = self.load_model(key, input, seed, device=device)
        fam = g.samples if sample_idx is None else g.samples.iloc[np.asarray(sample_idx)]
        out = pd.DataFrame({"FID": fam["FID"].to_numpy(), "IID": fam["IID"].to_numpy(),
                            "case_score": case_scores(model, X),
                            "prediction": np.asarray(model.predict(X)).astype(np.int64)})
        return out, report


def open_run(path) -> Run:
    """Reopen a run directory written by :func:`save_run`.

    Raises
    ------
    InputDataError
        Not a run directory, or written by a newer genoapp.
    """
    path = Path(path)
    try:
        rec = json.loads((path / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{path}: not a genoapp run directory (no readable run.json).") from exc
    if rec.get("format") != RUN_FORMAT:
        raise InputDataError(f"{path}: run.json is not a genoapp run record.")
    if rec.get("format_version", 0) > RUN_FORMAT_VERSION:
        raise InputDataError(f"{path}: written by a newer genoapp; upgrade to open it.")
    try:
        cfg = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        cfg = {}
    return Run(path=path, record=rec, config=cfg, metrics=_read_csv(path / "metrics.csv"),
               summary=_read_csv(path / "summary.csv"),
               fold_metrics=_read_csv(path / "fold_metrics.csv"),
               test_scores=_read_csv(path / "test_scores.csv"),
               histories=_read_csv(path / "histories.csv"),
               samples=_read_csv(path / "samples.csv"))
