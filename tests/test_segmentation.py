"""The pipeline on HyperSpy signals: descriptors signal, segmentation, prediction."""

import hyperspy.api as hs
import numpy as np
import pytest
from _reference import local_correlation_at
from conftest import PLAIN, SMALL, two_grain

import hyperspy_symseg
from hyperspy_symseg import get_symmetry_descriptors, symmetry_segment
from hyperspy_symseg.signals import AtomicResolutionImage, PatternLabels


def accuracy(pred, truth):
    """Fraction of pixels right under the better of the two label assignments."""
    a = np.mean(pred == truth)
    return max(a, 1 - a)


class TestDescriptorSignal:
    @pytest.mark.parametrize("edges", ["shrink", "exclude"])
    def test_axes_calibration_and_values(self, grain_signal, edges):
        s, _ = grain_signal
        d = s.get_symmetry_descriptors(stride=3, edges=edges, **SMALL, **PLAIN)
        assert isinstance(d, hs.signals.Signal1D) and not isinstance(d, AtomicResolutionImage)
        shifts = d.metadata.SymmetryDescriptors.operations
        assert d.axes_manager.signal_shape == (len(shifts),)
        assert d.axes_manager.signal_axes[0].name == "operation"
        x, y = d.axes_manager.navigation_axes
        margin = SMALL["patch_x"] + np.abs(shifts).max()  # same along x and y here
        inner = max(SMALL["patch_x"], np.abs(shifts).max()) if edges == "shrink" else margin
        first = margin - 3 * ((margin - inner) // 3)
        assert (x.name, y.name, x.units, y.units) == ("x", "y", "nm", "nm")
        assert x.scale == pytest.approx(0.06) and y.scale == pytest.approx(0.06)
        assert x.offset == pytest.approx(1.5 + 0.02 * first)
        assert y.offset == pytest.approx(1.5 + 0.02 * first)
        assert x.size == (128 - 1 - inner - first) // 3 + 1
        assert y.size == (96 - 1 - inner - first) // 3 + 1
        assert d.data.dtype == np.float32
        # the value at grid point (j, i) is the score at the image pixel the axes say,
        # in the interior and at the border
        for j, i in [(4, 7), (0, 0), (x.size - 1, 2)]:
            px = round((x.axis[j] - 1.5) / 0.02)
            py = round((y.axis[i] - 1.5) / 0.02)
            ref = local_correlation_at(s.data, py, px, shifts, SMALL["patch_y"], SMALL["patch_x"], clipped=True)
            np.testing.assert_allclose(d.inav[j, i].data, ref, atol=1e-6)
        assert d.metadata.SymmetryDescriptors.edges == edges

    def test_metadata(self, grain_signal):
        s, _ = grain_signal
        d = s.get_symmetry_descriptors(stride=4, **SMALL)
        md = d.metadata.SymmetryDescriptors
        assert md.descriptor == "local_correlation_map"
        assert md.patch_x == 5 and md.window_y == 8 and md.stride == 4 and md.method == "direct"
        np.testing.assert_allclose(md.operations_calibrated, md.operations * 0.02)
        assert md.operation_names[0] == f"T({md.operations[0][0]}, {md.operations[0][1]})"
        assert d.metadata.General.title == "local_correlation_map descriptors of bicrystal"
        assert d.metadata.Acquisition_instrument.TEM.beam_energy == 300.0

    def test_preselected_translations(self, grain_signal):
        s, _ = grain_signal
        shifts = np.array([[0, 7], [7, 0], [5, 5], [-3, 6]])
        d = get_symmetry_descriptors(
            s, "preselected_translations", 5, preselected_translations=shifts, patch_x=4, patch_y=6, edges="exclude"
        )
        np.testing.assert_array_equal(d.metadata.SymmetryDescriptors.operations, shifts)
        assert d.axes_manager.navigation_axes[1].offset == pytest.approx(1.5 + 0.02 * (6 + 7))
        assert d.axes_manager.navigation_axes[0].offset == pytest.approx(1.5 + 0.02 * (4 + 7))

    @pytest.mark.parametrize("lazy", [False, True])
    def test_stack_navigation_is_x_y_t(self, lazy):
        frames = np.stack([two_grain(seed=k)[0] for k in range(3)]).astype(np.float32)
        s = hs.signals.Signal2D(frames)
        s.axes_manager[0].name = "t"
        s.axes_manager[0].scale = 0.5
        s.axes_manager[0].units = "s"
        if lazy:
            s = s.as_lazy()
        s.set_signal_type("atomic_resolution")
        d = s.get_symmetry_descriptors(stride=4, **SMALL, **PLAIN)
        assert d._lazy == lazy
        assert [a.name for a in d.axes_manager.navigation_axes][2] == "t"
        assert d.axes_manager.navigation_axes[2].scale == 0.5
        assert d.axes_manager.navigation_dimension == 3
        single = get_symmetry_descriptors(hs.signals.Signal2D(frames[2]), stride=4, **SMALL, **PLAIN)
        np.testing.assert_array_equal(np.asarray(d.inav[:, :, 2].data), single.data)

    def test_hyperspy_learning_runs_on_it(self, grain_signal):
        s, _ = grain_signal
        d = s.get_symmetry_descriptors(stride=3, **SMALL)
        d.decomposition(output_dimension=4, print_info=False)
        d.cluster_analysis("decomposition", n_clusters=2, number_of_components=3, preprocessing=None)
        assert d.learning_results.cluster_labels.shape == (2, d.axes_manager.navigation_size)


class TestSegment:
    def test_labels_signal(self, grain_signal):
        s, truth = grain_signal
        before = s.deepcopy()
        labels = s.symmetry_segment(2, stride=2, random_state=0, **SMALL)
        assert type(labels) is PatternLabels and isinstance(labels, hs.signals.Signal2D)  # discrete-colour plot()
        assert labels.metadata.Signal.signal_type == "pattern_labels"
        assert labels.data.shape == s.data.shape
        assert np.issubdtype(labels.data.dtype, np.integer)
        for a, b in zip(labels.axes_manager._axes, s.axes_manager._axes):
            assert (a.name, a.units, a.scale, a.offset, a.size) == (b.name, b.units, b.scale, b.offset, b.size)
        assert labels.metadata.General.title == "Symmetry segmentation of bicrystal"
        assert labels.metadata.Acquisition_instrument.TEM.beam_energy == 300.0
        assert labels.metadata.SymmetrySegmentation.n_patterns == 2
        assert accuracy(labels.data, truth) > 0.97
        # the input is never modified
        np.testing.assert_array_equal(s.data, before.data)
        assert s.metadata.as_dictionary() == before.metadata.as_dictionary()
        assert isinstance(s, AtomicResolutionImage)

    def test_labels_sorted_smallest_first(self, grain_signal):
        s, _ = grain_signal
        image, truth = two_grain(boundary=40)  # the left grain is smaller
        s.data = image.astype(np.float32)
        seg = s.symmetry_segmentation(2, stride=2, random_state=0, **SMALL)
        assert seg.pattern_sizes[0] < seg.pattern_sizes[1]
        np.testing.assert_array_equal(seg.pattern_sizes, np.bincount(seg.labels.data.ravel()))
        assert np.mean(seg.labels.data == truth) > 0.95  # label 0 = left grain, no flipping

    def test_same_seed_same_labels(self, grain_signal):
        s, _ = grain_signal
        a = symmetry_segment(s, 3, stride=3, random_state=5, **SMALL)
        b = symmetry_segment(s, 3, stride=3, random_state=5, **SMALL)
        np.testing.assert_array_equal(a.data, b.data)

    def test_function_works_on_plain_signal2d(self, grain_signal):
        s, truth = grain_signal
        plain = hs.signals.Signal2D(s.data.copy())
        labels = hyperspy_symseg.symmetry_segment(plain, 2, stride=2, random_state=1, **SMALL)
        assert accuracy(labels.data, truth) > 0.97

    def test_upsampling_covers_borders(self, grain_signal):
        s, truth = grain_signal
        labels = s.symmetry_segment(2, stride=5, random_state=0, **SMALL).data
        # the margin (patch + window) has no grid points but the right labels
        assert accuracy(labels[:, :8], truth[:, :8]) == 1.0 or accuracy(labels[:, -8:], truth[:, -8:]) == 1.0
        assert accuracy(labels, truth) > 0.95

    def test_fft_method_same_labels(self, grain_signal):
        s, _ = grain_signal
        a = s.symmetry_segment(2, stride=3, random_state=0, method="direct", **SMALL)
        b = s.symmetry_segment(2, stride=3, random_state=0, method="fft", **SMALL)
        assert np.mean(a.data == b.data) > 0.999

    def test_integer_image_accepted(self, grain_signal):
        s, truth = grain_signal
        s.data = np.round((s.data - s.data.min()) * 100).astype(np.uint16)
        labels = s.symmetry_segment(2, stride=2, random_state=0, **SMALL)
        assert accuracy(labels.data, truth) > 0.97
        assert s.data.dtype == np.uint16

    def test_n_patterns_one(self, grain_signal):
        s, _ = grain_signal
        labels = s.symmetry_segment(1, stride=4, **SMALL)
        assert np.all(labels.data == 0)


class TestResult:
    def test_attributes(self, grain_signal):
        s, _ = grain_signal
        seg = s.symmetry_segmentation(2, stride=2, n_components=3, random_state=0, **SMALL)
        n_ops = seg.descriptor.n_operations
        assert seg.n_components == 3 and seg.cluster_centers.shape == (2, 3)
        assert seg.explained_variance_ratio.shape == (n_ops,)
        assert seg.explained_variance_ratio.sum() == pytest.approx(1.0)
        assert np.all(np.diff(seg.explained_variance_ratio) <= 1e-12)
        lr = seg.descriptors.learning_results
        assert lr.loadings.shape == (seg.descriptors.axes_manager.navigation_size, 3)
        np.testing.assert_allclose(lr.explained_variance_ratio, seg.explained_variance_ratio)
        assert lr.cluster_labels.shape[0] == 2
        assert seg.parameters["stride"] == 2 and seg.parameters["random_state"] == 0
        assert "2 patterns" in repr(seg)

    def test_variance_fraction(self, grain_signal):
        s, truth = grain_signal
        seg = s.symmetry_segmentation(2, stride=2, n_components=0.8, random_state=0, **SMALL)
        cum = np.cumsum(seg.explained_variance_ratio)
        assert cum[seg.n_components - 1] >= 0.8 > (cum[seg.n_components - 2] if seg.n_components > 1 else 0)
        assert seg.parameters["n_components"] == 0.8 and seg.parameters["n_components_used"] == seg.n_components
        assert accuracy(seg.labels.data, truth) > 0.95

    def test_predict_reproduces_labels_and_generalises(self, grain_signal):
        s, truth = grain_signal
        seg = s.symmetry_segmentation(2, stride=2, random_state=0, **SMALL)
        np.testing.assert_array_equal(seg.predict(s).data, seg.labels.data)
        # a new acquisition of the same bicrystal (new noise): same meaning of labels
        other = s.deepcopy()
        other.data = two_grain(seed=9)[0].astype(np.float32)
        pred = seg.predict(other)
        assert np.mean(pred.data == seg.labels.data) > 0.95
        assert pred.axes_manager.signal_axes[0].scale == s.axes_manager.signal_axes[0].scale

    def test_predict_on_stack(self, grain_signal):
        s, _ = grain_signal
        seg = s.symmetry_segmentation(2, stride=3, random_state=0, **SMALL)
        stack = hs.signals.Signal2D(np.stack([two_grain(seed=k)[0] for k in range(4)]).astype(np.float32))
        labels = seg.predict(stack)
        assert labels.data.shape == (4, 96, 128)
        for k in range(4):
            assert np.mean(labels.data[k] == seg.labels.data) > 0.95


class TestStackSegmentation:
    @staticmethod
    def stack(lazy):
        frames, truths = zip(*(two_grain(boundary=50 + 6 * k, seed=k) for k in range(3)))
        s = hs.signals.Signal2D(np.stack(frames).astype(np.float32))
        s.axes_manager[0].name = "t"
        if lazy:
            s = s.as_lazy()
        s.set_signal_type("atomic_resolution")
        return s, np.stack(truths)

    @staticmethod
    def agree(labels, truth):
        # one labelling for all frames: the moving boundary is followed without flips
        return max(np.mean(labels == truth), np.mean(labels != truth))

    def test_eager_stack_is_fitted_on_all_frames(self):
        s, truth = self.stack(lazy=False)
        seg = s.symmetry_segmentation(2, stride=3, random_state=0, **SMALL)
        assert seg.labels.data.shape == (3, 96, 128)
        assert seg.labels.axes_manager.navigation_axes[0].name == "t"
        assert seg.descriptors.axes_manager.navigation_dimension == 3
        assert seg.reference_frames is None
        assert self.agree(seg.labels.data, truth) > 0.95

    def test_lazy_stack_is_fitted_on_the_first_frame_and_labelled_lazily(self):
        s, truth = self.stack(lazy=True)
        seg = s.symmetry_segmentation(2, stride=3, random_state=0, **SMALL)
        assert seg.labels._lazy and seg.pattern_sizes is None
        assert seg.reference_frames.tolist() == [0]
        assert seg.descriptors.axes_manager.navigation_dimension == 2
        labels = np.asarray(seg.labels.data.compute())
        assert labels.shape == (3, 96, 128)
        assert self.agree(labels, truth) > 0.95
        eager = s.symmetry_segmentation(2, stride=3, random_state=0, lazy_output=False, **SMALL)
        np.testing.assert_array_equal(eager.labels.data, labels)

    def test_reference_frames(self):
        s, truth = self.stack(lazy=False)
        seg = s.symmetry_segmentation(2, stride=3, random_state=0, reference_frames=[0, 2], **SMALL)
        assert seg.descriptors.axes_manager.navigation_shape[-1] == 2
        assert seg.parameters["reference_frames"].tolist() == [0, 2]
        assert self.agree(seg.labels.data, truth) > 0.95

    @pytest.mark.parametrize("bad, error", [([3], ValueError), ([-1], ValueError), ([0.5], TypeError), ([], TypeError)])
    def test_bad_reference_frames(self, bad, error):
        s, _ = self.stack(lazy=False)
        with pytest.raises(error, match="reference_frames"):
            s.symmetry_segmentation(2, stride=3, reference_frames=bad, **SMALL)


class TestPlot:
    def test_overlay(self, grain_signal):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        s, _ = grain_signal
        seg = s.symmetry_segmentation(2, stride=3, random_state=0, **SMALL)
        ax = seg.plot()
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        sizes = seg.pattern_sizes
        # legend: fraction and calibrated area (px count x 0.02 nm x 0.02 nm) of each pattern
        assert texts[0] == f"pattern 0: {sizes[0] / sizes.sum():.1%}, {sizes[0] * 0.0004:.3g} nm²"
        left, right, bottom, top = ax.images[0].get_extent()
        assert left == pytest.approx(1.5 - 0.01) and right == pytest.approx(1.5 + 127.5 * 0.02)
        assert ax.get_xlabel() == "x (nm)"
        plt.close(ax.figure)


def test_lazy_descriptors_equal_eager(grain_signal):
    s, _ = grain_signal
    eager = s.get_symmetry_descriptors(stride=3, **SMALL)
    lazy = s.as_lazy().get_symmetry_descriptors(stride=3, **SMALL)
    assert lazy._lazy
    for a, b in zip(lazy.axes_manager._axes, eager.axes_manager._axes):
        assert (a.name, a.scale, a.offset, a.size) == (b.name, b.scale, b.offset, b.size)
    np.testing.assert_array_equal(lazy.data.compute(), eager.data)


@pytest.mark.parametrize("algorithm, params", [("PCA", SMALL), ("nfindr", SMALL), ("NMF", dict(descriptor="power_spectrum", window_x=8, window_y=8))])
def test_descriptors_are_not_modified_by_the_decomposition(grain_signal, algorithm, params):
    """HyperSpy 2.5 adds an estimator's ``mean_`` to the data after decomposition."""
    s, _ = grain_signal
    seg = s.symmetry_segmentation(2, stride=3, random_state=0, decomposition_algorithm=algorithm, **params)
    fresh = s.get_symmetry_descriptors(stride=3, intensity_features=True, **params)  # the segmentation default
    np.testing.assert_array_equal(seg.descriptors.data, fresh.data)
