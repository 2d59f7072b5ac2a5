"""Genotype counts per variant and sample group, straight from packed PLINK .bed bytes.

Every QC filter and association test of :mod:`genoapp.qc` (missing rates, allele frequencies,
Hardy-Weinberg, differential missingness, batch tables, the allelic test) needs only, per
variant and per group of samples, the number of homozygous-A1, heterozygous, homozygous-A2 and
missing calls, plus the number of missing calls of each sample. This module computes exactly
these numbers in one streamed pass over the .bed file, without decoding genotypes into a
dense matrix (which is ten times slower than the counting at paper scale and needs gigabytes).

.bed layout (https://www.cog-genomics.org/plink/1.9/formats#bed, checked against bed-reader in
``tests/test_qc_counts.py``): 3 magic bytes ``6c 1b 01``, then for each variant
``ceil(n_samples / 4)`` bytes; each byte holds 4 samples, 2 bits each, lowest bits first:
``00`` homozygous A1 (two copies of A1, bim column 5), ``01`` missing, ``10`` heterozygous,
``11`` homozygous A2. Padding bits of the last byte are ignored.

Method: each variant's bytes are copied into 64-bit words (32 samples per word). With
``lo = word & 0x5555...`` and ``hi = (word >> 1) & 0x5555...`` restricted to a group's samples
by a bit mask, ``popcount(lo & hi)`` counts homozygous A2, ``popcount(hi) - that`` hets and
``popcount(lo) - that`` missing calls; homozygous A1 is the group size minus the three. A group
only visits the words that hold at least one of its samples. The missing calls of each sample
(``lo & ~hi``) are accumulated in 4-bit counters, 16 samples per 64-bit word, moved every 15
variants into 8-bit counters and every 255 variants into 64-bit totals. Variants are processed in parallel (numba ``nogil`` kernels in a thread pool; the
words are read with unaligned 64-bit loads, so no byte is copied) in blocks of a few megabytes
read with ``readinto`` into a reused buffer (the next block is read while the current one is counted), so memory stays
bounded whatever the file size.

On a Dask cluster, :func:`scan_bed` runs per variant block on the workers and reduces the blocks
here (:mod:`genoapp.qc.distributed`); the counts are identical to the in-process pass.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from genoapp.errors import InputDataError
from genoapp.qc._parallel import n_threads, run_ranges

__all__ = [
    "GenotypeCounts",
    "scan_bed",
    "scan_dense",
]

BED_MAGIC = b"\x6c\x1b\x01"
#: Codes of the last axis of :attr:`GenotypeCounts.counts`.
HOM_A1, HET, HOM_A2, MISSING = 0, 1, 2, 3
# Bytes of .bed read per block (16 MiB, two buffers): bounded memory, calls amortised.
_BLOCK_BYTES = 16 << 20
# Up to this many sample groups, each group is counted in its own vectorised pass over the words;
# beyond, one pass visits the (group, mask) pairs of each word.
_DENSE_GROUPS = 6


# --------------------------------------------------------------------------------------------
# Bit intrinsics (LLVM ctpop: the CPU's POPCNT / VPOPCNTQ; unaligned 64-bit loads)
# --------------------------------------------------------------------------------------------
@intrinsic
def _popcount(typingctx, x):
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@intrinsic
def _load_u64(typingctx, arr, offset):
    """Little-endian uint64 from 8 bytes of a uint8 array at any byte offset (no bounds check)."""
    sig = types.uint64(arr, types.intp)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        return builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)

    return sig, codegen


_FIVE = np.uint64(0x5555555555555555)
_NIB = np.uint64(0x1111111111111111)
_LOWNIB = np.uint64(0x0F0F0F0F0F0F0F0F)
_FF = np.uint64(0xFF)
_ONE = np.uint64(1)
_TWO = np.uint64(2)
_FOUR = np.uint64(4)


@njit(inline="always", nogil=True, cache=True)
def _tail_word(block, base, bpv, tail, lastmask):  # pragma: no cover - compiled
    """The variant's last, partial 64-bit word (bytes 8 * (bpv // 8) ... bpv - 1)."""
    if bpv >= 8:
        w = _load_u64(block, base + bpv - 8) >> np.uint64(8 * (8 - tail))
    else:
        w = np.uint64(0)
        for k in range(tail):
            w |= np.uint64(block[base + bpv - tail + k]) << np.uint64(8 * k)
    return w & lastmask


