"""Pedigree tables (id, sire, dam): reading, validation and parents-first ordering.

A pedigree lists one individual per row with its sire (father) and dam (mother); ``0`` means an
unknown parent (``NA``, ``.``, ``-`` and an empty field are read as unknown too). Henderson's
tabular method for the additive relationship matrix (:func:`genoapp.features.pedigree.
additive_relationship`) needs every parent listed before its offspring; :func:`read_pedigree`
checks the table and sorts it for the user when it is not in that order.

Checks (each failure is an :class:`~genoapp.errors.InputDataError` naming the individuals):

- empty or duplicated ids;
- loops: an individual that is its own parent, or its own ancestor (``A -> B -> A``);
- sex conflicts: an individual recorded as a sire of one offspring and as a dam of another, a
  sire and dam that are the same individual (selfing; allowed with ``allow_selfing=True``, as
  in plants), or, with a ``sex`` column, a sire recorded as female or a dam as male. The sire
  and dam checks apply to animals; for monoecious species (plants, where one individual can be
  the sire of some offspring and the dam of others) declare ``species="plant"``, which turns
  them off (``check_sex=False`` does so for any species);
- parents that have no row of their own ("unknown parents"): listed and, by default, added as
  founders (``missing_parents="add"``), or set to unknown, or an error.

Format of the file: tab, comma or whitespace separated; either a header with the columns
``id``/``animal``/``IID``, ``sire``/``father`` and ``dam``/``mother`` (optional ``sex``: 1 or M
= male, 2 or F = female, anything else unknown), or no header and the first three columns in
that order. The project's pedigrees (``*.pedigree.tsv``) have the header ``id sire dam``.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd

from genoapp.errors import ConfigError, InputDataError
from genoapp.io.sanitize import MAX_ITEMS, excerpt, parser_error_detail

__all__ = ["SPECIES", "UNKNOWN_CODES", "Pedigree", "make_pedigree", "pedigree_from_fam",
           "read_pedigree"]

#: Accepted values of ``species``: animals (sexes separate, the sex check applies by default)
#: and plants (monoecious: one individual may be sire and dam, no sex check by default).
SPECIES = ("animal", "plant")

#: Tokens read as an unknown parent (after stripping blanks).
UNKNOWN_CODES = ("0", "", "NA", "na", "NaN", "nan", ".", "-", "*")

_ID_NAMES = ("id", "animal", "iid", "individual", "ind", "progeny", "name")
_SIRE_NAMES = ("sire", "father", "sid", "pat", "paternal", "sire_id")
_DAM_NAMES = ("dam", "mother", "did", "mat", "maternal", "dam_id")
_MALE = ("1", "m", "male")
_FEMALE = ("2", "f", "female")


def _shown(ids, limit: int = MAX_ITEMS) -> str:
    """A few ids for a message (sanitised and bounded, see :mod:`genoapp.io.sanitize`)."""
    return excerpt(ids, max_items=limit)


@dataclasses.dataclass(frozen=True, repr=False)
class Pedigree:
    """A validated pedigree in parents-first order.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per individual, parents before offspring: ``id``, ``sire``, ``dam`` (str;
        ``"0"`` = unknown), ``sex`` (int64: 1 male, 2 female, 0 unknown; from the file's sex
        column, else inferred from the use as sire/dam), ``generation`` (int64, 0 for founders,
        else 1 + the larger generation of the parents). ``RangeIndex``.
    sire, dam : numpy.ndarray
        ``(n,)`` int64 row positions of the parents in ``table``, ``-1`` = unknown. Always
        smaller than the row's own position.
    added_founders : tuple of str
        Parents that had no row of their own and were added as founders (unknown parents).
    unknown_parents : tuple of str
        Parents without a row that were set to unknown (``missing_parents="unknown"``).
    reordered : bool
        True when the input was not parents-first and was sorted (by generation, input order
        kept within a generation).
    source : str
        File name or ``"table"``.
    notes : tuple of str
        What was done, for the UI.
    """

    table: pd.DataFrame
    sire: np.ndarray
    dam: np.ndarray
    added_founders: tuple = ()
    unknown_parents: tuple = ()
    reordered: bool = False
    source: str = "table"
    notes: tuple = ()

    @property
    def n(self) -> int:
        """Number of individuals."""
        return int(self.table.shape[0])

    @property
    def ids(self) -> np.ndarray:
        """Individual ids (str) in parents-first order."""
        return self.table["id"].to_numpy(dtype=object)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        n_f = int(((self.sire < 0) & (self.dam < 0)).sum())
        return (f"Pedigree({self.source!r}, n={self.n}, founders={n_f}, "
                f"generations={int(self.table['generation'].max()) + 1 if self.n else 0})")

    def index(self, ids, *, what: str = "individuals") -> np.ndarray:
        """Row positions of ``ids`` in :attr:`table`.

        Parameters
        ----------
        ids : iterable of str
            Individual ids (compared as strings).
        what : str
            Name used in the error message.

        Returns
        -------
        numpy.ndarray
            ``(len(ids),)`` int64 positions.

        Raises
        ------
        InputDataError
            Some ids are not in the pedigree (the message lists them).
        """
        keys = pd.Index(self.table["id"].to_numpy(dtype=str))
        wanted = np.asarray([str(i) for i in ids], dtype=object)
        pos = keys.get_indexer(wanted)
        if (pos < 0).any():
            missing = wanted[pos < 0]
            raise InputDataError(
                f"{len(missing)} of {len(wanted)} {what} are not in the pedigree "
                f"{self.source} ({_shown(missing)}). Pedigree ids must equal the genotype IIDs; "
                "add these individuals to the pedigree (with unknown parents 0 0 if need be)."
            )
        return pos.astype(np.int64)

    def ancestors(self, positions) -> np.ndarray:
        """Sorted row positions of the given individuals and all their ancestors.

        Parameters
        ----------
        positions : array-like of int
            Row positions in :attr:`table` (see :meth:`index`).

        Returns
        -------
        numpy.ndarray
            int64 positions, ascending (so still parents-first).
        """
        keep = np.zeros(self.n, dtype=bool)
        keep[np.asarray(positions, dtype=np.int64)] = True
        # parents precede offspring: one backward sweep marks every ancestor
        for i in range(self.n - 1, -1, -1):
            if keep[i]:
                s, d = self.sire[i], self.dam[i]
                if s >= 0:
                    keep[s] = True
                if d >= 0:
                    keep[d] = True
        return np.flatnonzero(keep).astype(np.int64)

    def subset(self, positions) -> Pedigree:
        """A pedigree of some rows; ``positions`` must include every ancestor of them
        (use :meth:`ancestors`). Order is kept."""
        pos = np.unique(np.asarray(positions, dtype=np.int64))
        remap = np.full(self.n, -1, dtype=np.int64)
        remap[pos] = np.arange(pos.size)
        sire = np.where(self.sire[pos] >= 0, remap[np.maximum(self.sire[pos], 0)], -1)
        dam = np.where(self.dam[pos] >= 0, remap[np.maximum(self.dam[pos], 0)], -1)
        lost = ((self.sire[pos] >= 0) & (sire < 0)) | ((self.dam[pos] >= 0) & (dam < 0))
        if lost.any():
            raise ConfigError("Pedigree.subset: positions must include all ancestors; use "
                              "Pedigree.ancestors(positions) first.")
        return dataclasses.replace(self, table=self.table.iloc[pos].reset_index(drop=True),
                                   sire=sire, dam=dam)


def _find_column(header: list[str], names: tuple[str, ...]) -> int | None:
    low = [h.strip().lower() for h in header]
    for name in names:
        if name in low:
            return low.index(name)
    return None


def _read_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputDataError(
            f"Pedigree file {path} not found. Give the path of a table with the columns id, "
            "sire, dam (0 = unknown parent)."
        )
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = ""
        for line in fh:
            if line.strip():
                first = line
                break
    if not first:
        raise InputDataError(f"Pedigree file {path} is empty; expected rows of id, sire, dam.")
    sep = "\t" if "\t" in first else ("," if "," in first else r"\s+")
    try:
        raw = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False,
                          engine="python" if sep == r"\s+" else "c", comment=None,
                          skip_blank_lines=True)
    except UnicodeDecodeError:
        raise InputDataError(
            f"Pedigree file {path} is not a UTF-8 text file; expected a table of id, sire, dam."
        ) from None
    except pd.errors.ParserError as exc:
        raise InputDataError(
            f"Pedigree file {path}: rows have different numbers of columns "
            f"({parser_error_detail(exc)}). Expected "
            "id, sire, dam (and optionally sex) on every row."
        ) from None
    return raw


def _as_frame(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    """Pick id/sire/dam(/sex) columns from a header row or the first three columns."""
    if raw.shape[1] < 3:
        raise InputDataError(
            f"{where}: {raw.shape[1]} column(s); a pedigree needs at least 3 (id, sire, dam, "
            "0 = unknown parent)."
        )
    header = [str(v) for v in raw.iloc[0].tolist()]
    i_id = _find_column(header, _ID_NAMES)
    if i_id is not None:
        i_s = _find_column(header, _SIRE_NAMES)
        i_d = _find_column(header, _DAM_NAMES)
        if i_s is None or i_d is None:
            raise InputDataError(
                f"{where}: the header ({excerpt(header)}) names an id column but no "
                "sire/father and "
                "dam/mother columns. Name them 'sire' and 'dam' (or drop the header and put "
                "id, sire, dam in the first three columns)."
            )
        i_sex = _find_column(header, ("sex", "gender"))
        body = raw.iloc[1:].reset_index(drop=True)
        cols = {"id": body.iloc[:, i_id], "sire": body.iloc[:, i_s], "dam": body.iloc[:, i_d]}
        if i_sex is not None:
            cols["sex"] = body.iloc[:, i_sex]
        return pd.DataFrame(cols)
    return pd.DataFrame({"id": raw.iloc[:, 0], "sire": raw.iloc[:, 1], "dam": raw.iloc[:, 2]})


def _sex_codes(values: pd.Series) -> np.ndarray:
    s = values.astype(str).str.strip().str.lower()
    return np.where(s.isin(_MALE), 1, np.where(s.isin(_FEMALE), 2, 0)).astype(np.int64)


def _kahn_order(n: int, sire: np.ndarray, dam: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Generation of every row (parents-first levels); InputDataError naming a loop."""
    n_parents = (sire >= 0).astype(np.int64) + (dam >= 0).astype(np.int64)
    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        if sire[i] >= 0:
            children[sire[i]].append(i)
        if dam[i] >= 0 and dam[i] != sire[i]:
            children[dam[i]].append(i)
        elif dam[i] >= 0:  # selfing: one parent, counted twice
            n_parents[i] -= 1
    generation = np.zeros(n, dtype=np.int64)
    queue = deque(np.flatnonzero(n_parents == 0).tolist())
    remaining = n_parents.copy()
    done = 0
    while queue:
        p = queue.popleft()
        done += 1
        for c in children[p]:
            generation[c] = max(generation[c], generation[p] + 1)
            remaining[c] -= 1
            if remaining[c] == 0:
                queue.append(c)
    if done < n:
        stuck = np.flatnonzero(remaining > 0)
        # walk up unresolved parents from one stuck individual until a repeat: that is a loop
        start, seen, path = int(stuck[0]), {}, []
        node = start
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            s, d = sire[node], dam[node]
            node = int(s) if s >= 0 and remaining[s] > 0 else int(d)
        cycle = [str(ids[k]) for k in path[seen[node]:]] + [str(ids[node])]
        raise InputDataError(
            f"Pedigree loop: {excerpt(cycle, max_items=8, sep=' -> ')} (each is recorded as a "
            "parent of the next, "
            f"so an individual is its own ancestor). {stuck.size} individuals are in or "
            f"descend from loops ({_shown(ids[stuck])}). Correct the parent ids of these rows."
        )
    return generation


