"""Column detection on the forward model: known positions, thickness ramps, vacuum, noise."""

import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from hyperspy_symseg import simulate as S
from hyperspy_symseg.columns import _detect, gaussian_column_crlb, locate_columns

PX = 0.02


def scene_image(lattice, counts, seed, shape=(160, 160), sigma_px=2.0, regions=None, background=0.1, scene_cls=None):
    fwhm = sigma_px * PX * 2 * math.sqrt(2 * math.log(2))
    regions = regions or [S.Region(lattice)]
    scene = S.Scene(shape, PX, regions)
    return S.simulate_image(scene, S.GaussianProbe(fwhm=fwhm), peak_counts=counts, background=background,
                            random_state=seed)


def f1_and_rms(found, truth, tol):
    d, j = cKDTree(truth).query(found, distance_upper_bound=tol)
    ok = np.isfinite(d)
    tp = len(set(j[ok].tolist()))
    precision, recall = tp / max(len(found), 1), tp / max(len(truth), 1)
    err = found[ok] - truth[j[ok]]
    return 2 * precision * recall / max(precision + recall, 1e-12), float(np.sqrt(np.mean(err**2)))


def test_known_positions_at_the_cramer_rao_bound():
    """Isolated columns (sigma 2.5 px, 18 px apart) at 100 counts: every column, RMS within 1.2 x CRLB."""
    sim = scene_image(S.Lattice.square(18 * PX, rotation=5.0), 100, seed=3, sigma_px=2.5)
    res = locate_columns(sim.image.data, 18.0)
    found = np.column_stack([res["y"], res["x"]])
    truth = sim.positions / PX
    f1, rms = f1_and_rms(found, truth, 6.0)
    crlb = gaussian_column_crlb(100.0, 2.5, 10.0)["position"]
    assert f1 == 1.0
    assert rms < 1.2 * crlb
    assert res["noise"] == "poisson"
    assert res["sigma"] == pytest.approx(2.5, rel=0.05)
    # the reported errors are the bound's size
    assert np.median(res["x_err"]) == pytest.approx(crlb, rel=0.25)


def test_noise_free_image_is_exact():
    sim = scene_image(S.Lattice.hexagonal(14 * PX, rotation=11.0), None, seed=1, sigma_px=2.0)
    res = locate_columns(sim.image.data * 1000, 14.0)
    found = np.column_stack([res["y"], res["x"]])
    f1, rms = f1_and_rms(found, sim.positions / PX, 4.0)
    assert res["noise"] == "gaussian"
    assert f1 == 1.0 and rms < 1e-3


def test_thickness_ramp_and_vacuum():
    """Columns fading to 25 % across the image, a vacuum third: all columns, none in vacuum."""

    class Ramp(S.Scene):
        def resolved(self, random_state=None):
            base = super().resolved(random_state)
            return Ramp(base.shape, base.pixel_size, base.regions, base.min_separation)

        def columns(self, margin=0.0, shift=(0.0, 0.0)):
            c = super().columns(margin, shift)
            u = np.clip(c.positions[:, 1] / ((self.shape[1] - 1) * self.pixel_size), 0, 1)
            return S.ColumnSet(c.positions, c.regions, c.intensities * (0.25 + 0.75 * u), c.sites)

    lat = S.Lattice.hexagonal(15 * PX, rotation=7.0)
    scene = Ramp((192, 192), PX, [S.Region(lat), S.Region(None, S.HalfPlane(270.0, 0.2 * 192 * PX))])
    sim = S.simulate_image(scene, S.GaussianProbe(fwhm=1.9 * PX * 2.3548), peak_counts=30,
                           background=[S.ConstantBackground(0.1), S.LinearBackground(0.0, (0.0, 0.03))],
                           random_state=4)
    res = locate_columns(sim.image.data, 15.0)
    found = np.column_stack([res["y"], res["x"]])
    truth = sim.positions / PX
    inner = lambda p: (p[:, 0] > 2) & (p[:, 0] < 189) & (p[:, 1] > 2) & (p[:, 1] < 189)  # noqa: E731
    f1, _ = f1_and_rms(found[inner(found)], truth[inner(truth)], 5.0)
    assert f1 >= 0.99
    vacuum_x = (192 - 1) / 2 - 0.2 * 192  # left of this column is vacuum
    assert not np.any(found[:, 1] < vacuum_x - 3.0)