# --------------------------------------------------------------------------------------------
# Kernels (serial, nogil: run on variant ranges by genoapp.qc._parallel)
# --------------------------------------------------------------------------------------------
@njit(nogil=True, cache=True)
def _bed_range(lo_v, hi_v, worker, block, bpv, lastmask, vsel, dmask, wptr, wgroup, wmask,
               out, smask, acc, cnt):  # pragma: no cover - compiled
    """Count variants lo_v..hi_v-1 of a block of .bed rows.

    dmask: (n_dense_groups, n_words) 2-bit sample masks (11 per member), used when the
    groups are few (vectorised loop per group); otherwise (wptr, wgroup, wmask): CSR by word of
    (group, mask). out: int32 (n_var, n_groups, 3) = missing, het, hom A2. smask: uint64 per
    word (empty = no per-sample missing); acc: int64 (n_workers, n_words * 32); cnt: uint64
    (n_workers, 6, n_words): 4-bit counters of even/odd samples, flushed every 15 variants
    into 8-bit counters (4 arrays), flushed every 255 variants into acc.
    """
    full = bpv // 8
    tail = bpv - 8 * full
    n_words = full + (1 if tail else 0)
    n_dense = dmask.shape[0]
    n_groups = out.shape[1]
    do_counts = n_dense > 0 or wgroup.shape[0] > 0
    do_smiss = smask.shape[0] > 0
    ev = cnt[worker, 0]
    od = cnt[worker, 1]
    a = np.zeros(n_groups, dtype=np.int64)
    b = np.zeros(n_groups, dtype=np.int64)
    c = np.zeros(n_groups, dtype=np.int64)
    pending = 0
    for v in range(lo_v, hi_v):
        if vsel[v] == 0:
            continue
        base = v * bpv
        if not do_counts:
            pass
        elif n_dense > 0:
            for g in range(n_dense):
                mg = dmask[g]
                x = 0
                y = 0
                z = 0
                for j in range(full):
                    w = _load_u64(block, base + 8 * j) & mg[j]
                    x += _popcount(w & _FIVE)
                    y += _popcount(w & ~_FIVE)
                    z += _popcount(w & (w >> _ONE) & _FIVE)
                if tail:
                    w = _tail_word(block, base, bpv, tail, lastmask) & mg[full]
                    x += _popcount(w & _FIVE)
                    y += _popcount(w & ~_FIVE)
                    z += _popcount(w & (w >> _ONE) & _FIVE)
                out[v, g, 0] = x - z
                out[v, g, 1] = y - z
                out[v, g, 2] = z
        else:
            a[:] = 0
            b[:] = 0
            c[:] = 0
            for j in range(n_words):
                if j < full:
                    w = _load_u64(block, base + 8 * j)
                else:
                    w = _tail_word(block, base, bpv, tail, lastmask)
                lo = w & _FIVE
                hi = (w >> _ONE) & _FIVE
                both = lo & hi
                for k in range(wptr[j], wptr[j + 1]):
                    g = wgroup[k]
                    m = wmask[k]
                    a[g] += _popcount(lo & m)
                    b[g] += _popcount(hi & m)
                    c[g] += _popcount(both & m)
            for g in range(n_groups):
                out[v, g, 0] = a[g] - c[g]
                out[v, g, 1] = b[g] - c[g]
                out[v, g, 2] = c[g]
        if do_smiss:
            for j in range(n_words):
                if j < full:
                    w = _load_u64(block, base + 8 * j)
                else:
                    w = _tail_word(block, base, bpv, tail, lastmask)
                m = w & ~(w >> _ONE) & smask[j]
                ev[j] += m & _NIB
                od[j] += (m >> _TWO) & _NIB
            pending += 1
            if pending % 15 == 0:
                _nibbles_to_bytes(cnt, worker)
                if pending == 255:
                    _bytes_to_acc(cnt, worker, acc[worker])
                    pending = 0
    if do_smiss and pending > 0:
        _nibbles_to_bytes(cnt, worker)
        _bytes_to_acc(cnt, worker, acc[worker])


