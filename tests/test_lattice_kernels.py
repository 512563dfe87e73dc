"""The lattice analysis's fast kernels against slow obvious references, bit for bit."""

import numpy as np
import pytest
import scipy.fft
import scipy.ndimage

from hyperspy_symseg import _lattice_spectrum as ls
from hyperspy_symseg import _ring_medians as rm
from hyperspy_symseg import simulate as S


def _reference_spectrum(image, tile=ls.TILE):
    """The Welch spectrum as first written: a fresh taper, the full plane by a gather."""
    image = np.asarray(image, dtype=np.float64)
    corners, (h, w) = ls._tiles(image.shape, tile)
    taper = np.outer(ls._hann(h), ls._hann(w))
    half = np.zeros((h, w // 2 + 1))
    for y, x in corners:
        block = image[y:y + h, x:x + w]
        half += np.abs(scipy.fft.rfft2((block - block.mean()) * taper)) ** 2
    half /= len(corners)
    full = np.empty((h, w))
    full[:, : w // 2 + 1] = half
    cols = np.arange(w // 2 + 1, w)
    full[:, cols] = half[(-np.arange(h)) % h][:, w - cols]
    return full


def _reference_background(spectrum, exclude=None):
    """Per ring: ``numpy.median`` of the bins not excluded; empty rings interpolated; ``numpy.interp`` back."""
    h, w = spectrum.shape
    k, ring, n_rings = ls._rings((h, w))
    keep = np.ones(h * w, bool) if exclude is None else ~np.asarray(exclude).ravel()
    values = spectrum.ravel()
    medians = np.array([np.median(values[(ring == r) & keep]) if np.any((ring == r) & keep) else np.nan
                        for r in range(n_rings)])
    valid = np.isfinite(medians)
    if not valid.any():
        medians = np.ones(n_rings)
    elif not valid.all():
        idx = np.arange(n_rings)
        medians = np.interp(idx, idx[valid], medians[valid])
    background = np.interp((k * min(h, w)).ravel(), np.arange(n_rings), medians).reshape(h, w)
    return np.maximum(background, np.finfo(float).tiny)


def _images():
    rng = np.random.default_rng(3)
    crystal = S.two_grain_image(shape=(256, 256), random_state=0).image.data.astype(np.float64)
    return [crystal, crystal[:97, :130], rng.poisson(3.0, size=(64, 81)).astype(float),
            S.two_grain_image(shape=(600, 700), random_state=1).image.data.astype(np.float64)]


@pytest.mark.parametrize("which", range(4))
def test_power_spectrum_equals_the_gathered_full_plane(which):
    image = _images()[which]
    np.testing.assert_array_equal(ls.power_spectrum(image), _reference_spectrum(image))


@pytest.mark.parametrize("which", range(3))
def test_radial_background_equals_numpy_median_and_interp(which):
    spectrum = ls.power_spectrum(_images()[which])
    background, medians = ls._radial_background(spectrum)
    np.testing.assert_array_equal(background, _reference_background(spectrum))
    # the second pass: bins around the peaks left out, untouched rings kept from the first
    ratio = ls._box3(spectrum) / (9.0 * background)
    exclude = scipy.ndimage.maximum_filter(ratio > ls.THRESHOLD, size=5, mode="wrap")
    assert 0 < exclude.sum() < exclude.size
    again, _ = ls._radial_background(spectrum, exclude, previous=medians)
    np.testing.assert_array_equal(again, _reference_background(spectrum, exclude))
    np.testing.assert_array_equal(ls._radial_background(spectrum, exclude)[0], again)


def test_radial_background_with_empty_rings():
    """Rings whose bins are all excluded are interpolated from their neighbours, as before."""
    spectrum = ls.power_spectrum(_images()[2])
    _, ring, _ = ls._rings(spectrum.shape)
    exclude = np.isin(ring, [3, 4, 9]).reshape(spectrum.shape)
    np.testing.assert_array_equal(ls._radial_background(spectrum, exclude)[0],
                                  _reference_background(spectrum, exclude))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 16, 17, 18, 100, 101, 1000, 1001])
def test_ring_medians_equal_numpy_median_with_ties_zeros_and_fallback(n):
    rng = np.random.default_rng(n)
    cases = [rng.exponential(size=n), np.round(rng.exponential(size=n), 1),  # ties
             np.where(rng.random(n) < 0.5, 0.0, rng.random(n) * 1e-300),  # zeros and subnormals
             rng.exponential(size=n) * 10.0 ** rng.integers(-200, 200, size=n),
             rng.normal(size=n),  # negatives: the comparison selection
             np.where(rng.random(n) < 0.3, -0.0, rng.random(n))]
    for values in cases:
        values = np.ascontiguousarray(values, dtype=np.float64)
        ring = np.zeros(n, np.int64)
        ring[n // 2:] = 1  # two rings
        order = np.argsort(ring, kind="stable")
        starts = np.array([0, n // 2, n], np.int64)
        exclude = rng.random(n) < 0.2
        got = rm.ring_medians(order, starts, ring, values, values.view(np.int64), exclude, np.zeros(0))
        for r in (0, 1):
            sel = values[(ring == r) & ~exclude]
            want = np.median(sel) if sel.size else np.nan
            assert got[r] == want or (np.isnan(want) and np.isnan(got[r])), (r, got[r], want)


def test_ring_interp_equals_numpy_interp():
    rng = np.random.default_rng(0)
    medians = rng.exponential(size=40)
    radius = np.concatenate([rng.uniform(0, 41, 5000), np.arange(41.0), [39.5, 39.999, 40.0, 40.2]])
    lower = np.floor(radius).astype(np.int64)
    out = np.empty(len(radius))
    rm.ring_interp(medians, lower, radius - lower, 0.3, out)
    np.testing.assert_array_equal(out, np.maximum(np.interp(radius, np.arange(40), medians), 0.3))


def test_dilate_above_equals_the_maximum_filter():
    rng = np.random.default_rng(1)
    summed, background = rng.exponential(size=(37, 50)), rng.exponential(size=(37, 50))
    for threshold in (0.5, 3.0, 30.0):
        out = np.zeros(summed.shape, bool)
        rm.dilate_above(summed, background, threshold, out)
        want = scipy.ndimage.maximum_filter(summed / (9.0 * background) > threshold, size=5, mode="wrap")
        np.testing.assert_array_equal(out, want)
