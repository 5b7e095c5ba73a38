"""LSD radix sort of float64 values on their bit patterns: the same order as ``np.sort``, on any CPU.

Why a radix sort of our own: ``np.sort`` dispatches to a SIMD quicksort chosen for the CPU at numpy's import,
and the AVX-512 one is slow on AMD Zen 4 (``vpcompressq`` to memory is microcoded there): 53 ms per 1M
float64 against 9.8 ms on the same machine with numpy forced onto its AVX2 path (which a library cannot
choose), while this kernel took 15-25 ms there: its passes are loads, shifts and scattered stores that do not
depend on numpy's dispatch (docs/benchmarks.md, the run on AMD EPYC).
:mod:`driftwatch.stats.sorting` decides once per process which of the two a window goes through.

How: a float64's bits map to a uint64 key whose unsigned order is the float order (negative: all bits
flipped; non-negative: sign bit set), so -inf < negatives < -0.0 < 0.0 < positives < +inf and subnormals
sit between the zeros and the smallest normals, as numbers do. A read-only pass ANDs and ORs the keys: a
digit none of whose bits vary between keys needs no pass. One pass then drops NaN, writes the keys and
counts every needed 8-bit digit at once; then one stable scatter pass per needed digit, least significant
first. 8-bit digits keep the 256 scatter targets in
L1; 11- and 16-bit digits, measured, were slower here (fewer passes, but more cache misses per pass). The
last step maps the keys back to floats in place. Source: H. Herf, "Radix Tricks" (2001) for the key;
Knuth, TAOCP vol. 3, 5.2.5 for LSD radix sorting.

Columns of few distinct values (integers, codes) skip the passes altogether: when the bits that vary
between keys span at most 16, one counting pass and one sequential write sort them (a counting sort,
Knuth 5.2), which is where "sort the distinct values with their counts" pays.

The only order that differs from ``np.sort``'s is among equal values of different sign of zero: here -0.0
always precedes 0.0, numpy leaves them in whatever order its quicksort does (and its SIMD sorts may even
return a -0.0 among zeros as 0.0). They compare equal, so no statistic that compares or subtracts sorted
values can tell.
"""

from __future__ import annotations

import numba
import numpy as np

from driftwatch.kernels._options import NJIT_OPTIONS

_SIGN = np.uint64(0x8000000000000000)
_SIGN_SHIFT = np.uint64(63)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_DIGIT_BITS = 8
_RADIX = 1 << _DIGIT_BITS
_PASSES = 64 // _DIGIT_BITS
_COUNTING_MAX_BITS = 16


@numba.njit(**NJIT_OPTIONS, inline="always")
def _key(bits: np.uint64) -> np.uint64:
    """The uint64 whose unsigned order is the float order of the float64 with these bits (not NaN).

    Negative (sign bit 1): every bit flipped; otherwise the sign bit set. Written without a branch, which
    the sign of real data would mispredict half of the time: XOR with all ones or with the sign bit alone.
    """
    return bits ^ ((_ZERO - (bits >> _SIGN_SHIFT)) | _SIGN)


@numba.njit(**NJIT_OPTIONS, inline="always")
def _bits(key: np.uint64) -> np.uint64:
    """The float64 bits of a key: the inverse of :func:`_key` (XOR with the sign bit or with all ones)."""
    return key ^ (((key >> _SIGN_SHIFT) - _ONE) | _SIGN)


def radix_sorted_valid(values: np.ndarray) -> np.ndarray:
    """The non-NaN values of a contiguous 1-D float64 array, ascending, as a new float64 array.

    ``±inf`` and subnormals are values; every NaN (any payload, either sign) is dropped. The result may be
    a view of a buffer of ``values.size`` elements (the NaN-free prefix of it).

    A first read-only pass finds which key bits vary at all. When they span at most
    :data:`_COUNTING_MAX_BITS` bits (a column of few distinct values: small integers, codes, a constant),
    a counting sort over those bits writes the result straight from the counts; otherwise the LSD passes.

    The buffers are allocated here, by numpy, not inside the kernels: numpy advises the kernel to back
    arrays of 4 MiB and more with transparent huge pages (``madvise``), numba's allocator does not. A 5M-value
    window's two 40 MB buffers are otherwise ~20,000 first-touch page faults per sort (fresh each time: glibc
    maps allocations above 32 MiB anew): 127 against 92 ms per 5M normal column (thread CPU, in isolation).
    Inside the window statistics the gain is smaller (the kernel still zeroes, and may compact for, each huge
    page; docs/benchmarks.md, issue 17 items 2 and 6).
    """
    m, all_ones, any_ones, low, width = _plan(values)
    if width <= _COUNTING_MAX_BITS and (1 << width) <= max(m, 1):
        out = np.empty(m, dtype=np.float64)
        _counting_into(values, out, np.uint64(all_ones), low, width)
        return out
    first = np.empty(m, dtype=np.uint64)
    second = np.empty(m, dtype=np.uint64)
    # numba hands uint64 results back as Python ints, and takes ints above 2**63 - 1 only as np.uint64
    result: np.ndarray = _lsd_into(values, first, second, np.uint64(all_ones) ^ np.uint64(any_ones))
    return result.view(np.float64)


