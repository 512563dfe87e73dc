"""The bandwidth section of bench_lcm.py (benchmarks/_bandwidth.py): the STREAM-like kernels
against NumPy, and the byte accounting against the arrays of a real segmentation. No timings
are asserted."""

import sys
from pathlib import Path

import hyperspy.api as hs
import numpy as np
import pytest
from conftest import two_grain

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _bandwidth as bw

import hyperspy_symseg
from hyperspy_symseg.descriptors import translation


def test_stream_kernels_equal_numpy():
    rng = np.random.default_rng(0)
    b, c = rng.normal(size=10_001), rng.normal(size=10_001)
    a = np.empty_like(b)
    bw.stream_triad(a, b, c, 3.0)
    np.testing.assert_array_equal(a, b + 3.0 * c)
    bw.stream_copy(b, a)
    np.testing.assert_array_equal(a, b)
    bw.stream_write(a, 1.5)
    assert (a == 1.5).all()
    assert bw.stream_read(b) == pytest.approx(b.sum(), rel=1e-12)


def test_measure_bandwidth_counts_stream_bytes():
    rows = bw.measure_bandwidth(n=1 << 16, repeat=2, threads=(1,))
    per_element = {r["kernel"]: r["bytes"] / (1 << 16) for r in rows}
    assert per_element == {"read (sum)": 8, "write (fill)": 8, "copy": 16, "triad": 24, "copy, NumPy np.copyto": 16}
    assert all(r["gbs"] > 0 and r["threads"] == 1 for r in rows)


def test_step_bytes_from_the_arrays_of_a_segmentation():
    image, _ = two_grain((96, 128), period=7.0)
    image = image.astype(np.float32)
    s = hs.signals.Signal2D(image)
    s.set_signal_type("atomic_resolution")
    seg = hyperspy_symseg.symmetry_segmentation(s, 2, stride=2, patch_x=5, patch_y=5, window_x=8, window_y=8,
                                                max_num_points=25, n_components=3, edges="exclude", random_state=0,
                                                show_progressbar=False, background=None, intensity_features=False)
    spec = seg.descriptor
    grid = spec.grid(image.shape, 2)
    prelude = translation._prelude(image, spec.shifts, spec.patch_y, spec.patch_x, grid, None)
    steps = {st["step"]: st for st in bw.step_bytes(image, seg, prelude)}
    n_samples, n_ops = grid.ny * grid.nx, len(spec.shifts)
    assert n_ops == 25
    desc = steps["descriptors"]
    assert (desc["min_read"], desc["min_written"]) == (96 * 128 * 4, n_samples * n_ops * 4)  # float32 in and out
    # + the float64 normalized image and the two float64 patch maps of (H - 2 py) x (W - 2 px)
    prelude_maps = 96 * 128 * 8 + 2 * (96 - 10) * (128 - 10) * 8
    assert desc["code_written"] - desc["min_written"] - prelude_maps == prelude[2].nbytes + prelude[3].nbytes > 0
    pca = steps["reduction (PCA)"]
    assert (pca["min_read"], pca["min_written"]) == (2 * n_samples * n_ops * 4, n_samples * 3 * 4)
    km = steps["clustering (k-means)"]
    assert (km["min_read"], km["min_written"]) == (n_samples * 3 * 4, n_samples)  # uint8 labels
    # loadings 4 times (nearest centre, sums, 2 centroid distances), int64 labels twice; out: int64 labels,
    # 2 x n float64 distances, 2 x n bool cluster_labels
    assert km["code_read"] == 4 * n_samples * 3 * 4 + 2 * n_samples * 8
    assert km["code_written"] == n_samples * 8 + 2 * n_samples * 8 + 2 * n_samples
    labels = steps["labels"]
    assert (labels["min_read"], labels["min_written"]) == (n_samples, 96 * 128)
