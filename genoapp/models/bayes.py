"""Bayesian whole-genome regressions by Gibbs sampling, as the R package BGLR fits them.

Three single-trait regressors of a quantitative phenotype on P inputs (markers, pedigree
loadings, ...), the baselines of the GRVSNN comparison (DESIGN §4.5):

- :class:`BayesianRidgeGibbs`: BGLR's ``"BRR"``, Gaussian effects with one common variance;
- :class:`BayesianLassoGibbs`: BGLR's ``"BL"``, the Bayesian lasso of Park & Casella (2008)
  as de los Campos et al. (2009) parameterise it, with a gamma prior on lambda²;
- :class:`BayesCpiGibbs`: BGLR's ``"BayesC"`` with the inclusion probability π sampled
  (BayesCπ, Habier et al. 2011).

Model (all three): ``y = mu + X b + e``, ``e ~ N(0, varE I)``, flat prior on ``mu``,
``varE ~ S0_e chi^-2(df0_e)``. Priors on ``b`` and every default follow BGLR (R/BGLR.R,
``setLT.BRR``, ``setLT.BL``, ``setLT.BayesBandC``; GitHub ``gdlc/BGLR-R``):

- ``R2 = 0.5`` is the share of the phenotypic variance that the prior attributes to the
  markers; ``MSx = sum_j x_j'x_j / n - sum_j mean(x_j)^2`` is the sum of the marker variances
  (n in the denominator); ``var(y)`` uses n - 1 (R's ``var``).
- Residual: initial ``varE = var(y) (1 - R2)``, scale ``S0_e = varE (df0_e + 2)``, ``df0_e = 5``.
- BRR: ``b_j ~ N(0, varB)``, ``varB ~ S0 chi^-2(df0)``, ``df0 = 5``,
  ``S0 = var(y) R2 / MSx (df0 + 2)``; initial ``varB = S0 / (df0 + 2)``.
- BL: ``b_j ~ N(0, tau2_j varE)``, ``tau2_j ~ Exp(lambda²/2)``, ``lambda² ~ Gamma(shape=1.1,
  rate=(shape - 1) / lambda0²)`` with ``lambda0² = 2 (1 - R2) / R2 MSx``; initial lambda is
  ``lambda0`` and initial ``tau2_j = var(y) R2 / MSx``. Effects with ``|b_j| < 1e-9`` are set
  to ``1e-9`` after their update (BGLR's ``minAbsBeta``).
- BayesC: ``b_j = beta_j d_j``, ``beta_j ~ N(0, varB)``, ``d_j ~ Bernoulli(pi)``,
  ``pi ~ Beta(counts probIn + 1, counts (1 - probIn) + 1)`` with ``probIn = 0.5``,
  ``counts = 10``; ``varB ~ S0 chi^-2(df0)``, ``S0 = var(y) R2 / MSx (df0 + 2) / probIn``;
  initial ``varB = S0``, ``d_j`` drawn from Bernoulli(probIn), ``beta = 0``. Markers out of the
  model draw ``beta_j`` from its prior (so ``varB`` is updated from all P betas, as BGLR does).

Sampler: BGLR's update order per iteration: intercept, then the marker effects one at a time
in column order with the residual updated in place (BGLR's C routines ``sample_beta`` and
``sample_beta_BB_BCp``, ``src/util_sample.c``), then the model's variance parameters (BL: tau2
from inverse Gaussians, then lambda²; BayesC: varB, then π), then ``varE``. Every ``thin``-th
iteration after ``burn_in`` is kept. The marker loop is compiled with numba (it is sequential:
each update sees the residual left by the previous one); X is held transposed in float32 (one
contiguous row per input, half the memory traffic of float64), the residual and all
accumulations in float64. A fit is one chain of one trait, sequential by construction, so it is
not split into executor jobs (:mod:`genoapp.execution`): the unit that runs in parallel on a
Dask cluster is the protocol's task, one fit per model, input, outer fold and trait.

Differences from a BGLR call on the same data: genoapp fits the training rows only, where BGLR
is usually given all rows with the test phenotypes set to NA and imputes them at every
iteration (data augmentation). Both sample the same posterior; BGLR's ``MSx`` (hence the prior
scales) then includes the test rows' genotypes, a difference of a fraction of a percent on
standardised markers. Random numbers come from NumPy, so chains differ from R's draw by draw.

Selection: an input is selected when the equal-tailed ``ci_level`` (default 95 %) posterior
credible interval of its effect, from the kept samples, excludes zero (DESIGN §4.5). For
BayesC the interval is that of ``b_j = beta_j d_j``, which is exactly zero whenever the marker
is out of the model.

References
----------
Pérez P. & de los Campos G. (2014) Genome-wide regression and prediction with the BGLR
statistical package. Genetics 198:483-495.
de los Campos G. et al. (2009) Predicting quantitative traits with regression models for dense
molecular markers and pedigree. Genetics 182:375-385.
Park T. & Casella G. (2008) The Bayesian lasso. JASA 103:681-686.
Habier D. et al. (2011) Extension of the Bayesian alphabet for genomic selection.
BMC Bioinformatics 12:186.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from numba import njit
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from genoapp.errors import ConfigError, InputDataError

__all__ = ["BayesianRidgeGibbs", "BayesianLassoGibbs", "BayesCpiGibbs"]

_FASTMATH = {"reassoc", "contract"}  # lets the dot products vectorise; no NaN/inf shortcuts


# --------------------------------------------------------------------------------------------
# Compiled kernels (sequential over inputs; vectorised over samples)
# --------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _column_stats(xt):
    """Per row of ``xt`` (one input each): sum and sum of squares, in float64."""
    p, n = xt.shape
    sums = np.zeros(p)
    sq = np.zeros(p)
    for j in range(p):
        s = 0.0
        s2 = 0.0
        for i in range(n):
            v = np.float64(xt[j, i])
            s += v
            s2 += v * v
        sums[j] = s
        sq[j] = s2
    return sums, sq


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _sumsq(e):
    """``e'e`` in one compiled pass (no BLAS threads)."""
    s = 0.0
    for i in range(e.shape[0]):
        s += e[i] * e[i]
    return s


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _sweep_gaussian(xt, x2, b, e, var_b, var_e, z, min_abs_b):
    """One pass of BGLR's ``sample_beta`` over all inputs (BRR, BL).

    For j = 0..P-1: draw ``b_j`` from its full conditional
    ``N((x_j'e + x_j'x_j b_j) / varE / C, 1 / C)``, ``C = x_j'x_j / varE + 1 / var_b[j]``,
    with ``z[j]`` the standard normal; update ``e -= x_j (b_new - b_old)`` in place; then set
    ``b_j = min_abs_b`` if ``|b_j| < min_abs_b`` (after the residual update, as BGLR does).
    Returns ``sum_j b_j²`` (computed here: a BLAS dot on a long vector may start threads).
    """
    p, n = xt.shape
    ssb = 0.0
    for j in range(p):
        bj = b[j]
        s = 0.0
        for i in range(n):
            s += xt[j, i] * e[i]
        c = x2[j] / var_e + 1.0 / var_b[j]
        new = (s + x2[j] * bj) / var_e / c + math.sqrt(1.0 / c) * z[j]
        delta = bj - new
        for i in range(n):
            e[i] += delta * xt[j, i]
        if abs(new) < min_abs_b:
            new = min_abs_b
        b[j] = new
        ssb += new * new
    return ssb


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _sweep_bayesc(xt, x2, b, d, e, var_b, var_e, log_odds_prior, z, u):
    """One pass of BGLR's ``sample_beta_BB_BCp`` (BayesC, common ``var_b``).

    For each input: draw the indicator ``d_j`` from its conditional given ``beta_j`` (log odds
    = prior log odds - (RSS_in - RSS_out) / (2 varE)), with ``u[j]`` the uniform; move the
    residual if ``d_j`` changed; then draw ``beta_j`` from the prior (``d_j = 0``) or from its
    full conditional (``d_j = 1``, residual updated in place). Returns the number of inputs
    in and ``sum_j beta_j²`` over all inputs.
    """
    p, n = xt.shape
    c1 = -0.5 / var_e
    sd_prior = math.sqrt(var_b)
    n_in = 0
    ssb = 0.0
    for j in range(p):
        bj = b[j]
        xe = 0.0
        for i in range(n):
            xe += xt[j, i] * e[i]
        if d[j] == 1:
            drss = -bj * bj * x2[j] - 2.0 * bj * xe
        else:
            drss = bj * bj * x2[j] - 2.0 * bj * xe
        log_odds = log_odds_prior + c1 * drss
        if log_odds >= 0.0:
            p_in = 1.0 / (1.0 + math.exp(-log_odds))
        else:
            t = math.exp(log_odds)
            p_in = t / (1.0 + t)
        old = d[j]
        new_d = 1 if u[j] < p_in else 0
        d[j] = new_d
        if new_d != old:
            if new_d == 1:  # out -> in: remove x_j beta_j from the residual
                xe = 0.0
                for i in range(n):
                    e[i] -= bj * xt[j, i]
                    xe += xt[j, i] * e[i]
            else:  # in -> out: put it back
                for i in range(n):
                    e[i] += bj * xt[j, i]
        if new_d == 0:
            b[j] = sd_prior * z[j]
            ssb += b[j] * b[j]
        else:
            rhs = (x2[j] * bj + xe) / var_e
            c = x2[j] / var_e + 1.0 / var_b
            new = rhs / c + math.sqrt(1.0 / c) * z[j]
            delta = bj - new
            for i in range(n):
                e[i] += delta * xt[j, i]
            b[j] = new
            ssb += new * new
            n_in += 1
    return n_in, ssb


