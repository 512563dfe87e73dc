"""Translation descriptors (local correlation map) against brute-force references."""

import numpy as np
import pytest
from _reference import local_correlation_at, translation_score
from conftest import shared_file, two_grain

from hyperspy_symseg.descriptors import (
    DescriptorGrid,
    local_correlation_map,
    nearest_grid_index,
    translation_grid,
    upsample_labels,
)
from hyperspy_symseg.descriptors.translation import FLAT_TOLERANCE, normalized_image

SHIFTS = np.array([[0, 0], [3, -2], [-5, 7], [2, 2], [-1, -6], [0, 4], [6, 0]])


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    # Correlated texture plus a lattice, so that scores span a wide range.
    img, _ = two_grain((70, 83), period=6.0, noise=0.5)
    return img + np.cumsum(rng.normal(size=img.shape), axis=0) * 0.05


class TestTranslationGrid:
    def test_authors_defaults_give_81_symmetric_shifts(self):
        shifts = translation_grid(21, 21, 100)
        assert shifts.shape == (81, 2)
        assert sorted(set(shifts[:, 0])) == list(range(-20, 21, 5))
        assert sorted(set(shifts[:, 1])) == list(range(-20, 21, 5))

    @pytest.mark.parametrize("wx, wy, n", [(21, 21, 100), (10, 3, 30), (5, 5, 1), (7, 2, 1000), (4, 9, 17)])
    def test_symmetric_contains_zero_and_densest(self, wx, wy, n):
        shifts = translation_grid(wx, wy, n)
        assert len(shifts) <= n
        assert [0, 0] in shifts.tolist()
        assert set(map(tuple, shifts)) == set(map(tuple, -shifts))
        assert np.abs(shifts[:, 0]).max() <= wy and np.abs(shifts[:, 1]).max() <= wx
        steps = {np.diff(np.unique(shifts[:, a])).min() for a in (0, 1) if len(np.unique(shifts[:, a])) > 1}
        step = steps.pop() if steps else max(wx, wy) + 1
        if step > 1:  # one step finer would exceed max_num_points
            finer = (2 * (wy // (step - 1)) + 1) * (2 * (wx // (step - 1)) + 1)
            assert finer > n

    def test_full_window(self):
        shifts = translation_grid(2, 1, 15)
        assert shifts.tolist() == [[m, n] for m in (-1, 0, 1) for n in (-2, -1, 0, 1, 2)]

    def test_max_num_points_below_one(self):
        with pytest.raises(ValueError, match="max_num_points"):
            translation_grid(3, 3, 0)


class TestGridGeometry:
    def test_nearest_grid_index(self):
        # points at 3, 7, 11; pixel 5 is halfway between 3 and 7 -> later point
        assert nearest_grid_index(14, 3, 4, 3).tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]

    def test_upsample_matches_nearest_by_distance(self):
        grid = DescriptorGrid(y0=4, x0=6, ny=5, nx=4, stride=3)
        labels = np.arange(20).reshape(5, 4)
        up = upsample_labels(labels, grid, (20, 19))
        assert up.shape == (20, 19)
        rows, cols = grid.rows(), grid.cols()
        for y in (0, 5, 9, 19):
            for x in (0, 7, 12, 18):
                i = np.argmin(np.abs(rows - y) - 1e-9 * (rows > y))  # ties to the later point
                j = np.argmin(np.abs(cols - x) - 1e-9 * (cols > x))
                assert up[y, x] == labels[i, j]

    def test_upsample_keeps_leading_axes(self):
        grid = DescriptorGrid(0, 0, 2, 2, 5)
        up = upsample_labels(np.arange(8).reshape(2, 2, 2), grid, (10, 10))
        assert up.shape == (2, 10, 10)
        assert up[1, 9, 9] == 7 and up[0, 0, 0] == 0


class TestLocalCorrelationMap:
    @pytest.mark.parametrize("method", ["direct", "fft"])
    @pytest.mark.parametrize("stride", [1, 2, 5, 13])
    @pytest.mark.parametrize("edges", ["exclude", "shrink"])
    def test_equals_brute_force(self, image, method, stride, edges):
        py, px = 4, 6
        scores, grid = local_correlation_map(image, SHIFTS, py, px, stride, method, edges)
        assert scores.dtype == np.float32
        assert scores.shape == (grid.ny, grid.nx, len(SHIFTS))
        margin_y, margin_x = py + 6, px + 7
        inner_y, inner_x = (margin_y, margin_x) if edges == "exclude" else (max(py, 6), max(px, 7))
        rows, cols = grid.rows(), grid.cols()
        # the grid holds the interior centres margin + k * stride, extended by whole
        # strides towards the edges while staying max(patch, max |shift|) pixels inside
        assert margin_y in rows and margin_x in cols
        assert rows[0] >= inner_y and rows[0] - stride < inner_y
        assert cols[0] >= inner_x and cols[0] - stride < inner_x
        assert rows[-1] <= image.shape[0] - 1 - inner_y < rows[-1] + stride
        assert cols[-1] <= image.shape[1] - 1 - inner_x < cols[-1] + stride
        for i in sorted({0, 1, grid.ny // 2, grid.ny - 1}):
            for j in sorted({0, 1, grid.nx // 3, grid.nx - 1}):
                ref = local_correlation_at(image, rows[i], cols[j], SHIFTS, py, px, clipped=True)
                np.testing.assert_allclose(scores[i, j], ref, atol=2e-7)

    @pytest.mark.parametrize("method", ["direct", "fft"])
    def test_shrink_equals_exclude_inside(self, image, method):
        inside, g_in = local_correlation_map(image, SHIFTS, 3, 5, 3, method, "exclude")
        full, g_full = local_correlation_map(image, SHIFTS, 3, 5, 3, method, "shrink")
        i0 = int(np.flatnonzero(g_full.rows() == g_in.y0)[0])
        j0 = int(np.flatnonzero(g_full.cols() == g_in.x0)[0])
        np.testing.assert_array_equal(full[i0 : i0 + g_in.ny, j0 : j0 + g_in.nx], inside)
        assert g_full.ny > g_in.ny and g_full.nx > g_in.nx

    @pytest.mark.parametrize("nx", [1, 3, 4, 6, 9])
    def test_narrow_grids_at_stride_one(self, image, nx):
        """Rows of 1 to 9 full boxes: the running window sums of every length, each point against brute force."""
        py, px = 3, 4
        img = image[:40, : 2 * (px + 7) + nx]
        scores, grid = local_correlation_map(img, SHIFTS, py, px, 1, "direct", "exclude")
        assert grid.nx == nx
        for i in range(0, grid.ny, 3):
            for j in range(grid.nx):
                ref = local_correlation_at(img, grid.rows()[i], grid.cols()[j], SHIFTS, py, px)
                np.testing.assert_allclose(scores[i, j], ref, atol=2e-7)

    def test_shrink_every_clipped_point_at_stride_one(self, image):
        """All edge points of a small image, where every clipping case occurs."""
        img = image[:31, :29]
        shifts = np.array([[-5, 4], [6, -3], [0, 0], [-2, -7], [5, 6]])
        scores, grid = local_correlation_map(img, shifts, 3, 2, 1, "direct", "shrink")
        fft, _ = local_correlation_map(img, shifts, 3, 2, 1, "fft", "shrink")
        np.testing.assert_allclose(fft, scores, atol=1e-6)
        for i, y in enumerate(grid.rows()):
            for j, x in enumerate(grid.cols()):
                if 8 < y < 22 and 9 < x < 19:
                    continue  # interior: covered by the other tests
                ref = local_correlation_at(img, y, x, shifts, 3, 2, clipped=True)
                np.testing.assert_allclose(scores[i, j], ref, atol=3e-7)

    def test_direct_equals_fft_everywhere(self, image):
        shifts = translation_grid(9, 7, 200)
        d, _ = local_correlation_map(image, shifts, 5, 3, 1, "direct")
        f, _ = local_correlation_map(image, shifts, 5, 3, 1, "fft")
        np.testing.assert_allclose(d, f, atol=1e-5)
        assert np.abs(d - f).max() < 1e-6

    def test_zero_shift_scores_one(self, image):
        scores, _ = local_correlation_map(image, SHIFTS, 3, 3, 3)
        np.testing.assert_allclose(scores[..., 0], 1.0, atol=1e-6)

    @pytest.mark.parametrize("method", ["direct", "fft"])
    def test_invariant_to_added_constant_and_scale(self, image, method):
        base, _ = local_correlation_map(image, SHIFTS, 4, 4, 3, method)
        shifted, _ = local_correlation_map(image + 1e5, SHIFTS, 4, 4, 3, method)
        scaled, _ = local_correlation_map(image * 1e-4 - 7.0, SHIFTS, 4, 4, 3, method)
        np.testing.assert_allclose(shifted, base, atol=1e-5)
        np.testing.assert_allclose(scaled, base, atol=1e-5)

    def test_large_offset_float32_and_integer_input(self, image):
        u16 = np.round((image - image.min()) * 1000).astype(np.uint16)
        ref, _ = local_correlation_map(u16.astype(np.float64), SHIFTS, 4, 4, 4)
        got, _ = local_correlation_map(u16, SHIFTS, 4, 4, 4)
        np.testing.assert_array_equal(got, ref)
        off, _ = local_correlation_map(u16.astype(np.float32) + np.float32(3e4), SHIFTS, 4, 4, 4)
        np.testing.assert_allclose(off, ref, atol=1e-5)

    @pytest.mark.parametrize("method", ["direct", "fft"])
    def test_flat_patches_score_zero_not_nan(self, method):
        img = np.zeros((60, 60))
        img[:, 30:] = np.random.default_rng(0).normal(size=(60, 30))
        scores, grid = local_correlation_map(img, SHIFTS, 3, 3, 1, method)
        assert np.isfinite(scores).all()
        # centre far inside the flat half: every score is 0, even the zero shift
        i = 20 - grid.y0
        j = 12 - grid.x0
        assert np.all(scores[i, j] == 0)
        # centre inside the noisy half: zero shift is exactly one
        assert scores[i, 45 - grid.x0, 0] == pytest.approx(1.0, abs=1e-6)

    def test_constant_image_is_all_zero(self):
        scores, _ = local_correlation_map(np.full((40, 40), 7.0), SHIFTS, 3, 3, 2)
        assert np.all(scores == 0)

    @pytest.mark.parametrize("quiet, expected", [(1e-1, 1.0), (1e-2, 0.0), (1e-5, 0.0)])
    def test_flat_tolerance_is_relative_to_image_variance(self, quiet, expected):
        rng = np.random.default_rng(2)
        img = rng.normal(size=(50, 50)) * quiet
        img[:25] += rng.normal(size=(25, 50)) * 1e2
        # variance ratio quiet/image: 2e-6 (a real, faint region: std 1.4e-3 of the image's), 2e-8
        # (std 1.4e-4 of the image's, below any detector's noise: flat) or 2e-14 (numerically flat)
        assert ((quiet / 1e2) ** 2 * 2 > FLAT_TOLERANCE) == (expected == 1.0)
        scores, grid = local_correlation_map(img, SHIFTS, 3, 3, 1)
        assert scores[40 - grid.y0, 10, 0] == pytest.approx(expected, abs=1e-6)
        assert np.isfinite(scores).all()

    def test_input_not_modified(self, image):
        copy = image.copy()
        local_correlation_map(image, SHIFTS, 3, 3, 2, "direct")
        local_correlation_map(image, SHIFTS, 3, 3, 2, "fft")
        np.testing.assert_array_equal(image, copy)

    def test_out_argument_and_scores_in_range(self, image):
        grid_scores, grid = local_correlation_map(image, SHIFTS, 3, 4, 2)
        out = np.full_like(grid_scores, np.nan)
        result, _ = local_correlation_map(image, SHIFTS, 3, 4, 2, out=out)
        assert result is out
        np.testing.assert_array_equal(out, grid_scores)
        assert grid_scores.min() >= -1 and grid_scores.max() <= 1

    def test_unknown_method(self, image):
        with pytest.raises(ValueError, match="method"):
            local_correlation_map(image, SHIFTS, 3, 3, 1, "slow")

    def test_normalized_image(self):
        img = np.arange(12.0).reshape(3, 4) * 3 + 5
        out = normalized_image(img)
        assert out.mean() == pytest.approx(0, abs=1e-12) and out.std() == pytest.approx(1)
        assert translation_score(out, 1, 1, 0, 1, 1, 1) == pytest.approx(translation_score(img, 1, 1, 0, 1, 1, 1))


def test_matches_pystem_reference_descriptors():
    """The authors' stride-8 fft descriptors on their example image, at the same centres."""
    image = np.load(shared_file("real/pystem_high_entropy_alloy.npy")).astype(np.float32)
    shifts = np.load(shared_file("pystem_reference/hea_lcm_default_translations.npy"))
    reference = np.load(shared_file("pystem_reference/hea_lcm_default_stride8_fft_descriptors.npy"))
    for method in ("direct", "fft"):
        scores, grid = local_correlation_map(image, shifts, 20, 20, 8, method, edges="exclude")
        # pySTEM's grid point (a, b) is centred on pixel (41 + 8a, 41 + 8b)
        assert (grid.y0, grid.x0, grid.stride) == (41, 41, 8)
        assert scores.shape == reference.shape
        assert np.abs(scores - reference).max() < 1e-3
    # with edges="shrink" the same centres hold the same numbers; the grid gains the
    # centres 25, 33 before and 985, 993, 1001 after (21 = max |shift| px from the edge)
    scores, grid = local_correlation_map(image, shifts, 20, 20, 8, "direct", edges="shrink")
    assert (grid.y0, grid.ny) == (25, 123)
    assert np.abs(scores[2:120, 2:120] - reference).max() < 1e-3


def test_patch_statistics_equals_direct_sums(image):
    from hyperspy_symseg.descriptors.translation import patch_statistics

    img = normalized_image(image)
    mean, inv = patch_statistics(img, 3, 5)
    assert mean.shape == (img.shape[0] - 6, img.shape[1] - 10)
    for r, c in [(0, 0), (7, 11), (mean.shape[0] - 1, mean.shape[1] - 1), (30, 2)]:
        patch = img[r : r + 7, c : c + 11]
        assert mean[r, c] == pytest.approx(patch.mean(), abs=1e-12)
        assert inv[r, c] == pytest.approx(1 / np.sqrt(((patch - patch.mean()) ** 2).sum()), rel=1e-10)


def _prelude_reference(image, py, px, reference_std):
    """The parallel kernels on one thread, as every image up to SERIAL_PRELUDE_PIXELS was prepared before."""
    import numba

    from hyperspy_symseg.descriptors import translation as T

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        img, std = T.normalized_image(image, return_std=True)
        variance = T.flat_variance(std, reference_std)
        ii1 = np.empty((img.shape[0] + 1, img.shape[1] + 1))
        ii2 = np.empty_like(ii1)
        T._integral_images(img, ii1, ii2)
        mean = np.empty((img.shape[0] - 2 * py, img.shape[1] - 2 * px))
        inv = np.empty_like(mean)
        flat = FLAT_TOLERANCE * ((2 * py + 1) * (2 * px + 1)) * variance
        T._stats_from_integrals(ii1, ii2, py, px, flat, mean, inv)
    finally:
        numba.set_num_threads(threads)
    return img, variance, ii1, ii2, mean, inv


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
@pytest.mark.parametrize("reference_std", [None, 0.7])
def test_serial_prelude_gives_the_parallel_kernels_bits(image, dtype, reference_std):
    """Small images: one serial kernel (normalize, integral images, patch statistics; two kernels
    for a tile with ``reference_std``) gives exactly the parallel kernels' numbers; with no clipped
    box only a ring of table rows is kept."""
    from hyperspy_symseg.descriptors.translation import _boxes_stay_inside, _prelude

    data = (image * 100 + 300).astype(dtype)
    data[5:30, 4:20] = data[5, 4]  # a flat region: inverse norms 0 there
    py, px = 3, 4
    ref = _prelude_reference(data, py, px, reference_std)
    inside = DescriptorGrid(py + 6, px + 7, 3, 4, 5)  # patch + max |shift| from every edge
    edge = DescriptorGrid(0, 0, 3, 4, 5)
    assert _boxes_stay_inside(data.shape, SHIFTS, py, px, inside)
    assert not _boxes_stay_inside(data.shape, SHIFTS, py, px, edge)
    for grid in (inside, edge):
        got = _prelude(data, SHIFTS, py, px, grid, reference_std)
        for name, a, b in zip(("img", "variance", "ii1", "ii2", "mean", "inv"), ref, got):
            if name in ("ii1", "ii2") and grid is inside:
                assert b.shape == (2 * py + 2, data.shape[1] + 1)
                continue
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert (got[5][5:30 - 2 * py, 4:20 - 2 * px] == 0).all() and (got[5][40:] > 0).all()


def test_integral_images_serial_and_parallel_agree(image):
    import numba

    from hyperspy_symseg.descriptors.translation import _integral_images, integral_images

    img = normalized_image(image)
    ii1, ii2 = integral_images(img)  # a small image: the serial kernel
    assert ii1[-1, -1] == pytest.approx(img.sum(), abs=1e-9) and ii2[-1, -1] == pytest.approx((img**2).sum())
    assert ii1[7, 9] == pytest.approx(img[:7, :9].sum(), abs=1e-12) and not ii1[0].any() and not ii2[:, 0].any()
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        p1, p2 = np.empty_like(ii1), np.empty_like(ii2)
        _integral_images(img, p1, p2)
        np.testing.assert_array_equal(ii1, p1)
        np.testing.assert_array_equal(ii2, p2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalization_does_not_depend_on_the_threads(dtype):
    """The parallel kernel (images above SERIAL_PRELUDE_PIXELS) sums its row sums in order:
    the same bits on 1 or all threads, and as the serial kernel."""
    import numba

    from hyperspy_symseg.descriptors.translation import _normalize_kernel, _normalize_serial

    data = (np.random.default_rng(3).standard_normal((257, 300)) * 3 + 11).astype(dtype)
    ref = np.empty(data.shape)
    std = _normalize_serial(data, ref)
    assert std == pytest.approx(np.std(data.astype(np.float64)), rel=1e-12)
    threads = numba.get_num_threads()
    try:
        for n in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(n)
            out = np.empty(data.shape)
            assert _normalize_kernel(data, out) == std
            np.testing.assert_array_equal(out, ref)
    finally:
        numba.set_num_threads(threads)


def test_constant_image_prelude_is_all_zeros():
    from hyperspy_symseg.descriptors.translation import _prelude

    flat = np.full((40, 50), 7.25)
    img, variance, ii1, ii2, mean, inv = _prelude(flat, SHIFTS, 3, 3, DescriptorGrid(0, 0, 2, 2, 3), None)
    assert variance == 0.0 and not img.any() and not ii1.any() and not ii2.any() and not inv.any()


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_progress_callback_counts_every_grid_point(image, method):
    done = []
    scores, grid = local_correlation_map(image, SHIFTS, 3, 3, 2, method, fft_batch=50, progress=done.append)
    assert sum(done) == grid.ny * grid.nx
    # the fft method reports whole grid columns, as many per batch as fit in 50 points (at least one)
    assert len(done) == (1 if method == "direct" else -(-grid.nx // max(1, 50 // grid.ny)))
