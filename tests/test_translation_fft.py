"""The fft method of the local correlation map against its previous implementation.

``_reference_lcm_fft`` is the per-centre 2D correlation of the paper's Appendix B as the
package had it before issue 12; the row-spectrum implementation must give the same
numbers (1e-6) wherever the old one did: odd shapes, strides, both edge modes,
non-square patches, shift sets with and without zero, lopsided and irregular ones,
tiles of a larger image, flat regions.
"""

import numpy as np
import pytest
import scipy.fft
from _reference import local_correlation_at
from _reference_lcm_fft import lcm_fft_reference
from conftest import shared_file, two_grain

from hyperspy_symseg.descriptors import DescriptorGrid, local_correlation_map, translation_grid
from hyperspy_symseg.descriptors import translation as T
from hyperspy_symseg.descriptors._translation_fft import fft_length, inverse_weights, lcm_fft


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(3)
    img, _ = two_grain((57, 61), period=5.5, noise=0.4, seed=3)
    return img + np.cumsum(rng.normal(size=img.shape), axis=1) * 0.05


def _inputs(image, shifts, py, px, stride=1, edges="shrink", grid=None, reference_std=None):
    """The arguments local_correlation_map hands to the fft kernel."""
    shifts = np.ascontiguousarray(shifts, dtype=np.int64)
    if grid is None:
        grid = T.local_correlation_grid(image.shape, shifts, py, px, stride, edges)
    img, std = T.normalized_image(image, return_std=True)
    variance = T.flat_variance(std, reference_std)
    ii1, ii2 = T.integral_images(img)
    mean, inv = T.patch_statistics(img, py, px, (ii1, ii2), variance)
    return img, shifts, py, px, grid, mean, inv, ii1, ii2, T.FLAT_TOLERANCE * variance


def _both(*inputs, batch=64, workers=None):
    grid, shifts = inputs[4], inputs[1]
    old = np.full(grid.shape + (len(shifts),), np.nan, dtype=np.float32)
    new = old.copy()
    lcm_fft_reference(*inputs, old)
    lcm_fft(*inputs, new, batch, workers)
    return old, new


SHIFT_SETS = {
    "window with zero": translation_grid(7, 5, 50),
    "no zero (pySTEM-like)": np.array([[m, n] for m in range(-7, 6, 3) for n in range(-6, 7, 4)]),
    "lopsided": np.array([[1, 2], [4, 9], [2, 5], [6, 3]]),
    "irregular": np.array([[0, 0], [-5, 4], [6, -3], [-2, -7], [5, 6], [1, 1], [-6, 0]]),
    "one shift": np.array([[3, -2]]),
    "rows only": np.array([[-4, 0], [0, 0], [5, 0]]),
    "columns only": np.array([[0, -6], [0, 2], [0, 7]]),
}


@pytest.mark.parametrize("name", list(SHIFT_SETS))
@pytest.mark.parametrize("py, px, stride, edges", [(3, 3, 1, "shrink"), (2, 5, 2, "exclude"), (6, 1, 3, "shrink"), (4, 2, 7, "shrink")])
def test_equals_previous_implementation(image, name, py, px, stride, edges):
    old, new = _both(*_inputs(image, SHIFT_SETS[name], py, px, stride, edges))
    assert np.isfinite(new).all()
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-6)
    assert np.abs(new).max() > 0.5  # real scores, not zeros


def test_odd_shape_every_edge_point_equals_brute_force():
    """A small odd-shaped image where every centre is clipped somewhere."""
    img, _ = two_grain((23, 19), period=4.0, noise=0.3, seed=5)
    shifts = np.array([[-5, 4], [6, -3], [-2, -7], [5, 6], [0, 1]])
    inputs = _inputs(img, shifts, 3, 2, 1, "shrink")
    old, new = _both(*inputs)
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-6)
    grid = inputs[4]
    for i, y in enumerate(grid.rows()):
        for j, x in enumerate(grid.cols()):
            ref = local_correlation_at(img, y, x, shifts, 3, 2, clipped=True)
            np.testing.assert_allclose(new[i, j], ref, atol=3e-7)


