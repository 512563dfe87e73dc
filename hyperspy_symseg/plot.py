"""Matplotlib figures of segmentations (headless-safe; return matplotlib objects)."""

from __future__ import annotations

import textwrap

import numpy as np


def _image_extent(signal):
    """(left, right, bottom, top) in calibrated units for imshow, and the units."""
    x, y = signal.axes_manager.signal_axes
    extent = (
        x.offset - 0.5 * x.scale,
        x.offset + (x.size - 0.5) * x.scale,
        y.offset + (y.size - 0.5) * y.scale,
        y.offset - 0.5 * y.scale,
    )
    return extent, x.units if isinstance(x.units, str) else "", abs(x.scale * y.scale)


def pattern_colors(n_patterns: int):
    """One RGBA colour per pattern (tab10, then tab20 for more patterns)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n_patterns <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n_patterns)]


def segmentation_overlay(image, labels, ax=None, alpha: float = 0.4, frame: int = 0, title: str | None = None):
    """The image in grey with the pattern labels as translucent colours and a legend.

    Parameters
    ----------
    image : hyperspy.signals.Signal2D
        The segmented image (or stack; ``frame`` selects the navigation index).
    labels : hyperspy.signals.Signal2D
        Integer labels with the same signal shape.
    ax : matplotlib.axes.Axes, optional
    alpha : float
        Opacity of the label colours.
    frame : int
        Flat navigation index of the frame to show for stacks.

    Returns
    -------
    matplotlib.axes.Axes
        The legend gives each pattern's area in calibrated units and its fraction.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    img = np.asarray(image.data).reshape((-1,) + image.data.shape[-2:])[frame]
    lab = np.asarray(labels.data).reshape((-1,) + labels.data.shape[-2:])[frame]
    n_patterns = int(max(lab.max() + 1, labels.metadata.get_item("SymmetrySegmentation.n_patterns", 0)))
    colors = pattern_colors(n_patterns)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    extent, units, pixel_area = _image_extent(image)
    ax.imshow(img, cmap="gray", extent=extent, interpolation="nearest")
    ax.imshow(lab, cmap=ListedColormap(colors), vmin=-0.5, vmax=n_patterns - 0.5, alpha=alpha, extent=extent, interpolation="nearest")
    counts = np.bincount(lab.ravel(), minlength=n_patterns)
    handles = [
        Patch(
            color=colors[k],
            label=f"pattern {k}: {counts[k] / lab.size:.1%}" + (f", {counts[k] * pixel_area:.3g} {units}²" if units else ""),
        )
        for k in range(n_patterns)
    ]
    ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.8)
    ax.set_xlabel(f"x ({units})" if units else "x (px)")
    ax.set_ylabel(f"y ({units})" if units else "y (px)")
    title = title if title is not None else labels.metadata.General.title
    ax.set_title(textwrap.fill(title, 60), fontsize="medium")
    return ax
