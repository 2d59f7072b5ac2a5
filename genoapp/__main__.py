"""Command line: ``python -m genoapp <command>`` (headless runs on GPU nodes, reports, bundles).

Commands
--------
run       Run an analysis (case/control or quantitative traits) from a configuration (a JSON
          file written by ``config``, or a run directory / run.json saved by the app) or a
          preset, print progress, write the run directory (the same as the app's) and
          optionally its HTML report.
config    Print a preset configuration as JSON, or the configuration recorded in a run.
report    Write the self-contained HTML report of a run directory.
bundle    Zip a run directory (with its report) for sharing; ``--load`` unpacks one.
train-ddp Train DiseaseCapsule (``--model capsule``) or the MLP (``--model mlp``) on a feature
          matrix (.npz with X, y 0 = control / 1 = case, optional X_val, y_val; or a Zarr
          store) and write the model file; data-parallel (DistributedDataParallel) when started
          with ``torchrun --standalone --nproc_per_node N -m genoapp train-ddp ...``, in one
          process otherwise (:mod:`genoapp.models.ddp`).

``run --cluster`` says where the embarrassingly parallel jobs (outer folds × seeds × models,
permutation nulls...) run: ``in-process`` (default), ``local:N`` (a Dask ``LocalCluster`` of N
worker processes, started for the run and closed after it) or the address of a running Dask
scheduler (``tcp://host:8786``); results do not depend on it. The progress header shows the
setting, the number of workers and the Dask dashboard link; the run record stores them.

Before ``run`` starts on files, warnings about them (impossible base-pair positions, variant
IDs used more than once, trait columns without any value) are printed on stderr, as on the
app's Data page; they do not stop the run.

Exit status 0 on success, 2 on a configuration or input-data error (the message says which
file or setting), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _bar(fraction: float, width: int = 28) -> str:
    n = int(round(max(0.0, min(1.0, fraction)) * width))
    return "[" + "#" * n + "." * (width - n) + "]"


class _Printer:
    """Progress lines on stderr: the QC/feature steps and each model's fits and epochs."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self._last = ("", -1.0)

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(f"{time.perf_counter() - self.t0:7.1f} s  {text}", file=sys.stderr, flush=True)

    def header(self, executor) -> None:
        """Where the jobs run: the ``--cluster`` setting, its workers and dashboard link."""
        d = executor.describe()
        if not executor.distributed:
            self._say(f"{'Cluster':<9}{d['cluster']} (jobs run in this process)")
            return
        self._say(f"{'Cluster':<9}{d['cluster']}: {d['n_workers']} Dask worker(s)"
                  + (f", dashboard {d['dashboard']}" if d.get("dashboard") else ""))

    def step(self, step: str, fraction: float, message: str) -> None:
        key = (step, round(fraction, 1))
        if key != self._last:  # one line per 10 % of a step
            self._last = key
            self._say(f"{step:<9}{_bar(fraction)} {message}")

    def event(self, ev: dict) -> None:
        kind = ev.get("event")
        n = max(int(ev.get("n_tasks", 1) or 1), 1)
        frac = float(ev.get("task", 0)) / n
        what = (f"{ev.get('model', '')} on {ev.get('input', '')} ({ev.get('trait', '')}), "
                f"fold {ev.get('repeat', 1)}.{ev.get('fold_outer', 1)}, seed {ev.get('seed', '')}")
        if kind == "task_begin":
            self._say(f"{'Train':<9}{_bar(frac)} {what}")
        elif kind == "fit_begin" and ev.get("fold") == "final":
            self._say(f"{'Train':<9}{_bar(frac)} {what}: final fit on all training samples")
        elif kind == "task_end":
            m = ev.get("metrics") or {}
            shown = ", ".join(f"test {k} {v:.3f}" for k, v in m.items()
                              if k in ("accuracy", "roc_auc", "r") and v is not None)
            self._say(f"{'Train':<9}{_bar((ev.get('task', 0) + 1) / n)} {what}: done"
                      + (f", {shown}" if shown else ""))
        elif kind == "task_failed":
            self._say(f"{'Train':<9}{what}: FAILED: {ev.get('error')}")
        elif kind == "message":
            self._say(f"{'Train':<9}{ev.get('text', '')}")


