"""The radix sort kernel against ``np.sort``, and the statistics computed from either sort against each other."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from driftwatch.kernels.sort import radix_sorted_valid
from driftwatch.stats.binning import numeric_bin_counts_sorted, psi_bin_edges_sorted
from driftwatch.stats.distances import normalized_wasserstein, wasserstein_distance
from driftwatch.stats.ks import ks_2samp_sorted
from driftwatch.stats.ks_w1 import ks_w1_trusted
from driftwatch.stats.psi import psi
from driftwatch.stats.sorting import (
    CALIBRATION_MIN_ROWS,
    SortCalibration,
    calibrate,
    process_calibration,
    sorted_valid,
    sorted_valid_numpy,
    sorted_valid_radix,
)

HYPOTHESIS = settings(max_examples=150, deadline=None, database=None)


def _bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _float(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


NEGATIVE_NAN = _float(0xFFF8_0000_0000_0000)
SIGNALLING_NAN = _float(0x7FF0_0000_0000_0001)
NAN_WITH_PAYLOAD = _float(0xFFFF_FFFF_FFFF_FFFF)  # the largest key a naive transform could produce
TINY = 5e-324  # the smallest subnormal
BIG = np.finfo(np.float64).max


def _numpy_valid(values: np.ndarray) -> np.ndarray:
    ordered = np.sort(values)
    return ordered[~np.isnan(ordered)]


def assert_same_sort(values: np.ndarray) -> None:
    """The kernel's output equals np.sort's non-NaN values, loses or alters no value, and puts -0.0 first."""
    got = radix_sorted_valid(np.ascontiguousarray(values, dtype=np.float64))
    expected = _numpy_valid(values)
    assert got.dtype == np.float64
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)  # -0.0 == 0.0 here ...
    # ... so also compare the bit patterns with the input's, as multisets: every value comes back, sign of
    # zero included. (Not with np.sort's: its AVX-512 path can return 0.0 for a -0.0 among zeros.)
    valid = np.asarray(values, dtype=np.float64)
    valid = valid[~np.isnan(valid)]
    assert np.array_equal(np.sort(got.view(np.uint64)), np.sort(valid.view(np.uint64)))
    zeros = got[got == 0.0]
    signs = np.signbit(zeros)
    assert not np.any(~signs[:-1] & signs[1:]), "-0.0 after 0.0"


EDGE_ARRAYS = {
    "empty": [],
    "one": [1.5],
    "one NaN": [np.nan],
    "all NaN": [np.nan, NEGATIVE_NAN, SIGNALLING_NAN, NAN_WITH_PAYLOAD],
    "NaN everywhere": [np.nan, 2.0, NEGATIVE_NAN, -1.0, NAN_WITH_PAYLOAD, 0.5, SIGNALLING_NAN],
    "signed zeros": [0.0, -0.0, 0.0, -0.0, -0.0, 1.0, -1.0],
    "infinities": [np.inf, -np.inf, 0.0, np.inf, -np.inf, 3.0, -BIG, BIG],
    "subnormals": [
        TINY,
        -TINY,
        0.0,
        -0.0,
        2.2250738585072014e-308,
        -2.2250738585072014e-308,
        1e-310,
        -1e-310,
    ],
    "ties": [3.0, 1.0, 3.0, 3.0, 1.0, 2.0, 3.0, 1.0],
    "constant": [7.25] * 1000,
    "descending": list(np.arange(1000.0, 0.0, -1.0)),
    "negatives only": [-3.0, -1.0, -2.0, -1e300, -1e-300],
    "sign boundary bits": [_float(0x7FEF_FFFF_FFFF_FFFF), _float(0x8000_0000_0000_0001), _float(1), -0.0],
}


@pytest.mark.parametrize("name", EDGE_ARRAYS)
def test_edge_arrays_sort_like_numpy(name: str) -> None:
    assert_same_sort(np.array(EDGE_ARRAYS[name], dtype=np.float64))


@pytest.mark.parametrize(
    "kind", ["normal", "lognormal", "poisson", "smallint", "huge range", "one exponent", "with nan"]
)
def test_large_columns_sort_like_numpy(kind: str) -> None:
    """Every digit pass runs (continuous values) or is skipped (integer-valued: zero low mantissa bytes)."""
    rng = np.random.default_rng(17)
    n = 200_003
    values = {
        "normal": lambda: rng.normal(size=n),
        "lognormal": lambda: rng.lognormal(size=n),
        "poisson": lambda: rng.poisson(3.0, n).astype(np.float64),
        "smallint": lambda: rng.integers(-5, 5, n).astype(np.float64),
        "huge range": lambda: rng.normal(size=n) * 10.0 ** rng.integers(-320, 300, n),
        "one exponent": lambda: rng.uniform(1024.0, 2048.0, n),
        "with nan": lambda: np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
    }[kind]()
    assert_same_sort(values)


@pytest.mark.parametrize("varying_bits", [0, 1, 15, 16, 17])
@pytest.mark.parametrize("base", [1.0, -3.5, TINY, 0.0])
def test_counting_and_lsd_paths_meet_at_sixteen_varying_bits(varying_bits: int, base: float) -> None:
    """Keys that differ only in their low `varying_bits` bits: up to 16 the counting sort, from 17 the passes."""
    rng = np.random.default_rng(varying_bits)
    digits = rng.integers(0, 2**varying_bits, 3 * 2**varying_bits + 5, dtype=np.uint64)
    digits[:2] = [0, 2**varying_bits - 1]  # both ends present, so exactly these bits vary
    bits = np.full(digits.size, _bits(base), dtype=np.uint64) + digits
    values = bits.view(np.float64)
    values[::11] = np.nan
    assert_same_sort(values)


@pytest.mark.parametrize("varying_bytes", [(0, 3), (2, 7), (1, 4, 6), (5, 6), (0, 1, 2, 3, 4, 5, 6, 7)])
def test_only_the_digits_whose_bits_vary_are_passed_over(varying_bytes: tuple[int, ...]) -> None:
    """Keys that differ only in some bytes (more than 16 bits apart, so the LSD path): the digits in
    between are skipped from the keys' AND/OR alone, and the skipped ones must really be constant."""
    rng = np.random.default_rng(sum(varying_bytes))
    n = 50_000
    mask = sum(0xFF << (8 * b) for b in varying_bytes)
    base = _bits(1.5) & ~mask & 0x7FFF_FFFF_FFFF_FFFF  # a positive finite base; the varying bytes random
    bits = (rng.integers(0, 2**63, n, dtype=np.uint64) & np.uint64(mask)) | np.uint64(base)
    values = bits.view(np.float64).copy()
    values[::7] = -values[::7]  # both signs: the sign bit varies too
    values[::13] = np.nan
    assert_same_sort(values)