# --------------------------------------------------------------------------------------------
# Shared estimator machinery
# --------------------------------------------------------------------------------------------
def _check_number(name: str, value, *, low=None, high=None, low_open=False, high_open=False,
                  integer=False) -> None:
    ok_type = isinstance(value, (int, np.integer)) if integer else isinstance(
        value, (int, float, np.integer, np.floating))
    if isinstance(value, bool) or not ok_type or not np.isfinite(value):
        kind = "an integer" if integer else "a finite number"
        raise ConfigError(f"{name}: expected {kind}, got {value!r}.")
    if low is not None and (value <= low if low_open else value < low):
        raise ConfigError(f"{name}: must be {'>' if low_open else '>='} {low}, got {value!r}.")
    if high is not None and (value >= high if high_open else value > high):
        raise ConfigError(f"{name}: must be {'<' if high_open else '<='} {high}, got {value!r}.")


def _validate_xy(X, y):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise InputDataError(f"X: expected a 2-D array (samples x inputs), got shape {X.shape}.")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise InputDataError(f"X: expected numbers, got dtype {X.dtype}.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputDataError(
            f"y: expected one trait as a 1-D array, got shape {y.shape}. Fit one model per "
            "trait (the Gibbs samplers are single-trait, as BGLR's)."
        )
    if X.shape[0] != y.shape[0]:
        raise InputDataError(
            f"X has {X.shape[0]} rows but y has {y.shape[0]} values; they must describe the "
            "same samples in the same order."
        )
    if X.shape[0] < 3 or X.shape[1] < 1:
        raise InputDataError(f"X: need at least 3 samples and 1 input, got shape {X.shape}.")
    y = y.astype(np.float64)
    if not np.all(np.isfinite(y)):
        raise InputDataError(
            f"y: {int((~np.isfinite(y)).sum())} missing or non-finite values. Drop the samples "
            "without a phenotype before fitting (the training rows must all be phenotyped)."
        )
    if np.var(y) == 0:
        raise InputDataError("y: the phenotype is constant; there is nothing to predict.")
    if not np.all(np.isfinite(X)):
        raise InputDataError(
            f"X: {int((~np.isfinite(X)).sum())} missing or non-finite values. Impute missing "
            "genotypes first (e.g. genoapp.features.MeanImputer with training means)."
        )
    return X, y