def _data_check_warnings(data: dict) -> list[str]:
    """Pre-flight warnings about a run's input files (the Data page's "Data checks").

    Parameters
    ----------
    data : dict
        The ``data`` section of a run configuration, command-line overrides applied:
        ``source`` (``"demo"`` or ``"files"``), ``bed``, ``phenotypes``, ``covariates``
        (absolute or root-relative paths).

    Returns
    -------
    list of str
        :func:`genoapp.io.check_positions` warnings on the .bim, the duplicate variant-ID report
        (:func:`genoapp.io.duplicate_variant_ids_message`) and the trait columns without any
        value (:func:`genoapp.io.all_missing_messages`); empty for the demo data, and for files
        that cannot be read (the run itself then reports the problem).
    """
    from genoapp.errors import GenoappError
    from genoapp.io import (
        all_missing_messages,
        check_positions,
        duplicate_variant_ids,
        duplicate_variant_ids_message,
        from_root_relative,
        plink_paths,
        read_bim,
        read_sample_table,
    )

    if data.get("source") != "files" or not data.get("bed"):
        return []
    from genoapp.io.formats import detect_genotype_format

    if detect_genotype_format(data["bed"]) != "plink1":
        return []  # VCF/BCF/.pgen/BGEN: checked by the run after the conversion
    out: list[str] = []
    try:
        bim = plink_paths(from_root_relative(data["bed"]))[2]
        variants = read_bim(bim)
        out.extend(check_positions(variants))
        dup = duplicate_variant_ids_message(duplicate_variant_ids(variants),
                                            where=f"the .bim {bim.name}")
        if dup:
            out.append(dup)
    except (GenoappError, OSError):
        pass  # missing or unreadable fileset: the run reports it with its own message
    for key, kind in (("phenotypes", "phenotype"), ("covariates", "covariate")):
        if not data.get(key):
            continue
        try:
            table = read_sample_table(from_root_relative(data[key]), kind=kind)
        except (GenoappError, OSError):
            continue
        out.extend(all_missing_messages(table))
    return out


def _cmd_run(args) -> int:
    from genoapp.execution import ExecutionSetting, use_executor
    from genoapp.report import run_report_html
    from genoapp.runs import open_run, run_pipeline
    from genoapp.workflows.config import RunConfig, read_run_config
    from genoapp.workflows.presets import run_config

    cfg = RunConfig.from_dict(run_config(args.preset)) if args.preset else read_run_config(args.config)
    overrides = {k: v for k, v in (("bed", args.bed), ("phenotypes", args.pheno),
                                   ("covariates", args.covar), ("pedigree", args.pedigree),
                                   ("grm", args.grm)) if v}
    read = {k: v for k, v in (("id_delimiter", args.id_delimiter),
                              ("dosage_field", {"DS": "DS", "GT": None}.get(args.dosage or "", "unset")),
                              ("multiallelic", args.multiallelic),
                              ("filter_pass", False if args.keep_filtered else None),
                              ("min_qual", args.min_qual), ("bgen_ref", args.bgen_ref))
            if v is not None and v != "unset"}
    if read:
        overrides["genotype_options"] = {**(cfg.data.get("genotype_options") or {}), **read}
    if overrides.keys() - {"genotype_options"}:
        overrides["source"] = "files"
    if args.covariates is not None:  # covariates as model inputs (the Train page's choice)
        cfg.train = {**(cfg.train or {}), "covariates": [c.strip() for c in
                                                         args.covariates.split(",") if c.strip()]}
    if args.covariate_pcs is not None:
        cfg.train = {**(cfg.train or {}), "covariate_pcs": int(args.covariate_pcs)}
    for warning in _data_check_warnings({**cfg.data, **overrides}):  # before any work starts
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    if args.cluster is not None:
        cfg.execution = str(ExecutionSetting.parse(args.cluster))
    printer = _Printer(args.quiet)
    with use_executor(cfg.execution) as ex:  # a local cluster is closed after the run
        printer.header(ex)
        run_dir, result = run_pipeline(cfg, runs_dir=args.runs_dir,
                                       data_overrides=overrides or None, on_event=printer.event,
                                       progress=printer.step)
    print(result.table().to_string(index=False))
    print(f"run directory: {run_dir}")
    if args.report:
        from genoapp.fileio import atomic_write

        out = Path(args.report)
        atomic_write(out, run_report_html(open_run(run_dir)), what="the report")
        print(f"report: {out}")
    return 0


