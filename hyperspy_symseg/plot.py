"""Matplotlib figures of segmentations (headless-safe; return matplotlib objects)."""

from __future__ import annotations

import textwrap

import numpy as np


def _image_extent(signal):
    """(left, right, bottom, top) in calibrated units for imshow, the units and the pixel area.

    The units say what the numbers are: the axis' units, "px" for an uncalibrated axis
    (scale 1) or "axis units" for a scaled axis without units.
    """
    from ._signal_utils import _space_units

    x, y = signal.axes_manager.signal_axes
    extent = (
        x.offset - 0.5 * x.scale,
        x.offset + (x.size - 0.5) * x.scale,
        y.offset + (y.size - 0.5) * y.scale,
        y.offset - 0.5 * y.scale,
    )
    return extent, _space_units(x), abs(x.scale * y.scale)


def _squared(units: str) -> str:
    return f"({units})²" if " " in units else f"{units}²"


def pattern_colors(n_patterns: int):
    """One RGBA colour per pattern (tab10, then tab20 for more patterns)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n_patterns <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n_patterns)]


def _n_patterns(labels) -> int:
    """Number of patterns of a label signal: from its metadata, else the largest label + 1."""
    n = labels.metadata.get_item("SymmetrySegmentation.n_patterns", None)
    if n is None:
        data = labels.data
        n = int(data.max().compute() if hasattr(data.max(), "compute") else data.max()) + 1
    return max(int(n), 1)


def label_plot_kwargs(labels, kwargs: dict) -> dict:
    """Defaults of ``PatternLabels.plot``: one discrete colour per pattern, no colour bar.

    Explicit keyword arguments win.
    """
    from matplotlib.colors import ListedColormap

    n = _n_patterns(labels)
    out = dict(kwargs)
    out.setdefault("cmap", ListedColormap(pattern_colors(n), name="patterns"))
    out.setdefault("vmin", -0.5)
    out.setdefault("vmax", n - 0.5)
    out.setdefault("colorbar", False)
    out.setdefault("centre_colormap", False)
    return out


def add_label_legend(labels) -> None:
    """A legend of the pattern colours on the HyperSpy plot of a label signal.

    Also titles the plot with the signal's title (HyperSpy appends " Signal").
    """
    from matplotlib.patches import Patch

    plot = getattr(labels, "_plot", None)
    image_plot = getattr(plot, "signal_plot", None)
    ax = getattr(image_plot, "ax", None)
    if ax is None:
        return
    title = labels.metadata.General.title
    image_plot.title = title
    ax.set_title(textwrap.fill(title, 60), fontsize="medium")
    n = _n_patterns(labels)
    colors = pattern_colors(n)
    handles = [Patch(color=colors[k], label=str(k)) for k in range(n)]
    # Outside the axes, where the colour bar would be: HyperSpy paints its (animated)
    # image after the other artists, which would hide a legend inside the axes.
    ax.legend(handles=handles, title="pattern", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
              title_fontsize="small", framealpha=0.8, ncols=max(1, -(-n // 20)))


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
            label=f"pattern {k}: {counts[k] / lab.size:.1%}" + (f", {counts[k] * pixel_area:.3g} {_squared(units)}" if units != "px" else ""),
        )
        for k in range(n_patterns)
    ]
    ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.8)
    ax.set_xlabel(f"x ({units})")
    ax.set_ylabel(f"y ({units})")
    title = title if title is not None else labels.metadata.General.title
    ax.set_title(textwrap.fill(title, 60), fontsize="medium")
    return ax


def _axes(ax, figsize=(5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def explained_variance(ratio, n_components: int | None = None, ax=None):
    """Explained-variance ratio of every principal component, log scale, with its cumulative sum.

    Parameters
    ----------
    ratio : (n,) array
        Fractions of the total variance.
    n_components : int, optional
        Components used (marked with a vertical line).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ratio = np.asarray(ratio, dtype=float)
    ax = _axes(ax)
    k = np.arange(1, len(ratio) + 1)
    ax.semilogy(k, np.clip(ratio, 1e-12, None), "o-", ms=3, label="per component")
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance ratio")
    twin = ax.twinx()
    twin.plot(k, np.cumsum(ratio), color="tab:orange", label="cumulative")
    twin.set_ylim(0, 1.02)
    twin.set_ylabel("cumulative fraction", color="tab:orange")
    if n_components:
        ax.axvline(n_components + 0.5, color="gray", ls="--", lw=1)
        ax.set_title(f"{n_components} components: {np.sum(ratio[:n_components]):.1%} of the variance", fontsize="medium")
    return ax


