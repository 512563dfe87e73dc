"""Plots: headless, matplotlib objects with the right content, and one image regression check."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import hyperspy.api as hs  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import SMALL, lattice  # noqa: E402

from hyperspy_symseg import symmetry_segmentation  # noqa: E402
from hyperspy_symseg.plot import segmentation_overlay  # noqa: E402

BASELINE = Path(__file__).parent / "baseline" / "overlay.png"


@pytest.fixture(scope="module")
def seg(grain_signal_module):
    s, _ = grain_signal_module
    return symmetry_segmentation(s, 2, stride=3, random_state=0, **SMALL)


@pytest.fixture(scope="module")
def grain_signal_module():
    from conftest import two_grain

    image, truth = two_grain()
    s = hs.signals.Signal2D(image.astype(np.float32))
    for axis in s.axes_manager.signal_axes:
        axis.scale, axis.units = 0.02, "nm"
    s.metadata.General.title = "bicrystal"
    return s, truth


def test_explained_variance(seg):
    ax = seg.plot_explained_variance()
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), np.clip(seg.explained_variance_ratio, 1e-12, None))
    assert "5 components" in ax.get_title()
    plt.close(ax.figure)


def test_component_scatter(seg):
    ax = seg.plot_components()
    collections = ax.collections
    n_points = sum(len(c.get_offsets()) for c in collections[:-1])
    assert n_points == seg.grid_labels.size
    np.testing.assert_allclose(collections[-1].get_offsets(), seg.cluster_centers[:, :2])
    with pytest.raises(ValueError, match="components must be indices"):
        seg.plot_components(components=(0, 9))
    plt.close("all")


def test_separability_map_plot(seg):
    ax = seg.plot_separability()
    image = ax.images[0]
    np.testing.assert_array_equal(np.ma.filled(image.get_array(), np.nan), seg.separability_map.data)
    assert ax.get_xlabel() == "shift x (nm)"
    plt.close(ax.figure)


def test_separability_bars_for_rotations(grain_signal_module):
    s, _ = grain_signal_module
    rot = symmetry_segmentation(s, 2, stride=4, descriptor="rotational_symmetry_maximum_pooling", radius=5,
                                window_x=4, window_y=4, random_state=0, intensity_features=False)
    ax = rot.plot_separability()
    assert len(ax.patches) == 4 and ax.get_ylabel() == "Fisher separability"
    plt.close(ax.figure)


def test_confidence_plot(seg):
    ax = seg.plot_confidence()
    np.testing.assert_array_equal(ax.images[0].get_array(), seg.confidence_map().data)
    assert ax.images[0].get_clim() == (0, 1)
    plt.close(ax.figure)


def render_overlay(path):
    """A deterministic overlay without any text, for the regression check."""
    y = np.arange(48)[:, None] * np.ones((1, 64))
    image = lattice((48, 64), 6.0, 10.0)
    labels = (np.arange(64)[None, :] + 0.3 * y > 30).astype(np.uint8) + (y > 36).astype(np.uint8)
    s = hs.signals.Signal2D(image)
    lab = hs.signals.Signal2D(labels)
    fig, ax = plt.subplots(figsize=(3.2, 2.4), dpi=50)
    segmentation_overlay(s, lab, ax=ax, alpha=0.5)
    ax.get_legend().remove()
    ax.set_title("")
    ax.set_axis_off()
    fig.subplots_adjust(0, 0, 1, 1)
    fig.savefig(path, dpi=50)
    plt.close(fig)


def test_overlay_image_regression(tmp_path):
    from matplotlib.testing.compare import compare_images

    assert BASELINE.exists(), "regenerate with: python -c 'import tests.test_plots as t; t.render_overlay(t.BASELINE)'"
    actual = tmp_path / "overlay.png"
    render_overlay(actual)
    assert compare_images(str(BASELINE), str(actual), tol=2) is None


def test_overlay_legend_and_stack_frame():
    frames = np.stack([lattice((40, 50), 6.0, a) for a in (0, 20)])
    s = hs.signals.Signal2D(frames)
    labels = np.zeros(frames.shape, np.uint8)
    labels[1, :, 25:] = 1
    ax = segmentation_overlay(s, hs.signals.Signal2D(labels), frame=1)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["pattern 0: 50.0%", "pattern 1: 50.0%"]  # uncalibrated: fractions only
    np.testing.assert_array_equal(ax.images[1].get_array(), labels[1])
    plt.close(ax.figure)