@numba.njit(**NJIT_OPTIONS)
def _plan(values: np.ndarray) -> tuple[int, np.uint64, np.uint64, int, int]:
    """The count of non-NaN values, the AND and the OR of their keys, and the span ``[low, low + width)``
    of the key bits that vary between them (width 0 when none vary)."""
    raw = values.view(np.uint64)
    m = 0
    all_ones = ~np.uint64(0)  # AND of every key: 1 where all keys have a 1
    any_ones = np.uint64(0)  # OR of every key: 1 where some key has a 1
    for i in range(values.size):
        x = values[i]
        if x == x:  # not NaN
            key = _key(raw[i])
            all_ones &= key
            any_ones |= key
            m += 1
    varying = all_ones ^ any_ones
    low = 0
    high = -1  # the varying bits lie in [low, high]; none vary when high < low
    for b in range(64):
        if (varying >> np.uint64(b)) & np.uint64(1):
            if high < 0:
                low = b
            high = b
    width = high - low + 1 if high >= 0 else 0
    return m, all_ones, any_ones, low, width


@numba.njit(**NJIT_OPTIONS)
def _counting_into(values: np.ndarray, out: np.ndarray, common: np.uint64, low: int, width: int) -> None:
    """Sorted non-NaN values into ``out`` (one slot per value) when all keys equal ``common`` outside bits
    ``[low, low + width)``."""
    raw = values.view(np.uint64)
    buckets = 1 << width
    shift = np.uint64(low)
    mask = np.uint64(buckets - 1)
    # Two count tables, for alternate elements: a run of equal values then increments two counters in turn
    # instead of waiting on one (each increment is a load and a store to the same address).
    counts = np.zeros((2, buckets), dtype=np.int64)
    for i in range(values.size):
        x = values[i]
        if x == x:
            counts[i & 1, (_key(raw[i]) >> shift) & mask] += 1
    out_bits = out.view(np.uint64)
    j = 0
    for d in range(buckets):
        c = counts[0, d] + counts[1, d]
        if c:
            # ``common`` has 0 in every varying bit (some key has a 0 there), so OR puts the digit back.
            bits = _bits(common | (np.uint64(d) << shift))
            for _ in range(c):
                out_bits[j] = bits
                j += 1


@numba.njit(**NJIT_OPTIONS)
def _keys_and_counts(values: np.ndarray, keys: np.ndarray, needed: np.ndarray) -> np.ndarray:
    """The keys of the non-NaN values into ``keys``, and the histogram of every needed digit, from the same
    single pass (a digit nobody needs is not counted: a counter hit by every key is a chain of dependent
    increments)."""
    raw = values.view(np.uint64)
    counts = np.zeros((_PASSES, _RADIX), dtype=np.int64)
    digit_mask = np.uint64(_RADIX - 1)
    k = 0
    for i in range(values.size):
        x = values[i]
        if x == x:
            key = _key(raw[i])
            keys[k] = key
            k += 1
            for p in range(_PASSES):
                if needed[p]:
                    counts[p, (key >> np.uint64(_DIGIT_BITS * p)) & digit_mask] += 1
    return counts


@numba.njit(**NJIT_OPTIONS)
def _needed_passes(varying: np.uint64) -> tuple[np.ndarray, int]:
    """Which digit passes are needed (some key bit in that digit varies between keys), and the last one."""
    needed = np.zeros(_PASSES, dtype=np.bool_)
    last = -1
    digit_mask = np.uint64(_RADIX - 1)
    for p in range(_PASSES):
        if (varying >> np.uint64(_DIGIT_BITS * p)) & digit_mask:
            needed[p] = True
            last = p
    return needed, last


@numba.njit(**NJIT_OPTIONS, inline="always")
def _starts(histogram: np.ndarray) -> None:
    """A digit's histogram turned, in place, into each digit's first output position (a prefix sum)."""
    total = 0
    for d in range(_RADIX):
        c = histogram[d]
        histogram[d] = total
        total += c


@numba.njit(**NJIT_OPTIONS)
def _scatter(
    source: np.ndarray, target: np.ndarray, offsets: np.ndarray, shift: np.uint64, to_bits: bool
) -> None:
    """One stable pass: each key to its digit's next position; as the float's bits on the last pass.

    ``to_bits`` is the same for the whole pass, so the two loops keep the branch out of the hot loop.
    """
    digit_mask = np.uint64(_RADIX - 1)
    if to_bits:
        for i in range(source.size):
            key = source[i]
            d = (key >> shift) & digit_mask
            target[offsets[d]] = _bits(key)
            offsets[d] += 1
    else:
        for i in range(source.size):
            key = source[i]
            d = (key >> shift) & digit_mask
            target[offsets[d]] = key
            offsets[d] += 1


@numba.njit(**NJIT_OPTIONS)
def _lsd_into(values: np.ndarray, first: np.ndarray, second: np.ndarray, varying: np.uint64) -> np.ndarray:
    """The non-NaN values' bits sorted by LSD radix passes over their keys, in ``first`` or ``second`` (one
    slot per value each); returns the one that holds them.

    A pass is needed where some key bit of its digit varies (``varying``); the last one needed writes the
    floats' bits straight away, which saves a pass mapping the keys back.
    """
    needed, last = _needed_passes(varying)
    counts = _keys_and_counts(values, first, needed)
    source, target = first, second
    for p in range(_PASSES):
        if needed[p]:
            _starts(counts[p])
            _scatter(source, target, counts[p], np.uint64(_DIGIT_BITS * p), p == last)
            source, target = target, source
    if last < 0:  # no pass was needed (not reached from radix_sorted_valid: it sends such keys to counting)
        for i in range(source.size):
            source[i] = _bits(source[i])
    return source