@njit(nogil=True, cache=True)
def _nibbles_to_bytes(cnt, worker):  # pragma: no cover - compiled
    """Move the 4-bit per-sample counters into 8-bit counters (SWAR, 16 samples per op)."""
    ev = cnt[worker, 0]
    od = cnt[worker, 1]
    for j in range(ev.shape[0]):
        e = ev[j]
        o = od[j]
        cnt[worker, 2, j] += e & _LOWNIB
        cnt[worker, 3, j] += (e >> _FOUR) & _LOWNIB
        cnt[worker, 4, j] += o & _LOWNIB
        cnt[worker, 5, j] += (o >> _FOUR) & _LOWNIB
        ev[j] = 0
        od[j] = 0


@njit(nogil=True, cache=True)
def _bytes_to_acc(cnt, worker, acc):  # pragma: no cover - compiled
    """Add the 8-bit per-sample counters to the int64 per-sample totals and reset them.

    Word j, byte b of: even-low -> sample 32 j + 4 b, odd-low -> + 1, even-high -> + 2,
    odd-high -> + 3 (nibble s of the even/odd counters is sample 2 s / 2 s + 1).
    """
    for j in range(cnt.shape[2]):
        el = cnt[worker, 2, j]
        eh = cnt[worker, 3, j]
        ol = cnt[worker, 4, j]
        oh = cnt[worker, 5, j]
        if el | eh | ol | oh:
            base = 32 * j
            for b in range(8):
                sh = np.uint64(8 * b)
                acc[base + 4 * b] += np.int64((el >> sh) & _FF)
                acc[base + 4 * b + 1] += np.int64((ol >> sh) & _FF)
                acc[base + 4 * b + 2] += np.int64((eh >> sh) & _FF)
                acc[base + 4 * b + 3] += np.int64((oh >> sh) & _FF)
        cnt[worker, 2, j] = 0
        cnt[worker, 3, j] = 0
        cnt[worker, 4, j] = 0
        cnt[worker, 5, j] = 0


@njit(nogil=True, cache=True)
def _dense_range(lo_b, hi_b, worker, G, missing_code, groups, vsel, out, a1_sum, acc,
                 smiss_rows, flags):  # pragma: no cover - compiled
    """Counts from a dense (n_samples, n_variants) dosage matrix, column blocks lo_b..hi_b-1.

    out: int32 (n_variants, n_groups, 4) hom A1 / het / hom A2 / missing of hard calls
    (dosages rounded to the nearest integer); a1_sum: float64 (n_variants, n_groups), exact
    sum of the non-missing dosages; acc: int64 (n_workers, n_samples) missing calls per sample
    (rows where smiss_rows is True); flags: int64 (n_workers, 2) counts of values outside
    [0, 2] and of non-integer dosages.
    """
    n, m = G.shape
    width = 256
    for blk in range(lo_b, hi_b):
        v0 = blk * width
        v1 = min(m, v0 + width)
        for i in range(n):
            g = groups[i]
            srow = smiss_rows[i]
            if g < 0 and not srow:
                continue
            for v in range(v0, v1):
                if vsel[v] == 0:
                    continue
                x = G[i, v]
                if x != x or x == missing_code:
                    if g >= 0:
                        out[v, g, 3] += 1
                    if srow:
                        acc[worker, i] += 1
                    continue
                if x < 0 or x > 2:
                    flags[worker, 0] += 1
                    continue
                if g < 0:
                    continue
                r = int(np.rint(x))
                if r != x:
                    flags[worker, 1] += 1
                if r == 2:
                    out[v, g, 0] += 1
                elif r == 1:
                    out[v, g, 1] += 1
                else:
                    out[v, g, 2] += 1
                a1_sum[v, g] += x


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class GenotypeCounts:
    """Per-variant genotype counts by sample group, and per-sample missing counts.

    Attributes
    ----------
    counts : numpy.ndarray of int32, shape (n_variants, n_groups, 4)
        Number of homozygous-A1 (2 copies of A1), heterozygous, homozygous-A2 and missing calls
        of each variant among the samples of each group (index with :data:`HOM_A1`,
        :data:`HET`, :data:`HOM_A2`, :data:`MISSING`). Variants not selected are all zero.
    sample_missing : numpy.ndarray of int64, shape (n_samples,), or None
        Missing calls of each sample over the selected variants (zero for samples not asked
        for); None when not computed.
    a1_sum : numpy.ndarray of float64, shape (n_variants, n_groups), or None
        Sum of A1 dosages over the non-missing calls, only for dense input holding non-integer
        dosages (imputed data); None otherwise, where it equals ``2 * hom_A1 + het``.
    n_variants_counted : int
        Number of variants selected (the denominator of the per-sample missing rate).
    """

    counts: np.ndarray
    sample_missing: np.ndarray | None
    a1_sum: np.ndarray | None = None
    n_variants_counted: int = 0

    def group_sum(self, groups) -> np.ndarray:
        """Counts summed over some groups: int64 array of shape (n_variants, 4)."""
        idx = np.asarray(groups, dtype=np.int64)
        if idx.size == 0:
            return np.zeros((self.counts.shape[0], 4), dtype=np.int64)
        return self.counts[:, idx, :].sum(axis=1, dtype=np.int64)

    def a1_count(self, groups) -> np.ndarray:
        """Copies of A1 among the non-missing calls of some groups: float64 (n_variants,)."""
        idx = np.asarray(groups, dtype=np.int64)
        if self.a1_sum is not None:
            return self.a1_sum[:, idx].sum(axis=1) if idx.size else np.zeros(len(self.counts))
        c = self.group_sum(idx)
        return (2.0 * c[:, HOM_A1] + c[:, HET]).astype(np.float64)