class _GibbsRegressor(RegressorMixin, BaseEstimator):
    """Common fit/predict loop; subclasses define the marker-effect block."""

    _model_name = ""

    # --- subclass hooks -------------------------------------------------------------------
    def _check_model_params(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _init_block(self, *, var_y: float, ms_x: float, p: int, rng) -> dict:
        raise NotImplementedError  # pragma: no cover

    def _update_block(self, st: dict, *, xt, x2, e, var_e: float, rng) -> tuple[float, float]:
        raise NotImplementedError  # pragma: no cover

    def _effects(self, st: dict) -> np.ndarray:
        return st["b"]

    def _trace_keys(self) -> tuple[str, ...]:
        return ()

    # --- common ----------------------------------------------------------------------------
    def _check_params(self) -> None:
        _check_number("n_iter", self.n_iter, low=1, integer=True)
        _check_number("burn_in", self.burn_in, low=0, integer=True)
        _check_number("thin", self.thin, low=1, integer=True)
        if self.n_iter // self.thin - self.burn_in // self.thin < 1:
            raise ConfigError(
                f"n_iter={self.n_iter}, burn_in={self.burn_in}, thin={self.thin}: no sample "
                "would be kept (samples are the iterations after burn_in that are multiples of "
                "thin). Increase n_iter or lower burn_in (BGLR defaults 6000 / 2000 / 5)."
            )
        _check_number("r2", self.r2, low=0, high=1, low_open=True, high_open=True)
        _check_number("df0", self.df0, low=0, low_open=True)
        _check_number("df0_residual", self.df0_residual, low=0, low_open=True)
        _check_number("ci_level", self.ci_level, low=0, high=1, low_open=True, high_open=True)
        _check_number("report_every", self.report_every, low=1, integer=True)
        self._check_model_params()

    def fit(self, X, y, *, callbacks=None):
        """Run the Gibbs sampler on training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            Inputs (e.g. marker dosages, standardised or not, and/or pedigree loadings); no
            missing values. Used as given: BGLR does not centre or scale X either.
        y : array-like of shape (n_samples,)
            One quantitative trait, no missing values (any scale; BGLR's priors scale with
            ``var(y)``).
        callbacks : list of genoapp.train.Callback, optional
            ``on_train_begin(info)`` once (``n_epochs`` = ``n_iter``); ``on_epoch_end(it,
            logs)`` every ``report_every`` iterations with ``logs`` = ``epoch`` (iteration),
            ``mu``, ``var_e``, the model's scalar parameters and ``seconds`` since the last
            report; ``should_stop()`` after every iteration; ``on_train_end(logs)`` once. A stop
            keeps the samples gathered so far (``stopped_early_`` is True); stopped during the
            burn-in, the summaries use the last state alone (``n_samples_`` is 0).

        Returns
        -------
        self

        Raises
        ------
        InputDataError
            X or y has missing values, wrong shapes, or y is constant.
        ConfigError
            A hyper-parameter is out of range.
        """
        self._check_params()
        X, y = _validate_xy(X, y)
        callbacks = list(callbacks or [])
        t_start = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        n, p = X.shape

        xt = np.ascontiguousarray(X.T, dtype=np.float32)
        col_sum, x2 = _column_stats(xt)
        col_mean = col_sum / n
        ms_x = float(x2.sum() / n - np.sum(col_mean ** 2))
        if ms_x <= 0:
            raise InputDataError("X: every input is constant; there is nothing to regress on.")
        var_y = float(np.var(y, ddof=1))

        # BGLR: mu = mean(y); varE = var(y - mu) (1 - R2); S0_e = varE (df0_e + 2)
        mu = float(y.mean())
        e = y - mu
        var_e = var_y * (1.0 - self.r2)
        s0_e = var_e * (self.df0_residual + 2.0)
        st = self._init_block(var_y=var_y, ms_x=ms_x, p=p, rng=rng)
        self.prior_ = {"r2": float(self.r2), "var_y": var_y, "ms_x": ms_x,
                       "df0_residual": float(self.df0_residual), "s0_residual": s0_e,
                       **st.pop("prior")}

        # BGLR keeps iteration i (1-based) when i > burnIn and i % thin == 0
        n_keep = self.n_iter // self.thin - self.burn_in // self.thin
        samples = np.empty((n_keep, p), dtype=np.float32)
        sum_b = np.zeros(p)
        trace_keys = ("mu", "var_e") + self._trace_keys()
        trace = {k: np.empty(n_keep) for k in trace_keys}
        sum_d = np.zeros(p) if "d" in st else None
        k = 0

        info = {"n_epochs": int(self.n_iter), "n_train": n, "n_val": 0, "n_features": p,
                "batch_size": n, "n_batches": 1, "device": "cpu",
                "model": type(self).__name__}
        for cb in callbacks:
            cb.on_train_begin(info)
        stopped = False
        it = 0
        t_report = time.perf_counter()
        for it in range(1, self.n_iter + 1):
            # intercept (flat prior): e + mu ~ N(mu, varE / n)
            e += mu
            mu = float(e.sum() / n + math.sqrt(var_e / n) * rng.standard_normal())
            e -= mu
            delta_ss, delta_df = self._update_block(st, xt=xt, x2=x2, e=e, var_e=var_e, rng=rng)
            ss = _sumsq(e) + s0_e + delta_ss
            var_e = ss / rng.chisquare(n + self.df0_residual + delta_df)

            if it > self.burn_in and it % self.thin == 0:
                eff = self._effects(st)
                samples[k] = eff
                sum_b += eff
                if sum_d is not None:
                    sum_d += st["d"]
                trace["mu"][k] = mu
                trace["var_e"][k] = var_e
                for key in trace_keys[2:]:
                    trace[key][k] = st[key]
                k += 1
            if callbacks and (it % self.report_every == 0 or it == self.n_iter):
                now = time.perf_counter()
                logs = {"epoch": it, "mu": mu, "var_e": var_e,
                        **{key: float(st[key]) for key in trace_keys[2:]},
                        "seconds": now - t_report}
                t_report = now
                for cb in callbacks:
                    cb.on_epoch_end(it, logs)
            if callbacks and any(cb.should_stop() for cb in callbacks):
                stopped = it < self.n_iter
                break

        if k == 0:  # stopped during the burn-in: summarise the current state
            eff = self._effects(st).astype(np.float64)
            samples = eff[None, :].astype(np.float32)
            sum_b = eff.copy()
            if sum_d is not None:
                sum_d = st["d"].astype(np.float64)
            trace = {key: np.array([mu if key == "mu" else var_e if key == "var_e"
                                    else st[key]]) for key in trace_keys}
            n_used = 1
        else:
            samples = samples[:k]
            trace = {key: v[:k] for key, v in trace.items()}
            n_used = k

        self.coef_ = sum_b / n_used
        self.coef_sd_ = samples.std(axis=0, dtype=np.float64)
        alpha = 1.0 - self.ci_level
        lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2], axis=0)
        self.coef_ci_ = np.column_stack([lo, hi]).astype(np.float64)
        self.selected_ = (self.coef_ci_[:, 0] > 0) | (self.coef_ci_[:, 1] < 0)
        self.intercept_ = float(trace["mu"].mean())
        self.var_e_ = float(trace["var_e"].mean())
        self.trace_ = trace
        if sum_d is not None:
            self.inclusion_prob_ = sum_d / n_used
        self._finish_block(st, trace)
        self.n_samples_ = k
        self.n_iter_ = it
        self.stopped_early_ = stopped
        self.n_features_in_ = p
        self.fit_seconds_ = time.perf_counter() - t_start
        for cb in callbacks:
            cb.on_train_end({"epochs_completed": it, "stopped_early": stopped, "best_epoch": None,
                             "seconds": self.fit_seconds_})
        return self

    def _finish_block(self, st: dict, trace: dict) -> None:
        pass

    def predict(self, X) -> np.ndarray:
        """Posterior-mean prediction ``intercept_ + X @ coef_`` (BGLR's ``yHat``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            Same inputs, same coding and scaling as in :meth:`fit`; no missing values.

        Returns
        -------
        numpy.ndarray of shape (n_samples,), float64
        """
        check_is_fitted(self, "coef_")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputDataError(
                f"X: expected shape (n, {self.n_features_in_}) as in fit, got {X.shape}.")
        if not np.all(np.isfinite(X)):
            raise InputDataError("X: missing or non-finite values; impute them as for fit.")
        return self.intercept_ + X.astype(np.float64, copy=False) @ self.coef_


