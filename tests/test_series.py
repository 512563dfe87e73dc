"""Image series: separability, fast model, consistent labels, confidence, areas, boundary tracking."""

import numpy as np
import pytest

from hyperspy_symseg import metrics, simulate, symmetry_segmentation

# The symmetry scores only: these tests count, select and score the family's operations.
SMALL = dict(patch_x=8, patch_y=8, window_x=12, window_y=12, stride=4, intensity_features=False)


@pytest.fixture(scope="module")
def series():
    """6 frames, 192 x 192, of a twin boundary moving right 0.1 nm (5 px) per frame."""
    return simulate.migrating_boundary_series(
        n_frames=6, shape=(192, 192), velocity=0.1, bulge=0.0, drift=(0.0, 0.0), random_state=0
    )


@pytest.fixture(scope="module")
def fitted(series):
    return symmetry_segmentation(series.image, 2, random_state=0, reference_frames=[0], **SMALL)


class TestSeparability:
    def test_values_and_signal(self, fitted):
        values = fitted.separability_values()
        assert values.shape == (fitted.descriptor.n_operations,)
        assert np.isfinite(values).all() and values.min() >= 0
        zero = [i for i, (m, n) in enumerate(fitted.descriptor.shifts) if m == 0 and n == 0][0]
        # The zero shift scores 1 everywhere; scaled by the soft-flatness weight it only
        # tells flat from textured patches, which two twinned grains are not: about 0.
        # (A constant channel scores exactly 0: test_separability.)
        assert 0 <= values[zero] < 0.01 * values.max()
        sig = fitted.separability
        np.testing.assert_array_equal(sig.data, values)
        assert sig.axes_manager.signal_axes[0].name == "operation"

    def test_map_is_calibrated(self, fitted):
        m = fitted.separability_map
        shifts = fitted.descriptor.shifts
        step = np.diff(np.unique(shifts[:, 1]))[0]
        assert m.data.shape == (len(np.unique(shifts[:, 0])), len(np.unique(shifts[:, 1])))
        ax = m.axes_manager.signal_axes[0]
        assert ax.scale == pytest.approx(0.02 * step) and ax.offset == pytest.approx(0.02 * shifts[:, 1].min())
        assert ax.units == "nm"
        assert np.nanmax(m.data) == pytest.approx(fitted.separability_values().max())

    def test_map_needs_translations(self, series):
        seg = symmetry_segmentation(series.image.inav[0], 2, descriptor="rotational_symmetry_maximum_pooling",
                                    radius=6, window_x=4, window_y=4, stride=4, random_state=0,
                                    intensity_features=False)
        assert seg.separability.data.shape == (4,)
        with pytest.raises(ValueError, match="translation descriptors"):
            seg.separability_map


class TestFastModel:
    def test_select_operations_keeps_label_meaning(self, series, fitted):
        fast = fitted.select_operations(5)
        assert fast.descriptor.n_operations == 5 and fast.full is fitted
        best = np.argsort(-fitted.separability_values(), kind="stable")[:5]
        np.testing.assert_array_equal(fast.descriptor.shifts, fitted.descriptor.shifts[best])
        agree = np.mean(fast.labels.data == fitted.labels.data)
        assert agree > 0.95
        assert metrics.matched_accuracy(fast.labels, series.labels) > 0.93

    def test_n_operations_is_the_one_argument_fast_path(self, series, fitted):
        fast = symmetry_segmentation(series.image, 2, random_state=0, reference_frames=[0], n_operations=5, **SMALL)
        assert fast.descriptor.n_operations == 5 and fast.full is not None
        assert fast.labels.data.shape == series.image.data.shape
        assert fast.full.labels.data.shape == series.image.data.shape[1:]  # the reference frame only
        np.testing.assert_array_equal(fast.labels.data, fitted.select_operations(5).labels.data)

    def test_lazy_fast_path(self, series):
        fast = symmetry_segmentation(series.image.as_lazy(), 2, random_state=0, n_operations=5, **SMALL)
        assert fast.labels._lazy
        eager = symmetry_segmentation(series.image, 2, random_state=0, reference_frames=[0], n_operations=5, **SMALL)
        np.testing.assert_array_equal(np.asarray(fast.labels.data.compute()), eager.labels.data)

    def test_labels_mean_the_same_in_every_frame(self, series, fitted):
        truth = series.labels.data
        # one matching for the whole series (no per-frame relabelling)
        assert metrics.matched_accuracy(fitted.labels, series.labels) > 0.93
        for k in range(truth.shape[0]):
            assert np.mean(fitted.labels.data[k] == truth[k]) > 0.93 or np.mean(fitted.labels.data[k] != truth[k]) > 0.93
        flips = [np.mean(fitted.labels.data[k] == truth[k]) > 0.5 for k in range(truth.shape[0])]
        assert len(set(flips)) == 1

    def test_bad_n_operations(self, series):
        # window 12, 100 points: 81 shifts (-12..12 in steps of 3)
        with pytest.raises(ValueError, match=r"n_operations must be an integer in \[2, 81\]"):
            symmetry_segmentation(series.image, 2, n_operations=82, reference_frames=[0], **SMALL)
        with pytest.raises(ValueError, match=r"n_operations must be an integer in \[2, 81\]"):
            symmetry_segmentation(series.image, 2, n_operations=1, reference_frames=[0], **SMALL)