def test_vacuum_and_noise_give_no_columns():
    rng = np.random.default_rng(0)
    for image in (rng.poisson(3.0, (128, 128)).astype(float), rng.normal(0, 1, (128, 128))):
        res = locate_columns(image, 12.0)
        assert len(res["y"]) == 0


def test_centre_of_mass_matches_brute_force():
    rng = np.random.default_rng(5)
    img = rng.uniform(0, 1, (40, 40))
    floor = np.full_like(img, 0.3)
    starts = np.array([[12.0, 15.0], [25.3, 20.7]])
    got = _detect.centre_of_mass(img, floor, starts, 4.0, n_iter=1)
    yy, xx = np.mgrid[:40, :40]
    for s, g in zip(starts, got):
        m = (yy - s[0]) ** 2 + (xx - s[1]) ** 2 <= 16.0
        w = np.clip(img - floor, 0, None) * m
        np.testing.assert_allclose(g, [(w * yy).sum() / w.sum(), (w * xx).sum() / w.sum()], atol=1e-12)


def test_robust_noise_sigma():
    rng = np.random.default_rng(6)
    assert _detect.robust_noise_sigma(rng.normal(0, 2.0, (200, 200))) == pytest.approx(2.0, rel=0.03)


def test_same_input_same_result_and_input_untouched():
    sim = scene_image(S.Lattice.square(12 * PX), 30, seed=8, shape=(96, 96))
    img = sim.image.data.copy()
    a = locate_columns(img, 12.0)
    b = locate_columns(img, 12.0)
    np.testing.assert_array_equal(img, sim.image.data)
    np.testing.assert_array_equal(a["x"], b["x"])


def test_bilinear_equals_map_coordinates():
    from scipy import ndimage

    from hyperspy_symseg.columns._detect import bilinear

    rng = np.random.default_rng(5)
    grid = rng.normal(size=(13, 9))
    yi = np.clip(rng.uniform(-0.5, 12.5, 40), 0, 12)
    xi = np.clip(rng.uniform(-0.5, 8.5, 31), 0, 8)
    yi[:3] = (0.0, 12.0, 5.0)
    ref = ndimage.map_coordinates(grid, np.meshgrid(yi, xi, indexing="ij"), order=1, mode="nearest")
    np.testing.assert_allclose(bilinear(grid, yi, xi), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("shape", "separation"), [((97, 130), 17.0), ((64, 64), 5.0), ((50, 77), 25.0)])