_COMMON_DOC = """
    n_iter : int, default 6000
        Gibbs iterations (BGLR ``nIter``; the reference runs use 6,000).
    burn_in : int, default 2000
        Iterations discarded (BGLR ``burnIn``).
    thin : int, default 5
        Every ``thin``-th iteration after the burn-in is kept (BGLR ``thin``): 800 samples
        with the defaults. All kept effects are stored while fitting (float32,
        4 x n_samples x P bytes: 33 MB for 10,346 markers) for the credible intervals.
    r2 : float, default 0.5
        Prior share of the phenotypic variance explained by the inputs (BGLR ``R2``); sets the
        prior scales (module docstring).
    df0 : float, default 5
        Prior degrees of freedom of the effect variance (BGLR ``df0`` of the linear term).
    df0_residual : float, default 5
        Prior degrees of freedom of the residual variance (BGLR's ``df0`` argument).
    ci_level : float, default 0.95
        Level of the equal-tailed posterior credible intervals used for ``selected_``.
    report_every : int, default 100
        Iterations between ``on_epoch_end`` callback calls.
    random_state : int, numpy Generator or None, default 0
        Seed of all draws (NumPy ``default_rng``); the same seed gives the same chain."""

_COMMON_ATTRS = """
    coef_ : ndarray of shape (n_inputs,)
        Posterior mean of each effect (units of y per unit of the input).
    coef_sd_ : ndarray of shape (n_inputs,)
        Posterior standard deviation of each effect.
    coef_ci_ : ndarray of shape (n_inputs, 2)
        Lower and upper bounds of the equal-tailed ``ci_level`` credible interval.
    selected_ : ndarray of bool, shape (n_inputs,)
        True where the credible interval excludes zero.
    intercept_ : float
        Posterior mean of ``mu``.
    var_e_ : float
        Posterior mean of the residual variance.
    prior_ : dict
        The hyper-parameters actually used (``var_y``, ``ms_x``, scales, ...).
    trace_ : dict of ndarray
        Kept samples of ``mu``, ``var_e`` and the model's scalar parameters (diagnostics).
    n_samples_ : int
        Number of kept samples (0 when stopped during the burn-in).
    n_iter_ : int
        Iterations run. ``stopped_early_`` (bool) says whether a callback stopped the chain.
    fit_seconds_ : float
        Wall-clock seconds of :meth:`fit`.
    n_features_in_ : int"""