class TestVideoOutputs:
    def test_pattern_areas(self, series, fitted):
        areas = fitted.pattern_areas()
        assert areas.axes_manager.navigation_shape == (2,) and areas.data.shape == (2, 6)
        assert areas.axes_manager.signal_axes[0].scale == pytest.approx(series.image.axes_manager[0].scale)
        total = 192 * 192 * 0.02**2
        np.testing.assert_allclose(areas.data.sum(axis=0), total)
        fractions = fitted.pattern_areas(fraction=True)
        np.testing.assert_allclose(fractions.data.sum(axis=0), 1.0)
        # the right grain shrinks as the boundary moves right
        right = int(np.argmax(np.bincount(fitted.labels.data[0][:, -20:].ravel(), minlength=2)))
        assert np.all(np.diff(areas.data[right]) < 0)

    def test_track_boundary_velocity(self, series, fitted):
        from hyperspy_symseg.analysis import boundary_positions

        track = fitted.track_boundary(0, 1)
        x = track["position"].data[1]
        assert np.all(np.isfinite(x))
        # the same estimator on the ground truth, which moves 0.1 nm per frame (frame time 1 s)
        truth = boundary_positions(series.labels.data, 0, 1, (0.02, 0.02))[:, 1]
        # The imaged boundary can only sit on atomic planes of the 0.35 x 0.5 nm lattice,
        # the ground truth is a geometric line: agreement to about a third of a cell
        # (the offset grows to 0.126 nm at the last frame; 0.112 with the soft-flatness
        # weight at a tenth of a crystal's contrast instead of half, same accuracy 0.977-0.978).
        np.testing.assert_allclose(x, truth, atol=0.13)
        np.testing.assert_array_equal(x, boundary_positions(fitted.labels.data, 0, 1, (0.02, 0.02))[:, 1])
        dt = series.image.axes_manager[0].scale
        assert (x[-1] - x[0]) / (5 * dt) == pytest.approx(0.1, rel=0.25)
        assert np.median(track["velocity"].data[1]) == pytest.approx(0.1 / dt, rel=0.35)
        assert "nm/" in track["velocity"].metadata.Signal.quantity
        assert track["length"].data.min() > 0.8 * 192 * 0.02
        with pytest.raises(ValueError, match="two different patterns"):
            fitted.track_boundary(1, 1)

    def test_track_boundary_lazy_equals_eager(self, series):
        lazy = symmetry_segmentation(series.image.as_lazy(), 2, random_state=0, **SMALL)
        eager = symmetry_segmentation(series.image, 2, random_state=0, reference_frames=[0], **SMALL)
        np.testing.assert_allclose(lazy.track_boundary()["position"].data, eager.track_boundary()["position"].data)
        np.testing.assert_allclose(lazy.pattern_areas().data, eager.pattern_areas().data)

    def test_confidence_low_at_the_boundary(self, series, fitted):
        conf = fitted.confidence_map(series.image.inav[2]).data
        truth = series.labels.data[2]
        edge = np.zeros_like(truth, dtype=bool)
        edge[:, 1:] |= truth[:, 1:] != truth[:, :-1]
        near = np.zeros_like(edge)
        for k in range(-3, 4):
            near |= np.roll(edge, k, axis=1)
        assert conf[near].mean() < 0.5 * conf[~near].mean()
        assert 0 <= conf.min() and conf.max() <= 1

    def test_outliers_find_a_planted_defect(self, series, fitted):
        import scipy.ndimage

        frame = series.image.inav[3].deepcopy()
        frame.data[60:100, 20:60] = frame.data.mean()  # a featureless region inside the left grain
        # The default threshold (3.5). The soft-flatness weight at half a crystal's contrast
        # brings a featureless patch closer to the patterns: at 5 the square is no longer
        # flagged, at 3.5 it is and only 1 % of the far pixels are (4 % at a tenth).
        mask = fitted.outlier_map(signal=frame).data
        # (within about a period of the planted square's edge the smoothed lattice background
        # leaves a weak ramp that some patches still read as structure)
        assert mask[72:88, 32:48].mean() > 0.9
        # elsewhere only the grain boundary (far from both patterns too) is flagged
        truth = series.labels.data[3]
        edge = np.zeros_like(truth, dtype=bool)
        edge[:, 1:] |= truth[:, 1:] != truth[:, :-1]
        far = scipy.ndimage.distance_transform_edt(~edge) > 15
        far[50:110, 10:70] = False
        assert mask[far].mean() < 0.02
        with pytest.raises(ValueError, match="threshold"):
            fitted.outlier_map(threshold=-1)


def test_subset_keeps_the_grid(fitted):
    from hyperspy_symseg.descriptors import make_descriptor

    full = make_descriptor(patch_x=8, patch_y=8, window_x=12, window_y=12)
    small = full.subset([40])  # the zero shift only: no margin of its own
    assert small.grid((192, 192), 4) == full.grid((192, 192), 4)
    assert small.halo == full.halo
    np.testing.assert_array_equal(small.compute(np.random.default_rng(0).normal(size=(100, 90)), 4),
                                  full.compute(np.random.default_rng(0).normal(size=(100, 90)), 4)[..., [40]])


def test_count_labels_equals_bincount():
    from hyperspy_symseg.model import count_labels

    labels = np.random.default_rng(0).integers(0, 5, size=(7, 33, 29)).astype(np.uint8)
    np.testing.assert_array_equal(count_labels(labels, 5), np.bincount(labels.ravel(), minlength=5))
    np.testing.assert_array_equal(count_labels(labels, 7), np.bincount(labels.ravel(), minlength=7))
