"""genoapp: from genotype files to deep-learning predictions of phenotype and the genes behind them.

The back-end package of the genoapp Streamlit application. It never imports streamlit
(only :mod:`genoapp.ui`, ``pages/`` and ``app.py`` do), so every step can be run headless.

Subpackages
-----------
io         PLINK bed/bim/fam (via bed-reader), phenotype/covariate tables, gene tables, ID reports.
qc         Sample/variant call rate and MAF filters with PLINK 1.9 semantics.
features   SNP-to-gene annotation, SNP windows, Gene-PCA.
models     DiseaseCapsule (capsule network with dynamic routing) and baselines.
train      Balanced splits, upsampling, device selection and the training loop with callbacks.
interpret  Coupling-coefficient summaries.
plots      Pure functions returning plotly figures.
simulate   Phenotypes with a known truth simulated on real genotypes (the demo cohort).
"""

__version__ = "0.1.0"
