"""Sequences with a known truth, one-hot encoding and a leak-free split (the Learn lesson).

This reproduces, and fixes, the practical example of the thesis *Deep Learning and its
Application to Predicting Quantitative Phenotypes from Genomic Data* (GitHub
``victor-fdz/Deep-Learning-for-Quantitative-Phenotype-Prediction-from-Genomic-Data``,
``Practical_Example``): DNA sequences -> one-hot -> CNN -> quantitative phenotype -> saliency.
What genoapp does differently, on purpose:

* the simulator is seeded (the original was not), so the same seed gives the same data;
* the one-hot encoding has a fixed A, C, G, T column order (the original refitted its encoder
  on every sequence, so a sequence lacking a nucleotide got fewer or shifted columns);
* the data are split first and the phenotype is standardised with training statistics only
  (the original standardised all phenotypes before the split, so test values entered the
  scaler).

Simulation model (:func:`simulate_sequences`)
---------------------------------------------
1. A random reference sequence of length ``L`` (nucleotides uniform over A, C, G, T).
2. ``n_causal`` causal loci drawn without replacement; each gets one effect per nucleotide,
   ``e[l, b] ~ U(-effect_bound, effect_bound)`` (thesis: 16 loci, U(-4, 4)).
3. Every sequence is the reference with ``m ~ U{0, ..., max_mutations}`` point mutations at
   distinct positions drawn with probability proportional to ``causal_weight`` at causal loci
   and 1 elsewhere (weighted sampling without replacement, Efraimidis & Spirakis 2006); the
   new nucleotide is one of the three others, uniformly. With the defaults (17, weight 11)
   about 24 % of the sequences carry a mutation at a given causal locus, 2.5 % at another
   position, 8.5 per sequence on average: close to the thesis' own data (measured on its
   ``sequences_data.csv`` against the consensus: 24 %, 2.7 %, 8.7).
4. Phenotype ``y = sum_l e[l, x_l] + sum_t c_t prod_{l in t} e[l, x_l] + U(-E, E)``: additive
   effects of all causal loci, epistatic terms over disjoint groups of causal loci (``n_pairs``
   pairwise products and ``n_triples`` three-way products, coefficients
   ``c_t ~ U(coefficient_range)``), and an environment effect. The optional ratio term of the
   original, ``c e[a, x_a] / e[b, x_b]``, explodes when ``e[b, x_b]`` is near 0: it is off by
   default and warns when switched on.

Everything random comes from one ``numpy.random.default_rng(random_state)``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from genoapp.errors import ConfigError, InputDataError

__all__ = [
    "NUCLEOTIDES",
    "EpistaticTerm",
    "SequenceTruth",
    "SequenceData",
    "PreparedSequences",
    "simulate_sequences",
    "read_sequence_csv",
    "one_hot",
    "prepare_sequences",
]

#: Column order of the one-hot encoding (fixed, whatever the sequences contain).
NUCLEOTIDES = ("A", "C", "G", "T")

_LOOKUP = np.full(256, -1, dtype=np.int8)
for _i, _b in enumerate(NUCLEOTIDES):
    _LOOKUP[ord(_b)] = _i
    _LOOKUP[ord(_b.lower())] = _i

_MIN_LENGTH = 6  # a kernel-3 convolution followed by a pool of 4 needs at least 6 positions
_MIN_SEQUENCES = 20


@dataclass(frozen=True)
class EpistaticTerm:
    """One epistatic term of the simulated phenotype.

    Attributes
    ----------
    loci : tuple of int
        0-based positions (string index) of the causal loci involved.
    coefficient : float
        ``c`` in ``c * prod(e[l, x_l])`` (kind "product") or ``c * e[a, x_a] / e[b, x_b]``
        (kind "ratio", ``loci = (a, b)``).
    kind : {"product", "ratio"}
    """

    loci: tuple[int, ...]
    coefficient: float
    kind: str = "product"

    def label(self) -> str:
        """Readable formula, e.g. ``0.79 * e[61] * e[71]``."""
        if self.kind == "ratio":
            a, b = self.loci
            return f"{self.coefficient:.3g} * e[{a}] / e[{b}]"
        return f"{self.coefficient:.3g} * " + " * ".join(f"e[{locus}]" for locus in self.loci)


@dataclass
class SequenceTruth:
    """The truth behind simulated sequences (what interpretation should recover).

    Attributes
    ----------
    reference : str
        The reference sequence (length L) every sequence was mutated from.
    causal_loci : numpy.ndarray
        Shape (k,), int, sorted 0-based positions.
    effects : numpy.ndarray
        Shape (k, 4), float: effect of A, C, G, T (columns, :data:`NUCLEOTIDES` order) at each
        causal locus (rows, same order as ``causal_loci``), phenotype units.
    epistasis : tuple of EpistaticTerm
    environment : float
        ``E`` of the environment effect U(-E, E).
    parameters : dict
        All simulation parameters (seed included), for the record.
    """

    reference: str
    causal_loci: np.ndarray
    effects: np.ndarray
    epistasis: tuple[EpistaticTerm, ...] = ()
    environment: float = 0.0
    parameters: dict = field(default_factory=dict)

    @property
    def length(self) -> int:
        return len(self.reference)

    def loci_table(self) -> pd.DataFrame:
        """One row per causal locus.

        Returns
        -------
        pandas.DataFrame
            ``locus`` (0-based), ``reference`` (nucleotide), ``effect_A`` ... ``effect_T``,
            ``epistatic`` (bool: takes part in an epistatic term), ``terms`` (labels of those
            terms, "; "-separated).
        """
        df = pd.DataFrame({"locus": self.causal_loci.astype(int),
                           "reference": [self.reference[i] for i in self.causal_loci]})
        for j, b in enumerate(NUCLEOTIDES):
            df[f"effect_{b}"] = self.effects[:, j]
        terms = {int(locus): [] for locus in self.causal_loci}
        for t in self.epistasis:
            for locus in t.loci:
                terms[int(locus)].append(t.label())
        df["epistatic"] = [bool(terms[int(locus)]) for locus in self.causal_loci]
        df["terms"] = ["; ".join(terms[int(locus)]) for locus in self.causal_loci]
        return df

    def epistasis_table(self) -> pd.DataFrame:
        """One row per epistatic term: ``kind``, ``loci`` (comma-separated), ``coefficient``,
        ``formula``."""
        return pd.DataFrame({
            "kind": [t.kind for t in self.epistasis],
            "loci": [", ".join(str(locus) for locus in t.loci) for t in self.epistasis],
            "coefficient": [t.coefficient for t in self.epistasis],
            "formula": [t.label() for t in self.epistasis],
        })

    def centred_effects(self) -> pd.DataFrame:
        """Additive effects minus their mean over the 4 nucleotides, per causal locus.

        Returns
        -------
        pandas.DataFrame
            Shape (k, 4), index = locus, columns A, C, G, T; what a sequence logo of the
            truth shows (only differences between nucleotides are identifiable).
        """
        c = self.effects - self.effects.mean(axis=1, keepdims=True)
        return pd.DataFrame(c, index=pd.Index(self.causal_loci.astype(int), name="locus"),
                            columns=list(NUCLEOTIDES))

    def genetic_values(self, sequences) -> np.ndarray:
        """Phenotype without the environment effect, for any sequences of the same length.

        Parameters
        ----------
        sequences : sequence of str or numpy.ndarray
            Strings of length L over A, C, G, T, or their one-hot array (n, L, 4).

        Returns
        -------
        numpy.ndarray
            Shape (n,), float64.
        """
        idx = _indices(sequences) if not _is_one_hot(sequences) else np.asarray(sequences).argmax(-1)
        if idx.shape[1] != self.length:
            raise InputDataError(
                f"sequences: length {idx.shape[1]} differs from the simulated length "
                f"{self.length}."
            )
        e = self.effects[np.arange(len(self.causal_loci)), idx[:, self.causal_loci]]  # (n, k)
        col = {int(locus): j for j, locus in enumerate(self.causal_loci)}
        g = e.sum(axis=1)
        for t in self.epistasis:
            cols = [e[:, col[int(locus)]] for locus in t.loci]
            if t.kind == "ratio":
                g = g + t.coefficient * cols[0] / cols[1]
            else:
                g = g + t.coefficient * np.prod(np.column_stack(cols), axis=1)
        return g


@dataclass
class SequenceData:
    """Sequences and their phenotype, with the truth when it is known.

    Attributes
    ----------
    sequences : numpy.ndarray
        Shape (n,), str: equal-length strings over A, C, G, T (upper case).
    phenotypes : numpy.ndarray
        Shape (n,), float64, raw (not standardised) phenotype.
    truth : SequenceTruth or None
        Simulated data: the truth; loaded data: None.
    source : str
        "simulated (seed S)" or the file name.
    """

    sequences: np.ndarray
    phenotypes: np.ndarray
    truth: SequenceTruth | None = None
    source: str = ""

    @property
    def n_sequences(self) -> int:
        return int(self.sequences.shape[0])

    @property
    def length(self) -> int:
        return len(self.sequences[0]) if self.n_sequences else 0

    def to_frame(self) -> pd.DataFrame:
        """``sequences``, ``phenotypes`` columns: the CSV format :func:`read_sequence_csv` reads."""
        return pd.DataFrame({"sequences": self.sequences.astype(str),
                             "phenotypes": self.phenotypes})


def _is_one_hot(x) -> bool:
    return isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[-1] == 4


def _indices(sequences) -> np.ndarray:
    """Nucleotide indices (n, L) int8 in :data:`NUCLEOTIDES` order; validates the strings."""
    if isinstance(sequences, str):
        raise InputDataError("sequences: expected a list of sequences, got a single string.")
    seqs = [str(s) for s in sequences]
    if not seqs:
        raise InputDataError("sequences: no sequences given.")
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    if (lengths != lengths[0]).any():
        bad = np.flatnonzero(lengths != lengths[0])[:5]
        raise InputDataError(
            f"sequences: all sequences must have the same length (a CNN input has a fixed "
            f"size); the first has {lengths[0]} characters, but row(s) {bad.tolist()} have "
            f"{lengths[bad].tolist()}. Trim or pad them to one length."
        )
    try:
        raw = "".join(seqs).encode("ascii")
    except UnicodeEncodeError as exc:
        raise InputDataError(
            f"sequences: non-ASCII character found ({exc.reason}); only A, C, G, T are allowed."
        ) from None
    idx = _LOOKUP[np.frombuffer(raw, dtype=np.uint8)].reshape(len(seqs), int(lengths[0]))
    if (idx < 0).any():
        row, pos = (int(v[0]) for v in np.nonzero(idx < 0))
        n_bad = int((idx < 0).any(axis=1).sum())
        raise InputDataError(
            f"sequences: only A, C, G, T (either case) are allowed; row {row} has "
            f"{seqs[row][pos]!r} at position {pos} ({n_bad} sequence(s) affected). Remove or "
            "resolve ambiguous bases (N, R, Y, ...) first."
        )
    return idx


def one_hot(sequences) -> np.ndarray:
    """One-hot encode DNA sequences with the fixed column order A, C, G, T.

    Parameters
    ----------
    sequences : sequence of str
        ``n`` strings of the same length ``L`` over A, C, G, T (lower case accepted).

    Returns
    -------
    numpy.ndarray
        Shape (n, L, 4), float32; ``out[i, p, j] = 1`` when sequence ``i`` has
        ``NUCLEOTIDES[j]`` at position ``p``. A sequence lacking some nucleotide still gets all
        4 columns (the thesis' per-sequence encoder did not guarantee this).

    Raises
    ------
    InputDataError
        No sequences, unequal lengths, or a character other than A, C, G, T.
    """
    idx = _indices(sequences)
    return (idx[:, :, None] == np.arange(4, dtype=np.int8)).astype(np.float32)


def _check_int(name, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo or (
            hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ConfigError(f"{name}: must be an integer {rng}, got {value!r}.")
    return int(value)


def _check_float(name, value, lo, hi=None, *, lo_open=False):
    ok = isinstance(value, int | float | np.number) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        v = float(value)
        ok = (v > lo if lo_open else v >= lo) and (hi is None or v <= hi)
    if not ok:
        rng = f"{'>' if lo_open else '>='} {lo}" + ("" if hi is None else f" and <= {hi}")
        raise ConfigError(f"{name}: must be a number {rng}, got {value!r}.")
    return float(value)


def simulate_sequences(
    n_sequences: int = 9000,
    *,
    length: int = 200,
    n_causal: int = 16,
    effect_bound: float = 4.0,
    n_pairs: int = 3,
    n_triples: int = 1,
    ratio_term: bool = False,
    coefficient_range: tuple[float, float] = (0.25, 1.5),
    environment: float = 2.0,
    max_mutations: int = 17,
    causal_weight: float = 11.0,
    random_state: int = 0,
) -> SequenceData:
    """Simulate sequences and a quantitative phenotype with a known truth (thesis design).

    See the module docstring for the model. Defaults follow the thesis' example: 200-bp
    sequences, 16 causal loci with effects U(-4, 4), 4 epistatic terms (here 3 pairwise
    products and one three-way product over 9 distinct causal loci; the thesis' 4 coefficients
    were 0.786, 1.282, 0.491, 0.324), environment U(-2, 2), 9,000 sequences.

    Parameters
    ----------
    n_sequences : int, default 9000
        Number of sequences (>= 20; the lesson uses 8,000-10,000).
    length : int, default 200
        Sequence length L in bp (>= 6; the lesson uses 200-350).
    n_causal : int, default 16
        Number of causal loci (1 <= k <= L; the lesson uses 10-25).
    effect_bound : float, default 4.0
        Per-nucleotide effects are U(-effect_bound, effect_bound), phenotype units.
    n_pairs, n_triples : int, default 3 and 1
        Pairwise and three-way product terms, over disjoint causal loci
        (``2 n_pairs + 3 n_triples <= n_causal``).
    ratio_term : bool, default False
        Add the original's ratio term ``c e[a] / e[b]`` (over two further causal loci when
        there are any left, else two random causal loci). Unstable: emits a ``UserWarning``.
    coefficient_range : (float, float), default (0.25, 1.5)
        Epistatic coefficients are U(low, high).
    environment : float, default 2.0
        ``E`` of the environment effect U(-E, E) (0 = none).
    max_mutations : int, default 17
        Each sequence gets U{0, ..., max_mutations} point mutations (clipped to L).
    causal_weight : float, default 11.0
        Relative probability of a mutation at a causal locus versus any other position (> 0;
        1 = uniform).
    random_state : int, default 0
        Seed of the only random generator used.

    Returns
    -------
    SequenceData
        ``sequences`` (n,), ``phenotypes`` (n,) and the ``truth``.

    Raises
    ------
    ConfigError
        A parameter out of range or inconsistent (e.g. more epistatic loci than causal loci).
    """
    n = _check_int("n_sequences", n_sequences, _MIN_SEQUENCES)
    L = _check_int("length", length, _MIN_LENGTH)
    k = _check_int("n_causal", n_causal, 1, L)
    bound = _check_float("effect_bound", effect_bound, 0.0, lo_open=True)
    n_pairs = _check_int("n_pairs", n_pairs, 0)
    n_triples = _check_int("n_triples", n_triples, 0)
    if 2 * n_pairs + 3 * n_triples > k:
        raise ConfigError(
            f"n_pairs, n_triples: {n_pairs} pair(s) and {n_triples} triple(s) need "
            f"{2 * n_pairs + 3 * n_triples} distinct causal loci, but n_causal = {k}. Use fewer "
            "epistatic terms or more causal loci."
        )
    if ratio_term and k < 2:
        raise ConfigError("ratio_term: needs at least 2 causal loci (n_causal >= 2).")
    try:
        c_lo, c_hi = (float(v) for v in coefficient_range)
    except (TypeError, ValueError):
        raise ConfigError(
            f"coefficient_range: expected (low, high), got {coefficient_range!r}."
        ) from None
    if not (np.isfinite(c_lo) and np.isfinite(c_hi) and c_lo <= c_hi):
        raise ConfigError(f"coefficient_range: need finite low <= high, got {coefficient_range!r}.")
    env = _check_float("environment", environment, 0.0)
    max_mut = min(_check_int("max_mutations", max_mutations, 0), L)
    w_causal = _check_float("causal_weight", causal_weight, 0.0, lo_open=True)
    seed = _check_int("random_state", random_state, 0)
    if ratio_term:
        warnings.warn(
            "ratio_term: the original's ratio term c * e[a] / e[b] is unstable: when e[b] is "
            "close to 0 a few sequences get extreme phenotypes that dominate the loss. Use it "
            "only to show that problem.", UserWarning, stacklevel=2)

    rng = np.random.default_rng(seed)
    ref_idx = rng.integers(0, 4, size=L).astype(np.int8)
    loci = np.sort(rng.choice(L, size=k, replace=False)).astype(np.int64)
    effects = rng.uniform(-bound, bound, size=(k, 4))

    # epistatic groups: disjoint causal loci in random order
    order = rng.permutation(loci)
    terms: list[EpistaticTerm] = []
    pos = 0
    for size, count in ((2, n_pairs), (3, n_triples)):
        for _ in range(count):
            group = tuple(sorted(int(v) for v in order[pos:pos + size]))
            pos += size
            terms.append(EpistaticTerm(group, float(rng.uniform(c_lo, c_hi)), "product"))
    if ratio_term:
        rest = order[pos:]
        pair = rest[:2] if rest.size >= 2 else rng.choice(loci, size=2, replace=False)
        terms.append(EpistaticTerm((int(pair[0]), int(pair[1])),
                                   float(rng.uniform(c_lo, c_hi)), "ratio"))

    # mutations: weighted sampling without replacement via exponential keys (Efraimidis-Spirakis)
    weights = np.ones(L)
    weights[loci] = w_causal
    n_mut = rng.integers(0, max_mut + 1, size=n)
    keys = rng.exponential(size=(n, L)) / weights  # smallest keys first ~ weighted order
    ranks = np.argsort(keys, axis=1)
    shift = rng.integers(1, 4, size=(n, L)).astype(np.int8)
    idx = np.broadcast_to(ref_idx, (n, L)).copy()
    chosen = np.arange(L)[None, :] < n_mut[:, None]  # first n_mut of each row's order
    rows = np.broadcast_to(np.arange(n)[:, None], (n, L))[chosen]
    cols = ranks[chosen]
    idx[rows, cols] = (idx[rows, cols] + shift[rows, cols]) % 4

    truth = SequenceTruth(
        reference="".join(NUCLEOTIDES[i] for i in ref_idx),
        causal_loci=loci,
        effects=effects,
        epistasis=tuple(terms),
        environment=env,
        parameters=dict(n_sequences=n, length=L, n_causal=k, effect_bound=bound,
                        n_pairs=n_pairs, n_triples=n_triples, ratio_term=bool(ratio_term),
                        coefficient_range=(c_lo, c_hi), environment=env,
                        max_mutations=max_mut, causal_weight=w_causal, random_state=seed),
    )
    letters = np.frombuffer("".join(NUCLEOTIDES).encode(), dtype="S1")[idx]  # (n, L) bytes
    sequences = letters.view(f"S{L}").ravel().astype(f"U{L}")
    g = truth.genetic_values(np.eye(4, dtype=np.float32)[idx])
    y = g + (rng.uniform(-env, env, size=n) if env > 0 else 0.0)
    return SequenceData(sequences=sequences, phenotypes=np.asarray(y, dtype=np.float64),
                        truth=truth, source=f"simulated (seed {seed})")


def read_sequence_csv(source, *, name: str | None = None) -> SequenceData:
    """Read a CSV with columns ``sequences`` and ``phenotypes`` (the thesis' file format).

    Parameters
    ----------
    source : str, Path, bytes or file-like
        The CSV (comma-separated, header row). Extra columns are ignored.
    name : str, optional
        Name for messages and ``SequenceData.source`` (default: the file name).

    Returns
    -------
    SequenceData
        Sequences upper-cased; ``truth`` None.

    Raises
    ------
    InputDataError
        Unreadable file, missing columns, fewer than 20 rows, missing or non-numeric
        phenotypes, unequal sequence lengths or characters other than A, C, G, T.
    """
    if name is None:
        name = Path(source).name if isinstance(source, str | Path) else getattr(source, "name", "CSV")
    buf = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        df = pd.read_csv(buf, dtype={"sequences": str})
    except FileNotFoundError:
        raise InputDataError(f"{name}: file not found. Give the path of a CSV file.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{name}: not a readable CSV file ({exc}).") from None
    missing = [c for c in ("sequences", "phenotypes") if c not in df.columns]
    if missing:
        raise InputDataError(
            f"{name}: needs the columns 'sequences' and 'phenotypes'; missing {missing}, found "
            f"{list(df.columns)[:10]}. Rename the columns (header row) and load again."
        )
    if len(df) < _MIN_SEQUENCES:
        raise InputDataError(
            f"{name}: {len(df)} row(s); at least {_MIN_SEQUENCES} sequences are needed to split "
            "them into training, validation and test sets."
        )
    if df["sequences"].isna().any():
        rows = np.flatnonzero(df["sequences"].isna().to_numpy())[:5].tolist()
        raise InputDataError(f"{name}: empty sequence in row(s) {rows} (0-based data rows).")
    y = pd.to_numeric(df["phenotypes"], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(y).all():
        rows = np.flatnonzero(~np.isfinite(y))[:5].tolist()
        raise InputDataError(
            f"{name}: {int((~np.isfinite(y)).sum())} phenotype(s) missing or not numbers (first "
            f"rows {rows}, 0-based data rows). Remove those rows or fill them in."
        )
    seqs = df["sequences"].astype(str).str.strip().str.upper().to_numpy()
    try:
        idx = _indices(seqs)
    except InputDataError as exc:
        raise InputDataError(f"{name}: {exc}") from None
    if idx.shape[1] < _MIN_LENGTH:
        raise InputDataError(
            f"{name}: sequences of {idx.shape[1]} bp are too short for the CNN (kernel 3, "
            f"pool 4): at least {_MIN_LENGTH} bp are needed."
        )
    return SequenceData(sequences=seqs.astype(f"U{idx.shape[1]}"), phenotypes=y, truth=None,
                        source=str(name))


@dataclass
class PreparedSequences:
    """Encoded sequences, the train/validation/test split and the training-only scaler.

    Attributes
    ----------
    data : SequenceData
        What was prepared (not modified).
    X : numpy.ndarray
        Shape (n, L, 4), float32 one-hot (A, C, G, T).
    y : numpy.ndarray
        Shape (n,), float64 raw phenotypes (a copy).
    y_scaled : numpy.ndarray
        Shape (n,), float32: ``(y - mean_train) / sd_train`` for every row.
    train_idx, val_idx, test_idx : numpy.ndarray
        Sorted row indices, disjoint, covering all rows. ``train_idx`` are the rows the model
        is fitted on; ``val_idx`` the validation rows (early stopping) carved out of the
        training set; ``test_idx`` the test rows, used only for the final scores.
    scaler : sklearn.preprocessing.StandardScaler
        Fitted on the phenotypes of the training set (``train_idx`` and ``val_idx``) only;
        ``scaler.mean_[0]``, ``scaler.scale_[0]`` (population SD).
    ks_statistic, ks_pvalue : float
        Two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``) of the training-set
        (``train_idx`` and ``val_idx``) versus test phenotypes.
    test_fraction, validation_fraction : float
    random_state : int
    """

    data: SequenceData
    X: np.ndarray
    y: np.ndarray
    y_scaled: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    scaler: StandardScaler
    ks_statistic: float
    ks_pvalue: float
    test_fraction: float
    validation_fraction: float
    random_state: int

    @property
    def training_idx(self) -> np.ndarray:
        """The whole training set (fitted and validation rows), sorted."""
        return np.sort(np.concatenate([self.train_idx, self.val_idx]))

    def split_table(self) -> pd.DataFrame:
        """Rows per set with mean and SD of the raw phenotype: ``set``, ``n``, ``mean``, ``sd``."""
        rows = []
        for label, ix in (("all", np.arange(self.y.size)), ("training (fitted)", self.train_idx),
                          ("validation", self.val_idx), ("test", self.test_idx)):
            v = self.y[ix]
            rows.append({"set": label, "n": int(ix.size), "mean": float(v.mean()),
                         "sd": float(v.std(ddof=1)) if ix.size > 1 else float("nan")})
        return pd.DataFrame(rows)


def prepare_sequences(data: SequenceData, *, test_fraction: float = 0.2,
                      validation_fraction: float = 0.2, random_state: int = 0) -> PreparedSequences:
    """Encode, split, then standardise the phenotype with training statistics only.

    Order (the thesis standardised before splitting, which lets test values into the scaler):
    1. one-hot encode all sequences (:func:`one_hot`; needs no statistics);
    2. random split into training and test sets (``test_fraction`` of the rows);
    3. random validation subset of the training set (``validation_fraction`` of it), as
       Keras' ``validation_split`` but shuffled;
    4. a ``StandardScaler`` fitted on the training-set phenotypes (fitted and validation rows;
       never a test row) and applied to every row;
    5. KS test of training versus test phenotypes (are the sets alike?).

    Parameters
    ----------
    data : SequenceData
    test_fraction : float, default 0.2
        In (0, 0.5].
    validation_fraction : float, default 0.2
        Fraction of the training set held out for early stopping, in (0, 0.5].
    random_state : int, default 0
        Seed of both random splits.

    Returns
    -------
    PreparedSequences

    Raises
    ------
    ConfigError
        Fractions out of range or leaving fewer than 2 rows in a set.
    InputDataError
        Invalid sequences (see :func:`one_hot`) or a phenotype with no variation in the
        training set.
    """
    tf = _check_float("test_fraction", test_fraction, 0.0, 0.5, lo_open=True)
    vf = _check_float("validation_fraction", validation_fraction, 0.0, 0.5, lo_open=True)
    seed = _check_int("random_state", random_state, 0)
    X = one_hot(data.sequences)
    y = np.array(data.phenotypes, dtype=np.float64)
    n = X.shape[0]
    if y.shape != (n,):
        raise InputDataError(f"phenotypes: expected {n} values (one per sequence), got shape {y.shape}.")
    all_idx = np.arange(n)
    training, test = train_test_split(all_idx, test_size=tf, random_state=seed)
    fit, val = train_test_split(training, test_size=vf, random_state=seed + 1)
    if min(fit.size, val.size, test.size) < 2:
        raise ConfigError(
            f"test_fraction, validation_fraction: with {n} sequences the sets would hold "
            f"{fit.size} / {val.size} / {test.size} (fitted / validation / test) rows; each needs "
            "at least 2. Use more sequences or other fractions."
        )
    scaler = StandardScaler().fit(y[training].reshape(-1, 1))
    if not scaler.scale_[0] > 0 or np.isclose(y[training].std(), 0.0):
        raise InputDataError("phenotypes: constant in the training set; nothing to predict.")
    y_scaled = scaler.transform(y.reshape(-1, 1)).ravel().astype(np.float32)
    ks = stats.ks_2samp(y[training], y[test])
    return PreparedSequences(
        data=data, X=X, y=y, y_scaled=y_scaled, train_idx=np.sort(fit), val_idx=np.sort(val),
        test_idx=np.sort(test), scaler=scaler, ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue), test_fraction=tf, validation_fraction=vf, random_state=seed,
    )
