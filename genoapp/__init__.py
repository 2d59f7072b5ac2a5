"""genoapp: from genotype files to deep-learning predictions of phenotype and the genes behind them.

The back-end package of the genoapp Streamlit application. It never imports streamlit (only
:mod:`genoapp.ui`, ``pages/`` and ``app.py`` do), so every step can be run headless (the
CLI: ``python -m genoapp``).

Layers, lowest first (a module imports only from its own layer and the layers below; a test
builds the import graph and enforces it, with no cycle)
--------------------------------------------------------------------------------------------
base        ``errors`` (the error hierarchy), ``logs`` (package logger, run log), ``fileio``
            (the one atomic-write helper, disk-full and read-only errors), ``execution`` (where
            jobs run: this process or Dask), ``device`` (CUDA or CPU).
io          PLINK bed/bim/fam via bed-reader, phenotype/covariate tables, gene tables, pedigrees,
            GRMs, ID reports, data roots and sanity checks; ``cohort`` (the one genotype
            container, also for relationships and QC'd subsets); ``metrics``; ``simulate``.
qc          Call rates, MAF, HWE, differential missingness (PLINK 1.9 semantics), batch-effect
            filter, association tests (GWAS), sample PCA.
features    SNP-to-gene annotation, windows, imputation, Gene-PCA, All-PCA, pedigree loadings,
            and the feature step as one call (``build_features``).
models      DiseaseCapsule, GRVSNN and the sequence CNN, the MLP and CNN (one torch estimator
            base, which owns seeding, the device, the training loop with its callbacks and
            save/load), the classical baselines, PRS, ridge, LassoNet and the Gibbs samplers.
train       The engine's entry point: splits (balanced test split, validation folds,
            upsampling, outer folds), with the device choice, the loop and the callbacks
            re-exported from below.
interpret   Coupling summaries, the gene scan, core genes, masked accuracy and its nulls, the
            genetic algorithm, saliency; every function takes ``(model, features, *, samples=)``.
workflows   The one evaluation protocol for case/control and quantitative traits, the one model
            registry, the presets, the QC flow, the two analyses and the run configuration;
            also ``demo`` (the demo cohort), ``learn`` (teaching lessons) and ``plots`` (pure
            functions returning plotly figures).
runs/report The one run store (both kinds of run), reopening, prediction of new individuals,
            bundles, running a configuration into a run directory; the HTML report.
ui          Streamlit glue (state, settings, background jobs, the progress sink, widgets).
"""

__version__ = "0.1.0"