def test_floor_map_equals_the_reference_opening(shape, separation):
    """Block minima (strided), opening and smoothing against a plain reshape / SciPy reference."""
    from scipy import ndimage

    rng = np.random.default_rng(5)
    img = rng.normal(size=shape) + np.linspace(0, 3, shape[1])[None, :]
    got = _detect.floor_map(img, separation)
    h, w = shape
    step = max(1, int(separation // 6))
    hb, wb = -(-h // step), -(-w // step)
    pad = np.pad(img, ((0, hb * step - h), (0, wb * step - w)), mode="edge")
    small = pad.reshape(hb, step, wb, step).min(axis=(1, 3))
    size = max(3, int(round(1.2 * separation / step)) | 1)
    low = ndimage.uniform_filter(ndimage.maximum_filter(ndimage.minimum_filter(small, size=size, mode="reflect"),
                                                        size=size, mode="reflect"), size=size, mode="reflect")
    if step > 1:
        yi = np.clip((np.arange(h) + 0.5) / step - 0.5, 0, low.shape[0] - 1)
        xi = np.clip((np.arange(w) + 0.5) / step - 0.5, 0, low.shape[1] - 1)
        low = ndimage.map_coordinates(low, np.meshgrid(yi, xi, indexing="ij"), order=1)
    np.testing.assert_allclose(got, low, rtol=0, atol=1e-12)
    assert got.shape == shape


@pytest.mark.parametrize(("shape", "half"), [((300, 257), 8), ((7, 5), 3), ((1, 9), 2), ((50, 3), 10), ((200, 201), 1),
                                             ((40, 40), 0)])
def test_local_maxima_equals_scipy_maximum_filter(shape, half):
    from scipy import ndimage

    rng = np.random.default_rng(half)
    img = np.round(rng.normal(size=shape), 1)  # many ties: plateaux count as maxima, as in SciPy
    ref = img == ndimage.maximum_filter(img, size=2 * half + 1, mode="nearest")
    got = _detect.local_maxima(img, half)
    np.testing.assert_array_equal(got, ref)
    assert ref.sum() > 0
    # the serial build and the maximum itself, in both border modes, and the minimum
    out = np.empty(shape)
    _detect._square_max_serial(np.ascontiguousarray(img), half, out)
    for mode in ("nearest", "reflect"):
        ref_max = ndimage.maximum_filter(img, size=2 * half + 1, mode=mode)
        np.testing.assert_array_equal(out, ref_max)
        np.testing.assert_array_equal(_detect.square_max(img, half, mode=mode), ref_max)
        np.testing.assert_array_equal(-_detect.square_max(-img, half, mode=mode),
                                      ndimage.minimum_filter(img, size=2 * half + 1, mode=mode))


def test_local_maxima_with_non_finite_values_falls_back_to_scipy():
    from scipy import ndimage

    img = np.random.default_rng(1).normal(size=(30, 30))
    img[3, 4] = np.inf
    img[10, 10] = np.nan
    ref = img == ndimage.maximum_filter(img, size=5, mode="nearest")
    np.testing.assert_array_equal(_detect.local_maxima(img, 2), ref)


@pytest.mark.parametrize(("shape", "sigma"), [((300, 257), 2.04), ((9, 7), 2.0), ((3, 40), 1.0), ((64, 64), 0.7),
                                              ((130, 129), 0.1)])
def test_smooth_equals_scipy_gaussian_filter_bit_for_bit(shape, sigma):
    from scipy import ndimage

    rng = np.random.default_rng(2)
    img = rng.poisson(5.0, size=shape).astype(float) + np.linspace(0, 1, shape[1])
    before = img.copy()
    got = _detect.smooth(img, sigma)
    np.testing.assert_array_equal(got, ndimage.gaussian_filter(img, sigma, mode="reflect", truncate=4.0))
    np.testing.assert_array_equal(img, before)
    # short lines (shorter than the kernel) mirror periodically, as in SciPy
    assert got.shape == shape


def test_gaussian_weights_are_scipys_kernel():
    from scipy import ndimage

    w = _detect.gaussian_weights(1.8)
    delta = np.zeros(41)
    delta[20] = 1.0
    kernel = ndimage.gaussian_filter1d(delta, 1.8, truncate=4.0)  # the kernel itself
    np.testing.assert_allclose(w, kernel[20:20 + len(w)], rtol=0, atol=1e-17)
    assert len(w) == int(4.0 * 1.8 + 0.5) + 1
    assert w[0] + 2 * w[1:].sum() == pytest.approx(1.0, abs=1e-15)


def _interp_matrix(coords, n):
    """Reference: sparse (len(coords), n) CSR matrix of linear interpolation weights (2 per row)."""
    from scipy import sparse

    c = np.asarray(coords, dtype=np.float64)
    i0 = np.clip(np.floor(c).astype(np.int64), 0, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    f = c - i0
    rows = np.arange(len(c))
    return sparse.csr_matrix((np.r_[1.0 - f, f], (np.r_[rows, rows], np.r_[i0, i1])), shape=(len(c), n))


@pytest.mark.parametrize(("ny", "nx"), [(300, 257), (130, 129), (5, 4)])
def test_bilinear_equals_the_sparse_interpolation_products_bit_for_bit(ny, nx):
    rng = np.random.default_rng(ny)
    grid = rng.normal(size=(ny // 3 + 2, nx // 2 + 2))
    yi = np.linspace(-1.5, grid.shape[0] + 0.5, ny)  # inside, on the last point and beyond
    xi = np.clip(np.linspace(-0.3, grid.shape[1] - 0.2, nx), 0, grid.shape[1] - 1)
    wy = _interp_matrix(yi, grid.shape[0])
    wx = _interp_matrix(xi, grid.shape[1])
    ref = np.asarray(wy @ (wx @ grid.T).T)
    np.testing.assert_array_equal(_detect.bilinear(grid, yi, xi), ref)


@pytest.mark.parametrize("poisson", [True, False])
def test_significant_maxima_equal_the_numpy_expression(poisson):
    """The fused candidate test of find_candidates against its plain NumPy form (the same pixels)."""
    rng = np.random.default_rng(3)
    sm = _detect.smooth(rng.poisson(20.0, (97, 131)).astype(float), 1.2)
    fl = _detect.floor_map(sm, 9.0)
    is_max = _detect.local_maxima(sm, 2)
    k2 = 0.05
    var = np.maximum(sm, 0.0) * k2
    floor_var = float(np.percentile(var, 5))
    noise_const = 0.3
    noise = np.sqrt(np.maximum(var, floor_var)) if poisson else np.full(sm.shape, noise_const)
    threshold = float(np.median(((sm - fl) / noise)[is_max]))  # about half of the maxima pass
    expected = np.flatnonzero(is_max & ((sm - fl) / noise > threshold))
    out = np.empty(sm.size, np.int64)
    k = _detect._significant_maxima(sm, fl, is_max, var, floor_var, noise_const, poisson, threshold, out)
    assert k > 20  # a real test: many maxima pass, some do not
    assert k < is_max.sum()
    np.testing.assert_array_equal(out[:k], expected)


def test_any_4_adjacent_equals_label_components():
    """True exactly when ndimage.label (4-connectivity) finds fewer components than pixels."""
    from scipy import ndimage

    rng = np.random.default_rng(4)
    width = 13
    answers = set()
    for trial in range(300):
        mask = rng.random((9, width)) < rng.uniform(0.02, 0.2)
        flat = np.flatnonzero(mask)
        if len(flat) < 2:
            continue
        _, nlab = ndimage.label(mask)
        got = _detect._any_4_adjacent(flat, width)
        assert got == (nlab < len(flat))
        answers.add(got)
    assert answers == {True, False}
    # pixels at the end of one row and the start of the next are not neighbours
    assert not _detect._any_4_adjacent(np.array([width - 1, width]), width)
    assert _detect._any_4_adjacent(np.array([3, 3 + width]), width)


def test_find_candidates_equals_the_numpy_reference():
    """find_candidates' positions, heights and significances against the plain NumPy/SciPy pipeline."""
    from scipy import ndimage

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:120, 0:150]
    clean = 5 + 40 * sum(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 2.0**2))
                          for cy in range(6, 120, 12) for cx in range(6, 150, 12))
    img = rng.poisson(clean).astype(float)
    img[60:63, 60:63] = 500.0  # a flat plateau: one candidate
    for poisson in (True, False):
        got = _detect.find_candidates(img, 12.0, poisson=poisson)
        s = max(0.7, 0.12 * 12.0)
        sm = ndimage.gaussian_filter(img, s, mode="reflect", truncate=4.0)
        fl = got["floor"]
        k2 = 1.0 / (4.0 * math.pi * s**2)
        if poisson:
            var = np.maximum(sm, 0.0) * k2
            noise = np.sqrt(np.maximum(var, max(float(np.percentile(var, 5)), k2 * 0.25)))
        else:
            noise = _detect.robust_noise_sigma(img) * math.sqrt(k2)
        sig = (sm - fl) / noise
        keep = (sm == ndimage.maximum_filter(sm, size=13, mode="nearest")) & (sig > 3.0)
        iy, ix = np.nonzero(keep)
        lab, nlab = ndimage.label(keep)
        first = np.unique(lab[iy, ix], return_index=True)[1]
        iy, ix = iy[first], ix[first]
        order = np.argsort(-sig[iy, ix], kind="stable")
        np.testing.assert_array_equal(got["positions"], np.column_stack([iy[order], ix[order]]))
        np.testing.assert_array_equal(got["significance"], sig[iy[order], ix[order]])
        np.testing.assert_array_equal(got["height"], (sm - fl)[iy[order], ix[order]])
        assert 80 <= len(got["positions"]) <= 160