class BayesianRidgeGibbs(_GibbsRegressor):
    __doc__ = f"""Bayesian ridge regression (BGLR ``model = "BRR"``) by Gibbs sampling.

    ``b_j ~ N(0, varB)`` for every input, ``varB ~ S0 chi^-2(df0)``; BGLR defaults and update
    order (module docstring). The posterior mean is a ridge (GBLUP-equivalent) prediction with
    the shrinkage learned from the data.

    Parameters
    ----------{_COMMON_DOC}
    s0 : float or None, default None
        Prior scale of ``varB``; None = BGLR's rule ``var(y) r2 / MSx (df0 + 2)``.

    Attributes
    ----------{_COMMON_ATTRS}
    var_b_ : float
        Posterior mean of ``varB``.

    Examples
    --------
    >>> m = BayesianRidgeGibbs(n_iter=600, burn_in=200).fit(X_train, y_train)  # doctest: +SKIP
    >>> m.predict(X_test), m.selected_.sum()                                    # doctest: +SKIP
    """

    _model_name = "BRR"

    def __init__(self, *, n_iter: int = 6000, burn_in: int = 2000, thin: int = 5,
                 r2: float = 0.5, df0: float = 5.0, df0_residual: float = 5.0,
                 s0: float | None = None, ci_level: float = 0.95, report_every: int = 100,
                 random_state=0):
        self.n_iter = n_iter
        self.burn_in = burn_in
        self.thin = thin
        self.r2 = r2
        self.df0 = df0
        self.df0_residual = df0_residual
        self.s0 = s0
        self.ci_level = ci_level
        self.report_every = report_every
        self.random_state = random_state

    def _check_model_params(self) -> None:
        if self.s0 is not None:
            _check_number("s0", self.s0, low=0, low_open=True)

    def _trace_keys(self):
        return ("var_b",)

    def _init_block(self, *, var_y, ms_x, p, rng):
        s0 = self.s0 if self.s0 is not None else var_y * self.r2 / ms_x * (self.df0 + 2.0)
        return {"b": np.zeros(p), "var_b": s0 / (self.df0 + 2.0), "s0": s0,
                "prior": {"df0": float(self.df0), "s0": float(s0)}}

    def _update_block(self, st, *, xt, x2, e, var_e, rng):
        p = st["b"].shape[0]
        z = rng.standard_normal(p)
        ssb = _sweep_gaussian(xt, x2, st["b"], e, np.full(p, st["var_b"]), var_e, z, 1e-9)
        ss = ssb + st["s0"]
        st["var_b"] = ss / rng.chisquare(self.df0 + p)
        return 0.0, 0.0

    def _finish_block(self, st, trace):
        self.var_b_ = float(trace["var_b"].mean())


