"""decomposition_algorithm='NMF' / 'nfindr': abundance (phase-fraction) maps next to the labels."""

import hyperspy.api as hs
import numpy as np
import pytest
from conftest import SMALL, two_grain

from hyperspy_symseg import symmetry_segmentation

PS = dict(descriptor="power_spectrum", window_x=8, window_y=8, stride=3)


@pytest.fixture(scope="module")
def phases():
    """Square lattice (period 7) left of column 64, rotated one right of it."""
    image, truth = two_grain((96, 128), period=7.0, angles=(0.0, 30.0), noise=0.2, seed=2)
    s = hs.signals.Signal2D(image.astype(np.float32))
    for axis in s.axes_manager.signal_axes:
        axis.scale, axis.units = 0.05, "nm"
    return s, truth


def accuracy(pred, truth):
    a = np.mean(pred == truth)
    return max(a, 1 - a)


def test_nmf_on_power_spectrum(phases):
    s, truth = phases
    seg = symmetry_segmentation(s, 2, decomposition_algorithm="NMF", random_state=0, **PS)
    assert seg.decomposition_algorithm == "NMF" and seg.n_components == 2
    assert seg.explained_variance_ratio is None
    assert accuracy(seg.labels.data, truth) > 0.95
    maps = seg.abundance_maps
    assert maps.axes_manager.navigation_shape == (2,)
    assert maps.axes_manager.signal_axes[0].scale == pytest.approx(0.15)  # pixel size x stride
    np.testing.assert_allclose(maps.data.sum(axis=0), 1.0, atol=1e-9)
    assert maps.data.min() >= 0
    # predict() reuses the fitted NMF
    np.testing.assert_array_equal(seg.predict(s).data, seg.labels.data)


def test_nfindr_abundances_follow_the_phases(phases):
    s, truth = phases
    seg = symmetry_segmentation(s, 2, decomposition_algorithm="nfindr", random_state=0, **PS)
    assert accuracy(seg.labels.data, truth) > 0.95
    maps = seg.abundance_maps.data  # (2, ny, nx), fractions
    np.testing.assert_allclose(maps.sum(axis=0), 1.0, atol=1e-9)
    assert maps.min() >= -1e-12
    # deep inside the left grain one endmember dominates, inside the right grain the other
    x = seg.abundance_maps.axes_manager.signal_axes[0].axis / 0.05
    left, right = maps[:, :, x < 40].mean(axis=(1, 2)), maps[:, :, x > 90].mean(axis=(1, 2))
    assert abs(left[0] - right[0]) > 0.6
    assert "nfindr" in repr(seg)


def test_nfindr_works_on_pearson_descriptors(phases):
    s, truth = phases
    seg = symmetry_segmentation(s, 2, decomposition_algorithm="nfindr", n_components=2, random_state=0, **SMALL)
    assert accuracy(seg.labels.data, truth) > 0.9


def test_component_maps_for_pca(phases):
    s, _ = phases
    seg = symmetry_segmentation(s, 2, random_state=0, n_components=3, **SMALL)
    assert seg.component_maps.axes_manager.navigation_shape == (3,)
    with pytest.raises(ValueError, match="abundance_maps needs decomposition_algorithm"):
        seg.abundance_maps


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(decomposition_algorithm="ICA", **PS), ValueError, "decomposition_algorithm must be one of 'PCA', 'NMF', 'nfindr'"),
        (dict(decomposition_algorithm="NMF", **SMALL), ValueError, "needs non-negative descriptors"),
        (dict(decomposition_algorithm="NMF", n_components=0.9, **PS), ValueError, "n_components must be an integer number"),
    ],
)
def test_errors(phases, kwargs, error, pattern):
    s, _ = phases
    with pytest.raises(error, match=pattern):
        symmetry_segmentation(s, 2, **kwargs)