def _check_groups(groups, n_samples: int, what: str) -> tuple[np.ndarray, int]:
    if groups is None:
        return np.zeros(n_samples, dtype=np.int64), 1
    g = np.asarray(groups)
    if g.shape != (n_samples,) or g.dtype.kind not in "iu":
        raise InputDataError(
            f"{what}: sample groups must be an integer array of shape ({n_samples},) (group "
            f"index per sample, -1 = not counted); found dtype {g.dtype} and shape {g.shape}."
        )
    g = g.astype(np.int64)
    n_groups = int(g.max()) + 1 if g.size and g.max() >= 0 else 0
    return g, max(n_groups, 1)


def _check_mask(mask, n: int, what: str) -> np.ndarray | None:
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.dtype != bool or arr.shape != (n,):
        raise InputDataError(f"{what}: expected a boolean mask of shape ({n},); found {arr.dtype} "
                             f"{arr.shape}.")
    return arr


def _word_csr(groups: np.ndarray, n_words: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group, sample-bit mask) pairs per 64-bit word, sorted by word."""
    idx = np.flatnonzero(groups >= 0)
    if idx.size == 0:
        return np.zeros(n_words + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64)
    word = idx // 32
    bit = np.left_shift(np.uint64(1), (2 * (idx % 32)).astype(np.uint64))
    key = word * (int(groups.max()) + 1) + groups[idx]
    uniq, inv = np.unique(key, return_inverse=True)
    masks = np.zeros(uniq.size, dtype=np.uint64)
    np.bitwise_or.at(masks, inv, bit)
    n_g = int(groups.max()) + 1
    u_word = uniq // n_g
    u_group = uniq % n_g
    wptr = np.zeros(n_words + 1, dtype=np.int64)
    np.add.at(wptr, u_word + 1, 1)
    return np.cumsum(wptr), u_group.astype(np.int64), masks


def _dense_masks(groups: np.ndarray, n_groups: int, n_words: int) -> np.ndarray:
    """(n_groups, n_words) 2-bit masks: bits 2i and 2i+1 of word i // 32 set for members."""
    out = np.zeros((n_groups, n_words), dtype=np.uint64)
    idx = np.flatnonzero(groups >= 0)
    bits = np.left_shift(np.uint64(3), (2 * (idx % 32)).astype(np.uint64))
    np.bitwise_or.at(out, (groups[idx], idx // 32), bits)
    return out


def _sample_word_mask(sel: np.ndarray, n_words: int) -> np.ndarray:
    out = np.zeros(n_words, dtype=np.uint64)
    idx = np.flatnonzero(sel)
    bit = np.left_shift(np.uint64(1), (2 * (idx % 32)).astype(np.uint64))
    np.bitwise_or.at(out, idx // 32, bit)
    return out


def scan_bed(
    bed,
    n_samples: int,
    n_variants: int,
    *,
    groups=None,
    missing_samples=None,
    variant_mask=None,
    num_threads: int | None = None,
) -> GenotypeCounts:
    """Count genotypes per variant and sample group, and missing calls per sample, from a .bed.

    Parameters
    ----------
    bed : str or path-like
        The .bed file (SNP-major, PLINK 1 binary) of a fileset with ``n_samples`` samples
        (.fam lines) and ``n_variants`` variants (.bim lines).
    n_samples, n_variants : int
        Dimensions of the fileset; checked against the file size.
    groups : array of int, shape (n_samples,), optional
        Group index of each .fam sample (0, 1, ...), -1 = not counted. Default: one group with
        every sample.
    missing_samples : array of bool, shape (n_samples,), optional
        Samples whose missing calls are counted (``sample_missing``). None = not computed.
    variant_mask : array of bool, shape (n_variants,), optional
        Variants to count (both outputs); default all.
    num_threads : int, optional
        Worker threads (default: the cores available, see :mod:`genoapp.qc._parallel`). On a
        Dask cluster each job uses its host's cores divided by the workers sharing them.

    Returns
    -------
    GenotypeCounts
        ``counts`` of shape (n_variants, n_groups, 4) (hom A1, het, hom A2, missing; A1 = bim
        column 5, as PLINK) and ``sample_missing`` (int64 per .fam sample, or None).

    Raises
    ------
    InputDataError
        The file is missing, lacks the magic bytes, is individual-major, or its size is not
        ``3 + n_variants * ceil(n_samples / 4)``; bad ``groups``/masks.

    Notes
    -----
    Same counts as PLINK 1.9's ``--freq counts``/``--missing``/``--hardy`` tables of the chosen
    samples (all autosomal, diploid), checked in ``tests/test_qc_counts.py``.

    When the current executor is a Dask cluster (``with use_executor("local:2")``, see
    :mod:`genoapp.qc.distributed`), the variants are split into contiguous blocks, each
    worker reads its block from ``bed`` (which must be at the same path on every worker, e.g.
    a shared file system) with the same kernels, and the counts are concatenated and the
    per-sample missing counts summed here: the result is identical.
    """
    path = Path(os.fspath(bed))
    bpv = (n_samples + 3) // 4
    expected = 3 + n_variants * bpv
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            magic = fh.read(3)
    except OSError as exc:
        raise InputDataError(f".bed file {path}: cannot be read ({exc}).") from None
    if magic != BED_MAGIC:
        raise InputDataError(
            f".bed file {path}: first bytes {magic.hex(' ')}; expected 6c 1b 01 (PLINK 1 "
            "SNP-major). Regenerate it with plink --make-bed."
        )
    if size != expected:
        raise InputDataError(
            f".bed file {path} has {size:,} bytes; {n_samples:,} samples and {n_variants:,} "
            f"variants need {expected:,}. The .bim/.fam do not belong to this .bed."
        )
    g, n_groups = _check_groups(groups, n_samples, f"scan_bed({path.name})")
    smiss = _check_mask(missing_samples, n_samples, "missing_samples")
    vmask = _check_mask(variant_mask, n_variants, "variant_mask")
    from genoapp.qc.distributed import distributed_blocks

    blocks = distributed_blocks(n_variants)
    if blocks is not None:  # a Dask cluster: one job per variant block, reduced here
        return _scan_bed_distributed(path, n_samples, n_variants, g, n_groups, smiss, vmask,
                                     blocks)
    k = n_threads() if num_threads is None else max(1, int(num_threads))
    out, acc = _scan_bed_range(path, n_samples, 0, n_variants, g, n_groups, smiss, vmask, k)
    if vmask is not None:
        out[~vmask] = 0
    sample_missing = acc[:n_samples] if smiss is not None else None
    n_counted = n_variants if vmask is None else int(vmask.sum())
    return GenotypeCounts(out, sample_missing, None, n_counted)


def _scan_bed_range(path: Path, n_samples: int, v_lo: int, v_hi: int, g: np.ndarray,
                    n_groups: int, smiss: np.ndarray | None, vmask: np.ndarray | None,
                    k: int) -> tuple[np.ndarray, np.ndarray]:
    """Count variants ``v_lo..v_hi-1`` of a checked .bed with ``k`` threads.

    ``vmask`` covers the range (None: all). Returns the counts (v_hi - v_lo, n_groups, 4) (rows of
    unselected variants are not meaningful) and the per-sample missing calls (int64, padded to
    a multiple of 32 samples; zeros when ``smiss`` is None).
    """
    n_variants = v_hi - v_lo
    bpv = (n_samples + 3) // 4
    n_words = max(1, (n_samples + 31) // 32)
    if not (g >= 0).any():  # nothing to count per variant (e.g. only per-sample missing)
        dmask = np.zeros((0, n_words), dtype=np.uint64)
        wptr, wgroup, wmask = np.zeros(n_words + 1, np.int64), np.zeros(0, np.int64), \
            np.zeros(0, np.uint64)
    elif n_groups <= _DENSE_GROUPS:
        dmask = _dense_masks(g, n_groups, n_words)
        wptr, wgroup, wmask = np.zeros(n_words + 1, np.int64), np.zeros(0, np.int64), \
            np.zeros(0, np.uint64)
    else:
        dmask = np.zeros((0, n_words), dtype=np.uint64)
        wptr, wgroup, wmask = _word_csr(g, n_words)
    smask = _sample_word_mask(smiss, n_words) if smiss is not None else np.zeros(0, np.uint64)
    rem = n_samples % 32
    lastmask = np.uint64((1 << (2 * rem)) - 1) if rem else np.uint64(0xFFFFFFFFFFFFFFFF)
    acc = np.zeros((k, n_words * 32), dtype=np.int64)
    cnt = np.zeros((k, 6, n_words), dtype=np.uint64)
    out = np.zeros((n_variants, n_groups, 4), dtype=np.int32)
    block_vars = max(1, min(n_variants, _BLOCK_BYTES // max(bpv, 1)))
    three = np.zeros((block_vars, n_groups, 3), dtype=np.int32)
    bufs = [np.empty(block_vars * bpv, dtype=np.uint8) for _ in range(2)]
    ones = np.ones(block_vars, dtype=np.uint8)
    starts = list(range(0, n_variants, block_vars))
    if vmask is not None:  # skip blocks without a selected variant
        starts = [v0 for v0 in starts if vmask[v0:v0 + block_vars].any()]

    def compute(v0: int, buf: np.ndarray) -> None:
        nv = min(block_vars, n_variants - v0)
        vsel = ones if vmask is None else vmask[v0:v0 + nv].astype(np.uint8)
        run_ranges(_bed_range, nv, buf, bpv, lastmask, vsel, dmask, wptr, wgroup, wmask,
                   three, smask, acc, cnt, threads=k)
        sl = out[v0:v0 + nv]
        sl[:, :, MISSING] = three[:nv, :, 0]
        sl[:, :, HET] = three[:nv, :, 1]
        sl[:, :, HOM_A2] = three[:nv, :, 2]

    with open(path, "rb", buffering=0) as fh:
        # Double buffering: the next block is read while the workers count the current one.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="genoapp-bed") as io:
            pending = None
            for i, v0 in enumerate(starts):
                buf = bufs[i % 2]
                nv = min(block_vars, n_variants - v0)
                _read_exact(fh, path, 3 + (v_lo + v0) * bpv, buf, nv * bpv)
                if pending is not None:
                    pending.result()
                pending = io.submit(compute, v0, buf)
            if pending is not None:
                pending.result()
    sizes = np.bincount(g[g >= 0], minlength=n_groups).astype(np.int32)
    out[:, :, HOM_A1] = sizes[None, :] - out[:, :, HET] - out[:, :, HOM_A2] - out[:, :, MISSING]
    return out, acc.sum(axis=0)


def _scan_bed_block(item, ctx):
    """Dask job: counts of one variant block ``item = (v_lo, v_hi, vmask_or_None)``.

    The worker reads its block from the .bed at ``ctx["path"]`` (shared storage) with the
    kernels of the in-process path; returns ``(counts (v_hi - v_lo, n_groups, 4), per-sample
    missing (int64) or None)``.
    """
    from genoapp.qc.distributed import job_threads

    v_lo, v_hi, vm = item
    n, smiss = ctx["n_samples"], ctx["smiss"]
    out, acc = _scan_bed_range(Path(ctx["path"]), n, v_lo, v_hi, ctx["groups"], ctx["n_groups"],
                               smiss, vm, job_threads(ctx["hosts"]))
    return out, (acc[:n] if smiss is not None else None)


def _scan_bed_distributed(path: Path, n_samples: int, n_variants: int, g: np.ndarray,
                          n_groups: int, smiss, vmask, blocks) -> GenotypeCounts:
    """:func:`scan_bed` with one Dask job per variant block; counts concatenated, per-sample
    missing calls summed over the blocks (integers: identical to the in-process pass)."""
    from genoapp.execution import current_executor
    from genoapp.qc.distributed import JobContext, hosts_of_workers

    ex = current_executor()
    items = []
    for v0, v1 in blocks:
        vm = None if vmask is None else vmask[v0:v1]
        if vm is not None and not vm.any():
            continue  # nothing selected: the block stays zero, as in-process
        items.append((v0, v1, vm))
    out = np.zeros((n_variants, n_groups, 4), dtype=np.int32)
    sample_missing = np.zeros(n_samples, dtype=np.int64) if smiss is not None else None

    def reduce(i: int, res) -> None:  # as jobs finish: the client holds one block at a time
        v0, v1, _ = items[i]
        out[v0:v1] = res[0]
        if sample_missing is not None:
            sample_missing[:] += res[1]

    ctx = JobContext({"path": str(path.absolute()), "n_samples": n_samples, "groups": g,
                      "n_groups": n_groups, "smiss": smiss, "hosts": hosts_of_workers(ex)})
    ex.map(_scan_bed_block, items, shared=(ctx,), on_result=reduce, label="qc-counts")
    if vmask is not None:
        out[~vmask] = 0
    n_counted = n_variants if vmask is None else int(vmask.sum())
    return GenotypeCounts(out, sample_missing, None, n_counted)


def _read_exact(fh, path: Path, offset: int, buf: np.ndarray, nbytes: int) -> None:
    if fh.tell() != offset:  # sequential reads need no seek (blocks are skipped only rarely)
        fh.seek(offset)
    view = memoryview(buf)[:nbytes]
    got = 0
    while got < nbytes:  # short reads are allowed by the OS
        more = fh.readinto(view[got:])
        if not more:
            raise InputDataError(f".bed file {path}: truncated while reading (offset {offset}).")
        got += more


def scan_dense(
    G,
    *,
    groups=None,
    missing_samples=None,
    variant_mask=None,
    num_threads: int | None = None,
) -> GenotypeCounts:
    """:func:`scan_bed` for a dense dosage matrix.

    Parameters
    ----------
    G : array of shape (n_samples, n_variants)
        Dosage of A1 (0, 1, 2); float with NaN for missing or int8 with -127 for missing
        (bed-reader's reads). Not modified. Non-integer dosages (imputed data) are rounded to the
        nearest integer for the genotype classes (HWE), while allele counts use the exact sums
        (``a1_sum``), as genoapp's MAF filter always has.
    groups, missing_samples, variant_mask, num_threads
        As :func:`scan_bed`, over the rows and columns of ``G``.

    Returns
    -------
    GenotypeCounts

    Raises
    ------
    InputDataError
        ``G`` is not a 2-D float or integer array, or holds values outside [0, 2] other than
        the missing code.
    """
    arr = G if isinstance(G, np.ndarray) else np.asarray(G)
    if arr.ndim != 2 or arr.dtype.kind not in "fi":
        raise InputDataError(
            f"Genotype matrix G: found shape {arr.shape} and dtype {arr.dtype}; expected a 2-D "
            "float (NaN = missing) or integer (-127 = missing) array of A1 dosages."
        )
    n, m = arr.shape
    g, n_groups = _check_groups(groups, n, "scan_dense")
    smiss = _check_mask(missing_samples, n, "missing_samples")
    vmask = _check_mask(variant_mask, m, "variant_mask")
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    k = n_threads() if num_threads is None else max(1, int(num_threads))
    out = np.zeros((m, n_groups, 4), dtype=np.int32)
    a1 = np.zeros((m, n_groups), dtype=np.float64)
    acc = np.zeros((k, n), dtype=np.int64)
    flags = np.zeros((k, 2), dtype=np.int64)
    vsel = np.ones(m, np.uint8) if vmask is None else vmask.astype(np.uint8)
    srows = np.zeros(n, np.bool_) if smiss is None else smiss
    code = arr.dtype.type(-127) if arr.dtype.kind == "i" else arr.dtype.type(np.nan)
    run_ranges(_dense_range, (m + 255) // 256, arr, code, g, vsel, out, a1, acc, srows, flags,
               threads=k)
    n_bad, n_frac = int(flags[:, 0].sum()), int(flags[:, 1].sum())
    if n_bad:
        raise InputDataError(
            f"Genotype matrix G: {n_bad} values outside the allowed coding; expected A1 dosages "
            f"in [0, 2] and {'-127' if arr.dtype.kind == 'i' else 'NaN'} for missing. Re-read "
            "the .bed file with bed-reader or recode the matrix."
        )
    n_counted = m if vmask is None else int(vmask.sum())
    return GenotypeCounts(out, acc.sum(axis=0) if smiss is not None else None,
                          a1 if n_frac else None, n_counted)