def make_pedigree(
    table: pd.DataFrame,
    *,
    missing_parents: str = "add",
    allow_selfing: bool = False,
    check_sex: bool | None = None,
    species: str = "animal",
    source: str = "table",
) -> Pedigree:
    """Validate a pedigree table and put parents before offspring.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``id``, ``sire``, ``dam`` (any values, compared as stripped strings; codes in
        :data:`UNKNOWN_CODES` mean unknown) and optionally ``sex`` (1/M male, 2/F female).
        Not modified.
    missing_parents : {"add", "unknown", "error"}, default "add"
        What to do with parents that have no row: add them as founders (listed in
        ``added_founders``; the usual practice), set them to unknown (listed in
        ``unknown_parents``; their offspring become founders, which loses relationships), or
        raise an error listing them.
    allow_selfing : bool, default False
        Accept rows whose sire and dam are the same individual (plants).
    check_sex : bool or None, default None
        Reject individuals used both as sire and as dam, and (with a ``sex`` column) sires
        recorded as female or dams as male. None: True for ``species="animal"``, False for
        ``species="plant"``; an explicit True or False wins over the species.
    species : {"animal", "plant"}, default "animal"
        "plant" for monoecious species, where one individual can be the sire of some
        offspring and the dam of others: the sex check is then off unless ``check_sex=True``
        (individuals used both ways are listed in ``notes``). Selfing is still governed by
        ``allow_selfing``.
    source : str
        Name used in messages.

    Returns
    -------
    Pedigree
        Parents-first; ``reordered`` tells whether the rows were sorted.

    Raises
    ------
    InputDataError
        Empty or duplicated ids, loops, sex conflicts, selfing without ``allow_selfing``,
        parents without rows with ``missing_parents="error"`` (each message lists the ids).
    ConfigError
        Unknown ``missing_parents`` or ``species``, or ``check_sex`` not True, False or None.
    """
    if missing_parents not in ("add", "unknown", "error"):
        raise ConfigError(
            f"missing_parents: must be 'add', 'unknown' or 'error', got {missing_parents!r}."
        )
    check_sex = _resolve_check_sex(check_sex, species)
    for col in ("id", "sire", "dam"):
        if col not in table.columns:
            raise InputDataError(
                f"{source}: no '{col}' column (columns: {excerpt(table.columns)}); "
                "a pedigree needs id, sire, dam."
            )
    if len(table) == 0:
        raise InputDataError(f"{source}: the pedigree has no rows.")
    unknown = set(UNKNOWN_CODES)

    def clean(col: str) -> np.ndarray:
        vals = table[col].astype("string").fillna("").str.strip().to_numpy(dtype=object)
        return np.asarray([str(v) for v in vals], dtype=object)

    ids, sires, dams = clean("id"), clean("sire"), clean("dam")
    bad = np.flatnonzero(np.isin(ids, list(unknown)))
    if bad.size:
        raise InputDataError(
            f"{source}: {bad.size} row(s) have an empty or unknown-code id (rows "
            f"{_shown((bad + 1).tolist())}); every row needs the individual's own id."
        )
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputDataError(
            f"{source}: {len(set(ids[dup]))} id(s) occur on more than one row "
            f"({_shown(sorted(set(ids[dup])))}). Keep one row per individual."
        )
    sires = np.where(np.isin(sires, list(unknown)), "0", sires).astype(object)
    dams = np.where(np.isin(dams, list(unknown)), "0", dams).astype(object)
    own = np.flatnonzero((ids == sires) | (ids == dams))
    if own.size:
        raise InputDataError(
            f"Pedigree loop in {source}: {own.size} individual(s) are recorded as their own "
            f"parent ({_shown(ids[own])}). Correct their sire/dam."
        )
    selfed = np.flatnonzero((sires == dams) & (sires != "0"))
    if selfed.size and not allow_selfing:
        raise InputDataError(
            f"Sex conflict in {source}: {selfed.size} row(s) have the same individual as sire "
            f"and dam ({_shown([f'{ids[i]} ({sires[i]})' for i in selfed])}). For plants with "
            "selfing, allow it (allow_selfing=True); otherwise correct these parents."
        )
    notes: list[str] = []
    sex_col = _sex_codes(table["sex"]) if "sex" in table.columns else None
    crossed = sires != dams  # selfing rows use one parent as both: not a conflict
    as_sire = set(sires[crossed & (sires != "0")].tolist())
    as_dam = set(dams[crossed & (dams != "0")].tolist())
    both = sorted(as_sire & as_dam)
    if both and not check_sex:
        notes.append(f"{len(both)} individual(s) are a sire of some offspring and a dam of "
                     f"others ({_shown(both)}); accepted (sex check off"
                     f"{', species plant' if species == 'plant' else ''}).")
    if check_sex:
        if both:
            raise InputDataError(
                f"Sex conflict in {source}: {len(both)} individual(s) are a sire of some "
                f"offspring and a dam of others ({_shown(both)}). If this is an animal "
                "pedigree, correct the parent columns. For a monoecious species (plants, where "
                "one individual can be both sire and dam) this is normal: declare the species "
                "as a plant (species='plant'), or switch the check off with check_sex=False."
            )
        if sex_col is not None:
            sex_of = dict(zip(ids.tolist(), sex_col.tolist(), strict=True))
            wrong = sorted({s for s in as_sire if sex_of.get(s) == 2}
                           | {d for d in as_dam if sex_of.get(d) == 1})
            if wrong:
                raise InputDataError(
                    f"Sex conflict in {source}: {len(wrong)} individual(s) are used as a parent "
                    f"of the other sex (a sire recorded female or a dam recorded male: "
                    f"{_shown(wrong)}). Correct the sex column or the parent columns."
                )
    # parents without a row of their own
    known = set(ids.tolist())
    parents = [p for p in dict.fromkeys(np.concatenate([sires, dams]).tolist()) if p != "0"]
    absent = [p for p in parents if p not in known]
    added: tuple = ()
    unknown_parents: tuple = ()
    if absent:
        if missing_parents == "error":
            raise InputDataError(
                f"{source}: {len(absent)} parent(s) have no row of their own ({_shown(absent)}). "
                "Add them as rows with unknown parents (id 0 0), or let genoapp add them as "
                "founders."
            )
        if missing_parents == "add":
            added = tuple(absent)
            notes.append(f"{len(absent)} parent(s) without a row were added as founders: "
                         f"{_shown(absent)}.")
        else:
            unknown_parents = tuple(absent)
            absent_set = set(absent)
            sires = np.where(np.isin(sires, list(absent_set)), "0", sires).astype(object)
            dams = np.where(np.isin(dams, list(absent_set)), "0", dams).astype(object)
            notes.append(f"{len(absent)} parent(s) without a row were set to unknown: "
                         f"{_shown(absent)}.")
    all_ids = np.concatenate([np.asarray(added, dtype=object), ids]).astype(object)
    all_sires = np.concatenate([np.full(len(added), "0", dtype=object), sires]).astype(object)
    all_dams = np.concatenate([np.full(len(added), "0", dtype=object), dams]).astype(object)
    n = all_ids.size
    key = pd.Index(all_ids.astype(str))
    s_pos = np.where(all_sires == "0", -1, key.get_indexer(all_sires.astype(str))).astype(np.int64)
    d_pos = np.where(all_dams == "0", -1, key.get_indexer(all_dams.astype(str))).astype(np.int64)
    generation = _kahn_order(n, s_pos, d_pos, all_ids)
    rows = np.arange(n)
    parents_first = bool(((s_pos < rows) & (d_pos < rows)).all())
    order = rows if parents_first else np.lexsort((rows, generation))
    reordered = not parents_first
    if reordered:
        notes.append("Parents were listed after some of their offspring; the pedigree was "
                     "sorted by generation (parents first).")
    # sex: from the file, else inferred from use as sire/dam (founders added get it this way)
    sex = np.zeros(n, dtype=np.int64)
    if sex_col is not None:
        sex[len(added):] = sex_col
    inferred = np.zeros(n, dtype=np.int64)
    inferred[s_pos[s_pos >= 0]] = 1
    inferred[d_pos[d_pos >= 0]] = 2
    sex = np.where(sex == 0, inferred, sex)
    inv = np.empty(n, dtype=np.int64)
    inv[order] = np.arange(n)
    new_s = np.where(s_pos[order] >= 0, inv[np.maximum(s_pos[order], 0)], -1)
    new_d = np.where(d_pos[order] >= 0, inv[np.maximum(d_pos[order], 0)], -1)
    out = pd.DataFrame({
        "id": pd.array(all_ids[order].astype(str), dtype=object),
        "sire": all_sires[order].astype(str),
        "dam": all_dams[order].astype(str),
        "sex": sex[order],
        "generation": generation[order],
    })
    return Pedigree(table=out, sire=new_s.astype(np.int64), dam=new_d.astype(np.int64),
                    added_founders=added, unknown_parents=unknown_parents, reordered=reordered,
                    source=source, notes=tuple(notes))