def test_a_window_above_the_allocators_mmap_threshold_sorts_like_numpy() -> None:
    """4.5M values: buffers of 36 MB each (above glibc's 32 MiB mmap threshold, backed by huge pages)."""
    rng = np.random.default_rng(45)
    n = 4_500_000
    values = np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(size=n))
    assert_same_sort(values)
    assert_same_sort(rng.poisson(30.0, n).astype(np.float64))


@HYPOTHESIS
@given(
    hnp.arrays(
        np.float64,
        st.integers(0, 300),
        elements=st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=64),
    )
)
def test_any_floats_sort_like_numpy(values: np.ndarray) -> None:
    assert_same_sort(values)


@HYPOTHESIS
@given(st.lists(st.integers(0, 2**64 - 1), max_size=200))
def test_any_bit_patterns_sort_like_numpy(patterns: list[int]) -> None:
    """Raw bit patterns reach NaN payloads of either sign and every subnormal, which float strategies rarely do."""
    assert_same_sort(np.array(patterns, dtype=np.uint64).view(np.float64))


@HYPOTHESIS
@given(st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, TINY, -TINY, np.inf, np.nan]), max_size=60))
def test_heavy_ties_sort_like_numpy(values: list[float]) -> None:
    assert_same_sort(np.array(values, dtype=np.float64))


def test_input_is_not_modified() -> None:
    values = np.array([3.0, np.nan, -1.0, 2.0])
    before = values.copy()
    radix_sorted_valid(values)
    assert np.array_equal(values, before, equal_nan=True)


