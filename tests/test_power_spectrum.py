"""The sliding-window power-spectrum descriptor (descriptors/power_spectrum.py)."""


import numpy as np
import pytest
from conftest import two_grain

from hyperspy_symseg.descriptors import descriptor_grid, descriptor_names, descriptor_parameters, make_descriptor
from hyperspy_symseg.descriptors.power_spectrum import (
    PowerSpectrumDescriptor,
    hann_window,
    power_spectrum_frequencies,
    power_spectrum_map,
)


def reference_spectrum(image, y, x, wy, wx, taper=True, log=False, crop=None):
    """Brute force: |fft2| ** 2 of the mean-removed, Hann-tapered window at (y, x)."""
    window = np.asarray(image, dtype=np.float64)[y - wy : y + wy + 1, x - wx : x + wx + 1]
    window = window - window.mean()
    if taper:
        ly, lx = window.shape
        hy = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(ly) + 1) / (ly + 1))
        hx = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(lx) + 1) / (lx + 1))
        window = window * np.outer(hy, hx)
    power = np.abs(np.fft.fft2(window)) ** 2
    channels = power_spectrum_frequencies(wy, wx, crop)
    values = power[channels[:, 0] % (2 * wy + 1), channels[:, 1]]
    return np.log1p(values) if log else values


@pytest.fixture(scope="module")
def image():
    img, _ = two_grain((57, 66), period=6.0, noise=0.3, seed=3)
    return 40.0 + 10.0 * img


