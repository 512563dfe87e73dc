"""What users see: units that say what the numbers are, label plots with discrete colours
(issue 11, items 17 and 18)."""

import matplotlib

matplotlib.use("Agg")

import hyperspy.api as hs  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import SMALL, two_grain  # noqa: E402

import hyperspy_symseg as ss  # noqa: E402


def _stack(scale, units, t_scale=1.0, t_units=None):
    frames = np.stack([two_grain(seed=k, boundary=50 + 4 * k)[0] for k in range(3)]).astype(np.float32)
    s = hs.signals.Signal2D(frames)
    for axis in s.axes_manager.signal_axes:
        axis.scale = scale
        if units:
            axis.units = units
    t = s.axes_manager.navigation_axes[0]
    t.scale = t_scale
    if t_units:
        t.units = t_units
    return s


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------- item 17: units


@pytest.mark.parametrize("scale, units, space", [(1.0, None, "px"), (0.0041, None, "axis units"), (0.02, "nm", "nm")])
def test_units_say_what_the_numbers_are(scale, units, space):
    """An ImageJ TIFF at 0.0041 (no units) used to give "Position (px)" for numbers in its scale."""
    seg = ss.symmetry_segmentation(_stack(scale, units), 2, random_state=0, show_progressbar=False, **SMALL)
    squared = f"{space}^2" if space != "axis units" else "(axis units)^2"
    areas = seg.pattern_areas()
    assert areas.metadata.Signal.quantity == f"Area ({squared})"
    assert areas.data.sum(axis=0) == pytest.approx(96 * 128 * scale**2, rel=1e-5)
    track = seg.track_boundary(0, 1)
    assert track["position"].metadata.Signal.quantity == f"Position ({space})"
    assert track["length"].metadata.Signal.quantity == f"Length ({space})"
    assert track["velocity"].metadata.Signal.quantity == f"Velocity ({space}/frame)"
    ax = seg.plot()
    assert ax.get_xlabel() == f"x ({space})" and ax.get_ylabel() == f"y ({space})"


@pytest.mark.parametrize("t_scale, t_units, per", [(1.0, None, "frame"), (0.5, None, "(axis units)"), (0.5, "s", "s")])
def test_velocity_units_follow_the_frame_axis(t_scale, t_units, per):
    """A stack with a scaled time axis without units used to say "/frame" for a velocity per scale unit."""
    seg = ss.symmetry_segmentation(_stack(0.02, "nm", t_scale, t_units), 2, random_state=0, show_progressbar=False,
                                   **SMALL)
    assert seg.track_boundary(0, 1)["velocity"].metadata.Signal.quantity == f"Velocity (nm/{per})"


def test_separability_map_axes_of_an_uncalibrated_image():
    seg = ss.symmetry_segmentation(_stack(1.0, None), 2, random_state=0, show_progressbar=False, **SMALL)
    ax = seg.plot_separability()
    assert ax.get_xlabel() == "shift x (px)"
    seg = ss.symmetry_segmentation(_stack(0.0041, None), 2, random_state=0, show_progressbar=False, **SMALL)
    assert seg.plot_separability().get_xlabel() == "shift x (axis units)"


# ------------------------------------------------------- item 18: label plots


@pytest.mark.parametrize("title, expected", [("", "Symmetry segmentation"), ("bicrystal", "Symmetry segmentation of bicrystal")])
def test_labels_plot_has_discrete_colours_a_legend_and_a_title(title, expected):
    """labels.plot() used to show a grey continuous 0-1 colour bar titled "... Signal"."""
    s = hs.signals.Signal2D(two_grain()[0].astype(np.float32))
    s.metadata.General.title = title
    labels = ss.symmetry_segment(s, 3, random_state=0, show_progressbar=False, **SMALL)
    assert isinstance(labels, ss.signals.PatternLabels) and isinstance(labels, hs.signals.Signal2D)
    assert labels.metadata.General.title == expected
    labels.plot()
    image_plot = labels._plot.signal_plot
    ax = image_plot.ax
    assert ax.get_title() == expected
    image = ax.images[0]
    assert image.cmap.N == 3 and isinstance(image.cmap, matplotlib.colors.ListedColormap)
    assert image.norm.vmin == -0.5 and image.norm.vmax == 2.5
    colors = ss.plot.pattern_colors(3)
    for k in range(3):  # label k is drawn in pattern colour k, the same as seg.plot()
        np.testing.assert_allclose(image.cmap(image.norm(k)), colors[k])
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1", "2"]
    assert legend.get_title().get_text() == "pattern"
    assert image_plot._colorbar is None
    # the input is not changed, and a lazy label signal plots the same way
    assert s.metadata.General.title == title
    lazy = ss.symmetry_segment(s, 3, random_state=0, lazy_output=True, show_progressbar=False, **SMALL)
    assert isinstance(lazy, ss.signals.LazyPatternLabels)


def test_label_signal_type_survives_a_round_trip(tmp_path):
    s = hs.signals.Signal2D(two_grain()[0].astype(np.float32))
    labels = ss.symmetry_segment(s, 2, random_state=0, show_progressbar=False, **SMALL)
    labels.save(tmp_path / "labels.hspy")
    back = hs.load(tmp_path / "labels.hspy")
    assert isinstance(back, ss.signals.PatternLabels)
    np.testing.assert_array_equal(back.data, labels.data)


def test_demo_png_is_not_left_in_the_repository():
    """symseg demo writes symseg_demo.png into the working directory: it is ignored by git."""
    from pathlib import Path

    ignore = (Path(__file__).resolve().parents[1] / ".gitignore").read_text().split()
    assert "symseg_demo.png" in ignore