# --- the checked wrapper ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["numpy", "radix", None])
def test_sorted_valid_every_method(method: str | None) -> None:
    assert sorted_valid([2, None, 1, np.inf], method).tolist() == [1.0, 2.0, np.inf]  # type: ignore[arg-type]
    assert sorted_valid(np.array([np.nan]), method).size == 0  # type: ignore[arg-type]
    assert sorted_valid(np.array([], dtype=np.float64), method).size == 0  # type: ignore[arg-type]


def test_sorted_valid_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="method must be one of numpy, radix"):
        sorted_valid([1.0], "quick")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="numeric"):
        sorted_valid(["a"], "radix")
    with pytest.raises(ValueError, match="one-dimensional"):
        sorted_valid(np.zeros((2, 2)), "radix")


def test_calibration_times_both_and_chooses_by_the_margin() -> None:
    small = calibrate(rows=4096, rounds=2)
    assert small.rows == 4096 and small.numpy_seconds > 0 and small.radix_seconds > 0
    margin_says_radix = small.numpy_seconds >= 1.25 * small.radix_seconds
    assert small.method == ("radix" if margin_says_radix else "numpy")
    process = process_calibration()
    assert isinstance(process, SortCalibration) and process is process_calibration()  # measured once


def test_large_columns_use_the_calibrated_sort() -> None:
    rng = np.random.default_rng(3)
    values = np.where(rng.random(CALIBRATION_MIN_ROWS) < 0.01, np.nan, rng.normal(size=CALIBRATION_MIN_ROWS))
    assert np.array_equal(sorted_valid(values), sorted_valid_numpy(values))
    assert np.array_equal(sorted_valid(values), sorted_valid_radix(values))


# --- downstream: the statistics cannot tell the two sorts apart ----------------------------------------


def _signed_zero_heavy(rng: np.random.Generator, n: int) -> np.ndarray:
    """Ties on zero of both signs, subnormals, infinities and NaN: every place the sorts could differ."""
    values = rng.integers(-3, 4, n).astype(np.float64)
    values[rng.random(n) < 0.3] = -0.0
    values[rng.random(n) < 0.02] = TINY
    values[rng.random(n) < 0.02] = -TINY
    values[rng.random(n) < 0.05] = np.nan
    return values


def _identical(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or _bits(a) == _bits(b)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [40, 3_000, 70_000])  # the exact and the asymptotic KS p-value
def test_ks_psi_w1_identical_from_either_sort(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    ref_raw = _signed_zero_heavy(rng, n)
    cur_raw = _signed_zero_heavy(rng, n + 17) + 0.0 * rng.integers(0, 2, n + 17)  # 0.0 * 0 keeps -0.0
    results = []
    for method in ("numpy", "radix"):
        ref = sorted_valid(ref_raw, method)  # type: ignore[arg-type]
        cur = sorted_valid(cur_raw, method)  # type: ignore[arg-type]
        edges = psi_bin_edges_sorted(ref, 10)
        ref_counts = numeric_bin_counts_sorted(ref, n - ref.size, edges)
        cur_counts = numeric_bin_counts_sorted(cur, cur_raw.size - cur.size, edges)
        both = ks_w1_trusted(ref, cur)
        ks = ks_2samp_sorted(ref, cur)
        results.append(
            {
                "edges": edges,
                "counts": np.concatenate([ref_counts, cur_counts]),
                "floats": [
                    ks.statistic,
                    ks.pvalue,
                    both.ks.statistic,
                    both.ks.pvalue,
                    both.wasserstein,
                    psi(ref_counts, cur_counts),
                    wasserstein_distance(ref, cur_raw),
                    normalized_wasserstein(ref, cur, current_sorted=True),
                ],
            }
        )
    by_numpy, by_radix = results
    # Edges may differ only in the sign of a zero edge (numpy's own partition leaves that sign open).
    assert np.array_equal(by_numpy["edges"], by_radix["edges"])
    assert np.array_equal(by_numpy["counts"], by_radix["counts"])
    for a, b in zip(by_numpy["floats"], by_radix["floats"], strict=True):
        assert _identical(a, b), (a, b)