class BayesianLassoGibbs(_GibbsRegressor):
    __doc__ = f"""Bayesian lasso (BGLR ``model = "BL"``) by Gibbs sampling.

    ``b_j ~ N(0, tau2_j varE)``, ``tau2_j ~ Exp(lambda²/2)``, ``lambda² ~ Gamma(shape, rate)``
    (BGLR's default ``type = "gamma"``); BGLR defaults and update order (module docstring).

    Parameters
    ----------{_COMMON_DOC}
    lambda_init : float or None, default None
        Initial lambda; None = BGLR's ``sqrt(2 (1 - r2) / r2 MSx)``.
    shape : float, default 1.1
        Shape of the gamma prior on lambda².
    rate : float or None, default None
        Rate of the gamma prior on lambda²; None = BGLR's ``(shape - 1) / lambda_init²``.
    fixed_lambda : bool, default False
        Keep lambda at ``lambda_init`` (BGLR ``type = "FIXED"``).

    ``df0`` is not used by this model (kept for a uniform interface).

    Attributes
    ----------{_COMMON_ATTRS}
    lambda_ : float
        Posterior mean of lambda.
    tau2_last_ : ndarray of shape (n_inputs,)
        The local variances ``tau2_j`` of the last iteration (a diagnostic).
    """

    _model_name = "BL"

    def __init__(self, *, n_iter: int = 6000, burn_in: int = 2000, thin: int = 5,
                 r2: float = 0.5, df0: float = 5.0, df0_residual: float = 5.0,
                 lambda_init: float | None = None, shape: float = 1.1,
                 rate: float | None = None, fixed_lambda: bool = False,
                 ci_level: float = 0.95, report_every: int = 100, random_state=0):
        self.n_iter = n_iter
        self.burn_in = burn_in
        self.thin = thin
        self.r2 = r2
        self.df0 = df0
        self.df0_residual = df0_residual
        self.lambda_init = lambda_init
        self.shape = shape
        self.rate = rate
        self.fixed_lambda = fixed_lambda
        self.ci_level = ci_level
        self.report_every = report_every
        self.random_state = random_state

    def _check_model_params(self) -> None:
        if self.lambda_init is not None:
            _check_number("lambda_init", self.lambda_init, low=0, low_open=True)
        _check_number("shape", self.shape, low=0, low_open=True)
        if self.rate is not None:
            _check_number("rate", self.rate, low=0, low_open=True)
        if not isinstance(self.fixed_lambda, (bool, np.bool_)):
            raise ConfigError(f"fixed_lambda: expected True or False, got {self.fixed_lambda!r}.")
        if not self.fixed_lambda and self.rate is None and self.shape <= 1:
            raise ConfigError(
                f"shape={self.shape}: BGLR's default rate (shape - 1) / lambda² needs shape > 1; "
                "give rate explicitly or use shape > 1 (default 1.1).")

    def _trace_keys(self):
        return ("lambda",)

    def _init_block(self, *, var_y, ms_x, p, rng):
        if self.lambda_init is None:
            lambda2 = 2.0 * (1.0 - self.r2) / self.r2 * ms_x
        else:
            lambda2 = float(self.lambda_init) ** 2
        rate = self.rate if self.rate is not None else (self.shape - 1.0) / lambda2
        tau2 = np.full(p, var_y * self.r2 / ms_x)
        return {"b": np.zeros(p), "tau2": tau2, "lambda": math.sqrt(lambda2),
                "lambda2": lambda2, "rate": rate,
                "prior": {"lambda_init": math.sqrt(lambda2), "shape": float(self.shape),
                          "rate": float(rate), "tau2_init": float(tau2[0]),
                          "fixed_lambda": bool(self.fixed_lambda)}}

    def _update_block(self, st, *, xt, x2, e, var_e, rng):
        b = st["b"]
        p = b.shape[0]
        z = rng.standard_normal(p)
        _sweep_gaussian(xt, x2, b, e, st["tau2"] * var_e, var_e, z, 1e-9)
        # tau2_j: 1 / tau2_j ~ InvGauss(mean = sqrt(varE) lambda / |b_j|, shape = lambda²)
        nu = math.sqrt(var_e) * st["lambda"] / np.abs(b)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            inv = rng.wald(nu, st["lambda2"])
            ok = np.all(np.isfinite(inv)) and np.all(inv > 0)
        if ok:
            st["tau2"] = 1.0 / inv
        else:  # BGLR skips the update with a warning
            warnings.warn("BL: tau2 not updated in this iteration (numerical problem with b).",
                          RuntimeWarning, stacklevel=2)
        if not self.fixed_lambda:
            rate = float(st["tau2"].sum()) / 2.0 + st["rate"]
            lambda2 = rng.gamma(p + self.shape, 1.0 / rate)
            if np.isfinite(lambda2) and lambda2 > 0:
                st["lambda2"] = float(lambda2)
                st["lambda"] = math.sqrt(lambda2)
        delta_ss = float(np.sum(b * b / st["tau2"]))
        return delta_ss, float(p)

    def _finish_block(self, st, trace):
        self.lambda_ = float(trace["lambda"].mean())
        self.tau2_last_ = st["tau2"].copy()