def _resolve_check_sex(check_sex: bool | None, species: str) -> bool:
    """``check_sex`` with None replaced by the species' default (animal True, plant False)."""
    if species not in SPECIES:
        raise ConfigError(f"species: must be 'animal' or 'plant', got {species!r}.")
    if check_sex is None:
        return species == "animal"
    if not isinstance(check_sex, bool | np.bool_):
        raise ConfigError(f"check_sex: True, False or None (from the species), got {check_sex!r}.")
    return bool(check_sex)


def read_pedigree(
    source,
    *,
    missing_parents: str = "add",
    allow_selfing: bool = False,
    check_sex: bool | None = None,
    species: str = "animal",
) -> Pedigree:
    """Read, validate and order a pedigree file (or table).

    Parameters
    ----------
    source : str, path-like or pandas.DataFrame
        A pedigree file (see the module docstring for the format) or a DataFrame with
        ``id``, ``sire``, ``dam`` (optional ``sex``) columns.
    missing_parents, allow_selfing
        See :func:`make_pedigree`.
    check_sex : bool or None, default None
        Reject individuals used both as sire and as dam (and sires recorded female, dams
        recorded male). None: True for animals, False for plants; True or False wins.
    species : {"animal", "plant"}, default "animal"
        "plant" for monoecious species (one individual may be sire and dam): no sex check
        unless ``check_sex=True``.

    Returns
    -------
    Pedigree

    Raises
    ------
    InputDataError
        Missing/empty/malformed file, or any check of :func:`make_pedigree` (a sex conflict
        says how to declare a plant or switch the check off).
    ConfigError
        Unknown ``missing_parents`` or ``species``, or a ``check_sex`` that is not a bool or
        None.

    Examples
    --------
    >>> ped = read_pedigree("data/pic.pedigree.tsv")            # doctest: +SKIP
    >>> ped.n, ped.reordered                                     # doctest: +SKIP
    (6473, False)
    >>> ped = read_pedigree("maize.pedigree.tsv", species="plant")  # doctest: +SKIP
    """
    kw = dict(missing_parents=missing_parents, allow_selfing=allow_selfing, check_sex=check_sex,
              species=species)
    if isinstance(source, pd.DataFrame):
        return make_pedigree(source, source="table", **kw)
    if not isinstance(source, str | os.PathLike):
        raise InputDataError(
            f"The pedigree must be a file path or a pandas DataFrame; got {type(source).__name__}."
        )
    path = Path(source).expanduser()
    frame = _as_frame(_read_file(path), f"Pedigree file {path}")
    return make_pedigree(frame, source=path.name, **kw)


def pedigree_from_fam(samples: pd.DataFrame, **kwargs) -> Pedigree:
    """Pedigree from a PLINK .fam table (IID, father, mother, sex).

    Parameters
    ----------
    samples : pandas.DataFrame
        As returned by :func:`genoapp.io.read_fam` (columns ``IID``, ``father``, ``mother``,
        ``sex``). Parents are matched on IID.
    **kwargs
        Passed to :func:`make_pedigree` (``missing_parents``, ``allow_selfing``,
        ``check_sex``, ``species``).

    Returns
    -------
    Pedigree
    """
    for col in ("IID", "father", "mother"):
        if col not in samples.columns:
            raise InputDataError(f".fam table: no '{col}' column; cannot build a pedigree.")
    table = pd.DataFrame({"id": samples["IID"], "sire": samples["father"],
                          "dam": samples["mother"]})
    if "sex" in samples.columns:
        table["sex"] = samples["sex"].astype(str)
    kwargs.setdefault("source", ".fam")
    return make_pedigree(table, **kwargs)