def _cmd_config(args) -> int:
    from genoapp.workflows.config import read_run_config
    from genoapp.workflows.presets import run_config

    cfg = read_run_config(args.run).to_dict() if args.run else run_config(args.preset or "teaching-demo")
    text = json.dumps(cfg, indent=2, default=list)
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    return 0


def _cmd_report(args) -> int:
    from genoapp.report import run_report_html
    from genoapp.runs import open_run

    run = open_run(args.run_dir)
    from genoapp.fileio import atomic_write

    out = Path(args.output or Path(args.run_dir) / "report.html")
    atomic_write(out, run_report_html(run), what="the report")
    print(f"report: {out}")
    return 0


def _cmd_bundle(args) -> int:
    from genoapp.runs import load_bundle, make_bundle

    if args.load:
        print(f"run directory: {load_bundle(Path(args.path), args.runs_dir)}")
        return 0
    from genoapp.fileio import atomic_write

    out = Path(args.output or f"{Path(args.path).resolve().name}.zip")
    data = make_bundle(args.path)
    atomic_write(out, data, what="the bundle")  # never a half-written bundle
    print(f"bundle: {out} ({len(data) / 1e6:.1f} MB)")
    return 0


def _cmd_train_ddp(args) -> int:
    from genoapp.models.ddp import distributed_env, fit_ddp, make_estimator, read_feature_arrays

    data = read_feature_arrays(args.features)
    est = make_estimator(args.model, args.params, random_state=args.seed)
    env = distributed_env()
    if env is None and not args.quiet:
        print("train-ddp: not started by torchrun (RANK/WORLD_SIZE unset): training in one "
              "process. For data-parallel training run: torchrun --standalone "
              "--nproc_per_node N -m genoapp train-ddp ...", file=sys.stderr, flush=True)
    fit_ddp(est, data["X"], data["y"], X_val=data["X_val"], y_val=data["y_val"],
            out=args.out, verbose=not args.quiet)
    if env is None or env[0] == 0:
        print(f"model: {args.out}")
    if env is not None:
        # under torchrun: the work is done and the process group destroyed; leave without
        # Python's interpreter teardown, during which gloo's C++ threads sometimes abort a
        # process ("terminate called without an active exception", seen on a loaded machine),
        # which torchrun would report as a failed run
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def main(argv=None) -> int:
    """Entry point of ``python -m genoapp``; returns the exit status."""
    from genoapp.workflows.presets import RUN_CONFIGS

    ap = argparse.ArgumentParser(prog="python -m genoapp", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the pipeline from a configuration or a preset")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="JSON configuration, or a run directory / run.json saved by the app")
    src.add_argument("--preset", choices=sorted(RUN_CONFIGS))
    r.add_argument("--runs-dir", help="where to write the run directory (default ~/genoapp_runs or $GENOAPP_RUNS_DIR)")
    r.add_argument("--genotypes", "--bed", dest="bed",
                   help="genotypes: PLINK 1 prefix/.bed, .vcf[.gz], .bcf, .pgen or .bgen (replaces "
                        "the configuration's; needed for uploaded files)")
    r.add_argument("--id-delimiter", help="VCF/BGEN sample IDs: split FID<d>IID at this character "
                                          "(default: FID = IID = the sample ID)")
    r.add_argument("--dosage", choices=["GT", "DS"],
                   help="VCF/.pgen: hard calls (GT, default) or imputed dosages (DS)")
    r.add_argument("--multiallelic", choices=["skip", "split"],
                   help="VCF/.pgen records with several ALT alleles (default skip)")
    r.add_argument("--keep-filtered", action="store_true",
                   help="VCF/BCF: also read records whose FILTER is not PASS")
    r.add_argument("--min-qual", type=float, help="VCF/BCF: skip records with QUAL below this")
    r.add_argument("--bgen-ref", choices=["first", "last"],
                   help="BGEN: which allele of a record is REF (default first)")
    r.add_argument("--pheno", help="phenotype table (replaces the configuration's)")
    r.add_argument("--covar", help="covariate table (replaces the configuration's)")
    r.add_argument("--pedigree", help="pedigree file (quantitative runs; replaces the configuration's)")
    r.add_argument("--grm", help="GCTA GRM prefix (quantitative runs; replaces the configuration's)")
    r.add_argument("--covariates", metavar="COL[,COL...]",
                   help="sample-table columns appended to every model input (coded on the "
                        "training samples; samples lacking a value are left out); '' = none")
    r.add_argument("--covariate-pcs", type=int, metavar="K",
                   help="also append K PCs of the genotypes (case/control: a PCA of the "
                        "training samples, projected onto the others)")
    r.add_argument("--cluster", metavar="SETTING",
                   help="where the jobs run: 'in-process' (default), 'local:N' (a Dask cluster "
                        "of N worker processes) or a Dask scheduler address 'tcp://host:8786' "
                        "(replaces the configuration's 'execution')")
    r.add_argument("--report", help="also write the HTML report to this file")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.set_defaults(func=_cmd_run)

    c = sub.add_parser("config", help="print a preset configuration, or the one recorded in a run")
    c.add_argument("--preset", choices=sorted(RUN_CONFIGS))
    c.add_argument("--run", help="run directory or run.json")
    c.add_argument("-o", "--output", help="write to this file instead of printing")
    c.set_defaults(func=_cmd_config)

    p = sub.add_parser("report", help="write the HTML report of a run directory")
    p.add_argument("run_dir")
    p.add_argument("-o", "--output", help="file (default <run_dir>/report.html)")
    p.set_defaults(func=_cmd_report)

    b = sub.add_parser("bundle", help="zip a run directory, or --load a bundle")
    b.add_argument("path", help="run directory (or, with --load, the .zip)")
    b.add_argument("-o", "--output", help="zip file (default <run_id>.zip)")
    b.add_argument("--load", action="store_true", help="unpack a bundle into the runs folder")
    b.add_argument("--runs-dir", help="runs folder for --load")
    b.set_defaults(func=_cmd_bundle)

    t = sub.add_parser("train-ddp", help="train DiseaseCapsule or the MLP on a feature matrix, "
                                         "data-parallel under torchrun")
    t.add_argument("--features", required=True,
                   help=".npz (or Zarr store) with X (n, F), y (n,) 0 = control / 1 = case, "
                        "optional X_val, y_val")
    t.add_argument("--model", choices=["capsule", "mlp"], default="capsule")
    t.add_argument("--params", default="{}",
                   help="hyper-parameters as a JSON object, e.g. '{\"epochs\": 10, \"batch_size\": "
                        "64}'; batch_size is the global batch (a multiple of the processes)")
    t.add_argument("--out", required=True, help="model file to write (process 0, atomically)")
    t.add_argument("--seed", type=int, help="random_state (replaces the one in --params)")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    t.set_defaults(func=_cmd_train_ddp)

    args = ap.parse_args(argv)
    from genoapp.errors import GenoappError

    try:
        return args.func(args)
    except GenoappError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.exit(main())