class TestValues:
    @pytest.mark.parametrize("method", ["dft", "fft"])
    @pytest.mark.parametrize(
        "wy, wx, log, crop, taper",
        [(6, 8, False, None, "hann"), (6, 8, True, None, "hann"), (7, 5, False, 0.5, "hann"),
         (5, 5, True, 0.3, "hann"), (6, 4, False, None, "none")],
    )
    def test_equals_brute_force(self, image, method, wy, wx, log, crop, taper):
        spectra, grid = power_spectrum_map(image, wy, wx, 3, log, crop, taper, method=method)
        assert spectra.dtype == np.float32
        assert spectra.shape == grid.shape + (len(power_spectrum_frequencies(wy, wx, crop)),)
        assert grid == descriptor_grid(image.shape, wy, wx, 3)
        for i, j in [(0, 0), (2, 5), (grid.ny - 1, grid.nx - 1), (grid.ny // 2, 1)]:
            y, x = grid.y0 + 3 * i, grid.x0 + 3 * j
            ref = reference_spectrum(image, y, x, wy, wx, taper == "hann", log, crop)
            np.testing.assert_allclose(spectra[i, j], ref, rtol=2e-6, atol=1e-6 * ref.max())

    def test_default_window_methods_agree(self):
        rng = np.random.default_rng(0)
        img = rng.random((70, 90))
        a, _ = power_spectrum_map(img, 20, 20, 7, method="dft")
        b, _ = power_spectrum_map(img, 20, 20, 7, method="fft")
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * b.max())
        ref = reference_spectrum(img, 27, 34, 20, 20)
        np.testing.assert_allclose(a[1, 2], ref, rtol=2e-6, atol=1e-6 * ref.max())

    def test_hann_definition(self):
        for length in (1, 5, 41):
            h = hann_window(length)
            n = np.arange(length)
            np.testing.assert_allclose(h, np.sin(np.pi * (n + 1) / (length + 1)) ** 2, atol=1e-15)
            np.testing.assert_allclose(h, np.hanning(length + 2)[1:-1], atol=1e-15)
            np.testing.assert_allclose(h, h[::-1], atol=1e-15)
            assert np.all(h > 0) and h[length // 2] == pytest.approx(1.0)

    def test_nonnegative_finite_and_flat_windows_are_zero(self):
        rng = np.random.default_rng(1)
        img = rng.random((60, 60)) * 100
        img[:, :30] = 7.3  # windows entirely left of column 30 - 5 are flat
        for log in (False, True):
            spectra, grid = power_spectrum_map(img, 5, 5, 2, log=log)
            assert np.isfinite(spectra).all() and (spectra >= 0).all()
            flat = grid.cols() + 5 < 30
            assert flat.any() and np.all(spectra[:, flat] == 0)
            assert np.all(spectra[:, ~flat].max(axis=-1) > 0)
        zero, _ = power_spectrum_map(np.full((30, 40), 3.0), 4, 6, 3, log=True)
        assert np.all(zero == 0)

    def test_invariant_to_added_constant(self, image):
        a, _ = power_spectrum_map(image, 6, 6, 4)
        b, _ = power_spectrum_map(image + 1e4, 6, 6, 4)
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6 * a.max())
        c, _ = power_spectrum_map(image.astype(np.float32), 6, 6, 4)
        np.testing.assert_allclose(c, a, rtol=1e-4, atol=1e-5 * a.max())

    def test_lattice_peak_at_its_frequency(self):
        # A cosine along x of period 6 px in a 31-px window peaks at k_x = 1/6.
        y, x = np.mgrid[:40, :80]
        img = np.cos(2 * np.pi * x / 6.0)
        spectra, _ = power_spectrum_map(img, 15, 15, 5)
        d = make_descriptor("power_spectrum", window_x=15, window_y=15, crop=None)
        peak = d.frequencies[np.argmax(spectra[0, 0])]
        assert peak[0] == 0 and abs(peak[1] - 1 / 6) <= 0.5 / 31


class TestDescriptor:
    def test_registered_with_defaults(self):
        assert "power_spectrum" in descriptor_names()
        assert descriptor_parameters("power_spectrum") == {
            "window_x": 20, "window_y": 20, "log": False, "crop": 0.5, "taper": "hann"
        }
        d = make_descriptor("power_spectrum")
        assert isinstance(d, PowerSpectrumDescriptor)
        # crop 0.5: |k_y|, |k_x| <= 10/41 of the 41-px window, the non-redundant half
        assert d.n_operations == (21 * 21 + 1) // 2 == 221
        assert make_descriptor("power_spectrum", crop=None).n_operations == (41 * 41 + 1) // 2 == 841
        assert d.min_shape == (41, 41)
        assert d.size_hint == "window_y=20, window_x=20: it needs at least 2*window + 1"
        assert d.nonnegative is True and d.quantity == "Power spectrum"
        assert make_descriptor("power_spectrum", log=True).quantity == "log(1 + power spectrum)"

    def test_protocol(self, image):
        d = make_descriptor("power_spectrum", window_x=7, window_y=5, crop=0.6)
        assert d.parameters == {"window_x": 7, "window_y": 5, "log": False, "crop": 0.6, "taper": "hann"}
        grid = d.grid(image.shape, 3)
        assert grid == descriptor_grid(image.shape, 5, 7, 3)
        done = []
        out = np.full(grid.shape + (d.n_operations,), np.nan, dtype=np.float32)
        result = d.compute(image, 3, out=out, fft_workers=1, progress=done.append)
        assert result is out and sum(done) == grid.ny * grid.nx
        expected, _ = power_spectrum_map(image, 5, 7, 3, crop=0.6)
        np.testing.assert_array_equal(out, expected)
        names = d.operation_names()
        assert len(names) == d.n_operations == len(set(names))
        md = d.metadata()
        assert md["descriptor"] == "power_spectrum" and md["operation_type"] == "power_spectrum"
        np.testing.assert_array_equal(md["frequency_indices"], power_spectrum_frequencies(5, 7, 0.6))
        np.testing.assert_allclose(md["frequencies"], md["frequency_indices"] / np.array([11, 15]))
        k = 3
        ky, kx = md["frequencies"][k]
        assert names[k] == f"k({ky:.4f}, {kx:.4f})"
        assert np.abs(md["frequencies"]).max() <= 0.6 * 0.5 + 1e-12

    def test_frequencies_are_the_non_redundant_half(self):
        ch = power_spectrum_frequencies(4, 6)
        assert len(ch) == (9 * 13 + 1) // 2
        pairs = {tuple(c) for c in ch}
        assert len(pairs) == len(ch)
        for a, b in ch:
            assert b >= 0 and (b > 0 or a >= 0)
            assert (a, b) == (0, 0) or (-a, -b) not in pairs
        # crop: |k| <= crop * Nyquist along both axes
        cropped = power_spectrum_frequencies(20, 20, 0.25)
        assert np.abs(cropped / 41).max() <= 0.125 and len(cropped) == (2 * 5 + 1) * 5 + 6
        assert len(power_spectrum_frequencies(20, 20, 1e-3)) == 1  # DC only

    def test_subset(self, image):
        d = make_descriptor("power_spectrum", window_x=6, window_y=6, log=True, crop=None)
        full = d.compute(image, 4)
        for indices in ([0, 5, 17, 40], [84], np.arange(d.n_operations)[::-1]):
            sub = d.subset(indices)
            assert sub.n_operations == len(indices) and sub.name == "power_spectrum"
            assert sub.operation_names() == [d.operation_names()[i] for i in indices]
            np.testing.assert_array_equal(sub.metadata()["frequency_indices"], d.channels[indices])
            np.testing.assert_allclose(sub.compute(image, 4), full[..., indices], rtol=1e-6)
        with pytest.raises(ValueError, match="at least one"):
            d.subset([])

    @pytest.mark.parametrize(
        "params, error, match",
        [
            ({"window_x": 0}, ValueError, "window_x must be an integer >= 1"),
            ({"window_y": 2.5}, TypeError, "window_y must be an integer"),
            ({"log": "yes"}, TypeError, "log must be True or False"),
            ({"crop": 0}, ValueError, r"crop must be None or a number in \(0, 1\]"),
            ({"crop": 1.5}, ValueError, r"crop must be None or a number in \(0, 1\]"),
            ({"crop": "low"}, TypeError, "crop must be None or a number"),
            ({"crop": True}, TypeError, "crop must be None or a number"),
            ({"taper": "hamming"}, ValueError, "taper must be 'hann' or None"),
            ({"patch_x": 3}, TypeError, "'patch_x' belongs to"),
        ],
    )
    def test_bad_parameters(self, params, error, match):
        with pytest.raises(error, match=match):
            make_descriptor("power_spectrum", **params)

    def test_no_taper_and_full_crop(self):
        assert make_descriptor("power_spectrum", taper="none").taper == "none"
        assert make_descriptor("power_spectrum", crop=1).crop is None
        assert make_descriptor("power_spectrum", crop=1.0).n_operations == 841


class TestPipeline:
    def test_boundary_is_not_shifted(self):
        """Labels change within one stride of a vertical grain boundary (no 20-px offset)."""
        import hyperspy.api as hs

        from hyperspy_symseg import symmetry_segment

        boundary, stride = 66, 4
        img, truth = two_grain((64, 128), boundary=boundary, period=7.0, noise=0.2)
        labels = symmetry_segment(
            hs.signals.Signal2D(img), 2, descriptor="power_spectrum", stride=stride, window_x=12, window_y=12,
            random_state=0, show_progressbar=False,
        ).data
        assert labels.shape == img.shape
        for row in labels:
            changes = np.flatnonzero(np.diff(row.astype(int))) + 1
            assert len(changes) == 1
            assert abs(changes[0] - boundary) <= stride
        accuracy = max(np.mean(labels == truth), np.mean(labels != truth))
        assert accuracy > 0.97

    def test_descriptor_signal_metadata(self):
        import hyperspy.api as hs

        from hyperspy_symseg import get_symmetry_descriptors

        img, _ = two_grain((48, 60))
        d = get_symmetry_descriptors(
            hs.signals.Signal2D(img), "power_spectrum", stride=5, window_x=6, window_y=5, log=True,
            show_progressbar=False,
        )
        md = d.metadata.SymmetryDescriptors
        assert d.metadata.Signal.quantity == "log(1 + power spectrum)"
        assert d.axes_manager.signal_shape == (len(md.frequencies),)
        assert md.operation_names[0].startswith("k(")
        assert md.log is True and md.window_y == 5
        np.testing.assert_array_equal(md.grid_origin_px, [5, 6])

    def test_too_small_image(self):
        import hyperspy.api as hs

        from hyperspy_symseg import symmetry_segment

        with pytest.raises(ValueError, match=r"window_y=20, window_x=20: it needs at least 2\*window \+ 1 = 41 x 41"):
            symmetry_segment(hs.signals.Signal2D(np.random.rand(40, 80)), 2, descriptor="power_spectrum")