class BayesCpiGibbs(_GibbsRegressor):
    __doc__ = f"""BayesCπ (BGLR ``model = "BayesC"``, π sampled) by Gibbs sampling.

    A spike-and-slab prior: each input is in the model with probability π (``d_j = 1``, effect
    ``~ N(0, varB)``) or out (effect exactly 0); ``varB ~ S0 chi^-2(df0)`` and
    ``π ~ Beta(counts prob_in + 1, counts (1 - prob_in) + 1)``. BGLR defaults and update order
    (module docstring). Effects and intervals are those of ``beta_j d_j``.

    Parameters
    ----------{_COMMON_DOC}
    prob_in : float, default 0.5
        Prior guess of π (BGLR ``probIn``); also the initial π.
    counts : float, default 10
        Prior counts behind ``prob_in`` (BGLR ``counts``); larger = stronger prior.
    s0 : float or None, default None
        Prior scale of ``varB``; None = BGLR's ``var(y) r2 / MSx (df0 + 2) / prob_in``.

    Attributes
    ----------{_COMMON_ATTRS}
    var_b_ : float
        Posterior mean of ``varB``.
    prob_in_ : float
        Posterior mean of π.
    inclusion_prob_ : ndarray of shape (n_inputs,)
        Posterior probability that each input is in the model (BGLR's ``d``).
    """

    _model_name = "BayesC"

    def __init__(self, *, n_iter: int = 6000, burn_in: int = 2000, thin: int = 5,
                 r2: float = 0.5, df0: float = 5.0, df0_residual: float = 5.0,
                 prob_in: float = 0.5, counts: float = 10.0, s0: float | None = None,
                 ci_level: float = 0.95, report_every: int = 100, random_state=0):
        self.n_iter = n_iter
        self.burn_in = burn_in
        self.thin = thin
        self.r2 = r2
        self.df0 = df0
        self.df0_residual = df0_residual
        self.prob_in = prob_in
        self.counts = counts
        self.s0 = s0
        self.ci_level = ci_level
        self.report_every = report_every
        self.random_state = random_state

    def _check_model_params(self) -> None:
        _check_number("prob_in", self.prob_in, low=0, high=1, low_open=True, high_open=True)
        _check_number("counts", self.counts, low=0, low_open=True)
        if self.s0 is not None:
            _check_number("s0", self.s0, low=0, low_open=True)

    def _trace_keys(self):
        return ("var_b", "prob_in")

    def _init_block(self, *, var_y, ms_x, p, rng):
        s0 = (self.s0 if self.s0 is not None
              else var_y * self.r2 / ms_x * (self.df0 + 2.0) / self.prob_in)
        counts_in = self.counts * self.prob_in
        d = (rng.random(p) < self.prob_in).astype(np.int8)
        return {"b": np.zeros(p), "d": d, "var_b": s0, "s0": s0, "prob_in": float(self.prob_in),
                "counts_in": counts_in, "counts_out": self.counts - counts_in,
                "prior": {"df0": float(self.df0), "s0": float(s0),
                          "prob_in": float(self.prob_in), "counts": float(self.counts)}}

    def _update_block(self, st, *, xt, x2, e, var_e, rng):
        b = st["b"]
        p = b.shape[0]
        z = rng.standard_normal(p)
        u = rng.random(p)
        pi = min(max(st["prob_in"], 1e-12), 1.0 - 1e-12)
        log_odds_prior = math.log(pi / (1.0 - pi))
        n_in, ssb = _sweep_bayesc(xt, x2, b, st["d"], e, st["var_b"], var_e, log_odds_prior,
                                  z, u)
        ss = ssb + st["s0"]
        st["var_b"] = ss / rng.chisquare(self.df0 + p)
        st["prob_in"] = float(rng.beta(n_in + st["counts_in"] + 1.0,
                                       p - n_in + st["counts_out"] + 1.0))
        return 0.0, 0.0

    def _effects(self, st):
        return st["b"] * st["d"]

    def _finish_block(self, st, trace):
        self.var_b_ = float(trace["var_b"].mean())
        self.prob_in_ = float(trace["prob_in"].mean())