def component_scatter(coordinates, labels, centers=None, components=(0, 1), max_points: int = 20000, ax=None,
                      random_state=0):
    """Grid points in the plane of two components, coloured by pattern (paper, Fig. 1c-d).

    Parameters
    ----------
    coordinates : (n, k) array
        Reduced coordinates of the grid points.
    labels : (n,) int array
    centers : (n_patterns, k) array, optional
        Cluster centres, drawn as crosses.
    components : pair of int
    max_points : int
        A random subset of at most this many points is drawn.

    Returns
    -------
    matplotlib.axes.Axes
    """
    coordinates = np.asarray(coordinates)
    labels = np.asarray(labels).ravel()
    a, b = components
    if max(a, b) >= coordinates.shape[1]:
        raise ValueError(f"components must be indices < {coordinates.shape[1]} (the number of components); got {components}.")
    n_patterns = int(max(labels.max() + 1, 0 if centers is None else len(centers)))
    colors = pattern_colors(n_patterns)
    keep = np.arange(len(labels))
    if len(keep) > max_points:
        keep = np.sort(np.random.default_rng(random_state).choice(len(keep), max_points, replace=False))
    ax = _axes(ax, (5, 5))
    for k in range(n_patterns):
        sel = keep[labels[keep] == k]
        ax.scatter(coordinates[sel, a], coordinates[sel, b], s=2, color=colors[k], alpha=0.5, label=f"pattern {k}", rasterized=True)
    if centers is not None:
        ax.scatter(np.asarray(centers)[:, a], np.asarray(centers)[:, b], marker="x", s=80, c="k", label="centres")
    ax.set_xlabel(f"component {a}")
    ax.set_ylabel(f"component {b}")
    ax.legend(fontsize="small", markerscale=3)
    return ax


def separability_map(signal, ax=None):
    """A calibrated separability map over the translation (m, n) (paper, Fig. 1f).

    Parameters
    ----------
    signal : hyperspy.signals.Signal2D
        From :attr:`SymmetrySegmentation.separability_map`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (5, 4.5))
    extent, units, _ = _image_extent(signal)
    image = ax.imshow(np.ma.masked_invalid(signal.data), extent=extent, cmap="viridis", interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="Fisher separability")
    ax.set_xlabel(f"shift x ({units})")
    ax.set_ylabel(f"shift y ({units})")
    ax.set_title(textwrap.fill(signal.metadata.General.title, 45), fontsize="medium")
    return ax


def separability_bars(values, names, ax=None, top: int | None = None):
    """Separability of every operation as bars (for non-translation descriptors)."""
    values = np.asarray(values)
    order = np.argsort(-values, kind="stable")[: top or len(values)]
    ax = _axes(ax, (max(4, 0.25 * len(order)), 4))
    ax.bar(np.arange(len(order)), values[order])
    ax.set_xticks(np.arange(len(order)), [names[i] for i in order], rotation=90, fontsize="small")
    ax.set_ylabel("Fisher separability")
    return ax


def scalar_map(signal, ax=None, frame: int = 0, cmap="magma", vmin=None, vmax=None, label=None):
    """One frame of a scalar map (e.g. the confidence map) with a colour bar."""
    ax = _axes(ax, (5, 4.5))
    data = np.asarray(signal.data).reshape((-1,) + signal.data.shape[-2:])[frame]
    extent, units, _ = _image_extent(signal)
    image = ax.imshow(data, extent=extent, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label=label or signal.metadata.Signal.get_item("quantity", ""))
    ax.set_xlabel(f"x ({units})")
    ax.set_ylabel(f"y ({units})")
    ax.set_title(textwrap.fill(signal.metadata.General.title, 60), fontsize="medium")
    return ax