def test_tile_of_a_larger_image(image):
    """A grid given in tile coordinates with the whole image's standard deviation."""
    tile = image[5:50, 8:55]
    grid = DescriptorGrid(y0=3, x0=10, ny=9, nx=6, stride=4)
    inputs = _inputs(tile, SHIFT_SETS["irregular"], 4, 3, grid=grid, reference_std=float(image.std()))
    old, new = _both(*inputs)
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-6)
    # and through the public function
    scores, _ = local_correlation_map(
        tile, SHIFT_SETS["irregular"], 4, 3, method="fft", grid=grid, reference_std=float(image.std())
    )
    np.testing.assert_array_equal(scores, new)


def test_flat_regions_score_zero_in_both(image):
    img = image.copy()
    img[10:35, 12:40] = 2.0  # a flat block larger than the patches
    old, new = _both(*_inputs(img, SHIFT_SETS["window with zero"], 3, 4, 1, "shrink"))
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-6)
    assert (new == 0).any() and (old == 0).sum() == (new == 0).sum()


def test_constant_image_gives_zeros():
    img = np.full((30, 31), 7.5)
    inputs = _inputs(img, SHIFT_SETS["irregular"], 2, 2, 2, "shrink")
    old, new = _both(*inputs)
    assert (new == 0).all() and (old == 0).all()


@pytest.mark.parametrize("batch, workers", [(1, 1), (7, 2), (10_000, 3), (200, -1), (64, None)])
def test_threads_and_batches_change_nothing(image, batch, workers):
    inputs = _inputs(image, SHIFT_SETS["no zero (pySTEM-like)"], 4, 4, 2, "shrink")
    _, reference = _both(*inputs, batch=64, workers=1)
    out = np.empty_like(reference)
    done = []
    lcm_fft(*inputs, out, batch, workers, progress=done.append)
    np.testing.assert_array_equal(out, reference)
    grid = inputs[4]
    assert sum(done) == grid.ny * grid.nx
    assert len(done) == -(-grid.nx // max(1, batch // grid.ny))


@pytest.mark.parametrize("length", [9, 10, 81, 96])
def test_inverse_weights_equal_irfft(length):
    rng = np.random.default_rng(length)
    x = rng.normal(size=length)
    spectrum = np.fft.rfft(x)
    lags = np.array([0, 3, length - 1, 1])
    cos_w, sin_w = inverse_weights(lags, length)
    values = cos_w @ spectrum.real + sin_w @ spectrum.imag
    np.testing.assert_allclose(values, x[lags], atol=1e-12)


def test_fft_length_is_fast_and_large_enough():
    """The lengths scipy.fft.next_fast_len(real=True) gives (2**a 3**b 5**c), without importing it."""
    lengths = [fft_length(n) for n in range(1, 3001)]
    assert lengths == [scipy.fft.next_fast_len(n, real=True) for n in range(1, 3001)]
    assert fft_length(81) == 81  # the authors' defaults: 41 + 40 columns, 3**4
    assert (fft_length(97), fft_length(121), fft_length(2049)) == (100, 125, 2160)


def test_authors_example_equals_previous_implementation():
    """pySTEM's defaults on its example image at stride 8, the grid of the timings."""
    image = np.load(shared_file("real/pystem_high_entropy_alloy.npy")).astype(np.float32)[:400, :330]
    shifts = np.load(shared_file("pystem_reference/hea_lcm_default_translations.npy"))
    old, new = _both(*_inputs(image, shifts, 20, 20, 8, "exclude"), batch=128)
    assert np.abs(new - old).max() < 1e-6


def test_concurrent_calls_from_threads(image):
    """Several user threads at once, each running its own pool of column threads."""
    import concurrent.futures

    inputs = _inputs(image, SHIFT_SETS["irregular"], 3, 3, 1, "shrink")
    _, reference = _both(*inputs, workers=1)

    def run(_):
        out = np.empty_like(reference)
        return lcm_fft(*inputs, out, 16, 2)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for out in pool.map(run, range(6)):
            np.testing.assert_array_equal(out, reference)
